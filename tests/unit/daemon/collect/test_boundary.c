/*
 * The record lifecycle on prepared snapshots: what each boundary closes and opens, the late
 * reading, the clear_refs -> sampler fallback, the SHUTDOWN with the runtime gone, and the
 * clock seam (every time in a record is the fake clock's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/boundary.h>

#include "fake_clock.h"
#include "test_records.h"

#define T0 1767607200000ull
#define MAX_EMITTED 8

/* The world behind the seams: a script of readings, the records emitted, the sampler's calls. */
static struct world {
    struct fake_clock clock;
    struct lw_snapshot readings[8];
    enum lw_hwm_state hwm[8];
    uint64_t read_takes_ms[8]; /* how long each reading takes on the fake clock */
    size_t n_readings, next_reading;
    bool reset_asked[8];
    bool event_waiting;
    struct lw_record emitted[MAX_EMITTED];
    size_t n_emitted;
    bool sampler_can_start;
    int sampler_starts, sampler_tracks, sampler_swaps, sampler_stops;
    uint64_t sampled[LW_MAX_PROCS];
    struct lw_health health;
} w;

static enum lw_hwm_state fake_read(void *ctx, bool reset_hwm, uint64_t now_ms, uint64_t cpu_us,
                                   struct lw_snapshot *out)
{
    struct world *x = ctx;
    assert_true(x->next_reading < x->n_readings);
    size_t i = x->next_reading++;
    *out = x->readings[i];
    out->time_ms = now_ms;
    out->self_cpu_us = cpu_us;
    x->reset_asked[i] = reset_hwm;
    x->clock.mono_ms += x->read_takes_ms[i];
    return x->hwm[i];
}

static bool fake_sampler_start(void *ctx, uint32_t interval_ms)
{
    struct world *x = ctx;
    assert_int_equal(interval_ms, 10);
    x->sampler_starts++;
    return x->sampler_can_start;
}

static void fake_sampler_track(void *ctx, const struct lw_snapshot *start)
{
    struct world *x = ctx;
    (void)start;
    x->sampler_tracks++;
}

static const uint64_t *fake_sampler_swap(void *ctx, const struct lw_snapshot *end)
{
    struct world *x = ctx;
    (void)end;
    x->sampler_swaps++;
    return x->sampled;
}

static void fake_sampler_stop(void *ctx)
{
    struct world *x = ctx;
    x->sampler_stops++;
}

static void fake_emit(void *ctx, const struct lw_record *rec)
{
    struct world *x = ctx;
    assert_true(x->n_emitted < MAX_EMITTED);
    x->emitted[x->n_emitted++] = *rec;
}

static bool fake_waiting(void *ctx)
{
    struct world *x = ctx;
    return x->event_waiting;
}

/* A reading: the runtime at rss MiB (HWM hwm MiB), leakwatch itself. */
static void script(enum lw_hwm_state hwm, uint64_t rss_mib, uint64_t hwm_mib, bool with_runtime)
{
    struct lw_snapshot *s = &w.readings[w.n_readings];
    memset(s, 0, sizeof(*s));
    if (with_runtime)
        snap_add(s, 7, 100, LW_ROLE_RUNTIME, "bootstrap", rss_mib * MIB, rss_mib * MIB / 2,
                 hwm_mib * MIB, hwm == LW_HWM_OK);
    snap_add(s, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, MIB, 3 * MIB, false);
    w.hwm[w.n_readings] = hwm;
    w.n_readings++;
}

/* A new world; the boundary is made by make() once the readings are scripted. */
static void start(void)
{
    memset(&w, 0, sizeof(w));
    fake_clock_init(&w.clock, T0);
    w.sampler_can_start = true;
}

static struct lw_boundary *make(enum lw_peak_mode mode)
{
    static const struct lw_boundary_reader reader = {fake_read,          fake_sampler_start,
                                                     fake_sampler_track, fake_sampler_swap,
                                                     fake_sampler_stop,  &w};
    static const struct lw_boundary_sink sink = {fake_emit, fake_waiting, &w};
    struct lw_boundary_config cfg = {
        .peak_mode = mode,
        .sampler_interval_ms = 10,
        .env_id = "env-1",
        .memory_limit_bytes = 512 * MIB,
    };
    struct lw_boundary *b = lw_boundary_new(&cfg, &reader, &sink, &w.clock.clock, &w.health);
    assert_non_null(b);
    return b;
}

static void test_each_invoke_closes_the_last_and_opens_the_next(void **state)
{
    (void)state;
    start();
    script(LW_HWM_OK, 40, 40, true);
    script(LW_HWM_OK, 41, 45, true);
    script(LW_HWM_OK, 42, 50, true);
    struct lw_boundary *b = make(LW_PEAK_MODE_AUTO);
    lw_boundary_invoke(b, "req-1", T0 + 3000);
    assert_int_equal(w.n_emitted, 0);
    w.clock.wall_ms = T0 + 250;
    w.clock.cpu_us = 400;
    lw_boundary_invoke(b, "req-2", T0 + 3250);
    assert_int_equal(w.n_emitted, 1);
    const struct lw_record *r = &w.emitted[0];
    assert_string_equal(r->request_id, "req-1");
    assert_string_equal(r->env_id, "env-1");
    assert_int_equal(r->seq, 1);
    assert_true(r->cold_start);
    assert_int_equal(r->start_time_ms, T0);
    assert_int_equal(r->end_time_ms, T0 + 250);
    assert_int_equal(r->self_cpu_us, 400);
    assert_true(r->have_end);
    assert_int_equal(r->peak_method, LW_PEAK_HWM);
    assert_int_equal(r->fn_start.rss_bytes, 40 * MIB);
    assert_int_equal(r->fn_end.rss_bytes, 41 * MIB);
    assert_int_equal(r->fn_peak_bytes, 45 * MIB);
    assert_int_equal(r->gaps, 0);
    /* every reading at an INVOKE asks for the reset */
    assert_true(w.reset_asked[0] && w.reset_asked[1]);

    w.clock.wall_ms = T0 + 600;
    lw_boundary_shutdown(b);
    assert_int_equal(w.n_emitted, 2);
    assert_string_equal(w.emitted[1].request_id, "req-2");
    assert_int_equal(w.emitted[1].seq, 2);
    assert_false(w.emitted[1].cold_start);
    assert_int_equal(w.emitted[1].end_time_ms, T0 + 600);
    assert_int_equal(lw_boundary_invocations(b), 2);
    assert_int_equal(w.sampler_starts, 0);
    lw_boundary_free(b);
}

static void test_a_late_reading_is_marked(void **state)
{
    (void)state;
    start();
    script(LW_HWM_OK, 40, 40, true);
    script(LW_HWM_OK, 40, 40, true);
    script(LW_HWM_OK, 40, 40, true);
    script(LW_HWM_OK, 40, 40, true);
    w.read_takes_ms[1] = LW_BOUNDARY_LATE_READING_MS + 1; /* a freeze in the middle */
    struct lw_boundary *b = make(LW_PEAK_MODE_AUTO);
    lw_boundary_invoke(b, "a", 0);
    lw_boundary_invoke(b, "b", 0); /* slow */
    w.event_waiting = true;        /* the invocation was over before the reading */
    lw_boundary_invoke(b, "c", 0);
    w.event_waiting = false;
    lw_boundary_shutdown(b);
    assert_int_equal(w.n_emitted, 3);
    assert_int_equal(w.emitted[0].gaps & LW_GAP_START_READING, 0);
    assert_int_equal(w.emitted[1].gaps & LW_GAP_START_READING, LW_GAP_START_READING);
    assert_int_equal(w.emitted[2].gaps & LW_GAP_START_READING, LW_GAP_START_READING);
    lw_boundary_free(b);
}

static void test_refused_clear_refs_starts_the_sampler_once(void **state)
{
    (void)state;
    start();
    script(LW_HWM_REFUSED, 40, 60, true);
    script(LW_HWM_UNTRIED, 41, 60, true);
    script(LW_HWM_UNTRIED, 42, 60, true);
    struct lw_boundary *b = make(LW_PEAK_MODE_AUTO);
    assert_true(lw_boundary_uses_hwm(b));
    lw_boundary_invoke(b, "a", 0);
    assert_false(lw_boundary_uses_hwm(b));
    assert_int_equal(w.sampler_starts, 1);
    assert_int_equal(w.sampler_tracks, 1);
    w.sampled[0] = 43 * MIB;
    lw_boundary_invoke(b, "b", 0);
    assert_int_equal(w.sampler_starts, 1);
    assert_false(w.reset_asked[1]); /* no reset asked of the kernel any more */
    assert_int_equal(w.sampler_swaps, 1);
    assert_int_equal(w.emitted[0].peak_method, LW_PEAK_SAMPLED);
    lw_boundary_shutdown(b);
    assert_int_equal(w.sampler_swaps, 2);
    assert_int_equal(w.sampler_stops, 1); /* after its last swap */
    lw_boundary_free(b);
    assert_int_equal(w.sampler_stops, 1);
}

static void test_hwm_mode_never_samples(void **state)
{
    (void)state;
    start();
    script(LW_HWM_REFUSED, 40, 60, true);
    script(LW_HWM_REFUSED, 41, 60, true);
    struct lw_boundary *b = make(LW_PEAK_MODE_HWM);
    lw_boundary_invoke(b, "a", 0);
    lw_boundary_shutdown(b);
    assert_int_equal(w.sampler_starts, 0);
    assert_true(lw_boundary_uses_hwm(b));
    assert_int_equal(w.emitted[0].peak_method, LW_PEAK_HWM);
    lw_boundary_free(b);
}

static void test_sampled_mode_samples_from_the_start(void **state)
{
    (void)state;
    start();
    script(LW_HWM_UNTRIED, 40, 60, true);
    script(LW_HWM_UNTRIED, 41, 60, true);
    struct lw_boundary *b = make(LW_PEAK_MODE_SAMPLED);
    assert_int_equal(w.sampler_starts, 1);
    lw_boundary_invoke(b, "a", 0);
    assert_false(w.reset_asked[0]);
    lw_boundary_shutdown(b);
    assert_int_equal(w.emitted[0].peak_method, LW_PEAK_SAMPLED);
    lw_boundary_free(b);
}

static void test_a_sampler_that_cannot_start_leaves_lifetime_highs(void **state)
{
    (void)state;
    start();
    script(LW_HWM_REFUSED, 40, 60, true);
    script(LW_HWM_UNTRIED, 41, 60, true);
    w.sampler_can_start = false;
    struct lw_boundary *b = make(LW_PEAK_MODE_AUTO);
    lw_boundary_invoke(b, "a", 0);
    lw_boundary_shutdown(b);
    assert_int_equal(w.sampler_starts, 1);
    assert_int_equal(w.sampler_swaps, 0);
    assert_int_equal(w.sampler_stops, 0);
    /* the kernel's lifetime HWM, an upper bound, with no sampled figure */
    assert_int_equal(w.emitted[0].peak_method, LW_PEAK_SAMPLED);
    lw_boundary_free(b);
}

static void test_shutdown_after_the_runtime_is_gone(void **state)
{
    (void)state;
    start();
    script(LW_HWM_OK, 40, 40, true);
    script(LW_HWM_UNTRIED, 0, 0, false); /* SIGTERM'd before SHUTDOWN reached leakwatch */
    struct lw_boundary *b = make(LW_PEAK_MODE_AUTO);
    lw_boundary_invoke(b, "a", 0);
    w.clock.wall_ms = T0 + 900;
    lw_boundary_shutdown(b);
    assert_int_equal(w.n_emitted, 1);
    const struct lw_record *r = &w.emitted[0];
    assert_false(r->have_end);
    assert_int_equal(r->peak_method, LW_PEAK_NONE);
    assert_int_equal(r->gaps & LW_GAP_END_READING, LW_GAP_END_READING);
    assert_int_equal(r->end_time_ms, T0 + 900);
    lw_boundary_free(b);
}

static void test_shutdown_without_an_invocation_emits_nothing(void **state)
{
    (void)state;
    start();
    script(LW_HWM_OK, 40, 40, true);
    struct lw_boundary *b = make(LW_PEAK_MODE_AUTO);
    lw_boundary_shutdown(b);
    assert_int_equal(w.n_emitted, 0);
    assert_int_equal(lw_boundary_invocations(b), 0);
    lw_boundary_free(b);
}

static void test_dropped_processes_are_counted(void **state)
{
    (void)state;
    start();
    script(LW_HWM_OK, 40, 40, true);
    script(LW_HWM_OK, 40, 40, true);
    w.readings[0].n_procs_dropped = 3;
    w.readings[1].n_procs_dropped = 2;
    struct lw_boundary *b = make(LW_PEAK_MODE_AUTO);
    lw_boundary_invoke(b, "a", 0);
    lw_boundary_shutdown(b);
    struct lw_health h;
    lw_health_read(&w.health, &h);
    assert_int_equal(h.c[LW_H_PROCS_DROPPED], 5);
    assert_int_equal(w.emitted[0].gaps & LW_GAP_PROCS, LW_GAP_PROCS);
    lw_boundary_free(b);
}

/* Managed Instances: readings on the timer, one interval record per period. */
static void test_ticks_make_interval_records(void **state)
{
    (void)state;
    start();
    script(LW_HWM_OK, 40, 40, true);
    script(LW_HWM_OK, 44, 50, true);
    script(LW_HWM_OK, 46, 47, true);
    w.event_waiting = true;                               /* meaningless without INVOKE: */
    w.read_takes_ms[1] = LW_BOUNDARY_LATE_READING_MS + 1; /* nothing can end under a tick */
    struct lw_boundary *b = make(LW_PEAK_MODE_AUTO);
    lw_boundary_tick(b); /* opens the first interval */
    assert_int_equal(w.n_emitted, 0);
    w.clock.wall_ms = T0 + 10000;
    lw_boundary_tick(b);
    w.clock.wall_ms = T0 + 20000;
    lw_boundary_shutdown(b);
    assert_int_equal(w.n_emitted, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct lw_record *r = &w.emitted[i];
        assert_int_equal(r->kind, LW_RECORD_INTERVAL);
        assert_int_equal(r->seq, i + 1);
        assert_string_equal(r->request_id, "");
        assert_int_equal(r->deadline_ms, 0);
        assert_int_equal(r->gaps & LW_GAP_START_READING, 0);
        assert_int_equal(r->start_time_ms, T0 + 10000 * i);
        assert_int_equal(r->end_time_ms, T0 + 10000 * (i + 1));
    }
    assert_true(w.emitted[0].cold_start);
    assert_false(w.emitted[1].cold_start);
    /* every reading reset the high-water marks: the interval's peak is exact */
    assert_true(w.reset_asked[0] && w.reset_asked[1] && w.reset_asked[2]);
    assert_int_equal(w.emitted[0].fn_peak_bytes, 50 * MIB);
    assert_int_equal(w.emitted[1].fn_peak_bytes, 47 * MIB);
    assert_int_equal(lw_boundary_invocations(b), 2);
    lw_boundary_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_invoke_closes_the_last_and_opens_the_next),
        cmocka_unit_test(test_a_late_reading_is_marked),
        cmocka_unit_test(test_refused_clear_refs_starts_the_sampler_once),
        cmocka_unit_test(test_hwm_mode_never_samples),
        cmocka_unit_test(test_sampled_mode_samples_from_the_start),
        cmocka_unit_test(test_a_sampler_that_cannot_start_leaves_lifetime_highs),
        cmocka_unit_test(test_shutdown_after_the_runtime_is_gone),
        cmocka_unit_test(test_shutdown_without_an_invocation_emits_nothing),
        cmocka_unit_test(test_dropped_processes_are_counted),
        cmocka_unit_test(test_ticks_make_interval_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
