/*
 * The report's private interface, one section per module, in the order the data flows:
 *
 *   report_input   the input's framing: plain lines, JSON export documents, CSV exports
 *        |         (one log event at a time)
 *   report_parse   one log event -> struct lw_report_line
 *        |
 *   report_store   interned strings, entries, sort and dedupe, environments
 *        |
 *   report_select  which environments and invocations a command asks for
 *        |
 *   report_text, report_csv, report_chart   the writers (table, CSV, SVG and HTML)
 *
 * report_cli parses the command line and wires these together. Private to src/report/ and its
 * tests.
 */
#ifndef LEAKWATCH_REPORT_INTERNAL_H
#define LEAKWATCH_REPORT_INTERNAL_H

#include <leakwatch/report.h>

#define LW_REPORT_KIB 1024.0
#define LW_REPORT_MIB (1024.0 * 1024.0)

/* ---------------------------------------------------------------------------------------- */
/* report_parse.c: one log event                                                             */

/* The EMF names of metrics.h, by id. */
extern const char *const lw_report_metric_names[LW_M_COUNT];

/* Blanks around a line: space, tab, CR, LF, FF, VT. */
bool lw_report_is_space(char c);

/*
 * lw_report_parse_line() that also says, for a line of leakwatch's without its required
 * fields (LW_REPORT_SKIP_INVALID), what is missing in *detail (a static string; NULL
 * otherwise).
 */
enum lw_err lw_report_parse_detail(const char *line, size_t len, struct lw_report_line *out,
                                   enum lw_report_skip *why, const char **detail);

/*
 * Whether text that is not valid JSON was one of leakwatch's lines (cut by a size limit), as
 * opposed to other text that happens to hold a '{'.
 */
bool lw_report_names_leakwatch(const char *text, size_t len);

/* ---------------------------------------------------------------------------------------- */
/* report_input.c: the input being read (line numbers, the state of an export document)     */

struct lw_report_input {
    const char *source; /* interned; "" until lw_report_set_source() */
    uint64_t line_no;
    int json_depth;  /* > 0 inside a pretty-printed JSON export document */
    long csv_column; /* the @message column of a CSV export's header; -1: not in CSV */
    char *csv_buf;   /* a CSV record being read, possibly over several lines */
    size_t csv_len, csv_cap;
    bool csv_open;        /* csv_buf holds a record whose quoted field is still open */
    uint64_t csv_line_no; /* the line the open record started on */
    char *field_buf;      /* the unquoted @message field */
    size_t field_cap;
    char *line_buf; /* lw_report_read()'s line buffer, grown up to the line cap */
    size_t line_cap;
    struct lw_report_line parsed; /* the parsed event's scratch: ~1.5 KiB, off the stack */
    struct lw_report_malformed malformed[LW_REPORT_MALFORMED_KEPT];
    size_t n_malformed;
};

void lw_report_input_init(struct lw_report_input *in);
void lw_report_input_clean_up(struct lw_report_input *in);

/* The end of an input: a CSV record still open is counted as cut. */
void lw_report_input_end(struct lw_report *r);

/* ---------------------------------------------------------------------------------------- */
/* report_store.c: what was kept                                                             */

/*
 * Entries of one kind. After lw_report_finish(), items[0..n_shown) are the shown ones, sorted,
 * one per (environment, sequence), and items[n_shown..n) one copy of each conflicting line
 * (another content for a slot already shown); lines added later follow them.
 */
struct lw_report_vec {
    struct lw_report_entry *items;
    size_t n;
    size_t cap;
    size_t n_shown;
};

struct lw_report {
    /* open-addressing string set; each string is its own allocation, so pointers are stable */
    char **strings;
    size_t n_strings;
    size_t strings_cap; /* a power of two */
    struct lw_report_vec inv, shut, alert;
    struct lw_report_env *envs;
    size_t n_envs;
    uint64_t arrivals;
    struct lw_report_stats stats; /* counted by the input (lines, skips) and the store (kept) */
    struct lw_report_input in;
};

/* The report's copy of s: equal strings share one pointer. NULL when out of memory. */
const char *lw_report_intern(struct lw_report *r, const char *s);

/* An invocation's time: its start, else its EMF timestamp; 0 when it has neither. */
uint64_t lw_report_entry_time_ms(const struct lw_report_entry *e);

/* ---------------------------------------------------------------------------------------- */
/* report_select.c: which environments and invocations are shown                             */

/* The --env match, resolved once per output: environments are then tested one by one. */
struct lw_report_selection {
    const struct lw_report_options *opt; /* may be NULL: everything */
    const struct lw_report_env *env;     /* the --env match */
    bool none;                           /* --env matches no single environment */
};

void lw_report_select(const struct lw_report *r, const struct lw_report_options *opt,
                      struct lw_report_selection *out);

/* The invocations and alerts of an environment that the time range and --last keep. */
struct lw_report_window {
    const struct lw_report_entry *inv;
    size_t n_inv;
    const struct lw_report_entry *alerts;
    size_t n_alerts;
};

struct lw_report_window lw_report_window_of(const struct lw_report_env *env,
                                            const struct lw_report_options *opt);

/* Whether env is shown: of the function, the --env match, and with invocations in range. */
bool lw_report_selected(const struct lw_report_selection *sel, const struct lw_report_env *env);

/* The last invocation of w that has metric id; NULL when none. */
const struct lw_report_entry *lw_report_last_with(const struct lw_report_window *w,
                                                  enum lw_metric_id id);

/* ---------------------------------------------------------------------------------------- */
/* report_safe.c: what of a string from the log the writers may show                        */

/*
 * The character at s[0..n) (n > 0): returns its length in bytes (at least 1) and sets *safe
 * when it may be shown as it is. Not safe, and shown as one '?': a control character (C0
 * U+0000..U+001F, DEL, C1 U+0080..U+009F), a bidirectional control (Unicode's Bidi_Control),
 * U+FFFE and U+FFFF (not characters in XML 1.0), and a byte that does not begin valid UTF-8
 * (then the length is 1: each such byte is one '?').
 */
size_t lw_report_safe_char(const char *s, size_t n, bool *safe);

/*
 * Copies at most max_chars characters of src into dst (cap > 0, NUL-terminated), each unsafe
 * one as '?', cut at a whole character. Returns the characters copied: the columns the copy
 * takes in a table (one per character).
 */
size_t lw_report_safe_copy(char *dst, size_t cap, const char *src, size_t max_chars);

/* Writes s to out, each unsafe character as '?'. */
void lw_report_safe_put(FILE *out, const char *s);

/* The characters (columns) of a string that lw_report_safe_copy() made. */
size_t lw_report_safe_columns(const char *clean);

/* ---------------------------------------------------------------------------------------- */
/* report_text.c: formatters the other writers share, and the input counts                   */

void lw_report_fmt_duration(double seconds, char *dst, size_t cap);
/* A signed byte count as "12.5 KiB" or "3.0 MiB". */
void lw_report_fmt_bytes(double bytes, char *dst, size_t cap);
/* The gap names of an Incomplete list, joined by '+' ("telemetry+end-reading"). */
void lw_report_fmt_gaps(uint32_t gaps, char *dst, size_t cap);

/* The input counts line and the malformed lines, as the text report ends. */
void lw_report_write_stats(const struct lw_report *r, FILE *out);

#endif
