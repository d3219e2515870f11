/*
 * Leveled log lines on stderr, which Lambda carries to the function's log stream next to the
 * function's own output. One line per call, written with a single write(2) so that lines from
 * several threads never interleave. Formats are checked by the compiler.
 */
#ifndef LEAKWATCH_LOG_H
#define LEAKWATCH_LOG_H

enum lw_log_level { LW_LOG_DEBUG = 0, LW_LOG_INFO, LW_LOG_WARN, LW_LOG_ERROR, LW_LOG_OFF };

/* Lines below this level are not written. Default LW_LOG_INFO. Thread-safe. */
void lw_log_set_level(enum lw_log_level level);
enum lw_log_level lw_log_get_level(void);

/* "debug", "info", "warn", "error", "off". */
const char *lw_log_level_name(enum lw_log_level level);

/* Parse a level name (case-insensitive); returns 0 and sets *out, or -1 when unknown. */
int lw_log_parse_level(const char *name, enum lw_log_level *out);

/*
 * Writes "[leakwatch] LEVEL message\n" to stderr. Lines longer than 1 KiB are truncated.
 * Never blocks for long: stderr is a pipe on Lambda; a line that cannot be written is dropped.
 */
void lw_log(enum lw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lw_debug(...) lw_log(LW_LOG_DEBUG, __VA_ARGS__)
#define lw_info(...) lw_log(LW_LOG_INFO, __VA_ARGS__)
#define lw_warn(...) lw_log(LW_LOG_WARN, __VA_ARGS__)
#define lw_error(...) lw_log(LW_LOG_ERROR, __VA_ARGS__)

#endif
