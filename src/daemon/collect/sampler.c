#include <leakwatch/sampler.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <leakwatch/snapshot.h>

struct watched {
    int32_t pid;
    uint64_t peak_bytes;
};

struct lw_sampler {
    const struct lw_processes *ps;
    uint32_t interval_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    bool stop;
    size_t n;
    struct watched w[LW_MAX_PROCS];
    uint64_t peaks[LW_MAX_PROCS];
    uint64_t samples;
};

static void *sampler_main(void *arg)
{
    struct lw_sampler *s = arg;
    /* its name in top -H, perf and /proc/PID/task/TID/comm */
    pthread_setname_np(pthread_self(), "lw-sampler");
    struct timespec ts = {.tv_sec = s->interval_ms / 1000,
                          .tv_nsec = (long)(s->interval_ms % 1000) * 1000000L};
    for (;;) {
        int32_t pids[LW_MAX_PROCS];
        size_t n;
        pthread_mutex_lock(&s->lock);
        if (s->stop) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        n = s->n;
        for (size_t i = 0; i < n; i++)
            pids[i] = s->w[i].pid;
        pthread_mutex_unlock(&s->lock);

        /* Read outside the lock: the boundary must never wait for /proc reads here. */
        uint64_t rss[LW_MAX_PROCS];
        bool ok[LW_MAX_PROCS];
        for (size_t i = 0; i < n; i++)
            ok[i] = lw_processes_read_rss(s->ps, pids[i], &rss[i]);

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < n && i < s->n; i++)
            if (ok[i] && s->w[i].pid == pids[i] && rss[i] > s->w[i].peak_bytes)
                s->w[i].peak_bytes = rss[i];
        __atomic_fetch_add(&s->samples, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&s->lock);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

struct lw_sampler *lw_sampler_start(const struct lw_processes *ps, uint32_t interval_ms)
{
    struct lw_sampler *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->ps = ps;
    s->interval_ms = interval_ms == 0 ? 1 : interval_ms;
    pthread_mutex_init(&s->lock, NULL);
    if (pthread_create(&s->thread, NULL, sampler_main, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    return s;
}

void lw_sampler_track(struct lw_sampler *s, const struct lw_snapshot *start)
{
    pthread_mutex_lock(&s->lock);
    s->n = 0;
    for (uint32_t i = 0; i < start->n_procs && s->n < LW_MAX_PROCS; i++) {
        if (!lw_record_role_is_function(start->procs[i].role))
            continue;
        s->w[s->n].pid = start->procs[i].pid;
        s->w[s->n].peak_bytes = start->procs[i].mem.rss_bytes;
        s->n++;
    }
    pthread_mutex_unlock(&s->lock);
}

const uint64_t *lw_sampler_swap(struct lw_sampler *s, const struct lw_snapshot *end)
{
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < end->n_procs && i < LW_MAX_PROCS; i++) {
        const struct lw_proc_reading *r = &end->procs[i];
        s->peaks[i] = 0;
        if (!lw_record_role_is_function(r->role))
            continue;
        uint64_t peak = r->mem.rss_bytes;
        for (size_t j = 0; j < s->n; j++)
            if (s->w[j].pid == r->pid && s->w[j].peak_bytes > peak)
                peak = s->w[j].peak_bytes;
        s->peaks[i] = peak;
    }
    pthread_mutex_unlock(&s->lock);
    return s->peaks;
}

uint64_t lw_sampler_samples(const struct lw_sampler *s)
{
    return __atomic_load_n(&s->samples, __ATOMIC_RELAXED);
}

void lw_sampler_stop(struct lw_sampler *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
