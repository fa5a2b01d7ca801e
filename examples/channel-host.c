/* SPDX-License-Identifier: MIT */
/*
 * channel-host.c: a small host for the channel examples, on the public API
 * alone (sandboxvm/channel.h). It offers a channel to a guest program it
 * starts (the channel's socket as fd 3, SBVM_CHANNEL=3), serves its host
 * calls, prints its log lines, and checksums whatever the guest streams
 * through its rings. This is what a sandbox will do once the channel is
 * integrated; here the guest runs as an ordinary child process.
 *
 *   channel-host [--wait] [--spin NS] GUEST [ARGS...]
 *
 * --wait serves with sbvm_channel_wait() (spin, then futex) instead of an
 * epoll loop; --spin sets the host's spin budget in nanoseconds.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel-demo.h"
#include "sandboxvm/channel.h"

struct host {
    uint64_t bytes, checksum;
    double first, last;
    uint8_t *buf;
    size_t cap;
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Takes everything the guest has put into its rings to the host. */
static void drain(sbvm_channel *ch, struct host *h)
{
    for (int ring = 0; ring < sbvm_channel_ring_count(ch); ring++) {
        unsigned dir;
        uint32_t max_msg;
        long n;

        if (sbvm_channel_ring_info(ch, ring, &dir, NULL, &max_msg) < 0 || dir != 1)
            continue;
        if (max_msg > h->cap) {
            free(h->buf);
            h->buf = malloc(max_msg);
            h->cap = h->buf ? max_msg : 0;
            if (!h->buf)
                return;
        }
        while ((n = sbvm_channel_ring_read(ch, ring, h->buf, h->cap, NULL, NULL)) >= 0) {
            if (h->bytes == 0)
                h->first = now();
            h->checksum = demo_checksum(h->checksum, h->buf, (size_t)n);
            h->bytes += (uint64_t)n;
        }
        h->last = now();
    }
}

static int32_t fn_sum(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                      size_t out_cap, size_t *out_len, void *ud)
{
    const uint8_t *p = in;
    int32_t sum = 0;

    (void)ch, (void)id, (void)out, (void)out_cap, (void)ud;
    *out_len = 0;
    for (size_t i = 0; i + 4 <= in_len; i += 4) {
        uint32_t v;
        memcpy(&v, p + i, 4);
        sum += (int32_t)v;
    }
    return sum;
}

static int32_t fn_upper(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                        size_t out_cap, size_t *out_len, void *ud)
{
    const char *s = in;
    char *o = out;
    size_t n = in_len < out_cap ? in_len : out_cap;

    (void)ch, (void)id, (void)ud;
    for (size_t i = 0; i < n; i++)
        o[i] = (char)toupper((unsigned char)s[i]);
    *out_len = n;
    return 0;
}

static int32_t fn_stream_end(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len,
                             void *out, size_t out_cap, size_t *out_len, void *ud)
{
    struct host *h = ud;
    struct demo_stream_end e;

    (void)id, (void)out, (void)out_cap;
    *out_len = 0;
    if (in_len != sizeof(e))
        return -1;
    memcpy(&e, in, sizeof(e));
    /* The guest pushed everything before it called: take the rest now. */
    drain(ch, h);
    printf("channel-host: received %llu bytes (guest says %llu), checksum %s",
           (unsigned long long)h->bytes, (unsigned long long)e.bytes,
           h->bytes == e.bytes && h->checksum == e.checksum ? "ok" : "MISMATCH");
    if (h->bytes && h->last > h->first)
        printf(", %.2f GB/s", (double)h->bytes / (h->last - h->first) / 1e9);
    printf("\n");
    return h->bytes == e.bytes && h->checksum == e.checksum ? 0 : 1;
}

static void log_line(sbvm_channel *ch, unsigned level, const char *text, size_t len, void *ud)
{
    (void)ch, (void)ud;
    printf("[guest log %u] ", level);
    for (size_t i = 0; i < len && i < 1000; i++)
        putchar(isprint((unsigned char)text[i]) ? text[i] : '?');
    putchar('\n');
}

static pid_t start_guest(sbvm_channel *ch, char **argv)
{
    int gfd = sbvm_channel_guest_fd(ch);
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    /* fd 3 without close-on-exec; every other fd of ours has it. */
    if (gfd == 3)
        fcntl(3, F_SETFD, 0);
    else if (dup2(gfd, 3) < 0)
        _exit(127);
    setenv("SBVM_CHANNEL", "3", 1);
    execvp(argv[0], argv);
    fprintf(stderr, "channel-host: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int main(int argc, char **argv)
{
    struct host h = { .checksum = DEMO_CHECKSUM_INIT };
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    sbvm_channel *ch = NULL;
    sbvm_error *err = NULL;
    int use_wait = 0, i = 1, status = 0, ep, pidfd, r = 0;
    pid_t pid;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--wait") == 0)
            use_wait = 1;
        else if (strcmp(argv[i], "--spin") == 0 && i + 1 < argc)
            sbvm_channel_config_set_spin(cfg, strtoull(argv[++i], NULL, 0), 0);
        else
            break;
    }
    if (i >= argc || !cfg) {
        fprintf(stderr, "usage: channel-host [--wait] [--spin NS] GUEST [ARGS...]\n");
        return 2;
    }
    sbvm_channel_config_add_call(cfg, DEMO_SUM, fn_sum, NULL, NULL);
    sbvm_channel_config_add_call(cfg, DEMO_UPPER, fn_upper, NULL, NULL);
    sbvm_channel_config_add_call(cfg, DEMO_STREAM_END, fn_stream_end, &h, NULL);
    sbvm_channel_config_set_log(cfg, log_line, NULL);
    /* Room for a 1 MiB ring and more. */
    sbvm_channel_config_set_window(cfg, 4 << 20, 64 << 20, NULL);
    if (sbvm_channel_new(cfg, &ch, &err) < 0) {
        fprintf(stderr, "channel-host: %s\n", sbvm_error_message(err));
        return 1;
    }
    fflush(stdout);
    pid = start_guest(ch, argv + i);
    if (pid < 0) {
        perror("channel-host: fork");
        return 1;
    }
    sbvm_channel_close_guest_fd(ch);
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        sbvm_channel_set_peer_pidfd(ch, pidfd, NULL);
        close(pidfd);
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e = { .events = EPOLLIN };
    epoll_ctl(ep, EPOLL_CTL_ADD, sbvm_channel_fd(ch), &e);
    for (;;) {
        if (use_wait) {
            r = sbvm_channel_wait(ch, -1, &err);
        } else {
            if (epoll_wait(ep, &e, 1, -1) < 0 && errno != EINTR)
                break;
            r = sbvm_channel_service(ch, &err);
        }
        if (r < 0)
            break;
        if (r & SBVM_CHANNEL_EV_READ)
            drain(ch, &h);
    }
    if (r != -EPIPE)
        fprintf(stderr, "channel-host: the channel ended: %s\n", sbvm_error_message(err));
    sbvm_error_free(err);
    waitpid(pid, &status, 0);
    close(ep);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
    free(h.buf);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    fprintf(stderr, "channel-host: the guest died of signal %d\n", WTERMSIG(status));
    return 128 + WTERMSIG(status);
}
