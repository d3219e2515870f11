/*
 * libFuzzer target for the /proc parsers (status, stat, cmdline, children, basename,
 * copy_name, path_in_dir, cmdline_find_in_dir). Every parser sees the same bytes, so any captured
 * /proc file is a seed for all of them (the seed folder's shapes/ included: every shape of
 * extension). Besides the sanitizers, the target checks what procfs.h
 * promises and aborts when a promise is broken:
 *   - results hold only what the file said: printable names, pids within int32, sizes whole KiB;
 *   - a short read (a prefix) never yields a value the whole file does not have;
 *   - what a parser accepts, written back in the kernel's format, parses to the same result.
 */
/* fuzz-seeds: tests/fixtures/proc */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/procfs.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *name, size_t cap)
{
    size_t n = strnlen(name, cap);
    check(n < cap);
    for (size_t i = 0; i < n; i++)
        check(name[i] >= 0x20 && name[i] <= 0x7e);
}

static bool same_status(const struct lw_status_info *a, const struct lw_status_info *b)
{
    return a->present == b->present && strcmp(a->name, b->name) == 0 && a->state == b->state &&
           a->pid == b->pid && a->ppid == b->ppid && a->threads == b->threads &&
           memcmp(&a->mem, &b->mem, sizeof(a->mem)) == 0;
}

static void check_status_info(const struct lw_status_info *st)
{
    check(st->present & LW_STATUS_NAME);
    check((st->present & ~0x3ffu) == 0);
    check_name(st->name, sizeof(st->name));
    check((st->present & LW_STATUS_STATE) ? st->state >= 'A' && st->state <= 'Z' : !st->state);
    check(st->pid >= 0 && st->ppid >= 0);
    check((st->present & LW_STATUS_PID) || st->pid == 0);
    check((st->present & LW_STATUS_PPID) || st->ppid == 0);
    check(st->threads >= 0 && ((st->present & LW_STATUS_THREADS) || st->threads == 0));
    const uint64_t mem[] = {st->mem.rss_bytes, st->mem.rss_anon_bytes, st->mem.rss_file_bytes,
                            st->mem.rss_shmem_bytes, st->mem.hwm_bytes};
    for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++) {
        check(mem[i] % 1024 == 0);
        check((st->present & (LW_STATUS_VMRSS << i)) || mem[i] == 0);
    }
}

/* The status file the kernel would write for st; NULL-free, so it round-trips. */
static size_t write_status(const struct lw_status_info *st, char *out, size_t cap)
{
    size_t o = 0;
#define PUT(...) o += (size_t)snprintf(out + o, cap - o, __VA_ARGS__)
    PUT("Name:\t%s\n", st->name);
    if (st->present & LW_STATUS_STATE)
        PUT("State:\t%c (x)\n", st->state);
    if (st->present & LW_STATUS_PID)
        PUT("Pid:\t%" PRId32 "\n", st->pid);
    if (st->present & LW_STATUS_PPID)
        PUT("PPid:\t%" PRId32 "\n", st->ppid);
    static const char *const keys[] = {"VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"};
    const uint64_t mem[] = {st->mem.rss_bytes, st->mem.rss_anon_bytes, st->mem.rss_file_bytes,
                            st->mem.rss_shmem_bytes, st->mem.hwm_bytes};
    for (size_t i = 0; i < 5; i++) {
        if (st->present & (LW_STATUS_VMRSS << i))
            PUT("%s:\t%8" PRIu64 " kB\n", keys[i], mem[i] / 1024);
    }
    if (st->present & LW_STATUS_THREADS)
        PUT("Threads:\t%" PRId32 "\n", st->threads);
#undef PUT
    check(o < cap);
    return o;
}

static void fuzz_status(const char *buf, size_t len)
{
    struct lw_status_info st, again;
    enum lw_err err = lw_procfs_parse_status(buf, len, &st);
    check(err == LW_OK || err == LW_ERR_NEED_MORE || err == LW_ERR_INVALID);
    if (err != LW_OK) {
        static const struct lw_status_info zero;
        check(memcmp(&st, &zero, sizeof(st)) == 0);
        return;
    }
    check_status_info(&st);

    /* A cut-off last line is ignored: the input up to its last '\n' gives the same result. */
    const char *nl = memrchr(buf, '\n', len);
    check(nl != NULL);
    check(lw_procfs_parse_status(buf, (size_t)(nl + 1 - buf), &again) == LW_OK);
    check(same_status(&st, &again));

    /* Any prefix ending at a line boundary is a short read: never invalid, never new fields. */
    for (const char *p = buf; (p = memchr(p, '\n', (size_t)(nl - p))) != NULL; p++) {
        err = lw_procfs_parse_status(buf, (size_t)(p + 1 - buf), &again);
        check(err == LW_OK || err == LW_ERR_NEED_MORE);
        if (err == LW_OK)
            check((again.present & ~st.present) == 0);
    }

    char text[512];
    size_t n = write_status(&st, text, sizeof(text));
    check(lw_procfs_parse_status(text, n, &again) == LW_OK);
    check(same_status(&st, &again));
}

static bool same_stat(const struct lw_stat_info *a, const struct lw_stat_info *b)
{
    return a->pid == b->pid && strcmp(a->comm, b->comm) == 0 && a->state == b->state &&
           a->ppid == b->ppid && a->utime_ticks == b->utime_ticks &&
           a->stime_ticks == b->stime_ticks && a->start_ticks == b->start_ticks;
}

static void fuzz_stat(const char *buf, size_t len)
{
    struct lw_stat_info st, again;
    enum lw_err err = lw_procfs_parse_stat(buf, len, &st);
    check(err == LW_OK || err == LW_ERR_NEED_MORE || err == LW_ERR_INVALID);
    if (err != LW_OK) {
        static const struct lw_stat_info zero;
        check(memcmp(&st, &zero, sizeof(st)) == 0);
        return;
    }
    check(st.pid >= 0 && st.ppid >= 0);
    check_name(st.comm, sizeof(st.comm));
    check((st.state >= 'A' && st.state <= 'Z') || (st.state >= 'a' && st.state <= 'z'));

    /*
     * Short reads. The kernel's comm holds at most 15 bytes, which is what makes the last ')'
     * safe on a prefix (procfs.h); for such inputs no prefix may give a result that differs.
     * (Real stat files are about 300 bytes: longer inputs skip this quadratic check.)
     */
    const char *open = memchr(buf, '(', len);
    const char *close = memrchr(buf, ')', len);
    if (len <= 1024 && open != NULL && close != NULL && close > open && close - open - 1 <= 15) {
        for (size_t cut = 0; cut < len; cut++) {
            err = lw_procfs_parse_stat(buf, cut, &again);
            check(err == LW_OK || err == LW_ERR_NEED_MORE || err == LW_ERR_INVALID);
            if (err == LW_OK)
                check(same_stat(&st, &again));
        }
    }

    /* The kernel's format for what was read parses to the same (comm is printable now). */
    char text[512];
    int n = snprintf(text, sizeof(text),
                     "%" PRId32 " (%s) %c %" PRId32 " 1 1 0 -1 4194304 100 0 0 0 %" PRIu64
                     " %" PRIu64 " 0 0 20 0 1 0 %" PRIu64 " 1 2\n",
                     st.pid, st.comm, st.state, st.ppid, st.utime_ticks, st.stime_ticks,
                     st.start_ticks);
    check(n > 0 && (size_t)n < sizeof(text));
    check(lw_procfs_parse_stat(text, (size_t)n, &again) == LW_OK);
    check(same_stat(&st, &again));
}

static void fuzz_cmdline(const char *buf, size_t len)
{
    struct lw_cmdline_info c;
    enum lw_err err = lw_procfs_parse_cmdline(buf, len, &c);
    if (err != LW_OK) {
        check(err == LW_ERR_NOT_FOUND);
        check(len == 0 || buf[0] == '\0');
        return;
    }
    check(c.argv0 == buf && c.argv0_len > 0 && c.argv0_len <= len);
    check(memchr(c.argv0, '\0', c.argv0_len) == NULL);
    check(c.argv0_complete == (c.argv0_len < len));
    /* argc: one per NUL-terminated string, plus an unterminated last one */
    uint32_t argc = 0;
    for (size_t i = 0; i < len; i++)
        argc += buf[i] == '\0';
    argc += buf[len - 1] != '\0';
    check(c.argc == argc);

    const char *base;
    size_t base_len;
    lw_procfs_basename(c.argv0, c.argv0_len, &base, &base_len);
    check(base >= c.argv0 && base + base_len == c.argv0 + c.argv0_len);
    check(memchr(base, '/', base_len) == NULL);
    check(base == c.argv0 || base[-1] == '/');
}

/* Children: pids in range, within the room given, each written back as the kernel writes it
 * ("%d ") reproducing the start of the input, and a prefix of the input giving a prefix of the
 * list (a cut-off pid is never taken). */
static void fuzz_children(const char *buf, size_t len)
{
    enum { CAP = 64 };
    int32_t all[CAP], part[CAP];
    size_t n = lw_procfs_parse_children(buf, len, all, CAP);
    check(n <= CAP);
    for (size_t i = 0; i < n; i++)
        check(all[i] > 0);
    size_t cut = len / 2;
    size_t m = lw_procfs_parse_children(buf, cut, part, CAP);
    check(m <= n);
    check(memcmp(part, all, m * sizeof(all[0])) == 0);
    size_t few = lw_procfs_parse_children(buf, len, part, 2);
    check(few == (n < 2 ? n : 2));
    char text[CAP * 12 + 1];
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "%d ", (int)all[i]);
    check(lw_procfs_parse_children(text, o, part, CAP) == n);
    check(memcmp(part, all, n * sizeof(all[0])) == 0);
}

static void fuzz_copy_name(const char *buf, size_t len)
{
    char name[LW_NAME_MAX + 1];
    /* every capacity up to a full name, the odd ones included */
    size_t cap = 1 + (len ? (unsigned char)buf[0] : 0) % LW_NAME_MAX;
    memset(name, 'X', sizeof(name));
    lw_procfs_copy_name(name, cap, buf, len);
    size_t n = len < cap - 1 ? len : cap - 1;
    check(name[n] == '\0' && name[cap] == 'X');
    check_name(name, cap);
    for (size_t i = 0; i < n; i++)
        check(name[i] == buf[i] || name[i] == '?');
}

/* A name found in a folder: inside the input, after "<dir>/", non-empty, without '/' or NUL;
 * in a command line also ended by its NUL. A prefix of the command line (a short read) finds
 * the same first name or none, never a cut one. */
static void fuzz_find_in_dir(const char *buf, size_t len)
{
    static const char dir[] = "/opt/extensions";
    const size_t dlen = sizeof(dir) - 1;
    const char *name;
    size_t nlen;
    if (lw_procfs_path_in_dir(buf, len, dir, dlen, &name, &nlen)) {
        check(name == buf + dlen + 1 && nlen == len - dlen - 1 && nlen > 0);
        check(memchr(name, '/', nlen) == NULL && memchr(name, '\0', nlen) == NULL);
    }
    bool found = lw_procfs_cmdline_find_in_dir(buf, len, dir, dlen, &name, &nlen);
    if (found) {
        check(name >= buf + dlen + 1 && name + nlen < buf + len && name[nlen] == '\0');
        check(nlen > 0 && memchr(name, '/', nlen) == NULL);
        check(memcmp(name - dlen - 1, dir, dlen) == 0 && name[-1] == '/');
        check(name - dlen - 1 == buf || *(name - dlen - 2) == '\0');
    }
    for (size_t cut = len / 2; cut < len; cut += 1 + len / 8) {
        const char *n2;
        size_t l2;
        if (lw_procfs_cmdline_find_in_dir(buf, cut, dir, dlen, &n2, &l2))
            check(found && n2 == name && l2 == nlen);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that any read past the end is caught. */
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    fuzz_status(buf, size);
    fuzz_stat(buf, size);
    fuzz_cmdline(buf, size);
    fuzz_children(buf, size);
    fuzz_copy_name(buf, size);
    fuzz_find_in_dir(buf, size);
    free(buf);
    return 0;
}
