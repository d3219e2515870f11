#include <leakwatch/telemetry_events.h>

#include <leakwatch/json_arena.h>
#include <leakwatch/json_field.h>
#include <leakwatch/timefmt.h>

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

/* --- fields ---------------------------------------------------------------------------------- */

/* A finite number in item; sets the field bit. */
static void take_number(struct lw_platform_event *ev, const cJSON *item, double *dst, uint32_t bit)
{
    if (lw_json_item_number(item, dst))
        ev->fields |= bit;
}

/* The members read, each found once per object (lw_json_members): an event, its record, the
 * record's metrics. */
enum { E_TYPE, E_TIME, E_RECORD, E_COUNT };
static const char *const event_members[E_COUNT] = {"type", "time", "record"};

enum {
    R_REQUEST_ID,
    R_STATUS,
    R_ERROR_TYPE,
    R_INITIALIZATION_TYPE,
    R_PHASE,
    R_NAME,
    R_STATE,
    R_REASON,
    R_INSTANCE_ID,
    R_INSTANCE_MAX_MEMORY,
    R_METRICS,
    R_SPANS,
    R_DROPPED_RECORDS,
    R_DROPPED_BYTES,
    R_COUNT
};
static const char *const record_members[R_COUNT] = {
    [R_REQUEST_ID] = "requestId",
    [R_STATUS] = "status",
    [R_ERROR_TYPE] = "errorType",
    [R_INITIALIZATION_TYPE] = "initializationType",
    [R_PHASE] = "phase",
    [R_NAME] = "name",
    [R_STATE] = "state",
    [R_REASON] = "reason",
    [R_INSTANCE_ID] = "instanceId",
    [R_INSTANCE_MAX_MEMORY] = "instanceMaxMemory",
    [R_METRICS] = "metrics",
    [R_SPANS] = "spans",
    [R_DROPPED_RECORDS] = "droppedRecords",
    [R_DROPPED_BYTES] = "droppedBytes",
};

enum {
    MX_DURATION,
    MX_BILLED,
    MX_MEMORY_SIZE,
    MX_MAX_USED,
    MX_INIT,
    MX_RESTORE,
    MX_PRODUCED,
    MX_COUNT
};
static const char *const metric_members[MX_COUNT] = {
    [MX_DURATION] = "durationMs",      [MX_BILLED] = "billedDurationMs",
    [MX_MEMORY_SIZE] = "memorySizeMB", [MX_MAX_USED] = "maxMemoryUsedMB",
    [MX_INIT] = "initDurationMs",      [MX_RESTORE] = "restoreDurationMs",
    [MX_PRODUCED] = "producedBytes",
};

static void take_metrics(struct lw_platform_event *ev, const cJSON *metrics)
{
    const cJSON *m[MX_COUNT];
    lw_json_members(metrics, metric_members, MX_COUNT, m);
    take_number(ev, m[MX_DURATION], &ev->duration_ms, LW_EVF_DURATION);
    take_number(ev, m[MX_BILLED], &ev->billed_duration_ms, LW_EVF_BILLED_DURATION);
    take_number(ev, m[MX_MEMORY_SIZE], &ev->memory_size_mb, LW_EVF_MEMORY_SIZE);
    take_number(ev, m[MX_MAX_USED], &ev->max_memory_used_mb, LW_EVF_MAX_MEMORY_USED);
    take_number(ev, m[MX_INIT], &ev->init_duration_ms, LW_EVF_INIT_DURATION);
    take_number(ev, m[MX_RESTORE], &ev->restore_duration_ms, LW_EVF_RESTORE_DURATION);
    take_number(ev, m[MX_PRODUCED], &ev->produced_bytes, LW_EVF_PRODUCED_BYTES);
}

static void take_spans(struct lw_platform_event *ev, const cJSON *spans)
{
    const cJSON *span;
    if (!cJSON_IsArray(spans))
        return;
    cJSON_ArrayForEach(span, spans)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(span, "name");
        if (!cJSON_IsString(name) || name->valuestring == NULL)
            continue;
        const cJSON *duration = cJSON_GetObjectItemCaseSensitive(span, "durationMs");
        if (strcmp(name->valuestring, "responseLatency") == 0)
            take_number(ev, duration, &ev->response_latency_ms, LW_EVF_RESPONSE_LATENCY);
        else if (strcmp(name->valuestring, "responseDuration") == 0)
            take_number(ev, duration, &ev->response_duration_ms, LW_EVF_RESPONSE_DURATION);
        else if (strcmp(name->valuestring, "extensionOverhead") == 0)
            take_number(ev, duration, &ev->extension_overhead_ms, LW_EVF_EXTENSION_OVERHEAD);
    }
}

/* Fill ev from one array element. Returns false when the element is unparseable. */
static bool parse_event(const cJSON *item, struct lw_platform_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (!cJSON_IsObject(item))
        return false;
    const cJSON *e[E_COUNT];
    lw_json_members(item, event_members, E_COUNT, e);
    const cJSON *type = e[E_TYPE];
    if (!cJSON_IsString(type) || type->valuestring == NULL)
        return false;
    ev->type = type_of(type->valuestring);

    const cJSON *time = e[E_TIME];
    if (cJSON_IsString(time) && time->valuestring != NULL &&
        lw_time_parse_iso8601(time->valuestring, strlen(time->valuestring), 0, &ev->time_ms) ==
            LW_OK)
        ev->fields |= LW_EVF_TIME;

    const cJSON *record = e[E_RECORD];
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

    const cJSON *r[R_COUNT];
    lw_json_members(record, record_members, R_COUNT, r);
    lw_json_item_string(r[R_REQUEST_ID], ev->request_id, sizeof(ev->request_id));
    lw_json_item_string(r[R_STATUS], ev->status, sizeof(ev->status));
    lw_json_item_string(r[R_ERROR_TYPE], ev->error_type, sizeof(ev->error_type));
    lw_json_item_string(r[R_INITIALIZATION_TYPE], ev->initialization_type,
                        sizeof(ev->initialization_type));
    lw_json_item_string(r[R_PHASE], ev->phase, sizeof(ev->phase));
    lw_json_item_string(r[R_NAME], ev->name, sizeof(ev->name));
    lw_json_item_string(r[R_STATE], ev->state, sizeof(ev->state));
    lw_json_item_string(r[R_REASON], ev->reason, sizeof(ev->reason));
    if (ev->type == LW_EV_INIT_START || ev->type == LW_EV_RESTORE_START) {
        if (r[R_INSTANCE_ID] != NULL)
            ev->fields |= LW_EVF_INSTANCE_ID;
        const char *id = cJSON_GetStringValue(r[R_INSTANCE_ID]);
        if (id != NULL && strlen(id) < sizeof(ev->instance_id))
            lw_json_item_string(r[R_INSTANCE_ID], ev->instance_id, sizeof(ev->instance_id));
        take_number(ev, r[R_INSTANCE_MAX_MEMORY], &ev->instance_max_memory_bytes,
                    LW_EVF_INSTANCE_MAX_MEMORY);
    }
    if (cJSON_IsObject(r[R_METRICS]))
        take_metrics(ev, r[R_METRICS]);
    take_spans(ev, r[R_SPANS]);
    take_number(ev, r[R_DROPPED_RECORDS], &ev->dropped_records, LW_EVF_DROPPED_RECORDS);
    take_number(ev, r[R_DROPPED_BYTES], &ev->dropped_bytes, LW_EVF_DROPPED_BYTES);
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
        on_event(ctx, &ev);
    }
out:
    lw_json_delete(root);
    return err;
}
