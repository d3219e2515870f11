#include <leakwatch/boundary.h>
#include <leakwatch/pages.h>

#include <stdlib.h>
#include <string.h>

#include <leakwatch/log.h>
#include <leakwatch/record_build.h>
#include <leakwatch/sampler.h>

static void use_procfs(struct lw_boundary *b, struct lw_processes *ps);

/* The real reader's state. */
struct procfs_reader {
    struct lw_processes *ps;
    struct lw_sampler *sampler;
};

struct lw_boundary {
    struct lw_boundary_config cfg;
    struct procfs_reader procfs; /* when the real reader is used */
    struct lw_boundary_reader reader;
    struct lw_boundary_sink sink;
    const struct lw_clock *clock;
    struct lw_health *health;
    bool use_hwm;
    bool sampling;
    bool on_timer; /* Managed Instances: interval records */
    uint64_t invocations;
    /* the open record: started at the last INVOKE, closed at the next boundary */
    bool have_open;
    struct lw_record open;
    struct lw_snapshot snap;
};

static bool start_sampler(struct lw_boundary *b)
{
    if (b->reader.sampler_start == NULL)
        return false;
    b->sampling = b->reader.sampler_start(b->reader.ctx, b->cfg.sampler_interval_ms);
    return b->sampling;
}

struct lw_boundary *lw_boundary_new(const struct lw_boundary_config *cfg,
                                    const struct lw_boundary_reader *reader,
                                    const struct lw_boundary_sink *sink,
                                    const struct lw_clock *clock, struct lw_health *health)
{
    struct lw_boundary *b = lw_pages_alloc(sizeof(*b));
    if (b == NULL)
        return NULL;
    b->cfg = *cfg;
    if (reader != NULL)
        b->reader = *reader;
    else
        use_procfs(b, cfg->procs);
    b->sink = *sink;
    b->clock = lw_clock_or_system(clock);
    b->health = health;
    b->use_hwm = cfg->peak_mode != LW_PEAK_MODE_SAMPLED;
    if (!b->use_hwm)
        start_sampler(b);
    return b;
}

/* One reading into b->snap. late: it may have ended after the invocation it starts (never for
 * a reading on the timer: nothing ends under it). */
static enum lw_hwm_state take_reading(struct lw_boundary *b, bool *late)
{
    uint64_t began = lw_clock_mono_ms(b->clock);
    enum lw_hwm_state hwm = b->reader.read(b->reader.ctx, b->use_hwm, lw_clock_wall_ms(b->clock),
                                           lw_clock_cpu_us(b->clock), &b->snap);
    /* An event already waiting means the invocation ended during the reading; a reading that
     * took far longer than one does (a freeze or a long stall in the middle) may have finished
     * after the invocation, with the next event still to come. */
    *late = !b->on_timer &&
            ((b->sink.next_event_waiting != NULL && b->sink.next_event_waiting(b->sink.ctx)) ||
             lw_clock_mono_ms(b->clock) - began > LW_BOUNDARY_LATE_READING_MS);
    if (b->snap.n_procs_dropped > 0)
        lw_health_add(b->health, LW_H_PROCS_DROPPED, b->snap.n_procs_dropped);
    return hwm;
}

/* Closes the open record with b->snap and hands it on. Closed in place: the sink copies it,
 * and the next record is opened over it right after. */
static void close_open(struct lw_boundary *b, bool shutdown)
{
    if (!b->have_open)
        return;
    if (shutdown && !lw_snapshot_has_runtime(&b->snap)) {
        /* the runtime got SIGTERM first and may be gone: say so, do not guess */
        lw_record_close_missing(&b->open, &b->snap, b->snap.time_ms);
    } else {
        const uint64_t *sampled = NULL;
        if (b->sampling)
            sampled = b->reader.sampler_swap(b->reader.ctx, &b->snap);
        lw_record_close(&b->open, &b->snap, b->use_hwm ? LW_PEAK_HWM : LW_PEAK_SAMPLED, sampled);
    }
    b->sink.emit(b->sink.ctx, &b->open);
    b->have_open = false;
}

/* After a reading: a kernel that refused the reset gets the sampler from now on (auto mode). */
static void hwm_fallback(struct lw_boundary *b, enum lw_hwm_state hwm)
{
    if (hwm == LW_HWM_REFUSED && b->use_hwm && b->cfg.peak_mode == LW_PEAK_MODE_AUTO) {
        b->use_hwm = false;
        if (start_sampler(b))
            lw_warn("the kernel refused clear_refs; peaks now come from a sampler every %u ms",
                    b->cfg.sampler_interval_ms);
        else
            lw_warn("the kernel refused clear_refs and the sampler cannot run; peaks are the "
                    "kernel's lifetime high-water marks from now on");
    }
}

/* Opens the next record over b->snap. */
static void open_next(struct lw_boundary *b, const char *request_id, uint64_t deadline_ms,
                      bool late)
{
    b->invocations++;
    lw_record_open(&b->open, &b->snap, request_id, b->cfg.env_id, b->invocations,
                   b->invocations == 1, deadline_ms, b->cfg.memory_limit_bytes);
    if (late)
        b->open.gaps |= LW_GAP_START_READING;
    if (b->on_timer)
        b->open.kind = LW_RECORD_INTERVAL;
    if (b->sampling)
        b->reader.sampler_track(b->reader.ctx, &b->snap);
    b->have_open = true;
}

void lw_boundary_invoke(struct lw_boundary *b, const char *request_id, uint64_t deadline_ms)
{
    bool late;
    enum lw_hwm_state hwm = take_reading(b, &late);
    close_open(b, false);
    hwm_fallback(b, hwm);
    open_next(b, request_id, deadline_ms, late);
}

void lw_boundary_tick(struct lw_boundary *b)
{
    b->on_timer = true;
    bool late;
    enum lw_hwm_state hwm = take_reading(b, &late);
    close_open(b, false);
    hwm_fallback(b, hwm);
    open_next(b, "", 0, false);
}

void lw_boundary_shutdown(struct lw_boundary *b)
{
    bool late;
    take_reading(b, &late);
    close_open(b, true);
    if (b->sampling) {
        b->reader.sampler_stop(b->reader.ctx);
        b->sampling = false;
    }
}

uint64_t lw_boundary_invocations(const struct lw_boundary *b)
{
    return b->invocations;
}

bool lw_boundary_uses_hwm(const struct lw_boundary *b)
{
    return b->use_hwm;
}

void lw_boundary_free(struct lw_boundary *b)
{
    if (b == NULL)
        return;
    if (b->sampling)
        b->reader.sampler_stop(b->reader.ctx);
    lw_pages_free(b, sizeof(*b));
}

/* ---- the real reader ------------------------------------------------------------------------ */

static enum lw_hwm_state procfs_read(void *ctx, bool reset_hwm, uint64_t now_ms,
                                     uint64_t self_cpu_us, struct lw_snapshot *out)
{
    struct procfs_reader *r = ctx;
    return lw_snapshot_take(r->ps, reset_hwm, now_ms, self_cpu_us, out);
}

static bool procfs_sampler_start(void *ctx, uint32_t interval_ms)
{
    struct procfs_reader *r = ctx;
    if (r->sampler == NULL)
        r->sampler = lw_sampler_start(r->ps, interval_ms);
    return r->sampler != NULL;
}

static void procfs_sampler_track(void *ctx, const struct lw_snapshot *start)
{
    struct procfs_reader *r = ctx;
    lw_sampler_track(r->sampler, start);
}

static const uint64_t *procfs_sampler_swap(void *ctx, const struct lw_snapshot *end)
{
    struct procfs_reader *r = ctx;
    return lw_sampler_swap(r->sampler, end);
}

static void procfs_sampler_stop(void *ctx)
{
    struct procfs_reader *r = ctx;
    lw_sampler_stop(r->sampler);
    r->sampler = NULL;
}

static void use_procfs(struct lw_boundary *b, struct lw_processes *ps)
{
    b->procfs.ps = ps;
    b->reader = (struct lw_boundary_reader){
        .read = procfs_read,
        .sampler_start = procfs_sampler_start,
        .sampler_track = procfs_sampler_track,
        .sampler_swap = procfs_sampler_swap,
        .sampler_stop = procfs_sampler_stop,
        .ctx = &b->procfs,
    };
}
