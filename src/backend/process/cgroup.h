/* SPDX-License-Identifier: MIT */
/*
 * cgroup.h: a control group per guest, where the host offers one.
 *
 * Detected once per run: a cgroup v2 hierarchy where our own cgroup has the
 * memory and pids controllers enabled for its children (a delegated subtree,
 * or root's), else cgroup v1 controllers we may write (as root), else none,
 * and limits fall back to rlimits. Each guest gets a directory per
 * controller named "sandboxvm-<supervisor pid>-<guest index>", which is
 * removed when the guest ends (stale ones of dead supervisors are removed at
 * the next detection). A guest whose config names a path (struct
 * config_cgroup) gets its group there instead; what we made of that path is
 * removed at the end, by the janitor if we are killed.
 *
 * The cpu and cpuset controllers get a directory only for a guest whose
 * config sets them (in cgroup v1 every directory costs its attach).
 */
#ifndef SBVM_BACKEND_PROCESS_CGROUP_H
#define SBVM_BACKEND_PROCESS_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/config.h"
#include "sandboxvm/sandboxvm.h"
#include "util/strv.h"

enum cgroup_mode {
    CGROUP_NONE,
    CGROUP_V1,
    CGROUP_V2,
};

enum cgroup_ctl {
    CG_MEMORY,
    CG_PIDS,
    CG_CPU,    /* accounting. v1: cpuacct; v2: cpu (cpu.stat works without it enabled) */
    CG_CPUCTL, /* bandwidth and weight. v1: cpu; v2: cpu, enabled for our subtree */
    CG_CPUSET, /* v1: cpuset; v2: cpuset, enabled for our subtree */
    CG__COUNT,
};

struct cgroup_host {
    enum cgroup_mode mode;
    char *base[CG__COUNT]; /* where guests' groups are made; v2: all the same */
    char *root[CG__COUNT]; /* the hierarchy's mount point, for a config's absolute path */
};

struct cgroup_guest {
    char *dir[CG__COUNT]; /* NULL when the controller is not available */
    bool made[CG__COUNT]; /* dir[c] is ours to remove (not a config's existing group) */
    struct strv parents;  /* directories of a config's path we made, in order */
    bool on_path;         /* at a config's path (noted to the janitor) */
};

/* Finds what this host offers; never fails (mode NONE when nothing). */
void cgroup_detect(struct cgroup_host *h);
/*
 * Starts, once per process, the janitor: a small process of the host that
 * outlives us and removes the groups we made when we are gone however we
 * went (SIGKILL included: nothing of ours can run then). It holds nothing
 * of ours but the groups' parent directories and a pipe whose other end
 * closes with us; `area` is where our command line and environment are
 * (arg_start, arg_end, env_start, env_end), scrubbed in its copy.
 */
void cgroup_janitor_start(const struct cgroup_host *h, const uint64_t area[4]);
void cgroup_host_release(struct cgroup_host *h);
const char *cgroup_mode_name(enum cgroup_mode m);

/*
 * Makes the guest's groups (at cc->path when set) and writes the memory and
 * pids limits (0: none) and cc's CPU settings (cc may be NULL). A setting
 * this host cannot apply (no such controller for us, a value the kernel
 * refuses) fails, naming it; so does a config's existing group that has
 * processes in it.
 */
int cgroup_create(const struct cgroup_host *h, struct cgroup_guest *g, unsigned index,
                  uint64_t memory, uint64_t pids, const struct config_cgroup *cc, sbvm_error **err);
/* cgroup v2's cpu.weight for v1 cpu.shares (2..262144 -> 1..10000). */
uint64_t cgroup_shares_to_weight(uint64_t shares);
/* Moves process `pid` (and so everything it forks) into the groups. */
int cgroup_attach(const struct cgroup_guest *g, pid_t pid, sbvm_error **err);
/* Removes the groups (retrying while their last processes finish leaving). */
void cgroup_destroy(struct cgroup_guest *g);

/* Readings; 0 / false when unavailable. */
uint64_t cgroup_memory_peak(const struct cgroup_host *h, const struct cgroup_guest *g);
uint64_t cgroup_oom_kills(const struct cgroup_host *h, const struct cgroup_guest *g);
uint64_t cgroup_pids_current(const struct cgroup_guest *g);
uint64_t cgroup_pids_refused(const struct cgroup_guest *g); /* forks refused at the limit */
bool cgroup_cpu_usage(const struct cgroup_host *h, const struct cgroup_guest *g, uint64_t *user_us,
                      uint64_t *system_us);

#endif
