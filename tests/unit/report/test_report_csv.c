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
    assert_non_null(strstr(m.data, ",19.91,20,19.5,41.27,24,,,,,0\r\n"));
    free(m.data);
    lw_report_free(r);

    /* quoting per RFC 4180 */
    r = load_text(
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":1,"
        "\"VerdictReason\":\"grows, \\\"fast\\\"\\nreally\",\"DurationMilliseconds\":0.1}");
    mem_open(&m);
    assert_int_equal(lw_report_write_csv(r, NULL, m.f), LW_OK);
    mem_close(&m);
    assert_non_null(strstr(m.data, ",\"grows, \"\"fast\"\"\nreally\","));
    assert_non_null(strstr(m.data, ",0.1,"));
    free(m.data);
    lw_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
