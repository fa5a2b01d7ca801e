/* SPDX-License-Identifier: MIT */
/* process.h: the process backend's state, shared by its supervisor-side files. */
#ifndef SBVM_BACKEND_PROCESS_PROCESS_H
#define SBVM_BACKEND_PROCESS_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/backend.h"
#include "backend/process/cgroup.h"
#include "backend/process/proto.h"
#include "core/result.h"
#include "forensics/forensics.h"
#include "ledger/ledger.h"
#include "net/broker.h"
#include "net/policy.h"
#include "policy/fsplan.h"
#include "policy/program.h"
#include "policy/seccomp.h"

struct proc_state {
    struct guest_ids ids;
    struct fsplan base;
    struct seccomp_plan seccomp; /* the built-in default */
    int seccomp_fd;              /* its programs for the init (seccomp_plan_memfd) */
    /* The last custom policy compiled (--deny, --allow, watched calls), and
     * what it was compiled for: guests of one run usually share it, and
     * libseccomp takes milliseconds to compile one. */
    struct seccomp_plan custom;
    struct strv custom_deny, custom_allow;
    unsigned custom_watch;
    bool has_custom;
    int custom_fd;
    struct cgroup_host cgroups;
    bool cgroups_detected;
    int init_fd; /* sealed memfd with the init, or -1: run it in place */
    /* Our /proc/self/oom_score_adj and its value, when we may set the
     * sandbox's floor (CAP_SYS_RESOURCE), else -1. */
    int oom_fd;
    char oom_own[16];
    /* The kernel's count of OOM kills when the run began. */
    uint64_t oom_kills_at_start;
    /* Where our command line and environment live (child_args). */
    uint64_t args_start, args_end, env_start, env_end;
};

#define SYSCALLS_TRACKED 1024

struct proc_guest {
    struct proc_state *st;
    struct strv envp;
    struct program prog;
    /* The guest's view as the program lookup and the crash symboliser see
     * it: its mounts over the rootfs or the default view. */
    struct program_view view;
    struct program_mount *view_mounts;
    /* Sources of --ro and --rw, held open (O_PATH) since they were checked:
     * child slots prog.nbinds onwards. */
    int mount_fds[CONFIG_MOUNTS_MAX];
    const char *mount_srcs[CONFIG_MOUNTS_MAX];
    size_t nmount_fds;
    bool rootfs; /* --rootfs: mount slot 0 is the tree */
    struct fsplan extra;
    bool custom; /* runs the run's custom syscall policy (proc_state.custom) */
    struct cgroup_guest cg;
    bool use_cgroup;

    pid_t pid; /* the sandbox's init, in the host's pid namespace */
    int pidfd;
    int status_fd;  /* our end of the status socket */
    int control_fd; /* write end: "go", later the init's release */
    int rootfd;     /* O_PATH of the sandbox's root, once the view is ready */
    int tmpfd;      /* O_PATH of its /tmp: keeps the scratch readable after it ends */

    bool bad_record;   /* one was malformed: the rest is ignored */
    int passed_fds[2]; /* descriptors that came with the current message */

    struct proc_setup setup, exec;
    bool have_setup, have_exec;
    struct proc_exit exit;
    bool have_exit;
    int trace_off; /* errno when the init could not trace the guest, else 0 */

    struct sbvm_crash *crashes[RESULT_CRASHES_MAX];
    size_t ncrashes;
    uint32_t crashes_dropped;
    uint32_t syscall_count[SYSCALLS_TRACKED + 1]; /* last: out of range */
    int32_t syscall_err[SYSCALLS_TRACKED + 1];
    struct proc_denied denied;
    bool have_denied;

    bool sent_kill;    /* we sent the init SIGKILL ourselves */
    bool holding;      /* the init froze the sandbox and waits */
    bool freeze_sent;  /* we asked for a freeze (a limit was hit) */
    int64_t freeze_at; /* when, monotonic ns */
    struct ledger *ledger;
    char *keep_error; /* --keep failed: why */
    char *kept;       /* --keep: where the scratch went */
    /* Usage read while the sandbox held, for a guest that never exited (a
     * limit or a denied call stopped it): no rusage comes for it. */
    uint64_t held_cpu_ms, held_peak;

    /* Limits: how each one is enforced here, and which one ended the guest. */
    const char *mech[SBVM_LIMIT__COUNT];

    /* --copy-in, --copy-out: done in order, recorded for the result. */
    struct sbvm_copy *copies;
    size_t ncopies;
    bool copied_out;

    /* --net allow: the policy, its broker once the sandbox handed over the
     * proxy's listening socket, and what the broker recorded. */
    struct net_policy net;
    bool has_net;
    struct broker *broker;
    struct sbvm_net_attempt *attempts;
    size_t nattempts;
    uint64_t attempts_dropped; /* past the broker's record */

    /* Failures on the supervisor's side of the spawn. */
    const char *host_stage;
    int host_errno;
    char host_what[512];
};

/* How many processes the kernel's OOM killer has killed since boot. */
uint64_t host_oom_kills(void);
/* The host path behind child bind slot i (for messages), or NULL. */
const char *proc_slot_src(const struct proc_guest *pg, size_t i);
size_t proc_slot_count(const struct proc_guest *pg);

/* records.c: reading the status socket. false at end of file. */
bool proc_read_records(struct guest *g);
/* outcome.c: the guest's result from everything collected. */
void proc_fill_result(struct guest *g, sbvm_result *r, const siginfo_t *init_status);
/* process.c: the init froze the sandbox; inventory it and let it go. */
void proc_take_ledger(struct guest *g);
/* process.c: ask the init to freeze the sandbox (for a limit or a stop). */
void proc_request_freeze(struct guest *g);
/* process.c: the sandbox's proxy listener (or -1): start the broker. */
void proc_net_listener(struct guest *g, int fd);
/* process.c: the view is in place; the sandbox's root and /tmp (O_PATH,
 * or -1), which it takes or closes. */
void proc_view_ready(struct guest *g, int rootfd, int tmpfd);

#endif
