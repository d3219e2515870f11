/*
 * plateau: a warming cache. The first `invocations` invocations each retain one step of `bytes`
 * (malloc, touched, never freed); later invocations allocate nothing, so the memory grows and then
 * stays flat: what a leak detector must call "warming", not "leak".
 * Knobs: "bytes" (default PLATEAU_STEP_BYTES, else 1 MiB), "invocations" (default
 * PLATEAU_INVOCATIONS, else 10).
 */
#include "runtime_client.h"

static uint64_t default_bytes;
static uint64_t default_invocations;
static uint64_t grown_steps;
static uint64_t retained_bytes;

static int setup(char *msg, size_t msg_cap)
{
    if (rc_env_u64("PLATEAU_STEP_BYTES", 1048576, RC_MAX_BYTES, &default_bytes, msg, msg_cap) != 0)
        return -1;
    return rc_env_u64("PLATEAU_INVOCATIONS", 10, UINT32_MAX, &default_invocations, msg, msg_cap);
}

static void handle(const struct rc_event *ev, struct rc_result *res)
{
    uint64_t bytes, invocations;
    if (rc_knob(ev, "bytes", default_bytes, RC_MAX_BYTES, &bytes, res) != 0 ||
        rc_knob(ev, "invocations", default_invocations, UINT32_MAX, &invocations, res) != 0)
        return;
    if (grown_steps < invocations) {
        if (bytes > 0) {
            void *p = malloc((size_t)bytes);
            if (p == NULL) {
                rc_fail(res, "Function.OutOfMemory", "malloc of %llu bytes failed",
                        (unsigned long long)bytes);
                return;
            }
            rc_touch(p, (size_t)bytes); /* kept for the life of the process, like a cache */
            retained_bytes += bytes;
        }
        grown_steps++;
        res->allocated_bytes = bytes;
    }
    res->retained_bytes = retained_bytes;
}

int main(int argc, char **argv)
{
    return rc_run(argc, argv, "plateau", setup, handle);
}
