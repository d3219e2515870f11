/*
 * libFuzzer target for the batch parser and, behind it, the ledger and its plausibility filter.
 * The batch is parsed once; up to three of the request ids it names are taken for the ones
 * leakwatch was handed in an INVOKE (before its events arrive or after, as the first bytes say),
 * every event goes to the ledger, and a record is closed for each of those ids. Whatever the
 * batch holds:
 *  - the tables stay bounded and every record added comes out exactly once, in order;
 *  - nothing real is pushed out: with fewer known ids than the tables hold, LedgerEvicted stays
 *    0 however many made-up ids the batch names;
 *  - a record's platform half comes only from events that name its own id;
 *  - the drop count and the init duration stay within what the platform can have produced;
 *  - no more events are refused than were delivered.
 */
/* fuzz-seeds: tests/fixtures/telemetry */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/ledger.h>
#include <leakwatch/telemetry_events.h>
#include <leakwatch/timefmt.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 256
#define MAX_KNOWN 3 /* fewer than max_pending: none of them may ever be pushed out */

struct state {
    struct lw_platform_event *events;
    size_t n_events, delivered;
    char known[MAX_KNOWN][LW_REQUEST_ID_MAX];
    size_t n_known;
};

static bool names_id(const struct lw_platform_event *ev)
{
    return (ev->type == LW_EV_START || ev->type == LW_EV_RUNTIME_DONE ||
            ev->type == LW_EV_REPORT) &&
           ev->request_id[0] != '\0';
}

static void on_event(void *ctx, const struct lw_platform_event *ev)
{
    struct state *s = ctx;
    check(ev->type > LW_EV_UNKNOWN && ev->type < LW_EV_COUNT);
    check(strlen(ev->request_id) < sizeof(ev->request_id));
    s->delivered++;
    if (s->n_events < MAX_EVENTS)
        s->events[s->n_events++] = *ev;
    if (!names_id(ev) || s->n_known == MAX_KNOWN)
        return;
    for (size_t i = 0; i < s->n_known; i++) {
        if (strcmp(s->known[i], ev->request_id) == 0)
            return;
    }
    memcpy(s->known[s->n_known++], ev->request_id, LW_REQUEST_ID_MAX);
}

/* Whether the batch holds an event of type for request_id. */
static bool batch_has(const struct state *s, enum lw_platform_event_type type, const char *id)
{
    for (size_t i = 0; i < s->n_events; i++) {
        if (s->events[i].type == type && strcmp(s->events[i].request_id, id) == 0)
            return true;
    }
    return false;
}

static void check_record(const struct state *s, const struct lw_record *r)
{
    const struct lw_platform *p = &r->platform;
    if (p->have_report)
        check(batch_has(s, LW_EV_REPORT, r->request_id));
    if (p->have_runtime_done)
        check(batch_has(s, LW_EV_RUNTIME_DONE, r->request_id));
    if (p->have_start)
        check(batch_has(s, LW_EV_START, r->request_id));
    if (p->have_init_duration && !p->have_report)
        check(p->init_duration_ms >= 0 && p->init_duration_ms <= LW_LEDGER_INIT_MAX_MS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lw_health health = {0};
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    cfg.max_pending = MAX_KNOWN + 1;
    struct lw_ledger *ledger = lw_ledger_new(&cfg, &health);
    struct lw_record *rec = calloc(1, sizeof(*rec));
    struct lw_record *out = calloc(1, sizeof(*out));
    struct state s = {0};
    s.events = calloc(MAX_EVENTS, sizeof(*s.events));
    check(ledger != NULL && rec != NULL && out != NULL && s.events != NULL);

    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    lw_telemetry_events_parse(buf, size, on_event, &s, &health);
    /* the timestamps, both ways: a strict one is a lenient one too, and they agree */
    uint64_t ms = 0, lenient_ms = 0;
    if (lw_time_parse_iso8601(buf, size, 0, &ms) == LW_OK) {
        check(lw_time_parse_iso8601(buf, size, LW_TIME_LENIENT, &lenient_ms) != LW_OK ||
              lenient_ms == ms);
    }

    /* INVOKEs before the events (the usual order) or after them (events that overtook). */
    bool invoke_first = size > 0 && (data[size - 1] & 1);
    if (invoke_first) {
        for (size_t i = 0; i < s.n_known; i++)
            lw_ledger_expect(ledger, s.known[i]);
    }
    for (size_t i = 0; i < s.n_events; i++)
        lw_ledger_add_event(ledger, &s.events[i]);
    if (!invoke_first) {
        for (size_t i = 0; i < s.n_known; i++)
            lw_ledger_expect(ledger, s.known[i]);
    }
    uint64_t added = 0, taken = 0;
    for (size_t i = 0; i < s.n_known; i++) {
        memset(rec, 0, sizeof(*rec));
        memcpy(rec->request_id, s.known[i], sizeof(rec->request_id));
        rec->seq = ++added;
        rec->cold_start = added == 1;
        lw_ledger_add_record(ledger, rec);
        while (lw_ledger_take(ledger, out)) {
            check(out->seq == ++taken);
            check_record(&s, out);
        }
    }
    lw_ledger_flush(ledger);
    while (lw_ledger_take(ledger, out)) {
        check(out->seq == ++taken);
        check_record(&s, out);
    }
    check(taken == added);
    check(!lw_ledger_has_pending(ledger));
    check(health.c[LW_H_LEDGER_EVICTED] == 0);
    check(health.c[LW_H_TELEMETRY_EVENTS_REJECTED] <= s.delivered);
    check(health.c[LW_H_TELEMETRY_DROPPED] <=
          LW_LEDGER_DROPPED_INIT_MAX + LW_LEDGER_DROPPED_PER_INVOKE_MAX * (s.n_known + 1));

    free(buf);
    free(s.events);
    free(rec);
    free(out);
    lw_ledger_free(ledger);
    return 0;
}
