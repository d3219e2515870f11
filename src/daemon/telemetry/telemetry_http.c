#include <leakwatch/telemetry_http.h>
#include <leakwatch/text.h>

#include <string.h>
#include <strings.h>

/*
 * The parser re-reads the head from its first byte on every call. That keeps it stateless (the
 * caller's buffer is the only state) and costs at most LW_TELEMETRY_HTTP_HEAD_MAX_BYTES per
 * call; the listener calls it once per recv(), so the total is bounded by the head cap times the
 * number of reads, which the head cap also bounds.
 *
 * Lines end in CRLF; a bare LF is tolerated (RFC 9112 §2.2), a bare CR is not.
 */

void lw_telemetry_http_limits_init(struct lw_telemetry_http_limits *limits)
{
    limits->path = "/";
    limits->max_head_bytes = LW_TELEMETRY_HTTP_HEAD_MAX_BYTES;
    limits->max_headers = LW_TELEMETRY_HTTP_MAX_HEADERS;
    limits->max_body_bytes = LW_TELEMETRY_HTTP_BODY_DEFAULT_BYTES;
}

const char *lw_telemetry_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value characters: VCHAR, SP, HTAB and obs-text. */
static bool is_value_char(unsigned char c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static enum lw_err reject(struct lw_telemetry_http_request *req, int status)
{
    req->status = status;
    return (status == 413 || status == 431) ? LW_ERR_TOO_LARGE : LW_ERR_INVALID;
}

/*
 * Find the line starting at pos. On LW_OK, the line is buf[pos..*line_end) without its line
 * ending and *next is the start of the following line.
 */
static enum lw_err next_line(const char *buf, size_t len, size_t pos, size_t *line_end,
                             size_t *next)
{
    const char *lf = memchr(buf + pos, '\n', len - pos);
    if (lf == NULL)
        return LW_ERR_NEED_MORE;
    size_t end = (size_t)(lf - buf);
    *next = end + 1;
    if (end > pos && buf[end - 1] == '\r')
        end--;
    *line_end = end;
    return LW_OK;
}

static bool token_equals(const char *s, size_t n, const char *word)
{
    size_t wn = strlen(word);
    return n == wn && strncasecmp(s, word, n) == 0;
}

static enum lw_telemetry_http_method method_of(const char *s, size_t n)
{
    /* Methods are case-sensitive (RFC 9110 §9.1). */
    if (n == 4 && memcmp(s, "POST", 4) == 0)
        return LW_TELEMETRY_HTTP_POST;
    if (n == 3 && memcmp(s, "PUT", 3) == 0)
        return LW_TELEMETRY_HTTP_PUT;
    if (n == 3 && memcmp(s, "GET", 3) == 0)
        return LW_TELEMETRY_HTTP_GET;
    if (n == 4 && memcmp(s, "HEAD", 4) == 0)
        return LW_TELEMETRY_HTTP_HEAD;
    return LW_TELEMETRY_HTTP_OTHER;
}

/*
 * Whether the request's path is the configured one. The path is a secret (the subscription's
 * unguessable part): every byte of it is compared, whatever differs first, so that how long a
 * refusal takes says nothing about how much of a guess was right. Only its length shows, and
 * that is no secret.
 */
static bool same_path(const char *got, size_t got_len, const char *want)
{
    size_t want_len = strlen(want);
    unsigned diff = got_len != want_len;
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < got_len ? got[i] : 0);
    return diff == 0;
}

/* "METHOD SP request-target SP HTTP/1.x"; checks path and method at once. */
static enum lw_err parse_request_line(const char *s, size_t n,
                                      const struct lw_telemetry_http_limits *limits,
                                      struct lw_telemetry_http_request *req)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= n || s[i] != ' ')
        return reject(req, 400);
    req->method = method_of(s, i);
    size_t t = ++i;
    while (i < n && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f)
        i++;
    if (i == t || i >= n || s[i] != ' ')
        return reject(req, 400);
    req->path = s + t;
    req->path_len = i - t;
    i++;
    const char *v = s + i;
    size_t vn = n - i;
    if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return reject(req, 400);
    if (v[5] != '1')
        return reject(req, 505);
    req->minor_version = v[7] - '0';
    if (req->minor_version > 1)
        return reject(req, 505);
    req->keep_alive = req->minor_version == 1;

    const char *q = memchr(req->path, '?', req->path_len);
    size_t plen = q ? (size_t)(q - req->path) : req->path_len;
    if (!same_path(req->path, plen, limits->path))
        return reject(req, 404);
    if (req->method != LW_TELEMETRY_HTTP_POST && req->method != LW_TELEMETRY_HTTP_PUT)
        return reject(req, 405);
    return LW_OK;
}

static enum lw_err parse_content_length(const char *v, size_t n,
                                        struct lw_telemetry_http_request *req)
{
    if (n == 0 || n > 19)
        return reject(req, n == 0 ? 400 : 413);
    uint64_t value = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return reject(req, 400);
        value = value * 10 + (uint64_t)(v[i] - '0');
    }
    /* A repeated Content-Length must repeat the same value (RFC 9112 §6.3). */
    if (req->have_content_length && req->content_length != value)
        return reject(req, 400);
    req->have_content_length = true;
    req->content_length = value;
    return LW_OK;
}

/* Connection is a comma-separated token list. */
static void parse_connection(const char *v, size_t n, struct lw_telemetry_http_request *req)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_ows((unsigned char)v[i]) || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',' && !is_ows((unsigned char)v[i]))
            i++;
        if (token_equals(v + start, i - start, "close"))
            req->keep_alive = false;
        else if (token_equals(v + start, i - start, "keep-alive"))
            req->keep_alive = true;
    }
}

struct head_flags {
    bool other_coding;
    bool bad_expect;
};

static enum lw_err parse_header(const char *s, size_t n, struct lw_telemetry_http_request *req,
                                struct head_flags *flags)
{
    size_t i = 0;
    /* A line starting with whitespace is obsolete line folding: rejected (RFC 9112 §5.2). */
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= n || s[i] != ':')
        return reject(req, 400);
    const char *name = s;
    size_t name_len = i;
    i++;
    for (size_t k = i; k < n; k++) {
        if (!is_value_char((unsigned char)s[k]))
            return reject(req, 400);
    }
    while (i < n && is_ows((unsigned char)s[i]))
        i++;
    size_t end = n;
    while (end > i && is_ows((unsigned char)s[end - 1]))
        end--;
    const char *v = s + i;
    size_t vn = end - i;

    if (token_equals(name, name_len, "content-length"))
        return parse_content_length(v, vn, req);
    if (token_equals(name, name_len, "transfer-encoding")) {
        if (token_equals(v, vn, "chunked") && !req->chunked)
            req->chunked = true;
        else
            flags->other_coding = true; /* another coding, a list, or chunked twice */
    } else if (token_equals(name, name_len, "connection")) {
        parse_connection(v, vn, req);
    } else if (token_equals(name, name_len, "expect")) {
        if (token_equals(v, vn, "100-continue"))
            req->expect_continue = true;
        else
            flags->bad_expect = true;
    }
    return LW_OK;
}

enum lw_err lw_telemetry_http_parse_head(const char *buf, size_t len,
                                         const struct lw_telemetry_http_limits *limits,
                                         struct lw_telemetry_http_request *req)
{
    memset(req, 0, sizeof(*req));
    size_t max_head = limits->max_head_bytes;
    if (max_head == 0 || max_head > LW_TELEMETRY_HTTP_HEAD_MAX_BYTES)
        max_head = LW_TELEMETRY_HTTP_HEAD_MAX_BYTES;
    size_t max_headers = limits->max_headers;
    if (max_headers == 0 || max_headers > LW_TELEMETRY_HTTP_MAX_HEADERS)
        max_headers = LW_TELEMETRY_HTTP_MAX_HEADERS;
    size_t max_body = limits->max_body_bytes;
    if (max_body == 0 || max_body > LW_TELEMETRY_HTTP_BODY_CAP_BYTES)
        max_body = LW_TELEMETRY_HTTP_BODY_CAP_BYTES;

    /* Only the first max_head bytes can belong to an acceptable head. */
    size_t avail = len < max_head ? len : max_head;
    size_t pos = 0, line_end, next;
    enum lw_err err;

    /* A client may send empty lines before the request line (RFC 9112 §2.2): skip them. */
    for (;;) {
        if ((err = next_line(buf, avail, pos, &line_end, &next)) != LW_OK)
            goto incomplete;
        if (line_end != pos)
            break;
        pos = next;
    }
    if (memchr(buf + pos, '\r', line_end - pos) != NULL)
        return reject(req, 400);
    if ((err = parse_request_line(buf + pos, line_end - pos, limits, req)) != LW_OK)
        return err;
    pos = next;

    struct head_flags flags = {0};
    size_t n_headers = 0;
    for (;;) {
        if ((err = next_line(buf, avail, pos, &line_end, &next)) != LW_OK)
            goto incomplete;
        if (line_end == pos)
            break;
        if (memchr(buf + pos, '\r', line_end - pos) != NULL)
            return reject(req, 400);
        if (++n_headers > max_headers)
            return reject(req, 431);
        if ((err = parse_header(buf + pos, line_end - pos, req, &flags)) != LW_OK)
            return err;
        pos = next;
    }
    req->head_bytes = next;

    /* Both framings at once is how requests are smuggled: refuse (RFC 9112 §6.1). */
    if (req->chunked && req->have_content_length)
        return reject(req, 400);
    if (flags.other_coding)
        return reject(req, 501);
    if (!req->chunked && !req->have_content_length)
        return reject(req, 411);
    if (req->have_content_length && req->content_length > max_body)
        return reject(req, 413);
    if (flags.bad_expect)
        return reject(req, 417);
    return LW_OK;

incomplete:
    if (len >= max_head)
        return reject(req, 431);
    return LW_ERR_NEED_MORE;
}

/* --- chunked transfer coding (RFC 9112 §7.1) ----------------------------------------------------
 */

enum {
    CH_SIZE_FIRST = 0, /* expecting the first hex digit of a chunk size */
    CH_SIZE,           /* more hex digits, or the end of the size */
    CH_EXT,            /* chunk extension: skipped up to the line end */
    CH_SIZE_LF,        /* CR seen after the size line */
    CH_DATA,
    CH_DATA_END,    /* CRLF after the chunk data */
    CH_DATA_LF,     /* CR seen after the chunk data */
    CH_TRAILER,     /* start of a trailer line, or the final empty line */
    CH_TRAILER_MID, /* inside a trailer field line */
    CH_TRAILER_LF,  /* CR seen inside/after a trailer line */
    CH_END_LF,      /* CR of the final empty line seen */
    CH_DONE,
};

#define CH_LINE_MAX_BYTES 1024 /* a size line with its extensions; one trailer line */
#define CH_TRAILERS_MAX 32

void lw_telemetry_http_chunked_init(struct lw_telemetry_http_chunked *d, size_t max_body_bytes)
{
    memset(d, 0, sizeof(*d));
    d->state = CH_SIZE_FIRST;
    if (max_body_bytes == 0 || max_body_bytes > LW_TELEMETRY_HTTP_BODY_CAP_BYTES)
        max_body_bytes = LW_TELEMETRY_HTTP_BODY_CAP_BYTES;
    d->max_body_bytes = max_body_bytes;
}

/* The size line is complete: go to its data, or to the trailers after the last chunk. */
static void size_line_done(struct lw_telemetry_http_chunked *d)
{
    d->line_bytes = 0;
    d->state = d->chunk_left == 0 ? CH_TRAILER : CH_DATA;
}

enum lw_err lw_telemetry_http_chunked_decode(struct lw_telemetry_http_chunked *d, char *buf,
                                             size_t len, size_t *out_len, size_t *consumed)
{
    size_t in = 0, out = 0;
    enum lw_err err = LW_ERR_NEED_MORE;

    while (in < len && d->state != CH_DONE) {
        if (d->state == CH_DATA) {
            size_t n = len - in;
            if ((uint64_t)n > d->chunk_left)
                n = (size_t)d->chunk_left;
            memmove(buf + out, buf + in, n);
            out += n;
            in += n;
            d->chunk_left -= n;
            d->total_bytes += n;
            if (d->chunk_left == 0)
                d->state = CH_DATA_END;
            continue;
        }
        unsigned char c = (unsigned char)buf[in++];
        if (++d->line_bytes > CH_LINE_MAX_BYTES) {
            err = LW_ERR_TOO_LARGE;
            goto out;
        }
        switch (d->state) {
        case CH_SIZE_FIRST:
        case CH_SIZE: {
            int h = lw_text_hex_value(c);
            if (h >= 0) {
                d->chunk_left = d->chunk_left * 16 + (uint64_t)h;
                /* Checked per digit, so the value never overflows. */
                if (d->chunk_left > d->max_body_bytes - d->total_bytes) {
                    err = LW_ERR_TOO_LARGE;
                    goto out;
                }
                d->state = CH_SIZE;
            } else if (d->state == CH_SIZE_FIRST) {
                err = LW_ERR_INVALID;
                goto out;
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->state = CH_EXT;
            } else if (c == '\r') {
                d->state = CH_SIZE_LF;
            } else if (c == '\n') {
                size_line_done(d);
            } else {
                err = LW_ERR_INVALID;
                goto out;
            }
            break;
        }
        case CH_EXT:
            if (c == '\r')
                d->state = CH_SIZE_LF;
            else if (c == '\n')
                size_line_done(d);
            else if (c < 0x20 && c != '\t') {
                err = LW_ERR_INVALID;
                goto out;
            }
            break;
        case CH_SIZE_LF:
            if (c != '\n') {
                err = LW_ERR_INVALID;
                goto out;
            }
            size_line_done(d);
            break;
        case CH_DATA_END:
            if (c == '\r')
                d->state = CH_DATA_LF;
            else if (c == '\n')
                d->state = CH_SIZE_FIRST;
            else {
                err = LW_ERR_INVALID;
                goto out;
            }
            d->line_bytes = 0;
            break;
        case CH_DATA_LF:
            if (c != '\n') {
                err = LW_ERR_INVALID;
                goto out;
            }
            d->state = CH_SIZE_FIRST;
            d->line_bytes = 0;
            break;
        case CH_TRAILER:
            if (c == '\r') {
                d->state = CH_END_LF;
            } else if (c == '\n') {
                d->state = CH_DONE;
            } else if (c < 0x21) {
                err = LW_ERR_INVALID;
                goto out;
            } else {
                /*
                 * Trailer fields carry nothing leakwatch needs: skipped, their number bounded
                 * (chunk_left is free after the last chunk and counts them).
                 */
                if (d->chunk_left++ >= CH_TRAILERS_MAX) {
                    err = LW_ERR_TOO_LARGE;
                    goto out;
                }
                d->state = CH_TRAILER_MID;
            }
            break;
        case CH_TRAILER_MID:
            if (c == '\r')
                d->state = CH_TRAILER_LF;
            else if (c == '\n') {
                d->state = CH_TRAILER;
                d->line_bytes = 0;
            } else if (c < 0x20 && c != '\t') {
                err = LW_ERR_INVALID;
                goto out;
            }
            break;
        case CH_TRAILER_LF:
            if (c != '\n') {
                err = LW_ERR_INVALID;
                goto out;
            }
            d->state = CH_TRAILER;
            d->line_bytes = 0;
            break;
        case CH_END_LF:
            if (c != '\n') {
                err = LW_ERR_INVALID;
                goto out;
            }
            d->state = CH_DONE;
            break;
        default:
            err = LW_ERR_INVALID;
            goto out;
        }
    }
    if (d->state == CH_DONE)
        err = LW_OK;
out:
    *out_len = out;
    *consumed = in;
    return err;
}
