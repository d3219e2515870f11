#include <leakwatch/pipeline.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <leakwatch/alert.h>
#include <leakwatch/clock.h>
#include <leakwatch/config.h>
#include <leakwatch/emf.h>
#include <leakwatch/exporter.h>
#include <leakwatch/http.h>
#include <leakwatch/json_arena.h>
#include <leakwatch/ledger.h>
#include <leakwatch/log.h>
#include <leakwatch/otlp_config.h>
#include <leakwatch/out.h>
#include <leakwatch/telemetry_events.h>
#include <leakwatch/trend.h>
#include <leakwatch/verdict.h>

/* One EMF line: ~35 metrics and LW_MAX_PROCS process objects stay far below this. */
#define LINE_CAP (64 * 1024)
/* How long one stdout line may wait for the platform to drain the pipe. */
#define OUT_BUDGET_MS 200
#define PENDING_RECORDS 16
/* cJSON's nodes for one EMF line (about 25 KB with a few processes) and for one Telemetry API
 * batch of a few invocations; larger ones overflow to malloc. */
#define EMIT_ARENA_BYTES (64 * 1024)
#define TELEMETRY_ARENA_BYTES (32 * 1024)

struct lw_pipeline {
    const struct lw_config *config;
    struct lw_health *health;
    struct lw_exporter *exporter; /* owned */
    const struct lw_clock *clock;
    struct lw_emf_options emf;
    const char *env_id;
    uint64_t process_start_ms;
    struct lw_ledger_config ledger_config;

    pthread_mutex_t lock; /* guards ledger, stop, busy */
    pthread_cond_t wake;  /* emitter: something to do */
    pthread_cond_t idle;  /* shutdown: the emitter has drained the ledger */
    struct lw_ledger *ledger;
    bool stop;
    bool busy;
    bool thread_started;
    pthread_t thread;

    /* emitter thread only */
    struct lw_trend *trend;
    struct lw_out out;
    struct lw_health last_health; /* counters at the previous line: lines carry increases */
    uint64_t lines_dropped;       /* EMF lines dropped since stdout last took one */
    char *line;
    struct lw_record rec; /* the record being emitted: too large for the stack of a thread */
    struct lw_json_arena emit_arena;

    /* telemetry thread only */
    struct lw_json_arena telemetry_arena;
};

/*
 * A full or closed stdout costs lines, never the function's time. The counter can only reach
 * CloudWatch through stdout itself, so the first drop of an episode is also said on stderr (a
 * separate stream Lambda reads as well), and so is the end of the episode.
 */
static void emit_line(struct lw_pipeline *p, const char *line, size_t len)
{
    enum lw_err err = lw_out_write(&p->out, line, len);
    if (err == LW_OK) {
        if (p->lines_dropped > 0)
            lw_info("stdout takes EMF lines again after %llu dropped",
                    (unsigned long long)p->lines_dropped);
        p->lines_dropped = 0;
        return;
    }
    lw_health_add(p->health, LW_H_EMF_DROPPED, 1);
    if (p->lines_dropped++ == 0)
        lw_warn("EMF line dropped: stdout %s; further drops are counted in %s",
                err == LW_ERR_TIMEOUT ? "is full (nobody reads it)" : "cannot be written",
                lw_health_name(LW_H_EMF_DROPPED));
}

/* Emitter thread: trend, EMF line, alert line, OTLP queue. Runs outside the lock. */
static void emit_record(struct lw_pipeline *p, const struct lw_record *rec)
{
    lw_json_arena_enter(&p->emit_arena);
    struct lw_verdict verdict;
    lw_trend_add(p->trend, rec, &verdict);

    struct lw_health now, delta;
    lw_health_read(p->health, &now);
    for (int i = 0; i < LW_H_COUNT; i++)
        delta.c[i] = now.c[i] - p->last_health.c[i];
    p->last_health = now;

    size_t len = 0;
    if (p->config->exports & LW_EXPORT_EMF) {
        enum lw_err err =
            lw_emf_encode_record(&p->emf, rec, &verdict, &delta, p->line, LINE_CAP, &len);
        if (err == LW_OK)
            emit_line(p, p->line, len);
        else {
            lw_health_add(p->health, LW_H_EMF_DROPPED, 1);
            lw_warn("EMF record %llu not written: %s", (unsigned long long)rec->seq,
                    lw_err_str(err));
        }
    }
    if (verdict.changed && (p->config->exports & LW_EXPORT_EMF) &&
        lw_alert_line(&verdict, p->config->function_name, p->env_id, rec->seq, p->line, LINE_CAP,
                      &len) == LW_OK)
        emit_line(p, p->line, len);
    lw_json_arena_leave(&p->emit_arena);
    if (p->exporter != NULL)
        lw_exporter_enqueue(p->exporter, rec, &verdict);
}

static void *emitter_main(void *arg)
{
    struct lw_pipeline *p = arg;
    /* its name in top -H, perf and /proc/PID/task/TID/comm */
    pthread_setname_np(pthread_self(), "lw-pipeline");
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (lw_ledger_take(p->ledger, &p->rec)) {
            p->busy = true;
            pthread_mutex_unlock(&p->lock);
            emit_record(p, &p->rec);
            pthread_mutex_lock(&p->lock);
            p->busy = false;
            continue;
        }
        pthread_cond_broadcast(&p->idle);
        if (p->stop)
            break;
        pthread_cond_wait(&p->wake, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The OTLP exporter over libcurl, or NULL (said) when it cannot run. */
static struct lw_exporter *start_exporter(const struct lw_pipeline_config *cfg,
                                          struct lw_health *health)
{
    static struct lw_exporter_config ec; /* large: not on the stack; one pipeline per process */
    memset(&ec, 0, sizeof(ec));
    lw_otlp_config_load(&ec.otlp, cfg->getenv_fn, cfg->getenv_ctx, cfg->config, cfg->env_id);
    lw_otlp_config_log(&ec.otlp);
    ec.process_start_ms = cfg->process_start_ms;
    ec.clock = cfg->clock;
    struct lw_http_transport t;
    if (lw_http_curl_transport_init(&t, NULL) != LW_OK) {
        lw_warn("OTLP export off: the HTTP client could not be initialised");
        return NULL;
    }
    return lw_exporter_new(&ec, t, health);
}

struct lw_pipeline *lw_pipeline_new(const struct lw_pipeline_config *cfg, struct lw_health *health)
{
    struct lw_pipeline *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        lw_exporter_free(cfg->exporter);
        return NULL;
    }
    p->config = cfg->config;
    p->health = health;
    p->exporter = cfg->exporter;
    if (p->exporter == NULL && (cfg->config->exports & LW_EXPORT_OTLP) && cfg->getenv_fn != NULL)
        p->exporter = start_exporter(cfg, health);
    p->clock = lw_clock_or_system(cfg->clock);
    p->env_id = cfg->env_id;
    p->process_start_ms = cfg->process_start_ms;
    p->emf.namespace_ = cfg->config->emf_namespace;
    p->emf.function_name = cfg->config->function_name;
    p->emf.function_version = cfg->config->function_version;
    p->emf.version_dimension = cfg->config->version_dimension;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->idle, NULL);

    lw_ledger_config_init(&p->ledger_config);
    p->ledger_config.max_pending = PENDING_RECORDS;
    p->ledger_config.telemetry_expected = cfg->telemetry_expected;
    p->ledger_config.wait_invocations = cfg->config->report_wait_invocations;
    p->ledger_config.ids_from_start = cfg->ids_from_start;
    p->ledger = lw_ledger_new(&p->ledger_config, health);
    struct lw_trend_config tc = lw_trend_config_default();
    tc.warmup_invocations = cfg->config->warmup_invocations;
    tc.recycle_horizon_minutes = cfg->config->recycle_horizon_minutes;
    p->trend = lw_trend_new(&tc);
    p->line = malloc(LINE_CAP);
    /* without its arena a thread's cJSON simply uses malloc */
    lw_json_arena_init(&p->emit_arena, EMIT_ARENA_BYTES);
    lw_json_arena_init(&p->telemetry_arena, TELEMETRY_ARENA_BYTES);
    lw_out_init(&p->out, cfg->out_fd, OUT_BUDGET_MS);
    if (p->ledger == NULL || p->trend == NULL || p->line == NULL)
        goto fail;
    if (pthread_create(&p->thread, NULL, emitter_main, p) != 0)
        goto fail;
    p->thread_started = true;
    return p;
fail:
    lw_pipeline_free(p);
    return NULL;
}

/* The emitter is woken only when a record is ready: a record still waiting for its report, or
 * a batch that completed none, costs the function no context switch. Called with the lock. */
static void wake_if_ready(struct lw_pipeline *p)
{
    if (lw_ledger_ready(p->ledger))
        pthread_cond_signal(&p->wake);
}

void lw_pipeline_add_record(struct lw_pipeline *p, const struct lw_record *rec)
{
    pthread_mutex_lock(&p->lock);
    lw_ledger_add_record(p->ledger, rec);
    wake_if_ready(p);
    pthread_mutex_unlock(&p->lock);
    if (p->exporter != NULL)
        lw_exporter_notify(p->exporter); /* thawed now: a good moment to send */
}

void lw_pipeline_invoke(struct lw_pipeline *p, const char *request_id)
{
    pthread_mutex_lock(&p->lock);
    lw_ledger_expect(p->ledger, request_id);
    pthread_mutex_unlock(&p->lock);
}

static void on_event(void *ctx, const struct lw_platform_event *ev)
{
    struct lw_pipeline *p = ctx;
    pthread_mutex_lock(&p->lock);
    lw_ledger_add_event(p->ledger, ev);
    pthread_mutex_unlock(&p->lock);
}

void lw_pipeline_add_telemetry(struct lw_pipeline *p, const char *body, size_t len)
{
    lw_json_arena_enter(&p->telemetry_arena);
    lw_telemetry_events_parse(body, len, on_event, p, p->health);
    lw_json_arena_leave(&p->telemetry_arena);
    pthread_mutex_lock(&p->lock);
    wake_if_ready(p);
    pthread_mutex_unlock(&p->lock);
}

/* The condition variables' deadline for deadline_ms (epoch ms), measured from the pipeline's
 * clock now: the caller may already have spent part of the budget. */
static void abs_deadline(const struct lw_pipeline *p, struct timespec *ts, uint64_t deadline_ms)
{
    uint64_t now_ms = lw_clock_wall_ms(p->clock);
    *ts = lw_clock_deadline_in(CLOCK_REALTIME, deadline_ms > now_ms ? deadline_ms - now_ms : 0);
}

void lw_pipeline_set_telemetry_expected(struct lw_pipeline *p, bool expected)
{
    pthread_mutex_lock(&p->lock);
    if (p->ledger_config.telemetry_expected != expected && !lw_ledger_has_pending(p->ledger)) {
        /* Only at init, while the ledger is still empty: a new one with the new rule. */
        struct lw_ledger_config lc = p->ledger_config;
        lc.telemetry_expected = expected;
        struct lw_ledger *l = lw_ledger_new(&lc, p->health);
        if (l != NULL) {
            lw_ledger_free(p->ledger);
            p->ledger = l;
            p->ledger_config = lc;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

static bool wait_idle(struct lw_pipeline *p, const struct timespec *until)
{
    while (p->busy || lw_ledger_has_pending(p->ledger)) {
        if (pthread_cond_timedwait(&p->idle, &p->lock, until) == ETIMEDOUT)
            return false;
    }
    return true;
}

void lw_pipeline_shutdown(struct lw_pipeline *p, const char *reason, uint64_t invocations,
                          uint64_t now_ms, uint64_t deadline_ms)
{
    /* The platform.report of the last invocation is produced only after every extension has
     * called event/next, so it arrives during SHUTDOWN: give it part of the budget (at most
     * half of what is left, and never more than a second), then emit whatever is still
     * waiting, marked incomplete. */
    uint64_t left = deadline_ms > now_ms ? deadline_ms - now_ms : 0;
    uint64_t report_wait = left / 2 < 1000 ? left / 2 : 1000;
    struct timespec until;
    pthread_mutex_lock(&p->lock);
    if (p->ledger_config.telemetry_expected) {
        abs_deadline(p, &until, now_ms + report_wait);
        wait_idle(p, &until);
    }
    abs_deadline(p, &until, deadline_ms);
    lw_ledger_flush(p->ledger);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    bool drained = wait_idle(p, &until);
    pthread_mutex_unlock(&p->lock);
    if (!drained) {
        lw_warn("shutdown deadline reached with records still pending");
        return; /* the emitter may be stuck on stdout: do not join it */
    }
    pthread_join(p->thread, NULL);
    p->thread_started = false;

    /* Every record is in the OTLP queue now. Deliver it before the shutdown line: that line is
     * the last place the health counters are shipped, and the drops of this flush (a collector
     * down or hanging, a batch refused) would otherwise never be reported. Flushing again later
     * returns at once. */
    if (p->exporter != NULL)
        lw_exporter_flush(p->exporter, deadline_ms);

    if (p->config->exports & LW_EXPORT_EMF) {
        /* The last line may wait for room only as long as the deadline allows. */
        uint64_t wall = lw_clock_wall_ms(p->clock);
        uint64_t left_now = deadline_ms > wall ? deadline_ms - wall : 0;
        lw_out_set_budget(&p->out, left_now < OUT_BUDGET_MS ? (uint32_t)left_now : OUT_BUDGET_MS);
        struct lw_health now, delta;
        lw_health_read(p->health, &now);
        for (int i = 0; i < LW_H_COUNT; i++)
            delta.c[i] = now.c[i] - p->last_health.c[i];
        p->last_health = now;
        struct lw_emf_shutdown s = {
            .time_ms = now_ms,
            .env_id = p->env_id,
            .reason = reason,
            .lifetime_seconds =
                now_ms > p->process_start_ms ? (double)(now_ms - p->process_start_ms) / 1000.0 : 0,
            .invocations = invocations,
        };
        size_t len = 0;
        if (lw_emf_encode_shutdown(&p->emf, &s, &delta, p->line, LINE_CAP, &len) == LW_OK)
            emit_line(p, p->line, len);
    }
}

void lw_pipeline_free(struct lw_pipeline *p)
{
    if (p == NULL)
        return;
    if (p->thread_started) {
        /* Also after a shutdown that gave up on a stuck emitter: each line it still has gives
         * up after OUT_BUDGET_MS, so this join is bounded. */
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    lw_exporter_free(p->exporter);
    lw_ledger_free(p->ledger);
    lw_trend_free(p->trend);
    lw_out_clean_up(&p->out);
    lw_json_arena_clean_up(&p->emit_arena);
    lw_json_arena_clean_up(&p->telemetry_arena);
    free(p->line);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->idle);
    free(p);
}
