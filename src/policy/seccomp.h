/* SPDX-License-Identifier: MIT */
/*
 * seccomp.h: the guest's syscall filter, compiled on the host with libseccomp
 * into classic BPF that the child installs with one system call.
 *
 * The policy is two stacked filters (the kernel applies the strictest answer):
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
 */
#ifndef SBVM_POLICY_SECCOMP_H
#define SBVM_POLICY_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "sandboxvm/sandboxvm.h"

#define SECCOMP_PLAN_MAX 2

struct seccomp_plan {
    struct sock_fprog progs[SECCOMP_PLAN_MAX];
    size_t count;
    bool owned; /* progs were allocated (not the built-in default) */
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
void seccomp_plan_release(struct seccomp_plan *plan);

/* The policy as data, for documentation and tests. */
enum seccomp_rule_action {
    SECCOMP_RULE_ALLOW,
    SECCOMP_RULE_EPERM,
    SECCOMP_RULE_ENOSYS,
    SECCOMP_RULE_GUARDED, /* allowed, with argument guards in filter 2 */
};

struct seccomp_rule {
    const char *name;
    enum seccomp_rule_action action;
    const char *why;
};

const struct seccomp_rule *seccomp_rules(size_t *count);

#endif
