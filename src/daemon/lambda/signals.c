#include <leakwatch/signals.h>

#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include <leakwatch/log.h>

static volatile sig_atomic_t sigterm_seen;

static void on_sigterm(int sig)
{
    (void)sig;
    sigterm_seen = 1;
}

void lw_signals_install(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigterm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
}

void lw_signals_say(void)
{
    static bool said;
    if (sigterm_seen && !said) {
        said = true;
        lw_warn("SIGTERM received and ignored: leakwatch runs until the SHUTDOWN event, as "
                "Lambda extensions do (exiting would fail the invocation in flight)");
    }
}
