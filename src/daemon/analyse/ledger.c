#include <leakwatch/ledger.h>
#include <leakwatch/log.h>
#include <leakwatch/text.h>

#include <stdlib.h>
#include <string.h>

/*
 * Four fixed tables, all sized at lw_ledger_new():
 *  - held: a ring of closed records in seq order, waiting for their report or to be taken. The
 *    ring holds slot numbers and a freed slot is the next one used, so that an environment
 *    whose records wait one invocation or two touches two or three of the slots' pages, not
 *    every slot's ten kilobytes (leakwatch's own resident memory);
 *  - known: platform halves for request ids leakwatch was told of (an INVOKE, or a
 *    platform.start where ids come from it) whose record is not closed yet;
 *  - quarantine: platform halves for ids not known (yet): an event that overtook its INVOKE, or
 *    one nobody will ever claim;
 *  - emitted: the ids of the last records taken and which of their events they had, to tell a
 *    late event (one the record went out without) from a repeated one or an unknown one.
 * Known ids and quarantined ones never share a table: a flood of made-up ids cycles through the
 * quarantine and cannot push out an id leakwatch is waiting for.
 */

struct held {
    struct lw_record rec;
    unsigned newer; /* records added after this one */
    bool forced;    /* made ready because the table was full */
};

struct pending {
    bool used;
    uint64_t order;  /* insertion order: the smallest is pushed out first */
    uint64_t epoch;  /* quarantine: the INVOKEs seen when its first event arrived */
    unsigned events; /* quarantine: events merged, each counted if the id is never claimed */
    char request_id[LW_REQUEST_ID_MAX];
    struct lw_platform platform;
};

/* A record taken: its id, and which platform events it went out with. */
struct emitted {
    char request_id[LW_REQUEST_ID_MAX];
    bool have_start, have_runtime_done, have_report;
};

_Static_assert(LW_LEDGER_MAX_PENDING_CAP <= UINT16_MAX + 1, "held slots are numbered in 16 bits");

struct lw_ledger {
    struct lw_ledger_config cfg;
    struct lw_health *health;

    struct held *held;
    uint16_t *ring;  /* slots in seq order, from held_head */
    uint16_t *spare; /* free slots, the last freed on top */
    size_t held_cap, held_head, held_count, spare_count;

    struct pending *known;
    struct pending *quarantine;
    size_t pending_cap;
    uint64_t order;
    uint64_t epoch; /* INVOKEs seen (lw_ledger_expect) */

    struct emitted *emitted;
    size_t emitted_cap, emitted_next, emitted_count;

    /* the latest end_time_ms of the records added: how far the environment's time has gone */
    uint64_t newest_end_ms;
    bool have_init_report;
    double init_report_ms;
    /* records the platform can have dropped since its last platform.logsDropped */
    uint64_t drop_allowance;
    bool flushed;
};

void lw_ledger_config_init(struct lw_ledger_config *cfg)
{
    cfg->max_pending = LW_LEDGER_DEFAULT_MAX_PENDING;
    cfg->telemetry_expected = true;
    cfg->wait_invocations = 1;
    cfg->wait_ms = 0;
    cfg->ids_from_start = false;
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

    l->held_cap = l->pending_cap = l->emitted_cap = l->cfg.max_pending;
    l->held = calloc(l->held_cap, sizeof(*l->held));
    l->ring = calloc(l->held_cap, sizeof(*l->ring));
    l->spare = calloc(l->held_cap, sizeof(*l->spare));
    l->known = calloc(l->pending_cap, sizeof(*l->known));
    l->quarantine = calloc(l->pending_cap, sizeof(*l->quarantine));
    l->emitted = calloc(l->emitted_cap, sizeof(*l->emitted));
    if (l->held == NULL || l->ring == NULL || l->spare == NULL || l->known == NULL ||
        l->quarantine == NULL || l->emitted == NULL)
        goto fail;
    for (size_t i = 0; i < l->held_cap; i++)
        l->spare[i] = (uint16_t)(l->held_cap - 1 - i); /* slot 0 on top */
    l->spare_count = l->held_cap;
    l->drop_allowance = LW_LEDGER_DROPPED_INIT_MAX + LW_LEDGER_DROPPED_PER_INVOKE_MAX;
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
    free(ledger->ring);
    free(ledger->spare);
    free(ledger->known);
    free(ledger->quarantine);
    free(ledger->emitted);
    free(ledger);
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
            lw_text_copy(p->status, sizeof(p->status), ev->status);
            lw_text_copy(p->error_type, sizeof(p->error_type), ev->error_type);
        }
        if (ev->fields & LW_EVF_DURATION)
            p->runtime_duration_ms = ev->duration_ms;
        if (ev->fields & LW_EVF_PRODUCED_BYTES)
            p->produced_bytes = ev->produced_bytes;
        break;
    case LW_EV_REPORT:
        p->have_report = true;
        if (ev->status[0] != '\0') {
            lw_text_copy(p->status, sizeof(p->status), ev->status);
            lw_text_copy(p->error_type, sizeof(p->error_type), ev->error_type);
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

/* The first of each event per id wins: a second one is a replay or a forgery. */
static bool repeated(const struct lw_platform *p, enum lw_platform_event_type type)
{
    return (type == LW_EV_START && p->have_start) ||
           (type == LW_EV_RUNTIME_DONE && p->have_runtime_done) ||
           (type == LW_EV_REPORT && p->have_report);
}

/* Counted, and said at debug level without the request id: whoever forged the event chose it,
 * and a log line is no place for bytes a stranger picked. */
static void implausible(struct lw_ledger *l, uint64_t n, const char *what)
{
    lw_health_add(l->health, LW_H_TELEMETRY_EVENTS_REJECTED, n);
    lw_debug("ledger: %llu %s not counted", (unsigned long long)n, what);
}

static struct held *held_at(const struct lw_ledger *l, size_t i)
{
    return &l->held[l->ring[(l->held_head + i) % l->held_cap]];
}

/* The oldest held record leaves the ring; its slot is the next one used. */
static void release_oldest(struct lw_ledger *l)
{
    l->spare[l->spare_count++] = l->ring[l->held_head];
    l->held_head = (l->held_head + 1) % l->held_cap;
    l->held_count--;
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

static struct pending *find_pending(struct lw_ledger *l, struct pending *table,
                                    const char *request_id)
{
    for (size_t i = 0; i < l->pending_cap; i++) {
        if (table[i].used && strncmp(table[i].request_id, request_id, LW_REQUEST_ID_MAX) == 0)
            return &table[i];
    }
    return NULL;
}

static struct emitted *find_emitted(struct lw_ledger *l, const char *request_id)
{
    for (size_t i = 0; i < l->emitted_count; i++) {
        if (strncmp(l->emitted[i].request_id, request_id, LW_REQUEST_ID_MAX) == 0)
            return &l->emitted[i];
    }
    return NULL;
}

/* Whether records that ended wait_ms after h have been added: the environment's time, as its
 * records tell it, has gone past the buffering that could still hold h's report. A record
 * without an end time does not wait for it. */
static bool aged(const struct lw_ledger *l, const struct held *h)
{
    uint64_t end = h->rec.end_time_ms;
    return end == 0 || l->newest_end_ms >= end + l->cfg.wait_ms;
}

static bool is_ready(const struct lw_ledger *l, const struct held *h)
{
    return h->forced || l->flushed || !l->cfg.telemetry_expected || h->rec.platform.have_report ||
           (h->newer >= l->cfg.wait_invocations && aged(l, h));
}

/* A quarantined id that is never claimed: its events are counted, once, as implausible. */
static void reject_quarantined(struct lw_ledger *l, struct pending *q, const char *why)
{
    implausible(l, q->events, why);
    q->used = false;
}

/* A free slot of table; when full, the oldest entry is pushed out (said through *pushed). */
static struct pending *new_pending(struct lw_ledger *l, struct pending *table,
                                   const char *request_id, struct pending *pushed)
{
    struct pending *slot = NULL;
    for (size_t i = 0; i < l->pending_cap; i++) {
        struct pending *p = &table[i];
        if (!p->used) {
            slot = p;
            break;
        }
        if (slot == NULL || p->order < slot->order)
            slot = p;
    }
    pushed->used = slot->used;
    if (slot->used)
        *pushed = *slot;
    memset(slot, 0, sizeof(*slot));
    slot->used = true;
    slot->order = ++l->order;
    slot->epoch = l->epoch;
    lw_text_copy(slot->request_id, sizeof(slot->request_id), request_id);
    return slot;
}

/* Carry what the quarantine holds for request_id over into dst (a known id or a record). */
static void claim_quarantined(struct lw_ledger *l, const char *request_id, struct lw_platform *dst)
{
    struct pending *q = find_pending(l, l->quarantine, request_id);
    if (q == NULL)
        return;
    *dst = q->platform;
    q->used = false;
}

/* request_id is leakwatch's to wait for now. NULL when it already was (or has been taken). */
static struct pending *make_known(struct lw_ledger *l, const char *request_id)
{
    if (find_pending(l, l->known, request_id) != NULL || find_held(l, request_id) != NULL ||
        find_emitted(l, request_id) != NULL)
        return NULL;
    struct pending pushed;
    struct pending *k = new_pending(l, l->known, request_id, &pushed);
    if (pushed.used) {
        /* max_pending INVOKEs went by without the record of this one being closed */
        lw_health_add(l->health, LW_H_LEDGER_EVICTED, 1);
        lw_debug("ledger: %zu request ids known without a record; the oldest forgotten",
                 l->pending_cap);
    }
    claim_quarantined(l, request_id, &k->platform);
    l->drop_allowance += LW_LEDGER_DROPPED_PER_INVOKE_MAX;
    return k;
}

void lw_ledger_expect(struct lw_ledger *ledger, const char *request_id)
{
    struct lw_ledger *l = ledger;
    if (request_id == NULL || request_id[0] == '\0')
        return;
    l->epoch++;
    make_known(l, request_id);
    if (l->cfg.ids_from_start)
        return;
    /*
     * An event overtakes its INVOKE by a moment, never by a whole invocation: what arrived
     * before the previous INVOKE and is still unclaimed belongs to no invocation of this
     * environment.
     */
    for (size_t i = 0; i < l->pending_cap; i++) {
        struct pending *q = &l->quarantine[i];
        if (q->used && q->epoch + 2 <= l->epoch)
            reject_quarantined(l, q, "events of an unknown request");
    }
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
        release_oldest(l);
    }
    l->ring[(l->held_head + l->held_count) % l->held_cap] = l->spare[--l->spare_count];
    struct held *h = held_at(l, l->held_count);
    l->held_count++;
    h->rec = *rec;
    h->newer = 0;
    if (rec->end_time_ms > l->newest_end_ms)
        l->newest_end_ms = rec->end_time_ms;
    h->forced = false;

    /* The platform half is the ledger's to fill: start from what telemetry has delivered. A
     * record is leakwatch's own proof of its id, so events still in quarantine count too. */
    memset(&h->rec.platform, 0, sizeof(h->rec.platform));
    if (rec->request_id[0] != '\0') {
        struct pending *k = find_pending(l, l->known, rec->request_id);
        if (k != NULL) {
            h->rec.platform = k->platform;
            k->used = false;
        } else {
            claim_quarantined(l, rec->request_id, &h->rec.platform);
        }
    }
    /* A full table makes its oldest record ready, so that the next add never has to drop. */
    if (l->held_count == l->held_cap)
        held_at(l, 0)->forced = true;
}

static void add_init_report(struct lw_ledger *l, const struct lw_platform_event *ev)
{
    /* phase "invoke" is a suppressed init re-run inside an invocation: not a cold start. */
    if (!(ev->fields & LW_EVF_DURATION) || strcmp(ev->phase, "invoke") == 0)
        return;
    if (l->have_init_report) {
        implausible(l, 1, "platform.initReport after the first");
        return;
    }
    if (!(ev->duration_ms >= 0 && ev->duration_ms <= LW_LEDGER_INIT_MAX_MS)) {
        implausible(l, 1, "platform.initReport out of range");
        return;
    }
    l->have_init_report = true;
    l->init_report_ms = ev->duration_ms;
}

static void add_logs_dropped(struct lw_ledger *l, const struct lw_platform_event *ev)
{
    if (!(ev->fields & LW_EVF_DROPPED_RECORDS))
        return;
    double n = ev->dropped_records;
    /* a count of records is a whole number, and no more than the platform produced */
    if (!(n >= 0 && n <= (double)l->drop_allowance) || n != (double)(uint64_t)n) {
        implausible(l, 1, "platform.logsDropped beyond what was produced");
        return;
    }
    lw_health_add(l->health, LW_H_TELEMETRY_DROPPED, (uint64_t)n);
    l->drop_allowance = LW_LEDGER_DROPPED_PER_INVOKE_MAX;
}

void lw_ledger_add_event(struct lw_ledger *ledger, const struct lw_platform_event *ev)
{
    struct lw_ledger *l = ledger;

    if (ev->type == LW_EV_INIT_REPORT) {
        add_init_report(l, ev);
        return;
    }
    if (ev->type == LW_EV_LOGS_DROPPED) {
        add_logs_dropped(l, ev);
        return;
    }
    if (ev->type != LW_EV_START && ev->type != LW_EV_RUNTIME_DONE && ev->type != LW_EV_REPORT)
        return;
    const char *name = lw_platform_event_type_name(ev->type);
    if (ev->request_id[0] == '\0') {
        implausible(l, 1, name);
        return;
    }

    struct lw_platform *p = NULL;
    struct held *h = find_held(l, ev->request_id);
    struct pending *k = h == NULL ? find_pending(l, l->known, ev->request_id) : NULL;
    struct emitted *e = NULL;
    if (h != NULL)
        p = &h->rec.platform;
    else if (k != NULL)
        p = &k->platform;
    else if ((e = find_emitted(l, ev->request_id)) != NULL) {
        /* Late only when the record went out without it, and only the first time; a second one
         * is a replay or a forgery whenever it comes, and must not pass for a late delivery. */
        struct lw_platform had = {.have_start = e->have_start,
                                  .have_runtime_done = e->have_runtime_done,
                                  .have_report = e->have_report};
        if (repeated(&had, ev->type)) {
            implausible(l, 1, name);
            return;
        }
        lw_health_add(l->health, LW_H_TELEMETRY_LATE, 1);
        e->have_start |= ev->type == LW_EV_START;
        e->have_runtime_done |= ev->type == LW_EV_RUNTIME_DONE;
        e->have_report |= ev->type == LW_EV_REPORT;
        return;
    } else if (l->cfg.ids_from_start && ev->type == LW_EV_START) {
        /* not held, known or taken (checked above): make_known() cannot refuse it */
        k = make_known(l, ev->request_id);
        p = k != NULL ? &k->platform : NULL;
    }
    if (p != NULL) {
        if (repeated(p, ev->type))
            implausible(l, 1, name);
        else
            merge(p, ev);
        return;
    }

    /* Not known (yet): into quarantine, unless nothing can claim it any more. */
    if (l->flushed) {
        implausible(l, 1, name);
        return;
    }
    struct pending *q = find_pending(l, l->quarantine, ev->request_id);
    if (q == NULL) {
        struct pending pushed;
        q = new_pending(l, l->quarantine, ev->request_id, &pushed);
        if (pushed.used)
            reject_quarantined(l, &pushed, "events of an unknown request");
    }
    if (repeated(&q->platform, ev->type)) {
        implausible(l, 1, name);
        return;
    }
    merge(&q->platform, ev);
    q->events++;
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
    release_oldest(l);

    if (l->cfg.telemetry_expected && !out->platform.have_report) {
        out->gaps |= LW_GAP_TELEMETRY;
        lw_health_add(l->health, LW_H_RECORDS_INCOMPLETE, 1);
    }
    if (out->cold_start && !out->platform.have_init_duration && l->have_init_report) {
        out->platform.have_init_duration = true;
        out->platform.init_duration_ms = l->init_report_ms;
    }
    struct emitted *e = &l->emitted[l->emitted_next];
    lw_text_copy(e->request_id, sizeof(e->request_id), out->request_id);
    e->have_start = out->platform.have_start;
    e->have_runtime_done = out->platform.have_runtime_done;
    e->have_report = out->platform.have_report;
    l->emitted_next = (l->emitted_next + 1) % l->emitted_cap;
    if (l->emitted_count < l->emitted_cap)
        l->emitted_count++;
    return true;
}

void lw_ledger_flush(struct lw_ledger *ledger)
{
    struct lw_ledger *l = ledger;
    l->flushed = true;
    for (size_t i = 0; i < l->pending_cap; i++) {
        if (l->quarantine[i].used)
            reject_quarantined(l, &l->quarantine[i], "events of an unknown request");
    }
}

bool lw_ledger_ready(const struct lw_ledger *ledger)
{
    const struct lw_ledger *l = ledger;
    return l->held_count > 0 && is_ready(l, held_at(l, 0));
}

bool lw_ledger_has_pending(const struct lw_ledger *ledger)
{
    return ledger->held_count > 0;
}
