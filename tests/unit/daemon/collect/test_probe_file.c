/*
 * The probe file's parser on files the real probes wrote (Node.js 20, Python 3.11 with
 * tracemalloc), and on what a function could write in their place: every prefix of a torn
 * write, a flipped byte, a key given twice, numbers beyond any heap, site lines in any order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/probe_file.h>

#include "fixture.h"
/* A probe file of the given lines, its end line's checksum computed as a probe would. */
static size_t make_file(char *buf, size_t cap, const char *lines)
{
    memset(buf, 0, cap);
    int n = snprintf(buf, cap, "%s", lines);
    assert_true(n > 0 && (size_t)n < cap);
    int e = snprintf(buf + n, cap - (size_t)n, "end %08x\n", lw_probe_file_fnv1a(buf, (size_t)n));
    assert_true(e > 0);
    return cap;
}

static void test_node_fixture(void **state)
{
    (void)state;
    char buf[LW_PROBE_FILE_BYTES];
    size_t n = read_fixture("probe", "node20.probe", buf, sizeof(buf));
    assert_int_equal(n, LW_PROBE_FILE_BYTES);
    struct lw_probe_report r;
    const char *why = NULL;
    assert_int_equal(lw_probe_file_parse(buf, n, &r, &why), LW_OK);
    assert_int_equal(r.kind, LW_PROBE_NODE);
    assert_int_equal(r.pid, 32280);
    assert_int_equal(r.start_ticks, 1269317);
    assert_int_equal(r.updates, 2);
    /* no major collection yet: the retained figure is missing, not zero */
    assert_int_equal(r.heap.have,
                     LW_HEAP_AFTER_GC | LW_HEAP_RESIDENT | LW_HEAP_LIMIT | LW_HEAP_EXTERNAL);
    assert_int_equal(r.heap.after_gc_bytes, 5031744);
    assert_int_equal(r.heap.limit_bytes, 4345298944ull);
    assert_int_equal(r.heap.external_bytes, 3518893);
    assert_int_equal(r.heap.minor_gcs, 22);
    assert_int_equal(r.sites.n, 0);
}

static void test_python_fixture(void **state)
{
    (void)state;
    char buf[LW_PROBE_FILE_BYTES];
    size_t n = read_fixture("probe", "python311-tracemalloc.probe", buf, sizeof(buf));
    struct lw_probe_report r;
    assert_int_equal(lw_probe_file_parse(buf, n, &r, NULL), LW_OK);
    assert_int_equal(r.kind, LW_PROBE_PYTHON);
    assert_int_equal(r.heap.blocks, 90710);
    assert_int_equal(r.heap.major_gcs, 4);
    assert_int_equal(r.tracemalloc_frames, 4);
    assert_int_equal(r.sites.request, 2);
    /* five site lines, the LW_SITES_MAX largest kept, largest first */
    assert_int_equal(r.sites.n, LW_SITES_MAX);
    assert_string_equal(r.sites.site[0].where, "<string>:9");
    assert_int_equal(r.sites.site[0].growth_bytes, 503714);
    assert_int_equal(r.sites.site[0].growth_count, 101);
    assert_int_equal(r.sites.site[1].growth_bytes, 2064);
    assert_int_equal(r.sites.site[2].growth_bytes, 483);
}

/* A read that catches a write half done: any prefix of the text is refused, never half used. */
static void test_every_prefix(void **state)
{
    (void)state;
    static const char *const files[] = {"node20.probe", "python311-tracemalloc.probe"};
    for (size_t f = 0; f < 2; f++) {
        char buf[LW_PROBE_FILE_BYTES];
        read_fixture("probe", files[f], buf, sizeof(buf));
        size_t text = strnlen(buf, sizeof(buf));
        for (size_t cut = 0; cut < text; cut++) {
            char *copy = calloc(1, LW_PROBE_FILE_BYTES);
            assert_non_null(copy);
            memcpy(copy, buf, cut);
            struct lw_probe_report r;
            const char *why = NULL;
            assert_int_equal(lw_probe_file_parse(copy, LW_PROBE_FILE_BYTES, &r, &why),
                             LW_ERR_INVALID);
            assert_non_null(why);
            assert_int_equal(r.heap.have, 0);
            /* and the bytes a short read gives, without padding */
            assert_int_equal(lw_probe_file_parse(buf, cut, &r, NULL), LW_ERR_INVALID);
            free(copy);
        }
    }
}

/* One byte changed anywhere in the text (a figure forged or torn): the checksum tells. */
static void test_flipped_byte(void **state)
{
    (void)state;
    char buf[LW_PROBE_FILE_BYTES];
    read_fixture("probe", "node20.probe", buf, sizeof(buf));
    size_t text = strnlen(buf, sizeof(buf));
    const char *end_line = strstr(buf, "end ");
    assert_non_null(end_line);
    for (size_t i = 0; i < (size_t)(end_line - buf); i++) {
        char saved = buf[i];
        buf[i] = saved == '7' ? '8' : '7';
        struct lw_probe_report r;
        assert_int_equal(lw_probe_file_parse(buf, text, &r, NULL), LW_ERR_INVALID);
        buf[i] = saved;
    }
}

struct bad_case {
    const char *what;
    const char *lines;
};

static const struct bad_case bad[] = {
    {"a key twice", "leakwatch-probe 1\nruntime node\npid 5\nstart 9\npid 6\n"},
    {"runtime twice", "leakwatch-probe 1\nruntime node\nruntime python\npid 5\nstart 9\n"},
    {"an unknown runtime", "leakwatch-probe 1\nruntime ruby\npid 5\nstart 9\n"},
    {"no pid", "leakwatch-probe 1\nruntime node\nstart 9\n"},
    {"pid 0", "leakwatch-probe 1\nruntime node\npid 0\nstart 9\n"},
    {"a pid beyond pid_max", "leakwatch-probe 1\nruntime node\npid 4194305\nstart 9\n"},
    {"no start", "leakwatch-probe 1\nruntime node\npid 5\n"},
    {"a heap beyond 8 PiB", "leakwatch-probe 1\nruntime node\npid 5\nstart 9\n"
                            "heap_after_major 9007199254740993\n"},
    {"a negative heap", "leakwatch-probe 1\nruntime node\npid 5\nstart 9\nheap_after_gc -1\n"},
    {"a number with a sign", "leakwatch-probe 1\nruntime node\npid +5\nstart 9\n"},
    {"a line without a value", "leakwatch-probe 1\nruntime node\npid 5\nstart 9\nexternal\n"},
    {"a site without its place", "leakwatch-probe 1\nruntime python\npid 5\nstart 9\nsites 1\n"
                                 "site 10 2\n"},
    {"a site with a control byte", "leakwatch-probe 1\nruntime python\npid 5\nstart 9\n"
                                   "sites 1\nsite 10 2 a\x1b[2Jb.py:3\n"},
    {"another version", "leakwatch-probe 2\nruntime node\npid 5\nstart 9\n"},
    {"tracemalloc beyond 64 frames", "leakwatch-probe 1\nruntime python\npid 5\nstart 9\n"
                                     "tracemalloc 65\n"},
};

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[LW_PROBE_FILE_BYTES];
        size_t n = make_file(buf, sizeof(buf), bad[i].lines);
        struct lw_probe_report r;
        if (lw_probe_file_parse(buf, n, &r, NULL) != LW_ERR_INVALID)
            fail_msg("accepted: %s", bad[i].what);
        assert_int_equal(r.pid, 0);
    }
}

/* What a newer probe may add is ignored; sites without a request are none; a long place keeps
 * its end, where the line number is. */
static void test_tolerated(void **state)
{
    (void)state;
    char lines[1024];
    char where[400];
    memset(where, 'd', sizeof(where));
    memcpy(where + sizeof(where) - 12, "/app.py:4242", 12);
    snprintf(lines, sizeof(lines),
             "leakwatch-probe 1\nruntime python\npid 5\nstart 9\nsomething_new 1 2 3\n"
             "blocks 77\nsites 3\nsite 5 1 small.py:1\nsite 900 3 %.*s\nsite -40 -2 gone.py:2\n",
             (int)sizeof(where), where);
    char buf[LW_PROBE_FILE_BYTES];
    size_t n = make_file(buf, sizeof(buf), lines);
    struct lw_probe_report r;
    assert_int_equal(lw_probe_file_parse(buf, n, &r, NULL), LW_OK);
    assert_int_equal(r.heap.have, LW_HEAP_BLOCKS);
    assert_int_equal(r.heap.blocks, 77);
    assert_int_equal(r.sites.n, 3);
    assert_int_equal(r.sites.site[0].growth_bytes, 900);
    assert_int_equal(strlen(r.sites.site[0].where), LW_SITE_TEXT_MAX - 1);
    assert_non_null(strstr(r.sites.site[0].where, "/app.py:4242"));
    assert_int_equal(r.sites.site[2].growth_bytes, -40);

    /* V8's old generation, committed, after a full collection; beyond 8 PiB it is refused */
    n = make_file(buf, sizeof(buf),
                  "leakwatch-probe 1\nruntime node\npid 5\nstart 9\nheap_after_major 400\n"
                  "old_committed 483\n");
    assert_int_equal(lw_probe_file_parse(buf, n, &r, NULL), LW_OK);
    assert_int_equal(r.heap.have, LW_HEAP_AFTER_MAJOR | LW_HEAP_OLD_COMMITTED);
    assert_int_equal(r.heap.old_committed_bytes, 483);
    n = make_file(buf, sizeof(buf),
                  "leakwatch-probe 1\nruntime node\npid 5\nstart 9\n"
                  "old_committed 9007199254740993\n");
    assert_int_equal(lw_probe_file_parse(buf, n, &r, NULL), LW_ERR_INVALID);

    /* the same sites, but no request they answer */
    n = make_file(buf, sizeof(buf),
                  "leakwatch-probe 1\nruntime python\npid 5\nstart 9\nsite 5 1 small.py:1\n");
    assert_int_equal(lw_probe_file_parse(buf, n, &r, NULL), LW_OK);
    assert_int_equal(r.sites.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_fixture), cmocka_unit_test(test_python_fixture),
        cmocka_unit_test(test_every_prefix), cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_bad_files),    cmocka_unit_test(test_tolerated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
