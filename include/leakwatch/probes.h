/*
 * Reading the runtime probes at each boundary (I/O: the files under $TMPDIR/leakwatch-probes).
 * docs/runtime-insight.md describes the whole: the exec wrapper, what each runtime reports, what
 * leakwatch does with it.
 *
 * For each process of the function, when the runtime's environment says which probe the exec
 * wrapper set up (lw_runtime_hint.probe):
 *   - Node.js, Python: <pid>.probe, written by the probe in the process (probe_file.h), read
 *     with one pread. It must name the process it is read for (pid and start time): pids are
 *     reused and /tmp outlives an environment's reset. A read that catches a write half done
 *     (its checksum fails) is read once more.
 *   - JVM: jvm-<pid>.log, the JVM's own GC log (gclog.h); what was added since the last
 *     boundary is read and parsed. At most LW_PROBES_JVM_READ_MAX bytes per boundary: beyond
 *     that, the oldest part is jumped over (counted). The JVM starts a new file at 4 MB (the
 *     old one renamed away): a file that stopped growing is checked for a new one of its name.
 *   - JVM without the wrapper (LW_PROBE_JVM_PERFDATA: the snapshot asks for it when the
 *     runtime is a JVM and the wrapper set up no log): its performance-data file (hsperf.h),
 *     found through the process's mapping of it in /proc/PID/maps, read once to find the
 *     counters, then one pread of the bytes up to the last of them per boundary.
 * Files are opened once, through the folder, never through a symbolic link, and must be regular
 * files; they stay open while their process lives. Every report that cannot be used is counted
 * in ProbeReportsRejected and said once per process; a probe that was set up but never wrote
 * anything is said once. A probe file that cannot be used at a boundary leaves that process's
 * heap figures missing there (probe NONE), never guessed from an earlier report; the JVM's
 * figures are those of its last collection, which the log says until the next one.
 *
 * Its memory is allocated once (lw_probes_new): the table of processes and one read buffer.
 */
#ifndef LEAKWATCH_PROBES_H
#define LEAKWATCH_PROBES_H

#include <stdbool.h>
#include <stdint.h>

#include <leakwatch/health.h>
#include <leakwatch/record.h>

/* The folder's name under $TMPDIR: the exec wrapper makes it (layer/probe/wrapper). */
#define LW_PROBES_DIR_NAME "leakwatch-probes"
/* Processes whose probes are followed at once; more are not read (said once). */
#define LW_PROBES_MAX 16
#define LW_PROBES_JVM_READ_MAX (512u * 1024u)

struct lw_probes;

/* dir: the probes' folder ($TMPDIR/leakwatch-probes); proc_root: "/proc" (tests point
 * elsewhere). NULL when out of memory. The health counters are borrowed. */
struct lw_probes *lw_probes_new(const char *dir, const char *proc_root, struct lw_health *health);
void lw_probes_free(struct lw_probes *p);

/*
 * One boundary: call lw_probes_read() for each process of the function just read (r: its
 * reading, whose probe and heap are filled in when a report is there), then lw_probes_end(),
 * which forgets the processes not read this time and gives the latest allocation sites and
 * tracemalloc's frames among the reports. expected: what the runtime's environment says; with
 * LW_PROBE_NONE or LW_PROBE_OFF nothing is read. runtime: r is the runtime itself (a missing
 * report is said for the runtime only: its children need not be the same program).
 */
void lw_probes_read(struct lw_probes *p, enum lw_probe_kind expected, bool runtime,
                    struct lw_proc_reading *r);
void lw_probes_end(struct lw_probes *p, struct lw_alloc_sites *sites, uint32_t *tracemalloc_frames);

/*
 * Allocation sites (Python with tracemalloc): lw_probes_end() asks the probe for a snapshot by
 * writing the next request number into <dir>/control when lw_probes_sites_due() says so of the
 * count of boundaries at which a probe said tracemalloc runs: the first request (the probe's
 * baseline) at the LW_PROBES_SITES_FIRST-th, then at every power of two. The probe answers with
 * the sites that grew most since the baseline, which the following records (and so the alert
 * line of a leak) carry. A snapshot costs the function time in proportion to its live
 * allocations: log2(n) of them in n invocations. Pure.
 */
#define LW_PROBES_SITES_FIRST 8
bool lw_probes_sites_due(uint64_t traced_boundaries);

#endif
