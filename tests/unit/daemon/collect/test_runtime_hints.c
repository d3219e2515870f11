/*
 * The runtime's heap ceiling from its command line and environment: Lambda's own command lines
 * for Node.js and Java, the settings users put in NODE_OPTIONS, JAVA_TOOL_OPTIONS and the .NET
 * variables, their order of precedence, values the runtimes would reject, every prefix of a
 * short read, and the snapshot hook that reads them once, at the runtime's first sighting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leakwatch/runtime_hints.h>
#include <leakwatch/snapshot.h>

#define MIB (1024ull * 1024ull)
/* NUL-separated strings as /proc writes them: the literal's own NUL ends the last one */
#define Z(s) s, sizeof(s)

struct hint_case {
    const char *what;
    const char *cmd;
    size_t cmd_len;
    const char *env;
    size_t env_len;
    enum lw_runtime_kind kind;
    enum lw_heap_source source;
    uint64_t bytes;
    uint32_t permille;
    const char *origin;
};

static const struct hint_case cases[] = {
    {"Lambda's Node.js 20 runtime, 512 MB",
     Z("/var/lang/bin/node\0--expose-gc\0--max-semi-space-size=25\0--max-old-space-size=461\0"
       "/var/runtime/index.mjs"),
     Z("AWS_EXECUTION_ENV=AWS_Lambda_nodejs20.x"), LW_RUNTIME_NODE, LW_HEAP_CMDLINE,
     (461 + 3 * 25) * MIB, 0, "--max-old-space-size=461"},
    {"node, the two-token form and underscores",
     Z("node\0--max_old_space_size\0"
       "300\0app.js"),
     Z(""), LW_RUNTIME_NODE, LW_HEAP_CMDLINE, (300 + 3 * 16) * MIB, 0, "--max-old-space-size"},
    {"NODE_OPTIONS, quoted", Z("node\0index.js"),
     Z("NODE_OPTIONS=--enable-source-maps \"--max-old-space-size=200\""), LW_RUNTIME_NODE,
     LW_HEAP_ENVIRON, (200 + 48) * MIB, 0, "--max-old-space-size=200"},
    {"the command line wins over NODE_OPTIONS", Z("node\0--max-old-space-size=100\0app.js"),
     Z("NODE_OPTIONS=--max-old-space-size=900"), LW_RUNTIME_NODE, LW_HEAP_CMDLINE, (100 + 48) * MIB,
     0, "--max-old-space-size=100"},
    {"the script's own arguments are not node's", Z("node\0app.js\0--max-old-space-size=100"),
     Z(""), LW_RUNTIME_NODE, LW_HEAP_UNKNOWN, 0, 0, ""},
    {"node under Lambda without its flags: Lambda's default", Z("/bin/sh\0/var/runtime/bootstrap"),
     Z("AWS_EXECUTION_ENV=AWS_Lambda_nodejs22.x"), LW_RUNTIME_NODE, LW_HEAP_DEFAULT, 0, 1050,
     "Lambda's 90% old space"},
    {"a rejected value is ignored", Z("node\0--max-old-space-size=12x\0a.js"), Z(""),
     LW_RUNTIME_NODE, LW_HEAP_UNKNOWN, 0, 0, ""},
    {"Lambda's Java 21 runtime, 512 MB",
     Z("/var/lang/bin/java\0-XX:MaxHeapSize=445645k\0-XX:+UseSerialGC\0-Xshare:on\0"
       "-XX:+TieredCompilation\0-XX:TieredStopAtLevel=1\0-classpath\0/var/runtime/lib/a.jar\0"
       "com.amazonaws.services.lambda.runtime.api.client.AWSLambda"),
     Z("AWS_EXECUTION_ENV=AWS_Lambda_java21"), LW_RUNTIME_JVM, LW_HEAP_CMDLINE, 445645ull * 1024, 0,
     "-XX:MaxHeapSize=445645k"},
    {"-Xmx, the last one wins", Z("java\0-Xmx1g\0-Xmx400m\0-cp\0.\0Main"), Z(""), LW_RUNTIME_JVM,
     LW_HEAP_CMDLINE, 400 * MIB, 0, "-Xmx400m"},
    {"JAVA_TOOL_OPTIONS comes before the command line", Z("java\0-Xmx300M\0Main"),
     Z("JAVA_TOOL_OPTIONS=-Xmx2G"), LW_RUNTIME_JVM, LW_HEAP_CMDLINE, 300 * MIB, 0, "-Xmx300M"},
    {"JAVA_TOOL_OPTIONS alone", Z("java\0Main"),
     Z("PATH=/usr/bin\0JAVA_TOOL_OPTIONS=-XX:+UseSerialGC -Xmx256m"), LW_RUNTIME_JVM,
     LW_HEAP_ENVIRON, 256 * MIB, 0, "-Xmx256m"},
    {"_JAVA_OPTIONS overrides the command line", Z("java\0-Xmx300m\0Main"),
     Z("_JAVA_OPTIONS=-Xmx200m"), LW_RUNTIME_JVM, LW_HEAP_ENVIRON, 200 * MIB, 0, "-Xmx200m"},
    {"MaxRAMPercentage: a share of the memory size", Z("java\0-XX:MaxRAMPercentage=75.0\0Main"),
     Z(""), LW_RUNTIME_JVM, LW_HEAP_CMDLINE, 0, 750, "-XX:MaxRAMPercentage=75.0"},
    {"-Xmx beats MaxRAMPercentage whatever the order",
     Z("java\0-Xmx100m\0-XX:MaxRAMPercentage=75\0Main"), Z(""), LW_RUNTIME_JVM, LW_HEAP_CMDLINE,
     100 * MIB, 0, "-Xmx100m"},
    {"MaxRAM with the default 25%", Z("java\0-XX:MaxRAM=1g\0Main"), Z(""), LW_RUNTIME_JVM,
     LW_HEAP_CMDLINE, 1024ull * MIB / 1000 * 250, 0, "-XX:MaxRAM=1g"},
    {"a JVM without a setting: its default 25%", Z("/usr/bin/java\0Main"), Z(""), LW_RUNTIME_JVM,
     LW_HEAP_DEFAULT, 0, 250, "MaxRAMPercentage 25"},
    {"java under Lambda without its flags: Lambda's 85%", Z("/bin/sh\0bootstrap"),
     Z("AWS_EXECUTION_ENV=AWS_Lambda_java17"), LW_RUNTIME_JVM, LW_HEAP_DEFAULT, 0, 850,
     "Lambda's 85% heap"},
    {"-Xmx0 and overflows are rejected",
     Z("java\0-Xmx0\0-Xmx99999999999999999999k\0-Xmx18014398509481984k\0Main"), Z(""),
     LW_RUNTIME_JVM, LW_HEAP_DEFAULT, 0, 250, "MaxRAMPercentage 25"},
    {".NET: DOTNET_GCHeapHardLimit is hexadecimal", Z("dotnet\0app.dll"),
     Z("DOTNET_GCHeapHardLimit=0xC800000"), LW_RUNTIME_DOTNET, LW_HEAP_ENVIRON, 200 * MIB, 0,
     "DOTNET_GCHeapHardLimit"},
    {".NET: the percentage, hexadecimal", Z("dotnet\0app.dll"),
     Z("DOTNET_GCHeapHardLimitPercent=32"), LW_RUNTIME_DOTNET, LW_HEAP_ENVIRON, 0, 500,
     "DOTNET_GCHeapHardLimitPercent"},
    {".NET by AWS_EXECUTION_ENV, the GC's default", Z("/var/runtime/bootstrap"),
     Z("AWS_EXECUTION_ENV=AWS_Lambda_dotnet8"), LW_RUNTIME_DOTNET, LW_HEAP_DEFAULT, 0, 750,
     "GC default 75%"},
    {"Python: known, no ceiling", Z("/var/lang/bin/python3.12\0-m\0awslambdaric"), Z(""),
     LW_RUNTIME_PYTHON, LW_HEAP_UNKNOWN, 0, 0, ""},
    {"a custom runtime", Z("/var/task/bootstrap"), Z("AWS_EXECUTION_ENV=AWS_Lambda_provided"),
     LW_RUNTIME_UNKNOWN, LW_HEAP_UNKNOWN, 0, 0, ""},
    {"a custom runtime that is node keeps node's own defaults, not Lambda's", Z("node\0app.js"),
     Z("AWS_EXECUTION_ENV=AWS_Lambda_java21"), LW_RUNTIME_NODE, LW_HEAP_UNKNOWN, 0, 0, ""},
};

static void check(const struct hint_case *c, const struct lw_runtime_hint *h)
{
    print_message("%s\n", c->what);
    assert_int_equal(h->kind, c->kind);
    assert_int_equal(h->source, c->source);
    assert_int_equal(h->heap_max_bytes, c->bytes);
    assert_int_equal(h->heap_max_permille, c->permille);
    assert_string_equal(h->origin, c->origin);
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lw_runtime_hint h;
        lw_runtime_hints_parse(cases[i].cmd, cases[i].cmd_len, cases[i].env, cases[i].env_len, &h);
        check(&cases[i], &h);
    }
}

/* V8's old space alone, where what the heap retains lives: from the flag, or Lambda's 90%. */
static void test_v8_old_space(void **state)
{
    (void)state;
    static const struct {
        const char *cmd;
        size_t cmd_len;
        const char *env;
        size_t env_len;
        uint64_t want;
    } old[] = {
        {Z("node\0--max-semi-space-size=25\0--max-old-space-size=461\0a.js"), Z(""), 461 * MIB},
        {Z("node\0a.js"), Z("NODE_OPTIONS=--max-old-space-size=200"), 200 * MIB},
        {Z("/bin/sh\0/var/runtime/bootstrap"), Z("AWS_EXECUTION_ENV=AWS_Lambda_nodejs22.x"),
         512 * MIB / 1000 * 900},
        {Z("node\0a.js"), Z(""), 0},                           /* V8's own default */
        {Z("java\0-Xmx400m\0Main"), Z(""), 0},                 /* not V8 */
        {Z("node\0--max-old-space-size=12x\0a.js"), Z(""), 0}, /* refused */
    };
    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
        struct lw_runtime_hint h;
        lw_runtime_hints_parse(old[i].cmd, old[i].cmd_len, old[i].env, old[i].env_len, &h);
        assert_int_equal(lw_runtime_hint_old_space_bytes(&h, 512 * MIB), old[i].want);
    }
}

/* The strings of buf[0..n) that are whole (NUL-terminated): what a prefix may be used for. */
static size_t whole_strings(const char *buf, size_t n)
{
    while (n > 0 && buf[n - 1] != '\0')
        n--;
    return n;
}

static bool same_hint(const struct lw_runtime_hint *a, const struct lw_runtime_hint *b)
{
    return a->kind == b->kind && a->source == b->source && a->heap_max_bytes == b->heap_max_bytes &&
           a->heap_max_permille == b->heap_max_permille && strcmp(a->origin, b->origin) == 0;
}

/*
 * A short read: every prefix of the command line and of the environment, each in a buffer of
 * exactly its size (ASan sees any read past it). A string cut off by the read is never used:
 * the result is the one of the whole strings before it (no -Xmx40 taken from -Xmx400m).
 */
static void test_prefixes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct hint_case *c = &cases[i];
        for (int which = 0; which < 2; which++) {
            const char *src = which ? c->env : c->cmd;
            size_t len = which ? c->env_len : c->cmd_len;
            for (size_t n = 0; n <= len; n++) {
                char *buf = malloc(n ? n : 1);
                assert_non_null(buf);
                memcpy(buf, src, n);
                struct lw_runtime_hint h, ref;
                size_t w = whole_strings(buf, n);
                if (which) {
                    lw_runtime_hints_parse(c->cmd, c->cmd_len, buf, n, &h);
                    lw_runtime_hints_parse(c->cmd, c->cmd_len, buf, w, &ref);
                } else {
                    lw_runtime_hints_parse(buf, n, c->env, c->env_len, &h);
                    lw_runtime_hints_parse(buf, w, c->env, c->env_len, &ref);
                }
                free(buf);
                assert_true(same_hint(&h, &ref));
            }
        }
    }
}

static void test_null_and_names(void **state)
{
    (void)state;
    struct lw_runtime_hint h;
    memset(&h, 0x5a, sizeof(h));
    lw_runtime_hints_parse(NULL, 10, NULL, 10, &h);
    assert_int_equal(h.kind, LW_RUNTIME_UNKNOWN);
    assert_int_equal(h.source, LW_HEAP_UNKNOWN);
    assert_int_equal(lw_runtime_hint_heap_bytes(&h, 512 * MIB), 0);
    h.source = LW_HEAP_DEFAULT;
    h.heap_max_permille = 850;
    assert_int_equal(lw_runtime_hint_heap_bytes(&h, 512 * MIB), 512 * MIB / 1000 * 850);
    assert_int_equal(lw_runtime_hint_heap_bytes(&h, 0), 0);
    assert_string_equal(lw_runtime_kind_name(LW_RUNTIME_JVM), "jvm");
    assert_string_equal(lw_runtime_kind_name(LW_RUNTIME_KIND_COUNT), "unknown");
    assert_string_equal(lw_heap_source_name(LW_HEAP_ENVIRON), "environment");
    /* an origin from outside is printable ASCII in the reason sentence */
    lw_runtime_hints_parse(Z("java\0-Xmx4m\0M"), Z("JAVA_TOOL_OPTIONS=\"-Xmx5m\x01\""), &h);
    assert_string_equal(h.origin, "-Xmx4m");
}

/* ---- the hook: a fake /proc, the runtime read once at its first sighting -------------------- */

static char root[256];

static void put(const char *rel, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
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

static void proc(int pid, int ppid, const char *comm, const char *cmdline, size_t cmdline_len,
                 const char *children)
{
    char rel[128], buf[512];
    int n;
    snprintf(rel, sizeof(rel), "%d/stat", pid);
    n = snprintf(buf, sizeof(buf), "%d (%s) S %d 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 %d 0 0 0\n", pid,
                 comm, ppid, 1000 + pid);
    put(rel, buf, (size_t)n);
    snprintf(rel, sizeof(rel), "%d/status", pid);
    n = snprintf(buf, sizeof(buf),
                 "Name:\t%s\nState:\tS (sleeping)\nPid:\t%d\nPPid:\t%d\nVmHWM:\t9000 kB\n"
                 "VmRSS:\t8000 kB\nRssAnon:\t6000 kB\nRssFile:\t2000 kB\nRssShmem:\t0 kB\n",
                 comm, pid, ppid);
    put(rel, buf, (size_t)n);
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

static void test_snapshot_hook(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "%s/lw-hints-XXXXXX", P_tmpdir);
    assert_non_null(mkdtemp(root));
    proc(100, 1, "init", Z("/init"), "200 ");
    proc(200, 100, "java", Z("/var/lang/bin/java\0-Xmx400m\0-cp\0/var/task\0Main"), "");
    put("200/environ", Z("AWS_EXECUTION_ENV=AWS_Lambda_java21\0JAVA_TOOL_OPTIONS=-Xmx300m"));
    struct lw_processes_config cfg = {
        .proc_root = root, .init_pid = 100, .self_pid = 999, .extensions_dir = ""};
    struct lw_processes *ps = lw_processes_new(&cfg);
    assert_non_null(ps);
    static struct lw_snapshot snap;
    lw_snapshot_take(ps, false, 1000, 0, &snap);
    assert_int_equal(snap.n_procs, 1);
    assert_int_equal(snap.runtime_hint.kind, LW_RUNTIME_JVM);
    assert_int_equal(snap.runtime_hint.source, LW_HEAP_CMDLINE);
    assert_int_equal(snap.runtime_hint.heap_max_bytes, 400 * MIB);
    /* read once: a changed command line (it cannot change on Linux without an exec, which
     * keeps the pid and start time) is not read again at the next boundary */
    put("200/cmdline", Z("/var/lang/bin/java\0-Xmx100m\0Main"));
    lw_snapshot_take(ps, false, 2000, 0, &snap);
    assert_int_equal(snap.runtime_hint.heap_max_bytes, 400 * MIB);
    lw_processes_free(ps);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),         cmocka_unit_test(test_v8_old_space),
        cmocka_unit_test(test_prefixes),      cmocka_unit_test(test_null_and_names),
        cmocka_unit_test(test_snapshot_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
