/*
 * The OTLP encoder: the bytes are read back by Debian's protoc (an independent decoder) and by
 * protobuf-c, and checked value by value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <leakwatch/metrics.h>
#include <leakwatch/otlp.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "otlp_metrics.pb-c.h"

extern char **environ;

static void fill_record(struct lw_record *rec, uint64_t seq, uint64_t end_ms, bool report)
{
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->request_id, sizeof(rec->request_id), "8f5c1a9e-0000-4000-8000-%012llu",
             (unsigned long long)seq);
    snprintf(rec->env_id, sizeof(rec->env_id), "env-1234");
    rec->seq = seq;
    rec->cold_start = seq == 1;
    rec->start_time_ms = end_ms - 250;
    rec->end_time_ms = end_ms;
    rec->have_end = true;
    rec->peak_method = LW_PEAK_HWM;
    rec->fn_start.rss_bytes = 50000000;
    rec->fn_end.rss_bytes = 50000000 + 1000 * seq;
    rec->fn_end.rss_anon_bytes = 30000000;
    rec->fn_peak_bytes = 60000000;
    rec->env_end.rss_bytes = 70000000;
    rec->memory_limit_bytes = 134217728;
    rec->platform.have_report = report;
    rec->platform.duration_ms = 12.5;
    rec->platform.billed_duration_ms = 13;
    rec->platform.max_memory_used_mb = 71;
}

static void fill_resource(struct lw_otlp_resource *res)
{
    memset(res, 0, sizeof(*res));
    assert_int_equal(lw_otlp_resource_set_str(res, "cloud.provider", "aws"), LW_OK);
    assert_int_equal(lw_otlp_resource_set_str(res, "faas.name", "orders"), LW_OK);
    assert_int_equal(lw_otlp_resource_set_int(res, "faas.max_memory", 134217728), LW_OK);
    assert_int_equal(lw_otlp_resource_set_str(res, "service.name", "orders-svc"), LW_OK);
}

/* The folder of otlp_metrics.proto (this file is <source>/tests/unit/daemon/export/test_otlp.c). */
static void src_dir(char *out, size_t cap)
{
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    assert_non_null(slash);
    int n = snprintf(out, cap, "%.*s/../../../../src/daemon/export", (int)(slash - file), file);
    assert_true(n > 0 && (size_t)n < cap);
}

/* Runs protoc --decode on bytes; returns its stdout as a heap string (exit status checked). */
static char *protoc_decode(const uint8_t *buf, size_t len)
{
    char dir[1024], include[1100], proto[1100];
    src_dir(dir, sizeof(dir));
    snprintf(include, sizeof(include), "-I%s", dir);
    snprintf(proto, sizeof(proto), "%s/otlp_metrics.proto", dir);
    char in_path[] = "/tmp/lw_otlp_in_XXXXXX";
    char out_path[] = "/tmp/lw_otlp_out_XXXXXX";
    int in_fd = mkstemp(in_path);
    int out_fd = mkstemp(out_path);
    assert_true(in_fd >= 0 && out_fd >= 0);
    assert_int_equal(write(in_fd, buf, len), (ssize_t)len);
    assert_int_equal(lseek(in_fd, 0, SEEK_SET), 0);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    char decode[] = "--decode=opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest";
    char protoc[] = "protoc";
    char *argv[] = {protoc, include, decode, proto, NULL};
    pid_t pid;
    assert_int_equal(posix_spawnp(&pid, "protoc", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    off_t size = lseek(out_fd, 0, SEEK_END);
    assert_true(size > 0);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(out_fd, text, (size_t)size, 0), size);
    close(in_fd);
    close(out_fd);
    unlink(in_path);
    unlink(out_path);
    return text;
}

/* The text block of the metric named name in protoc's output (up to the next metric). */
static const char *metric_block(const char *text, const char *name, char *out, size_t cap)
{
    char needle[160];
    snprintf(needle, sizeof(needle), "name: \"%s\"", name);
    const char *at = strstr(text, needle);
    if (at == NULL)
        return NULL;
    const char *end = strstr(at + 1, "metrics {");
    size_t len = end != NULL ? (size_t)(end - at) : strlen(at);
    if (len >= cap)
        len = cap - 1;
    memcpy(out, at, len);
    out[len] = '\0';
    return out;
}

static void test_protoc_decodes_the_request(void **state)
{
    (void)state;
    struct lw_otlp_resource res;
    fill_resource(&res);
    struct lw_record recs[2];
    fill_record(&recs[0], 1, 1700000001000, true);
    fill_record(&recs[1], 2, 1700000002000, false);
    struct lw_verdict v = {.kind = LW_VERDICT_LEAK, .growth_bytes_per_invocation = 1000.5};
    struct lw_otlp_item items[2] = {{&recs[0], NULL}, {&recs[1], &v}};
    struct lw_health health = {0};
    lw_health_add(&health, LW_H_OTLP_DROPPED, 3);

    static uint8_t buf[1 << 16];
    size_t len = 0;
    assert_int_equal(lw_otlp_encode(&res, items, 2, &health, 1699999990000, 1700000003000, buf,
                                    sizeof(buf), &len),
                     LW_OK);
    assert_true(len > 0);
    char *text = protoc_decode(buf, len);
    char block[4096];

    /* resource and scope */
    assert_non_null(strstr(text, "key: \"cloud.provider\"\n      value {\n        string_value: "
                                 "\"aws\""));
    assert_non_null(strstr(text, "key: \"faas.max_memory\"\n      value {\n        int_value: "
                                 "134217728"));
    assert_non_null(
        strstr(text, "scope {\n      name: \"leakwatch\"\n      version: \"" LW_VERSION "\""));

    /* a gauge with one point per record, stamped with each record's end */
    assert_non_null(metric_block(text, "leakwatch.function.rss.end", block, sizeof(block)));
    assert_non_null(strstr(block, "unit: \"By\""));
    assert_non_null(strstr(block, "gauge {"));
    assert_non_null(strstr(block, "time_unix_nano: 1700000001000000000\n"));
    assert_non_null(strstr(block, "as_double: 50001000\n"));
    assert_non_null(strstr(block, "time_unix_nano: 1700000002000000000\n"));
    assert_non_null(strstr(block, "as_double: 50002000\n"));
    assert_null(strstr(block, "attributes"));

    /* only the first record has a platform report: one point */
    assert_non_null(metric_block(text, "leakwatch.platform.duration", block, sizeof(block)));
    assert_non_null(strstr(block, "unit: \"ms\""));
    assert_non_null(strstr(block, "as_double: 12.5\n"));
    assert_null(strstr(strstr(block, "as_double") + 1, "as_double"));

    /* verdict metrics come from the second record's verdict */
    assert_non_null(
        metric_block(text, "leakwatch.leak.growth_per_invocation", block, sizeof(block)));
    assert_non_null(strstr(block, "as_double: 1000.5\n"));
    assert_non_null(metric_block(text, "leakwatch.leak.verdict_level", block, sizeof(block)));
    assert_non_null(strstr(block, "as_double: 2\n"));
    /* no projection: left out, not sent as 0 */
    assert_null(strstr(text, "leakwatch.leak.minutes_to_oom"));

    /* health counters: monotonic cumulative sums since process start */
    assert_non_null(
        metric_block(text, "leakwatch.health.otlp_records_dropped", block, sizeof(block)));
    assert_non_null(strstr(block, "unit: \"1\""));
    assert_non_null(strstr(block, "aggregation_temporality: AGGREGATION_TEMPORALITY_CUMULATIVE"));
    assert_non_null(strstr(block, "is_monotonic: true"));
    assert_non_null(strstr(block, "start_time_unix_nano: 1699999990000000000\n"));
    assert_non_null(strstr(block, "time_unix_nano: 1700000003000000000\n"));
    assert_non_null(strstr(block, "as_int: 3\n"));
    free(text);

    /* request ids never reach the wire */
    assert_null(memmem(buf, len, recs[0].request_id, strlen(recs[0].request_id)));
}

#define PB(name) Opentelemetry__Proto__Collector__Metrics__V1__##name

static void test_protobuf_c_reads_back_every_metric(void **state)
{
    (void)state;
    struct lw_otlp_resource res;
    fill_resource(&res);
    struct lw_record rec;
    fill_record(&rec, 7, 1700000001000, true);
    struct lw_otlp_item item = {&rec, NULL};
    static uint8_t buf[1 << 16];
    size_t len = 0;
    assert_int_equal(lw_otlp_encode(&res, &item, 1, NULL, 0, 0, buf, sizeof(buf), &len), LW_OK);
    PB(ExportMetricsServiceRequest) *req =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
            NULL, len, buf);
    assert_non_null(req);
    assert_int_equal(req->n_resource_metrics, 1);
    PB(ResourceMetrics) *rm = req->resource_metrics[0];
    assert_int_equal(rm->resource->n_attributes, 4);
    assert_int_equal(rm->n_scope_metrics, 1);
    PB(ScopeMetrics) *sm = rm->scope_metrics[0];

    /* every metric of the table that the record has, in table order, nothing else */
    size_t expect = 0;
    for (int id = 0; id < LW_M_COUNT; id++) {
        double value;
        if (!lw_metric_value((enum lw_metric_id)id, &rec, NULL, &value))
            continue;
        assert_true(expect < sm->n_metrics);
        PB(Metric) *m = sm->metrics[expect++];
        assert_string_equal(m->name, lw_metric_desc((enum lw_metric_id)id)->otlp_name);
        assert_string_equal(m->unit, lw_metric_desc((enum lw_metric_id)id)->ucum_unit);
        assert_int_equal(m->data_case,
                         OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__METRIC__DATA_GAUGE);
        assert_int_equal(m->gauge->n_data_points, 1);
        assert_true(m->gauge->data_points[0]->as_double == value);
        assert_int_equal(m->gauge->data_points[0]->time_unix_nano, 1700000001000000000ull);
    }
    assert_int_equal(sm->n_metrics, expect);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
        req, NULL);
}

static void test_request_above_cap_is_refused(void **state)
{
    (void)state;
    struct lw_otlp_resource res;
    fill_resource(&res);
    struct lw_record rec;
    fill_record(&rec, 1, 1700000001000, true);
    struct lw_otlp_item item = {&rec, NULL};
    uint8_t buf[64];
    size_t len = 99;
    assert_int_equal(lw_otlp_encode(&res, &item, 1, NULL, 0, 0, buf, sizeof(buf), &len),
                     LW_ERR_TOO_LARGE);
    assert_int_equal(len, 0);
    assert_int_equal(lw_otlp_encode(&res, NULL, 1, NULL, 0, 0, buf, sizeof(buf), &len),
                     LW_ERR_INVALID);
}

static void test_decode_response(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const uint8_t *body;
        size_t len;
        enum lw_err err;
        int64_t rejected;
        const char *msg;
    } cases[] = {
        {"empty body: full success", (const uint8_t *)"", 0, LW_OK, 0, ""},
        {"empty partial_success", (const uint8_t *)"\x0a\x00", 2, LW_OK, 0, ""},
        {"partial success",
         (const uint8_t *)"\x0a\x07\x08\x05\x12\x03"
                          "bad",
         9, LW_OK, 5, "bad"},
        {"unknown field skipped", (const uint8_t *)"\x10\x01\x0a\x02\x08\x02", 6, LW_OK, 2, ""},
        {"garbage", (const uint8_t *)"<html>", 6, LW_ERR_INVALID, 0, ""},
        {"truncated", (const uint8_t *)"\x0a\x07\x08\x05", 4, LW_ERR_INVALID, 0, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t rejected = -1;
        char msg[8];
        print_message("case: %s\n", cases[i].name);
        assert_int_equal(
            lw_otlp_decode_response(cases[i].body, cases[i].len, &rejected, msg, sizeof(msg)),
            cases[i].err);
        assert_int_equal(rejected, cases[i].rejected);
        assert_string_equal(msg, cases[i].msg);
    }
}

static void test_health_metric_names(void **state)
{
    (void)state;
    static const struct {
        enum lw_health_counter which;
        const char *name;
    } cases[] = {
        {LW_H_TELEMETRY_RECEIVED, "leakwatch.health.telemetry_events_received"},
        {LW_H_OTLP_REJECTED_POINTS, "leakwatch.health.otlp_points_rejected"},
        {LW_H_EMF_DROPPED, "leakwatch.health.emf_lines_dropped"},
        {LW_H_PROCS_DROPPED, "leakwatch.health.processes_dropped"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[96];
        lw_otlp_health_metric_name(cases[i].which, out, sizeof(out));
        assert_string_equal(out, cases[i].name);
    }
    char small[20];
    lw_otlp_health_metric_name(LW_H_TELEMETRY_RECEIVED, small, sizeof(small));
    assert_string_equal(small, "leakwatch.health.te");
}

static void test_resource_set_replaces_and_caps(void **state)
{
    (void)state;
    static struct lw_otlp_resource res;
    memset(&res, 0, sizeof(res));
    assert_int_equal(lw_otlp_resource_set_str(&res, "service.name", "a"), LW_OK);
    assert_int_equal(lw_otlp_resource_set_str(&res, "service.name", "b"), LW_OK);
    assert_int_equal(res.n_attrs, 1);
    assert_string_equal(lw_otlp_resource_get(&res, "service.name")->str, "b");
    assert_null(lw_otlp_resource_get(&res, "faas.name"));
    assert_int_equal(lw_otlp_resource_set_str(&res, "", "x"), LW_ERR_INVALID);
    char long_value[LW_OTLP_ATTR_VALUE_MAX + 1];
    memset(long_value, 'v', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    assert_int_equal(lw_otlp_resource_set_str(&res, "k", long_value), LW_ERR_TOO_LARGE);
    for (int i = 1; i < LW_OTLP_MAX_ATTRS; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(lw_otlp_resource_set_int(&res, key, i), LW_OK);
    }
    assert_int_equal(lw_otlp_resource_set_int(&res, "one.too.many", 1), LW_ERR_FULL);
    assert_int_equal(res.dropped_attrs, 1);
    /* replacing an existing key still works when full */
    assert_int_equal(lw_otlp_resource_set_int(&res, "k1", 42), LW_OK);
    assert_int_equal(lw_otlp_resource_get(&res, "k1")->i, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protoc_decodes_the_request),
        cmocka_unit_test(test_protobuf_c_reads_back_every_metric),
        cmocka_unit_test(test_request_above_cap_is_refused),
        cmocka_unit_test(test_decode_response),
        cmocka_unit_test(test_health_metric_names),
        cmocka_unit_test(test_resource_set_replaces_and_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
