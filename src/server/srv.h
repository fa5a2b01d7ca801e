/* SPDX-License-Identifier: MIT */
/*
 * srv.h: what the session server's files share: the server, its sandboxes
 * and their jobs, the streams that carry a job's events to a client, and
 * the HTTP helpers. Single-threaded (server.h says why); nothing here is
 * locked.
 */
#ifndef SBVM_SERVER_SRV_H
#define SBVM_SERVER_SRV_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandboxvm/sandboxvm.h"
#include "server/request.h"
#include "server/server.h"
#include "util/strbuf.h"

/* Finished jobs a sandbox keeps for GET .../jobs/ID, and ended sandboxes
 * the server keeps (how long, how many) so that a client can learn why
 * its sandbox is gone. */
#define SBX_DONE_JOBS_KEPT 64
#define TOMBSTONE_NS       (600LL * 1000000000)
#define TOMBSTONES_MAX     256
/* A JSON request body, and the most bytes a job's output may reach when
 * the client asks for no limit of its own. */
#define BODY_MAX       (2u << 20)
#define OUTPUT_DEFAULT (16ULL << 20)
#define OUTPUT_MAX     (256ULL << 20)

/* What the outer epoll watches: each registration points at one. */
enum watch_kind { W_LOOP, W_MHD, W_LISTEN, W_TCP, W_SIGNAL, W_HUP, W_STDIN };
struct watch {
    enum watch_kind kind;
    void *ptr;
};

struct server;
struct sbx;
struct sjob;

/* One job's events on their way to one HTTP response. */
struct stream {
    struct server *srv;
    struct sjob *job; /* NULL once the job is gone */
    struct MHD_Connection *conn;
    bool collect;         /* one JSON document at the end, not NDJSON events */
    struct strbuf buf;    /* bytes not yet given to MHD */
    size_t off;           /* how many of them were */
    struct strbuf out[2]; /* collect: stdout, stderr */
    bool ended;           /* the last event (or the document) is in buf */
    bool suspended;
    bool resume_queued;
    bool hup; /* the client went away while the connection was suspended */
    int fd;   /* the connection's socket, watched for a hang-up while suspended */
    struct watch hupw;
    bool hup_armed;
};

struct sjob {
    struct server *srv;
    struct sbx *sbx;
    unsigned id;
    sbvm_job *job;
    struct sbvm_job_events events; /* the library keeps a pointer to it */
    json_t *argv;
    bool terminal;
    int stdin_w;             /* an open stdin's write end, or -1 */
    struct strbuf stdin_buf; /* bytes the job has not read yet */
    size_t stdin_off;
    bool stdin_eof; /* close it once they are written */
    struct watch stdin_watch;
    bool stdin_armed;
    struct stream *stream;
    bool done;
    bool keep; /* runs on when its client goes away */
    bool detached;
    int64_t start_real, end_mono;
};

/* STARTING and ENDING are the library's work in progress, which the
 * server's thread does not wait for: the request that asked waits,
 * suspended (in `waiters`), and the others are served meanwhile. */
enum sbx_state { SBX_STARTING, SBX_READY, SBX_ENDING, SBX_ENDED };
struct req;

struct sbx {
    char id[24];
    char *label;
    uid_t owner;
    enum sbx_state state;
    sbvm_sandbox *sb; /* NULL once ended */
    /* Requests answered when its building or its end is done: the create
     * (`creating`), or destroys. */
    struct req **waiters;
    size_t nwaiters, waiters_alloc;
    bool creating;
    bool filled;      /* a restore's /tmp is in */
    json_t *settings; /* as asked for, secret values removed */
    char *snapshot;   /* restored from */
    char *layer;      /* persistent: the host directory of its writable layer */
    bool persistent;
    bool pooled;
    int64_t created_real, created_mono, active_mono, ended_mono, ended_real;
    uint64_t idle_ms, lifetime_ms;
    const char *end_reason; /* "destroyed", "idle_timeout", ... */
    json_t *final;          /* its own result, at its end */
    struct sjob **jobs;
    size_t njobs, jobs_alloc;
    unsigned next_job, running;
};

struct server {
    struct serve_options o;
    sbvm_loop *loop;
    struct MHD_Daemon *mhd;
    int epfd, listen_fd, tcp_fd, sig_fd, mhd_fd, loop_fd;
    struct watch w_loop, w_mhd, w_listen, w_tcp, w_signal;
    char *token;
    size_t token_len;
    uid_t uid;
    int state_fd;
    char *tmp_dir;       /* state/tmp: staging for uploads and downloads */
    json_t *defaults;    /* the default settings */
    sbvm_config *defcfg; /* ... as a config */
    struct sbx **sbx;    /* live and ended */
    size_t nsbx, sbx_alloc;
    struct sbx **pool;
    size_t npool, pool_alloc;
    struct stream **resume;
    size_t nresume, resume_alloc;
    bool stopping;
    bool kick;           /* MHD has resumed connections to serve: run it before sleeping */
    struct req *current; /* the request whose handler runs (http_defer) */
    uint64_t seq;
    int64_t pool_retry_mono;   /* after a failed refill, not before */
    int64_t pool_started_mono; /* the last refill's start */
    int64_t active_mono;       /* a request's last step (pool_wait_ms) */
    /* Tests only (SBVM_SERVE_TEST_HOLD): while this path exists, a sandbox
     * the library has built is still treated as being built, so that a
     * test can hold a create in progress for as long as it needs. */
    const char *test_hold;
};

/* A client connection's identity (MHD's socket context). */
struct peer {
    uid_t uid;
    pid_t pid;
    bool tcp;
    bool allowed;
};

/* ---- server.c ---- */
void srv_log(struct server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Asks for a suspended stream's connection to be resumed at the top. */
void srv_queue_resume(struct server *s, struct stream *st);
void srv_forget_resume(struct server *s, struct stream *st);
/* The hang-up watch of a suspended connection. */
void stream_suspended(struct server *s, struct stream *st);
void stream_hup_disarm(struct server *s, struct stream *st);
/* An fd in the outer epoll (events: EPOLLIN, EPOLLOUT ...); 0 or -errno. */
int srv_watch(struct server *s, int fd, struct watch *w, uint32_t events);
void srv_unwatch(struct server *s, int fd);

/* ---- http.c ---- */
int http_start(struct server *s, sbvm_error **err);
void http_stop(struct server *s);
/* Queues a JSON response (takes the reference). */
enum MHD_Result http_json(struct MHD_Connection *c, unsigned status, json_t *body);
/* {"error": {"status", "code", "message"}} */
enum MHD_Result http_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An HTTP status for a library error, and its message. */
enum MHD_Result http_sbvm_error(struct MHD_Connection *c, int rc, sbvm_error *e, const char *what);
unsigned http_status_of(int code);
/* {"error": ...} as a document, for an answer given later. */
json_t *http_error_doc(unsigned status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For a handler whose answer comes later: the request being handled, its
 * connection suspended (return MHD_YES). http_complete() gives the answer
 * (takes the reference), from the top only. */
struct req *http_defer(struct server *s, struct MHD_Connection *c);
void http_complete(struct server *s, struct req *q, unsigned status, json_t *body);

/* ---- sandboxes.c ---- */
struct sbx *sbx_find(struct server *s, const char *id, uid_t owner);
enum MHD_Result api_create(struct server *s, struct MHD_Connection *c, const struct peer *p,
                           const char *body, size_t len);
enum MHD_Result api_list(struct server *s, struct MHD_Connection *c, const struct peer *p);
enum MHD_Result api_inspect(struct server *s, struct MHD_Connection *c, struct sbx *x);
enum MHD_Result api_destroy(struct server *s, struct MHD_Connection *c, struct sbx *x);
enum MHD_Result api_info(struct server *s, struct MHD_Connection *c, const struct peer *p);
/* Starts ending a sandbox (its jobs end KILLED, its streams get their
 * end as the loop runs); sbx_tick() finishes it. */
void sbx_stop(struct server *s, struct sbx *x, const char *reason);
/* The same, waiting for it (the server's end, and errors). */
void sbx_end(struct server *s, struct sbx *x, const char *reason);
void sbx_free(struct sbx *x);
/* Timers and sweeps: ms until the next deadline (-1: none). */
int sbx_tick(struct server *s);
void sbx_touch(struct sbx *x);
json_t *sbx_json(struct server *s, struct sbx *x, bool full);
/* Whether the library still runs it (a sandbox-wide limit ends it alone). */
bool sbx_alive(const struct sbx *x);
int sbx_register(struct server *s, struct sbx *x);
struct sbx *sbx_new(struct server *s, uid_t owner);
char *sbx_layer_dir(struct server *s, const struct sbx *x);

/* ---- settings.c ---- */
/* A settings object (the fields of a profile; docs/API.md) applied to cfg
 * for a client of uid `uid`: host paths and the server's own environment
 * only for clients of the server's own uid. *safe gets a copy without the
 * secrets' values. 0, or an HTTP status with *why. */
int settings_apply(struct server *s, sbvm_config *cfg, json_t *settings, uid_t uid, json_t **safe,
                   struct strbuf *why);

/* ---- exec.c ---- */
enum MHD_Result api_exec(struct server *s, struct MHD_Connection *c, struct sbx *x,
                         const char *body, size_t len);
enum MHD_Result api_jobs(struct server *s, struct MHD_Connection *c, struct sbx *x);
enum MHD_Result api_job(struct server *s, struct MHD_Connection *c, struct sbx *x,
                        const struct route *rt, const char *body, size_t len);
struct sjob *sjob_find(struct sbx *x, const char *id);
json_t *sjob_json(struct sjob *j, bool full);
void sjob_free(struct sjob *j);
/* The sandbox ended: every job's stream gets its end. */
void sjob_sandbox_ended(struct server *s, struct sjob *j);
/* MHD's content reader of a stream, and its release. */
ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max);
void stream_release(void *cls);
void stream_hangup(struct server *s, struct stream *st);
/* An open stdin can take more: write what waits. */
void sjob_stdin_pump(struct sjob *j);

/* ---- transfer.c ---- */
enum MHD_Result api_put(struct server *s, struct MHD_Connection *c, struct sbx *x, const char *path,
                        int fd, uint64_t len, const char *type, bool replace);
enum MHD_Result api_get(struct server *s, struct MHD_Connection *c, struct sbx *x, const char *path,
                        bool raw);
/* A private staging directory under state/tmp (remove it with rm_tree). */
char *stage_dir(struct server *s, sbvm_error **err);
int rm_tree(const char *path);
/* Runs argv in sandbox x to its end (for the server's own small tasks):
 * its exit status, or -errno. */
int sbx_run_quiet(struct sbx *x, const char *const *argv, sbvm_error **err);

/* ---- snapshot.c ---- */
enum MHD_Result api_snapshot_take(struct server *s, struct MHD_Connection *c, struct sbx *x,
                                  const char *body, size_t len);
enum MHD_Result api_snapshots(struct server *s, struct MHD_Connection *c, const struct peer *p,
                              const struct route *rt);
/* Restore: the snapshot's settings into *settings (a new reference) and
 * its layer copied to layer_dir; its /tmp is put in after the sandbox is
 * made (snapshot_fill). 0 or an HTTP status with *why. */
int snapshot_open(struct server *s, uid_t owner, const char *name, json_t **settings,
                  bool *persistent, struct strbuf *why);
int snapshot_copy_layer(struct server *s, uid_t owner, const char *name, const char *layer_dir,
                        struct strbuf *why);
int snapshot_fill(struct server *s, struct sbx *x, uid_t owner, const char *name,
                  struct strbuf *why);
/* Removes layers that no live sandbox owns (a killed server's). */
void snapshot_sweep_layers(struct server *s);

/* ---- pool.c ---- */
/* A ready sandbox of the default settings for `owner`, or NULL. */
struct sbx *pool_take(struct server *s, uid_t owner);
/* Starts one pooled sandbox when fewer than --warm are ready or on their
 * way: whether it did (the caller comes back for the next). */
bool pool_refill(struct server *s);
bool pool_wants(struct server *s);
/* -1: the pool wants nothing; 0: a refill may start now; else the ms until
 * one may (after a quiet moment: the server's clients first). */
int pool_wait_ms(struct server *s);
size_t pool_ready(struct server *s);
void pool_forget(struct server *s, struct sbx *x);
void pool_drain(struct server *s);

/* ---- util ---- */
/* ms since the epoch as "2026-...Z" */
json_t *json_time(int64_t real_ns);
/* A JSON string for arbitrary bytes: {"data": text} when valid UTF-8,
 * else {"data_b64": ...}, set on obj. */
void json_set_bytes(json_t *obj, const void *data, size_t len);
char *b64_encode(const void *data, size_t len);

#endif
