/* SPDX-License-Identifier: MIT */
/*
 * sandbox.h: a sandbox as core sees it, whatever backend builds it: its
 * config, its loop, its jobs, its life (starting, ready, ending, ended),
 * and the decisions taken on what its backend reports (backend.h): which
 * job a limit ends, when a job's result is final, what the sandbox's own
 * end says. The public sbvm_sandbox and sbvm_job are these.
 *
 * Clients: the batch runner (runner.c: one inline sandbox per guest) and
 * the public API (api.c: live sandboxes, jobs exec'd into them).
 */
#ifndef SBVM_CORE_SANDBOX_H
#define SBVM_CORE_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "core/facts.h"
#include "core/job.h"
#include "core/loop.h"

struct backend_ops;

enum sandbox_state {
    SB_NEW,
    SB_STARTING, /* being built */
    SB_READY,    /* live: jobs may start */
    SB_STOPPING, /* being ended */
    SB_ENDED,    /* gone; its report taken */
};

struct sandbox_hooks {
    void *ctx;
    /* Its end: every job's result and its own are final. */
    void (*on_ended)(void *ctx, struct sandbox *sb);
};

struct sandbox {
    struct loop *loop;
    bool own_loop;
    struct sbvm_config *cfg; /* a copy */
    char *name;
    const struct backend_ops *ops;
    void *bstate; /* the backend's, for all its sandboxes */
    void *bdata;  /* the backend's, for this one */
    enum sandbox_state state;
    bool live;
    bool spawner_gone; /* live: its exec server ended (pid 2 is no longer ours) */
    bool alone;        /* no other sandbox of its run is alive (a hint) */
    bool copy_suffix;  /* --copy-out writes HOST.NAME (one of several) */
    int64_t start_mono, start_real;

    struct job **jobs; /* live: every job not yet freed; inline: the one */
    size_t njobs, jobs_alloc;
    uint32_t next_job;

    /* How each limit is enforced here (the backend says, at prepare). */
    const char *mechanisms[SBVM_LIMIT__COUNT];
    /* The sandbox's own facts: a set-up failure, a sandbox-wide limit, and
     * what happened in processes no job claims. */
    struct job_facts facts;
    struct sandbox_report report;
    bool have_report;
    sbvm_result *result; /* its own, final at SB_ENDED */
    struct sandbox_hooks hooks;
    bool destroyed; /* its public handle is gone: free it at its end */
};

/* Tests and fuzzers only: ops that stand in for the first backend's in new
 * sandboxes (sharing its state), to drive it without a real sandbox. */
extern const struct backend_ops *sandbox_backend_override;

/* A sandbox for cfg (copied) on loop l (NULL: one of its own). */
int sandbox_new(struct loop *l, const struct sbvm_config *cfg, const char *name,
                struct sandbox **out, sbvm_error **err);
/* Frees an ended (or never started) sandbox; its jobs survive it (their
 * results stay readable) but forget it. */
void sandbox_free(struct sandbox *sb);

/* Builds the sandbox with `j` as its one job, its program run as the
 * sandbox's first process (sandboxvm run). Everything that goes wrong ends
 * up in j's result; the sandbox ends when j does. */
void sandbox_start_inline(struct sandbox *sb, struct job *j, int stdin_fd);
/* Builds a live sandbox; 0 once building (sandbox_ready() tells when it
 * is ready), or -errno with *err. */
int sandbox_start_live(struct sandbox *sb, sbvm_error **err);
/* Starts a job in a ready live sandbox; 0, or -errno with *err (then the
 * job is not the sandbox's). */
int sandbox_exec(struct sandbox *sb, struct job *j, int stdin_fd, sbvm_error **err);
/* The sandbox forgets a job (which its owner frees). */
void sandbox_forget_job(struct sandbox *sb, struct job *j);
/* Ends the sandbox and everything in it; its end follows in the loop. */
void sandbox_stop(struct sandbox *sb);
/* A signal from the host, to every job (as a terminal's Ctrl-C would). */
void sandbox_signal(struct sandbox *sb, int sig);

/* For job.c: the job reached its own limit (time, output): end it. */
void sandbox_job_stop(struct job *j);
/* For job.c: something a job waits for happened (an EOF, a grace timer). */
void sandbox_job_progress(struct job *j);

static inline struct loop *sandbox_loop(const struct sandbox *sb)
{
    return sb->loop;
}
static inline bool sandbox_is_live(const struct sandbox *sb)
{
    return sb->live;
}

#endif
