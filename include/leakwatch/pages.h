/*
 * Zeroed memory on pages of its own, for the daemon's large tables that a function mostly
 * leaves unused (the trend engine's 32 process series, the pipeline's interval slots). The
 * kernel gives such a page only when it is first written: what a table never uses costs
 * neither memory nor a page fault. calloc clears what it hands out whenever it may have been
 * used before, and that first write touches every page (at start, 62 of leakwatch's 178 page
 * faults were calloc's and the trend's clearing).
 *
 * Under AddressSanitizer these are plain calloc and free, so that overruns stay reported.
 */
#ifndef LEAKWATCH_PAGES_H
#define LEAKWATCH_PAGES_H

#include <stddef.h>

/* bytes of zeroed memory, page-aligned; NULL when the system has none (errno set). */
void *lw_pages_alloc(size_t bytes);

/* Gives p (from lw_pages_alloc(bytes)) back; NULL does nothing. */
void lw_pages_free(void *p, size_t bytes);

/* Makes p's bytes zero again without touching the pages nothing wrote: they go back to the
 * kernel and read as zero when next used. */
void lw_pages_zero(void *p, size_t bytes);

#endif
