/*
 * CloudWatch Embedded Metric Format encoder: one JSON document per line, written by the caller
 * to stdout, where Lambda carries it to CloudWatch Logs (which extracts the metrics) and, as an
 * "extension" record, to every Telemetry API subscriber.
 *
 * Pure: the caller passes the record, the verdict, the health counters' increase since the
 * previous line, and a buffer; the encoder writes the document straight into the buffer,
 * member by member. Nothing is allocated and nothing escapes. The bytes are those cJSON's
 * unformatted printer gives for the same document (the format leakwatch always had).
 *
 * Numbers: byte counts and timestamps are printed from the integers themselves, so every 64-bit
 * value is exact (cJSON's own number printer goes through a double, exact only up to 2^53).
 * Metric values come from lw_metric_value() as doubles: an integral double is printed as an
 * integer (exact, since byte counts below 2^53 = 8 PiB convert to double exactly), any other
 * with the shortest of %.15g / %.17g that reads back to the same double. A value that is not
 * finite leaves its member out (a metric: its definition too).
 *
 * Strings taken from processes and the platform (names, request id, error type, reason) are
 * made valid UTF-8 (an invalid byte becomes '?') and cut after LW_EMF_DIMENSION_VALUE_MAX
 * bytes so the document is valid JSON; quotes, backslashes and control characters are escaped
 * as cJSON escapes them (\n, \t, ... and \u00xx).
 */
#ifndef LEAKWATCH_EMF_H
#define LEAKWATCH_EMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/health.h>
#include <leakwatch/record.h>
#include <leakwatch/state.h>
#include <leakwatch/verdict.h>

/*
 * The hard cap of one document, '\n' included. A CloudWatch Logs event is at most 256 KB (the
 * older limit; the current one is 1 MB): a bigger document would be cut and lost. A record with
 * LW_MAX_PROCS processes and long names stays near 12 KiB, so this is never reached in practice.
 */
#define LW_EMF_MAX_BYTES (256u * 1024u)
/* A buffer of this size always suffices for one record or shutdown line. */
#define LW_EMF_BUFFER_BYTES (64u * 1024u)

#define LW_EMF_DEFAULT_NAMESPACE "Leakwatch"
#define LW_EMF_NAMESPACE_MAX 256
#define LW_EMF_DIMENSION_VALUE_MAX 1024

/*
 * The metric definitions ({"Name":..,"Unit":..} of every metric) of the last document, as
 * written: the next document with the same metrics copies them instead of writing them again
 * (about 6,000 instructions per invocation), the same bytes. Keyed by the names' and units'
 * pointers, which come from leakwatch's static tables. Used by one thread at a time.
 */
#define LW_EMF_CACHE_METRICS 96
#define LW_EMF_CACHE_BYTES 8192
struct lw_emf_cache {
    size_t n; /* 0: empty */
    const char *names[LW_EMF_CACHE_METRICS];
    const char *units[LW_EMF_CACHE_METRICS];
    size_t len;
    char text[LW_EMF_CACHE_BYTES];
};

struct lw_emf_options {
    const char *namespace_;       /* see lw_emf_namespace_valid() */
    const char *function_name;    /* AWS_LAMBDA_FUNCTION_NAME: the FunctionName dimension */
    const char *function_version; /* AWS_LAMBDA_FUNCTION_VERSION; may be NULL when not wanted */
    bool version_dimension;       /* also publish under [FunctionName, FunctionVersion] */
    struct lw_emf_cache *cache;   /* NULL: none */
};

/*
 * Whether ns is a namespace the EMF client libraries and CloudWatch accept: 1 to 256 characters
 * of [a-zA-Z0-9._#:/-], and not starting with "AWS/" (reserved for AWS's own namespaces).
 */
bool lw_emf_namespace_valid(const char *ns);

/*
 * Validates options before use, so that configuration can fall back to defaults: LW_OK, or
 * LW_ERR_INVALID when the namespace is invalid, the function name is missing, longer than
 * LW_EMF_DIMENSION_VALUE_MAX bytes or not valid UTF-8 without control characters, or when the
 * version dimension is on without a valid version. Logs nothing: the caller says which setting
 * was bad.
 */
enum lw_err lw_emf_options_check(const struct lw_emf_options *opt);

/*
 * Encodes the "invocation" document of a completed record as one line ending in '\n' into
 * (buf, cap); *len is its length without the terminating NUL that follows it. verdict and
 * health_delta may be NULL (their fields are then left out). Every metric of metrics.h that
 * lw_metric_value() gives is written, the health counters' increases as Count metrics. The
 * record's allocation sites, when it carries any, go in "AllocationSites" ([{"Site",
 * "GrowthBytes", "GrowthCount"}]).
 * Returns LW_OK, LW_ERR_INVALID (bad options) or LW_ERR_TOO_LARGE (the line and its NUL do not
 * fit in cap, or the line would exceed LW_EMF_MAX_BYTES; buf then holds no line).
 */
enum lw_err lw_emf_encode_record(const struct lw_emf_options *opt, const struct lw_record *rec,
                                 const struct lw_verdict *verdict_or_null,
                                 const struct lw_health *health_delta_or_null, char *buf,
                                 size_t cap, size_t *len);

/* The last line of an environment's life, written at SHUTDOWN. */
struct lw_emf_shutdown {
    uint64_t time_ms; /* wall clock at SHUTDOWN, epoch ms */
    const char *env_id;
    const char *reason;      /* the SHUTDOWN event's shutdownReason as received (NULL: "") */
    const char *category;    /* leakwatch's category of it: "spindown", "timeout", "failure" */
    double lifetime_seconds; /* since leakwatch's init */
    uint64_t invocations;    /* invocations seen in this environment */
};

/*
 * Encodes the "shutdown" document: metrics EnvironmentLifetimeSeconds and
 * EnvironmentInvocations (and the health increases when given), properties ShutdownReason (as
 * received), ShutdownCategory and EnvironmentId. Same contract as lw_emf_encode_record().
 */
enum lw_err lw_emf_encode_shutdown(const struct lw_emf_options *opt,
                                   const struct lw_emf_shutdown *s,
                                   const struct lw_health *health_delta_or_null, char *buf,
                                   size_t cap, size_t *len);

/* The line the next environment of a sandbox writes about the one before it (state.h). */
struct lw_emf_death {
    uint64_t time_ms;             /* when it was told: this environment's start, epoch ms */
    const char *env_id;           /* this environment's id */
    const struct lw_state *dead;  /* what the previous environment left */
    const struct lw_death *death; /* lw_death_assess() of it */
};

/*
 * Encodes the "death" document. Metrics: OutOfMemoryDeaths (1 or 0: alarm on its sum), and for
 * an out-of-memory death OutOfMemoryPredicted (1 or 0: its average is the share predicted) and,
 * when predicted, OutOfMemoryLeadSeconds; DeadEnvironmentLifetimeSeconds,
 * DeadEnvironmentInvocations and DeadEnvironmentUnwrittenRecords. Properties: Cause, OomForms
 * (the forms it was recognised by), LastRequestId (the invocation it died in), Predicted,
 * LeadInvocations, LeadMinutes, ProjectedOomSequence (what the projection said when the leak
 * was first flagged), LastProjectedOomSequence, ActualOomSequence, ProjectionErrorPercent (of
 * the first), the dead environment's id, start, end, verdict and last memory, and Lambda's last
 * word on it (LastStatus, LastErrorType, LastMaxMemoryUsedMB, ShutdownReason). Same contract
 * as lw_emf_encode_record().
 */
enum lw_err lw_emf_encode_death(const struct lw_emf_options *opt, const struct lw_emf_death *d,
                                char *buf, size_t cap, size_t *len);

#endif
