#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/timefmt.h>

static void test_days_from_civil(void **state)
{
    (void)state;
    assert_int_equal(lw_time_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(lw_time_days_from_civil(1970, 3, 1), 59);
    assert_int_equal(lw_time_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(lw_time_days_from_civil(2026, 1, 5), 20458);
    assert_int_equal(lw_time_days_from_civil(1969, 12, 31), -1);
    /* every day of four years, leap days included, follows the one before */
    int64_t prev = lw_time_days_from_civil(2023, 12, 31);
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (unsigned y = 2024; y < 2028; y++) {
        for (unsigned m = 1; m <= 12; m++) {
            unsigned n = mdays[m - 1] + (m == 2 && y % 4 == 0);
            for (unsigned d = 1; d <= n; d++) {
                int64_t day = lw_time_days_from_civil(y, m, d);
                assert_int_equal(day, prev + 1);
                prev = day;
            }
        }
    }
}

struct time_case {
    const char *text;
    enum lw_err err;
    uint64_t ms;
};

/* RFC 3339 as the Telemetry API writes it: a zone is required. */
static const struct time_case strict_cases[] = {
    {"1970-01-01T00:00:00Z", LW_OK, 0},
    {"2026-01-05T10:00:00.010Z", LW_OK, 1767607200010ULL},
    {"2026-01-05T10:00:00.1Z", LW_OK, 1767607200100ULL},
    {"2026-01-05T10:00:00.123456789Z", LW_OK, 1767607200123ULL},
    {"2026-01-05T12:00:00+02:00", LW_OK, 1767607200000ULL},
    {"2026-01-05T08:00:00-02:00", LW_OK, 1767607200000ULL},
    {"2024-02-29T00:00:00Z", LW_OK, 1709164800000ULL},
    {"2026-01-05t10:00:00z", LW_OK, 1767607200000ULL},
    {"2026-01-05T10:00:00", LW_ERR_INVALID, 0},
    {"2026-01-05T10:00Z", LW_ERR_INVALID, 0},
    {"2026-01-05", LW_ERR_INVALID, 0},
    {"2026-01-05T10:00:00.Z", LW_ERR_INVALID, 0},
    {"2026-01-05T10:00:00,5Z", LW_ERR_INVALID, 0},
    {"2026-01-05T10:00:00+0200", LW_ERR_INVALID, 0},
    {"2026-13-05T10:00:00Z", LW_ERR_INVALID, 0},
    {"2025-02-29T10:00:00Z", LW_ERR_INVALID, 0},
    {"2026-01-05T10:00:00Zjunk", LW_ERR_INVALID, 0},
    {"1969-12-31T23:59:59Z", LW_ERR_INVALID, 0},
    {"1970-01-01T00:00:00+01:00", LW_ERR_INVALID, 0}, /* before the epoch */
    {"", LW_ERR_INVALID, 0},
};

/* What a person types on the report's command line. */
static const struct time_case lenient_cases[] = {
    {"2026-01-05T10:00:10Z", LW_OK, 1767607210000u},
    {"2026-01-05t10:00:10z", LW_OK, 1767607210000u},
    {"2026-01-05T10:00:10.250Z", LW_OK, 1767607210250u},
    {"2026-01-05T10:00:10,250Z", LW_OK, 1767607210250u},
    {"2026-01-05T10:00:10.2509Z", LW_OK, 1767607210250u},
    {"2026-01-05T10:00:10+00:00", LW_OK, 1767607210000u},
    {"2026-01-05T10:00:10+0000", LW_OK, 1767607210000u},
    {"2026-01-05 10:00", LW_OK, 1767607200000u},
    {"2026-01-05", LW_OK, 1767571200000u},
    {"2026-01-05Z", LW_OK, 1767571200000u},
    {"2024-02-29", LW_OK, 1709164800000u},
    {"2026-01-05T10:00:10+02:00", LW_ERR_INVALID, 0},
    {"2026-01-05T10:00:10-00:00", LW_ERR_INVALID, 0},
    {"2026-01-05T10:00:10.Z", LW_ERR_INVALID, 0},
    {"2025-02-29", LW_ERR_INVALID, 0},
    {"2026-01-32", LW_ERR_INVALID, 0},
    {"2026-01-05T24:00", LW_ERR_INVALID, 0},
    {"2026-01-05T10:60", LW_ERR_INVALID, 0},
    {"2026-1-5", LW_ERR_INVALID, 0},
    {"1969-12-31", LW_ERR_INVALID, 0},
    {"2026-01-05T10", LW_ERR_INVALID, 0},
};

static void run_cases(const struct time_case *cases, size_t n, unsigned flags)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t ms = 12345;
        print_message("%s\n", cases[i].text);
        assert_int_equal(lw_time_parse_iso8601(cases[i].text, strlen(cases[i].text), flags, &ms),
                         cases[i].err);
        if (cases[i].err == LW_OK)
            assert_int_equal(ms, cases[i].ms);
        else
            assert_int_equal(ms, 12345);
    }
}

static void test_iso8601(void **state)
{
    (void)state;
    run_cases(strict_cases, sizeof(strict_cases) / sizeof(strict_cases[0]), 0);
    run_cases(lenient_cases, sizeof(lenient_cases) / sizeof(lenient_cases[0]), LW_TIME_LENIENT);
    /* the length bounds the read: no NUL needed, and nothing past it is looked at */
    static const char cut[] = "2026-01-05T10:00:00Zgarbage";
    uint64_t ms = 0;
    assert_int_equal(lw_time_parse_iso8601(cut, 20, 0, &ms), LW_OK);
    assert_int_equal(ms, 1767607200000ULL);
    for (size_t n = 0; n < 20; n++)
        assert_int_equal(lw_time_parse_iso8601(cut, n, 0, &ms), LW_ERR_INVALID);
    assert_int_equal(lw_time_parse_iso8601(NULL, 0, 0, &ms), LW_ERR_INVALID);
}

static void test_http_date(void **state)
{
    (void)state;
    uint64_t ms = 0;
    assert_int_equal(lw_time_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &ms), LW_OK);
    assert_int_equal(ms, 784111777000ull);
    assert_int_equal(lw_time_parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", &ms), LW_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(lw_time_parse_http_date("Mon, 29 Feb 2044 23:59:59 GMT", &ms), LW_OK);
    assert_int_equal(ms, 2340403199000ull);
    assert_int_equal(lw_time_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &ms),
                     LW_ERR_INVALID);
    assert_int_equal(lw_time_parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT", &ms), LW_ERR_INVALID);
    assert_int_equal(lw_time_parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT", &ms), LW_ERR_INVALID);
    assert_int_equal(lw_time_parse_http_date("Tue, 29 Feb 2045 00:00:00 GMT", &ms), LW_ERR_INVALID);
    assert_int_equal(lw_time_parse_http_date("", &ms), LW_ERR_INVALID);
    assert_int_equal(lw_time_parse_http_date(NULL, &ms), LW_ERR_INVALID);
}

static void test_fmt_minutes(void **state)
{
    (void)state;
    static const struct {
        double minutes;
        const char *text;
    } cases[] = {
        {0, "0 s"},        {0.05, "3 s"},  {0.999, "60 s"},  {1, "1.0 min"}, {3.46, "3.5 min"},
        {9.94, "9.9 min"}, {10, "10 min"}, {42.4, "42 min"}, {-1, "?"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lw_time_fmt_minutes(cases[i].minutes, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].text);
    }
    lw_time_fmt_minutes(0.0 / 0.0, buf, sizeof(buf));
    assert_string_equal(buf, "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_from_civil),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_fmt_minutes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
