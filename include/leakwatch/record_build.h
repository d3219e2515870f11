/*
 * Assembly of a per-invocation record from two boundary snapshots. Pure: the caller takes the
 * snapshots (/proc) and passes them in; nothing here allocates or reads the clock.
 *
 * Lifecycle: lw_record_open() at the INVOKE boundary of invocation N with the snapshot taken
 * there; lw_record_close() at the next boundary (INVOKE N+1 or SHUTDOWN) with the snapshot taken
 * there. The environment is frozen between invocations, so the "end" snapshot, read when the
 * next event arrives, is exactly the memory invocation N left behind. When the runtime has
 * already exited at SHUTDOWN, lw_record_close_missing() closes the record without an end reading.
 *
 * Processes are matched between the two snapshots by (pid, start_ticks): pids are reused. When
 * the start snapshot dropped processes (LW_GAP_PROCS), one missing from it is taken as new.
 *
 * Between open and close, the record's per-process peak_bytes holds private bookkeeping (the
 * HWM baseline described in record_build.c); read it only after a close.
 */
#ifndef LEAKWATCH_RECORD_BUILD_H
#define LEAKWATCH_RECORD_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include <leakwatch/record.h>

/*
 * Starts record r from the INVOKE-boundary snapshot. request_id and env_id are copied and
 * truncated to their fields' sizes (NULL is taken as ""). memory_limit_bytes is 0 when unknown.
 * A snapshot with dropped processes sets LW_GAP_PROCS.
 */
void lw_record_open(struct lw_record *r, const struct lw_snapshot *start, const char *request_id,
                    const char *env_id, uint64_t seq, bool cold_start, uint64_t deadline_ms,
                    uint64_t memory_limit_bytes);

/*
 * Completes r with the next boundary's snapshot.
 *
 * method says how the caller prepared the peak: LW_PEAK_HWM when it wrote "5" to clear_refs at
 * the start boundary (per process: lw_proc_reading.hwm_reset), LW_PEAK_SAMPLED when it ran the
 * sampler; sampled_peaks (may be NULL) is then the sampler's highest RSS per end->procs index,
 * 0 where it has none.
 *
 * A process's peak is exact — its end VmHWM — whenever the HWM can only have been reached during
 * this invocation: the start reading reset it, or the process appeared after the start, or its
 * lifetime HWM rose during the invocation (a new high can only have been set now). Otherwise the
 * kernel's HWM is an older lifetime high: the sampled figure is used when there is one (clamped
 * between the larger of the start and end RSS and the HWM), else the HWM itself, an upper bound:
 * leakwatch would rather over-state a peak than hide how close memory came to the limit.
 * A process that exited during the invocation keeps its start RSS as its (lower-bound) peak.
 *
 * fn_peak_bytes is the sum of the function processes' peaks. With one process (the usual
 * runtime) it is that process's peak; with several it is an upper bound of the simultaneous
 * peak, since the processes need not peak at the same moment.
 *
 * Totals only from complete readings: a total (the function's, the extensions', the
 * environment's) is kept only when every process that belonged to it at the start was read at
 * the end. A process that exited during the invocation, or that the platform stopped before a
 * SHUTDOWN reading, leaves its totals out: the record gets LW_GAP_PARTIAL_END and the totals in
 * partial_totals; a partial function total also clears have_end and zeroes fn_end, fn_peak_bytes
 * and env_end (the environment contains the function). The per-process figures stay as read.
 *
 * The record's peak_method is method, except that LW_PEAK_HWM becomes LW_PEAK_SAMPLED when a
 * function process's peak had to come from a sampled figure.
 *
 * The runtime probes' figures (struct lw_runtime_mem): each process keeps its own from the end
 * snapshot; the record's are their sums over the function's processes, with the allocation
 * sites and tracemalloc's frames of the end snapshot, and are left out with the function's end
 * total.
 */
void lw_record_close(struct lw_record *r, const struct lw_snapshot *end, enum lw_peak_method method,
                     const uint64_t *sampled_peaks);

/*
 * Closes r without a function end reading (SHUTDOWN after the runtime exited): have_end false,
 * LW_GAP_END_READING, peak method none, end_time_ms as given. When end_or_null is given, what
 * it still holds is filled in: per-process end readings (extensions, leakwatch itself, any
 * surviving process), leakwatch's own RSS and CPU time. Function totals and the environment
 * total stay empty: without the runtime they would understate the environment. The extensions'
 * total follows the rule of lw_record_close (an extension process gone: LW_GAP_PARTIAL_END).
 */
void lw_record_close_missing(struct lw_record *r, const struct lw_snapshot *end_or_null,
                             uint64_t end_time_ms);

#endif
