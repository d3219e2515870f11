#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/telemetry_http.h>

/* A request as Lambda's Go client sends it (header order and names as net/http writes them). */
#define LAMBDA_HEAD                                                                                \
    "POST / HTTP/1.1\r\n"                                                                          \
    "Host: sandbox.localdomain:4289\r\n"                                                           \
    "User-Agent: Go-http-client/1.1\r\n"                                                           \
    "Content-Length: 2\r\n"                                                                        \
    "Content-Type: application/json\r\n"                                                           \
    "Accept-Encoding: gzip\r\n"                                                                    \
    "\r\n"

struct valid_case {
    const char *name;
    const char *head;
    enum lw_telemetry_http_method method;
    const char *path;
    bool have_content_length;
    uint64_t content_length;
    bool chunked, keep_alive, expect_continue;
    int minor;
};

static const struct valid_case valid_cases[] = {
    {"lambda", LAMBDA_HEAD, LW_TELEMETRY_HTTP_POST, "/", true, 2, false, true, false, 1},
    {"put with query", "PUT /?x=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", LW_TELEMETRY_HTTP_PUT,
     "/?x=1", true, 0, false, true, false, 1},
    {"close", "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 10\r\n\r\n",
     LW_TELEMETRY_HTTP_POST, "/", true, 10, false, false, false, 1},
    {"http/1.0", "POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\n", LW_TELEMETRY_HTTP_POST, "/", true,
     10, false, false, false, 0},
    {"http/1.0 keep-alive",
     "POST / HTTP/1.0\r\nconnection: Upgrade, Keep-Alive\r\ncontent-length:10\r\n\r\n",
     LW_TELEMETRY_HTTP_POST, "/", true, 10, false, true, false, 0},
    {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", LW_TELEMETRY_HTTP_POST,
     "/", false, 0, true, true, false, 1},
    {"expect", "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
     LW_TELEMETRY_HTTP_POST, "/", true, 5, false, true, true, 1},
    {"bare lf and leading empty line", "\r\nPOST / HTTP/1.1\nContent-Length: 3\nX-Empty:\n\n",
     LW_TELEMETRY_HTTP_POST, "/", true, 3, false, true, false, 1},
    {"repeated equal length", "POST / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n",
     LW_TELEMETRY_HTTP_POST, "/", true, 7, false, true, false, 1},
    {"value whitespace and obs-text",
     "POST / HTTP/1.1\r\nContent-Length: \t 4 \t\r\nX-Name: caf\xc3\xa9\r\n\r\n",
     LW_TELEMETRY_HTTP_POST, "/", true, 4, false, true, false, 1},
};

static void test_valid_every_prefix(void **state)
{
    (void)state;
    struct lw_telemetry_http_limits limits;
    lw_telemetry_http_limits_init(&limits);
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const struct valid_case *vc = &valid_cases[i];
        size_t len = strlen(vc->head);
        struct lw_telemetry_http_request req;
        print_message("%s\n", vc->name);
        /* Every proper prefix: need more, never an error, never complete. */
        for (size_t n = 0; n < len; n++) {
            enum lw_err err = lw_telemetry_http_parse_head(vc->head, n, &limits, &req);
            if (err != LW_ERR_NEED_MORE)
                fail_msg("%s: prefix of %zu bytes gave %d (status %d)", vc->name, n, err,
                         req.status);
        }
        /* The whole head, then with body bytes after it: complete, same answer. */
        char buf[512];
        memcpy(buf, vc->head, len);
        memcpy(buf + len, "{}{}{}", 6);
        for (size_t extra = 0; extra <= 6; extra += 6) {
            assert_int_equal(lw_telemetry_http_parse_head(buf, len + extra, &limits, &req), LW_OK);
            assert_int_equal(req.status, 0);
            assert_int_equal(req.head_bytes, len);
            assert_int_equal(req.method, vc->method);
            assert_int_equal(req.path_len, strlen(vc->path));
            assert_memory_equal(req.path, vc->path, req.path_len);
            assert_int_equal(req.have_content_length, vc->have_content_length);
            assert_int_equal(req.content_length, vc->content_length);
            assert_int_equal(req.chunked, vc->chunked);
            assert_int_equal(req.keep_alive, vc->keep_alive);
            assert_int_equal(req.expect_continue, vc->expect_continue);
            assert_int_equal(req.minor_version, vc->minor);
        }
    }
}

struct bad_case {
    const char *name;
    const char *head;
    enum lw_err err;
    int status;
};

static const struct bad_case bad_cases[] = {
    {"get", "GET / HTTP/1.1\r\n\r\n", LW_ERR_INVALID, 405},
    {"delete, early", "DELETE / HTTP/1.1\r\n", LW_ERR_INVALID, 405},
    {"post lowercase method", "post / HTTP/1.1\r\n", LW_ERR_INVALID, 405},
    {"other path", "POST /other HTTP/1.1\r\nContent-Length: 1\r\n\r\n", LW_ERR_INVALID, 404},
    {"path prefix", "POST /x HTTP/1.1\r\n", LW_ERR_INVALID, 404},
    {"absolute form", "POST http://sandbox.localdomain/ HTTP/1.1\r\n", LW_ERR_INVALID, 404},
    {"http/2", "POST / HTTP/2.0\r\n\r\n", LW_ERR_INVALID, 505},
    {"http/1.2", "POST / HTTP/1.2\r\n\r\n", LW_ERR_INVALID, 505},
    {"no version", "POST /\r\n\r\n", LW_ERR_INVALID, 400},
    {"lowercase version", "POST / http/1.1\r\n\r\n", LW_ERR_INVALID, 400},
    {"two spaces", "POST  / HTTP/1.1\r\n\r\n", LW_ERR_INVALID, 400},
    {"space in target", "POST /a b HTTP/1.1\r\n\r\n", LW_ERR_INVALID, 400},
    {"binary", "\x16\x03\x01\x02\x05\x01\xfc\x03\x03\r\n", LW_ERR_INVALID, 400},
    {"bare cr", "POST / HTTP/1.1\rX: y\r\n\r\n", LW_ERR_INVALID, 400},
    {"no length", "POST / HTTP/1.1\r\nHost: x\r\n\r\n", LW_ERR_INVALID, 411},
    {"bad length", "POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", LW_ERR_INVALID, 400},
    {"negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", LW_ERR_INVALID, 400},
    {"empty length", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", LW_ERR_INVALID, 400},
    {"length list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", LW_ERR_INVALID, 400},
    {"conflicting lengths", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
     LW_ERR_INVALID, 400},
    {"huge length", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
     LW_ERR_TOO_LARGE, 413},
    {"over body cap", "POST / HTTP/1.1\r\nContent-Length: 2228225\r\n\r\n", LW_ERR_TOO_LARGE, 413},
    {"length and chunked",
     "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", LW_ERR_INVALID,
     400},
    {"gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", LW_ERR_INVALID,
     501},
    {"chunked twice",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     LW_ERR_INVALID, 501},
    {"obs-fold", "POST / HTTP/1.1\r\nContent-Length: 5\r\n  folded\r\n\r\n", LW_ERR_INVALID, 400},
    {"space before colon", "POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", LW_ERR_INVALID, 400},
    {"no colon", "POST / HTTP/1.1\r\nContent-Length 5\r\n\r\n", LW_ERR_INVALID, 400},
    {"control in value", "POST / HTTP/1.1\r\nX: a\x01z\r\n\r\n", LW_ERR_INVALID, 400},
    {"nul in value", "POST / HTTP/1.1\r\nX: a\0z\r\n\r\n", LW_ERR_INVALID, 400},
    {"bad expect", "POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 200-ok\r\n\r\n", LW_ERR_INVALID,
     417},
};

static void test_bad_table(void **state)
{
    (void)state;
    struct lw_telemetry_http_limits limits;
    lw_telemetry_http_limits_init(&limits);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        /* "nul in value" carries a NUL: its length is the literal's, found by the last "\n\n" */
        size_t len = strlen(bc->head);
        if (strcmp(bc->name, "nul in value") == 0)
            len = sizeof("POST / HTTP/1.1\r\nX: a\0z\r\n\r\n") - 1;
        struct lw_telemetry_http_request req;
        print_message("%s\n", bc->name);
        assert_int_equal(lw_telemetry_http_parse_head(bc->head, len, &limits, &req), bc->err);
        assert_int_equal(req.status, bc->status);
    }
}

static void test_head_caps(void **state)
{
    (void)state;
    struct lw_telemetry_http_limits limits;
    lw_telemetry_http_limits_init(&limits);
    struct lw_telemetry_http_request req;
    size_t size = LW_TELEMETRY_HTTP_HEAD_MAX_BYTES + 64;
    char *buf = malloc(size);
    assert_non_null(buf);

    /* One endless header line: need more until the cap, then 431. */
    int n = snprintf(buf, size, "POST / HTTP/1.1\r\nX-Long: ");
    memset(buf + n, 'a', size - (size_t)n);
    assert_int_equal(
        lw_telemetry_http_parse_head(buf, LW_TELEMETRY_HTTP_HEAD_MAX_BYTES - 1, &limits, &req),
        LW_ERR_NEED_MORE);
    assert_int_equal(
        lw_telemetry_http_parse_head(buf, LW_TELEMETRY_HTTP_HEAD_MAX_BYTES, &limits, &req),
        LW_ERR_TOO_LARGE);
    assert_int_equal(req.status, 431);

    /* Too many headers. */
    size_t pos = (size_t)snprintf(buf, size, "POST / HTTP/1.1\r\n");
    for (int i = 0; i <= LW_TELEMETRY_HTTP_MAX_HEADERS; i++)
        pos += (size_t)snprintf(buf + pos, size - pos, "X-%d: v\r\n", i);
    pos += (size_t)snprintf(buf + pos, size - pos, "\r\n");
    assert_int_equal(lw_telemetry_http_parse_head(buf, pos, &limits, &req), LW_ERR_TOO_LARGE);
    assert_int_equal(req.status, 431);
    limits.max_headers = LW_TELEMETRY_HTTP_MAX_HEADERS + 1; /* capped: still refused */
    assert_int_equal(lw_telemetry_http_parse_head(buf, pos, &limits, &req), LW_ERR_TOO_LARGE);

    /* A configured body cap and path. */
    lw_telemetry_http_limits_init(&limits);
    limits.max_body_bytes = 100;
    limits.path = "/telemetry";
    const char *ok = "POST /telemetry HTTP/1.1\r\nContent-Length: 100\r\n\r\n";
    const char *big = "POST /telemetry HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
    assert_int_equal(lw_telemetry_http_parse_head(ok, strlen(ok), &limits, &req), LW_OK);
    assert_int_equal(lw_telemetry_http_parse_head(big, strlen(big), &limits, &req),
                     LW_ERR_TOO_LARGE);
    assert_int_equal(req.status, 413);
    free(buf);
}

/* --- chunked ---------------------------------------------------------------------------------- */

/*
 * Feed raw in pieces of `step` bytes the way the listener does: decoded bytes stay at the front of
 * the buffer, new raw bytes are appended after them.
 */
static enum lw_err decode_in_steps(const char *raw, size_t raw_len, size_t step, size_t max_body,
                                   char *out, size_t *out_len, size_t *rest)
{
    struct lw_telemetry_http_chunked d;
    lw_telemetry_http_chunked_init(&d, max_body);
    char *buf = malloc(raw_len + 1);
    assert_non_null(buf);
    size_t decoded = 0, fed = 0;
    enum lw_err err = LW_ERR_NEED_MORE;
    while (fed < raw_len && err == LW_ERR_NEED_MORE) {
        size_t n = raw_len - fed < step ? raw_len - fed : step;
        memcpy(buf + decoded, raw + fed, n);
        fed += n;
        size_t got = 0, used = 0;
        err = lw_telemetry_http_chunked_decode(&d, buf + decoded, n, &got, &used);
        decoded += got;
        if (err == LW_OK)
            *rest = (n - used) + (raw_len - fed);
        else if (err == LW_ERR_NEED_MORE)
            assert_int_equal(used, n);
    }
    memcpy(out, buf, decoded);
    *out_len = decoded;
    free(buf);
    return err;
}

struct chunk_case {
    const char *name;
    const char *raw;
    enum lw_err err;
    const char *body;
    size_t rest; /* bytes after the body */
};

static const struct chunk_case chunk_cases[] = {
    {"two chunks", "5\r\n[1,2,\r\n3\r\n3]\n\r\n0\r\n\r\n", LW_OK, "[1,2,3]\n", 0},
    {"hex and ext", "A;name=value\r\n0123456789\r\n0\r\n\r\n", LW_OK, "0123456789", 0},
    {"upper hex", "b\r\n[\"abcdefgh\"\r\n0\r\n\r\n", LW_OK, "[\"abcdefgh\"", 0},
    {"trailers and pipelined", "2\r\n[]\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\nPOST", LW_OK, "[]", 4},
    {"bare lf", "2\n[]\n0\n\n", LW_OK, "[]", 0},
    {"empty", "0\r\n\r\n", LW_OK, "", 0},
    {"incomplete", "5\r\n[1,2", LW_ERR_NEED_MORE, "[1,2", 0},
    {"no size", "\r\n", LW_ERR_INVALID, "", 0},
    {"bad size", "g\r\n", LW_ERR_INVALID, "", 0},
    {"no crlf after data", "2\r\n[]x\r\n", LW_ERR_INVALID, "[]", 0},
    {"cr without lf", "2\r[]", LW_ERR_INVALID, "", 0},
    {"over cap", "400\r\n", LW_ERR_TOO_LARGE, "", 0},
    {"huge size", "ffffffffffffffffffff\r\n", LW_ERR_TOO_LARGE, "", 0},
};

static void test_chunked_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
        const struct chunk_case *cc = &chunk_cases[i];
        size_t raw_len = strlen(cc->raw);
        print_message("%s\n", cc->name);
        /* Every piece size, from byte by byte to all at once. */
        for (size_t step = 1; step <= raw_len; step++) {
            char out[256];
            size_t out_len = 0, rest = 0;
            enum lw_err err = decode_in_steps(cc->raw, raw_len, step, 1000, out, &out_len, &rest);
            assert_int_equal(err, cc->err);
            if (err == LW_OK || err == LW_ERR_NEED_MORE) {
                assert_int_equal(out_len, strlen(cc->body));
                assert_memory_equal(out, cc->body, out_len);
            }
            if (err == LW_OK)
                assert_int_equal(rest, cc->rest);
        }
    }
}

static void test_chunked_limits(void **state)
{
    (void)state;
    char out[64];
    size_t out_len, rest;
    /* The cap counts decoded bytes across chunks. */
    const char *two = "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
    assert_int_equal(decode_in_steps(two, strlen(two), 64, 6, out, &out_len, &rest), LW_OK);
    assert_int_equal(decode_in_steps(two, strlen(two), 64, 5, out, &out_len, &rest),
                     LW_ERR_TOO_LARGE);
    /* An endless chunk extension is refused. */
    size_t n = 4000;
    char *ext = malloc(n);
    assert_non_null(ext);
    memcpy(ext, "1;", 2);
    memset(ext + 2, 'x', n - 2);
    assert_int_equal(decode_in_steps(ext, n, 100, 100, out, &out_len, &rest), LW_ERR_TOO_LARGE);
    free(ext);
}

static void test_reason(void **state)
{
    (void)state;
    assert_string_equal(lw_telemetry_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(lw_telemetry_http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(lw_telemetry_http_reason(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_every_prefix), cmocka_unit_test(test_bad_table),
        cmocka_unit_test(test_head_caps),          cmocka_unit_test(test_chunked_table),
        cmocka_unit_test(test_chunked_limits),     cmocka_unit_test(test_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
