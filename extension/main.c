/*
 * leakwatch: a Lambda external extension that measures the function's memory per invocation.
 *
 * This file is wiring only: it reads the configuration, registers with the Extensions API,
 * starts the telemetry listener and the pipeline, and runs the event loop. The rule it keeps:
 * between taking an INVOKE and calling event/next again it does no network I/O and never waits,
 * so the extension never adds latency to an invocation. Everything that needs the invocation to
 * be over happens at the next boundary, when the environment has been frozen in between and the
 * reading is exact.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <leakwatch/config.h>
#include <leakwatch/exporter.h>
#include <leakwatch/health.h>
#include <leakwatch/json_arena.h>
#include <leakwatch/http.h>
#include <leakwatch/lambda_api.h>
#include <leakwatch/log.h>
#include <leakwatch/otlp_config.h>
#include <leakwatch/pipeline.h>
#include <leakwatch/record_build.h>
#include <leakwatch/report.h>
#include <leakwatch/sampler.h>
#include <leakwatch/snapshot.h>
#include <leakwatch/telemetry_listener.h>

/* AddressSanitizer builds (the test suite's): its leak check runs at exit(), which the daemon
 * skips, so it is asked for explicitly before _exit(). */
#if defined(__SANITIZE_ADDRESS__)
#define LW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LW_ASAN 1
#endif
#endif
#ifdef LW_ASAN
#include <sanitizer/lsan_interface.h>

/* LeakSanitizer cannot run under ptrace (the strace test): it aborts instead. */
static bool traced(void)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/status", "r");
    bool yes = false;
    while (f != NULL && fgets(buf, sizeof(buf), f) != NULL) {
        if (strncmp(buf, "TracerPid:", 10) == 0)
            yes = strtol(buf + 10, NULL, 10) != 0;
    }
    if (f != NULL)
        fclose(f);
    return yes;
}
#endif

/* Leave this much of the SHUTDOWN budget unused: exiting late means SIGKILL. */
#define SHUTDOWN_MARGIN_MS 100

/*
 * Lambda stops extensions with the SHUTDOWN event (then SIGKILL), never with SIGTERM, which it
 * sends the runtime. A SIGTERM that reaches leakwatch comes from elsewhere, and dying of it would
 * fail the invocation in flight (Extension.Crash) and reset the environment: it is noted, said
 * once, and leakwatch runs on until SHUTDOWN.
 */
static volatile sig_atomic_t sigterm_seen;

static void on_sigterm(int sig)
{
    (void)sig;
    sigterm_seen = 1;
}

static void say_sigterm(void)
{
    static bool said;
    if (sigterm_seen && !said) {
        said = true;
        lw_warn("SIGTERM received and ignored: leakwatch runs until the SHUTDOWN event, as "
                "Lambda extensions do (exiting would fail the invocation in flight)");
    }
}

/* A boundary reading takes well under a millisecond; one that took this long was interrupted. */
#define LATE_READING_MS 50
/* cJSON of one event/next answer (an INVOKE event is under 1 KB) */
#define EVENT_ARENA_BYTES (16 * 1024)

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t self_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

/* Extensions are not told the log stream name, so leakwatch names the environment itself. */
static void make_env_id(char *out, size_t cap)
{
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
        uint64_t x = now_ms() ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &x, sizeof(rnd));
    }
    size_t o = 0;
    for (size_t i = 0; i < sizeof(rnd) && o + 3 <= cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", rnd[i]);
}

static const char *events_name(unsigned events)
{
    switch (events) {
    case LW_REGISTER_INVOKE | LW_REGISTER_SHUTDOWN:
        return "INVOKE and SHUTDOWN";
    case LW_REGISTER_SHUTDOWN:
        return "SHUTDOWN only";
    case LW_REGISTER_INVOKE:
        return "INVOKE only";
    default:
        return "no events";
    }
}

struct daemon {
    struct lw_config cfg;
    unsigned events; /* what the platform accepted at register */
    struct lw_otlp_config otlp;
    struct lw_health health;
    struct lw_http_transport api; /* main thread only */
    char extension_id[LW_EXTENSION_ID_MAX];
    char env_id[LW_ENV_ID_MAX];
    uint64_t start_ms;
    struct lw_processes *procs;
    struct lw_sampler *sampler;
    struct lw_telemetry_listener *listener;
    struct lw_exporter *exporter;
    struct lw_pipeline *pipeline;
    bool use_hwm;
    /* the open record: started at the last INVOKE, closed at the next boundary */
    bool have_open;
    struct lw_record open;
    struct lw_snapshot snap;
    uint64_t invocations;
    struct lw_json_arena event_json; /* cJSON of each event/next answer */
};

static enum lw_err api_call(struct daemon *d, const struct lw_lambda_request *r,
                            struct lw_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    enum lw_err err = d->api.perform(d->api.ctx, &r->http, resp);
    if (err != LW_OK)
        return err;
    if (resp->status < 200 || resp->status > 299)
        return LW_ERR_HTTP;
    return LW_OK;
}

/* Reports a fatal problem to Lambda the documented way, then the caller exits. */
static void report_error(struct daemon *d, bool at_init, const char *type, const char *message)
{
    lw_error("%s: %s", type, message);
    if (d->extension_id[0] == '\0')
        return;
    struct lw_lambda_request r;
    struct lw_http_response resp;
    if (lw_lambda_error_request(&r, d->cfg.runtime_api, d->extension_id, at_init, type, message) ==
        LW_OK) {
        api_call(d, &r, &resp);
        lw_http_response_clean_up(&resp);
    }
}

static void on_telemetry(void *ctx, const char *body, size_t len)
{
    struct daemon *d = ctx;
    lw_pipeline_add_telemetry(d->pipeline, body, len);
}

static bool start_telemetry(struct daemon *d)
{
    struct lw_telemetry_listener_config lc;
    lw_telemetry_listener_config_init(&lc);
    lc.port = d->cfg.telemetry_port;
    /* Lambda's advice: room for twice maxBytes plus the request's metadata. */
    lc.max_body_bytes = 2u * (size_t)d->cfg.telemetry_max_bytes + 64u * 1024u;
    enum lw_err err = LW_OK;
    d->listener = lw_telemetry_listener_start(&lc, on_telemetry, d, &d->health, &err);
    if (d->listener == NULL) {
        lw_warn("telemetry listener not started (%s); going on with /proc figures alone",
                lw_err_str(err));
        return false;
    }
    struct lw_subscription sub = {
        .port = lw_telemetry_listener_port(d->listener),
        .max_items = d->cfg.telemetry_max_items,
        .max_bytes = d->cfg.telemetry_max_bytes,
        .timeout_ms = d->cfg.telemetry_timeout_ms,
    };
    /* The newest schema first; a platform that predates it answers 400, and gets the older. */
    struct lw_http_response resp;
    memset(&resp, 0, sizeof(resp));
    for (int attempt = 0; attempt < 2; attempt++) {
        sub.schema = attempt == 0 ? LW_TELEMETRY_SCHEMA : LW_TELEMETRY_SCHEMA_FALLBACK;
        struct lw_lambda_request r;
        lw_http_response_clean_up(&resp);
        err = lw_lambda_subscribe_request(&r, d->cfg.runtime_api, d->extension_id, &sub);
        if (err != LW_OK)
            break;
        err = api_call(d, &r, &resp);
        if (!(err != LW_OK && resp.status == 400 && attempt == 0))
            break;
        lw_info("Telemetry API schema %s refused (HTTP 400); subscribing with %s",
                LW_TELEMETRY_SCHEMA, LW_TELEMETRY_SCHEMA_FALLBACK);
    }
    if (err != LW_OK || resp.status != 200) {
        lw_warn("Telemetry API subscription refused (HTTP %ld%s%.200s); going on with /proc "
                "figures alone",
                resp.status, resp.body != NULL ? ": " : "", resp.body != NULL ? resp.body : "");
        lw_http_response_clean_up(&resp);
        lw_telemetry_listener_stop(d->listener);
        d->listener = NULL;
        return false;
    }
    lw_http_response_clean_up(&resp);
    lw_info("subscribed to the Telemetry API (schema %s) on port %u", sub.schema,
            (unsigned)sub.port);
    return true;
}

static void start_exporter(struct daemon *d)
{
    static struct lw_exporter_config ec; /* large: not on the stack */
    lw_otlp_config_load(&ec.otlp, lw_config_process_env, NULL, d->env_id);
    lw_otlp_config_log(&ec.otlp);
    ec.process_start_ms = d->start_ms;
    struct lw_http_transport t;
    if (lw_http_curl_transport_init(&t, NULL) != LW_OK) {
        lw_warn("OTLP export off: the HTTP client could not be initialised");
        return;
    }
    d->exporter = lw_exporter_new(&ec, t, &d->health);
}

/*
 * Registers for what the platform allows. Lambda Managed Instances refuse INVOKE for extensions,
 * and an extension that exits at init fails the function's init: a refused event type is dropped
 * and registration tried again, with one line saying so. Only a refusal no retry can help ends
 * leakwatch here.
 */
static enum lw_err do_register(struct daemon *d)
{
    unsigned events = d->cfg.mode == LW_MODE_MANAGED_INSTANCES
                          ? LW_REGISTER_SHUTDOWN
                          : LW_REGISTER_INVOKE | LW_REGISTER_SHUTDOWN;
    for (;;) {
        struct lw_lambda_request r;
        struct lw_http_response resp;
        enum lw_err err = lw_lambda_register_request(&r, d->cfg.runtime_api, events);
        if (err != LW_OK)
            return err;
        err = api_call(d, &r, &resp);
        if (err == LW_OK && resp.header_values[0][0] == '\0')
            err = LW_ERR_INVALID;
        if (err == LW_OK) {
            snprintf(d->extension_id, sizeof(d->extension_id), "%s", resp.header_values[0]);
            d->events = events;
            struct lw_register_info info;
            if (resp.body != NULL &&
                lw_lambda_parse_register(resp.body, resp.body_len, &info) == LW_OK &&
                info.function_name[0] != '\0' && strcmp(d->cfg.function_name, "unknown") == 0)
                snprintf(d->cfg.function_name, sizeof(d->cfg.function_name), "%s",
                         info.function_name);
            lw_http_response_clean_up(&resp);
            return LW_OK;
        }
        char type[64];
        lw_lambda_parse_error_type(resp.body, resp.body_len, type, sizeof(type));
        int next = lw_lambda_register_fallback(events, resp.status, type);
        if (next < 0) {
            lw_error("register failed (HTTP %ld%s%.200s)", resp.status,
                     resp.body != NULL ? ": " : "", resp.body != NULL ? resp.body : resp.error);
            lw_http_response_clean_up(&resp);
            return err;
        }
        lw_warn("the platform refused registration for %s (HTTP %ld %s); registering for %s "
                "instead",
                events_name(events), resp.status, type, events_name((unsigned)next));
        lw_http_response_clean_up(&resp);
        events = (unsigned)next;
    }
}

/* Sends event/next without waiting for its answer; false (said) when it cannot be sent. */
static bool send_next(struct daemon *d, const struct lw_lambda_request *next,
                      struct lw_http_response *resp)
{
    enum lw_err err = lw_http_loopback_send(&d->api, &next->http, resp);
    if (err != LW_OK) {
        lw_error("event/next could not be sent (%s: %s)", lw_err_str(err), resp->error);
        return false;
    }
    return true;
}

/*
 * The reading is taken right after event/next has gone out again: the runtime has been
 * released too and is already running the next invocation, so every microsecond here is a
 * microsecond of it that could blur the previous invocation's end reading. Resetting the
 * high-water mark at a SHUTDOWN as well is harmless.
 */
static enum lw_hwm_state take_reading(struct daemon *d, uint64_t *t)
{
    *t = now_ms();
    return lw_snapshot_take(d->procs, d->use_hwm, *t, self_cpu_us(), &d->snap);
}

/* The boundary: one snapshot closes the open record and opens the next one. */
static void boundary(struct daemon *d, const struct lw_lambda_event *ev, enum lw_hwm_state hwm,
                     uint64_t t, bool late)
{
    bool invoke = ev->kind == LW_EVENT_INVOKE;
    if (d->snap.n_procs_dropped > 0)
        lw_health_add(&d->health, LW_H_PROCS_DROPPED, d->snap.n_procs_dropped);

    if (d->have_open) {
        /* Closed in place: the ledger takes its own copy, and the next record is opened over
         * this one right after. */
        if (!invoke && !lw_snapshot_has_runtime(&d->snap)) {
            /* SHUTDOWN: the runtime got SIGTERM first and may be gone; say so, do not guess. */
            lw_record_close_missing(&d->open, &d->snap, t);
        } else {
            const uint64_t *sampled = NULL;
            enum lw_peak_method method = d->use_hwm ? LW_PEAK_HWM : LW_PEAK_SAMPLED;
            if (d->sampler != NULL)
                sampled = lw_sampler_swap(d->sampler, &d->snap);
            lw_record_close(&d->open, &d->snap, method, sampled);
        }
        lw_pipeline_add_record(d->pipeline, &d->open);
        d->have_open = false;
        if (d->exporter != NULL)
            lw_exporter_notify(d->exporter); /* thawed now: a good moment to send */
    }
    if (invoke) {
        if (hwm == LW_HWM_REFUSED && d->use_hwm && d->cfg.peak_mode == LW_PEAK_MODE_AUTO) {
            lw_warn("the kernel refused clear_refs; peaks now come from a sampler every %u ms",
                    d->cfg.sampler_interval_ms);
            d->use_hwm = false;
            d->sampler = lw_sampler_start(d->procs, d->cfg.sampler_interval_ms);
        }
        d->invocations++;
        lw_record_open(&d->open, &d->snap, ev->request_id, d->env_id, d->invocations,
                       d->invocations == 1, ev->deadline_ms, d->cfg.memory_limit_bytes);
        if (late)
            d->open.gaps |= LW_GAP_START_READING;
        if (d->sampler != NULL)
            lw_sampler_track(d->sampler, &d->snap);
        d->have_open = true;
    }
}

static int shutdown_now(struct daemon *d, const struct lw_lambda_event *ev)
{
    say_sigterm();
    uint64_t t = now_ms();
    uint64_t deadline =
        ev->deadline_ms > SHUTDOWN_MARGIN_MS ? ev->deadline_ms - SHUTDOWN_MARGIN_MS : t + 1000;
    if (d->sampler != NULL) {
        lw_sampler_stop(d->sampler);
        d->sampler = NULL;
    }
    lw_pipeline_shutdown(d->pipeline, lw_shutdown_reason_name(ev->shutdown_reason), d->invocations,
                         t, deadline);
    if (d->exporter != NULL)
        lw_exporter_flush(d->exporter, deadline);
    if (d->listener != NULL)
        lw_telemetry_listener_stop(d->listener);
    lw_info("shutdown (%s) after %llu invocations, flushed in %llu ms",
            lw_shutdown_reason_name(ev->shutdown_reason), (unsigned long long)d->invocations,
            (unsigned long long)(now_ms() - t));
    return 0;
}

static int run(struct daemon *d)
{
    lw_config_load(&d->cfg, lw_config_process_env, NULL);
    lw_log_set_level(d->cfg.log_level);
    for (size_t i = 0; i < d->cfg.n_warnings; i++)
        lw_warn("%s", d->cfg.warnings[i]);
    d->start_ms = now_ms();
    make_env_id(d->env_id, sizeof(d->env_id));

    if (d->cfg.runtime_api[0] == '\0') {
        lw_error("AWS_LAMBDA_RUNTIME_API is not set: leakwatch runs only as a Lambda extension");
        return 1;
    }
    if (lw_http_loopback_transport_init(&d->api) != LW_OK) {
        lw_error("HTTP client could not be initialised");
        return 1;
    }
    /* Register first: Lambda starts the runtime only once every extension has registered. */
    if (do_register(d) != LW_OK)
        return 1;

    struct lw_processes_config pc = {
        .proc_root = "/proc",
        .init_pid = (int32_t)getppid(),
        .self_pid = (int32_t)getpid(),
        .extensions_dir = d->cfg.extensions_dir,
    };
    d->procs = lw_processes_new(&pc);
    if (d->procs == NULL) {
        report_error(d, true, "Extension.OutOfMemory", "cannot allocate the process table");
        return 1;
    }
    d->use_hwm = d->cfg.peak_mode != LW_PEAK_MODE_SAMPLED;
    if (!d->use_hwm)
        d->sampler = lw_sampler_start(d->procs, d->cfg.sampler_interval_ms);

    if (d->cfg.exports & LW_EXPORT_OTLP)
        start_exporter(d);
    bool telemetry = false;
    struct lw_pipeline_config plc = {
        .config = &d->cfg,
        .exporter = d->exporter,
        .out_fd = STDOUT_FILENO,
        .env_id = d->env_id,
        .process_start_ms = d->start_ms,
    };
    /* The pipeline must exist before the listener can hand it a batch. */
    plc.telemetry_expected = d->cfg.telemetry;
    d->pipeline = lw_pipeline_new(&plc, &d->health);
    if (d->pipeline == NULL) {
        report_error(d, true, "Extension.OutOfMemory", "cannot start the pipeline");
        return 1;
    }
    if (d->cfg.telemetry) {
        telemetry = start_telemetry(d);
        if (!telemetry)
            lw_pipeline_set_telemetry_expected(d->pipeline, false);
    }
    lw_info("ready: environment %s, function %s, %s mode, memory limit %llu MB, peak by %s%s",
            d->env_id, d->cfg.function_name, lw_mode_name(d->cfg.mode),
            (unsigned long long)(d->cfg.memory_limit_bytes >> 20),
            d->use_hwm ? "clear_refs+VmHWM" : "sampling", telemetry ? ", telemetry on" : "");
    if (!(d->events & LW_REGISTER_INVOKE))
        lw_warn("no INVOKE events from this platform: per-invocation readings are off");

    /*
     * event/next goes out again the moment an INVOKE is in hand, before the reading: Lambda
     * ends an invocation only when every extension waits in event/next, so leakwatch's own
     * work never lengthens one, however short. The reading follows; if the invocation was
     * over before it was complete (the next event is already there), the record says so.
     */
    struct lw_lambda_request next;
    struct lw_http_response resp;
    if (lw_lambda_next_request(&next, d->cfg.runtime_api, d->extension_id) != LW_OK ||
        !send_next(d, &next, &resp))
        return 1;
    for (;;) {
        enum lw_err err = lw_http_loopback_receive(&d->api, &next.http, &resp);
        if (err == LW_OK && (resp.status < 200 || resp.status > 299))
            err = LW_ERR_HTTP;
        if (err != LW_OK) {
            /* 500 means the environment is going away; anything else is unexpected. Either
             * way leakwatch cannot go on, and exiting is what the API asks for. */
            lw_error("event/next failed (HTTP %ld%s%.200s)", resp.status,
                     resp.body != NULL ? ": " : "", resp.body != NULL ? resp.body : resp.error);
            lw_http_response_clean_up(&resp);
            return 1;
        }
        struct lw_lambda_event ev;
        lw_json_arena_enter(&d->event_json);
        err = lw_lambda_parse_event(resp.body, resp.body_len, &ev);
        lw_json_arena_leave(&d->event_json);
        lw_http_response_clean_up(&resp);
        if (err != LW_OK) {
            lw_warn("unreadable event from event/next ignored (%s)", lw_err_str(err));
            if (!send_next(d, &next, &resp))
                return 1;
            continue;
        }
        bool invoke = ev.kind == LW_EVENT_INVOKE;
        if (invoke && !send_next(d, &next, &resp))
            return 1;
        uint64_t t;
        uint64_t began_ms = mono_ms();
        enum lw_hwm_state hwm = take_reading(d, &t);
        /* An answer already waiting means the invocation ended during the reading; a reading
         * that took far longer than it does (a freeze or a long stall in the middle) may have
         * finished after the invocation, with the next event still to come. */
        bool late = invoke &&
                    (lw_http_loopback_answered(&d->api) || mono_ms() - began_ms > LATE_READING_MS);
        boundary(d, &ev, hwm, t, late);
        say_sigterm();
        if (!invoke)
            return shutdown_now(d, &ev);
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
    /* A closed pipe must not kill the extension (and with it the environment), nor a SIGTERM.
     * SA_RESTART: the blocked event/next is not interrupted. */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigterm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    lw_json_arena_install(); /* before any thread uses cJSON */
    static struct daemon d;
    lw_json_arena_init(&d.event_json, EVENT_ARENA_BYTES);
    int rc = run(&d);
    /* Exit without tearing down threads that may be blocked on a frozen peer. */
    fflush(stdout);
#ifdef LW_ASAN
    if (!traced())
        __lsan_do_leak_check();
#endif
    _exit(rc);
}
