/*
 * A minimal external extension, compiled by the classification tests: it registers, holds a
 * known amount of memory and answers events until SHUTDOWN. It plays two shapes of extension:
 *   - a binary in the extensions folder: no arguments, named by its file (basename of argv[0]);
 *   - a vendor's program started by a script of the extensions folder with exec
 *     ("exec /opt/vendor/bin/agent NAME"): named by its first argument, so that nothing in its
 *     command line or its executable names the extensions folder.
 * The memory it holds comes from SHAPE_AGENT_BYTES (anonymous, every page written).
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[65536];

/* AWS_LAMBDA_RUNTIME_API is "host:port" with a numeric host (the emulator's 127.0.0.1). */
static int connect_api(const char *api)
{
    char host[64];
    unsigned short port = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (sscanf(api, "%63[^:]:%hu", host, &port) != 2 || port == 0 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    sa.sin_port = htons(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* One request on a new connection; the whole answer (the server closes) into buf. */
static int call(const char *api, const char *req, size_t len)
{
    int fd = connect_api(api);
    if (fd < 0)
        return 0;
    if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        return 0;
    }
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        const char *body = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (body != NULL && cl != NULL &&
            (long)(have - (size_t)(body + 4 - buf)) >= strtol(cl + 17, NULL, 10))
            break;
        if (have >= sizeof(buf) - 1)
            break;
    }
    close(fd);
    buf[have] = '\0';
    if (have < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return 0;
    return (int)strtol(buf + 9, NULL, 10);
}

int main(int argc, char **argv)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *name = argc > 1 ? argv[1] : basename(argv[0]);
    const char *bytes_env = getenv("SHAPE_AGENT_BYTES");
    size_t bytes = bytes_env != NULL ? strtoul(bytes_env, NULL, 10) : 0;
    if (api == NULL)
        return 1;
    char *held = bytes > 0 ? malloc(bytes) : NULL;
    if (held != NULL)
        memset(held, 1, bytes);
    char req[512];
    const char *body = "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}";
    int len = snprintf(req, sizeof(req),
                       "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: %s\r\n"
                       "Connection: close\r\nLambda-Extension-Name: %s\r\n"
                       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       api, name, strlen(body), body);
    if (call(api, req, (size_t)len) != 200)
        return 1;
    const char *h = strcasestr(buf, "\r\nLambda-Extension-Identifier:");
    if (h == NULL)
        return 1;
    h += 30;
    while (*h == ' ')
        h++;
    char id[128];
    size_t idlen = strcspn(h, "\r\n");
    if (idlen >= sizeof(id))
        return 1;
    memcpy(id, h, idlen);
    id[idlen] = '\0';
    len = snprintf(req, sizeof(req),
                   "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: %s\r\n"
                   "Connection: close\r\nLambda-Extension-Identifier: %s\r\n\r\n",
                   api, id);
    for (;;) {
        if (call(api, req, (size_t)len) != 200)
            return 1;
        if (strstr(buf, "\"SHUTDOWN\"") != NULL)
            break;
    }
    if (held != NULL)
        held[0] = 0;
    return 0;
}
