/*
 * libFuzzer target for the batch parser and, behind it, the ledger: whatever a batch holds, the
 * join table stays bounded and every record added comes out exactly once, in order.
 */
/* fuzz-seeds: tests/fixtures/telemetry */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/ledger.h>
#include <leakwatch/telemetry_events.h>
#include <leakwatch/timefmt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

struct state {
    struct lw_ledger *ledger;
    struct lw_record *rec;
    struct lw_record *out;
    uint64_t added, taken;
};

static void drain(struct state *s)
{
    while (lw_ledger_take(s->ledger, s->out)) {
        s->taken++;
        check(s->out->seq == s->taken);
    }
}

static void on_event(void *ctx, const struct lw_platform_event *ev)
{
    struct state *s = ctx;
    check(ev->type > LW_EV_UNKNOWN && ev->type < LW_EV_COUNT);
    check(strlen(ev->request_id) < sizeof(ev->request_id));
    lw_ledger_add_event(s->ledger, ev);
    /* Close a record named after every start, as the extension's boundaries would. */
    if (ev->type == LW_EV_START) {
        memset(s->rec, 0, sizeof(*s->rec));
        memcpy(s->rec->request_id, ev->request_id, sizeof(s->rec->request_id));
        s->rec->seq = ++s->added;
        s->rec->cold_start = s->added == 1;
        lw_ledger_add_record(s->ledger, s->rec);
        drain(s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lw_health health;
    struct lw_ledger_config cfg;
    lw_ledger_config_init(&cfg);
    cfg.max_pending = 4;
    struct state s = {0};
    s.ledger = lw_ledger_new(&cfg, &health);
    s.rec = malloc(sizeof(*s.rec));
    s.out = malloc(sizeof(*s.out));
    check(s.ledger != NULL && s.rec != NULL && s.out != NULL);

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

    lw_ledger_flush(s.ledger);
    drain(&s);
    check(s.taken == s.added);
    check(!lw_ledger_has_pending(s.ledger));

    free(buf);
    free(s.rec);
    free(s.out);
    lw_ledger_free(s.ledger);
    return 0;
}
