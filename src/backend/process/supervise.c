/* SPDX-License-Identifier: MIT */
/*
 * supervise.c: a running sandbox, from the supervisor's side: what its
 * processes report on the status socket (decoded by records.c, turned into
 * events here), its init's end, a live sandbox's exec server, limits
 * watched by polling, and how it is stopped and finished.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/process/process.h"
#include "backend/process/procscan.h"
#include "backend/process/userns.h"
#include "core/config.h"
#include "core/job.h"
#include "policy/env.h"
#include "sandboxvm/channel.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* How often the limits the supervisor watches itself are checked. */
#define POLL_NS (50LL * 1000000)
/* How long a sandbox asked to hold may take to say it holds before it is
 * killed outright. */
#define FREEZE_GRACE_NS (2000LL * 1000000)

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
    [STAGE_FSOP_REOPEN] = { "view", "reopening a host file in the sandbox" },
    [STAGE_HOSTNAME] = { "hostname", "setting the sandbox's host name" },
    [STAGE_NETNS] = { "netns", "creating the sandbox's network namespace" },
    [STAGE_LOOPBACK] = { "loopback", "bringing up the loopback interface" },
    [STAGE_PIVOT] = { "pivot-root", "entering the new root (pivot_root)" },
    [STAGE_ROOT_RDONLY] = { "root-readonly", "making the root read-only" },
    [STAGE_IDS] = { "ids", "switching to the guest's uid and gid" },
    [STAGE_CAPS] = { "capabilities", "dropping capabilities" },
    [STAGE_NNP] = { "no-new-privs", "setting no_new_privs" },
    [STAGE_SECCOMP] = { "seccomp", "installing the syscall filter" },
    [STAGE_FORK] = { "fork", "creating the guest process" },
    [STAGE_TRACE] = { "trace", "attaching the init to the guest" },
    [STAGE_GUEST_SESSION] = { "session", "starting a new session for the guest" },
    [STAGE_GUEST_RLIMIT] = { "rlimit", "setting the guest's resource limits" },
    [STAGE_GUEST_STDIO] = { "stdio", "connecting the guest's standard streams" },
    [STAGE_GUEST_CWD] = { "cwd", "changing to the working directory" },
    [STAGE_EXEC] = { "exec", "executing the program" },
    [STAGE_IPC] = { "ipc", "bounding the sandbox's SysV shared memory and message queues" },
    [STAGE_OVERLAY] = { "overlay", "mounting the writable layer (overlayfs in the sandbox's user "
                                   "namespace) over the rootfs" },
    [STAGE_SYSCTL] = { "sysctl", "writing the container's sysctls" },
};

static bool hint_worthy(int e)
{
    return e == EPERM || e == EACCES || e == ENOSPC || e == EUSERS || e == EINVAL;
}

static const struct fsop *op_at(const struct proc_sandbox *ps, size_t i)
{
    size_t nbase = ps->rootfs ? 0 : ps->st->base.nops;

    if (i < nbase)
        return &ps->st->base.ops[i];
    i -= nbase;
    return i < ps->extra.nops ? &ps->extra.ops[i] : NULL;
}

/* A failure building the sandbox, in words. */
static void describe_setup(const struct proc_sandbox *ps, const struct proc_setup *rec,
                           struct setup_fact *f)
{
    const char *hint = hint_worthy(rec->err) ? userns_restriction_hint() : NULL;
    const struct fsop *op = rec->stage == STAGE_FSOP ? op_at(ps, (size_t)rec->index) : NULL;
    char what[512];

    if (op)
        fsplan_describe(op, what, sizeof(what));
    else if (rec->stage == STAGE_FSOP_REOPEN && (size_t)rec->index < proc_slot_count(ps))
        snprintf(what, sizeof(what), "reopening %s in the sandbox%s",
                 proc_slot_src(ps, (size_t)rec->index),
                 rec->err == ESTALE ? " (it was replaced after it was checked)" : "");
    else
        snprintf(what, sizeof(what), "%s", stages[rec->stage].text);
    /* A mount point that does not exist under a read-only directory (a
     * system directory, or anywhere in a --rootfs tree) cannot be made. */
    if (rec->stage == STAGE_FSOP && rec->err == EROFS)
        hint = "its mount point does not exist and the directory above it is read-only: "
               "choose a destination that exists in the view, or one under /tmp";
    setup_fact_set(f, SBVM_OUTCOME_SETUP_FAILED, stages[rec->stage].name, rec->err, "%s: %s%s%s",
                   what, errno_text(rec->err), hint ? "; " : "", hint ? hint : "");
}

/* A failure of a job's own set-up or exec, in words. */
static void describe_exec(const struct job *j, const char *exec_path, uint16_t stage, int e,
                          struct setup_fact *f)
{
    const char *name = stages[stage < STAGE__COUNT ? stage : STAGE_NONE].name;

    if (stage == STAGE_GUEST_CWD)
        setup_fact_set(f, SBVM_OUTCOME_SETUP_FAILED, name, e,
                       "changing to the working directory %s: %s",
                       j->cwd ? j->cwd : SBVM_DEFAULT_CWD, errno_text(e));
    else if (stage == STAGE_EXEC)
        setup_fact_set(
            f, e == ENOENT || e == ENOTDIR ? SBVM_OUTCOME_NOT_FOUND : SBVM_OUTCOME_NOT_EXECUTABLE,
            name, e, "%s: executing %s in the sandbox: %s", j->argv.v[0],
            exec_path ? exec_path : j->argv.v[0], errno_text(e));
    else if (stage == STAGE_GUEST_RLIMIT)
        setup_fact_set(f, SBVM_OUTCOME_SETUP_FAILED, name, e,
                       "setting the guest's resource limits: %s%s", errno_text(e),
                       e == EPERM ? " (a limit above this host's hard limit)" : "");
    else
        setup_fact_set(f, SBVM_OUTCOME_SETUP_FAILED, name, e, "%s: %s",
                       stages[stage < STAGE__COUNT ? stage : STAGE_NONE].text, errno_text(e));
}

/* ---- jobs by their first process's pid ------------------------------------ */

static struct proc_job *job_by_pid(struct proc_sandbox *ps, int32_t pid)
{
    for (size_t i = 0; i < ps->njobs; i++)
        if (ps->jobs[i].pid == pid)
            return &ps->jobs[i];
    return NULL;
}

static struct proc_job *job_by_id(struct proc_sandbox *ps, uint32_t id)
{
    for (size_t i = 0; i < ps->njobs; i++)
        if (ps->jobs[i].id == id)
            return &ps->jobs[i];
    return NULL;
}

/* The job a record names (inline: the one), NULL when none or not known
 * yet (*wait set: its exec server's answer is still on its way). */
static struct job *record_job(struct proc_sandbox *ps, int32_t pid, bool *wait)
{
    struct proc_job *pj;

    *wait = false;
    if (!ps->sb->live)
        return ps->sb->njobs ? ps->sb->jobs[0] : NULL;
    if (pid <= 0)
        return NULL;
    pj = job_by_pid(ps, pid);
    if (pj)
        return pj->job;
    /* A pid no answer named yet: jobs started and not answered for. */
    for (size_t i = 0; i < ps->njobs; i++)
        if (ps->jobs[i].pid == 0)
            *wait = true;
    return NULL;
}

static void emit(struct sandbox *sb, enum bev_kind kind, struct job *j)
{
    struct bev ev = { .kind = kind, .job = j };
    sandbox_event(sb, &ev);
}

/* Whether every chunk a crash announced has come. */
static bool crash_complete(const struct sbvm_crash *c)
{
    return c->maps_got == c->raw.maps_len && c->stack_got == c->raw.stack_len;
}

/* Hands crash i of those being built to core. A live sandbox's init is
 * told that one more full capture was taken (it keeps at most 8 in flight;
 * a bare record past its cap announces no maps and takes no credit). */
static void flush_one(struct sandbox *sb, size_t i)
{
    struct proc_sandbox *ps = proc_of(sb);
    struct sbvm_crash *c = ps->building[i];
    struct bev ev = { .kind = BEV_CRASH };
    bool wait;

    memmove(&ps->building[i], &ps->building[i + 1],
            (ps->nbuilding - i - 1) * sizeof(ps->building[0]));
    ps->nbuilding--;
    if (sb->live && c->raw.maps_len)
        proc_command(ps, CMD_CAPTURE_CREDIT, 0, 1);
    ev.job = record_job(ps, c->raw.job, &wait);
    ev.u.crash = c;
    sandbox_event(sb, &ev);
}

/* Crashes whose chunks have all come, or all of one job's (or all:
 * NULL), handed to core. */
static void flush_crashes(struct sandbox *sb, bool all, int32_t job)
{
    struct proc_sandbox *ps = proc_of(sb);

    for (size_t i = 0; i < ps->nbuilding;)
        if (all || ps->building[i]->raw.job == job)
            flush_one(sb, i);
        else
            i++;
}

/* Live: a crash is handed over as soon as it is whole, when its job is
 * known: a process that is not its job's first (a fork of a library's
 * zygote) ends no job, so its crash would otherwise wait for its job's. */
static void flush_if_complete(struct sandbox *sb, size_t i)
{
    struct proc_sandbox *ps = proc_of(sb);
    bool wait = false;

    if (!sb->live || i >= ps->nbuilding || !crash_complete(ps->building[i]))
        return;
    record_job(ps, ps->building[i]->raw.job, &wait);
    if (!wait)
        flush_one(sb, i);
}

static bool take_fault(struct sandbox *sb, const struct proc_fault *f)
{
    struct proc_sandbox *ps = proc_of(sb);
    const uint64_t *lim = sb->cfg->limits;
    struct bev ev = { .kind = BEV_LIMIT };
    struct sbvm_crash *c;
    bool wait;

    ev.job = record_job(ps, f->job, &wait);
    /* A process of the guest is dying of an rlimit the sandbox set: that
     * limit is reached. It is not a crash, and its registers would only
     * distract from the limit. */
    if ((f->signo == SIGXFSZ && lim[SBVM_LIMIT_DISK]) ||
        (f->signo == SIGXCPU && lim[SBVM_LIMIT_CPU])) {
        bool disk = f->signo == SIGXFSZ;
        ev.u.limit.which = disk ? SBVM_LIMIT_DISK : SBVM_LIMIT_CPU;
        ev.u.limit.observed = lim[ev.u.limit.which];
        snprintf(ev.u.limit.note, sizeof(ev.u.limit.note),
                 disk ? "a file of pid %d grew past the size of the scratch (SIGXFSZ)"
                      : "pid %d used up its CPU time (SIGXCPU)",
                 (int)f->pid);
        sandbox_event(sb, &ev);
        return true;
    }
    for (size_t i = 0; i < ps->nbuilding; i++)
        if (ps->building[i]->raw.seq == f->seq)
            return false;
    if (ps->nbuilding == PROC_PENDING_MAX)
        flush_crashes(sb, true, 0);
    c = crash_new(f);
    if (!c)
        return true; /* out of memory: the crash goes unexplained */
    c->is_guest = f->pid == f->job;
    ps->building[ps->nbuilding++] = c;
    flush_if_complete(sb, ps->nbuilding - 1);
    return true;
}

static bool take_chunk(struct sandbox *sb, const struct prec *r)
{
    struct proc_sandbox *ps = proc_of(sb);

    for (size_t i = 0; i < ps->nbuilding; i++)
        if (ps->building[i]->raw.seq == r->u.chunk.h.seq) {
            if (!crash_add_chunk(ps->building[i], &r->u.chunk.h, r->u.chunk.data))
                return false;
            flush_if_complete(sb, i);
            return true;
        }
    return true; /* a crash dropped for lack of room */
}

static void take_limit(struct sandbox *sb, const struct proc_limit *l)
{
    static const enum sbvm_limit which[] = {
        [PROC_LIMIT_FILES] = SBVM_LIMIT_FILES,
        [PROC_LIMIT_PIDS] = SBVM_LIMIT_PIDS,
        [PROC_LIMIT_MEMORY] = SBVM_LIMIT_MEMORY,
    };
    struct bev ev = { .kind = BEV_LIMIT };
    const char *name = seccomp_syscall_name((int)l->nr);
    bool wait;

    ev.u.limit.which = which[l->which];
    if (!sb->cfg->limits[ev.u.limit.which])
        return; /* not ours to report: the guest's own business */
    ev.job = record_job(proc_of(sb), l->job, &wait);
    ev.u.limit.observed = l->observed;
    if (l->err)
        snprintf(ev.u.limit.note, sizeof(ev.u.limit.note), "%s in pid %d failed with %s",
                 name ? name : "a syscall", (int)l->pid, errno_name(l->err));
    else
        snprintf(ev.u.limit.note, sizeof(ev.u.limit.note), "%s in pid %d was refused",
                 name ? name : "a syscall", (int)l->pid);
    sandbox_event(sb, &ev);
}

static void exit_fact(const struct proc_exit *e, struct exit_fact *x)
{
    memset(x, 0, sizeof(*x));
    x->signaled = e->code != CLD_EXITED;
    x->core = e->code == CLD_DUMPED;
    x->status = e->status;
    x->utime_us = e->guest.utime_us;
    x->stime_us = e->guest.stime_us;
    x->maxrss_kb = e->guest.maxrss_kb;
}

/* The view is in place: the sandbox's root and /tmp (O_PATH, or -1). */
static void view_ready(struct sandbox *sb, int rootfd, int tmpfd)
{
    struct proc_sandbox *ps = proc_of(sb);

    /* The sandbox's root and /tmp, opened by its pid 1 after pivot_root:
     * never the host's. Only the first pair is taken. */
    if (ps->rootfd >= 0 || rootfd < 0 || tmpfd < 0) {
        close_fd(&rootfd);
        close_fd(&tmpfd);
        return;
    }
    ps->rootfd = rootfd;
    ps->tmpfd = tmpfd;
    ps->ready = true;
    proc_hold_scratches(ps);
    if (proc_has_copies(sb->cfg, false)) {
        char c = SYNC_COPIED, what[512];
        int r = proc_copy_in(sb, what, sizeof(what));
        /* What was copied in is ours, not what the guest left; the guest
         * waits for us, so nothing of its own is there yet. (Even a
         * partial copy, when the guest never runs.) */
        proc_mark_scratches(ps);
        if (r < 0) {
            struct bev ev = { .kind = BEV_SETUP_FAILED };
            setup_fact_set(&ev.u.setup, SBVM_OUTCOME_SETUP_FAILED, "copy-in", -r, "%s: %s", what,
                           errno_text(-r));
            sandbox_event(sb, &ev);
            setup_fact_release(&ev.u.setup);
            close_fd(&ps->control_fd); /* the child reads EOF and gives up */
            return;
        }
        if (write_nosigpipe(ps->control_fd, &c, 1) != 1)
            close_fd(&ps->control_fd);
    }
    if (sb->live)
        emit(sb, BEV_READY, NULL);
}

static void net_listener(struct sandbox *sb, int fd)
{
    struct proc_sandbox *ps = proc_of(sb);
    sbvm_error *e = NULL;

    if (fd < 0)
        return;
    if (!ps->has_net || ps->broker) {
        close(fd); /* not asked for, or a second one */
        return;
    }
    if (broker_start(&ps->net, fd, &ps->broker, &e) < 0) {
        struct bev ev = { .kind = BEV_SETUP_FAILED };
        setup_fact_set(&ev.u.setup, SBVM_OUTCOME_SETUP_FAILED, "broker", sbvm_error_code(e), "%s",
                       sbvm_error_message(e));
        sbvm_error_free(e);
        sandbox_event(sb, &ev);
        setup_fact_release(&ev.u.setup);
        proc_stop(sb);
    }
}

static void release_init(struct proc_sandbox *ps)
{
    /* The init may be gone already (it ends by itself when nothing was
     * left to inventory): a closed socket is fine, a SIGPIPE is not. */
    proc_command(ps, CMD_RELEASE, 0, 0);
    close_fd(&ps->control_fd);
}

/* The init froze the sandbox and waits: inventory it, copy out, let go. */
static void holding(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);

    ps->holding = true;
    loop_timer_cancel(&ps->freeze_timer);
    if (ps->rootfd >= 0)
        procscan_usage(ps->rootfd, &ps->held_cpu_ms, &ps->held_peak);
    proc_take_ledger(sb, true);
    /* Everything is stopped and every mount still there: copy out now. */
    if (proc_has_copies(sb->cfg, true))
        proc_copy_out(sb, false);
    release_init(ps);
}

/* Acts on one record; false when it was malformed. */
static bool apply(struct sandbox *sb, const struct prec *r, int fds[2])
{
    struct proc_sandbox *ps = proc_of(sb);
    struct bev ev = { 0 };
    bool wait;

    switch (r->kind) {
    case REC_SETUP_FAILED:
        ev.kind = BEV_SETUP_FAILED;
        describe_setup(ps, &r->u.setup, &ev.u.setup);
        sandbox_event(sb, &ev);
        setup_fact_release(&ev.u.setup);
        return true;
    case REC_EXEC_FAILED:
        if (sb->live || !sb->njobs)
            return true;
        ev.kind = BEV_JOB_FAILED;
        ev.job = sb->jobs[0];
        describe_exec(ev.job, ps->prog.exec_path, r->u.setup.stage, r->u.setup.err, &ev.u.setup);
        sandbox_event(sb, &ev);
        setup_fact_release(&ev.u.setup);
        return true;
    case REC_TRACE_OFF:
        ps->trace_off = r->u.setup.err > 0 && r->u.setup.err < 4096 ? r->u.setup.err : EPERM;
        return true;
    case REC_READY:
        view_ready(sb, fds[0], fds[1]);
        fds[0] = fds[1] = -1;
        return true;
    case REC_NET_LISTENER:
        net_listener(sb, fds[0]);
        fds[0] = -1;
        return true;
    case REC_JOB_EXIT:
        ev.job = record_job(ps, r->u.exit.pid, &wait);
        if (!ev.job)
            return true; /* a process no job is known for: nothing to end */
        flush_crashes(sb, false, r->u.exit.job);
        ev.kind = BEV_JOB_EXITED;
        exit_fact(&r->u.exit, &ev.u.exit);
        sandbox_event(sb, &ev);
        return true;
    case REC_SPAWNER_GONE:
        emit(sb, BEV_SPAWNER_GONE, NULL);
        return true;
    case REC_FAULT:
        return take_fault(sb, &r->u.fault);
    case REC_FAULT_DATA:
        return take_chunk(sb, r);
    case REC_SYSCALLS:
        ev.kind = BEV_REFUSALS;
        ev.job = record_job(ps, r->u.syscalls.job, &wait);
        for (uint32_t i = 0; i < r->u.syscalls.n; i++) {
            const struct proc_syscall_count *e = &r->u.syscalls.e[i];
            ev.u.refusal.nr = e->nr < FACTS_SYSCALLS ? e->nr : FACTS_SYSCALLS;
            ev.u.refusal.count = e->count;
            ev.u.refusal.err = e->err;
            sandbox_event(sb, &ev);
        }
        return true;
    case REC_DENIED:
        ev.kind = BEV_DENIED;
        ev.job = record_job(ps, r->u.denied.job, &wait);
        ev.u.denial.arch = r->u.denied.arch;
        ev.u.denial.nr = r->u.denied.nr;
        ev.u.denial.pid = r->u.denied.pid;
        memcpy(ev.u.denial.args, r->u.denied.args, sizeof(ev.u.denial.args));
        ev.u.denial.ip = r->u.denied.ip;
        sandbox_event(sb, &ev);
        return true;
    case REC_HOLDING:
        if (ps->holding)
            return false;
        holding(sb);
        return true;
    case REC_LIMIT:
        take_limit(sb, &r->u.limit);
        return true;
    default:
        return false;
    }
}

/* Records about a job whose exec server has not answered yet wait here
 * (bounded): its answer arrives on another socket. */
static bool must_wait(struct proc_sandbox *ps, const struct prec *r)
{
    int32_t job;
    bool wait = false;

    if (!ps->sb->live)
        return false;
    switch (r->kind) {
    case REC_JOB_EXIT:
        job = r->u.exit.pid;
        break;
    case REC_SYSCALLS:
        job = r->u.syscalls.job;
        break;
    case REC_DENIED:
        job = r->u.denied.job;
        break;
    case REC_LIMIT:
        job = r->u.limit.job;
        break;
    default:
        return false;
    }
    (void)record_job(ps, job, &wait);
    return wait && ps->npending < PROC_PENDING_MAX;
}

static void replay_pending(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);
    size_t n = ps->npending, keep = 0;
    int none[2] = { -1, -1 };

    for (size_t i = 0; i < n; i++) {
        if (must_wait(ps, &ps->pending[i])) {
            ps->pending[keep++] = ps->pending[i];
            continue;
        }
        if (!ps->bad_record && !apply(sb, &ps->pending[i], none))
            ps->bad_record = true;
    }
    ps->npending = keep;
}

/* Descriptors that came with a message: the first two kept (REC_READY,
 * REC_NET_LISTENER), the rest closed. */
static void take_fds(struct msghdr *msg, int fds[2])
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t n;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (i < 2 && fds[i] < 0)
                fds[i] = fd;
            else
                close(fd);
        }
    }
}

static void maybe_ended(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);

    if (ps->exited && ps->status_eof) {
        loop_fd_del(&ps->exit_src);
        loop_fd_del(&ps->spawn_src);
        loop_timer_cancel(&ps->poll);
        loop_timer_cancel(&ps->freeze_timer);
        emit(sb, BEV_ENDED, NULL);
    }
}

/* Reads every record there is; at EOF, the sandbox has reported all. */
static void read_records(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);

    for (;;) {
        union {
            char buf[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        unsigned char msg[PROC_REC_MAX];
        struct iovec iov = { msg, sizeof(msg) };
        struct msghdr m;
        struct prec r;
        int fds[2] = { -1, -1 };
        ssize_t n;

        if (ps->status_fd < 0)
            return;
        memset(&m, 0, sizeof(m));
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof(ctl.buf);
        n = recvmsg(ps->status_fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        take_fds(&m, fds);
        if (n <= 0) {
            close_fd(&fds[0]);
            close_fd(&fds[1]);
            loop_fd_del(&ps->status_src);
            close_fd(&ps->status_fd);
            ps->status_eof = true;
            flush_crashes(sb, true, 0);
            return;
        }
        /* The first bad record discards everything after it. */
        if (!ps->bad_record) {
            if (records_decode(msg, (size_t)n, m.msg_flags & (MSG_TRUNC | MSG_CTRUNC), &r) < 0)
                ps->bad_record = true;
            else if (must_wait(ps, &r) &&
                     ARRAY_GROW(ps->pending, ps->npending + 1, &ps->pending_alloc) == 0)
                ps->pending[ps->npending++] = r; /* chunks are never pending */
            else if (!apply(sb, &r, fds))
                ps->bad_record = true;
        }
        /* Descriptors belong to the message they came with. */
        close_fd(&fds[0]);
        close_fd(&fds[1]);
    }
}

static void on_status(struct loop_fd *src, uint32_t events, void *ctx)
{
    struct sandbox *sb = ctx;

    (void)src;
    (void)events;
    read_records(sb);
    maybe_ended(sb);
}

static void on_init_exit(struct loop_fd *src, uint32_t events, void *ctx)
{
    struct sandbox *sb = ctx;
    struct proc_sandbox *ps = proc_of(sb);

    (void)events;
    loop_fd_del(src);
    ps->exited = true;
    maybe_ended(sb);
}

static void on_poll(struct loop_timer *t, void *ctx)
{
    struct sandbox *sb = ctx;
    struct proc_sandbox *ps = proc_of(sb);

    proc_poll_limits(sb);
    if (!ps->exited)
        loop_timer_arm(sb->loop, t, POLL_NS, on_poll, sb);
}

static void on_freeze_timeout(struct loop_timer *t, void *ctx)
{
    struct sandbox *sb = ctx;

    (void)t;
    /* A sandbox that does not freeze in time is ended outright. */
    if (!proc_of(sb)->holding)
        proc_signal_init(proc_of(sb), SIGKILL);
}

/* ---- a live sandbox's exec server ------------------------------------------ */

static int send_next(struct sandbox *sb);

static void on_spawn(struct loop_fd *src, uint32_t events, void *ctx)
{
    struct sandbox *sb = ctx;
    struct proc_sandbox *ps = proc_of(sb);

    (void)events;
    for (;;) {
        union {
            char buf[CMSG_SPACE(2 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct spawn_reply rep;
        struct iovec iov = { &rep, sizeof(rep) };
        struct msghdr m;
        int fds[2] = { -1, -1 };
        struct proc_job *pj;
        ssize_t n;

        memset(&m, 0, sizeof(m));
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof(ctl.buf);
        n = recvmsg(ps->spawn_fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        take_fds(&m, fds);
        if (n <= 0) {
            close_fd(&fds[0]);
            close_fd(&fds[1]);
            loop_fd_del(src);
            emit(sb, BEV_SPAWNER_GONE, NULL);
            break;
        }
        ps->spawn_busy = false;
        pj = n == (ssize_t)sizeof(rep) && rep.magic == SPAWN_MAGIC ? job_by_id(ps, rep.job) : NULL;
        if (pj && pj->job && pj->pid == 0) {
            struct bev ev = { .job = pj->job };
            pj->pid = rep.pid > 0 ? rep.pid : -1;
            if (rep.err || rep.stage) {
                const struct proc_program *prog = proc_program_for(ps, pj->job->argv.v[0]);
                ev.kind = BEV_JOB_FAILED;
                describe_exec(pj->job, prog ? prog->exec_path : NULL,
                              rep.stage ? rep.stage : STAGE_EXEC,
                              rep.err > 0 && rep.err < 4096 ? rep.err : EIO, &ev.u.setup);
                sandbox_event(sb, &ev);
                setup_fact_release(&ev.u.setup);
            } else {
                if (pj->job->terminal) {
                    if (fds[0] < 0 || job_set_terminal(pj->job, fds[0]) < 0) {
                        close_fd(&fds[0]);
                        proc_command(ps, CMD_KILL_JOB, pj->pid, 0);
                    }
                    fds[0] = -1;
                }
                ev.kind = BEV_JOB_STARTED;
                ev.u.pid = rep.pid;
                sandbox_event(sb, &ev);
            }
        }
        close_fd(&fds[0]);
        close_fd(&fds[1]);
        replay_pending(sb);
    }
    send_next(sb);
}

/* Sends the next job's request, one at a time: the answer names the pid
 * the records then use. */
static int send_next(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);
    struct job *j = NULL;
    struct spawn_req q;
    struct strbuf body = STRBUF_INIT;
    struct iovec iov[3];
    struct proc_job *pj = NULL;
    const struct proc_program *prog;
    const struct config_container *ct = sb->cfg->container;
    int fds[6];
    size_t nfds = 0, filter_bytes = 0;
    struct rlimit hard;
    ssize_t n;

    if (ps->spawn_busy || ps->spawn_fd < 0)
        return 0;
    for (size_t i = 0; i < ps->njobs && !j; i++)
        if (ps->jobs[i].pid == 0 && ps->jobs[i].job && ps->jobs[i].job->state == JOB_STARTING) {
            pj = &ps->jobs[i];
            j = pj->job;
        }
    if (!j)
        return 0;
    prog = proc_program_for(ps, j->argv.v[0]);
    if (prog && !prog->exec_path) {
        /* Named when the sandbox was made, and not found then. */
        struct bev ev = { .kind = BEV_JOB_FAILED, .job = j };
        pj->pid = -1;
        setup_fact_set(&ev.u.setup, prog->fail.outcome, "resolve", prog->fail.err, "%s",
                       prog->fail.message ? prog->fail.message : "not found");
        sandbox_event(sb, &ev);
        setup_fact_release(&ev.u.setup);
        return send_next(sb);
    }
    memset(&q, 0, sizeof(q));
    q.magic = SPAWN_MAGIC;
    q.job = pj->id;
    q.flags = (j->terminal ? SPAWN_PTY : 0) | (j->channel || j->fd3 >= 0 ? SPAWN_CHANNEL : 0);
    q.argc = (uint32_t)j->argv.n;
    q.envc = (uint32_t)j->env.n;
    q.rows = j->rows;
    q.cols = j->cols;
    q.umask = ct ? ct->umask : 022;
    if ((sb->cfg->limits_set & (1u << SBVM_LIMIT_FILES)) || j->limits[SBVM_LIMIT_FILES])
        q.rl_nofile = j->limits[SBVM_LIMIT_FILES];
    if (ct) {
        /* A container's rlimits and seccomp filter, for every job. */
        for (size_t i = 0; i < ct->nrlimits && i < SPAWN_RLIMITS_MAX; i++) {
            q.rl[i].resource = (uint32_t)ct->rlimits[i].resource;
            q.rl[i].cur = ct->rlimits[i].cur;
            q.rl[i].max = ct->rlimits[i].max;
            q.nrlimits = (uint32_t)i + 1;
        }
        if (ct->filter && ct->filter_len <= SPAWN_FILTER_MAX) {
            q.filter_len = (uint32_t)ct->filter_len;
            filter_bytes = ct->filter_len * sizeof(struct sock_filter);
        }
    }
    if (j->hold)
        q.flags |= SPAWN_HOLD;
    /* As for an inline guest: the default, not above our hard limit. */
    if (!(sb->cfg->limits_set & (1u << SBVM_LIMIT_FILES)) && getrlimit(RLIMIT_NOFILE, &hard) == 0 &&
        hard.rlim_max != RLIM_INFINITY && q.rl_nofile > hard.rlim_max)
        q.rl_nofile = hard.rlim_max;
    strbuf_add(&body, j->cwd ? j->cwd : SBVM_DEFAULT_CWD,
               strlen(j->cwd ? j->cwd : SBVM_DEFAULT_CWD) + 1);
    if (prog && j->exec_fd < 0) {
        /* The file its name resolved to on the host, bound at that path. */
        q.flags |= SPAWN_EXEC_PATH;
        strbuf_add(&body, prog->exec_path, strlen(prog->exec_path) + 1);
    }
    for (size_t i = 0; i < j->argv.n; i++) {
        /* A program named by a relative path runs as its absolute name. */
        const char *arg = i == 0 && prog && prog->exec_argv0 ? prog->exec_argv0 : j->argv.v[i];
        strbuf_add(&body, arg, strlen(arg) + 1);
    }
    for (size_t i = 0; i < j->env.n; i++)
        strbuf_add(&body, j->env.v[i], strlen(j->env.v[i]) + 1);
    if (strbuf_failed(&body) || body.len + sizeof(q) + filter_bytes > SPAWN_MSG_MAX) {
        struct bev ev = { .kind = BEV_JOB_FAILED, .job = j };
        pj->pid = -1;
        setup_fact_set(&ev.u.setup, SBVM_OUTCOME_SETUP_FAILED, "exec", E2BIG,
                       "%s: its arguments and environment are larger than an exec into a live "
                       "sandbox takes (%d KiB)",
                       j->argv.v[0], SPAWN_MSG_MAX / 1024);
        strbuf_release(&body);
        sandbox_event(sb, &ev);
        setup_fact_release(&ev.u.setup);
        return send_next(sb);
    }
    q.strings_len = (uint32_t)body.len;
    iov[0] = (struct iovec){ &q, sizeof(q) };
    iov[1] = (struct iovec){ filter_bytes ? ct->filter : NULL, filter_bytes };
    iov[2] = (struct iovec){ body.buf, body.len };
    if (!j->terminal) {
        fds[0] = j->child_in >= 0 ? j->child_in : -1;
        fds[1] = j->child_out;
        fds[2] = j->child_err;
        if (fds[0] < 0) {
            /* No stdin: the guest reads an empty stream. */
            int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
            fds[0] = null;
            j->child_in = null;
        }
        nfds = 3;
    }
    /* After stdio, in this order: the file to run, what releases a held
     * job, then the job's fd 3: its host channel, or another fd it gets
     * there (a library-call worker's channel, which the library serves
     * itself; a zygote's socket). */
    if (j->exec_fd >= 0) {
        q.flags |= SPAWN_EXEC_FD;
        fds[nfds++] = j->exec_fd;
    }
    if (j->hold)
        fds[nfds++] = j->child_hold;
    if (j->channel)
        fds[nfds++] = sbvm_channel_guest_fd(j->channel);
    else if (j->fd3 >= 0)
        fds[nfds++] = j->fd3;
    n = send_with_fds(ps->spawn_fd, iov, 3, fds, nfds, MSG_DONTWAIT);
    strbuf_release(&body);
    if (n < 0) {
        struct bev ev = { .kind = BEV_JOB_FAILED, .job = j };
        pj->pid = -1;
        setup_fact_set(&ev.u.setup, SBVM_OUTCOME_SETUP_FAILED, "exec", (int)-n,
                       "asking the sandbox's exec server: %s", errno_text((int)-n));
        sandbox_event(sb, &ev);
        setup_fact_release(&ev.u.setup);
        return -EIO;
    }
    ps->spawn_busy = true;
    /* Its ends are the exec server's now (a copy each came with the
     * message); so is its channel's, which we must not keep (the guest's
     * death hangs it up). */
    job_close_child_ends(j);
    if (j->channel)
        sbvm_channel_close_guest_fd(j->channel);
    return 0;
}

int proc_exec(struct sandbox *sb, struct job *j, sbvm_error **err)
{
    struct proc_sandbox *ps = proc_of(sb);
    struct proc_job *pj;

    if (ps->spawn_fd < 0 || !loop_fd_armed(&ps->spawn_src))
        return error_set(err, ESRCH, "sandbox %s has no exec server", sb->name);
    if (ARRAY_GROW(ps->jobs, ps->njobs + 1, &ps->jobs_alloc) < 0)
        return error_set(err, ENOMEM, "out of memory");
    pj = &ps->jobs[ps->njobs++];
    pj->job = j;
    pj->id = j->id;
    pj->pid = 0;
    /* Its environment: the sandbox's, and what it sets on top. */
    if (j->env.n == 0 && strv_copy(&j->env, &ps->envp) < 0)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < j->env_extra.n; i++)
        if (env_put(&j->env, j->env_extra.v[i]) < 0)
            return error_set(err, ENOMEM, "out of memory");
    send_next(sb);
    return 0;
}

int proc_watch(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);
    int r;

    r = loop_fd_add(sb->loop, &ps->status_src, ps->status_fd, EPOLLIN, on_status, sb);
    if (r == 0)
        r = loop_fd_add(sb->loop, &ps->exit_src, ps->pidfd, EPOLLIN, on_init_exit, sb);
    if (r == 0 && ps->spawn_fd >= 0)
        r = loop_fd_add(sb->loop, &ps->spawn_src, ps->spawn_fd, EPOLLIN, on_spawn, sb);
    if (r == 0)
        r = loop_timer_arm(sb->loop, &ps->poll, POLL_NS, on_poll, sb);
    return r;
}

int proc_signal(struct sandbox *sb, struct job *j, int sig)
{
    struct proc_sandbox *ps = proc_of(sb);

    if (!sb->live)
        return proc_signal_init(ps, sig); /* the init forwards it */
    for (size_t i = 0; i < ps->njobs; i++) {
        struct proc_job *pj = &ps->jobs[i];
        if ((j && pj->job != j) || pj->pid <= 0 || !pj->job || pj->job->state >= JOB_EXITED)
            continue;
        proc_command(ps, sig == SIGKILL ? CMD_KILL_JOB : CMD_SIGNAL, pj->pid, sig);
    }
    return 0;
}

int proc_pause(struct sandbox *sb, bool on)
{
    struct proc_sandbox *ps = proc_of(sb);

    if (ps->holding || ps->stop_asked || ps->exited)
        return -ESRCH;
    return proc_command(ps, on ? CMD_PAUSE : CMD_RESUME, 0, 0);
}

void proc_kill_job(struct sandbox *sb, struct job *j)
{
    struct proc_sandbox *ps = proc_of(sb);

    for (size_t i = 0; i < ps->njobs; i++)
        if (ps->jobs[i].job == j && ps->jobs[i].pid > 0)
            proc_command(ps, CMD_KILL_JOB, ps->jobs[i].pid, SIGKILL);
}

void proc_forget_job(struct sandbox *sb, struct job *j)
{
    struct proc_sandbox *ps = proc_of(sb);
    size_t keep = 0;

    /* Records that name its pid later (its exit after a failed exec, say)
     * then find no job, and are dropped: never another job that took its
     * address. */
    for (size_t i = 0; i < ps->njobs; i++)
        if (ps->jobs[i].job != j)
            ps->jobs[keep++] = ps->jobs[i];
    ps->njobs = keep;
}

void proc_stop(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);

    if (ps->stop_asked || ps->holding || ps->exited)
        return;
    ps->stop_asked = true;
    if (proc_command(ps, CMD_HOLD, 0, 0) < 0) {
        proc_signal_init(ps, SIGKILL);
        return;
    }
    loop_timer_arm(sb->loop, &ps->freeze_timer, FREEZE_GRACE_NS, on_freeze_timeout, sb);
}

static void stop_broker(struct proc_sandbox *ps)
{
    struct sbvm_net_attempt *v;
    size_t n;
    uint64_t dropped;

    if (!ps->broker)
        return;
    broker_stop(ps->broker, &v, &n, &dropped);
    ps->broker = NULL;
    net_attempts_free(ps->attempts, ps->nattempts);
    ps->attempts = v;
    ps->nattempts = n;
    ps->attempts_dropped = dropped;
}

void proc_finish(struct sandbox *sb, struct sandbox_report *rep)
{
    struct proc_sandbox *ps = proc_of(sb);
    const struct cgroup_host *h = &ps->st->cgroups;
    bool job_exited = sb->njobs && sb->jobs[0]->facts.have_exit;
    siginfo_t si;
    uint64_t u, s;

    memset(&si, 0, sizeof(si));
    if (ps->pidfd >= 0) {
        /* The sandbox's init has exited; collect it. ECHILD when the host
         * application set SIGCHLD to SIG_IGN: the reports still hold. */
        while (waitid(P_PIDFD, (id_t)ps->pidfd, &si, WEXITED) < 0 && errno == EINTR)
            ;
    }
    release_init(ps);
    proc_take_ledger(sb, false);
    /* The sandbox ended without holding (its init died): what can still be
     * copied out is under /tmp. */
    if (proc_has_copies(sb->cfg, true))
        proc_copy_out(sb, true);
    /* The sandbox is gone, and the guest's ends of its connections with it:
     * the broker's threads finish, and hand over their record. */
    stop_broker(ps);
    proc_final_limits(sb);

    memcpy(rep->mechanisms, sb->mechanisms, sizeof(rep->mechanisms));
    rep->init_code = si.si_code;
    rep->init_status = si.si_status;
    rep->init_killed = si.si_code == CLD_KILLED && si.si_status == SIGKILL && !ps->sent_kill;
    rep->host_oom = rep->init_killed && host_oom_kills() > ps->st->oom_kills_at_start;
    rep->bad_record = ps->bad_record;
    rep->oom_kills = cgroup_oom_kills(h, &ps->cg);
    rep->trace_off = ps->trace_off;
    if (ps->cg.dir[CG_MEMORY] && (rep->peak_memory = cgroup_memory_peak(h, &ps->cg)))
        rep->peak_source = cgroup_mode_name(h->mode);
    else if (!job_exited && ps->held_peak) {
        rep->peak_memory = ps->held_peak;
        rep->peak_source = "proc (largest process still running)";
    }
    if (ps->cg.dir[CG_CPU] && cgroup_cpu_usage(h, &ps->cg, &u, &s)) {
        rep->cpu_user_us = u;
        rep->cpu_system_us = s;
        rep->cpu_known = true;
    } else if (!job_exited && ps->held_cpu_ms) {
        /* /proc gives the sum only: counted as user time. */
        rep->cpu_user_us = ps->held_cpu_ms * 1000;
        rep->cpu_known = true;
    }
    rep->ledger = ps->ledger;
    ps->ledger = NULL;
    rep->copies = ps->copies;
    rep->ncopies = ps->ncopies;
    ps->copies = NULL;
    ps->ncopies = ps->copies_alloc = 0;
    rep->net_mode = sb->cfg->net;
    rep->net_attempts = ps->attempts;
    rep->nnet_attempts = ps->nattempts;
    rep->net_attempts_dropped = ps->attempts_dropped;
    ps->attempts = NULL;
    ps->nattempts = 0;
    rep->kept = ps->kept;
    rep->keep_error = ps->keep_error;
    ps->kept = ps->keep_error = NULL;
    if (ps->drv) {
        /* What the guest left in the channel before it went (the job
         * serves it while it runs). */
        drvhost_service(ps->drv);
        drvhost_report(ps->drv, &rep->devices, &rep->driver_ledger);
    }
    cgroup_destroy(&ps->cg);
}
