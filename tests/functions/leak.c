/*
 * leak: retains `bytes` per invocation, allocated with malloc and touched so that it is resident
 * anonymous memory, and never freed: the steady growth a leak detector must flag.
 * Knob: "bytes" (default LEAK_BYTES, else 1 MiB). See README.md.
 */
#include "runtime_client.h"

static uint64_t default_bytes;
static uint64_t retained_bytes;

static int setup(char *msg, size_t msg_cap)
{
    return rc_env_u64("LEAK_BYTES", 1048576, RC_MAX_BYTES, &default_bytes, msg, msg_cap);
}

static void handle(const struct rc_event *ev, struct rc_result *res)
{
    uint64_t bytes;
    if (rc_knob(ev, "bytes", default_bytes, RC_MAX_BYTES, &bytes, res) != 0)
        return;
    if (bytes > 0) {
        void *p = malloc((size_t)bytes);
        if (p == NULL) {
            rc_fail(res, "Function.OutOfMemory", "malloc of %llu bytes failed",
                    (unsigned long long)bytes);
            return;
        }
        rc_touch(p, (size_t)bytes); /* the pointer escapes to rc_sink and is never freed */
        retained_bytes += bytes;
    }
    res->allocated_bytes = bytes;
    res->retained_bytes = retained_bytes;
}

int main(int argc, char **argv)
{
    return rc_run(argc, argv, "leak", setup, handle);
}
