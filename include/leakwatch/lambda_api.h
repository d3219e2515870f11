/*
 * The Extensions API and the Telemetry API subscription, as values: pure functions build each
 * request (method, URL, headers, body) and parse each response; one transport executes them
 * (<leakwatch/http.h>). Nothing here touches a socket.
 */
#ifndef LEAKWATCH_LAMBDA_API_H
#define LEAKWATCH_LAMBDA_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/http.h>
#include <leakwatch/record.h>

/* The name sent at register. It must equal the file name in /opt/extensions, so it is compiled
 * in: under a launcher layer's loader, argv[0] and /proc/self/exe name the loader, not the
 * extension. */
#define LW_EXTENSION_NAME "leakwatch"

#define LW_URL_MAX 512
#define LW_EXTENSION_ID_MAX LW_HTTP_HEADER_VALUE_MAX
#define LW_SUBSCRIBE_BODY_MAX 512

/* Storage a request value points into; lives as long as the request. */
struct lw_lambda_request {
    struct lw_http_request http;
    char url[LW_URL_MAX];
    char body[LW_SUBSCRIBE_BODY_MAX];
};

/* The events an extension registers for, bit flags. */
enum lw_register_events {
    LW_REGISTER_INVOKE = 1u << 0,
    LW_REGISTER_SHUTDOWN = 1u << 1,
};

/* POST /2020-01-01/extension/register for the given events (0: none). */
enum lw_err lw_lambda_register_request(struct lw_lambda_request *r, const char *runtime_api,
                                       unsigned events);

/*
 * What to register for after a refusal, or -1 to give up. Lambda Managed Instances refuse
 * INVOKE for extensions (403 Extension.InvalidEventType, and the extension may register again);
 * an extension that exits then fails the function's init. So after a 400 or 403 the events
 * are dropped one by one and registration tried again: INVOKE+SHUTDOWN, then SHUTDOWN, then no
 * events at all. That holds for any errorType, an unknown or missing one included: a platform
 * may refuse an event type in words of its own. Only a 5xx (the API's "exit promptly"), a
 * closed registration and too many extensions cannot be helped by trying again. error_type is
 * the refusal's errorType ("" when unknown).
 */
int lw_lambda_register_fallback(unsigned events, long status, const char *error_type);

/* The errorType of an API error body ({"errorMessage":..., "errorType":...}); "" if none. */
void lw_lambda_parse_error_type(const char *body, size_t len, char *out, size_t cap);

/* GET /2020-01-01/extension/event/next: a long poll with no total timeout (the environment
 * freezes inside it). */
enum lw_err lw_lambda_next_request(struct lw_lambda_request *r, const char *runtime_api,
                                   const char *extension_id);

/* POST /2020-01-01/extension/{init,exit}/error with Lambda-Extension-Function-Error-Type. */
enum lw_err lw_lambda_error_request(struct lw_lambda_request *r, const char *runtime_api,
                                    const char *extension_id, bool at_init, const char *error_type,
                                    const char *message);

/*
 * Telemetry API subscription: PUT /2022-07-01/telemetry, platform events, with the newest
 * schema first. Lambda Managed Instances accept only 2025-01-29; an older platform (or an
 * emulator) may refuse it with a 400, and then 2022-12-13 is tried once.
 */
#define LW_TELEMETRY_SCHEMA "2025-01-29"
#define LW_TELEMETRY_SCHEMA_FALLBACK "2022-12-13"
struct lw_subscription {
    const char *schema; /* LW_TELEMETRY_SCHEMA or LW_TELEMETRY_SCHEMA_FALLBACK; NULL: newest */
    uint16_t port;      /* where the listener accepts: http://sandbox.localdomain:<port><path> */
    uint32_t max_items;
    uint32_t max_bytes;
    uint32_t timeout_ms;
    /* The listener's path: "/" and its secret, which keeps everything else in the sandbox from
     * posting as Lambda. NULL: "/". Only "/" and unreserved characters (RFC 3986). */
    const char *path;
};
enum lw_err lw_lambda_subscribe_request(struct lw_lambda_request *r, const char *runtime_api,
                                        const char *extension_id,
                                        const struct lw_subscription *sub);

/* The register response body. */
struct lw_register_info {
    char function_name[128];
    char function_version[64];
    char handler[128];
};
enum lw_err lw_lambda_parse_register(const char *body, size_t len, struct lw_register_info *out);

enum lw_event_kind { LW_EVENT_INVOKE = 1, LW_EVENT_SHUTDOWN };

/*
 * leakwatch's category of a SHUTDOWN reason. Lambda documents spindown, timeout and failure
 * (written in capitals, sent in lowercase); emulators and other platforms send other words
 * (AWS's Runtime Interface Emulator: "SandboxTerminated" when it is stopped with SIGTERM or
 * SIGINT). Anything unknown is counted as a failure, and the reason as received is kept next
 * to the category (lw_lambda_event.shutdown_reason_raw).
 */
enum lw_shutdown_reason {
    LW_SHUTDOWN_SPINDOWN = 0,
    LW_SHUTDOWN_TIMEOUT,
    LW_SHUTDOWN_FAILURE, /* also any reason leakwatch does not know */
};

/* "spindown", "timeout", "failure". */
const char *lw_shutdown_reason_name(enum lw_shutdown_reason reason);

/* The SHUTDOWN reason as received is kept up to this many bytes (NUL included), cut at a
 * UTF-8 character. */
#define LW_SHUTDOWN_REASON_MAX 64

/* An event/next response body. */
struct lw_lambda_event {
    enum lw_event_kind kind;
    uint64_t deadline_ms; /* Unix epoch ms */
    char request_id[LW_REQUEST_ID_MAX];
    char invoked_function_arn[256];
    enum lw_shutdown_reason shutdown_reason;
    char shutdown_reason_raw[LW_SHUTDOWN_REASON_MAX]; /* as received; "" when absent */
};
enum lw_err lw_lambda_parse_event(const char *body, size_t len, struct lw_lambda_event *out);

#endif
