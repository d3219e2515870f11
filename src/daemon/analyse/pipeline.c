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
#include <leakwatch/identity.h>
#include <leakwatch/intervals.h>
#include <leakwatch/json_arena.h>
#include <leakwatch/ledger.h>
#include <leakwatch/log.h>
#include <leakwatch/otlp_config.h>
#include <leakwatch/out.h>
#include <leakwatch/pages.h>
#include <leakwatch/state.h>
#include <leakwatch/telemetry_events.h>
#include <leakwatch/text.h>
#include <leakwatch/trend.h>
#include <leakwatch/verdict.h>

/* the pipeline's one line buffer holds the alert line as well */
_Static_assert(LW_ALERT_LINE_MAX <= LW_EMF_BUFFER_BYTES, "the alert line fits the EMF buffer");
/* How long one stdout line may wait for the platform to drain the pipe. */
#define OUT_BUDGET_MS 200
/* Records held for their reports, at most: 220 ms of them (the ledger's wait_ms for 100 ms of
 * Telemetry API buffering) at 145 invocations a second. Beyond, the oldest goes out without its
 * report, counted. A record is 10 KB, and only the slots ever used at once are touched. */
#define PENDING_RECORDS 32
/* Interval records (Managed Instances) waiting to be emitted: one a timer period; more only
 * when stdout stalls, and then the oldest gives way (counted in EmfLinesDropped). */
#define READY_INTERVALS 4
/* cJSON's nodes for one EMF line (about 25 KB with a few processes) and for one Telemetry API
 * batch; larger ones overflow to malloc. A batch carries every invocation of its 100 ms: at 60
 * invocations a second, six (about 40 KB of nodes). 32 KB overflowed there, and each overflowed
 * tree then had its nodes freed one by one: 7,000 instructions more per invocation (callgrind).
 * Only what a batch uses becomes resident. */
#define EMIT_ARENA_BYTES (64 * 1024)
#define TELEMETRY_ARENA_BYTES (64 * 1024)

struct lw_pipeline {
    const struct lw_config *config;
    struct lw_health *health;
    struct lw_exporter *exporter; /* owned */
    const struct lw_clock *clock;
    struct lw_emf_options emf;
    struct lw_emf_cache emf_cache; /* emf.cache: used by the emitting thread only */
    struct lw_ledger_config ledger_config;
    bool intervals_mode; /* Managed Instances: interval records, telemetry counted not joined */

    pthread_mutex_t lock; /* guards ledger, intervals, ready, identity, busy */
    struct lw_identity identity;
    struct lw_intervals intervals;
    struct lw_record ready[READY_INTERVALS]; /* interval records to emit, in order */
    size_t ready_head, ready_count;
    pthread_cond_t idle;     /* shutdown: an emitter has drained what was ready */
    pthread_cond_t reported; /* intervals: a request in flight was reported */
    struct lw_ledger *ledger;
    /* A thread is emitting (see emit_ready): the others leave the records to it. */
    bool busy;

    /* the emitting thread only (busy) */
    struct lw_trend *trend;
    struct lw_out out;
    struct lw_health last_health; /* counters at the previous line: lines carry increases */
    uint64_t lines_dropped;       /* EMF lines dropped since stdout last took one */
    /* LW_EMF_BUFFER_BYTES: any EMF line, and the alert line (LW_ALERT_LINE_MAX) */
    char *line;
    struct lw_record rec; /* the record being emitted: too large for the stack of a thread */
    struct lw_identity rec_identity; /* the identity it is emitted under */
    uint32_t trend_restores;         /* restores the trend engine was made for */
    struct lw_json_arena emit_arena;

    /* telemetry thread only */
    struct lw_json_arena telemetry_arena;

    /* the state file (state.h): kept by every thread that adds or emits, under state_lock */
    pthread_mutex_t state_lock;
    struct lw_state state;
    struct lw_state_writer state_writer;
    bool state_dirty; /* changed since the file was last written */
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

/*
 * The record carries the identity the environment has when it is emitted: the platform's
 * instanceId may come after the boundary opened it, and after a SnapStart restore every record
 * belongs to the restored environment (its first is no cold start: it was restored).
 */
static void apply_identity(struct lw_record *rec, const struct lw_identity *id)
{
    lw_text_copy(rec->env_id, sizeof(rec->env_id), id->env_id);
    if (id->restored) {
        rec->restored = true;
        rec->cold_start = false;
    }
}

/* The trend engine, made anew for an environment restored from a SnapStart snapshot: its
 * warm-up then also covers the pages that come back from the snapshot as they are first used. */
static struct lw_trend *new_trend(const struct lw_config *cfg, bool restored)
{
    struct lw_trend_config tc = lw_trend_config_default();
    tc.warmup_invocations = cfg->warmup_invocations;
    if (restored && cfg->restore_warmup_invocations > tc.warmup_invocations)
        tc.warmup_invocations = cfg->restore_warmup_invocations;
    tc.recycle_horizon_minutes = cfg->recycle_horizon_minutes;
    return lw_trend_new(&tc);
}

/* ---- the state file ---------------------------------------------------------------------- */

/* The identity the state is kept under: the environment's, which a restore renews. */
static void state_identity(struct lw_state *s, const struct lw_identity *id)
{
    lw_text_copy(s->env_id, sizeof(s->env_id), id->env_id);
    s->started_ms = id->since_ms;
    s->restored = id->restored;
}

static void state_write(struct lw_pipeline *p)
{
    lw_state_writer_write(&p->state_writer, &p->state);
    p->state_dirty = false;
}

/*
 * At start: the previous environment of this sandbox, if its file is here, is told in one death
 * line, then this environment's own file is begun. Runs before any other thread can emit, so
 * the line goes to stdout directly. A file that cannot be used is said once and removed.
 */
static void state_begin(struct lw_pipeline *p, const struct lw_config *cfg)
{
    p->state_writer.fd = -1;
    if (!cfg->state_file)
        return;
    struct lw_state prev;
    const char *why = NULL;
    enum lw_err err = lw_state_file_take(cfg->state_path, &prev, &why);
    if (err == LW_ERR_INVALID) {
        lw_warn("previous environment's state file ignored: %s", why ? why : "unusable");
    } else if (err == LW_OK && (strcmp(prev.function_name, cfg->function_name) != 0 ||
                                strcmp(prev.function_version, cfg->function_version) != 0)) {
        /* the names are the function's to choose: not repeated in the log */
        lw_warn("previous environment's state file ignored: it is of another function");
    } else if (err == LW_OK) {
        struct lw_death death;
        lw_death_assess(&prev, &death);
        lw_info("the previous environment of this sandbox ended: %s after %llu invocations%s",
                lw_death_cause_name(death.cause), (unsigned long long)death.invocations,
                death.cause != LW_DEATH_OUT_OF_MEMORY ? ""
                : death.predicted                     ? " (predicted)"
                                                      : " (not predicted)");
        struct lw_emf_death e = {
            .time_ms = lw_clock_wall_ms(p->clock),
            .env_id = p->identity.env_id,
            .dead = &prev,
            .death = &death,
        };
        size_t len = 0;
        if ((cfg->exports & LW_EXPORT_EMF) &&
            lw_emf_encode_death(&p->emf, &e, p->line, LW_EMF_BUFFER_BYTES, &len) == LW_OK)
            emit_line(p, p->line, len);
    }
    if (!lw_state_writer_open(&p->state_writer, cfg->state_path))
        return;
    snprintf(p->state.function_name, sizeof(p->state.function_name), "%s", cfg->function_name);
    snprintf(p->state.function_version, sizeof(p->state.function_version), "%s",
             cfg->function_version);
    p->state.memory_limit_bytes = cfg->memory_limit_bytes;
    state_identity(&p->state, &p->identity);
    state_write(p);
}

/* A record closed at a boundary: kept now, and written with the verdict of the record that goes
 * out next (or by state_flush when none is waiting), so a boundary costs one write of the file,
 * not two. */
static void state_record(struct lw_pipeline *p, const struct lw_record *rec,
                         const struct lw_identity *id)
{
    if (p->state_writer.fd < 0)
        return;
    pthread_mutex_lock(&p->state_lock);
    state_identity(&p->state, id);
    lw_state_on_record(&p->state, rec);
    p->state_dirty = true;
    pthread_mutex_unlock(&p->state_lock);
}

static void state_flush(struct lw_pipeline *p)
{
    if (p->state_writer.fd < 0)
        return;
    pthread_mutex_lock(&p->state_lock);
    if (p->state_dirty)
        state_write(p);
    pthread_mutex_unlock(&p->state_lock);
}

/* A record assessed, by the thread that emitted it. */
static void state_verdict(struct lw_pipeline *p, const struct lw_record *rec,
                          const struct lw_verdict *v)
{
    if (p->state_writer.fd < 0)
        return;
    pthread_mutex_lock(&p->state_lock);
    lw_state_on_verdict(&p->state, rec, v);
    state_write(p);
    pthread_mutex_unlock(&p->state_lock);
}

/* SHUTDOWN: how it ended, written as soon as it is known (a leakwatch killed while it flushes
 * has said it), then again once every record is emitted with Lambda's last report (last), and
 * the file is left for the next environment. */
static void state_end(struct lw_pipeline *p, const char *reason, uint64_t now_ms, bool last)
{
    if (p->state_writer.fd < 0)
        return;
    pthread_mutex_lock(&p->state_lock);
    p->state.ended = true;
    p->state.ended_ms = now_ms;
    snprintf(p->state.shutdown_reason, sizeof(p->state.shutdown_reason), "%s",
             reason ? reason : "");
    state_write(p);
    if (last)
        lw_state_writer_close(&p->state_writer);
    pthread_mutex_unlock(&p->state_lock);
}

static void emit_record(struct lw_pipeline *p, struct lw_record *rec)
{
    apply_identity(rec, &p->rec_identity);
    if (p->rec_identity.restores != p->trend_restores) {
        struct lw_trend *t = new_trend(p->config, true);
        if (t != NULL) {
            lw_trend_free(p->trend);
            p->trend = t;
        }
        p->trend_restores = p->rec_identity.restores;
    }
    lw_json_arena_enter(&p->emit_arena);
    struct lw_verdict verdict;
    lw_trend_add(p->trend, rec, &verdict);
    /* Every record that goes out incomplete counts once, whatever it lacks. The ledger counts
     * those it marks itself (no platform report); the memory half's own gaps are counted here,
     * before the counters are read, so that this record's line carries its own count. */
    if (rec->gaps != 0 && !(rec->gaps & LW_GAP_TELEMETRY))
        lw_health_add(p->health, LW_H_RECORDS_INCOMPLETE, 1);

    struct lw_health now, delta;
    lw_health_read(p->health, &now);
    for (int i = 0; i < LW_H_COUNT; i++)
        delta.c[i] = now.c[i] - p->last_health.c[i];
    p->last_health = now;

    size_t len = 0;
    if (p->config->exports & LW_EXPORT_EMF) {
        enum lw_err err = lw_emf_encode_record(&p->emf, rec, &verdict, &delta, p->line,
                                               LW_EMF_BUFFER_BYTES, &len);
        if (err == LW_OK)
            emit_line(p, p->line, len);
        else {
            lw_health_add(p->health, LW_H_EMF_DROPPED, 1);
            lw_warn("EMF record %llu not written: %s", (unsigned long long)rec->seq,
                    lw_err_str(err));
        }
    }
    if (verdict.changed && (p->config->exports & LW_EXPORT_EMF) &&
        lw_alert_line(&verdict, p->config->function_name, rec->env_id, rec->seq,
                      &rec->runtime.sites, p->line, LW_EMF_BUFFER_BYTES, &len) == LW_OK)
        emit_line(p, p->line, len);
    lw_json_arena_leave(&p->emit_arena);
    state_verdict(p, rec, &verdict);
    if (p->exporter != NULL)
        lw_exporter_enqueue(p->exporter, rec, &verdict);
}

/*
 * Emits every record that is ready, in order, on the calling thread (lock held; it is let go
 * around each record). Whichever thread completes a record emits it: the main thread at a
 * boundary (after event/next is already out), the listener's when a report completes one, the
 * ticker's on Managed Instances. No thread of its own, so no wake-up and no hand-off per
 * record. One thread emits at a time: one that finds another emitting leaves its records to
 * it, and the emitting thread looks again before it stops. With a deadline (epoch ms, 0: none)
 * it stops taking records there and no line waits for stdout past it. Returns false when it
 * stopped at the deadline with records still ready.
 */
static bool emit_ready(struct lw_pipeline *p, uint64_t deadline_ms)
{
    if (p->busy)
        return true;
    p->busy = true;
    bool done = true;
    for (;;) {
        bool have = false;
        if (deadline_ms != 0) {
            uint64_t now = lw_clock_wall_ms(p->clock);
            if (now >= deadline_ms) {
                done = p->ready_count == 0 && !lw_ledger_ready(p->ledger);
                break;
            }
            uint64_t left = deadline_ms - now;
            lw_out_set_budget(&p->out, left < OUT_BUDGET_MS ? (uint32_t)left : OUT_BUDGET_MS);
        }
        if (p->ready_count > 0) {
            p->rec = p->ready[p->ready_head];
            p->ready_head = (p->ready_head + 1) % READY_INTERVALS;
            p->ready_count--;
            have = true;
        } else {
            have = lw_ledger_take(p->ledger, &p->rec);
        }
        if (!have)
            break;
        p->rec_identity = p->identity;
        pthread_mutex_unlock(&p->lock);
        emit_record(p, &p->rec);
        pthread_mutex_lock(&p->lock);
    }
    p->busy = false;
    pthread_cond_broadcast(&p->idle);
    return done;
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
    struct lw_pipeline *p = lw_pages_alloc(sizeof(*p));
    if (p == NULL) {
        lw_exporter_free(cfg->exporter);
        return NULL;
    }
    p->state_writer.fd = -1;
    p->config = cfg->config;
    p->health = health;
    p->exporter = cfg->exporter;
    if (p->exporter == NULL && (cfg->config->exports & LW_EXPORT_OTLP) && cfg->getenv_fn != NULL)
        p->exporter = start_exporter(cfg, health);
    p->clock = lw_clock_or_system(cfg->clock);
    lw_identity_init(&p->identity, cfg->env_id, cfg->process_start_ms);
    /* A restore can happen on SnapStart, and wherever the platform does not say which mode this
     * is: that AWS_LAMBDA_INITIALIZATION_TYPE reaches extensions is documented for Managed
     * Instances only, and a restore refused for want of it would leave restored environments
     * one identity. */
    p->identity.restorable =
        cfg->config->mode == LW_MODE_SNAPSTART || !cfg->config->initialization_type_set;
    p->intervals_mode = cfg->intervals;
    if (cfg->intervals) /* else its 12 KiB of slots are never touched */
        lw_intervals_init(&p->intervals, cfg->intervals_seed, cfg->config->interval_ms);
    p->emf.namespace_ = cfg->config->emf_namespace;
    p->emf.function_name = cfg->config->function_name;
    p->emf.function_version = cfg->config->function_version;
    p->emf.version_dimension = cfg->config->version_dimension;
    p->emf.cache = &p->emf_cache;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->idle, NULL);
    pthread_cond_init(&p->reported, NULL);

    lw_ledger_config_init(&p->ledger_config);
    p->ledger_config.max_pending = PENDING_RECORDS;
    p->ledger_config.telemetry_expected = cfg->telemetry_expected;
    p->ledger_config.wait_invocations = cfg->config->report_wait_invocations;
    /* a batch holds the reports of every invocation that ended within the buffering timeout */
    p->ledger_config.wait_ms = 2 * (uint64_t)cfg->config->telemetry_timeout_ms + 20;
    p->ledger_config.ids_from_start = cfg->ids_from_start;
    p->ledger = lw_ledger_new(&p->ledger_config, health);
    p->trend = new_trend(cfg->config, false);
    p->line = malloc(LW_EMF_BUFFER_BYTES);
    /* without its arena a thread's cJSON simply uses malloc */
    lw_json_arena_init(&p->emit_arena, EMIT_ARENA_BYTES);
    lw_json_arena_init(&p->telemetry_arena, TELEMETRY_ARENA_BYTES);
    lw_out_init(&p->out, cfg->out_fd, OUT_BUDGET_MS);
    pthread_mutex_init(&p->state_lock, NULL);
    if (p->ledger == NULL || p->trend == NULL || p->line == NULL)
        goto fail;
    state_begin(p, cfg->config);
    return p;
fail:
    lw_pipeline_free(p);
    return NULL;
}

/* An interval record with its platform part, to emit (lock held). */
static void add_interval(struct lw_pipeline *p, const struct lw_record *rec)
{
    if (p->ready_count == READY_INTERVALS) {
        /* the emitting thread is stuck (stdout full): the oldest gives way, counted as a dropped
         * line */
        p->ready_head = (p->ready_head + 1) % READY_INTERVALS;
        p->ready_count--;
        lw_health_add(p->health, LW_H_EMF_DROPPED, 1);
    }
    struct lw_record *slot = &p->ready[(p->ready_head + p->ready_count) % READY_INTERVALS];
    *slot = *rec;
    lw_intervals_take(&p->intervals, &slot->interval);
    /* a request whose report never came: its telemetry is lost, and said so */
    if (slot->interval.given_up > 0)
        lw_health_add(p->health, LW_H_LEDGER_EVICTED, slot->interval.given_up);
    p->ready_count++;
}

void lw_pipeline_add_record(struct lw_pipeline *p, const struct lw_record *rec)
{
    pthread_mutex_lock(&p->lock);
    if (rec->kind == LW_RECORD_INTERVAL)
        add_interval(p, rec);
    else
        lw_ledger_add_record(p->ledger, rec);
    struct lw_identity id = p->identity;
    state_record(p, rec, &id);
    emit_ready(p, 0);
    /* A record waiting for its report is written with its verdict, as soon as the listener
     * has the batch (usually already in its socket); only a record that went out without it,
     * or none, leaves the file to this write. */
    bool waiting = lw_ledger_has_pending(p->ledger);
    pthread_mutex_unlock(&p->lock);
    if (!waiting)
        state_flush(p);
    if (p->exporter != NULL)
        lw_exporter_notify(p->exporter); /* thawed now: a good moment to send */
}

/*
 * platform.initStart and restoreStart name the environment (lock held), through the identity's
 * own filter (identity.h): what it refuses is counted and said without the id, whose bytes a
 * stranger may have chosen.
 */
static void identity_event(struct lw_pipeline *p, const struct lw_platform_event *ev)
{
    enum lw_identity_outcome o = LW_IDENTITY_KEPT;
    const char *instance_id = (ev->fields & LW_EVF_INSTANCE_ID) ? ev->instance_id : NULL;
    if (ev->type == LW_EV_INIT_START) {
        o = lw_identity_on_init_start(&p->identity, instance_id);
    } else if (ev->type == LW_EV_RESTORE_START) {
        char own[LW_ENV_ID_MAX] = "";
        if (instance_id == NULL)
            lw_identity_new_env_id(own, sizeof(own));
        uint64_t at = (ev->fields & LW_EVF_TIME) ? ev->time_ms : lw_clock_wall_ms(p->clock);
        o = lw_identity_on_restore(&p->identity, instance_id, own, at);
        /* the id is printable ASCII now: checked by the filter, or made by leakwatch */
        if (o == LW_IDENTITY_CHANGED)
            lw_info("restored from a SnapStart snapshot: environment %s", p->identity.env_id);
    } else {
        return;
    }
    if (o == LW_IDENTITY_REFUSED) {
        lw_health_add(p->health, LW_H_TELEMETRY_EVENTS_REJECTED, 1);
        lw_debug("pipeline: 1 %s not counted", lw_platform_event_type_name(ev->type));
    }
    if (o == LW_IDENTITY_CHANGED && p->exporter != NULL)
        lw_exporter_set_instance(p->exporter, p->identity.env_id);
}

void lw_pipeline_invoke(struct lw_pipeline *p, const char *request_id)
{
    pthread_mutex_lock(&p->lock);
    lw_ledger_expect(p->ledger, request_id);
    pthread_mutex_unlock(&p->lock);
    /* The invocation it opens, kept for the death line should the environment end in it. The
     * boundary's record write follows at once and carries it; only the first INVOKE, which
     * closes no record, writes it itself. */
    if (p->state_writer.fd < 0)
        return;
    pthread_mutex_lock(&p->state_lock);
    lw_state_on_invoke(&p->state, request_id);
    if (p->state.last_seq == 0)
        state_write(p);
    pthread_mutex_unlock(&p->state_lock);
}

static void on_event(void *ctx, const struct lw_platform_event *ev)
{
    struct lw_pipeline *p = ctx;
    pthread_mutex_lock(&p->lock);
    identity_event(p, ev);
    if (!p->intervals_mode) {
        lw_ledger_add_event(p->ledger, ev);
    } else {
        enum lw_intervals_outcome o = lw_intervals_event(&p->intervals, ev);
        /* a report for a request never started, or a second one: not the platform's */
        if (o == LW_INTERVALS_UNSTARTED || o == LW_INTERVALS_REPEATED)
            lw_health_add(p->health, LW_H_TELEMETRY_EVENTS_REJECTED, 1);
        else if (o == LW_INTERVALS_FULL)
            lw_health_add(p->health, LW_H_TELEMETRY_LATE, 1);
        else if (o == LW_INTERVALS_COUNTED)
            pthread_cond_broadcast(&p->reported);
    }
    pthread_mutex_unlock(&p->lock);
}

void lw_pipeline_add_telemetry(struct lw_pipeline *p, const char *body, size_t len)
{
    lw_json_arena_enter(&p->telemetry_arena);
    lw_telemetry_events_parse(body, len, on_event, p, p->health);
    lw_json_arena_leave(&p->telemetry_arena);
    pthread_mutex_lock(&p->lock);
    emit_ready(p, 0);
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

/* Lock held. Until nothing is pending or the deadline: what becomes ready meanwhile (the
 * listener's thread completes it) is emitted by that thread, or here if it found this one
 * emitting. */
static bool wait_idle(struct lw_pipeline *p, uint64_t deadline_ms)
{
    struct timespec until;
    abs_deadline(p, &until, deadline_ms);
    for (;;) {
        emit_ready(p, deadline_ms);
        if (!p->busy && p->ready_count == 0 && !lw_ledger_has_pending(p->ledger))
            return true;
        if (pthread_cond_timedwait(&p->idle, &p->lock, &until) == ETIMEDOUT)
            return false;
    }
}

void lw_pipeline_settle(struct lw_pipeline *p, uint64_t now_ms, uint64_t deadline_ms)
{
    if (!p->intervals_mode || !p->ledger_config.telemetry_expected)
        return;
    /* The same share of the budget the join gives the last report on demand. */
    uint64_t left = deadline_ms > now_ms ? deadline_ms - now_ms : 0;
    uint64_t wait = left / 2 < 1000 ? left / 2 : 1000;
    struct timespec until;
    abs_deadline(p, &until, now_ms + wait);
    pthread_mutex_lock(&p->lock);
    while (lw_intervals_in_flight(&p->intervals) > 0) {
        if (pthread_cond_timedwait(&p->reported, &p->lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&p->lock);
}

void lw_pipeline_shutdown(struct lw_pipeline *p, const char *reason, const char *category,
                          uint64_t invocations, uint64_t now_ms, uint64_t deadline_ms)
{
    /* The platform.report of the last invocation is produced only after every extension has
     * called event/next, so it arrives during SHUTDOWN: give it part of the budget (at most
     * half of what is left, and never more than a second), then emit whatever is still
     * waiting, marked incomplete. */
    uint64_t left = deadline_ms > now_ms ? deadline_ms - now_ms : 0;
    uint64_t report_wait = left / 2 < 1000 ? left / 2 : 1000;
    state_end(p, reason, now_ms, false);
    pthread_mutex_lock(&p->lock);
    if (p->ledger_config.telemetry_expected && !p->intervals_mode)
        wait_idle(p, now_ms + report_wait);
    lw_ledger_flush(p->ledger);
    bool drained = wait_idle(p, deadline_ms);
    pthread_mutex_unlock(&p->lock);
    if (!drained) {
        state_end(p, reason, now_ms, true);
        lw_warn("shutdown deadline reached with records still pending");
        return; /* the thread emitting may be stuck on stdout: its last line is not waited for */
    }
    state_end(p, reason, now_ms, true);

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
        pthread_mutex_lock(&p->lock);
        struct lw_identity id = p->identity;
        pthread_mutex_unlock(&p->lock);
        struct lw_emf_shutdown s = {
            .time_ms = now_ms,
            .env_id = id.env_id,
            .reason = reason,
            .category = category,
            /* the age of this environment: since init, or since the restore */
            .lifetime_seconds = now_ms > id.since_ms ? (double)(now_ms - id.since_ms) / 1000.0 : 0,
            .invocations = invocations,
        };
        size_t len = 0;
        if (lw_emf_encode_shutdown(&p->emf, &s, &delta, p->line, LW_EMF_BUFFER_BYTES, &len) ==
            LW_OK)
            emit_line(p, p->line, len);
    }
}

void lw_pipeline_free(struct lw_pipeline *p)
{
    if (p == NULL)
        return;
    lw_exporter_free(p->exporter);
    lw_ledger_free(p->ledger);
    lw_trend_free(p->trend);
    lw_out_clean_up(&p->out);
    lw_json_arena_clean_up(&p->emit_arena);
    lw_json_arena_clean_up(&p->telemetry_arena);
    free(p->line);
    lw_state_writer_close(&p->state_writer);
    pthread_mutex_destroy(&p->state_lock);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->reported);
    lw_pages_free(p, sizeof(*p));
}
