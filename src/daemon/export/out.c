#include <leakwatch/out.h>

#include <leakwatch/clock.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void lw_out_init(struct lw_out *out, int fd, uint32_t budget_ms)
{
    out->fd = fd;
    out->owned = 0;
    out->budget_ms = budget_ms;
    out->congested = 0;
    out->owe_newline = 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
        return; /* a file or a terminal never blocks for long */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (nfd >= 0) {
        out->fd = nfd;
        out->owned = 1;
    }
}

void lw_out_clean_up(struct lw_out *out)
{
    if (out->owned)
        close(out->fd);
    out->owned = 0;
}

/* An I/O shell's timeouts run on the real clock. */
static uint64_t mono_ms(void)
{
    return lw_clock_mono_ms(lw_clock_system());
}

/* Writes buf[*done..len) within the budget counted from start; *done advances. */
static enum lw_err write_within(struct lw_out *out, const char *buf, size_t len, uint64_t start,
                                size_t *done)
{
    while (*done < len) {
        ssize_t n = write(out->fd, buf + *done, len - *done);
        if (n > 0) {
            *done += (size_t)n;
            out->congested = 0; /* the reader is taking lines again */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return LW_ERR_IO;
        if (out->congested && *done == 0)
            return LW_ERR_TIMEOUT; /* still no room: not worth another wait */
        uint64_t waited = mono_ms() - start;
        if (waited >= out->budget_ms) {
            out->congested = 1;
            return LW_ERR_TIMEOUT;
        }
        struct pollfd pfd = {.fd = out->fd, .events = POLLOUT};
        poll(&pfd, 1, (int)(out->budget_ms - waited));
    }
    return LW_OK;
}

enum lw_err lw_out_write(struct lw_out *out, const char *line, size_t len)
{
    uint64_t start = mono_ms();
    if (out->owe_newline) {
        /* the end of a line cut earlier, so that this one starts on a line of its own */
        size_t done = 0;
        enum lw_err err = write_within(out, "\n", 1, start, &done);
        if (err != LW_OK)
            return err;
        out->owe_newline = 0;
    }
    size_t done = 0;
    enum lw_err err = write_within(out, line, len, start, &done);
    if (err != LW_OK && done > 0 && done < len) {
        /* Part of the line went out: it is ended now if there is room, else before the next. */
        out->owe_newline = write(out->fd, "\n", 1) != 1;
    }
    return err;
}

void lw_out_set_budget(struct lw_out *out, uint32_t budget_ms)
{
    out->budget_ms = budget_ms;
}
