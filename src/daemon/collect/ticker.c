#include <leakwatch/ticker.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <leakwatch/clock.h>
#include <leakwatch/log.h>

struct lw_ticker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    bool stop;
    uint32_t period_ms;
    void (*fn)(void *ctx);
    void *ctx;
    uint64_t calls;
    char name[16];
};

static void *ticker_main(void *arg)
{
    struct lw_ticker *t = arg;
    pthread_setname_np(pthread_self(), t->name);
    pthread_mutex_lock(&t->mu);
    for (;;) {
        struct timespec until = lw_clock_deadline_in(CLOCK_MONOTONIC, t->period_ms);
        while (!t->stop) {
            if (pthread_cond_timedwait(&t->cv, &t->mu, &until) != 0) /* ETIMEDOUT */
                break;
        }
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->mu);
        t->fn(t->ctx);
        pthread_mutex_lock(&t->mu);
        __atomic_add_fetch(&t->calls, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

struct lw_ticker *lw_ticker_start(const char *name, uint32_t period_ms, void (*fn)(void *ctx),
                                  void *ctx)
{
    struct lw_ticker *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        lw_error("%s: out of memory", name);
        return NULL;
    }
    t->period_ms = period_ms > 0 ? period_ms : 1;
    t->fn = fn;
    t->ctx = ctx;
    for (size_t i = 0; name[i] != '\0' && i + 1 < sizeof(t->name); i++)
        t->name[i] = name[i];
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        lw_error("%s: the thread could not start", name);
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

void lw_ticker_stop(struct lw_ticker *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

uint64_t lw_ticker_calls(const struct lw_ticker *t)
{
    return __atomic_load_n(&t->calls, __ATOMIC_RELAXED);
}
