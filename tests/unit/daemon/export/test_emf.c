/*
 * The EMF encoder, checked against the rules of the CloudWatch Embedded Metric Format
 * specification by a validator written here from the specification (and itself tested on
 * documents that break each rule), for records of every shape; and against cJSON, which printed
 * these lines from a tree before the encoder wrote them itself: every kind of line is what cJSON
 * prints for its own parse of it, and every number is what the format's rule says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <inttypes.h>
#include <math.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include <leakwatch/emf.h>
#include <leakwatch/metrics.h>

#include "emf_cjson_reference.h"
#include "test_records.h"

/* ---- the validator ---------------------------------------------------------------------- */

static bool unit_allowed(const char *u)
{
    for (size_t i = 0; i < sizeof(lw_test_cloudwatch_units) / sizeof(lw_test_cloudwatch_units[0]);
         i++)
        if (strcmp(u, lw_test_cloudwatch_units[i]) == 0)
            return true;
    return false;
}

static bool namespace_ok(const char *ns)
{
    size_t n = strlen(ns);
    if (n < 1 || n > 256)
        return false;
    return strspn(ns, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._#:/-") == n;
}

/* The text right after "key": in the line is a plain integer (no fraction, no exponent). */
static bool integer_text(const char *line, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t digits = strspn(p, "0123456789");
    return digits > 0 && (p[digits] == ',' || p[digits] == '}');
}

/*
 * NULL when (line, len) is a valid EMF log event written as one line, else the broken rule.
 * Rules: CloudWatch EMF specification (root "_aws" with integer Timestamp in ms and
 * CloudWatchMetrics directives; Namespace 1-256 chars of [a-zA-Z0-9._#:/-] as the client
 * libraries require; DimensionSets of <= 30 keys, each key <= 250 chars with a top-level string
 * value <= 1024 chars; <= 100 MetricDefinitions with a Name <= 1024 whose top-level member is a
 * number or an array of <= 100 numbers, Unit in the allowed list, StorageResolution 1 or 60;
 * the event under 256 KB).
 */
static const char *emf_violation(const char *line, size_t len)
{
    static char why[256];
    const char *res = NULL;
    cJSON *root = NULL;
    if (len == 0 || line[len - 1] != '\n')
        return "not terminated by a newline";
    if (memchr(line, '\n', len - 1))
        return "more than one line";
    if (len >= 256 * 1024)
        return "256 KB or more";
    if (memchr(line, '\0', len))
        return "NUL inside the line";
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(line, len - 1, &end, false);
    if (!root || end != line + len - 1) {
        res = "not one JSON document";
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        res = "root is not an object";
        goto out;
    }
    cJSON *aws = cJSON_GetObjectItemCaseSensitive(root, "_aws");
    if (!cJSON_IsObject(aws)) {
        res = "no _aws object";
        goto out;
    }
    cJSON *ts = cJSON_GetObjectItemCaseSensitive(aws, "Timestamp");
    if (!cJSON_IsNumber(ts) || ts->valuedouble < 0 || ts->valuedouble != floor(ts->valuedouble) ||
        !integer_text(line, "Timestamp")) {
        res = "Timestamp is not an integer";
        goto out;
    }
    cJSON *cwm = cJSON_GetObjectItemCaseSensitive(aws, "CloudWatchMetrics");
    if (!cJSON_IsArray(cwm) || cJSON_GetArraySize(cwm) < 1) {
        res = "CloudWatchMetrics is not a non-empty array";
        goto out;
    }
    cJSON *dir;
    cJSON_ArrayForEach(dir, cwm)
    {
        cJSON *ns = cJSON_GetObjectItemCaseSensitive(dir, "Namespace");
        if (!cJSON_IsString(ns) || !namespace_ok(ns->valuestring)) {
            res = "bad Namespace";
            goto out;
        }
        cJSON *dims = cJSON_GetObjectItemCaseSensitive(dir, "Dimensions");
        if (!cJSON_IsArray(dims)) {
            res = "Dimensions is not an array";
            goto out;
        }
        cJSON *set;
        cJSON_ArrayForEach(set, dims)
        {
            if (!cJSON_IsArray(set) || cJSON_GetArraySize(set) > 30) {
                res = "a DimensionSet is not an array of at most 30 keys";
                goto out;
            }
            cJSON *key;
            cJSON_ArrayForEach(key, set)
            {
                if (!cJSON_IsString(key) || strlen(key->valuestring) < 1 ||
                    strlen(key->valuestring) > 250) {
                    res = "bad dimension key";
                    goto out;
                }
                cJSON *val = cJSON_GetObjectItemCaseSensitive(root, key->valuestring);
                if (!cJSON_IsString(val) || strlen(val->valuestring) > 1024) {
                    snprintf(why, sizeof(why), "dimension %s has no string value <= 1024",
                             key->valuestring);
                    res = why;
                    goto out;
                }
            }
        }
        cJSON *metrics = cJSON_GetObjectItemCaseSensitive(dir, "Metrics");
        if (!cJSON_IsArray(metrics) || cJSON_GetArraySize(metrics) > 100) {
            res = "Metrics is not an array of at most 100";
            goto out;
        }
        cJSON *m;
        cJSON_ArrayForEach(m, metrics)
        {
            cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "Name");
            if (!cJSON_IsString(name) || strlen(name->valuestring) < 1 ||
                strlen(name->valuestring) > 1024) {
                res = "bad metric Name";
                goto out;
            }
            for (cJSON *o = metrics->child; o != m; o = o->next) {
                if (strcmp(cJSON_GetObjectItemCaseSensitive(o, "Name")->valuestring,
                           name->valuestring) == 0) {
                    res = "metric defined twice";
                    goto out;
                }
            }
            cJSON *unit = cJSON_GetObjectItemCaseSensitive(m, "Unit");
            if (unit && (!cJSON_IsString(unit) || !unit_allowed(unit->valuestring))) {
                res = "Unit not allowed";
                goto out;
            }
            cJSON *sr = cJSON_GetObjectItemCaseSensitive(m, "StorageResolution");
            if (sr && (!cJSON_IsNumber(sr) || (sr->valuedouble != 1 && sr->valuedouble != 60))) {
                res = "bad StorageResolution";
                goto out;
            }
            cJSON *val = cJSON_GetObjectItemCaseSensitive(root, name->valuestring);
            bool ok = cJSON_IsNumber(val);
            if (cJSON_IsArray(val)) {
                ok = cJSON_GetArraySize(val) >= 1 && cJSON_GetArraySize(val) <= 100;
                cJSON *x;
                cJSON_ArrayForEach(x, val) ok = ok && cJSON_IsNumber(x);
            }
            if (!ok) {
                snprintf(why, sizeof(why), "metric %s has no numeric value", name->valuestring);
                res = why;
                goto out;
            }
        }
    }
out:
    cJSON_Delete(root);
    return res;
}

/* ---- utilities -------------------------------------------------------------------------- */

static const struct lw_emf_options opts = {
    .namespace_ = "Leakwatch",
    .function_name = "orders-api",
    .function_version = "$LATEST",
    .version_dimension = false,
};

static char line[LW_EMF_BUFFER_BYTES];

static size_t encode_valid(const struct lw_emf_options *o, const struct lw_record *r,
                           const struct lw_verdict *v, const struct lw_health *h)
{
    size_t len = 0;
    assert_int_equal(lw_emf_encode_record(o, r, v, h, line, sizeof(line), &len), LW_OK);
    assert_int_equal(len, strlen(line));
    const char *why = emf_violation(line, len);
    if (why)
        fail_msg("invalid EMF (%s): %s", why, line);
    return len;
}

static cJSON *parse(void)
{
    cJSON *doc = cJSON_Parse(line);
    assert_non_null(doc);
    return doc;
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *x = get(o, key);
    if (!cJSON_IsNumber(x))
        fail_msg("%s is not a number", key);
    return x->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *x = get(o, key);
    if (!cJSON_IsString(x))
        fail_msg("%s is not a string", key);
    return x->valuestring;
}

/* The directive's metric names equal the metrics lw_metric_value() gives, in table order. */
static void check_metric_set(const cJSON *doc, const struct lw_record *r,
                             const struct lw_verdict *v, bool health)
{
    const cJSON *metrics =
        get(cJSON_GetArrayItem(get(get(doc, "_aws"), "CloudWatchMetrics"), 0), "Metrics");
    const cJSON *m = metrics->child;
    for (int i = 0; i < LW_M_COUNT; i++) {
        double x;
        if (!lw_metric_value((enum lw_metric_id)i, r, v, &x)) {
            assert_null(get(doc, lw_metric_desc((enum lw_metric_id)i)->emf_name));
            continue;
        }
        assert_non_null(m);
        assert_string_equal(str(m, "Name"), lw_metric_desc((enum lw_metric_id)i)->emf_name);
        assert_string_equal(str(m, "Unit"), lw_metric_desc((enum lw_metric_id)i)->emf_unit);
        assert_true(num(doc, str(m, "Name")) == x);
        m = m->next;
    }
    if (health) {
        for (int i = 0; i < LW_H_COUNT; i++) {
            assert_non_null(m);
            assert_string_equal(str(m, "Name"), lw_health_name((enum lw_health_counter)i));
            assert_string_equal(str(m, "Unit"), "Count");
            m = m->next;
        }
    }
    assert_null(m);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_typical(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    size_t len = encode_valid(&opts, &r, NULL, NULL);
    print_message("typical record, no verdict, no health: %zu bytes\n", len);

    /* exact integers in the text */
    assert_non_null(strstr(line, "\"Timestamp\":1767607200250,"));
    assert_non_null(strstr(line, "\"FunctionRssEndBytes\":67108864,"));
    assert_non_null(strstr(line, "\"MemoryUtilizationPercent\":19.140625,"));
    assert_non_null(strstr(line, "\"DurationMilliseconds\":243.25,"));
    assert_non_null(strstr(line, "\"Sequence\":5,"));
    assert_non_null(strstr(line, "\"ColdStart\":false,"));

    cJSON *doc = parse();
    const cJSON *dir = cJSON_GetArrayItem(get(get(doc, "_aws"), "CloudWatchMetrics"), 0);
    assert_string_equal(str(dir, "Namespace"), "Leakwatch");
    const cJSON *dims = get(dir, "Dimensions");
    assert_int_equal(cJSON_GetArraySize(dims), 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(dims, 0)), 1);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(dims, 0), 0)->valuestring,
                        "FunctionName");
    assert_string_equal(str(doc, "FunctionName"), "orders-api");
    assert_string_equal(str(doc, "FunctionVersion"), "$LATEST");
    check_metric_set(doc, &r, NULL, false);

    assert_string_equal(str(doc, "LeakwatchRecord"), "invocation");
    assert_string_equal(str(doc, "LeakwatchVersion"), LW_VERSION);
    assert_string_equal(str(doc, "RequestId"), "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa");
    assert_string_equal(str(doc, "EnvironmentId"), "env-3f2a9c");
    assert_string_equal(str(doc, "PeakMethod"), "hwm");
    assert_string_equal(str(doc, "Status"), "success");
    assert_null(get(doc, "ErrorType"));
    assert_null(get(doc, "Incomplete"));
    assert_null(get(doc, "Verdict"));
    assert_null(get(doc, "Culprit"));
    assert_true(num(doc, "StartTimeMs") == 1767607200000.0);
    assert_true(num(doc, "EndTimeMs") == 1767607200250.0);

    const cJSON *procs = get(doc, "Processes");
    assert_int_equal(cJSON_GetArraySize(procs), 3);
    const cJSON *rt = cJSON_GetArrayItem(procs, 0);
    assert_string_equal(str(rt, "Name"), "bootstrap");
    assert_string_equal(str(rt, "Role"), "runtime");
    assert_true(num(rt, "Pid") == 7);
    assert_true(num(rt, "RssStartBytes") == 60.0 * MIB);
    assert_true(num(rt, "AnonStartBytes") == 50.0 * MIB);
    assert_true(num(rt, "RssEndBytes") == 64.0 * MIB);
    assert_true(num(rt, "AnonEndBytes") == 54.0 * MIB);
    assert_true(num(rt, "FileEndBytes") == 10.0 * MIB);
    assert_true(num(rt, "ShmemEndBytes") == 0);
    assert_true(num(rt, "PeakBytes") == 90.0 * MIB);
    assert_string_equal(str(cJSON_GetArrayItem(procs, 1), "Role"), "extension");
    assert_string_equal(str(cJSON_GetArrayItem(procs, 2), "Role"), "self");
    cJSON_Delete(doc);
}

static void test_version_dimension_and_health(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    struct lw_emf_options o = opts;
    o.version_dimension = true;
    o.function_version = "42";
    o.namespace_ = "Team.A/leakwatch#1:x-y_z";
    struct lw_health h = {0};
    for (int i = 0; i < LW_H_COUNT; i++)
        h.c[i] = (uint64_t)i * 3;
    size_t len = encode_valid(&o, &r, NULL, &h);
    print_message("typical record with health counters: %zu bytes\n", len);
    cJSON *doc = parse();
    const cJSON *dir = cJSON_GetArrayItem(get(get(doc, "_aws"), "CloudWatchMetrics"), 0);
    assert_string_equal(str(dir, "Namespace"), "Team.A/leakwatch#1:x-y_z");
    const cJSON *dims = get(dir, "Dimensions");
    assert_int_equal(cJSON_GetArraySize(dims), 2);
    const cJSON *set = cJSON_GetArrayItem(dims, 1);
    assert_int_equal(cJSON_GetArraySize(set), 2);
    assert_string_equal(cJSON_GetArrayItem(set, 0)->valuestring, "FunctionName");
    assert_string_equal(cJSON_GetArrayItem(set, 1)->valuestring, "FunctionVersion");
    assert_string_equal(str(doc, "FunctionVersion"), "42");
    check_metric_set(doc, &r, NULL, true);
    for (int i = 0; i < LW_H_COUNT; i++)
        assert_true(num(doc, lw_health_name((enum lw_health_counter)i)) == i * 3);
    cJSON_Delete(doc);

    /* a version that is not wanted is left out */
    o.version_dimension = false;
    o.function_version = NULL;
    encode_valid(&o, &r, NULL, NULL);
    doc = parse();
    assert_null(get(doc, "FunctionVersion"));
    cJSON_Delete(doc);
}

static void test_incomplete(void **state)
{
    (void)state;
    struct lw_snapshot s = {0}, e = {0};
    s.time_ms = 1767607200000ull;
    snap_add(&s, 7, 1, LW_ROLE_RUNTIME, "bootstrap", 60 * MIB, 50 * MIB, 60 * MIB, true);
    snap_add(&s, 8, 3, LW_ROLE_SELF, "leakwatch", 3 * MIB, 1 * MIB, 3 * MIB, false);
    snap_add(&e, 8, 3, LW_ROLE_SELF, "leakwatch", 4 * MIB, 1 * MIB, 4 * MIB, false);
    struct lw_record r;
    lw_record_open(&r, &s, "req", "env", 12, false, 0, 128 * MIB);
    lw_record_close_missing(&r, &e, 1767607260000ull);
    r.gaps |= LW_GAP_TELEMETRY | LW_GAP_START_READING;
    encode_valid(&opts, &r, NULL, NULL);
    cJSON *doc = parse();
    assert_true(num(get(doc, "_aws"), "Timestamp") == 1767607260000.0);
    const cJSON *inc = get(doc, "Incomplete");
    assert_int_equal(cJSON_GetArraySize(inc), 3);
    assert_string_equal(cJSON_GetArrayItem(inc, 0)->valuestring, "end-reading");
    assert_string_equal(cJSON_GetArrayItem(inc, 1)->valuestring, "telemetry");
    assert_string_equal(cJSON_GetArrayItem(inc, 2)->valuestring, "start-reading");
    assert_string_equal(str(doc, "PeakMethod"), "none");
    assert_null(get(doc, "FunctionRssEndBytes"));
    assert_null(get(doc, "FunctionRssPeakBytes"));
    assert_null(get(doc, "Status"));
    assert_null(get(doc, "DurationMilliseconds"));
    assert_true(num(doc, "LeakwatchRssBytes") == 4.0 * MIB);
    check_metric_set(doc, &r, NULL, false);
    const cJSON *rt = cJSON_GetArrayItem(get(doc, "Processes"), 0);
    assert_non_null(get(rt, "RssStartBytes"));
    assert_null(get(rt, "RssEndBytes"));
    assert_null(get(rt, "PeakBytes"));
    cJSON_Delete(doc);

    /* a record that was never closed: stamped with its start */
    lw_record_open(&r, &s, "req", "env", 12, true, 0, 0);
    encode_valid(&opts, &r, NULL, NULL);
    doc = parse();
    assert_true(num(get(doc, "_aws"), "Timestamp") == 1767607200000.0);
    assert_null(get(doc, "EndTimeMs"));
    assert_true(get(doc, "ColdStart")->type == cJSON_True);
    cJSON_Delete(doc);
}

/* The runtime probe's figures: its metrics, the allocation sites as a list,
 * largest first, a hostile site escaped; without a probe, none of them. */
static void test_runtime_figures(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    encode_valid(&opts, &r, NULL, NULL);
    cJSON *doc = parse();
    assert_null(get(doc, "HeapAfterGcBytes"));
    assert_null(get(doc, "AllocationSites"));
    cJSON_Delete(doc);

    r.runtime.probe = LW_PROBE_PYTHON;
    r.runtime.processes = 1;
    r.runtime.heap.have = LW_HEAP_AFTER_MAJOR | LW_HEAP_LIMIT;
    r.runtime.heap.after_major_bytes = 20971520;
    r.runtime.heap.limit_bytes = 536870912;
    r.runtime.sites.request = 3;
    r.runtime.sites.n = 2;
    r.runtime.sites.site[0] = (struct lw_alloc_site){.growth_bytes = 1048576, .growth_count = 12};
    snprintf(r.runtime.sites.site[0].where, LW_SITE_TEXT_MAX, "app.py:42");
    r.runtime.sites.site[1] = (struct lw_alloc_site){.growth_bytes = -4096, .growth_count = -1};
    snprintf(r.runtime.sites.site[1].where, LW_SITE_TEXT_MAX, "e\"vil.py:7");
    encode_valid(&opts, &r, NULL, NULL);
    doc = parse();
    assert_true(num(doc, "HeapAfterGcBytes") == 20971520.0);
    assert_true(num(doc, "HeapLimitBytes") == 536870912.0);
    assert_null(get(doc, "ExternalMemoryBytes")); /* not reported: missing, not 0 */
    const cJSON *sites = get(doc, "AllocationSites");
    assert_true(cJSON_IsArray(sites));
    assert_int_equal(cJSON_GetArraySize(sites), 2);
    const cJSON *first = cJSON_GetArrayItem(sites, 0);
    assert_string_equal(cJSON_GetStringValue(get(first, "Site")), "app.py:42");
    assert_true(num(first, "GrowthBytes") == 1048576.0);
    assert_true(num(first, "GrowthCount") == 12.0);
    const cJSON *second = cJSON_GetArrayItem(sites, 1);
    assert_string_equal(cJSON_GetStringValue(get(second, "Site")), "e\"vil.py:7");
    assert_true(num(second, "GrowthBytes") == -4096.0);
    cJSON_Delete(doc);
}

static void test_verdict_and_hostile_strings(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    snprintf(r.platform.status, sizeof(r.platform.status), "error");
    snprintf(r.platform.error_type, sizeof(r.platform.error_type), "Runtime.ExitError");
    /* a process name with a quote, a backslash, a newline and bytes that are not UTF-8 */
    snprintf(r.procs[1].name, sizeof(r.procs[1].name), "ev\"il\\\n\xff\xc3(\xe2\x82\xac)");
    struct lw_verdict v = {0};
    v.kind = LW_VERDICT_LEAK_CRITICAL;
    v.previous = LW_VERDICT_STEADY;
    v.changed = true;
    v.growth_bytes_per_invocation = 1048576;
    v.growth_bytes_per_hour = 1.5e9;
    v.have_projection = true;
    v.projected_invocations_to_oom = 414;
    v.projected_minutes_to_oom = 37.25;
    snprintf(v.culprit, sizeof(v.culprit), "bootstrap");
    snprintf(v.reason, sizeof(v.reason), "anon grows 1.0 MiB/invocation\nover 40 \"invocations\"");
    encode_valid(&opts, &r, &v, NULL);
    cJSON *doc = parse();
    check_metric_set(doc, &r, &v, false);
    assert_string_equal(str(doc, "Verdict"), "leak-critical");
    assert_string_equal(str(doc, "VerdictReason"),
                        "anon grows 1.0 MiB/invocation\nover 40 \"invocations\"");
    assert_string_equal(str(doc, "Culprit"), "bootstrap");
    assert_string_equal(str(doc, "Status"), "error");
    assert_string_equal(str(doc, "ErrorType"), "Runtime.ExitError");
    assert_true(num(doc, "LeakVerdictLevel") == 3);
    assert_true(num(doc, "ProjectedMinutesToOom") == 37.25);
    /* invalid bytes became '?', the valid euro sign stayed */
    assert_string_equal(str(cJSON_GetArrayItem(get(doc, "Processes"), 1), "Name"),
                        "ev\"il\\\n??"
                        "(\xe2\x82\xac)");
    cJSON_Delete(doc);

    /* learning: the level, no growth figures */
    v.kind = LW_VERDICT_LEARNING;
    v.culprit[0] = '\0';
    v.reason[0] = '\0';
    encode_valid(&opts, &r, &v, NULL);
    doc = parse();
    assert_string_equal(str(doc, "Verdict"), "learning");
    assert_null(get(doc, "GrowthPerInvocationBytes"));
    assert_null(get(doc, "VerdictReason"));
    assert_null(get(doc, "Culprit"));
    assert_true(num(doc, "LeakVerdictLevel") == 0);
    cJSON_Delete(doc);

    /* a corrupt kind is treated as no verdict */
    v.kind = LW_VERDICT_COUNT;
    encode_valid(&opts, &r, &v, NULL);
    doc = parse();
    assert_null(get(doc, "Verdict"));
    assert_null(get(doc, "LeakVerdictLevel"));
    cJSON_Delete(doc);
}

/* The biggest record there can be: every process, long names, every part, every gap. */
static void test_largest(void **state)
{
    (void)state;
    static struct lw_snapshot s, e;
    memset(&s, 0, sizeof(s));
    memset(&e, 0, sizeof(e));
    s.time_ms = 1767607200000ull;
    e.time_ms = s.time_ms + 900000;
    char name[LW_NAME_MAX];
    for (int i = 0; i < LW_MAX_PROCS; i++) {
        /* control characters: each is written as a 6-byte \u escape, the worst case */
        memset(name, 1 + i % 31, sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        enum lw_proc_role role = i == 0 ? LW_ROLE_RUNTIME : (enum lw_proc_role)(1 + i % 3);
        snap_add(&s, 1000000 + i, 123456789ull, role, name, 3000 * MIB, 2000 * MIB, 4000 * MIB,
                 true);
        snap_add(&e, 1000000 + i, 123456789ull, role, name, 3100 * MIB, 2100 * MIB, 4100 * MIB,
                 false);
    }
    s.n_procs_dropped = 7;
    struct lw_record r;
    lw_record_open(&r, &s, "ffffffff-ffff-ffff-ffff-ffffffffffff", "env-ffffffffffffffffffffffff",
                   UINT32_MAX, true, e.time_ms, 10240 * MIB);
    lw_record_close(&r, &e, LW_PEAK_SAMPLED, NULL);
    r.gaps |= LW_GAP_TELEMETRY;
    r.platform.have_report = r.platform.have_runtime_done = r.platform.have_init_duration = true;
    r.platform.init_duration_ms = 1234.567;
    r.platform.duration_ms = 899999.999;
    snprintf(r.platform.status, sizeof(r.platform.status), "timeout");
    memset(r.platform.error_type, 'E', sizeof(r.platform.error_type) - 1);
    struct lw_verdict v = {0};
    v.kind = LW_VERDICT_LEAK;
    v.have_projection = true;
    v.growth_bytes_per_invocation = 123456.789;
    memset(v.reason, '\x02', sizeof(v.reason) - 1);
    memset(v.culprit, 'c', sizeof(v.culprit) - 1);
    struct lw_health h;
    for (int i = 0; i < LW_H_COUNT; i++)
        h.c[i] = UINT32_MAX;
    struct lw_emf_options o = opts;
    o.version_dimension = true;
    size_t len = encode_valid(&o, &r, &v, &h);
    print_message("largest record (%d processes, long names): %zu bytes\n", LW_MAX_PROCS, len);
    assert_true(len < LW_EMF_BUFFER_BYTES / 2);
    cJSON *doc = parse();
    assert_int_equal(cJSON_GetArraySize(get(doc, "Processes")), LW_MAX_PROCS);
    assert_int_equal(cJSON_GetArraySize(get(doc, "Incomplete")), 2);
    check_metric_set(doc, &r, &v, true);
    cJSON_Delete(doc);
}

/* 64-bit byte counts are printed exactly, beyond what a double holds. */
static void test_exact_integers(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    r.procs[0].end.rss_bytes = UINT64_MAX;
    r.procs[0].end.rss_anon_bytes = (1ull << 53) + 1;
    r.procs[0].peak_bytes = 9007199254740993ull;
    r.fn_end.rss_bytes = 1ull << 52; /* a metric: goes through a double, exact below 2^53 */
    r.seq = UINT64_MAX - 1;
    encode_valid(&opts, &r, NULL, NULL);
    assert_non_null(strstr(line, "\"RssEndBytes\":18446744073709551615,"));
    assert_non_null(strstr(line, "\"AnonEndBytes\":9007199254740993,"));
    assert_non_null(strstr(line, "\"PeakBytes\":9007199254740993}"));
    assert_non_null(strstr(line, "\"FunctionRssEndBytes\":4503599627370496,"));
    assert_non_null(strstr(line, "\"Sequence\":18446744073709551614,"));
    /* negative growth stays a plain integer */
    r.fn_end.rss_anon_bytes = r.fn_start.rss_anon_bytes - 4096;
    encode_valid(&opts, &r, NULL, NULL);
    assert_non_null(strstr(line, "\"FunctionGrowthBytes\":-4096,"));
}

/* Every capacity: TOO_LARGE with an empty buffer, or the same line; never a partial line. */
static void test_buffer_caps(void **state)
{
    (void)state;
    struct lw_record r;
    make_typical_record(&r);
    size_t full = encode_valid(&opts, &r, NULL, NULL);
    char *want = strdup(line);
    assert_non_null(want);
    size_t min_ok = 0;
    for (size_t cap = 0; cap <= full + 64; cap++) {
        char *buf = malloc(cap ? cap : 1);
        assert_non_null(buf);
        memset(buf, 'Z', cap ? cap : 1);
        size_t len = 99;
        enum lw_err err = lw_emf_encode_record(&opts, &r, NULL, NULL, buf, cap, &len);
        if (err == LW_OK) {
            if (!min_ok)
                min_ok = cap;
            assert_int_equal(len, full);
            assert_memory_equal(buf, want, full + 1);
        } else {
            assert_int_equal(err, LW_ERR_TOO_LARGE);
            assert_int_equal(len, 0);
            assert_int_equal(min_ok, 0); /* a larger buffer never fails once one succeeded */
            if (cap)
                assert_int_equal(buf[0], '\0');
        }
        free(buf);
    }
    assert_true(min_ok >= full + 1); /* the line and its NUL */
    assert_true(min_ok <= full + 64);
    print_message("smallest buffer for a %zu-byte line: %zu\n", full, min_ok);
    free(want);
}

static void test_options(void **state)
{
    (void)state;
    char ns256[257], ns257[258], fn1025[1026];
    memset(ns256, 'n', 256);
    ns256[256] = '\0';
    memset(ns257, 'n', 257);
    ns257[257] = '\0';
    memset(fn1025, 'f', 1025);
    fn1025[1025] = '\0';

    static const char *const good_ns[] = {"Leakwatch", "a", "A.b_c#d:e/f-g0", "Custom/AWS"};
    for (size_t i = 0; i < sizeof(good_ns) / sizeof(good_ns[0]); i++)
        assert_true(lw_emf_namespace_valid(good_ns[i]));
    assert_true(lw_emf_namespace_valid(ns256));
    static const char *const bad_ns[] = {"", "Leak watch", "AWS/Lambda", "ns$", "ns\n", "é"};
    for (size_t i = 0; i < sizeof(bad_ns) / sizeof(bad_ns[0]); i++)
        assert_false(lw_emf_namespace_valid(bad_ns[i]));
    assert_false(lw_emf_namespace_valid(ns257));
    assert_false(lw_emf_namespace_valid(NULL));

    struct lw_emf_options o = opts;
    assert_int_equal(lw_emf_options_check(&o), LW_OK);
    assert_int_equal(lw_emf_options_check(NULL), LW_ERR_INVALID);
    o.namespace_ = "AWS/Lambda";
    assert_int_equal(lw_emf_options_check(&o), LW_ERR_INVALID);
    /* an encoder refuses invalid options rather than writing a document CloudWatch drops */
    struct lw_record r;
    make_typical_record(&r);
    size_t len = 1;
    assert_int_equal(lw_emf_encode_record(&o, &r, NULL, NULL, line, sizeof(line), &len),
                     LW_ERR_INVALID);
    assert_int_equal(len, 0);

    static const char *const bad_fn[] = {"", "a\tb", "bad\xff", "x\x7f"};
    for (size_t i = 0; i < sizeof(bad_fn) / sizeof(bad_fn[0]); i++) {
        o = opts;
        o.function_name = bad_fn[i];
        assert_int_equal(lw_emf_options_check(&o), LW_ERR_INVALID);
    }
    o = opts;
    o.function_name = NULL;
    assert_int_equal(lw_emf_options_check(&o), LW_ERR_INVALID);
    o.function_name = fn1025;
    assert_int_equal(lw_emf_options_check(&o), LW_ERR_INVALID);
    fn1025[1024] = '\0';
    assert_int_equal(lw_emf_options_check(&o), LW_OK);
    o.function_name = "f\xc3\xa9"; /* UTF-8 is fine */
    assert_int_equal(lw_emf_options_check(&o), LW_OK);

    o = opts;
    o.version_dimension = true;
    o.function_version = NULL;
    assert_int_equal(lw_emf_options_check(&o), LW_ERR_INVALID);
    o.function_version = "";
    assert_int_equal(lw_emf_options_check(&o), LW_ERR_INVALID);
    o.function_version = "7";
    assert_int_equal(lw_emf_options_check(&o), LW_OK);
}

static void test_shutdown(void **state)
{
    (void)state;
    struct lw_emf_shutdown s = {
        .time_ms = 1767610000123ull,
        .env_id = "env-3f2a9c",
        .reason = "SandboxTerminated",
        .category = "failure",
        .lifetime_seconds = 2799.5,
        .invocations = 1201,
    };
    struct lw_health h = {0};
    h.c[LW_H_EMF_DROPPED] = 2;
    size_t len = 0;
    assert_int_equal(lw_emf_encode_shutdown(&opts, &s, &h, line, sizeof(line), &len), LW_OK);
    const char *why = emf_violation(line, len);
    if (why)
        fail_msg("invalid EMF (%s): %s", why, line);
    assert_non_null(strstr(line, "\"Timestamp\":1767610000123,"));
    cJSON *doc = parse();
    assert_string_equal(str(doc, "LeakwatchRecord"), "shutdown");
    assert_string_equal(str(doc, "EnvironmentId"), "env-3f2a9c");
    /* the word as the platform sent it, and leakwatch's category next to it */
    assert_string_equal(str(doc, "ShutdownReason"), "SandboxTerminated");
    assert_string_equal(str(doc, "ShutdownCategory"), "failure");
    assert_string_equal(str(doc, "FunctionName"), "orders-api");
    assert_true(num(doc, "EnvironmentLifetimeSeconds") == 2799.5);
    assert_true(num(doc, "EnvironmentInvocations") == 1201);
    assert_true(num(doc, "EmfLinesDropped") == 2);
    const cJSON *metrics =
        get(cJSON_GetArrayItem(get(get(doc, "_aws"), "CloudWatchMetrics"), 0), "Metrics");
    assert_int_equal(cJSON_GetArraySize(metrics), 2 + LW_H_COUNT);
    assert_string_equal(str(cJSON_GetArrayItem(metrics, 0), "Unit"), "Seconds");
    assert_string_equal(str(cJSON_GetArrayItem(metrics, 1), "Unit"), "Count");
    cJSON_Delete(doc);

    s.reason = NULL;
    s.lifetime_seconds = NAN;
    assert_int_equal(lw_emf_encode_shutdown(&opts, &s, NULL, line, sizeof(line), &len), LW_OK);
    assert_null(emf_violation(line, len));
    doc = parse();
    assert_string_equal(str(doc, "ShutdownReason"), "");
    assert_true(num(doc, "EnvironmentLifetimeSeconds") == 0);
    cJSON_Delete(doc);
    assert_int_equal(lw_emf_encode_shutdown(&opts, NULL, NULL, line, sizeof(line), &len),
                     LW_ERR_INVALID);
}

/* ---- the line against cJSON ------------------------------------------------------------------ */

/*
 * The line is byte for byte what cJSON's unformatted printer gives for the document it parses
 * to: the same members in the same order, strings escaped as cJSON escapes them, no space. This
 * holds where cJSON prints a number as the encoder does: integers of up to 15 digits and
 * fractions whose %.15g reads back, the figures of the records below (exact 64-bit integers
 * and %.17g fractions are test_exact_integers' and test_numbers').
 */
static void assert_cjson_print(const char *l, size_t len)
{
    assert_true(len > 0 && l[len - 1] == '\n');
    cJSON *doc = cJSON_ParseWithLength(l, len - 1);
    assert_non_null(doc);
    char *again = cJSON_PrintUnformatted(doc);
    assert_non_null(again);
    if (strlen(again) != len - 1 || memcmp(again, l, len - 1) != 0)
        fail_msg("the line is not cJSON's print of its own parse:\n%.*s\n%s", (int)len, l, again);
    cJSON_free(again);
    cJSON_Delete(doc);
}

/* A previous environment that died of memory, predicted, with every part of the state. */
static void make_death(struct lw_state *st, struct lw_death *x)
{
    memset(st, 0, sizeof(*st));
    memset(x, 0, sizeof(*x));
    snprintf(st->env_id, sizeof(st->env_id), "env-dead-1");
    snprintf(st->open_request_id, sizeof(st->open_request_id), "req-92");
    st->started_ms = 1767600000000ull;
    st->boundary_ms = 1767600090000ull;
    st->ended = true;
    st->ended_ms = 1767600091500ull;
    snprintf(st->shutdown_reason, sizeof(st->shutdown_reason), "failure");
    st->verdict = LW_VERDICT_LEAK_CRITICAL;
    st->have_readings = true;
    st->fn_rss_bytes = 120 * MIB;
    st->env_rss_bytes = 126 * MIB;
    st->env_rss_max_bytes = 127 * MIB;
    st->memory_limit_bytes = 128 * MIB;
    st->have_last_report = true;
    st->last_report_seq = 91;
    snprintf(st->last_status, sizeof(st->last_status), "error");
    snprintf(st->last_error_type, sizeof(st->last_error_type), "Runtime.OutOfMemory");
    st->last_memory_size_mb = 128;
    st->last_max_memory_used_mb = 128;
    x->cause = LW_DEATH_OUT_OF_MEMORY;
    x->oom_forms = LW_OOM_ERROR_TYPE | LW_OOM_ERROR_AT_LIMIT;
    x->invocations = 92;
    x->age_seconds = 91.5;
    x->predicted = true;
    x->lead_invocations = 40;
    x->lead_minutes = 0.75;
    x->have_error = true;
    x->projected_seq = 95.04;
    x->last_projected_seq = 92.25;
    x->error_percent = 3.3;
}

static const struct lw_emf_options opts_all = {
    .namespace_ = "Team.A/leakwatch#1:x-y_z",
    .function_name = "orders\"api\\v2",
    .function_version = "42",
    .version_dimension = true,
};

/* Every kind of line leakwatch writes through this encoder, in its usual and unusual shapes. */
static void test_cjson_print_of_every_kind(void **state)
{
    (void)state;
    static struct lw_record r;
    struct lw_health h;
    for (int i = 0; i < LW_H_COUNT; i++)
        h.c[i] = (uint64_t)i * 7;
    size_t len = 0;

    /* invocation: typical, with every option, with a verdict and strings from outside */
    make_typical_record(&r);
    assert_cjson_print(line, encode_valid(&opts, &r, NULL, NULL));
    assert_cjson_print(line, encode_valid(&opts_all, &r, NULL, &h));
    snprintf(r.platform.error_type, sizeof(r.platform.error_type), "Runtime.ExitError");
    /* every control character cJSON writes in short form, others, DEL, a quote, a backslash,
     * bytes that are not UTF-8 and characters of two, three and four bytes */
    snprintf(r.procs[0].name, sizeof(r.procs[0].name), "a\b\f\n\r\t\x01\x1f\x7f\"\\/\xff\xc3");
    snprintf(r.procs[1].name, sizeof(r.procs[1].name),
             "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\x80");
    struct lw_verdict v = {.kind = LW_VERDICT_LEAK_CRITICAL,
                           .previous = LW_VERDICT_LEAK,
                           .growth_bytes_per_invocation = 1048576,
                           .growth_bytes_per_hour = 1.5e9,
                           .have_projection = true,
                           .projected_invocations_to_oom = 414,
                           .projected_minutes_to_oom = 37.25};
    snprintf(v.culprit, sizeof(v.culprit), "bootstrap");
    snprintf(v.reason, sizeof(v.reason), "grows \"fast\"\tover 40 readings");
    encode_valid(&opts, &r, &v, &h);
    assert_non_null(strstr(line, "\"Name\":\"a\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\\\"\\\\/??\""));
    assert_cjson_print(line, strlen(line));
    cJSON *doc = parse();
    assert_string_equal(str(cJSON_GetArrayItem(get(doc, "Processes"), 1), "Name"),
                        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80???");
    cJSON_Delete(doc);

    /* an incomplete invocation of a restored environment, and a record never closed */
    make_typical_record(&r);
    r.restored = true;
    r.cold_start = true;
    r.gaps = LW_GAP_TELEMETRY | LW_GAP_START_READING;
    r.platform.status[0] = '\0';
    assert_cjson_print(line, encode_valid(&opts, &r, &v, NULL));
    r.end_time_ms = 0;
    r.n_procs = 0;
    assert_cjson_print(line, encode_valid(&opts, &r, NULL, NULL));
    assert_non_null(strstr(line, "\"Processes\":[],"));

    /* interval */
    make_typical_record(&r);
    r.kind = LW_RECORD_INTERVAL;
    r.request_id[0] = '\0';
    r.end_time_ms = r.start_time_ms + 10000;
    r.interval.requests = 120;
    r.interval.timed = 120;
    r.interval.duration_sum_ms = 3000.0;
    r.interval.duration_max_ms = 95.5;
    assert_cjson_print(line, encode_valid(&opts_all, &r, &v, &h));

    /* shutdown, with and without the health counters */
    struct lw_emf_shutdown sd = {.time_ms = 1767610000123ull,
                                 .env_id = "env-3f2a9c",
                                 .reason = "spin\"down\n",
                                 .category = "spindown",
                                 .lifetime_seconds = 2799.5,
                                 .invocations = 1201};
    assert_int_equal(lw_emf_encode_shutdown(&opts_all, &sd, &h, line, sizeof(line), &len), LW_OK);
    assert_null(emf_violation(line, len));
    assert_cjson_print(line, len);
    assert_int_equal(lw_emf_encode_shutdown(&opts, &sd, NULL, line, sizeof(line), &len), LW_OK);
    assert_cjson_print(line, len);

    /* death: out of memory (predicted, not predicted), each other cause */
    struct lw_state st;
    struct lw_death x;
    make_death(&st, &x);
    struct lw_emf_death e = {
        .time_ms = 1767600100000ull, .env_id = "env-new", .dead = &st, .death = &x};
    assert_int_equal(lw_emf_encode_death(&opts_all, &e, line, sizeof(line), &len), LW_OK);
    assert_null(emf_violation(line, len));
    assert_cjson_print(line, len);
    x.predicted = false;
    x.have_error = false;
    st.ended = false;
    st.have_readings = false;
    st.last_error_type[0] = '\0';
    assert_int_equal(lw_emf_encode_death(&opts, &e, line, sizeof(line), &len), LW_OK);
    assert_cjson_print(line, len);
    for (int c = LW_DEATH_TIMEOUT; c <= LW_DEATH_KILLED; c++) {
        x.cause = (enum lw_death_cause)c;
        x.oom_forms = 0;
        assert_int_equal(lw_emf_encode_death(&opts, &e, line, sizeof(line), &len), LW_OK);
        assert_null(emf_violation(line, len));
        assert_cjson_print(line, len);
    }
}

/* The format's rule for a number, written here the plain way: an integral value as an integer,
 * any other as "%.15g" when that reads back to it, else "%.17g". */
static void number_rule(double v, char *out, size_t cap)
{
    if (v == floor(v) && fabs(v) < 9.2e18) {
        snprintf(out, cap, "%" PRId64, (int64_t)v);
        return;
    }
    snprintf(out, cap, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, cap, "%.17g", v);
}

/* The text of member key in the line, up to the next ',' or '}'. */
static void member_text(const char *key, char *out, size_t cap)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (p == NULL)
        fail_msg("no %s in %s", key, line);
    p += strlen(pat);
    size_t n = strcspn(p, ",}");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Every number of the line follows the rule, whether the encoder takes its short path (a few
 * decimals, worked out without snprintf) or not; a value that is not finite is left out. */
static void test_numbers(void **state)
{
    (void)state;
    static struct lw_record r;
    make_typical_record(&r);
    static const double fixed[] = {
        0,
        1,
        -1,
        243.25,
        0.1,
        0.2,
        0.3,
        1.005,
        2.675,
        19.140625,
        1e-4,
        1.5e-4,
        9.99e-5,
        0.000123456789,
        123456789.123,
        999999999.5,
        1e9 + 0.5,
        1e15,
        1e15 + 0.5,
        1e17,
        1e21,
        4503599627370497.0,
        9.2e18,
        -9.3e18,
        1.0 / 3,
        2.0 / 3,
        -123.456,
        1e-300,
        5e-324,
        1.7976931348623157e308,
        0.30000000000000004,
        100.0 / 7,
        -0.0,
    };
    static const double scale[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e9, 64, 1024};
    char got[64], want[64];
    size_t tried = 0;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < 30000; i++) {
        double v;
        if (i < sizeof(fixed) / sizeof(fixed[0])) {
            v = fixed[i];
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            switch (i % 4) {
            case 0: /* a decimal of a few places, as the platform's durations */
                v = (double)(x % 100000000000ull) / scale[(x >> 40) % 10];
                break;
            case 1: /* any double at all */
                memcpy(&v, &x, sizeof(v));
                break;
            case 2: /* a ratio, as a share or a rate */
                v = (double)(x % 1000000) / (double)(1 + (x >> 32) % 1000);
                break;
            default:
                v = -(double)(x % 100000) / scale[(x >> 50) % 10];
                break;
            }
        }
        r.platform.duration_ms = v;
        encode_valid(&opts, &r, NULL, NULL);
        if (!isfinite(v)) {
            assert_null(strstr(line, "\"DurationMilliseconds\""));
            continue;
        }
        member_text("DurationMilliseconds", got, sizeof(got));
        number_rule(v, want, sizeof(want));
        if (strcmp(got, want) != 0)
            fail_msg("%.17g written as %s, the rule gives %s", v, got, want);
        assert_true(strtod(got, NULL) == v);
        tried++;
    }
    assert_true(tried > 20000);
    static const double not_finite[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        r.platform.duration_ms = not_finite[i];
        encode_valid(&opts, &r, NULL, NULL);
        assert_null(strstr(line, "\"DurationMilliseconds\""));
    }
}

/* The death line: its metrics and properties; a figure that is not finite leaves its member
 * out and the line is still written. */
static void test_death(void **state)
{
    (void)state;
    struct lw_state st;
    struct lw_death x;
    make_death(&st, &x);
    struct lw_emf_death e = {
        .time_ms = 1767600100000ull, .env_id = "env-new", .dead = &st, .death = &x};
    size_t len = 0;
    assert_int_equal(lw_emf_encode_death(&opts, &e, line, sizeof(line), &len), LW_OK);
    const char *why = emf_violation(line, len);
    if (why)
        fail_msg("invalid EMF (%s): %s", why, line);
    cJSON *doc = parse();
    const cJSON *metrics =
        get(cJSON_GetArrayItem(get(get(doc, "_aws"), "CloudWatchMetrics"), 0), "Metrics");
    static const char *const names[] = {
        "OutOfMemoryDeaths",          "OutOfMemoryPredicted",
        "OutOfMemoryLeadSeconds",     "DeadEnvironmentLifetimeSeconds",
        "DeadEnvironmentInvocations", "DeadEnvironmentUnwrittenRecords"};
    assert_int_equal(cJSON_GetArraySize(metrics), 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(str(cJSON_GetArrayItem(metrics, i), "Name"), names[i]);
    assert_true(num(doc, "OutOfMemoryDeaths") == 1);
    assert_true(num(doc, "OutOfMemoryPredicted") == 1);
    assert_true(num(doc, "OutOfMemoryLeadSeconds") == 45);
    assert_true(num(doc, "DeadEnvironmentLifetimeSeconds") == 91.5);
    assert_true(num(doc, "DeadEnvironmentInvocations") == 92);
    assert_true(num(doc, "DeadEnvironmentUnwrittenRecords") == 0);
    assert_string_equal(str(doc, "LastRequestId"), "req-92");
    assert_string_equal(str(doc, "LeakwatchRecord"), "death");
    assert_string_equal(str(doc, "EnvironmentId"), "env-new");
    assert_string_equal(str(doc, "DeadEnvironmentId"), "env-dead-1");
    assert_string_equal(str(doc, "Cause"), "Runtime.OutOfMemory");
    const cJSON *forms = get(doc, "OomForms");
    assert_int_equal(cJSON_GetArraySize(forms), 2);
    assert_string_equal(cJSON_GetArrayItem(forms, 0)->valuestring, "error-type");
    assert_string_equal(cJSON_GetArrayItem(forms, 1)->valuestring, "error-at-limit");
    assert_true(cJSON_IsTrue(get(doc, "Predicted")));
    assert_true(num(doc, "LeadInvocations") == 40);
    assert_true(num(doc, "LeadMinutes") == 0.75);
    assert_true(num(doc, "ProjectedOomSequence") == 95.0);
    assert_true(num(doc, "LastProjectedOomSequence") == 92.3);
    assert_true(num(doc, "ActualOomSequence") == 92);
    assert_true(num(doc, "ProjectionErrorPercent") == 3.3);
    assert_true(cJSON_IsFalse(get(doc, "Intervals")));
    assert_true(num(doc, "DeadEnvironmentEndTimeMs") == 1767600091500.0);
    assert_string_equal(str(doc, "LastVerdict"), "leak-critical");
    assert_true(num(doc, "MemoryLimitBytes") == 128.0 * MIB);
    assert_string_equal(str(doc, "LastErrorType"), "Runtime.OutOfMemory");
    assert_true(num(doc, "LastMaxMemoryUsedMB") == 128);
    assert_string_equal(str(doc, "ShutdownReason"), "failure");
    cJSON_Delete(doc);

    /* figures that are not finite: their members go, the line stays */
    x.lead_invocations = INFINITY;
    x.lead_minutes = NAN;
    x.age_seconds = INFINITY;
    assert_int_equal(lw_emf_encode_death(&opts, &e, line, sizeof(line), &len), LW_OK);
    assert_null(emf_violation(line, len));
    doc = parse();
    assert_null(get(doc, "LeadInvocations"));
    assert_null(get(doc, "LeadMinutes"));
    assert_null(get(doc, "OutOfMemoryLeadSeconds"));
    assert_null(get(doc, "DeadEnvironmentLifetimeSeconds"));
    assert_true(cJSON_IsTrue(get(doc, "Predicted")));
    cJSON_Delete(doc);

    /* a death that is not of memory has no memory figures; not seen ending: its last boundary */
    make_death(&st, &x);
    x.cause = LW_DEATH_KILLED;
    x.oom_forms = 0;
    x.predicted = false;
    x.unwritten_records = 1;
    st.ended = false;
    assert_int_equal(lw_emf_encode_death(&opts, &e, line, sizeof(line), &len), LW_OK);
    doc = parse();
    assert_true(num(doc, "OutOfMemoryDeaths") == 0);
    assert_true(num(doc, "DeadEnvironmentUnwrittenRecords") == 1);
    assert_null(get(doc, "OutOfMemoryPredicted"));
    assert_null(get(doc, "OomForms"));
    assert_null(get(doc, "Predicted"));
    assert_null(get(doc, "LeadMinutes"));
    assert_null(get(doc, "ShutdownReason"));
    assert_true(num(doc, "DeadEnvironmentEndTimeMs") == 1767600090000.0);
    assert_string_equal(str(doc, "Cause"), "killed");
    cJSON_Delete(doc);

    /* intervals have no request of their own; before the first INVOKE there is none */
    st.intervals = true;
    assert_int_equal(lw_emf_encode_death(&opts, &e, line, sizeof(line), &len), LW_OK);
    doc = parse();
    assert_null(get(doc, "LastRequestId"));
    cJSON_Delete(doc);
    st.intervals = false;
    st.open_request_id[0] = '\0';
    assert_int_equal(lw_emf_encode_death(&opts, &e, line, sizeof(line), &len), LW_OK);
    doc = parse();
    assert_null(get(doc, "LastRequestId"));
    cJSON_Delete(doc);

    assert_int_equal(lw_emf_encode_death(&opts, NULL, line, sizeof(line), &len), LW_ERR_INVALID);
    e.dead = NULL;
    assert_int_equal(lw_emf_encode_death(&opts, &e, line, sizeof(line), &len), LW_ERR_INVALID);
}

/* ---- the direct encoder against the cJSON one it replaced ----------------------------------- */

/* xorshift64: the same sequence on every run, so a failure names a record that can be rebuilt */
static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static bool rnd_bool(uint64_t *x)
{
    return rnd(x) & 1;
}

/* A 64-bit figure: small, at the edges of double's exact range, or any at all. */
static uint64_t rnd_u64(uint64_t *x)
{
    static const uint64_t edge[] = {0,         1,          9007199254740992ull, 9007199254740993ull,
                                    INT64_MAX, UINT64_MAX, 128 * MIB,           10240 * MIB};
    uint64_t r = rnd(x);
    switch (r % 4) {
    case 0:
        return edge[(r >> 8) % (sizeof(edge) / sizeof(edge[0]))];
    case 1:
        return (r >> 8) % 100000;
    default:
        return rnd(x);
    }
}

/* A finite double: a decimal of a few places, an integer at or beyond 2^53 and 2^63, a ratio,
 * tiny and huge magnitudes, negative zero, or any finite bit pattern. */
static double rnd_double(uint64_t *x)
{
    static const double edge[] = {0.0,    -0.0,    1e-300, 5e-324,     1.7976931348623157e308,
                                  9.2e18, -9.3e18, 1e21,   1e15 + 0.5, 4503599627370497.0,
                                  0.1,    1.0 / 3, 2.675,  1e-4,       9.99e-5};
    uint64_t r = rnd(x);
    double v;
    switch (r % 6) {
    case 0:
        return edge[(r >> 8) % (sizeof(edge) / sizeof(edge[0]))];
    case 1:
        return (double)((r >> 8) % 100000000ull) / 1000.0;
    case 2:
        return (double)((r >> 8) % 1000000) / (double)(1 + (r >> 40) % 1000);
    case 3:
        return (double)(rnd(x) >> (r % 64));
    default:
        do {
            uint64_t b = rnd(x);
            memcpy(&v, &b, sizeof(v));
        } while (!isfinite(v));
        return v;
    }
}

/* A string for s[cap]: pieces of plain ASCII, quotes, backslashes, every kind of control
 * character, DEL, characters of two to four bytes, and bytes that are not UTF-8 (a lone
 * continuation, a cut sequence, an overlong form, a surrogate, beyond U+10FFFF); sometimes
 * empty, sometimes filling s. */
static void rnd_text(uint64_t *x, char *s, size_t cap)
{
    static const char *const piece[] = {
        "a",
        "orders-api",
        " ",
        "\"",
        "\\",
        "/",
        "\b",
        "\f",
        "\n",
        "\r",
        "\t",
        "\x01",
        "\x1f",
        "\x7f",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\x80",
        "\xc3",
        "\xe2\x82",
        "\xc0\x80",
        "\xed\xa0\x80",
        "\xf4\x90\x80\x80",
        "\xff",
    };
    size_t n = 0;
    size_t want = rnd(x) % 4 == 0 ? cap : rnd(x) % cap;
    while (n + 1 < cap && n < want) {
        const char *p = piece[rnd(x) % (sizeof(piece) / sizeof(piece[0]))];
        size_t l = strlen(p);
        if (l > cap - 1 - n)
            l = cap - 1 - n; /* cut: the string may end inside a character */
        memcpy(s + n, p, l);
        n += l;
    }
    s[n] = '\0';
}

static void rnd_mem(uint64_t *x, struct lw_proc_mem *m)
{
    m->rss_bytes = rnd_u64(x);
    m->rss_anon_bytes = rnd_u64(x);
    m->rss_file_bytes = rnd_u64(x);
    m->rss_shmem_bytes = rnd_u64(x);
    m->hwm_bytes = rnd_u64(x);
}

static void rnd_totals(uint64_t *x, struct lw_mem_totals *t)
{
    t->rss_bytes = rnd_u64(x);
    t->rss_anon_bytes = rnd_u64(x);
    t->rss_file_bytes = rnd_u64(x);
    t->rss_shmem_bytes = rnd_u64(x);
}

/* A record of any shape: every field drawn, readings missing or not, every figure anything. */
static void rnd_record(uint64_t *x, struct lw_record *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = rnd(x) % 5 == 0 ? LW_RECORD_INTERVAL : LW_RECORD_INVOCATION;
    r->restored = rnd(x) % 8 == 0;
    r->interval.requests = rnd_u64(x);
    r->interval.errors = rnd_u64(x);
    r->interval.timeouts = rnd_u64(x);
    r->interval.out_of_memory = rnd_u64(x);
    r->interval.timed = rnd_u64(x);
    r->interval.duration_sum_ms = rnd_double(x);
    r->interval.duration_max_ms = rnd_double(x);
    r->interval.started = rnd_u64(x);
    rnd_text(x, r->request_id, sizeof(r->request_id));
    rnd_text(x, r->env_id, sizeof(r->env_id));
    r->seq = rnd_u64(x);
    r->cold_start = rnd_bool(x);
    r->start_time_ms = rnd_u64(x);
    r->end_time_ms = rnd(x) % 6 == 0 ? 0 : rnd_u64(x);
    r->deadline_ms = rnd_u64(x);
    r->have_end = rnd_bool(x);
    r->peak_method = (enum lw_peak_method)(rnd(x) % 3);
    rnd_totals(x, &r->fn_start);
    rnd_totals(x, &r->fn_end);
    r->fn_peak_bytes = rnd_u64(x);
    rnd_totals(x, &r->env_end);
    r->memory_limit_bytes = rnd(x) % 3 == 0 ? 0 : rnd_u64(x);
    r->n_procs = (uint32_t)(rnd(x) % (LW_MAX_PROCS + 1));
    for (uint32_t i = 0; i < r->n_procs; i++) {
        struct lw_record_proc *p = &r->procs[i];
        p->pid = (int32_t)(uint32_t)rnd(x);
        p->start_ticks = rnd_u64(x);
        p->role = (enum lw_proc_role)(rnd(x) % LW_ROLE_COUNT);
        rnd_text(x, p->name, sizeof(p->name));
        p->have_start = rnd_bool(x);
        p->have_end = rnd_bool(x);
        rnd_mem(x, &p->start);
        rnd_mem(x, &p->end);
        p->peak_bytes = rnd_u64(x);
    }
    r->self_rss_bytes = rnd_u64(x);
    r->self_cpu_us = rnd_u64(x);
    r->self_cpu_total_us = rnd_u64(x);
    struct lw_platform *pl = &r->platform;
    pl->have_start = rnd_bool(x);
    pl->have_runtime_done = rnd_bool(x);
    pl->have_report = rnd_bool(x);
    rnd_text(x, pl->status, sizeof(pl->status));
    rnd_text(x, pl->error_type, sizeof(pl->error_type));
    pl->runtime_duration_ms = rnd_double(x);
    pl->produced_bytes = rnd_double(x);
    pl->duration_ms = rnd_double(x);
    pl->billed_duration_ms = rnd_double(x);
    pl->extension_overhead_ms = rnd_double(x);
    pl->memory_size_mb = rnd_u64(x);
    pl->max_memory_used_mb = rnd_u64(x);
    pl->have_init_duration = rnd_bool(x);
    pl->init_duration_ms = rnd_double(x);
    r->gaps = (uint32_t)rnd(x) & (rnd_bool(x) ? 0x1fu : 0xffffffffu);
    r->runtime_hint.kind = (enum lw_runtime_kind)(rnd(x) % LW_RUNTIME_KIND_COUNT);
    r->runtime_hint.heap_max_bytes = rnd_u64(x);
    r->runtime_hint.heap_max_permille = (uint32_t)rnd(x);
    r->partial_totals = (uint32_t)rnd(x) & 7;
}

static void rnd_verdict(uint64_t *x, struct lw_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->kind = (enum lw_verdict_kind)(rnd(x) % (LW_VERDICT_COUNT + 1)); /* COUNT: left out */
    v->previous = (enum lw_verdict_kind)(rnd(x) % LW_VERDICT_COUNT);
    v->changed = rnd_bool(x);
    v->growth_bytes_per_invocation = rnd_double(x);
    v->growth_lower_bytes_per_invocation = rnd_double(x);
    v->growth_bytes_per_hour = rnd_double(x);
    v->confidence = rnd_double(x);
    v->have_projection = rnd_bool(x);
    v->projected_invocations_to_oom = rnd_double(x);
    v->projected_minutes_to_oom = rnd_double(x);
    v->projected_minutes_to_oom_late = rnd_double(x);
    v->runtime_heap_ceiling_bytes = rnd_u64(x);
    v->runtime_ceiling_fits = rnd_bool(x);
    v->given_back = rnd_bool(x);
    v->still_growing = rnd_bool(x);
    rnd_text(x, v->culprit, sizeof(v->culprit));
    v->culprit_role = (enum lw_proc_role)(rnd(x) % LW_ROLE_COUNT);
    v->culprit_pid = (int32_t)(uint32_t)rnd(x);
    v->intervals = rnd_bool(x);
    rnd_text(x, v->reason, sizeof(v->reason));
}

/* Options of any valid shape: a function name and version of up to 1024 bytes. */
static void rnd_options(uint64_t *x, struct lw_emf_options *o, char *name, char *version)
{
    static const char *const ns[] = {"Leakwatch", "Team.A/leakwatch#1:x-y_z"};
    static const char *const piece[] = {"f", "\"",    "\\", "/", "\xc3\xa9", "\xf0\x9f\x98\x80",
                                        "-", "orders"};
    char *out[2] = {name, version};
    for (int k = 0; k < 2; k++) {
        size_t n = 0;
        size_t want = rnd(x) % 4 == 0 ? LW_EMF_DIMENSION_VALUE_MAX : 1 + rnd(x) % 40;
        while (n < want) {
            const char *p = piece[rnd(x) % (sizeof(piece) / sizeof(piece[0]))];
            size_t l = strlen(p);
            if (n + l > want)
                break;
            memcpy(out[k] + n, p, l);
            n += l;
        }
        if (n == 0)
            out[k][n++] = 'f';
        out[k][n] = '\0';
    }
    *o = (struct lw_emf_options){0};
    o->namespace_ = ns[rnd(x) % 2];
    o->function_name = name;
    o->version_dimension = rnd_bool(x);
    o->function_version = o->version_dimension || rnd_bool(x) ? version : "";
    assert_int_equal(lw_emf_options_check(o), LW_OK);
}

/*
 * Both lines of one document: the same result; when written, the same document (cJSON parses
 * both and finds every member equal, wherever it is) and, since the direct encoder follows the
 * old one's order and number forms, the same bytes.
 */
static void assert_same_line(enum lw_err ref_err, const char *ref, size_t ref_len, enum lw_err err,
                             const char *got, size_t got_len, uint64_t seed)
{
    if (ref_err != err)
        fail_msg("seed %" PRIu64 ": the cJSON encoder gives %d, the direct one %d", seed,
                 (int)ref_err, (int)err);
    if (err != LW_OK)
        return;
    cJSON *a = cJSON_ParseWithLength(ref, ref_len);
    cJSON *b = cJSON_ParseWithLength(got, got_len);
    if (!a || !b)
        fail_msg("seed %" PRIu64 ": a line does not parse:\n%s%s", seed, ref, got);
    if (!cJSON_Compare(a, b, true))
        fail_msg("seed %" PRIu64 ": not the same document:\n%s%s", seed, ref, got);
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (ref_len != got_len || memcmp(ref, got, got_len) != 0)
        fail_msg("seed %" PRIu64 ": not the same bytes:\n%s%s", seed, ref, got);
    const char *why = emf_violation(got, got_len);
    if (why)
        fail_msg("seed %" PRIu64 ": invalid EMF (%s): %s", seed, why, got);
}

static char ref_line[LW_EMF_BUFFER_BYTES];

/* Records, verdicts and health counters of every shape, through both encoders. */
static void test_same_as_cjson_encoder(void **state)
{
    (void)state;
    static struct lw_record r;
    static char name[LW_EMF_DIMENSION_VALUE_MAX + 1], version[LW_EMF_DIMENSION_VALUE_MAX + 1];
    size_t written = 0, too_large = 0, cache_hits = 0;
    static struct lw_emf_cache cache;
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t seed = 0x9e3779b97f4a7c15ull + i, x = seed;
        struct lw_emf_options o;
        struct lw_verdict v;
        struct lw_health h;
        rnd_options(&x, &o, name, version);
        /* every other document through one cache of metric definitions (emf.h), kept from
         * document to document of other shapes, options and buffer sizes */
        o.cache = i % 2 ? &cache : NULL;
        rnd_record(&x, &r);
        rnd_verdict(&x, &v);
        for (int k = 0; k < LW_H_COUNT; k++)
            h.c[k] = rnd_u64(&x);
        const struct lw_verdict *vp = rnd_bool(&x) ? &v : NULL;
        const struct lw_health *hp = rnd_bool(&x) ? &h : NULL;
        size_t ref_len = 0, len = 0;
        enum lw_err ref_err =
            ref_emf_encode_record(&o, &r, vp, hp, ref_line, sizeof(ref_line), &ref_len);
        enum lw_err err = lw_emf_encode_record(&o, &r, vp, hp, line, sizeof(line), &len);
        assert_same_line(ref_err, ref_line, ref_len, err, line, len, seed);
        if (o.cache != NULL && err == LW_OK) {
            /* the same metrics again: copied from the cache (a document without metrics
             * leaves it empty), the same bytes */
            cache_hits += cache.n > 0;
            err = lw_emf_encode_record(&o, &r, vp, hp, line, sizeof(line), &len);
            assert_same_line(ref_err, ref_line, ref_len, err, line, len, seed);
        }
        written += err == LW_OK;
        if (err == LW_OK && i % 8 == 0) {
            /* a buffer too small for the line and its NUL: neither writes part of it (with the
             * cache, whose definitions may not fit either) */
            o.cache = &cache;
            size_t cap = (size_t)(rnd(&x) % (len + 1));
            ref_err = ref_emf_encode_record(&o, &r, vp, hp, ref_line, cap, &ref_len);
            err = lw_emf_encode_record(&o, &r, vp, hp, line, cap, &len);
            assert_same_line(ref_err, ref_line, ref_len, err, line, len, seed);
            assert_int_equal(err, LW_ERR_TOO_LARGE);
            assert_true(cap == 0 || line[0] == '\0');
            too_large++;
        }
    }
    assert_true(written > 15000);
    assert_true(too_large > 1000);
    assert_true(cache_hits > 7000);
}

/* Shutdown and death lines of every shape through both encoders. The old encoder failed a
 * death line whose figure was not finite (test_death: the direct one leaves the member out),
 * so the figures here are finite. */
static void test_same_as_cjson_encoder_shutdown_death(void **state)
{
    (void)state;
    static char name[LW_EMF_DIMENSION_VALUE_MAX + 1], version[LW_EMF_DIMENSION_VALUE_MAX + 1];
    char env[LW_ENV_ID_MAX], reason[64], category[32];
    size_t seen_oom = 0, seen_predicted = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        uint64_t seed = 0x2545f4914f6cdd1dull + i, x = seed;
        struct lw_emf_options o;
        struct lw_health h;
        rnd_options(&x, &o, name, version);
        for (int k = 0; k < LW_H_COUNT; k++)
            h.c[k] = rnd_u64(&x);
        rnd_text(&x, env, sizeof(env));
        rnd_text(&x, reason, sizeof(reason));
        rnd_text(&x, category, sizeof(category));
        struct lw_emf_shutdown sd = {.time_ms = rnd_u64(&x),
                                     .env_id = env,
                                     .reason = reason,
                                     .category = category,
                                     .lifetime_seconds = rnd_double(&x),
                                     .invocations = rnd_u64(&x)};
        const struct lw_health *hp = rnd_bool(&x) ? &h : NULL;
        size_t ref_len = 0, len = 0;
        enum lw_err ref_err =
            ref_emf_encode_shutdown(&o, &sd, hp, ref_line, sizeof(ref_line), &ref_len);
        enum lw_err err = lw_emf_encode_shutdown(&o, &sd, hp, line, sizeof(line), &len);
        assert_same_line(ref_err, ref_line, ref_len, err, line, len, seed);

        struct lw_state st;
        struct lw_death d;
        memset(&st, 0, sizeof(st));
        memset(&d, 0, sizeof(d));
        rnd_text(&x, st.env_id, sizeof(st.env_id));
        st.started_ms = rnd_u64(&x);
        st.restored = rnd_bool(&x);
        st.memory_limit_bytes = rnd(&x) % 3 == 0 ? 0 : rnd_u64(&x);
        st.boundary_ms = rnd_u64(&x);
        st.have_readings = rnd_bool(&x);
        st.fn_rss_bytes = rnd_u64(&x);
        st.env_rss_bytes = rnd_u64(&x);
        st.env_rss_max_bytes = rnd_u64(&x);
        st.intervals = rnd_bool(&x);
        st.verdict = (enum lw_verdict_kind)(rnd(&x) % LW_VERDICT_COUNT);
        st.ended = rnd_bool(&x);
        st.ended_ms = rnd_u64(&x);
        rnd_text(&x, st.shutdown_reason, sizeof(st.shutdown_reason));
        st.have_last_report = rnd_bool(&x);
        st.last_report_seq = rnd_u64(&x);
        rnd_text(&x, st.last_status, sizeof(st.last_status));
        rnd_text(&x, st.last_error_type, sizeof(st.last_error_type));
        st.last_max_memory_used_mb = rnd_u64(&x);
        st.last_memory_size_mb = rnd(&x) % 3 == 0 ? 0 : rnd_u64(&x);
        d.cause = (enum lw_death_cause)(rnd(&x) % (LW_DEATH_KILLED + 1));
        d.oom_forms = (uint32_t)rnd(&x);
        d.invocations = rnd_u64(&x);
        d.age_seconds = rnd_double(&x);
        d.predicted = rnd_bool(&x);
        /* figures a projection gives (what round() keeps finite) */
        d.lead_invocations = (double)(rnd(&x) % 1000000);
        d.lead_minutes = rnd_double(&x) / 1e300;
        d.have_error = rnd_bool(&x);
        d.projected_seq = (double)(rnd(&x) % 10000000) / 7.0;
        d.error_percent = (double)(rnd(&x) % 100000) / 3.0;
        d.last_projected_seq = (double)(rnd(&x) % 10000000) / 9.0;
        rnd_text(&x, env, sizeof(env));
        struct lw_emf_death e = {.time_ms = rnd_u64(&x), .env_id = env, .dead = &st, .death = &d};
        ref_err = ref_emf_encode_death(&o, &e, ref_line, sizeof(ref_line), &ref_len);
        err = lw_emf_encode_death(&o, &e, line, sizeof(line), &len);
        assert_same_line(ref_err, ref_line, ref_len, err, line, len, seed);
        seen_oom += err == LW_OK && d.cause == LW_DEATH_OUT_OF_MEMORY;
        seen_predicted += err == LW_OK && d.predicted && d.have_error;
    }
    assert_true(seen_oom > 1000);
    assert_true(seen_predicted > 1000);
}

/* An interval record (Managed Instances): the requests of the interval, no request id, no
 * per-invocation figure; and a restored environment's record says so. */
static void test_interval_and_restored(void **state)
{
    (void)state;
    static struct lw_record r;
    make_typical_record(&r);
    r.kind = LW_RECORD_INTERVAL;
    r.request_id[0] = '\0';
    r.end_time_ms = r.start_time_ms + 10000;
    memset(&r.platform, 0, sizeof(r.platform));
    r.interval.requests = 120;
    r.interval.errors = 2;
    r.interval.timeouts = 1;
    r.interval.timed = 120;
    r.interval.duration_sum_ms = 3000.0;
    r.interval.duration_max_ms = 95.5;
    struct lw_verdict v = {.kind = LW_VERDICT_LEAK,
                           .growth_bytes_per_invocation = 4096,
                           .growth_bytes_per_hour = 1.5e9,
                           .have_projection = true,
                           .projected_invocations_to_oom = 42,
                           .projected_minutes_to_oom = 240};
    encode_valid(&opts, &r, &v, NULL);
    cJSON *doc = parse();
    check_metric_set(doc, &r, &v, false);
    assert_string_equal(str(doc, "LeakwatchRecord"), "interval");
    assert_null(get(doc, "RequestId"));
    assert_true(num(doc, "IntervalStartTimeMs") == (double)r.start_time_ms);
    assert_true(num(doc, "IntervalSeconds") == 10.0);
    assert_true(num(doc, "Requests") == 120);
    assert_true(num(doc, "RequestErrors") == 2);
    assert_true(num(doc, "RequestTimeouts") == 1);
    assert_true(num(doc, "RequestDurationMeanMilliseconds") == 25.0);
    assert_true(num(doc, "RequestDurationMaxMilliseconds") == 95.5);
    assert_true(num(doc, "FunctionProcesses") == 1);
    assert_true(num(doc, "GrowthPerHourBytes") == 1.5e9);
    assert_true(num(doc, "ProjectedMinutesToOom") == 240);
    /* per invocation: not defined under concurrency */
    assert_null(get(doc, "GrowthPerInvocationBytes"));
    assert_null(get(doc, "ProjectedInvocationsToOom"));
    assert_null(get(doc, "DurationMilliseconds"));
    assert_null(get(doc, "Restored"));
    cJSON_Delete(doc);

    /* an invocation record has none of the interval's figures */
    make_typical_record(&r);
    r.restored = true;
    encode_valid(&opts, &r, NULL, NULL);
    doc = parse();
    assert_string_equal(str(doc, "LeakwatchRecord"), "invocation");
    assert_null(get(doc, "Requests"));
    assert_null(get(doc, "IntervalSeconds"));
    assert_true(cJSON_IsTrue(get(doc, "Restored")));
    cJSON_Delete(doc);
}

/* The validator catches each rule broken on its own. */
static void test_validator_rejects(void **state)
{
    (void)state;
    static const char ok[] =
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":1}\n";
    assert_null(emf_violation(ok, strlen(ok)));
    static const char *const bad[] = {
        /* not one line */
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":1}",
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":\n"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":1}\n",
        /* trailing junk */
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":1}x\n",
        /* no _aws */
        "{\"D\":\"d\",\"M\":1}\n",
        /* Timestamp not an integer: fraction, exponent, string */
        "{\"_aws\":{\"Timestamp\":1.5,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":1}\n",
        "{\"_aws\":{\"Timestamp\":1e3,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":1}\n",
        "{\"_aws\":{\"Timestamp\":\"1\",\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":1}\n",
        /* bad namespace */
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":1}\n",
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":1}\n",
        /* dimension without a value, or with a number */
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"M\":1}\n",
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":1,\"M\":1}\n",
        /* metric without a value, or with a string */
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\"}\n",
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Bytes\"}]}]},\"D\":\"d\",\"M\":\"1\"}\n",
        /* unit not allowed */
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"Unit\":\"Byte\"}]}]},\"D\":\"d\",\"M\":1}\n",
        /* StorageResolution */
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\",\"StorageResolution\":5}]}]},\"D\":\"d\",\"M\":1}"
        "\n",
        /* metric defined twice */
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\",\"Dimensions\":"
        "[[\"D\"]],\"Metrics\":[{\"Name\":\"M\"},{\"Name\":\"M\"}]}]},\"D\":\"d\",\"M\":1}\n",
        /* no directives */
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[]},\"D\":\"d\",\"M\":1}\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (!emf_violation(bad[i], strlen(bad[i])))
            fail_msg("validator accepted bad document %zu: %s", i, bad[i]);

    /* the count rules: 31 dimension keys, 101 metrics, a 1025-char dimension value, 256 KB */
    static char big[300 * 1024];
    int n = snprintf(big, sizeof(big),
                     "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\","
                     "\"Dimensions\":[[");
    for (int i = 0; i < 31; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, "%s\"D%d\"", i ? "," : "", i);
    n += snprintf(big + n, sizeof(big) - (size_t)n, "]],\"Metrics\":[]}]}");
    for (int i = 0; i < 31; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, ",\"D%d\":\"d\"", i);
    n += snprintf(big + n, sizeof(big) - (size_t)n, "}\n");
    assert_non_null(emf_violation(big, (size_t)n));

    n = snprintf(big, sizeof(big),
                 "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\","
                 "\"Dimensions\":[],\"Metrics\":[");
    for (int i = 0; i < 101; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, "%s{\"Name\":\"M%d\"}", i ? "," : "", i);
    n += snprintf(big + n, sizeof(big) - (size_t)n, "]}]}");
    for (int i = 0; i < 101; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, ",\"M%d\":1", i);
    n += snprintf(big + n, sizeof(big) - (size_t)n, "}\n");
    assert_non_null(emf_violation(big, (size_t)n));

    n = snprintf(big, sizeof(big),
                 "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\","
                 "\"Dimensions\":[[\"D\"]],\"Metrics\":[]}]},\"D\":\"%01025d\"}\n",
                 0);
    assert_non_null(emf_violation(big, (size_t)n));

    n = snprintf(big, sizeof(big),
                 "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"N\","
                 "\"Dimensions\":[],\"Metrics\":[]}]},\"P\":\"");
    memset(big + n, 'p', 260 * 1024);
    n += 260 * 1024;
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\"}\n");
    assert_non_null(emf_violation(big, (size_t)n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_rejects),
        cmocka_unit_test(test_typical),
        cmocka_unit_test(test_version_dimension_and_health),
        cmocka_unit_test(test_incomplete),
        cmocka_unit_test(test_verdict_and_hostile_strings),
        cmocka_unit_test(test_runtime_figures),
        cmocka_unit_test(test_largest),
        cmocka_unit_test(test_exact_integers),
        cmocka_unit_test(test_buffer_caps),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_interval_and_restored),
        cmocka_unit_test(test_cjson_print_of_every_kind),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_death),
        cmocka_unit_test(test_same_as_cjson_encoder),
        cmocka_unit_test(test_same_as_cjson_encoder_shutdown_death),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
