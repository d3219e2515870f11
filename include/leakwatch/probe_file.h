/*
 * The file a runtime probe writes for its process (layer/probe/node.js, the Python
 * sitecustomize): $TMPDIR/leakwatch-probes/<pid>.probe, which leakwatch reads at each boundary
 * with one pread. docs/runtime-insight.md describes the protocol.
 *
 * The file has a fixed size (LW_PROBE_FILE_BYTES) and is rewritten in place; its text is lines
 * of "key value", NUL padding after the last one:
 *
 *   leakwatch-probe 1           magic and version: the first line
 *   runtime node                node | python
 *   pid 1234                    the process it belongs to, and its start time (field 22 of
 *   start 567890                /proc/PID/stat): pids are reused, and /tmp outlives a reset
 *   updates 42                  writes so far
 *   gc_major 7                  major collections (V8 mark-compact, Python generation 2)
 *   gc_minor 30                 Python: the others (the Node.js probe sees full ones only)
 *   heap_after_gc 20256112      Python: bytes in use after the last collection
 *   heap_after_major 20256112   bytes in use after the last major one
 *   heap_resident 36536320      the heap's own memory (V8's physical heap; Python: traced)
 *   heap_limit 584056832        V8's heap limit
 *   external 1664820            V8: memory outside the heap held by JavaScript objects
 *   array_buffers 14981         V8: ArrayBuffers and Buffers (part of external)
 *   blocks 208607               Python: sys.getallocatedblocks()
 *   old_committed 24117248      V8: the old generation's committed size after the last full
 *                               collection (every space but the young ones)
 *   tracemalloc 1               Python: tracemalloc runs with this many frames
 *   sites 2                     Python: the request the sites below answer
 *   site 10106589 202 app.py:4  growth in bytes and in blocks, and where (the rest of the line)
 *   end 0badf00d                FNV-1a (32 bits) of every byte before this line: the last line
 *
 * leakwatch reads it while the runtime runs (the boundary reading overlaps the next invocation),
 * so a read can catch a write half done: the checksum tells. Unknown keys are ignored (a newer
 * probe may say more); a known key given twice, a number out of range, a line without its end,
 * or a missing pid, start or runtime makes the whole file invalid.
 *
 * Pure: bytes in, a report out, nothing allocated. Every byte is untrusted (the function can
 * write the file): every field is bounded and checked.
 */
#ifndef LEAKWATCH_PROBE_FILE_H
#define LEAKWATCH_PROBE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/record.h>

#define LW_PROBE_FILE_BYTES 4096
/* A byte count larger than this (8 PiB) is nonsense, not a heap. */
#define LW_PROBE_BYTES_MAX (1ull << 53)

struct lw_probe_report {
    enum lw_probe_kind kind; /* LW_PROBE_NODE or LW_PROBE_PYTHON */
    int32_t pid;
    uint64_t start_ticks;
    uint64_t updates;
    struct lw_heap_mem heap;
    uint32_t tracemalloc_frames; /* 0: tracemalloc off */
    struct lw_alloc_sites sites; /* request 0: none */
};

/*
 * Parses the file's bytes (buf, len: what one read gave, NUL padding included) into *out.
 * LW_OK, or LW_ERR_INVALID with *why (a static string for the log line: "no end line", "bad
 * checksum", ...). *out is all zero on failure. Of the site lines (at most 16 are looked at) the
 * LW_SITES_MAX with the largest growth in bytes are kept, largest first.
 */
enum lw_err lw_probe_file_parse(const char *buf, size_t len, struct lw_probe_report *out,
                                const char **why);

/* FNV-1a, 32 bits, of (buf, len): the file's checksum. */
uint32_t lw_probe_file_fnv1a(const char *buf, size_t len);

#endif
