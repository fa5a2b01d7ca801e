/* SPDX-License-Identifier: MIT */
/*
 * allowall.c: runs a command under the cheapest possible seccomp filter, a
 * single "allow" instruction (with no_new_privs), as the reference for the
 * cost a filter adds to every syscall.
 *
 *   allowall PROGRAM [ARGS...]
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
    struct sock_fprog prog = { 1, allow };

    if (argc < 2) {
        fprintf(stderr, "usage: allowall PROGRAM [ARGS...]\n");
        return 2;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
        perror("allowall: seccomp");
        return 125;
    }
    execvp(argv[1], argv + 1);
    perror("allowall: exec");
    return 127;
}
