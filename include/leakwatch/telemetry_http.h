/*
 * The Telemetry API listener's HTTP/1.1 request parser: pure, allocation-free and incremental
 * (the shape of picohttpparser). The caller keeps the bytes received so far in one buffer and
 * calls lw_telemetry_http_parse_head() again whenever more arrive; the parser tells "need more
 * bytes" from "bad input" and, once the head is complete, how long it was and what it said.
 * Nothing is stored between calls; every pointer in the result points into the caller's buffer.
 *
 * What Lambda sends: a POST of a JSON array to the subscribed URI, with Content-Length (the
 * platform's Go HTTP client sends a known-length body). Chunked bodies are accepted anyway,
 * through the in-place decoder below, so a platform change would not silently lose telemetry;
 * any other transfer coding is answered 501 and a body of unknown length 411.
 */
#ifndef LEAKWATCH_TELEMETRY_HTTP_H
#define LEAKWATCH_TELEMETRY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/limits.h>

#define LW_TELEMETRY_HTTP_HEAD_MAX_BYTES 8192 /* request line + headers + blank line */
#define LW_TELEMETRY_HTTP_MAX_HEADERS 64
/*
 * Lambda advises a receive buffer of 2 x maxBytes + metadata (LW_TELEMETRY_RECEIVE_BYTES); the
 * default body cap is the one for the largest maxBytes (2 MiB + 64 KiB), and no configuration
 * may go above 4 MiB.
 */
#define LW_TELEMETRY_HTTP_BODY_DEFAULT_BYTES LW_TELEMETRY_RECEIVE_BYTES(LW_TELEMETRY_MAX_BYTES_MAX)
#define LW_TELEMETRY_HTTP_BODY_CAP_BYTES ((size_t)4 * 1024 * 1024)

enum lw_telemetry_http_method {
    LW_TELEMETRY_HTTP_OTHER = 0,
    LW_TELEMETRY_HTTP_POST,
    LW_TELEMETRY_HTTP_PUT,
    LW_TELEMETRY_HTTP_GET,
    LW_TELEMETRY_HTTP_HEAD,
};

/* What the parser enforces. Initialise with lw_telemetry_http_limits_init(). */
struct lw_telemetry_http_limits {
    /* the one accepted path, e.g. "/" (query strings are ignored); compared in constant time,
     * since the listener's is a secret */
    const char *path;
    size_t max_head_bytes; /* <= LW_TELEMETRY_HTTP_HEAD_MAX_BYTES */
    size_t max_headers;    /* <= LW_TELEMETRY_HTTP_MAX_HEADERS */
    size_t max_body_bytes; /* <= LW_TELEMETRY_HTTP_BODY_CAP_BYTES */
};

/* A parsed request head. Pointers point into the buffer passed to the parser. */
struct lw_telemetry_http_request {
    enum lw_telemetry_http_method method;
    const char *path; /* request target as sent, not NUL-terminated */
    size_t path_len;
    int minor_version; /* HTTP/1.<minor_version> */
    size_t head_bytes; /* bytes of the head, blank line included: the body starts here */
    bool have_content_length;
    uint64_t content_length;
    bool chunked;         /* Transfer-Encoding: chunked; decode with lw_telemetry_http_chunked_* */
    bool keep_alive;      /* HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with keep-alive */
    bool expect_continue; /* "Expect: 100-continue": send "100 Continue" before reading the body */
    /*
     * The status to answer: 0 while the parse is incomplete or the request is acceptable, else
     * 400, 404, 405, 411, 413, 417, 431, 501 or 505. A rejected request's connection is closed.
     */
    int status;
};

/* Defaults: path "/", 8 KiB head, 64 headers, LW_TELEMETRY_HTTP_BODY_DEFAULT_BYTES body. */
void lw_telemetry_http_limits_init(struct lw_telemetry_http_limits *limits);

/*
 * Parse the request head at the start of buf[0..len).
 * Returns LW_OK when the head is complete and acceptable (req->head_bytes says where the body
 * starts; req->status is 0); LW_ERR_NEED_MORE when every byte so far is valid but the head is
 * not finished; LW_ERR_INVALID when the request must be rejected (req->status says with what:
 * malformed, wrong path or method, unsupported version or coding); LW_ERR_TOO_LARGE when a cap is
 * exceeded (431 for the head, 413 for the body). Bytes after the head are not looked at.
 */
enum lw_err lw_telemetry_http_parse_head(const char *buf, size_t len,
                                         const struct lw_telemetry_http_limits *limits,
                                         struct lw_telemetry_http_request *req);

/* The reason phrase of a status this module produces ("Bad Request", ...); "Unknown" else. */
const char *lw_telemetry_http_reason(int status);

/*
 * Incremental, in-place decoder of a chunked body. Feed the raw bytes that follow the head, in
 * any pieces: each call decodes buf[0..len) and writes the data bytes to the front of the same
 * buffer (output never overtakes input). Chunk extensions and trailers are skipped (bounded).
 */
struct lw_telemetry_http_chunked {
    int state;
    uint64_t chunk_left;  /* data bytes left in the current chunk */
    uint64_t total_bytes; /* decoded so far, across calls */
    size_t line_bytes;    /* bytes of the current size/extension/trailer line */
    size_t max_body_bytes;
};

void lw_telemetry_http_chunked_init(struct lw_telemetry_http_chunked *d, size_t max_body_bytes);

/*
 * Decode buf[0..len). On return *out_len data bytes sit at buf[0..*out_len) and *consumed raw
 * bytes were used. LW_OK: the body is complete (the last chunk and trailers are read); the raw
 * bytes from buf + *consumed on belong to the next request. LW_ERR_NEED_MORE: all of len was
 * consumed, feed more. LW_ERR_INVALID: malformed (answer 400). LW_ERR_TOO_LARGE: the decoded body
 * or a size/trailer line exceeds its cap (answer 413).
 */
enum lw_err lw_telemetry_http_chunked_decode(struct lw_telemetry_http_chunked *d, char *buf,
                                             size_t len, size_t *out_len, size_t *consumed);

#endif
