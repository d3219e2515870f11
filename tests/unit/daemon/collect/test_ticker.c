#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include <leakwatch/clock.h>
#include <leakwatch/ticker.h>

static uint64_t count;

static void bump(void *ctx)
{
    (void)ctx;
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
}

/* It calls at its period, and a stop during a long period ends the wait at once (the SHUTDOWN
 * budget is 2 s; a sleeping ticker must not eat it). What this asserts is the number of calls,
 * not a duration: a period of an hour cannot have elapsed. */
static void test_calls_and_stops_at_once(void **state)
{
    (void)state;
    count = 0;
    struct lw_ticker *t = lw_ticker_start("test-ticker", 20, bump, NULL);
    assert_non_null(t);
    while (__atomic_load_n(&count, __ATOMIC_RELAXED) < 3) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    assert_true(lw_ticker_calls(t) >= 3);
    lw_ticker_stop(t);
    uint64_t after = count;
    struct timespec ts = {0, 60000000};
    nanosleep(&ts, NULL);
    assert_int_equal(count, after); /* stopped: no call after the stop */

    count = 0;
    t = lw_ticker_start("test-ticker", 3600u * 1000u, bump, NULL);
    assert_non_null(t);
    lw_ticker_stop(t); /* returns although the hour is not over */
    assert_int_equal(count, 0);
    lw_ticker_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_and_stops_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
