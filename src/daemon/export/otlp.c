#include <leakwatch/otlp.h>

#include <leakwatch/metrics.h>

#include <stdlib.h>
#include <string.h>

#include "otlp_metrics.pb-c.h"

/* The generated names are long; these keep the code readable. */
#define PbAnyValue Opentelemetry__Proto__Collector__Metrics__V1__AnyValue
#define PbExportMetricsServiceRequest                                                              \
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest
#define PbExportMetricsServiceResponse                                                             \
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse
#define PbGauge Opentelemetry__Proto__Collector__Metrics__V1__Gauge
#define PbInstrumentationScope Opentelemetry__Proto__Collector__Metrics__V1__InstrumentationScope
#define PbKeyValue Opentelemetry__Proto__Collector__Metrics__V1__KeyValue
#define PbMetric Opentelemetry__Proto__Collector__Metrics__V1__Metric
#define PbNumberDataPoint Opentelemetry__Proto__Collector__Metrics__V1__NumberDataPoint
#define PbResource Opentelemetry__Proto__Collector__Metrics__V1__Resource
#define PbResourceMetrics Opentelemetry__Proto__Collector__Metrics__V1__ResourceMetrics
#define PbScopeMetrics Opentelemetry__Proto__Collector__Metrics__V1__ScopeMetrics
#define PbSum Opentelemetry__Proto__Collector__Metrics__V1__Sum
/* The generated __INIT macros cast away const (-Wcast-qual); the generated init functions do
 * the same work inside the generated code. */
#define PB_INIT(name, var) opentelemetry__proto__collector__metrics__v1__##name##__init(var)
#define PB_ENUM(NAME) OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__##NAME

/*
 * protobuf-c declares string fields as char * although packing only reads them. The tree built
 * here lives for one call and is never unpacked into, so pointing it at const strings is safe.
 */
static char *unconst(const char *s)
{
    return (char *)(uintptr_t)s;
}

static struct lw_otlp_attr *find_attr(struct lw_otlp_resource *res, const char *key)
{
    for (size_t i = 0; i < res->n_attrs; i++) {
        if (strcmp(res->attrs[i].key, key) == 0)
            return &res->attrs[i];
    }
    return NULL;
}

const struct lw_otlp_attr *lw_otlp_resource_get(const struct lw_otlp_resource *res, const char *key)
{
    for (size_t i = 0; i < res->n_attrs; i++) {
        if (strcmp(res->attrs[i].key, key) == 0)
            return &res->attrs[i];
    }
    return NULL;
}

/* The slot for key: the existing one or a new one. NULL (and the drop counted) when full. */
static enum lw_err attr_slot(struct lw_otlp_resource *res, const char *key,
                             struct lw_otlp_attr **out)
{
    size_t key_len = strlen(key);
    if (key_len == 0)
        return LW_ERR_INVALID;
    if (key_len >= LW_OTLP_ATTR_KEY_MAX)
        return LW_ERR_TOO_LARGE;
    struct lw_otlp_attr *a = find_attr(res, key);
    if (a == NULL) {
        if (res->n_attrs >= LW_OTLP_MAX_ATTRS) {
            res->dropped_attrs++;
            return LW_ERR_FULL;
        }
        a = &res->attrs[res->n_attrs++];
        memcpy(a->key, key, key_len + 1);
    }
    *out = a;
    return LW_OK;
}

enum lw_err lw_otlp_resource_set_str(struct lw_otlp_resource *res, const char *key,
                                     const char *value)
{
    size_t value_len = strlen(value);
    if (value_len >= LW_OTLP_ATTR_VALUE_MAX)
        return LW_ERR_TOO_LARGE;
    struct lw_otlp_attr *a;
    enum lw_err err = attr_slot(res, key, &a);
    if (err != LW_OK)
        return err;
    a->type = LW_OTLP_STRING;
    memcpy(a->str, value, value_len + 1);
    return LW_OK;
}

enum lw_err lw_otlp_resource_set_int(struct lw_otlp_resource *res, const char *key, int64_t value)
{
    struct lw_otlp_attr *a;
    enum lw_err err = attr_slot(res, key, &a);
    if (err != LW_OK)
        return err;
    a->type = LW_OTLP_INT;
    a->str[0] = '\0';
    a->i = value;
    return LW_OK;
}

void lw_otlp_health_metric_name(enum lw_health_counter which, char *out, size_t cap)
{
    static const char prefix[] = "leakwatch.health.";
    const char *camel = lw_health_name(which);
    size_t pos = 0;
    if (cap == 0)
        return;
    for (size_t i = 0; prefix[i] != '\0' && pos + 1 < cap; i++)
        out[pos++] = prefix[i];
    for (size_t i = 0; camel[i] != '\0' && pos + 1 < cap; i++) {
        char c = camel[i];
        if (c >= 'A' && c <= 'Z') {
            if (i > 0 && pos + 2 < cap)
                out[pos++] = '_';
            else if (i > 0)
                break;
            c = (char)(c - 'A' + 'a');
        }
        out[pos++] = c;
    }
    out[pos] = '\0';
}

static uint64_t ms_to_ns(uint64_t ms)
{
    /* Epoch milliseconds fit: 2^64 ns is the year 2554. */
    return ms * 1000000ull;
}

/* A data point is stamped with the record's end: the figures are those of that boundary. */
static uint64_t record_time_ms(const struct lw_record *rec)
{
    return rec->end_time_ms != 0 ? rec->end_time_ms : rec->start_time_ms;
}

#define HEALTH_NAME_MAX 96

enum lw_err lw_otlp_encode(const struct lw_otlp_resource *res, const struct lw_otlp_item *items,
                           size_t n, const struct lw_health *health, uint64_t process_start_ms,
                           uint64_t now_ms, uint8_t *buf, size_t cap, size_t *len)
{
    enum lw_err err = LW_OK;
    *len = 0;
    if ((n > 0 && items == NULL) || res == NULL || res->n_attrs > LW_OTLP_MAX_ATTRS)
        return LW_ERR_INVALID;
    if (n > SIZE_MAX / LW_M_COUNT / sizeof(PbNumberDataPoint))
        return LW_ERR_TOO_LARGE;

    /* Resource attributes: small and bounded, on the stack. */
    PbKeyValue kv[LW_OTLP_MAX_ATTRS];
    PbAnyValue av[LW_OTLP_MAX_ATTRS];
    PbKeyValue *kv_ptrs[LW_OTLP_MAX_ATTRS];
    for (size_t i = 0; i < res->n_attrs; i++) {
        const struct lw_otlp_attr *a = &res->attrs[i];
        PbKeyValue k;
        PB_INIT(key_value, &k);
        PbAnyValue v;
        PB_INIT(any_value, &v);
        switch (a->type) {
        case LW_OTLP_INT:
            v.value_case = PB_ENUM(ANY_VALUE__VALUE_INT_VALUE);
            v.int_value = a->i;
            break;
        case LW_OTLP_BOOL:
            v.value_case = PB_ENUM(ANY_VALUE__VALUE_BOOL_VALUE);
            v.bool_value = a->b;
            break;
        case LW_OTLP_DOUBLE:
            v.value_case = PB_ENUM(ANY_VALUE__VALUE_DOUBLE_VALUE);
            v.double_value = a->d;
            break;
        case LW_OTLP_STRING:
        default:
            v.value_case = PB_ENUM(ANY_VALUE__VALUE_STRING_VALUE);
            v.string_value = unconst(a->str);
            break;
        }
        av[i] = v;
        k.key = unconst(a->key);
        k.value = &av[i];
        kv[i] = k;
        kv_ptrs[i] = &kv[i];
    }
    PbResource resource;
    PB_INIT(resource, &resource);
    resource.n_attributes = res->n_attrs;
    resource.attributes = res->n_attrs > 0 ? kv_ptrs : NULL;
    resource.dropped_attributes_count = res->dropped_attrs;

    PbInstrumentationScope scope;
    PB_INIT(instrumentation_scope, &scope);
    scope.name = unconst(LW_OTLP_SCOPE_NAME);
    scope.version = unconst(LW_VERSION);

    /* Metrics: at most one per metric id and one per health counter, on the stack; the data
     * points (n per gauge) on the heap. */
    PbMetric metrics[LW_M_COUNT + LW_H_COUNT];
    PbMetric *metric_ptrs[LW_M_COUNT + LW_H_COUNT];
    PbGauge gauges[LW_M_COUNT];
    PbSum sums[LW_H_COUNT];
    char health_names[LW_H_COUNT][HEALTH_NAME_MAX];
    size_t n_metrics = 0;

    size_t n_points = n * LW_M_COUNT + LW_H_COUNT;
    PbNumberDataPoint *points = calloc(n_points, sizeof(*points));
    PbNumberDataPoint **point_ptrs = calloc(n_points, sizeof(*point_ptrs));
    if (points == NULL || point_ptrs == NULL) {
        err = LW_ERR_NOMEM;
        goto out;
    }
    size_t used = 0;

    for (int id = 0; id < LW_M_COUNT; id++) {
        const struct lw_metric_desc *desc = lw_metric_desc((enum lw_metric_id)id);
        size_t first = used;
        for (size_t i = 0; i < n; i++) {
            double value;
            if (items[i].rec == NULL ||
                !lw_metric_value((enum lw_metric_id)id, items[i].rec, items[i].verdict, &value))
                continue;
            PbNumberDataPoint p;
            PB_INIT(number_data_point, &p);
            p.time_unix_nano = ms_to_ns(record_time_ms(items[i].rec));
            p.value_case = PB_ENUM(NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
            p.as_double = value;
            points[used] = p;
            point_ptrs[used] = &points[used];
            used++;
        }
        if (used == first || desc == NULL)
            continue; /* no record has this figure: left out, never sent as 0 */
        PbGauge g;
        PB_INIT(gauge, &g);
        g.n_data_points = used - first;
        g.data_points = &point_ptrs[first];
        gauges[id] = g;
        PbMetric m;
        PB_INIT(metric, &m);
        m.name = unconst(desc->otlp_name);
        m.unit = unconst(desc->ucum_unit);
        m.data_case = PB_ENUM(METRIC__DATA_GAUGE);
        m.gauge = &gauges[id];
        metrics[n_metrics] = m;
        metric_ptrs[n_metrics] = &metrics[n_metrics];
        n_metrics++;
    }

    if (health != NULL) {
        struct lw_health snap;
        lw_health_read(health, &snap);
        for (int h = 0; h < LW_H_COUNT; h++) {
            lw_otlp_health_metric_name((enum lw_health_counter)h, health_names[h], HEALTH_NAME_MAX);
            PbNumberDataPoint p;
            PB_INIT(number_data_point, &p);
            p.start_time_unix_nano = ms_to_ns(process_start_ms);
            p.time_unix_nano = ms_to_ns(now_ms);
            p.value_case = PB_ENUM(NUMBER_DATA_POINT__VALUE_AS_INT);
            /* Counters only grow and stay far below 2^63. */
            p.as_int = snap.c[h] > INT64_MAX ? INT64_MAX : (int64_t)snap.c[h];
            points[used] = p;
            point_ptrs[used] = &points[used];
            PbSum s;
            PB_INIT(sum, &s);
            s.n_data_points = 1;
            s.data_points = &point_ptrs[used];
            s.aggregation_temporality =
                PB_ENUM(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
            s.is_monotonic = 1;
            sums[h] = s;
            used++;
            PbMetric m;
            PB_INIT(metric, &m);
            m.name = health_names[h];
            m.unit = unconst("1");
            m.data_case = PB_ENUM(METRIC__DATA_SUM);
            m.sum = &sums[h];
            metrics[n_metrics] = m;
            metric_ptrs[n_metrics] = &metrics[n_metrics];
            n_metrics++;
        }
    }

    PbScopeMetrics sm;
    PB_INIT(scope_metrics, &sm);
    sm.scope = &scope;
    sm.n_metrics = n_metrics;
    sm.metrics = n_metrics > 0 ? metric_ptrs : NULL;
    PbScopeMetrics *sm_ptr = &sm;

    PbResourceMetrics rm;
    PB_INIT(resource_metrics, &rm);
    rm.resource = &resource;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = &sm_ptr;
    PbResourceMetrics *rm_ptr = &rm;

    PbExportMetricsServiceRequest req;
    PB_INIT(export_metrics_service_request, &req);
    req.n_resource_metrics = 1;
    req.resource_metrics = &rm_ptr;

    size_t size =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(
            &req);
    if (size > cap || size > LW_OTLP_MAX_REQUEST_BYTES) {
        err = LW_ERR_TOO_LARGE;
        goto out;
    }
    *len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(&req,
                                                                                              buf);
out:
    free(point_ptrs);
    free(points);
    return err;
}

enum lw_err lw_otlp_decode_response(const void *body, size_t len, int64_t *rejected_points,
                                    char *msg, size_t msg_cap)
{
    *rejected_points = 0;
    if (msg_cap > 0)
        msg[0] = '\0';
    if (len == 0)
        return LW_OK;
    PbExportMetricsServiceResponse *resp =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
            NULL, len, body);
    if (resp == NULL)
        return LW_ERR_INVALID;
    if (resp->partial_success != NULL) {
        *rejected_points = resp->partial_success->rejected_data_points;
        const char *m = resp->partial_success->error_message;
        if (m != NULL && msg_cap > 0) {
            size_t m_len = strnlen(m, msg_cap - 1);
            memcpy(msg, m, m_len);
            msg[m_len] = '\0';
        }
    }
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
        resp, NULL);
    return LW_OK;
}
