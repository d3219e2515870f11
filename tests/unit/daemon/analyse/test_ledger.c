#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/ledger.h>

/*
 * Each scenario is a script of arrivals and expectations, run against a fresh ledger. Request
 * ids are "req-<n>"; a record's seq equals n.
 */
enum op {
    END = 0,
    REC,       /* add record n (cold start when n == 1) */
    START,     /* platform.start for n */
    RTDONE,    /* platform.runtimeDone for n, status s */
    REPORT,    /* platform.report for n, status s */
    INIT,      /* platform.initReport, durationMs 171.2 */
    TAKE,      /* take: expect record n, complete when flag, else with LW_GAP_TELEMETRY */
    TAKE_NONE, /* take: nothing ready */
    FLUSH,
    INVOKE, /* an INVOKE for n (lw_ledger_expect) */
    FORGE,  /* a forged platform.report for n: status error, 99999 ms, 4242 MB */
};

struct step {
    enum op op;
    int n;
    const char *s; /* status for RTDONE/REPORT */
    int flag;      /* TAKE: 1 complete, 0 incomplete */
};

struct scenario {
    const char *name;
    size_t max_pending;
    bool telemetry_expected;
    unsigned wait_invocations;
    struct step steps[32];
    uint64_t late, evicted, incomplete, rejected;
};

#define W 1 /* default wait */

#define R(n)                                                                                       \
    {                                                                                              \
        REC, n, NULL, 0                                                                            \
    }
#define ST(n)                                                                                      \
    {                                                                                              \
        START, n, NULL, 0                                                                          \
    }
#define RD(n, s)                                                                                   \
    {                                                                                              \
        RTDONE, n, s, 0                                                                            \
    }
#define RP(n, s)                                                                                   \
    {                                                                                              \
        REPORT, n, s, 0                                                                            \
    }
#define TK(n, complete)                                                                            \
    {                                                                                              \
        TAKE, n, NULL, complete                                                                    \
    }
#define NONE                                                                                       \
    {                                                                                              \
        TAKE_NONE, 0, NULL, 0                                                                      \
    }
#define FL                                                                                         \
    {                                                                                              \
        FLUSH, 0, NULL, 0                                                                          \
    }
#define IV(n)                                                                                      \
    {                                                                                              \
        INVOKE, n, NULL, 0                                                                         \
    }
#define FG(n)                                                                                      \
    {                                                                                              \
        FORGE, n, NULL, 0                                                                          \
    }

/* Columns after the steps: late, evicted, incomplete, rejected. */
static const struct scenario scenarios[] = {
    {"in order: INVOKE, start, runtimeDone, record, then report at the next thaw",
     16,
     true,
     W,
     {IV(1), ST(1), RD(1, "success"), R(1), IV(2), NONE, RP(1, "success"), TK(1, 1), NONE},
     0,
     0,
     0,
     0},
    {"report before the record is closed",
     16,
     true,
     W,
     {IV(1), ST(1), RD(1, "success"), RP(1, "success"), R(1), TK(1, 1)},
     0,
     0,
     0,
     0},
    {"report before start",
     16,
     true,
     W,
     {IV(1), RP(1, "success"), ST(1), RD(1, "success"), R(1), TK(1, 1)},
     0,
     0,
     0,
     0},
    {"a start that overtook its INVOKE waits in quarantine and is claimed",
     16,
     true,
     W,
     {ST(1), RD(1, "success"), IV(1), R(1), RP(1, "success"), TK(1, 1)},
     0,
     0,
     0,
     0},
    {"report after the next invocation began",
     16,
     true,
     W,
     {IV(1), ST(1), R(1), IV(2), ST(2), RD(2, "success"), NONE, RP(1, "success"), TK(1, 1), R(2),
      NONE, RP(2, "success"), TK(2, 1)},
     0,
     0,
     0,
     0},
    {"report after the next record closed: the wait expired, the report is late",
     16,
     true,
     W,
     {IV(1), ST(1), R(1), IV(2), ST(2), R(2), TK(1, 0), NONE, RP(1, "success"), RP(2, "success"),
      TK(2, 1)},
     1,
     0,
     1,
     0},
    {"a request id never reported",
     16,
     true,
     W,
     {IV(1), R(1), IV(2), R(2), RP(2, "success"), TK(1, 0), TK(2, 1), NONE},
     0,
     0,
     1,
     0},
    {"repeated events: the first counts, the others are refused, before the take and after it",
     16,
     true,
     W,
     {IV(1), ST(1), ST(1), RP(1, "success"), R(1), RP(1, "success"), TK(1, 1), NONE,
      RP(1, "success"), ST(1), NONE},
     0,
     0,
     0,
     4},
    {"after the take, an event the record went out without is late; one it had is refused",
     16,
     true,
     W,
     {IV(1), ST(1), R(1), IV(2), R(2), TK(1, 0), RD(1, "success"), ST(1), RP(1, "success"),
      RP(1, "error"), FL, TK(2, 0)},
     2,
     0,
     2,
     2},
    {"a forged report after the real one changes nothing",
     16,
     true,
     W,
     {IV(1), ST(1), RD(1, "success"), R(1), IV(2), RP(1, "success"), FG(1), TK(1, 1)},
     0,
     0,
     0,
     1},
    {"a forged report for an id never invoked: quarantined, judged after the next INVOKE but one",
     16,
     true,
     W,
     {IV(1), FG(77), R(1), IV(2), RP(1, "success"), TK(1, 1), FG(78), R(2), IV(3), RP(2, "success"),
      TK(2, 1), IV(4)},
     0,
     0,
     0,
     2},
    {"a flood of made-up ids pushes out only made-up ids",
     3,
     true,
     W,
     {IV(1), ST(1), FG(91), FG(92), FG(93), FG(94), FG(95), FG(96), FG(97), FG(98), FG(99),
      RD(1, "success"), R(1), FG(90), RP(1, "success"), TK(1, 1), FL},
     0,
     0,
     0,
     10},
    {"a record proves its own id: events waiting in quarantine join it",
     16,
     true,
     W,
     {RP(5, "success"), ST(5), R(5), TK(5, 1)},
     0,
     0,
     0,
     0},
    {"after SHUTDOWN nothing can claim an unknown id any more",
     16,
     true,
     W,
     {IV(1), FG(7), ST(8), R(1), FL, RP(1, "success"), TK(1, 1), FG(9), RP(10, "success")},
     0,
     0,
     0,
     4},
    {"known ids are bounded: the oldest is forgotten",
     3,
     true,
     W,
     {IV(1), IV(2), IV(3), IV(4), IV(5), RP(1, "success"), R(5), RP(5, "success"), TK(5, 1), FL},
     0,
     2,
     0,
     1},
    {"strict seq order: a later complete record waits for an earlier one",
     16,
     true,
     2,
     {IV(1), R(1), IV(2), R(2), RP(2, "success"), NONE, RP(1, "success"), TK(1, 1), TK(2, 1), NONE},
     0,
     0,
     0,
     0},
    {"wait of two invocations",
     16,
     true,
     2,
     {IV(1), R(1), IV(2), R(2), NONE, IV(3), R(3), TK(1, 0), NONE},
     0,
     0,
     1,
     0},
    {"flush at SHUTDOWN makes everything ready, later records too",
     16,
     true,
     W,
     {IV(1), R(1), RP(1, "success"), IV(2), R(2), IV(3), R(3), FL, TK(1, 1), TK(2, 0), TK(3, 0),
      IV(4), R(4), TK(4, 0), NONE},
     0,
     0,
     3,
     0},
    {"telemetry merged into a held record after flush, until taken",
     16,
     true,
     W,
     {IV(1), R(1), FL, RP(1, "success"), TK(1, 1)},
     0,
     0,
     0,
     0},
    {"no subscription: a record is complete with its memory half",
     16,
     false,
     W,
     {IV(1), R(1), TK(1, 1), IV(2), R(2), TK(2, 1), RP(2, "success")},
     1,
     0,
     0,
     0},
    {"a full table forces its oldest record out even without draining",
     3,
     true,
     1,
     {R(1), R(2), R(3), TK(1, 0), TK(2, 0), NONE},
     0,
     0,
     2,
     0},
    {"timed out invocation: the report's status wins over runtimeDone's",
     16,
     true,
     W,
     {IV(1), ST(1), RD(1, "error"), R(1), RP(1, "timeout"), TK(1, 1)},
     0,
     0,
     0,
     0},
};

static void make_id(char *buf, size_t cap, int n)
{
    snprintf(buf, cap, "req-%d", n);
}

static void add_event(struct lw_ledger *l, enum lw_platform_event_type type, int n,
                      const char *status)
{
    struct lw_platform_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    if (n > 0)
        make_id(ev.request_id, sizeof(ev.request_id), n);
    if (status)
        snprintf(ev.status, sizeof(ev.status), "%s", status);
    switch (type) {
    case LW_EV_RUNTIME_DONE:
        ev.fields = LW_EVF_DURATION | LW_EVF_PRODUCED_BYTES;
        ev.duration_ms = 140.0 + n;
        ev.produced_bytes = 16;
        if (strcmp(status, "success") != 0)
            snprintf(ev.error_type, sizeof(ev.error_type), "Runtime.Error");
        break;
    case LW_EV_REPORT:
        ev.fields = LW_EVF_DURATION | LW_EVF_BILLED_DURATION | LW_EVF_MEMORY_SIZE |
                    LW_EVF_MAX_MEMORY_USED | LW_EVF_EXTENSION_OVERHEAD;
        ev.duration_ms = 150.5 + n;
        ev.billed_duration_ms = 151 + n;
        ev.memory_size_mb = 512;
        ev.max_memory_used_mb = 80 + n;
        ev.extension_overhead_ms = 1.5;
        if (strcmp(status, "timeout") == 0)
            snprintf(ev.error_type, sizeof(ev.error_type), "Sandbox.Timedout");
        break;
    case LW_EV_INIT_REPORT:
        ev.fields = LW_EVF_DURATION;
        ev.duration_ms = 171.2;
        snprintf(ev.phase, sizeof(ev.phase), "init");
        break;
    default:
        break;
    }
    lw_ledger_add_event(l, &ev);
}

/* What a function that found the listener would post for its own request id. */
static void add_forged_report(struct lw_ledger *l, int n)
{
    struct lw_platform_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = LW_EV_REPORT;
    make_id(ev.request_id, sizeof(ev.request_id), n);
    snprintf(ev.status, sizeof(ev.status), "error");
    ev.fields = LW_EVF_DURATION | LW_EVF_BILLED_DURATION | LW_EVF_MAX_MEMORY_USED;
    ev.duration_ms = 99999;
    ev.billed_duration_ms = 100000;
    ev.max_memory_used_mb = 4242;
    lw_ledger_add_event(l, &ev);
}

static struct lw_record *make_record(int n)
{
    struct lw_record *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    make_id(r->request_id, sizeof(r->request_id), n);
    r->seq = (uint64_t)n;
    r->cold_start = n == 1;
    r->fn_peak_bytes = 1000u * (unsigned)n;
    r->gaps = LW_GAP_PROCS; /* the memory half's own gaps survive the join */
    /* Whatever the caller left in the platform half is replaced by telemetry. */
    r->platform.have_report = true;
    return r;
}

static void run_scenario(const struct scenario *sc)
{
    struct lw_health h = {0};
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    cfg.max_pending = sc->max_pending;
    cfg.telemetry_expected = sc->telemetry_expected;
    cfg.wait_invocations = sc->wait_invocations;
    struct lw_ledger *l = lw_ledger_new(&cfg, &h);
    assert_non_null(l);
    struct lw_record *out = calloc(1, sizeof(*out));
    assert_non_null(out);
    bool seen[128] = {0};

    print_message("%s\n", sc->name);
    for (const struct step *st = sc->steps; st->op != END; st++) {
        switch (st->op) {
        case REC: {
            struct lw_record *r = make_record(st->n);
            lw_ledger_add_record(l, r);
            free(r);
            break;
        }
        case START:
            add_event(l, LW_EV_START, st->n, NULL);
            break;
        case RTDONE:
            add_event(l, LW_EV_RUNTIME_DONE, st->n, st->s);
            break;
        case REPORT:
            add_event(l, LW_EV_REPORT, st->n, st->s);
            break;
        case INIT:
            add_event(l, LW_EV_INIT_REPORT, 0, NULL);
            break;
        case INVOKE: {
            char id[32];
            make_id(id, sizeof(id), st->n);
            lw_ledger_expect(l, id);
            break;
        }
        case FORGE:
            add_forged_report(l, st->n);
            break;
        case TAKE: {
            assert_true(lw_ledger_ready(l)); /* what the pipeline wakes its emitter on */
            assert_true(lw_ledger_take(l, out));
            assert_int_equal(out->seq, st->n);
            assert_false(seen[st->n]); /* never twice */
            seen[st->n] = true;
            char id[32];
            make_id(id, sizeof(id), st->n);
            assert_string_equal(out->request_id, id);
            assert_int_equal(out->fn_peak_bytes, 1000u * (unsigned)st->n);
            assert_true(out->gaps & LW_GAP_PROCS);
            if (st->flag) {
                assert_false(out->gaps & LW_GAP_TELEMETRY);
                if (sc->telemetry_expected) {
                    assert_true(out->platform.have_report);
                    assert_true(out->platform.duration_ms == 150.5 + st->n);
                    assert_true(out->platform.billed_duration_ms == 151 + st->n);
                    assert_int_equal(out->platform.memory_size_mb, 512);
                    assert_int_equal(out->platform.max_memory_used_mb, 80 + st->n);
                }
            } else {
                assert_true(out->gaps & LW_GAP_TELEMETRY);
                assert_false(out->platform.have_report);
            }
            break;
        }
        case TAKE_NONE:
            assert_false(lw_ledger_ready(l));
            assert_false(lw_ledger_take(l, out));
            break;
        case FLUSH:
            lw_ledger_flush(l);
            break;
        case END:
            break;
        }
    }
    assert_int_equal(h.c[LW_H_TELEMETRY_LATE], sc->late);
    assert_int_equal(h.c[LW_H_LEDGER_EVICTED], sc->evicted);
    assert_int_equal(h.c[LW_H_RECORDS_INCOMPLETE], sc->incomplete);
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], sc->rejected);
    free(out);
    lw_ledger_free(l);
}

static void test_arrival_orders(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        run_scenario(&scenarios[i]);
}

/* The platform half is merged field by field from the three events. */
static void test_merged_fields(void **state)
{
    (void)state;
    struct lw_health h = {0};
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    struct lw_ledger *l = lw_ledger_new(&cfg, &h);
    struct lw_record *r = make_record(1);
    struct lw_record *out = calloc(1, sizeof(*out));
    assert_non_null(out);

    add_event(l, LW_EV_START, 1, NULL);
    add_event(l, LW_EV_RUNTIME_DONE, 1, "error");
    lw_ledger_add_record(l, r);
    assert_true(lw_ledger_has_pending(l));
    add_event(l, LW_EV_REPORT, 1, "timeout");
    assert_true(lw_ledger_take(l, out));
    assert_false(lw_ledger_has_pending(l));
    assert_true(out->platform.have_start);
    assert_true(out->platform.have_runtime_done);
    assert_true(out->platform.have_report);
    assert_string_equal(out->platform.status, "timeout");
    assert_string_equal(out->platform.error_type, "Sandbox.Timedout");
    assert_true(out->platform.runtime_duration_ms == 141.0);
    assert_true(out->platform.produced_bytes == 16);
    assert_true(out->platform.extension_overhead_ms == 1.5);
    assert_false(out->platform.have_init_duration);

    /* runtimeDone alone gives the status of a record emitted without its report. */
    r->seq = 2;
    r->cold_start = false;
    make_id(r->request_id, sizeof(r->request_id), 2);
    add_event(l, LW_EV_RUNTIME_DONE, 2, "failure");
    lw_ledger_add_record(l, r);
    lw_ledger_flush(l);
    assert_true(lw_ledger_take(l, out));
    assert_string_equal(out->platform.status, "failure");
    assert_string_equal(out->platform.error_type, "Runtime.Error");
    assert_true(out->gaps & LW_GAP_TELEMETRY);
    free(r);
    free(out);
    lw_ledger_free(l);
}

/* A cold start's init duration: from the report, else from platform.initReport. */
static void test_init_duration(void **state)
{
    (void)state;
    struct lw_health h = {0};
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    struct lw_record *out = calloc(1, sizeof(*out));
    assert_non_null(out);

    for (int from_report = 0; from_report <= 1; from_report++) {
        struct lw_ledger *l = lw_ledger_new(&cfg, &h);
        add_event(l, LW_EV_INIT_REPORT, 0, NULL);
        struct lw_record *r = make_record(1);
        lw_ledger_add_record(l, r);
        struct lw_platform_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = LW_EV_REPORT;
        make_id(ev.request_id, sizeof(ev.request_id), 1);
        if (from_report) {
            ev.fields = LW_EVF_INIT_DURATION;
            ev.init_duration_ms = 180.5;
        }
        lw_ledger_add_event(l, &ev);
        assert_true(lw_ledger_take(l, out));
        assert_true(out->platform.have_init_duration);
        assert_true(out->platform.init_duration_ms == (from_report ? 180.5 : 171.2));

        /* A warm record gets none. */
        r->seq = 2;
        r->cold_start = false;
        make_id(r->request_id, sizeof(r->request_id), 2);
        lw_ledger_add_record(l, r);
        lw_ledger_flush(l);
        assert_true(lw_ledger_take(l, out));
        assert_false(out->platform.have_init_duration);
        free(r);
        lw_ledger_free(l);
    }
    free(out);
}

/* Events without a request id, and other types, change nothing. */
static void test_ignored_events(void **state)
{
    (void)state;
    struct lw_health h = {0};
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    cfg.max_pending = 3;
    struct lw_ledger *l = lw_ledger_new(&cfg, &h);
    for (int i = 0; i < 10; i++) {
        add_event(l, LW_EV_REPORT, 0, "success");
        add_event(l, LW_EV_EXTENSION, 5, NULL);
        add_event(l, LW_EV_FUNCTION_LOG, 6, NULL);
    }
    assert_int_equal(h.c[LW_H_LEDGER_EVICTED], 0);
    /* a report that names no request is not one the platform sends */
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], 10);
    assert_false(lw_ledger_has_pending(l));
    lw_ledger_free(l);
}

/* Many invocations in the usual order: every record out once, complete, in order. */
static void test_long_run(void **state)
{
    (void)state;
    struct lw_health h = {0};
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    struct lw_ledger *l = lw_ledger_new(&cfg, &h);
    struct lw_record *out = calloc(1, sizeof(*out));
    assert_non_null(out);
    uint64_t next = 1;
    for (int n = 1; n <= 1000; n++) {
        char id[32];
        make_id(id, sizeof(id), n);
        /* every other time the start overtakes its INVOKE */
        if (n % 2)
            lw_ledger_expect(l, id);
        add_event(l, LW_EV_START, n, NULL);
        if (n % 2 == 0)
            lw_ledger_expect(l, id);
        add_event(l, LW_EV_RUNTIME_DONE, n, "success");
        if (n > 1) {
            struct lw_record *r = make_record(n - 1);
            lw_ledger_add_record(l, r);
            free(r);
            /* the report of n-1 arrives before or after its record, alternately */
            if (n % 2)
                add_event(l, LW_EV_REPORT, n - 1, "success");
        }
        if (n > 2 && n % 2 == 0)
            add_event(l, LW_EV_REPORT, n - 1, "success");
        while (lw_ledger_take(l, out))
            assert_int_equal(out->seq, next++);
    }
    lw_ledger_flush(l);
    while (lw_ledger_take(l, out))
        assert_int_equal(out->seq, next++);
    assert_int_equal(next, 1000);
    assert_int_equal(h.c[LW_H_LEDGER_EVICTED], 0);
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], 0);
    free(out);
    lw_ledger_free(l);
}

/*
 * Reports delivered in batches, as the Telemetry API does: invocation n ends at n * every_ms,
 * its report is queued then, and a batch goes out batch_ms after the first report it holds.
 * Every lost-th report is never delivered (0: none). 400 invocations, wait_invocations 4;
 * returns how many records went out without their report, and in *max_held the most records
 * held at once.
 */
struct batching {
    uint64_t every_ms, batch_ms, wait_ms;
    size_t max_pending;
    int lost;
};

static uint64_t batched_reports(const struct batching *b, struct lw_health *h, size_t *max_held)
{
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    cfg.wait_invocations = 4;
    cfg.wait_ms = b->wait_ms;
    cfg.max_pending = b->max_pending;
    struct lw_ledger *l = lw_ledger_new(&cfg, h);
    assert_non_null(l);
    struct lw_record *out = calloc(1, sizeof(*out));
    assert_non_null(out);
    uint64_t next = 1;
    size_t held = 0;
    *max_held = 0;
    int queued = 1; /* the first report not delivered yet */
    for (int n = 1; n <= 400; n++) {
        uint64_t now = (uint64_t)n * b->every_ms;
        /* the batch that is due by now, before this invocation's boundary */
        if (queued < n && (uint64_t)queued * b->every_ms + b->batch_ms <= now) {
            for (; queued < n; queued++) {
                if (b->lost == 0 || queued % b->lost != 0)
                    add_event(l, LW_EV_REPORT, queued, "success");
            }
        }
        char id[32];
        make_id(id, sizeof(id), n);
        lw_ledger_expect(l, id);
        add_event(l, LW_EV_START, n, NULL);
        add_event(l, LW_EV_RUNTIME_DONE, n, "success");
        struct lw_record *r = make_record(n);
        r->end_time_ms = now;
        lw_ledger_add_record(l, r);
        free(r);
        if (++held > *max_held)
            *max_held = held;
        while (lw_ledger_take(l, out)) {
            assert_int_equal(out->seq, next++);
            held--;
        }
    }
    for (; queued <= 400; queued++) {
        if (b->lost == 0 || queued % b->lost != 0)
            add_event(l, LW_EV_REPORT, queued, "success");
    }
    lw_ledger_flush(l);
    while (lw_ledger_take(l, out))
        assert_int_equal(out->seq, next++);
    assert_int_equal(next, 401);
    assert_int_equal(h->c[LW_H_LEDGER_EVICTED], 0);
    free(out);
    lw_ledger_free(l);
    return h->c[LW_H_RECORDS_INCOMPLETE];
}

/* A record waits for the reports a batch can still hold (wait_ms of the records' own time),
 * within what the tables hold, and no longer for a report that never comes. */
static void test_batched_reports(void **state)
{
    (void)state;
    size_t max_held;
    /* 5 ms invocations, 100 ms batches: 20 records behind. Four records' wait alone loses all
     * but the newest four reports of each batch (as leakwatch did with 25 ms batches at 800
     * invocations a second). */
    struct lw_health h0 = {0};
    struct batching fast = {.every_ms = 5, .batch_ms = 100, .wait_ms = 0, .max_pending = 32};
    assert_int_equal(batched_reports(&fast, &h0, &max_held), 320);
    /* waiting 220 ms of the records' time as well: every record complete */
    struct lw_health h1 = {0};
    fast.wait_ms = 220;
    assert_int_equal(batched_reports(&fast, &h1, &max_held), 0);
    assert_int_equal(h1.c[LW_H_TELEMETRY_LATE], 0);
    assert_int_equal(h1.c[LW_H_TELEMETRY_EVENTS_REJECTED], 0);
    assert_true(max_held >= 20 && max_held <= 22);
    /* 1 ms invocations: 100 behind, more than the table's 32. The oldest go out without their
     * report when the table is full, each counted (late while its record is remembered as
     * taken, refused after), and no more than the table is ever held. */
    struct lw_health h2 = {0};
    struct batching flood = {.every_ms = 1, .batch_ms = 100, .wait_ms = 220, .max_pending = 32};
    uint64_t incomplete = batched_reports(&flood, &h2, &max_held);
    assert_true(incomplete > 200);
    assert_int_equal(h2.c[LW_H_TELEMETRY_LATE] + h2.c[LW_H_TELEMETRY_EVENTS_REJECTED], incomplete);
    assert_true(max_held <= 32);
    /* one invocation a second, every tenth report lost: each of those 40 goes out after four
     * newer records, the time long past; the others complete */
    struct lw_health h3 = {0};
    struct batching slow = {
        .every_ms = 1000, .batch_ms = 100, .wait_ms = 220, .max_pending = 32, .lost = 10};
    assert_int_equal(batched_reports(&slow, &h3, &max_held), 40);
    assert_int_equal(h3.c[LW_H_TELEMETRY_LATE], 0);
    assert_true(max_held <= 6);
}

static void add_init_report(struct lw_ledger *l, const char *phase, double ms)
{
    struct lw_platform_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = LW_EV_INIT_REPORT;
    ev.fields = LW_EVF_DURATION;
    ev.duration_ms = ms;
    snprintf(ev.phase, sizeof(ev.phase), "%s", phase);
    lw_ledger_add_event(l, &ev);
}

/* platform.initReport: the first one of the init phase counts, within Lambda's longest init. */
static void test_init_report_filter(void **state)
{
    (void)state;
    struct lw_health h = {0};
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    struct lw_record *out = calloc(1, sizeof(*out));
    assert_non_null(out);
    struct {
        double first_ms;
        double expect_ms; /* < 0: no init duration */
        uint64_t rejected;
    } cases[] = {
        {171.2, 171.2, 1},                  /* the later 4242 is refused */
        {-1, -1, 2},                        /* negative: refused; so is the second */
        {LW_LEDGER_INIT_MAX_MS + 1, -1, 2}, /* beyond 15 minutes */
        {0.0 / 0.0, -1, 2},                 /* NaN never compares: refused */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&h, 0, sizeof(h));
        struct lw_ledger *l = lw_ledger_new(&cfg, &h);
        add_init_report(l, "invoke", 999); /* a suppressed init: not a cold start, not counted */
        add_init_report(l, "init", cases[i].first_ms);
        if (cases[i].expect_ms >= 0)
            add_init_report(l, "init", 4242);
        else
            add_init_report(l, "init", LW_LEDGER_INIT_MAX_MS + 5);
        lw_ledger_expect(l, "req-1");
        struct lw_record *r = make_record(1);
        lw_ledger_add_record(l, r);
        lw_ledger_flush(l);
        assert_true(lw_ledger_take(l, out));
        assert_int_equal(out->platform.have_init_duration, cases[i].expect_ms >= 0);
        if (cases[i].expect_ms >= 0)
            assert_true(out->platform.init_duration_ms == cases[i].expect_ms);
        assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], cases[i].rejected);
        free(r);
        lw_ledger_free(l);
    }
    free(out);
}

static void add_logs_dropped(struct lw_ledger *l, double records)
{
    struct lw_platform_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = LW_EV_LOGS_DROPPED;
    ev.fields = LW_EVF_DROPPED_RECORDS | LW_EVF_DROPPED_BYTES;
    ev.dropped_records = records;
    ev.dropped_bytes = records * 300;
    lw_ledger_add_event(l, &ev);
}

/* platform.logsDropped: never more records than the platform produced since it last said so. */
static void test_logs_dropped_filter(void **state)
{
    (void)state;
    struct lw_health h = {0};
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    struct lw_ledger *l = lw_ledger_new(&cfg, &h);
    const uint64_t per = LW_LEDGER_DROPPED_PER_INVOKE_MAX;

    add_logs_dropped(l, 999999999999.0); /* what a forger would say */
    assert_int_equal(h.c[LW_H_TELEMETRY_DROPPED], 0);
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], 1);
    add_logs_dropped(l, 2.5); /* not a count */
    add_logs_dropped(l, -3);
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], 3);

    /* init's events and the invocation under way, then one more invocation */
    lw_ledger_expect(l, "req-1");
    add_logs_dropped(l, (double)(LW_LEDGER_DROPPED_INIT_MAX + 2 * per));
    assert_int_equal(h.c[LW_H_TELEMETRY_DROPPED], LW_LEDGER_DROPPED_INIT_MAX + 2 * per);
    /* now only what the invocation under way can still produce */
    add_logs_dropped(l, (double)(per + 1));
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], 4);
    add_logs_dropped(l, (double)per);
    assert_int_equal(h.c[LW_H_TELEMETRY_DROPPED], LW_LEDGER_DROPPED_INIT_MAX + 3 * per);
    /* three invocations later, up to four invocations' worth */
    lw_ledger_expect(l, "req-2");
    lw_ledger_expect(l, "req-3");
    lw_ledger_expect(l, "req-4");
    add_logs_dropped(l, (double)(4 * per + 1));
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], 5);
    add_logs_dropped(l, (double)(4 * per));
    assert_int_equal(h.c[LW_H_TELEMETRY_DROPPED], LW_LEDGER_DROPPED_INIT_MAX + 7 * per);
    add_logs_dropped(l, 0);
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], 5);
    lw_ledger_free(l);
}

/*
 * Lambda Managed Instances: no INVOKE, so platform.start makes an id known; requests run
 * concurrently and a report may come before its start. Unknown ids still never become records.
 */
static void test_ids_from_start(void **state)
{
    (void)state;
    struct lw_health h = {0};
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    cfg.ids_from_start = true;
    cfg.max_pending = 4;
    struct lw_ledger *l = lw_ledger_new(&cfg, &h);
    struct lw_record *out = calloc(1, sizeof(*out));
    assert_non_null(out);

    add_event(l, LW_EV_START, 1, NULL);
    add_event(l, LW_EV_REPORT, 2, "success"); /* before its start: waits */
    add_event(l, LW_EV_START, 3, NULL);
    add_event(l, LW_EV_START, 4, NULL);
    add_event(l, LW_EV_START, 5, NULL); /* no aging by INVOKEs here: 2 still waits */
    add_event(l, LW_EV_START, 2, NULL);
    add_event(l, LW_EV_START, 2, NULL); /* repeated */
    add_forged_report(l, 9);            /* never started */
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], 1);
    /* four known ids at most: the oldest, 1, was forgotten for 2 */
    assert_int_equal(h.c[LW_H_LEDGER_EVICTED], 1);
    struct lw_record *r = make_record(2);
    lw_ledger_add_record(l, r);
    assert_true(lw_ledger_take(l, out));
    assert_true(out->platform.have_start);
    assert_true(out->platform.have_report);
    assert_true(out->platform.duration_ms == 152.5);
    lw_ledger_flush(l);
    assert_int_equal(h.c[LW_H_TELEMETRY_EVENTS_REJECTED], 2); /* the report for 9 */
    free(r);
    free(out);
    lw_ledger_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arrival_orders),     cmocka_unit_test(test_merged_fields),
        cmocka_unit_test(test_init_duration),      cmocka_unit_test(test_ignored_events),
        cmocka_unit_test(test_long_run),           cmocka_unit_test(test_batched_reports),
        cmocka_unit_test(test_init_report_filter), cmocka_unit_test(test_logs_dropped_filter),
        cmocka_unit_test(test_ids_from_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
