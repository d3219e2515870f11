/*
 * The stdout writer on a pipe nobody reads: a line waits at most its budget and is dropped;
 * further lines are dropped without waiting while the pipe stays full; once the reader takes
 * lines again, lines go through whole and the budget applies again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <leakwatch/out.h>

#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_stalled_reader_costs_the_budget_once(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[1], F_SETPIPE_SZ, 4096);
    struct lw_out out;
    lw_out_init(&out, fds[1], 50);
    assert_int_equal(out.owned, 1); /* a pipe gets its own non-blocking handle */
    char line[1000];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';

    /* fill the pipe: the first lines go through */
    int ok = 0;
    enum lw_err err;
    while ((err = lw_out_write(&out, line, sizeof(line))) == LW_OK)
        ok++;
    assert_true(ok >= 1);
    assert_int_equal(err, LW_ERR_TIMEOUT);
    assert_int_equal(out.congested, 1);

    /* with a budget of a minute, a line that waited would hang here: it is dropped at once */
    lw_out_set_budget(&out, 60000);
    double t0 = mono_s();
    assert_int_equal(lw_out_write(&out, line, sizeof(line)), LW_ERR_TIMEOUT);
    assert_int_equal(lw_out_write(&out, line, sizeof(line)), LW_ERR_TIMEOUT);
    assert_true(mono_s() - t0 < 30.0);

    /* the reader drains the pipe: the next line goes through whole and ends the episode */
    char sink[65536];
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    while (read(fds[0], sink, sizeof(sink)) > 0)
        ;
    assert_int_equal(lw_out_write(&out, line, sizeof(line)), LW_OK);
    assert_int_equal(out.congested, 0);
    ssize_t n = read(fds[0], sink, sizeof(sink));
    assert_int_equal(n, (ssize_t)sizeof(line));
    assert_memory_equal(sink, line, sizeof(line));

    lw_out_clean_up(&out);
    close(fds[0]);
    close(fds[1]);
}

/* A line cut by the budget in a full pipe is ended with a newline before the next line, so
 * that the next line starts on its own and stays parseable. */
static void test_cut_line_is_ended(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[1], F_SETPIPE_SZ, 4096);
    struct lw_out out;
    lw_out_init(&out, fds[1], 20);
    char big[6000];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\n';
    assert_int_equal(lw_out_write(&out, big, sizeof(big)), LW_ERR_TIMEOUT);
    assert_int_equal(out.owe_newline, 1); /* no room even for the newline */
    char sink[8192];
    ssize_t n = read(fds[0], sink, sizeof(sink));
    assert_true(n > 0 && n < (ssize_t)sizeof(big));
    assert_int_equal(sink[n - 1], 'y');
    assert_int_equal(lw_out_write(&out, "next\n", 5), LW_OK);
    n = read(fds[0], sink, sizeof(sink));
    assert_int_equal(n, 6);
    assert_memory_equal(sink, "\nnext\n", 6);
    assert_int_equal(out.owe_newline, 0);
    lw_out_clean_up(&out);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stalled_reader_costs_the_budget_once),
        cmocka_unit_test(test_cut_line_is_ended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
