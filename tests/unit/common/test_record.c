/*
 * record: the record's vocabulary every output shares. Process role, peak method and probe
 * names, the roles that count as the function, and the gap flags' names in EMF's "Incomplete"
 * list, which the report reads back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/record.h>

static void test_role_names(void **state)
{
    (void)state;
    assert_string_equal(lw_proc_role_name(LW_ROLE_RUNTIME), "runtime");
    assert_string_equal(lw_proc_role_name(LW_ROLE_RUNTIME_CHILD), "runtime-child");
    assert_string_equal(lw_proc_role_name(LW_ROLE_EXTENSION), "extension");
    assert_string_equal(lw_proc_role_name(LW_ROLE_SELF), "self");
    assert_string_equal(lw_proc_role_name(LW_ROLE_UNKNOWN), "unknown");
    assert_string_equal(lw_proc_role_name(LW_ROLE_COUNT), "unknown");
    /* the named roles are told apart in every output */
    for (int a = 0; a < LW_ROLE_UNKNOWN; a++)
        for (int b = a + 1; b <= LW_ROLE_UNKNOWN; b++)
            assert_string_not_equal(lw_proc_role_name((enum lw_proc_role)a),
                                    lw_proc_role_name((enum lw_proc_role)b));
}

static void test_role_is_function(void **state)
{
    (void)state;
    assert_true(lw_record_role_is_function(LW_ROLE_RUNTIME));
    assert_true(lw_record_role_is_function(LW_ROLE_RUNTIME_CHILD));
    assert_false(lw_record_role_is_function(LW_ROLE_EXTENSION));
    assert_false(lw_record_role_is_function(LW_ROLE_SELF));
    assert_false(lw_record_role_is_function(LW_ROLE_UNKNOWN));
}

static void test_peak_method_names(void **state)
{
    (void)state;
    assert_string_equal(lw_peak_method_name(LW_PEAK_NONE), "none");
    assert_string_equal(lw_peak_method_name(LW_PEAK_HWM), "hwm");
    assert_string_equal(lw_peak_method_name(LW_PEAK_SAMPLED), "sampled");
}

static void test_probe_kind_names(void **state)
{
    (void)state;
    assert_string_equal(lw_probe_kind_name(LW_PROBE_NONE), "none");
    assert_string_equal(lw_probe_kind_name(LW_PROBE_OFF), "off");
    assert_string_equal(lw_probe_kind_name(LW_PROBE_NODE), "node");
    assert_string_equal(lw_probe_kind_name(LW_PROBE_PYTHON), "python");
    assert_string_equal(lw_probe_kind_name(LW_PROBE_JVM), "jvm");
    assert_string_equal(lw_probe_kind_name(LW_PROBE_KIND_COUNT), "none");
}

/* Every gap flag has a distinct name in EMF's "Incomplete" list, and the name reads back. */
static void test_gap_names(void **state)
{
    (void)state;
    static const char *const want[] = {"end-reading", "telemetry", "processes", "start-reading",
                                       "partial-end-reading"};
    size_t n = 0;
    for (uint32_t f = 1; f <= LW_GAP_LAST; f <<= 1, n++) {
        assert_true(n < sizeof(want) / sizeof(want[0]));
        assert_string_equal(lw_record_gap_name(f), want[n]);
        assert_int_equal(lw_record_gap_from_name(want[n]), f);
    }
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    assert_null(lw_record_gap_name(LW_GAP_LAST << 1));
    assert_null(lw_record_gap_name(LW_GAP_NONE));
    assert_int_equal(lw_record_gap_from_name("something-else"), LW_GAP_NONE);
    assert_int_equal(lw_record_gap_from_name(""), LW_GAP_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_names),        cmocka_unit_test(test_role_is_function),
        cmocka_unit_test(test_peak_method_names), cmocka_unit_test(test_probe_kind_names),
        cmocka_unit_test(test_gap_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
