/*
 * The fallback peak sampler (see sampler.h).
 *
 * Descriptors: at each INVOKE the main thread, which owns the process table, duplicates the
 * kept /proc/PID/status descriptor of each function process and hands the copies over; from
 * then on only the sampler thread reads and closes them. So a sample is one pread of the very
 * process that was read at the boundary (a pid reused in between reads as gone, never as
 * someone else), and no descriptor is ever closed by one thread while the other reads it.
 *
 * Stopping: the thread waits on a condition variable with a deadline, not in a sleep, so a stop
 * takes it out of its wait at once: at SHUTDOWN no part of the budget goes to a sampling
 * interval.
 */
#include <leakwatch/sampler.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <leakwatch/clock.h>
#include <leakwatch/procfs.h>
#include <leakwatch/snapshot.h>

#define READ_CAP 4096

struct watched {
    int32_t pid;
    uint64_t start_ticks;
    uint64_t peak_bytes;
};

struct lw_sampler {
    const struct lw_processes *ps;
    uint32_t interval_ms;
    pthread_t thread;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;  /* signalled by stop */
    bool stop;
    uint64_t generation; /* one per track: samples of an older set are dropped */
    size_t n;
    struct watched w[LW_MAX_PROCS];
    /* The descriptors of the newest set (indexed like w), owned by the main thread until the
     * sampler thread takes them. */
    int pending_fds[LW_MAX_PROCS];
    size_t n_pending;
    bool have_pending;
    uint64_t peaks[LW_MAX_PROCS];
    uint64_t samples;
};

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* VmRSS through an open status descriptor; false when the process is gone. */
static bool read_rss(int fd, char *buf, size_t cap, uint64_t *rss_bytes)
{
    if (fd < 0)
        return false;
    ssize_t n;
    do {
        n = pread(fd, buf, cap, 0);
    } while (n < 0 && errno == EINTR);
    struct lw_status_info st;
    if (n <= 0 || lw_procfs_parse_status(buf, (size_t)n, &st) != LW_OK ||
        !(st.present & LW_STATUS_VMRSS))
        return false;
    *rss_bytes = st.mem.rss_bytes;
    return true;
}

static void *sampler_main(void *arg)
{
    struct lw_sampler *s = arg;
    /* its name in top -H, perf and /proc/PID/task/TID/comm */
    pthread_setname_np(pthread_self(), "lw-sampler");
    int fds[LW_MAX_PROCS];
    size_t n_fds = 0;
    uint64_t generation = 0;
    char buf[READ_CAP];
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        int old[LW_MAX_PROCS];
        size_t n_old = 0;
        if (s->have_pending) {
            memcpy(old, fds, n_fds * sizeof(fds[0]));
            n_old = n_fds;
            memcpy(fds, s->pending_fds, s->n_pending * sizeof(fds[0]));
            n_fds = s->n_pending;
            s->have_pending = false;
            s->n_pending = 0;
        }
        generation = s->generation;
        pthread_mutex_unlock(&s->lock);

        /* Read outside the lock: the boundary must never wait for /proc reads here. */
        close_all(old, n_old);
        uint64_t rss[LW_MAX_PROCS];
        bool ok[LW_MAX_PROCS];
        for (size_t i = 0; i < n_fds; i++)
            ok[i] = read_rss(fds[i], buf, sizeof(buf), &rss[i]);

        pthread_mutex_lock(&s->lock);
        if (generation == s->generation)
            for (size_t i = 0; i < n_fds && i < s->n; i++)
                if (ok[i] && rss[i] > s->w[i].peak_bytes)
                    s->w[i].peak_bytes = rss[i];
        __atomic_fetch_add(&s->samples, 1, __ATOMIC_RELAXED);

        struct timespec until = lw_clock_deadline_in(CLOCK_MONOTONIC, s->interval_ms);
        while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&s->lock);
    close_all(fds, n_fds);
    return NULL;
}

struct lw_sampler *lw_sampler_start(const struct lw_processes *ps, uint32_t interval_ms)
{
    struct lw_sampler *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->ps = ps;
    s->interval_ms = interval_ms == 0 ? 1 : interval_ms;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&s->thread, NULL, sampler_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    return s;
}

void lw_sampler_track(struct lw_sampler *s, const struct lw_snapshot *start)
{
    struct watched w[LW_MAX_PROCS];
    int fds[LW_MAX_PROCS];
    size_t n = 0;
    for (uint32_t i = 0; i < start->n_procs && i < LW_MAX_PROCS && n < LW_MAX_PROCS; i++) {
        const struct lw_proc_reading *r = &start->procs[i];
        if (!lw_record_role_is_function(r->role))
            continue;
        w[n] = (struct watched){r->pid, r->start_ticks, r->mem.rss_bytes};
        fds[n] = lw_processes_dup_status(s->ps, r->pid, r->start_ticks);
        n++;
    }
    int stale[LW_MAX_PROCS];
    size_t n_stale = 0;
    pthread_mutex_lock(&s->lock);
    if (s->have_pending) {
        /* never taken by the thread: still ours */
        memcpy(stale, s->pending_fds, s->n_pending * sizeof(stale[0]));
        n_stale = s->n_pending;
    }
    memcpy(s->w, w, n * sizeof(w[0]));
    s->n = n;
    memcpy(s->pending_fds, fds, n * sizeof(fds[0]));
    s->n_pending = n;
    s->have_pending = true;
    s->generation++;
    pthread_mutex_unlock(&s->lock);
    close_all(stale, n_stale);
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
            if (s->w[j].pid == r->pid && s->w[j].start_ticks == r->start_ticks &&
                s->w[j].peak_bytes > peak)
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
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    if (s->have_pending)
        close_all(s->pending_fds, s->n_pending);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
