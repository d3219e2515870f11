/*
 * The OTLP delivery thread. The main thread hands it completed records (lw_exporter_enqueue
 * never blocks and never does I/O: a bounded queue, a drop counted when full); the exporter
 * thread batches them, encodes them (<leakwatch/otlp.h>) and POSTs them through the HTTP seam.
 *
 * Lambda freezes the whole environment between invocations, this thread included, so nothing
 * here relies on a timer firing between invocations: the thread sends whenever it is thawed and
 * has records, and a wait that spans a freeze simply ends when the environment is thawed.
 * Being its own thread, it never delays the main thread's event/next.
 *
 * Delivery follows the OTLP/HTTP specification: only 429, 502, 503, 504 and failures without a
 * response are retried, with exponential backoff and jitter or the server's Retry-After, within
 * the export timeout (OTEL_EXPORTER_OTLP_TIMEOUT) and a number of attempts. Anything else drops
 * the batch. Every record dropped is counted in LW_H_OTLP_DROPPED, every request given up in
 * LW_H_OTLP_EXPORTS_FAILED, every point a collector rejects in LW_H_OTLP_REJECTED_POINTS.
 * Header values (API keys) are never logged.
 */
#ifndef LEAKWATCH_EXPORTER_H
#define LEAKWATCH_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include <leakwatch/clock.h>
#include <leakwatch/err.h>
#include <leakwatch/health.h>
#include <leakwatch/http.h>
#include <leakwatch/otlp_config.h>
#include <leakwatch/record.h>
#include <leakwatch/verdict.h>

#define LW_EXPORTER_DEFAULT_QUEUE_CAP 64
#define LW_EXPORTER_DEFAULT_BATCH_MAX 16
#define LW_EXPORTER_DEFAULT_MAX_ATTEMPTS 5
#define LW_EXPORTER_DEFAULT_BACKOFF_BASE_MS 250
#define LW_EXPORTER_DEFAULT_BACKOFF_MAX_MS 4000

struct lw_exporter_config {
    struct lw_otlp_config otlp;   /* endpoint, headers, gzip, timeout, resource */
    size_t queue_cap;             /* records waiting; 0: the default */
    size_t batch_max;             /* records per request; 0: the default */
    uint32_t max_attempts;        /* per request; 0: the default */
    uint32_t backoff_base_ms;     /* 0: the default */
    uint32_t backoff_max_ms;      /* 0: the default */
    uint64_t process_start_ms;    /* epoch ms: the start time of the health sums */
    const struct lw_clock *clock; /* NULL: the system clock */
};

struct lw_exporter;

/*
 * Starts the exporter thread. The exporter owns transport (destroyed by lw_exporter_free) and
 * borrows health, which must outlive it. Returns NULL (logged) when the thread cannot start;
 * the transport is then destroyed.
 */
struct lw_exporter *lw_exporter_new(const struct lw_exporter_config *cfg,
                                    struct lw_http_transport transport, struct lw_health *health);

/*
 * Queues a copy of rec and (optional) verdict. Never blocks on I/O. LW_ERR_FULL when the queue
 * is full or the exporter is shutting down: the record is dropped and counted.
 */
enum lw_err lw_exporter_enqueue(struct lw_exporter *ex, const struct lw_record *rec,
                                const struct lw_verdict *verdict);

/* The environment's identity changed (the platform's instanceId, a SnapStart restore): the
 * resource attribute faas.instance of every later request names env_id. Never blocks on I/O. */
void lw_exporter_set_instance(struct lw_exporter *ex, const char *env_id);

/* Wakes the exporter thread (e.g. right after an INVOKE, when the environment is thawed). */
void lw_exporter_notify(struct lw_exporter *ex);

/*
 * SHUTDOWN: sends what is queued and returns when everything is delivered or at
 * deadline_epoch_ms (wall clock, the SHUTDOWN event's deadline minus a margin), whichever
 * comes first. At the deadline the records still queued and those of the request in flight are
 * counted as dropped, so the counters are final when it returns and the extension can exit
 * (a request in flight cannot be interrupted: do not call lw_exporter_free at SHUTDOWN).
 */
void lw_exporter_flush(struct lw_exporter *ex, uint64_t deadline_epoch_ms);

/*
 * Stops the thread and frees. Blocks until the thread's current attempt ends (at most the export
 * timeout); what is still queued is counted as dropped.
 */
void lw_exporter_free(struct lw_exporter *ex);

/* --- the retry policy, pure (exposed for tests) -------------------------------------------- */

enum lw_retry_action {
    LW_RETRY_DONE = 0, /* delivered (2xx) */
    LW_RETRY_AGAIN,    /* retry after delay_ms */
    LW_RETRY_GIVE_UP,  /* not retryable, out of attempts or out of time: drop */
};

struct lw_retry_policy {
    uint32_t max_attempts;
    uint32_t backoff_base_ms;
    uint32_t backoff_max_ms;
};

struct lw_retry_decision {
    enum lw_retry_action action;
    uint64_t delay_ms;
};

/*
 * What to do after attempt number `attempt` (1 for the first) got HTTP status (0: no response:
 * connection refused, reset, timed out) and the Retry-After header value (NULL or "" when
 * absent; delta-seconds or an IMF-fixdate HTTP-date). now_ms and deadline_ms are on the same
 * clock as the date (epoch ms). random is any 32-bit random value, for the jitter.
 */
struct lw_retry_decision lw_exporter_retry_decision(long status, const char *retry_after,
                                                    uint32_t attempt, uint64_t now_ms,
                                                    uint64_t deadline_ms,
                                                    const struct lw_retry_policy *policy,
                                                    uint32_t random);

#endif
