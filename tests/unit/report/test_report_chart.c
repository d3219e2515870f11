/*
 * `leakwatch report`: the chart and the HTML page, parsed as XML and checked for what a reader
 * needs: the series, the limit, the trend and the projected out-of-memory point, the cold start,
 * the title, the axis labels with units and the legend.
 *
 * The parser below is a small, strict XML 1.0 reader (elements, attributes, text, the five
 * predefined entities and character references, comments, the XML declaration and a DOCTYPE
 * without internal subset): enough for what the report writes, and it refuses anything that is
 * not well formed, so a broken document fails the test instead of being searched as text.
 */
#include <leakwatch/report.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_report_util.h"

/* ---------------------------------------------------------------------------------------- */
/* a small XML reader                                                                        */

struct xattr {
    char *name;
    char *value;
};

struct xnode {
    char *name;
    struct xattr *attrs;
    size_t n_attrs;
    struct xnode **kids;
    size_t n_kids;
    char *text; /* this element's own character data, concatenated */
    size_t text_len;
};

struct xparser {
    const char *p;
    const char *end;
    bool failed;
};

static void xnode_free(struct xnode *n)
{
    if (!n)
        return;
    free(n->name);
    for (size_t i = 0; i < n->n_attrs; i++) {
        free(n->attrs[i].name);
        free(n->attrs[i].value);
    }
    free(n->attrs);
    for (size_t i = 0; i < n->n_kids; i++)
        xnode_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    free(n);
}

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (unsigned char)c >= 0x80 || (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

static char *parse_name(struct xparser *x)
{
    const char *s = x->p;
    if (x->p >= x->end || !name_char(*x->p, true)) {
        x->failed = true;
        return NULL;
    }
    while (x->p < x->end && name_char(*x->p, false))
        x->p++;
    return strndup(s, (size_t)(x->p - s));
}

static void skip_space(struct xparser *x)
{
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

/* Appends the decoded character data [s, e) to (*buf, *len); false when an entity is bad. */
static bool decode(const char *s, const char *e, char **buf, size_t *len)
{
    char *out = realloc(*buf, *len + (size_t)(e - s) + 1);
    assert_non_null(out);
    *buf = out;
    size_t n = *len;
    while (s < e) {
        if (*s == '<')
            return false;
        if (*s != '&') {
            out[n++] = *s++;
            continue;
        }
        const char *semi = memchr(s, ';', (size_t)(e - s));
        if (!semi)
            return false;
        size_t l = (size_t)(semi - s - 1);
        const char *ent = s + 1;
        unsigned long cp = 0;
        if (l == 3 && memcmp(ent, "amp", 3) == 0)
            cp = '&';
        else if (l == 2 && memcmp(ent, "lt", 2) == 0)
            cp = '<';
        else if (l == 2 && memcmp(ent, "gt", 2) == 0)
            cp = '>';
        else if (l == 4 && memcmp(ent, "quot", 4) == 0)
            cp = '"';
        else if (l == 4 && memcmp(ent, "apos", 4) == 0)
            cp = '\'';
        else if (l >= 2 && ent[0] == '#') {
            char *stop;
            cp = ent[1] == 'x' ? strtoul(ent + 2, &stop, 16) : strtoul(ent + 1, &stop, 10);
            if (stop != semi || cp == 0 || cp > 0x10FFFF)
                return false;
        } else {
            return false;
        }
        if (cp < 0x80) {
            out[n++] = (char)cp;
        } else if (cp < 0x800) {
            out[n++] = (char)(0xC0 | (cp >> 6));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            /* three bytes are enough for what the report writes; longer ones become '?' */
            if (cp > 0xFFFF)
                out[n++] = '?';
            else {
                out[n++] = (char)(0xE0 | (cp >> 12));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            }
        }
        s = semi + 1;
    }
    out[n] = '\0';
    *len = n;
    return true;
}

/* Skips comments and processing instructions; false at anything else. */
static bool skip_misc(struct xparser *x)
{
    if (x->end - x->p >= 4 && memcmp(x->p, "<!--", 4) == 0) {
        const char *e = strstr(x->p + 4, "-->");
        if (!e || e >= x->end) {
            x->failed = true;
            return false;
        }
        x->p = e + 3;
        return true;
    }
    if (x->end - x->p >= 2 && memcmp(x->p, "<?", 2) == 0) {
        const char *e = strstr(x->p + 2, "?>");
        if (!e || e >= x->end) {
            x->failed = true;
            return false;
        }
        x->p = e + 2;
        return true;
    }
    return false;
}

static struct xnode *parse_element(struct xparser *x, int depth)
{
    if (depth > 64 || x->p >= x->end || *x->p != '<') {
        x->failed = true;
        return NULL;
    }
    x->p++;
    struct xnode *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    n->name = parse_name(x);
    if (!n->name)
        goto fail;
    for (;;) {
        skip_space(x);
        if (x->p >= x->end)
            goto fail;
        if (*x->p == '/' || *x->p == '>')
            break;
        struct xattr a = {parse_name(x), NULL};
        if (!a.name)
            goto fail;
        skip_space(x);
        if (x->p >= x->end || *x->p != '=') {
            free(a.name);
            goto fail;
        }
        x->p++;
        skip_space(x);
        char q = x->p < x->end ? *x->p : 0;
        const char *close =
            (q == '"' || q == '\'') ? memchr(x->p + 1, q, (size_t)(x->end - x->p - 1)) : NULL;
        size_t len = 0;
        if (!close || !decode(x->p + 1, close, &a.value, &len)) {
            free(a.name);
            free(a.value);
            goto fail;
        }
        for (size_t i = 0; i < n->n_attrs; i++)
            if (strcmp(n->attrs[i].name, a.name) == 0) { /* duplicate attribute */
                free(a.name);
                free(a.value);
                goto fail;
            }
        x->p = close + 1;
        n->attrs = realloc(n->attrs, (n->n_attrs + 1) * sizeof(*n->attrs));
        assert_non_null(n->attrs);
        n->attrs[n->n_attrs++] = a;
    }
    if (*x->p == '/') {
        if (x->end - x->p < 2 || x->p[1] != '>')
            goto fail;
        x->p += 2;
        return n;
    }
    x->p++; /* '>' */
    for (;;) {
        const char *lt = memchr(x->p, '<', (size_t)(x->end - x->p));
        if (!lt)
            goto fail;
        if (!decode(x->p, lt, &n->text, &n->text_len))
            goto fail;
        x->p = lt;
        if (skip_misc(x))
            continue;
        if (x->failed)
            goto fail;
        if (x->end - x->p >= 2 && x->p[1] == '/') {
            x->p += 2;
            char *closing = parse_name(x);
            bool same = closing && strcmp(closing, n->name) == 0;
            free(closing);
            skip_space(x);
            if (!same || x->p >= x->end || *x->p != '>')
                goto fail;
            x->p++;
            return n;
        }
        struct xnode *kid = parse_element(x, depth + 1);
        if (!kid)
            goto fail;
        n->kids = realloc(n->kids, (n->n_kids + 1) * sizeof(*n->kids));
        assert_non_null(n->kids);
        n->kids[n->n_kids++] = kid;
    }
fail:
    x->failed = true;
    xnode_free(n);
    return NULL;
}

/* The document's root element, or NULL when doc is not well-formed XML. */
static struct xnode *xml_parse(const char *doc)
{
    struct xparser x = {doc, doc + strlen(doc), false};
    for (;;) {
        skip_space(&x);
        if (skip_misc(&x))
            continue;
        if (x.failed)
            return NULL;
        if (x.end - x.p >= 9 && memcmp(x.p, "<!DOCTYPE", 9) == 0) {
            const char *e = memchr(x.p, '>', (size_t)(x.end - x.p));
            if (!e || memchr(x.p, '[', (size_t)(e - x.p)))
                return NULL;
            x.p = e + 1;
            continue;
        }
        break;
    }
    struct xnode *root = parse_element(&x, 0);
    if (!root)
        return NULL;
    for (;;) {
        skip_space(&x);
        if (!skip_misc(&x))
            break;
    }
    if (x.failed || x.p != x.end) {
        xnode_free(root);
        return NULL;
    }
    return root;
}

static const char *xattr(const struct xnode *n, const char *name)
{
    for (size_t i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return n->attrs[i].value;
    return NULL;
}

static double xattr_num(const struct xnode *n, const char *name)
{
    const char *v = xattr(n, name);
    assert_non_null(v);
    char *end;
    double d = strtod(v, &end);
    assert_true(end != v && *end == '\0');
    return d;
}

static bool has_class(const struct xnode *n, const char *cls)
{
    const char *v = xattr(n, "class");
    if (!v)
        return false;
    size_t l = strlen(cls);
    for (const char *p = v; (p = strstr(p, cls)) != NULL; p += l)
        if ((p == v || p[-1] == ' ') && (p[l] == '\0' || p[l] == ' '))
            return true;
    return false;
}

/* Every element below n (n included) matching name (NULL: any) and class (NULL: any). */
struct xlist {
    const struct xnode *items[4096];
    size_t n;
};

static void xfind(const struct xnode *n, const char *name, const char *cls, struct xlist *out)
{
    if ((!name || strcmp(n->name, name) == 0) && (!cls || has_class(n, cls))) {
        assert_true(out->n < sizeof(out->items) / sizeof(out->items[0]));
        out->items[out->n++] = n;
    }
    for (size_t i = 0; i < n->n_kids; i++)
        xfind(n->kids[i], name, cls, out);
}

static size_t xcount(const struct xnode *n, const char *name, const char *cls)
{
    struct xlist l = {.n = 0};
    xfind(n, name, cls, &l);
    return l.n;
}

/* All character data below n, in document order, into a static buffer. */
static void xtext_into(const struct xnode *n, char *buf, size_t cap, size_t *len)
{
    if (n->text) {
        size_t k = strlen(n->text);
        if (*len + k >= cap)
            k = cap - *len - 1;
        memcpy(buf + *len, n->text, k);
        *len += k;
        buf[*len] = '\0';
    }
    for (size_t i = 0; i < n->n_kids; i++)
        xtext_into(n->kids[i], buf, cap, len);
}

static const char *xtext(const struct xnode *n)
{
    static char buf[65536];
    size_t len = 0;
    buf[0] = '\0';
    xtext_into(n, buf, sizeof(buf), &len);
    return buf;
}

/* The one element matching name and class below n; fails the test unless exactly one. */
static const struct xnode *xone(const struct xnode *n, const char *name, const char *cls)
{
    struct xlist l = {.n = 0};
    xfind(n, name, cls, &l);
    if (l.n != 1)
        fail_msg("%zu <%s class=%s> elements, expected 1", l.n, name ? name : "*", cls ? cls : "*");
    return l.items[0];
}

/* The series polyline's points as (x, y) pairs; returns their number. */
static size_t points_of(const struct xnode *poly, double *xs, double *ys, size_t cap)
{
    const char *p = xattr(poly, "points");
    assert_non_null(p);
    size_t n = 0;
    while (*p) {
        char *end;
        double x = strtod(p, &end);
        assert_true(end != p && *end == ',');
        p = end + 1;
        double y = strtod(p, &end);
        assert_true(end != p);
        p = end;
        while (*p == ' ')
            p++;
        assert_true(n < cap);
        xs[n] = x;
        ys[n] = y;
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* helpers                                                                                   */

enum doc_kind { DOC_SVG, DOC_HTML };

static char *render(const struct lw_report *r, const struct lw_report_options *opt,
                    enum doc_kind kind)
{
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    assert_non_null(f);
    if (kind == DOC_SVG)
        assert_int_equal(lw_report_write_svg(r, opt, f), LW_OK);
    else
        assert_int_equal(lw_report_write_html(r, opt, f), LW_OK);
    assert_int_equal(fclose(f), 0);
    return data;
}

/* The legend's labels, joined with '|'. */
static void legend_labels(const struct xnode *panel, char *buf, size_t cap)
{
    const struct xnode *legend = xone(panel, "g", "legend");
    struct xlist items = {.n = 0};
    xfind(legend, "g", "legend-item", &items);
    buf[0] = '\0';
    for (size_t i = 0; i < items.n; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s|", xtext(items.items[i]));
    }
}

/* ---------------------------------------------------------------------------------------- */
/* tests                                                                                     */

static void test_xml_reader(void **state)
{
    (void)state;
    /* the reader itself must be able to say no */
    static const char *const bad[] = {
        "<a><b></a>",
        "<a></b>",
        "<a>x & y</a>",
        "<a></a><a></a>",
        "<a>",
        "<a t=1></a>",
        "<a t=\"1\" t=\"2\"/>",
        "<a>&bogus;</a>",
        "<a><!-- x </a>",
        "<a t=\"<\"/>",
        "text<a/>",
        "<1a/>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct xnode *n = xml_parse(bad[i]);
        if (n)
            fail_msg("accepted %s", bad[i]);
    }
    struct xnode *n = xml_parse("<?xml version=\"1.0\"?>\n<!DOCTYPE a>\n<a k='v &amp; w'>"
                                "x &lt; y<!-- c --><b class=\"p q\">&#8594;</b> z</a>\n");
    assert_non_null(n);
    assert_string_equal(xattr(n, "k"), "v & w");
    assert_string_equal(xtext(n), "x < y z\xe2\x86\x92");
    assert_true(has_class(xone(n, "b", NULL), "q"));
    assert_false(has_class(xone(n, "b", NULL), "r"));
    assert_false(has_class(xone(n, "b", NULL), "q "));
    xnode_free(n);
}

/*
 * The chart of the demo run (a function leaking 1 MiB per invocation, 128 MB of memory): the
 * limit is in range and the projected out-of-memory point close enough to be drawn.
 */
static void test_chart_of_leaking_run(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("demo-run.log"));
    assert_int_equal(lw_report_env_count(r), 1);
    const struct lw_report_env *env = lw_report_env_at(r, 0);
    const struct lw_report_entry *last = &env->invocations[env->n_invocations - 1];
    char *doc = render(r, NULL, DOC_SVG);
    struct xnode *svg = xml_parse(doc);
    assert_non_null(svg);
    assert_string_equal(svg->name, "svg");
    assert_string_equal(xattr(svg, "xmlns"), "http://www.w3.org/2000/svg");
    const struct xnode *panel = xone(svg, "g", "panel");

    /* title and axis labels with units */
    char expect[256];
    snprintf(expect, sizeof(expect), "Memory per invocation: %s", env->function_name);
    assert_string_equal(xtext(xone(panel, "text", "title")), expect);
    assert_non_null(strstr(xtext(xone(panel, "text", "subtitle")), env->env_id));
    struct xlist axes = {.n = 0};
    xfind(panel, "text", "axis-label", &axes);
    assert_int_equal(axes.n, 2);
    assert_string_equal(xtext(axes.items[0]), "invocation (sequence number in this environment)");
    assert_string_equal(xtext(axes.items[1]), "memory (MiB)");

    /* the series: start, peak and end of the function, the environment; a point for each
     * invocation that has the figure (the last one has no end reading: shutdown came first) */
    static const char *const keys[] = {"start", "peak", "end", "environment"};
    static const enum lw_metric_id ids[] = {LW_M_FN_RSS_START, LW_M_FN_RSS_PEAK, LW_M_FN_RSS_END,
                                            LW_M_ENV_RSS};
    struct xlist series = {.n = 0};
    xfind(panel, "polyline", "series", &series);
    assert_int_equal(series.n, 4);
    static double xs[4][512], ys[4][512];
    size_t npts[4];
    for (size_t s = 0; s < 4; s++) {
        const struct xnode *poly = series.items[s];
        assert_string_equal(xattr(poly, "data-series"), keys[s]);
        size_t expected = 0;
        for (size_t i = 0; i < env->n_invocations; i++)
            expected += lw_report_entry_has(&env->invocations[i], ids[s]);
        npts[s] = points_of(poly, xs[s], ys[s], 512);
        assert_int_equal(npts[s], expected);
        /* a leak: the end series rises from the first to the last point (SVG y grows down) */
        if (s == 2)
            assert_true(ys[s][npts[s] - 1] < ys[s][0] - 50);
    }

    /* the limit line, horizontal, above every point, labelled in MiB */
    const struct xnode *limit = xone(panel, "line", "limit");
    double ly = xattr_num(limit, "y1");
    assert_true(fabs(xattr_num(limit, "y2") - ly) < 0.01);
    for (size_t s = 0; s < 4; s++)
        for (size_t i = 0; i < npts[s]; i++)
            assert_true(ys[s][i] > ly);
    snprintf(expect, sizeof(expect), "memory limit %.0f MiB",
             last->value[LW_M_MEM_LIMIT] / 1048576.0);
    assert_string_equal(xtext(xone(panel, "text", "limit-label")), expect);

    /* the trend meets the limit at the projected point, marked and labelled */
    const struct xnode *trend = xone(panel, "line", "trend");
    const struct xnode *oom = xone(panel, "circle", "oom");
    assert_true(fabs(xattr_num(oom, "cy") - ly) < 0.01);
    assert_true(fabs(xattr_num(trend, "x2") - xattr_num(oom, "cx")) < 0.01);
    assert_true(fabs(xattr_num(trend, "y2") - ly) < 0.01);
    const struct lw_report_entry *proj = NULL;
    for (size_t i = env->n_invocations; i > 0 && !proj; i--)
        if (lw_report_entry_has(&env->invocations[i - 1], LW_M_GROWTH_PER_INVOCATION))
            proj = &env->invocations[i - 1];
    assert_non_null(proj);
    assert_true(lw_report_entry_has(proj, LW_M_INVOCATIONS_TO_OOM));
    snprintf(expect, sizeof(expect), "projected out of memory at invocation %.0f",
             (double)proj->seq + proj->value[LW_M_INVOCATIONS_TO_OOM]);
    const char *oom_label = xtext(xone(panel, "text", "oom-label"));
    assert_memory_equal(oom_label, expect, strlen(expect));
    /* the point lies beyond the last invocation logged, inside the plot */
    assert_true(xattr_num(oom, "cx") > xs[0][npts[0] - 1]);
    assert_int_equal(xcount(panel, NULL, "oom-arrow"), 0);

    /* the cold start: the first invocation, on the x axis */
    const struct xnode *cold = xone(panel, "path", "cold-start");
    assert_string_equal(xtext(cold), "cold start: invocation 1");

    /* the legend names everything drawn */
    char labels[1024];
    legend_labels(panel, labels, sizeof(labels));
    assert_string_equal(labels, "function RSS at start|function RSS peak|function RSS at end|"
                                "environment RSS|memory limit|leak trend of the verdict, "
                                "projected|projected out of memory|recycle horizon|cold start|"
                                "verdict change|");
    /* the horizon lies far beyond the projected point (the log's rate, 120 min): named at the
     * right edge, not drawn */
    const char *horizon = xtext(xone(panel, "text", "horizon"));
    assert_memory_equal(horizon, "recycle horizon, 120 min after the start: about invocation ",
                        strlen("recycle horizon, 120 min after the start: about invocation "));
    assert_non_null(strstr(horizon, " \xe2\x86\x92"));
    assert_int_equal(xcount(panel, "line", "horizon"), 0);
    xnode_free(svg);
    free(doc);
    lw_report_free(r);
}

/* The main plot and the enlarged one of a panel; *detail NULL when there is none. */
static const struct xnode *plots_of(const struct xnode *panel, const struct xnode **detail)
{
    struct xlist plots = {.n = 0};
    xfind(panel, "g", "plot", &plots);
    assert_true(plots.n == 1 || plots.n == 2);
    assert_false(has_class(plots.items[0], "detail"));
    *detail = plots.n == 2 ? plots.items[1] : NULL;
    if (*detail)
        assert_true(has_class(*detail, "detail"));
    return plots.items[0];
}

/*
 * A slow leak under a large limit (small.log: 64 KiB per invocation, 128 MB, out of memory
 * after about 1760 invocations): the x axis reaches the projected point, where the trend meets
 * the limit; the recycle horizon lies before it; the 7 invocations logged are enlarged below,
 * where the limit is far above them and named instead.
 */
static void test_chart_slow_leak_to_the_limit(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("small.log"));
    char *doc = render(r, NULL, DOC_SVG);
    struct xnode *svg = xml_parse(doc);
    assert_non_null(svg);
    const struct xnode *panel = xone(svg, "g", "panel");
    const struct xnode *detail;
    const struct xnode *main_plot = plots_of(panel, &detail);
    assert_non_null(detail);

    const struct xnode *limit = xone(main_plot, "line", "limit");
    double ly = xattr_num(limit, "y1");
    const struct xnode *oom = xone(main_plot, "circle", "oom");
    const struct xnode *trend = xone(main_plot, "line", "trend");
    assert_true(fabs(xattr_num(oom, "cy") - ly) < 0.01);
    assert_true(fabs(xattr_num(trend, "x2") - xattr_num(oom, "cx")) < 0.01);
    assert_true(fabs(xattr_num(trend, "y2") - ly) < 0.01);
    assert_string_equal(xtext(xone(main_plot, "text", "oom-label")),
                        "projected out of memory at invocation 1762 (in about 146 min)");
    /* the horizon: at the verdict's own rate, before the point where memory runs out */
    const struct xnode *horizon = xone(main_plot, "line", "horizon");
    assert_true(xattr_num(horizon, "x1") < xattr_num(oom, "cx"));
    assert_string_equal(xtext(xone(main_plot, "text", "horizon-label")),
                        "recycle horizon, 120 min after the start: about invocation 1440");
    /* the records squeezed to the left of the main plot: their lines there, all 7 points */
    struct xlist series = {.n = 0};
    xfind(main_plot, "polyline", "series", &series);
    assert_int_equal(series.n, 4);
    double xs[16], ys[16];
    assert_int_equal(points_of(series.items[2], xs, ys, 16), 7);
    assert_true(xs[6] < xattr_num(horizon, "x1") / 4);

    /* enlarged: the same series, the limit named above, the verdict changes (learning ->
     * steady at 5, steady -> leak at 6) */
    struct xlist enlarged = {.n = 0};
    xfind(detail, "polyline", "series", &enlarged);
    assert_int_equal(enlarged.n, 4);
    assert_int_equal(xcount(detail, "line", "limit"), 0);
    assert_string_equal(xtext(xone(detail, "text", "limit")),
                        "\xe2\x86\x91 memory limit 128 MiB, above this range");
    assert_int_equal(xcount(detail, "line", "verdict-change"), 2);
    assert_int_equal(xcount(main_plot, "line", "verdict-change"), 0);

    char labels[1024];
    legend_labels(panel, labels, sizeof(labels));
    assert_non_null(strstr(labels, "|memory limit|"));
    assert_non_null(strstr(labels, "|projected out of memory|recycle horizon|"));
    assert_null(strstr(labels, "death"));
    xnode_free(svg);
    free(doc);
    lw_report_free(r);
}

/*
 * The whole story (story.log, captured from the emulator): the function ran out of memory in
 * invocation 64, as the next environment told; leakwatch had projected it at 61.5 when it
 * flagged the leak. The death is a line at 64, the first projection a mark on the limit, and
 * the axis reaches both. The Managed Instances environment is drawn over time.
 */
static void test_chart_story(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("story.log"));
    assert_int_equal(lw_report_env_count(r), 4);
    struct lw_report_options opt = {.function_name = "orders-api",
                                    .env_id = "2026/12/04/[$LATEST]cede"};
    char *doc = render(r, &opt, DOC_SVG);
    struct xnode *svg = xml_parse(doc);
    assert_non_null(svg);
    const struct xnode *panel = xone(svg, "g", "panel");
    const struct xnode *detail;
    const struct xnode *main_plot = plots_of(panel, &detail);
    assert_null(detail); /* the records fill the plot: nothing to enlarge */

    const struct xnode *death = xone(main_plot, "line", "death");
    assert_true(fabs(xattr_num(death, "x1") - xattr_num(death, "x2")) < 0.01);
    assert_string_equal(xtext(xone(main_plot, "text", "death-label")),
                        "died: Runtime.OutOfMemory, invocation 64");
    /* the last invocation's start RSS is logged at 64, where the death line is */
    struct xlist series = {.n = 0};
    xfind(main_plot, "polyline", "series", &series);
    static double xs[128], ys[128];
    size_t n = points_of(series.items[0], xs, ys, 128);
    assert_true(n >= 60);
    assert_true(fabs(xs[n - 1] - xattr_num(death, "x1")) < 0.01);
    /* the first projection, on the limit line, left of the death */
    const struct xnode *first = xone(main_plot, "path", "first-projection");
    assert_string_equal(xtext(first), "projected when the leak was flagged: invocation 61.5");
    double ly = xattr_num(xone(main_plot, "line", "limit"), "y1");
    assert_true(strstr(xattr(first, "d"), "M") != NULL);
    char *end;
    double fx = strtod(xattr(first, "d") + 1, &end);
    assert_true(*end == ',');
    double fy = strtod(end + 1, NULL);
    assert_true(fx < xattr_num(death, "x1"));
    assert_true(fabs(fy + 6 - ly) < 0.01); /* the diamond's top, 6 above the limit */
    char labels[1024];
    legend_labels(panel, labels, sizeof(labels));
    assert_non_null(strstr(labels, "|projected when the leak was flagged|death (told by the next "
                                   "environment)|"));
    xnode_free(svg);
    free(doc);

    /* Managed Instances: minutes on x, the projection in time, and no recycle horizon (they
     * publish no environment lifetime) */
    struct lw_report_options mi = {.function_name = "orders-worker"};
    doc = render(r, &mi, DOC_SVG);
    svg = xml_parse(doc);
    assert_non_null(svg);
    panel = xone(svg, "g", "panel");
    main_plot = plots_of(panel, &detail);
    assert_memory_equal(xtext(xone(panel, "text", "title")), "Memory over time: orders-worker",
                        strlen("Memory over time: orders-worker"));
    struct xlist axes = {.n = 0};
    xfind(main_plot, "text", "axis-label", &axes);
    assert_int_equal(axes.n, 2);
    assert_memory_equal(xtext(axes.items[0]), "time (minutes since ", 20);
    xone(main_plot, "circle", "oom");
    assert_memory_equal(xtext(xone(main_plot, "text", "oom-label")), "projected out of memory at ",
                        27);
    assert_non_null(strstr(xtext(xone(main_plot, "text", "oom-label")), " min"));
    assert_int_equal(xcount(main_plot, NULL, "death"), 0);
    assert_int_equal(xcount(main_plot, NULL, "horizon"), 0);
    xnode_free(svg);
    free(doc);
    lw_report_free(r);
}

/* On a time axis (interval records) the death is placed at its environment's end. */
static void test_chart_interval_death(void **state)
{
    (void)state;
    struct lw_report *r = load_text(
        "{\"LeakwatchRecord\":\"interval\",\"EnvironmentId\":\"mi\",\"Sequence\":1,"
        "\"IntervalStartTimeMs\":1796421220000,\"EndTimeMs\":1796421250000,"
        "\"FunctionRssEndBytes\":1048576}\n"
        "{\"LeakwatchRecord\":\"interval\",\"EnvironmentId\":\"mi\",\"Sequence\":2,"
        "\"IntervalStartTimeMs\":1796421250000,\"EndTimeMs\":1796421280000,"
        "\"FunctionRssEndBytes\":2097152}\n"
        "{\"LeakwatchRecord\":\"death\",\"EnvironmentId\":\"next\",\"DeadEnvironmentId\":\"mi\","
        "\"Cause\":\"Runtime.OutOfMemory\",\"Intervals\":true,\"ActualOomSequence\":3,"
        "\"DeadEnvironmentEndTimeMs\":1796421310000}\n");
    char *doc = render(r, NULL, DOC_SVG);
    struct xnode *svg = xml_parse(doc);
    assert_non_null(svg);
    const struct xnode *panel = xone(svg, "g", "panel");
    const struct xnode *detail;
    const struct xnode *main_plot = plots_of(panel, &detail);
    double xs[4], ys[4];
    const struct xnode *end = NULL;
    struct xlist series = {.n = 0};
    xfind(main_plot, "polyline", "series", &series);
    for (size_t i = 0; i < series.n; i++)
        if (strcmp(xattr(series.items[i], "data-series"), "end") == 0)
            end = series.items[i];
    assert_non_null(end);
    assert_int_equal(points_of(end, xs, ys, 4), 2);
    /* readings at 0.5 and 1.0 min, the death at 1.5 min: as far again right of the last */
    const struct xnode *death = xone(main_plot, "line", "death");
    double step = xs[1] - xs[0];
    assert_true(step > 10);
    assert_true(fabs(xattr_num(death, "x1") - (xs[1] + step)) < 0.5);
    assert_string_equal(xtext(xone(main_plot, "text", "death-label")),
                        "died: Runtime.OutOfMemory, 1.5 min");
    xnode_free(svg);
    free(doc);
    lw_report_free(r);
}

/* Several environments: one panel each, a title each; hostile names arrive intact. */
static void test_chart_panels_and_escaping(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("aws-logs-tail.log"));
    char *doc = render(r, NULL, DOC_SVG);
    struct xnode *svg = xml_parse(doc);
    assert_non_null(svg);
    assert_int_equal(xcount(svg, "g", "panel"), 2);
    assert_int_equal(xcount(svg, "text", "title"), 2);
    /* four series in each main plot; the second environment's slow leak projects far beyond
     * its records, which are enlarged below with their four series again */
    struct xlist panels = {.n = 0};
    xfind(svg, "g", "panel", &panels);
    for (size_t i = 0; i < panels.n; i++) {
        const struct xnode *detail;
        assert_int_equal(xcount(plots_of(panels.items[i], &detail), "polyline", "series"), 4);
        assert_true((detail != NULL) == (i == 1));
    }
    assert_int_equal(xcount(svg, "polyline", "series"), 12);
    xnode_free(svg);
    free(doc);
    /* one environment, the last 10 invocations: 10 points per series (in the main plot and
     * enlarged), no verdict change */
    struct lw_report_options opt = {.env_id = "5b7e", .last = 10};
    doc = render(r, &opt, DOC_SVG);
    svg = xml_parse(doc);
    assert_non_null(svg);
    struct xlist series = {.n = 0};
    xfind(svg, "polyline", "series", &series);
    assert_int_equal(series.n, 8);
    double xs[64], ys[64];
    for (size_t s = 0; s < series.n; s++)
        assert_int_equal(points_of(series.items[s], xs, ys, 64), 10);
    assert_int_equal(xcount(svg, NULL, "verdict-change"), 0);
    xnode_free(svg);
    free(doc);
    lw_report_free(r);

    r = lw_report_new();
    assert_non_null(r);
    static const char l1[] = "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"<&>\","
                             "\"Sequence\":1,\"FunctionName\":\"a\\\"b'</svg>\\u0001\","
                             "\"FunctionRssEndBytes\":1048576}";
    assert_int_equal(lw_report_add_line(r, l1, sizeof(l1) - 1), LW_OK);
    assert_int_equal(lw_report_finish(r), LW_OK);
    doc = render(r, NULL, DOC_SVG);
    svg = xml_parse(doc);
    assert_non_null(svg);
    assert_string_equal(xtext(xone(svg, "text", "title")), "Memory per invocation: a\"b'</svg>?");
    assert_non_null(strstr(xtext(xone(svg, "text", "subtitle")), "environment <&>"));
    /* no limit, no verdict: neither line nor legend entry */
    assert_int_equal(xcount(svg, NULL, "limit"), 0);
    assert_int_equal(xcount(svg, NULL, "trend"), 0);
    xnode_free(svg);
    free(doc);
    lw_report_free(r);
}

/* The i-th child element of n named name; NULL when there is none. */
static const struct xnode *xkid(const struct xnode *n, const char *name, size_t i)
{
    for (size_t k = 0; k < n->n_kids; k++)
        if (strcmp(n->kids[k]->name, name) == 0 && i-- == 0)
            return n->kids[k];
    return NULL;
}

/* Where kid is among n's children; fails the test when it is not one. */
static size_t kid_index(const struct xnode *n, const struct xnode *kid)
{
    for (size_t k = 0; k < n->n_kids; k++)
        if (n->kids[k] == kid)
            return k;
    fail_msg("<%s> is not a child of <%s>", kid->name, n->name);
    return 0;
}

/* The definition of term in a <dl class="answer">; fails the test unless there is one. */
static const char *answer(const struct xnode *dl, const char *term)
{
    for (size_t k = 0; k + 1 < dl->n_kids; k++)
        if (strcmp(dl->kids[k]->name, "dt") == 0 && strcmp(xtext(dl->kids[k]), term) == 0) {
            assert_string_equal(dl->kids[k + 1]->name, "dd");
            return xtext(dl->kids[k + 1]);
        }
    fail_msg("no <dt>%s</dt>", term);
    return NULL;
}

/* Nothing loaded from elsewhere, no script: the page is read offline, and safe to open. */
static void check_self_contained(const struct xnode *html)
{
    struct xlist all = {.n = 0};
    xfind(html, NULL, NULL, &all);
    for (size_t i = 0; i < all.n; i++) {
        assert_null(xattr(all.items[i], "src"));
        assert_null(xattr(all.items[i], "href"));
        for (size_t a = 0; a < all.items[i]->n_attrs; a++)
            assert_true(strncmp(all.items[i]->attrs[a].name, "on", 2) != 0);
        assert_true(strcmp(all.items[i]->name, "link") != 0);
        assert_true(strcmp(all.items[i]->name, "script") != 0);
        assert_true(strcmp(all.items[i]->name, "img") != 0);
    }
    assert_null(strstr(xtext(xone(html, "style", NULL)), "url("));
    assert_null(strstr(xtext(xone(html, "style", NULL)), "@import"));
}

/*
 * The HTML page: well formed, self-contained, a section per environment with the answer first
 * (a <dl>), then its chart, then its records as a real table, one row each.
 */
static void test_html_page(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("aws-logs-tail.log"));
    char *doc = render(r, NULL, DOC_HTML);
    assert_memory_equal(doc, "<!DOCTYPE html>\n", 16);
    struct xnode *html = xml_parse(doc);
    assert_non_null(html);
    assert_string_equal(html->name, "html");
    assert_string_equal(xtext(xone(xone(html, "head", NULL), "title", NULL)), "leakwatch report");
    check_self_contained(html);
    assert_string_equal(xtext(xone(html, "p", "deaths")), "Deaths: none told in this log");
    struct xlist sections = {.n = 0};
    xfind(html, "section", "environment", &sections);
    assert_int_equal(sections.n, 2);
    for (size_t i = 0; i < sections.n; i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        const struct xnode *sec = sections.items[i];
        assert_non_null(strstr(xtext(xone(sec, "h2", NULL)), env->env_id));
        /* the answer, the chart, the table: in that order */
        const struct xnode *dl = xone(sec, "dl", "answer");
        const struct xnode *fig = xone(sec, "figure", "chart");
        const struct xnode *table = xone(sec, "table", "records");
        assert_true(kid_index(sec, dl) < kid_index(sec, fig));
        assert_true(kid_index(sec, fig) < kid_index(sec, table));
        const struct lw_report_entry *last = &env->invocations[env->n_invocations - 1];
        /* (xtext() puts an element's own text before its children's) */
        assert_non_null(strstr(answer(dl, "Verdict"), last->reason));
        assert_string_equal(xtext(xone(dl, "strong", "kind")), last->verdict);
        answer(dl, "Projection");
        assert_string_equal(answer(dl, "Death"), "none told in this log");
        const struct xnode *svg = xone(fig, "svg", NULL);
        assert_null(xattr(svg, "xmlns")); /* inline: the HTML parser knows the namespace */
        assert_int_equal(xcount(svg, "g", "panel"), 1);
        /* the table: a heading per column, a row per invocation, a cell per column */
        const struct xnode *head = xone(table, "thead", NULL);
        assert_int_equal(xcount(head, "th", NULL), 15);
        const struct xnode *body = xone(table, "tbody", NULL);
        assert_int_equal(xcount(body, "tr", NULL), env->n_invocations);
        assert_int_equal(xcount(body, "td", NULL), 15 * env->n_invocations);
        char seq[32];
        snprintf(seq, sizeof(seq), "%llu", (unsigned long long)last->seq);
        const struct xnode *last_row = xkid(body, "tr", env->n_invocations - 1);
        assert_string_equal(xtext(xkid(last_row, "td", 0)), seq);
        /* the whole request id where the cell shows its start */
        assert_string_equal(xattr(xkid(last_row, "td", 1), "title"), last->request_id);
    }
    assert_memory_equal(xtext(xone(html, "p", "input")), "input: 511 lines", 16);
    xnode_free(html);
    free(doc);
    lw_report_free(r);
}

/*
 * The page of the whole story (story.log): the deaths first, across the page; per environment
 * the verdict, the projection, the culprit with its pid, the death and whether it was
 * predicted; the row of the invocation it died in says so. The forged lines stay text.
 */
static void test_html_story(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("story.log"));
    char *doc = render(r, NULL, DOC_HTML);
    assert_null(strstr(doc, "<script"));
    assert_null(strstr(doc, "<img"));
    assert_null(strstr(doc, "<b>"));
    struct xnode *html = xml_parse(doc);
    assert_non_null(html);
    check_self_contained(html);
    assert_string_equal(xtext(xone(html, "p", "deaths")),
                        "Deaths: predicted 1 of 1 out-of-memory death, median lead 4 s "
                        "(33 invocations); 1 other death");
    struct xlist sections = {.n = 0};
    xfind(html, "section", "environment", &sections);
    assert_int_equal(sections.n, 4);

    /* the environment that died: orders-api, its death told by the next one */
    const struct xnode *died = NULL;
    for (size_t i = 0; i < sections.n; i++)
        if (strstr(xtext(xone(sections.items[i], "h2", NULL)), "cede52a7"))
            died = sections.items[i];
    assert_non_null(died);
    const struct xnode *dl = xone(died, "dl", "answer");
    assert_non_null(strstr(answer(dl, "Verdict"), "memory runs out in 0 s"));
    assert_string_equal(xtext(xone(dl, "strong", "kind")), "leak-critical");
    assert_true(has_class(xone(dl, "strong", "kind"), "leak-critical"));
    assert_string_equal(answer(dl, "Projection"),
                        "out of memory in about 0 invocations (0 s), as of seq 64");
    /* the invocation that died could not name it: the latest that did */
    assert_string_equal(answer(dl, "Culprit"), "leak, pid 19065 (as of invocation 63)");
    assert_string_equal(xtext(xone(xone(dl, "dd", "culprit"), "span", "as-of")),
                        "(as of invocation 63)");
    assert_string_equal(answer(dl, "Death"),
                        "Runtime.OutOfMemory in invocation 64, after 9s, predicted 33 "
                        "invocations (4 s) ahead; projected at invocation 61.5 when the leak "
                        "was flagged, 3.8% off; recognised by error-type, error-at-limit");
    const struct xnode *svg = xone(died, "svg", NULL);
    xone(svg, "line", "death");
    const struct xnode *row = xone(xone(died, "tbody", NULL), "tr", "death");
    assert_string_equal(xtext(xkid(row, "td", 0)), "64");
    assert_memory_equal(xtext(xone(row, "td", "notes")),
                        "died: Runtime.OutOfMemory, predicted 33 ahead",
                        strlen("died: Runtime.OutOfMemory, predicted 33 ahead"));

    /* the forged environment: every string is text, none became markup */
    const struct xnode *forged = NULL;
    for (size_t i = 0; i < sections.n; i++)
        if (strstr(xtext(xone(sections.items[i], "h2", NULL)), "forged-env<b>"))
            forged = sections.items[i];
    assert_non_null(forged);
    assert_memory_equal(xtext(xone(forged, "h2", NULL)), "<img src=x onerror=", 19);
    dl = xone(forged, "dl", "answer");
    assert_non_null(strstr(answer(dl, "Verdict"), "</td></tr></table><script>"));
    assert_memory_equal(answer(dl, "Death"), "<script>", 8);
    assert_string_equal(xtext(xone(forged, "span", "as-of")), "(as of invocation 1)");
    xnode_free(html);
    free(doc);
    lw_report_free(r);
}

static void test_xml_checker(void **state)
{
    (void)state;
    /* the checker itself must be able to say no */
    assert_int_equal(xml_check("<a><b/></a>", "b"), 1);
    assert_int_equal(xml_check("<a><b></a>", "b"), -1);
    assert_int_equal(xml_check("<a></b>", "b"), -1);
    assert_int_equal(xml_check("<a>x & y</a>", "b"), -1);
    assert_int_equal(xml_check("<a t=\"1>2\"></a>", "b"), 0);
    assert_int_equal(xml_check("<a></a><a></a>", "a"), -1);
    assert_int_equal(xml_check("<a>", "a"), -1);
}

static void test_svg(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("aws-logs-tail.log"));
    struct membuf m;
    mem_open(&m);
    assert_int_equal(lw_report_write_svg(r, NULL, m.f), LW_OK);
    mem_close(&m);
    /* two environments, four series each (the content is checked in test_report_chart.c) */
    assert_int_equal(xml_check(m.data, "polyline"), 12);
    assert_int_equal(xml_check(m.data, "svg"), 1);
    /* a panel of 500, and one of 500 with 300 for its enlarged records */
    assert_non_null(strstr(m.data, "height=\"1300\""));
    /* the first limit named above its range, the second drawn (the trend reaches it) and
     * named above the enlarged records */
    assert_int_equal(count(m.data, "class=\"limit\""), 3);
    /* verdict changes: learning->steady in both, steady->leak in the second */
    assert_int_equal(count(m.data, "class=\"verdict-change\""), 3);
    free(m.data);

    /* one environment, the last 10 invocations: 10 points per series */
    struct lw_report_options opt = {.env_id = "5b7e", .last = 10};
    mem_open(&m);
    assert_int_equal(lw_report_write_svg(r, &opt, m.f), LW_OK);
    mem_close(&m);
    assert_int_equal(xml_check(m.data, "polyline"), 8);
    const char *pts = strstr(m.data, "points=\"");
    assert_non_null(pts);
    size_t commas = 0;
    for (const char *q = pts + 8; *q != '"'; q++)
        commas += *q == ',';
    assert_int_equal(commas, 10);
    assert_int_equal(count(m.data, "class=\"verdict-change\""), 0);
    free(m.data);
    lw_report_free(r);

    /* hostile names are escaped; a missing figure is skipped, not drawn as 0 */
    r = load_text("{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"<&>\",\"Sequence\":1,"
                  "\"FunctionName\":\"a\\\"b'</svg>\",\"FunctionRssEndBytes\":1048576}\n"
                  "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"<&>\",\"Sequence\":2,"
                  "\"FunctionRssEndBytes\":2097152,\"EnvironmentRssBytes\":4194304}\n");
    mem_open(&m);
    assert_int_equal(lw_report_write_svg(r, NULL, m.f), LW_OK);
    mem_close(&m);
    assert_int_equal(xml_check(m.data, "polyline"), 2);
    assert_non_null(strstr(m.data, "&lt;&amp;&gt;"));
    free(m.data);
    lw_report_free(r);
}

/* Bytes of doc that XML 1.0 does not allow, raw: C0 but tab and LF, DEL; and not UTF-8. */
static size_t bad_xml_bytes(const char *doc)
{
    size_t bad = 0;
    for (const unsigned char *p = (const unsigned char *)doc; *p; p++)
        bad += (*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f || *p == 0xff;
    return bad;
}

/*
 * Strings from the log in the chart and the page: they never close an element, open a tag or
 * leave an attribute value, and what XML 1.0 forbids (C0 controls, even as references; bytes
 * that are not UTF-8; U+FFFE) is shown as '?', so the document stays well formed.
 */
static void test_chart_hostile_strings(void **state)
{
    (void)state;
    struct lw_report *r = load_text(
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\\u001b[2J\xff\\ufffe\","
        "\"Sequence\":1,\"FunctionName\":\"</text><script>alert(1)</script>\","
        "\"Verdict\":\"learning\",\"FunctionRssEndBytes\":1048576}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\\u001b[2J\xff\\ufffe\","
        "\"Sequence\":2,\"Verdict\":\"\\\"/><svg onload=\\\"alert(1)\\u0000\","
        "\"FunctionRssEndBytes\":2097152}\n");
    char *doc = render(r, NULL, DOC_SVG);
    assert_int_equal(bad_xml_bytes(doc), 0);
    assert_null(strstr(doc, "<script"));
    assert_null(strstr(doc, "<svg onload"));
    assert_non_null(strstr(doc, ">Memory per invocation: &lt;/text&gt;&lt;script&gt;alert(1)"
                                "&lt;/script&gt;</text>\n"));
    assert_non_null(strstr(doc, ">environment e?[2J?"
                                "?</text>\n"));
    assert_non_null(strstr(doc, ">verdict &quot;/&gt;&lt;svg onload=&quot;alert(1)</text>\n"));
    struct xnode *svg = xml_parse(doc);
    assert_non_null(svg);
    assert_int_equal(xcount(svg, "svg", NULL), 1);
    assert_int_equal(xcount(svg, "script", NULL), 0);
    assert_string_equal(xtext(xone(svg, "text", "title")),
                        "Memory per invocation: </text><script>alert(1)</script>");
    /* the verdict change is labelled with the new verdict, as text */
    assert_int_equal(xcount(svg, "line", "verdict-change"), 1);
    xnode_free(svg);
    free(doc);

    doc = render(r, NULL, DOC_HTML);
    assert_int_equal(bad_xml_bytes(doc), 0);
    assert_null(strstr(doc, "<script"));
    struct xnode *html = xml_parse(doc);
    assert_non_null(html);
    assert_int_equal(xcount(html, "script", NULL), 0);
    assert_string_equal(xtext(xone(html, "h2", NULL)),
                        "</text><script>alert(1)</script> \xc2\xb7 environment e?[2J??");
    const struct xnode *kind = xone(xone(html, "dd", "verdict"), "strong", "kind");
    assert_string_equal(xtext(kind), "\"/><svg onload=\"alert(1)"); /* cut at the \\u0000 */
    /* a verdict the report does not know gets no class of its own */
    assert_true(has_class(kind, "other"));
    xnode_free(html);
    free(doc);
    lw_report_free(r);
}

/* A chart whose environment had conflicting lines says so under its title. */
static void test_chart_conflicts(void **state)
{
    (void)state;
    struct lw_report *r =
        load_text("{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":1,"
                  "\"FunctionRssEndBytes\":1048576}\n"
                  "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":1,"
                  "\"FunctionRssEndBytes\":99999999}\n");
    char *doc = render(r, NULL, DOC_SVG);
    struct xnode *svg = xml_parse(doc);
    assert_non_null(svg);
    assert_string_equal(xtext(xone(svg, "text", "subtitle")), "environment b");
    assert_string_equal(xtext(xone(svg, "text", "subtitle-verdict")),
                        "1 conflicting record, the first read shown");
    xnode_free(svg);
    free(doc);
    lw_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_reader),
        cmocka_unit_test(test_chart_of_leaking_run),
        cmocka_unit_test(test_chart_slow_leak_to_the_limit),
        cmocka_unit_test(test_chart_story),
        cmocka_unit_test(test_chart_interval_death),
        cmocka_unit_test(test_chart_panels_and_escaping),
        cmocka_unit_test(test_html_page),
        cmocka_unit_test(test_html_story),
        cmocka_unit_test(test_xml_checker),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_chart_hostile_strings),
        cmocka_unit_test(test_chart_conflicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
