/* SPDX-License-Identifier: MIT */
/*
 * init.c: pid 1 of every sandbox.
 *
 * Built twice: as a freestanding static executable (no libc, a few kilobytes)
 * that the sandbox execs from a sealed memfd, so that /proc/1/exe inside the
 * sandbox leads to this small program and never to the host's binary; and
 * into the library as init_run(), the fallback for hosts that forbid
 * executing memfds (vm.memfd_noexec=2).
 *
 * Its whole job: forward the signals the supervisor sends to the guest, reap
 * every process that gets reparented to it, and when the guest itself ends,
 * write one record with the guest's wait status to the status pipe and exit.
 * Its exit makes the kernel kill whatever is left in the pid namespace.
 *
 * It uses raw system calls only, so the same code is safe in a process cloned
 * from a multithreaded host.
 */
#include <stddef.h>
#include <stdint.h>

#include "backend/process/proto.h"
#include "backend/process/init/init.h"

/* Constants from the kernel ABI, spelled out: no libc headers here. */
#define NR_write          1
#define NR_rt_sigaction   13
#define NR_rt_sigprocmask 14
#define NR_rt_sigreturn   15
#define NR_kill           62
#define NR_wait4          61
#define NR_prctl          157
#define NR_exit_group     231

#define E_INTR  4
#define E_CHILD 10

#define SIG_SETMASK_     2
#define SA_RESTART_      0x10000000
#define SA_RESTORER_     0x04000000
#define PR_SET_DUMPABLE_ 4

#define CLD_EXITED_ 1
#define CLD_KILLED_ 2
#define CLD_DUMPED_ 3

#if defined(__x86_64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
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

/* The kernel returns from a handler through this; x86_64 requires one. */
void sbvm_init_restorer(void);
__asm__(".text\n"
        ".globl sbvm_init_restorer\n"
        ".hidden sbvm_init_restorer\n"
        ".type sbvm_init_restorer,@function\n"
        "sbvm_init_restorer:\n"
        "    mov $15, %rax\n"
        "    syscall\n"
        "    hlt\n");
#else
#error "init.c: add the system call convention for this architecture"
#endif

static long sys1(long n, long a)
{
    return sys6(n, a, 0, 0, 0, 0, 0);
}

static long sys2(long n, long a, long b)
{
    return sys6(n, a, b, 0, 0, 0, 0);
}

static long sys4(long n, long a, long b, long c, long d)
{
    return sys6(n, a, b, c, d, 0, 0);
}

struct ksigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

/* Written once before any handler is installed, read by handlers. */
static volatile int guest_pid;

/* Like a terminal's Ctrl-C, a forwarded signal goes to the guest's whole
 * process group (the guest leads one: it called setsid), so that a shell
 * waiting for a foreground child does not wait it out. */
static void forward(int sig)
{
    if (guest_pid > 0 && sys2(NR_kill, -guest_pid, sig) < 0)
        sys2(NR_kill, guest_pid, sig);
}

static _Noreturn void die(int code)
{
    for (;;)
        sys1(NR_exit_group, code);
}

static void report_exit(int status_fd, int wstatus)
{
    struct proc_record rec = { 0 };
    int sig = wstatus & 0x7f;

    rec.magic = PROC_REC_MAGIC;
    rec.kind = REC_GUEST_EXIT;
    if (sig == 0) {
        rec.code = CLD_EXITED_;
        rec.status = (wstatus >> 8) & 0xff;
    } else {
        rec.code = (wstatus & 0x80) ? CLD_DUMPED_ : CLD_KILLED_;
        rec.status = sig;
    }
    /* A record is smaller than PIPE_BUF: one write, all or nothing. */
    for (;;) {
        long r = sys6(NR_write, status_fd, (long)&rec, sizeof(rec), 0, 0, 0);
        if (r != -E_INTR)
            break;
    }
}

_Noreturn void init_run(int status_fd, int pid)
{
    /* Signals the supervisor may forward. SIGKILL and SIGSTOP cannot be
     * caught; the supervisor sends SIGKILL to this process to end the whole
     * sandbox. */
    static const int forwarded[] = { 1, 2, 3, 10, 12, 13, 14, 15, 18, 20, 21, 22, 23, 28 };
    struct ksigaction sa = { 0 };
    uint64_t empty = 0;
    int wstatus;

    /* Not dumpable: the guest, which shares our uid, cannot open our /proc
     * entries (exe, mem, fd) or attach to us. */
    sys2(NR_prctl, PR_SET_DUMPABLE_, 0);
    guest_pid = pid;

    sa.handler = forward;
    sa.flags = SA_RESTART_ | SA_RESTORER_;
    sa.restorer = sbvm_init_restorer;
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
        sys4(NR_rt_sigaction, forwarded[i], (long)&sa, 0, sizeof(uint64_t));
    sys4(NR_rt_sigprocmask, SIG_SETMASK_, (long)&empty, 0, sizeof(uint64_t));

    for (;;) {
        long r = sys4(NR_wait4, -1, (long)&wstatus, 0, 0);
        if (r == -E_INTR)
            continue;
        if (r == -E_CHILD)
            die(1); /* the guest was never ours: nothing to report */
        if (r < 0)
            die(2);
        if (r == pid) {
            report_exit(status_fd, wstatus);
            die(0);
        }
        /* An orphan the guest left behind: reaped, nothing else. */
    }
}

#ifdef SBVM_INIT_STANDALONE
static int parse_int(const char *s)
{
    int v = 0;

    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* Entered from _start with the initial stack pointer. */
__attribute__((used)) _Noreturn void init_start_c(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    int pid = argc >= 2 ? parse_int(argv[1]) : -1;

    if (pid <= 0)
        die(3);
    init_run(FD_STATUS, pid);
}

__asm__(".text\n"
        ".global _start\n"
        ".type _start,@function\n"
        "_start:\n"
        "    xor %rbp, %rbp\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call init_start_c\n"
        "    hlt\n");
#endif
