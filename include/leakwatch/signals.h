/*
 * The signals an extension must survive. A closed stdout or socket is EPIPE, not death. Lambda
 * stops extensions with the SHUTDOWN event (then SIGKILL), never with SIGTERM, which it sends
 * the runtime: a SIGTERM that reaches leakwatch comes from elsewhere, and dying of it would fail
 * the invocation in flight (Extension.Crash) and reset the environment. It is noted, said once,
 * and leakwatch runs on until SHUTDOWN.
 */
#ifndef LEAKWATCH_SIGNALS_H
#define LEAKWATCH_SIGNALS_H

/* SIGPIPE ignored; SIGTERM noted, with SA_RESTART so that a blocked event/next goes on. Call
 * before any thread starts. */
void lw_signals_install(void);

/* Says once, from a thread that may log, that a SIGTERM came and was ignored. */
void lw_signals_say(void);

#endif
