#include <leakwatch/exporter.h>

#include <leakwatch/limits.h>
#include <leakwatch/log.h>
#include <leakwatch/otlp.h>
#include <leakwatch/timefmt.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ENCODE_BUF_BYTES (512u * 1024) /* a batch that does not fit is split */
#define CONNECT_TIMEOUT_MS 2000u
#define FAILURE_LOG_EVERY 64 /* after the first, one warning per this many failed requests */

/* ------------------------------------------------------------------------------------------ */
/* the retry policy (pure) */

static bool retryable(long status)
{
    /* OTLP/HTTP: only these, and failures without a response, are transient */
    return status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
}

/* The server's wish in ms from now; false when absent or unreadable. */
static bool retry_after_ms(const char *value, uint64_t now_ms, uint64_t *out)
{
    if (value == NULL || value[0] == '\0')
        return false;
    if (value[0] >= '0' && value[0] <= '9') {
        char *end = NULL;
        errno = 0;
        unsigned long long secs = strtoull(value, &end, 10);
        if (errno != 0 || *end != '\0' || secs > 86400ull * 365)
            return false;
        *out = secs * 1000;
        return true;
    }
    uint64_t at_ms;
    if (lw_time_parse_http_date(value, &at_ms) != LW_OK)
        return false;
    *out = at_ms > now_ms ? at_ms - now_ms : 0;
    return true;
}

struct lw_retry_decision lw_exporter_retry_decision(long status, const char *retry_after,
                                                    uint32_t attempt, uint64_t now_ms,
                                                    uint64_t deadline_ms,
                                                    const struct lw_retry_policy *policy,
                                                    uint32_t random)
{
    struct lw_retry_decision d = {LW_RETRY_GIVE_UP, 0};
    if (status >= 200 && status < 300) {
        d.action = LW_RETRY_DONE;
        return d;
    }
    if (!retryable(status) || attempt >= policy->max_attempts || now_ms >= deadline_ms)
        return d;
    uint64_t delay;
    if (!retry_after_ms(retry_after, now_ms, &delay)) {
        /* exponential backoff with "equal jitter": half fixed, half random */
        uint64_t backoff = policy->backoff_base_ms;
        for (uint32_t i = 1; i < attempt && backoff < policy->backoff_max_ms; i++)
            backoff *= 2;
        if (backoff > policy->backoff_max_ms)
            backoff = policy->backoff_max_ms;
        delay = backoff / 2 + random % (backoff / 2 + 1);
    }
    /* a retry that cannot start before the deadline is not worth waiting for */
    if (delay >= deadline_ms - now_ms)
        return d;
    d.action = LW_RETRY_AGAIN;
    d.delay_ms = delay;
    return d;
}

/* ------------------------------------------------------------------------------------------ */
/* the thread */

struct entry {
    struct lw_record rec;
    struct lw_verdict verdict;
    bool have_verdict;
};

struct lw_exporter {
    struct lw_exporter_config cfg;
    struct lw_retry_policy policy;
    struct lw_http_transport transport;
    struct lw_health *health;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */

    /* guarded by mu */
    struct entry *ring;
    size_t head, count;
    size_t in_flight;             /* records of the batch being sent whose fate is not counted */
    bool stop;                    /* lw_exporter_free: leave after the current attempt */
    bool abort;                   /* the flush deadline passed: give up what is in flight */
    uint64_t flush_deadline_mono; /* 0: not flushing */
    bool in_flight_counted;       /* the flush gave up on the batch in flight and counted it */

    /* the exporter thread's own */
    struct entry *batch;
    uint8_t *buf;
    const struct lw_clock *clock;
    char instance[LW_ENV_ID_MAX]; /* faas.instance to apply at the next batch (mu) */
    bool instance_changed;
    uint32_t rand_state;
    uint64_t failures;
    bool partial_logged;
};

static uint64_t mono_ms(const struct lw_exporter *ex)
{
    return lw_clock_mono_ms(ex->clock);
}

static uint32_t next_random(struct lw_exporter *ex)
{
    /* xorshift32: jitter needs spread, not secrecy */
    uint32_t x = ex->rand_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    ex->rand_state = x;
    return x;
}

/* Waits on cv until mono_deadline_ms (the exporter's monotonic clock), a signal, or a spurious
 * wake-up. */
static void wait_until(struct lw_exporter *ex, uint64_t mono_deadline_ms)
{
    uint64_t now = mono_ms(ex);
    struct timespec ts =
        lw_clock_deadline_in(CLOCK_MONOTONIC, mono_deadline_ms > now ? mono_deadline_ms - now : 0);
    pthread_cond_timedwait(&ex->cv, &ex->mu, &ts);
}

/* n records of the batch in flight are settled (delivered or counted): the flush must not
 * count them again (mu held). */
static void settle(struct lw_exporter *ex, size_t n)
{
    ex->in_flight -= n < ex->in_flight ? n : ex->in_flight;
}

static void delivered(struct lw_exporter *ex, size_t n)
{
    pthread_mutex_lock(&ex->mu);
    settle(ex, n);
    pthread_mutex_unlock(&ex->mu);
}

static void count_drop(struct lw_exporter *ex, size_t n, const char *why, long status)
{
    /* Checked and counted under the lock the flush counts under: either the flush deadline
     * already gave this request up (and counted it), or it is counted here, never both. */
    pthread_mutex_lock(&ex->mu);
    if (!ex->in_flight_counted) {
        lw_health_add(ex->health, LW_H_OTLP_EXPORTS_FAILED, 1);
        lw_health_add(ex->health, LW_H_OTLP_DROPPED, n);
        settle(ex, n);
    }
    pthread_mutex_unlock(&ex->mu);
    /* a collector that is down would otherwise write a line per invocation */
    if (ex->failures++ % FAILURE_LOG_EVERY == 0)
        lw_warn("OTLP export failed (%s, HTTP status %ld): %zu records dropped; %llu failed "
                "requests so far",
                why, status, n, (unsigned long long)ex->failures);
}

static void handle_success(struct lw_exporter *ex, const struct lw_http_response *resp)
{
    int64_t rejected = 0;
    char msg[160];
    if (resp->body_truncated ||
        lw_otlp_decode_response(resp->body, resp->body_len, &rejected, msg, sizeof(msg)) != LW_OK) {
        /* 2xx means accepted; an unreadable body cannot change that */
        lw_debug("OTLP collector answered %ld with a body that is not an export response",
                 resp->status);
        return;
    }
    if (rejected <= 0)
        return;
    lw_health_add(ex->health, LW_H_OTLP_REJECTED_POINTS, (uint64_t)rejected);
    if (!ex->partial_logged) {
        ex->partial_logged = true;
        /* the collector's words: no secret of the URL, and no line break of its choosing */
        lw_otlp_redact_in_text(msg, sizeof(msg), ex->cfg.otlp.url);
        for (char *c = msg; *c != '\0'; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = ' ';
        }
        lw_warn("OTLP collector rejected %lld data points: %s (logged once; counted in "
                "OtlpPointsRejected)",
                (long long)rejected, msg);
    }
}

/* The monotonic deadline of one export: the export timeout, or the flush deadline if sooner. */
static uint64_t export_deadline(struct lw_exporter *ex, uint64_t now_mono)
{
    uint64_t deadline = now_mono + ex->cfg.otlp.timeout_ms;
    pthread_mutex_lock(&ex->mu);
    if (ex->flush_deadline_mono != 0 && ex->flush_deadline_mono < deadline)
        deadline = ex->flush_deadline_mono;
    pthread_mutex_unlock(&ex->mu);
    return deadline;
}

static bool aborted(struct lw_exporter *ex)
{
    pthread_mutex_lock(&ex->mu);
    bool a = ex->abort || ex->stop;
    pthread_mutex_unlock(&ex->mu);
    return a;
}

static void send_batch(struct lw_exporter *ex, const struct entry *batch, size_t n)
{
    struct lw_otlp_item items[LW_EXPORTER_DEFAULT_BATCH_MAX * 8];
    size_t len = 0;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        items[i].rec = &batch[i].rec;
        items[i].verdict = batch[i].have_verdict ? &batch[i].verdict : NULL;
    }
    enum lw_err err =
        lw_otlp_encode(&ex->cfg.otlp.resource, items, n, ex->health, ex->cfg.process_start_ms,
                       lw_clock_wall_ms(ex->clock), ex->buf, ENCODE_BUF_BYTES, &len);
    if (err == LW_ERR_TOO_LARGE && n > 1) {
        send_batch(ex, batch, n / 2);
        send_batch(ex, batch + n / 2, n - n / 2);
        return;
    }
    if (err != LW_OK) {
        count_drop(ex, n, lw_err_str(err), 0);
        return;
    }

    uint64_t deadline = export_deadline(ex, mono_ms(ex));
    for (uint32_t attempt = 1;; attempt++) {
        uint64_t now = mono_ms(ex);
        if (now >= deadline || aborted(ex)) {
            count_drop(ex, n, "out of time", 0);
            return;
        }
        uint64_t remaining = deadline - now;
        struct lw_http_request req = {
            .method = "POST",
            .url = ex->cfg.otlp.url,
            .body = ex->buf,
            .body_len = len,
            .connect_timeout_ms =
                (uint32_t)(remaining < CONNECT_TIMEOUT_MS ? remaining : CONNECT_TIMEOUT_MS),
            .total_timeout_ms = (uint32_t)remaining,
            .gzip_body = ex->cfg.otlp.gzip,
            .want_headers = {"Retry-After"},
            .n_want_headers = 1,
            .max_response_bytes = LW_HTTP_RESPONSE_MAX_BYTES,
        };
        lw_http_request_add_header(&req, "Content-Type", "application/x-protobuf");
        for (size_t i = 0; i < ex->cfg.otlp.n_headers; i++)
            lw_http_request_add_header(&req, ex->cfg.otlp.headers[i].name,
                                       ex->cfg.otlp.headers[i].value);
        struct lw_http_response resp;
        memset(&resp, 0, sizeof(resp));
        err = ex->transport.perform(ex->transport.ctx, &req, &resp);
        long status = err == LW_OK ? resp.status : 0;
        if (err != LW_OK) {
            /* libcurl's message may quote the URL: its userinfo and query stay out of the log */
            lw_otlp_redact_in_text(resp.error, sizeof(resp.error), ex->cfg.otlp.url);
            lw_debug("OTLP attempt %u: %s (%s)", attempt, lw_err_str(err), resp.error);
        }

        uint64_t now_epoch = lw_clock_wall_ms(ex->clock);
        now = mono_ms(ex);
        uint64_t deadline_epoch = now_epoch + (deadline > now ? deadline - now : 0);
        struct lw_retry_decision d =
            lw_exporter_retry_decision(status, resp.header_values[0], attempt, now_epoch,
                                       deadline_epoch, &ex->policy, next_random(ex));
        if (d.action == LW_RETRY_DONE) {
            delivered(ex, n);
            handle_success(ex, &resp);
        }
        lw_http_response_clean_up(&resp);
        if (d.action == LW_RETRY_DONE)
            return;
        if (d.action == LW_RETRY_GIVE_UP) {
            count_drop(ex, n,
                       err == LW_ERR_TIMEOUT ? "timed out"
                       : status == 0         ? "no response"
                       : retryable(status)   ? "retries exhausted"
                                             : "not retryable",
                       status);
            return;
        }
        /* backoff: interrupted only by the exporter being stopped or the flush giving up */
        uint64_t until = mono_ms(ex) + d.delay_ms;
        pthread_mutex_lock(&ex->mu);
        while (!ex->abort && !ex->stop && mono_ms(ex) < until)
            wait_until(ex, until);
        pthread_mutex_unlock(&ex->mu);
    }
}

static void *exporter_main(void *arg)
{
    struct lw_exporter *ex = arg;
    /* its name in top -H, perf and /proc/PID/task/TID/comm */
    pthread_setname_np(pthread_self(), "lw-otlp");
    pthread_mutex_lock(&ex->mu);
    for (;;) {
        while (ex->count == 0 && !ex->stop)
            pthread_cond_wait(&ex->cv, &ex->mu);
        if (ex->stop || ex->abort)
            break;
        size_t n = ex->count < ex->cfg.batch_max ? ex->count : ex->cfg.batch_max;
        for (size_t i = 0; i < n; i++)
            ex->batch[i] = ex->ring[(ex->head + i) % ex->cfg.queue_cap];
        ex->head = (ex->head + n) % ex->cfg.queue_cap;
        ex->count -= n;
        ex->in_flight = n;
        if (ex->instance_changed) {
            /* the resource is the exporter thread's own; the change is handed over under mu */
            lw_otlp_resource_set_str(&ex->cfg.otlp.resource, "faas.instance", ex->instance);
            ex->instance_changed = false;
        }
        pthread_mutex_unlock(&ex->mu);

        send_batch(ex, ex->batch, n);

        pthread_mutex_lock(&ex->mu);
        ex->in_flight = 0;
        ex->in_flight_counted = false;
        pthread_cond_broadcast(&ex->cv);
    }
    pthread_mutex_unlock(&ex->mu);
    return NULL;
}

struct lw_exporter *lw_exporter_new(const struct lw_exporter_config *cfg,
                                    struct lw_http_transport transport, struct lw_health *health)
{
    struct lw_exporter *ex = calloc(1, sizeof(*ex));
    pthread_condattr_t attr;
    bool cv_ok = false, mu_ok = false;
    if (ex == NULL)
        goto fail;
    ex->cfg = *cfg;
    ex->clock = lw_clock_or_system(cfg->clock);
    if (ex->cfg.queue_cap == 0)
        ex->cfg.queue_cap = LW_EXPORTER_DEFAULT_QUEUE_CAP;
    if (ex->cfg.batch_max == 0)
        ex->cfg.batch_max = LW_EXPORTER_DEFAULT_BATCH_MAX;
    if (ex->cfg.batch_max > LW_EXPORTER_DEFAULT_BATCH_MAX * 8)
        ex->cfg.batch_max = LW_EXPORTER_DEFAULT_BATCH_MAX * 8;
    if (ex->cfg.otlp.timeout_ms == 0)
        ex->cfg.otlp.timeout_ms = LW_OTLP_DEFAULT_TIMEOUT_MS;
    ex->policy.max_attempts =
        cfg->max_attempts > 0 ? cfg->max_attempts : LW_EXPORTER_DEFAULT_MAX_ATTEMPTS;
    ex->policy.backoff_base_ms =
        cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : LW_EXPORTER_DEFAULT_BACKOFF_BASE_MS;
    ex->policy.backoff_max_ms =
        cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : LW_EXPORTER_DEFAULT_BACKOFF_MAX_MS;
    ex->transport = transport;
    ex->health = health;
    ex->rand_state = (uint32_t)mono_ms(ex) ^ ((uint32_t)getpid() << 16) ^ 0x9e3779b9u;
    if (ex->rand_state == 0)
        ex->rand_state = 1;
    ex->ring = calloc(ex->cfg.queue_cap, sizeof(*ex->ring));
    ex->batch = calloc(ex->cfg.batch_max, sizeof(*ex->batch));
    ex->buf = malloc(ENCODE_BUF_BYTES);
    if (ex->ring == NULL || ex->batch == NULL || ex->buf == NULL)
        goto fail;
    if (pthread_mutex_init(&ex->mu, NULL) != 0)
        goto fail;
    mu_ok = true;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    cv_ok = pthread_cond_init(&ex->cv, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!cv_ok || pthread_create(&ex->thread, NULL, exporter_main, ex) != 0)
        goto fail;
    return ex;

fail:
    lw_error("OTLP exporter cannot start; OTLP export is off");
    if (transport.destroy != NULL)
        transport.destroy(transport.ctx);
    if (ex != NULL) {
        if (cv_ok)
            pthread_cond_destroy(&ex->cv);
        if (mu_ok)
            pthread_mutex_destroy(&ex->mu);
        free(ex->buf);
        free(ex->batch);
        free(ex->ring);
        free(ex);
    }
    return NULL;
}

enum lw_err lw_exporter_enqueue(struct lw_exporter *ex, const struct lw_record *rec,
                                const struct lw_verdict *verdict)
{
    pthread_mutex_lock(&ex->mu);
    if (ex->count >= ex->cfg.queue_cap || ex->stop || ex->abort) {
        pthread_mutex_unlock(&ex->mu);
        lw_health_add(ex->health, LW_H_OTLP_DROPPED, 1);
        return LW_ERR_FULL;
    }
    struct entry *e = &ex->ring[(ex->head + ex->count) % ex->cfg.queue_cap];
    e->rec = *rec;
    e->have_verdict = verdict != NULL;
    if (verdict != NULL)
        e->verdict = *verdict;
    ex->count++;
    pthread_cond_broadcast(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    return LW_OK;
}

void lw_exporter_set_instance(struct lw_exporter *ex, const char *env_id)
{
    pthread_mutex_lock(&ex->mu);
    snprintf(ex->instance, sizeof(ex->instance), "%s", env_id);
    ex->instance_changed = true;
    pthread_mutex_unlock(&ex->mu);
}

void lw_exporter_notify(struct lw_exporter *ex)
{
    pthread_mutex_lock(&ex->mu);
    pthread_cond_broadcast(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
}

/* Drops what is still queued (mu held). */
static void drop_queued(struct lw_exporter *ex)
{
    if (ex->count > 0) {
        lw_health_add(ex->health, LW_H_OTLP_DROPPED, ex->count);
        lw_warn("OTLP: %zu records not sent before the deadline; dropped", ex->count);
    }
    ex->count = 0;
}

void lw_exporter_flush(struct lw_exporter *ex, uint64_t deadline_epoch_ms)
{
    uint64_t now_epoch = lw_clock_wall_ms(ex->clock);
    uint64_t now_mono = mono_ms(ex);
    uint64_t deadline_mono =
        now_mono + (deadline_epoch_ms > now_epoch ? deadline_epoch_ms - now_epoch : 0);
    pthread_mutex_lock(&ex->mu);
    ex->flush_deadline_mono = deadline_mono > 0 ? deadline_mono : 1;
    pthread_cond_broadcast(&ex->cv);
    while ((ex->count > 0 || ex->in_flight > 0) && mono_ms(ex) < deadline_mono)
        wait_until(ex, deadline_mono);
    /* Past the deadline the exporter is done even when its thread, seeing the deadline first,
     * has already counted everything as dropped: nothing may be accepted or sent after it. */
    bool late = mono_ms(ex) >= deadline_mono;
    if (ex->count > 0 || ex->in_flight > 0 || late) {
        /* The request in flight cannot be interrupted (it ends at its own timeout, which may
         * have started before the flush): it is given up now and its records are counted as
         * dropped, so the counters are final when this returns and the extension may exit. */
        ex->abort = true;
        if (ex->in_flight > 0 && !ex->in_flight_counted) {
            lw_health_add(ex->health, LW_H_OTLP_EXPORTS_FAILED, 1);
            lw_health_add(ex->health, LW_H_OTLP_DROPPED, ex->in_flight);
            ex->in_flight_counted = true;
        }
        drop_queued(ex);
        pthread_cond_broadcast(&ex->cv);
    } else {
        ex->flush_deadline_mono = 0; /* all delivered: later records get the full timeout */
    }
    pthread_mutex_unlock(&ex->mu);
}

void lw_exporter_free(struct lw_exporter *ex)
{
    if (ex == NULL)
        return;
    pthread_mutex_lock(&ex->mu);
    ex->stop = true;
    pthread_cond_broadcast(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    pthread_join(ex->thread, NULL);
    drop_queued(ex);
    if (ex->transport.destroy != NULL)
        ex->transport.destroy(ex->transport.ctx);
    pthread_cond_destroy(&ex->cv);
    pthread_mutex_destroy(&ex->mu);
    free(ex->buf);
    free(ex->batch);
    free(ex->ring);
    free(ex);
}
