/* SPDX-License-Identifier: MIT */
/*
 * process.c: the process backend on the supervisor's side: prepares the
 * guest's view and filter, clones the sandbox, writes its id maps, reads its
 * reports and turns them into an outcome.
 */
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/process/child.h"
#include "backend/process/proto.h"
#include "backend/process/userns.h"
#include "policy/env.h"
#include "policy/fsplan.h"
#include "policy/program.h"
#include "policy/seccomp.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* The default size of the guest's writable /tmp. */
#define TMP_SIZE_DEFAULT (512UL << 20)

/* The init executable, embedded at build time (init_image.c). */
extern const unsigned char sbvm_init_image[];
extern const size_t sbvm_init_image_len;

struct proc_state {
    struct guest_ids ids;
    struct fsplan base;
    struct seccomp_plan seccomp;
    int init_fd; /* sealed memfd with the init, or -1: run it in place */
};

struct proc_guest {
    struct proc_state *st;
    struct strv envp;
    struct program prog;
    struct fsplan extra;

    pid_t pid;
    int pidfd;
    int status_fd;

    /* Reassembly of records that arrive split (they should not). */
    unsigned char recbuf[sizeof(struct proc_record)];
    size_t reclen;
    bool bad_record;
    struct proc_record setup, exec, exit;
    bool have_setup, have_exec, have_exit;

    /* Failures on the supervisor's side of the spawn. */
    const char *host_stage;
    int host_errno;
    char host_what[96];
};

static const struct {
    const char *name;
    const char *text;
} stages[STAGE__COUNT] = {
    [STAGE_NONE] = { "none", "setting up the sandbox" },
    [STAGE_FDS] = { "fds", "arranging the sandbox's file descriptors" },
    [STAGE_SYNC] = { "sync", "waiting for the supervisor" },
    [STAGE_MOUNT_PRIVATE] = { "mount-private", "making the sandbox's mount namespace private" },
    [STAGE_ROOT_TMPFS] = { "root", "mounting the sandbox's root tmpfs" },
    [STAGE_FSOP] = { "view", "building the filesystem view" },
    [STAGE_FSOP_REOPEN] = { "view", "reopening the program file in the sandbox" },
    [STAGE_HOSTNAME] = { "hostname", "setting the sandbox's host name" },
    [STAGE_LOOPBACK] = { "loopback", "bringing up the loopback interface" },
    [STAGE_PIVOT] = { "pivot-root", "entering the new root (pivot_root)" },
    [STAGE_ROOT_RDONLY] = { "root-readonly", "making the root read-only" },
    [STAGE_IDS] = { "ids", "switching to the guest's uid and gid" },
    [STAGE_CAPS] = { "capabilities", "dropping capabilities" },
    [STAGE_NNP] = { "no-new-privs", "setting no_new_privs" },
    [STAGE_SECCOMP] = { "seccomp", "installing the syscall filter" },
    [STAGE_FORK] = { "fork", "creating the guest process" },
    [STAGE_GUEST_SESSION] = { "session", "starting a new session for the guest" },
    [STAGE_GUEST_RLIMIT] = { "rlimit", "setting the guest's resource limits" },
    [STAGE_GUEST_STDIO] = { "stdio", "connecting the guest's standard streams" },
    [STAGE_GUEST_CWD] = { "cwd", "changing to the working directory" },
    [STAGE_EXEC] = { "exec", "executing the program" },
};

static int make_init_memfd(void)
{
    int fd = memfd_create("sbvm-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

    if (fd < 0 && errno == EINVAL)
        fd = memfd_create("sbvm-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    /* Sealed: nothing, not even a process that got hold of the fd, can
     * change what every sandbox's pid 1 runs. */
    if (write_full(fd, sbvm_init_image, sbvm_init_image_len) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void proc_run_release(void *state)
{
    struct proc_state *st = state;

    if (!st)
        return;
    fsplan_release(&st->base);
    seccomp_plan_release(&st->seccomp);
    close_fd(&st->init_fd);
    free(st);
}

static int proc_run_init(void **state, sbvm_error **err)
{
    struct proc_state *st = calloc(1, sizeof(*st));
    int r;

    if (!st)
        return error_set(err, ENOMEM, "out of memory");
    st->init_fd = -1;
    fsplan_init(&st->base);
    userns_guest_ids(&st->ids);
    r = fsplan_build_base(&st->base, &st->ids, TMP_SIZE_DEFAULT, err);
    seccomp_plan_default(&st->seccomp);
    if (r < 0) {
        proc_run_release(st);
        return r;
    }
    st->init_fd = make_init_memfd();
    *state = st;
    return 0;
}

static void proc_release(struct guest *g)
{
    struct proc_guest *pg = g->bdata;

    if (!pg)
        return;
    strv_release(&pg->envp);
    program_release(&pg->prog);
    fsplan_release(&pg->extra);
    close_fd(&pg->pidfd);
    close_fd(&pg->status_fd);
    free(pg);
    g->bdata = NULL;
}

static int fail_result(struct guest *g, enum sbvm_outcome o, const char *stage, int e,
                       const char *msg)
{
    g->result->outcome = o;
    g->result->stage = stage;
    g->result->setup_errno = e;
    result_set_message(g->result, "%s", msg ? msg : "out of memory");
    return -(e ? e : EIO);
}

static int proc_prepare(void *state, struct guest *g)
{
    struct proc_guest *pg = calloc(1, sizeof(*pg));
    struct program_failure pf;
    sbvm_error *e = NULL;
    int r;

    if (!pg)
        return fail_result(g, SBVM_OUTCOME_SETUP_FAILED, "prepare", ENOMEM, NULL);
    g->bdata = pg;
    pg->st = state;
    pg->pid = -1;
    pg->pidfd = -1;
    pg->status_fd = -1;
    fsplan_init(&pg->extra);

    r = env_build(g->cfg, &pg->envp, &e);
    if (r < 0)
        goto fail_err;
    r = program_resolve(g->cfg->argv.v[0], env_lookup(pg->envp.v, "PATH"), &pg->prog, &pf);
    if (r < 0) {
        fail_result(g, pf.outcome, "resolve", pf.err, pf.message);
        program_failure_release(&pf);
        return r;
    }
    for (size_t i = 0; i < pg->prog.nbinds; i++) {
        r = fsplan_add_file_bind(&pg->extra, pg->prog.binds[i].path, FD_BIND_BASE + (int)i, &e);
        if (r < 0)
            goto fail_err;
    }
    return 0;
fail_err:
    fail_result(g, SBVM_OUTCOME_SETUP_FAILED, "prepare", sbvm_error_code(e), sbvm_error_message(e));
    sbvm_error_free(e);
    return r;
}

static void set_host_failure(struct proc_guest *pg, const char *stage, int e, const char *what)
{
    pg->host_stage = stage;
    pg->host_errno = e;
    snprintf(pg->host_what, sizeof(pg->host_what), "%s", what);
}

static int spawn_fail(struct guest *g, const char *stage, int e, const char *what)
{
    const char *hint = userns_restriction_hint();

    g->result->outcome = SBVM_OUTCOME_SETUP_FAILED;
    g->result->stage = stage;
    g->result->setup_errno = e;
    result_set_message(g->result, "%s: %s%s%s", what, errno_text(e), hint ? "; " : "",
                       hint ? hint : "");
    return -e;
}

static int proc_spawn(void *state, struct guest *g)
{
    struct proc_state *st = state;
    struct proc_guest *pg = g->bdata;
    int status[2] = { -1, -1 }, sync[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 },
        in[2] = { -1, -1 };
    int bind_fds[PROGRAM_MAX_BINDS];
    const char *bind_srcs[PROGRAM_MAX_BINDS];
    struct clone_args ca;
    struct child_args a;
    sigset_t all, old;
    const char *what = NULL;
    char go;
    long pid;
    int pidfd = -1, r, e;

    if (pipe2(status, O_CLOEXEC) < 0 || pipe2(sync, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
        pipe2(errp, O_CLOEXEC) < 0 || (g->stdin_src >= 0 && pipe2(in, O_CLOEXEC) < 0)) {
        e = errno;
        r = spawn_fail(g, "pipes", e, "creating the sandbox's pipes");
        goto out_close;
    }
    for (size_t i = 0; i < pg->prog.nbinds; i++) {
        bind_fds[i] = pg->prog.binds[i].fd;
        bind_srcs[i] = pg->prog.binds[i].src;
    }

    memset(&a, 0, sizeof(a));
    a.base_ops = st->base.ops;
    a.nbase = st->base.nops;
    a.extra_ops = pg->extra.ops;
    a.nextra = pg->extra.nops;
    a.seccomp = &st->seccomp;
    a.uid = st->ids.uid;
    a.gid = st->ids.gid;
    a.host_root = st->ids.host_root;
    a.exec_path = pg->prog.exec_path;
    a.argv = g->cfg->argv.v;
    a.envp = pg->envp.v;
    a.cwd = g->cfg->cwd ? g->cfg->cwd : SBVM_DEFAULT_CWD;
    a.fd_status = status[1];
    a.fd_sync = sync[0];
    a.fd_init = st->init_fd;
    a.fd_in = in[0];
    a.fd_out = out[1];
    a.fd_err = errp[1];
    a.bind_fds = bind_fds;
    a.bind_srcs = bind_srcs;
    a.nbinds = pg->prog.nbinds;

    memset(&ca, 0, sizeof(ca));
    /* The network namespace comes later, from the guest process itself, in
     * parallel with the view (child.c). */
    ca.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
               CLONE_NEWCGROUP | CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
    ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    ca.exit_signal = SIGCHLD;

    /* With every signal blocked, no handler of the host's can run in the
     * child before it resets them; the child unblocks in its own time. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid == 0)
        child_main(&a);
    e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        r = spawn_fail(g, "clone", e, "creating the sandbox's namespaces (clone3)");
        goto out_close;
    }
    pg->pid = (pid_t)pid;
    pg->pidfd = pidfd;
    g->start_mono = now_mono_ns();

    close_fd(&status[1]);
    close_fd(&sync[0]);
    close_fd(&out[1]);
    close_fd(&errp[1]);
    close_fd(&in[0]);

    r = userns_write_maps(pg->pid, pg->pidfd, &st->ids, &what);
    if (r < 0) {
        char w[96];
        snprintf(w, sizeof(w), "writing the sandbox's %s", what);
        set_host_failure(pg, "idmap", -r, w);
        go = SYNC_ABORT;
    } else {
        go = SYNC_GO;
    }
    /* A failure to say go leaves the child at EOF, which also ends it. */
    (void)write_full(sync[1], &go, 1);
    close_fd(&sync[1]);

    fcntl(status[0], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    if (in[1] >= 0)
        fcntl(in[1], F_SETFL, O_NONBLOCK);
    pg->status_fd = status[0];
    g->events_fd = status[0];
    g->exit_fd = pidfd;
    g->out_fd = out[0];
    g->err_fd = errp[0];
    g->in_fd = in[1];
    return 0;

out_close:
    close_fd(&status[0]);
    close_fd(&status[1]);
    close_fd(&sync[0]);
    close_fd(&sync[1]);
    close_fd(&out[0]);
    close_fd(&out[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    close_fd(&in[0]);
    close_fd(&in[1]);
    return r;
}

static bool record_valid(const struct proc_guest *pg, const struct proc_record *rec)
{
    size_t nops = pg->st->base.nops + pg->extra.nops;

    if (rec->magic != PROC_REC_MAGIC || rec->stage >= STAGE__COUNT || rec->err < 0 ||
        rec->err > 4095)
        return false;
    switch (rec->kind) {
    case REC_SETUP_FAILED:
        if (rec->stage == STAGE_FSOP_REOPEN)
            return rec->index >= 0 && (size_t)rec->index < pg->prog.nbinds;
        return rec->stage != STAGE_FSOP || (rec->index >= 0 && (size_t)rec->index < nops);
    case REC_EXEC_FAILED:
        return rec->stage >= STAGE_GUEST_SESSION && rec->stage <= STAGE_EXEC;
    case REC_GUEST_EXIT:
        if (rec->code == CLD_EXITED)
            return rec->status >= 0 && rec->status <= 255;
        return (rec->code == CLD_KILLED || rec->code == CLD_DUMPED) && rec->status > 0 &&
               rec->status < 65;
    default:
        return false;
    }
}

static void take_record(struct proc_guest *pg, const struct proc_record *rec)
{
    if (!record_valid(pg, rec)) {
        pg->bad_record = true;
        return;
    }
    /* The first report of each kind is the one that counts. */
    if (rec->kind == REC_SETUP_FAILED && !pg->have_setup) {
        pg->setup = *rec;
        pg->have_setup = true;
    } else if (rec->kind == REC_EXEC_FAILED && !pg->have_exec) {
        pg->exec = *rec;
        pg->have_exec = true;
    } else if (rec->kind == REC_GUEST_EXIT && !pg->have_exit) {
        pg->exit = *rec;
        pg->have_exit = true;
    }
}

static bool proc_on_events(struct guest *g)
{
    struct proc_guest *pg = g->bdata;

    for (;;) {
        ssize_t n = read(pg->status_fd, pg->recbuf + pg->reclen, sizeof(pg->recbuf) - pg->reclen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN;
        }
        if (n == 0)
            return false;
        pg->reclen += (size_t)n;
        if (pg->reclen == sizeof(pg->recbuf)) {
            struct proc_record rec;
            memcpy(&rec, pg->recbuf, sizeof(rec));
            pg->reclen = 0;
            take_record(pg, &rec);
        }
    }
}

static int proc_signal(struct guest *g, int sig)
{
    struct proc_guest *pg = g->bdata;

    if (!pg || pg->pidfd < 0)
        return -ESRCH;
    if (pidfd_send_signal(pg->pidfd, sig, NULL, 0) < 0)
        return -errno;
    return 0;
}

static const struct fsop *op_at(const struct proc_guest *pg, size_t i)
{
    if (i < pg->st->base.nops)
        return &pg->st->base.ops[i];
    return &pg->extra.ops[i - pg->st->base.nops];
}

static bool hint_worthy(int e)
{
    return e == EPERM || e == EACCES || e == ENOSPC || e == EUSERS || e == EINVAL;
}

static void finish_setup(struct proc_guest *pg, sbvm_result *r)
{
    const struct proc_record *rec = &pg->setup;
    const char *hint = hint_worthy(rec->err) ? userns_restriction_hint() : NULL;
    char what[512];

    if (rec->stage == STAGE_FSOP)
        fsplan_describe(op_at(pg, (size_t)rec->index), what, sizeof(what));
    else if (rec->stage == STAGE_FSOP_REOPEN)
        snprintf(what, sizeof(what), "reopening %s in the sandbox%s",
                 pg->prog.binds[rec->index].src,
                 rec->err == ESTALE ? " (it was replaced after it was checked)" : "");
    else
        snprintf(what, sizeof(what), "%s", stages[rec->stage].text);
    r->outcome = SBVM_OUTCOME_SETUP_FAILED;
    r->stage = stages[rec->stage].name;
    r->setup_errno = rec->err;
    result_set_message(r, "%s: %s%s%s", what, errno_text(rec->err), hint ? "; " : "",
                       hint ? hint : "");
}

static void finish_exec(struct proc_guest *pg, struct guest *g, sbvm_result *r)
{
    const struct proc_record *rec = &pg->exec;
    int e = rec->err;

    r->stage = stages[rec->stage].name;
    r->setup_errno = e;
    if (rec->stage == STAGE_GUEST_CWD) {
        r->outcome = SBVM_OUTCOME_SETUP_FAILED;
        result_set_message(r, "changing to the working directory %s: %s",
                           g->cfg->cwd ? g->cfg->cwd : SBVM_DEFAULT_CWD, errno_text(e));
    } else if (rec->stage == STAGE_EXEC) {
        r->outcome =
            (e == ENOENT || e == ENOTDIR) ? SBVM_OUTCOME_NOT_FOUND : SBVM_OUTCOME_NOT_EXECUTABLE;
        result_set_message(r, "%s: executing %s in the sandbox: %s", g->cfg->argv.v[0],
                           pg->prog.exec_path, errno_text(e));
    } else {
        r->outcome = SBVM_OUTCOME_SETUP_FAILED;
        result_set_message(r, "%s: %s", stages[rec->stage].text, errno_text(e));
    }
}

static void finish_exit(struct proc_guest *pg, struct guest *g, sbvm_result *r)
{
    const struct proc_record *rec = &pg->exit;
    int sig = rec->status;

    if (rec->code == CLD_EXITED) {
        r->outcome = SBVM_OUTCOME_EXITED;
        r->exit_code = rec->status;
        result_set_message(r, "exited with code %d", rec->status);
        return;
    }
    r->signal = sig;
    if (g->host_signal && sig == g->host_signal) {
        r->outcome = SBVM_OUTCOME_KILLED;
        result_set_message(r, "killed by the host: %s (%s)", signal_name(sig), signal_text(sig));
    } else if (sig == SIGSYS) {
        r->outcome = SBVM_OUTCOME_DENIED;
        result_set_message(r, "stopped by the syscall filter: %s (%s)", signal_name(sig),
                           signal_text(sig));
    } else {
        r->outcome = SBVM_OUTCOME_CRASHED;
        result_set_message(r, "crashed: %s (%s)", signal_name(sig), signal_text(sig));
    }
}

static void proc_finish(struct guest *g, sbvm_result *r)
{
    struct proc_guest *pg = g->bdata;
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    if (pg->pidfd >= 0) {
        /* The sandbox's init has exited; collect it. ECHILD when the host
         * application set SIGCHLD to SIG_IGN: the report still holds. */
        while (waitid(P_PIDFD, (id_t)pg->pidfd, &si, WEXITED) < 0 && errno == EINTR)
            ;
    }
    /* Drain reports that arrived after the last event. */
    if (pg->status_fd >= 0)
        proc_on_events(g);

    if (pg->have_setup) {
        finish_setup(pg, r);
    } else if (pg->host_stage) {
        const char *hint = hint_worthy(pg->host_errno) ? userns_restriction_hint() : NULL;
        r->outcome = SBVM_OUTCOME_SETUP_FAILED;
        r->stage = pg->host_stage;
        r->setup_errno = pg->host_errno;
        result_set_message(r, "%s: %s%s%s", pg->host_what, errno_text(pg->host_errno),
                           hint ? "; " : "", hint ? hint : "");
    } else if (pg->have_exec) {
        finish_exec(pg, g, r);
    } else if (pg->have_exit) {
        finish_exit(pg, g, r);
    } else if (g->host_signal) {
        r->outcome = SBVM_OUTCOME_KILLED;
        r->signal = g->host_signal == SIGKILL ? SIGKILL : g->host_signal;
        result_set_message(r, "killed by the host: %s (%s)", signal_name(r->signal),
                           signal_text(r->signal));
    } else {
        r->outcome = SBVM_OUTCOME_SETUP_FAILED;
        r->stage = "init";
        result_set_message(r, "the sandbox ended without reporting on its guest (init: %s %d)%s",
                           si.si_code == CLD_EXITED ? "exit code" : "signal", si.si_status,
                           pg->bad_record ? "; it sent a malformed report" : "");
    }
}

const struct backend_ops process_backend = {
    .name = "process",
    .run_init = proc_run_init,
    .run_release = proc_run_release,
    .prepare = proc_prepare,
    .spawn = proc_spawn,
    .on_events = proc_on_events,
    .signal = proc_signal,
    .finish = proc_finish,
    .release = proc_release,
};
