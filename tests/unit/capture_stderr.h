/*
 * stderr into a temporary file, for the tests of what leakwatch logs (include after <cmocka.h>):
 * the log module writes each line to fd 2 with one write(2), so the test points fd 2 at a file,
 * lets the code log and reads back the exact bytes a line would put in the function's log stream.
 */
#ifndef LEAKWATCH_CAPTURE_STDERR_H
#define LEAKWATCH_CAPTURE_STDERR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct capture {
    FILE *file;
    int saved_stderr;
};

static inline void capture_start(struct capture *c)
{
    fflush(stderr);
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved_stderr = dup(STDERR_FILENO);
    assert_true(c->saved_stderr >= 0);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Puts stderr back and returns what was written (NUL-terminated, malloc'd; *len its bytes). */
static inline char *capture_end(struct capture *c, size_t *len)
{
    assert_true(dup2(c->saved_stderr, STDERR_FILENO) >= 0);
    close(c->saved_stderr);
    /* the code wrote through the fd: seek to find its end, past what the FILE knows */
    assert_true(fseek(c->file, 0, SEEK_END) == 0);
    long size = ftell(c->file);
    assert_true(size >= 0);
    char *data = malloc((size_t)size + 1);
    assert_non_null(data);
    rewind(c->file);
    assert_int_equal(fread(data, 1, (size_t)size, c->file), (size_t)size);
    data[size] = '\0';
    fclose(c->file);
    *len = (size_t)size;
    return data;
}

#endif
