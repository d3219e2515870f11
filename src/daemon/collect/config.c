#include <leakwatch/config.h>

#include <leakwatch/limits.h>
#include <leakwatch/probes.h>
#include <leakwatch/state.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Defaults, documented in the README's configuration table. */
#define DEFAULT_NAMESPACE "Leakwatch"
#define DEFAULT_SAMPLER_INTERVAL_MS 10
#define DEFAULT_RECYCLE_HORIZON_MINUTES 120.0
#define DEFAULT_WARMUP_INVOCATIONS 5
#define DEFAULT_INTERVAL_MS 10000
#define DEFAULT_RESTORE_WARMUP_INVOCATIONS 20

static void warn(struct lw_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct lw_config *cfg, const char *fmt, ...)
{
    if (cfg->n_warnings >= LW_CONFIG_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->warnings[cfg->n_warnings], LW_CONFIG_WARNING_MAX, fmt, ap);
    va_end(ap);
    cfg->n_warnings++;
}

/* Copies at most cap-1 bytes; a value that does not fit is refused with a warning. Returns
 * whether the value was taken (false: the default is used). */
static bool load_str(struct lw_config *cfg, lw_getenv_fn get, void *ctx, const char *name,
                     char *dst, size_t cap, const char *def)
{
    const char *v = get(ctx, name);
    if (v == NULL || *v == '\0') {
        snprintf(dst, cap, "%s", def);
        return false;
    }
    size_t len = strlen(v);
    if (len >= cap) {
        warn(cfg, "%s is longer than %zu characters; using the default \"%s\"", name, cap - 1, def);
        snprintf(dst, cap, "%s", def);
        return false;
    }
    memcpy(dst, v, len + 1);
    return true;
}

/* Parses a whole decimal number in [min, max]; anything else keeps the default with a warning. */
static uint64_t load_uint(struct lw_config *cfg, lw_getenv_fn get, void *ctx, const char *name,
                          uint64_t min, uint64_t max, uint64_t def)
{
    const char *v = get(ctx, name);
    if (v == NULL || *v == '\0')
        return def;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n < min || n > max) {
        warn(cfg, "%s=\"%.64s\" is not a whole number from %llu to %llu; using the default %llu",
             name, v, (unsigned long long)min, (unsigned long long)max, (unsigned long long)def);
        return def;
    }
    return n;
}

static double load_double(struct lw_config *cfg, lw_getenv_fn get, void *ctx, const char *name,
                          double min, double max, double def)
{
    const char *v = get(ctx, name);
    if (v == NULL || *v == '\0')
        return def;
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d >= min && d <= max)) {
        warn(cfg, "%s=\"%.64s\" is not a number from %g to %g; using the default %g", name, v, min,
             max, def);
        return def;
    }
    return d;
}

static bool load_bool(struct lw_config *cfg, lw_getenv_fn get, void *ctx, const char *name,
                      bool def)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    const char *v = get(ctx, name);
    if (v == NULL || *v == '\0')
        return def;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return true;
        if (strcasecmp(v, no[i]) == 0)
            return false;
    }
    warn(cfg, "%s=\"%.64s\" is not true/false; using the default %s", name, v,
         def ? "true" : "false");
    return def;
}

static unsigned parse_exports(const char *v, bool *ok)
{
    *ok = true;
    if (strcasecmp(v, "emf") == 0)
        return LW_EXPORT_EMF;
    if (strcasecmp(v, "otlp") == 0)
        return LW_EXPORT_OTLP;
    if (strcasecmp(v, "both") == 0 || strcasecmp(v, "emf,otlp") == 0 ||
        strcasecmp(v, "otlp,emf") == 0)
        return LW_EXPORT_EMF | LW_EXPORT_OTLP;
    if (strcasecmp(v, "none") == 0)
        return 0;
    *ok = false;
    return 0;
}

static void load_exports(struct lw_config *cfg, lw_getenv_fn get, void *ctx)
{
    /* Zero config means EMF. Setting an OTLP endpoint without LEAKWATCH_EXPORT is read as
     * "also send there": nobody configures an endpoint to have it ignored. */
    const char *ep = get(ctx, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
    if (ep == NULL || *ep == '\0')
        ep = get(ctx, "OTEL_EXPORTER_OTLP_ENDPOINT");
    unsigned def = LW_EXPORT_EMF | ((ep != NULL && *ep != '\0') ? LW_EXPORT_OTLP : 0);
    const char *v = get(ctx, "LEAKWATCH_EXPORT");
    cfg->exports = def;
    if (v == NULL || *v == '\0')
        return;
    bool ok;
    unsigned e = parse_exports(v, &ok);
    if (!ok) {
        warn(cfg,
             "LEAKWATCH_EXPORT=\"%.64s\" is not one of emf, otlp, both, none; using the "
             "default %s",
             v, def == LW_EXPORT_EMF ? "emf" : "both");
        return;
    }
    cfg->exports = e;
}

/* CloudWatch namespaces: 1-256 characters of [a-zA-Z0-9._#:/-] (EMF client libraries' rule). */
static bool namespace_ok(const char *ns)
{
    size_t len = strlen(ns);
    if (len == 0 || len > 256)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = ns[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && strchr("._#:/-", c) == NULL)
            return false;
    }
    return true;
}

static void load_peak_mode(struct lw_config *cfg, lw_getenv_fn get, void *ctx)
{
    const char *v = get(ctx, "LEAKWATCH_PEAK_METHOD");
    cfg->peak_mode = LW_PEAK_MODE_AUTO;
    if (v == NULL || *v == '\0' || strcasecmp(v, "auto") == 0)
        return;
    if (strcasecmp(v, "hwm") == 0)
        cfg->peak_mode = LW_PEAK_MODE_HWM;
    else if (strcasecmp(v, "sampled") == 0 || strcasecmp(v, "sampler") == 0)
        cfg->peak_mode = LW_PEAK_MODE_SAMPLED;
    else
        warn(cfg,
             "LEAKWATCH_PEAK_METHOD=\"%.64s\" is not one of auto, hwm, sampled; using the "
             "default auto",
             v);
}

/*
 * Runtime insight: the exec wrapper is the function's setting (AWS_LAMBDA_EXEC_WRAPPER, which
 * extensions see among the function's variables), and so is tracemalloc for the Python probe,
 * which reads the variable itself with the same rule; leakwatch says once when it is not valid.
 * The probes' folder is where the wrapper puts it: under the same TMPDIR.
 */
static void load_runtime_insight(struct lw_config *cfg, lw_getenv_fn get, void *ctx,
                                 const char *tmpdir)
{
    snprintf(cfg->probes_dir, sizeof(cfg->probes_dir), "%s/%s", tmpdir, LW_PROBES_DIR_NAME);
    const char *w = get(ctx, "AWS_LAMBDA_EXEC_WRAPPER");
    size_t wl = w ? strlen(w) : 0;
    static const char ours[] = "/leakwatch/wrapper";
    cfg->exec_wrapper = wl >= sizeof(ours) - 1 && strcmp(w + wl - (sizeof(ours) - 1), ours) == 0;
    const char *v = get(ctx, "LEAKWATCH_PYTHON_TRACEMALLOC");
    if (v == NULL || *v == '\0')
        return;
    unsigned frames = 0;
    bool ok = strlen(v) <= 2;
    for (const char *c = v; ok && *c; c++) {
        ok = *c >= '0' && *c <= '9';
        frames = frames * 10 + (unsigned)(*c - '0');
    }
    if (!ok || frames < 1 || frames > 64) {
        warn(cfg,
             "LEAKWATCH_PYTHON_TRACEMALLOC=\"%.64s\" is not a whole number of frames from 1 to "
             "64; tracemalloc stays off",
             v);
        return;
    }
    cfg->python_tracemalloc_frames = frames;
}

void lw_config_load(struct lw_config *cfg, lw_getenv_fn get, void *ctx)
{
    memset(cfg, 0, sizeof(*cfg));

    load_exports(cfg, get, ctx);
    load_str(cfg, get, ctx, "LEAKWATCH_NAMESPACE", cfg->emf_namespace, sizeof(cfg->emf_namespace),
             DEFAULT_NAMESPACE);
    if (!namespace_ok(cfg->emf_namespace)) {
        warn(cfg,
             "LEAKWATCH_NAMESPACE=\"%.64s\" is not a valid CloudWatch namespace (1-256 of "
             "A-Z a-z 0-9 . _ # : / -); using the default \"" DEFAULT_NAMESPACE "\"",
             cfg->emf_namespace);
        snprintf(cfg->emf_namespace, sizeof(cfg->emf_namespace), "%s", DEFAULT_NAMESPACE);
    }
    cfg->version_dimension = load_bool(cfg, get, ctx, "LEAKWATCH_VERSION_DIMENSION", false);
    load_peak_mode(cfg, get, ctx);
    cfg->sampler_interval_ms = (uint32_t)load_uint(cfg, get, ctx, "LEAKWATCH_SAMPLER_INTERVAL_MS",
                                                   1, 1000, DEFAULT_SAMPLER_INTERVAL_MS);

    cfg->log_level = LW_LOG_INFO;
    const char *lv = get(ctx, "LEAKWATCH_LOG_LEVEL");
    if (lv != NULL && *lv != '\0' && lw_log_parse_level(lv, &cfg->log_level) != 0) {
        warn(cfg,
             "LEAKWATCH_LOG_LEVEL=\"%.64s\" is not one of debug, info, warn, error, off; using "
             "the default info",
             lv);
        cfg->log_level = LW_LOG_INFO;
    }

    cfg->telemetry = load_bool(cfg, get, ctx, "LEAKWATCH_TELEMETRY", true);
    cfg->telemetry_port = (uint16_t)load_uint(cfg, get, ctx, "LEAKWATCH_TELEMETRY_PORT", 1024,
                                              65535, LW_TELEMETRY_DEFAULT_PORT);
    if (cfg->telemetry_port == LW_LAMBDA_RESERVED_PORT) {
        warn(cfg, "LEAKWATCH_TELEMETRY_PORT=%u is reserved by Lambda; using the default %u",
             LW_LAMBDA_RESERVED_PORT, LW_TELEMETRY_DEFAULT_PORT);
        cfg->telemetry_port = LW_TELEMETRY_DEFAULT_PORT;
    }
    cfg->telemetry_max_items = (uint32_t)load_uint(
        cfg, get, ctx, "LEAKWATCH_TELEMETRY_MAX_ITEMS", LW_TELEMETRY_MAX_ITEMS_MIN,
        LW_TELEMETRY_MAX_ITEMS_MAX, LW_TELEMETRY_MAX_ITEMS_MIN);
    cfg->telemetry_max_bytes = (uint32_t)load_uint(
        cfg, get, ctx, "LEAKWATCH_TELEMETRY_MAX_BYTES", LW_TELEMETRY_MAX_BYTES_MIN,
        LW_TELEMETRY_MAX_BYTES_MAX, LW_TELEMETRY_MAX_BYTES_MIN);
    cfg->telemetry_timeout_ms = (uint32_t)load_uint(
        cfg, get, ctx, "LEAKWATCH_TELEMETRY_TIMEOUT_MS", LW_TELEMETRY_TIMEOUT_MS_MIN,
        LW_TELEMETRY_TIMEOUT_MS_MAX, LW_TELEMETRY_TIMEOUT_MS_DEFAULT);
    /* The platform.report of invocation N is produced after N and delivered at a later thaw,
     * after the buffering timeout: when invocations are shorter than that timeout it can arrive
     * several invocations later (the ledger then waits for a record that ended twice the
     * timeout later as well). Waiting costs nothing when the report comes (the record goes out
     * as soon as it is joined); it only delays a record whose report never comes. */
    cfg->report_wait_invocations =
        (uint32_t)load_uint(cfg, get, ctx, "LEAKWATCH_REPORT_WAIT_INVOCATIONS", 1, 10, 4);
    cfg->recycle_horizon_minutes = load_double(cfg, get, ctx, "LEAKWATCH_RECYCLE_HORIZON_MINUTES",
                                               1.0, 7.0 * 24 * 60, DEFAULT_RECYCLE_HORIZON_MINUTES);
    cfg->warmup_invocations = (uint32_t)load_uint(cfg, get, ctx, "LEAKWATCH_WARMUP_INVOCATIONS", 0,
                                                  1000, DEFAULT_WARMUP_INVOCATIONS);
    /* Managed Instances: how often the timer takes a reading (see docs/modes.md for the
     * measurement behind the default). */
    cfg->interval_ms = (uint32_t)load_uint(cfg, get, ctx, "LEAKWATCH_INTERVAL_MS", 100,
                                           3600u * 1000u, DEFAULT_INTERVAL_MS);
    /* SnapStart: the pages of a restored snapshot come back as they are first used, so memory
     * grows for a while after a restore without any leak. */
    cfg->restore_warmup_invocations =
        (uint32_t)load_uint(cfg, get, ctx, "LEAKWATCH_RESTORE_WARMUP_INVOCATIONS", 0, 1000,
                            DEFAULT_RESTORE_WARMUP_INVOCATIONS);
    load_str(cfg, get, ctx, "LEAKWATCH_EXTENSIONS_DIR", cfg->extensions_dir,
             sizeof(cfg->extensions_dir), "");

    /* The state file that tells the next environment of this sandbox how this one ended
     * (state.h): /tmp survives a reset. An absolute TMPDIR moves it. */
    cfg->state_file = load_bool(cfg, get, ctx, "LEAKWATCH_STATE_FILE", true);
    const char *tmpdir = get(ctx, "TMPDIR");
    if (tmpdir == NULL || tmpdir[0] != '/' ||
        strlen(tmpdir) + sizeof("/" LW_PROBES_DIR_NAME) > sizeof(cfg->state_path))
        tmpdir = "/tmp";
    snprintf(cfg->state_path, sizeof(cfg->state_path), "%s/%s", tmpdir, LW_STATE_FILE_NAME);
    load_runtime_insight(cfg, get, ctx, tmpdir);

    load_str(cfg, get, ctx, "AWS_LAMBDA_RUNTIME_API", cfg->runtime_api, sizeof(cfg->runtime_api),
             "");
    cfg->function_name_set = load_str(cfg, get, ctx, "AWS_LAMBDA_FUNCTION_NAME", cfg->function_name,
                                      sizeof(cfg->function_name), "unknown");
    cfg->function_version_set =
        load_str(cfg, get, ctx, "AWS_LAMBDA_FUNCTION_VERSION", cfg->function_version,
                 sizeof(cfg->function_version), "$LATEST");
    load_str(cfg, get, ctx, "AWS_REGION", cfg->region, sizeof(cfg->region), "");
    cfg->initialization_type_set =
        load_str(cfg, get, ctx, "AWS_LAMBDA_INITIALIZATION_TYPE", cfg->initialization_type,
                 sizeof(cfg->initialization_type), "on-demand");
    if (strcmp(cfg->initialization_type, "lambda-managed-instances") == 0)
        cfg->mode = LW_MODE_MANAGED_INSTANCES;
    else if (strcmp(cfg->initialization_type, "snap-start") == 0)
        cfg->mode = LW_MODE_SNAPSTART;
    else
        cfg->mode = LW_MODE_ON_DEMAND;
    /* Lambda's limits are 128..10240 MB; accept a little beyond for local runs. 0 = unknown. */
    cfg->memory_limit_bytes =
        load_uint(cfg, get, ctx, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1, 1024 * 1024, 0) * 1048576u;
}

const char *lw_mode_name(enum lw_mode mode)
{
    switch (mode) {
    case LW_MODE_SNAPSTART:
        return "snapstart";
    case LW_MODE_MANAGED_INSTANCES:
        return "managed-instances";
    case LW_MODE_ON_DEMAND:
        break;
    }
    return "on-demand";
}

const char *lw_config_process_env(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}
