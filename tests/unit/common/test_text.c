#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/text.h>

static void test_utf8_len(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
        size_t len;
    } cases[] = {
        {"a", 1, 1},
        {"\xc3\xa9", 2, 2},         /* é */
        {"\xe2\x82\xac", 3, 3},     /* € */
        {"\xf0\x9f\x98\x80", 4, 4}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
        {"\xc3", 1, 0},             /* cut */
        {"\xe2\x82", 2, 0},         /* cut */
        {"\xc0\xaf", 2, 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 3, 0},     /* overlong */
        {"\xed\xa0\x80", 3, 0},     /* a UTF-16 surrogate */
        {"\xf4\x90\x80\x80", 4, 0}, /* beyond U+10FFFF */
        {"\x80", 1, 0},             /* a continuation byte alone */
        {"\xff", 1, 0},
        {"\xc3\x28", 2, 0}, /* no continuation */
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu\n", i);
        assert_int_equal(lw_text_utf8_len((const unsigned char *)cases[i].bytes, cases[i].n),
                         cases[i].len);
    }
}

static void test_utf8_cut_and_clean(void **state)
{
    (void)state;
    static const char s[] = "ab\xe2\x82\xac"; /* "ab€": 5 bytes */
    assert_int_equal(lw_text_utf8_cut(s, 5, 10), 5);
    assert_int_equal(lw_text_utf8_cut(s, 5, 5), 5);
    assert_int_equal(lw_text_utf8_cut(s, 5, 4), 2); /* never half a euro */
    assert_int_equal(lw_text_utf8_cut(s, 5, 3), 2);
    assert_int_equal(lw_text_utf8_cut(s, 5, 2), 2);
    assert_int_equal(lw_text_utf8_cut(s, 5, 0), 0);

    char out[16];
    lw_text_utf8_clean(out, sizeof(out), "ok\xff\xc3\xa9!", '?');
    assert_string_equal(out, "ok?\xc3\xa9!");
    lw_text_utf8_clean(out, 4, "ab\xc3\xa9", '?'); /* room for "ab" and the NUL only */
    assert_string_equal(out, "ab");
    lw_text_utf8_clean(out, sizeof(out), NULL, '?');
    assert_string_equal(out, "");
}

static void test_utf8_valid(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
        bool valid;
    } cases[] = {
#define S(lit) lit, sizeof(lit) - 1
        {S(""), true},
        {S("plain ascii"), true},
        {S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), true},
        {S("a\0b"), true},               /* NUL is a character: the length decides */
        {S("caf\xc3"), false},           /* cut at the end */
        {S("\xc3\xa9x\xe2\x82"), false}, /* cut after valid ones */
        {S("a\xc0\xaf-"), false},        /* overlong in the middle */
        {S("\xed\xa0\x80"), false},      /* a surrogate */
        {S("\xf4\x90\x80\x80"), false},  /* beyond U+10FFFF */
        {S("\x80"), false},              /* a lone continuation byte */
        {S("ok\xff"), false},
#undef S
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (lw_text_utf8_valid(cases[i].bytes, cases[i].n) != cases[i].valid)
            fail_msg("case %zu: expected %s", i, cases[i].valid ? "valid" : "invalid");
    /* only the n bytes given are read: an invalid byte past them does not count */
    assert_true(lw_text_utf8_valid("ab\xff", 2));
}

static void test_copy(void **state)
{
    (void)state;
    char dst[6];
    memset(dst, 'x', sizeof(dst));
    lw_text_copy(dst, sizeof(dst), "abc");
    assert_string_equal(dst, "abc");
    memset(dst, 'x', sizeof(dst));
    lw_text_copy(dst, sizeof(dst), "abcdefgh"); /* truncated to cap - 1 bytes */
    assert_string_equal(dst, "abcde");
    lw_text_copy(dst, sizeof(dst), "abcde"); /* exactly fits */
    assert_string_equal(dst, "abcde");
    lw_text_copy(dst, sizeof(dst), NULL);
    assert_string_equal(dst, "");
    lw_text_copy(dst, sizeof(dst), "");
    assert_string_equal(dst, "");
    char one[1] = {'x'};
    lw_text_copy(one, sizeof(one), "abc"); /* room for the NUL only */
    assert_int_equal(one[0], '\0');
    /* bytes as they are: a cut may split a UTF-8 sequence (lw_text_utf8_clean keeps it whole) */
    char four[4];
    lw_text_copy(four, sizeof(four), "a\xe2\x82\xac");
    assert_memory_equal(four, "a\xe2\x82", 4);
}

static void test_json_escape(void **state)
{
    (void)state;
    char buf[64];
    size_t len = 0;
    static const char in[] = "a\"b\\c\n\x01\x7f\xff\xc3\xa9";
    assert_true(lw_text_json_escape(buf, sizeof(buf), &len, in, sizeof(in) - 1));
    assert_string_equal(buf, "a\\\"b\\\\c\\u000a\\u0001\\u007f\\ufffd\xc3\xa9");
    assert_int_equal(len, strlen(buf));

    /* appends after what is there */
    size_t before = len;
    assert_true(lw_text_json_escape(buf, sizeof(buf), &len, "x", 1));
    assert_int_equal(len, before + 1);
    assert_int_equal(buf[len - 1], 'x');

    /* too small: stops before the piece that does not fit, NUL-terminated, says so */
    char small[6];
    len = 0;
    assert_false(lw_text_json_escape(small, sizeof(small), &len, "ab\n", 3));
    assert_int_equal(len, 2);
    assert_string_equal(small, "ab");
    len = 0;
    assert_false(lw_text_json_escape(small, sizeof(small), &len, "abcd\xc3\xa9", 6));
    assert_string_equal(small, "abcd"); /* never half a character */
}

/* The escaper as it was, one copy per character: what the one that copies runs of ASCII whole
 * must write, byte for byte. */
static bool reference_json_escape(char *dst, size_t cap, size_t *len, const char *src, size_t n)
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

#define ESCAPE_MAX_IN 64

/* src[0..n) escaped after `start` bytes in use, into every cap from 0 to beyond what the whole of
 * it needs: the same result, the same *len and the same bytes in the whole buffer (what was not
 * to be written included) as the reference. */
static void assert_escapes_as_reference(const char *src, size_t n, size_t start)
{
    assert_true(n <= ESCAPE_MAX_IN);
    char want[ESCAPE_MAX_IN * 6 + 16], got[sizeof(want)];
    for (size_t cap = 0; cap <= start + 6 * n + 2; cap++) {
        memset(want, 0x5a, sizeof(want));
        memset(got, 0x5a, sizeof(got));
        size_t want_len = start, got_len = start;
        bool want_ok = reference_json_escape(want, cap, &want_len, src, n);
        bool got_ok = lw_text_json_escape(got, cap, &got_len, src, n);
        if (got_ok != want_ok || got_len != want_len || memcmp(got, want, sizeof(want)) != 0)
            print_message("n %zu start %zu cap %zu\n", n, start, cap);
        assert_int_equal(got_ok, want_ok);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, sizeof(want));
    }
}

static void assert_escapes_as_reference_any_start(const char *src, size_t n)
{
    assert_escapes_as_reference(src, n, 0);
    assert_escapes_as_reference(src, n, 3); /* appended; caps below 3 start out full */
}

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_json_escape_as_reference(void **state)
{
    (void)state;
    /* every byte alone, and between plain ASCII */
    for (int c = 0; c < 256; c++) {
        char in[3] = {'a', (char)c, 'z'};
        assert_escapes_as_reference_any_start(in + 1, 1);
        assert_escapes_as_reference_any_start(in, 3);
    }
    /* every byte at every place of a run long enough to be taken eight bytes at a time */
    for (int c = 0; c < 256; c++) {
        for (size_t at = 0; at < 17; at++) {
            char in[17];
            memset(in, 'x', sizeof(in));
            in[at] = (char)c;
            assert_escapes_as_reference_any_start(in, sizeof(in));
        }
    }
    /* UTF-8 valid and broken, between runs of ASCII */
    static const char *const pieces[] = {
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf",
        "\xc3",
        "\xe2\x82",
        "\xf0\x9f\x98",
        "\xc0\xaf",
        "\xe0\x80\xaf",
        "\xed\xa0\x80",
        "\xf4\x90\x80\x80",
        "\x80",
        "\xff",
        "\xc3\x28",
        "\"",
        "\\",
        "\x01",
        "\x7f",
        "my-function",
        "$LATEST",
    };
    size_t count = sizeof(pieces) / sizeof(pieces[0]);
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < count; j++) {
            char in[ESCAPE_MAX_IN];
            int n = snprintf(in, sizeof(in), "ab%scd%s", pieces[i], pieces[j]);
            assert_escapes_as_reference_any_start(in, (size_t)n);
        }
    }
    /* random: uniform bytes, and mostly plain ASCII with the odd special or high byte */
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int round = 0; round < 2000; round++) {
        char in[ESCAPE_MAX_IN];
        size_t n = (size_t)(next_random(&x) % (ESCAPE_MAX_IN + 1));
        bool uniform = round % 2 == 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = next_random(&x);
            in[i] = uniform || r % 8 == 0 ? (char)(r >> 8) : (char)(0x20 + (r >> 8) % 0x5f);
        }
        assert_escapes_as_reference_any_start(in, n);
    }
}

/* Every integer reads back as itself, the largest included, and ends at the buffer's end. */
static void test_u64_dec(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        const char *text;
    } cases[] = {{0, "0"},
                 {7, "7"},
                 {10, "10"},
                 {1767607200250ull, "1767607200250"},
                 {9007199254740993ull, "9007199254740993"},
                 {UINT64_MAX, "18446744073709551615"}};
    char b[LW_TEXT_U64_DEC_BYTES];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *p = lw_text_u64_dec(b, cases[i].v);
        assert_string_equal(p, cases[i].text);
        assert_ptr_equal(p + strlen(p), b + LW_TEXT_U64_DEC_BYTES - 1);
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char want[32];
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t v = x >> (x % 64);
        snprintf(want, sizeof(want), "%" PRIu64, v);
        assert_string_equal(lw_text_u64_dec(b, v), want);
    }
}

static void test_hex_value(void **state)
{
    (void)state;
    assert_int_equal(lw_text_hex_value('0'), 0);
    assert_int_equal(lw_text_hex_value('9'), 9);
    assert_int_equal(lw_text_hex_value('a'), 10);
    assert_int_equal(lw_text_hex_value('F'), 15);
    assert_int_equal(lw_text_hex_value('g'), -1);
    assert_int_equal(lw_text_hex_value('/'), -1);
    assert_int_equal(lw_text_hex_value(0xff), -1);
}

static void test_parse_hex_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_true(lw_text_parse_hex_u64("0", 1, &v));
    assert_int_equal(v, 0);
    assert_true(lw_text_parse_hex_u64("c800000", 7, &v));
    assert_int_equal(v, 0xc800000);
    assert_true(lw_text_parse_hex_u64("FFFFFFFFFFFFFFFF", 16, &v));
    assert_true(v == UINT64_MAX);
    /* only s[0..n) is read */
    assert_true(lw_text_parse_hex_u64("1fZZ", 2, &v));
    assert_int_equal(v, 0x1f);
    v = 7;
    assert_false(lw_text_parse_hex_u64("", 0, &v));
    assert_false(lw_text_parse_hex_u64("10000000000000000", 17, &v));
    assert_false(lw_text_parse_hex_u64("0x10", 4, &v));
    assert_false(lw_text_parse_hex_u64("-1", 2, &v));
    assert_false(lw_text_parse_hex_u64(" 1", 2, &v));
    assert_int_equal(v, 7); /* untouched on failure */
}

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_true(lw_text_parse_u64("18446744073709551615", 20, &v));
    assert_true(v == UINT64_MAX);
    assert_true(lw_text_parse_u64("042", 3, &v));
    assert_int_equal(v, 42);
    v = 7;
    assert_false(lw_text_parse_u64("18446744073709551616", 20, &v));
    assert_false(lw_text_parse_u64("", 0, &v));
    assert_false(lw_text_parse_u64("+1", 2, &v));
    assert_false(lw_text_parse_u64("1a", 2, &v));
    assert_int_equal(v, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_len),      cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_copy),          cmocka_unit_test(test_utf8_cut_and_clean),
        cmocka_unit_test(test_json_escape),   cmocka_unit_test(test_json_escape_as_reference),
        cmocka_unit_test(test_hex_value),     cmocka_unit_test(test_u64_dec),
        cmocka_unit_test(test_parse_hex_u64), cmocka_unit_test(test_parse_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
