#include <leakwatch/leak_check.h>

#if defined(__SANITIZE_ADDRESS__)
#define LW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LW_ASAN 1
#endif
#endif

#ifdef LW_ASAN
#include <sanitizer/lsan_interface.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LeakSanitizer cannot run under ptrace (the strace test): it aborts instead. */
static bool traced(void)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/status", "r");
    bool yes = false;
    while (f != NULL && fgets(buf, sizeof(buf), f) != NULL) {
        if (strncmp(buf, "TracerPid:", 10) == 0)
            yes = strtol(buf + 10, NULL, 10) != 0;
    }
    if (f != NULL)
        fclose(f);
    return yes;
}

void lw_leak_check_before_exit(void)
{
    if (!traced())
        __lsan_do_leak_check();
}

unsigned lw_leak_check_reserve_ms(void)
{
    return 600;
}
#else
void lw_leak_check_before_exit(void)
{
}

unsigned lw_leak_check_reserve_ms(void)
{
    return 0;
}
#endif
