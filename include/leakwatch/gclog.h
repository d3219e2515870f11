/*
 * The JVM's unified GC log, as leakwatch's exec wrapper asks the JVM to write it
 * (-Xlog:gc,gc+heap,gc+init:file=$TMPDIR/leakwatch-probes/jvm-%p.log:uptime,tags): the heap
 * after each collection, young and full collections told apart, and the heap's ceiling from the
 * log's header. No agent runs in the JVM: it writes the file itself and leakwatch reads what was
 * added since the last boundary.
 *
 * The lines it understands (any decorations in brackets before the message; the tags decoration
 * names the kind of line):
 *   [gc,init] Heap Max Capacity: 436M                                          the ceiling
 *   [gc,heap] GC(9) DefNew: 1712K(2432K)->0K(4096K) Eden: ...                  per generation,
 *   [gc,heap] GC(9) Tenured: 5416K(5504K)->5392K(8988K)                        to the kilobyte
 *   [gc     ] GC(9) Pause Full (Allocation Failure) 5M->5M(12M) 3.723ms        one collection
 * A "Pause Young" or "Pause Full" line ends a collection: the heap after it is the sum of the
 * generations' "after" sizes when its gc,heap lines came first (Serial and Parallel, to the KB),
 * else the line's own "after" size (G1, to the MB); its capacity likewise. Any other line (other
 * tags, G1's region counts, ZGC's and Shenandoah's cycles) is skipped.
 *
 * Pure and incremental: lw_gclog_feed() takes whatever bytes were read, consumes the complete
 * lines and says how much it consumed, so the caller keeps the rest (a line the JVM is still
 * writing) for the next read. The outcome never depends on how the bytes were split. A line
 * longer than LW_GCLOG_LINE_MAX is consumed and skipped whole. Every byte is untrusted (the
 * function can write the file): numbers are bounded, nothing allocates.
 */
#ifndef LEAKWATCH_GCLOG_H
#define LEAKWATCH_GCLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/record.h>

#define LW_GCLOG_LINE_MAX 1024

struct lw_gclog {
    struct lw_heap_mem heap; /* after the last collection (have: which fields are known) */
    uint64_t lines;          /* complete lines consumed */
    uint64_t skipped;        /* of them, too long to look at */
    /* private: the collection whose gc,heap lines are being summed */
    bool cur_open;
    uint64_t cur_id;
    uint64_t cur_after_bytes;
    uint64_t cur_capacity_bytes;
    /* private: "Heap Max Capacity", and Serial's survivor space ("From:" on its DefNew line) */
    uint64_t max_capacity_bytes;
    uint64_t survivor_bytes;
    /* private: a line too long, being skipped until its end */
    bool skipping;
};

void lw_gclog_init(struct lw_gclog *g);

/*
 * Consumes the complete lines of buf[0..len) (and, in a line too long, whatever of it is
 * there) and returns how many bytes that was; the caller feeds the rest again with what
 * follows. Never fails: what it does not understand is skipped.
 */
size_t lw_gclog_feed(struct lw_gclog *g, const char *buf, size_t len);

/* The caller jumped over part of the log: what is fed next starts anywhere in a line, so it is
 * skipped up to the next line's start. */
void lw_gclog_resync(struct lw_gclog *g);

#endif
