/* SPDX-License-Identifier: MIT */
/*
 * escape-self.c: probes against the sandbox's own machinery rather than the
 * host's: the syscall filter (filters of the guest's own stacked on it), the
 * pid-1 init (its trust in signals, its limits and scheduling), tracing
 * (clone flags), and what a guest can leave behind on the host (set-uid
 * files). Same conventions as escape.c.
 */
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif

/* A filter of the guest's own: `ret` for syscall `nr` (or every syscall
 * when nr < 0), allow for the rest. 0, or -1 with errno. */
static int own_filter(int nr, uint32_t ret, unsigned long flags)
{
    struct sock_filter all[] = {
        BPF_STMT(BPF_RET | BPF_K, ret),
    };
    struct sock_filter one[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, ret),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = nr < 0 ? (struct sock_fprog){ 1, all } : (struct sock_fprog){ 4, one };

    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* Runs fn in a child (filters cannot be removed again); its status. */
static int in_child(int (*fn)(uint32_t), uint32_t arg)
{
    int st;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 2;
    if (pid == 0)
        _exit(fn(arg));
    if (waitpid(pid, &st, 0) != pid)
        return 2;
    if (WIFSIGNALED(st)) {
        printf("own-filter: child died of signal %d\n", WTERMSIG(st));
        return 2;
    }
    return WEXITSTATUS(st);
}

/* What the sandbox refuses, tried under a filter of the guest's own that
 * returns SECCOMP_RET_TRACE with `data` for every call: the kernel then
 * hands the tracer the newest filter's data, the guest's. */
static int tried_under_trace(uint32_t data)
{
    char name[64];
    int bad = 0;

    if (own_filter(-1, SECCOMP_RET_TRACE | data, 0) < 0) {
        printf("own-filter-trace: could not install a filter: %s\n", ename(errno));
        return 2;
    }
    snprintf(name, sizeof(name), "own-filter-trace 0x%04x", data);
    bad |= FAIL(name, "unshare(CLONE_NEWUSER)", syscall(SYS_unshare, CLONE_NEWUSER));
    bad |= FAIL(name, "unshare(CLONE_NEWNS)", syscall(SYS_unshare, CLONE_NEWNS));
    bad |= FAIL(name, "mount(tmpfs)", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
    bad |= FAIL(name, "keyctl(read session keyring)",
                syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    bad |= FAIL(name, "io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    bad |= FAIL(name, "userfaultfd", syscall(SYS_userfaultfd, 0));
    bad |= FAIL(name, "ptrace(SEIZE, 1)", syscall(SYS_ptrace, PTRACE_SEIZE, 1, 0, 0));
    bad |=
        FAIL(name, "clone(CLONE_NEWUSER)", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
    return bad;
}

static int p_own_filter_trace(const char *arg)
{
    /* The init's old "watched" and "denied" data, no data, every errno. */
    static const uint32_t forged[] = { 0x4000, 0x8000, 0x0000, 0x0fff, 0xffff };
    int bad = 0;
    (void)arg;
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++)
        bad |= in_child(tried_under_trace, forged[i]) != 0;
    return bad;
}

/* Under a filter that returns SECCOMP_RET_USER_NOTIF for unshare but has
 * no listener, the call fails (ENOSYS): it must not run. */
static int notif_without_listener(uint32_t unused)
{
    (void)unused;
    if (own_filter(SYS_unshare, SECCOMP_RET_USER_NOTIF, 0) < 0) {
        printf("own-filter-notif: a filter without a listener: refused: %s\n", ename(errno));
        return 0;
    }
    return FAIL("own-filter-notif", "unshare(CLONE_NEWUSER) under a listener-less notif filter",
                syscall(SYS_unshare, CLONE_NEWUSER));
}

static int p_own_filter_notif(const char *arg)
{
    int bad = 0;
    (void)arg;
    /* A listener answers SECCOMP_RET_USER_NOTIF, which outranks the
     * sandbox's TRACE: with one, "continue" would run a refused call. */
    bad |= FAIL("own-filter-notif", "seccomp(NEW_LISTENER)",
                own_filter(SYS_unshare, SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER));
    bad |= in_child(notif_without_listener, 0) != 0;
    return bad;
}

/*
 * Under --deny ptrace (the test gives it): a filter of the guest's own
 * that returns ERRNO, TRAP, USER_NOTIF (no listener) or TRACE for ptrace
 * must not make the denied call survivable. ARG: errno|trap|notif|trace.
 */
static void on_sigsys(int sig)
{
    static const char msg[] = "own-filter-deny: ESCAPED: a denied call only raised a SIGSYS "
                              "the guest handled\n";
    (void)sig;
    (void)!write(1, msg, sizeof(msg) - 1);
    _exit(1);
}

static int p_own_filter_deny(const char *arg)
{
    uint32_t ret = SECCOMP_RET_ERRNO | EPERM;
    long r;

    if (arg && !strcmp(arg, "trap")) {
        ret = SECCOMP_RET_TRAP;
        signal(SIGSYS, on_sigsys);
    } else if (arg && !strcmp(arg, "notif")) {
        ret = SECCOMP_RET_USER_NOTIF;
    } else if (arg && !strcmp(arg, "trace")) {
        ret = SECCOMP_RET_TRACE;
    }
    if (own_filter(SYS_ptrace, ret, 0) < 0) {
        printf("own-filter-deny: could not install a filter: %s\n", ename(errno));
        return 2;
    }
    r = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
    printf("own-filter-deny: ESCAPED: the denied call returned %ld (%s)\n", r, ename(errno));
    return 1;
}

/* ---- the init's trust in signals ---------------------------------------- */

static volatile sig_atomic_t bounced;

static void on_bounced(int sig)
{
    (void)sig;
    bounced = 1;
}

static int p_forge_signals(const char *arg)
{
    siginfo_t si;
    struct timespec nap = { 0, 300 * 1000 * 1000 };
    (void)arg;
    signal(SIGTERM, on_bounced);
    signal(SIGINT, on_bounced);
    signal(SIGHUP, on_bounced);
    /* The init's freeze request (proto.h: SIG_FREEZE), plainly and with a
     * siginfo that claims to come from outside (pid 0). */
    kill(1, 34);
    memset(&si, 0, sizeof(si));
    si.si_signo = 34;
    si.si_code = SI_QUEUE;
    si.si_pid = 0;
    syscall(SYS_rt_sigqueueinfo, 1, 34, &si);
    /* Signals the init forwards to the guest's process group. */
    kill(1, SIGTERM);
    kill(1, SIGINT);
    si.si_signo = SIGHUP;
    syscall(SYS_rt_sigqueueinfo, 1, SIGHUP, &si);
    nanosleep(&nap, NULL);
    if (bounced) {
        printf("forge-signals: ESCAPED: the init passed on a signal the guest sent it\n");
        return 1;
    }
    /* Had a freeze been taken, this line would never be written. */
    printf("forge-signals: refused: the init ignored every signal sent from inside\n");
    return 0;
}

/* ---- tracing -------------------------------------------------------------- */

static int p_untraced(const char *arg)
{
    long r;
    (void)arg;
    fflush(stdout);
    /* A child that escapes the init's tracing: its crashes, refusals and
     * limits would go unseen. */
    r = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
    if (r == 0)
        _exit(0);
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    return must_fail("untraced", "clone(CLONE_UNTRACED)", r, errno);
}

/* ---- the init's limits and scheduling ---------------------------------- */

static int p_init_limits(const char *arg)
{
    struct rlimit none = { 0, 0 }, old;
    cpu_set_t one;
    struct sched_param sp = { 0 };
    int bad = 0;
    (void)arg;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    /* Reading them is harmless, and allowed. */
    if (syscall(SYS_prlimit64, 1, RLIMIT_NOFILE, NULL, &old) == 0)
        printf("init-limits: reading pid 1's fd limit is allowed (%llu)\n",
               (unsigned long long)old.rlim_cur);
    bad |= FAIL("init-limits", "prlimit64(1, RLIMIT_NOFILE, 0)",
                syscall(SYS_prlimit64, 1, RLIMIT_NOFILE, &none, NULL));
    bad |= FAIL("init-limits", "prlimit64(1 | 1<<32, RLIMIT_CPU, 0)",
                syscall(SYS_prlimit64, 0x100000001L, RLIMIT_CPU, &none, NULL));
    bad |= FAIL("init-limits", "setpriority(PRIO_PROCESS, 1, 19)",
                syscall(SYS_setpriority, PRIO_PROCESS, 1, 19));
    bad |= FAIL("init-limits", "setpriority(PRIO_PGRP, 1, 19)",
                syscall(SYS_setpriority, PRIO_PGRP, 1, 19));
    bad |= FAIL("init-limits", "setpriority(PRIO_USER, 0, 19)",
                syscall(SYS_setpriority, PRIO_USER, 0, 19));
    bad |= FAIL("init-limits", "sched_setaffinity(1)",
                syscall(SYS_sched_setaffinity, 1, sizeof(one), &one));
    bad |= FAIL("init-limits", "sched_setscheduler(1, SCHED_IDLE)",
                syscall(SYS_sched_setscheduler, 1, SCHED_IDLE, &sp));
    bad |= FAIL("init-limits", "sched_setparam(1)", syscall(SYS_sched_setparam, 1, &sp));
    bad |= FAIL("init-limits", "ioprio_set(PROCESS, 1)",
                syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 1, (3 << 13) | 7));
    bad |= FAIL("init-limits", "ioprio_set(USER)",
                syscall(SYS_ioprio_set, 3 /* IOPRIO_WHO_USER */, 0, (3 << 13) | 7));
    /* Its own are its own business. */
    if (setpriority(PRIO_PROCESS, 0, 5) != 0 ||
        syscall(SYS_prlimit64, 0, RLIMIT_CORE, &none, NULL)) {
        printf("init-limits: could not run: the guest's own nice or limit was refused (%s)\n",
               ename(errno));
        return 2;
    }
    return bad;
}

/* ---- set-uid files ---------------------------------------------------------- */

static int no_special_bits(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
        printf("setuid-file: ESCAPED: %s has mode %o\n", path, (unsigned)st.st_mode & 07777);
        return 1;
    }
    return 0;
}

static int p_setuid_file(const char *arg)
{
    const char *f = "/tmp/escape-mode";
    int bad = 0, fd;
    (void)arg;
    umask(0);
    unlink(f);
    bad |= FAIL("setuid-file", "open(O_CREAT, 04755)",
                syscall(SYS_open, f, O_CREAT | O_WRONLY, 04755));
    bad |= FAIL("setuid-file", "openat(O_CREAT, 02755)",
                syscall(SYS_openat, AT_FDCWD, f, O_CREAT | O_WRONLY, 02755));
    bad |= FAIL("setuid-file", "openat(O_TMPFILE, 04755)",
                syscall(SYS_openat, AT_FDCWD, "/tmp", O_TMPFILE | O_WRONLY, 04755));
    bad |= FAIL("setuid-file", "creat(04755)", syscall(SYS_creat, f, 04755));
    bad |= FAIL("setuid-file", "mknod(S_IFREG | 04755)", syscall(SYS_mknod, f, S_IFREG | 04755, 0));
    bad |= FAIL("setuid-file", "openat2", syscall(SYS_openat2, AT_FDCWD, f, NULL, 0));
    fd = open(f, O_CREAT | O_WRONLY, 0755);
    if (fd < 0) {
        printf("setuid-file: could not run: creating %s: %s\n", f, ename(errno));
        return 2;
    }
    bad |= FAIL("setuid-file", "chmod(04755)", syscall(SYS_chmod, f, 04755));
    bad |= FAIL("setuid-file", "fchmod(02755)", syscall(SYS_fchmod, fd, 02755));
    bad |= FAIL("setuid-file", "fchmodat(06755)", syscall(SYS_fchmodat, AT_FDCWD, f, 06755));
    bad |= FAIL("setuid-file", "chmod(04755 with high bits set)",
                syscall(SYS_chmod, f, 0x1000000000000000L | 04755));
    close(fd);
    bad |= no_special_bits(f);
    /* An ordinary mode change still works. */
    if (chmod(f, 0700) != 0) {
        printf("setuid-file: could not run: chmod(0700): %s\n", ename(errno));
        return 2;
    }
    unlink(f);
    return bad;
}

/* ---- /proc ---------------------------------------------------------------- */

static int p_proc_masked(const char *arg)
{
    static const char *const files[] = {
        "/proc/cmdline",     "/proc/keys",          "/proc/key-users", "/proc/timer_list",
        "/proc/sched_debug", "/proc/latency_stats", "/proc/kcore",     "/proc/timer_stats",
    };
    int bad = 0;
    (void)arg;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char buf[256];
        int fd = open(files[i], O_RDONLY);
        ssize_t n;
        if (fd < 0) {
            printf("proc-masked: refused: open(%s): %s\n", files[i], ename(errno));
            continue;
        }
        n = read(fd, buf, sizeof(buf));
        close(fd);
        if (n > 0) {
            printf("proc-masked: ESCAPED: read %zd bytes of %s\n", n, files[i]);
            bad = 1;
        } else {
            printf("proc-masked: refused: %s reads %s\n", files[i],
                   n == 0 ? "empty" : ename(errno));
        }
    }
    return bad;
}

/* pid 1's command line must not hold what the test passes as ARG (a
 * --secret value given to sandboxvm). */
static int p_init_cmdline(const char *arg)
{
    char buf[65536];
    int fd = open("/proc/1/cmdline", O_RDONLY);
    ssize_t n;

    if (!arg || !*arg) {
        printf("init-cmdline: could not run: give the secret to look for\n");
        return 2;
    }
    if (fd < 0) {
        printf("init-cmdline: refused: open(/proc/1/cmdline): %s\n", ename(errno));
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    if (n > 0 && memmem(buf, (size_t)n, arg, strlen(arg))) {
        printf("init-cmdline: ESCAPED: /proc/1/cmdline holds the secret: %s\n", buf);
        return 1;
    }
    printf("init-cmdline: refused: /proc/1/cmdline (%zd bytes) does not hold it: [%s]\n", n, buf);
    return 0;
}

/* ---- resources -------------------------------------------------------------- */

/* Whether the guest can lower its OOM score (to be spared by the OOM
 * killer at the host's expense): refused where the supervisor could set a
 * floor (CAP_SYS_RESOURCE); the test says which to expect. */
static int p_oom_score(const char *arg)
{
    FILE *f = fopen("/proc/self/oom_score_adj", "r+");
    int adj = -1;

    if (!f) {
        printf("oom-score: could not run: %s\n", ename(errno));
        return 2;
    }
    if (fscanf(f, "%d", &adj) == 1)
        printf("oom-score: oom_score_adj %d\n", adj);
    rewind(f);
    if (fprintf(f, "0\n") > 0 && fflush(f) == 0) {
        fclose(f);
        printf("oom-score: lowered to 0\n");
        return arg && !strcmp(arg, "may-lower") ? 0 : 1;
    }
    printf("oom-score: refused: lowering oom_score_adj to 0: %s\n", ename(errno));
    fclose(f);
    return 0;
}

/* Holds memory in memfds, which no process's RSS counts: ARG MiB in all
 * (default 1024), 64 MiB each. */
static int p_memfd_hog(const char *arg)
{
    long want = arg ? atol(arg) : 1024, got = 0;

    while (got < want) {
        int fd = (int)syscall(SYS_memfd_create, "hog", 0);
        if (fd < 0) {
            printf("memfd-hog: refused: memfd_create after %ld MiB: %s\n", got, ename(errno));
            return 0;
        }
        if (fallocate(fd, 0, 0, 64L << 20) < 0) {
            printf("memfd-hog: refused: fallocate after %ld MiB: %s\n", got, ename(errno));
            return 0;
        }
        got += 64;
    }
    printf("memfd-hog: holding %ld MiB in memfds\n", got);
    fflush(stdout);
    pause();
    return 1;
}

const struct probe self_probes[] = {
    { "own-filter-trace", "a filter of the guest's own forging the init's trace data",
      p_own_filter_trace, false, true },
    { "own-filter-notif", "a user-notification filter answering the sandbox's refusals",
      p_own_filter_notif, false, true },
    { "own-filter-deny", "a filter of the guest's own making a --deny call survivable (ARG)",
      p_own_filter_deny, false, false },
    { "forge-signals", "signals to pid 1 forging a freeze or a forwarded signal", p_forge_signals,
      false, true },
    { "untraced", "a child that escapes tracing (CLONE_UNTRACED)", p_untraced, false, true },
    { "init-limits", "pid 1's limits, nice value and scheduling", p_init_limits, false, true },
    { "setuid-file", "a set-uid or set-gid file, for the host to run later", p_setuid_file, false,
      true },
    { "proc-masked", "host details in /proc: cmdline, keys, timers, kcore", p_proc_masked, false,
      true },
    { "init-cmdline", "a --secret value in pid 1's command line (ARG: the value)", p_init_cmdline,
      false, false },
    { "oom-score", "lowering its OOM score (ARG may-lower: the host cannot stop it)", p_oom_score,
      false, false },
    { "memfd-hog", "memory in memfds, outside every RSS (ARG MiB)", p_memfd_hog, false, false },
};

const size_t self_probe_count = sizeof(self_probes) / sizeof(self_probes[0]);
