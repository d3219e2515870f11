/*
 * `leakwatch report`: the story of one environment as the chart draws it and the page tells
 * it: where its records sit on the x axis, the leak trend of its latest verdict and where it
 * meets the memory limit, the recycle horizon, and the death the next environment told.
 *
 * Every figure comes from the log. The x axis is the sequence number for invocation records,
 * and time (minutes since the first record shown started) for an environment of interval
 * records, whose verdict projects in minutes only: a Managed Instances environment serves
 * requests concurrently, so "per invocation" means nothing there. Pure.
 */
#include "report_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_MS 60000.0

/* The time a record's end reading was taken: where it sits on a time axis. */
static uint64_t reading_time_ms(const struct lw_report_entry *e)
{
    if (e->end_time_ms)
        return e->end_time_ms;
    return lw_report_entry_time_ms(e);
}

bool lw_report_story_x(const struct lw_report_story *s, const struct lw_report_entry *e, double *x)
{
    if (!s->time_axis) {
        *x = (double)e->seq;
        return true;
    }
    uint64_t t = reading_time_ms(e);
    if (t == 0)
        return false; /* a record without a time has no place on a time axis */
    *x = ((double)t - (double)s->t0_ms) / MINUTE_MS;
    return true;
}

/*
 * The horizon the verdict names in its reason: "... the 120 min recycle horizon" (and, in
 * lines of earlier versions, "the 120-minute recycle horizon").
 */
static bool horizon_in_reason(const char *reason, double *minutes)
{
    static const char *const tails[] = {" min recycle horizon", "-minute recycle horizon"};
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
        const char *p = strstr(reason, tails[t]);
        if (!p)
            continue;
        const char *q = p;
        while (q > reason && ((q[-1] >= '0' && q[-1] <= '9') || q[-1] == '.'))
            q--;
        char num[32];
        size_t n = (size_t)(p - q);
        if (n == 0 || n >= sizeof(num))
            continue;
        memcpy(num, q, n);
        num[n] = '\0';
        char *end;
        double v = strtod(num, &end);
        /* a year at most: the reason is read from the log, which anyone in the sandbox writes */
        if (end == num + n && v > 0 && v <= 525600.0) {
            *minutes = v;
            return true;
        }
    }
    return false;
}

/* The environment's start: its death line knows it, else its cold start in the log. */
static uint64_t env_start_ms(const struct lw_report_env *env)
{
    if (env->death && env->death->start_time_ms)
        return env->death->start_time_ms;
    for (size_t i = 0; i < env->n_invocations; i++)
        if (env->invocations[i].cold_start || env->invocations[i].restored)
            return env->invocations[i].start_time_ms;
    return 0;
}

/*
 * The latest verdict's growth and projection, and the trend line: through the anchor (the last
 * environment RSS, else the last function RSS at the end) to where the verdict projects that
 * memory runs out. A window without an end reading has the projection but no line.
 */
static void find_trend(const struct lw_report_window *w, struct lw_report_story *s)
{
    enum lw_metric_id growth_id = s->time_axis ? LW_M_GROWTH_PER_HOUR : LW_M_GROWTH_PER_INVOCATION;
    const struct lw_report_entry *g = lw_report_last_with(w, growth_id);
    if (!g)
        return;
    s->verdict = g;
    s->growth_bytes = g->value[growth_id];
    /* per unit of x: an invocation, or a minute */
    s->slope_bytes = s->time_axis ? s->growth_bytes / 60.0 : s->growth_bytes;
    enum lw_metric_id anchor_id =
        lw_report_last_with(w, LW_M_ENV_RSS) ? LW_M_ENV_RSS : LW_M_FN_RSS_END;
    const struct lw_report_entry *a = lw_report_last_with(w, anchor_id);
    if (a && lw_report_story_x(s, a, &s->anchor_x)) {
        s->have_trend = true;
        s->anchor_bytes = a->value[anchor_id];
    }

    double to_oom = NAN, g_x;
    if (!s->have_limit || !lw_report_story_x(s, g, &g_x))
        return;
    if (s->time_axis && lw_report_entry_has(g, LW_M_MINUTES_TO_OOM))
        to_oom = g->value[LW_M_MINUTES_TO_OOM];
    else if (!s->time_axis && lw_report_entry_has(g, LW_M_INVOCATIONS_TO_OOM))
        to_oom = g->value[LW_M_INVOCATIONS_TO_OOM];
    if (!(to_oom >= 0) || !isfinite(to_oom))
        return;
    s->have_oom = true;
    s->oom_x = g_x + to_oom;
    if (lw_report_entry_has(g, LW_M_MINUTES_TO_OOM))
        s->oom_minutes = g->value[LW_M_MINUTES_TO_OOM];
    /* the line the engine projected: through the anchor, meeting the limit there */
    if (s->have_trend && s->oom_x > s->anchor_x && s->anchor_bytes < s->limit_bytes)
        s->slope_bytes = (s->limit_bytes - s->anchor_bytes) / (s->oom_x - s->anchor_x);
}

/* The invocation rate the log shows: from its first record with a time to its last. */
static bool log_rate(const struct lw_report_env *env, double *per_minute,
                     const struct lw_report_entry **last)
{
    const struct lw_report_entry *a = NULL, *b = NULL;
    for (size_t i = 0; i < env->n_invocations; i++) {
        if (lw_report_entry_time_ms(&env->invocations[i]) == 0)
            continue;
        if (!a)
            a = &env->invocations[i];
        b = &env->invocations[i];
    }
    if (!a || b->seq <= a->seq || lw_report_entry_time_ms(b) <= lw_report_entry_time_ms(a))
        return false;
    double minutes =
        ((double)lw_report_entry_time_ms(b) - (double)lw_report_entry_time_ms(a)) / MINUTE_MS;
    *per_minute = (double)(b->seq - a->seq) / minutes;
    *last = b;
    return true;
}

/*
 * The recycle horizon: the time after its start at which an environment is expected to be
 * recycled anyway. Where it lies on the x axis: on a time axis exactly; on a sequence axis at
 * the first record of the log that started after it, or, when it lies beyond the log, at an
 * invocation rate: the verdict's own (its invocations to out-of-memory over its minutes to
 * out-of-memory, the rate it compared with the horizon), else the rate the log shows.
 */
static void find_horizon(const struct lw_report_env *env, struct lw_report_story *s)
{
    const struct lw_report_entry *g = s->verdict;
    if (!s->have_oom || !g)
        return;
    if (s->time_axis) {
        /* interval records: Managed Instances, whose environments have no known lifetime */
        s->horizon_why = "none: Managed Instances publish no environment lifetime";
        return;
    }
    uint64_t start = env_start_ms(env);
    if (start == 0) {
        s->horizon_why = "the environment's start is not in this log";
        return;
    }
    s->horizon_minutes = 120.0; /* LEAKWATCH_RECYCLE_HORIZON_MINUTES' default */
    s->horizon_default = !horizon_in_reason(g->reason, &s->horizon_minutes);
    double horizon_ms = (double)start + s->horizon_minutes * MINUTE_MS;
    s->horizon_ms = horizon_ms;
    for (size_t i = 0; i < env->n_invocations; i++) {
        uint64_t t = lw_report_entry_time_ms(&env->invocations[i]);
        if (t && (double)t >= horizon_ms) {
            s->horizon_x = (double)env->invocations[i].seq;
            s->have_horizon = true;
            return;
        }
    }
    const struct lw_report_entry *from = g;
    double minutes =
        lw_report_entry_has(g, LW_M_MINUTES_TO_OOM) ? g->value[LW_M_MINUTES_TO_OOM] : 0;
    if (minutes > 0 && lw_report_entry_has(g, LW_M_INVOCATIONS_TO_OOM) && reading_time_ms(g)) {
        s->rate_per_minute = g->value[LW_M_INVOCATIONS_TO_OOM] / minutes;
    } else if (log_rate(env, &s->rate_per_minute, &from)) {
        s->rate_from_log = true;
    }
    if (!(s->rate_per_minute > 0) || !isfinite(s->rate_per_minute)) {
        s->horizon_why = "no invocation rate to place it at";
        return;
    }
    s->horizon_x = (double)from->seq +
                   (horizon_ms - (double)reading_time_ms(from)) / MINUTE_MS * s->rate_per_minute;
    s->horizon_estimated = true;
    s->have_horizon = true;
}

bool lw_report_death_seq(const struct lw_report_entry *d, uint64_t *seq)
{
    if (lw_report_death_has(d, LW_D_INTERVALS) && d->value[LW_D_INTERVALS] == 1)
        return false; /* it counted intervals of time: no record was the one it died in */
    if (lw_report_death_has(d, LW_D_ACTUAL_SEQ)) {
        double v = d->value[LW_D_ACTUAL_SEQ];
        if (!(v >= 1 && v <= 1e15)) /* from the log: a sequence number or nothing */
            return false;
        *seq = (uint64_t)v;
        return true;
    }
    if (!d->have_invocations || d->invocations == 0)
        return false;
    *seq = d->invocations; /* the invocation it died in is its last */
    return true;
}

static void find_death(const struct lw_report_env *env, struct lw_report_story *s)
{
    const struct lw_report_entry *d = env->death;
    if (!d)
        return;
    uint64_t seq;
    if (s->time_axis) {
        if (d->end_time_ms) {
            s->death_x = ((double)d->end_time_ms - (double)s->t0_ms) / MINUTE_MS;
            s->have_death = true;
        }
    } else if (lw_report_death_seq(d, &seq)) {
        s->death_x = (double)seq;
        s->have_death = true;
    }
    if (!s->time_axis && lw_report_death_has(d, LW_D_PROJECTED_SEQ)) {
        s->first_projection_x = d->value[LW_D_PROJECTED_SEQ];
        s->have_first_projection = true;
    }
    if (s->have_death && !isfinite(s->death_x))
        s->have_death = false;
    if (s->have_first_projection && !isfinite(s->first_projection_x))
        s->have_first_projection = false;
}

void lw_report_story_of(const struct lw_report_env *env, const struct lw_report_window *w,
                        struct lw_report_story *s)
{
    memset(s, 0, sizeof(*s));
    s->oom_minutes = NAN;
    s->time_axis = strcmp(lw_report_records_word(env), "intervals") == 0;
    if (s->time_axis) {
        /* minutes since the first record shown started (or took its reading) */
        for (size_t i = 0; i < w->n_inv && s->t0_ms == 0; i++)
            s->t0_ms =
                w->inv[i].start_time_ms ? w->inv[i].start_time_ms : reading_time_ms(&w->inv[i]);
    }
    const struct lw_report_entry *lim = lw_report_last_with(w, LW_M_MEM_LIMIT);
    if (lim && lim->value[LW_M_MEM_LIMIT] > 0) {
        s->have_limit = true;
        s->limit_bytes = lim->value[LW_M_MEM_LIMIT];
    }
    find_trend(w, s);
    find_horizon(env, s);
    find_death(env, s);
}
