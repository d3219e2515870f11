/*
 * The JVM's performance-data file (see hsperf.h).
 */
#include <leakwatch/hsperf.h>

#include <string.h>

#include <leakwatch/probe_file.h>

#define PROLOGUE_BYTES 32u
#define ENTRY_HEADER_BYTES 20u

static const char *const names[LW_HSPERF_COUNTERS] = {
    [LW_HSPERF_YOUNG_GCS] = "sun.gc.collector.0.invocations",
    [LW_HSPERF_YOUNG_EXIT] = "sun.gc.collector.0.lastExitTime",
    [LW_HSPERF_FULL_GCS] = "sun.gc.collector.1.invocations",
    [LW_HSPERF_FULL_EXIT] = "sun.gc.collector.1.lastExitTime",
    [LW_HSPERF_S0_USED] = "sun.gc.generation.0.space.1.used",
    [LW_HSPERF_S1_USED] = "sun.gc.generation.0.space.2.used",
    [LW_HSPERF_OLD_USED] = "sun.gc.generation.1.space.0.used",
    [LW_HSPERF_YOUNG_CAPACITY] = "sun.gc.generation.0.capacity",
    [LW_HSPERF_OLD_CAPACITY] = "sun.gc.generation.1.capacity",
    [LW_HSPERF_YOUNG_MAX] = "sun.gc.generation.0.maxCapacity",
    [LW_HSPERF_OLD_MAX] = "sun.gc.generation.1.maxCapacity",
    [LW_HSPERF_OLD_SPACES] = "sun.gc.generation.1.spaces",
    [LW_HSPERF_EDEN_USED] = "sun.gc.generation.0.space.0.used",
    [LW_HSPERF_EDEN_MAX] = "sun.gc.generation.0.space.0.maxCapacity",
    [LW_HSPERF_S0_MAX] = "sun.gc.generation.0.space.1.maxCapacity",
    [LW_HSPERF_S1_MAX] = "sun.gc.generation.0.space.2.maxCapacity",
    [LW_HSPERF_TICKS] = "sun.os.hrt.ticks",
    [LW_HSPERF_COLLECTING] = "sun.gc.cause",
};

/* What sun.gc.cause says when no collection is under way (HotSpot's GCCause::_no_gc). */
#define NO_GC "No GC"

#define ALL_COUNTERS ((1u << LW_HSPERF_COUNTERS) - 1u)

/* sun.gc.policy.name: the collector, "Copy:MSC" for Serial, "ParScav:MSC" for Parallel,
 * "GarbageFirst" for G1. */
#define POLICY "sun.gc.policy.name"
enum collector { NOT_SAID, SERIAL_OR_PARALLEL, OTHER };

static enum collector collector_of(const char *v, size_t n)
{
    static const char *const known[] = {"Copy:MSC", "ParScav:MSC"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (n == strlen(known[i]) && memcmp(v, known[i], n) == 0)
            return SERIAL_OR_PARALLEL;
    return OTHER;
}

static uint32_t get32(const unsigned char *p, bool little)
{
    if (little)
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static int64_t get64(const unsigned char *p, bool little)
{
    uint64_t lo = get32(little ? p : p + 4, little);
    uint64_t hi = get32(little ? p + 4 : p, little);
    return (int64_t)(hi << 32 | lo);
}

/* The prologue: magic, byte order, version 2, filled in. */
static bool prologue_ok(const unsigned char *buf, size_t len, bool *little, const char **why)
{
    static const unsigned char magic[4] = {0xca, 0xfe, 0xc0, 0xc0};
    if (len < PROLOGUE_BYTES || memcmp(buf, magic, sizeof(magic)) != 0) {
        *why = "not a performance-data file";
        return false;
    }
    if (buf[4] > 1) {
        *why = "unknown byte order";
        return false;
    }
    *little = buf[4] == 1;
    if (buf[5] != 2) {
        *why = "unknown version (not 2)";
        return false;
    }
    if (buf[7] != 1) {
        *why = "not filled in yet";
        return false;
    }
    return true;
}

/* The next field of a maps line from *at: its start and length, *at moved past it. */
static size_t field(const char *line, size_t len, size_t *at, const char **start)
{
    while (*at < len && line[*at] == ' ')
        (*at)++;
    *start = line + *at;
    size_t from = *at;
    while (*at < len && line[*at] != ' ')
        (*at)++;
    return *at - from;
}

bool lw_hsperf_maps_line(const char *line, size_t len, int32_t pid, char *path, size_t cap,
                         uint64_t *inode)
{
    const char *f[5];
    size_t n[5];
    size_t at = 0;
    for (int i = 0; i < 5; i++)
        n[i] = field(line, len, &at, &f[i]);
    /* range, permissions ("rw-s": shared), offset, device, inode, then the name */
    if (n[1] != 4 || f[1][3] != 's' || n[4] == 0 || n[4] > 20)
        return false;
    uint64_t ino = 0;
    for (size_t i = 0; i < n[4]; i++) {
        if (f[4][i] < '0' || f[4][i] > '9' || ino > (UINT64_MAX - 9) / 10)
            return false;
        ino = ino * 10 + (uint64_t)(f[4][i] - '0');
    }
    while (at < len && line[at] == ' ')
        at++;
    const char *name = line + at;
    size_t name_len = len - at;
    size_t prefix = strlen(LW_HSPERF_DIR_PREFIX);
    if (name_len <= prefix || memcmp(name, LW_HSPERF_DIR_PREFIX, prefix) != 0 || pid <= 0)
        return false;
    /* "<user>/<pid>" after the prefix: one slash, and the pid in decimal after it */
    const char *slash = memchr(name + prefix, '/', name_len - prefix);
    if (slash == NULL || slash == name + prefix)
        return false;
    char want[16];
    int w = 0;
    for (int32_t v = pid; v > 0; v /= 10)
        want[w++] = (char)('0' + v % 10);
    size_t tail = (size_t)(name + name_len - (slash + 1));
    if (tail != (size_t)w)
        return false; /* also " (deleted)" after the name */
    for (int i = 0; i < w; i++)
        if (slash[1 + i] != want[w - 1 - i])
            return false;
    if (name_len >= cap)
        return false;
    for (size_t i = 0; i < name_len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false; /* the kernel escapes these: no real name of ours has one */
    memcpy(path, name, name_len);
    path[name_len] = '\0';
    *inode = ino;
    return true;
}

enum lw_err lw_hsperf_layout_parse(const unsigned char *buf, size_t len,
                                   struct lw_hsperf_layout *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    bool little = false;
    if (!prologue_ok(buf, len, &little, why))
        return LW_ERR_INVALID;
    if (len > LW_HSPERF_READ_MAX)
        len = LW_HSPERF_READ_MAX;
    /* Only the part in use: the rest of the file is zeros the JVM has not handed out yet. */
    uint32_t used = get32(buf + 8, little);
    if (used < len)
        len = used;
    uint32_t at = get32(buf + 24, little);
    uint32_t n = get32(buf + 28, little);
    if (n > LW_HSPERF_ENTRIES_MAX)
        n = LW_HSPERF_ENTRIES_MAX;
    struct lw_hsperf_layout l = {.little_endian = little};
    enum collector policy = NOT_SAID;
    for (uint32_t i = 0; i < n && (l.have != ALL_COUNTERS || policy == NOT_SAID); i++) {
        if (at < PROLOGUE_BYTES || at > len || len - at < ENTRY_HEADER_BYTES)
            break;
        const unsigned char *e = buf + at;
        uint32_t entry_len = get32(e, little);
        uint32_t name_at = get32(e + 4, little);
        uint32_t vector_len = get32(e + 8, little);
        uint32_t data_at = get32(e + 16, little);
        if (entry_len < ENTRY_HEADER_BYTES || entry_len > len - at)
            break; /* a broken chain: nothing after it can be found */
        at += entry_len;
        if (name_at < ENTRY_HEADER_BYTES || name_at >= entry_len || data_at > entry_len)
            continue;
        const char *name = (const char *)e + name_at;
        const char *nul = memchr(name, '\0', entry_len - name_at);
        if (nul == NULL)
            continue;
        size_t name_len = (size_t)(nul - name);
        if (e[12] == 'B' && name_len == strlen(POLICY) && memcmp(name, POLICY, name_len) == 0) {
            size_t room = entry_len - data_at;
            size_t n_policy = vector_len < room ? vector_len : room;
            const char *v = (const char *)e + data_at;
            const char *end = memchr(v, '\0', n_policy);
            policy = collector_of(v, end ? (size_t)(end - v) : n_policy);
            continue;
        }
        const char *cause = names[LW_HSPERF_COLLECTING];
        if (e[12] == 'B' && name_len == strlen(cause) && memcmp(name, cause, name_len) == 0 &&
            !(l.have & (1u << LW_HSPERF_COLLECTING))) {
            uint32_t room = entry_len - data_at;
            uint32_t n_cause = vector_len < room ? vector_len : room;
            if (n_cause <= strlen(NO_GC))
                continue; /* too short to say "No GC" and its NUL: not HotSpot's */
            uint32_t off = (uint32_t)(e - buf) + data_at;
            l.offset[LW_HSPERF_COLLECTING] = off;
            l.have |= 1u << LW_HSPERF_COLLECTING;
            if (off + n_cause > l.end)
                l.end = off + n_cause;
            continue;
        }
        if (e[12] != 'J' || vector_len != 0 || entry_len - data_at < 8)
            continue;
        for (int c = 0; c < LW_HSPERF_COUNTERS; c++) {
            if ((l.have & (1u << c)) || strlen(names[c]) != name_len ||
                memcmp(names[c], name, name_len) != 0)
                continue;
            uint32_t off = (uint32_t)(e - buf) + data_at;
            l.offset[c] = off;
            l.have |= 1u << c;
            if (off + 8 > l.end)
                l.end = off + 8;
            break;
        }
    }
    if (policy != SERIAL_OR_PARALLEL) {
        /* G1 says each generation may take the whole heap, and frees its old generation in
         * concurrent cycles that are not full collections: the figures would mean something
         * else. ZGC and Shenandoah keep no generations here at all. */
        *why = "a collector other than Serial or Parallel (the heap's figures are read for "
               "those two)";
        return LW_ERR_INVALID;
    }
    if (l.have != ALL_COUNTERS) {
        *why = "a counter of the heap missing";
        return LW_ERR_INVALID;
    }
    int64_t v[LW_HSPERF_COUNTERS];
    if (lw_hsperf_read(&l, buf, len, v, why) != LW_OK)
        return LW_ERR_INVALID;
    if (v[LW_HSPERF_OLD_SPACES] != 1) {
        *why = "not a generational heap of Serial or Parallel shape";
        return LW_ERR_INVALID;
    }
    *out = l;
    return LW_OK;
}

enum lw_err lw_hsperf_read(const struct lw_hsperf_layout *layout, const unsigned char *buf,
                           size_t len, int64_t values[LW_HSPERF_COUNTERS], const char **why)
{
    memset(values, 0, sizeof(int64_t) * LW_HSPERF_COUNTERS);
    bool little = false;
    if (!prologue_ok(buf, len, &little, why))
        return LW_ERR_INVALID;
    if (layout->have != ALL_COUNTERS || little != layout->little_endian || len < layout->end) {
        *why = "shorter than its counters";
        return LW_ERR_INVALID;
    }
    for (int c = 0; c < LW_HSPERF_COUNTERS; c++) {
        if (c == LW_HSPERF_COLLECTING) {
            /* "No GC" and its NUL; the string's bytes are within layout->end */
            const unsigned char *cause = buf + layout->offset[c];
            values[c] = memcmp(cause, NO_GC, sizeof(NO_GC)) != 0;
            continue;
        }
        int64_t v = get64(buf + layout->offset[c], little);
        if (v < 0 || (uint64_t)v > LW_PROBE_BYTES_MAX) {
            *why = "a counter out of range";
            memset(values, 0, sizeof(int64_t) * LW_HSPERF_COUNTERS);
            return LW_ERR_INVALID;
        }
        values[c] = v;
    }
    return LW_OK;
}

void lw_hsperf_heap(struct lw_hsperf_track *track, const int64_t v[LW_HSPERF_COUNTERS],
                    struct lw_heap_mem *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t kept = (uint64_t)v[LW_HSPERF_OLD_USED] + (uint64_t)v[LW_HSPERF_S0_USED] +
                    (uint64_t)v[LW_HSPERF_S1_USED];
    uint64_t full = (uint64_t)v[LW_HSPERF_FULL_GCS];
    uint64_t young = (uint64_t)v[LW_HSPERF_YOUNG_GCS];
    bool full_last = full > 0 && v[LW_HSPERF_FULL_EXIT] >= v[LW_HSPERF_YOUNG_EXIT];
    /* A collection under way: its count has moved on and the figures have not, or only some
     * of them. Read then, eden full of garbage made the whole heap look kept. */
    bool collecting = v[LW_HSPERF_COLLECTING] != 0;
    /* A full collection since the previous reading, and the last one: what it left. It moves
     * what lives into the old generation as far as that has room; what does not fit stays in
     * eden. HotSpot writes eden's figure at the collection's end and again each time its
     * sampler runs (every 50 ms), with the time of that run in sun.os.hrt.ticks, on the clock
     * of lastExitTime: until then eden holds exactly what the collection left. After, it also
     * holds what was allocated since, and the two cannot be told apart: eden then counts when
     * the old generation as committed now could not have taken it. The figure is then high by
     * what was allocated after the collection; where the old generation was enlarged after the
     * collection, what it left in eden is missed (low). Measured against the smaller of the
     * capacities before and after (never low), a slow leak's figures came out up to 2.9 MiB
     * high while its heap grew, and its projections up to 9.9% early, against 3.6% this way
     * (docs/runtime-insight.md). */
    if (!collecting && full_last && track->have_prev && full != track->prev_full) {
        uint64_t eden = (uint64_t)v[LW_HSPERF_EDEN_USED];
        uint64_t old_used = (uint64_t)v[LW_HSPERF_OLD_USED];
        uint64_t old_cap = (uint64_t)v[LW_HSPERF_OLD_CAPACITY];
        bool eden_as_left = v[LW_HSPERF_TICKS] < v[LW_HSPERF_FULL_EXIT];
        track->have_major = true;
        track->major_gcs = full;
        track->after_major = kept + (eden_as_left || old_used + eden > old_cap ? eden : 0);
    }
    out->minor_gcs = young;
    if (collecting) {
        /* nothing after a collection, and the track waits for a settled reading */
    } else if (young > 0 && !full_last) {
        out->after_gc_bytes = kept;
        out->have |= LW_HEAP_AFTER_GC;
    } else if (full_last && track->have_major && track->major_gcs == full) {
        out->after_gc_bytes = track->after_major;
        out->have |= LW_HEAP_AFTER_GC;
    }
    if (track->have_major) {
        out->after_major_bytes = track->after_major;
        out->major_gcs = track->major_gcs;
        out->have |= LW_HEAP_AFTER_MAJOR;
    }
    out->resident_bytes =
        (uint64_t)v[LW_HSPERF_YOUNG_CAPACITY] + (uint64_t)v[LW_HSPERF_OLD_CAPACITY];
    out->limit_bytes = (uint64_t)v[LW_HSPERF_YOUNG_MAX] + (uint64_t)v[LW_HSPERF_OLD_MAX];
    /* Where eden and two equal survivors tile the young generation (Serial's fixed layout), one
     * survivor is always the empty space the next young collection copies into: what lives
     * fits in eden, one survivor and the old generation. A JVM with a 436 MiB heap (-Xmx of
     * 445644k, 14.5 MiB survivors) failed with 420 MiB retained after its last full
     * collection. Parallel sizes its survivors as it goes (their maximum and eden's exceed the
     * generation's): its figure stays the whole heap's. */
    int64_t s_max = v[LW_HSPERF_S1_MAX];
    if (s_max > 0 && v[LW_HSPERF_S0_MAX] == s_max &&
        v[LW_HSPERF_EDEN_MAX] + 2 * s_max == v[LW_HSPERF_YOUNG_MAX])
        out->limit_bytes -= (uint64_t)s_max;
    out->have |= LW_HEAP_RESIDENT;
    if (out->limit_bytes > 0)
        out->have |= LW_HEAP_LIMIT;
    if (!collecting) {
        track->have_prev = true;
        track->prev_full = full;
    }
}
