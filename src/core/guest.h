/* SPDX-License-Identifier: MIT */
/*
 * guest.h: one guest as the runner sees it, independent of the backend.
 *
 * The runner owns the guest's I/O (output pipes, stdin forwarding), its
 * timing and its result; the backend owns how the guest is built, started,
 * signalled and how its end is interpreted, through struct backend_ops.
 */
#ifndef SBVM_CORE_GUEST_H
#define SBVM_CORE_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/capture.h"
#include "core/config.h"
#include "core/result.h"

enum guest_state {
    GUEST_QUEUED,
    GUEST_RUNNING,
    GUEST_DONE,
};

enum watch_kind {
    WATCH_OUT,
    WATCH_ERR,
    WATCH_STDIN_SRC,  /* the caller's fd we forward from */
    WATCH_STDIN_PIPE, /* the guest's stdin pipe, when it has room again */
    WATCH_EVENTS,     /* backend reports (status pipe) */
    WATCH_EXIT,       /* backend exit handle (pidfd) */
    WATCH_DEADLINE,   /* the time limit's timerfd */
    WATCH__COUNT,
};

struct guest;

struct watch {
    struct guest *g;
    enum watch_kind kind;
    bool armed;
};

#define STDIN_BUF 65536

struct guest {
    size_t index;
    size_t run_guests; /* how many guests the run has */
    /* Set by the runner before spawn(): no other sandbox of the run is
     * alive, so the machine's other CPUs are likely idle. */
    bool spawn_alone;
    sbvm_config *cfg;
    char *name;
    enum guest_state state;

    const struct backend_ops *ops;
    void *bdata; /* the backend's per-guest state */

    /* Filled by the backend's spawn(); the runner owns them afterwards. */
    int out_fd, err_fd; /* read ends of stdout/stderr pipes */
    int in_fd;          /* write end of the stdin pipe, or -1 */
    int events_fd;      /* readable when the backend has reports */
    int exit_fd;        /* readable when the sandbox has ended */

    int stdin_src; /* our dup of the caller's stdin fd, or -1 */
    bool stdin_src_pollable;
    char *stdin_buf;
    size_t stdin_len, stdin_off;

    bool out_eof, err_eof, events_eof, exited;
    struct watch watches[WATCH__COUNT];

    struct capture cap_out, cap_err;
    int64_t start_mono, start_real;
    int host_signal; /* the last signal the host sent on request, or 0 */

    /* Limits the runner enforces itself (time, output), and the one that
     * ended the guest, whoever detected it. */
    int deadline_fd; /* timerfd for the time limit, or -1 */
    uint64_t output_bytes;
    int limit_hit; /* enum sbvm_limit, or -1 */
    uint64_t limit_observed;
    char limit_note[128]; /* how it was hit ("openat in pid 3 failed with EMFILE"), or "" */

    sbvm_result *result;
};

/* A limit ended (or is ending) the guest: the first one found is the one
 * reported; the guest is stopped unless it has exited already (a record
 * read after its exit may still name the limit that killed it). */
void guest_limit_reached(struct guest *g, enum sbvm_limit l, uint64_t observed);

#endif
