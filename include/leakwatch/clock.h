/*
 * The clock seam. Every module that needs the time reads it through a struct lw_clock handed to
 * it at construction, never with clock_gettime() itself, so that unit tests pass a fake clock and
 * assert exact timestamps and deadlines. lw_clock_system() is the real one: the only code that
 * reads the kernel's clocks (src/common/clock.c).
 *
 * Two readings, for two jobs. Wall time (CLOCK_REALTIME, Unix epoch ms) stamps what leakwatch
 * writes and compares with Lambda's deadlines, which are epoch ms; it jumps across a freeze and
 * across a SnapStart restore. Monotonic time (CLOCK_MONOTONIC, ms) measures durations and local
 * timeouts. Whether Lambda's CLOCK_MONOTONIC advances while an environment is frozen is not
 * documented, so no module relies on either clock moving between invocations.
 */
#ifndef LEAKWATCH_CLOCK_H
#define LEAKWATCH_CLOCK_H

#include <stdint.h>
#include <time.h>

struct lw_clock {
    uint64_t (*wall_ms)(void *ctx); /* Unix epoch milliseconds */
    uint64_t (*mono_ms)(void *ctx); /* milliseconds on a clock that never goes back */
    uint64_t (*cpu_us)(void *ctx);  /* this process's CPU time (user + system), microseconds */
    void *ctx;
};

/* The kernel's clocks. Never NULL; shared, immutable. */
const struct lw_clock *lw_clock_system(void);

/* c, or the system clock when c is NULL: what a constructor stores for a NULL clock argument. */
const struct lw_clock *lw_clock_or_system(const struct lw_clock *c);

/*
 * The kernel clock id's time wait_ms from now, for pthread_cond_timedwait: a condition variable
 * waits on a kernel clock whatever clock its module reads, so a module computes how long to wait
 * from its own clock and turns that into a deadline here.
 */
struct timespec lw_clock_deadline_in(clockid_t id, uint64_t wait_ms);

static inline uint64_t lw_clock_wall_ms(const struct lw_clock *c)
{
    return c->wall_ms(c->ctx);
}

static inline uint64_t lw_clock_mono_ms(const struct lw_clock *c)
{
    return c->mono_ms(c->ctx);
}

static inline uint64_t lw_clock_cpu_us(const struct lw_clock *c)
{
    return c->cpu_us(c->ctx);
}

#endif
