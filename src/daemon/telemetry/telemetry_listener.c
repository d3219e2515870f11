#include <leakwatch/limits.h>
#include <leakwatch/log.h>
#include <leakwatch/telemetry_http.h>
#include <leakwatch/telemetry_listener.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/*
 * One thread, one poll() over a wake-up pipe, the listening socket and at most
 * LW_TELEMETRY_MAX_CONNECTIONS connections. Each connection owns one receive buffer holding the
 * request being read: it starts small, grows to what the parsed head announces (never above
 * head cap + body cap + one read of slack) and shrinks back after a large body, so an idle
 * environment keeps only a few KiB. Sockets stay blocking for send (with a 1 s timeout; answers
 * are a few dozen bytes) and are read with MSG_DONTWAIT after poll() says so.
 */

#define PATH_MAX_BYTES 256
#define BUF_START_BYTES (16 * 1024)
#define BUF_SLACK_BYTES (16 * 1024)
#define BUF_KEEP_BYTES (64 * 1024)
#define SEND_TIMEOUT_S 1
#define ACCEPT_RETRY_MS 1000

enum phase { PHASE_HEAD = 0, PHASE_BODY };

struct conn {
    int fd; /* -1: free slot */
    char *buf;
    size_t cap, len;
    enum phase phase;
    struct lw_telemetry_http_request req;
    size_t head_bytes;
    bool continue_sent;
    struct lw_telemetry_http_chunked dec;
    size_t body_len; /* chunked: decoded bytes at buf[head_bytes..) */
    uint64_t last_active;
};

struct lw_telemetry_listener {
    int listen_fd;
    int wake_rd, wake_wr;
    uint16_t port;
    char path[PATH_MAX_BYTES];
    struct lw_telemetry_http_limits limits;
    size_t max_buf_bytes;
    unsigned max_conns;
    struct conn conns[LW_TELEMETRY_MAX_CONNECTIONS];
    uint64_t activity;
    void (*on_body)(void *ctx, const char *body, size_t len);
    void *ctx;
    struct lw_health *health;
    pthread_t thread;
};

void lw_telemetry_listener_config_init(struct lw_telemetry_listener_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->bind_address = "0.0.0.0";
    cfg->port = LW_TELEMETRY_DEFAULT_PORT;
    cfg->path = "/";
    cfg->max_body_bytes = LW_TELEMETRY_HTTP_BODY_DEFAULT_BYTES;
    cfg->max_connections = LW_TELEMETRY_MAX_CONNECTIONS;
}

uint16_t lw_telemetry_listener_port(const struct lw_telemetry_listener *listener)
{
    return listener->port;
}

/* --- connections --------------------------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* Make room for `want` bytes in total. false when the cap forbids it or memory is short. */
static bool conn_reserve(struct lw_telemetry_listener *l, struct conn *c, size_t want)
{
    if (want <= c->cap)
        return true;
    if (want > l->max_buf_bytes)
        return false;
    size_t cap = c->cap ? c->cap : BUF_START_BYTES;
    while (cap < want)
        cap = cap > l->max_buf_bytes / 2 ? l->max_buf_bytes : cap * 2;
    char *buf = realloc(c->buf, cap);
    if (buf == NULL)
        return false;
    c->buf = buf;
    c->cap = cap;
    return true;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* the peer is gone or stuck: the connection is closed by the caller */
        data += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, int status, bool close_conn)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n%s%s\r\n", status,
                     lw_telemetry_http_reason(status), status == 405 ? "Allow: POST, PUT\r\n" : "",
                     close_conn ? "Connection: close\r\n" : "");
    if (n > 0 && (size_t)n < sizeof(msg))
        send_all(fd, msg, (size_t)n);
}

static void reject(struct lw_telemetry_listener *l, struct conn *c, int status)
{
    lw_health_add(l->health, LW_H_TELEMETRY_REJECTED, 1);
    lw_debug("telemetry listener: rejected a request with %d %s", status,
             lw_telemetry_http_reason(status));
    respond(c->fd, status, true);
    conn_close(c);
}

/* The body is complete: deliver, answer, and keep what follows (a pipelined request). */
static bool finish_request(struct lw_telemetry_listener *l, struct conn *c, const char *body,
                           size_t body_len, size_t rest_off)
{
    l->on_body(l->ctx, body, body_len);
    bool keep = c->req.keep_alive;
    respond(c->fd, 200, !keep);
    if (!keep) {
        conn_close(c);
        return false;
    }
    size_t rest = c->len - rest_off;
    memmove(c->buf, c->buf + rest_off, rest);
    c->len = rest;
    c->phase = PHASE_HEAD;
    c->continue_sent = false;
    if (c->cap > BUF_KEEP_BYTES && rest <= BUF_START_BYTES) {
        char *buf = realloc(c->buf, BUF_START_BYTES);
        if (buf != NULL) {
            c->buf = buf;
            c->cap = BUF_START_BYTES;
        }
    }
    return true;
}

/* Work through the bytes received so far. false when the connection was closed. */
static bool conn_process(struct lw_telemetry_listener *l, struct conn *c)
{
    for (;;) {
        if (c->phase == PHASE_HEAD) {
            if (c->len == 0)
                return true;
            enum lw_err err = lw_telemetry_http_parse_head(c->buf, c->len, &l->limits, &c->req);
            if (err == LW_ERR_NEED_MORE)
                return true;
            if (err != LW_OK) {
                reject(l, c, c->req.status);
                return false;
            }
            c->head_bytes = c->req.head_bytes;
            c->phase = PHASE_BODY;
            c->body_len = 0;
            if (c->req.chunked) {
                lw_telemetry_http_chunked_init(&c->dec, l->limits.max_body_bytes);
            } else if (!conn_reserve(l, c, c->head_bytes + (size_t)c->req.content_length)) {
                lw_warn("telemetry listener: no memory for a %llu-byte body",
                        (unsigned long long)c->req.content_length);
                reject(l, c, 503);
                return false;
            }
        }

        if (!c->req.chunked) {
            size_t need = c->head_bytes + (size_t)c->req.content_length;
            if (c->len < need)
                goto need_more;
            if (!finish_request(l, c, c->buf + c->head_bytes, (size_t)c->req.content_length, need))
                return false;
            continue;
        }

        size_t start = c->head_bytes + c->body_len;
        size_t out = 0, used = 0;
        enum lw_err err =
            lw_telemetry_http_chunked_decode(&c->dec, c->buf + start, c->len - start, &out, &used);
        size_t rest_off = start + used;
        c->body_len += out;
        if (err == LW_ERR_NEED_MORE) {
            c->len = c->head_bytes + c->body_len;
            goto need_more;
        }
        if (err != LW_OK) {
            reject(l, c, err == LW_ERR_TOO_LARGE ? 413 : 400);
            return false;
        }
        if (!finish_request(l, c, c->buf + c->head_bytes, c->body_len, rest_off))
            return false;
    }

need_more:
    /* The client waits for "100 Continue" before sending a body it announced with Expect. */
    if (c->req.expect_continue && !c->continue_sent) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        send_all(c->fd, cont, sizeof(cont) - 1);
        c->continue_sent = true;
    }
    return true;
}

static void conn_read(struct lw_telemetry_listener *l, struct conn *c)
{
    if (c->len == c->cap) {
        size_t want = c->cap ? c->cap * 2 : BUF_START_BYTES;
        if (want > l->max_buf_bytes)
            want = l->max_buf_bytes;
        if (!conn_reserve(l, c, want) || c->len == c->cap) {
            /* Only reachable with a body framing that outgrew every cap: refuse it. */
            reject(l, c, c->phase == PHASE_HEAD ? 431 : 413);
            return;
        }
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        /* Closed by the peer (or reset): a request cut short is not answered. */
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->last_active = ++l->activity;
    conn_process(l, c);
}

/* A free slot; when all are busy, the least recently active connection (idle first) goes. */
static struct conn *free_slot(struct lw_telemetry_listener *l)
{
    struct conn *victim = NULL;
    for (unsigned i = 0; i < l->max_conns; i++) {
        struct conn *c = &l->conns[i];
        if (c->fd < 0)
            return c;
        bool idle = c->phase == PHASE_HEAD && c->len == 0;
        bool victim_idle = victim && victim->phase == PHASE_HEAD && victim->len == 0;
        if (victim == NULL || (idle && !victim_idle) ||
            (idle == victim_idle && c->last_active < victim->last_active))
            victim = c;
    }
    lw_debug("telemetry listener: %u connections open, closing the least recently used",
             l->max_conns);
    conn_close(victim);
    return victim;
}

/* false when accepting failed for lack of descriptors: pause accepting for a while. */
static bool accept_one(struct lw_telemetry_listener *l)
{
    int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            lw_warn("telemetry listener: accept: %s", strerror(errno));
            return false;
        }
        return true; /* EAGAIN, EINTR, ECONNABORTED: nothing to do */
    }
    struct timeval tv = {.tv_sec = SEND_TIMEOUT_S};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct conn *c = free_slot(l);
    c->fd = fd;
    c->last_active = ++l->activity;
    return true;
}

static void *listener_main(void *arg)
{
    struct lw_telemetry_listener *l = arg;
    /* its name in top -H, perf and /proc/PID/task/TID/comm */
    pthread_setname_np(pthread_self(), "lw-telemetry");
    struct pollfd pfds[2 + LW_TELEMETRY_MAX_CONNECTIONS];
    struct conn *polled[LW_TELEMETRY_MAX_CONNECTIONS];
    bool accept_paused = false;

    for (;;) {
        nfds_t n = 0;
        pfds[n++] = (struct pollfd){.fd = l->wake_rd, .events = POLLIN};
        pfds[n++] = (struct pollfd){.fd = accept_paused ? -1 : l->listen_fd, .events = POLLIN};
        unsigned n_conns = 0;
        for (unsigned i = 0; i < l->max_conns; i++) {
            if (l->conns[i].fd < 0)
                continue;
            polled[n_conns++] = &l->conns[i];
            pfds[n++] = (struct pollfd){.fd = l->conns[i].fd, .events = POLLIN};
        }
        /* The only timeout: retrying accept after running out of descriptors. */
        int rc = poll(pfds, n, accept_paused ? ACCEPT_RETRY_MS : -1);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            lw_error("telemetry listener: poll: %s; listener stopped", strerror(errno));
            break;
        }
        if (pfds[0].revents)
            break;
        accept_paused = false;
        for (unsigned i = 0; i < n_conns; i++) {
            if (pfds[2 + i].revents & (POLLIN | POLLHUP | POLLERR))
                conn_read(l, polled[i]);
        }
        if (pfds[1].revents & POLLIN)
            accept_paused = !accept_one(l);
    }
    return NULL;
}

/* --- start / stop -------------------------------------------------------------------------- */

static int bind_port(int fd, struct in_addr addr, uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = addr};
    return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
}

static enum lw_err open_socket(struct lw_telemetry_listener *l, const char *address, uint16_t port)
{
    struct in_addr addr;
    if (inet_pton(AF_INET, address, &addr) != 1) {
        lw_error("telemetry listener: bad bind address \"%s\"", address);
        return LW_ERR_INVALID;
    }
    l->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->listen_fd < 0) {
        lw_error("telemetry listener: socket: %s", strerror(errno));
        return LW_ERR_IO;
    }
    int one = 1;
    setsockopt(l->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind_port(l->listen_fd, addr, port) != 0) {
        int e = errno;
        if (port == 0 || e != EADDRINUSE || bind_port(l->listen_fd, addr, 0) != 0) {
            lw_error("telemetry listener: bind %s:%u: %s", address, port, strerror(e));
            return LW_ERR_IO;
        }
        /* The subscription carries the port, so any free one does. */
        lw_warn("telemetry listener: port %u is taken; using an ephemeral port instead", port);
    }
    if (listen(l->listen_fd, 16) != 0) {
        lw_error("telemetry listener: listen: %s", strerror(errno));
        return LW_ERR_IO;
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    if (getsockname(l->listen_fd, (struct sockaddr *)&sa, &sl) != 0) {
        lw_error("telemetry listener: getsockname: %s", strerror(errno));
        return LW_ERR_IO;
    }
    l->port = ntohs(sa.sin_port);
    return LW_OK;
}

static void release(struct lw_telemetry_listener *l)
{
    for (unsigned i = 0; i < LW_TELEMETRY_MAX_CONNECTIONS; i++)
        conn_close(&l->conns[i]);
    if (l->listen_fd >= 0)
        close(l->listen_fd);
    if (l->wake_rd >= 0)
        close(l->wake_rd);
    if (l->wake_wr >= 0)
        close(l->wake_wr);
    free(l);
}

struct lw_telemetry_listener *
lw_telemetry_listener_start(const struct lw_telemetry_listener_config *cfg,
                            void (*on_body)(void *ctx, const char *body, size_t len), void *ctx,
                            struct lw_health *health, enum lw_err *err)
{
    struct lw_telemetry_listener *l = calloc(1, sizeof(*l));
    enum lw_err e = LW_OK;
    if (l == NULL) {
        lw_error("telemetry listener: out of memory");
        *err = LW_ERR_NOMEM;
        return NULL;
    }
    l->listen_fd = l->wake_rd = l->wake_wr = -1;
    for (unsigned i = 0; i < LW_TELEMETRY_MAX_CONNECTIONS; i++)
        l->conns[i].fd = -1;
    l->on_body = on_body;
    l->ctx = ctx;
    l->health = health;

    const char *path = cfg->path ? cfg->path : "/";
    size_t path_len = strlen(path);
    if (path_len == 0 || path_len >= sizeof(l->path) || path[0] != '/') {
        lw_error("telemetry listener: bad path \"%s\"", path);
        e = LW_ERR_INVALID;
        goto fail;
    }
    memcpy(l->path, path, path_len + 1);
    lw_telemetry_http_limits_init(&l->limits);
    l->limits.path = l->path;
    if (cfg->max_body_bytes > 0)
        l->limits.max_body_bytes = cfg->max_body_bytes < LW_TELEMETRY_HTTP_BODY_CAP_BYTES
                                       ? cfg->max_body_bytes
                                       : LW_TELEMETRY_HTTP_BODY_CAP_BYTES;
    l->max_buf_bytes = l->limits.max_head_bytes + l->limits.max_body_bytes + BUF_SLACK_BYTES;
    l->max_conns = cfg->max_connections;
    if (l->max_conns == 0 || l->max_conns > LW_TELEMETRY_MAX_CONNECTIONS)
        l->max_conns = LW_TELEMETRY_MAX_CONNECTIONS;

    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        lw_error("telemetry listener: pipe: %s", strerror(errno));
        e = LW_ERR_IO;
        goto fail;
    }
    l->wake_rd = p[0];
    l->wake_wr = p[1];
    if ((e = open_socket(l, cfg->bind_address ? cfg->bind_address : "0.0.0.0", cfg->port)) != LW_OK)
        goto fail;

    /* Signals belong to the main thread (its handlers only set a flag). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&l->thread, NULL, listener_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        lw_error("telemetry listener: pthread_create: %s", strerror(rc));
        e = LW_ERR_IO;
        goto fail;
    }
    lw_info("telemetry listener on port %u", l->port);
    *err = LW_OK;
    return l;
fail:
    release(l);
    *err = e;
    return NULL;
}

void lw_telemetry_listener_stop(struct lw_telemetry_listener *listener)
{
    if (listener == NULL)
        return;
    ssize_t n;
    do {
        n = write(listener->wake_wr, "x", 1);
    } while (n < 0 && errno == EINTR);
    pthread_join(listener->thread, NULL);
    release(listener);
}
