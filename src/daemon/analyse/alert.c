/*
 * The hysteresis between assessments and the alert line written on a verdict change. Pure: the
 * caller writes the line where it wants (stdout, serialised with the EMF lines).
 */
#include <leakwatch/alert.h>
#include <leakwatch/record.h>
#include <leakwatch/text.h>
#include <leakwatch/trend.h>
#include <leakwatch/verdict.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- hysteresis ------------------------------------------------------------------------------ */

static bool leak_family(enum lw_verdict_kind k)
{
    return k == LW_VERDICT_LEAK || k == LW_VERDICT_LEAK_CRITICAL;
}

bool lw_alert_due(enum lw_verdict_kind from, enum lw_verdict_kind to)
{
    return from != to && leak_family(from) != leak_family(to);
}

void lw_alert_hold_init(struct lw_alert_hold *h, uint32_t hold_assessments,
                        uint32_t withdraw_assessments)
{
    memset(h, 0, sizeof(*h));
    h->hold_assessments = hold_assessments ? hold_assessments : 1;
    h->withdraw_assessments = withdraw_assessments ? withdraw_assessments : 1;
    h->pending = LW_VERDICT_LEARNING;
}

/* Puts head before the verdict's reason: why a leak stands comes first, and a long sentence is
 * cut at its end. */
static void prefix_reason(struct lw_verdict *v, const char *head)
{
    char buf[sizeof(v->reason)];
    size_t hl = strlen(head);
    if (hl >= sizeof(buf))
        hl = sizeof(buf) - 1;
    memcpy(buf, head, hl);
    size_t rl = strnlen(v->reason, sizeof(v->reason) - 1);
    if (rl > sizeof(buf) - 1 - hl)
        rl = lw_text_utf8_cut(v->reason, rl, sizeof(buf) - 1 - hl);
    memcpy(buf + hl, v->reason, rl);
    buf[hl + rl] = '\0';
    memcpy(v->reason, buf, sizeof(buf));
}

/* Counts one more proposal of kind; true once it has been proposed hold_assessments times in a
 * row. Leak and leak-critical proposals are one direction ("it leaks"): a projection near the
 * horizon must not reset the count. */
static bool propose(struct lw_alert_hold *h, enum lw_verdict_kind kind)
{
    bool same = h->pending_count > 0 &&
                (h->pending == kind || (leak_family(h->pending) && leak_family(kind)));
    h->pending_count = same ? h->pending_count + 1 : 1;
    h->pending = kind;
    if (h->pending_count < h->hold_assessments)
        return false;
    h->pending_count = 0;
    return true;
}

void lw_alert_hold_apply(struct lw_alert_hold *h, struct lw_verdict *current,
                         const struct lw_verdict *cand)
{
    enum lw_verdict_kind prev = current->kind;
    bool line = false;
    if (leak_family(prev) && !leak_family(cand->kind) && cand->still_growing && !cand->given_back) {
        /* Still growing, only not provably linear right now (a leak that steps): no evidence
         * either way; the leak stands with the latest figures. Those carry no projection, so
         * the verdict is leak, not leak-critical. (Where the trend engine projects from the
         * long view instead, its candidate is a leak already and takes the branches below.) */
        h->pending_count = 0;
        *current = *cand;
        current->kind = LW_VERDICT_LEAK;
        prefix_reason(current, cand->collector_near_limit
                                   ? "the leak stands: near its limit a collector gives memory "
                                     "back as a leak fills its heap; this window: "
                                   : "the leak stands while memory grows over a longer view; "
                                     "this window: ");
    } else if (leak_family(prev) && !leak_family(cand->kind)) {
        /* The growth stopped, or never was a leak. Withdrawn only on sustained evidence;
         * until then the verdict is leak with the latest figures, never leak-critical. */
        h->pending_count = 0;
        if (++h->calm_count >= h->withdraw_assessments || cand->given_back) {
            h->calm_count = 0;
            *current = *cand;
            line = h->alerted;
            h->alerted = false;
        } else {
            *current = *cand;
            current->kind = LW_VERDICT_LEAK;
            char head[96];
            snprintf(head, sizeof(head), "the leak stands until %u calm assessments (%u so far): ",
                     h->withdraw_assessments, h->calm_count);
            prefix_reason(current, head);
        }
    } else if (cand->kind == prev) {
        h->pending_count = 0;
        h->calm_count = 0;
        *current = *cand;
    } else if (leak_family(prev)) {
        /* leak <-> leak-critical within an episode: the verdict moves, no line. The trend
         * engine already holds leak-critical to a projection stable over several assessments
         * and a band around the horizon. */
        h->pending_count = 0;
        h->calm_count = 0;
        *current = *cand;
    } else if (propose(h, cand->kind)) {
        *current = *cand;
        if (leak_family(cand->kind)) {
            line = !h->alerted;
            h->alerted = true;
            h->calm_count = 0;
        }
    }
    current->previous = prev;
    current->changed = line;
    if (line)
        h->alerts++;
}

/* ---- the alert line -------------------------------------------------------------------------- */

/* A bounded string builder: writes stop at the cap and remember that they did. */
/* Unlike state.c's writer, this one keeps the buffer a C string after every piece. */
struct out {
    char *buf;
    size_t cap; /* including the NUL */
    size_t len;
    bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void put_fmt(struct out *o, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        o->overflow = true;
        return;
    }
    put(o, tmp, (size_t)n);
}

/* A JSON string, quotes included. Process and function names are bytes from outside. */
static void put_json_str(struct out *o, const char *s)
{
    put(o, "\"", 1);
    if (!o->overflow && !lw_text_json_escape(o->buf, o->cap, &o->len, s, strlen(s)))
        o->overflow = true;
    put(o, "\"", 1);
}

enum lw_err lw_alert_line(const struct lw_verdict *v, const char *function_name, const char *env_id,
                          uint64_t seq, const struct lw_alloc_sites *sites, char *buf, size_t cap,
                          size_t *len)
{
    if (!v || !function_name || !env_id || !buf || !len || cap == 0)
        return LW_ERR_INVALID;
    struct out o = {.buf = buf, .cap = cap, .len = 0, .overflow = false};
    buf[0] = '\0';
    put_str(&o, "{\"level\":\"WARN\",\"LeakwatchAlert\":\"verdict-change\",\"FunctionName\":");
    put_json_str(&o, function_name);
    put_str(&o, ",\"EnvironmentId\":");
    put_json_str(&o, env_id);
    put_fmt(&o, ",\"Sequence\":%" PRIu64, seq);
    put_str(&o, ",\"From\":");
    put_json_str(&o, lw_verdict_name(v->previous));
    put_str(&o, ",\"To\":");
    put_json_str(&o, lw_verdict_name(v->kind));
    put_str(&o, ",\"Reason\":");
    /* the reason is a fixed array: never read past it even if it lacks a NUL */
    char reason[sizeof(v->reason)];
    memcpy(reason, v->reason, sizeof(reason));
    reason[sizeof(reason) - 1] = '\0';
    put_json_str(&o, reason);
    /* per invocation only where one invocation is one record; per hour always */
    const char *names[2] = {"GrowthPerInvocationBytes", "GrowthPerHourBytes"};
    double values[2] = {v->growth_bytes_per_invocation, v->growth_bytes_per_hour};
    for (int i = v->intervals ? 1 : 0; i < 2; i++) {
        double g = isfinite(values[i]) ? values[i] : 0;
        put_fmt(&o, fabs(g) < 1e15 ? ",\"%s\":%.0f" : ",\"%s\":%.3e", names[i], g);
    }
    if (v->have_projection && isfinite(v->projected_minutes_to_oom)) {
        /* a tiny leak projects millions of minutes: keep the number short either way */
        if (fabs(v->projected_minutes_to_oom) < 1e9)
            put_fmt(&o, ",\"ProjectedMinutesToOom\":%.1f", v->projected_minutes_to_oom);
        else
            put_fmt(&o, ",\"ProjectedMinutesToOom\":%.3e", v->projected_minutes_to_oom);
    }
    char culprit[sizeof(v->culprit)];
    memcpy(culprit, v->culprit, sizeof(culprit));
    culprit[sizeof(culprit) - 1] = '\0';
    if (culprit[0]) {
        put_str(&o, ",\"Culprit\":");
        put_json_str(&o, culprit);
        if (v->culprit_pid > 0)
            put_fmt(&o, ",\"CulpritPid\":%d", (int)v->culprit_pid);
    }
    if (sites != NULL && sites->n > 0) {
        put_str(&o, ",\"AllocationSites\":[");
        for (uint32_t i = 0; i < sites->n && i < LW_SITES_MAX; i++) {
            const struct lw_alloc_site *site = &sites->site[i];
            char where[sizeof(site->where)];
            memcpy(where, site->where, sizeof(where));
            where[sizeof(where) - 1] = '\0';
            put_str(&o, i ? ",{\"Site\":" : "{\"Site\":");
            put_json_str(&o, where);
            put_fmt(&o, ",\"GrowthBytes\":%" PRId64, site->growth_bytes);
            put_fmt(&o, ",\"GrowthCount\":%" PRId64 "}", site->growth_count);
        }
        put_str(&o, "]");
    }
    put_str(&o, "}\n");
    if (o.overflow) {
        buf[0] = '\0';
        *len = 0;
        return LW_ERR_TOO_LARGE;
    }
    *len = o.len;
    return LW_OK;
}
