/*
 * The JVM's unified GC log (see gclog.h for the lines and the contract).
 */
#include <leakwatch/gclog.h>

#include <string.h>

/* Larger than this is no JVM heap (8 PiB). */
#define BYTES_MAX (1ull << 53)

void lw_gclog_init(struct lw_gclog *g)
{
    memset(g, 0, sizeof(*g));
}

void lw_gclog_resync(struct lw_gclog *g)
{
    g->cur_open = false;
    g->skipping = true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Digits at s[*i..n) as a number (at most 15 digits); advances *i. */
static bool digits(const char *s, size_t n, size_t *i, uint64_t *out)
{
    size_t start = *i;
    uint64_t v = 0;
    while (*i < n && is_digit(s[*i])) {
        if (*i - start >= 15)
            return false;
        v = v * 10 + (uint64_t)(s[*i] - '0');
        (*i)++;
    }
    if (*i == start)
        return false;
    *out = v;
    return true;
}

/* A size as unified logging prints it: digits and a unit B, K, M or G. */
static bool size_at(const char *s, size_t n, size_t *i, uint64_t *bytes)
{
    uint64_t v;
    if (!digits(s, n, i, &v) || *i >= n)
        return false;
    uint64_t mult;
    switch (s[*i]) {
    case 'B':
        mult = 1;
        break;
    case 'K':
        mult = 1024;
        break;
    case 'M':
        mult = 1024 * 1024;
        break;
    case 'G':
        mult = 1024ull * 1024 * 1024;
        break;
    default:
        return false;
    }
    (*i)++;
    if (v > BYTES_MAX / mult)
        return false;
    *bytes = v * mult;
    return true;
}

/*
 * The first "...->AFTER(CAPACITY)" of s[0..n): the heap after a collection and its capacity,
 * each with its unit. "1712K(2432K)->0K(4096K)" and "5M->5M(12M)" alike.
 */
static bool after_and_capacity(const char *s, size_t n, uint64_t *after, uint64_t *capacity)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '-' || s[i + 1] != '>')
            continue;
        size_t j = i + 2;
        if (!size_at(s, n, &j, after) || j >= n || s[j] != '(')
            return false;
        j++;
        if (!size_at(s, n, &j, capacity) || j >= n || s[j] != ')')
            return false;
        return true;
    }
    return false;
}

static bool starts(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

/* "GC(<id>) ": the collection's id; *i moves past it. */
static bool gc_id(const char *s, size_t n, size_t *i, uint64_t *id)
{
    if (!starts(s + *i, n - *i, "GC("))
        return false;
    *i += 3;
    if (!digits(s, n, i, id) || *i + 1 >= n || s[*i] != ')' || s[*i + 1] != ' ')
        return false;
    *i += 2;
    return true;
}

/* The tags of a decoration ("gc", "gc,heap", "gc,init": spaces trimmed), or 0 when it is not
 * one of them. */
enum tags { T_NONE = 0, T_GC, T_GC_HEAP, T_GC_INIT };

static enum tags tags_of(const char *s, size_t n)
{
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (n == 2 && memcmp(s, "gc", 2) == 0)
        return T_GC;
    if (n == 7 && memcmp(s, "gc,heap", 7) == 0)
        return T_GC_HEAP;
    if (n == 7 && memcmp(s, "gc,init", 7) == 0)
        return T_GC_INIT;
    return T_NONE;
}

static void collection(struct lw_gclog *g, const char *m, size_t n)
{
    size_t i = 0;
    uint64_t id;
    if (!gc_id(m, n, &i, &id))
        return;
    bool full;
    if (starts(m + i, n - i, "Pause Young"))
        full = false;
    else if (starts(m + i, n - i, "Pause Full"))
        full = true;
    else
        return; /* G1's Remark and Cleanup, concurrent phases: no collection of their own */
    uint64_t after, capacity;
    if (!after_and_capacity(m + i, n - i, &after, &capacity))
        return;
    if (g->cur_open && g->cur_id == id) {
        /* the generations' lines, to the kilobyte */
        after = g->cur_after_bytes;
        capacity = g->cur_capacity_bytes;
    }
    g->cur_open = false;
    struct lw_heap_mem *h = &g->heap;
    h->after_gc_bytes = after;
    h->resident_bytes = capacity;
    h->have |= LW_HEAP_AFTER_GC | LW_HEAP_RESIDENT;
    if (full) {
        h->after_major_bytes = after;
        h->have |= LW_HEAP_AFTER_MAJOR;
        h->major_gcs++;
    } else {
        h->minor_gcs++;
    }
}

/* The heap's ceiling: its maximum capacity, less the survivor space that Serial always keeps
 * empty for the next young collection to copy into (what lives fits in eden, the other
 * survivor and the old generation: see hsperf.c). The survivor's size is the largest a DefNew
 * line has given: its maximum once the young generation has grown to its own, and until then
 * smaller (it shrinks again too), so the ceiling only comes down, and never below the true
 * one. */
static void set_limit(struct lw_gclog *g)
{
    if (g->max_capacity_bytes == 0)
        return;
    uint64_t s = g->survivor_bytes < g->max_capacity_bytes ? g->survivor_bytes : 0;
    g->heap.limit_bytes = g->max_capacity_bytes - s;
    g->heap.have |= LW_HEAP_LIMIT;
}

/* Serial's young generation: "DefNew: ... Eden: ... From: <after>(<capacity>)->...". */
static void survivor(struct lw_gclog *g, const char *m, size_t n)
{
    static const char key[] = " From: ";
    const char *at = memmem(m, n, key, sizeof(key) - 1);
    uint64_t after, capacity;
    if (at == NULL || !after_and_capacity(at, (size_t)(m + n - at), &after, &capacity) ||
        capacity == 0)
        return;
    if (capacity > g->survivor_bytes) {
        g->survivor_bytes = capacity;
        set_limit(g);
    }
}

static void generation(struct lw_gclog *g, const char *m, size_t n)
{
    size_t i = 0;
    uint64_t id;
    if (!gc_id(m, n, &i, &id))
        return;
    if (starts(m + i, n - i, "DefNew: "))
        survivor(g, m + i, n - i);
    /* "<Name>: ...": the generation's own sizes come first on its line */
    const char *colon = memchr(m + i, ':', n - i);
    uint64_t after, capacity;
    if (colon == NULL || !after_and_capacity(colon, (size_t)(m + n - colon), &after, &capacity))
        return; /* G1's region counts have no unit */
    if (!g->cur_open || g->cur_id != id) {
        g->cur_open = true;
        g->cur_id = id;
        g->cur_after_bytes = 0;
        g->cur_capacity_bytes = 0;
    }
    if (g->cur_after_bytes <= BYTES_MAX - after && g->cur_capacity_bytes <= BYTES_MAX - capacity) {
        g->cur_after_bytes += after;
        g->cur_capacity_bytes += capacity;
    }
}

static void header(struct lw_gclog *g, const char *m, size_t n)
{
    static const char key[] = "Heap Max Capacity: ";
    if (!starts(m, n, key))
        return;
    size_t i = sizeof(key) - 1;
    uint64_t bytes;
    if (size_at(m, n, &i, &bytes) && bytes > 0) {
        g->max_capacity_bytes = bytes;
        set_limit(g);
    }
}

/* One complete line, without its '\n'. */
static void line(struct lw_gclog *g, const char *s, size_t n)
{
    enum tags tags = T_NONE;
    size_t i = 0;
    /* the decorations: [uptime][level][tags] in whatever selection and order */
    while (i < n && s[i] == '[') {
        const char *close = memchr(s + i, ']', n - i);
        if (close == NULL)
            return;
        enum tags t = tags_of(s + i + 1, (size_t)(close - s - i - 1));
        if (t != T_NONE)
            tags = t;
        i = (size_t)(close - s) + 1;
    }
    while (i < n && s[i] == ' ')
        i++;
    switch (tags) {
    case T_GC:
        collection(g, s + i, n - i);
        break;
    case T_GC_HEAP:
        generation(g, s + i, n - i);
        break;
    case T_GC_INIT:
        header(g, s + i, n - i);
        break;
    case T_NONE:
        break;
    }
}

size_t lw_gclog_feed(struct lw_gclog *g, const char *buf, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (g->skipping) {
            /* the rest of a line too long to look at */
            if (nl == NULL)
                return len;
            g->skipping = false;
            g->lines++;
            pos = end + 1;
            continue;
        }
        if (nl == NULL) {
            if (len - pos > LW_GCLOG_LINE_MAX) {
                g->skipping = true;
                g->skipped++;
                return len;
            }
            break; /* the JVM is still writing it: kept for the next feed */
        }
        if (end - pos > LW_GCLOG_LINE_MAX)
            g->skipped++;
        else
            line(g, buf + pos, end - pos);
        g->lines++;
        pos = end + 1;
    }
    return pos;
}
