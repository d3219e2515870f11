/*
 * From closed records to shipped metrics. The pipeline owns the one shared structure (the
 * ledger, behind one mutex) and has no thread of its own. The boundary hands it each record
 * whose memory half is closed, the listener the platform's events; the call that completes a
 * record (or makes one ready) emits it, in sequence order, on the caller's thread: the trend
 * engine, the EMF and alert lines, the OTLP queue. One thread emits at a time; a caller that
 * finds another emitting leaves its records to it and returns at once.
 */
#ifndef LEAKWATCH_PIPELINE_H
#define LEAKWATCH_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/config.h>
#include <leakwatch/health.h>
#include <leakwatch/record.h>

struct lw_clock;
struct lw_exporter;

struct lw_pipeline_config {
    const struct lw_config *config;
    bool telemetry_expected; /* the Telemetry API subscription succeeded */
    /* No INVOKE events (Lambda Managed Instances): request ids become known from platform.start
     * (the ledger's ids_from_start). */
    bool ids_from_start;
    /*
     * The OTLP exporter. With LW_EXPORT_OTLP in config->exports, the pipeline makes and owns
     * it: its settings come from the OTEL_* variables read through getenv_fn, and it is queued
     * every record, woken at each boundary, flushed at SHUTDOWN and freed with the pipeline.
     * A test may hand in its own exporter instead; it is then owned by the pipeline as well
     * (also when lw_pipeline_new fails).
     */
    struct lw_exporter *exporter;
    lw_getenv_fn getenv_fn;
    void *getenv_ctx;
    int out_fd;         /* where EMF and alert lines go (stdout) */
    const char *env_id; /* leakwatch's own id; copied (the platform's may replace it) */
    uint64_t process_start_ms;
    /* Records are intervals on a timer (Managed Instances, or any platform without INVOKE):
     * platform.start/report are counted per interval instead of joined to a record. */
    bool intervals;
    uint64_t intervals_seed;      /* random bits: request ids are hashed with them */
    const struct lw_clock *clock; /* NULL: the system clock */
};

struct lw_pipeline;

struct lw_pipeline *lw_pipeline_new(const struct lw_pipeline_config *cfg, struct lw_health *health);

/* Main thread: the memory half of rec is closed (at the next boundary). Never blocks. The
 * environment is thawed now, so the exporter (if any) is woken to send. */
void lw_pipeline_add_record(struct lw_pipeline *p, const struct lw_record *rec);

/* Main thread, at an INVOKE (after event/next went out): the platform events of request_id are
 * plausible from now on (lw_ledger_expect). Takes the mutex for a copy; never blocks. */
void lw_pipeline_invoke(struct lw_pipeline *p, const char *request_id);

/* Telemetry thread: one batch body as delivered by the Telemetry API. */
void lw_pipeline_add_telemetry(struct lw_pipeline *p, const char *body, size_t len);

/* At init, when the Telemetry API subscription failed: records complete without waiting. */
void lw_pipeline_set_telemetry_expected(struct lw_pipeline *p, bool expected);

/*
 * SHUTDOWN on Managed Instances, before the last reading: waits until every request started is
 * reported (platform.report), for at most half of what is left of the budget and never more
 * than a second, so that the last interval counts them. Returns at once in other modes.
 */
void lw_pipeline_settle(struct lw_pipeline *p, uint64_t now_ms, uint64_t deadline_ms);

/*
 * SHUTDOWN: everything pending is emitted (incomplete records say so), the OTLP exporter (if
 * any) is flushed so that its drops are counted in time, then the shutdown line
 * with the environment's age, invocation count, the reason as the platform sent it and
 * leakwatch's category of it ("spindown", "timeout", "failure"). Returns when done or at
 * deadline_ms (epoch), whichever comes first; no line waits for stdout past the deadline.
 */
void lw_pipeline_shutdown(struct lw_pipeline *p, const char *reason, const char *category,
                          uint64_t invocations, uint64_t now_ms, uint64_t deadline_ms);

/* Frees everything; call after lw_pipeline_shutdown. */
void lw_pipeline_free(struct lw_pipeline *p);

#endif
