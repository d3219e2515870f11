/*
 * The per-record metrics users see (a record is an invocation, or an interval on Managed
 * Instances): one table, shared by the EMF and the OTLP encoders so
 * that both ship the same names, units and values. Names and units are the product's public
 * interface (README, "Metrics"): add to the end, never rename.
 *
 * X(id, emf_name, emf_unit, otlp_name, ucum_unit)
 */
#ifndef LEAKWATCH_METRICS_H
#define LEAKWATCH_METRICS_H

#include <stdbool.h>

#include <leakwatch/record.h>
#include <leakwatch/verdict.h>

#define LW_METRICS(X)                                                                              \
    /* the function: runtime and its descendants (leakwatch's /proc readings) */                   \
    X(FN_RSS_START, "FunctionRssStartBytes", "Bytes", "leakwatch.function.rss.start", "By")        \
    X(FN_RSS_END, "FunctionRssEndBytes", "Bytes", "leakwatch.function.rss.end", "By")              \
    X(FN_RSS_PEAK, "FunctionRssPeakBytes", "Bytes", "leakwatch.function.rss.peak", "By")           \
    X(FN_ANON_START, "FunctionAnonStartBytes", "Bytes", "leakwatch.function.anon.start", "By")     \
    X(FN_ANON_END, "FunctionAnonEndBytes", "Bytes", "leakwatch.function.anon.end", "By")           \
    X(FN_FILE_END, "FunctionFileEndBytes", "Bytes", "leakwatch.function.file.end", "By")           \
    X(FN_SHMEM_END, "FunctionShmemEndBytes", "Bytes", "leakwatch.function.shmem.end", "By")        \
    X(FN_GROWTH, "FunctionGrowthBytes", "Bytes", "leakwatch.function.growth", "By")                \
    /* the whole environment: every process, extensions and leakwatch included */                  \
    X(ENV_RSS, "EnvironmentRssBytes", "Bytes", "leakwatch.environment.rss", "By")                  \
    X(MEM_LIMIT, "MemoryLimitBytes", "Bytes", "leakwatch.memory.limit", "By")                      \
    X(HEADROOM, "HeadroomBytes", "Bytes", "leakwatch.memory.headroom", "By")                       \
    X(UTILIZATION, "MemoryUtilizationPercent", "Percent", "leakwatch.memory.utilization", "%")     \
    X(EXTENSIONS_RSS, "ExtensionsRssBytes", "Bytes", "leakwatch.extensions.rss", "By")             \
    X(SELF_RSS, "LeakwatchRssBytes", "Bytes", "leakwatch.self.rss", "By")                          \
    X(SELF_CPU, "LeakwatchCpuMicroseconds", "Microseconds", "leakwatch.self.cpu", "us")            \
    /* the platform's report (Telemetry API) */                                                    \
    X(DURATION, "DurationMilliseconds", "Milliseconds", "leakwatch.platform.duration", "ms")       \
    X(BILLED, "BilledDurationMilliseconds", "Milliseconds", "leakwatch.platform.billed_duration",  \
      "ms")                                                                                        \
    X(RUNTIME_DURATION, "RuntimeDurationMilliseconds", "Milliseconds",                             \
      "leakwatch.platform.runtime_duration", "ms")                                                 \
    X(INIT_DURATION, "InitDurationMilliseconds", "Milliseconds",                                   \
      "leakwatch.platform.init_duration", "ms")                                                    \
    X(MAX_MEMORY_USED, "LambdaMaxMemoryUsedMegabytes", "Megabytes",                                \
      "leakwatch.platform.max_memory_used", "MBy")                                                 \
    /* the leak verdict (trend engine) */                                                          \
    X(GROWTH_PER_INVOCATION, "GrowthPerInvocationBytes", "Bytes",                                  \
      "leakwatch.leak.growth_per_invocation", "By")                                                \
    X(GROWTH_PER_HOUR, "GrowthPerHourBytes", "Bytes", "leakwatch.leak.growth_per_hour", "By")      \
    X(INVOCATIONS_TO_OOM, "ProjectedInvocationsToOom", "Count",                                    \
      "leakwatch.leak.invocations_to_oom", "1")                                                    \
    X(MINUTES_TO_OOM, "ProjectedMinutesToOom", "None", "leakwatch.leak.minutes_to_oom", "min")     \
    X(VERDICT_LEVEL, "LeakVerdictLevel", "None", "leakwatch.leak.verdict_level", "1")              \
    /* interval records (Managed Instances): the requests reported in the interval */              \
    X(INTERVAL, "IntervalSeconds", "Seconds", "leakwatch.interval.duration", "s")                  \
    X(REQUESTS, "Requests", "Count", "leakwatch.interval.requests", "1")                           \
    X(REQUEST_ERRORS, "RequestErrors", "Count", "leakwatch.interval.request_errors", "1")          \
    X(REQUEST_TIMEOUTS, "RequestTimeouts", "Count", "leakwatch.interval.request_timeouts", "1")    \
    X(REQUEST_DURATION_MEAN, "RequestDurationMeanMilliseconds", "Milliseconds",                    \
      "leakwatch.interval.request_duration_mean", "ms")                                            \
    X(REQUEST_DURATION_MAX, "RequestDurationMaxMilliseconds", "Milliseconds",                      \
      "leakwatch.interval.request_duration_max", "ms")                                             \
    X(FN_PROCESSES, "FunctionProcesses", "Count", "leakwatch.function.processes", "1")             \
    /* the runtime's own figures, from its probe (docs/runtime-insight.md) */                      \
    X(HEAP_AFTER_GC, "HeapAfterGcBytes", "Bytes", "leakwatch.runtime.heap.after_gc", "By")         \
    X(HEAP_LIMIT, "HeapLimitBytes", "Bytes", "leakwatch.runtime.heap.limit", "By")                 \
    X(EXTERNAL_MEMORY, "ExternalMemoryBytes", "Bytes", "leakwatch.runtime.external_memory", "By")

enum lw_metric_id {
#define LW_METRIC_ENUM(id, emf, emf_unit, otlp, ucum) LW_M_##id,
    LW_METRICS(LW_METRIC_ENUM)
#undef LW_METRIC_ENUM
        LW_M_COUNT
};

struct lw_metric_desc {
    const char *emf_name;
    const char *emf_unit; /* a CloudWatch unit */
    const char *otlp_name;
    const char *ucum_unit; /* UCUM, for OTLP */
};

/* The descriptor of metric id; NULL for an id out of range. */
const struct lw_metric_desc *lw_metric_desc(enum lw_metric_id id);

/*
 * The value of metric id for a completed record and (optional, may be NULL) its verdict.
 * Returns false when the record does not have that figure (no end reading, no platform report,
 * no projection, ...): the metric is then left out, never sent as 0.
 */
bool lw_metric_value(enum lw_metric_id id, const struct lw_record *rec,
                     const struct lw_verdict *verdict, double *out);

#endif
