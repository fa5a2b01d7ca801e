/* SPDX-License-Identifier: MIT */
/* confine.c: the namespaces, empty root and system-call allowlist of a device back-end. */
#include "devices/confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <grp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/util.h"

static int step(char *why, size_t len, int err, const char *what)
{
    snprintf(why, len, "%s: %s", what, strerror(err));
    return -err;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        rc = -errno;
    close(fd);
    return rc;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Closes every fd but those in keep[]. */
static int close_others(const int *keep, unsigned n)
{
    int sorted[CONFINE_NOFILE];
    unsigned m = 0, lo = 0;

    for (unsigned i = 0; i < n && m < CONFINE_NOFILE; i++)
        if (keep[i] >= 0)
            sorted[m++] = keep[i];
    qsort(sorted, m, sizeof(int), cmp_int);
    for (unsigned i = 0; i < m; i++) {
        if ((unsigned)sorted[i] > lo && syscall(SYS_close_range, lo, sorted[i] - 1, 0) < 0)
            return -errno;
        lo = (unsigned)sorted[i] + 1;
    }
    return syscall(SYS_close_range, lo, ~0u, 0) < 0 ? -errno : 0;
}

static int log_fd_for_sigsys = -1;

/* A refused call: say which, then end (the process is not trusted to go on). */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    char msg[96] = "the device back-end's filter refused system call ";
    size_t n = strlen(msg);
    int nr = si->si_syscall;
    char digits[12];
    int k = 0;

    (void)sig;
    (void)uc;
    if (nr < 0)
        nr = 0;
    do {
        digits[k++] = (char)('0' + nr % 10);
        nr /= 10;
    } while (nr && k < (int)sizeof(digits));
    while (k > 0 && n < sizeof(msg) - 2)
        msg[n++] = digits[--k];
    msg[n++] = '\n';
    if (log_fd_for_sigsys >= 0 && write(log_fd_for_sigsys, msg, n) < 0)
        n = 0;
    syscall(SYS_exit_group, 126);
}

/* The calls serving needs, and only those. */
static int install_filter(char *why, size_t whylen)
{
    static const int allow[] = {
        SCMP_SYS(read),
        SCMP_SYS(write),
        SCMP_SYS(readv),
        SCMP_SYS(writev),
        SCMP_SYS(pread64),
        SCMP_SYS(pwrite64),
        SCMP_SYS(preadv),
        SCMP_SYS(pwritev),
        SCMP_SYS(preadv2),
        SCMP_SYS(pwritev2),
        SCMP_SYS(close),
        SCMP_SYS(fsync),
        SCMP_SYS(fdatasync),
        SCMP_SYS(fallocate),
        SCMP_SYS(lseek),
        SCMP_SYS(fstat),
        SCMP_SYS(recvmsg),
        SCMP_SYS(sendmsg),
        SCMP_SYS(recvfrom),
        SCMP_SYS(sendto),
        SCMP_SYS(accept4),
        SCMP_SYS(accept),
        SCMP_SYS(shutdown),
        SCMP_SYS(epoll_create1),
        SCMP_SYS(epoll_ctl),
        SCMP_SYS(epoll_wait),
        SCMP_SYS(epoll_pwait),
        SCMP_SYS(munmap),
        SCMP_SYS(madvise),
        SCMP_SYS(mremap),
        SCMP_SYS(brk),
        SCMP_SYS(clock_gettime),
        SCMP_SYS(clock_nanosleep),
        SCMP_SYS(nanosleep),
        SCMP_SYS(gettimeofday),
        SCMP_SYS(getpid),
        SCMP_SYS(gettid),
        SCMP_SYS(getrandom),
        SCMP_SYS(futex),
        SCMP_SYS(getuid),
        SCMP_SYS(geteuid),
        SCMP_SYS(getgid),
        SCMP_SYS(getegid),
        SCMP_SYS(sigaltstack),
        SCMP_SYS(rt_sigreturn),
        SCMP_SYS(rt_sigprocmask),
        SCMP_SYS(exit),
        SCMP_SYS(exit_group),
        SCMP_SYS(restart_syscall),
        SCMP_SYS(sched_yield),
    };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    int rc = 0;

    if (!ctx)
        return step(why, whylen, ENOMEM, "building the system-call filter");
    for (size_t i = 0; i < ARRAY_SIZE(allow) && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i], 0);
    /* Mappings and protections: never executable. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* fstat() through newfstatat(fd, "", AT_EMPTY_PATH): the root is empty
     * anyway, so a path finds nothing. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
                              SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
    /* fcntl: the flags and close-on-exec, nothing else (no F_SETOWN, leases,
     * seals, pipe sizes). */
    for (int cmd = F_GETFD; cmd <= F_SETFL && rc == 0; cmd++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
                              SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)cmd));
    /* A library probing a file (a random device) learns it cannot. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc < 0 ? step(why, whylen, -rc, "installing the system-call filter") : 0;
}

static int drop_capabilities(char *why, size_t whylen)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];

    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break;
            return step(why, whylen, errno, "dropping the capability bounding set");
        }
    if (prctl(PR_SET_SECUREBITS,
              SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                  SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
              0, 0, 0) < 0)
        return step(why, whylen, errno, "locking the securebits");
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capset, &hdr, data) < 0)
        return step(why, whylen, errno, "dropping capabilities");
    return 0;
}

int confine_enter(const int *keep, unsigned nkeep, int log_fd, char *why, size_t whylen)
{
    char map[64];
    uid_t uid;
    gid_t gid;
    struct rlimit rl;
    struct sigaction sa;
    int rc;

    if ((rc = close_others(keep, nkeep)) < 0)
        return step(why, whylen, -rc, "closing inherited descriptors");
    /* Root's back-end becomes the host's nobody before anything else (its
     * descriptors were opened as root and keep working); anyone else's
     * stays themselves. The uid change makes the process non-dumpable,
     * which would leave /proc/self's maps to root: dumpable again, until
     * the end. */
    if (getuid() == 0 || geteuid() == 0) {
        if (setgroups(0, NULL) < 0 || syscall(SYS_setresgid, 65534, 65534, 65534) < 0 ||
            syscall(SYS_setresuid, 65534, 65534, 65534) < 0)
            return step(why, whylen, errno, "becoming nobody");
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
            return step(why, whylen, errno, "setting dumpable");
    }
    /* After the uid change, which clears it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return step(why, whylen, errno, "tying the back-end to its parent");
    if (getppid() == 1)
        return step(why, whylen, ESRCH, "the parent is gone");
    /* Both ids now: once the namespace exists they read as the overflow id
     * until mapped. */
    uid = getuid();
    gid = getgid();
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                CLONE_NEWCGROUP) < 0)
        return step(why, whylen, errno, "creating namespaces (are user namespaces allowed?)");
    if ((rc = write_file("/proc/self/uid_map", map)) < 0)
        return step(why, whylen, -rc, "writing the uid map");
    if ((rc = write_file("/proc/self/setgroups", "deny")) < 0)
        return step(why, whylen, -rc, "writing setgroups");
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
    if ((rc = write_file("/proc/self/gid_map", map)) < 0)
        return step(why, whylen, -rc, "writing the gid map");
    /* An empty root: a tmpfs over /tmp (in this mount namespace only),
     * pivoted into, the old root detached, then made read-only. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return step(why, whylen, errno, "making mounts private");
    if (mount("sbvm-device", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=16k,mode=0555") < 0)
        return step(why, whylen, errno, "mounting the empty root");
    if (chdir("/tmp") < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
        return step(why, whylen, errno, "pivoting into the empty root");
    if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        return step(why, whylen, errno, "detaching the host's root");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) < 0)
        return step(why, whylen, errno, "making the root read-only");
    if (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0)
        return step(why, whylen, errno, "switching to the namespace's ids");
    if ((rc = drop_capabilities(why, whylen)) < 0)
        return rc;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return step(why, whylen, errno, "setting no_new_privs");
    rl.rlim_cur = rl.rlim_max = CONFINE_NOFILE;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return step(why, whylen, errno, "limiting descriptors");
    rl.rlim_cur = rl.rlim_max = 0;
    if (setrlimit(RLIMIT_CORE, &rl) < 0 || setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
        return step(why, whylen, errno, "limiting core dumps and locked memory");
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    log_fd_for_sigsys = log_fd;
    if (sigaction(SIGSYS, &sa, NULL) < 0)
        return step(why, whylen, errno, "installing the refusal handler");
    return install_filter(why, whylen);
}
