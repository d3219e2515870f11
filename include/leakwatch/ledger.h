/*
 * The ledger joins the two halves of an invocation's record by request id: the memory half
 * (struct lw_record, closed by leakwatch at the next boundary) and the platform half (the
 * Telemetry API's platform.start / runtimeDone / report), and hands out completed records
 * strictly in sequence order, each exactly once.
 *
 * Why a join with a bounded wait: Lambda produces platform.report for invocation N only after
 * every extension has called Next, and delivers telemetry only while the environment is thawed,
 * so the report of N arrives at the start of N+1 (or during SHUTDOWN), before or after leakwatch
 * closes record N. A record therefore waits for its report until `wait_invocations` newer
 * records have been closed; then it is emitted without it, marked LW_GAP_TELEMETRY. No timer is
 * involved: nothing runs while the environment is frozen.
 *
 * Pure and single-threaded: the caller holds one mutex around every call. No clock, no I/O, and
 * no allocation after lw_ledger_new().
 */
#ifndef LEAKWATCH_LEDGER_H
#define LEAKWATCH_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/health.h>
#include <leakwatch/record.h>
#include <leakwatch/telemetry_events.h>

#define LW_LEDGER_DEFAULT_MAX_PENDING 16
#define LW_LEDGER_MAX_PENDING_CAP 1024

struct lw_ledger_config {
    /*
     * Bound of the join table: records held (closed, not yet taken) and, separately, request
     * ids seen only in telemetry so far. Raised to wait_invocations + 2 when lower.
     */
    size_t max_pending;
    /* false when the subscription failed: a record is complete once its memory half is in. */
    bool telemetry_expected;
    /* How many newer records a record waits for before it is emitted without its report. */
    unsigned wait_invocations;
};

/* Defaults: max_pending 16, telemetry expected, wait_invocations 1. */
void lw_ledger_config_init(struct lw_ledger_config *cfg);

struct lw_ledger;

/* NULL when out of memory (logged). health is kept and must outlive the ledger. */
struct lw_ledger *lw_ledger_new(const struct lw_ledger_config *cfg, struct lw_health *health);
void lw_ledger_free(struct lw_ledger *ledger);

/*
 * Add a record whose memory half is closed. Records arrive in seq order. rec->platform is
 * ignored: the ledger fills it from the platform events held for the request id. The caller drains
 * lw_ledger_take() after each call: when max_pending records are held, the oldest is made ready at
 * once (emitted incomplete if its report is missing), so a drained ledger never has to drop a
 * record.
 */
void lw_ledger_add_record(struct lw_ledger *ledger, const struct lw_record *rec);

/*
 * Add one platform event, in any order relative to the records. Events without a request id are
 * ignored, except platform.initReport, whose durationMs is kept for the cold-start record (when
 * its report carries no initDurationMs). Events for a record already taken count
 * LW_H_TELEMETRY_LATE. Events for ids not yet seen are held; when max_pending ids are held, the
 * oldest is evicted (LW_H_LEDGER_EVICTED). Duplicates overwrite with the same values.
 */
void lw_ledger_add_event(struct lw_ledger *ledger, const struct lw_platform_event *ev);

/*
 * Copy the next record ready to emit into *out and forget it; false when the oldest held record
 * is not ready yet (or none is held). Strictly in seq order, each record exactly once. A record
 * is ready when its platform.report is in, when telemetry is not expected, when wait_invocations
 * newer records have been added, or after lw_ledger_flush(). A record emitted without its report
 * (while telemetry is expected) gets LW_GAP_TELEMETRY and counts LW_H_RECORDS_INCOMPLETE.
 */
bool lw_ledger_take(struct lw_ledger *ledger, struct lw_record *out);

/*
 * SHUTDOWN: every held record becomes ready, and so does every record added later. Telemetry
 * still arriving for a held record is merged until it is taken.
 */
void lw_ledger_flush(struct lw_ledger *ledger);

/* Whether lw_ledger_take() would return a record now. */
bool lw_ledger_ready(const struct lw_ledger *ledger);

/* Whether any record is held (ready or not). */
bool lw_ledger_has_pending(const struct lw_ledger *ledger);

#endif
