#include <leakwatch/otlp_config.h>

#include <leakwatch/log.h>
#include <leakwatch/text.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void warn(struct lw_otlp_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(struct lw_otlp_config *cfg, const char *fmt, ...)
{
    if (cfg->n_warnings >= LW_OTLP_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->warnings[cfg->n_warnings++], LW_OTLP_WARNING_MAX, fmt, ap);
    va_end(ap);
}

/* The value of the metrics-specific variable when set and not empty, else the generic one. */
static const char *lookup2(lw_getenv_fn getenv_fn, void *ctx, const char *specific,
                           const char *generic, const char **name)
{
    const char *v = getenv_fn(ctx, specific);
    if (v != NULL && v[0] != '\0') {
        *name = specific;
        return v;
    }
    v = getenv_fn(ctx, generic);
    *name = generic;
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional white space around s[0..*len). */
static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && is_ows(s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && is_ows(s[*len - 1]))
        (*len)--;
    return s;
}

enum lw_err lw_otlp_percent_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return LW_ERR_TOO_LARGE;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return LW_ERR_INVALID;
            int hi = lw_text_hex_value((unsigned char)in[i + 1]);
            int lo = lw_text_hex_value((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return LW_ERR_INVALID;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        /* A decoded control line break or NUL would let a value inject HTTP header lines. */
        if (c == '\0' || c == '\r' || c == '\n')
            return LW_ERR_INVALID;
        if (o + 1 >= cap)
            return LW_ERR_TOO_LARGE;
        out[o++] = c;
    }
    out[o] = '\0';
    return LW_OK;
}

/* RFC 9110 token characters: what a header name may hold. */
static bool is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar(s[i]))
            return false;
    }
    return true;
}

/*
 * Where the parts of a URL are, in anything that may be one: [0, auth) the scheme and "://"
 * (only when they come before any "/", "?", "#" or "@"); [auth, user_end) the userinfo and its
 * last "@" (empty when none); [user_end, query) host, port and path; [query, len) the query and
 * the fragment.
 */
struct url_parts {
    size_t auth, user_end, query, len;
};

static struct url_parts url_parts(const char *url)
{
    struct url_parts p;
    p.len = strlen(url);
    const char *sep = strstr(url, "://");
    p.auth =
        sep != NULL && (size_t)(sep - url) < strcspn(url, "/?#@") ? (size_t)(sep - url) + 3 : 0;
    p.query = p.auth + strcspn(url + p.auth, "?#");
    p.user_end = p.auth;
    for (size_t i = p.auth; i < p.query; i++) {
        if (url[i] == '@')
            p.user_end = i + 1;
    }
    return p;
}

/* Appends s[0..n) to out (cap, *o in use), control and non-ASCII bytes as "?". */
static void append_clean(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && *o + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[(*o)++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    out[*o] = '\0';
}

void lw_otlp_redact_url(const char *url, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    if (url == NULL)
        return;
    struct url_parts p = url_parts(url);
    append_clean(out, cap, &o, url, p.auth);
    if (p.user_end > p.auth)
        append_clean(out, cap, &o, "<redacted>@", 11);
    append_clean(out, cap, &o, url + p.user_end, p.query - p.user_end);
    if (p.query < p.len) {
        append_clean(out, cap, &o, url + p.query, 1); /* "?" or "#" */
        append_clean(out, cap, &o, "<redacted>", 10);
    }
}

/* Writes "<redacted>" at text[o], within cap; returns the new end. */
static size_t put_mark(char *text, size_t cap, size_t o)
{
    static const char mark[] = "<redacted>";
    size_t k = sizeof(mark) - 1 < cap - 1 - o ? sizeof(mark) - 1 : cap - 1 - o;
    memcpy(text + o, mark, k);
    return o + k;
}

/*
 * Replaces every occurrence of secret[0..n) in text with "<redacted>", within cap. A text that
 * fills cap may have been cut (libcurl's message was copied into a fixed buffer): a secret cut
 * there leaves a beginning of itself at the end, and that goes as well. A text too long to
 * check is not shown at all.
 */
static void redact_span(char *text, size_t cap, const char *secret, size_t n)
{
    char copy[1024];
    size_t len = strlen(text);
    if (n == 0)
        return;
    if (len >= sizeof(copy)) {
        snprintf(text, cap, "(message not shown: too long to check for secrets)");
        return;
    }
    memcpy(copy, text, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap;) {
        if (len - i >= n && memcmp(copy + i, secret, n) == 0) {
            o = put_mark(text, cap, o);
            i += n;
        } else {
            text[o++] = copy[i++];
        }
    }
    text[o] = '\0';
    if (len + 1 < cap)
        return;
    for (size_t k = n - 1 < o ? n - 1 : o; k > 0; k--) {
        if (memcmp(text + o - k, secret, k) == 0) {
            text[put_mark(text, cap, o - k)] = '\0';
            return;
        }
    }
}

void lw_otlp_redact_in_text(char *text, size_t cap, const char *url)
{
    if (text == NULL || cap == 0 || url == NULL)
        return;
    struct url_parts p = url_parts(url);
    if (p.user_end > p.auth)
        redact_span(text, cap, url + p.auth, p.user_end - 1 - p.auth);
    if (p.query < p.len)
        redact_span(text, cap, url + p.query + 1, p.len - p.query - 1);
}

bool lw_otlp_url_exposes_headers(const char *url)
{
    if (url == NULL || strncasecmp(url, "http://", 7) != 0)
        return false;
    struct url_parts p = url_parts(url);
    const char *host = url + p.user_end;
    size_t n;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', p.query - p.user_end);
        n = close != NULL ? (size_t)(close - host) + 1 : 0;
    } else {
        n = strcspn(host, ":/?#");
    }
    char name[256];
    if (n == 0 || n >= sizeof(name))
        return true;
    memcpy(name, host, n);
    name[n] = '\0';
    static const char suffix[] = ".localhost";
    size_t sn = sizeof(suffix) - 1;
    if (strcasecmp(name, "localhost") == 0 || strcasecmp(name, "sandbox.localdomain") == 0 ||
        strcmp(name, "[::1]") == 0 || (n > sn && strcasecmp(name + n - sn, suffix) == 0))
        return false;
    unsigned char v4[4];
    if (inet_pton(AF_INET, name, v4) == 1 && v4[0] == 127)
        return false;
    return true;
}

void lw_otlp_redact_headers(const char *raw, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    if (raw == NULL)
        return;
    const char *p = raw;
    bool first = true;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t entry_len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', entry_len);
        size_t key_len = eq != NULL ? (size_t)(eq - p) : entry_len;
        const char *key = trim(p, &key_len);
        if (entry_len > 0) {
            /* Only a plausible header name is shown; anything else might be a secret. */
            bool show = eq != NULL && key_len <= 64 && is_token(key, key_len);
            int n = snprintf(out + o, cap - o, "%s%.*s=<redacted>", first ? "" : ",",
                             show ? (int)key_len : 1, show ? key : "?");
            if (n < 0 || (size_t)n >= cap - o) {
                out[o] = '\0';
                return;
            }
            o += (size_t)n;
            first = false;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
}

static bool reserved_header(const char *name)
{
    static const char *const reserved[] = {
        "content-type", "content-length", "content-encoding", "transfer-encoding",
        "host",         "expect",         "connection"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strcasecmp(name, reserved[i]) == 0)
            return true;
    }
    return false;
}

static void parse_headers(struct lw_otlp_config *cfg, const char *var, const char *raw)
{
    const char *p = raw;
    size_t index = 0;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t entry_len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        size_t trimmed_len = entry_len;
        const char *entry = trim(p, &trimmed_len);
        if (trimmed_len > 0) {
            index++;
            const char *eq = memchr(entry, '=', trimmed_len);
            size_t key_len = eq != NULL ? (size_t)(eq - entry) : 0;
            const char *key = trim(entry, &key_len);
            size_t value_len = eq != NULL ? trimmed_len - (size_t)(eq + 1 - entry) : 0;
            const char *value = eq != NULL ? trim(eq + 1, &value_len) : NULL;
            struct lw_otlp_header h;
            bool name_ok = eq != NULL && is_token(key, key_len) && key_len < sizeof(h.name);
            if (name_ok) {
                memcpy(h.name, key, key_len);
                h.name[key_len] = '\0';
            }
            if (!name_ok) {
                warn(cfg, "%s: entry %zu is not a valid name=value pair; ignored", var, index);
            } else if (reserved_header(h.name)) {
                warn(cfg, "%s: header %s is set by leakwatch itself; ignored", var, h.name);
            } else if (lw_otlp_percent_decode(value, value_len, h.value, sizeof(h.value)) !=
                       LW_OK) {
                warn(cfg,
                     "%s: the value of header %s is not valid (bad percent-encoding or "
                     "longer than %d bytes); ignored",
                     var, h.name, LW_OTLP_HEADER_VALUE_MAX - 1);
            } else if (cfg->n_headers >= LW_OTLP_MAX_HEADERS) {
                warn(cfg, "%s: more than %d headers; header %s ignored", var, LW_OTLP_MAX_HEADERS,
                     h.name);
            } else {
                /* a repeated name replaces the earlier value */
                size_t i = 0;
                while (i < cfg->n_headers && strcasecmp(cfg->headers[i].name, h.name) != 0)
                    i++;
                cfg->headers[i] = h;
                if (i == cfg->n_headers)
                    cfg->n_headers++;
            }
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
}

/* scheme://host[:port][/path]: http or https, a host, nothing that could break a request. */
static bool valid_url(const char *url, size_t *path_at)
{
    size_t skip;
    if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    for (const char *c = url; *c != '\0'; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return false;
    }
    const char *host = url + skip;
    size_t host_len = strcspn(host, "/?#");
    if (host_len == 0 || host[0] == ':')
        return false;
    *path_at = skip + host_len;
    return true;
}

static void load_endpoint(struct lw_otlp_config *cfg, lw_getenv_fn getenv_fn, void *ctx)
{
    size_t path_at;
    char shown[128]; /* a bad endpoint is said redacted: it may still hold a key */
    const char *specific = getenv_fn(ctx, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
    if (specific != NULL && specific[0] != '\0') {
        size_t len = strlen(specific);
        if (!valid_url(specific, &path_at) || len + 2 > sizeof(cfg->url)) {
            lw_otlp_redact_url(specific, shown, sizeof(shown));
            warn(cfg, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=%s is not an http(s) URL; ignored",
                 shown);
        } else {
            /* used as-is: only a bare host gets the root path */
            snprintf(cfg->url, sizeof(cfg->url), "%s%s", specific,
                     specific[path_at] == '\0' ? "/" : "");
            cfg->endpoint_configured = true;
            return;
        }
    }
    const char *generic = getenv_fn(ctx, "OTEL_EXPORTER_OTLP_ENDPOINT");
    if (generic != NULL && generic[0] != '\0') {
        size_t len = strlen(generic);
        if (!valid_url(generic, &path_at) || strpbrk(generic + path_at, "?#") != NULL ||
            len + sizeof("/v1/metrics") > sizeof(cfg->url)) {
            lw_otlp_redact_url(generic, shown, sizeof(shown));
            warn(cfg, "OTEL_EXPORTER_OTLP_ENDPOINT=%s is not an http(s) base URL; using %s", shown,
                 LW_OTLP_DEFAULT_URL);
        } else {
            snprintf(cfg->url, sizeof(cfg->url), "%s%s", generic,
                     generic[len - 1] == '/' ? "v1/metrics" : "/v1/metrics");
            cfg->endpoint_configured = true;
            return;
        }
    }
    snprintf(cfg->url, sizeof(cfg->url), "%s", LW_OTLP_DEFAULT_URL);
}

static void load_transport(struct lw_otlp_config *cfg, lw_getenv_fn getenv_fn, void *ctx)
{
    const char *name;
    const char *v = lookup2(getenv_fn, ctx, "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                            "OTEL_EXPORTER_OTLP_HEADERS", &name);
    if (v != NULL)
        parse_headers(cfg, name, v);

    cfg->gzip = false;
    v = lookup2(getenv_fn, ctx, "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
                "OTEL_EXPORTER_OTLP_COMPRESSION", &name);
    if (v != NULL) {
        if (strcasecmp(v, "gzip") == 0)
            cfg->gzip = true;
        else if (strcasecmp(v, "none") != 0)
            warn(cfg, "%s=%.60s is not gzip or none; using none", name, v);
    }

    cfg->timeout_ms = LW_OTLP_DEFAULT_TIMEOUT_MS;
    v = lookup2(getenv_fn, ctx, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT",
                &name);
    if (v != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long ms = strtoull(v, &end, 10);
        /* 0 would mean "wait forever": never acceptable for an exporter inside a function */
        if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || v[0] == '+' || ms == 0 ||
            ms > LW_OTLP_MAX_TIMEOUT_MS)
            warn(cfg, "%s=%.60s is not a timeout in milliseconds (1..%u); using %u", name, v,
                 LW_OTLP_MAX_TIMEOUT_MS, LW_OTLP_DEFAULT_TIMEOUT_MS);
        else
            cfg->timeout_ms = (uint32_t)ms;
    }

    v = lookup2(getenv_fn, ctx, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL", &name);
    if (v != NULL && strcmp(v, "http/protobuf") != 0)
        warn(cfg, "%s=%.60s is not supported; using http/protobuf", name, v);
}

/*
 * OTEL_RESOURCE_ATTRIBUTES into res. The specification says to discard the whole variable on
 * any decoding error, so everything is decoded into a scratch resource first.
 */
static void load_resource_attributes(struct lw_otlp_config *cfg, const char *raw,
                                     struct lw_otlp_resource *user)
{
    const char *p = raw;
    size_t index = 0;
    memset(user, 0, sizeof(*user));
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t entry_len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *entry = trim(p, &entry_len);
        if (entry_len > 0) {
            index++;
            const char *eq = memchr(entry, '=', entry_len);
            size_t key_len = eq != NULL ? (size_t)(eq - entry) : 0;
            const char *key = trim(entry, &key_len);
            size_t value_len = eq != NULL ? entry_len - (size_t)(eq + 1 - entry) : 0;
            const char *value = eq != NULL ? trim(eq + 1, &value_len) : NULL;
            char k[LW_OTLP_ATTR_KEY_MAX];
            char v[LW_OTLP_ATTR_VALUE_MAX];
            enum lw_err err = LW_ERR_INVALID;
            /* Attributes are protobuf strings: a byte that is not UTF-8 (a %FF) would make the
             * collector refuse every batch. */
            if (eq != NULL && key_len > 0 &&
                lw_otlp_percent_decode(key, key_len, k, sizeof(k)) == LW_OK &&
                lw_otlp_percent_decode(value, value_len, v, sizeof(v)) == LW_OK &&
                lw_text_utf8_valid(k, strlen(k)) && lw_text_utf8_valid(v, strlen(v)))
                err = lw_otlp_resource_set_str(user, k, v);
            if (err != LW_OK) {
                warn(cfg,
                     "OTEL_RESOURCE_ATTRIBUTES: entry %zu is not key=value in percent-encoded "
                     "UTF-8; the variable is ignored",
                     index);
                memset(user, 0, sizeof(*user));
                return;
            }
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
}

static void load_resource(struct lw_otlp_config *cfg, lw_getenv_fn getenv_fn, void *ctx,
                          const struct lw_config *lambda, const char *env_id)
{
    struct lw_otlp_resource *res = &cfg->resource;
    const char *fn = lambda->function_name_set ? lambda->function_name : NULL;
    const char *v;
    memset(res, 0, sizeof(*res));
    lw_otlp_resource_set_str(res, "cloud.provider", "aws");
    lw_otlp_resource_set_str(res, "cloud.platform", "aws_lambda");
    if (lambda->region[0] != '\0')
        lw_otlp_resource_set_str(res, "cloud.region", lambda->region);
    if (fn != NULL)
        lw_otlp_resource_set_str(res, "faas.name", fn);
    if (lambda->function_version_set)
        lw_otlp_resource_set_str(res, "faas.version", lambda->function_version);
    if (env_id != NULL && env_id[0] != '\0')
        lw_otlp_resource_set_str(res, "faas.instance", env_id);
    if (lambda->memory_limit_bytes > 0)
        lw_otlp_resource_set_int(res, "faas.max_memory", (int64_t)lambda->memory_limit_bytes);

    /* The user's attributes win, except service.name, which has its own precedence. */
    struct lw_otlp_resource user;
    v = getenv_fn(ctx, "OTEL_RESOURCE_ATTRIBUTES");
    memset(&user, 0, sizeof(user));
    if (v != NULL && v[0] != '\0')
        load_resource_attributes(cfg, v, &user);
    /* One slot is kept for service.name, which every resource must have: with many attributes
     * the resource would otherwise be full before it is set. */
    for (size_t i = 0; i < user.n_attrs; i++) {
        const char *key = user.attrs[i].key;
        if (res->n_attrs >= LW_OTLP_MAX_ATTRS - 1 && lw_otlp_resource_get(res, key) == NULL &&
            strcmp(key, "service.name") != 0 && lw_otlp_resource_get(res, "service.name") == NULL) {
            res->dropped_attrs++;
            continue;
        }
        lw_otlp_resource_set_str(res, key, user.attrs[i].str);
    }
    res->dropped_attrs += user.dropped_attrs;

    /* service.name: OTEL_SERVICE_NAME > OTEL_RESOURCE_ATTRIBUTES > the function's name */
    const char *service = getenv_fn(ctx, "OTEL_SERVICE_NAME");
    if (service != NULL && service[0] != '\0') {
        if (!lw_text_utf8_valid(service, strlen(service)))
            warn(cfg, "OTEL_SERVICE_NAME is not UTF-8; ignored");
        else if (lw_otlp_resource_set_str(res, "service.name", service) != LW_OK)
            warn(cfg, "OTEL_SERVICE_NAME is longer than %d bytes; ignored",
                 LW_OTLP_ATTR_VALUE_MAX - 1);
    }
    /* an empty service.name is none; a function name too long for an attribute is no name
     * either (Lambda's are 64 bytes at most) */
    const struct lw_otlp_attr *named = lw_otlp_resource_get(res, "service.name");
    if ((named == NULL || named->type != LW_OTLP_STRING || named->str[0] == '\0') &&
        (fn == NULL || fn[0] == '\0' || lw_otlp_resource_set_str(res, "service.name", fn) != LW_OK))
        lw_otlp_resource_set_str(res, "service.name", "unknown_service:leakwatch");
}

void lw_otlp_config_load(struct lw_otlp_config *cfg, lw_getenv_fn getenv_fn, void *ctx,
                         const struct lw_config *lambda, const char *env_id)
{
    memset(cfg, 0, sizeof(*cfg));
    load_endpoint(cfg, getenv_fn, ctx);
    load_transport(cfg, getenv_fn, ctx);
    load_resource(cfg, getenv_fn, ctx, lambda, env_id);
}

void lw_otlp_config_log(const struct lw_otlp_config *cfg)
{
    for (size_t i = 0; i < cfg->n_warnings; i++)
        lw_warn("%s", cfg->warnings[i]);
    char names[LW_OTLP_MAX_HEADERS * (LW_OTLP_HEADER_NAME_MAX + 2)] = "";
    size_t o = 0;
    for (size_t i = 0; i < cfg->n_headers && o < sizeof(names); i++) {
        int n =
            snprintf(names + o, sizeof(names) - o, "%s%s", i > 0 ? "," : "", cfg->headers[i].name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    char url[LW_OTLP_URL_MAX];
    lw_otlp_redact_url(cfg->url, url, sizeof(url));
    if (cfg->n_headers > 0 && lw_otlp_url_exposes_headers(cfg->url))
        lw_warn("OTLP headers (%s) go to %s over plain HTTP: anyone on the way can read them; "
                "use an https:// endpoint",
                names, url);
    lw_info("OTLP export to %s (headers: %s; compression: %s; timeout %u ms)", url,
            cfg->n_headers > 0 ? names : "none", cfg->gzip ? "gzip" : "none", cfg->timeout_ms);
}
