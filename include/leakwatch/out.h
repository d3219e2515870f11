/*
 * The stdout writer for EMF and alert lines. Lambda reads the extension's stdout through a pipe;
 * if the platform is slow to drain it, a plain write() would block the extension. The writer
 * therefore gets a private non-blocking handle on the same pipe (reopening /proc/self/fd/1 makes
 * a new open file description, so the O_NONBLOCK flag is ours alone and never leaks to a process
 * that shares the original description), waits a bounded time for room, and drops and counts a
 * line it cannot write. Lines are written whole: callers serialise with their own lock.
 */
#ifndef LEAKWATCH_OUT_H
#define LEAKWATCH_OUT_H

#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>

struct lw_out {
    int fd;             /* where lines go */
    int owned;          /* 1 when fd was opened here and must be closed */
    uint32_t budget_ms; /* how long one line may wait for room */
    int congested;      /* 1 after a line ran out of budget, until a write goes through again */
    int owe_newline;    /* 1 when a line was cut and its end could not be written yet */
};

/* Prepares a writer for fd (normally STDOUT_FILENO). Never fails: falls back to fd itself. */
void lw_out_init(struct lw_out *out, int fd, uint32_t budget_ms);
void lw_out_clean_up(struct lw_out *out);

/* Writes the whole line or nothing visible to a reader mid-line when possible; returns
 * LW_ERR_TIMEOUT when the budget ran out (the rest of the line is lost, and the part written is
 * ended with a newline, at once or before the next line), LW_ERR_IO on error.
 * A stalled reader costs the budget once, not once per line: after a line has run out of
 * budget, the next ones are dropped at once while the pipe has no room at all, and the budget
 * applies again as soon as a write goes through. */
enum lw_err lw_out_write(struct lw_out *out, const char *line, size_t len);

/* The budget of the next lines, e.g. what is left before a deadline. */
void lw_out_set_budget(struct lw_out *out, uint32_t budget_ms);

#endif
