#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/telemetry_events.h>

#include "fixture.h"

#define MAX_EVENTS 16

struct collected {
    size_t n;
    struct lw_platform_event ev[MAX_EVENTS];
};

static void collect(void *ctx, const struct lw_platform_event *ev)
{
    struct collected *c = ctx;
    assert_true(c->n < MAX_EVENTS);
    c->ev[c->n++] = *ev;
}

/* A recorded batch, in a buffer of its own (the parser is given exactly its bytes). */
static char *telemetry_fixture(const char *name, size_t *len)
{
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = read_fixture("telemetry", name, buf, 1 << 16);
    return buf;
}

struct parse_case {
    const char *file;
    enum lw_err err;
    size_t n_events; /* delivered */
    enum lw_platform_event_type first_type;
    uint64_t received, unparseable, unknown;
    double dropped; /* droppedRecords of the first event, delivered as parsed */
};

static const struct parse_case parse_cases[] = {
    {"init_start.json", LW_OK, 1, LW_EV_INIT_START, 1, 0, 0, 0},
    {"init_runtime_done.json", LW_OK, 1, LW_EV_INIT_RUNTIME_DONE, 1, 0, 0, 0},
    {"init_report.json", LW_OK, 1, LW_EV_INIT_REPORT, 1, 0, 0, 0},
    {"start.json", LW_OK, 1, LW_EV_START, 1, 0, 0, 0},
    {"runtime_done.json", LW_OK, 1, LW_EV_RUNTIME_DONE, 1, 0, 0, 0},
    {"report.json", LW_OK, 1, LW_EV_REPORT, 1, 0, 0, 0},
    {"report_timeout.json", LW_OK, 1, LW_EV_REPORT, 1, 0, 0, 0},
    {"restore_start.json", LW_OK, 1, LW_EV_RESTORE_START, 1, 0, 0, 0},
    {"restore_runtime_done.json", LW_OK, 1, LW_EV_RESTORE_RUNTIME_DONE, 1, 0, 0, 0},
    {"restore_report.json", LW_OK, 1, LW_EV_RESTORE_REPORT, 1, 0, 0, 0},
    {"extension.json", LW_OK, 1, LW_EV_EXTENSION, 1, 0, 0, 0},
    {"telemetry_subscription.json", LW_OK, 1, LW_EV_TELEMETRY_SUBSCRIPTION, 1, 0, 0, 0},
    {"logs_dropped.json", LW_OK, 1, LW_EV_LOGS_DROPPED, 1, 0, 0, 12},
    {"function.json", LW_OK, 2, LW_EV_FUNCTION_LOG, 2, 0, 0, 0},
    {"extension_log.json", LW_OK, 1, LW_EV_EXTENSION_LOG, 1, 0, 0, 0},
    {"invocation_sequence.json", LW_OK, 6, LW_EV_INIT_START, 6, 0, 0, 0},
    {"unknown_type.json", LW_OK, 1, LW_EV_START, 2, 0, 1, 0},
    {"missing_fields.json", LW_OK, 2, LW_EV_REPORT, 2, 0, 0, 0},
    {"malformed_elements.json", LW_OK, 1, LW_EV_START, 7, 6, 0, 0},
    {"malformed_truncated.json", LW_ERR_INVALID, 0, LW_EV_UNKNOWN, 0, 1, 0, 0},
    {"malformed_not_array.json", LW_ERR_INVALID, 0, LW_EV_UNKNOWN, 0, 1, 0, 0},
    {"init_start_2025.json", LW_OK, 1, LW_EV_INIT_START, 1, 0, 0, 0},
    {"restore_start_2025.json", LW_OK, 1, LW_EV_RESTORE_START, 1, 0, 0, 0},
    {"report_managed_instances.json", LW_OK, 4, LW_EV_START, 4, 0, 0, 0},
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *pc = &parse_cases[i];
        size_t len;
        char *body = telemetry_fixture(pc->file, &len);
        struct collected c = {0};
        struct lw_health h = {0};
        print_message("%s\n", pc->file);
        assert_int_equal(lw_telemetry_events_parse(body, len, collect, &c, &h), pc->err);
        assert_int_equal(c.n, pc->n_events);
        if (pc->n_events > 0)
            assert_int_equal(c.ev[0].type, pc->first_type);
        assert_int_equal(h.c[LW_H_TELEMETRY_RECEIVED], pc->received);
        assert_int_equal(h.c[LW_H_TELEMETRY_UNPARSEABLE], pc->unparseable);
        assert_int_equal(h.c[LW_H_TELEMETRY_UNKNOWN], pc->unknown);
        if (pc->n_events > 0)
            assert_true(c.ev[0].dropped_records == pc->dropped);
        /* whether a count of dropped records is believable is the ledger's to judge */
        assert_int_equal(h.c[LW_H_TELEMETRY_DROPPED], 0);
        free(body);
    }
}

static struct collected parse_file(const char *file)
{
    size_t len;
    char *body = telemetry_fixture(file, &len);
    struct collected c = {0};
    struct lw_health h = {0};
    assert_int_equal(lw_telemetry_events_parse(body, len, collect, &c, &h), LW_OK);
    free(body);
    return c;
}

static void test_report_fields(void **state)
{
    (void)state;
    struct collected c = parse_file("report.json");
    const struct lw_platform_event *ev = &c.ev[0];
    assert_string_equal(ev->request_id, "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa");
    assert_string_equal(ev->status, "success");
    assert_string_equal(ev->error_type, "");
    assert_true(ev->fields & LW_EVF_TIME);
    assert_int_equal(ev->time_ms, 1767607207001ULL);
    uint32_t want = LW_EVF_DURATION | LW_EVF_BILLED_DURATION | LW_EVF_MEMORY_SIZE |
                    LW_EVF_MAX_MEMORY_USED | LW_EVF_INIT_DURATION | LW_EVF_EXTENSION_OVERHEAD;
    assert_int_equal(ev->fields & want, want);
    assert_false(ev->fields & LW_EVF_RESTORE_DURATION);
    assert_true(ev->duration_ms == 152.3);
    assert_true(ev->billed_duration_ms == 153);
    assert_true(ev->memory_size_mb == 512);
    assert_true(ev->max_memory_used_mb == 84);
    assert_true(ev->init_duration_ms == 171.2);
    assert_true(ev->extension_overhead_ms == 11.9);
}

static void test_runtime_done_fields(void **state)
{
    (void)state;
    struct collected c = parse_file("runtime_done.json");
    const struct lw_platform_event *ev = &c.ev[0];
    assert_int_equal(ev->type, LW_EV_RUNTIME_DONE);
    assert_string_equal(ev->request_id, "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa");
    assert_true(ev->duration_ms == 140.0);
    assert_true(ev->produced_bytes == 16);
    assert_true(ev->response_latency_ms == 139.1);
    assert_true(ev->response_duration_ms == 0.4);
    assert_true(ev->fields & LW_EVF_RESPONSE_LATENCY);
    assert_true(ev->fields & LW_EVF_RESPONSE_DURATION);
    assert_false(ev->fields & LW_EVF_EXTENSION_OVERHEAD);
}

static void test_other_fields(void **state)
{
    (void)state;
    struct collected c = parse_file("report_timeout.json");
    assert_string_equal(c.ev[0].status, "timeout");
    assert_string_equal(c.ev[0].error_type, "Sandbox.Timedout");
    assert_false(c.ev[0].fields & LW_EVF_INIT_DURATION);

    c = parse_file("init_report.json");
    assert_string_equal(c.ev[0].initialization_type, "on-demand");
    assert_string_equal(c.ev[0].phase, "init");
    assert_true(c.ev[0].duration_ms == 171.2);

    c = parse_file("init_start.json");
    assert_string_equal(c.ev[0].initialization_type, "on-demand");
    assert_string_equal(c.ev[0].request_id, "");

    c = parse_file("extension.json");
    assert_string_equal(c.ev[0].name, "leakwatch");
    assert_string_equal(c.ev[0].state, "Ready");

    c = parse_file("telemetry_subscription.json");
    assert_string_equal(c.ev[0].state, "Subscribed");

    c = parse_file("logs_dropped.json");
    assert_true(c.ev[0].dropped_records == 12);
    assert_true(c.ev[0].dropped_bytes == 32768);
    /* "reason" is long: truncated to its buffer, still terminated */
    assert_int_equal(strlen(c.ev[0].reason), LW_EV_WORD_MAX - 1);

    c = parse_file("restore_report.json");
    assert_true(c.ev[0].duration_ms == 240.6);

    c = parse_file("function.json");
    assert_true(c.ev[0].log_bytes > 0);
    assert_int_equal(c.ev[1].log_bytes, 0);

    c = parse_file("missing_fields.json");
    assert_int_equal(c.ev[0].fields, 0);
    assert_string_equal(c.ev[1].status, "error");
    assert_false(c.ev[1].fields & LW_EVF_DURATION); /* "12" is a string, not a number */
}

/* The body is (pointer, length): bytes past len are never read, even without a NUL. */
static void test_length_bounded(void **state)
{
    (void)state;
    const char text[] = "[{\"type\":\"platform.start\",\"record\":{\"requestId\":\"a\"}}]GARBAGE";
    size_t len = strlen(text) - strlen("GARBAGE");
    char *exact = malloc(len);
    assert_non_null(exact);
    memcpy(exact, text, len);
    struct collected c = {0};
    struct lw_health h = {0};
    assert_int_equal(lw_telemetry_events_parse(exact, len, collect, &c, &h), LW_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ev[0].request_id, "a");
    free(exact);
}

/* A member given twice counts as cJSON's lookup finds it, the first time, whatever its type. */
static void test_first_member_counts(void **state)
{
    (void)state;
    const char text[] =
        "[{\"type\":\"platform.report\",\"time\":\"2026-01-05T10:00:07.001Z\","
        "\"type\":\"platform.start\",\"record\":{\"requestId\":\"first\","
        "\"requestId\":\"second\",\"status\":7,\"status\":\"success\","
        "\"metrics\":{\"durationMs\":\"12\",\"durationMs\":12,\"maxMemoryUsedMB\":64},"
        "\"metrics\":{\"billedDurationMs\":13}}}]";
    struct collected c = {0};
    struct lw_health h = {0};
    assert_int_equal(lw_telemetry_events_parse(text, strlen(text), collect, &c, &h), LW_OK);
    assert_int_equal(c.n, 1);
    const struct lw_platform_event *ev = &c.ev[0];
    assert_int_equal(ev->type, LW_EV_REPORT);
    assert_string_equal(ev->request_id, "first");
    assert_string_equal(ev->status, "");
    assert_false(ev->fields & LW_EVF_DURATION);
    assert_false(ev->fields & LW_EVF_BILLED_DURATION);
    assert_true(ev->fields & LW_EVF_MAX_MEMORY_USED);
    assert_true(ev->max_memory_used_mb == 64);
}

/* Schema 2025-01-29: the platform's identity of the environment and its memory, on initStart
 * and restoreStart; Managed Instances' reduced report. */
static void test_schema_2025_fields(void **state)
{
    (void)state;
    struct collected c = parse_file("init_start_2025.json");
    assert_string_equal(c.ev[0].initialization_type, "lambda-managed-instances");
    assert_string_equal(c.ev[0].instance_id, "2026/01/05/[7]4898162374fc4f3a8ecd598b9dcf4d1c");
    assert_true(c.ev[0].fields & LW_EVF_INSTANCE_MAX_MEMORY);
    assert_true(c.ev[0].instance_max_memory_bytes == 4294967296.0);

    c = parse_file("restore_start_2025.json");
    assert_int_equal(c.ev[0].type, LW_EV_RESTORE_START);
    assert_string_equal(c.ev[0].instance_id, "2026/01/05/[12]9e0c1f7a55d34a8f9b2e6c4d1a7f3b20");
    assert_true(c.ev[0].instance_max_memory_bytes == 536870912.0);
    assert_int_equal(c.ev[0].time_ms, 1767612600250ull);

    /* the older schema has neither */
    c = parse_file("init_start.json");
    assert_string_equal(c.ev[0].instance_id, "");
    assert_false(c.ev[0].fields & LW_EVF_INSTANCE_MAX_MEMORY);

    c = parse_file("report_managed_instances.json");
    assert_int_equal(c.n, 4);
    const struct lw_platform_event *r = &c.ev[2];
    assert_int_equal(r->type, LW_EV_REPORT);
    assert_true(r->fields & LW_EVF_DURATION);
    assert_true(r->duration_ms == 217.504);
    assert_false(r->fields &
                 (LW_EVF_BILLED_DURATION | LW_EVF_MEMORY_SIZE | LW_EVF_MAX_MEMORY_USED));
    assert_true(r->fields & LW_EVF_RESPONSE_LATENCY);
    assert_string_equal(c.ev[3].error_type, "Runtime.OutOfMemory");

    /* an instanceId longer than leakwatch keeps is left out, never cut: a cut one could name
     * two environments alike */
    char body[600];
    char id[300];
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    int n = snprintf(body, sizeof(body),
                     "[{\"time\":\"2026-01-05T10:00:00Z\",\"type\":\"platform.initStart\","
                     "\"record\":{\"instanceId\":\"%s\"}}]",
                     id);
    struct collected big = {0};
    struct lw_health h = {0};
    assert_int_equal(lw_telemetry_events_parse(body, (size_t)n, collect, &big, &h), LW_OK);
    assert_string_equal(big.ev[0].instance_id, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),         cmocka_unit_test(test_report_fields),
        cmocka_unit_test(test_runtime_done_fields), cmocka_unit_test(test_other_fields),
        cmocka_unit_test(test_length_bounded),      cmocka_unit_test(test_first_member_counts),
        cmocka_unit_test(test_schema_2025_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
