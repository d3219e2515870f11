/*
 * The libcurl transport against a one-connection-at-a-time HTTP server on 127.0.0.1 in a
 * thread: what goes on the wire (method, headers, gzip body) and what comes back (status,
 * wanted headers, capped body, timeouts, refused connections).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <leakwatch/http.h>

#include "test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

/* One answer on one connection; NULL: hang until the client gives up. */
static void server_start_one(struct server *s, const char *response)
{
    const struct step step = {response, response != NULL ? CLOSE : HANG};
    server_start(s, &step, 1);
}

static struct lw_http_transport transport;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(lw_http_curl_transport_init(&transport, NULL), LW_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    transport.destroy(transport.ctx);
    return 0;
}

static void url_for(const struct server *s, char *out, size_t cap)
{
    snprintf(out, cap, "http://127.0.0.1:%d/v1/metrics", s->port);
}

static void test_post_headers_body_and_wanted_headers(void **state)
{
    (void)state;
    static struct server s;
    server_start_one(&s, "HTTP/1.1 200 OK\r\nretry-after: 7\r\nContent-Length: 5\r\n"
                         "Connection: close\r\n\r\nhello");
    char url[64];
    url_for(&s, url, sizeof(url));
    struct lw_http_request req = {.method = "POST",
                                  .url = url,
                                  .body = "\x01\x02\x00\x03",
                                  .body_len = 4,
                                  .total_timeout_ms = 5000,
                                  .no_proxy = true,
                                  .want_headers = {"Retry-After", "X-Missing"},
                                  .n_want_headers = 2};
    assert_int_equal(lw_http_request_add_header(&req, "Content-Type", "application/x-protobuf"),
                     LW_OK);
    assert_int_equal(lw_http_request_add_header(&req, "X-Api-Key", "k1"), LW_OK);
    struct lw_http_response resp;
    assert_int_equal(transport.perform(transport.ctx, &req, &resp), LW_OK);
    server_stop(&s);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 5);
    assert_string_equal(resp.body, "hello");
    assert_false(resp.body_truncated);
    assert_string_equal(resp.header_values[0], "7");
    assert_string_equal(resp.header_values[1], "");
    lw_http_response_clean_up(&resp);
    assert_null(resp.body);

    assert_non_null(strstr(s.requests[0], "POST /v1/metrics HTTP/1.1\r\n"));
    assert_non_null(strstr(s.requests[0], "\r\nContent-Type: application/x-protobuf\r\n"));
    assert_non_null(strstr(s.requests[0], "\r\nX-Api-Key: k1\r\n"));
    assert_non_null(strstr(s.requests[0], "\r\nUser-Agent: leakwatch/"));
    assert_null(strcasestr(s.requests[0], "Expect:"));
    const char *body = strstr(s.requests[0], "\r\n\r\n") + 4;
    assert_int_equal(s.requests[0] + s.request_lens[0] - body, 4);
    assert_memory_equal(body, "\x01\x02\x00\x03", 4);
}

static void test_gzip_body(void **state)
{
    (void)state;
    static struct server s;
    server_start_one(&s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    char url[64];
    url_for(&s, url, sizeof(url));
    static char payload[20000];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)('a' + i % 7);
    struct lw_http_request req = {.method = "POST",
                                  .url = url,
                                  .body = payload,
                                  .body_len = sizeof(payload),
                                  .gzip_body = true,
                                  .total_timeout_ms = 5000,
                                  .no_proxy = true};
    struct lw_http_response resp;
    assert_int_equal(transport.perform(transport.ctx, &req, &resp), LW_OK);
    server_stop(&s);
    assert_int_equal(resp.status, 200);
    lw_http_response_clean_up(&resp);
    assert_non_null(strstr(s.requests[0], "\r\nContent-Encoding: gzip\r\n"));
    const char *body = strstr(s.requests[0], "\r\n\r\n") + 4;
    size_t body_len = (size_t)(s.requests[0] + s.request_lens[0] - body);
    assert_true(body_len < sizeof(payload) / 4);

    static char inflated[sizeof(payload) + 16];
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)body;
    zs.avail_in = (uInt)body_len;
    zs.next_out = (Bytef *)inflated;
    zs.avail_out = sizeof(inflated);
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, sizeof(payload));
    inflateEnd(&zs);
    assert_memory_equal(inflated, payload, sizeof(payload));
}

static void test_put_and_body_cap(void **state)
{
    (void)state;
    static struct server s;
    server_start_one(&s,
                     "HTTP/1.1 400 Bad Request\r\nContent-Length: 26\r\nConnection: close\r\n\r\n"
                     "abcdefghijklmnopqrstuvwxyz");
    char url[64];
    url_for(&s, url, sizeof(url));
    struct lw_http_request req = {.method = "PUT",
                                  .url = url,
                                  .body = "{}",
                                  .body_len = 2,
                                  .total_timeout_ms = 5000,
                                  .no_proxy = true,
                                  .max_response_bytes = 10};
    struct lw_http_response resp;
    assert_int_equal(transport.perform(transport.ctx, &req, &resp), LW_OK);
    server_stop(&s);
    assert_non_null(strstr(s.requests[0], "PUT /v1/metrics HTTP/1.1\r\n"));
    assert_int_equal(resp.status, 400);
    assert_int_equal(resp.body_len, 10);
    assert_string_equal(resp.body, "abcdefghij");
    assert_true(resp.body_truncated);
    lw_http_response_clean_up(&resp);
}

static void test_hanging_server_times_out(void **state)
{
    (void)state;
    static struct server s;
    server_start_one(&s, NULL);
    char url[64];
    url_for(&s, url, sizeof(url));
    struct lw_http_request req = {
        .method = "GET", .url = url, .total_timeout_ms = 200, .no_proxy = true};
    struct lw_http_response resp;
    assert_int_equal(transport.perform(transport.ctx, &req, &resp), LW_ERR_TIMEOUT);
    server_stop(&s);
    assert_int_equal(resp.status, 0);
    assert_null(resp.body);
    assert_true(resp.error[0] != '\0');
}

static void test_refused_connection(void **state)
{
    (void)state;
    /* a port that was free a moment ago and has no listener */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(addr.sin_port));
    struct lw_http_request req = {
        .method = "GET", .url = url, .total_timeout_ms = 2000, .no_proxy = true};
    struct lw_http_response resp;
    assert_int_equal(transport.perform(transport.ctx, &req, &resp), LW_ERR_HTTP);
    assert_int_equal(resp.status, 0);
    assert_true(resp.error[0] != '\0');
}

static void test_no_proxy_bypasses_the_configured_proxy(void **state)
{
    (void)state;
    static struct server s;
    server_start_one(&s, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    char url[64];
    url_for(&s, url, sizeof(url));
    /* a proxy that refuses connections: used unless no_proxy */
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    struct lw_http_request req = {.method = "GET", .url = url, .total_timeout_ms = 2000};
    struct lw_http_response resp;
    assert_int_equal(transport.perform(transport.ctx, &req, &resp), LW_ERR_HTTP);
    req.no_proxy = true;
    assert_int_equal(transport.perform(transport.ctx, &req, &resp), LW_OK);
    unsetenv("http_proxy");
    server_stop(&s);
    assert_int_equal(resp.status, 204);
    lw_http_response_clean_up(&resp);
}

static void test_header_injection_refused(void **state)
{
    (void)state;
    struct lw_http_request req = {.method = "GET", .url = "http://127.0.0.1:1/"};
    assert_int_equal(lw_http_request_add_header(&req, "X-Key", "a\r\nX-Evil: 1"), LW_OK);
    struct lw_http_response resp;
    assert_int_equal(transport.perform(transport.ctx, &req, &resp), LW_ERR_INVALID);
    assert_int_equal(resp.status, 0);

    struct lw_http_request full = {.method = "GET", .url = "http://127.0.0.1:1/"};
    for (int i = 0; i < LW_HTTP_MAX_HEADERS; i++)
        assert_int_equal(lw_http_request_add_header(&full, "X-A", "b"), LW_OK);
    assert_int_equal(lw_http_request_add_header(&full, "X-A", "b"), LW_ERR_FULL);
    assert_int_equal(full.n_headers, LW_HTTP_MAX_HEADERS);
}

int main(void)
{
    assert_int_equal(lw_http_global_init(), LW_OK);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_headers_body_and_wanted_headers),
        cmocka_unit_test(test_gzip_body),
        cmocka_unit_test(test_put_and_body_cap),
        cmocka_unit_test(test_hanging_server_times_out),
        cmocka_unit_test(test_refused_connection),
        cmocka_unit_test(test_no_proxy_bypasses_the_configured_proxy),
        cmocka_unit_test(test_header_injection_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
