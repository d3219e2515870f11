/*
 * `leakwatch report`: reads leakwatch's own log lines back (the EMF "invocation", "interval",
 * "shutdown" and "death" documents and the verdict-change alert lines), groups them by
 * environment, orders them by sequence number and writes a per-invocation table, a CSV, an SVG
 * chart or an HTML page.
 *
 * The input is whatever a user has at hand: a CloudWatch Logs export, `aws logs tail` output,
 * the emulator's stdout. Lines may carry a prefix (timestamp, request id, level): each line is
 * parsed from its first '{'. Everything that is not one of leakwatch's lines (Lambda's
 * START/END/REPORT lines, the function's output, other EMF producers, truncated or invalid
 * JSON) is skipped and counted, never fatal. EMF delivery is at-least-once: repeated lines are
 * dropped and counted.
 *
 * Nothing read is trusted. The log group is written by the function and by every extension,
 * so any line may be forged and any string hostile: the strings of entries are kept as read,
 * and the writers show them harmlessly (control characters, bidirectional controls and bytes
 * that are not UTF-8 as '?' in the text, the CSV and the SVG; a CSV string cell that a
 * spreadsheet would run as a formula starts with "'"). Two lines that claim the same
 * invocation but differ are counted as conflicting and the first one read is shown.
 *
 * Exports are read as they come: `aws logs filter-log-events --output json` (one pretty-printed
 * JSON document per page, pages concatenated), a JSON document held on one line, and a
 * CloudWatch Logs Insights CSV export (a header naming an `@message` column, the message
 * CSV-quoted, possibly over several lines). The reader is line by line with bounded memory: it
 * never holds a whole document.
 *
 * Pure except for the FILE* streams the caller passes in; lw_report_main() is the shell that
 * opens the files named on the command line and reads the clock and the locale.
 *
 * Typical use:
 *     struct lw_report *r = lw_report_new();
 *     lw_report_read(r, file);            (or lw_report_add_line() per line)
 *     lw_report_finish(r);                (sort, dedupe, group)
 *     lw_report_write_text(r, &opts, stdout);
 *     lw_report_free(r);
 */
#ifndef LEAKWATCH_REPORT_H
#define LEAKWATCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <leakwatch/err.h>
#include <leakwatch/metrics.h>
#include <leakwatch/record.h>

/* Lines longer than this are skipped and counted (an EMF document is kept under 256 KB). */
#define LW_REPORT_LINE_MAX_BYTES (1024u * 1024u)
/*
 * Hard cap on stored lines of each kind (~360 bytes each, so at most ~1.5 GB for invocations: a
 * day of a function at 45 invocations per second); more are counted as dropped.
 */
#define LW_REPORT_MAX_ENTRIES (4u * 1024u * 1024u)

#define LW_REPORT_FUNCTION_NAME_MAX 256 /* Lambda allows 64 (140 for an ARN); keep some room */
#define LW_REPORT_VERSION_MAX 64
#define LW_REPORT_WORD_MAX 32 /* status, verdict, peak method, shutdown reason */
#define LW_REPORT_REASON_MAX 512
#define LW_REPORT_FORMS_MAX 128 /* a death's OomForms, joined: four known forms fit twice */

enum lw_report_kind {
    LW_REPORT_INVOCATION = 1, /* "LeakwatchRecord":"invocation" */
    LW_REPORT_SHUTDOWN,       /* "LeakwatchRecord":"shutdown" */
    LW_REPORT_ALERT,          /* "LeakwatchAlert":"verdict-change" */
    LW_REPORT_INTERVAL,       /* "LeakwatchRecord":"interval": one record per interval of time
                                 (Lambda Managed Instances), no request id */
    LW_REPORT_DEATH,          /* "LeakwatchRecord":"death": written by the next environment of a
                                 sandbox about the previous one, which it names */
};
#define LW_REPORT_KIND_LAST LW_REPORT_DEATH

/*
 * The figures of a death line. A death line has none of the metrics of metrics.h, so its
 * entry holds these in value[] and have_mask, by these ids (see lw_report_death_has()).
 * Predicted, Intervals and Restored are 1 for true, 0 for false.
 */
enum lw_report_death_figure {
    LW_D_OOM_DEATHS,         /* OutOfMemoryDeaths: 1 out of memory, else 0 */
    LW_D_OOM_PREDICTED,      /* OutOfMemoryPredicted (out of memory only) */
    LW_D_PREDICTED,          /* Predicted (out of memory only) */
    LW_D_LEAD_INVOCATIONS,   /* LeadInvocations: from the leak's first flag to the death */
    LW_D_LEAD_MINUTES,       /* LeadMinutes */
    LW_D_LEAD_SECONDS,       /* OutOfMemoryLeadSeconds */
    LW_D_PROJECTED_SEQ,      /* ProjectedOomSequence: what the first projection said */
    LW_D_LAST_PROJECTED_SEQ, /* LastProjectedOomSequence */
    LW_D_ACTUAL_SEQ,         /* ActualOomSequence: the invocation it died in */
    LW_D_ERROR_PERCENT,      /* ProjectionErrorPercent */
    LW_D_LAST_FN_RSS,        /* LastFunctionRssBytes */
    LW_D_LAST_ENV_RSS,       /* LastEnvironmentRssBytes */
    LW_D_PEAK_ENV_RSS,       /* PeakEnvironmentRssBytes */
    LW_D_MEM_LIMIT,          /* MemoryLimitBytes */
    LW_D_LAST_REPORT_SEQ,    /* LastReportSequence */
    LW_D_LAST_MAX_USED_MB,   /* LastMaxMemoryUsedMB */
    LW_D_INTERVALS,          /* Intervals: it kept interval records (Managed Instances) */
    LW_D_RESTORED,           /* Restored: it was restored from a SnapStart snapshot */
    LW_D_COUNT
};

/*
 * One of leakwatch's lines, parsed. Plain data; strings are NUL-terminated, "" when absent
 * (longer ones are truncated). Which fields a kind fills:
 *   invocation: everything but from[], told_by[], ending[], oom_forms[] and the shutdown
 *               figures; reason = VerdictReason, verdict = Verdict.
 *   interval:   as an invocation, without request_id; start_time_ms = IntervalStartTimeMs.
 *   shutdown:   env_id, function name/version, reason = ShutdownReason, ending =
 *               ShutdownCategory, lifetime, invocations, timestamp_ms.
 *   alert:      env_id, function_name, seq, from = From, verdict = To, reason = Reason,
 *               culprit, culprit_pid, site and site_growth_bytes (the first of
 *               AllocationSites), value[LW_M_GROWTH_PER_INVOCATION] (invocation records)
 *               or value[LW_M_GROWTH_PER_HOUR] (interval records), value[LW_M_MINUTES_TO_OOM].
 *   death:      env_id = DeadEnvironmentId (the environment it is about, where the report
 *               shows it), told_by = EnvironmentId (the one that wrote it), function
 *               name/version, ending = Cause, oom_forms = OomForms joined by ", ",
 *               verdict = LastVerdict, status = LastStatus, error_type = LastErrorType,
 *               reason = ShutdownReason, start_time_ms/end_time_ms =
 *               DeadEnvironmentStartTimeMs/EndTimeMs, lifetime = DeadEnvironmentLifetimeSeconds,
 *               invocations = DeadEnvironmentInvocations, value[] the figures of enum
 *               lw_report_death_figure, timestamp_ms.
 */
struct lw_report_line {
    enum lw_report_kind kind;
    char env_id[LW_ENV_ID_MAX];
    char function_name[LW_REPORT_FUNCTION_NAME_MAX];
    char function_version[LW_REPORT_VERSION_MAX];
    char request_id[LW_REQUEST_ID_MAX];
    char status[LW_REPORT_WORD_MAX];
    char error_type[LW_ERROR_TYPE_MAX];
    char peak_method[LW_REPORT_WORD_MAX];
    char verdict[LW_REPORT_WORD_MAX];
    char from[LW_REPORT_WORD_MAX];
    char reason[LW_REPORT_REASON_MAX];
    char culprit[LW_NAME_MAX];
    uint32_t culprit_pid; /* CulpritPid: which of the processes of that name; 0 when absent */
    /* alert: the first of AllocationSites (Python with tracemalloc), "" when absent */
    char site[LW_SITE_TEXT_MAX];
    double site_growth_bytes;
    char ending[LW_REPORT_WORD_MAX];     /* ShutdownCategory (shutdown), Cause (death) */
    char told_by[LW_ENV_ID_MAX];         /* death: EnvironmentId, the environment that wrote it */
    char oom_forms[LW_REPORT_FORMS_MAX]; /* death: OomForms, joined by ", " */
    uint64_t seq;                        /* Sequence; 0 for a shutdown or death line */
    bool cold_start;                     /* ColdStart */
    bool restored;                       /* Restored: the first record after a SnapStart restore */
    uint32_t unknown_processes;          /* entries of Processes with the Role "unknown" */
    double unknown_rss_end_bytes;        /* their RssEndBytes, summed */
    uint32_t incomplete;                 /* enum lw_record_gap bits from "Incomplete" */
    uint64_t timestamp_ms;               /* _aws.Timestamp, 0 when absent */
    uint64_t start_time_ms;              /* StartTimeMs, 0 when absent */
    uint64_t end_time_ms;                /* EndTimeMs, 0 when absent */
    /* the metrics of metrics.h found on the line, by id; have_mask bit i set when present */
    double value[LW_M_COUNT];
    uint64_t have_mask;
    bool have_lifetime;
    double lifetime_seconds; /* EnvironmentLifetimeSeconds */
    bool have_invocations;
    uint64_t invocations; /* EnvironmentInvocations; DeadEnvironmentInvocations of a death */
};

/* Why a line was not one of leakwatch's. */
enum lw_report_skip {
    LW_REPORT_SKIP_NONE = 0,
    LW_REPORT_SKIP_TEXT,     /* no '{' on the line: START/END/REPORT, plain text output */
    LW_REPORT_SKIP_BAD_JSON, /* text from '{' is not one complete JSON object (truncated) */
    LW_REPORT_SKIP_FOREIGN,  /* a JSON object that is not leakwatch's (another EMF producer,
                                the function's JSON logs, an unknown LeakwatchRecord kind) */
    LW_REPORT_SKIP_INVALID,  /* leakwatch's line without its required fields (EnvironmentId;
                                Sequence for invocations, intervals and alerts;
                                DeadEnvironmentId for deaths) or with a bad number */
};

/*
 * Parses one log line of len bytes (no NUL needed; trailing whitespace and "\r" allowed) from
 * its first '{'. When the object is not leakwatch's but carries the log line as a string
 * ("message" of a CloudWatch JSON export, "record" of a Telemetry API event), that string is
 * parsed instead, once.
 * Returns LW_OK and fills *out for one of leakwatch's lines; LW_ERR_INVALID with *why set when
 * the line is not one; LW_ERR_NOMEM.
 */
enum lw_err lw_report_parse_line(const char *line, size_t len, struct lw_report_line *out,
                                 enum lw_report_skip *why);

/*
 * What the input held. Every log event read is counted in exactly one of the first twelve
 * counters. A log event is one line, except in exports: an event of a JSON document (one
 * "message" member) or one CSV record (which may span several lines).
 */
struct lw_report_stats {
    uint64_t lines;            /* log events read */
    uint64_t invocations;      /* invocation lines kept (before deduplication) */
    uint64_t shutdowns;        /* shutdown lines kept */
    uint64_t alerts;           /* alert lines kept */
    uint64_t intervals;        /* interval lines kept */
    uint64_t deaths;           /* death lines kept */
    uint64_t skipped_text;     /* no JSON object on the line */
    uint64_t skipped_bad_json; /* '{' but not a complete JSON object (truncated lines) */
    uint64_t skipped_foreign;  /* JSON that is not leakwatch's */
    uint64_t skipped_invalid;  /* leakwatch's line without its required fields */
    uint64_t skipped_too_long; /* above LW_REPORT_LINE_MAX_BYTES */
    uint64_t framing;          /* an export's own lines: JSON document structure, CSV header */
    uint64_t dropped_over_cap; /* leakwatch's lines beyond LW_REPORT_MAX_ENTRIES (among kept) */
    uint64_t duplicates;       /* lines removed by lw_report_finish(): repeats and conflicts */
    uint64_t conflicts;        /* of those, lines that claim the slot (environment and
                                  Sequence; for shutdowns the environment; for deaths the
                                  dead environment) of a line read before but say something
                                  else; each content counted once */
    uint64_t malformed;        /* leakwatch's lines that could not be read: the invalid ones
                                  and the bad JSON that names leakwatch (cut lines) */
};

/* Where a malformed line of leakwatch's was (the first LW_REPORT_MALFORMED_KEPT are kept). */
#define LW_REPORT_MALFORMED_KEPT 20
struct lw_report_malformed {
    const char *source; /* as given to lw_report_set_source(), "" when none */
    uint64_t line_no;   /* 1-based, in that source; the first line of a multi-line record */
    const char *why;    /* a static description: "cut or invalid JSON", "no EnvironmentId", ... */
};

/*
 * A stored line: the parsed fields with strings interned in the report (never NULL, "" when
 * absent; as read, so they may hold any byte but NUL). Valid until lw_report_free().
 */
struct lw_report_entry {
    enum lw_report_kind kind;
    const char *env_id;
    const char *function_name;
    const char *function_version;
    const char *request_id;
    const char *status;
    const char *error_type;
    const char *peak_method;
    const char *verdict;
    const char *from;
    const char *reason;
    const char *culprit;
    uint32_t culprit_pid;
    const char *site; /* alert: the allocation site that grew most, "" when none */
    double site_growth_bytes;
    const char *ending;
    const char *told_by;
    const char *oom_forms;
    uint64_t seq;
    uint64_t timestamp_ms;
    uint64_t start_time_ms;
    uint64_t end_time_ms;
    uint64_t invocations;
    uint64_t arrival; /* order of arrival, to keep the first of repeated lines */
    double value[LW_M_COUNT];
    uint64_t have_mask;
    double lifetime_seconds;
    double unknown_rss_end_bytes;
    uint32_t unknown_processes;
    uint32_t incomplete;
    uint32_t conflicts; /* after lw_report_finish(): other contents seen for this slot */
    bool cold_start;
    bool restored;
    bool have_lifetime;
    bool have_invocations;
};

/* Whether entry e (not a death) has metric id. */
bool lw_report_entry_has(const struct lw_report_entry *e, enum lw_metric_id id);

/* Whether the death entry e has figure id. */
bool lw_report_death_has(const struct lw_report_entry *e, enum lw_report_death_figure id);

/* One environment after lw_report_finish(). Pointers are into the report. */
struct lw_report_env {
    const char *env_id;
    const char *function_name;                 /* of its latest line */
    const char *function_version;              /* "" when not published */
    const struct lw_report_entry *invocations; /* by Sequence, one per Sequence: invocation and
                                                  interval records */
    size_t n_invocations;
    const struct lw_report_entry *shutdown; /* NULL when the log has no shutdown line */
    const struct lw_report_entry *alerts;   /* by Sequence */
    size_t n_alerts;
    const struct lw_report_entry *death; /* its death, told by the next environment of its
                                            sandbox; NULL when the log has none */
    uint64_t first_time_ms;              /* earliest time seen, orders environments */
    uint64_t conflicts; /* conflicting lines of its records, alerts, shutdown and death */
};

struct lw_report;

/* A new, empty report; NULL when out of memory. */
struct lw_report *lw_report_new(void);
void lw_report_free(struct lw_report *r);

/*
 * Takes one line of input (without its newline): a log line, parsed as lw_report_parse_line()
 * does, or a line of an export document (see the top of this file), and keeps what it holds
 * or counts why not. Stateful: a CSV header or the start of a JSON document changes how the
 * next lines are read, until lw_report_set_source(). LW_OK or LW_ERR_NOMEM.
 */
enum lw_err lw_report_add_line(struct lw_report *r, const char *line, size_t len);

/*
 * Starts a new input: line numbers restart at 1 and are reported under name (copied), and the
 * export state (CSV header, open JSON document, a CSV record left open) is reset; a CSV record
 * left open is counted as bad JSON. LW_OK or LW_ERR_NOMEM.
 */
enum lw_err lw_report_set_source(struct lw_report *r, const char *name);

/* Malformed lines of leakwatch's, in the order read (at most LW_REPORT_MALFORMED_KEPT). */
size_t lw_report_malformed_count(const struct lw_report *r);
const struct lw_report_malformed *lw_report_malformed_at(const struct lw_report *r, size_t i);

/* Keeps one parsed line. LW_OK (kept, or counted as dropped at the cap) or LW_ERR_NOMEM. */
enum lw_err lw_report_add(struct lw_report *r, const struct lw_report_line *line);

/*
 * Reads every line of in and adds it. A line above LW_REPORT_LINE_MAX_BYTES is skipped (its
 * bytes are read and discarded, nothing more is held). LW_OK, LW_ERR_IO (read error; the lines
 * before it are kept) or LW_ERR_NOMEM.
 */
enum lw_err lw_report_read(struct lw_report *r, FILE *in);

/*
 * Sorts, removes repeated lines (same environment and Sequence; the first one read is kept)
 * and groups by environment, ordered by their earliest time. A repeat that says something else
 * than the line kept is a conflict: counted (in the stats, the kept entry and its environment)
 * and kept aside, so that reading it again later does not count it twice. Call after the last
 * line; more lines may be added afterwards if lw_report_finish() is called again. LW_OK or
 * LW_ERR_NOMEM.
 */
enum lw_err lw_report_finish(struct lw_report *r);

void lw_report_stats(const struct lw_report *r, struct lw_report_stats *out);
/* Environments, valid after lw_report_finish() until the next add or free. */
size_t lw_report_env_count(const struct lw_report *r);
const struct lw_report_env *lw_report_env_at(const struct lw_report *r, size_t i);

struct lw_report_options {
    const char *env_id;        /* only this environment (exact id, or a unique prefix); NULL: all */
    const char *function_name; /* only environments of this function (exact name); NULL: all */
    uint64_t since_ms;         /* only invocations starting at or after this time; 0: no bound */
    uint64_t until_ms;         /* only invocations starting at or before this time; 0: none */
    size_t last;               /* then only the last N invocations (and their alerts); 0: all */
    bool ascii;                /* plain ASCII instead of Unicode block characters */
    bool wide;                 /* every column (anon end, env RSS, headroom, Lambda max used,
                                  billed) instead of a table that fits 110 columns */
};

/*
 * A time given on the command line, as milliseconds since the epoch: ISO 8601 in UTC
 * ("2026-01-05", "2026-01-05T13:00", "2026-01-05T13:00:00.250Z", a space for the T, "Z" or
 * "+00:00" or nothing at the end) or relative to now_ms ("90s", "30m", "1h", "2d": that long
 * before now). Other offsets than UTC are refused rather than guessed. LW_OK or LW_ERR_INVALID.
 */
enum lw_err lw_report_parse_time(const char *s, uint64_t now_ms, uint64_t *out_ms);

/*
 * A sparkline of values[0..n) in dst (NUL-terminated, cut to cap): one character per value,
 * or per group of ceil(n / width) values (their maximum) when n > width; the eight block
 * characters U+2581..U+2588 from min to max, or with ascii the eight "_.,-=+*#". A value that
 * is NaN (absent) is a space. Returns the number of values per character.
 */
size_t lw_report_sparkline(const double *values, size_t n, size_t width, bool ascii, char *dst,
                           size_t cap);

/*
 * The human-readable report: per environment a header and a table with aligned columns and
 * units, then its alerts; the input counts at the end. LW_OK or LW_ERR_IO when out failed.
 */
enum lw_err lw_report_write_text(const struct lw_report *r, const struct lw_report_options *opt,
                                 FILE *out);

/* One environment's header, table and alerts (part of lw_report_write_text). */
void lw_report_write_env_text(const struct lw_report_env *env, const struct lw_report_options *opt,
                              FILE *out);

/*
 * CSV (RFC 4180, header row first): one row per invocation with raw values: bytes,
 * milliseconds, megabytes as the EMF line had them; empty when absent. LW_OK or LW_ERR_IO.
 */
enum lw_err lw_report_write_csv(const struct lw_report *r, const struct lw_report_options *opt,
                                FILE *out);

/*
 * A standalone SVG document: one 900x480 chart per environment: the function's RSS at the
 * start, peak and end of each invocation, the environment's RSS, the memory limit, the leak
 * trend of the latest verdict projected to the limit (the projected out-of-memory point marked,
 * or an arrow at the right edge when it lies beyond it), the cold start and verdict changes
 * marked; a title, axis labels with units and a legend. LW_OK or LW_ERR_IO.
 */
enum lw_err lw_report_write_svg(const struct lw_report *r, const struct lw_report_options *opt,
                                FILE *out);

/*
 * A self-contained HTML page (no external assets): per environment its summary (function,
 * invocations, cold start, memory limit, shutdown, verdict, projection) and its chart inline.
 * LW_OK or LW_ERR_IO.
 */
enum lw_err lw_report_write_html(const struct lw_report *r, const struct lw_report_options *opt,
                                 FILE *out);

/*
 * The selected environments' count under opt (how many lw_report_write_* would show): those
 * of the function, with the environment id, having an invocation in the time range. Returns 0
 * when an --env prefix matches no environment or several.
 */
size_t lw_report_selected_count(const struct lw_report *r, const struct lw_report_options *opt);

/* What the command runs against: the streams, the clock reading and the terminal's charset. */
struct lw_report_context {
    FILE *in, *out, *err;
    uint64_t now_ms; /* the wall clock, for relative --since/--until */
    bool utf8;       /* the locale's charset is UTF-8 (else the sparkline is ASCII) */
};

/*
 * `leakwatch report [options] [FILE...]` with argv[0] = "report", on the given context
 * (stdin/stdout/stderr and the clock for the real command; tests pass memory streams and a
 * fixed time). Returns the process exit status: 0 ok, 1 an input could not be read or no
 * records were found, 2 usage error.
 */
int lw_report_command(const struct lw_report_context *ctx, int argc, char **argv);

/* lw_report_command() on the given streams, the wall clock and the locale of the process. */
int lw_report_run(int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* The `leakwatch report` subcommand: lw_report_run() on stdin, stdout and stderr. */
int lw_report_main(int argc, char **argv);

#endif
