/* SPDX-License-Identifier: MIT */
/*
 * test-seccomp.c: the default syscall policy, checked by installing it in the
 * test's own forked process and trying what it must refuse.
 */
#include <errno.h>
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
#include <unistd.h>

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

START_TEST(i386_entry_kills_the_process)
{
    long ret;

    install_default();
    /* getpid through int 0x80: the filter kills before it returns. */
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    ck_abort_msg("int 0x80 returned %ld", ret);
}
END_TEST

START_TEST(x32_bit_kills_the_process)
{
    install_default();
    syscall(0x40000000L | SYS_getpid);
    ck_abort_msg("an x32 syscall returned");
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
#if defined(__x86_64__)
    tcase_add_test_raise_signal(tc, i386_entry_kills_the_process, SIGSYS);
    tcase_add_test_raise_signal(tc, x32_bit_kills_the_process, SIGSYS);
#endif
    suite_add_tcase(s, tc);
    return s;
}
