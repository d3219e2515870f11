#include <leakwatch/err.h>

const char *lw_err_str(enum lw_err err)
{
    switch (err) {
    case LW_OK:
        return "ok";
    case LW_ERR_INVALID:
        return "invalid input";
    case LW_ERR_TOO_LARGE:
        return "too large";
    case LW_ERR_NEED_MORE:
        return "incomplete input";
    case LW_ERR_NOT_FOUND:
        return "not found";
    case LW_ERR_FULL:
        return "full";
    case LW_ERR_NOMEM:
        return "out of memory";
    case LW_ERR_IO:
        return "I/O error";
    case LW_ERR_PERMISSION:
        return "permission denied";
    case LW_ERR_HTTP:
        return "HTTP error";
    case LW_ERR_TIMEOUT:
        return "timed out";
    case LW_ERR_UNSUPPORTED:
        return "unsupported";
    case LW_ERR_COUNT:
        break;
    }
    return "unknown error";
}
