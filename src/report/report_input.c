/*
 * `leakwatch report`: the input's framing, from the bytes of a file to log events.
 *
 * Input is messy by nature: CloudWatch exports prefix every line, Lambda interleaves its own
 * START/END/REPORT lines and the function's output, lines get cut at the event size limit, and
 * exports wrap the lines in JSON documents or CSV records. This module reads line by line with
 * bounded memory (it never holds a whole document), recognises the export shapes (a
 * pretty-printed or compacted JSON document, a Logs Insights CSV export) and hands each log
 * event to the line parser; anything that is not one of leakwatch's lines is counted by kind,
 * and leakwatch's own lines that cannot be read are noted with their place. Pure except for
 * the FILE* that lw_report_read() is given.
 */
#include "report_internal.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

void lw_report_input_init(struct lw_report_input *in)
{
    memset(in, 0, sizeof(*in));
    in->source = "";
    in->csv_column = -1;
}

void lw_report_input_clean_up(struct lw_report_input *in)
{
    free(in->line_buf);
    free(in->csv_buf);
    free(in->field_buf);
    memset(in, 0, sizeof(*in));
}

static void note_malformed(struct lw_report *r, uint64_t line_no, const char *why)
{
    r->stats.malformed++;
    if (r->in.n_malformed < LW_REPORT_MALFORMED_KEPT)
        r->in.malformed[r->in.n_malformed++] =
            (struct lw_report_malformed){.source = r->in.source, .line_no = line_no, .why = why};
}

/* One log event's text: kept, or counted by why not. */
static enum lw_err add_event(struct lw_report *r, const char *text, size_t len, uint64_t line_no)
{
    enum lw_report_skip why = LW_REPORT_SKIP_NONE;
    const char *detail = NULL;
    r->stats.lines++;
    enum lw_err err = lw_report_parse_detail(text, len, &r->in.parsed, &why, &detail);
    if (err == LW_OK)
        return lw_report_add(r, &r->in.parsed);
    if (err != LW_ERR_INVALID)
        return err;
    switch (why) {
    case LW_REPORT_SKIP_TEXT:
        r->stats.skipped_text++;
        break;
    case LW_REPORT_SKIP_BAD_JSON:
        r->stats.skipped_bad_json++;
        if (lw_report_names_leakwatch(text, len))
            note_malformed(r, line_no, "cut or invalid JSON");
        break;
    case LW_REPORT_SKIP_FOREIGN:
        r->stats.skipped_foreign++;
        break;
    case LW_REPORT_SKIP_INVALID:
    case LW_REPORT_SKIP_NONE:
        r->stats.skipped_invalid++;
        note_malformed(r, line_no, detail ? detail : "invalid");
        break;
    }
    return LW_OK;
}

/* Deeper nesting than any export has: past it, brackets are no longer counted. */
#define JSON_DEPTH_MAX 1000

static void framing(struct lw_report *r)
{
    r->stats.lines++;
    r->stats.framing++;
}

/* (text, len) without leading and trailing white space. */
static void trim(const char **text, size_t *len)
{
    while (*len > 0 && lw_report_is_space(**text)) {
        (*text)++;
        (*len)--;
    }
    while (*len > 0 && lw_report_is_space((*text)[*len - 1]))
        (*len)--;
}

/*
 * A JSON document held on one line: an array of events (a Logs Insights JSON export) or an
 * object with an "events" array (one page of filter-log-events, compacted). Each event's
 * "message" or "@message" string is read as a log event. Returns false, and adds nothing,
 * when the text is not such a document.
 */
static bool add_document(struct lw_report *r, const char *text, size_t len, enum lw_err *err)
{
    *err = LW_OK;
    if (len == 0 || (text[0] != '[' && !memmem(text, len, "\"events\"", 8)))
        return false;
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *events =
        cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "events");
    if (!cJSON_IsArray(events)) {
        cJSON_Delete(root);
        return false;
    }
    bool any = false;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, events)
    {
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "message"));
        if (!msg)
            msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "@message"));
        if (!msg)
            continue;
        any = true;
        *err = add_event(r, msg, strlen(msg), r->in.line_no);
        if (*err != LW_OK)
            break;
    }
    cJSON_Delete(root);
    if (!any)
        framing(r);
    return true;
}

/*
 * A member line of a pretty-printed JSON export ("message": "...", with or without the
 * trailing comma) whose key is "message" or "@message": the string's value, decoded, as a log
 * event. Returns false when the line is not such a member.
 */
static bool add_message_member(struct lw_report *r, const char *t, size_t n, enum lw_err *err)
{
    *err = LW_OK;
    size_t key;
    if (n > 10 && memcmp(t, "\"message\"", 9) == 0)
        key = 9;
    else if (n > 11 && memcmp(t, "\"@message\"", 10) == 0)
        key = 10;
    else
        return false;
    const char *v = t + key;
    size_t vn = n - key;
    trim(&v, &vn);
    if (vn == 0 || v[0] != ':')
        return false;
    v++;
    vn--;
    if (vn > 0 && v[vn - 1] == ',')
        vn--;
    trim(&v, &vn);
    cJSON *str = cJSON_ParseWithLength(v, vn);
    const char *msg = cJSON_GetStringValue(str);
    if (!msg) {
        cJSON_Delete(str);
        return false;
    }
    *err = add_event(r, msg, strlen(msg), r->in.line_no);
    cJSON_Delete(str);
    return true;
}

/* Whether a quoted CSV text has an odd number of quotes: a field is still open. */
static bool csv_quote_open(const char *s, size_t n, bool open)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"')
            open = !open;
    return open;
}

/*
 * Field `col` of one CSV record (RFC 4180: fields may be quoted, "" is a quote inside a quoted
 * field) into r->in.field_buf. Returns its length, or -1 when the record has fewer fields.
 */
static long csv_field(struct lw_report *r, const char *s, size_t n, long col)
{
    long at = 0;
    size_t i = 0;
    for (;;) {
        size_t out = 0;
        bool quoted = i < n && s[i] == '"';
        if (quoted)
            i++;
        while (i < n) {
            char c = s[i];
            if (quoted && c == '"') {
                if (i + 1 < n && s[i + 1] == '"') {
                    i++;
                } else {
                    quoted = false;
                    i++;
                    continue;
                }
            } else if (!quoted && c == ',') {
                break;
            }
            if (at == col)
                r->in.field_buf[out++] = c; /* field_buf holds the whole record: no overflow */
            i++;
        }
        if (at == col)
            return (long)out;
        if (i >= n)
            return -1;
        i++; /* the comma */
        at++;
    }
}

/* The @message column of a CSV header line naming one; -1 when the line is not such a header. */
static long csv_header_column(const char *t, size_t n)
{
    if (n == 0 || (t[0] != '@' && !(n > 1 && t[0] == '"' && t[1] == '@')))
        return -1;
    long col = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && t[j] != ',')
            j++;
        const char *f = t + i;
        size_t fl = j - i;
        if (fl >= 2 && f[0] == '"' && f[fl - 1] == '"') {
            f++;
            fl -= 2;
        }
        if (fl == 8 && memcmp(f, "@message", 8) == 0)
            return col;
        col++;
        i = j + 1;
    }
    return -1;
}

static bool grow_to(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    char *b = realloc(*buf, c);
    if (!b)
        return false;
    *buf = b;
    *cap = c;
    return true;
}

/* The CSV record in csv_buf is complete: its @message field as a log event. */
static enum lw_err csv_record_done(struct lw_report *r)
{
    r->in.csv_open = false;
    if (!grow_to(&r->in.field_buf, &r->in.field_cap, r->in.csv_len + 1))
        return LW_ERR_NOMEM;
    long n = csv_field(r, r->in.csv_buf, r->in.csv_len, r->in.csv_column);
    r->in.csv_len = 0;
    if (n < 0) {
        r->stats.lines++;
        r->stats.skipped_text++;
        return LW_OK;
    }
    return add_event(r, r->in.field_buf, (size_t)n, r->in.csv_line_no);
}

/* A CSV record cut by the end of the input: its quoted field never closed. */
void lw_report_input_end(struct lw_report *r)
{
    if (!r->in.csv_open)
        return;
    r->stats.lines++;
    r->stats.skipped_bad_json++;
    if (memmem(r->in.csv_buf, r->in.csv_len, "Leakwatch", 9))
        note_malformed(r, r->in.csv_line_no, "CSV record cut at the end of the input");
    r->in.csv_open = false;
    r->in.csv_len = 0;
}

static enum lw_err csv_line(struct lw_report *r, const char *line, size_t len)
{
    bool continuing = r->in.csv_open;
    size_t need = r->in.csv_len + (continuing ? 1 : 0) + len;
    if (need > LW_REPORT_LINE_MAX_BYTES) {
        /* a record that never closes its quote must not hold the whole input */
        if (continuing)
            framing(r);
        r->stats.lines++;
        r->stats.skipped_too_long++;
        r->in.csv_open = false;
        r->in.csv_len = 0;
        return LW_OK;
    }
    if (!grow_to(&r->in.csv_buf, &r->in.csv_cap, need))
        return LW_ERR_NOMEM;
    if (continuing) {
        r->in.csv_buf[r->in.csv_len++] = '\n';
        framing(r); /* the record is counted once, as its first line */
    } else {
        r->in.csv_line_no = r->in.line_no;
    }
    memcpy(r->in.csv_buf + r->in.csv_len, line, len);
    r->in.csv_len += len;
    r->in.csv_open = csv_quote_open(line, len, continuing);
    if (r->in.csv_open)
        return LW_OK;
    return csv_record_done(r);
}

enum lw_err lw_report_add_line(struct lw_report *r, const char *line, size_t len)
{
    r->in.line_no++;
    if (r->in.csv_open)
        return csv_line(r, line, len);

    const char *t = line;
    size_t n = len;
    if (r->in.line_no == 1 && n >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0) {
        t += 3; /* a byte order mark, as spreadsheet-minded exporters write */
        n -= 3;
    }
    trim(&t, &n);

    /* a pretty-printed JSON export: the document's own lines, and its "message" members */
    if (r->in.json_depth == 0 && n == 1 && (t[0] == '{' || t[0] == '[')) {
        r->in.json_depth = 1;
        framing(r);
        return LW_OK;
    }
    if (r->in.json_depth > 0 && !(n > 1 && t[0] == '{' && t[1] == '"')) {
        /* (a line that is a whole object is never part of a pretty-printed document: it is a
         * log line after a stray "{" line, read as one) */
        enum lw_err err;
        if (add_message_member(r, t, n, &err))
            return err;
        size_t m = n;
        if (m > 0 && t[m - 1] == ',')
            m--;
        if (m > 0 && (t[m - 1] == '{' || t[m - 1] == '[') && r->in.json_depth < JSON_DEPTH_MAX)
            r->in.json_depth++;
        else if (m == 1 && (t[0] == '}' || t[0] == ']'))
            r->in.json_depth--;
        framing(r);
        return LW_OK;
    }

    /* a Logs Insights CSV export: its header, then one record per line or more */
    if (n > 0 && t[0] != '{') {
        long col = csv_header_column(t, n);
        if (col >= 0) {
            r->in.csv_column = col;
            framing(r);
            return LW_OK;
        }
        if (r->in.csv_column >= 0)
            return csv_line(r, line, len);
    }

    enum lw_err err;
    if (add_document(r, t, n, &err))
        return err;
    return add_event(r, line, len, r->in.line_no);
}

enum lw_err lw_report_set_source(struct lw_report *r, const char *name)
{
    lw_report_input_end(r);
    const char *s = lw_report_intern(r, name ? name : "");
    if (!s)
        return LW_ERR_NOMEM;
    r->in.source = s;
    r->in.line_no = 0;
    r->in.json_depth = 0;
    r->in.csv_column = -1;
    return LW_OK;
}

size_t lw_report_malformed_count(const struct lw_report *r)
{
    return r->in.n_malformed;
}

const struct lw_report_malformed *lw_report_malformed_at(const struct lw_report *r, size_t i)
{
    return i < r->in.n_malformed ? &r->in.malformed[i] : NULL;
}

enum lw_err lw_report_read(struct lw_report *r, FILE *in)
{
    size_t len = 0;
    bool too_long = false;
    if (!r->in.line_buf) {
        r->in.line_cap = 64 * 1024;
        r->in.line_buf = malloc(r->in.line_cap);
        if (!r->in.line_buf)
            return LW_ERR_NOMEM;
    }
    for (;;) {
        int c = getc_unlocked(in);
        if (c == EOF || c == '\n') {
            if (too_long) {
                r->stats.lines++;
                r->stats.skipped_too_long++;
            } else if (len > 0 || c == '\n') {
                enum lw_err err = lw_report_add_line(r, r->in.line_buf, len);
                if (err != LW_OK)
                    return err;
            }
            if (c == EOF) {
                lw_report_input_end(r); /* the end of the stream ends an open record */
                break;
            }
            len = 0;
            too_long = false;
            continue;
        }
        if (too_long)
            continue; /* discard the rest of an over-long line: nothing more is held */
        if (len == LW_REPORT_LINE_MAX_BYTES) {
            too_long = true;
            continue;
        }
        if (len == r->in.line_cap) {
            size_t cap = r->in.line_cap * 2;
            if (cap > LW_REPORT_LINE_MAX_BYTES)
                cap = LW_REPORT_LINE_MAX_BYTES;
            char *buf = realloc(r->in.line_buf, cap);
            if (!buf)
                return LW_ERR_NOMEM;
            r->in.line_buf = buf;
            r->in.line_cap = cap;
        }
        r->in.line_buf[len++] = (char)c;
    }
    return ferror(in) ? LW_ERR_IO : LW_OK;
}
