/*
 * The libcurl transport behind <leakwatch/http.h>, used for OTLP export. One easy handle per
 * transport, reset before each request: curl_easy_reset keeps the connection cache, so
 * keep-alive connections to a collector are reused across requests.
 *
 * A dynamically linked daemon opens libcurl with dlopen() on the first request, on the thread
 * that makes it (the exporter's), and does not link it: with its ~35 dependencies it would add
 * 20-30 ms to every cold start and 9 MiB of resident pages to every environment, also where OTLP
 * export is off. The layer's daemon is linked statically (LW_CURL_LINKED, docs/layer.md): the
 * slim libcurl is part of the binary, whose pages the kernel maps only once an export touches
 * them, and a static program cannot use a dlopen()ed library that starts threads (libcurl's
 * resolver), because that library brings a second C library that was never initialised. The
 * local Lambda APIs use the loopback transport (http_loopback.c).
 */
#include <leakwatch/http.h>

#include <leakwatch/limits.h>
#include <leakwatch/log.h>

#include <curl/curl.h>
#ifndef LW_CURL_LINKED
#include <dlfcn.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 3000
#define MAX_HEADER_LINE 2048

/* Amazon Linux and RHEL keep the bundle elsewhere than Debian; the first readable one wins. */
static const char *const ca_bundles[] = {
    "/etc/pki/tls/certs/ca-bundle.crt",                  /* Amazon Linux, RHEL, Fedora */
    "/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Alpine */
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL 7+ extracted */
    "/etc/ssl/ca-bundle.pem",                            /* openSUSE */
    "/etc/ssl/cert.pem",                                 /* Alpine, BSDs */
};

/* The libcurl functions leakwatch calls: resolved once from the shared library, or linked. */
static struct {
    CURLcode (*global_init)(long flags);
    const char *(*easy_strerror)(CURLcode);
    CURL *(*easy_init)(void);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLHcode (*easy_header)(CURL *, const char *, size_t, unsigned int, int,
                             struct curl_header **);
    void (*easy_cleanup)(CURL *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    bool ok;
    char error[200];
} lc;

static pthread_once_t lc_once = PTHREAD_ONCE_INIT;

#ifdef LW_CURL_LINKED
#define LIBCURL_NAME "libcurl (linked in)"
/* The table from the functions linked into the binary; lib and ok are unused. */
#define LOAD(field, fn) (void)lib, lc.field = fn
#else
#define LIBCURL_NAME "libcurl.so.4"

static void *sym(void *lib, const char *name, bool *ok)
{
    void *f = dlsym(lib, name);
    if (f == NULL && *ok) {
        snprintf(lc.error, sizeof(lc.error), "%s has no %s", LIBCURL_NAME, name);
        *ok = false;
    }
    return f;
}

/* Function pointers from dlsym: POSIX guarantees the conversion works. */
#define LOAD(field, fn) *(void **)(&lc.field) = sym(lib, #fn, &ok)
#endif

static void load_curl(void)
{
#ifdef LW_CURL_LINKED
    void *lib = NULL;
#else
    void *lib = dlopen(LIBCURL_NAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *why = dlerror();
        snprintf(lc.error, sizeof(lc.error), "cannot load %s: %s", LIBCURL_NAME,
                 why != NULL ? why : "unknown error");
        return;
    }
#endif
    bool ok = true;
    LOAD(global_init, curl_global_init);
    LOAD(easy_strerror, curl_easy_strerror);
    LOAD(easy_init, curl_easy_init);
    LOAD(easy_reset, curl_easy_reset);
    LOAD(easy_setopt, curl_easy_setopt);
    LOAD(easy_perform, curl_easy_perform);
    LOAD(easy_getinfo, curl_easy_getinfo);
    LOAD(easy_header, curl_easy_header);
    LOAD(easy_cleanup, curl_easy_cleanup);
    LOAD(slist_append, curl_slist_append);
    LOAD(slist_free_all, curl_slist_free_all);
    if (!ok)
        return; /* the library stays loaded: unloading OpenSSL's dependents is not safe */
    CURLcode rc = lc.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(lc.error, sizeof(lc.error), "libcurl initialisation failed: %s",
                 lc.easy_strerror(rc));
        return;
    }
    lc.ok = true;
}

/* Loads libcurl once per process; false (and the reason in lc.error) when it cannot be used. */
static void load_curl_once(void)
{
    load_curl();
    if (!lc.ok) /* said once per process; each request that needs it then fails with the text */
        lw_error("%s: OTLP export cannot work", lc.error);
}

static bool curl_ready(void)
{
    pthread_once(&lc_once, load_curl_once);
    return lc.ok;
}

struct curl_transport {
    CURL *easy;
    char ca_file[512]; /* "" when none was found: libcurl's built-in default */
    char error[CURL_ERROR_SIZE];
};

struct body_buf {
    char *data;
    size_t len;
    size_t cap; /* the hard cap: bytes beyond it are discarded and flagged */
    bool truncated;
};

enum lw_err lw_http_global_init(void)
{
    return curl_ready() ? LW_OK : LW_ERR_HTTP;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct body_buf *b = userdata;
    size_t n = size * nmemb;
    size_t room = b->cap - b->len;
    size_t take = n < room ? n : room;
    if (take < n)
        b->truncated = true;
    if (take > 0) {
        char *grown = realloc(b->data, b->len + take + 1);
        if (grown == NULL)
            return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
        b->data = grown;
        memcpy(b->data + b->len, data, take);
        b->len += take;
        b->data[b->len] = '\0';
    }
    /* The rest is read and discarded so the connection stays usable. */
    return n;
}

/* A header value must not carry line breaks: they would add header lines of their own. */
static bool header_ok(const struct lw_http_header *h)
{
    if (h->name == NULL || h->value == NULL || h->name[0] == '\0')
        return false;
    if (strpbrk(h->name, ":\r\n \t") != NULL || strpbrk(h->value, "\r\n") != NULL)
        return false;
    return true;
}

/* gzip (RFC 1952) of in[0..len) into a heap buffer. */
static enum lw_err gzip_compress(const void *in, size_t len, unsigned char **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return LW_ERR_NOMEM;
    uLong bound = deflateBound(&zs, (uLong)len);
    unsigned char *buf = malloc(bound);
    if (buf == NULL) {
        deflateEnd(&zs);
        return LW_ERR_NOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in; /* zlib does not write through next_in */
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return LW_ERR_INVALID;
    }
    *out = buf;
    return LW_OK;
}

static enum lw_err curl_perform(void *ctx, const struct lw_http_request *req,
                                struct lw_http_response *resp)
{
    struct curl_transport *t = ctx;
    struct curl_slist *headers = NULL;
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    struct body_buf body = {.cap = req->max_response_bytes > 0 ? req->max_response_bytes
                                                               : LW_HTTP_RESPONSE_MAX_BYTES};
    enum lw_err err = LW_OK;

    memset(resp, 0, sizeof(*resp));
    if (!curl_ready()) {
        snprintf(resp->error, sizeof(resp->error), "%.120s", lc.error);
        return LW_ERR_HTTP;
    }
    if (t->easy == NULL && (t->easy = lc.easy_init()) == NULL) {
        snprintf(resp->error, sizeof(resp->error), "libcurl: cannot create a handle");
        return LW_ERR_NOMEM;
    }
    CURL *h = t->easy;
    if (req->url == NULL || req->method == NULL || req->n_headers > LW_HTTP_MAX_HEADERS ||
        req->n_want_headers > LW_HTTP_MAX_WANTED_HEADERS || (req->body == NULL && req->body_len)) {
        snprintf(resp->error, sizeof(resp->error), "invalid request");
        return LW_ERR_INVALID;
    }

    lc.easy_reset(h);
    t->error[0] = '\0';
    lc.easy_setopt(h, CURLOPT_URL, req->url);
    lc.easy_setopt(h, CURLOPT_ERRORBUFFER, t->error);
    /* several threads: no SIGALRM-based DNS timeouts */
    lc.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    lc.easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    lc.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    lc.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    lc.easy_setopt(
        h, CURLOPT_CONNECTTIMEOUT_MS,
        (long)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS));
    /* 0 is no total timeout: the event/next long poll blocks until the next event, and the
     * environment may be frozen inside it for hours. */
    lc.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)req->total_timeout_ms);
    if (req->no_proxy)
        lc.easy_setopt(h, CURLOPT_NOPROXY, "*");
    if (t->ca_file[0] != '\0')
        lc.easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
    lc.easy_setopt(h, CURLOPT_USERAGENT, "leakwatch/" LW_VERSION);
    /* every encoding libcurl can decode; the body cap applies to the decoded bytes */
    lc.easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    lc.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    lc.easy_setopt(h, CURLOPT_WRITEDATA, &body);

    const void *payload = req->body;
    size_t payload_len = req->body_len;
    if (req->gzip_body && payload != NULL) {
        err = gzip_compress(payload, payload_len, &gz, &gz_len);
        if (err != LW_OK) {
            snprintf(resp->error, sizeof(resp->error), "gzip failed");
            goto out;
        }
        payload = gz;
        payload_len = gz_len;
        headers = lc.slist_append(headers, "Content-Encoding: gzip");
    }

    if (strcmp(req->method, "GET") == 0) {
        lc.easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        lc.easy_setopt(h, CURLOPT_POST, 1L);
        lc.easy_setopt(h, CURLOPT_POSTFIELDS, payload != NULL ? payload : "");
        lc.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)payload_len);
        if (strcmp(req->method, "POST") != 0)
            lc.easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        /* no "Expect: 100-continue" round trip for small bodies */
        headers = lc.slist_append(headers, "Expect:");
    }

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct lw_http_header *hd = &req->headers[i];
        char line[MAX_HEADER_LINE];
        if (!header_ok(hd)) {
            snprintf(resp->error, sizeof(resp->error), "invalid header %zu", i);
            err = LW_ERR_INVALID;
            goto out;
        }
        /* "Name;" is curl's way to send a header with an empty value */
        int n = hd->value[0] != '\0' ? snprintf(line, sizeof(line), "%s: %s", hd->name, hd->value)
                                     : snprintf(line, sizeof(line), "%s;", hd->name);
        if (n < 0 || (size_t)n >= sizeof(line)) {
            snprintf(resp->error, sizeof(resp->error), "header %zu too long", i);
            err = LW_ERR_TOO_LARGE;
            goto out;
        }
        struct curl_slist *grown = lc.slist_append(headers, line);
        if (grown == NULL) {
            err = LW_ERR_NOMEM;
            goto out;
        }
        headers = grown;
    }
    if (headers != NULL)
        lc.easy_setopt(h, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = lc.easy_perform(h);
    if (rc != CURLE_OK) {
        const char *text = t->error[0] != '\0' ? t->error : lc.easy_strerror(rc);
        size_t text_len = strnlen(text, sizeof(resp->error) - 1);
        memcpy(resp->error, text, text_len);
        resp->error[text_len] = '\0';
        err = rc == CURLE_OPERATION_TIMEDOUT ? LW_ERR_TIMEOUT : LW_ERR_HTTP;
        goto out;
    }
    long status = 0;
    lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    resp->status = status;
    for (size_t i = 0; i < req->n_want_headers; i++) {
        struct curl_header *hv = NULL;
        if (req->want_headers[i] != NULL &&
            lc.easy_header(h, req->want_headers[i], 0, CURLH_HEADER, -1, &hv) == CURLHE_OK &&
            hv != NULL && hv->value != NULL)
            snprintf(resp->header_values[i], LW_HTTP_HEADER_VALUE_MAX, "%s", hv->value);
    }
    resp->body = body.data;
    resp->body_len = body.len;
    resp->body_truncated = body.truncated;
    body.data = NULL;

out:
    free(body.data);
    free(gz);
    lc.slist_free_all(headers);
    /* curl keeps pointers to headers and the body until the next reset: drop them now */
    lc.easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    lc.easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    return err;
}

static void curl_destroy(void *ctx)
{
    struct curl_transport *t = ctx;
    if (t == NULL)
        return;
    if (t->easy != NULL)
        lc.easy_cleanup(t->easy);
    free(t);
}

enum lw_err lw_http_curl_transport_init(struct lw_http_transport *tr, const char *ca_file)
{
    struct curl_transport *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return LW_ERR_NOMEM;
    /* the handle (and libcurl itself) comes with the first request, on the thread making it */
    const char *chosen = ca_file;
    for (size_t i = 0; chosen == NULL && i < sizeof(ca_bundles) / sizeof(ca_bundles[0]); i++) {
        if (access(ca_bundles[i], R_OK) == 0)
            chosen = ca_bundles[i];
    }
    if (chosen != NULL && strlen(chosen) < sizeof(t->ca_file))
        memcpy(t->ca_file, chosen, strlen(chosen) + 1);
    else if (chosen != NULL)
        lw_warn("CA bundle path too long, using libcurl's default: %.80s...", chosen);
    tr->perform = curl_perform;
    tr->destroy = curl_destroy;
    tr->ctx = t;
    return LW_OK;
}
