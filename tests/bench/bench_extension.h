/* What the benchmark's own C extensions share (do_nothing_extension.c, floor_extension.c): the
 * connection to the Extensions API and reading its answers. Blocking, one request at a time. */
#ifndef LEAKWATCH_BENCH_EXTENSION_H
#define LEAKWATCH_BENCH_EXTENSION_H

#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connected socket to AWS_LAMBDA_RUNTIME_API's host:port, -1 on failure. */
static inline int bench_connect_api(const char *api)
{
    char host[64];
    const char *colon = strrchr(api, ':');
    if (colon == NULL || (size_t)(colon - api) >= sizeof(host))
        return -1;
    memcpy(host, api, (size_t)(colon - api));
    host[colon - api] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port == 0 || port > 65535)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Length of a whole HTTP message in b[0..have) (head and Content-Length body), 0 while it is
 * incomplete. */
static inline size_t bench_message_len(const char *b, size_t have)
{
    const char *end = memmem(b, have, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t head = (size_t)(end - b) + 4;
    const char *cl = memmem(b, head, "\r\nContent-Length:", 17);
    if (cl == NULL)
        cl = memmem(b, head, "\r\ncontent-length:", 17);
    size_t body = cl != NULL ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    return have >= head + body ? head + body : 0;
}

static inline int bench_send(int fd, const char *req, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, req, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        req += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one whole answer into buf (NUL-terminated). Returns its HTTP status, 0 on any failure. */
static inline int bench_read_answer(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + have, cap - 1 - have, 0);
        if (n <= 0)
            return 0;
        have += (size_t)n;
        buf[have] = '\0';
        if (bench_message_len(buf, have) != 0)
            break;
        if (have >= cap - 1)
            return 0;
    }
    if (have < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return 0;
    return (int)strtol(buf + 9, NULL, 10);
}

/* Sends req and reads the whole answer into buf: its HTTP status, 0 on any failure. */
static inline int bench_call(int fd, const char *req, size_t len, char *buf, size_t cap)
{
    return bench_send(fd, req, len) == 0 ? bench_read_answer(fd, buf, cap) : 0;
}

/* The value of header name (given as "\r\nName:") in buf, into out. 0, or -1 when it is
 * missing or too long. */
static inline int bench_header(const char *buf, const char *name, char *out, size_t cap)
{
    const char *h = strcasestr(buf, name);
    if (h == NULL)
        return -1;
    h += strlen(name);
    while (*h == ' ')
        h++;
    size_t n = strcspn(h, "\r\n");
    if (n >= cap)
        return -1;
    memcpy(out, h, n);
    out[n] = '\0';
    return 0;
}

/* Registers as name for INVOKE and SHUTDOWN; its identifier into id. 0, or -1. */
static inline int bench_register(int fd, const char *api, const char *name, char *id, size_t id_cap,
                                 char *buf, size_t cap)
{
    char req[512];
    const char *body = "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}";
    int len = snprintf(req, sizeof(req),
                       "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: %s\r\n"
                       "Lambda-Extension-Name: %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       api, name, strlen(body), body);
    if (len < 0 || (size_t)len >= sizeof(req) || bench_call(fd, req, (size_t)len, buf, cap) != 200)
        return -1;
    return bench_header(buf, "\r\nLambda-Extension-Identifier:", id, id_cap);
}

#endif
