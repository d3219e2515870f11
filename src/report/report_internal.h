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
 *   report_story   one environment's trend, projection, recycle horizon and death, placed on
 *        |         the chart's x axis
 *   report_text, report_csv, report_chart, report_html   the writers (table, CSV, SVG, HTML)
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

/* The names of a death line's figures, by id (as the line has them). */
extern const char *const lw_report_death_names[LW_D_COUNT];

/* Whether a death figure is a flag (true 1, false 0) rather than a number. */
bool lw_report_death_flag(enum lw_report_death_figure id);

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
    size_t strings_cap;                    /* a power of two */
    struct lw_report_vec inv, shut, alert; /* inv: invocation and interval records */
    struct lw_report_vec death;
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
/* report_story.c: an environment's story, placed on the x axis                              */

/*
 * What the chart draws beyond the records, and the page says: x is the sequence number, or for
 * an environment of interval records only (time_axis) the minutes since t0_ms.
 */
struct lw_report_story {
    bool time_axis;
    uint64_t t0_ms;
    bool have_limit;
    double limit_bytes; /* the memory limit of the last record shown that has one */
    /* the latest verdict with a growth, and its trend: through the anchor (the last
     * environment RSS, else the last function RSS at the end), slope_bytes per unit of x */
    const struct lw_report_entry *verdict; /* the record whose verdict it is; NULL: none */
    bool have_trend;                       /* the window has an anchor to draw it through */
    double anchor_x, anchor_bytes;
    double growth_bytes; /* the verdict's growth per invocation (per hour on a time axis) */
    double slope_bytes;  /* the line drawn: to the projected point when there is one */
    bool have_oom;
    double oom_x;       /* where the verdict projects that memory runs out */
    double oom_minutes; /* NAN when the verdict has no time */
    /* the recycle horizon, after the environment's start */
    bool have_horizon;
    bool horizon_default;   /* the verdict's reason does not name it: the default is assumed */
    bool horizon_estimated; /* beyond the log: placed at an invocation rate */
    bool rate_from_log;     /* that rate is the log's, not the verdict's */
    double horizon_minutes, horizon_ms, horizon_x, rate_per_minute;
    const char *horizon_why; /* why a projection has no horizon placed; NULL otherwise */
    /* the death the next environment told */
    bool have_death;
    double death_x;
    bool have_first_projection; /* where the projection put it when the leak was flagged */
    double first_projection_x;
};

void lw_report_story_of(const struct lw_report_env *env, const struct lw_report_window *w,
                        struct lw_report_story *out);

/*
 * The invocation a death happened in (ActualOomSequence, else the dead environment's
 * invocation count: its last); false when it does not say, or counted intervals of time.
 */
bool lw_report_death_seq(const struct lw_report_entry *death, uint64_t *seq);

/* Where record e sits on the story's x axis; false when it has no place (no time). */
bool lw_report_story_x(const struct lw_report_story *s, const struct lw_report_entry *e, double *x);

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

/*
 * s as XML (and HTML) character data or an attribute value: '&', '<', '>' and both quotes
 * escaped, so it is safe in either; each unsafe character as '?' (XML 1.0 allows no C0
 * character but tab, line feed and carriage return, not even as a character reference, and a
 * reader stops at the first byte that is not UTF-8). A string cannot close an element, open a
 * tag or leave an attribute.
 */
void lw_report_xml_put(FILE *out, const char *s);

/* ---------------------------------------------------------------------------------------- */
/* report_chart.c: the chart                                                                 */

/* One environment's chart as an <svg> element to put inside a page (no XML declaration). */
void lw_report_write_chart(const struct lw_report_env *env, const struct lw_report_window *w,
                           FILE *out);

/* ---------------------------------------------------------------------------------------- */
/* report_text.c: formatters the other writers share, and the input counts                   */

void lw_report_fmt_duration(double seconds, char *dst, size_t cap);
/* A signed byte count as "12.5 KiB" or "3.0 MiB". */
void lw_report_fmt_bytes(double bytes, char *dst, size_t cap);
/* The gap names of an Incomplete list, joined by '+' ("telemetry+end-reading"). */
void lw_report_fmt_gaps(uint32_t gaps, char *dst, size_t cap);
/* A time as "2026-01-05 13:02:10" (UTC). */
void lw_report_fmt_utc(uint64_t ms, char *dst, size_t cap);

/* The input counts line and the malformed lines, as the text report ends. */
void lw_report_write_stats(const struct lw_report *r, FILE *out);

/*
 * The table of an environment's records, as the terminal and the page show it: one memory unit
 * for the levels and one for the growth, and column headings that say what an interval row
 * holds where an invocation row holds something else.
 */
enum lw_report_col {
    LW_COL_SEQ,
    LW_COL_REQUEST, /* the request id, or the interval's start */
    LW_COL_RSS_START,
    LW_COL_RSS_PEAK,
    LW_COL_RSS_END,
    LW_COL_ANON_END,
    LW_COL_GROWTH,
    LW_COL_ENV_RSS,
    LW_COL_HEADROOM,
    LW_COL_MAX_USED,
    LW_COL_DURATION, /* the platform's duration, or the interval's mean request duration */
    LW_COL_BILLED,
    LW_COL_STATUS, /* the platform's status, or the interval's requests */
    LW_COL_VERDICT,
    LW_COL_NOTES,
    LW_COL_COUNT
};

#define LW_REPORT_CELL_MAX 160

struct lw_report_unit {
    const char *name;
    double bytes;
};

struct lw_report_table {
    struct lw_report_unit level, growth;
    bool intervals, invocations; /* what the rows are */
    /* the environment's death, told in the notes of the row it happened in; a row of its own
     * after the last record when the log lacks that record's line (death_row) */
    const struct lw_report_entry *death;
    uint64_t death_seq; /* 0: after the last record */
    bool death_row;
};

void lw_report_table_init(struct lw_report_table *t, const struct lw_report_env *env,
                          const struct lw_report_window *w);
/* A column's heading and its unit (the second heading line; "" when none). */
void lw_report_table_head(const struct lw_report_table *t, enum lw_report_col c, const char **name,
                          const char **unit);
/* Whether a column is right-aligned (numbers), and whether only --wide shows it. */
bool lw_report_table_right(enum lw_report_col c);
bool lw_report_table_wide(enum lw_report_col c);
/* One row's cells, safe to show ("-" where the record lacks the figure). */
void lw_report_table_row(const struct lw_report_table *t, const struct lw_report_entry *e,
                         char cells[LW_COL_COUNT][LW_REPORT_CELL_MAX]);
/* The death's own row, after the records, when t->death_row. */
void lw_report_table_death_row(const struct lw_report_table *t,
                               char cells[LW_COL_COUNT][LW_REPORT_CELL_MAX]);

/*
 * What the header lines of an environment say, without their labels, written to out with every
 * string from the log made safe (lw_report_safe_put): the page shows the same words, escaped.
 */
/* "invocations" or "intervals": what the environment's records are. */
const char *lw_report_records_word(const struct lw_report_env *env);
void lw_report_put_records(const struct lw_report_env *env, const struct lw_report_window *w,
                           FILE *out);
/* The shutdown line; `records` names what its count counts ("invocations", "intervals"). */
void lw_report_put_shutdown(const struct lw_report_entry *shutdown, const char *records, FILE *out);
/* "Runtime.OutOfMemory in invocation 64, predicted 33 invocations (4.8 s) ahead; ..." */
void lw_report_put_death(const struct lw_report_entry *death, FILE *out);
/* The culprit, and its pid when the line names it: "bootstrap, pid 4242". */
void lw_report_put_culprit(const struct lw_report_entry *e, FILE *out);
/* The verdict and its reason; the culprit too when with_culprit. */
void lw_report_put_verdict(const struct lw_report_entry *last, bool with_culprit, FILE *out);
/* "out of memory in about 84 invocations (3 s), as of seq 40", or "none". */
void lw_report_put_projection(const struct lw_report_window *w, FILE *out);
/* Where the recycle horizon lies, or why it is not placed; false (nothing written) when the
 * story has no projection to compare it with. */
bool lw_report_put_horizon(const struct lw_report_story *s, FILE *out);
void lw_report_put_alert(const struct lw_report_entry *a, FILE *out);

/* The deaths of the environments shown: how many ran out of memory, how many were predicted. */
struct lw_report_deaths {
    size_t deaths, out_of_memory, predicted;
    bool have_lead;
    double median_lead_seconds, median_lead_invocations;
};
void lw_report_count_deaths(const struct lw_report *r, const struct lw_report_options *opt,
                            struct lw_report_deaths *out);
/* "predicted 1 of 2 out-of-memory deaths, median lead 4.8 s (33 invocations); 1 other death" */
void lw_report_put_deaths(const struct lw_report_deaths *d, FILE *out);

#endif
