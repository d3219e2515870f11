/*
 * report_safe: which characters of a string read from the log the report's writers show. C0,
 * DEL, C1, the bidi controls, U+FFFE/U+FFFF and bytes that are not UTF-8 become '?' (one per
 * byte when not UTF-8); plain text and valid UTF-8 are left exactly as they are.
 */
#include "report_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct safe_case {
    const char *what;
    const char *in;
    const char *shown; /* what lw_report_safe_put writes */
    size_t columns;    /* the characters of the copy */
};

static const struct safe_case cases[] = {
    {"plain text untouched", "my-function v2 (prod)", "my-function v2 (prod)", 21},
    {"UTF-8 kept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 8},
    {"C0: an escape sequence", "a\x1b[2Jb", "a?[2Jb", 6},
    {"C0: tab and newline", "a\tb\nc", "a?b?c", 5},
    {"DEL", "a\x7f-", "a?-", 3},
    {"C1: CSI as U+009B", "a\xc2\x9b[31m", "a?[31m", 6},
    {"C1: first and last", "\xc2\x80\xc2\x9f", "??", 2},
    {"not C1: U+00A0 is shown", "a\xc2\xa0-", "a\xc2\xa0-", 3},
    {"bidi override U+202E", "abc\xe2\x80\xaexyz", "abc?xyz", 7},
    {"bidi isolate U+2066 and mark U+200F", "\xe2\x81\xa6x\xe2\x80\x8f", "?x?", 3},
    {"U+FFFE and U+FFFF", "\xef\xbf\xbe\xef\xbf\xbf", "??", 2},
    {"invalid bytes: one '?' each", "a\xff\xfez", "a??z", 4},
    {"a cut sequence: one '?' per byte", "a\xe2\x82", "a??", 3},
    {"overlong", "\xc0\xaf", "??", 2},
};

static char *put_to_string(void (*put)(FILE *, const char *), const char *s)
{
    char *data = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&data, &size);
    assert_non_null(f);
    put(f, s);
    assert_int_equal(fclose(f), 0);
    return data;
}

static void test_put(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = put_to_string(lw_report_safe_put, cases[i].in);
        if (strcmp(got, cases[i].shown) != 0)
            fail_msg("%s: \"%s\", expected \"%s\"", cases[i].what, got, cases[i].shown);
        free(got);
    }
}

/* The copy shows the same as put, and counts one column per character. */
static void test_copy(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char dst[64];
        size_t chars = lw_report_safe_copy(dst, sizeof(dst), cases[i].in, 100);
        if (strcmp(dst, cases[i].shown) != 0 || chars != cases[i].columns)
            fail_msg("%s: \"%s\" (%zu chars), expected \"%s\" (%zu)", cases[i].what, dst, chars,
                     cases[i].shown, cases[i].columns);
        assert_int_equal(lw_report_safe_columns(dst), cases[i].columns);
    }
}

/* The copy stops at max_chars characters, and at the capacity without cutting a character. */
static void test_copy_limits(void **state)
{
    (void)state;
    char dst[64];
    assert_int_equal(lw_report_safe_copy(dst, sizeof(dst), "abcdef", 3), 3);
    assert_string_equal(dst, "abc");
    /* "a" + é (2 bytes) + "b": a cap of 3 holds "a" and the NUL but not all of é */
    char small[3];
    assert_int_equal(lw_report_safe_copy(small, sizeof(small), "a\xc3\xa9-", 10), 1);
    assert_string_equal(small, "a");
    /* unsafe characters are one byte in the copy, whatever their length in the input */
    char four[4];
    assert_int_equal(
        lw_report_safe_copy(four, sizeof(four), "\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae", 10), 3);
    assert_string_equal(four, "???");
    /* a cap of 1 holds the NUL only */
    char one[1] = {'x'};
    assert_int_equal(lw_report_safe_copy(one, sizeof(one), "abc", 10), 0);
    assert_int_equal(one[0], '\0');
}

/* One character at a time: its length in the input and whether it may be shown. */
static void test_char(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n, len;
        bool safe;
    } chars[] = {
        {"a", 1, 1, true},
        {"\x1f", 1, 1, false},
        {" ", 1, 1, true},
        {"\x7f", 1, 1, false},
        {"\xc2\x85", 2, 2, false},
        {"\xc2\xa9", 2, 2, true},
        {"\xe2\x80\x8e", 3, 3, false},
        {"\xe2\x80\x8b", 3, 3, true}, /* LRM no, ZWSP yes */
        {"\xe2\x80\xaa", 3, 3, false},
        {"\xe2\x80\xaf", 3, 3, true}, /* U+202A..E only */
        {"\xd8\x9c", 2, 2, false},
        {"\xef\xbf\xbd", 3, 3, true}, /* U+061C; U+FFFD shown */
        {"\xf0\x9f\x98\x80", 4, 4, true},
        {"\xe2\x82", 2, 1, false},
        {"\x80", 1, 1, false},
    };
    for (size_t i = 0; i < sizeof(chars) / sizeof(chars[0]); i++) {
        bool safe = !chars[i].safe;
        size_t len = lw_report_safe_char(chars[i].s, chars[i].n, &safe);
        if (len != chars[i].len || safe != chars[i].safe)
            fail_msg("case %zu: length %zu %s, expected %zu %s", i, len, safe ? "safe" : "unsafe",
                     chars[i].len, chars[i].safe ? "safe" : "unsafe");
    }
}

/* XML: the five markup characters escaped, unsafe ones as '?', the rest as it is. */
static void test_xml_put(void **state)
{
    (void)state;
    char *got = put_to_string(lw_report_xml_put, "<a href=\"x\">Tom & 'Jerry'</a>");
    assert_string_equal(got, "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;");
    free(got);
    got = put_to_string(lw_report_xml_put, "caf\xc3\xa9\x1b\xff\xe2\x80\xae.");
    assert_string_equal(got, "caf\xc3\xa9???.");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put),         cmocka_unit_test(test_copy),
        cmocka_unit_test(test_copy_limits), cmocka_unit_test(test_char),
        cmocka_unit_test(test_xml_put),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
