/*
 * What the report's tests share (include after <cmocka.h> and <leakwatch/report.h>): reading
 * fixtures, a whole log read into a finished report, memory streams for the writers' output,
 * the command run on a fixed clock, the golden-file comparison and a small XML
 * well-formedness check. Static inline, so that each test file uses what it needs.
 */
#ifndef LEAKWATCH_TEST_REPORT_UTIL_H
#define LEAKWATCH_TEST_REPORT_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE(name) LW_FIXTURES_DIR "/report/" name

/* A whole log file read into a finished report. */
static inline struct lw_report *load(const char *path)
{
    struct lw_report *r = lw_report_new();
    assert_non_null(r);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(lw_report_read(r, f), LW_OK);
    fclose(f);
    assert_int_equal(lw_report_finish(r), LW_OK);
    return r;
}

static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* A stream holding text (tmpfile: fmemopen cannot hold an empty buffer everywhere). */
static inline FILE *text_stream(const char *text, size_t len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    rewind(f);
    return f;
}

static inline struct lw_report *load_text(const char *text)
{
    struct lw_report *r = lw_report_new();
    assert_non_null(r);
    FILE *f = text_stream(text, strlen(text));
    assert_int_equal(lw_report_read(r, f), LW_OK);
    fclose(f);
    assert_int_equal(lw_report_finish(r), LW_OK);
    return r;
}

struct membuf {
    char *data;
    size_t len;
    FILE *f;
};

static inline void mem_open(struct membuf *m)
{
    m->data = NULL;
    m->len = 0;
    m->f = open_memstream(&m->data, &m->len);
    assert_non_null(m->f);
}

static inline void mem_close(struct membuf *m)
{
    assert_int_equal(fclose(m->f), 0);
}

static inline size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* One real invocation line of small.log (the n-th, 1-based), without its newline. */
static inline char *nth_line_with(const char *path, const char *needle, int n)
{
    char *all = read_file(path, NULL);
    char *line = NULL;
    int seen = 0;
    for (char *p = all; p && *p;) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (memmem(p, l, needle, strlen(needle)) && ++seen == n) {
            line = strndup(p, l);
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(all);
    assert_non_null(line);
    return line;
}

struct run_result {
    int status;
    char *out;
    char *err;
};

static inline struct run_result run(const char *stdin_text, int argc, const char **argv)
{
    struct membuf out, err;
    mem_open(&out);
    mem_open(&err);
    const char *in_text = stdin_text ? stdin_text : "";
    FILE *in = text_stream(in_text, strlen(in_text));
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    assert_non_null(args);
    for (int i = 0; i < argc; i++)
        args[i] = strdup(argv[i]);
    struct run_result res;
    /* a fixed clock (2026-01-05T12:00:00Z) and a UTF-8 terminal: the output must not depend
     * on when or where the test runs */
    struct lw_report_context ctx = {
        .in = in, .out = out.f, .err = err.f, .now_ms = 1767614400000u, .utf8 = true};
    res.status = lw_report_command(&ctx, argc, args);
    for (int i = 0; i < argc; i++)
        free(args[i]);
    free(args);
    fclose(in);
    mem_close(&out);
    mem_close(&err);
    res.out = out.data;
    res.err = err.data;
    return res;
}

static inline void run_free(struct run_result *r)
{
    free(r->out);
    free(r->err);
}

/* What writer wrote of r under opt, NUL-terminated (free() it). */
static inline char *written(const struct lw_report *r, const struct lw_report_options *opt,
                            enum lw_err (*writer)(const struct lw_report *,
                                                  const struct lw_report_options *, FILE *))
{
    struct membuf m;
    mem_open(&m);
    assert_int_equal(writer(r, opt, m.f), LW_OK);
    mem_close(&m);
    return m.data;
}

static inline void check_golden(const char *log, const struct lw_report_options *opt, bool csv,
                                const char *expected_path)
{
    struct lw_report *r = load(log);
    struct membuf m;
    mem_open(&m);
    if (csv)
        assert_int_equal(lw_report_write_csv(r, opt, m.f), LW_OK);
    else
        assert_int_equal(lw_report_write_text(r, opt, m.f), LW_OK);
    mem_close(&m);
    char *expected = read_file(expected_path, NULL);
    if (strcmp(m.data, expected) != 0) {
        print_message("---- got\n%s---- expected (%s)\n%s", m.data, expected_path, expected);
        fail();
    }
    free(expected);
    free(m.data);
    lw_report_free(r);
}

/*
 * A small well-formedness check: every tag closes in order, attributes are quoted, '&' only
 * starts an entity, and nothing follows the root element. Returns the number of elements named
 * `count_name`, or -1 when the document is not well formed.
 */
static inline int xml_check(const char *doc, const char *count_name)
{
    const char *stack[64];
    size_t stack_len[64];
    int depth = 0, n = 0;
    bool root_closed = false;
    const char *p = doc;
    if (strncmp(p, "<?xml ", 6) == 0) {
        p = strstr(p, "?>");
        if (!p)
            return -1;
        p += 2;
    }
    while (*p) {
        if (*p == '&') {
            if (strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) &&
                strncmp(p, "&quot;", 6) && strncmp(p, "&apos;", 6))
                return -1;
            p++;
            continue;
        }
        if (*p == '>')
            return -1;
        if (*p != '<') {
            if (root_closed && *p != '\n' && *p != ' ')
                return -1;
            p++;
            continue;
        }
        if (root_closed)
            return -1;
        bool closing = p[1] == '/';
        const char *name = p + (closing ? 2 : 1);
        size_t len = strcspn(name, " />\n");
        if (len == 0)
            return -1;
        /* scan to the end of the tag, honouring quoted attribute values */
        const char *q = name + len;
        char quote = 0;
        while (*q && (quote || *q != '>')) {
            if (*q == '<' && !quote)
                return -1;
            if (quote && *q == quote)
                quote = 0;
            else if (!quote && (*q == '"' || *q == '\''))
                quote = *q;
            q++;
        }
        if (!*q)
            return -1;
        bool self_closing = q[-1] == '/';
        if (closing) {
            if (depth == 0 || stack_len[depth - 1] != len ||
                strncmp(stack[depth - 1], name, len) != 0)
                return -1;
            depth--;
            if (depth == 0)
                root_closed = true;
        } else {
            if (strlen(count_name) == len && strncmp(name, count_name, len) == 0)
                n++;
            if (!self_closing) {
                if (depth == 64)
                    return -1;
                stack[depth] = name;
                stack_len[depth++] = len;
            } else if (depth == 0) {
                root_closed = true;
            }
        }
        p = q + 1;
    }
    return depth == 0 && root_closed ? n : -1;
}

#endif
