/*
 * The OTLP exporter's settings from the standard OpenTelemetry environment variables, and the
 * resource leakwatch's metrics belong to. Pure: variables are read through the caller's lookup
 * function; bad values fall back to the default with one warning each, kept in the config for
 * the caller to log (lw_otlp_config_log). Header values are secrets (API keys): they never
 * appear in a warning or a log line.
 *
 * Variables (the metrics-specific one wins over the generic one):
 *   OTEL_EXPORTER_OTLP_METRICS_ENDPOINT  used as-is ("/" added when it has no path)
 *   OTEL_EXPORTER_OTLP_ENDPOINT          base URL, "v1/metrics" appended (one "/" between)
 *                                        default http://localhost:4318/v1/metrics
 *   OTEL_EXPORTER_OTLP_[METRICS_]HEADERS     k1=v1,k2=v2 (percent-decoded); the metrics-specific
 *                                            list replaces the generic one
 *   OTEL_EXPORTER_OTLP_[METRICS_]COMPRESSION gzip | none (default none)
 *   OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT     ms per export, retries included (default 10000)
 *   OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL    only http/protobuf
 *   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, and Lambda's AWS_REGION,
 *   AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
 */
#ifndef LEAKWATCH_OTLP_CONFIG_H
#define LEAKWATCH_OTLP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/config.h>
#include <leakwatch/otlp.h>

#define LW_OTLP_URL_MAX 1024
#define LW_OTLP_MAX_HEADERS 8 /* fits the HTTP seam next to Content-Type and User-Agent */
#define LW_OTLP_HEADER_NAME_MAX 64
#define LW_OTLP_HEADER_VALUE_MAX 256 /* LW_HTTP_HEADER_VALUE_MAX */
#define LW_OTLP_MAX_WARNINGS 16
#define LW_OTLP_WARNING_MAX 256
#define LW_OTLP_DEFAULT_URL "http://localhost:4318/v1/metrics"
#define LW_OTLP_DEFAULT_TIMEOUT_MS 10000u
#define LW_OTLP_MAX_TIMEOUT_MS 600000u

struct lw_otlp_header {
    char name[LW_OTLP_HEADER_NAME_MAX];
    char value[LW_OTLP_HEADER_VALUE_MAX]; /* a secret: never logged */
};

struct lw_otlp_config {
    char url[LW_OTLP_URL_MAX]; /* the full metrics URL requests are POSTed to */
    bool endpoint_configured;  /* an endpoint variable was set (and valid) */
    size_t n_headers;
    struct lw_otlp_header headers[LW_OTLP_MAX_HEADERS];
    bool gzip;
    uint32_t timeout_ms;
    struct lw_otlp_resource resource;
    size_t n_warnings; /* one per bad variable, values of headers redacted */
    char warnings[LW_OTLP_MAX_WARNINGS][LW_OTLP_WARNING_MAX];
};

/*
 * Fills cfg from the OTEL_* variables. The function's identity (faas.*, cloud.region) comes
 * from lambda, the configuration already read from the AWS_* variables. env_id is leakwatch's
 * environment id (faas.instance: the log stream name is not visible to extensions); may be NULL
 * or "". Cannot fail: every bad value falls back to its default with a warning in
 * cfg->warnings.
 */
void lw_otlp_config_load(struct lw_otlp_config *cfg, lw_getenv_fn getenv_fn, void *ctx,
                         const struct lw_config *lambda, const char *env_id);

/*
 * Writes the warnings and one line describing the settings to the log: the URL redacted
 * (lw_otlp_redact_url), header names only. When headers go to a remote host over plain HTTP,
 * one warning says so (API keys would cross the network in the clear).
 */
void lw_otlp_config_log(const struct lw_otlp_config *cfg);

/*
 * A header list safe to log: "k1=v1, k2=v2" -> "k1=<redacted>,k2=<redacted>" (names kept only
 * when they look like header names, so a value pasted by mistake is not shown either). Always
 * NUL-terminates out (cap > 0).
 */
void lw_otlp_redact_headers(const char *raw, char *out, size_t cap);

/*
 * A URL safe to log: scheme, host, port and path kept; userinfo ("user:password@", up to the
 * last "@" before any "?" or "#", since a password may hold "@" or "/"), the query and the
 * fragment (an "?api_key=..." is common) replaced with "<redacted>". Anything may come in, not
 * only a valid URL (a bad endpoint is logged too): control and non-ASCII bytes become "?", and
 * the result is cut to fit. Always NUL-terminates out (cap > 0).
 */
void lw_otlp_redact_url(const char *url, char *out, size_t cap);

/*
 * text (cap bytes, NUL-terminated) with every secret part of url in it (its userinfo, its query
 * and fragment) replaced with "<redacted>": for messages from elsewhere (libcurl, a collector)
 * that may quote the URL.
 */
void lw_otlp_redact_in_text(char *text, size_t cap, const char *url);

/*
 * Whether headers sent to url would cross a network in the clear: a plain http:// URL whose
 * host is not this machine (localhost, *.localhost, 127.0.0.0/8, [::1]) or the sandbox itself
 * (sandbox.localdomain, the address Lambda gives the environment).
 */
bool lw_otlp_url_exposes_headers(const char *url);

/*
 * Percent-decodes in[0..len) into out (cap includes the NUL). Returns LW_ERR_INVALID on a bad
 * escape, a decoded NUL, CR or LF; LW_ERR_TOO_LARGE when out is too small.
 */
enum lw_err lw_otlp_percent_decode(const char *in, size_t len, char *out, size_t cap);

#endif
