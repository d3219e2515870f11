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
    /* ... nor the figures of interval records (Managed Instances), nor a runtime probe's, nor
     * those of a death */
    char empty_death[64];
    size_t n_death = 3 + (LW_D_COUNT - 2) + 3; /* teller, cause, forms, figures, three more */
    assert_true(n_death < sizeof(empty_death));
    memset(empty_death, ',', n_death);
    empty_death[n_death] = '\0';
    char row_end[128];
    snprintf(row_end, sizeof(row_end), ",19.91,20,19.5,41.27,24,,,,,0,,,,,,,,,,%s\r\n",
             empty_death);
    assert_non_null(strstr(m.data, row_end));
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
    /* every metric column and the death columns (teller, cause, forms, 16 figures, lifetime,
     * invocations, shutdown reason) */
    enum { DEATH_COLUMNS = 3 + (LW_D_COUNT - 2) + 3 };
    char growth_cells[LW_M_COUNT + DEATH_COLUMNS + 1] = "";
    for (int i = 0; i < LW_M_COUNT + DEATH_COLUMNS; i++)
        growth_cells[i] = ',';
    /* the metric columns: only FunctionGrowthBytes has a value */
    char expected[1024];
    size_t at = (size_t)snprintf(
        expected, sizeof(expected),
        "invocation,'+cmd|' /C calc'!A0,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","
        "\"1,\"\"2\"\"\",1,'-2+3,1000,,false,false,'@SUM(1+1),'?=1,'?=1,,ok?[2J,?,,"
        "line1?line2??,0");
    for (int i = 0; i < LW_M_COUNT; i++)
        at += (size_t)snprintf(expected + at, sizeof(expected) - at, ",%s",
                               i == LW_M_FN_GROWTH ? "-4096" : "");
    for (int i = 0; i < DEATH_COLUMNS; i++)
        at += (size_t)snprintf(expected + at, sizeof(expected) - at, ",");
    snprintf(expected + at, sizeof(expected) - at,
             "\r\ninvocation,'+cmd|' /C calc'!A0,a=1,,2,r-1,,,false,false,x@y,,,,,,, =1+1,0%s\r\n",
             growth_cells);
    assert_string_equal(row, expected);
    free(csv);
    lw_report_free(r);
}

/* The fields of one CSV record (RFC 4180, no line break inside): their number. */
static size_t csv_fields(const char *row, size_t len)
{
    size_t n = 1;
    bool quoted = false;
    for (size_t i = 0; i < len; i++) {
        if (row[i] == '"')
            quoted = !quoted;
        else if (row[i] == ',' && !quoted)
            n++;
    }
    return n;
}

/*
 * A death is a row of its own (story.log: a real out-of-memory death, predicted, and a forged
 * one), every row as wide as the header, the death's figures in their columns.
 */
static void test_csv_death(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("story.log"));
    char *csv = written(r, NULL, lw_report_write_csv);
    struct lw_report_stats st;
    lw_report_stats(r, &st);
    size_t rows = 0, deaths = 0, header = 0;
    const char *death = NULL;
    for (const char *p = csv; *p;) {
        const char *e = strstr(p, "\r\n");
        assert_non_null(e);
        size_t fields = csv_fields(p, (size_t)(e - p));
        if (rows == 0)
            header = fields;
        else
            assert_int_equal(fields, header);
        if (strncmp(p, "death,", 6) == 0) {
            deaths++;
            if (strstr(p, ",Runtime.OutOfMemory,") && strstr(p, ",orders-api,"))
                death = p;
        }
        rows++;
        p = e + 2;
    }
    assert_int_equal(deaths, 2);
    assert_int_equal(rows, 1 + st.invocations + st.intervals - st.duplicates + deaths);
    assert_non_null(death);
    /* the forms joined and quoted (a comma), the flags as words, the figures raw */
    const char *end = strstr(death, "\r\n");
    char *row = strndup(death, (size_t)(end - death));
    assert_non_null(strstr(row, ",Runtime.OutOfMemory,\"error-type, error-at-limit\",1,1,true,33,"
                                "0.07,4.385,61.5,64,64,3.8,"));
    assert_non_null(strstr(row, ",false,8.918,64,failure"));
    free(row);
    free(csv);
    lw_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_csv_formulas),
        cmocka_unit_test(test_csv_death),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
