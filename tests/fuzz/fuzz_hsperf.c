/*
 * libFuzzer target for the JVM performance-data file (hsperf.h): the input is what a read of
 * the file gives, which the function can write, and, for the maps matcher, a line of
 * /proc/PID/maps. Besides the sanitizers, the target checks what the header promises and
 * aborts when a promise is broken:
 *   - a refused file leaves the layout all zero and says why;
 *   - an accepted one has every counter's 8 bytes inside what was read, and a read of the
 *     same bytes gives figures within LW_PROBE_BYTES_MAX, or none at all;
 *   - the heap's figures never exceed what the counters allow;
 *   - a maps line accepted names a path under /tmp/hsperfdata_ that ends with the pid, and
 *     fits the buffer.
 */
/* fuzz-seeds: tests/fuzz/corpus/hsperf */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/hsperf.h>
#include <leakwatch/probe_file.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lw_hsperf_layout l;
    const char *why = NULL;
    if (lw_hsperf_layout_parse(data, size, &l, &why) != LW_OK) {
        check(why != NULL);
        struct lw_hsperf_layout zero;
        memset(&zero, 0, sizeof(zero));
        check(memcmp(&l, &zero, sizeof(l)) == 0);
    } else {
        check(l.end <= size);
        for (int c = 0; c < LW_HSPERF_COUNTERS; c++)
            check(l.offset[c] >= 32 && (size_t)l.offset[c] + 8 <= l.end);
        int64_t v[LW_HSPERF_COUNTERS];
        if (lw_hsperf_read(&l, data, size, v, &why) == LW_OK) {
            for (int c = 0; c < LW_HSPERF_COUNTERS; c++)
                check(v[c] >= 0 && (uint64_t)v[c] <= LW_PROBE_BYTES_MAX);
            struct lw_hsperf_track t = {0};
            struct lw_heap_mem h;
            lw_hsperf_heap(&t, v, &h);
            check(h.after_gc_bytes <= 4 * LW_PROBE_BYTES_MAX &&
                  h.after_major_bytes <= 4 * LW_PROBE_BYTES_MAX);
            check(h.limit_bytes <= 2 * LW_PROBE_BYTES_MAX);
            check(!(h.have & LW_HEAP_AFTER_MAJOR) || h.major_gcs == (uint64_t)v[2]);
        } else {
            check(why != NULL);
        }
    }
    char path[64];
    uint64_t ino = 0;
    int32_t pid = size > 0 ? (int32_t)(data[0] % 64) + 1 : 1;
    if (lw_hsperf_maps_line((const char *)data, size, pid, path, sizeof(path), &ino)) {
        size_t n = strlen(path);
        check(n < sizeof(path));
        check(strncmp(path, LW_HSPERF_DIR_PREFIX, strlen(LW_HSPERF_DIR_PREFIX)) == 0);
        check(n >= 2 && path[n - 1] >= '0' && path[n - 1] <= '9');
    }
    return 0;
}
