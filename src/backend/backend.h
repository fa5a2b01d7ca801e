/* SPDX-License-Identifier: MIT */
/*
 * backend.h: what a sandbox backend provides to the runner.
 *
 * A backend is a const ops table. The runner calls run_init once per run,
 * then for each guest: prepare (on the host, may refuse the guest with a
 * result), spawn (starts it and hands over its fds), on_events whenever
 * events_fd is readable, signal on request, finish once the guest's processes
 * are all gone (to fill the outcome), and release. The process backend is the
 * only one today; a KVM backend will be another table in backends[].
 */
#ifndef SBVM_BACKEND_BACKEND_H
#define SBVM_BACKEND_BACKEND_H

#include "core/guest.h"

struct backend_ops {
    const char *name;
    int (*run_init)(void **state, sbvm_error **err);
    void (*run_release)(void *state);
    /* 0: ready to spawn. <0: the guest cannot run; g->result is filled. */
    int (*prepare)(void *state, struct guest *g);
    /* 0: running, fds filled. <0: g->result is filled (SETUP_FAILED). */
    int (*spawn)(void *state, struct guest *g);
    /* Consumes what events_fd has; false once it reached end of file. */
    bool (*on_events)(struct guest *g);
    int (*signal)(struct guest *g, int sig);
    /* Ends a guest for a limit: g->limit_hit is set. The backend freezes it
     * so its ledger can be taken, then ends it. */
    void (*stop)(struct guest *g);
    /* Called periodically while the guest runs: checks the limits the
     * backend enforces by watching (cpu, pids, files, disk) and calls
     * stop() itself when one is reached. */
    void (*poll)(struct guest *g);
    /* Reaps what is left and fills outcome, exit code, signal, message. */
    void (*finish)(struct guest *g, sbvm_result *r);
    void (*release)(struct guest *g);
};

extern const struct backend_ops process_backend;

#endif
