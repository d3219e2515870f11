/*
 * `leakwatch report`, report_select: the times --since and --until take, and which
 * environments and invocations --function, --env, --since, --until and --last keep.
 */
#include <leakwatch/report.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_report_util.h"

struct time_case {
    const char *text;
    enum lw_err err;
    uint64_t ms;
};

static void test_parse_time(void **state)
{
    (void)state;
    const uint64_t now = 1767614400000u; /* 2026-01-05T12:00:00Z */
    static const struct time_case cases[] = {
        /* an absolute time: the lenient ISO 8601 of timefmt (its cases: test_timefmt) */
        {"2026-01-05T10:00:10Z", LW_OK, 1767607210000u},
        {"2026-01-05 10:00", LW_OK, 1767607200000u},
        {"2026-01-05", LW_OK, 1767571200000u},
        {"30m", LW_OK, 1767612600000u},
        {"90s", LW_OK, 1767614310000u},
        {"2d", LW_OK, 1767441600000u},
        {"0h", LW_OK, 1767614400000u},
        {"2026-01-05T10:00:10+02:00", LW_ERR_INVALID, 0},
        {"2026-01-05T10", LW_ERR_INVALID, 0},
        {"1x", LW_ERR_INVALID, 0},
        {"m", LW_ERR_INVALID, 0},
        {"-1h", LW_ERR_INVALID, 0},
        {"1.5h", LW_ERR_INVALID, 0},
        {"99999999999999999999d", LW_ERR_INVALID, 0},
        {"1000000000d", LW_ERR_INVALID, 0}, /* before the epoch */
        {"", LW_ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ms = 12345;
        print_message("%s\n", cases[i].text);
        assert_int_equal(lw_report_parse_time(cases[i].text, now, &ms), cases[i].err);
        if (cases[i].err == LW_OK)
            assert_int_equal(ms, cases[i].ms);
    }
}

static void test_filters(void **state)
{
    (void)state;
    struct run_result res;

    /* two functions: --function keeps one */
    const char *fn[] = {"report", "--function", "leak-demo", FIXTURE("aws-logs-tail.log"),
                        FIXTURE("small.log")};
    res = run(NULL, 5, fn);
    assert_int_equal(res.status, 0);
    assert_int_equal(count(res.out, "== function "), 1);
    assert_non_null(strstr(res.out, "== function leak-demo"));
    run_free(&res);
    const char *fn2[] = {"report", "--function=orders-api", FIXTURE("aws-logs-tail.log"),
                         FIXTURE("small.log")};
    res = run(NULL, 4, fn2);
    assert_int_equal(res.status, 0);
    assert_int_equal(count(res.out, "== function orders-api"), 2);
    run_free(&res);
    const char *fn3[] = {"report", "--function", "leak", FIXTURE("small.log")};
    res = run(NULL, 4, fn3);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "no environment matches --function, --env, --since and "
                                    "--until (of 1)"));
    run_free(&res);

    /* an absolute range: seq 3 starts at 10:00:10.660, seq 5 at 10:00:20.913 */
    const char *range[] = {"report", "--since", "2026-01-05T10:00:10Z",
                           "--until=2026-01-05T10:00:20.913Z", FIXTURE("small.log")};
    res = run(NULL, 5, range);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "invocations   7 (seq 1 to 7), 3 shown (seq 3 to 5)\n"));
    /* the alerts of the invocations shown only: seq 5's, not seq 6's */
    assert_non_null(strstr(res.out, "  seq 5: learning -> steady"));
    assert_null(strstr(res.out, "  seq 6: "));
    /* the verdict as of the last invocation shown */
    assert_non_null(strstr(res.out, "verdict       steady"));
    run_free(&res);

    /* relative to the clock passed in (12:00): 2h covers everything, 1h nothing */
    const char *rel[] = {"report", "--since", "2h", FIXTURE("small.log")};
    res = run(NULL, 4, rel);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "invocations   7 (seq 1 to 7)\n"));
    run_free(&res);
    rel[2] = "1h";
    res = run(NULL, 4, rel);
    assert_int_equal(res.status, 1);
    run_free(&res);

    /* a range and --last: the last 2 of the range */
    const char *both[] = {"report", "--until", "2026-01-05T10:00:20Z", "--last",
                          "2",      "--csv",   FIXTURE("small.log")};
    res = run(NULL, 7, both);
    assert_int_equal(res.status, 0);
    assert_int_equal(count(res.out, "\r\n"), 3);
    assert_non_null(strstr(res.out, ",leak-demo,$LATEST,3,"));
    assert_non_null(strstr(res.out, ",leak-demo,$LATEST,4,"));
    run_free(&res);

    /* --since after --until */
    const char *inverted[] = {"report", "--since", "10m", "--until", "1h", FIXTURE("small.log")};
    res = run(NULL, 6, inverted);
    assert_int_equal(res.status, 2);
    run_free(&res);

    /* --ascii */
    const char *ascii[] = {"report", "--ascii", FIXTURE("small.log")};
    res = run(NULL, 3, ascii);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "memory        _.,=+*#  function RSS at the end of each "
                                    "invocation, 14.6 to 15.0 MiB\n"));
    run_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
