/*
 * The ledger joins the two halves of an invocation's record by request id: the memory half
 * (struct lw_record, closed by leakwatch at the next boundary) and the platform half (the
 * Telemetry API's platform.start / runtimeDone / report), and hands out completed records
 * strictly in sequence order, each exactly once.
 *
 * Why a join with a bounded wait: Lambda produces platform.report for invocation N only after
 * every extension has called Next, and delivers telemetry only while the environment is thawed,
 * so the report of N arrives at the start of N+1 (or during SHUTDOWN), before or after leakwatch
 * closes record N; and a batch carries the reports of every invocation that ended within the
 * subscription's buffering timeout, so at a high invocation rate a report comes several records
 * later. A record therefore waits for its report until `wait_invocations` newer records have
 * been closed and one that ended `wait_ms` after it (the buffering timeout and some to spare);
 * then it is emitted without it, marked LW_GAP_TELEMETRY, or sooner when max_pending records
 * are held. The wait costs nothing while reports come: a record goes out as soon as it is
 * joined. No timer is involved: the time is the records' own (end_time_ms), and nothing runs
 * while the environment is frozen.
 *
 * Why a plausibility filter: the listener's port is reachable by every process in the sandbox
 * (the function runs user input; other vendors' extensions run beside it), and its figures page
 * people. The unguessable subscription path keeps strangers out; the ledger is the second wall,
 * for whatever gets past the first. An event counts only when it fits what leakwatch already
 * knows:
 *  - platform.start, runtimeDone and report only for a request id leakwatch was told of itself:
 *    by an INVOKE from the Extensions API (lw_ledger_expect), by a record it closed, or, where
 *    there is no INVOKE (Lambda Managed Instances, `ids_from_start`), by the platform.start that
 *    announces it; and each of them at most once per id: the first one wins.
 *  - platform.initReport at most once per environment, for the init phase, with a duration
 *    inside the longest init Lambda allows.
 *  - platform.logsDropped only for as many records as the platform can have produced since the
 *    previous one (leakwatch subscribes to platform events alone, a handful per invocation).
 * What fails is counted in LW_H_TELEMETRY_EVENTS_REJECTED and changes no record and no other
 * counter.
 *
 * An event may overtake the INVOKE it belongs to (the batch that carries the previous report can
 * carry the new platform.start too, and both threads wake at the thaw): events for an id not
 * known yet wait in a small quarantine. The id's INVOKE claims them; otherwise they are judged
 * implausible after the next INVOKE, at SHUTDOWN (lw_ledger_flush), or when newer unknown ids
 * push them out. The quarantine is separate from the ids leakwatch knows, so a flood of made-up
 * ids only ever pushes out made-up ids.
 *
 * Pure and single-threaded: the caller holds one mutex around every call. No clock, no I/O, and
 * no allocation after lw_ledger_new(). Every table is bounded by max_pending and every call is
 * a scan of a few such tables.
 */
#ifndef LEAKWATCH_LEDGER_H
#define LEAKWATCH_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/health.h>
#include <leakwatch/record.h>
#include <leakwatch/telemetry_events.h>

#define LW_LEDGER_DEFAULT_MAX_PENDING 32
#define LW_LEDGER_MAX_PENDING_CAP 1024
/*
 * The longest init a platform.initReport may report: Lambda Managed Instances allow 15 minutes
 * (on-demand functions 10 s, provisioned concurrency and SnapStart longer).
 */
#define LW_LEDGER_INIT_MAX_MS (15.0 * 60 * 1000)
/*
 * How many records a platform.logsDropped may say were dropped. leakwatch subscribes to platform
 * events alone: at init two per extension (platform.extension, telemetrySubscription; a
 * function has at most 10 extensions) besides initStart, initRuntimeDone and initReport, well
 * under LW_LEDGER_DROPPED_INIT_MAX; per invocation start, runtimeDone, report and, with
 * SnapStart, the restore events, under LW_LEDGER_DROPPED_PER_INVOKE_MAX. The platform can only
 * drop what it produced since it last said so: a logsDropped may say at most the per-invocation
 * allowance for every request id known since the previous one, plus one more for the invocation
 * under way, plus the init allowance until a first logsDropped has used it.
 */
#define LW_LEDGER_DROPPED_INIT_MAX 64u
#define LW_LEDGER_DROPPED_PER_INVOKE_MAX 8u

struct lw_ledger_config {
    /*
     * Bound of each table: records held (closed, not yet taken), request ids known and not
     * closed yet, events waiting in quarantine, ids of the last records taken. Raised to
     * wait_invocations + 2 when lower.
     */
    size_t max_pending;
    /* false when the subscription failed: a record is complete once its memory half is in. */
    bool telemetry_expected;
    /* How many newer records a record waits for before it is emitted without its report. */
    unsigned wait_invocations;
    /* And how much later a newer record must have ended, in ms: 0 for no such wait. */
    uint64_t wait_ms;
    /*
     * No INVOKE events on this platform (Lambda Managed Instances): a platform.start makes its
     * request id known. The filter is then only as strong as the subscription's secret path.
     * Quarantined events wait until pushed out or flushed (requests run concurrently there, and
     * a report may come before its start).
     */
    bool ids_from_start;
};

/* Defaults: max_pending 32, telemetry expected, wait_invocations 1, wait_ms 0, ids from
 * INVOKE. */
void lw_ledger_config_init(struct lw_ledger_config *cfg);

struct lw_ledger;

/* NULL when out of memory (logged). health is kept and must outlive the ledger. */
struct lw_ledger *lw_ledger_new(const struct lw_ledger_config *cfg, struct lw_health *health);
void lw_ledger_free(struct lw_ledger *ledger);

/*
 * An INVOKE for request_id arrived from the Extensions API (main thread, after event/next went
 * out): its events are plausible from now on, and any already waiting in quarantine are claimed.
 * Known ids are bounded by max_pending; when full the oldest is forgotten (LW_H_LEDGER_EVICTED).
 * Quarantined events older than the previous INVOKE are judged implausible. "" is ignored.
 */
void lw_ledger_expect(struct lw_ledger *ledger, const char *request_id);

/*
 * Add a record whose memory half is closed. Records arrive in seq order. rec->platform is
 * ignored: the ledger fills it from the platform events held for the request id (known or, since
 * the record proves the id, in quarantine). The caller drains
 * lw_ledger_take() after each call: when max_pending records are held, the oldest is made ready at
 * once (emitted incomplete if its report is missing), so a drained ledger never has to drop a
 * record.
 */
void lw_ledger_add_record(struct lw_ledger *ledger, const struct lw_record *rec);

/*
 * Add one platform event, in any order relative to the records, through the plausibility filter
 * above. platform.initReport's durationMs is kept for the cold-start record (when its report
 * carries no initDurationMs); a suppressed init (phase "invoke") is not a cold start and is
 * ignored. platform.logsDropped adds its droppedRecords to LW_H_TELEMETRY_DROPPED. An event for
 * a record already taken without it counts LW_H_TELEMETRY_LATE (the first one of its type). Other
 * types are ignored. What the filter refuses counts LW_H_TELEMETRY_EVENTS_REJECTED: a start,
 * runtimeDone or report without a request id, for an id never known, or repeated for its id
 * (before or after its record is taken); an initReport repeated or out of range; a logsDropped
 * beyond what the platform can have produced.
 */
void lw_ledger_add_event(struct lw_ledger *ledger, const struct lw_platform_event *ev);

/*
 * Copy the next record ready to emit into *out and forget it; false when the oldest held record
 * is not ready yet (or none is held). Strictly in seq order, each record exactly once. A record
 * is ready when its platform.report is in, when telemetry is not expected, when the wait's newer
 * records have been added (wait_invocations of them, one wait_ms later), when max_pending records
 * are held, or after lw_ledger_flush(). A record emitted without its report
 * (while telemetry is expected) gets LW_GAP_TELEMETRY and counts LW_H_RECORDS_INCOMPLETE.
 */
bool lw_ledger_take(struct lw_ledger *ledger, struct lw_record *out);

/*
 * SHUTDOWN: every held record becomes ready, and so does every record added later. Telemetry
 * still arriving for a held record is merged until it is taken. No INVOKE comes any more, so
 * what waits in quarantine is judged implausible now, and so is every later event for an id
 * never known.
 */
void lw_ledger_flush(struct lw_ledger *ledger);

/* Whether lw_ledger_take() would return a record now. */
bool lw_ledger_ready(const struct lw_ledger *ledger);

/* Whether any record is held (ready or not). */
bool lw_ledger_has_pending(const struct lw_ledger *ledger);

#endif
