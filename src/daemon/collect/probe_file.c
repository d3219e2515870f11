/*
 * The probe file's parser (see probe_file.h for the format and the contract).
 */
#include <leakwatch/probe_file.h>

#include <stdbool.h>
#include <string.h>

#include <leakwatch/text.h>

#define MAGIC "leakwatch-probe 1\n"
#define SITE_LINES_MAX 16
#define PID_MAX 4194304 /* the kernel's highest pid_max */

uint32_t lw_probe_file_fnv1a(const char *buf, size_t len)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)buf[i];
        h *= 0x01000193u;
    }
    return h;
}

/* A whole unsigned decimal of s[0..n) up to max; false otherwise. */
static bool parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (!lw_text_parse_u64(s, n, &v) || v > max)
        return false;
    *out = v;
    return true;
}

/* An optionally negative decimal, |v| <= max. */
static bool parse_i64(const char *s, size_t n, uint64_t max, int64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    uint64_t v;
    if (!parse_u64(s + neg, n - neg, max, &v))
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static bool parse_hex32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v;
    if (n != 8 || !lw_text_parse_hex_u64(s, n, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* The numeric keys, each at most once. */
enum key {
    K_PID,
    K_START,
    K_UPDATES,
    K_GC_MAJOR,
    K_GC_MINOR,
    K_AFTER_GC,
    K_AFTER_MAJOR,
    K_RESIDENT,
    K_LIMIT,
    K_EXTERNAL,
    K_ARRAY_BUFFERS,
    K_BLOCKS,
    K_OLD_COMMITTED,
    K_TRACEMALLOC,
    K_SITES,
    K_COUNT
};

static const struct {
    const char *name;
    uint64_t max;
    uint32_t heap_bit; /* the lw_heap_mem field it fills, 0: none */
} keys[K_COUNT] = {
    [K_PID] = {"pid", PID_MAX, 0},
    [K_START] = {"start", UINT64_MAX >> 1, 0},
    [K_UPDATES] = {"updates", UINT64_MAX >> 1, 0},
    [K_GC_MAJOR] = {"gc_major", UINT64_MAX >> 1, 0},
    [K_GC_MINOR] = {"gc_minor", UINT64_MAX >> 1, 0},
    [K_AFTER_GC] = {"heap_after_gc", LW_PROBE_BYTES_MAX, LW_HEAP_AFTER_GC},
    [K_AFTER_MAJOR] = {"heap_after_major", LW_PROBE_BYTES_MAX, LW_HEAP_AFTER_MAJOR},
    [K_RESIDENT] = {"heap_resident", LW_PROBE_BYTES_MAX, LW_HEAP_RESIDENT},
    [K_LIMIT] = {"heap_limit", LW_PROBE_BYTES_MAX, LW_HEAP_LIMIT},
    [K_EXTERNAL] = {"external", LW_PROBE_BYTES_MAX, LW_HEAP_EXTERNAL},
    [K_ARRAY_BUFFERS] = {"array_buffers", LW_PROBE_BYTES_MAX, LW_HEAP_ARRAY_BUFFERS},
    [K_BLOCKS] = {"blocks", LW_PROBE_BYTES_MAX, LW_HEAP_BLOCKS},
    [K_OLD_COMMITTED] = {"old_committed", LW_PROBE_BYTES_MAX, LW_HEAP_OLD_COMMITTED},
    [K_TRACEMALLOC] = {"tracemalloc", 64, 0},
    [K_SITES] = {"sites", UINT32_MAX, 0},
};

static void put_heap(struct lw_heap_mem *h, enum key k, uint64_t v)
{
    switch (k) {
    case K_AFTER_GC:
        h->after_gc_bytes = v;
        break;
    case K_AFTER_MAJOR:
        h->after_major_bytes = v;
        break;
    case K_RESIDENT:
        h->resident_bytes = v;
        break;
    case K_LIMIT:
        h->limit_bytes = v;
        break;
    case K_EXTERNAL:
        h->external_bytes = v;
        break;
    case K_ARRAY_BUFFERS:
        h->array_buffers_bytes = v;
        break;
    case K_BLOCKS:
        h->blocks = v;
        break;
    case K_OLD_COMMITTED:
        h->old_committed_bytes = v;
        break;
    case K_GC_MAJOR:
        h->major_gcs = v;
        break;
    case K_GC_MINOR:
        h->minor_gcs = v;
        break;
    default:
        return;
    }
    h->have |= keys[k].heap_bit;
}

/* "site <bytes> <count> <where>": one more candidate, kept when it grew among the most. */
static bool add_site(struct lw_alloc_sites *s, const char *v, size_t n)
{
    const char *sp1 = memchr(v, ' ', n);
    if (sp1 == NULL)
        return false;
    const char *rest = sp1 + 1;
    const char *sp2 = memchr(rest, ' ', (size_t)(v + n - rest));
    if (sp2 == NULL)
        return false;
    struct lw_alloc_site site;
    memset(&site, 0, sizeof(site));
    const char *where = sp2 + 1;
    size_t wn = (size_t)(v + n - where);
    if (!parse_i64(v, (size_t)(sp1 - v), LW_PROBE_BYTES_MAX, &site.growth_bytes) ||
        !parse_i64(rest, (size_t)(sp2 - rest), LW_PROBE_BYTES_MAX, &site.growth_count) || wn == 0)
        return false;
    for (size_t i = 0; i < wn; i++)
        if ((unsigned char)where[i] < 0x20 || where[i] == 0x7f)
            return false;
    /* too long: keep its end, where the file name and the line number are */
    if (wn > sizeof(site.where) - 1) {
        where += wn - (sizeof(site.where) - 1);
        wn = sizeof(site.where) - 1;
        /* not in the middle of a UTF-8 sequence */
        while (wn > 0 && ((unsigned char)where[0] & 0xc0) == 0x80) {
            where++;
            wn--;
        }
    }
    memcpy(site.where, where, wn);
    site.where[wn] = '\0';
    /* insertion into the few kept, largest growth first */
    size_t at = s->n;
    while (at > 0 && s->site[at - 1].growth_bytes < site.growth_bytes)
        at--;
    if (at >= LW_SITES_MAX)
        return true;
    size_t last = s->n < LW_SITES_MAX ? s->n : LW_SITES_MAX - 1;
    memmove(&s->site[at + 1], &s->site[at], (last - at) * sizeof(s->site[0]));
    s->site[at] = site;
    if (s->n < LW_SITES_MAX)
        s->n++;
    return true;
}

static enum lw_err fail(struct lw_probe_report *out, const char **why, const char *what)
{
    memset(out, 0, sizeof(*out));
    if (why)
        *why = what;
    return LW_ERR_INVALID;
}

enum lw_err lw_probe_file_parse(const char *buf, size_t len, struct lw_probe_report *out,
                                const char **why)
{
    memset(out, 0, sizeof(*out));
    if (buf == NULL)
        return fail(out, why, "empty");
    const char *nul = memchr(buf, '\0', len);
    size_t n = nul ? (size_t)(nul - buf) : len;
    size_t ml = sizeof(MAGIC) - 1;
    if (n < ml || memcmp(buf, MAGIC, ml) != 0)
        return fail(out, why, "not a leakwatch probe file");
    bool seen[K_COUNT] = {false};
    bool have_runtime = false, have_end = false;
    size_t site_lines = 0;
    for (size_t pos = ml; pos < n;) {
        const char *line = buf + pos;
        const char *eol = memchr(line, '\n', n - pos);
        if (eol == NULL)
            return fail(out, why, "a line without its end (a write half done?)");
        size_t ll = (size_t)(eol - line);
        const char *sp = memchr(line, ' ', ll);
        if (sp == NULL)
            return fail(out, why, "a line without a value");
        size_t kl = (size_t)(sp - line);
        const char *v = sp + 1;
        size_t vn = ll - kl - 1;
        if (kl == 3 && memcmp(line, "end", 3) == 0) {
            uint32_t want;
            if (!parse_hex32(v, vn, &want))
                return fail(out, why, "a bad end line");
            if (lw_probe_file_fnv1a(buf, pos) != want)
                return fail(out, why, "bad checksum (a write half done?)");
            if (pos + ll + 1 != n)
                return fail(out, why, "text after the end line");
            have_end = true;
            break;
        }
        if (kl == 7 && memcmp(line, "runtime", 7) == 0) {
            if (have_runtime)
                return fail(out, why, "runtime given twice");
            have_runtime = true;
            if (vn == 4 && memcmp(v, "node", 4) == 0)
                out->kind = LW_PROBE_NODE;
            else if (vn == 6 && memcmp(v, "python", 6) == 0)
                out->kind = LW_PROBE_PYTHON;
            else
                return fail(out, why, "an unknown runtime");
        } else if (kl == 4 && memcmp(line, "site", 4) == 0) {
            if (++site_lines <= SITE_LINES_MAX && !add_site(&out->sites, v, vn))
                return fail(out, why, "a bad site line");
        } else {
            enum key k = K_COUNT;
            for (int i = 0; i < K_COUNT && k == K_COUNT; i++)
                if (strlen(keys[i].name) == kl && memcmp(keys[i].name, line, kl) == 0)
                    k = (enum key)i;
            if (k != K_COUNT) {
                uint64_t x;
                if (seen[k])
                    return fail(out, why, "a key given twice");
                if (!parse_u64(v, vn, keys[k].max, &x))
                    return fail(out, why, "a number out of range");
                seen[k] = true;
                if (k == K_PID)
                    out->pid = (int32_t)x;
                else if (k == K_START)
                    out->start_ticks = x;
                else if (k == K_UPDATES)
                    out->updates = x;
                else if (k == K_TRACEMALLOC)
                    out->tracemalloc_frames = (uint32_t)x;
                else if (k == K_SITES)
                    out->sites.request = (uint32_t)x;
                else
                    put_heap(&out->heap, k, x);
            }
            /* an unknown key: a newer probe's, ignored */
        }
        pos += ll + 1;
    }
    if (!have_end)
        return fail(out, why, "no end line (a write half done?)");
    if (!have_runtime || !seen[K_PID] || out->pid < 1 || !seen[K_START])
        return fail(out, why, "runtime, pid or start missing");
    if (out->sites.request == 0)
        out->sites.n = 0; /* sites answer a request, or they are none */
    return LW_OK;
}
