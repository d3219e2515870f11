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
    LW_VERDICT_WARMING,       /* growing toward a plateau (cache warm-up, heap sizing) */
    LW_VERDICT_LEAK,          /* growing; memory will not run out before the recycle horizon */
    LW_VERDICT_LEAK_CRITICAL, /* growing; memory runs out before the recycle horizon */
    LW_VERDICT_COUNT
};

struct lw_verdict {
    enum lw_verdict_kind kind;
    enum lw_verdict_kind previous; /* the kind before this assessment */
    bool changed;                  /* kind != previous after hysteresis: one alert is due */
    double growth_bytes_per_invocation;
    double growth_bytes_per_hour;
    double confidence; /* 0..1 */
    bool have_projection;
    double projected_invocations_to_oom;
    double projected_minutes_to_oom;
    char culprit[LW_NAME_MAX]; /* the process that grows, "" when none */
    enum lw_proc_role culprit_role;
    char reason[256]; /* one sentence a person can read */
};

/* "learning", "steady", "warming", "leak", "leak-critical". */
const char *lw_verdict_name(enum lw_verdict_kind kind);

/* The level a CloudWatch alarm watches: learning/steady 0, warming 1, leak 2, leak-critical 3. */
int lw_verdict_level(enum lw_verdict_kind kind);

/* ---- verdict transitions and the alert line (src/verdict.c) ---------------------------- */

/* Hysteresis state: which different verdict is being proposed, and how many times in a row. */
struct lw_verdict_hold {
    uint32_t hold_assessments; /* >= 1 */
    enum lw_verdict_kind pending;
    uint32_t pending_count;
};

void lw_verdict_hold_init(struct lw_verdict_hold *h, uint32_t hold_assessments);

/*
 * One assessment through the hysteresis. *current is the published verdict; cand is what this
 * assessment alone concludes. If cand's kind is the current kind, cand replaces *current (fresh
 * figures). Otherwise *current stays as it is until hold_assessments consecutive candidates
 * propose the new kind (consecutive leak and leak-critical proposals count together when the
 * current kind is neither). Afterwards current->previous is the kind before the call and
 * current->changed is lw_verdict_alert_due(previous, kind).
 */
void lw_verdict_hold_apply(struct lw_verdict_hold *h, struct lw_verdict *current,
                           const struct lw_verdict *cand);

/* Whether a transition is worth an alert line: kinds differ and one of them is leak or
 * leak-critical. learning, steady and warming are all healthy states. */
bool lw_verdict_alert_due(enum lw_verdict_kind from, enum lw_verdict_kind to);

/*
 * The alert line for a verdict change, one JSON object and a '\n', into buf[0..cap)
 * (NUL-terminated; *len excludes the NUL):
 *   {"level":"WARN","LeakwatchAlert":"verdict-change","FunctionName":"..","EnvironmentId":"..",
 *    "Sequence":n,"From":"steady","To":"leak","Reason":"..","GrowthPerInvocationBytes":n,
 *    "ProjectedMinutesToOom":n,"Culprit":".."}
 * ProjectedMinutesToOom is left out without a projection, Culprit when there is none. Strings
 * are JSON-escaped; bytes that are not UTF-8 become U+FFFD. LW_ERR_TOO_LARGE when cap is too
 * small: LW_VERDICT_ALERT_LINE_MAX always suffices for a function name of up to 140 bytes (ARN
 * length) and the record's limits. LW_ERR_INVALID for NULL arguments.
 */
#define LW_VERDICT_ALERT_LINE_MAX 4096
enum lw_err lw_verdict_alert_line(const struct lw_verdict *v, const char *function_name,
                                  const char *env_id, uint64_t seq, char *buf, size_t cap,
                                  size_t *len);

#endif
