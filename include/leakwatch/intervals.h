/*
 * The platform half of an interval record on Lambda Managed Instances.
 *
 * There the platform sends, per request, a platform.start and a platform.report whose metrics
 * are durationMs alone, for many requests at once and in no guaranteed order. leakwatch does
 * not join them to memory readings (per-invocation memory is not defined under concurrency): it
 * counts them into the interval whose record the timer closes next. A report counts only once,
 * and only for a request whose platform.start was seen, so that a report nobody started (forged,
 * or replayed) never changes a figure. Requests are counted when their report arrives: a
 * request that ends just before a reading and is reported just after it is counted in the next
 * interval. Nothing is sampled: counts, sums and maxima are exact.
 *
 * Pure; the caller owns the storage (fixed, a few KiB) and serialises the calls.
 */
#ifndef LEAKWATCH_INTERVALS_H
#define LEAKWATCH_INTERVALS_H

#include <stdbool.h>
#include <stdint.h>

#include <leakwatch/record.h>
#include <leakwatch/telemetry_events.h>

/* Requests started and not reported yet that are tracked at once: far above any concurrency
 * an environment allows. A start beyond it is not tracked (its report will not count) and is
 * said in the outcome. Power of two. */
#define LW_INTERVALS_TRACKED 1024

/* A request whose report has not come this long after its start is given up: Lambda's longest
 * function timeout (15 min) and a minute more. Otherwise every lost report would hold a slot
 * for the environment's life, and Managed Instances environments live long. */
#define LW_INTERVALS_GIVE_UP_MS (16u * 60u * 1000u)

enum lw_intervals_outcome {
    LW_INTERVALS_IGNORED = 0, /* not an event intervals count (initStart, logs, ...) */
    LW_INTERVALS_STARTED,     /* platform.start remembered */
    LW_INTERVALS_COUNTED,     /* platform.report counted */
    LW_INTERVALS_UNSTARTED,   /* platform.report without a platform.start seen: not counted */
    LW_INTERVALS_REPEATED,    /* platform.start of a request already started: not counted */
    LW_INTERVALS_FULL,        /* platform.start not tracked: LW_INTERVALS_TRACKED in flight */
};

struct lw_intervals {
    uint64_t seed;
    uint64_t slots[LW_INTERVALS_TRACKED]; /* 0 empty, 1 deleted, else a request id's hash */
    uint32_t born[LW_INTERVALS_TRACKED];  /* the interval (count of takes) a slot's start came in */
    uint32_t used;                        /* live slots */
    uint32_t deleted;                     /* deleted slots (reused by inserts, purged when many) */
    uint32_t takes;                       /* intervals taken so far */
    uint32_t give_up_takes;               /* 0: never give up a start */
    struct lw_interval_stats current;     /* since the last lw_intervals_take() */
};

/* seed: random bits, so that nobody can choose request ids that collide. interval_ms: how
 * often lw_intervals_take() is called; a start is given up LW_INTERVALS_GIVE_UP_MS (rounded up
 * to whole intervals, and one more) after the interval it came in. 0: never given up. */
void lw_intervals_init(struct lw_intervals *iv, uint64_t seed, uint32_t interval_ms);

enum lw_intervals_outcome lw_intervals_event(struct lw_intervals *iv,
                                             const struct lw_platform_event *ev);

/* The stats since the last take, and a new interval begins. Requests in flight stay tracked,
 * except those given up (out->given_up). */
void lw_intervals_take(struct lw_intervals *iv, struct lw_interval_stats *out);

/* Requests started and not yet reported. */
uint32_t lw_intervals_in_flight(const struct lw_intervals *iv);

#endif
