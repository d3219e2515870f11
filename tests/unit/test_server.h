/*
 * A scripted HTTP/1.1 server on 127.0.0.1 in a thread, for the transports' tests: it answers
 * each request with the next step of its script, on as many connections as the client opens,
 * and keeps what it read.
 */
#ifndef LEAKWATCH_TEST_SERVER_H
#define LEAKWATCH_TEST_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum after {
    KEEP,   /* answer and wait for the next request on the same connection */
    CLOSE,  /* answer and close */
    DROP,   /* close without answering */
    HANG,   /* never answer; close when the client does */
    PIECES, /* answer 3 bytes at a time, 1 ms apart, then keep */
};

struct step {
    const char *response;
    enum after after;
};

#define MAX_STEPS 8

struct server {
    int listen_fd;
    int port;
    struct step steps[MAX_STEPS];
    size_t n_steps;
    size_t accepted;
    char requests[MAX_STEPS][65536];
    size_t request_lens[MAX_STEPS];
    size_t n_requests;
    pthread_t thread;
};

static size_t content_length(const char *head)
{
    const char *cl = strcasestr(head, "\r\ncontent-length:");
    return cl != NULL ? strtoul(cl + 17, NULL, 10) : 0;
}

/* Reads one whole request into buf; false when the client closed first. */
static bool read_request(int fd, char *buf, size_t cap, size_t *out_len)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL && len >= (size_t)(end + 4 - buf) + content_length(buf)) {
            *out_len = len;
            return true;
        }
    }
}

static void write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;
    size_t step = 0;
    while (step < s->n_steps) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        s->accepted++;
        bool open = true;
        while (open && step < s->n_steps) {
            if (!read_request(fd, s->requests[s->n_requests], sizeof(s->requests[0]),
                              &s->request_lens[s->n_requests]))
                break;
            s->n_requests++;
            const struct step *st = &s->steps[step++];
            switch (st->after) {
            case KEEP:
                write_all(fd, st->response, strlen(st->response));
                break;
            case CLOSE:
                write_all(fd, st->response, strlen(st->response));
                open = false;
                break;
            case DROP:
                open = false;
                break;
            case HANG: {
                char sink[256];
                while (read(fd, sink, sizeof(sink)) > 0) {
                }
                open = false;
                break;
            }
            case PIECES:
                for (size_t i = 0; i < strlen(st->response); i += 3) {
                    size_t n = strlen(st->response) - i < 3 ? strlen(st->response) - i : 3;
                    write_all(fd, st->response + i, n);
                    struct timespec ms = {0, 1000000};
                    nanosleep(&ms, NULL);
                }
                break;
            }
        }
        close(fd);
    }
    return NULL;
}

static void server_start(struct server *s, const struct step *steps, size_t n)
{
    memset(s, 0, sizeof(*s));
    assert_true(n <= MAX_STEPS);
    memcpy(s->steps, steps, n * sizeof(*steps));
    s->n_steps = n;
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->listen_fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&addr, &len), 0);
    s->port = ntohs(addr.sin_port);
    assert_int_equal(listen(s->listen_fd, 4), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    shutdown(s->listen_fd, SHUT_RDWR); /* unblocks accept() if the script was not used up */
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

#endif
