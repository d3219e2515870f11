/*
 * HTTP/1.1 on the wire: URLs, request heads, and the response parser fed whole, byte by byte
 * and in every two-piece split, so the result never depends on how the bytes arrive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <leakwatch/http_wire.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_url_parse(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        enum lw_err err;
        const char *host;
        unsigned port;
        const char *path;
    } cases[] = {
        {"http://127.0.0.1:9001/2020-01-01/extension/register", LW_OK, "127.0.0.1", 9001,
         "/2020-01-01/extension/register"},
        {"http://localhost:8080", LW_OK, "localhost", 8080, "/"},
        {"HTTP://sandbox:1/x?y=1", LW_OK, "sandbox", 1, "/x?y=1"},
        {"http://[::1]:9001/a", LW_OK, "::1", 9001, "/a"},
        {"http://example.com/", LW_OK, "example.com", 80, "/"},
        {"https://127.0.0.1:9001/", LW_ERR_INVALID, NULL, 0, NULL},
        {"http://127.0.0.1:0/", LW_ERR_INVALID, NULL, 0, NULL},
        {"http://127.0.0.1:65536/", LW_ERR_INVALID, NULL, 0, NULL},
        {"http://127.0.0.1:/", LW_ERR_INVALID, NULL, 0, NULL},
        {"http://:9001/", LW_ERR_INVALID, NULL, 0, NULL},
        {"http://user@host:1/", LW_ERR_INVALID, NULL, 0, NULL},
        {"http://host:1/a b", LW_ERR_INVALID, NULL, 0, NULL},
        {"http://host:1/a\r\nX: y", LW_ERR_INVALID, NULL, 0, NULL},
        {"http://[::1/", LW_ERR_INVALID, NULL, 0, NULL},
        {"http://host:12x/", LW_ERR_INVALID, NULL, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lw_http_url u;
        enum lw_err err = lw_http_url_parse(cases[i].url, &u);
        if (err != cases[i].err)
            fail_msg("%s: %s", cases[i].url, lw_err_str(err));
        if (err != LW_OK)
            continue;
        assert_string_equal(u.host, cases[i].host);
        assert_int_equal(u.port, cases[i].port);
        assert_string_equal(u.path, cases[i].path);
    }
}

static void test_request_head(void **state)
{
    (void)state;
    struct lw_http_url u;
    assert_int_equal(lw_http_url_parse("http://127.0.0.1:9001/2020-01-01/extension/register", &u),
                     LW_OK);
    static const char body[] = "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}";
    struct lw_http_request req = {.method = "POST", .body = body, .body_len = sizeof(body) - 1};
    lw_http_request_add_header(&req, "Lambda-Extension-Name", "leakwatch");
    lw_http_request_add_header(&req, "Content-Type", "application/json");
    char out[1024];
    size_t len = 0;
    assert_int_equal(lw_http_wire_request(&req, &u, out, sizeof(out), &len), LW_OK);
    char want[1024];
    snprintf(want, sizeof(want),
             "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
             "User-Agent: leakwatch/%s\r\nLambda-Extension-Name: leakwatch\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             LW_VERSION, sizeof(body) - 1);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);

    /* a GET carries no Content-Length; an IPv6 host is bracketed */
    assert_int_equal(lw_http_url_parse("http://[::1]:9001/next", &u), LW_OK);
    struct lw_http_request get = {.method = "GET"};
    assert_int_equal(lw_http_wire_request(&get, &u, out, sizeof(out), &len), LW_OK);
    out[len] = '\0';
    assert_non_null(strstr(out, "GET /next HTTP/1.1\r\nHost: [::1]:9001\r\n"));
    assert_null(strstr(out, "Content-Length"));

    /* a PUT without a body says Content-Length: 0 */
    struct lw_http_request put = {.method = "PUT"};
    assert_int_equal(lw_http_wire_request(&put, &u, out, sizeof(out), &len), LW_OK);
    out[len] = '\0';
    assert_non_null(strstr(out, "Content-Length: 0\r\n\r\n"));

    /* header injection and bad names are refused; a small buffer is too small */
    struct lw_http_request bad = {.method = "GET"};
    lw_http_request_add_header(&bad, "X", "a\r\nInjected: 1");
    assert_int_equal(lw_http_wire_request(&bad, &u, out, sizeof(out), &len), LW_ERR_INVALID);
    struct lw_http_request bad_name = {.method = "GET"};
    lw_http_request_add_header(&bad_name, "Bad Name", "v");
    assert_int_equal(lw_http_wire_request(&bad_name, &u, out, sizeof(out), &len), LW_ERR_INVALID);
    struct lw_http_request bad_method = {.method = "GE T"};
    assert_int_equal(lw_http_wire_request(&bad_method, &u, out, sizeof(out), &len), LW_ERR_INVALID);
    assert_int_equal(lw_http_wire_request(&req, &u, out, 40, &len), LW_ERR_TOO_LARGE);
    assert_int_equal(len, 0);
    /* the exact fit: the request and its terminating NUL, and not one byte less */
    size_t whole = 0;
    assert_int_equal(lw_http_wire_request(&req, &u, out, sizeof(out), &whole), LW_OK);
    char exact[1024];
    assert_int_equal(lw_http_wire_request(&req, &u, exact, whole + 1, &len), LW_OK);
    assert_int_equal(len, whole);
    assert_memory_equal(exact, out, whole);
    assert_int_equal(exact[whole], '\0');
    assert_int_equal(lw_http_wire_request(&req, &u, exact, whole, &len), LW_ERR_TOO_LARGE);
}

struct parsed {
    enum lw_err err;
    bool done;
    bool close;
    size_t used_total;
    struct lw_http_response resp;
};

/* Feeds bytes in pieces of at most `piece` bytes (0: all at once), then EOF when asked. */
static void parse_in_pieces(const struct lw_http_request *req, const char *bytes, size_t len,
                            size_t first, size_t piece, bool eof, struct parsed *out)
{
    static struct lw_http_wire_parser p;
    memset(out, 0, sizeof(*out));
    lw_http_wire_parser_init(&p, req, &out->resp);
    size_t at = 0;
    while (at < len && !out->done) {
        size_t n = len - at;
        if (at == 0 && first > 0 && first < n)
            n = first;
        else if (piece > 0 && piece < n)
            n = piece;
        size_t used = 0;
        out->err = lw_http_wire_feed(&p, bytes + at, n, &used, &out->done);
        if (out->err != LW_OK)
            break;
        assert_true(used <= n);
        if (!out->done)
            assert_int_equal(used, n);
        at += used;
        if (used < n)
            break;
    }
    out->used_total = at;
    if (out->err == LW_OK && !out->done && eof) {
        out->err = lw_http_wire_eof(&p);
        out->done = out->err == LW_OK;
    }
    out->close = p.close;
}

struct response_case {
    const char *name;
    const char *bytes;
    bool eof; /* the peer closes after the bytes */
    size_t cap;
    enum lw_err err;
    long status;
    const char *body; /* NULL: no body */
    bool truncated;
    bool close;
    const char *retry_after;
    size_t trailing; /* bytes after the response, not consumed */
};

static const struct response_case responses[] = {
    {"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 0, LW_OK, 200,
     "hello", false, false, "", 0},
    {"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", false, 0, LW_OK, 200, "hi", false,
     false, "", 0},
    {"no reason phrase", "HTTP/1.1 204\r\n\r\n", false, 0, LW_OK, 204, NULL, false, false, "", 0},
    {"chunked with extension and trailer",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n"
     "0\r\nExpires: never\r\n\r\n",
     false, 0, LW_OK, 200, "Wikipedia", false, false, "", 0},
    {"chunked, hex upper case",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n"
     "0123456789\r\n0\r\n\r\n",
     false, 0, LW_OK, 200, "0123456789", false, false, "", 0},
    {"until close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", true, 0, LW_OK, 200,
     "all of it", false, true, "", 0},
    {"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 0, LW_OK, 200, "x",
     false, true, "", 0},
    {"connection close with length",
     "HTTP/1.1 403 Forbidden\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nno",
     false, 0, LW_OK, 403, "no", false, true, "", 0},
    {"interim 100 then 200",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 0, LW_OK,
     200, "ok", false, false, "", 0},
    {"wanted header, any case, trimmed",
     "HTTP/1.1 503 Unavailable\r\nretry-after:   7  \r\nContent-Length: 0\r\n\r\n", false, 0, LW_OK,
     503, NULL, false, false, "7", 0},
    {"body capped", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false, 4, LW_OK, 200,
     "0123", true, false, "", 0},
    {"chunked body capped",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
     "3\r\ndef\r\n0\r\n\r\n",
     false, 5, LW_OK, 200, "abcde", true, false, "", 0},
    {"same length twice", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nz",
     false, 0, LW_OK, 200, "z", false, false, "", 0},
    {"bytes after the response", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nzEXTRA", false, 0,
     LW_OK, 200, "z", false, false, "", 5},
    {"chunked and length: chunked wins, then close",
     "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: "
     "chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n",
     false, 0, LW_OK, 200, "q", false, true, "", 0},
    /* malformed */
    {"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nz",
     false, 0, LW_ERR_INVALID, 0, NULL, false, true, "", 0},
    {"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, 0, LW_ERR_INVALID,
     0, NULL, false, true, "", 0},
    {"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", false, 0,
     LW_ERR_INVALID, 0, NULL, false, true, "", 0},
    {"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", false, 0, LW_ERR_INVALID, 0, NULL, false, true, "", 0},
    {"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", false, 0, LW_ERR_INVALID, 0, NULL, false, true, "",
     0},
    {"gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, 0,
     LW_ERR_INVALID, 0, NULL, false, true, "", 0},
    {"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, 0,
     LW_ERR_INVALID, 0, NULL, false, true, "", 0},
    {"chunk longer than its size",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", false, 0,
     LW_ERR_INVALID, 0, NULL, false, true, "", 0},
    {"folded header", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", false, 0,
     LW_ERR_INVALID, 0, NULL, false, true, "", 0},
    {"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", false, 0,
     LW_ERR_INVALID, 0, NULL, false, true, "", 0},
    {"bare CR", "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n", false, 0, LW_ERR_INVALID,
     0, NULL, false, true, "", 0},
    {"protocol switch", "HTTP/1.1 101 Switching\r\n\r\n", false, 0, LW_ERR_INVALID, 0, NULL, false,
     true, "", 0},
    {"closed mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true, 0, LW_ERR_INVALID,
     0, NULL, false, true, "", 0},
    {"closed before anything", "", true, 0, LW_ERR_INVALID, 0, NULL, false, true, "", 0},
};

static void check_response(const struct response_case *c, const struct parsed *p, size_t len,
                           const char *how)
{
    if (p->err != c->err)
        fail_msg("%s (%s): %s, expected %s (%s)", c->name, how, lw_err_str(p->err),
                 lw_err_str(c->err), p->resp.error);
    assert_int_equal(p->close, c->close);
    if (c->err != LW_OK) {
        assert_non_null(strstr(p->resp.error, "malformed HTTP response"));
        return;
    }
    assert_true(p->done);
    assert_int_equal(p->resp.status, c->status);
    assert_int_equal(p->used_total, len - c->trailing);
    if (c->body == NULL) {
        assert_int_equal(p->resp.body_len, 0);
    } else {
        assert_non_null(p->resp.body);
        assert_int_equal(p->resp.body_len, strlen(c->body));
        assert_string_equal(p->resp.body, c->body);
    }
    assert_int_equal(p->resp.body_truncated, c->truncated);
    assert_string_equal(p->resp.header_values[0], c->retry_after);
}

static void test_responses_whole_bytewise_and_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
        const struct response_case *c = &responses[i];
        struct lw_http_request req = {.method = "GET", .max_response_bytes = c->cap};
        req.want_headers[0] = "Retry-After";
        req.n_want_headers = 1;
        size_t len = strlen(c->bytes);
        struct parsed p;
        parse_in_pieces(&req, c->bytes, len, 0, 0, c->eof, &p);
        check_response(c, &p, len, "whole");
        lw_http_response_clean_up(&p.resp);
        parse_in_pieces(&req, c->bytes, len, 0, 1, c->eof, &p);
        check_response(c, &p, len, "byte by byte");
        lw_http_response_clean_up(&p.resp);
        for (size_t cut = 1; cut < len; cut++) {
            parse_in_pieces(&req, c->bytes, len, cut, 0, c->eof, &p);
            char how[32];
            snprintf(how, sizeof(how), "split at %zu", cut);
            check_response(c, &p, len, how);
            lw_http_response_clean_up(&p.resp);
        }
    }
}

static void test_no_body_for_head_and_304(void **state)
{
    (void)state;
    struct lw_http_request head = {.method = "HEAD"};
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    struct parsed p;
    parse_in_pieces(&head, r, sizeof(r) - 1, 0, 0, false, &p);
    assert_int_equal(p.err, LW_OK);
    assert_true(p.done);
    assert_int_equal(p.resp.body_len, 0);
    struct lw_http_request get = {.method = "GET"};
    static const char r304[] = "HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n";
    parse_in_pieces(&get, r304, sizeof(r304) - 1, 0, 0, false, &p);
    assert_int_equal(p.err, LW_OK);
    assert_true(p.done);
    assert_int_equal(p.resp.status, 304);
}

static void test_oversized_head_and_line(void **state)
{
    (void)state;
    struct lw_http_request req = {.method = "GET"};
    /* one header line longer than a line may be */
    size_t n = LW_HTTP_WIRE_LINE_MAX + 100;
    char *big = malloc(n + 64);
    assert_non_null(big);
    int at = snprintf(big, 64, "HTTP/1.1 200 OK\r\nX: ");
    memset(big + at, 'a', n);
    memcpy(big + at + n, "\r\n\r\n", 5);
    struct parsed p;
    parse_in_pieces(&req, big, strlen(big), 0, 0, false, &p);
    assert_int_equal(p.err, LW_ERR_TOO_LARGE);
    free(big);

    /* many short lines adding up to more than the head may be */
    size_t lines = LW_HTTP_WIRE_HEAD_MAX / 10 + 10;
    char *many = malloc(lines * 11 + 64);
    assert_non_null(many);
    size_t o = (size_t)snprintf(many, 64, "HTTP/1.1 200 OK\r\n");
    for (size_t i = 0; i < lines; i++) {
        memcpy(many + o, "X: 123456\r\n", 11);
        o += 11;
    }
    memcpy(many + o, "\r\n", 3);
    parse_in_pieces(&req, many, o + 2, 0, 0, false, &p);
    assert_int_equal(p.err, LW_ERR_TOO_LARGE);
    assert_non_null(strstr(p.resp.error, "too large"));
    free(many);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_request_head),
        cmocka_unit_test(test_responses_whole_bytewise_and_split),
        cmocka_unit_test(test_no_body_for_head_and_304),
        cmocka_unit_test(test_oversized_head_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
