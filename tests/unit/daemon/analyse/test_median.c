/*
 * Selection against sorting: for arrays of every shape the trend engine meets (distinct values,
 * heavy ties, sorted, reversed, constant, two values) and sizes on both sides of the sampling
 * step (600), the k-th element, the partition around it and the median equal what a full sort
 * gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <leakwatch/median.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum shape { DISTINCT, TIES, SORTED, REVERSED, CONSTANT, TWO_VALUES, SHAPES };

static void fill(double *a, size_t n, enum shape shape)
{
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case DISTINCT:
            a[i] = (double)(int64_t)(next_rand() % 2000001) - 1000000.0 + 0.5 / (double)(i + 1);
            break;
        case TIES:
            a[i] = (double)(next_rand() % 7) * 4096.0;
            break;
        case SORTED:
            a[i] = (double)i * 16.0;
            break;
        case REVERSED:
            a[i] = (double)(n - i) * -3.25;
            break;
        case CONSTANT:
            a[i] = 65536.0;
            break;
        case TWO_VALUES:
            a[i] = next_rand() % 2 ? 1.0 : -1.0;
            break;
        case SHAPES:
            break;
        }
    }
}

static void check_select(const double *orig, const double *sorted, size_t n, size_t k, double *work)
{
    memcpy(work, orig, n * sizeof(*work));
    double v = lw_select_kth(work, n, k);
    assert_true(v == sorted[k]);
    assert_true(work[k] == sorted[k]);
    for (size_t i = 0; i < k; i++)
        assert_true(work[i] <= v);
    for (size_t i = k + 1; i < n; i++)
        assert_true(work[i] >= v);
    /* a permutation: the same multiset */
    qsort(work, n, sizeof(*work), cmp_d);
    assert_memory_equal(work, sorted, n * sizeof(*work));
}

static void test_select_equals_sort(void **state)
{
    (void)state;
    static const size_t sizes[] = {1,  2,   3,   4,   5,   7,    8,    31,  63,
                                   64, 496, 600, 601, 602, 1000, 2016, 2080};
    double *orig = malloc(2080 * sizeof(double));
    double *sorted = malloc(2080 * sizeof(double));
    double *work = malloc(2080 * sizeof(double));
    assert_non_null(orig);
    assert_non_null(sorted);
    assert_non_null(work);
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        size_t n = sizes[si];
        for (int shape = 0; shape < SHAPES; shape++) {
            for (int rep = 0; rep < 3; rep++) {
                fill(orig, n, (enum shape)shape);
                memcpy(sorted, orig, n * sizeof(*sorted));
                qsort(sorted, n, sizeof(*sorted), cmp_d);
                size_t ks[] = {0, n / 2, n - 1, (size_t)(next_rand() % n), n / 4};
                for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
                    check_select(orig, sorted, n, ks[ki], work);
                memcpy(work, orig, n * sizeof(*work));
                double want = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
                assert_true(lw_median(work, n) == want);
                /* what the trend engine's Sen interval relies on: after the median, an order
                 * statistic on either side is found within that side alone */
                size_t lo_k = (size_t)(next_rand() % (n / 2 + 1));
                if (lo_k < n / 2)
                    assert_true(lw_select_kth(work, n / 2, lo_k) == sorted[lo_k]);
                size_t hi_k = n / 2 + 1 + (size_t)(next_rand() % (n - n / 2));
                if (hi_k < n)
                    assert_true(lw_select_kth(work + n / 2 + 1, n - n / 2 - 1, hi_k - n / 2 - 1) ==
                                sorted[hi_k]);
            }
        }
    }
    free(orig);
    free(sorted);
    free(work);
}

static void test_median_small_cases(void **state)
{
    (void)state;
    double one[] = {42.0};
    assert_true(lw_median(one, 1) == 42.0);
    double two[] = {10.0, -2.0};
    assert_true(lw_median(two, 2) == 4.0);
    double four[] = {8.0, 1.0, 4.0, 2.0};
    assert_true(lw_median(four, 4) == 3.0);
    double five[] = {5.0, 5.0, 1.0, 9.0, 5.0};
    assert_true(lw_median(five, 5) == 5.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_equals_sort),
        cmocka_unit_test(test_median_small_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
