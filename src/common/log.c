#include <leakwatch/log.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

static int current_level = LW_LOG_INFO;

void lw_log_set_level(enum lw_log_level level)
{
    __atomic_store_n(&current_level, (int)level, __ATOMIC_RELAXED);
}

enum lw_log_level lw_log_get_level(void)
{
    return (enum lw_log_level)__atomic_load_n(&current_level, __ATOMIC_RELAXED);
}

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

const char *lw_log_level_name(enum lw_log_level level)
{
    if ((unsigned)level > LW_LOG_OFF)
        return "unknown";
    return level_names[level];
}

int lw_log_parse_level(const char *name, enum lw_log_level *out)
{
    for (int i = 0; i <= LW_LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum lw_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LW_LOG_WARN;
        return 0;
    }
    return -1;
}

void lw_log(enum lw_log_level level, const char *fmt, ...)
{
    static const char *const tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[1024];
    if ((int)level < (int)lw_log_get_level() || level >= LW_LOG_OFF)
        return;
    int head = snprintf(line, sizeof(line), "[leakwatch] %s ", tags[level]);
    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + head, sizeof(line) - (size_t)head, fmt, ap);
    va_end(ap);
    size_t len = (size_t)head + (body < 0 ? 0 : (size_t)body);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* truncated: keep room for the newline */
    line[len++] = '\n';
    /* One write per line so that lines of concurrent threads do not interleave. A short or
     * failed write is not retried: losing a log line is better than stalling the extension. */
    ssize_t n;
    do {
        n = write(STDERR_FILENO, line, len);
    } while (n < 0 && errno == EINTR);
}
