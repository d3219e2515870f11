/*
 * `leakwatch report`: parsing of every kind of line a real log holds and of the export formats,
 * grouping, ordering and deduplication, the filters, and the exact text and CSV output. The
 * chart and the HTML page are checked in test_report_chart.c.
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

#include "test_report_load.h"

#define FIXTURE(name) LW_FIXTURES_DIR "/report/" name

/* ---------------------------------------------------------------------------------------- */
/* utilities                                                                                 */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* A stream holding text (tmpfile: fmemopen cannot hold an empty buffer everywhere). */
static FILE *text_stream(const char *text, size_t len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    rewind(f);
    return f;
}

static struct lw_report *load_text(const char *text)
{
    struct lw_report *r = lw_report_new();
    assert_non_null(r);
    FILE *f = text_stream(text, strlen(text));
    assert_int_equal(lw_report_read(r, f), LW_OK);
    fclose(f);
    assert_int_equal(lw_report_finish(r), LW_OK);
    return r;
}

struct membuf {
    char *data;
    size_t len;
    FILE *f;
};

static void mem_open(struct membuf *m)
{
    m->data = NULL;
    m->len = 0;
    m->f = open_memstream(&m->data, &m->len);
    assert_non_null(m->f);
}

static void mem_close(struct membuf *m)
{
    assert_int_equal(fclose(m->f), 0);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* One real invocation line of small.log (the n-th, 1-based), without its newline. */
static char *nth_line_with(const char *path, const char *needle, int n)
{
    char *all = read_file(path, NULL);
    char *line = NULL;
    int seen = 0;
    for (char *p = all; p && *p;) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (memmem(p, l, needle, strlen(needle)) && ++seen == n) {
            line = strndup(p, l);
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(all);
    assert_non_null(line);
    return line;
}

/* ---------------------------------------------------------------------------------------- */
/* every fixture: what it holds                                                              */

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
        assert_int_equal(s.duplicates_differ, 0);
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

/* ---------------------------------------------------------------------------------------- */
/* single lines                                                                              */

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

/* ---------------------------------------------------------------------------------------- */
/* ordering and deduplication                                                                */

static void test_duplicates_and_order(void **state)
{
    (void)state;
    const char *text =
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":3,"
        "\"RequestId\":\"r3\",\"StartTimeMs\":3000,\"FunctionName\":\"old-name\"}\n"
        "START RequestId: r1\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":1,"
        "\"RequestId\":\"r1\",\"StartTimeMs\":1000,\"FunctionName\":\"fn\"}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"a\",\"Sequence\":1,"
        "\"RequestId\":\"q1\",\"StartTimeMs\":500,\"FunctionName\":\"fn\"}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"RequestId\":\"r2\",\"StartTimeMs\":2000,\"FunctionName\":\"fn\"}\n"
        /* at-least-once: the same line again, and a repeat that says something else */
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":3,"
        "\"RequestId\":\"r3\",\"StartTimeMs\":3000,\"FunctionName\":\"old-name\"}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"RequestId\":\"other\",\"StartTimeMs\":2000,\"FunctionName\":\"fn\"}\n"
        "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"b\",\"Sequence\":3,"
        "\"From\":\"steady\",\"To\":\"leak\"}\n"
        "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"From\":\"learning\",\"To\":\"steady\"}\n"
        "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"b\",\"Sequence\":3,"
        "\"From\":\"steady\",\"To\":\"leak\"}\n"
        "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"b\",\"ShutdownReason\":\"spindown\"}"
        "\n"
        "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"b\",\"ShutdownReason\":\"spindown\"}"
        "\n"
        /* an environment known only from its shutdown line */
        "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"c\",\"ShutdownReason\":\"timeout\","
        "\"_aws\":{\"Timestamp\":9000}}";
    struct lw_report *r = load_text(text);
    struct lw_report_stats s;
    lw_report_stats(r, &s);
    assert_int_equal(s.lines, 13);
    assert_int_equal(s.invocations, 6);
    assert_int_equal(s.duplicates, 4); /* one invocation, one alert, one shutdown, one differing */
    assert_int_equal(s.duplicates_differ, 1);

    assert_int_equal(lw_report_env_count(r), 3);
    /* environments by their earliest time: a (500), b (1000), c (9000) */
    const struct lw_report_env *a = lw_report_env_at(r, 0);
    const struct lw_report_env *b = lw_report_env_at(r, 1);
    const struct lw_report_env *c = lw_report_env_at(r, 2);
    assert_string_equal(a->env_id, "a");
    assert_string_equal(b->env_id, "b");
    assert_string_equal(c->env_id, "c");
    assert_null(lw_report_env_at(r, 3));

    assert_int_equal(b->n_invocations, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(b->invocations[i].seq, i + 1);
    /* the first line read wins */
    assert_string_equal(b->invocations[1].request_id, "r2");
    /* the name is the latest invocation's */
    assert_string_equal(b->function_name, "old-name");
    assert_int_equal(b->n_alerts, 2);
    assert_int_equal(b->alerts[0].seq, 2);
    assert_int_equal(b->alerts[1].seq, 3);
    assert_non_null(b->shutdown);
    assert_null(a->shutdown);
    assert_int_equal(c->n_invocations, 0);
    assert_null(c->invocations);
    assert_string_equal(c->shutdown->reason, "timeout");

    /* more lines after finish, finish again */
    const char *more = "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"a\","
                       "\"Sequence\":2}";
    assert_int_equal(lw_report_add_line(r, more, strlen(more)), LW_OK);
    assert_int_equal(lw_report_finish(r), LW_OK);
    assert_int_equal(lw_report_env_at(r, 0)->n_invocations, 2);
    lw_report_free(r);
}

/* A log with shutdown lines only: no invocation was ever stored (found by fuzzing: finish
 * took the address of the first element of an empty array, undefined behaviour that the
 * sanitizer build reports). */
static void test_shutdown_only(void **state)
{
    (void)state;
    struct lw_report *r =
        load_text("{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"c\","
                  "\"ShutdownReason\":\"timeout\",\"_aws\":{\"Timestamp\":9000}}\n");
    assert_int_equal(lw_report_env_count(r), 1);
    const struct lw_report_env *c = lw_report_env_at(r, 0);
    assert_int_equal(c->n_invocations, 0);
    assert_null(c->invocations);
    assert_int_equal(c->n_alerts, 0);
    assert_non_null(c->shutdown);
    assert_string_equal(c->shutdown->reason, "timeout");
    lw_report_free(r);
}

/* ---------------------------------------------------------------------------------------- */
/* input edges                                                                               */

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

/* ---------------------------------------------------------------------------------------- */
/* outputs                                                                                   */

static void check_golden(const char *log, const struct lw_report_options *opt, bool csv,
                         const char *expected_path)
{
    struct lw_report *r = load(log);
    struct membuf m;
    mem_open(&m);
    if (csv)
        assert_int_equal(lw_report_write_csv(r, opt, m.f), LW_OK);
    else
        assert_int_equal(lw_report_write_text(r, opt, m.f), LW_OK);
    mem_close(&m);
    char *expected = read_file(expected_path, NULL);
    if (strcmp(m.data, expected) != 0) {
        print_message("---- got\n%s---- expected (%s)\n%s", m.data, expected_path, expected);
        fail();
    }
    free(expected);
    free(m.data);
    lw_report_free(r);
}

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
    /* the learning rows have no growth-per-invocation figure: empty cells, not 0; nor the
     * figures of interval records (Managed Instances) */
    assert_non_null(strstr(m.data, ",19.91,20,19.5,41.27,24,,,,,0,,,,,,,\r\n"));
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

/*
 * A small well-formedness check: every tag closes in order, attributes are quoted, '&' only
 * starts an entity, and nothing follows the root element. Returns the number of elements named
 * `count_name`, or -1 when the document is not well formed.
 */
static int xml_check(const char *doc, const char *count_name)
{
    const char *stack[64];
    size_t stack_len[64];
    int depth = 0, n = 0;
    bool root_closed = false;
    const char *p = doc;
    if (strncmp(p, "<?xml ", 6) == 0) {
        p = strstr(p, "?>");
        if (!p)
            return -1;
        p += 2;
    }
    while (*p) {
        if (*p == '&') {
            if (strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) &&
                strncmp(p, "&quot;", 6) && strncmp(p, "&apos;", 6))
                return -1;
            p++;
            continue;
        }
        if (*p == '>')
            return -1;
        if (*p != '<') {
            if (root_closed && *p != '\n' && *p != ' ')
                return -1;
            p++;
            continue;
        }
        if (root_closed)
            return -1;
        bool closing = p[1] == '/';
        const char *name = p + (closing ? 2 : 1);
        size_t len = strcspn(name, " />\n");
        if (len == 0)
            return -1;
        /* scan to the end of the tag, honouring quoted attribute values */
        const char *q = name + len;
        char quote = 0;
        while (*q && (quote || *q != '>')) {
            if (*q == '<' && !quote)
                return -1;
            if (quote && *q == quote)
                quote = 0;
            else if (!quote && (*q == '"' || *q == '\''))
                quote = *q;
            q++;
        }
        if (!*q)
            return -1;
        bool self_closing = q[-1] == '/';
        if (closing) {
            if (depth == 0 || stack_len[depth - 1] != len ||
                strncmp(stack[depth - 1], name, len) != 0)
                return -1;
            depth--;
            if (depth == 0)
                root_closed = true;
        } else {
            if (strlen(count_name) == len && strncmp(name, count_name, len) == 0)
                n++;
            if (!self_closing) {
                if (depth == 64)
                    return -1;
                stack[depth] = name;
                stack_len[depth++] = len;
            } else if (depth == 0) {
                root_closed = true;
            }
        }
        p = q + 1;
    }
    return depth == 0 && root_closed ? n : -1;
}

static void test_xml_checker(void **state)
{
    (void)state;
    /* the checker itself must be able to say no */
    assert_int_equal(xml_check("<a><b/></a>", "b"), 1);
    assert_int_equal(xml_check("<a><b></a>", "b"), -1);
    assert_int_equal(xml_check("<a></b>", "b"), -1);
    assert_int_equal(xml_check("<a>x & y</a>", "b"), -1);
    assert_int_equal(xml_check("<a t=\"1>2\"></a>", "b"), 0);
    assert_int_equal(xml_check("<a></a><a></a>", "a"), -1);
    assert_int_equal(xml_check("<a>", "a"), -1);
}

static void test_svg(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("aws-logs-tail.log"));
    struct membuf m;
    mem_open(&m);
    assert_int_equal(lw_report_write_svg(r, NULL, m.f), LW_OK);
    mem_close(&m);
    /* two environments, four series each (the content is checked in test_report_chart.c) */
    assert_int_equal(xml_check(m.data, "polyline"), 8);
    assert_int_equal(xml_check(m.data, "svg"), 1);
    assert_non_null(strstr(m.data, "height=\"1000\""));
    assert_int_equal(count(m.data, "class=\"limit\""), 2);
    /* verdict changes: learning->steady in both, steady->leak in the second */
    assert_int_equal(count(m.data, "class=\"verdict-change\""), 3);
    free(m.data);

    /* one environment, the last 10 invocations: 10 points per series */
    struct lw_report_options opt = {.env_id = "5b7e", .last = 10};
    mem_open(&m);
    assert_int_equal(lw_report_write_svg(r, &opt, m.f), LW_OK);
    mem_close(&m);
    assert_int_equal(xml_check(m.data, "polyline"), 4);
    const char *pts = strstr(m.data, "points=\"");
    assert_non_null(pts);
    size_t commas = 0;
    for (const char *q = pts + 8; *q != '"'; q++)
        commas += *q == ',';
    assert_int_equal(commas, 10);
    assert_int_equal(count(m.data, "class=\"verdict-change\""), 0);
    free(m.data);
    lw_report_free(r);

    /* hostile names are escaped; a missing figure is skipped, not drawn as 0 */
    r = load_text("{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"<&>\",\"Sequence\":1,"
                  "\"FunctionName\":\"a\\\"b'</svg>\",\"FunctionRssEndBytes\":1048576}\n"
                  "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"<&>\",\"Sequence\":2,"
                  "\"FunctionRssEndBytes\":2097152,\"EnvironmentRssBytes\":4194304}\n");
    mem_open(&m);
    assert_int_equal(lw_report_write_svg(r, NULL, m.f), LW_OK);
    mem_close(&m);
    assert_int_equal(xml_check(m.data, "polyline"), 2);
    assert_non_null(strstr(m.data, "&lt;&amp;&gt;"));
    free(m.data);
    lw_report_free(r);
}

/* ---------------------------------------------------------------------------------------- */
/* the command                                                                               */

struct run_result {
    int status;
    char *out;
    char *err;
};

static struct run_result run(const char *stdin_text, int argc, const char **argv)
{
    struct membuf out, err;
    mem_open(&out);
    mem_open(&err);
    const char *in_text = stdin_text ? stdin_text : "";
    FILE *in = text_stream(in_text, strlen(in_text));
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    assert_non_null(args);
    for (int i = 0; i < argc; i++)
        args[i] = strdup(argv[i]);
    struct run_result res;
    /* a fixed clock (2026-01-05T12:00:00Z) and a UTF-8 terminal: the output must not depend
     * on when or where the test runs */
    struct lw_report_context ctx = {
        .in = in, .out = out.f, .err = err.f, .now_ms = 1767614400000u, .utf8 = true};
    res.status = lw_report_command(&ctx, argc, args);
    for (int i = 0; i < argc; i++)
        free(args[i]);
    free(args);
    fclose(in);
    mem_close(&out);
    mem_close(&err);
    res.out = out.data;
    res.err = err.data;
    return res;
}

static void run_free(struct run_result *r)
{
    free(r->out);
    free(r->err);
}

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
    assert_non_null(
        strstr(res.out, "\r\n5b7e2d94-61fc-4a08-b3d2-9c41e07f8a66,orders-api,$LATEST,58,"));
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
    assert_int_equal(xml_check(chart, "polyline"), 4);
    free(chart);
    unlink(svg_path);
    const char *svg_out[] = {"report", "--svg=-", "-"};
    res = run(small, 3, svg_out);
    assert_int_equal(res.status, 0);
    assert_int_equal(xml_check(res.out, "polyline"), 4);
    run_free(&res);
    free(small);
}

/* ---------------------------------------------------------------------------------------- */
/* export formats                                                                            */

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

/* ---------------------------------------------------------------------------------------- */
/* filters, times, sparklines                                                                */

struct time_case {
    const char *text;
    enum lw_err err;
    uint64_t ms;
};

static void test_parse_time(void **state)
{
    (void)state;
    const uint64_t now = 1767614400000u; /* 2026-01-05T12:00:00Z */
    static const struct time_case cases[] = {
        /* an absolute time: the lenient ISO 8601 of timefmt (its cases: test_timefmt) */
        {"2026-01-05T10:00:10Z", LW_OK, 1767607210000u},
        {"2026-01-05 10:00", LW_OK, 1767607200000u},
        {"2026-01-05", LW_OK, 1767571200000u},
        {"30m", LW_OK, 1767612600000u},
        {"90s", LW_OK, 1767614310000u},
        {"2d", LW_OK, 1767441600000u},
        {"0h", LW_OK, 1767614400000u},
        {"2026-01-05T10:00:10+02:00", LW_ERR_INVALID, 0},
        {"2026-01-05T10", LW_ERR_INVALID, 0},
        {"1x", LW_ERR_INVALID, 0},
        {"m", LW_ERR_INVALID, 0},
        {"-1h", LW_ERR_INVALID, 0},
        {"1.5h", LW_ERR_INVALID, 0},
        {"99999999999999999999d", LW_ERR_INVALID, 0},
        {"1000000000d", LW_ERR_INVALID, 0}, /* before the epoch */
        {"", LW_ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ms = 12345;
        print_message("%s\n", cases[i].text);
        assert_int_equal(lw_report_parse_time(cases[i].text, now, &ms), cases[i].err);
        if (cases[i].err == LW_OK)
            assert_int_equal(ms, cases[i].ms);
    }
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

static void test_filters(void **state)
{
    (void)state;
    struct run_result res;

    /* two functions: --function keeps one */
    const char *fn[] = {"report", "--function", "leak-demo", FIXTURE("aws-logs-tail.log"),
                        FIXTURE("small.log")};
    res = run(NULL, 5, fn);
    assert_int_equal(res.status, 0);
    assert_int_equal(count(res.out, "== function "), 1);
    assert_non_null(strstr(res.out, "== function leak-demo"));
    run_free(&res);
    const char *fn2[] = {"report", "--function=orders-api", FIXTURE("aws-logs-tail.log"),
                         FIXTURE("small.log")};
    res = run(NULL, 4, fn2);
    assert_int_equal(res.status, 0);
    assert_int_equal(count(res.out, "== function orders-api"), 2);
    run_free(&res);
    const char *fn3[] = {"report", "--function", "leak", FIXTURE("small.log")};
    res = run(NULL, 4, fn3);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "no environment matches --function, --env, --since and "
                                    "--until (of 1)"));
    run_free(&res);

    /* an absolute range: seq 3 starts at 10:00:10.660, seq 5 at 10:00:20.913 */
    const char *range[] = {"report", "--since", "2026-01-05T10:00:10Z",
                           "--until=2026-01-05T10:00:20.913Z", FIXTURE("small.log")};
    res = run(NULL, 5, range);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "invocations   7 (seq 1 to 7), 3 shown (seq 3 to 5)\n"));
    /* the alerts of the invocations shown only: seq 5's, not seq 6's */
    assert_non_null(strstr(res.out, "  seq 5: learning -> steady"));
    assert_null(strstr(res.out, "  seq 6: "));
    /* the verdict as of the last invocation shown */
    assert_non_null(strstr(res.out, "verdict       steady"));
    run_free(&res);

    /* relative to the clock passed in (12:00): 2h covers everything, 1h nothing */
    const char *rel[] = {"report", "--since", "2h", FIXTURE("small.log")};
    res = run(NULL, 4, rel);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "invocations   7 (seq 1 to 7)\n"));
    run_free(&res);
    rel[2] = "1h";
    res = run(NULL, 4, rel);
    assert_int_equal(res.status, 1);
    run_free(&res);

    /* a range and --last: the last 2 of the range */
    const char *both[] = {"report", "--until", "2026-01-05T10:00:20Z", "--last",
                          "2",      "--csv",   FIXTURE("small.log")};
    res = run(NULL, 7, both);
    assert_int_equal(res.status, 0);
    assert_int_equal(count(res.out, "\r\n"), 3);
    assert_non_null(strstr(res.out, ",leak-demo,$LATEST,3,"));
    assert_non_null(strstr(res.out, ",leak-demo,$LATEST,4,"));
    run_free(&res);

    /* --since after --until */
    const char *inverted[] = {"report", "--since", "10m", "--until", "1h", FIXTURE("small.log")};
    res = run(NULL, 6, inverted);
    assert_int_equal(res.status, 2);
    run_free(&res);

    /* --ascii */
    const char *ascii[] = {"report", "--ascii", FIXTURE("small.log")};
    res = run(NULL, 3, ascii);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "memory        _.,=+*#  function RSS at the end of each "
                                    "invocation, 14.6 to 15.0 MiB\n"));
    run_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_parse_line_kinds),
        cmocka_unit_test(test_parse_every_prefix),
        cmocka_unit_test(test_parse_corruptions),
        cmocka_unit_test(test_parse_truncates_utf8),
        cmocka_unit_test(test_duplicates_and_order),
        cmocka_unit_test(test_shutdown_only),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_long_line_and_nul),
        cmocka_unit_test(test_text_golden),
        cmocka_unit_test(test_text_columns_aligned),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_xml_checker),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_exports_same_report),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_csv_records),
        cmocka_unit_test(test_compact_documents),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_sparkline),
        cmocka_unit_test(test_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
