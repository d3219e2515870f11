/*
 * log: level names and parsing (LEAKWATCH_LOG_LEVEL), the threshold, and the lines themselves,
 * read back from stderr pointed at a temporary file (capture_stderr.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <leakwatch/log.h>

#include "capture_stderr.h"

static int restore_level(void **state)
{
    (void)state;
    lw_log_set_level(LW_LOG_INFO);
    return 0;
}

/* ---- names and parsing ----------------------------------------------------------------------- */

static void test_level_names(void **state)
{
    (void)state;
    static const char *const want[] = {"debug", "info", "warn", "error", "off"};
    for (int i = LW_LOG_DEBUG; i <= LW_LOG_OFF; i++) {
        assert_string_equal(lw_log_level_name((enum lw_log_level)i), want[i]);
        /* each name parses back to its level */
        enum lw_log_level got = LW_LOG_OFF;
        assert_int_equal(lw_log_parse_level(want[i], &got), 0);
        assert_int_equal(got, i);
    }
    assert_string_equal(lw_log_level_name((enum lw_log_level)(LW_LOG_OFF + 1)), "unknown");
}

static void test_parse_level(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int ok;
        enum lw_log_level level;
    } cases[] = {
        {"DEBUG", 0, LW_LOG_DEBUG},  {"Info", 0, LW_LOG_INFO},      {"warning", 0, LW_LOG_WARN},
        {"WARNING", 0, LW_LOG_WARN}, {"ERROR", 0, LW_LOG_ERROR},    {"Off", 0, LW_LOG_OFF},
        {"", -1, LW_LOG_ERROR},      {"verbose", -1, LW_LOG_ERROR}, {"inf", -1, LW_LOG_ERROR},
        {"info ", -1, LW_LOG_ERROR}, {"trace", -1, LW_LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum lw_log_level got = LW_LOG_ERROR; /* left as it is when the name is unknown */
        int ok = lw_log_parse_level(cases[i].name, &got);
        if (ok != cases[i].ok || got != cases[i].level)
            fail_msg("\"%s\": %d, level %d", cases[i].name, ok, (int)got);
    }
}

/* ---- the lines ---------------------------------------------------------------------------------
 */

/* A line carries the tag of its level, the message and one newline, in one piece. */
static void test_line_carries_its_level(void **state)
{
    (void)state;
    static const struct {
        enum lw_log_level level;
        const char *want;
    } cases[] = {
        {LW_LOG_DEBUG, "[leakwatch] DEBUG n=1 x\n"},
        {LW_LOG_INFO, "[leakwatch] INFO n=1 x\n"},
        {LW_LOG_WARN, "[leakwatch] WARN n=1 x\n"},
        {LW_LOG_ERROR, "[leakwatch] ERROR n=1 x\n"},
    };
    lw_log_set_level(LW_LOG_DEBUG);
    assert_int_equal(lw_log_get_level(), LW_LOG_DEBUG);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct capture c;
        size_t len;
        capture_start(&c);
        lw_log(cases[i].level, "n=%d %s", 1, "x");
        char *got = capture_end(&c, &len);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

/* Below the threshold nothing is written; LW_LOG_OFF silences everything, itself included. */
static void test_threshold(void **state)
{
    (void)state;
    struct capture c;
    size_t len;
    lw_log_set_level(LW_LOG_WARN);
    assert_int_equal(lw_log_get_level(), LW_LOG_WARN);
    capture_start(&c);
    lw_debug("hidden %d", 1);
    lw_info("hidden %d", 2);
    lw_warn("shown %d", 3);
    lw_error("shown %d", 4);
    char *got = capture_end(&c, &len);
    assert_string_equal(got, "[leakwatch] WARN shown 3\n[leakwatch] ERROR shown 4\n");
    free(got);

    lw_log_set_level(LW_LOG_OFF);
    capture_start(&c);
    lw_error("hidden");
    lw_log(LW_LOG_OFF, "hidden");
    got = capture_end(&c, &len);
    assert_int_equal(len, 0);
    free(got);
}

/* A message longer than the 1 KiB line is cut, and the line still ends with its newline. */
static void test_long_line_truncated(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct capture c;
    size_t len;
    lw_log_set_level(LW_LOG_INFO);
    capture_start(&c);
    lw_info("%s", big);
    char *got = capture_end(&c, &len);
    assert_int_equal(len, 1023);
    assert_memory_equal(got, "[leakwatch] INFO aaa", 20);
    assert_int_equal(got[len - 1], '\n');
    assert_null(memchr(got, '\n', len - 1)); /* one line */
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_parse_level),
        cmocka_unit_test_teardown(test_line_carries_its_level, restore_level),
        cmocka_unit_test_teardown(test_threshold, restore_level),
        cmocka_unit_test_teardown(test_long_line_truncated, restore_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
