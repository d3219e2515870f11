/*
 * The fallback peak sampler against a fake /proc (fake_proc.h): it samples the very processes
 * the boundary read (a pid reused in between is not sampled in their place), and a stop takes
 * its thread out of its wait at once. Waits below are for the sampler's own count of samples,
 * never for an amount of time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <time.h>

#include "fake_proc.h"

#include <leakwatch/sampler.h>
#include <leakwatch/snapshot.h>

#define KIB 1024u

static int setup(void **state)
{
    (void)state;
    fake_proc_make_root();
    proc(100, 0, "init", CMD("/var/rapid/init\0"), 1000, 900, "200 201 ");
    proc(200, 100, "leakwatch", CMD("/opt/extensions/leakwatch\0"), 3000, 1000, "");
    proc(201, 100, "bootstrap", CMD("/var/runtime/bootstrap\0"), 50000, 40000, "");
    return 0;
}

static struct lw_processes *make(void)
{
    return fake_proc_processes(100, 200);
}

/* Returns once the sampler has begun a sample after this call and finished it. */
static void wait_samples(const struct lw_sampler *s)
{
    uint64_t from = lw_sampler_samples(s);
    struct timespec pause = {0, 1000000};
    while (lw_sampler_samples(s) < from + 2)
        nanosleep(&pause, NULL);
}

/* The runtime's RSS rises between the boundaries: the sampler sees it. Then the runtime exits
 * and another process is given its pid, much larger: that one is not the runtime's peak. */
static void test_samples_the_process_the_boundary_read(void **state)
{
    (void)state;
    struct lw_processes *ps = make();
    static struct lw_snapshot start, end;
    lw_snapshot_take(ps, false, 1, 0, &start);
    const struct lw_proc_reading *rt = find(&start, 201);
    assert_non_null(rt);
    assert_int_equal(rt->role, LW_ROLE_RUNTIME);
    struct lw_sampler *s = lw_sampler_start(ps, 1);
    assert_non_null(s);
    lw_sampler_track(s, &start);

    /* the same process, more memory (the status file rewritten in place) */
    putf("201/status", "Name:\tbootstrap\nPid:\t201\nPPid:\t100\nVmRSS:\t%u kB\n", 80000u);
    wait_samples(s);
    end = start;
    const uint64_t *peaks = lw_sampler_swap(s, &end);
    for (uint32_t i = 0; i < end.n_procs; i++) {
        if (end.procs[i].pid == 201)
            assert_int_equal(peaks[i], 80000ull * KIB);
        else
            assert_int_equal(peaks[i], 0); /* not the function: not watched */
    }

    /* the next invocation: the runtime exits, pid 201 goes to a stranger */
    lw_sampler_track(s, &start);
    vanish(201);
    proc(201, 555, "stranger", CMD("/usr/bin/stranger\0"), 900000, 800000, "");
    wait_samples(s);
    peaks = lw_sampler_swap(s, &end);
    for (uint32_t i = 0; i < end.n_procs; i++)
        if (end.procs[i].pid == 201)
            assert_int_equal(peaks[i], end.procs[i].mem.rss_bytes);
    lw_sampler_stop(s);
    lw_processes_free(ps);
}

/* A sampler that waits an hour between samples stops at once: at SHUTDOWN its interval must
 * not eat the budget. (A sampler that slept through its interval first would hold this test
 * until ctest's timeout.) */
static void test_stop_is_immediate(void **state)
{
    (void)state;
    struct lw_processes *ps = make();
    static struct lw_snapshot start;
    lw_snapshot_take(ps, false, 1, 0, &start);
    struct lw_sampler *s = lw_sampler_start(ps, 3600u * 1000u);
    assert_non_null(s);
    lw_sampler_track(s, &start);
    struct timespec pause = {0, 1000000};
    while (lw_sampler_samples(s) < 1)
        nanosleep(&pause, NULL);
    lw_sampler_stop(s);
    lw_processes_free(ps);
}

/* Tracked sets replaced before the thread took them, and one never taken at all: every copied
 * descriptor is closed. */
static void test_descriptors_are_not_left_behind(void **state)
{
    (void)state;
    int probe = dup(0); /* the lowest free descriptor before */
    close(probe);
    struct lw_processes *ps = make();
    static struct lw_snapshot start;
    lw_snapshot_take(ps, false, 1, 0, &start);
    struct lw_sampler *s = lw_sampler_start(ps, 3600u * 1000u);
    assert_non_null(s);
    for (int i = 0; i < 50; i++)
        lw_sampler_track(s, &start);
    lw_sampler_stop(s);
    lw_processes_free(ps);
    int after = dup(0);
    close(after);
    assert_int_equal(after, probe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_samples_the_process_the_boundary_read, setup,
                                        fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_stop_is_immediate, setup, fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_descriptors_are_not_left_behind, setup,
                                        fake_proc_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
