/*
 * EMF documents (see emf.h). The tree is built with constant keys where the key is a static
 * string (no copy), numbers are emitted as raw text formatted here, and the whole tree is
 * printed into the caller's buffer with cJSON_PrintPreallocated: the only allocations are the
 * tree's nodes, all freed before returning.
 */
#include <leakwatch/emf.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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
    const unsigned char *s = (const unsigned char *)v;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return false;
        size_t l = lw_text_utf8_len(s + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
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

/* ---- building ---------------------------------------------------------------------------- */

/* A builder: the first allocation failure is remembered and every later call is a no-op. */
struct doc {
    cJSON *root;
    cJSON *metrics; /* the directive's "Metrics" array */
    bool oom;
};

static cJSON *check(struct doc *d, cJSON *item)
{
    if (!item)
        d->oom = true;
    return item;
}

/* Adds item under a static key (not copied); takes ownership of item in every case. */
static void add(struct doc *d, cJSON *obj, const char *static_key, cJSON *item)
{
    if (!item || !obj) {
        d->oom = true;
        cJSON_Delete(item);
        return;
    }
    if (!cJSON_AddItemToObjectCS(obj, static_key, item)) {
        d->oom = true;
        cJSON_Delete(item);
    }
}

static void append(struct doc *d, cJSON *array, cJSON *item)
{
    if (!item || !array) {
        d->oom = true;
        cJSON_Delete(item);
        return;
    }
    if (!cJSON_AddItemToArray(array, item)) {
        d->oom = true;
        cJSON_Delete(item);
    }
}

/* v in decimal at the end of b[0..24), NUL-terminated; returns where it starts. An EMF line
 * holds about sixty integers: snprintf for each was a tenth of the line's cost. */
static char *dec_u64(char b[24], uint64_t v)
{
    char *p = b + 23;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

static cJSON *raw_u64(uint64_t v)
{
    char b[24];
    return cJSON_CreateRaw(dec_u64(b, v));
}

/* A finite double as JSON: integral values as integers, others in the shortest exact form. */
static cJSON *raw_double(double v)
{
    char b[40];
    if (!isfinite(v))
        return NULL;
    if (v == floor(v) && fabs(v) < 9.2e18) {
        int64_t i = (int64_t)v;
        char *p = dec_u64(b, i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i);
        if (i < 0)
            *--p = '-';
        return cJSON_CreateRaw(p);
    } else {
        snprintf(b, sizeof(b), "%.15g", v);
        if (strtod(b, NULL) != v)
            snprintf(b, sizeof(b), "%.17g", v);
    }
    return cJSON_CreateRaw(b);
}

static void add_u64(struct doc *d, cJSON *obj, const char *key, uint64_t v)
{
    add(d, obj, key, raw_u64(v));
}

static void add_str(struct doc *d, cJSON *obj, const char *key, const char *v)
{
    char clean[LW_EMF_DIMENSION_VALUE_MAX + 1];
    lw_text_utf8_clean(clean, sizeof(clean), v, '?');
    add(d, obj, key, cJSON_CreateString(clean));
}

/* A metric: its definition in the directive and its value at the top level. */
static void add_metric(struct doc *d, const char *name, const char *unit, double v)
{
    cJSON *value = raw_double(v);
    if (!value)
        return; /* not finite: left out */
    cJSON *def = check(d, cJSON_CreateObject());
    add(d, def, "Name", cJSON_CreateStringReference(name));
    add(d, def, "Unit", cJSON_CreateStringReference(unit));
    append(d, d->metrics, def);
    add(d, d->root, name, value);
}

/*
 * The root with its "_aws" metadata (Timestamp, one directive with the dimension sets and an
 * empty Metrics array that add_metric fills) and the dimension values.
 */
static void begin(struct doc *d, const struct lw_emf_options *opt, uint64_t timestamp_ms)
{
    d->root = check(d, cJSON_CreateObject());
    cJSON *aws = check(d, cJSON_CreateObject());
    add(d, d->root, "_aws", aws);
    add_u64(d, aws, "Timestamp", timestamp_ms);
    cJSON *directives = check(d, cJSON_CreateArray());
    add(d, aws, "CloudWatchMetrics", directives);
    cJSON *dir = check(d, cJSON_CreateObject());
    append(d, directives, dir);
    /* options are validated and outlive the tree: referenced, not copied */
    add(d, dir, "Namespace", cJSON_CreateStringReference(opt->namespace_));
    cJSON *dims = check(d, cJSON_CreateArray());
    add(d, dir, "Dimensions", dims);
    cJSON *set = check(d, cJSON_CreateArray());
    append(d, dims, set);
    append(d, set, cJSON_CreateStringReference("FunctionName"));
    if (opt->version_dimension) {
        set = check(d, cJSON_CreateArray());
        append(d, dims, set);
        append(d, set, cJSON_CreateStringReference("FunctionName"));
        append(d, set, cJSON_CreateStringReference("FunctionVersion"));
    }
    d->metrics = check(d, cJSON_CreateArray());
    add(d, dir, "Metrics", d->metrics);

    add(d, d->root, "FunctionName", cJSON_CreateStringReference(opt->function_name));
    if (opt->function_version && opt->function_version[0])
        add(d, d->root, "FunctionVersion", cJSON_CreateStringReference(opt->function_version));
}

static void add_health(struct doc *d, const struct lw_health *h)
{
    if (!h)
        return;
    for (int i = 0; i < LW_H_COUNT; i++)
        add_metric(d, lw_health_name((enum lw_health_counter)i), "Count", (double)h->c[i]);
}

/*
 * Prints the document as one line into (buf, cap) and frees the tree. cJSON_PrintPreallocated
 * writes nothing beyond the length it is given and reports a document that does not fit.
 */
static enum lw_err finish(struct doc *d, char *buf, size_t cap, size_t *len)
{
    enum lw_err err = LW_OK;
    *len = 0;
    if (d->oom) {
        err = LW_ERR_NOMEM;
        goto out;
    }
    /* room for the '\n' and the NUL; cJSON takes an int length */
    size_t room = cap < LW_EMF_MAX_BYTES + 1 ? cap : LW_EMF_MAX_BYTES + 1;
    if (room < 2 || !cJSON_PrintPreallocated(d->root, buf, (int)(room - 1), false)) {
        err = LW_ERR_TOO_LARGE;
        goto out;
    }
    size_t n = strnlen(buf, room - 1);
    if (n + 2 > room) {
        err = LW_ERR_TOO_LARGE;
        goto out;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    *len = n + 1;
out:
    if (err != LW_OK && cap > 0)
        buf[0] = '\0';
    cJSON_Delete(d->root);
    d->root = NULL;
    return err;
}

static void add_processes(struct doc *d, const struct lw_record *rec)
{
    cJSON *procs = check(d, cJSON_CreateArray());
    add(d, d->root, "Processes", procs);
    uint32_t n = rec->n_procs < LW_MAX_PROCS ? rec->n_procs : LW_MAX_PROCS;
    for (uint32_t i = 0; i < n && !d->oom; i++) {
        const struct lw_record_proc *p = &rec->procs[i];
        cJSON *o = check(d, cJSON_CreateObject());
        append(d, procs, o);
        add_str(d, o, "Name", p->name);
        add(d, o, "Role", cJSON_CreateStringReference(lw_proc_role_name(p->role)));
        add(d, o, "Pid", raw_double((double)p->pid));
        if (p->have_start) {
            add_u64(d, o, "RssStartBytes", p->start.rss_bytes);
            add_u64(d, o, "AnonStartBytes", p->start.rss_anon_bytes);
        }
        if (p->have_end) {
            add_u64(d, o, "RssEndBytes", p->end.rss_bytes);
            add_u64(d, o, "AnonEndBytes", p->end.rss_anon_bytes);
            add_u64(d, o, "FileEndBytes", p->end.rss_file_bytes);
            add_u64(d, o, "ShmemEndBytes", p->end.rss_shmem_bytes);
            add_u64(d, o, "PeakBytes", p->peak_bytes);
        }
    }
}

/* The allocation sites that grew most (the Python probe with tracemalloc), largest first. */
static void add_sites(struct doc *d, const struct lw_alloc_sites *sites)
{
    cJSON *list = check(d, cJSON_CreateArray());
    add(d, d->root, "AllocationSites", list);
    for (uint32_t i = 0; i < sites->n && i < LW_SITES_MAX && !d->oom; i++) {
        const struct lw_alloc_site *s = &sites->site[i];
        cJSON *o = check(d, cJSON_CreateObject());
        append(d, list, o);
        add_str(d, o, "Site", s->where);
        add(d, o, "GrowthBytes", raw_double((double)s->growth_bytes));
        add(d, o, "GrowthCount", raw_double((double)s->growth_count));
    }
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

    struct doc d = {0};
    begin(&d, opt, rec->end_time_ms ? rec->end_time_ms : rec->start_time_ms);
    for (int i = 0; i < LW_M_COUNT; i++) {
        double value;
        if (!lw_metric_value((enum lw_metric_id)i, rec, v, &value))
            continue;
        const struct lw_metric_desc *desc = lw_metric_desc((enum lw_metric_id)i);
        add_metric(&d, desc->emf_name, desc->emf_unit, value);
    }
    add_health(&d, health_delta_or_null);

    cJSON *root = d.root;
    bool interval = rec->kind == LW_RECORD_INTERVAL;
    add(&d, root, "LeakwatchRecord",
        cJSON_CreateStringReference(interval ? "interval" : "invocation"));
    add(&d, root, "LeakwatchVersion", cJSON_CreateStringReference(LW_VERSION));
    if (!interval)
        add_str(&d, root, "RequestId", rec->request_id);
    else
        add_u64(&d, root, "IntervalStartTimeMs", rec->start_time_ms);
    add_str(&d, root, "EnvironmentId", rec->env_id);
    add_u64(&d, root, "Sequence", rec->seq);
    add(&d, root, "ColdStart", cJSON_CreateBool(rec->cold_start));
    if (rec->restored)
        add(&d, root, "Restored", cJSON_CreateBool(true));
    add(&d, root, "PeakMethod", cJSON_CreateStringReference(lw_peak_method_name(rec->peak_method)));
    if (rec->platform.status[0])
        add_str(&d, root, "Status", rec->platform.status);
    if (rec->platform.error_type[0])
        add_str(&d, root, "ErrorType", rec->platform.error_type);
    if (rec->gaps) {
        cJSON *inc = check(&d, cJSON_CreateArray());
        add(&d, root, "Incomplete", inc);
        for (uint32_t f = 1; f <= LW_GAP_LAST; f <<= 1) {
            if (rec->gaps & f)
                append(&d, inc, cJSON_CreateStringReference(lw_record_gap_name(f)));
        }
    }
    if (v) {
        add(&d, root, "Verdict", cJSON_CreateStringReference(lw_verdict_name(v->kind)));
        if (v->reason[0])
            add_str(&d, root, "VerdictReason", v->reason);
        if (v->culprit[0])
            add_str(&d, root, "Culprit", v->culprit);
        if (v->culprit[0] && v->culprit_pid > 0)
            add(&d, root, "CulpritPid", raw_double((double)v->culprit_pid));
    }
    if (rec->runtime.sites.n > 0)
        add_sites(&d, &rec->runtime.sites);
    add_processes(&d, rec);
    add_u64(&d, root, "StartTimeMs", rec->start_time_ms);
    if (rec->end_time_ms)
        add_u64(&d, root, "EndTimeMs", rec->end_time_ms);
    return finish(&d, buf, cap, len);
}

enum lw_err lw_emf_encode_shutdown(const struct lw_emf_options *opt,
                                   const struct lw_emf_shutdown *s,
                                   const struct lw_health *health_delta_or_null, char *buf,
                                   size_t cap, size_t *len)
{
    *len = 0;
    if (lw_emf_options_check(opt) != LW_OK || !s)
        return LW_ERR_INVALID;
    struct doc d = {0};
    begin(&d, opt, s->time_ms);
    add_metric(&d, "EnvironmentLifetimeSeconds", "Seconds",
               isfinite(s->lifetime_seconds) && s->lifetime_seconds > 0 ? s->lifetime_seconds : 0);
    add_metric(&d, "EnvironmentInvocations", "Count", (double)s->invocations);
    add_health(&d, health_delta_or_null);
    add(&d, d.root, "LeakwatchRecord", cJSON_CreateStringReference("shutdown"));
    add(&d, d.root, "LeakwatchVersion", cJSON_CreateStringReference(LW_VERSION));
    add_str(&d, d.root, "EnvironmentId", s->env_id);
    /* The word the platform sent (an emulator or a future platform may send one leakwatch
     * does not know), next to what leakwatch makes of it. */
    add_str(&d, d.root, "ShutdownReason", s->reason);
    add_str(&d, d.root, "ShutdownCategory", s->category);
    return finish(&d, buf, cap, len);
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
    struct doc d = {0};
    begin(&d, opt, e->time_ms);
    add_metric(&d, "OutOfMemoryDeaths", "Count", oom ? 1 : 0);
    if (oom)
        add_metric(&d, "OutOfMemoryPredicted", "Count", x->predicted ? 1 : 0);
    if (x->predicted)
        add_metric(&d, "OutOfMemoryLeadSeconds", "Seconds", x->lead_minutes * 60.0);
    add_metric(&d, "DeadEnvironmentLifetimeSeconds", "Seconds", x->age_seconds);
    add_metric(&d, "DeadEnvironmentInvocations", "Count", (double)x->invocations);
    cJSON *root = d.root;
    add(&d, root, "LeakwatchRecord", cJSON_CreateStringReference("death"));
    add(&d, root, "LeakwatchVersion", cJSON_CreateStringReference(LW_VERSION));
    add_str(&d, root, "EnvironmentId", e->env_id);
    add_str(&d, root, "DeadEnvironmentId", s->env_id);
    add(&d, root, "Cause", cJSON_CreateStringReference(lw_death_cause_name(x->cause)));
    if (oom) {
        cJSON *forms = check(&d, cJSON_CreateArray());
        for (uint32_t f = 1; f <= LW_OOM_FORM_LAST; f <<= 1)
            if (x->oom_forms & f)
                append(&d, forms, cJSON_CreateStringReference(lw_oom_form_name(f)));
        add(&d, root, "OomForms", forms);
        add(&d, root, "Predicted", cJSON_CreateBool(x->predicted));
    }
    if (x->predicted) {
        add(&d, root, "LeadInvocations", raw_double(x->lead_invocations));
        add(&d, root, "LeadMinutes", raw_double(round(x->lead_minutes * 100.0) / 100.0));
    }
    if (x->have_error) {
        add(&d, root, "ProjectedOomSequence", raw_double(round(x->projected_seq * 10.0) / 10.0));
        add(&d, root, "LastProjectedOomSequence",
            raw_double(round(x->last_projected_seq * 10.0) / 10.0));
        add_u64(&d, root, "ActualOomSequence", x->invocations);
        add(&d, root, "ProjectionErrorPercent", raw_double(round(x->error_percent * 10.0) / 10.0));
    }
    add(&d, root, "Intervals", cJSON_CreateBool(s->intervals));
    add(&d, root, "Restored", cJSON_CreateBool(s->restored));
    add_u64(&d, root, "DeadEnvironmentStartTimeMs", s->started_ms);
    add_u64(&d, root, "DeadEnvironmentEndTimeMs", s->ended ? s->ended_ms : s->boundary_ms);
    add(&d, root, "LastVerdict", cJSON_CreateStringReference(lw_verdict_name(s->verdict)));
    if (s->have_readings) {
        add_u64(&d, root, "LastFunctionRssBytes", s->fn_rss_bytes);
        add_u64(&d, root, "LastEnvironmentRssBytes", s->env_rss_bytes);
        add_u64(&d, root, "PeakEnvironmentRssBytes", s->env_rss_max_bytes);
    }
    if (s->memory_limit_bytes)
        add_u64(&d, root, "MemoryLimitBytes", s->memory_limit_bytes);
    if (s->have_last_report) {
        add_u64(&d, root, "LastReportSequence", s->last_report_seq);
        add_str(&d, root, "LastStatus", s->last_status);
        if (s->last_error_type[0])
            add_str(&d, root, "LastErrorType", s->last_error_type);
        if (s->last_memory_size_mb)
            add_u64(&d, root, "LastMaxMemoryUsedMB", s->last_max_memory_used_mb);
    }
    /* the word the platform sent; absent when no SHUTDOWN reached the environment */
    if (s->ended)
        add_str(&d, root, "ShutdownReason", s->shutdown_reason);
    return finish(&d, buf, cap, len);
}
