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
                                "projected|projected out of memory|cold start|verdict change|");
    xnode_free(svg);
    free(doc);
    lw_report_free(r);
}

/*
 * A slow leak under a large limit (small.log: 64 KiB per invocation, 128 MB, out of memory
 * after about 1760 invocations): the limit is named above the range, and an arrow at the right
 * edge says where the point is.
 */
static void test_chart_projection_beyond_range(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("small.log"));
    char *doc = render(r, NULL, DOC_SVG);
    struct xnode *svg = xml_parse(doc);
    assert_non_null(svg);
    const struct xnode *panel = xone(svg, "g", "panel");
    assert_int_equal(xcount(panel, "line", "limit"), 0);
    assert_string_equal(xtext(xone(panel, "text", "limit")),
                        "\xe2\x86\x91 memory limit 128 MiB, above this range");
    assert_int_equal(xcount(panel, NULL, "oom"), 0);
    const struct xnode *arrow = xone(panel, "path", "oom-arrow");
    (void)arrow;
    assert_string_equal(
        xtext(xone(panel, "text", "oom-label")),
        "projected out of memory at invocation 1762 (in about 146 min) \xe2\x86\x92");
    const struct xnode *trend = xone(panel, "line", "trend");
    assert_true(xattr_num(trend, "x2") >= 869.9); /* to the right edge of the plot */
    char labels[1024];
    legend_labels(panel, labels, sizeof(labels));
    assert_non_null(strstr(labels, "|out of memory projected beyond the range|"));
    assert_null(strstr(labels, "|memory limit|"));
    /* the verdict changes: learning -> steady at 5, steady -> leak at 6 */
    assert_int_equal(xcount(panel, "line", "verdict-change"), 2);
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
    assert_int_equal(xcount(svg, "polyline", "series"), 8);
    xnode_free(svg);
    free(doc);
    /* one environment, the last 10 invocations: 10 points per series, no verdict change */
    struct lw_report_options opt = {.env_id = "5b7e", .last = 10};
    doc = render(r, &opt, DOC_SVG);
    svg = xml_parse(doc);
    assert_non_null(svg);
    struct xlist series = {.n = 0};
    xfind(svg, "polyline", "series", &series);
    assert_int_equal(series.n, 4);
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

/* The HTML page: well formed, self-contained, a section per environment with its chart. */
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
    /* nothing loaded from elsewhere */
    struct xlist all = {.n = 0};
    xfind(html, NULL, NULL, &all);
    for (size_t i = 0; i < all.n; i++) {
        assert_null(xattr(all.items[i], "src"));
        assert_null(xattr(all.items[i], "href"));
        assert_true(strcmp(all.items[i]->name, "link") != 0);
        assert_true(strcmp(all.items[i]->name, "script") != 0);
    }
    assert_null(strstr(xtext(xone(html, "style", NULL)), "url("));
    struct xlist sections = {.n = 0};
    xfind(html, "section", "environment", &sections);
    assert_int_equal(sections.n, 2);
    for (size_t i = 0; i < sections.n; i++) {
        const struct lw_report_env *env = lw_report_env_at(r, i);
        const struct xnode *sec = sections.items[i];
        assert_non_null(strstr(xtext(xone(sec, "h2", NULL)), env->env_id));
        const struct xnode *svg = xone(sec, "svg", NULL);
        assert_int_equal(xcount(svg, "g", "panel"), 1);
        assert_int_equal(xcount(svg, "polyline", "series"), 4);
        const char *summary = xtext(xone(sec, "pre", "summary"));
        assert_non_null(strstr(summary, "verdict       "));
        assert_non_null(strstr(summary, "memory        "));
        assert_non_null(strstr(summary, "\nseq  request"));
    }
    assert_memory_equal(xtext(xone(html, "pre", "input")), "input: 511 lines", 16);
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
    assert_int_equal(xml_check(m.data, "polyline"), 8);
    assert_int_equal(xml_check(m.data, "svg"), 1);
    assert_non_null(strstr(m.data, "height=\"1000\""));
    assert_int_equal(count(m.data, "class=\"limit\""), 2);
    /* verdict changes: learning->steady in both, steady->leak in the second */
    assert_int_equal(count(m.data, "class=\"verdict-change\""), 3);
    free(m.data);

    /* one environment, the last 10 invocations: 10 points per series */
    struct lw_report_options opt = {.env_id = "5b7e", .last = 10};
    mem_open(&m);
    assert_int_equal(lw_report_write_svg(r, &opt, m.f), LW_OK);
    mem_close(&m);
    assert_int_equal(xml_check(m.data, "polyline"), 4);
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
    assert_non_null(strstr(doc, ">environment e?[2J?? \xc2\xb7 verdict &quot;/&gt;&lt;svg "
                                "onload=&quot;alert(1)</text>\n"));
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
    const char *summary = xtext(xone(html, "pre", "summary"));
    assert_non_null(strstr(summary, "\nverdict       \"/><svg onload=\"alert(1)\n"));
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
    assert_string_equal(xtext(xone(svg, "text", "subtitle")),
                        "environment b \xc2\xb7 1 conflicting record, the first read shown");
    xnode_free(svg);
    free(doc);
    lw_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_reader),
        cmocka_unit_test(test_chart_of_leaking_run),
        cmocka_unit_test(test_chart_projection_beyond_range),
        cmocka_unit_test(test_chart_panels_and_escaping),
        cmocka_unit_test(test_html_page),
        cmocka_unit_test(test_xml_checker),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_chart_hostile_strings),
        cmocka_unit_test(test_chart_conflicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
