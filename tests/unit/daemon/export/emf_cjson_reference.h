/*
 * The EMF encoder as it was before it wrote lines itself: a cJSON tree built member by member
 * and printed with cJSON_PrintPreallocated (src/daemon/export/emf.c up to the merge of
 * "EMF lines written straight into the buffer"). Kept here, and only here, as the reference
 * test_emf.c compares the direct encoder with: the same records must give the same document.
 * Included by test_emf.c (one executable per test file); everything is static.
 */
#ifndef LEAKWATCH_TEST_EMF_CJSON_REFERENCE_H
#define LEAKWATCH_TEST_EMF_CJSON_REFERENCE_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <leakwatch/emf.h>
#include <leakwatch/metrics.h>
#include <leakwatch/text.h>

/* ---- building ---------------------------------------------------------------------------- */

/* A builder: the first allocation failure is remembered and every later call is a no-op. */
struct ref_doc {
    cJSON *root;
    cJSON *metrics; /* the directive's "Metrics" array */
    bool oom;
};

static cJSON *ref_check(struct ref_doc *d, cJSON *item)
{
    if (!item)
        d->oom = true;
    return item;
}

/* Adds item under a static key (not copied); takes ownership of item in every case. */
static void ref_add(struct ref_doc *d, cJSON *obj, const char *static_key, cJSON *item)
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

static void ref_append(struct ref_doc *d, cJSON *array, cJSON *item)
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
static char *ref_dec_u64(char b[24], uint64_t v)
{
    char *p = b + 23;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

static cJSON *ref_raw_u64(uint64_t v)
{
    char b[24];
    return cJSON_CreateRaw(ref_dec_u64(b, v));
}

/* A finite double as JSON: integral values as integers, others in the shortest exact form. */
static cJSON *ref_raw_double(double v)
{
    char b[40];
    if (!isfinite(v))
        return NULL;
    if (v == floor(v) && fabs(v) < 9.2e18) {
        int64_t i = (int64_t)v;
        char *p = ref_dec_u64(b, i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i);
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

static void ref_add_u64(struct ref_doc *d, cJSON *obj, const char *key, uint64_t v)
{
    ref_add(d, obj, key, ref_raw_u64(v));
}

static void ref_add_str(struct ref_doc *d, cJSON *obj, const char *key, const char *v)
{
    char clean[LW_EMF_DIMENSION_VALUE_MAX + 1];
    lw_text_utf8_clean(clean, sizeof(clean), v, '?');
    ref_add(d, obj, key, cJSON_CreateString(clean));
}

/* A metric: its definition in the directive and its value at the top level. */
static void ref_add_metric(struct ref_doc *d, const char *name, const char *unit, double v)
{
    cJSON *value = ref_raw_double(v);
    if (!value)
        return; /* not finite: left out */
    cJSON *def = ref_check(d, cJSON_CreateObject());
    ref_add(d, def, "Name", cJSON_CreateStringReference(name));
    ref_add(d, def, "Unit", cJSON_CreateStringReference(unit));
    ref_append(d, d->metrics, def);
    ref_add(d, d->root, name, value);
}

/*
 * The root with its "_aws" metadata (Timestamp, one directive with the dimension sets and an
 * empty Metrics array that add_metric fills) and the dimension values.
 */
static void ref_begin(struct ref_doc *d, const struct lw_emf_options *opt, uint64_t timestamp_ms)
{
    d->root = ref_check(d, cJSON_CreateObject());
    cJSON *aws = ref_check(d, cJSON_CreateObject());
    ref_add(d, d->root, "_aws", aws);
    ref_add_u64(d, aws, "Timestamp", timestamp_ms);
    cJSON *directives = ref_check(d, cJSON_CreateArray());
    ref_add(d, aws, "CloudWatchMetrics", directives);
    cJSON *dir = ref_check(d, cJSON_CreateObject());
    ref_append(d, directives, dir);
    /* options are validated and outlive the tree: referenced, not copied */
    ref_add(d, dir, "Namespace", cJSON_CreateStringReference(opt->namespace_));
    cJSON *dims = ref_check(d, cJSON_CreateArray());
    ref_add(d, dir, "Dimensions", dims);
    cJSON *set = ref_check(d, cJSON_CreateArray());
    ref_append(d, dims, set);
    ref_append(d, set, cJSON_CreateStringReference("FunctionName"));
    if (opt->version_dimension) {
        set = ref_check(d, cJSON_CreateArray());
        ref_append(d, dims, set);
        ref_append(d, set, cJSON_CreateStringReference("FunctionName"));
        ref_append(d, set, cJSON_CreateStringReference("FunctionVersion"));
    }
    d->metrics = ref_check(d, cJSON_CreateArray());
    ref_add(d, dir, "Metrics", d->metrics);

    ref_add(d, d->root, "FunctionName", cJSON_CreateStringReference(opt->function_name));
    if (opt->function_version && opt->function_version[0])
        ref_add(d, d->root, "FunctionVersion", cJSON_CreateStringReference(opt->function_version));
}

static void ref_add_health(struct ref_doc *d, const struct lw_health *h)
{
    if (!h)
        return;
    for (int i = 0; i < LW_H_COUNT; i++)
        ref_add_metric(d, lw_health_name((enum lw_health_counter)i), "Count", (double)h->c[i]);
}

/*
 * Prints the document as one line into (buf, cap) and frees the tree. cJSON_PrintPreallocated
 * writes nothing beyond the length it is given and reports a document that does not fit.
 */
static enum lw_err ref_finish(struct ref_doc *d, char *buf, size_t cap, size_t *len)
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

static void ref_add_processes(struct ref_doc *d, const struct lw_record *rec)
{
    cJSON *procs = ref_check(d, cJSON_CreateArray());
    ref_add(d, d->root, "Processes", procs);
    uint32_t n = rec->n_procs < LW_MAX_PROCS ? rec->n_procs : LW_MAX_PROCS;
    for (uint32_t i = 0; i < n && !d->oom; i++) {
        const struct lw_record_proc *p = &rec->procs[i];
        cJSON *o = ref_check(d, cJSON_CreateObject());
        ref_append(d, procs, o);
        ref_add_str(d, o, "Name", p->name);
        ref_add(d, o, "Role", cJSON_CreateStringReference(lw_proc_role_name(p->role)));
        ref_add(d, o, "Pid", ref_raw_double((double)p->pid));
        if (p->have_start) {
            ref_add_u64(d, o, "RssStartBytes", p->start.rss_bytes);
            ref_add_u64(d, o, "AnonStartBytes", p->start.rss_anon_bytes);
        }
        if (p->have_end) {
            ref_add_u64(d, o, "RssEndBytes", p->end.rss_bytes);
            ref_add_u64(d, o, "AnonEndBytes", p->end.rss_anon_bytes);
            ref_add_u64(d, o, "FileEndBytes", p->end.rss_file_bytes);
            ref_add_u64(d, o, "ShmemEndBytes", p->end.rss_shmem_bytes);
            ref_add_u64(d, o, "PeakBytes", p->peak_bytes);
        }
    }
}

static enum lw_err ref_emf_encode_record(const struct lw_emf_options *opt,
                                         const struct lw_record *rec,
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

    struct ref_doc d = {0};
    ref_begin(&d, opt, rec->end_time_ms ? rec->end_time_ms : rec->start_time_ms);
    for (int i = 0; i < LW_M_COUNT; i++) {
        double value;
        if (!lw_metric_value((enum lw_metric_id)i, rec, v, &value))
            continue;
        const struct lw_metric_desc *desc = lw_metric_desc((enum lw_metric_id)i);
        ref_add_metric(&d, desc->emf_name, desc->emf_unit, value);
    }
    ref_add_health(&d, health_delta_or_null);

    cJSON *root = d.root;
    bool interval = rec->kind == LW_RECORD_INTERVAL;
    ref_add(&d, root, "LeakwatchRecord",
            cJSON_CreateStringReference(interval ? "interval" : "invocation"));
    ref_add(&d, root, "LeakwatchVersion", cJSON_CreateStringReference(LW_VERSION));
    if (!interval)
        ref_add_str(&d, root, "RequestId", rec->request_id);
    else
        ref_add_u64(&d, root, "IntervalStartTimeMs", rec->start_time_ms);
    ref_add_str(&d, root, "EnvironmentId", rec->env_id);
    ref_add_u64(&d, root, "Sequence", rec->seq);
    ref_add(&d, root, "ColdStart", cJSON_CreateBool(rec->cold_start));
    if (rec->restored)
        ref_add(&d, root, "Restored", cJSON_CreateBool(true));
    ref_add(&d, root, "PeakMethod",
            cJSON_CreateStringReference(lw_peak_method_name(rec->peak_method)));
    if (rec->platform.status[0])
        ref_add_str(&d, root, "Status", rec->platform.status);
    if (rec->platform.error_type[0])
        ref_add_str(&d, root, "ErrorType", rec->platform.error_type);
    if (rec->gaps) {
        cJSON *inc = ref_check(&d, cJSON_CreateArray());
        ref_add(&d, root, "Incomplete", inc);
        for (uint32_t f = 1; f <= LW_GAP_LAST; f <<= 1) {
            if (rec->gaps & f)
                ref_append(&d, inc, cJSON_CreateStringReference(lw_record_gap_name(f)));
        }
    }
    if (v) {
        ref_add(&d, root, "Verdict", cJSON_CreateStringReference(lw_verdict_name(v->kind)));
        if (v->reason[0])
            ref_add_str(&d, root, "VerdictReason", v->reason);
        if (v->culprit[0])
            ref_add_str(&d, root, "Culprit", v->culprit);
        if (v->culprit[0] && v->culprit_pid > 0)
            ref_add(&d, root, "CulpritPid", ref_raw_double((double)v->culprit_pid));
    }
    ref_add_processes(&d, rec);
    ref_add_u64(&d, root, "StartTimeMs", rec->start_time_ms);
    if (rec->end_time_ms)
        ref_add_u64(&d, root, "EndTimeMs", rec->end_time_ms);
    return ref_finish(&d, buf, cap, len);
}

static enum lw_err ref_emf_encode_shutdown(const struct lw_emf_options *opt,
                                           const struct lw_emf_shutdown *s,
                                           const struct lw_health *health_delta_or_null, char *buf,
                                           size_t cap, size_t *len)
{
    *len = 0;
    if (lw_emf_options_check(opt) != LW_OK || !s)
        return LW_ERR_INVALID;
    struct ref_doc d = {0};
    ref_begin(&d, opt, s->time_ms);
    ref_add_metric(&d, "EnvironmentLifetimeSeconds", "Seconds",
                   isfinite(s->lifetime_seconds) && s->lifetime_seconds > 0 ? s->lifetime_seconds
                                                                            : 0);
    ref_add_metric(&d, "EnvironmentInvocations", "Count", (double)s->invocations);
    ref_add_health(&d, health_delta_or_null);
    ref_add(&d, d.root, "LeakwatchRecord", cJSON_CreateStringReference("shutdown"));
    ref_add(&d, d.root, "LeakwatchVersion", cJSON_CreateStringReference(LW_VERSION));
    ref_add_str(&d, d.root, "EnvironmentId", s->env_id);
    /* The word the platform sent (an emulator or a future platform may send one leakwatch
     * does not know), next to what leakwatch makes of it. */
    ref_add_str(&d, d.root, "ShutdownReason", s->reason);
    ref_add_str(&d, d.root, "ShutdownCategory", s->category);
    return ref_finish(&d, buf, cap, len);
}

static enum lw_err ref_emf_encode_death(const struct lw_emf_options *opt,
                                        const struct lw_emf_death *e, char *buf, size_t cap,
                                        size_t *len)
{
    *len = 0;
    if (lw_emf_options_check(opt) != LW_OK || !e || !e->dead || !e->death)
        return LW_ERR_INVALID;
    const struct lw_state *s = e->dead;
    const struct lw_death *x = e->death;
    bool oom = x->cause == LW_DEATH_OUT_OF_MEMORY;
    struct ref_doc d = {0};
    ref_begin(&d, opt, e->time_ms);
    ref_add_metric(&d, "OutOfMemoryDeaths", "Count", oom ? 1 : 0);
    if (oom)
        ref_add_metric(&d, "OutOfMemoryPredicted", "Count", x->predicted ? 1 : 0);
    if (x->predicted)
        ref_add_metric(&d, "OutOfMemoryLeadSeconds", "Seconds", x->lead_minutes * 60.0);
    ref_add_metric(&d, "DeadEnvironmentLifetimeSeconds", "Seconds", x->age_seconds);
    ref_add_metric(&d, "DeadEnvironmentInvocations", "Count", (double)x->invocations);
    ref_add_metric(&d, "DeadEnvironmentUnwrittenRecords", "Count", (double)x->unwritten_records);
    cJSON *root = d.root;
    ref_add(&d, root, "LeakwatchRecord", cJSON_CreateStringReference("death"));
    ref_add(&d, root, "LeakwatchVersion", cJSON_CreateStringReference(LW_VERSION));
    ref_add_str(&d, root, "EnvironmentId", e->env_id);
    ref_add_str(&d, root, "DeadEnvironmentId", s->env_id);
    ref_add(&d, root, "Cause", cJSON_CreateStringReference(lw_death_cause_name(x->cause)));
    if (oom) {
        cJSON *forms = ref_check(&d, cJSON_CreateArray());
        for (uint32_t f = 1; f <= LW_OOM_FORM_LAST; f <<= 1)
            if (x->oom_forms & f)
                ref_append(&d, forms, cJSON_CreateStringReference(lw_oom_form_name(f)));
        ref_add(&d, root, "OomForms", forms);
        ref_add(&d, root, "Predicted", cJSON_CreateBool(x->predicted));
    }
    if (x->predicted) {
        ref_add(&d, root, "LeadInvocations", ref_raw_double(x->lead_invocations));
        ref_add(&d, root, "LeadMinutes", ref_raw_double(round(x->lead_minutes * 100.0) / 100.0));
    }
    if (x->have_error) {
        ref_add(&d, root, "ProjectedOomSequence",
                ref_raw_double(round(x->projected_seq * 10.0) / 10.0));
        ref_add(&d, root, "LastProjectedOomSequence",
                ref_raw_double(round(x->last_projected_seq * 10.0) / 10.0));
        ref_add_u64(&d, root, "ActualOomSequence", x->invocations);
        ref_add(&d, root, "ProjectionErrorPercent",
                ref_raw_double(round(x->error_percent * 10.0) / 10.0));
    }
    ref_add(&d, root, "Intervals", cJSON_CreateBool(s->intervals));
    if (s->open_request_id[0] && !s->intervals)
        ref_add_str(&d, root, "LastRequestId", s->open_request_id);
    ref_add(&d, root, "Restored", cJSON_CreateBool(s->restored));
    ref_add_u64(&d, root, "DeadEnvironmentStartTimeMs", s->started_ms);
    ref_add_u64(&d, root, "DeadEnvironmentEndTimeMs", s->ended ? s->ended_ms : s->boundary_ms);
    ref_add(&d, root, "LastVerdict", cJSON_CreateStringReference(lw_verdict_name(s->verdict)));
    if (s->have_readings) {
        ref_add_u64(&d, root, "LastFunctionRssBytes", s->fn_rss_bytes);
        ref_add_u64(&d, root, "LastEnvironmentRssBytes", s->env_rss_bytes);
        ref_add_u64(&d, root, "PeakEnvironmentRssBytes", s->env_rss_max_bytes);
    }
    if (s->memory_limit_bytes)
        ref_add_u64(&d, root, "MemoryLimitBytes", s->memory_limit_bytes);
    if (s->have_last_report) {
        ref_add_u64(&d, root, "LastReportSequence", s->last_report_seq);
        ref_add_str(&d, root, "LastStatus", s->last_status);
        if (s->last_error_type[0])
            ref_add_str(&d, root, "LastErrorType", s->last_error_type);
        if (s->last_memory_size_mb)
            ref_add_u64(&d, root, "LastMaxMemoryUsedMB", s->last_max_memory_used_mb);
    }
    /* the word the platform sent; absent when no SHUTDOWN reached the environment */
    if (s->ended)
        ref_add_str(&d, root, "ShutdownReason", s->shutdown_reason);
    return ref_finish(&d, buf, cap, len);
}

#endif
