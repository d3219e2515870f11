#include <leakwatch/text.h>

#include <stdint.h>
#include <string.h>

size_t lw_text_utf8_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* no overlong forms */
        else if (c == 0xed)
            hi = 0x9f; /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* nothing beyond U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

bool lw_text_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = lw_text_utf8_len(u + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

size_t lw_text_utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t i = max;
    /* back over continuation bytes to the start of the character that does not fit */
    while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
        i--;
    return i;
}

void lw_text_utf8_clean(char *dst, size_t cap, const char *src, char replacement)
{
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    size_t n = strlen((const char *)s);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = lw_text_utf8_len(s + i, n - i);
        if (l == 0) {
            if (o + 1 >= cap)
                break;
            dst[o++] = replacement;
            i++;
            continue;
        }
        if (o + l >= cap)
            break;
        memcpy(dst + o, s + i, l);
        o += l;
        i += l;
    }
    dst[o] = '\0';
}

void lw_text_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Printable ASCII that stands for itself inside a JSON string: most of any name. */
static bool json_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

#define BYTES_ONES 0x0101010101010101ull
#define BYTES_HIGHS 0x8080808080808080ull

/*
 * Whether all eight bytes of w are plain. Each test sets the high bit of a byte that is not
 * (below 0x20, above 0x7e, '"' or '\\'); a borrow or carry only spills out of a byte that is not
 * plain either, so a word that tests clean is all plain, and one that does not is not.
 */
static bool json_plain8(uint64_t w)
{
    uint64_t quote = w ^ (BYTES_ONES * '"');
    uint64_t backslash = w ^ (BYTES_ONES * '\\');
    uint64_t below = (w - BYTES_ONES * 0x20) & ~w;
    uint64_t above = (w + BYTES_ONES) | w;
    uint64_t is_quote = (quote - BYTES_ONES) & ~quote;
    uint64_t is_backslash = (backslash - BYTES_ONES) & ~backslash;
    return ((below | above | is_quote | is_backslash) & BYTES_HIGHS) == 0;
}

/* How many bytes of p[0..n) from the start are plain: eight at a time while they all are. */
static size_t json_plain_run(const unsigned char *p, size_t n)
{
    size_t run = 0;
    for (;;) {
        uint64_t w;
        if (n - run < sizeof(w))
            break;
        memcpy(&w, p + run, sizeof(w));
        if (!json_plain8(w))
            break;
        run += sizeof(w);
    }
    while (run < n && json_plain(p[run]))
        run++;
    return run;
}

/*
 * What stands for the byte or character at p[0..n) that is not plain: an escape (written into
 * esc) or the valid UTF-8 sequence itself. Returns its bytes in *piece; *step is how many bytes
 * of p it stands for.
 */
static size_t json_piece(const unsigned char *p, size_t n, char esc[6], const char **piece,
                         size_t *step)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = p[0];
    *step = 1;
    *piece = esc;
    if (c == '"' || c == '\\') {
        esc[0] = '\\';
        esc[1] = (char)c;
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        /* \u00XX: what "\\u%04x" printed, without a formatter per character */
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 0xf];
        return 6;
    }
    size_t len = lw_text_utf8_len(p, n);
    if (len == 0) {
        *piece = "\\ufffd";
        return 6;
    }
    *piece = (const char *)p;
    *step = len;
    return len;
}

bool lw_text_json_escape(char *dst, size_t cap, size_t *len, const char *src, size_t n)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t o = *len;
    bool ok = true;
    for (size_t i = 0; i < n;) {
        /* A run of plain ASCII goes in one copy, as much of it as fits with the NUL: what one
         * copy per character wrote before it stopped. */
        size_t run = json_plain_run(p + i, n - i);
        if (run > 0) {
            size_t room = o + 1 < cap ? cap - 1 - o : 0;
            size_t m = run < room ? run : room;
            if (m > 0)
                memcpy(dst + o, src + i, m);
            o += m;
            i += m;
            if (m < run) {
                ok = false;
                break;
            }
            continue;
        }
        char esc[6];
        const char *piece;
        size_t step;
        size_t k = json_piece(p + i, n - i, esc, &piece, &step);
        if (o + k >= cap) {
            ok = false;
            break;
        }
        memcpy(dst + o, piece, k);
        o += k;
        i += step;
    }
    if (cap > 0)
        dst[o < cap ? o : cap - 1] = '\0';
    *len = o;
    return ok;
}

char *lw_text_u64_dec(char buf[LW_TEXT_U64_DEC_BYTES], uint64_t v)
{
    /* two digits a step: half the steps for the long timestamps and byte counts */
    static const char pairs[] = "00010203040506070809"
                                "10111213141516171819"
                                "20212223242526272829"
                                "30313233343536373839"
                                "40414243444546474849"
                                "50515253545556575859"
                                "60616263646566676869"
                                "70717273747576777879"
                                "80818283848586878889"
                                "90919293949596979899";
    char *p = buf + LW_TEXT_U64_DEC_BYTES - 1;
    *p = '\0';
    while (v >= 100) {
        size_t r = (size_t)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, pairs + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

int lw_text_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool lw_text_parse_hex_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 16)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = lw_text_hex_value((unsigned char)s[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

bool lw_text_parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}
