/*
 * EMF documents (see emf.h), written straight into the caller's buffer: no tree, no allocation.
 * A line is written once per invocation on the function's CPU share, so it is built the cheap
 * way, member by member in the order cJSON printed it before (the bytes are the same: see
 * test_emf.c, which checks every kind of line against cJSON's own print of its parse).
 */
#include <leakwatch/emf.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/metrics.h>
#include <leakwatch/text.h>

/* ---- validation ------------------------------------------------------------------------- */

bool lw_emf_namespace_valid(const char *ns)
{
    if (!ns)
        return false;
    size_t n = strnlen(ns, LW_EMF_NAMESPACE_MAX + 1);
    if (n == 0 || n > LW_EMF_NAMESPACE_MAX)
        return false;
    if (strncmp(ns, "AWS/", 4) == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = ns[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '#' || c == ':' || c == '/' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* A dimension value: 1..1024 bytes of valid UTF-8 without control characters. */
static bool dimension_value_valid(const char *v)
{
    if (!v)
        return false;
    size_t n = strnlen(v, LW_EMF_DIMENSION_VALUE_MAX + 1);
    if (n == 0 || n > LW_EMF_DIMENSION_VALUE_MAX)
        return false;
    /* a control byte never appears inside a UTF-8 sequence: checking each byte is enough */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return false;
    return lw_text_utf8_valid(v, n);
}

enum lw_err lw_emf_options_check(const struct lw_emf_options *opt)
{
    if (!opt || !lw_emf_namespace_valid(opt->namespace_))
        return LW_ERR_INVALID;
    if (!dimension_value_valid(opt->function_name))
        return LW_ERR_INVALID;
    if (opt->version_dimension && !dimension_value_valid(opt->function_version))
        return LW_ERR_INVALID;
    if (opt->function_version && opt->function_version[0] &&
        !dimension_value_valid(opt->function_version))
        return LW_ERR_INVALID;
    return LW_OK;
}

/* ---- writing ----------------------------------------------------------------------------- */

/*
 * A bounded writer: p moves toward end and never past it; the first piece that does not fit
 * sets full and every later one is dropped. first is true right after a '{' or '[', so that
 * the next member or element goes without a comma; a container just closed always leaves at
 * least one member in the one around it, so one flag serves every level.
 */
struct w {
    char *p;
    char *end;
    bool full;
    bool first;
};

static void put(struct w *w, const char *s, size_t n)
{
    if (w->full || n > (size_t)(w->end - w->p)) {
        w->full = true;
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

static void put_c(struct w *w, char c)
{
    if (w->full || w->p == w->end) {
        w->full = true;
        return;
    }
    *w->p++ = c;
}

#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

static void open_c(struct w *w, char c)
{
    put_c(w, c);
    w->first = true;
}

static void close_c(struct w *w, char c)
{
    put_c(w, c);
    w->first = false;
}

static void comma(struct w *w)
{
    if (!w->first)
        put_c(w, ',');
    w->first = false;
}

/* A string known to need no escaping (names from leakwatch's own tables), quotes included. */
static void lit_str(struct w *w, const char *s)
{
    put_c(w, '"');
    if (s)
        put(w, s, strlen(s));
    put_c(w, '"');
}

/* "key": after a comma where one is due; key is one of leakwatch's own names. */
static void key(struct w *w, const char *k)
{
    comma(w);
    lit_str(w, k);
    put_c(w, ':');
}

/*
 * A string from outside (a process name, the request id, the platform's words) as a JSON
 * string: made valid UTF-8 first (a byte that begins no valid sequence becomes '?') and cut at
 * a whole character after LW_EMF_DIMENSION_VALUE_MAX bytes, as lw_text_utf8_clean() does; then
 * escaped as cJSON escapes: '"' and '\\', the short forms \b \f \n \r \t, other control
 * characters as \u00xx, everything else as is. Runs of plain ASCII are copied whole.
 */
static void text_str(struct w *w, const char *src)
{
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    size_t n = strlen((const char *)s);
    size_t kept = 0; /* bytes of the cleaned string so far */
    put_c(w, '"');
    for (size_t i = 0; i < n && !w->full;) {
        size_t run = 0;
        while (i + run < n && s[i + run] >= 0x20 && s[i + run] < 0x80 && s[i + run] != '"' &&
               s[i + run] != '\\')
            run++;
        if (run > LW_EMF_DIMENSION_VALUE_MAX - kept)
            run = LW_EMF_DIMENSION_VALUE_MAX - kept;
        put(w, (const char *)s + i, run);
        i += run;
        kept += run;
        if (i >= n || kept >= LW_EMF_DIMENSION_VALUE_MAX)
            break;
        unsigned char c = s[i];
        size_t l = c < 0x80 ? 1 : lw_text_utf8_len(s + i, n - i);
        if (kept + (l ? l : 1) > LW_EMF_DIMENSION_VALUE_MAX)
            break;
        if (l == 0) {
            put_c(w, '?');
            i++;
            kept++;
            continue;
        }
        if (l > 1) {
            put(w, (const char *)s + i, l);
        } else {
            static const char short_esc[] = "btnvfr"; /* \b \t \n, \v has none, \f \r */
            char e[6] = {'\\', (char)c, 0, 0, 0, 0};
            size_t k = 2;
            if (c >= '\b' && c <= '\r' && c != '\v') {
                e[1] = short_esc[c - '\b'];
            } else if (c < 0x20) {
                e[1] = 'u';
                e[2] = '0';
                e[3] = '0';
                e[4] = "0123456789abcdef"[c >> 4];
                e[5] = "0123456789abcdef"[c & 15];
                k = 6;
            }
            put(w, e, k);
        }
        i += l;
        kept += l;
    }
    put_c(w, '"');
}

static void u64_val(struct w *w, uint64_t v)
{
    char b[LW_TEXT_U64_DEC_BYTES];
    char *p = lw_text_u64_dec(b, v);
    put(w, p, (size_t)(b + LW_TEXT_U64_DEC_BYTES - 1 - p));
}

static const double pow10_tab[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/*
 * A finite double that is not an integer, with few decimals (a duration of 12.345 ms, a share
 * of 19.140625 %), in b without snprintf: the decimal m / 10^d for the first d that reads back
 * to v exactly. That decimal has at most 15 significant digits, so it is also what "%.15g"
 * prints (the double nearest to it is v, and no other decimal of 15 digits is that near), and
 * with |v| >= 1e-4 "%g" prints it without an exponent. Returns its length, 0 when v has no such
 * short form (the caller then asks snprintf).
 */
static size_t short_decimal(char b[40], double v)
{
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e9))
        return 0;
    for (size_t d = 1; d < sizeof(pow10_tab) / sizeof(pow10_tab[0]); d++) {
        double scaled = a * pow10_tab[d];
        if (scaled >= 1e15)
            return 0;
        uint64_t m = (uint64_t)llround(scaled);
        if ((double)m / pow10_tab[d] != a)
            continue;
        /* digits of m, the point d places from the right, trailing zeros of the fraction
         * dropped (a smaller d would have matched, but rounding may have skipped it) */
        char digits[LW_TEXT_U64_DEC_BYTES];
        char *q = lw_text_u64_dec(digits, m);
        size_t nd = (size_t)(digits + LW_TEXT_U64_DEC_BYTES - 1 - q);
        size_t o = 0;
        if (v < 0)
            b[o++] = '-';
        if (nd <= d) {
            b[o++] = '0';
            b[o++] = '.';
            for (size_t z = nd; z < d; z++)
                b[o++] = '0';
            memcpy(b + o, q, nd);
            o += nd;
        } else {
            memcpy(b + o, q, nd - d);
            o += nd - d;
            b[o++] = '.';
            memcpy(b + o, q + nd - d, d);
            o += d;
        }
        while (b[o - 1] == '0')
            o--;
        if (b[o - 1] == '.')
            o--;
        return o;
    }
    return 0;
}

/*
 * A finite double as JSON: integral values as integers, others in the shortest of "%.15g" and
 * "%.17g" that reads back to the same double. Returns false (nothing written) when v is not
 * finite: the member is then left out.
 */
static bool double_text(double v, char b[40], size_t *n)
{
    if (!isfinite(v))
        return false;
    if (v == floor(v) && fabs(v) < 9.2e18) {
        int64_t i = (int64_t)v;
        char *p = lw_text_u64_dec(b, i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i);
        if (i < 0)
            *--p = '-';
        *n = (size_t)(b + LW_TEXT_U64_DEC_BYTES - 1 - p);
        memmove(b, p, *n);
        return true;
    }
    *n = short_decimal(b, v);
    if (*n > 0)
        return true;
    int k = snprintf(b, 40, "%.15g", v);
    if (strtod(b, NULL) != v)
        k = snprintf(b, 40, "%.17g", v);
    *n = k > 0 && k < 40 ? (size_t)k : 0;
    return *n > 0;
}

/* "key":v, or nothing when v is not finite. */
static void key_double(struct w *w, const char *k, double v)
{
    char b[40];
    size_t n;
    if (!double_text(v, b, &n))
        return;
    key(w, k);
    put(w, b, n);
}

static void key_u64(struct w *w, const char *k, uint64_t v)
{
    key(w, k);
    u64_val(w, v);
}

static void key_text(struct w *w, const char *k, const char *v)
{
    key(w, k);
    text_str(w, v);
}

static void key_lit(struct w *w, const char *k, const char *v)
{
    key(w, k);
    lit_str(w, v);
}

static void key_bool(struct w *w, const char *k, bool v)
{
    key(w, k);
    if (v)
        PUT_LIT(w, "true");
    else
        PUT_LIT(w, "false");
}

/* "key":[...] with the names of the bits set in flags, lowest first, up to last. */
static void key_flags(struct w *w, const char *k, uint32_t flags, uint32_t last,
                      const char *(*name)(uint32_t))
{
    key(w, k);
    open_c(w, '[');
    for (uint32_t f = 1; f != 0 && f <= last; f <<= 1) {
        if (flags & f) {
            comma(w);
            lit_str(w, name(f));
        }
    }
    close_c(w, ']');
}

/* ---- the document ------------------------------------------------------------------------ */

/* The metrics of one document: the directive names them, the root carries their values. */
#define MAX_METRICS (LW_M_COUNT + LW_H_COUNT + 8)

struct metric {
    const char *name;
    const char *unit;
    char text[40];
    size_t len;
};

struct metrics {
    struct metric m[MAX_METRICS];
    size_t n;
};

/* A metric whose value is not finite is left out, definition and value. */
static void metric(struct metrics *ms, const char *name, const char *unit, double v)
{
    if (ms->n == MAX_METRICS)
        return;
    struct metric *m = &ms->m[ms->n];
    if (!double_text(v, m->text, &m->len))
        return;
    m->name = name;
    m->unit = unit;
    ms->n++;
}

static void health_metrics(struct metrics *ms, const struct lw_health *h)
{
    if (!h)
        return;
    for (int i = 0; i < LW_H_COUNT; i++)
        metric(ms, lw_health_name((enum lw_health_counter)i), "Count", (double)h->c[i]);
}

_Static_assert(MAX_METRICS <= LW_EMF_CACHE_METRICS, "the cache holds every document's metrics");

static bool cached(const struct lw_emf_cache *c, const struct metrics *ms)
{
    if (c == NULL || c->n == 0 || c->n != ms->n)
        return false;
    for (size_t i = 0; i < ms->n; i++) {
        if (c->names[i] != ms->m[i].name || c->units[i] != ms->m[i].unit)
            return false;
    }
    return true;
}

/* The metrics' definitions, from the cache when it holds the same metrics (emf.h). */
static void definitions(struct w *w, struct lw_emf_cache *c, const struct metrics *ms)
{
    if (cached(c, ms)) {
        put(w, c->text, c->len);
        return;
    }
    const char *start = w->p;
    for (size_t i = 0; i < ms->n; i++) {
        if (i > 0)
            put_c(w, ',');
        PUT_LIT(w, "{\"Name\":");
        lit_str(w, ms->m[i].name);
        PUT_LIT(w, ",\"Unit\":");
        lit_str(w, ms->m[i].unit);
        put_c(w, '}');
    }
    if (c == NULL)
        return;
    size_t len = (size_t)(w->p - start);
    c->n = 0;
    if (w->full || ms->n == 0 || ms->n > LW_EMF_CACHE_METRICS || len > sizeof(c->text))
        return;
    for (size_t i = 0; i < ms->n; i++) {
        c->names[i] = ms->m[i].name;
        c->units[i] = ms->m[i].unit;
    }
    memcpy(c->text, start, len);
    c->len = len;
    c->n = ms->n;
}

/*
 * The root up to the first property of the kind: "_aws" (Timestamp, one directive with the
 * dimension sets and the metrics' definitions), the dimension values, every metric's value,
 * LeakwatchRecord (the kind) and LeakwatchVersion. The caller adds the properties and finish()
 * closes the root.
 */
static void begin(struct w *w, const struct lw_emf_options *opt, uint64_t timestamp_ms,
                  const struct metrics *ms, const char *kind)
{
    open_c(w, '{');
    key(w, "_aws");
    open_c(w, '{');
    key_u64(w, "Timestamp", timestamp_ms);
    key(w, "CloudWatchMetrics");
    open_c(w, '[');
    comma(w);
    open_c(w, '{');
    /* options are validated: the namespace is plain ASCII, names may hold a quote */
    key_text(w, "Namespace", opt->namespace_);
    PUT_LIT(w, ",\"Dimensions\":[[\"FunctionName\"]");
    if (opt->version_dimension)
        PUT_LIT(w, ",[\"FunctionName\",\"FunctionVersion\"]");
    PUT_LIT(w, "],\"Metrics\":[");
    definitions(w, opt->cache, ms);
    PUT_LIT(w, "]}]}");
    w->first = false;
    key_text(w, "FunctionName", opt->function_name);
    if (opt->function_version && opt->function_version[0])
        key_text(w, "FunctionVersion", opt->function_version);
    for (size_t i = 0; i < ms->n; i++) {
        key(w, ms->m[i].name);
        put(w, ms->m[i].text, ms->m[i].len);
    }
    key_lit(w, "LeakwatchRecord", kind);
    key_lit(w, "LeakwatchVersion", LW_VERSION);
}

/*
 * Closes the root and ends the line with '\n' and a NUL, within min(cap, LW_EMF_MAX_BYTES + 1)
 * bytes: LW_ERR_TOO_LARGE with an empty buffer when it did not fit, never a partial line.
 */
static enum lw_err finish(struct w *w, char *buf, size_t cap, size_t *len)
{
    close_c(w, '}');
    put_c(w, '\n');
    put_c(w, '\0');
    if (w->full) {
        if (cap > 0)
            buf[0] = '\0';
        *len = 0;
        return LW_ERR_TOO_LARGE;
    }
    *len = (size_t)(w->p - buf) - 1;
    return LW_OK;
}

static struct w writer(char *buf, size_t cap)
{
    size_t room = cap < LW_EMF_MAX_BYTES + 1 ? cap : LW_EMF_MAX_BYTES + 1;
    struct w w = {.p = buf, .end = buf + room, .full = buf == NULL, .first = true};
    return w;
}

/* The allocation sites that grew most (the Python probe with tracemalloc), largest first. */
static void sites(struct w *w, const struct lw_alloc_sites *s)
{
    key(w, "AllocationSites");
    open_c(w, '[');
    for (uint32_t i = 0; i < s->n && i < LW_SITES_MAX && !w->full; i++) {
        const struct lw_alloc_site *site = &s->site[i];
        comma(w);
        open_c(w, '{');
        key_text(w, "Site", site->where);
        key_double(w, "GrowthBytes", (double)site->growth_bytes);
        key_double(w, "GrowthCount", (double)site->growth_count);
        close_c(w, '}');
    }
    close_c(w, ']');
}

static void processes(struct w *w, const struct lw_record *rec)
{
    key(w, "Processes");
    open_c(w, '[');
    uint32_t n = rec->n_procs < LW_MAX_PROCS ? rec->n_procs : LW_MAX_PROCS;
    for (uint32_t i = 0; i < n && !w->full; i++) {
        const struct lw_record_proc *p = &rec->procs[i];
        comma(w);
        open_c(w, '{');
        key_text(w, "Name", p->name);
        key_lit(w, "Role", lw_proc_role_name(p->role));
        key_double(w, "Pid", (double)p->pid);
        if (p->have_start) {
            key_u64(w, "RssStartBytes", p->start.rss_bytes);
            key_u64(w, "AnonStartBytes", p->start.rss_anon_bytes);
        }
        if (p->have_end) {
            key_u64(w, "RssEndBytes", p->end.rss_bytes);
            key_u64(w, "AnonEndBytes", p->end.rss_anon_bytes);
            key_u64(w, "FileEndBytes", p->end.rss_file_bytes);
            key_u64(w, "ShmemEndBytes", p->end.rss_shmem_bytes);
            key_u64(w, "PeakBytes", p->peak_bytes);
        }
        close_c(w, '}');
    }
    close_c(w, ']');
}

enum lw_err lw_emf_encode_record(const struct lw_emf_options *opt, const struct lw_record *rec,
                                 const struct lw_verdict *verdict_or_null,
                                 const struct lw_health *health_delta_or_null, char *buf,
                                 size_t cap, size_t *len)
{
    *len = 0;
    if (lw_emf_options_check(opt) != LW_OK || !rec)
        return LW_ERR_INVALID;
    const struct lw_verdict *v = verdict_or_null;
    if (v && v->kind >= LW_VERDICT_COUNT)
        v = NULL;

    struct metrics ms;
    ms.n = 0;
    for (int i = 0; i < LW_M_COUNT; i++) {
        double value;
        if (!lw_metric_value((enum lw_metric_id)i, rec, v, &value))
            continue;
        const struct lw_metric_desc *desc = lw_metric_desc((enum lw_metric_id)i);
        metric(&ms, desc->emf_name, desc->emf_unit, value);
    }
    health_metrics(&ms, health_delta_or_null);

    struct w w = writer(buf, cap);
    bool interval = rec->kind == LW_RECORD_INTERVAL;
    begin(&w, opt, rec->end_time_ms ? rec->end_time_ms : rec->start_time_ms, &ms,
          interval ? "interval" : "invocation");
    if (!interval)
        key_text(&w, "RequestId", rec->request_id);
    else
        key_u64(&w, "IntervalStartTimeMs", rec->start_time_ms);
    key_text(&w, "EnvironmentId", rec->env_id);
    key_u64(&w, "Sequence", rec->seq);
    key_bool(&w, "ColdStart", rec->cold_start);
    if (rec->restored)
        key_bool(&w, "Restored", true);
    key_lit(&w, "PeakMethod", lw_peak_method_name(rec->peak_method));
    if (rec->platform.status[0])
        key_text(&w, "Status", rec->platform.status);
    if (rec->platform.error_type[0])
        key_text(&w, "ErrorType", rec->platform.error_type);
    if (rec->gaps)
        key_flags(&w, "Incomplete", rec->gaps, LW_GAP_LAST, lw_record_gap_name);
    if (v) {
        key_lit(&w, "Verdict", lw_verdict_name(v->kind));
        if (v->reason[0])
            key_text(&w, "VerdictReason", v->reason);
        if (v->culprit[0])
            key_text(&w, "Culprit", v->culprit);
        if (v->culprit[0] && v->culprit_pid > 0)
            key_double(&w, "CulpritPid", (double)v->culprit_pid);
    }
    if (rec->runtime.sites.n > 0)
        sites(&w, &rec->runtime.sites);
    processes(&w, rec);
    key_u64(&w, "StartTimeMs", rec->start_time_ms);
    if (rec->end_time_ms)
        key_u64(&w, "EndTimeMs", rec->end_time_ms);
    return finish(&w, buf, cap, len);
}

enum lw_err lw_emf_encode_shutdown(const struct lw_emf_options *opt,
                                   const struct lw_emf_shutdown *s,
                                   const struct lw_health *health_delta_or_null, char *buf,
                                   size_t cap, size_t *len)
{
    *len = 0;
    if (lw_emf_options_check(opt) != LW_OK || !s)
        return LW_ERR_INVALID;
    struct metrics ms;
    ms.n = 0;
    metric(&ms, "EnvironmentLifetimeSeconds", "Seconds",
           isfinite(s->lifetime_seconds) && s->lifetime_seconds > 0 ? s->lifetime_seconds : 0);
    metric(&ms, "EnvironmentInvocations", "Count", (double)s->invocations);
    health_metrics(&ms, health_delta_or_null);
    struct w w = writer(buf, cap);
    begin(&w, opt, s->time_ms, &ms, "shutdown");
    key_text(&w, "EnvironmentId", s->env_id);
    /* The word the platform sent (an emulator or a future platform may send one leakwatch
     * does not know), next to what leakwatch makes of it. */
    key_text(&w, "ShutdownReason", s->reason);
    key_text(&w, "ShutdownCategory", s->category);
    return finish(&w, buf, cap, len);
}

enum lw_err lw_emf_encode_death(const struct lw_emf_options *opt, const struct lw_emf_death *e,
                                char *buf, size_t cap, size_t *len)
{
    *len = 0;
    if (lw_emf_options_check(opt) != LW_OK || !e || !e->dead || !e->death)
        return LW_ERR_INVALID;
    const struct lw_state *s = e->dead;
    const struct lw_death *x = e->death;
    bool oom = x->cause == LW_DEATH_OUT_OF_MEMORY;
    struct metrics ms;
    ms.n = 0;
    metric(&ms, "OutOfMemoryDeaths", "Count", oom ? 1 : 0);
    if (oom)
        metric(&ms, "OutOfMemoryPredicted", "Count", x->predicted ? 1 : 0);
    if (x->predicted)
        metric(&ms, "OutOfMemoryLeadSeconds", "Seconds", x->lead_minutes * 60.0);
    metric(&ms, "DeadEnvironmentLifetimeSeconds", "Seconds", x->age_seconds);
    metric(&ms, "DeadEnvironmentInvocations", "Count", (double)x->invocations);
    metric(&ms, "DeadEnvironmentUnwrittenRecords", "Count", (double)x->unwritten_records);
    struct w w = writer(buf, cap);
    begin(&w, opt, e->time_ms, &ms, "death");
    key_text(&w, "EnvironmentId", e->env_id);
    key_text(&w, "DeadEnvironmentId", s->env_id);
    key_lit(&w, "Cause", lw_death_cause_name(x->cause));
    if (oom) {
        key_flags(&w, "OomForms", x->oom_forms, LW_OOM_FORM_LAST, lw_oom_form_name);
        key_bool(&w, "Predicted", x->predicted);
    }
    if (x->predicted) {
        key_double(&w, "LeadInvocations", x->lead_invocations);
        key_double(&w, "LeadMinutes", round(x->lead_minutes * 100.0) / 100.0);
    }
    if (x->have_error) {
        key_double(&w, "ProjectedOomSequence", round(x->projected_seq * 10.0) / 10.0);
        key_double(&w, "LastProjectedOomSequence", round(x->last_projected_seq * 10.0) / 10.0);
        key_u64(&w, "ActualOomSequence", x->invocations);
        key_double(&w, "ProjectionErrorPercent", round(x->error_percent * 10.0) / 10.0);
    }
    key_bool(&w, "Intervals", s->intervals);
    /* the invocation it was in when it ended: its record is the death's, and when no SHUTDOWN
     * came to close it (UnwrittenRecords), this line is the only one that names it */
    if (s->open_request_id[0] && !s->intervals)
        key_text(&w, "LastRequestId", s->open_request_id);
    key_bool(&w, "Restored", s->restored);
    key_u64(&w, "DeadEnvironmentStartTimeMs", s->started_ms);
    key_u64(&w, "DeadEnvironmentEndTimeMs", s->ended ? s->ended_ms : s->boundary_ms);
    key_lit(&w, "LastVerdict", lw_verdict_name(s->verdict));
    if (s->have_readings) {
        key_u64(&w, "LastFunctionRssBytes", s->fn_rss_bytes);
        key_u64(&w, "LastEnvironmentRssBytes", s->env_rss_bytes);
        key_u64(&w, "PeakEnvironmentRssBytes", s->env_rss_max_bytes);
    }
    if (s->memory_limit_bytes)
        key_u64(&w, "MemoryLimitBytes", s->memory_limit_bytes);
    if (s->have_last_report) {
        key_u64(&w, "LastReportSequence", s->last_report_seq);
        key_text(&w, "LastStatus", s->last_status);
        if (s->last_error_type[0])
            key_text(&w, "LastErrorType", s->last_error_type);
        if (s->last_memory_size_mb)
            key_u64(&w, "LastMaxMemoryUsedMB", s->last_max_memory_used_mb);
    }
    /* the word the platform sent; absent when no SHUTDOWN reached the environment */
    if (s->ended)
        key_text(&w, "ShutdownReason", s->shutdown_reason);
    return finish(&w, buf, cap, len);
}
