#include <leakwatch/intervals.h>

#include <string.h>

#define EMPTY 0u
#define DELETED 1u
#define MASK (LW_INTERVALS_TRACKED - 1u)

_Static_assert((LW_INTERVALS_TRACKED & MASK) == 0, "the table size is a power of two");

void lw_intervals_init(struct lw_intervals *iv, uint64_t seed, uint32_t interval_ms)
{
    memset(iv, 0, sizeof(*iv));
    iv->seed = seed;
    if (interval_ms > 0)
        iv->give_up_takes = (LW_INTERVALS_GIVE_UP_MS + interval_ms - 1) / interval_ms + 1;
}

/* FNV-1a over the id, started from the seed, then mixed (splitmix64's finaliser) so that the
 * low bits used for the slot depend on every byte. Never EMPTY or DELETED. */
static uint64_t key_of(const struct lw_intervals *iv, const char *id)
{
    uint64_t h = 0xcbf29ce484222325ull ^ iv->seed;
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h > DELETED ? h : h + 2;
}

/* The slot holding key, or -1. */
static int find(const struct lw_intervals *iv, uint64_t key)
{
    for (uint32_t i = 0, s = (uint32_t)key & MASK; i < LW_INTERVALS_TRACKED;
         i++, s = (s + 1) & MASK) {
        if (iv->slots[s] == EMPTY)
            return -1;
        if (iv->slots[s] == key)
            return (int)s;
    }
    return -1;
}

/* Deleted slots make probes longer until an empty one: past a quarter of the table, the live
 * keys are put back in a clean table. */
static void purge(struct lw_intervals *iv)
{
    uint64_t live[LW_INTERVALS_TRACKED];
    uint32_t born[LW_INTERVALS_TRACKED];
    uint32_t n = 0;
    for (uint32_t s = 0; s < LW_INTERVALS_TRACKED; s++)
        if (iv->slots[s] > DELETED) {
            live[n] = iv->slots[s];
            born[n++] = iv->born[s];
        }
    memset(iv->slots, 0, sizeof(iv->slots));
    iv->deleted = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = (uint32_t)live[i] & MASK;
        while (iv->slots[s] != EMPTY)
            s = (s + 1) & MASK;
        iv->slots[s] = live[i];
        iv->born[s] = born[i];
    }
}

static enum lw_intervals_outcome start(struct lw_intervals *iv, uint64_t key)
{
    if (find(iv, key) >= 0)
        return LW_INTERVALS_REPEATED;
    /* keep one slot empty at least, so that every probe ends */
    if (iv->used + 1 >= LW_INTERVALS_TRACKED)
        return LW_INTERVALS_FULL;
    if (iv->deleted > LW_INTERVALS_TRACKED / 4)
        purge(iv);
    uint32_t s = (uint32_t)key & MASK;
    while (iv->slots[s] > DELETED)
        s = (s + 1) & MASK;
    if (iv->slots[s] == DELETED)
        iv->deleted--;
    iv->slots[s] = key;
    iv->born[s] = iv->takes;
    iv->used++;
    return LW_INTERVALS_STARTED;
}

enum lw_intervals_outcome lw_intervals_event(struct lw_intervals *iv,
                                             const struct lw_platform_event *ev)
{
    if ((ev->type != LW_EV_START && ev->type != LW_EV_REPORT) || ev->request_id[0] == '\0')
        return LW_INTERVALS_IGNORED;
    uint64_t key = key_of(iv, ev->request_id);
    if (ev->type == LW_EV_START) {
        enum lw_intervals_outcome o = start(iv, key);
        if (o == LW_INTERVALS_STARTED)
            iv->current.started++;
        return o;
    }
    int s = find(iv, key);
    if (s < 0)
        return LW_INTERVALS_UNSTARTED;
    iv->slots[s] = DELETED;
    iv->used--;
    iv->deleted++;
    struct lw_interval_stats *c = &iv->current;
    c->requests++;
    if (strcmp(ev->status, "error") == 0 || strcmp(ev->status, "failure") == 0)
        c->errors++;
    else if (strcmp(ev->status, "timeout") == 0)
        c->timeouts++;
    if (strcmp(ev->error_type, "Runtime.OutOfMemory") == 0)
        c->out_of_memory++;
    if ((ev->fields & LW_EVF_DURATION) && ev->duration_ms >= 0) {
        c->timed++;
        c->duration_sum_ms += ev->duration_ms;
        if (ev->duration_ms > c->duration_max_ms)
            c->duration_max_ms = ev->duration_ms;
    }
    return LW_INTERVALS_COUNTED;
}

void lw_intervals_take(struct lw_intervals *iv, struct lw_interval_stats *out)
{
    iv->takes++;
    if (iv->give_up_takes > 0 && iv->used > 0) {
        /* one pass over a few KiB every interval (seconds): cheap next to the reading */
        for (uint32_t s = 0; s < LW_INTERVALS_TRACKED; s++) {
            if (iv->slots[s] > DELETED && iv->takes - iv->born[s] > iv->give_up_takes) {
                iv->slots[s] = DELETED;
                iv->used--;
                iv->deleted++;
                iv->current.given_up++;
            }
        }
    }
    *out = iv->current;
    memset(&iv->current, 0, sizeof(iv->current));
}

uint32_t lw_intervals_in_flight(const struct lw_intervals *iv)
{
    return iv->used;
}
