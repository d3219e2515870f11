/*
 * Builders for snapshots and records shared by the record, metrics and EMF tests. The figures
 * are those of a small Node.js-like environment: a runtime, a worker child, one vendor extension
 * and leakwatch itself.
 */
#ifndef LEAKWATCH_TEST_RECORDS_H
#define LEAKWATCH_TEST_RECORDS_H

#include <stdio.h>
#include <string.h>

#include <leakwatch/record.h>
#include <leakwatch/record_build.h>

#define MIB (1024ull * 1024ull)

static inline struct lw_proc_reading *snap_add(struct lw_snapshot *s, int32_t pid,
                                               uint64_t start_ticks, enum lw_proc_role role,
                                               const char *name, uint64_t rss, uint64_t anon,
                                               uint64_t hwm, bool hwm_reset)
{
    struct lw_proc_reading *p = &s->procs[s->n_procs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    p->ppid = 1;
    p->start_ticks = start_ticks;
    p->role = role;
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->mem.rss_bytes = rss;
    p->mem.rss_anon_bytes = anon;
    p->mem.rss_file_bytes = rss - anon;
    p->mem.rss_shmem_bytes = 0;
    p->mem.hwm_bytes = hwm;
    p->hwm_reset = hwm_reset;
    return p;
}

/* A complete record: start at t=1000 s, end 250 ms later, runtime grew by 4 MiB anon. */
static inline void make_typical_record(struct lw_record *r)
{
    static struct lw_snapshot s, e;
    memset(&s, 0, sizeof(s));
    memset(&e, 0, sizeof(e));
    s.time_ms = 1767607200000ull;
    s.self_cpu_us = 12000;
    snap_add(&s, 7, 100, LW_ROLE_RUNTIME, "bootstrap", 60 * MIB, 50 * MIB, 70 * MIB, true);
    snap_add(&s, 9, 110, LW_ROLE_EXTENSION, "datadog-agent", 30 * MIB, 25 * MIB, 31 * MIB, false);
    snap_add(&s, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    e.time_ms = s.time_ms + 250;
    e.self_cpu_us = 12450;
    snap_add(&e, 7, 100, LW_ROLE_RUNTIME, "bootstrap", 64 * MIB, 54 * MIB, 90 * MIB, false);
    snap_add(&e, 9, 110, LW_ROLE_EXTENSION, "datadog-agent", 31 * MIB, 26 * MIB, 31 * MIB, false);
    snap_add(&e, 8, 90, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    lw_record_open(r, &s, "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa", "env-3f2a9c", 5, false,
                   s.time_ms + 3000, 512 * MIB);
    lw_record_close(r, &e, LW_PEAK_HWM, NULL);
    r->platform.have_start = true;
    r->platform.have_runtime_done = true;
    r->platform.have_report = true;
    snprintf(r->platform.status, sizeof(r->platform.status), "success");
    r->platform.runtime_duration_ms = 241.5;
    r->platform.duration_ms = 243.25;
    r->platform.billed_duration_ms = 244;
    r->platform.memory_size_mb = 512;
    r->platform.max_memory_used_mb = 131;
}

/* The units CloudWatch accepts in an EMF metric definition (EMF specification). */
static const char *const lw_test_cloudwatch_units[] = {
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
};

#endif
