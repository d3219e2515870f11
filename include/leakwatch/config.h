/*
 * leakwatch's settings, from LEAKWATCH_* variables and the Lambda environment. Pure: variables
 * are read through a lookup function, so tests pass a table. A bad value is never fatal: the
 * default is used and one warning naming the variable, the value and the default is collected
 * in the config for the caller to log.
 */
#ifndef LEAKWATCH_CONFIG_H
#define LEAKWATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/log.h>

#define LW_CONFIG_STR_MAX 256
#define LW_CONFIG_MAX_WARNINGS 16
#define LW_CONFIG_WARNING_MAX 320

enum lw_peak_mode {
    LW_PEAK_MODE_AUTO = 0, /* clear_refs + VmHWM where the kernel allows it, else the sampler */
    LW_PEAK_MODE_HWM,      /* clear_refs + VmHWM only; no sampler even where refused */
    LW_PEAK_MODE_SAMPLED,  /* the sampler only */
};

/*
 * The platform mode, from AWS_LAMBDA_INITIALIZATION_TYPE. It decides what leakwatch registers
 * for and how it takes readings: per INVOKE where the platform sends INVOKE to extensions, on a
 * timer on Lambda Managed Instances, where extensions may register only for SHUTDOWN.
 */
enum lw_mode {
    LW_MODE_ON_DEMAND = 0,     /* on-demand and provisioned-concurrency */
    LW_MODE_SNAPSTART,         /* snap-start: restored from a snapshot */
    LW_MODE_MANAGED_INSTANCES, /* lambda-managed-instances: never frozen, concurrent */
};

/* "on-demand", "snapstart", "managed-instances" */
const char *lw_mode_name(enum lw_mode mode);

/* Export targets, bit flags. */
enum lw_export_target {
    LW_EXPORT_EMF = 1u << 0,
    LW_EXPORT_OTLP = 1u << 1,
};

struct lw_config {
    /* LEAKWATCH_* */
    unsigned exports;                       /* LEAKWATCH_EXPORT: emf | otlp | both | none */
    char emf_namespace[LW_CONFIG_STR_MAX];  /* LEAKWATCH_NAMESPACE, default "Leakwatch" */
    bool version_dimension;                 /* LEAKWATCH_VERSION_DIMENSION, default false */
    enum lw_peak_mode peak_mode;            /* LEAKWATCH_PEAK_METHOD, default auto */
    uint32_t sampler_interval_ms;           /* LEAKWATCH_SAMPLER_INTERVAL_MS, default 10 */
    enum lw_log_level log_level;            /* LEAKWATCH_LOG_LEVEL, default info */
    bool telemetry;                         /* LEAKWATCH_TELEMETRY, default true */
    uint16_t telemetry_port;                /* LEAKWATCH_TELEMETRY_PORT, default 4279 */
    uint32_t telemetry_max_items;           /* LEAKWATCH_TELEMETRY_MAX_ITEMS 1000..10000 */
    uint32_t telemetry_max_bytes;           /* LEAKWATCH_TELEMETRY_MAX_BYTES 262144..1048576 */
    uint32_t telemetry_timeout_ms;          /* LEAKWATCH_TELEMETRY_TIMEOUT_MS 25..30000 */
    uint32_t report_wait_invocations;       /* LEAKWATCH_REPORT_WAIT_INVOCATIONS 1..10, default 4 */
    double recycle_horizon_minutes;         /* LEAKWATCH_RECYCLE_HORIZON_MINUTES, default 120 */
    uint32_t warmup_invocations;            /* LEAKWATCH_WARMUP_INVOCATIONS, default 5 */
    uint32_t interval_ms;                   /* LEAKWATCH_INTERVAL_MS, Managed Instances */
    uint32_t restore_warmup_invocations;    /* LEAKWATCH_RESTORE_WARMUP_INVOCATIONS (SnapStart) */
    char extensions_dir[LW_CONFIG_STR_MAX]; /* LEAKWATCH_EXTENSIONS_DIR (launcher layer) */
    bool state_file;                        /* LEAKWATCH_STATE_FILE, default true */
    char state_path[LW_CONFIG_STR_MAX];     /* $TMPDIR (else /tmp) + "/leakwatch-state" */
    /* runtime insight (docs/runtime-insight.md) */
    char probes_dir[LW_CONFIG_STR_MAX]; /* $TMPDIR (else /tmp) + "/leakwatch-probes" */
    bool exec_wrapper;                  /* AWS_LAMBDA_EXEC_WRAPPER names leakwatch's wrapper */
    uint32_t python_tracemalloc_frames; /* LEAKWATCH_PYTHON_TRACEMALLOC 1..64, 0: off */

    /* the Lambda environment */
    char runtime_api[LW_CONFIG_STR_MAX];      /* AWS_LAMBDA_RUNTIME_API host:port */
    char function_name[LW_CONFIG_STR_MAX];    /* AWS_LAMBDA_FUNCTION_NAME, default "unknown" */
    char function_version[LW_CONFIG_STR_MAX]; /* AWS_LAMBDA_FUNCTION_VERSION, default $LATEST */
    bool function_name_set;                   /* the two above came from the environment */
    bool function_version_set;
    char region[LW_CONFIG_STR_MAX]; /* AWS_REGION */
    char initialization_type[64];   /* AWS_LAMBDA_INITIALIZATION_TYPE */
    bool initialization_type_set;   /* it came from the environment (not the default) */
    enum lw_mode mode;              /* from initialization_type */
    uint64_t memory_limit_bytes;    /* AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MB) in bytes */

    size_t n_warnings;
    char warnings[LW_CONFIG_MAX_WARNINGS][LW_CONFIG_WARNING_MAX];
};

/* Returns the value of an environment variable or NULL. Every reader of variables takes one, so
 * tests pass a table. */
typedef const char *(*lw_getenv_fn)(void *ctx, const char *name);

/* Fills cfg from the variables; never fails (bad values fall back to defaults + a warning). */
void lw_config_load(struct lw_config *cfg, lw_getenv_fn getenv_fn, void *ctx);

/* An lw_getenv_fn over the process environment (ctx unused). */
const char *lw_config_process_env(void *ctx, const char *name);

#endif
