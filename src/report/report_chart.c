/*
 * `leakwatch report`: the chart (SVG), one panel per environment.
 *
 * A chart that is read on its own, away from the terminal and the README: every panel says
 * which function and environment it shows, what each line is (legend), in which units (axis
 * labels), where the limit is, and the whole story of the environment: its records, the leak
 * trend of its latest verdict drawn on to where it meets the limit (the projected
 * out-of-memory point), the recycle horizon, and the death the next environment told. The x
 * axis reaches all of them, so a slow leak's records can be a sliver at its left: a second
 * plot under the first then shows them alone, enlarged. Every point and mark is a figure of
 * the log; the projection is a dashed line, labelled as one (report_story.c places it).
 *
 * Elements carry a class (and the series a data-series) so that the tests, and anyone styling
 * the page, can find them: "series", "limit", "trend", "oom", "horizon", "death",
 * "first-projection", "cold-start", "verdict-change", "legend", "title", "axis-label",
 * "detail".
 */
#include "report_internal.h"

#include <leakwatch/timefmt.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_W 900
#define PANEL_H 500
#define PLOT_L 80.0
#define PLOT_R 870.0
#define PLOT_T 128.0
#define PLOT_B 430.0
#define MIB LW_REPORT_MIB

/* A string from the log. */
static void xml_text(FILE *out, const char *s)
{
    lw_report_xml_put(out, s);
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` intervals. */
static double nice_step(double range, int ticks)
{
    if (!(range > 0))
        return 1;
    double raw = range / ticks;
    double p = pow(10, floor(log10(raw)));
    double f = raw / p;
    double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nice * p;
}

struct series {
    const char *key; /* data-series */
    const char *label;
    const char *color;
    double width;
    enum lw_metric_id metric;
};

static const struct series chart_series[] = {
    {"start", "function RSS at start", "#9467bd", 1.5, LW_M_FN_RSS_START},
    {"peak", "function RSS peak", "#ff7f0e", 1.5, LW_M_FN_RSS_PEAK},
    {"end", "function RSS at end", "#1f77b4", 2.0, LW_M_FN_RSS_END},
    {"environment", "environment RSS", "#2ca02c", 1.0, LW_M_ENV_RSS},
};
#define N_SERIES (sizeof(chart_series) / sizeof(chart_series[0]))

#define LIMIT_COLOR "#d62728"
#define TREND_COLOR "#000000"
#define COLD_COLOR "#17becf"
#define HORIZON_COLOR "#8c564b"
#define DEATH_COLOR "#7b0000"

/*
 * One plot of a panel: its place in the panel (top, bottom) and its scales (x from xlo to xhi
 * in the story's unit, y from 0 to ytop MiB).
 */
struct plot {
    double top, bottom;
    double xlo, xhi, ytop;
};

static double xpos(const struct plot *p, double x)
{
    return PLOT_L + (x - p->xlo) / (p->xhi - p->xlo) * (PLOT_R - PLOT_L);
}

static double ypos(const struct plot *p, double mib)
{
    return p->bottom - mib / p->ytop * (p->bottom - p->top);
}

/*
 * What a panel shows and where: the main plot tells the whole story (the records, then the
 * projection to where memory runs out, the recycle horizon and the death); when the records
 * take less than a third of its width, or less than a quarter of its height, a second plot
 * shows them alone, enlarged.
 */
struct layout {
    struct lw_report_story story;
    double limit_mib;
    double data_mib;        /* the highest figure of the records */
    double xlo, xhi_logged; /* the records' extent on x */
    bool have_records;
    struct plot main, detail;
    bool main_limit_visible, detail_limit_visible;
    bool have_detail;
    bool horizon_beyond; /* the horizon lies right of the main plot: said at its edge */
    double height;
};

#define DETAIL_H 300.0

/* y from 0 to above the largest value, on a "nice" step; returns the step. */
static double y_scale(struct plot *p, double ymax)
{
    double ystep = nice_step(ymax > 0 ? ymax : 1, 5);
    p->ytop = ceil((ymax > 0 ? ymax * 1.05 : 1) / ystep) * ystep;
    return ystep;
}

static void x_range(struct plot *p, double lo, double hi)
{
    p->xlo = lo;
    p->xhi = hi;
    if (!(p->xhi > p->xlo)) {
        p->xlo -= 1;
        p->xhi += 1;
    }
}

static void layout_panel(const struct lw_report_env *env, const struct lw_report_window *w,
                         struct layout *l)
{
    memset(l, 0, sizeof(*l));
    lw_report_story_of(env, w, &l->story);
    const struct lw_report_story *s = &l->story;
    l->limit_mib = s->have_limit ? s->limit_bytes / MIB : 0;
    for (size_t i = 0; i < w->n_inv; i++) {
        double x;
        if (!lw_report_story_x(s, &w->inv[i], &x))
            continue;
        if (!l->have_records || x < l->xlo)
            l->xlo = x;
        if (!l->have_records || x > l->xhi_logged)
            l->xhi_logged = x;
        l->have_records = true;
        for (size_t k = 0; k < N_SERIES; k++)
            if (lw_report_entry_has(&w->inv[i], chart_series[k].metric) &&
                w->inv[i].value[chart_series[k].metric] / MIB > l->data_mib)
                l->data_mib = w->inv[i].value[chart_series[k].metric] / MIB;
    }
    if (s->time_axis && l->xlo > 0)
        l->xlo = 0; /* minutes since the first record started */

    /* x: the records, then where memory runs out, the first projection and the death */
    double end = l->have_records ? l->xhi_logged : l->xlo + 1;
    if (s->have_oom && s->oom_x > end)
        end = s->oom_x;
    if (s->have_death && s->death_x > end)
        end = s->death_x;
    if (s->have_first_projection && s->first_projection_x > end)
        end = s->first_projection_x;
    /* the horizon when it does not squeeze the rest to less than half the width */
    if (s->have_horizon && s->horizon_x > end) {
        if (s->horizon_x - l->xlo <= 2 * (end - l->xlo))
            end = s->horizon_x;
        else
            l->horizon_beyond = true;
    }
    if (s->have_oom || s->have_death || (s->have_horizon && !l->horizon_beyond))
        end += 0.02 * (end - l->xlo); /* room for the marks at the far end */
    x_range(&l->main, l->xlo, end);

    /*
     * y: from 0 to the largest figure, the limit included when the trend goes there (it must
     * meet it) or when it is no more than four times the largest figure; above that the lines
     * would be flat at the bottom, so the limit is named at the top instead.
     */
    double ymax = l->data_mib;
    l->main_limit_visible =
        s->have_limit && (s->have_oom || l->data_mib == 0 || l->limit_mib <= 4 * l->data_mib);
    if (l->main_limit_visible && l->limit_mib > ymax)
        ymax = l->limit_mib;
    l->main.top = PLOT_T;
    l->main.bottom = PLOT_B;
    y_scale(&l->main, ymax);
    l->height = PANEL_H;

    double width = l->main.xhi - l->main.xlo;
    bool narrow = l->have_records && l->xhi_logged - l->xlo < width / 3;
    bool low = l->data_mib > 0 && l->data_mib < l->main.ytop / 4;
    if (w->n_inv >= 2 && (narrow || low)) {
        l->have_detail = true;
        l->detail.top = PANEL_H + 34;
        l->detail.bottom = PANEL_H + DETAIL_H - 60;
        x_range(&l->detail, l->xlo, l->xhi_logged);
        /* enlarged: the limit only when it is close above the records */
        l->detail_limit_visible = s->have_limit && l->limit_mib <= 1.25 * l->data_mib;
        y_scale(&l->detail,
                l->detail_limit_visible && l->limit_mib > l->data_mib ? l->limit_mib : l->data_mib);
        l->height += DETAIL_H;
    }
}

/* A label that stays inside the plot: ending at x when there is room on its left. */
static void label_at(FILE *out, const char *cls, double x, double y, const char *color,
                     const char *text)
{
    double w = 6.0 * (double)lw_report_safe_columns(text);
    bool left = x - 6 - w >= PLOT_L;
    fprintf(out,
            "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"11\" "
            "fill=\"%s\">",
            cls, left ? x - 6 : x + 6, y, left ? "end" : "start", color);
    xml_text(out, text);
    fputs("</text>\n", out);
}

/* One legend entry at (*x, *y): a sample of the mark, then the label; wraps to a new row. */
static void legend_item(FILE *out, double *x, double *y, const char *mark, const char *label)
{
    double w = 30 + 6.2 * (double)strlen(label) + 16; /* ~6.2 px per character at 11 px */
    if (*x + w > PLOT_R && *x > PLOT_L) {
        *x = PLOT_L;
        *y += 15;
    }
    fprintf(out, "<g class=\"legend-item\" transform=\"translate(%.1f,%.1f)\">%s", *x, *y, mark);
    fprintf(out, "<text x=\"26\" y=\"4\" font-size=\"11\">");
    xml_text(out, label);
    fputs("</text></g>\n", out);
    *x += w;
}

struct drawn {
    bool cold, change, restored;
};

static void write_legend(FILE *out, const struct lw_report_window *w, const struct layout *l,
                         const struct drawn *d)
{
    const struct lw_report_story *s = &l->story;
    double x = PLOT_L, y = 68;
    char mark[256];
    fputs("<g class=\"legend\">\n", out);
    for (size_t k = 0; k < N_SERIES; k++) {
        const struct series *ser = &chart_series[k];
        if (!lw_report_last_with(w, ser->metric))
            continue;
        snprintf(mark, sizeof(mark),
                 "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"%s\" stroke-width=\"%.1f\"/>",
                 ser->color, ser->width + 0.5);
        legend_item(out, &x, &y, mark, ser->label);
    }
    if (l->main_limit_visible)
        legend_item(out, &x, &y,
                    "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"" LIMIT_COLOR
                    "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>",
                    "memory limit");
    if (s->have_trend)
        legend_item(out, &x, &y,
                    "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"" TREND_COLOR
                    "\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>",
                    "leak trend of the verdict, projected");
    if (s->have_oom && l->main_limit_visible)
        legend_item(out, &x, &y,
                    "<circle cx=\"10\" cy=\"0\" r=\"5\" fill=\"none\" stroke=\"" LIMIT_COLOR
                    "\" stroke-width=\"2\"/>",
                    "projected out of memory");
    if (s->have_horizon)
        legend_item(out, &x, &y,
                    "<line x1=\"10\" y1=\"-6\" x2=\"10\" y2=\"6\" stroke=\"" HORIZON_COLOR
                    "\" stroke-width=\"2\" stroke-dasharray=\"1 3\"/>",
                    "recycle horizon");
    if (s->have_first_projection)
        legend_item(out, &x, &y,
                    "<path d=\"M10,-5 L15,0 L10,5 L5,0 Z\" fill=\"none\" stroke=\"" LIMIT_COLOR
                    "\" stroke-width=\"1.5\"/>",
                    "projected when the leak was flagged");
    if (s->have_death)
        legend_item(out, &x, &y,
                    "<line x1=\"10\" y1=\"-6\" x2=\"10\" y2=\"6\" stroke=\"" DEATH_COLOR
                    "\" stroke-width=\"2.5\"/>",
                    "death (told by the next environment)");
    if (d->cold)
        legend_item(out, &x, &y, "<path d=\"M10,-5 L15,4 L5,4 Z\" fill=\"" COLD_COLOR "\"/>",
                    "cold start");
    if (d->change)
        legend_item(out, &x, &y,
                    "<line x1=\"10\" y1=\"-6\" x2=\"10\" y2=\"6\" stroke=\"#7f7f7f\" "
                    "stroke-dasharray=\"3 3\"/>",
                    "verdict change");
    fputs("</g>\n", out);
}

static void write_axes(FILE *out, const struct plot *p, const struct lw_report_story *s)
{
    double ystep = nice_step(p->ytop, 5);
    double xstep = nice_step(p->xhi - p->xlo, 8);
    if (!s->time_axis && xstep < 1)
        xstep = 1;
    fputs("<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n", out);
    for (double v = 0; v <= p->ytop + ystep / 2; v += ystep)
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PLOT_L,
                ypos(p, v), PLOT_R, ypos(p, v));
    fputs("</g>\n<g class=\"ticks\" font-size=\"11\" fill=\"#333333\">\n", out);
    for (double v = 0; v <= p->ytop + ystep / 2; v += ystep)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", PLOT_L - 6,
                ypos(p, v) + 4, v);
    for (double v = ceil(p->xlo / xstep) * xstep; v <= p->xhi + xstep / 1000; v += xstep)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n", xpos(p, v),
                p->bottom + 16, s->time_axis && xstep < 1 ? 1 : 0, v);
    fputs("</g>\n", out);
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n"
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
            PLOT_L, p->bottom, PLOT_R, p->bottom, PLOT_L, p->top, PLOT_L, p->bottom);
    fprintf(out,
            "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "font-size=\"12\">",
            (PLOT_L + PLOT_R) / 2, p->bottom + 36);
    if (s->time_axis) {
        char t0[32];
        lw_report_fmt_utc(s->t0_ms, t0, sizeof(t0));
        fprintf(out, "time (minutes since %s UTC, the start of the first interval shown)", t0);
    } else {
        fputs("invocation (sequence number in this environment)", out);
    }
    fputs("</text>\n", out);
    fprintf(out,
            "<text class=\"axis-label\" x=\"18\" y=\"%.1f\" text-anchor=\"middle\" "
            "font-size=\"12\" transform=\"rotate(-90 18 %.1f)\">memory (MiB)</text>\n",
            (p->top + p->bottom) / 2, (p->top + p->bottom) / 2);
}

/* The memory limit: a dashed line, or a note at the top when it is far above the figures. */
static void write_limit(FILE *out, const struct plot *p, double limit_mib, bool visible)
{
    if (!visible) {
        fprintf(out,
                "<text class=\"limit\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                "fill=\"" LIMIT_COLOR
                "\">\xe2\x86\x91 memory limit %.0f MiB, above this range</text>\n",
                PLOT_L + 6, p->top + 14, limit_mib);
        return;
    }
    double y = ypos(p, limit_mib);
    fprintf(out,
            "<line class=\"limit\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"" LIMIT_COLOR "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n",
            PLOT_L, y, PLOT_R, y);
    fprintf(out,
            "<text class=\"limit-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"" LIMIT_COLOR
            "\">memory limit %.0f MiB</text>\n",
            PLOT_L + 6, y - 5, limit_mib);
}

/* Verdict changes: a dashed vertical line and the new verdict. */
static bool write_changes(FILE *out, const struct plot *p, const struct lw_report_story *s,
                          const struct lw_report_window *w)
{
    bool any = false;
    const char *prev = NULL;
    for (size_t i = 0; i < w->n_inv; i++) {
        const char *v = w->inv[i].verdict;
        double xv;
        if (!v[0] || !lw_report_story_x(s, &w->inv[i], &xv))
            continue;
        if (prev && v != prev) {
            double x = xpos(p, xv);
            any = true;
            fprintf(out,
                    "<line class=\"verdict-change\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                    "y2=\"%.1f\" stroke=\"#7f7f7f\" stroke-dasharray=\"3 3\"/>\n",
                    x, p->top, x, p->bottom);
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555555\">", x + 3,
                    p->top + 10);
            xml_text(out, v);
            fputs("</text>\n", out);
        }
        prev = v;
    }
    return any;
}

/* One polyline per series; a missing figure is skipped, not drawn as zero. */
static void write_series(FILE *out, const struct plot *p, const struct lw_report_story *s,
                         const struct lw_report_window *w)
{
    for (size_t k = 0; k < N_SERIES; k++) {
        const struct series *ser = &chart_series[k];
        if (!lw_report_last_with(w, ser->metric))
            continue;
        fprintf(out,
                "<polyline class=\"series\" data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
                "stroke-width=\"%.1f\" points=\"",
                ser->key, ser->color, ser->width);
        bool first = true;
        for (size_t i = 0; i < w->n_inv; i++) {
            const struct lw_report_entry *e = &w->inv[i];
            double x;
            if (!lw_report_entry_has(e, ser->metric) || !lw_report_story_x(s, e, &x))
                continue;
            fprintf(out, "%s%.1f,%.1f", first ? "" : " ", xpos(p, x),
                    ypos(p, e->value[ser->metric] / MIB));
            first = false;
        }
        fputs("\"><title>", out);
        xml_text(out, ser->label);
        fputs(" (MiB)</title></polyline>\n", out);
    }
}

/* Cold starts: a triangle on the x axis and a label. */
static bool write_cold_starts(FILE *out, const struct plot *p, const struct lw_report_story *s,
                              const struct lw_report_window *w)
{
    bool any = false;
    for (size_t i = 0; i < w->n_inv; i++) {
        double xv;
        if (!w->inv[i].cold_start || !lw_report_story_x(s, &w->inv[i], &xv))
            continue;
        any = true;
        double x = xpos(p, xv);
        fprintf(
            out,
            "<path class=\"cold-start\" d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z\" fill=\"" COLD_COLOR
            "\"><title>cold start: %s %llu</title></path>\n",
            x, p->bottom - 10, x + 6, p->bottom, x - 6, p->bottom,
            w->inv[i].kind == LW_REPORT_INTERVAL ? "interval" : "invocation",
            (unsigned long long)w->inv[i].seq);
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#0e7c86\">cold start</text>\n",
                x + 8, p->bottom - 4);
    }
    return any;
}

/* Where the story's x is, said in words: "invocation 1762", "1.5 min". */
static void fmt_x(const struct lw_report_story *s, double x, char *dst, size_t cap)
{
    if (s->time_axis)
        snprintf(dst, cap, "%.1f min", x);
    else
        snprintf(dst, cap, "invocation %.0f", x);
}

/*
 * The trend of the latest verdict, dashed: from the left edge through the anchor, to the point
 * where it meets the limit (marked and labelled), or to the right edge when it projects
 * nothing.
 */
static void write_trend_line(FILE *out, const struct plot *p, const struct layout *l)
{
    const struct lw_report_story *s = &l->story;
    bool to_oom = s->have_oom && l->main_limit_visible && s->oom_x > s->anchor_x &&
                  s->anchor_bytes < s->limit_bytes;
    /* a projection ends the line where memory runs out, even when the anchor is past it */
    double x0 = p->xlo, x1 = !s->have_oom             ? p->xhi
                             : s->oom_x > s->anchor_x ? s->oom_x
                                                      : s->anchor_x;
    double mib0 = s->anchor_bytes / MIB, slope = s->slope_bytes / MIB;
    double y0 = mib0 + slope * (x0 - s->anchor_x);
    double y1 = to_oom ? l->limit_mib : mib0 + slope * (x1 - s->anchor_x);
    /* clip to the plot: a falling trend stops at zero, a rising one at the top */
    if (y1 > p->ytop && slope > 0) {
        x1 = s->anchor_x + (p->ytop - mib0) / slope;
        y1 = p->ytop;
    }
    if (y0 < 0 && slope > 0) {
        x0 = s->anchor_x - mib0 / slope;
        y0 = 0;
    }
    y0 = y0 < 0 ? 0 : y0 > p->ytop ? p->ytop : y0;
    y1 = y1 < 0 ? 0 : y1;
    fprintf(out,
            "<line class=\"trend\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"" TREND_COLOR "\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>\n",
            xpos(p, x0), ypos(p, y0), xpos(p, x1), ypos(p, y1));
}

/* The projected out-of-memory point, marked on the limit and labelled, and the trend to it. */
static void write_trend(FILE *out, const struct plot *p, const struct layout *l)
{
    const struct lw_report_story *s = &l->story;
    if (s->have_trend)
        write_trend_line(out, p, l);
    if (!s->have_oom || !l->main_limit_visible)
        return;
    char label[160], where[48], mins[48] = "";
    fmt_x(s, s->oom_x, where, sizeof(where));
    if (!isnan(s->oom_minutes)) {
        char m[32];
        lw_time_fmt_minutes(s->oom_minutes, m, sizeof(m));
        snprintf(mins, sizeof(mins), " (in about %s)", m);
    }
    snprintf(label, sizeof(label), "projected out of memory at %s%s", where,
             s->time_axis ? "" : mins);
    double x = xpos(p, s->oom_x), y = ypos(p, l->limit_mib);
    fprintf(out,
            "<circle class=\"oom\" cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"none\" "
            "stroke=\"" LIMIT_COLOR "\" stroke-width=\"2\"/>\n",
            x, y);
    label_at(out, "oom-label", x - 2, y - 10, LIMIT_COLOR, label);
}

/* The recycle horizon: a dotted vertical line, or a note at the edge it lies beyond. */
static void write_horizon(FILE *out, const struct plot *p, const struct layout *l)
{
    const struct lw_report_story *s = &l->story;
    if (!s->have_horizon)
        return;
    char label[160], where[48];
    fmt_x(s, s->horizon_x, where, sizeof(where)); /* never on a time axis: see find_horizon */
    snprintf(label, sizeof(label), "recycle horizon, %.0f min after the start: %s%s",
             s->horizon_minutes, s->horizon_estimated ? "about " : "", where);
    if (l->horizon_beyond || s->horizon_x < p->xlo) {
        bool right = s->horizon_x > p->xhi;
        fprintf(out,
                "<text class=\"horizon\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
                "font-size=\"11\" fill=\"" HORIZON_COLOR "\">%s",
                right ? PLOT_R - 4 : PLOT_L + 6, p->bottom - 24, right ? "end" : "start",
                right ? "" : "\xe2\x86\x90 ");
        xml_text(out, label);
        fputs(right ? " \xe2\x86\x92</text>\n" : "</text>\n", out);
        return;
    }
    double x = xpos(p, s->horizon_x);
    fprintf(out,
            "<line class=\"horizon\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"" HORIZON_COLOR "\" stroke-width=\"2\" stroke-dasharray=\"1 3\"/>\n",
            x, p->top, x, p->bottom);
    label_at(out, "horizon-label", x, p->bottom - 24, HORIZON_COLOR, label);
}

/* The death: a solid vertical line where the environment died, and what the projection said
 * of it when the leak was flagged. */
static void write_death(FILE *out, const struct plot *p, const struct layout *l,
                        const struct lw_report_env *env)
{
    const struct lw_report_story *s = &l->story;
    if (s->have_first_projection && l->main_limit_visible) {
        double x = xpos(p, s->first_projection_x), y = ypos(p, l->limit_mib);
        fprintf(out,
                "<path class=\"first-projection\" d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f "
                "L%.1f,%.1f Z\" fill=\"none\" stroke=\"" LIMIT_COLOR "\" stroke-width=\"1.5\">"
                "<title>projected when the leak was flagged: invocation %.1f</title></path>\n",
                x, y - 6, x + 6, y, x, y + 6, x - 6, y, s->first_projection_x);
    }
    if (!s->have_death)
        return;
    const struct lw_report_entry *d = env->death;
    double x = xpos(p, s->death_x);
    fprintf(out,
            "<line class=\"death\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"" DEATH_COLOR "\" stroke-width=\"2.5\"/>\n",
            x, p->top, x, p->bottom);
    char label[LW_REPORT_WORD_MAX + 96], cause[LW_REPORT_WORD_MAX], where[48];
    lw_report_safe_copy(cause, sizeof(cause), d->ending[0] ? d->ending : "death", SIZE_MAX);
    fmt_x(s, s->death_x, where, sizeof(where));
    snprintf(label, sizeof(label), "died: %s, %s", cause, where);
    /* low on the right: a leak's lines are high there */
    label_at(out, "death-label", x, p->bottom - 42, DEATH_COLOR, label);
}

static void write_title(FILE *out, const struct lw_report_env *env,
                        const struct lw_report_window *w, const struct lw_report_story *s)
{
    fprintf(out,
            "<text class=\"title\" x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">"
            "%s",
            PLOT_L, s->time_axis ? "Memory over time: " : "Memory per invocation: ");
    xml_text(out, env->function_name[0] ? env->function_name : "(unknown function)");
    fputs("</text>\n", out);
    fprintf(out,
            "<text class=\"subtitle\" x=\"%.0f\" y=\"38\" font-size=\"11\" fill=\"#555555\">"
            "environment ",
            PLOT_L);
    xml_text(out, env->env_id);
    fputs("</text>\n", out);
    /* a second line: an environment id can take the whole width */
    const struct lw_report_entry *last = w->n_inv ? &w->inv[w->n_inv - 1] : NULL;
    bool verdict = last && last->verdict[0];
    if (!verdict && !env->conflicts)
        return;
    fprintf(out,
            "<text class=\"subtitle-verdict\" x=\"%.0f\" y=\"52\" font-size=\"11\" "
            "fill=\"#555555\">",
            PLOT_L);
    if (verdict) {
        fputs("verdict ", out);
        xml_text(out, last->verdict);
        enum lw_metric_id g = s->time_axis ? LW_M_GROWTH_PER_HOUR : LW_M_GROWTH_PER_INVOCATION;
        if (lw_report_entry_has(last, g)) {
            char b[48];
            lw_report_fmt_bytes(last->value[g], b, sizeof(b));
            fprintf(out, ", growth %s per %s", b, s->time_axis ? "hour" : "invocation");
        }
    }
    if (env->conflicts)
        fprintf(out, "%s%llu conflicting record%s, the first read shown",
                verdict ? " \xc2\xb7 " : "", (unsigned long long)env->conflicts,
                env->conflicts == 1 ? "" : "s");
    fputs("</text>\n", out);
}

/* The records alone, enlarged, under the main plot. */
static void write_detail(FILE *out, const struct layout *l, const struct lw_report_window *w,
                         struct drawn *d)
{
    const struct plot *p = &l->detail;
    const struct lw_report_story *s = &l->story;
    fprintf(out,
            "<text class=\"detail-title\" x=\"%.0f\" y=\"%.1f\" font-size=\"13\" "
            "font-weight=\"bold\">The %zu %s logged, enlarged</text>\n",
            PLOT_L, p->top - 14, w->n_inv, s->time_axis ? "intervals" : "invocations");
    write_axes(out, p, s);
    d->change |= write_changes(out, p, s, w);
    if (s->have_limit)
        write_limit(out, p, l->limit_mib, l->detail_limit_visible);
    write_series(out, p, s, w);
    d->cold |= write_cold_starts(out, p, s, w);
}

static void write_panel(const struct lw_report_env *env, const struct lw_report_window *w,
                        const struct layout *l, double y_offset, FILE *out)
{
    const struct lw_report_story *s = &l->story;
    const struct plot *p = &l->main;
    struct drawn d = {0};
    fprintf(out, "<g class=\"panel\" transform=\"translate(0,%.0f)\">\n", y_offset);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n", PANEL_W,
            l->height);
    write_title(out, env, w, s);
    fputs("<g class=\"plot\">\n", out);
    write_axes(out, p, s);
    /* squeezed to the left, the verdict changes are read in the enlarged plot */
    if (!l->have_detail)
        d.change = write_changes(out, p, s, w);
    if (s->have_limit)
        write_limit(out, p, l->limit_mib, l->main_limit_visible);
    write_series(out, p, s, w);
    write_trend(out, p, l);
    write_horizon(out, p, l);
    write_death(out, p, l, env);
    d.cold = write_cold_starts(out, p, s, w);
    if (w->n_inv == 0)
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no invocation records</text>\n",
                (PLOT_L + PLOT_R) / 2, (p->top + p->bottom) / 2);
    fputs("</g>\n", out);
    if (l->have_detail) {
        fputs("<g class=\"plot detail\">\n", out);
        write_detail(out, l, w, &d);
        fputs("</g>\n", out);
    }
    write_legend(out, w, l, &d);
    fputs("</g>\n", out);
}

static void svg_open(FILE *out, double height, bool standalone)
{
    fprintf(out,
            "<svg %sclass=\"chart\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\" role=\"img\">\n",
            standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", PANEL_W, height, PANEL_W,
            height);
}

void lw_report_write_chart(const struct lw_report_env *env, const struct lw_report_window *w,
                           FILE *out)
{
    struct layout l;
    layout_panel(env, w, &l);
    svg_open(out, l.height, false);
    fputs("<title>leakwatch: memory of ", out);
    xml_text(out, env->function_name[0] ? env->function_name : "(unknown function)");
    fputs("</title>\n", out);
    write_panel(env, w, &l, 0, out);
    fputs("</svg>\n", out);
}

enum lw_err lw_report_write_svg(const struct lw_report *r, const struct lw_report_options *opt,
                                FILE *out)
{
    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    /* the panels' heights first: a panel with its records enlarged is taller */
    double height = 0;
    size_t n = 0;
    for (size_t i = 0; i < lw_report_env_count(r); i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        if (!lw_report_selected(&sel, env))
            continue;
        struct lw_report_window w = lw_report_window_of(env, opt);
        struct layout l;
        layout_panel(env, &w, &l);
        height += l.height;
        n++;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
    svg_open(out, n ? height : PANEL_H, true);
    fputs("<title>leakwatch: memory per invocation</title>\n", out);
    double y = 0;
    for (size_t i = 0; i < lw_report_env_count(r); i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        if (!lw_report_selected(&sel, env))
            continue;
        struct lw_report_window w = lw_report_window_of(env, opt);
        struct layout l;
        layout_panel(env, &w, &l);
        write_panel(env, &w, &l, y, out);
        y += l.height;
    }
    if (n == 0)
        fputs("<text x=\"450\" y=\"240\" text-anchor=\"middle\">no environments</text>\n", out);
    fputs("</svg>\n", out);
    return ferror(out) ? LW_ERR_IO : LW_OK;
}
