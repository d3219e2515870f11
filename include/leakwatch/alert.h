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

/*
 * Hysteresis state. Alerts are what a team pages on, so they follow stricter rules than the
 * per-record verdict:
 *  - entering a new verdict needs hold_assessments consecutive proposals of it (leak and
 *    leak-critical proposals count together while the current verdict is neither);
 *  - one alert line when an environment enters a leak state (an episode starts); moves between
 *    leak and leak-critical within the episode change the verdict (and LeakVerdictLevel, which
 *    the alarms watch) but write no line;
 *  - leaving a leak state needs withdraw_assessments consecutive assessments that propose no
 *    leak, or one whose memory fell below where the leak was found (lw_verdict.given_back);
 *    the withdrawal is one line. An assessment whose memory still grows without proving a
 *    leak (lw_verdict.still_growing) neither counts toward the withdrawal nor resets it. Meanwhile
 * the verdict stays leak, never leak-critical: the series has stopped growing, so running out of
 * memory is no longer what it says.
 */
struct lw_alert_hold {
    uint32_t hold_assessments;     /* >= 1 */
    uint32_t withdraw_assessments; /* >= 1 */
    enum lw_verdict_kind pending;
    uint32_t pending_count;
    uint32_t calm_count; /* consecutive non-leak proposals while in a leak state */
    bool alerted;        /* an alert into a leak state was written and not withdrawn */
    uint32_t alerts;     /* alert lines due so far (entries and withdrawals) */
};

void lw_alert_hold_init(struct lw_alert_hold *h, uint32_t hold_assessments,
                        uint32_t withdraw_assessments);

/*
 * One assessment through the hysteresis. *current is the published verdict; cand is what this
 * assessment alone concludes. If cand's kind is the current kind, cand replaces *current (fresh
 * figures). Otherwise *current changes by the rules above. Afterwards current->previous is the
 * kind before the call and current->changed says whether an alert line is due.
 */
void lw_alert_hold_apply(struct lw_alert_hold *h, struct lw_verdict *current,
                         const struct lw_verdict *cand);

/* Whether a transition can write an alert line: into or out of the leak states (leak,
 * leak-critical), not between them and not among learning, steady and warming. */
bool lw_alert_due(enum lw_verdict_kind from, enum lw_verdict_kind to);

struct lw_alloc_sites;

/*
 * The alert line for a verdict change, one JSON object and a '\n', into buf[0..cap)
 * (NUL-terminated; *len excludes the NUL):
 *   {"level":"WARN","LeakwatchAlert":"verdict-change","FunctionName":"..","EnvironmentId":"..",
 *    "Sequence":n,"From":"steady","To":"leak","Reason":"..","GrowthPerInvocationBytes":n,
 *    "ProjectedMinutesToOom":n,"Culprit":".."}
 * ProjectedMinutesToOom is left out without a projection, Culprit when there is none. With
 * sites (NULL or none: left out), "AllocationSites":[{"Site":"file:line","GrowthBytes":n,
 * "GrowthCount":n},...], the largest growth first, as the record carries them. Strings
 * are JSON-escaped; bytes that are not UTF-8 become U+FFFD. LW_ERR_TOO_LARGE when cap is too
 * small: LW_ALERT_LINE_MAX always suffices for a function name of up to 140 bytes (ARN
 * length) and the record's limits. LW_ERR_INVALID for NULL arguments.
 */
#define LW_ALERT_LINE_MAX 8192 /* 4 KiB for the line, 3 sites escaped at worst for the rest */
enum lw_err lw_alert_line(const struct lw_verdict *v, const char *function_name, const char *env_id,
                          uint64_t seq, const struct lw_alloc_sites *sites, char *buf, size_t cap,
                          size_t *len);

#endif
