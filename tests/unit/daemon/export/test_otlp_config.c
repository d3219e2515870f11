/* OTLP settings from the standard variables: endpoints, headers, redaction, resource. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <leakwatch/otlp_config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VARS 12

struct env {
    const char *vars[MAX_VARS][2];
};

static const char *fake_getenv(void *ctx, const char *name)
{
    const struct env *e = ctx;
    for (size_t i = 0; i < MAX_VARS && e->vars[i][0] != NULL; i++) {
        if (strcmp(e->vars[i][0], name) == 0)
            return e->vars[i][1];
    }
    return NULL;
}

static struct lw_otlp_config cfg; /* large: not on the stack */

static void load(const struct env *e)
{
    static struct lw_config lambda;
    lw_config_load(&lambda, fake_getenv, (void *)(uintptr_t)e);
    lw_otlp_config_load(&cfg, fake_getenv, (void *)(uintptr_t)e, &lambda, "env-42");
}

static bool warned_about(const char *needle)
{
    for (size_t i = 0; i < cfg.n_warnings; i++) {
        if (strstr(cfg.warnings[i], needle) != NULL)
            return true;
    }
    return false;
}

static void test_endpoints(void **state)
{
    (void)state;
    static const struct {
        struct env env;
        const char *url;
        bool configured;
        size_t warnings;
    } cases[] = {
        {{{{NULL}}}, "http://localhost:4318/v1/metrics", false, 0},
        {{{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}}},
         "http://collector:4318/v1/metrics",
         true,
         0},
        {{{{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://otlp.example.com/otlp/"}}},
         "https://otlp.example.com/otlp/v1/metrics",
         true,
         0},
        {{{{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://otlp.example.com/otlp"}}},
         "https://otlp.example.com/otlp/v1/metrics",
         true,
         0},
        /* the metrics-specific one is used as-is and wins */
        {{{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
           {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://b:9000/custom/path"}}},
         "http://b:9000/custom/path",
         true,
         0},
        {{{{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://b:9000"}}}, "http://b:9000/", true, 0},
        /* bad values: a warning and the next rule */
        {{{{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "b:9000"},
           {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318/"}}},
         "http://a:4318/v1/metrics",
         true,
         1},
        {{{{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://a"}}},
         "http://localhost:4318/v1/metrics",
         false,
         1},
        {{{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a b"}}},
         "http://localhost:4318/v1/metrics",
         false,
         1},
        {{{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http:///path"}}},
         "http://localhost:4318/v1/metrics",
         false,
         1},
        {{{{"OTEL_EXPORTER_OTLP_ENDPOINT", ""}}}, "http://localhost:4318/v1/metrics", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu\n", i);
        load(&cases[i].env);
        assert_string_equal(cfg.url, cases[i].url);
        assert_int_equal(cfg.endpoint_configured, cases[i].configured);
        assert_int_equal(cfg.n_warnings, cases[i].warnings);
    }
}

static void test_headers(void **state)
{
    (void)state;
    static const struct {
        struct env env;
        size_t n;
        const char *names[3];
        const char *values[3];
        const char *warning; /* a substring of the one warning, NULL for none */
    } cases[] = {
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cr3t"}}}, 1, {"api-key"}, {"s3cr3t"}, NULL},
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", " a = 1 , b=x%20y%2Cz ,, "}}},
         2,
         {"a", "b"},
         {"1", "x y,z"},
         NULL},
        /* values may contain '=' (base64 keys) */
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Basic dXNlcjpwYXNz=="}}},
         1,
         {"Authorization"},
         {"Basic dXNlcjpwYXNz=="},
         NULL},
        /* the metrics-specific list replaces the generic one */
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", "a=1"}, {"OTEL_EXPORTER_OTLP_METRICS_HEADERS", "b=2"}}},
         1,
         {"b"},
         {"2"},
         NULL},
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", "a=1,a=2"}}}, 1, {"a"}, {"2"}, NULL},
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", "novalue,k=v"}}},
         1,
         {"k"},
         {"v"},
         "entry 1 is not a valid name=value pair"},
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", "bad name=secret"}}}, 0, {NULL}, {NULL}, "entry 1"},
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", "k=%zzsecret"}}}, 0, {NULL}, {NULL}, "header k"},
        /* a decoded line break would inject a header line */
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", "k=a%0d%0aX-Evil: 1"}}}, 0, {NULL}, {NULL}, "header k"},
        {{{{"OTEL_EXPORTER_OTLP_HEADERS", "Content-Type=text/plain"}}},
         0,
         {NULL},
         {NULL},
         "set by leakwatch"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu\n", i);
        load(&cases[i].env);
        assert_int_equal(cfg.n_headers, cases[i].n);
        for (size_t h = 0; h < cases[i].n; h++) {
            assert_string_equal(cfg.headers[h].name, cases[i].names[h]);
            assert_string_equal(cfg.headers[h].value, cases[i].values[h]);
        }
        assert_int_equal(cfg.n_warnings, cases[i].warning != NULL ? 1 : 0);
        if (cases[i].warning != NULL)
            assert_true(warned_about(cases[i].warning));
        /* no warning ever shows a secret */
        assert_false(warned_about("secret"));
        assert_false(warned_about("s3cr3t"));
    }
}

static void test_too_many_headers(void **state)
{
    (void)state;
    char raw[512] = "";
    size_t o = 0;
    for (int i = 0; i < LW_OTLP_MAX_HEADERS + 2; i++)
        o += (size_t)snprintf(raw + o, sizeof(raw) - o, "h%d=v%d,", i, i);
    struct env e = {{{"OTEL_EXPORTER_OTLP_HEADERS", raw}}};
    load(&e);
    assert_int_equal(cfg.n_headers, LW_OTLP_MAX_HEADERS);
    assert_int_equal(cfg.n_warnings, 2);
}

/* Every URL leakwatch logs: no userinfo, no query, no fragment, whatever the input looks like. */
static void test_redact_url(void **state)
{
    (void)state;
    static const struct {
        const char *url, *shown;
    } cases[] = {
        {"https://user:pass@host:4318/v1/metrics?api_key=abc#frag",
         "https://<redacted>@host:4318/v1/metrics?<redacted>"},
        /* a password may hold "@" or "/": everything up to the last "@" goes */
        {"http://user:p@ss@host/path", "http://<redacted>@host/path"},
        {"http://user:pa/ss@host/path", "http://<redacted>@host/path"},
        {"http://host/v1/metrics?api_key=s3cr3t", "http://host/v1/metrics?<redacted>"},
        {"https://host#token", "https://host#<redacted>"},
        {"http://collector:4318/v1/metrics", "http://collector:4318/v1/metrics"},
        /* not URLs at all (a bad endpoint is logged too) */
        {"localhost:4318?api_key=x", "localhost:4318?<redacted>"},
        {"user:pw@host", "<redacted>@host"},
        {"weird?x://user:pw@h", "weird?<redacted>"},
        {"ftp://u:p@h", "ftp://<redacted>@h"},
        {"http://h/\x01\n\xc3\xa9", "http://h/????"},
        {"", ""},
    };
    char out[128];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lw_otlp_redact_url(cases[i].url, out, sizeof(out));
        assert_string_equal(out, cases[i].shown);
    }
    char small[12];
    lw_otlp_redact_url("https://user:pass@host", small, sizeof(small));
    assert_string_equal(small, "https://<re");
    lw_otlp_redact_url(NULL, small, sizeof(small));
    assert_string_equal(small, "");

    /* libcurl's or a collector's words: the URL's secrets go wherever they appear */
    char text[128];
    snprintf(text, sizeof(text), "Could not resolve host: user:pw@host?k=v (k=v)");
    lw_otlp_redact_in_text(text, sizeof(text), "http://user:pw@host/?k=v");
    assert_string_equal(text, "Could not resolve host: <redacted>@host?<redacted> (<redacted>)");
    snprintf(text, sizeof(text), "no secret here");
    lw_otlp_redact_in_text(text, sizeof(text), "http://host/v1/metrics");
    assert_string_equal(text, "no secret here");
    /* a message cut in the middle of a secret (it filled its buffer): the cut part goes too */
    char cut[24];
    memcpy(cut, "bad URL: https://abcdefgh12345", sizeof(cut) - 1); /* cut as http.c cuts */
    cut[sizeof(cut) - 1] = '\0';
    lw_otlp_redact_in_text(cut, sizeof(cut), "https://abcdefgh12345678@host/");
    assert_string_equal(cut, "bad URL: https://<redac");
    memcpy(cut, "host?api_key=AKIAXYZ987654321", sizeof(cut) - 1);
    cut[sizeof(cut) - 1] = '\0';
    lw_otlp_redact_in_text(cut, sizeof(cut), "https://host/v1?api_key=AKIAXYZ987654321");
    assert_string_equal(cut, "host?<redacted>");
    /* a text that did not fill its buffer was not cut: its ending is its own */
    snprintf(text, sizeof(text), "refused: api");
    lw_otlp_redact_in_text(text, sizeof(text), "https://host/?api_key=1");
    assert_string_equal(text, "refused: api");
    /* too long to check: not shown */
    char *big = malloc(2048);
    assert_non_null(big);
    memset(big, 'x', 2047);
    big[2047] = '\0';
    lw_otlp_redact_in_text(big, 2048, "https://u:p@host/");
    assert_null(strchr(big, 'x'));
    free(big);

    /* an endpoint refused is said without its secrets */
    static const struct env bad = {
        {{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "ftp://me:hunter2@h/x?api_key=SECRET"},
         {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h/?api_key=SECRET2"}}};
    load(&bad);
    assert_int_equal(cfg.n_warnings, 2);
    for (size_t i = 0; i < cfg.n_warnings; i++) {
        assert_null(strstr(cfg.warnings[i], "SECRET"));
        assert_null(strstr(cfg.warnings[i], "hunter2"));
        assert_non_null(strstr(cfg.warnings[i], "<redacted>"));
    }
}

/* Headers sent in the clear to another machine get a warning; to this one they do not. */
static void test_plain_http_exposure(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        bool exposed;
    } cases[] = {
        {"http://collector.example.com:4318/v1/metrics", true},
        {"HTTP://collector.example.com/", true},
        {"http://10.0.0.1:4318/", true},
        {"http://128.0.0.1/", true},
        {"http://[::2]:4318/", true},
        {"http://localhost.example.com/", true},
        {"http://user:pw@collector/", true},
        {"https://collector.example.com/v1/metrics", false},
        {"http://localhost:4318/v1/metrics", false},
        {"http://LOCALHOST/", false},
        {"http://otel.localhost:4318/", false},
        {"http://127.0.0.1:4318/", false},
        {"http://127.9.9.9/", false},
        {"http://[::1]:4318/", false},
        {"http://sandbox.localdomain:4318/", false},
        {"http://user:pw@localhost/", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i].url);
        assert_int_equal(lw_otlp_url_exposes_headers(cases[i].url), cases[i].exposed);
    }
}

static void test_redact_headers(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        const char *out;
    } cases[] = {
        {"api-key=s3cr3t", "api-key=<redacted>"},
        {"a=1, b = 2", "a=<redacted>,b=<redacted>"},
        {"justasecretwithoutequals", "?=<redacted>"},
        {"x y=1", "?=<redacted>"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        lw_otlp_redact_headers(cases[i].raw, out, sizeof(out));
        assert_string_equal(out, cases[i].out);
    }
    char small[12];
    lw_otlp_redact_headers("abcdef=1,ghijkl=2", small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
    assert_null(strstr(small, "1"));
}

static void test_compression_timeout_protocol(void **state)
{
    (void)state;
    static const struct {
        struct env env;
        bool gzip;
        uint32_t timeout_ms;
        const char *warning;
    } cases[] = {
        {{{{NULL}}}, false, 10000, NULL},
        {{{{"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}}}, true, 10000, NULL},
        {{{{"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
           {"OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"}}},
         false,
         10000,
         NULL},
        {{{{"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"}}},
         false,
         10000,
         "OTEL_EXPORTER_OTLP_COMPRESSION=zstd"},
        {{{{"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"}}}, false, 2500, NULL},
        {{{{"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"}, {"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "700"}}},
         false,
         700,
         NULL},
        {{{{"OTEL_EXPORTER_OTLP_TIMEOUT", "0"}}}, false, 10000, "OTEL_EXPORTER_OTLP_TIMEOUT=0"},
        {{{{"OTEL_EXPORTER_OTLP_TIMEOUT", "10s"}}}, false, 10000, "using 10000"},
        {{{{"OTEL_EXPORTER_OTLP_TIMEOUT", "-5"}}}, false, 10000, "=-5"},
        {{{{"OTEL_EXPORTER_OTLP_TIMEOUT", "99999999999999999999999"}}}, false, 10000, "using"},
        {{{{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"}}}, false, 10000, NULL},
        {{{{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}},
         false,
         10000,
         "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported; using http/protobuf"},
        {{{{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"}}},
         false,
         10000,
         "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu\n", i);
        load(&cases[i].env);
        assert_int_equal(cfg.gzip, cases[i].gzip);
        assert_int_equal(cfg.timeout_ms, cases[i].timeout_ms);
        assert_int_equal(cfg.n_warnings, cases[i].warning != NULL ? 1 : 0);
        if (cases[i].warning != NULL)
            assert_true(warned_about(cases[i].warning));
    }
}

static const char *attr_str(const char *key)
{
    const struct lw_otlp_attr *a = lw_otlp_resource_get(&cfg.resource, key);
    return a != NULL && a->type == LW_OTLP_STRING ? a->str : NULL;
}

static void test_resource(void **state)
{
    (void)state;
    static const struct env lambda = {{{"AWS_REGION", "eu-west-1"},
                                       {"AWS_LAMBDA_FUNCTION_NAME", "orders"},
                                       {"AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"},
                                       {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"}}};
    load(&lambda);
    assert_string_equal(attr_str("cloud.provider"), "aws");
    assert_string_equal(attr_str("cloud.platform"), "aws_lambda");
    assert_string_equal(attr_str("cloud.region"), "eu-west-1");
    assert_string_equal(attr_str("faas.name"), "orders");
    assert_string_equal(attr_str("faas.version"), "$LATEST");
    assert_string_equal(attr_str("faas.instance"), "env-42");
    assert_string_equal(attr_str("service.name"), "orders");
    const struct lw_otlp_attr *mem = lw_otlp_resource_get(&cfg.resource, "faas.max_memory");
    assert_non_null(mem);
    assert_int_equal(mem->type, LW_OTLP_INT);
    assert_int_equal(mem->i, 512ll * 1048576);
    assert_int_equal(cfg.n_warnings, 0);

    static const struct {
        struct env env;
        const char *service;
        const char *team;     /* deployment.team from OTEL_RESOURCE_ATTRIBUTES */
        const char *provider; /* cloud.provider after merging */
        size_t warnings;
    } cases[] = {
        {{{{"AWS_LAMBDA_FUNCTION_NAME", "fn"},
           {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,deployment.team=a%2Cb"}}},
         "from-attrs",
         "a,b",
         "aws",
         0},
        {{{{"AWS_LAMBDA_FUNCTION_NAME", "fn"},
           {"OTEL_SERVICE_NAME", "from-var"},
           {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"}}},
         "from-var",
         NULL,
         "aws",
         0},
        /* the user's values win over leakwatch's own */
        {{{{"OTEL_RESOURCE_ATTRIBUTES", "cloud.provider=mine, deployment.team = x "}}},
         "unknown_service:leakwatch",
         "x",
         "mine",
         0},
        /* a decode error discards the whole variable */
        {{{{"AWS_LAMBDA_FUNCTION_NAME", "fn"},
           {"OTEL_RESOURCE_ATTRIBUTES", "deployment.team=x,service.name=%G0"}}},
         "fn",
         NULL,
         "aws",
         1},
        {{{{"AWS_LAMBDA_FUNCTION_NAME", "fn"}, {"OTEL_RESOURCE_ATTRIBUTES", "deployment.team"}}},
         "fn",
         NULL,
         "aws",
         1},
        /* decoded bytes must be UTF-8: a protobuf string that is not makes every batch a 400 */
        {{{{"AWS_LAMBDA_FUNCTION_NAME", "fn"},
           {"OTEL_RESOURCE_ATTRIBUTES", "deployment.team=%FF,service.name=x"}}},
         "fn",
         NULL,
         "aws",
         1},
        {{{{"AWS_LAMBDA_FUNCTION_NAME", "fn"},
           {"OTEL_RESOURCE_ATTRIBUTES", "deployment.team=caf%C3%A9"}}},
         "fn",
         "caf\xc3\xa9",
         "aws",
         0},
        {{{{"AWS_LAMBDA_FUNCTION_NAME", "fn"}, {"OTEL_RESOURCE_ATTRIBUTES", "k%C0%80=v"}}},
         "fn",
         NULL,
         "aws",
         1},
        {{{{"AWS_LAMBDA_FUNCTION_NAME", "fn"}, {"OTEL_SERVICE_NAME", "bad\xff"}}},
         "fn",
         NULL,
         "aws",
         1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu\n", i);
        load(&cases[i].env);
        assert_string_equal(attr_str("service.name"), cases[i].service);
        if (cases[i].team != NULL)
            assert_string_equal(attr_str("deployment.team"), cases[i].team);
        else
            assert_null(attr_str("deployment.team"));
        assert_string_equal(attr_str("cloud.provider"), cases[i].provider);
        assert_int_equal(cfg.n_warnings, cases[i].warnings);
    }
}

/* Every resource has a service.name that says something: found by fuzzing, a function name
 * longer than an attribute value, more attributes than the resource holds, or an empty
 * service.name in OTEL_RESOURCE_ATTRIBUTES left it without one. */
static void test_resource_always_has_service_name(void **state)
{
    (void)state;
    static char long_name[LW_OTLP_ATTR_VALUE_MAX + 10];
    memset(long_name, 'f', sizeof(long_name) - 1);
    static char many[LW_OTLP_MAX_ATTRS * 16];
    size_t o = 0;
    for (int i = 0; i < LW_OTLP_MAX_ATTRS - 2; i++) /* with leakwatch's own: more than fit */
        o += (size_t)snprintf(many + o, sizeof(many) - o, "%sk%d=v", i ? "," : "", i);
    static const struct {
        int name; /* 0: none, 1: "fn", 2: the long one */
        bool many;
        const char *service;
        const char *attrs; /* OTEL_RESOURCE_ATTRIBUTES when not many */
    } cases[] = {
        {2, false, "unknown_service:leakwatch", NULL},
        {1, true, "fn", NULL},
        {0, true, "unknown_service:leakwatch", NULL},
        {1, false, "fn", "service.name="},
        {0, false, "unknown_service:leakwatch", "service.name= ,team=x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu\n", i);
        struct env e = {{{NULL}}};
        size_t n = 0;
        if (cases[i].name != 0) {
            e.vars[n][0] = "AWS_LAMBDA_FUNCTION_NAME";
            e.vars[n++][1] = cases[i].name == 1 ? "fn" : long_name;
        }
        if (cases[i].many || cases[i].attrs != NULL) {
            e.vars[n][0] = "OTEL_RESOURCE_ATTRIBUTES";
            e.vars[n++][1] = cases[i].many ? many : cases[i].attrs;
        }
        load(&e);
        assert_non_null(attr_str("service.name"));
        assert_string_equal(attr_str("service.name"), cases[i].service);
        assert_true(cfg.resource.n_attrs <= LW_OTLP_MAX_ATTRS);
        if (cases[i].many) {
            assert_int_equal(cfg.resource.n_attrs, LW_OTLP_MAX_ATTRS);
            assert_true(cfg.resource.dropped_attrs > 0);
        }
    }
}

static void test_percent_decode(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum lw_err err;
        const char *out;
    } cases[] = {
        {"plain", LW_OK, "plain"},   {"a%20b", LW_OK, "a b"},
        {"%3d%3D", LW_OK, "=="},     {"%", LW_ERR_INVALID, ""},
        {"%4", LW_ERR_INVALID, ""},  {"%00", LW_ERR_INVALID, ""},
        {"%0A", LW_ERR_INVALID, ""}, {"0123456789", LW_ERR_TOO_LARGE, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[8] = "";
        assert_int_equal(lw_otlp_percent_decode(cases[i].in, strlen(cases[i].in), out, sizeof(out)),
                         cases[i].err);
        if (cases[i].err == LW_OK)
            assert_string_equal(out, cases[i].out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_redact_headers),
        cmocka_unit_test(test_redact_url),
        cmocka_unit_test(test_plain_http_exposure),
        cmocka_unit_test(test_compression_timeout_protocol),
        cmocka_unit_test(test_resource),
        cmocka_unit_test(test_resource_always_has_service_name),
        cmocka_unit_test(test_percent_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
