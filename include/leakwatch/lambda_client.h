/*
 * The conversations with the Extensions API at init, over the transport seam of
 * <leakwatch/http.h>: registering for what the platform allows, and subscribing to the Telemetry
 * API with the newest schema it accepts. Each refusal that a second try can survive gets one, with
 * one log line: leakwatch never fails a function's init for something it can do without.
 */
#ifndef LEAKWATCH_LAMBDA_CLIENT_H
#define LEAKWATCH_LAMBDA_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <leakwatch/config.h>
#include <leakwatch/err.h>
#include <leakwatch/http.h>
#include <leakwatch/json_arena.h>
#include <leakwatch/lambda_api.h>
#include <leakwatch/telemetry_listener.h>

struct lw_registration {
    char extension_id[LW_EXTENSION_ID_MAX];
    unsigned events; /* LW_REGISTER_*: what the platform accepted */
    struct lw_register_info info;
};

/*
 * Registers: for SHUTDOWN only on Managed Instances (mode), for INVOKE and SHUTDOWN elsewhere,
 * dropping an event type the platform refuses (lw_lambda_register_fallback) until it accepts.
 * LW_ERR_HTTP (logged) when no registration was accepted.
 */
enum lw_err lw_lambda_client_register(struct lw_http_transport *api, const char *runtime_api,
                                      enum lw_mode mode, struct lw_registration *out);

/*
 * Subscribes to the Telemetry API (sub->schema is ignored): with LW_TELEMETRY_SCHEMA, then once
 * with LW_TELEMETRY_SCHEMA_FALLBACK when that is refused with a 400. On success *schema is the
 * schema accepted. Any other answer than 200 is a refusal (logged; LW_ERR_HTTP): a local
 * emulator's 202 "Telemetry.NotSupported" included.
 */
enum lw_err lw_lambda_client_subscribe(struct lw_http_transport *api, const char *runtime_api,
                                       const char *extension_id, struct lw_subscription sub,
                                       const char **schema);

/*
 * Starts the telemetry listener (on cfg->telemetry_port, or a free port when that one is
 * taken) and subscribes it with lw_lambda_client_subscribe(). Each batch body goes to
 * on_batch(ctx, ...) on the listener's thread. NULL (said) when either fails: leakwatch then
 * goes on with /proc figures alone.
 */
/* The listener runs on the caller's thread (lw_telemetry_listener_serve_until) until it is given
 * its own (lw_telemetry_listener_start_thread). */
struct lw_telemetry_listener *lw_lambda_client_start_telemetry(
    struct lw_http_transport *api, const struct lw_config *cfg, const char *extension_id,
    void (*on_batch)(void *ctx, const char *body, size_t len), void *ctx, struct lw_health *health);

/*
 * The event loop's side of the Extensions API, on a loopback transport: event/next as a long
 * poll whose request can go out before its answer is read.
 */
struct lw_lambda_events {
    struct lw_http_transport *api; /* a loopback transport, borrowed */
    struct lw_lambda_request next;
    bool pending;               /* event/next sent, its answer not read yet */
    struct lw_json_arena arena; /* cJSON of each answer */
    /* NULL, or what waits until fd (event/next's socket) is readable, doing other work
     * meanwhile: the daemon serves the telemetry listener there, on the same thread. */
    enum lw_err (*wait)(void *ctx, int fd);
    void *wait_ctx;
};

enum lw_err lw_lambda_events_init(struct lw_lambda_events *e, struct lw_http_transport *api,
                                  const char *runtime_api, const char *extension_id);

/*
 * The next event: sends event/next unless lw_lambda_events_release() already did, and waits for
 * the answer (the environment may be frozen in between). An unreadable event is said and
 * skipped. LW_ERR_HTTP (said) when the platform answers anything but 2xx: a 500 means the
 * environment is going away, and the API asks the extension to exit either way.
 */
enum lw_err lw_lambda_events_next(struct lw_lambda_events *e, struct lw_lambda_event *ev);

/*
 * Sends event/next now, without reading its answer: the invocation is handed back before
 * leakwatch does any work for it (Lambda ends an invocation only when every extension waits in
 * event/next). The answer is read by the next lw_lambda_events_next().
 */
enum lw_err lw_lambda_events_release(struct lw_lambda_events *e);

/* The answer to the request released is already arriving: the invocation is over. */
bool lw_lambda_events_waiting(const struct lw_lambda_events *e);

#endif
