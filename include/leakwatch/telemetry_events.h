/*
 * Telemetry API batches (schema 2022-12-13) turned into plain structs. Pure: the caller passes
 * the body bytes; the cJSON tree is built, used and freed inside lw_telemetry_events_parse().
 *
 * A batch is a JSON array of {"time": ISO-8601, "type": string, "record": object|string}.
 * Unknown event types and unknown fields are ignored (Lambda adds them over time); missing
 * fields are tolerated and reported as absent through the `fields` bits; every number is read
 * as a double (the platform marshals some integers as floats).
 */
#ifndef LEAKWATCH_TELEMETRY_EVENTS_H
#define LEAKWATCH_TELEMETRY_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/health.h>
#include <leakwatch/record.h>

enum lw_platform_event_type {
    LW_EV_UNKNOWN = 0,
    LW_EV_INIT_START,             /* platform.initStart */
    LW_EV_INIT_RUNTIME_DONE,      /* platform.initRuntimeDone */
    LW_EV_INIT_REPORT,            /* platform.initReport */
    LW_EV_START,                  /* platform.start */
    LW_EV_RUNTIME_DONE,           /* platform.runtimeDone */
    LW_EV_REPORT,                 /* platform.report */
    LW_EV_RESTORE_START,          /* platform.restoreStart (SnapStart) */
    LW_EV_RESTORE_RUNTIME_DONE,   /* platform.restoreRuntimeDone */
    LW_EV_RESTORE_REPORT,         /* platform.restoreReport */
    LW_EV_EXTENSION,              /* platform.extension */
    LW_EV_TELEMETRY_SUBSCRIPTION, /* platform.telemetrySubscription */
    LW_EV_LOGS_DROPPED,           /* platform.logsDropped */
    LW_EV_FUNCTION_LOG,           /* function: a log line of the function */
    LW_EV_EXTENSION_LOG,          /* extension: a log line of an extension */
    LW_EV_COUNT
};

/* "platform.initStart", ..., "function", "extension"; "unknown" for LW_EV_UNKNOWN. */
const char *lw_platform_event_type_name(enum lw_platform_event_type type);

/* Which optional fields of struct lw_platform_event were present. Bit flags. */
enum lw_platform_event_field {
    LW_EVF_TIME = 1u << 0,
    LW_EVF_DURATION = 1u << 1,            /* metrics.durationMs */
    LW_EVF_BILLED_DURATION = 1u << 2,     /* metrics.billedDurationMs */
    LW_EVF_MEMORY_SIZE = 1u << 3,         /* metrics.memorySizeMB */
    LW_EVF_MAX_MEMORY_USED = 1u << 4,     /* metrics.maxMemoryUsedMB */
    LW_EVF_INIT_DURATION = 1u << 5,       /* metrics.initDurationMs */
    LW_EVF_RESTORE_DURATION = 1u << 6,    /* metrics.restoreDurationMs */
    LW_EVF_PRODUCED_BYTES = 1u << 7,      /* metrics.producedBytes */
    LW_EVF_RESPONSE_LATENCY = 1u << 8,    /* span responseLatency */
    LW_EVF_RESPONSE_DURATION = 1u << 9,   /* span responseDuration */
    LW_EVF_EXTENSION_OVERHEAD = 1u << 10, /* span extensionOverhead */
    LW_EVF_DROPPED_RECORDS = 1u << 11,
    LW_EVF_DROPPED_BYTES = 1u << 12,
    /* initStart / restoreStart, schema 2025-01-29: instanceMaxMemory (bytes) */
    LW_EVF_INSTANCE_MAX_MEMORY = 1u << 13,
    /* initStart / restoreStart: the record has an instanceId member, of whatever type (a usable
     * one is in instance_id; "" there then means one that is not) */
    LW_EVF_INSTANCE_ID = 1u << 14,
};

#define LW_EV_WORD_MAX 32 /* initializationType, phase, state, reason (longer ones truncated) */

/* One event. Strings are NUL-terminated, "" when absent, truncated to their buffer. */
struct lw_platform_event {
    enum lw_platform_event_type type;
    uint32_t fields;  /* enum lw_platform_event_field bits */
    uint64_t time_ms; /* "time", Unix epoch milliseconds (LW_EVF_TIME) */
    char request_id[LW_REQUEST_ID_MAX];
    char status[LW_STATUS_MAX];
    char error_type[LW_ERROR_TYPE_MAX];
    char initialization_type[LW_EV_WORD_MAX]; /* on-demand, provisioned-concurrency, snap-start */
    char phase[LW_EV_WORD_MAX];               /* init, invoke */
    char name[LW_NAME_MAX];                   /* extension / subscriber name */
    char state[LW_EV_WORD_MAX];               /* platform.extension / telemetrySubscription */
    char reason[LW_EV_WORD_MAX];              /* platform.logsDropped */
    /* initStart / restoreStart, schema 2025-01-29: the platform's identity of the environment
     * (the log stream name); "" when absent or longer than the buffer (never cut: a cut id
     * could name two environments alike) */
    char instance_id[LW_ENV_ID_MAX];
    double instance_max_memory_bytes;
    double duration_ms;
    double billed_duration_ms;
    double memory_size_mb;
    double max_memory_used_mb;
    double init_duration_ms;
    double restore_duration_ms;
    double produced_bytes;
    double response_latency_ms;
    double response_duration_ms;
    double extension_overhead_ms;
    double dropped_records;
    double dropped_bytes;
    size_t log_bytes; /* function/extension: length of the log line (text not kept) */
};

/*
 * Parse one batch body[0..len) (need not be NUL-terminated) and call on_event for each event,
 * in batch order; the event is valid only during the call. Health: every array element counts
 * LW_H_TELEMETRY_RECEIVED; an element that is not an object with a string "type", or a known
 * event whose record has the wrong shape, counts LW_H_TELEMETRY_UNPARSEABLE and is skipped; an
 * unknown type counts LW_H_TELEMETRY_UNKNOWN and is skipped. Nothing here judges whether an
 * event is believable (a platform.logsDropped's count included): the ledger's plausibility
 * filter does, with what leakwatch knows.
 * Returns LW_OK, or LW_ERR_INVALID when the body is not a JSON array or cannot be parsed
 * within memory (counted once as unparseable; nothing delivered).
 */
enum lw_err lw_telemetry_events_parse(const char *body, size_t len,
                                      void (*on_event)(void *ctx,
                                                       const struct lw_platform_event *ev),
                                      void *ctx, struct lw_health *health);

#endif
