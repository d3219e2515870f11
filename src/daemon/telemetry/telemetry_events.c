#include <leakwatch/telemetry_events.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

static const char *const type_names[LW_EV_COUNT] = {
    [LW_EV_UNKNOWN] = "unknown",
    [LW_EV_INIT_START] = "platform.initStart",
    [LW_EV_INIT_RUNTIME_DONE] = "platform.initRuntimeDone",
    [LW_EV_INIT_REPORT] = "platform.initReport",
    [LW_EV_START] = "platform.start",
    [LW_EV_RUNTIME_DONE] = "platform.runtimeDone",
    [LW_EV_REPORT] = "platform.report",
    [LW_EV_RESTORE_START] = "platform.restoreStart",
    [LW_EV_RESTORE_RUNTIME_DONE] = "platform.restoreRuntimeDone",
    [LW_EV_RESTORE_REPORT] = "platform.restoreReport",
    [LW_EV_EXTENSION] = "platform.extension",
    [LW_EV_TELEMETRY_SUBSCRIPTION] = "platform.telemetrySubscription",
    [LW_EV_LOGS_DROPPED] = "platform.logsDropped",
    [LW_EV_FUNCTION_LOG] = "function",
    [LW_EV_EXTENSION_LOG] = "extension",
};

const char *lw_platform_event_type_name(enum lw_platform_event_type type)
{
    if ((unsigned)type >= LW_EV_COUNT)
        return "unknown";
    return type_names[type];
}

static enum lw_platform_event_type type_of(const char *s)
{
    for (int i = 1; i < LW_EV_COUNT; i++) {
        if (strcmp(s, type_names[i]) == 0)
            return (enum lw_platform_event_type)i;
    }
    return LW_EV_UNKNOWN;
}

/* --- time ------------------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Read exactly n digits at s[*pos]. */
static bool digits(const char *s, size_t len, size_t *pos, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
            return false;
        v = v * 10 + (s[(*pos)++] - '0');
    }
    *out = v;
    return true;
}

static bool expect_char(const char *s, size_t len, size_t *pos, char c)
{
    if (*pos >= len || s[*pos] != c)
        return false;
    (*pos)++;
    return true;
}

enum lw_err lw_telemetry_parse_time(const char *s, size_t len, uint64_t *out_ms)
{
    size_t p = 0;
    int64_t y, mo, d, h, mi, sec, ms = 0;
    if (!digits(s, len, &p, 4, &y) || !expect_char(s, len, &p, '-') ||
        !digits(s, len, &p, 2, &mo) || !expect_char(s, len, &p, '-') || !digits(s, len, &p, 2, &d))
        return LW_ERR_INVALID;
    if (p >= len || (s[p] != 'T' && s[p] != 't' && s[p] != ' '))
        return LW_ERR_INVALID;
    p++;
    if (!digits(s, len, &p, 2, &h) || !expect_char(s, len, &p, ':') ||
        !digits(s, len, &p, 2, &mi) || !expect_char(s, len, &p, ':') ||
        !digits(s, len, &p, 2, &sec))
        return LW_ERR_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return LW_ERR_INVALID;
    if (p < len && s[p] == '.') {
        p++;
        int n = 0;
        while (p < len && s[p] >= '0' && s[p] <= '9') {
            if (n < 3)
                ms = ms * 10 + (s[p] - '0');
            n++;
            p++;
        }
        if (n == 0)
            return LW_ERR_INVALID;
        for (; n < 3; n++)
            ms *= 10;
    }
    int64_t offset_s = 0;
    if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
        int sign = s[p++] == '-' ? -1 : 1;
        int64_t oh, om;
        if (!digits(s, len, &p, 2, &oh) || !expect_char(s, len, &p, ':') ||
            !digits(s, len, &p, 2, &om) || oh > 23 || om > 59)
            return LW_ERR_INVALID;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return LW_ERR_INVALID; /* a time without a zone is ambiguous */
    }
    if (p != len)
        return LW_ERR_INVALID;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    if (t < 0)
        return LW_ERR_INVALID;
    *out_ms = (uint64_t)t * 1000 + (uint64_t)ms;
    return LW_OK;
}

/* --- fields ---------------------------------------------------------------------------------- */

static void copy_string(char *dst, size_t cap, const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(item) || item->valuestring == NULL)
        return;
    size_t n = strlen(item->valuestring);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, item->valuestring, n);
    dst[n] = '\0';
}

/* A finite number under key; sets the field bit. */
static void take_number(struct lw_platform_event *ev, const cJSON *obj, const char *key,
                        double *dst, uint32_t bit)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return;
    *dst = item->valuedouble;
    ev->fields |= bit;
}

static void take_metrics(struct lw_platform_event *ev, const cJSON *record)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(record, "metrics");
    if (!cJSON_IsObject(m))
        return;
    take_number(ev, m, "durationMs", &ev->duration_ms, LW_EVF_DURATION);
    take_number(ev, m, "billedDurationMs", &ev->billed_duration_ms, LW_EVF_BILLED_DURATION);
    take_number(ev, m, "memorySizeMB", &ev->memory_size_mb, LW_EVF_MEMORY_SIZE);
    take_number(ev, m, "maxMemoryUsedMB", &ev->max_memory_used_mb, LW_EVF_MAX_MEMORY_USED);
    take_number(ev, m, "initDurationMs", &ev->init_duration_ms, LW_EVF_INIT_DURATION);
    take_number(ev, m, "restoreDurationMs", &ev->restore_duration_ms, LW_EVF_RESTORE_DURATION);
    take_number(ev, m, "producedBytes", &ev->produced_bytes, LW_EVF_PRODUCED_BYTES);
}

static void take_spans(struct lw_platform_event *ev, const cJSON *record)
{
    const cJSON *spans = cJSON_GetObjectItemCaseSensitive(record, "spans");
    const cJSON *span;
    if (!cJSON_IsArray(spans))
        return;
    cJSON_ArrayForEach(span, spans)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(span, "name");
        if (!cJSON_IsString(name) || name->valuestring == NULL)
            continue;
        if (strcmp(name->valuestring, "responseLatency") == 0)
            take_number(ev, span, "durationMs", &ev->response_latency_ms, LW_EVF_RESPONSE_LATENCY);
        else if (strcmp(name->valuestring, "responseDuration") == 0)
            take_number(ev, span, "durationMs", &ev->response_duration_ms,
                        LW_EVF_RESPONSE_DURATION);
        else if (strcmp(name->valuestring, "extensionOverhead") == 0)
            take_number(ev, span, "durationMs", &ev->extension_overhead_ms,
                        LW_EVF_EXTENSION_OVERHEAD);
    }
}

/* Fill ev from one array element. Returns false when the element is unparseable. */
static bool parse_event(const cJSON *item, struct lw_platform_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (!cJSON_IsObject(item))
        return false;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
    if (!cJSON_IsString(type) || type->valuestring == NULL)
        return false;
    ev->type = type_of(type->valuestring);

    const cJSON *time = cJSON_GetObjectItemCaseSensitive(item, "time");
    if (cJSON_IsString(time) && time->valuestring != NULL &&
        lw_telemetry_parse_time(time->valuestring, strlen(time->valuestring), &ev->time_ms) ==
            LW_OK)
        ev->fields |= LW_EVF_TIME;

    const cJSON *record = cJSON_GetObjectItemCaseSensitive(item, "record");
    if (ev->type == LW_EV_UNKNOWN)
        return true;
    if (ev->type == LW_EV_FUNCTION_LOG || ev->type == LW_EV_EXTENSION_LOG) {
        /* A text line, or an object when the function logs in JSON format. */
        if (cJSON_IsString(record) && record->valuestring != NULL)
            ev->log_bytes = strlen(record->valuestring);
        else if (!cJSON_IsObject(record))
            return false;
        return true;
    }
    if (!cJSON_IsObject(record))
        return false;

    copy_string(ev->request_id, sizeof(ev->request_id), record, "requestId");
    copy_string(ev->status, sizeof(ev->status), record, "status");
    copy_string(ev->error_type, sizeof(ev->error_type), record, "errorType");
    copy_string(ev->initialization_type, sizeof(ev->initialization_type), record,
                "initializationType");
    copy_string(ev->phase, sizeof(ev->phase), record, "phase");
    copy_string(ev->name, sizeof(ev->name), record, "name");
    copy_string(ev->state, sizeof(ev->state), record, "state");
    copy_string(ev->reason, sizeof(ev->reason), record, "reason");
    take_metrics(ev, record);
    take_spans(ev, record);
    take_number(ev, record, "droppedRecords", &ev->dropped_records, LW_EVF_DROPPED_RECORDS);
    take_number(ev, record, "droppedBytes", &ev->dropped_bytes, LW_EVF_DROPPED_BYTES);
    return true;
}

enum lw_err lw_telemetry_events_parse(const char *body, size_t len,
                                      void (*on_event)(void *ctx,
                                                       const struct lw_platform_event *ev),
                                      void *ctx, struct lw_health *health)
{
    enum lw_err err = LW_OK;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *item;
    struct lw_platform_event ev;

    /* cJSON returns NULL for bad input and for a failed allocation alike; both are "unparseable".
     */
    if (!cJSON_IsArray(root)) {
        lw_health_add(health, LW_H_TELEMETRY_UNPARSEABLE, 1);
        err = LW_ERR_INVALID;
        goto out;
    }
    cJSON_ArrayForEach(item, root)
    {
        lw_health_add(health, LW_H_TELEMETRY_RECEIVED, 1);
        if (!parse_event(item, &ev)) {
            lw_health_add(health, LW_H_TELEMETRY_UNPARSEABLE, 1);
            continue;
        }
        if (ev.type == LW_EV_UNKNOWN) {
            lw_health_add(health, LW_H_TELEMETRY_UNKNOWN, 1);
            continue;
        }
        if (ev.type == LW_EV_LOGS_DROPPED && (ev.fields & LW_EVF_DROPPED_RECORDS) &&
            ev.dropped_records > 0 && ev.dropped_records < 1e18)
            lw_health_add(health, LW_H_TELEMETRY_DROPPED, (uint64_t)ev.dropped_records);
        on_event(ctx, &ev);
    }
out:
    cJSON_Delete(root);
    return err;
}
