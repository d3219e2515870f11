/* The cheapest possible external extension, the floor of the CPU comparison in bench-compare:
 * one thread, one keep-alive connection to the Extensions API, register for INVOKE and SHUTDOWN,
 * then event/next in a loop; it reads nothing and measures nothing. Whatever an extension costs
 * per invocation beyond this is its own work. Its name is its file name (basename of argv[0]). */
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sock = -1;
static char buf[65536];

static int connect_api(const char *api)
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

/* Sends one request and reads its whole response (headers and Content-Length body) into buf.
 * Returns the status code, 0 on any failure. *id gets the Lambda-Extension-Identifier header. */
static int call(const char *req, size_t len, char *id, size_t id_cap)
{
    if (send(sock, req, len, MSG_NOSIGNAL) != (ssize_t)len)
        return 0;
    size_t have = 0;
    char *body = NULL;
    long clen = -1;
    for (;;) {
        ssize_t n = recv(sock, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0)
            return 0;
        have += (size_t)n;
        buf[have] = '\0';
        if (body == NULL && (body = strstr(buf, "\r\n\r\n")) != NULL) {
            body += 4;
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            clen = cl != NULL ? strtol(cl + 17, NULL, 10) : 0;
        }
        if (body != NULL && (long)(have - (size_t)(body - buf)) >= clen)
            break;
        if (have >= sizeof(buf) - 1)
            return 0;
    }
    if (id != NULL) {
        const char *h = strcasestr(buf, "\r\nLambda-Extension-Identifier:");
        if (h == NULL)
            return 0;
        h += 30;
        while (*h == ' ')
            h++;
        size_t n = strcspn(h, "\r\n");
        if (n >= id_cap)
            return 0;
        memcpy(id, h, n);
        id[n] = '\0';
    }
    /* "HTTP/1.1 200 ..." */
    if (have < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return 0;
    return (int)strtol(buf + 9, NULL, 10);
}

int main(int argc, char **argv)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (argc < 1 || api == NULL || (sock = connect_api(api)) < 0)
        return 1;
    char id[128], req[512];
    const char *body = "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}";
    int len = snprintf(req, sizeof(req),
                       "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: %s\r\n"
                       "Lambda-Extension-Name: %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       api, basename(argv[0]), strlen(body), body);
    if (call(req, (size_t)len, id, sizeof(id)) != 200)
        return 1;
    len = snprintf(req, sizeof(req),
                   "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: %s\r\n"
                   "Lambda-Extension-Identifier: %s\r\n\r\n",
                   api, id);
    for (;;) {
        if (call(req, (size_t)len, NULL, 0) != 200)
            return 1;
        if (strstr(buf, "\"SHUTDOWN\"") != NULL)
            return 0;
    }
}
