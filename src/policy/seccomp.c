/* SPDX-License-Identifier: MIT */
/* seccomp.c: the default syscall policy and its compilation to BPF. */
#include "policy/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/process/proto.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

#define A SECCOMP_RULE_ALLOW
#define P SECCOMP_RULE_EPERM
#define N SECCOMP_RULE_ENOSYS
#define G SECCOMP_RULE_GUARDED

/*
 * The allowlist. One line per syscall, with who needs it. Names libseccomp
 * does not know (newer than it) are skipped: they fall to the default, ENOSYS.
 */
static const struct seccomp_rule rules[] = {
    /* Files and descriptors: everything that reads or writes. */
    { "read", A, "all I/O" },
    { "write", A, "all I/O" },
    { "readv", A, "vectored I/O" },
    { "writev", A, "vectored I/O" },
    { "pread64", A, "positioned I/O" },
    { "pwrite64", A, "positioned I/O" },
    { "preadv", A, "positioned I/O" },
    { "pwritev", A, "positioned I/O" },
    { "preadv2", A, "positioned I/O" },
    { "pwritev2", A, "positioned I/O" },
    { "open", G, "opening files; creating set-uid or set-gid files refused (filter 2)" },
    { "openat", G, "opening files; creating set-uid or set-gid files refused (filter 2)" },
    { "openat2", N,
      "its mode lives in memory a filter cannot read (set-uid files): ENOSYS makes callers "
      "fall back to openat" },
    { "creat", G, "old-style file creation; set-uid and set-gid modes refused (filter 2)" },
    { "close", A, "closing files" },
    { "close_range", A, "closing fd ranges before exec" },
    { "lseek", A, "seeking" },
    { "stat", A, "file metadata" },
    { "fstat", A, "file metadata" },
    { "lstat", A, "file metadata" },
    { "newfstatat", A, "file metadata" },
    { "statx", A, "file metadata" },
    { "statfs", A, "filesystem metadata" },
    { "fstatfs", A, "filesystem metadata" },
    { "access", A, "permission checks" },
    { "faccessat", A, "permission checks" },
    { "faccessat2", A, "permission checks" },
    { "dup", A, "fd duplication" },
    { "dup2", A, "fd duplication" },
    { "dup3", A, "fd duplication" },
    { "fcntl", A, "fd flags and locks" },
    { "flock", A, "advisory locks (git, package tools)" },
    { "fsync", A, "durability" },
    { "fdatasync", A, "durability" },
    { "syncfs", A, "durability" },
    { "sync", A, "durability" },
    { "sync_file_range", A, "durability" },
    { "truncate", A, "resizing files" },
    { "ftruncate", A, "resizing files" },
    { "fallocate", A, "preallocating files" },
    { "fadvise64", A, "I/O hints" },
    { "readahead", A, "I/O hints" },
    { "getdents", A, "directory listing" },
    { "getdents64", A, "directory listing" },
    { "getcwd", A, "working directory" },
    { "chdir", A, "working directory" },
    { "fchdir", A, "working directory" },
    { "rename", A, "renaming" },
    { "renameat", A, "renaming" },
    { "renameat2", A, "renaming" },
    { "mkdir", A, "directories" },
    { "mkdirat", A, "directories" },
    { "rmdir", A, "directories" },
    { "link", A, "hard links" },
    { "linkat", A, "hard links" },
    { "unlink", A, "removing files" },
    { "unlinkat", A, "removing files" },
    { "symlink", A, "symlinks" },
    { "symlinkat", A, "symlinks" },
    { "readlink", A, "symlinks" },
    { "readlinkat", A, "symlinks" },
    { "chmod", G, "permissions; set-uid and set-gid bits refused (filter 2)" },
    { "fchmod", G, "permissions; set-uid and set-gid bits refused (filter 2)" },
    { "fchmodat", G, "permissions; set-uid and set-gid bits refused (filter 2)" },
    { "fchmodat2", G, "permissions; set-uid and set-gid bits refused (filter 2)" },
    { "chown", A, "ownership (within the guest's own ids)" },
    { "fchown", A, "ownership" },
    { "lchown", A, "ownership" },
    { "fchownat", A, "ownership" },
    { "umask", A, "file creation mask" },
    { "utime", A, "timestamps (make, tar)" },
    { "utimes", A, "timestamps" },
    { "futimesat", A, "timestamps" },
    { "utimensat", A, "timestamps" },
    { "mknod", G,
      "FIFOs and sockets; device nodes need a capability the guest lacks; set-uid and "
      "set-gid modes refused (filter 2)" },
    { "mknodat", G, "FIFOs and sockets; set-uid and set-gid modes refused (filter 2)" },
    { "setxattr", A, "extended attributes" },
    { "lsetxattr", A, "extended attributes" },
    { "fsetxattr", A, "extended attributes" },
    { "getxattr", A, "extended attributes" },
    { "lgetxattr", A, "extended attributes" },
    { "fgetxattr", A, "extended attributes" },
    { "listxattr", A, "extended attributes" },
    { "llistxattr", A, "extended attributes" },
    { "flistxattr", A, "extended attributes" },
    { "removexattr", A, "extended attributes" },
    { "lremovexattr", A, "extended attributes" },
    { "fremovexattr", A, "extended attributes" },
    { "sendfile", A, "zero-copy file transfer (cp, servers)" },
    { "copy_file_range", A, "zero-copy file transfer (cp)" },
    { "splice", A, "pipe transfer" },
    { "tee", A, "pipe transfer" },
    { "vmsplice", A, "pipe transfer" },
    { "pipe", A, "pipes" },
    { "pipe2", A, "pipes" },
    { "ioctl", G, "terminal and device control; TIOCSTI/TIOCLINUX refused (filter 2)" },
    { "inotify_init", A, "file watching" },
    { "inotify_init1", A, "file watching" },
    { "inotify_add_watch", A, "file watching" },
    { "inotify_rm_watch", A, "file watching" },
    { "memfd_create", A, "anonymous files (JITs, interpreters)" },
    { "memfd_secret", A, "secret memory areas" },

    /* Memory. */
    { "brk", A, "heap" },
    { "mmap", A, "mappings" },
    { "munmap", A, "mappings" },
    { "mremap", A, "mappings" },
    { "mprotect", A, "mappings (loaders, JITs)" },
    { "msync", A, "mappings" },
    { "mincore", A, "mappings" },
    { "madvise", A, "mapping hints (allocators)" },
    { "mlock", A, "locking memory, bounded by RLIMIT_MEMLOCK" },
    { "mlock2", A, "locking memory" },
    { "munlock", A, "locking memory" },
    { "mlockall", A, "locking memory" },
    { "munlockall", A, "locking memory" },
    { "remap_file_pages", A, "mappings (deprecated but harmless)" },
    { "pkey_mprotect", A, "memory protection keys" },
    { "pkey_alloc", A, "memory protection keys" },
    { "pkey_free", A, "memory protection keys" },
    { "membarrier", A, "JIT and runtime barriers" },
    { "map_shadow_stack", A, "CET shadow stacks" },
    { "mseal", A, "sealing mappings" },

    /* Processes and threads. */
    { "clone", G, "fork and threads; namespace flags and CLONE_UNTRACED refused (filter 2)" },
    { "clone3", N,
      "its flags live in memory a filter cannot read: ENOSYS makes libc fall back "
      "to clone" },
    { "fork", A, "processes" },
    { "vfork", A, "processes (posix_spawn, shells)" },
    { "execve", A, "running programs" },
    { "execveat", A, "running programs" },
    { "exit", A, "thread exit" },
    { "exit_group", A, "process exit" },
    { "wait4", A, "reaping children" },
    { "waitid", A, "reaping children" },
    { "kill", A, "signals, confined to the guest's pid namespace" },
    { "tkill", A, "signals" },
    { "tgkill", A, "signals" },
    { "pidfd_open", A, "process handles" },
    { "pidfd_send_signal", A, "process handles" },
    { "getpid", A, "identity" },
    { "getppid", A, "identity" },
    { "gettid", A, "identity" },
    { "getpgid", A, "process groups (shells, job control)" },
    { "setpgid", A, "process groups" },
    { "getpgrp", A, "process groups" },
    { "getsid", A, "sessions" },
    { "setsid", A, "sessions (daemons, shells)" },
    { "set_tid_address", A, "thread start-up (libc)" },
    { "set_robust_list", A, "thread start-up (libc)" },
    { "get_robust_list", A, "thread bookkeeping" },
    { "rseq", A, "restartable sequences (glibc registers one per thread)" },
    { "arch_prctl", A, "thread-local storage set-up" },
    { "set_thread_area", A, "thread-local storage (legacy)" },
    { "get_thread_area", A, "thread-local storage (legacy)" },
    { "prctl", A, "process attributes (names, no_new_privs, own seccomp filters)" },
    { "seccomp", G,
      "guests may restrict themselves further; a user-notification listener, whose answer "
      "outranks the sandbox's own refusals, is refused (filter 2)" },
    { "personality", G, "only the standard personality, ADDR_NO_RANDOMIZE and the query" },
    { "futex", A, "locks and condition variables" },
    { "futex_waitv", A, "locks (wine, games)" },
    { "futex_wake", A, "locks" },
    { "futex_wait", A, "locks" },
    { "futex_requeue", A, "locks" },
    { "sched_yield", A, "scheduling" },
    { "sched_getaffinity", A, "CPU count (nproc, runtimes)" },
    { "sched_setaffinity", G, "CPU pinning within the guest's own set; not of pid 1 (filter 2)" },
    { "sched_getparam", A, "scheduling" },
    { "sched_setparam", G, "scheduling; not of pid 1, the sandbox's init (filter 2)" },
    { "sched_getscheduler", A, "scheduling" },
    { "sched_setscheduler", G,
      "scheduling (real-time needs a capability the guest lacks); not of pid 1 (filter 2)" },
    { "sched_get_priority_max", A, "scheduling" },
    { "sched_get_priority_min", A, "scheduling" },
    { "sched_rr_get_interval", A, "scheduling" },
    { "sched_getattr", A, "scheduling" },
    { "sched_setattr", G, "scheduling; not of pid 1, the sandbox's init (filter 2)" },
    { "getpriority", A, "nice values" },
    { "setpriority", G,
      "nice values (raising needs a capability the guest lacks); not of pid 1 or by user "
      "(filter 2)" },
    { "ioprio_get", A, "I/O priority" },
    { "ioprio_set", G, "I/O priority; not of pid 1 or by user (filter 2)" },
    { "getcpu", A, "CPU identity" },

    /* Credentials: the guest has one uid and no capabilities, so these can
     * only report or re-set what it already has. */
    { "getuid", A, "identity" },
    { "geteuid", A, "identity" },
    { "getgid", A, "identity" },
    { "getegid", A, "identity" },
    { "getresuid", A, "identity" },
    { "getresgid", A, "identity" },
    { "getgroups", A, "identity" },
    { "setuid", A, "identity (no effect without capabilities)" },
    { "setgid", A, "identity" },
    { "setreuid", A, "identity" },
    { "setregid", A, "identity" },
    { "setresuid", A, "identity" },
    { "setresgid", A, "identity" },
    { "setfsuid", A, "identity" },
    { "setfsgid", A, "identity" },
    { "setgroups", A, "identity (refused by the kernel in the guest's namespace)" },
    { "capget", A, "reading capabilities" },
    { "capset", A, "dropping capabilities" },

    /* Signals and time. */
    { "rt_sigaction", A, "signal handlers" },
    { "rt_sigprocmask", A, "signal masks" },
    { "rt_sigreturn", A, "signal handlers" },
    { "rt_sigpending", A, "signals" },
    { "rt_sigtimedwait", A, "signals" },
    { "rt_sigqueueinfo", A, "signals" },
    { "rt_tgsigqueueinfo", A, "signals" },
    { "rt_sigsuspend", A, "signals" },
    { "sigaltstack", A, "alternate signal stacks (runtimes)" },
    { "pause", A, "waiting" },
    { "nanosleep", A, "sleeping" },
    { "clock_nanosleep", A, "sleeping" },
    { "clock_gettime", A, "time" },
    { "clock_getres", A, "time" },
    { "gettimeofday", A, "time" },
    { "time", A, "time" },
    { "times", A, "CPU time" },
    { "getrusage", A, "CPU time" },
    { "getitimer", A, "timers" },
    { "setitimer", A, "timers" },
    { "alarm", A, "timers" },
    { "timer_create", A, "timers" },
    { "timer_settime", A, "timers" },
    { "timer_gettime", A, "timers" },
    { "timer_getoverrun", A, "timers" },
    { "timer_delete", A, "timers" },
    { "timerfd_create", A, "timers" },
    { "timerfd_settime", A, "timers" },
    { "timerfd_gettime", A, "timers" },
    { "signalfd", A, "signals as fds" },
    { "signalfd4", A, "signals as fds" },
    { "eventfd", A, "event fds" },
    { "eventfd2", A, "event fds" },

    /* Waiting for I/O. */
    { "poll", A, "waiting" },
    { "ppoll", A, "waiting" },
    { "select", A, "waiting" },
    { "pselect6", A, "waiting" },
    { "epoll_create", A, "waiting" },
    { "epoll_create1", A, "waiting" },
    { "epoll_ctl", A, "waiting" },
    { "epoll_wait", A, "waiting" },
    { "epoll_pwait", A, "waiting" },
    { "epoll_pwait2", A, "waiting" },
    { "io_setup", A, "Linux AIO (databases, qemu-img)" },
    { "io_destroy", A, "Linux AIO" },
    { "io_submit", A, "Linux AIO" },
    { "io_cancel", A, "Linux AIO" },
    { "io_getevents", A, "Linux AIO" },
    { "io_pgetevents", A, "Linux AIO" },

    /* Sockets: confined to the guest's own network namespace. */
    { "socket", G, "unix, inet, inet6 and netlink only (filter 2)" },
    { "socketpair", G, "unix only (filter 2)" },
    { "connect", A, "sockets" },
    { "accept", A, "sockets" },
    { "accept4", A, "sockets" },
    { "bind", A, "sockets" },
    { "listen", A, "sockets" },
    { "shutdown", A, "sockets" },
    { "getsockname", A, "sockets" },
    { "getpeername", A, "sockets" },
    { "setsockopt", A, "sockets" },
    { "getsockopt", A, "sockets" },
    { "sendto", A, "sockets" },
    { "recvfrom", A, "sockets" },
    { "sendmsg", A, "sockets" },
    { "recvmsg", A, "sockets" },
    { "sendmmsg", A, "sockets" },
    { "recvmmsg", A, "sockets" },

    /* System V and POSIX IPC: confined to the guest's own IPC namespace. */
    { "shmget", A, "SysV shared memory" },
    { "shmat", A, "SysV shared memory" },
    { "shmdt", A, "SysV shared memory" },
    { "shmctl", A, "SysV shared memory" },
    { "semget", A, "SysV semaphores" },
    { "semop", A, "SysV semaphores" },
    { "semtimedop", A, "SysV semaphores" },
    { "semctl", A, "SysV semaphores" },
    { "msgget", A, "SysV messages" },
    { "msgsnd", A, "SysV messages" },
    { "msgrcv", A, "SysV messages" },
    { "msgctl", A, "SysV messages" },
    { "mq_open", A, "POSIX message queues" },
    { "mq_unlink", A, "POSIX message queues" },
    { "mq_timedsend", A, "POSIX message queues" },
    { "mq_timedreceive", A, "POSIX message queues" },
    { "mq_notify", A, "POSIX message queues" },
    { "mq_getsetattr", A, "POSIX message queues" },

    /* System information and limits. */
    { "uname", A, "system identification" },
    { "sysinfo", A, "memory and load (runtimes size their heaps)" },
    { "getrlimit", A, "limits" },
    { "setrlimit", A, "limits (only lowering without capabilities)" },
    { "prlimit64", G, "limits (libc's setrlimit); setting pid 1's refused (filter 2)" },
    { "getrandom", A, "randomness" },
    { "restart_syscall", A, "kernel-internal restarts" },
    { "landlock_create_ruleset", A, "guests may restrict themselves further" },
    { "landlock_add_rule", A, "guests may restrict themselves further" },
    { "landlock_restrict_self", A, "guests may restrict themselves further" },
    { "cachestat", A, "page cache statistics" },

    /* Refused with EPERM: privileged operations and ways out. */
    { "ptrace", P, "debugging other processes: the host's crash capture owns that" },
    { "process_vm_readv", P, "reading another process's memory" },
    { "process_vm_writev", P, "writing another process's memory" },
    { "kcmp", P, "comparing kernel objects across processes" },
    { "pidfd_getfd", P, "stealing another process's fds" },
    { "process_madvise", P, "acting on another process's memory" },
    { "process_mrelease", P, "acting on another process's memory" },
    { "unshare", P, "new namespaces" },
    { "setns", P, "entering namespaces" },
    { "mount", P, "mounting" },
    { "umount2", P, "unmounting" },
    { "pivot_root", P, "changing root" },
    { "chroot", P, "changing root" },
    { "open_tree", P, "mount API" },
    { "move_mount", P, "mount API" },
    { "fsopen", P, "mount API" },
    { "fsconfig", P, "mount API" },
    { "fsmount", P, "mount API" },
    { "fspick", P, "mount API" },
    { "mount_setattr", P, "mount API" },
    { "swapon", P, "swap" },
    { "swapoff", P, "swap" },
    { "reboot", P, "reboot" },
    { "kexec_load", P, "loading a kernel" },
    { "kexec_file_load", P, "loading a kernel" },
    { "init_module", P, "kernel modules" },
    { "finit_module", P, "kernel modules" },
    { "delete_module", P, "kernel modules" },
    { "acct", P, "process accounting" },
    { "quotactl", P, "disk quotas" },
    { "quotactl_fd", P, "disk quotas" },
    { "sethostname", P, "host name" },
    { "setdomainname", P, "domain name" },
    { "settimeofday", P, "setting the clock" },
    { "clock_settime", P, "setting the clock" },
    { "clock_adjtime", P, "adjusting the clock" },
    { "adjtimex", P, "adjusting the clock" },
    { "syslog", P, "the kernel log" },
    { "bpf", P, "eBPF" },
    { "perf_event_open", P, "performance counters (side channels)" },
    { "keyctl", P, "kernel keyrings (not namespaced)" },
    { "add_key", P, "kernel keyrings" },
    { "request_key", P, "kernel keyrings" },
    { "iopl", P, "port I/O" },
    { "ioperm", P, "port I/O" },
    { "modify_ldt", P, "segment descriptors (historic exploit vector)" },
    { "vhangup", P, "terminal hang-up" },
    { "fanotify_init", P, "filesystem-wide monitoring" },
    { "fanotify_mark", P, "filesystem-wide monitoring" },
    { "open_by_handle_at", P, "opening files by handle (bypasses paths)" },
    { "name_to_handle_at", N, "file handles (callers fall back to paths)" },
    { "lookup_dcookie", P, "profiling" },

    /* Refused with ENOSYS: features a program probes for and can live
     * without. Listed for the record; the default does the same. */
    { "io_uring_setup", N, "io_uring: a large kernel attack surface; callers fall back" },
    { "io_uring_enter", N, "io_uring" },
    { "io_uring_register", N, "io_uring" },
    { "userfaultfd", N, "userfaultfd: stretches kernel race windows" },
    { "mbind", N, "NUMA policy" },
    { "set_mempolicy", N, "NUMA policy" },
    { "get_mempolicy", N, "NUMA policy" },
    { "migrate_pages", N, "NUMA page migration" },
    { "move_pages", N, "NUMA page migration" },
    { "set_mempolicy_home_node", N, "NUMA policy" },
    { "uselib", N, "obsolete" },
    { "ustat", N, "obsolete" },
    { "sysfs", N, "obsolete" },
    { "_sysctl", N, "obsolete" },
    { "nfsservctl", N, "obsolete" },
};

#undef A
#undef P
#undef N
#undef G

const struct seccomp_rule *seccomp_rules(size_t *count)
{
    *count = ARRAY_SIZE(rules);
    return rules;
}

static void release_ctx(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}

#define _cleanup_seccomp_ __attribute__((cleanup(release_ctx)))

/* Exports a filter as raw BPF into *out. */
static int export_prog(struct seccomp_plan *plan, struct sock_fprog *out, scmp_filter_ctx ctx,
                       const char *which, sbvm_error **err)
{
    _cleanup_close_ int fd = -1;
    struct stat st;
    struct sock_filter *insns;
    long n;
    int r;

    fd = memfd_create("sbvm-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return error_sys(err, errno, "seccomp: creating a buffer for the %s filter", which);
    r = seccomp_export_bpf(ctx, fd);
    if (r < 0)
        return error_sys(err, -r, "seccomp: exporting the %s filter", which);
    if (fstat(fd, &st) < 0)
        return error_sys(err, errno, "seccomp: sizing the %s filter", which);
    if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
        st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
        return error_set(err, EINVAL, "seccomp: the %s filter has an invalid size (%lld bytes)",
                         which, (long long)st.st_size);
    insns = malloc((size_t)st.st_size);
    if (!insns)
        return error_set(err, ENOMEM, "seccomp: out of memory");
    if (lseek(fd, 0, SEEK_SET) < 0 ||
        (n = read_full(fd, insns, (size_t)st.st_size)) != (long)st.st_size) {
        free(insns);
        return error_set(err, EIO, "seccomp: reading back the %s filter", which);
    }
    plan->owned = true;
    out->filter = insns;
    out->len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
    return 0;
}

static int ctx_new(scmp_filter_ctx *ctx, uint32_t def, sbvm_error **err)
{
    int r;

    *ctx = seccomp_init(def);
    if (!*ctx)
        return error_set(err, ENOMEM, "seccomp: creating a filter context failed");
    /* A syscall through another ABI (int 0x80, the x32 bit) ends the guest:
     * no legitimate 64-bit program does it, and a denylist keyed on x86_64
     * numbers would otherwise be bypassed. */
    r = seccomp_attr_set(*ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (r == 0)
        r = seccomp_attr_set(*ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (r == 0)
        r = seccomp_attr_set(*ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (r < 0)
        return error_sys(err, -r, "seccomp: setting filter attributes");
    return 0;
}

/* Syscalls whose refusal keeps the guest inside its sandbox (or the host's
 * kernel out of reach): --allow cannot lift them. */
static const char *const locked_names[] = {
    "unshare",
    "setns",
    "clone3",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "bpf",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "iopl",
    "ioperm",
    "modify_ldt",
    "keyctl",
    "add_key",
    "request_key",
    "syslog",
    "open_by_handle_at",
};

static bool in_list(const struct strv *l, const char *name)
{
    return l && strv_find(l, name) >= 0;
}

int seccomp_name_check(const char *name, bool allow, sbvm_error **err)
{
    if (!name || !*name || seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name) < 0)
        return error_set(err, EINVAL,
                         "--%s %s: not a syscall name (use the x86_64 name, e.g. openat)",
                         allow ? "allow" : "deny", name ? name : "");
    if (allow)
        for (size_t i = 0; i < ARRAY_SIZE(locked_names); i++)
            if (streq(locked_names[i], name))
                return error_set(err, EPERM,
                                 "--allow %s: refused; %s stays blocked because it would let "
                                 "a guest out of its sandbox or reach into the host's kernel",
                                 name, name);
    return 0;
}

const char *seccomp_syscall_name(int nr)
{
    return seccomp_syscall_name_abi(SECCOMP_ABI_X86_64, nr);
}

#define X32_SYSCALL_BIT 0x40000000u

enum seccomp_abi seccomp_abi_of(uint32_t arch, uint64_t nr)
{
    if (arch == AUDIT_ARCH_I386)
        return SECCOMP_ABI_I386;
    if (arch != AUDIT_ARCH_X86_64)
        return SECCOMP_ABI_OTHER;
    return (nr & X32_SYSCALL_BIT) ? SECCOMP_ABI_X32 : SECCOMP_ABI_X86_64;
}

const char *seccomp_abi_name(enum seccomp_abi abi)
{
    static const char *const names[] = { "x86_64", "x32", "i386", "unknown" };
    return names[abi <= SECCOMP_ABI_OTHER ? abi : SECCOMP_ABI_OTHER];
}

int seccomp_abi_nr(enum seccomp_abi abi, uint64_t nr)
{
    if (abi == SECCOMP_ABI_X32)
        nr &= ~(uint64_t)X32_SYSCALL_BIT;
    return nr < 4096 ? (int)nr : -1;
}

const char *seccomp_syscall_name_abi(enum seccomp_abi abi, int nr)
{
    static const uint32_t archs[] = { SCMP_ARCH_X86_64, SCMP_ARCH_X32, SCMP_ARCH_X86 };
    /* A copy, not libseccomp's string kept until the next call: that
     * leaked one string per thread that ever asked (library calls' threads
     * come and go). */
    static __thread char last[64];
    char *n;

    if (abi >= SECCOMP_ABI_OTHER || nr < 0)
        return NULL;
    /* libseccomp numbers x32 calls with their bit set. */
    n = seccomp_syscall_resolve_num_arch(
        archs[abi], abi == SECCOMP_ABI_X32 ? (int)((unsigned)nr | X32_SYSCALL_BIT) : nr);
    if (!n)
        return NULL;
    snprintf(last, sizeof(last), "%s", n);
    free(n);
    return last;
}

static bool refuse_shm(unsigned watch, const char *name)
{
    return (watch & SECCOMP_REFUSE_SHARED_MEMORY) &&
           (streq(name, "memfd_create") || streq(name, "shmget"));
}

static int build_allowlist(struct seccomp_plan *plan, const struct strv *deny,
                           const struct strv *allow, unsigned watch, sbvm_error **err)
{
    _cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
    /* personality(): the standard one, with ASLR off (gdb, setarch -R), and
     * the 0xffffffff query. READ_IMPLIES_EXEC and friends are refused. */
    static const uint64_t personalities[] = { 0, 0x0040000, 0xffffffffu };
    int r;

    r = ctx_new(&ctx, SCMP_ACT_TRACE(ENOSYS), err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
        int nr = seccomp_syscall_resolve_name(rules[i].name);
        uint32_t action;

        if (nr == __NR_SCMP_ERROR)
            continue; /* newer than libseccomp: left to the default */
        if (in_list(deny, rules[i].name) || in_list(allow, rules[i].name))
            continue; /* added below */
        if (refuse_shm(watch, rules[i].name)) {
            r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(EPERM), nr, 0);
            if (r < 0)
                return error_sys(err, -r, "seccomp: refusing %s", rules[i].name);
            continue;
        }
        if (streq(rules[i].name, "personality")) {
            for (size_t k = 0; k < ARRAY_SIZE(personalities); k++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                     SCMP_A0(SCMP_CMP_EQ, personalities[k]));
                if (r < 0)
                    return error_sys(err, -r, "seccomp: adding a rule for personality");
            }
            continue;
        }
        switch (rules[i].action) {
        case SECCOMP_RULE_ALLOW:
        case SECCOMP_RULE_GUARDED:
            action = SCMP_ACT_ALLOW;
            break;
        case SECCOMP_RULE_EPERM:
            action = SCMP_ACT_TRACE(EPERM);
            break;
        case SECCOMP_RULE_DENY:
            action = SCMP_ACT_KILL_PROCESS;
            break;
        default:
            continue; /* ENOSYS is the default */
        }
        r = seccomp_rule_add(ctx, action, nr, 0);
        if (r < 0)
            return error_sys(err, -r, "seccomp: adding a rule for %s", rules[i].name);
    }
    /* Denied calls kill: the one action no filter the guest stacks on top
     * can outrank or turn into a mere error (docs/SECURITY.md). */
    for (size_t i = 0; deny && i < deny->n; i++) {
        r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, seccomp_syscall_resolve_name(deny->v[i]),
                             0);
        if (r < 0)
            return error_sys(err, -r, "seccomp: denying %s", deny->v[i]);
    }
    for (size_t i = 0; allow && i < allow->n; i++) {
        if (in_list(deny, allow->v[i]) || refuse_shm(watch, allow->v[i]))
            continue;
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, seccomp_syscall_resolve_name(allow->v[i]), 0);
        if (r < 0)
            return error_sys(err, -r, "seccomp: allowing %s", allow->v[i]);
    }
    if (r == 0)
        r = export_prog(plan, &plan->progs[plan->count], ctx, "allowlist", err);
    if (r == 0)
        plan->count++;
    return r;
}

static int guard(scmp_filter_ctx ctx, int errnum, int nr, struct scmp_arg_cmp cmp, const char *what,
                 sbvm_error **err)
{
    int r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(errnum), nr, 1, cmp);
    if (r < 0)
        return error_sys(err, -r, "seccomp: adding the %s guard", what);
    return 0;
}

/* A syscall by name, when this libseccomp knows it (-1 otherwise: a call
 * newer than it is refused by the allowlist's default anyway). */
static int known(const char *name)
{
    int nr = seccomp_syscall_resolve_name(name);
    return nr == __NR_SCMP_ERROR ? -1 : nr;
}

/*
 * No set-uid or set-gid file: one made in an --rw directory, kept with
 * --keep or copied out would be a set-uid program on the host, of uid 65534
 * or of the user who ran sandboxvm. Every call that sets a mode is checked
 * (openat2, whose mode is in memory, is refused by the allowlist).
 */
static int build_mode_guards(scmp_filter_ctx ctx, sbvm_error **err)
{
    static const struct {
        const char *name;
        int mode_arg;  /* which argument is the mode */
        int flags_arg; /* O_CREAT / O_TMPFILE must be in this one, or -1 */
    } calls[] = {
        { "chmod", 1, -1 },     { "fchmod", 1, -1 }, { "fchmodat", 2, -1 },
        { "fchmodat2", 2, -1 }, { "mknod", 1, -1 },  { "mknodat", 2, -1 },
        { "creat", 1, -1 },     { "open", 2, 1 },    { "openat", 3, 2 },
    };
    static const uint64_t bits[] = { S_ISUID, S_ISGID };
    static const uint64_t creating[] = { O_CREAT, __O_TMPFILE };
    int r = 0;

    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(calls); i++) {
        int nr = known(calls[i].name);
        if (nr < 0)
            continue;
        for (size_t b = 0; r == 0 && b < ARRAY_SIZE(bits); b++) {
            struct scmp_arg_cmp mode =
                SCMP_CMP((unsigned)calls[i].mode_arg, SCMP_CMP_MASKED_EQ, bits[b], bits[b]);
            if (calls[i].flags_arg < 0) {
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(EPERM), nr, 1, mode);
                continue;
            }
            for (size_t c = 0; r == 0 && c < ARRAY_SIZE(creating); c++)
                r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(EPERM), nr, 2, mode,
                                     SCMP_CMP((unsigned)calls[i].flags_arg, SCMP_CMP_MASKED_EQ,
                                              creating[c], creating[c]));
        }
        if (r < 0)
            return error_sys(err, -r, "seccomp: adding the mode guard for %s", calls[i].name);
    }
    return 0;
}

/*
 * The init, pid 1, runs as the guest's uid: the kernel lets a process of
 * the same uid change its limits (prlimit64), its scheduling and its nice
 * value. Refused, so that a guest cannot starve or cripple its own tracer
 * (an init without descriptors captures no crash). pid_t is an int: only
 * the low 32 bits count.
 */
static int build_init_guards(scmp_filter_ctx ctx, sbvm_error **err)
{
    static const char *const by_pid[] = { "sched_setaffinity", "sched_setscheduler",
                                          "sched_setparam", "sched_setattr" };
    const struct scmp_arg_cmp pid1 = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, 1);
    int r = 0, nr;

    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(by_pid); i++)
        if ((nr = known(by_pid[i])) >= 0)
            r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(EPERM), nr, 1, pid1);
    /* prlimit64(1, resource, new, old) with a new value. */
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(EPERM), SCMP_SYS(prlimit64), 2, pid1,
                             SCMP_A2(SCMP_CMP_NE, 0));
    /* setpriority(which, who, prio): of pid or process group 1, or of
     * every process of a user (the init's uid is the guest's). */
    for (uint64_t which = 0; r == 0 && which <= 1; which++)
        r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(EPERM), SCMP_SYS(setpriority), 2,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, which),
                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, 1));
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(EPERM), SCMP_SYS(setpriority), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, 2 /* PRIO_USER */));
    /* ioprio_set(which, who, prio): IOPRIO_WHO_PROCESS 1, _PGRP 2, _USER 3. */
    for (uint64_t which = 1; r == 0 && which <= 2; which++)
        r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(EPERM), SCMP_SYS(ioprio_set), 2,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, which),
                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, 1));
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(EPERM), SCMP_SYS(ioprio_set), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, 3));
    if (r < 0)
        return error_sys(err, -r, "seccomp: adding the guards for pid 1");
    return 0;
}

static int build_guards(struct seccomp_plan *plan, sbvm_error **err)
{
    _cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
    static const uint64_t ns_flags[] = { CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                         CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };
    /* Families other than these four are refused: packet, vsock (which can
     * reach a hypervisor regardless of network namespaces), bluetooth, alg,
     * xdp, and the rest. Compared on all 64 bits, so a value with junk in
     * the upper half is refused too. */
    int r;

    r = ctx_new(&ctx, SCMP_ACT_ALLOW, err);
    if (r < 0)
        return r;
    /* The kernel truncates the ioctl request to 32 bits: compare only those
     * (CVE-2019-10063 bypassed a filter that compared 64). */
    r = guard(ctx, EPERM, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI),
              "TIOCSTI", err);
    if (r == 0)
        r = guard(ctx, EPERM, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX),
                  "TIOCLINUX", err);
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(ns_flags); i++)
        r = guard(ctx, EPERM, SCMP_SYS(clone),
                  SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]), "clone", err);
    /* A child made with CLONE_UNTRACED escapes the init's tracing: its
     * crashes, refusals and limits would go unseen. */
    if (r == 0)
        r = guard(ctx, EPERM, SCMP_SYS(clone),
                  SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_UNTRACED, CLONE_UNTRACED), "clone", err);
    /* A filter of the guest's that returns SECCOMP_RET_USER_NOTIF outranks
     * the sandbox's SECCOMP_RET_TRACE; with a listener of its own, the
     * guest could answer "continue" to a call the sandbox refuses. Without
     * a listener the kernel fails such calls with ENOSYS. */
    if (r == 0)
        r = guard(ctx, EPERM, SCMP_SYS(seccomp),
                  SCMP_A1(SCMP_CMP_MASKED_EQ, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                          SECCOMP_FILTER_FLAG_NEW_LISTENER),
                  "seccomp", err);
    if (r == 0)
        r = build_mode_guards(ctx, err);
    if (r == 0)
        r = build_init_guards(ctx, err);
    for (uint64_t fam = 0; r == 0 && fam <= AF_NETLINK; fam++) {
        if (fam == AF_UNIX || fam == AF_INET || fam == AF_INET6 || fam == AF_NETLINK)
            continue;
        r = guard(ctx, EAFNOSUPPORT, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, fam), "socket", err);
    }
    if (r == 0)
        r = guard(ctx, EAFNOSUPPORT, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_GT, AF_NETLINK), "socket",
                  err);
    if (r == 0)
        r = guard(ctx, EAFNOSUPPORT, SCMP_SYS(socketpair), SCMP_A0(SCMP_CMP_NE, AF_UNIX),
                  "socketpair", err);
    if (r < 0)
        return r;
    r = export_prog(plan, &plan->progs[plan->count], ctx, "argument guard", err);
    if (r == 0)
        plan->count++;
    return r;
}

/* The init's own syscalls (init/init.c, and child.c after the filter is in
 * place: close_range, fcntl, execveat). Anything else kills it. */
static const char *const init_syscalls[] = {
    "read",
    "write",
    "openat",
    "close",
    "wait4",
    "kill",
    "ptrace",
    "process_vm_readv",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "exit_group",
    "exit",
    "prctl",
    "restart_syscall",
    "close_range",
    "fcntl",
    "execveat",
    "getdents64",
    "pread64",
    "ppoll",
#if defined(__SANITIZE_ADDRESS__)
    /* A sanitized build's in-place init runs the sanitizer's runtime too
     * (tests only: no release build is sanitized). */
    "sigaltstack",
#endif
};

static int build_init(struct seccomp_plan *plan, sbvm_error **err)
{
    _cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
    int r;

    r = ctx_new(&ctx, SCMP_ACT_KILL_PROCESS, err);
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(init_syscalls); i++) {
        int nr = seccomp_syscall_resolve_name(init_syscalls[i]);
        if (nr == __NR_SCMP_ERROR)
            return error_set(err, EINVAL, "seccomp: libseccomp does not know %s", init_syscalls[i]);
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (r < 0)
            return error_sys(err, -r, "seccomp: adding %s to the init's filter", init_syscalls[i]);
    }
    if (r < 0)
        return r;
    return export_prog(plan, &plan->init, ctx, "init", err);
}

static const char *const watch_files[] = {
    "open",          "openat",        "openat2",
    "creat",         "socket",        "socketpair",
    "accept",        "accept4",       "pipe",
    "pipe2",         "dup",           "dup2",
    "dup3",          "eventfd",       "eventfd2",
    "epoll_create",  "epoll_create1", "timerfd_create",
    "signalfd",      "signalfd4",     "inotify_init",
    "inotify_init1", "memfd_create",  "pidfd_open",
    "pidfd_getfd",   "fanotify_init", "open_by_handle_at",
};
static const char *const watch_pids[] = { "fork", "vfork", "clone", "clone3" };
static const char *const watch_memory[] = { "mmap", "mremap", "brk" };

static int watch_list(scmp_filter_ctx ctx, const char *const *names, size_t n, sbvm_error **err)
{
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        int r;
        if (nr == __NR_SCMP_ERROR)
            continue;
        r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(INIT_TRACE_WATCH), nr, 0);
        if (r < 0)
            return error_sys(err, -r, "seccomp: watching %s", names[i]);
    }
    return 0;
}

static int build_watch(struct seccomp_plan *plan, unsigned watch, sbvm_error **err)
{
    _cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
    int r;

    r = ctx_new(&ctx, SCMP_ACT_ALLOW, err);
    if (r == 0 && (watch & SECCOMP_WATCH_FILES)) {
        r = watch_list(ctx, watch_files, ARRAY_SIZE(watch_files), err);
        /* fcntl only when it duplicates: F_DUPFD and F_DUPFD_CLOEXEC. */
        if (r == 0)
            r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(INIT_TRACE_WATCH), SCMP_SYS(fcntl), 1,
                                 SCMP_A1(SCMP_CMP_EQ, F_DUPFD));
        if (r == 0)
            r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(INIT_TRACE_WATCH), SCMP_SYS(fcntl), 1,
                                 SCMP_A1(SCMP_CMP_EQ, F_DUPFD_CLOEXEC));
        if (r < 0 && err && !*err)
            return error_sys(err, -r, "seccomp: watching fcntl");
    }
    if (r == 0 && (watch & SECCOMP_WATCH_PIDS))
        r = watch_list(ctx, watch_pids, ARRAY_SIZE(watch_pids), err);
    if (r == 0 && (watch & SECCOMP_WATCH_MEMORY))
        r = watch_list(ctx, watch_memory, ARRAY_SIZE(watch_memory), err);
    if (r < 0)
        return r;
    r = export_prog(plan, &plan->progs[plan->count], ctx, "watch", err);
    if (r == 0)
        plan->count++;
    return r;
}

int seccomp_plan_build(struct seccomp_plan *plan, sbvm_error **err)
{
    return seccomp_plan_build_custom(plan, NULL, NULL, 0, err);
}

int seccomp_plan_build_custom(struct seccomp_plan *plan, const struct strv *deny,
                              const struct strv *allow, unsigned watch, sbvm_error **err)
{
    int r = 0;

    memset(plan, 0, sizeof(*plan));
    /* First: installed first, evaluated last (see seccomp.h). */
    if (watch & ~(unsigned)SECCOMP_REFUSE_SHARED_MEMORY)
        r = build_watch(plan, watch, err);
    if (r == 0)
        r = build_allowlist(plan, deny, allow, watch, err);
    if (r == 0)
        r = build_guards(plan, err);
    if (r == 0)
        r = build_init(plan, err);
    if (r < 0)
        seccomp_plan_release(plan);
    return r;
}

int seccomp_plan_memfd(const struct seccomp_plan *plan, sbvm_error **err)
{
    struct proc_policy h;
    int fd;

    if (plan->count == 0 || plan->count > PROC_POLICY_PROGS_MAX)
        return error_set(err, EINVAL, "seccomp: a plan of %zu filters cannot be exported",
                         plan->count);
    memset(&h, 0, sizeof(h));
    h.magic = PROC_POLICY_MAGIC;
    h.nprogs = (uint32_t)plan->count;
    for (size_t i = 0; i < plan->count; i++)
        h.len[i] = plan->progs[i].len;
    fd = memfd_create("sbvm-policy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return error_sys(err, errno, "seccomp: creating the policy's memfd");
    if (write_full(fd, &h, sizeof(h)) < 0)
        goto fail;
    for (size_t i = 0; i < plan->count; i++)
        if (write_full(fd, plan->progs[i].filter, plan->progs[i].len * sizeof(struct sock_filter)) <
            0)
            goto fail;
    /* Read-only from now on, for every sandbox that gets it. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        goto fail;
    return fd;
fail:
    error_sys(err, errno, "seccomp: writing the policy's memfd");
    close(fd);
    return -EIO;
}

void seccomp_plan_release(struct seccomp_plan *plan)
{
    if (plan->owned) {
        for (size_t i = 0; i < plan->count; i++)
            free(plan->progs[i].filter);
        free(plan->init.filter);
    }
    memset(plan, 0, sizeof(*plan));
}

#ifndef SBVM_SECCOMP_GENERATOR
/* Generated at build time by tools/gen-seccomp.c (seccomp_default.c). */
extern const struct sock_filter sbvm_seccomp_default_0[], sbvm_seccomp_default_1[],
    sbvm_seccomp_default_init[];
extern const unsigned short sbvm_seccomp_default_0_len, sbvm_seccomp_default_1_len,
    sbvm_seccomp_default_init_len;

void seccomp_plan_default(struct seccomp_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    /* The kernel never writes through the filter pointer. */
    plan->progs[0].filter = (struct sock_filter *)sbvm_seccomp_default_0;
    plan->progs[0].len = sbvm_seccomp_default_0_len;
    plan->progs[1].filter = (struct sock_filter *)sbvm_seccomp_default_1;
    plan->progs[1].len = sbvm_seccomp_default_1_len;
    plan->count = 2;
    plan->init.filter = (struct sock_filter *)sbvm_seccomp_default_init;
    plan->init.len = sbvm_seccomp_default_init_len;
    plan->owned = false;
}
#endif
