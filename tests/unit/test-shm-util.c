/* SPDX-License-Identifier: MIT */
/* test-shm-util.c: helpers of the host-channel tests (shm-util.h). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm-util.h"

int64_t shm_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

sbvm_channel *shm_new(const sbvm_channel_config *cfg)
{
    sbvm_channel_config *own = NULL;
    sbvm_channel *ch = NULL;
    sbvm_error *err = NULL;
    int r;

    if (!cfg)
        cfg = own = sbvm_channel_config_new();
    r = sbvm_channel_new(cfg, &ch, &err);
    ck_assert_msg(r == 0, "sbvm_channel_new: %s", sbvm_error_message(err));
    sbvm_channel_config_free(own);
    return ch;
}

int shm_pidfd(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void child_fds(int gfd)
{
    if (gfd >= 0) {
        if (gfd != 3)
            ck_assert_int_eq(dup2(gfd, 3), 3);
        else
            fcntl(3, F_SETFD, 0);
        syscall(SYS_close_range, 4, ~0u, 0);
    }
}

pid_t shm_spawn(sbvm_channel *ch, int (*fn)(void *), void *arg)
{
    int gfd = sbvm_channel_guest_fd(ch);
    pid_t pid;
    int pfd;

    ck_assert_int_ge(gfd, 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        child_fds(gfd);
        setenv(SBVM_CHANNEL_ENV, "3", 1);
        _exit(fn(arg));
    }
    sbvm_channel_close_guest_fd(ch);
    pfd = shm_pidfd(pid);
    ck_assert_int_ge(pfd, 0);
    ck_assert_int_eq(sbvm_channel_set_peer_pidfd(ch, pfd, NULL), 0);
    close(pfd);
    return pid;
}

pid_t shm_fork(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

static int status_of(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

int shm_reap(pid_t pid, int64_t timeout_ns)
{
    int64_t end = shm_now() + timeout_ns;
    int st;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return status_of(st);
        if (shm_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return status_of(st);
        }
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

int shm_serve(sbvm_channel *ch, pid_t pid, int64_t timeout_ns, int *last)
{
    int64_t end = shm_now() + timeout_ns;
    int r = 0, st;

    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            /* Whatever it left (a last call is answered before it exits). */
            r = sbvm_channel_service(ch, NULL);
            if (last)
                *last = r;
            return status_of(st);
        }
        if (shm_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            if (last)
                *last = r;
            return status_of(st);
        }
        r = sbvm_channel_wait(ch, 5 * 1000 * 1000, NULL);
        if (r < 0) {
            /* Ended: the guest died or broke the protocol. */
            if (last)
                *last = r;
            waitpid(pid, &st, 0);
            return status_of(st);
        }
    }
}

int shm_raw_boot(int sock, int *memfd, int *efd)
{
    struct sbvm_boot boot;
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = { .iov_base = &boot, .iov_len = sizeof(boot) };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)
    };
    struct cmsghdr *c;
    int fds[2];

    if (recvmsg(sock, &mh, MSG_DONTWAIT) != (ssize_t)sizeof(boot))
        return -EPROTO;
    c = CMSG_FIRSTHDR(&mh);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -EPROTO;
    memcpy(fds, CMSG_DATA(c), sizeof(fds));
    *memfd = fds[0];
    *efd = fds[1];
    return 0;
}
