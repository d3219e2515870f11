/*
 * procfs parsers on real captured /proc files (tests/fixtures/proc: a shell command, PID 1 (its
 * name and command line set to those of Lambda's init), a kernel thread, a python3 process holding
 * 50 MiB, a zombie, a process whose comm is "a b) c", one whose comm holds a newline), on every
 * prefix of each, and on corrupted copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/procfs.h>

#include "fixture.h"

#define KB 1024ull

static size_t load(const char *name, char *buf, size_t cap)
{
    size_t n = read_fixture("proc", name, buf, cap);
    assert_true(n < cap);
    return n;
}

/* ---- status ----------------------------------------------------------------------------- */

struct status_case {
    const char *file;
    const char *name;
    char state;
    int32_t pid, ppid;
    uint32_t present;
    uint64_t rss_kb, anon_kb, file_kb, shmem_kb, hwm_kb;
    int32_t threads;
};

#define ID_BITS                                                                                    \
    (LW_STATUS_NAME | LW_STATUS_STATE | LW_STATUS_PID | LW_STATUS_PPID | LW_STATUS_THREADS)

static const struct status_case status_cases[] = {
    {"self.status", "cat", 'R', 14850, 14847, ID_BITS | LW_STATUS_MEM_ALL, 1764, 116, 1648, 0, 1764,
     1},
    /* Lambda's init has many threads */
    {"init.status", "init", 'S', 1, 0, ID_BITS | LW_STATUS_MEM_ALL, 14160, 7552, 8, 6600, 17672,
     13},
    {"python3.status", "python3", 'S', 19632, 19630, ID_BITS | LW_STATUS_MEM_ALL, 59432, 53972,
     5460, 0, 59432, 1},
    {"paren.status", "a b) c", 'S', 14905, 14847, ID_BITS | LW_STATUS_MEM_ALL, 1824, 108, 1716, 0,
     1824, 1},
    /* the kernel escapes the newline and the backslash in status; they stay escaped */
    {"newline.status", "x\\ny) (z\\\\q", 'R', 15056, 15053, ID_BITS | LW_STATUS_MEM_ALL, 13836,
     7036, 6800, 0, 13836, 1},
    /* no mm: no Vm or Rss lines at all */
    {"kthread.status", "kthreadd", 'S', 2, 0, ID_BITS, 0, 0, 0, 0, 0, 1},
    {"zombie.status", "python3", 'Z', 14951, 14910, ID_BITS, 0, 0, 0, 0, 0, 1},
};

static void check_status(const struct status_case *c, const struct lw_status_info *st)
{
    assert_string_equal(st->name, c->name);
    assert_int_equal(st->state, c->state);
    assert_int_equal(st->pid, c->pid);
    assert_int_equal(st->ppid, c->ppid);
    assert_int_equal(st->present, c->present);
    assert_int_equal(st->mem.rss_bytes, c->rss_kb * KB);
    assert_int_equal(st->mem.rss_anon_bytes, c->anon_kb * KB);
    assert_int_equal(st->mem.rss_file_bytes, c->file_kb * KB);
    assert_int_equal(st->mem.rss_shmem_bytes, c->shmem_kb * KB);
    assert_int_equal(st->mem.hwm_bytes, c->hwm_kb * KB);
    assert_int_equal(st->threads, c->threads);
}

static void test_status_fixtures(void **state)
{
    (void)state;
    char buf[8192];
    for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
        const struct status_case *c = &status_cases[i];
        size_t n = load(c->file, buf, sizeof(buf));
        struct lw_status_info st;
        assert_int_equal(lw_procfs_parse_status(buf, n, &st), LW_OK);
        check_status(c, &st);
    }
}

/*
 * Every prefix, copied into an exactly-sized heap block so that ASan catches a read past the
 * length: either NEED_MORE, or OK with each present field equal to the full parse's value.
 */
static void test_status_every_prefix(void **state)
{
    (void)state;
    char buf[8192];
    for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
        const struct status_case *c = &status_cases[i];
        size_t n = load(c->file, buf, sizeof(buf));
        struct lw_status_info full;
        assert_int_equal(lw_procfs_parse_status(buf, n, &full), LW_OK);
        uint32_t seen = 0;
        for (size_t k = 0; k <= n; k++) {
            char *p = malloc(k ? k : 1);
            assert_non_null(p);
            memcpy(p, buf, k);
            struct lw_status_info st;
            enum lw_err err = lw_procfs_parse_status(p, k, &st);
            free(p);
            if (err == LW_ERR_NEED_MORE) {
                assert_int_equal(st.present, 0);
                continue;
            }
            assert_int_equal(err, LW_OK);
            /* fields only ever appear, and never with a value other than the final one */
            assert_int_equal(st.present & seen, seen);
            seen = st.present;
            assert_int_equal(st.present & ~full.present, 0);
            assert_string_equal(st.name, full.name);
            if (st.present & LW_STATUS_PID)
                assert_int_equal(st.pid, full.pid);
            if (st.present & LW_STATUS_PPID)
                assert_int_equal(st.ppid, full.ppid);
            if (st.present & LW_STATUS_STATE)
                assert_int_equal(st.state, full.state);
            assert_int_equal(st.threads, (st.present & LW_STATUS_THREADS) ? full.threads : 0);
            assert_int_equal(st.mem.rss_bytes,
                             (st.present & LW_STATUS_VMRSS) ? full.mem.rss_bytes : 0);
            assert_int_equal(st.mem.rss_anon_bytes,
                             (st.present & LW_STATUS_RSSANON) ? full.mem.rss_anon_bytes : 0);
            assert_int_equal(st.mem.rss_file_bytes,
                             (st.present & LW_STATUS_RSSFILE) ? full.mem.rss_file_bytes : 0);
            assert_int_equal(st.mem.rss_shmem_bytes,
                             (st.present & LW_STATUS_RSSSHMEM) ? full.mem.rss_shmem_bytes : 0);
            assert_int_equal(st.mem.hwm_bytes,
                             (st.present & LW_STATUS_VMHWM) ? full.mem.hwm_bytes : 0);
        }
        assert_int_equal(seen, full.present);
    }
}

/* Replaces the first occurrence of from with to in (buf, *n); fails the test when absent. */
static void replace(char *buf, size_t *n, size_t cap, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    char *at = memmem(buf, *n, from, fl);
    assert_non_null(at);
    assert_true(*n - fl + tl < cap);
    memmove(at + tl, at + fl, *n - (size_t)(at - buf) - fl);
    memcpy(at, to, tl);
    *n = *n - fl + tl;
}

/* A kernel before 4.5 has no RssAnon/RssFile/RssShmem lines: the rest still parses. */
static void test_status_old_kernel(void **state)
{
    (void)state;
    char buf[8192];
    size_t n = load("python3.status", buf, sizeof(buf));
    replace(buf, &n, sizeof(buf), "RssAnon:\t   53972 kB\n", "");
    replace(buf, &n, sizeof(buf), "RssFile:\t    5460 kB\n", "");
    replace(buf, &n, sizeof(buf), "RssShmem:\t       0 kB\n", "");
    struct lw_status_info st;
    assert_int_equal(lw_procfs_parse_status(buf, n, &st), LW_OK);
    assert_int_equal(st.present, ID_BITS | LW_STATUS_VMRSS | LW_STATUS_VMHWM);
    assert_int_equal(st.mem.rss_bytes, 59432 * KB);
    assert_int_equal(st.mem.hwm_bytes, 59432 * KB);
    assert_int_equal(st.mem.rss_anon_bytes, 0);
}

static void test_status_corrupted(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
    } cases[] = {
        {"VmRSS:\t   59432 kB", "VmRSS:\t   59x32 kB"},
        {"VmRSS:\t   59432 kB", "VmRSS:\t   59432 MB"},
        {"VmRSS:\t   59432 kB", "VmRSS:\t   59432"},
        {"VmRSS:\t   59432 kB", "VmRSS:\t   kB"},
        {"VmRSS:\t   59432 kB", "VmRSS:\t   -64816 kB"},
        /* above UINT64_MAX bytes once multiplied by 1024 */
        {"VmHWM:\t   59432 kB", "VmHWM:\t   18014398509481984 kB"},
        {"RssAnon:\t   53972 kB", "RssAnon:\t   99999999999999999999999 kB"},
        {"PPid:\t19630", "PPid:\t14847x"},
        {"PPid:\t19630", "PPid:\t4294967296"},
        {"Pid:\t19632", "Pid:\t"},
        {"State:\tS (sleeping)", "State:\t?"},
        {"Threads:\t1", "Threads:\t1x"},
    };
    char buf[8192];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = load("python3.status", buf, sizeof(buf));
        replace(buf, &n, sizeof(buf), cases[i].from, cases[i].to);
        struct lw_status_info st;
        assert_int_equal(lw_procfs_parse_status(buf, n, &st), LW_ERR_INVALID);
        assert_int_equal(st.present, 0);
        assert_int_equal(st.mem.rss_bytes, 0);
    }
    /* the largest value that fits still parses */
    size_t n = load("python3.status", buf, sizeof(buf));
    replace(buf, &n, sizeof(buf), "VmHWM:\t   59432 kB", "VmHWM:\t   18014398509481983 kB");
    struct lw_status_info st;
    assert_int_equal(lw_procfs_parse_status(buf, n, &st), LW_OK);
    assert_int_equal(st.mem.hwm_bytes, 18014398509481983ull * 1024);
}

static void test_status_garbage(void **state)
{
    (void)state;
    struct lw_status_info st;
    assert_int_equal(lw_procfs_parse_status("", 0, &st), LW_ERR_NEED_MORE);
    assert_int_equal(lw_procfs_parse_status("hello\nworld\n", 12, &st), LW_ERR_NEED_MORE);
    /* a NUL inside the name is made printable rather than cutting the name */
    static const char nul_name[] = "Name:\ta\0b\n";
    assert_int_equal(lw_procfs_parse_status(nul_name, sizeof(nul_name) - 1, &st), LW_OK);
    assert_string_equal(st.name, "a?b");
    /* a name longer than LW_NAME_MAX is truncated, not overflowed */
    char longname[200];
    int n = snprintf(longname, sizeof(longname), "Name:\t%0150d\n", 7);
    assert_int_equal(lw_procfs_parse_status(longname, (size_t)n, &st), LW_OK);
    assert_int_equal(strlen(st.name), LW_NAME_MAX - 1);
}

/* ---- stat ------------------------------------------------------------------------------- */

struct stat_case {
    const char *file;
    int32_t pid;
    const char *comm;
    char state;
    int32_t ppid;
    uint64_t utime, stime, start;
};

static const struct stat_case stat_cases[] = {
    {"self.stat", 14851, "cat", 'R', 14847, 0, 0, 118195},
    {"init.stat", 1, "init", 'S', 0, 157, 337, 20},
    {"kthread.stat", 2, "kthreadd", 'S', 0, 0, 0, 20},
    {"python3.stat", 19632, "python3", 'S', 19630, 10, 21, 131186},
    {"zombie.stat", 14951, "python3", 'Z', 14910, 0, 0, 118387},
    {"paren.stat", 14905, "a b) c", 'S', 14847, 0, 0, 118304},
    /* raw comm "x\ny) (z\q": the newline is made printable */
    {"newline.stat", 15056, "x?y) (z\\q", 'R', 15053, 5, 7, 119200},
};

static void check_stat(const struct stat_case *c, const struct lw_stat_info *st)
{
    assert_int_equal(st->pid, c->pid);
    assert_string_equal(st->comm, c->comm);
    assert_int_equal(st->state, c->state);
    assert_int_equal(st->ppid, c->ppid);
    assert_int_equal(st->utime_ticks, c->utime);
    assert_int_equal(st->stime_ticks, c->stime);
    assert_int_equal(st->start_ticks, c->start);
}

static void test_stat_fixtures(void **state)
{
    (void)state;
    char buf[4096];
    for (size_t i = 0; i < sizeof(stat_cases) / sizeof(stat_cases[0]); i++) {
        size_t n = load(stat_cases[i].file, buf, sizeof(buf));
        struct lw_stat_info st;
        assert_int_equal(lw_procfs_parse_stat(buf, n, &st), LW_OK);
        check_stat(&stat_cases[i], &st);
    }
}

/* Every prefix: NEED_MORE (fields zeroed) or the full, correct result; never a partial number. */
static void test_stat_every_prefix(void **state)
{
    (void)state;
    char buf[4096];
    for (size_t i = 0; i < sizeof(stat_cases) / sizeof(stat_cases[0]); i++) {
        size_t n = load(stat_cases[i].file, buf, sizeof(buf));
        size_t first_ok = 0;
        for (size_t k = 0; k <= n; k++) {
            char *p = malloc(k ? k : 1);
            assert_non_null(p);
            memcpy(p, buf, k);
            struct lw_stat_info st;
            enum lw_err err = lw_procfs_parse_stat(p, k, &st);
            free(p);
            if (err == LW_OK) {
                if (!first_ok)
                    first_ok = k;
                check_stat(&stat_cases[i], &st);
            } else {
                assert_int_equal(err, LW_ERR_NEED_MORE);
                assert_int_equal(st.start_ticks, 0);
                assert_int_equal(st.pid, 0);
                /* once complete, a longer prefix stays complete */
                assert_int_equal(first_ok, 0);
            }
        }
        assert_true(first_ok > 0);
        /* the first complete prefix ends just after field 22's terminating space */
        assert_int_equal(buf[first_ok - 1], ' ');
    }
}

static void test_stat_corrupted(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "x (a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 77 0 0\n",       /* pid */
        "12 a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 77 0 0\n",       /* no '(' */
        "12 (a)S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 77 0 0\n",       /* no space after ')' */
        "12 (a) SS 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 77 0 0\n",     /* state */
        "12 (a) S -1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 77 0 0\n",     /* ppid */
        "12 (a) S 1 1 1 0 -1 0 0 0 0 0 x 2 0 0 20 0 1 0 77 0 0\n",      /* utime */
        "12 (a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 7x7 0 0\n",     /* starttime */
        "12 (a) S 1  1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 77 0 0\n",     /* empty field */
        "99999999999 (a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 77\n", /* pid range */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lw_stat_info st;
        assert_int_equal(lw_procfs_parse_stat(bad[i], strlen(bad[i]), &st), LW_ERR_INVALID);
        assert_int_equal(st.start_ticks, 0);
    }
    static const char good[] = "12 (a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 77\n";
    struct lw_stat_info st;
    assert_int_equal(lw_procfs_parse_stat(good, sizeof(good) - 1, &st), LW_OK);
    assert_int_equal(st.start_ticks, 77);
    assert_int_equal(st.utime_ticks, 1);
    assert_int_equal(st.stime_ticks, 2);
}

/* ---- cmdline ---------------------------------------------------------------------------- */

static void test_cmdline_fixtures(void **state)
{
    (void)state;
    char buf[4096];
    struct lw_cmdline_info ci;
    const char *base;
    size_t base_len;

    size_t n = load("paren.cmdline", buf, sizeof(buf));
    assert_int_equal(lw_procfs_parse_cmdline(buf, n, &ci), LW_OK);
    assert_int_equal(ci.argv0_len, strlen("/tmp/a b) c"));
    assert_memory_equal(ci.argv0, "/tmp/a b) c", ci.argv0_len);
    assert_true(ci.argv0_complete);
    assert_int_equal(ci.argc, 2);
    lw_procfs_basename(ci.argv0, ci.argv0_len, &base, &base_len);
    assert_int_equal(base_len, 6);
    assert_memory_equal(base, "a b) c", 6);

    n = load("python3.cmdline", buf, sizeof(buf));
    assert_int_equal(lw_procfs_parse_cmdline(buf, n, &ci), LW_OK);
    assert_int_equal(ci.argv0_len, strlen("/usr/bin/python3"));
    assert_memory_equal(ci.argv0, "/usr/bin/python3", ci.argv0_len);
    assert_int_equal(ci.argc, 3);
    lw_procfs_basename(ci.argv0, ci.argv0_len, &base, &base_len);
    assert_int_equal(base_len, 7);
    assert_memory_equal(base, "python3", 7);

    n = load("init.cmdline", buf, sizeof(buf));
    assert_int_equal(lw_procfs_parse_cmdline(buf, n, &ci), LW_OK);
    assert_int_equal(ci.argc, 4);
    lw_procfs_basename(ci.argv0, ci.argv0_len, &base, &base_len);
    assert_int_equal(base_len, strlen("init"));
    assert_memory_equal(base, "init", base_len);

    /* kernel threads and zombies: empty */
    n = load("kthread.cmdline", buf, sizeof(buf));
    assert_int_equal(n, 0);
    assert_int_equal(lw_procfs_parse_cmdline(buf, n, &ci), LW_ERR_NOT_FOUND);
    n = load("zombie.cmdline", buf, sizeof(buf));
    assert_int_equal(lw_procfs_parse_cmdline(buf, n, &ci), LW_ERR_NOT_FOUND);
    assert_null(ci.argv0);
}

static void test_cmdline_every_prefix(void **state)
{
    (void)state;
    char buf[4096];
    size_t n = load("paren.cmdline", buf, sizeof(buf));
    for (size_t k = 0; k <= n; k++) {
        char *p = malloc(k ? k : 1);
        assert_non_null(p);
        memcpy(p, buf, k);
        struct lw_cmdline_info ci;
        enum lw_err err = lw_procfs_parse_cmdline(p, k, &ci);
        if (k == 0) {
            assert_int_equal(err, LW_ERR_NOT_FOUND);
        } else {
            assert_int_equal(err, LW_OK);
            assert_ptr_equal(ci.argv0, p);
            /* complete only once the NUL after "/tmp/a b) c" (11 bytes) is in */
            assert_int_equal(ci.argv0_complete, k > 11);
            assert_int_equal(ci.argv0_len, k > 11 ? 11 : k);
        }
        free(p);
    }
}

/* Captured from a shell with four children (three sleeps and the cat that read the file). */
static void test_children_fixture_and_prefixes(void **state)
{
    (void)state;
    static const int32_t want[] = {1901, 1902, 1906, 1963};
    char buf[256];
    size_t n = load("shell.children", buf, sizeof(buf));
    int32_t got[8];
    assert_int_equal(lw_procfs_parse_children(buf, n, got, 8), 4);
    assert_memory_equal(got, want, sizeof(want));
    /* the room given is respected */
    assert_int_equal(lw_procfs_parse_children(buf, n, got, 2), 2);
    assert_int_equal(got[1], 1902);
    /* a short read gives the pids whose space is in, never the cut one ("19" of "1906") */
    for (size_t k = 0; k <= n; k++) {
        char *p = malloc(k ? k : 1);
        assert_non_null(p);
        memcpy(p, buf, k);
        size_t expect = 0;
        for (size_t i = 0; i < k; i++)
            expect += p[i] == ' ';
        size_t c = lw_procfs_parse_children(p, k, got, 8);
        assert_int_equal(c, expect);
        assert_memory_equal(got, want, c * sizeof(got[0]));
        free(p);
    }
}

static void test_children_malformed(void **state)
{
    (void)state;
    int32_t got[4] = {0};
    static const struct {
        const char *text;
        size_t count;
        int32_t first;
    } cases[] = {
        {"", 0, 0},
        {"7\n", 1, 7},
        {" 12  34 ", 2, 12},
        {"0 5 ", 0, 0},          /* pid 0 is no child */
        {"2147483648 5 ", 0, 0}, /* beyond int32 */
        {"2147483647 ", 1, INT32_MAX},
        {"12 x5 6 ", 1, 12}, /* a malformed token ends the list */
        {"-3 ", 0, 0},
        {"99999999999999999999999 ", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t c = lw_procfs_parse_children(cases[i].text, strlen(cases[i].text), got, 4);
        assert_int_equal(c, cases[i].count);
        if (c > 0)
            assert_int_equal(got[0], cases[i].first);
    }
}

/*
 * The file of the extensions folder a command line names, in any position, on the captured
 * command lines of every shape (tests/fixtures/proc/shapes), and on every prefix of each: a
 * short read finds the name or nothing, never a cut name.
 */
static void test_cmdline_find_in_dir_shapes(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *name; /* NULL: the folder is not named */
    } cases[] = {
        {"shapes/bin-ext/cmdline", "bin-ext"},     {"shapes/sh-ext/cmdline", "sh-ext"},
        {"shapes/envpy-ext/cmdline", "envpy-ext"}, {"shapes/pyu-ext/cmdline", "pyu-ext"},
        {"shapes/node-ext/cmdline", "node-ext"},   {"shapes/vendor-ext/cmdline", NULL},
        {"shapes/sh-ext.child/cmdline", NULL},     {"shapes/runtime/cmdline", NULL},
        {"shapes/leakwatch/cmdline", "leakwatch"}, {"python3.cmdline", NULL},
    };
    static const char dir[] = "/opt/extensions";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[4096];
        size_t len = load(cases[i].file, buf, sizeof(buf));
        for (size_t cut = 0; cut <= len; cut++) {
            char *copy = malloc(cut ? cut : 1); /* exact size: a read past it is caught */
            assert_non_null(copy);
            memcpy(copy, buf, cut);
            const char *name;
            size_t nlen;
            bool found =
                lw_procfs_cmdline_find_in_dir(copy, cut, dir, sizeof(dir) - 1, &name, &nlen);
            if (cut == len && (cases[i].name != NULL) != found)
                fail_msg("%s: %s", cases[i].file, found ? "a name found" : "no name found");
            if (found && (cases[i].name == NULL || nlen != strlen(cases[i].name) ||
                          memcmp(name, cases[i].name, nlen) != 0))
                fail_msg("%s, %zu bytes: name '%.*s'", cases[i].file, cut, (int)nlen, name);
            free(copy);
        }
    }
}

static void test_path_in_dir_edges(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        const char *name;
    } cases[] = {
        {"/opt/extensions/x", "x"},      {"/opt/extensions/leakwatch", "leakwatch"},
        {"/opt/extensions/", NULL},      {"/opt/extensions", NULL},
        {"/opt/extensionsx/y", NULL},    {"/opt/extensions/../vendor/bin/agent", NULL},
        {"/opt/extensions/sub/x", NULL}, {"/opt/extension/x", NULL},
        {"opt/extensions/x", NULL},      {"", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *name;
        size_t nlen;
        bool found = lw_procfs_path_in_dir(cases[i].path, strlen(cases[i].path), "/opt/extensions",
                                           15, &name, &nlen);
        assert_int_equal(found, cases[i].name != NULL);
        if (found) {
            assert_int_equal(nlen, strlen(cases[i].name));
            assert_memory_equal(name, cases[i].name, nlen);
        }
    }
    /* a NUL inside the path is never part of a name */
    const char *name;
    size_t nlen;
    assert_false(
        lw_procfs_path_in_dir("/opt/extensions/a\0b", 19, "/opt/extensions", 15, &name, &nlen));
}

static void test_basename_edges(void **state)
{
    (void)state;
    static const struct {
        const char *path, *base;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"/", ""},
        {"/opt/extensions/", ""},
        {"/opt/extensions/datadog-agent", "datadog-agent"},
        {"./x", "x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *b;
        size_t bl;
        lw_procfs_basename(cases[i].path, strlen(cases[i].path), &b, &bl);
        assert_int_equal(bl, strlen(cases[i].base));
        assert_memory_equal(b, cases[i].base, bl);
    }
    char name[8];
    lw_procfs_copy_name(name, sizeof(name),
                        "ab\x01\xff"
                        "cdefgh",
                        10);
    assert_string_equal(name, "ab??cde");
}

/*
 * Every single-byte corruption of every fixture, into an exactly-sized block (ASan checks the
 * bounds): the parsers never crash, and whatever they accept is internally consistent.
 */
static void test_every_byte_corrupted(void **state)
{
    (void)state;
    static const char *const files[] = {"self.status",  "python3.status", "zombie.status",
                                        "paren.stat",   "newline.stat",   "python3.stat",
                                        "paren.cmdline"};
    static const char subst[] = {'x', '\n', '\0', ')', '(', ' ', '9', '\xff'};
    char buf[8192];
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        size_t n = load(files[f], buf, sizeof(buf));
        char *p = malloc(n);
        assert_non_null(p);
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < sizeof(subst); k++) {
                memcpy(p, buf, n);
                p[i] = subst[k];
                struct lw_status_info st;
                if (lw_procfs_parse_status(p, n, &st) == LW_OK)
                    assert_true(st.present & LW_STATUS_NAME);
                else
                    assert_int_equal(st.present, 0);
                struct lw_stat_info sa;
                if (lw_procfs_parse_stat(p, n, &sa) != LW_OK)
                    assert_int_equal(sa.start_ticks, 0);
                struct lw_cmdline_info ci;
                if (lw_procfs_parse_cmdline(p, n, &ci) == LW_OK)
                    assert_true(ci.argv0_len > 0 && ci.argv0_len <= n && ci.argc >= 1);
            }
        }
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_fixtures),
        cmocka_unit_test(test_status_every_prefix),
        cmocka_unit_test(test_status_old_kernel),
        cmocka_unit_test(test_status_corrupted),
        cmocka_unit_test(test_status_garbage),
        cmocka_unit_test(test_stat_fixtures),
        cmocka_unit_test(test_stat_every_prefix),
        cmocka_unit_test(test_stat_corrupted),
        cmocka_unit_test(test_cmdline_fixtures),
        cmocka_unit_test(test_cmdline_every_prefix),
        cmocka_unit_test(test_children_fixture_and_prefixes),
        cmocka_unit_test(test_children_malformed),
        cmocka_unit_test(test_cmdline_find_in_dir_shapes),
        cmocka_unit_test(test_path_in_dir_edges),
        cmocka_unit_test(test_basename_edges),
        cmocka_unit_test(test_every_byte_corrupted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
