/* The snapshot shell against a fake /proc tree: discovery, classification, readings, resets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leakwatch/snapshot.h>

static char root[256];

static void put(const char *rel, const void *data, size_t len)
{
    char path[512];
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

static void putf(const char *rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(const char *rel, const char *fmt, ...)
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
static void proc(int pid, int ppid, const char *comm, const char *cmdline, size_t cmdline_len,
                 unsigned rss_kb, unsigned anon_kb, const char *children)
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

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *rel);

/* A process that exits: its /proc files read as empty through descriptors opened before (the
 * kernel answers ESRCH there), and its directory is gone for everyone else. */
static void vanish(int pid)
{
    char rel[64];
    snprintf(rel, sizeof(rel), "%d/status", pid);
    put(rel, "", 0);
    snprintf(rel, sizeof(rel), "%d", pid);
    rm_tree(rel);
}

static void rm_tree(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void read_file(const char *rel, char *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

#define CMD(s) s, sizeof(s) - 1

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "%s/lw-fakeproc-XXXXXX", P_tmpdir);
    assert_non_null(mkdtemp(root));
    /* init (100) has two threads; children belong to the thread that forked them */
    proc(100, 0, "init", CMD("/var/rapid/init\0--bootstrap\0"), 1000, 900, "200 201 202 ");
    putf("100/task/101/children", "203 ");
    proc(200, 100, "leakwatch", CMD("/opt/leakwatch/lib/ld-linux-x86-64.so.2\0"), 3000, 1000, "");
    proc(201, 100, "bootstrap", CMD("/var/runtime/bootstrap\0"), 50000, 40000, "300 ");
    proc(300, 201, "worker", CMD("worker\0"), 20000, 15000, "");
    proc(202, 100, "otel-collector", CMD("/opt/extensions/otel\0"), 30000, 25000, "");
    proc(203, 100, "python3", CMD("/usr/bin/python3\0/opt/extensions/pyext\0"), 12000, 9000, "");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rm_tree("");
    return 0;
}

static const struct lw_proc_reading *find(const struct lw_snapshot *s, int pid)
{
    for (uint32_t i = 0; i < s->n_procs; i++)
        if (s->procs[i].pid == pid)
            return &s->procs[i];
    return NULL;
}

static struct lw_processes *make(void)
{
    struct lw_processes_config cfg = {
        .proc_root = root,
        .init_pid = 100,
        .self_pid = 200,
        .extensions_dir = "/opt/extensions",
    };
    struct lw_processes *ps = lw_processes_new(&cfg);
    assert_non_null(ps);
    return ps;
}

static void test_classifies_every_process(void **state)
{
    (void)state;
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, false, 1234, 77, &s);
    assert_int_equal(s.time_ms, 1234);
    assert_int_equal(s.self_cpu_us, 77);
    assert_int_equal(s.n_procs, 5);
    assert_int_equal(s.n_procs_dropped, 0);
    assert_null(find(&s, 100)); /* init is not part of the environment's figures */

    const struct lw_proc_reading *r = find(&s, 200);
    assert_non_null(r);
    assert_int_equal(r->role, LW_ROLE_SELF);
    assert_string_equal(r->name, "leakwatch");

    r = find(&s, 201);
    assert_non_null(r);
    assert_int_equal(r->role, LW_ROLE_RUNTIME);
    assert_string_equal(r->name, "bootstrap");
    assert_int_equal(r->mem.rss_bytes, 50000u * 1024u);
    assert_int_equal(r->mem.rss_anon_bytes, 40000u * 1024u);
    assert_int_equal(r->mem.rss_file_bytes, 10000u * 1024u);
    assert_int_equal(r->mem.hwm_bytes, 50100u * 1024u);
    assert_int_equal(r->start_ticks, 1201);

    r = find(&s, 300);
    assert_non_null(r);
    assert_int_equal(r->role, LW_ROLE_RUNTIME_CHILD);
    assert_string_equal(r->name, "worker");

    r = find(&s, 202);
    assert_non_null(r);
    assert_int_equal(r->role, LW_ROLE_EXTENSION);
    assert_string_equal(r->name, "otel");

    r = find(&s, 203); /* a script run by an interpreter: named by the script's file */
    assert_non_null(r);
    assert_int_equal(r->role, LW_ROLE_EXTENSION);
    assert_string_equal(r->name, "pyext");
    assert_true(lw_snapshot_has_runtime(&s));
    lw_processes_free(ps);
}

static void test_resets_only_the_function_and_self(void **state)
{
    (void)state;
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    assert_int_equal(lw_snapshot_take(ps, true, 1, 0, &s), LW_HWM_OK);
    char buf[16];
    static const struct {
        const char *file;
        const char *expect;
    } cases[] = {
        {"201/clear_refs", "5"}, {"300/clear_refs", "5"}, {"200/clear_refs", "5"},
        {"202/clear_refs", ""},  {"203/clear_refs", ""},  {"100/clear_refs", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        read_file(cases[i].file, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].expect);
    }
    assert_true(find(&s, 201)->hwm_reset);
    assert_false(find(&s, 202)->hwm_reset);

    /* Without a reset asked for, nothing is written. */
    put("201/clear_refs", "", 0);
    assert_int_equal(lw_snapshot_take(ps, false, 2, 0, &s), LW_HWM_UNTRIED);
    read_file("201/clear_refs", buf, sizeof(buf));
    assert_string_equal(buf, "");
    lw_processes_free(ps);
}

static void test_refused_reset_is_reported(void **state)
{
    (void)state;
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    /* A clear_refs that cannot be opened for writing (a directory) stands for a kernel that
     * refuses it. */
    rm_tree("201/clear_refs");
    char path[512];
    snprintf(path, sizeof(path), "%s/201/clear_refs", root);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(lw_snapshot_take(ps, true, 1, 0, &s), LW_HWM_REFUSED);
    assert_false(find(&s, 201)->hwm_reset);
    assert_true(find(&s, 300)->hwm_reset);
    lw_processes_free(ps);
}

static void test_vanished_processes(void **state)
{
    (void)state;
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, false, 1, 0, &s);
    assert_int_equal(s.n_procs, 5);
    /* The runtime and its child exit (SHUTDOWN: the runtime is stopped first). */
    vanish(201);
    vanish(300);
    putf("100/task/100/children", "200 202 ");
    lw_snapshot_take(ps, false, 2, 0, &s);
    assert_int_equal(s.n_procs, 3);
    assert_null(find(&s, 201));
    assert_false(lw_snapshot_has_runtime(&s));
    /* Listed as a child but gone before its status was read: left out, no error. */
    putf("100/task/100/children", "200 202 999 ");
    lw_snapshot_take(ps, false, 3, 0, &s);
    assert_int_equal(s.n_procs, 3);
    lw_processes_free(ps);
}

/* Lambda starts one runtime per life of leakwatch (a reset restarts both): a child of init
 * that appears after the runtime exited is not a second runtime. It started after the runtime,
 * so it is no extension either (a process reparented to init): leakwatch says it cannot tell.
 * One that started before the runtime is in the extensions' time. */
static void test_newcomer_after_the_runtime_exited(void **state)
{
    (void)state;
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, false, 1, 0, &s);
    vanish(201);
    vanish(300);
    proc(250, 100, "bootstrap", CMD("/var/runtime/bootstrap\0"), 6000, 5000, "");
    proc(199, 100, "agent", CMD("/opt/vendor/agent\0"), 1000, 500, ""); /* before self */
    putf("100/task/100/children", "200 202 250 199 ");
    lw_snapshot_take(ps, false, 2, 0, &s);
    const struct lw_proc_reading *r = find(&s, 250);
    assert_non_null(r);
    assert_int_equal(r->role, LW_ROLE_UNKNOWN);
    assert_int_equal(r->mem.rss_bytes, 6000u * 1024u);
    assert_false(lw_snapshot_has_runtime(&s));
    assert_int_equal(find(&s, 199)->role, LW_ROLE_EXTENSION);
    lw_processes_free(ps);
}

/* Processes the function starts are found at the next boundary; init's own children are listed
 * only while no runtime is alive, since Lambda starts them once per environment. */
static void test_new_children_of_the_runtime(void **state)
{
    (void)state;
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, false, 1, 0, &s);
    assert_int_equal(s.n_procs, 5);
    proc(301, 201, "helper", CMD("helper\0"), 4000, 3000, "");
    putf("201/task/201/children", "300 301 ");
    /* a child of init appearing now is not looked for while the runtime lives */
    proc(260, 100, "late", CMD("/opt/extensions/late\0"), 1000, 500, "");
    putf("100/task/100/children", "200 201 202 260 ");
    lw_snapshot_take(ps, false, 2, 0, &s);
    assert_int_equal(s.n_procs, 6);
    const struct lw_proc_reading *r = find(&s, 301);
    assert_non_null(r);
    assert_int_equal(r->role, LW_ROLE_RUNTIME_CHILD);
    assert_null(find(&s, 260));
    /* once the runtime is gone, init is listed again */
    vanish(201);
    vanish(300);
    vanish(301);
    putf("100/task/100/children", "200 202 260 ");
    lw_snapshot_take(ps, false, 3, 0, &s);
    assert_non_null(find(&s, 260));
    assert_int_equal(find(&s, 260)->role, LW_ROLE_EXTENSION);
    lw_processes_free(ps);
}

static size_t open_fds(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* A runtime with several threads: children forked by any of them are found, also when a thread
 * that was listed before forks later, ends, or is replaced; the files kept open for that do not
 * accumulate. */
static void test_children_of_every_thread_of_the_runtime(void **state)
{
    (void)state;
    putf("201/task/205/children", "%s", "");
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, false, 1, 0, &s);
    assert_int_equal(s.n_procs, 5);
    size_t fds = open_fds();

    /* thread 205, already listed (its children file is kept open), forks */
    proc(310, 201, "fork205", CMD("fork205\0"), 100, 50, "");
    putf("201/task/205/children", "310 ");
    lw_snapshot_take(ps, false, 2, 0, &s);
    assert_non_null(find(&s, 310));
    assert_int_equal(find(&s, 310)->role, LW_ROLE_RUNTIME_CHILD);

    /* thread 205 ends (its child goes with it), thread 206 starts and forks */
    vanish(310);
    rm_tree("201/task/205");
    proc(311, 201, "fork206", CMD("fork206\0"), 100, 50, "");
    putf("201/task/206/children", "311 ");
    lw_snapshot_take(ps, false, 3, 0, &s);
    assert_null(find(&s, 310));
    assert_non_null(find(&s, 311));

    /* many boundaries with threads coming and going: no descriptor left behind */
    for (int i = 0; i < 50; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "201/task/%d/children", 400 + i);
        putf(rel, "%s", "");
        lw_snapshot_take(ps, false, 4 + (uint64_t)i, 0, &s);
        snprintf(rel, sizeof(rel), "201/task/%d", 400 + i);
        rm_tree(rel);
    }
    lw_snapshot_take(ps, false, 100, 0, &s);
    assert_non_null(find(&s, 311));
    /* the new process 311 adds its status, its clear_refs, its task folder and its thread's
     * children file; 310's and the ended threads' files are closed */
    assert_int_equal(open_fds(), fds + 4);
    lw_processes_free(ps);
}

/* A process that exits and a new one given the same pid before the next boundary: the new
 * one's children are read from its own files, not from those kept for the old one. */
static void test_reused_pid_reads_its_own_children(void **state)
{
    (void)state;
    putf("300/task/300/children", "310 ");
    proc(310, 300, "old-child", CMD("old-child\0"), 100, 50, "");
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, false, 1, 0, &s);
    assert_non_null(find(&s, 310));
    vanish(310);
    vanish(300);
    proc(300, 201, "worker2", CMD("worker2\0"), 20000, 15000, "320 ");
    proc(320, 300, "new-child", CMD("new-child\0"), 100, 50, "");
    lw_snapshot_take(ps, false, 2, 0, &s);
    assert_null(find(&s, 310));
    assert_non_null(find(&s, 300));
    assert_non_null(find(&s, 320));
    lw_processes_free(ps);
}

static void test_more_processes_than_the_cap(void **state)
{
    (void)state;
    char children[1024] = "";
    size_t o = 0;
    for (int i = 0; i < LW_MAX_PROCS + 8; i++) {
        int pid = 400 + i;
        proc(pid, 300, "w", CMD("w\0"), 100, 50, "");
        o += (size_t)snprintf(children + o, sizeof(children) - o, "%d ", pid);
    }
    putf("300/task/300/children", "%s", children);
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, false, 1, 0, &s);
    assert_int_equal(s.n_procs, LW_MAX_PROCS);
    assert_true(s.n_procs_dropped > 0);
    assert_non_null(find(&s, 200)); /* leakwatch itself is always read */
    lw_processes_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_classifies_every_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resets_only_the_function_and_self, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_reset_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vanished_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newcomer_after_the_runtime_exited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_children_of_the_runtime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_children_of_every_thread_of_the_runtime, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reused_pid_reads_its_own_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_processes_than_the_cap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
