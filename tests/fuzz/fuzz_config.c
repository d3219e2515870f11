/*
 * libFuzzer target for leakwatch's settings (lw_config_load). The input is an environment, one
 * NAME=VALUE per line (fuzz_env.h). Besides the sanitizers, the target checks config.h's
 * promises and aborts when one is broken:
 *   - every setting is within its documented range, whatever the variables said;
 *   - a warning is only ever about a variable that is set, and names it;
 *   - the settings written back as variables load to the same settings, without a warning.
 */
/* fuzz-seeds: tests/fuzz/corpus/config */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/config.h>

#include "fuzz_env.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
    check(strnlen(s, cap) < cap);
}

static void check_ranges(const struct lw_config *c)
{
    check((c->exports & ~(unsigned)(LW_EXPORT_EMF | LW_EXPORT_OTLP)) == 0);
    check_str(c->emf_namespace, sizeof(c->emf_namespace));
    size_t ns_len = strlen(c->emf_namespace);
    check(ns_len >= 1 && strspn(c->emf_namespace, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                                                  "VWXYZ0123456789._#:/-") == ns_len);
    check(c->peak_mode == LW_PEAK_MODE_AUTO || c->peak_mode == LW_PEAK_MODE_HWM ||
          c->peak_mode == LW_PEAK_MODE_SAMPLED);
    check(c->sampler_interval_ms >= 1 && c->sampler_interval_ms <= 1000);
    check(c->log_level <= LW_LOG_OFF);
    check(c->telemetry_port >= 1024 && c->telemetry_port != 9001);
    check(c->telemetry_max_items >= 1000 && c->telemetry_max_items <= 10000);
    check(c->telemetry_max_bytes >= 262144 && c->telemetry_max_bytes <= 1048576);
    check(c->telemetry_timeout_ms >= 25 && c->telemetry_timeout_ms <= 30000);
    check(c->report_wait_invocations >= 1 && c->report_wait_invocations <= 10);
    check(isfinite(c->recycle_horizon_minutes) && c->recycle_horizon_minutes >= 1.0 &&
          c->recycle_horizon_minutes <= 7.0 * 24 * 60);
    check(c->warmup_invocations <= 1000);
    check_str(c->extensions_dir, sizeof(c->extensions_dir));
    check_str(c->runtime_api, sizeof(c->runtime_api));
    check_str(c->function_name, sizeof(c->function_name));
    check(c->function_name[0] != '\0');
    check_str(c->function_version, sizeof(c->function_version));
    check(c->function_version[0] != '\0');
    check_str(c->region, sizeof(c->region));
    check_str(c->initialization_type, sizeof(c->initialization_type));
    check(c->initialization_type[0] != '\0');
    check(c->memory_limit_bytes % 1048576 == 0 && c->memory_limit_bytes <= (1ull << 40));
    check(c->n_warnings <= LW_CONFIG_MAX_WARNINGS);
}

static void check_same(const struct lw_config *a, const struct lw_config *b)
{
    check(a->exports == b->exports);
    check(strcmp(a->emf_namespace, b->emf_namespace) == 0);
    check(a->version_dimension == b->version_dimension);
    check(a->peak_mode == b->peak_mode);
    check(a->sampler_interval_ms == b->sampler_interval_ms);
    check(a->log_level == b->log_level);
    check(a->telemetry == b->telemetry);
    check(a->telemetry_port == b->telemetry_port);
    check(a->telemetry_max_items == b->telemetry_max_items);
    check(a->telemetry_max_bytes == b->telemetry_max_bytes);
    check(a->telemetry_timeout_ms == b->telemetry_timeout_ms);
    check(a->report_wait_invocations == b->report_wait_invocations);
    check(a->recycle_horizon_minutes == b->recycle_horizon_minutes);
    check(a->warmup_invocations == b->warmup_invocations);
    check(strcmp(a->extensions_dir, b->extensions_dir) == 0);
    check(strcmp(a->runtime_api, b->runtime_api) == 0);
    check(strcmp(a->function_name, b->function_name) == 0);
    check(strcmp(a->function_version, b->function_version) == 0);
    check(strcmp(a->region, b->region) == 0);
    check(strcmp(a->initialization_type, b->initialization_type) == 0);
    check(a->memory_limit_bytes == b->memory_limit_bytes);
}

/* Each warning starts with the name of a variable that is set (and not empty). */
static void check_warnings(const struct lw_config *c, const struct fuzz_env *env)
{
    for (size_t i = 0; i < c->n_warnings; i++) {
        const char *w = c->warnings[i];
        check_str(w, LW_CONFIG_WARNING_MAX);
        size_t name_len = strcspn(w, "= ");
        bool found = false;
        for (size_t j = 0; j < env->n && !found; j++) {
            found = strlen(env->names[j]) == name_len && memcmp(env->names[j], w, name_len) == 0 &&
                    env->values[j][0] != '\0';
        }
        check(found);
    }
}

static const char *const peak_names[] = {"auto", "hwm", "sampled"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lw_config cfg, again;
    struct fuzz_env env;
    fuzz_env_parse(&env, data, size);
    lw_config_load(&cfg, fuzz_env_get, &env);
    check_ranges(&cfg);
    check_warnings(&cfg, &env);
    lw_config_load(&again, fuzz_env_get, &env);
    check_same(&cfg, &again);
    check(again.n_warnings == cfg.n_warnings);

    /* Write the settings back as the variables a user would set; the OTLP endpoint variables
     * (which decide the default of LEAKWATCH_EXPORT) are kept from the input. */
    struct fuzz_env out = {0};
    char num[12][32];
    static const char *const exports[] = {"none", "emf", "otlp", "both"};
    fuzz_env_set(&out, "LEAKWATCH_EXPORT", exports[cfg.exports]);
    fuzz_env_set(&out, "LEAKWATCH_NAMESPACE", cfg.emf_namespace);
    fuzz_env_set(&out, "LEAKWATCH_VERSION_DIMENSION", cfg.version_dimension ? "TRUE" : "off");
    fuzz_env_set(&out, "LEAKWATCH_PEAK_METHOD", peak_names[cfg.peak_mode]);
    fuzz_env_set(&out, "LEAKWATCH_LOG_LEVEL", lw_log_level_name(cfg.log_level));
    fuzz_env_set(&out, "LEAKWATCH_TELEMETRY", cfg.telemetry ? "yes" : "0");
    snprintf(num[0], sizeof(num[0]), "%u", (unsigned)cfg.sampler_interval_ms);
    fuzz_env_set(&out, "LEAKWATCH_SAMPLER_INTERVAL_MS", num[0]);
    snprintf(num[1], sizeof(num[1]), "%u", (unsigned)cfg.telemetry_port);
    fuzz_env_set(&out, "LEAKWATCH_TELEMETRY_PORT", num[1]);
    snprintf(num[2], sizeof(num[2]), "%u", (unsigned)cfg.telemetry_max_items);
    fuzz_env_set(&out, "LEAKWATCH_TELEMETRY_MAX_ITEMS", num[2]);
    snprintf(num[3], sizeof(num[3]), "%u", (unsigned)cfg.telemetry_max_bytes);
    fuzz_env_set(&out, "LEAKWATCH_TELEMETRY_MAX_BYTES", num[3]);
    snprintf(num[4], sizeof(num[4]), "%u", (unsigned)cfg.telemetry_timeout_ms);
    fuzz_env_set(&out, "LEAKWATCH_TELEMETRY_TIMEOUT_MS", num[4]);
    snprintf(num[5], sizeof(num[5]), "%u", (unsigned)cfg.report_wait_invocations);
    fuzz_env_set(&out, "LEAKWATCH_REPORT_WAIT_INVOCATIONS", num[5]);
    snprintf(num[6], sizeof(num[6]), "%.17g", cfg.recycle_horizon_minutes);
    fuzz_env_set(&out, "LEAKWATCH_RECYCLE_HORIZON_MINUTES", num[6]);
    snprintf(num[7], sizeof(num[7]), "%u", (unsigned)cfg.warmup_invocations);
    fuzz_env_set(&out, "LEAKWATCH_WARMUP_INVOCATIONS", num[7]);
    snprintf(num[8], sizeof(num[8]), "%llu",
             (unsigned long long)(cfg.memory_limit_bytes / 1048576));
    if (cfg.memory_limit_bytes != 0)
        fuzz_env_set(&out, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", num[8]);
    fuzz_env_set(&out, "LEAKWATCH_EXTENSIONS_DIR", cfg.extensions_dir);
    fuzz_env_set(&out, "AWS_LAMBDA_RUNTIME_API", cfg.runtime_api);
    fuzz_env_set(&out, "AWS_LAMBDA_FUNCTION_NAME", cfg.function_name);
    fuzz_env_set(&out, "AWS_LAMBDA_FUNCTION_VERSION", cfg.function_version);
    fuzz_env_set(&out, "AWS_REGION", cfg.region);
    fuzz_env_set(&out, "AWS_LAMBDA_INITIALIZATION_TYPE", cfg.initialization_type);
    static const char *const endpoints[] = {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                                            "OTEL_EXPORTER_OTLP_ENDPOINT"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = fuzz_env_get(&env, endpoints[i]);
        if (v != NULL)
            fuzz_env_set(&out, endpoints[i], v);
    }
    lw_config_load(&again, fuzz_env_get, &out);
    check_same(&cfg, &again);
    check(again.n_warnings == 0);

    fuzz_env_free(&env);
    return 0;
}
