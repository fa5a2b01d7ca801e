/* SPDX-License-Identifier: MIT */
/*
 * job.c: one execution's I/O: output streamed in 64 KiB reads to the
 * job's hooks and kept (bounded) for its result, stdin forwarded from the
 * caller's fd through a pipe, the deadline and the output limit.
 *
 * Memory stays bounded whatever a guest does: output is read in fixed
 * chunks and handed straight on (a slow consumer slows the guest through
 * its pipe), and what is kept for reports is capped per stream.
 */
#include "core/job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/sandbox.h"
#include "sandboxvm/channel.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

#define READ_CHUNK 65536
/* How long a live sandbox's job waits, after its first process ended, for
 * output its other processes may still hold open. */
#define DRAIN_GRACE_NS (200LL * 1000000)

struct job *job_new(size_t argc, const char *const *argv, const char *name)
{
    struct job *j = calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    j->out_fd = j->err_fd = j->in_fd = -1;
    j->child_in = j->child_out = j->child_err = -1;
    j->hold_w = j->child_hold = j->terminal_fd = -1;
    j->exec_fd = j->fd3 = -1;
    j->stdin_src = -1;
    j->capture_limit = SBVM_DEFAULT_CAPTURE;
    j->symbolize = true;
    job_facts_init(&j->facts);
    for (size_t i = 0; i < argc; i++)
        if (strv_push(&j->argv, argv[i]) < 0)
            goto fail;
    j->name = strdup(name ? name : (argc ? argv[0] : "job"));
    if (!j->name)
        goto fail;
    return j;
fail:
    job_free(j);
    return NULL;
}

void job_stop_io(struct job *j)
{
    loop_fd_del(&j->out_src);
    loop_fd_del(&j->err_src);
    loop_fd_del(&j->chan_src);
    loop_fd_del(&j->stdin_src_w);
    loop_fd_del(&j->stdin_pipe_w);
    loop_timer_cancel(&j->deadline);
    loop_timer_cancel(&j->grace);
    close_fd(&j->stdin_src);
    close_fd(&j->in_fd);
    free(j->stdin_buf);
    j->stdin_buf = NULL;
}

void job_close_child_ends(struct job *j)
{
    close_fd(&j->child_in);
    close_fd(&j->child_out);
    close_fd(&j->child_err);
    close_fd(&j->child_hold);
    close_fd(&j->fd3);
    close_fd(&j->exec_fd);
}

int job_release(struct job *j)
{
    char go = 'g';

    if (j->hold_w < 0)
        return -EALREADY;
    if (write_nosigpipe(j->hold_w, &go, 1) != 1) {
        int e = errno;
        close_fd(&j->hold_w);
        return -(e ? e : EPIPE);
    }
    close_fd(&j->hold_w);
    return 0;
}

int job_set_fd3(struct job *j, int fd)
{
    int c;

    if (j->fd3 >= 0 || j->channel)
        return -EBUSY;
    c = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (c < 0)
        return -errno;
    j->fd3 = c;
    return 0;
}

void job_free(struct job *j)
{
    if (!j)
        return;
    job_stop_io(j);
    job_close_child_ends(j);
    close_fd(&j->out_fd);
    close_fd(&j->err_fd);
    close_fd(&j->hold_w);
    close_fd(&j->terminal_fd);
    capture_release(&j->cap_out);
    capture_release(&j->cap_err);
    if (j->own_channel)
        sbvm_channel_free(j->channel);
    job_facts_release(&j->facts);
    sbvm_result_free(j->result);
    strv_release(&j->argv);
    strv_release(&j->env);
    strv_release(&j->env_extra);
    free(j->cwd);
    free(j->name);
    free(j);
}

/* Our own open file description of the caller's stdin, made non-blocking:
 * setting O_NONBLOCK on a dup would change the caller's (and its shell's)
 * fd too. Reopening works for pipes, FIFOs, ttys and files; sockets cannot
 * be reopened and fall back to a dup, read only when epoll says so. */
static void open_stdin(struct job *j, int fd)
{
    struct stat st;
    char path[64];

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    j->stdin_src = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (j->stdin_src < 0)
        j->stdin_src = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (j->stdin_src < 0)
        return;
    j->stdin_src_pollable =
        !(fstat(j->stdin_src, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)));
    j->stdin_buf = malloc(JOB_STDIN_BUF);
    if (!j->stdin_buf)
        close_fd(&j->stdin_src);
}

int job_prepare_io(struct job *j, int stdin_fd)
{
    int out[2] = { -1, -1 }, err[2] = { -1, -1 }, in[2] = { -1, -1 };

    j->result = result_new(j->name, &j->argv);
    if (!j->result)
        return -ENOMEM;
    capture_init(&j->cap_out, j->capture_limit);
    capture_init(&j->cap_err, j->capture_limit);
    if (stdin_fd >= 0 && !j->give_terminal)
        open_stdin(j, stdin_fd);
    if (j->hold) {
        int h[2];
        if (pipe2(h, O_CLOEXEC) < 0)
            return -errno;
        j->child_hold = h[0];
        j->hold_w = h[1];
    }
    if (j->terminal)
        return 0; /* the backend makes the terminal, inside the sandbox */
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        (j->stdin_src >= 0 && pipe2(in, O_CLOEXEC) < 0)) {
        int e = errno;
        close_fd(&out[0]);
        close_fd(&out[1]);
        close_fd(&err[0]);
        close_fd(&err[1]);
        return -e;
    }
    j->out_fd = out[0];
    j->child_out = out[1];
    j->err_fd = err[0];
    j->child_err = err[1];
    j->in_fd = in[1];
    j->child_in = in[0];
    fcntl(j->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(j->err_fd, F_SETFL, O_NONBLOCK);
    if (j->in_fd >= 0)
        fcntl(j->in_fd, F_SETFL, O_NONBLOCK);
    return 0;
}

int job_set_terminal(struct job *j, int master)
{
    if (j->give_terminal) {
        /* Its owner reads and writes it: no stream of ours to wait for. */
        j->terminal_fd = master;
        return 0;
    }
    j->out_fd = master;
    j->err_eof = true; /* one stream: the terminal's */
    if (j->stdin_src >= 0) {
        j->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
        if (j->in_fd < 0)
            return -errno;
    }
    fcntl(master, F_SETFL, O_NONBLOCK);
    return 0;
}

void job_limit(struct job *j, enum sbvm_limit l, uint64_t observed, const char *note)
{
    if (j->facts.limit >= 0)
        return;
    j->facts.limit = (int)l;
    j->facts.limit_observed = observed;
    if (note)
        snprintf(j->facts.limit_note, sizeof(j->facts.limit_note), "%s", note);
}

static void end_stream(struct job *j, bool out)
{
    if (out) {
        loop_fd_del(&j->out_src);
        close_fd(&j->out_fd);
        j->out_eof = true;
    } else {
        loop_fd_del(&j->err_src);
        close_fd(&j->err_fd);
        j->err_eof = true;
    }
}

static void on_output(struct loop_fd *src, uint32_t events, void *ctx)
{
    static char buf[READ_CHUNK];
    struct job *j = ctx;
    bool out = src == &j->out_src;
    int fd = out ? j->out_fd : j->err_fd;
    uint64_t lim = j->limits[SBVM_LIMIT_OUTPUT];
    ssize_t n;

    (void)events;
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        /* EOF, or EIO: a terminal whose last holder closed it. */
        end_stream(j, out);
        sandbox_job_progress(j);
        return;
    }
    j->output_bytes += (uint64_t)n;
    if (lim && j->output_bytes > lim) {
        /* Only what fits in the limit is passed on. */
        uint64_t over = j->output_bytes - lim;
        n = over >= (uint64_t)n ? 0 : n - (ssize_t)over;
        if (j->state < JOB_EXITED) {
            job_limit(j, SBVM_LIMIT_OUTPUT, j->output_bytes, NULL);
            sandbox_job_stop(j);
        }
        if (n == 0)
            return;
    }
    capture_add(out ? &j->cap_out : &j->cap_err, buf, (size_t)n);
    if (j->hooks.on_output)
        j->hooks.on_output(j->hooks.ctx, j, out ? SBVM_STDOUT : SBVM_STDERR, buf, (size_t)n);
}

static void stdin_stop(struct job *j)
{
    loop_fd_del(&j->stdin_src_w);
    loop_fd_del(&j->stdin_pipe_w);
    close_fd(&j->stdin_src);
    /* A terminal's input side is the master itself: its end is the
     * output's too, and EOF on a terminal is the ^D the guest reads. */
    close_fd(&j->in_fd);
}

static void stdin_pump(struct job *j);

static void on_stdin(struct loop_fd *src, uint32_t events, void *ctx)
{
    (void)src;
    (void)events;
    stdin_pump(ctx);
}

static void stdin_watch(struct job *j, bool src_side)
{
    struct loop *l = j->sb ? sandbox_loop(j->sb) : NULL;
    int r;

    if (!l) {
        stdin_stop(j);
        return;
    }
    if (src_side) {
        loop_fd_del(&j->stdin_pipe_w);
        r = loop_fd_armed(&j->stdin_src_w)
                ? 0
                : loop_fd_add(l, &j->stdin_src_w, j->stdin_src, EPOLLIN, on_stdin, j);
    } else {
        loop_fd_del(&j->stdin_src_w);
        r = loop_fd_armed(&j->stdin_pipe_w)
                ? 0
                : loop_fd_add(l, &j->stdin_pipe_w, j->in_fd, EPOLLOUT, on_stdin, j);
    }
    if (r < 0)
        stdin_stop(j);
}

/* Moves bytes from the caller's fd to the guest's stdin, never blocking on
 * the pipe: when it is full, we stop reading and wait for room. */
static void stdin_pump(struct job *j)
{
    for (;;) {
        if (j->stdin_off == j->stdin_len) {
            ssize_t n;
            if (j->stdin_src < 0)
                return;
            n = read(j->stdin_src, j->stdin_buf, JOB_STDIN_BUF);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                if (j->stdin_src_pollable)
                    stdin_watch(j, true);
                else
                    stdin_stop(j);
                return;
            }
            if (n <= 0) {
                stdin_stop(j); /* EOF: the guest sees EOF too */
                return;
            }
            j->stdin_off = 0;
            j->stdin_len = (size_t)n;
        }
        while (j->stdin_off < j->stdin_len) {
            ssize_t n =
                write_nosigpipe(j->in_fd, j->stdin_buf + j->stdin_off, j->stdin_len - j->stdin_off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                stdin_watch(j, false);
                return;
            }
            if (n < 0) {
                stdin_stop(j); /* the guest closed its stdin */
                return;
            }
            j->stdin_off += (size_t)n;
        }
        if (j->stdin_src_pollable) {
            /* Wait for the next bytes rather than spin on a quiet fd. */
            stdin_watch(j, true);
            return;
        }
    }
}

static void on_deadline(struct loop_timer *t, void *ctx)
{
    struct job *j = ctx;

    (void)t;
    if (j->state >= JOB_EXITED)
        return;
    job_limit(j, SBVM_LIMIT_TIME, (uint64_t)((now_mono_ns() - j->start_mono) / 1000000), NULL);
    sandbox_job_stop(j);
}

/* Its host channel: what the guest asks is done here (host calls, logs,
 * growth); a broken protocol ends the channel, not the job, and is told
 * in its result. */
static void on_channel(struct loop_fd *src, uint32_t events, void *ctx)
{
    struct job *j = ctx;
    sbvm_error *e = NULL;
    int r;

    (void)src;
    (void)events;
    r = sbvm_channel_service(j->channel, &e);
    if (r >= 0 && j->chan_served)
        j->chan_served(j->chan_served_ctx, r);
    if (r > 0 && j->hooks.on_channel)
        j->hooks.on_channel(j->hooks.ctx, j, r);
    if (r < 0) {
        loop_fd_del(&j->chan_src);
        if (r != -EPIPE && !j->facts.channel_error)
            j->facts.channel_error = strdup(e ? sbvm_error_message(e) : errno_text(-r));
    }
    sbvm_error_free(e);
}

int job_started(struct job *j, struct loop *l)
{
    int r = 0;

    j->state = JOB_RUNNING;
    job_close_child_ends(j);
    if (j->out_fd >= 0)
        r = loop_fd_add(l, &j->out_src, j->out_fd, EPOLLIN, on_output, j);
    else
        j->out_eof = true;
    if (r == 0 && j->err_fd >= 0)
        r = loop_fd_add(l, &j->err_src, j->err_fd, EPOLLIN, on_output, j);
    else if (j->err_fd < 0)
        j->err_eof = true;
    if (r == 0 && j->channel)
        r = loop_fd_add(l, &j->chan_src, sbvm_channel_fd(j->channel), EPOLLIN, on_channel, j);
    if (r == 0 && j->limits[SBVM_LIMIT_TIME]) {
        uint64_t ms = j->limits[SBVM_LIMIT_TIME];
        int64_t left = (int64_t)ms * 1000000 - (now_mono_ns() - j->start_mono);
        r = loop_timer_arm(l, &j->deadline, left, on_deadline, j);
    }
    if (r < 0)
        return r;
    if (j->in_fd < 0 || j->stdin_src < 0)
        stdin_stop(j);
    else if (!j->stdin_src_pollable)
        stdin_pump(j); /* a regular file: always readable */
    else
        stdin_watch(j, true);
    return 0;
}

static void on_grace(struct loop_timer *t, void *ctx)
{
    struct job *j = ctx;

    (void)t;
    /* What its other processes still hold open is theirs: stop reading. */
    if (!j->out_eof)
        end_stream(j, true);
    if (!j->err_eof)
        end_stream(j, false);
    sandbox_job_progress(j);
}

void job_exited(struct job *j)
{
    struct loop *l = j->sb ? sandbox_loop(j->sb) : NULL;

    if (j->state < JOB_EXITED)
        j->state = JOB_EXITED;
    loop_timer_cancel(&j->deadline);
    /* Nobody is left to read the guest's stdin. */
    stdin_stop(j);
    if (l && sandbox_is_live(j->sb) && !(j->out_eof && j->err_eof) && !loop_timer_armed(&j->grace))
        loop_timer_arm(l, &j->grace, DRAIN_GRACE_NS, on_grace, j);
}

bool job_drained(const struct job *j)
{
    return j->state >= JOB_EXITED && j->out_eof && j->err_eof;
}
