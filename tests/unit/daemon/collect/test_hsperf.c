
/*
 * The JVM's performance-data file (hsperf.h) on files OpenJDK 17 wrote (Serial, Parallel, G1),
 * checked against what the JDK's own jstat read from the same files (`jstat -snap file://...`,
 * kept beside them); both byte orders on files built here; every truncation, a broken chain of
 * entries and figures no heap has; the heap's figures over a run of readings; and the line of
 * /proc/PID/maps that proves which file the running JVM maps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/hsperf.h>

#include "fixture.h"

static const char *const counter_names[LW_HSPERF_COUNTERS] = {
    "sun.gc.collector.0.invocations",
    "sun.gc.collector.0.lastExitTime",
    "sun.gc.collector.1.invocations",
    "sun.gc.collector.1.lastExitTime",
    "sun.gc.generation.0.space.1.used",
    "sun.gc.generation.0.space.2.used",
    "sun.gc.generation.1.space.0.used",
    "sun.gc.generation.0.capacity",
    "sun.gc.generation.1.capacity",
    "sun.gc.generation.0.maxCapacity",
    "sun.gc.generation.1.maxCapacity",
    "sun.gc.generation.1.spaces",
    "sun.gc.generation.0.space.0.used",
    "sun.gc.generation.0.space.0.maxCapacity",
    "sun.gc.generation.0.space.1.maxCapacity",
    "sun.gc.generation.0.space.2.maxCapacity",
    "sun.os.hrt.ticks",
    "sun.gc.cause",
};

/* What jstat read: "name=value" lines; sun.gc.cause as lw_hsperf_read gives it (0 for "No GC"). */
static void jstat_values(const char *name, int64_t want[LW_HSPERF_COUNTERS])
{
    char text[4096];
    size_t n = read_fixture("hsperf", name, (unsigned char *)text, sizeof(text) - 1);
    text[n] = '\0';
    for (int c = 0; c < LW_HSPERF_COUNTERS; c++) {
        char key[96];
        snprintf(key, sizeof(key), "%s=", counter_names[c]);
        const char *at = strstr(text, key);
        if (at == NULL)
            fail_msg("%s: no %s", name, counter_names[c]);
        at += strlen(key);
        if (c == LW_HSPERF_COLLECTING)
            want[c] = strncmp(at, "\"No GC\"\n", 8) != 0;
        else
            want[c] = strtoll(at, NULL, 10);
    }
}

static unsigned char file_buf[65536];

static void test_real_files_read_as_jstat_reads_them(void **state)
{
    (void)state;
    /* the last two: one JVM (Lambda's flags for 512 MB) read during its 8th full collection
     * and again once that had ended */
    static const char *const collectors[] = {"serial", "parallel", "serial-collecting",
                                             "serial-collected"};
    for (size_t i = 0; i < sizeof(collectors) / sizeof(collectors[0]); i++) {
        char bin[64], snap[64];
        snprintf(bin, sizeof(bin), "openjdk17-%s.hsperfdata", collectors[i]);
        snprintf(snap, sizeof(snap), "openjdk17-%s.jstat", collectors[i]);
        size_t n = read_fixture("hsperf", bin, file_buf, sizeof(file_buf));
        assert_int_equal(n, 32768);
        struct lw_hsperf_layout l;
        const char *why = NULL;
        assert_int_equal(lw_hsperf_layout_parse(file_buf, n, &l, &why), LW_OK);
        assert_true(l.little_endian);
        assert_true(l.end <= 16384); /* one read of the file's first 16 KiB finds them */
        int64_t got[LW_HSPERF_COUNTERS], want[LW_HSPERF_COUNTERS];
        assert_int_equal(lw_hsperf_read(&l, file_buf, l.end, got, &why), LW_OK);
        jstat_values(snap, want);
        for (int c = 0; c < LW_HSPERF_COUNTERS; c++)
            assert_int_equal(got[c], want[c]);
        /* the heap's ceiling: Serial's survivors tile its young generation with eden, and one
         * of them is always empty; Parallel's maxima exceed the generation (88080384 + 2 x
         * 29360128 > 89128960), so its ceiling is the whole heap's */
        struct lw_hsperf_track track = {0};
        struct lw_heap_mem h;
        lw_hsperf_heap(&track, got, &h);
        int64_t heap = want[LW_HSPERF_YOUNG_MAX] + want[LW_HSPERF_OLD_MAX];
        bool serial = strncmp(collectors[i], "serial", 6) == 0;
        assert_int_equal(h.limit_bytes, serial ? heap - want[LW_HSPERF_S1_MAX] : heap);
    }
}

static void test_the_heap_of_a_real_serial_file(void **state)
{
    (void)state;
    size_t n = read_fixture("hsperf", "openjdk17-serial.hsperfdata", file_buf, sizeof(file_buf));
    struct lw_hsperf_layout l;
    const char *why = NULL;
    assert_int_equal(lw_hsperf_layout_parse(file_buf, n, &l, &why), LW_OK);
    int64_t v[LW_HSPERF_COUNTERS];
    assert_int_equal(lw_hsperf_read(&l, file_buf, n, v, &why), LW_OK);
    /* the reading before saw 4 full collections */
    struct lw_hsperf_track track = {.have_prev = true, .prev_full = 4};
    struct lw_heap_mem h;
    lw_hsperf_heap(&track, v, &h);
    /* jstat: its last collection was the 5th full one (exit 2810265440 after the young one's
     * 2809208702); it left 61631480 bytes in the old generation and none in the survivors.
     * HotSpot's sampler ran since (sun.os.hrt.ticks 3004035327), so eden's 18567024 bytes
     * include what came since; the old generation (102719488 bytes committed) has room for
     * all of them, so the collection left none there */
    assert_true(h.have & LW_HEAP_AFTER_MAJOR);
    assert_int_equal(h.after_major_bytes, 61631480);
    assert_int_equal(h.after_gc_bytes, 61631480);
    assert_int_equal(h.major_gcs, 5);
    assert_int_equal(h.minor_gcs, 23);
    /* -XX:MaxHeapSize=445644k: 436 MiB once HotSpot aligned the generations, less the
     * survivor space that is always empty (eden 121962496 and two of 15204352 make the young
     * generation) */
    assert_int_equal(h.limit_bytes, 152371200 + 304807936 - 15204352);
    assert_int_equal(h.resident_bytes, 51380224 + 102719488);
    /* the first reading of a process cannot tell when its last full collection was */
    struct lw_hsperf_track first = {0};
    lw_hsperf_heap(&first, v, &h);
    assert_false(h.have & (LW_HEAP_AFTER_MAJOR | LW_HEAP_AFTER_GC));
    /* read before the sampler ran again, eden's figure would be the collection's own */
    struct lw_hsperf_track early = {.have_prev = true, .prev_full = 4};
    v[LW_HSPERF_TICKS] = 2810265440 - 1;
    lw_hsperf_heap(&early, v, &h);
    assert_int_equal(h.after_major_bytes, 61631480 + 18567024);
}

/* One of a real file's readings (name under tests/fixtures/hsperf), through the track. */
static void real_reading(const char *name, struct lw_hsperf_track *track, int64_t v[],
                         struct lw_heap_mem *h)
{
    size_t n = read_fixture("hsperf", name, file_buf, sizeof(file_buf));
    struct lw_hsperf_layout l;
    const char *why = NULL;
    assert_int_equal(lw_hsperf_layout_parse(file_buf, n, &l, &why), LW_OK);
    assert_int_equal(lw_hsperf_read(&l, file_buf, n, v, &why), LW_OK);
    lw_hsperf_heap(track, v, h);
}

/*
 * A JVM with Lambda's flags for 512 MB, leaking 512 KiB among 1 MiB of garbage every 9 ms, its
 * file copied during its 8th full collection and again once that had ended (what jstat reads
 * of both is beside them).
 */
static void test_a_real_full_collection_under_way_then_ended(void **state)
{
    (void)state;
    struct lw_hsperf_track track = {.have_prev = true, .prev_full = 7};
    int64_t v[LW_HSPERF_COUNTERS];
    struct lw_heap_mem h;
    /* under way: counted (8), its exit time still the 7th's, the figures those before it (eden
     * 74119800 bytes, the survivor 9963992): nothing after a collection, where the count alone
     * made the figures before it the collection's */
    real_reading("openjdk17-serial-collecting.hsperfdata", &track, v, &h);
    assert_int_equal(v[LW_HSPERF_COLLECTING], 1);
    assert_int_equal(v[LW_HSPERF_FULL_GCS], 8);
    assert_false(h.have & (LW_HEAP_AFTER_GC | LW_HEAP_AFTER_MAJOR));
    assert_int_equal(track.prev_full, 7);
    /* ended, the sampler not run since (ticks 4959913273, exit 4971448512): the old generation
     * was full at the 220778496 bytes committed when it ran, 8913168 bytes stayed in eden, and
     * the old generation was enlarged to 304807936 after. Eden's figure is the collection's
     * own and counts; by the old generation's room now it would have been left out */
    real_reading("openjdk17-serial-collected.hsperfdata", &track, v, &h);
    assert_int_equal(v[LW_HSPERF_COLLECTING], 0);
    assert_true(h.have & LW_HEAP_AFTER_MAJOR);
    assert_int_equal(h.major_gcs, 8);
    assert_int_equal(h.after_major_bytes, 220669304 + 8913168);
    assert_int_equal(h.after_gc_bytes, 220669304 + 8913168);
}

static void test_g1_is_refused(void **state)
{
    (void)state;
    size_t n = read_fixture("hsperf", "openjdk17-g1.hsperfdata", file_buf, sizeof(file_buf));
    struct lw_hsperf_layout l;
    const char *why = NULL;
    assert_int_equal(lw_hsperf_layout_parse(file_buf, n, &l, &why), LW_ERR_INVALID);
    assert_non_null(strstr(why, "Serial or Parallel"));
    assert_int_equal(l.have, 0);
}

/* A file built here: the prologue, the collector's name, then the counters. */
struct built {
    unsigned char b[8192];
    size_t len;
    bool little;
};

static void put32(struct built *f, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        f->b[at + (size_t)i] = (unsigned char)(v >> (f->little ? 8 * i : 24 - 8 * i));
}

static void put64(struct built *f, size_t at, int64_t v)
{
    uint64_t u = (uint64_t)v;
    put32(f, f->little ? at : at + 4, (uint32_t)u);
    put32(f, f->little ? at + 4 : at, (uint32_t)(u >> 32));
}

static void add_entry(struct built *f, const char *name, char type, const void *data,
                      uint32_t data_len, uint32_t vector_len)
{
    size_t at = f->len;
    uint32_t name_len = (uint32_t)strlen(name) + 1;
    uint32_t data_at = (20 + name_len + 7) & ~7u;
    uint32_t entry_len = (data_at + data_len + 7) & ~7u;
    memset(f->b + at, 0, entry_len);
    put32(f, at, entry_len);
    put32(f, at + 4, 20);
    put32(f, at + 8, vector_len);
    f->b[at + 12] = (unsigned char)type;
    f->b[at + 14] = 1;
    f->b[at + 15] = 3;
    put32(f, at + 16, data_at);
    memcpy(f->b + at + 20, name, name_len);
    memcpy(f->b + at + data_at, data, data_len);
    f->len += entry_len;
}

static void build(struct built *f, bool little, const char *policy, const int64_t v[])
{
    memset(f, 0, sizeof(*f));
    f->little = little;
    static const unsigned char magic[4] = {0xca, 0xfe, 0xc0, 0xc0};
    memcpy(f->b, magic, 4);
    f->b[4] = little ? 1 : 0;
    f->b[5] = 2;
    f->b[7] = 1;
    f->len = 32;
    uint32_t n = 0;
    add_entry(f, "sun.gc.policy.name", 'B', policy, (uint32_t)strlen(policy) + 1,
              (uint32_t)strlen(policy) + 1);
    n++;
    for (int c = 0; c < LW_HSPERF_COUNTERS; c++, n++) {
        if (c == LW_HSPERF_COLLECTING) {
            /* HotSpot's string counters: a fixed length, the text NUL-padded */
            char cause[64] = {0};
            strcpy(cause, v[c] ? "Allocation Failure" : "No GC");
            add_entry(f, counter_names[c], 'B', cause, sizeof(cause), sizeof(cause));
            continue;
        }
        unsigned char data[8];
        struct built tmp = {.little = little};
        put64(&tmp, 0, v[c]);
        memcpy(data, tmp.b, 8);
        add_entry(f, counter_names[c], 'J', data, 8, 0);
    }
    put32(f, 8, (uint32_t)f->len); /* used */
    put32(f, 24, 32);              /* entry offset */
    put32(f, 28, n);
}

static const int64_t sample[LW_HSPERF_COUNTERS] = {
    [LW_HSPERF_YOUNG_GCS] = 40,         [LW_HSPERF_YOUNG_EXIT] = 9000,
    [LW_HSPERF_FULL_GCS] = 3,           [LW_HSPERF_FULL_EXIT] = 9500,
    [LW_HSPERF_S0_USED] = 1000,         [LW_HSPERF_S1_USED] = 0,
    [LW_HSPERF_OLD_USED] = 70000000,    [LW_HSPERF_YOUNG_CAPACITY] = 50000000,
    [LW_HSPERF_OLD_CAPACITY] = 9000000, [LW_HSPERF_YOUNG_MAX] = 150000000,
    [LW_HSPERF_OLD_MAX] = 300000000,    [LW_HSPERF_OLD_SPACES] = 1,
    [LW_HSPERF_EDEN_USED] = 5000000,    [LW_HSPERF_TICKS] = 9600,
};

static struct built file_a, file_b;

static void test_both_byte_orders(void **state)
{
    (void)state;
    for (int little = 0; little < 2; little++) {
        build(&file_a, little != 0, "Copy:MSC", sample);
        struct lw_hsperf_layout l;
        const char *why = NULL;
        assert_int_equal(lw_hsperf_layout_parse(file_a.b, file_a.len, &l, &why), LW_OK);
        assert_int_equal(l.little_endian, little != 0);
        int64_t got[LW_HSPERF_COUNTERS];
        assert_int_equal(lw_hsperf_read(&l, file_a.b, file_a.len, got, &why), LW_OK);
        assert_memory_equal(got, sample, sizeof(got));
    }
    /* a read of a file in the other order than its layout was found in is refused */
    build(&file_a, true, "Copy:MSC", sample);
    build(&file_b, false, "Copy:MSC", sample);
    struct lw_hsperf_layout l;
    const char *why = NULL;
    int64_t got[LW_HSPERF_COUNTERS];
    assert_int_equal(lw_hsperf_layout_parse(file_a.b, file_a.len, &l, &why), LW_OK);
    assert_int_equal(lw_hsperf_read(&l, file_b.b, file_b.len, got, &why), LW_ERR_INVALID);
}

static void test_collectors_by_name(void **state)
{
    (void)state;
    static const struct {
        const char *policy;
        enum lw_err want;
    } cases[] = {{"Copy:MSC", LW_OK},
                 {"ParScav:MSC", LW_OK},
                 {"GarbageFirst", LW_ERR_INVALID},
                 {"Copy:MS", LW_ERR_INVALID},
                 {"", LW_ERR_INVALID}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        build(&file_a, true, cases[i].policy, sample);
        struct lw_hsperf_layout l;
        const char *why = NULL;
        assert_int_equal(lw_hsperf_layout_parse(file_a.b, file_a.len, &l, &why), cases[i].want);
    }
    /* an old generation of two spaces is not the shape the figures assume */
    int64_t two[LW_HSPERF_COUNTERS];
    memcpy(two, sample, sizeof(two));
    two[LW_HSPERF_OLD_SPACES] = 2;
    build(&file_a, true, "Copy:MSC", two);
    struct lw_hsperf_layout l;
    const char *why = NULL;
    assert_int_equal(lw_hsperf_layout_parse(file_a.b, file_a.len, &l, &why), LW_ERR_INVALID);
}

static void test_broken_files(void **state)
{
    (void)state;
    struct lw_hsperf_layout l;
    const char *why = NULL;
    size_t n = read_fixture("hsperf", "openjdk17-serial.hsperfdata", file_buf, sizeof(file_buf));
    assert_int_equal(lw_hsperf_layout_parse(file_buf, n, &l, &why), LW_OK);
    struct lw_hsperf_layout good = l;
    /* every truncation: the counters are found only when all of them are there */
    for (size_t len = 0; len < good.end; len++)
        assert_int_equal(lw_hsperf_layout_parse(file_buf, len, &l, &why), LW_ERR_INVALID);
    int64_t v[LW_HSPERF_COUNTERS];
    assert_int_equal(lw_hsperf_read(&good, file_buf, good.end - 1, v, &why), LW_ERR_INVALID);
    assert_string_equal(why, "shorter than its counters");
    /* the prologue's promises, one at a time */
    static const struct {
        size_t at;
        unsigned char byte;
        const char *why;
    } breaks[] = {{0, 0xcb, "not a performance-data file"},
                  {4, 2, "unknown byte order"},
                  {5, 1, "unknown version (not 2)"},
                  {7, 0, "not filled in yet"}};
    for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
        unsigned char keep = file_buf[breaks[i].at];
        file_buf[breaks[i].at] = breaks[i].byte;
        assert_int_equal(lw_hsperf_layout_parse(file_buf, n, &l, &why), LW_ERR_INVALID);
        assert_string_equal(why, breaks[i].why);
        assert_int_equal(lw_hsperf_read(&good, file_buf, n, v, &why), LW_ERR_INVALID);
        file_buf[breaks[i].at] = keep;
    }
    /* an entry of length 0 ends the chain there: the counters after it are not found */
    build(&file_a, true, "Copy:MSC", sample);
    put32(&file_a, 32, 0);
    assert_int_equal(lw_hsperf_layout_parse(file_a.b, file_a.len, &l, &why), LW_ERR_INVALID);
    /* an entry claiming more than the file: likewise */
    build(&file_a, true, "Copy:MSC", sample);
    put32(&file_a, 32, 0x7fffffff);
    assert_int_equal(lw_hsperf_layout_parse(file_a.b, file_a.len, &l, &why), LW_ERR_INVALID);
    /* a name without its NUL, a data offset beyond the entry: that entry is not a counter */
    build(&file_a, true, "Copy:MSC", sample);
    struct lw_hsperf_layout lb;
    assert_int_equal(lw_hsperf_layout_parse(file_a.b, file_a.len, &lb, &why), LW_OK);
    size_t data_at = (20 + strlen(counter_names[LW_HSPERF_YOUNG_GCS]) + 1 + 7) & ~(size_t)7;
    size_t first = lb.offset[LW_HSPERF_YOUNG_GCS] - data_at; /* that entry's start */
    put32(&file_a, first + 16, 4096);
    assert_int_equal(lw_hsperf_layout_parse(file_a.b, file_a.len, &l, &why), LW_ERR_INVALID);
    assert_string_equal(why, "a counter of the heap missing");
    /* a figure no heap has: refused, and nothing of the read is kept */
    build(&file_a, true, "Copy:MSC", sample);
    assert_int_equal(lw_hsperf_layout_parse(file_a.b, file_a.len, &l, &why), LW_OK);
    put64(&file_a, l.offset[LW_HSPERF_OLD_USED], -1);
    assert_int_equal(lw_hsperf_read(&l, file_a.b, file_a.len, v, &why), LW_ERR_INVALID);
    assert_string_equal(why, "a counter out of range");
    assert_int_equal(v[LW_HSPERF_YOUNG_GCS], 0);
}

/* A reading of a small heap (30 bytes of old generation committed, one byte in a survivor);
 * ticks: when HotSpot's sampler last ran, on the clock of the exit times. */
static void reading(int64_t v[LW_HSPERF_COUNTERS], int64_t young, int64_t young_exit, int64_t full,
                    int64_t full_exit, int64_t old_used, int64_t eden, int64_t ticks)
{
    memcpy(v, sample, sizeof(int64_t) * LW_HSPERF_COUNTERS);
    v[LW_HSPERF_OLD_CAPACITY] = 30;
    v[LW_HSPERF_YOUNG_GCS] = young;
    v[LW_HSPERF_YOUNG_EXIT] = young_exit;
    v[LW_HSPERF_FULL_GCS] = full;
    v[LW_HSPERF_FULL_EXIT] = full_exit;
    v[LW_HSPERF_OLD_USED] = old_used;
    v[LW_HSPERF_S0_USED] = 1;
    v[LW_HSPERF_S1_USED] = 0;
    v[LW_HSPERF_EDEN_USED] = eden;
    v[LW_HSPERF_TICKS] = ticks;
}

static void test_heap_after_full_collections_only_when_seen(void **state)
{
    (void)state;
    struct lw_hsperf_track t = {0};
    struct lw_heap_mem h;
    int64_t v[LW_HSPERF_COUNTERS];
    /* no collection yet: only the capacities */
    reading(v, 0, 0, 0, 0, 0, 100, 250);
    lw_hsperf_heap(&t, v, &h);
    assert_int_equal(h.have, LW_HEAP_RESIDENT | LW_HEAP_LIMIT);
    /* young collections only: after_gc is the old generation and the survivors */
    reading(v, 3, 300, 0, 0, 10, 100, 350);
    lw_hsperf_heap(&t, v, &h);
    assert_int_equal(h.have, LW_HEAP_AFTER_GC | LW_HEAP_RESIDENT | LW_HEAP_LIMIT);
    assert_int_equal(h.after_gc_bytes, 11);
    /* a full collection since, the last one, the sampler run after it: eden's 7 bytes would
     * have fitted in the old generation's 30, so the collection left none there */
    reading(v, 3, 300, 1, 400, 20, 7, 450);
    lw_hsperf_heap(&t, v, &h);
    assert_true(h.have & LW_HEAP_AFTER_MAJOR);
    assert_int_equal(h.after_major_bytes, 21);
    assert_int_equal(h.after_gc_bytes, 21);
    assert_int_equal(h.major_gcs, 1);
    /* read again, nothing collected, eden filling: the figures stay those of the collection */
    reading(v, 3, 300, 1, 400, 20, 5000, 550);
    lw_hsperf_heap(&t, v, &h);
    assert_int_equal(h.after_major_bytes, 21);
    assert_int_equal(h.after_gc_bytes, 21);
    assert_int_equal(h.major_gcs, 1);
    /* a young one since promoted more: after_gc follows, the full one's figure stays */
    reading(v, 4, 500, 1, 400, 25, 100, 550);
    lw_hsperf_heap(&t, v, &h);
    assert_int_equal(h.after_gc_bytes, 26);
    assert_int_equal(h.after_major_bytes, 21);
    assert_int_equal(h.major_gcs, 1);
    /* a second full one, then a young one, both between two readings: the second full one's
     * figure is missed, not guessed from what the young one left */
    reading(v, 5, 700, 2, 600, 30, 100, 750);
    lw_hsperf_heap(&t, v, &h);
    assert_int_equal(h.after_major_bytes, 21);
    assert_int_equal(h.major_gcs, 1);
    assert_int_equal(h.after_gc_bytes, 31);
    struct lw_hsperf_track before_third = t;
    /* the third, with the old generation full: eden's 3 bytes count, the sampler run since or
     * not (what the collection could not move there, or that and what came since) */
    reading(v, 5, 700, 3, 800, 28, 3, 850);
    lw_hsperf_heap(&t, v, &h);
    assert_int_equal(h.after_major_bytes, 32);
    assert_int_equal(h.after_gc_bytes, 32);
    assert_int_equal(h.major_gcs, 3);
    /* the same collection, the old generation grown to 60 bytes after it: eden's 3 bytes would
     * fit now, not in the 30 committed when it ran. Before the sampler runs, eden's figure is
     * the collection's own and counts; after, it is taken as what came since (low by 3) */
    for (int sampled = 0; sampled < 2; sampled++) {
        struct lw_hsperf_track grown = before_third;
        reading(v, 5, 700, 3, 800, 28, 3, sampled ? 850 : 790);
        v[LW_HSPERF_OLD_CAPACITY] = 60;
        lw_hsperf_heap(&grown, v, &h);
        assert_int_equal(h.after_major_bytes, sampled ? 29 : 32);
        assert_int_equal(h.major_gcs, 3);
    }
    /* eden's figure as the collection left it counts even where the old generation had room
     * (Parallel moves a space's survivors whole or not at all) */
    struct lw_hsperf_track own = before_third;
    reading(v, 5, 700, 3, 800, 20, 7, 790);
    lw_hsperf_heap(&own, v, &h);
    assert_int_equal(h.after_major_bytes, 28);
    /* a fourth full collection under way when read (its count moved on, its exit time and the
     * figures not: eden full of garbage): nothing after a collection, the last figure stays,
     * and the next settled reading takes the collection as new */
    reading(v, 5, 700, 4, 800, 29, 5000, 950);
    v[LW_HSPERF_COLLECTING] = 1;
    lw_hsperf_heap(&t, v, &h);
    assert_false(h.have & LW_HEAP_AFTER_GC);
    assert_int_equal(h.after_major_bytes, 32);
    assert_int_equal(h.major_gcs, 3);
    /* its exit time written, the figures still those before it: still under way */
    reading(v, 5, 700, 4, 900, 29, 5000, 950);
    v[LW_HSPERF_COLLECTING] = 1;
    lw_hsperf_heap(&t, v, &h);
    assert_int_equal(h.major_gcs, 3);
    /* settled: eden's byte would have fitted in the old generation, so it came since */
    reading(v, 5, 700, 4, 900, 28, 1, 990);
    lw_hsperf_heap(&t, v, &h);
    assert_int_equal(h.major_gcs, 4);
    assert_int_equal(h.after_major_bytes, 29);
    assert_int_equal(h.after_gc_bytes, 29);
    /* a track that missed the reading before the full collection (a fresh one) says nothing of
     * it: eden may hold anything allocated since */
    struct lw_hsperf_track fresh = {0};
    lw_hsperf_heap(&fresh, v, &h);
    assert_false(h.have & (LW_HEAP_AFTER_MAJOR | LW_HEAP_AFTER_GC));
    lw_hsperf_heap(&fresh, v, &h);
    assert_false(h.have & (LW_HEAP_AFTER_MAJOR | LW_HEAP_AFTER_GC));
}

static void test_maps_line(void **state)
{
    (void)state;
    char line[256];
    size_t n = read_fixture("hsperf", "maps-line.txt", (unsigned char *)line, sizeof(line) - 1);
    while (n > 0 && line[n - 1] == '\n')
        n--;
    line[n] = '\0';
    char path[128];
    uint64_t ino = 0;
    assert_true(lw_hsperf_maps_line(line, n, 25090, path, sizeof(path), &ino));
    assert_string_equal(path, "/tmp/hsperfdata_sbx_user1051/25090");
    assert_int_equal(ino, 10960901);
    /* another pid, a longer or shorter one with the same digits first */
    assert_false(lw_hsperf_maps_line(line, n, 2509, path, sizeof(path), &ino));
    assert_false(lw_hsperf_maps_line(line, n, 250901, path, sizeof(path), &ino));
    assert_false(lw_hsperf_maps_line(line, n, 25091, path, sizeof(path), &ino));
    /* a name that does not fit the caller's buffer */
    assert_false(lw_hsperf_maps_line(line, n, 25090, path, 34, &ino));
    assert_true(lw_hsperf_maps_line(line, n, 25090, path, 35, &ino));
    static const char *const others[] = {
        /* deleted since it was mapped */
        ("7f867c20f000-7f867c217000 rw-s 00000000 fe:00 10960901 /tmp/hsperfdata_u/25090 "
         "(deleted)"),
        /* a private mapping is not the JVM's shared file */
        "7f867c20f000-7f867c217000 rw-p 00000000 fe:00 10960901 /tmp/hsperfdata_u/25090",
        /* another folder, no user, a folder deeper */
        "7f867c20f000-7f867c217000 rw-s 00000000 fe:00 10960901 /var/hsperfdata_u/25090",
        "7f867c20f000-7f867c217000 rw-s 00000000 fe:00 10960901 /tmp/hsperfdata_/25090",
        "7f867c20f000-7f867c217000 rw-s 00000000 fe:00 10960901 /tmp/hsperfdata_u/x/25090",
        /* an inode that is no number, an anonymous mapping, a short line */
        "7f867c20f000-7f867c217000 rw-s 00000000 fe:00 1096x901 /tmp/hsperfdata_u/25090",
        "7f867c20f000-7f867c217000 rw-s 00000000 00:00 0",
        "7f867c20f000-7f867c217000",
        "",
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_false(
            lw_hsperf_maps_line(others[i], strlen(others[i]), 25090, path, sizeof(path), &ino));
    /* a control byte (a NUL) in the name */
    static const char nul_in_name[] =
        "7f867c20f000-7f867c217000 rw-s 00000000 fe:00 10960901 /tmp/hsperfdata_u\0x/25090";
    assert_false(
        lw_hsperf_maps_line(nul_in_name, sizeof(nul_in_name) - 1, 25090, path, sizeof(path), &ino));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_files_read_as_jstat_reads_them),
        cmocka_unit_test(test_the_heap_of_a_real_serial_file),
        cmocka_unit_test(test_a_real_full_collection_under_way_then_ended),
        cmocka_unit_test(test_g1_is_refused),
        cmocka_unit_test(test_both_byte_orders),
        cmocka_unit_test(test_collectors_by_name),
        cmocka_unit_test(test_broken_files),
        cmocka_unit_test(test_heap_after_full_collections_only_when_seen),
        cmocka_unit_test(test_maps_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
