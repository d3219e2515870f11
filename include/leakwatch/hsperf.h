/*
 * The JVM's performance-data file: what HotSpot keeps for jstat in a shared file of its own,
 * /tmp/hsperfdata_<user>/<pid> (on by default: -XX:+UsePerfData). It needs no wrapper and no
 * agent: the JVM maps the file and updates its counters in place, and leakwatch reads them at
 * each boundary. docs/runtime-insight.md says what leakwatch takes from it and how exact it is.
 *
 * The file: a 32-byte prologue, then entries, each a header naming its counter and its data:
 *   prologue  magic CA FE C0 C0 (bytes in this order), byte order (0 big, 1 little endian),
 *             major version 2, minor version, accessible (1 once the JVM filled it in),
 *             used (bytes of the file in use), overflow, modification time stamp (8 bytes),
 *             entry offset, number of entries (4 bytes each)
 *   entry     entry length, name offset, vector length (0: a scalar), data type ('J': 64-bit),
 *             flags, units, variability (1 byte each), data offset (4 bytes); the offsets are
 *             from the entry's start, the name ends with a NUL
 * The counters leakwatch reads are 64-bit scalars (type 'J', vector length 0), found by name
 * once (lw_hsperf_layout_parse) and read at their offsets afterwards (lw_hsperf_read): the JVM
 * never moves an entry, it only appends new ones.
 *
 * Pure: bytes in, figures out, nothing allocated. Every byte is untrusted (the function can
 * write the file): offsets and lengths are bounded by the bytes given, numbers are checked.
 */
#ifndef LEAKWATCH_HSPERF_H
#define LEAKWATCH_HSPERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/record.h>

/* The counters leakwatch reads (the names are HotSpot's). Serial and Parallel: generation 0
 * is young (space 0 eden, 1 and 2 the survivors), generation 1 old; collector 0 collects the
 * young generation, collector 1 the whole heap. */
enum lw_hsperf_counter {
    LW_HSPERF_YOUNG_GCS,      /* sun.gc.collector.0.invocations */
    LW_HSPERF_YOUNG_EXIT,     /* sun.gc.collector.0.lastExitTime (ticks) */
    LW_HSPERF_FULL_GCS,       /* sun.gc.collector.1.invocations */
    LW_HSPERF_FULL_EXIT,      /* sun.gc.collector.1.lastExitTime (ticks) */
    LW_HSPERF_S0_USED,        /* sun.gc.generation.0.space.1.used */
    LW_HSPERF_S1_USED,        /* sun.gc.generation.0.space.2.used */
    LW_HSPERF_OLD_USED,       /* sun.gc.generation.1.space.0.used */
    LW_HSPERF_YOUNG_CAPACITY, /* sun.gc.generation.0.capacity: committed */
    LW_HSPERF_OLD_CAPACITY,   /* sun.gc.generation.1.capacity */
    LW_HSPERF_YOUNG_MAX,      /* sun.gc.generation.0.maxCapacity */
    LW_HSPERF_OLD_MAX,        /* sun.gc.generation.1.maxCapacity */
    LW_HSPERF_OLD_SPACES,     /* sun.gc.generation.1.spaces: 1 for Serial and Parallel */
    LW_HSPERF_EDEN_USED,      /* sun.gc.generation.0.space.0.used */
    LW_HSPERF_EDEN_MAX,       /* sun.gc.generation.0.space.0.maxCapacity */
    LW_HSPERF_S0_MAX,         /* sun.gc.generation.0.space.1.maxCapacity */
    LW_HSPERF_S1_MAX,         /* sun.gc.generation.0.space.2.maxCapacity */
    LW_HSPERF_TICKS,          /* sun.os.hrt.ticks: when the sampler last ran (ticks) */
    LW_HSPERF_COLLECTING,     /* sun.gc.cause, a string: 0 when it says "No GC", else 1 */
    LW_HSPERF_COUNTERS
};

/* The file's name in HotSpot's folder for a user: "/tmp/hsperfdata_<user>/<pid>". */
#define LW_HSPERF_DIR_PREFIX "/tmp/hsperfdata_"
/* A file larger than this is read no further (HotSpot's default is 32 KiB; the counters
 * leakwatch reads come early in it). */
#define LW_HSPERF_READ_MAX 65536u
/* Entries looked at when finding the counters: a real file has about 200. */
#define LW_HSPERF_ENTRIES_MAX 4096u

/*
 * One line of /proc/PID/maps (line, len: without its newline): true when it maps the JVM's
 * performance-data file of pid, a shared mapping of "/tmp/hsperfdata_<user>/<pid>"; then
 * path (cap bytes, NUL-terminated) is that file's name and *inode its inode. A name that does
 * not fit, a deleted file, or any other mapping: false. Finding the file through the mapping
 * proves it is the one the running JVM updates, not a stale one of an earlier process that had
 * the same pid (/tmp outlives an environment's reset).
 */
bool lw_hsperf_maps_line(const char *line, size_t len, int32_t pid, char *path, size_t cap,
                         uint64_t *inode);

/* Where each counter's 8 bytes are in the file. */
struct lw_hsperf_layout {
    bool little_endian;
    uint32_t have;                       /* bit (1 << counter): found */
    uint32_t offset[LW_HSPERF_COUNTERS]; /* from the file's start */
    uint32_t end;                        /* bytes to read to see every counter found */
};

/*
 * Finds the counters in the file's bytes (buf, len: what one read of its start gave). LW_OK
 * when the prologue is sound and at least the heap's figures (every counter above) are there;
 * else LW_ERR_INVALID with *why, a static string for the log line ("not a performance-data
 * file", "not filled in yet", ...), and *out all zero. Only the Serial and Parallel collectors
 * are read (sun.gc.policy.name "Copy:MSC" or "ParScav:MSC"; Lambda's Java runtimes run
 * Serial): G1 says each generation may take the whole heap and frees old objects in concurrent
 * cycles, not full collections; ZGC and Shenandoah keep no generations there.
 */
enum lw_err lw_hsperf_layout_parse(const unsigned char *buf, size_t len,
                                   struct lw_hsperf_layout *out, const char **why);

/* The counters' values in (buf, len), a later read of the same file: LW_OK, or LW_ERR_INVALID
 * (*why) when the bytes are too short, the magic is gone or a figure is out of range. */
enum lw_err lw_hsperf_read(const struct lw_hsperf_layout *layout, const unsigned char *buf,
                           size_t len, int64_t values[LW_HSPERF_COUNTERS], const char **why);

/*
 * What one process's readings mean for its heap (the state lw_hsperf_heap keeps between the
 * readings of one process, one per boundary).
 */
struct lw_hsperf_track {
    bool have_prev;     /* a reading before this one */
    uint64_t prev_full; /* its count of full collections */
    bool have_major;
    uint64_t major_gcs;   /* the full collection the figure below follows */
    uint64_t after_major; /* bytes */
};

/*
 * The heap figures of one reading (values from lw_hsperf_read), in the terms the GC log gives
 * (record.h: struct lw_heap_mem). HotSpot updates the generations' figures at the end of each
 * collection and eden's also every 50 ms (-XX:PerfDataSamplingInterval) as it fills. While a
 * collection is under way (sun.gc.cause names its cause) the counts have moved on and the
 * figures have not, or only some of them (the exit time is written before the spaces'
 * figures): such a reading gives no figure after a collection, and the next reading sees the
 * collection as new.
 *   after_gc      what the last collection left: after a young one, the old generation and
 *                 the survivors (eden is empty then); after a full one, eden too, and only
 *                 when it came since the previous reading (see after_major); else missing
 *   after_major   the same, for the last full collection, known only when it came since the
 *                 previous reading and no young one followed it: eden (where a full collection
 *                 leaves what the old generation cannot take) counts while its figure is still
 *                 the collection's own (sun.os.hrt.ticks before the collection's end), or when
 *                 the old generation as committed now could not have taken it; a full
 *                 collection a young one followed before the next reading is missed, never
 *                 guessed, and the figure stays that of the last one seen
 *   resident      both generations' committed capacity
 *   limit         both generations' maximum capacity: the heap's ceiling
 *   major_gcs     the count of the full collection after_major follows; minor_gcs the young ones
 */
void lw_hsperf_heap(struct lw_hsperf_track *track, const int64_t values[LW_HSPERF_COUNTERS],
                    struct lw_heap_mem *out);

#endif
