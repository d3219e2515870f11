#include <leakwatch/lambda_api.h>

#include <leakwatch/json_arena.h>
#include <leakwatch/json_field.h>
#include <leakwatch/limits.h>
#include <leakwatch/text.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CONNECT_TIMEOUT_MS 1000
/* Calls other than the long poll answer at once; a stuck one must not outlive the phase. */
#define SHORT_TIMEOUT_MS 2000

/* Register bodies by events (bit 0 INVOKE, bit 1 SHUTDOWN): the body must be valid JSON. */
static const char *const register_bodies[4] = {
    "{\"events\":[]}",
    "{\"events\":[\"INVOKE\"]}",
    "{\"events\":[\"SHUTDOWN\"]}",
    "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}",
};

static enum lw_err base(struct lw_lambda_request *r, const char *method, const char *runtime_api,
                        const char *path)
{
    memset(r, 0, sizeof(*r));
    if (runtime_api == NULL || *runtime_api == '\0')
        return LW_ERR_INVALID;
    int n = snprintf(r->url, sizeof(r->url), "http://%s%s", runtime_api, path);
    if (n < 0 || (size_t)n >= sizeof(r->url))
        return LW_ERR_TOO_LARGE;
    r->http.method = method;
    r->http.url = r->url;
    r->http.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    r->http.total_timeout_ms = SHORT_TIMEOUT_MS;
    r->http.no_proxy = true; /* a proxy configured for the function must not see local calls */
    r->http.max_response_bytes = LW_HTTP_RESPONSE_MAX_BYTES;
    return LW_OK;
}

enum lw_err lw_lambda_register_request(struct lw_lambda_request *r, const char *runtime_api,
                                       unsigned events)
{
    if (events > (LW_REGISTER_INVOKE | LW_REGISTER_SHUTDOWN))
        return LW_ERR_INVALID;
    enum lw_err err = base(r, "POST", runtime_api, "/2020-01-01/extension/register");
    if (err != LW_OK)
        return err;
    lw_http_request_add_header(&r->http, "Lambda-Extension-Name", LW_EXTENSION_NAME);
    lw_http_request_add_header(&r->http, "Content-Type", "application/json");
    r->http.body = register_bodies[events];
    r->http.body_len = strlen(register_bodies[events]);
    r->http.want_headers[0] = "Lambda-Extension-Identifier";
    r->http.n_want_headers = 1;
    return LW_OK;
}

int lw_lambda_register_fallback(unsigned events, long status, const char *error_type)
{
    if (status != 400 && status != 403)
        return -1; /* a 5xx: the API's word for "non-recoverable, exit promptly" */
    /* Refusals that are not about the events asked for; every other one, an unknown type
     * included, may be (a platform that refuses an event type in words of its own). */
    static const char *const hopeless[] = {"Extension.RegistrationClosed",
                                           "Extension.TooManyExtensions"};
    for (size_t i = 0; error_type != NULL && i < sizeof(hopeless) / sizeof(hopeless[0]); i++)
        if (strcmp(error_type, hopeless[i]) == 0)
            return -1;
    if (events & LW_REGISTER_INVOKE)
        return (int)(events & ~(unsigned)LW_REGISTER_INVOKE);
    if (events != 0)
        return 0;
    return -1;
}

enum lw_err lw_lambda_next_request(struct lw_lambda_request *r, const char *runtime_api,
                                   const char *extension_id)
{
    enum lw_err err = base(r, "GET", runtime_api, "/2020-01-01/extension/event/next");
    if (err != LW_OK)
        return err;
    r->http.total_timeout_ms = 0; /* never time out the long poll: we are frozen inside it */
    lw_http_request_add_header(&r->http, "Lambda-Extension-Identifier", extension_id);
    return LW_OK;
}

enum lw_err lw_lambda_error_request(struct lw_lambda_request *r, const char *runtime_api,
                                    const char *extension_id, bool at_init, const char *error_type,
                                    const char *message)
{
    enum lw_err err =
        base(r, "POST", runtime_api,
             at_init ? "/2020-01-01/extension/init/error" : "/2020-01-01/extension/exit/error");
    if (err != LW_OK)
        return err;
    lw_http_request_add_header(&r->http, "Lambda-Extension-Identifier", extension_id);
    lw_http_request_add_header(&r->http, "Lambda-Extension-Function-Error-Type", error_type);
    lw_http_request_add_header(&r->http, "Content-Type", "application/json");
    char msg[200], type[100];
    size_t msg_len = 0, type_len = 0;
    /* cut to fit: an error message says what it can */
    lw_text_json_escape(msg, sizeof(msg), &msg_len, message, strlen(message));
    lw_text_json_escape(type, sizeof(type), &type_len, error_type, strlen(error_type));
    int n = snprintf(r->body, sizeof(r->body),
                     "{\"errorMessage\":\"%s\",\"errorType\":\"%s\",\"stackTrace\":[]}", msg, type);
    if (n < 0 || (size_t)n >= sizeof(r->body))
        return LW_ERR_TOO_LARGE;
    r->http.body = r->body;
    r->http.body_len = (size_t)n;
    return LW_OK;
}

/* "/" then path characters that need neither escaping in JSON nor percent-encoding in a URI. */
static bool uri_path_ok(const char *path)
{
    if (path[0] != '/')
        return false;
    for (const char *c = path; *c != '\0'; c++) {
        bool unreserved = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                          (*c >= '0' && *c <= '9') || strchr("-._~/", *c) != NULL;
        if (!unreserved)
            return false;
    }
    return true;
}

enum lw_err lw_lambda_subscribe_request(struct lw_lambda_request *r, const char *runtime_api,
                                        const char *extension_id, const struct lw_subscription *sub)
{
    /* The documented ranges; the subscription is refused outside them. */
    if (sub->port == 0 || sub->max_items < LW_TELEMETRY_MAX_ITEMS_MIN ||
        sub->max_items > LW_TELEMETRY_MAX_ITEMS_MAX ||
        sub->max_bytes < LW_TELEMETRY_MAX_BYTES_MIN ||
        sub->max_bytes > LW_TELEMETRY_MAX_BYTES_MAX ||
        sub->timeout_ms < LW_TELEMETRY_TIMEOUT_MS_MIN ||
        sub->timeout_ms > LW_TELEMETRY_TIMEOUT_MS_MAX)
        return LW_ERR_INVALID;
    enum lw_err err = base(r, "PUT", runtime_api, "/2022-07-01/telemetry");
    if (err != LW_OK)
        return err;
    lw_http_request_add_header(&r->http, "Lambda-Extension-Identifier", extension_id);
    lw_http_request_add_header(&r->http, "Content-Type", "application/json");
    /* sandbox.localdomain, not "sandbox": in a VPC with its own DNS the short name may resolve
     * elsewhere. Lambda delivers only inside the environment, over plain HTTP. */
    const char *schema = sub->schema != NULL ? sub->schema : LW_TELEMETRY_SCHEMA;
    if (strcmp(schema, LW_TELEMETRY_SCHEMA) != 0 &&
        strcmp(schema, LW_TELEMETRY_SCHEMA_FALLBACK) != 0)
        return LW_ERR_INVALID;
    const char *path = sub->path != NULL ? sub->path : "/";
    if (!uri_path_ok(path))
        return LW_ERR_INVALID;
    int n = snprintf(r->body, sizeof(r->body),
                     "{\"schemaVersion\":\"%s\",\"types\":[\"platform\"],"
                     "\"buffering\":{\"maxItems\":%u,\"maxBytes\":%u,\"timeoutMs\":%u},"
                     "\"destination\":{\"protocol\":\"HTTP\","
                     "\"URI\":\"http://sandbox.localdomain:%u%s\"}}",
                     schema, sub->max_items, sub->max_bytes, sub->timeout_ms, (unsigned)sub->port,
                     path);
    if (n < 0 || (size_t)n >= sizeof(r->body))
        return LW_ERR_TOO_LARGE;
    r->http.body = r->body;
    r->http.body_len = (size_t)n;
    return LW_OK;
}

enum lw_err lw_lambda_parse_register(const char *body, size_t len, struct lw_register_info *out)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (root == NULL)
        return LW_ERR_INVALID;
    enum lw_err err = LW_OK;
    if (!cJSON_IsObject(root)) {
        err = LW_ERR_INVALID;
        goto out;
    }
    lw_json_string(root, "functionName", out->function_name, sizeof(out->function_name));
    lw_json_string(root, "functionVersion", out->function_version, sizeof(out->function_version));
    lw_json_string(root, "handler", out->handler, sizeof(out->handler));
out:
    cJSON_Delete(root);
    return err;
}

void lw_lambda_parse_error_type(const char *body, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    if (body == NULL || len == 0)
        return;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (root == NULL)
        return;
    if (cJSON_IsObject(root))
        lw_json_string(root, "errorType", out, cap);
    cJSON_Delete(root);
}

const char *lw_shutdown_reason_name(enum lw_shutdown_reason reason)
{
    switch (reason) {
    case LW_SHUTDOWN_SPINDOWN:
        return "spindown";
    case LW_SHUTDOWN_TIMEOUT:
        return "timeout";
    case LW_SHUTDOWN_FAILURE:
        break;
    }
    return "failure";
}

enum lw_err lw_lambda_parse_event(const char *body, size_t len, struct lw_lambda_event *out)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (root == NULL)
        return LW_ERR_INVALID;
    enum lw_err err = LW_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "eventType");
    if (!cJSON_IsString(type)) {
        err = LW_ERR_INVALID;
        goto out;
    }
    if (strcmp(type->valuestring, "INVOKE") == 0) {
        out->kind = LW_EVENT_INVOKE;
    } else if (strcmp(type->valuestring, "SHUTDOWN") == 0) {
        out->kind = LW_EVENT_SHUTDOWN;
    } else {
        err = LW_ERR_UNSUPPORTED;
        goto out;
    }
    const cJSON *deadline = cJSON_GetObjectItemCaseSensitive(root, "deadlineMs");
    /* in range before the conversion: 2^64 or more (or cJSON's infinity) is undefined */
    if (cJSON_IsNumber(deadline) && deadline->valuedouble > 0 &&
        deadline->valuedouble < 18446744073709551616.0)
        out->deadline_ms = (uint64_t)deadline->valuedouble;
    lw_json_string(root, "requestId", out->request_id, sizeof(out->request_id));
    lw_json_string(root, "invokedFunctionArn", out->invoked_function_arn,
                   sizeof(out->invoked_function_arn));
    if (out->kind == LW_EVENT_INVOKE && out->request_id[0] == '\0') {
        err = LW_ERR_INVALID;
        goto out;
    }
    if (out->kind == LW_EVENT_SHUTDOWN) {
        /* The documentation writes SPINDOWN/TIMEOUT/FAILURE, the platform sends lowercase:
         * compare without case, and read anything unknown as a failure, keeping the word. */
        char *reason = out->shutdown_reason_raw;
        lw_json_string(root, "shutdownReason", reason, sizeof(out->shutdown_reason_raw));
        if (strcasecmp(reason, "spindown") == 0)
            out->shutdown_reason = LW_SHUTDOWN_SPINDOWN;
        else if (strcasecmp(reason, "timeout") == 0)
            out->shutdown_reason = LW_SHUTDOWN_TIMEOUT;
        else
            out->shutdown_reason = LW_SHUTDOWN_FAILURE;
    }
out:
    lw_json_delete(root);
    return err;
}
