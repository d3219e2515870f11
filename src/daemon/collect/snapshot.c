#include <leakwatch/snapshot.h>
#include <leakwatch/pages.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leakwatch/lambda_api.h>
#include <leakwatch/log.h>
#include <leakwatch/probes.h>
#include <leakwatch/procfs.h>
#include <leakwatch/runtime_hints.h>

/* Bounds: a Lambda environment has a handful of processes (at most 1,024 processes and threads
 * per function) and at most 10 extensions; the tables below are fixed so that a snapshot never
 * allocates. */
#define MAX_KNOWN 64
#define MAX_TASKS 256
#define READ_CAP 4096
#define PATH_CAP 128
#define EXE_CAP 512
#define MAX_EXT_FILES 32
/* Children files kept open across boundaries (one per thread of each process searched). A JVM
 * or Node.js runtime has tens of threads: re-opening each thread's file at every boundary was 3
 * system calls per thread and invocation, a kept one is 1. Beyond this many, files are opened
 * for one read as before, so leakwatch's descriptors stay bounded. */
#define CHILD_FILES 128

/* A process seen in this discovery pass and not classified yet. */
#define ROLE_PENDING LW_ROLE_COUNT

struct known {
    int32_t pid;
    int32_t parent; /* the pid this one was found under */
    uint64_t start_ticks;
    enum lw_proc_role role;
    char name[LW_NAME_MAX];
    bool named;      /* an extension named by its file (else by its process name) */
    bool seen;       /* found in the current discovery pass */
    bool read;       /* already read in the current snapshot */
    int dir_fd;      /* /proc/PID: open only during the pass that first saw the process */
    int status_fd;   /* /proc/PID/status, kept open: one pread per boundary */
    int clear_fd;    /* /proc/PID/clear_refs for the function and leakwatch, else -1 */
    int clear_errno; /* why clear_refs could not be opened (0: it was, or it is not wanted) */
    int task_fd;     /* /proc/PID/task, kept open, else -1 */
    bool one_thread; /* the last listing of task_fd found the main thread alone */
    int32_t threads; /* "Threads:" of this snapshot's reading (read set), else 0: unknown */
};

/* An open /proc/PID/task/TID/children. */
struct child_file {
    int32_t pid;
    int32_t tid;
    int fd; /* -1: slot free */
    bool seen;
};

/* A file of the extensions folder: Lambda starts each as one extension. */
struct ext_file {
    char name[LW_NAME_MAX];
    bool claimed; /* a process was named after it (or it is leakwatch's own) */
};

struct lw_processes {
    char proc_root[64];
    int32_t init_pid;
    int32_t self_pid;
    uint64_t self_start_ticks;
    bool have_self_start;
    char ext_dir[256];
    size_t ext_dir_len;
    struct ext_file ext_files[MAX_EXT_FILES];
    size_t n_ext_files;
    bool have_ext_files; /* the folder was listed whole */
    /* The runtime is decided once, at the first pass that sees a child of init that could be
     * it; there is one runtime per life of leakwatch (a reset restarts both). */
    bool decided;
    bool runtime_found;
    int32_t runtime_pid;
    uint64_t runtime_start_ticks;
    bool warned_ambiguous;
    bool have_children_files; /* the kernel offers /proc/PID/task/TID/children */
    bool function_seen;       /* some boundary found a process of the function */
    bool warned_no_function;
    struct known known[MAX_KNOWN];
    size_t n_known;
    struct child_file child_files[CHILD_FILES];
    char buf[READ_CAP];
    struct lw_runtime_hint runtime_hint; /* of the runtime last classified */
    struct lw_probes *probes;            /* NULL: no probe is read */
    bool exec_wrapper_expected;
};

/* Reads a small /proc file whole into buf (NUL-terminated), relative to an open directory (or
 * a path with AT_FDCWD). -1 when it cannot be read (typically ENOENT/ESRCH: the process is gone,
 * which is normal). */
static ssize_t read_small_at(int dir_fd, const char *name, char *buf, size_t cap)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
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

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void close_fds(struct known *k)
{
    close_fd(&k->dir_fd);
    close_fd(&k->status_fd);
    close_fd(&k->clear_fd);
    close_fd(&k->task_fd);
}

/* /proc/PID as a directory: what every file of that one process is opened through. */
static int open_proc_dir(const struct lw_processes *ps, int32_t pid)
{
    char path[PATH_CAP];
    snprintf(path, sizeof(path), "%s/%d", ps->proc_root, (int)pid);
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * Lists the extensions folder once: the files Lambda starts as extensions. Lambda (like AWS's
 * emulator) takes every entry that is not a directory. A folder that cannot be listed, or holds
 * more files than the table, leaves have_ext_files false: then no name is given by elimination
 * and no late extension is assumed.
 */
static void list_extensions(struct lw_processes *ps)
{
    if (ps->ext_dir_len == 0)
        return;
    int dir = open(ps->ext_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return;
    char dents[2048] __attribute__((aligned(8)));
    ssize_t got;
    bool whole = true;
    while ((got = getdents64(dir, dents, sizeof(dents))) > 0) {
        for (ssize_t off = 0; off < got;) {
            struct dirent64 *de = (struct dirent64 *)(dents + off);
            off += de->d_reclen;
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            struct stat st;
            if (de->d_type == DT_DIR ||
                (de->d_type == DT_UNKNOWN && fstatat(dir, de->d_name, &st, 0) == 0 &&
                 S_ISDIR(st.st_mode)))
                continue;
            if (ps->n_ext_files >= MAX_EXT_FILES) {
                whole = false;
                continue;
            }
            struct ext_file *f = &ps->ext_files[ps->n_ext_files++];
            size_t len = strnlen(de->d_name, sizeof(f->name) - 1);
            memcpy(f->name, de->d_name, len);
            f->name[len] = '\0';
            /* leakwatch's own file: leakwatch is known by its pid, whatever runs it */
            f->claimed = strcmp(f->name, LW_EXTENSION_NAME) == 0;
        }
    }
    close(dir);
    ps->have_ext_files = got == 0 && whole;
}

struct lw_processes *lw_processes_new(const struct lw_processes_config *cfg)
{
    struct lw_processes *ps = lw_pages_alloc(sizeof(*ps));
    if (ps == NULL)
        return NULL;
    snprintf(ps->proc_root, sizeof(ps->proc_root), "%s", cfg->proc_root);
    ps->init_pid = cfg->init_pid;
    ps->self_pid = cfg->self_pid;
    if (cfg->extensions_dir != NULL && cfg->extensions_dir[0] != '\0') {
        snprintf(ps->ext_dir, sizeof(ps->ext_dir), "%s", cfg->extensions_dir);
    } else {
        /* Running as the real binary in the extensions folder (no launcher): our own file. */
        char exe[EXE_CAP];
        char path[PATH_CAP];
        snprintf(path, sizeof(path), "%s/self/exe", ps->proc_root);
        ssize_t n = readlink(path, exe, sizeof(exe) - 1);
        if (n > 0) {
            exe[n] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash != NULL) {
                *slash = '\0';
                snprintf(ps->ext_dir, sizeof(ps->ext_dir), "%.*s", (int)sizeof(ps->ext_dir) - 1,
                         exe);
            }
        }
    }
    ps->ext_dir_len = strlen(ps->ext_dir);
    while (ps->ext_dir_len > 1 && ps->ext_dir[ps->ext_dir_len - 1] == '/')
        ps->ext_dir[--ps->ext_dir_len] = '\0';
    list_extensions(ps);
    ps->exec_wrapper_expected = cfg->exec_wrapper_expected;
    if (cfg->probes_dir != NULL && cfg->probes_dir[0] != '\0')
        ps->probes = lw_probes_new(cfg->probes_dir, cfg->proc_root, cfg->health);
    /* leakwatch's own start: no process started before it can be the runtime */
    int self = open_proc_dir(ps, ps->self_pid);
    struct lw_stat_info st;
    ssize_t n = self >= 0 ? read_small_at(self, "stat", ps->buf, sizeof(ps->buf)) : -1;
    if (n > 0 && lw_procfs_parse_stat(ps->buf, (size_t)n, &st) == LW_OK && st.pid == ps->self_pid) {
        ps->self_start_ticks = st.start_ticks;
        ps->have_self_start = true;
    }
    if (self >= 0)
        close(self);
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
    lw_probes_free(ps->probes);
    lw_pages_free(ps, sizeof(*ps));
}

static struct known *find_known(struct lw_processes *ps, int32_t pid)
{
    for (size_t i = 0; i < ps->n_known; i++)
        if (ps->known[i].pid == pid)
            return &ps->known[i];
    return NULL;
}

/*
 * First sighting of pid, found under parent (-1: leakwatch itself, found by pid): its /proc
 * directory is opened, its stat read through it (the start time, and the parent, which must be
 * the one the children list said: a pid reused since the list was read has another) and its
 * status opened. The new entry is left pending, its directory open for the classification.
 */
static struct known *sight(struct lw_processes *ps, int32_t pid, int32_t parent)
{
    if (ps->n_known >= MAX_KNOWN)
        return NULL;
    int dir = open_proc_dir(ps, pid);
    if (dir < 0)
        return NULL; /* gone already */
    struct lw_stat_info st;
    ssize_t n = read_small_at(dir, "stat", ps->buf, sizeof(ps->buf));
    int status_fd = -1;
    if (n <= 0 || lw_procfs_parse_stat(ps->buf, (size_t)n, &st) != LW_OK || st.pid != pid ||
        (parent >= 0 && st.ppid != parent) ||
        (status_fd = openat(dir, "status", O_RDONLY | O_CLOEXEC)) < 0) {
        close(dir);
        return NULL;
    }
    struct known *k = &ps->known[ps->n_known++];
    memset(k, 0, sizeof(*k));
    k->pid = pid;
    k->parent = parent >= 0 ? parent : st.ppid;
    k->start_ticks = st.start_ticks;
    k->role = ROLE_PENDING;
    snprintf(k->name, sizeof(k->name), "%s", st.comm);
    k->seen = true;
    k->dir_fd = dir;
    k->status_fd = status_fd;
    k->clear_fd = -1;
    k->task_fd = -1;
    k->one_thread = false;
    return k;
}

/* After the classification: the files the role needs, opened through the process's directory,
 * which is then closed (the kept files pin the process as well). */
static void settle(struct known *k)
{
    if (k->dir_fd < 0)
        return;
    if (k->role == LW_ROLE_RUNTIME || k->role == LW_ROLE_RUNTIME_CHILD || k->role == LW_ROLE_SELF) {
        k->clear_fd = openat(k->dir_fd, "clear_refs", O_WRONLY | O_CLOEXEC);
        k->clear_errno = k->clear_fd < 0 ? errno : 0;
    }
    /* leakwatch's own tree is not searched */
    if (k->role != LW_ROLE_SELF)
        k->task_fd = openat(k->dir_fd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close_fd(&k->dir_fd);
}

/*
 * Start order. Start times are in clock ticks (10 ms); within one tick pids are handed out in
 * order (the pid space cannot wrap around inside 10 ms), so the pid breaks the tie. Both come
 * from the kernel, not from the process.
 */
static bool started_before(uint64_t a_ticks, int32_t a_pid, uint64_t b_ticks, int32_t b_pid)
{
    return a_ticks < b_ticks || (a_ticks == b_ticks && a_pid < b_pid);
}

/* Takes the file (name, len) of the extensions folder for k. When the folder was listed, only
 * its files are names: Lambda starts nothing else from it. */
static bool claim(struct lw_processes *ps, struct known *k, const char *name, size_t len)
{
    char want[LW_NAME_MAX];
    snprintf(want, sizeof(want), "%.*s", (int)len, name);
    if (ps->have_ext_files) {
        struct ext_file *f = NULL;
        for (size_t i = 0; i < ps->n_ext_files && f == NULL; i++)
            if (strcmp(ps->ext_files[i].name, want) == 0)
                f = &ps->ext_files[i];
        if (f == NULL)
            return false;
        f->claimed = true;
    }
    lw_procfs_copy_name(k->name, sizeof(k->name), want, strlen(want));
    k->named = true;
    return true;
}

/*
 * The file k was started from, if it is one of the extensions folder: /proc/PID/exe (a binary
 * started from there), else any argument of its command line (a script: the kernel runs its
 * interpreter with the script's path after the interpreter's own arguments).
 */
static bool named_by_file(struct lw_processes *ps, struct known *k)
{
    if (ps->ext_dir_len == 0)
        return false;
    const char *name;
    size_t len;
    char exe[EXE_CAP];
    ssize_t e = readlinkat(k->dir_fd, "exe", exe, sizeof(exe) - 1);
    if (e > 0 && lw_procfs_path_in_dir(exe, (size_t)e, ps->ext_dir, ps->ext_dir_len, &name, &len) &&
        claim(ps, k, name, len))
        return true;
    ssize_t n = read_small_at(k->dir_fd, "cmdline", ps->buf, sizeof(ps->buf));
    for (size_t off = 0; n > 0 && off < (size_t)n;) {
        if (!lw_procfs_cmdline_find_in_dir(ps->buf + off, (size_t)n - off, ps->ext_dir,
                                           ps->ext_dir_len, &name, &len))
            return false;
        if (claim(ps, k, name, len))
            return true;
        off = (size_t)(name - ps->buf) + len + 1; /* a path not of the folder's files: on */
    }
    return false;
}

static bool top_level(const struct lw_processes *ps, const struct known *k)
{
    return k->parent == ps->init_pid;
}

/*
 * The runtime's heap ceiling from its command line and its environment, read once when the
 * runtime is first known and never again: the per-invocation path stays one pread per process.
 * The environment buffer is mapped for this call and unmapped after it, so its pages never stay
 * in leakwatch's RSS. A runtime whose environment cannot be read keeps what its command line
 * says.
 */
static void note_runtime_hint(struct lw_processes *ps, struct known *k)
{
    if (k->dir_fd < 0)
        return;
    ssize_t c = read_small_at(k->dir_fd, "cmdline", ps->buf, sizeof(ps->buf));
    size_t cap = LW_RUNTIME_HINTS_ENVIRON_MAX + 1;
    char *env = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ssize_t n = env != MAP_FAILED ? read_small_at(k->dir_fd, "environ", env, cap) : -1;
    lw_runtime_hints_parse(ps->buf, c > 0 ? (size_t)c : 0, env != MAP_FAILED ? env : NULL,
                           n > 0 ? (size_t)n : 0, &ps->runtime_hint);
    if (env != MAP_FAILED)
        munmap(env, cap);
    lw_debug("runtime pid %d: %s, heap ceiling from %s (%s)", (int)k->pid,
             lw_runtime_kind_name(ps->runtime_hint.kind),
             lw_heap_source_name(ps->runtime_hint.source), ps->runtime_hint.origin);
    /* What the exec wrapper did, said once per runtime (a reset restarts leakwatch too). */
    if (ps->runtime_hint.probe == LW_PROBE_OFF)
        lw_info("runtime probe off (%s): leak verdicts come from resident memory alone",
                ps->runtime_hint.probe_note);
    else if (ps->runtime_hint.probe == LW_PROBE_NONE && ps->exec_wrapper_expected)
        lw_warn("AWS_LAMBDA_EXEC_WRAPPER names leakwatch's wrapper, but the runtime (pid %d) was "
                "not started through it (an OS-only runtime ignores the variable): leak "
                "verdicts come from resident memory alone",
                (int)k->pid);
    else if (ps->runtime_hint.probe == LW_PROBE_NONE && ps->runtime_hint.kind == LW_RUNTIME_NODE)
        lw_info("Node.js (pid %d) without leakwatch's wrapper: a leak's projection comes from "
                "resident memory, which also carries V8 sizing its heap; "
                "AWS_LAMBDA_EXEC_WRAPPER=/opt/leakwatch/wrapper gives V8's own figures",
                (int)k->pid);
}

/*
 * The candidates of the first pass: children of init started after leakwatch that no file
 * names. One is the runtime; the others are extensions that left their file by exec (a shell
 * script that execs a program elsewhere). The extensions folder says how many of those there
 * are: its files no process claimed, less the extensions already found without a name. When
 * the count fits, the runtime is the one started last (Lambda starts it only once every
 * extension has registered). When it does not (a process reparented to init, an extension that
 * exited, a folder that could not be listed), leakwatch cannot tell, and says so.
 */
static void decide_runtime(struct lw_processes *ps, struct known **cand, size_t n_cand)
{
    ps->decided = true;
    size_t unclaimed = 0, unnamed = 0;
    for (size_t i = 0; i < ps->n_ext_files; i++)
        unclaimed += !ps->ext_files[i].claimed;
    for (size_t i = 0; i < ps->n_known; i++) {
        const struct known *k = &ps->known[i];
        unnamed += top_level(ps, k) && k->role == LW_ROLE_EXTENSION && !k->named;
    }
    size_t late = ps->have_ext_files && unclaimed > unnamed ? unclaimed - unnamed : 0;
    if (n_cand != late + 1) {
        for (size_t i = 0; i < n_cand; i++)
            cand[i]->role = LW_ROLE_UNKNOWN;
        if (!ps->warned_ambiguous) {
            ps->warned_ambiguous = true;
            lw_warn("%zu children of pid %d started after leakwatch where the extensions folder "
                    "accounts for %zu: which one is the runtime cannot be told; they are reported "
                    "as unknown, and records go out without the function's figures",
                    n_cand, (int)ps->init_pid, late + 1);
        }
        return;
    }
    struct known *last = cand[0];
    for (size_t i = 1; i < n_cand; i++)
        if (started_before(last->start_ticks, last->pid, cand[i]->start_ticks, cand[i]->pid))
            last = cand[i];
    for (size_t i = 0; i < n_cand; i++)
        cand[i]->role = cand[i] == last ? LW_ROLE_RUNTIME : LW_ROLE_EXTENSION;
    ps->runtime_found = true;
    ps->runtime_pid = last->pid;
    ps->runtime_start_ticks = last->start_ticks;
    note_runtime_hint(ps, last);
}

/* An extension known to be one but not named by its file takes the folder's one file left,
 * when exactly one of each remains; else it keeps its process name. */
static void name_by_elimination(struct lw_processes *ps)
{
    if (!ps->have_ext_files)
        return;
    struct known *only = NULL;
    size_t unnamed = 0;
    for (size_t i = 0; i < ps->n_known; i++) {
        struct known *k = &ps->known[i];
        if (top_level(ps, k) && k->role == LW_ROLE_EXTENSION && !k->named) {
            only = k;
            unnamed++;
        }
    }
    struct ext_file *left = NULL;
    size_t unclaimed = 0;
    for (size_t i = 0; i < ps->n_ext_files; i++) {
        if (!ps->ext_files[i].claimed) {
            left = &ps->ext_files[i];
            unclaimed++;
        }
    }
    if (unnamed == 1 && unclaimed == 1) {
        left->claimed = true;
        lw_procfs_copy_name(only->name, sizeof(only->name), left->name, strlen(left->name));
        only->named = true;
    }
}

/* Classifies the pending children of init seen in this pass (from index from on), together:
 * which one is the runtime depends on all of them. */
static void classify_top(struct lw_processes *ps, size_t from)
{
    struct known *cand[MAX_KNOWN];
    size_t n_cand = 0;
    for (size_t i = from; i < ps->n_known; i++) {
        struct known *k = &ps->known[i];
        if (k->role != ROLE_PENDING || !top_level(ps, k))
            continue;
        if (k->pid == ps->self_pid) {
            k->role = LW_ROLE_SELF;
            snprintf(k->name, sizeof(k->name), "%s", LW_EXTENSION_NAME);
        } else if (named_by_file(ps, k)) {
            k->role = LW_ROLE_EXTENSION;
        } else if (ps->have_self_start &&
                   started_before(k->start_ticks, k->pid, ps->self_start_ticks, ps->self_pid)) {
            /* started before leakwatch, so before leakwatch registered: not the runtime */
            k->role = LW_ROLE_EXTENSION;
        } else if (ps->runtime_found) {
            /* a newcomer (reparented to init): before the runtime, in the extensions' time */
            k->role =
                started_before(k->start_ticks, k->pid, ps->runtime_start_ticks, ps->runtime_pid)
                    ? LW_ROLE_EXTENSION
                    : LW_ROLE_UNKNOWN;
        } else if (ps->decided) {
            k->role = LW_ROLE_UNKNOWN;
        } else {
            cand[n_cand++] = k;
        }
    }
    if (n_cand > 0)
        decide_runtime(ps, cand, n_cand);
    name_by_elimination(ps);
}

/* A descendant takes its role from its parent, classified at the level above. */
static void classify_child(struct lw_processes *ps, struct known *k)
{
    const struct known *p = find_known(ps, k->parent);
    if (p == NULL || p->role == ROLE_PENDING || p->role == LW_ROLE_SELF ||
        p->role == LW_ROLE_UNKNOWN) {
        k->role = LW_ROLE_UNKNOWN;
    } else if (p->role == LW_ROLE_EXTENSION) {
        char comm[LW_NAME_MAX];
        memcpy(comm, k->name, sizeof(comm));
        k->role = LW_ROLE_EXTENSION;
        snprintf(k->name, sizeof(k->name), "%.31s/%.30s", p->name, comm);
    } else {
        k->role = LW_ROLE_RUNTIME_CHILD;
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

/*
 * Whether the process of k has one thread now. That thread is the main one, whose tid is the
 * pid: the thread group's leader stays listed until the whole process ends. And it has every
 * child: those of a thread that ended go to a live thread of the same process. The status read
 * at this boundary, microseconds ago, says how many threads there are ("Threads:"), at no cost;
 * without it, the link count of the task folder does: 2 plus the process's threads (procfs
 * counts them at each stat; a test's plain folder has 2 plus its subfolders).
 */
static bool has_one_thread(const struct known *k)
{
    if (k->read && k->threads > 0)
        return k->threads == 1;
    struct stat st;
    return fstat(k->task_fd, &st) == 0 && st.st_nlink == 3;
}

/* Children of pid over all its threads: a child belongs to the thread that forked it, and
 * Lambda's init (like any multi-threaded parent) forks from several. A known process keeps its
 * task folder and its threads' children files open; others (init) are opened for this pass. A
 * known process that had one thread at its last listing and still has one is not listed again
 * (no system call instead of an lseek and two getdents64 calls per boundary). */
/* One thread's children file, read and appended to out. */
static void add_children(struct lw_processes *ps, int task_fd, int32_t pid, int32_t tid, bool keep,
                         int32_t *out, size_t cap, size_t *n)
{
    ssize_t len = read_children(ps, task_fd, pid, tid, keep);
    if (len > 0)
        *n += lw_procfs_parse_children(ps->buf, (size_t)len, out + *n, cap - *n);
}

static void children_of(struct lw_processes *ps, int32_t pid, int32_t *out, size_t cap, size_t *n)
{
    struct known *k = find_known(ps, pid);
    int task_fd = -1;
    if (k != NULL) {
        /* opened through the process's own directory at its first sighting, never by path */
        task_fd = k->task_fd;
        if (task_fd < 0)
            return;
        if (k->one_thread && has_one_thread(k)) {
            add_children(ps, task_fd, pid, pid, true, out, cap, n);
            return;
        }
        if (lseek(task_fd, 0, SEEK_SET) != 0)
            return;
    } else {
        /* init, our parent: its pid cannot be reused while leakwatch lives */
        char path[PATH_CAP];
        snprintf(path, sizeof(path), "%s/%d/task", ps->proc_root, (int)pid);
        task_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (task_fd < 0)
            return;
    }
    /* getdents64 straight into a small buffer: a DIR would allocate 32 KiB per process kept. */
    char dents[2048] __attribute__((aligned(8)));
    size_t tasks = 0;
    bool main_thread = false;
    ssize_t got;
    while (tasks < MAX_TASKS && (got = getdents64(task_fd, dents, sizeof(dents))) > 0) {
        for (ssize_t off = 0; off < got && tasks < MAX_TASKS;) {
            struct dirent64 *de = (struct dirent64 *)(dents + off);
            off += de->d_reclen;
            if (de->d_name[0] < '0' || de->d_name[0] > '9')
                continue;
            tasks++;
            int32_t tid = (int32_t)strtol(de->d_name, NULL, 10);
            main_thread |= tid == pid;
            add_children(ps, task_fd, pid, tid, k != NULL, out, cap, n);
        }
    }
    if (k != NULL)
        k->one_thread = tasks == 1 && main_thread;
    else
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
        ssize_t len = read_small_at(AT_FDCWD, path, ps->buf, sizeof(ps->buf));
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
        /* New processes are first sighted, then classified together (the children of init)
         * or by their parent, before their own children are looked for. */
        size_t first_new = ps->n_known;
        for (size_t j = 0; j < n_next; j++) {
            struct known *k = find_known(ps, next[j]);
            if (k != NULL)
                k->seen = true;
            else
                sight(ps, next[j], next_parent[j]);
        }
        classify_top(ps, first_new);
        for (size_t i = first_new; i < ps->n_known; i++) {
            if (ps->known[i].role == ROLE_PENDING)
                classify_child(ps, &ps->known[i]);
            settle(&ps->known[i]);
        }
        size_t kept = 0;
        for (size_t j = 0; j < n_next; j++) {
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
    struct known *self;
    if (find_known(ps, ps->self_pid) == NULL && (self = sight(ps, ps->self_pid, -1)) != NULL) {
        /* leakwatch always reports itself, even when its parent is not Lambda's init. */
        self->role = LW_ROLE_SELF;
        snprintf(self->name, sizeof(self->name), "%s", LW_EXTENSION_NAME);
        settle(self);
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
    k->threads = (st.present & LW_STATUS_THREADS) ? st.threads : 0;
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
     * was opened at the process's first sighting, through its own /proc directory, and stays
     * open: the write handler ignores the offset. */
    ssize_t w = -1;
    int saved = k->clear_errno != 0 ? k->clear_errno : ESRCH;
    if (k->clear_fd >= 0) {
        do {
            w = write(k->clear_fd, "5", 1);
        } while (w < 0 && errno == EINTR);
        saved = errno;
    }
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
    /* The probes last: the processes' own readings come first, as close to the thaw as can be. */
    memset(&out->sites, 0, sizeof(out->sites));
    out->tracemalloc_frames = 0;
    if (ps->probes != NULL) {
        /* Without the wrapper's GC log a JVM still keeps its performance data. */
        enum lw_probe_kind expected = ps->runtime_hint.probe;
        if ((expected == LW_PROBE_NONE || expected == LW_PROBE_OFF) &&
            ps->runtime_hint.kind == LW_RUNTIME_JVM)
            expected = LW_PROBE_JVM_PERFDATA;
        for (uint32_t i = 0; i < out->n_procs && i < LW_MAX_PROCS; i++) {
            struct lw_proc_reading *r = &out->procs[i];
            if (lw_record_role_is_function(r->role))
                lw_probes_read(ps->probes, expected, r->role == LW_ROLE_RUNTIME, r);
        }
        lw_probes_end(ps->probes, &out->sites, &out->tracemalloc_frames);
    }
    bool found = false;
    for (uint32_t i = 0; i < out->n_procs && i < LW_MAX_PROCS; i++)
        found |= lw_record_role_is_function(out->procs[i].role);
    ps->function_seen |= found;
    /* A runtime that has exited at SHUTDOWN is normal; never having seen one is not: /proc is
     * hidden (hidepid) or unreadable. Said once; the records say "processes" is incomplete. */
    if (!found && !ps->function_seen && !ps->warned_no_function && !ps->warned_ambiguous) {
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

int lw_processes_dup_status(const struct lw_processes *ps, int32_t pid, uint64_t start_ticks)
{
    for (size_t i = 0; i < ps->n_known; i++) {
        const struct known *k = &ps->known[i];
        if (k->pid == pid && k->start_ticks == start_ticks && k->status_fd >= 0)
            return fcntl(k->status_fd, F_DUPFD_CLOEXEC, 0);
    }
    return -1;
}
