#include <leakwatch/clock.h>

#include <stddef.h>
#include <sys/resource.h>
#include <time.h>

static uint64_t read_ms(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t system_wall_ms(void *ctx)
{
    (void)ctx;
    return read_ms(CLOCK_REALTIME);
}

static uint64_t system_mono_ms(void *ctx)
{
    (void)ctx;
    return read_ms(CLOCK_MONOTONIC);
}

static uint64_t system_cpu_us(void *ctx)
{
    (void)ctx;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

static const struct lw_clock system_clock = {
    .wall_ms = system_wall_ms,
    .mono_ms = system_mono_ms,
    .cpu_us = system_cpu_us,
    .ctx = NULL,
};

const struct lw_clock *lw_clock_system(void)
{
    return &system_clock;
}

struct timespec lw_clock_deadline_in(clockid_t id, uint64_t wait_ms)
{
    struct timespec ts = {0, 0};
    clock_gettime(id, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

const struct lw_clock *lw_clock_or_system(const struct lw_clock *c)
{
    return c != NULL ? c : &system_clock;
}
