/*
 * The loopback transport against a scripted HTTP server on 127.0.0.1 in a thread: keep-alive
 * reuse, a connection the peer dropped while idle, responses in pieces, caps, timeouts, refused
 * and broken connections. The server answers each request with the next step of its script.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <leakwatch/http.h>

#include "test_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct lw_http_transport transport;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(lw_http_loopback_transport_init(&transport), LW_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    transport.destroy(transport.ctx);
    return 0;
}

struct call {
    char url[128];
    struct lw_http_request req;
    struct lw_http_response resp;
    enum lw_err err;
};

static void call_get(struct call *c, const struct server *s, const char *path)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%d%s", s->port, path);
    c->req.method = "GET";
    c->req.url = c->url;
    c->err = transport.perform(transport.ctx, &c->req, &c->resp);
}

static void test_keep_alive_post_then_get(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: abc-123\r\nContent-Length: 2\r\n\r\n{}",
         KEEP},
        {"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nevent1", KEEP},
    };
    static struct server s;
    server_start(&s, steps, 2);
    struct call c;
    memset(&c, 0, sizeof(c));
    snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%d/2020-01-01/extension/register", s.port);
    static const char body[] = "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}";
    c.req = (struct lw_http_request){
        .method = "POST", .url = c.url, .body = body, .body_len = sizeof(body) - 1};
    lw_http_request_add_header(&c.req, "Lambda-Extension-Name", "leakwatch");
    c.req.want_headers[0] = "lambda-extension-identifier";
    c.req.n_want_headers = 1;
    c.err = transport.perform(transport.ctx, &c.req, &c.resp);
    assert_int_equal(c.err, LW_OK);
    assert_int_equal(c.resp.status, 200);
    assert_string_equal(c.resp.header_values[0], "abc-123");
    assert_string_equal(c.resp.body, "{}");
    lw_http_response_clean_up(&c.resp);

    struct call g;
    call_get(&g, &s, "/2020-01-01/extension/event/next");
    assert_int_equal(g.err, LW_OK);
    assert_string_equal(g.resp.body, "event1");
    lw_http_response_clean_up(&g.resp);
    server_stop(&s);

    assert_int_equal(s.accepted, 1); /* both on one connection */
    assert_int_equal(s.n_requests, 2);
    assert_non_null(strstr(s.requests[0], "POST /2020-01-01/extension/register HTTP/1.1\r\n"));
    assert_non_null(strstr(s.requests[0], "\r\nLambda-Extension-Name: leakwatch\r\n"));
    assert_non_null(strstr(s.requests[0], body));
    assert_non_null(strstr(s.requests[1], "GET /2020-01-01/extension/event/next HTTP/1.1\r\n"));
}

/*
 * Two requests in a row: how the first is answered decides whether the second goes on the same
 * connection (accepted == 1) or a new one (accepted == 2), and the second must work either way.
 */
struct two_case {
    const char *name;
    struct step first;
    bool pause;       /* let the server's close arrive before the second request */
    size_t cap;       /* max_response_bytes of the first request */
    enum lw_err err;  /* of the first request */
    long status;      /* of the first request (0: none) */
    const char *body; /* of the first request (NULL: none) */
    bool truncated;
    const char *error; /* in the first response's error text */
    size_t accepted;
};

static const struct two_case two_cases[] = {
    {"idle connection dropped without a word: reopened once",
     {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", CLOSE},
     true,
     0,
     LW_OK,
     200,
     "a",
     false,
     "",
     2},
    {"Connection: close honoured",
     {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na", CLOSE},
     false,
     0,
     LW_OK,
     200,
     "a",
     false,
     "",
     2},
    {"chunked, in 3-byte pieces, then reused",
     {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n"
      "0\r\n\r\n",
      PIECES},
     false,
     0,
     LW_OK,
     200,
     "hello world",
     false,
     "",
     1},
    {"an HTTP error status is a response, not a failure",
     {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom", KEEP},
     false,
     0,
     LW_OK,
     500,
     "boom",
     false,
     "",
     1},
    {"body over the cap: truncated, the rest read, the connection kept",
     {"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n0123456789ab", KEEP},
     false,
     5,
     LW_OK,
     200,
     "01234",
     true,
     "",
     1},
    {"malformed: an error, and the connection is not used again",
     {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", KEEP},
     false,
     0,
     LW_ERR_HTTP,
     0,
     NULL,
     false,
     "conflicting Content-Length",
     2},
};

static void test_two_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(two_cases) / sizeof(two_cases[0]); i++) {
        const struct two_case *tc = &two_cases[i];
        const struct step steps[] = {
            tc->first,
            {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", KEEP},
        };
        static struct server s;
        server_start(&s, steps, 2);
        struct call c;
        memset(&c, 0, sizeof(c));
        snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%d/first", s.port);
        c.req =
            (struct lw_http_request){.method = "GET", .url = c.url, .max_response_bytes = tc->cap};
        c.err = transport.perform(transport.ctx, &c.req, &c.resp);
        if (c.err != tc->err)
            fail_msg("%s: %s (%s)", tc->name, lw_err_str(c.err), c.resp.error);
        assert_int_equal(c.resp.status, tc->status);
        if (tc->body == NULL)
            assert_null(c.resp.body);
        else
            assert_string_equal(c.resp.body, tc->body);
        assert_int_equal(c.resp.body_truncated, tc->truncated);
        assert_non_null(strstr(c.resp.error, tc->error));
        lw_http_response_clean_up(&c.resp);
        if (tc->pause) {
            struct timespec ms = {0, 20 * 1000000};
            nanosleep(&ms, NULL);
        }
        call_get(&c, &s, "/second");
        if (c.err != LW_OK)
            fail_msg("%s: second request: %s (%s)", tc->name, lw_err_str(c.err), c.resp.error);
        assert_string_equal(c.resp.body, "ok");
        lw_http_response_clean_up(&c.resp);
        server_stop(&s);
        if (s.accepted != tc->accepted || s.n_requests != 2)
            fail_msg("%s: %zu connections, %zu requests", tc->name, s.accepted, s.n_requests);
    }
}

static void test_fresh_connection_dropped_is_an_error_not_a_retry(void **state)
{
    (void)state;
    static const struct step steps[] = {{NULL, DROP}, {NULL, DROP}};
    static struct server s;
    server_start(&s, steps, 2);
    struct call c;
    call_get(&c, &s, "/x");
    assert_int_equal(c.err, LW_ERR_HTTP);
    assert_int_equal(c.resp.status, 0);
    assert_null(c.resp.body);
    assert_non_null(strstr(c.resp.error, "connection closed"));
    server_stop(&s);
    assert_int_equal(s.n_requests, 1); /* sent once */
}

static void test_total_timeout(void **state)
{
    (void)state;
    static const struct step steps[] = {{NULL, HANG}};
    static struct server s;
    server_start(&s, steps, 1);
    struct call c;
    memset(&c, 0, sizeof(c));
    snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%d/hang", s.port);
    c.req = (struct lw_http_request){.method = "GET", .url = c.url, .total_timeout_ms = 100};
    c.err = transport.perform(transport.ctx, &c.req, &c.resp);
    assert_int_equal(c.err, LW_ERR_TIMEOUT);
    assert_int_equal(c.resp.status, 0);
    assert_non_null(strstr(c.resp.error, "timed out"));
    server_stop(&s); /* the transport closed its end, so the server's read ends */
}

static void test_send_now_receive_later(void **state)
{
    (void)state;
    /* the long poll: sent, nothing answered yet; answered once the server writes */
    static const struct step steps[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nevent1", KEEP},
        {"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nevent2", KEEP},
    };
    static struct server s;
    struct lw_http_response resp;
    struct lw_http_request get = {.method = "GET", .url = "http://127.0.0.1:1/"};
    /* nothing sent yet: nothing to receive, nothing answered */
    assert_int_equal(lw_http_loopback_receive(&transport, &get, &resp), LW_ERR_INVALID);
    assert_false(lw_http_loopback_answered(&transport));

    server_start(&s, steps, 2);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/2020-01-01/extension/event/next", s.port);
    get.url = url;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(lw_http_loopback_send(&transport, &get, &resp), LW_OK);
        for (int waited = 0; !lw_http_loopback_answered(&transport) && waited < 2000; waited++) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
        assert_true(lw_http_loopback_answered(&transport));
        assert_int_equal(lw_http_loopback_receive(&transport, &get, &resp), LW_OK);
        assert_string_equal(resp.body, i == 0 ? "event1" : "event2");
        if (i == 0) /* all of it was read (after the last, the server closes: readable) */
            assert_false(lw_http_loopback_answered(&transport));
        lw_http_response_clean_up(&resp);
    }
    server_stop(&s);
    assert_int_equal(s.accepted, 1);

    /* only a loopback transport has the two halves */
    struct lw_http_transport other = {.perform = NULL};
    assert_int_equal(lw_http_loopback_send(&other, &get, &resp), LW_ERR_INVALID);
    assert_false(lw_http_loopback_answered(&other));
}

static void test_refused_and_invalid(void **state)
{
    (void)state;
    /* a port nobody listens on: bind one, read its number, close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    struct call c;
    memset(&c, 0, sizeof(c));
    snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%d/", ntohs(addr.sin_port));
    c.req = (struct lw_http_request){.method = "GET", .url = c.url};
    c.err = transport.perform(transport.ctx, &c.req, &c.resp);
    assert_int_equal(c.err, LW_ERR_HTTP);
    assert_non_null(strstr(c.resp.error, "connect"));

    c.req.url = "https://127.0.0.1:9001/";
    assert_int_equal(transport.perform(transport.ctx, &c.req, &c.resp), LW_ERR_INVALID);
    c.req.url = c.url;
    c.req.gzip_body = true;
    assert_int_equal(transport.perform(transport.ctx, &c.req, &c.resp), LW_ERR_INVALID);
    c.req.gzip_body = false;
    lw_http_request_add_header(&c.req, "X", "a\r\nInjected: yes");
    assert_int_equal(transport.perform(transport.ctx, &c.req, &c.resp), LW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keep_alive_post_then_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_connection_dropped_is_an_error_not_a_retry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_total_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_now_receive_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_and_invalid, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
