/*
 * LeakSanitizer before _exit(). The daemon leaves with _exit() (its threads may be blocked on a
 * frozen peer, and tearing them down could hang past the SHUTDOWN deadline), which skips the
 * sanitizer's own check at exit(); AddressSanitizer builds (the test suite's) ask for it here.
 * In other builds this does nothing.
 */
#ifndef LEAKWATCH_LEAK_CHECK_H
#define LEAKWATCH_LEAK_CHECK_H

void lw_leak_check_before_exit(void);

/* How much of the SHUTDOWN budget the check needs: it scans all memory, which takes hundreds of
 * milliseconds on a loaded machine; 0 in other builds. */
unsigned lw_leak_check_reserve_ms(void);

#endif
