/*
 * The environment's identity, as leakwatch names it in every record. Extensions are not told
 * the log stream name, so leakwatch makes its own id at init: 16 hex digits from the kernel's
 * random source, which never repeat across environments of one function.
 */
#ifndef LEAKWATCH_IDENTITY_H
#define LEAKWATCH_IDENTITY_H

#include <stddef.h>

/* A new id into out (cap >= 17). Reads getrandom(); falls back to the clock and pid. */
void lw_identity_new_env_id(char *out, size_t cap);

#endif
