#include <leakwatch/pages.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define LW_PAGES_CALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LW_PAGES_CALLOC 1
#endif
#endif

void *lw_pages_alloc(size_t bytes)
{
#ifdef LW_PAGES_CALLOC
    return calloc(1, bytes);
#else
    if (bytes == 0)
        bytes = 1;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
#endif
}

void lw_pages_free(void *p, size_t bytes)
{
    if (p == NULL)
        return;
#ifdef LW_PAGES_CALLOC
    (void)bytes;
    free(p);
#else
    munmap(p, bytes ? bytes : 1);
#endif
}

void lw_pages_zero(void *p, size_t bytes)
{
#ifndef LW_PAGES_CALLOC
    /* A private anonymous mapping reads as zero after MADV_DONTNEED (the whole pages the
     * allocation spans are its own). */
    if (madvise(p, bytes, MADV_DONTNEED) == 0)
        return;
#endif
    memset(p, 0, bytes);
}
