/*
 * The hysteresis rule and the alert line: the exact bytes, the escaping of names from outside,
 * and the hard cap. Verdict names and levels are common/verdict.c's: test_verdict.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include <leakwatch/trend.h>
#include <leakwatch/alert.h>
#include <leakwatch/record.h>
#include <leakwatch/verdict.h>

static void test_alert_due(void **state)
{
    (void)state;
    static const struct {
        enum lw_verdict_kind from, to;
        bool due;
    } cases[] = {
        {LW_VERDICT_LEARNING, LW_VERDICT_STEADY, false},
        {LW_VERDICT_LEARNING, LW_VERDICT_WARMING, false},
        {LW_VERDICT_STEADY, LW_VERDICT_WARMING, false},
        {LW_VERDICT_WARMING, LW_VERDICT_STEADY, false},
        {LW_VERDICT_STEADY, LW_VERDICT_STEADY, false},
        {LW_VERDICT_LEAK, LW_VERDICT_LEAK, false},
        {LW_VERDICT_LEARNING, LW_VERDICT_LEAK, true},
        {LW_VERDICT_STEADY, LW_VERDICT_LEAK, true},
        {LW_VERDICT_WARMING, LW_VERDICT_LEAK_CRITICAL, true},
        /* within a leak episode the verdict moves without a line */
        {LW_VERDICT_LEAK, LW_VERDICT_LEAK_CRITICAL, false},
        {LW_VERDICT_LEAK_CRITICAL, LW_VERDICT_LEAK, false},
        {LW_VERDICT_LEAK, LW_VERDICT_STEADY, true},
        {LW_VERDICT_LEAK_CRITICAL, LW_VERDICT_WARMING, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(lw_alert_due(cases[i].from, cases[i].to), cases[i].due);
}

/* A sequence of candidate kinds through the hold, with the kind published after each. */
static void test_hold(void **state)
{
    (void)state;
    enum {
        L = LW_VERDICT_LEARNING,
        S = LW_VERDICT_STEADY,
        W = LW_VERDICT_WARMING,
        K = LW_VERDICT_LEAK,
        C = LW_VERDICT_LEAK_CRITICAL,
        END = -1
    };
    static const struct {
        uint32_t hold, withdraw;
        int cand[20];
        int published[20];
        int alerts_at[4]; /* indexes of the alert lines, -1 after the last */
    } cases[] = {
        /* the first verdict needs three assessments; learning -> steady is silent */
        {3, 64, {L, S, S, S, S, END}, {L, L, L, S, S}, {-1}},
        /* a single leaky assessment (a spike) changes nothing */
        {3, 64, {S, S, S, S, K, S, S, END}, {L, L, S, S, S, S, S}, {-1}},
        /* a leak must be proposed three times in a row; one alert */
        {3, 64, {S, S, S, K, K, K, K, END}, {L, L, S, S, S, K, K}, {5, -1}},
        /* alternating proposals never settle: no storm */
        {3, 64, {S, S, S, K, S, K, S, K, S, END}, {L, L, S, S, S, S, S, S, S}, {-1}},
        /* leak and leak-critical count together toward leaving steady */
        {3, 64, {S, S, S, K, C, C, C, END}, {L, L, S, S, S, C, C}, {5, -1}},
        /* within the episode leak <-> leak-critical moves the verdict, never a line */
        {3, 64, {K, K, K, C, K, C, C, K, END}, {L, L, K, C, K, C, C, K}, {2, -1}},
        /* growth stopped: leak (never leak-critical) until withdraw_assessments calm ones,
         * then one withdrawal line; a calm run that is interrupted starts over */
        {3, 3, {C, C, C, S, S, K, S, S, S, S, END}, {L, L, C, K, K, K, K, K, S, S}, {2, 8, -1}},
        /* a new leak after a withdrawal is a new episode: a new alert */
        {1, 2, {K, S, S, K, END}, {K, K, S, K}, {0, 2, 3, -1}},
        /* hold 1: every change is immediate */
        {1, 64, {S, W, K, END}, {S, W, K}, {2, -1}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lw_alert_hold h;
        lw_alert_hold_init(&h, cases[i].hold, cases[i].withdraw);
        struct lw_verdict cur = {.kind = LW_VERDICT_LEARNING};
        size_t next_alert = 0;
        for (size_t k = 0; cases[i].cand[k] != END; k++) {
            struct lw_verdict cand = {.kind = (enum lw_verdict_kind)cases[i].cand[k]};
            enum lw_verdict_kind before = cur.kind;
            lw_alert_hold_apply(&h, &cur, &cand);
            assert_int_equal(cur.kind, cases[i].published[k]);
            assert_int_equal(cur.previous, before);
            if (cur.changed) {
                assert_int_equal((int)k, cases[i].alerts_at[next_alert]);
                next_alert++;
            }
        }
        assert_int_equal(cases[i].alerts_at[next_alert], -1);
        assert_int_equal(h.alerts, next_alert);
    }
}

/* The evidence a candidate carries about a standing leak: memory given back withdraws it at
 * once; memory still growing (without proving a leak) neither counts toward the withdrawal nor
 * resets it. */
static void test_withdrawal_evidence(void **state)
{
    (void)state;
    struct lw_alert_hold h;
    lw_alert_hold_init(&h, 1, 3);
    struct lw_verdict cur = {.kind = LW_VERDICT_LEARNING};
    struct lw_verdict leak = {.kind = LW_VERDICT_LEAK_CRITICAL};
    struct lw_verdict calm = {.kind = LW_VERDICT_STEADY};
    struct lw_verdict growing = {.kind = LW_VERDICT_WARMING, .still_growing = true};
    struct lw_verdict back = {.kind = LW_VERDICT_STEADY, .given_back = true};

    lw_alert_hold_apply(&h, &cur, &leak);
    assert_true(cur.changed);
    /* growth without a leak right now, straight after leak-critical: the leak stands, as leak
     * (no projection comes with it), and no line is written */
    lw_alert_hold_apply(&h, &cur, &growing);
    assert_int_equal(cur.kind, LW_VERDICT_LEAK);
    assert_false(cur.changed);
    assert_int_equal(strncmp(cur.reason, "the leak stands while", 21), 0);
    assert_int_equal(h.alerts, 1);
    /* two calm, then growth: the count stands at two, the kind stays leak */
    lw_alert_hold_apply(&h, &cur, &calm);
    assert_int_equal(cur.kind, LW_VERDICT_LEAK);
    lw_alert_hold_apply(&h, &cur, &calm);
    assert_non_null(strstr(cur.reason, "the leak stands until 3 calm assessments (2 so far): "));
    lw_alert_hold_apply(&h, &cur, &growing);
    assert_int_equal(cur.kind, LW_VERDICT_LEAK);
    assert_false(cur.changed);
    assert_int_equal(h.calm_count, 2);
    assert_int_equal(strncmp(cur.reason, "the leak stands while", 21), 0);
    /* the third calm one withdraws */
    lw_alert_hold_apply(&h, &cur, &calm);
    assert_int_equal(cur.kind, LW_VERDICT_STEADY);
    assert_true(cur.changed);
    assert_int_equal(h.alerts, 2);

    /* a new leak; memory given back: withdrawn on the first calm assessment */
    lw_alert_hold_apply(&h, &cur, &leak);
    assert_true(cur.changed);
    lw_alert_hold_apply(&h, &cur, &back);
    assert_int_equal(cur.kind, LW_VERDICT_STEADY);
    assert_true(cur.changed);
    assert_int_equal(h.alerts, 4);
}

static struct lw_verdict sample_verdict(void)
{
    struct lw_verdict v = {
        .kind = LW_VERDICT_LEAK_CRITICAL,
        .previous = LW_VERDICT_STEADY,
        .changed = true,
        .growth_bytes_per_invocation = 102400.4,
        .growth_bytes_per_hour = 73728288,
        .confidence = 0.97,
        .have_projection = true,
        .projected_invocations_to_oom = 444,
        .projected_minutes_to_oom = 37.04,
        .culprit_role = LW_ROLE_RUNTIME,
        .culprit_pid = 7,
    };
    snprintf(v.culprit, sizeof(v.culprit), "%s", "bootstrap");
    snprintf(v.reason, sizeof(v.reason), "%s",
             "anonymous RSS of runtime 'bootstrap' grows 102400 bytes per invocation");
    return v;
}

static void test_alert_line_exact(void **state)
{
    (void)state;
    struct lw_verdict v = sample_verdict();
    char buf[LW_ALERT_LINE_MAX];
    size_t len = 0;
    assert_int_equal(
        lw_alert_line(&v, "orders-api", "2026-01-01-env-a", 42, NULL, buf, sizeof(buf), &len),
        LW_OK);
    const char *want =
        "{\"level\":\"WARN\",\"LeakwatchAlert\":\"verdict-change\",\"FunctionName\":\"orders-api\","
        "\"EnvironmentId\":\"2026-01-01-env-a\",\"Sequence\":42,\"From\":\"steady\","
        "\"To\":\"leak-critical\",\"Reason\":\"anonymous RSS of runtime 'bootstrap' grows 102400 "
        "bytes per invocation\",\"GrowthPerInvocationBytes\":102400,"
        "\"GrowthPerHourBytes\":73728288,"
        "\"ProjectedMinutesToOom\":37.0,\"Culprit\":\"bootstrap\",\"CulpritPid\":7}\n";
    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));

    /* no projection, no culprit: both keys left out */
    v.kind = LW_VERDICT_STEADY;
    v.previous = LW_VERDICT_LEAK;
    v.have_projection = false;
    v.culprit[0] = '\0';
    v.growth_bytes_per_invocation = 12;
    v.growth_bytes_per_hour = 720;
    snprintf(v.reason, sizeof(v.reason), "%s", "no retained growth");
    assert_int_equal(lw_alert_line(&v, "f", "e", 7, NULL, buf, sizeof(buf), &len), LW_OK);
    assert_string_equal(buf,
                        "{\"level\":\"WARN\",\"LeakwatchAlert\":\"verdict-change\","
                        "\"FunctionName\":\"f\",\"EnvironmentId\":\"e\",\"Sequence\":7,"
                        "\"From\":\"leak\",\"To\":\"steady\",\"Reason\":\"no retained "
                        "growth\",\"GrowthPerInvocationBytes\":12,\"GrowthPerHourBytes\":720}\n");

    /* interval records (Managed Instances): no per-invocation growth, per hour only */
    v.intervals = true;
    assert_int_equal(lw_alert_line(&v, "f", "e", 7, NULL, buf, sizeof(buf), &len), LW_OK);
    assert_null(strstr(buf, "GrowthPerInvocationBytes"));
    assert_non_null(strstr(buf, "\"GrowthPerHourBytes\":720"));
}

/* Names come from outside (process comm, function name): the line stays one valid JSON line. */
static void test_alert_line_escaping(void **state)
{
    (void)state;
    struct lw_verdict v = sample_verdict();
    /* quote, backslash, newline, tab, DEL, valid UTF-8 (é, €), an invalid byte, a lone
     * continuation byte, an overlong encoding */
    snprintf(v.culprit, sizeof(v.culprit), "%s",
             "we\"ird\\na\nme\t\x7f\xc3\xa9\xe2\x82\xac\xff\x80\xc0\xaf");
    char buf[LW_ALERT_LINE_MAX];
    size_t len = 0;
    assert_int_equal(lw_alert_line(&v, "fn\"x", "env\n", 1, NULL, buf, sizeof(buf), &len), LW_OK);
    assert_non_null(strstr(buf, "\"Culprit\":\"we\\\"ird\\\\na\\u000ame\\u0009\\u007f\xc3\xa9"
                                "\xe2\x82\xac\\ufffd\\ufffd\\ufffd\\ufffd\",\"CulpritPid\":7}"));
    /* exactly one newline, the last byte */
    assert_ptr_equal(strchr(buf, '\n'), buf + len - 1);
    cJSON *root = cJSON_Parse(buf);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "FunctionName")->valuestring,
                        "fn\"x");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "EnvironmentId")->valuestring,
                        "env\n");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "To")->valuestring, "leak-critical");
    assert_true(cJSON_GetObjectItemCaseSensitive(root, "Sequence")->valuedouble == 1);
    cJSON_Delete(root);
}

/* Every cap below the line's size fails cleanly; the exact size works. */
static void test_alert_line_cap(void **state)
{
    (void)state;
    struct lw_verdict v = sample_verdict();
    char full[LW_ALERT_LINE_MAX];
    size_t full_len = 0;
    assert_int_equal(lw_alert_line(&v, "orders-api", "env", 3, NULL, full, sizeof(full), &full_len),
                     LW_OK);
    char buf[LW_ALERT_LINE_MAX];
    for (size_t cap = 1; cap <= full_len; cap++) {
        size_t len = 99;
        memset(buf, 'x', sizeof(buf));
        assert_int_equal(lw_alert_line(&v, "orders-api", "env", 3, NULL, buf, cap, &len),
                         LW_ERR_TOO_LARGE);
        assert_int_equal(len, 0);
        assert_int_equal(buf[0], '\0');
    }
    size_t len = 0;
    assert_int_equal(lw_alert_line(&v, "orders-api", "env", 3, NULL, buf, full_len + 1, &len),
                     LW_OK);
    assert_int_equal(len, full_len);
    assert_string_equal(buf, full);

    assert_int_equal(lw_alert_line(NULL, "f", "e", 1, NULL, buf, sizeof(buf), &len),
                     LW_ERR_INVALID);
    assert_int_equal(lw_alert_line(&v, NULL, "e", 1, NULL, buf, sizeof(buf), &len), LW_ERR_INVALID);
    assert_int_equal(lw_alert_line(&v, "f", "e", 1, NULL, buf, 0, &len), LW_ERR_INVALID);

    /* the documented maximum holds the worst case: every byte of every name escaped */
    struct lw_verdict worst = sample_verdict();
    memset(worst.reason, 0x01, sizeof(worst.reason) - 1);
    worst.reason[sizeof(worst.reason) - 1] = '\0';
    memset(worst.culprit, 0x01, sizeof(worst.culprit) - 1);
    worst.culprit[sizeof(worst.culprit) - 1] = '\0';
    char env[LW_ENV_ID_MAX];
    memset(env, 0x01, sizeof(env) - 1);
    env[sizeof(env) - 1] = '\0';
    char fn[141];
    memset(fn, 0x01, sizeof(fn) - 1);
    fn[sizeof(fn) - 1] = '\0';
    worst.projected_minutes_to_oom = 1e300;
    assert_int_equal(lw_alert_line(&worst, fn, env, UINT64_MAX, NULL, buf, sizeof(buf), &len),
                     LW_OK);
    /* and with three allocation sites of escaped bytes only, at the largest growths */
    struct lw_alloc_sites sites = {.request = 9, .n = LW_SITES_MAX};
    for (int i = 0; i < LW_SITES_MAX; i++) {
        memset(sites.site[i].where, 0x01, sizeof(sites.site[i].where) - 1);
        sites.site[i].where[sizeof(sites.site[i].where) - 1] = '\0';
        sites.site[i].growth_bytes = INT64_MIN;
        sites.site[i].growth_count = INT64_MIN;
    }
    assert_int_equal(lw_alert_line(&worst, fn, env, UINT64_MAX, &sites, buf, sizeof(buf), &len),
                     LW_OK);
}

/* The allocation sites the record carries (Python with tracemalloc) are in the alert line, in
 * their order; a site's text comes from the function's probe file and is escaped. */
static void test_alert_line_sites(void **state)
{
    (void)state;
    struct lw_verdict v = sample_verdict();
    struct lw_alloc_sites sites = {.request = 2, .n = 2};
    snprintf(sites.site[0].where, sizeof(sites.site[0].where), "%s", "/var/task/app.py:12");
    sites.site[0].growth_bytes = 1048576;
    sites.site[0].growth_count = 8;
    snprintf(sites.site[1].where, sizeof(sites.site[1].where), "%s", "/opt/x\"y.py:3");
    sites.site[1].growth_bytes = 4096;
    sites.site[1].growth_count = -2;
    char buf[LW_ALERT_LINE_MAX];
    size_t len = 0;
    assert_int_equal(lw_alert_line(&v, "f", "e", 40, &sites, buf, sizeof(buf), &len), LW_OK);
    assert_non_null(strstr(buf,
                           ",\"CulpritPid\":7,\"AllocationSites\":[{\"Site\":\"/var/task/"
                           "app.py:12\",\"GrowthBytes\":1048576,\"GrowthCount\":8},{\"Site\":"
                           "\"/opt/x\\\"y.py:3\",\"GrowthBytes\":4096,\"GrowthCount\":-2}]}\n"));
    cJSON *root = cJSON_Parse(buf);
    assert_non_null(root);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "AllocationSites");
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    cJSON_Delete(root);
    /* none reported: no key */
    sites.n = 0;
    assert_int_equal(lw_alert_line(&v, "f", "e", 40, &sites, buf, sizeof(buf), &len), LW_OK);
    assert_null(strstr(buf, "AllocationSites"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alert_due),           cmocka_unit_test(test_hold),
        cmocka_unit_test(test_withdrawal_evidence), cmocka_unit_test(test_alert_line_exact),
        cmocka_unit_test(test_alert_line_escaping), cmocka_unit_test(test_alert_line_cap),
        cmocka_unit_test(test_alert_line_sites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
