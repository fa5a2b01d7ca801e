/* SPDX-License-Identifier: MIT */
/*
 * process.h: the process backend's state, shared by its supervisor-side
 * files: process.c (the ops, preparing a sandbox), launch.c (building it),
 * supervise.c (what it reports, its end), files.c (copies, put and get,
 * --keep), limits.c (how limits are enforced and watched), records.c (the
 * status channel's decoder).
 */
#ifndef SBVM_BACKEND_PROCESS_PROCESS_H
#define SBVM_BACKEND_PROCESS_PROCESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/backend.h"
#include "backend/process/cgroup.h"
#include "backend/process/child.h"
#include "backend/process/proto.h"
#include "backend/process/records.h"
#include "core/config.h"
#include "core/sandbox.h"
#include "drivers/host.h"
#include "forensics/forensics.h"
#include "ledger/ledger.h"
#include "net/broker.h"
#include "net/policy.h"
#include "policy/fsplan.h"
#include "policy/program.h"
#include "policy/seccomp.h"

/*
 * A syscall policy compiled for sandboxes: the built-in default (never
 * freed), or a custom one (--deny, --allow, watched calls) that sandboxes
 * hold a reference to: sandboxes of one run usually share it, and
 * libseccomp takes milliseconds to compile one.
 */
struct proc_plan {
    unsigned refs; /* 0: the default, not counted */
    struct seccomp_plan plan;
    int fd; /* its programs for the init (seccomp_plan_memfd) */
    struct strv deny, allow;
    unsigned watch;
};

/* For every sandbox of a process; made once (core/sandbox.c), then read,
 * but for what `lock` guards. */
struct proc_state {
    pthread_mutex_t lock; /* base view, policy cache, cgroup detection */
    struct guest_ids ids;
    struct fsplan base;
    bool base_built;
    struct proc_plan defaults;
    struct proc_plan *custom; /* the last custom policy compiled, or NULL */
    struct cgroup_host cgroups;
    bool cgroups_detected;
    int init_fd;    /* sealed memfd with the init, or -1: run it in place */
    int spawner_fd; /* the same for a live sandbox's exec server */
    /* Our /proc/self/oom_score_adj and its value, when we may set the
     * sandbox's floor (CAP_SYS_RESOURCE), else -1. */
    int oom_fd;
    char oom_own[16];
    /* The kernel's count of OOM kills when the state was made. */
    uint64_t oom_kills_at_start;
    /* Where our command line and environment live (child_args). */
    uint64_t args_start, args_end, env_start, env_end;
};

/* A job of a live sandbox, known to the backend by its number and, once
 * its exec server answered, its first process's pid (records name jobs by
 * that pid). */
struct proc_job {
    struct job *job;
    uint32_t id;
    int pid;
};

#define PROC_PENDING_MAX 64

/* For one sandbox. */
struct proc_sandbox {
    struct sandbox *sb;
    struct proc_state *st;
    struct strv envp;      /* the sandbox's environment */
    struct strv exec_argv; /* an inline job's argv with the program's argv[0] */
    /* Inline: its job's program. */
    struct program prog;
    bool have_prog;
    /* Live: the programs the config names (cfg->programs) that resolved,
     * each run by its exec path when a job names its argv[0]. */
    struct proc_program {
        const char *argv0; /* the config's */
        char *exec_path;   /* NULL: it did not resolve; then why: */
        char *exec_argv0;  /* its job's argv[0], or NULL: as given */
        struct program_failure fail;
    } * progs;
    size_t nprogs;
    /* The files of its programs, bound at their host paths: child slots
     * 0 onwards (owned here; the inline program's moved in). */
    struct program_bind binds[CHILD_PROGRAM_BINDS_MAX];
    size_t nbinds;
    /* The view as the program lookup and the crash symboliser see it: its
     * mounts over the rootfs or the default view. */
    struct program_view view;
    struct program_mount *view_mounts;
    /* Sources of --ro and --rw, held open (O_PATH) since they were checked:
     * child slots nbinds onwards. */
    int mount_fds[CONFIG_MOUNTS_MAX];
    const char *mount_srcs[CONFIG_MOUNTS_MAX];
    size_t nmount_fds;
    bool rootfs; /* --rootfs: mount slot 0 is the tree */
    /* A writable layer over it: its upper and work directories. */
    char *layer_upper, *layer_work;
    struct fsplan extra;
    struct proc_plan *plan; /* its policy (a reference, unless the default) */
    struct cgroup_guest cg;
    bool use_cgroup;

    pid_t pid; /* the sandbox's init, in the host's pid namespace */
    int pidfd;
    int status_fd;  /* our end of the status socket */
    int control_fd; /* the init's control socket */
    int spawn_fd;   /* live: the exec server's socket */
    int rootfd;     /* O_PATH of the sandbox's root, once the view is ready */
    int tmpfd;      /* O_PATH of its /tmp: keeps the scratch readable after it ends */
    /* Its --tmpfs mounts the same way (O_PATH, each keeps its tmpfs), and
     * what sandboxvm itself put in them and in /tmp before the guest ran
     * (--copy-in), for the ledger to tell from what the guest left. */
    int tmpfs_fds[CONFIG_MOUNTS_MAX];
    const char *tmpfs_paths[CONFIG_MOUNTS_MAX];
    size_t ntmpfs;
    struct ledger_mark *marks;
    size_t nmarks;
    struct loop_fd status_src, exit_src, spawn_src;
    struct loop_timer poll, freeze_timer;
    bool status_eof, exited;

    bool bad_record;                               /* one was malformed: the rest is ignored */
    struct sbvm_crash *building[PROC_PENDING_MAX]; /* crashes whose chunks still come */
    size_t nbuilding;
    int trace_off;  /* errno when the init could not trace the guest, else 0 */
    unsigned polls; /* limit polls so far (proc_poll_limits) */

    /* Live: its jobs by number and pid, and records for a pid whose job
     * is not known yet (its exec server's answer still on its way). */
    struct proc_job *jobs;
    size_t njobs, jobs_alloc;
    struct prec *pending;
    size_t npending, pending_alloc;
    bool spawn_busy; /* a request is on its way; the next one waits */

    bool ready;      /* REC_READY came */
    bool holding;    /* the init froze the sandbox and waits */
    bool stop_asked; /* we asked it to hold (or are killing it) */
    bool sent_kill;  /* we sent the init SIGKILL ourselves */
    struct ledger *ledger;
    char *keep_error; /* --keep failed: why */
    char *kept;       /* --keep: where the scratch went */
    /* Usage read while the sandbox held, for a guest that never exited. */
    uint64_t held_cpu_ms, held_peak;

    /* --copy-in, --copy-out: done in order, recorded for the result. */
    struct sbvm_copy *copies;
    size_t ncopies, copies_alloc;
    bool copied_out;

    /* --net allow: the policy, its broker once the sandbox handed over the
     * proxy's listening socket, and what the broker recorded. */
    struct net_policy net;
    bool has_net;
    struct broker *broker;
    struct sbvm_net_attempt *attempts;
    size_t nattempts;
    uint64_t attempts_dropped;

    /* Devices and drivers: the device models and the channel to them (the
     * job's channel, served by the job). */
    struct drvhost *drv;
};

static inline struct proc_sandbox *proc_of(const struct sandbox *sb)
{
    return sb->bdata;
}

/* The live program a job's argv[0] names, or NULL. */
const struct proc_program *proc_program_for(const struct proc_sandbox *ps, const char *argv0);

/* The sandbox's pids that are sandboxvm's own, not the guest's: its init,
 * and a live sandbox's exec server while it runs. */
static inline int proc_own_pids(const struct proc_sandbox *ps)
{
    return ps->sb->live && !ps->sb->spawner_gone ? 2 : 1;
}

/* The host path behind child bind slot i (for messages), or NULL. */
const char *proc_slot_src(const struct proc_sandbox *ps, size_t i);
size_t proc_slot_count(const struct proc_sandbox *ps);
/* How many processes the kernel's OOM killer has killed since boot. */
uint64_t host_oom_kills(void);

/* launch.c */
/* Whether we may set the sandbox's OOM-score floor (process.c calls it). */
void proc_oom_floor_init(struct proc_state *st);
int proc_start(struct sandbox *sb, struct job *inline_job, struct setup_fact *fail);
int proc_signal_init(struct proc_sandbox *ps, int sig);
int proc_command(struct proc_sandbox *ps, uint32_t kind, int32_t job, int32_t sig);

/* supervise.c */
int proc_watch(struct sandbox *sb);
int proc_exec(struct sandbox *sb, struct job *j, sbvm_error **err);
int proc_signal(struct sandbox *sb, struct job *j, int sig);
int proc_pause(struct sandbox *sb, bool on);
void proc_kill_job(struct sandbox *sb, struct job *j);
void proc_forget_job(struct sandbox *sb, struct job *j);
void proc_stop(struct sandbox *sb);
void proc_finish(struct sandbox *sb, struct sandbox_report *rep);

/* files.c */
/* --copy-in, with the sandbox's root held: 0, or -errno with the failure
 * described in msg. */
int proc_copy_in(struct sandbox *sb, char *msg, size_t msgsize);
/* --copy-out; via_tmp: the sandbox is gone, only its /tmp can be read. */
void proc_copy_out(struct sandbox *sb, bool via_tmp);
/* The ledger (processes only while it holds) and --keep. */
void proc_take_ledger(struct sandbox *sb, bool processes);
int proc_put(struct sandbox *sb, const char *host, const char *guest, unsigned flags,
             sbvm_error **err);
int proc_get(struct sandbox *sb, const char *guest, const char *host, unsigned flags,
             sbvm_error **err);
int proc_inventory(struct sandbox *sb, struct ledger **out, sbvm_error **err);
/* A process's /proc/PID directory in the sandbox's own /proc: an fd (for
 * pidfd_send_signal, and its stat), or -errno. */
int proc_open_proc(struct sandbox *sb, int pid);
/* The scratch's size: the disk limit, never unlimited. */
uint64_t proc_scratch_size(const struct sbvm_config *cfg);
/* The size its tmpfs is made with, and whether the guest has gone past
 * its disk limit (*used: the bytes in use, in whole pages). */
uint64_t proc_scratch_mount_size(const struct sbvm_config *cfg);
/* The view is ready (rootfd, tmpfd held): hold its --tmpfs mounts too. */
void proc_hold_scratches(struct proc_sandbox *ps);
/* What is in its scratches now is sandboxvm's (called after --copy-in,
 * while the guest waits). */
void proc_mark_scratches(struct proc_sandbox *ps);
bool proc_scratch_over(const struct sbvm_config *cfg, int tmpfd, uint64_t *used);
bool proc_has_copies(const struct sbvm_config *cfg, bool out);

/* limits.c */
void proc_choose_mechanisms(struct proc_sandbox *ps, const struct sbvm_config *cfg);
unsigned proc_watch_mask(const struct proc_sandbox *ps, const struct sbvm_config *cfg);
void proc_poll_limits(struct sandbox *sb);
/* A limit the sandbox refused something at during its life, found at its
 * end (a fork at the pids limit, a full scratch): reported then. */
void proc_final_limits(struct sandbox *sb);

#endif
