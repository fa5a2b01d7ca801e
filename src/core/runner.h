/* SPDX-License-Identifier: MIT */
/* runner.h: the batch runner's state: each guest one inline sandbox. */
#ifndef SBVM_CORE_RUNNER_H
#define SBVM_CORE_RUNNER_H

#include <stdbool.h>

#include "core/loop.h"
#include "sandboxvm/sandboxvm.h"

struct sandbox;
struct job;

enum runner_guest_state {
    RG_QUEUED,
    RG_RUNNING,
    RG_DONE,
};

struct runner_guest {
    struct sbvm_runner *rn;
    size_t index;
    sbvm_config *cfg;
    char *name;
    enum runner_guest_state state;
    struct sandbox *sb;
    struct job *job;
    bool job_done, sb_done;
    bool gone[2]; /* its stdout, stderr have no reader any more */
    sbvm_result *result;
};

struct sbvm_runner {
    struct runner_guest **guests;
    size_t nguests, alloc;
    unsigned parallel;
    unsigned running;
    struct sbvm_events events;
    int signal_fd;
    struct loop_fd signal_src;
    int cancel_signal;      /* the first host signal relayed; stops new starts */
    uint64_t kill_after_ms; /* then SIGKILL; 0: never */
    struct loop_timer kill_timer;
    struct loop *loop;
    struct loop_timer user_timer; /* sbvm_runner_set_timer() */
    void (*timer_fn)(void *ctx);
    void *timer_ctx;
    bool running_now;       /* inside sbvm_runner_run() */
    struct sandbox *shared; /* every guest a job of this live sandbox */
    bool started;
    int64_t start_real, start_mono, duration_ns;
};

#endif
