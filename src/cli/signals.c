/* SPDX-License-Identifier: MIT */
/*
 * signals.c: the commands' signals as bytes on a pipe. The handler only
 * writes the signal's number (async-signal-safe); the command reads them
 * where it waits anyway (the runner's signal fd, an event loop).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static int pipe_w = -1;

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;

    if (pipe_w >= 0)
        (void)!write(pipe_w, &b, 1);
    errno = saved;
}

int cli_signal_pipe(const int *sigs, size_t n, int *rfd, int *wfd)
{
    struct sigaction sa;
    sigset_t set;
    int p[2];

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    pipe_w = p[1];
    *rfd = p[0];
    if (wfd)
        *wfd = p[1];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&set);
    for (size_t i = 0; i < n; i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(&set, sigs[i]);
    }
    /* A mask inherited blocked (from a parent that blocks them around a
     * fork, say) would keep them pending forever. */
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    /* Write errors on a closed stdout come back as EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}
