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
