/*
 * `leakwatch report`: the chart (SVG) and the HTML page around it.
 *
 * A chart that is read on its own, away from the terminal and the README: every panel says
 * which function and environment it shows, what each line is (legend), in which units (axis
 * labels), where the limit is, and where the leak trend meets it. The projected out-of-memory
 * point is often far beyond the invocations logged (a slow leak runs out after thousands), so
 * the x axis is stretched to it only when that keeps the logged part readable; otherwise an
 * arrow at the right edge says at which invocation and in how many minutes.
 *
 * Elements carry a class (and the series a data-series) so that the tests, and anyone styling
 * the page, can find them: "series", "limit", "trend", "oom", "oom-arrow", "cold-start",
 * "verdict-change", "legend", "title", "axis-label".
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
#define PLOT_T 112.0
#define PLOT_B 430.0
#define MIB LW_REPORT_MIB

/*
 * s as XML character data or an attribute value (both quotes escaped, so it is safe in either).
 * What lw_report_safe_char() calls unsafe is shown as '?': XML 1.0 allows no C0 character but
 * tab, line feed and carriage return, not even as a character reference, and a reader stops at
 * the first byte that is not UTF-8. Line feeds are kept only where the text is the report's
 * own (the text summary in the HTML page): a string from the log keeps none.
 */
static void xml_put(FILE *out, const char *s, bool own_newlines)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        bool safe;
        size_t l = lw_report_safe_char(s + i, n - i, &safe);
        switch (s[i]) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&apos;", out);
            break;
        case '\n':
            fputc(own_newlines ? '\n' : '?', out);
            break;
        default:
            if (safe)
                fwrite(s + i, 1, l, out);
            else
                fputc('?', out);
        }
        i += l;
    }
}

/* A string from the log. */
static void xml_text(FILE *out, const char *s)
{
    xml_put(out, s, false);
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

/* The trend of the latest verdict and where it meets the limit. */
struct trend {
    bool have;
    double seq0, mib0;   /* the anchor: the last environment RSS (else function RSS end) */
    double slope_mib;    /* per invocation */
    double growth_bytes; /* the verdict's growth per invocation */
    bool have_oom;
    double oom_seq;     /* the projected invocation of out-of-memory */
    double oom_minutes; /* NAN when not projected in time */
    const char *verdict;
};

static struct trend find_trend(const struct lw_report_window *w, double limit_mib)
{
    struct trend t = {.oom_minutes = NAN};
    const struct lw_report_entry *g = lw_report_last_with(w, LW_M_GROWTH_PER_INVOCATION);
    if (!g)
        return t;
    enum lw_metric_id anchor_id =
        lw_report_last_with(w, LW_M_ENV_RSS) ? LW_M_ENV_RSS : LW_M_FN_RSS_END;
    const struct lw_report_entry *a = lw_report_last_with(w, anchor_id);
    if (!a)
        return t;
    t.have = true;
    t.verdict = g->verdict;
    t.seq0 = (double)a->seq;
    t.mib0 = a->value[anchor_id] / MIB;
    t.growth_bytes = g->value[LW_M_GROWTH_PER_INVOCATION];
    t.slope_mib = t.growth_bytes / MIB;
    if (lw_report_entry_has(g, LW_M_INVOCATIONS_TO_OOM) && limit_mib > 0 &&
        g->value[LW_M_INVOCATIONS_TO_OOM] > 0 && isfinite(g->value[LW_M_INVOCATIONS_TO_OOM])) {
        t.have_oom = true;
        t.oom_seq = (double)g->seq + g->value[LW_M_INVOCATIONS_TO_OOM];
        if (lw_report_entry_has(g, LW_M_MINUTES_TO_OOM))
            t.oom_minutes = g->value[LW_M_MINUTES_TO_OOM];
        /* draw the line the engine projected: through the anchor, meeting the limit there */
        if (t.oom_seq > t.seq0)
            t.slope_mib = (limit_mib - t.mib0) / (t.oom_seq - t.seq0);
    }
    return t;
}

struct scale {
    double xlo, xhi, ytop;
};

static double xpos(const struct scale *s, double seq)
{
    return PLOT_L + (seq - s->xlo) / (s->xhi - s->xlo) * (PLOT_R - PLOT_L);
}

static double ypos(const struct scale *s, double mib)
{
    return PLOT_B - mib / s->ytop * (PLOT_B - PLOT_T);
}

/* One legend entry at (*x, *y): a sample of the mark, then the label; wraps to a new row. */
static void legend_item(FILE *out, double *x, double *y, const char *mark, const char *label)
{
    double w = 30 + 6.2 * (double)strlen(label) + 16; /* ~6.2 px per character at 11 px */
    if (*x + w > PLOT_R && *x > PLOT_L) {
        *x = PLOT_L;
        *y += 16;
    }
    fprintf(out, "<g class=\"legend-item\" transform=\"translate(%.1f,%.1f)\">%s", *x, *y, mark);
    fprintf(out, "<text x=\"26\" y=\"4\" font-size=\"11\">");
    xml_text(out, label);
    fputs("</text></g>\n", out);
    *x += w;
}

static void write_legend(FILE *out, const struct lw_report_window *w, const struct trend *t,
                         bool have_limit, bool oom_visible, bool have_cold, bool have_change)
{
    double x = PLOT_L, y = 62;
    char mark[256];
    fputs("<g class=\"legend\">\n", out);
    for (size_t s = 0; s < N_SERIES; s++) {
        const struct series *ser = &chart_series[s];
        if (!lw_report_last_with(w, ser->metric))
            continue;
        snprintf(mark, sizeof(mark),
                 "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"%s\" stroke-width=\"%.1f\"/>",
                 ser->color, ser->width + 0.5);
        legend_item(out, &x, &y, mark, ser->label);
    }
    if (have_limit)
        legend_item(out, &x, &y,
                    "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"" LIMIT_COLOR
                    "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>",
                    "memory limit");
    if (t->have)
        legend_item(out, &x, &y,
                    "<line x1=\"0\" y1=\"0\" x2=\"20\" y2=\"0\" stroke=\"" TREND_COLOR
                    "\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>",
                    "leak trend of the verdict, projected");
    if (oom_visible)
        legend_item(out, &x, &y,
                    "<circle cx=\"10\" cy=\"0\" r=\"5\" fill=\"none\" stroke=\"" LIMIT_COLOR
                    "\" stroke-width=\"2\"/>",
                    "projected out of memory");
    else if (t->have_oom)
        legend_item(out, &x, &y, "<path d=\"M18,0 L8,-6 L8,6 Z\" fill=\"" LIMIT_COLOR "\"/>",
                    "out of memory projected beyond the range");
    if (have_cold)
        legend_item(out, &x, &y, "<path d=\"M10,-5 L15,4 L5,4 Z\" fill=\"" COLD_COLOR "\"/>",
                    "cold start");
    if (have_change)
        legend_item(out, &x, &y,
                    "<line x1=\"10\" y1=\"-6\" x2=\"10\" y2=\"6\" stroke=\"#7f7f7f\" "
                    "stroke-dasharray=\"3 3\"/>",
                    "verdict change");
    fputs("</g>\n", out);
}

static void write_axes(FILE *out, const struct scale *sc, double ystep, double xstep)
{
    fputs("<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n", out);
    for (double v = 0; v <= sc->ytop + ystep / 2; v += ystep)
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PLOT_L,
                ypos(sc, v), PLOT_R, ypos(sc, v));
    fputs("</g>\n<g class=\"ticks\" font-size=\"11\" fill=\"#333333\">\n", out);
    for (double v = 0; v <= sc->ytop + ystep / 2; v += ystep)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", PLOT_L - 6,
                ypos(sc, v) + 4, v);
    for (double v = ceil(sc->xlo / xstep) * xstep; v <= sc->xhi + xstep / 1000; v += xstep)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n",
                xpos(sc, v), PLOT_B + 16, v);
    fputs("</g>\n", out);
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n"
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
            PLOT_L, PLOT_B, PLOT_R, PLOT_B, PLOT_L, PLOT_T, PLOT_L, PLOT_B);
    fprintf(out,
            "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "font-size=\"12\">invocation (sequence number in this environment)</text>\n",
            (PLOT_L + PLOT_R) / 2, PLOT_B + 38);
    fprintf(out,
            "<text class=\"axis-label\" x=\"18\" y=\"%.1f\" text-anchor=\"middle\" "
            "font-size=\"12\" transform=\"rotate(-90 18 %.1f)\">memory (MiB)</text>\n",
            (PLOT_T + PLOT_B) / 2, (PLOT_T + PLOT_B) / 2);
}

/* The trend line, and the projected out-of-memory point or the arrow saying where it is. */
static void write_trend(FILE *out, const struct scale *sc, const struct trend *t, double limit_mib,
                        bool limit_visible)
{
    bool oom_visible = t->have_oom && limit_visible && t->oom_seq <= sc->xhi;
    double x_end = oom_visible ? t->oom_seq : sc->xhi;
    double x0 = sc->xlo;
    double y0 = t->mib0 + t->slope_mib * (x0 - t->seq0);
    double y1 = t->mib0 + t->slope_mib * (x_end - t->seq0);
    /* clip to the plot: a falling trend stops at zero, a rising one at the top */
    if (y1 > sc->ytop && t->slope_mib > 0) {
        x_end = t->seq0 + (sc->ytop - t->mib0) / t->slope_mib;
        y1 = sc->ytop;
    }
    if (y0 < 0)
        y0 = 0;
    if (y1 < 0)
        y1 = 0;
    fprintf(out,
            "<line class=\"trend\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"" TREND_COLOR "\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>\n",
            xpos(sc, x0), ypos(sc, y0), xpos(sc, x_end), ypos(sc, y1));
    if (!t->have_oom)
        return;
    char when[96] = "", mins[48];
    if (!isnan(t->oom_minutes)) {
        lw_time_fmt_minutes(t->oom_minutes, mins, sizeof(mins));
        snprintf(when, sizeof(when), " (in about %s)", mins);
    }
    if (oom_visible) {
        double x = xpos(sc, t->oom_seq), y = ypos(sc, limit_mib);
        fprintf(out,
                "<circle class=\"oom\" cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"none\" "
                "stroke=\"" LIMIT_COLOR "\" stroke-width=\"2\"/>\n",
                x, y);
        fprintf(out,
                "<text class=\"oom-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                "font-size=\"11\" fill=\"" LIMIT_COLOR "\">projected out of memory at invocation "
                "%.0f%s</text>\n",
                x - 8, y - 10, t->oom_seq, when);
        return;
    }
    /* beyond the right edge: an arrow where the trend leaves the plot, and a label */
    double ye = ypos(sc, y1), xe = xpos(sc, x_end);
    fprintf(out,
            "<path class=\"oom-arrow\" d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z\" fill=\"" LIMIT_COLOR
            "\"/>\n",
            xe + 10, ye, xe, ye - 6, xe, ye + 6);
    fprintf(out,
            "<text class=\"oom-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\" "
            "fill=\"" LIMIT_COLOR
            "\">projected out of memory at invocation %.0f%s \xe2\x86\x92</text>\n",
            PLOT_R - 4, ye - 12 < PLOT_T + 12 ? ye + 20 : ye - 12, t->oom_seq, when);
}

static void write_panel(const struct lw_report_env *env, const struct lw_report_window *w,
                        double y_offset, FILE *out)
{
    fprintf(out, "<g class=\"panel\" transform=\"translate(0,%.0f)\">\n", y_offset);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", PANEL_W,
            PANEL_H);
    fprintf(out,
            "<text class=\"title\" x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">"
            "Memory per invocation: ",
            PLOT_L);
    xml_text(out, env->function_name[0] ? env->function_name : "(unknown function)");
    fputs("</text>\n", out);
    fprintf(out,
            "<text class=\"subtitle\" x=\"%.0f\" y=\"40\" font-size=\"11\" fill=\"#555555\">"
            "environment ",
            PLOT_L);
    xml_text(out, env->env_id);
    const struct lw_report_entry *last = w->n_inv ? &w->inv[w->n_inv - 1] : NULL;
    if (last && last->verdict[0]) {
        fputs(" \xc2\xb7 verdict ", out);
        xml_text(out, last->verdict);
        if (lw_report_entry_has(last, LW_M_GROWTH_PER_INVOCATION)) {
            char g[48];
            lw_report_fmt_bytes(last->value[LW_M_GROWTH_PER_INVOCATION], g, sizeof(g));
            fprintf(out, ", growth %s per invocation", g);
        }
    }
    if (env->conflicts)
        fprintf(out, " \xc2\xb7 %llu conflicting record%s, the first read shown",
                (unsigned long long)env->conflicts, env->conflicts == 1 ? "" : "s");
    fputs("</text>\n", out);

    const struct lw_report_entry *lim = lw_report_last_with(w, LW_M_MEM_LIMIT);
    double limit_mib = lim ? lim->value[LW_M_MEM_LIMIT] / MIB : 0;
    struct trend t = find_trend(w, limit_mib);

    /*
     * scales: x = sequence, y = MiB from 0 to the largest value, the limit included unless it
     * is more than four times the largest figure: the lines would then be flat at the bottom,
     * so the limit is named at the top instead (and the trend leaves through the top edge).
     */
    double ymax = 0;
    for (size_t i = 0; i < w->n_inv; i++)
        for (size_t s = 0; s < N_SERIES; s++)
            if (lw_report_entry_has(&w->inv[i], chart_series[s].metric) &&
                w->inv[i].value[chart_series[s].metric] / MIB > ymax)
                ymax = w->inv[i].value[chart_series[s].metric] / MIB;
    bool limit_visible = lim && (ymax == 0 || limit_mib <= 4 * ymax);
    if (limit_visible && limit_mib > ymax)
        ymax = limit_mib;
    struct scale sc;
    double ystep = nice_step(ymax > 0 ? ymax : 1, 5);
    sc.ytop = ceil((ymax > 0 ? ymax * 1.05 : 1) / ystep) * ystep;
    sc.xlo = w->n_inv ? (double)w->inv[0].seq : 0;
    sc.xhi = w->n_inv ? (double)w->inv[w->n_inv - 1].seq : 1;
    if (sc.xhi <= sc.xlo) {
        sc.xlo -= 1;
        sc.xhi += 1;
    }
    /* stretch to the projected point when the logged invocations keep at least 1/3 */
    if (limit_visible && t.have_oom && t.oom_seq > sc.xhi &&
        t.oom_seq - sc.xlo <= 3 * (sc.xhi - sc.xlo))
        sc.xhi = ceil(t.oom_seq + 0.02 * (t.oom_seq - sc.xlo));
    double xstep = nice_step(sc.xhi - sc.xlo, 8);
    if (xstep < 1)
        xstep = 1;
    write_axes(out, &sc, ystep, xstep);

    /* verdict changes: a dashed vertical line and the new verdict */
    bool have_change = false;
    const char *prev = NULL;
    for (size_t i = 0; i < w->n_inv; i++) {
        const char *v = w->inv[i].verdict;
        if (!v[0])
            continue;
        if (prev && v != prev) {
            double x = xpos(&sc, (double)w->inv[i].seq);
            have_change = true;
            fprintf(out,
                    "<line class=\"verdict-change\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                    "y2=\"%.1f\" stroke=\"#7f7f7f\" stroke-dasharray=\"3 3\"/>\n",
                    x, PLOT_T, x, PLOT_B);
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555555\">", x + 3,
                    PLOT_T + 10);
            xml_text(out, v);
            fputs("</text>\n", out);
        }
        prev = v;
    }

    if (lim && !limit_visible) {
        fprintf(out,
                "<text class=\"limit\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                "fill=\"" LIMIT_COLOR
                "\">\xe2\x86\x91 memory limit %.0f MiB, above this range</text>\n",
                PLOT_L + 6, PLOT_T + 14, limit_mib);
    } else if (lim) {
        double y = ypos(&sc, limit_mib);
        fprintf(out,
                "<line class=\"limit\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"" LIMIT_COLOR "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n",
                PLOT_L, y, PLOT_R, y);
        fprintf(
            out,
            "<text class=\"limit-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"" LIMIT_COLOR
            "\">memory limit %.0f MiB</text>\n",
            PLOT_L + 6, y - 5, limit_mib);
    }

    /* one polyline per series; a missing figure is skipped, not drawn as zero */
    for (size_t s = 0; s < N_SERIES; s++) {
        const struct series *ser = &chart_series[s];
        if (!lw_report_last_with(w, ser->metric))
            continue;
        fprintf(out,
                "<polyline class=\"series\" data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
                "stroke-width=\"%.1f\" points=\"",
                ser->key, ser->color, ser->width);
        bool first = true;
        for (size_t i = 0; i < w->n_inv; i++) {
            const struct lw_report_entry *e = &w->inv[i];
            if (!lw_report_entry_has(e, ser->metric))
                continue;
            fprintf(out, "%s%.1f,%.1f", first ? "" : " ", xpos(&sc, (double)e->seq),
                    ypos(&sc, e->value[ser->metric] / MIB));
            first = false;
        }
        fputs("\"><title>", out);
        xml_text(out, ser->label);
        fputs(" (MiB)</title></polyline>\n", out);
    }

    if (t.have)
        write_trend(out, &sc, &t, limit_mib, limit_visible);

    /* cold starts: a triangle on the x axis and a label */
    bool have_cold = false;
    for (size_t i = 0; i < w->n_inv; i++) {
        if (!w->inv[i].cold_start)
            continue;
        have_cold = true;
        double x = xpos(&sc, (double)w->inv[i].seq);
        fprintf(
            out,
            "<path class=\"cold-start\" d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z\" fill=\"" COLD_COLOR
            "\"><title>cold start: invocation %llu</title></path>\n",
            x, PLOT_B - 10, x + 6, PLOT_B, x - 6, PLOT_B, (unsigned long long)w->inv[i].seq);
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#0e7c86\">cold start</text>\n",
                x + 8, PLOT_B - 4);
    }

    bool oom_visible = t.have_oom && limit_visible && t.oom_seq <= sc.xhi;
    write_legend(out, w, &t, limit_visible, oom_visible, have_cold, have_change);
    if (w->n_inv == 0)
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no invocation records</text>\n",
                (PLOT_L + PLOT_R) / 2, (PLOT_T + PLOT_B) / 2);
    fputs("</g>\n", out);
}

static void svg_open(FILE *out, size_t panels)
{
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\" "
            "viewBox=\"0 0 %d %zu\" font-family=\"sans-serif\" font-size=\"12\">\n",
            PANEL_W, panels * PANEL_H, PANEL_W, panels * PANEL_H);
}

enum lw_err lw_report_write_svg(const struct lw_report *r, const struct lw_report_options *opt,
                                FILE *out)
{
    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    size_t n = lw_report_selected_count(r, opt);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
    svg_open(out, n ? n : 1);
    fputs("<title>leakwatch: memory per invocation</title>\n", out);
    size_t k = 0;
    for (size_t i = 0; i < lw_report_env_count(r); i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        if (!lw_report_selected(&sel, env))
            continue;
        struct lw_report_window w = lw_report_window_of(env, opt);
        write_panel(env, &w, (double)k++ * PANEL_H, out);
    }
    if (n == 0)
        fputs("<text x=\"450\" y=\"240\" text-anchor=\"middle\">no environments</text>\n", out);
    fputs("</svg>\n", out);
    return ferror(out) ? LW_ERR_IO : LW_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* HTML                                                                                      */

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
    "<title>leakwatch report</title>\n<style>\n"
    "body{font-family:sans-serif;margin:2em;color:#222}\n"
    "section{margin-bottom:3em}\n"
    "pre{font-size:12px;overflow-x:auto;background:#f7f7f7;padding:1em}\n"
    "svg{max-width:100%;height:auto;border:1px solid #ddd}\n"
    "</style>\n</head>\n<body>\n<h1>leakwatch report</h1>\n";

enum lw_err lw_report_write_html(const struct lw_report *r, const struct lw_report_options *opt,
                                 FILE *out)
{
    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    fputs(html_head, out);
    enum lw_err err = LW_OK;
    for (size_t i = 0; i < lw_report_env_count(r); i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        if (!lw_report_selected(&sel, env))
            continue;
        struct lw_report_window w = lw_report_window_of(env, opt);
        fputs("<section class=\"environment\">\n<h2>", out);
        xml_text(out, env->function_name[0] ? env->function_name : "(unknown function)");
        fputs(" \xc2\xb7 environment ", out);
        xml_text(out, env->env_id);
        fputs("</h2>\n", out);
        svg_open(out, 1);
        write_panel(env, &w, 0, out);
        fputs("</svg>\n<pre class=\"summary\">", out);
        /* the summary is the text report's, so the page and the terminal say the same */
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (!mem) {
            err = LW_ERR_NOMEM;
            break;
        }
        lw_report_write_env_text(env, opt, mem);
        if (fclose(mem) != 0) {
            free(text);
            err = LW_ERR_NOMEM;
            break;
        }
        xml_put(out, text, true);
        free(text);
        fputs("</pre>\n</section>\n", out);
    }
    fputs("<pre class=\"input\">", out);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem) {
        lw_report_write_stats(r, mem);
        if (fclose(mem) == 0)
            xml_put(out, text, true);
        free(text);
    }
    fputs("</pre>\n</body>\n</html>\n", out);
    if (err == LW_OK && ferror(out))
        err = LW_ERR_IO;
    return err;
}
