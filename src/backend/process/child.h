/* SPDX-License-Identifier: MIT */
/*
 * child.h: the code that runs in the cloned child, between clone3() and the
 * guest's execve().
 *
 * Everything the child needs is prepared by the supervisor before the clone
 * and passed in `struct child_args`. The child runs in a copy of the
 * supervisor's address space in which only the cloning thread exists, so it
 * calls nothing but system calls and the few libc wrappers that are plain
 * system calls: no malloc, no stdio, no locks, nothing that reads the stale
 * thread id in the TCB (raise, abort, pthread_*).
 */
#ifndef SBVM_BACKEND_PROCESS_CHILD_H
#define SBVM_BACKEND_PROCESS_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/config.h"
#include "policy/fsplan.h"
#include "policy/program.h"
#include "policy/seccomp.h"

struct child_args {
    /* The filesystem view: base operations shared by a run, then this
     * guest's own. Indexes in records count base first. */
    const struct fsop *base_ops;
    size_t nbase;
    const struct fsop *extra_ops;
    size_t nextra;

    const struct seccomp_plan *seccomp;
    uid_t uid; /* the guest's uid and gid (inside = outside) */
    gid_t gid;
    bool host_root; /* the child starts as host root, mapped to 0 */

    const char *exec_path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int init_flags;    /* INIT_FLAG_*: the init always holds the sandbox for the
                        * ledger; HOLD_ALWAYS also when nothing is left (copy-out) */
    bool wait_copy_in; /* after "view ready", wait for the supervisor's copies */
    /* The supervisor moves the child into cgroups before "go": the guest
     * process must not be forked before then, or it would stay outside. */
    bool wait_go_before_fork;
    /* enum sbvm_net: NONE and ALLOW get a network namespace of their own;
     * ALLOW also the proxy's listening socket, handed to the supervisor. */
    int net_mode;
    /* --rootfs: the bind slot holding the tree, bound read-only as the
     * root instead of a tmpfs; the base view is not used. -1: none. */
    int rootfs_slot;
    /* A writable layer over it: the root is an overlayfs of the tree
     * (lower, "/proc/self/fd/N" of its slot) and these host directories;
     * NULL: the tree alone, read-only. */
    char overlay_lower[32];
    const char *overlay_upper, *overlay_work;
    /* The guest process runs apart from pid 1's CPU while both set up
     * (child.c, start_apart): only when no other sandbox of the run is
     * alive, whose work would be in the way on the other CPUs. */
    bool start_apart;
    /* The SysV shared memory the sandbox's IPC namespace may hold, in
     * bytes (the scratch's size); 0 leaves the namespace's defaults. */
    uint64_t ipc_bytes;
    /* Rlimits the guest sets before its exec; 0 leaves one as it is. */
    uint64_t rl_nofile, rl_nproc, rl_as, rl_cpu /* s */, rl_fsize;

    /* A live sandbox: pid 2 becomes its exec server (spawner.c) instead
     * of running a program; exec_path, argv, envp, cwd and fd_in/out/err
     * are unused. */
    bool live;
    /* The supervisor's descriptor numbers; the child moves them into the
     * FD_* slots of proto.h. fd_in < 0 means /dev/null. fd_policy holds
     * the filters of `seccomp` for the init (seccomp_plan_memfd); live,
     * fd_spawner the exec server's executable and fd_spawn its socket. */
    int fd_status, fd_control, fd_init, fd_policy, fd_spawner, fd_spawn, fd_in, fd_out, fd_err;
    int fd_channel; /* the guest's host channel (its fd 3), or -1 */
    /* Where the supervisor's command line and environment live in its
     * memory, which pid 1 copies: cleared when pid 1 must run the init in
     * place, since anyone in the sandbox may read /proc/1/cmdline (the
     * command line may hold --secret values). Zero when unknown. */
    uint64_t args_start, args_end, env_start, env_end;
    const int *bind_fds;
    const char *const *bind_srcs; /* canonical host paths of the same files */
    size_t nbinds;
    /* An OCI container's (config_container): its host name (NULL:
     * "sandbox"); whether its rootfs stays writable (it is bound writable
     * while the view is built, for mount points, and made read-only after
     * unless rootfs_rw); the groups its processes get when started as root;
     * sysctls of its own namespaces, written by pid 1 before it drops its
     * capabilities. */
    bool container;
    const char *hostname;
    bool rootfs_rw;
    const uint32_t *groups;
    size_t ngroups;
    bool keep_groups;
    char *const *sysctl_paths;
    char *const *sysctl_values;
    size_t nsysctl;
};

/* Host files and directories the child binds, each in an fd slot: the
 * files of its programs and their interpreters, then the sources of --ro
 * and --rw. */
#define CHILD_PROGRAM_BINDS_MAX 64
#define CHILD_SLOTS_MAX         (CHILD_PROGRAM_BINDS_MAX + CONFIG_MOUNTS_MAX)

/* Never returns: execs the init (pid 1) and the guest, or reports and exits. */
_Noreturn void child_main(const struct child_args *a);

#endif
