/* SPDX-License-Identifier: MIT */
/*
 * outcome.c: turning what a sandbox reported into the guest's result: the
 * one outcome (DESIGN §5), its message, the crashes explained, the refused
 * syscalls counted, the limit that ended it, its ledger and its usage.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "backend/process/process.h"
#include "backend/process/userns.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

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
};

static const struct fsop *op_at(const struct proc_guest *pg, size_t i)
{
    if (pg->rootfs)
        return &pg->extra.ops[i]; /* no base view */
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
    const struct proc_setup *rec = &pg->setup;
    const char *hint = hint_worthy(rec->err) ? userns_restriction_hint() : NULL;
    char what[512];

    if (rec->stage == STAGE_FSOP)
        fsplan_describe(op_at(pg, (size_t)rec->index), what, sizeof(what));
    else if (rec->stage == STAGE_FSOP_REOPEN)
        snprintf(what, sizeof(what), "reopening %s in the sandbox%s",
                 proc_slot_src(pg, (size_t)rec->index),
                 rec->err == ESTALE ? " (it was replaced after it was checked)" : "");
    else
        snprintf(what, sizeof(what), "%s", stages[rec->stage].text);
    r->outcome = SBVM_OUTCOME_SETUP_FAILED;
    r->stage = stages[rec->stage].name;
    r->setup_errno = rec->err;
    /* A mount point that does not exist under a read-only directory (a
     * system directory, or anywhere in a --rootfs tree) cannot be made. */
    if (rec->stage == STAGE_FSOP && rec->err == EROFS)
        hint = "its mount point does not exist and the directory above it is read-only: "
               "choose a destination that exists in the view, or one under /tmp";
    result_set_message(r, "%s: %s%s%s", what, errno_text(rec->err), hint ? "; " : "",
                       hint ? hint : "");
}

static void finish_exec(struct proc_guest *pg, struct guest *g, sbvm_result *r)
{
    const struct proc_setup *rec = &pg->exec;
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
    } else if (rec->stage == STAGE_GUEST_RLIMIT) {
        r->outcome = SBVM_OUTCOME_SETUP_FAILED;
        result_set_message(r, "setting the guest's resource limits: %s%s", errno_text(e),
                           e == EPERM ? " (a limit above this host's hard limit)" : "");
    } else {
        r->outcome = SBVM_OUTCOME_SETUP_FAILED;
        result_set_message(r, "%s: %s", stages[rec->stage].text, errno_text(e));
    }
}

static void fmt_limit(char *buf, size_t size, enum sbvm_limit l, uint64_t v)
{
    switch (l) {
    case SBVM_LIMIT_TIME:
    case SBVM_LIMIT_CPU:
        snprintf(buf, size, "%.3g s", (double)v / 1000);
        break;
    case SBVM_LIMIT_MEMORY:
    case SBVM_LIMIT_OUTPUT:
    case SBVM_LIMIT_DISK:
        if (v >= (1ULL << 20))
            snprintf(buf, size, "%.1f MiB", (double)v / (1 << 20));
        else
            snprintf(buf, size, "%llu bytes", (unsigned long long)v);
        break;
    default:
        snprintf(buf, size, "%llu", (unsigned long long)v);
        break;
    }
}

static void set_limit_outcome(struct guest *g, sbvm_result *r, enum sbvm_limit l, uint64_t observed,
                              int sig)
{
    char val[48], obs[48];
    const char *what;
    bool rlimit;

    r->outcome = SBVM_OUTCOME_LIMIT;
    r->limit = (int)l;
    r->limit_value = g->cfg->limits[l];
    r->limit_observed = observed;
    r->signal = sig ? sig : SIGKILL;
    fmt_limit(val, sizeof(val), l, r->limit_value);
    fmt_limit(obs, sizeof(obs), l, observed);
    rlimit = r->mechanisms[l] && streq(r->mechanisms[l], "rlimit");
    switch (l) {
    case SBVM_LIMIT_TIME:
        what = "ran out of time";
        break;
    case SBVM_LIMIT_CPU:
        what = "used up its CPU time";
        break;
    case SBVM_LIMIT_MEMORY:
        what = rlimit ? "an allocation was refused (address space)"
                      : "was killed by the out-of-memory killer";
        break;
    case SBVM_LIMIT_PIDS:
        what = "reached its process limit (a fork was refused)";
        break;
    case SBVM_LIMIT_FILES:
        what = "reached its open-file limit (an open was refused)";
        break;
    case SBVM_LIMIT_OUTPUT:
        what = "wrote more output than allowed";
        break;
    case SBVM_LIMIT_DISK:
        what = "filled its scratch space";
        break;
    default:
        what = "reached a limit";
        break;
    }
    result_set_message(r, "limit %s: %s (limit %s, observed %s; enforced by %s)%s%s",
                       sbvm_limit_name(l), what, val, obs,
                       r->mechanisms[l] ? r->mechanisms[l] : "the supervisor",
                       g->limit_note[0] ? ": " : "", g->limit_note);
}

/* The crash that killed the guest itself, if one was captured. */
static const struct sbvm_crash *guest_crash(const sbvm_result *r, int sig)
{
    for (size_t i = r->ncrashes; i > 0; i--)
        if (r->crashes[i - 1]->is_guest && r->crashes[i - 1]->raw.signo == sig)
            return r->crashes[i - 1];
    return NULL;
}

/* The last line the guest wrote on stderr: libc's "double free detected"
 * and assertion messages explain an abort better than any register. */
static void last_stderr_line(struct guest *g, char *buf, size_t size)
{
    capture_last_line(&g->cap_err, buf, size);
}

static void finish_exit(struct proc_guest *pg, struct guest *g, sbvm_result *r, uint64_t oom)
{
    const struct proc_exit *rec = &pg->exit;
    int sig = rec->status;
    const uint64_t *lim = g->cfg->limits;
    const struct sbvm_crash *c;
    char line[256];

    if (rec->code == CLD_EXITED) {
        r->outcome = SBVM_OUTCOME_EXITED;
        r->exit_code = rec->status;
        result_set_message(r, "exited with code %d", rec->status);
        return;
    }
    r->signal = sig;
    if (sig == SIGKILL && oom > 0 && lim[SBVM_LIMIT_MEMORY]) {
        set_limit_outcome(g, r, SBVM_LIMIT_MEMORY, r->peak_memory, sig);
    } else if (sig == SIGXCPU && lim[SBVM_LIMIT_CPU]) {
        set_limit_outcome(g, r, SBVM_LIMIT_CPU, (r->cpu_user_us + r->cpu_system_us) / 1000, sig);
    } else if (sig == SIGXFSZ && lim[SBVM_LIMIT_DISK]) {
        set_limit_outcome(g, r, SBVM_LIMIT_DISK, lim[SBVM_LIMIT_DISK], sig);
    } else if (g->host_signal && sig == g->host_signal) {
        r->outcome = SBVM_OUTCOME_KILLED;
        result_set_message(r, "killed by the host: %s (%s)", signal_name(sig), signal_text(sig));
    } else if (sig == SIGSYS && pg->trace_off) {
        /* Untraced, a kill by our filter cannot be told from one by the
         * guest's own: say what can be said. */
        r->outcome = SBVM_OUTCOME_DENIED;
        result_set_message(r,
                           "denied: a seccomp filter killed it (%s); which call is unknown: the "
                           "host refused tracing",
                           signal_name(sig));
    } else if ((c = guest_crash(r, sig))) {
        r->outcome = SBVM_OUTCOME_CRASHED;
        last_stderr_line(g, line, sizeof(line));
        if (sig == SIGABRT && line[0])
            result_set_message(r, "crashed: %s; it said: %s", sbvm_crash_summary(c), line);
        else
            result_set_message(r, "crashed: %s", sbvm_crash_summary(c));
    } else {
        r->outcome = SBVM_OUTCOME_CRASHED;
        result_set_message(r, "crashed: %s (%s)", signal_name(sig), signal_text(sig));
    }
}

static void finish_denied(struct proc_guest *pg, sbvm_result *r)
{
    const struct proc_denied *d = &pg->denied;
    enum seccomp_abi abi = seccomp_abi_of(d->arch, d->nr);
    int nr = seccomp_abi_nr(abi, d->nr);
    const char *name = nr >= 0 ? seccomp_syscall_name_abi(abi, nr) : NULL;
    const char *how = abi == SECCOMP_ABI_I386  ? " through the i386 entry (int 0x80)"
                      : abi == SECCOMP_ABI_X32 ? " through the x32 ABI"
                                               : "";

    r->outcome = SBVM_OUTCOME_DENIED;
    r->signal = SIGSYS;
    r->has_denial = true;
    r->denial.name = strdup(name ? name : "unknown");
    r->denial.nr = nr;
    r->denial.abi = seccomp_abi_name(abi);
    r->denial.pid = d->pid;
    memcpy(r->denial.args, d->args, sizeof(r->denial.args));
    r->denial.pc = d->ip;
    result_set_message(r,
                       "denied: syscall %s (%d)%s with arguments 0x%llx, 0x%llx, 0x%llx, 0x%llx, "
                       "0x%llx, 0x%llx in pid %d",
                       r->denial.name ? r->denial.name : "unknown", r->denial.nr, how,
                       (unsigned long long)d->args[0], (unsigned long long)d->args[1],
                       (unsigned long long)d->args[2], (unsigned long long)d->args[3],
                       (unsigned long long)d->args[4], (unsigned long long)d->args[5], d->pid);
}

/* A module file of a crashed guest, as its view showed it: through its
 * mounts or in its rootfs; in the default view, a system directory's file
 * or a program file bound at its host path. */
static int open_module(const char *path, void *ctx)
{
    const struct proc_guest *pg = ctx;
    int fd = program_view_open(&pg->view, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);

    if (fd != -EREMOTE)
        return fd >= 0 ? fd : -1;
    if (!fsplan_path_visible(path)) {
        size_t i;
        for (i = 0; i < pg->prog.nbinds; i++)
            if (streq(pg->prog.binds[i].path, path))
                break;
        if (i == pg->prog.nbinds)
            return -1;
    }
    return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
}

static void take_refusals(struct proc_guest *pg, sbvm_result *r)
{
    size_t n = 0;

    for (size_t i = 0; i <= SYSCALLS_TRACKED; i++)
        n += pg->syscall_count[i] > 0;
    if (!n || !(r->refusals = calloc(n, sizeof(*r->refusals))))
        return;
    for (size_t i = 0; i <= SYSCALLS_TRACKED; i++) {
        struct sbvm_refusal *f;
        const char *name;
        if (!pg->syscall_count[i])
            continue;
        f = &r->refusals[r->nrefusals++];
        name = i < SYSCALLS_TRACKED ? seccomp_syscall_name((int)i) : NULL;
        f->name = strdup(name ? name : "unknown");
        f->nr = i < SYSCALLS_TRACKED ? (int)i : -1;
        f->count = pg->syscall_count[i];
        f->err = pg->syscall_err[i];
    }
}

static void take_usage(struct proc_guest *pg, sbvm_result *r)
{
    const struct cgroup_host *h = &pg->st->cgroups;
    uint64_t u, s;

    if (pg->cg.dir[CG_MEMORY] && (r->peak_memory = cgroup_memory_peak(h, &pg->cg)))
        r->peak_source = cgroup_mode_name(h->mode);
    else if (pg->have_exit) {
        r->peak_memory = pg->exit.guest.maxrss_kb * 1024;
        r->peak_source = "rusage (largest process)";
    } else if (pg->held_peak) {
        r->peak_memory = pg->held_peak;
        r->peak_source = "proc (largest process still running)";
    }
    if (pg->cg.dir[CG_CPU] && cgroup_cpu_usage(h, &pg->cg, &u, &s)) {
        r->cpu_user_us = u;
        r->cpu_system_us = s;
    } else if (pg->have_exit) {
        r->cpu_user_us = pg->exit.guest.utime_us;
        r->cpu_system_us = pg->exit.guest.stime_us;
    } else if (pg->held_cpu_ms) {
        /* /proc gives the sum only: counted as user time. */
        r->cpu_user_us = pg->held_cpu_ms * 1000;
    }
}

void proc_fill_result(struct guest *g, sbvm_result *r, const siginfo_t *si)
{
    struct proc_guest *pg = g->bdata;
    uint64_t oom = cgroup_oom_kills(&pg->st->cgroups, &pg->cg);

    memcpy(r->mechanisms, pg->mech, sizeof(r->mechanisms));
    r->copies = pg->copies;
    r->ncopies = pg->ncopies;
    pg->copies = NULL;
    pg->ncopies = 0;
    r->net_mode = g->cfg->net;
    r->net_attempts = pg->attempts;
    r->nnet_attempts = pg->nattempts;
    r->net_attempts_dropped = pg->attempts_dropped;
    pg->attempts = NULL;
    pg->nattempts = 0;
    take_usage(pg, r);
    take_refusals(pg, r);
    if (pg->trace_off) {
        struct strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb,
                    "crash details and syscall accounting are unavailable: the host refused "
                    "ptrace to the sandbox's init (%s)",
                    errno_text(pg->trace_off));
        r->forensics_note = strbuf_detach(&sb, NULL);
    }
    for (size_t i = 0; i < pg->ncrashes; i++) {
        crash_analyse(pg->crashes[i], g->cfg->symbolize, open_module, pg);
        r->crashes[r->ncrashes++] = pg->crashes[i];
        pg->crashes[i] = NULL;
    }
    pg->ncrashes = 0;
    r->crashes_dropped = pg->crashes_dropped;
    r->ledger = pg->ledger;
    pg->ledger = NULL;

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
    } else if (g->limit_hit >= 0) {
        set_limit_outcome(g, r, (enum sbvm_limit)g->limit_hit, g->limit_observed,
                          pg->have_exit && pg->exit.code != CLD_EXITED ? pg->exit.status : 0);
    } else if (pg->have_denied) {
        finish_denied(pg, r);
    } else if (pg->have_exit) {
        finish_exit(pg, g, r, oom);
    } else if (g->host_signal) {
        r->outcome = SBVM_OUTCOME_KILLED;
        r->signal = g->host_signal;
        result_set_message(r, "killed by the host: %s (%s)", signal_name(r->signal),
                           signal_text(r->signal));
    } else if (si->si_code == CLD_KILLED && si->si_status == SIGKILL && !pg->sent_kill && oom > 0 &&
               g->cfg->limits[SBVM_LIMIT_MEMORY]) {
        /* The cgroup's OOM killer took the init itself (the guest's memory
         * may be in no process's RSS: memfds, shared memory). */
        set_limit_outcome(g, r, SBVM_LIMIT_MEMORY, r->peak_memory, SIGKILL);
    } else if (si->si_code == CLD_KILLED && si->si_status == SIGKILL && !pg->sent_kill) {
        bool host_oom = host_oom_kills() > pg->st->oom_kills_at_start;
        r->outcome = SBVM_OUTCOME_KILLED;
        r->signal = SIGKILL;
        result_set_message(r, "killed: the sandbox's init was killed (SIGKILL) from outside%s",
                           host_oom ? ", most likely by the kernel's out-of-memory killer (the "
                                      "host ran out of memory while it ran)"
                                    : "");
    } else {
        r->outcome = SBVM_OUTCOME_SETUP_FAILED;
        r->stage = "init";
        result_set_message(r, "the sandbox ended without reporting on its guest (init: %s %d)%s",
                           si->si_code == CLD_EXITED ? "exit code" : "signal", si->si_status,
                           pg->bad_record ? "; it sent a malformed report" : "");
    }
    /* Keeping the scratch is reported beside the outcome, never instead. */
    r->kept = pg->kept;
    pg->kept = NULL;
    r->keep_error = pg->keep_error;
    pg->keep_error = NULL;
}
