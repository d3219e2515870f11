#include <leakwatch/hosts.h>
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
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * One poll() over the listening socket and at most LW_TELEMETRY_MAX_CONNECTIONS connections,
 * every socket non-blocking, on one of two threads: the caller's, inside
 * lw_telemetry_listener_serve_until() (the daemon's event loop, which waits for event/next in
 * the same poll()), or a thread of its own, which also polls a wake-up pipe to be stopped. Each
 * connection owns one receive buffer holding the request being read: it starts small, grows to what
 * the parsed head announces (never above head cap + body cap + one read of slack) and shrinks back
 * after a large body, so an idle environment keeps only a few KiB.
 *
 * Answers are a few dozen bytes, written with MSG_DONTWAIT: a peer that reads them always has
 * room for them, so one that does not (its window and our send buffer full) is not reading, and
 * is closed rather than waited for. A connection processes one request per turn of the loop, and
 * is not read while a request it sent is still buffered, so a pipelining peer gets TCP's
 * backpressure instead of the listener's time, and every other connection gets its turn.
 *
 * Time: a connection that has not proven itself (sent a request head with the secret path) may
 * live unproven_ms; one that has may stall stall_ms in the middle of a request; an idle proven
 * connection (the platform's keep-alive) has no deadline at all. Lambda freezes the environment
 * between invocations, and whether CLOCK_MONOTONIC moves meanwhile is not documented: a wake-up
 * much later than poll() was asked for, or a loop turn that took far too long, is taken for a
 * freeze, and every deadline starts again, so that no connection is blamed for the platform's
 * pause.
 */

#define PATH_MAX_BYTES 256
#define BUF_START_BYTES (16 * 1024)
#define BUF_SLACK_BYTES (16 * 1024)
#define BUF_KEEP_BYTES (64 * 1024)
#define ACCEPT_RETRY_MS 1000
/* One per turn: a second accept4() after a batch's connection would almost always find none, a
 * system call per batch for nothing; a connection still waiting keeps the listening socket
 * readable, so the next poll() returns at once for it. */
#define ACCEPTS_PER_TURN 1
#define UNPROVEN_TIMEOUT_MS 2000
#define STALL_TIMEOUT_MS 10000
#define SEND_BUFFER_BYTES 4096 /* the kernel doubles it, and keeps at least 4.5 KiB */
#define FREEZE_SLACK_MS 1000
#define DEFER_ACCEPT_S 1 /* lw_telemetry_listener_config.defer_accept_s */
#define HOSTS_MAX_BYTES (64 * 1024)
#define HOSTS_PATH "/etc/hosts"
#define JOIN_GRACE_MS 10
#define NO_DEADLINE UINT64_MAX

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
    bool proven;     /* sent a request head with the secret path: the platform */
    bool ready;      /* bytes received not looked at yet: process before reading more */
    unsigned answered;
    uint64_t since_ms;    /* mono ms: its accept (unproven) or its last progress (proven) */
    uint64_t last_active; /* activity counter: the least recently active proven idle one goes */
    uint64_t accepted;    /* accept counter: the oldest stranger goes first */
};

struct lw_telemetry_listener {
    int listen_fd;
    int wake_rd, wake_wr;
    uint16_t port;
    char address[LW_HOSTS_ADDR_TEXT_MAX];
    char path[PATH_MAX_BYTES];
    struct lw_telemetry_http_limits limits;
    size_t max_buf_bytes;
    unsigned max_conns;
    uint32_t unproven_ms, stall_ms;
    const struct lw_clock *clock;
    struct conn conns[LW_TELEMETRY_MAX_CONNECTIONS];
    uint64_t activity;
    void (*on_body)(void *ctx, const char *body, size_t len);
    void *ctx;
    struct lw_health *health;
    bool accept_paused; /* too many files open: accept() is tried again after ACCEPT_RETRY_MS */
    bool owed;          /* serve_until returned with the listener's work waiting: a turn first */
    bool thread_started;
    pthread_t thread;
};

void lw_telemetry_listener_config_init(struct lw_telemetry_listener_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = LW_TELEMETRY_DEFAULT_PORT;
    cfg->max_body_bytes = LW_TELEMETRY_HTTP_BODY_DEFAULT_BYTES;
    cfg->max_connections = LW_TELEMETRY_MAX_CONNECTIONS;
}

uint16_t lw_telemetry_listener_port(const struct lw_telemetry_listener *listener)
{
    return listener->port;
}

const char *lw_telemetry_listener_path(const struct lw_telemetry_listener *listener)
{
    return listener->path;
}

const char *lw_telemetry_listener_address(const struct lw_telemetry_listener *listener)
{
    return listener->address;
}

/* --- connections --------------------------------------------------------------------------- */

static uint64_t now_ms(const struct lw_telemetry_listener *l)
{
    return lw_clock_mono_ms(l->clock);
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* Closed for stalling or to make room: counted, and said at debug level only (a hostile peer
 * could otherwise fill the log). */
static void conn_drop(struct lw_telemetry_listener *l, struct conn *c, const char *why)
{
    lw_health_add(l->health, LW_H_TELEMETRY_CONNECTIONS_DROPPED, 1);
    lw_debug("telemetry listener: closed a %s connection: %s", c->proven ? "proven" : "unproven",
             why);
    conn_close(c);
}

/* When the connection must have made progress, or NO_DEADLINE. */
static uint64_t conn_deadline(const struct lw_telemetry_listener *l, const struct conn *c)
{
    if (!c->proven)
        return c->since_ms + l->unproven_ms;
    if (c->phase == PHASE_BODY || c->len > 0)
        return c->since_ms + l->stall_ms;
    return NO_DEADLINE;
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

/* All of data, now, or false: the caller closes a connection that cannot take its answer. */
static bool send_now(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

static bool respond(int fd, int status, bool close_conn)
{
    /* the answer to every batch, as constants: formatting it cost a thousand instructions */
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    static const char ok_close[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (status == 200)
        return close_conn ? send_now(fd, ok_close, sizeof(ok_close) - 1)
                          : send_now(fd, ok, sizeof(ok) - 1);
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n%s%s\r\n", status,
                     lw_telemetry_http_reason(status), status == 405 ? "Allow: POST, PUT\r\n" : "",
                     close_conn ? "Connection: close\r\n" : "");
    return n > 0 && (size_t)n < sizeof(msg) && send_now(fd, msg, (size_t)n);
}

static void reject(struct lw_telemetry_listener *l, struct conn *c, int status)
{
    lw_health_add(l->health, LW_H_TELEMETRY_REJECTED, 1);
    lw_debug("telemetry listener: rejected a request with %d %s", status,
             lw_telemetry_http_reason(status));
    respond(c->fd, status, true); /* closed either way */
    conn_close(c);
}

/* The body is complete: deliver, answer, and keep what follows (a pipelined request) for the
 * next turn. false when the connection was closed. */
static bool finish_request(struct lw_telemetry_listener *l, struct conn *c, const char *body,
                           size_t body_len, size_t rest_off)
{
    l->on_body(l->ctx, body, body_len);
    c->answered++;
    bool keep = c->req.keep_alive && c->answered < LW_TELEMETRY_MAX_REQUESTS_PER_CONNECTION;
    if (!respond(c->fd, 200, !keep)) {
        conn_drop(l, c, "it does not read its answers");
        return false;
    }
    if (!keep) {
        conn_close(c);
        return false;
    }
    size_t rest = c->len - rest_off;
    memmove(c->buf, c->buf + rest_off, rest);
    c->len = rest;
    c->phase = PHASE_HEAD;
    c->continue_sent = false;
    c->ready = rest > 0;
    c->since_ms = now_ms(l);
    if (c->cap > BUF_KEEP_BYTES && rest <= BUF_START_BYTES) {
        char *buf = realloc(c->buf, BUF_START_BYTES);
        if (buf != NULL) {
            c->buf = buf;
            c->cap = BUF_START_BYTES;
        }
    }
    return true;
}

/* The head is complete and acceptable (its path is the secret one): the peer has proven itself.
 * false when the connection was closed. */
static bool start_body(struct lw_telemetry_listener *l, struct conn *c)
{
    c->proven = true;
    c->since_ms = now_ms(l);
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
    return true;
}

/* The client waits for "100 Continue" before sending a body it announced with Expect. */
static bool send_continue(struct lw_telemetry_listener *l, struct conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!c->req.expect_continue || c->continue_sent)
        return true;
    c->continue_sent = true;
    if (send_now(c->fd, cont, sizeof(cont) - 1))
        return true;
    conn_drop(l, c, "it does not read its answers");
    return false;
}

/*
 * Work through the bytes received so far, up to one answered request. On return c->ready says
 * whether buffered bytes are still to be looked at (a pipelined request) before reading more.
 */
static void conn_process(struct lw_telemetry_listener *l, struct conn *c)
{
    c->ready = false;
    if (c->phase == PHASE_HEAD) {
        if (c->len == 0)
            return;
        enum lw_err err = lw_telemetry_http_parse_head(c->buf, c->len, &l->limits, &c->req);
        if (err == LW_ERR_NEED_MORE)
            return;
        if (err != LW_OK) {
            reject(l, c, c->req.status);
            return;
        }
        if (!start_body(l, c))
            return;
    }

    if (!c->req.chunked) {
        size_t need = c->head_bytes + (size_t)c->req.content_length;
        if (c->len < need) {
            send_continue(l, c);
            return;
        }
        finish_request(l, c, c->buf + c->head_bytes, (size_t)c->req.content_length, need);
        return;
    }

    size_t start = c->head_bytes + c->body_len;
    size_t out = 0, used = 0;
    enum lw_err err =
        lw_telemetry_http_chunked_decode(&c->dec, c->buf + start, c->len - start, &out, &used);
    size_t rest_off = start + used;
    c->body_len += out;
    if (err == LW_ERR_NEED_MORE) {
        c->len = c->head_bytes + c->body_len;
        send_continue(l, c);
        return;
    }
    if (err != LW_OK) {
        reject(l, c, err == LW_ERR_TOO_LARGE ? 413 : 400);
        return;
    }
    finish_request(l, c, c->buf + c->head_bytes, c->body_len, rest_off);
}

/* One read of what the peer sent, then one step of processing. */
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
    if (c->proven)
        c->since_ms = now_ms(l);
    conn_process(l, c);
}

/*
 * What an unproven connection's first bytes say of it, measured against the request line only
 * the platform can send ("POST <secret path> "): NOT_PLATFORM when they differ from it; UNKNOWN
 * while they are a shorter part of it (nothing yet, or "POST /", which anyone can send);
 * PLATFORM once the whole of it has come, a head still on its way.
 */
enum first_bytes { NOT_PLATFORM, UNKNOWN, PLATFORM };

static enum first_bytes first_bytes(const struct lw_telemetry_listener *l, const struct conn *c)
{
    static const char method[] = "POST ";
    size_t m = sizeof(method) - 1, p = strlen(l->path);
    size_t n = c->len < m + p + 1 ? c->len : m + p + 1;
    for (size_t i = 0; i < n; i++) {
        char want = i < m ? method[i] : i < m + p ? l->path[i - m] : ' ';
        if (c->buf[i] != want)
            return NOT_PLATFORM;
    }
    return n == m + p + 1 ? PLATFORM : UNKNOWN;
}

/*
 * A slot for a new connection. When all are busy: the oldest unproven connection whose first
 * bytes cannot be the platform's goes, else the oldest whose bytes cannot tell yet (a stranger,
 * or the platform's own connection a moment before its request, which it sends at once), else
 * the least recently active proven connection that is idle between requests. A connection in
 * the middle of a request to the secret path is never pushed out, proven or with only its
 * request line in so far: NULL then.
 */
static struct conn *free_slot(struct lw_telemetry_listener *l)
{
    struct conn *stranger[2] = {NULL, NULL}, *idle = NULL; /* by enum first_bytes */
    for (unsigned i = 0; i < l->max_conns; i++) {
        struct conn *c = &l->conns[i];
        if (c->fd < 0)
            return c;
        if (!c->proven) {
            enum first_bytes k = first_bytes(l, c);
            if (k != PLATFORM && (stranger[k] == NULL || c->accepted < stranger[k]->accepted))
                stranger[k] = c;
        } else if (c->phase == PHASE_HEAD && c->len == 0) {
            if (idle == NULL || c->last_active < idle->last_active)
                idle = c;
        }
    }
    struct conn *victim = stranger[NOT_PLATFORM] != NULL ? stranger[NOT_PLATFORM]
                          : stranger[UNKNOWN] != NULL    ? stranger[UNKNOWN]
                                                         : idle;
    if (victim != NULL)
        conn_drop(l, victim, "all connections busy; a newer one takes its place");
    return victim;
}

/* false when accepting failed for lack of descriptors: pause accepting for a while. */
static bool accept_one(struct lw_telemetry_listener *l, bool *more)
{
    *more = false;
    int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            lw_warn("telemetry listener: accept: %s", strerror(errno));
            return false;
        }
        return true; /* EAGAIN, EINTR, ECONNABORTED: nothing to do */
    }
    *more = true;
    struct conn *c = free_slot(l);
    if (c == NULL) {
        lw_health_add(l->health, LW_H_TELEMETRY_CONNECTIONS_DROPPED, 1);
        lw_debug("telemetry listener: every connection is in the middle of a request; a new one "
                 "is refused");
        close(fd);
        return true;
    }
    c->fd = fd;
    c->since_ms = now_ms(l);
    c->last_active = c->accepted = ++l->activity;
    /* The platform sends its request right after connecting: read it before anything else can
     * take the slot. */
    conn_read(l, c);
    return true;
}

/* Every connection's deadline starts again from now: the environment was frozen. */
static void forgive(struct lw_telemetry_listener *l, uint64_t now)
{
    for (unsigned i = 0; i < l->max_conns; i++) {
        if (l->conns[i].fd >= 0)
            l->conns[i].since_ms = now;
    }
}

/* poll()'s timeout: 0 when a connection has buffered work, else until the first deadline. */
static int next_timeout(const struct lw_telemetry_listener *l, uint64_t now, bool accept_paused)
{
    uint64_t first = NO_DEADLINE;
    for (unsigned i = 0; i < l->max_conns; i++) {
        const struct conn *c = &l->conns[i];
        if (c->fd < 0)
            continue;
        if (c->ready)
            return 0;
        uint64_t d = conn_deadline(l, c);
        if (d < first)
            first = d;
    }
    uint64_t wait = first == NO_DEADLINE ? NO_DEADLINE : first > now ? first - now : 0;
    if (accept_paused && wait > ACCEPT_RETRY_MS)
        wait = ACCEPT_RETRY_MS;
    return wait == NO_DEADLINE ? -1 : (int)(wait < 60000 ? wait : 60000);
}

/* One turn's poll set, after the caller's first slots: the listening socket, then every open
 * connection (polled[] names them in order). Returns how many slots it filled. */
static nfds_t turn_fds(struct lw_telemetry_listener *l, struct pollfd *pfds, struct conn **polled,
                       unsigned *n_conns)
{
    nfds_t n = 0;
    pfds[n++] = (struct pollfd){.fd = l->accept_paused ? -1 : l->listen_fd, .events = POLLIN};
    *n_conns = 0;
    for (unsigned i = 0; i < l->max_conns; i++) {
        struct conn *c = &l->conns[i];
        if (c->fd < 0)
            continue;
        polled[(*n_conns)++] = c;
        /* not read while a request it sent is still buffered */
        pfds[n++] = (struct pollfd){.fd = c->fd, .events = c->ready ? 0 : POLLIN};
    }
    return n;
}

/* A poll() that began at t0 with this timeout returned at t1: far later than asked means the
 * environment was frozen meanwhile. */
static void after_poll(struct lw_telemetry_listener *l, uint64_t t0, uint64_t t1, int timeout)
{
    if (timeout >= 0 && t1 - t0 > (uint64_t)timeout + FREEZE_SLACK_MS)
        forgive(l, t1);
}

/* The work of one turn, on turn_fds()'s slots as poll() left them (rc its result). */
static void turn_work(struct lw_telemetry_listener *l, const struct pollfd *pfds,
                      struct conn *const *polled, unsigned n_conns, int rc, int timeout,
                      uint64_t t1)
{
    for (unsigned i = 0; i < n_conns; i++) {
        struct conn *c = polled[i];
        if (c->fd < 0)
            continue; /* closed earlier in this turn */
        if (c->ready)
            conn_process(l, c);
        else if (rc > 0 && (pfds[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
            conn_read(l, c);
    }
    for (unsigned i = 0; i < l->max_conns; i++) {
        struct conn *c = &l->conns[i];
        if (c->fd >= 0 && !c->ready && conn_deadline(l, c) <= t1)
            conn_drop(l, c,
                      c->proven ? "stalled in the middle of a request"
                                : "no request to the subscribed path in time");
    }
    if (rc > 0 && (pfds[0].revents & POLLIN)) {
        bool more = true;
        for (int k = 0; k < ACCEPTS_PER_TURN && more && !l->accept_paused; k++)
            l->accept_paused = !accept_one(l, &more);
    } else if (l->accept_paused && timeout >= 0) {
        l->accept_paused = false;
    }
    uint64_t t2 = now_ms(l);
    if (t2 - t1 > FREEZE_SLACK_MS)
        forgive(l, t2); /* frozen while working: no turn takes that long */
}

/* A connection has a request buffered, not processed yet. */
static bool conn_ready(const struct lw_telemetry_listener *l)
{
    for (unsigned i = 0; i < l->max_conns; i++) {
        if (l->conns[i].fd >= 0 && l->conns[i].ready)
            return true;
    }
    return false;
}

enum lw_err lw_telemetry_listener_serve_until(struct lw_telemetry_listener *l, int fd)
{
    struct pollfd pfds[2 + LW_TELEMETRY_MAX_CONNECTIONS];
    struct conn *polled[LW_TELEMETRY_MAX_CONNECTIONS];
    /* Work left by the last call, which returned first: one turn now, whatever fd says, so that
     * invocations back to back (fd readable at every call) never starve the listener. */
    bool owed = l->owed;
    l->owed = false;
    for (;;) {
        uint64_t t0 = now_ms(l);
        int timeout = owed ? 0 : next_timeout(l, t0, l->accept_paused);
        unsigned n_conns;
        pfds[0] = (struct pollfd){.fd = fd, .events = POLLIN};
        nfds_t n = 1 + turn_fds(l, pfds + 1, polled, &n_conns);
        int rc = poll(pfds, n, timeout);
        if (rc < 0 && errno != EINTR)
            return LW_ERR_IO;
        uint64_t t1 = now_ms(l);
        after_poll(l, t0, t1, timeout);
        bool answered = rc > 0 && pfds[0].revents;
        /* The caller's answer first: at a boundary, its reading is what cannot wait. What the
         * listener has waiting is owed a turn at the next call. */
        if (answered && !owed) {
            l->owed = rc > 1 || conn_ready(l);
            return LW_OK;
        }
        turn_work(l, pfds + 1, polled, n_conns, rc, timeout, t1);
        if (answered)
            return LW_OK;
        owed = false;
    }
}

static void *listener_main(void *arg)
{
    struct lw_telemetry_listener *l = arg;
    /* its name in top -H, perf and /proc/PID/task/TID/comm */
    pthread_setname_np(pthread_self(), "lw-telemetry");
    struct pollfd pfds[2 + LW_TELEMETRY_MAX_CONNECTIONS];
    struct conn *polled[LW_TELEMETRY_MAX_CONNECTIONS];

    for (;;) {
        uint64_t t0 = now_ms(l);
        int timeout = next_timeout(l, t0, l->accept_paused);
        unsigned n_conns;
        pfds[0] = (struct pollfd){.fd = l->wake_rd, .events = POLLIN};
        nfds_t n = 1 + turn_fds(l, pfds + 1, polled, &n_conns);
        int rc = poll(pfds, n, timeout);
        if (rc < 0 && errno != EINTR) {
            lw_error("telemetry listener: poll: %s; listener stopped", strerror(errno));
            break;
        }
        if (rc > 0 && pfds[0].revents)
            break;
        uint64_t t1 = now_ms(l);
        after_poll(l, t0, t1, timeout);
        turn_work(l, pfds + 1, polled, n_conns, rc, timeout, t1);
    }
    return NULL;
}

enum lw_err lw_telemetry_listener_start_thread(struct lw_telemetry_listener *l)
{
    if (l->thread_started)
        return LW_OK;
    /* Signals belong to the main thread (its handlers only set a flag). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&l->thread, NULL, listener_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        lw_error("telemetry listener: pthread_create: %s", strerror(rc));
        return LW_ERR_IO;
    }
    l->thread_started = true;
    return LW_OK;
}

/* --- start / stop -------------------------------------------------------------------------- */

/* "/" and 32 hex digits of 128 bits from the kernel's CSPRNG. */
static enum lw_err make_secret_path(char *out, size_t cap)
{
    unsigned char raw[16];
    size_t got = 0;
    unsigned flags = GRND_NONBLOCK;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, flags);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno == EAGAIN && flags != 0) {
            /* The pool is not initialised yet: from Linux 5.4 on that lasts well under a second,
             * and a guessable path would be worth nothing. */
            flags = 0;
        } else if (!(n < 0 && errno == EINTR)) {
            break;
        }
    }
    if (got < sizeof(raw)) {
        /* getrandom() is older than any Lambda kernel (3.17); this is for other machines. */
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;
        if (fd >= 0)
            close(fd);
        if (n != (ssize_t)sizeof(raw))
            return LW_ERR_IO;
    }
    static const char hex[] = "0123456789abcdef";
    if (cap < 2 + 2 * sizeof(raw))
        return LW_ERR_TOO_LARGE;
    out[0] = '/';
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[1 + 2 * i] = hex[raw[i] >> 4];
        out[2 + 2 * i] = hex[raw[i] & 15];
    }
    out[1 + 2 * sizeof(raw)] = '\0';
    return LW_OK;
}

/* What the hosts file says of the sandbox's name: LW_OK and *out, or why not (said by caller). */
static enum lw_err hosts_address(const char *hosts_path, struct lw_hosts_addr *out)
{
    char *text = malloc(HOSTS_MAX_BYTES);
    enum lw_err err = LW_ERR_NOT_FOUND;
    int fd = -1;
    if (text == NULL) {
        err = LW_ERR_NOMEM;
        goto out;
    }
    fd = open(hosts_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = LW_ERR_IO;
        goto out;
    }
    size_t len = 0;
    while (len < HOSTS_MAX_BYTES) {
        ssize_t n = read(fd, text + len, HOSTS_MAX_BYTES - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    /* A larger file is read as far as the cap: an entry beyond it is not seen. */
    err = lw_hosts_lookup(text, len, LW_TELEMETRY_SANDBOX_HOST, out);
out:
    if (fd >= 0)
        close(fd);
    free(text);
    return err;
}

static enum lw_err parse_address(const char *text, struct lw_hosts_addr *out)
{
    memset(out, 0, sizeof(*out));
    size_t len = strlen(text);
    if (len >= sizeof(out->text))
        return LW_ERR_INVALID;
    if (inet_pton(AF_INET, text, out->bytes) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, text, out->bytes) == 1)
        out->family = AF_INET6;
    else
        return LW_ERR_INVALID;
    memcpy(out->text, text, len + 1);
    return LW_OK;
}

static int bind_port(int fd, const struct lw_hosts_addr *a, uint16_t port)
{
    if (a->family == AF_INET) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        memcpy(&sa.sin_addr, a->bytes, 4);
        return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    }
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    memcpy(&sa.sin6_addr, a->bytes, 16);
    return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
}

/* A socket bound to a:port, or to a free port when that one is taken. -1 with errno. */
static int bound_socket(const struct lw_hosts_addr *a, uint16_t port, bool *fell_back)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Inherited by every accepted connection: the platform reads each answer before it sends
     * the next request, so one answer is ever waiting; a peer that does not read them fills
     * this after a few dozen and is closed, instead of being answered for its whole budget
     * into a buffer the kernel grows to megabytes. */
    int sndbuf = SEND_BUFFER_BYTES;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    /* Inherited too (Linux): no answer waits behind Nagle's algorithm for the acknowledgement
     * of the one before (pipelined requests). Set once here, not on every connection. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (a->family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    *fell_back = false;
    if (bind_port(fd, a, port) == 0)
        return fd;
    int e = errno;
    /* The subscription carries the port, so any free one does. */
    if (port != 0 && e == EADDRINUSE && bind_port(fd, a, 0) == 0) {
        *fell_back = true;
        return fd;
    }
    close(fd);
    errno = e;
    return -1;
}

/*
 * Where to listen: the configured address; else the hosts file's address of the sandbox's name
 * when it is one of this machine's; else the loopback address. Never a wildcard.
 */
static enum lw_err open_socket(struct lw_telemetry_listener *l,
                               const struct lw_telemetry_listener_config *cfg)
{
    struct lw_hosts_addr a;
    const char *hosts_path = cfg->hosts_path != NULL ? cfg->hosts_path : HOSTS_PATH;
    char why[160] = "";
    bool from_hosts = false;
    if (cfg->bind_address != NULL) {
        if (parse_address(cfg->bind_address, &a) != LW_OK) {
            lw_error("telemetry listener: bad bind address \"%.60s\"", cfg->bind_address);
            return LW_ERR_INVALID;
        }
        if (lw_hosts_addr_is_wildcard(&a)) {
            lw_error("telemetry listener: %s is a wildcard address: refused", a.text);
            return LW_ERR_INVALID;
        }
    } else {
        enum lw_err err = hosts_address(hosts_path, &a);
        from_hosts = err == LW_OK && !lw_hosts_addr_is_wildcard(&a);
        if (err == LW_OK && !from_hosts)
            lw_warn("telemetry listener: %s names %s a wildcard address (%s); listening on %s "
                    "instead",
                    hosts_path, LW_TELEMETRY_SANDBOX_HOST, a.text, LW_TELEMETRY_FALLBACK_ADDRESS);
        else if (err != LW_OK)
            snprintf(why, sizeof(why), " (%s: no %s)", hosts_path, LW_TELEMETRY_SANDBOX_HOST);
        if (!from_hosts)
            parse_address(LW_TELEMETRY_FALLBACK_ADDRESS, &a);
    }

    bool fell_back = false;
    l->listen_fd = bound_socket(&a, cfg->port, &fell_back);
    if (l->listen_fd < 0 && from_hosts && errno == EADDRNOTAVAIL) {
        /* Not an address of this machine: Lambda could not deliver there either. */
        lw_warn("telemetry listener: %s gives %s the address %s, which is not this machine's; "
                "listening on %s instead",
                hosts_path, LW_TELEMETRY_SANDBOX_HOST, a.text, LW_TELEMETRY_FALLBACK_ADDRESS);
        parse_address(LW_TELEMETRY_FALLBACK_ADDRESS, &a);
        from_hosts = false;
        l->listen_fd = bound_socket(&a, cfg->port, &fell_back);
    }
    if (l->listen_fd < 0) {
        lw_error("telemetry listener: bind %s:%u: %s", a.text, cfg->port, strerror(errno));
        return LW_ERR_IO;
    }
    if (fell_back)
        lw_warn("telemetry listener: port %u is taken; using an ephemeral port instead", cfg->port);
    if (listen(l->listen_fd, 16) != 0) {
        lw_error("telemetry listener: listen: %s", strerror(errno));
        return LW_ERR_IO;
    }
    /* A connection becomes acceptable when its first bytes arrive, not at its handshake: the
     * platform connects and sends at once, and without this the connect and the request often
     * came as two wake-ups, an accept and a read that found nothing (on a function's CPU quota,
     * each one counts). A peer that connects and sends nothing takes no connection slot while
     * it is silent; after defer_s the kernel hands it over, to be judged as any other. Where
     * the kernel refuses the option, connections are accepted at the handshake. */
    int defer_s = cfg->defer_accept_s == 0 ? DEFER_ACCEPT_S : cfg->defer_accept_s;
    if (defer_s > 0 &&
        setsockopt(l->listen_fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof(defer_s)) != 0)
        lw_debug("telemetry listener: TCP_DEFER_ACCEPT: %s", strerror(errno));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(l->listen_fd, (struct sockaddr *)&ss, &sl) != 0) {
        lw_error("telemetry listener: getsockname: %s", strerror(errno));
        return LW_ERR_IO;
    }
    l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    memcpy(l->address, a.text, sizeof(l->address));
    if (from_hosts)
        snprintf(why, sizeof(why), " (%s in %s)", LW_TELEMETRY_SANDBOX_HOST, hosts_path);
    lw_info("telemetry listener on %s%s%s:%u%s", a.family == AF_INET6 ? "[" : "", a.text,
            a.family == AF_INET6 ? "]" : "", l->port, why);
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
    l->clock = lw_clock_or_system(cfg->clock);
    l->unproven_ms = cfg->unproven_timeout_ms ? cfg->unproven_timeout_ms : UNPROVEN_TIMEOUT_MS;
    l->stall_ms = cfg->stall_timeout_ms ? cfg->stall_timeout_ms : STALL_TIMEOUT_MS;

    if (cfg->path == NULL) {
        if ((e = make_secret_path(l->path, sizeof(l->path))) != LW_OK) {
            /* A guessable path would let anything in the sandbox post as Lambda. */
            lw_error("telemetry listener: no random bytes for the subscription's secret path");
            goto fail;
        }
    } else {
        size_t path_len = strlen(cfg->path);
        if (path_len == 0 || path_len >= sizeof(l->path) || cfg->path[0] != '/') {
            lw_error("telemetry listener: the path must start with \"/\" and be shorter than %d "
                     "bytes",
                     PATH_MAX_BYTES);
            e = LW_ERR_INVALID;
            goto fail;
        }
        memcpy(l->path, cfg->path, path_len + 1);
    }
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
    if ((e = open_socket(l, cfg)) != LW_OK)
        goto fail;
    if (!cfg->on_caller_thread && (e = lw_telemetry_listener_start_thread(l)) != LW_OK)
        goto fail;
    *err = LW_OK;
    return l;
fail:
    release(l);
    *err = e;
    return NULL;
}

void lw_telemetry_listener_stop_by(struct lw_telemetry_listener *listener, uint64_t deadline_ms)
{
    if (listener == NULL)
        return;
    if (!listener->thread_started) {
        release(listener);
        return;
    }
    ssize_t n;
    do {
        n = write(listener->wake_wr, "x", 1);
    } while (n < 0 && errno == EINTR);
    /* Woken, the thread is gone within microseconds: even a deadline already reached gets that
     * moment (the caller's deadline keeps a margin before Lambda's own). */
    uint64_t now = lw_clock_wall_ms(listener->clock);
    uint64_t wait_ms = deadline_ms > now ? deadline_ms - now : 0;
    struct timespec until =
        lw_clock_deadline_in(CLOCK_REALTIME, wait_ms > JOIN_GRACE_MS ? wait_ms : JOIN_GRACE_MS);
    int rc = pthread_timedjoin_np(listener->thread, NULL, &until);
    if (rc != 0) {
        /* Inside an on_body call past the deadline: exiting in time matters more than freeing
         * memory the process gives back anyway. Detached, the thread ends by itself once that
         * call returns (the wake-up is waiting for it); its memory stays with the process. */
        lw_warn("telemetry listener: its thread did not stop by the deadline; left running");
        pthread_detach(listener->thread);
        return;
    }
    release(listener);
}

void lw_telemetry_listener_stop(struct lw_telemetry_listener *listener)
{
    if (listener == NULL)
        return;
    lw_telemetry_listener_stop_by(listener, lw_clock_wall_ms(listener->clock) + 1000);
}
