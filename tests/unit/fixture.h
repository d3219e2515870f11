/*
 * The unit tests' recorded inputs: files under tests/fixtures/ (LW_FIXTURES_DIR), read whole
 * into the test's own buffer. Include after <cmocka.h>.
 */
#ifndef LEAKWATCH_TEST_FIXTURE_H
#define LEAKWATCH_TEST_FIXTURE_H

#include <stdio.h>

/* tests/fixtures/<folder>/<name> into buf, at most cap bytes: the bytes read. The test fails
 * when the file cannot be opened. */
static inline size_t read_fixture(const char *folder, const char *name, void *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s", LW_FIXTURES_DIR, folder, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open fixture %s", path);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

#endif
