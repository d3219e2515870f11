/*
 * spike: maps and touches `bytes` inside the invocation, holds it for `hold_ms`, then unmaps it
 * before answering: a high peak with no growth. mmap/munmap (not malloc/free) so the memory
 * really returns to the kernel and the RSS at the end equals the RSS at the start.
 * Knobs: "bytes" (default SPIKE_BYTES, else 64 MiB), "hold_ms" (default SPIKE_HOLD_MS, else 0).
 */
#include "runtime_client.h"

static uint64_t default_bytes;
static uint64_t default_hold_ms;

static int setup(char *msg, size_t msg_cap)
{
    if (rc_env_u64("SPIKE_BYTES", 64 * 1048576, RC_MAX_BYTES, &default_bytes, msg, msg_cap) != 0)
        return -1;
    return rc_env_u64("SPIKE_HOLD_MS", 0, RC_MAX_SLEEP_MS, &default_hold_ms, msg, msg_cap);
}

static void handle(const struct rc_event *ev, struct rc_result *res)
{
    uint64_t bytes, hold_ms;
    if (rc_knob(ev, "bytes", default_bytes, RC_MAX_BYTES, &bytes, res) != 0 ||
        rc_knob(ev, "hold_ms", default_hold_ms, RC_MAX_SLEEP_MS, &hold_ms, res) != 0)
        return;
    if (bytes > 0) {
        void *p = rc_map_touched((size_t)bytes);
        if (p == NULL) {
            rc_fail(res, "Function.OutOfMemory", "mmap of %llu bytes failed",
                    (unsigned long long)bytes);
            return;
        }
        rc_sleep_ms(hold_ms);
        munmap(p, (size_t)bytes);
    }
    res->allocated_bytes = bytes;
    res->freed_bytes = bytes;
    res->retained_bytes = 0;
}

int main(int argc, char **argv)
{
    return rc_run(argc, argv, "spike", setup, handle);
}
