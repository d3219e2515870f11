/*
 * `leakwatch report`, report_parse: one log event into one of leakwatch's lines. Every kind of
 * line a real log holds, every prefix of a real line, every single-byte corruption of one, and
 * strings cut at their field's size.
 */
#include <leakwatch/alert.h>
#include <leakwatch/emf.h>
#include <leakwatch/report.h>
#include <leakwatch/state.h>
#include <leakwatch/verdict.h>

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

/* Whether line has death figure id, and its value. */
static bool figure(const struct lw_report_line *l, enum lw_report_death_figure id, double *v)
{
    if (!(l->have_mask & (UINT64_C(1) << id)))
        return false;
    *v = l->value[id];
    return true;
}

#define ASSERT_FIGURE(line, id, expected)                                                          \
    do {                                                                                           \
        double v_ = NAN;                                                                           \
        assert_true(figure((line), (id), &v_));                                                    \
        assert_true(fabs(v_ - (expected)) < 1e-9);                                                 \
    } while (0)

/*
 * A real death line (story.log, captured in the emulator): it belongs to the environment it is
 * about, names the one that told it, and carries the cause, the forms, the prediction and the
 * projection against the truth.
 */
/* The allocation site of an alert (Python with tracemalloc), from a line the daemon's own
 * encoder wrote: a renamed key there fails here. */
static void test_parse_alert_site(void **state)
{
    (void)state;
    struct lw_verdict v;
    memset(&v, 0, sizeof(v));
    v.kind = LW_VERDICT_LEAK;
    v.previous = LW_VERDICT_WARMING;
    v.changed = true;
    v.growth_bytes_per_invocation = 2097152;
    snprintf(v.reason, sizeof(v.reason), "%s", "anonymous RSS of runtime 'python3' grows");
    snprintf(v.culprit, sizeof(v.culprit), "%s", "python3");
    struct lw_alloc_sites sites = {.request = 2, .n = 2};
    snprintf(sites.site[0].where, sizeof(sites.site[0].where), "%s", "pyleak.py:163");
    sites.site[0].growth_bytes = 33554432;
    sites.site[0].growth_count = 16;
    snprintf(sites.site[1].where, sizeof(sites.site[1].where), "%s", "other.py:1");
    sites.site[1].growth_bytes = 10;
    char line[LW_ALERT_LINE_MAX];
    size_t len = 0;
    assert_int_equal(lw_alert_line(&v, "f", "env-1", 40, &sites, line, sizeof(line), &len), LW_OK);
    line[--len] = '\0'; /* the newline */
    struct lw_report_line out;
    enum lw_report_skip why;
    assert_int_equal(lw_report_parse_line(line, len, &out, &why), LW_OK);
    assert_int_equal(out.kind, LW_REPORT_ALERT);
    assert_string_equal(out.site, "pyleak.py:163");
    assert_true(out.site_growth_bytes == 33554432.0);
    /* without sites: none */
    assert_int_equal(lw_alert_line(&v, "f", "env-1", 40, NULL, line, sizeof(line), &len), LW_OK);
    line[--len] = '\0';
    assert_int_equal(lw_report_parse_line(line, len, &out, &why), LW_OK);
    assert_string_equal(out.site, "");
    /* a site that is not an object with a text and a number is none */
    const char *bad = "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"e\","
                      "\"Sequence\":3,\"From\":\"steady\",\"To\":\"leak\","
                      "\"AllocationSites\":[{\"Site\":7,\"GrowthBytes\":1}]}";
    assert_int_equal(lw_report_parse_line(bad, strlen(bad), &out, &why), LW_OK);
    assert_string_equal(out.site, "");
}

static void test_parse_death(void **state)
{
    (void)state;
    char *line = nth_line_with(FIXTURE("story.log"), "\"LeakwatchRecord\":\"death\"", 1);
    struct lw_report_line out;
    enum lw_report_skip why;
    assert_int_equal(lw_report_parse_line(line, strlen(line), &out, &why), LW_OK);
    assert_int_equal(out.kind, LW_REPORT_DEATH);
    assert_string_equal(out.env_id, "2026/12/04/[$LATEST]cede52a7f90b40199337493b72b2899b");
    assert_string_equal(out.told_by, "324de41b1880c93e");
    assert_string_equal(out.function_name, "orders-api");
    assert_string_equal(out.function_version, "$LATEST");
    assert_string_equal(out.ending, "Runtime.OutOfMemory");
    assert_string_equal(out.oom_forms, "error-type, error-at-limit");
    assert_string_equal(out.verdict, "leak-critical");
    assert_string_equal(out.status, "error");
    assert_string_equal(out.error_type, "Runtime.OutOfMemory");
    assert_string_equal(out.reason, "failure");
    assert_int_equal(out.seq, 0);
    assert_int_equal(out.start_time_ms, 1796421194072u);
    assert_int_equal(out.end_time_ms, 1796421202990u);
    assert_true(out.have_lifetime);
    assert_true(out.lifetime_seconds == 8.918);
    assert_true(out.have_invocations);
    assert_int_equal(out.invocations, 64);
    ASSERT_FIGURE(&out, LW_D_OOM_DEATHS, 1);
    ASSERT_FIGURE(&out, LW_D_OOM_PREDICTED, 1);
    ASSERT_FIGURE(&out, LW_D_PREDICTED, 1);
    ASSERT_FIGURE(&out, LW_D_LEAD_INVOCATIONS, 33);
    ASSERT_FIGURE(&out, LW_D_LEAD_MINUTES, 0.07);
    ASSERT_FIGURE(&out, LW_D_LEAD_SECONDS, 4.385);
    ASSERT_FIGURE(&out, LW_D_PROJECTED_SEQ, 61.5);
    ASSERT_FIGURE(&out, LW_D_LAST_PROJECTED_SEQ, 64);
    ASSERT_FIGURE(&out, LW_D_ACTUAL_SEQ, 64);
    ASSERT_FIGURE(&out, LW_D_ERROR_PERCENT, 3.8);
    ASSERT_FIGURE(&out, LW_D_LAST_FN_RSS, 134090752);
    ASSERT_FIGURE(&out, LW_D_MEM_LIMIT, 134217728);
    ASSERT_FIGURE(&out, LW_D_LAST_MAX_USED_MB, 132);
    ASSERT_FIGURE(&out, LW_D_INTERVALS, 0); /* false is a figure too: 0, present */
    ASSERT_FIGURE(&out, LW_D_RESTORED, 0);
    free(line);

    /* the forged one: what it lacks is absent, never 0 */
    line = nth_line_with(FIXTURE("story.log"), "\"LeakwatchRecord\":\"death\"", 2);
    assert_int_equal(lw_report_parse_line(line, strlen(line), &out, &why), LW_OK);
    assert_string_equal(out.env_id, "forged-env<b>");
    assert_string_equal(out.oom_forms, "<b>, error-type");
    assert_int_equal(out.have_mask, 0);
    assert_false(out.have_lifetime);
    free(line);
}

/* Writes what the daemon writes for a death (lw_emf_encode_death) and reads it back. */
static void encode_and_parse(const struct lw_state *dead, const struct lw_death *d,
                             struct lw_report_line *out)
{
    struct lw_emf_options opt = {.namespace_ = "Leakwatch", .function_name = "fn"};
    struct lw_emf_death e = {.time_ms = 1800000000000, .env_id = "next", .dead = dead, .death = d};
    static char buf[8192];
    size_t len;
    assert_int_equal(lw_emf_encode_death(&opt, &e, buf, sizeof(buf), &len), LW_OK);
    enum lw_report_skip why;
    assert_int_equal(lw_report_parse_line(buf, len, out, &why), LW_OK);
    assert_int_equal(out->kind, LW_REPORT_DEATH);
}

/*
 * The daemon's own encoder against the report's reader: every figure the death line carries
 * reaches the report under its name, and what a death that is not out of memory leaves out
 * stays out (a timeout is neither predicted nor unpredicted).
 */
static void test_parse_death_round_trip(void **state)
{
    (void)state;
    struct lw_state dead = {
        .env_id = "dead",
        .function_name = "fn",
        .started_ms = 1799999000000,
        .memory_limit_bytes = 134217728,
        .last_seq = 40,
        .boundary_ms = 1799999900000,
        .have_readings = true,
        .fn_rss_bytes = 120000000,
        .env_rss_bytes = 125000000,
        .env_rss_max_bytes = 130000000,
        .verdict = LW_VERDICT_LEAK,
        .ended = true,
        .ended_ms = 1799999950000,
        .shutdown_reason = "failure",
        .have_last_report = true,
        .last_report_seq = 41,
        .last_status = "error",
        .last_error_type = "Runtime.OutOfMemory",
        .last_max_memory_used_mb = 128,
        .last_memory_size_mb = 128,
    };
    struct lw_death d = {
        .cause = LW_DEATH_OUT_OF_MEMORY,
        .oom_forms = LW_OOM_ERROR_TYPE | LW_OOM_KILLED_AT_LIMIT,
        .invocations = 41,
        .age_seconds = 950,
        .predicted = true,
        .lead_invocations = 12,
        .lead_minutes = 2.5,
        .have_error = true,
        .projected_seq = 44.04,
        .error_percent = 7.4,
        .last_projected_seq = 41.2,
    };
    struct lw_report_line out;
    encode_and_parse(&dead, &d, &out);
    assert_string_equal(out.env_id, "dead");
    assert_string_equal(out.told_by, "next");
    assert_string_equal(out.ending, "Runtime.OutOfMemory");
    assert_string_equal(out.oom_forms, "error-type, killed-at-limit");
    assert_string_equal(out.verdict, lw_verdict_name(LW_VERDICT_LEAK));
    assert_string_equal(out.status, "error");
    assert_string_equal(out.error_type, "Runtime.OutOfMemory");
    assert_string_equal(out.reason, "failure");
    assert_int_equal(out.start_time_ms, 1799999000000u);
    assert_int_equal(out.end_time_ms, 1799999950000u);
    assert_true(out.have_lifetime && out.lifetime_seconds == 950);
    assert_true(out.have_invocations && out.invocations == 41);
    ASSERT_FIGURE(&out, LW_D_OOM_DEATHS, 1);
    ASSERT_FIGURE(&out, LW_D_OOM_PREDICTED, 1);
    ASSERT_FIGURE(&out, LW_D_PREDICTED, 1);
    ASSERT_FIGURE(&out, LW_D_LEAD_INVOCATIONS, 12);
    ASSERT_FIGURE(&out, LW_D_LEAD_MINUTES, 2.5);
    ASSERT_FIGURE(&out, LW_D_LEAD_SECONDS, 150);
    ASSERT_FIGURE(&out, LW_D_PROJECTED_SEQ, 44.0); /* to a tenth */
    ASSERT_FIGURE(&out, LW_D_LAST_PROJECTED_SEQ, 41.2);
    ASSERT_FIGURE(&out, LW_D_ACTUAL_SEQ, 41);
    ASSERT_FIGURE(&out, LW_D_ERROR_PERCENT, 7.4);
    ASSERT_FIGURE(&out, LW_D_LAST_FN_RSS, 120000000);
    ASSERT_FIGURE(&out, LW_D_LAST_ENV_RSS, 125000000);
    ASSERT_FIGURE(&out, LW_D_PEAK_ENV_RSS, 130000000);
    ASSERT_FIGURE(&out, LW_D_MEM_LIMIT, 134217728);
    ASSERT_FIGURE(&out, LW_D_LAST_REPORT_SEQ, 41);
    ASSERT_FIGURE(&out, LW_D_LAST_MAX_USED_MB, 128);
    ASSERT_FIGURE(&out, LW_D_INTERVALS, 0);
    ASSERT_FIGURE(&out, LW_D_RESTORED, 0);
    /* every figure the report knows was written */
    assert_int_equal(out.have_mask, (UINT64_C(1) << LW_D_COUNT) - 1);

    /* a timeout in an environment of intervals, never projected */
    dead.intervals = true;
    dead.ended = false;
    struct lw_death t = {.cause = LW_DEATH_TIMEOUT, .invocations = 7, .age_seconds = 30};
    encode_and_parse(&dead, &t, &out);
    assert_string_equal(out.ending, "timeout");
    assert_string_equal(out.oom_forms, "");
    assert_string_equal(out.reason, "");               /* no SHUTDOWN reached it */
    assert_int_equal(out.end_time_ms, 1799999900000u); /* its last boundary */
    ASSERT_FIGURE(&out, LW_D_OOM_DEATHS, 0);
    ASSERT_FIGURE(&out, LW_D_INTERVALS, 1);
    double v;
    static const enum lw_report_death_figure absent[] = {
        LW_D_OOM_PREDICTED, LW_D_PREDICTED,  LW_D_LEAD_INVOCATIONS, LW_D_LEAD_MINUTES,
        LW_D_LEAD_SECONDS,  LW_D_ACTUAL_SEQ, LW_D_PROJECTED_SEQ,    LW_D_ERROR_PERCENT};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_false(figure(&out, absent[i], &v));
}

/*
 * An interval record (Managed Instances, story.log): no request id, its start from
 * IntervalStartTimeMs, the requests it served, the culprit with its pid; the alert of such an
 * environment has its growth per hour only.
 */
static void test_parse_interval(void **state)
{
    (void)state;
    char *line = nth_line_with(FIXTURE("story.log"), "\"LeakwatchRecord\":\"interval\"", 40);
    struct lw_report_line out;
    enum lw_report_skip why;
    assert_int_equal(lw_report_parse_line(line, strlen(line), &out, &why), LW_OK);
    assert_int_equal(out.kind, LW_REPORT_INTERVAL);
    assert_int_equal(out.seq, 40);
    assert_string_equal(out.request_id, "");
    assert_int_equal(out.start_time_ms, 1796421223679u);
    assert_int_equal(out.end_time_ms, 1796421224181u);
    assert_string_equal(out.culprit, "python3");
    assert_int_equal(out.culprit_pid, 19760);
    assert_string_equal(out.verdict, "leak-critical");
    assert_true(out.value[LW_M_REQUESTS] == 64);
    assert_true(out.value[LW_M_REQUEST_DURATION_MAX] == 38.977);
    assert_true(out.have_mask & (UINT64_C(1) << LW_M_GROWTH_PER_HOUR));
    assert_false(out.have_mask & (UINT64_C(1) << LW_M_GROWTH_PER_INVOCATION));
    free(line);

    line = nth_line_with(FIXTURE("story.log"), "\"LeakwatchAlert\"", 2);
    assert_int_equal(lw_report_parse_line(line, strlen(line), &out, &why), LW_OK);
    assert_int_equal(out.kind, LW_REPORT_ALERT);
    assert_string_equal(out.function_name, "orders-worker");
    assert_int_equal(out.culprit_pid, 19760);
    assert_true(out.value[LW_M_GROWTH_PER_HOUR] == 29229316770.0);
    assert_false(out.have_mask & (UINT64_C(1) << LW_M_GROWTH_PER_INVOCATION));
    free(line);

    /* a pid is a positive 32-bit number, and only a culprit has one */
    static const char *const bad_pids[] = {
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":1,"
        "\"Culprit\":\"x\",\"CulpritPid\":0}",
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":1,"
        "\"Culprit\":\"x\",\"CulpritPid\":4294967296}",
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":1,"
        "\"Culprit\":\"x\",\"CulpritPid\":-5}",
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":1,"
        "\"CulpritPid\":12}",
    };
    for (size_t i = 0; i < sizeof(bad_pids) / sizeof(bad_pids[0]); i++) {
        assert_int_equal(lw_report_parse_line(bad_pids[i], strlen(bad_pids[i]), &out, &why), LW_OK);
        assert_int_equal(out.culprit_pid, 0);
    }
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
    /* interval records need their Sequence; a death needs the environment it tells about */
    {"{\"LeakwatchRecord\":\"interval\",\"EnvironmentId\":\"e1\",\"Sequence\":3}", LW_OK,
     LW_REPORT_SKIP_NONE, LW_REPORT_INTERVAL},
    {"{\"LeakwatchRecord\":\"interval\",\"EnvironmentId\":\"e1\"}", LW_ERR_INVALID,
     LW_REPORT_SKIP_INVALID, 0},
    {"{\"LeakwatchRecord\":\"death\",\"EnvironmentId\":\"e2\",\"DeadEnvironmentId\":\"e1\"}", LW_OK,
     LW_REPORT_SKIP_NONE, LW_REPORT_DEATH},
    {"{\"LeakwatchRecord\":\"death\",\"DeadEnvironmentId\":\"e1\"}", LW_OK, LW_REPORT_SKIP_NONE,
     LW_REPORT_DEATH},
    {"{\"LeakwatchRecord\":\"death\",\"EnvironmentId\":\"e2\"}", LW_ERR_INVALID,
     LW_REPORT_SKIP_INVALID, 0},
    {"{\"LeakwatchRecord\":\"death\",\"EnvironmentId\":\"e2\",\"DeadEnvironmentId\":7}",
     LW_ERR_INVALID, LW_REPORT_SKIP_INVALID, 0},
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
        cmocka_unit_test(test_parse_fields),         cmocka_unit_test(test_parse_death),
        cmocka_unit_test(test_parse_alert_site),     cmocka_unit_test(test_parse_death_round_trip),
        cmocka_unit_test(test_parse_interval),       cmocka_unit_test(test_parse_line_kinds),
        cmocka_unit_test(test_parse_every_prefix),   cmocka_unit_test(test_parse_corruptions),
        cmocka_unit_test(test_parse_truncates_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
