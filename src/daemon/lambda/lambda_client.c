#include <leakwatch/lambda_client.h>

#include <stdio.h>
#include <string.h>

#include <leakwatch/limits.h>
#include <leakwatch/log.h>

static const char *events_name(unsigned events)
{
    switch (events) {
    case LW_REGISTER_INVOKE | LW_REGISTER_SHUTDOWN:
        return "INVOKE and SHUTDOWN";
    case LW_REGISTER_SHUTDOWN:
        return "SHUTDOWN only";
    case LW_REGISTER_INVOKE:
        return "INVOKE only";
    default:
        return "no events";
    }
}

static enum lw_err call(struct lw_http_transport *api, const struct lw_lambda_request *r,
                        struct lw_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    enum lw_err err = api->perform(api->ctx, &r->http, resp);
    if (err == LW_OK && (resp->status < 200 || resp->status > 299))
        err = LW_ERR_HTTP;
    return err;
}

enum lw_err lw_lambda_client_register(struct lw_http_transport *api, const char *runtime_api,
                                      enum lw_mode mode, struct lw_registration *out)
{
    memset(out, 0, sizeof(*out));
    unsigned events = mode == LW_MODE_MANAGED_INSTANCES ? LW_REGISTER_SHUTDOWN
                                                        : LW_REGISTER_INVOKE | LW_REGISTER_SHUTDOWN;
    for (;;) {
        struct lw_lambda_request r;
        struct lw_http_response resp;
        enum lw_err err = lw_lambda_register_request(&r, runtime_api, events);
        if (err != LW_OK)
            return err;
        err = call(api, &r, &resp);
        if (err == LW_OK && resp.header_values[0][0] == '\0')
            err = LW_ERR_INVALID; /* no identifier: nothing later can be asked */
        if (err == LW_OK) {
            snprintf(out->extension_id, sizeof(out->extension_id), "%s", resp.header_values[0]);
            out->events = events;
            if (resp.body != NULL)
                lw_lambda_parse_register(resp.body, resp.body_len, &out->info);
            lw_http_response_clean_up(&resp);
            return LW_OK;
        }
        char type[64];
        lw_lambda_parse_error_type(resp.body, resp.body_len, type, sizeof(type));
        int next = lw_lambda_register_fallback(events, resp.status, type);
        if (next < 0) {
            lw_error("register failed (HTTP %ld%s%.200s)", resp.status,
                     resp.body != NULL ? ": " : "", resp.body != NULL ? resp.body : resp.error);
            lw_http_response_clean_up(&resp);
            return LW_ERR_HTTP;
        }
        lw_warn("the platform refused registration for %s (HTTP %ld %s); registering for %s "
                "instead",
                events_name(events), resp.status, type, events_name((unsigned)next));
        lw_http_response_clean_up(&resp);
        events = (unsigned)next;
    }
}

/* body[0..len) cut to fit out, with every occurrence of secret (unless "/" or NULL) replaced. */
static void without_secret(char *out, size_t cap, const char *body, size_t len, const char *secret)
{
    size_t secret_len = secret != NULL ? strlen(secret) : 0;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap;) {
        if (secret_len > 1 && len - i >= secret_len && memcmp(body + i, secret, secret_len) == 0) {
            static const char mark[] = "/<secret>";
            size_t n = sizeof(mark) - 1 < cap - 1 - o ? sizeof(mark) - 1 : cap - 1 - o;
            memcpy(out + o, mark, n);
            o += n;
            i += secret_len;
            continue;
        }
        out[o++] = body[i] != '\0' ? body[i] : ' ';
        i++;
    }
    out[o] = '\0';
}

enum lw_err lw_lambda_client_subscribe(struct lw_http_transport *api, const char *runtime_api,
                                       const char *extension_id, struct lw_subscription sub,
                                       const char **schema)
{
    /* The newest schema first; a platform that predates it answers 400, and gets the older. */
    struct lw_http_response resp;
    enum lw_err err = LW_OK;
    memset(&resp, 0, sizeof(resp));
    for (int attempt = 0; attempt < 2; attempt++) {
        sub.schema = attempt == 0 ? LW_TELEMETRY_SCHEMA : LW_TELEMETRY_SCHEMA_FALLBACK;
        struct lw_lambda_request r;
        lw_http_response_clean_up(&resp);
        memset(&resp, 0, sizeof(resp));
        err = lw_lambda_subscribe_request(&r, runtime_api, extension_id, &sub);
        if (err != LW_OK)
            break;
        err = call(api, &r, &resp);
        if (!(err != LW_OK && resp.status == 400 && attempt == 0))
            break;
        lw_warn("Telemetry API schema %s refused (HTTP 400); subscribing with %s",
                LW_TELEMETRY_SCHEMA, LW_TELEMETRY_SCHEMA_FALLBACK);
    }
    if (err != LW_OK || resp.status != 200) {
        /* An error message may quote the destination: its secret path never reaches the log. */
        char said[201];
        said[0] = '\0';
        if (resp.body != NULL)
            without_secret(said, sizeof(said), resp.body, resp.body_len, sub.path);
        lw_warn("Telemetry API subscription refused (HTTP %ld%s%s); going on with /proc "
                "figures alone",
                resp.status, resp.body != NULL ? ": " : "", said);
        lw_http_response_clean_up(&resp);
        return err != LW_OK ? err : LW_ERR_HTTP;
    }
    lw_http_response_clean_up(&resp);
    *schema = sub.schema;
    return LW_OK;
}

struct lw_telemetry_listener *lw_lambda_client_start_telemetry(
    struct lw_http_transport *api, const struct lw_config *cfg, const char *extension_id,
    void (*on_batch)(void *ctx, const char *body, size_t len), void *ctx, struct lw_health *health)
{
    struct lw_telemetry_listener_config lc;
    lw_telemetry_listener_config_init(&lc);
    lc.port = cfg->telemetry_port;
    lc.max_body_bytes = LW_TELEMETRY_RECEIVE_BYTES(cfg->telemetry_max_bytes);
    /* served by the event loop's own wait (lw_lambda_events.wait): no thread, no hand-off */
    lc.on_caller_thread = true;
    enum lw_err err = LW_OK;
    struct lw_telemetry_listener *l = lw_telemetry_listener_start(&lc, on_batch, ctx, health, &err);
    if (l == NULL) {
        lw_warn("telemetry listener not started (%s); going on with /proc figures alone",
                lw_err_str(err));
        return NULL;
    }
    struct lw_subscription sub = {
        .port = lw_telemetry_listener_port(l),
        .path = lw_telemetry_listener_path(l), /* the secret: never logged */
        .max_items = cfg->telemetry_max_items,
        .max_bytes = cfg->telemetry_max_bytes,
        .timeout_ms = cfg->telemetry_timeout_ms,
    };
    const char *schema = NULL;
    if (lw_lambda_client_subscribe(api, cfg->runtime_api, extension_id, sub, &schema) != LW_OK) {
        lw_telemetry_listener_stop(l);
        return NULL;
    }
    lw_info("subscribed to the Telemetry API (schema %s) on port %u", schema, (unsigned)sub.port);
    return l;
}

/* cJSON of one event/next answer (an INVOKE event is under 1 KB) */
#define EVENT_ARENA_BYTES (16 * 1024)

enum lw_err lw_lambda_events_init(struct lw_lambda_events *e, struct lw_http_transport *api,
                                  const char *runtime_api, const char *extension_id)
{
    memset(e, 0, sizeof(*e));
    e->api = api;
    lw_json_arena_init(&e->arena, EVENT_ARENA_BYTES); /* without it: malloc */
    return lw_lambda_next_request(&e->next, runtime_api, extension_id);
}

enum lw_err lw_lambda_events_release(struct lw_lambda_events *e)
{
    struct lw_http_response resp;
    memset(&resp, 0, sizeof(resp));
    enum lw_err err = lw_http_loopback_send(e->api, &e->next.http, &resp);
    if (err != LW_OK) {
        lw_error("event/next could not be sent (%s: %s)", lw_err_str(err), resp.error);
        return err;
    }
    e->pending = true;
    return LW_OK;
}

enum lw_err lw_lambda_events_next(struct lw_lambda_events *e, struct lw_lambda_event *ev)
{
    for (;;) {
        if (!e->pending && lw_lambda_events_release(e) != LW_OK)
            return LW_ERR_HTTP;
        struct lw_http_response resp;
        memset(&resp, 0, sizeof(resp));
        int fd = lw_http_loopback_fd(e->api);
        /* a wait that fails leaves the wait to the transport's own */
        if (e->wait != NULL && fd >= 0 && e->wait(e->wait_ctx, fd) != LW_OK)
            e->wait = NULL;
        enum lw_err err = lw_http_loopback_receive(e->api, &e->next.http, &resp);
        e->pending = false;
        if (err == LW_OK && (resp.status < 200 || resp.status > 299))
            err = LW_ERR_HTTP;
        if (err != LW_OK) {
            lw_error("event/next failed (HTTP %ld%s%.200s)", resp.status,
                     resp.body != NULL ? ": " : "", resp.body != NULL ? resp.body : resp.error);
            lw_http_response_clean_up(&resp);
            return LW_ERR_HTTP;
        }
        lw_json_arena_enter(&e->arena);
        err = lw_lambda_parse_event(resp.body, resp.body_len, ev);
        lw_json_arena_leave(&e->arena);
        lw_http_response_clean_up(&resp);
        if (err == LW_OK)
            return LW_OK;
        lw_warn("unreadable event from event/next ignored (%s)", lw_err_str(err));
    }
}

bool lw_lambda_events_waiting(const struct lw_lambda_events *e)
{
    return e->pending && lw_http_loopback_answered(e->api);
}
