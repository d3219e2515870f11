/*
 * Registration and subscription against a scripted fake transport: what leakwatch asks for in
 * each mode, and the one retry each refusal it can survive gets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/lambda_client.h>

struct answer {
    long status;
    const char *body;
    const char *ext_id; /* Lambda-Extension-Identifier */
};

static struct fake {
    struct answer answers[4];
    size_t n, next;
    char bodies[4][512]; /* the request bodies, in order */
} f;

static enum lw_err fake_perform(void *ctx, const struct lw_http_request *req,
                                struct lw_http_response *resp)
{
    (void)ctx;
    assert_true(f.next < f.n);
    size_t i = f.next++;
    snprintf(f.bodies[i], sizeof(f.bodies[i]), "%.*s", (int)req->body_len, (const char *)req->body);
    resp->status = f.answers[i].status;
    if (f.answers[i].body != NULL) {
        resp->body = strdup(f.answers[i].body);
        resp->body_len = strlen(resp->body);
    }
    if (f.answers[i].ext_id != NULL)
        snprintf(resp->header_values[0], sizeof(resp->header_values[0]), "%s", f.answers[i].ext_id);
    return LW_OK;
}

static struct lw_http_transport api = {fake_perform, NULL, NULL};

static void script(const struct answer *a, size_t n)
{
    memset(&f, 0, sizeof(f));
    memcpy(f.answers, a, n * sizeof(*a));
    f.n = n;
}

#define REFUSED_INVOKE                                                                             \
    "{\"errorMessage\":\"INVOKE: ErrorInvalidEventType\",\"errorType\":\"Extension."               \
    "InvalidEventType\"}"
#define REGISTERED "{\"functionName\":\"orders\",\"functionVersion\":\"$LATEST\"}"

static void test_register_on_demand(void **state)
{
    (void)state;
    static const struct answer a[] = {{200, REGISTERED, "id-1"}};
    script(a, 1);
    struct lw_registration reg;
    assert_int_equal(lw_lambda_client_register(&api, "h:1", LW_MODE_ON_DEMAND, &reg), LW_OK);
    assert_string_equal(f.bodies[0], "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}");
    assert_string_equal(reg.extension_id, "id-1");
    assert_int_equal(reg.events, LW_REGISTER_INVOKE | LW_REGISTER_SHUTDOWN);
    assert_string_equal(reg.info.function_name, "orders");
}

static void test_register_managed_instances_asks_for_shutdown_only(void **state)
{
    (void)state;
    static const struct answer a[] = {{200, REGISTERED, "id-2"}};
    script(a, 1);
    struct lw_registration reg;
    assert_int_equal(lw_lambda_client_register(&api, "h:1", LW_MODE_MANAGED_INSTANCES, &reg),
                     LW_OK);
    assert_int_equal(f.next, 1);
    assert_string_equal(f.bodies[0], "{\"events\":[\"SHUTDOWN\"]}");
    assert_int_equal(reg.events, LW_REGISTER_SHUTDOWN);
}

static void test_register_drops_a_refused_event_type(void **state)
{
    (void)state;
    static const struct answer a[] = {{403, REFUSED_INVOKE, NULL}, {200, REGISTERED, "id-3"}};
    script(a, 2);
    struct lw_registration reg;
    assert_int_equal(lw_lambda_client_register(&api, "h:1", LW_MODE_ON_DEMAND, &reg), LW_OK);
    assert_string_equal(f.bodies[1], "{\"events\":[\"SHUTDOWN\"]}");
    assert_int_equal(reg.events, LW_REGISTER_SHUTDOWN);
    assert_string_equal(reg.extension_id, "id-3");
}

static void test_register_gives_up_where_no_retry_helps(void **state)
{
    (void)state;
    struct lw_registration reg;
    static const struct answer server_error[] = {{500, "{\"errorType\":\"x\"}", NULL}};
    script(server_error, 1);
    assert_int_equal(lw_lambda_client_register(&api, "h:1", LW_MODE_ON_DEMAND, &reg), LW_ERR_HTTP);
    assert_int_equal(f.next, 1);
    static const struct answer no_id[] = {{200, REGISTERED, NULL}};
    script(no_id, 1);
    assert_int_not_equal(lw_lambda_client_register(&api, "h:1", LW_MODE_ON_DEMAND, &reg), LW_OK);
    /* refused down to no events at all: three tries, then no more */
    static const struct answer always[] = {
        {403, REFUSED_INVOKE, NULL}, {403, REFUSED_INVOKE, NULL}, {403, REFUSED_INVOKE, NULL}};
    script(always, 3);
    assert_int_equal(lw_lambda_client_register(&api, "h:1", LW_MODE_ON_DEMAND, &reg), LW_ERR_HTTP);
    assert_int_equal(f.next, 3);
    assert_string_equal(f.bodies[2], "{\"events\":[]}");
    /* a refusal of an unknown kind degrades the same way, and is taken at the first that works */
    static const struct answer unknown[] = {
        {403, "{\"errorType\":\"Extension.NotOnThisPlatform\"}", NULL}, {200, REGISTERED, "id-9"}};
    script(unknown, 2);
    assert_int_equal(lw_lambda_client_register(&api, "h:1", LW_MODE_ON_DEMAND, &reg), LW_OK);
    assert_int_equal(f.next, 2);
    assert_int_equal(reg.events, LW_REGISTER_SHUTDOWN);
    assert_string_equal(reg.extension_id, "id-9");
    /* a closed registration is not about the events: one try */
    static const struct answer closed[] = {
        {403, "{\"errorType\":\"Extension.RegistrationClosed\"}", NULL}};
    script(closed, 1);
    assert_int_equal(lw_lambda_client_register(&api, "h:1", LW_MODE_ON_DEMAND, &reg), LW_ERR_HTTP);
    assert_int_equal(f.next, 1);
}

static const struct lw_subscription sub = {
    .port = 4279, .max_items = 1000, .max_bytes = 262144, .timeout_ms = 25};

static void test_subscribe_new_schema_then_fallback(void **state)
{
    (void)state;
    const char *schema = NULL;
    static const struct answer ok[] = {{200, "OK", NULL}};
    script(ok, 1);
    assert_int_equal(lw_lambda_client_subscribe(&api, "h:1", "id", sub, &schema), LW_OK);
    assert_string_equal(schema, "2025-01-29");
    assert_non_null(strstr(f.bodies[0], "\"schemaVersion\":\"2025-01-29\""));

    static const struct answer old[] = {{400, "{\"errorType\":\"ValidationError\"}", NULL},
                                        {200, "OK", NULL}};
    script(old, 2);
    assert_int_equal(lw_lambda_client_subscribe(&api, "h:1", "id", sub, &schema), LW_OK);
    assert_string_equal(schema, "2022-12-13");
    assert_non_null(strstr(f.bodies[1], "\"schemaVersion\":\"2022-12-13\""));
}

static void test_subscribe_refusals(void **state)
{
    (void)state;
    const char *schema = "untouched";
    /* the RIE's stub: accepted but not supported */
    static const struct answer stub[] = {{202, "{\"errorType\":\"Telemetry.NotSupported\"}", NULL}};
    script(stub, 1);
    assert_int_not_equal(lw_lambda_client_subscribe(&api, "h:1", "id", sub, &schema), LW_OK);
    assert_int_equal(f.next, 1);
    /* a 400 for both schemas: two tries */
    static const struct answer bad[] = {{400, NULL, NULL}, {400, NULL, NULL}};
    script(bad, 2);
    assert_int_not_equal(lw_lambda_client_subscribe(&api, "h:1", "id", sub, &schema), LW_OK);
    assert_int_equal(f.next, 2);
    /* a closed subscription is not retried */
    static const struct answer closed[] = {
        {403, "{\"errorType\":\"Telemetry.SubscriptionClosed\"}", NULL}};
    script(closed, 1);
    assert_int_not_equal(lw_lambda_client_subscribe(&api, "h:1", "id", sub, &schema), LW_OK);
    assert_int_equal(f.next, 1);
    assert_string_equal(schema, "untouched");
}

/*
 * A request that cannot be built (a runtime API address longer than any URL leakwatch builds, a
 * port of 0) fails before anything is sent: the transport is never called, the error is
 * returned, the schema is left alone, and the refusal is said from a response that was zeroed,
 * never from one left uninitialised (run under valgrind or the ASan build to see it).
 */
static void test_subscribe_request_that_cannot_be_built(void **state)
{
    (void)state;
    const char *schema = "untouched";
    char long_api[LW_URL_MAX + 16];
    memset(long_api, 'h', sizeof(long_api) - 1);
    long_api[sizeof(long_api) - 1] = '\0';
    memset(&f, 0, sizeof(f)); /* no answer scripted: a call to the transport fails the test */
    assert_int_equal(lw_lambda_client_subscribe(&api, long_api, "id", sub, &schema),
                     LW_ERR_TOO_LARGE);
    assert_int_equal(f.next, 0);

    struct lw_subscription no_port = sub;
    no_port.port = 0;
    assert_int_equal(lw_lambda_client_subscribe(&api, "h:1", "id", no_port, &schema),
                     LW_ERR_INVALID);
    assert_int_equal(f.next, 0);
    assert_string_equal(schema, "untouched");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_on_demand),
        cmocka_unit_test(test_register_managed_instances_asks_for_shutdown_only),
        cmocka_unit_test(test_register_drops_a_refused_event_type),
        cmocka_unit_test(test_register_gives_up_where_no_retry_helps),
        cmocka_unit_test(test_subscribe_new_schema_then_fallback),
        cmocka_unit_test(test_subscribe_refusals),
        cmocka_unit_test(test_subscribe_request_that_cannot_be_built),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
