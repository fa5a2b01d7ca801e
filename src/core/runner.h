/* SPDX-License-Identifier: MIT */
/* runner.h: the runner's state, shared with the report writers. */
#ifndef SBVM_CORE_RUNNER_H
#define SBVM_CORE_RUNNER_H

#include <stdbool.h>

#include "core/guest.h"
#include "sandboxvm/sandboxvm.h"

struct backend_ops;

struct sbvm_runner {
    struct guest **guests;
    size_t nguests, alloc;
    unsigned parallel;
    unsigned running;
    struct sbvm_events events;
    int signal_fd;
    int cancel_signal; /* the first host signal relayed; stops new starts */
    int epfd;
    bool started;
    const struct backend_ops *backend;
    void *backend_state;
    int64_t start_real, start_mono, duration_ns;
    int64_t last_poll;
};

#endif
