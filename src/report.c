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
#include <leakwatch/report.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

_Static_assert(LW_M_COUNT <= 64, "have_mask holds one bit per metric");

static const char *const metric_names[LW_M_COUNT] = {
#define LW_REPORT_METRIC_NAME(id, emf, emf_unit, otlp, ucum) [LW_M_##id] = emf,
    LW_METRICS(LW_REPORT_METRIC_NAME)
#undef LW_REPORT_METRIC_NAME
};

/* Largest integer a double holds exactly: above it a byte count or sequence is not trusted. */
#define MAX_EXACT_U64 9007199254740992.0

/* ---------------------------------------------------------------------------------------- */
/* parsing one line                                                                          */

/* Copies a JSON string member into (dst, cap), cut at a UTF-8 character boundary. */
static void copy_str(const cJSON *obj, const char *key, char *dst, size_t cap)
{
    dst[0] = '\0';
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
    if (!s)
        return;
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        /* never leave half a multi-byte character at the end */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/*
 * A non-negative integral member. Returns 1 and sets *out when present and valid, 0 when
 * absent, -1 when present but not a usable count (negative, fractional, not a number, huge).
 */
static int get_count(const cJSON *obj, const char *key, uint64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item)
        return 0;
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    if (!isfinite(v) || v < 0 || v > MAX_EXACT_U64 || floor(v) != v)
        return -1;
    *out = (uint64_t)v;
    return 1;
}

static bool get_number(const cJSON *obj, const char *key, double *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return false;
    *out = item->valuedouble;
    return true;
}

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
        if (strcmp(s, "end-reading") == 0)
            gaps |= LW_GAP_END_READING;
        else if (strcmp(s, "telemetry") == 0)
            gaps |= LW_GAP_TELEMETRY;
        else if (strcmp(s, "processes") == 0)
            gaps |= LW_GAP_PROCS;
    }
    return gaps;
}

static void parse_metrics(const cJSON *obj, struct lw_report_line *out)
{
    for (int i = 0; i < LW_M_COUNT; i++) {
        double v;
        if (get_number(obj, metric_names[i], &v)) {
            out->value[i] = v;
            out->have_mask |= UINT64_C(1) << i;
        }
    }
}

/* Fills out from a leakwatch object of the given kind; false when required fields are bad. */
static bool parse_leakwatch(const cJSON *root, enum lw_report_kind kind, struct lw_report_line *out)
{
    out->kind = kind;
    copy_str(root, "EnvironmentId", out->env_id, sizeof(out->env_id));
    copy_str(root, "FunctionName", out->function_name, sizeof(out->function_name));
    if (out->env_id[0] == '\0')
        return false;
    if (kind != LW_REPORT_SHUTDOWN && get_count(root, "Sequence", &out->seq) != 1)
        return false;
    const cJSON *aws = cJSON_GetObjectItemCaseSensitive(root, "_aws");
    if (get_count(aws, "Timestamp", &out->timestamp_ms) < 0)
        out->timestamp_ms = 0;

    switch (kind) {
    case LW_REPORT_INVOCATION:
        copy_str(root, "FunctionVersion", out->function_version, sizeof(out->function_version));
        copy_str(root, "RequestId", out->request_id, sizeof(out->request_id));
        copy_str(root, "Status", out->status, sizeof(out->status));
        copy_str(root, "ErrorType", out->error_type, sizeof(out->error_type));
        copy_str(root, "PeakMethod", out->peak_method, sizeof(out->peak_method));
        copy_str(root, "Verdict", out->verdict, sizeof(out->verdict));
        copy_str(root, "VerdictReason", out->reason, sizeof(out->reason));
        copy_str(root, "Culprit", out->culprit, sizeof(out->culprit));
        out->cold_start = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "ColdStart"));
        out->incomplete = parse_incomplete(root);
        if (get_count(root, "StartTimeMs", &out->start_time_ms) < 0)
            out->start_time_ms = 0;
        if (get_count(root, "EndTimeMs", &out->end_time_ms) < 0)
            out->end_time_ms = 0;
        parse_metrics(root, out);
        break;
    case LW_REPORT_SHUTDOWN:
        copy_str(root, "FunctionVersion", out->function_version, sizeof(out->function_version));
        copy_str(root, "ShutdownReason", out->reason, sizeof(out->reason));
        out->have_lifetime = get_number(root, "EnvironmentLifetimeSeconds", &out->lifetime_seconds);
        out->have_invocations = get_count(root, "EnvironmentInvocations", &out->invocations) == 1;
        break;
    case LW_REPORT_ALERT:
        copy_str(root, "From", out->from, sizeof(out->from));
        copy_str(root, "To", out->verdict, sizeof(out->verdict));
        copy_str(root, "Reason", out->reason, sizeof(out->reason));
        copy_str(root, "Culprit", out->culprit, sizeof(out->culprit));
        if (get_number(root, "GrowthPerInvocationBytes", &out->value[LW_M_GROWTH_PER_INVOCATION]))
            out->have_mask |= UINT64_C(1) << LW_M_GROWTH_PER_INVOCATION;
        if (get_number(root, "ProjectedMinutesToOom", &out->value[LW_M_MINUTES_TO_OOM]))
            out->have_mask |= UINT64_C(1) << LW_M_MINUTES_TO_OOM;
        break;
    }
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static enum lw_err parse_at(const char *line, size_t len, struct lw_report_line *out,
                            enum lw_report_skip *why, int depth)
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
                err = parse_at(inner, strlen(inner), out, why, depth + 1);
                if (err == LW_ERR_INVALID && *why != LW_REPORT_SKIP_INVALID)
                    *why = LW_REPORT_SKIP_FOREIGN;
            }
        }
        goto out;
    }
    if (!parse_leakwatch(root, kind, out)) {
        *why = LW_REPORT_SKIP_INVALID;
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
    return parse_at(line, len, out, why, 0);
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

enum lw_err lw_report_add_line(struct lw_report *r, const char *line, size_t len)
{
    enum lw_report_skip why = LW_REPORT_SKIP_NONE;
    r->stats.lines++;
    enum lw_err err = lw_report_parse_line(line, len, &r->parsed, &why);
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
        break;
    case LW_REPORT_SKIP_FOREIGN:
        r->stats.skipped_foreign++;
        break;
    case LW_REPORT_SKIP_INVALID:
    case LW_REPORT_SKIP_NONE:
        r->stats.skipped_invalid++;
        break;
    }
    return LW_OK;
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
            if (c == EOF)
                break;
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

static uint64_t entry_time_ms(const struct lw_report_entry *e)
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
            note_time(env, entry_time_ms(&r->inv.items[i]));
            env->n_invocations++;
            i++;
        }
        if (s < r->shut.n && r->shut.items[s].env_id == id) {
            env->shutdown = &r->shut.items[s];
            note_time(env, entry_time_ms(env->shutdown));
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

/* ---------------------------------------------------------------------------------------- */
/* selection: --env and --last                                                               */

/* The environment with this id or unique id prefix; NULL and *none when there is none. */
static const struct lw_report_env *find_env(const struct lw_report *r, const char *id, bool *none)
{
    *none = false;
    const struct lw_report_env *match = NULL;
    size_t n_prefix = 0, len = strlen(id);
    for (size_t i = 0; i < r->n_envs; i++) {
        if (strcmp(r->envs[i].env_id, id) == 0)
            return &r->envs[i];
        if (strncmp(r->envs[i].env_id, id, len) == 0) {
            match = &r->envs[i];
            n_prefix++;
        }
    }
    if (n_prefix != 1) {
        *none = true;
        return NULL;
    }
    return match;
}

/* The environments opt selects, in order, as an array (first, n). */
static void selected_envs(const struct lw_report *r, const struct lw_report_options *opt,
                          const struct lw_report_env **first, size_t *n)
{
    *first = r->envs;
    *n = r->n_envs;
    if (opt && opt->env_id) {
        bool none;
        *first = find_env(r, opt->env_id, &none);
        *n = none ? 0 : 1;
    }
}

size_t lw_report_selected_count(const struct lw_report *r, const struct lw_report_options *opt)
{
    const struct lw_report_env *first;
    size_t n;
    selected_envs(r, opt, &first, &n);
    return n;
}

/* The invocations and alerts of env that --last keeps. */
struct window {
    const struct lw_report_entry *inv;
    size_t n_inv;
    const struct lw_report_entry *alerts;
    size_t n_alerts;
};

static struct window env_window(const struct lw_report_env *env,
                                const struct lw_report_options *opt)
{
    struct window w = {env->invocations, env->n_invocations, env->alerts, env->n_alerts};
    if (opt && opt->last && w.n_inv > opt->last) {
        w.inv += w.n_inv - opt->last;
        w.n_inv = opt->last;
        uint64_t from_seq = w.inv[0].seq;
        while (w.n_alerts > 0 && w.alerts[0].seq < from_seq) {
            w.alerts++;
            w.n_alerts--;
        }
    }
    return w;
}

/* ---------------------------------------------------------------------------------------- */
/* the text report                                                                           */

#define KIB 1024.0
#define MIB (1024.0 * 1024.0)

enum col {
    C_SEQ,
    C_REQUEST,
    C_RSS_START,
    C_RSS_PEAK,
    C_RSS_END,
    C_ANON_END,
    C_GROWTH,
    C_ENV_RSS,
    C_HEADROOM,
    C_MAX_USED,
    C_DURATION,
    C_BILLED,
    C_STATUS,
    C_VERDICT,
    C_NOTES,
    N_COLS
};

#define CELL_MAX 160

struct col_desc {
    const char *name;
    const char *unit; /* NULL: the memory unit chosen for the table */
    enum lw_metric_id metric;
    bool right;
};

/* metric is only read for the numeric columns */
static const struct col_desc cols[N_COLS] = {
    [C_SEQ] = {"seq", "", 0, true},
    [C_REQUEST] = {"request", "id", 0, false},
    [C_RSS_START] = {"start RSS", NULL, LW_M_FN_RSS_START, true},
    [C_RSS_PEAK] = {"peak RSS", NULL, LW_M_FN_RSS_PEAK, true},
    [C_RSS_END] = {"end RSS", NULL, LW_M_FN_RSS_END, true},
    [C_ANON_END] = {"anon end", NULL, LW_M_FN_ANON_END, true},
    [C_GROWTH] = {"growth", NULL, LW_M_FN_GROWTH, true},
    [C_ENV_RSS] = {"env RSS", NULL, LW_M_ENV_RSS, true},
    [C_HEADROOM] = {"headroom", NULL, LW_M_HEADROOM, true},
    [C_MAX_USED] = {"Lambda max", "used MB", LW_M_MAX_MEMORY_USED, true},
    [C_DURATION] = {"duration", "ms", LW_M_DURATION, true},
    [C_BILLED] = {"billed", "ms", LW_M_BILLED, true},
    [C_STATUS] = {"status", "", 0, false},
    [C_VERDICT] = {"verdict", "", 0, false},
    [C_NOTES] = {"notes", "", 0, false},
};

struct mem_unit {
    const char *name;
    double bytes;
};

/*
 * KiB while the largest figure stays under 10000 KiB, else MiB: one decimal is then always
 * enough to see a change of a few KiB on small functions and stays short on large ones.
 */
static struct mem_unit pick_unit(double max_abs_bytes)
{
    if (max_abs_bytes < 10000.0 * KIB)
        return (struct mem_unit){"KiB", KIB};
    return (struct mem_unit){"MiB", MIB};
}

static double max_abs(const struct window *w, const enum lw_metric_id *ids, size_t n_ids)
{
    double m = 0;
    for (size_t i = 0; i < w->n_inv; i++)
        for (size_t k = 0; k < n_ids; k++)
            if (lw_report_entry_has(&w->inv[i], ids[k]) && fabs(w->inv[i].value[ids[k]]) > m)
                m = fabs(w->inv[i].value[ids[k]]);
    return m;
}

static void fmt_mem(char *dst, size_t cap, double bytes, struct mem_unit u)
{
    double v = bytes / u.bytes;
    /* "-0.0" reads as a change that is not there */
    if (fabs(v) < 0.05)
        v = 0;
    snprintf(dst, cap, "%.1f", v);
}

/* Appends to the cell: "a, b" lists. */
static void note_add(char *cell, const char *text)
{
    size_t n = strlen(cell);
    snprintf(cell + n, CELL_MAX - n, "%s%s", n ? ", " : "", text);
}

static void gaps_text(uint32_t gaps, char *dst, size_t cap)
{
    snprintf(dst, cap, "incomplete: %s%s%s%s%s", (gaps & LW_GAP_END_READING) ? "end-reading" : "",
             (gaps & LW_GAP_END_READING) && (gaps & ~LW_GAP_END_READING) ? "+" : "",
             (gaps & LW_GAP_TELEMETRY) ? "telemetry" : "",
             (gaps & LW_GAP_TELEMETRY) && (gaps & LW_GAP_PROCS) ? "+" : "",
             (gaps & LW_GAP_PROCS) ? "processes" : "");
}

static void fill_row(const struct lw_report_entry *e, struct mem_unit level, struct mem_unit growth,
                     char cells[N_COLS][CELL_MAX])
{
    for (int c = 0; c < N_COLS; c++)
        snprintf(cells[c], CELL_MAX, "-");
    snprintf(cells[C_SEQ], CELL_MAX, "%llu", (unsigned long long)e->seq);
    if (e->request_id[0])
        snprintf(cells[C_REQUEST], CELL_MAX, "%.8s", e->request_id);
    for (int c = C_RSS_START; c <= C_HEADROOM; c++) {
        if (lw_report_entry_has(e, cols[c].metric))
            fmt_mem(cells[c], CELL_MAX, e->value[cols[c].metric], c == C_GROWTH ? growth : level);
    }
    if (lw_report_entry_has(e, LW_M_MAX_MEMORY_USED))
        snprintf(cells[C_MAX_USED], CELL_MAX, "%.0f", e->value[LW_M_MAX_MEMORY_USED]);
    if (lw_report_entry_has(e, LW_M_DURATION))
        snprintf(cells[C_DURATION], CELL_MAX, "%.1f", e->value[LW_M_DURATION]);
    if (lw_report_entry_has(e, LW_M_BILLED))
        snprintf(cells[C_BILLED], CELL_MAX, "%.0f", e->value[LW_M_BILLED]);
    if (e->status[0])
        snprintf(cells[C_STATUS], CELL_MAX, "%s", e->status);
    if (e->verdict[0])
        snprintf(cells[C_VERDICT], CELL_MAX, "%s", e->verdict);

    char *notes = cells[C_NOTES];
    notes[0] = '\0';
    if (e->cold_start)
        note_add(notes, "cold start");
    if (e->peak_method[0] && strcmp(e->peak_method, "hwm") != 0) {
        char t[48];
        snprintf(t, sizeof(t), "peak: %s", e->peak_method);
        note_add(notes, t);
    }
    if (e->incomplete) {
        char t[64];
        gaps_text(e->incomplete, t, sizeof(t));
        note_add(notes, t);
    }
    if (e->error_type[0]) {
        char t[LW_ERROR_TYPE_MAX + 8];
        snprintf(t, sizeof(t), "error %s", e->error_type);
        note_add(notes, t);
    }
}

/* Writes one row of cells padded to widths, without trailing spaces. */
static void put_row(FILE *out, char cells[N_COLS][CELL_MAX], const size_t *widths)
{
    char line[N_COLS * (CELL_MAX + 2) + 2];
    size_t n = 0;
    for (int c = 0; c < N_COLS; c++) {
        int w = (int)widths[c];
        int k = cols[c].right ? snprintf(line + n, sizeof(line) - n, "%*s", w, cells[c])
                              : snprintf(line + n, sizeof(line) - n, "%-*s", w, cells[c]);
        if (k > 0)
            n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
        if (c + 1 < N_COLS && n + 2 < sizeof(line)) {
            line[n++] = ' ';
            line[n++] = ' ';
        }
    }
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n++] = '\n';
    fwrite(line, 1, n, out);
}

static void fmt_duration(double seconds, char *dst, size_t cap)
{
    if (!(seconds >= 0) || seconds > 1e9) {
        snprintf(dst, cap, "?");
        return;
    }
    uint64_t s = (uint64_t)(seconds + 0.5);
    uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d)
        snprintf(dst, cap, "%llud %lluh %llum", (unsigned long long)d, (unsigned long long)h,
                 (unsigned long long)m);
    else if (h)
        snprintf(dst, cap, "%lluh %llum %llus", (unsigned long long)h, (unsigned long long)m,
                 (unsigned long long)sec);
    else if (m)
        snprintf(dst, cap, "%llum %llus", (unsigned long long)m, (unsigned long long)sec);
    else
        snprintf(dst, cap, "%llus", (unsigned long long)sec);
}

/* A growth in bytes as KiB or MiB, with its sign. */
static void fmt_growth(double bytes, char *dst, size_t cap)
{
    if (fabs(bytes) < 1024.0 * KIB)
        snprintf(dst, cap, "%.1f KiB", bytes / KIB);
    else
        snprintf(dst, cap, "%.1f MiB", bytes / MIB);
}

static void write_header(const struct lw_report_env *env, const struct window *w, FILE *out)
{
    fprintf(out, "== function %s", env->function_name[0] ? env->function_name : "(unknown)");
    if (env->function_version[0])
        fprintf(out, " (version %s)", env->function_version);
    fprintf(out, ", environment %s\n", env->env_id);

    if (env->n_invocations == 0) {
        fprintf(out, "invocations   none in this log\n");
    } else {
        uint64_t lo = env->invocations[0].seq;
        uint64_t hi = env->invocations[env->n_invocations - 1].seq;
        fprintf(out, "invocations   %zu (seq %llu to %llu", env->n_invocations,
                (unsigned long long)lo, (unsigned long long)hi);
        uint64_t missing = hi - lo + 1 - env->n_invocations;
        if (missing)
            fprintf(out, ", %llu missing", (unsigned long long)missing);
        fprintf(out, ")");
        if (w->n_inv < env->n_invocations)
            fprintf(out, ", last %zu shown", w->n_inv);
        fprintf(out, "\n");
        const struct lw_report_entry *cold = NULL;
        for (size_t i = 0; i < env->n_invocations && !cold; i++)
            if (env->invocations[i].cold_start)
                cold = &env->invocations[i];
        if (cold)
            fprintf(out, "cold start    seq %llu\n", (unsigned long long)cold->seq);
        else
            fprintf(out, "cold start    not in this log\n");
        const struct lw_report_entry *last = &env->invocations[env->n_invocations - 1];
        if (lw_report_entry_has(last, LW_M_MEM_LIMIT))
            fprintf(out, "memory limit  %.1f MiB\n", last->value[LW_M_MEM_LIMIT] / MIB);
    }

    if (env->shutdown) {
        const struct lw_report_entry *s = env->shutdown;
        fprintf(out, "shutdown      %s", s->reason[0] ? s->reason : "(no reason)");
        if (s->have_lifetime) {
            char t[64];
            fmt_duration(s->lifetime_seconds, t, sizeof(t));
            fprintf(out, ", lifetime %s (%.1f s)", t, s->lifetime_seconds);
        }
        if (s->have_invocations)
            fprintf(out, ", %llu invocations", (unsigned long long)s->invocations);
        fprintf(out, "\n");
    } else {
        fprintf(out, "shutdown      not in this log\n");
    }

    const struct lw_report_entry *last =
        env->n_invocations ? &env->invocations[env->n_invocations - 1] : NULL;
    if (last && last->verdict[0]) {
        fprintf(out, "verdict       %s", last->verdict);
        if (last->reason[0])
            fprintf(out, ": %s", last->reason);
        if (last->culprit[0])
            fprintf(out, " (culprit: %s)", last->culprit);
        fprintf(out, "\n");
    } else {
        fprintf(out, "verdict       -\n");
    }
}

static void write_alerts(const struct window *w, FILE *out)
{
    if (w->n_alerts == 0)
        return;
    fprintf(out, "\nalerts\n");
    for (size_t i = 0; i < w->n_alerts; i++) {
        const struct lw_report_entry *a = &w->alerts[i];
        fprintf(out, "  seq %llu: %s -> %s", (unsigned long long)a->seq, a->from[0] ? a->from : "?",
                a->verdict[0] ? a->verdict : "?");
        bool open = false;
        if (lw_report_entry_has(a, LW_M_GROWTH_PER_INVOCATION)) {
            char g[48];
            fmt_growth(a->value[LW_M_GROWTH_PER_INVOCATION], g, sizeof(g));
            fprintf(out, " (growth %s per invocation", g);
            open = true;
        }
        if (lw_report_entry_has(a, LW_M_MINUTES_TO_OOM)) {
            fprintf(out, "%sout of memory in %.1f min", open ? ", " : " (",
                    a->value[LW_M_MINUTES_TO_OOM]);
            open = true;
        }
        if (a->culprit[0]) {
            fprintf(out, "%sculprit %s", open ? ", " : " (", a->culprit);
            open = true;
        }
        if (open)
            fprintf(out, ")");
        if (a->reason[0])
            fprintf(out, ": %s", a->reason);
        fprintf(out, "\n");
    }
}

void lw_report_write_env_text(const struct lw_report_env *env, const struct lw_report_options *opt,
                              FILE *out)
{
    struct window w = env_window(env, opt);
    write_header(env, &w, out);
    if (w.n_inv > 0) {
        static const enum lw_metric_id level_ids[] = {LW_M_FN_RSS_START, LW_M_FN_RSS_PEAK,
                                                      LW_M_FN_RSS_END,   LW_M_FN_ANON_END,
                                                      LW_M_ENV_RSS,      LW_M_HEADROOM};
        static const enum lw_metric_id growth_ids[] = {LW_M_FN_GROWTH};
        struct mem_unit level = pick_unit(max_abs(&w, level_ids, 6));
        struct mem_unit growth = pick_unit(max_abs(&w, growth_ids, 1));

        char head[N_COLS][CELL_MAX], units[N_COLS][CELL_MAX], cells[N_COLS][CELL_MAX];
        size_t widths[N_COLS];
        for (int c = 0; c < N_COLS; c++) {
            const char *unit = cols[c].unit;
            if (!unit)
                unit = c == C_GROWTH ? growth.name : level.name;
            snprintf(head[c], CELL_MAX, "%s", cols[c].name);
            snprintf(units[c], CELL_MAX, "%s", unit);
            size_t a = strlen(head[c]), b = strlen(unit);
            widths[c] = a > b ? a : b;
        }
        /* first pass: widths; second: the rows */
        for (size_t i = 0; i < w.n_inv; i++) {
            fill_row(&w.inv[i], level, growth, cells);
            for (int c = 0; c < N_COLS; c++) {
                size_t l = strlen(cells[c]);
                if (l > widths[c])
                    widths[c] = l;
            }
        }
        fprintf(out, "\n");
        put_row(out, head, widths);
        put_row(out, units, widths);
        for (size_t i = 0; i < w.n_inv; i++) {
            fill_row(&w.inv[i], level, growth, cells);
            put_row(out, cells, widths);
        }
    }
    write_alerts(&w, out);
}

static void write_stats(const struct lw_report *r, FILE *out)
{
    const struct lw_report_stats *s = &r->stats;
    fprintf(out,
            "input: %llu lines: %llu invocation, %llu shutdown, %llu alert; skipped %llu text, "
            "%llu bad JSON, %llu other JSON, %llu invalid, %llu too long",
            (unsigned long long)s->lines, (unsigned long long)s->invocations,
            (unsigned long long)s->shutdowns, (unsigned long long)s->alerts,
            (unsigned long long)s->skipped_text, (unsigned long long)s->skipped_bad_json,
            (unsigned long long)s->skipped_foreign, (unsigned long long)s->skipped_invalid,
            (unsigned long long)s->skipped_too_long);
    if (s->dropped_over_cap)
        fprintf(out, "; %llu over the cap", (unsigned long long)s->dropped_over_cap);
    fprintf(out, "; %llu repeated", (unsigned long long)s->duplicates);
    if (s->duplicates_differ)
        fprintf(out, " (%llu of them differing)", (unsigned long long)s->duplicates_differ);
    fprintf(out, "\n");
}

enum lw_err lw_report_write_text(const struct lw_report *r, const struct lw_report_options *opt,
                                 FILE *out)
{
    const struct lw_report_env *envs;
    size_t n;
    selected_envs(r, opt, &envs, &n);
    for (size_t i = 0; i < n; i++) {
        lw_report_write_env_text(&envs[i], opt, out);
        fprintf(out, "\n");
    }
    write_stats(r, out);
    return ferror(out) ? LW_ERR_IO : LW_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* CSV                                                                                       */

static void csv_str(FILE *out, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* A number as the EMF line had it: integers exactly, others shortest round-trip. */
static void csv_num(FILE *out, double v)
{
    if (floor(v) == v && fabs(v) < 1e15) {
        fprintf(out, "%.0f", v);
        return;
    }
    char buf[40];
    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof(buf), "%.17g", v);
    fputs(buf, out);
}

enum lw_err lw_report_write_csv(const struct lw_report *r, const struct lw_report_options *opt,
                                FILE *out)
{
    fputs("environment_id,function_name,function_version,seq,request_id,start_time_ms,"
          "end_time_ms,cold_start,status,error_type,peak_method,incomplete,verdict,culprit,"
          "verdict_reason",
          out);
    for (int m = 0; m < LW_M_COUNT; m++)
        fprintf(out, ",%s", metric_names[m]);
    fputs("\r\n", out); /* RFC 4180 line breaks */

    const struct lw_report_env *envs;
    size_t n;
    selected_envs(r, opt, &envs, &n);
    for (size_t k = 0; k < n; k++) {
        struct window w = env_window(&envs[k], opt);
        for (size_t i = 0; i < w.n_inv; i++) {
            const struct lw_report_entry *e = &w.inv[i];
            csv_str(out, e->env_id);
            fputc(',', out);
            csv_str(out, e->function_name);
            fputc(',', out);
            csv_str(out, e->function_version);
            fprintf(out, ",%llu,", (unsigned long long)e->seq);
            csv_str(out, e->request_id);
            fputc(',', out);
            if (e->start_time_ms)
                fprintf(out, "%llu", (unsigned long long)e->start_time_ms);
            fputc(',', out);
            if (e->end_time_ms)
                fprintf(out, "%llu", (unsigned long long)e->end_time_ms);
            fprintf(out, ",%s,", e->cold_start ? "true" : "false");
            csv_str(out, e->status);
            fputc(',', out);
            csv_str(out, e->error_type);
            fputc(',', out);
            csv_str(out, e->peak_method);
            fputc(',', out);
            if (e->incomplete) {
                char t[64];
                gaps_text(e->incomplete, t, sizeof(t));
                fputs(t + strlen("incomplete: "), out);
            }
            fputc(',', out);
            csv_str(out, e->verdict);
            fputc(',', out);
            csv_str(out, e->culprit);
            fputc(',', out);
            csv_str(out, e->reason);
            for (int m = 0; m < LW_M_COUNT; m++) {
                fputc(',', out);
                if (lw_report_entry_has(e, (enum lw_metric_id)m))
                    csv_num(out, e->value[m]);
            }
            fputs("\r\n", out);
        }
    }
    return ferror(out) ? LW_ERR_IO : LW_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* SVG                                                                                       */

#define SVG_W 800
#define SVG_H 400
#define PLOT_L 72.0
#define PLOT_R 780.0
#define PLOT_T 56.0
#define PLOT_B 350.0

static void xml_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
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
        default:
            /* control characters are not allowed in XML 1.0 */
            if ((unsigned char)*s < 0x20 && *s != '\t')
                fputc('?', out);
            else
                fputc(*s, out);
        }
    }
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
    const char *label;
    const char *color;
    const char *dash; /* NULL: solid */
    enum lw_metric_id metric;
};

static const struct series chart_series[] = {
    {"function anon RSS (end)", "#1f77b4", NULL, LW_M_FN_ANON_END},
    {"function RSS peak", "#ff7f0e", NULL, LW_M_FN_RSS_PEAK},
    {"environment RSS", "#2ca02c", NULL, LW_M_ENV_RSS},
    {"memory limit", "#d62728", "6 4", LW_M_MEM_LIMIT},
};
#define N_SERIES (sizeof(chart_series) / sizeof(chart_series[0]))

static void write_chart(const struct lw_report_env *env, const struct window *w, double y0,
                        FILE *out)
{
    fprintf(out, "<g transform=\"translate(0,%.0f)\">\n", y0);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_W,
            SVG_H);
    fprintf(out, "<text x=\"%.0f\" y=\"20\" font-size=\"14\" font-weight=\"bold\">", PLOT_L);
    xml_text(out, env->function_name[0] ? env->function_name : "(unknown function)");
    fputs(" \xc2\xb7 environment ", out);
    xml_text(out, env->env_id);
    fputs("</text>\n", out);

    /* scales: x = sequence, y = MiB from 0 to the largest value (the limit included) */
    double ymax = 0;
    for (size_t i = 0; i < w->n_inv; i++)
        for (size_t s = 0; s < N_SERIES; s++)
            if (lw_report_entry_has(&w->inv[i], chart_series[s].metric) &&
                w->inv[i].value[chart_series[s].metric] > ymax)
                ymax = w->inv[i].value[chart_series[s].metric];
    ymax /= MIB;
    double ystep = nice_step(ymax > 0 ? ymax : 1, 5);
    double ytop = ceil((ymax > 0 ? ymax * 1.05 : 1) / ystep) * ystep;
    double xlo = w->n_inv ? (double)w->inv[0].seq : 0;
    double xhi = w->n_inv ? (double)w->inv[w->n_inv - 1].seq : 1;
    if (xhi <= xlo) {
        xlo -= 1;
        xhi += 1;
    }
    double xstep = nice_step(xhi - xlo, 8);
    if (xstep < 1)
        xstep = 1;
#define XPOS(seq) (PLOT_L + ((double)(seq)-xlo) / (xhi - xlo) * (PLOT_R - PLOT_L))
#define YPOS(mib) (PLOT_B - (mib) / ytop * (PLOT_B - PLOT_T))

    /* grid, ticks and axis labels */
    fputs("<g stroke=\"#dddddd\" stroke-width=\"1\">\n", out);
    for (double v = 0; v <= ytop + ystep / 2; v += ystep)
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PLOT_L, YPOS(v),
                PLOT_R, YPOS(v));
    fputs("</g>\n<g font-size=\"11\" fill=\"#333333\">\n", out);
    for (double v = 0; v <= ytop + ystep / 2; v += ystep)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", PLOT_L - 6,
                YPOS(v) + 4, v);
    for (double v = ceil(xlo / xstep) * xstep; v <= xhi + xstep / 1000; v += xstep)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", XPOS(v),
                PLOT_B + 16, v);
    fputs("</g>\n", out);
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n"
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
            PLOT_L, PLOT_B, PLOT_R, PLOT_B, PLOT_L, PLOT_T, PLOT_L, PLOT_B);
    fprintf(out,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">invocation "
            "(sequence number in this environment)</text>\n",
            (PLOT_L + PLOT_R) / 2, PLOT_B + 38);
    fprintf(out,
            "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" "
            "transform=\"rotate(-90 16 %.1f)\">memory (MiB)</text>\n",
            (PLOT_T + PLOT_B) / 2, (PLOT_T + PLOT_B) / 2);

    /* verdict changes: a dashed vertical line and the new verdict */
    const char *prev = NULL;
    for (size_t i = 0; i < w->n_inv; i++) {
        const char *v = w->inv[i].verdict;
        if (!v[0])
            continue;
        if (prev && v != prev) {
            double x = XPOS(w->inv[i].seq);
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

    /* one polyline per series; a missing figure is skipped, not drawn as zero */
    for (size_t s = 0; s < N_SERIES; s++) {
        const struct series *ser = &chart_series[s];
        size_t points = 0;
        for (size_t i = 0; i < w->n_inv; i++)
            points += lw_report_entry_has(&w->inv[i], ser->metric);
        if (points == 0)
            continue;
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s%s%s points=\"",
                ser->color, ser->dash ? " stroke-dasharray=\"" : "", ser->dash ? ser->dash : "",
                ser->dash ? "\"" : "");
        bool first = true;
        for (size_t i = 0; i < w->n_inv; i++) {
            const struct lw_report_entry *e = &w->inv[i];
            if (!lw_report_entry_has(e, ser->metric))
                continue;
            fprintf(out, "%s%.1f,%.1f", first ? "" : " ", XPOS(e->seq),
                    YPOS(e->value[ser->metric] / MIB));
            first = false;
        }
        fputs("\"/>\n", out);
    }

    /* legend, above the plot */
    double lx = PLOT_L;
    for (size_t s = 0; s < N_SERIES; s++) {
        const struct series *ser = &chart_series[s];
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"38\" x2=\"%.1f\" y2=\"38\" stroke=\"%s\" "
                "stroke-width=\"2\"%s%s%s/>\n",
                lx, lx + 18, ser->color, ser->dash ? " stroke-dasharray=\"" : "",
                ser->dash ? ser->dash : "", ser->dash ? "\"" : "");
        fprintf(out, "<text x=\"%.1f\" y=\"42\" font-size=\"11\">%s</text>\n", lx + 22, ser->label);
        lx += 22 + 6.0 * (double)strlen(ser->label) + 18; /* ~6 px per character at 11 px */
    }
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"32\" x2=\"%.1f\" y2=\"44\" stroke=\"#7f7f7f\" "
            "stroke-dasharray=\"3 3\"/>\n<text x=\"%.1f\" y=\"42\" font-size=\"11\">verdict "
            "change</text>\n",
            lx + 9, lx + 9, lx + 16);
    if (w->n_inv == 0)
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no invocation records</text>\n",
                (PLOT_L + PLOT_R) / 2, (PLOT_T + PLOT_B) / 2);
    fputs("</g>\n", out);
#undef XPOS
#undef YPOS
}

enum lw_err lw_report_write_svg(const struct lw_report *r, const struct lw_report_options *opt,
                                FILE *out)
{
    const struct lw_report_env *envs;
    size_t n;
    selected_envs(r, opt, &envs, &n);
    size_t panels = n ? n : 1;
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\" "
            "viewBox=\"0 0 %d %zu\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<title>leakwatch report</title>\n",
            SVG_W, panels * SVG_H, SVG_W, panels * SVG_H);
    for (size_t i = 0; i < n; i++) {
        struct window w = env_window(&envs[i], opt);
        write_chart(&envs[i], &w, (double)i * SVG_H, out);
    }
    if (n == 0)
        fputs("<text x=\"400\" y=\"200\" text-anchor=\"middle\">no environments</text>\n", out);
    fputs("</svg>\n", out);
    return ferror(out) ? LW_ERR_IO : LW_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* the command                                                                               */

static void usage(FILE *f)
{
    fputs("usage: leakwatch report [--env ID] [--last N] [--csv] [--svg FILE] [FILE...]\n"
          "\n"
          "Reads leakwatch's log lines (CloudWatch Logs exports, `aws logs tail` output, the\n"
          "function's stdout; other lines are skipped and counted) from each FILE, or from\n"
          "standard input when FILE is - or none is given, and prints per environment a\n"
          "per-invocation memory table, the leak verdict and its alerts.\n"
          "\n"
          "  --env ID     only the environment with this id (or a unique prefix of it)\n"
          "  --last N     only the last N invocations of each environment\n"
          "  --csv        CSV with raw values (bytes, ms) instead of the table\n"
          "  --svg FILE   also write a chart per environment to FILE (- for standard output,\n"
          "               which then replaces the table)\n"
          "  -h, --help   this text\n"
          "\n"
          "Exit status: 0 ok, 1 an input could not be read or held no records, 2 usage error.\n",
          f);
}

static bool parse_size(const char *s, size_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0 || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

/* The value of option `name` given as "--name VALUE" or "--name=VALUE"; NULL when not it. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

int lw_report_run(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    struct lw_report_options opt = {0};
    bool csv = false;
    const char *svg_path = NULL;
    const char **files = NULL;
    size_t n_files = 0;
    int status = 0;
    struct lw_report *r = NULL;
    FILE *svg = NULL;

    files = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*files));
    if (!files) {
        fputs("leakwatch report: out of memory\n", err);
        return 1;
    }
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool missing = false;
        const char *v;
        if (only_files || a[0] != '-' || strcmp(a, "-") == 0) {
            files[n_files++] = a;
        } else if (strcmp(a, "--") == 0) {
            only_files = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(out);
            status = 0;
            goto out;
        } else if (strcmp(a, "--csv") == 0) {
            csv = true;
        } else if ((v = opt_value(argc, argv, &i, "--env", &missing)) != NULL) {
            if (!*v) {
                fputs("leakwatch report: --env needs an environment id\n", err);
                goto usage_error;
            }
            opt.env_id = v;
        } else if ((v = opt_value(argc, argv, &i, "--last", &missing)) != NULL) {
            if (!parse_size(v, &opt.last)) {
                fprintf(err, "leakwatch report: --last needs a positive number, not '%s'\n", v);
                goto usage_error;
            }
        } else if ((v = opt_value(argc, argv, &i, "--svg", &missing)) != NULL) {
            if (!*v) {
                fputs("leakwatch report: --svg needs a file name\n", err);
                goto usage_error;
            }
            svg_path = v;
        } else if (missing) {
            fprintf(err, "leakwatch report: %s needs a value\n", a);
            goto usage_error;
        } else {
            fprintf(err, "leakwatch report: unknown option '%s'\n", a);
            goto usage_error;
        }
    }
    if (csv && svg_path && strcmp(svg_path, "-") == 0) {
        fputs("leakwatch report: --csv and --svg - both want standard output\n", err);
        goto usage_error;
    }
    if (n_files == 0) {
        /* a terminal on stdin means the user forgot the file, not that logs will be typed */
        if (isatty(fileno(in))) {
            fputs("leakwatch report: no input (give a FILE, or - to read standard input)\n", err);
            goto usage_error;
        }
        files[n_files++] = "-";
    }

    r = lw_report_new();
    if (!r) {
        fputs("leakwatch report: out of memory\n", err);
        status = 1;
        goto out;
    }
    bool stdin_done = false;
    for (size_t i = 0; i < n_files; i++) {
        bool is_stdin = strcmp(files[i], "-") == 0;
        if (is_stdin && stdin_done)
            continue;
        FILE *f = is_stdin ? in : fopen(files[i], "r");
        if (!f) {
            fprintf(err, "leakwatch report: cannot read %s: %s\n", files[i], strerror(errno));
            status = 1;
            continue;
        }
        enum lw_err e = lw_report_read(r, f);
        if (e == LW_ERR_IO)
            fprintf(err, "leakwatch report: error reading %s: %s\n",
                    is_stdin ? "standard input" : files[i], strerror(errno));
        if (is_stdin)
            stdin_done = true;
        else
            fclose(f);
        if (e == LW_ERR_NOMEM) {
            fputs("leakwatch report: out of memory\n", err);
            status = 1;
            goto out;
        }
        if (e != LW_OK)
            status = 1;
    }
    if (lw_report_finish(r) != LW_OK) {
        fputs("leakwatch report: out of memory\n", err);
        status = 1;
        goto out;
    }
    if (lw_report_env_count(r) == 0) {
        struct lw_report_stats st;
        lw_report_stats(r, &st);
        fprintf(err, "leakwatch report: no leakwatch records in %llu lines\n",
                (unsigned long long)st.lines);
        write_stats(r, err);
        status = 1;
        goto out;
    }
    if (lw_report_selected_count(r, &opt) == 0) {
        fprintf(err, "leakwatch report: --env '%s' matches no single environment (of %zu)\n",
                opt.env_id, lw_report_env_count(r));
        status = 1;
        goto out;
    }

    bool svg_to_out = svg_path && strcmp(svg_path, "-") == 0;
    if (svg_path) {
        svg = svg_to_out ? out : fopen(svg_path, "w");
        if (!svg) {
            fprintf(err, "leakwatch report: cannot write %s: %s\n", svg_path, strerror(errno));
            status = 1;
            goto out;
        }
        if (lw_report_write_svg(r, &opt, svg) != LW_OK || (!svg_to_out && fflush(svg) != 0)) {
            fprintf(err, "leakwatch report: error writing %s\n", svg_path);
            status = 1;
        }
    }
    if (csv) {
        if (lw_report_write_csv(r, &opt, out) != LW_OK)
            status = 1;
        write_stats(r, err);
    } else if (!svg_to_out) {
        if (lw_report_write_text(r, &opt, out) != LW_OK)
            status = 1;
    } else {
        write_stats(r, err);
    }
    goto out;

usage_error:
    usage(err);
    status = 2;
out:
    if (svg && svg != out && fclose(svg) != 0 && status == 0) {
        fprintf(err, "leakwatch report: error writing %s\n", svg_path);
        status = 1;
    }
    lw_report_free(r);
    free(files);
    if (fflush(out) != 0 && status == 0)
        status = 1;
    return status;
}

int lw_report_main(int argc, char **argv)
{
    return lw_report_run(argc, argv, stdin, stdout, stderr);
}
