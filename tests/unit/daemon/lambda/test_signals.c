/*
 * signals: after lw_signals_install() a SIGPIPE and a SIGTERM leave the process running, and
 * lw_signals_say() says so once, and only once a SIGTERM came. One test: the module's state is
 * the process's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>

#include <cmocka.h>

#include <leakwatch/log.h>
#include <leakwatch/signals.h>

#include "capture_stderr.h"

static void test_survives_and_says_once(void **state)
{
    (void)state;
    struct capture c;
    size_t len;
    lw_log_set_level(LW_LOG_INFO);
    lw_signals_install();

    /* nothing to say before a SIGTERM */
    capture_start(&c);
    lw_signals_say();
    char *got = capture_end(&c, &len);
    assert_int_equal(len, 0);
    free(got);

    /* either signal would end the process with its default action */
    assert_int_equal(raise(SIGPIPE), 0);
    assert_int_equal(raise(SIGTERM), 0);

    capture_start(&c);
    lw_signals_say();
    lw_signals_say();
    got = capture_end(&c, &len);
    assert_non_null(strstr(got, "[leakwatch] WARN SIGTERM received and ignored"));
    assert_int_equal(strchr(got, '\n') - got + 1, (long)len); /* one line, said once */
    free(got);

    /* a second SIGTERM is not said again */
    assert_int_equal(raise(SIGTERM), 0);
    capture_start(&c);
    lw_signals_say();
    got = capture_end(&c, &len);
    assert_int_equal(len, 0);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_survives_and_says_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
