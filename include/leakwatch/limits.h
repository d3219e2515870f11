/*
 * Every limit that more than one module must agree on, in one place: Lambda's documented ranges
 * (which a request outside them gets refused for) and leakwatch's own caps. A module's private
 * cap that nobody else sees stays in that module.
 */
#ifndef LEAKWATCH_LIMITS_H
#define LEAKWATCH_LIMITS_H

#include <stddef.h>

/* ---- Lambda --------------------------------------------------------------------------------- */

/* Telemetry API buffering ranges (the subscription is refused outside them). leakwatch asks for
 * the minimum items and bytes by default, and LW_TELEMETRY_TIMEOUT_MS_DEFAULT. */
#define LW_TELEMETRY_MAX_ITEMS_MIN 1000u
#define LW_TELEMETRY_MAX_ITEMS_MAX 10000u
#define LW_TELEMETRY_MAX_BYTES_MIN 262144u
#define LW_TELEMETRY_MAX_BYTES_MAX 1048576u
#define LW_TELEMETRY_TIMEOUT_MS_MIN 25u
#define LW_TELEMETRY_TIMEOUT_MS_MAX 30000u
/*
 * The buffering timeout leakwatch asks for: 100 ms, not the 25 ms minimum. Every batch is a
 * wake-up, a connection and a parse on the function's CPU quota; the reports of invocations
 * that end within the timeout come in one batch (the ledger waits for them: ledger.h), and an
 * invocation shorter than it gets one batch instead of two (its start and runtimeDone then come
 * with its report). In the cost benchmark at 512 MB (docs/performance.md) leakwatch's CPU per
 * invocation fell from 0.42-0.48 ms to 0.34-0.38 ms, its anonymous memory rose 16-28 KB (the
 * records held meanwhile); 200 ms saved no more CPU and held 57 KB.
 */
#define LW_TELEMETRY_TIMEOUT_MS_DEFAULT 100u

/* The telemetry listener's receive buffer for a subscription of max_bytes: Lambda advises room
 * for twice maxBytes plus the request's metadata. */
#define LW_TELEMETRY_RECEIVE_BYTES(max_bytes) (2u * (size_t)(max_bytes) + 64u * 1024u)

/* Port 9001 is Lambda's own (the Runtime and Extensions APIs); the listener never takes it. */
#define LW_LAMBDA_RESERVED_PORT 9001u

/* ---- leakwatch ------------------------------------------------------------------------------ */

/* The telemetry listener's port when LEAKWATCH_TELEMETRY_PORT is not set. Not 4243: the AWS
 * samples and many extensions built from them take that one, and another extension may not be
 * able to move when leakwatch holds its port. */
#define LW_TELEMETRY_DEFAULT_PORT 4279u

/* The body of any HTTP response leakwatch reads (Extensions API answers, an OTLP collector's
 * reply): none is more than a few hundred bytes; anything above is truncated and flagged. */
#define LW_HTTP_RESPONSE_MAX_BYTES (64u * 1024u)

#endif
