/*
 * libFuzzer target for the state file a previous environment left in /tmp (the function can
 * write there too): whatever the bytes, reading them gives a state that encodes back to a slot
 * which reads again as the same state, or a refusal that says why; the death assessed from any
 * state it accepts is one of the known causes with finite figures.
 */
/* fuzz-seeds: tests/fuzz/corpus/state */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <leakwatch/state.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that any read past the end is caught. */
    unsigned char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    static struct lw_state s, again;
    uint64_t generation = 0;
    const char *why = NULL;
    enum lw_err err = lw_state_unframe(buf, size, &generation, &s, &why);
    free(buf);
    if (err != LW_OK) {
        check(err == LW_ERR_INVALID || err == LW_ERR_NOT_FOUND);
        check(why != NULL && why[0] != '\0');
        return 0;
    }
    check(s.function_name[0] != '\0' && s.env_id[0] != '\0');
    check(memchr(s.function_name, '\0', sizeof(s.function_name)) != NULL);
    check(memchr(s.env_id, '\0', sizeof(s.env_id)) != NULL);
    check(memchr(s.shutdown_reason, '\0', sizeof(s.shutdown_reason)) != NULL);
    check(s.verdict < LW_VERDICT_COUNT);

    /* what was accepted goes round the trip unchanged */
    char payload[LW_STATE_SLOT_BYTES];
    size_t len = 0;
    if (lw_state_encode(&s, payload, sizeof(payload), &len) == LW_OK) {
        static unsigned char slot[LW_STATE_SLOT_BYTES];
        check(lw_state_frame(generation, payload, len, slot) == LW_OK);
        uint64_t g2 = 0;
        check(lw_state_unframe(slot, sizeof(slot), &g2, &again, NULL) == LW_OK);
        check(g2 == generation);
        check(strcmp(again.function_name, s.function_name) == 0);
        check(strcmp(again.env_id, s.env_id) == 0);
        check(again.last_seq == s.last_seq && again.ended == s.ended);
    }

    struct lw_death d;
    lw_death_assess(&s, &d);
    check(lw_death_cause_name(d.cause) != NULL);
    check(isfinite(d.age_seconds) && d.age_seconds >= 0);
    check(isfinite(d.lead_invocations) && isfinite(d.lead_minutes));
    check(!d.predicted || d.cause == LW_DEATH_OUT_OF_MEMORY);
    check(d.oom_forms == 0 || d.cause == LW_DEATH_OUT_OF_MEMORY);
    for (uint32_t f = 1; f <= LW_OOM_FORM_LAST; f <<= 1)
        check(!(d.oom_forms & f) || lw_oom_form_name(f) != NULL);
    return 0;
}
