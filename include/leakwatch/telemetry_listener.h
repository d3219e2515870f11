/*
 * The Telemetry API listener: a small HTTP/1.1 server on its own thread that receives the
 * platform's POSTs of event batches and hands each body to a callback.
 *
 * Lambda connects from inside the sandbox to the subscribed URI (sandbox.localdomain:<port>),
 * may keep a connection alive across invocations and may open more than one; the listener polls
 * a small bounded set of connections. Nothing depends on a timer firing between invocations:
 * the environment is frozen then, and an idle connection simply waits.
 *
 * Everything else in the sandbox can reach the port too: the function (which runs user input)
 * and other vendors' extensions. So the listener
 *  - binds the address sandbox.localdomain has in /etc/hosts (127.0.0.1 where it has none),
 *    never a wildcard, so that nothing off the machine can reach it;
 *  - accepts only an unguessable path (128 random bits, compared in constant time), which only
 *    the subscription carries: a peer that does not know it gets 404 and is closed;
 *  - never blocks on a peer: answers are written without waiting, and a peer that does not read
 *    its answer is closed; a connection with a request buffered is not read further until it is
 *    answered, and serves at most LW_TELEMETRY_MAX_REQUESTS_PER_CONNECTION requests;
 *  - keeps its slots for the platform: a connection proves itself by sending a request head with
 *    the right path, and only connections that have not may be pushed out by newer ones or timed
 *    out for idling; a connection that has proven itself is never pushed out mid-request;
 *  - at SHUTDOWN lets the caller wait for its thread no longer than the deadline.
 */
#ifndef LEAKWATCH_TELEMETRY_LISTENER_H
#define LEAKWATCH_TELEMETRY_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/clock.h>
#include <leakwatch/err.h>
#include <leakwatch/health.h>

#define LW_TELEMETRY_MAX_CONNECTIONS 8
/* After this many answers on one connection the answer says "Connection: close". */
#define LW_TELEMETRY_MAX_REQUESTS_PER_CONNECTION 1000u
/* Its length: "/" and 32 hex digits, 128 bits from getrandom(). */
#define LW_TELEMETRY_SECRET_PATH_BYTES 33
/* The name Lambda delivers to, and the address used where the hosts file does not name it. */
#define LW_TELEMETRY_SANDBOX_HOST "sandbox.localdomain"
#define LW_TELEMETRY_FALLBACK_ADDRESS "127.0.0.1"

struct lw_telemetry_listener_config {
    /* An IPv4 or IPv6 address; NULL: the one hosts_path gives LW_TELEMETRY_SANDBOX_HOST, else
     * LW_TELEMETRY_FALLBACK_ADDRESS. A wildcard (0.0.0.0, ::) is refused (LW_ERR_INVALID). */
    const char *bind_address;
    const char *hosts_path; /* NULL: "/etc/hosts" */
    uint16_t port;          /* 0 → ephemeral; when taken, falls back to an ephemeral port */
    /* The only path accepted. NULL (the default): an unguessable one made at start, read with
     * lw_telemetry_listener_path(). Tests may fix one. */
    const char *path;
    size_t max_body_bytes;    /* 0 → LW_TELEMETRY_HTTP_BODY_DEFAULT_BYTES; capped */
    unsigned max_connections; /* 0 → LW_TELEMETRY_MAX_CONNECTIONS; capped there */
    /*
     * How long a connection may go without a request head with the right path (from its
     * accept), and how long one that has proven itself may stall in the middle of a request,
     * both in ms of listener time (time the environment was frozen does not count). 0 → the
     * defaults, 2000 and 10000.
     */
    uint32_t unproven_timeout_ms;
    uint32_t stall_timeout_ms;
    /* TCP_DEFER_ACCEPT, in seconds: a connection is accepted once its first bytes are in (one
     * wake-up per batch, not a connect and then a read), and one that has sent nothing stays
     * in the kernel's queue that long before it is handed over to be judged as any other.
     * 0 → 1 s; a negative value: off, connections accepted at the handshake. */
    int defer_accept_s;
    const struct lw_clock *clock; /* NULL: the system clock */
    /* No thread of its own: the caller serves it with lw_telemetry_listener_serve_until(),
     * until lw_telemetry_listener_start_thread() gives it one. */
    bool on_caller_thread;
};

/* Defaults: the address from /etc/hosts, LW_TELEMETRY_DEFAULT_PORT (limits.h), a secret path,
 * default body cap, 8 connections, default timeouts. */
void lw_telemetry_listener_config_init(struct lw_telemetry_listener_config *cfg);

struct lw_telemetry_listener;

/*
 * Bind, listen and start the thread. The socket accepts connections before this returns, so the
 * subscription may follow at once. on_body is called on the listener's thread with each complete
 * body (not NUL-terminated, valid only during the call); the 200 answer is sent after it returns,
 * so it should be quick (parse and hand over). Rejected requests (malformed, wrong path or
 * method, over a cap) get their status, close the connection and count LW_H_TELEMETRY_REJECTED;
 * connections closed for stalling count LW_H_TELEMETRY_CONNECTIONS_DROPPED. cfg's strings are
 * copied. Returns NULL and sets *err (LW_ERR_IO, LW_ERR_NOMEM, LW_ERR_INVALID) on failure,
 * logged once here. The secret path is never logged.
 */
struct lw_telemetry_listener *
lw_telemetry_listener_start(const struct lw_telemetry_listener_config *cfg,
                            void (*on_body)(void *ctx, const char *body, size_t len), void *ctx,
                            struct lw_health *health, enum lw_err *err);

/* The port actually bound (the configured one, or the fallback). Put it in the subscription. */
/*
 * On the caller's thread (on_caller_thread): serves the listener until fd is readable (or has
 * an error or hang-up for its reader to find), in one poll() over fd and the listener's
 * sockets. fd comes first: once it is readable this returns without serving the listener in
 * that turn, and what the listener had waiting gets one turn at the start of the next call,
 * even if fd is readable again by then. LW_ERR_IO when poll() fails.
 */
enum lw_err lw_telemetry_listener_serve_until(struct lw_telemetry_listener *listener, int fd);

/* A thread of its own from now on (the caller stops serving it); LW_OK if it already has one. */
enum lw_err lw_telemetry_listener_start_thread(struct lw_telemetry_listener *listener);

uint16_t lw_telemetry_listener_port(const struct lw_telemetry_listener *listener);

/* The path accepted ("/" and the secret), for the subscription's URI. A secret: never log it. */
const char *lw_telemetry_listener_path(const struct lw_telemetry_listener *listener);

/* The address bound, as text ("127.0.0.1"). */
const char *lw_telemetry_listener_address(const struct lw_telemetry_listener *listener);

/*
 * Stop the thread, close every connection and free the listener. The thread is woken through a
 * pipe and never blocks on a peer; its longest task is one on_body call. It is waited for until
 * deadline_ms (Unix epoch ms, on the listener's clock); if it has not finished by then it is left
 * running and the listener is not freed (the process is about to exit). NULL is a no-op.
 */
void lw_telemetry_listener_stop_by(struct lw_telemetry_listener *listener, uint64_t deadline_ms);

/* lw_telemetry_listener_stop_by() with a deadline one second from now. */
void lw_telemetry_listener_stop(struct lw_telemetry_listener *listener);

#endif
