/*
 * err: every error code has a name of its own, and no code (not even an out-of-range one)
 * gives NULL, since callers put the name straight into a log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/err.h>

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(lw_err_str(LW_OK), "ok");
    assert_string_equal(lw_err_str(LW_ERR_INVALID), "invalid input");
    assert_string_equal(lw_err_str(LW_ERR_NEED_MORE), "incomplete input");
    assert_string_equal(lw_err_str(LW_ERR_TIMEOUT), "timed out");
    assert_string_equal(lw_err_str(LW_ERR_UNSUPPORTED), "unsupported");
}

/* Every code from LW_OK to the last: non-NULL, not empty, not the fallback, and distinct. */
static void test_every_code_distinct(void **state)
{
    (void)state;
    const char *fallback = lw_err_str(LW_ERR_COUNT);
    assert_non_null(fallback);
    for (int a = 0; a < LW_ERR_COUNT; a++) {
        const char *name = lw_err_str((enum lw_err)a);
        if (name == NULL || name[0] == '\0' || strcmp(name, fallback) == 0)
            fail_msg("code %d has no name of its own", a);
        for (int b = a + 1; b < LW_ERR_COUNT; b++)
            if (strcmp(name, lw_err_str((enum lw_err)b)) == 0)
                fail_msg("codes %d and %d share the name \"%s\"", a, b, name);
    }
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_string_equal(lw_err_str(LW_ERR_COUNT), "unknown error");
    assert_string_equal(lw_err_str((enum lw_err)(LW_ERR_COUNT + 7)), "unknown error");
    assert_string_equal(lw_err_str((enum lw_err) - 1), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_every_code_distinct),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
