/*
 * The leak verdict for one environment: what the trend engine concludes after each completed
 * record. Plain data.
 */
#ifndef LEAKWATCH_VERDICT_H
#define LEAKWATCH_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>

#include <leakwatch/record.h>

enum lw_verdict_kind {
    LW_VERDICT_LEARNING = 0,  /* not enough invocations yet to say anything */
    LW_VERDICT_STEADY,        /* no retained growth */
    LW_VERDICT_WARMING,       /* growing toward a plateau or a heap ceiling that fits, or
                                 growing without being a leak yet */
    LW_VERDICT_LEAK,          /* growing; memory will not run out before the recycle horizon */
    LW_VERDICT_LEAK_CRITICAL, /* growing; even the slowest supported growth runs memory out
                                 before the recycle horizon */
    LW_VERDICT_COUNT
};

struct lw_verdict {
    enum lw_verdict_kind kind;
    enum lw_verdict_kind previous; /* the kind before this assessment */
    bool changed; /* an alert line is due: into a leak state (once per episode) or its withdrawal */
    double growth_bytes_per_invocation;
    /* The slowest growth the readings support at 99% confidence (Sen's interval of the
     * Theil-Sen slope), bytes per invocation: what leak-critical is decided on. */
    double growth_lower_bytes_per_invocation;
    double growth_bytes_per_hour;
    double confidence; /* 0..1 */
    bool have_projection;
    double projected_invocations_to_oom;
    double projected_minutes_to_oom;
    /* the same projection from the slowest supported growth: the latest OOM plausible */
    double projected_minutes_to_oom_late;
    /* What the runtime's flags say (struct lw_runtime_hint): its heap ceiling in bytes (0:
     * unknown) and whether that ceiling, with the rest of the environment, fits the limit. */
    uint64_t runtime_heap_ceiling_bytes;
    bool runtime_ceiling_fits;
    /* While a leak stands: the function's memory fell below the lowest reading of the window
     * the leak was found in. What it grew by was given back (a saw-tooth's first release), so
     * the leak is withdrawn without waiting for more evidence. */
    bool given_back;
    /* Memory still grows significantly, but not (yet) in a way that makes a leak (too few
     * readings, a step, an imprecise slope): no evidence that a standing leak is over. */
    bool still_growing;
    /* With still_growing: a garbage-collected runtime near its limit gave memory back or grew
     * unevenly, which its collector does as a leak fills the heap: no evidence either way. */
    bool collector_near_limit;
    char culprit[LW_NAME_MAX]; /* the process that grows, "" when none */
    enum lw_proc_role culprit_role;
    /* Of the processes of that name and role (a runtime's workers share one name), the one
     * whose anonymous RSS grew fastest since it was first seen; 0 when none is known. */
    int32_t culprit_pid;
    /* assessed on interval records (Managed Instances): per-invocation figures are undefined */
    bool intervals;
    char reason[384]; /* one sentence a person can read */
};

/* "learning", "steady", "warming", "leak", "leak-critical". */
const char *lw_verdict_name(enum lw_verdict_kind kind);

/* The level a CloudWatch alarm watches: learning/steady 0, warming 1, leak 2, leak-critical 3. */
int lw_verdict_level(enum lw_verdict_kind kind);

#endif
