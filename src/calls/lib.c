/* SPDX-License-Identifier: MIT */
/*
 * lib.c: a library opened for calls: its sandbox, the manager thread that
 * owns it, its workers' lives (started, ready, idle, held, ended, freed)
 * and the pool callers take them from. lib.h says who touches what.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "calls/lib.h"
#include "calls/proto.h"
#include "core/config.h"
#include "core/job.h"
#include "core/outcome.h"
#include "forensics/forensics.h"
#include "core/sandbox.h"
#include "sandboxvm/guest.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* The worker program, embedded at build time (src/calls/worker). */
extern const unsigned char sbvm_worker_image[];
extern const size_t sbvm_worker_image_len;

#define DEFAULT_WORKERS      4
#define MAX_WORKERS          64
#define DEFAULT_SPARES       1
#define MAX_SPARES           8
#define DEFAULT_BUFFER_BYTES (UINT64_C(64) << 20)
#define MAX_BUFFER_BYTES     (UINT64_C(1) << 30)
/* How long a worker may take to load its library and say READY, and how
 * long the end of one that died may take to be reported. */
#define START_TIMEOUT_NS (30LL * 1000000000)
#define END_TIMEOUT_NS   (10LL * 1000000000)
#define REFILL_WAIT_NS                                                                             \
    (50LL * 1000000) /* a crashed call waits this long at most for its replacement */
/* Workers that die before READY, in a row, before the library gives up. */
#define START_FAILURES_MAX 3
/* How long a forked worker's crash report may take to follow its end. */
#define CRASH_WAIT_NS (2LL * 1000000000)

/* Handles: tag (8 bits) | worker (24) | generation (16) | slot (16). */
#define H_WORKER_BITS 24
#define H_GEN_BITS    16
#define H_SLOT_BITS   16

static void *manager_main(void *arg);
static int take_ready(struct sbvm_lib *lib, struct worker *w);
static void lib_break(struct sbvm_lib *lib, sbvm_error *why);

/* ---- the worker program ----------------------------------------------------- */

static pthread_once_t image_once = PTHREAD_ONCE_INIT;
static int image_fd = -1;
static int image_errno;

/* One sealed memfd of the worker program for the process. Readable, unlike
 * the init's: an exec of an unreadable file leaves the process
 * non-dumpable, and the init could not then read a crashed worker's stack
 * and maps for its report. Only the library's own workers can see it. */
static void make_image(void)
{
    int fd = memfd_create("sbvm-worker", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

    if (fd < 0 && errno == EINVAL)
        fd = memfd_create("sbvm-worker", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        image_errno = errno;
        return;
    }
    if (write_full(fd, sbvm_worker_image, sbvm_worker_image_len) < 0 || fchmod(fd, 0555) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        image_errno = errno ? errno : EIO;
        close(fd);
        return;
    }
    image_fd = fd;
}

/* ---- handles ---------------------------------------------------------------- */

sbvm_handle lib_handle(const struct worker *w, size_t slot)
{
    const struct handle *h = &w->handles[slot];

    return (uint64_t)w->lib->tag << 56 |
           (w->id & ((UINT64_C(1) << H_WORKER_BITS) - 1)) << (H_GEN_BITS + H_SLOT_BITS) |
           (uint64_t)(h->gen & ((1u << H_GEN_BITS) - 1)) << H_SLOT_BITS | (uint64_t)slot;
}

int lib_handle_split(const struct sbvm_lib *lib, sbvm_handle h, uint64_t *worker, size_t *slot,
                     uint32_t *gen)
{
    if (h >> 56 != lib->tag)
        return -EBADF;
    *worker = (h >> (H_GEN_BITS + H_SLOT_BITS)) & ((UINT64_C(1) << H_WORKER_BITS) - 1);
    *gen = (uint32_t)(h >> H_SLOT_BITS) & ((1u << H_GEN_BITS) - 1);
    *slot = (size_t)(h & ((1u << H_SLOT_BITS) - 1));
    return *worker ? 0 : -EBADF;
}

/* ---- workers ------------------------------------------------------------------ */

static struct worker *worker_by_id(struct sbvm_lib *lib, uint64_t id)
{
    for (size_t i = 0; i < lib->nworkers; i++)
        if ((lib->workers[i]->id & ((UINT64_C(1) << H_WORKER_BITS) - 1)) == id)
            return lib->workers[i];
    return NULL;
}

static void worker_free(struct worker *w)
{
    if (!w)
        return;
    loop_fd_del(&w->chsrc);
    if (w->job)
        sbvm_job_free((sbvm_job *)w->job);
    sbvm_channel_free(w->ch);
    close_fd(&w->procfd);
    sbvm_result_free(w->result);
    free(w->fail_text);
    free(w->handles);
    free(w);
}

/* The worker's /proc/PID directory in the sandbox's own /proc, for signals
 * (pidfd_send_signal takes one) and its CPU time: it names that process,
 * never another that takes its pid later. */
static void open_proc(struct sbvm_lib *lib, struct worker *w)
{
    if (w->procfd < 0 && w->pid > 0 && lib->sb->ops->open_proc)
        w->procfd = lib->sb->ops->open_proc(lib->sb, w->pid);
}

/* Under lib->mu, in the manager: the worker is gone (or going). */
static void worker_dead(struct sbvm_lib *lib, struct worker *w)
{
    if (w->state == W_DEAD)
        return;
    w->state = W_DEAD;
    loop_fd_del(&w->chsrc);
    pthread_cond_broadcast(&lib->cv);
}

/* Its job ended (manager, from the loop; lib->mu is not held there). */
static void on_job_end(void *ctx, struct job *j)
{
    struct worker *w = ctx;
    struct sbvm_lib *lib = w->lib;

    pthread_mutex_lock(&lib->mu);
    w->ended = true;
    w->result = j->result;
    j->result = NULL;
    if (w->held && w->ch)
        sbvm_channel_kick(w->ch);
    if (w->state == W_STARTING) {
        /* It never became ready: what it said before it ended, or its
         * job's end, says why. */
        if (!w->fail_text)
            take_ready(lib, w);
        if (!w->fail_text && w->result) {
            w->fail_text = strdup(sbvm_result_message(w->result));
            w->fail_err = EIO;
        }
        lib->start_failures++;
    } else if (w->state == W_IDLE && !w->counted) {
        /* Lost while nobody used it: killed from outside, a limit. */
        w->counted = true;
        lib->losses++;
    }
    worker_dead(lib, w);
    /* Its holder may wait for this end (lib_wait_end). */
    pthread_cond_broadcast(&lib->cv);
    pthread_mutex_unlock(&lib->mu);
    loop_wake(lib->loop);
}

/*
 * A starting worker's hello and READY (manager, lib->mu held): 1 when it
 * is ready now, 0 when not yet, -1 when it failed (fail_text says why).
 */
static int take_ready(struct sbvm_lib *lib, struct worker *w)
{
    unsigned char buf[sizeof(struct calls_rep) + CALLS_TEXT_MAX];
    struct calls_rep rep;
    long n;

    if (sbvm_channel_service(w->ch, NULL) < 0)
        return 0; /* its end (the job's) says why */
    n = sbvm_channel_ring_read(w->ch, CALLS_RING_REP, buf, sizeof(buf), NULL, NULL);
    if (n == -EAGAIN)
        return 0;
    if (n < (long)sizeof(rep) || (memcpy(&rep, buf, sizeof(rep)), rep.op != OP_READY) ||
        rep.len != (uint64_t)n - sizeof(rep)) {
        w->fail_text = strdup("the worker broke the protocol before it was ready");
        w->fail_err = EPROTO;
        return -1;
    }
    if (rep.status != 0) {
        struct strbuf t = STRBUF_INIT;
        /* The loader's words, hostile bytes: kept printable. */
        for (uint32_t i = 0; i < rep.len; i++) {
            unsigned char c = buf[sizeof(rep) + i];
            strbuf_addch(&t, c >= 0x20 && c < 0x7f ? (char)c : '?');
        }
        w->fail_text = strbuf_failed(&t) ? NULL : strbuf_detach(&t, NULL);
        strbuf_release(&t);
        w->fail_err = rep.status < 0 && rep.status > -4096 ? -rep.status : EIO;
        /* The library does not load: no other worker will load it. */
        lib->start_failures = START_FAILURES_MAX;
        return -1;
    }
    /* An exec'd worker's pid comes from its job; a forked one's from the
     * zygote (ZOP_FORKED), or else from what it says itself: hints, used
     * for its crash report and to end it, never naming the init, the exec
     * server or the zygote. */
    if (w->job && w->job->pid > 0)
        w->pid = w->job->pid;
    else if (!w->pid && rep.a > 2 && rep.a < INT32_MAX &&
             (!lib->zjob || (int)rep.a != lib->zjob->pid))
        w->pid = (int)rep.a;
    open_proc(lib, w);
    return 1;
}

/* A starting worker's channel (manager, from the loop). */
/*
 * Warming a ready worker: it looks up every symbol the library's callers
 * have used, in one batch, before it takes its first call, so that a
 * fresh worker's first call (the one after a crash, say) is as quick as
 * any other. 0 when sent (or nothing to send), -1 when it failed.
 */
static int warm_send(struct sbvm_lib *lib, struct worker *w)
{
    unsigned char msg[sizeof(struct calls_req) + CALLS_SYM_NAME_MAX];

    w->warm_first = w->seq + 1;
    w->warm_pending = 0;
    w->warm_sent = 0;
    for (size_t i = 0; i < lib->nfns && w->warm_pending < CALLS_WARM_MAX; i++) {
        struct calls_req q = { .op = OP_SYM, .a = lib->fns[i]->id };
        size_t len = strlen(lib->fns[i]->name);
        if (!lib->fns[i]->found)
            continue;
        q.seq = ++w->seq;
        q.b = len;
        memcpy(msg, &q, sizeof(q));
        memcpy(msg + sizeof(q), lib->fns[i]->name, len);
        if (sbvm_channel_ring_write(w->ch, CALLS_RING_REQ, msg, sizeof(q) + len, 0, NULL) < 0)
            return -1;
        w->warm_ids[w->warm_pending++] = lib->fns[i]->id;
    }
    w->warm_sent = w->warm_pending;
    return 0;
}

/* The warming's replies; 1 when all came, 0 not yet, -1 broken. */
static int warm_take(struct worker *w)
{
    unsigned char buf[sizeof(struct calls_rep) + CALLS_TEXT_MAX];
    struct calls_rep rep;

    if (sbvm_channel_service(w->ch, NULL) < 0)
        return 0; /* its end (the job's) says why */
    while (w->warm_pending) {
        long n = sbvm_channel_ring_read(w->ch, CALLS_RING_REP, buf, sizeof(buf), NULL, NULL);
        uint32_t id;
        if (n == -EAGAIN)
            return 0;
        /* In order: the reply to the next request sent. */
        if (n < (long)sizeof(rep) || (memcpy(&rep, buf, sizeof(rep)), rep.op != OP_SYM) ||
            rep.seq != w->warm_first + (w->warm_sent - w->warm_pending) ||
            rep.len != (uint64_t)n - sizeof(rep))
            return -1;
        id = w->warm_ids[w->warm_sent - w->warm_pending];
        w->warm_pending--;
        if (rep.status == 0 && id < CALLS_SYMS_MAX)
            w->known[id / 8] |= (uint8_t)(1u << (id % 8));
    }
    return 1;
}

/* A starting worker's channel (manager, from the loop): READY, then its
 * warming. */
static void on_worker_channel(struct loop_fd *src, uint32_t events, void *ctx)
{
    struct worker *w = ctx;
    struct sbvm_lib *lib = w->lib;
    int r;

    (void)src;
    (void)events;
    pthread_mutex_lock(&lib->mu);
    if (w->state != W_STARTING)
        goto out;
    if (!w->ready_seen) {
        r = take_ready(lib, w);
        if (r > 0) {
            w->ready_seen = true;
            r = warm_send(lib, w) < 0 ? -1 : 0;
        }
    } else {
        r = 0;
    }
    if (r == 0 && w->ready_seen)
        r = warm_take(w);
    if (r > 0) {
        loop_fd_del(&w->chsrc);
        w->state = W_IDLE;
        lib->start_failures = 0;
        if (lib->state == LIB_OPENING)
            lib->state = LIB_OPEN;
        pthread_cond_broadcast(&lib->cv);
    } else if (r < 0) {
        if (!w->fail_text) {
            w->fail_text = strdup("the worker broke the protocol before it was ready");
            w->fail_err = EPROTO;
        }
        lib->start_failures++;
        w->kill = KILL_CLOSE;
        worker_dead(lib, w);
    }
out:
    pthread_mutex_unlock(&lib->mu);
}

static int add_env(struct job *j, const char *key, unsigned long long v)
{
    char s[64];

    snprintf(s, sizeof(s), "%s=%llu", key, v);
    return strv_push(&j->env_extra, s);
}

/* A worker's channel and object, not yet started (lib->mu held). */
static int worker_new(struct sbvm_lib *lib, struct worker **out, sbvm_error **err)
{
    struct worker *w;
    int r;

    *out = NULL;
    if (ARRAY_GROW(lib->workers, lib->nworkers + 1, &lib->workers_alloc) < 0 ||
        !(w = calloc(1, sizeof(*w))))
        return error_set(err, ENOMEM, "out of memory");
    w->lib = lib;
    w->id = ++lib->next_worker;
    w->procfd = -1;
    w->state = W_STARTING;
    w->start_ns = now_mono_ns();
    r = sbvm_channel_new(lib->chcfg, &w->ch, err);
    if (r == 0 && ((r = sbvm_channel_ring_add(w->ch, SBVM_RING_TO_GUEST, CALLS_RING_BYTES,
                                              CALLS_MSG_MAX, err)) != CALLS_RING_REQ ||
                   (r = sbvm_channel_ring_add(w->ch, SBVM_RING_TO_HOST, CALLS_RING_BYTES,
                                              sizeof(struct calls_rep) + CALLS_TEXT_MAX, err)) !=
                       CALLS_RING_REP))
        r = r < 0 ? r : error_set(err, EPROTO, "the worker's rings");
    if (r < 0) {
        worker_free(w);
        return r;
    }
    *out = w;
    return 0;
}

/* The worker program's job: argv[1] is its mode; fd is what it gets as 3. */
static struct job *worker_job(struct sbvm_lib *lib, const char *mode, const char *name, int fd,
                              bool channel, sbvm_error **err)
{
    const char *argv[] = { "sbvm-worker", mode, lib->dlname };
    struct job *j = job_new(3, argv, name);
    int r;

    if (!j) {
        error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    j->exec_fd = fcntl(lib->image_fd, F_DUPFD_CLOEXEC, 3);
    if (j->exec_fd < 0 || (r = job_set_fd3(j, fd)) < 0 ||
        (channel && (r = strv_push(&j->env_extra, SBVM_CHANNEL_ENV "=3")) < 0) ||
        (r = add_env(j, "SBVM_SPIN_NS", lib->spin_ns)) < 0 ||
        (r = add_env(j, "SBVM_YIELDS", lib->yields)) < 0) {
        error_sys(err, j->exec_fd < 0 ? errno : -r, "preparing a worker");
        job_free(j);
        return NULL;
    }
    return j;
}

/* Starts w as a job of its own, exec'd afresh (lib->mu held). */
static int worker_exec(struct sbvm_lib *lib, struct worker *w, sbvm_error **err)
{
    char name[32];
    struct job *j;
    int r;

    snprintf(name, sizeof(name), "worker-%llu", (unsigned long long)w->id);
    j = worker_job(lib, "serve", name, sbvm_channel_guest_fd(w->ch), true, err);
    if (!j)
        return -ENOMEM;
    j->hooks.ctx = w;
    j->hooks.on_end = on_job_end;
    r = sandbox_exec(lib->sb, j, -1, err);
    if (r < 0) {
        job_free(j);
        return r;
    }
    w->job = j;
    return 0;
}

/* Asks the zygote to fork w (lib->mu held). */
static int worker_fork(struct sbvm_lib *lib, struct worker *w, sbvm_error **err)
{
    struct calls_zmsg m = { .op = ZOP_FORK, .seq = ++lib->zseq };
    struct iovec iov = { &m, sizeof(m) };
    int fd = sbvm_channel_guest_fd(w->ch);
    long n = send_with_fds(lib->zfd, &iov, 1, &fd, 1, MSG_DONTWAIT);

    if (n != (long)sizeof(m))
        return error_sys(err, n < 0 ? (int)-n : EIO, "asking the zygote for a worker");
    w->forked = true;
    w->zseq = m.seq;
    return 0;
}

/* Starts a worker: forked from the zygote, or exec'd (lib->mu held); 0 or
 * -errno with *err. */
static int worker_start(struct sbvm_lib *lib, sbvm_error **err)
{
    struct worker *w;
    int r;

    r = worker_new(lib, &w, err);
    if (r < 0)
        return r;
    r = lib->zygote ? worker_fork(lib, w, err) : worker_exec(lib, w, err);
    if (r < 0) {
        worker_free(w);
        return r;
    }
    /* Only the worker holds its end now: its death hangs the socket up. */
    sbvm_channel_close_guest_fd(w->ch);
    r = loop_fd_add(lib->loop, &w->chsrc, sbvm_channel_fd(w->ch), EPOLLIN, on_worker_channel, w);
    if (r < 0) {
        error_sys(err, -r, "watching a worker's channel");
        w->kill = KILL_CLOSE;
        w->state = W_DEAD;
    }
    lib->workers[lib->nworkers++] = w;
    lib->started++;
    return r;
}

/* ---- the zygote ------------------------------------------------------------------ */

static bool crash_signal(int sig)
{
    return sig == SIGQUIT || sig == SIGILL || sig == SIGTRAP || sig == SIGABRT || sig == SIGBUS ||
           sig == SIGFPE || sig == SIGSEGV || sig == SIGXCPU || sig == SIGXFSZ || sig == SIGSYS;
}

/* Takes the crashes of the zygote's forks out of its job's facts (which
 * keep eight), as they come (lib->mu held). */
static void harvest_crashes(struct sbvm_lib *lib)
{
    struct job_facts *f;

    if (!lib->zjob)
        return;
    f = &lib->zjob->facts;
    for (size_t i = 0; i < f->ncrashes; i++) {
        if (lib->nzcrashes == 64) {
            /* Nobody's: a fork that was never a worker of ours. */
            crash_free(lib->zcrashes[0]);
            memmove(lib->zcrashes, lib->zcrashes + 1, 63 * sizeof(lib->zcrashes[0]));
            lib->nzcrashes--;
        }
        if (ARRAY_GROW(lib->zcrashes, lib->nzcrashes + 1, &lib->zcrashes_alloc) == 0)
            lib->zcrashes[lib->nzcrashes++] = f->crashes[i];
        else
            crash_free(f->crashes[i]);
        f->crashes[i] = NULL;
    }
    f->ncrashes = 0;
    f->crashes_dropped = 0;
}

static struct sbvm_crash *take_zcrash(struct sbvm_lib *lib, int pid)
{
    for (size_t i = 0; i < lib->nzcrashes; i++)
        if (lib->zcrashes[i]->raw.pid == pid) {
            struct sbvm_crash *c = lib->zcrashes[i];
            memmove(&lib->zcrashes[i], &lib->zcrashes[i + 1],
                    (lib->nzcrashes - i - 1) * sizeof(lib->zcrashes[0]));
            lib->nzcrashes--;
            return c;
        }
    return NULL;
}

/*
 * A forked worker's end, its result built as a job's would be: its wait
 * status, and its crash as the init captured it. A crash's report is on
 * its way before the process dies; when a crash signal's is not in yet,
 * it is waited for a while (manager; lib->mu held, dropped while the crash
 * is explained, which reads debug information).
 */
static void finish_forked(struct sbvm_lib *lib, struct worker *w)
{
    const char *argv[] = { "sbvm-worker", "serve", lib->dlname };
    struct outcome_in in = { 0 };
    struct job_facts f;
    struct sbvm_crash *c;
    struct strv av = STRV_INIT;
    sbvm_result *r;
    char name[32];
    bool sig = WIFSIGNALED(w->zstatus);

    harvest_crashes(lib);
    c = take_zcrash(lib, w->pid);
    if (!c && sig && crash_signal(WTERMSIG(w->zstatus)) &&
        now_mono_ns() - w->zexit_ns < CRASH_WAIT_NS)
        return;          /* its report is still on its way */
    w->finishing = true; /* nothing else finishes it meanwhile */
    pthread_mutex_unlock(&lib->mu);
    job_facts_init(&f);
    f.have_exit = true;
    f.exit.signaled = sig;
    f.exit.status = sig ? WTERMSIG(w->zstatus) : WEXITSTATUS(w->zstatus);
    if (c) {
        crash_analyse(c, lib->cfg->symbolize, lib->sb->ops->open_module, lib->sb);
        job_facts_add_crash(&f, c);
    }
    snprintf(name, sizeof(name), "worker-%llu", (unsigned long long)w->id);
    for (size_t i = 0; i < 3; i++)
        strv_push(&av, argv[i]);
    r = result_new(name, &av);
    if (r) {
        in.job = &f;
        in.limits = lib->sb->cfg->limits;
        in.mechanisms = lib->sb->mechanisms;
        outcome_build(&in, r);
    }
    job_facts_release(&f);
    strv_release(&av);
    pthread_mutex_lock(&lib->mu);
    w->result = r;
    w->ended = true;
    if (w->state == W_STARTING) {
        if (!w->fail_text)
            take_ready(lib, w);
        if (!w->fail_text && r) {
            w->fail_text = strdup(sbvm_result_message(r));
            w->fail_err = EIO;
        }
        lib->start_failures++;
    } else if (w->state == W_IDLE && !w->counted) {
        w->counted = true;
        lib->losses++;
    }
    worker_dead(lib, w);
    pthread_cond_broadcast(&lib->cv);
}

/* The zygote's messages (manager, from the loop). */
static void on_zygote(struct loop_fd *src, uint32_t events, void *ctx)
{
    struct sbvm_lib *lib = ctx;
    unsigned char buf[sizeof(struct calls_zmsg) + CALLS_TEXT_MAX + 1];

    (void)src;
    (void)events;
    pthread_mutex_lock(&lib->mu);
    for (;;) {
        struct calls_zmsg m;
        struct worker *w = NULL;
        ssize_t n = recv(lib->zfd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < (ssize_t)sizeof(m)) {
            /* Its end (the job's) says the rest. */
            loop_fd_del(&lib->zsrc);
            break;
        }
        memcpy(&m, buf, sizeof(m));
        for (size_t i = 0; i < lib->nworkers && !w; i++) {
            struct worker *x = lib->workers[i];
            if (x->forked && !x->zexit &&
                (m.op == ZOP_FORKED ? x->zseq == m.seq : x->pid > 0 && x->pid == m.a))
                w = x;
        }
        if (m.op == ZOP_READY && lib->zstate == Z_STARTING) {
            if (m.a == 0) {
                lib->zstate = Z_READY;
                continue;
            }
            /* The library does not load. */
            struct strbuf t = STRBUF_INIT;
            for (ssize_t i = (ssize_t)sizeof(m); i < n; i++)
                strbuf_addch(&t, buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '?');
            sbvm_error *e = NULL;
            error_set(&e, m.a < 0 && m.a > -4096 ? -m.a : EIO,
                      "%s: the worker could not load it: %s", lib->shown,
                      strbuf_failed(&t) ? "?" : t.buf);
            strbuf_release(&t);
            lib_break(lib, e);
        } else if (m.op == ZOP_FORKED && w) {
            /* The pid it names is only a hint (the zygote ran the library's
             * constructors): never the init's, the exec server's or its
             * own, which a kill for a budget would otherwise reach. */
            if (m.a > 2 && (!lib->zjob || m.a != lib->zjob->pid)) {
                if (!w->pid)
                    w->pid = m.a;
            } else {
                w->fail_text = strdup("the zygote could not fork a worker");
                w->fail_err = m.a < 0 && m.a > -4096 ? -m.a : EIO;
                lib->start_failures++;
                w->ended = true;
                worker_dead(lib, w);
            }
        } else if (m.op == ZOP_EXIT && w) {
            w->zexit = true;
            w->zstatus = m.b;
            w->zexit_ns = now_mono_ns();
            /* A caller waiting for its answer learns now, not at the
             * channel's next liveness check. */
            if (w->held && w->ch)
                sbvm_channel_kick(w->ch);
        }
    }
    pthread_mutex_unlock(&lib->mu);
    loop_wake(lib->loop);
}

/* The zygote ended: its forks can no longer be reported on, so they end
 * too; a new zygote is started, unless they keep ending (manager). */
static void on_zygote_end(void *ctx, struct job *j)
{
    struct sbvm_lib *lib = ctx;

    pthread_mutex_lock(&lib->mu);
    loop_fd_del(&lib->zsrc);
    close_fd(&lib->zfd);
    harvest_crashes(lib);
    lib->zstate = Z_NONE;
    if (++lib->zfailures >= START_FAILURES_MAX)
        lib->zygote = false; /* exec each worker instead */
    for (size_t i = 0; i < lib->nworkers; i++) {
        struct worker *w = lib->workers[i];
        if (!w->forked || w->ended)
            continue;
        if (w->procfd >= 0)
            syscall(SYS_pidfd_send_signal, w->procfd, SIGKILL, NULL, 0);
        w->kill = w->kill ? w->kill : KILL_CLOSE;
        w->ended = true;
        free(w->fail_text);
        w->fail_text = strdup("its zygote ended");
        if (j->result) {
            struct strbuf t = STRBUF_INIT;
            strbuf_addf(&t, "its zygote ended (%s)", sbvm_result_message(j->result));
            if (!strbuf_failed(&t)) {
                free(w->fail_text);
                w->fail_text = strbuf_detach(&t, NULL);
            }
            strbuf_release(&t);
        }
        worker_dead(lib, w);
    }
    pthread_cond_broadcast(&lib->cv);
    pthread_mutex_unlock(&lib->mu);
    loop_wake(lib->loop);
}

/* Starts the zygote (manager, lib->mu held). */
static int zygote_start(struct sbvm_lib *lib, sbvm_error **err)
{
    int sp[2];
    struct job *j;
    int r;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        return error_sys(err, errno, "making the zygote's socket");
    j = worker_job(lib, "zygote", "zygote", sp[1], false, err);
    close(sp[1]);
    if (!j) {
        close(sp[0]);
        return -ENOMEM;
    }
    j->hooks.ctx = lib;
    j->hooks.on_end = on_zygote_end;
    r = sandbox_exec(lib->sb, j, -1, err);
    if (r < 0) {
        job_free(j);
        close(sp[0]);
        return r;
    }
    if (lib->zjob)
        sbvm_job_free((sbvm_job *)lib->zjob); /* the one before, ended */
    lib->zjob = j;
    lib->zfd = sp[0];
    lib->zstate = Z_STARTING;
    r = loop_fd_add(lib->loop, &lib->zsrc, lib->zfd, EPOLLIN, on_zygote, lib);
    if (r < 0)
        return error_sys(err, -r, "watching the zygote");
    return 0;
}

/* The library can no longer call anything (manager, lib->mu held). */
static void lib_break(struct sbvm_lib *lib, sbvm_error *why)
{
    if (!lib->broken)
        lib->broken = why;
    else
        sbvm_error_free(why);
    if (lib->state != LIB_CLOSING)
        lib->state = LIB_BROKEN;
    pthread_cond_broadcast(&lib->cv);
}

static void send_kill(struct sbvm_lib *lib, struct worker *w)
{
    if (w->ended)
        return;
    if (w->procfd >= 0 && syscall(SYS_pidfd_send_signal, w->procfd, SIGKILL, NULL, 0) == 0)
        return;
    if (w->job && w->job->pid > 0)
        lib->sb->ops->kill_job(lib->sb, w->job);
}

/* What the manager does between loop iterations (lib->mu held). Workers
 * to free are taken off the list into *gone: the manager frees them after
 * it lets go of lib->mu, so that a caller's next call never waits for a
 * dead worker's window to be unmapped. */
static void manage(struct sbvm_lib *lib, struct worker **gone)
{
    unsigned live = 0, ready = 0, lost = 0, want;
    size_t keep = 0;

    /* A lost call waits for a pass that has seen its loss (lib_wait_end). */
    lib->passes++;
    pthread_cond_broadcast(&lib->cv);

    /* Workers to end (a reset, a failed start), and those to free: dead,
     * not held, and their end known. A kill sent already does no harm. */
    for (size_t i = 0; i < lib->nworkers; i++) {
        struct worker *w = lib->workers[i];
        if (w->state == W_DEAD && !w->held && w->kill && !w->ended)
            send_kill(lib, w);
        if (w->state == W_DEAD && !w->held && (w->ended || (!w->job && !w->forked))) {
            w->next_gone = *gone;
            *gone = w;
            continue;
        }
        lib->workers[keep++] = w;
        if (w->state != W_DEAD)
            live++;
        else if (w->held)
            lost++; /* its caller will want another */
        if (w->state == W_IDLE || w->state == W_STARTING)
            ready++;
    }
    lib->nworkers = keep;
    if (lib->state == LIB_CLOSING || lib->state == LIB_BROKEN)
        return;
    if (lib->start_failures >= START_FAILURES_MAX) {
        struct worker *last = NULL;
        for (size_t i = 0; i < lib->nworkers; i++)
            if (lib->workers[i]->fail_text)
                last = lib->workers[i];
        sbvm_error *e = NULL;
        error_set(&e, last && last->fail_err ? last->fail_err : EIO,
                  "%s: the worker could not load it: %s", lib->shown,
                  last && last->fail_text ? last->fail_text : "it ended before it was ready");
        lib_break(lib, e);
        return;
    }
    if (lib->sb->state != SB_READY) {
        sbvm_error *e = NULL;
        error_set(&e, EPIPE, "%s: the library's sandbox ended%s%s", lib->shown,
                  lib->sb->facts.limit >= 0 ? " at its " : "",
                  lib->sb->facts.limit >= 0 ? sbvm_limit_name(lib->sb->facts.limit) : "");
        if (lib->sb->facts.limit >= 0)
            error_wrap(&e, -EPIPE, "%s", "");
        lib_break(lib, e);
        return;
    }
    if (lib->zygote && lib->zstate == Z_NONE) {
        sbvm_error *e = NULL;
        if (zygote_start(lib, &e) < 0) {
            lib_break(lib, e);
            return;
        }
    }
    if (lib->zygote && lib->zstate != Z_READY)
        return; /* workers are forked once it is */
    /* Enough ready for those who wait, the spares, and the callers whose
     * worker was just lost (its replacement starts while the crash report
     * is being made, so that the next call does not compete with it). */
    want = lib->waiters + lib->spares + lost;
    if (lib->state == LIB_OPENING && want == 0)
        want = 1; /* the one that shows the library loads */
    while (ready < want && live < lib->max_workers + lib->spares) {
        sbvm_error *e = NULL;
        if (worker_start(lib, &e) < 0) {
            lib_break(lib, e);
            return;
        }
        ready++;
        live++;
    }
}

static void *manager_main(void *arg)
{
    struct sbvm_lib *lib = arg;
    sbvm_sandbox *sb = NULL;
    sbvm_error *err = NULL;
    int r;

    r = sbvm_sandbox_create(NULL, lib->cfg, &sb, &err);
    pthread_mutex_lock(&lib->mu);
    if (r < 0) {
        error_wrap(&err, r, "%s: making the library's sandbox", lib->shown);
        lib_break(lib, err);
        pthread_mutex_unlock(&lib->mu);
        return NULL;
    }
    lib->sb = (struct sandbox *)sb;
    lib->loop = sandbox_loop(lib->sb);
    while (lib->state != LIB_CLOSING) {
        struct worker *gone = NULL;
        int timeout = -1;
        manage(lib, &gone);
        /* Forked workers whose end came: their results (which may drop the
         * lock while a crash is explained; only this thread changes the
         * list). Replacements were asked for first. */
        for (size_t i = 0; i < lib->nworkers; i++) {
            struct worker *w = lib->workers[i];
            if (w->forked && w->zexit && !w->ended && !w->finishing) {
                finish_forked(lib, w);
                if (!w->ended)
                    timeout = 10; /* its crash report is still on its way */
            }
        }
        /* A worker slow to start is given up on. */
        for (size_t i = 0; i < lib->nworkers; i++) {
            struct worker *w = lib->workers[i];
            if (w->state == W_STARTING) {
                int64_t left = w->start_ns + START_TIMEOUT_NS - now_mono_ns();
                if (left <= 0) {
                    free(w->fail_text);
                    w->fail_text = strdup("it did not load the library in time");
                    w->fail_err = ETIMEDOUT;
                    lib->start_failures++;
                    w->kill = KILL_CLOSE;
                    worker_dead(lib, w);
                    left = 0;
                }
                if (timeout < 0 || left / 1000000 + 1 < timeout)
                    timeout = (int)(left / 1000000 + 1);
            }
        }
        pthread_mutex_unlock(&lib->mu);
        while (gone) {
            struct worker *next = gone->next_gone;
            worker_free(gone);
            gone = next;
        }
        r = loop_run(lib->loop, timeout);
        pthread_mutex_lock(&lib->mu);
        if (r < 0) {
            sbvm_error *e = NULL;
            error_sys(&e, -r, "%s: the library's event loop", lib->shown);
            lib_break(lib, e);
        }
    }
    /* Closing: every worker ends with the sandbox. */
    for (size_t i = 0; i < lib->nworkers; i++) {
        lib->workers[i]->kill = KILL_CLOSE;
        worker_dead(lib, lib->workers[i]);
    }
    pthread_mutex_unlock(&lib->mu);
    sbvm_sandbox_destroy(sb, NULL, NULL);
    pthread_mutex_lock(&lib->mu);
    for (size_t i = 0; i < lib->nworkers; i++)
        worker_free(lib->workers[i]);
    lib->nworkers = 0;
    if (lib->zjob)
        sbvm_job_free((sbvm_job *)lib->zjob);
    lib->zjob = NULL;
    loop_fd_del(&lib->zsrc);
    close_fd(&lib->zfd);
    lib->sb = NULL;
    lib->loop = NULL;
    pthread_mutex_unlock(&lib->mu);
    return NULL;
}

/* ---- the pool ------------------------------------------------------------------ */

static int lib_unusable(struct sbvm_lib *lib, sbvm_error **err)
{
    if (lib->state == LIB_CLOSING)
        return error_set(err, ESHUTDOWN, "%s: the library is being closed", lib->shown);
    if (lib->broken) {
        error_set(err, sbvm_error_code(lib->broken), "%s", sbvm_error_message(lib->broken));
        return -sbvm_error_code(lib->broken);
    }
    return error_set(err, EPIPE, "%s: the library cannot be called", lib->shown);
}

/* Workers still starting (lib->mu held). */
static unsigned starting_count(const struct sbvm_lib *lib)
{
    unsigned n = 0;

    for (size_t i = 0; i < lib->nworkers; i++)
        n += lib->workers[i]->state == W_STARTING;
    return n;
}

/* Idle and starting workers (lib->mu held). */
static unsigned idle_count(const struct sbvm_lib *lib)
{
    unsigned n = 0;

    for (size_t i = 0; i < lib->nworkers; i++)
        n += lib->workers[i]->state == W_IDLE || lib->workers[i]->state == W_STARTING;
    return n;
}

int lib_acquire(struct sbvm_lib *lib, uint64_t id, struct worker **out, sbvm_error **err)
{
    bool wake;
    int r = 0;

    *out = NULL;
    pthread_mutex_lock(&lib->mu);
    for (;;) {
        struct worker *w = NULL;
        if (lib->state != LIB_OPEN) {
            r = lib_unusable(lib, err);
            break;
        }
        if (id) {
            w = worker_by_id(lib, id);
            if (!w || w->state == W_DEAD) {
                r = error_set(err, ESTALE,
                              "the handle belongs to worker %llu, which is gone: what it held "
                              "(the library's state) was lost",
                              (unsigned long long)id);
                break;
            }
            if (w->state != W_IDLE) {
                /* Wait for it; meanwhile calls that may take any worker
                 * leave it to us (else they could starve us). */
                w->wanted++;
                pthread_cond_wait(&lib->cv, &lib->mu);
                w->wanted--;
                continue;
            }
        } else {
            for (size_t i = 0; i < lib->nworkers && !w; i++)
                if (lib->workers[i]->state == W_IDLE && !lib->workers[i]->wanted)
                    w = lib->workers[i];
        }
        if (w) {
            w->state = W_BUSY;
            w->held = true;
            *out = w;
            break;
        }
        lib->waiters++;
        loop_wake(lib->loop);
        pthread_cond_wait(&lib->cv, &lib->mu);
        lib->waiters--;
    }
    /* The manager starts a spare to replace the one taken, when it is
     * needed: not on every call (waking it costs a context switch). */
    wake = *out && idle_count(lib) < lib->spares;
    pthread_mutex_unlock(&lib->mu);
    if (wake)
        loop_wake(lib->loop);
    return r;
}

void lib_release(struct sbvm_lib *lib, struct worker *w)
{
    bool dead;

    pthread_mutex_lock(&lib->mu);
    w->held = false;
    dead = w->state == W_DEAD;
    if (w->state == W_BUSY)
        w->state = W_IDLE;
    pthread_cond_broadcast(&lib->cv);
    pthread_mutex_unlock(&lib->mu);
    if (dead)
        loop_wake(lib->loop);
}

void lib_wait_end(struct sbvm_lib *lib, struct worker *w)
{
    struct timespec until;
    sbvm_channel *ch;
    uint64_t passes;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += END_TIMEOUT_NS / 1000000000;
    pthread_mutex_lock(&lib->mu);
    w->state = W_DEAD;
    passes = lib->passes; /* the next pass sees it dead */
    if (!w->counted) {
        w->counted = true;
        lib->losses++;
    }
    /* A worker that does not die on its own (a channel that broke) is
     * ended, so that its end can be known. */
    if (!w->kill)
        w->kill = KILL_CLOSE;
    pthread_mutex_unlock(&lib->mu);
    send_kill(lib, w);
    loop_wake(lib->loop); /* a replacement */
    pthread_mutex_lock(&lib->mu);
    while (!w->ended && lib->state != LIB_CLOSING)
        if (pthread_cond_timedwait(&lib->cv, &lib->mu, &until) == ETIMEDOUT)
            break;
    /* The loss is this call's: it returns once the manager has seen it
     * (a pass after the worker was marked dead starts its replacement)
     * and the worker started in its place is ready (for a while at most),
     * so that the next call finds the library as it was and does not share
     * the CPUs with that start. */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += REFILL_WAIT_NS;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (lib->state == LIB_OPEN && (lib->passes == passes || starting_count(lib) > 0))
        if (pthread_cond_timedwait(&lib->cv, &lib->mu, &until) == ETIMEDOUT)
            break;
    /* Its channel is unmapped here too, not by the manager while the
     * next call runs (an unmap interrupts the other CPUs using this
     * process's memory). */
    ch = w->ended ? w->ch : NULL;
    if (ch)
        w->ch = NULL;
    pthread_mutex_unlock(&lib->mu);
    sbvm_channel_free(ch);
}

void lib_kill(struct worker *w, enum worker_kill why)
{
    pthread_mutex_lock(&w->lib->mu);
    if (!w->kill)
        w->kill = why;
    pthread_mutex_unlock(&w->lib->mu);
    if (w->procfd >= 0)
        syscall(SYS_pidfd_send_signal, w->procfd, SIGKILL, NULL, 0);
    else
        loop_wake(w->lib->loop);
}

/* ---- the public face ---------------------------------------------------------- */

/* Each open library's handle tag, unique among the process's open
 * libraries (a random one was shared by two libraries one time in 255,
 * and then a handle of one was taken for the other's). */
static pthread_mutex_t tags_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t tags_used[256 / 8];
static unsigned tags_next;

/* A free tag (1..255), or 0 when every one is taken. */
static uint8_t tag_take(void)
{
    uint8_t t = 0;

    pthread_mutex_lock(&tags_mu);
    for (unsigned i = 0; i < 255 && !t; i++) {
        unsigned c = 1 + (tags_next + i) % 255;
        if (!(tags_used[c / 8] & (1u << (c % 8)))) {
            tags_used[c / 8] |= (uint8_t)(1u << (c % 8));
            tags_next = c;
            t = (uint8_t)c;
        }
    }
    pthread_mutex_unlock(&tags_mu);
    return t;
}

static void tag_give(uint8_t t)
{
    if (!t)
        return;
    pthread_mutex_lock(&tags_mu);
    tags_used[t / 8] &= (uint8_t) ~(1u << (t % 8));
    pthread_mutex_unlock(&tags_mu);
}

static void lib_free(struct sbvm_lib *lib)
{
    if (!lib)
        return;
    tag_give(lib->tag);
    for (size_t i = 0; i < lib->nfns; i++) {
        free(lib->fns[i]->name);
        free(lib->fns[i]);
    }
    free(lib->fns);
    free(lib->workers);
    for (size_t i = 0; i < lib->nzcrashes; i++)
        crash_free(lib->zcrashes[i]);
    free(lib->zcrashes);
    sbvm_error_free(lib->broken);
    sbvm_channel_config_free(lib->chcfg);
    sbvm_config_free(lib->cfg);
    free(lib->dlname);
    free(lib->shown);
    pthread_cond_destroy(&lib->cv);
    pthread_mutex_destroy(&lib->mu);
    free(lib);
}

static int options(struct sbvm_lib *lib, const struct sbvm_lib_options *opts, sbvm_error **err)
{
    struct sbvm_lib_options o = { 0 };

    if (opts) {
        if (opts->size < offsetof(struct sbvm_lib_options, yields) + sizeof(opts->yields))
            return error_set(err, EINVAL,
                             "struct sbvm_lib_options: set its size (sizeof(struct "
                             "sbvm_lib_options))");
        memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
    }
    if (o.workers > MAX_WORKERS)
        return error_set(err, EINVAL, "workers: at most %d", MAX_WORKERS);
    if (o.spares > MAX_SPARES && o.spares != SBVM_LIB_NO_SPARES)
        return error_set(err, EINVAL, "spares: at most %d", MAX_SPARES);
    if (o.buffer_bytes > MAX_BUFFER_BYTES)
        return error_set(err, EINVAL, "buffer_bytes: at most 1 GiB");
    lib->max_workers = o.workers ? o.workers : DEFAULT_WORKERS;
    lib->spares = o.spares == SBVM_LIB_NO_SPARES ? 0 : o.spares ? o.spares : DEFAULT_SPARES;
    lib->zygote = !o.no_zygote;
    lib->timeout_ms = o.timeout_ms;
    lib->cpu_ms = o.cpu_ms;
    lib->buffer_bytes = o.buffer_bytes ? o.buffer_bytes : DEFAULT_BUFFER_BYTES;
    switch (o.wait) {
    case SBVM_LIB_WAIT_DEFAULT:
        lib->spin_ns = SBVM_DEFAULT_SPIN_NS;
        lib->yields = SBVM_DEFAULT_YIELDS;
        break;
    case SBVM_LIB_WAIT_SLEEP:
        /* The worker sleeps at once; the caller, who is in the call
         * anyway, polls for its answer before it sleeps too: one futex
         * wake per call instead of two (on a VM's idle vCPUs a wake costs
         * 10-20 us). */
        lib->spin_ns = 0;
        lib->yields = 0;
        lib->host_spin_ns = SBVM_DEFAULT_SPIN_NS;
        lib->host_yields = SBVM_DEFAULT_YIELDS;
        return 0;
    case SBVM_LIB_WAIT_CUSTOM:
        if (o.spin_ns > 1000000000 || o.yields > 1000)
            return error_set(err, EINVAL, "spin_ns: at most 1 s; yields: at most 1000");
        lib->spin_ns = o.spin_ns;
        lib->yields = o.yields;
        break;
    default:
        return error_set(err, EINVAL, "wait: unknown mode %d", (int)o.wait);
    }
    lib->host_spin_ns = lib->spin_ns;
    lib->host_yields = lib->yields;
    return 0;
}

/* The channel every worker gets: two rings, two slots for its own calls
 * (hello, growth), and a window that holds the largest arena twice (an
 * arena that grows leaves its old place behind). */
static int channel_config(struct sbvm_lib *lib, sbvm_error **err)
{
    uint64_t max = 2 * lib->buffer_bytes + (UINT64_C(4) << 20);
    int r;

    lib->chcfg = sbvm_channel_config_new();
    if (!lib->chcfg)
        return error_set(err, ENOMEM, "out of memory");
    if ((r = sbvm_channel_config_set_window(lib->chcfg, UINT64_C(1) << 20, max, err)) < 0 ||
        (r = sbvm_channel_config_set_slots(lib->chcfg, 2, 4096, err)) < 0 ||
        (r = sbvm_channel_config_set_rings(lib->chcfg, 2, CALLS_RING_BYTES, err)) < 0)
        return r;
    sbvm_channel_config_set_spin(lib->chcfg, lib->host_spin_ns, lib->host_yields);
    return 0;
}

SBVM_API int sbvm_lib_open(const char *path, const sbvm_config *cfg,
                           const struct sbvm_lib_options *opts, sbvm_lib **out, sbvm_error **err)
{
    struct sbvm_lib *lib;
    int r;

    *out = NULL;
    if (!path || !*path)
        return error_set(err, EINVAL, "name a library to open");
    pthread_once(&image_once, make_image);
    if (image_fd < 0)
        return error_sys(err, image_errno, "making the worker program's memfd");
    lib = calloc(1, sizeof(*lib));
    if (!lib)
        return error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&lib->mu, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_REALTIME);
        pthread_cond_init(&lib->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    lib->state = LIB_OPENING;
    lib->image_fd = image_fd;
    lib->zfd = -1;
    lib->tag = tag_take();
    if (!lib->tag) {
        lib_free(lib);
        return error_set(err, EMFILE, "at most 255 libraries can be open at once in a process");
    }
    lib->shown = strdup(path);
    lib->cfg = cfg ? sbvm_config_dup(cfg) : sbvm_config_new();
    if (!lib->shown || !lib->cfg) {
        lib_free(lib);
        return error_set(err, ENOMEM, "out of memory");
    }
    if ((r = options(lib, opts, err)) < 0 || (r = channel_config(lib, err)) < 0 ||
        (r = calls_deps_bind(lib->cfg, path, &lib->dlname, err)) < 0) {
        lib_free(lib);
        return r;
    }
    if (!lib->cfg->name && (r = sbvm_config_set_name(lib->cfg, "calls", err)) < 0) {
        lib_free(lib);
        return r;
    }
    /* Calls have budgets of their own; the config's wall-clock and output
     * limits would end every worker after that long, whatever it does. */
    sbvm_config_set_limit(lib->cfg, SBVM_LIMIT_TIME, 0, NULL);
    sbvm_config_set_limit(lib->cfg, SBVM_LIMIT_OUTPUT, 0, NULL);
    /* The sandbox ends a job at a denied call or its own files limit: the
     * zygote's forks are all one job, so that would end every worker.
     * Each worker is then a job of its own. */
    if (lib->cfg->deny.n || (lib->cfg->limits_set & (1u << SBVM_LIMIT_FILES)))
        lib->zygote = false;
    r = pthread_create(&lib->thread, NULL, manager_main, lib);
    if (r != 0) {
        lib_free(lib);
        return error_sys(err, r, "starting the library's manager thread");
    }
    lib->thread_started = true;
    /* Ready when a worker has loaded the library, or failed. */
    pthread_mutex_lock(&lib->mu);
    while (lib->state == LIB_OPENING)
        pthread_cond_wait(&lib->cv, &lib->mu);
    r = lib->state == LIB_OPEN ? 0 : -1;
    pthread_mutex_unlock(&lib->mu);
    if (r < 0) {
        r = lib_unusable(lib, err);
        sbvm_lib_close(lib);
        return r;
    }
    *out = lib;
    return 0;
}

SBVM_API void sbvm_lib_close(sbvm_lib *lib)
{
    if (!lib)
        return;
    pthread_mutex_lock(&lib->mu);
    lib->state = LIB_CLOSING;
    /* Calls in progress end: their workers are killed. */
    for (size_t i = 0; i < lib->nworkers; i++)
        if (lib->workers[i]->held) {
            lib->workers[i]->kill = KILL_CLOSE;
            if (lib->workers[i]->procfd >= 0)
                syscall(SYS_pidfd_send_signal, lib->workers[i]->procfd, SIGKILL, NULL, 0);
        }
    pthread_cond_broadcast(&lib->cv);
    for (;;) {
        bool held = false;
        for (size_t i = 0; i < lib->nworkers; i++)
            held |= lib->workers[i]->held;
        if (!held)
            break;
        pthread_cond_wait(&lib->cv, &lib->mu);
    }
    if (lib->loop)
        loop_wake(lib->loop);
    pthread_mutex_unlock(&lib->mu);
    if (lib->thread_started)
        pthread_join(lib->thread, NULL);
    lib_free(lib);
}

SBVM_API int sbvm_lib_reset(sbvm_lib *lib, sbvm_error **err)
{
    pthread_mutex_lock(&lib->mu);
    if (lib->state != LIB_OPEN) {
        int r = lib_unusable(lib, err);
        pthread_mutex_unlock(&lib->mu);
        return r;
    }
    /* No call takes one of them from now on; calls in progress end. */
    for (size_t i = 0; i < lib->nworkers; i++) {
        struct worker *w = lib->workers[i];
        if (w->state == W_DEAD)
            continue;
        w->kill = KILL_RESET;
        w->counted = true; /* asked for, not lost */
        if (w->state != W_BUSY)
            worker_dead(lib, w);
        if (w->procfd >= 0)
            syscall(SYS_pidfd_send_signal, w->procfd, SIGKILL, NULL, 0);
    }
    pthread_mutex_unlock(&lib->mu);
    loop_wake(lib->loop);
    return 0;
}

SBVM_API void sbvm_lib_stats(sbvm_lib *lib, struct sbvm_lib_stats *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&lib->mu);
    st->calls = lib->calls;
    st->losses = lib->losses;
    st->started = lib->started;
    st->zygote = lib->zygote;
    for (size_t i = 0; i < lib->nworkers; i++) {
        st->live += lib->workers[i]->state != W_DEAD;
        st->idle += lib->workers[i]->state == W_IDLE;
        st->busy += lib->workers[i]->state == W_BUSY;
    }
    pthread_mutex_unlock(&lib->mu);
}

SBVM_API const char *sbvm_call_outcome_name(enum sbvm_call_outcome o)
{
    static const char *const names[] = { "returned", "crashed", "denied", "timeout",
                                         "cpu",      "lost",    "refused" };

    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "unknown";
}
