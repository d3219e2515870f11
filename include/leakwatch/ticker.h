/*
 * A thread that calls a function at a fixed period: the readings on Lambda Managed Instances,
 * where no INVOKE marks a boundary and the environment is never frozen (on-demand Lambda
 * freezes everything between invocations, and a timer there would fire at unpredictable
 * moments: it is not used there). The first call comes one period after the start; a call that
 * overruns the period delays the next, never doubles it. lw_ticker_stop() returns as soon as the
 * call in progress, if any, has returned: the wait between calls is a timed wait on a condition
 * variable, not a sleep.
 */
#ifndef LEAKWATCH_TICKER_H
#define LEAKWATCH_TICKER_H

#include <stdint.h>

struct lw_ticker;

/* NULL (said) when the thread cannot start. name: the thread's name (at most 15 bytes). */
struct lw_ticker *lw_ticker_start(const char *name, uint32_t period_ms, void (*fn)(void *ctx),
                                  void *ctx);

/* Stops and joins the thread, then frees; NULL is allowed. */
void lw_ticker_stop(struct lw_ticker *t);

/* Calls made so far. */
uint64_t lw_ticker_calls(const struct lw_ticker *t);

#endif
