/*
 * HTTP/1.1 request heads and response parsing for the loopback transport (RFC 9112). The parser
 * is strict where a mistake would desynchronise the connection (Content-Length, chunk sizes,
 * line endings) and lenient where it costs nothing (reason phrase, unknown header fields, a bare
 * LF ending a line).
 */
#include <leakwatch/http_wire.h>

#include <leakwatch/limits.h>
#include <leakwatch/text.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* No response leakwatch reads comes near this; a larger Content-Length is refused. */
#define MAX_DECLARED_BODY_BYTES (UINT64_C(1) << 40)

void lw_http_response_clean_up(struct lw_http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

enum lw_err lw_http_request_add_header(struct lw_http_request *req, const char *name,
                                       const char *value)
{
    if (req->n_headers >= LW_HTTP_MAX_HEADERS)
        return LW_ERR_FULL;
    req->headers[req->n_headers].name = name;
    req->headers[req->n_headers].value = value;
    req->n_headers++;
    return LW_OK;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 9110 token characters: what a field name may contain. */
static bool is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

enum lw_err lw_http_url_parse(const char *url, struct lw_http_url *out)
{
    static const char scheme[] = "http://";
    memset(out, 0, sizeof(*out));
    if (url == NULL || strncasecmp(url, scheme, sizeof(scheme) - 1) != 0)
        return LW_ERR_INVALID;
    const char *host = url + sizeof(scheme) - 1;
    const char *host_end;
    const char *after;
    if (*host == '[') {
        host++;
        host_end = strchr(host, ']');
        if (host_end == NULL)
            return LW_ERR_INVALID;
        after = host_end + 1;
    } else {
        host_end = host + strcspn(host, ":/?#");
        after = host_end;
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len >= sizeof(out->host))
        return LW_ERR_INVALID;
    for (size_t i = 0; i < host_len; i++) {
        char c = host[i];
        if (c <= ' ' || c == '@' || c == '/' || c == '\x7f')
            return LW_ERR_INVALID;
    }
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = 80;
    if (*after == ':') {
        after++;
        unsigned long port = 0;
        size_t digits = 0;
        while (is_digit(after[digits]) && digits < 6) {
            port = port * 10 + (unsigned long)(after[digits] - '0');
            digits++;
        }
        if (digits == 0 || port == 0 || port > 65535)
            return LW_ERR_INVALID;
        out->port = (uint16_t)port;
        after += digits;
    }
    if (*after == '\0') {
        out->path = "/";
    } else if (*after == '/') {
        for (const char *c = after; *c != '\0'; c++) {
            if (*c <= ' ' || *c == '\x7f')
                return LW_ERR_INVALID; /* would break the request line */
        }
        out->path = after;
    } else {
        return LW_ERR_INVALID;
    }
    return LW_OK;
}

static bool header_ok(const struct lw_http_header *h)
{
    if (h->name == NULL || h->value == NULL || h->name[0] == '\0')
        return false;
    for (const char *c = h->name; *c != '\0'; c++) {
        if (!is_tchar(*c))
            return false;
    }
    return strpbrk(h->value, "\r\n") == NULL;
}

/* Appends n bytes to out[0..cap) at *at; false when they do not fit (one byte is kept for the
 * terminating NUL). Plain copies: this runs for every event/next, and vsnprintf cost four times
 * as many instructions for the same bytes. */
static bool put_n(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
    if (n >= cap - *at)
        return false;
    memcpy(out + *at, s, n);
    *at += n;
    out[*at] = '\0';
    return true;
}

static bool put(char *out, size_t cap, size_t *at, const char *s)
{
    return put_n(out, cap, at, s, strlen(s));
}

static bool put_u64(char *out, size_t cap, size_t *at, uint64_t v)
{
    char b[LW_TEXT_U64_DEC_BYTES];
    char *p = lw_text_u64_dec(b, v);
    return put_n(out, cap, at, p, (size_t)(b + LW_TEXT_U64_DEC_BYTES - 1 - p));
}

enum lw_err lw_http_wire_request(const struct lw_http_request *req, const struct lw_http_url *url,
                                 char *out, size_t cap, size_t *len)
{
    *len = 0;
    if (req->method == NULL || req->n_headers > LW_HTTP_MAX_HEADERS || cap == 0 ||
        (req->body == NULL && req->body_len > 0))
        return LW_ERR_INVALID;
    for (const char *c = req->method; *c != '\0'; c++) {
        if (!is_tchar(*c))
            return LW_ERR_INVALID;
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!header_ok(&req->headers[i]))
            return LW_ERR_INVALID;
    }
    size_t at = 0;
    bool ipv6 = strchr(url->host, ':') != NULL;
    bool ok = put(out, cap, &at, req->method) && put(out, cap, &at, " ") &&
              put(out, cap, &at, url->path) && put(out, cap, &at, " HTTP/1.1\r\nHost: ") &&
              put(out, cap, &at, ipv6 ? "[" : "") && put(out, cap, &at, url->host) &&
              put(out, cap, &at, ipv6 ? "]:" : ":") && put_u64(out, cap, &at, url->port) &&
              put(out, cap, &at, "\r\nUser-Agent: leakwatch/" LW_VERSION "\r\n");
    for (size_t i = 0; ok && i < req->n_headers; i++)
        ok = put(out, cap, &at, req->headers[i].name) && put(out, cap, &at, ": ") &&
             put(out, cap, &at, req->headers[i].value) && put(out, cap, &at, "\r\n");
    /* A body, or a method that carries one, says how long it is: never chunked, never "until
     * close", so the connection stays usable. */
    if (ok && (req->body_len > 0 || strcmp(req->method, "GET") != 0))
        ok = put(out, cap, &at, "Content-Length: ") && put_u64(out, cap, &at, req->body_len) &&
             put(out, cap, &at, "\r\n");
    if (ok)
        ok = put(out, cap, &at, "\r\n");
    if (!ok)
        return LW_ERR_TOO_LARGE;
    *len = at;
    return LW_OK;
}

void lw_http_wire_parser_init(struct lw_http_wire_parser *p, const struct lw_http_request *req,
                              struct lw_http_response *resp)
{
    /* Field by field: the line buffer (8 KiB) is only ever read up to line_len, and zeroing it
     * for every request was a tenth of the main thread's instructions per invocation. */
    p->state = LW_WIRE_STATUS_LINE;
    p->req = req;
    p->resp = resp;
    p->max_body_bytes =
        req->max_response_bytes > 0 ? req->max_response_bytes : LW_HTTP_RESPONSE_MAX_BYTES;
    p->line_len = 0;
    p->head_bytes = 0;
    p->remaining = 0;
    p->have_length = false;
    p->chunked = false;
    p->close = false;
    p->interim = false;
    p->body_cap = 0;
    p->started = false;
}

static enum lw_err fail(struct lw_http_wire_parser *p, enum lw_err err, const char *what)
{
    snprintf(p->resp->error, sizeof(p->resp->error), "malformed HTTP response: %s", what);
    p->close = true;
    return err;
}

static enum lw_err append_body(struct lw_http_wire_parser *p, const char *data, size_t n)
{
    struct lw_http_response *r = p->resp;
    size_t room = p->max_body_bytes - r->body_len;
    size_t take = n < room ? n : room;
    if (take < n)
        r->body_truncated = true;
    if (take == 0)
        return LW_OK;
    if (r->body_len + take + 1 > p->body_cap) {
        size_t want = p->body_cap > 0 ? p->body_cap * 2 : 1024;
        while (want < r->body_len + take + 1)
            want *= 2;
        if (want > p->max_body_bytes + 1)
            want = p->max_body_bytes + 1;
        char *grown = realloc(r->body, want);
        if (grown == NULL)
            return fail(p, LW_ERR_NOMEM, "out of memory for the body");
        r->body = grown;
        p->body_cap = want;
    }
    memcpy(r->body + r->body_len, data, take);
    r->body_len += take;
    r->body[r->body_len] = '\0';
    return LW_OK;
}

static enum lw_err status_line(struct lw_http_wire_parser *p)
{
    const char *l = p->line;
    /* "HTTP/1.x SSS[ reason]" */
    if (p->line_len < 12 || strncmp(l, "HTTP/1.", 7) != 0 || !is_digit(l[7]) || l[8] != ' ' ||
        !is_digit(l[9]) || !is_digit(l[10]) || !is_digit(l[11]) ||
        (p->line_len > 12 && l[12] != ' '))
        return fail(p, LW_ERR_INVALID, "bad status line");
    long status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (status < 100)
        return fail(p, LW_ERR_INVALID, "bad status code");
    p->resp->status = status;
    p->interim = status < 200 && status != 101;
    if (status == 101)
        return fail(p, LW_ERR_INVALID, "unexpected protocol switch");
    if (l[7] == '0')
        p->close = true; /* HTTP/1.0: no keep-alive unless negotiated, which leakwatch does not */
    p->have_length = false;
    p->chunked = false;
    p->state = LW_WIRE_HEADER_LINE;
    return LW_OK;
}

static bool has_token(const char *list, const char *token)
{
    size_t n = strlen(token);
    for (const char *c = list; *c != '\0';) {
        while (*c == ' ' || *c == '\t' || *c == ',')
            c++;
        size_t len = strcspn(c, ",");
        size_t trimmed = len;
        while (trimmed > 0 && (c[trimmed - 1] == ' ' || c[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == n && strncasecmp(c, token, n) == 0)
            return true;
        c += len;
    }
    return false;
}

/* A Transfer-Encoding list made of "chunked" only (at least once). */
static bool only_chunked(const char *list)
{
    bool any = false;
    for (const char *c = list; *c != '\0';) {
        while (*c == ' ' || *c == '\t' || *c == ',')
            c++;
        size_t len = strcspn(c, ", \t");
        if (len == 0)
            break;
        if (len != 7 || strncasecmp(c, "chunked", 7) != 0)
            return false;
        any = true;
        c += len;
    }
    return any;
}

static enum lw_err header_line(struct lw_http_wire_parser *p)
{
    char *l = p->line;
    char *colon = memchr(l, ':', p->line_len);
    if (colon == NULL || colon == l)
        return fail(p, LW_ERR_INVALID, "bad header field");
    for (char *c = l; c < colon; c++) {
        if (!is_tchar(*c))
            return fail(p, LW_ERR_INVALID, "bad header field name");
    }
    *colon = '\0';
    char *v = colon + 1;
    char *end = l + p->line_len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    if (memchr(v, '\0', (size_t)(end - v)) != NULL)
        return fail(p, LW_ERR_INVALID, "NUL in a header field");

    if (strcasecmp(l, "Content-Length") == 0) {
        uint64_t n = 0;
        if (*v == '\0')
            return fail(p, LW_ERR_INVALID, "empty Content-Length");
        for (const char *c = v; *c != '\0'; c++) {
            if (!is_digit(*c) || n > MAX_DECLARED_BODY_BYTES)
                return fail(p, LW_ERR_INVALID, "bad Content-Length");
            n = n * 10 + (uint64_t)(*c - '0');
        }
        if (n > MAX_DECLARED_BODY_BYTES)
            return fail(p, LW_ERR_INVALID, "Content-Length too large");
        /* Two different lengths: no way to know where this response ends (RFC 9112 6.3). */
        if (p->have_length && p->remaining != n)
            return fail(p, LW_ERR_INVALID, "conflicting Content-Length");
        p->have_length = true;
        p->remaining = n;
    } else if (strcasecmp(l, "Transfer-Encoding") == 0) {
        /* leakwatch asks for no content coding: only "chunked" is understood here. */
        if (!only_chunked(v))
            return fail(p, LW_ERR_INVALID, "unsupported transfer coding");
        p->chunked = true;
    } else if (strcasecmp(l, "Connection") == 0) {
        if (has_token(v, "close"))
            p->close = true;
    }
    for (size_t i = 0; i < p->req->n_want_headers && i < LW_HTTP_MAX_WANTED_HEADERS; i++) {
        const char *want = p->req->want_headers[i];
        if (want != NULL && strcasecmp(l, want) == 0 && p->resp->header_values[i][0] == '\0')
            snprintf(p->resp->header_values[i], LW_HTTP_HEADER_VALUE_MAX, "%s", v);
    }
    return LW_OK;
}

/* The blank line after the header fields: decides how the body is framed. */
static enum lw_err end_of_head(struct lw_http_wire_parser *p)
{
    if (p->interim) {
        /* 1xx: its head is done; the final response follows on the same stream. */
        memset(p->resp->header_values, 0, sizeof(p->resp->header_values));
        p->interim = false;
        p->state = LW_WIRE_STATUS_LINE;
        return LW_OK;
    }
    long s = p->resp->status;
    bool no_body = s == 204 || s == 304 || strcmp(p->req->method, "HEAD") == 0;
    if (p->chunked && p->have_length) {
        /* RFC 9112 6.1: a sender must not send both; a recipient must close afterwards. */
        p->have_length = false;
        p->close = true;
    }
    if (no_body) {
        p->state = LW_WIRE_DONE;
    } else if (p->chunked) {
        p->state = LW_WIRE_CHUNK_SIZE;
    } else if (p->have_length) {
        p->state = p->remaining > 0 ? LW_WIRE_BODY_LENGTH : LW_WIRE_DONE;
    } else {
        p->close = true;
        p->state = LW_WIRE_BODY_UNTIL_CLOSE;
    }
    return LW_OK;
}

static enum lw_err chunk_size_line(struct lw_http_wire_parser *p)
{
    uint64_t n = 0;
    size_t i = 0;
    for (; i < p->line_len; i++) {
        char c = p->line[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (n > MAX_DECLARED_BODY_BYTES)
            return fail(p, LW_ERR_INVALID, "chunk too large");
        n = n * 16 + (uint64_t)d;
    }
    if (i == 0)
        return fail(p, LW_ERR_INVALID, "bad chunk size");
    /* the rest may only be whitespace and chunk extensions */
    while (i < p->line_len && (p->line[i] == ' ' || p->line[i] == '\t'))
        i++;
    if (i < p->line_len && p->line[i] != ';')
        return fail(p, LW_ERR_INVALID, "bad chunk size");
    if (n > MAX_DECLARED_BODY_BYTES)
        return fail(p, LW_ERR_INVALID, "chunk too large");
    p->remaining = n;
    p->state = n > 0 ? LW_WIRE_CHUNK_DATA : LW_WIRE_TRAILER;
    return LW_OK;
}

/* A complete line of the head, of a chunk size or of the trailer is in p->line. */
static enum lw_err on_line(struct lw_http_wire_parser *p)
{
    switch (p->state) {
    case LW_WIRE_STATUS_LINE:
        if (p->line_len == 0)
            return LW_OK; /* RFC 9112 2.2: ignore empty lines before the status line */
        return status_line(p);
    case LW_WIRE_HEADER_LINE:
        if (p->line_len == 0)
            return end_of_head(p);
        if (p->line[0] == ' ' || p->line[0] == '\t')
            return fail(p, LW_ERR_INVALID, "obsolete line folding");
        return header_line(p);
    case LW_WIRE_CHUNK_SIZE:
        return chunk_size_line(p);
    case LW_WIRE_CHUNK_DATA_END:
        if (p->line_len != 0)
            return fail(p, LW_ERR_INVALID, "chunk longer than its size");
        p->state = LW_WIRE_CHUNK_SIZE;
        return LW_OK;
    case LW_WIRE_TRAILER:
        if (p->line_len == 0)
            p->state = LW_WIRE_DONE;
        return LW_OK; /* trailer fields are not used */
    default:
        return fail(p, LW_ERR_INVALID, "internal state");
    }
}

static bool in_line_state(enum lw_http_wire_state s)
{
    return s == LW_WIRE_STATUS_LINE || s == LW_WIRE_HEADER_LINE || s == LW_WIRE_CHUNK_SIZE ||
           s == LW_WIRE_CHUNK_DATA_END || s == LW_WIRE_TRAILER;
}

enum lw_err lw_http_wire_feed(struct lw_http_wire_parser *p, const char *data, size_t len,
                              size_t *used, bool *done)
{
    size_t i = 0;
    enum lw_err err = LW_OK;
    *done = p->state == LW_WIRE_DONE;
    if (len > 0)
        p->started = true;
    while (i < len && p->state != LW_WIRE_DONE) {
        if (in_line_state(p->state)) {
            bool in_head = p->state == LW_WIRE_STATUS_LINE || p->state == LW_WIRE_HEADER_LINE;
            const char *nl = memchr(data + i, '\n', len - i);
            size_t n = nl != NULL ? (size_t)(nl - (data + i)) : len - i;
            if (p->line_len + n >= sizeof(p->line))
                return fail(p, LW_ERR_TOO_LARGE, "line too long");
            if (in_head && (p->head_bytes += n + (nl != NULL)) > LW_HTTP_WIRE_HEAD_MAX)
                return fail(p, LW_ERR_TOO_LARGE, "header section too large");
            memcpy(p->line + p->line_len, data + i, n);
            p->line_len += n;
            i += n;
            if (nl == NULL)
                break;
            i++; /* the LF */
            if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
                p->line_len--;
            if (memchr(p->line, '\r', p->line_len) != NULL)
                return fail(p, LW_ERR_INVALID, "bare CR");
            p->line[p->line_len] = '\0';
            err = on_line(p);
            p->line_len = 0;
            if (err != LW_OK)
                return err;
        } else {
            size_t n = len - i;
            if (p->state != LW_WIRE_BODY_UNTIL_CLOSE && n > p->remaining)
                n = (size_t)p->remaining;
            err = append_body(p, data + i, n);
            if (err != LW_OK)
                return err;
            i += n;
            if (p->state == LW_WIRE_BODY_UNTIL_CLOSE)
                continue;
            p->remaining -= n;
            if (p->remaining == 0)
                p->state = p->state == LW_WIRE_CHUNK_DATA ? LW_WIRE_CHUNK_DATA_END : LW_WIRE_DONE;
        }
    }
    *used = i;
    *done = p->state == LW_WIRE_DONE;
    return LW_OK;
}

enum lw_err lw_http_wire_eof(struct lw_http_wire_parser *p)
{
    p->close = true;
    if (p->state == LW_WIRE_BODY_UNTIL_CLOSE) {
        p->state = LW_WIRE_DONE;
        return LW_OK;
    }
    if (p->state == LW_WIRE_DONE)
        return LW_OK;
    return fail(p, LW_ERR_INVALID,
                p->started ? "connection closed mid-response" : "connection closed");
}
