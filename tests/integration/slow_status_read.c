/*
 * Test-only LD_PRELOAD shim: while the file named by LW_SLOW_READ_FLAG exists, every pread() of
 * leakwatch first sleeps 80 ms. It stands for leakwatch being descheduled or frozen in the
 * middle of a boundary reading, which cannot be timed from outside.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

ssize_t pread(int fd, void *buf, size_t count, off_t offset);
ssize_t pread64(int fd, void *buf, size_t count, off_t offset);

static ssize_t slow_pread(int fd, void *buf, size_t count, off_t offset)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (real == NULL)
        real = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread64");
    const char *flag = getenv("LW_SLOW_READ_FLAG");
    if (flag != NULL && access(flag, F_OK) == 0) {
        struct timespec t = {0, 80 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    return real(fd, buf, count, offset);
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
    return slow_pread(fd, buf, count, offset);
}

ssize_t pread64(int fd, void *buf, size_t count, off_t offset)
{
    return slow_pread(fd, buf, count, offset);
}
