/*
 * `leakwatch report`: reads leakwatch's own log lines back (the EMF "invocation" and "shutdown"
 * documents and the verdict-change alert lines), groups them by environment, orders them by
 * sequence number and writes a per-invocation table, a CSV or an SVG chart.
 *
 * The input is whatever a user has at hand: a CloudWatch Logs export, `aws logs tail` output,
 * the emulator's stdout. Lines may carry a prefix (timestamp, request id, level): each line is
 * parsed from its first '{'. Everything that is not one of leakwatch's lines (Lambda's
 * START/END/REPORT lines, the function's output, other EMF producers, truncated or invalid
 * JSON) is skipped and counted, never fatal. EMF delivery is at-least-once: repeated lines are
 * dropped and counted.
 *
 * Pure except for the FILE* streams the caller passes in; lw_report_main() is the shell that
 * opens the files named on the command line.
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

enum lw_report_kind {
    LW_REPORT_INVOCATION = 1, /* "LeakwatchRecord":"invocation" */
    LW_REPORT_SHUTDOWN,       /* "LeakwatchRecord":"shutdown" */
    LW_REPORT_ALERT,          /* "LeakwatchAlert":"verdict-change" */
};

/*
 * One of leakwatch's lines, parsed. Plain data; strings are NUL-terminated, "" when absent
 * (longer ones are truncated). Which fields a kind fills:
 *   invocation: everything but from[] and the shutdown figures; reason = VerdictReason,
 *               verdict = Verdict.
 *   shutdown:   env_id, function name/version, reason = ShutdownReason, lifetime, invocations,
 *               timestamp_ms.
 *   alert:      env_id, function_name, seq, from = From, verdict = To, reason = Reason,
 *               culprit, value[LW_M_GROWTH_PER_INVOCATION], value[LW_M_MINUTES_TO_OOM].
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
    uint64_t seq;           /* Sequence; 0 for a shutdown line */
    bool cold_start;        /* ColdStart */
    uint32_t incomplete;    /* enum lw_record_gap bits from "Incomplete" */
    uint64_t timestamp_ms;  /* _aws.Timestamp, 0 when absent */
    uint64_t start_time_ms; /* StartTimeMs, 0 when absent */
    uint64_t end_time_ms;   /* EndTimeMs, 0 when absent */
    /* the metrics of metrics.h found on the line, by id; have_mask bit i set when present */
    double value[LW_M_COUNT];
    uint64_t have_mask;
    bool have_lifetime;
    double lifetime_seconds; /* EnvironmentLifetimeSeconds */
    bool have_invocations;
    uint64_t invocations; /* EnvironmentInvocations */
};

/* Why a line was not one of leakwatch's. */
enum lw_report_skip {
    LW_REPORT_SKIP_NONE = 0,
    LW_REPORT_SKIP_TEXT,     /* no '{' on the line: START/END/REPORT, plain text output */
    LW_REPORT_SKIP_BAD_JSON, /* text from '{' is not one complete JSON object (truncated) */
    LW_REPORT_SKIP_FOREIGN,  /* a JSON object that is not leakwatch's (another EMF producer,
                                the function's JSON logs, an unknown LeakwatchRecord kind) */
    LW_REPORT_SKIP_INVALID,  /* leakwatch's line without its required fields (EnvironmentId;
                                Sequence for invocations and alerts) or with a bad number */
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

/* What the input held. Every line read is counted in exactly one of the first nine counters. */
struct lw_report_stats {
    uint64_t lines;             /* lines read */
    uint64_t invocations;       /* invocation lines kept (before deduplication) */
    uint64_t shutdowns;         /* shutdown lines kept */
    uint64_t alerts;            /* alert lines kept */
    uint64_t skipped_text;      /* no JSON object on the line */
    uint64_t skipped_bad_json;  /* '{' but not a complete JSON object (truncated lines) */
    uint64_t skipped_foreign;   /* JSON that is not leakwatch's */
    uint64_t skipped_invalid;   /* leakwatch's line without its required fields */
    uint64_t skipped_too_long;  /* above LW_REPORT_LINE_MAX_BYTES */
    uint64_t dropped_over_cap;  /* leakwatch's lines beyond LW_REPORT_MAX_ENTRIES (among kept) */
    uint64_t duplicates;        /* repeated lines removed by lw_report_finish() */
    uint64_t duplicates_differ; /* of those, repeats whose content differed from the first */
};

/*
 * A stored line: the parsed fields with strings interned in the report (never NULL, "" when
 * absent). Valid until lw_report_free().
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
    uint64_t seq;
    uint64_t timestamp_ms;
    uint64_t start_time_ms;
    uint64_t end_time_ms;
    uint64_t invocations;
    uint64_t arrival; /* order of arrival, to keep the first of repeated lines */
    double value[LW_M_COUNT];
    uint64_t have_mask;
    double lifetime_seconds;
    uint32_t incomplete;
    bool cold_start;
    bool have_lifetime;
    bool have_invocations;
};

/* Whether entry e has metric id. */
bool lw_report_entry_has(const struct lw_report_entry *e, enum lw_metric_id id);

/* One environment after lw_report_finish(). Pointers are into the report. */
struct lw_report_env {
    const char *env_id;
    const char *function_name;                 /* of its latest line */
    const char *function_version;              /* "" when not published */
    const struct lw_report_entry *invocations; /* by Sequence, one per Sequence */
    size_t n_invocations;
    const struct lw_report_entry *shutdown; /* NULL when the log has no shutdown line */
    const struct lw_report_entry *alerts;   /* by Sequence */
    size_t n_alerts;
    uint64_t first_time_ms; /* earliest time seen, orders environments */
};

struct lw_report;

/* A new, empty report; NULL when out of memory. */
struct lw_report *lw_report_new(void);
void lw_report_free(struct lw_report *r);

/* Parses one line (see lw_report_parse_line) and keeps it or counts why not. LW_OK or NOMEM. */
enum lw_err lw_report_add_line(struct lw_report *r, const char *line, size_t len);

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
 * and groups by environment, ordered by their earliest time. Call after the last line; more
 * lines may be added afterwards if lw_report_finish() is called again. LW_OK or LW_ERR_NOMEM.
 */
enum lw_err lw_report_finish(struct lw_report *r);

void lw_report_stats(const struct lw_report *r, struct lw_report_stats *out);
/* Environments, valid after lw_report_finish() until the next add or free. */
size_t lw_report_env_count(const struct lw_report *r);
const struct lw_report_env *lw_report_env_at(const struct lw_report *r, size_t i);

struct lw_report_options {
    const char *env_id; /* only this environment (exact id, or a unique prefix); NULL: all */
    size_t last;        /* only the last N invocations (and their alerts) of each; 0: all */
};

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
 * A standalone SVG document: one 800x400 chart per environment (function anonymous RSS at the
 * end and RSS peak per invocation, environment RSS, the memory limit, verdict changes marked).
 * LW_OK or LW_ERR_IO.
 */
enum lw_err lw_report_write_svg(const struct lw_report *r, const struct lw_report_options *opt,
                                FILE *out);

/*
 * The selected environments' count under opt (how many lw_report_write_* would show).
 * Returns 0 when an --env prefix matches no environment or several.
 */
size_t lw_report_selected_count(const struct lw_report *r, const struct lw_report_options *opt);

/*
 * `leakwatch report [options] [FILE...]` with argv[0] = "report", on the given streams
 * (stdin/stdout/stderr for the real command; tests pass memory streams). Returns the process
 * exit status: 0 ok, 1 an input could not be read or no records were found, 2 usage error.
 */
int lw_report_run(int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* The `leakwatch report` subcommand: lw_report_run() on stdin, stdout and stderr. */
int lw_report_main(int argc, char **argv);

#endif
