/*
 * The metric table and the value of each metric for records with and without their parts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include <cmocka.h>

#include <leakwatch/metrics.h>

#include "test_records.h"

static void test_descs(void **state)
{
    (void)state;
    for (int i = 0; i < LW_M_COUNT; i++) {
        const struct lw_metric_desc *d = lw_metric_desc((enum lw_metric_id)i);
        assert_non_null(d);
        assert_non_null(d->emf_name);
        assert_non_null(d->otlp_name);
        assert_non_null(d->ucum_unit);
        bool unit_ok = false;
        for (size_t u = 0;
             u < sizeof(lw_test_cloudwatch_units) / sizeof(lw_test_cloudwatch_units[0]); u++)
            unit_ok |= strcmp(d->emf_unit, lw_test_cloudwatch_units[u]) == 0;
        if (!unit_ok)
            fail_msg("%s: unit %s is not a CloudWatch unit", d->emf_name, d->emf_unit);
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(d->emf_name, lw_metric_desc((enum lw_metric_id)j)->emf_name);
            assert_string_not_equal(d->otlp_name, lw_metric_desc((enum lw_metric_id)j)->otlp_name);
        }
    }
    assert_string_equal(lw_metric_desc(LW_M_FN_RSS_END)->emf_name, "FunctionRssEndBytes");
    assert_string_equal(lw_metric_desc(LW_M_UTILIZATION)->emf_unit, "Percent");
    assert_null(lw_metric_desc(LW_M_COUNT));
    assert_null(lw_metric_desc((enum lw_metric_id) - 1));
}

struct want {
    enum lw_metric_id id;
    bool present;
    double value;
};

static void check(const struct lw_record *r, const struct lw_verdict *v, const struct want *w,
                  size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double got = -12345;
        bool present = lw_metric_value(w[i].id, r, v, &got);
        const char *name = lw_metric_desc(w[i].id)->emf_name;
        if (present != w[i].present)
            fail_msg("%s: present %d, want %d", name, present, w[i].present);
        if (present && got != w[i].value)
            fail_msg("%s: %.17g, want %.17g", name, got, w[i].value);
        if (!present)
            assert_true(got == -12345); /* untouched */
    }
}

#define M(x) ((double)(x) * (double)MIB)

static void test_typical_values(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    const struct want w[] = {
        {LW_M_FN_RSS_START, true, M(60)},   {LW_M_FN_RSS_END, true, M(64)},
        {LW_M_FN_RSS_PEAK, true, M(90)},    {LW_M_FN_ANON_START, true, M(50)},
        {LW_M_FN_ANON_END, true, M(54)},    {LW_M_FN_FILE_END, true, M(10)},
        {LW_M_FN_SHMEM_END, true, 0},       {LW_M_FN_GROWTH, true, M(4)},
        {LW_M_ENV_RSS, true, M(98)},        {LW_M_MEM_LIMIT, true, M(512)},
        {LW_M_HEADROOM, true, M(512 - 98)}, {LW_M_UTILIZATION, true, 100.0 * 98.0 / 512.0},
        {LW_M_EXTENSIONS_RSS, true, M(31)}, {LW_M_SELF_RSS, true, M(3)},
        {LW_M_SELF_CPU, true, 450},         {LW_M_DURATION, true, 243.25},
        {LW_M_BILLED, true, 244},           {LW_M_RUNTIME_DURATION, true, 241.5},
        {LW_M_INIT_DURATION, false, 0},                                             /* warm start */
        {LW_M_MAX_MEMORY_USED, true, 131},  {LW_M_GROWTH_PER_INVOCATION, false, 0}, /* no verdict */
        {LW_M_GROWTH_PER_HOUR, false, 0},   {LW_M_INVOCATIONS_TO_OOM, false, 0},
        {LW_M_MINUTES_TO_OOM, false, 0},    {LW_M_VERDICT_LEVEL, false, 0},
    };
    check(&r, NULL, w, sizeof(w) / sizeof(w[0]));
    double x;
    assert_false(lw_metric_value(LW_M_COUNT, &r, NULL, &x));
    assert_false(lw_metric_value(LW_M_FN_RSS_END, NULL, NULL, &x));
}

static void test_negative_growth_and_over_limit(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    r.fn_end.rss_anon_bytes = 45 * MIB;
    r.env_end.rss_bytes = 600 * MIB;
    const struct want w[] = {
        {LW_M_FN_GROWTH, true, -M(5)},
        {LW_M_HEADROOM, true, -M(88)},
        {LW_M_UTILIZATION, true, 100.0 * 600.0 / 512.0},
    };
    check(&r, NULL, w, sizeof(w) / sizeof(w[0]));
}

static void test_parts_missing(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    /* no limit known */
    r.memory_limit_bytes = 0;
    const struct want no_limit[] = {
        {LW_M_MEM_LIMIT, false, 0},
        {LW_M_HEADROOM, false, 0},
        {LW_M_UTILIZATION, false, 0},
        {LW_M_ENV_RSS, true, M(98)},
    };
    check(&r, NULL, no_limit, sizeof(no_limit) / sizeof(no_limit[0]));

    /* no telemetry; cold start with init duration but only a runtimeDone */
    make_typical_record(&r);
    memset(&r.platform, 0, sizeof(r.platform));
    r.platform.have_runtime_done = true;
    r.platform.runtime_duration_ms = 12;
    r.platform.have_init_duration = true;
    r.platform.init_duration_ms = 180.5;
    const struct want no_report[] = {
        {LW_M_DURATION, false, 0},         {LW_M_BILLED, false, 0},
        {LW_M_MAX_MEMORY_USED, false, 0},  {LW_M_INIT_DURATION, false, 0},
        {LW_M_RUNTIME_DURATION, true, 12},
    };
    check(&r, NULL, no_report, sizeof(no_report) / sizeof(no_report[0]));
    r.platform.have_report = true;
    const struct want cold[] = {{LW_M_INIT_DURATION, true, 180.5}};
    check(&r, NULL, cold, 1);

    /* peak method none */
    make_typical_record(&r);
    r.peak_method = LW_PEAK_NONE;
    const struct want no_peak[] = {{LW_M_FN_RSS_PEAK, false, 0}, {LW_M_FN_RSS_END, true, M(64)}};
    check(&r, NULL, no_peak, 2);
}

static void test_shutdown_without_end(void **state)
{
    (void)state;
    struct lw_snapshot s = {0}, e = {0};
    s.self_cpu_us = 100;
    snap_add(&s, 7, 1, LW_ROLE_RUNTIME, "bootstrap", 60 * MIB, 50 * MIB, 60 * MIB, true);
    snap_add(&s, 9, 2, LW_ROLE_EXTENSION, "otel", 30 * MIB, 25 * MIB, 30 * MIB, true);
    snap_add(&s, 8, 3, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    e.self_cpu_us = 160;
    snap_add(&e, 9, 2, LW_ROLE_EXTENSION, "otel", 33 * MIB, 25 * MIB, 34 * MIB, false);
    snap_add(&e, 8, 3, LW_ROLE_SELF, "leakwatch", 4 * MIB, 1 * MIB, 4 * MIB, false);
    struct lw_record r;
    lw_record_open(&r, &s, "id", "env", 3, false, 0, 256 * MIB);
    lw_record_close_missing(&r, &e, 99);
    const struct want w[] = {
        {LW_M_FN_RSS_START, true, M(60)},   {LW_M_FN_RSS_END, false, 0},
        {LW_M_FN_RSS_PEAK, false, 0},       {LW_M_FN_GROWTH, false, 0},
        {LW_M_ENV_RSS, false, 0},           {LW_M_HEADROOM, false, 0},
        {LW_M_UTILIZATION, false, 0},       {LW_M_MEM_LIMIT, true, M(256)},
        {LW_M_EXTENSIONS_RSS, true, M(33)}, {LW_M_SELF_RSS, true, M(4)},
        {LW_M_SELF_CPU, true, 60},
    };
    check(&r, NULL, w, sizeof(w) / sizeof(w[0]));

    lw_record_open(&r, &s, "id", "env", 3, false, 0, 256 * MIB);
    lw_record_close_missing(&r, NULL, 99);
    const struct want none[] = {
        {LW_M_EXTENSIONS_RSS, false, 0},
        {LW_M_SELF_RSS, false, 0},
        {LW_M_SELF_CPU, false, 0},
        {LW_M_FN_RSS_START, true, M(60)},
    };
    check(&r, NULL, none, sizeof(none) / sizeof(none[0]));

    /* a start snapshot that did not find the function: its start figures are absent, not 0 */
    struct lw_snapshot only_self = {0};
    snap_add(&only_self, 8, 3, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    lw_record_open(&r, &only_self, "id", "env", 1, true, 0, 0);
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    const struct want no_fn[] = {
        {LW_M_FN_RSS_START, false, 0},
        {LW_M_FN_ANON_START, false, 0},
        {LW_M_FN_GROWTH, false, 0},
        /* the end reading did not find it either (a hidden /proc): unknown, not 0 bytes */
        {LW_M_FN_RSS_END, false, 0},
        {LW_M_FN_ANON_END, false, 0},
        {LW_M_FN_RSS_PEAK, false, 0},
        {LW_M_ENV_RSS, true, M(37)},
    };
    check(&r, NULL, no_fn, sizeof(no_fn) / sizeof(no_fn[0]));
    /* and the record says what is missing */
    assert_true(r.gaps & LW_GAP_PROCS);
    assert_int_equal(r.peak_method, LW_PEAK_NONE);
}

/*
 * A function of two processes, one gone at the end (the runtime died of SIGTERM, its helper
 * lives on): what is left would read as a drop of the function's memory. No total is reported
 * from it, only the per-process figures; the extensions' total, complete, stays.
 */
static void test_partial_end_invents_no_drop(void **state)
{
    (void)state;
    struct lw_snapshot s = {0}, e = {0};
    snap_add(&s, 7, 1, LW_ROLE_RUNTIME, "python3", 38 * MIB, 30 * MIB, 38 * MIB, true);
    snap_add(&s, 11, 2, LW_ROLE_RUNTIME_CHILD, "helper", 21 * MIB, 20 * MIB, 21 * MIB, true);
    snap_add(&s, 9, 3, LW_ROLE_EXTENSION, "otel", 30 * MIB, 25 * MIB, 30 * MIB, false);
    snap_add(&s, 8, 4, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, true);
    snap_add(&e, 11, 2, LW_ROLE_RUNTIME_CHILD, "helper", 21 * MIB, 20 * MIB, 21 * MIB, false);
    snap_add(&e, 9, 3, LW_ROLE_EXTENSION, "otel", 30 * MIB, 25 * MIB, 30 * MIB, false);
    snap_add(&e, 8, 4, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    struct lw_record r;
    lw_record_open(&r, &s, "id", "env", 20, false, 0, 256 * MIB);
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    const struct want w[] = {
        {LW_M_FN_RSS_START, true, M(59)}, {LW_M_FN_ANON_START, true, M(50)},
        {LW_M_FN_RSS_END, false, 0},      {LW_M_FN_ANON_END, false, 0},
        {LW_M_FN_FILE_END, false, 0},     {LW_M_FN_SHMEM_END, false, 0},
        {LW_M_FN_RSS_PEAK, false, 0},     {LW_M_FN_GROWTH, false, 0},
        {LW_M_ENV_RSS, false, 0},         {LW_M_HEADROOM, false, 0},
        {LW_M_UTILIZATION, false, 0},     {LW_M_EXTENSIONS_RSS, true, M(30)},
        {LW_M_SELF_RSS, true, M(3)},      {LW_M_MEM_LIMIT, true, M(256)},
    };
    check(&r, NULL, w, sizeof(w) / sizeof(w[0]));
    assert_true(r.gaps & LW_GAP_PARTIAL_END);

    /* an extension's process gone: the function's total stands, the others do not */
    memset(&e, 0, sizeof(e));
    snap_add(&e, 7, 1, LW_ROLE_RUNTIME, "python3", 39 * MIB, 31 * MIB, 40 * MIB, false);
    snap_add(&e, 11, 2, LW_ROLE_RUNTIME_CHILD, "helper", 21 * MIB, 20 * MIB, 21 * MIB, false);
    snap_add(&e, 8, 4, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    lw_record_open(&r, &s, "id", "env", 20, false, 0, 256 * MIB);
    lw_record_close(&r, &e, LW_PEAK_HWM, NULL);
    const struct want x[] = {
        {LW_M_FN_RSS_END, true, M(60)},  {LW_M_FN_GROWTH, true, M(1)},
        {LW_M_FN_RSS_PEAK, true, M(61)}, {LW_M_ENV_RSS, false, 0},
        {LW_M_HEADROOM, false, 0},       {LW_M_UTILIZATION, false, 0},
        {LW_M_EXTENSIONS_RSS, false, 0}, {LW_M_SELF_RSS, true, M(3)},
    };
    check(&r, NULL, x, sizeof(x) / sizeof(x[0]));
}

static void test_verdict_metrics(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    struct lw_verdict v = {0};
    v.kind = LW_VERDICT_LEARNING;
    v.growth_bytes_per_invocation = 1000;
    const struct want learning[] = {
        {LW_M_VERDICT_LEVEL, true, 0},
        {LW_M_GROWTH_PER_INVOCATION, false, 0},
        {LW_M_GROWTH_PER_HOUR, false, 0},
        {LW_M_INVOCATIONS_TO_OOM, false, 0},
    };
    check(&r, &v, learning, sizeof(learning) / sizeof(learning[0]));

    v.kind = LW_VERDICT_LEAK;
    v.growth_bytes_per_invocation = 1048576;
    v.growth_bytes_per_hour = 3.6e9;
    const struct want leak_no_projection[] = {
        {LW_M_VERDICT_LEVEL, true, 2},       {LW_M_GROWTH_PER_INVOCATION, true, 1048576},
        {LW_M_GROWTH_PER_HOUR, true, 3.6e9}, {LW_M_INVOCATIONS_TO_OOM, false, 0},
        {LW_M_MINUTES_TO_OOM, false, 0},
    };
    check(&r, &v, leak_no_projection, sizeof(leak_no_projection) / sizeof(leak_no_projection[0]));

    v.kind = LW_VERDICT_LEAK_CRITICAL;
    v.have_projection = true;
    v.projected_invocations_to_oom = 412;
    v.projected_minutes_to_oom = 37.5;
    const struct want critical[] = {
        {LW_M_VERDICT_LEVEL, true, 3},
        {LW_M_INVOCATIONS_TO_OOM, true, 412},
        {LW_M_MINUTES_TO_OOM, true, 37.5},
    };
    check(&r, &v, critical, sizeof(critical) / sizeof(critical[0]));

    v.kind = LW_VERDICT_WARMING;
    const struct want warming[] = {{LW_M_VERDICT_LEVEL, true, 1}};
    check(&r, &v, warming, 1);
    v.kind = LW_VERDICT_STEADY;
    const struct want steady[] = {{LW_M_VERDICT_LEVEL, true, 0}};
    check(&r, &v, steady, 1);

    /* non-finite figures are never sent */
    v.kind = LW_VERDICT_LEAK;
    v.projected_minutes_to_oom = INFINITY;
    v.growth_bytes_per_hour = NAN;
    const struct want nonfinite[] = {
        {LW_M_MINUTES_TO_OOM, false, 0},
        {LW_M_GROWTH_PER_HOUR, false, 0},
        {LW_M_INVOCATIONS_TO_OOM, true, 412},
    };
    check(&r, &v, nonfinite, sizeof(nonfinite) / sizeof(nonfinite[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descs),
        cmocka_unit_test(test_typical_values),
        cmocka_unit_test(test_negative_growth_and_over_limit),
        cmocka_unit_test(test_parts_missing),
        cmocka_unit_test(test_shutdown_without_end),
        cmocka_unit_test(test_partial_end_invents_no_drop),
        cmocka_unit_test(test_verdict_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
