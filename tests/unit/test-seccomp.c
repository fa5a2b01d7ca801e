/* SPDX-License-Identifier: MIT */
/*
 * test-seccomp.c: the default syscall policy, checked by installing it in the
 * test's own forked process and trying what it must refuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/process/proto.h"
#include "policy/bpf_eval.h"
#include "policy/seccomp.h"
#include "unit.h"

/* LeakSanitizer's exit-time check stops the world with ptrace, which the
 * filter refuses: under ASan, check for leaks before the filter goes in. */
extern void __lsan_do_leak_check(void) __attribute__((weak));

static void install_default(void)
{
    struct seccomp_plan plan;

    if (__lsan_do_leak_check)
        __lsan_do_leak_check();
    seccomp_plan_default(&plan);
    ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    for (size_t i = 0; i < plan.count; i++)
        ck_assert_int_eq(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &plan.progs[i]), 0);
}

START_TEST(builtin_program_matches_the_policy_table)
{
    struct seccomp_plan built, builtin;

    ck_assert_int_eq(seccomp_plan_build(&built, NULL), 0);
    seccomp_plan_default(&builtin);
    ck_assert_uint_eq(built.count, builtin.count);
    for (size_t i = 0; i < built.count; i++) {
        ck_assert_uint_eq(built.progs[i].len, builtin.progs[i].len);
        ck_assert_mem_eq(built.progs[i].filter, builtin.progs[i].filter,
                         built.progs[i].len * sizeof(struct sock_filter));
    }
    seccomp_plan_release(&built);
}
END_TEST

START_TEST(policy_table_names_are_unique)
{
    size_t n;
    const struct seccomp_rule *r = seccomp_rules(&n);

    ck_assert_uint_gt(n, 200);
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            ck_assert_msg(strcmp(r[i].name, r[k].name) != 0, "%s listed twice", r[i].name);
}
END_TEST

START_TEST(ordinary_syscalls_work)
{
    int sv[2];
    char c = 0;

    install_default();
    ck_assert_int_gt(getpid(), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(write(sv[0], "x", 1), 1);
    ck_assert_int_eq(read(sv[1], &c, 1), 1);
    ck_assert_int_eq(c, 'x');
    ck_assert_int_ge(socket(AF_INET, SOCK_DGRAM, 0), 0);
    ck_assert_int_ge(personality(0xffffffff), 0);
}
END_TEST

START_TEST(probes_get_enosys_and_go_on)
{
    install_default();
    errno = 0;
    ck_assert_int_eq(syscall(SYS_io_uring_setup, 1, NULL), -1);
    ck_assert_int_eq(errno, ENOSYS);
    ck_assert_int_eq(syscall(SYS_userfaultfd, 0), -1);
    ck_assert_int_eq(errno, ENOSYS);
    /* clone3 fails with ENOSYS so that libc falls back to clone. */
    ck_assert_int_eq(syscall(SYS_clone3, NULL, 0), -1);
    ck_assert_int_eq(errno, ENOSYS);
}
END_TEST

/* Refusals are SECCOMP_RET_TRACE: the sandbox's init gives them their
 * errno (EPERM here; tests/cli checks that). Without a tracer, as in this
 * test process, the kernel fails them with ENOSYS: still refused. */
START_TEST(privileged_syscalls_are_refused)
{
    install_default();
    ck_assert_int_eq(syscall(SYS_ptrace, 0, 1, 0, 0), -1);
    ck_assert_int_eq(errno, ENOSYS);
    ck_assert_int_eq(syscall(SYS_unshare, CLONE_NEWUSER), -1);
    ck_assert_int_eq(errno, ENOSYS);
    ck_assert_int_eq(syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL), -1);
    ck_assert_int_eq(syscall(SYS_keyctl, 0, 0, 0, 0, 0), -1);
    ck_assert_int_eq(syscall(SYS_bpf, 0, NULL, 0), -1);
}
END_TEST

START_TEST(guarded_arguments_are_refused)
{
    char c = 'x';

    install_default();
    /* (ENOSYS without a tracer; see above.) */
    ck_assert_int_eq(ioctl(0, TIOCSTI, &c), -1);
    ck_assert_int_eq(errno, ENOSYS);
    /* The kernel only looks at the low 32 bits of the request. */
    ck_assert_int_eq(syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &c), -1);
    ck_assert_int_eq(syscall(SYS_ioctl, 0, TIOCLINUX, &c), -1);
    ck_assert_int_eq(syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0), -1);
    ck_assert_int_eq(socket(AF_PACKET, SOCK_RAW, 0), -1);
    ck_assert_int_eq(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0), -1);
    ck_assert_int_eq(personality(READ_IMPLIES_EXEC), -1);
}
END_TEST

START_TEST(i386_entry_is_refused)
{
    /* Where the kernel runs int 0x80 from 64-bit code, the filter kills the
     * process (SIGSYS); a kernel without IA-32 emulation faults first
     * (SIGSEGV). Either way the call must never run. */
    int allowed = unit_host_allows_int80();
    pid_t pid;
    int st;

    if (!allowed)
        fprintf(stderr, "# i386_entry_is_refused: this kernel refuses int 0x80 itself "
                        "(SIGSEGV): asserting that refusal\n");
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        long ret;
        signal(SIGSEGV, SIG_DFL); /* the kernel's answer, not ASan's handler */
        install_default();
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
        _exit(42);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFSIGNALED(st), "int 0x80 returned under the filter (status 0x%x)", st);
    ck_assert_int_eq(WTERMSIG(st), allowed ? SIGSYS : SIGSEGV);
}
END_TEST

START_TEST(x32_bit_kills_the_process)
{
    install_default();
    syscall(0x40000000L | SYS_getpid);
    ck_abort_msg("an x32 syscall returned");
}
END_TEST

/* What a plan's filters answer for one call, as the init computes it. */
static uint32_t answer(const struct seccomp_plan *plan, uint32_t arch, int nr, uint64_t a0,
                       uint64_t a1, uint64_t a2, uint64_t a3)
{
    const struct bpf_insn_ *progs[SECCOMP_PLAN_MAX];
    uint32_t lens[SECCOMP_PLAN_MAX];
    struct seccomp_data_ d = { .nr = nr, .arch = arch, .ip = 0x401000, .args = { a0, a1, a2, a3 } };

    for (size_t i = 0; i < plan->count; i++) {
        progs[i] = (const struct bpf_insn_ *)plan->progs[i].filter;
        lens[i] = plan->progs[i].len;
    }
    return seccomp_eval(progs, lens, (uint32_t)plan->count, &d);
}

#define X86_64   BPF_EVAL_AUDIT_ARCH_X86_64
#define TRACE(e) (BPF_EVAL_RET_TRACE | (uint32_t)(e))

START_TEST(evaluation_follows_the_policy_table)
{
    struct seccomp_plan plan;
    size_t n;
    const struct seccomp_rule *r = seccomp_rules(&n);

    seccomp_plan_default(&plan);
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(r[i].name);
        uint32_t got;
        if (nr == __NR_SCMP_ERROR || !strcmp(r[i].name, "socket") ||
            !strcmp(r[i].name, "socketpair"))
            continue; /* unknown to libseccomp; family 0 is refused by design */
        got = answer(&plan, X86_64, nr, 0, 0, 0, 0);
        switch (r[i].action) {
        case SECCOMP_RULE_ALLOW:
        case SECCOMP_RULE_GUARDED:
            ck_assert_msg(got == BPF_EVAL_RET_ALLOW, "%s: 0x%08x", r[i].name, got);
            break;
        case SECCOMP_RULE_EPERM:
            ck_assert_msg(got == TRACE(EPERM), "%s: 0x%08x", r[i].name, got);
            break;
        case SECCOMP_RULE_ENOSYS:
            ck_assert_msg(got == TRACE(ENOSYS), "%s: 0x%08x", r[i].name, got);
            break;
        default:
            break;
        }
    }
    /* Unknown numbers, foreign ABIs. */
    ck_assert_uint_eq(answer(&plan, X86_64, 1000, 0, 0, 0, 0), TRACE(ENOSYS));
    ck_assert_uint_eq(answer(&plan, X86_64, 0x40000000 | SYS_getpid, 0, 0, 0, 0),
                      BPF_EVAL_RET_KILL_PROCESS);
    ck_assert_uint_eq(answer(&plan, BPF_EVAL_AUDIT_ARCH_I386, 20, 0, 0, 0, 0),
                      BPF_EVAL_RET_KILL_PROCESS);
}
END_TEST

START_TEST(evaluation_applies_the_argument_guards)
{
    struct seccomp_plan plan;

    seccomp_plan_default(&plan);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0),
                      TRACE(EPERM));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_clone, CLONE_NEWUSER, 0, 0, 0), TRACE(EPERM));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_clone, CLONE_VM | CLONE_THREAD, 0, 0, 0),
                      BPF_EVAL_RET_ALLOW);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                             SECCOMP_FILTER_FLAG_NEW_LISTENER, 0, 0),
                      TRACE(EPERM));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                             SECCOMP_FILTER_FLAG_TSYNC, 0, 0),
                      BPF_EVAL_RET_ALLOW);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_chmod, 0, 04755, 0, 0), TRACE(EPERM));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_chmod, 0, 0755, 0, 0), BPF_EVAL_RET_ALLOW);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_openat, 0, 0, O_CREAT | O_WRONLY, 02755),
                      TRACE(EPERM));
    /* A mode without O_CREAT is not looked at (libc passes junk there). */
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_openat, 0, 0, O_RDONLY, 04755), BPF_EVAL_RET_ALLOW);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_prlimit64, 1, 7, 0x1000, 0), TRACE(EPERM));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_prlimit64, 1ULL << 32 | 1, 7, 0x1000, 0),
                      TRACE(EPERM));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_prlimit64, 1, 7, 0, 0x1000), BPF_EVAL_RET_ALLOW);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_prlimit64, 0, 7, 0x1000, 0), BPF_EVAL_RET_ALLOW);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_setpriority, 2, 0, 19, 0), TRACE(EPERM));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_setpriority, 0, 0, 19, 0), BPF_EVAL_RET_ALLOW);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_ioctl, 0, 0xffffffff00000000ULL | TIOCSTI, 0, 0),
                      TRACE(EPERM));
}
END_TEST

START_TEST(custom_plans_kill_denied_calls_and_refuse_shared_memory)
{
    struct seccomp_plan plan;
    struct strv deny = STRV_INIT;

    ck_assert_int_eq(strv_push(&deny, "mkdir"), 0);
    ck_assert_int_eq(seccomp_plan_build_custom(&plan, &deny, NULL,
                                               SECCOMP_WATCH_FILES | SECCOMP_REFUSE_SHARED_MEMORY,
                                               NULL),
                     0);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_mkdir, 0, 0, 0, 0), BPF_EVAL_RET_KILL_PROCESS);
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_openat, 0, 0, 0, 0), TRACE(INIT_TRACE_WATCH));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_memfd_create, 0, 0, 0, 0), TRACE(EPERM));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_shmget, 0, 0, 0, 0), TRACE(EPERM));
    ck_assert_uint_eq(answer(&plan, X86_64, SYS_read, 0, 0, 0, 0), BPF_EVAL_RET_ALLOW);
    seccomp_plan_release(&plan);
    strv_release(&deny);
}
END_TEST

START_TEST(the_init_reads_the_plan_it_is_given)
{
    struct seccomp_plan plan;
    struct proc_policy h;
    int fd;

    seccomp_plan_default(&plan);
    fd = seccomp_plan_memfd(&plan, NULL);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
    ck_assert_uint_eq(h.magic, PROC_POLICY_MAGIC);
    ck_assert_uint_eq(h.nprogs, plan.count);
    for (size_t i = 0, off = sizeof(h); i < plan.count; i++) {
        struct sock_filter first;
        ck_assert_uint_eq(h.len[i], plan.progs[i].len);
        ck_assert_int_eq(pread(fd, &first, sizeof(first), (off_t)off), (ssize_t)sizeof(first));
        ck_assert_mem_eq(&first, plan.progs[i].filter, sizeof(first));
        off += h.len[i] * sizeof(struct sock_filter);
    }
    /* Sealed: no sandbox's init can be handed a changed policy. */
    ck_assert_int_eq(pwrite(fd, "x", 1, 0), -1);
    ck_assert_int_eq(errno, EPERM);
    close(fd);
}
END_TEST

/* Programs the kernel would refuse, and data that is anything: the
 * evaluator must answer (KILL_PROCESS: "not ours to act on"), never read or
 * jump out of bounds. */
START_TEST(evaluation_is_bounded)
{
    struct seccomp_data_ d = { 0 };
    const struct bpf_insn_ off_end[] = { { 0x05 /* JA */, 0, 0, 5 } };
    const struct bpf_insn_ bad_load[] = { { 0x20, 0, 0, 62 }, { 0x06, 0, 0, 0 } };
    const struct bpf_insn_ bad_jump[] = { { 0x15, 200, 200, 0 }, { 0x06, 0, 0, 0 } };
    const struct bpf_insn_ no_ret[] = { { 0x20, 0, 0, 0 } };
    const struct bpf_insn_ mem[] = { { 0x02, 0, 0, 16 }, { 0x06, 0, 0, 0 } };
    const struct bpf_insn_ ok[] = {
        { 0x20, 0, 0, 0 }, { 0x15, 0, 1, 7 }, { 0x06, 0, 0, 1 }, { 0x06, 0, 0, 2 }
    };

    ck_assert_uint_eq(bpf_eval(off_end, 1, &d), BPF_EVAL_RET_KILL_PROCESS);
    ck_assert_uint_eq(bpf_eval(bad_load, 2, &d), BPF_EVAL_RET_KILL_PROCESS);
    ck_assert_uint_eq(bpf_eval(bad_jump, 2, &d), BPF_EVAL_RET_KILL_PROCESS);
    ck_assert_uint_eq(bpf_eval(no_ret, 1, &d), BPF_EVAL_RET_KILL_PROCESS);
    ck_assert_uint_eq(bpf_eval(mem, 2, &d), BPF_EVAL_RET_KILL_PROCESS);
    d.nr = 7;
    ck_assert_uint_eq(bpf_eval(ok, 4, &d), 1);
    d.nr = 8;
    ck_assert_uint_eq(bpf_eval(ok, 4, &d), 2);
}
END_TEST

Suite *suite_seccomp(void)
{
    Suite *s = suite_create("seccomp");
    TCase *tc = tcase_create("policy");

    tcase_add_test(tc, builtin_program_matches_the_policy_table);
    tcase_add_test(tc, policy_table_names_are_unique);
    tcase_add_test(tc, ordinary_syscalls_work);
    tcase_add_test(tc, probes_get_enosys_and_go_on);
    tcase_add_test(tc, privileged_syscalls_are_refused);
    tcase_add_test(tc, guarded_arguments_are_refused);
    tcase_add_test(tc, evaluation_follows_the_policy_table);
    tcase_add_test(tc, evaluation_applies_the_argument_guards);
    tcase_add_test(tc, custom_plans_kill_denied_calls_and_refuse_shared_memory);
    tcase_add_test(tc, the_init_reads_the_plan_it_is_given);
    tcase_add_test(tc, evaluation_is_bounded);
#if defined(__x86_64__)
    tcase_add_test(tc, i386_entry_is_refused);
    tcase_add_test_raise_signal(tc, x32_bit_kills_the_process, SIGSYS);
#endif
    suite_add_tcase(s, tc);
    return s;
}
