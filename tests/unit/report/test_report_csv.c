/*
 * `leakwatch report`, report_csv: the exact CSV (golden file), raw values, and RFC 4180
 * quoting.
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

static void test_csv(void **state)
{
    (void)state;
    check_golden(FIXTURE("small.log"), NULL, true, FIXTURE("small.csv.expected"));

    /* raw values, exactly as the EMF line had them; empty when absent */
    struct lw_report *r = load(FIXTURE("small.log"));
    struct membuf m;
    mem_open(&m);
    assert_int_equal(lw_report_write_csv(r, NULL, m.f), LW_OK);
    mem_close(&m);
    assert_int_equal(count(m.data, "\r\n"), 1 + 7);
    assert_non_null(strstr(m.data, ",2,9fcbba61-"));
    assert_non_null(strstr(m.data, ",15302656,15368192,21667840,11776000,11841536,3526656,0,"
                                   "65536,18845696,134217728,115372032,14.0411376953125,"));
    /* the learning rows have no growth-per-invocation figure: empty cells, not 0 */
    /* ... nor the figures of interval records (Managed Instances), nor a runtime probe's */
    assert_non_null(strstr(m.data, ",19.91,20,19.5,41.27,24,,,,,0,,,,,,,,,,\r\n"));
    free(m.data);
    lw_report_free(r);

    /* quoting per RFC 4180 */
    r = load_text(
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":1,"
        "\"VerdictReason\":\"grows, \\\"fast\\\"\\nreally\",\"DurationMilliseconds\":0.1}");
    mem_open(&m);
    assert_int_equal(lw_report_write_csv(r, NULL, m.f), LW_OK);
    mem_close(&m);
    /* (a line break inside a string from the log is a control character: shown as '?') */
    assert_non_null(strstr(m.data, ",\"grows, \"\"fast\"\"?really\","));
    assert_non_null(strstr(m.data, ",0.1,"));
    free(m.data);
    lw_report_free(r);
}

/*
 * A string cell that a spreadsheet would run as a formula (first character '=', '+', '-', '@',
 * tab or CR) starts with "'", which spreadsheets read as "text"; control characters and bytes
 * that are not UTF-8 become '?'; quoting stays RFC 4180. Numbers written by leakwatch (a
 * negative growth) are not strings and stay numbers.
 */
static void test_csv_formulas(void **state)
{
    (void)state;
    struct lw_report *r = load_text(
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"+cmd|' /C calc'!A0\","
        "\"Sequence\":1,\"FunctionName\":\"=HYPERLINK(\\\"http://x\\\",\\\"y\\\")\","
        "\"FunctionVersion\":\"1,\\\"2\\\"\",\"RequestId\":\"-2+3\",\"Status\":\"@SUM(1+1)\","
        "\"ErrorType\":\"\\t=1\",\"PeakMethod\":\"\\r=1\",\"Verdict\":\"ok\\u001b[2J\","
        "\"Culprit\":\"\xff\",\"VerdictReason\":\"line1\\nline2\\r\\u009b\","
        "\"FunctionGrowthBytes\":-4096,\"StartTimeMs\":1000}\n"
        /* the same characters later in a cell are harmless: no prefix */
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"+cmd|' /C calc'!A0\","
        "\"Sequence\":2,\"FunctionName\":\"a=1\",\"RequestId\":\"r-1\",\"Status\":\"x@y\","
        "\"VerdictReason\":\" =1+1\"}\n");
    char *csv = written(r, NULL, lw_report_write_csv);
    const char *row = strstr(csv, "\r\n");
    assert_non_null(row);
    row += 2;
    char growth_cells[LW_M_COUNT + 1] = "";
    for (int i = 0; i < LW_M_COUNT; i++)
        growth_cells[i] = ',';
    /* the metric columns: only FunctionGrowthBytes has a value */
    char expected[1024];
    size_t at =
        (size_t)snprintf(expected, sizeof(expected),
                         "'+cmd|' /C calc'!A0,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","
                         "\"1,\"\"2\"\"\",1,'-2+3,1000,,false,'@SUM(1+1),'?=1,'?=1,,ok?[2J,?,"
                         "line1?line2??");
    for (int i = 0; i < LW_M_COUNT; i++)
        at += (size_t)snprintf(expected + at, sizeof(expected) - at, ",%s",
                               i == LW_M_FN_GROWTH ? "-4096" : "");
    snprintf(expected + at, sizeof(expected) - at,
             "\r\n'+cmd|' /C calc'!A0,a=1,,2,r-1,,,false,x@y,,,,,, =1+1%s\r\n", growth_cells);
    assert_string_equal(row, expected);
    free(csv);
    lw_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_csv_formulas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
