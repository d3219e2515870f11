/*
 * `leakwatch report`, report_cli: the command line (options, usage errors, exit status, files
 * and standard input, which output goes where), on memory streams and a fixed clock.
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

static void test_run(void **state)
{
    (void)state;
    struct run_result res;

    const char *help[] = {"report", "--help"};
    res = run(NULL, 2, help);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "usage: leakwatch report"));
    run_free(&res);

    const char *bad_cases[][3] = {
        {"report", "--bogus", FIXTURE("small.log")},
        {"report", "--last", "0"},
        {"report", "--last", "ten"},
        {"report", "--last=-3", FIXTURE("small.log")},
        {"report", "--env=", FIXTURE("small.log")},
        {"report", FIXTURE("small.log"), "--env"},
        {"report", "--csv", "--svg=-"},
        {"report", "--svg=-", "--html=-"},
        {"report", "--since", "yesterday"},
        {"report", "--until=2026-13-01", FIXTURE("small.log")},
        {"report", "--function=", FIXTURE("small.log")},
        {"report", "--html", ""},
    };
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        res = run(NULL, 3, bad_cases[i]);
        print_message("usage case %zu\n", i);
        assert_int_equal(res.status, 2);
        assert_non_null(strstr(res.err, "usage: leakwatch report"));
        assert_int_equal(strlen(res.out), 0);
        run_free(&res);
    }

    /* the golden text, from a file */
    const char *text[] = {"report", FIXTURE("small.log")};
    res = run(NULL, 2, text);
    assert_int_equal(res.status, 0);
    char *expected = read_file(FIXTURE("small.expected"), NULL);
    assert_string_equal(res.out, expected);
    run_free(&res);

    /* from standard input with "-", the same */
    char *small = read_file(FIXTURE("small.log"), NULL);
    const char *dash[] = {"report", "-"};
    res = run(small, 2, dash);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out, expected);
    run_free(&res);
    free(expected);

    /* --env by prefix, --last, --csv together */
    const char *csv[] = {"report",   "--env", "5b7e2d94",
                         "--last=2", "--csv", FIXTURE("aws-logs-tail.log")};
    res = run(NULL, 6, csv);
    assert_int_equal(res.status, 0);
    assert_int_equal(count(res.out, "\r\n"), 3);
    assert_non_null(strstr(
        res.out, "\r\ninvocation,5b7e2d94-61fc-4a08-b3d2-9c41e07f8a66,orders-api,$LATEST,58,"));
    assert_non_null(strstr(res.err, "input: 511 lines"));
    run_free(&res);

    /* an id matching nothing, or a prefix matching two */
    const char *nomatch[] = {"report", "--env", "zzz", FIXTURE("aws-logs-tail.log")};
    res = run(NULL, 4, nomatch);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "--env 'zzz' matches no single environment (of 2)"));
    run_free(&res);

    /* a missing file among good ones: the rest is reported, the status says so */
    const char *missing[] = {"report", FIXTURE("small.log"), FIXTURE("no-such-file.log")};
    res = run(NULL, 3, missing);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.out, "== function leak-demo"));
    assert_non_null(strstr(res.err, "cannot read"));
    run_free(&res);

    /* nothing of leakwatch's: exit 1 with the counts */
    const char *junk[] = {"report", FIXTURE("junk.log")};
    res = run(NULL, 2, junk);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "no leakwatch records in 28 lines"));
    assert_non_null(
        strstr(res.err, "skipped 10 text, 6 bad JSON, 6 other JSON, 6 invalid, 0 too long"));
    run_free(&res);

    /* empty standard input */
    res = run("", 2, dash);
    assert_int_equal(res.status, 1);
    run_free(&res);

    /* the same file twice: every line is a repeat */
    const char *twice[] = {"report", FIXTURE("small.log"), FIXTURE("small.log")};
    res = run(NULL, 3, twice);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "invocations   7 (seq 1 to 7)"));
    assert_non_null(strstr(res.out, "; 12 repeated\n"));
    run_free(&res);

    /* --svg FILE writes the chart and still prints the table; --svg - replaces the table */
    char svg_path[] = "/tmp/lw-report-test-XXXXXX";
    int fd = mkstemp(svg_path);
    assert_true(fd >= 0);
    close(fd);
    const char *svg[] = {"report", "--svg", svg_path, FIXTURE("small.log")};
    res = run(NULL, 4, svg);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "== function leak-demo"));
    run_free(&res);
    char *chart = read_file(svg_path, NULL);
    /* four series, twice: the whole story to out of memory, and the 7 invocations enlarged */
    assert_int_equal(xml_check(chart, "polyline"), 8);
    free(chart);
    unlink(svg_path);
    const char *svg_out[] = {"report", "--svg=-", "-"};
    res = run(small, 3, svg_out);
    assert_int_equal(res.status, 0);
    assert_int_equal(xml_check(res.out, "polyline"), 8);
    run_free(&res);
    free(small);
}

/* With --csv the input counts, the conflicts among them, go to standard error. */
static void test_run_conflicts(void **state)
{
    (void)state;
    const char *log = "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":1,"
                      "\"FunctionRssEndBytes\":1048576}\n"
                      "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":1,"
                      "\"FunctionRssEndBytes\":99999999}\n";
    const char *csv[] = {"report", "--csv", "-"};
    struct run_result res = run(log, 3, csv);
    assert_int_equal(res.status, 0);
    assert_int_equal(count(res.out, "\r\n"), 2);
    assert_non_null(strstr(res.out, ",1048576,"));
    assert_null(strstr(res.out, "99999999"));
    assert_non_null(strstr(res.err, "; 0 repeated\n1 conflicting record for the same invocation "
                                    "was seen; the first read is shown\n"));
    run_free(&res);
}

/* An alert that names the allocation site that grew most (Python with tracemalloc) says it in
 * the report's list of alerts; a site's text comes from the function and is shown safely. */
static void test_run_alert_site(void **state)
{
    (void)state;
    char *log = read_file(FIXTURE("small.log"), NULL);
    const char *anchor = "\"Culprit\":\"bootstrap\"";
    char *at = strstr(strstr(log, "\"To\":\"leak\""), anchor);
    assert_non_null(at);
    const char *sites = ",\"AllocationSites\":[{\"Site\":\"app.py:12\\u001b[2J\","
                        "\"GrowthBytes\":1048576,\"GrowthCount\":4}]";
    size_t head = (size_t)(at - log) + strlen(anchor);
    size_t n = strlen(log) + strlen(sites) + 1;
    char *text = malloc(n);
    assert_non_null(text);
    snprintf(text, n, "%.*s%s%s", (int)head, log, sites, log + head);
    const char *args[] = {"report"};
    struct run_result res = run(text, 1, args);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "allocated at app.py:12"));
    assert_non_null(strstr(res.out, ", grew 1.0 MiB"));
    assert_null(strchr(res.out, '\x1b')); /* the escape in the site never reaches the terminal */
    run_free(&res);
    /* the same log without the site says none */
    res = run(log, 1, args);
    assert_int_equal(res.status, 0);
    assert_null(strstr(res.out, "allocated at"));
    run_free(&res);
    free(text);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_run_conflicts),
        cmocka_unit_test(test_run_alert_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
