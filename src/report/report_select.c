/*
 * `leakwatch report`: which environments and invocations a command asks for. --function and
 * --env pick environments, --since and --until a time range of invocations, --last the last N
 * of them; the alerts shown are those raised by the invocations shown. Every writer asks here,
 * so the table, the CSV and the chart always show the same invocations. Pure.
 */
#include "report_internal.h"

#include <leakwatch/timefmt.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* times on the command line                                                                 */

enum lw_err lw_report_parse_time(const char *s, uint64_t now_ms, uint64_t *out_ms)
{
    if (!s || !*s)
        return LW_ERR_INVALID;
    size_t n = strlen(s);
    char unit = s[n - 1];
    uint64_t unit_ms = unit == 's'   ? 1000u
                       : unit == 'm' ? 60000u
                       : unit == 'h' ? 3600000u
                       : unit == 'd' ? 86400000u
                                     : 0;
    if (unit_ms && n >= 2 && strspn(s, "0123456789") == n - 1) {
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end != s + n - 1 || v > now_ms / unit_ms)
            return LW_ERR_INVALID;
        *out_ms = now_ms - v * unit_ms;
        return LW_OK;
    }
    return lw_time_parse_iso8601(s, n, LW_TIME_LENIENT, out_ms);
}

/* ---------------------------------------------------------------------------------------- */
/* environments and invocations                                                              */

/* The environment with this id or unique id prefix; NULL and *none when there is none. */
static const struct lw_report_env *find_env(const struct lw_report *r, const char *id, bool *none)
{
    *none = false;
    const struct lw_report_env *match = NULL;
    size_t n_prefix = 0, len = strlen(id);
    size_t n = lw_report_env_count(r);
    for (size_t i = 0; i < n; i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        if (strcmp(env->env_id, id) == 0)
            return env;
        if (strncmp(env->env_id, id, len) == 0) {
            match = env;
            n_prefix++;
        }
    }
    if (n_prefix != 1) {
        *none = true;
        return NULL;
    }
    return match;
}

void lw_report_select(const struct lw_report *r, const struct lw_report_options *opt,
                      struct lw_report_selection *out)
{
    *out = (struct lw_report_selection){.opt = opt};
    if (opt && opt->env_id)
        out->env = find_env(r, opt->env_id, &out->none);
}

static bool has_time_range(const struct lw_report_options *opt)
{
    return opt && (opt->since_ms || opt->until_ms);
}

static bool in_range(const struct lw_report_options *opt, const struct lw_report_entry *e)
{
    uint64_t t = lw_report_entry_time_ms(e);
    if (t == 0)
        return false; /* a record without a time cannot be placed in the range */
    return (!opt->since_ms || t >= opt->since_ms) && (!opt->until_ms || t <= opt->until_ms);
}

struct lw_report_window lw_report_window_of(const struct lw_report_env *env,
                                            const struct lw_report_options *opt)
{
    struct lw_report_window w = {env->invocations, env->n_invocations, env->alerts, env->n_alerts};
    if (has_time_range(opt)) {
        /* times grow with the sequence inside one environment: the range is one slice */
        size_t lo = 0, hi = w.n_inv;
        while (lo < hi && !in_range(opt, &w.inv[lo]))
            lo++;
        while (hi > lo && !in_range(opt, &w.inv[hi - 1]))
            hi--;
        w.inv += lo;
        w.n_inv = hi - lo;
    }
    if (opt && opt->last && w.n_inv > opt->last) {
        w.inv += w.n_inv - opt->last;
        w.n_inv = opt->last;
    }
    if (w.n_inv < env->n_invocations) {
        /* the alerts raised by the invocations shown */
        uint64_t from = w.n_inv ? w.inv[0].seq : UINT64_MAX;
        uint64_t to = w.n_inv ? w.inv[w.n_inv - 1].seq : 0;
        while (w.n_alerts > 0 && w.alerts[0].seq < from) {
            w.alerts++;
            w.n_alerts--;
        }
        while (w.n_alerts > 0 && w.alerts[w.n_alerts - 1].seq > to)
            w.n_alerts--;
    }
    return w;
}

bool lw_report_selected(const struct lw_report_selection *sel, const struct lw_report_env *env)
{
    const struct lw_report_options *opt = sel->opt;
    if (!opt)
        return true;
    if (opt->env_id && (sel->none || sel->env != env))
        return false;
    if (opt->function_name && strcmp(env->function_name, opt->function_name) != 0)
        return false;
    if (has_time_range(opt) && lw_report_window_of(env, opt).n_inv == 0)
        return false;
    return true;
}

size_t lw_report_selected_count(const struct lw_report *r, const struct lw_report_options *opt)
{
    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    size_t n = 0;
    for (size_t i = 0; i < lw_report_env_count(r); i++)
        n += lw_report_selected(&sel, lw_report_env_at(r, i));
    return n;
}

const struct lw_report_entry *lw_report_last_with(const struct lw_report_window *w,
                                                  enum lw_metric_id id)
{
    for (size_t i = w->n_inv; i > 0; i--)
        if (lw_report_entry_has(&w->inv[i - 1], id))
            return &w->inv[i - 1];
    return NULL;
}
