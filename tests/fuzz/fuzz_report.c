/*
 * libFuzzer target for the report reader: the input is a log file (any bytes, any line
 * endings). Every line goes through lw_report_parse_line(), the whole file through
 * lw_report_read() and lw_report_finish(), and the report through the three writers. Besides
 * the sanitizers, the target checks report.h's promises and aborts when one is broken:
 *   - a parsed line holds NUL-terminated strings, known metric and gap bits, finite values;
 *   - trailing blanks and "\r" change nothing;
 *   - every line read is counted exactly once, and the reader keeps what the line parser
 *     accepts, kind by kind;
 *   - after finish, each environment has its records (invocations and intervals) once each, by
 *     Sequence, its alerts by Sequence, its death (told by another environment) is about it,
 *     and every kept line is either shown or counted as a duplicate;
 *   - conflicts (lines that claim a slot already read but differ) are among the duplicates
 *     and add up over the environments; reading the whole file a second time (at-least-once
 *     delivery) changes nothing shown and counts no new conflict;
 *   - the writers succeed, and what the log wrote cannot turn their output against the reader:
 *     the text is valid UTF-8 without a control character (C0 but its own line feeds, DEL,
 *     C1), a bidirectional control or U+FFFE/U+FFFF; no CSV string cell starts with a formula
 *     character ('=', '+', '-', '@', tab, CR; a number leakwatch wrote may start with '-'),
 *     every row has the header's columns and no cell holds a control character; the SVG and
 *     the HTML page are well formed, of the elements the writer makes only, with the bytes
 *     XML 1.0 allows, and each panel's title (each section's heading) reads exactly the
 *     function name and environment id of the log, as cleaned by an oracle written here: a
 *     string that closed an element or opened a tag would break that.
 */
/* fuzz-seeds: tests/fixtures/report */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/report.h>
#include <leakwatch/text.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STR_OK(s) check(strnlen((s), sizeof(s)) < sizeof(s))

static void check_line(const struct lw_report_line *l)
{
    check(l->kind >= LW_REPORT_INVOCATION && l->kind <= LW_REPORT_KIND_LAST);
    STR_OK(l->env_id);
    check(l->env_id[0] != '\0');
    STR_OK(l->function_name);
    STR_OK(l->function_version);
    STR_OK(l->request_id);
    STR_OK(l->status);
    STR_OK(l->error_type);
    STR_OK(l->peak_method);
    STR_OK(l->verdict);
    STR_OK(l->from);
    STR_OK(l->reason);
    STR_OK(l->culprit);
    STR_OK(l->ending);
    STR_OK(l->told_by);
    STR_OK(l->oom_forms);
    check(l->culprit_pid <= INT32_MAX && (l->culprit_pid == 0 || l->culprit[0] != '\0'));
    check(l->have_mask >> (l->kind == LW_REPORT_DEATH ? LW_D_COUNT : LW_M_COUNT) == 0);
    check(isfinite(l->unknown_rss_end_bytes) && l->unknown_rss_end_bytes >= 0);
    for (int i = 0; i < LW_M_COUNT; i++) {
        if (l->have_mask & (1ull << i))
            check(isfinite(l->value[i]));
    }
    check(!l->have_lifetime || isfinite(l->lifetime_seconds));
}

static bool same_line(const struct lw_report_line *a, const struct lw_report_line *b)
{
    return a->kind == b->kind && strcmp(a->env_id, b->env_id) == 0 && a->seq == b->seq &&
           strcmp(a->request_id, b->request_id) == 0 && a->have_mask == b->have_mask &&
           a->timestamp_ms == b->timestamp_ms && strcmp(a->reason, b->reason) == 0;
}

struct counts {
    uint64_t lines, kind[LW_REPORT_KIND_LAST + 1];
};

static void parse_lines(const char *buf, size_t size, struct counts *c)
{
    static struct lw_report_line line, again;
    static char padded[16384 + 3];
    const char *p = buf, *end = buf + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        c->lines++;
        enum lw_report_skip why = LW_REPORT_SKIP_NONE;
        enum lw_err err = lw_report_parse_line(p, len, &line, &why);
        if (err == LW_OK) {
            check_line(&line);
            c->kind[line.kind]++;
        } else {
            check(err == LW_ERR_INVALID);
            check(why >= LW_REPORT_SKIP_TEXT && why <= LW_REPORT_SKIP_INVALID);
        }
        if (len + 2 <= sizeof(padded)) {
            memcpy(padded, p, len);
            memcpy(padded + len, " \r", 2);
            enum lw_report_skip why2 = LW_REPORT_SKIP_NONE;
            enum lw_err err2 = lw_report_parse_line(padded, len + 2, &again, &why2);
            check(err2 == err);
            if (err == LW_OK)
                check(same_line(&line, &again));
            else
                check(why2 == why);
        }
        p = nl ? nl + 1 : end;
    }
}

static void check_envs(const struct lw_report *r, const struct lw_report_stats *st)
{
    uint64_t shown = 0, total_conflicts = 0;
    for (size_t i = 0; i < lw_report_env_count(r); i++) {
        const struct lw_report_env *e = lw_report_env_at(r, i);
        check(e != NULL && e->env_id != NULL && e->function_name != NULL);
        for (size_t k = 0; k < e->n_invocations; k++) {
            const struct lw_report_entry *x = &e->invocations[k];
            check((x->kind == LW_REPORT_INVOCATION || x->kind == LW_REPORT_INTERVAL) &&
                  strcmp(x->env_id, e->env_id) == 0);
            check(k == 0 || x->seq > e->invocations[k - 1].seq);
        }
        for (size_t k = 0; k < e->n_alerts; k++) {
            const struct lw_report_entry *x = &e->alerts[k];
            check(x->kind == LW_REPORT_ALERT && strcmp(x->env_id, e->env_id) == 0);
            check(k == 0 || x->seq >= e->alerts[k - 1].seq);
        }
        check(e->shutdown == NULL || e->shutdown->kind == LW_REPORT_SHUTDOWN);
        /* a death belongs to the environment it tells about */
        check(e->death == NULL ||
              (e->death->kind == LW_REPORT_DEATH && strcmp(e->death->env_id, e->env_id) == 0));
        shown += e->n_invocations + e->n_alerts + (e->shutdown != NULL) + (e->death != NULL);
        uint64_t conflicts = e->shutdown ? e->shutdown->conflicts : 0;
        conflicts += e->death ? e->death->conflicts : 0;
        for (size_t k = 0; k < e->n_invocations; k++)
            conflicts += e->invocations[k].conflicts;
        for (size_t k = 0; k < e->n_alerts; k++)
            conflicts += e->alerts[k].conflicts;
        check(conflicts == e->conflicts);
        total_conflicts += conflicts;
    }
    check(shown + st->duplicates ==
          st->invocations + st->intervals + st->shutdowns + st->alerts + st->deaths);
    check(st->conflicts <= st->duplicates);
    check(total_conflicts == st->conflicts);
}

/* ---------------------------------------------------------------------------------------- */
/* the writers' output                                                                       */

/*
 * The oracle: the code point at s[0..n) and its length, or 0 when the bytes are not UTF-8;
 * and whether a code point may reach a reader. Written apart from the report's own rules so
 * that the two check each other.
 */
static size_t decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len = lw_text_utf8_len(s, n);
    static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    if (len == 0)
        return 0;
    *cp = s[0] & lead_mask[len];
    for (size_t i = 1; i < len; i++)
        *cp = *cp << 6 | (s[i] & 0x3f);
    return len;
}

static bool shown_as_is(uint32_t cp)
{
    static const uint32_t refused[][2] = {
        {0x00, 0x1f},     {0x7f, 0x9f},     {0x061c, 0x061c}, {0x200e, 0x200f},
        {0x202a, 0x202e}, {0x2066, 0x2069}, {0xfffe, 0xffff},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (cp >= refused[i][0] && cp <= refused[i][1])
            return false;
    return true;
}

/* s as the writers must show it: each refused character or stray byte as '?'. */
static size_t oracle_clean(const char *s, char *dst, size_t cap)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n && o + 5 < cap;) {
        uint32_t cp;
        size_t len = decode(u + i, n - i, &cp);
        if (len == 0 || !shown_as_is(cp)) {
            dst[o++] = '?';
            i += len ? len : 1;
        } else {
            memcpy(dst + o, s + i, len);
            o += len;
            i += len;
        }
    }
    dst[o] = '\0';
    return o;
}

/* Every byte of text is UTF-8 shown as is, but line feeds (and tabs, where allowed). */
static void check_safe_bytes(const char *text, size_t len, bool tabs)
{
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = decode(u + i, len - i, &cp);
        check(l > 0);
        check(shown_as_is(cp) || cp == '\n' || (tabs && cp == '\t'));
        i += l;
    }
}

/* The CSV: RFC 4180 rows of the header's width, no control character, no formula. */
static void check_csv(const char *csv, size_t len)
{
    static const char formula[] = "=+-@\t\r";
    size_t i = 0, columns = 0, header_columns = 0;
    bool header = true;
    static char cell[LW_REPORT_LINE_MAX_BYTES / 64];
    while (i < len) {
        size_t n = 0;
        bool quoted = csv[i] == '"';
        if (quoted) {
            for (i++;; i++) {
                check(i < len);
                if (csv[i] == '"') {
                    if (i + 1 < len && csv[i + 1] == '"')
                        i++;
                    else
                        break;
                }
                check(n + 1 < sizeof(cell));
                cell[n++] = csv[i];
            }
            i++; /* the closing quote */
        } else {
            for (; i < len && csv[i] != ',' && csv[i] != '\r'; i++) {
                check(csv[i] != '"' && csv[i] != '\n');
                check(n + 1 < sizeof(cell));
                cell[n++] = csv[i];
            }
        }
        cell[n] = '\0';
        check_safe_bytes(cell, n, false);
        if (!header && n > 0 && strchr(formula, cell[0])) {
            /* only a number leakwatch wrote starts so */
            char *end;
            (void)strtod(cell, &end);
            check(cell[0] == '-' && end == cell + n);
        }
        columns++;
        check(i < len);
        if (csv[i] == ',') {
            i++;
            continue;
        }
        check(csv[i] == '\r' && i + 1 < len && csv[i + 1] == '\n');
        i += 2;
        if (header)
            header_columns = columns;
        check(columns == header_columns);
        header = false;
        columns = 0;
    }
}

/*
 * A small XML reader for the writer's documents: well formed, only the elements the writer
 * makes, attribute values quoted and free of '<', '&' only in the five predefined entities, no
 * raw '>' in text. Collects, in order, the decoded text of the elements named `capture`
 * (class `capture_class` when given), which must hold no element.
 */
struct xml {
    const char *p, *end;
    char texts[64][768];
    size_t n_texts;
};

static bool allowed_element(const char *name, size_t n)
{
    static const char *const names[] = {
        "svg",    "g",      "rect", "text",   "line",  "polyline", "path",   "circle",
        "title",  "html",   "head", "meta",   "style", "body",     "header", "main",
        "footer", "h1",     "h2",   "h3",     "p",     "section",  "dl",     "dt",
        "dd",     "strong", "span", "figure", "table", "caption",  "thead",  "tbody",
        "tr",     "th",     "td",   "ul",     "li"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
            return true;
    return false;
}

/* An entity at p (after '&'): its length through ';' and the character, or 0. */
static size_t entity(const char *p, const char *end, char *c)
{
    static const struct {
        const char *text;
        char c;
    } known[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        size_t n = strlen(known[i].text);
        if ((size_t)(end - p) >= n && memcmp(p, known[i].text, n) == 0) {
            *c = known[i].c;
            return n;
        }
    }
    return 0;
}

static void check_xml(struct xml *x, const char *capture, const char *capture_class)
{
    const char *stack[64];
    size_t stack_len[64];
    int depth = 0, capturing = -1;
    bool root_done = false;
    size_t cap_len = 0;
    const char *p = x->p, *end = x->end;
    /* the prolog: an XML declaration or an HTML doctype */
    if ((size_t)(end - p) > 5 && memcmp(p, "<?xml", 5) == 0) {
        p = memmem(p, (size_t)(end - p), "?>", 2);
        check(p != NULL);
        p += 2;
    } else if ((size_t)(end - p) > 9 && memcmp(p, "<!DOCTYPE", 9) == 0) {
        p = memchr(p, '>', (size_t)(end - p));
        check(p != NULL);
        p++;
    }
    while (p < end) {
        if (*p != '<') {
            check(*p != '>');
            check(!root_done || *p == '\n');
            char c = *p;
            size_t n = 1;
            if (*p == '&') {
                n = 1 + entity(p + 1, end, &c);
                check(n > 1);
            }
            if (capturing >= 0 && cap_len + 1 < sizeof(x->texts[0]))
                x->texts[x->n_texts][cap_len++] = c;
            p += n;
            continue;
        }
        check(!root_done);
        bool closing = p + 1 < end && p[1] == '/';
        const char *name = p + (closing ? 2 : 1);
        size_t n = 0;
        while (name + n < end &&
               ((name[n] >= 'a' && name[n] <= 'z') || (name[n] >= '0' && name[n] <= '9')))
            n++;
        check(n > 0 && allowed_element(name, n));
        p = name + n;
        if (closing) {
            check(depth > 0 && stack_len[depth - 1] == n && memcmp(stack[depth - 1], name, n) == 0);
            check(p < end && *p == '>');
            p++;
            depth--;
            if (capturing == depth) {
                x->texts[x->n_texts++][cap_len] = '\0';
                capturing = -1;
            }
            root_done = depth == 0;
            continue;
        }
        check(capturing < 0); /* the text from the log holds no element */
        bool wanted = capture && strlen(capture) == n && memcmp(capture, name, n) == 0;
        bool class_ok = capture_class == NULL, self_closing = false;
        for (;;) {
            while (p < end && (*p == ' ' || *p == '\n'))
                p++;
            check(p < end);
            if (*p == '>') {
                p++;
                break;
            }
            if (*p == '/') {
                check(p + 1 < end && p[1] == '>');
                p += 2;
                self_closing = true;
                break;
            }
            const char *attr = p;
            while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                               (*p >= '0' && *p <= '9') || *p == '-'))
                p++;
            check(p > attr && p + 1 < end && p[0] == '=' && p[1] == '"');
            const char *value = p + 2;
            const char *q = memchr(value, '"', (size_t)(end - value));
            check(q != NULL);
            for (const char *v = value; v < q; v++) {
                char c;
                check(*v != '<');
                check(*v != '&' || entity(v + 1, q, &c) > 0);
            }
            if (capture_class && (size_t)(p - attr) == 5 && memcmp(attr, "class", 5) == 0)
                class_ok = (size_t)(q - value) == strlen(capture_class) &&
                           memcmp(value, capture_class, (size_t)(q - value)) == 0;
            p = q + 1;
        }
        if (self_closing) {
            root_done = depth == 0;
            continue;
        }
        check(depth < 64);
        if (wanted && class_ok && x->n_texts < sizeof(x->texts) / sizeof(x->texts[0])) {
            capturing = depth;
            cap_len = 0;
        }
        stack[depth] = name;
        stack_len[depth++] = n;
    }
    check(depth == 0 && root_done);
}

/* What the document must say of env in its title or heading. */
static void expect_text(const char *before, const char *s, const char *between, const char *s2,
                        const char *got)
{
    char a[LW_REPORT_FUNCTION_NAME_MAX * 2], b[LW_ENV_ID_MAX * 2], want[1024];
    oracle_clean(s, a, sizeof(a));
    oracle_clean(s2 ? s2 : "", b, sizeof(b));
    snprintf(want, sizeof(want), "%s%s%s%s", before, a, between, b);
    check(strcmp(got, want) == 0);
}

static char *render(const struct lw_report *r, const struct lw_report_options *opt,
                    enum lw_err (*write)(const struct lw_report *, const struct lw_report_options *,
                                         FILE *),
                    size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    check(out != NULL);
    check(write(r, opt, out) == LW_OK);
    check(fclose(out) == 0);
    return text;
}

static void write_all(const struct lw_report *r, size_t last)
{
    struct lw_report_options opt = {.last = last};
    size_t len, envs = lw_report_env_count(r);

    char *text = render(r, &opt, lw_report_write_text, &len);
    check_safe_bytes(text, len, false);
    free(text);

    char *csv = render(r, &opt, lw_report_write_csv, &len);
    check_csv(csv, len);
    free(csv);

    static struct xml x;
    char *svg = render(r, &opt, lw_report_write_svg, &len);
    check_safe_bytes(svg, len, true);
    x = (struct xml){.p = svg, .end = svg + len};
    check_xml(&x, "text", "title");
    check(x.n_texts == (envs < 64 ? envs : 64));
    for (size_t i = 0; i < x.n_texts; i++) {
        const struct lw_report_env *e = lw_report_env_at(r, i);
        /* an environment of interval records only is drawn over time */
        size_t intervals = 0;
        for (size_t k = 0; k < e->n_invocations; k++)
            intervals += e->invocations[k].kind == LW_REPORT_INTERVAL;
        bool over_time = e->n_invocations > 0 && intervals == e->n_invocations;
        expect_text(over_time ? "Memory over time: " : "Memory per invocation: ",
                    e->function_name[0] ? e->function_name : "(unknown function)", "", NULL,
                    x.texts[i]);
    }
    free(svg);

    char *html = render(r, &opt, lw_report_write_html, &len);
    check_safe_bytes(html, len, true);
    x = (struct xml){.p = html, .end = html + len};
    check_xml(&x, "h2", NULL);
    check(x.n_texts == (envs < 64 ? envs : 64));
    for (size_t i = 0; i < x.n_texts; i++) {
        const struct lw_report_env *e = lw_report_env_at(r, i);
        expect_text("", e->function_name[0] ? e->function_name : "(unknown function)",
                    " \xc2\xb7 environment ", e->env_id, x.texts[i]);
    }
    free(html);

    if (envs > 0) {
        opt.env_id = lw_report_env_at(r, 0)->env_id;
        check(lw_report_selected_count(r, &opt) <= 1);
        text = render(r, &opt, lw_report_write_text, &len);
        check_safe_bytes(text, len, false);
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that any read past the end is caught. */
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    struct counts c = {0};
    parse_lines(buf, size, &c);

    struct lw_report *r = lw_report_new();
    check(r != NULL);
    FILE *in = fmemopen(buf, size ? size : 1, "r");
    check(in != NULL);
    if (size > 0)
        check(lw_report_read(r, in) == LW_OK);
    fclose(in);
    check(lw_report_finish(r) == LW_OK);

    struct lw_report_stats st;
    lw_report_stats(r, &st);
    /* every log event in exactly one counter */
    check(st.lines == st.invocations + st.intervals + st.shutdowns + st.alerts + st.deaths +
                          st.skipped_text + st.skipped_bad_json + st.skipped_foreign +
                          st.skipped_invalid + st.skipped_too_long + st.framing);
    check_envs(r, &st);
    size_t envs = lw_report_env_count(r);
    size_t first_n = envs > 0 ? lw_report_env_at(r, 0)->n_invocations : 0;
    write_all(r, size > 0 ? data[0] % 4 : 0);
    if (st.framing > 0) {
        /* An export (a JSON document, a CSV file): its events span lines and depend on the
         * reader's state, so the line-by-line comparisons below do not apply. */
        lw_report_free(r);
        free(buf);
        return 0;
    }
    /* plain lines: the reader agrees with the line parser, line for line */
    check(st.lines == c.lines);
    check(st.invocations == c.kind[LW_REPORT_INVOCATION]);
    check(st.shutdowns == c.kind[LW_REPORT_SHUTDOWN]);
    check(st.alerts == c.kind[LW_REPORT_ALERT]);
    check(st.intervals == c.kind[LW_REPORT_INTERVAL]);
    check(st.deaths == c.kind[LW_REPORT_DEATH]);

    /* The same lines again: all duplicates, nothing new shown. */
    const char *p = buf, *end = buf + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        check(lw_report_add_line(r, p, (size_t)((nl ? nl : end) - p)) == LW_OK);
        p = nl ? nl + 1 : end;
    }
    check(lw_report_finish(r) == LW_OK);
    struct lw_report_stats st2;
    lw_report_stats(r, &st2);
    check(lw_report_env_count(r) == envs);
    check(envs == 0 || lw_report_env_at(r, 0)->n_invocations == first_n);
    check(st2.duplicates ==
          st.duplicates + st.invocations + st.intervals + st.shutdowns + st.alerts + st.deaths);
    check(st2.conflicts == st.conflicts);
    check_envs(r, &st2);

    lw_report_free(r);
    free(buf);
    return 0;
}
