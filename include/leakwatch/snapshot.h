/*
 * Boundary readings of the environment's processes (I/O: /proc). At each INVOKE and at SHUTDOWN
 * the main thread takes one snapshot: it finds the processes of the environment (the runtime
 * and its descendants, every other extension, leakwatch itself), reads each one's
 * /proc/PID/status and, at an INVOKE, writes "5" to the function's clear_refs so that VmHWM
 * read at the next boundary is that invocation's exact peak.
 *
 * One process, one directory. A process is first seen by its pid in a children list; from then
 * on it is known by its /proc/PID directory, opened once: its stat (start time and parent,
 * checked against what the list said), status, clear_refs, task folder and, for a child of
 * init, its cmdline and executable are all opened relative to that directory. A pid reused in
 * between can therefore never be read, tracked or have its high-water mark reset in the place of
 * the process first seen. The files stay open across boundaries; each boundary re-reads them.
 *
 * Who is who, by what the platform guarantees (docs/measuring.md says where it can still be
 * wrong). Lambda's init starts every file of the extensions folder as its own child and starts
 * the runtime, also its own child, only once every extension has registered. A child of init is
 * classified once, at its first sighting, and keeps that role across exec:
 *   - leakwatch is recognised by its pid;
 *   - an extension by the file it was started from: /proc/PID/exe, or any argument of its
 *     command line (an interpreter puts the script after its own options), naming a file of
 *     the extensions folder. It is named by that file;
 *   - a process started before leakwatch itself (start time, then pid) cannot be the runtime,
 *     which starts after leakwatch registered: it is an extension;
 *   - of the rest seen at the first boundary, the runtime is the one started last, when their
 *     number is what the extensions folder accounts for (the others are extensions that left
 *     their file by exec); otherwise leakwatch cannot tell, and they are "unknown";
 *   - an extension not named by its file is given the folder's one unclaimed file name when
 *     exactly one is left, else its process name;
 *   - a child of init first seen after the runtime was found started after it (reparented
 *     orphans): "unknown", unless it started before the runtime (then an extension).
 * Descendants take their role from their parent: the runtime's are "runtime-child", an
 * extension's are that extension's (named "extension/process"), an unknown's are unknown.
 */
#ifndef LEAKWATCH_SNAPSHOT_H
#define LEAKWATCH_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <leakwatch/health.h>
#include <leakwatch/record.h>

struct lw_processes_config {
    const char *proc_root; /* "/proc" (tests point elsewhere) */
    int32_t init_pid;      /* the parent of the runtime and the extensions */
    int32_t self_pid;
    /* the folder of /opt/extensions, "" when unknown (then the folder of /proc/self/exe). It
     * is listed once, here: the files Lambda starts as extensions */
    const char *extensions_dir;
    /* the runtime probes' folder ($TMPDIR/leakwatch-probes, probes.h); NULL or "": none read */
    const char *probes_dir;
    /* AWS_LAMBDA_EXEC_WRAPPER names leakwatch's wrapper: a runtime not started through it is
     * said once */
    bool exec_wrapper_expected;
    struct lw_health *health; /* borrowed: the probes count what they reject (may be NULL) */
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
 * read is simply left out: that is normal, not an error. Returns the reset outcome. Once every
 * process is read, the runtime probes' reports of the function's processes are read too
 * (probes.h), when the runtime was started through leakwatch's exec wrapper.
 */
enum lw_hwm_state lw_snapshot_take(struct lw_processes *ps, bool reset_hwm, uint64_t now_ms,
                                   uint64_t self_cpu_us, struct lw_snapshot *out);

/* True when the snapshot holds a runtime process (at SHUTDOWN it may already be gone). */
bool lw_snapshot_has_runtime(const struct lw_snapshot *s);

/*
 * A new descriptor of the /proc/PID/status of the known process (pid, start_ticks), for the
 * fallback sampler: it reads the process it was opened for, never a later owner of the pid (a
 * read fails once the process is gone). The caller owns and closes it; -1 when the process is
 * not known (or no descriptor is left). Call from the thread that takes the snapshots.
 */
int lw_processes_dup_status(const struct lw_processes *ps, int32_t pid, uint64_t start_ticks);

#endif
