/*
 * libFuzzer target for the JVM GC log parser (gclog.h): the input is log text, which the
 * function can write. Besides the sanitizers, the target checks what the header promises and
 * aborts when a promise is broken:
 *   - lw_gclog_feed() never consumes more than it was given;
 *   - the outcome does not depend on how the bytes were split (whole, or in two pieces at the
 *     middle, the unconsumed rest fed again);
 *   - every byte figure is within 8 PiB.
 */
/* fuzz-seeds: tests/fuzz/corpus/gclog */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/gclog.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void feed_all(struct lw_gclog *g, const char *buf, size_t size, size_t split)
{
    char *pending = malloc(size ? size : 1);
    if (pending == NULL)
        abort();
    size_t have = 0;
    size_t cuts[2] = {split, size};
    size_t pos = 0;
    for (int c = 0; c < 2; c++) {
        memcpy(pending + have, buf + pos, cuts[c] - pos);
        have += cuts[c] - pos;
        pos = cuts[c];
        size_t used = lw_gclog_feed(g, pending, have);
        check(used <= have);
        memmove(pending, pending + used, have - used);
        have -= used;
    }
    free(pending);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct lw_gclog whole, split;
    lw_gclog_init(&whole);
    lw_gclog_init(&split);
    feed_all(&whole, buf, size, size);
    feed_all(&split, buf, size, size / 2);
    check(memcmp(&whole.heap, &split.heap, sizeof(whole.heap)) == 0);
    const uint64_t limit = 1ull << 53;
    check(whole.heap.after_gc_bytes <= limit && whole.heap.after_major_bytes <= limit);
    check(whole.heap.resident_bytes <= limit * 2 && whole.heap.limit_bytes <= limit);
    return 0;
}
