/*
 * For the report's tests: a whole log file read into a finished report (include after
 * <cmocka.h> and <leakwatch/report.h>).
 */
#ifndef LEAKWATCH_TEST_REPORT_LOAD_H
#define LEAKWATCH_TEST_REPORT_LOAD_H

#include <stdio.h>

static struct lw_report *load(const char *path)
{
    struct lw_report *r = lw_report_new();
    assert_non_null(r);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(lw_report_read(r, f), LW_OK);
    fclose(f);
    assert_int_equal(lw_report_finish(r), LW_OK);
    return r;
}

#endif
