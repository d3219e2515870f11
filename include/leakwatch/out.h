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
};

/* Prepares a writer for fd (normally STDOUT_FILENO). Never fails: falls back to fd itself. */
void lw_out_init(struct lw_out *out, int fd, uint32_t budget_ms);
void lw_out_clean_up(struct lw_out *out);

/* Writes the whole line or nothing visible to a reader mid-line when possible; returns
 * LW_ERR_TIMEOUT when the budget ran out (the rest of the line is lost), LW_ERR_IO on error. */
enum lw_err lw_out_write(struct lw_out *out, const char *line, size_t len);

#endif
