/*
 * leakwatch: a Lambda external extension that measures the function's memory per invocation.
 *
 * This file is wiring only: it reads the configuration, registers with the Extensions API,
 * starts the telemetry listener and the pipeline, and runs the event loop, which hands each
 * event to the boundary (src/daemon/collect/boundary.c). The rule it keeps: between taking an
 * INVOKE and calling event/next again it does no network I/O and never waits, so the extension
 * never adds latency to an invocation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef LW_STATIC
#include <nss.h>
#endif

#include <leakwatch/boundary.h>
#include <leakwatch/clock.h>
#include <leakwatch/config.h>
#include <leakwatch/health.h>
#include <leakwatch/http.h>
#include <leakwatch/identity.h>
#include <leakwatch/json_arena.h>
#include <leakwatch/lambda_api.h>
#include <leakwatch/lambda_client.h>
#include <leakwatch/leak_check.h>
#include <leakwatch/log.h>
#include <leakwatch/pipeline.h>
#include <leakwatch/report.h>
#include <leakwatch/signals.h>
#include <leakwatch/snapshot.h>
#include <leakwatch/telemetry_listener.h>
#include <leakwatch/ticker.h>

/* Leave this much of the SHUTDOWN budget unused: exiting late means SIGKILL. */
#define SHUTDOWN_MARGIN_MS 100

struct daemon {
    struct lw_config cfg;
    struct lw_health health;
    struct lw_http_transport api; /* main thread only */
    struct lw_registration reg;
    char env_id[LW_ENV_ID_MAX];
    struct lw_telemetry_listener *listener;
    struct lw_pipeline *pipeline;
    struct lw_boundary *boundary; /* NULL: no readings (said at init) */
    struct lw_ticker *ticker;     /* readings on a timer: Managed Instances */
    struct lw_lambda_events events;
};

static void on_telemetry(void *ctx, const char *body, size_t len)
{
    struct daemon *d = ctx;
    lw_pipeline_add_telemetry(d->pipeline, body, len);
}

/* While event/next waits: the Telemetry API's batches are read on this thread, in the same
 * poll(), so an invocation costs one wake-up for both. */
static enum lw_err serve_telemetry(void *ctx, int fd)
{
    struct daemon *d = ctx;
    enum lw_err err = lw_telemetry_listener_serve_until(d->listener, fd);
    if (err != LW_OK && lw_telemetry_listener_start_thread(d->listener) == LW_OK)
        lw_warn("telemetry listener: poll failed while waiting for event/next; the listener "
                "has a thread of its own from now on");
    return err;
}

static void tick(void *ctx)
{
    struct daemon *d = ctx;
    lw_boundary_tick(d->boundary);
}

static void emit_record(void *ctx, const struct lw_record *rec)
{
    struct daemon *d = ctx;
    lw_pipeline_add_record(d->pipeline, rec);
}

static bool next_event_waiting(void *ctx)
{
    struct daemon *d = ctx;
    return lw_lambda_events_waiting(&d->events);
}

/*
 * Everything after registration. Nothing here may fail the function's init: what cannot start
 * is said once, and leakwatch goes on without it (at worst, answering events with no readings).
 */
static void start(struct daemon *d, uint64_t start_ms)
{
    bool invokes = d->reg.events & LW_REGISTER_INVOKE;
    struct lw_pipeline_config plc = {
        .intervals = !invokes,
        .intervals_seed = lw_identity_random_u64(),
        .config = &d->cfg,
        .telemetry_expected = d->cfg.telemetry,
        .ids_from_start = !invokes,
        .getenv_fn = lw_config_process_env,
        .out_fd = STDOUT_FILENO,
        .env_id = d->env_id,
        .process_start_ms = start_ms,
    };
    /* The pipeline must exist before the listener can hand it a batch. */
    d->pipeline = lw_pipeline_new(&plc, &d->health);
    struct lw_processes_config pc = {
        .proc_root = "/proc",
        .init_pid = (int32_t)getppid(),
        .self_pid = (int32_t)getpid(),
        .extensions_dir = d->cfg.extensions_dir,
        .probes_dir = d->cfg.probes_dir,
        .exec_wrapper_expected = d->cfg.exec_wrapper,
        .health = &d->health,
    };
    struct lw_processes *procs = d->pipeline != NULL ? lw_processes_new(&pc) : NULL;
    struct lw_boundary_config bc = {
        .procs = procs,
        .peak_mode = d->cfg.peak_mode,
        .sampler_interval_ms = d->cfg.sampler_interval_ms,
        .env_id = d->env_id,
        .memory_limit_bytes = d->cfg.memory_limit_bytes,
    };
    struct lw_boundary_sink sink = {emit_record, next_event_waiting, d};
    if (procs != NULL)
        d->boundary = lw_boundary_new(&bc, NULL, &sink, NULL, &d->health);
    if (d->boundary == NULL) {
        lw_error("out of memory at init: leakwatch runs on without readings");
    } else if (!invokes) {
        /* Managed Instances: no INVOKE, many invocations at once, never frozen. A reading on a
         * timer closes one interval record and opens the next; this one opens the first. */
        lw_boundary_tick(d->boundary);
        d->ticker = lw_ticker_start("lw-interval", d->cfg.interval_ms, tick, d);
        lw_info("no INVOKE events on this platform: a reading every %u ms, one record per "
                "interval",
                d->cfg.interval_ms);
    }
    if (d->pipeline != NULL && d->cfg.telemetry)
        d->listener = lw_lambda_client_start_telemetry(&d->api, &d->cfg, d->reg.extension_id,
                                                       on_telemetry, d, &d->health);
    bool telemetry = d->listener != NULL;
    if (d->pipeline != NULL && !telemetry)
        lw_pipeline_set_telemetry_expected(d->pipeline, false);
    lw_info("ready: environment %s, function %s, %s mode, memory limit %llu MB, peak by %s%s",
            d->env_id, d->cfg.function_name, lw_mode_name(d->cfg.mode),
            (unsigned long long)(d->cfg.memory_limit_bytes >> 20),
            d->boundary == NULL || lw_boundary_uses_hwm(d->boundary) ? "clear_refs+VmHWM"
                                                                     : "sampling",
            telemetry ? ", telemetry on" : "");
}

static int shutdown_now(struct daemon *d, const struct lw_lambda_event *ev)
{
    lw_signals_say();
    uint64_t t = lw_clock_wall_ms(lw_clock_system());
    uint64_t margin = SHUTDOWN_MARGIN_MS + lw_leak_check_reserve_ms();
    uint64_t deadline = ev->deadline_ms > margin ? ev->deadline_ms - margin : t + 1000;
    lw_ticker_stop(d->ticker); /* before the last reading: one thread reads at a time */
    /* The last reports come while this thread settles and flushes: from now on the listener
     * has a thread of its own. Without one, they are not read, and the records say so. */
    if (d->listener != NULL && lw_telemetry_listener_start_thread(d->listener) != LW_OK)
        lw_warn("the last invocations' reports cannot be read: their records go out without");
    if (d->pipeline != NULL)
        lw_pipeline_settle(d->pipeline, t, deadline);
    if (d->boundary != NULL)
        lw_boundary_shutdown(d->boundary);
    uint64_t invocations = d->boundary != NULL ? lw_boundary_invocations(d->boundary) : 0;
    if (d->pipeline != NULL)
        lw_pipeline_shutdown(d->pipeline, ev->shutdown_reason_raw,
                             lw_shutdown_reason_name(ev->shutdown_reason), invocations, t,
                             deadline);
    /* The listener never waits on a peer, but its thread is not waited for past the deadline
     * either: exiting late means SIGKILL. */
    if (d->listener != NULL)
        lw_telemetry_listener_stop_by(d->listener, deadline);
    lw_info("shutdown (%s) after %llu invocations, flushed in %llu ms",
            lw_shutdown_reason_name(ev->shutdown_reason), (unsigned long long)invocations,
            (unsigned long long)(lw_clock_wall_ms(lw_clock_system()) - t));
    return 0;
}

static int run(struct daemon *d)
{
    lw_config_load(&d->cfg, lw_config_process_env, NULL);
    lw_log_set_level(d->cfg.log_level);
    for (size_t i = 0; i < d->cfg.n_warnings; i++)
        lw_warn("%s", d->cfg.warnings[i]);
    uint64_t start_ms = lw_clock_wall_ms(lw_clock_system());
    lw_identity_new_env_id(d->env_id, sizeof(d->env_id));
    if (d->cfg.runtime_api[0] == '\0') {
        lw_error("AWS_LAMBDA_RUNTIME_API is not set: leakwatch runs only as a Lambda extension");
        return 1;
    }
    if (lw_http_loopback_transport_init(&d->api) != LW_OK) {
        lw_error("HTTP client could not be initialised");
        return 1;
    }
    /* Register first: Lambda starts the runtime only once every extension has registered. */
    if (lw_lambda_client_register(&d->api, d->cfg.runtime_api, d->cfg.mode, &d->reg) != LW_OK)
        return 1;
    if (!d->cfg.function_name_set && d->reg.info.function_name[0] != '\0')
        snprintf(d->cfg.function_name, sizeof(d->cfg.function_name), "%s",
                 d->reg.info.function_name);
    start(d, start_ms);

    /*
     * event/next goes out again the moment an INVOKE is in hand, before the reading: Lambda
     * ends an invocation only when every extension waits in event/next, so leakwatch's own
     * work never lengthens one, however short. The reading follows; if the invocation was
     * over before it was complete (the next event is already there), the record says so.
     */
    if (lw_lambda_events_init(&d->events, &d->api, d->cfg.runtime_api, d->reg.extension_id) !=
        LW_OK)
        return 1;
    if (d->listener != NULL) {
        d->events.wait = serve_telemetry;
        d->events.wait_ctx = d;
    }
    for (;;) {
        struct lw_lambda_event ev;
        if (lw_lambda_events_next(&d->events, &ev) != LW_OK)
            return 1;
        if (ev.kind == LW_EVENT_SHUTDOWN)
            return shutdown_now(d, &ev);
        if (lw_lambda_events_release(&d->events) != LW_OK)
            return 1;
        /* Only now may this request's telemetry count: an id the platform itself handed out. */
        if (d->pipeline != NULL)
            lw_pipeline_invoke(d->pipeline, ev.request_id);
        if (d->boundary != NULL)
            lw_boundary_invoke(d->boundary, ev.request_id, ev.deadline_ms);
        lw_signals_say();
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: leakwatch                 run as a Lambda extension (from /opt/extensions)\n"
               "       leakwatch report [...]    per-invocation table and chart from logs\n"
               "       leakwatch --version\n");
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "report") == 0)
            return lw_report_main(argc - 1, argv + 1);
        if (strcmp(argv[1], "--version") == 0) {
            printf("leakwatch %s\n", LW_VERSION);
            return 0;
        }
        usage(strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
#ifdef LW_STATIC
    /*
     * The layer's static daemon resolves host names (an OTLP endpoint) with glibc's built-in
     * files and dns services only: a module that the image's nsswitch.conf names (myhostname,
     * resolve, sss) would be loaded from the image, with a second C library that was never
     * initialised (docs/layer.md).
     */
    __nss_configure_lookup("hosts", "files dns");
#endif
    lw_signals_install();
    lw_json_arena_install(); /* before any thread uses cJSON */
    static struct daemon d;
    int rc = run(&d);
    /* Exit without tearing down threads that may be blocked on a frozen peer. */
    fflush(stdout);
    lw_leak_check_before_exit();
    _exit(rc);
}
