/*
 * pages: zeroed memory whose untouched pages cost nothing. The pages a caller never writes are
 * not resident (mincore), zeroing again gives the written ones back, and what was written
 * reads as zero after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <leakwatch/pages.h>

#if defined(__SANITIZE_ADDRESS__)
#define CALLOC_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CALLOC_BUILD 1
#endif
#endif

#define PAGES 32

#ifndef CALLOC_BUILD
/* How many of the n pages at p are resident. */
static size_t resident(void *p, size_t n)
{
    unsigned char vec[PAGES];
    assert_int_equal(mincore(p, n * (size_t)sysconf(_SC_PAGESIZE), vec), 0);
    size_t r = 0;
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    return r;
}
#endif

static void test_zeroed_and_untouched(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = PAGES * page - 100; /* not a whole number of pages */
    unsigned char *p = lw_pages_alloc(bytes);
    assert_non_null(p);
#ifndef CALLOC_BUILD
    assert_int_equal((uintptr_t)p % page, 0);
    assert_int_equal(resident(p, PAGES), 0);
#endif
    p[3 * page + 5] = 7;
    p[bytes - 1] = 9;
#ifndef CALLOC_BUILD
    assert_int_equal(resident(p, PAGES), 2); /* only the two written */
#endif
    for (size_t i = 0; i < bytes; i++)
        if (p[i] != 0 && i != 3 * page + 5 && i != bytes - 1)
            fail_msg("byte %zu is %d", i, p[i]);
    lw_pages_zero(p, bytes);
#ifndef CALLOC_BUILD
    assert_int_equal(resident(p, PAGES), 0); /* given back, not cleared by writing */
#endif
    for (size_t i = 0; i < bytes; i++)
        if (p[i] != 0)
            fail_msg("byte %zu is %d after zeroing", i, p[i]);
    lw_pages_free(p, bytes);
    lw_pages_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeroed_and_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
