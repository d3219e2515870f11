/*
 * The environment's identity, as every record, alert and shutdown line names it.
 *
 * Extensions are not told the log stream name, so leakwatch makes its own id at init: 16 hex
 * digits from the kernel's random source. Schema 2025-01-29 adds the platform's own identity of
 * the environment to platform.initStart and platform.restoreStart (instanceId: the log stream
 * name); when it comes, it replaces leakwatch's.
 *
 * SnapStart: every environment of a SnapStart function is restored from one snapshot taken after
 * init, so each shares what leakwatch had in memory then, its id included. A restore shows up
 * only as platform.restoreStart telemetry; there the identity is renewed (the restore's
 * instanceId, or a fresh own id), marked restored, and its time starts at the restore: the clock
 * jumped across the snapshot, and the environment's age counts from the restore.
 *
 * The state machine is pure; lw_identity_new_env_id() is the one function that reads the kernel.
 */
#ifndef LEAKWATCH_IDENTITY_H
#define LEAKWATCH_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leakwatch/record.h>

/*
 * Who may rename the environment. Anyone past the listener's secret path can post these events,
 * and the name they set is on every later record, so they pass a filter of their own (the caller
 * counts a refusal in TelemetryEventsRejected):
 *  - an instanceId, when present, is 1 to LW_INSTANCE_ID_MAX bytes of printable ASCII without
 *    space (0x21-0x7e): the log stream names Lambda uses ("2025/01/29/[$LATEST]0123abcd...")
 *    are, and such a name is safe in a log line, a JSON document and a terminal;
 *  - platform.initStart counts once per process: an environment has one init. The first wins;
 *  - platform.restoreStart counts only where a restore can happen (`restorable`: SnapStart, or
 *    a platform that does not say its mode) and once per process: Lambda restores a snapshot
 *    into a new environment and never snapshots a restored one, so a second restoreStart is a
 *    replay or a forgery. The first wins.
 * A refused event does not use up its one chance: a forged malformed one cannot shut out the
 * platform's.
 */
#define LW_INSTANCE_ID_MAX (LW_ENV_ID_MAX - 1)

enum lw_identity_outcome {
    LW_IDENTITY_KEPT,    /* accepted; the identity is the same */
    LW_IDENTITY_CHANGED, /* accepted; the identity changed */
    LW_IDENTITY_REFUSED, /* not plausible: nothing changed */
};

struct lw_identity {
    char env_id[LW_ENV_ID_MAX];
    bool from_platform; /* env_id is the platform's instanceId */
    bool restored;      /* this environment was restored from a SnapStart snapshot */
    uint32_t restores;  /* restores seen by this process (more than one: a snapshot of a
                           snapshot, or a replayed event) */
    uint64_t since_ms;  /* epoch ms when this identity began: init, or the restore */
    bool restorable;    /* a restore can happen (set by the caller after init) */
    bool init_started;  /* a platform.initStart was accepted */
};

/* Whether s is an instanceId leakwatch takes (see above); false for "". */
bool lw_identity_instance_id_ok(const char *s);

/* A new id of leakwatch's own into out (cap >= 17). Reads getrandom(); falls back to the clock
 * and pid. */
void lw_identity_new_env_id(char *out, size_t cap);

/* 64 random bits from the kernel (the clock and pid where it refuses). */
uint64_t lw_identity_random_u64(void);

/* At init: leakwatch's own id, the environment starting at now_ms. */
void lw_identity_init(struct lw_identity *id, const char *own_id, uint64_t now_ms);

/* platform.initStart: its instanceId (NULL when the event has none) names the environment from
 * now on. Refused when one was accepted before or the instanceId is not one leakwatch takes ("",
 * too long, a byte outside 0x21-0x7e). A restored identity is not changed by a late initStart. */
enum lw_identity_outcome lw_identity_on_init_start(struct lw_identity *id, const char *instance_id);

/*
 * platform.restoreStart at restore_ms (the event's time, or now when it has none): a new
 * environment. Its id is instance_id when given (NULL when the event has none), else new_own_id
 * (which the caller makes fresh for each restore). Refused (nothing changed) unless the identity
 * is restorable and has not been restored yet, or when instance_id is not one leakwatch takes.
 */
enum lw_identity_outcome lw_identity_on_restore(struct lw_identity *id, const char *instance_id,
                                                const char *new_own_id, uint64_t restore_ms);

#endif
