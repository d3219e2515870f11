/* The snapshot shell against a fake /proc tree (fake_proc.h): discovery, classification,
 * readings, resets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_proc.h"
#include "fixture.h"

#include <leakwatch/procfs.h>
#include <leakwatch/snapshot.h>

static int setup(void **state)
{
    (void)state;
    fake_proc_make_root();
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

static struct lw_processes *make(void)
{
    return fake_proc_processes(100, 200);
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

/* A runtime with one thread is not listed again while it keeps one (its task folder's link count
 * says so); once a second thread appears, the listing finds what that thread forks; when it
 * ends, its child belongs to the main thread. Nothing is missed and no descriptor is left. */
static void test_one_thread_runtime_listed_again_when_it_gains_a_thread(void **state)
{
    (void)state;
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, false, 1, 0, &s); /* 201 listed: one thread */
    lw_snapshot_take(ps, false, 2, 0, &s); /* not listed: the link count */
    assert_int_equal(s.n_procs, 5);
    size_t fds = open_fds();

    /* the main thread forks: read from its kept children file */
    proc(310, 201, "fork201", CMD("fork201\0"), 100, 50, "");
    putf("201/task/201/children", "300 310 ");
    lw_snapshot_take(ps, false, 3, 0, &s);
    assert_non_null(find(&s, 310));

    /* a second thread starts and forks: the link count changes, so the folder is listed */
    proc(311, 201, "fork207", CMD("fork207\0"), 100, 50, "");
    putf("201/task/207/children", "311 ");
    lw_snapshot_take(ps, false, 4, 0, &s);
    assert_non_null(find(&s, 311));
    assert_int_equal(find(&s, 311)->role, LW_ROLE_RUNTIME_CHILD);

    /* the thread ends; its child goes to the main thread, where it is still found */
    rm_tree("201/task/207");
    putf("201/task/201/children", "300 310 311 ");
    lw_snapshot_take(ps, false, 5, 0, &s); /* listed again: one thread */
    assert_non_null(find(&s, 311));
    lw_snapshot_take(ps, false, 6, 0, &s); /* not listed */
    assert_non_null(find(&s, 310));
    assert_non_null(find(&s, 311));
    assert_int_equal(s.n_procs, 7);
    /* 310 and 311 add their status, clear_refs, task folder and main thread's children file;
     * thread 207's children file is closed */
    assert_int_equal(open_fds(), fds + 8);
    lw_processes_free(ps);
}

/* 201's status as the kernel writes it: with its thread count. */
static void status_201_with_threads(int threads)
{
    putf("201/status",
         "Name:\tbootstrap\nState:\tS (sleeping)\nPid:\t201\nPPid:\t100\nVmHWM:\t50100 kB\n"
         "VmRSS:\t50000 kB\nRssAnon:\t40000 kB\nRssFile:\t10000 kB\nRssShmem:\t0 kB\n"
         "Threads:\t%d\n",
         threads);
}

/* With "Threads:" in its status (every kernel writes it), the status read at the same boundary
 * decides whether a one-thread runtime's task folder is listed again, not its link count. The
 * fake tree can say one thing in the status and another in the folder, which the kernel never
 * does: that shows which one is used. */
static void test_thread_count_from_the_status(void **state)
{
    (void)state;
    status_201_with_threads(1);
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, false, 1, 0, &s); /* 201 listed: one thread */
    assert_int_equal(s.n_procs, 5);

    /* a second thread forks, but the status still says one thread: not listed */
    proc(311, 201, "fork207", CMD("fork207\0"), 100, 50, "");
    putf("201/task/207/children", "311 ");
    lw_snapshot_take(ps, false, 2, 0, &s);
    assert_null(find(&s, 311));

    /* the status says two: listed, and the second thread's child is found */
    status_201_with_threads(2);
    lw_snapshot_take(ps, false, 3, 0, &s);
    assert_non_null(find(&s, 311));
    assert_int_equal(find(&s, 311)->role, LW_ROLE_RUNTIME_CHILD);

    /* back to one thread, its child moved to the main thread: listed once, then not */
    rm_tree("201/task/207");
    putf("201/task/201/children", "300 311 ");
    status_201_with_threads(1);
    lw_snapshot_take(ps, false, 4, 0, &s);
    assert_non_null(find(&s, 311));
    proc(312, 201, "fork208", CMD("fork208\0"), 100, 50, "");
    putf("201/task/208/children", "312 ");
    lw_snapshot_take(ps, false, 5, 0, &s);
    assert_non_null(find(&s, 311));
    assert_null(find(&s, 312));
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

/* ---- captured shapes (tests/fixtures/proc/shapes: real /proc text, see capture.py) -------- */

/* A fixture file whole; returns its length. */
static size_t fixture(const char *label, const char *file, char *buf, size_t cap)
{
    char folder[256];
    snprintf(folder, sizeof(folder), "proc/shapes/%s", label);
    size_t n = read_fixture(folder, file, buf, cap - 1);
    buf[n] = '\0';
    return n;
}

/* A "Key:  N kB" line of a shape's captured status file, in bytes: what the snapshot must
 * report for it, found by a plain scan of the fixture rather than by the parser under test. */
static uint64_t fixture_status_bytes(const char *label, const char *key)
{
    char buf[8192];
    fixture(label, "status", buf, sizeof(buf));
    size_t klen = strlen(key);
    for (const char *line = buf; line != NULL && *line != '\0';) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            char *end = NULL;
            unsigned long long kb = strtoull(line + klen + 1, &end, 10);
            if (end == line + klen + 1 || strncmp(end, " kB", 3) != 0)
                fail_msg("%s: %s is no \"N kB\"", label, key);
            return (uint64_t)kb * 1024;
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    fail_msg("%s: no %s in its status", label, key);
    return 0;
}

/* The captures name Lambda's folders ("/opt/..."); in the fake tree they live under root. */
static size_t rebase(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t alen = strnlen(in + i, len - i);
        if (alen >= 5 && memcmp(in + i, "/opt/", 5) == 0)
            o += (size_t)snprintf(out + o, cap - o, "%s", root);
        memcpy(out + o, in + i, alen);
        o += alen;
        i += alen;
        if (i < len) {
            out[o++] = '\0';
            i++;
        }
    }
    return o;
}

struct shape {
    const char *label;
    int pid;
    int ppid;
};

/* Installs the captured processes in the fake /proc: their stat, status and cmdline, their exe
 * link, an empty clear_refs and the children lists the captured parents give; the extensions
 * folder holds a file per extension label and leakwatch's own. Returns the shapes' pids. */
static void install_shapes(struct shape *sh, size_t n, int *init_pid, int *self_pid)
{
    char buf[8192], out[8192], rel[600];
    rm_tree("");
    mkdir(root, 0755);
    for (size_t i = 0; i < n; i++) {
        size_t len = fixture(sh[i].label, "stat", buf, sizeof(buf));
        struct lw_stat_info st;
        assert_int_equal(lw_procfs_parse_stat(buf, len, &st), LW_OK);
        sh[i].pid = st.pid;
        sh[i].ppid = st.ppid;
        snprintf(rel, sizeof(rel), "%d/stat", st.pid);
        put(rel, buf, len);
        len = fixture(sh[i].label, "status", buf, sizeof(buf));
        snprintf(rel, sizeof(rel), "%d/status", st.pid);
        put(rel, buf, len);
        len = fixture(sh[i].label, "cmdline", buf, sizeof(buf));
        snprintf(rel, sizeof(rel), "%d/cmdline", st.pid);
        put(rel, out, rebase(buf, len, out, sizeof(out)));
        snprintf(rel, sizeof(rel), "%d/clear_refs", st.pid);
        put(rel, "", 0);
        len = fixture(sh[i].label, "exe", buf, sizeof(buf));
        rebase(buf, len, out, sizeof(out));
        char link[600];
        snprintf(link, sizeof(link), "%s/%d/exe", root, st.pid);
        assert_int_equal(symlink(out, link), 0);
        if (strcmp(sh[i].label, "leakwatch") == 0) {
            *self_pid = st.pid;
            *init_pid = st.ppid;
        }
    }
    /* every parent's children list, init's included */
    for (size_t i = 0; i <= n; i++) {
        int parent = i < n ? sh[i].pid : *init_pid;
        char list[1024] = "";
        size_t o = 0;
        for (size_t j = 0; j < n; j++)
            if (sh[j].ppid == parent)
                o += (size_t)snprintf(list + o, sizeof(list) - o, "%d ", sh[j].pid);
        snprintf(rel, sizeof(rel), "%d/task/%d/children", parent, parent);
        put(rel, list, o);
    }
    for (size_t i = 0; i < n; i++) {
        const char *l = sh[i].label;
        if (sh[i].ppid == *init_pid && strcmp(l, "runtime") != 0) {
            snprintf(rel, sizeof(rel), "opt/extensions/%s", l);
            put(rel, "", 0);
        }
    }
}

static const struct lw_proc_reading *of(const struct lw_snapshot *s, const struct shape *sh,
                                        size_t n, const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(sh[i].label, label) == 0)
            return find(s, sh[i].pid);
    fail_msg("no shape %s", label);
    return NULL;
}

#define MAX_SHAPES 12

struct want_role {
    const char *label;
    enum lw_proc_role role;
    const char *name;
};

struct shape_case {
    const char *what;
    const char *labels[MAX_SHAPES]; /* up to the first NULL */
    bool listed;                    /* the extensions folder can be listed */
    struct want_role want[MAX_SHAPES];
};

/*
 * The captured environments. All shapes: a binary; a shell script whose program is its child;
 * Python through env and through "/usr/bin/python3 -u"; Node.js through "env -S node
 * --max-old-space-size=64"; a script that execs a vendor program outside the folder (named by
 * the one file left). The runtime, started by a script that exec'd it, and its helper child are
 * the function. The vendor shape started before leakwatch (a-vendor sorts first) cannot be the
 * runtime, which starts after leakwatch registered. Two vendor programs and two files left are
 * extensions for certain, but which file is whose is not known. Without the folder's listing,
 * nothing accounts for the vendor program started after leakwatch: it and the runtime cannot be
 * told apart, and both are unknown (a wrong role would put one's memory in the other's total).
 */
static const struct shape_case shape_cases[] = {
    {"every shape",
     {"leakwatch", "bin-ext", "sh-ext", "sh-ext.child", "envpy-ext", "pyu-ext", "node-ext",
      "vendor-ext", "runtime", "runtime.child"},
     true,
     {{"leakwatch", LW_ROLE_SELF, "leakwatch"},
      {"bin-ext", LW_ROLE_EXTENSION, "bin-ext"},
      {"sh-ext", LW_ROLE_EXTENSION, "sh-ext"},
      {"sh-ext.child", LW_ROLE_EXTENSION, "sh-ext/agent"},
      {"envpy-ext", LW_ROLE_EXTENSION, "envpy-ext"},
      {"pyu-ext", LW_ROLE_EXTENSION, "pyu-ext"},
      {"node-ext", LW_ROLE_EXTENSION, "node-ext"},
      {"vendor-ext", LW_ROLE_EXTENSION, "vendor-ext"},
      {"runtime", LW_ROLE_RUNTIME, "leak"},
      {"runtime.child", LW_ROLE_RUNTIME_CHILD, "exe"}}},
    {"a vendor program started before leakwatch",
     {"leakwatch", "a-vendor", "pyu-ext", "runtime"},
     true,
     {{"a-vendor", LW_ROLE_EXTENSION, "a-vendor"},
      {"pyu-ext", LW_ROLE_EXTENSION, "pyu-ext"},
      {"runtime", LW_ROLE_RUNTIME, "leak"}}},
    {"two vendor programs, two files left",
     {"leakwatch", "a-vendor", "vendor-ext", "runtime"},
     true,
     {{"a-vendor", LW_ROLE_EXTENSION, "agent"},
      {"vendor-ext", LW_ROLE_EXTENSION, "agent"},
      {"runtime", LW_ROLE_RUNTIME, "leak"}}},
    {"a folder that cannot be listed",
     {"leakwatch", "pyu-ext", "vendor-ext", "runtime", "runtime.child"},
     false,
     {{"pyu-ext", LW_ROLE_EXTENSION, "pyu-ext"},
      {"vendor-ext", LW_ROLE_UNKNOWN, "agent"},
      {"runtime", LW_ROLE_UNKNOWN, "leak"},
      {"runtime.child", LW_ROLE_UNKNOWN, "exe"}}},
};

/* Installs a case's processes, takes a first snapshot (resetting high-water marks) into s and
 * checks every expected role and name; returns the process table for more. */
static struct lw_processes *take_case(const struct shape_case *c, struct shape *sh, size_t *n,
                                      struct lw_snapshot *s)
{
    *n = 0;
    while (*n < MAX_SHAPES && c->labels[*n] != NULL) {
        sh[*n] = (struct shape){c->labels[*n], 0, 0};
        (*n)++;
    }
    int init_pid = 0, self_pid = 0;
    install_shapes(sh, *n, &init_pid, &self_pid);
    char ext[600];
    snprintf(ext, sizeof(ext), "%s/opt/extensions", root);
    if (!c->listed) {
        char away[600];
        snprintf(away, sizeof(away), "%s/opt/elsewhere", root);
        assert_int_equal(rename(ext, away), 0);
    }
    struct lw_processes_config cfg = {
        .proc_root = root,
        .init_pid = init_pid,
        .self_pid = self_pid,
        .extensions_dir = ext,
    };
    struct lw_processes *ps = lw_processes_new(&cfg);
    assert_non_null(ps);
    lw_snapshot_take(ps, true, 1, 0, s);
    assert_int_equal(s->n_procs, *n);
    for (size_t i = 0; i < MAX_SHAPES && c->want[i].label != NULL; i++) {
        const struct want_role *w = &c->want[i];
        const struct lw_proc_reading *r = of(s, sh, *n, w->label);
        if (r == NULL || r->role != w->role || strcmp(r->name, w->name) != 0)
            fail_msg("%s: %s: want %s '%s', got %s '%s'", c->what, w->label,
                     lw_proc_role_name(w->role), w->name,
                     r ? lw_proc_role_name(r->role) : "nothing", r ? r->name : "");
        /* only what is known to be the function (and leakwatch) has its high-water mark reset */
        bool reset = w->role == LW_ROLE_RUNTIME || w->role == LW_ROLE_RUNTIME_CHILD ||
                     w->role == LW_ROLE_SELF;
        if (r->hwm_reset != reset)
            fail_msg("%s: %s: reset %d", c->what, w->label, r->hwm_reset);
        /* its memory is its own status file's, whatever its role */
        uint64_t rss = fixture_status_bytes(w->label, "VmRSS");
        uint64_t anon = fixture_status_bytes(w->label, "RssAnon");
        uint64_t file = fixture_status_bytes(w->label, "RssFile");
        if (r->mem.rss_bytes != rss || r->mem.rss_anon_bytes != anon ||
            r->mem.rss_file_bytes != file)
            fail_msg("%s: %s: want RSS %llu (anon %llu, file %llu), got %llu (%llu, %llu)", c->what,
                     w->label, (unsigned long long)rss, (unsigned long long)anon,
                     (unsigned long long)file, (unsigned long long)r->mem.rss_bytes,
                     (unsigned long long)r->mem.rss_anon_bytes,
                     (unsigned long long)r->mem.rss_file_bytes);
    }
    return ps;
}

static void test_captured_shapes(void **state)
{
    (void)state;
    static struct lw_snapshot s;
    struct shape sh[MAX_SHAPES];
    size_t n;
    for (size_t i = 1; i < sizeof(shape_cases) / sizeof(shape_cases[0]); i++) {
        lw_processes_free(take_case(&shape_cases[i], sh, &n, &s));
        rm_tree("");
    }
    struct lw_processes *ps = take_case(&shape_cases[0], sh, &n, &s);
    /* nothing but the function's and leakwatch's clear_refs was written */
    char buf[16], rel[64];
    snprintf(rel, sizeof(rel), "%d/clear_refs", of(&s, sh, n, "node-ext")->pid);
    read_file(rel, buf, sizeof(buf));
    assert_string_equal(buf, "");

    /* A classification follows the process across exec: the extension that execs a program
     * elsewhere, the runtime that execs one whose command names the folder. */
    snprintf(rel, sizeof(rel), "%d/cmdline", of(&s, sh, n, "pyu-ext")->pid);
    put(rel, CMD("/usr/local/bin/other\0"));
    snprintf(rel, sizeof(rel), "%d/cmdline", of(&s, sh, n, "runtime")->pid);
    char cmd[600];
    int len = snprintf(cmd, sizeof(cmd), "%s/opt/extensions/bin-ext", root);
    put(rel, cmd, (size_t)len + 1);
    lw_snapshot_take(ps, true, 2, 0, &s);
    assert_int_equal(of(&s, sh, n, "pyu-ext")->role, LW_ROLE_EXTENSION);
    assert_string_equal(of(&s, sh, n, "pyu-ext")->name, "pyu-ext");
    assert_int_equal(of(&s, sh, n, "runtime")->role, LW_ROLE_RUNTIME);
    lw_processes_free(ps);
}

/* A pid listed as a child of init but whose stat, read through its own directory, names
 * another parent was reused in between: it is not taken. */
static void test_reused_pid_between_the_list_and_the_sighting(void **state)
{
    (void)state;
    proc(204, 777, "someone-else", CMD("/usr/bin/someone-else\0"), 5000, 4000, "");
    putf("100/task/100/children", "200 201 202 204 ");
    struct lw_processes *ps = make();
    static struct lw_snapshot s;
    lw_snapshot_take(ps, true, 1, 0, &s);
    assert_null(find(&s, 204));
    char buf[16];
    read_file("204/clear_refs", buf, sizeof(buf));
    assert_string_equal(buf, "");
    assert_int_equal(find(&s, 201)->role, LW_ROLE_RUNTIME);
    lw_processes_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_classifies_every_process, setup, fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_resets_only_the_function_and_self, setup,
                                        fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_refused_reset_is_reported, setup, fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_vanished_processes, setup, fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_newcomer_after_the_runtime_exited, setup,
                                        fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_new_children_of_the_runtime, setup,
                                        fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_thread_count_from_the_status, setup,
                                        fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_children_of_every_thread_of_the_runtime, setup,
                                        fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_one_thread_runtime_listed_again_when_it_gains_a_thread,
                                        setup, fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_reused_pid_reads_its_own_children, setup,
                                        fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_more_processes_than_the_cap, setup,
                                        fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_captured_shapes, setup, fake_proc_teardown),
        cmocka_unit_test_setup_teardown(test_reused_pid_between_the_list_and_the_sighting, setup,
                                        fake_proc_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
