/*
 * libFuzzer target for the OTLP exporter's settings (lw_otlp_config_load, the header list, the
 * percent-decoder and the redaction used in log lines). The input is an environment, one
 * NAME=VALUE per line (fuzz_env.h). Besides the sanitizers, the target checks otlp_config.h's
 * promises and aborts when one is broken:
 *   - the URL is an http(s) URL without blanks or control bytes, the default when none is valid;
 *   - headers have token names, none that leakwatch sets itself, no repeats, values without
 *     CR, LF or NUL (they end up in an HTTP request);
 *   - the timeout is within 1..LW_OTLP_MAX_TIMEOUT_MS, the resource has unique keys and a
 *     service.name;
 *   - header values are secrets: changing every letter and digit of the values (keeping the
 *     percent escapes, so that what is valid stays valid) changes no warning and no redacted
 *     line;
 *   - percent-encoding a decoded value and decoding it again gives the value back;
 *   - a URL as logged (lw_otlp_redact_url) is printable ASCII within its cap, and a password
 *     (what precedes an "@" before any "?" or "#") or a query planted anywhere in fuzzed text
 *     never shows; lw_otlp_redact_in_text stays within its cap; headers count as exposed only
 *     over plain http://.
 */
/* fuzz-seeds: tests/fuzz/corpus/otlp_config */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <leakwatch/otlp_config.h>

#include "fuzz_env.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const header_vars[] = {"OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                                          "OTEL_EXPORTER_OTLP_HEADERS"};

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void check_config(const struct lw_otlp_config *c)
{
    size_t url_len = strnlen(c->url, sizeof(c->url));
    check(url_len < sizeof(c->url));
    check(strncasecmp(c->url, "http://", 7) == 0 || strncasecmp(c->url, "https://", 8) == 0);
    for (size_t i = 0; i < url_len; i++)
        check((unsigned char)c->url[i] > ' ' && c->url[i] != 0x7f);
    if (!c->endpoint_configured)
        check(strcmp(c->url, LW_OTLP_DEFAULT_URL) == 0);

    check(c->n_headers <= LW_OTLP_MAX_HEADERS);
    for (size_t i = 0; i < c->n_headers; i++) {
        const struct lw_otlp_header *h = &c->headers[i];
        size_t name_len = strnlen(h->name, sizeof(h->name));
        check(name_len > 0 && name_len < sizeof(h->name));
        for (size_t j = 0; j < name_len; j++)
            check(is_tchar(h->name[j]));
        check(strcasecmp(h->name, "content-type") != 0 && strcasecmp(h->name, "host") != 0 &&
              strcasecmp(h->name, "content-length") != 0 &&
              strcasecmp(h->name, "content-encoding") != 0 &&
              strcasecmp(h->name, "transfer-encoding") != 0 && strcasecmp(h->name, "expect") != 0 &&
              strcasecmp(h->name, "connection") != 0);
        size_t value_len = strnlen(h->value, sizeof(h->value));
        check(value_len < sizeof(h->value));
        check(strpbrk(h->value, "\r\n") == NULL);
        for (size_t j = 0; j < i; j++)
            check(strcasecmp(c->headers[j].name, h->name) != 0);

        /* round trip: every byte escaped, then decoded */
        char enc[3 * LW_OTLP_HEADER_VALUE_MAX];
        char dec[LW_OTLP_HEADER_VALUE_MAX];
        for (size_t j = 0; j < value_len; j++)
            snprintf(enc + 3 * j, 4, "%%%02X", (unsigned char)h->value[j]);
        check(lw_otlp_percent_decode(enc, 3 * value_len, dec, sizeof(dec)) == LW_OK);
        check(strcmp(dec, h->value) == 0);
    }

    check(c->timeout_ms >= 1 && c->timeout_ms <= LW_OTLP_MAX_TIMEOUT_MS);

    const struct lw_otlp_resource *r = &c->resource;
    check(r->n_attrs <= LW_OTLP_MAX_ATTRS);
    for (size_t i = 0; i < r->n_attrs; i++) {
        check(strnlen(r->attrs[i].key, sizeof(r->attrs[i].key)) < sizeof(r->attrs[i].key));
        check(strnlen(r->attrs[i].str, sizeof(r->attrs[i].str)) < sizeof(r->attrs[i].str));
        for (size_t j = 0; j < i; j++)
            check(strcmp(r->attrs[i].key, r->attrs[j].key) != 0);
    }
    const struct lw_otlp_attr *service = lw_otlp_resource_get(r, "service.name");
    check(service != NULL && service->type == LW_OTLP_STRING && service->str[0] != '\0');

    check(c->n_warnings <= LW_OTLP_MAX_WARNINGS);
    for (size_t i = 0; i < c->n_warnings; i++)
        check(strnlen(c->warnings[i], LW_OTLP_WARNING_MAX) < LW_OTLP_WARNING_MAX);
}

/*
 * Changes every letter and digit of the values of a header list (after the first '=' of each
 * entry) to another of the same kind, leaving the (up to) two characters after each '%' alone:
 * the result is valid exactly where the original is, and has the same names.
 */
static void rotate_values(char *s)
{
    bool in_value = false;
    for (char *p = s; *p != '\0'; p++) {
        if (*p == ',') {
            in_value = false;
        } else if (!in_value) {
            in_value = *p == '=';
        } else if (*p == '%') {
            for (int k = 0; k < 2 && p[1] != '\0' && p[1] != ','; k++)
                p++;
        } else if (*p >= 'a' && *p <= 'z') {
            *p = (char)('a' + (*p - 'a' + 1) % 26);
        } else if (*p >= 'A' && *p <= 'Z') {
            *p = (char)('A' + (*p - 'A' + 1) % 26);
        } else if (*p >= '0' && *p <= '9') {
            *p = (char)('0' + (*p - '0' + 1) % 10);
        }
    }
}

#define PASS_MARK "PaSsWoRd7"
#define KEY_MARK "KeYmArK9"

/* Part i of the input split at NUL bytes (empty when there are fewer parts). */
static void part(const uint8_t *data, size_t size, int i, char *out, size_t cap)
{
    size_t start = 0;
    for (int k = 0; k < i && start <= size; k++) {
        const void *nul = memchr(data + start, 0, size - start);
        start = nul != NULL ? (size_t)((const uint8_t *)nul - data) + 1 : size + 1;
    }
    size_t n = 0;
    while (start + n < size && data[start + n] != 0 && n + 1 < cap)
        n++;
    if (start < size)
        memcpy(out, data + start, n);
    out[start < size ? n : 0] = '\0';
}

static void check_redaction(const uint8_t *data, size_t size, const char *cfg_url)
{
    char a[64], b[64], c[64], d[64], url[512], out[512];
    part(data, size, 1, a, sizeof(a));
    part(data, size, 2, b, sizeof(b));
    part(data, size, 3, c, sizeof(c));
    part(data, size, 4, d, sizeof(d));
    /* a password just before an "@", a key after a "?", whatever surrounds them */
    snprintf(url, sizeof(url), "%s://%s:" PASS_MARK "@%s?%s" KEY_MARK, a, b, c, d);
    size_t cap = 1 + (size > 2 ? data[2] : 0) % sizeof(out);
    memset(out, 'X', sizeof(out));
    lw_otlp_redact_url(url, out, cap);
    check(strnlen(out, cap) < cap && (cap == sizeof(out) || out[cap] == 'X'));
    for (const char *p = out; *p != '\0'; p++)
        check((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    bool planted_elsewhere = strstr(a, "PaSs") || strstr(b, "PaSs") || strstr(c, "PaSs") ||
                             strstr(d, "PaSs") || strstr(a, "KeYm") || strstr(b, "KeYm") ||
                             strstr(c, "KeYm") || strstr(d, "KeYm");
    if (!planted_elsewhere) {
        lw_otlp_redact_url(url, out, sizeof(out));
        check(strstr(out, PASS_MARK) == NULL && strstr(out, KEY_MARK) == NULL);
    }
    lw_otlp_redact_url(cfg_url, out, sizeof(out));
    if (strncasecmp(cfg_url, "https://", 8) == 0 || strncasecmp(cfg_url, "http://", 7) != 0)
        check(!lw_otlp_url_exposes_headers(cfg_url));
    check(!lw_otlp_url_exposes_headers(a) || strncasecmp(a, "http://", 7) == 0);

    char text[160];
    size_t tcap = 1 + (size > 3 ? data[3] : 0) % sizeof(text);
    snprintf(text, tcap, "%s %s %s", b, c, url);
    lw_otlp_redact_in_text(text, tcap, url);
    check(strnlen(text, tcap) < tcap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lw_otlp_config cfg, other;
    struct fuzz_env env;
    fuzz_env_parse(&env, data, size);
    const char *env_id = size > 0 && (data[0] & 1) ? "2025/01/01/[$LATEST]0123abcd" : NULL;
    static struct lw_config lambda;
    lw_config_load(&lambda, fuzz_env_get, &env);
    lw_otlp_config_load(&cfg, fuzz_env_get, &env, &lambda, env_id);
    check_config(&cfg);

    /* The same environment with other secrets: nothing shown may change. */
    struct fuzz_env rotated;
    fuzz_env_parse(&rotated, data, size);
    for (size_t i = 0; i < rotated.n; i++) {
        for (size_t j = 0; j < 2; j++) {
            if (strcmp(rotated.names[i], header_vars[j]) == 0)
                rotate_values(rotated.text + (rotated.values[i] - rotated.text));
        }
    }
    lw_otlp_config_load(&other, fuzz_env_get, &rotated, &lambda, env_id);
    check(other.n_warnings == cfg.n_warnings);
    for (size_t i = 0; i < cfg.n_warnings; i++)
        check(strcmp(other.warnings[i], cfg.warnings[i]) == 0);
    check(other.n_headers == cfg.n_headers);
    for (size_t i = 0; i < cfg.n_headers; i++)
        check(strcmp(other.headers[i].name, cfg.headers[i].name) == 0);

    for (size_t j = 0; j < 2; j++) {
        const char *a = fuzz_env_get(&env, header_vars[j]);
        const char *b = fuzz_env_get(&rotated, header_vars[j]);
        if (a == NULL)
            continue;
        char ra[512], rb[512];
        size_t cap = 1 + (size > 1 ? data[1] : 0) % sizeof(ra);
        memset(ra, 'X', sizeof(ra));
        lw_otlp_redact_headers(a, ra, cap);
        lw_otlp_redact_headers(b, rb, cap);
        check(strnlen(ra, cap) < cap && (cap == sizeof(ra) || ra[cap] == 'X'));
        check(strcmp(ra, rb) == 0);
    }

    /* The decoder on the raw bytes: what it accepts holds no CR, LF or NUL and is no longer. */
    char dec[128];
    if (lw_otlp_percent_decode((const char *)data, size, dec, sizeof(dec)) == LW_OK) {
        check(strlen(dec) <= size && strpbrk(dec, "\r\n") == NULL);
    }

    check_redaction(data, size, cfg.url);

    fuzz_env_free(&env);
    fuzz_env_free(&rotated);
    return 0;
}
