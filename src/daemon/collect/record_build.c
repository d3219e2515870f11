/*
 * Per-invocation record assembly from two boundary snapshots (see record_build.h).
 *
 * The peak bookkeeping: at open, each process's peak_bytes holds its HWM baseline, the value its
 * end VmHWM must exceed to be known as a high set during this invocation:
 *   - 0 when the start reading reset the kernel's HWM (clear_refs "5"): any end HWM is then the
 *     peak since the reset, i.e. this invocation's;
 *   - else the start reading's VmHWM, the lifetime high so far: a higher end HWM can only have
 *     been set during the invocation (HWM never goes down without a reset). A start VmHWM of 0
 *     means the process had no memory map at the start (being exec'd): the same rule holds.
 * A process first seen at the end started during the invocation; its lifetime HWM is exact.
 */
#include <leakwatch/record_build.h>

#include <string.h>

#include <leakwatch/text.h>

static void add_mem(struct lw_mem_totals *t, const struct lw_proc_mem *m)
{
    t->rss_bytes += m->rss_bytes;
    t->rss_anon_bytes += m->rss_anon_bytes;
    t->rss_file_bytes += m->rss_file_bytes;
    t->rss_shmem_bytes += m->rss_shmem_bytes;
}

static uint32_t clamp_procs(uint32_t n)
{
    return n < LW_MAX_PROCS ? n : LW_MAX_PROCS;
}

void lw_record_open(struct lw_record *r, const struct lw_snapshot *start, const char *request_id,
                    const char *env_id, uint64_t seq, bool cold_start, uint64_t deadline_ms,
                    uint64_t memory_limit_bytes)
{
    memset(r, 0, sizeof(*r));
    lw_text_copy(r->request_id, sizeof(r->request_id), request_id);
    lw_text_copy(r->env_id, sizeof(r->env_id), env_id);
    r->seq = seq;
    r->runtime_hint = start->runtime_hint; /* what the runtime's flags say (trend engine) */
    r->cold_start = cold_start;
    r->deadline_ms = deadline_ms;
    r->memory_limit_bytes = memory_limit_bytes;
    r->start_time_ms = start->time_ms;
    r->peak_method = LW_PEAK_NONE;
    /* the CPU time at the start; lw_record_close turns it into the per-invocation figure */
    r->self_cpu_total_us = start->self_cpu_us;
    if (start->n_procs_dropped > 0 || start->n_procs > LW_MAX_PROCS)
        r->gaps |= LW_GAP_PROCS;

    uint32_t n = clamp_procs(start->n_procs);
    for (uint32_t i = 0; i < n; i++) {
        const struct lw_proc_reading *s = &start->procs[i];
        struct lw_record_proc *p = &r->procs[r->n_procs++];
        p->pid = s->pid;
        p->start_ticks = s->start_ticks;
        p->role = s->role;
        lw_text_copy(p->name, sizeof(p->name), s->name);
        p->have_start = true;
        p->start = s->mem;
        p->peak_bytes = s->hwm_reset ? 0 : s->mem.hwm_bytes; /* the HWM baseline, see above */
        if (lw_record_role_is_function(s->role))
            add_mem(&r->fn_start, &s->mem);
    }
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/*
 * One process's peak over the invocation (see record_build.h for the rules). *sampled is set
 * when the sampler's figure decided it.
 */
static uint64_t proc_peak(bool have_start, const struct lw_proc_mem *start, uint64_t baseline,
                          const struct lw_proc_mem *end, uint64_t sample, bool *sampled)
{
    uint64_t lower = end->rss_bytes;
    if (have_start)
        lower = max_u64(lower, start->rss_bytes);
    *sampled = false;
    if (!have_start || end->hwm_bytes > baseline)
        return max_u64(end->hwm_bytes, lower); /* exact: a high set during the invocation */
    if (sample > 0) {
        *sampled = true;
        uint64_t v = max_u64(sample, lower);
        if (end->hwm_bytes > 0 && v > end->hwm_bytes)
            v = max_u64(end->hwm_bytes, lower);
        return v;
    }
    return max_u64(end->hwm_bytes, lower); /* an older lifetime high: an upper bound */
}

static struct lw_record_proc *find_proc(struct lw_record *r, int32_t pid, uint64_t start_ticks)
{
    for (uint32_t i = 0; i < r->n_procs; i++) {
        struct lw_record_proc *p = &r->procs[i];
        if (p->have_start && !p->have_end && p->pid == pid && p->start_ticks == start_ticks)
            return p;
    }
    return NULL;
}

/*
 * Applies the end snapshot to every process. With totals, fills the function and environment
 * totals and the function peak; returns whether a sampled figure decided a function peak.
 */
static bool apply_end(struct lw_record *r, const struct lw_snapshot *end,
                      const uint64_t *sampled_peaks, bool totals)
{
    bool used_sample = false;
    uint64_t start_cpu_us = r->self_cpu_total_us;
    r->self_cpu_total_us = end->self_cpu_us;
    r->self_cpu_us = end->self_cpu_us >= start_cpu_us ? end->self_cpu_us - start_cpu_us : 0;
    if (end->n_procs_dropped > 0 || end->n_procs > LW_MAX_PROCS)
        r->gaps |= LW_GAP_PROCS;

    uint32_t n = clamp_procs(end->n_procs);
    for (uint32_t j = 0; j < n; j++) {
        const struct lw_proc_reading *e = &end->procs[j];
        struct lw_record_proc *p = find_proc(r, e->pid, e->start_ticks);
        if (!p && r->n_procs < LW_MAX_PROCS) {
            /* appeared during the invocation */
            p = &r->procs[r->n_procs++];
            memset(p, 0, sizeof(*p));
            p->pid = e->pid;
            p->start_ticks = e->start_ticks;
        }
        bool sampled = false;
        uint64_t peak = proc_peak(p && p->have_start, p ? &p->start : NULL, p ? p->peak_bytes : 0,
                                  &e->mem, sampled_peaks ? sampled_peaks[j] : 0, &sampled);
        if (p) {
            p->role = e->role; /* the latest classification and name (exec changes comm) */
            lw_text_copy(p->name, sizeof(p->name), e->name);
            p->have_end = true;
            p->end = e->mem;
            p->peak_bytes = peak;
            p->probe = e->probe;
            p->heap = e->heap;
        } else {
            /* more distinct processes over the invocation than the record holds: the totals
               still count this one, the per-process list cannot */
            r->gaps |= LW_GAP_PROCS;
        }
        if (e->role == LW_ROLE_SELF)
            r->self_rss_bytes += e->mem.rss_bytes;
        if (!totals)
            continue;
        add_mem(&r->env_end, &e->mem);
        if (lw_record_role_is_function(e->role)) {
            add_mem(&r->fn_end, &e->mem);
            r->fn_peak_bytes += peak;
            used_sample |= sampled;
        }
    }

    /* exited during the invocation: the start RSS is all that is known of the peak */
    for (uint32_t i = 0; i < r->n_procs; i++) {
        struct lw_record_proc *p = &r->procs[i];
        if (p->have_end)
            continue;
        p->peak_bytes = p->start.rss_bytes;
        if (totals && lw_record_role_is_function(p->role))
            r->fn_peak_bytes += p->peak_bytes;
    }
    return used_sample;
}

static void reset_end(struct lw_record *r)
{
    memset(&r->fn_end, 0, sizeof(r->fn_end));
    memset(&r->env_end, 0, sizeof(r->env_end));
    r->fn_peak_bytes = 0;
    r->self_rss_bytes = 0;
    r->partial_totals = 0;
}

static bool has_function(const struct lw_record *r)
{
    for (uint32_t i = 0; i < r->n_procs && i < LW_MAX_PROCS; i++)
        if (lw_record_role_is_function(r->procs[i].role))
            return true;
    return false;
}

/*
 * The totals that a process present at the start but not read at the end belonged to. Such a
 * process exited, or was stopped by the platform before a SHUTDOWN reading: either way the sum
 * of what is left is not that total at the end of this invocation, and a total made from it
 * would show a drop nobody measured.
 */
static uint32_t partial_totals(const struct lw_record *r)
{
    uint32_t partial = 0;
    for (uint32_t i = 0; i < r->n_procs && i < LW_MAX_PROCS; i++) {
        const struct lw_record_proc *p = &r->procs[i];
        if (!p->have_start || p->have_end)
            continue;
        partial |= LW_TOTAL_ENVIRONMENT;
        if (lw_record_role_is_function(p->role))
            partial |= LW_TOTAL_FUNCTION;
        else if (p->role == LW_ROLE_EXTENSION)
            partial |= LW_TOTAL_EXTENSIONS;
    }
    return partial;
}

/* One field of a process's heap report into its sum, when the process reported it. */
static void add_field(struct lw_heap_mem *sum, uint64_t *sum_field, const struct lw_heap_mem *h,
                      uint64_t value, uint32_t bit)
{
    if (!(h->have & bit))
        return;
    *sum_field += value;
    sum->have |= bit;
}

/* One process's heap figures into the sums, field by field. */
static void add_heap(struct lw_heap_mem *sum, const struct lw_heap_mem *h)
{
    add_field(sum, &sum->after_gc_bytes, h, h->after_gc_bytes, LW_HEAP_AFTER_GC);
    add_field(sum, &sum->after_major_bytes, h, h->after_major_bytes, LW_HEAP_AFTER_MAJOR);
    add_field(sum, &sum->resident_bytes, h, h->resident_bytes, LW_HEAP_RESIDENT);
    add_field(sum, &sum->limit_bytes, h, h->limit_bytes, LW_HEAP_LIMIT);
    add_field(sum, &sum->external_bytes, h, h->external_bytes, LW_HEAP_EXTERNAL);
    add_field(sum, &sum->array_buffers_bytes, h, h->array_buffers_bytes, LW_HEAP_ARRAY_BUFFERS);
    add_field(sum, &sum->blocks, h, h->blocks, LW_HEAP_BLOCKS);
    add_field(sum, &sum->old_committed_bytes, h, h->old_committed_bytes, LW_HEAP_OLD_COMMITTED);
    sum->major_gcs += h->major_gcs;
    sum->minor_gcs += h->minor_gcs;
}

/*
 * The runtime probes' figures of the function at the end: each field summed over the function's
 * processes that reported it. Left out when the function's end total is (a process of the start
 * not read at the end): a sum without it would show a drop nobody measured.
 */
static void runtime_totals(struct lw_record *r, const struct lw_snapshot *end)
{
    memset(&r->runtime, 0, sizeof(r->runtime));
    if (r->partial_totals & LW_TOTAL_FUNCTION)
        return;
    for (uint32_t i = 0; i < r->n_procs && i < LW_MAX_PROCS; i++) {
        const struct lw_record_proc *p = &r->procs[i];
        if (!p->have_end || !lw_record_role_is_function(p->role) || p->probe == LW_PROBE_NONE)
            continue;
        if (r->runtime.probe == LW_PROBE_NONE || p->role == LW_ROLE_RUNTIME)
            r->runtime.probe = p->probe;
        r->runtime.processes++;
        add_heap(&r->runtime.heap, &p->heap);
    }
    if (r->runtime.processes == 0)
        return;
    r->runtime.tracemalloc_frames = end->tracemalloc_frames;
    r->runtime.sites = end->sites;
}

void lw_record_close(struct lw_record *r, const struct lw_snapshot *end, enum lw_peak_method method,
                     const uint64_t *sampled_peaks)
{
    reset_end(r);
    r->end_time_ms = end->time_ms;
    r->have_end = true;
    bool used_sample = apply_end(r, end, sampled_peaks, true);
    r->peak_method = method;
    if (method == LW_PEAK_HWM && used_sample)
        r->peak_method = LW_PEAK_SAMPLED;
    r->partial_totals = partial_totals(r);
    if (r->partial_totals != 0)
        r->gaps |= LW_GAP_PARTIAL_END;
    if (r->partial_totals & LW_TOTAL_FUNCTION) {
        /* Left out, not reported as what the survivors hold. The environment's sum goes too:
         * it contains the function's. */
        r->have_end = false;
        memset(&r->fn_end, 0, sizeof(r->fn_end));
        memset(&r->env_end, 0, sizeof(r->env_end));
        r->fn_peak_bytes = 0;
    }
    if (!has_function(r)) {
        /* Neither reading found the function (a hidden or unreadable /proc): its totals are
         * not zero, they are unknown. */
        r->gaps |= LW_GAP_PROCS;
        r->peak_method = LW_PEAK_NONE;
    }
    runtime_totals(r, end);
}

void lw_record_close_missing(struct lw_record *r, const struct lw_snapshot *end_or_null,
                             uint64_t end_time_ms)
{
    reset_end(r);
    r->end_time_ms = end_time_ms;
    r->have_end = false;
    r->peak_method = LW_PEAK_NONE;
    r->gaps |= LW_GAP_END_READING;
    if (!has_function(r))
        r->gaps |= LW_GAP_PROCS; /* not even its start was seen */
    if (end_or_null) {
        (void)apply_end(r, end_or_null, NULL, false);
    } else {
        r->self_cpu_us = 0;
        for (uint32_t i = 0; i < r->n_procs; i++)
            r->procs[i].peak_bytes = r->procs[i].start.rss_bytes;
    }
    /* The function and the environment have no end totals (the end-reading gap says why); the
     * extensions' total is there only if every extension process was read. Without an end
     * snapshot nothing was read at all. */
    uint32_t partial = end_or_null ? partial_totals(r) : LW_TOTAL_EXTENSIONS;
    if (partial & LW_TOTAL_EXTENSIONS && end_or_null)
        r->gaps |= LW_GAP_PARTIAL_END;
    r->partial_totals = partial | LW_TOTAL_FUNCTION | LW_TOTAL_ENVIRONMENT;
}
