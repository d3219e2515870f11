#include <leakwatch/snapshot.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <leakwatch/log.h>
#include <leakwatch/procfs.h>
#include <leakwatch/runtime_hints.h>

/* Bounds: a Lambda environment has a handful of processes (at most 1,024 processes and threads
 * per function); the tables below are fixed so that a snapshot never allocates. */
#define MAX_KNOWN 64
#define MAX_TASKS 256
#define READ_CAP 4096
#define PATH_CAP 128
/* Children files kept open across boundaries (one per thread of each process searched). A JVM
 * or Node.js runtime has tens of threads: re-opening each thread's file at every boundary was 3
 * system calls per thread and invocation, a kept one is 1. Beyond this many, files are opened
 * for one read as before, so leakwatch's descriptors stay bounded. */
#define CHILD_FILES 128

struct known {
    int32_t pid;
    int32_t parent; /* the pid this one was found under */
    uint64_t start_ticks;
    enum lw_proc_role role;
    char name[LW_NAME_MAX];
    bool seen;     /* found in the current discovery pass */
    bool read;     /* already read in the current snapshot */
    int status_fd; /* /proc/PID/status, kept open: one pread per boundary */
    int clear_fd;  /* /proc/PID/clear_refs for the function and leakwatch, else -1 */
    int task_fd;   /* /proc/PID/task, kept open once its threads are listed, else -1 */
};

/* An open /proc/PID/task/TID/children. */
struct child_file {
    int32_t pid;
    int32_t tid;
    int fd; /* -1: slot free */
    bool seen;
};

struct lw_processes {
    char proc_root[64];
    int32_t init_pid;
    int32_t self_pid;
    char ext_dir[256];
    size_t ext_dir_len;
    bool have_children_files; /* the kernel offers /proc/PID/task/TID/children */
    bool function_seen;       /* some boundary found a process of the function */
    bool warned_no_function;
    struct known known[MAX_KNOWN];
    size_t n_known;
    struct child_file child_files[CHILD_FILES];
    char buf[READ_CAP];
    struct lw_runtime_hint runtime_hint; /* of the runtime last classified */
};

/* Reads a small /proc file whole into buf (NUL-terminated). -1 when it cannot be read
 * (typically ENOENT/ESRCH: the process is gone, which is normal). */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do {
        n = read(fd, buf, cap - 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return -1;
    /* One read is enough: these files are generated whole, and a file larger than the buffer
     * is cut at a line boundary the parsers tolerate. */
    buf[n] = '\0';
    return n;
}

/* Re-reads an open /proc file from its start. -1 when the process is gone (ESRCH). */
static ssize_t reread(int fd, char *buf, size_t cap)
{
    ssize_t n;
    do {
        n = pread(fd, buf, cap - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return n;
}

static void close_fds(struct known *k)
{
    if (k->status_fd >= 0)
        close(k->status_fd);
    if (k->clear_fd >= 0)
        close(k->clear_fd);
    if (k->task_fd >= 0)
        close(k->task_fd);
    k->status_fd = -1;
    k->clear_fd = -1;
    k->task_fd = -1;
}

struct lw_processes *lw_processes_new(const struct lw_processes_config *cfg)
{
    struct lw_processes *ps = calloc(1, sizeof(*ps));
    if (ps == NULL)
        return NULL;
    snprintf(ps->proc_root, sizeof(ps->proc_root), "%s", cfg->proc_root);
    ps->init_pid = cfg->init_pid;
    ps->self_pid = cfg->self_pid;
    if (cfg->extensions_dir != NULL && cfg->extensions_dir[0] != '\0') {
        snprintf(ps->ext_dir, sizeof(ps->ext_dir), "%s", cfg->extensions_dir);
    } else {
        /* Running as the real binary in the extensions folder (no launcher): our own file. */
        char exe[PATH_CAP];
        char path[PATH_CAP];
        snprintf(path, sizeof(path), "%s/self/exe", ps->proc_root);
        ssize_t n = readlink(path, exe, sizeof(exe) - 1);
        if (n > 0) {
            exe[n] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash != NULL) {
                *slash = '\0';
                snprintf(ps->ext_dir, sizeof(ps->ext_dir), "%s", exe);
            }
        }
    }
    ps->ext_dir_len = strlen(ps->ext_dir);
    for (size_t i = 0; i < CHILD_FILES; i++)
        ps->child_files[i].fd = -1;
    char path[PATH_CAP];
    snprintf(path, sizeof(path), "%s/%d/task/%d/children", ps->proc_root, (int)ps->init_pid,
             (int)ps->init_pid);
    ps->have_children_files = access(path, R_OK) == 0;
    return ps;
}

void lw_processes_free(struct lw_processes *ps)
{
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->n_known; i++)
        close_fds(&ps->known[i]);
    for (size_t i = 0; i < CHILD_FILES; i++)
        if (ps->child_files[i].fd >= 0)
            close(ps->child_files[i].fd);
    free(ps);
}

static struct known *find_known(struct lw_processes *ps, int32_t pid)
{
    for (size_t i = 0; i < ps->n_known; i++)
        if (ps->known[i].pid == pid)
            return &ps->known[i];
    return NULL;
}

/* Is path inside the extensions folder? Then it names the extension by its file name. */
static bool extension_name(const struct lw_processes *ps, const char *path, size_t len, char *name,
                           size_t cap)
{
    if (ps->ext_dir_len == 0 || len <= ps->ext_dir_len + 1)
        return false;
    if (memcmp(path, ps->ext_dir, ps->ext_dir_len) != 0 || path[ps->ext_dir_len] != '/')
        return false;
    const char *base = path + ps->ext_dir_len + 1;
    size_t blen = len - ps->ext_dir_len - 1;
    if (memchr(base, '/', blen) != NULL)
        return false;
    snprintf(name, cap, "%.*s", (int)blen, base);
    return true;
}

/*
 * The runtime's heap ceiling from its command line (already in ps->buf, cmdline_len bytes) and
 * its environment, read here once when the runtime is first seen and never again: the per-
 * invocation path stays one pread per process. The environment buffer is mapped for this call
 * and unmapped after it, so its pages never stay in leakwatch's RSS. A runtime whose
 * environment cannot be read keeps what its command line says.
 */
static void note_runtime_hint(struct lw_processes *ps, int32_t pid, size_t cmdline_len)
{
    char path[PATH_CAP];
    snprintf(path, sizeof(path), "%s/%d/environ", ps->proc_root, (int)pid);
    size_t cap = LW_RUNTIME_HINTS_ENVIRON_MAX + 1;
    char *env = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ssize_t n = env != MAP_FAILED ? read_small(path, env, cap) : -1;
    lw_runtime_hints_parse(ps->buf, cmdline_len, env != MAP_FAILED ? env : NULL,
                           n > 0 ? (size_t)n : 0, &ps->runtime_hint);
    if (env != MAP_FAILED)
        munmap(env, cap);
    lw_debug("runtime pid %d: %s, heap ceiling from %s (%s)", (int)pid,
             lw_runtime_kind_name(ps->runtime_hint.kind),
             lw_heap_source_name(ps->runtime_hint.source), ps->runtime_hint.origin);
}

/* Classifies a new child of init: leakwatch, an extension, or the runtime. */
static void classify_top(struct lw_processes *ps, struct known *k, const char *comm)
{
    if (k->pid == ps->self_pid) {
        k->role = LW_ROLE_SELF;
        snprintf(k->name, sizeof(k->name), "leakwatch");
        return;
    }
    char path[PATH_CAP];
    snprintf(path, sizeof(path), "%s/%d/cmdline", ps->proc_root, (int)k->pid);
    ssize_t n = read_small(path, ps->buf, sizeof(ps->buf));
    /* argv[0] for a binary; argv[1] when an interpreter runs a script from the folder. */
    const char *arg = ps->buf;
    size_t left = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < 2 && left > 0; i++) {
        const char *nul = memchr(arg, '\0', left);
        size_t alen = nul != NULL ? (size_t)(nul - arg) : left;
        if (extension_name(ps, arg, alen, k->name, sizeof(k->name))) {
            k->role = LW_ROLE_EXTENSION;
            return;
        }
        if (nul == NULL)
            break;
        left -= alen + 1;
        arg = nul + 1;
    }
    char exe[PATH_CAP];
    snprintf(path, sizeof(path), "%s/%d/exe", ps->proc_root, (int)k->pid);
    ssize_t e = readlink(path, exe, sizeof(exe) - 1);
    if (e > 0 && extension_name(ps, exe, (size_t)e, k->name, sizeof(k->name))) {
        k->role = LW_ROLE_EXTENSION;
        return;
    }
    k->role = LW_ROLE_RUNTIME;
    snprintf(k->name, sizeof(k->name), "%s", comm);
    note_runtime_hint(ps, k->pid, n > 0 ? (size_t)n : 0);
}

/* Notes pid as found under parent; new pids are read once (stat, cmdline) and classified. */
static void note(struct lw_processes *ps, int32_t pid, int32_t parent)
{
    struct known *k = find_known(ps, pid);
    if (k != NULL) {
        k->seen = true;
        return;
    }
    if (ps->n_known >= MAX_KNOWN)
        return;
    char path[PATH_CAP];
    snprintf(path, sizeof(path), "%s/%d/stat", ps->proc_root, (int)pid);
    ssize_t n = read_small(path, ps->buf, sizeof(ps->buf));
    struct lw_stat_info st;
    if (n <= 0 || lw_procfs_parse_stat(ps->buf, (size_t)n, &st) != LW_OK)
        return; /* gone already */
    snprintf(path, sizeof(path), "%s/%d/status", ps->proc_root, (int)pid);
    int status_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (status_fd < 0)
        return; /* gone already */
    k = &ps->known[ps->n_known++];
    memset(k, 0, sizeof(*k));
    k->pid = pid;
    k->parent = parent;
    k->start_ticks = st.start_ticks;
    k->seen = true;
    k->status_fd = status_fd;
    k->clear_fd = -1;
    k->task_fd = -1;
    if (parent == ps->init_pid) {
        classify_top(ps, k, st.comm);
    } else {
        struct known *p = find_known(ps, parent);
        if (p != NULL && p->role == LW_ROLE_EXTENSION) {
            char parent_name[LW_NAME_MAX];
            memcpy(parent_name, p->name, sizeof(parent_name));
            k->role = LW_ROLE_EXTENSION;
            snprintf(k->name, sizeof(k->name), "%.31s/%.30s", parent_name, st.comm);
        } else {
            k->role = LW_ROLE_RUNTIME_CHILD;
            snprintf(k->name, sizeof(k->name), "%s", st.comm);
        }
    }
}

/* The children file of (pid, tid) read into ps->buf; returns the bytes read, or -1. With keep,
 * the file stays open for the next boundaries while there is room. (A kept file of a thread that
 * ended reads empty; its tid returning in the same process before the next boundary would need
 * the pid space to wrap around in between.) */
static ssize_t read_children(struct lw_processes *ps, int task_fd, int32_t pid, int32_t tid,
                             bool keep)
{
    struct child_file *slot = NULL;
    for (size_t i = 0; i < CHILD_FILES; i++) {
        struct child_file *f = &ps->child_files[i];
        if (f->fd >= 0 && f->pid == pid && f->tid == tid) {
            f->seen = true;
            return reread(f->fd, ps->buf, sizeof(ps->buf));
        }
        if (f->fd < 0 && slot == NULL)
            slot = f;
    }
    char rel[32];
    snprintf(rel, sizeof(rel), "%d/children", (int)tid);
    int fd = openat(task_fd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1; /* the thread ended meanwhile */
    ssize_t n = reread(fd, ps->buf, sizeof(ps->buf));
    if (keep && slot != NULL)
        *slot = (struct child_file){.pid = pid, .tid = tid, .fd = fd, .seen = true};
    else
        close(fd);
    return n;
}

/* Children of pid over all its threads: a child belongs to the thread that forked it, and
 * Lambda's init (like any multi-threaded parent) forks from several. A known process keeps its
 * task folder and its threads' children files open; others (init) are opened for this pass. */
static void children_of(struct lw_processes *ps, int32_t pid, int32_t *out, size_t cap, size_t *n)
{
    struct known *k = find_known(ps, pid);
    int task_fd = k != NULL ? k->task_fd : -1;
    if (task_fd >= 0) {
        if (lseek(task_fd, 0, SEEK_SET) != 0)
            return;
    } else {
        char path[PATH_CAP];
        snprintf(path, sizeof(path), "%s/%d/task", ps->proc_root, (int)pid);
        task_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (task_fd < 0)
            return;
        if (k != NULL)
            k->task_fd = task_fd;
    }
    /* getdents64 straight into a small buffer: a DIR would allocate 32 KiB per process kept. */
    char dents[2048] __attribute__((aligned(8)));
    size_t tasks = 0;
    ssize_t got;
    while (tasks < MAX_TASKS && (got = getdents64(task_fd, dents, sizeof(dents))) > 0) {
        for (ssize_t off = 0; off < got && tasks < MAX_TASKS;) {
            struct dirent64 *de = (struct dirent64 *)(dents + off);
            off += de->d_reclen;
            if (de->d_name[0] < '0' || de->d_name[0] > '9')
                continue;
            tasks++;
            ssize_t len =
                read_children(ps, task_fd, pid, (int32_t)strtol(de->d_name, NULL, 10), k != NULL);
            if (len > 0)
                *n += lw_procfs_parse_children(ps->buf, (size_t)len, out + *n, cap - *n);
        }
    }
    if (k == NULL)
        close(task_fd);
}

/* A process that is no longer known: its descriptors and its threads' children files, so that
 * a new process given the same pid starts from its own files. */
static void forget(struct lw_processes *ps, struct known *k)
{
    for (size_t i = 0; i < CHILD_FILES; i++) {
        struct child_file *f = &ps->child_files[i];
        if (f->fd >= 0 && f->pid == k->pid) {
            close(f->fd);
            f->fd = -1;
        }
    }
    close_fds(k);
}

/* After a discovery pass: the children files of threads (or processes) no longer listed. */
static void sweep_child_files(struct lw_processes *ps)
{
    for (size_t i = 0; i < CHILD_FILES; i++) {
        struct child_file *f = &ps->child_files[i];
        if (f->fd >= 0 && !f->seen) {
            close(f->fd);
            f->fd = -1;
        }
        f->seen = false;
    }
}

/* Without children files (CONFIG_PROC_CHILDREN off): one scan of /proc for parents. */
static void children_by_scan(struct lw_processes *ps, const int32_t *parents, size_t n_parents,
                             int32_t *out, int32_t *out_parent, size_t cap, size_t *n)
{
    DIR *dir = opendir(ps->proc_root);
    if (dir == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL && *n < cap) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[PATH_CAP];
        snprintf(path, sizeof(path), "%s/%.16s/stat", ps->proc_root, de->d_name);
        ssize_t len = read_small(path, ps->buf, sizeof(ps->buf));
        struct lw_stat_info st;
        if (len <= 0 || lw_procfs_parse_stat(ps->buf, (size_t)len, &st) != LW_OK)
            continue;
        for (size_t i = 0; i < n_parents; i++) {
            if (st.ppid == parents[i]) {
                out[*n] = (int32_t)strtol(de->d_name, NULL, 10);
                out_parent[*n] = st.ppid;
                (*n)++;
                break;
            }
        }
    }
    closedir(dir);
}

/* Finds every process of the environment, breadth first from init, into ps->known. */
static void discover(struct lw_processes *ps)
{
    for (size_t i = 0; i < ps->n_known; i++)
        ps->known[i].seen = false;
    int32_t frontier[MAX_KNOWN], next[MAX_KNOWN], next_parent[MAX_KNOWN];
    size_t n_frontier = 0;
    /* Lambda's init starts the extensions and the runtime once; they change only when the
     * environment is reset, which restarts leakwatch as well. So init's children (one children
     * file per init thread) are listed only while no live runtime is known: at the first
     * boundary, or once the runtime has exited at SHUTDOWN. Otherwise the search starts from the
     * known children of init, and only their descendants are looked for again. */
    bool runtime_alive = false;
    for (size_t i = 0; i < ps->n_known; i++)
        runtime_alive |= ps->known[i].role == LW_ROLE_RUNTIME;
    int depth = 0;
    if (runtime_alive) {
        for (size_t i = 0; i < ps->n_known; i++) {
            struct known *k = &ps->known[i];
            if (k->parent == ps->init_pid && k->role != LW_ROLE_SELF) {
                k->seen = true;
                frontier[n_frontier++] = k->pid;
            }
        }
        depth = 1;
    } else {
        frontier[n_frontier++] = ps->init_pid;
    }
    /* Bounded depth: runtimes rarely nest more than a few levels. */
    for (; depth < 8 && n_frontier > 0; depth++) {
        size_t n_next = 0;
        if (ps->have_children_files) {
            for (size_t i = 0; i < n_frontier; i++) {
                size_t before = n_next;
                children_of(ps, frontier[i], next, MAX_KNOWN, &n_next);
                for (size_t j = before; j < n_next; j++)
                    next_parent[j] = frontier[i];
            }
        } else {
            children_by_scan(ps, frontier, n_frontier, next, next_parent, MAX_KNOWN, &n_next);
        }
        size_t kept = 0;
        for (size_t j = 0; j < n_next; j++) {
            note(ps, next[j], next_parent[j]);
            /* Descend into the function's and the extensions' trees; not into our own. */
            struct known *k = find_known(ps, next[j]);
            if (k != NULL && k->role != LW_ROLE_SELF)
                frontier[kept++] = next[j];
        }
        n_frontier = kept;
    }
    sweep_child_files(ps);
    /* Forget processes that are gone so their slots can be reused. */
    size_t w = 0;
    for (size_t i = 0; i < ps->n_known; i++) {
        if (ps->known[i].seen || ps->known[i].pid == ps->self_pid)
            ps->known[w++] = ps->known[i];
        else
            forget(ps, &ps->known[i]);
    }
    ps->n_known = w;
    if (find_known(ps, ps->self_pid) == NULL && ps->n_known < MAX_KNOWN) {
        /* leakwatch always reports itself, even when its parent is not Lambda's init. */
        struct known *k = &ps->known[ps->n_known++];
        memset(k, 0, sizeof(*k));
        k->pid = ps->self_pid;
        k->role = LW_ROLE_SELF;
        k->seen = true;
        char path[PATH_CAP];
        snprintf(path, sizeof(path), "%s/%d/status", ps->proc_root, (int)k->pid);
        k->status_fd = open(path, O_RDONLY | O_CLOEXEC);
        k->clear_fd = -1;
        k->task_fd = -1;
        snprintf(k->name, sizeof(k->name), "leakwatch");
    }
}

static bool resets(enum lw_proc_role role)
{
    return role == LW_ROLE_RUNTIME || role == LW_ROLE_RUNTIME_CHILD || role == LW_ROLE_SELF;
}

/* Reads one process into the next slot of out and, when asked, resets its high-water mark
 * right after the reading. Returns false when the process is gone. */
static bool read_one(struct lw_processes *ps, struct known *k, bool reset_hwm,
                     struct lw_snapshot *out, enum lw_hwm_state *state)
{
    if (k->status_fd < 0)
        return false;
    ssize_t n = reread(k->status_fd, ps->buf, sizeof(ps->buf));
    struct lw_status_info st;
    /* Gone (ESRCH on the open file: a reused pid can never be mistaken for it), or a zombie
     * without memory: normal, not an error. */
    if (n <= 0 || lw_procfs_parse_status(ps->buf, (size_t)n, &st) != LW_OK ||
        (st.present & LW_STATUS_VMRSS) == 0)
        return false;
    k->read = true;
    if (out->n_procs >= LW_MAX_PROCS) {
        out->n_procs_dropped++;
        return true;
    }
    struct lw_proc_reading *r = &out->procs[out->n_procs++];
    memset(r, 0, sizeof(*r));
    r->pid = k->pid;
    r->ppid = k->parent;
    r->start_ticks = k->start_ticks;
    r->role = k->role;
    memcpy(r->name, k->name, sizeof(r->name));
    r->mem = st.mem;
    if (!reset_hwm || !resets(k->role))
        return true;
    /* "5" resets the peak RSS to the current RSS (Linux >= 4.0). Written right after the
     * reading, so the VmHWM read at the next boundary is this invocation's own peak. The file
     * stays open: the write handler ignores the offset. */
    if (k->clear_fd < 0) {
        char path[PATH_CAP];
        snprintf(path, sizeof(path), "%s/%d/clear_refs", ps->proc_root, (int)k->pid);
        k->clear_fd = open(path, O_WRONLY | O_CLOEXEC);
    }
    ssize_t w = -1;
    if (k->clear_fd >= 0) {
        do {
            w = write(k->clear_fd, "5", 1);
        } while (w < 0 && errno == EINTR);
    }
    int saved = errno;
    r->hwm_reset = w == 1;
    if (r->hwm_reset && *state == LW_HWM_UNTRIED)
        *state = LW_HWM_OK;
    else if (!r->hwm_reset && saved != ENOENT && saved != ESRCH)
        *state = LW_HWM_REFUSED;
    return true;
}

enum lw_hwm_state lw_snapshot_take(struct lw_processes *ps, bool reset_hwm, uint64_t now_ms,
                                   uint64_t self_cpu_us, struct lw_snapshot *out)
{
    out->time_ms = now_ms;
    out->self_cpu_us = self_cpu_us;
    out->n_procs = 0;
    out->n_procs_dropped = 0;
    enum lw_hwm_state state = LW_HWM_UNTRIED;

    /* The runtime was released at the same moment as this INVOKE and is already running the
     * next invocation: the processes known from the last boundary are read first, the
     * function's before anything else, with one pread each on files kept open, so that the
     * "end" reading of the previous invocation is taken within microseconds of the thaw.
     * Only then is /proc searched for processes that appeared. */
    for (int pass = 0; pass < 2; pass++) {
        size_t w = 0;
        for (size_t i = 0; i < ps->n_known; i++) {
            struct known *k = &ps->known[i];
            bool first = lw_record_role_is_function(k->role);
            if ((pass == 0) != first) {
                ps->known[w++] = *k;
                continue;
            }
            k->read = false;
            if (read_one(ps, k, reset_hwm, out, &state)) {
                ps->known[w++] = *k;
            } else {
                forget(ps, k); /* gone: its pid may be reused by a process found later */
            }
        }
        ps->n_known = w;
    }
    discover(ps);
    for (size_t i = 0; i < ps->n_known; i++) {
        struct known *k = &ps->known[i];
        if (!k->read)
            read_one(ps, k, reset_hwm, out, &state);
    }
    for (size_t i = 0; i < ps->n_known; i++)
        ps->known[i].read = false;
    out->runtime_hint = ps->runtime_hint; /* after discover(): a new runtime is classified there */
    bool found = false;
    for (uint32_t i = 0; i < out->n_procs && i < LW_MAX_PROCS; i++)
        found |= lw_record_role_is_function(out->procs[i].role);
    ps->function_seen |= found;
    /* A runtime that has exited at SHUTDOWN is normal; never having seen one is not: /proc is
     * hidden (hidepid) or unreadable. Said once; the records say "processes" is incomplete. */
    if (!found && !ps->function_seen && !ps->warned_no_function) {
        ps->warned_no_function = true;
        lw_warn("no process of the function found among the children of pid %d in %s (/proc "
                "hidden or unreadable?); records go out without the function's figures",
                (int)ps->init_pid, ps->proc_root);
    }
    return state;
}

bool lw_snapshot_has_runtime(const struct lw_snapshot *s)
{
    for (uint32_t i = 0; i < s->n_procs; i++)
        if (s->procs[i].role == LW_ROLE_RUNTIME)
            return true;
    return false;
}

bool lw_processes_read_rss(const struct lw_processes *ps, int32_t pid, uint64_t *rss_bytes)
{
    char path[PATH_CAP];
    char buf[READ_CAP];
    snprintf(path, sizeof(path), "%s/%d/status", ps->proc_root, (int)pid);
    ssize_t n = read_small(path, buf, sizeof(buf));
    struct lw_status_info st;
    if (n <= 0 || lw_procfs_parse_status(buf, (size_t)n, &st) != LW_OK)
        return false;
    *rss_bytes = st.mem.rss_bytes;
    return true;
}
