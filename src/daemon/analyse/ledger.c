#include <leakwatch/ledger.h>
#include <leakwatch/log.h>

#include <stdlib.h>
#include <string.h>

/*
 * Three fixed tables, all sized at lw_ledger_new():
 *  - held: a ring of closed records in seq order, waiting for their report or to be taken;
 *  - orphans: platform halves for request ids no record has claimed yet (start and runtimeDone of
 *    the invocation in progress, a report that overtook its record, ids never seen);
 *  - emitted: the ids of the last records taken, to tell a late event from an unknown one.
 */

struct held {
    struct lw_record rec;
    unsigned newer; /* records added after this one */
    bool forced;    /* made ready because the table was full */
};

struct orphan {
    bool used;
    uint64_t order; /* insertion order: the smallest is evicted first */
    char request_id[LW_REQUEST_ID_MAX];
    struct lw_platform platform;
};

struct lw_ledger {
    struct lw_ledger_config cfg;
    struct lw_health *health;

    struct held *held;
    size_t held_cap, held_head, held_count;

    struct orphan *orphans;
    size_t orphans_cap;
    uint64_t orphan_order;

    char (*emitted)[LW_REQUEST_ID_MAX];
    size_t emitted_cap, emitted_next, emitted_count;

    bool have_init_report;
    double init_report_ms;
    bool flushed;
};

void lw_ledger_config_init(struct lw_ledger_config *cfg)
{
    cfg->max_pending = LW_LEDGER_DEFAULT_MAX_PENDING;
    cfg->telemetry_expected = true;
    cfg->wait_invocations = 1;
}

struct lw_ledger *lw_ledger_new(const struct lw_ledger_config *cfg, struct lw_health *health)
{
    struct lw_ledger *l = calloc(1, sizeof(*l));
    if (l == NULL)
        goto fail;
    l->cfg = *cfg;
    l->health = health;
    if (l->cfg.wait_invocations > LW_LEDGER_MAX_PENDING_CAP - 2)
        l->cfg.wait_invocations = LW_LEDGER_MAX_PENDING_CAP - 2;
    if (l->cfg.max_pending < (size_t)l->cfg.wait_invocations + 2)
        l->cfg.max_pending = (size_t)l->cfg.wait_invocations + 2;
    if (l->cfg.max_pending > LW_LEDGER_MAX_PENDING_CAP)
        l->cfg.max_pending = LW_LEDGER_MAX_PENDING_CAP;

    l->held_cap = l->orphans_cap = l->emitted_cap = l->cfg.max_pending;
    l->held = calloc(l->held_cap, sizeof(*l->held));
    l->orphans = calloc(l->orphans_cap, sizeof(*l->orphans));
    l->emitted = calloc(l->emitted_cap, sizeof(*l->emitted));
    if (l->held == NULL || l->orphans == NULL || l->emitted == NULL)
        goto fail;
    return l;
fail:
    lw_error("ledger: out of memory for %zu pending records", cfg->max_pending);
    lw_ledger_free(l);
    return NULL;
}

void lw_ledger_free(struct lw_ledger *ledger)
{
    if (ledger == NULL)
        return;
    free(ledger->held);
    free(ledger->orphans);
    free(ledger->emitted);
    free(ledger);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static uint64_t to_u64(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 1.8e19)
        return UINT64_MAX;
    return (uint64_t)(v + 0.5);
}

/*
 * Merge one event into a platform half. The report's status wins over runtimeDone's (it is the
 * platform's final word, e.g. "timeout" after the runtime was stopped); a repeated event rewrites
 * the same values.
 */
static void merge(struct lw_platform *p, const struct lw_platform_event *ev)
{
    switch (ev->type) {
    case LW_EV_START:
        p->have_start = true;
        break;
    case LW_EV_RUNTIME_DONE:
        p->have_runtime_done = true;
        if (!p->have_report && ev->status[0] != '\0') {
            copy_str(p->status, sizeof(p->status), ev->status);
            copy_str(p->error_type, sizeof(p->error_type), ev->error_type);
        }
        if (ev->fields & LW_EVF_DURATION)
            p->runtime_duration_ms = ev->duration_ms;
        if (ev->fields & LW_EVF_PRODUCED_BYTES)
            p->produced_bytes = ev->produced_bytes;
        break;
    case LW_EV_REPORT:
        p->have_report = true;
        if (ev->status[0] != '\0') {
            copy_str(p->status, sizeof(p->status), ev->status);
            copy_str(p->error_type, sizeof(p->error_type), ev->error_type);
        }
        if (ev->fields & LW_EVF_DURATION)
            p->duration_ms = ev->duration_ms;
        if (ev->fields & LW_EVF_BILLED_DURATION)
            p->billed_duration_ms = ev->billed_duration_ms;
        if (ev->fields & LW_EVF_MEMORY_SIZE)
            p->memory_size_mb = to_u64(ev->memory_size_mb);
        if (ev->fields & LW_EVF_MAX_MEMORY_USED)
            p->max_memory_used_mb = to_u64(ev->max_memory_used_mb);
        if (ev->fields & LW_EVF_EXTENSION_OVERHEAD)
            p->extension_overhead_ms = ev->extension_overhead_ms;
        if (ev->fields & LW_EVF_INIT_DURATION) {
            p->have_init_duration = true;
            p->init_duration_ms = ev->init_duration_ms;
        }
        break;
    default:
        break;
    }
}

static struct held *held_at(struct lw_ledger *l, size_t i)
{
    return &l->held[(l->held_head + i) % l->held_cap];
}

static struct held *find_held(struct lw_ledger *l, const char *request_id)
{
    for (size_t i = 0; i < l->held_count; i++) {
        struct held *h = held_at(l, i);
        if (strncmp(h->rec.request_id, request_id, LW_REQUEST_ID_MAX) == 0)
            return h;
    }
    return NULL;
}

static struct orphan *find_orphan(struct lw_ledger *l, const char *request_id)
{
    for (size_t i = 0; i < l->orphans_cap; i++) {
        if (l->orphans[i].used &&
            strncmp(l->orphans[i].request_id, request_id, LW_REQUEST_ID_MAX) == 0)
            return &l->orphans[i];
    }
    return NULL;
}

static bool was_emitted(const struct lw_ledger *l, const char *request_id)
{
    for (size_t i = 0; i < l->emitted_count; i++) {
        if (strncmp(l->emitted[i], request_id, LW_REQUEST_ID_MAX) == 0)
            return true;
    }
    return false;
}

static bool is_ready(const struct lw_ledger *l, const struct held *h)
{
    return h->forced || l->flushed || !l->cfg.telemetry_expected || h->rec.platform.have_report ||
           h->newer >= l->cfg.wait_invocations;
}

static struct orphan *new_orphan(struct lw_ledger *l, const char *request_id)
{
    struct orphan *slot = NULL;
    for (size_t i = 0; i < l->orphans_cap; i++) {
        struct orphan *o = &l->orphans[i];
        if (!o->used) {
            slot = o;
            break;
        }
        if (slot == NULL || o->order < slot->order)
            slot = o;
    }
    if (slot->used) {
        /* Telemetry for an id no record claimed while max_pending newer ids arrived. */
        lw_health_add(l->health, LW_H_LEDGER_EVICTED, 1);
        lw_debug("ledger: evicted telemetry of request %s", slot->request_id);
    }
    memset(slot, 0, sizeof(*slot));
    slot->used = true;
    slot->order = ++l->orphan_order;
    copy_str(slot->request_id, sizeof(slot->request_id), request_id);
    return slot;
}

void lw_ledger_add_record(struct lw_ledger *ledger, const struct lw_record *rec)
{
    struct lw_ledger *l = ledger;

    for (size_t i = 0; i < l->held_count; i++)
        held_at(l, i)->newer++;
    if (l->held_count == l->held_cap) {
        /*
         * Only reachable when the caller does not drain lw_ledger_take(): every held record
         * would be ready already. Dropping the oldest is the one way to stay bounded.
         */
        struct held *oldest = held_at(l, 0);
        lw_error("ledger: table full, record %llu dropped", (unsigned long long)oldest->rec.seq);
        lw_health_add(l->health, LW_H_LEDGER_EVICTED, 1);
        l->held_head = (l->held_head + 1) % l->held_cap;
        l->held_count--;
    }
    struct held *h = held_at(l, l->held_count);
    l->held_count++;
    h->rec = *rec;
    h->newer = 0;
    h->forced = false;

    /* The platform half is the ledger's to fill: start from what telemetry has delivered. */
    memset(&h->rec.platform, 0, sizeof(h->rec.platform));
    struct orphan *o = rec->request_id[0] ? find_orphan(l, rec->request_id) : NULL;
    if (o != NULL) {
        h->rec.platform = o->platform;
        o->used = false;
    }
    /* A full table makes its oldest record ready, so that the next add never has to drop. */
    if (l->held_count == l->held_cap)
        held_at(l, 0)->forced = true;
}

void lw_ledger_add_event(struct lw_ledger *ledger, const struct lw_platform_event *ev)
{
    struct lw_ledger *l = ledger;

    if (ev->type == LW_EV_INIT_REPORT) {
        /* phase "invoke" is a suppressed init re-run inside an invocation: not a cold start. */
        if ((ev->fields & LW_EVF_DURATION) && strcmp(ev->phase, "invoke") != 0) {
            l->have_init_report = true;
            l->init_report_ms = ev->duration_ms;
        }
        return;
    }
    if (ev->type != LW_EV_START && ev->type != LW_EV_RUNTIME_DONE && ev->type != LW_EV_REPORT)
        return;
    if (ev->request_id[0] == '\0')
        return;

    struct held *h = find_held(l, ev->request_id);
    if (h != NULL) {
        merge(&h->rec.platform, ev);
        return;
    }
    if (was_emitted(l, ev->request_id)) {
        lw_health_add(l->health, LW_H_TELEMETRY_LATE, 1);
        return;
    }
    struct orphan *o = find_orphan(l, ev->request_id);
    if (o == NULL)
        o = new_orphan(l, ev->request_id);
    merge(&o->platform, ev);
}

bool lw_ledger_take(struct lw_ledger *ledger, struct lw_record *out)
{
    struct lw_ledger *l = ledger;
    if (l->held_count == 0)
        return false;
    struct held *h = held_at(l, 0);
    if (!is_ready(l, h))
        return false;

    *out = h->rec;
    l->held_head = (l->held_head + 1) % l->held_cap;
    l->held_count--;

    if (l->cfg.telemetry_expected && !out->platform.have_report) {
        out->gaps |= LW_GAP_TELEMETRY;
        lw_health_add(l->health, LW_H_RECORDS_INCOMPLETE, 1);
    }
    if (out->cold_start && !out->platform.have_init_duration && l->have_init_report) {
        out->platform.have_init_duration = true;
        out->platform.init_duration_ms = l->init_report_ms;
    }
    copy_str(l->emitted[l->emitted_next], LW_REQUEST_ID_MAX, out->request_id);
    l->emitted_next = (l->emitted_next + 1) % l->emitted_cap;
    if (l->emitted_count < l->emitted_cap)
        l->emitted_count++;
    return true;
}

void lw_ledger_flush(struct lw_ledger *ledger)
{
    ledger->flushed = true;
}

bool lw_ledger_ready(const struct lw_ledger *ledger)
{
    const struct lw_ledger *l = ledger;
    return l->held_count > 0 && is_ready(l, &l->held[l->held_head]);
}

bool lw_ledger_has_pending(const struct lw_ledger *ledger)
{
    return ledger->held_count > 0;
}
