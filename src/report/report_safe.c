/*
 * `leakwatch report`: which characters of a string read from the log may reach the reader.
 *
 * Every string the report prints came from the log group, and the log group is written by the
 * function and by every extension, so a function name, a request id or a verdict reason may
 * be made to hurt: an escape sequence that clears the terminal, retitles the window or hides a
 * hyperlink (CSI, OSC, OSC 8), a bidirectional override that shows the text in another order
 * than it is stored, bytes that are not UTF-8 (which an XML reader refuses outright). The
 * writers show each such character as one '?' (each byte, when the bytes are not UTF-8) and
 * everything else as it is. Pure.
 */
#include "report_internal.h"

#include <leakwatch/text.h>

#include <string.h>

/*
 * The characters of the Unicode property Bidi_Control: the embeddings, overrides and isolates
 * (U+202A..U+202E, U+2066..U+2069) and the marks (U+061C, U+200E, U+200F). A terminal or a
 * browser that applies the bidirectional algorithm shows the text around them in another
 * order than it is stored.
 */
static bool is_bidi_control(uint32_t cp)
{
    return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

size_t lw_report_safe_char(const char *s, size_t n, bool *safe)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = lw_text_utf8_len(u, n);
    if (len == 0) {
        *safe = false;
        return 1;
    }
    uint32_t cp;
    if (len == 1)
        cp = u[0];
    else if (len == 2)
        cp = (uint32_t)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
    else if (len == 3)
        cp = (uint32_t)(u[0] & 0x0f) << 12 | (uint32_t)(u[1] & 0x3f) << 6 | (u[2] & 0x3f);
    else
        cp = 0x10000; /* beyond the Basic Multilingual Plane: nothing below applies */
    /* C0 and DEL, C1, the bidi controls, and the two noncharacters XML 1.0 does not allow */
    *safe = !(cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || is_bidi_control(cp) ||
              cp == 0xfffe || cp == 0xffff);
    return len;
}

size_t lw_report_safe_copy(char *dst, size_t cap, const char *src, size_t max_chars)
{
    size_t n = strlen(src), o = 0, chars = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < n && chars < max_chars;) {
        bool safe;
        size_t l = lw_report_safe_char(src + i, n - i, &safe);
        size_t k = safe ? l : 1;
        if (o + k >= cap)
            break; /* cut at a whole character */
        if (safe)
            memcpy(dst + o, src + i, l);
        else
            dst[o] = '?';
        o += k;
        i += l;
        chars++;
    }
    dst[o] = '\0';
    return chars;
}

void lw_report_safe_put(FILE *out, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        /* runs of safe characters in one write: most strings are safe throughout */
        size_t run = 0;
        bool safe = true;
        while (i + run < n) {
            size_t l = lw_report_safe_char(s + i + run, n - i - run, &safe);
            if (!safe)
                break;
            run += l;
        }
        if (run > 0)
            fwrite(s + i, 1, run, out);
        i += run;
        if (i < n) {
            fputc('?', out);
            i += lw_report_safe_char(s + i, n - i, &safe);
        }
    }
}

size_t lw_report_safe_columns(const char *clean)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)clean; *p; p++)
        chars += (*p & 0xc0) != 0x80; /* every byte but a continuation byte starts a character */
    return chars;
}

void lw_report_xml_put(FILE *out, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        bool safe;
        size_t l = lw_report_safe_char(s + i, n - i, &safe);
        switch (s[i]) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&apos;", out);
            break;
        default:
            if (safe)
                fwrite(s + i, 1, l, out);
            else
                fputc('?', out);
        }
        i += l;
    }
}
