#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include <leakwatch/lambda_api.h>

static const char *header(const struct lw_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

static void test_register_request(void **state)
{
    (void)state;
    struct lw_lambda_request r;
    assert_int_equal(
        lw_lambda_register_request(&r, "127.0.0.1:9001", LW_REGISTER_INVOKE | LW_REGISTER_SHUTDOWN),
        LW_OK);
    assert_string_equal(r.http.method, "POST");
    assert_string_equal(r.http.url, "http://127.0.0.1:9001/2020-01-01/extension/register");
    assert_string_equal(header(&r.http, "Lambda-Extension-Name"), "leakwatch");
    assert_string_equal(header(&r.http, "Content-Type"), "application/json");
    assert_true(r.http.no_proxy);
    assert_int_equal(r.http.n_want_headers, 1);
    assert_string_equal(r.http.want_headers[0], "Lambda-Extension-Identifier");
    cJSON *body = cJSON_ParseWithLength(r.http.body, r.http.body_len);
    assert_non_null(body);
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(body, "events");
    assert_int_equal(cJSON_GetArraySize(events), 2);
    assert_string_equal(cJSON_GetArrayItem(events, 0)->valuestring, "INVOKE");
    assert_string_equal(cJSON_GetArrayItem(events, 1)->valuestring, "SHUTDOWN");
    cJSON_Delete(body);
    assert_int_equal(lw_lambda_register_request(&r, "", LW_REGISTER_SHUTDOWN), LW_ERR_INVALID);
    assert_int_equal(lw_lambda_register_request(&r, "h:1", 4), LW_ERR_INVALID);

    /* SHUTDOWN only (Managed Instances), and no events: always valid JSON with an array */
    static const struct {
        unsigned events;
        int n;
        const char *first;
    } variants[] = {
        {LW_REGISTER_SHUTDOWN, 1, "SHUTDOWN"}, {LW_REGISTER_INVOKE, 1, "INVOKE"}, {0, 0, NULL}};
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        assert_int_equal(lw_lambda_register_request(&r, "h:1", variants[i].events), LW_OK);
        body = cJSON_ParseWithLength(r.http.body, r.http.body_len);
        assert_non_null(body);
        events = cJSON_GetObjectItemCaseSensitive(body, "events");
        assert_true(cJSON_IsArray(events));
        assert_int_equal(cJSON_GetArraySize(events), variants[i].n);
        if (variants[i].first != NULL)
            assert_string_equal(cJSON_GetArrayItem(events, 0)->valuestring, variants[i].first);
        cJSON_Delete(body);
    }
}

/* A refused event type is dropped, one step at a time; nothing else is retried. */
static void test_register_fallback(void **state)
{
    (void)state;
    const unsigned both = LW_REGISTER_INVOKE | LW_REGISTER_SHUTDOWN;
    assert_int_equal(lw_lambda_register_fallback(both, 403, "Extension.InvalidEventType"),
                     LW_REGISTER_SHUTDOWN);
    assert_int_equal(
        lw_lambda_register_fallback(LW_REGISTER_SHUTDOWN, 403, "Extension.InvalidEventType"), 0);
    assert_int_equal(lw_lambda_register_fallback(0, 403, "Extension.InvalidEventType"), -1);
    assert_int_equal(lw_lambda_register_fallback(both, 400, "Extension.InvalidEventType"),
                     LW_REGISTER_SHUTDOWN);
    assert_int_equal(lw_lambda_register_fallback(both, 500, "Extension.InvalidEventType"), -1);
    assert_int_equal(lw_lambda_register_fallback(both, 403, "Extension.RegistrationClosed"), -1);
    assert_int_equal(lw_lambda_register_fallback(both, 403, "Extension.TooManyExtensions"), -1);
    /* a refusal in words leakwatch does not know may still be about an event type */
    assert_int_equal(lw_lambda_register_fallback(both, 403, ""), LW_REGISTER_SHUTDOWN);
    assert_int_equal(lw_lambda_register_fallback(both, 403, NULL), LW_REGISTER_SHUTDOWN);
    assert_int_equal(lw_lambda_register_fallback(both, 400, "Extension.SomethingNew"),
                     LW_REGISTER_SHUTDOWN);
    assert_int_equal(lw_lambda_register_fallback(LW_REGISTER_SHUTDOWN, 403, "InvalidRequestFormat"),
                     0);
    assert_int_equal(lw_lambda_register_fallback(0, 403, "Extension.SomethingNew"), -1);
    assert_int_equal(lw_lambda_register_fallback(both, 0, "Extension.InvalidEventType"), -1);
}

static void test_parse_error_type(void **state)
{
    (void)state;
    char type[64];
    static const char body[] =
        "{\"errorMessage\":\"INVOKE: ErrorInvalidEventType\",\"errorType\":\"Extension."
        "InvalidEventType\"}";
    lw_lambda_parse_error_type(body, sizeof(body) - 1, type, sizeof(type));
    assert_string_equal(type, "Extension.InvalidEventType");
    static const char *const none[] = {"", "not json", "[]", "{\"errorType\":5}", "{}"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        memcpy(type, "x", 2);
        lw_lambda_parse_error_type(none[i], strlen(none[i]), type, sizeof(type));
        assert_string_equal(type, "");
    }
    lw_lambda_parse_error_type(NULL, 0, type, sizeof(type));
    assert_string_equal(type, "");
    /* cut to the caller's buffer, never beyond */
    char small[8];
    lw_lambda_parse_error_type(body, sizeof(body) - 1, small, sizeof(small));
    assert_string_equal(small, "Extensi");
}

static void test_next_request_has_no_total_timeout(void **state)
{
    (void)state;
    struct lw_lambda_request r;
    assert_int_equal(lw_lambda_next_request(&r, "127.0.0.1:9001", "ext-id"), LW_OK);
    assert_string_equal(r.http.method, "GET");
    assert_string_equal(r.http.url, "http://127.0.0.1:9001/2020-01-01/extension/event/next");
    assert_string_equal(header(&r.http, "Lambda-Extension-Identifier"), "ext-id");
    assert_int_equal(r.http.total_timeout_ms, 0);
    assert_true(r.http.connect_timeout_ms > 0);
}

static void test_error_requests(void **state)
{
    (void)state;
    struct lw_lambda_request r;
    assert_int_equal(lw_lambda_error_request(&r, "h:1", "id", true, "Extension.ConfigInvalid",
                                             "bad \"value\"\n"),
                     LW_OK);
    assert_string_equal(r.http.url, "http://h:1/2020-01-01/extension/init/error");
    assert_string_equal(header(&r.http, "Lambda-Extension-Function-Error-Type"),
                        "Extension.ConfigInvalid");
    cJSON *body = cJSON_ParseWithLength(r.http.body, r.http.body_len);
    assert_non_null(body);
    assert_string_equal(cJSON_GetObjectItem(body, "errorMessage")->valuestring, "bad \"value\"\n");
    assert_string_equal(cJSON_GetObjectItem(body, "errorType")->valuestring,
                        "Extension.ConfigInvalid");
    cJSON_Delete(body);
    assert_int_equal(lw_lambda_error_request(&r, "h:1", "id", false, "Extension.Crash", "x"),
                     LW_OK);
    assert_string_equal(r.http.url, "http://h:1/2020-01-01/extension/exit/error");
}

static void test_subscribe_request(void **state)
{
    (void)state;
    struct lw_lambda_request r;
    struct lw_subscription sub = {
        .port = 4279, .max_items = 1000, .max_bytes = 262144, .timeout_ms = 25};
    assert_int_equal(lw_lambda_subscribe_request(&r, "h:1", "id", &sub), LW_OK);
    assert_string_equal(r.http.method, "PUT");
    assert_string_equal(r.http.url, "http://h:1/2022-07-01/telemetry");
    cJSON *body = cJSON_ParseWithLength(r.http.body, r.http.body_len);
    assert_non_null(body);
    /* the newest schema by default: Managed Instances accept no other */
    assert_string_equal(cJSON_GetObjectItem(body, "schemaVersion")->valuestring, "2025-01-29");
    const cJSON *types = cJSON_GetObjectItem(body, "types");
    assert_int_equal(cJSON_GetArraySize(types), 1);
    assert_string_equal(cJSON_GetArrayItem(types, 0)->valuestring, "platform");
    const cJSON *buf = cJSON_GetObjectItem(body, "buffering");
    assert_int_equal(cJSON_GetObjectItem(buf, "maxItems")->valueint, 1000);
    assert_int_equal(cJSON_GetObjectItem(buf, "maxBytes")->valueint, 262144);
    assert_int_equal(cJSON_GetObjectItem(buf, "timeoutMs")->valueint, 25);
    const cJSON *dest = cJSON_GetObjectItem(body, "destination");
    assert_string_equal(cJSON_GetObjectItem(dest, "protocol")->valuestring, "HTTP");
    assert_string_equal(cJSON_GetObjectItem(dest, "URI")->valuestring,
                        "http://sandbox.localdomain:4279/");
    cJSON_Delete(body);

    /* the listener's secret path goes into the URI as it is */
    sub.path = "/0123456789abcdef0123456789abcdef";
    assert_int_equal(lw_lambda_subscribe_request(&r, "h:1", "id", &sub), LW_OK);
    body = cJSON_ParseWithLength(r.http.body, r.http.body_len);
    assert_non_null(body);
    dest = cJSON_GetObjectItem(body, "destination");
    assert_string_equal(cJSON_GetObjectItem(dest, "URI")->valuestring,
                        "http://sandbox.localdomain:4279/0123456789abcdef0123456789abcdef");
    cJSON_Delete(body);
    sub.path = NULL;

    /* the fallback schema where the newest is refused; nothing else */
    sub.schema = LW_TELEMETRY_SCHEMA_FALLBACK;
    assert_int_equal(lw_lambda_subscribe_request(&r, "h:1", "id", &sub), LW_OK);
    body = cJSON_ParseWithLength(r.http.body, r.http.body_len);
    assert_non_null(body);
    assert_string_equal(cJSON_GetObjectItem(body, "schemaVersion")->valuestring, "2022-12-13");
    cJSON_Delete(body);
    sub.schema = "2021-01-01";
    assert_int_equal(lw_lambda_subscribe_request(&r, "h:1", "id", &sub), LW_ERR_INVALID);

    /* Outside the documented ranges the request is not built. */
    static const struct lw_subscription bad[] = {
        {NULL, 0, 1000, 262144, 25, NULL},
        {NULL, 4279, 999, 262144, 25, NULL},
        {NULL, 4279, 10001, 262144, 25, NULL},
        {NULL, 4279, 1000, 262143, 25, NULL},
        {NULL, 4279, 1000, 1048577, 25, NULL},
        {NULL, 4279, 1000, 262144, 24, NULL},
        {NULL, 4279, 1000, 262144, 30001, NULL},
        /* a path that would need escaping, or break out of the JSON string */
        {NULL, 4279, 1000, 262144, 25, "no-slash"},
        {NULL, 4279, 1000, 262144, 25, "/a\"b"},
        {NULL, 4279, 1000, 262144, 25, "/a b"},
        {NULL, 4279, 1000, 262144, 25, "/a?b"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(lw_lambda_subscribe_request(&r, "h:1", "id", &bad[i]), LW_ERR_INVALID);
}

static void test_parse_events(void **state)
{
    (void)state;
    static const char invoke[] =
        "{\"eventType\":\"INVOKE\",\"deadlineMs\":1767225600123,"
        "\"requestId\":\"3da1f2dc-3222-475e-9205-e2e6c6318895\","
        "\"invokedFunctionArn\":\"arn:aws:lambda:us-east-1:123456789012:function:my-fn\","
        "\"tracing\":{\"type\":\"X-Amzn-Trace-Id\",\"value\":\"Root=1\"}}";
    struct lw_lambda_event ev;
    assert_int_equal(lw_lambda_parse_event(invoke, sizeof(invoke) - 1, &ev), LW_OK);
    assert_int_equal(ev.kind, LW_EVENT_INVOKE);
    assert_int_equal(ev.deadline_ms, 1767225600123ull);
    assert_string_equal(ev.request_id, "3da1f2dc-3222-475e-9205-e2e6c6318895");
    assert_string_equal(ev.invoked_function_arn,
                        "arn:aws:lambda:us-east-1:123456789012:function:my-fn");

    /* a deadline beyond uint64_t (or cJSON's infinity) is no deadline, not a wrapped value */
    static const char *const huge[] = {
        "{\"eventType\":\"INVOKE\",\"requestId\":\"r\",\"deadlineMs\":1e999}",
        "{\"eventType\":\"INVOKE\",\"requestId\":\"r\",\"deadlineMs\":18446744073709551616}",
    };
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        assert_int_equal(lw_lambda_parse_event(huge[i], strlen(huge[i]), &ev), LW_OK);
        assert_int_equal(ev.deadline_ms, 0);
    }

    /* the category, and the word as received (an emulator's own, kept as sent) */
    static const struct {
        const char *json;
        enum lw_shutdown_reason reason;
        const char *raw;
    } shutdowns[] = {
        {"{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":\"spindown\",\"deadlineMs\":5}",
         LW_SHUTDOWN_SPINDOWN, "spindown"},
        {"{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":\"SPINDOWN\",\"deadlineMs\":5}",
         LW_SHUTDOWN_SPINDOWN, "SPINDOWN"},
        {"{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":\"timeout\",\"deadlineMs\":5}",
         LW_SHUTDOWN_TIMEOUT, "timeout"},
        {"{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":\"failure\",\"deadlineMs\":5}",
         LW_SHUTDOWN_FAILURE, "failure"},
        {"{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":\"SandboxTerminated\",\"deadlineMs\":5}",
         LW_SHUTDOWN_FAILURE, "SandboxTerminated"},
        {"{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":\"meteor\",\"deadlineMs\":5}",
         LW_SHUTDOWN_FAILURE, "meteor"},
        {"{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":7,\"deadlineMs\":5}", LW_SHUTDOWN_FAILURE,
         ""},
        {"{\"eventType\":\"SHUTDOWN\",\"deadlineMs\":5}", LW_SHUTDOWN_FAILURE, ""},
    };
    for (size_t i = 0; i < sizeof(shutdowns) / sizeof(shutdowns[0]); i++) {
        assert_int_equal(lw_lambda_parse_event(shutdowns[i].json, strlen(shutdowns[i].json), &ev),
                         LW_OK);
        assert_int_equal(ev.kind, LW_EVENT_SHUTDOWN);
        assert_int_equal(ev.shutdown_reason, shutdowns[i].reason);
        assert_string_equal(ev.shutdown_reason_raw, shutdowns[i].raw);
        assert_int_equal(ev.deadline_ms, 5);
    }
    /* a longer word is kept up to the cap, cut at a character */
    char longer[256];
    int n = snprintf(longer, sizeof(longer),
                     "{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":\"%070d\u00e9\"}", 0);
    assert_int_equal(lw_lambda_parse_event(longer, (size_t)n, &ev), LW_OK);
    assert_int_equal(strlen(ev.shutdown_reason_raw), LW_SHUTDOWN_REASON_MAX - 1);
    assert_int_equal(ev.shutdown_reason, LW_SHUTDOWN_FAILURE);
    assert_string_equal(lw_shutdown_reason_name(LW_SHUTDOWN_TIMEOUT), "timeout");

    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"eventType\":3}",
        "{\"eventType\":\"INVOKE\"}",
        "{\"eventType\":\"RESTORE\"}",
        "null",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(lw_lambda_parse_event(bad[i], strlen(bad[i]), &ev), LW_OK);
}

static void test_parse_register(void **state)
{
    (void)state;
    static const char body[] = "{\"functionName\":\"my-fn\",\"functionVersion\":\"$LATEST\","
                               "\"handler\":\"bootstrap\",\"accountId\":\"123456789012\"}";
    struct lw_register_info info;
    assert_int_equal(lw_lambda_parse_register(body, sizeof(body) - 1, &info), LW_OK);
    assert_string_equal(info.function_name, "my-fn");
    assert_string_equal(info.function_version, "$LATEST");
    assert_string_equal(info.handler, "bootstrap");
    assert_int_equal(lw_lambda_parse_register("{}", 2, &info), LW_OK);
    assert_string_equal(info.function_name, "");
    assert_int_equal(lw_lambda_parse_register("nope", 4, &info), LW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_request),
        cmocka_unit_test(test_register_fallback),
        cmocka_unit_test(test_parse_error_type),
        cmocka_unit_test(test_next_request_has_no_total_timeout),
        cmocka_unit_test(test_error_requests),
        cmocka_unit_test(test_subscribe_request),
        cmocka_unit_test(test_parse_events),
        cmocka_unit_test(test_parse_register),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
