/* SPDX-License-Identifier: MIT */
/*
 * sandbox.c: a sandbox's life and the decisions on what its backend reports
 * (sandbox.h). Control flows one way: the backend reports (sandbox_event),
 * core decides and tells it what to do (stop, kill a job), and results are
 * built only here, by outcome.c.
 */
#include "core/sandbox.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/config.h"
#include "core/outcome.h"
#include "forensics/forensics.h"
#include "util/array.h"
#include "util/error.h"
#include "util/util.h"

/* The backends, in order of preference. */
static const struct backend_ops *const backends[] = { &process_backend };

const struct backend_ops *sandbox_backend_override;

/* A backend's state is made once per process and kept: what it holds
 * (plans built once, executables, the host's cgroups) is the same for
 * every sandbox. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static void *backend_state[ARRAY_SIZE(backends)];

static int get_state(size_t i, void **out, sbvm_error **err)
{
    int r = 0;

    pthread_mutex_lock(&state_lock);
    if (!backend_state[i])
        r = backends[i]->state_new(&backend_state[i], err);
    *out = backend_state[i];
    pthread_mutex_unlock(&state_lock);
    return r;
}

int sandbox_new(struct loop *l, const struct sbvm_config *cfg, const char *name,
                struct sandbox **out, sbvm_error **err)
{
    struct sandbox *sb = calloc(1, sizeof(*sb));
    int r;

    *out = NULL;
    if (!sb)
        return error_set(err, ENOMEM, "out of memory");
    job_facts_init(&sb->facts);
    sb->ops = sandbox_backend_override ? sandbox_backend_override : backends[0];
    sb->cfg = sbvm_config_dup(cfg);
    sb->name = strdup(name ? name : "sandbox");
    if (!sb->cfg || !sb->name) {
        sandbox_free(sb);
        return error_set(err, ENOMEM, "out of memory");
    }
    if (l) {
        sb->loop = l;
    } else {
        r = loop_new(&sb->loop, err);
        if (r < 0) {
            sandbox_free(sb);
            return r;
        }
        sb->own_loop = true;
    }
    r = get_state(0, &sb->bstate, err);
    if (r < 0) {
        sandbox_free(sb);
        return error_wrap(err, r, "preparing the %s backend", sb->ops->name);
    }
    *out = sb;
    return 0;
}

void sandbox_free(struct sandbox *sb)
{
    if (!sb)
        return;
    for (size_t i = 0; i < sb->njobs; i++)
        sb->jobs[i]->sb = NULL;
    free(sb->jobs);
    if (sb->ops && sb->bdata)
        sb->ops->release(sb);
    job_facts_release(&sb->facts);
    sandbox_report_release(&sb->report);
    sbvm_result_free(sb->result);
    sbvm_config_free(sb->cfg);
    free(sb->name);
    if (sb->own_loop)
        loop_free(sb->loop);
    free(sb);
}

static int add_job(struct sandbox *sb, struct job *j)
{
    if (ARRAY_GROW(sb->jobs, sb->njobs + 1, &sb->jobs_alloc) < 0)
        return -ENOMEM;
    sb->jobs[sb->njobs++] = j;
    j->sb = sb;
    j->id = ++sb->next_job;
    return 0;
}

/* A job's result is final: crashes explained, the outcome decided. */
static void job_finish(struct job *j)
{
    struct sandbox *sb = j->sb;
    char line[256];
    struct outcome_in in = { 0 };

    if (j->state == JOB_DONE)
        return;
    job_stop_io(j);
    for (size_t i = 0; i < j->facts.ncrashes; i++)
        crash_analyse(j->facts.crashes[i], j->symbolize, sb->ops->open_module, sb);
    capture_last_line(&j->cap_err, line, sizeof(line));
    in.job = &j->facts;
    in.sandbox = sb->live ? NULL : &sb->report;
    in.limits = j->limits;
    in.mechanisms = sb->mechanisms;
    in.last_stderr_line = line;
    outcome_build(&in, j->result);
    j->result->start_ns = j->start_real;
    j->result->duration_ns = now_mono_ns() - j->start_mono;
    capture_finish(&j->cap_out, &j->result->out.data, &j->result->out.len, &j->result->out.head_len,
                   &j->result->out.omitted);
    j->result->out.total = j->cap_out.total;
    capture_finish(&j->cap_err, &j->result->err.data, &j->result->err.len, &j->result->err.head_len,
                   &j->result->err.omitted);
    j->result->err.total = j->cap_err.total;
    j->state = JOB_DONE;
    if (j->hooks.on_end)
        j->hooks.on_end(j->hooks.ctx, j);
}

void sandbox_job_progress(struct job *j)
{
    struct sandbox *sb = j->sb;

    if (!sb || j->state == JOB_DONE || !job_drained(j))
        return;
    /* An inline job's result holds its sandbox's end (its ledger, its
     * usage): it waits for it. */
    if (!sb->live && !sb->have_report)
        return;
    job_finish(j);
}

static struct job *live_job(struct sandbox *sb, struct job *j)
{
    for (size_t i = 0; j && i < sb->njobs; i++)
        if (sb->jobs[i] == j)
            return j->state == JOB_DONE ? NULL : j;
    return NULL;
}

void sandbox_job_stop(struct job *j)
{
    struct sandbox *sb = j->sb;

    if (!sb)
        return;
    if (!sb->live)
        sandbox_stop(sb);
    else if (sb->state < SB_STOPPING)
        sb->ops->kill_job(sb, j);
}

/* A limit of the whole sandbox (memory, processes, its scratch): it ends,
 * and with it every job, each told why. */
static void sandbox_limit(struct sandbox *sb, const struct limit_fact *l)
{
    if (sb->facts.limit < 0) {
        sb->facts.limit = (int)l->which;
        sb->facts.limit_observed = l->observed;
        memcpy(sb->facts.limit_note, l->note, sizeof(sb->facts.limit_note));
    }
    for (size_t i = 0; i < sb->njobs; i++)
        if (sb->jobs[i]->state < JOB_EXITED || !sb->live)
            job_limit(sb->jobs[i], l->which, l->observed, l->note);
    sandbox_stop(sb);
}

/* Limits that belong to the whole sandbox, not to one of its jobs. */
static bool sandbox_wide(enum sbvm_limit l)
{
    return l == SBVM_LIMIT_MEMORY || l == SBVM_LIMIT_PIDS || l == SBVM_LIMIT_DISK;
}

static void sandbox_end(struct sandbox *sb)
{
    struct outcome_in in = { 0 };

    if (sb->state == SB_ENDED)
        return;
    sb->state = SB_ENDED;
    sb->ops->finish(sb, &sb->report);
    sb->have_report = true;
    /* Jobs still running had their sandbox end under them. */
    for (size_t i = 0; i < sb->njobs; i++) {
        struct job *j = sb->jobs[i];
        if (j->state == JOB_DONE)
            continue;
        if (j->state < JOB_EXITED) {
            j->facts.sandbox_ended = true;
            job_exited(j);
        }
    }
    /* The sandbox's own result: what it says of itself. */
    sb->result = result_new(sb->name, &sb->cfg->argv);
    if (sb->result) {
        bool quiet = !sb->facts.have_setup && sb->facts.limit < 0 && !sb->facts.have_denial &&
                     !sb->facts.ncrashes;
        in.job = &sb->facts;
        in.sandbox = &sb->report;
        in.limits = sb->cfg->limits;
        in.mechanisms = sb->mechanisms;
        if (quiet && sb->live) {
            sb->facts.have_exit = true; /* ended by its owner */
            sb->facts.exit.status = 0;
        }
        if (sb->live)
            outcome_build(&in, sb->result);
        if (quiet && sb->live)
            result_set_message(sb->result, "ended: destroyed by its owner");
        sb->result->start_ns = sb->start_real;
        sb->result->duration_ns = now_mono_ns() - sb->start_mono;
    }
    for (size_t i = 0; i < sb->njobs; i++)
        sandbox_job_progress(sb->jobs[i]);
    if (sb->hooks.on_ended)
        sb->hooks.on_ended(sb->hooks.ctx, sb);
}

void sandbox_event(struct sandbox *sb, struct bev *ev)
{
    struct job *j = live_job(sb, ev->job);
    struct job_facts *f = j ? &j->facts : &sb->facts;

    switch (ev->kind) {
    case BEV_READY:
        if (sb->state == SB_STARTING)
            sb->state = SB_READY;
        break;
    case BEV_SETUP_FAILED:
        if (!sb->facts.have_setup) {
            sb->facts.setup = ev->u.setup;
            sb->facts.have_setup = true;
            memset(&ev->u.setup, 0, sizeof(ev->u.setup));
        }
        /* An inline job fails with its sandbox. */
        if (!sb->live && sb->njobs && !sb->jobs[0]->facts.have_setup) {
            struct job *only = sb->jobs[0];
            setup_fact_set(&only->facts.setup, sb->facts.setup.outcome, sb->facts.setup.stage,
                           sb->facts.setup.err, "%s", sb->facts.setup.message);
            only->facts.have_setup = true;
        }
        break;
    case BEV_JOB_STARTED:
        if (j && j->state == JOB_STARTING) {
            j->pid = ev->u.pid;
            if (job_started(j, sb->loop) < 0 || j->pending_kill)
                sb->ops->kill_job(sb, j);
            else if (j->pending_signal)
                sb->ops->signal(sb, j, j->pending_signal);
        }
        break;
    case BEV_JOB_FAILED:
        if (j && !j->facts.have_setup) {
            j->facts.setup = ev->u.setup;
            j->facts.have_setup = true;
            memset(&ev->u.setup, 0, sizeof(ev->u.setup));
        }
        if (j) {
            /* Its program never ran: nothing of its own was written, and
             * nothing is left to wait for. */
            job_close_child_ends(j);
            job_stop_io(j);
            j->out_eof = j->err_eof = true;
            job_exited(j);
            sandbox_job_progress(j);
        }
        break;
    case BEV_JOB_EXITED:
        if (j && !j->facts.have_exit) {
            j->facts.exit = ev->u.exit;
            j->facts.have_exit = true;
        }
        if (j) {
            job_exited(j);
            sandbox_job_progress(j);
        }
        break;
    case BEV_CRASH:
        job_facts_add_crash(f, ev->u.crash);
        ev->u.crash = NULL;
        break;
    case BEV_DENIED:
        if (!f->have_denial) {
            f->denial = ev->u.denial;
            f->have_denial = true;
        }
        break;
    case BEV_LIMIT:
        if (!j || sandbox_wide(ev->u.limit.which) || !sb->live) {
            sandbox_limit(sb, &ev->u.limit);
        } else {
            job_limit(j, ev->u.limit.which, ev->u.limit.observed, ev->u.limit.note);
            sandbox_job_stop(j);
        }
        break;
    case BEV_REFUSALS:
        /* An inline sandbox's refusals are its job's, whoever made them. */
        if (!j && !sb->live && sb->njobs)
            f = &sb->jobs[0]->facts;
        job_facts_add_refusals(f, ev->u.refusal.nr, ev->u.refusal.count, ev->u.refusal.err);
        break;
    case BEV_SPAWNER_GONE:
        sb->spawner_gone = true;
        break;
    case BEV_ENDED:
        sandbox_end(sb);
        break;
    }
}

/* Copies the config's view of a job into it: limits, capture, symbols. */
static void job_from_config(struct job *j, const struct sbvm_config *cfg)
{
    for (int l = 0; l < SBVM_LIMIT__COUNT; l++)
        if (!j->limits[l])
            j->limits[l] = cfg->limits[l];
    j->capture_limit = cfg->capture_limit;
    j->symbolize = cfg->symbolize;
    if (!j->cwd && cfg->cwd)
        j->cwd = strdup(cfg->cwd);
}

void sandbox_start_inline(struct sandbox *sb, struct job *j, int stdin_fd)
{
    struct setup_fact fail = { 0 };
    int r;

    sb->start_mono = j->start_mono = now_mono_ns();
    sb->start_real = j->start_real = now_real_ns();
    job_from_config(j, sb->cfg);
    if (add_job(sb, j) < 0 || job_prepare_io(j, stdin_fd) < 0) {
        setup_fact_set(&fail, SBVM_OUTCOME_SETUP_FAILED, "prepare", ENOMEM, "out of memory");
        goto failed;
    }
    sb->state = SB_STARTING;
    j->state = JOB_STARTING;
    r = sb->ops->prepare(sb->bstate, sb, j, &fail);
    if (r == 0)
        r = sb->ops->start(sb, j, &fail);
    if (r < 0)
        goto failed;
    if (job_started(j, sb->loop) < 0)
        sandbox_stop(sb);
    return;
failed:
    /* It never ran: its result is the failure, and its end is now. */
    if (!j->result)
        j->result = result_new(j->name, &j->argv);
    if (!j->facts.have_setup) {
        j->facts.setup = fail;
        j->facts.have_setup = true;
    } else {
        setup_fact_release(&fail);
    }
    job_close_child_ends(j);
    j->out_eof = j->err_eof = true;
    j->state = JOB_EXITED;
    sb->state = SB_ENDED;
    sb->have_report = true;
    memcpy(sb->report.mechanisms, sb->mechanisms, sizeof(sb->mechanisms));
    job_finish(j);
    if (sb->hooks.on_ended)
        sb->hooks.on_ended(sb->hooks.ctx, sb);
}

int sandbox_start_live(struct sandbox *sb, sbvm_error **err)
{
    struct setup_fact fail = { 0 };
    int r;

    sb->live = true;
    sb->start_mono = now_mono_ns();
    sb->start_real = now_real_ns();
    sb->state = SB_STARTING;
    r = sb->ops->prepare(sb->bstate, sb, NULL, &fail);
    if (r == 0)
        r = sb->ops->start(sb, NULL, &fail);
    if (r < 0) {
        sb->state = SB_ENDED;
        error_set(err, fail.err ? fail.err : EIO, "%s",
                  fail.message ? fail.message : "the sandbox could not be set up");
        setup_fact_release(&fail);
        return r;
    }
    return 0;
}

int sandbox_exec(struct sandbox *sb, struct job *j, int stdin_fd, sbvm_error **err)
{
    int r;

    if (!sb->live || sb->state < SB_READY)
        return error_set(err, ESRCH, "sandbox '%s' is not ready for jobs (it is still being built)",
                         sb->name);
    if (sb->state > SB_READY && sb->facts.limit >= 0)
        return error_set(err, ESRCH, "sandbox '%s' ended at its %s limit: no job can start in it",
                         sb->name, sbvm_limit_name((enum sbvm_limit)sb->facts.limit));
    if (sb->state > SB_READY)
        return error_set(err, ESRCH, "sandbox '%s' has ended: no job can start in it", sb->name);
    if (sb->spawner_gone)
        return error_set(err, ESRCH,
                         "sandbox '%s' can start no more jobs: its exec server (pid 2) is gone "
                         "(a guest of the same uid may have killed it)",
                         sb->name);
    job_from_config(j, sb->cfg);
    j->start_mono = now_mono_ns();
    j->start_real = now_real_ns();
    if (add_job(sb, j) < 0)
        return error_set(err, ENOMEM, "out of memory");
    r = job_prepare_io(j, stdin_fd);
    if (r == 0) {
        j->state = JOB_STARTING;
        r = sb->ops->exec(sb, j, err);
    } else {
        error_sys(err, -r, "making the job's pipes");
    }
    if (r < 0) {
        sb->njobs--;
        j->sb = NULL;
        j->state = JOB_NEW;
        return r;
    }
    return 0;
}

void sandbox_forget_job(struct sandbox *sb, struct job *j)
{
    if (sb->bdata && sb->ops->forget_job)
        sb->ops->forget_job(sb, j);
    for (size_t i = 0; i < sb->njobs; i++)
        if (sb->jobs[i] == j) {
            memmove(&sb->jobs[i], &sb->jobs[i + 1], (sb->njobs - i - 1) * sizeof(sb->jobs[0]));
            sb->njobs--;
            break;
        }
    j->sb = NULL;
}

void sandbox_stop(struct sandbox *sb)
{
    if (sb->state == SB_STOPPING || sb->state == SB_ENDED || sb->state == SB_NEW)
        return;
    sb->state = SB_STOPPING;
    sb->ops->stop(sb);
}

void sandbox_signal(struct sandbox *sb, int sig)
{
    if (sb->state == SB_ENDED || sb->state == SB_NEW)
        return;
    for (size_t i = 0; i < sb->njobs; i++)
        if (sb->jobs[i]->state < JOB_EXITED)
            sb->jobs[i]->facts.host_signal = sig;
    sb->ops->signal(sb, NULL, sig);
}
