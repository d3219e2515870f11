#include <leakwatch/json_arena.h>

#include <stdalign.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

/* Under AddressSanitizer the free part of the buffer is poisoned and every allocation is
 * unpoisoned to its exact size, so an overrun into the next slot and a use after the scope are
 * still reported. */
#if defined(__SANITIZE_ADDRESS__)
#define LW_ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LW_ARENA_ASAN 1
#endif
#endif
#ifdef LW_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ALIGN_TO alignof(max_align_t)

static __thread struct lw_json_arena *current;
/* The arena this thread entered last: a tree deleted after its scope (against the rules) then
 * never hands arena memory to free(), which would abort the process. */
static __thread struct lw_json_arena *last;

static bool owns(const struct lw_json_arena *a, const void *p)
{
    const unsigned char *q = p;
    return a != NULL && a->buf != NULL && q >= a->buf && q < a->buf + a->cap;
}

static void *arena_malloc(size_t n)
{
    struct lw_json_arena *a = current;
    if (a != NULL) {
        size_t need = (n + ALIGN_TO - 1) & ~(size_t)(ALIGN_TO - 1);
        if (a->buf != NULL && need >= n && need <= a->cap - a->used) {
            void *p = a->buf + a->used;
            a->used += need;
            UNPOISON(p, n);
            if (a->used > a->high)
                a->high = a->used;
            return p;
        }
        a->fallback_bytes += n;
        a->spilled = true;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if (!owns(current, p) && !owns(last, p))
        free(p);
}

void lw_json_arena_install(void)
{
    cJSON_Hooks hooks = {.malloc_fn = arena_malloc, .free_fn = arena_free};
    cJSON_InitHooks(&hooks);
}

bool lw_json_arena_init(struct lw_json_arena *a, size_t cap)
{
    *a = (struct lw_json_arena){0};
    /* malloc's alignment is ALIGN_TO; the cap is rounded down to keep every slot aligned */
    cap &= ~(size_t)(ALIGN_TO - 1);
    a->buf = cap > 0 ? malloc(cap) : NULL;
    a->cap = a->buf != NULL ? cap : 0;
    return a->buf != NULL;
}

void lw_json_arena_clean_up(struct lw_json_arena *a)
{
    if (current == a)
        current = NULL;
    if (last == a)
        last = NULL;
    if (a->buf != NULL)
        UNPOISON(a->buf, a->cap);
    free(a->buf);
    *a = (struct lw_json_arena){0};
}

void lw_json_arena_enter(struct lw_json_arena *a)
{
    a->used = 0;
    a->spilled = false;
    if (a->buf != NULL)
        POISON(a->buf, a->cap);
    current = a;
    last = a;
}

void lw_json_arena_leave(struct lw_json_arena *a)
{
    if (current == a)
        current = NULL;
    if (a->buf != NULL)
        POISON(a->buf, a->cap);
    a->used = 0;
}

void lw_json_delete(cJSON *root)
{
    struct lw_json_arena *a = current;
    if (root != NULL && a != NULL && !a->spilled && owns(a, root)) {
        a->walks_skipped++;
        return;
    }
    cJSON_Delete(root);
}
