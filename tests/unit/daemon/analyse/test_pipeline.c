/* The pipeline: records from the main thread and telemetry from the listener's thread meet in
 * the ledger; the emitter thread writes one EMF line per record, in order, exactly once, and the
 * shutdown line last. Lines are read back from a pipe standing in for stdout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <leakwatch/config.h>
#include <leakwatch/json_arena.h>
#include <leakwatch/pipeline.h>
#include <leakwatch/state.h>

#include "test_records.h"

#define N_RECORDS 12
#define T0 1767607200000ull

static const char *env_lookup(void *ctx, const char *name)
{
    const char *const *kv = ctx;
    for (size_t i = 0; kv[i] != NULL; i += 2)
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void request_id(char *out, size_t cap, unsigned seq)
{
    snprintf(out, cap, "00000000-0000-4000-8000-%012u", seq);
}

/* Record seq: the runtime leaks 1 MiB per invocation. With helper_gone, a helper child of the
 * runtime is read at the start and has exited by the end: the end reading is partial. */
static void make_record_with(struct lw_record *r, unsigned seq, bool helper_gone)
{
    static struct lw_snapshot s, e;
    memset(&s, 0, sizeof(s));
    memset(&e, 0, sizeof(e));
    s.time_ms = T0 + seq * 1000u;
    e.time_ms = s.time_ms + 100;
    uint64_t anon = (40 + seq) * MIB;
    snap_add(&s, 7, 100, LW_ROLE_RUNTIME, "bootstrap", anon + 10 * MIB, anon, anon, true);
    snap_add(&s, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, MIB, 3 * MIB, true);
    if (helper_gone)
        snap_add(&s, 11, 120, LW_ROLE_RUNTIME_CHILD, "helper", 20 * MIB, 18 * MIB, 20 * MIB, true);
    snap_add(&e, 7, 100, LW_ROLE_RUNTIME, "bootstrap", anon + 11 * MIB, anon + MIB, anon + 2 * MIB,
             false);
    snap_add(&e, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, MIB, 3 * MIB, false);
    char id[LW_REQUEST_ID_MAX];
    request_id(id, sizeof(id), seq);
    lw_record_open(r, &s, id, "env-test", seq, seq == 1, s.time_ms + 3000, 512 * MIB);
    lw_record_close(r, &e, LW_PEAK_HWM, NULL);
}

static void make_record(struct lw_record *r, unsigned seq)
{
    make_record_with(r, seq, false);
}

/* The Telemetry API batch of one invocation: start, runtimeDone and report. */
static size_t make_batch(char *buf, size_t cap, unsigned seq)
{
    char id[LW_REQUEST_ID_MAX];
    request_id(id, sizeof(id), seq);
    int n = snprintf(
        buf, cap,
        "[{\"time\":\"2026-01-05T10:00:00.000Z\",\"type\":\"platform.start\",\"record\":"
        "{\"requestId\":\"%s\",\"version\":\"$LATEST\"}},"
        "{\"time\":\"2026-01-05T10:00:00.050Z\",\"type\":\"platform.runtimeDone\",\"record\":"
        "{\"requestId\":\"%s\",\"status\":\"success\",\"metrics\":{\"durationMs\":50.0}}},"
        "{\"time\":\"2026-01-05T10:00:01.000Z\",\"type\":\"platform.report\",\"record\":"
        "{\"requestId\":\"%s\",\"status\":\"success\",\"metrics\":{\"durationMs\":51.5,"
        "\"billedDurationMs\":52,\"memorySizeMB\":512,\"maxMemoryUsedMB\":%u}}}]",
        id, id, id, 60 + seq);
    return (size_t)n;
}

struct sender {
    struct lw_pipeline *p;
    unsigned first, last;
};

/* The listener's thread: batches arrive while the main thread adds records. */
static void *send_batches(void *arg)
{
    struct sender *s = arg;
    char body[2048];
    for (unsigned seq = s->first; seq <= s->last; seq++) {
        size_t len = make_batch(body, sizeof(body), seq);
        lw_pipeline_add_telemetry(s->p, body, len);
    }
    return NULL;
}

struct out {
    int fds[2];
    char text[1 << 20];
    size_t len;
};

static struct out out;

static void out_open(void)
{
    assert_int_equal(pipe(out.fds), 0);
    /* the reader keeps up while the pipeline writes: make the pipe large enough for all */
    fcntl(out.fds[1], F_SETPIPE_SZ, 1 << 20);
    out.len = 0;
}

static void out_drain(void)
{
    close(out.fds[1]);
    ssize_t n;
    while ((n = read(out.fds[0], out.text + out.len, sizeof(out.text) - 1 - out.len)) > 0)
        out.len += (size_t)n;
    out.text[out.len] = '\0';
    close(out.fds[0]);
}

/* Every line parsed; returns how many. */
static size_t parse_lines(cJSON **docs, size_t cap)
{
    size_t n = 0;
    char *line = out.text;
    while (*line != '\0' && n < cap) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl); /* every line is whole */
        *nl = '\0';
        docs[n] = cJSON_Parse(line);
        assert_non_null(docs[n]);
        n++;
        line = nl + 1;
    }
    return n;
}

static const char *str(const cJSON *doc, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static double num(const cJSON *doc, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, key);
    return cJSON_IsNumber(it) ? it->valuedouble : -1;
}

static struct lw_config cfg;

/* A pipeline of function `function`; with a tmpdir it keeps its state file there, without one
 * none (the tests in one process would otherwise tell each other's deaths). */
/* AWS_LAMBDA_INITIALIZATION_TYPE for the next start_in; NULL: not set. */
static const char *init_type = "on-demand";

static struct lw_pipeline *start_in(bool telemetry, struct lw_health *health, const char *function,
                                    const char *tmpdir)
{
    const char *env[] = {"AWS_LAMBDA_FUNCTION_NAME",
                         function,
                         "LEAKWATCH_EXPORT",
                         "emf",
                         "LEAKWATCH_STATE_FILE",
                         tmpdir != NULL ? "true" : "false",
                         "AWS_LAMBDA_INITIALIZATION_TYPE",
                         init_type,
                         "TMPDIR",
                         tmpdir,
                         NULL};
    lw_config_load(&cfg, env_lookup, env);
    struct lw_pipeline_config pc = {
        .config = &cfg,
        .telemetry_expected = telemetry,
        .exporter = NULL,
        .out_fd = out.fds[1],
        .env_id = "env-test",
        .process_start_ms = T0,
    };
    struct lw_pipeline *p = lw_pipeline_new(&pc, health);
    assert_non_null(p);
    return p;
}

static struct lw_pipeline *start(bool telemetry, struct lw_health *health)
{
    return start_in(telemetry, health, "orders", NULL);
}

/* A pipeline of "orders" with fresh health counters, writing to a new pipe. */
static struct lw_health fresh_health; /* start_fresh's: still there after finish */

static struct lw_pipeline *start_fresh(bool telemetry)
{
    memset(&fresh_health, 0, sizeof(fresh_health));
    out_open();
    return start(telemetry, &fresh_health);
}

/* SHUTDOWN (reason as its category) with budget_ms to flush, then every line written, parsed. */
static size_t finish(struct lw_pipeline *p, const char *reason, uint64_t invocations,
                     uint64_t budget_ms, cJSON **docs, size_t cap)
{
    uint64_t t0 = now_ms();
    lw_pipeline_shutdown(p, reason, reason, invocations, t0, t0 + budget_ms);
    lw_pipeline_free(p);
    out_drain();
    return parse_lines(docs, cap);
}

static void test_records_and_telemetry_from_two_threads(void **state)
{
    (void)state;
    static struct lw_health health;
    memset(&health, 0, sizeof(health));
    out_open();
    struct lw_pipeline *p = start(true, &health);
    /* Telemetry for the first half arrives before its records, the rest concurrently. */
    struct sender early = {p, 1, N_RECORDS / 2};
    send_batches(&early);
    struct sender late = {p, N_RECORDS / 2 + 1, N_RECORDS};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, send_batches, &late), 0);
    static struct lw_record rec;
    for (unsigned seq = 1; seq <= N_RECORDS; seq++) {
        make_record(&rec, seq);
        lw_pipeline_add_record(p, &rec);
    }
    pthread_join(t, NULL);
    uint64_t t0 = now_ms();
    lw_pipeline_shutdown(p, "spindown", "spindown", N_RECORDS, t0, t0 + 2000);
    lw_pipeline_free(p);
    out_drain();

    static cJSON *docs[64];
    size_t n = parse_lines(docs, 64);
    assert_int_equal(n, N_RECORDS + 1);
    for (unsigned i = 0; i < N_RECORDS; i++) {
        assert_non_null(str(docs[i], "LeakwatchRecord"));
        assert_string_equal(str(docs[i], "LeakwatchRecord"), "invocation");
        assert_true(num(docs[i], "Sequence") == i + 1); /* in order, each once */
        assert_true(num(docs[i], "FunctionGrowthBytes") == (double)MIB);
        const cJSON *gaps = cJSON_GetObjectItemCaseSensitive(docs[i], "Incomplete");
        if (gaps != NULL) {
            /* The second half's telemetry races the records: a record whose report was still
             * missing two boundaries later goes out without it, and says so. */
            assert_true(i >= N_RECORDS / 2);
            assert_string_equal(cJSON_GetArrayItem(gaps, 0)->valuestring, "telemetry");
            assert_null(cJSON_GetObjectItemCaseSensitive(docs[i], "BilledDurationMilliseconds"));
            continue;
        }
        assert_non_null(str(docs[i], "Status"));
        assert_string_equal(str(docs[i], "Status"), "success");
        assert_true(num(docs[i], "BilledDurationMilliseconds") == 52);
        assert_true(num(docs[i], "LambdaMaxMemoryUsedMegabytes") == 61 + i);
    }
    assert_string_equal(str(docs[N_RECORDS], "LeakwatchRecord"), "shutdown");
    assert_true(num(docs[N_RECORDS], "EnvironmentInvocations") == N_RECORDS);
    /* the lines carry increases of the health counters: they add up to the total */
    double received = 0;
    for (size_t i = 0; i < n; i++)
        received += num(docs[i], "TelemetryEventsReceived");
    assert_true(received == 3 * N_RECORDS);
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(docs[i]);
}

/* Invocation seq's record, then its platform report. */
static void add_reported(struct lw_pipeline *p, unsigned seq)
{
    static struct lw_record rec;
    make_record(&rec, seq);
    lw_pipeline_add_record(p, &rec);
    char body[2048];
    size_t len = make_batch(body, sizeof(body), seq);
    lw_pipeline_add_telemetry(p, body, len);
}

/* What is in the pipe now, without waiting. */
static size_t read_now(char *buf, size_t cap)
{
    fcntl(out.fds[0], F_SETFL, O_NONBLOCK);
    ssize_t r = read(out.fds[0], buf, cap - 1);
    size_t got = r > 0 ? (size_t)r : 0;
    buf[got] = '\0';
    return got;
}

/* No thread of its own: a record goes out, line written, before the call that completed it
 * returns, whichever of the two halves completes it. */
static void test_the_thread_that_completes_a_record_emits_it(void **state)
{
    (void)state;
    static struct lw_health health;
    memset(&health, 0, sizeof(health));
    out_open();
    struct lw_pipeline *p = start(true, &health);
    static struct lw_record rec;
    static char buf[64 * 1024];
    char body[2048];
    /* the record first: it waits for its report, and goes out on the telemetry's call */
    make_record(&rec, 1);
    lw_pipeline_add_record(p, &rec);
    assert_int_equal(read_now(buf, sizeof(buf)), 0);
    lw_pipeline_add_telemetry(p, body, make_batch(body, sizeof(body), 1));
    assert_true(read_now(buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "\"Sequence\":1,"));
    assert_non_null(strstr(buf, "\"BilledDurationMilliseconds\":52"));
    /* the report first: the record goes out on the boundary's call */
    lw_pipeline_add_telemetry(p, body, make_batch(body, sizeof(body), 2));
    assert_int_equal(read_now(buf, sizeof(buf)), 0);
    make_record(&rec, 2);
    lw_pipeline_add_record(p, &rec);
    assert_true(read_now(buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "\"Sequence\":2,"));
    assert_null(strstr(buf, "\"Incomplete\""));
    fcntl(out.fds[0], F_SETFL, 0);
    uint64_t t0 = now_ms();
    lw_pipeline_shutdown(p, "spindown", "spindown", 2, t0, t0 + 1000);
    lw_pipeline_free(p);
    out_drain();
}

static void test_shutdown_emits_what_never_got_its_report(void **state)
{
    (void)state;
    struct lw_pipeline *p = start_fresh(true);
    static struct lw_record rec;
    /* only the first invocation's report ever arrives, in time */
    add_reported(p, 1);
    for (unsigned seq = 2; seq <= 3; seq++) {
        make_record(&rec, seq);
        lw_pipeline_add_record(p, &rec);
    }
    static cJSON *docs[16];
    size_t n = finish(p, "timeout", 3, 400, docs, 16);
    assert_int_equal(n, 4);
    assert_null(cJSON_GetObjectItemCaseSensitive(docs[0], "Incomplete"));
    for (size_t i = 1; i < 3; i++) {
        const cJSON *gaps = cJSON_GetObjectItemCaseSensitive(docs[i], "Incomplete");
        assert_non_null(gaps);
        assert_string_equal(cJSON_GetArrayItem(gaps, 0)->valuestring, "telemetry");
        assert_null(str(docs[i], "Status"));
    }
    assert_string_equal(str(docs[3], "ShutdownReason"), "timeout");
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(docs[i]);
}

/* RecordsIncomplete counts every record that goes out incomplete, once, whatever it lacks: a
 * partial end reading (a helper of the runtime exited during the invocation) counts though the
 * platform's report arrived; one that also lacks its report counts once, not twice. */
static void test_a_partial_end_reading_counts_as_incomplete_once(void **state)
{
    (void)state;
    struct lw_pipeline *p = start_fresh(true);
    static struct lw_record rec;
    char body[2048];
    /* 1: partial, its report arrives; 2: complete, its report arrives; 3: partial, no report */
    for (unsigned seq = 1; seq <= 3; seq++) {
        make_record_with(&rec, seq, seq != 2);
        assert_int_equal(rec.gaps != 0, seq != 2);
        lw_pipeline_add_record(p, &rec);
        if (seq == 3)
            break;
        size_t len = make_batch(body, sizeof(body), seq);
        lw_pipeline_add_telemetry(p, body, len);
    }
    static cJSON *docs[16];
    size_t n = finish(p, "spindown", 3, 400, docs, 16);
    assert_int_equal(n, 4);
    const char *want[3][2] = {
        {"partial-end-reading", NULL}, {NULL, NULL}, {"telemetry", "partial-end-reading"}};
    double counted = 0;
    for (size_t i = 0; i < n; i++) {
        counted += num(docs[i], "RecordsIncomplete") > 0 ? num(docs[i], "RecordsIncomplete") : 0;
        if (i == 3)
            break;
        const cJSON *gaps = cJSON_GetObjectItemCaseSensitive(docs[i], "Incomplete");
        assert_int_equal(cJSON_GetArraySize(gaps), (want[i][0] != NULL) + (want[i][1] != NULL));
        for (int k = 0; k < 2 && want[i][k] != NULL; k++) {
            bool found = false;
            const cJSON *g;
            cJSON_ArrayForEach(g, gaps) found |= strcmp(g->valuestring, want[i][k]) == 0;
            assert_true(found);
        }
    }
    /* the first record's line carries its own count */
    assert_true(num(docs[0], "RecordsIncomplete") == 1);
    assert_true(counted == 2);
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(docs[i]);
}

/* A fresh pipeline given batches[0..n), then one invocation and its report, then SHUTDOWN:
 * the lines written, parsed into docs. */
static size_t one_invocation_after(const char *const *batches, size_t n, cJSON **docs, size_t cap)
{
    struct lw_pipeline *p = start_fresh(true);
    for (size_t i = 0; i < n; i++)
        lw_pipeline_add_telemetry(p, batches[i], strlen(batches[i]));
    add_reported(p, 1);
    return finish(p, "spindown", 1, 400, docs, cap);
}

/*
 * initStart and restoreStart through the identity's filter (identity.h): a malformed instanceId,
 * a second initStart and a restoreStart where no restore can happen (not SnapStart) are counted
 * as rejected and rename nothing; the record is emitted under the first genuine initStart's id.
 */
static void test_only_a_plausible_start_names_the_environment(void **state)
{
    (void)state;
    static const char *const batches[] = {
        "[{\"type\":\"platform.initStart\",\"record\":{\"instanceId\":\"a\\u001b[2Jb\"}}]",
        "[{\"type\":\"platform.initStart\",\"record\":{\"instanceId\":42}}]",
        ("[{\"type\":\"platform.initStart\",\"record\":{\"instanceId\":\"2026/01/05/[$LATEST]"
         "real\"}}]"),
        "[{\"type\":\"platform.initStart\",\"record\":{\"instanceId\":\"forged\"}}]",
        "[{\"type\":\"platform.restoreStart\",\"record\":{\"instanceId\":\"forged\"}}]",
        "[{\"type\":\"platform.restoreStart\",\"record\":{}}]",
    };
    static cJSON *docs[4];
    size_t n = one_invocation_after(batches, sizeof(batches) / sizeof(batches[0]), docs, 4);
    assert_int_equal(n, 2);
    assert_string_equal(str(docs[0], "EnvironmentId"), "2026/01/05/[$LATEST]real");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(docs[0], "ColdStart")));
    assert_null(cJSON_GetObjectItemCaseSensitive(docs[0], "Restored"));
    assert_string_equal(str(docs[1], "EnvironmentId"), "2026/01/05/[$LATEST]real");
    assert_int_equal(fresh_health.c[LW_H_TELEMETRY_EVENTS_REJECTED], 5);
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(docs[i]);
}

/* Where the platform does not say which mode this is, a restore can happen: the first
 * restoreStart names the environment (and says it was restored), a second is refused. */
static void test_a_restore_where_the_mode_is_not_said(void **state)
{
    (void)state;
    static const char *const batches[] = {
        "[{\"type\":\"platform.initStart\",\"record\":{\"instanceId\":\"snapshot\"}}]",
        "[{\"type\":\"platform.restoreStart\",\"record\":{\"instanceId\":\"restored-1\"}}]",
        "[{\"type\":\"platform.restoreStart\",\"record\":{\"instanceId\":\"forged\"}}]",
    };
    init_type = NULL;
    static cJSON *docs[4];
    size_t n = one_invocation_after(batches, sizeof(batches) / sizeof(batches[0]), docs, 4);
    init_type = "on-demand";
    assert_int_equal(n, 2);
    assert_string_equal(str(docs[0], "EnvironmentId"), "restored-1");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(docs[0], "Restored")));
    assert_int_equal(fresh_health.c[LW_H_TELEMETRY_EVENTS_REJECTED], 1);
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(docs[i]);
}

static void test_without_telemetry_records_go_out_at_once(void **state)
{
    (void)state;
    static struct lw_health health;
    memset(&health, 0, sizeof(health));
    out_open();
    struct lw_pipeline *p = start(false, &health);
    static struct lw_record rec;
    make_record(&rec, 1);
    lw_pipeline_add_record(p, &rec);
    /* No shutdown yet: the line must appear by itself. Poll the pipe for it. */
    char buf[16384];
    size_t got = 0;
    for (int i = 0; i < 2000 && memchr(buf, '\n', got) == NULL; i++) {
        fcntl(out.fds[0], F_SETFL, O_NONBLOCK);
        ssize_t r = read(out.fds[0], buf + got, sizeof(buf) - got);
        if (r > 0)
            got += (size_t)r;
        else
            usleep(1000);
    }
    assert_non_null(memchr(buf, '\n', got));
    assert_non_null(strstr(buf, "\"Sequence\":1"));
    assert_null(strstr(buf, "\"Incomplete\""));
    uint64_t t0 = now_ms();
    lw_pipeline_shutdown(p, "spindown", "spindown", 1, t0, t0 + 1000);
    lw_pipeline_free(p);
    out_drain();
}

/* A pipe nobody reads, already full: every line the emitter writes waits for its whole budget. */
static void out_open_full(void)
{
    assert_int_equal(pipe(out.fds), 0);
    fcntl(out.fds[1], F_SETPIPE_SZ, 4096);
    fcntl(out.fds[1], F_SETFL, O_NONBLOCK);
    static const char junk[4096] = {0};
    while (write(out.fds[1], junk, sizeof(junk)) > 0)
        ;
    fcntl(out.fds[1], F_SETFL, 0);
    out.len = 0;
}

static void test_shutdown_returns_by_its_deadline_when_stdout_is_full(void **state)
{
    (void)state;
    static struct lw_health health;
    memset(&health, 0, sizeof(health));
    out_open_full();
    struct lw_pipeline *p = start(true, &health);
    static struct lw_record rec;
    for (unsigned seq = 1; seq <= 8; seq++) {
        make_record(&rec, seq);
        lw_pipeline_add_record(p, &rec);
    }
    /* No report ever comes and no line can be written: the shutdown uses its whole budget,
     * part of it waiting for reports, and must still return by the deadline it was given
     * (past it, Lambda kills the extension). 1 s budget; a scheduler's worth of slack. */
    uint64_t t0 = now_ms();
    uint64_t deadline = t0 + 1000;
    lw_pipeline_shutdown(p, "spindown", "spindown", 8, t0, deadline);
    uint64_t returned = now_ms();
    assert_true(returned <= deadline + 250);
    close(out.fds[0]); /* the emitter's last line fails at once, and free() can join it */
    lw_pipeline_free(p);
    close(out.fds[1]);
    assert_true(health.c[LW_H_EMF_DROPPED] >= 1);
}

/* Runs fn with stderr going to a pipe; returns what was written there. */
static size_t capture_stderr(void (*fn)(void), char *buf, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = read(fds[0], buf, cap - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static struct lw_health closed_health;

static void run_with_closed_stdout(void)
{
    memset(&closed_health, 0, sizeof(closed_health));
    assert_int_equal(pipe(out.fds), 0);
    close(out.fds[0]); /* nobody will ever read: every write fails with EPIPE */
    struct lw_pipeline *p = start(false, &closed_health);
    static struct lw_record rec;
    for (unsigned seq = 1; seq <= 5; seq++) {
        make_record(&rec, seq);
        lw_pipeline_add_record(p, &rec);
    }
    uint64_t t0 = now_ms();
    lw_pipeline_shutdown(p, "spindown", "spindown", 5, t0, t0 + 1000);
    lw_pipeline_free(p);
    close(out.fds[1]);
}

static void test_a_closed_stdout_is_said_once_and_counted(void **state)
{
    (void)state;
    static char err[65536];
    capture_stderr(run_with_closed_stdout, err, sizeof(err));
    assert_int_equal(closed_health.c[LW_H_EMF_DROPPED], 6); /* 5 records and the shutdown line */
    const char *first = strstr(err, "stdout");
    assert_non_null(first);
    assert_null(strstr(first + 1, "stdout")); /* once, not once per line */
    assert_non_null(strstr(err, "WARN"));
    assert_non_null(strstr(err, "EmfLinesDropped"));
}

/* One invocation's report with the given status and error type. */
static void send_report(struct lw_pipeline *p, unsigned seq, const char *status, const char *error,
                        unsigned max_used_mb)
{
    char id[LW_REQUEST_ID_MAX];
    request_id(id, sizeof(id), seq);
    char body[2048];
    int n = snprintf(body, sizeof(body),
                     "[{\"time\":\"2026-01-05T10:00:00.000Z\",\"type\":\"platform.start\","
                     "\"record\":{\"requestId\":\"%s\"}},"
                     "{\"time\":\"2026-01-05T10:00:01.000Z\",\"type\":\"platform.report\","
                     "\"record\":{\"requestId\":\"%s\",\"status\":\"%s\",\"errorType\":\"%s\","
                     "\"metrics\":{\"durationMs\":51.5,\"billedDurationMs\":52,"
                     "\"memorySizeMB\":512,\"maxMemoryUsedMB\":%u}}}]",
                     id, id, status, error, max_used_mb);
    lw_pipeline_add_telemetry(p, body, (size_t)n);
}

/* The first line a pipeline wrote, parsed (NULL when none). */
static cJSON *first_line(void)
{
    out_drain();
    cJSON *docs[64];
    size_t n = parse_lines(docs, 64);
    cJSON *first = n > 0 ? docs[0] : NULL;
    for (size_t i = 1; i < n; i++)
        cJSON_Delete(docs[i]);
    return first;
}

/* The state file as it stands, without taking it. */
static bool state_now(const char *path, struct lw_state *st)
{
    unsigned char file[LW_STATE_FILE_BYTES];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t n = pread(fd, file, sizeof(file), 0);
    close(fd);
    uint64_t generation = 0;
    const char *why = NULL;
    return n > 0 && lw_state_unframe(file, (size_t)n, &generation, st, &why) == LW_OK;
}

/* An environment of `function` in `dir` that starts and spins down: its first line. */
static cJSON *first_line_of_next(struct lw_health *health, const char *function, const char *dir)
{
    out_open();
    struct lw_pipeline *p = start_in(true, health, function, dir);
    uint64_t t0 = now_ms();
    lw_pipeline_shutdown(p, "spindown", "spindown", 0, t0, t0 + 1000);
    lw_pipeline_free(p);
    return first_line();
}

/*
 * An environment dies of out-of-memory in its third invocation; the next one in the same
 * sandbox (the same TMPDIR) begins with the death line. Then a clean spindown is told as such,
 * and the file of another function is not told at all.
 */
static void test_the_next_environment_tells_how_the_last_one_died(void **state)
{
    (void)state;
    char dir[] = "/tmp/lw-pipeline-state-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static struct lw_health health;
    memset(&health, 0, sizeof(health));
    static struct lw_record rec;

    out_open();
    struct lw_pipeline *p = start_in(true, &health, "orders", dir);
    char id[LW_REQUEST_ID_MAX];
    for (unsigned seq = 1; seq <= 3; seq++) {
        request_id(id, sizeof(id), seq);
        lw_pipeline_invoke(p, id);
        make_record(&rec, seq);
        lw_pipeline_add_record(p, &rec);
        if (seq < 3)
            send_report(p, seq, "success", "", 60);
    }
    send_report(p, 3, "error", "Runtime.OutOfMemory", 512);
    uint64_t t0 = now_ms();
    lw_pipeline_shutdown(p, "failure", "failure", 3, t0, t0 + 2000);
    lw_pipeline_free(p);
    cJSON *doc = first_line();
    assert_non_null(doc);
    assert_null(str(doc, "Cause")); /* the first environment of the sandbox tells no death */
    cJSON_Delete(doc);

    doc = first_line_of_next(&health, "orders", dir);
    assert_non_null(doc);
    assert_string_equal(str(doc, "LeakwatchRecord"), "death");
    assert_string_equal(str(doc, "Cause"), "Runtime.OutOfMemory");
    assert_string_equal(str(doc, "DeadEnvironmentId"), "env-test");
    assert_true(num(doc, "OutOfMemoryDeaths") == 1);
    assert_true(num(doc, "OutOfMemoryPredicted") == 0); /* three invocations: no verdict yet */
    assert_true(num(doc, "DeadEnvironmentInvocations") == 3);
    request_id(id, sizeof(id), 3);
    assert_string_equal(str(doc, "LastRequestId"), id);
    assert_true(num(doc, "DeadEnvironmentUnwrittenRecords") == 0);
    assert_string_equal(str(doc, "LastErrorType"), "Runtime.OutOfMemory");
    assert_string_equal(str(doc, "ShutdownReason"), "failure");
    const cJSON *forms = cJSON_GetObjectItemCaseSensitive(doc, "OomForms");
    assert_true(cJSON_IsArray(forms));
    assert_string_equal(cJSON_GetArrayItem(forms, 0)->valuestring, "error-type");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "Predicted")));
    cJSON_Delete(doc);

    doc = first_line_of_next(&health, "orders", dir);
    assert_string_equal(str(doc, "Cause"), "shutdown");
    assert_true(num(doc, "OutOfMemoryDeaths") == 0);
    assert_null(cJSON_GetObjectItemCaseSensitive(doc, "OutOfMemoryPredicted"));
    cJSON_Delete(doc);

    doc = first_line_of_next(&health, "another-function", dir);
    assert_string_equal(str(doc, "LeakwatchRecord"), "shutdown");
    cJSON_Delete(doc);

    /* Killed in its second invocation, before any SHUTDOWN: that record was never written, and
     * the death line names it. The first INVOKE alone already left its id. */
    out_open();
    p = start_in(true, &health, "orders", dir);
    request_id(id, sizeof(id), 1);
    lw_pipeline_invoke(p, id);
    char path[256];
    snprintf(path, sizeof(path), "%s/leakwatch-state", dir);
    struct lw_state left;
    const char *why = NULL;
    lw_pipeline_free(p);
    out_drain();
    assert_int_equal(lw_state_file_take(path, &left, &why), LW_OK);
    assert_string_equal(left.open_request_id, id);
    assert_int_equal(left.last_seq, 0);

    out_open();
    p = start_in(true, &health, "orders", dir);
    request_id(id, sizeof(id), 1);
    lw_pipeline_invoke(p, id);
    /* as the daemon does: the next INVOKE's id first, then the boundary closes the last one */
    request_id(id, sizeof(id), 2);
    lw_pipeline_invoke(p, id);
    make_record(&rec, 1);
    lw_pipeline_add_record(p, &rec);
    send_report(p, 1, "success", "", 60);
    /* its line out (the state says so right after) */
    for (int i = 0; i < 500 && !(state_now(path, &left) && left.verdict_seq == 1); i++)
        usleep(10000);
    assert_int_equal(left.verdict_seq, 1);
    lw_pipeline_free(p);
    out_drain();
    doc = first_line_of_next(&health, "orders", dir);
    assert_string_equal(str(doc, "Cause"), "killed");
    assert_string_equal(str(doc, "LastRequestId"), id);
    assert_true(num(doc, "DeadEnvironmentInvocations") == 2);
    assert_true(num(doc, "DeadEnvironmentUnwrittenRecords") == 1);
    cJSON_Delete(doc);

    unlink(path);
    rmdir(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemon does: a closed stdout is EPIPE, not death */
    lw_json_arena_install();  /* as the daemon does: the pipeline's cJSON in its arenas */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_and_telemetry_from_two_threads),
        cmocka_unit_test(test_the_thread_that_completes_a_record_emits_it),
        cmocka_unit_test(test_shutdown_emits_what_never_got_its_report),
        cmocka_unit_test(test_a_partial_end_reading_counts_as_incomplete_once),
        cmocka_unit_test(test_only_a_plausible_start_names_the_environment),
        cmocka_unit_test(test_a_restore_where_the_mode_is_not_said),
        cmocka_unit_test(test_without_telemetry_records_go_out_at_once),
        cmocka_unit_test(test_shutdown_returns_by_its_deadline_when_stdout_is_full),
        cmocka_unit_test(test_a_closed_stdout_is_said_once_and_counted),
        cmocka_unit_test(test_the_next_environment_tells_how_the_last_one_died),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
