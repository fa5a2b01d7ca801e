/* SPDX-License-Identifier: MIT */
/*
 * server.h: `sandboxvm serve`, the session server: live sandboxes owned by
 * a long-running process and driven over HTTP/1.1 + JSON on a unix socket
 * (docs/API.md, docs/SESSIONS.md).
 *
 * One thread does everything. It owns the library's loop (sbvm_loop: every
 * sandbox, job, pipe and deadline) and libmicrohttpd in its "external
 * epoll" mode, and waits on both from an outer epoll of its own. Creates
 * and destroys do not hold the thread: a sandbox is started
 * (sbvm_sandbox_start) or stopped (sbvm_sandbox_stop) and built or ended
 * by its own processes as the loop runs, while the request that asked
 * waits suspended; sbx_tick() at the top sees the library's state change
 * and resumes it with its answer. The library's remaining blocking calls
 * (put, get, a snapshot, a restore's /tmp: each runs the loop until it is
 * done) are made from HTTP handlers, which run in MHD_run(), never inside
 * sbvm_loop_run(): the loop refuses to be run from its own callbacks, and
 * MHD is never re-entered because its fd is not in the library's loop.
 * Job callbacks only append to buffers and ask for a connection to be
 * resumed; everything else happens at the top.
 */
#ifndef SBVM_SERVER_SERVER_H
#define SBVM_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandboxvm/sandboxvm.h"

#define SERVE_ALLOW_UIDS_MAX 16
#define SERVE_ROOTFS_MAX     16

struct serve_rootfs {
    const char *name; /* what clients say */
    const char *path; /* the host tree */
};

struct serve_options {
    const char *socket_path; /* the unix socket (created 0600) */
    const char *state_dir;   /* layers, snapshots, staging (created 0700) */
    const char *settings;    /* JSON file: defaults for every sandbox; NULL: built in */
    const char *tcp;         /* "127.0.0.1:PORT" to also listen on TCP, or NULL */
    const char *token_file;  /* the bearer token TCP clients must send */
    unsigned warm;           /* sandboxes kept ready for a default create */
    unsigned max_sandboxes;  /* alive at once, pool included */
    unsigned max_jobs;       /* running at once in one sandbox */
    uint64_t idle_ms;        /* a sandbox's default idle timeout (0: none) */
    uint64_t lifetime_ms;    /* its default maximum lifetime (0: none) */
    uint64_t max_idle_ms;    /* the most a client may ask for (0: no cap) */
    uint64_t max_lifetime_ms;
    uint64_t max_upload; /* bytes of one file upload */
    uid_t allow_uids[SERVE_ALLOW_UIDS_MAX];
    size_t nallow_uids;
    struct serve_rootfs rootfs[SERVE_ROOTFS_MAX];
    size_t nrootfs;
    int ready_fd; /* gets "ready\n" once the socket accepts; -1 */
    bool verbose;
    /* One line for the log, without newline; NULL: silent. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
};

/* Fills the defaults (documented with the options in cmd_serve.c). */
void serve_options_init(struct serve_options *o);

/* Serves until SIGTERM, SIGINT or SIGHUP, then ends every sandbox: 0, or a
 * negative errno when it could not start (the socket, the state directory)
 * or its loop failed. */
int serve_run(const struct serve_options *o, sbvm_error **err);

#endif
