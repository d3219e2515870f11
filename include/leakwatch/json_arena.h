/*
 * A bump allocator for cJSON on the per-invocation paths. cJSON builds and parses trees of
 * small nodes, each a malloc (and a key or string beside it), and frees them one by one: for an
 * EMF line or a Telemetry API batch that was hundreds of allocator calls per invocation, a
 * quarter of leakwatch's instructions. Inside a scope (lw_json_arena_enter ... leave) the
 * calling thread's cJSON allocations come from the arena's buffer and its frees cost nothing;
 * leaving the scope takes the whole buffer back at once. What does not fit falls through to
 * malloc and free, so a large document still parses.
 *
 * Rules: a scope belongs to one thread and does not nest; every cJSON tree made inside a scope
 * is deleted (or abandoned) before the scope is left, and none made outside is deleted inside
 * one that is not its own. Outside any scope the hooks are plain malloc and free.
 */
#ifndef LEAKWATCH_JSON_ARENA_H
#define LEAKWATCH_JSON_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lw_json_arena {
    unsigned char *buf;
    size_t cap;
    size_t used;
    size_t high;             /* the most used in one scope */
    uint64_t fallback_bytes; /* requested but not fitting: served by malloc */
    bool spilled;            /* this scope has served something from malloc */
    uint64_t walks_skipped;  /* trees lw_json_delete left to the scope's end */
};

struct cJSON;

/* Makes cJSON allocate through the arena hooks. Once per process, before any thread uses
 * cJSON; calling it again changes nothing. */
void lw_json_arena_install(void);

/* A buffer of cap bytes (pages become resident as they are first used). false: no memory; the
 * arena then serves nothing and everything goes to malloc. */
bool lw_json_arena_init(struct lw_json_arena *a, size_t cap);
void lw_json_arena_clean_up(struct lw_json_arena *a);

/* This thread's cJSON allocations come from a until lw_json_arena_leave(a). */
void lw_json_arena_enter(struct lw_json_arena *a);
void lw_json_arena_leave(struct lw_json_arena *a);

/* cJSON_Delete, without its walk when there is nothing to free: a tree whose root is in the
 * current scope's arena, in a scope that has served nothing from malloc, is all the arena's, and
 * leaving the scope takes it back (a Telemetry API batch of six invocations' events: about
 * 30,000 instructions of walking). Anything else is deleted node by node. */
void lw_json_delete(struct cJSON *root);

#endif
