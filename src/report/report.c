/*
 * `leakwatch report`: leakwatch's log lines back into a per-invocation table, a CSV and a chart.
 *
 * Input is messy by nature: CloudWatch exports prefix every line, Lambda interleaves its own
 * START/END/REPORT lines and the function's output, lines get cut at the event size limit, and
 * EMF delivery is at-least-once. So each line is parsed on its own from its first '{', anything
 * that is not leakwatch's is counted by kind and skipped, and repeated lines are removed after
 * sorting. Strings are interned (environment ids, function names, verdict reasons repeat on
 * every line) so that a day of logs stays a few hundred bytes per invocation.
 */
#include "report_internal.h"

#include <leakwatch/json_field.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

_Static_assert(LW_M_COUNT <= 64, "have_mask holds one bit per metric");

const char *const lw_report_metric_names[LW_M_COUNT] = {
#define LW_REPORT_METRIC_NAME(id, emf, emf_unit, otlp, ucum) [LW_M_##id] = emf,
    LW_METRICS(LW_REPORT_METRIC_NAME)
#undef LW_REPORT_METRIC_NAME
};

/* ---------------------------------------------------------------------------------------- */
static uint32_t parse_incomplete(const cJSON *obj)
{
    uint32_t gaps = 0;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, "Incomplete");
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const char *s = cJSON_GetStringValue(it);
        if (!s)
            continue;
        gaps |= lw_record_gap_from_name(s);
    }
    return gaps;
}

static void parse_metrics(const cJSON *obj, struct lw_report_line *out)
{
    for (int i = 0; i < LW_M_COUNT; i++) {
        double v;
        if (lw_json_number(obj, lw_report_metric_names[i], &v)) {
            out->value[i] = v;
            out->have_mask |= UINT64_C(1) << i;
        }
    }
}

/*
 * Fills out from a leakwatch object of the given kind. Returns NULL, or what is wrong when the
 * required fields are bad.
 */
static const char *parse_leakwatch(const cJSON *root, enum lw_report_kind kind,
                                   struct lw_report_line *out)
{
    out->kind = kind;
    lw_json_string(root, "EnvironmentId", out->env_id, sizeof(out->env_id));
    lw_json_string(root, "FunctionName", out->function_name, sizeof(out->function_name));
    if (out->env_id[0] == '\0')
        return "no EnvironmentId";
    if (kind != LW_REPORT_SHUTDOWN && lw_json_count(root, "Sequence", &out->seq) != 1)
        return "no valid Sequence";
    const cJSON *aws = cJSON_GetObjectItemCaseSensitive(root, "_aws");
    if (lw_json_count(aws, "Timestamp", &out->timestamp_ms) < 0)
        out->timestamp_ms = 0;

    switch (kind) {
    case LW_REPORT_INVOCATION:
        lw_json_string(root, "FunctionVersion", out->function_version,
                       sizeof(out->function_version));
        lw_json_string(root, "RequestId", out->request_id, sizeof(out->request_id));
        lw_json_string(root, "Status", out->status, sizeof(out->status));
        lw_json_string(root, "ErrorType", out->error_type, sizeof(out->error_type));
        lw_json_string(root, "PeakMethod", out->peak_method, sizeof(out->peak_method));
        lw_json_string(root, "Verdict", out->verdict, sizeof(out->verdict));
        lw_json_string(root, "VerdictReason", out->reason, sizeof(out->reason));
        lw_json_string(root, "Culprit", out->culprit, sizeof(out->culprit));
        out->cold_start = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "ColdStart"));
        out->incomplete = parse_incomplete(root);
        if (lw_json_count(root, "StartTimeMs", &out->start_time_ms) < 0)
            out->start_time_ms = 0;
        if (lw_json_count(root, "EndTimeMs", &out->end_time_ms) < 0)
            out->end_time_ms = 0;
        parse_metrics(root, out);
        break;
    case LW_REPORT_SHUTDOWN:
        lw_json_string(root, "FunctionVersion", out->function_version,
                       sizeof(out->function_version));
        lw_json_string(root, "ShutdownReason", out->reason, sizeof(out->reason));
        out->have_lifetime =
            lw_json_number(root, "EnvironmentLifetimeSeconds", &out->lifetime_seconds);
        out->have_invocations =
            lw_json_count(root, "EnvironmentInvocations", &out->invocations) == 1;
        break;
    case LW_REPORT_ALERT:
        lw_json_string(root, "From", out->from, sizeof(out->from));
        lw_json_string(root, "To", out->verdict, sizeof(out->verdict));
        lw_json_string(root, "Reason", out->reason, sizeof(out->reason));
        lw_json_string(root, "Culprit", out->culprit, sizeof(out->culprit));
        if (lw_json_number(root, "GrowthPerInvocationBytes",
                           &out->value[LW_M_GROWTH_PER_INVOCATION]))
            out->have_mask |= UINT64_C(1) << LW_M_GROWTH_PER_INVOCATION;
        if (lw_json_number(root, "ProjectedMinutesToOom", &out->value[LW_M_MINUTES_TO_OOM]))
            out->have_mask |= UINT64_C(1) << LW_M_MINUTES_TO_OOM;
        break;
    }
    return NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static enum lw_err parse_at(const char *line, size_t len, struct lw_report_line *out,
                            enum lw_report_skip *why, const char **detail, int depth)
{
    const char *brace = memchr(line, '{', len);
    if (!brace) {
        *why = LW_REPORT_SKIP_TEXT;
        return LW_ERR_INVALID;
    }
    size_t n = len - (size_t)(brace - line);
    while (n > 0 && is_space(brace[n - 1]))
        n--;
    if (memchr(brace, '\0', n)) {
        /* a NUL byte is never part of a JSON text; cJSON would stop reading strings there */
        *why = LW_REPORT_SKIP_BAD_JSON;
        return LW_ERR_INVALID;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(brace, n, &end, 0);
    if (!root) {
        /* cJSON reports an allocation failure and a syntax error the same way; a syntax error
         * is by far the likelier (truncated lines), and the caller's next malloc would tell. */
        *why = LW_REPORT_SKIP_BAD_JSON;
        return LW_ERR_INVALID;
    }
    enum lw_err err = LW_ERR_INVALID;
    if (!end || end != brace + n || !cJSON_IsObject(root)) {
        /* trailing text after the object: not one JSON document */
        *why = LW_REPORT_SKIP_BAD_JSON;
        goto out;
    }
    const char *record =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "LeakwatchRecord"));
    const char *alert =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "LeakwatchAlert"));
    enum lw_report_kind kind = 0;
    if (record && strcmp(record, "invocation") == 0)
        kind = LW_REPORT_INVOCATION;
    else if (record && strcmp(record, "shutdown") == 0)
        kind = LW_REPORT_SHUTDOWN;
    else if (!record && alert && strcmp(alert, "verdict-change") == 0)
        kind = LW_REPORT_ALERT;

    if (kind == 0) {
        *why = LW_REPORT_SKIP_FOREIGN;
        if (depth == 0 && !record && !alert) {
            /* A wrapper that carries the original line as a string: the "message" of a
             * CloudWatch Logs JSON export, the "record" of a Telemetry API "extension" event. */
            const char *inner =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "message"));
            if (!inner)
                inner = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "record"));
            if (inner) {
                err = parse_at(inner, strlen(inner), out, why, detail, depth + 1);
                if (err == LW_ERR_INVALID && *why != LW_REPORT_SKIP_INVALID)
                    *why = LW_REPORT_SKIP_FOREIGN;
            }
        }
        goto out;
    }
    const char *bad = parse_leakwatch(root, kind, out);
    if (bad) {
        *why = LW_REPORT_SKIP_INVALID;
        *detail = bad;
        goto out;
    }
    *why = LW_REPORT_SKIP_NONE;
    err = LW_OK;
out:
    cJSON_Delete(root);
    return err;
}

enum lw_err lw_report_parse_line(const char *line, size_t len, struct lw_report_line *out,
                                 enum lw_report_skip *why)
{
    memset(out, 0, sizeof(*out));
    const char *detail = NULL;
    return parse_at(line, len, out, why, &detail, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* the report: interned strings, entries, environments                                        */

struct vec {
    struct lw_report_entry *items;
    size_t n;
    size_t cap;
};

struct lw_report {
    /* open-addressing string set; each string is its own allocation, so pointers are stable */
    char **strings;
    size_t n_strings;
    size_t strings_cap; /* a power of two */
    struct vec inv, shut, alert;
    struct lw_report_env *envs;
    size_t n_envs;
    struct lw_report_stats stats;
    uint64_t arrivals;
    char *line_buf; /* lw_report_read()'s line buffer, grown up to the line cap */
    size_t line_cap;
    struct lw_report_line parsed; /* lw_report_add_line()'s scratch: ~1.5 KiB, off the stack */

    /* the input being read: line numbers and the state of an export document */
    const char *source; /* interned; "" until lw_report_set_source() */
    uint64_t line_no;
    int json_depth;  /* > 0 inside a pretty-printed JSON export document */
    long csv_column; /* the @message column of a CSV export's header; -1: not in CSV */
    char *csv_buf;   /* a CSV record being read, possibly over several lines */
    size_t csv_len, csv_cap;
    bool csv_open;        /* csv_buf holds a record whose quoted field is still open */
    uint64_t csv_line_no; /* the line the open record started on */
    char *field_buf;      /* the unquoted @message field */
    size_t field_cap;
    struct lw_report_malformed malformed[LW_REPORT_MALFORMED_KEPT];
    size_t n_malformed;
};

struct lw_report *lw_report_new(void)
{
    struct lw_report *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->strings_cap = 1024;
    r->strings = calloc(r->strings_cap, sizeof(*r->strings));
    if (!r->strings) {
        free(r);
        return NULL;
    }
    r->source = "";
    r->csv_column = -1;
    return r;
}

void lw_report_free(struct lw_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->strings_cap; i++)
        free(r->strings[i]);
    free(r->strings);
    free(r->inv.items);
    free(r->shut.items);
    free(r->alert.items);
    free(r->envs);
    free(r->line_buf);
    free(r->csv_buf);
    free(r->field_buf);
    free(r);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h;
}

static bool strings_grow(struct lw_report *r)
{
    size_t cap = r->strings_cap * 2;
    char **t = calloc(cap, sizeof(*t));
    if (!t)
        return false;
    for (size_t i = 0; i < r->strings_cap; i++) {
        char *s = r->strings[i];
        if (!s)
            continue;
        size_t j = (size_t)hash_str(s) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = s;
    }
    free(r->strings);
    r->strings = t;
    r->strings_cap = cap;
    return true;
}

/* The report's copy of s: equal strings share one pointer. NULL when out of memory. */
static const char *intern(struct lw_report *r, const char *s)
{
    if ((r->n_strings + 1) * 2 > r->strings_cap && !strings_grow(r))
        return NULL;
    size_t mask = r->strings_cap - 1;
    size_t j = (size_t)hash_str(s) & mask;
    while (r->strings[j]) {
        if (strcmp(r->strings[j], s) == 0)
            return r->strings[j];
        j = (j + 1) & mask;
    }
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, n + 1);
    r->strings[j] = copy;
    r->n_strings++;
    return copy;
}

static struct lw_report_entry *vec_push(struct vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        struct lw_report_entry *items = realloc(v->items, cap * sizeof(*items));
        if (!items)
            return NULL;
        v->items = items;
        v->cap = cap;
    }
    return &v->items[v->n++];
}

bool lw_report_entry_has(const struct lw_report_entry *e, enum lw_metric_id id)
{
    return (unsigned)id < LW_M_COUNT && (e->have_mask & (UINT64_C(1) << id)) != 0;
}

enum lw_err lw_report_add(struct lw_report *r, const struct lw_report_line *line)
{
    struct vec *v;
    uint64_t *kept;
    switch (line->kind) {
    case LW_REPORT_INVOCATION:
        v = &r->inv;
        kept = &r->stats.invocations;
        break;
    case LW_REPORT_SHUTDOWN:
        v = &r->shut;
        kept = &r->stats.shutdowns;
        break;
    case LW_REPORT_ALERT:
        v = &r->alert;
        kept = &r->stats.alerts;
        break;
    default:
        return LW_ERR_INVALID;
    }
    if (v->n >= LW_REPORT_MAX_ENTRIES) {
        r->stats.dropped_over_cap++;
        return LW_OK;
    }
    struct lw_report_entry e = {
        .kind = line->kind,
        .env_id = intern(r, line->env_id),
        .function_name = intern(r, line->function_name),
        .function_version = intern(r, line->function_version),
        .request_id = intern(r, line->request_id),
        .status = intern(r, line->status),
        .error_type = intern(r, line->error_type),
        .peak_method = intern(r, line->peak_method),
        .verdict = intern(r, line->verdict),
        .from = intern(r, line->from),
        .reason = intern(r, line->reason),
        .culprit = intern(r, line->culprit),
        .seq = line->seq,
        .timestamp_ms = line->timestamp_ms,
        .start_time_ms = line->start_time_ms,
        .end_time_ms = line->end_time_ms,
        .invocations = line->invocations,
        .arrival = r->arrivals++,
        .have_mask = line->have_mask,
        .lifetime_seconds = line->lifetime_seconds,
        .incomplete = line->incomplete,
        .cold_start = line->cold_start,
        .have_lifetime = line->have_lifetime,
        .have_invocations = line->have_invocations,
    };
    memcpy(e.value, line->value, sizeof(e.value));
    if (!e.env_id || !e.function_name || !e.function_version || !e.request_id || !e.status ||
        !e.error_type || !e.peak_method || !e.verdict || !e.from || !e.reason || !e.culprit)
        return LW_ERR_NOMEM;
    struct lw_report_entry *slot = vec_push(v);
    if (!slot)
        return LW_ERR_NOMEM;
    *slot = e;
    (*kept)++;
    return LW_OK;
}

static void note_malformed(struct lw_report *r, uint64_t line_no, const char *why)
{
    r->stats.malformed++;
    if (r->n_malformed < LW_REPORT_MALFORMED_KEPT)
        r->malformed[r->n_malformed++] =
            (struct lw_report_malformed){.source = r->source, .line_no = line_no, .why = why};
}

/*
 * Whether text that is not valid JSON was one of leakwatch's lines: a cut EMF line still has
 * its "Namespace":"Leakwatch" near the start, an alert its "LeakwatchAlert". Lines that merely
 * mention leakwatch (its own log messages quoting a telemetry batch) are not.
 */
static bool names_leakwatch(const char *text, size_t len)
{
    const char *brace = memchr(text, '{', len);
    if (!brace)
        return false;
    size_t n = len - (size_t)(brace - text);
    static const char emf[] = "{\"_aws\":";
    static const char ns[] = "\"Namespace\":\"Leakwatch\"";
    static const char rec[] = "\"LeakwatchRecord\":";
    static const char alert[] = "\"LeakwatchAlert\":";
    if (n >= sizeof(emf) - 1 && memcmp(brace, emf, sizeof(emf) - 1) == 0 &&
        memmem(brace, n, ns, sizeof(ns) - 1))
        return true;
    return memmem(brace, n, rec, sizeof(rec) - 1) || memmem(brace, n, alert, sizeof(alert) - 1);
}

/* One log event's text: kept, or counted by why not. */
static enum lw_err add_event(struct lw_report *r, const char *text, size_t len, uint64_t line_no)
{
    enum lw_report_skip why = LW_REPORT_SKIP_NONE;
    const char *detail = NULL;
    r->stats.lines++;
    memset(&r->parsed, 0, sizeof(r->parsed));
    enum lw_err err = parse_at(text, len, &r->parsed, &why, &detail, 0);
    if (err == LW_OK)
        return lw_report_add(r, &r->parsed);
    if (err != LW_ERR_INVALID)
        return err;
    switch (why) {
    case LW_REPORT_SKIP_TEXT:
        r->stats.skipped_text++;
        break;
    case LW_REPORT_SKIP_BAD_JSON:
        r->stats.skipped_bad_json++;
        if (names_leakwatch(text, len))
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
    while (*len > 0 && is_space(**text)) {
        (*text)++;
        (*len)--;
    }
    while (*len > 0 && is_space((*text)[*len - 1]))
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
        *err = add_event(r, msg, strlen(msg), r->line_no);
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
    *err = add_event(r, msg, strlen(msg), r->line_no);
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
 * field) into r->field_buf. Returns its length, or -1 when the record has fewer fields.
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
                r->field_buf[out++] = c; /* field_buf holds the whole record: no overflow */
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
    r->csv_open = false;
    if (!grow_to(&r->field_buf, &r->field_cap, r->csv_len + 1))
        return LW_ERR_NOMEM;
    long n = csv_field(r, r->csv_buf, r->csv_len, r->csv_column);
    r->csv_len = 0;
    if (n < 0) {
        r->stats.lines++;
        r->stats.skipped_text++;
        return LW_OK;
    }
    return add_event(r, r->field_buf, (size_t)n, r->csv_line_no);
}

/* A CSV record cut by the end of the input: its quoted field never closed. */
static void csv_abandon(struct lw_report *r)
{
    if (!r->csv_open)
        return;
    r->stats.lines++;
    r->stats.skipped_bad_json++;
    if (memmem(r->csv_buf, r->csv_len, "Leakwatch", 9))
        note_malformed(r, r->csv_line_no, "CSV record cut at the end of the input");
    r->csv_open = false;
    r->csv_len = 0;
}

static enum lw_err csv_line(struct lw_report *r, const char *line, size_t len)
{
    bool continuing = r->csv_open;
    size_t need = r->csv_len + (continuing ? 1 : 0) + len;
    if (need > LW_REPORT_LINE_MAX_BYTES) {
        /* a record that never closes its quote must not hold the whole input */
        if (continuing)
            framing(r);
        r->stats.lines++;
        r->stats.skipped_too_long++;
        r->csv_open = false;
        r->csv_len = 0;
        return LW_OK;
    }
    if (!grow_to(&r->csv_buf, &r->csv_cap, need))
        return LW_ERR_NOMEM;
    if (continuing) {
        r->csv_buf[r->csv_len++] = '\n';
        framing(r); /* the record is counted once, as its first line */
    } else {
        r->csv_line_no = r->line_no;
    }
    memcpy(r->csv_buf + r->csv_len, line, len);
    r->csv_len += len;
    r->csv_open = csv_quote_open(line, len, continuing);
    if (r->csv_open)
        return LW_OK;
    return csv_record_done(r);
}

enum lw_err lw_report_add_line(struct lw_report *r, const char *line, size_t len)
{
    r->line_no++;
    if (r->csv_open)
        return csv_line(r, line, len);

    const char *t = line;
    size_t n = len;
    if (r->line_no == 1 && n >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0) {
        t += 3; /* a byte order mark, as spreadsheet-minded exporters write */
        n -= 3;
    }
    trim(&t, &n);

    /* a pretty-printed JSON export: the document's own lines, and its "message" members */
    if (r->json_depth == 0 && n == 1 && (t[0] == '{' || t[0] == '[')) {
        r->json_depth = 1;
        framing(r);
        return LW_OK;
    }
    if (r->json_depth > 0 && !(n > 1 && t[0] == '{' && t[1] == '"')) {
        /* (a line that is a whole object is never part of a pretty-printed document: it is a
         * log line after a stray "{" line, read as one) */
        enum lw_err err;
        if (add_message_member(r, t, n, &err))
            return err;
        size_t m = n;
        if (m > 0 && t[m - 1] == ',')
            m--;
        if (m > 0 && (t[m - 1] == '{' || t[m - 1] == '[') && r->json_depth < JSON_DEPTH_MAX)
            r->json_depth++;
        else if (m == 1 && (t[0] == '}' || t[0] == ']'))
            r->json_depth--;
        framing(r);
        return LW_OK;
    }

    /* a Logs Insights CSV export: its header, then one record per line or more */
    if (n > 0 && t[0] != '{') {
        long col = csv_header_column(t, n);
        if (col >= 0) {
            r->csv_column = col;
            framing(r);
            return LW_OK;
        }
        if (r->csv_column >= 0)
            return csv_line(r, line, len);
    }

    enum lw_err err;
    if (add_document(r, t, n, &err))
        return err;
    return add_event(r, line, len, r->line_no);
}

enum lw_err lw_report_set_source(struct lw_report *r, const char *name)
{
    csv_abandon(r);
    const char *s = intern(r, name ? name : "");
    if (!s)
        return LW_ERR_NOMEM;
    r->source = s;
    r->line_no = 0;
    r->json_depth = 0;
    r->csv_column = -1;
    return LW_OK;
}

size_t lw_report_malformed_count(const struct lw_report *r)
{
    return r->n_malformed;
}

const struct lw_report_malformed *lw_report_malformed_at(const struct lw_report *r, size_t i)
{
    return i < r->n_malformed ? &r->malformed[i] : NULL;
}

enum lw_err lw_report_read(struct lw_report *r, FILE *in)
{
    size_t len = 0;
    bool too_long = false;
    if (!r->line_buf) {
        r->line_cap = 64 * 1024;
        r->line_buf = malloc(r->line_cap);
        if (!r->line_buf)
            return LW_ERR_NOMEM;
    }
    for (;;) {
        int c = getc_unlocked(in);
        if (c == EOF || c == '\n') {
            if (too_long) {
                r->stats.lines++;
                r->stats.skipped_too_long++;
            } else if (len > 0 || c == '\n') {
                enum lw_err err = lw_report_add_line(r, r->line_buf, len);
                if (err != LW_OK)
                    return err;
            }
            if (c == EOF) {
                csv_abandon(r); /* the end of the stream ends an open record */
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
        if (len == r->line_cap) {
            size_t cap = r->line_cap * 2;
            if (cap > LW_REPORT_LINE_MAX_BYTES)
                cap = LW_REPORT_LINE_MAX_BYTES;
            char *buf = realloc(r->line_buf, cap);
            if (!buf)
                return LW_ERR_NOMEM;
            r->line_buf = buf;
            r->line_cap = cap;
        }
        r->line_buf[len++] = (char)c;
    }
    return ferror(in) ? LW_ERR_IO : LW_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct lw_report_entry *x = a, *y = b;
    int c = strcmp(x->env_id, y->env_id);
    if (c)
        return c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return 0;
}

/* Whether a repeated line said something else than the first (same figures expected). */
static bool entries_differ(const struct lw_report_entry *a, const struct lw_report_entry *b)
{
    if (a->request_id != b->request_id || a->verdict != b->verdict || a->from != b->from ||
        a->have_mask != b->have_mask || a->end_time_ms != b->end_time_ms)
        return true;
    for (int i = 0; i < LW_M_COUNT; i++)
        if ((a->have_mask & (UINT64_C(1) << i)) && a->value[i] != b->value[i])
            return true;
    return false;
}

/*
 * Sorts v and keeps the first line read of each (environment, sequence) — for alerts also of
 * each transition, for shutdowns one per environment (their sequence is 0).
 */
static void sort_dedupe(struct lw_report *r, struct vec *v)
{
    if (v->n == 0)
        return;
    qsort(v->items, v->n, sizeof(*v->items), cmp_entry);
    size_t w = 1;
    for (size_t i = 1; i < v->n; i++) {
        const struct lw_report_entry *prev = &v->items[w - 1], *cur = &v->items[i];
        if (cur->env_id == prev->env_id && cur->seq == prev->seq) {
            r->stats.duplicates++;
            if (entries_differ(prev, cur))
                r->stats.duplicates_differ++;
            continue;
        }
        v->items[w++] = *cur;
    }
    v->n = w;
}

uint64_t lw_report_entry_time_ms(const struct lw_report_entry *e)
{
    if (e->start_time_ms)
        return e->start_time_ms;
    return e->timestamp_ms;
}

static int cmp_env(const void *a, const void *b)
{
    const struct lw_report_env *x = a, *y = b;
    /* environments without any time go last */
    uint64_t tx = x->first_time_ms ? x->first_time_ms : UINT64_MAX;
    uint64_t ty = y->first_time_ms ? y->first_time_ms : UINT64_MAX;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x->env_id, y->env_id);
}

static void note_time(struct lw_report_env *env, uint64_t t)
{
    if (t && (env->first_time_ms == 0 || t < env->first_time_ms))
        env->first_time_ms = t;
}

enum lw_err lw_report_finish(struct lw_report *r)
{
    csv_abandon(r);
    sort_dedupe(r, &r->inv);
    sort_dedupe(r, &r->shut);
    sort_dedupe(r, &r->alert);

    free(r->envs);
    r->envs = NULL;
    r->n_envs = 0;
    size_t max_envs = r->inv.n + r->shut.n + r->alert.n;
    if (max_envs == 0)
        return LW_OK;
    r->envs = calloc(max_envs, sizeof(*r->envs));
    if (!r->envs)
        return LW_ERR_NOMEM;

    /* a three-way merge of the sorted arrays by environment id */
    size_t i = 0, s = 0, a = 0;
    while (i < r->inv.n || s < r->shut.n || a < r->alert.n) {
        const char *id = NULL;
        if (i < r->inv.n)
            id = r->inv.items[i].env_id;
        if (s < r->shut.n && (!id || strcmp(r->shut.items[s].env_id, id) < 0))
            id = r->shut.items[s].env_id;
        if (a < r->alert.n && (!id || strcmp(r->alert.items[a].env_id, id) < 0))
            id = r->alert.items[a].env_id;

        struct lw_report_env *env = &r->envs[r->n_envs++];
        env->env_id = id; /* interned: equal ids are the same pointer */
        env->function_name = "";
        env->function_version = "";
        env->invocations = i < r->inv.n ? &r->inv.items[i] : NULL; /* items may be NULL */
        while (i < r->inv.n && r->inv.items[i].env_id == id) {
            note_time(env, lw_report_entry_time_ms(&r->inv.items[i]));
            env->n_invocations++;
            i++;
        }
        if (s < r->shut.n && r->shut.items[s].env_id == id) {
            env->shutdown = &r->shut.items[s];
            note_time(env, lw_report_entry_time_ms(env->shutdown));
            s++;
        }
        env->alerts = a < r->alert.n ? &r->alert.items[a] : NULL;
        while (a < r->alert.n && r->alert.items[a].env_id == id) {
            env->n_alerts++;
            a++;
        }
        /* the name and version of the latest line that has them */
        const struct lw_report_entry *named = NULL;
        for (size_t k = env->n_invocations; k > 0 && !named; k--)
            if (env->invocations[k - 1].function_name[0])
                named = &env->invocations[k - 1];
        if (!named && env->shutdown && env->shutdown->function_name[0])
            named = env->shutdown;
        for (size_t k = env->n_alerts; k > 0 && !named; k--)
            if (env->alerts[k - 1].function_name[0])
                named = &env->alerts[k - 1];
        if (named) {
            env->function_name = named->function_name;
            env->function_version = named->function_version;
        }
        if (env->n_invocations == 0)
            env->invocations = NULL;
    }
    qsort(r->envs, r->n_envs, sizeof(*r->envs), cmp_env);
    return LW_OK;
}

void lw_report_stats(const struct lw_report *r, struct lw_report_stats *out)
{
    *out = r->stats;
}

size_t lw_report_env_count(const struct lw_report *r)
{
    return r->n_envs;
}

const struct lw_report_env *lw_report_env_at(const struct lw_report *r, size_t i)
{
    return i < r->n_envs ? &r->envs[i] : NULL;
}
