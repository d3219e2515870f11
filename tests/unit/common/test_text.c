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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_len),    cmocka_unit_test(test_utf8_cut_and_clean),
        cmocka_unit_test(test_json_escape), cmocka_unit_test(test_hex_value),
        cmocka_unit_test(test_u64_dec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
