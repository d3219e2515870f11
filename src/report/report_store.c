/*
 * `leakwatch report`: what is kept of the lines read, and how it is grouped.
 *
 * Strings are interned (environment ids, function names, verdict reasons repeat on every line)
 * so that a day of logs stays a few hundred bytes per invocation, and so that two entries say
 * the same thing exactly when their string pointers are equal. EMF delivery is at-least-once:
 * lw_report_finish() sorts, keeps the first line read of each (environment, sequence) and
 * counts the rest, repeats and conflicting lines apart, then groups the entries by
 * environment. Pure.
 */
#include "report_internal.h"

#include <stdlib.h>
#include <string.h>

struct lw_report *lw_report_new(void)
{
    struct lw_report *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->strings_cap = 1024;
    r->strings = calloc(r->strings_cap, sizeof(*r->strings));
    if (!r->strings) {
        free(r);
        return NULL;
    }
    lw_report_input_init(&r->in);
    return r;
}

void lw_report_free(struct lw_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->strings_cap; i++)
        free(r->strings[i]);
    free(r->strings);
    free(r->inv.items);
    free(r->shut.items);
    free(r->alert.items);
    free(r->death.items);
    free(r->envs);
    lw_report_input_clean_up(&r->in);
    free(r);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h;
}

static bool strings_grow(struct lw_report *r)
{
    size_t cap = r->strings_cap * 2;
    char **t = calloc(cap, sizeof(*t));
    if (!t)
        return false;
    for (size_t i = 0; i < r->strings_cap; i++) {
        char *s = r->strings[i];
        if (!s)
            continue;
        size_t j = (size_t)hash_str(s) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = s;
    }
    free(r->strings);
    r->strings = t;
    r->strings_cap = cap;
    return true;
}

const char *lw_report_intern(struct lw_report *r, const char *s)
{
    if ((r->n_strings + 1) * 2 > r->strings_cap && !strings_grow(r))
        return NULL;
    size_t mask = r->strings_cap - 1;
    size_t j = (size_t)hash_str(s) & mask;
    while (r->strings[j]) {
        if (strcmp(r->strings[j], s) == 0)
            return r->strings[j];
        j = (j + 1) & mask;
    }
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, n + 1);
    r->strings[j] = copy;
    r->n_strings++;
    return copy;
}

static struct lw_report_entry *vec_push(struct lw_report_vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        struct lw_report_entry *items = realloc(v->items, cap * sizeof(*items));
        if (!items)
            return NULL;
        v->items = items;
        v->cap = cap;
    }
    return &v->items[v->n++];
}

bool lw_report_entry_has(const struct lw_report_entry *e, enum lw_metric_id id)
{
    return (unsigned)id < LW_M_COUNT && (e->have_mask & (UINT64_C(1) << id)) != 0;
}

bool lw_report_death_has(const struct lw_report_entry *e, enum lw_report_death_figure id)
{
    return e->kind == LW_REPORT_DEATH && (unsigned)id < LW_D_COUNT &&
           (e->have_mask & (UINT64_C(1) << id)) != 0;
}

enum lw_err lw_report_add(struct lw_report *r, const struct lw_report_line *line)
{
    struct lw_report_vec *v;
    uint64_t *kept;
    switch (line->kind) {
    case LW_REPORT_INVOCATION:
        v = &r->inv;
        kept = &r->stats.invocations;
        break;
    case LW_REPORT_SHUTDOWN:
        v = &r->shut;
        kept = &r->stats.shutdowns;
        break;
    case LW_REPORT_ALERT:
        v = &r->alert;
        kept = &r->stats.alerts;
        break;
    case LW_REPORT_INTERVAL:
        v = &r->inv; /* one sequence of records per environment, whatever their kind */
        kept = &r->stats.intervals;
        break;
    case LW_REPORT_DEATH:
        v = &r->death;
        kept = &r->stats.deaths;
        break;
    default:
        return LW_ERR_INVALID;
    }
    if (v->n >= LW_REPORT_MAX_ENTRIES) {
        r->stats.dropped_over_cap++;
        return LW_OK;
    }
    struct lw_report_entry e = {
        .kind = line->kind,
        .env_id = lw_report_intern(r, line->env_id),
        .function_name = lw_report_intern(r, line->function_name),
        .function_version = lw_report_intern(r, line->function_version),
        .request_id = lw_report_intern(r, line->request_id),
        .status = lw_report_intern(r, line->status),
        .error_type = lw_report_intern(r, line->error_type),
        .peak_method = lw_report_intern(r, line->peak_method),
        .verdict = lw_report_intern(r, line->verdict),
        .from = lw_report_intern(r, line->from),
        .reason = lw_report_intern(r, line->reason),
        .culprit = lw_report_intern(r, line->culprit),
        .culprit_pid = line->culprit_pid,
        .site = lw_report_intern(r, line->site),
        .site_growth_bytes = line->site_growth_bytes,
        .ending = lw_report_intern(r, line->ending),
        .told_by = lw_report_intern(r, line->told_by),
        .oom_forms = lw_report_intern(r, line->oom_forms),
        .seq = line->seq,
        .timestamp_ms = line->timestamp_ms,
        .start_time_ms = line->start_time_ms,
        .end_time_ms = line->end_time_ms,
        .invocations = line->invocations,
        .arrival = r->arrivals++,
        .have_mask = line->have_mask,
        .lifetime_seconds = line->lifetime_seconds,
        .unknown_rss_end_bytes = line->unknown_rss_end_bytes,
        .unknown_processes = line->unknown_processes,
        .incomplete = line->incomplete,
        .cold_start = line->cold_start,
        .restored = line->restored,
        .have_lifetime = line->have_lifetime,
        .have_invocations = line->have_invocations,
    };
    memcpy(e.value, line->value, sizeof(e.value));
    if (!e.env_id || !e.function_name || !e.function_version || !e.request_id || !e.status ||
        !e.error_type || !e.peak_method || !e.verdict || !e.from || !e.reason || !e.culprit ||
        !e.site || !e.ending || !e.told_by || !e.oom_forms)
        return LW_ERR_NOMEM;
    struct lw_report_entry *slot = vec_push(v);
    if (!slot)
        return LW_ERR_NOMEM;
    *slot = e;
    (*kept)++;
    return LW_OK;
}

static int cmp_u64(uint64_t x, uint64_t y)
{
    return x < y ? -1 : x > y;
}

/* Interned strings are equal exactly when their pointers are: any fixed order of them will do. */
static int cmp_str(const char *x, const char *y)
{
    return cmp_u64((uint64_t)(uintptr_t)x, (uint64_t)(uintptr_t)y);
}

/*
 * Orders two entries of the same kind, environment and sequence by what they say: 0 exactly
 * when every field read from their lines is the same (at-least-once delivery repeats a line to
 * the byte), whatever the order they arrived in.
 */
static int cmp_content(const struct lw_report_entry *x, const struct lw_report_entry *y)
{
    const char *const *sx[] = {
        &x->function_name, &x->function_version, &x->request_id, &x->status, &x->error_type,
        &x->peak_method,   &x->verdict,          &x->from,       &x->reason, &x->culprit,
        &x->ending,        &x->told_by,          &x->oom_forms,  &x->site};
    const char *const *sy[] = {
        &y->function_name, &y->function_version, &y->request_id, &y->status, &y->error_type,
        &y->peak_method,   &y->verdict,          &y->from,       &y->reason, &y->culprit,
        &y->ending,        &y->told_by,          &y->oom_forms,  &y->site};
    int c;
    for (size_t i = 0; i < sizeof(sx) / sizeof(sx[0]); i++)
        if ((c = cmp_str(*sx[i], *sy[i])) != 0)
            return c;
    if ((c = cmp_u64(x->kind, y->kind)) || (c = cmp_u64(x->timestamp_ms, y->timestamp_ms)) ||
        (c = cmp_u64(x->start_time_ms, y->start_time_ms)) ||
        (c = cmp_u64(x->end_time_ms, y->end_time_ms)) ||
        (c = cmp_u64(x->have_mask, y->have_mask)) || (c = cmp_u64(x->incomplete, y->incomplete)) ||
        (c = cmp_u64(x->cold_start, y->cold_start)) || (c = cmp_u64(x->restored, y->restored)) ||
        (c = cmp_u64(x->unknown_processes, y->unknown_processes)) ||
        (c = cmp_u64(x->culprit_pid, y->culprit_pid)) ||
        (c = (x->site_growth_bytes > y->site_growth_bytes) -
             (x->site_growth_bytes < y->site_growth_bytes)) ||
        (c = cmp_u64(x->have_lifetime, y->have_lifetime)) ||
        (c = cmp_u64(x->have_invocations, y->have_invocations)) ||
        (c = cmp_u64(x->invocations, y->invocations)))
        return c;
    if (x->have_lifetime && x->lifetime_seconds != y->lifetime_seconds)
        return x->lifetime_seconds < y->lifetime_seconds ? -1 : 1;
    if (x->unknown_rss_end_bytes != y->unknown_rss_end_bytes) /* finite sums of finite numbers */
        return x->unknown_rss_end_bytes < y->unknown_rss_end_bytes ? -1 : 1;
    for (int i = 0; i < LW_M_COUNT; i++)
        if ((x->have_mask & (UINT64_C(1) << i)) && x->value[i] != y->value[i])
            return x->value[i] < y->value[i] ? -1 : 1; /* values are finite: never NaN */
    return 0;
}

/* By environment, sequence, content, and then in the order read. */
static int cmp_entry(const void *a, const void *b)
{
    const struct lw_report_entry *x = a, *y = b;
    int c = x->env_id == y->env_id ? 0 : strcmp(x->env_id, y->env_id);
    if (c)
        return c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    if ((c = cmp_content(x, y)) != 0)
        return c;
    return cmp_u64(x->arrival, y->arrival);
}

static bool same_slot(const struct lw_report_entry *x, const struct lw_report_entry *y)
{
    return x->env_id == y->env_id && x->seq == y->seq;
}

/*
 * Sorts v and keeps one entry per (environment, sequence): for shutdowns one per environment,
 * for deaths one per dead environment (their sequence is 0). A line repeated to the byte (EMF
 * delivery is at-least-once) is dropped. Lines that claim the same slot but say something else are
 * conflicting: leakwatch writes each line once, so all but one of them were written by someone
 * else, or corrupted on the way. The report cannot tell which, so it shows the first one read,
 * counts the others on it (conflicts) and keeps one copy of each after the shown entries
 * (v->items[v->n_shown..n)), so that a later finish knows them again instead of counting them
 * twice.
 */
static void sort_dedupe(struct lw_report_vec *v)
{
    v->n_shown = 0;
    if (v->n == 0)
        return;
    qsort(v->items, v->n, sizeof(*v->items), cmp_entry);
    /* repeats: the first read of each content stays (it sorts first) */
    size_t w = 1;
    for (size_t i = 1; i < v->n; i++) {
        const struct lw_report_entry *prev = &v->items[w - 1], *cur = &v->items[i];
        if (same_slot(prev, cur) && cmp_content(prev, cur) == 0)
            continue;
        v->items[w++] = *cur;
    }
    v->n = w;

    /*
     * conflicts: the first read of each slot is shown, the others go behind the shown ones, in
     * place and in any order (the next finish sorts them again). Invariant: items[0..shown)
     * are shown, items[shown..i) set aside, items[i..n) still to do.
     */
    size_t shown = 0;
    for (size_t i = 0; i < v->n;) {
        size_t j = i + 1, first = i;
        for (; j < v->n && same_slot(&v->items[i], &v->items[j]); j++)
            if (v->items[j].arrival < v->items[first].arrival)
                first = j;
        struct lw_report_entry keep = v->items[first];
        keep.conflicts = (uint32_t)(j - i - 1);
        if (first != shown)
            v->items[first] = v->items[shown]; /* one set aside before, or of this slot */
        v->items[shown++] = keep;
        i = j;
    }
    v->n_shown = shown;
}

uint64_t lw_report_entry_time_ms(const struct lw_report_entry *e)
{
    if (e->start_time_ms)
        return e->start_time_ms;
    return e->timestamp_ms;
}

static int cmp_env(const void *a, const void *b)
{
    const struct lw_report_env *x = a, *y = b;
    /* environments without any time go last */
    uint64_t tx = x->first_time_ms ? x->first_time_ms : UINT64_MAX;
    uint64_t ty = y->first_time_ms ? y->first_time_ms : UINT64_MAX;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x->env_id, y->env_id);
}

static void note_time(struct lw_report_env *env, uint64_t t)
{
    if (t && (env->first_time_ms == 0 || t < env->first_time_ms))
        env->first_time_ms = t;
}

/* The entries of environment id at v->items[*at..): their count; *at moves past them. */
static size_t take_env(const struct lw_report_vec *v, size_t *at, const char *id,
                       struct lw_report_env *env, const struct lw_report_entry **first)
{
    size_t n = 0;
    *first = *at < v->n_shown ? &v->items[*at] : NULL;
    for (; *at < v->n_shown && v->items[*at].env_id == id; (*at)++, n++) {
        note_time(env, lw_report_entry_time_ms(&v->items[*at]));
        env->conflicts += v->items[*at].conflicts;
    }
    return n;
}

/* The name and version of the environment's latest line that has them. */
static void name_env(struct lw_report_env *env)
{
    const struct lw_report_entry *named = NULL;
    for (size_t k = env->n_invocations; k > 0 && !named; k--)
        if (env->invocations[k - 1].function_name[0])
            named = &env->invocations[k - 1];
    if (!named && env->shutdown && env->shutdown->function_name[0])
        named = env->shutdown;
    for (size_t k = env->n_alerts; k > 0 && !named; k--)
        if (env->alerts[k - 1].function_name[0])
            named = &env->alerts[k - 1];
    if (!named && env->death && env->death->function_name[0])
        named = env->death;
    if (named) {
        env->function_name = named->function_name;
        env->function_version = named->function_version;
    }
}

enum lw_err lw_report_finish(struct lw_report *r)
{
    lw_report_input_end(r);
    struct lw_report_vec *vecs[] = {&r->inv, &r->shut, &r->alert, &r->death};
    enum { N_VECS = sizeof(vecs) / sizeof(vecs[0]) };
    size_t shown = 0, kept = 0;
    for (size_t k = 0; k < N_VECS; k++) {
        sort_dedupe(vecs[k]);
        shown += vecs[k]->n_shown;
        kept += vecs[k]->n;
    }
    const struct lw_report_stats *st = &r->stats;
    r->stats.duplicates =
        st->invocations + st->intervals + st->shutdowns + st->alerts + st->deaths - shown;
    r->stats.conflicts = kept - shown;

    free(r->envs);
    r->envs = NULL;
    r->n_envs = 0;
    if (shown == 0)
        return LW_OK;
    r->envs = calloc(shown, sizeof(*r->envs));
    if (!r->envs)
        return LW_ERR_NOMEM;

    /* a merge of the sorted arrays by environment id */
    size_t at[N_VECS] = {0};
    for (;;) {
        const char *id = NULL;
        for (size_t k = 0; k < N_VECS; k++) {
            const struct lw_report_vec *v = vecs[k];
            if (at[k] < v->n_shown && (!id || strcmp(v->items[at[k]].env_id, id) < 0))
                id = v->items[at[k]].env_id;
        }
        if (!id)
            break;
        struct lw_report_env *env = &r->envs[r->n_envs++];
        env->env_id = id; /* interned: equal ids are the same pointer */
        env->function_name = "";
        env->function_version = "";
        const struct lw_report_entry *first;
        env->n_invocations = take_env(&r->inv, &at[0], id, env, &first);
        env->invocations = env->n_invocations ? first : NULL;
        env->shutdown = take_env(&r->shut, &at[1], id, env, &first) ? first : NULL;
        env->n_alerts = take_env(&r->alert, &at[2], id, env, &first);
        env->alerts = env->n_alerts ? first : NULL;
        env->death = take_env(&r->death, &at[3], id, env, &first) ? first : NULL;
        name_env(env);
    }
    qsort(r->envs, r->n_envs, sizeof(*r->envs), cmp_env);
    return LW_OK;
}

void lw_report_stats(const struct lw_report *r, struct lw_report_stats *out)
{
    *out = r->stats;
}

size_t lw_report_env_count(const struct lw_report *r)
{
    return r->n_envs;
}

const struct lw_report_env *lw_report_env_at(const struct lw_report *r, size_t i)
{
    return i < r->n_envs ? &r->envs[i] : NULL;
}
