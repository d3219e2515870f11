#include <leakwatch/state.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include <leakwatch/json_field.h>
#include <leakwatch/log.h>
#include <leakwatch/text.h>

#define MAGIC "LWST"
#define FORMAT_VERSION 1u
#define HEADER_BYTES 24u /* magic 4, version 4, generation 8, length 4, crc 4 */

/* ---- encoding -------------------------------------------------------------------------------- */

/* Unlike alert.c's builder: the NUL only at the end, keys copied whole (hot path, see below). */
struct out {
    char *buf;
    size_t cap, len;
    bool overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

/*
 * A member's opening, "key":, with its length known when compiled: the file is written twice per
 * invocation on the function's CPU share, and a strlen and a copy per key, quote and colon were
 * most of its cost. put_num() and put_str() are inline so that the copy of a key is one of a
 * constant length, a move or two.
 */
struct key {
    const char *s;
    size_t n;
};
#define KEY(name) ((struct key){"\"" name "\":", sizeof("\"" name "\":") - 1})

/* Room for n more bytes and the NUL that ends the line; the overflow when there is none. */
static bool room(struct out *o, size_t n)
{
    if (o->overflow || n >= o->cap - o->len) {
        o->overflow = true;
        return false;
    }
    return true;
}

static void put_bytes(struct out *o, const char *s, size_t n)
{
    if (!room(o, n))
        return;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* "key":v in one piece, for the integers and flags that are most of the state: vsnprintf for
 * each of them was once most of the file's cost. */
static inline void put_num(struct out *o, struct key key, uint64_t v)
{
    char b[LW_TEXT_U64_DEC_BYTES];
    const char *digits = lw_text_u64_dec(b, v);
    size_t n = (size_t)(b + LW_TEXT_U64_DEC_BYTES - 1 - digits);
    if (!room(o, key.n + n + 1))
        return;
    char *p = o->buf + o->len;
    memcpy(p, key.s, key.n);
    memcpy(p + key.n, digits, n);
    p[key.n + n] = ',';
    o->len += key.n + n + 1;
}

/* A double as "%.17g" (exact); one that is not finite as 0. */
static void put_double(struct out *o, struct key key, double v)
{
    if (!isfinite(v) || v == 0.0) {
        put_num(o, key, 0);
        return;
    }
    put_bytes(o, key.s, key.n);
    put(o, "%.17g,", v);
}

static inline void put_str(struct out *o, struct key key, const char *v)
{
    if (room(o, key.n + 1)) {
        memcpy(o->buf + o->len, key.s, key.n);
        o->buf[o->len + key.n] = '"';
        o->len += key.n + 1;
    }
    if (!o->overflow && !lw_text_json_escape(o->buf, o->cap, &o->len, v, strlen(v)))
        o->overflow = true;
    put_bytes(o, "\",", 2);
}

enum lw_err lw_state_encode(const struct lw_state *s, char *buf, size_t cap, size_t *len)
{
    struct out o = {buf, cap, 0, false};
    put_bytes(&o, "{", 1);
    put_num(&o, KEY("v"), FORMAT_VERSION);
    put_str(&o, KEY("fn"), s->function_name);
    put_str(&o, KEY("ver"), s->function_version);
    put_str(&o, KEY("env"), s->env_id);
    put_num(&o, KEY("start"), s->started_ms);
    put_num(&o, KEY("restored"), s->restored);
    put_num(&o, KEY("limit"), s->memory_limit_bytes);
    put_num(&o, KEY("seq"), s->last_seq);
    put_num(&o, KEY("at"), s->boundary_ms);
    put_num(&o, KEY("readings"), s->have_readings);
    put_num(&o, KEY("fn_rss"), s->fn_rss_bytes);
    put_num(&o, KEY("env_rss"), s->env_rss_bytes);
    put_num(&o, KEY("env_rss_max"), s->env_rss_max_bytes);
    put_num(&o, KEY("intervals"), s->intervals);
    put_str(&o, KEY("rid"), s->open_request_id);
    put_num(&o, KEY("rid_closed"), s->open_closed);
    put_num(&o, KEY("verdict"), (uint64_t)s->verdict);
    put_num(&o, KEY("verdict_seq"), s->verdict_seq);
    put_num(&o, KEY("flagged"), s->flagged);
    put_num(&o, KEY("flagged_seq"), s->flagged_seq);
    put_num(&o, KEY("flagged_at"), s->flagged_ms);
    put_num(&o, KEY("proj"), s->have_projection);
    put_num(&o, KEY("proj_seq"), s->projection_seq);
    put_num(&o, KEY("proj_at"), s->projection_ms);
    put_double(&o, KEY("oom_seq"), s->projected_oom_seq);
    put_double(&o, KEY("oom_at"), s->projected_oom_ms);
    put_double(&o, KEY("flag_oom_seq"), s->flag_projected_oom_seq);
    put_num(&o, KEY("ended"), s->ended);
    put_num(&o, KEY("ended_at"), s->ended_ms);
    put_str(&o, KEY("reason"), s->shutdown_reason);
    put_num(&o, KEY("report"), s->have_last_report);
    put_num(&o, KEY("report_seq"), s->last_report_seq);
    put_str(&o, KEY("status"), s->last_status);
    put_str(&o, KEY("error"), s->last_error_type);
    put_num(&o, KEY("max_used_mb"), s->last_max_memory_used_mb);
    put_num(&o, KEY("size_mb"), s->last_memory_size_mb);
    if (o.overflow) {
        if (cap > 0)
            buf[0] = '\0';
        return LW_ERR_TOO_LARGE;
    }
    /* the last member's comma becomes the closing brace; every piece left room for the NUL */
    o.buf[o.len - 1] = '}';
    o.buf[o.len] = '\0';
    *len = o.len;
    return LW_OK;
}

/* A count member: present, integral, exact. */
static bool count(const cJSON *o, const char *key, uint64_t *out)
{
    return lw_json_count(o, key, out) == 1;
}

static bool flag(const cJSON *o, const char *key, bool *out)
{
    uint64_t v;
    if (!count(o, key, &v) || v > 1)
        return false;
    *out = v == 1;
    return true;
}

static bool string(const cJSON *o, const char *key, char *dst, size_t cap)
{
    return lw_json_string(o, key, dst, cap);
}

enum lw_err lw_state_decode(const char *buf, size_t len, struct lw_state *s)
{
    memset(s, 0, sizeof(*s));
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return LW_ERR_INVALID;
    }
    uint64_t version = 0, verdict = 0;
    bool ok =
        count(root, "v", &version) && version == FORMAT_VERSION &&
        string(root, "fn", s->function_name, sizeof(s->function_name)) &&
        string(root, "ver", s->function_version, sizeof(s->function_version)) &&
        string(root, "env", s->env_id, sizeof(s->env_id)) && count(root, "start", &s->started_ms) &&
        flag(root, "restored", &s->restored) && count(root, "limit", &s->memory_limit_bytes) &&
        count(root, "seq", &s->last_seq) && count(root, "at", &s->boundary_ms) &&
        flag(root, "readings", &s->have_readings) && count(root, "fn_rss", &s->fn_rss_bytes) &&
        count(root, "env_rss", &s->env_rss_bytes) &&
        count(root, "env_rss_max", &s->env_rss_max_bytes) &&
        flag(root, "intervals", &s->intervals) && count(root, "verdict", &verdict) &&
        verdict < LW_VERDICT_COUNT && count(root, "verdict_seq", &s->verdict_seq) &&
        flag(root, "flagged", &s->flagged) && count(root, "flagged_seq", &s->flagged_seq) &&
        count(root, "flagged_at", &s->flagged_ms) && flag(root, "proj", &s->have_projection) &&
        count(root, "proj_seq", &s->projection_seq) && count(root, "proj_at", &s->projection_ms) &&
        lw_json_number(root, "oom_seq", &s->projected_oom_seq) &&
        lw_json_number(root, "oom_at", &s->projected_oom_ms) &&
        lw_json_number(root, "flag_oom_seq", &s->flag_projected_oom_seq) &&
        flag(root, "ended", &s->ended) && count(root, "ended_at", &s->ended_ms) &&
        string(root, "reason", s->shutdown_reason, sizeof(s->shutdown_reason)) &&
        flag(root, "report", &s->have_last_report) &&
        count(root, "report_seq", &s->last_report_seq) &&
        string(root, "status", s->last_status, sizeof(s->last_status)) &&
        string(root, "error", s->last_error_type, sizeof(s->last_error_type)) &&
        count(root, "max_used_mb", &s->last_max_memory_used_mb) &&
        count(root, "size_mb", &s->last_memory_size_mb);
    /* added after the first files were written: optional */
    if (ok && cJSON_GetObjectItemCaseSensitive(root, "rid") != NULL)
        ok = string(root, "rid", s->open_request_id, sizeof(s->open_request_id)) &&
             flag(root, "rid_closed", &s->open_closed);
    s->verdict = (enum lw_verdict_kind)verdict;
    cJSON_Delete(root);
    if (!ok || s->function_name[0] == '\0' || s->env_id[0] == '\0') {
        memset(s, 0, sizeof(*s));
        return LW_ERR_INVALID;
    }
    return LW_OK;
}

/* ---- keeping it ------------------------------------------------------------------------------ */

void lw_state_on_record(struct lw_state *s, const struct lw_record *rec)
{
    s->last_seq = rec->seq;
    s->boundary_ms = rec->end_time_ms;
    if (s->open_request_id[0] && strcmp(rec->request_id, s->open_request_id) == 0)
        s->open_closed = true;
    s->intervals = rec->kind == LW_RECORD_INTERVAL;
    if (rec->memory_limit_bytes > 0)
        s->memory_limit_bytes = rec->memory_limit_bytes;
    /* Only complete readings: a total that left out a process would look like a drop. */
    bool env_whole = rec->have_end && !(rec->partial_totals & LW_TOTAL_ENVIRONMENT);
    if (rec->have_end && !(rec->partial_totals & LW_TOTAL_FUNCTION)) {
        s->have_readings = true;
        s->fn_rss_bytes = rec->fn_end.rss_bytes;
        if (rec->fn_peak_bytes > s->env_rss_max_bytes)
            s->env_rss_max_bytes = rec->fn_peak_bytes;
    }
    if (env_whole) {
        s->env_rss_bytes = rec->env_end.rss_bytes;
        if (rec->env_end.rss_bytes > s->env_rss_max_bytes)
            s->env_rss_max_bytes = rec->env_end.rss_bytes;
    }
}

static bool leak_kind(enum lw_verdict_kind k)
{
    return k == LW_VERDICT_LEAK || k == LW_VERDICT_LEAK_CRITICAL;
}

void lw_state_on_invoke(struct lw_state *s, const char *request_id)
{
    lw_text_copy(s->open_request_id, sizeof(s->open_request_id), request_id);
    s->open_closed = false;
}

void lw_state_on_verdict(struct lw_state *s, const struct lw_record *rec,
                         const struct lw_verdict *v)
{
    s->verdict = v->kind;
    s->verdict_seq = rec->seq;
    uint64_t at = rec->end_time_ms ? rec->end_time_ms : rec->start_time_ms;
    if (leak_kind(v->kind) && !s->flagged) {
        s->flagged = true;
        s->flagged_seq = rec->seq;
        s->flagged_ms = at;
    }
    bool fresh = leak_kind(v->kind) && v->have_projection &&
                 isfinite(v->projected_invocations_to_oom) && v->projected_invocations_to_oom >= 0;
    /* A leak verdict that stands without figures of its own (held while the growth is not
     * linear in this window, or over a reading near the limit) keeps the projection it stood on;
     * any other verdict withdraws it. */
    if (!leak_kind(v->kind))
        s->have_projection = false;
    if (fresh) {
        s->have_projection = true;
        s->projection_seq = rec->seq;
        s->projection_ms = at;
        s->projected_oom_seq = (double)rec->seq + v->projected_invocations_to_oom;
        s->projected_oom_ms = isfinite(v->projected_minutes_to_oom)
                                  ? (double)at + v->projected_minutes_to_oom * 60000.0
                                  : 0;
        if (s->flag_projected_oom_seq <= 0)
            s->flag_projected_oom_seq = s->projected_oom_seq;
    }
    /* Lambda's word on this invocation; for an interval, whether any request in it ran out of
     * memory, timed out or failed (the worst of them) */
    const struct lw_platform *pl = &rec->platform;
    if (rec->kind == LW_RECORD_INTERVAL) {
        const struct lw_interval_stats *st = &rec->interval;
        if (st->requests == 0)
            return;
        s->have_last_report = true;
        s->last_report_seq = rec->seq;
        const char *status = st->out_of_memory || st->errors ? "error"
                             : st->timeouts                  ? "timeout"
                                                             : "success";
        snprintf(s->last_status, sizeof(s->last_status), "%s", status);
        snprintf(s->last_error_type, sizeof(s->last_error_type), "%s",
                 st->out_of_memory ? "Runtime.OutOfMemory" : "");
        s->last_max_memory_used_mb = 0;
        s->last_memory_size_mb = 0;
        return;
    }
    if (!pl->have_report && !pl->have_runtime_done)
        return;
    s->have_last_report = true;
    s->last_report_seq = rec->seq;
    lw_text_copy(s->last_status, sizeof(s->last_status), pl->status);
    lw_text_copy(s->last_error_type, sizeof(s->last_error_type), pl->error_type);
    s->last_max_memory_used_mb = pl->have_report ? pl->max_memory_used_mb : 0;
    s->last_memory_size_mb = pl->have_report ? pl->memory_size_mb : 0;
}

/* ---- framing --------------------------------------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* CRC-32 of the header (its crc field zero) and the payload. */
static uint32_t slot_crc(const unsigned char *slot, size_t payload_len)
{
    unsigned char head[HEADER_BYTES];
    memcpy(head, slot, HEADER_BYTES);
    put_u32(head + 20, 0);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, head, HEADER_BYTES);
    crc = crc32(crc, slot + HEADER_BYTES, (uInt)payload_len);
    return (uint32_t)crc;
}

enum lw_err lw_state_frame(uint64_t generation, const char *payload, size_t len,
                           unsigned char slot[LW_STATE_SLOT_BYTES])
{
    if (len > LW_STATE_SLOT_BYTES - HEADER_BYTES)
        return LW_ERR_TOO_LARGE;
    memcpy(slot, MAGIC, 4);
    put_u32(slot + 4, FORMAT_VERSION);
    put_u64(slot + 8, generation);
    put_u32(slot + 16, (uint32_t)len);
    put_u32(slot + 20, 0);
    memcpy(slot + HEADER_BYTES, payload, len);
    /* only the padding: every byte before it was just written */
    memset(slot + HEADER_BYTES + len, 0, LW_STATE_SLOT_BYTES - HEADER_BYTES - len);
    /* the crc field is still zero: slot_crc()'s sum, in one pass */
    uLong crc = crc32(crc32(0L, Z_NULL, 0), slot, (uInt)(HEADER_BYTES + len));
    put_u32(slot + 20, (uint32_t)crc);
    return LW_OK;
}

enum lw_err lw_state_unframe(const unsigned char *file, size_t len, uint64_t *generation,
                             struct lw_state *out, const char **why)
{
    const char *reason = "no slot";
    bool seen = false, found = false;
    uint64_t best = 0;
    for (size_t off = 0; off + HEADER_BYTES <= len && off < LW_STATE_FILE_BYTES;
         off += LW_STATE_SLOT_BYTES) {
        const unsigned char *slot = file + off;
        size_t room = len - off < LW_STATE_SLOT_BYTES ? len - off : LW_STATE_SLOT_BYTES;
        if (memcmp(slot, MAGIC, 4) != 0)
            continue;
        seen = true;
        uint32_t n = get_u32(slot + 16);
        if (get_u32(slot + 4) != FORMAT_VERSION) {
            reason = "another format version";
            continue;
        }
        if (n > room - HEADER_BYTES) {
            reason = "a slot cut short";
            continue;
        }
        if (slot_crc(slot, n) != get_u32(slot + 20)) {
            reason = "a checksum that does not match";
            continue;
        }
        struct lw_state s;
        if (lw_state_decode((const char *)slot + HEADER_BYTES, n, &s) != LW_OK) {
            reason = "content that does not decode";
            continue;
        }
        uint64_t g = get_u64(slot + 8);
        if (!found || g > best) {
            best = g;
            *out = s;
            found = true;
        }
    }
    if (found) {
        *generation = best;
        if (why != NULL)
            *why = NULL;
        return LW_OK;
    }
    /* bytes that are not all zero, yet no slot of ours: something else wrote the file */
    bool blank = true;
    for (size_t i = 0; i < len && blank; i++)
        blank = file[i] == 0;
    if (!seen && !blank)
        reason = len < HEADER_BYTES ? "a file cut short" : "not a leakwatch state file";
    if (why != NULL)
        *why = seen || !blank ? reason : "no state";
    return seen || !blank ? LW_ERR_INVALID : LW_ERR_NOT_FOUND;
}

/* ---- the death --------------------------------------------------------------------------------
 */

const char *lw_death_cause_name(enum lw_death_cause cause)
{
    switch (cause) {
    case LW_DEATH_OUT_OF_MEMORY:
        return "Runtime.OutOfMemory";
    case LW_DEATH_TIMEOUT:
        return "timeout";
    case LW_DEATH_CRASH:
        return "crash";
    case LW_DEATH_SHUTDOWN:
        return "shutdown";
    case LW_DEATH_KILLED:
        break;
    }
    return "killed";
}

const char *lw_oom_form_name(uint32_t form)
{
    switch (form) {
    case LW_OOM_ERROR_TYPE:
        return "error-type";
    case LW_OOM_ERROR_AT_LIMIT:
        return "error-at-limit";
    case LW_OOM_TIMEOUT_AT_LIMIT:
        return "timeout-at-limit";
    case LW_OOM_KILLED_AT_LIMIT:
        return "killed-at-limit";
    default:
        return NULL;
    }
}

/* Lambda's environment-wide high-water mark at the memory size. maxMemoryUsedMB is rounded up
 * to whole MB and includes every process: at the limit means within 1 MB of it. */
static bool report_at_limit(const struct lw_state *s)
{
    return s->have_last_report && s->last_memory_size_mb > 0 &&
           s->last_max_memory_used_mb + 1 >= s->last_memory_size_mb;
}

/* leakwatch's own last reading near the limit: within 5%, the margin the kernel's OOM killer
 * and a fast allocation between two readings leave. */
static bool reading_at_limit(const struct lw_state *s)
{
    return s->have_readings && s->memory_limit_bytes > 0 &&
           (double)s->env_rss_max_bytes >= 0.95 * (double)s->memory_limit_bytes;
}

void lw_death_assess(const struct lw_state *s, struct lw_death *out)
{
    memset(out, 0, sizeof(*out));
    /* The environment died in the record after the last one closed: it was opened at the last
     * boundary (a SHUTDOWN closes it, and then nothing was open). */
    /* Unless the invocation opened there is known to be the last one closed: a SHUTDOWN
     * boundary closed it, and leakwatch was killed before it could say it ended. */
    out->invocations = s->last_seq + (s->ended || s->open_closed ? 0 : 1);
    /* written out: up to the last record assessed (its line goes out just before) */
    out->unwritten_records =
        out->invocations > s->verdict_seq ? out->invocations - s->verdict_seq : 0;
    uint64_t end = s->ended ? s->ended_ms : s->boundary_ms;
    out->age_seconds = end > s->started_ms ? (double)(end - s->started_ms) / 1000.0 : 0;

    /* Lambda's report counts only when it is of the invocation the environment died in */
    bool report_of_last = s->have_last_report && s->last_report_seq == out->invocations;
    const char *status = report_of_last ? s->last_status : "";
    const char *error = report_of_last ? s->last_error_type : "";
    bool error_status = strcmp(status, "error") == 0 || strcmp(status, "failure") == 0;
    bool timeout = strcmp(status, "timeout") == 0 || strcmp(s->shutdown_reason, "timeout") == 0;
    uint32_t forms = 0;
    if (strcmp(error, "Runtime.OutOfMemory") == 0)
        forms |= LW_OOM_ERROR_TYPE;
    if (error_status && report_at_limit(s))
        forms |= LW_OOM_ERROR_AT_LIMIT;
    if (strcmp(status, "timeout") == 0 && report_at_limit(s))
        forms |= LW_OOM_TIMEOUT_AT_LIMIT;
    /* the runtime (or leakwatch) ended by a signal: no SHUTDOWN, a runtime that exited, or a
     * failure the platform never reported */
    bool killed = !s->ended || strcmp(error, "Runtime.ExitError") == 0 ||
                  (!report_of_last && strcmp(s->shutdown_reason, "failure") == 0);
    if (killed && reading_at_limit(s))
        forms |= LW_OOM_KILLED_AT_LIMIT;

    if (forms != 0)
        out->cause = LW_DEATH_OUT_OF_MEMORY;
    else if (timeout)
        out->cause = LW_DEATH_TIMEOUT;
    else if (!s->ended)
        out->cause = LW_DEATH_KILLED;
    else if (error_status || strcmp(s->shutdown_reason, "spindown") != 0)
        out->cause = LW_DEATH_CRASH;
    else
        out->cause = LW_DEATH_SHUTDOWN;
    out->oom_forms = forms;

    if (out->cause != LW_DEATH_OUT_OF_MEMORY)
        return;
    /* Predicted: a leak verdict with a projection was standing when it died. How early: from the
     * first leak verdict. How accurately: the last projection against the invocation it died in. */
    out->predicted = s->flagged && s->have_projection &&
                     (s->verdict == LW_VERDICT_LEAK || s->verdict == LW_VERDICT_LEAK_CRITICAL);
    if (!out->predicted)
        return;
    double died = (double)out->invocations;
    out->lead_invocations = died - (double)s->flagged_seq;
    if (out->lead_invocations < 0)
        out->lead_invocations = 0;
    out->lead_minutes = end > s->flagged_ms ? (double)(end - s->flagged_ms) / 60000.0 : 0;
    if (isfinite(s->flag_projected_oom_seq) && s->flag_projected_oom_seq > 0 && died > 0) {
        out->have_error = true;
        out->projected_seq = s->flag_projected_oom_seq;
        out->error_percent = 100.0 * fabs(s->flag_projected_oom_seq - died) / died;
        out->last_projected_seq = s->projected_oom_seq;
    }
}

/* ---- I/O ------------------------------------------------------------------------------------- */

enum lw_err lw_state_file_take(const char *path, struct lw_state *out, const char **why)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (why != NULL)
            *why = e == ENOENT ? "no state" : e == ELOOP ? "a symbolic link" : "unreadable";
        if (e != ENOENT)
            unlink(path); /* whatever is in the way goes (unlink follows no link) */
        return e == ENOENT ? LW_ERR_NOT_FOUND : LW_ERR_INVALID;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        /* a FIFO planted there would block a read, a directory cannot be read */
        close(fd);
        if (why != NULL)
            *why = "not a regular file";
        unlink(path);
        return LW_ERR_INVALID;
    }
    unsigned char file[LW_STATE_FILE_BYTES];
    ssize_t n = pread(fd, file, sizeof(file), 0);
    close(fd);
    unlink(path); /* read once: the next environment starts its own */
    if (n <= 0) {
        if (why != NULL)
            *why = n == 0 ? "an empty file" : "unreadable";
        return n == 0 ? LW_ERR_NOT_FOUND : LW_ERR_INVALID;
    }
    uint64_t generation;
    return lw_state_unframe(file, (size_t)n, &generation, out, why);
}

bool lw_state_writer_open(struct lw_state_writer *w, const char *path)
{
    memset(w, 0, sizeof(*w));
    /* O_NONBLOCK: a FIFO put in the way fails the open instead of blocking it */
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    struct stat st;
    if (w->fd >= 0 && (fstat(w->fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(w->fd);
        w->fd = -1;
        errno = EINVAL;
    }
    if (w->fd < 0) {
        lw_warn("state file %s not written (%s): a death of this environment will not be told",
                path, strerror(errno));
        return false;
    }
    return true;
}

void lw_state_writer_write(struct lw_state_writer *w, const struct lw_state *s)
{
    if (w->fd < 0)
        return;
    char payload[LW_STATE_SLOT_BYTES];
    unsigned char slot[LW_STATE_SLOT_BYTES];
    size_t len;
    if (lw_state_encode(s, payload, sizeof(payload), &len) != LW_OK ||
        lw_state_frame(w->generation + 1, payload, len, slot) != LW_OK) {
        w->write_errors++;
        return;
    }
    w->generation++;
    off_t off = (off_t)((w->generation % 2) * LW_STATE_SLOT_BYTES);
    if (pwrite(w->fd, slot, sizeof(slot), off) != (ssize_t)sizeof(slot))
        w->write_errors++;
}

void lw_state_writer_close(struct lw_state_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
}
