/* SPDX-License-Identifier: MIT */
/*
 * job.h: one execution in a sandbox: its program, its standard streams (or
 * its terminal), what is kept of its output, its deadline and output limit,
 * and the facts its result is built from. The sandbox half (namespaces,
 * view, init, ledger) is sandbox.h's.
 *
 * Core owns a job's I/O: it makes the pipes (the backend only hands the
 * child ends to the job's first process), streams what arrives to the
 * job's events, forwards stdin without ever giving the guest a host fd,
 * and keeps memory bounded whatever the guest writes.
 */
#ifndef SBVM_CORE_JOB_H
#define SBVM_CORE_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/capture.h"
#include "core/facts.h"
#include "core/loop.h"
#include "core/result.h"
#include "util/strv.h"

struct sandbox;
struct job;

/* How core tells a job's owner (the runner, or the public API). */
struct job_hooks {
    void *ctx;
    void (*on_output)(void *ctx, struct job *j, enum sbvm_stream s, const void *data, size_t len);
    void (*on_end)(void *ctx, struct job *j);
    void (*on_channel)(void *ctx, struct job *j, int events);
};

enum job_state {
    JOB_NEW,      /* made, not asked for yet */
    JOB_STARTING, /* asked for (live), or its sandbox is being built (inline) */
    JOB_RUNNING,
    JOB_EXITED, /* its first process ended; output may still come */
    JOB_DONE,   /* its result is final */
};

#define JOB_STDIN_BUF 65536

struct job {
    struct sandbox *sb; /* NULL once the sandbox is gone */
    uint32_t id;        /* in its sandbox, from 1 */
    char *name;
    struct strv argv;
    struct strv env;       /* the whole environment ("KEY=VALUE"), or empty: the sandbox's */
    struct strv env_extra; /* "KEY=VALUE" set on top of the sandbox's */
    char *cwd;
    bool terminal;
    bool give_terminal; /* the master is the owner's (job_take_terminal), never relayed */
    bool hold;          /* waits before its exec until job_release() */
    unsigned short rows, cols;
    uint64_t limits[SBVM_LIMIT__COUNT]; /* its values (the config's, or its own) */
    size_t capture_limit;
    bool symbolize;
    enum job_state state;
    int pid; /* its first process, in the sandbox; 0 when unknown */
    /* Asked for before its first process ran (it has no pid yet to be
     * signalled by): sent as soon as it runs. */
    int pending_signal;
    bool pending_kill;

    /* Our ends: output (a terminal's master side for both streams), and
     * the stdin pipe (or the master, again) we write what we forward. */
    int out_fd, err_fd, in_fd;
    /* The ends its first process gets; closed once handed over. */
    int child_in, child_out, child_err;
    /* A held job: what releases it (ours: a byte; theirs: the read end). */
    int hold_w, child_hold;
    int terminal_fd; /* give_terminal: the master, until taken */
    /* Owned copies of what else its first process gets, closed once
     * handed over too, or -1: its fd 3 when that is not a channel served
     * here (`channel` below) but one its owner serves itself (library
     * calls: a worker's channel, a zygote's socket), and an fd of the file
     * to run instead of looking argv[0] up (a sealed memfd). */
    int fd3;
    int exec_fd;
    struct loop_fd out_src, err_src;
    bool out_eof, err_eof;
    /* Streams whose reader is gone (job_close_stream): our read end is
     * closed as soon as the job runs, so its next write there fails
     * with EPIPE (or SIGPIPE), as it would in a pipeline. */
    bool out_gone, err_gone;
    bool in_output_hook; /* inside hooks.on_output: closing waits for its return */

    int stdin_src; /* our own reopening of the caller's stdin, or -1 */
    bool stdin_src_pollable;
    char *stdin_buf;
    size_t stdin_len, stdin_off;
    struct loop_fd stdin_src_w, stdin_pipe_w;

    struct capture cap_out, cap_err;
    struct loop_timer deadline, grace, gone;
    uint64_t output_bytes;
    int64_t start_mono, start_real;

    /* Its host channel, served in the loop while it runs: the caller's,
     * or (own_channel) made from the config's and freed with the job. */
    sbvm_channel *channel;
    bool own_channel;
    struct loop_fd chan_src;
    /* A backend's own work once each service has answered the guest (the
     * driver host's device models run then), or NULL; events as served. */
    void (*chan_served)(void *ctx, int events);
    void *chan_served_ctx;

    struct job_facts facts;
    sbvm_result *result; /* made when it starts; final at JOB_DONE */
    struct job_hooks hooks;
};

/* A job of `argv` (copied). The caller then sets what differs from the
 * defaults, and hands it to sandbox_start_inline() or sandbox_exec(). */
struct job *job_new(size_t argc, const char *const *argv, const char *name);
void job_free(struct job *j);
/* Makes its pipes (or, for a terminal, leaves that to the backend) and
 * its result; stdin_fd is the caller's (-1: none). 0 or -errno. */
int job_prepare_io(struct job *j, int stdin_fd);
/* Its first process runs: watch its output, forward stdin, arm the
 * deadline. 0 or -errno. */
int job_started(struct job *j, struct loop *l);
/* A terminal's master side (from the backend): output and input both,
 * or, for give_terminal, kept for the owner. */
int job_set_terminal(struct job *j, int master);
/* A held job may exec: 0, or -errno (-EALREADY: it was released). */
int job_release(struct job *j);
/* Closes the child ends once the first process has them. */
void job_close_child_ends(struct job *j);
/* Gives the job's first process a copy of fd as its fd 3, which nothing
 * here serves (its owner does): 0 or -errno (-EBUSY when it has one, or a
 * host channel). */
int job_set_fd3(struct job *j, int fd);
/* The first process ended (exited, or never started): the job ends once
 * its output is drained, or soon after in a live sandbox, whose other
 * processes may keep the pipes open. */
void job_exited(struct job *j);
/* Stops watching and forwarding; the caller decides when it is done. */
void job_stop_io(struct job *j);
/* Whether all that must happen before its result is final has. */
bool job_drained(const struct job *j);
/* The reader of one of its streams is gone (a closed pipe, a full disk):
 * stop reading it, so that the guest's own next write there fails as it
 * would outside. Works before the job runs (the stream is closed as soon
 * as it does) and from inside its on_output hook. For a terminal, whose
 * one stream is the terminal, stdout hangs it up. */
void job_close_stream(struct job *j, enum sbvm_stream s);
/* A limit reached for this job (the first one found is the one reported). */
void job_limit(struct job *j, enum sbvm_limit l, uint64_t observed, const char *note);

#endif
