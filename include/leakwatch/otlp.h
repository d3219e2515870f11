/*
 * The OTLP/HTTP protobuf encoder: completed invocation records (and their verdicts) become one
 * ExportMetricsServiceRequest. Pure: the caller passes the records, the health counters, the
 * resource and the times; the protobuf-c tree is built, packed and freed inside one call and
 * what escapes is bytes.
 *
 * What a request holds: one ResourceMetrics (the Lambda resource), one ScopeMetrics (scope
 * "leakwatch" + version) and
 *   - one Gauge per metric of <leakwatch/metrics.h> that at least one record has, with one data
 *     point per record (time_unix_nano = the record's end, as_double = lw_metric_value());
 *   - one monotonic cumulative Sum per health counter (<leakwatch/health.h>) named
 *     "leakwatch.health.<snake_case>", unit "1", as_int, start = process start.
 * Data points carry no attributes: request ids and sequence numbers would make every point a
 * series of its own, and the environment is already told apart by the resource (faas.instance).
 */
#ifndef LEAKWATCH_OTLP_H
#define LEAKWATCH_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/health.h>
#include <leakwatch/record.h>
#include <leakwatch/verdict.h>

#define LW_OTLP_MAX_ATTRS 32     /* resource attributes; more are counted as dropped */
#define LW_OTLP_ATTR_KEY_MAX 128 /* NUL included */
#define LW_OTLP_ATTR_VALUE_MAX 256
#define LW_OTLP_MAX_REQUEST_BYTES (4u << 20) /* hard cap of one encoded request */
#define LW_OTLP_SCOPE_NAME "leakwatch"

enum lw_otlp_attr_type { LW_OTLP_STRING = 0, LW_OTLP_INT, LW_OTLP_BOOL, LW_OTLP_DOUBLE };

/* One resource attribute, plain data. */
struct lw_otlp_attr {
    char key[LW_OTLP_ATTR_KEY_MAX];
    enum lw_otlp_attr_type type;
    char str[LW_OTLP_ATTR_VALUE_MAX]; /* LW_OTLP_STRING */
    int64_t i;                        /* LW_OTLP_INT */
    bool b;                           /* LW_OTLP_BOOL */
    double d;                         /* LW_OTLP_DOUBLE */
};

/* The resource every data point belongs to. Keys are unique (lw_otlp_resource_set replaces). */
struct lw_otlp_resource {
    size_t n_attrs;
    struct lw_otlp_attr attrs[LW_OTLP_MAX_ATTRS];
    uint32_t dropped_attrs; /* attributes that did not fit; sent as dropped_attributes_count */
};

/* One record and its verdict (NULL when the trend engine said nothing). Borrowed. */
struct lw_otlp_item {
    const struct lw_record *rec;
    const struct lw_verdict *verdict;
};

/*
 * Sets (adds or replaces) a string / int attribute. Keys or values longer than their caps are
 * refused with LW_ERR_TOO_LARGE; a full resource counts the attribute in dropped_attrs and
 * returns LW_ERR_FULL.
 */
enum lw_err lw_otlp_resource_set_str(struct lw_otlp_resource *res, const char *key,
                                     const char *value);
enum lw_err lw_otlp_resource_set_int(struct lw_otlp_resource *res, const char *key, int64_t value);

/* The attribute with that key, NULL when absent. */
const struct lw_otlp_attr *lw_otlp_resource_get(const struct lw_otlp_resource *res,
                                                const char *key);

/*
 * Encodes items[0..n) into buf[0..cap): *len is set to the request's size. health may be NULL
 * (no health sums). now_ms stamps the health sums; process_start_ms is their start time.
 * Returns LW_ERR_TOO_LARGE when the request exceeds cap or LW_OTLP_MAX_REQUEST_BYTES (nothing
 * is written; the caller sends fewer items), LW_ERR_INVALID for n > 0 with items NULL,
 * LW_ERR_NOMEM.
 */
enum lw_err lw_otlp_encode(const struct lw_otlp_resource *res, const struct lw_otlp_item *items,
                           size_t n, const struct lw_health *health, uint64_t process_start_ms,
                           uint64_t now_ms, uint8_t *buf, size_t cap, size_t *len);

/*
 * Reads an ExportMetricsServiceResponse body. An empty body is full success. On partial success
 * *rejected_points > 0 and msg holds the collector's error_message (truncated to msg_cap).
 * Returns LW_ERR_INVALID when the body is not a response message.
 */
enum lw_err lw_otlp_decode_response(const void *body, size_t len, int64_t *rejected_points,
                                    char *msg, size_t msg_cap);

/* "TelemetryEventsReceived" -> "leakwatch.health.telemetry_events_received" into out. */
void lw_otlp_health_metric_name(enum lw_health_counter which, char *out, size_t cap);

#endif
