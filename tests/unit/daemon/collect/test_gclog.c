
/*
 * The JVM's unified GC log parser on real logs of OpenJDK 17 (Serial and G1, written with the
 * exec wrapper's -Xlog selection): the heap after each collection, young and full told apart,
 * the ceiling from the header; the same outcome however the bytes are split; lines too long,
 * a jump into the middle of a line, and numbers no heap has.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/gclog.h>

#include "fixture.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)

static char *gclog_fixture(const char *name, size_t *len)
{
    static char buf[65536];
    *len = read_fixture("gclog", name, buf, sizeof(buf));
    assert_true(*len > 0 && *len < sizeof(buf));
    return buf;
}

/* Feeds (buf, len) as a reader would: pieces of at most `piece` bytes, the unconsumed rest kept
 * and fed again with what follows. */
static void feed_in_pieces(struct lw_gclog *g, const char *buf, size_t len, size_t piece)
{
    char pending[4096];
    size_t have = 0;
    for (size_t pos = 0; pos < len;) {
        size_t take = len - pos < piece ? len - pos : piece;
        if (take > sizeof(pending) - have)
            take = sizeof(pending) - have;
        memcpy(pending + have, buf + pos, take);
        have += take;
        pos += take;
        size_t used = lw_gclog_feed(g, pending, have);
        assert_true(used <= have);
        memmove(pending, pending + used, have - used);
        have -= used;
    }
    assert_int_equal(have, 0); /* the fixtures end with a whole line */
}

struct log_case {
    const char *file;
    uint64_t limit_bytes;
    uint64_t after_gc_bytes;    /* after the last collection */
    uint64_t resident_bytes;    /* its capacity */
    uint64_t after_major_bytes; /* after the last full one */
    uint64_t major_gcs, minor_gcs;
};

static const struct log_case cases[] = {
    /* Serial: the last collection is GC(19), young: DefNew 1282K(19648K) + Tenured
       23623K(43712K); the last full one GC(15): 0K + 19719K. Its ceiling: 64M less the
       survivor space kept empty (From: ...(2176K)) */
    {"serial-jdk17.log", 64 * MIB - 2176 * KIB, (1282 + 23623) * KIB, (19648 + 43712) * KIB,
     19719 * KIB, 4, 16},
    /* G1: no per-generation sizes with a unit, the pause line's own, to the MB: GC(22) young
       42M->25M(57M); the last full one GC(18) 32M->19M(52M) */
    {"g1-jdk17.log", 64 * MIB, 25 * MIB, 57 * MIB, 19 * MIB, 4, 19},
};

static void check_case(const struct log_case *c, const struct lw_gclog *g)
{
    const struct lw_heap_mem *h = &g->heap;
    assert_int_equal(h->have,
                     LW_HEAP_AFTER_GC | LW_HEAP_AFTER_MAJOR | LW_HEAP_RESIDENT | LW_HEAP_LIMIT);
    assert_int_equal(h->limit_bytes, c->limit_bytes);
    assert_int_equal(h->after_gc_bytes, c->after_gc_bytes);
    assert_int_equal(h->resident_bytes, c->resident_bytes);
    assert_int_equal(h->after_major_bytes, c->after_major_bytes);
    assert_int_equal(h->major_gcs, c->major_gcs);
    assert_int_equal(h->minor_gcs, c->minor_gcs);
    assert_int_equal(g->skipped, 0);
}

static void test_real_logs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        const char *buf = gclog_fixture(cases[i].file, &len);
        struct lw_gclog g;
        lw_gclog_init(&g);
        assert_int_equal(lw_gclog_feed(&g, buf, len), len);
        check_case(&cases[i], &g);
    }
}

/* The outcome never depends on how the bytes were split. */
static void test_any_split(void **state)
{
    (void)state;
    static const size_t pieces[] = {1, 2, 7, 64, 333, 1000};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        const char *buf = gclog_fixture(cases[i].file, &len);
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
            struct lw_gclog g;
            lw_gclog_init(&g);
            feed_in_pieces(&g, buf, len, pieces[p]);
            check_case(&cases[i], &g);
        }
    }
}

/* A line the JVM is still writing is not consumed: only complete lines count. */
static void test_partial_line_waits(void **state)
{
    (void)state;
    static const char text[] = "[0.1s][gc     ] GC(3) Pause Full (System.gc()) 9M->4M(20M) 1.0ms\n"
                               "[0.2s][gc     ] GC(4) Pause Young (Allocation Failure) 12M->";
    struct lw_gclog g;
    lw_gclog_init(&g);
    size_t used = lw_gclog_feed(&g, text, sizeof(text) - 1);
    assert_int_equal(used, strchr(text, '\n') - text + 1);
    assert_int_equal(g.heap.after_gc_bytes, 4 * MIB);
    assert_int_equal(g.heap.after_major_bytes, 4 * MIB);
    assert_int_equal(g.heap.minor_gcs, 0);
    assert_int_equal(g.heap.major_gcs, 1);
}

/* Young and full told apart: a young collection never moves the retained figure. */
static void test_young_keeps_retained(void **state)
{
    (void)state;
    static const char text[] = "[gc] GC(1) Pause Full (Allocation Failure) 30M->10M(64M) 5ms\n"
                               "[gc] GC(2) Pause Young (Allocation Failure) 40M->22M(64M) 2ms\n";
    struct lw_gclog g;
    lw_gclog_init(&g);
    lw_gclog_feed(&g, text, sizeof(text) - 1);
    assert_int_equal(g.heap.after_gc_bytes, 22 * MIB);
    assert_int_equal(g.heap.after_major_bytes, 10 * MIB);
    assert_int_equal(g.heap.resident_bytes, 64 * MIB);
    assert_false(g.heap.have & LW_HEAP_LIMIT);
}

/* Untrusted bytes: numbers beyond any heap, lines too long, a jump into a line, other tags. */
/* Serial's ceiling: the heap's maximum less the largest survivor space seen yet. A young
 * generation that grows from its initial size shows larger survivors, and may shrink again:
 * the ceiling only comes down. */
static void test_serial_ceiling_less_the_largest_survivor(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "[0.1s][gc,init] Heap Max Capacity: 64M\n",
        "[0.2s][gc,heap] GC(0) DefNew: 2000K(2304K)->200K(2304K) Eden: 2000K(2048K)->0K(2048K) "
        "From: 0K(256K)->200K(256K)\n",
        "[0.3s][gc,heap] GC(1) DefNew: 9000K(9216K)->700K(9216K) Eden: 8000K(8192K)->0K(8192K) "
        "From: 200K(1024K)->700K(1024K)\n",
        "[0.4s][gc,heap] GC(2) DefNew: 4000K(4608K)->300K(4608K) Eden: 3800K(4096K)->0K(4096K) "
        "From: 700K(512K)->300K(512K)\n",
        /* Parallel's young generation says PSYoungGen: no survivor taken from it */
        "[0.5s][gc,heap] GC(3) PSYoungGen: 4000K(9216K)->300K(9216K) Eden: 3800K(4096K)->0K(4096K) "
        "From: 700K(4096K)->300K(4096K)\n",
    };
    static const uint64_t want[] = {64 * MIB, 64 * MIB - 256 * KIB, 64 * MIB - 1024 * KIB,
                                    64 * MIB - 1024 * KIB, 64 * MIB - 1024 * KIB};
    struct lw_gclog g;
    lw_gclog_init(&g);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        assert_int_equal(lw_gclog_feed(&g, lines[i], strlen(lines[i])), strlen(lines[i]));
        assert_true(g.heap.have & LW_HEAP_LIMIT);
        assert_int_equal(g.heap.limit_bytes, want[i]);
    }
}

static void test_hostile(void **state)
{
    (void)state;
    struct lw_gclog g;
    lw_gclog_init(&g);
    static const char huge[] = "[gc] GC(1) Pause Full (x) 1M->99999999999999999G(2M) 1ms\n"
                               "[gc,init] Heap Max Capacity: 99999999999G\n"
                               "[safepoint] GC(2) Pause Full (x) 1M->1M(2M) 1ms\n"
                               "[gc] GC(3) Pause Remark 5M->5M(9M) 1ms\n";
    assert_int_equal(lw_gclog_feed(&g, huge, sizeof(huge) - 1), sizeof(huge) - 1);
    assert_int_equal(g.heap.have, 0);

    /* a line longer than LW_GCLOG_LINE_MAX, holding a collection: consumed, skipped whole */
    char *lng = malloc(LW_GCLOG_LINE_MAX * 3);
    assert_non_null(lng);
    static const char tail[] = "[gc] GC(4) Pause Full (x) 1M->1M(2M) 1ms\n";
    memset(lng, ' ', LW_GCLOG_LINE_MAX * 2);
    memcpy(lng + LW_GCLOG_LINE_MAX * 2, tail, sizeof(tail) - 1);
    size_t n = LW_GCLOG_LINE_MAX * 2 + sizeof(tail) - 1;
    size_t used = 0;
    for (size_t end = 100; used < n; end = end + 100 < n ? end + 100 : n)
        used += lw_gclog_feed(&g, lng + used, end - used);
    assert_int_equal(used, n);
    assert_int_equal(g.heap.have, 0);
    assert_int_equal(g.skipped, 1);
    free(lng);

    /* after a jump, what comes first is the end of some line: skipped */
    static const char mid[] = "->7M(9M) 1ms\n[gc] GC(5) Pause Full (x) 8M->3M(9M) 1ms\n";
    lw_gclog_resync(&g);
    lw_gclog_feed(&g, mid, sizeof(mid) - 1);
    assert_int_equal(g.heap.after_major_bytes, 3 * MIB);
    assert_int_equal(g.heap.major_gcs, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_logs),
        cmocka_unit_test(test_any_split),
        cmocka_unit_test(test_partial_line_waits),
        cmocka_unit_test(test_young_keeps_retained),
        cmocka_unit_test(test_serial_ceiling_less_the_largest_survivor),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
