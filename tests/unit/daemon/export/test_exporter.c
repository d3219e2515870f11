/*
 * The exporter thread against a scripted fake transport: retries, drops and their counters,
 * the bounded queue, the flush deadline; and the retry policy as a pure function.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <leakwatch/exporter.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_clock.h"
#include "otlp_metrics.pb-c.h"

/* --- the retry policy ------------------------------------------------------------------------ */

static void test_retry_decision(void **state)
{
    (void)state;
    static const struct lw_retry_policy p = {
        .max_attempts = 5, .backoff_base_ms = 100, .backoff_max_ms = 1000};
    const uint64_t now = 784111777000; /* Sun, 06 Nov 1994 08:49:37 GMT */
    static const struct {
        long status;
        const char *retry_after;
        uint32_t attempt;
        uint64_t deadline_in_ms;
        uint32_t random;
        enum lw_retry_action action;
        uint64_t min_delay, max_delay;
    } cases[] = {
        {200, NULL, 1, 10000, 0, LW_RETRY_DONE, 0, 0},
        {204, NULL, 3, 10000, 0, LW_RETRY_DONE, 0, 0},
        /* retryable: backoff with jitter in [backoff/2, backoff] */
        {503, NULL, 1, 10000, 0, LW_RETRY_AGAIN, 50, 50},
        {503, NULL, 1, 10000, 50, LW_RETRY_AGAIN, 100, 100},
        {429, NULL, 2, 10000, 7, LW_RETRY_AGAIN, 100, 200},
        {502, NULL, 3, 10000, 12345, LW_RETRY_AGAIN, 200, 400},
        {504, NULL, 4, 10000, 99, LW_RETRY_AGAIN, 400, 800},
        {0, NULL, 1, 10000, 0, LW_RETRY_AGAIN, 50, 50},
        /* capped at backoff_max_ms */
        {503, NULL, 4, 100000, 0xffffffffu, LW_RETRY_AGAIN, 500, 1000},
        /* Retry-After in seconds and as an HTTP-date win over the backoff */
        {503, "2", 1, 10000, 0, LW_RETRY_AGAIN, 2000, 2000},
        {429, "0", 1, 10000, 0, LW_RETRY_AGAIN, 0, 0},
        {503, "Sun, 06 Nov 1994 08:49:40 GMT", 1, 10000, 0, LW_RETRY_AGAIN, 3000, 3000},
        {503, "Sun, 06 Nov 1994 08:49:30 GMT", 1, 10000, 0, LW_RETRY_AGAIN, 0, 0},
        /* unreadable Retry-After: the backoff */
        {503, "soon", 1, 10000, 0, LW_RETRY_AGAIN, 50, 50},
        /* never retried */
        {400, NULL, 1, 10000, 0, LW_RETRY_GIVE_UP, 0, 0},
        {401, NULL, 1, 10000, 0, LW_RETRY_GIVE_UP, 0, 0},
        {404, "1", 1, 10000, 0, LW_RETRY_GIVE_UP, 0, 0},
        {413, NULL, 1, 10000, 0, LW_RETRY_GIVE_UP, 0, 0},
        {500, NULL, 1, 10000, 0, LW_RETRY_GIVE_UP, 0, 0},
        {301, NULL, 1, 10000, 0, LW_RETRY_GIVE_UP, 0, 0},
        /* out of attempts or out of time */
        {503, NULL, 5, 10000, 0, LW_RETRY_GIVE_UP, 0, 0},
        {503, "20", 1, 10000, 0, LW_RETRY_GIVE_UP, 0, 0},
        {503, NULL, 1, 0, 0, LW_RETRY_GIVE_UP, 0, 0},
        {503, NULL, 1, 40, 0, LW_RETRY_GIVE_UP, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu\n", i);
        struct lw_retry_decision d =
            lw_exporter_retry_decision(cases[i].status, cases[i].retry_after, cases[i].attempt, now,
                                       now + cases[i].deadline_in_ms, &p, cases[i].random);
        assert_int_equal(d.action, cases[i].action);
        if (d.action == LW_RETRY_AGAIN) {
            assert_in_range(d.delay_ms, cases[i].min_delay, cases[i].max_delay);
        }
    }
}

/* --- the fake transport ---------------------------------------------------------------------- */

enum step_kind { REPLY, HANG, BLOCK };

struct step {
    enum step_kind kind;
    long status;
    const char *retry_after;
    const void *body;
    size_t body_len;
};

#define MAX_STEPS 16

struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct step steps[MAX_STEPS];
    size_t n_steps, next;
    struct step fallback; /* once the script is over */
    bool released;        /* BLOCK steps wait for this */
    bool blocked;         /* a BLOCK step is waiting */
    size_t calls;
    size_t delivered_records; /* points of leakwatch.function.rss.start in 2xx requests */
    uint64_t health_time_ns;  /* time_unix_nano of the last health sum seen */
    bool saw_content_type, saw_api_key, saw_gzip;
    uint32_t last_timeout_ms;
};
static struct fake fake;

#define PB(name) Opentelemetry__Proto__Collector__Metrics__V1__##name

static size_t count_records(const struct lw_http_request *req)
{
    PB(ExportMetricsServiceRequest) *r =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
            NULL, req->body_len, req->body);
    assert_non_null(r);
    size_t n = 0;
    PB(ScopeMetrics) *sm = r->resource_metrics[0]->scope_metrics[0];
    for (size_t i = 0; i < sm->n_metrics; i++) {
        if (strcmp(sm->metrics[i]->name, "leakwatch.function.rss.start") == 0)
            n = sm->metrics[i]->gauge->n_data_points;
        if (strncmp(sm->metrics[i]->name, "leakwatch.health.", 17) == 0)
            fake.health_time_ns = sm->metrics[i]->sum->data_points[0]->time_unix_nano;
    }
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
        r, NULL);
    return n;
}

static enum lw_err fake_perform(void *ctx, const struct lw_http_request *req,
                                struct lw_http_response *resp)
{
    struct fake *f = ctx;
    memset(resp, 0, sizeof(*resp));
    pthread_mutex_lock(&f->mu);
    struct step s = f->next < f->n_steps ? f->steps[f->next++] : f->fallback;
    f->calls++;
    f->last_timeout_ms = req->total_timeout_ms;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcmp(req->headers[i].name, "Content-Type") == 0 &&
            strcmp(req->headers[i].value, "application/x-protobuf") == 0)
            f->saw_content_type = true;
        if (strcmp(req->headers[i].name, "api-key") == 0 && strcmp(req->headers[i].value, "k") == 0)
            f->saw_api_key = true;
    }
    f->saw_gzip = f->saw_gzip || req->gzip_body;
    if (s.kind == BLOCK) {
        f->blocked = true;
        pthread_cond_broadcast(&f->cv);
        while (!f->released)
            pthread_cond_wait(&f->cv, &f->mu);
    }
    pthread_mutex_unlock(&f->mu);

    if (s.kind == HANG) {
        /* a collector that never answers: the transport gives up at the request's timeout */
        struct timespec ts = {.tv_sec = req->total_timeout_ms / 1000,
                              .tv_nsec = (long)(req->total_timeout_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        snprintf(resp->error, sizeof(resp->error), "timed out");
        return LW_ERR_TIMEOUT;
    }
    resp->status = s.status;
    if (s.retry_after != NULL)
        snprintf(resp->header_values[0], sizeof(resp->header_values[0]), "%s", s.retry_after);
    if (s.body != NULL) {
        resp->body = malloc(s.body_len + 1);
        memcpy(resp->body, s.body, s.body_len);
        resp->body[s.body_len] = '\0';
        resp->body_len = s.body_len;
    }
    if (s.status >= 200 && s.status < 300) {
        size_t n = count_records(req);
        pthread_mutex_lock(&f->mu);
        f->delivered_records += n;
        pthread_mutex_unlock(&f->mu);
    }
    return LW_OK;
}

static void fake_destroy(void *ctx)
{
    (void)ctx;
}

static struct lw_health health;
static struct lw_exporter_config cfg;

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof(fake));
    pthread_mutex_init(&fake.mu, NULL);
    pthread_cond_init(&fake.cv, NULL);
    fake.fallback = (struct step){REPLY, 200, NULL, NULL, 0};
    memset(&health, 0, sizeof(health));
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.otlp.url, sizeof(cfg.otlp.url), "http://127.0.0.1:4318/v1/metrics");
    cfg.otlp.timeout_ms = 2000;
    cfg.otlp.n_headers = 1;
    snprintf(cfg.otlp.headers[0].name, sizeof(cfg.otlp.headers[0].name), "api-key");
    snprintf(cfg.otlp.headers[0].value, sizeof(cfg.otlp.headers[0].value), "k");
    lw_otlp_resource_set_str(&cfg.otlp.resource, "service.name", "test");
    cfg.backoff_base_ms = 2;
    cfg.backoff_max_ms = 10;
    cfg.process_start_ms = 1700000000000;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pthread_cond_destroy(&fake.cv);
    pthread_mutex_destroy(&fake.mu);
    return 0;
}

static void script(const struct step *steps, size_t n)
{
    memcpy(fake.steps, steps, n * sizeof(*steps));
    fake.n_steps = n;
}

static struct lw_exporter *start(void)
{
    struct lw_http_transport t = {fake_perform, fake_destroy, &fake};
    struct lw_exporter *ex = lw_exporter_new(&cfg, t, &health);
    assert_non_null(ex);
    return ex;
}

static void make_record(struct lw_record *rec, uint64_t seq)
{
    memset(rec, 0, sizeof(*rec));
    rec->seq = seq;
    rec->start_time_ms = 1700000000000 + seq * 1000;
    rec->end_time_ms = rec->start_time_ms + 100;
    rec->have_end = true;
    rec->fn_start.rss_bytes = 1000 + seq;
    /* the runtime was read at the start: start figures exist */
    rec->n_procs = 1;
    rec->procs[0].role = LW_ROLE_RUNTIME;
    rec->procs[0].have_start = true;
    rec->procs[0].have_end = true;
}

static uint64_t far_deadline(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 60000;
}

static void enqueue_n(struct lw_exporter *ex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct lw_record rec;
        make_record(&rec, i + 1);
        assert_int_equal(lw_exporter_enqueue(ex, &rec, NULL), LW_OK);
    }
}

/* The exporter reads the time only through the clock it is given: the health sums it sends are
 * stamped with that clock's wall time, to the nanosecond. */
static void test_the_clock_seam(void **state)
{
    (void)state;
    static const struct step steps[] = {{REPLY, 200, NULL, NULL, 0}};
    script(steps, 1);
    struct fake_clock fc;
    cfg.clock = fake_clock_init(&fc, 1767607200123ull);
    fc.real_mono = true; /* the thread waits on a condition variable */
    struct lw_exporter *ex = start();
    enqueue_n(ex, 1);
    lw_exporter_flush(ex, 1767607200123ull + 60000);
    lw_exporter_free(ex);
    cfg.clock = NULL;
    assert_int_equal(fake.delivered_records, 1);
    assert_int_equal(fake.health_time_ns, 1767607200123ull * 1000000ull);
}

static void test_503_then_200_is_delivered(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {REPLY, 503, "0", NULL, 0}, {REPLY, 503, NULL, NULL, 0}, {REPLY, 200, NULL, NULL, 0}};
    script(steps, 3);
    cfg.otlp.gzip = true;
    struct lw_exporter *ex = start();
    enqueue_n(ex, 3);
    lw_exporter_flush(ex, far_deadline());
    lw_exporter_free(ex);
    assert_int_equal(fake.delivered_records, 3);
    assert_true(fake.calls >= 3);
    assert_true(fake.saw_content_type);
    assert_true(fake.saw_api_key);
    assert_true(fake.saw_gzip);
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 0);
    assert_int_equal(health.c[LW_H_OTLP_EXPORTS_FAILED], 0);
}

static void test_400_drops_without_retry(void **state)
{
    (void)state;
    fake.fallback = (struct step){REPLY, 400, "1", NULL, 0};
    struct lw_exporter *ex = start();
    /* one record per request: the first is in flight while the others queue up */
    enqueue_n(ex, 1);
    lw_exporter_flush(ex, far_deadline());
    enqueue_n(ex, 1);
    lw_exporter_flush(ex, far_deadline());
    lw_exporter_free(ex);
    assert_int_equal(fake.calls, 2);
    assert_int_equal(fake.delivered_records, 0);
    assert_int_equal(health.c[LW_H_OTLP_EXPORTS_FAILED], 2);
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 2);
}

static void test_retries_are_bounded_by_attempts(void **state)
{
    (void)state;
    fake.fallback = (struct step){REPLY, 503, NULL, NULL, 0};
    cfg.max_attempts = 3;
    struct lw_exporter *ex = start();
    enqueue_n(ex, 2);
    lw_exporter_flush(ex, far_deadline());
    lw_exporter_free(ex);
    /* 2 records in one or two requests, 3 attempts each */
    assert_true(fake.calls == 3 || fake.calls == 6);
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 2);
    assert_int_equal(health.c[LW_H_OTLP_EXPORTS_FAILED], fake.calls / 3);
}

static void test_hanging_collector_times_out(void **state)
{
    (void)state;
    fake.fallback = (struct step){HANG, 0, NULL, NULL, 0};
    cfg.otlp.timeout_ms = 150;
    struct lw_exporter *ex = start();
    enqueue_n(ex, 1);
    lw_exporter_flush(ex, far_deadline());
    lw_exporter_free(ex);
    /* every attempt got at most what was left of the export timeout */
    assert_true(fake.last_timeout_ms <= 150);
    assert_int_equal(fake.delivered_records, 0);
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 1);
    assert_int_equal(health.c[LW_H_OTLP_EXPORTS_FAILED], 1);
}

static void wait_blocked(void)
{
    pthread_mutex_lock(&fake.mu);
    while (!fake.blocked)
        pthread_cond_wait(&fake.cv, &fake.mu);
    pthread_mutex_unlock(&fake.mu);
}

static void release(void)
{
    pthread_mutex_lock(&fake.mu);
    fake.released = true;
    pthread_cond_broadcast(&fake.cv);
    pthread_mutex_unlock(&fake.mu);
}

static void test_full_queue_drops_are_counted_exactly(void **state)
{
    (void)state;
    static const struct step steps[] = {{BLOCK, 200, NULL, NULL, 0}};
    script(steps, 1);
    cfg.queue_cap = 4;
    cfg.batch_max = 2;
    struct lw_exporter *ex = start();
    enqueue_n(ex, 1);
    wait_blocked(); /* record 1 is in flight; the queue is empty again */
    enqueue_n(ex, 4);
    struct lw_record rec;
    make_record(&rec, 99);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lw_exporter_enqueue(ex, &rec, NULL), LW_ERR_FULL);
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 3);
    release();
    lw_exporter_flush(ex, far_deadline());
    lw_exporter_free(ex);
    assert_int_equal(fake.delivered_records, 5);
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 3);
    assert_int_equal(health.c[LW_H_OTLP_EXPORTS_FAILED], 0);
}

static void test_flush_deadline_drops_the_rest(void **state)
{
    (void)state;
    fake.fallback = (struct step){HANG, 0, NULL, NULL, 0};
    cfg.queue_cap = 8;
    cfg.batch_max = 2;
    cfg.otlp.timeout_ms = 3000; /* the flush deadline (200 ms), not the export timeout, ends it */
    struct lw_exporter *ex = start();
    enqueue_n(ex, 7);
    lw_exporter_flush(ex, far_deadline() - 60000 + 200);
    /* the counters are final when flush returns: the extension exits right after */
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 7);
    /* after the deadline nothing more is accepted */
    struct lw_record rec;
    make_record(&rec, 50);
    assert_int_equal(lw_exporter_enqueue(ex, &rec, NULL), LW_ERR_FULL);
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 8);
    lw_exporter_free(ex);
    /* the hanging request, given up later, is not counted twice */
    assert_int_equal(fake.delivered_records, 0);
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 8);
}

static void test_partial_success_is_counted(void **state)
{
    (void)state;
    /* ExportMetricsServiceResponse{partial_success{rejected_data_points: 4, error_message:"x"}} */
    static const unsigned char body[] = {0x0a, 0x05, 0x08, 0x04, 0x12, 0x01, 'x'};
    static const struct step steps[] = {{REPLY, 200, NULL, body, sizeof(body)},
                                        {REPLY, 200, NULL, body, sizeof(body)},
                                        {REPLY, 200, NULL, "garbage", 7}};
    script(steps, 3);
    struct lw_exporter *ex = start();
    for (int i = 0; i < 3; i++) {
        enqueue_n(ex, 1);
        lw_exporter_flush(ex, far_deadline());
    }
    lw_exporter_free(ex);
    assert_int_equal(fake.calls, 3);
    assert_int_equal(fake.delivered_records, 3);
    assert_int_equal(health.c[LW_H_OTLP_REJECTED_POINTS], 8);
    assert_int_equal(health.c[LW_H_OTLP_DROPPED], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_decision),
        cmocka_unit_test_setup_teardown(test_the_clock_seam, setup, teardown),
        cmocka_unit_test_setup_teardown(test_503_then_200_is_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_400_drops_without_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries_are_bounded_by_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hanging_collector_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_drops_are_counted_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_deadline_drops_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_success_is_counted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
