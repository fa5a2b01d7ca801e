/* SPDX-License-Identifier: MIT */
/*
 * runner.c: the batch runner (sandboxvm run): each guest one inline sandbox
 * (core/sandbox.c), at most `parallel` at once, streamed through the
 * caller's events, each ending in one sbvm_result; host signals relayed.
 */
#include "core/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/job.h"
#include "backend/backend.h"
#include "core/sandbox.h"
#include "net/policy.h"
#include "sandboxvm/channel.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#define MAX_PARALLEL 1024

SBVM_API const char *sbvm_version(void)
{
    return SBVM_VERSION;
}

SBVM_API sbvm_runner *sbvm_runner_new(void)
{
    sbvm_runner *rn = calloc(1, sizeof(*rn));

    if (!rn)
        return NULL;
    rn->parallel = 1;
    rn->signal_fd = -1;
    return rn;
}

static void guest_free(struct runner_guest *g)
{
    if (!g)
        return;
    if (g->rn->shared && g->job) {
        if (g->job->sb)
            sandbox_forget_job(g->job->sb, g->job);
    } else if (g->sb) {
        /* Still building or running (the run failed): end it here. */
        sandbox_stop(g->sb);
        while (g->sb->state != SB_ENDED && g->sb->state != SB_NEW &&
               loop_run(g->rn->loop, 100) >= 0)
            ;
        sandbox_free(g->sb);
    }
    job_free(g->job);
    sbvm_config_free(g->cfg);
    sbvm_result_free(g->result);
    free(g->name);
    free(g);
}

SBVM_API void sbvm_runner_free(sbvm_runner *rn)
{
    if (!rn)
        return;
    for (size_t i = 0; i < rn->nguests; i++)
        guest_free(rn->guests[i]);
    free(rn->guests);
    if (!rn->shared) {
        /* A shared sandbox's loop may be gone already: the run took its
         * own out of it when it ended. */
        loop_fd_del(&rn->signal_src);
        loop_timer_cancel(&rn->user_timer);
        loop_timer_cancel(&rn->kill_timer);
        loop_free(rn->loop);
    }
    free(rn);
}

SBVM_API int sbvm_runner_set_parallel(sbvm_runner *rn, unsigned n, sbvm_error **err)
{
    if (n < 1 || n > MAX_PARALLEL)
        return error_set(err, EINVAL, "parallelism must be between 1 and %d (got %u)", MAX_PARALLEL,
                         n);
    rn->parallel = n;
    return 0;
}

SBVM_API void sbvm_runner_set_events(sbvm_runner *rn, const struct sbvm_events *ev)
{
    if (ev)
        rn->events = *ev;
    else
        memset(&rn->events, 0, sizeof(rn->events));
}

SBVM_API void sbvm_runner_set_signal_fd(sbvm_runner *rn, int fd)
{
    rn->signal_fd = fd;
}

SBVM_API void sbvm_runner_set_kill_after(sbvm_runner *rn, uint64_t ms)
{
    rn->kill_after_ms = ms;
}

/* Options that only mean something together, however they were set
 * (flags, a profile, the library). */
int config_check(const sbvm_config *cfg, sbvm_error **err)
{
    if (cfg->secrets.n && cfg->net != SBVM_NET_ALLOW)
        return error_set(err, EINVAL,
                         "--secret works only through the broker: add --net allow=HOST");
    if (cfg->net_allow_private && cfg->net != SBVM_NET_ALLOW)
        return error_set(err, EINVAL, "--net-allow-private applies to --net allow=... only");
    if (cfg->layer && !cfg->rootfs)
        return error_set(err, EINVAL,
                         "a writable layer goes over a rootfs tree: the host's own system "
                         "directories stay read-only (set a rootfs)");
    return net_secrets_check(cfg, err);
}

SBVM_API int sbvm_runner_use_sandbox(sbvm_runner *rn, sbvm_sandbox *sb, sbvm_error **err)
{
    struct sandbox *s = (struct sandbox *)sb;

    if (rn->started)
        return error_set(err, EBUSY, "a runner's sandbox is chosen before it runs");
    if (!s || !s->live || s->state != SB_READY)
        return error_set(err, EINVAL, "not a live sandbox ready for jobs");
    rn->shared = s;
    return 0;
}

SBVM_API int sbvm_runner_add(sbvm_runner *rn, const sbvm_config *cfg, sbvm_error **err)
{
    struct runner_guest *g;
    int r;

    if (rn->started)
        return error_set(err, EBUSY, "cannot add a guest to a run that has started");
    if (cfg->argv.n == 0)
        return error_set(err, EINVAL, "empty command: name a program to run");
    r = config_check(cfg, err);
    if (r < 0)
        return r;
    if (ARRAY_GROW(rn->guests, rn->nguests + 1, &rn->alloc) < 0)
        return error_set(err, ENOMEM, "out of memory");
    g = calloc(1, sizeof(*g));
    if (!g)
        return error_set(err, ENOMEM, "out of memory");
    g->rn = rn;
    g->index = rn->nguests;
    g->cfg = sbvm_config_dup(cfg);
    if (!g->cfg) {
        free(g);
        return error_set(err, ENOMEM, "out of memory");
    }
    rn->guests[rn->nguests++] = g;
    return 0;
}

/* A kept scratch never overwrites or merges into an earlier one: refuse
 * before anything runs rather than report it lost afterwards. */
static int check_keep_dirs(const sbvm_runner *rn, sbvm_error **err)
{
    for (size_t i = 0; i < rn->nguests; i++) {
        const struct runner_guest *g = rn->guests[i];
        struct strbuf sb = STRBUF_INIT;
        int exists;

        if (!g->cfg->keep_dir)
            continue;
        strbuf_addf(&sb, "%s/%s", g->cfg->keep_dir, g->name);
        if (strbuf_failed(&sb))
            return error_set(err, ENOMEM, "out of memory");
        exists = faccessat(AT_FDCWD, sb.buf, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists) {
            error_set(err, EEXIST,
                      "--keep %s: %s exists already; remove it or keep the scratch elsewhere",
                      g->cfg->keep_dir, sb.buf);
            strbuf_release(&sb);
            return -EEXIST;
        }
        strbuf_release(&sb);
    }
    return 0;
}

/* A --copy-out never replaces a host file: one that exists already is
 * refused before anything runs, as --keep's directory is, rather than
 * reported lost afterwards. */
static int check_copy_out_dests(const sbvm_runner *rn, sbvm_error **err)
{
    for (size_t i = 0; i < rn->nguests; i++) {
        const struct runner_guest *g = rn->guests[i];

        for (size_t k = 0; k < g->cfg->ncopies; k++) {
            const struct config_copy *c = &g->cfg->copies[k];
            struct strbuf sb = STRBUF_INIT;
            bool exists;

            if (!c->out)
                continue;
            strbuf_addstr(&sb, c->host);
            if (rn->nguests > 1 && !rn->shared)
                strbuf_addf(&sb, ".%s", g->name);
            if (strbuf_failed(&sb))
                return error_set(err, ENOMEM, "out of memory");
            exists = faccessat(AT_FDCWD, sb.buf, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
            if (exists) {
                error_set(err, EEXIST,
                          "--copy-out %s:%s: %s exists already; a copy never replaces a host "
                          "file: remove it or copy elsewhere",
                          c->guest, c->host, sb.buf);
                strbuf_release(&sb);
                return -EEXIST;
            }
            strbuf_release(&sb);
        }
    }
    return 0;
}

/*
 * What the supervisor holds open for each guest running (its pipes, status
 * and control sockets, exit handle, its root and /tmp, the output files of
 * --output-dir) and, while it is being built, the child's ends, the
 * program's and the mounts' sources: measured at about 8 once running, so
 * twice that for the build. Plus sandboxvm's own (stdio, the loop, reports).
 */
#define FDS_PER_GUEST  16
#define FDS_PER_JOB    6 /* a job of a live sandbox: its pipes */
#define FDS_OWN        32
#define FDS_CHANNEL    8   /* --channel: its window, sockets, timers (src/shm/chan.h) */
#define FDS_BROKER_MIN 128 /* the brokers leave the rest a quarter (net/broker.c) */

/* Refuses, before anything runs, a run that would run out of file
 * descriptors midway: guests would fail to start for a reason that has
 * nothing to do with them. */
static int check_fd_budget(const sbvm_runner *rn, sbvm_error **err)
{
    struct rlimit rl;
    uint64_t at_once = rn->parallel < rn->nguests ? rn->parallel : rn->nguests;
    uint64_t per = rn->shared ? FDS_PER_JOB : FDS_PER_GUEST, need, have, most;
    bool net = false;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || !at_once)
        return 0;
    for (size_t i = 0; i < rn->nguests; i++) {
        const sbvm_config *c = rn->guests[i]->cfg;
        uint64_t p = (rn->shared ? FDS_PER_JOB : FDS_PER_GUEST + c->nmounts + c->ncopies) +
                     (c->channel ? FDS_CHANNEL : 0);
        if (p > per)
            per = p;
        net |= c->net == SBVM_NET_ALLOW;
    }
    need = FDS_OWN + at_once * per;
    have = rl.rlim_cur;
    /* With --net allow, the brokers may take all but a quarter. */
    if (net)
        have = have / 4 > FDS_BROKER_MIN ? have / 4 : have < FDS_BROKER_MIN ? have : FDS_BROKER_MIN;
    if (need <= have)
        return 0;
    most = have > FDS_OWN ? (have - FDS_OWN) / per : 0;
    if (most == 0)
        return error_set(err, EMFILE,
                         "a guest needs about %llu open files, but this process may have only "
                         "%llu open (RLIMIT_NOFILE%s; hard limit %llu): raise it (ulimit -n)",
                         (unsigned long long)(FDS_OWN + per), (unsigned long long)rl.rlim_cur,
                         net ? ", of which --net allow's brokers may use three quarters" : "",
                         (unsigned long long)rl.rlim_max);
    return error_set(err, EMFILE,
                     "running %llu guests at once needs about %llu open files, but this process "
                     "may have only %llu open (RLIMIT_NOFILE%s; hard limit %llu): run at most "
                     "%llu at once (-j %llu), or raise the limit (ulimit -n %llu)",
                     (unsigned long long)at_once, (unsigned long long)need,
                     (unsigned long long)rl.rlim_cur,
                     net ? ", of which --net allow's brokers may use three quarters" : "",
                     (unsigned long long)rl.rlim_max, (unsigned long long)most,
                     (unsigned long long)most, (unsigned long long)(net ? need * 4 : need));
}

/* Default names: the program's basename, with -N (the guest's position)
 * added when several guests share it, so every name in a run is unique. */
static int assign_names(sbvm_runner *rn, sbvm_error **err)
{
    bool *dups;

    for (size_t i = 0; i < rn->nguests; i++) {
        struct runner_guest *g = rn->guests[i];
        g->name = g->cfg->name ? strdup(g->cfg->name) : config_name_from_program(g->cfg->argv.v[0]);
        if (!g->name)
            return error_set(err, ENOMEM, "out of memory");
    }
    /* Decide on the derived names as they are, then rename, so that the
     * first of two "echo" guests is renamed too. */
    dups = calloc(rn->nguests ? rn->nguests : 1, sizeof(*dups));
    if (!dups)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < rn->nguests; i++)
        for (size_t k = 0; k < rn->nguests && !rn->guests[i]->cfg->name; k++)
            if (k != i && streq(rn->guests[k]->name, rn->guests[i]->name))
                dups[i] = true;
    for (size_t i = 0; i < rn->nguests; i++) {
        struct runner_guest *g = rn->guests[i];
        struct strbuf sb = STRBUF_INIT;
        size_t keep = strlen(g->name);

        if (!dups[i])
            continue;
        if (keep > SBVM_NAME_MAX - 6)
            keep = SBVM_NAME_MAX - 6;
        strbuf_add(&sb, g->name, keep);
        strbuf_addf(&sb, "-%zu", i + 1);
        free(g->name);
        g->name = strbuf_detach(&sb, NULL);
        if (!g->name) {
            free(dups);
            return error_set(err, ENOMEM, "out of memory");
        }
    }
    free(dups);
    /* Names given explicitly must be unique too: they name files and
     * report entries. */
    for (size_t i = 0; i < rn->nguests; i++)
        for (size_t k = i + 1; k < rn->nguests; k++)
            if (streq(rn->guests[i]->name, rn->guests[k]->name))
                return error_set(err, EINVAL,
                                 "two guests are both named '%s'; names must be "
                                 "unique within a run",
                                 rn->guests[i]->name);
    return 0;
}

/* Both halves of a guest are over: its result is the caller's to read. */
static void guest_maybe_done(struct runner_guest *g)
{
    sbvm_runner *rn = g->rn;

    if (g->state != RG_RUNNING || !g->job_done || !g->sb_done)
        return;
    g->state = RG_DONE;
    rn->running--;
    g->result = g->job->result;
    g->job->result = NULL;
    if (rn->shared && g->job->sb)
        sandbox_forget_job(g->job->sb, g->job);
    sandbox_free(g->sb);
    g->sb = NULL;
    job_free(g->job);
    g->job = NULL;
    if (rn->events.on_end)
        rn->events.on_end(rn->events.ctx, g->index, g->result);
}

static void on_job_output(void *ctx, struct job *j, enum sbvm_stream s, const void *data,
                          size_t len)
{
    struct runner_guest *g = ctx;

    (void)j;
    if (g->rn->events.on_output)
        g->rn->events.on_output(g->rn->events.ctx, g->index, s, data, len);
}

static void on_job_channel(void *ctx, struct job *j, int events)
{
    struct runner_guest *g = ctx;

    if (g->rn->events.on_channel)
        g->rn->events.on_channel(g->rn->events.ctx, g->index, j->channel, events);
}

static void on_job_end(void *ctx, struct job *j)
{
    struct runner_guest *g = ctx;

    (void)j;
    g->job_done = true;
    guest_maybe_done(g);
}

static void on_sandbox_end(void *ctx, struct sandbox *sb)
{
    struct runner_guest *g = ctx;

    (void)sb;
    g->sb_done = true;
    guest_maybe_done(g);
}

static int start_guest(sbvm_runner *rn, struct runner_guest *g, sbvm_error **err)
{
    int r;

    g->state = RG_RUNNING;
    rn->running++;
    g->job = job_new(g->cfg->argv.n, (const char *const *)g->cfg->argv.v, g->name);
    if (!g->job)
        return error_set(err, ENOMEM, "out of memory");
    g->job->hooks = (struct job_hooks){ g, on_job_output, on_job_end, on_job_channel };
    for (int k = 0; k < 2; k++)
        if (g->gone[k])
            job_close_stream(g->job, k ? SBVM_STDERR : SBVM_STDOUT);
    if (g->cfg->channel) {
        /* Its own channel, from the config's settings, told to the caller
         * before the guest can use it. */
        r = sbvm_channel_new(g->cfg->channel, &g->job->channel, err);
        if (r < 0)
            return error_wrap(err, r, "making %s's host channel", g->name);
        g->job->own_channel = true;
        if (rn->shared && strv_push(&g->job->env_extra, "SBVM_CHANNEL=3") < 0)
            return error_set(err, ENOMEM, "out of memory");
        if (rn->events.on_channel)
            rn->events.on_channel(rn->events.ctx, g->index, g->job->channel, 0);
    }
    if (rn->shared) {
        /* A job of the run's one sandbox: its own program, name, working
         * directory and stdin. */
        g->sb_done = true;
        if (g->cfg->cwd && !(g->job->cwd = strdup(g->cfg->cwd)))
            return error_set(err, ENOMEM, "out of memory");
        if (rn->events.on_start)
            rn->events.on_start(rn->events.ctx, g->index, g->name);
        if (sandbox_exec(rn->shared, g->job, g->cfg->stdin_fd, err) < 0) {
            /* Its result says why; the run goes on. */
            struct job *j = g->job;
            if (!j->result)
                j->result = result_new(j->name, &j->argv);
            if (j->result) {
                j->result->outcome = SBVM_OUTCOME_SETUP_FAILED;
                j->result->stage = "exec";
                result_set_message(j->result, "%s", err && *err ? sbvm_error_message(*err) : "?");
            }
            if (err && *err) {
                sbvm_error_free(*err);
                *err = NULL;
            }
            g->job_done = true;
            guest_maybe_done(g);
        }
        return 0;
    }
    r = sandbox_new(rn->loop, g->cfg, g->name, &g->sb, err);
    if (r < 0)
        return r;
    g->sb->hooks = (struct sandbox_hooks){ g, on_sandbox_end };
    /* Several guests copy out to HOST.NAME each. */
    g->sb->copy_suffix = rn->nguests > 1;
    /* No other sandbox of the run alive: the machine's other CPUs are
     * likely idle (the backend may use them while building). */
    g->sb->alone = rn->running == 1;
    if (rn->events.on_start)
        rn->events.on_start(rn->events.ctx, g->index, g->name);
    sandbox_start_inline(g->sb, g->job, g->cfg->stdin_fd);
    return 0;
}

SBVM_API int sbvm_runner_close_stream(sbvm_runner *rn, size_t index, enum sbvm_stream s)
{
    int k = s == SBVM_STDERR ? 1 : 0;

    if ((s != SBVM_STDOUT && s != SBVM_STDERR) ||
        (index != SBVM_ALL_GUESTS && index >= rn->nguests))
        return -EINVAL;
    for (size_t i = 0; i < rn->nguests; i++) {
        struct runner_guest *g = rn->guests[i];
        if (index != SBVM_ALL_GUESTS && i != index)
            continue;
        g->gone[k] = true;
        if (g->state == RG_RUNNING && g->job)
            job_close_stream(g->job, s);
    }
    return 0;
}

static void on_user_timer(struct loop_timer *t, void *ctx)
{
    sbvm_runner *rn = ctx;

    (void)t;
    if (rn->timer_fn)
        rn->timer_fn(rn->timer_ctx);
}

SBVM_API int sbvm_runner_set_timer(sbvm_runner *rn, int delay_ms, void (*fn)(void *ctx), void *ctx)
{
    if (!rn->running_now || !rn->loop)
        return -EINVAL;
    if (!fn) {
        loop_timer_cancel(&rn->user_timer);
        return 0;
    }
    rn->timer_fn = fn;
    rn->timer_ctx = ctx;
    return loop_timer_arm(rn->loop, &rn->user_timer,
                          (int64_t)(delay_ms < 0 ? 0 : delay_ms) * 1000000, on_user_timer, rn);
}

static void signal_all(sbvm_runner *rn, int sig)
{
    for (size_t i = 0; i < rn->nguests; i++) {
        struct runner_guest *g = rn->guests[i];
        if (g->state != RG_RUNNING || !g->job || g->job->state >= JOB_EXITED)
            continue;
        if (g->sb) {
            sandbox_signal(g->sb, sig);
        } else if (g->job->sb) {
            g->job->facts.host_signal = sig;
            g->job->sb->ops->signal(g->job->sb, g->job, sig);
        }
    }
}

static void on_kill_after(struct loop_timer *t, void *ctx)
{
    (void)t;
    /* The grace period is over: what still runs is killed. */
    signal_all(ctx, SIGKILL);
}

static void on_host_signal(struct loop_fd *src, uint32_t events, void *ctx)
{
    sbvm_runner *rn = ctx;
    unsigned char sigs[64];
    ssize_t n = read(rn->signal_fd, sigs, sizeof(sigs));

    (void)events;
    if (n == 0) {
        /* The caller closed its end: stop watching. */
        loop_fd_del(src);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        int sig = sigs[i];
        if (sig <= 0 || sig >= NSIG)
            continue;
        if (rn->cancel_signal || sig == SIGKILL) {
            /* A second signal, whichever: a CI system's cancellation
             * (SIGINT, then SIGTERM, then SIGKILL to us) must not leave
             * guests behind that ignore the first. */
            loop_timer_cancel(&rn->kill_timer);
            signal_all(rn, SIGKILL);
        } else {
            rn->cancel_signal = sig;
            signal_all(rn, sig);
            if (rn->kill_after_ms)
                loop_timer_arm(rn->loop, &rn->kill_timer, (int64_t)rn->kill_after_ms * 1000000,
                               on_kill_after, rn);
        }
    }
}

static void cancel_queued(sbvm_runner *rn, size_t from)
{
    for (size_t i = from; i < rn->nguests; i++) {
        struct runner_guest *g = rn->guests[i];
        if (g->state != RG_QUEUED)
            continue;
        g->result = result_new(g->name, &g->cfg->argv);
        if (!g->result)
            continue;
        g->result->outcome = SBVM_OUTCOME_KILLED;
        g->result->signal = rn->cancel_signal ? rn->cancel_signal : SIGKILL;
        g->result->start_ns = now_real_ns();
        result_set_message(g->result, "not started: the run was interrupted by %s",
                           signal_name(g->result->signal));
        g->state = RG_DONE;
        if (rn->events.on_end)
            rn->events.on_end(rn->events.ctx, g->index, g->result);
    }
}

SBVM_API int sbvm_runner_run(sbvm_runner *rn, sbvm_error **err)
{
    size_t next = 0;
    int r;

    if (rn->started)
        return error_set(err, EBUSY, "a runner runs once");
    rn->started = true;
    rn->start_real = now_real_ns();
    rn->start_mono = now_mono_ns();
    r = assign_names(rn, err);
    if (r < 0)
        return r;
    r = check_keep_dirs(rn, err);
    if (r < 0)
        return r;
    r = check_fd_budget(rn, err);
    if (r < 0)
        return r;
    r = check_copy_out_dests(rn, err);
    if (r < 0)
        return r;
    if (rn->shared)
        rn->loop = rn->shared->loop;
    else if ((r = loop_new(&rn->loop, err)) < 0)
        return r;
    if (rn->signal_fd >= 0 && (r = loop_fd_add(rn->loop, &rn->signal_src, rn->signal_fd, EPOLLIN,
                                               on_host_signal, rn)) < 0)
        return error_sys(err, -r, "watching the signal fd");
    rn->running_now = true;

    for (;;) {
        while (!rn->cancel_signal && rn->running < rn->parallel && next < rn->nguests) {
            struct runner_guest *g = rn->guests[next++];
            r = start_guest(rn, g, err);
            if (r < 0) {
                /* The runner itself failed (memory, the event loop). */
                rn->cancel_signal = SIGKILL;
                error_wrap(err, r, "starting guest '%s'", g->name);
                signal_all(rn, SIGKILL);
            }
        }
        if (rn->cancel_signal)
            cancel_queued(rn, next);
        if (rn->running == 0)
            break;
        r = loop_run(rn->loop, -1);
        if (r < 0) {
            r = error_sys(err, -r, "waiting for events (epoll)");
            signal_all(rn, SIGKILL);
            rn->running_now = false;
            loop_timer_cancel(&rn->user_timer);
            loop_timer_cancel(&rn->kill_timer);
            loop_fd_del(&rn->signal_src);
            return r;
        }
    }
    rn->running_now = false;
    loop_timer_cancel(&rn->user_timer);
    loop_timer_cancel(&rn->kill_timer);
    rn->duration_ns = now_mono_ns() - rn->start_mono;
    /* Nothing of ours stays in the loop: a shared sandbox's may go first. */
    loop_fd_del(&rn->signal_src);
    return err && *err ? -EIO : 0;
}

SBVM_API size_t sbvm_runner_count(const sbvm_runner *rn)
{
    return rn->nguests;
}

SBVM_API const sbvm_result *sbvm_runner_result(const sbvm_runner *rn, size_t i)
{
    if (i >= rn->nguests || rn->guests[i]->state != RG_DONE)
        return NULL;
    return rn->guests[i]->result;
}

SBVM_API int sbvm_runner_exit_status(const sbvm_runner *rn)
{
    for (size_t i = 0; i < rn->nguests; i++) {
        const sbvm_result *r = sbvm_runner_result(rn, i);
        int st;
        if (!r)
            return 125;
        st = sbvm_result_exit_status(r);
        if (st != 0)
            return st;
    }
    return 0;
}

SBVM_API int64_t sbvm_runner_start_ns(const sbvm_runner *rn)
{
    return rn->start_real;
}

SBVM_API int64_t sbvm_runner_duration_ns(const sbvm_runner *rn)
{
    return rn->duration_ns;
}

SBVM_API int sbvm_run(const sbvm_config *cfg, sbvm_result **out, sbvm_error **err)
{
    sbvm_runner *rn = sbvm_runner_new();
    int r;

    *out = NULL;
    if (!rn)
        return error_set(err, ENOMEM, "out of memory");
    r = sbvm_runner_add(rn, cfg, err);
    if (r == 0)
        r = sbvm_runner_run(rn, err);
    if (r == 0) {
        *out = rn->guests[0]->result;
        rn->guests[0]->result = NULL;
    }
    sbvm_runner_free(rn);
    return r;
}
