/* check(): a contract of the code under test; a broken one aborts with the line, so that
 * libFuzzer saves the input and the message says which promise failed. */
#ifndef LEAKWATCH_FUZZ_CHECK_H
#define LEAKWATCH_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static inline void check_failed(const char *file, int line, const char *cond)
{
    fprintf(stderr, "%s:%d: contract broken: %s\n", file, line, cond);
    abort();
}

#define check(cond) ((cond) ? (void)0 : check_failed(__FILE__, __LINE__, #cond))

#endif
