#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include <leakwatch/clock.h>

#include "fake_clock.h"

static void test_system_clock(void **state)
{
    (void)state;
    const struct lw_clock *c = lw_clock_system();
    assert_ptr_equal(lw_clock_or_system(NULL), c);
    uint64_t wall = lw_clock_wall_ms(c);
    time_t now = time(NULL);
    /* the same second, give or take the one that may have turned in between */
    assert_true(wall / 1000 + 1 >= (uint64_t)now && wall / 1000 <= (uint64_t)now + 1);
    uint64_t m1 = lw_clock_mono_ms(c), m2 = lw_clock_mono_ms(c);
    assert_true(m2 >= m1);
    volatile uint64_t spin = 0;
    uint64_t cpu0 = lw_clock_cpu_us(c);
    while (lw_clock_cpu_us(c) == cpu0)
        spin++; /* CPU time moves only by spending it */
    assert_true(lw_clock_cpu_us(c) > cpu0);
}

static void test_deadline_in(void **state)
{
    (void)state;
    struct timespec before, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    struct timespec d = lw_clock_deadline_in(CLOCK_MONOTONIC, 1500);
    clock_gettime(CLOCK_MONOTONIC, &after);
    assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
    int64_t d_ms = (int64_t)d.tv_sec * 1000 + d.tv_nsec / 1000000;
    int64_t b_ms = (int64_t)before.tv_sec * 1000 + before.tv_nsec / 1000000;
    int64_t a_ms = (int64_t)after.tv_sec * 1000 + after.tv_nsec / 1000000;
    assert_true(d_ms >= b_ms + 1500 && d_ms <= a_ms + 1500);
}

static void test_fake_clock_is_what_modules_read(void **state)
{
    (void)state;
    struct fake_clock f;
    const struct lw_clock *c = fake_clock_init(&f, 1767607200000ull);
    assert_ptr_equal(lw_clock_or_system(c), c);
    assert_int_equal(lw_clock_wall_ms(c), 1767607200000ull);
    f.mono_ms += 25;
    assert_int_equal(lw_clock_mono_ms(c), 1000025);
    assert_int_equal(f.reads, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_system_clock),
        cmocka_unit_test(test_deadline_in),
        cmocka_unit_test(test_fake_clock_is_what_modules_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
