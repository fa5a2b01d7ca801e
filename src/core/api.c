/* SPDX-License-Identifier: MIT */
/*
 * api.c: the public face of live sandboxes and jobs (sandboxvm.h): checks
 * what callers pass, and drives core's sandbox and job (sandbox.c, job.c)
 * on the caller's loop or a sandbox's own.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/config.h"
#include "core/job.h"
#include "core/loop.h"
#include "core/result.h"
#include "core/sandbox.h"
#include "ledger/ledger.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* How long a sandbox may take to be built, and to end. */
#define CREATE_TIMEOUT_MS  30000
#define DESTROY_TIMEOUT_MS 30000

#define SB(x)  ((struct sandbox *)(x))
#define JOB(x) ((struct job *)(x))

SBVM_API sbvm_loop *sbvm_loop_new(void)
{
    struct loop *l = NULL;

    if (loop_new(&l, NULL) < 0)
        return NULL;
    return (sbvm_loop *)l;
}

SBVM_API void sbvm_loop_free(sbvm_loop *l)
{
    loop_free((struct loop *)l);
}

SBVM_API int sbvm_loop_run(sbvm_loop *l, int timeout_ms)
{
    return loop_run((struct loop *)l, timeout_ms);
}

SBVM_API int sbvm_loop_fd(const sbvm_loop *l)
{
    return loop_fd((const struct loop *)l);
}

SBVM_API int sbvm_loop_timeout(const sbvm_loop *l)
{
    return loop_timeout_ms((const struct loop *)l);
}

/* Runs sb's loop until done(ctx) or timeout_ms passed: 0 or -ETIMEDOUT. */
static int run_until(struct loop *l, bool (*done)(void *), void *ctx, int timeout_ms)
{
    int64_t end = timeout_ms < 0 ? 0 : now_mono_ns() + (int64_t)timeout_ms * 1000000;

    while (!done(ctx)) {
        int left = -1, r;
        if (timeout_ms >= 0) {
            int64_t ns = end - now_mono_ns();
            if (ns <= 0)
                return -ETIMEDOUT;
            left = (int)((ns + 999999) / 1000000);
        }
        r = loop_run(l, left);
        if (r < 0)
            return r;
    }
    return 0;
}

static bool sandbox_settled(void *ctx)
{
    const struct sandbox *sb = ctx;
    return sb->state == SB_READY || sb->state == SB_ENDED;
}

static bool sandbox_gone(void *ctx)
{
    const struct sandbox *sb = ctx;

    if (sb->state != SB_ENDED)
        return false;
    for (size_t i = 0; i < sb->njobs; i++)
        if (sb->jobs[i]->state != JOB_DONE)
            return false;
    return true;
}

SBVM_API int sbvm_sandbox_start(sbvm_loop *loop, const sbvm_config *cfg, sbvm_sandbox **out,
                                sbvm_error **err)
{
    struct sandbox *sb = NULL;
    int r;

    *out = NULL;
    r = config_check(cfg, err);
    if (r < 0)
        return r;
    r = sandbox_new((struct loop *)loop, cfg, cfg->name ? cfg->name : "sandbox", &sb, err);
    if (r < 0)
        return r;
    r = sandbox_start_live(sb, err);
    if (r < 0) {
        sandbox_free(sb);
        return r;
    }
    *out = (sbvm_sandbox *)sb;
    return 0;
}

SBVM_API enum sbvm_sandbox_state sbvm_sandbox_state(const sbvm_sandbox *s)
{
    const struct sandbox *sb = (const struct sandbox *)s;

    switch (sb->state) {
    case SB_NEW:
    case SB_STARTING:
        return SBVM_SANDBOX_STARTING;
    case SB_READY:
        return SBVM_SANDBOX_READY;
    case SB_STOPPING:
        return SBVM_SANDBOX_ENDING;
    case SB_ENDED:
        break;
    }
    return sandbox_gone((void *)sb) ? SBVM_SANDBOX_ENDED : SBVM_SANDBOX_ENDING;
}

SBVM_API void sbvm_sandbox_stop(sbvm_sandbox *sb)
{
    sandbox_stop(SB(sb));
}

SBVM_API int sbvm_sandbox_create(sbvm_loop *loop, const sbvm_config *cfg, sbvm_sandbox **out,
                                 sbvm_error **err)
{
    struct sandbox *sb = NULL;
    int r;

    *out = NULL;
    r = sbvm_sandbox_start(loop, cfg, (sbvm_sandbox **)&sb, err);
    if (r < 0)
        return r;
    r = run_until(sb->loop, sandbox_settled, sb, CREATE_TIMEOUT_MS);
    if (r == 0 && sb->state == SB_READY) {
        *out = (sbvm_sandbox *)sb;
        return 0;
    }
    if (r == 0)
        r = error_set(err, sb->facts.have_setup && sb->facts.setup.err ? sb->facts.setup.err : EIO,
                      "%s",
                      sb->facts.have_setup && sb->facts.setup.message
                          ? sb->facts.setup.message
                          : "the sandbox ended while it was being built");
    else
        error_sys(err, -r, "building the sandbox");
    sandbox_stop(sb);
    run_until(sb->loop, sandbox_gone, sb, DESTROY_TIMEOUT_MS);
    sandbox_free(sb);
    return r;
}

SBVM_API int sbvm_sandbox_destroy(sbvm_sandbox *s, sbvm_result **out, sbvm_error **err)
{
    struct sandbox *sb = SB(s);
    int r;

    if (out)
        *out = NULL;
    if (!sb)
        return 0;
    sandbox_stop(sb);
    r = run_until(sb->loop, sandbox_gone, sb, DESTROY_TIMEOUT_MS);
    if (r < 0)
        error_sys(err, -r, "ending sandbox %s", sb->name);
    if (out && sb->result) {
        *out = sb->result;
        sb->result = NULL;
    }
    sandbox_free(sb);
    return r;
}

struct api_job {
    struct sbvm_job_events ev;
};

static void job_output(void *ctx, struct job *j, enum sbvm_stream s, const void *data, size_t len)
{
    const struct sbvm_job_events *ev = ctx;
    if (ev && ev->on_output)
        ev->on_output(ev->ctx, (sbvm_job *)j, s, data, len);
}

static void job_end(void *ctx, struct job *j)
{
    const struct sbvm_job_events *ev = ctx;
    if (ev && ev->on_end)
        ev->on_end(ev->ctx, (sbvm_job *)j);
}

static void job_channel(void *ctx, struct job *j, int events)
{
    const struct sbvm_job_events *ev = ctx;
    if (ev && ev->on_channel)
        ev->on_channel(ev->ctx, (sbvm_job *)j, events);
}

SBVM_API int sbvm_sandbox_exec(sbvm_sandbox *s, const struct sbvm_exec *ex, sbvm_job **out,
                               sbvm_error **err)
{
    struct sandbox *sb = SB(s);
    struct sbvm_exec e = { 0 };
    struct job *j;
    size_t argc = 0;
    char *name = NULL;
    int r;

    *out = NULL;
    if (!ex || ex->size < offsetof(struct sbvm_exec, events) + sizeof(ex->events))
        return error_set(err, EINVAL, "struct sbvm_exec: set its size (sizeof(struct sbvm_exec))");
    memcpy(&e, ex, ex->size < sizeof(e) ? ex->size : sizeof(e));
    while (e.argv && e.argv[argc])
        argc++;
    if (!argc)
        return error_set(err, EINVAL, "empty command: name a program to run");
    for (size_t i = 0; i < argc; i++)
        if (strlen(e.argv[i]) > 32 * 4096)
            return error_set(err, E2BIG, "argument %zu is longer than the kernel accepts", i);
    if (e.cwd && !config_path_plain(e.cwd))
        return error_set(err, EINVAL, "working directory %s: not a plain absolute path", e.cwd);
    if (!e.name && !(name = config_name_from_program(e.argv[0])))
        return error_set(err, ENOMEM, "out of memory");
    if (e.name && !config_name_valid(e.name))
        return error_set(err, EINVAL,
                         "invalid job name '%s': 1 to %d characters from [A-Za-z0-9._-]", e.name,
                         SBVM_NAME_MAX);
    j = job_new(argc, e.argv, e.name ? e.name : name);
    free(name);
    if (!j)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; e.env && e.env[i]; i++) {
        const char *eq = strchr(e.env[i], '=');
        if (!eq || eq == e.env[i]) {
            job_free(j);
            return error_set(err, EINVAL, "environment entry '%s': not KEY=VALUE", e.env[i]);
        }
        if (strv_push(&j->env_extra, e.env[i]) < 0) {
            job_free(j);
            return error_set(err, ENOMEM, "out of memory");
        }
    }
    if (e.cwd && !(j->cwd = strdup(e.cwd))) {
        job_free(j);
        return error_set(err, ENOMEM, "out of memory");
    }
    if (!j->cwd && sb->cfg->cwd && !(j->cwd = strdup(sb->cfg->cwd))) {
        job_free(j);
        return error_set(err, ENOMEM, "out of memory");
    }
    j->terminal = e.terminal != 0;
    j->give_terminal = j->terminal && e.give_terminal;
    j->hold = e.hold != 0;
    j->rows = e.rows ? e.rows : 24;
    j->cols = e.cols ? e.cols : 80;
    j->limits[SBVM_LIMIT_TIME] = e.timeout_ms;
    j->limits[SBVM_LIMIT_OUTPUT] = e.output_bytes;
    if (e.events) {
        j->hooks.ctx = (void *)e.events;
        j->hooks.on_output = job_output;
        j->hooks.on_end = job_end;
        j->hooks.on_channel = job_channel;
    }
    if (e.channel) {
        /* Its guest end becomes the job's fd 3, named in its environment. */
        j->channel = e.channel;
        if (strv_push(&j->env_extra, "SBVM_CHANNEL=3") < 0) {
            job_free(j);
            return error_set(err, ENOMEM, "out of memory");
        }
    }
    r = sandbox_exec(sb, j, e.stdin_fd, err);
    if (r < 0) {
        job_free(j);
        return r;
    }
    *out = (sbvm_job *)j;
    return 0;
}

static bool job_is_done(void *ctx)
{
    return JOB(ctx)->state == JOB_DONE;
}

SBVM_API int sbvm_job_wait(sbvm_job *jj, int timeout_ms, sbvm_error **err)
{
    struct job *j = JOB(jj);
    int r;

    if (j->state == JOB_DONE)
        return 0;
    if (!j->sb)
        return error_set(err, ESRCH, "job %s: its sandbox is gone", j->name);
    r = run_until(j->sb->loop, job_is_done, j, timeout_ms);
    if (r == -ETIMEDOUT)
        return error_set(err, ETIMEDOUT, "job %s: still running after %d ms", j->name, timeout_ms);
    if (r < 0)
        return error_sys(err, -r, "waiting for job %s", j->name);
    return 0;
}

static bool job_is_started(void *ctx)
{
    return JOB(ctx)->state >= JOB_RUNNING;
}

SBVM_API int sbvm_job_wait_started(sbvm_job *jj, int timeout_ms, sbvm_error **err)
{
    struct job *j = JOB(jj);
    int r;

    if (j->state >= JOB_RUNNING)
        return 0;
    if (!j->sb)
        return error_set(err, ESRCH, "job %s: its sandbox is gone", j->name);
    r = run_until(j->sb->loop, job_is_started, j, timeout_ms);
    if (r == -ETIMEDOUT)
        return error_set(err, ETIMEDOUT, "job %s: not started after %d ms", j->name, timeout_ms);
    if (r < 0)
        return error_sys(err, -r, "waiting for job %s", j->name);
    return 0;
}

SBVM_API int sbvm_job_release(sbvm_job *jj)
{
    struct job *j = JOB(jj);

    if (!j->hold)
        return -EINVAL;
    if (j->state >= JOB_EXITED)
        return -ESRCH;
    if (j->state < JOB_RUNNING)
        return -EAGAIN;
    return job_release(j);
}

SBVM_API int sbvm_job_pid(const sbvm_job *jj)
{
    const struct job *j = (const struct job *)jj;
    return j->pid > 0 ? j->pid : 0;
}

SBVM_API int sbvm_job_take_terminal(sbvm_job *jj)
{
    struct job *j = JOB(jj);

    if (!j->terminal || !j->give_terminal)
        return -ENOTTY;
    if (j->terminal_fd < 0)
        return j->state < JOB_RUNNING ? -EAGAIN : -ENOTTY;
    return steal_fd(&j->terminal_fd);
}

SBVM_API const sbvm_result *sbvm_job_result(const sbvm_job *jj)
{
    const struct job *j = (const struct job *)jj;
    return j->state == JOB_DONE ? j->result : NULL;
}

SBVM_API int sbvm_job_signal(sbvm_job *jj, int sig)
{
    struct job *j = JOB(jj);

    if (sig <= 0 || sig >= NSIG)
        return -EINVAL;
    if (!j->sb || j->state >= JOB_EXITED)
        return -ESRCH;
    j->facts.host_signal = sig;
    if (j->state < JOB_RUNNING) {
        /* Not yet running: nobody to send it to before its start. */
        if (sig == SIGKILL)
            j->pending_kill = true;
        j->pending_signal = sig;
        return 0;
    }
    return j->sb->ops->signal(j->sb, j, sig);
}

SBVM_API int sbvm_job_close_stream(sbvm_job *jj, enum sbvm_stream s)
{
    struct job *j = JOB(jj);

    if (s != SBVM_STDOUT && s != SBVM_STDERR)
        return -EINVAL;
    job_close_stream(j, s);
    return 0;
}

SBVM_API int sbvm_job_resize(sbvm_job *jj, unsigned short rows, unsigned short cols)
{
    struct job *j = JOB(jj);
    struct winsize ws = { .ws_row = rows, .ws_col = cols };

    if (!j->terminal || j->out_fd < 0)
        return -ENOTTY;
    return ioctl(j->out_fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

SBVM_API void sbvm_job_free(sbvm_job *jj)
{
    struct job *j = JOB(jj);
    struct sandbox *sb;

    if (!j)
        return;
    sb = j->sb;
    if (sb && j->state != JOB_DONE) {
        if (j->state < JOB_RUNNING)
            j->pending_kill = true;
        else if (j->state < JOB_EXITED)
            sb->ops->kill_job(sb, j);
        run_until(sb->loop, job_is_done, j, DESTROY_TIMEOUT_MS);
    }
    if (sb)
        sandbox_forget_job(sb, j);
    job_free(j);
}

/* An absolute host path for a name relative to our directory, its parent
 * made canonical (the last name is the copy's own). */
static char *host_path(const char *path, sbvm_error **err)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/'), *base;
    struct strbuf sb = STRBUF_INIT;

    if (!*path || (slash && !slash[1])) {
        error_set(err, EINVAL, "%s: name a file or directory", path);
        return NULL;
    }
    base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (!realpath(dir, real)) {
        error_sys(err, errno, "%s", dir);
        return NULL;
    }
    strbuf_addf(&sb, "%s/%s", streq(real, "/") ? "" : real, base);
    if (strbuf_failed(&sb)) {
        strbuf_release(&sb);
        error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

static int copy_between(sbvm_sandbox *s, bool in, const char *a, const char *b, unsigned flags,
                        sbvm_error **err)
{
    struct sandbox *sb = SB(s);
    const char *guest = in ? b : a;
    char *host;
    int r;

    if (!config_path_plain(guest) || streq(guest, "/"))
        return error_set(err, EINVAL, "%s: not a plain absolute path in the sandbox", guest);
    if (flags & ~SBVM_COPY_REPLACE)
        return error_set(err, EINVAL, "unknown copy flags 0x%x", flags);
    if (sb->state != SB_READY)
        return error_set(err, ESRCH, "sandbox %s is not running", sb->name);
    host = host_path(in ? a : b, err);
    if (!host)
        return -EINVAL;
    r = in ? sb->ops->put(sb, host, guest, flags, err) : sb->ops->get(sb, guest, host, flags, err);
    free(host);
    return r;
}

SBVM_API int sbvm_sandbox_pause(sbvm_sandbox *s, int pause, sbvm_error **err)
{
    struct sandbox *sb = SB(s);
    int r;

    if (sb->state != SB_READY || !sb->ops->pause)
        return error_set(err, ESRCH, "sandbox %s is not running", sb->name);
    r = sb->ops->pause(sb, pause != 0);
    if (r < 0)
        return error_sys(err, -r, "%s sandbox %s", pause ? "pausing" : "resuming", sb->name);
    return 0;
}

SBVM_API int sbvm_sandbox_put(sbvm_sandbox *sb, const char *host, const char *guest, unsigned flags,
                              sbvm_error **err)
{
    return copy_between(sb, true, host, guest, flags, err);
}

SBVM_API int sbvm_sandbox_get(sbvm_sandbox *sb, const char *guest, const char *host, unsigned flags,
                              sbvm_error **err)
{
    return copy_between(sb, false, guest, host, flags, err);
}

SBVM_API int sbvm_sandbox_inventory(sbvm_sandbox *s, sbvm_result **out, sbvm_error **err)
{
    struct sandbox *sb = SB(s);
    struct ledger *l = NULL;
    sbvm_result *r;
    int rc;

    *out = NULL;
    if (sb->state != SB_READY)
        return error_set(err, ESRCH, "sandbox %s is not running", sb->name);
    rc = sb->ops->inventory(sb, &l, err);
    if (rc < 0)
        return rc;
    r = result_new(sb->name, &sb->cfg->argv);
    if (!r) {
        ledger_free(l);
        return error_set(err, ENOMEM, "out of memory");
    }
    r->ledger = l;
    if (l->live) {
        /* What it uses now; and the connections so far, moved over. */
        r->peak_memory = l->memory_bytes;
        r->peak_source = "VmHWM (the largest of its processes alive now)";
        r->cpu_user_us = l->cpu_user_ms * 1000;
        r->cpu_system_us = l->cpu_system_ms * 1000;
        r->net_mode = sb->cfg->net;
        r->net_attempts = l->net;
        r->nnet_attempts = l->nnet;
        r->net_attempts_dropped = l->net_dropped;
        l->net = NULL;
        l->nnet = 0;
    }
    r->start_ns = sb->start_real;
    r->duration_ns = now_mono_ns() - sb->start_mono;
    result_set_message(r, "running: %zu job%s so far", sb->njobs, sb->njobs == 1 ? "" : "s");
    *out = r;
    return 0;
}
