/*
 * `leakwatch report`: the text report. Per environment a header (invocations, cold start,
 * limit, shutdown, verdict, projection, sparkline), a table with aligned columns, its alerts;
 * then the input counts.
 *
 * The table is what a person reads in a terminal, so it keeps one memory unit per table and
 * says it in a second header row; the CSV (report_csv.c) is for programs and keeps the raw
 * values.
 */
#include "report_internal.h"

#include <leakwatch/text.h>
#include <leakwatch/timefmt.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* the sparkline                                                                             */

size_t lw_report_sparkline(const double *values, size_t n, size_t width, bool ascii, char *dst,
                           size_t cap)
{
    static const char *const blocks[8] = {"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83",
                                          "\xe2\x96\x84", "\xe2\x96\x85", "\xe2\x96\x86",
                                          "\xe2\x96\x87", "\xe2\x96\x88"};
    static const char ramp[] = "_.,-=+*#";
    if (cap == 0)
        return 1;
    dst[0] = '\0';
    if (width == 0)
        width = 1;
    size_t per = n > width ? (n + width - 1) / width : 1;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (isnan(values[i]))
            continue;
        lo = values[i] < lo ? values[i] : lo;
        hi = values[i] > hi ? values[i] : hi;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i += per) {
        double v = NAN;
        for (size_t k = i; k < i + per && k < n; k++)
            if (!isnan(values[k]) && (isnan(v) || values[k] > v))
                v = values[k];
        char one[2] = " ";
        const char *c = one;
        if (!isnan(v)) {
            /* equal values sit on the lowest level: a flat line reads as flat */
            int level = hi > lo ? (int)((v - lo) / (hi - lo) * 7.0 + 0.5) : 0;
            level = level < 0 ? 0 : level > 7 ? 7 : level;
            one[0] = ramp[level];
            if (!ascii)
                c = blocks[level];
        }
        size_t cl = strlen(c);
        if (len + cl >= cap)
            break;
        memcpy(dst + len, c, cl);
        len += cl;
    }
    dst[len] = '\0';
    return per;
}

/* ---------------------------------------------------------------------------------------- */
/* the text report                                                                           */

#define KIB LW_REPORT_KIB
#define MIB LW_REPORT_MIB

enum col {
    C_SEQ,
    C_REQUEST,
    C_RSS_START,
    C_RSS_PEAK,
    C_RSS_END,
    C_ANON_END,
    C_GROWTH,
    C_ENV_RSS,
    C_HEADROOM,
    C_MAX_USED,
    C_DURATION,
    C_BILLED,
    C_STATUS,
    C_VERDICT,
    C_NOTES,
    N_COLS
};

#define CELL_MAX 160

struct col_desc {
    const char *name;
    const char *unit; /* NULL: the memory unit chosen for the table */
    enum lw_metric_id metric;
    bool right;
    bool wide; /* only with --wide: the default table fits a 110-column terminal */
};

/* metric is only read for the numeric columns */
static const struct col_desc cols[N_COLS] = {
    [C_SEQ] = {"seq", "", 0, true, false},
    [C_REQUEST] = {"request", "id", 0, false, false},
    [C_RSS_START] = {"start RSS", NULL, LW_M_FN_RSS_START, true, false},
    [C_RSS_PEAK] = {"peak RSS", NULL, LW_M_FN_RSS_PEAK, true, false},
    [C_RSS_END] = {"end RSS", NULL, LW_M_FN_RSS_END, true, false},
    [C_ANON_END] = {"anon end", NULL, LW_M_FN_ANON_END, true, true},
    [C_GROWTH] = {"growth", NULL, LW_M_FN_GROWTH, true, false},
    [C_ENV_RSS] = {"env RSS", NULL, LW_M_ENV_RSS, true, true},
    [C_HEADROOM] = {"headroom", NULL, LW_M_HEADROOM, true, true},
    [C_MAX_USED] = {"Lambda max", "used MB", LW_M_MAX_MEMORY_USED, true, true},
    [C_DURATION] = {"duration", "ms", LW_M_DURATION, true, false},
    [C_BILLED] = {"billed", "ms", LW_M_BILLED, true, true},
    [C_STATUS] = {"status", "", 0, false, false},
    [C_VERDICT] = {"verdict", "", 0, false, false},
    [C_NOTES] = {"notes", "", 0, false, false},
};

struct mem_unit {
    const char *name;
    double bytes;
};

/*
 * KiB while the largest figure stays under 10000 KiB, else MiB: one decimal is then always
 * enough to see a change of a few KiB on small functions and stays short on large ones.
 */
static struct mem_unit pick_unit(double max_abs_bytes)
{
    if (max_abs_bytes < 10000.0 * KIB)
        return (struct mem_unit){"KiB", KIB};
    return (struct mem_unit){"MiB", MIB};
}

static double max_abs(const struct lw_report_window *w, const enum lw_metric_id *ids, size_t n_ids)
{
    double m = 0;
    for (size_t i = 0; i < w->n_inv; i++)
        for (size_t k = 0; k < n_ids; k++)
            if (lw_report_entry_has(&w->inv[i], ids[k]) && fabs(w->inv[i].value[ids[k]]) > m)
                m = fabs(w->inv[i].value[ids[k]]);
    return m;
}

static void fmt_mem(char *dst, size_t cap, double bytes, struct mem_unit u)
{
    double v = bytes / u.bytes;
    /* "-0.0" reads as a change that is not there */
    if (fabs(v) < 0.05)
        v = 0;
    snprintf(dst, cap, "%.1f", v);
}

/* Appends text (safe already) to the cell: "a, b" lists, cut at a whole character. */
static void note_add(char *cell, const char *text)
{
    size_t n = strlen(cell);
    if (n > 0) {
        if (n + 2 >= CELL_MAX - 1)
            return;
        memcpy(cell + n, ", ", 2);
        n += 2;
    }
    size_t k = lw_text_utf8_cut(text, strlen(text), CELL_MAX - 1 - n);
    memcpy(cell + n, text, k);
    cell[n + k] = '\0';
}

void lw_report_fmt_gaps(uint32_t gaps, char *dst, size_t cap)
{
    size_t at = 0;
    if (cap == 0)
        return;
    dst[0] = '\0';
    for (uint32_t f = 1; f <= LW_GAP_LAST && at < cap; f <<= 1) {
        const char *name = lw_record_gap_name(f);
        if ((gaps & f) && name)
            at += (size_t)snprintf(dst + at, cap - at, "%s%s", at ? "+" : "", name);
    }
}

static void fill_row(const struct lw_report_entry *e, struct mem_unit level, struct mem_unit growth,
                     char cells[N_COLS][CELL_MAX])
{
    for (int c = 0; c < N_COLS; c++)
        snprintf(cells[c], CELL_MAX, "-");
    snprintf(cells[C_SEQ], CELL_MAX, "%llu", (unsigned long long)e->seq);
    if (e->request_id[0])
        lw_report_safe_copy(cells[C_REQUEST], CELL_MAX, e->request_id, 8);
    for (int c = C_RSS_START; c <= C_HEADROOM; c++) {
        if (lw_report_entry_has(e, cols[c].metric))
            fmt_mem(cells[c], CELL_MAX, e->value[cols[c].metric], c == C_GROWTH ? growth : level);
    }
    if (lw_report_entry_has(e, LW_M_MAX_MEMORY_USED))
        snprintf(cells[C_MAX_USED], CELL_MAX, "%.0f", e->value[LW_M_MAX_MEMORY_USED]);
    if (lw_report_entry_has(e, LW_M_DURATION))
        snprintf(cells[C_DURATION], CELL_MAX, "%.1f", e->value[LW_M_DURATION]);
    if (lw_report_entry_has(e, LW_M_BILLED))
        snprintf(cells[C_BILLED], CELL_MAX, "%.0f", e->value[LW_M_BILLED]);
    if (e->status[0])
        lw_report_safe_copy(cells[C_STATUS], CELL_MAX, e->status, SIZE_MAX);
    if (e->verdict[0])
        lw_report_safe_copy(cells[C_VERDICT], CELL_MAX, e->verdict, SIZE_MAX);

    char *notes = cells[C_NOTES];
    notes[0] = '\0';
    if (e->cold_start)
        note_add(notes, "cold start");
    if (e->peak_method[0] && strcmp(e->peak_method, "hwm") != 0) {
        char m[LW_REPORT_WORD_MAX], t[LW_REPORT_WORD_MAX + 8];
        lw_report_safe_copy(m, sizeof(m), e->peak_method, SIZE_MAX);
        snprintf(t, sizeof(t), "peak: %s", m);
        note_add(notes, t);
    }
    if (e->incomplete) {
        char gaps[64], t[80];
        lw_report_fmt_gaps(e->incomplete, gaps, sizeof(gaps));
        snprintf(t, sizeof(t), "incomplete: %s", gaps);
        note_add(notes, t);
    }
    if (e->conflicts) {
        char t[48];
        snprintf(t, sizeof(t), "%u conflicting record%s", e->conflicts,
                 e->conflicts == 1 ? "" : "s");
        note_add(notes, t);
    }
    if (e->error_type[0]) {
        char type[LW_ERROR_TYPE_MAX], t[LW_ERROR_TYPE_MAX + 8];
        lw_report_safe_copy(type, sizeof(type), e->error_type, SIZE_MAX);
        snprintf(t, sizeof(t), "error %s", type);
        note_add(notes, t);
    }
}

/*
 * Writes one row of cells padded to widths, without trailing spaces. Widths are in characters
 * (columns), cells in bytes: a cell is padded by hand, as printf's "%*s" counts bytes.
 */
static void put_row(FILE *out, char cells[N_COLS][CELL_MAX], const size_t *widths, bool wide)
{
    /* per cell at most CELL_MAX - 1 bytes, as many spaces of padding, and the gap */
    char line[N_COLS * (2 * CELL_MAX + 2) + 2];
    size_t n = 0;
    for (int c = 0; c < N_COLS; c++) {
        if (cols[c].wide && !wide)
            continue;
        size_t len = strlen(cells[c]), columns = lw_report_safe_columns(cells[c]);
        size_t pad = widths[c] > columns ? widths[c] - columns : 0;
        if (cols[c].right) {
            memset(line + n, ' ', pad);
            n += pad;
        }
        memcpy(line + n, cells[c], len);
        n += len;
        if (!cols[c].right) {
            memset(line + n, ' ', pad);
            n += pad;
        }
        if (c + 1 < N_COLS) {
            line[n++] = ' ';
            line[n++] = ' ';
        }
    }
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n++] = '\n';
    fwrite(line, 1, n, out);
}

void lw_report_fmt_duration(double seconds, char *dst, size_t cap)
{
    if (!(seconds >= 0) || seconds > 1e9) {
        snprintf(dst, cap, "?");
        return;
    }
    uint64_t s = (uint64_t)(seconds + 0.5);
    uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d)
        snprintf(dst, cap, "%llud %lluh %llum", (unsigned long long)d, (unsigned long long)h,
                 (unsigned long long)m);
    else if (h)
        snprintf(dst, cap, "%lluh %llum %llus", (unsigned long long)h, (unsigned long long)m,
                 (unsigned long long)sec);
    else if (m)
        snprintf(dst, cap, "%llum %llus", (unsigned long long)m, (unsigned long long)sec);
    else
        snprintf(dst, cap, "%llus", (unsigned long long)sec);
}

/* A growth in bytes as KiB or MiB, with its sign. */
void lw_report_fmt_bytes(double bytes, char *dst, size_t cap)
{
    if (fabs(bytes) < 1024.0 * KIB)
        snprintf(dst, cap, "%.1f KiB", bytes / KIB);
    else
        snprintf(dst, cap, "%.1f MiB", bytes / MIB);
}

#define SPARK_WIDTH 60

/* The sparkline of the function's RSS at the end of each invocation shown, with its range. */
static void write_sparkline(const struct lw_report_window *w, bool ascii, FILE *out)
{
    double *v = malloc(w->n_inv * sizeof(*v));
    if (!v)
        return; /* the table below still has every figure */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < w->n_inv; i++) {
        v[i] = NAN;
        if (lw_report_entry_has(&w->inv[i], LW_M_FN_RSS_END)) {
            v[i] = w->inv[i].value[LW_M_FN_RSS_END];
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
    }
    if (hi >= lo) {
        char line[SPARK_WIDTH * 3 + 1];
        size_t per = lw_report_sparkline(v, w->n_inv, SPARK_WIDTH, ascii, line, sizeof(line));
        struct mem_unit u = pick_unit(hi);
        fprintf(out,
                "memory        %s  function RSS at the end of each invocation, %.1f to %.1f %s",
                line, lo / u.bytes, hi / u.bytes, u.name);
        if (per > 1)
            fprintf(out, " (highest of every %zu)", per);
        fprintf(out, "\n");
    }
    free(v);
}

/*
 * The line that says lines were contradicted. Leakwatch writes each line once, so two lines
 * for one invocation that differ cannot both be its own: someone else can write to the log
 * group, and the report cannot tell which line is real. It says so rather than choose in
 * silence.
 */
static void put_conflicts(FILE *out, uint64_t n)
{
    fprintf(out,
            "%llu conflicting record%s for the same invocation %s seen; the first read %sshown",
            (unsigned long long)n, n == 1 ? "" : "s", n == 1 ? "was" : "were",
            n == 1 ? "is " : "of each is ");
}

#define CONFLICTS_LISTED 10

/* Lists the entries of e[0..n) that were contradicted: "<what> <seq>", after *listed others. */
static void list_conflicts(FILE *out, const struct lw_report_entry *e, size_t n, const char *what,
                           size_t *listed)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].conflicts && (*listed)++ < CONFLICTS_LISTED)
            fprintf(out, "%s%s %llu", *listed > 1 ? ", " : "", what, (unsigned long long)e[i].seq);
}

/* Which of the environment's lines were contradicted, and how often. */
static void write_conflicts(const struct lw_report_env *env, FILE *out)
{
    if (env->conflicts == 0)
        return;
    fputs("conflicts     ", out);
    put_conflicts(out, env->conflicts);
    fputs(" (", out);
    size_t listed = 0;
    list_conflicts(out, env->invocations, env->n_invocations, "seq", &listed);
    list_conflicts(out, env->alerts, env->n_alerts, "alert at seq", &listed);
    if (env->shutdown && env->shutdown->conflicts && listed++ < CONFLICTS_LISTED)
        fprintf(out, "%sshutdown", listed > 1 ? ", " : "");
    if (listed > CONFLICTS_LISTED)
        fprintf(out, ", %zu more", listed - CONFLICTS_LISTED);
    fprintf(out, ")\n");
}

/* The latest projection to out-of-memory among the invocations shown. */
static void write_projection(const struct lw_report_window *w, FILE *out)
{
    const struct lw_report_entry *last = w->n_inv ? &w->inv[w->n_inv - 1] : NULL;
    if (!last)
        return;
    bool inv = lw_report_entry_has(last, LW_M_INVOCATIONS_TO_OOM);
    bool min = lw_report_entry_has(last, LW_M_MINUTES_TO_OOM);
    if (!inv && !min) {
        fprintf(out, "projection    none\n");
        return;
    }
    fprintf(out, "projection    out of memory in about");
    if (inv)
        fprintf(out, " %.0f invocations", last->value[LW_M_INVOCATIONS_TO_OOM]);
    if (min) {
        char m[48];
        lw_time_fmt_minutes(last->value[LW_M_MINUTES_TO_OOM], m, sizeof(m));
        fprintf(out, "%s%s%s", inv ? " (" : " ", m, inv ? ")" : "");
    }
    fprintf(out, ", as of seq %llu\n", (unsigned long long)last->seq);
}

static void write_header(const struct lw_report_env *env, const struct lw_report_window *w,
                         bool ascii, FILE *out)
{
    fputs("== function ", out);
    lw_report_safe_put(out, env->function_name[0] ? env->function_name : "(unknown)");
    if (env->function_version[0]) {
        fputs(" (version ", out);
        lw_report_safe_put(out, env->function_version);
        fputs(")", out);
    }
    fputs(", environment ", out);
    lw_report_safe_put(out, env->env_id);
    fputs("\n", out);

    if (env->n_invocations == 0) {
        fprintf(out, "invocations   none in this log\n");
    } else {
        uint64_t lo = env->invocations[0].seq;
        uint64_t hi = env->invocations[env->n_invocations - 1].seq;
        fprintf(out, "invocations   %zu (seq %llu to %llu", env->n_invocations,
                (unsigned long long)lo, (unsigned long long)hi);
        uint64_t missing = hi - lo + 1 - env->n_invocations;
        if (missing)
            fprintf(out, ", %llu missing", (unsigned long long)missing);
        fprintf(out, ")");
        if (w->n_inv < env->n_invocations && w->n_inv > 0)
            fprintf(out, ", %zu shown (seq %llu to %llu)", w->n_inv,
                    (unsigned long long)w->inv[0].seq,
                    (unsigned long long)w->inv[w->n_inv - 1].seq);
        fprintf(out, "\n");
        const struct lw_report_entry *cold = NULL;
        for (size_t i = 0; i < env->n_invocations && !cold; i++)
            if (env->invocations[i].cold_start)
                cold = &env->invocations[i];
        if (cold)
            fprintf(out, "cold start    seq %llu\n", (unsigned long long)cold->seq);
        else
            fprintf(out, "cold start    not in this log\n");
        const struct lw_report_entry *last = &env->invocations[env->n_invocations - 1];
        if (lw_report_entry_has(last, LW_M_MEM_LIMIT))
            fprintf(out, "memory limit  %.1f MiB\n", last->value[LW_M_MEM_LIMIT] / MIB);
    }

    write_conflicts(env, out);
    if (env->shutdown) {
        const struct lw_report_entry *s = env->shutdown;
        fputs("shutdown      ", out);
        lw_report_safe_put(out, s->reason[0] ? s->reason : "(no reason)");
        if (s->have_lifetime) {
            char t[64];
            lw_report_fmt_duration(s->lifetime_seconds, t, sizeof(t));
            fprintf(out, ", lifetime %s (%.1f s)", t, s->lifetime_seconds);
        }
        if (s->have_invocations)
            fprintf(out, ", %llu invocations", (unsigned long long)s->invocations);
        fprintf(out, "\n");
    } else {
        fprintf(out, "shutdown      not in this log\n");
    }

    /* the verdict as of the last invocation shown */
    const struct lw_report_entry *last = w->n_inv ? &w->inv[w->n_inv - 1] : NULL;
    if (last && last->verdict[0]) {
        fputs("verdict       ", out);
        lw_report_safe_put(out, last->verdict);
        if (last->reason[0]) {
            fputs(": ", out);
            lw_report_safe_put(out, last->reason);
        }
        if (last->culprit[0]) {
            fputs(" (culprit: ", out);
            lw_report_safe_put(out, last->culprit);
            fputs(")", out);
        }
        fprintf(out, "\n");
    } else {
        fprintf(out, "verdict       -\n");
    }
    write_projection(w, out);
    write_sparkline(w, ascii, out);
}

static void write_alerts(const struct lw_report_window *w, FILE *out)
{
    if (w->n_alerts == 0)
        return;
    fprintf(out, "\nalerts\n");
    for (size_t i = 0; i < w->n_alerts; i++) {
        const struct lw_report_entry *a = &w->alerts[i];
        fprintf(out, "  seq %llu: ", (unsigned long long)a->seq);
        lw_report_safe_put(out, a->from[0] ? a->from : "?");
        fputs(" -> ", out);
        lw_report_safe_put(out, a->verdict[0] ? a->verdict : "?");
        bool open = false;
        if (lw_report_entry_has(a, LW_M_GROWTH_PER_INVOCATION)) {
            char g[48];
            lw_report_fmt_bytes(a->value[LW_M_GROWTH_PER_INVOCATION], g, sizeof(g));
            fprintf(out, " (growth %s per invocation", g);
            open = true;
        }
        if (lw_report_entry_has(a, LW_M_MINUTES_TO_OOM)) {
            fprintf(out, "%sout of memory in %.1f min", open ? ", " : " (",
                    a->value[LW_M_MINUTES_TO_OOM]);
            open = true;
        }
        if (a->culprit[0]) {
            fprintf(out, "%sculprit ", open ? ", " : " (");
            lw_report_safe_put(out, a->culprit);
            open = true;
        }
        if (open)
            fprintf(out, ")");
        if (a->reason[0]) {
            fputs(": ", out);
            lw_report_safe_put(out, a->reason);
        }
        fprintf(out, "\n");
    }
}

void lw_report_write_env_text(const struct lw_report_env *env, const struct lw_report_options *opt,
                              FILE *out)
{
    struct lw_report_window w = lw_report_window_of(env, opt);
    write_header(env, &w, opt && opt->ascii, out);
    bool wide = opt && opt->wide;
    if (w.n_inv > 0) {
        static const enum lw_metric_id level_ids[] = {LW_M_FN_RSS_START, LW_M_FN_RSS_PEAK,
                                                      LW_M_FN_RSS_END,   LW_M_FN_ANON_END,
                                                      LW_M_ENV_RSS,      LW_M_HEADROOM};
        static const enum lw_metric_id growth_ids[] = {LW_M_FN_GROWTH};
        struct mem_unit level = pick_unit(max_abs(&w, level_ids, 6));
        struct mem_unit growth = pick_unit(max_abs(&w, growth_ids, 1));

        char head[N_COLS][CELL_MAX], units[N_COLS][CELL_MAX], cells[N_COLS][CELL_MAX];
        size_t widths[N_COLS];
        for (int c = 0; c < N_COLS; c++) {
            const char *unit = cols[c].unit;
            if (!unit)
                unit = c == C_GROWTH ? growth.name : level.name;
            snprintf(head[c], CELL_MAX, "%s", cols[c].name);
            snprintf(units[c], CELL_MAX, "%s", unit);
            size_t a = strlen(head[c]), b = strlen(unit);
            widths[c] = a > b ? a : b;
        }
        /* first pass: widths; second: the rows */
        for (size_t i = 0; i < w.n_inv; i++) {
            fill_row(&w.inv[i], level, growth, cells);
            for (int c = 0; c < N_COLS; c++) {
                size_t l = lw_report_safe_columns(cells[c]);
                if (l > widths[c])
                    widths[c] = l;
            }
        }
        fprintf(out, "\n");
        put_row(out, head, widths, wide);
        put_row(out, units, widths, wide);
        for (size_t i = 0; i < w.n_inv; i++) {
            fill_row(&w.inv[i], level, growth, cells);
            put_row(out, cells, widths, wide);
        }
    }
    write_alerts(&w, out);
}

void lw_report_write_stats(const struct lw_report *r, FILE *out)
{
    struct lw_report_stats st;
    lw_report_stats(r, &st);
    const struct lw_report_stats *s = &st;
    fprintf(out,
            "input: %llu lines: %llu invocation, %llu shutdown, %llu alert; skipped %llu text, "
            "%llu bad JSON, %llu other JSON, %llu invalid, %llu too long",
            (unsigned long long)s->lines, (unsigned long long)s->invocations,
            (unsigned long long)s->shutdowns, (unsigned long long)s->alerts,
            (unsigned long long)s->skipped_text, (unsigned long long)s->skipped_bad_json,
            (unsigned long long)s->skipped_foreign, (unsigned long long)s->skipped_invalid,
            (unsigned long long)s->skipped_too_long);
    if (s->dropped_over_cap)
        fprintf(out, "; %llu over the cap", (unsigned long long)s->dropped_over_cap);
    /* repeats to the byte only: the conflicting lines, also set aside, have a line of their own */
    fprintf(out, "; %llu repeated", (unsigned long long)(s->duplicates - s->conflicts));
    if (s->framing)
        fprintf(out, "; %llu lines of export framing", (unsigned long long)s->framing);
    fprintf(out, "\n");
    if (s->conflicts) {
        put_conflicts(out, s->conflicts);
        fputs("\n", out);
    }
    if (s->malformed) {
        fprintf(out, "malformed leakwatch lines: %llu", (unsigned long long)s->malformed);
        size_t n = lw_report_malformed_count(r);
        for (size_t i = 0; i < n; i++) {
            const struct lw_report_malformed *m = lw_report_malformed_at(r, i);
            /* a file name is the user's, but may come from a listing of someone else's */
            fputs("\n  ", out);
            lw_report_safe_put(out, m->source);
            fprintf(out, "%sline %llu: %s", m->source[0] ? ": " : "",
                    (unsigned long long)m->line_no, m->why);
        }
        if (s->malformed > n)
            fprintf(out, "\n  (%llu more)", (unsigned long long)(s->malformed - n));
        fprintf(out, "\n");
    }
}

enum lw_err lw_report_write_text(const struct lw_report *r, const struct lw_report_options *opt,
                                 FILE *out)
{
    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    for (size_t i = 0; i < lw_report_env_count(r); i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        if (!lw_report_selected(&sel, env))
            continue;
        lw_report_write_env_text(env, opt, out);
        fprintf(out, "\n");
    }
    lw_report_write_stats(r, out);
    return ferror(out) ? LW_ERR_IO : LW_OK;
}
