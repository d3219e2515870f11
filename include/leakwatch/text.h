/*
 * Text primitives every output needs: UTF-8 validation and cutting, bounded copies, JSON string
 * escaping, decimal integers (written and read), hex digits. Pure; nothing here allocates. Names
 * and strings leakwatch writes come from outside (process names, function names, log lines the
 * function wrote), so every writer goes through these: what is not valid UTF-8 never reaches a JSON
 * document or a terminal.
 */
#ifndef LEAKWATCH_TEXT_H
#define LEAKWATCH_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one (overlong,
 * surrogate, beyond U+10FFFF, truncated, or n == 0). */
size_t lw_text_utf8_len(const unsigned char *s, size_t n);

/* Whether the whole of s[0..n) is valid UTF-8 (true for n == 0). */
bool lw_text_utf8_valid(const char *s, size_t n);

/* The longest prefix of s[0..n) that fits in max bytes without cutting a UTF-8 sequence. */
size_t lw_text_utf8_cut(const char *s, size_t n, size_t max);

/*
 * Copies the C string src (NULL is "") into dst (cap > 0) as valid UTF-8, NUL-terminated:
 * each byte that does not begin a valid sequence becomes `replacement` (an ASCII byte), and
 * the copy is truncated at a whole character.
 */
void lw_text_utf8_clean(char *dst, size_t cap, const char *src, char replacement);

/*
 * Copies the C string src (NULL is "") into dst (cap > 0), NUL-terminated, keeping at most
 * cap - 1 bytes. The bytes are copied as they are, so a cut may split a UTF-8 sequence: for
 * text that must stay valid, lw_text_utf8_clean().
 */
void lw_text_copy(char *dst, size_t cap, const char *src);

/*
 * Appends src[0..n) to dst as the inside of a JSON string (no quotes): '"' and '\\' escaped,
 * control characters and DEL as \u00XX, bytes that are not UTF-8 as \ufffd. dst holds cap
 * bytes and *len of them are in use; the result is NUL-terminated. Returns false when it did
 * not fit: *len then stops before the escape or character that did not fit.
 */
bool lw_text_json_escape(char *dst, size_t cap, size_t *len, const char *src, size_t n);

/*
 * v in decimal, written backwards from the end of buf[0..LW_TEXT_U64_DEC_BYTES) and
 * NUL-terminated; returns where it starts. The encoders write dozens of integers per line on
 * the function's CPU share, and snprintf for each was a tenth of a line's cost.
 */
#define LW_TEXT_U64_DEC_BYTES 24
char *lw_text_u64_dec(char buf[LW_TEXT_U64_DEC_BYTES], uint64_t v);

/* The value of a hex digit, or -1. */
int lw_text_hex_value(int c);

/* The whole hexadecimal number s[0..n): 1 to 16 hex digits and nothing else (no 0x, no sign,
 * no space); false otherwise. */
bool lw_text_parse_hex_u64(const char *s, size_t n, uint64_t *out);

/* The whole unsigned decimal number s[0..n): digits only (no sign, no space), at least one;
 * false when it is not one or does not fit in 64 bits. */
bool lw_text_parse_u64(const char *s, size_t n, uint64_t *out);

#endif
