/*
 * What the report's modules share: the selection (--function, --env, --since/--until, --last)
 * and a few formatters. Private to src/report/.
 */
#ifndef LEAKWATCH_REPORT_INTERNAL_H
#define LEAKWATCH_REPORT_INTERNAL_H

#include <leakwatch/report.h>

#define LW_REPORT_KIB 1024.0
#define LW_REPORT_MIB (1024.0 * 1024.0)

/* The EMF names of metrics.h, by id. */
extern const char *const lw_report_metric_names[LW_M_COUNT];

/* The --env match, resolved once per output: environments are then tested one by one. */
struct lw_report_selection {
    const struct lw_report_options *opt; /* may be NULL: everything */
    const struct lw_report_env *env;     /* the --env match */
    bool none;                           /* --env matches no single environment */
};

void lw_report_select(const struct lw_report *r, const struct lw_report_options *opt,
                      struct lw_report_selection *out);

/* The invocations and alerts of an environment that the time range and --last keep. */
struct lw_report_window {
    const struct lw_report_entry *inv;
    size_t n_inv;
    const struct lw_report_entry *alerts;
    size_t n_alerts;
};

struct lw_report_window lw_report_window_of(const struct lw_report_env *env,
                                            const struct lw_report_options *opt);

/* Whether env is shown: of the function, the --env match, and with invocations in range. */
bool lw_report_selected(const struct lw_report_selection *sel, const struct lw_report_env *env);

/* An invocation's time: its start, else its EMF timestamp; 0 when it has neither. */
uint64_t lw_report_entry_time_ms(const struct lw_report_entry *e);

/* The last invocation of w that has metric id; NULL when none. */
const struct lw_report_entry *lw_report_last_with(const struct lw_report_window *w,
                                                  enum lw_metric_id id);

void lw_report_fmt_duration(double seconds, char *dst, size_t cap);
/* A signed byte count as "12.5 KiB" or "3.0 MiB". */
void lw_report_fmt_bytes(double bytes, char *dst, size_t cap);

/* The input counts line and the malformed lines, as the text report ends. */
void lw_report_write_stats(const struct lw_report *r, FILE *out);

#endif
