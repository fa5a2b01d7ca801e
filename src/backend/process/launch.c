/* SPDX-License-Identifier: MIT */
/*
 * launch.c: building a sandbox: the arguments its child needs, clone3 into
 * fresh namespaces, its cgroups and uid/gid maps, and "go". What runs
 * inside from there is child.c's; what it reports, supervise.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/process/child.h"
#include "backend/process/process.h"
#include "backend/process/userns.h"
#include "core/job.h"
#include "sandboxvm/channel.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

/*
 * Guests are the OOM killer's first choice (oom_score_adj 1000). A process
 * may lower its own score back to the floor below which only a holder of
 * CAP_SYS_RESOURCE may go, and that floor is only set by such a holder:
 * where we have the capability, we raise our own score to 1000 (which sets
 * the floor) just for the clone, so that the sandbox inherits both, and
 * then restore ours. Without it, the guest raises its own score (child.c)
 * and could lower it again (docs/SECURITY.md).
 */
static void oom_floor(struct proc_state *st, bool raise)
{
    if (st->oom_fd < 0)
        return;
    if (raise)
        (void)!pwrite(st->oom_fd, "1000", 4, 0);
    else
        (void)!pwrite(st->oom_fd, st->oom_own, strlen(st->oom_own), 0);
}

void proc_oom_floor_init(struct proc_state *st)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    ssize_t n;

    st->oom_fd = -1;
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) < 0 || !(d[0].effective & (1u << CAP_SYS_RESOURCE)))
        return;
    st->oom_fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    if (st->oom_fd < 0)
        return;
    n = pread(st->oom_fd, st->oom_own, sizeof(st->oom_own) - 1, 0);
    if (n <= 0) {
        close_fd(&st->oom_fd);
        return;
    }
    st->oom_own[n] = '\0';
}

/* A sandbox that failed on the host's side of its start. */
static int start_fail(struct setup_fact *fail, const char *stage, int e, const char *what)
{
    const char *hint = userns_restriction_hint();

    setup_fact_set(fail, SBVM_OUTCOME_SETUP_FAILED, stage, e, "%s: %s%s%s", what, errno_text(e),
                   hint ? "; " : "", hint ? hint : "");
    return -(e ? e : EIO);
}

/* The same after the clone: the child is told to give up (or sees EOF),
 * and the sandbox's end follows; the failure is its set-up's. */
static void failed_after_clone(struct sandbox *sb, const char *stage, int e, const char *what)
{
    struct bev ev = { .kind = BEV_SETUP_FAILED };
    const char *hint =
        (e == EPERM || e == EACCES || e == EINVAL) ? userns_restriction_hint() : NULL;

    setup_fact_set(&ev.u.setup, SBVM_OUTCOME_SETUP_FAILED, stage, e, "%s: %s%s%s", what,
                   errno_text(e), hint ? "; " : "", hint ? hint : "");
    sandbox_event(sb, &ev);
    setup_fact_release(&ev.u.setup);
}

/* The rlimits the sandbox's first process sets before its exec. */
static void plan_rlimits(const struct proc_sandbox *ps, const struct sbvm_config *cfg,
                         const struct job *j, struct child_args *a)
{
    const uint64_t *l = cfg->limits;
    struct rlimit hard;

    a->rl_nofile = l[SBVM_LIMIT_FILES];
    /* The default may not be above what this host lets us give (a hard
     * limit of 512): then the guest gets what there is. One asked for is
     * refused as asked, with the reason. */
    if (!(cfg->limits_set & (1u << SBVM_LIMIT_FILES)) && getrlimit(RLIMIT_NOFILE, &hard) == 0 &&
        hard.rlim_max != RLIM_INFINITY && a->rl_nofile > hard.rlim_max)
        a->rl_nofile = hard.rlim_max;
    a->rl_fsize = l[SBVM_LIMIT_DISK];
    if (l[SBVM_LIMIT_PIDS] && !ps->cg.dir[CG_PIDS])
        a->rl_nproc = l[SBVM_LIMIT_PIDS];
    if (l[SBVM_LIMIT_MEMORY] && !ps->cg.dir[CG_MEMORY]) {
        /* The guest reserves its channel's largest window as address
         * space at hello: address space, not memory, so it is added. */
        uint64_t win = j && j->channel ? sbvm_channel_window_max(j->channel) : 0;
        a->rl_as = l[SBVM_LIMIT_MEMORY] + win < win ? UINT64_MAX : l[SBVM_LIMIT_MEMORY] + win;
    }
    if (l[SBVM_LIMIT_CPU] && !ps->cg.dir[CG_CPU])
        a->rl_cpu = (l[SBVM_LIMIT_CPU] + 999) / 1000;
}

int proc_signal_init(struct proc_sandbox *ps, int sig)
{
    if (ps->pidfd < 0)
        return -ESRCH;
    if (pidfd_send_signal(ps->pidfd, sig, NULL, 0) < 0)
        return -errno;
    if (sig == SIGKILL)
        ps->sent_kill = true;
    return 0;
}

int proc_command(struct proc_sandbox *ps, uint32_t kind, int32_t job, int32_t sig)
{
    struct proc_cmd c = { PROC_CMD_MAGIC, kind, job, sig };

    if (ps->control_fd < 0)
        return -EPIPE;
    if (send(ps->control_fd, &c, sizeof(c), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(c))
        return -errno;
    return 0;
}

int proc_start(struct sandbox *sb, struct job *j, struct setup_fact *fail)
{
    static atomic_uint groups;
    struct proc_sandbox *ps = proc_of(sb);
    struct proc_state *st = ps->st;
    const struct sbvm_config *cfg = sb->cfg;
    const struct config_container *ct = cfg->container;
    int status[2] = { -1, -1 }, control[2] = { -1, -1 }, spawn[2] = { -1, -1 };
    int bind_fds[CHILD_SLOTS_MAX];
    const char *bind_srcs[CHILD_SLOTS_MAX];
    struct clone_args ca;
    struct child_args a;
    sbvm_error *e = NULL;
    sigset_t all, old;
    const char *what = NULL;
    char go;
    long pid;
    int pidfd = -1, r, err;

    r = ps->use_cgroup ? cgroup_create(&st->cgroups, &ps->cg, atomic_fetch_add(&groups, 1),
                                       cfg->limits[SBVM_LIMIT_MEMORY], cfg->limits[SBVM_LIMIT_PIDS],
                                       &cfg->cgroup, &e)
                       : 0;
    if (r < 0) {
        r = start_fail(fail, "cgroup", sbvm_error_code(e), sbvm_error_message(e));
        sbvm_error_free(e);
        return r;
    }
    /* The status channel and the init's control are packet sockets: each
     * record or command one message; the status socket also carries the
     * sandbox's root (child.c). */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, status) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) < 0 ||
        (sb->live && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, spawn) < 0)) {
        err = errno;
        r = start_fail(fail, "pipes", err, "creating the sandbox's sockets");
        goto out_close;
    }
    for (size_t i = 0; i < ps->nbinds; i++) {
        bind_fds[i] = ps->binds[i].fd;
        bind_srcs[i] = ps->binds[i].src;
    }
    for (size_t i = 0; i < ps->nmount_fds; i++) {
        bind_fds[ps->nbinds + i] = ps->mount_fds[i];
        bind_srcs[ps->nbinds + i] = ps->mount_srcs[i];
    }

    memset(&a, 0, sizeof(a));
    a.base_ops = st->base.ops;
    a.nbase = ps->rootfs ? 0 : st->base.nops;
    a.rootfs_slot = ps->rootfs ? (int)ps->nbinds : -1;
    if (ps->rootfs && ps->layer_upper) {
        snprintf(a.overlay_lower, sizeof(a.overlay_lower), "/proc/self/fd/%d",
                 FD_BIND_BASE + a.rootfs_slot);
        a.overlay_upper = ps->layer_upper;
        a.overlay_work = ps->layer_work;
    }
    a.extra_ops = ps->extra.ops;
    a.nextra = ps->extra.nops;
    /* The child is a copy of our memory, the plan included. */
    a.seccomp = &ps->plan->plan;
    a.fd_policy = ps->plan->fd;
    a.uid = st->ids.uid;
    a.gid = st->ids.gid;
    a.host_root = st->ids.host_root;
    if (ct) {
        /* An OCI container's own ids (src/oci decided its maps). */
        a.container = true;
        a.uid = ct->uid;
        a.gid = ct->gid;
        a.host_root = ct->from_root;
        a.groups = ct->groups;
        a.ngroups = ct->ngroups;
        a.keep_groups = ct->keep_groups;
        a.hostname = ct->hostname;
        a.rootfs_rw = ct->rootfs_rw;
        a.sysctl_paths = ct->sysctl_paths.v;
        a.sysctl_values = ct->sysctl_values.v;
        a.nsysctl = ct->sysctl_paths.n;
    }
    a.live = sb->live;
    if (j) {
        a.exec_path = ps->prog.exec_path;
        a.argv = j->argv.v;
        if (ps->prog.argv0 || ps->prog.sh_script) {
            /* The name a relative program path stands for, or a script
             * without #! given to /bin/sh (program.h). */
            strv_release(&ps->exec_argv);
            if (ps->prog.sh_script && strv_push(&ps->exec_argv, "/bin/sh") < 0)
                goto oom_argv;
            if (strv_push(&ps->exec_argv, ps->prog.argv0 ? ps->prog.argv0 : ps->prog.exec_path) < 0)
                goto oom_argv;
            for (size_t i = 1; i < j->argv.n; i++)
                if (strv_push(&ps->exec_argv, j->argv.v[i]) < 0)
                    goto oom_argv;
            a.argv = ps->exec_argv.v;
            if (ps->prog.sh_script)
                a.exec_path = "/bin/sh";
        }
        a.envp = ps->envp.v;
        a.cwd = j->cwd ? j->cwd : cfg->cwd ? cfg->cwd : SBVM_DEFAULT_CWD;
        a.fd_in = j->child_in;
        a.fd_out = j->child_out;
        a.fd_err = j->child_err;
        a.fd_channel = j->channel ? sbvm_channel_guest_fd(j->channel) : -1;
        a.init_flags = INIT_FLAG_HOLD | (proc_has_copies(cfg, true) ? INIT_FLAG_HOLD_ALWAYS : 0);
    } else {
        a.fd_in = a.fd_out = a.fd_err = a.fd_channel = -1;
        a.init_flags = INIT_FLAG_LIVE;
        a.fd_spawner = st->spawner_fd;
        a.fd_spawn = spawn[1];
    }
    a.wait_copy_in = proc_has_copies(cfg, false);
    a.wait_go_before_fork = ps->use_cgroup;
    a.net_mode = (int)cfg->net;
    a.fd_status = status[1];
    a.fd_control = control[0];
    a.fd_init = st->init_fd;
    a.args_start = st->args_start;
    a.args_end = st->args_end;
    a.env_start = st->env_start;
    a.env_end = st->env_end;
    a.bind_fds = bind_fds;
    a.bind_srcs = bind_srcs;
    a.nbinds = proc_slot_count(ps);
    plan_rlimits(ps, cfg, j, &a);
    /* Only the namespace's root may: as an ordinary user, pid 1 keeps that
     * user's uid, not root's (docs/SECURITY.md). */
    a.ipc_bytes = st->ids.host_root ? proc_scratch_size(cfg) : 0;
    a.start_apart = sb->alone;

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
    oom_floor(st, true);
    pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid == 0)
        child_main(&a);
    err = errno;
    oom_floor(st, false);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        r = start_fail(fail, "clone", err, "creating the sandbox's namespaces (clone3)");
        goto out_close;
    }
    ps->pid = (pid_t)pid;
    ps->pidfd = pidfd;
    /* The guest holds its channel now: ours must go, or its death would
     * never hang the channel up. */
    if (j && j->channel)
        sbvm_channel_close_guest_fd(j->channel);
    close_fd(&status[1]);
    close_fd(&control[0]);
    close_fd(&spawn[1]);
    ps->status_fd = status[0];
    ps->control_fd = control[1];
    ps->spawn_fd = spawn[0];
    fcntl(ps->status_fd, F_SETFL, O_NONBLOCK);
    if (ps->spawn_fd >= 0)
        fcntl(ps->spawn_fd, F_SETFL, O_NONBLOCK);

    /* Into its cgroups before it runs anything: everything it forks
     * follows. */
    if (cgroup_attach(&ps->cg, ps->pid, &e) < 0) {
        failed_after_clone(sb, "cgroup", sbvm_error_code(e), sbvm_error_message(e));
        sbvm_error_free(e);
        go = SYNC_ABORT;
    } else if ((r = ct && ct->uid_map && ct->gid_map
                        ? userns_write_given_maps(ps->pid, ps->pidfd, ct->uid_map, ct->gid_map,
                                                  st->ids.host_root, &what)
                        : userns_write_maps(ps->pid, ps->pidfd, &st->ids, &what)) < 0) {
        char w[96];
        snprintf(w, sizeof(w), "writing the sandbox's %s", what);
        failed_after_clone(sb, "idmap", -r, w);
        go = SYNC_ABORT;
    } else {
        go = SYNC_GO;
    }
    /* A failure to say go leaves the child at EOF, which also ends it. */
    if (write_nosigpipe(ps->control_fd, &go, 1) != 1 || go != SYNC_GO)
        close_fd(&ps->control_fd);
    r = proc_watch(sb);
    if (r < 0) {
        /* Without watches the sandbox cannot be supervised: end it now. */
        proc_signal_init(ps, SIGKILL);
        failed_after_clone(sb, "supervise", -r, "watching the sandbox");
    }
    return 0;

oom_argv:
    r = start_fail(fail, "prepare", ENOMEM, "out of memory");
out_close:
    close_fd(&status[0]);
    close_fd(&status[1]);
    close_fd(&control[0]);
    close_fd(&control[1]);
    close_fd(&spawn[0]);
    close_fd(&spawn[1]);
    cgroup_destroy(&ps->cg);
    return r;
}
