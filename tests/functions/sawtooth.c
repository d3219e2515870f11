/*
 * sawtooth: a garbage-collected heap. Each invocation maps and touches one step of `bytes`; when
 * `every` steps are held, all of them are unmapped (the "collection"), so the retained memory after
 * successive invocations is 1, 2, ..., every-1, 0, 1, ... steps: cycles with no net growth.
 * Knobs: "bytes" (default SAWTOOTH_STEP_BYTES, else 1 MiB), "every" (default SAWTOOTH_PERIOD,
 * else 10).
 */
#include "runtime_client.h"

#define MAX_STEPS 4096

struct step {
    void *p;
    size_t bytes;
};

static uint64_t default_bytes;
static uint64_t default_every;
static struct step steps[MAX_STEPS];
static size_t step_count;
static uint64_t retained_bytes;

static int setup(char *msg, size_t msg_cap)
{
    if (rc_env_u64("SAWTOOTH_STEP_BYTES", 1048576, RC_MAX_BYTES, &default_bytes, msg, msg_cap) != 0)
        return -1;
    if (rc_env_u64("SAWTOOTH_PERIOD", 10, MAX_STEPS, &default_every, msg, msg_cap) != 0)
        return -1;
    if (default_every == 0) {
        snprintf(msg, msg_cap, "SAWTOOTH_PERIOD must be at least 1");
        return -1;
    }
    return 0;
}

static void handle(const struct rc_event *ev, struct rc_result *res)
{
    uint64_t bytes, every;
    if (rc_knob(ev, "bytes", default_bytes, RC_MAX_BYTES, &bytes, res) != 0 ||
        rc_knob(ev, "every", default_every, MAX_STEPS, &every, res) != 0)
        return;
    if (every == 0) {
        rc_fail(res, "InvalidEvent", "\"every\" must be at least 1");
        return;
    }
    void *p = NULL;
    if (bytes > 0 && (p = rc_map_touched((size_t)bytes)) == NULL) {
        rc_fail(res, "Function.OutOfMemory", "mmap of %llu bytes failed",
                (unsigned long long)bytes);
        return;
    }
    /* every <= MAX_STEPS and the heap is collected as soon as it holds `every` steps, so a free
     * slot always exists here. */
    steps[step_count].p = p;
    steps[step_count].bytes = (size_t)bytes;
    step_count++;
    retained_bytes += bytes;
    res->allocated_bytes = bytes;
    if (step_count >= every) {
        for (size_t i = 0; i < step_count; i++)
            if (steps[i].p != NULL)
                munmap(steps[i].p, steps[i].bytes);
        res->freed_bytes = retained_bytes;
        retained_bytes = 0;
        step_count = 0;
    }
    res->retained_bytes = retained_bytes;
}

int main(int argc, char **argv)
{
    return rc_run(argc, argv, "sawtooth", setup, handle);
}
