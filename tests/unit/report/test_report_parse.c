/*
 * `leakwatch report`, report_parse: one log event into one of leakwatch's lines. Every kind of
 * line a real log holds, every prefix of a real line, every single-byte corruption of one, and
 * strings cut at their field's size.
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

static void test_parse_fields(void **state)
{
    (void)state;
    char *line = nth_line_with(FIXTURE("small.log"), "\"LeakwatchRecord\":\"invocation\"", 1);
    struct lw_report_line out;
    enum lw_report_skip why;
    assert_int_equal(lw_report_parse_line(line, strlen(line), &out, &why), LW_OK);
    assert_int_equal(why, LW_REPORT_SKIP_NONE);
    assert_int_equal(out.kind, LW_REPORT_INVOCATION);
    assert_string_equal(out.env_id, "3f2a9c1e-7b4d-4e11-a0c2-5d8e6b9f0a13");
    assert_string_equal(out.function_name, "leak-demo");
    assert_string_equal(out.function_version, "$LATEST");
    assert_string_equal(out.request_id, "ce76d34b-2c58-4730-af9d-243048b6b172");
    assert_int_equal(out.seq, 1);
    assert_true(out.cold_start);
    assert_string_equal(out.status, "success");
    assert_string_equal(out.peak_method, "hwm");
    assert_string_equal(out.verdict, "learning");
    assert_string_equal(out.reason, "learning: 1 of 5 invocations seen");
    assert_int_equal(out.incomplete, 0);
    assert_int_equal(out.start_time_ms, 1767607200123u);
    assert_int_equal(out.end_time_ms, 1767607205202u);
    assert_true(out.have_mask & (UINT64_C(1) << LW_M_FN_RSS_END));
    assert_true(out.value[LW_M_FN_RSS_END] == 15302656.0);
    assert_true(out.value[LW_M_FN_ANON_END] == 11776000.0);
    assert_true(out.value[LW_M_DURATION] == 19.91);
    assert_true(out.value[LW_M_MAX_MEMORY_USED] == 24.0);
    /* the verdict figures are absent while learning: absent, never 0 */
    assert_false(out.have_mask & (UINT64_C(1) << LW_M_GROWTH_PER_INVOCATION));
    free(line);

    line = nth_line_with(FIXTURE("small.log"), "\"LeakwatchAlert\"", 2);
    assert_int_equal(lw_report_parse_line(line, strlen(line), &out, &why), LW_OK);
    assert_int_equal(out.kind, LW_REPORT_ALERT);
    assert_int_equal(out.seq, 6);
    assert_string_equal(out.from, "steady");
    assert_string_equal(out.verdict, "leak");
    assert_string_equal(out.culprit, "bootstrap");
    assert_true(out.value[LW_M_GROWTH_PER_INVOCATION] == 65536.0);
    assert_true(out.have_mask & (UINT64_C(1) << LW_M_MINUTES_TO_OOM));
    free(line);

    line = nth_line_with(FIXTURE("small.log"), "\"LeakwatchRecord\":\"shutdown\"", 1);
    assert_int_equal(lw_report_parse_line(line, strlen(line), &out, &why), LW_OK);
    assert_int_equal(out.kind, LW_REPORT_SHUTDOWN);
    assert_string_equal(out.reason, "spindown");
    assert_true(out.have_lifetime);
    assert_true(out.have_invocations);
    assert_int_equal(out.invocations, 7);
    free(line);
}

struct line_case {
    const char *line;
    enum lw_err err;
    enum lw_report_skip why;
    enum lw_report_kind kind;
};

#define LW_REC                                                                                     \
    "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e1\",\"Sequence\":4,"                 \
    "\"FunctionName\":\"f\",\"Incomplete\":[\"telemetry\",\"end-reading\"]}"

static const struct line_case line_cases[] = {
    {"", LW_ERR_INVALID, LW_REPORT_SKIP_TEXT, 0},
    {"END RequestId: 0c3e1a52-8f0e-4b8a-9d2b-7c1f5e3a9b40", LW_ERR_INVALID, LW_REPORT_SKIP_TEXT, 0},
    {LW_REC, LW_OK, LW_REPORT_SKIP_NONE, LW_REPORT_INVOCATION},
    {LW_REC "\r\n", LW_OK, LW_REPORT_SKIP_NONE, LW_REPORT_INVOCATION},
    {LW_REC "  \t", LW_OK, LW_REPORT_SKIP_NONE, LW_REPORT_INVOCATION},
    /* prefixes: CloudWatch console, `aws logs tail`, a bare timestamp */
    {"2026-01-05T10:00:00.123Z\t0c3e1a52-8f0e-4b8a-9d2b-7c1f5e3a9b40\tINFO\t" LW_REC, LW_OK,
     LW_REPORT_SKIP_NONE, LW_REPORT_INVOCATION},
    {"2026-01-05T10:00:01.471000+00:00 2026/01/05/[$LATEST]8f3c9b2e4d1a4c6f " LW_REC, LW_OK,
     LW_REPORT_SKIP_NONE, LW_REPORT_INVOCATION},
    {"2026-01-05T10:00:00.123Z " LW_REC, LW_OK, LW_REPORT_SKIP_NONE, LW_REPORT_INVOCATION},
    /* wrappers carrying the line as a string */
    {"{\"timestamp\":1,\"message\":\"2026-01-05T10:00:00.123Z\\t{\\\"LeakwatchRecord\\\":"
     "\\\"shutdown\\\",\\\"EnvironmentId\\\":\\\"e1\\\"}\"}",
     LW_OK, LW_REPORT_SKIP_NONE, LW_REPORT_SHUTDOWN},
    {"{\"time\":\"t\",\"type\":\"extension\",\"record\":\"{\\\"LeakwatchAlert\\\":\\\"verdict-"
     "change\\\",\\\"EnvironmentId\\\":\\\"e1\\\",\\\"Sequence\\\":9}\"}",
     LW_OK, LW_REPORT_SKIP_NONE, LW_REPORT_ALERT},
    {"{\"message\":\"START RequestId: x\"}", LW_ERR_INVALID, LW_REPORT_SKIP_FOREIGN, 0},
    {"{\"message\":\"{\\\"LeakwatchRecord\\\":\\\"invocation\\\"}\"}", LW_ERR_INVALID,
     LW_REPORT_SKIP_INVALID, 0},
    /* only one level of wrapping */
    {"{\"message\":\"{\\\"message\\\":\\\"{}\\\"}\"}", LW_ERR_INVALID, LW_REPORT_SKIP_FOREIGN, 0},
    /* bad JSON */
    {"{", LW_ERR_INVALID, LW_REPORT_SKIP_BAD_JSON, 0},
    {"{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e1\",\"Seq", LW_ERR_INVALID,
     LW_REPORT_SKIP_BAD_JSON, 0},
    {LW_REC " trailing", LW_ERR_INVALID, LW_REPORT_SKIP_BAD_JSON, 0},
    {LW_REC LW_REC, LW_ERR_INVALID, LW_REPORT_SKIP_BAD_JSON, 0},
    {"[leakwatch] WARN body {oops", LW_ERR_INVALID, LW_REPORT_SKIP_BAD_JSON, 0},
    /* foreign JSON */
    {"{}", LW_ERR_INVALID, LW_REPORT_SKIP_FOREIGN, 0},
    {"{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"Other\","
     "\"Dimensions\":[[]],\"Metrics\":[{\"Name\":\"M\"}]}]},\"M\":1}",
     LW_ERR_INVALID, LW_REPORT_SKIP_FOREIGN, 0},
    {"{\"LeakwatchRecord\":\"histogram\",\"EnvironmentId\":\"e1\",\"Sequence\":1}", LW_ERR_INVALID,
     LW_REPORT_SKIP_FOREIGN, 0},
    {"{\"LeakwatchAlert\":\"budget\",\"EnvironmentId\":\"e1\",\"Sequence\":1}", LW_ERR_INVALID,
     LW_REPORT_SKIP_FOREIGN, 0},
    {"{\"LeakwatchRecord\":7}", LW_ERR_INVALID, LW_REPORT_SKIP_FOREIGN, 0},
    /* leakwatch's, but unusable */
    {"{\"LeakwatchRecord\":\"invocation\",\"Sequence\":1}", LW_ERR_INVALID, LW_REPORT_SKIP_INVALID,
     0},
    {"{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e1\"}", LW_ERR_INVALID,
     LW_REPORT_SKIP_INVALID, 0},
    {"{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e1\",\"Sequence\":1.5}",
     LW_ERR_INVALID, LW_REPORT_SKIP_INVALID, 0},
    {"{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e1\",\"Sequence\":1e300}",
     LW_ERR_INVALID, LW_REPORT_SKIP_INVALID, 0},
    {"{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":7,\"Sequence\":1}", LW_ERR_INVALID,
     LW_REPORT_SKIP_INVALID, 0},
    {"{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"e1\"}", LW_ERR_INVALID,
     LW_REPORT_SKIP_INVALID, 0},
    {"{\"LeakwatchRecord\":\"shutdown\",\"ShutdownReason\":\"spindown\"}", LW_ERR_INVALID,
     LW_REPORT_SKIP_INVALID, 0},
};

static void test_parse_line_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
        const struct line_case *c = &line_cases[i];
        struct lw_report_line out;
        enum lw_report_skip why = (enum lw_report_skip) - 1;
        print_message("case %zu: %.60s\n", i, c->line);
        assert_int_equal(lw_report_parse_line(c->line, strlen(c->line), &out, &why), c->err);
        assert_int_equal(why, c->why);
        if (c->err == LW_OK)
            assert_int_equal(out.kind, c->kind);
    }
    /* the Incomplete list */
    struct lw_report_line out;
    enum lw_report_skip why;
    assert_int_equal(lw_report_parse_line(LW_REC, strlen(LW_REC), &out, &why), LW_OK);
    assert_int_equal(out.incomplete, LW_GAP_TELEMETRY | LW_GAP_END_READING);
}

/* Every prefix of a real line: never a crash, never a record before the whole line is there. */
static void test_parse_every_prefix(void **state)
{
    (void)state;
    char *line = nth_line_with(FIXTURE("timestamp-prefixed.log"), "LeakwatchRecord", 3);
    size_t len = strlen(line);
    size_t brace = (size_t)(strchr(line, '{') - line);
    for (size_t n = 0; n <= len; n++) {
        struct lw_report_line out;
        enum lw_report_skip why;
        enum lw_err err = lw_report_parse_line(line, n, &out, &why);
        if (n == len) {
            assert_int_equal(err, LW_OK);
            assert_int_equal(out.seq, 3);
        } else {
            assert_int_equal(err, LW_ERR_INVALID);
            assert_int_equal(why, n <= brace ? LW_REPORT_SKIP_TEXT : LW_REPORT_SKIP_BAD_JSON);
        }
    }
    free(line);
}

/*
 * Every single-byte corruption of a real line parses to one of the documented outcomes, and a
 * line still accepted keeps its required fields (run under the sanitizers by the ASan build).
 */
static void test_parse_corruptions(void **state)
{
    (void)state;
    static const char bytes[] = {'"', '{', '}', '[', ',', ':', '\\', '\0', (char)0xFF, 'x', '9'};
    char *line = nth_line_with(FIXTURE("small.log"), "\"LeakwatchRecord\":\"invocation\"", 4);
    size_t len = strlen(line);
    char *copy = malloc(len);
    assert_non_null(copy);
    size_t ok = 0, rejected = 0;
    for (size_t i = 0; i < len; i++) {
        for (size_t b = 0; b < sizeof(bytes); b++) {
            memcpy(copy, line, len);
            copy[i] = bytes[b];
            struct lw_report_line out;
            enum lw_report_skip why = LW_REPORT_SKIP_NONE;
            enum lw_err err = lw_report_parse_line(copy, len, &out, &why);
            if (err == LW_OK) {
                assert_int_equal(why, LW_REPORT_SKIP_NONE);
                assert_true(out.env_id[0] != '\0');
                assert_true(strlen(out.env_id) < sizeof(out.env_id));
                ok++;
            } else {
                assert_int_equal(err, LW_ERR_INVALID);
                assert_true(why >= LW_REPORT_SKIP_TEXT && why <= LW_REPORT_SKIP_INVALID);
                rejected++;
            }
        }
    }
    /* corrupting a digit or a letter inside a string keeps the line; most others break it */
    assert_true(ok > 0);
    assert_true(rejected > 0);
    free(copy);
    free(line);
}

/* A string longer than its field is cut at a character boundary, never mid-character. */
static void test_parse_truncates_utf8(void **state)
{
    (void)state;
    char line[2048];
    char name[600];
    size_t n = 0;
    while (n + 2 < 520) {
        name[n++] = (char)0xC3; /* "é" */
        name[n++] = (char)0xA9;
    }
    name[n] = '\0';
    snprintf(line, sizeof(line),
             "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":1,"
             "\"FunctionName\":\"x%s\"}",
             name);
    struct lw_report_line out;
    enum lw_report_skip why;
    assert_int_equal(lw_report_parse_line(line, strlen(line), &out, &why), LW_OK);
    size_t l = strlen(out.function_name);
    assert_true(l < sizeof(out.function_name));
    assert_true(l >= sizeof(out.function_name) - 3);
    assert_int_equal((l - 1) % 2, 0); /* "x" then whole two-byte characters */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields),         cmocka_unit_test(test_parse_line_kinds),
        cmocka_unit_test(test_parse_every_prefix),   cmocka_unit_test(test_parse_corruptions),
        cmocka_unit_test(test_parse_truncates_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
