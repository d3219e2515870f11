/*
 * `leakwatch report`, report_store: grouping by environment, ordering by sequence, and the
 * removal of repeated lines (EMF delivery is at-least-once).
 */
#include <leakwatch/report.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_report_util.h"

static void test_duplicates_and_order(void **state)
{
    (void)state;
    const char *text =
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":3,"
        "\"RequestId\":\"r3\",\"StartTimeMs\":3000,\"FunctionName\":\"old-name\"}\n"
        "START RequestId: r1\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":1,"
        "\"RequestId\":\"r1\",\"StartTimeMs\":1000,\"FunctionName\":\"fn\"}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"a\",\"Sequence\":1,"
        "\"RequestId\":\"q1\",\"StartTimeMs\":500,\"FunctionName\":\"fn\"}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"RequestId\":\"r2\",\"StartTimeMs\":2000,\"FunctionName\":\"fn\"}\n"
        /* at-least-once: the same line again, and a repeat that says something else */
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":3,"
        "\"RequestId\":\"r3\",\"StartTimeMs\":3000,\"FunctionName\":\"old-name\"}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"RequestId\":\"other\",\"StartTimeMs\":2000,\"FunctionName\":\"fn\"}\n"
        "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"b\",\"Sequence\":3,"
        "\"From\":\"steady\",\"To\":\"leak\"}\n"
        "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"From\":\"learning\",\"To\":\"steady\"}\n"
        "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"b\",\"Sequence\":3,"
        "\"From\":\"steady\",\"To\":\"leak\"}\n"
        "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"b\",\"ShutdownReason\":\"spindown\"}"
        "\n"
        "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"b\",\"ShutdownReason\":\"spindown\"}"
        "\n"
        /* an environment known only from its shutdown line */
        "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"c\",\"ShutdownReason\":\"timeout\","
        "\"_aws\":{\"Timestamp\":9000}}";
    struct lw_report *r = load_text(text);
    struct lw_report_stats s;
    lw_report_stats(r, &s);
    assert_int_equal(s.lines, 13);
    assert_int_equal(s.invocations, 6);
    assert_int_equal(s.duplicates, 4); /* one invocation, one alert, one shutdown, one differing */
    assert_int_equal(s.conflicts, 1);

    assert_int_equal(lw_report_env_count(r), 3);
    /* environments by their earliest time: a (500), b (1000), c (9000) */
    const struct lw_report_env *a = lw_report_env_at(r, 0);
    const struct lw_report_env *b = lw_report_env_at(r, 1);
    const struct lw_report_env *c = lw_report_env_at(r, 2);
    assert_string_equal(a->env_id, "a");
    assert_string_equal(b->env_id, "b");
    assert_string_equal(c->env_id, "c");
    assert_null(lw_report_env_at(r, 3));

    assert_int_equal(b->n_invocations, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(b->invocations[i].seq, i + 1);
    /* the first line read wins */
    assert_string_equal(b->invocations[1].request_id, "r2");
    /* the name is the latest invocation's */
    assert_string_equal(b->function_name, "old-name");
    assert_int_equal(b->n_alerts, 2);
    assert_int_equal(b->alerts[0].seq, 2);
    assert_int_equal(b->alerts[1].seq, 3);
    assert_non_null(b->shutdown);
    assert_null(a->shutdown);
    assert_int_equal(c->n_invocations, 0);
    assert_null(c->invocations);
    assert_string_equal(c->shutdown->reason, "timeout");

    /* more lines after finish, finish again */
    const char *more = "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"a\","
                       "\"Sequence\":2}";
    assert_int_equal(lw_report_add_line(r, more, strlen(more)), LW_OK);
    assert_int_equal(lw_report_finish(r), LW_OK);
    assert_int_equal(lw_report_env_at(r, 0)->n_invocations, 2);
    lw_report_free(r);
}

/* A log with shutdown lines only: no invocation was ever stored (found by fuzzing: finish
 * took the address of the first element of an empty array, undefined behaviour that the
 * sanitizer build reports). */
static void test_shutdown_only(void **state)
{
    (void)state;
    struct lw_report *r =
        load_text("{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"c\","
                  "\"ShutdownReason\":\"timeout\",\"_aws\":{\"Timestamp\":9000}}\n");
    assert_int_equal(lw_report_env_count(r), 1);
    const struct lw_report_env *c = lw_report_env_at(r, 0);
    assert_int_equal(c->n_invocations, 0);
    assert_null(c->invocations);
    assert_int_equal(c->n_alerts, 0);
    assert_non_null(c->shutdown);
    assert_string_equal(c->shutdown->reason, "timeout");
    lw_report_free(r);
}

/*
 * A death line belongs to the environment it tells about, not to the one that wrote it: the
 * dead one gets its death, the teller is kept by name; a second, other death for the same
 * environment is a conflict (only one environment can tell it), the same one repeated is not.
 */
static void test_death_joins_the_dead(void **state)
{
    (void)state;
    struct lw_report *r = load_text(
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"old\",\"Sequence\":1,"
        "\"StartTimeMs\":1000,\"ColdStart\":true}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"old\",\"Sequence\":2,"
        "\"StartTimeMs\":2000}\n"
        "{\"LeakwatchRecord\":\"death\",\"EnvironmentId\":\"new\",\"DeadEnvironmentId\":\"old\","
        "\"FunctionName\":\"fn\",\"Cause\":\"Runtime.OutOfMemory\",\"Predicted\":false,"
        "\"DeadEnvironmentInvocations\":2,\"_aws\":{\"Timestamp\":3000}}\n"
        "{\"LeakwatchRecord\":\"death\",\"EnvironmentId\":\"new\",\"DeadEnvironmentId\":\"old\","
        "\"FunctionName\":\"fn\",\"Cause\":\"Runtime.OutOfMemory\",\"Predicted\":false,"
        "\"DeadEnvironmentInvocations\":2,\"_aws\":{\"Timestamp\":3000}}\n"
        "{\"LeakwatchRecord\":\"death\",\"EnvironmentId\":\"forger\",\"DeadEnvironmentId\":"
        "\"old\",\"Cause\":\"timeout\"}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"new\",\"Sequence\":1,"
        "\"StartTimeMs\":4000,\"ColdStart\":true}\n");
    struct lw_report_stats s;
    lw_report_stats(r, &s);
    assert_int_equal(s.deaths, 3);
    assert_int_equal(s.duplicates, 2);
    assert_int_equal(s.conflicts, 1);
    assert_int_equal(lw_report_env_count(r), 2);
    const struct lw_report_env *old = lw_report_env_at(r, 0);
    const struct lw_report_env *teller = lw_report_env_at(r, 1);
    assert_string_equal(old->env_id, "old");
    assert_int_equal(old->n_invocations, 2);
    assert_non_null(old->death);
    assert_string_equal(old->death->ending, "Runtime.OutOfMemory");
    assert_string_equal(old->death->told_by, "new");
    assert_int_equal(old->death->conflicts, 1);
    assert_int_equal(old->conflicts, 1);
    assert_true(lw_report_death_has(old->death, LW_D_PREDICTED));
    assert_true(old->death->value[LW_D_PREDICTED] == 0);
    assert_false(lw_report_death_has(old->death, LW_D_LEAD_INVOCATIONS));
    /* the death names the function the records did not */
    assert_string_equal(old->function_name, "fn");
    assert_string_equal(teller->env_id, "new");
    assert_null(teller->death);
    /* a record has no death figures, whatever bits its metrics set */
    assert_false(lw_report_death_has(&old->invocations[0], LW_D_OOM_DEATHS));
    lw_report_free(r);
}

#define INV(seq, rest)                                                                             \
    "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\",\"Sequence\":" #seq               \
    ",\"RequestId\":\"r" #seq "\",\"StartTimeMs\":" #seq "000" rest "}\n"

/*
 * Lines that claim an invocation already read but say something else (any field: the
 * figures, a string, a flag, the time) are conflicting: the first one read is shown, each other
 * content is counted once however often it is repeated, and the count survives a second
 * reading of the same lines. Repeats to the byte are at-least-once delivery, not conflicts.
 */
static const char conflicting_log[] = INV(1, ",\"FunctionRssEndBytes\":1048576")
    /* seq 2: the real line, a forged one (other figure) twice, the real one again */
    INV(2, ",\"FunctionRssEndBytes\":2097152") INV(2, ",\"FunctionRssEndBytes\":99999999")
        INV(2, ",\"FunctionRssEndBytes\":99999999") INV(2, ",\"FunctionRssEndBytes\":2097152")
    /* seq 3..7: one field each that the figures alone would not tell */
    INV(3, "") INV(3, ",\"VerdictReason\":\"forged\"") INV(4, "") INV(4, ",\"Status\":\"error\"")
        INV(5, "") INV(5, ",\"ColdStart\":true") INV(6, "") INV(6, ",\"_aws\":{\"Timestamp\":1}")
            INV(7, "") INV(7, ",\"Culprit\":\"x\"") INV(7, ",\"Culprit\":\"y\"")
    /* an alert and a shutdown contradicted */
    "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"e\",\"Sequence\":2,"
    "\"From\":\"learning\",\"To\":\"steady\"}\n"
    "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"e\",\"Sequence\":2,"
    "\"From\":\"learning\",\"To\":\"leak\"}\n"
    "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"e\",\"ShutdownReason\":\"spindown\"}\n"
    "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"e\",\"ShutdownReason\":\"spindown\"}\n"
    "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"e\",\"ShutdownReason\":\"timeout\"}\n"
    /* another environment, untouched */
    "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"f\",\"Sequence\":1}\n";

static void test_conflicts(void **state)
{
    (void)state;
    struct lw_report *r = load_text(conflicting_log);
    struct lw_report_stats s;
    lw_report_stats(r, &s);
    assert_int_equal(s.lines, 22);
    assert_int_equal(s.invocations, 17);
    /* 8 invocations, 1 alert and 1 shutdown shown of the 22 lines */
    assert_int_equal(s.duplicates, 12);
    /* seq 2, 3, 4, 5, 6 once each, seq 7 twice, the alert, the shutdown */
    assert_int_equal(s.conflicts, 9);

    assert_int_equal(lw_report_env_count(r), 2);
    const struct lw_report_env *e = lw_report_env_at(r, 0);
    assert_string_equal(e->env_id, "e");
    assert_int_equal(e->conflicts, 9);
    assert_int_equal(e->n_invocations, 7);
    static const uint32_t per_seq[] = {0, 1, 1, 1, 1, 1, 2};
    for (size_t i = 0; i < 7; i++) {
        const struct lw_report_entry *x = &e->invocations[i];
        assert_int_equal(x->seq, i + 1);
        assert_int_equal(x->conflicts, per_seq[i]);
        /* the first line read is the one shown */
        assert_string_equal(x->status, "");
        assert_string_equal(x->reason, "");
        assert_string_equal(x->culprit, "");
        assert_false(x->cold_start);
    }
    assert_true(e->invocations[1].value[LW_M_FN_RSS_END] == 2097152.0);
    assert_int_equal(e->invocations[5].timestamp_ms, 0);
    assert_int_equal(e->n_alerts, 1);
    assert_string_equal(e->alerts[0].verdict, "steady");
    assert_int_equal(e->alerts[0].conflicts, 1);
    assert_string_equal(e->shutdown->reason, "spindown");
    assert_int_equal(e->shutdown->conflicts, 1);
    assert_int_equal(lw_report_env_at(r, 1)->conflicts, 0);

    /* the same lines again (an overlapping export): repeats, no new conflict */
    const char *p = conflicting_log;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_int_equal(lw_report_add_line(r, p, (size_t)(nl - p)), LW_OK);
        p = nl + 1;
    }
    assert_int_equal(lw_report_finish(r), LW_OK);
    lw_report_stats(r, &s);
    assert_int_equal(s.duplicates, 12 + 22);
    assert_int_equal(s.conflicts, 9);
    e = lw_report_env_at(r, 0);
    assert_int_equal(e->conflicts, 9);
    assert_int_equal(e->invocations[6].conflicts, 2);

    /* a third content for seq 7 is one more */
    static const char more[] = INV(7, ",\"Culprit\":\"z\"");
    assert_int_equal(lw_report_add_line(r, more, sizeof(more) - 2), LW_OK);
    assert_int_equal(lw_report_finish(r), LW_OK);
    lw_report_stats(r, &s);
    assert_int_equal(s.conflicts, 10);
    assert_int_equal(lw_report_env_at(r, 0)->invocations[6].conflicts, 3);
    assert_string_equal(lw_report_env_at(r, 0)->invocations[6].culprit, "");
    lw_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicates_and_order),
        cmocka_unit_test(test_shutdown_only),
        cmocka_unit_test(test_death_joins_the_dead),
        cmocka_unit_test(test_conflicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
