/*
 * `leakwatch report`, report_text: the exact text report (golden files), aligned columns, and
 * the sparkline.
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

static void test_text_golden(void **state)
{
    (void)state;
    check_golden(FIXTURE("small.log"), NULL, false, FIXTURE("small.expected"));
    struct lw_report_options last3 = {.last = 3};
    check_golden(FIXTURE("small.log"), &last3, false, FIXTURE("small-last3.expected"));
    struct lw_report_options wide = {.wide = true, .ascii = true};
    check_golden(FIXTURE("small.log"), &wide, false, FIXTURE("small-wide-ascii.expected"));
}

/* Every table line has the same column positions: the header's, the units' and each row's. */
static void test_text_columns_aligned(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("aws-logs-tail.log"));
    struct membuf m;
    mem_open(&m);
    lw_report_write_env_text(lw_report_env_at(r, 1), NULL, m.f);
    mem_close(&m);
    /* the column "status" starts at the same offset on every table line */
    const char *head = strstr(m.data, "\nseq ");
    assert_non_null(head);
    head++;
    size_t status_col = (size_t)(strstr(head, "status") - head);
    size_t rows = 0;
    for (const char *p = strchr(head, '\n') + 1; *p && *p != '\n'; p = strchr(p, '\n') + 1) {
        const char *nl = strchr(p, '\n');
        if (rows > 0) { /* after the units line, which ends at "ms" */
            assert_true((size_t)(nl - p) > status_col);
            assert_memory_equal(p + status_col, "success", 7);
        }
        rows++;
        assert_true(nl[-1] != ' '); /* no trailing spaces */
    }
    assert_int_equal(rows, 1 + 59);
    assert_non_null(strstr(m.data, "shutdown      not in this log\n"));
    assert_non_null(strstr(m.data, "  seq 12: steady -> leak (growth 256.0 KiB per invocation"));
    free(m.data);
    lw_report_free(r);
}

static void test_sparkline(void **state)
{
    (void)state;
    const double up[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    char buf[256];
    assert_int_equal(lw_report_sparkline(up, 8, 60, false, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "\xe2\x96\x81\xe2\x96\x82\xe2\x96\x83\xe2\x96\x84\xe2\x96\x85"
                             "\xe2\x96\x86\xe2\x96\x87\xe2\x96\x88");
    lw_report_sparkline(up, 8, 60, true, buf, sizeof(buf));
    assert_string_equal(buf, "_.,-=+*#");
    const double flat[3] = {5, 5, 5};
    lw_report_sparkline(flat, 3, 60, true, buf, sizeof(buf));
    assert_string_equal(buf, "___");
    const double gap[3] = {1, NAN, 3};
    lw_report_sparkline(gap, 3, 60, true, buf, sizeof(buf));
    assert_string_equal(buf, "_ #");
    /* more values than width: the highest of each group */
    double many[120];
    for (int i = 0; i < 120; i++)
        many[i] = i == 7 ? 1000 : i;
    assert_int_equal(lw_report_sparkline(many, 120, 60, true, buf, sizeof(buf)), 2);
    assert_int_equal(strlen(buf), 60);
    assert_int_equal(buf[3], '#'); /* values 6 and 7: the spike is not averaged away */
    assert_int_equal(buf[0], '_');
    /* cut at the buffer, never inside a character */
    lw_report_sparkline(up, 8, 60, false, buf, 8);
    assert_int_equal(strlen(buf), 6);
    lw_report_sparkline(up, 0, 60, false, buf, sizeof(buf));
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_golden),
        cmocka_unit_test(test_text_columns_aligned),
        cmocka_unit_test(test_sparkline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
