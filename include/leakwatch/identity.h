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

struct lw_identity {
    char env_id[LW_ENV_ID_MAX];
    bool from_platform; /* env_id is the platform's instanceId */
    bool restored;      /* this environment was restored from a SnapStart snapshot */
    uint32_t restores;  /* restores seen by this process (more than one: a snapshot of a
                           snapshot, or a replayed event) */
    uint64_t since_ms;  /* epoch ms when this identity began: init, or the restore */
};

/* A new id of leakwatch's own into out (cap >= 17). Reads getrandom(); falls back to the clock
 * and pid. */
void lw_identity_new_env_id(char *out, size_t cap);

/* 64 random bits from the kernel (the clock and pid where it refuses). */
uint64_t lw_identity_random_u64(void);

/* At init: leakwatch's own id, the environment starting at now_ms. */
void lw_identity_init(struct lw_identity *id, const char *own_id, uint64_t now_ms);

/* platform.initStart: its instanceId (may be "") names the environment from now on. Returns
 * whether the identity changed. A restored identity is not changed by a late initStart. */
bool lw_identity_on_init_start(struct lw_identity *id, const char *instance_id);

/*
 * platform.restoreStart at restore_ms (the event's time, or now when it has none): a new
 * environment. Its id is instance_id when given, else new_own_id (which the caller makes fresh
 * for each restore).
 */
void lw_identity_on_restore(struct lw_identity *id, const char *instance_id, const char *new_own_id,
                            uint64_t restore_ms);

#endif
