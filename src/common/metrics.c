/*
 * The metric table's descriptors and values. A value the record does not have is reported as
 * absent (false), never as 0: a missing end reading must not look like a drop to zero on a graph.
 */
#include <leakwatch/metrics.h>

#include <math.h>
#include <stddef.h>

static const struct lw_metric_desc descs[LW_M_COUNT] = {
#define LW_METRIC_DESC(id, emf, emf_unit, otlp, ucum) [LW_M_##id] = {emf, emf_unit, otlp, ucum},
    LW_METRICS(LW_METRIC_DESC)
#undef LW_METRIC_DESC
};

const struct lw_metric_desc *lw_metric_desc(enum lw_metric_id id)
{
    if ((unsigned)id >= LW_M_COUNT)
        return NULL;
    return &descs[id];
}

/*
 * Whether any end reading exists: a full one, or the partial one lw_record_close_missing()
 * keeps at SHUTDOWN (extensions and leakwatch itself, after the runtime exited).
 */
static bool have_end_snapshot(const struct lw_record *rec)
{
    if (rec->have_end)
        return true;
    for (uint32_t i = 0; i < rec->n_procs && i < LW_MAX_PROCS; i++)
        if (rec->procs[i].have_end)
            return true;
    return false;
}

/* Whether the end reading found the function at all: a living function never has 0 bytes
 * resident, so 0 with processes missing (a hidden /proc) means unknown, not empty. */
static bool have_fn_end(const struct lw_record *rec)
{
    return rec->have_end && !((rec->gaps & LW_GAP_PROCS) && rec->fn_end.rss_bytes == 0);
}

/* Whether the start snapshot found the function at all (0 bytes would otherwise look real). */
static bool have_fn_start(const struct lw_record *rec)
{
    for (uint32_t i = 0; i < rec->n_procs && i < LW_MAX_PROCS; i++) {
        const struct lw_record_proc *p = &rec->procs[i];
        if (p->have_start && lw_record_role_is_function(p->role))
            return true;
    }
    return false;
}

/* The environment's end total: every process of the start read at the end (record_build.h). */
static bool have_env_end(const struct lw_record *rec)
{
    return rec->have_end && !(rec->partial_totals & LW_TOTAL_ENVIRONMENT);
}

static uint64_t extensions_rss(const struct lw_record *rec)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < rec->n_procs && i < LW_MAX_PROCS; i++) {
        const struct lw_record_proc *p = &rec->procs[i];
        if (p->role == LW_ROLE_EXTENSION && p->have_end)
            sum += p->end.rss_bytes;
    }
    return sum;
}

/* The function's processes read at the end: the runtime and its children (its workers on
 * Managed Instances). */
static uint32_t function_processes(const struct lw_record *rec)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < rec->n_procs && i < LW_MAX_PROCS; i++)
        if (lw_record_role_is_function(rec->procs[i].role) && rec->procs[i].have_end)
            n++;
    return n;
}

/* The verdict is worth a figure once the trend engine has left its learning phase. */
static bool verdict_meaningful(const struct lw_verdict *v)
{
    return v && v->kind != LW_VERDICT_LEARNING && v->kind < LW_VERDICT_COUNT;
}

static bool value(enum lw_metric_id id, const struct lw_record *rec, const struct lw_verdict *v,
                  double *out)
{
    const struct lw_platform *pl = &rec->platform;
    switch (id) {
    case LW_M_FN_RSS_START:
        *out = (double)rec->fn_start.rss_bytes;
        return have_fn_start(rec);
    case LW_M_FN_RSS_END:
        *out = (double)rec->fn_end.rss_bytes;
        return have_fn_end(rec);
    case LW_M_FN_RSS_PEAK:
        *out = (double)rec->fn_peak_bytes;
        return have_fn_end(rec) && rec->peak_method != LW_PEAK_NONE;
    case LW_M_FN_ANON_START:
        *out = (double)rec->fn_start.rss_anon_bytes;
        return have_fn_start(rec);
    case LW_M_FN_ANON_END:
        *out = (double)rec->fn_end.rss_anon_bytes;
        return have_fn_end(rec);
    case LW_M_FN_FILE_END:
        *out = (double)rec->fn_end.rss_file_bytes;
        return have_fn_end(rec);
    case LW_M_FN_SHMEM_END:
        *out = (double)rec->fn_end.rss_shmem_bytes;
        return have_fn_end(rec);
    case LW_M_FN_GROWTH:
        /* retained anonymous memory: what a leak grows (file pages come and go with the cache) */
        *out = (double)rec->fn_end.rss_anon_bytes - (double)rec->fn_start.rss_anon_bytes;
        return have_fn_end(rec) && have_fn_start(rec);
    case LW_M_ENV_RSS:
        *out = (double)rec->env_end.rss_bytes;
        return have_env_end(rec);
    case LW_M_MEM_LIMIT:
        *out = (double)rec->memory_limit_bytes;
        return rec->memory_limit_bytes > 0;
    case LW_M_HEADROOM:
        *out = (double)rec->memory_limit_bytes - (double)rec->env_end.rss_bytes;
        return have_env_end(rec) && rec->memory_limit_bytes > 0;
    case LW_M_UTILIZATION:
        if (!have_env_end(rec) || rec->memory_limit_bytes == 0)
            return false;
        *out = 100.0 * (double)rec->env_end.rss_bytes / (double)rec->memory_limit_bytes;
        return true;
    case LW_M_EXTENSIONS_RSS:
        *out = (double)extensions_rss(rec);
        return have_end_snapshot(rec) && !(rec->partial_totals & LW_TOTAL_EXTENSIONS);
    case LW_M_SELF_RSS:
        *out = (double)rec->self_rss_bytes;
        return have_end_snapshot(rec);
    case LW_M_SELF_CPU:
        *out = (double)rec->self_cpu_us;
        return have_end_snapshot(rec);
    case LW_M_DURATION:
        *out = pl->duration_ms;
        return pl->have_report;
    case LW_M_BILLED:
        *out = pl->billed_duration_ms;
        return pl->have_report;
    case LW_M_RUNTIME_DURATION:
        *out = pl->runtime_duration_ms;
        return pl->have_runtime_done;
    case LW_M_INIT_DURATION:
        *out = pl->init_duration_ms;
        return pl->have_report && pl->have_init_duration;
    case LW_M_MAX_MEMORY_USED:
        *out = (double)pl->max_memory_used_mb;
        return pl->have_report;
    case LW_M_GROWTH_PER_INVOCATION:
        /* an interval is no invocation: per-invocation growth is not defined under concurrency */
        if (!verdict_meaningful(v) || rec->kind == LW_RECORD_INTERVAL)
            return false;
        *out = v->growth_bytes_per_invocation;
        return true;
    case LW_M_GROWTH_PER_HOUR:
        if (!verdict_meaningful(v))
            return false;
        *out = v->growth_bytes_per_hour;
        return true;
    case LW_M_INVOCATIONS_TO_OOM:
        if (!verdict_meaningful(v) || !v->have_projection || rec->kind == LW_RECORD_INTERVAL)
            return false;
        *out = v->projected_invocations_to_oom;
        return true;
    case LW_M_MINUTES_TO_OOM:
        if (!verdict_meaningful(v) || !v->have_projection)
            return false;
        *out = v->projected_minutes_to_oom;
        return true;
    case LW_M_VERDICT_LEVEL:
        if (!v || v->kind >= LW_VERDICT_COUNT)
            return false;
        *out = (double)lw_verdict_level(v->kind);
        return true;
    case LW_M_INTERVAL:
        *out = (double)(rec->end_time_ms - rec->start_time_ms) / 1000.0;
        return rec->kind == LW_RECORD_INTERVAL && rec->end_time_ms >= rec->start_time_ms;
    case LW_M_REQUESTS:
        *out = (double)rec->interval.requests;
        return rec->kind == LW_RECORD_INTERVAL;
    case LW_M_REQUEST_ERRORS:
        *out = (double)rec->interval.errors;
        return rec->kind == LW_RECORD_INTERVAL;
    case LW_M_REQUEST_TIMEOUTS:
        *out = (double)rec->interval.timeouts;
        return rec->kind == LW_RECORD_INTERVAL;
    case LW_M_REQUEST_DURATION_MEAN:
        if (rec->kind != LW_RECORD_INTERVAL || rec->interval.timed == 0)
            return false;
        *out = rec->interval.duration_sum_ms / (double)rec->interval.timed;
        return true;
    case LW_M_REQUEST_DURATION_MAX:
        *out = rec->interval.duration_max_ms;
        return rec->kind == LW_RECORD_INTERVAL && rec->interval.timed > 0;
    case LW_M_FN_PROCESSES:
        *out = (double)function_processes(rec);
        return have_end_snapshot(rec);
    case LW_M_HEAP_AFTER_GC:
        /* after the last major collection: what the heap retains */
        *out = (double)rec->runtime.heap.after_major_bytes;
        return rec->runtime.processes > 0 && (rec->runtime.heap.have & LW_HEAP_AFTER_MAJOR);
    case LW_M_HEAP_LIMIT:
        *out = (double)rec->runtime.heap.limit_bytes;
        return rec->runtime.processes > 0 && (rec->runtime.heap.have & LW_HEAP_LIMIT);
    case LW_M_EXTERNAL_MEMORY:
        *out = (double)rec->runtime.heap.external_bytes;
        return rec->runtime.processes > 0 && (rec->runtime.heap.have & LW_HEAP_EXTERNAL);
    case LW_M_COUNT:
        break;
    }
    return false;
}

bool lw_metric_value(enum lw_metric_id id, const struct lw_record *rec,
                     const struct lw_verdict *verdict, double *out)
{
    double v = 0;
    if ((unsigned)id >= LW_M_COUNT || !rec || !value(id, rec, verdict, &v))
        return false;
    /* JSON and CloudWatch have no NaN or infinity: such a value is absent, not sent */
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}
