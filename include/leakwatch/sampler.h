/*
 * The fallback peak sampler, used only where the kernel refuses clear_refs (or when configured).
 * A thread reads the VmRSS of each function process every interval and keeps the maximum.
 * It is frozen with the rest of the environment between invocations, which is what we want:
 * nothing happens then. A sampled peak is a lower bound of the true peak (a spike shorter than
 * the interval can be missed); records say which method produced their peak.
 */
#ifndef LEAKWATCH_SAMPLER_H
#define LEAKWATCH_SAMPLER_H

#include <stdint.h>

#include <leakwatch/record.h>

struct lw_processes;
struct lw_sampler;

/* Starts the thread; NULL when it cannot be started (the peak is then the end reading). ps is
 * borrowed: lw_sampler_track reads it, from the thread that takes the snapshots. */
struct lw_sampler *lw_sampler_start(const struct lw_processes *ps, uint32_t interval_ms);

/* At an INVOKE: watch the function processes of this start snapshot from now on, each through
 * a copy of the status descriptor the snapshot read it with (lw_processes_dup_status). */
void lw_sampler_track(struct lw_sampler *s, const struct lw_snapshot *start);

/*
 * At the next boundary: the sampled peak of each process of end (indexed like end->procs; 0 for
 * processes that were not watched), each at least its end reading. The array stays valid until
 * the next call.
 */
const uint64_t *lw_sampler_swap(struct lw_sampler *s, const struct lw_snapshot *end);

/* Number of samples taken so far (for the benchmark of the interval's cost). */
uint64_t lw_sampler_samples(const struct lw_sampler *s);

/* Stops and frees the sampler. The thread leaves its wait at once (it never sleeps a whole
 * interval first), so a stop costs the SHUTDOWN budget no more than one sample. */
void lw_sampler_stop(struct lw_sampler *s);

#endif
