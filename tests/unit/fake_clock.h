/*
 * A clock for tests (the seam of <leakwatch/clock.h>): wall time, monotonic time and CPU time
 * are plain fields the test sets and advances. With real_mono, monotonic time is the kernel's,
 * for modules whose threads wait on condition variables. A clock may be read from several
 * threads: the fields are read and counted atomically.
 */
#ifndef LEAKWATCH_FAKE_CLOCK_H
#define LEAKWATCH_FAKE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <leakwatch/clock.h>

struct fake_clock {
    struct lw_clock clock;
    uint64_t wall_ms;
    uint64_t mono_ms;
    uint64_t cpu_us;
    bool real_mono;
    uint64_t reads; /* how many times any reading was taken */
};

static inline uint64_t fake_clock_wall(void *ctx)
{
    struct fake_clock *f = ctx;
    __atomic_fetch_add(&f->reads, 1, __ATOMIC_RELAXED);
    return __atomic_load_n(&f->wall_ms, __ATOMIC_RELAXED);
}

static inline uint64_t fake_clock_mono(void *ctx)
{
    struct fake_clock *f = ctx;
    __atomic_fetch_add(&f->reads, 1, __ATOMIC_RELAXED);
    return f->real_mono ? lw_clock_mono_ms(lw_clock_system())
                        : __atomic_load_n(&f->mono_ms, __ATOMIC_RELAXED);
}

static inline uint64_t fake_clock_cpu(void *ctx)
{
    struct fake_clock *f = ctx;
    __atomic_fetch_add(&f->reads, 1, __ATOMIC_RELAXED);
    return __atomic_load_n(&f->cpu_us, __ATOMIC_RELAXED);
}

static inline const struct lw_clock *fake_clock_init(struct fake_clock *f, uint64_t wall_ms)
{
    *f = (struct fake_clock){
        .clock = {fake_clock_wall, fake_clock_mono, fake_clock_cpu, f},
        .wall_ms = wall_ms,
        .mono_ms = 1000000,
    };
    return &f->clock;
}

#endif
