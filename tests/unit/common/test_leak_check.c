/*
 * leak_check: what the SHUTDOWN path may rely on. The reserve is time taken from the SHUTDOWN
 * budget, so it must be 0 where there is no LeakSanitizer to run, and in AddressSanitizer
 * builds enough for a scan of all memory (hundreds of milliseconds) yet well inside Lambda's
 * shortest SHUTDOWN phase (2 s, of which the extension gets part).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <leakwatch/leak_check.h>

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif

static void test_reserve_matches_the_build(void **state)
{
    (void)state;
    unsigned reserve = lw_leak_check_reserve_ms();
#ifdef ASAN_BUILD
    assert_in_range(reserve, 100, 1000);
#else
    assert_int_equal(reserve, 0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_matches_the_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
