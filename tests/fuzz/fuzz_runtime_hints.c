/*
 * libFuzzer target for the runtime hints parser (runtime_hints.h). The input is a command line
 * and an environment as /proc gives them, NUL-separated, split at the first "\xff\xff" (all of
 * it is the command line when there is none). Besides the sanitizers, the target checks what
 * the header promises and aborts when a promise is broken:
 *   - the kind and the source are in range, the origin is printable ASCII and NUL-terminated;
 *   - an unknown source means no ceiling at all, a known one means exactly one of bytes or
 *     permille (a MaxRAM too small for a whole byte of heap aside);
 *   - a string cut off by a short read is never used: a prefix gives what its whole strings
 *     give.
 */
/* fuzz-seeds: tests/fuzz/corpus/runtime_hints */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/runtime_hints.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_hint(const struct lw_runtime_hint *h)
{
    check((unsigned)h->kind < LW_RUNTIME_KIND_COUNT);
    check((unsigned)h->source <= LW_HEAP_DEFAULT);
    size_t n = strnlen(h->origin, sizeof(h->origin));
    check(n < sizeof(h->origin));
    for (size_t i = 0; i < n; i++)
        check(h->origin[i] >= 0x20 && h->origin[i] <= 0x7e);
    if (h->source == LW_HEAP_UNKNOWN) {
        check(h->heap_max_bytes == 0 && h->heap_max_permille == 0);
        check(lw_runtime_hint_heap_bytes(h, 1ull << 30) == 0);
    } else {
        check(h->heap_max_bytes == 0 || h->heap_max_permille == 0);
        check(h->heap_max_permille <= 1050);
        check(h->kind != LW_RUNTIME_UNKNOWN && h->kind != LW_RUNTIME_PYTHON);
    }
}

static size_t whole_strings(const char *buf, size_t n)
{
    while (n > 0 && buf[n - 1] != '\0')
        n--;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t cmd_len = size, env_off = size;
    for (size_t i = 0; i + 1 < size; i++) {
        if (data[i] == 0xff && data[i + 1] == 0xff) {
            cmd_len = i;
            env_off = i + 2;
            break;
        }
    }
    /* copies of exactly their size: ASan sees a read past either */
    char *cmd = malloc(cmd_len ? cmd_len : 1);
    char *env = malloc(size - env_off ? size - env_off : 1);
    if (cmd == NULL || env == NULL) {
        free(cmd);
        free(env);
        return 0;
    }
    memcpy(cmd, in, cmd_len);
    size_t env_len = size - env_off;
    memcpy(env, in + env_off, env_len);

    struct lw_runtime_hint h, ref;
    lw_runtime_hints_parse(cmd, cmd_len, env, env_len, &h);
    check_hint(&h);
    lw_runtime_hints_parse(cmd, whole_strings(cmd, cmd_len), env, whole_strings(env, env_len),
                           &ref);
    check(h.kind == ref.kind && h.source == ref.source && h.heap_max_bytes == ref.heap_max_bytes &&
          h.heap_max_permille == ref.heap_max_permille && strcmp(h.origin, ref.origin) == 0);
    free(cmd);
    free(env);
    return 0;
}
