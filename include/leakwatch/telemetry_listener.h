/*
 * The Telemetry API listener: a small HTTP/1.1 server on its own thread that receives the
 * platform's POSTs of event batches and hands each body to a callback.
 *
 * Lambda connects from inside the sandbox to the subscribed URI (sandbox.localdomain:<port>),
 * may keep a connection alive across invocations and may open more than one; the listener polls
 * a small bounded set of connections. Nothing here depends on a timer: between invocations the
 * environment is frozen and idle connections simply wait.
 */
#ifndef LEAKWATCH_TELEMETRY_LISTENER_H
#define LEAKWATCH_TELEMETRY_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/health.h>

#define LW_TELEMETRY_MAX_CONNECTIONS 8

struct lw_telemetry_listener_config {
    const char *bind_address; /* dotted IPv4; NULL → "0.0.0.0" (tests use "127.0.0.1") */
    uint16_t port;            /* 0 → ephemeral; when taken, falls back to an ephemeral port */
    const char *path;         /* the only path accepted; NULL → "/" */
    size_t max_body_bytes;    /* 0 → LW_TELEMETRY_HTTP_BODY_DEFAULT_BYTES; capped */
    unsigned max_connections; /* 0 → LW_TELEMETRY_MAX_CONNECTIONS; capped there */
};

/* Defaults: 0.0.0.0, LW_TELEMETRY_DEFAULT_PORT (limits.h), "/", default body cap, 8
 * connections. */
void lw_telemetry_listener_config_init(struct lw_telemetry_listener_config *cfg);

struct lw_telemetry_listener;

/*
 * Bind, listen and start the thread. The socket accepts connections before this returns, so the
 * subscription may follow at once. on_body is called on the listener's thread with each complete
 * body (not NUL-terminated, valid only during the call); the 200 answer is sent after it returns,
 * so it should be quick (parse and hand over). Rejected requests (malformed, wrong path or
 * method, over a cap) get their status, close the connection and count LW_H_TELEMETRY_REJECTED.
 * cfg's strings are copied. Returns NULL and sets *err (LW_ERR_IO, LW_ERR_NOMEM, LW_ERR_INVALID)
 * on failure, logged once here.
 */
struct lw_telemetry_listener *
lw_telemetry_listener_start(const struct lw_telemetry_listener_config *cfg,
                            void (*on_body)(void *ctx, const char *body, size_t len), void *ctx,
                            struct lw_health *health, enum lw_err *err);

/* The port actually bound (the configured one, or the fallback). Put it in the subscription. */
uint16_t lw_telemetry_listener_port(const struct lw_telemetry_listener *listener);

/*
 * Stop the thread, close every connection and free the listener. Bounded: the thread is woken
 * through a pipe; the longest wait is an in-flight on_body call or a 1 s send timeout.
 * NULL is a no-op.
 */
void lw_telemetry_listener_stop(struct lw_telemetry_listener *listener);

#endif
