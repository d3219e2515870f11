/*
 * `leakwatch report`: one log event into a struct lw_report_line.
 *
 * A log event is whatever the input framing (report_input.c) hands over: a line of a log
 * stream with any prefix, or the message of an export. It is parsed on its own from its first
 * '{', so that a prefix (timestamp, request id, level) never matters; a JSON object that is
 * not leakwatch's but carries the line as a string (a CloudWatch export's "message", a
 * Telemetry API event's "record") is unwrapped once. Pure.
 */
#include "report_internal.h"

#include <leakwatch/json_field.h>
#include <leakwatch/text.h>

#include <math.h>
#include <string.h>

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

/* A boolean member as a figure: 1 true, 0 false; absent when it is no boolean. */
static void parse_flag(const cJSON *obj, const char *key, int id, struct lw_report_line *out)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsBool(b))
        return;
    out->value[id] = cJSON_IsTrue(b) ? 1 : 0;
    out->have_mask |= UINT64_C(1) << id;
}

/*
 * The processes of the role "unknown": processes leakwatch could not place for certain, counted
 * in the environment's total only (see measuring.md). Each entry is the report's to read, the
 * others are not: the table shows only the function's totals.
 */
static void parse_unknown_processes(const cJSON *obj, struct lw_report_line *out)
{
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(obj, "Processes");
    const cJSON *p;
    cJSON_ArrayForEach(p, procs)
    {
        const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "Role"));
        if (!role || strcmp(role, lw_proc_role_name(LW_ROLE_UNKNOWN)) != 0)
            continue;
        out->unknown_processes++;
        double rss;
        if (lw_json_number(p, "RssEndBytes", &rss) && rss >= 0 &&
            isfinite(out->unknown_rss_end_bytes + rss))
            out->unknown_rss_end_bytes += rss;
    }
}

/* The strings of the array member key, joined by ", " into dst (cut at a whole character). */
static void parse_joined(const cJSON *obj, const char *key, char *dst, size_t cap)
{
    size_t n = 0;
    dst[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(obj, key))
    {
        const char *s = cJSON_GetStringValue(it);
        if (!s)
            continue;
        size_t sep = n ? 2 : 0;
        if (n + sep + 1 >= cap)
            break;
        memcpy(dst + n, ", ", sep);
        size_t k = lw_text_utf8_cut(s, strlen(s), cap - 1 - n - sep);
        memcpy(dst + n + sep, s, k);
        n += sep + k;
        dst[n] = '\0';
    }
}

_Static_assert((int)LW_D_COUNT <= (int)LW_M_COUNT, "a death's figures are held in value[]");

const char *const lw_report_death_names[LW_D_COUNT] = {
    [LW_D_OOM_DEATHS] = "OutOfMemoryDeaths",
    [LW_D_OOM_PREDICTED] = "OutOfMemoryPredicted",
    [LW_D_PREDICTED] = "Predicted",
    [LW_D_LEAD_INVOCATIONS] = "LeadInvocations",
    [LW_D_LEAD_MINUTES] = "LeadMinutes",
    [LW_D_LEAD_SECONDS] = "OutOfMemoryLeadSeconds",
    [LW_D_PROJECTED_SEQ] = "ProjectedOomSequence",
    [LW_D_LAST_PROJECTED_SEQ] = "LastProjectedOomSequence",
    [LW_D_ACTUAL_SEQ] = "ActualOomSequence",
    [LW_D_ERROR_PERCENT] = "ProjectionErrorPercent",
    [LW_D_LAST_FN_RSS] = "LastFunctionRssBytes",
    [LW_D_LAST_ENV_RSS] = "LastEnvironmentRssBytes",
    [LW_D_PEAK_ENV_RSS] = "PeakEnvironmentRssBytes",
    [LW_D_MEM_LIMIT] = "MemoryLimitBytes",
    [LW_D_LAST_REPORT_SEQ] = "LastReportSequence",
    [LW_D_LAST_MAX_USED_MB] = "LastMaxMemoryUsedMB",
    [LW_D_INTERVALS] = "Intervals",
    [LW_D_RESTORED] = "Restored",
};

bool lw_report_death_flag(enum lw_report_death_figure id)
{
    return id == LW_D_PREDICTED || id == LW_D_INTERVALS || id == LW_D_RESTORED;
}

/* The figures of a death line: numbers, and the flags as 1 or 0. */
static void parse_death_figures(const cJSON *root, struct lw_report_line *out)
{
    for (int i = 0; i < LW_D_COUNT; i++) {
        const char *name = lw_report_death_names[i];
        double v;
        if (lw_report_death_flag((enum lw_report_death_figure)i)) {
            parse_flag(root, name, i, out);
        } else if (lw_json_number(root, name, &v)) {
            out->value[i] = v;
            out->have_mask |= UINT64_C(1) << i;
        }
    }
}

/*
 * The culprit and, when the line names it, its pid: a runtime's workers share one name, the pid
 * says which of them grows. A pid is a positive 32-bit number; anything else is not one.
 */
static void parse_culprit(const cJSON *root, struct lw_report_line *out)
{
    lw_json_string(root, "Culprit", out->culprit, sizeof(out->culprit));
    uint64_t pid;
    if (out->culprit[0] && lw_json_count(root, "CulpritPid", &pid) == 1 && pid > 0 &&
        pid <= INT32_MAX)
        out->culprit_pid = (uint32_t)pid;
}

/* The allocation site that grew most: the first of AllocationSites, largest first as the
 * daemon writes them. A site without a text or a finite growth is none. */
static void parse_site(const cJSON *root, struct lw_report_line *out)
{
    const cJSON *sites = cJSON_GetObjectItemCaseSensitive(root, "AllocationSites");
    const cJSON *first = cJSON_IsArray(sites) ? cJSON_GetArrayItem(sites, 0) : NULL;
    if (!cJSON_IsObject(first) || !lw_json_string(first, "Site", out->site, sizeof(out->site)) ||
        !lw_json_number(first, "GrowthBytes", &out->site_growth_bytes))
        out->site[0] = '\0';
}

/* The fields an invocation and an interval record share. */
static void parse_record(const cJSON *root, struct lw_report_line *out)
{
    lw_json_string(root, "FunctionVersion", out->function_version, sizeof(out->function_version));
    lw_json_string(root, "Status", out->status, sizeof(out->status));
    lw_json_string(root, "ErrorType", out->error_type, sizeof(out->error_type));
    lw_json_string(root, "PeakMethod", out->peak_method, sizeof(out->peak_method));
    lw_json_string(root, "Verdict", out->verdict, sizeof(out->verdict));
    lw_json_string(root, "VerdictReason", out->reason, sizeof(out->reason));
    parse_culprit(root, out);
    out->cold_start = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "ColdStart"));
    out->restored = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "Restored"));
    out->incomplete = parse_incomplete(root);
    if (lw_json_count(root, "StartTimeMs", &out->start_time_ms) < 0)
        out->start_time_ms = 0;
    if (lw_json_count(root, "EndTimeMs", &out->end_time_ms) < 0)
        out->end_time_ms = 0;
    parse_metrics(root, out);
    parse_unknown_processes(root, out);
}

/*
 * Fills out from a leakwatch object of the given kind. Returns NULL, or what is wrong when the
 * required fields are bad.
 */
static const char *parse_leakwatch(const cJSON *root, enum lw_report_kind kind,
                                   struct lw_report_line *out)
{
    out->kind = kind;
    lw_json_string(root, "FunctionName", out->function_name, sizeof(out->function_name));
    if (kind == LW_REPORT_DEATH) {
        /* the environment it tells about is where it belongs; the teller is noted */
        lw_json_string(root, "DeadEnvironmentId", out->env_id, sizeof(out->env_id));
        lw_json_string(root, "EnvironmentId", out->told_by, sizeof(out->told_by));
        if (out->env_id[0] == '\0')
            return "no DeadEnvironmentId";
    } else {
        lw_json_string(root, "EnvironmentId", out->env_id, sizeof(out->env_id));
    }
    if (out->env_id[0] == '\0')
        return "no EnvironmentId";
    bool sequenced = kind != LW_REPORT_SHUTDOWN && kind != LW_REPORT_DEATH;
    if (sequenced && lw_json_count(root, "Sequence", &out->seq) != 1)
        return "no valid Sequence";
    const cJSON *aws = cJSON_GetObjectItemCaseSensitive(root, "_aws");
    if (lw_json_count(aws, "Timestamp", &out->timestamp_ms) < 0)
        out->timestamp_ms = 0;

    switch (kind) {
    case LW_REPORT_INVOCATION:
        parse_record(root, out);
        lw_json_string(root, "RequestId", out->request_id, sizeof(out->request_id));
        break;
    case LW_REPORT_INTERVAL: {
        parse_record(root, out);
        /* the interval's start; StartTimeMs says the same, and is the fallback */
        uint64_t start;
        if (lw_json_count(root, "IntervalStartTimeMs", &start) == 1)
            out->start_time_ms = start;
        break;
    }
    case LW_REPORT_SHUTDOWN:
        lw_json_string(root, "FunctionVersion", out->function_version,
                       sizeof(out->function_version));
        lw_json_string(root, "ShutdownReason", out->reason, sizeof(out->reason));
        lw_json_string(root, "ShutdownCategory", out->ending, sizeof(out->ending));
        out->have_lifetime =
            lw_json_number(root, "EnvironmentLifetimeSeconds", &out->lifetime_seconds);
        out->have_invocations =
            lw_json_count(root, "EnvironmentInvocations", &out->invocations) == 1;
        break;
    case LW_REPORT_ALERT:
        lw_json_string(root, "From", out->from, sizeof(out->from));
        lw_json_string(root, "To", out->verdict, sizeof(out->verdict));
        lw_json_string(root, "Reason", out->reason, sizeof(out->reason));
        parse_culprit(root, out);
        parse_site(root, out);
        /* an alert about interval records has its growth per hour only */
        if (lw_json_number(root, "GrowthPerInvocationBytes",
                           &out->value[LW_M_GROWTH_PER_INVOCATION]))
            out->have_mask |= UINT64_C(1) << LW_M_GROWTH_PER_INVOCATION;
        if (lw_json_number(root, "GrowthPerHourBytes", &out->value[LW_M_GROWTH_PER_HOUR]))
            out->have_mask |= UINT64_C(1) << LW_M_GROWTH_PER_HOUR;
        if (lw_json_number(root, "ProjectedMinutesToOom", &out->value[LW_M_MINUTES_TO_OOM]))
            out->have_mask |= UINT64_C(1) << LW_M_MINUTES_TO_OOM;
        break;
    case LW_REPORT_DEATH:
        lw_json_string(root, "FunctionVersion", out->function_version,
                       sizeof(out->function_version));
        lw_json_string(root, "Cause", out->ending, sizeof(out->ending));
        parse_joined(root, "OomForms", out->oom_forms, sizeof(out->oom_forms));
        lw_json_string(root, "LastVerdict", out->verdict, sizeof(out->verdict));
        lw_json_string(root, "LastStatus", out->status, sizeof(out->status));
        lw_json_string(root, "LastErrorType", out->error_type, sizeof(out->error_type));
        lw_json_string(root, "ShutdownReason", out->reason, sizeof(out->reason));
        if (lw_json_count(root, "DeadEnvironmentStartTimeMs", &out->start_time_ms) < 0)
            out->start_time_ms = 0;
        if (lw_json_count(root, "DeadEnvironmentEndTimeMs", &out->end_time_ms) < 0)
            out->end_time_ms = 0;
        out->have_lifetime =
            lw_json_number(root, "DeadEnvironmentLifetimeSeconds", &out->lifetime_seconds);
        out->have_invocations =
            lw_json_count(root, "DeadEnvironmentInvocations", &out->invocations) == 1;
        parse_death_figures(root, out);
        break;
    }
    return NULL;
}

bool lw_report_is_space(char c)
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
    while (n > 0 && lw_report_is_space(brace[n - 1]))
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
    else if (record && strcmp(record, "interval") == 0)
        kind = LW_REPORT_INTERVAL;
    else if (record && strcmp(record, "shutdown") == 0)
        kind = LW_REPORT_SHUTDOWN;
    else if (record && strcmp(record, "death") == 0)
        kind = LW_REPORT_DEATH;
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

enum lw_err lw_report_parse_detail(const char *line, size_t len, struct lw_report_line *out,
                                   enum lw_report_skip *why, const char **detail)
{
    memset(out, 0, sizeof(*out));
    *detail = NULL;
    return parse_at(line, len, out, why, detail, 0);
}

enum lw_err lw_report_parse_line(const char *line, size_t len, struct lw_report_line *out,
                                 enum lw_report_skip *why)
{
    const char *detail;
    return lw_report_parse_detail(line, len, out, why, &detail);
}

/*
 * A cut EMF line still has its "Namespace":"Leakwatch" near the start, an alert its
 * "LeakwatchAlert". Lines that merely mention leakwatch (its own log messages quoting a
 * telemetry batch) are not.
 */
bool lw_report_names_leakwatch(const char *text, size_t len)
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
