/*
 * libFuzzer target for the HTTP/1.1 response parser of the loopback transport: whatever the
 * peer sends, no crash, the body stays within its cap and NUL-terminated, and the outcome does
 * not depend on how the bytes were split across reads (the whole input at once versus two
 * pieces cut where the first byte says).
 */
/* fuzz-seeds: tests/fuzz/corpus/http_wire */
#include <leakwatch/http_wire.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    enum lw_err err;
    bool done;
    size_t used;
    struct lw_http_response resp;
};

static void parse(const struct lw_http_request *req, const char *bytes, size_t len, size_t cut,
                  bool eof, struct outcome *o)
{
    static struct lw_http_wire_parser p;
    memset(o, 0, sizeof(*o));
    lw_http_wire_parser_init(&p, req, &o->resp);
    size_t pieces[2] = {cut, len - cut};
    size_t at = 0;
    for (int i = 0; i < 2 && o->err == LW_OK && !o->done; i++) {
        size_t used = 0;
        o->err = lw_http_wire_feed(&p, bytes + at, pieces[i], &used, &o->done);
        if (used > pieces[i])
            abort();
        if (o->err == LW_OK && !o->done && used != pieces[i])
            abort(); /* an unfinished response takes everything it is given */
        at += used;
        if (used < pieces[i])
            break;
    }
    o->used = at;
    if (o->err == LW_OK && !o->done && eof) {
        o->err = lw_http_wire_eof(&p);
        o->done = o->err == LW_OK;
    }
    if (o->resp.body_len > (req->max_response_bytes ? req->max_response_bytes : 65536))
        abort();
    if (o->resp.body != NULL && o->resp.body[o->resp.body_len] != '\0')
        abort();
    if (o->done && (o->resp.status < 100 || o->resp.status > 999))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    /* first byte: where to cut and whether the peer closes; second: the body cap */
    bool eof = data[0] & 1;
    size_t cap = (size_t)data[1] * 4;
    const char *bytes = (const char *)data + 2;
    size_t len = size - 2;
    size_t cut = len > 0 ? (size_t)(data[0] >> 1) % (len + 1) : 0;

    struct lw_http_request req = {.method = "GET", .max_response_bytes = cap};
    req.want_headers[0] = "Retry-After";
    req.n_want_headers = 1;
    struct outcome whole, split;
    parse(&req, bytes, len, len, eof, &whole);
    parse(&req, bytes, len, cut, eof, &split);
    if (whole.err != split.err || whole.done != split.done)
        abort();
    if (whole.err == LW_OK && whole.done) {
        if (whole.used != split.used || whole.resp.status != split.resp.status ||
            whole.resp.body_len != split.resp.body_len ||
            whole.resp.body_truncated != split.resp.body_truncated ||
            strcmp(whole.resp.header_values[0], split.resp.header_values[0]) != 0 ||
            (whole.resp.body_len > 0 &&
             memcmp(whole.resp.body, split.resp.body, whole.resp.body_len) != 0))
            abort();
    }
    lw_http_response_clean_up(&whole.resp);
    lw_http_response_clean_up(&split.resp);
    return 0;
}
