/*
 * Parsers for the text of /proc/PID/status, /proc/PID/stat and /proc/PID/cmdline.
 *
 * Pure: the caller reads the file and passes its bytes as (pointer, length); nothing here
 * touches /proc, allocates or assumes NUL termination. A read of /proc can be short (the
 * process exits, the buffer is too small), so every parser is safe on any prefix of a valid
 * file: it returns an error or a partial result whose fields are all true, never a value made
 * from a cut-off number. Kernels differ in which status fields exist (RssAnon and friends
 * appeared in 4.5; kernel threads and zombies have no Vm* lines at all), so the status parser
 * says which fields it found instead of failing.
 */
#ifndef LEAKWATCH_PROCFS_H
#define LEAKWATCH_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/record.h>

/* Which fields lw_procfs_parse_status() found: bits of lw_status_info.present. */
enum lw_status_field {
    LW_STATUS_NAME = 1u << 0,
    LW_STATUS_STATE = 1u << 1,
    LW_STATUS_PID = 1u << 2,
    LW_STATUS_PPID = 1u << 3,
    LW_STATUS_VMRSS = 1u << 4,
    LW_STATUS_RSSANON = 1u << 5,
    LW_STATUS_RSSFILE = 1u << 6,
    LW_STATUS_RSSSHMEM = 1u << 7,
    LW_STATUS_VMHWM = 1u << 8,
    LW_STATUS_THREADS = 1u << 9,
};

/* Every memory field: a process whose status has all of these has a full lw_proc_mem. */
#define LW_STATUS_MEM_ALL                                                                          \
    (LW_STATUS_VMRSS | LW_STATUS_RSSANON | LW_STATUS_RSSFILE | LW_STATUS_RSSSHMEM | LW_STATUS_VMHWM)

struct lw_status_info {
    uint32_t present;       /* enum lw_status_field bits; a field not present is 0 / "" */
    char name[LW_NAME_MAX]; /* "Name:" as the kernel escapes it (\n as "\\n"), made printable */
    char state;             /* first letter of "State:" ('R', 'S', 'Z', ...) */
    int32_t pid;
    int32_t ppid;
    struct lw_proc_mem mem; /* bytes (the file says kB, which means KiB) */
    int32_t threads;        /* "Threads:", the process's threads now */
};

/*
 * Parses the text of /proc/PID/status. Only complete lines (ending in '\n') are used: a line
 * cut off by a short read is ignored, so a number is never taken from a prefix of itself.
 * Returns LW_OK when at least the Name line was found (check present for the rest),
 * LW_ERR_NEED_MORE when no complete Name line is in the input, LW_ERR_INVALID when a line of
 * a known field is malformed (a number that is not one, a value above the range of bytes).
 * On error *out is zeroed.
 */
enum lw_err lw_procfs_parse_status(const char *buf, size_t len, struct lw_status_info *out);

/* The fields of /proc/PID/stat leakwatch uses. Times are in clock ticks (sysconf(_SC_CLK_TCK)). */
struct lw_stat_info {
    int32_t pid;
    char comm[LW_NAME_MAX]; /* made printable: bytes outside printable ASCII become '?' */
    char state;
    int32_t ppid;
    uint64_t utime_ticks;
    uint64_t stime_ticks;
    uint64_t start_ticks; /* field 22: with pid, what identifies a process over time */
};

/*
 * Parses the text of /proc/PID/stat. The comm field is in parentheses and may itself contain
 * spaces, parentheses and even newlines, so the fields after it are found from the LAST ')'.
 * That is safe on a prefix too: a ')' inside comm is followed by at most 15 bytes of comm,
 * never by the 20 fields this parser needs. Field 22 (starttime) must be followed by a space
 * or newline, so a cut-off starttime is never taken.
 * Returns LW_OK, LW_ERR_NEED_MORE when the input ends before field 22 is complete, or
 * LW_ERR_INVALID when a field is malformed. On error *out is zeroed.
 */
enum lw_err lw_procfs_parse_stat(const char *buf, size_t len, struct lw_stat_info *out);

/* /proc/PID/cmdline: argv as NUL-separated strings. */
struct lw_cmdline_info {
    const char *argv0; /* points into the parsed buffer; not NUL-terminated when !argv0_complete */
    size_t argv0_len;
    bool argv0_complete; /* a NUL ended argv0 (false: a short read or a process that rewrote it) */
    uint32_t argc;       /* the number of arguments seen (a last unterminated one counts) */
};

/*
 * Parses the text of /proc/PID/cmdline. Returns LW_OK, or LW_ERR_NOT_FOUND when argv0 is
 * empty (kernel threads and zombies have an empty cmdline). The result points into buf.
 */
enum lw_err lw_procfs_parse_cmdline(const char *buf, size_t len, struct lw_cmdline_info *out);

/*
 * /proc/PID/task/TID/children: the pids of the children a thread forked, each followed by a
 * space. Stores up to cap pids (> 0, <= INT32_MAX) in out and returns how many. A last pid
 * without its space was cut off by a short read and is not taken: it could be a prefix of
 * another pid. Malformed tokens end the list.
 */
size_t lw_procfs_parse_children(const char *buf, size_t len, int32_t *out, size_t cap);

/*
 * Whether (path, len) names an entry directly inside the folder (dir, dir_len): dir, one '/',
 * then a non-empty name without '/'. dir is given without a trailing '/'. On true, *name points
 * into path. Exact bytes: no normalisation of "//", "." or "..", which Lambda never writes.
 */
bool lw_procfs_path_in_dir(const char *path, size_t len, const char *dir, size_t dir_len,
                           const char **name, size_t *name_len);

/*
 * The first argument of a /proc/PID/cmdline (argv as NUL-separated strings) that names an entry
 * directly inside (dir, dir_len), in any position: the kernel runs a script as
 * "interpreter [one shebang argument] script", and an interpreter given options puts them before
 * the script ("/usr/bin/python3 -u /opt/extensions/x", "node --max-old-space-size=64
 * /opt/extensions/x"). A last argument not ended by its NUL was cut off by a short read and is
 * not taken: it could be a prefix of a longer name. On true, *name points into buf.
 */
bool lw_procfs_cmdline_find_in_dir(const char *buf, size_t len, const char *dir, size_t dir_len,
                                   const char **name, size_t *name_len);

/*
 * The last path component of (path, len): what follows the last '/' (the whole input when
 * there is none). A trailing '/' gives an empty basename. Points into path.
 */
void lw_procfs_basename(const char *path, size_t len, const char **base, size_t *base_len);

/*
 * Copies (src, len) into dst (capacity cap > 0, always NUL-terminated, truncated to cap - 1),
 * replacing every byte outside printable ASCII (0x20..0x7e) with '?': process names come from
 * the process itself (prctl, argv) and end up in JSON and metric labels.
 */
void lw_procfs_copy_name(char *dst, size_t cap, const char *src, size_t len);

#endif
