/*
 * `leakwatch report`, report_input: the framing of every shape of input (log streams with any
 * prefix, `aws logs` output, JSON and CSV exports), what each fixture holds, line limits, NUL
 * bytes, and the malformed lines of leakwatch's with their place.
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

struct fixture_case {
    const char *file;
    uint64_t lines, invocations, shutdowns, alerts;
    uint64_t text, bad_json, foreign, invalid, too_long, duplicates;
    size_t envs;
    size_t kept; /* invocations after deduplication, all environments */
    uint64_t framing, malformed;
};

static const struct fixture_case fixture_cases[] = {
    /* one environment as the log stream has it; seq 3 delivered twice, 4 and 5 swapped */
    {"small.log", 43, 8, 1, 2, 32, 0, 0, 0, 0, 1, 1, 7, 0, 0},
    /* `aws logs tail --format detailed`: two environments interleaved, one never shut down */
    {"aws-logs-tail.log", 511, 99, 1, 3, 408, 0, 0, 0, 0, 0, 2, 99, 0, 0},
    /* CloudWatch-style "time<TAB>request id<TAB>INFO<TAB>" prefixes */
    {"timestamp-prefixed.log", 67, 12, 1, 2, 52, 0, 0, 0, 0, 0, 1, 12, 0, 0},
    /* JSON exports and Telemetry API events carrying each line as a string */
    {"json-export.log", 36, 6, 1, 1, 0, 0, 28, 0, 0, 0, 1, 6, 0, 0},
    /* nothing but other lines: every kind of junk */
    {"junk.log", 28, 0, 0, 0, 10, 6, 6, 6, 0, 0, 0, 0, 0, 10},
    /* small.log as `aws logs filter-log-events --output json` writes it: two pages (the first
     * with a nextToken) concatenated, one event cut by a size limit */
    {"filter-log-events.json", 329, 8, 1, 2, 32, 1, 0, 0, 0, 1, 1, 7, 285, 1},
    /* small.log as a Logs Insights CSV export, newest first: messages end in a newline, so
     * every record spans two lines */
    {"insights-export.csv", 87, 8, 1, 2, 32, 0, 0, 0, 0, 1, 1, 7, 44, 0},
    /* the same as a Logs Insights JSON export (pretty-printed array) */
    {"insights-export.json", 260, 8, 1, 2, 32, 0, 0, 0, 0, 1, 1, 7, 217, 0},
};

static void test_fixtures(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(fixture_cases) / sizeof(fixture_cases[0]); i++) {
        const struct fixture_case *c = &fixture_cases[i];
        char path[512];
        snprintf(path, sizeof(path), "%s/report/%s", LW_FIXTURES_DIR, c->file);
        struct lw_report *r = load(path);
        struct lw_report_stats s;
        lw_report_stats(r, &s);
        print_message("%s\n", c->file);
        assert_int_equal(s.lines, c->lines);
        assert_int_equal(s.invocations, c->invocations);
        assert_int_equal(s.shutdowns, c->shutdowns);
        assert_int_equal(s.alerts, c->alerts);
        assert_int_equal(s.skipped_text, c->text);
        assert_int_equal(s.skipped_bad_json, c->bad_json);
        assert_int_equal(s.skipped_foreign, c->foreign);
        assert_int_equal(s.skipped_invalid, c->invalid);
        assert_int_equal(s.skipped_too_long, c->too_long);
        assert_int_equal(s.duplicates, c->duplicates);
        assert_int_equal(s.conflicts, 0);
        /* every line is counted exactly once */
        assert_int_equal(s.lines, s.invocations + s.shutdowns + s.alerts + s.skipped_text +
                                      s.skipped_bad_json + s.skipped_foreign + s.skipped_invalid +
                                      s.skipped_too_long + s.framing);
        assert_int_equal(s.framing, c->framing);
        assert_int_equal(s.malformed, c->malformed);
        assert_int_equal(lw_report_env_count(r), c->envs);
        size_t kept = 0;
        for (size_t e = 0; e < lw_report_env_count(r); e++) {
            const struct lw_report_env *env = lw_report_env_at(r, e);
            kept += env->n_invocations;
            /* strictly increasing sequence numbers within an environment */
            for (size_t k = 1; k < env->n_invocations; k++)
                assert_true(env->invocations[k].seq > env->invocations[k - 1].seq);
        }
        assert_int_equal(kept, c->kept);
        lw_report_free(r);
    }
}

static void test_empty_input(void **state)
{
    (void)state;
    struct lw_report *r = load_text("");
    struct lw_report_stats s;
    lw_report_stats(r, &s);
    assert_int_equal(s.lines, 0);
    assert_int_equal(lw_report_env_count(r), 0);
    struct membuf m;
    mem_open(&m);
    assert_int_equal(lw_report_write_svg(r, NULL, m.f), LW_OK);
    mem_close(&m);
    assert_non_null(strstr(m.data, "</svg>"));
    free(m.data);
    lw_report_free(r);

    /* blank lines are lines */
    r = load_text("\n\n\r\n");
    lw_report_stats(r, &s);
    assert_int_equal(s.lines, 3);
    assert_int_equal(s.skipped_text, 3);
    lw_report_free(r);
}

static void test_long_line_and_nul(void **state)
{
    (void)state;
    /* a 2 MiB line between two good ones, and a last line without a newline */
    const char *rec1 =
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":1}\n";
    const char *rec2 =
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":2}";
    size_t big = 2u * 1024u * 1024u;
    size_t total = strlen(rec1) * 2 + big + 1 + strlen(rec2);
    char *text = malloc(total + 1);
    assert_non_null(text);
    size_t n = 0;
    memcpy(text + n, rec1, strlen(rec1));
    n += strlen(rec1);
    text[n++] = '{';
    memset(text + n, 'x', big - 1);
    n += big - 1;
    text[n++] = '\n';
    memcpy(text + n, rec2, strlen(rec2));
    n += strlen(rec2);
    text[n] = '\0';
    struct lw_report *r = load_text(text);
    struct lw_report_stats s;
    lw_report_stats(r, &s);
    assert_int_equal(s.lines, 3);
    assert_int_equal(s.skipped_too_long, 1);
    assert_int_equal(s.invocations, 2);
    assert_int_equal(lw_report_env_at(r, 0)->n_invocations, 2);
    lw_report_free(r);
    free(text);

    /* a line of exactly LW_REPORT_LINE_MAX_BYTES is kept, one byte more is not */
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t len = LW_REPORT_LINE_MAX_BYTES + extra;
        char *t = malloc(len + 2);
        assert_non_null(t);
        const char *head = "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\","
                           "\"Sequence\":1}";
        memcpy(t, head, strlen(head));
        memset(t + strlen(head), ' ', len - strlen(head));
        t[len] = '\n';
        t[len + 1] = '\0';
        r = load_text(t);
        lw_report_stats(r, &s);
        assert_int_equal(s.invocations, extra ? 0 : 1);
        assert_int_equal(s.skipped_too_long, extra ? 1 : 0);
        lw_report_free(r);
        free(t);
    }

    /* a NUL byte inside a line: the line is bad JSON, the next line still parses */
    static const char with_nul[] =
        "{\"LeakwatchRecord\":\"invoc\0ation\",\"EnvironmentId\":\"e\",\"Sequence\":1}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":2}\n";
    r = lw_report_new();
    assert_non_null(r);
    FILE *f = text_stream(with_nul, sizeof(with_nul) - 1);
    assert_int_equal(lw_report_read(r, f), LW_OK);
    fclose(f);
    assert_int_equal(lw_report_finish(r), LW_OK);
    lw_report_stats(r, &s);
    assert_int_equal(s.lines, 2);
    assert_int_equal(s.skipped_bad_json, 1);
    assert_int_equal(s.invocations, 1);
    lw_report_free(r);
}

/* The text report without its last "input:" lines. */
static char *report_body(const char *path)
{
    const char *argv[] = {"report", path};
    struct run_result res = run(NULL, 2, argv);
    assert_int_equal(res.status, 0);
    char *in = strstr(res.out, "\ninput: ");
    assert_non_null(in);
    in[1] = '\0';
    free(res.err);
    return res.out;
}

/* Every export of the same log gives the same report: only the input counts differ. */
static void test_exports_same_report(void **state)
{
    (void)state;
    char *expected = report_body(FIXTURE("small.log"));
    static const char *const exports[] = {"filter-log-events.json", "insights-export.csv",
                                          "insights-export.json"};
    for (size_t i = 0; i < sizeof(exports) / sizeof(exports[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/report/%s", LW_FIXTURES_DIR, exports[i]);
        print_message("%s\n", exports[i]);
        char *got = report_body(path);
        assert_string_equal(got, expected);
        free(got);
    }
    free(expected);
}

/* Malformed lines of leakwatch's are reported with their file and line number. */
static void test_malformed_lines(void **state)
{
    (void)state;
    const char *argv[] = {"report", FIXTURE("filter-log-events.json")};
    struct run_result res = run(NULL, 2, argv);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "malformed leakwatch lines: 1\n  " LW_FIXTURES_DIR
                                    "/report/filter-log-events.json: line 153: cut or invalid "
                                    "JSON\n"));
    assert_non_null(strstr(res.out, "; 285 lines of export framing\n"));
    run_free(&res);

    const char *junk[] = {"report", FIXTURE("junk.log")};
    res = run(NULL, 2, junk);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "malformed leakwatch lines: 10\n"));
    assert_non_null(strstr(res.err, "junk.log: line 11: cut or invalid JSON\n"));
    assert_non_null(strstr(res.err, "junk.log: line 25: no valid Sequence\n"));
    assert_non_null(strstr(res.err, "junk.log: line 28: no EnvironmentId\n"));
    /* other lines with a '{' (the function's output, leakwatch's own messages) are not */
    assert_null(strstr(res.err, "line 10:"));
    run_free(&res);

    /* the cap on kept positions, with the rest counted */
    struct lw_report *r = lw_report_new();
    assert_non_null(r);
    assert_int_equal(lw_report_set_source(r, "many"), LW_OK);
    const char bad[] = "{\"LeakwatchRecord\":\"invocation\",\"Sequence\":1}";
    for (int i = 0; i < 25; i++)
        assert_int_equal(lw_report_add_line(r, bad, sizeof(bad) - 1), LW_OK);
    struct lw_report_stats st;
    lw_report_stats(r, &st);
    assert_int_equal(st.malformed, 25);
    assert_int_equal(lw_report_malformed_count(r), LW_REPORT_MALFORMED_KEPT);
    const struct lw_report_malformed *m = lw_report_malformed_at(r, LW_REPORT_MALFORMED_KEPT - 1);
    assert_string_equal(m->source, "many");
    assert_int_equal(m->line_no, LW_REPORT_MALFORMED_KEPT);
    assert_string_equal(m->why, "no EnvironmentId");
    assert_null(lw_report_malformed_at(r, LW_REPORT_MALFORMED_KEPT));
    lw_report_free(r);
}

/* Appends s to a CSV field, quoted as RFC 4180 has it. */
static void csv_quote(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);
    dst[n++] = '"';
    for (; *s && n + 3 < cap; s++) {
        if (*s == '"')
            dst[n++] = '"';
        dst[n++] = *s;
    }
    dst[n++] = '"';
    dst[n] = '\0';
}

static void test_csv_records(void **state)
{
    (void)state;
    char *inv = nth_line_with(FIXTURE("small.log"), "\"LeakwatchRecord\":\"invocation\"", 1);
    size_t cap = strlen(inv) * 2 + 4096;
    char *text = calloc(1, cap);
    assert_non_null(text);
    /* line 1: header with the message in the second column; lines 2-3: a cut line of
     * leakwatch's with its newline; lines 4-5: a good one; line 6: START; line 7: a record
     * whose quote never closes before the end of the input */
    snprintf(text, cap,
             "\xEF\xBB\xBF\"@timestamp\",\"@message\",\"@logStream\"\n"
             "2026-01-05 10:00:00.100,");
    csv_quote(text, cap, "{\"_aws\":{\"CloudWatchMetrics\":[{\"Namespace\":\"Leakwatch\",\n");
    size_t n = strlen(text);
    snprintf(text + n, cap - n, ",s1\n2026-01-05 10:00:00.200,");
    char *msg = malloc(strlen(inv) + 2);
    assert_non_null(msg);
    snprintf(msg, strlen(inv) + 2, "%s\n", inv);
    csv_quote(text, cap, msg);
    n = strlen(text);
    snprintf(text + n, cap - n,
             ",s1\n2026-01-05 10:00:00.300,START RequestId: 1 Version: $LATEST,s1\n"
             "2026-01-05 10:00:00.400,\"{\"\"LeakwatchRecord\"\":\"\"invocation\"\", cut");
    struct lw_report *r = lw_report_new();
    assert_non_null(r);
    assert_int_equal(lw_report_set_source(r, "export.csv"), LW_OK);
    FILE *f = text_stream(text, strlen(text));
    assert_int_equal(lw_report_read(r, f), LW_OK);
    fclose(f);
    assert_int_equal(lw_report_finish(r), LW_OK);
    struct lw_report_stats st;
    lw_report_stats(r, &st);
    assert_int_equal(st.invocations, 1);
    assert_int_equal(st.skipped_text, 1);
    assert_int_equal(st.skipped_bad_json, 2);
    assert_int_equal(st.framing, 3); /* the header and two continuation lines */
    assert_int_equal(st.lines, 7);
    assert_int_equal(lw_report_malformed_count(r), 2);
    assert_int_equal(lw_report_malformed_at(r, 0)->line_no, 2);
    assert_string_equal(lw_report_malformed_at(r, 0)->why, "cut or invalid JSON");
    assert_int_equal(lw_report_malformed_at(r, 1)->line_no, 7);
    assert_string_equal(lw_report_malformed_at(r, 1)->why,
                        "CSV record cut at the end of the input");
    assert_int_equal(lw_report_env_count(r), 1);
    assert_int_equal(lw_report_env_at(r, 0)->invocations[0].seq, 1);
    lw_report_free(r);
    free(msg);
    free(text);
    free(inv);
}

/* JSON export documents held on one line: an Insights array, a compacted page of events. */
static void test_compact_documents(void **state)
{
    (void)state;
    char *inv = nth_line_with(FIXTURE("small.log"), "\"LeakwatchRecord\":\"invocation\"", 2);
    /* the line as a JSON string */
    size_t cap = strlen(inv) * 2 + 512;
    char *quoted = malloc(cap);
    assert_non_null(quoted);
    size_t n = 0;
    quoted[n++] = '"';
    for (const char *p = inv; *p; p++) {
        if (*p == '"' || *p == '\\')
            quoted[n++] = '\\';
        quoted[n++] = *p;
    }
    memcpy(quoted + n, "\\n\"", 4);
    char *text = malloc(cap * 2 + 512);
    assert_non_null(text);
    snprintf(text, cap * 2 + 512,
             "[{\"@timestamp\":\"2026-01-05 10:00:05.202\",\"@message\":%s},"
             "{\"@message\":\"START RequestId: 1\"}]\n"
             "{\"events\":[{\"timestamp\":1,\"message\":%s}],\"searchedLogStreams\":[]}\n"
             "[]\n",
             quoted, quoted);
    struct lw_report *r = load_text(text);
    struct lw_report_stats st;
    lw_report_stats(r, &st);
    assert_int_equal(st.invocations, 2);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.skipped_text, 1);
    assert_int_equal(st.framing, 1); /* the empty array */
    assert_int_equal(st.lines, 4);
    assert_int_equal(lw_report_env_at(r, 0)->invocations[0].seq, 2);
    lw_report_free(r);

    /* a stray "{" line does not swallow the log lines after it */
    snprintf(text, cap * 2 + 512, "{\n%s\n  \"message\": \"START\",\n}\n", inv);
    r = load_text(text);
    lw_report_stats(r, &st);
    assert_int_equal(st.invocations, 1);
    assert_int_equal(st.skipped_text, 1);
    assert_int_equal(st.framing, 2);
    lw_report_free(r);
    free(text);
    free(quoted);
    free(inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),          cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_long_line_and_nul), cmocka_unit_test(test_exports_same_report),
        cmocka_unit_test(test_malformed_lines),   cmocka_unit_test(test_csv_records),
        cmocka_unit_test(test_compact_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
