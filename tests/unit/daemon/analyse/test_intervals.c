/*
 * The platform half of interval records (Managed Instances): what a start and a report count
 * for, once each, and nothing for a report nobody started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/intervals.h>

static struct lw_platform_event ev(enum lw_platform_event_type type, const char *id,
                                   const char *status, double duration_ms)
{
    struct lw_platform_event e;
    memset(&e, 0, sizeof(e));
    e.type = type;
    snprintf(e.request_id, sizeof(e.request_id), "%s", id);
    snprintf(e.status, sizeof(e.status), "%s", status);
    if (duration_ms >= 0) {
        e.duration_ms = duration_ms;
        e.fields |= LW_EVF_DURATION;
    }
    return e;
}

static struct lw_intervals iv; /* large: not on the stack */

static void test_starts_and_reports(void **state)
{
    (void)state;
    lw_intervals_init(&iv, 42, 0);
    struct lw_platform_event e;
    e = ev(LW_EV_START, "a", "", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_STARTED);
    e = ev(LW_EV_START, "b", "", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_STARTED);
    e = ev(LW_EV_START, "c", "", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_STARTED);
    assert_int_equal(lw_intervals_in_flight(&iv), 3);
    /* reports in any order */
    e = ev(LW_EV_REPORT, "b", "success", 12.5);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);
    e = ev(LW_EV_REPORT, "a", "error", 40.0);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);
    struct lw_interval_stats s;
    lw_intervals_take(&iv, &s);
    assert_int_equal(s.started, 3);
    assert_int_equal(s.requests, 2);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.timeouts, 0);
    assert_int_equal(s.timed, 2);
    assert_true(s.duration_sum_ms == 52.5);
    assert_true(s.duration_max_ms == 40.0);
    /* c is still in flight: its report counts in the next interval */
    assert_int_equal(lw_intervals_in_flight(&iv), 1);
    e = ev(LW_EV_REPORT, "c", "timeout", 3000.0);
    e.fields |= 0;
    snprintf(e.error_type, sizeof(e.error_type), "Sandbox.Timedout");
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);
    lw_intervals_take(&iv, &s);
    assert_int_equal(s.started, 0);
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.timeouts, 1);
    assert_int_equal(lw_intervals_in_flight(&iv), 0);
    /* an empty interval */
    lw_intervals_take(&iv, &s);
    assert_int_equal(s.requests, 0);
}

static void test_unstarted_and_repeated_reports_count_nothing(void **state)
{
    (void)state;
    lw_intervals_init(&iv, 7, 0);
    struct lw_platform_event e = ev(LW_EV_REPORT, "never-started", "error", 99999.0);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_UNSTARTED);
    e = ev(LW_EV_START, "x", "", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_STARTED);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_REPEATED);
    e = ev(LW_EV_REPORT, "x", "success", 5.0);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_UNSTARTED); /* at most once */
    struct lw_interval_stats s;
    lw_intervals_take(&iv, &s);
    assert_int_equal(s.requests, 1);
    assert_true(s.duration_max_ms == 5.0);
    /* events that do not count, and a report without a duration */
    e = ev(LW_EV_INIT_START, "x", "", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_IGNORED);
    e = ev(LW_EV_START, "", "", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_IGNORED);
    e = ev(LW_EV_START, "y", "", -1);
    lw_intervals_event(&iv, &e);
    e = ev(LW_EV_REPORT, "y", "success", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);
    lw_intervals_take(&iv, &s);
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.timed, 0);
}

/* The table is bounded: beyond it a start is refused (and said), never an old one evicted; and
 * a long run of starts and reports keeps working (deleted slots are purged). */
static void test_bounded_and_reusable(void **state)
{
    (void)state;
    lw_intervals_init(&iv, 99, 0);
    char id[32];
    struct lw_platform_event e;
    for (int i = 0; i < LW_INTERVALS_TRACKED - 1; i++) {
        snprintf(id, sizeof(id), "r-%d", i);
        e = ev(LW_EV_START, id, "", -1);
        assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_STARTED);
    }
    e = ev(LW_EV_START, "one-too-many", "", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_FULL);
    e = ev(LW_EV_REPORT, "r-0", "success", 1.0);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);
    for (int i = 1; i < LW_INTERVALS_TRACKED - 1; i++) {
        snprintf(id, sizeof(id), "r-%d", i);
        e = ev(LW_EV_REPORT, id, "success", 1.0);
        assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);
    }
    assert_int_equal(lw_intervals_in_flight(&iv), 0);
    for (int round = 0; round < 20000; round++) {
        snprintf(id, sizeof(id), "s-%d", round);
        e = ev(LW_EV_START, id, "", -1);
        assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_STARTED);
        e = ev(LW_EV_REPORT, id, "success", 1.0);
        assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);
    }
    struct lw_interval_stats s;
    lw_intervals_take(&iv, &s);
    assert_int_equal(s.requests, LW_INTERVALS_TRACKED - 1 + 20000);
}

/* A start whose report never comes is given up after LW_INTERVALS_GIVE_UP_MS, counted once,
 * and its slot is free again; one that is reported in time is not. */
static void test_lost_reports_are_given_up(void **state)
{
    (void)state;
    /* 60 s intervals: 16 min is 16 intervals; given up at the 18th take, more than 16 min
     * after the start whatever its place in the first interval */
    lw_intervals_init(&iv, 3, 60000);
    struct lw_platform_event e = ev(LW_EV_START, "lost", "", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_STARTED);
    struct lw_interval_stats s;
    uint64_t given_up = 0;
    for (int i = 1; i <= 17; i++) {
        lw_intervals_take(&iv, &s);
        given_up += s.given_up;
    }
    assert_int_equal(given_up, 0);
    assert_int_equal(lw_intervals_in_flight(&iv), 1);
    e = ev(LW_EV_START, "slow", "", -1); /* started in the 18th interval */
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_STARTED);
    lw_intervals_take(&iv, &s);
    assert_int_equal(s.given_up, 1);
    assert_int_equal(s.started, 1);
    assert_int_equal(lw_intervals_in_flight(&iv), 1);
    /* its report, had it come, no longer counts: it is no one's */
    e = ev(LW_EV_REPORT, "lost", "success", 1.0);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_UNSTARTED);
    /* the slow one, reported 15 min on, still counts */
    for (int i = 0; i < 15; i++) {
        lw_intervals_take(&iv, &s);
        assert_int_equal(s.given_up, 0);
    }
    e = ev(LW_EV_REPORT, "slow", "success", 900000.0);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);
    assert_int_equal(lw_intervals_in_flight(&iv), 0);

    /* a full table of lost starts frees up, and takes starts again */
    lw_intervals_init(&iv, 5, 600000); /* 10 min: given up at the 4th take */
    char id[32];
    uint32_t n = 0;
    for (;; n++) {
        snprintf(id, sizeof(id), "lost-%u", n);
        e = ev(LW_EV_START, id, "", -1);
        if (lw_intervals_event(&iv, &e) != LW_INTERVALS_STARTED)
            break;
    }
    assert_int_equal(n, LW_INTERVALS_TRACKED - 1);
    for (int i = 0; i < 3; i++) {
        lw_intervals_take(&iv, &s);
        assert_int_equal(s.given_up, 0);
    }
    lw_intervals_take(&iv, &s);
    assert_int_equal(s.given_up, LW_INTERVALS_TRACKED - 1);
    assert_int_equal(lw_intervals_in_flight(&iv), 0);
    e = ev(LW_EV_START, "fresh", "", -1);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_STARTED);
    e = ev(LW_EV_REPORT, "fresh", "success", 2.0);
    assert_int_equal(lw_intervals_event(&iv, &e), LW_INTERVALS_COUNTED);

    /* interval 0: never given up */
    lw_intervals_init(&iv, 5, 0);
    e = ev(LW_EV_START, "kept", "", -1);
    lw_intervals_event(&iv, &e);
    for (int i = 0; i < 1000; i++)
        lw_intervals_take(&iv, &s);
    assert_int_equal(lw_intervals_in_flight(&iv), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_and_reports),
        cmocka_unit_test(test_unstarted_and_repeated_reports_count_nothing),
        cmocka_unit_test(test_bounded_and_reusable),
        cmocka_unit_test(test_lost_reports_are_given_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
