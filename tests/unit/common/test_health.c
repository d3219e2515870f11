/*
 * health: every counter has a metric name of its own (they ship as EMF metrics, where two of one
 * name would merge), counts what it is given and reads back; nothing out of range is counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/health.h>

static void test_names_unique(void **state)
{
    (void)state;
    assert_string_equal(lw_health_name(LW_H_TELEMETRY_RECEIVED), "TelemetryEventsReceived");
    assert_string_equal(lw_health_name(LW_H_EMF_DROPPED), "EmfLinesDropped");
    assert_string_equal(lw_health_name(LW_H_PROBE_REJECTED), "ProbeReportsRejected");
    for (int a = 0; a < LW_H_COUNT; a++) {
        const char *name = lw_health_name((enum lw_health_counter)a);
        if (name == NULL || name[0] == '\0' || strcmp(name, "Unknown") == 0)
            fail_msg("counter %d has no name", a);
        for (int b = a + 1; b < LW_H_COUNT; b++)
            if (strcmp(name, lw_health_name((enum lw_health_counter)b)) == 0)
                fail_msg("counters %d and %d share the name \"%s\"", a, b, name);
    }
    assert_string_equal(lw_health_name(LW_H_COUNT), "Unknown");
}

static void test_count_and_read(void **state)
{
    (void)state;
    struct lw_health h, out;
    memset(&h, 0, sizeof(h));
    /* each counter by its own amount, so a mix-up between two shows */
    for (int i = 0; i < LW_H_COUNT; i++) {
        lw_health_add(&h, (enum lw_health_counter)i, (uint64_t)i + 1);
        lw_health_add(&h, (enum lw_health_counter)i, 100);
    }
    lw_health_add(&h, LW_H_LEDGER_EVICTED, 0); /* adding nothing changes nothing */
    memset(&out, 0xff, sizeof(out));
    lw_health_read(&h, &out);
    for (int i = 0; i < LW_H_COUNT; i++)
        if (out.c[i] != (uint64_t)i + 101)
            fail_msg("%s: %llu, expected %d", lw_health_name((enum lw_health_counter)i),
                     (unsigned long long)out.c[i], i + 101);
}

/* A counter past the end is ignored, not written beyond the array. */
static void test_out_of_range(void **state)
{
    (void)state;
    struct {
        struct lw_health h;
        uint64_t after;
    } s;
    memset(&s, 0, sizeof(s));
    lw_health_add(&s.h, LW_H_COUNT, 5);
    lw_health_add(&s.h, (enum lw_health_counter)(LW_H_COUNT + 3), 5);
    assert_int_equal(s.after, 0);
    for (int i = 0; i < LW_H_COUNT; i++)
        assert_int_equal(s.h.c[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_unique),
        cmocka_unit_test(test_count_and_read),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
