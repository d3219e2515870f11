/*
 * libFuzzer target for the listener's HTTP parser and chunked decoder. The first input byte
 * picks the limits; the rest is a request as it would sit in the receive buffer. Besides the
 * sanitizers, the target checks the parser's contracts and aborts when one is broken.
 */
/* fuzz-seeds: tests/fuzz/corpus/telemetry_http */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/telemetry_http.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static void fuzz_chunked(const char *raw, size_t len, size_t max_body, size_t step)
{
    char *buf = malloc(len ? len : 1);
    check(buf != NULL);
    struct lw_telemetry_http_chunked d;
    lw_telemetry_http_chunked_init(&d, max_body);
    size_t decoded = 0, fed = 0;
    enum lw_err err = LW_ERR_NEED_MORE;
    while (fed < len && err == LW_ERR_NEED_MORE) {
        size_t n = len - fed < step ? len - fed : step;
        memcpy(buf + decoded, raw + fed, n);
        fed += n;
        size_t out = 0, used = 0;
        err = lw_telemetry_http_chunked_decode(&d, buf + decoded, n, &out, &used);
        check(out <= used && used <= n);
        if (err == LW_ERR_NEED_MORE)
            check(used == n);
        decoded += out;
        check(decoded <= max_body);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;

    struct lw_telemetry_http_limits limits;
    lw_telemetry_http_limits_init(&limits);
    if (mode & 1)
        limits.max_body_bytes = 64;
    if (mode & 2)
        limits.max_headers = 4;
    if (mode & 4)
        limits.max_head_bytes = 128;
    if (mode & 8)
        limits.path = "/0123456789abcdef0123456789abcdef"; /* a secret path's shape */

    /* An exact-size copy, so that any read past the end is caught. */
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);

    struct lw_telemetry_http_request req;
    enum lw_err err = lw_telemetry_http_parse_head(buf, size, &limits, &req);
    switch (err) {
    case LW_OK:
        check(req.status == 0);
        check(req.head_bytes > 0 && req.head_bytes <= size);
        check(req.path >= buf && req.path + req.path_len <= buf + size);
        check(req.method == LW_TELEMETRY_HTTP_POST || req.method == LW_TELEMETRY_HTTP_PUT);
        check(req.chunked != req.have_content_length);
        {
            /* only the configured path gets in (the listener's is its secret) */
            const char *q = memchr(req.path, '?', req.path_len);
            size_t plen = q != NULL ? (size_t)(q - req.path) : req.path_len;
            check(plen == strlen(limits.path) && memcmp(req.path, limits.path, plen) == 0);
        }
        check(!req.have_content_length || req.content_length <= limits.max_body_bytes);
        {
            /* Incremental: the head minus its last byte is incomplete, never an error. */
            struct lw_telemetry_http_request part;
            check(lw_telemetry_http_parse_head(buf, req.head_bytes - 1, &limits, &part) ==
                  LW_ERR_NEED_MORE);
            /* Extra bytes after the head change nothing. */
            check(lw_telemetry_http_parse_head(buf, req.head_bytes, &limits, &part) == LW_OK);
            check(part.head_bytes == req.head_bytes);
        }
        if (req.chunked)
            fuzz_chunked(buf + req.head_bytes, size - req.head_bytes, limits.max_body_bytes,
                         1 + (mode >> 4));
        break;
    case LW_ERR_NEED_MORE:
        check(req.status == 0);
        check(size < limits.max_head_bytes);
        break;
    case LW_ERR_INVALID:
        check(req.status == 400 || req.status == 404 || req.status == 405 || req.status == 411 ||
              req.status == 417 || req.status == 501 || req.status == 505);
        break;
    case LW_ERR_TOO_LARGE:
        check(req.status == 413 || req.status == 431);
        break;
    default:
        check(0);
    }
    /* The decoder on its own, whatever the head said. */
    fuzz_chunked(buf, size, (mode & 1) ? 64 : LW_TELEMETRY_HTTP_BODY_DEFAULT_BYTES,
                 1 + (mode >> 4));
    free(buf);
    return 0;
}
