/*
 * /proc text parsers. Every scan is bounded by the (pointer, length) the caller passes; numbers
 * are parsed by hand because strtoull needs a NUL the input does not have.
 */
#include <leakwatch/procfs.h>

#include <string.h>

/*
 * Parses an unsigned decimal at [p, end). Stops at the first non-digit. Returns LW_OK,
 * LW_ERR_INVALID when there is no digit or the value exceeds max.
 */
static enum lw_err parse_u64(const char *p, const char *end, uint64_t max, uint64_t *out,
                             const char **next)
{
    uint64_t v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return LW_ERR_INVALID;
        v = v * 10 + d;
        p++;
    }
    if (p == start)
        return LW_ERR_INVALID;
    *out = v;
    *next = p;
    return LW_OK;
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

void lw_procfs_copy_name(char *dst, size_t cap, const char *src, size_t len)
{
    if (cap == 0)
        return;
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
    }
    dst[n] = '\0';
}

/* ---- /proc/PID/status ------------------------------------------------------------------- */

/* "  12345 kB" (after the colon) → bytes. The unit must be there: the kernel always writes it. */
static enum lw_err parse_kb(const char *p, const char *end, uint64_t *bytes)
{
    uint64_t kb;
    p = skip_blanks(p, end);
    if (parse_u64(p, end, UINT64_MAX / 1024, &kb, &p) != LW_OK)
        return LW_ERR_INVALID;
    p = skip_blanks(p, end);
    if (end - p < 2 || memcmp(p, "kB", 2) != 0)
        return LW_ERR_INVALID;
    p = skip_blanks(p + 2, end);
    if (p != end)
        return LW_ERR_INVALID;
    *bytes = kb * 1024;
    return LW_OK;
}

static enum lw_err parse_i32_field(const char *p, const char *end, int32_t *out)
{
    uint64_t v;
    p = skip_blanks(p, end);
    if (parse_u64(p, end, INT32_MAX, &v, &p) != LW_OK)
        return LW_ERR_INVALID;
    if (skip_blanks(p, end) != end)
        return LW_ERR_INVALID;
    *out = (int32_t)v;
    return LW_OK;
}

struct mem_key {
    const char *key; /* including the colon */
    size_t key_len;
    uint32_t bit;
    size_t offset; /* into struct lw_proc_mem */
};

#define MEM_KEY(k, b, field)                                                                       \
    {                                                                                              \
        k, sizeof(k) - 1, b, offsetof(struct lw_proc_mem, field)                                   \
    }
static const struct mem_key mem_keys[] = {
    MEM_KEY("VmRSS:", LW_STATUS_VMRSS, rss_bytes),
    MEM_KEY("RssAnon:", LW_STATUS_RSSANON, rss_anon_bytes),
    MEM_KEY("RssFile:", LW_STATUS_RSSFILE, rss_file_bytes),
    MEM_KEY("RssShmem:", LW_STATUS_RSSSHMEM, rss_shmem_bytes),
    MEM_KEY("VmHWM:", LW_STATUS_VMHWM, hwm_bytes),
};
#undef MEM_KEY

#define STATUS_ALL                                                                                 \
    (LW_STATUS_NAME | LW_STATUS_STATE | LW_STATUS_PID | LW_STATUS_PPID | LW_STATUS_MEM_ALL |       \
     LW_STATUS_THREADS)

static bool has_key(const char *line, size_t line_len, const char *key, size_t key_len)
{
    return line_len >= key_len && memcmp(line, key, key_len) == 0;
}

/* One complete status line, without its '\n'. Unknown keys are ignored. */
static enum lw_err status_line(const char *line, size_t line_len, struct lw_status_info *out)
{
    const char *end = line + line_len;

    /* Every key read here starts with one of these letters; most of the file's ~55 lines
     * (Sig*, Cap*, Cpus_allowed, ...) are passed over on their first byte. */
    if (line_len == 0 || !memchr("NSPVRT", line[0], 6))
        return LW_OK;

    if (has_key(line, line_len, "Name:", 5)) {
        const char *v = line + 5;
        if (v < end && *v == '\t') /* exactly one tab; the name itself may start with blanks */
            v++;
        lw_procfs_copy_name(out->name, sizeof(out->name), v, (size_t)(end - v));
        out->present |= LW_STATUS_NAME;
        return LW_OK;
    }
    if (has_key(line, line_len, "State:", 6)) {
        const char *v = skip_blanks(line + 6, end);
        if (v == end || *v < 'A' || *v > 'Z')
            return LW_ERR_INVALID;
        out->state = *v;
        out->present |= LW_STATUS_STATE;
        return LW_OK;
    }
    if (has_key(line, line_len, "Pid:", 4)) {
        if (parse_i32_field(line + 4, end, &out->pid) != LW_OK)
            return LW_ERR_INVALID;
        out->present |= LW_STATUS_PID;
        return LW_OK;
    }
    if (has_key(line, line_len, "PPid:", 5)) {
        if (parse_i32_field(line + 5, end, &out->ppid) != LW_OK)
            return LW_ERR_INVALID;
        out->present |= LW_STATUS_PPID;
        return LW_OK;
    }
    if (has_key(line, line_len, "Threads:", 8)) {
        if (parse_i32_field(line + 8, end, &out->threads) != LW_OK)
            return LW_ERR_INVALID;
        out->present |= LW_STATUS_THREADS;
        return LW_OK;
    }
    for (size_t i = 0; i < sizeof(mem_keys) / sizeof(mem_keys[0]); i++) {
        const struct mem_key *k = &mem_keys[i];
        if (k->key[0] != line[0] || !has_key(line, line_len, k->key, k->key_len))
            continue;
        uint64_t bytes;
        if (parse_kb(line + k->key_len, end, &bytes) != LW_OK)
            return LW_ERR_INVALID;
        memcpy((char *)&out->mem + k->offset, &bytes, sizeof(bytes));
        out->present |= k->bit;
        return LW_OK;
    }
    return LW_OK;
}

enum lw_err lw_procfs_parse_status(const char *buf, size_t len, struct lw_status_info *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = buf;
    const char *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* a line cut off by a short read: ignored, never half-parsed */
        if (status_line(p, (size_t)(nl - p), out) != LW_OK) {
            memset(out, 0, sizeof(*out));
            return LW_ERR_INVALID;
        }
        p = nl + 1;
        /* Threads is the last key read here in the kernel's order: the ~25 lines after it
         * (SigQ ... Sig*, Cap*, Cpus_allowed) are not looked at */
        if (out->present == STATUS_ALL)
            break;
    }
    if (!(out->present & LW_STATUS_NAME)) {
        memset(out, 0, sizeof(*out));
        return LW_ERR_NEED_MORE;
    }
    return LW_OK;
}

/* ---- /proc/PID/task/TID/children --------------------------------------------------------- */

size_t lw_procfs_parse_children(const char *buf, size_t len, int32_t *out, size_t cap)
{
    const char *p = buf;
    const char *end = buf + len;
    size_t n = 0;
    while (n < cap) {
        while (p < end && (*p == ' ' || *p == '\n'))
            p++;
        uint64_t pid;
        const char *next;
        if (p == end || parse_u64(p, end, INT32_MAX, &pid, &next) != LW_OK || next == end ||
            (*next != ' ' && *next != '\n') || pid == 0)
            break;
        out[n++] = (int32_t)pid;
        p = next;
    }
    return n;
}

/* ---- /proc/PID/stat --------------------------------------------------------------------- */

/*
 * The next space-separated field at *p. Returns LW_ERR_NEED_MORE when the input ends before the
 * field's terminator (a space or newline) so that a cut-off field is never used.
 */
static enum lw_err next_field(const char **p, const char *end, const char **field, size_t *len)
{
    const char *s = *p;
    const char *q = s;
    while (q < end && *q != ' ' && *q != '\n')
        q++;
    if (q == end)
        return LW_ERR_NEED_MORE;
    if (q == s)
        return LW_ERR_INVALID;
    *field = s;
    *len = (size_t)(q - s);
    *p = q + 1;
    return LW_OK;
}

static enum lw_err field_u64(const char *f, size_t len, uint64_t max, uint64_t *out)
{
    const char *next;
    if (parse_u64(f, f + len, max, out, &next) != LW_OK || next != f + len)
        return LW_ERR_INVALID;
    return LW_OK;
}

static enum lw_err parse_stat(const char *buf, size_t len, struct lw_stat_info *out)
{
    const char *end = buf + len;
    const char *p = buf;
    uint64_t v;

    /* field 1: pid, then " (" */
    const char *sp = memchr(buf, ' ', len);
    if (!sp)
        return len > 10 ? LW_ERR_INVALID : LW_ERR_NEED_MORE;
    if (field_u64(buf, (size_t)(sp - buf), INT32_MAX, &v) != LW_OK)
        return LW_ERR_INVALID;
    out->pid = (int32_t)v;
    p = sp + 1;
    if (p == end)
        return LW_ERR_NEED_MORE;
    if (*p != '(')
        return LW_ERR_INVALID;
    const char *comm = p + 1;

    /* field 2: comm, up to the LAST ')' */
    const char *close = NULL;
    for (const char *q = end; q > comm; q--) {
        if (q[-1] == ')') {
            close = q - 1;
            break;
        }
    }
    if (!close)
        return LW_ERR_NEED_MORE;
    lw_procfs_copy_name(out->comm, sizeof(out->comm), comm, (size_t)(close - comm));
    p = close + 1;
    if (p == end)
        return LW_ERR_NEED_MORE;
    if (*p != ' ')
        return LW_ERR_INVALID;
    p++;

    const char *f;
    size_t flen;
    enum lw_err err;
    /* field 3: state, one letter */
    if ((err = next_field(&p, end, &f, &flen)) != LW_OK)
        return err;
    if (flen != 1 || !((*f >= 'A' && *f <= 'Z') || (*f >= 'a' && *f <= 'z')))
        return LW_ERR_INVALID;
    out->state = *f;

    for (int field = 4; field <= 22; field++) {
        if ((err = next_field(&p, end, &f, &flen)) != LW_OK)
            return err;
        switch (field) {
        case 4:
            if (field_u64(f, flen, INT32_MAX, &v) != LW_OK)
                return LW_ERR_INVALID;
            out->ppid = (int32_t)v;
            break;
        case 14:
            if (field_u64(f, flen, UINT64_MAX, &out->utime_ticks) != LW_OK)
                return LW_ERR_INVALID;
            break;
        case 15:
            if (field_u64(f, flen, UINT64_MAX, &out->stime_ticks) != LW_OK)
                return LW_ERR_INVALID;
            break;
        case 22:
            if (field_u64(f, flen, UINT64_MAX, &out->start_ticks) != LW_OK)
                return LW_ERR_INVALID;
            break;
        default:
            break;
        }
    }
    return LW_OK;
}

enum lw_err lw_procfs_parse_stat(const char *buf, size_t len, struct lw_stat_info *out)
{
    memset(out, 0, sizeof(*out));
    enum lw_err err = parse_stat(buf, len, out);
    if (err != LW_OK)
        memset(out, 0, sizeof(*out));
    return err;
}

/* ---- /proc/PID/cmdline ------------------------------------------------------------------ */

enum lw_err lw_procfs_parse_cmdline(const char *buf, size_t len, struct lw_cmdline_info *out)
{
    memset(out, 0, sizeof(*out));
    const char *nul = memchr(buf, '\0', len);
    size_t argv0_len = nul ? (size_t)(nul - buf) : len;
    if (argv0_len == 0)
        return LW_ERR_NOT_FOUND;
    out->argv0 = buf;
    out->argv0_len = argv0_len;
    out->argv0_complete = nul != NULL;
    uint32_t argc = 0;
    size_t i = 0;
    while (i < len) {
        const char *n = memchr(buf + i, '\0', len - i);
        argc++;
        if (!n)
            break;
        i = (size_t)(n - buf) + 1;
    }
    out->argc = argc;
    return LW_OK;
}

void lw_procfs_basename(const char *path, size_t len, const char **base, size_t *base_len)
{
    const char *slash = len ? memrchr(path, '/', len) : NULL;
    const char *b = slash ? slash + 1 : path;
    *base = b;
    *base_len = len - (size_t)(b - path);
}

bool lw_procfs_path_in_dir(const char *path, size_t len, const char *dir, size_t dir_len,
                           const char **name, size_t *name_len)
{
    if (dir_len == 0 || len <= dir_len + 1 || memcmp(path, dir, dir_len) != 0 ||
        path[dir_len] != '/')
        return false;
    const char *n = path + dir_len + 1;
    size_t nlen = len - dir_len - 1;
    if (memchr(n, '/', nlen) != NULL || memchr(n, '\0', nlen) != NULL)
        return false;
    *name = n;
    *name_len = nlen;
    return true;
}

bool lw_procfs_cmdline_find_in_dir(const char *buf, size_t len, const char *dir, size_t dir_len,
                                   const char **name, size_t *name_len)
{
    size_t i = 0;
    while (i < len) {
        const char *nul = memchr(buf + i, '\0', len - i);
        if (nul == NULL)
            return false; /* cut off: never a name made from a prefix */
        size_t alen = (size_t)(nul - (buf + i));
        if (lw_procfs_path_in_dir(buf + i, alen, dir, dir_len, name, name_len))
            return true;
        i += alen + 1;
    }
    return false;
}
