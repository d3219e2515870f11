/* The work leakwatch cannot do without, and nothing else: the "required work" row of bench-cost.
 * One thread, like leakwatch. It registers for INVOKE and SHUTDOWN, subscribes to the Telemetry
 * API's platform events with leakwatch's buffering, and at every INVOKE, right after its next
 * event/next has gone out:
 *   - a pread of the runtime's and its own /proc/PID/status, and of the runtime's children;
 *   - a clear_refs write ("5": reset the peak) for each of the two;
 *   - one line of about the size of leakwatch's EMF record to stdout.
 * Telemetry batches are accepted, read whole and answered 200, without parsing. It keeps no state
 * across invocations and fits nothing: leakwatch's CPU beyond this one's is its own analysis,
 * joining and bookkeeping; this one's beyond the do-nothing extension's is the floor the issue's
 * list of required work sets on this machine.
 *
 * FLOOR_PARTS (default "proc+line+telemetry") leaves parts out, to see what each costs. The
 * runtime is the first other child of this process's parent: in the emulator, the only one.
 * Its name is its file name (basename of argv[0]). Built with the tests, run by bench-cost. */
#include "bench_extension.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>

enum { BATCH_CAP = 300 * 1024 };

static int api_fd = -1;
static char buf[65536];
static char batch[BATCH_CAP];
static char line[1500];

/* The first other child of our parent: the runtime, in the emulator. */
static int find_runtime(void)
{
    pid_t self = getpid(), parent = getppid();
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d)) != NULL) {
        int pid = atoi(e->d_name);
        if (pid <= 0 || pid == self)
            continue;
        char path[64], st[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, st, sizeof(st) - 1);
        close(fd);
        if (n <= 0)
            continue;
        st[n] = '\0';
        const char *rp = strrchr(st, ')');
        int ppid;
        if (rp != NULL && sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == parent)
            found = pid;
    }
    closedir(d);
    return found;
}

struct proc_fds {
    int status, clear_refs, children;
};

static struct proc_fds open_proc(int pid)
{
    char path[64];
    struct proc_fds p;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    p.status = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", pid);
    p.clear_refs = open(path, O_WRONLY | O_CLOEXEC);
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
    p.children = open(path, O_RDONLY | O_CLOEXEC);
    return p;
}

/* VmRSS in kB from a status file's text, 0 when absent. */
static long vm_rss(const char *status)
{
    const char *v = strstr(status, "\nVmRSS:");
    return v != NULL ? strtol(v + 7, NULL, 10) : 0;
}

static long read_proc(const struct proc_fds *p, int with_children)
{
    char st[2048];
    ssize_t n = pread(p->status, st, sizeof(st) - 1, 0);
    st[n > 0 ? n : 0] = '\0';
    if (write(p->clear_refs, "5", 1) != 1)
        return -1;
    if (with_children) {
        char kids[512];
        if (pread(p->children, kids, sizeof(kids), 0) < 0)
            return -1;
    }
    return vm_rss(st);
}

/* One line of about leakwatch's EMF record's size, its figures from this invocation. */
static void write_line(unsigned long seq, long runtime_kb, long self_kb)
{
    int n = snprintf(line, sizeof(line),
                     "{\"_aws\":{\"CloudWatchMetrics\":[{\"Namespace\":\"Floor\",\"Dimensions\":"
                     "[[\"FunctionName\"]],\"Metrics\":[{\"Name\":\"RuntimeRssBytes\",\"Unit\":"
                     "\"Bytes\"},{\"Name\":\"SelfRssBytes\",\"Unit\":\"Bytes\"}]}]},"
                     "\"Sequence\":%lu,\"RuntimeRssBytes\":%ld,\"SelfRssBytes\":%ld,\"Pad\":\"",
                     seq, runtime_kb * 1024, self_kb * 1024);
    if (n < 0 || (size_t)n >= sizeof(line) - 3)
        return;
    memset(line + n, 'x', sizeof(line) - 3 - (size_t)n);
    memcpy(line + sizeof(line) - 3, "\"}\n", 3);
    if (write(STDOUT_FILENO, line, sizeof(line)) < 0)
        return;
}

static int listen_on(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* as leakwatch: a batch's connection is accepted with its bytes, one wake-up */
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The telemetry connection being read: its bytes so far. */
static int conn_fd = -1;
static size_t conn_have;

static void serve_telemetry(int listen_fd, short lrev, short crev)
{
    if (conn_fd < 0 && (lrev & POLLIN)) {
        conn_fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        conn_have = 0;
        crev = POLLIN;
    }
    if (conn_fd < 0 || !(crev & (POLLIN | POLLHUP | POLLERR)))
        return;
    for (;;) {
        if (conn_have == sizeof(batch))
            break;
        ssize_t n = recv(conn_fd, batch + conn_have, sizeof(batch) - conn_have, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* the rest comes later */
        if (n <= 0)
            break;
        conn_have += (size_t)n;
        if (bench_message_len(batch, conn_have) != 0)
            break;
    }
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (send(conn_fd, ok, sizeof(ok) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* the sender gave up: nothing to answer */
    }
    close(conn_fd);
    conn_fd = -1;
}

int main(int argc, char **argv)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (argc < 1 || api == NULL || (api_fd = bench_connect_api(api)) < 0)
        return 1;
    const char *parts = getenv("FLOOR_PARTS");
    if (parts == NULL)
        parts = "proc+line+telemetry";
    int do_proc = strstr(parts, "proc") != NULL, do_line = strstr(parts, "line") != NULL,
        do_tel = strstr(parts, "telemetry") != NULL;

    char id[128], req[1024];
    if (bench_register(api_fd, api, basename(argv[0]), id, sizeof(id), buf, sizeof(buf)) != 0)
        return 1;

    int listen_fd = -1;
    if (do_tel) {
        const char *p = getenv("LEAKWATCH_TELEMETRY_PORT"), *t = getenv("FLOOR_TIMEOUT_MS");
        unsigned port = p != NULL ? (unsigned)atoi(p) : 8424;
        unsigned timeout_ms = t != NULL ? (unsigned)atoi(t) : 100;
        if ((listen_fd = listen_on(port)) < 0)
            return 1;
        char sub[512];
        int sn = snprintf(sub, sizeof(sub),
                          "{\"schemaVersion\":\"2022-12-13\",\"types\":[\"platform\"],"
                          "\"buffering\":{\"maxItems\":1000,\"maxBytes\":262144,\"timeoutMs\":%u},"
                          "\"destination\":{\"protocol\":\"HTTP\","
                          "\"URI\":\"http://sandbox.localdomain:%u/\"}}",
                          timeout_ms, port);
        int slen = snprintf(req, sizeof(req),
                            "PUT /2022-07-01/telemetry HTTP/1.1\r\nHost: %s\r\n"
                            "Lambda-Extension-Identifier: %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %d\r\n\r\n%s",
                            api, id, sn, sub);
        if (bench_call(api_fd, req, (size_t)slen, buf, sizeof(buf)) != 200)
            return 1;
    }

    int len = snprintf(req, sizeof(req),
                       "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: %s\r\n"
                       "Lambda-Extension-Identifier: %s\r\n\r\n",
                       api, id);
    struct proc_fds runtime = {-1, -1, -1}, self = {-1, -1, -1};
    unsigned long seq = 0;
    if (bench_send(api_fd, req, (size_t)len) != 0)
        return 1;
    for (;;) {
        struct pollfd pf[3] = {{.fd = api_fd, .events = POLLIN},
                               {.fd = listen_fd, .events = POLLIN},
                               {.fd = conn_fd, .events = POLLIN}};
        if (poll(pf, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (listen_fd >= 0)
            serve_telemetry(listen_fd, pf[1].revents, pf[2].revents);
        if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (bench_read_answer(api_fd, buf, sizeof(buf)) != 200)
            return 1;
        if (strstr(buf, "\"SHUTDOWN\"") != NULL)
            return 0;
        /* an INVOKE: the next request first, then the work */
        if (bench_send(api_fd, req, (size_t)len) != 0)
            return 1;
        seq++;
        long rt_kb = 0, self_kb = 0;
        if (do_proc) {
            if (runtime.status < 0) {
                int pid = find_runtime();
                if (pid < 0)
                    return 1;
                runtime = open_proc(pid);
                self = open_proc(getpid());
            }
            rt_kb = read_proc(&runtime, 1);
            self_kb = read_proc(&self, 0);
        }
        if (do_line)
            write_line(seq, rt_kb, self_kb);
    }
}
