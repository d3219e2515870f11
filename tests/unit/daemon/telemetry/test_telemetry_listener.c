#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <leakwatch/telemetry_listener.h>

#include "fake_clock.h"

/* Bodies seen by the callback (on the listener's thread). */
struct sink {
    pthread_mutex_t mu;
    int n;
    char last[4096];
    size_t last_len;
    size_t total_bytes;
    pthread_t thread; /* the thread of the last call */
};

static void on_body(void *ctx, const char *body, size_t len)
{
    struct sink *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->thread = pthread_self();
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

/* The listener's thread adds with atomics; a plain read here would race with it. */
static uint64_t counter(struct fixture *f, enum lw_health_counter which)
{
    struct lw_health now;
    lw_health_read(&f->health, &now);
    return now.c[which];
}

/* A listener on 127.0.0.1 at path "/" (the HTTP mechanics), or as cfg says. */
static struct fixture *start_with(struct lw_telemetry_listener_config *cfg)
{
    /* What these tests check is the listener's own handling of peers, silent ones included;
     * the kernel's deferral of the accept (on by default) has its own test, which sets it. */
    if (cfg->defer_accept_s == 0)
        cfg->defer_accept_s = -1;
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pthread_mutex_init(&f->sink.mu, NULL);
    enum lw_err err;
    f->l = lw_telemetry_listener_start(cfg, on_body, &f->sink, &f->health, &err);
    assert_non_null(f->l);
    assert_int_equal(err, LW_OK);
    f->port = lw_telemetry_listener_port(f->l);
    assert_true(f->port != 0);
    return f;
}

static struct fixture *start(size_t max_body_bytes)
{
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.path = "/";
    cfg.max_body_bytes = max_body_bytes;
    return start_with(&cfg);
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
    int one = 1; /* a head and its body in two writes must not wait for a delayed ACK */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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

/* Closed by the listener: an orderly end, or a reset when the listener closed it with bytes
 * of ours still unread. One still open blocks until the 10 s receive timeout: not closed. */
static bool peer_closed(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Closed already, without waiting: give the listener's turn a moment to finish its drops. */
static bool closed_now(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 50) <= 0)
        return false;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    return n == 0 || (n < 0 && errno == ECONNRESET);
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
    assert_int_equal(counter(f, LW_H_TELEMETRY_REJECTED), 0);
    stop(f);
}

/* The platform's side for test_on_the_callers_thread: waits for the answer to its post, then
 * makes the caller's fd readable. */
struct answer_then_wake {
    int client, wake_wr, status;
};

static void *answer_then_wake(void *arg)
{
    struct answer_then_wake *a = arg;
    char resp[512];
    a->status = read_status(a->client, resp, sizeof(resp));
    assert_int_equal(write(a->wake_wr, "x", 1), 1);
    return NULL;
}

static int sink_n(struct fixture *f)
{
    pthread_mutex_lock(&f->sink.mu);
    int n = f->sink.n;
    pthread_mutex_unlock(&f->sink.mu);
    return n;
}

/* The daemon's listener has no thread: it is served while the event loop waits for its own
 * fd, on the event loop's thread, until it is given a thread of its own for SHUTDOWN. */
static void test_on_the_callers_thread(void **state)
{
    (void)state;
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.path = "/";
    cfg.on_caller_thread = true;
    struct fixture *f = start_with(&cfg);
    int wake[2];
    assert_int_equal(pipe(wake), 0);
    int fd = connect_to(f->port);
    post(fd, batch, "");
    /* Nobody serves it yet: no answer comes by itself. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 100), 0);
    assert_int_equal(sink_n(f), 0);

    /* Served while the caller waits for its fd, on the caller's thread, until the fd is
     * readable. */
    struct answer_then_wake a = {.client = fd, .wake_wr = wake[1]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, answer_then_wake, &a), 0);
    assert_int_equal(lw_telemetry_listener_serve_until(f->l, wake[0]), LW_OK);
    pthread_join(t, NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal(sink_n(f), 1);
    assert_true(pthread_equal(f->sink.thread, pthread_self()));

    /* The caller's fd stays readable (back-to-back invocations): every call returns at once,
     * and the listener still gets its turn, at the start of the next call. */
    post(fd, batch, "");
    assert_int_equal(poll(&(struct pollfd){.fd = wake[0], .events = POLLIN}, 1, 0), 1);
    usleep(50 * 1000); /* the post is in the listener's socket */
    for (int i = 0; i < 3 && sink_n(f) < 2; i++)
        assert_int_equal(lw_telemetry_listener_serve_until(f->l, wake[0]), LW_OK);
    assert_int_equal(sink_n(f), 2);
    char resp[512];
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);

    /* A thread of its own: served with nobody waiting. */
    assert_int_equal(lw_telemetry_listener_start_thread(f->l), LW_OK);
    post(fd, batch, "");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    assert_int_equal(sink_n(f), 3);
    assert_false(pthread_equal(f->sink.thread, pthread_self()));
    close(fd);
    close(wake[0]);
    close(wake[1]);
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
    assert_int_equal(counter(f, LW_H_TELEMETRY_REJECTED), n_cases + 1);
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
    /* Strangers beyond the bound push out the oldest strangers. */
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
    cfg.path = "/";
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
    /* never a wildcard, whoever asks */
    cfg.bind_address = "0.0.0.0";
    assert_null(lw_telemetry_listener_start(&cfg, on_body, &sink, &health, &err));
    assert_int_equal(err, LW_ERR_INVALID);
    cfg.bind_address = "::";
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
    lw_telemetry_listener_stop(l);
    assert_int_equal(sink.n, 1);
    assert_int_equal(health.c[LW_H_TELEMETRY_REJECTED], 1);
    pthread_mutex_destroy(&sink.mu);
}

/* A client socket connected to addr:port, or -1 (errno set) when nothing listens there. */
static int try_connect(const char *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    int family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
    if (family == AF_INET) {
        struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
        sa->sin_family = AF_INET;
        sa->sin_port = htons(port);
        assert_int_equal(inet_pton(AF_INET, addr, &sa->sin_addr), 1);
        sl = sizeof(*sa);
    } else {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(port);
        assert_int_equal(inet_pton(AF_INET6, addr, &sa->sin6_addr), 1);
        sl = sizeof(*sa);
    }
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void post_path(int fd, const char *path, const char *body)
{
    char head[512];
    snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", path,
             strlen(body));
    send_str(fd, head);
    send_str(fd, body);
}

static int sink_count(struct sink *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* By default the only path accepted is an unguessable one, different for every listener. */
static void test_secret_path(void **state)
{
    (void)state;
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    struct fixture *a = start_with(&cfg);
    struct fixture *b = start_with(&cfg);
    const char *path = lw_telemetry_listener_path(a->l);
    assert_int_equal(strlen(path), LW_TELEMETRY_SECRET_PATH_BYTES);
    assert_int_equal(path[0], '/');
    assert_int_equal(strspn(path + 1, "0123456789abcdef"), LW_TELEMETRY_SECRET_PATH_BYTES - 1);
    assert_string_not_equal(path, lw_telemetry_listener_path(b->l));

    char resp[512];
    char guess[64];
    snprintf(guess, sizeof(guess), "%.*s", LW_TELEMETRY_SECRET_PATH_BYTES - 1, path);
    const char *wrong[] = {"/", guess, lw_telemetry_listener_path(b->l)};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        int fd = connect_to(a->port);
        post_path(fd, wrong[i], batch);
        assert_int_equal(read_status(fd, resp, sizeof(resp)), 404);
        assert_true(peer_closed(fd));
        close(fd);
    }
    int fd = connect_to(a->port);
    post_path(fd, path, batch);
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    close(fd);
    assert_int_equal(sink_count(&a->sink), 1);
    assert_int_equal(counter(a, LW_H_TELEMETRY_REJECTED), 3);
    stop(a);
    stop(b);
}

/*
 * A peer that pipelines thousands of requests and never reads an answer: it costs the others
 * nothing. Its answers are never waited for (it is closed when one does not fit), it is read no
 * faster than it is answered, and it gets at most the per-connection budget.
 */
static void test_pipeliner_cannot_hold_the_listener(void **state)
{
    (void)state;
    struct fixture *f = start(0);
    int hog = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(hog >= 0);
    int small = 1; /* the kernel's smallest receive buffer: full after a few dozen answers */
    setsockopt(hog, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(hog, (struct sockaddr *)&sa, sizeof(sa)), 0);
    static const char one[] = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]";
    /* Thousands of requests handed to the kernel at once, before the listener can answer (and
     * then drop) it: sent one at a time, the listener, answering concurrently, could drop the
     * peer before a hundred were out (seen once under ASan). */
    enum { MANY = 4000, ONE = sizeof(one) - 1 };
    static char many[MANY * ONE];
    for (size_t i = 0; i < MANY; i++)
        memcpy(many + i * ONE, one, ONE);
    size_t bytes = 0;
    while (bytes < sizeof(many)) {
        ssize_t n = send(hog, many + bytes, sizeof(many) - bytes, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0)
            break; /* its send buffer is full too: the listener reads no faster than it answers */
        bytes += (size_t)n;
    }
    size_t sent = bytes / ONE; /* whole requests */
    assert_true(sent > 100);

    /* Lambda's own POST is answered meanwhile. */
    int fd = connect_to(f->port);
    char resp[512];
    post(fd, batch, "");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    close(fd);

    /* The pipeliner: whatever it reads now, the connection ends, long before its requests do. */
    struct timeval tv = {.tv_sec = 10};
    setsockopt(hog, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t answers = 0;
    for (;;) {
        int status = read_status(hog, resp, sizeof(resp));
        if (status != 200)
            break;
        answers++;
    }
    close(hog);
    /* what the listener took from it (the one other body aside) */
    size_t taken = (size_t)sink_count(&f->sink) - 1;
    print_message("%zu requests sent, %zu taken, %zu answers read, %llu dropped\n", sent, taken,
                  answers, (unsigned long long)counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED));
    assert_true(answers <= taken);
    assert_true(taken < sent);
    /* closed because its answers no longer fitted in the connection's small send buffer, long
     * before its budget: a peer that does not read costs the listener a few hundred requests
     * at most, not a thousand */
    assert_int_equal(counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED), 1);
    assert_true(taken < LW_TELEMETRY_MAX_REQUESTS_PER_CONNECTION / 2);
    stop(f);
}

/* The budget: after LW_TELEMETRY_MAX_REQUESTS_PER_CONNECTION answers, "Connection: close". */
static void test_request_budget(void **state)
{
    (void)state;
    struct fixture *f = start(0);
    int fd = connect_to(f->port);
    char resp[512];
    for (unsigned i = 1; i <= LW_TELEMETRY_MAX_REQUESTS_PER_CONNECTION; i++) {
        post(fd, "[]", "");
        assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
        assert_int_equal(strstr(resp, "Connection: close") != NULL,
                         i == LW_TELEMETRY_MAX_REQUESTS_PER_CONNECTION);
    }
    assert_true(peer_closed(fd));
    close(fd);
    /* a new connection is served as before */
    fd = connect_to(f->port);
    post(fd, "[]", "");
    assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
    close(fd);
    assert_int_equal(counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED), 0);
    stop(f);
}

/*
 * Strangers (connections that never sent a request to the right path) cannot push out the
 * platform's connections: neither its idle keep-alive one nor one in the middle of a request.
 */
static void test_strangers_never_push_out_the_platform(void **state)
{
    (void)state;
    struct fixture *f = start(0);
    char resp[512];
    int keep = connect_to(f->port);
    post(keep, "[]", "");
    assert_int_equal(read_status(keep, resp, sizeof(resp)), 200);
    /* half a request on another connection */
    int half = connect_to(f->port);
    send_str(half, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n[1");
    enum { FLOOD = 4 * LW_TELEMETRY_MAX_CONNECTIONS };
    int strangers[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        strangers[i] = connect_to(f->port);
        if (i % 2)
            send_str(strangers[i], "POST /"); /* a head that never ends */
    }
    /* a proven connection answers only after the listener saw every stranger: it takes turns */
    int probe = connect_to(f->port);
    post(probe, "[]", "");
    assert_int_equal(read_status(probe, resp, sizeof(resp)), 200);
    close(probe);

    send_str(half, "2]");
    assert_int_equal(read_status(half, resp, sizeof(resp)), 200);
    post(keep, "[3]", "");
    assert_int_equal(read_status(keep, resp, sizeof(resp)), 200);
    assert_int_equal(sink_count(&f->sink), 4);
    /* the oldest strangers made room for the newer ones */
    assert_true(peer_closed(strangers[0]));
    assert_true(counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED) >=
                FLOOD - LW_TELEMETRY_MAX_CONNECTIONS);
    for (int i = 0; i < FLOOD; i++)
        close(strangers[i]);
    close(keep);
    close(half);
    stop(f);
}

/*
 * The platform's connection whose request line to the secret path is in, its head still on the
 * way, is in the middle of a request: a flood of strangers (silent, "POST /", other paths) never
 * pushes it out, though it has not proven itself yet and is the oldest unproven one.
 */
static void test_a_request_line_to_the_secret_path_keeps_its_slot(void **state)
{
    (void)state;
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.path = "/b3f1c0de";
    struct fixture *f = start_with(&cfg);
    static const char full[] = "POST /b3f1c0de HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]";
    char resp[512];
    int platform = connect_to(f->port);
    send_str(platform, "POST /b3f1c0de HTTP/1.1\r\nHost: sandbox.localdomain\r\nContent-Le");
    /* a complete request after it: answered only once the listener has read the first */
    int probe = connect_to(f->port);
    send_str(probe, full);
    assert_int_equal(read_status(probe, resp, sizeof(resp)), 200);
    close(probe);
    enum { FLOOD = 4 * LW_TELEMETRY_MAX_CONNECTIONS };
    int strangers[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        strangers[i] = connect_to(f->port);
        if (i % 4 == 1)
            send_str(strangers[i], "POST /");
        else if (i % 4 == 2)
            send_str(strangers[i], "POST /b3f1c0dX HTTP/1.1\r\n");
    }
    probe = connect_to(f->port);
    send_str(probe, full);
    assert_int_equal(read_status(probe, resp, sizeof(resp)), 200);
    close(probe);
    send_str(platform, "ngth: 3\r\n\r\n[7]");
    assert_int_equal(read_status(platform, resp, sizeof(resp)), 200);
    assert_int_equal(sink_count(&f->sink), 3);
    assert_true(peer_closed(strangers[0]));
    for (int i = 0; i < FLOOD; i++)
        close(strangers[i]);
    close(platform);
    stop(f);
}

/*
 * With the accept deferred to a connection's first bytes (the default), peers that connect and
 * say nothing wait in the kernel: a crowd of them takes no slot and pushes nobody out, and the
 * batch behind them is answered. The control, without it: the same crowd is accepted, fills
 * the slots and is pushed out.
 */
static void test_silent_peers_wait_outside(void **state)
{
    (void)state;
    for (int defer = 0; defer < 2; defer++) {
        struct lw_telemetry_listener_config cfg;
        lw_telemetry_listener_config_init(&cfg);
        cfg.bind_address = "127.0.0.1";
        cfg.port = 0;
        cfg.path = "/";
        /* far longer than the test: the silent ones are never handed over within it */
        cfg.defer_accept_s = defer ? 60 : -1;
        struct fixture *f = start_with(&cfg);
        /* fewer than the listen backlog (16): the kernel keeps them all */
        enum { CROWD = LW_TELEMETRY_MAX_CONNECTIONS + 4 };
        int silent[CROWD];
        for (int i = 0; i < CROWD; i++)
            silent[i] = connect_to(f->port);
        char resp[512];
        int platform = connect_to(f->port);
        post(platform, "[]", "");
        assert_int_equal(read_status(platform, resp, sizeof(resp)), 200);
        assert_int_equal(sink_count(&f->sink), 1);
        if (defer) {
            assert_int_equal(counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED), 0);
            assert_false(closed_now(silent[0]));
        } else {
            assert_true(counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED) >=
                        CROWD - LW_TELEMETRY_MAX_CONNECTIONS);
            assert_true(peer_closed(silent[0]));
        }
        for (int i = 0; i < CROWD; i++)
            close(silent[i]);
        close(platform);
        stop(f);
    }
}

/*
 * A stranger gets unproven_timeout_ms of listener time; a jump of the clock far beyond what
 * poll() was asked to wait is a freeze of the environment, and counts against nobody.
 */
static void test_unproven_timeout_and_freezes(void **state)
{
    (void)state;
    struct fake_clock fc;
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.path = "/";
    cfg.unproven_timeout_ms = 100;
    cfg.clock = fake_clock_init(&fc, 1767607200123ull);
    struct fixture *f = start_with(&cfg);
    char resp[512];
    int keep = connect_to(f->port);
    post(keep, "[]", "");
    assert_int_equal(read_status(keep, resp, sizeof(resp)), 200);
    int stranger = connect_to(f->port);
    send_str(stranger, "POST");
    /* another request: answered after the listener has taken the stranger in */
    post(keep, "[]", "");
    assert_int_equal(read_status(keep, resp, sizeof(resp)), 200);

    /* Frozen for ten seconds: at the thaw the stranger gets its time again. */
    __atomic_fetch_add(&fc.mono_ms, 10000, __ATOMIC_RELAXED);
    int probe = connect_to(f->port);
    post(probe, "[]", "");
    assert_int_equal(read_status(probe, resp, sizeof(resp)), 200);
    close(probe);
    assert_int_equal(counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED), 0);

    /* Its time runs out while the environment runs. A listener turn slow enough (a loaded
     * machine, a sanitizer) to span the clock jumps above counts them as a freeze, as it must
     * (no real turn takes ten seconds), and gives the stranger its time again from the end of
     * that turn: the clock then moves on by the stranger's time until a turn sees it pass. */
    int steps = 0;
    do {
        __atomic_fetch_add(&fc.mono_ms, 150, __ATOMIC_RELAXED);
        post(keep, "[]", "");
        assert_int_equal(read_status(keep, resp, sizeof(resp)), 200);
        steps++;
    } while (steps < 10 && !closed_now(stranger));
    assert_true(peer_closed(stranger));
    assert_int_equal(counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED), 1);
    /* the platform's idle connection has no deadline */
    __atomic_fetch_add(&fc.mono_ms, 500, __ATOMIC_RELAXED);
    post(keep, "[]", "");
    assert_int_equal(read_status(keep, resp, sizeof(resp)), 200);
    assert_int_equal(sink_count(&f->sink), 4 + steps);
    close(stranger);
    close(keep);
    stop(f);
}

/* A proven connection may stall stall_timeout_ms in the middle of a request, then it goes. */
static void test_stalled_request(void **state)
{
    (void)state;
    struct fake_clock fc;
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.path = "/";
    cfg.stall_timeout_ms = 300;
    cfg.clock = fake_clock_init(&fc, 1767607200123ull);
    struct fixture *f = start_with(&cfg);
    char resp[512];
    int stalled = connect_to(f->port);
    send_str(stalled, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n[1");
    int other = connect_to(f->port);
    post(other, "[]", "");
    assert_int_equal(read_status(other, resp, sizeof(resp)), 200);
    /* within its time: still there */
    __atomic_fetch_add(&fc.mono_ms, 200, __ATOMIC_RELAXED);
    post(other, "[]", "");
    assert_int_equal(read_status(other, resp, sizeof(resp)), 200);
    assert_int_equal(counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED), 0);
    /* past it */
    __atomic_fetch_add(&fc.mono_ms, 200, __ATOMIC_RELAXED);
    post(other, "[]", "");
    assert_int_equal(read_status(other, resp, sizeof(resp)), 200);
    assert_true(peer_closed(stalled));
    assert_int_equal(counter(f, LW_H_TELEMETRY_CONNECTIONS_DROPPED), 1);
    assert_int_equal(sink_count(&f->sink), 3);
    close(stalled);
    close(other);
    stop(f);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* The address sandbox.localdomain has in the hosts file, else 127.0.0.1; never a wildcard. */
static void test_bind_address_from_hosts(void **state)
{
    (void)state;
    char hosts[] = "/tmp/lw-hosts-XXXXXX";
    int hfd = mkstemp(hosts);
    assert_true(hfd >= 0);
    close(hfd);
    struct {
        const char *file;  /* NULL: no such file */
        const char *bound; /* the address expected */
        const char *other; /* an address that must refuse */
    } cases[] = {
        {"127.0.0.1 localhost\n127.0.0.2 sandbox.localdomain sandbox\n", "127.0.0.2", "127.0.0.1"},
        {"127.0.0.1 localhost\n", "127.0.0.1", "127.0.0.2"},
        {NULL, "127.0.0.1", "127.0.0.2"},
        {"0.0.0.0 sandbox.localdomain\n", "127.0.0.1", "127.0.0.2"},
        /* TEST-NET-1: not an address of this machine, so Lambda could not deliver there */
        {"192.0.2.77 sandbox.localdomain\n", "127.0.0.1", "127.0.0.2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lw_telemetry_listener_config cfg;
        lw_telemetry_listener_config_init(&cfg);
        cfg.port = 0;
        cfg.path = "/";
        if (cases[i].file != NULL) {
            write_file(hosts, cases[i].file);
            cfg.hosts_path = hosts;
        } else {
            cfg.hosts_path = "/nonexistent/hosts";
        }
        struct fixture *f = start_with(&cfg);
        assert_string_equal(lw_telemetry_listener_address(f->l), cases[i].bound);
        int fd = try_connect(cases[i].bound, f->port);
        assert_true(fd >= 0);
        char resp[512];
        post(fd, "[]", "");
        assert_int_equal(read_status(fd, resp, sizeof(resp)), 200);
        close(fd);
        assert_int_equal(try_connect(cases[i].other, f->port), -1);
        assert_int_equal(errno, ECONNREFUSED);
        stop(f);
    }
    unlink(hosts);
}

/* on_body blocks until the test lets it go: the listener's longest task, at its worst. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool inside, open;
};

static void on_body_gated(void *ctx, const char *body, size_t len)
{
    (void)body;
    (void)len;
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->inside = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static struct lw_telemetry_listener *left_running; /* still reachable: not a leak */

/* At SHUTDOWN the caller waits for the listener's thread no longer than its deadline. */
/* The threads of this process, from /proc/self/task. */
static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_stop_keeps_the_deadline(void **state)
{
    (void)state;
    static struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    static struct lw_health health;
    struct lw_telemetry_listener_config cfg;
    lw_telemetry_listener_config_init(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.path = "/";
    enum lw_err err;
    int before = threads_now(); /* a sanitizer may run threads of its own */
    left_running = lw_telemetry_listener_start(&cfg, on_body_gated, &g, &health, &err);
    assert_non_null(left_running);
    int fd = connect_to(lw_telemetry_listener_port(left_running));
    post(fd, "[]", "");
    pthread_mutex_lock(&g.mu);
    while (!g.inside)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    /* If this waited for the thread, the test would never get past it: the gate opens after. */
    lw_telemetry_listener_stop_by(left_running, lw_clock_wall_ms(lw_clock_system()) + 50);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    close(fd);
    /* Let out, the thread left running ends by itself (and frees what it had), before the
     * process exits under it: the threads are those there were before it started. */
    int n = threads_now();
    for (int i = 0; i < 500 && n != before; i++) {
        usleep(10000);
        n = threads_now();
    }
    assert_int_equal(n, before);
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
        cmocka_unit_test(test_secret_path),
        cmocka_unit_test(test_pipeliner_cannot_hold_the_listener),
        cmocka_unit_test(test_request_budget),
        cmocka_unit_test(test_strangers_never_push_out_the_platform),
        cmocka_unit_test(test_a_request_line_to_the_secret_path_keeps_its_slot),
        cmocka_unit_test(test_silent_peers_wait_outside),
        cmocka_unit_test(test_unproven_timeout_and_freezes),
        cmocka_unit_test(test_stalled_request),
        cmocka_unit_test(test_bind_address_from_hosts),
        cmocka_unit_test(test_stop_keeps_the_deadline),
        cmocka_unit_test(test_on_the_callers_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
