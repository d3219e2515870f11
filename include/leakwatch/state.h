/*
 * What an environment leaves behind for the next one: the state file, and the death line.
 *
 * When an invocation fails (out of memory, a timeout, a crash), Lambda resets the environment:
 * the runtime and every extension are stopped (with SHUTDOWN, or killed) and started again in
 * the same sandbox at the next invocation, and /tmp is kept. leakwatch dies with the environment,
 * so it writes what it would need to tell the story into a small file in /tmp ($TMPDIR when set)
 * at every boundary: the environment's identity, its last sequence number and readings, the
 * verdict and its projection, and at SHUTDOWN how it ended. The next leakwatch of the sandbox
 * finds the file and writes one "death" line: how the previous environment ended, how old it
 * was, its last memory, and whether leakwatch had predicted an out-of-memory death, how early
 * and how accurately.
 *
 * The file is one page, two slots of LW_STATE_SLOT_BYTES. Each write goes to the slot the last
 * one did not use, with a generation number and a CRC-32 over the slot; a reader takes the valid
 * slot of the highest generation. A write cut short (leakwatch killed during a pwrite) leaves
 * the other slot intact, so the file is never half old, half new. Nothing is fsync'd: /tmp
 * outlives a reset, not the sandbox.
 *
 * The function can write /tmp too: the file is as trustworthy as the log group. A file that is
 * corrupt, truncated, of another function or of another format is ignored, with one log line.
 *
 * Encoding, framing and the death assessment are pure; lw_state_file_* do the I/O.
 */
#ifndef LEAKWATCH_STATE_H
#define LEAKWATCH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/err.h>
#include <leakwatch/record.h>
#include <leakwatch/verdict.h>

#define LW_STATE_FILE_NAME "leakwatch-state"
#define LW_STATE_SLOT_BYTES 2048u
#define LW_STATE_FILE_BYTES (2u * LW_STATE_SLOT_BYTES)
#define LW_STATE_FUNCTION_MAX 256

struct lw_state {
    /* who */
    char function_name[LW_STATE_FUNCTION_MAX];
    char function_version[LW_STATE_FUNCTION_MAX];
    char env_id[LW_ENV_ID_MAX];
    uint64_t started_ms; /* the environment's start: init, or the SnapStart restore */
    bool restored;
    uint64_t memory_limit_bytes;

    /* the last boundary */
    uint64_t last_seq;    /* the last record closed; the next was opened at boundary_ms */
    uint64_t boundary_ms; /* epoch ms of the last boundary (a reading) */
    bool have_readings;
    uint64_t fn_rss_bytes;  /* the function's RSS at the last boundary */
    uint64_t env_rss_bytes; /* the environment's */
    uint64_t env_rss_max_bytes;
    bool intervals; /* records are intervals (Managed Instances): seq counts intervals */
    /* the request id of the invocation opened at the last boundary: the one the environment
     * was in when it ended (empty for intervals, and before the first INVOKE) */
    char open_request_id[LW_REQUEST_ID_MAX];
    bool open_closed; /* its record was closed (a SHUTDOWN boundary): no invocation after it */

    /* the verdict, as last assessed */
    enum lw_verdict_kind verdict;
    uint64_t verdict_seq;
    bool flagged;            /* a leak verdict was reached in this environment */
    uint64_t flagged_seq;    /* the first record with a leak verdict */
    uint64_t flagged_ms;     /* its end time */
    bool have_projection;    /* the latest leak verdict projected out-of-memory */
    uint64_t projection_seq; /* the record the projection was made at */
    uint64_t projection_ms;
    double projected_oom_seq; /* the invocation (interval) memory was projected to run out at */
    double projected_oom_ms;  /* epoch ms */
    /* the first projection made once the leak was flagged: what the alert said */
    double flag_projected_oom_seq;

    /* how it ended, when leakwatch saw it end (SHUTDOWN) */
    bool ended;
    uint64_t ended_ms;
    char shutdown_reason[32];
    /* Lambda's report of the last invocation that has one */
    bool have_last_report;
    uint64_t last_report_seq;
    char last_status[LW_STATUS_MAX];
    char last_error_type[LW_ERROR_TYPE_MAX];
    uint64_t last_max_memory_used_mb;
    uint64_t last_memory_size_mb;
};

/* The state as one line of JSON into buf (NUL-terminated); LW_ERR_TOO_LARGE when it does not
 * fit. Strings are JSON-escaped. */
enum lw_err lw_state_encode(const struct lw_state *s, char *buf, size_t cap, size_t *len);

/* A line lw_state_encode() wrote back into *s; LW_ERR_INVALID for anything else (another
 * format version, a missing member, a number out of range). */
enum lw_err lw_state_decode(const char *buf, size_t len, struct lw_state *s);

/* One slot: magic, format version, generation, payload length, CRC-32 and the payload, zero
 * padded to LW_STATE_SLOT_BYTES. LW_ERR_TOO_LARGE when the payload does not fit. */
enum lw_err lw_state_frame(uint64_t generation, const char *payload, size_t len,
                           unsigned char slot[LW_STATE_SLOT_BYTES]);

/*
 * The newest valid slot of a file's bytes (any length; a short file has fewer slots): its
 * generation and decoded state. LW_ERR_NOT_FOUND when the file is empty (all zero, or no
 * slot has the magic), LW_ERR_INVALID when a slot has the magic but none is valid (corrupt,
 * truncated, another version). why (may be NULL) says which, in a few words.
 */
enum lw_err lw_state_unframe(const unsigned char *file, size_t len, uint64_t *generation,
                             struct lw_state *out, const char **why);

/* ---- keeping it ------------------------------------------------------------------------------ */

/* A record closed at a boundary (main thread): the last sequence number and readings. */
void lw_state_on_record(struct lw_state *s, const struct lw_record *rec);

/* A record assessed and joined with Lambda's report (the thread that emits it): the verdict, its
 * projection and the platform's status of that invocation (interval). */
void lw_state_on_verdict(struct lw_state *s, const struct lw_record *rec,
                         const struct lw_verdict *v);

/* An INVOKE's request id, as the invocation it opens; kept until the next one. */
void lw_state_on_invoke(struct lw_state *s, const char *request_id);

/* How a previous environment ended, and what leakwatch had foreseen of it. */
enum lw_death_cause {
    LW_DEATH_OUT_OF_MEMORY = 0,
    LW_DEATH_TIMEOUT,
    LW_DEATH_CRASH,    /* an error that ended the environment, not known as memory or time */
    LW_DEATH_SHUTDOWN, /* a clean SHUTDOWN (spindown): no death */
    LW_DEATH_KILLED,   /* no SHUTDOWN reached leakwatch and nothing says why */
};

/* The forms an out-of-memory death is recognised by, bit flags; more than one may hold. */
enum lw_oom_form {
    LW_OOM_ERROR_TYPE = 1u << 0,       /* errorType Runtime.OutOfMemory in the platform's report */
    LW_OOM_ERROR_AT_LIMIT = 1u << 1,   /* an error status with maxMemoryUsedMB at the memory size */
    LW_OOM_TIMEOUT_AT_LIMIT = 1u << 2, /* a timeout with maxMemoryUsedMB at the memory size */
    LW_OOM_KILLED_AT_LIMIT = 1u << 3,  /* the runtime killed (Runtime.ExitError, or no SHUTDOWN)
                                          with leakwatch's last reading at the memory limit */
};
#define LW_OOM_FORM_LAST LW_OOM_KILLED_AT_LIMIT

struct lw_death {
    enum lw_death_cause cause;
    uint32_t oom_forms;   /* enum lw_oom_form bits, 0 unless out of memory */
    uint64_t invocations; /* invocations (intervals) the environment started */
    /* its records never written out: those started after the last one emitted (the one it
     * died in when no SHUTDOWN came to close it, and any a cut-short SHUTDOWN left) */
    uint64_t unwritten_records;
    double age_seconds;      /* from its start to its end (or its last boundary) */
    bool predicted;          /* out of memory, and leakwatch had projected it */
    double lead_invocations; /* from the first leak verdict to the death */
    double lead_minutes;
    /* The projection against the truth: the one made when the leak was first flagged (what
     * the alert told), and the last one before the death. */
    bool have_error;
    double projected_seq;      /* the invocation the first projection put the death at */
    double error_percent;      /* |projected - actual| / actual, in percent */
    double last_projected_seq; /* the invocation the last projection put it at */
};

/* "Runtime.OutOfMemory", "timeout", "crash", "shutdown", "killed". */
const char *lw_death_cause_name(enum lw_death_cause cause);
/* "error-type", "error-at-limit", "timeout-at-limit", "killed-at-limit"; NULL for anything else */
const char *lw_oom_form_name(uint32_t form);

/* What the state of an environment that is gone says about its end. Its age runs to when it
 * ended (SHUTDOWN), or to its last boundary when leakwatch did not see it end. */
void lw_death_assess(const struct lw_state *s, struct lw_death *out);

/* ---- I/O ------------------------------------------------------------------------------------ */

/* Reads and removes the previous environment's file. LW_ERR_NOT_FOUND: there is none (the usual
 * cold start); LW_ERR_INVALID: it was there but unusable (why says how); LW_OK: *out is it. */
enum lw_err lw_state_file_take(const char *path, struct lw_state *out, const char **why);

/* The writer, owned by one thread: a descriptor kept open and the next generation. */
struct lw_state_writer {
    int fd;
    uint64_t generation;
    uint64_t write_errors;
};

/* Creates (truncates) the file, not following a symbolic link. false (said) on failure: the
 * writer then writes nothing and leakwatch goes on without a state file. */
bool lw_state_writer_open(struct lw_state_writer *w, const char *path);

/* One slot, the one the previous write did not use. Never blocks on anything but the page
 * cache. */
void lw_state_writer_write(struct lw_state_writer *w, const struct lw_state *s);

void lw_state_writer_close(struct lw_state_writer *w);

#endif
