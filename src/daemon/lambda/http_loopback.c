/*
 * The transport for the local Lambda APIs (Extensions API, Telemetry API subscription): plain
 * HTTP/1.1 over one keep-alive TCP connection to AWS_LAMBDA_RUNTIME_API, on the caller's thread.
 *
 * Why not libcurl here: the Debian libcurl pulls in about 35 shared libraries (OpenSSL, GnuTLS,
 * Kerberos, LDAP, ...). Loading them cost 20-30 ms of every cold start and kept 9 MiB of
 * file-backed pages resident in leakwatch for the life of the environment, for requests that go
 * to a loopback address and need none of TLS, proxies, redirects or authentication. libcurl is
 * still the client for OTLP export, and is loaded only when that is on (http.c).
 *
 * A request in flight is bounded by its total timeout (none for the event/next long poll: the
 * environment freezes inside it). A reused connection that the peer closed while idle is
 * reopened once, and the request sent again, only when no byte of its response had arrived.
 */
#include <leakwatch/clock.h>
#include <leakwatch/pages.h>
#include <leakwatch/http.h>
#include <leakwatch/http_wire.h>
#include <leakwatch/log.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 3000u
#define HEAD_MAX 8192u
#define READ_CHUNK 16384u

struct loopback {
    int fd; /* -1 when not connected */
    char host[LW_HTTP_WIRE_HOST_MAX];
    uint16_t port;
    struct lw_http_url url; /* of the request being made */
    char head[HEAD_MAX];
    size_t head_len;
    bool sent_on_reused; /* the request went out on a connection that had served others */
    char in[READ_CHUNK];
    struct lw_http_wire_parser parser;
};

/* An I/O shell's timeouts run on the real clock. */
static uint64_t mono_ms(void)
{
    return lw_clock_mono_ms(lw_clock_system());
}

/* poll() timeout until deadline_ms (0: none). */
static int wait_ms(uint64_t deadline_ms)
{
    if (deadline_ms == 0)
        return -1;
    uint64_t now = mono_ms();
    if (now >= deadline_ms)
        return 0;
    uint64_t left = deadline_ms - now;
    return left > 60u * 60u * 1000u ? 60 * 60 * 1000 : (int)left;
}

static void disconnect(struct loopback *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static void say(struct lw_http_response *resp, const char *what, int errnum)
{
    if (errnum != 0)
        snprintf(resp->error, sizeof(resp->error), "%s: %s", what, strerror(errnum));
    else
        snprintf(resp->error, sizeof(resp->error), "%s", what);
}

/* The address of host: a numeric literal or "localhost" without any lookup, else the resolver. */
static enum lw_err resolve(const struct lw_http_url *url, struct sockaddr_storage *sa,
                           socklen_t *sa_len, struct lw_http_response *resp)
{
    memset(sa, 0, sizeof(*sa));
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    const char *host = strcmp(url->host, "localhost") == 0 ? "127.0.0.1" : url->host;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(url->port);
        *sa_len = sizeof(*v4);
        return LW_OK;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(url->port);
        *sa_len = sizeof(*v6);
        return LW_OK;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL || res->ai_addrlen > sizeof(*sa)) {
        snprintf(resp->error, sizeof(resp->error), "cannot resolve %.100s: %s", host,
                 rc != 0 ? gai_strerror(rc) : "no address");
        if (res != NULL)
            freeaddrinfo(res);
        return LW_ERR_HTTP;
    }
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *sa_len = (socklen_t)res->ai_addrlen;
    if (sa->ss_family == AF_INET)
        v4->sin_port = htons(url->port);
    else
        v6->sin6_port = htons(url->port);
    freeaddrinfo(res);
    return LW_OK;
}

static enum lw_err connect_to(struct loopback *t, const struct lw_http_url *url,
                              uint32_t timeout_ms, struct lw_http_response *resp)
{
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    enum lw_err err = resolve(url, &sa, &sa_len, resp);
    if (err != LW_OK)
        return err;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        say(resp, "socket", errno);
        return LW_ERR_HTTP;
    }
    int one = 1;
    /* Small requests and responses: Nagle + delayed ACK would add tens of ms to each. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sa_len) != 0) {
        if (errno != EINPROGRESS) {
            say(resp, "connect", errno);
            close(fd);
            return LW_ERR_HTTP;
        }
        uint64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int n;
        do {
            n = poll(&pfd, 1, wait_ms(deadline));
        } while (n < 0 && errno == EINTR);
        if (n == 0) {
            say(resp, "connect timed out", 0);
            close(fd);
            return LW_ERR_TIMEOUT;
        }
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
            say(resp, "connect", n < 0 ? errno : soerr);
            close(fd);
            return LW_ERR_HTTP;
        }
    }
    t->fd = fd;
    memcpy(t->host, url->host, sizeof(t->host));
    t->port = url->port;
    return LW_OK;
}

/* Waits until fd is ready for events or deadline_ms (0: none) passes; EINTR is not an error. */
static enum lw_err wait_for(int fd, short events, uint64_t deadline_ms, const char *timeout_text,
                            struct lw_http_response *resp)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int r = poll(&pfd, 1, wait_ms(deadline_ms));
    if (r == 0) {
        say(resp, timeout_text, 0);
        return LW_ERR_TIMEOUT;
    }
    if (r < 0 && errno != EINTR) {
        say(resp, "poll", errno);
        return LW_ERR_HTTP;
    }
    return LW_OK;
}

/* Sends every byte of iov, waiting for room until deadline. */
static enum lw_err send_all(struct loopback *t, struct iovec *iov, int n_iov, uint64_t deadline,
                            struct lw_http_response *resp)
{
    while (n_iov > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
        ssize_t n = sendmsg(t->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                say(resp, "send", errno);
                return LW_ERR_HTTP;
            }
            enum lw_err err = wait_for(t->fd, POLLOUT, deadline, "send timed out", resp);
            if (err != LW_OK)
                return err;
            continue;
        }
        size_t sent = (size_t)n;
        while (n_iov > 0 && sent >= iov->iov_len) {
            sent -= iov->iov_len;
            iov++;
            n_iov--;
        }
        if (n_iov > 0) {
            iov->iov_base = (char *)iov->iov_base + sent;
            iov->iov_len -= sent;
        }
    }
    return LW_OK;
}

/* Reads until the parser has a whole response. */
static enum lw_err receive(struct loopback *t, uint64_t deadline, struct lw_http_response *resp)
{
    for (;;) {
        ssize_t n = recv(t->fd, t->in, sizeof(t->in), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                say(resp, "receive", errno);
                return LW_ERR_HTTP;
            }
            enum lw_err err =
                wait_for(t->fd, POLLIN, deadline, "timed out waiting for the response", resp);
            if (err != LW_OK)
                return err;
            continue;
        }
        if (n == 0)
            return lw_http_wire_eof(&t->parser) == LW_OK ? LW_OK : LW_ERR_HTTP;
        size_t used = 0;
        bool done = false;
        enum lw_err err = lw_http_wire_feed(&t->parser, t->in, (size_t)n, &used, &done);
        if (err != LW_OK)
            return err == LW_ERR_NOMEM ? err : LW_ERR_HTTP;
        if (done) {
            /* Bytes beyond the response: the peer does not pipeline, so it is broken. */
            if (used < (size_t)n)
                t->parser.close = true;
            return LW_OK;
        }
    }
}

/* Connects when needed and sends the prepared request; a reused connection that turns out to
 * be dead is replaced once. */
static enum lw_err send_request(struct loopback *t, const struct lw_http_request *req,
                                struct lw_http_response *resp)
{
    for (int tries = 0;; tries++) {
        bool reused = t->fd >= 0;
        if (!reused) {
            enum lw_err err = connect_to(t, &t->url, req->connect_timeout_ms, resp);
            if (err != LW_OK)
                return err;
        }
        uint64_t deadline = req->total_timeout_ms > 0 ? mono_ms() + req->total_timeout_ms : 0;
        struct iovec iov[2] = {
            {.iov_base = t->head, .iov_len = t->head_len},
            {.iov_base = (void *)(uintptr_t)req->body, .iov_len = req->body_len},
        };
        enum lw_err err = send_all(t, iov, req->body_len > 0 ? 2 : 1, deadline, resp);
        if (err == LW_OK) {
            t->sent_on_reused = reused;
            return LW_OK;
        }
        disconnect(t);
        if (!reused || err == LW_ERR_TIMEOUT || tries > 0)
            return err;
    }
}

static enum lw_err receive_response(struct loopback *t, const struct lw_http_request *req,
                                    struct lw_http_response *resp)
{
    enum lw_err err;
    for (int tries = 0;; tries++) {
        uint64_t deadline = req->total_timeout_ms > 0 ? mono_ms() + req->total_timeout_ms : 0;
        lw_http_wire_parser_init(&t->parser, req, resp);
        err = receive(t, deadline, resp);
        if (err != LW_OK || t->parser.close)
            disconnect(t);
        /* The idle connection was gone (the peer closes idle ones): nothing of this request
         * was answered, so sending it again on a new connection cannot do it twice. */
        bool retry = err != LW_OK && err != LW_ERR_TIMEOUT && t->sent_on_reused &&
                     !t->parser.started && tries == 0;
        if (!retry)
            break;
        lw_http_response_clean_up(resp);
        memset(resp, 0, sizeof(*resp));
        err = send_request(t, req, resp);
        if (err != LW_OK)
            break;
    }
    if (err != LW_OK) {
        /* status 0 says "no response"; the body of a broken one is not handed out */
        resp->status = 0;
        lw_http_response_clean_up(resp);
        resp->body_truncated = false;
    }
    return err;
}

/* Checks the request and writes its head into t->head. */
static enum lw_err prepare(struct loopback *t, const struct lw_http_request *req,
                           struct lw_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    if (req->url == NULL || lw_http_url_parse(req->url, &t->url) != LW_OK) {
        say(resp, "invalid URL (only http://host:port/path)", 0);
        return LW_ERR_INVALID;
    }
    if (req->gzip_body || req->n_want_headers > LW_HTTP_MAX_WANTED_HEADERS) {
        say(resp, "invalid request for the loopback transport", 0);
        return LW_ERR_INVALID;
    }
    enum lw_err err = lw_http_wire_request(req, &t->url, t->head, sizeof(t->head), &t->head_len);
    if (err != LW_OK) {
        say(resp, err == LW_ERR_TOO_LARGE ? "request head too large" : "invalid header", 0);
        return err;
    }
    if (t->fd >= 0 && (t->port != t->url.port || strcmp(t->host, t->url.host) != 0))
        disconnect(t);
    return LW_OK;
}

static enum lw_err loopback_perform(void *ctx, const struct lw_http_request *req,
                                    struct lw_http_response *resp)
{
    struct loopback *t = ctx;
    enum lw_err err = prepare(t, req, resp);
    if (err == LW_OK)
        err = send_request(t, req, resp);
    if (err == LW_OK)
        err = receive_response(t, req, resp);
    return err;
}

static struct loopback *loopback_of(const struct lw_http_transport *tr)
{
    return tr->perform == loopback_perform ? tr->ctx : NULL;
}

enum lw_err lw_http_loopback_send(struct lw_http_transport *tr, const struct lw_http_request *req,
                                  struct lw_http_response *resp)
{
    struct loopback *t = loopback_of(tr);
    if (t == NULL)
        return LW_ERR_INVALID;
    enum lw_err err = prepare(t, req, resp);
    return err == LW_OK ? send_request(t, req, resp) : err;
}

enum lw_err lw_http_loopback_receive(struct lw_http_transport *tr,
                                     const struct lw_http_request *req,
                                     struct lw_http_response *resp)
{
    struct loopback *t = loopback_of(tr);
    if (t == NULL)
        return LW_ERR_INVALID;
    memset(resp, 0, sizeof(*resp));
    if (t->fd < 0) {
        say(resp, "no request in flight", 0);
        return LW_ERR_INVALID;
    }
    return receive_response(t, req, resp);
}

int lw_http_loopback_fd(const struct lw_http_transport *tr)
{
    const struct loopback *t = loopback_of(tr);
    return t != NULL ? t->fd : -1;
}

bool lw_http_loopback_answered(const struct lw_http_transport *tr)
{
    const struct loopback *t = loopback_of(tr);
    if (t == NULL || t->fd < 0)
        return false;
    struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

static void loopback_destroy(void *ctx)
{
    struct loopback *t = ctx;
    if (t == NULL)
        return;
    disconnect(t);
    lw_pages_free(t, sizeof(*t));
}

enum lw_err lw_http_loopback_transport_init(struct lw_http_transport *tr)
{
    struct loopback *t = lw_pages_alloc(sizeof(*t)); /* its buffers stay untouched until used */
    if (t == NULL)
        return LW_ERR_NOMEM;
    t->fd = -1;
    tr->perform = loopback_perform;
    tr->destroy = loopback_destroy;
    tr->ctx = t;
    return LW_OK;
}
