/* SPDX-License-Identifier: MIT */
/*
 * sys.h: what the sandbox's freestanding programs (the init, init.c, and a
 * live sandbox's exec server, spawner.c) share: raw system calls, kernel
 * ABI constants spelled out, and a few memory helpers. No libc: these
 * programs run from sealed memfds, and the same code is safe in a process
 * cloned from a multithreaded host (the in-place fallbacks).
 */
#ifndef SBVM_BACKEND_PROCESS_INIT_SYS_H
#define SBVM_BACKEND_PROCESS_INIT_SYS_H

#include <stddef.h>
#include <stdint.h>

/* Kernel ABI constants, spelled out: no libc headers here. */
#define NR_read             0
#define NR_write            1
#define NR_close            3
#define NR_rt_sigaction     13
#define NR_rt_sigprocmask   14
#define NR_wait4            61
#define NR_kill             62
#define NR_ptrace           101
#define NR_prctl            157
#define NR_exit_group       231
#define NR_getdents64       217
#define NR_openat           257
#define NR_process_vm_readv 310
#define NR_pread64          17
#define NR_ioctl            16
#define NR_dup2             33
#define NR_sendmsg          46
#define NR_recvmsg          47
#define NR_execve           59
#define NR_exit             60
#define NR_fcntl            72
#define NR_chdir            80
#define NR_umask            95
#define NR_setsid           112
#define NR_prlimit64        302
#define NR_ppoll            271
#define NR_pipe2            293
#define NR_close_range      436
#define NR_munmap           11

#define E_PERM   1
#define E_NOENT  2
#define E_INTR   4
#define E_CHILD  10
#define E_ACCES  13
#define E_INVAL  22
#define E_NOTDIR 20
#define E_2BIG   7

#define AT_FDCWD_        (-100)
#define O_RDONLY_        0
#define O_CLOEXEC_       02000000
#define O_DIRECTORY_     0200000
#define WALL_            0x40000000
#define WNOHANG_         1
#define SIG_SETMASK_     2
#define SA_RESTART_      0x10000000
#define SA_RESTORER_     0x04000000
#define SA_SIGINFO_      0x00000004
#define SIG_BLOCK_       0
#define SIGCHLD_         17
#define POLLIN_          1
#define POLLHUP_         0x10
#define SI_USER_         0
#define PR_SET_DUMPABLE_ 4
#define F_SETFD_         2
#define F_DUPFD_CLOEXEC_ 1030

#define SIGTRAP_ 5
#define SIGKILL_ 9
#define SIGSTOP_ 19
#define SIGCONT_ 18
#define SIGTSTP_ 20
#define SIGTTIN_ 21
#define SIGTTOU_ 22

#define PTRACE_SYSCALL_          24
#define PTRACE_CONT_             7
#define PTRACE_GETREGS_          12
#define PTRACE_SETREGS_          13
#define PTRACE_GETSIGINFO_       0x4202
#define PTRACE_LISTEN_           0x4208
#define PTRACE_GET_SYSCALL_INFO_ 0x420e
#define PTRACE_GETEVENTMSG_      0x4201
#define PTRACE_EVENT_EXIT_       6
#define PTRACE_EVENT_SECCOMP_    7
#define PTRACE_EVENT_STOP_       128
#define SYSCALL_INFO_SECCOMP     3

/* Syscall numbers the watch looks at (x86_64). */
#define NR_mmap   9
#define NR_brk    12
#define NR_mremap 25
#define NR_clone  56
#define NR_fork   57
#define NR_vfork  58
#define NR_clone3 435
#define E_AGAIN   11
#define E_NOMEM   12
#define E_MFILE   24

#define CLD_EXITED_ 1
#define CLD_KILLED_ 2
#define CLD_DUMPED_ 3

#if defined(__x86_64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;

    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* The kernel returns from a handler through this; x86_64 requires one.
 * Defined once per program (SYS_DEFINE_RESTORER). */
void sbvm_init_restorer(void);
#ifdef SYS_DEFINE_RESTORER
__asm__(".text\n"
        ".globl sbvm_init_restorer\n"
        ".hidden sbvm_init_restorer\n"
        ".type sbvm_init_restorer,@function\n"
        "sbvm_init_restorer:\n"
        "    mov $15, %rax\n"
        "    syscall\n"
        "    hlt\n");
#endif

/* struct user_regs_struct, in the kernel's order. */
enum {
    R_R15,
    R_R14,
    R_R13,
    R_R12,
    R_RBP,
    R_RBX,
    R_R11,
    R_R10,
    R_R9,
    R_R8,
    R_RAX,
    R_RCX,
    R_RDX,
    R_RSI,
    R_RDI,
    R_ORIG_RAX,
    R_RIP,
    R_CS,
    R_EFLAGS,
    R_RSP,
    R_SS,
    R_FS_BASE,
    R_GS_BASE,
    R_DS,
    R_ES,
    R_FS,
    R_GS
};
#else
#error "sys.h: add the system call convention and registers for this architecture"
#endif

static inline long sys1(long n, long a)
{
    return sys6(n, a, 0, 0, 0, 0, 0);
}

static inline long sys2(long n, long a, long b)
{
    return sys6(n, a, b, 0, 0, 0, 0);
}

static inline long sys3(long n, long a, long b, long c)
{
    return sys6(n, a, b, c, 0, 0, 0);
}

static inline long sys4(long n, long a, long b, long c, long d)
{
    return sys6(n, a, b, c, d, 0, 0);
}

static inline void zero(void *p, size_t n)
{
    volatile unsigned char *b = p;
    while (n--)
        *b++ = 0;
}

static inline void copy(void *d, const void *s, size_t n)
{
    unsigned char *dd = d;
    const unsigned char *ss = s;
    while (n--)
        *dd++ = *ss++;
}

#ifdef SYS_DEFINE_MEM
/* The compiler may emit calls to these for struct copies and clears. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n)
{
    unsigned char *b = d;
    while (n--)
        *b++ = (unsigned char)c;
    return d;
}
void *memcpy(void *d, const void *s, size_t n)
{
    copy(d, s, n);
    return d;
}
#endif

struct ksigaction {
    void (*handler)(int, void *, void *);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

struct iovec_ {
    void *base;
    size_t len;
};

struct syscall_info {
    uint8_t op;
    uint8_t pad[3];
    uint32_t arch;
    uint64_t ip;
    uint64_t sp;
    uint64_t nr;
    uint64_t args[6];
    uint32_t ret_data;
    uint32_t pad2;
};

/* The entry point of a freestanding program: _start calls fn(sp) with the
 * kernel's initial stack (argc, argv, envp), aligned for C. */
#define SYS_ENTRY(fn)                                                                              \
    __asm__(".text\n"                                                                              \
            ".global _start\n"                                                                     \
            ".type _start,@function\n"                                                             \
            "_start:\n"                                                                            \
            "    xor %rbp, %rbp\n"                                                                 \
            "    mov %rsp, %rdi\n"                                                                 \
            "    and $-16, %rsp\n"                                                                 \
            "    call " #fn "\n"                                                                   \
            "    hlt\n")

#endif
