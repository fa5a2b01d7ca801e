/* SPDX-License-Identifier: MIT */
/*
 * runner.c: the supervisor's event loop. Starts queued guests up to the
 * parallelism bound, streams their output to the caller as it arrives,
 * forwards stdin, relays host signals, and turns each guest's end into one
 * sbvm_result.
 *
 * Memory stays bounded whatever guests do: output is read in fixed chunks and
 * handed straight to the caller (a slow consumer slows the guest down through
 * its pipe), and what is kept for reports is capped per stream.
 */
#include "core/runner.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#define READ_CHUNK   65536
#define POLL_MS      50
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
    rn->epfd = -1;
    rn->backend = &process_backend;
    return rn;
}

static void guest_close_io(struct guest *g)
{
    close_fd(&g->deadline_fd);
    close_fd(&g->out_fd);
    close_fd(&g->err_fd);
    close_fd(&g->in_fd);
    close_fd(&g->stdin_src);
    free(g->stdin_buf);
    g->stdin_buf = NULL;
}

static void guest_free(sbvm_runner *rn, struct guest *g)
{
    if (!g)
        return;
    guest_close_io(g);
    if (g->ops)
        g->ops->release(g);
    capture_release(&g->cap_out);
    capture_release(&g->cap_err);
    sbvm_config_free(g->cfg);
    sbvm_result_free(g->result);
    free(g->name);
    free(g);
    (void)rn;
}

SBVM_API void sbvm_runner_free(sbvm_runner *rn)
{
    if (!rn)
        return;
    for (size_t i = 0; i < rn->nguests; i++)
        guest_free(rn, rn->guests[i]);
    free(rn->guests);
    if (rn->backend_state)
        rn->backend->run_release(rn->backend_state);
    close_fd(&rn->epfd);
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

SBVM_API int sbvm_runner_add(sbvm_runner *rn, const sbvm_config *cfg, sbvm_error **err)
{
    struct guest *g;

    if (rn->started)
        return error_set(err, EBUSY, "cannot add a guest to a run that has started");
    if (cfg->argv.n == 0)
        return error_set(err, EINVAL, "empty command: name a program to run");
    /* Options that only mean something together, however they were set
     * (flags, a profile, the library). */
    if (cfg->secrets.n && cfg->net != SBVM_NET_ALLOW)
        return error_set(err, EINVAL,
                         "--secret works only through the broker: add --net allow=HOST");
    if (cfg->net_allow_private && cfg->net != SBVM_NET_ALLOW)
        return error_set(err, EINVAL, "--net-allow-private applies to --net allow=... only");
    if (rn->nguests == rn->alloc) {
        size_t n = rn->alloc ? rn->alloc * 2 : 8;
        struct guest **ng = realloc(rn->guests, n * sizeof(*ng));
        if (!ng)
            return error_set(err, ENOMEM, "out of memory");
        rn->guests = ng;
        rn->alloc = n;
    }
    g = calloc(1, sizeof(*g));
    if (!g)
        return error_set(err, ENOMEM, "out of memory");
    g->index = rn->nguests;
    g->out_fd = g->err_fd = g->in_fd = g->events_fd = g->exit_fd = g->stdin_src = -1;
    g->deadline_fd = -1;
    g->limit_hit = -1;
    g->cfg = sbvm_config_dup(cfg);
    if (!g->cfg) {
        free(g);
        return error_set(err, ENOMEM, "out of memory");
    }
    capture_init(&g->cap_out, g->cfg->capture_limit);
    capture_init(&g->cap_err, g->cfg->capture_limit);
    rn->guests[rn->nguests++] = g;
    return 0;
}

/* A kept scratch never overwrites or merges into an earlier one: refuse
 * before anything runs rather than report it lost afterwards. */
static int check_keep_dirs(const sbvm_runner *rn, sbvm_error **err)
{
    for (size_t i = 0; i < rn->nguests; i++) {
        const struct guest *g = rn->guests[i];
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

/* Default names: the program's basename, with -N (the guest's position)
 * added when several guests share it, so every name in a run is unique. */
static int assign_names(sbvm_runner *rn, sbvm_error **err)
{
    bool *dups;

    for (size_t i = 0; i < rn->nguests; i++) {
        struct guest *g = rn->guests[i];
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
        struct guest *g = rn->guests[i];
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

static int watch_set(sbvm_runner *rn, struct guest *g, enum watch_kind k, int fd, uint32_t ev)
{
    struct watch *w = &g->watches[k];
    struct epoll_event e = { .events = ev, .data.ptr = w };

    w->g = g;
    w->kind = k;
    if (epoll_ctl(rn->epfd, w->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &e) < 0)
        return -errno;
    w->armed = true;
    return 0;
}

static void watch_del(sbvm_runner *rn, struct guest *g, enum watch_kind k, int fd)
{
    struct watch *w = &g->watches[k];

    if (!w->armed)
        return;
    if (fd >= 0)
        epoll_ctl(rn->epfd, EPOLL_CTL_DEL, fd, NULL);
    w->armed = false;
}

static void emit_end(sbvm_runner *rn, struct guest *g)
{
    if (rn->events.on_end)
        rn->events.on_end(rn->events.ctx, g->index, g->result);
}

static void finalize_streams(struct guest *g)
{
    sbvm_result *r = g->result;

    capture_finish(&g->cap_out, &r->out.data, &r->out.len, &r->out.head_len, &r->out.omitted);
    r->out.total = g->cap_out.total;
    capture_finish(&g->cap_err, &r->err.data, &r->err.len, &r->err.head_len, &r->err.omitted);
    r->err.total = g->cap_err.total;
    capture_release(&g->cap_out);
    capture_release(&g->cap_err);
}

/* A guest that never started (refused, failed to spawn, or cancelled). */
static void end_unstarted(sbvm_runner *rn, struct guest *g)
{
    g->result->start_ns = now_real_ns();
    g->result->duration_ns = 0;
    finalize_streams(g);
    g->state = GUEST_DONE;
    guest_close_io(g);
    if (g->ops)
        g->ops->release(g);
    emit_end(rn, g);
}

static void end_guest(sbvm_runner *rn, struct guest *g)
{
    watch_del(rn, g, WATCH_OUT, g->out_fd);
    watch_del(rn, g, WATCH_ERR, g->err_fd);
    watch_del(rn, g, WATCH_STDIN_SRC, g->stdin_src);
    watch_del(rn, g, WATCH_STDIN_PIPE, g->in_fd);
    watch_del(rn, g, WATCH_EVENTS, g->events_fd);
    watch_del(rn, g, WATCH_EXIT, g->exit_fd);
    watch_del(rn, g, WATCH_DEADLINE, g->deadline_fd);
    g->ops->finish(g, g->result);
    g->result->start_ns = g->start_real;
    g->result->duration_ns = now_mono_ns() - g->start_mono;
    finalize_streams(g);
    guest_close_io(g);
    g->ops->release(g);
    g->state = GUEST_DONE;
    rn->running--;
    emit_end(rn, g);
}

static void maybe_end(sbvm_runner *rn, struct guest *g)
{
    if (g->state == GUEST_RUNNING && g->exited && g->out_eof && g->err_eof && g->events_eof)
        end_guest(rn, g);
}

static void setup_stdin(struct guest *g)
{
    struct stat st;

    char path[64];

    if (g->cfg->stdin_fd < 0)
        return;
    /* Our own open file description of the caller's stdin, made
     * non-blocking: setting O_NONBLOCK on a dup would change the caller's
     * (and its shell's) fd too. Reopening works for pipes, FIFOs, ttys and
     * files; sockets cannot be reopened and fall back to a dup, read only
     * when epoll says it is readable. */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", g->cfg->stdin_fd);
    g->stdin_src = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (g->stdin_src < 0)
        g->stdin_src = fcntl(g->cfg->stdin_fd, F_DUPFD_CLOEXEC, 3);
    if (g->stdin_src < 0)
        return;
    g->stdin_src_pollable =
        !(fstat(g->stdin_src, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)));
    g->stdin_buf = malloc(STDIN_BUF);
    if (!g->stdin_buf)
        close_fd(&g->stdin_src);
}

static void stdin_stop(sbvm_runner *rn, struct guest *g)
{
    watch_del(rn, g, WATCH_STDIN_SRC, g->stdin_src);
    watch_del(rn, g, WATCH_STDIN_PIPE, g->in_fd);
    close_fd(&g->stdin_src);
    close_fd(&g->in_fd);
}

/* Moves bytes from the caller's fd to the guest's stdin pipe, never blocking
 * on the pipe: when it is full, we stop reading and wait for room. */
static void stdin_pump(sbvm_runner *rn, struct guest *g)
{
    for (;;) {
        if (g->stdin_off == g->stdin_len) {
            ssize_t n;
            if (g->stdin_src < 0)
                return;
            n = read(g->stdin_src, g->stdin_buf, STDIN_BUF);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                watch_del(rn, g, WATCH_STDIN_PIPE, g->in_fd);
                if (!g->stdin_src_pollable ||
                    watch_set(rn, g, WATCH_STDIN_SRC, g->stdin_src, EPOLLIN) < 0)
                    stdin_stop(rn, g);
                return;
            }
            if (n <= 0) {
                stdin_stop(rn, g); /* EOF: the guest sees EOF too */
                return;
            }
            g->stdin_off = 0;
            g->stdin_len = (size_t)n;
        }
        while (g->stdin_off < g->stdin_len) {
            ssize_t n =
                write_nosigpipe(g->in_fd, g->stdin_buf + g->stdin_off, g->stdin_len - g->stdin_off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                watch_del(rn, g, WATCH_STDIN_SRC, g->stdin_src);
                if (watch_set(rn, g, WATCH_STDIN_PIPE, g->in_fd, EPOLLOUT) < 0)
                    stdin_stop(rn, g);
                return;
            }
            if (n < 0) {
                stdin_stop(rn, g); /* the guest closed its stdin */
                return;
            }
            g->stdin_off += (size_t)n;
        }
        if (g->stdin_src_pollable) {
            /* Wait for the next bytes rather than spin on a quiet fd. */
            watch_del(rn, g, WATCH_STDIN_PIPE, g->in_fd);
            if (watch_set(rn, g, WATCH_STDIN_SRC, g->stdin_src, EPOLLIN) < 0)
                stdin_stop(rn, g);
            return;
        }
    }
}

/* A one-shot timer for the guest's time limit, counted from its start. */
static int arm_deadline(sbvm_runner *rn, struct guest *g)
{
    uint64_t ms = g->cfg->limits[SBVM_LIMIT_TIME];
    struct itimerspec its = { 0 };

    g->deadline_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (g->deadline_fd < 0)
        return -errno;
    its.it_value.tv_sec = (time_t)(ms / 1000);
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
    if (timerfd_settime(g->deadline_fd, 0, &its, NULL) < 0)
        return -errno;
    return watch_set(rn, g, WATCH_DEADLINE, g->deadline_fd, EPOLLIN);
}

void guest_limit_reached(struct guest *g, enum sbvm_limit l, uint64_t observed)
{
    if (g->limit_hit >= 0)
        return;
    g->limit_hit = (int)l;
    g->limit_observed = observed;
    if (!g->exited)
        g->ops->stop(g);
}

static int start_guest(sbvm_runner *rn, struct guest *g)
{
    int r;

    g->state = GUEST_RUNNING;
    g->ops = rn->backend;
    g->start_real = now_real_ns();
    g->start_mono = now_mono_ns();
    g->result = result_new(g->name, &g->cfg->argv);
    if (!g->result)
        return -ENOMEM;
    if (rn->events.on_start)
        rn->events.on_start(rn->events.ctx, g->index, g->name);
    if (g->ops->prepare(rn->backend_state, g) < 0) {
        end_unstarted(rn, g);
        return 0;
    }
    setup_stdin(g);
    g->spawn_alone = rn->running == 0;
    if (g->ops->spawn(rn->backend_state, g) < 0) {
        end_unstarted(rn, g);
        return 0;
    }
    rn->running++;
    g->events_eof = g->events_fd < 0;
    r = watch_set(rn, g, WATCH_OUT, g->out_fd, EPOLLIN);
    if (r == 0)
        r = watch_set(rn, g, WATCH_ERR, g->err_fd, EPOLLIN);
    if (r == 0 && g->events_fd >= 0)
        r = watch_set(rn, g, WATCH_EVENTS, g->events_fd, EPOLLIN);
    if (r == 0)
        r = watch_set(rn, g, WATCH_EXIT, g->exit_fd, EPOLLIN);
    if (r == 0 && g->cfg->limits[SBVM_LIMIT_TIME])
        r = arm_deadline(rn, g);
    if (r < 0) {
        /* Without watches the guest cannot be supervised: end it now. */
        g->host_signal = SIGKILL;
        g->ops->signal(g, SIGKILL);
        return r;
    }
    if (g->in_fd < 0 || g->stdin_src < 0)
        close_fd(&g->in_fd);
    else if (!g->stdin_src_pollable)
        stdin_pump(rn, g); /* a regular file: always readable */
    else if (watch_set(rn, g, WATCH_STDIN_SRC, g->stdin_src, EPOLLIN) < 0)
        stdin_stop(rn, g);
    return 0;
}

static void on_output(sbvm_runner *rn, struct guest *g, enum watch_kind k, char *buf)
{
    int *fd = k == WATCH_OUT ? &g->out_fd : &g->err_fd;
    ssize_t n = read(*fd, buf, READ_CHUNK);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        watch_del(rn, g, k, *fd);
        close_fd(fd);
        if (k == WATCH_OUT)
            g->out_eof = true;
        else
            g->err_eof = true;
        return;
    }
    g->output_bytes += (uint64_t)n;
    if (g->cfg->limits[SBVM_LIMIT_OUTPUT] && g->output_bytes > g->cfg->limits[SBVM_LIMIT_OUTPUT]) {
        /* Only what fits in the limit is passed on. */
        uint64_t over = g->output_bytes - g->cfg->limits[SBVM_LIMIT_OUTPUT];
        n = over >= (uint64_t)n ? 0 : n - (ssize_t)over;
        if (!g->exited)
            guest_limit_reached(g, SBVM_LIMIT_OUTPUT, g->output_bytes);
        if (n == 0)
            return;
    }
    capture_add(k == WATCH_OUT ? &g->cap_out : &g->cap_err, buf, (size_t)n);
    if (rn->events.on_output)
        rn->events.on_output(rn->events.ctx, g->index, k == WATCH_OUT ? SBVM_STDOUT : SBVM_STDERR,
                             buf, (size_t)n);
}

static void signal_all(sbvm_runner *rn, int sig)
{
    for (size_t i = 0; i < rn->nguests; i++) {
        struct guest *g = rn->guests[i];
        if (g->state != GUEST_RUNNING || g->exited)
            continue;
        g->host_signal = sig;
        g->ops->signal(g, sig);
    }
}

static void on_host_signal(sbvm_runner *rn)
{
    unsigned char sigs[64];
    ssize_t n = read(rn->signal_fd, sigs, sizeof(sigs));

    if (n == 0) {
        /* The caller closed its end: stop watching. */
        epoll_ctl(rn->epfd, EPOLL_CTL_DEL, rn->signal_fd, NULL);
        rn->signal_fd = -1;
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        int sig = sigs[i];
        if (sig <= 0 || sig >= NSIG)
            continue;
        if (rn->cancel_signal == sig || sig == SIGKILL) {
            signal_all(rn, SIGKILL);
        } else {
            if (!rn->cancel_signal)
                rn->cancel_signal = sig;
            signal_all(rn, sig);
        }
    }
}

static void cancel_queued(sbvm_runner *rn, size_t from)
{
    for (size_t i = from; i < rn->nguests; i++) {
        struct guest *g = rn->guests[i];
        if (g->state != GUEST_QUEUED)
            continue;
        g->result = result_new(g->name, &g->cfg->argv);
        if (!g->result)
            continue;
        g->result->outcome = SBVM_OUTCOME_KILLED;
        g->result->signal = rn->cancel_signal ? rn->cancel_signal : SIGKILL;
        result_set_message(g->result, "not started: the run was interrupted by %s",
                           signal_name(g->result->signal));
        g->state = GUEST_DONE;
        emit_end(rn, g);
    }
}

SBVM_API int sbvm_runner_run(sbvm_runner *rn, sbvm_error **err)
{
    struct epoll_event evs[64];
    _cleanup_free_ char *buf = NULL;
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
    for (size_t i = 0; i < rn->nguests; i++)
        rn->guests[i]->run_guests = rn->nguests;
    buf = malloc(READ_CHUNK);
    if (!buf)
        return error_set(err, ENOMEM, "out of memory");
    rn->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (rn->epfd < 0)
        return error_sys(err, errno, "creating the event loop (epoll)");
    r = rn->backend->run_init(&rn->backend_state, err);
    if (r < 0)
        return error_wrap(err, r, "preparing the %s backend", rn->backend->name);
    if (rn->signal_fd >= 0) {
        struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
        if (epoll_ctl(rn->epfd, EPOLL_CTL_ADD, rn->signal_fd, &e) < 0)
            return error_sys(err, errno, "watching the signal fd");
    }

    for (;;) {
        int n;

        while (!rn->cancel_signal && rn->running < rn->parallel && next < rn->nguests) {
            r = start_guest(rn, rn->guests[next++]);
            if (r < 0) {
                rn->cancel_signal = SIGKILL;
                error_sys(err, -r, "starting guest '%s'", rn->guests[next - 1]->name);
            }
        }
        if (rn->cancel_signal)
            cancel_queued(rn, next);
        if (rn->running == 0)
            break;
        /* Limits watched by polling (cpu, pids, files, disk) and frozen
         * sandboxes' grace periods are checked every POLL_MS. */
        n = epoll_wait(rn->epfd, evs, (int)ARRAY_SIZE(evs), POLL_MS);
        if (now_mono_ns() - rn->last_poll >= POLL_MS * 1000000LL) {
            rn->last_poll = now_mono_ns();
            for (size_t i = 0; i < rn->nguests; i++)
                if (rn->guests[i]->state == GUEST_RUNNING && !rn->guests[i]->exited)
                    rn->guests[i]->ops->poll(rn->guests[i]);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = error_sys(err, errno, "waiting for events (epoll)");
            signal_all(rn, SIGKILL);
            /* Fall through to draining with a blocking loop is impossible
             * without epoll; the guests die with their pipes. */
            return r;
        }
        for (int i = 0; i < n; i++) {
            struct watch *w = evs[i].data.ptr;
            struct guest *g;

            if (!w) {
                on_host_signal(rn);
                continue;
            }
            g = w->g;
            if (g->state != GUEST_RUNNING || !w->armed)
                continue;
            switch (w->kind) {
            case WATCH_OUT:
            case WATCH_ERR:
                on_output(rn, g, w->kind, buf);
                break;
            case WATCH_STDIN_SRC:
            case WATCH_STDIN_PIPE:
                stdin_pump(rn, g);
                break;
            case WATCH_EVENTS:
                if (!g->ops->on_events(g)) {
                    watch_del(rn, g, WATCH_EVENTS, g->events_fd);
                    g->events_eof = true;
                }
                break;
            case WATCH_DEADLINE:
                watch_del(rn, g, WATCH_DEADLINE, g->deadline_fd);
                if (!g->exited)
                    guest_limit_reached(g, SBVM_LIMIT_TIME,
                                        (uint64_t)((now_mono_ns() - g->start_mono) / 1000000));
                break;
            case WATCH_EXIT:
                watch_del(rn, g, WATCH_EXIT, g->exit_fd);
                g->exited = true;
                /* Nobody is left to read the guest's stdin. */
                stdin_stop(rn, g);
                break;
            default:
                break;
            }
            maybe_end(rn, g);
        }
    }
    rn->duration_ns = now_mono_ns() - rn->start_mono;
    return r < 0 ? r : 0;
}

SBVM_API size_t sbvm_runner_count(const sbvm_runner *rn)
{
    return rn->nguests;
}

SBVM_API const sbvm_result *sbvm_runner_result(const sbvm_runner *rn, size_t i)
{
    if (i >= rn->nguests || rn->guests[i]->state != GUEST_DONE)
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
