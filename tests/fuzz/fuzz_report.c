/*
 * libFuzzer target for the report reader: the input is a log file (any bytes, any line
 * endings). Every line goes through lw_report_parse_line(), the whole file through
 * lw_report_read() and lw_report_finish(), and the report through the three writers. Besides
 * the sanitizers, the target checks report.h's promises and aborts when one is broken:
 *   - a parsed line holds NUL-terminated strings, known metric and gap bits, finite values;
 *   - trailing blanks and "\r" change nothing;
 *   - every line read is counted exactly once, and the reader keeps what the line parser
 *     accepts, kind by kind;
 *   - after finish, each environment has its invocations once each, by Sequence, its alerts by
 *     Sequence, and every kept line is either shown or counted as a duplicate;
 *   - reading the whole file a second time (at-least-once delivery) changes nothing shown;
 *   - the writers succeed.
 */
/* fuzz-seeds: tests/fixtures/report */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/report.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STR_OK(s) check(strnlen((s), sizeof(s)) < sizeof(s))

static void check_line(const struct lw_report_line *l)
{
    check(l->kind == LW_REPORT_INVOCATION || l->kind == LW_REPORT_SHUTDOWN ||
          l->kind == LW_REPORT_ALERT);
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
    check(l->have_mask >> LW_M_COUNT == 0);
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
    uint64_t lines, kind[4];
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
    uint64_t shown = 0;
    for (size_t i = 0; i < lw_report_env_count(r); i++) {
        const struct lw_report_env *e = lw_report_env_at(r, i);
        check(e != NULL && e->env_id != NULL && e->function_name != NULL);
        for (size_t k = 0; k < e->n_invocations; k++) {
            const struct lw_report_entry *x = &e->invocations[k];
            check(x->kind == LW_REPORT_INVOCATION && strcmp(x->env_id, e->env_id) == 0);
            check(k == 0 || x->seq > e->invocations[k - 1].seq);
        }
        for (size_t k = 0; k < e->n_alerts; k++) {
            const struct lw_report_entry *x = &e->alerts[k];
            check(x->kind == LW_REPORT_ALERT && strcmp(x->env_id, e->env_id) == 0);
            check(k == 0 || x->seq >= e->alerts[k - 1].seq);
        }
        check(e->shutdown == NULL || e->shutdown->kind == LW_REPORT_SHUTDOWN);
        shown += e->n_invocations + e->n_alerts + (e->shutdown != NULL);
    }
    check(shown + st->duplicates == st->invocations + st->shutdowns + st->alerts);
    check(st->duplicates_differ <= st->duplicates);
}

static void write_all(const struct lw_report *r, size_t last)
{
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = open_memstream(&text, &text_len);
    check(out != NULL);
    struct lw_report_options opt = {.last = last};
    check(lw_report_write_text(r, &opt, out) == LW_OK);
    check(lw_report_write_csv(r, &opt, out) == LW_OK);
    check(lw_report_write_svg(r, &opt, out) == LW_OK);
    if (lw_report_env_count(r) > 0) {
        opt.env_id = lw_report_env_at(r, 0)->env_id;
        check(lw_report_selected_count(r, &opt) <= 1);
        check(lw_report_write_text(r, &opt, out) == LW_OK);
    }
    check(fclose(out) == 0);
    free(text);
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
    check(st.lines == st.invocations + st.shutdowns + st.alerts + st.skipped_text +
                          st.skipped_bad_json + st.skipped_foreign + st.skipped_invalid +
                          st.skipped_too_long + st.framing);
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
    check(st2.duplicates == st.duplicates + st.invocations + st.shutdowns + st.alerts);
    check_envs(r, &st2);

    lw_report_free(r);
    free(buf);
    return 0;
}
