#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <leakwatch/telemetry_listener.h>

/* Bodies seen by the callback (on the listener's thread). */
struct sink {
    pthread_mutex_t mu;
    int n;
    char last[4096];
    size_t last_len;
    size_t total_bytes;
};

static void on_body(void *ctx, const char *body, size_t len)
{
    struct sink *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->n++;
    s->total_bytes += len;
    s->last_len = len < sizeof(s->last) ? len : sizeof(s->last);
    memcpy(s->last, body, s->last_len);
    pthread_mutex_unlock(&s->mu);
}

struct fixture {
    struct sink sink;
    struct lw_health health;
    struct lw_telemetry_listener *l;
    uint16_t port;
};

static struct fixture *start(size_t max_body_bytes)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pthread_mutex_init(&f->sink.mu, NULL);
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.max_body_bytes = max_body_bytes;
    enum lw_err err;
    f->l = lw_telemetry_listener_start(&cfg, on_body, &f->sink, &f->health, &err);
    assert_non_null(f->l);
    assert_int_equal(err, LW_OK);
    f->port = lw_telemetry_listener_port(f->l);
    assert_true(f->port != 0);
    return f;
}

static void stop(struct fixture *f)
{
    lw_telemetry_listener_stop(f->l);
    pthread_mutex_destroy(&f->sink.mu);
    free(f);
}

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 10}; /* a hang fails the test instead of blocking it */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void send_bytes(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void send_str(int fd, const char *s)
{
    send_bytes(fd, s, strlen(s));
}

/* Read one response head (the listener's answers have no body); returns its status. */
static int read_status(int fd, char *head, size_t cap)
{
    size_t len = 0;
    head[0] = '\0';
    while (strstr(head, "\r\n\r\n") == NULL) {
        assert_true(len + 1 < cap);
        ssize_t n = recv(fd, head + len, 1, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        head[len] = '\0';
    }
    int status = 0;
    assert_int_equal(sscanf(head, "HTTP/1.1 %d", &status), 1);
    return status;
}

static bool peer_closed(int fd)
{
    char c;
    return recv(fd, &c, 1, 0) == 0;
}

static const char batch[] = "[{\"time\":\"2026-01-05T10:00:00.182Z\",\"type\":\"platform.start\","
                            "\"record\":{\"requestId\":\"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\"}}]";

static void post(int fd, const char *body, const char *extra_headers)
{
    char head[512];
    snprintf(head, sizeof(head),
             "POST / HTTP/1.1\r\nHost: sandbox.localdomain\r\nContent-Type: application/json\r\n"
             "%sContent-Length: %zu\r\n\r\n",
             extra_headers, strlen(body));
    send_str(fd, head);
    send_str(fd, body);
}

static void test_keep_alive_and_pieces(void **state)
{
    (void)state;
    struct fixture *f = start(0);
    int fd = connect_to(f->port);
    char resp[512];
    for (int i = 1; i <= 3; i++) {
        post(fd, batch, "");
        assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
        assert_int_equal(f->sink.n, i);
        assert_int_equal(f->sink.last_len, strlen(batch));
        assert_memory_equal(f->sink.last, batch, strlen(batch));
    }
    /* A request sent one byte at a time. */
    char req[512];
    snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s", strlen(batch),
             batch);
    for (size_t i = 0; req[i]; i++)
        send_bytes(fd, req + i, 1);
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    assert_int_equal(f->sink.n, 4);
    /* Two pipelined requests in one write. */
    char two[1024];
    snprintf(two, sizeof(two), "%s%s", req, req);
    send_str(fd, two);
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    assert_int_equal(f->sink.n, 6);
    /* Connection: close is honoured. */
    post(fd, "[]", "Connection: close\r\n");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    assert_non_null(strstr(resp, "Connection: close"));
    assert_true(peer_closed(fd));
    close(fd);
    assert_int_equal(f->health.c[LW_H_TELEMETRY_REJECTED], 0);
    stop(f);
}

static void test_chunked_and_expect(void **state)
{
    (void)state;
    struct fixture *f = start(0);
    int fd = connect_to(f->port);
    char resp[512];
    send_str(fd, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[{}\r\n");
    send_str(fd, "2\r\n,{\r\n2\r\n}]\r\n0\r\n\r\n");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    assert_int_equal(f->sink.n, 1);
    assert_int_equal(f->sink.last_len, 7);
    assert_memory_equal(f->sink.last, "[{},{}]", 7);

    send_str(fd, "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 100);
    send_str(fd, "[]");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    assert_int_equal(f->sink.n, 2);
    close(fd);
    stop(f);
}

struct reject_case {
    const char *request;
    int status;
};

static void test_rejections(void **state)
{
    (void)state;
    struct fixture *f = start(1024);
    static const struct reject_case cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", 405},
        {"POST /elsewhere HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]", 404},
        {"POST / HTTP/1.1\r\nContent-Length: 1025\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\n\r\n", 411},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"POST / HTTP/2.0\r\n\r\n", 505},
        {"BREW / HTTP/1.1\r\n\r\n", 405},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n", 413},
    };
    size_t n_cases = sizeof(cases) / sizeof(cases[0]);
    char resp[512];
    for (size_t i = 0; i < n_cases; i++) {
        int fd = connect_to(f->port);
        print_message("%s\n", cases[i].request);
        send_str(fd, cases[i].request);
        assert_int_equal(read_status(fd, resp, sizeof(resp)), cases[i].status);
        assert_non_null(strstr(resp, "Connection: close"));
        assert_true(peer_closed(fd));
        close(fd);
    }
    /* A head that never ends. */
    int fd = connect_to(f->port);
    send_str(fd, "POST / HTTP/1.1\r\nX-Long: ");
    char filler[1024];
    memset(filler, 'a', sizeof(filler));
    int status = 0;
    for (int i = 0; i < 9; i++)
        send_bytes(fd, filler, sizeof(filler));
    status = read_status(fd, resp, sizeof(resp));
    assert_int_equal(status, 431);
    close(fd);
    assert_int_equal(f->health.c[LW_H_TELEMETRY_REJECTED], n_cases + 1);
    assert_int_equal(f->sink.n, 0);

    /* The listener still serves after all that. */
    fd = connect_to(f->port);
    post(fd, "[]", "");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    close(fd);
    stop(f);
}

static void test_large_body(void **state)
{
    (void)state;
    struct fixture *f = start(0);
    size_t len = 2 * 1024 * 1024; /* 2 x the largest maxBytes */
    char *body = malloc(len + 1);
    assert_non_null(body);
    memset(body, ' ', len);
    body[0] = '[';
    body[len - 1] = ']';
    body[len] = '\0';
    int fd = connect_to(f->port);
    char resp[512];
    post(fd, body, "");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    assert_int_equal(f->sink.total_bytes, len);
    post(fd, "[]", ""); /* the buffer shrank back and still works */
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    assert_int_equal(f->sink.n, 2);
    close(fd);
    free(body);
    stop(f);
}

static void test_many_connections(void **state)
{
    (void)state;
    struct fixture *f = start(0);
    enum { N = LW_TELEMETRY_MAX_CONNECTIONS + 4 };
    int fds[N];
    char resp[512];
    /* Idle connections beyond the bound push out the least recently used ones. */
    for (int i = 0; i < N; i++)
        fds[i] = connect_to(f->port);
    int fd = connect_to(f->port);
    post(fd, "[]", "");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    /* The newest idle connections still work. */
    post(fds[N - 1], "[1]", "");
    assert_int_equal(read_status(fds[N - 1], resp, sizeof(resp)), 200);
    assert_int_equal(f->sink.n, 2);
    /* The oldest was closed. */
    assert_true(peer_closed(fds[0]));
    for (int i = 0; i < N; i++)
        close(fds[i]);
    close(fd);
    stop(f); /* joins with connections still open on the listener's side */
}

static void test_port_taken(void **state)
{
    (void)state;
    /* Hold a port, then ask the listener for it. */
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(holder, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(holder, 1), 0);
    socklen_t sl = sizeof(sa);
    getsockname(holder, (struct sockaddr *)&sa, &sl);
    uint16_t taken = ntohs(sa.sin_port);

    struct sink sink = {0};
    pthread_mutex_init(&sink.mu, NULL);
    struct lw_health health = {0};
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = taken;
    enum lw_err err;
    struct lw_telemetry_listener *l =
        lw_telemetry_listener_start(&cfg, on_body, &sink, &health, &err);
    assert_non_null(l);
    uint16_t port = lw_telemetry_listener_port(l);
    assert_true(port != 0 && port != taken);
    int fd = connect_to(port);
    char resp[512];
    post(fd, "[]", "");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    close(fd);
    lw_telemetry_listener_stop(l);
    close(holder);

    /* Bad configuration fails cleanly. */
    cfg.port = 0;
    cfg.bind_address = "not-an-address";
    assert_null(lw_telemetry_listener_start(&cfg, on_body, &sink, &health, &err));
    assert_int_equal(err, LW_ERR_INVALID);
    cfg.bind_address = "127.0.0.1";
    cfg.path = "no-slash";
    assert_null(lw_telemetry_listener_start(&cfg, on_body, &sink, &health, &err));
    assert_int_equal(err, LW_ERR_INVALID);
    lw_telemetry_listener_stop(NULL);
    pthread_mutex_destroy(&sink.mu);
}

static void test_configured_path(void **state)
{
    (void)state;
    struct sink sink = {0};
    pthread_mutex_init(&sink.mu, NULL);
    struct lw_health health = {0};
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.path = "/telemetry";
    enum lw_err err;
    struct lw_telemetry_listener *l =
        lw_telemetry_listener_start(&cfg, on_body, &sink, &health, &err);
    assert_non_null(l);
    char resp[512];
    int fd = connect_to(lw_telemetry_listener_port(l));
    send_str(fd, "POST /telemetry HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    send_str(fd, "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 404);
    close(fd);
    assert_int_equal(sink.n, 1);
    assert_int_equal(health.c[LW_H_TELEMETRY_REJECTED], 1);
    lw_telemetry_listener_stop(l);
    pthread_mutex_destroy(&sink.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_alive_and_pieces),
        cmocka_unit_test(test_chunked_and_expect),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_large_body),
        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_port_taken),
        cmocka_unit_test(test_configured_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
