#include <leakwatch/metrics.h>

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

static double extensions_rss(const struct lw_record *rec)
{
    double sum = 0;
    for (uint32_t i = 0; i < rec->n_procs && i < LW_MAX_PROCS; i++) {
        if (rec->procs[i].role == LW_ROLE_EXTENSION && rec->procs[i].have_end)
            sum += (double)rec->procs[i].end.rss_bytes;
    }
    return sum;
}

bool lw_metric_value(enum lw_metric_id id, const struct lw_record *rec,
                     const struct lw_verdict *verdict, double *out)
{
    const struct lw_platform *p = &rec->platform;
    bool end = rec->have_end;
    bool limit = rec->memory_limit_bytes > 0;
    switch (id) {
    case LW_M_FN_RSS_START:
        *out = (double)rec->fn_start.rss_bytes;
        return true;
    case LW_M_FN_RSS_END:
        *out = (double)rec->fn_end.rss_bytes;
        return end;
    case LW_M_FN_RSS_PEAK:
        *out = (double)rec->fn_peak_bytes;
        return rec->peak_method != LW_PEAK_NONE;
    case LW_M_FN_ANON_START:
        *out = (double)rec->fn_start.rss_anon_bytes;
        return true;
    case LW_M_FN_ANON_END:
        *out = (double)rec->fn_end.rss_anon_bytes;
        return end;
    case LW_M_FN_FILE_END:
        *out = (double)rec->fn_end.rss_file_bytes;
        return end;
    case LW_M_FN_SHMEM_END:
        *out = (double)rec->fn_end.rss_shmem_bytes;
        return end;
    case LW_M_FN_GROWTH:
        *out = (double)rec->fn_end.rss_bytes - (double)rec->fn_start.rss_bytes;
        return end;
    case LW_M_ENV_RSS:
        *out = (double)rec->env_end.rss_bytes;
        return end;
    case LW_M_MEM_LIMIT:
        *out = (double)rec->memory_limit_bytes;
        return limit;
    case LW_M_HEADROOM:
        *out = (double)rec->memory_limit_bytes - (double)rec->env_end.rss_bytes;
        return end && limit;
    case LW_M_UTILIZATION:
        *out = limit ? 100.0 * (double)rec->env_end.rss_bytes / (double)rec->memory_limit_bytes : 0;
        return end && limit;
    case LW_M_EXTENSIONS_RSS:
        *out = extensions_rss(rec);
        return end;
    case LW_M_SELF_RSS:
        *out = (double)rec->self_rss_bytes;
        return end;
    case LW_M_SELF_CPU:
        *out = (double)rec->self_cpu_us;
        return end;
    case LW_M_DURATION:
        *out = p->duration_ms;
        return p->have_report;
    case LW_M_BILLED:
        *out = p->billed_duration_ms;
        return p->have_report;
    case LW_M_RUNTIME_DURATION:
        *out = p->runtime_duration_ms;
        return p->have_runtime_done;
    case LW_M_INIT_DURATION:
        *out = p->init_duration_ms;
        return p->have_init_duration;
    case LW_M_MAX_MEMORY_USED:
        *out = (double)p->max_memory_used_mb;
        return p->have_report;
    case LW_M_GROWTH_PER_INVOCATION:
        *out = verdict != NULL ? verdict->growth_bytes_per_invocation : 0;
        return verdict != NULL && verdict->kind != LW_VERDICT_LEARNING;
    case LW_M_GROWTH_PER_HOUR:
        *out = verdict != NULL ? verdict->growth_bytes_per_hour : 0;
        return verdict != NULL && verdict->kind != LW_VERDICT_LEARNING;
    case LW_M_INVOCATIONS_TO_OOM:
        *out = verdict != NULL ? verdict->projected_invocations_to_oom : 0;
        return verdict != NULL && verdict->have_projection;
    case LW_M_MINUTES_TO_OOM:
        *out = verdict != NULL ? verdict->projected_minutes_to_oom : 0;
        return verdict != NULL && verdict->have_projection;
    case LW_M_VERDICT_LEVEL:
        *out = verdict != NULL ? (double)lw_verdict_level(verdict->kind) : 0;
        return verdict != NULL;
    case LW_M_COUNT:
        break;
    }
    return false;
}
