#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/config.h>

/* A fake environment: NULL-terminated name/value pairs. */
static const char *lookup(void *ctx, const char *name)
{
    const char *const *kv = ctx;
    for (size_t i = 0; kv[i] != NULL; i += 2)
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

static bool has_warning_about(const struct lw_config *cfg, const char *var, const char *value)
{
    for (size_t i = 0; i < cfg->n_warnings; i++)
        if (strstr(cfg->warnings[i], var) != NULL && strstr(cfg->warnings[i], value) != NULL)
            return true;
    return false;
}

static void test_defaults(void **state)
{
    (void)state;
    const char *env[] = {NULL};
    struct lw_config cfg;
    lw_config_load(&cfg, lookup, env);
    assert_int_equal(cfg.n_warnings, 0);
    assert_int_equal(cfg.exports, LW_EXPORT_EMF);
    assert_string_equal(cfg.emf_namespace, "Leakwatch");
    assert_false(cfg.version_dimension);
    assert_int_equal(cfg.peak_mode, LW_PEAK_MODE_AUTO);
    assert_int_equal(cfg.sampler_interval_ms, 10);
    assert_int_equal(cfg.log_level, LW_LOG_INFO);
    assert_true(cfg.telemetry);
    assert_int_equal(cfg.telemetry_port, 4279);
    assert_int_equal(cfg.telemetry_max_items, 1000);
    assert_int_equal(cfg.telemetry_max_bytes, 262144);
    assert_int_equal(cfg.telemetry_timeout_ms, 100);
    assert_int_equal(cfg.report_wait_invocations, 4);
    assert_true(cfg.recycle_horizon_minutes == 120.0);
    assert_string_equal(cfg.function_name, "unknown");
    assert_string_equal(cfg.function_version, "$LATEST");
    assert_int_equal(cfg.memory_limit_bytes, 0);
    assert_int_equal(cfg.mode, LW_MODE_ON_DEMAND);
    assert_int_equal(cfg.interval_ms, 10000);
    assert_int_equal(cfg.restore_warmup_invocations, 20);
}

/* The platform mode, from AWS_LAMBDA_INITIALIZATION_TYPE. */
static void test_modes(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        enum lw_mode mode;
        const char *name;
    } cases[] = {
        {"on-demand", LW_MODE_ON_DEMAND, "on-demand"},
        {"provisioned-concurrency", LW_MODE_ON_DEMAND, "on-demand"},
        {"snap-start", LW_MODE_SNAPSTART, "snapstart"},
        {"lambda-managed-instances", LW_MODE_MANAGED_INSTANCES, "managed-instances"},
        {"something-new", LW_MODE_ON_DEMAND, "on-demand"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[] = {"AWS_LAMBDA_INITIALIZATION_TYPE", cases[i].value, NULL};
        struct lw_config cfg;
        lw_config_load(&cfg, lookup, env);
        assert_int_equal(cfg.mode, cases[i].mode);
        assert_string_equal(lw_mode_name(cfg.mode), cases[i].name);
    }
    const char *env[] = {"LEAKWATCH_INTERVAL_MS", "1500", "LEAKWATCH_RESTORE_WARMUP_INVOCATIONS",
                         "0", NULL};
    struct lw_config cfg;
    lw_config_load(&cfg, lookup, env);
    assert_int_equal(cfg.interval_ms, 1500);
    assert_int_equal(cfg.restore_warmup_invocations, 0);
}

static void test_lambda_environment(void **state)
{
    (void)state;
    const char *env[] = {"AWS_LAMBDA_RUNTIME_API",
                         "127.0.0.1:9001",
                         "AWS_LAMBDA_FUNCTION_NAME",
                         "orders",
                         "AWS_LAMBDA_FUNCTION_VERSION",
                         "7",
                         "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                         "512",
                         "AWS_REGION",
                         "eu-west-1",
                         NULL};
    struct lw_config cfg;
    lw_config_load(&cfg, lookup, env);
    assert_int_equal(cfg.n_warnings, 0);
    assert_string_equal(cfg.runtime_api, "127.0.0.1:9001");
    assert_string_equal(cfg.function_name, "orders");
    assert_string_equal(cfg.function_version, "7");
    assert_int_equal(cfg.memory_limit_bytes, 512ull * 1048576ull);
    assert_string_equal(cfg.region, "eu-west-1");
}

static void test_valid_settings(void **state)
{
    (void)state;
    const char *env[] = {"LEAKWATCH_EXPORT",
                         "both",
                         "LEAKWATCH_NAMESPACE",
                         "Team/Memory",
                         "LEAKWATCH_VERSION_DIMENSION",
                         "yes",
                         "LEAKWATCH_PEAK_METHOD",
                         "sampled",
                         "LEAKWATCH_SAMPLER_INTERVAL_MS",
                         "5",
                         "LEAKWATCH_LOG_LEVEL",
                         "DEBUG",
                         "LEAKWATCH_TELEMETRY",
                         "off",
                         "LEAKWATCH_TELEMETRY_PORT",
                         "4300",
                         "LEAKWATCH_TELEMETRY_MAX_ITEMS",
                         "10000",
                         "LEAKWATCH_TELEMETRY_MAX_BYTES",
                         "1048576",
                         "LEAKWATCH_TELEMETRY_TIMEOUT_MS",
                         "250",
                         "LEAKWATCH_RECYCLE_HORIZON_MINUTES",
                         "45.5",
                         NULL};
    struct lw_config cfg;
    lw_config_load(&cfg, lookup, env);
    assert_int_equal(cfg.n_warnings, 0);
    assert_int_equal(cfg.exports, LW_EXPORT_EMF | LW_EXPORT_OTLP);
    assert_string_equal(cfg.emf_namespace, "Team/Memory");
    assert_true(cfg.version_dimension);
    assert_int_equal(cfg.peak_mode, LW_PEAK_MODE_SAMPLED);
    assert_int_equal(cfg.sampler_interval_ms, 5);
    assert_int_equal(cfg.log_level, LW_LOG_DEBUG);
    assert_false(cfg.telemetry);
    assert_int_equal(cfg.telemetry_port, 4300);
    assert_int_equal(cfg.telemetry_max_items, 10000);
    assert_int_equal(cfg.telemetry_max_bytes, 1048576);
    assert_int_equal(cfg.telemetry_timeout_ms, 250);
    assert_true(cfg.recycle_horizon_minutes == 45.5);
}

/* Every bad value: the default is kept and one warning names the variable and the value. */
static void test_bad_values_fall_back(void **state)
{
    (void)state;
    static const struct {
        const char *var;
        const char *value;
    } cases[] = {
        {"LEAKWATCH_EXPORT", "kafka"},
        {"LEAKWATCH_NAMESPACE", "has space"},
        {"LEAKWATCH_VERSION_DIMENSION", "maybe"},
        {"LEAKWATCH_PEAK_METHOD", "guess"},
        {"LEAKWATCH_SAMPLER_INTERVAL_MS", "0"},
        {"LEAKWATCH_SAMPLER_INTERVAL_MS", "10ms"},
        {"LEAKWATCH_SAMPLER_INTERVAL_MS", "-5"},
        {"LEAKWATCH_LOG_LEVEL", "loud"},
        {"LEAKWATCH_TELEMETRY_PORT", "80"},
        {"LEAKWATCH_TELEMETRY_PORT", "70000"},
        {"LEAKWATCH_TELEMETRY_PORT", "9001"},
        {"LEAKWATCH_TELEMETRY_MAX_ITEMS", "999"},
        {"LEAKWATCH_TELEMETRY_MAX_BYTES", "2000000"},
        {"LEAKWATCH_TELEMETRY_TIMEOUT_MS", "24"},
        {"LEAKWATCH_RECYCLE_HORIZON_MINUTES", "soon"},
        {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"},
        {"LEAKWATCH_INTERVAL_MS", "99"},
        {"LEAKWATCH_INTERVAL_MS", "3600001"},
        {"LEAKWATCH_RESTORE_WARMUP_INVOCATIONS", "1001"},
    };
    const char *env_default[] = {NULL};
    struct lw_config defaults;
    lw_config_load(&defaults, lookup, env_default);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[] = {cases[i].var, cases[i].value, NULL};
        struct lw_config cfg;
        lw_config_load(&cfg, lookup, env);
        assert_int_equal(cfg.n_warnings, 1);
        assert_true(has_warning_about(&cfg, cases[i].var, cases[i].value));
        assert_int_equal(cfg.exports, defaults.exports);
        assert_string_equal(cfg.emf_namespace, defaults.emf_namespace);
        assert_int_equal(cfg.version_dimension, defaults.version_dimension);
        assert_int_equal(cfg.peak_mode, defaults.peak_mode);
        assert_int_equal(cfg.sampler_interval_ms, defaults.sampler_interval_ms);
        assert_int_equal(cfg.log_level, defaults.log_level);
        assert_int_equal(cfg.telemetry_port, defaults.telemetry_port);
        assert_int_equal(cfg.telemetry_max_items, defaults.telemetry_max_items);
        assert_int_equal(cfg.telemetry_max_bytes, defaults.telemetry_max_bytes);
        assert_int_equal(cfg.telemetry_timeout_ms, defaults.telemetry_timeout_ms);
        assert_true(cfg.recycle_horizon_minutes == defaults.recycle_horizon_minutes);
        assert_int_equal(cfg.memory_limit_bytes, defaults.memory_limit_bytes);
        assert_int_equal(cfg.interval_ms, defaults.interval_ms);
        assert_int_equal(cfg.restore_warmup_invocations, defaults.restore_warmup_invocations);
    }
}

static void test_otlp_endpoint_turns_otlp_on(void **state)
{
    (void)state;
    const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", NULL};
    struct lw_config cfg;
    lw_config_load(&cfg, lookup, env);
    assert_int_equal(cfg.exports, LW_EXPORT_EMF | LW_EXPORT_OTLP);
    const char *env2[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318",
                          "LEAKWATCH_EXPORT", "emf", NULL};
    lw_config_load(&cfg, lookup, env2);
    assert_int_equal(cfg.exports, LW_EXPORT_EMF);
}

static void test_overlong_string_refused(void **state)
{
    (void)state;
    char longname[400];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *env[] = {"AWS_LAMBDA_FUNCTION_NAME", longname, NULL};
    struct lw_config cfg;
    lw_config_load(&cfg, lookup, env);
    assert_int_equal(cfg.n_warnings, 1);
    assert_string_equal(cfg.function_name, "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_lambda_environment),
        cmocka_unit_test(test_valid_settings),
        cmocka_unit_test(test_bad_values_fall_back),
        cmocka_unit_test(test_otlp_endpoint_turns_otlp_on),
        cmocka_unit_test(test_overlong_string_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
