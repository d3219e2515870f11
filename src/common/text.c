#include <leakwatch/text.h>

#include <stdint.h>
#include <stdio.h>
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

bool lw_text_json_escape(char *dst, size_t cap, size_t *len, const char *src, size_t n)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t o = *len;
    bool ok = true;
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *piece;
        size_t k;
        size_t step = 1;
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            piece = esc;
            k = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            piece = esc;
            k = 6;
        } else {
            step = lw_text_utf8_len(p + i, n - i);
            if (step == 0) {
                piece = "\\ufffd";
                k = 6;
                step = 1;
            } else {
                piece = src + i;
                k = step;
            }
        }
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
    char *p = buf + LW_TEXT_U64_DEC_BYTES - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
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
