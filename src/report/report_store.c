/*
 * `leakwatch report`: what is kept of the lines read, and how it is grouped.
 *
 * Strings are interned (environment ids, function names, verdict reasons repeat on every line)
 * so that a day of logs stays a few hundred bytes per invocation, and so that two entries say
 * the same thing exactly when their string pointers are equal. EMF delivery is at-least-once:
 * lw_report_finish() sorts, keeps the first line read of each (environment, sequence) and
 * counts the rest, then groups the entries by environment. Pure.
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
        .seq = line->seq,
        .timestamp_ms = line->timestamp_ms,
        .start_time_ms = line->start_time_ms,
        .end_time_ms = line->end_time_ms,
        .invocations = line->invocations,
        .arrival = r->arrivals++,
        .have_mask = line->have_mask,
        .lifetime_seconds = line->lifetime_seconds,
        .incomplete = line->incomplete,
        .cold_start = line->cold_start,
        .have_lifetime = line->have_lifetime,
        .have_invocations = line->have_invocations,
    };
    memcpy(e.value, line->value, sizeof(e.value));
    if (!e.env_id || !e.function_name || !e.function_version || !e.request_id || !e.status ||
        !e.error_type || !e.peak_method || !e.verdict || !e.from || !e.reason || !e.culprit)
        return LW_ERR_NOMEM;
    struct lw_report_entry *slot = vec_push(v);
    if (!slot)
        return LW_ERR_NOMEM;
    *slot = e;
    (*kept)++;
    return LW_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct lw_report_entry *x = a, *y = b;
    int c = strcmp(x->env_id, y->env_id);
    if (c)
        return c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return 0;
}

/* Whether a repeated line said something else than the first (same figures expected). */
static bool entries_differ(const struct lw_report_entry *a, const struct lw_report_entry *b)
{
    if (a->request_id != b->request_id || a->verdict != b->verdict || a->from != b->from ||
        a->have_mask != b->have_mask || a->end_time_ms != b->end_time_ms)
        return true;
    for (int i = 0; i < LW_M_COUNT; i++)
        if ((a->have_mask & (UINT64_C(1) << i)) && a->value[i] != b->value[i])
            return true;
    return false;
}

/*
 * Sorts v and keeps the first line read of each (environment, sequence) — for alerts also of
 * each transition, for shutdowns one per environment (their sequence is 0).
 */
static void sort_dedupe(struct lw_report *r, struct lw_report_vec *v)
{
    if (v->n == 0)
        return;
    qsort(v->items, v->n, sizeof(*v->items), cmp_entry);
    size_t w = 1;
    for (size_t i = 1; i < v->n; i++) {
        const struct lw_report_entry *prev = &v->items[w - 1], *cur = &v->items[i];
        if (cur->env_id == prev->env_id && cur->seq == prev->seq) {
            r->stats.duplicates++;
            if (entries_differ(prev, cur))
                r->stats.duplicates_differ++;
            continue;
        }
        v->items[w++] = *cur;
    }
    v->n = w;
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

enum lw_err lw_report_finish(struct lw_report *r)
{
    lw_report_input_end(r);
    sort_dedupe(r, &r->inv);
    sort_dedupe(r, &r->shut);
    sort_dedupe(r, &r->alert);

    free(r->envs);
    r->envs = NULL;
    r->n_envs = 0;
    size_t max_envs = r->inv.n + r->shut.n + r->alert.n;
    if (max_envs == 0)
        return LW_OK;
    r->envs = calloc(max_envs, sizeof(*r->envs));
    if (!r->envs)
        return LW_ERR_NOMEM;

    /* a three-way merge of the sorted arrays by environment id */
    size_t i = 0, s = 0, a = 0;
    while (i < r->inv.n || s < r->shut.n || a < r->alert.n) {
        const char *id = NULL;
        if (i < r->inv.n)
            id = r->inv.items[i].env_id;
        if (s < r->shut.n && (!id || strcmp(r->shut.items[s].env_id, id) < 0))
            id = r->shut.items[s].env_id;
        if (a < r->alert.n && (!id || strcmp(r->alert.items[a].env_id, id) < 0))
            id = r->alert.items[a].env_id;

        struct lw_report_env *env = &r->envs[r->n_envs++];
        env->env_id = id; /* interned: equal ids are the same pointer */
        env->function_name = "";
        env->function_version = "";
        env->invocations = i < r->inv.n ? &r->inv.items[i] : NULL; /* items may be NULL */
        while (i < r->inv.n && r->inv.items[i].env_id == id) {
            note_time(env, lw_report_entry_time_ms(&r->inv.items[i]));
            env->n_invocations++;
            i++;
        }
        if (s < r->shut.n && r->shut.items[s].env_id == id) {
            env->shutdown = &r->shut.items[s];
            note_time(env, lw_report_entry_time_ms(env->shutdown));
            s++;
        }
        env->alerts = a < r->alert.n ? &r->alert.items[a] : NULL;
        while (a < r->alert.n && r->alert.items[a].env_id == id) {
            env->n_alerts++;
            a++;
        }
        /* the name and version of the latest line that has them */
        const struct lw_report_entry *named = NULL;
        for (size_t k = env->n_invocations; k > 0 && !named; k--)
            if (env->invocations[k - 1].function_name[0])
                named = &env->invocations[k - 1];
        if (!named && env->shutdown && env->shutdown->function_name[0])
            named = env->shutdown;
        for (size_t k = env->n_alerts; k > 0 && !named; k--)
            if (env->alerts[k - 1].function_name[0])
                named = &env->alerts[k - 1];
        if (named) {
            env->function_name = named->function_name;
            env->function_version = named->function_version;
        }
        if (env->n_invocations == 0)
            env->invocations = NULL;
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
