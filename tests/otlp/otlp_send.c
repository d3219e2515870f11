/*
 * Sends N synthetic invocation records through the real exporter and libcurl transport,
 * configured by the standard OTEL_* variables, then flushes and prints the health counters as
 * one JSON line. With --write FILE it writes one encoded request instead.
 *   otlp_send COUNT [FLUSH_MS]      otlp_send --write FILE
 */
#include <leakwatch/exporter.h>
#include <leakwatch/otlp.h>
#include <leakwatch/otlp_config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *real_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Record i: figures the test recomputes (see test_receiver.py). */
static void make_record(struct lw_record *rec, unsigned i)
{
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->request_id, sizeof(rec->request_id), "req-%u", i);
    rec->seq = i;
    rec->start_time_ms = 1700000000000ull + i * 1000ull;
    rec->end_time_ms = rec->start_time_ms + 100;
    rec->have_end = true;
    rec->peak_method = LW_PEAK_HWM;
    rec->fn_start.rss_bytes = 1000000ull + i;
    rec->fn_end.rss_bytes = 2000000ull + i;
    rec->fn_peak_bytes = 3000000ull + i;
    rec->env_end.rss_bytes = 4000000ull + i;
    rec->memory_limit_bytes = 134217728ull;
    /* the runtime was read at both boundaries: start figures exist */
    rec->n_procs = 1;
    rec->procs[0].role = LW_ROLE_RUNTIME;
    rec->procs[0].have_start = true;
    rec->procs[0].have_end = true;
}

int main(int argc, char **argv)
{
    static struct lw_exporter_config cfg;
    static struct lw_config lambda;
    lw_config_load(&lambda, real_getenv, NULL);
    lw_otlp_config_load(&cfg.otlp, real_getenv, NULL, &lambda, "env-test");
    if (argc == 3 && strcmp(argv[1], "--write") == 0) {
        static uint8_t buf[1 << 16];
        struct lw_record recs[2];
        make_record(&recs[0], 1);
        make_record(&recs[1], 2);
        struct lw_otlp_item items[2] = {{&recs[0], NULL}, {&recs[1], NULL}};
        size_t len = 0;
        if (lw_otlp_encode(&cfg.otlp.resource, items, 2, NULL, 0, 0, buf, sizeof(buf), &len) !=
            LW_OK)
            return 1;
        FILE *f = fopen(argv[2], "wb");
        if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
            return 1;
        return 0;
    }
    if (argc < 2)
        return 2;
    unsigned n = (unsigned)strtoul(argv[1], NULL, 10);
    uint64_t flush_ms = argc > 2 ? strtoull(argv[2], NULL, 10) : 5000;
    lw_otlp_config_log(&cfg.otlp);
    if (lw_http_global_init() != LW_OK)
        return 1;
    struct lw_http_transport t;
    if (lw_http_curl_transport_init(&t, NULL) != LW_OK)
        return 1;
    static struct lw_health health;
    cfg.process_start_ms = now_ms();
    cfg.backoff_base_ms = 20;
    struct lw_exporter *ex = lw_exporter_new(&cfg, t, &health);
    if (ex == NULL)
        return 1;
    for (unsigned i = 1; i <= n; i++) {
        struct lw_record rec;
        make_record(&rec, i);
        lw_exporter_enqueue(ex, &rec, NULL);
    }
    lw_exporter_flush(ex, now_ms() + flush_ms);
    lw_exporter_free(ex);
    printf("{\"dropped\": %llu, \"failed\": %llu, \"rejected\": %llu}\n",
           (unsigned long long)health.c[LW_H_OTLP_DROPPED],
           (unsigned long long)health.c[LW_H_OTLP_EXPORTS_FAILED],
           (unsigned long long)health.c[LW_H_OTLP_REJECTED_POINTS]);
    return 0;
}
