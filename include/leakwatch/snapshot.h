/*
 * Boundary readings of the environment's processes (I/O: /proc). At each INVOKE and at SHUTDOWN
 * the main thread takes one snapshot: it finds the processes of the environment (the runtime
 * and its descendants, every other extension, leakwatch itself), reads each one's
 * /proc/PID/status and, at an INVOKE, writes "5" to the function's clear_refs so that VmHWM
 * read at the next boundary is that invocation's exact peak.
 *
 * Finding the processes: Lambda's init starts the runtime and every extension as its own
 * children, so they are the children of our parent. A child whose command names a file in the
 * extensions folder is an extension (named by that file); leakwatch is recognised by its pid;
 * any other child is the runtime, and its descendants are the function too.
 */
#ifndef LEAKWATCH_SNAPSHOT_H
#define LEAKWATCH_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <leakwatch/record.h>

struct lw_processes_config {
    const char *proc_root; /* "/proc" (tests point elsewhere) */
    int32_t init_pid;      /* the parent of the runtime and the extensions */
    int32_t self_pid;
    const char *extensions_dir; /* the folder of /opt/extensions, "" when unknown */
};

struct lw_processes;

struct lw_processes *lw_processes_new(const struct lw_processes_config *cfg);
void lw_processes_free(struct lw_processes *ps);

/* Outcome of the clear_refs writes of the last snapshot that asked for a reset. */
enum lw_hwm_state {
    LW_HWM_UNTRIED = 0,
    LW_HWM_OK,      /* every function process accepted the reset */
    LW_HWM_REFUSED, /* the kernel refused it (permissions, hardened /proc): use the sampler */
};

/*
 * Takes one snapshot into out. When reset_hwm, the high-water mark of every function process
 * (and leakwatch's own) is reset right after it was read. A process that vanishes while being
 * read is simply left out: that is normal, not an error. Returns the reset outcome.
 */
enum lw_hwm_state lw_snapshot_take(struct lw_processes *ps, bool reset_hwm, uint64_t now_ms,
                                   uint64_t self_cpu_us, struct lw_snapshot *out);

/* True when the snapshot holds a runtime process (at SHUTDOWN it may already be gone). */
bool lw_snapshot_has_runtime(const struct lw_snapshot *s);

/* Current VmRSS of one process in bytes, for the fallback sampler; false when it is gone. */
bool lw_processes_read_rss(const struct lw_processes *ps, int32_t pid, uint64_t *rss_bytes);

#endif
