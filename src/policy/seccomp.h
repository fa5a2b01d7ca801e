/* SPDX-License-Identifier: MIT */
/*
 * seccomp.h: the guest's syscall filter, compiled on the host with libseccomp
 * into classic BPF that the child installs with one system call.
 *
 * The guest's policy is two stacked filters (the kernel applies the strictest
 * answer):
 *
 *  1. an allowlist: every syscall real programs need (shells, compilers,
 *     interpreters, git) is allowed without looking at its arguments, a set of
 *     privileged ones fails with EPERM, and everything else - new or unknown
 *     syscalls, io_uring, userfaultfd - fails with ENOSYS so that probing
 *     programs fall back and go on;
 *  2. argument guards: TIOCSTI/TIOCLINUX ioctls (compared on the low 32 bits,
 *     which is all the kernel uses: CVE-2019-10063), clone with namespace
 *     flags, and socket families other than unix, inet, inet6 and netlink.
 *
 * They are separate because libseccomp silently drops conditional rules for a
 * syscall that also has an unconditional one. Syscalls allowed by both filters
 * without conditions hit the kernel's per-filter action cache, so the hot path
 * (read, write, ...) never runs BPF. Foreign architectures - the i386 entry
 * through int 0x80 and the x32 ABI - kill the whole guest process.
 *
 * Refusals are not plain errnos: they are SECCOMP_RET_TRACE with the errno as
 * data, so the sandbox's init (the guest's tracer) sees each one, counts it
 * by name for the report, and makes it fail with that errno. The init takes
 * that errno from its own run of these filters (policy/bpf_eval.h), never
 * from the stop, whose data a filter of the guest's may have chosen. A
 * syscall the run's policy denies (--deny) kills the process: no action a
 * guest's filter returns outranks SECCOMP_RET_KILL_PROCESS. Without a
 * tracer the kernel fails traced calls with ENOSYS, which still refuses
 * them. docs/SECURITY.md has the whole argument.
 *
 * The init itself gets a third, much smaller filter: the dozen syscalls it
 * uses, everything else kills it (and so ends the sandbox).
 */
#ifndef SBVM_POLICY_SECCOMP_H
#define SBVM_POLICY_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/sandboxvm.h"
#include "util/strv.h"

#define SECCOMP_PLAN_MAX 3

struct seccomp_plan {
    struct sock_fprog progs[SECCOMP_PLAN_MAX]; /* the guest's filters */
    size_t count;
    struct sock_fprog init; /* the init's filter */
    bool owned;             /* allocated (not the built-in default) */
};

/*
 * The default policy is compiled once, at build time, by tools/gen-seccomp.c
 * (libseccomp takes over a millisecond to generate it, a fifth of a
 * sandbox's start-up); seccomp_plan_default() hands out that program.
 * seccomp_plan_build() compiles the same policy at run time, which later
 * per-run changes to the policy will use, and which tests compare with the
 * built-in program.
 */
void seccomp_plan_default(struct seccomp_plan *plan);
int seccomp_plan_build(struct seccomp_plan *plan, sbvm_error **err);
/*
 * Limits that rlimits enforce fail a syscall without a trace (EMFILE,
 * EAGAIN, ENOMEM). To report them, the calls that can hit one are "watched":
 * the init lets them run and looks at their result. The watch filter is
 * installed first, under the others, so that for a call both trace (a clone
 * with namespace flags) the stricter filter's answer stands.
 */
enum seccomp_watch {
    SECCOMP_WATCH_FILES = 1 << 0,  /* calls that make a file descriptor */
    SECCOMP_WATCH_PIDS = 1 << 1,   /* fork, vfork, clone, clone3 */
    SECCOMP_WATCH_MEMORY = 1 << 2, /* mmap, mremap, brk */
    /* Not a watch but a refusal, for a memory limit enforced per process
     * (RLIMIT_AS): memory in a memfd or SysV shared memory is in no
     * process's address space until mapped, so memfd_create and shmget fail
     * with EPERM instead of letting a guest hold memory past its limit. */
    SECCOMP_REFUSE_SHARED_MEMORY = 1 << 3,
};

/* The same policy with per-run changes: syscalls in `deny` become fatal,
 * syscalls in `allow` are allowed (both checked with seccomp_name_check),
 * and the calls of `watch` (enum seccomp_watch) are watched. */
int seccomp_plan_build_custom(struct seccomp_plan *plan, const struct strv *deny,
                              const struct strv *allow, unsigned watch, sbvm_error **err);
/* Checks a syscall name for --deny or (allow = true) --allow: it must be an
 * x86_64 syscall libseccomp knows, and allowing must not undo a rule that
 * keeps the guest inside its sandbox. */
int seccomp_name_check(const char *name, bool allow, sbvm_error **err);
/* The plan's guest filters as a sealed memfd holding a struct proc_policy
 * and the programs (proto.h), for the init to evaluate; the fd, or -errno. */
int seccomp_plan_memfd(const struct seccomp_plan *plan, sbvm_error **err);
/* The x86_64 name of a syscall number (static storage), or NULL. */
const char *seccomp_syscall_name(int nr);

/* The ABI a call came through, from its seccomp arch and number: x86_64,
 * x32 (the x86_64 arch with bit 30 in the number) or i386 (int 0x80). */
enum seccomp_abi {
    SECCOMP_ABI_X86_64,
    SECCOMP_ABI_X32,
    SECCOMP_ABI_I386,
    SECCOMP_ABI_OTHER,
};
enum seccomp_abi seccomp_abi_of(uint32_t arch, uint64_t nr);
/* "x86_64", "x32", "i386", "unknown". */
const char *seccomp_abi_name(enum seccomp_abi abi);
/* The call's number within its ABI (x32's without its bit), or -1. */
int seccomp_abi_nr(enum seccomp_abi abi, uint64_t nr);
/* Its name in that ABI (static storage), or NULL. */
const char *seccomp_syscall_name_abi(enum seccomp_abi abi, int nr);
void seccomp_plan_release(struct seccomp_plan *plan);

/* The policy as data, for documentation and tests. */
enum seccomp_rule_action {
    SECCOMP_RULE_ALLOW,
    SECCOMP_RULE_EPERM,
    SECCOMP_RULE_ENOSYS,
    SECCOMP_RULE_GUARDED, /* allowed, with argument guards in filter 2 */
    SECCOMP_RULE_DENY,    /* fatal: the guest is stopped (--deny) */
};

struct seccomp_rule {
    const char *name;
    enum seccomp_rule_action action;
    const char *why;
};

const struct seccomp_rule *seccomp_rules(size_t *count);

#endif
