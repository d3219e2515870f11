/*
 * leakwatch's own health counters: everything dropped, evicted or refused is counted here and
 * shipped as metrics ("nothing lost silently"). Counters only grow; several threads add to them,
 * so they are updated with atomic adds and read with lw_health_read().
 */
#ifndef LEAKWATCH_HEALTH_H
#define LEAKWATCH_HEALTH_H

#include <stdint.h>

enum lw_health_counter {
    LW_H_TELEMETRY_RECEIVED = 0, /* telemetry events received */
    LW_H_TELEMETRY_DROPPED,      /* records Lambda dropped (platform.logsDropped droppedRecords) */
    LW_H_TELEMETRY_UNPARSEABLE,  /* events or batches that were not valid JSON/records */
    LW_H_TELEMETRY_UNKNOWN,      /* events of a type leakwatch does not know (ignored) */
    LW_H_TELEMETRY_LATE,         /* events for an invocation already emitted */
    LW_H_TELEMETRY_REJECTED,     /* HTTP requests the listener rejected (malformed, too large) */
    LW_H_LEDGER_EVICTED,         /* pending entries evicted from the bounded join table */
    LW_H_RECORDS_INCOMPLETE,     /* records emitted incomplete, for any gap (each once) */
    LW_H_EMF_DROPPED,            /* EMF lines not written (stdout full or failed) */
    LW_H_OTLP_DROPPED,           /* records dropped by the OTLP exporter (queue full, failed) */
    LW_H_OTLP_EXPORTS_FAILED,    /* OTLP requests that failed for good */
    LW_H_OTLP_REJECTED_POINTS,   /* data points a collector rejected (partial success) */
    LW_H_PROCS_DROPPED,          /* processes not read because of LW_MAX_PROCS */
    /* telemetry events that do not fit what leakwatch knows (unknown or repeated request id,
     * out-of-range values): forged, replayed or broken; never merged into a record */
    LW_H_TELEMETRY_EVENTS_REJECTED,
    /* listener connections closed before they finished a request: idle or slow before proving
     * they know the subscription's path, not reading their answers, or pushed out by newer ones */
    LW_H_TELEMETRY_CONNECTIONS_DROPPED,
    /* runtime probe reports not used: a probe file or GC log that is no regular file, belongs to
     * another process, fails its checksum twice or is not a probe's at all, and GC log bytes
     * jumped over because more came in one invocation than a boundary reads */
    LW_H_PROBE_REJECTED,
    LW_H_COUNT
};

struct lw_health {
    uint64_t c[LW_H_COUNT];
};

/* Atomically add n to counter which. */
void lw_health_add(struct lw_health *h, enum lw_health_counter which, uint64_t n);

/* A consistent-enough copy of every counter (each read atomically). */
void lw_health_read(const struct lw_health *h, struct lw_health *out);

/* The public metric name of a counter, e.g. "TelemetryEventsReceived". */
const char *lw_health_name(enum lw_health_counter which);

#endif
