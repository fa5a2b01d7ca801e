/* SPDX-License-Identifier: MIT */
/*
 * backend.h: what a sandbox backend provides to core, and what it reports.
 *
 * A backend is a const ops table (backends[] in core/sandbox.c). It builds
 * sandboxes and starts jobs in them; it reports what it sees as typed
 * events (struct bev) through sandbox_event(), and never decides what they
 * mean or fills a result: core does (core/sandbox.c, core/outcome.c). It
 * registers its own sources (status sockets, exit handles, timers) in the
 * sandbox's loop.
 *
 * A sandbox runs one job inline (its program is the sandbox's first
 * process: sandboxvm run) or is live (jobs exec into it one by one).
 */
#ifndef SBVM_BACKEND_BACKEND_H
#define SBVM_BACKEND_BACKEND_H

#include "core/facts.h"
#include "core/loop.h"

struct sandbox;
struct job;
struct ledger;

enum bev_kind {
    BEV_READY,        /* built; live: jobs may start                     */
    BEV_SETUP_FAILED, /* u.setup: it could not be built                  */
    BEV_JOB_STARTED,  /* live: job's program runs (u.pid in the sandbox) */
    BEV_JOB_FAILED,   /* u.setup: job's own set-up or its exec failed    */
    BEV_JOB_EXITED,   /* u.exit: job's first process ended               */
    BEV_CRASH,        /* u.crash (core owns it from now): job, or none   */
    BEV_DENIED,       /* u.denial: job's call the filter killed          */
    BEV_LIMIT,        /* u.limit: job's, or (job NULL) the sandbox's     */
    BEV_REFUSALS,     /* u.refusal: counts of one syscall, job or none   */
    BEV_SPAWNER_GONE, /* live: no further job can start                  */
    BEV_ENDED,        /* everything it will report has been reported     */
};

struct bev {
    enum bev_kind kind;
    struct job *job; /* NULL: the sandbox's, or a job no longer known */
    union {
        struct setup_fact setup; /* message owned by the event's receiver */
        int pid;
        struct exit_fact exit;
        struct sbvm_crash *crash;
        struct denial_fact denial;
        struct limit_fact limit;
        struct {
            uint32_t nr, count;
            int err;
        } refusal;
    } u;
};

/* Core's receiver of every event (core/sandbox.c). */
void sandbox_event(struct sandbox *sb, struct bev *ev);

struct backend_ops {
    const char *name;
    /* Whatever a backend keeps for all its sandboxes of a process (plans
     * built once, executables, the host's cgroups). Made on first use. */
    int (*state_new)(void **state, sbvm_error **err);
    void (*state_free)(void *state);

    /* On the host, before anything runs: the view, the filter, the
     * limits' mechanisms; an inline sandbox also resolves its job's
     * program. 0, or <0 with *fail set (the sandbox never starts). */
    int (*prepare)(void *state, struct sandbox *sb, struct job *inline_job,
                   struct setup_fact *fail);
    /* Builds it: 0 once started (events follow in the loop), or <0 with
     * *fail set. */
    int (*start)(struct sandbox *sb, struct job *inline_job, struct setup_fact *fail);
    /* Live: starts a job whose stdio core made (job.c); BEV_JOB_STARTED or
     * BEV_JOB_FAILED follows. 0, or -errno with *err when it cannot be
     * asked at all. */
    int (*exec)(struct sandbox *sb, struct job *j, sbvm_error **err);
    /* A signal to a job's processes (NULL: every job's, as a terminal
     * would). */
    int (*signal)(struct sandbox *sb, struct job *j, int sig);
    /* Stops (on) or continues every process of a live sandbox. */
    int (*pause)(struct sandbox *sb, bool on);
    /* Ends a job of a live sandbox at once (a limit, a timeout). */
    void (*kill_job)(struct sandbox *sb, struct job *j);
    /* Core frees the job: nothing the backend keeps may point to it any
     * more (what it reports later of the job's processes is nobody's). */
    void (*forget_job)(struct sandbox *sb, struct job *j);
    /* Ends the sandbox: freezes it, takes its ledger, ends it (or kills
     * it when it does not freeze in time). BEV_ENDED follows. */
    void (*stop)(struct sandbox *sb);
    /* After BEV_ENDED: what only the end tells. */
    void (*finish)(struct sandbox *sb, struct sandbox_report *rep);
    /* Files in and out of a live sandbox (copytree.h's rules); 0 or -errno. */
    int (*put)(struct sandbox *sb, const char *host, const char *guest, unsigned flags,
               sbvm_error **err);
    int (*get)(struct sandbox *sb, const char *guest, const char *host, unsigned flags,
               sbvm_error **err);
    /* What runs and what was left, without ending anything. */
    int (*inventory)(struct sandbox *sb, struct ledger **out, sbvm_error **err);
    /* A module file of a crashed process, as the sandbox saw it, for the
     * symboliser: an fd, or -1. */
    int (*open_module)(const char *path, void *sandbox);
    /* A process of a live sandbox by its pid there, for signals sent to it
     * alone and its CPU time (the process backend: its /proc/PID directory,
     * which pidfd_send_signal takes): an fd, or -errno. NULL: unsupported. */
    int (*open_proc)(struct sandbox *sb, int pid);
    void (*release)(struct sandbox *sb);
};

extern const struct backend_ops process_backend;

#endif
