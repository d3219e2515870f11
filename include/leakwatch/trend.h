/*
 * The leak trend engine: one per environment. It is fed the completed invocation records of
 * that environment in sequence order and answers, after each one, the question leakwatch exists
 * for: does memory grow across invocations, which process grows, and will it run out before
 * Lambda recycles the environment anyway?
 *
 * Pure: no clock, no /proc, no I/O. Time is the records' end_time_ms. Every byte of state is
 * allocated by lw_trend_new() (109 KB) and the size never changes however long the environment
 * lives: each series keeps a bounded window of recent readings and a bounded window of floor
 * points. Work per record is O(window) while nothing grows significantly.
 *
 * How it decides (docs/verdict.md, "How the verdict works", has the numbers and their reasons):
 *  - Series: the function's anonymous RSS at the end of each invocation (runtime and children),
 *    the anonymous RSS of every other process (extensions, leakwatch itself) keyed by name and
 *    role, and the environment's total RSS for the projection. The first warmup_invocations
 *    records are not part of any series.
 *  - Growth is the Theil-Sen slope over the last LW_TREND_RAW_POINTS readings (over the retained
 *    floor, block minima, when the window holds a release), with Sen's 99% confidence interval;
 *    significant when the Mann-Kendall z >= 4, Kendall's tau >= 0.4, the rise clears four
 *    noise scales and min_growth_bytes_per_invocation.
 *  - Decelerating or linear: a quadratic fitted to the window gives the curvature and its
 *    standard error; growth whose curvature is significantly negative (t <= -3) and whose
 *    fitted slope at the end of the window is under half the slope at its start, or whose
 *    recent half no longer grows (or at under half the older half's rate), is warming. A leak
 *    needs both halves of the window to grow significantly, no significant deceleration, a slope
 *    precise enough to project from, and at least leak_min_points readings.
 *  - The runtime (lw_record.runtime_hint): a garbage-collected runtime (Node.js, JVM, .NET,
 *    Python) needs gc_leak_min_points readings, and the low end of the slope's interval must
 *    clear 0.002% of the memory limit per invocation: its heap sizing is slow drift and steps.
 *    Growth of the function while the environment is below a heap ceiling that fits the limit
 *    (first environment RSS + 1.1 x the heap ceiling <= limit) is heap sizing: warming.
 *  - Projection: headroom (the memory limit, or the runtime's heap ceiling over the
 *    environment's first reading when that is lower, minus the environment RSS) over the summed
 *    growth of the leaking series gives invocations to out-of-memory; the observed invocation
 *    rate turns that into minutes. leak-critical needs the projection from the low end of the
 *    slope's interval (the latest plausible OOM) before the recycle horizon in hold_assessments
 *    consecutive assessments; it is left once that projection is beyond 1.25 times the horizon,
 *    or at once when the growth stops.
 *  - Hysteresis and alerts (alert.h): a new verdict needs hold_assessments consecutive
 *    proposals; one alert line when an environment enters a leak state, none between leak and
 *    leak-critical; leaving a leak state needs withdraw_assessments consecutive assessments
 *    without a leak and writes one line.
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
    /* Readings a leak verdict needs (linear growth sustained over this many invocations):
     * default 24; for a garbage-collected runtime default 32. min_points..LW_TREND_RAW_POINTS. */
    uint32_t leak_min_points;
    uint32_t gc_leak_min_points;
    /* Consecutive assessments without a leak before an alerted leak is withdrawn. Default 64
     * (a whole window of readings), at least 1. */
    uint32_t withdraw_assessments;
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
