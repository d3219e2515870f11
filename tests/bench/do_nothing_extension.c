/* The cheapest possible external extension, the floor of the CPU comparison in bench-compare:
 * one thread, one keep-alive connection to the Extensions API, register for INVOKE and SHUTDOWN,
 * then event/next in a loop; it reads nothing and measures nothing. Whatever an extension costs
 * per invocation beyond this is its own work. Its name is its file name (basename of argv[0]). */
#include "bench_extension.h"

#include <libgen.h>
#include <stdio.h>

static char buf[65536];

int main(int argc, char **argv)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    int sock;
    if (argc < 1 || api == NULL || (sock = bench_connect_api(api)) < 0)
        return 1;
    char id[128], req[512];
    if (bench_register(sock, api, basename(argv[0]), id, sizeof(id), buf, sizeof(buf)) != 0)
        return 1;
    int len = snprintf(req, sizeof(req),
                   "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: %s\r\n"
                   "Lambda-Extension-Identifier: %s\r\n\r\n",
                   api, id);
    for (;;) {
        if (bench_call(sock, req, (size_t)len, buf, sizeof(buf)) != 200)
            return 1;
        if (strstr(buf, "\"SHUTDOWN\"") != NULL)
            return 0;
    }
}
