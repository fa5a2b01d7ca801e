/* SPDX-License-Identifier: MIT */
/*
 * child.c: the sandbox's first process, from clone3() to execve(): the
 * order of the containment steps (contain.c: how a guest is contained),
 * the two processes that take them (pid 1, which becomes the init, and
 * pid 2), and what pid 2 then runs: a program (guest_main) or a live
 * sandbox's exec server (spawner_main).
 *
 * Only system calls from here on (see child.h). Every failure is reported to
 * the supervisor as a {stage, errno, index} record and ends the child.
 */
#include "backend/process/child.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/process/contain.h"
#include "backend/process/init/init.h"
#include "backend/process/proto.h"
#include "util/util.h"

static int status_fd = -1;

void child_status_at(int fd)
{
    status_fd = fd;
}

/*
 * One record on the status socket: a proc_setup payload and, when nfds, the
 * descriptors (SCM_RIGHTS). 0, or -1 and errno.
 */
static int send_record(uint16_t kind, uint16_t stage, int err, int index, const int *fds,
                       size_t nfds)
{
    struct {
        struct proc_rec_hdr h;
        struct proc_setup s;
    } rec;
    struct iovec iov = { &rec, sizeof(rec) };

    memset(&rec, 0, sizeof(rec));
    rec.h.magic = PROC_REC_MAGIC;
    rec.h.kind = kind;
    rec.h.len = sizeof(rec.s);
    rec.s.stage = stage;
    rec.s.err = err;
    rec.s.index = index;
    if (nfds > 2)
        nfds = 0;
    return send_with_fds(status_fd, &iov, 1, fds, nfds, 0) < 0 ? -1 : 0;
}

static void report(uint16_t kind, uint16_t stage, int err, int index)
{
    (void)send_record(kind, stage, err, index, NULL, 0);
}

/*
 * REC_READY, with the sandbox's root and its /tmp as O_PATH descriptors.
 * The supervisor cannot reliably open /proc/PID/root itself: as an ordinary
 * user it may not, once this process is no longer dumpable and before it
 * execs the init.
 */
static void report_ready(void)
{
    int fds[2];

    fds[0] = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    fds[1] = open("/tmp", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    (void)send_record(REC_READY, 0, 0, 0, fds, fds[0] >= 0 && fds[1] >= 0 ? 2 : 0);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
}

/* --net allow: the proxy's address inside the sandbox, 127.0.0.1:3128, is
 * a listening socket made here, in the guest's network namespace, and
 * handed to the supervisor, whose broker accepts on it. The guest keeps no
 * copy: it can neither accept on it nor bind that port itself. */
static void send_proxy_listener(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(3128) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
        send_record(REC_NET_LISTENER, STAGE_NETNS, 0, 0, &fd, 1) < 0)
        child_fail(STAGE_NETNS, errno, -1);
    close(fd);
}

_Noreturn void child_fail(uint16_t stage, int err, int index)
{
    report(REC_SETUP_FAILED, stage, err, index);
    _exit(125);
}

/* Async-signal-safe decimal formatting into buf (at least 12 bytes). */
static void fmt_int(char *buf, int v)
{
    char tmp[12];
    int n = 0, i = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && n < 11);
    if (v < 0)
        buf[i++] = '-';
    while (n)
        buf[i++] = tmp[--n];
    buf[i] = '\0';
}

static _Noreturn void exec_fail(uint16_t stage, int err)
{
    report(REC_EXEC_FAILED, stage, err, -1);
    _exit(err == ENOENT ? 127 : 126);
}

static void set_limit(int resource, uint64_t soft, uint64_t hard)
{
    struct rlimit rl;

    if (!soft)
        return;
    rl.rlim_cur = soft;
    rl.rlim_max = hard ? hard : soft;
    if (setrlimit(resource, &rl) < 0)
        exec_fail(STAGE_GUEST_RLIMIT, errno);
}

/* What pid 2 is, whatever it runs: a session of its own, no core files,
 * the sandbox's rlimits. */
static void pid2_setup(const struct child_args *a)
{
    struct rlimit nocore = { 0, 0 };

    if (setsid() < 0)
        exec_fail(STAGE_GUEST_SESSION, errno);
    /* No core files: they would land in the guest's scratch or, through a
     * core_pattern pipe, in a host-side handler. */
    if (setrlimit(RLIMIT_CORE, &nocore) < 0)
        exec_fail(STAGE_GUEST_RLIMIT, errno);
    set_limit(RLIMIT_NOFILE, a->rl_nofile, 0);
    set_limit(RLIMIT_NPROC, a->rl_nproc, 0);
    set_limit(RLIMIT_AS, a->rl_as, 0);
    set_limit(RLIMIT_FSIZE, a->rl_fsize, 0);
    /* SIGXCPU at the limit, SIGKILL a second later if it is ignored. */
    set_limit(RLIMIT_CPU, a->rl_cpu, a->rl_cpu ? a->rl_cpu + 1 : 0);
}

/* The guest process (pid 2): its own session, clean stdio, then exec. */
static _Noreturn void guest_main(const struct child_args *a)
{
    sigset_t none;
    int fd;

    pid2_setup(a);

    if (a->fd_in < 0) {
        fd = open("/dev/null", O_RDONLY | O_NOCTTY);
        if (fd < 0 || (fd != 0 && dup2(fd, 0) < 0))
            exec_fail(STAGE_GUEST_STDIO, errno);
        if (fd != 0)
            close(fd);
    } else if (dup2(FD_GUEST_IN, 0) < 0) {
        exec_fail(STAGE_GUEST_STDIO, errno);
    }
    if (dup2(FD_GUEST_OUT, 1) < 0 || dup2(FD_GUEST_ERR, 2) < 0)
        exec_fail(STAGE_GUEST_STDIO, errno);
    if (a->fd_channel >= 0) {
        /* The channel takes fd 3 (inherited: dup2 clears close-on-exec);
         * the status fd moves out of its way. */
        fd = fcntl(FD_STATUS, F_DUPFD_CLOEXEC, FD_BIND_BASE + CHILD_SLOTS_MAX);
        if (fd < 0)
            exec_fail(STAGE_GUEST_STDIO, errno);
        status_fd = fd;
        if (dup2(FD_GUEST_CHANNEL, 3) < 0)
            exec_fail(STAGE_GUEST_STDIO, errno);
        if (syscall(SYS_close_range, 4, (unsigned)fd - 1, 0) < 0 ||
            syscall(SYS_close_range, (unsigned)fd + 1, ~0U, 0) < 0)
            exec_fail(STAGE_GUEST_STDIO, errno);
    } else if (syscall(SYS_close_range, FD_STATUS + 1, ~0U, 0) < 0) {
        /* Keep only stdio and the status fd, which closes itself on exec. */
        exec_fail(STAGE_GUEST_STDIO, errno);
    }

    if (chdir(a->cwd) < 0)
        exec_fail(STAGE_GUEST_CWD, errno);
    umask(022);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(a->exec_path, a->argv, a->envp);
    exec_fail(STAGE_EXEC, errno);
}

/* A live sandbox's pid 2: its exec server (spawner.c), with nothing of
 * ours but its socket. Its stdio is /dev/null; the jobs get their own. */
static _Noreturn void spawner_main(const struct child_args *a)
{
    static char name[] = "sbvm-exec";
    char *argv[] = { name, NULL };
    char *envp[] = { NULL };
    sigset_t none;
    int fd;

    pid2_setup(a);
    fd = open("/dev/null", O_RDWR | O_NOCTTY);
    if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        exec_fail(STAGE_GUEST_STDIO, errno);
    if (fd > 2)
        close(fd);
    if (fcntl(FD_SPAWN, F_SETFD, 0) < 0)
        exec_fail(STAGE_GUEST_STDIO, errno);
    syscall(SYS_close_range, 3, FD_SPAWNER - 1, 0);
    syscall(SYS_close_range, FD_SPAWN + 1, ~0U, 0);
    if (chdir("/") < 0)
        exec_fail(STAGE_GUEST_CWD, errno);
    umask(022);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    syscall(SYS_execveat, FD_SPAWNER, "", argv, envp, AT_EMPTY_PATH);
    /* The host forbids executing memfds: serve in place. This process
     * shares pid 1's copy of the supervisor's memory, which pid 1 has
     * scrubbed of its command line; it is not dumpable. */
    close(FD_SPAWNER);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    spawner_run();
}

/* One byte over a pipe between the two sandbox processes. */
static void signal_peer(int fd, char c, uint16_t stage)
{
    while (write(fd, &c, 1) < 0) {
        /* The peer is gone: it failed and reported why, or the supervisor
         * called the spawn off (a failed --copy-in). Ours would be a
         * consequence, not a cause: leave quietly. */
        if (errno == EPIPE)
            _exit(125);
        if (errno != EINTR)
            child_fail(stage, errno, -1);
    }
}

/* Waits for the peer's byte; EOF means it failed (and reported why). */
static void wait_peer(int fd)
{
    char c;
    ssize_t n;

    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        _exit(125);
}

/* Waits for the peer to close its end (at its exec, or its exit). */
static void wait_eof(int fd)
{
    char c;
    ssize_t n;

    while ((n = read(fd, &c, 1)) != 0)
        if (n < 0 && errno != EINTR)
            _exit(125);
}

/* Zeroes [start, end) of our memory, where mapped. */
static void scrub(uint64_t start, uint64_t end)
{
    if (start && end > start && end - start < (64u << 20))
        explicit_bzero((void *)(uintptr_t)start, (size_t)(end - start));
}

static int high_fd(int fd)
{
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 64);
    close(fd);
    return h;
}

/* When the host runs out of memory, the kernel's OOM killer takes a guest
 * process first, never a host process for a guest's sake. Raising the score
 * needs no privilege, but /proc/self must still be ours to write: before
 * pid 1 makes the memory we share non-dumpable, and before the uid change. */
static void oom_first(void)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

    if (fd >= 0) {
        (void)!write(fd, "1000", 4);
        close(fd);
    }
}

/*
 * The guest process (pid 2), from its fork to its exec. It builds the
 * sandbox's network namespace (the costliest namespace: ~0.7 ms here) while
 * pid 1 builds the filesystem view, then waits for the view and locks
 * itself down.
 */
struct early_args {
    const struct child_args *a;
    int net_w, view_r;
    int net_r, view_w; /* pid 1's ends, which our copy of its fds holds too */
    /* Written by pid 1 after the clone, read after its 'V': whether
     * start_apart moved us, and the CPUs we were given. */
    bool apart;
    cpu_set_t cpus;
};

static _Noreturn void guest_early(const struct early_args *e)
{
    const struct child_args *a = e->a;
    int net_w = e->net_w, view_r = e->view_r;

    if (a->net_mode != SBVM_NET_HOST) {
        if (unshare(CLONE_NEWNET) < 0)
            child_fail(STAGE_NETNS, errno, -1);
        contain_loopback();
        if (a->net_mode == SBVM_NET_ALLOW)
            send_proxy_listener();
    }
    /* Before 'N': pid 1 then soon makes our shared memory non-dumpable,
     * and our /proc files root's. */
    oom_first();
    signal_peer(net_w, 'N', STAGE_NETNS);
    wait_peer(view_r);
    /* pid 1 placed us away from its CPU before its 'V': the guest gets
     * back every CPU it was given. */
    if (e->apart && sched_setaffinity(0, sizeof(e->cpus), &e->cpus) < 0)
        child_fail(STAGE_FORK, errno, -1);
    contain_privileges(a);
    /* Started as root, we were until now more privileged than the init
     * will be, which could not have forwarded a signal to us. */
    if (a->host_root)
        signal_peer(net_w, 'D', STAGE_CAPS);
    close(net_w);
    contain_filters(a);
    /* Until pid 1 has become the init, it is a copy of the supervisor, whose
     * command line (secrets included) anyone may read in /proc/1/cmdline:
     * no guest code runs before that. Its exec closes the pipe. */
    wait_eof(view_r);
    close(view_r);
    if (a->live)
        spawner_main(a);
    guest_main(a);
}

/* A byte from the supervisor on the control pipe: SYNC_GO once it wrote
 * our uid/gid maps (and moved us into cgroups), SYNC_COPIED after
 * --copy-in. Anything else, or EOF (it died, or it refused): leave quietly
 * (a guest process dies with us, the pid namespace's init). */
static void wait_control(char want)
{
    char c = 0;

    while (read(FD_CONTROL, &c, 1) < 0 && errno == EINTR)
        ;
    if (c != want)
        _exit(125);
}

static int guest_early_fn(void *arg)
{
    const struct early_args *e = arg;

    close(e->net_r);
    close(e->view_w);
    guest_early(e);
}

/*
 * The guest process builds the network namespace while pid 1 builds the
 * view: in parallel only if they run on different CPUs. A new process
 * starts on its parent's CPU unless the scheduler moves it, and some hosts'
 * schedulers pack tasks onto few CPUs (a cloud VM's 'sched_vcpu_pack'): on
 * such a host the guest process waited, up to 0.6 ms, for pid 1 to block.
 * So it may run on every CPU it was given but pid 1's current one until
 * pid 1's 'V', and then takes them all back (guest_early). Only when the
 * sandbox is the run's only one alive: with -j 2 the other CPU is usually
 * busy with the other sandbox, and the pinning cost throughput there.
 * Best effort: with one CPU, or if a call fails, the scheduler decides.
 */
static bool start_apart(pid_t pid, cpu_set_t *given)
{
    cpu_set_t other;
    unsigned cpu;

    if (sched_getaffinity(0, sizeof(*given), given) < 0 ||
        syscall(SYS_getcpu, &cpu, NULL, NULL) < 0 || cpu >= CPU_SETSIZE)
        return false;
    other = *given;
    CPU_CLR(cpu, &other);
    return CPU_COUNT(&other) > 0 && sched_setaffinity(pid, sizeof(other), &other) == 0;
}

/*
 * The kernel clears the parent-death signal at a change of the effective
 * or filesystem ids, which is what root's sandboxes do in
 * contain_privileges(): set it again. It still names the supervisor's thread
 * that cloned us, unless that thread died while it was cleared and we were
 * handed to another parent: then the supervisor's end of the control
 * socket is closed (a process's files go before its children are
 * reparented), and we end as its death would have ended us. (The init
 * also ends at EOF on that socket; this covers the set-up before it.)
 */
static void rearm_parent_death(void)
{
    struct pollfd p = { .fd = FD_CONTROL, .events = POLLIN };

    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        child_fail(STAGE_CAPS, errno, -1);
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))
        _exit(125);
}

/* The guest process's own stack: it shares pid 1's memory until its exec. */
#define GUEST_EARLY_STACK (256 * 1024)

_Noreturn void child_main(const struct child_args *a)
{
    struct early_args early;
    char *stack;
    static char pid_arg[16], flags_arg[16];
    char *init_argv[] = { (char *)"sbvm-init", pid_arg, flags_arg, NULL };
    char *init_envp[] = { NULL };
    int net[2], view[2], netfd;
    char netns[64] = "/proc/";
    sigset_t all;
    long pid;

    status_fd = a->fd_status;
    /* Hold every signal until the init has its handlers. An init with the
     * default action ignores what an ancestor namespace sends it, so a
     * host signal forwarded now would be lost; blocked, it stays pending
     * and the init forwards it as soon as it runs. The guest process
     * unblocks all of them just before its exec. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* If the supervisor's thread dies, so does the sandbox. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        child_fail(STAGE_FDS, errno, -1);
    contain_fds(a);
    umask(0);
    /* Leave the host's session and process group: a Ctrl-C on the host's
     * terminal goes to the supervisor, which decides what to forward. */
    if (setsid() < 0)
        child_fail(STAGE_FDS, errno, -1);
    /* Handlers were reset by CLONE_CLEAR_SIGHAND; ignored signals were not,
     * and an ignored SIGPIPE would survive into the guest's exec. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);

    /* The guest process starts now and makes the network namespace (the
     * costliest namespace) in parallel with the supervisor writing our
     * uid/gid maps and with the view below: it needs neither. Unless the
     * supervisor is yet to move us into cgroups. */
    if (a->wait_go_before_fork)
        wait_control(SYNC_GO);
    if (pipe2(net, O_CLOEXEC) < 0 || pipe2(view, O_CLOEXEC) < 0)
        child_fail(STAGE_FORK, errno, -1);
    net[0] = high_fd(net[0]);
    net[1] = high_fd(net[1]);
    view[0] = high_fd(view[0]);
    view[1] = high_fd(view[1]);
    if (net[0] < 0 || net[1] < 0 || view[0] < 0 || view[1] < 0)
        child_fail(STAGE_FORK, EMFILE, -1);
    /*
     * It shares pid 1's memory (CLONE_VM, like posix_spawn's child) on a
     * stack of its own: copying the address space - a copy of the
     * supervisor's - was a tenth of a sandbox's start. Both run only system
     * calls and never write shared state; pid 1 leaves the shared memory
     * when it execs the init, the guest process when it execs the guest.
     * Its file descriptors are its own (no CLONE_FILES).
     */
    stack = mmap(NULL, GUEST_EARLY_STACK, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        child_fail(STAGE_FORK, errno, -1);
    early.a = a;
    early.net_w = net[1];
    early.view_r = view[0];
    early.net_r = net[0];
    early.view_w = view[1];
    pid = clone(guest_early_fn, stack + GUEST_EARLY_STACK, CLONE_VM | SIGCHLD, &early);
    if (pid < 0)
        child_fail(STAGE_FORK, errno, -1);
    early.apart = a->start_apart && start_apart((pid_t)pid, &early.cpus);
    close(net[1]);
    close(view[0]);
    /* Trace the guest process from now on, and everything it will fork:
     * faults are captured before they kill, refused syscalls counted. If
     * the host forbids it (Yama ptrace_scope=3), the guest still runs; the
     * report says that crash details are unavailable. */
    if (ptrace(PTRACE_SEIZE, (pid_t)pid, 0,
               PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                   PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXIT |
                   PTRACE_O_EXITKILL) < 0)
        report(REC_TRACE_OFF, STAGE_TRACE, errno, -1);

    if (!a->wait_go_before_fork)
        wait_control(SYNC_GO);

    contain_view(a);
    /* The supervisor may now open our root (for its inventory and limits):
     * it is the sandbox's, not the host's. */
    report_ready();
    /* --copy-in: the supervisor writes into the view now; the guest waits. */
    if (a->wait_copy_in)
        wait_control(SYNC_COPIED);

    /* pid 1 joins the guest's network namespace too: nothing of the
     * sandbox stays in the host's. */
    wait_peer(net[0]);
    if (a->net_mode != SBVM_NET_HOST) {
        fmt_int(netns + 6, (int)pid);
        memcpy(netns + strlen(netns), "/ns/net", 8);
        netfd = open(netns, O_RDONLY | O_CLOEXEC);
        if (netfd < 0 || setns(netfd, CLONE_NEWNET) < 0)
            child_fail(STAGE_NETNS, errno, -1);
        close(netfd);
    }
    contain_sysctls(a);

    /* Until it execs the init, this process is a copy of the supervisor:
     * not dumpable, so the guest (same uid, and soon the same empty
     * capability set) can never read its memory or its /proc entries.
     * Set again after the uid change, which resets it. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        child_fail(STAGE_CAPS, errno, -1);
    contain_privileges(a);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        child_fail(STAGE_CAPS, errno, -1);
    rearm_parent_death();
    /* The view is complete and pid 1 is locked down: the guest may get
     * ready; it runs nothing of its own before our exec closes view[1]. */
    signal_peer(view[1], 'V', STAGE_FORK);
    contain_init_filter(a);
    /* The init forwards the host's signals with kill(2), which needs the
     * guest process to have our uid: as root, wait for its uid change (or
     * for its failure, which it reports). A signal sent meanwhile waits,
     * blocked, for the init's handlers. */
    if (a->host_root)
        wait_peer(net[0]);
    close(net[0]);

    /* pid 1: hold nothing but the status and control sockets and the
     * policy, then become the init. */
    syscall(SYS_close_range, FD_SPAWNER, (unsigned)view[1] - 1, 0);
    syscall(SYS_close_range, (unsigned)view[1] + 1, ~0U, 0);
    fmt_int(pid_arg, (int)pid);
    fmt_int(flags_arg, a->init_flags);
    if (a->fd_init >= 0 && fcntl(FD_STATUS, F_SETFD, 0) == 0 &&
        fcntl(FD_CONTROL, F_SETFD, 0) == 0 && fcntl(FD_POLICY, F_SETFD, 0) == 0)
        syscall(SYS_execveat, FD_INIT, "", init_argv, init_envp, AT_EMPTY_PATH);
    /* The host forbids executing memfds: run the same loop in place. This
     * process is still a copy of the supervisor, whose command line (with
     * any --secret value) the guest could read in /proc/1/cmdline: clear it
     * before the guest may run (closing view[1] releases it). Its other
     * memory is out of reach: pid 1 is not dumpable. */
    scrub(a->args_start, a->args_end);
    scrub(a->env_start, a->env_end);
    prctl(PR_SET_NAME, "sbvm-init", 0, 0, 0);
    close(view[1]);
    init_run(FD_STATUS, (int)pid, a->init_flags);
}
