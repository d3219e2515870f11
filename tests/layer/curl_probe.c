/*
 * Loads the layer's libcurl the way the daemon does (src/daemon/export/http.c: dlopen of
 * libcurl.so.4, curl_global_init), then POSTs a small body to URL twice on one handle, with the
 * options the exporter sets. Run under the layer's own loader and library path, it proves that
 * the bundled libcurl works from the unpacked layer (HTTP, and HTTPS with the CA bundle given),
 * and measures what the first OTLP export costs on top of the request itself.
 *
 *   curl_probe URL [CA_FILE [PROXY]]
 *
 * Built with -DCURL_PROBE_LINKED and linked statically with the libcurl.a that layer/curlbuild.py
 * builds for the layer's static daemon (and the same mbedTLS and zlib archives), it makes the
 * same requests through libcurl linked in, as that daemon does; "dlopen_ms" is then 0.
 *
 * Prints one JSON object: libcurl's version, the HTTP status of each request, the time of each
 * step in milliseconds, and VmRSS/RssAnon/RssFile before loading, after loading and after the
 * first request. Exit status 0 when both requests got a 2xx answer, 1 otherwise (the libcurl
 * error text on stderr), 2 on a bad command line.
 */
#include <curl/curl.h>
#ifndef CURL_PROBE_LINKED
#include <dlfcn.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mem {
    long rss_kib, anon_kib, file_kib;
};

static struct {
    CURLcode (*global_init)(long);
    char *(*version)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
} lc;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct mem read_mem(void)
{
    struct mem m = {0, 0, 0};
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        long v = 0;
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            m.rss_kib = v;
        else if (sscanf(line, "RssAnon: %ld", &v) == 1)
            m.anon_kib = v;
        else if (sscanf(line, "RssFile: %ld", &v) == 1)
            m.file_kib = v;
    }
    if (f != NULL)
        fclose(f);
    return m;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;
}

static long post(CURL *h, const char *url, const char *ca_file, const char *proxy,
                 struct curl_slist *headers, char *error)
{
    static const char body[] = "\x0a\x00"; /* an empty ResourceMetrics: any bytes do */
    lc.easy_setopt(h, CURLOPT_URL, url);
    lc.easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    lc.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    lc.easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    lc.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    lc.easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    lc.easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (ca_file != NULL && ca_file[0] != '\0')
        lc.easy_setopt(h, CURLOPT_CAINFO, ca_file);
    if (proxy != NULL)
        lc.easy_setopt(h, CURLOPT_PROXY, proxy);
    lc.easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    lc.easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    lc.easy_setopt(h, CURLOPT_POST, 1L);
    lc.easy_setopt(h, CURLOPT_POSTFIELDS, body);
    lc.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(sizeof(body) - 1));
    lc.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = lc.easy_perform(h);
    if (rc != CURLE_OK) {
        fprintf(stderr, "curl_probe: %s: %s\n", url, error[0] ? error : lc.easy_strerror(rc));
        return -1;
    }
    long status = 0;
    lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

#ifdef CURL_PROBE_LINKED
#define LOAD(field, fn) lc.field = fn
#else
#define LOAD(field, fn)                                                                            \
    do {                                                                                           \
        *(void **)(&lc.field) = dlsym(lib, #fn);                                                   \
        if (lc.field == NULL) {                                                                    \
            fprintf(stderr, "curl_probe: libcurl.so.4 has no %s\n", #fn);                          \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#endif

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: curl_probe URL [CA_FILE [PROXY]]\n");
        return 2;
    }
    const char *url = argv[1];
    const char *ca_file = argc > 2 ? argv[2] : NULL;
    const char *proxy = argc > 3 ? argv[3] : NULL;

    struct mem before = read_mem();
    double t0 = now_ms();
#ifndef CURL_PROBE_LINKED
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "curl_probe: %s\n", dlerror());
        return 1;
    }
#endif
    double t_open = now_ms();
    LOAD(global_init, curl_global_init);
    LOAD(version, curl_version);
    LOAD(easy_init, curl_easy_init);
    LOAD(easy_setopt, curl_easy_setopt);
    LOAD(easy_perform, curl_easy_perform);
    LOAD(easy_getinfo, curl_easy_getinfo);
    LOAD(easy_strerror, curl_easy_strerror);
    LOAD(slist_append, curl_slist_append);
    if (lc.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "curl_probe: curl_global_init failed\n");
        return 1;
    }
    double t_init = now_ms();
    struct mem loaded = read_mem();

    CURL *h = lc.easy_init();
    struct curl_slist *headers = lc.slist_append(NULL, "Content-Type: application/x-protobuf");
    headers = lc.slist_append(headers, "Expect:");
    char error[CURL_ERROR_SIZE] = "";
    double t1 = now_ms();
    long first = post(h, url, ca_file, proxy, headers, error);
    double t2 = now_ms();
    struct mem sent = read_mem();
    error[0] = '\0';
    long second = first < 0 ? -1 : post(h, url, ca_file, proxy, headers, error);
    double t3 = now_ms();

    printf("{\"version\":\"%s\",\"status\":[%ld,%ld],"
           "\"dlopen_ms\":%.3f,\"global_init_ms\":%.3f,\"first_request_ms\":%.3f,"
           "\"second_request_ms\":%.3f,",
           lc.version(), first, second, t_open - t0, t_init - t_open, t2 - t1, t3 - t2);
    printf("\"rss_kib\":[%ld,%ld,%ld],\"anon_kib\":[%ld,%ld,%ld],\"file_kib\":[%ld,%ld,%ld]}\n",
           before.rss_kib, loaded.rss_kib, sent.rss_kib, before.anon_kib, loaded.anon_kib,
           sent.anon_kib, before.file_kib, loaded.file_kib, sent.file_kib);
    /* the handle, the list and the library stay: the process ends here */
    return first >= 200 && first < 300 && second >= 200 && second < 300 ? 0 : 1;
}
