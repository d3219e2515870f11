/*
 * A fake /proc for the tests of the modules that read it (the snapshot, the sampler): a
 * temporary folder the module is pointed at through proc_root, with files written as the kernel
 * writes them. A process that exits is emptied (descriptors opened before read nothing, as the
 * kernel answers ESRCH there) and its folder removed, so a new process given the same pid gets
 * new files. Include after <cmocka.h>.
 */
#ifndef LEAKWATCH_FAKE_PROC_H
#define LEAKWATCH_FAKE_PROC_H

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leakwatch/snapshot.h>

/* the fake /proc: a folder made by the test (mkdtemp) */
static char root[256];

static inline void put(const char *rel, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    /* mkdir -p of the parent */
    for (char *p = path + strlen(root) + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static inline void putf(const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void putf(const char *rel, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    put(rel, buf, (size_t)n);
}

/* A process: stat, status (sizes in kB), cmdline, an empty clear_refs and its task children
 * (as the kernel writes them: each pid followed by a space). */
static inline void proc(int pid, int ppid, const char *comm, const char *cmdline,
                        size_t cmdline_len, unsigned rss_kb, unsigned anon_kb, const char *children)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "%d/stat", pid);
    putf(rel, "%d (%s) S %d 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 %d 0 0 0\n", pid, comm, ppid,
         1000 + pid);
    snprintf(rel, sizeof(rel), "%d/status", pid);
    putf(rel,
         "Name:\t%s\nState:\tS (sleeping)\nPid:\t%d\nPPid:\t%d\nVmHWM:\t%u kB\nVmRSS:\t%u kB\n"
         "RssAnon:\t%u kB\nRssFile:\t%u kB\nRssShmem:\t0 kB\n",
         comm, pid, ppid, rss_kb + 100, rss_kb, anon_kb, rss_kb - anon_kb);
    snprintf(rel, sizeof(rel), "%d/cmdline", pid);
    put(rel, cmdline, cmdline_len);
    snprintf(rel, sizeof(rel), "%d/clear_refs", pid);
    put(rel, "", 0);
    snprintf(rel, sizeof(rel), "%d/task/%d/children", pid, pid);
    put(rel, children, strlen(children));
}

static inline int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void rm_tree(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A process that exits: its /proc files read as empty through descriptors opened before (the
 * kernel answers ESRCH there), and its directory is gone for everyone else. */
static inline void vanish(int pid)
{
    char rel[64];
    snprintf(rel, sizeof(rel), "%d/status", pid);
    put(rel, "", 0);
    snprintf(rel, sizeof(rel), "%d", pid);
    rm_tree(rel);
}

static inline void read_file(const char *rel, char *buf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

#define CMD(s) s, sizeof(s) - 1

/* A new, empty fake /proc. */
static inline void fake_proc_make_root(void)
{
    snprintf(root, sizeof(root), "%s/lw-fakeproc-XXXXXX", P_tmpdir);
    assert_non_null(mkdtemp(root));
}

static inline int fake_proc_teardown(void **state)
{
    (void)state;
    rm_tree("");
    return 0;
}

/* The process table of an environment whose init is init_pid, read from the fake /proc. */
static inline struct lw_processes *fake_proc_processes(int init_pid, int self_pid)
{
    struct lw_processes_config cfg = {
        .proc_root = root,
        .init_pid = init_pid,
        .self_pid = self_pid,
        .extensions_dir = "/opt/extensions",
    };
    struct lw_processes *ps = lw_processes_new(&cfg);
    assert_non_null(ps);
    return ps;
}

/* The reading of pid in a snapshot, NULL when it has none. */
static inline const struct lw_proc_reading *find(const struct lw_snapshot *s, int pid)
{
    for (uint32_t i = 0; i < s->n_procs; i++)
        if (s->procs[i].pid == pid)
            return &s->procs[i];
    return NULL;
}

#endif
