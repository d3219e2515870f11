/*
 * The record lifecycle at each boundary the platform gives leakwatch. One reading of every
 * process closes the open record and opens the next: at an INVOKE, the reading is both the end
 * of invocation N (the environment was frozen since N ended, so it is exactly what N left
 * behind) and the start of N+1; at SHUTDOWN it closes the last record.
 *
 * The module decides; the world is behind two seams. A reader takes the readings (the real one
 * reads /proc through the process table and runs the fallback sampler; tests hand it prepared
 * snapshots), and a sink receives each closed record and says whether the next platform event
 * is already waiting. The clock is the seam of <leakwatch/clock.h>.
 *
 * The peak: at an INVOKE the reader resets each function process's high-water mark
 * (clear_refs "5"), so its VmHWM at the next boundary is that invocation's exact peak. Where
 * the kernel refuses the reset and LEAKWATCH_PEAK_METHOD is auto, the boundary says so once and
 * starts the reader's sampler for every later invocation.
 */
#ifndef LEAKWATCH_BOUNDARY_H
#define LEAKWATCH_BOUNDARY_H

#include <stdbool.h>
#include <stdint.h>

#include <leakwatch/clock.h>
#include <leakwatch/config.h>
#include <leakwatch/health.h>
#include <leakwatch/record.h>
#include <leakwatch/snapshot.h>

struct lw_boundary_reader {
    /* One reading of every process into *out; with reset_hwm, each function process's
     * high-water mark is reset right after it is read. Returns the outcome of the reset. */
    enum lw_hwm_state (*read)(void *ctx, bool reset_hwm, uint64_t now_ms, uint64_t self_cpu_us,
                              struct lw_snapshot *out);
    /* The fallback peak sampler (all NULL: there is none). start returns false when it
     * cannot run; track gives it the processes of a new record, swap its highest RSS per
     * process of end (indexed like end->procs, 0 where none) for the record being closed. */
    bool (*sampler_start)(void *ctx, uint32_t interval_ms);
    void (*sampler_track)(void *ctx, const struct lw_snapshot *start);
    const uint64_t *(*sampler_swap)(void *ctx, const struct lw_snapshot *end);
    void (*sampler_stop)(void *ctx);
    void *ctx;
};

struct lw_boundary_sink {
    /* A closed record (copied by the callee). */
    void (*emit)(void *ctx, const struct lw_record *rec);
    /* The platform's next event already waits: the invocation ended during the reading. */
    bool (*next_event_waiting)(void *ctx);
    void *ctx;
};

struct lw_boundary_config {
    struct lw_processes *procs; /* the real reader's process table (borrowed) */
    enum lw_peak_mode peak_mode;
    uint32_t sampler_interval_ms;
    const char *env_id; /* borrowed */
    uint64_t memory_limit_bytes;
};

/* A reading that took longer than this was interrupted (a freeze, a long stall): it may have
 * ended after the invocation, and its record says so. A reading takes well under 1 ms. */
#define LW_BOUNDARY_LATE_READING_MS 50

struct lw_boundary;

/* NULL when out of memory. reader NULL: the real one, /proc through cfg->procs and the sampler
 * thread. reader and sink are copied; their contexts, clock and health are borrowed and must
 * outlive it. With LEAKWATCH_PEAK_METHOD=sampled the sampler starts here. */
struct lw_boundary *lw_boundary_new(const struct lw_boundary_config *cfg,
                                    const struct lw_boundary_reader *reader,
                                    const struct lw_boundary_sink *sink,
                                    const struct lw_clock *clock, struct lw_health *health);

/* INVOKE: closes the open record, if any, and opens the record of this invocation. */
void lw_boundary_invoke(struct lw_boundary *b, const char *request_id, uint64_t deadline_ms);

/*
 * SHUTDOWN: closes the open record, if any. The runtime gets SIGTERM before extensions get
 * SHUTDOWN and may be gone: then the record has no end reading and says so. The sampler, if
 * any, is stopped.
 */
void lw_boundary_shutdown(struct lw_boundary *b);

/*
 * Lambda Managed Instances: no INVOKE reaches extensions there and the environment is never
 * frozen, so readings are taken on a timer instead. lw_boundary_tick() closes the open interval
 * record, if any, and opens the next (LW_RECORD_INTERVAL, seq counting intervals): the first
 * call opens the first interval. Each reading resets the high-water marks, so an interval's
 * peak is exact. lw_boundary_shutdown() closes the last interval. One thread at a time.
 */
void lw_boundary_tick(struct lw_boundary *b);

/* INVOKE events seen so far (intervals opened, on Managed Instances). */
uint64_t lw_boundary_invocations(const struct lw_boundary *b);

/* Whether peaks come from clear_refs + VmHWM (false: the sampler). */
bool lw_boundary_uses_hwm(const struct lw_boundary *b);

void lw_boundary_free(struct lw_boundary *b);

#endif
