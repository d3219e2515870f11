/*
 * A minimal custom runtime for the sample functions: a blocking HTTP/1.1 client of the Lambda
 * Runtime API (2018-06-01) over one TCP socket per request, the event loop, the knobs every
 * function shares (sleep_ms, fail, crash, exec, children, child_bytes) and the memory routines.
 *
 * The functions exist so that tests can compare what leakwatch measures with the truth, so this
 * file must not add memory of its own across invocations:
 *   - every buffer is fixed: the event buffer is mapped once at start (untouched pages cost
 *     nothing), the request head and the response body live in static storage;
 *   - nothing is allocated per invocation (no stdio, no getaddrinfo after start-up, children are
 *     started with fork + exec so they do not inherit the parent's pages).
 *
 * Lambda freezes the environment between invocations (SIGSTOP of every process, SIGCONT on the
 * next event), and so does the local emulator, so every system call here is restarted on EINTR
 * and an interrupted connect() is completed with poll() instead of being retried.
 *
 * Everything is static: each function is one translation unit that includes this header.
 */
#ifndef LW_SAMPLE_RUNTIME_CLIENT_H
#define LW_SAMPLE_RUNTIME_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RC_API static __attribute__((unused))

/* Lambda's synchronous payload limit is 6 MiB; the emulator accepts 100 bytes more. */
#define RC_EVENT_CAP_BYTES ((size_t)6 * 1024 * 1024 + 4096)
#define RC_HEAD_CAP_BYTES 16384
#define RC_OUT_CAP_BYTES 4096
#define RC_REQUEST_ID_CAP 128
#define RC_MAX_CHILDREN 64
/* Upper bounds of the knobs: large enough for any test, small enough that sums cannot overflow. */
#define RC_MAX_BYTES ((uint64_t)1 << 40)
#define RC_MAX_SLEEP_MS ((uint64_t)900000)
#define RC_MAX_THREADS ((uint64_t)512)
#define RC_MAX_JSON_DEPTH 64

struct rc_event {
    char request_id[RC_REQUEST_ID_CAP + 1];
    uint64_t deadline_ms; /* Lambda-Runtime-Deadline-Ms (epoch ms); 0 when absent */
    const char *payload;  /* the raw event body, not NUL-terminated */
    size_t payload_len;
    uint64_t invocation; /* 1-based count of the events this process has received */
};

/* What the handler did, reported in the response so a test can compare it with the measurement. */
struct rc_result {
    uint64_t allocated_bytes; /* allocated and touched during this invocation */
    uint64_t freed_bytes;     /* given back during this invocation */
    uint64_t retained_bytes;  /* held by the handler after this invocation, in total */
    char error_type[64];      /* non-empty: the invocation is answered with /error */
    char error_message[256];
};

struct rc_child {
    pid_t pid;
    int lifeline_fd; /* write end of the child's lifeline: closing it ends the child */
    uint64_t bytes;
};

static struct {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char host[256]; /* value of the Host header: AWS_LAMBDA_RUNTIME_API as given */
    char head[RC_HEAD_CAP_BYTES];
    char out[RC_OUT_CAP_BYTES];
    char *event;
    const char *name;
    const char *exe_arg0;
    uint64_t invocation;
    struct rc_child children[RC_MAX_CHILDREN];
    size_t child_count;
    /* defaults of the common knobs, from the environment */
    uint64_t delay_ms, sleep_ms, spin_ms, fail, crash, exec_self, children_target, child_bytes,
        child_linger_ms;
} rc;

/* Keeps the allocations of the handlers observable so the compiler cannot elide them. */
static void *volatile rc_sink;

/* ---- diagnostics --------------------------------------------------------------------------- */

/* One line on stderr with a single write(2); no stdio, so no buffer is allocated. */
__attribute__((format(printf, 1, 2))) RC_API void rc_log(const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof line, "[%s] ", rc.name ? rc.name : "function");
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    while (write(2, line, len) < 0 && errno == EINTR)
        ;
}

/* Sets the error of a result; the first error wins. */
__attribute__((format(printf, 3, 4))) RC_API void rc_fail(struct rc_result *res, const char *type,
                                                          const char *fmt, ...)
{
    if (res->error_type[0])
        return;
    snprintf(res->error_type, sizeof res->error_type, "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error_message, sizeof res->error_message, fmt, ap);
    va_end(ap);
}

/* ---- integers from the environment and from the event payload ------------------------------ */

/* Parses decimal digits [s, s+len) into *out; -1 when empty, not all digits, or above max. */
static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/*
 * Reads a default from the environment: unset or empty gives `fallback`; otherwise a decimal
 * integer <= max. Returns -1 with a message in msg when the value is invalid.
 */
RC_API int rc_env_u64(const char *name, uint64_t fallback, uint64_t max, uint64_t *out, char *msg,
                      size_t msg_cap)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        *out = fallback;
        return 0;
    }
    if (parse_u64(v, strlen(v), max, out) != 0) {
        snprintf(msg, msg_cap, "environment variable %s is not an integer in [0, %llu]", name,
                 (unsigned long long)max);
        return -1;
    }
    return 0;
}

struct rc_json {
    const char *p;
    const char *end;
};

static void json_ws(struct rc_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* Scans a string starting at the opening quote; [*s, *s + *len) is its raw (escaped) content. */
static int json_string(struct rc_json *j, const char **s, size_t *len)
{
    if (j->p >= j->end || *j->p != '"')
        return -1;
    const char *start = ++j->p;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            *s = start;
            *len = (size_t)(j->p - start);
            j->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (j->end - j->p < 2)
                return -1;
            j->p++;
        }
        j->p++;
    }
    return -1;
}

static int json_literal(struct rc_json *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return -1;
    j->p += n;
    return 0;
}

/* Skips one JSON value of any kind, checking its syntax (numbers loosely: sign, digits, . e E). */
static int json_skip(struct rc_json *j, int depth)
{
    const char *s;
    size_t len;
    if (depth > RC_MAX_JSON_DEPTH)
        return -1;
    json_ws(j);
    if (j->p >= j->end)
        return -1;
    char c = *j->p;
    if (c == '"')
        return json_string(j, &s, &len);
    if (c == 't')
        return json_literal(j, "true");
    if (c == 'f')
        return json_literal(j, "false");
    if (c == 'n')
        return json_literal(j, "null");
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *start = j->p;
        while (j->p < j->end && strchr("+-.eE0123456789", *j->p) != NULL && *j->p != '\0')
            j->p++;
        return j->p > start ? 0 : -1;
    }
    if (c != '{' && c != '[')
        return -1;
    char close = c == '{' ? '}' : ']';
    j->p++;
    json_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    for (;;) {
        if (c == '{') {
            json_ws(j);
            if (json_string(j, &s, &len) != 0)
                return -1;
            json_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return -1;
            j->p++;
        }
        if (json_skip(j, depth + 1) != 0)
            return -1;
        json_ws(j);
        if (j->p >= j->end)
            return -1;
        if (*j->p == close) {
            j->p++;
            return 0;
        }
        if (*j->p != ',')
            return -1;
        j->p++;
    }
}

/*
 * Finds the top-level member `key` of the JSON object in [buf, buf+len) and returns its value's
 * span. Keys are compared literally (escaped keys never match); with duplicate keys the last one
 * wins, as in most JSON parsers. Returns 1 when found, 0 when absent or when the payload is not
 * an object (empty, null, a string...), -1 when the payload is malformed.
 */
RC_API int rc_json_find(const char *buf, size_t len, const char *key, const char **value,
                        size_t *value_len)
{
    struct rc_json j = {buf, buf + len};
    size_t key_len = strlen(key);
    int found = 0;
    json_ws(&j);
    if (j.p >= j.end || *j.p != '{') {
        if (j.p < j.end && json_skip(&j, 0) != 0)
            return -1;
        goto trailing;
    }
    j.p++;
    json_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
        goto trailing;
    }
    for (;;) {
        const char *k;
        size_t k_len;
        json_ws(&j);
        if (json_string(&j, &k, &k_len) != 0)
            return -1;
        json_ws(&j);
        if (j.p >= j.end || *j.p != ':')
            return -1;
        j.p++;
        json_ws(&j);
        const char *v = j.p;
        if (json_skip(&j, 1) != 0)
            return -1;
        if (k_len == key_len && memcmp(k, key, key_len) == 0) {
            *value = v;
            *value_len = (size_t)(j.p - v);
            found = 1;
        }
        json_ws(&j);
        if (j.p >= j.end)
            return -1;
        if (*j.p == '}') {
            j.p++;
            break;
        }
        if (*j.p != ',')
            return -1;
        j.p++;
    }
trailing:
    json_ws(&j);
    return j.p == j.end ? found : -1;
}

/*
 * Reads the integer knob `key` from the event payload: a non-negative integer <= max, or true (1)
 * / false (0); absent or null gives `fallback`. On a bad value or a malformed payload, sets the
 * result's error (InvalidEvent) and returns -1.
 */
RC_API int rc_knob(const struct rc_event *ev, const char *key, uint64_t fallback, uint64_t max,
                   uint64_t *out, struct rc_result *res)
{
    const char *v = NULL;
    size_t v_len = 0;
    int found = rc_json_find(ev->payload, ev->payload_len, key, &v, &v_len);
    if (found < 0) {
        rc_fail(res, "InvalidEvent", "the event payload is not valid JSON");
        return -1;
    }
    if (found == 0 || (v_len == 4 && memcmp(v, "null", 4) == 0)) {
        *out = fallback;
        return 0;
    }
    if (v_len == 4 && memcmp(v, "true", 4) == 0 && max >= 1) {
        *out = 1;
        return 0;
    }
    if (v_len == 5 && memcmp(v, "false", 5) == 0) {
        *out = 0;
        return 0;
    }
    if (parse_u64(v, v_len, max, out) != 0) {
        rc_fail(res, "InvalidEvent", "\"%s\" must be an integer in [0, %llu]", key,
                (unsigned long long)max);
        return -1;
    }
    return 0;
}

/* ---- memory ------------------------------------------------------------------------------- */

/* Writes a non-zero byte over the whole range so that every page is resident and private. */
RC_API void rc_touch(void *p, size_t bytes)
{
    memset(p, 0xa5, bytes);
    rc_sink = p;
}

/* An anonymous private mapping of `bytes`, every page touched; NULL on failure. */
RC_API void *rc_map_touched(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    rc_touch(p, bytes);
    return p;
}

/* Sleeps for ms milliseconds in total, however often a signal (or a freeze) interrupts it. */
RC_API void rc_sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

/* Keeps the CPU busy until this thread has run for ms: a fixed amount of work, so anything else
 * on the same CPU (an extension) lengthens the invocation by the time it takes. */
RC_API void rc_spin_ms(uint64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    uint64_t end = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec + ms * 1000000u;
    for (;;) {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        if ((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec >= end)
            return;
    }
}

/* ---- HTTP/1.1 over TCP ---------------------------------------------------------------------- */

/*
 * Resolves AWS_LAMBDA_RUNTIME_API ("host:port", "[v6]:port") once at start-up; literal addresses
 * are parsed without the resolver, names go through getaddrinfo once.
 */
static int resolve_api(char *msg, size_t msg_cap)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    char host[256];
    const char *colon;
    uint64_t port;
    if (api == NULL || api[0] == '\0') {
        snprintf(msg, msg_cap, "AWS_LAMBDA_RUNTIME_API is not set");
        return -1;
    }
    size_t len = strlen(api);
    colon = strrchr(api, ':');
    if (len >= sizeof rc.host || colon == NULL || colon == api ||
        parse_u64(colon + 1, strlen(colon + 1), 65535, &port) != 0 || port == 0) {
        snprintf(msg, msg_cap, "AWS_LAMBDA_RUNTIME_API is not host:port");
        return -1;
    }
    memcpy(rc.host, api, len + 1);
    size_t host_len = (size_t)(colon - api);
    const char *h = api;
    if (api[0] == '[' && host_len >= 2 && api[host_len - 1] == ']') {
        h++;
        host_len -= 2;
    }
    memcpy(host, h, host_len);
    host[host_len] = '\0';

    struct sockaddr_in *in4 = (struct sockaddr_in *)&rc.addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&rc.addr;
    memset(&rc.addr, 0, sizeof rc.addr);
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        rc.addr_len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        rc.addr_len = sizeof *in6;
        return 0;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rv = getaddrinfo(host, NULL, &hints, &ai);
    if (rv != 0 || ai == NULL || ai->ai_addrlen > sizeof rc.addr) {
        snprintf(msg, msg_cap, "cannot resolve the Runtime API host");
        if (ai)
            freeaddrinfo(ai);
        return -1;
    }
    memcpy(&rc.addr, ai->ai_addr, ai->ai_addrlen);
    rc.addr_len = (socklen_t)ai->ai_addrlen;
    if (ai->ai_family == AF_INET)
        in4->sin_port = htons((uint16_t)port);
    else
        in6->sin6_port = htons((uint16_t)port);
    freeaddrinfo(ai);
    return 0;
}

static int api_connect(void)
{
    int fd = socket(rc.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&rc.addr, rc.addr_len) != 0) {
        /* An interrupted connect() goes on in the background: retrying it would fail with
         * EALREADY, so wait for it to finish and read its outcome. */
        if (errno != EINTR && errno != EINPROGRESS)
            goto fail;
        struct pollfd pfd = {fd, POLLOUT, 0};
        int n;
        while ((n = poll(&pfd, 1, -1)) < 0 && errno == EINTR)
            ;
        int err = 0;
        socklen_t err_len = sizeof err;
        if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0)
            goto fail;
        if (err != 0) {
            errno = err;
            goto fail;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

static int send_all(int fd, struct iovec *iov, int iov_count)
{
    while (iov_count > 0) {
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = iov;
        m.msg_iovlen = (size_t)iov_count;
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        size_t left = (size_t)n;
        while (iov_count > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iov_count--;
        }
        if (iov_count > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

static ssize_t recv_some(int fd, char *buf, size_t cap)
{
    ssize_t n;
    while ((n = recv(fd, buf, cap, 0)) < 0 && errno == EINTR)
        ;
    return n;
}

static int header_is(const char *line, size_t len, const char *name, const char **value,
                     size_t *value_len)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return 0;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *value_len = (size_t)(end - v);
    return 1;
}

/*
 * One request on a fresh connection ("Connection: close"), then the response: *status, the body
 * into [body, body + body_cap) (NULL: read and dropped) with its length in *body_len, and, when ev
 * is not NULL, the invocation headers. A body longer than body_cap is an error. Returns 0 or -1
 * (logged).
 */
static int api_request(const char *method, const char *path, const char *extra_headers,
                       const char *req_body, size_t req_body_len, int *status, char *body,
                       size_t body_cap, size_t *body_len, struct rc_event *ev)
{
    int rv = -1;
    int fd = api_connect();
    if (fd < 0) {
        rc_log("cannot connect to the Runtime API at %s: %s", rc.host, strerror(errno));
        return -1;
    }
    int head_len = snprintf(rc.head, sizeof rc.head,
                            "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: leakwatch-sample/%s\r\n"
                            "Connection: close\r\nContent-Length: %zu\r\n%s\r\n",
                            method, path, rc.host, rc.name, req_body_len, extra_headers);
    if (head_len < 0 || (size_t)head_len >= sizeof rc.head) {
        rc_log("request head too long");
        goto out;
    }
    struct iovec iov[2] = {{rc.head, (size_t)head_len},
                           {(void *)(uintptr_t)req_body, req_body_len}};
    if (send_all(fd, iov, req_body_len ? 2 : 1) != 0) {
        rc_log("%s %s: send failed: %s", method, path, strerror(errno));
        goto out;
    }

    /* Read until the end of the head; the head buffer is reused (the request is sent). */
    size_t have = 0;
    char *head_end = NULL;
    while (head_end == NULL) {
        if (have == sizeof rc.head) {
            rc_log("%s %s: response head larger than %zu bytes", method, path, sizeof rc.head);
            goto out;
        }
        ssize_t n = recv_some(fd, rc.head + have, sizeof rc.head - have);
        if (n <= 0) {
            rc_log("%s %s: %s before the end of the response head", method, path,
                   n == 0 ? "connection closed" : strerror(errno));
            goto out;
        }
        have += (size_t)n;
        head_end = memmem(rc.head, have, "\r\n\r\n", 4);
    }

    uint64_t code;
    if (head_end - rc.head < 12 || memcmp(rc.head, "HTTP/1.", 7) != 0 || rc.head[8] != ' ' ||
        parse_u64(rc.head + 9, 3, 999, &code) != 0) {
        rc_log("%s %s: malformed status line", method, path);
        goto out;
    }
    *status = (int)code;
    int have_length = 0;
    uint64_t content_length = 0;
    if (ev != NULL) {
        ev->request_id[0] = '\0';
        ev->deadline_ms = 0;
    }
    /* Header lines run from after the status line to head_end, each ending in CRLF. */
    char *line = (char *)memchr(rc.head, '\n', (size_t)(head_end + 2 - rc.head)) + 1;
    while (line < head_end + 2) {
        char *eol = memchr(line, '\r', (size_t)(head_end + 2 - line));
        if (eol == NULL)
            break;
        size_t len = (size_t)(eol - line);
        const char *v;
        size_t v_len;
        if (header_is(line, len, "Content-Length", &v, &v_len)) {
            if (parse_u64(v, v_len, UINT64_MAX, &content_length) != 0) {
                rc_log("%s %s: bad Content-Length", method, path);
                goto out;
            }
            have_length = 1;
        } else if (header_is(line, len, "Transfer-Encoding", &v, &v_len)) {
            if (!(v_len == 8 && strncasecmp(v, "identity", 8) == 0)) {
                rc_log("%s %s: unsupported Transfer-Encoding", method, path);
                goto out;
            }
        } else if (ev && header_is(line, len, "Lambda-Runtime-Aws-Request-Id", &v, &v_len)) {
            /* The id goes into request paths: accept only what a URL path carries verbatim. */
            if (v_len == 0 || v_len > RC_REQUEST_ID_CAP ||
                strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") <
                    v_len) {
                rc_log("unusable Lambda-Runtime-Aws-Request-Id");
                goto out;
            }
            memcpy(ev->request_id, v, v_len);
            ev->request_id[v_len] = '\0';
        } else if (ev && header_is(line, len, "Lambda-Runtime-Deadline-Ms", &v, &v_len)) {
            if (parse_u64(v, v_len, UINT64_MAX, &ev->deadline_ms) != 0)
                ev->deadline_ms = 0;
        }
        line = eol + 2;
    }

    /* The body: what came with the head, then the rest up to Content-Length or the close. A
     * body of unknown length that does not fit is detected by reading past the cap. */
    if (have_length && body != NULL && content_length > body_cap) {
        rc_log("%s %s: body of %llu bytes exceeds %zu", method, path,
               (unsigned long long)content_length, body_cap);
        goto out;
    }
    size_t total = have - (size_t)(head_end + 4 - rc.head);
    if (have_length && total > content_length)
        total = (size_t)content_length;
    if (body != NULL) {
        if (total > body_cap) {
            rc_log("%s %s: body exceeds %zu bytes", method, path, body_cap);
            goto out;
        }
        memcpy(body, head_end + 4, total);
    }
    while (!have_length || total < content_length) {
        int discard = body == NULL || total == body_cap;
        char *dst = discard ? rc.head : body + total;
        size_t cap = discard ? sizeof rc.head : body_cap - total;
        if (have_length && cap > content_length - total)
            cap = (size_t)(content_length - total);
        ssize_t n = recv_some(fd, dst, cap);
        if (n < 0) {
            rc_log("%s %s: reading the body: %s", method, path, strerror(errno));
            goto out;
        }
        if (n == 0) {
            if (have_length) {
                rc_log("%s %s: connection closed inside the body", method, path);
                goto out;
            }
            break;
        }
        if (discard && body != NULL) {
            rc_log("%s %s: body exceeds %zu bytes", method, path, body_cap);
            goto out;
        }
        total += (size_t)n;
    }
    if (body_len)
        *body_len = total;
    rv = 0;
out:
    close(fd);
    return rv;
}

/* Writes s into a JSON string body (without quotes), escaping what JSON requires. */
static size_t json_escape(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
    return n;
}

/* POSTs {"errorMessage","errorType","stackTrace":[]} to path; 202 expected. */
static void post_error(const char *path, const char *type, const char *message)
{
    char esc_type[128], esc_msg[512], hdr[160];
    json_escape(esc_type, sizeof esc_type, type);
    json_escape(esc_msg, sizeof esc_msg, message);
    int n = snprintf(rc.out, sizeof rc.out,
                     "{\"errorMessage\":\"%s\",\"errorType\":\"%s\",\"stackTrace\":[]}", esc_msg,
                     esc_type);
    snprintf(hdr, sizeof hdr,
             "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: %s\r\n", type);
    int status = 0;
    if (n > 0 && (size_t)n < sizeof rc.out &&
        api_request("POST", path, hdr, rc.out, (size_t)n, &status, NULL, 0, NULL, NULL) == 0 &&
        status != 202)
        rc_log("POST %s answered %d", path, status);
}

/* Reports a failed start-up to Lambda (POST /runtime/init/error) and exits. */
RC_API void rc_init_error(const char *type, const char *message)
{
    rc_log("init error %s: %s", type, message);
    if (rc.addr_len != 0)
        post_error("/2018-06-01/runtime/init/error", type, message);
    exit(1);
}

/* ---- child processes ------------------------------------------------------------------------ */

/*
 * A child started by `children`: exec'd afresh (a fork alone would share the parent's pages and
 * count them in its own RSS), it maps and touches `bytes`, reports readiness with one byte on
 * ready_fd, then waits on its lifeline until the parent closes it or dies, and lingers
 * `linger_ms` more before it exits: a helper that finishes its own work after its parent is
 * gone (at SHUTDOWN it outlives the runtime that died of SIGTERM).
 */
static int child_main(const char *bytes_arg, const char *life_arg, const char *ready_arg,
                      const char *linger_arg)
{
    uint64_t bytes, life_fd, ready_fd, linger_ms;
    if (parse_u64(bytes_arg, strlen(bytes_arg), RC_MAX_BYTES, &bytes) != 0 ||
        parse_u64(life_arg, strlen(life_arg), 65535, &life_fd) != 0 ||
        parse_u64(ready_arg, strlen(ready_arg), 65535, &ready_fd) != 0 ||
        parse_u64(linger_arg, strlen(linger_arg), RC_MAX_SLEEP_MS, &linger_ms) != 0)
        return 2;
    if (bytes > 0 && rc_map_touched((size_t)bytes) == NULL)
        return 3;
    ssize_t n;
    while ((n = write((int)ready_fd, "1", 1)) < 0 && errno == EINTR)
        ;
    close((int)ready_fd);
    char c;
    while ((n = read((int)life_fd, &c, 1)) != 0 && (n > 0 || errno == EINTR))
        ;
    rc_sleep_ms(linger_ms);
    return 0;
}

static int child_start(uint64_t bytes, uint64_t linger_ms, struct rc_result *res)
{
    int life[2], ready[2];
    char bytes_arg[24], life_arg[12], ready_arg[12], linger_arg[24];
    if (pipe2(life, O_CLOEXEC) != 0) {
        rc_fail(res, "ChildStartFailed", "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(ready, O_CLOEXEC) != 0) {
        rc_fail(res, "ChildStartFailed", "pipe: %s", strerror(errno));
        close(life[0]);
        close(life[1]);
        return -1;
    }
    snprintf(bytes_arg, sizeof bytes_arg, "%llu", (unsigned long long)bytes);
    snprintf(life_arg, sizeof life_arg, "%d", life[0]);
    snprintf(ready_arg, sizeof ready_arg, "%d", ready[1]);
    snprintf(linger_arg, sizeof linger_arg, "%llu", (unsigned long long)linger_ms);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)(uintptr_t)rc.exe_arg0,
                        (char *)"--hold-child",
                        bytes_arg,
                        life_arg,
                        ready_arg,
                        linger_arg,
                        NULL};
        /* Only these two descriptors survive the exec. */
        fcntl(life[0], F_SETFD, 0);
        fcntl(ready[1], F_SETFD, 0);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(life[0]);
    close(ready[1]);
    char c;
    ssize_t n = -1;
    if (pid > 0)
        while ((n = read(ready[0], &c, 1)) < 0 && errno == EINTR)
            ;
    close(ready[0]);
    if (pid < 0 || n != 1) {
        rc_fail(res, "ChildStartFailed", "the child holding %llu bytes did not start",
                (unsigned long long)bytes);
        close(life[1]);
        if (pid > 0)
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return -1;
    }
    rc.children[rc.child_count].pid = pid;
    rc.children[rc.child_count].lifeline_fd = life[1];
    rc.children[rc.child_count].bytes = bytes;
    rc.child_count++;
    return 0;
}

/* Ends the most recently started child and waits for it, so its memory is gone on return. */
static void child_stop_last(void)
{
    struct rc_child *ch = &rc.children[--rc.child_count];
    close(ch->lifeline_fd);
    while (waitpid(ch->pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Forgets children that died on their own (killed from outside). */
static void children_reap(void)
{
    for (size_t i = 0; i < rc.child_count;) {
        pid_t r = waitpid(rc.children[i].pid, NULL, WNOHANG);
        if (r == rc.children[i].pid || (r < 0 && errno == ECHILD)) {
            close(rc.children[i].lifeline_fd);
            rc.children[i] = rc.children[--rc.child_count];
        } else {
            i++;
        }
    }
}

/* ---- the event loop ------------------------------------------------------------------------- */

/*
 * The runtime: with "--hold-child BYTES LIFE_FD READY_FD LINGER_MS" runs as a child (see
 * child_main);
 * otherwise resolves the Runtime API, calls setup() (which reads its environment defaults; a
 * non-zero return is reported with /runtime/init/error) and loops: next event, common knobs,
 * handle(), children, sleep, then crash, /error or /response. Never returns normally.
 */
static void *rc_idle_thread(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

RC_API int rc_run(int argc, char **argv, const char *name, int (*setup)(char *msg, size_t msg_cap),
                  void (*handle)(const struct rc_event *ev, struct rc_result *res))
{
    char msg[256];
    uint64_t threads = 0;
    rc.name = name;
    rc.exe_arg0 = argc > 0 ? argv[0] : name;
    if (argc == 6 && strcmp(argv[1], "--hold-child") == 0)
        return child_main(argv[2], argv[3], argv[4], argv[5]);
    /* "--answer-after-exec REQUEST_ID INVOCATION": this image replaced (exec) a runtime in the
     * middle of that invocation; it answers it first, then goes on with the event loop. */
    const char *exec_request_id = NULL;
    if (argc == 4 && strcmp(argv[1], "--answer-after-exec") == 0 &&
        strlen(argv[2]) < RC_REQUEST_ID_CAP &&
        parse_u64(argv[3], strlen(argv[3]), UINT32_MAX, &rc.invocation) == 0)
        exec_request_id = argv[2];

    if (resolve_api(msg, sizeof msg) != 0) {
        rc_log("%s", msg);
        return 1;
    }
    if (rc_env_u64("DELAY_MS", 0, RC_MAX_SLEEP_MS, &rc.delay_ms, msg, sizeof msg) != 0 ||
        rc_env_u64("SLEEP_MS", 0, RC_MAX_SLEEP_MS, &rc.sleep_ms, msg, sizeof msg) != 0 ||
        rc_env_u64("SPIN_MS", 0, RC_MAX_SLEEP_MS, &rc.spin_ms, msg, sizeof msg) != 0 ||
        rc_env_u64("FAIL", 0, 1, &rc.fail, msg, sizeof msg) != 0 ||
        rc_env_u64("CRASH", 0, 255, &rc.crash, msg, sizeof msg) != 0 ||
        rc_env_u64("EXEC", 0, 1, &rc.exec_self, msg, sizeof msg) != 0 ||
        rc_env_u64("CHILDREN", 0, RC_MAX_CHILDREN, &rc.children_target, msg, sizeof msg) != 0 ||
        rc_env_u64("CHILD_BYTES", 1048576, RC_MAX_BYTES, &rc.child_bytes, msg, sizeof msg) != 0 ||
        rc_env_u64("CHILD_LINGER_MS", 0, RC_MAX_SLEEP_MS, &rc.child_linger_ms, msg, sizeof msg) !=
            0 ||
        rc_env_u64("THREADS", 0, RC_MAX_THREADS, &threads, msg, sizeof msg) != 0 ||
        (setup != NULL && setup(msg, sizeof msg) != 0))
        rc_init_error("Runtime.InvalidConfiguration", msg);
    /* Idle threads, as a JVM or a Node.js runtime has: leakwatch lists every thread's children. */
    for (uint64_t i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, rc_idle_thread, NULL) != 0)
            rc_init_error("Runtime.InvalidConfiguration", "cannot start the idle threads");
    }

    /* Mapped once; only the pages a payload covers ever become resident. */
    rc.event =
        mmap(NULL, RC_EVENT_CAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rc.event == MAP_FAILED)
        rc_init_error("Runtime.OutOfMemory", "cannot map the event buffer");

    if (exec_request_id != NULL) {
        char path[96 + RC_REQUEST_ID_CAP];
        int status = 0;
        int n = snprintf(rc.out, sizeof rc.out,
                         "{\"function\":\"%s\",\"invocation\":%llu,\"request_id\":\"%s\","
                         "\"exec\":true,\"retained_bytes\":0,\"pid\":%d}",
                         name, (unsigned long long)rc.invocation, exec_request_id, (int)getpid());
        snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/response", exec_request_id);
        rc_log("answering request_id=%s after exec", exec_request_id);
        if (api_request("POST", path, "Content-Type: application/json\r\n", rc.out, (size_t)n,
                        &status, NULL, 0, NULL, NULL) == 0 &&
            status != 202)
            rc_log("POST %s answered %d", path, status);
    }

    for (;;) {
        struct rc_event ev;
        struct rc_result res;
        int status = 0;
        memset(&res, 0, sizeof res);
        if (api_request("GET", "/2018-06-01/runtime/invocation/next", "", NULL, 0, &status,
                        rc.event, RC_EVENT_CAP_BYTES, &ev.payload_len, &ev) != 0)
            exit(1);
        if (status != 200 || ev.request_id[0] == '\0') {
            rc_log("invocation/next answered %d%s", status,
                   ev.request_id[0] ? "" : " without a request id");
            exit(1);
        }
        ev.payload = rc.event;
        ev.invocation = ++rc.invocation;

        uint64_t delay_ms = 0, sleep_ms = 0, spin_ms = 0, fail = 0, crash = 0, exec_self = 0,
                 children = 0, child_bytes = 0, child_linger_ms = 0;
        if (rc_knob(&ev, "delay_ms", rc.delay_ms, RC_MAX_SLEEP_MS, &delay_ms, &res) == 0 &&
            rc_knob(&ev, "sleep_ms", rc.sleep_ms, RC_MAX_SLEEP_MS, &sleep_ms, &res) == 0 &&
            rc_knob(&ev, "spin_ms", rc.spin_ms, RC_MAX_SLEEP_MS, &spin_ms, &res) == 0 &&
            rc_knob(&ev, "fail", rc.fail, 1, &fail, &res) == 0 &&
            rc_knob(&ev, "crash", rc.crash, 255, &crash, &res) == 0 &&
            rc_knob(&ev, "exec", rc.exec_self, 1, &exec_self, &res) == 0 &&
            rc_knob(&ev, "children", rc.children_target, RC_MAX_CHILDREN, &children, &res) == 0 &&
            rc_knob(&ev, "child_bytes", rc.child_bytes, RC_MAX_BYTES, &child_bytes, &res) == 0 &&
            rc_knob(&ev, "child_linger_ms", rc.child_linger_ms, RC_MAX_SLEEP_MS, &child_linger_ms,
                    &res) == 0) {
            /* A real runtime spends time dispatching an event before the handler touches any
             * memory; delay_ms models that, so that what a test measures is not blurred by
             * the boundary reading racing the first microseconds of the invocation. */
            rc_sleep_ms(delay_ms);
            handle(&ev, &res);
            rc_spin_ms(spin_ms);
            children_reap();
            while (!res.error_type[0] && rc.child_count < children)
                child_start(child_bytes, child_linger_ms, &res);
            while (!res.error_type[0] && rc.child_count > children)
                child_stop_last();
            if (!res.error_type[0])
                rc_sleep_ms(sleep_ms);
        }
        uint64_t children_bytes = 0;
        for (size_t i = 0; i < rc.child_count; i++)
            children_bytes += rc.children[i].bytes;
        rc_log("invocation=%llu request_id=%s allocated_bytes=%llu freed_bytes=%llu "
               "retained_bytes=%llu children=%zu%s%s",
               (unsigned long long)ev.invocation, ev.request_id,
               (unsigned long long)res.allocated_bytes, (unsigned long long)res.freed_bytes,
               (unsigned long long)res.retained_bytes, rc.child_count,
               res.error_type[0] ? " error=" : "", res.error_type);

        if (!res.error_type[0] && crash != 0) {
            rc_log("crashing on request: exit status %llu", (unsigned long long)crash);
            _exit((int)crash);
        }
        if (!res.error_type[0] && exec_self) {
            /* The process image is replaced in the middle of the invocation (same pid, fresh
             * memory, children gone with their lifelines): the new image answers. */
            char inv[24];
            snprintf(inv, sizeof inv, "%llu", (unsigned long long)ev.invocation);
            char *args[] = {(char *)(uintptr_t)rc.exe_arg0, "--answer-after-exec", ev.request_id,
                            inv, NULL};
            rc_log("replacing the process (exec) before answering request_id=%s", ev.request_id);
            execv("/proc/self/exe", args);
            rc_fail(&res, "Function.ExecFailed", "exec: %s", strerror(errno));
        }
        if (!res.error_type[0] && fail)
            rc_fail(&res, "Function.RequestedFailure", "failure requested by the event (%s)", name);

        char path[96 + RC_REQUEST_ID_CAP];
        if (res.error_type[0]) {
            snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/error", ev.request_id);
            post_error(path, res.error_type, res.error_message);
            continue;
        }
        int n =
            snprintf(rc.out, sizeof rc.out,
                     "{\"function\":\"%s\",\"invocation\":%llu,\"request_id\":\"%s\","
                     "\"allocated_bytes\":%llu,\"freed_bytes\":%llu,\"retained_bytes\":%llu,"
                     "\"children\":%zu,\"children_bytes\":%llu,\"slept_ms\":%llu,"
                     "\"deadline_ms\":%llu,\"pid\":%d}",
                     name, (unsigned long long)ev.invocation, ev.request_id,
                     (unsigned long long)res.allocated_bytes, (unsigned long long)res.freed_bytes,
                     (unsigned long long)res.retained_bytes, rc.child_count,
                     (unsigned long long)children_bytes, (unsigned long long)sleep_ms,
                     (unsigned long long)ev.deadline_ms, (int)getpid());
        snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/response", ev.request_id);
        if (api_request("POST", path, "Content-Type: application/json\r\n", rc.out, (size_t)n,
                        &status, NULL, 0, NULL, NULL) == 0 &&
            status != 202)
            rc_log("POST %s answered %d", path, status);
    }
}

#endif
