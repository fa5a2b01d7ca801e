/* SPDX-License-Identifier: MIT */
/* shm-util.h: helpers of the host-channel tests: forked guests, serving. */
#ifndef SBVM_TESTS_SHM_UTIL_H
#define SBVM_TESTS_SHM_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sandboxvm/channel.h"
#include "sandboxvm/guest.h"

/* A check inside a forked guest: says what failed and returns 1 (the
 * guest's exit status). */
#define GX(cond)                                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "guest %s:%d: %s\n", __FILE__, __LINE__, #cond);                       \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* The same, showing an SDK return value. */
#define GXR(expr, want)                                                                            \
    do {                                                                                           \
        long r_ = (long)(expr);                                                                    \
        if (r_ != (long)(want)) {                                                                  \
            fprintf(stderr, "guest %s:%d: %s = %ld (%s), want %ld\n", __FILE__, __LINE__, #expr,   \
                    r_, sbvm_strerror((int)r_), (long)(want));                                     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* A channel from cfg (NULL: defaults); aborts the test on failure. */
sbvm_channel *shm_new(const sbvm_channel_config *cfg);

/*
 * Forks a guest as a program started by a host would be: the channel's
 * guest fd as fd 3, named by SBVM_CHANNEL=3, every other fd closed. It runs
 * fn(arg) and exits with its return value. The parent closes its copy of
 * the guest fd and watches the child's pidfd through the channel.
 */
pid_t shm_spawn(sbvm_channel *ch, int (*fn)(void *), void *arg);

/* The same without touching the channel's fds in the parent (raw guests
 * that share the parent's mapping by fork). */
pid_t shm_fork(int (*fn)(void *), void *arg);

/*
 * Serves ch (sbvm_channel_wait) until the guest pid exits or timeout_ns
 * passes (then it is killed). Returns the exit status (128 + signal when
 * killed by one); *last (when not NULL) gets service's last return.
 */
int shm_serve(sbvm_channel *ch, pid_t pid, int64_t timeout_ns, int *last);

/* Waits for pid (at most timeout_ns, then SIGKILL): its status as above. */
int shm_reap(pid_t pid, int64_t timeout_ns);

/* A pidfd for pid, or -1. */
int shm_pidfd(pid_t pid);

/* Receives the boot message's fds (a raw guest): 0 or -errno. */
int shm_raw_boot(int sock, int *memfd, int *efd);

int64_t shm_now(void);

#endif
