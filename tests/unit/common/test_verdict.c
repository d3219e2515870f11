/*
 * verdict: the names every output writes (EMF, OTLP, the alert line, the state file) and the
 * report reads back, and the levels a CloudWatch alarm watches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/verdict.h>

static void test_names_and_levels(void **state)
{
    (void)state;
    static const struct {
        enum lw_verdict_kind kind;
        const char *name;
        int level;
    } cases[] = {
        {LW_VERDICT_LEARNING, "learning", 0},
        {LW_VERDICT_STEADY, "steady", 0},
        {LW_VERDICT_WARMING, "warming", 1},
        {LW_VERDICT_LEAK, "leak", 2},
        {LW_VERDICT_LEAK_CRITICAL, "leak-critical", 3},
    };
    assert_int_equal(sizeof(cases) / sizeof(cases[0]), LW_VERDICT_COUNT);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(lw_verdict_name(cases[i].kind), cases[i].name);
        assert_int_equal(lw_verdict_level(cases[i].kind), cases[i].level);
    }
    assert_string_equal(lw_verdict_name(LW_VERDICT_COUNT), "unknown");
    assert_int_equal(lw_verdict_level(LW_VERDICT_COUNT), 0);
}

/* A name read back from a line gives the kind that wrote it: the names are distinct, none is
 * the fallback, and the only names a reader meets are these. */
static void test_names_round_trip(void **state)
{
    (void)state;
    for (int k = 0; k < LW_VERDICT_COUNT; k++) {
        const char *name = lw_verdict_name((enum lw_verdict_kind)k);
        assert_string_not_equal(name, "unknown");
        int found = -1, matches = 0;
        for (int j = 0; j < LW_VERDICT_COUNT; j++)
            if (strcmp(name, lw_verdict_name((enum lw_verdict_kind)j)) == 0) {
                found = j;
                matches++;
            }
        assert_int_equal(matches, 1);
        assert_int_equal(found, k);
    }
}

/* The levels never fall as the verdict grows worse: an alarm on "level >= 2" fires for both
 * leak kinds and for nothing milder. */
static void test_levels_ordered(void **state)
{
    (void)state;
    for (int k = 1; k < LW_VERDICT_COUNT; k++)
        assert_true(lw_verdict_level((enum lw_verdict_kind)k) >=
                    lw_verdict_level((enum lw_verdict_kind)(k - 1)));
    assert_true(lw_verdict_level(LW_VERDICT_WARMING) < 2);
    assert_true(lw_verdict_level(LW_VERDICT_LEAK) >= 2);
    assert_true(lw_verdict_level(LW_VERDICT_LEAK_CRITICAL) > lw_verdict_level(LW_VERDICT_LEAK));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_levels),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_levels_ordered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
