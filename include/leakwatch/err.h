/*
 * One error model for the whole project: every fallible function returns an enum lw_err,
 * LW_OK (0) on success. A function that cannot fail returns void. Each failure is logged once,
 * where it is handled, not where it is detected.
 */
#ifndef LEAKWATCH_ERR_H
#define LEAKWATCH_ERR_H

enum lw_err {
    LW_OK = 0,
    LW_ERR_INVALID,     /* malformed input or argument */
    LW_ERR_TOO_LARGE,   /* input or output above its hard cap */
    LW_ERR_NEED_MORE,   /* incremental parser: complete so far, feed more bytes */
    LW_ERR_NOT_FOUND,   /* the thing asked for does not exist (vanished process, unknown id) */
    LW_ERR_FULL,        /* bounded queue or table full; the caller counts the drop */
    LW_ERR_NOMEM,       /* allocation failed */
    LW_ERR_IO,          /* a system call failed */
    LW_ERR_PERMISSION,  /* the kernel refused (EACCES/EPERM) */
    LW_ERR_HTTP,        /* transport failure or unexpected HTTP status */
    LW_ERR_TIMEOUT,     /* a deadline passed */
    LW_ERR_UNSUPPORTED, /* recognised but not supported */
    LW_ERR_COUNT
};

/* A static, human-readable name for an error code ("invalid input", ...). Never NULL. */
const char *lw_err_str(enum lw_err err);

#endif
