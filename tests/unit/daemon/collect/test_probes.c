/*
 * When leakwatch asks the Python probe for allocation sites: a baseline at the eighth boundary
 * with tracemalloc on, then at every power of two, so n invocations cost log2(n) snapshots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>

#include <leakwatch/probes.h>

static void test_sites_schedule(void **state)
{
    (void)state;
    uint64_t asked[16];
    size_t n = 0;
    for (uint64_t b = 0; b <= 5000; b++) {
        if (lw_probes_sites_due(b)) {
            assert_true(n < 16);
            asked[n++] = b;
        }
    }
    const uint64_t want[] = {8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(asked[i], want[i]);
    /* far out it still asks, and never twice in a row */
    assert_true(lw_probes_sites_due(UINT64_C(1) << 63));
    assert_false(lw_probes_sites_due((UINT64_C(1) << 63) + 1));
    assert_false(lw_probes_sites_due(UINT64_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sites_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
