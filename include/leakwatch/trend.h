/*
 * The leak trend engine: one per environment. It is fed the completed invocation records of
 * that environment in sequence order and answers, after each one, the question leakwatch exists
 * for: does memory grow across invocations, which process grows, and will it run out before
 * Lambda recycles the environment anyway?
 *
 * Pure: no clock, no /proc, no I/O. Time is the records' end_time_ms. Every byte of state is
 * allocated by lw_trend_new() and the size never changes however long the environment lives:
 * each series keeps a bounded window of recent readings and a bounded window of floor points.
 *
 * How it decides (docs/verdict.md, "How the verdict works"):
 *  - Series: the function's anonymous RSS at the end of each invocation (runtime and children),
 *    the anonymous RSS of every other process (extensions, leakwatch itself) keyed by name and
 *    role, and the environment's total RSS for the projection. The first warmup_invocations
 *    records are not part of any series: runtimes load code and size heaps there.
 *  - Growth is the Theil-Sen slope (median of pairwise slopes, bytes per invocation) over the
 *    last LW_TREND_RAW_POINTS readings. When the window holds a release (a drop of at least a
 *    quarter of its range: a garbage collection, a saw-tooth, the end of a spike), the slope is
 *    taken over the retained floor instead: the minimum of each block of
 *    floor_block_invocations readings, LW_TREND_FLOOR_POINTS blocks. Confidence is Kendall's
 *    tau of the same points (the share of pairs that agree on growth, minus those that do not).
 *  - Growth counts only when it is significant: a Mann-Kendall z of at least 4, confidence of at
 *    least 0.4, at least min_growth_bytes_per_invocation, and a rise over the window of at least
 *    four times the noise (scaled median absolute deviation around the fitted line).
 *  - Significant growth whose recent half grows at less than half the rate of the older half,
 *    or not significantly at all, is warming (decelerating toward a plateau); otherwise a leak.
 *  - Projection: headroom (memory limit minus environment RSS) divided by the summed growth of
 *    the leaking series gives invocations to out-of-memory; the observed invocation rate turns
 *    that into minutes. OOM before the recycle horizon is leak-critical, after it a leak.
 *  - Hysteresis: a new verdict replaces the current one only after hold_assessments consecutive
 *    assessments propose it (leak and leak-critical proposals count together toward leaving a
 *    non-leak verdict). leak-critical falls back to leak only when OOM is projected beyond 1.25
 *    times the horizon.
 *  - Alerts: lw_verdict.changed is set once per transition that involves leak or
 *    leak-critical on either side. learning, steady and warming are all healthy: moving among
 *    them changes the verdict and the LeakVerdictLevel metric but writes no alert line.
 *  - A record of another environment (env_id differs) or a sequence number that does not go
 *    forward (the runtime and leakwatch were restarted) starts the state over: learning again,
 *    no alert.
 */
#ifndef LEAKWATCH_TREND_H
#define LEAKWATCH_TREND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/record.h>
#include <leakwatch/alert.h>
#include <leakwatch/verdict.h>

#define LW_TREND_RAW_POINTS 64   /* recent end readings per series */
#define LW_TREND_FLOOR_POINTS 64 /* block minima per series */

struct lw_trend_config {
    /* Records with seq <= this are left out of every series (they still count for the
     * invocation rate). Default 5. */
    uint32_t warmup_invocations;
    /* How long Lambda is expected to keep an environment. OOM projected sooner is
     * leak-critical. Default 120 (minutes): AWS says "every few hours"; busy environments
     * are observed to live about two hours, idle ones minutes. Must be > 0. */
    double recycle_horizon_minutes;
    /* Readings (after warm-up) needed before any verdict other than learning. Default 12,
     * at least 4 and at most LW_TREND_RAW_POINTS. */
    uint32_t min_points;
    /* Readings per floor block (retained floor under a saw-tooth). Default 8, 1..64. */
    uint32_t floor_block_invocations;
    /* Consecutive assessments a new verdict must be proposed by before it is adopted.
     * Default 3, at least 1. */
    uint32_t hold_assessments;
    /* Slower growth is never a leak (page-granularity noise). Default 256 bytes, >= 0. */
    double min_growth_bytes_per_invocation;
};

/* The documented defaults above. */
struct lw_trend_config lw_trend_config_default(void);

struct lw_trend;

/*
 * A new engine with a copy of cfg (NULL: the defaults). All memory the engine will ever use
 * is allocated here. Returns NULL when cfg is out of range or allocation fails; the caller logs.
 */
struct lw_trend *lw_trend_new(const struct lw_trend_config *cfg);

/* Frees the engine; NULL is allowed. */
void lw_trend_free(struct lw_trend *t);

/*
 * Adds one completed record (records of one environment, in sequence order) and assesses.
 * *out receives the verdict after this record; out->changed is true when an alert line is due
 * (see above). Records without an end reading (have_end false) only count for the rate.
 */
void lw_trend_add(struct lw_trend *t, const struct lw_record *rec, struct lw_verdict *out);

/* The current verdict (as of the last lw_trend_add), with changed false. */
void lw_trend_current(const struct lw_trend *t, struct lw_verdict *out);

#endif
