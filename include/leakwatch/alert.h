/*
 * Verdict transitions and the alert line: the hysteresis between assessments, and the one line
 * written when a verdict changes. Pure: the caller writes the line where it wants (stdout,
 * serialised with the EMF lines).
 */
#ifndef LEAKWATCH_ALERT_H
#define LEAKWATCH_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/verdict.h>

/* Hysteresis state: which different verdict is being proposed, and how many times in a row. */
struct lw_alert_hold {
    uint32_t hold_assessments; /* >= 1 */
    enum lw_verdict_kind pending;
    uint32_t pending_count;
};

void lw_alert_hold_init(struct lw_alert_hold *h, uint32_t hold_assessments);

/*
 * One assessment through the hysteresis. *current is the published verdict; cand is what this
 * assessment alone concludes. If cand's kind is the current kind, cand replaces *current (fresh
 * figures). Otherwise *current stays as it is until hold_assessments consecutive candidates
 * propose the new kind (consecutive leak and leak-critical proposals count together when the
 * current kind is neither). Afterwards current->previous is the kind before the call and
 * current->changed is lw_alert_due(previous, kind).
 */
void lw_alert_hold_apply(struct lw_alert_hold *h, struct lw_verdict *current,
                         const struct lw_verdict *cand);

/* Whether a transition is worth an alert line: kinds differ and one of them is leak or
 * leak-critical. learning, steady and warming are all healthy states. */
bool lw_alert_due(enum lw_verdict_kind from, enum lw_verdict_kind to);

/*
 * The alert line for a verdict change, one JSON object and a '\n', into buf[0..cap)
 * (NUL-terminated; *len excludes the NUL):
 *   {"level":"WARN","LeakwatchAlert":"verdict-change","FunctionName":"..","EnvironmentId":"..",
 *    "Sequence":n,"From":"steady","To":"leak","Reason":"..","GrowthPerInvocationBytes":n,
 *    "ProjectedMinutesToOom":n,"Culprit":".."}
 * ProjectedMinutesToOom is left out without a projection, Culprit when there is none. Strings
 * are JSON-escaped; bytes that are not UTF-8 become U+FFFD. LW_ERR_TOO_LARGE when cap is too
 * small: LW_ALERT_LINE_MAX always suffices for a function name of up to 140 bytes (ARN
 * length) and the record's limits. LW_ERR_INVALID for NULL arguments.
 */
#define LW_ALERT_LINE_MAX 4096
enum lw_err lw_alert_line(const struct lw_verdict *v, const char *function_name, const char *env_id,
                          uint64_t seq, char *buf, size_t cap, size_t *len);

#endif
