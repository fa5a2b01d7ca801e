/* SPDX-License-Identifier: MIT */
/*
 * filter.c: the worker's own syscall filter, installed once the library
 * is loaded and before any of its functions is called, on top of the
 * sandbox's (a stacked filter can only take away).
 *
 * What a library function has no business doing is fatal here
 * (SECCOMP_RET_KILL_PROCESS): the sandbox's init captures the dying
 * thread's call and the host reports the call as denied, naming it. Kill
 * rather than fail, so that a compromised library cannot probe, and the
 * caller learns what it tried. Everything else is left to the sandbox's
 * filter, which a program would get.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "calls/worker/worker.h"

#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(uint64_t))

#define LD(off)       ((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off)))
#define RET(v)        ((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (v)))
#define JEQ(k, t, f)  ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f)))
#define JSET(k, t, f) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (k), (t), (f)))
#define JGE(k, t, f)  ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (k), (t), (f)))
#define KILL          RET(SECCOMP_RET_KILL_PROCESS)
#define ALLOW         RET(SECCOMP_RET_ALLOW)

/* Opening for writing or creating: the view is read-only but for /tmp,
 * which every worker of the library shares; a worker writes nowhere. */
#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)

/* Calls that are fatal in every worker (and in the zygote). */
static const int fatal[] = {
    /* No other program. */
    SYS_execve,
    SYS_execveat,
    /* No new sockets: the worker's only peer is its host. */
    SYS_socket,
    SYS_socketpair,
    /* No files written, made, removed or changed. */
    SYS_creat,
    SYS_truncate,
    SYS_ftruncate,
    SYS_mkdir,
    SYS_mkdirat,
    SYS_rmdir,
    SYS_unlink,
    SYS_unlinkat,
    SYS_rename,
    SYS_renameat,
    SYS_renameat2,
    SYS_link,
    SYS_linkat,
    SYS_symlink,
    SYS_symlinkat,
    SYS_chmod,
    SYS_fchmod,
    SYS_fchmodat,
    SYS_chown,
    SYS_fchown,
    SYS_fchownat,
    SYS_lchown,
    SYS_mknod,
    SYS_mknodat,
    /* Nobody else's processes. */
    SYS_tkill,
    SYS_pidfd_open,
    SYS_pidfd_send_signal,
    SYS_pidfd_getfd,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_ptrace,
};

#define PROG_MAX 160

struct prog {
    struct sock_filter f[PROG_MAX];
    unsigned short n;
};

static void add(struct prog *p, struct sock_filter i)
{
    if (p->n < PROG_MAX)
        p->f[p->n] = i;
    p->n++;
}

int worker_filter(bool zygote)
{
    uint32_t self = (uint32_t)getpid();
    struct prog p = { .n = 0 };
    struct sock_fprog fp;

    add(&p, LD(offsetof(struct seccomp_data, arch)));
    add(&p, JEQ(AUDIT_ARCH_X86_64, 1, 0));
    add(&p, KILL);
    add(&p, LD(offsetof(struct seccomp_data, nr)));
    add(&p, JGE(0x40000000, 0, 1)); /* x32 */
    add(&p, KILL);
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        add(&p, JEQ((uint32_t)fatal[i], 0, 1));
        add(&p, KILL);
    }
    /* Opened for reading only. */
    add(&p, JEQ(SYS_open, 0, 4));
    add(&p, LD(ARG_LO(1)));
    add(&p, JSET(WRITE_FLAGS, 0, 1));
    add(&p, KILL);
    add(&p, ALLOW);
    add(&p, JEQ(SYS_openat, 0, 4));
    add(&p, LD(ARG_LO(2)));
    add(&p, JSET(WRITE_FLAGS, 0, 1));
    add(&p, KILL);
    add(&p, ALLOW);
    /* Its flags are in memory a filter cannot read; so are clone3's. The
     * C library falls back to openat and clone. */
    add(&p, JEQ(SYS_openat2, 0, 1));
    add(&p, RET(SECCOMP_RET_ERRNO | ENOSYS));
    add(&p, JEQ(SYS_clone3, 0, 1));
    add(&p, RET(SECCOMP_RET_ERRNO | ENOSYS));
    if (!zygote) {
        /* Signals only to itself: the other workers of the library are
         * not its to end (each serves another call). */
        static const int to_self[] = { SYS_kill, SYS_tgkill, SYS_rt_sigqueueinfo,
                                       SYS_rt_tgsigqueueinfo };
        for (size_t i = 0; i < sizeof(to_self) / sizeof(to_self[0]); i++) {
            add(&p, JEQ((uint32_t)to_self[i], 0, 4));
            add(&p, LD(ARG_LO(0)));
            add(&p, JEQ(self, 0, 1));
            add(&p, ALLOW);
            add(&p, KILL);
        }
        /* Threads, never processes. */
        add(&p, JEQ(SYS_fork, 0, 1));
        add(&p, KILL);
        add(&p, JEQ(SYS_vfork, 0, 1));
        add(&p, KILL);
        add(&p, JEQ(SYS_clone, 0, 3));
        add(&p, LD(ARG_LO(0)));
        add(&p, JSET(CLONE_THREAD, 1, 0));
        add(&p, KILL);
    }
    add(&p, ALLOW);
    if (p.n > PROG_MAX)
        return -E2BIG;
    fp.len = p.n;
    fp.filter = p.f;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0)
        return -errno;
    return 0;
}
