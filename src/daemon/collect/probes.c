/*
 * The runtime probes' files, read at each boundary (see probes.h for the contract).
 */
#include <leakwatch/probes.h>
#include <leakwatch/pages.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leakwatch/gclog.h>
#include <leakwatch/hsperf.h>
#include <leakwatch/log.h>
#include <leakwatch/probe_file.h>

#define JVM_CHUNK 16384
/* Boundaries a process is looked for before its missing report is said; then it is looked for
 * at every RETRY_EVERY-th boundary only (one openat each). */
#define MISSES_BEFORE_SAYING 2
#define RETRY_EVERY 64

struct slot {
    bool used;
    bool seen; /* read at this boundary */
    int32_t pid;
    uint64_t start_ticks;
    enum lw_probe_kind kind;
    int fd;
    ino_t ino;
    uint32_t misses;
    bool said_rejected;
    bool have_last;
    struct lw_heap_mem last;
    uint32_t tracemalloc_frames;
    struct lw_alloc_sites sites;
    /* the JVM's log */
    uint64_t offset;
    struct lw_gclog gc;
    /* the JVM's performance-data file */
    bool have_layout;
    bool refused; /* a file whose layout is not read (G1, broken): not read again */
    struct lw_hsperf_layout layout;
    struct lw_hsperf_track track;
};

struct lw_probes {
    char dir[256];
    char proc_root[64];
    int dir_fd;
    struct lw_health *health;
    struct slot slots[LW_PROBES_MAX];
    bool said_full;
    bool said_missing;
    bool said_on;
    bool said_control;
    uint64_t traced_boundaries; /* boundaries at which a probe said tracemalloc runs */
    uint32_t requests;          /* allocation-site requests written to the control file */
    char *buf;                  /* JVM_CHUNK bytes, also the probe file's */
};

struct lw_probes *lw_probes_new(const char *dir, const char *proc_root, struct lw_health *health)
{
    struct lw_probes *p = lw_pages_alloc(sizeof(*p));
    if (p == NULL)
        return NULL;
    p->buf = malloc(JVM_CHUNK);
    if (p->buf == NULL) {
        lw_pages_free(p, sizeof(*p));
        return NULL;
    }
    snprintf(p->dir, sizeof(p->dir), "%s", dir ? dir : "");
    snprintf(p->proc_root, sizeof(p->proc_root), "%s", proc_root ? proc_root : "/proc");
    p->dir_fd = -1;
    p->health = health;
    for (size_t i = 0; i < LW_PROBES_MAX; i++)
        p->slots[i].fd = -1;
    return p;
}

static void close_slot(struct slot *s)
{
    if (s->fd >= 0)
        close(s->fd);
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

void lw_probes_free(struct lw_probes *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < LW_PROBES_MAX; i++)
        close_slot(&p->slots[i]);
    if (p->dir_fd >= 0)
        close(p->dir_fd);
    free(p->buf);
    lw_pages_free(p, sizeof(*p));
}

static struct slot *slot_of(struct lw_probes *p, const struct lw_proc_reading *r)
{
    struct slot *free_slot = NULL;
    for (size_t i = 0; i < LW_PROBES_MAX; i++) {
        struct slot *s = &p->slots[i];
        if (s->used && s->pid == r->pid && s->start_ticks == r->start_ticks)
            return s;
        if (!s->used && free_slot == NULL)
            free_slot = s;
    }
    if (free_slot == NULL) {
        if (!p->said_full)
            lw_warn("runtime probes: more than %d processes of the function; the others' "
                    "reports are not read",
                    LW_PROBES_MAX);
        p->said_full = true;
        return NULL;
    }
    close_slot(free_slot);
    free_slot->used = true;
    free_slot->pid = r->pid;
    free_slot->start_ticks = r->start_ticks;
    return free_slot;
}

/* A report that cannot be used: counted, and said once per process. */
static void reject(struct lw_probes *p, struct slot *s, const char *file, const char *why)
{
    lw_health_add(p->health, LW_H_PROBE_REJECTED, 1);
    if (!s->said_rejected)
        lw_warn("runtime probe of pid %d: %s%s%s not used: %s (counted in %s)", (int)s->pid,
                file[0] == '/' ? "" : p->dir, file[0] == '/' ? "" : "/", file, why,
                lw_health_name(LW_H_PROBE_REJECTED));
    s->said_rejected = true;
}

/* Opens name in the probes' folder: a regular file, never through a link. -1 when it is not
 * there (errno ENOENT) or cannot be used (said). */
static int open_file(struct lw_probes *p, struct slot *s, const char *name)
{
    if (p->dir_fd < 0) {
        p->dir_fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->dir_fd < 0)
            return -1;
    }
    int fd = openat(p->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            reject(p, s, name, errno == ELOOP ? "a symbolic link" : strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        reject(p, s, name, "not a regular file");
        errno = EINVAL;
        return -1;
    }
    s->ino = st.st_ino;
    return fd;
}

/* Node.js, Python: the whole file, once more when the first read caught a write half done. */
static bool read_probe_file(struct lw_probes *p, struct slot *s, const char *name)
{
    struct lw_probe_report rep;
    const char *why = "unreadable";
    for (int attempt = 0; attempt < 2; attempt++) {
        ssize_t n;
        do {
            n = pread(s->fd, p->buf, LW_PROBE_FILE_BYTES, 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            break;
        if (lw_probe_file_parse(p->buf, (size_t)n, &rep, &why) != LW_OK)
            continue;
        if (rep.pid != s->pid || rep.start_ticks != s->start_ticks) {
            why = "it belongs to another process (of an earlier environment?)";
            break;
        }
        if (rep.kind != s->kind) {
            why = "it is another runtime's";
            break;
        }
        s->last = rep.heap;
        s->have_last = true;
        s->tracemalloc_frames = rep.tracemalloc_frames;
        s->sites = rep.sites;
        return true;
    }
    /* Missing at this boundary, never guessed from the previous report. */
    s->have_last = false;
    reject(p, s, name, why);
    return false;
}

/* The JVM: what its log gained since the last boundary. */
static bool read_gc_log(struct lw_probes *p, struct slot *s, const char *name)
{
    uint64_t got_total = 0;
    for (;;) {
        ssize_t n;
        do {
            n = pread(s->fd, p->buf, JVM_CHUNK, (off_t)s->offset);
        } while (n < 0 && errno == EINTR);
        if (n <= 0)
            break;
        got_total += (uint64_t)n;
        size_t used = lw_gclog_feed(&s->gc, p->buf, (size_t)n);
        s->offset += used;
        if ((size_t)n < JVM_CHUNK)
            break;
        if (got_total >= LW_PROBES_JVM_READ_MAX) {
            /* More than a boundary reads: jump to the end, where the latest collections are,
             * and start again at the next whole line. */
            struct stat st;
            if (fstat(s->fd, &st) == 0 && (uint64_t)st.st_size > s->offset + JVM_CHUNK) {
                s->offset = (uint64_t)st.st_size - JVM_CHUNK;
                lw_gclog_resync(&s->gc);
                reject(p, s, name, "more written in one invocation than a boundary reads");
            }
            break;
        }
    }
    if (got_total == 0 && s->offset > 0) {
        /* Nothing new: the JVM may have started a new file of that name (filecount=1). */
        struct stat st;
        if (fstatat(p->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino != s->ino) {
            struct lw_gclog fresh;
            lw_gclog_init(&fresh);
            fresh.heap = s->gc.heap; /* the ceiling is in the first file's header only */
            close(s->fd);
            s->fd = open_file(p, s, name);
            s->offset = 0;
            s->gc = fresh;
            if (s->fd >= 0)
                return read_gc_log(p, s, name);
        }
    }
    if (s->gc.heap.have == 0)
        return false;
    s->last = s->gc.heap;
    s->have_last = true;
    return true;
}

/*
 * The JVM's performance-data file, found through the process's own mapping of it (hsperf.h):
 * /proc/PID/maps read once, a line at a time, then the file opened by that name, never through
 * a link, and kept only if it is the inode the process maps. -1 when the process maps none
 * (-XX:-UsePerfData, not a JVM, not started yet).
 */
static int open_hsperf(struct lw_probes *p, struct slot *s, char *path, size_t cap)
{
    char maps[96];
    snprintf(maps, sizeof(maps), "%s/%d/maps", p->proc_root, (int)s->pid);
    int mfd = open(maps, O_RDONLY | O_CLOEXEC);
    if (mfd < 0)
        return -1;
    uint64_t ino = 0;
    bool found = false;
    size_t have = 0;
    while (!found) {
        ssize_t n;
        do {
            n = read(mfd, p->buf + have, JVM_CHUNK - have);
        } while (n < 0 && errno == EINTR);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(p->buf + start, '\n', have - start);
            if (nl == NULL)
                break;
            size_t len = (size_t)(nl - (p->buf + start));
            if (lw_hsperf_maps_line(p->buf + start, len, s->pid, path, cap, &ino)) {
                found = true;
                break;
            }
            start += len + 1;
        }
        if (start == 0 && have == JVM_CHUNK)
            have = 0; /* a line longer than the buffer: no path of ours is that long */
        else {
            memmove(p->buf, p->buf + start, have - start);
            have -= start;
        }
    }
    close(mfd);
    if (!found)
        return -1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        reject(p, s, path, errno == ELOOP ? "a symbolic link" : strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != ino) {
        close(fd);
        reject(p, s, path, "not the file the JVM maps");
        return -1;
    }
    return fd;
}

/* A pid's performance-data file as a log line names it when its exact name is not at hand:
 * formatted only for such a line, never at a boundary that says nothing. */
static void hsperf_pattern(char *buf, size_t cap, int32_t pid)
{
    snprintf(buf, cap, "%s*/%d", LW_HSPERF_DIR_PREFIX, (int)pid);
}

static void reject_hsperf(struct lw_probes *p, struct slot *s, const char *why)
{
    char path[64];
    hsperf_pattern(path, sizeof(path), s->pid);
    reject(p, s, path, why);
}

/* The counters: found once in the file's first JVM_CHUNK bytes, read at their places after. */
static bool read_hsperf(struct lw_probes *p, struct slot *s)
{
    const char *why = "unreadable";
    size_t want = s->have_layout ? s->layout.end : JVM_CHUNK;
    ssize_t n;
    do {
        n = pread(s->fd, p->buf, want, 0);
    } while (n < 0 && errno == EINTR);
    int64_t v[LW_HSPERF_COUNTERS];
    const unsigned char *b = (const unsigned char *)p->buf;
    s->have_last = false;
    if (n > 0 && !s->have_layout) {
        if (lw_hsperf_layout_parse(b, (size_t)n, &s->layout, &why) != LW_OK) {
            /* A JVM still starting has not filled its file in: looked at again next time.
             * Anything else will not change: said and counted once, then left alone. */
            if (strcmp(why, "not filled in yet") != 0) {
                s->refused = true;
                reject_hsperf(p, s, why);
            }
            return false;
        }
        s->have_layout = true;
    }
    if (n > 0 && s->have_layout && lw_hsperf_read(&s->layout, b, (size_t)n, v, &why) == LW_OK) {
        lw_hsperf_heap(&s->track, v, &s->last);
        s->have_last = true;
        return true;
    }
    reject_hsperf(p, s, why);
    return false;
}

static void read_jvm_perfdata(struct lw_probes *p, bool runtime, struct lw_proc_reading *r,
                              struct slot *s)
{
    if (s->refused)
        return;
    char path[160]; /* the file's name, once it is opened: for the log line that says so */
    path[0] = '\0';
    if (s->fd < 0) {
        s->misses++;
        if (s->misses > MISSES_BEFORE_SAYING && s->misses % RETRY_EVERY != 0)
            return;
        s->fd = open_hsperf(p, s, path, sizeof(path));
        if (s->fd < 0) {
            if (runtime && s->misses == MISSES_BEFORE_SAYING && !p->said_missing) {
                p->said_missing = true;
                lw_info("the JVM (pid %d) keeps no performance data (-XX:-UsePerfData?): leak "
                        "verdicts come from resident memory alone",
                        (int)r->pid);
            }
            return;
        }
        s->have_layout = false;
        memset(&s->track, 0, sizeof(s->track));
    }
    if (read_hsperf(p, s) && !p->said_on) {
        p->said_on = true;
        if (!path[0]) /* opened at an earlier boundary, before the JVM filled the file in */
            hsperf_pattern(path, sizeof(path), r->pid);
        lw_info("the JVM's heap (pid %d) from its performance data, %s", (int)r->pid, path);
    }
    if (s->refused) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->have_last) {
        r->probe = LW_PROBE_JVM_PERFDATA;
        r->heap = s->last;
    }
}

void lw_probes_read(struct lw_probes *p, enum lw_probe_kind expected, bool runtime,
                    struct lw_proc_reading *r)
{
    if (expected == LW_PROBE_JVM_PERFDATA) {
        struct slot *s = slot_of(p, r);
        if (s != NULL) {
            s->seen = true;
            s->kind = expected;
            read_jvm_perfdata(p, runtime, r, s);
        }
        return;
    }
    if (expected != LW_PROBE_NODE && expected != LW_PROBE_PYTHON && expected != LW_PROBE_JVM)
        return;
    struct slot *s = slot_of(p, r);
    if (s == NULL)
        return;
    s->seen = true;
    s->kind = expected;
    char name[64];
    if (expected == LW_PROBE_JVM)
        snprintf(name, sizeof(name), "jvm-%d.log", (int)r->pid);
    else
        snprintf(name, sizeof(name), "%d.probe", (int)r->pid);
    if (s->fd < 0) {
        s->misses++;
        if (s->misses > MISSES_BEFORE_SAYING && s->misses % RETRY_EVERY != 0)
            return;
        s->fd = open_file(p, s, name);
        if (s->fd < 0) {
            if (runtime && s->misses == MISSES_BEFORE_SAYING && !p->said_missing) {
                p->said_missing = true;
                lw_warn("runtime probe (%s) of pid %d: no report in %s; the probe did not load "
                        "in the runtime, leak verdicts come from resident memory alone",
                        lw_probe_kind_name(expected), (int)r->pid, p->dir);
            }
            return;
        }
        lw_gclog_init(&s->gc);
        s->offset = 0;
    }
    bool fresh = expected == LW_PROBE_JVM ? read_gc_log(p, s, name) : read_probe_file(p, s, name);
    if (fresh && !p->said_on) {
        p->said_on = true;
        lw_info("runtime probe (%s) reports for pid %d: heap after collections from %s/%s",
                lw_probe_kind_name(expected), (int)r->pid, p->dir, name);
    }
    if (s->have_last) {
        r->probe = expected;
        r->heap = s->last;
    }
}

bool lw_probes_sites_due(uint64_t traced_boundaries)
{
    if (traced_boundaries < LW_PROBES_SITES_FIRST)
        return false;
    /* LW_PROBES_SITES_FIRST is a power of two: from there on, every power of two */
    return (traced_boundaries & (traced_boundaries - 1)) == 0;
}

/* The request, "leakwatch-control 1 snapshot <n>\n", written whole to a new file and renamed
 * over the old one: a probe never reads half of it. The folder is the function's to write too,
 * so nothing is followed there: a symbolic link at control.tmp is not opened, and rename
 * replaces whatever name is at control without writing through it. */
static void write_request(struct lw_probes *p)
{
    char text[64];
    int n = snprintf(text, sizeof(text), "leakwatch-control 1 snapshot %u\n", p->requests + 1);
    if (n < 0 || (size_t)n >= sizeof(text) || p->dir_fd < 0)
        return;
    int fd = openat(p->dir_fd, "control.tmp",
                    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, text, (size_t)n) == n;
    if (fd >= 0)
        close(fd);
    ok = ok && renameat(p->dir_fd, "control.tmp", p->dir_fd, "control") == 0;
    if (!ok) {
        if (!p->said_control) {
            p->said_control = true;
            lw_warn("runtime probes: cannot ask for allocation sites in %s/control: %s; the "
                    "records go on without them",
                    p->dir, strerror(errno));
        }
        return;
    }
    p->requests++;
}

void lw_probes_end(struct lw_probes *p, struct lw_alloc_sites *sites, uint32_t *tracemalloc_frames)
{
    memset(sites, 0, sizeof(*sites));
    *tracemalloc_frames = 0;
    for (size_t i = 0; i < LW_PROBES_MAX; i++) {
        struct slot *s = &p->slots[i];
        if (!s->used)
            continue;
        if (!s->seen) {
            close_slot(s); /* its process is gone */
            continue;
        }
        s->seen = false;
        if (s->tracemalloc_frames > *tracemalloc_frames)
            *tracemalloc_frames = s->tracemalloc_frames;
        if (s->sites.request > sites->request)
            *sites = s->sites;
    }
    /* With tracemalloc on, the probe snapshots when asked: a baseline first, then at every
     * power of two of the boundaries, log2(n) snapshots in n invocations. */
    if (*tracemalloc_frames > 0 && lw_probes_sites_due(++p->traced_boundaries))
        write_request(p);
}
