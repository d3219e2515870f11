/*
 * `leakwatch report --html`: the page, a report to read in a browser, mail or attach to a
 * ticket.
 *
 * The answer comes first: for all environments shown, how many died of out-of-memory and how
 * many of those deaths were predicted; then per environment its verdict with the reason, the
 * projection, the culprit, its death, the recycle horizon, then the chart, then its records as
 * a table. The words are the text report's (report_text.c writes both), so the page and the
 * terminal say the same.
 *
 * Self-contained: one file, its style inline, no script, no font or image from elsewhere. It
 * is well-formed XML as well as HTML, so a strict reader can check it. Every string from the
 * log is escaped (lw_report_xml_put), never put in a class or a tag name; the style keeps the
 * page within the width of a laptop's window (long reasons and ids wrap, the chart scales).
 */
#include "report_internal.h"

#include <leakwatch/verdict.h>

#include <stdlib.h>
#include <string.h>

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
    "<title>leakwatch report</title>\n<style>\n"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
    "sans-serif;margin:0;color:#1f2328;background:#f6f8fa;line-height:1.45;font-size:15px}\n"
    "header,main,footer{max-width:1360px;margin:0 auto;padding:0 24px;box-sizing:border-box}\n"
    "header{padding-top:20px}\n"
    "h1{font-size:24px;margin:0 0 4px}\n"
    "h2{font-size:18px;margin:0 0 12px;overflow-wrap:anywhere}\n"
    "h3{font-size:15px;margin:20px 0 8px}\n"
    "p{margin:0 0 8px}\n"
    ".scope{color:#57606a}\n"
    ".deaths{font-size:17px;font-weight:600}\n"
    "section.environment{background:#fff;border:1px solid #d0d7de;border-radius:6px;"
    "padding:16px 20px;margin:16px 0}\n"
    "dl.answer{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:4px 16px;"
    "margin:0 0 16px}\n"
    "dl.answer dt{font-weight:600;color:#57606a}\n"
    "dl.answer dd{margin:0;overflow-wrap:anywhere}\n"
    ".kind{font-weight:700;padding:1px 6px;border-radius:4px;background:#eaeef2}\n"
    ".kind.leak-critical{background:#ffebe9;color:#a40e26}\n"
    ".kind.leak{background:#fff1e5;color:#953800}\n"
    ".kind.warming{background:#fff8c5;color:#7d4e00}\n"
    ".kind.steady{background:#dafbe1;color:#116329}\n"
    "tr.death td{background:#ffebe9}\n"
    "figure.chart{margin:0 0 16px}\n"
    "figure.chart svg{display:block;width:100%;max-width:900px;height:auto}\n"
    "table{border-collapse:collapse;width:100%;font-size:13px;"
    "font-variant-numeric:tabular-nums}\n"
    "caption{text-align:left;font-weight:600;padding:0 0 6px}\n"
    "th,td{padding:3px 6px;border-bottom:1px solid #eaeef2;text-align:left;"
    "vertical-align:top;white-space:nowrap}\n"
    "th{background:#f6f8fa;font-weight:600;white-space:normal}\n"
    ".num{text-align:right}\n"
    "td.notes{white-space:normal;overflow-wrap:anywhere;min-width:10em}\n"
    ".unit{display:block;font-weight:400;color:#57606a}\n"
    "ul.alerts{margin:0;padding-left:20px;overflow-wrap:anywhere}\n"
    "footer{color:#57606a;font-size:13px;padding-bottom:24px;overflow-wrap:anywhere}\n"
    "</style>\n</head>\n<body>\n";

/*
 * What a writer of the text report writes, shown in the page: written to memory, then escaped.
 * The text writers make every string from the log safe; escaping keeps it text.
 */
struct capture {
    char *text;
    size_t len;
    FILE *f;
};

static FILE *capture_begin(struct capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    return c->f;
}

/* Writes what was captured to out, escaped. */
static void capture_end(struct capture *c, FILE *out)
{
    if (!c->f)
        return;
    if (fclose(c->f) == 0)
        lw_report_xml_put(out, c->text);
    free(c->text);
}

/* A class for a verdict leakwatch knows: never the string read, which anyone may write. */
static const char *verdict_class(const char *verdict)
{
    for (int k = 0; k < LW_VERDICT_COUNT; k++)
        if (strcmp(verdict, lw_verdict_name((enum lw_verdict_kind)k)) == 0)
            return lw_verdict_name((enum lw_verdict_kind)k);
    return "other";
}

/* <dt>term</dt><dd class="cls"> ... the caller writes the definition and closes it. */
static void term(FILE *out, const char *name, const char *cls)
{
    fprintf(out, "<dt>%s</dt><dd class=\"%s\">", name, cls);
}

static void write_verdict(const struct lw_report_entry *last, FILE *out)
{
    term(out, "Verdict", "verdict");
    if (!last || !last->verdict[0]) {
        fputs("none in this log</dd>\n", out);
        return;
    }
    fprintf(out, "<strong class=\"kind %s\">", verdict_class(last->verdict));
    lw_report_xml_put(out, last->verdict);
    fputs("</strong>", out);
    if (last->reason[0]) {
        fputs(": ", out);
        lw_report_xml_put(out, last->reason);
    }
    fprintf(out, " <span class=\"as-of\">(as of %s %llu)</span></dd>\n",
            last->kind == LW_REPORT_INTERVAL ? "interval" : "invocation",
            (unsigned long long)last->seq);
}

/* The answer for one environment: what it comes to, before the figures that show it. */
static void write_answer(const struct lw_report_env *env, const struct lw_report_window *w,
                         FILE *out)
{
    struct capture c;
    const struct lw_report_entry *last = w->n_inv ? &w->inv[w->n_inv - 1] : NULL;
    fputs("<dl class=\"answer\">\n", out);
    write_verdict(last, out);
    term(out, "Projection", "projection");
    if (capture_begin(&c))
        lw_report_put_projection(w, c.f);
    capture_end(&c, out);
    fputs("</dd>\n", out);
    /* the latest record that names one: the record of the invocation that died often
     * cannot (its processes are gone before the end reading) */
    const struct lw_report_entry *named = NULL;
    for (size_t i = w->n_inv; i > 0 && !named; i--)
        if (w->inv[i - 1].culprit[0])
            named = &w->inv[i - 1];
    if (named) {
        term(out, "Culprit", "culprit");
        if (capture_begin(&c))
            lw_report_put_culprit(named, c.f);
        capture_end(&c, out);
        if (named != last)
            fprintf(out, " <span class=\"as-of\">(as of %s %llu)</span>",
                    named->kind == LW_REPORT_INTERVAL ? "interval" : "invocation",
                    (unsigned long long)named->seq);
        fputs("</dd>\n", out);
    }
    struct lw_report_story story;
    lw_report_story_of(env, w, &story);
    if (story.have_horizon || story.horizon_why) {
        term(out, "Recycle horizon", "horizon");
        if (capture_begin(&c))
            lw_report_put_horizon(&story, c.f);
        capture_end(&c, out);
        fputs("</dd>\n", out);
    }
    term(out, "Death", "death");
    if (env->death) {
        if (capture_begin(&c))
            lw_report_put_death(env->death, c.f);
        capture_end(&c, out);
    } else {
        fputs("none told in this log", out);
    }
    fputs("</dd>\n", out);
    if (last && lw_report_entry_has(last, LW_M_MEM_LIMIT)) {
        term(out, "Memory limit", "limit");
        fprintf(out, "%.1f MiB</dd>\n", last->value[LW_M_MEM_LIMIT] / LW_REPORT_MIB);
    }
    fprintf(out, "<dt>%s</dt><dd class=\"records\">",
            strcmp(lw_report_records_word(env), "invocations") == 0 ? "Invocations"
            : strcmp(lw_report_records_word(env), "intervals") == 0 ? "Intervals"
                                                                    : "Records");
    if (capture_begin(&c))
        lw_report_put_records(env, w, c.f);
    capture_end(&c, out);
    for (size_t i = 0; i < env->n_invocations; i++)
        if (env->invocations[i].cold_start) {
            fprintf(out, "; cold start at seq %llu", (unsigned long long)env->invocations[i].seq);
            break;
        }
    fputs("</dd>\n", out);
    term(out, "Shutdown", "shutdown");
    if (env->shutdown) {
        if (capture_begin(&c))
            lw_report_put_shutdown(env->shutdown, lw_report_records_word(env), c.f);
        capture_end(&c, out);
    } else {
        fputs("not in this log", out);
    }
    fputs("</dd>\n", out);
    if (env->conflicts) {
        term(out, "Conflicts", "conflicts");
        fprintf(out,
                "%llu conflicting record%s for the same invocation: the first read of each is "
                "shown</dd>\n",
                (unsigned long long)env->conflicts, env->conflicts == 1 ? "" : "s");
    }
    fputs("</dl>\n", out);
}

/* The records as a table: the terminal's columns, all of them, with their units. */
static void write_table(const struct lw_report_env *env, const struct lw_report_window *w,
                        FILE *out)
{
    if (w->n_inv == 0)
        return;
    struct lw_report_table t;
    lw_report_table_init(&t, env, w);
    const char *word = lw_report_records_word(env);
    /* "1 invocation", "2 intervals" */
    fprintf(out, "<table class=\"records\">\n<caption>%zu %.*s", w->n_inv,
            (int)(strlen(word) - (w->n_inv == 1)), word);
    if (w->n_inv < env->n_invocations)
        fprintf(out, " of %zu", env->n_invocations);
    fputs(", one row each</caption>\n<thead><tr>", out);
    for (int c = 0; c < LW_COL_COUNT; c++) {
        const char *name, *unit;
        lw_report_table_head(&t, (enum lw_report_col)c, &name, &unit);
        fprintf(out, "<th%s>%s",
                lw_report_table_right((enum lw_report_col)c) ? " class=\"num\"" : "", name);
        if (unit[0])
            fprintf(out, "<span class=\"unit\">%s</span>", unit);
        fputs("</th>", out);
    }
    fputs("</tr></thead>\n<tbody>\n", out);
    char cells[LW_COL_COUNT][LW_REPORT_CELL_MAX];
    /* the records, then the death's own row when its record is not in the log */
    for (size_t i = 0; i < w->n_inv + t.death_row; i++) {
        const struct lw_report_entry *e = i < w->n_inv ? &w->inv[i] : NULL;
        bool died = !e || (t.death && !t.death_row && e->seq == t.death_seq &&
                           e->kind == LW_REPORT_INVOCATION);
        if (e)
            lw_report_table_row(&t, e, cells);
        else
            lw_report_table_death_row(&t, cells);
        fputs(died ? "<tr class=\"death\">" : "<tr>", out);
        for (int c = 0; c < LW_COL_COUNT; c++) {
            bool num = lw_report_table_right((enum lw_report_col)c);
            fputs(num                 ? "<td class=\"num\""
                  : c == LW_COL_NOTES ? "<td class=\"notes\""
                                      : "<td",
                  out);
            if (c == LW_COL_REQUEST && e && e->request_id[0]) {
                /* the whole id where the cell shows its start */
                fputs(" title=\"", out);
                lw_report_xml_put(out, e->request_id);
                fputs("\"", out);
            }
            fputs(">", out);
            lw_report_xml_put(out, cells[c]);
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</tbody>\n</table>\n", out);
}

static void write_alerts(const struct lw_report_window *w, FILE *out)
{
    if (w->n_alerts == 0)
        return;
    fputs("<h3>Alerts</h3>\n<ul class=\"alerts\">\n", out);
    for (size_t i = 0; i < w->n_alerts; i++) {
        struct capture c;
        fputs("<li>", out);
        if (capture_begin(&c))
            lw_report_put_alert(&w->alerts[i], c.f);
        capture_end(&c, out);
        fputs("</li>\n", out);
    }
    fputs("</ul>\n", out);
}

static void write_section(const struct lw_report_env *env, const struct lw_report_window *w,
                          FILE *out)
{
    fputs("<section class=\"environment\">\n<h2>", out);
    lw_report_xml_put(out, env->function_name[0] ? env->function_name : "(unknown function)");
    fputs(" \xc2\xb7 environment ", out);
    lw_report_xml_put(out, env->env_id);
    fputs("</h2>\n", out);
    write_answer(env, w, out);
    fputs("<figure class=\"chart\">\n", out);
    lw_report_write_chart(env, w, out);
    fputs("</figure>\n", out);
    write_table(env, w, out);
    write_alerts(w, out);
    fputs("</section>\n", out);
}

/* What the page covers, and the deaths across it. */
static void write_scope(const struct lw_report *r, const struct lw_report_options *opt, FILE *out)
{
    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    size_t envs = 0, records = 0;
    uint64_t first = 0, last = 0;
    for (size_t i = 0; i < lw_report_env_count(r); i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        if (!lw_report_selected(&sel, env))
            continue;
        struct lw_report_window w = lw_report_window_of(env, opt);
        envs++;
        records += w.n_inv;
        for (size_t k = 0; k < w.n_inv; k++) {
            uint64_t t = lw_report_entry_time_ms(&w.inv[k]);
            if (t && (first == 0 || t < first))
                first = t;
            if (t > last)
                last = t;
        }
    }
    fprintf(out, "<p class=\"scope\">%zu environment%s, %zu record%s", envs, envs == 1 ? "" : "s",
            records, records == 1 ? "" : "s");
    if (first) {
        char a[32], b[32];
        lw_report_fmt_utc(first, a, sizeof(a));
        lw_report_fmt_utc(last, b, sizeof(b));
        fprintf(out, " from %s to %s UTC", a, b);
    }
    fputs("</p>\n", out);
    struct lw_report_deaths deaths;
    lw_report_count_deaths(r, opt, &deaths);
    fputs("<p class=\"deaths\">Deaths: ", out);
    if (deaths.deaths) {
        struct capture c;
        if (capture_begin(&c))
            lw_report_put_deaths(&deaths, c.f);
        capture_end(&c, out);
    } else {
        fputs("none told in this log", out);
    }
    fputs("</p>\n", out);
}

/* The input counts, a paragraph per line of the text report's. */
static void write_footer(const struct lw_report *r, FILE *out)
{
    fputs("<footer>\n", out);
    struct capture c;
    if (capture_begin(&c)) {
        lw_report_write_stats(r, c.f);
        if (fclose(c.f) == 0) {
            for (char *line = c.text; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                    *nl = '\0';
                fputs("<p class=\"input\">", out);
                lw_report_xml_put(out, line);
                fputs("</p>\n", out);
                line = nl ? nl + 1 : NULL;
            }
        }
        free(c.text);
    }
    fputs("</footer>\n", out);
}

enum lw_err lw_report_write_html(const struct lw_report *r, const struct lw_report_options *opt,
                                 FILE *out)
{
    struct lw_report_selection sel;
    lw_report_select(r, opt, &sel);
    fputs(html_head, out);
    fputs("<header>\n<h1>leakwatch report</h1>\n", out);
    write_scope(r, opt, out);
    fputs("</header>\n<main>\n", out);
    for (size_t i = 0; i < lw_report_env_count(r); i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        if (!lw_report_selected(&sel, env))
            continue;
        struct lw_report_window w = lw_report_window_of(env, opt);
        write_section(env, &w, out);
    }
    fputs("</main>\n", out);
    write_footer(r, out);
    fputs("</body>\n</html>\n", out);
    return ferror(out) ? LW_ERR_IO : LW_OK;
}
