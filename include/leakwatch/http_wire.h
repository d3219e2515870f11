/*
 * HTTP/1.1 on the wire, as pure functions: the request head leakwatch sends to the local Lambda
 * APIs, and an incremental parser of the response (RFC 9112: status line, header fields,
 * Content-Length, chunked transfer coding, read-until-close). No sockets here: the loopback
 * transport (http_loopback.c) feeds it the bytes it reads, and the tests and the fuzzer feed it
 * plain buffers.
 */
#ifndef LEAKWATCH_HTTP_WIRE_H
#define LEAKWATCH_HTTP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/http.h>

#define LW_HTTP_WIRE_HOST_MAX 256
/* The response's status line and header fields together; more is refused (LW_ERR_TOO_LARGE). */
#define LW_HTTP_WIRE_HEAD_MAX (64u * 1024u)
/* One line of the head or one chunk-size line. */
#define LW_HTTP_WIRE_LINE_MAX 8192u

/* "http://HOST:PORT/PATH" split up. Only plain http: the local Lambda APIs speak nothing else. */
struct lw_http_url {
    char host[LW_HTTP_WIRE_HOST_MAX]; /* without brackets for an IPv6 literal */
    uint16_t port;                    /* 80 when the URL has none */
    const char *path;                 /* points into the URL; "/" when it has none */
};

/* LW_ERR_INVALID for anything but http://host[:port][/path] with a port in 1..65535. */
enum lw_err lw_http_url_parse(const char *url, struct lw_http_url *out);

/*
 * Writes the request head (request line, Host, User-Agent, the request's headers, Content-Length
 * when it has a body or is not a GET, the blank line) into out[0..cap) and sets *len. The body is
 * sent after it as is. LW_ERR_INVALID for a header with a line break or a bad name,
 * LW_ERR_TOO_LARGE when cap is too small.
 */
enum lw_err lw_http_wire_request(const struct lw_http_request *req, const struct lw_http_url *url,
                                 char *out, size_t cap, size_t *len);

enum lw_http_wire_state {
    LW_WIRE_STATUS_LINE,
    LW_WIRE_HEADER_LINE,
    LW_WIRE_BODY_LENGTH,
    LW_WIRE_BODY_UNTIL_CLOSE,
    LW_WIRE_CHUNK_SIZE,
    LW_WIRE_CHUNK_DATA,
    LW_WIRE_CHUNK_DATA_END,
    LW_WIRE_TRAILER,
    LW_WIRE_DONE,
};

/*
 * The response parser. lw_http_wire_parser_init() with the request (for its wanted headers and
 * its response cap) and the response to fill; lw_http_wire_feed() with each piece read; at end
 * of stream lw_http_wire_eof(). The body goes into resp->body (heap, NUL-terminated, capped at
 * max_body_bytes: the rest is read, discarded and flagged as truncated).
 */
/* lw_http_wire_parser_init sets every field but line (read only up to line_len). */
struct lw_http_wire_parser {
    enum lw_http_wire_state state;
    const struct lw_http_request *req;
    struct lw_http_response *resp;
    size_t max_body_bytes;
    char line[LW_HTTP_WIRE_LINE_MAX];
    size_t line_len;
    size_t head_bytes;
    uint64_t remaining; /* of the Content-Length body or of the current chunk */
    bool have_length;
    bool chunked;
    bool close;      /* the connection cannot be used again after this response */
    bool interim;    /* a 1xx response: its head is skipped, the real one follows */
    size_t body_cap; /* bytes allocated for resp->body */
    bool started;    /* some byte of the response arrived */
};

void lw_http_wire_parser_init(struct lw_http_wire_parser *p, const struct lw_http_request *req,
                              struct lw_http_response *resp);

/*
 * Consumes data[0..len). Returns LW_OK with *done set once the response is complete (*used: how
 * many bytes it took; the rest would belong to a next response), LW_ERR_INVALID for a malformed
 * response, LW_ERR_TOO_LARGE for an oversized head or line, LW_ERR_NOMEM. resp->error says which.
 */
enum lw_err lw_http_wire_feed(struct lw_http_wire_parser *p, const char *data, size_t len,
                              size_t *used, bool *done);

/* The peer closed the stream: completes a read-until-close body, otherwise LW_ERR_INVALID. */
enum lw_err lw_http_wire_eof(struct lw_http_wire_parser *p);

#endif
