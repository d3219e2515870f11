/*
 * record_build: record assembly from two snapshots. Process matching by (pid, start_ticks),
 * function and environment totals, the per-process peak rules, leakwatch's own figures, gaps,
 * and the SHUTDOWN close without an end reading. The record's vocabulary (role, gap and peak
 * method names) is common/record.c's: tests/unit/common/test_record.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_records.h"

static const struct lw_record_proc *find(const struct lw_record *r, int32_t pid,
                                         uint64_t start_ticks)
{
    for (uint32_t i = 0; i < r->n_procs; i++)
        if (r->procs[i].pid == pid && r->procs[i].start_ticks == start_ticks)
            return &r->procs[i];
    return NULL;
}

static void test_typical(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    assert_string_equal(r.request_id, "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa");
    assert_string_equal(r.env_id, "env-3f2a9c");
    assert_int_equal(r.seq, 5);
    assert_false(r.cold_start);
    assert_int_equal(r.start_time_ms, 1767607200000ull);
    assert_int_equal(r.end_time_ms, 1767607200250ull);
    assert_int_equal(r.deadline_ms, 1767607203000ull);
    assert_int_equal(r.memory_limit_bytes, 512 * MIB);
    assert_true(r.have_end);
    assert_int_equal(r.peak_method, LW_PEAK_HWM);
    assert_int_equal(r.gaps, 0);

    /* the function is the runtime only */
    assert_int_equal(r.fn_start.rss_bytes, 60 * MIB);
    assert_int_equal(r.fn_start.rss_anon_bytes, 50 * MIB);
    assert_int_equal(r.fn_start.rss_file_bytes, 10 * MIB);
    assert_int_equal(r.fn_end.rss_bytes, 64 * MIB);
    assert_int_equal(r.fn_end.rss_anon_bytes, 54 * MIB);
    assert_int_equal(r.fn_peak_bytes, 90 * MIB); /* reset at the start: end HWM is exact */
    /* the environment is everyone */
    assert_int_equal(r.env_end.rss_bytes, (64 + 31 + 3) * MIB);
    assert_int_equal(r.env_end.rss_anon_bytes, (54 + 26 + 1) * MIB);

    assert_int_equal(r.self_rss_bytes, 3 * MIB);
    assert_int_equal(r.self_cpu_us, 450);
    assert_int_equal(r.self_cpu_total_us, 12450);

    assert_int_equal(r.n_procs, 3);
    const struct lw_record_proc *ext = find(&r, 9, 110);
    assert_non_null(ext);
    assert_string_equal(ext->name, "datadog-agent");
    assert_int_equal(ext->role, LW_ROLE_EXTENSION);
    assert_true(ext->have_start && ext->have_end);
    assert_int_equal(ext->start.rss_bytes, 30 * MIB);
    assert_int_equal(ext->end.rss_bytes, 31 * MIB);
    /* not reset and its HWM did not rise: an upper bound, the lifetime high */
    assert_int_equal(ext->peak_bytes, 31 * MIB);
}

/* pid 7 was replaced by a new process with the same pid (a re-init): they are not the same. */
static void test_pid_reuse(void **state)
{
    (void)state;
    struct lw_snapshot s = {0}, e = {0};
    s.time_ms = 1000;
    e.time_ms = 2000;
    snap_add(&s, 7, 100, LW_ROLE_RUNTIME, "bootstrap", 60 * MIB, 50 * MIB, 60 * MIB, true);
    snap_add(&e, 7, 500, LW_ROLE_RUNTIME, "bootstrap", 20 * MIB, 15 * MIB, 25 * MIB, false);
    struct lw_record r;
    lw_record_open(&r, &s, "a", "b", 1, true, 0, 0);
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    assert_int_equal(r.n_procs, 2);
    const struct lw_record_proc *old = find(&r, 7, 100);
    const struct lw_record_proc *new = find(&r, 7, 500);
    assert_non_null(old);
    assert_non_null(new);
    assert_true(old->have_start);
    assert_false(old->have_end);
    assert_int_equal(old->peak_bytes, 60 * MIB); /* exited: its start RSS */
    assert_false(new->have_start);
    assert_true(new->have_end);
    assert_int_equal(new->peak_bytes, 25 * MIB); /* appeared: its lifetime HWM is exact */
    /* the process of the start is gone: the function's total at the end is not known */
    assert_false(r.have_end);
    assert_int_equal(r.gaps, LW_GAP_PARTIAL_END);
    assert_int_equal(r.partial_totals, LW_TOTAL_FUNCTION | LW_TOTAL_ENVIRONMENT);
    assert_int_equal(r.fn_end.rss_bytes, 0);
    assert_int_equal(r.fn_peak_bytes, 0);
    assert_true(r.cold_start);
}

struct peak_case {
    const char *what;
    bool hwm_reset;
    uint64_t start_rss, start_hwm, end_rss, end_hwm, sample;
    enum lw_peak_method method;
    uint64_t want_peak;
    enum lw_peak_method want_method;
};

static const struct peak_case peak_cases[] = {
    {"reset: end HWM", true, 60, 80, 64, 70, 0, LW_PEAK_HWM, 70, LW_PEAK_HWM},
    {"reset: sample ignored", true, 60, 80, 64, 70, 66, LW_PEAK_HWM, 70, LW_PEAK_HWM},
    {"reset refused, lifetime HWM rose: exact", false, 60, 80, 64, 95, 0, LW_PEAK_HWM, 95,
     LW_PEAK_HWM},
    {"reset refused, HWM unchanged, no sample: upper bound", false, 60, 80, 64, 80, 0, LW_PEAK_HWM,
     80, LW_PEAK_HWM},
    {"reset refused, HWM unchanged, sample decides", false, 60, 80, 64, 80, 72, LW_PEAK_HWM, 72,
     LW_PEAK_SAMPLED},
    {"sampled: sample below the end RSS is raised to it", false, 60, 80, 64, 80, 62,
     LW_PEAK_SAMPLED, 64, LW_PEAK_SAMPLED},
    {"sampled: sample above HWM is capped", false, 60, 80, 64, 80, 99, LW_PEAK_SAMPLED, 80,
     LW_PEAK_SAMPLED},
    {"sampled: a new lifetime high beats the sampler", false, 60, 80, 64, 90, 85, LW_PEAK_SAMPLED,
     90, LW_PEAK_SAMPLED},
    {"start RSS above everything later", true, 60, 80, 40, 50, 0, LW_PEAK_HWM, 60, LW_PEAK_HWM},
    {"no mm at start (exec): HWM since then", false, 0, 0, 10, 12, 0, LW_PEAK_HWM, 12, LW_PEAK_HWM},
};

static void test_peak_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(peak_cases) / sizeof(peak_cases[0]); i++) {
        const struct peak_case *c = &peak_cases[i];
        struct lw_snapshot s = {0}, e = {0};
        snap_add(&s, 7, 100, LW_ROLE_RUNTIME, "node", c->start_rss * MIB, 0, c->start_hwm * MIB,
                 c->hwm_reset);
        snap_add(&e, 7, 100, LW_ROLE_RUNTIME, "node", c->end_rss * MIB, 0, c->end_hwm * MIB, false);
        uint64_t samples[1] = {c->sample * MIB};
        struct lw_record r;
        lw_record_open(&r, &s, "id", "env", 1, false, 0, 0);
        lw_record_close(&r, &e, c->method, samples);
        if (r.procs[0].peak_bytes != c->want_peak * MIB || r.peak_method != c->want_method)
            fail_msg("%s: peak %llu MiB method %s", c->what,
                     (unsigned long long)(r.procs[0].peak_bytes / MIB),
                     lw_peak_method_name(r.peak_method));
        assert_int_equal(r.fn_peak_bytes, c->want_peak * MIB);
    }
}

/* A worker started during the invocation: the function's figures sum the runtime and it. */
static void test_children(void **state)
{
    (void)state;
    struct lw_snapshot s = {0}, e = {0};
    snap_add(&s, 7, 100, LW_ROLE_RUNTIME, "python3", 40 * MIB, 30 * MIB, 40 * MIB, true);
    snap_add(&s, 20, 300, LW_ROLE_RUNTIME_CHILD, "worker-a", 10 * MIB, 8 * MIB, 12 * MIB, true);
    snap_add(&e, 7, 100, LW_ROLE_RUNTIME, "python3", 41 * MIB, 31 * MIB, 45 * MIB, false);
    snap_add(&e, 20, 300, LW_ROLE_RUNTIME_CHILD, "worker-a", 10 * MIB, 8 * MIB, 11 * MIB, false);
    snap_add(&e, 21, 400, LW_ROLE_RUNTIME_CHILD, "worker-b", 5 * MIB, 4 * MIB, 9 * MIB, false);
    snap_add(&e, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    struct lw_record r;
    lw_record_open(&r, &s, "id", "env", 2, false, 0, 256 * MIB);
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    assert_int_equal(r.n_procs, 4);
    assert_true(r.have_end);
    assert_int_equal(r.gaps, 0);
    assert_int_equal(r.partial_totals, 0);
    assert_int_equal(r.fn_start.rss_bytes, 50 * MIB);
    assert_int_equal(r.fn_end.rss_bytes, 56 * MIB);
    assert_int_equal(r.fn_end.rss_anon_bytes, 43 * MIB);
    /* 45 (runtime HWM) + 11 (worker-a's HWM since its reset) + 9 (new worker's HWM) */
    assert_int_equal(r.fn_peak_bytes, 65 * MIB);
    assert_int_equal(r.env_end.rss_bytes, 59 * MIB);
    assert_int_equal(r.self_rss_bytes, 3 * MIB);
    const struct lw_record_proc *b = find(&r, 21, 400);
    assert_non_null(b);
    assert_false(b->have_start);
    assert_string_equal(b->name, "worker-b");
    assert_int_equal(b->role, LW_ROLE_RUNTIME_CHILD);
}

/*
 * Totals only from complete readings. A worker of the start is gone at the end (it exited, or
 * the platform stopped it first): what the runtime and the new worker hold is not the
 * function's total, and neither is the environment's. Both are left out, with the reason; the
 * extensions' total, whose every process was read, stays. Each process keeps its own figures.
 */
static void test_partial_end_leaves_the_totals_out(void **state)
{
    (void)state;
    struct lw_snapshot s = {0}, e = {0};
    snap_add(&s, 7, 100, LW_ROLE_RUNTIME, "python3", 40 * MIB, 30 * MIB, 40 * MIB, true);
    snap_add(&s, 20, 300, LW_ROLE_RUNTIME_CHILD, "worker-a", 28 * MIB, 27 * MIB, 28 * MIB, true);
    snap_add(&s, 9, 110, LW_ROLE_EXTENSION, "otel", 30 * MIB, 25 * MIB, 31 * MIB, false);
    snap_add(&s, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, true);
    snap_add(&e, 7, 100, LW_ROLE_RUNTIME, "python3", 41 * MIB, 31 * MIB, 45 * MIB, false);
    snap_add(&e, 21, 400, LW_ROLE_RUNTIME_CHILD, "worker-b", 5 * MIB, 4 * MIB, 9 * MIB, false);
    snap_add(&e, 9, 110, LW_ROLE_EXTENSION, "otel", 31 * MIB, 26 * MIB, 31 * MIB, false);
    snap_add(&e, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    struct lw_record r;
    lw_record_open(&r, &s, "id", "env", 2, false, 0, 256 * MIB);
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    assert_false(r.have_end);
    assert_int_equal(r.gaps, LW_GAP_PARTIAL_END);
    assert_int_equal(r.partial_totals, LW_TOTAL_FUNCTION | LW_TOTAL_ENVIRONMENT);
    assert_int_equal(r.fn_end.rss_bytes, 0);
    assert_int_equal(r.fn_end.rss_anon_bytes, 0);
    assert_int_equal(r.env_end.rss_bytes, 0);
    assert_int_equal(r.fn_peak_bytes, 0);
    assert_int_equal(r.fn_start.rss_bytes, 68 * MIB); /* the start was complete */
    assert_int_equal(r.peak_method, LW_PEAK_HWM);
    assert_int_equal(r.self_rss_bytes, 3 * MIB);
    const struct lw_record_proc *a = find(&r, 20, 300);
    assert_true(a->have_start);
    assert_false(a->have_end);
    const struct lw_record_proc *rt = find(&r, 7, 100);
    assert_true(rt->have_end);
    assert_int_equal(rt->end.rss_anon_bytes, 31 * MIB);
    assert_int_equal(rt->peak_bytes, 45 * MIB);

    /* an extension's process gone instead: only the extensions' and the environment's totals */
    memset(&e, 0, sizeof(e));
    snap_add(&e, 7, 100, LW_ROLE_RUNTIME, "python3", 41 * MIB, 31 * MIB, 45 * MIB, false);
    snap_add(&e, 20, 300, LW_ROLE_RUNTIME_CHILD, "worker-a", 28 * MIB, 27 * MIB, 28 * MIB, false);
    snap_add(&e, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    lw_record_open(&r, &s, "id", "env", 2, false, 0, 256 * MIB);
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    assert_true(r.have_end);
    assert_int_equal(r.gaps, LW_GAP_PARTIAL_END);
    assert_int_equal(r.partial_totals, LW_TOTAL_EXTENSIONS | LW_TOTAL_ENVIRONMENT);
    assert_int_equal(r.fn_end.rss_bytes, 69 * MIB);
    assert_int_equal(r.fn_peak_bytes, 73 * MIB);

    /* a process of unknown role gone: the environment's total only */
    memset(&s, 0, sizeof(s));
    snap_add(&s, 7, 100, LW_ROLE_RUNTIME, "python3", 40 * MIB, 30 * MIB, 40 * MIB, true);
    snap_add(&s, 30, 500, LW_ROLE_UNKNOWN, "daemon", 8 * MIB, 7 * MIB, 8 * MIB, false);
    memset(&e, 0, sizeof(e));
    snap_add(&e, 7, 100, LW_ROLE_RUNTIME, "python3", 41 * MIB, 31 * MIB, 45 * MIB, false);
    lw_record_open(&r, &s, "id", "env", 2, false, 0, 256 * MIB);
    assert_int_equal(r.fn_start.rss_bytes, 40 * MIB); /* not the function's */
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    assert_true(r.have_end);
    assert_int_equal(r.partial_totals, LW_TOTAL_ENVIRONMENT);
    assert_int_equal(r.fn_end.rss_bytes, 41 * MIB);
}

/* More distinct processes over the invocation than the record holds: flagged. The ones of the
 * start are gone, so the totals are left out as well. */
static void test_overflow(void **state)
{
    (void)state;
    static struct lw_snapshot s, e;
    memset(&s, 0, sizeof(s));
    memset(&e, 0, sizeof(e));
    for (int i = 0; i < LW_MAX_PROCS; i++)
        snap_add(&s, 100 + i, 1, LW_ROLE_RUNTIME_CHILD, "a", 1 * MIB, 1 * MIB, 1 * MIB, true);
    for (int i = 0; i < LW_MAX_PROCS; i++)
        snap_add(&e, 200 + i, 2, LW_ROLE_RUNTIME_CHILD, "b", 2 * MIB, 2 * MIB, 3 * MIB, false);
    struct lw_record r;
    lw_record_open(&r, &s, "id", "env", 1, false, 0, 0);
    assert_int_equal(r.gaps, 0);
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    assert_int_equal(r.n_procs, LW_MAX_PROCS);
    assert_int_equal(r.gaps, LW_GAP_PROCS | LW_GAP_PARTIAL_END);
    assert_false(r.have_end);
    assert_int_equal(r.fn_end.rss_bytes, 0);

    /* a start snapshot that itself dropped processes */
    memset(&s, 0, sizeof(s));
    snap_add(&s, 7, 1, LW_ROLE_RUNTIME, "a", 1, 1, 1, true);
    s.n_procs_dropped = 3;
    lw_record_open(&r, &s, "id", "env", 1, false, 0, 0);
    assert_int_equal(r.gaps, LW_GAP_PROCS);

    /* an end snapshot that dropped processes */
    s.n_procs_dropped = 0;
    memset(&e, 0, sizeof(e));
    snap_add(&e, 7, 1, LW_ROLE_RUNTIME, "a", 1, 1, 1, false);
    e.n_procs_dropped = 1;
    lw_record_open(&r, &s, "id", "env", 1, false, 0, 0);
    assert_int_equal(r.gaps, 0);
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    assert_int_equal(r.gaps, LW_GAP_PROCS);
}

static void test_strings(void **state)
{
    (void)state;
    struct lw_snapshot s = {0};
    struct lw_record r;
    char long_id[200];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    lw_record_open(&r, &s, long_id, NULL, 1, false, 0, 0);
    assert_int_equal(strlen(r.request_id), LW_REQUEST_ID_MAX - 1);
    assert_string_equal(r.env_id, "");
    assert_int_equal(r.n_procs, 0);
    assert_int_equal(r.end_time_ms, 0);
    assert_false(r.have_end);
}

/* SHUTDOWN after the runtime exited: no end reading, but extensions and leakwatch are known. */
static void test_close_missing(void **state)
{
    (void)state;
    struct lw_snapshot s = {0}, e = {0};
    s.time_ms = 1000;
    s.self_cpu_us = 500;
    snap_add(&s, 7, 100, LW_ROLE_RUNTIME, "bootstrap", 60 * MIB, 50 * MIB, 60 * MIB, true);
    snap_add(&s, 9, 110, LW_ROLE_EXTENSION, "otel", 30 * MIB, 25 * MIB, 31 * MIB, true);
    snap_add(&s, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    e.time_ms = 5000;
    e.self_cpu_us = 800;
    snap_add(&e, 9, 110, LW_ROLE_EXTENSION, "otel", 32 * MIB, 27 * MIB, 33 * MIB, false);
    snap_add(&e, 8, 90, LW_ROLE_SELF, "leakwatch", 4 * MIB, 2 * MIB, 4 * MIB, false);
    struct lw_record r;
    lw_record_open(&r, &s, "id", "env", 9, false, 0, 128 * MIB);
    lw_record_close_missing(&r, &e, 4990);
    assert_false(r.have_end);
    assert_int_equal(r.gaps, LW_GAP_END_READING);
    assert_int_equal(r.peak_method, LW_PEAK_NONE);
    assert_int_equal(r.end_time_ms, 4990);
    assert_int_equal(r.fn_end.rss_bytes, 0);
    assert_int_equal(r.env_end.rss_bytes, 0);
    assert_int_equal(r.fn_peak_bytes, 0);
    assert_int_equal(r.fn_start.rss_bytes, 60 * MIB);
    assert_int_equal(r.self_rss_bytes, 4 * MIB);
    assert_int_equal(r.self_cpu_us, 300);
    const struct lw_record_proc *rt = find(&r, 7, 100);
    assert_false(rt->have_end);
    const struct lw_record_proc *ext = find(&r, 9, 110);
    assert_true(ext->have_end);
    assert_int_equal(ext->end.rss_bytes, 32 * MIB);
    assert_int_equal(ext->peak_bytes, 33 * MIB);
    assert_int_equal(r.partial_totals, LW_TOTAL_FUNCTION | LW_TOTAL_ENVIRONMENT);

    /* the extension gone as well (it exits at its own SHUTDOWN): its total is left out too */
    memset(&e, 0, sizeof(e));
    e.time_ms = 5000;
    snap_add(&e, 8, 90, LW_ROLE_SELF, "leakwatch", 4 * MIB, 2 * MIB, 4 * MIB, false);
    lw_record_open(&r, &s, "id", "env", 9, false, 0, 128 * MIB);
    lw_record_close_missing(&r, &e, 4990);
    assert_int_equal(r.gaps, LW_GAP_END_READING | LW_GAP_PARTIAL_END);
    assert_int_equal(r.partial_totals,
                     LW_TOTAL_FUNCTION | LW_TOTAL_EXTENSIONS | LW_TOTAL_ENVIRONMENT);

    /* nothing at all at the end */
    lw_record_open(&r, &s, "id", "env", 9, false, 0, 128 * MIB);
    lw_record_close_missing(&r, NULL, 4990);
    assert_false(r.have_end);
    assert_int_equal(r.gaps, LW_GAP_END_READING);
    assert_int_equal(r.self_rss_bytes, 0);
    assert_int_equal(r.self_cpu_us, 0);
    for (uint32_t i = 0; i < r.n_procs; i++) {
        assert_false(r.procs[i].have_end);
        assert_int_equal(r.procs[i].peak_bytes, r.procs[i].start.rss_bytes);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typical),
        cmocka_unit_test(test_pid_reuse),
        cmocka_unit_test(test_peak_rules),
        cmocka_unit_test(test_children),
        cmocka_unit_test(test_partial_end_leaves_the_totals_out),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_close_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
