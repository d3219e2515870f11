/*
 * libFuzzer target for the probe file's parser (probe_file.h): the input is what a read of a
 * probe file gives, which the function can write. Besides the sanitizers, the target checks
 * what the header promises and aborts when a promise is broken:
 *   - a refused file leaves the report all zero and says why;
 *   - an accepted one names a runtime and a process, every byte figure is within
 *     LW_PROBE_BYTES_MAX, the sites are at most LW_SITES_MAX, largest first, NUL-terminated,
 *     with no control byte, and only when they answer a request.
 */
/* fuzz-seeds: tests/fuzz/corpus/probe_file */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/probe_file.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly its size: ASan sees a read past it */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    struct lw_probe_report r;
    const char *why = NULL;
    enum lw_err e = lw_probe_file_parse(buf, size, &r, &why);
    if (e != LW_OK) {
        check(e == LW_ERR_INVALID && why != NULL);
        static const struct lw_probe_report zero;
        check(memcmp(&r, &zero, sizeof(r)) == 0);
    } else {
        check(r.kind == LW_PROBE_NODE || r.kind == LW_PROBE_PYTHON);
        check(r.pid > 0);
        const uint64_t *figures[] = {&r.heap.after_gc_bytes, &r.heap.after_major_bytes,
                                     &r.heap.resident_bytes, &r.heap.limit_bytes,
                                     &r.heap.external_bytes, &r.heap.array_buffers_bytes,
                                     &r.heap.blocks};
        for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
            check(*figures[i] <= LW_PROBE_BYTES_MAX);
        check(r.tracemalloc_frames <= 64);
        check(r.sites.n <= LW_SITES_MAX);
        check(r.sites.n == 0 || r.sites.request > 0);
        for (uint32_t i = 0; i < r.sites.n; i++) {
            const struct lw_alloc_site *s = &r.sites.site[i];
            size_t n = strnlen(s->where, sizeof(s->where));
            check(n > 0 && n < sizeof(s->where));
            for (size_t j = 0; j < n; j++)
                check((unsigned char)s->where[j] >= 0x20 && s->where[j] != 0x7f);
            check(i == 0 || r.sites.site[i - 1].growth_bytes >= s->growth_bytes);
        }
    }
    free(buf);
    return 0;
}
