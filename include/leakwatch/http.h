/*
 * The HTTP client seam. Every request leakwatch makes (Extensions API, Telemetry API subscribe,
 * OTLP export) is built as a plain value and executed by a transport: the loopback transport for
 * the local Lambda APIs, the libcurl transport for OTLP export; tests pass a fake with the same
 * vtable.
 */
#ifndef LEAKWATCH_HTTP_H
#define LEAKWATCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>

#define LW_HTTP_MAX_HEADERS 16
#define LW_HTTP_MAX_WANTED_HEADERS 4
#define LW_HTTP_HEADER_VALUE_MAX 256

struct lw_http_header {
    const char *name;
    const char *value;
};

/* A request as a value. Nothing here is owned by the request. */
struct lw_http_request {
    const char *method; /* "GET", "POST", "PUT" */
    const char *url;
    struct lw_http_header headers[LW_HTTP_MAX_HEADERS];
    size_t n_headers;
    const void *body; /* may be NULL */
    size_t body_len;
    uint32_t connect_timeout_ms; /* 0: the transport's default */
    uint32_t total_timeout_ms;   /* 0: no total timeout (the Extensions API event/next long poll) */
    bool gzip_body;              /* compress the body and send Content-Encoding: gzip */
    bool no_proxy;               /* bypass any configured proxy (local Lambda APIs) */
    /* response headers the caller wants back (case-insensitive names), e.g. Retry-After */
    const char *want_headers[LW_HTTP_MAX_WANTED_HEADERS];
    size_t n_want_headers;
    size_t max_response_bytes; /* response bodies above this are truncated and flagged */
};

/* A response. body is owned by the response: release it with lw_http_response_clean_up(). */
struct lw_http_response {
    long status; /* 0 when no response was received */
    char *body;  /* NUL-terminated, may be NULL */
    size_t body_len;
    bool body_truncated;
    /* values of request.want_headers, in the same order; "" when absent */
    char header_values[LW_HTTP_MAX_WANTED_HEADERS][LW_HTTP_HEADER_VALUE_MAX];
    char error[128]; /* transport error text when status == 0 */
};

void lw_http_response_clean_up(struct lw_http_response *resp);

/* Appends a header to a request; returns LW_ERR_FULL when LW_HTTP_MAX_HEADERS are set. */
enum lw_err lw_http_request_add_header(struct lw_http_request *req, const char *name,
                                       const char *value);

/*
 * The transport vtable. perform() executes req and fills resp (status 0 and LW_ERR_HTTP or
 * LW_ERR_TIMEOUT when no HTTP response arrived). A transport is used by one thread at a time.
 */
struct lw_http_transport {
    enum lw_err (*perform)(void *ctx, const struct lw_http_request *req,
                           struct lw_http_response *resp);
    void (*destroy)(void *ctx);
    void *ctx;
};

/*
 * The loopback transport (http_loopback.c): plain HTTP/1.1 to http://host:port URLs over one
 * keep-alive connection, no TLS, no proxy, no gzip_body. For the Extensions and Telemetry APIs:
 * it loads no library and makes no allocation per request beyond the response body.
 */
enum lw_err lw_http_loopback_transport_init(struct lw_http_transport *t);

/*
 * perform() in two halves, for a request whose answer comes much later (the event/next long
 * poll): send it now, and receive its response later, on the same loopback transport t, with
 * the same req (it must stay valid in between). lw_http_loopback_answered() says, without
 * waiting, whether some of the response has arrived. LW_ERR_INVALID when t is not a loopback
 * transport or nothing was sent.
 */
enum lw_err lw_http_loopback_send(struct lw_http_transport *t, const struct lw_http_request *req,
                                  struct lw_http_response *resp);
enum lw_err lw_http_loopback_receive(struct lw_http_transport *t, const struct lw_http_request *req,
                                     struct lw_http_response *resp);
bool lw_http_loopback_answered(const struct lw_http_transport *t);
/* The socket of the request in flight, to wait on with other work (-1: none, or not loopback). */
int lw_http_loopback_fd(const struct lw_http_transport *t);

/*
 * The libcurl transport: one reusable easy handle (keep-alive), TCP_NODELAY, CA bundle from
 * the first existing file of a list of known paths (Amazon Linux keeps it elsewhere than Debian)
 * unless ca_file is given. libcurl itself is loaded (dlopen) at the first request, once per
 * process; a request made when it cannot be loaded fails with the reason in resp->error.
 * lw_http_global_init() loads it up front and says whether that worked.
 */
enum lw_err lw_http_global_init(void);
enum lw_err lw_http_curl_transport_init(struct lw_http_transport *t, const char *ca_file);

#endif
