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
#include <time.h>

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
/* the table                                                                                 */

#define KIB LW_REPORT_KIB
#define MIB LW_REPORT_MIB
#define CELL_MAX LW_REPORT_CELL_MAX

struct col_desc {
    const char *name;
    const char *unit; /* NULL: the memory unit chosen for the table */
    enum lw_metric_id metric;
    bool right;
    bool wide; /* only with --wide: the default table fits a 110-column terminal */
};

/* metric is only read for the numeric columns */
static const struct col_desc cols[LW_COL_COUNT] = {
    [LW_COL_SEQ] = {"seq", "", 0, true, false},
    [LW_COL_REQUEST] = {"request", "id", 0, false, false},
    [LW_COL_RSS_START] = {"start RSS", NULL, LW_M_FN_RSS_START, true, false},
    [LW_COL_RSS_PEAK] = {"peak RSS", NULL, LW_M_FN_RSS_PEAK, true, false},
    [LW_COL_RSS_END] = {"end RSS", NULL, LW_M_FN_RSS_END, true, false},
    [LW_COL_ANON_END] = {"anon end", NULL, LW_M_FN_ANON_END, true, true},
    [LW_COL_GROWTH] = {"growth", NULL, LW_M_FN_GROWTH, true, false},
    [LW_COL_ENV_RSS] = {"env RSS", NULL, LW_M_ENV_RSS, true, true},
    [LW_COL_HEADROOM] = {"headroom", NULL, LW_M_HEADROOM, true, true},
    [LW_COL_MAX_USED] = {"Lambda max", "used MB", LW_M_MAX_MEMORY_USED, true, true},
    [LW_COL_DURATION] = {"duration", "ms", LW_M_DURATION, true, false},
    [LW_COL_BILLED] = {"billed", "ms", LW_M_BILLED, true, true},
    [LW_COL_STATUS] = {"status", "", 0, false, false},
    [LW_COL_VERDICT] = {"verdict", "", 0, false, false},
    [LW_COL_NOTES] = {"notes", "", 0, false, false},
};

/*
 * Where interval rows hold something else than invocation rows, the heading says so: when the
 * table has interval rows only, their own heading; when it has both, both.
 */
struct interval_head {
    enum lw_report_col col;
    const char *name, *unit;             /* interval rows only */
    const char *mixed_name, *mixed_unit; /* both kinds */
};

static const struct interval_head interval_heads[] = {
    {LW_COL_REQUEST, "interval", "start UTC", "request id", "or start UTC"},
    {LW_COL_DURATION, "mean req", "ms", "duration", "ms, or mean"},
    {LW_COL_BILLED, "max req", "ms", "billed", "ms, or max"},
    {LW_COL_STATUS, "requests", "", "status", "or requests"},
};

/*
 * KiB while the largest figure stays under 10000 KiB, else MiB: one decimal is then always
 * enough to see a change of a few KiB on small functions and stays short on large ones.
 */
static struct lw_report_unit pick_unit(double max_abs_bytes)
{
    if (max_abs_bytes < 10000.0 * KIB)
        return (struct lw_report_unit){"KiB", KIB};
    return (struct lw_report_unit){"MiB", MIB};
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

/*
 * Where the table tells the death: on the row of the invocation it happened in when that row is
 * shown, on a row of its own when the window reaches the environment's end but that record is
 * not in the log (leakwatch died with the function before writing it), nowhere when the window
 * ends earlier (--last keeps the end; --until may not).
 */
static void place_death(struct lw_report_table *t, const struct lw_report_env *env,
                        const struct lw_report_window *w)
{
    t->death = NULL;
    t->death_seq = 0;
    t->death_row = false;
    const struct lw_report_entry *d = env->death;
    if (!d)
        return;
    bool to_end = w->n_inv == 0 || env->n_invocations == 0 ||
                  &w->inv[w->n_inv - 1] == &env->invocations[env->n_invocations - 1];
    uint64_t seq;
    if (lw_report_death_seq(d, &seq)) {
        for (size_t i = 0; i < w->n_inv; i++)
            if (w->inv[i].seq == seq) {
                t->death = d;
                t->death_seq = seq;
                return;
            }
        if (to_end && (w->n_inv == 0 || seq > w->inv[w->n_inv - 1].seq)) {
            t->death = d;
            t->death_seq = seq;
            t->death_row = true;
        }
        return;
    }
    if (to_end) {
        t->death = d;
        t->death_row = true;
    }
}

void lw_report_table_init(struct lw_report_table *t, const struct lw_report_env *env,
                          const struct lw_report_window *w)
{
    static const enum lw_metric_id level_ids[] = {LW_M_FN_RSS_START, LW_M_FN_RSS_PEAK,
                                                  LW_M_FN_RSS_END,   LW_M_FN_ANON_END,
                                                  LW_M_ENV_RSS,      LW_M_HEADROOM};
    static const enum lw_metric_id growth_ids[] = {LW_M_FN_GROWTH};
    t->level = pick_unit(max_abs(w, level_ids, sizeof(level_ids) / sizeof(level_ids[0])));
    t->growth = pick_unit(max_abs(w, growth_ids, 1));
    t->intervals = t->invocations = false;
    for (size_t i = 0; i < w->n_inv; i++) {
        if (w->inv[i].kind == LW_REPORT_INTERVAL)
            t->intervals = true;
        else
            t->invocations = true;
    }
    place_death(t, env, w);
}

void lw_report_table_head(const struct lw_report_table *t, enum lw_report_col c, const char **name,
                          const char **unit)
{
    *name = cols[c].name;
    *unit = cols[c].unit ? cols[c].unit : c == LW_COL_GROWTH ? t->growth.name : t->level.name;
    if (!t->intervals)
        return;
    for (size_t i = 0; i < sizeof(interval_heads) / sizeof(interval_heads[0]); i++) {
        const struct interval_head *h = &interval_heads[i];
        if (h->col != c)
            continue;
        *name = t->invocations ? h->mixed_name : h->name;
        *unit = t->invocations ? h->mixed_unit : h->unit;
    }
}

bool lw_report_table_right(enum lw_report_col c)
{
    return cols[c].right;
}

bool lw_report_table_wide(enum lw_report_col c)
{
    return cols[c].wide;
}

static void fmt_mem(char *dst, size_t cap, double bytes, struct lw_report_unit u)
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

void lw_report_fmt_utc(uint64_t ms, char *dst, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms / 1000 > (uint64_t)253402300799 || !gmtime_r(&t, &tm)) { /* past 9999-12-31 */
        snprintf(dst, cap, "?");
        return;
    }
    int n = snprintf(dst, cap, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n < 0 || (size_t)n >= cap) /* a cut time would read as another time */
        snprintf(dst, cap, "?");
}

/* A count from the log as a note: "2 errors" (the number is leakwatch's own formatting). */
static void note_count(char *notes, const struct lw_report_entry *e, enum lw_metric_id id,
                       const char *what)
{
    if (!lw_report_entry_has(e, id) || !(e->value[id] >= 1))
        return;
    char t[64];
    snprintf(t, sizeof(t), "%.0f %s%s", e->value[id], what, e->value[id] >= 2 ? "s" : "");
    note_add(notes, t);
}

/* "died: Runtime.OutOfMemory, predicted 33 ahead", first in its row's notes. */
static void note_death(char *notes, const struct lw_report_entry *d)
{
    char cause[LW_REPORT_WORD_MAX], t[LW_REPORT_WORD_MAX + 64];
    lw_report_safe_copy(cause, sizeof(cause), d->ending[0] ? d->ending : "(no cause)", SIZE_MAX);
    size_t n = (size_t)snprintf(t, sizeof(t), "died: %s", cause);
    bool predicted = lw_report_death_has(d, LW_D_PREDICTED) && d->value[LW_D_PREDICTED] == 1;
    bool intervals = lw_report_death_has(d, LW_D_INTERVALS) && d->value[LW_D_INTERVALS] == 1;
    if (predicted && intervals && lw_report_death_has(d, LW_D_LEAD_MINUTES)) {
        /* intervals of time: its lead in time, not in intervals */
        char m[48];
        lw_time_fmt_minutes(d->value[LW_D_LEAD_MINUTES], m, sizeof(m));
        snprintf(t + n, sizeof(t) - n, ", predicted %s ahead", m);
    } else if (predicted && lw_report_death_has(d, LW_D_LEAD_INVOCATIONS))
        snprintf(t + n, sizeof(t) - n, ", predicted %.0f ahead", d->value[LW_D_LEAD_INVOCATIONS]);
    else if (lw_report_death_has(d, LW_D_PREDICTED))
        snprintf(t + n, sizeof(t) - n, predicted ? ", predicted" : ", not predicted");
    note_add(notes, t);
}

static void fill_notes(const struct lw_report_entry *e, char *notes)
{
    if (e->cold_start)
        note_add(notes, "cold start");
    if (e->restored)
        note_add(notes, "restored from a snapshot");
    if (e->peak_method[0] && strcmp(e->peak_method, "hwm") != 0) {
        char m[LW_REPORT_WORD_MAX], t[LW_REPORT_WORD_MAX + 8];
        lw_report_safe_copy(m, sizeof(m), e->peak_method, SIZE_MAX);
        snprintf(t, sizeof(t), "peak: %s", m);
        note_add(notes, t);
    }
    if (e->incomplete) {
        char gaps[80], t[96];
        lw_report_fmt_gaps(e->incomplete, gaps, sizeof(gaps));
        snprintf(t, sizeof(t), "incomplete: %s", gaps);
        note_add(notes, t);
    }
    note_count(notes, e, LW_M_REQUEST_ERRORS, "request error");
    note_count(notes, e, LW_M_REQUEST_TIMEOUTS, "request timeout");
    if (e->unknown_processes) {
        char b[48], t[96];
        lw_report_fmt_bytes(e->unknown_rss_end_bytes, b, sizeof(b));
        snprintf(t, sizeof(t), "%u process%s of unknown role (%s)", e->unknown_processes,
                 e->unknown_processes == 1 ? "" : "es", b);
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

/* A figure of e in a cell, with the given decimals. */
static void cell_num(char *cell, const struct lw_report_entry *e, enum lw_metric_id id,
                     int decimals)
{
    if (lw_report_entry_has(e, id))
        snprintf(cell, CELL_MAX, "%.*f", decimals, e->value[id]);
}

void lw_report_table_row(const struct lw_report_table *t, const struct lw_report_entry *e,
                         char cells[LW_COL_COUNT][LW_REPORT_CELL_MAX])
{
    bool interval = e->kind == LW_REPORT_INTERVAL;
    for (int c = 0; c < LW_COL_COUNT; c++)
        snprintf(cells[c], CELL_MAX, "-");
    snprintf(cells[LW_COL_SEQ], CELL_MAX, "%llu", (unsigned long long)e->seq);
    if (interval && e->start_time_ms) {
        /* the time of day, to the millisecond: intervals may be shorter than a second */
        char when[32];
        lw_report_fmt_utc(e->start_time_ms, when, sizeof(when));
        snprintf(cells[LW_COL_REQUEST], CELL_MAX, "%s.%03u", when + 11,
                 (unsigned)(e->start_time_ms % 1000));
    } else if (!interval && e->request_id[0]) {
        lw_report_safe_copy(cells[LW_COL_REQUEST], CELL_MAX, e->request_id, 8);
    }
    for (int c = LW_COL_RSS_START; c <= LW_COL_HEADROOM; c++) {
        if (lw_report_entry_has(e, cols[c].metric))
            fmt_mem(cells[c], CELL_MAX, e->value[cols[c].metric],
                    c == LW_COL_GROWTH ? t->growth : t->level);
    }
    cell_num(cells[LW_COL_MAX_USED], e, LW_M_MAX_MEMORY_USED, 0);
    if (interval) {
        cell_num(cells[LW_COL_DURATION], e, LW_M_REQUEST_DURATION_MEAN, 1);
        cell_num(cells[LW_COL_BILLED], e, LW_M_REQUEST_DURATION_MAX, 0);
        cell_num(cells[LW_COL_STATUS], e, LW_M_REQUESTS, 0);
    } else {
        cell_num(cells[LW_COL_DURATION], e, LW_M_DURATION, 1);
        cell_num(cells[LW_COL_BILLED], e, LW_M_BILLED, 0);
        if (e->status[0])
            lw_report_safe_copy(cells[LW_COL_STATUS], CELL_MAX, e->status, SIZE_MAX);
    }
    if (e->verdict[0])
        lw_report_safe_copy(cells[LW_COL_VERDICT], CELL_MAX, e->verdict, SIZE_MAX);
    cells[LW_COL_NOTES][0] = '\0';
    if (t->death && !t->death_row && e->seq == t->death_seq && !interval)
        note_death(cells[LW_COL_NOTES], t->death);
    fill_notes(e, cells[LW_COL_NOTES]);
}

void lw_report_table_death_row(const struct lw_report_table *t,
                               char cells[LW_COL_COUNT][LW_REPORT_CELL_MAX])
{
    for (int c = 0; c < LW_COL_COUNT; c++)
        snprintf(cells[c], CELL_MAX, "-");
    if (t->death_seq)
        snprintf(cells[LW_COL_SEQ], CELL_MAX, "%llu", (unsigned long long)t->death_seq);
    if (t->death->verdict[0])
        lw_report_safe_copy(cells[LW_COL_VERDICT], CELL_MAX, t->death->verdict, SIZE_MAX);
    cells[LW_COL_NOTES][0] = '\0';
    note_death(cells[LW_COL_NOTES], t->death);
    note_add(cells[LW_COL_NOTES], "its record is not in the log");
}

/*
 * Writes one row of cells padded to widths, without trailing spaces. Widths are in characters
 * (columns), cells in bytes: a cell is padded by hand, as printf's "%*s" counts bytes.
 */
static void put_row(FILE *out, char cells[LW_COL_COUNT][CELL_MAX], const size_t *widths, bool wide)
{
    /* per cell at most CELL_MAX - 1 bytes, as many spaces of padding, and the gap */
    char line[LW_COL_COUNT * (2 * CELL_MAX + 2) + 2];
    size_t n = 0;
    for (int c = 0; c < LW_COL_COUNT; c++) {
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
        if (c + 1 < LW_COL_COUNT) {
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

/* ---------------------------------------------------------------------------------------- */
/* the header                                                                                */

#define SPARK_WIDTH 60

const char *lw_report_records_word(const struct lw_report_env *env)
{
    size_t intervals = 0;
    for (size_t i = 0; i < env->n_invocations; i++)
        intervals += env->invocations[i].kind == LW_REPORT_INTERVAL;
    if (intervals == 0)
        return "invocations";
    return intervals == env->n_invocations ? "intervals" : "records";
}

/* The singular of lw_report_records_word(): "invocation", "interval", "record". */
static void record_word(const struct lw_report_env *env, char *dst, size_t cap)
{
    const char *w = lw_report_records_word(env);
    size_t n = strlen(w) - 1;
    snprintf(dst, cap, "%.*s", (int)n, w);
}

/* The sparkline of the function's RSS at the end of each record shown, with its range. */
static void write_sparkline(const struct lw_report_env *env, const struct lw_report_window *w,
                            bool ascii, FILE *out)
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
        char line[SPARK_WIDTH * 3 + 1], one[16];
        size_t per = lw_report_sparkline(v, w->n_inv, SPARK_WIDTH, ascii, line, sizeof(line));
        struct lw_report_unit u = pick_unit(hi);
        record_word(env, one, sizeof(one));
        fprintf(out, "memory        %s  function RSS at the end of each %s, %.1f to %.1f %s", line,
                one, lo / u.bytes, hi / u.bytes, u.name);
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
    if (env->death && env->death->conflicts && listed++ < CONFLICTS_LISTED)
        fprintf(out, "%sdeath", listed > 1 ? ", " : "");
    if (listed > CONFLICTS_LISTED)
        fprintf(out, ", %zu more", listed - CONFLICTS_LISTED);
    fprintf(out, ")\n");
}

void lw_report_put_projection(const struct lw_report_window *w, FILE *out)
{
    const struct lw_report_entry *last = w->n_inv ? &w->inv[w->n_inv - 1] : NULL;
    bool inv = last && lw_report_entry_has(last, LW_M_INVOCATIONS_TO_OOM);
    bool min = last && lw_report_entry_has(last, LW_M_MINUTES_TO_OOM);
    if (!inv && !min) {
        fputs("none", out);
        return;
    }
    fprintf(out, "out of memory in about");
    if (inv)
        fprintf(out, " %.0f invocations", last->value[LW_M_INVOCATIONS_TO_OOM]);
    if (min) {
        char m[48];
        lw_time_fmt_minutes(last->value[LW_M_MINUTES_TO_OOM], m, sizeof(m));
        fprintf(out, "%s%s%s", inv ? " (" : " ", m, inv ? ")" : "");
    }
    fprintf(out, ", as of seq %llu", (unsigned long long)last->seq);
}

void lw_report_put_records(const struct lw_report_env *env, const struct lw_report_window *w,
                           FILE *out)
{
    if (env->n_invocations == 0) {
        fputs("none in this log", out);
        return;
    }
    uint64_t lo = env->invocations[0].seq;
    uint64_t hi = env->invocations[env->n_invocations - 1].seq;
    fprintf(out, "%zu (seq %llu to %llu", env->n_invocations, (unsigned long long)lo,
            (unsigned long long)hi);
    uint64_t missing = hi - lo + 1 - env->n_invocations;
    if (missing)
        fprintf(out, ", %llu missing", (unsigned long long)missing);
    fprintf(out, ")");
    if (strcmp(lw_report_records_word(env), "records") == 0) {
        size_t intervals = 0;
        for (size_t i = 0; i < env->n_invocations; i++)
            intervals += env->invocations[i].kind == LW_REPORT_INTERVAL;
        fprintf(out, ": %zu invocations, %zu intervals", env->n_invocations - intervals, intervals);
    }
    if (w->n_inv < env->n_invocations && w->n_inv > 0)
        fprintf(out, ", %zu shown (seq %llu to %llu)", w->n_inv, (unsigned long long)w->inv[0].seq,
                (unsigned long long)w->inv[w->n_inv - 1].seq);
}

void lw_report_put_shutdown(const struct lw_report_entry *s, const char *records, FILE *out)
{
    lw_report_safe_put(out, s->reason[0] ? s->reason : "(no reason)");
    /* leakwatch's word for it, when the platform's is another */
    if (s->ending[0] && strcmp(s->ending, s->reason) != 0) {
        fputs(" (counted as ", out);
        lw_report_safe_put(out, s->ending);
        fputs(")", out);
    }
    if (s->have_lifetime) {
        char t[64];
        lw_report_fmt_duration(s->lifetime_seconds, t, sizeof(t));
        fprintf(out, ", lifetime %s (%.1f s)", t, s->lifetime_seconds);
    }
    if (s->have_invocations)
        fprintf(out, ", %llu %s", (unsigned long long)s->invocations, records);
}

/* A death figure that is true. */
static bool death_flag(const struct lw_report_entry *d, enum lw_report_death_figure id)
{
    return lw_report_death_has(d, id) && d->value[id] == 1;
}

void lw_report_put_death(const struct lw_report_entry *d, FILE *out)
{
    const char *unit = death_flag(d, LW_D_INTERVALS) ? "interval" : "invocation";
    lw_report_safe_put(out, d->ending[0] ? d->ending : "(no cause)");
    if (lw_report_death_has(d, LW_D_ACTUAL_SEQ))
        fprintf(out, " in %s %.0f", unit, d->value[LW_D_ACTUAL_SEQ]);
    else if (d->have_invocations)
        fprintf(out, " in %s %llu", unit, (unsigned long long)d->invocations);
    if (d->have_lifetime) {
        char t[64];
        lw_report_fmt_duration(d->lifetime_seconds, t, sizeof(t));
        fprintf(out, ", after %s", t);
    }
    bool oom = strcmp(d->ending, "Runtime.OutOfMemory") == 0;
    if (oom && death_flag(d, LW_D_PREDICTED)) {
        fputs(", predicted", out);
        if (lw_report_death_has(d, LW_D_LEAD_INVOCATIONS))
            fprintf(out, " %.0f %ss", d->value[LW_D_LEAD_INVOCATIONS], unit);
        double minutes = lw_report_death_has(d, LW_D_LEAD_SECONDS)
                             ? d->value[LW_D_LEAD_SECONDS] / 60.0
                         : lw_report_death_has(d, LW_D_LEAD_MINUTES) ? d->value[LW_D_LEAD_MINUTES]
                                                                     : NAN;
        if (!isnan(minutes)) {
            char m[48];
            lw_time_fmt_minutes(minutes, m, sizeof(m));
            fprintf(out, lw_report_death_has(d, LW_D_LEAD_INVOCATIONS) ? " (%s)" : " %s", m);
        }
        fputs(" ahead", out);
        if (lw_report_death_has(d, LW_D_PROJECTED_SEQ)) {
            fprintf(out, "; projected at %s %.1f when the leak was flagged", unit,
                    d->value[LW_D_PROJECTED_SEQ]);
            if (lw_report_death_has(d, LW_D_ERROR_PERCENT))
                fprintf(out, ", %.1f%% off", d->value[LW_D_ERROR_PERCENT]);
        }
    } else {
        if (oom && lw_report_death_has(d, LW_D_PREDICTED))
            fputs(", not predicted", out);
        if (d->verdict[0]) {
            fputs(" (last verdict ", out);
            lw_report_safe_put(out, d->verdict);
            fputs(")", out);
        }
    }
    if (d->oom_forms[0]) {
        fputs("; recognised by ", out);
        lw_report_safe_put(out, d->oom_forms);
    }
}

void lw_report_put_culprit(const struct lw_report_entry *e, FILE *out)
{
    lw_report_safe_put(out, e->culprit);
    if (e->culprit_pid)
        fprintf(out, ", pid %u", (unsigned)e->culprit_pid);
}

void lw_report_put_verdict(const struct lw_report_entry *last, bool with_culprit, FILE *out)
{
    if (!last || !last->verdict[0]) {
        fputs("-", out);
        return;
    }
    lw_report_safe_put(out, last->verdict);
    if (last->reason[0]) {
        fputs(": ", out);
        lw_report_safe_put(out, last->reason);
    }
    if (with_culprit && last->culprit[0]) {
        fputs(" (culprit: ", out);
        lw_report_put_culprit(last, out);
        fputs(")", out);
    }
}

bool lw_report_put_horizon(const struct lw_report_story *s, FILE *out)
{
    if (!s->have_horizon && s->horizon_why) {
        fputs(s->horizon_why, out);
        return true;
    }
    if (!s->have_horizon)
        return false;
    fprintf(out, "%.0f min after the start%s: ", s->horizon_minutes,
            s->horizon_default ? " (the default: the verdict does not name it)" : "");
    if (s->horizon_estimated) {
        fprintf(out, "about invocation %.0f at %.1f invocations/min%s", s->horizon_x,
                s->rate_per_minute, s->rate_from_log ? " (the log's rate)" : "");
    } else {
        fprintf(out, "invocation %.0f", s->horizon_x);
    }
    if (s->have_oom)
        fprintf(out, ", %s the projected out of memory",
                s->horizon_x < s->oom_x ? "before" : "after");
    return true;
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

    fprintf(out, "%-14s", lw_report_records_word(env));
    lw_report_put_records(env, w, out);
    fputs("\n", out);
    if (env->n_invocations > 0) {
        const struct lw_report_entry *cold = NULL, *restored = NULL;
        for (size_t i = 0; i < env->n_invocations; i++) {
            if (!cold && env->invocations[i].cold_start)
                cold = &env->invocations[i];
            if (!restored && env->invocations[i].restored)
                restored = &env->invocations[i];
        }
        if (cold)
            fprintf(out, "cold start    seq %llu\n", (unsigned long long)cold->seq);
        else
            fprintf(out, "cold start    not in this log\n");
        if (restored)
            fprintf(out, "restored      seq %llu (SnapStart)\n", (unsigned long long)restored->seq);
        const struct lw_report_entry *last = &env->invocations[env->n_invocations - 1];
        if (lw_report_entry_has(last, LW_M_MEM_LIMIT))
            fprintf(out, "memory limit  %.1f MiB\n", last->value[LW_M_MEM_LIMIT] / MIB);
    }

    write_conflicts(env, out);
    fputs("shutdown      ", out);
    if (env->shutdown)
        lw_report_put_shutdown(env->shutdown, lw_report_records_word(env), out);
    else
        fputs("not in this log", out);
    fputs("\n", out);
    if (env->death) {
        fputs("death         ", out);
        lw_report_put_death(env->death, out);
        fputs("\n", out);
    }

    /* the verdict as of the last invocation shown */
    fputs("verdict       ", out);
    lw_report_put_verdict(w->n_inv ? &w->inv[w->n_inv - 1] : NULL, true, out);
    fputs("\nprojection    ", out);
    lw_report_put_projection(w, out);
    fputs("\n", out);
    struct lw_report_story story;
    lw_report_story_of(env, w, &story);
    if (story.have_oom) {
        fputs("horizon       ", out);
        lw_report_put_horizon(&story, out);
        fputs("\n", out);
    }
    write_sparkline(env, w, ascii, out);
}

void lw_report_put_alert(const struct lw_report_entry *a, FILE *out)
{
    fprintf(out, "seq %llu: ", (unsigned long long)a->seq);
    lw_report_safe_put(out, a->from[0] ? a->from : "?");
    fputs(" -> ", out);
    lw_report_safe_put(out, a->verdict[0] ? a->verdict : "?");
    bool open = false;
    /* per invocation, or per hour for an alert about interval records */
    enum lw_metric_id g_id = lw_report_entry_has(a, LW_M_GROWTH_PER_INVOCATION)
                                 ? LW_M_GROWTH_PER_INVOCATION
                                 : LW_M_GROWTH_PER_HOUR;
    if (lw_report_entry_has(a, g_id)) {
        char g[48];
        lw_report_fmt_bytes(a->value[g_id], g, sizeof(g));
        fprintf(out, " (growth %s per %s", g,
                g_id == LW_M_GROWTH_PER_INVOCATION ? "invocation" : "hour");
        open = true;
    }
    if (lw_report_entry_has(a, LW_M_MINUTES_TO_OOM)) {
        fprintf(out, "%sout of memory in %.1f min", open ? ", " : " (",
                a->value[LW_M_MINUTES_TO_OOM]);
        open = true;
    }
    if (a->culprit[0]) {
        fprintf(out, "%sculprit ", open ? ", " : " (");
        lw_report_put_culprit(a, out);
        open = true;
    }
    if (a->site && a->site[0]) {
        char g[48];
        lw_report_fmt_bytes(a->site_growth_bytes, g, sizeof(g));
        fprintf(out, "%sallocated at ", open ? ", " : " (");
        lw_report_safe_put(out, a->site);
        fprintf(out, ", grew %s", g);
        open = true;
    }
    if (open)
        fprintf(out, ")");
    if (a->reason[0]) {
        fputs(": ", out);
        lw_report_safe_put(out, a->reason);
    }
}

static void write_alerts(const struct lw_report_window *w, FILE *out)
{
    if (w->n_alerts == 0)
        return;
    fprintf(out, "\nalerts\n");
    for (size_t i = 0; i < w->n_alerts; i++) {
        fputs("  ", out);
        lw_report_put_alert(&w->alerts[i], out);
        fputs("\n", out);
    }
}

/* Row i of the table: a record, or after them the death's own row. */
static void table_cells(const struct lw_report_table *t, const struct lw_report_window *w, size_t i,
                        char cells[LW_COL_COUNT][CELL_MAX])
{
    if (i < w->n_inv)
        lw_report_table_row(t, &w->inv[i], cells);
    else
        lw_report_table_death_row(t, cells);
}

void lw_report_write_env_text(const struct lw_report_env *env, const struct lw_report_options *opt,
                              FILE *out)
{
    struct lw_report_window w = lw_report_window_of(env, opt);
    write_header(env, &w, opt && opt->ascii, out);
    bool wide = opt && opt->wide;
    if (w.n_inv > 0) {
        struct lw_report_table t;
        lw_report_table_init(&t, env, &w);
        char head[LW_COL_COUNT][CELL_MAX], units[LW_COL_COUNT][CELL_MAX];
        char cells[LW_COL_COUNT][CELL_MAX];
        size_t widths[LW_COL_COUNT];
        for (int c = 0; c < LW_COL_COUNT; c++) {
            const char *name, *unit;
            lw_report_table_head(&t, (enum lw_report_col)c, &name, &unit);
            snprintf(head[c], CELL_MAX, "%s", name);
            snprintf(units[c], CELL_MAX, "%s", unit);
            size_t a = strlen(head[c]), b = strlen(unit);
            widths[c] = a > b ? a : b;
        }
        /* first pass: widths; second: the rows (the records, then the death's own) */
        size_t rows = w.n_inv + t.death_row;
        for (size_t i = 0; i < rows; i++) {
            table_cells(&t, &w, i, cells);
            for (int c = 0; c < LW_COL_COUNT; c++) {
                size_t l = lw_report_safe_columns(cells[c]);
                if (l > widths[c])
                    widths[c] = l;
            }
        }
        fprintf(out, "\n");
        put_row(out, head, widths, wide);
        put_row(out, units, widths, wide);
        for (size_t i = 0; i < rows; i++) {
            table_cells(&t, &w, i, cells);
            put_row(out, cells, widths, wide);
        }
    }
    write_alerts(&w, out);
}

/* ---------------------------------------------------------------------------------------- */
/* deaths                                                                                    */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (n > 0), sorting v. */
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void lw_report_count_deaths(const struct lw_report *r, const struct lw_report_options *opt,
                            struct lw_report_deaths *out)
{
    memset(out, 0, sizeof(*out));
    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    size_t n_envs = lw_report_env_count(r), n_secs = 0, n_invs = 0;
    double *secs = malloc((n_envs ? n_envs : 1) * sizeof(*secs));
    double *invs = malloc((n_envs ? n_envs : 1) * sizeof(*invs));
    for (size_t i = 0; i < n_envs; i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        const struct lw_report_entry *d = env->death;
        if (!d || !lw_report_selected(&sel, env))
            continue;
        out->deaths++;
        if (strcmp(d->ending, "Runtime.OutOfMemory") != 0)
            continue;
        out->out_of_memory++;
        if (!death_flag(d, LW_D_PREDICTED))
            continue;
        out->predicted++;
        double s = lw_report_death_has(d, LW_D_LEAD_SECONDS)   ? d->value[LW_D_LEAD_SECONDS]
                   : lw_report_death_has(d, LW_D_LEAD_MINUTES) ? d->value[LW_D_LEAD_MINUTES] * 60
                                                               : NAN;
        if (secs && !isnan(s))
            secs[n_secs++] = s;
        if (invs && lw_report_death_has(d, LW_D_LEAD_INVOCATIONS))
            invs[n_invs++] = d->value[LW_D_LEAD_INVOCATIONS];
    }
    if (n_secs) {
        out->have_lead = true;
        out->median_lead_seconds = median(secs, n_secs);
        out->median_lead_invocations = n_invs ? median(invs, n_invs) : NAN;
    }
    free(secs);
    free(invs);
}

void lw_report_put_deaths(const struct lw_report_deaths *d, FILE *out)
{
    fprintf(out, "predicted %zu of %zu out-of-memory death%s", d->predicted, d->out_of_memory,
            d->out_of_memory == 1 ? "" : "s");
    if (d->have_lead) {
        char m[48];
        lw_time_fmt_minutes(d->median_lead_seconds / 60.0, m, sizeof(m));
        fprintf(out, ", median lead %s", m);
        if (!isnan(d->median_lead_invocations))
            fprintf(out, " (%.0f invocations)", d->median_lead_invocations);
    }
    size_t other = d->deaths - d->out_of_memory;
    if (other)
        fprintf(out, "; %zu other death%s", other, other == 1 ? "" : "s");
}

void lw_report_write_stats(const struct lw_report *r, FILE *out)
{
    struct lw_report_stats st;
    lw_report_stats(r, &st);
    const struct lw_report_stats *s = &st;
    fprintf(out, "input: %llu lines: %llu invocation, ", (unsigned long long)s->lines,
            (unsigned long long)s->invocations);
    if (s->intervals)
        fprintf(out, "%llu interval, ", (unsigned long long)s->intervals);
    fprintf(out, "%llu shutdown, %llu alert", (unsigned long long)s->shutdowns,
            (unsigned long long)s->alerts);
    if (s->deaths)
        fprintf(out, ", %llu death", (unsigned long long)s->deaths);
    fprintf(out,
            "; skipped %llu text, "
            "%llu bad JSON, %llu other JSON, %llu invalid, %llu too long",
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
    struct lw_report_deaths deaths;
    lw_report_count_deaths(r, opt, &deaths);
    if (deaths.deaths) {
        fputs("deaths: ", out);
        lw_report_put_deaths(&deaths, out);
        fputs("\n\n", out);
    }
    lw_report_write_stats(r, out);
    return ferror(out) ? LW_ERR_IO : LW_OK;
}
