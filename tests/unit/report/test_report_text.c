/*
 * `leakwatch report`, report_text: the exact text report (golden files), aligned columns, and
 * the sparkline.
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

static void test_text_golden(void **state)
{
    (void)state;
    check_golden(FIXTURE("small.log"), NULL, false, FIXTURE("small.expected"));
    struct lw_report_options last3 = {.last = 3};
    check_golden(FIXTURE("small.log"), &last3, false, FIXTURE("small-last3.expected"));
    struct lw_report_options wide = {.wide = true, .ascii = true};
    check_golden(FIXTURE("small.log"), &wide, false, FIXTURE("small-wide-ascii.expected"));
}

/* Every table line has the same column positions: the header's, the units' and each row's. */
static void test_text_columns_aligned(void **state)
{
    (void)state;
    struct lw_report *r = load(FIXTURE("aws-logs-tail.log"));
    struct membuf m;
    mem_open(&m);
    lw_report_write_env_text(lw_report_env_at(r, 1), NULL, m.f);
    mem_close(&m);
    /* the column "status" starts at the same offset on every table line */
    const char *head = strstr(m.data, "\nseq ");
    assert_non_null(head);
    head++;
    size_t status_col = (size_t)(strstr(head, "status") - head);
    size_t rows = 0;
    for (const char *p = strchr(head, '\n') + 1; *p && *p != '\n'; p = strchr(p, '\n') + 1) {
        const char *nl = strchr(p, '\n');
        if (rows > 0) { /* after the units line, which ends at "ms" */
            assert_true((size_t)(nl - p) > status_col);
            assert_memory_equal(p + status_col, "success", 7);
        }
        rows++;
        assert_true(nl[-1] != ' '); /* no trailing spaces */
    }
    assert_int_equal(rows, 1 + 59);
    assert_non_null(strstr(m.data, "shutdown      not in this log\n"));
    assert_non_null(strstr(m.data, "  seq 12: steady -> leak (growth 256.0 KiB per invocation"));
    free(m.data);
    lw_report_free(r);
}

static void test_sparkline(void **state)
{
    (void)state;
    const double up[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    char buf[256];
    assert_int_equal(lw_report_sparkline(up, 8, 60, false, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "\xe2\x96\x81\xe2\x96\x82\xe2\x96\x83\xe2\x96\x84\xe2\x96\x85"
                             "\xe2\x96\x86\xe2\x96\x87\xe2\x96\x88");
    lw_report_sparkline(up, 8, 60, true, buf, sizeof(buf));
    assert_string_equal(buf, "_.,-=+*#");
    const double flat[3] = {5, 5, 5};
    lw_report_sparkline(flat, 3, 60, true, buf, sizeof(buf));
    assert_string_equal(buf, "___");
    const double gap[3] = {1, NAN, 3};
    lw_report_sparkline(gap, 3, 60, true, buf, sizeof(buf));
    assert_string_equal(buf, "_ #");
    /* more values than width: the highest of each group */
    double many[120];
    for (int i = 0; i < 120; i++)
        many[i] = i == 7 ? 1000 : i;
    assert_int_equal(lw_report_sparkline(many, 120, 60, true, buf, sizeof(buf)), 2);
    assert_int_equal(strlen(buf), 60);
    assert_int_equal(buf[3], '#'); /* values 6 and 7: the spike is not averaged away */
    assert_int_equal(buf[0], '_');
    /* cut at the buffer, never inside a character */
    lw_report_sparkline(up, 8, 60, false, buf, 8);
    assert_int_equal(strlen(buf), 6);
    lw_report_sparkline(up, 0, 60, false, buf, sizeof(buf));
    assert_string_equal(buf, "");
}

/*
 * Strings from the log, written by whoever can write to the log group: every control
 * character (C0, DEL, C1), bidirectional control and byte that is not UTF-8 reaches the
 * terminal as '?', so none of them can clear the screen, retitle the window, hide a link or
 * reorder the text; the columns stay aligned (one column per character).
 */
static const char hostile_log[] =
    /* CSI in the environment id, OSC 8 hyperlink in the function name, C1 CSI in the version,
     * bytes that are not UTF-8 in the request id, tab and CR in the status, DEL in the verdict,
     * RIGHT-TO-LEFT OVERRIDE in the reason, BEL and U+FFFE in the culprit, ESC in the peak
     * method; "é" (valid: two bytes, one column) in an error type and a status */
    "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\\u001b[2J\",\"Sequence\":1,"
    "\"FunctionName\":\"fn\\u001b]8;;http://x\\u001b\\\\click\\u001b]8;;\\u001b\\\\\","
    "\"FunctionVersion\":\"v\\u009b1\",\"RequestId\":\"\xff\xfe"
    "abcdefgh\",\"Status\":\"ok\\ttab\\rcr\",\"Verdict\":\"leak\\u007f\","
    "\"VerdictReason\":\"grows \\u202e evil\",\"Culprit\":\"proc\\u0007\\ufffe\","
    "\"ErrorType\":\"Err\\u00e9\\u00e9\",\"PeakMethod\":\"sampled\\u001b\","
    "\"FunctionRssEndBytes\":1048576,\"StartTimeMs\":1000}\n"
    "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"e\\u001b[2J\",\"Sequence\":2,"
    "\"RequestId\":\"12345678-aaaa\",\"Status\":\"r\\u00e9ussi\",\"Verdict\":\"leak\\u007f\","
    "\"VerdictReason\":\"grows \\u202e evil\",\"Culprit\":\"proc\\u0007\\ufffe\","
    "\"FunctionRssEndBytes\":2097152,\"StartTimeMs\":2000}\n"
    /* an 8-bit CSI (0x9b: a C1 control in Latin-1 terminals) asking the terminal to answer */
    "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"e\\u001b[2J\",\"Sequence\":2,"
    "\"From\":\"\\u001b[31mred\",\"To\":\"leak\",\"Culprit\":\"c\\u001b[8m\","
    "\"Reason\":\"\x9b"
    "6n\"}\n"
    "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"e\\u001b[2J\","
    "\"ShutdownReason\":\"spin\\u001b[0m\"}\n";

static void test_text_hostile_strings(void **state)
{
    (void)state;
    struct lw_report *r = lw_report_new();
    assert_non_null(r);
    /* a file name can be hostile too, when it comes from someone else's listing */
    assert_int_equal(lw_report_set_source(r, "logs\x1b]0;pwned\x07.txt"), LW_OK);
    FILE *f = text_stream(hostile_log, strlen(hostile_log));
    assert_int_equal(lw_report_read(r, f), LW_OK);
    fclose(f);
    static const char bad[] = "{\"LeakwatchRecord\":\"invocation\",\"Sequence\":1}";
    assert_int_equal(lw_report_add_line(r, bad, sizeof(bad) - 1), LW_OK);
    assert_int_equal(lw_report_finish(r), LW_OK);
    struct lw_report_options opt = {.ascii = true};
    char *text = written(r, &opt, lw_report_write_text);
    assert_string_equal(
        text,
        "== function fn?]8;;http://x?\\click?]8;;?\\ (version v?1), environment e?[2J\n"
        "invocations   2 (seq 1 to 2)\n"
        "cold start    not in this log\n"
        "shutdown      spin?[0m\n"
        "verdict       leak?: grows ? evil (culprit: proc?\?)\n"
        "projection    none\n"
        "memory        _#  function RSS at the end of each invocation, 1024.0 to 2048.0 KiB\n"
        "\n"
        "seq  request   start RSS  peak RSS  end RSS  growth  duration  status     verdict  notes\n"
        "     id              KiB       KiB      KiB     KiB        ms\n"
        "  1  ??abcdef          -         -   1024.0       -         -  ok?tab?cr  leak?    "
        "peak: sampled?, error Err\xc3\xa9\xc3\xa9\n"
        "  2  12345678          -         -   2048.0       -         -  r\xc3\xa9ussi     leak?\n"
        "\n"
        "alerts\n"
        "  seq 2: ?[31mred -> leak (culprit c?[8m): ?6n\n"
        "\n"
        "input: 5 lines: 2 invocation, 1 shutdown, 1 alert; skipped 0 text, 0 bad JSON, 0 other "
        "JSON, 1 invalid, 0 too long; 0 repeated\n"
        "malformed leakwatch lines: 1\n"
        "  logs?]0;pwned?.txt: line 5: no EnvironmentId\n");
    free(text);
    lw_report_free(r);
}

/* Conflicting lines are said: in the environment's header, on the row, under the input. */
static void test_text_conflicts(void **state)
{
    (void)state;
    struct lw_report *r = load_text(
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":1,"
        "\"RequestId\":\"r1\",\"FunctionName\":\"fn\",\"FunctionRssEndBytes\":1048576}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"RequestId\":\"r2\",\"FunctionName\":\"fn\",\"FunctionRssEndBytes\":1048576}\n"
        "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"RequestId\":\"forged\",\"FunctionName\":\"fn\",\"FunctionRssEndBytes\":99999999}\n"
        "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"From\":\"learning\",\"To\":\"steady\"}\n"
        "{\"LeakwatchAlert\":\"verdict-change\",\"EnvironmentId\":\"b\",\"Sequence\":2,"
        "\"From\":\"learning\",\"To\":\"leak\"}\n"
        "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"b\",\"ShutdownReason\":\"spindown\"}"
        "\n"
        "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"b\",\"ShutdownReason\":\"timeout\"}"
        "\n");
    struct lw_report_options opt = {.ascii = true};
    char *text = written(r, &opt, lw_report_write_text);
    assert_string_equal(
        text,
        "== function fn, environment b\n"
        "invocations   2 (seq 1 to 2)\n"
        "cold start    not in this log\n"
        "conflicts     3 conflicting records for the same invocation were seen; the first read "
        "of each is shown (seq 2, alert at seq 2, shutdown)\n"
        "shutdown      spindown\n"
        "verdict       -\n"
        "projection    none\n"
        "memory        __  function RSS at the end of each invocation, 1024.0 to 1024.0 KiB\n"
        "\n"
        "seq  request  start RSS  peak RSS  end RSS  growth  duration  status  verdict  notes\n"
        "     id             KiB       KiB      KiB     KiB        ms\n"
        "  1  r1               -         -   1024.0       -         -  -       -\n"
        "  2  r2               -         -   1024.0       -         -  -       -        1 "
        "conflicting record\n"
        "\n"
        "alerts\n"
        "  seq 2: learning -> steady\n"
        "\n"
        "input: 7 lines: 3 invocation, 2 shutdown, 2 alert; skipped 0 text, 0 bad JSON, 0 other "
        "JSON, 0 invalid, 0 too long; 0 repeated\n"
        "3 conflicting records for the same invocation were seen; the first read of each is "
        "shown\n");
    free(text);
    lw_report_free(r);

    /* one, in the singular; a repeat to the byte (at-least-once delivery) is not a conflict */
    r = load_text("{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"b\",\"ShutdownReason\":"
                  "\"spindown\"}\n"
                  "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"b\",\"ShutdownReason\":"
                  "\"timeout\"}\n"
                  "{\"LeakwatchRecord\":\"shutdown\",\"EnvironmentId\":\"b\",\"ShutdownReason\":"
                  "\"spindown\"}\n");
    text = written(r, &opt, lw_report_write_text);
    assert_non_null(strstr(text, "\nconflicts     1 conflicting record for the same invocation "
                                 "was seen; the first read is shown (shutdown)\n"));
    assert_non_null(strstr(text, "; 1 repeated\n1 conflicting record for the same invocation "
                                 "was seen; the first read is shown\n"));
    free(text);
    lw_report_free(r);
}

#define DEATH_INV(seq)                                                                             \
    "{\"LeakwatchRecord\":\"invocation\",\"EnvironmentId\":\"old\",\"Sequence\":" #seq             \
    ",\"RequestId\":\"r" #seq "\",\"FunctionRssEndBytes\":" #seq "000000,\"MemoryLimitBytes\":"    \
    "134217728}\n"

/*
 * The text report tells a death in the header, on the row of the invocation it happened in,
 * and across the report; when that invocation's record never reached the log (leakwatch died
 * with the function before writing it), on a row of its own after the last record.
 */
static void test_text_death(void **state)
{
    (void)state;
    static const char death[] =
        "{\"LeakwatchRecord\":\"death\",\"EnvironmentId\":\"new\",\"DeadEnvironmentId\":\"old\","
        "\"Cause\":\"Runtime.OutOfMemory\",\"OomForms\":[\"killed-at-limit\"],"
        "\"Predicted\":true,\"LeadInvocations\":2,\"LeadMinutes\":0.5,"
        "\"OutOfMemoryLeadSeconds\":30,\"ProjectedOomSequence\":4.5,\"ActualOomSequence\":%d,"
        "\"ProjectionErrorPercent\":12.5,\"DeadEnvironmentLifetimeSeconds\":61,"
        "\"DeadEnvironmentInvocations\":%d,\"LastVerdict\":\"leak\"}\n";
    char log[2048];
    /* died in invocation 3, whose record is in the log */
    snprintf(log, sizeof(log), DEATH_INV(1) DEATH_INV(2) DEATH_INV(3) "%s", "");
    size_t n = strlen(log);
    snprintf(log + n, sizeof(log) - n, death, 3, 3);
    struct lw_report *r = load_text(log);
    struct membuf m;
    mem_open(&m);
    assert_int_equal(lw_report_write_text(r, NULL, m.f), LW_OK);
    mem_close(&m);
    assert_non_null(strstr(m.data, "\ndeath         Runtime.OutOfMemory in invocation 3, after "
                                   "1m 1s, predicted 2 invocations (30 s) ahead; projected at "
                                   "invocation 4.5 when the leak was flagged, 12.5% off; "
                                   "recognised by killed-at-limit\n"));
    const char *row3 = strstr(m.data, "\n  3  r3");
    assert_non_null(row3);
    const char *eol = strchr(row3 + 1, '\n');
    assert_non_null(eol);
    assert_memory_equal(eol - strlen("died: Runtime.OutOfMemory, predicted 2 ahead"),
                        "died: Runtime.OutOfMemory, predicted 2 ahead",
                        strlen("died: Runtime.OutOfMemory, predicted 2 ahead"));
    assert_int_equal(count(m.data, "died: "), 1);
    assert_non_null(strstr(m.data, "\ndeaths: predicted 1 of 1 out-of-memory death, median lead "
                                   "30 s (2 invocations)\n"));
    free(m.data);
    lw_report_free(r);

    /* died in invocation 4, never logged: a row of its own after the last record */
    snprintf(log, sizeof(log), DEATH_INV(1) DEATH_INV(2) DEATH_INV(3) "%s", "");
    n = strlen(log);
    snprintf(log + n, sizeof(log) - n, death, 4, 4);
    r = load_text(log);
    mem_open(&m);
    assert_int_equal(lw_report_write_text(r, NULL, m.f), LW_OK);
    mem_close(&m);
    const char *row4 = strstr(m.data, "\n  4  -");
    assert_non_null(row4);
    assert_true(row4 > strstr(m.data, "\n  3  r3"));
    eol = strchr(row4 + 1, '\n');
    static const char own[] = "leak     died: Runtime.OutOfMemory, predicted 2 ahead, its record "
                              "is not in the log";
    assert_memory_equal(eol - strlen(own), own, strlen(own));
    free(m.data);

    struct lw_report_options last2 = {.last = 2};
    mem_open(&m);
    assert_int_equal(lw_report_write_text(r, &last2, m.f), LW_OK);
    mem_close(&m);
    assert_non_null(strstr(m.data, "\n  4  -")); /* --last keeps the end */
    free(m.data);
    lw_report_free(r);
}

/*
 * A Managed Instances environment counts intervals of time, not invocations: its death has no
 * row it happened in, so it gets a row of its own after the last interval, its lead in time.
 */
static void test_text_interval_death(void **state)
{
    (void)state;
    struct lw_report *r = load_text(
        "{\"LeakwatchRecord\":\"interval\",\"EnvironmentId\":\"mi\",\"Sequence\":1,"
        "\"IntervalStartTimeMs\":1796421223000,\"EndTimeMs\":1796421223500,\"Requests\":64,"
        "\"FunctionRssEndBytes\":1048576}\n"
        "{\"LeakwatchRecord\":\"interval\",\"EnvironmentId\":\"mi\",\"Sequence\":2,"
        "\"IntervalStartTimeMs\":1796421223500,\"EndTimeMs\":1796421224000,\"Requests\":60,"
        "\"FunctionRssEndBytes\":2097152}\n"
        "{\"LeakwatchRecord\":\"death\",\"EnvironmentId\":\"next\",\"DeadEnvironmentId\":\"mi\","
        "\"Cause\":\"Runtime.OutOfMemory\",\"Predicted\":true,\"LeadInvocations\":40,"
        "\"LeadMinutes\":1.5,\"ActualOomSequence\":3,\"Intervals\":true,"
        "\"DeadEnvironmentInvocations\":3,\"DeadEnvironmentEndTimeMs\":1796421224400}\n");
    struct membuf m;
    mem_open(&m);
    assert_int_equal(lw_report_write_text(r, NULL, m.f), LW_OK);
    mem_close(&m);
    assert_non_null(strstr(m.data, "\ndeath         Runtime.OutOfMemory in interval 3, predicted "
                                   "40 intervals (1.5 min) ahead\n"));
    const char *own = strstr(m.data, "\n  -  -");
    assert_non_null(own);
    assert_true(own > strstr(m.data, "\n  2  "));
    const char *eol = strchr(own + 1, '\n');
    static const char note[] = "died: Runtime.OutOfMemory, predicted 1.5 min ahead, its record is "
                               "not in the log";
    assert_memory_equal(eol - strlen(note), note, strlen(note));
    assert_int_equal(count(m.data, "died: "), 1);
    free(m.data);
    lw_report_free(r);

    /* a projection on intervals is placed in time, with no recycle horizon beside it */
    r = load_text("{\"LeakwatchRecord\":\"interval\",\"EnvironmentId\":\"mi\",\"Sequence\":1,"
                  "\"IntervalStartTimeMs\":1796421220000,\"EndTimeMs\":1796421230000,"
                  "\"FunctionRssEndBytes\":104857600,\"MemoryLimitBytes\":268435456}\n"
                  "{\"LeakwatchRecord\":\"interval\",\"EnvironmentId\":\"mi\",\"Sequence\":2,"
                  "\"IntervalStartTimeMs\":1796421230000,\"EndTimeMs\":1796421240000,"
                  "\"FunctionRssEndBytes\":110100480,\"MemoryLimitBytes\":268435456,"
                  "\"Verdict\":\"leak\",\"ProjectedMinutesToOom\":5.2,"
                  "\"GrowthPerHourBytes\":1887436800,"
                  "\"VerdictReason\":\"runtime grows 1.9 GB per hour; memory runs out in 5.2 min "
                  "(at the latest 6 min), likely within the 120 min critical window\"}\n");
    mem_open(&m);
    assert_int_equal(lw_report_write_text(r, NULL, m.f), LW_OK);
    mem_close(&m);
    assert_non_null(strstr(
        m.data, "\nhorizon       none: Managed Instances publish no environment lifetime\n"));
    free(m.data);
    lw_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_golden),         cmocka_unit_test(test_text_columns_aligned),
        cmocka_unit_test(test_sparkline),           cmocka_unit_test(test_text_hostile_strings),
        cmocka_unit_test(test_text_conflicts),      cmocka_unit_test(test_text_death),
        cmocka_unit_test(test_text_interval_death),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
