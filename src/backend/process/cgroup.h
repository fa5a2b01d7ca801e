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
 * the next detection).
 */
#ifndef SBVM_BACKEND_PROCESS_CGROUP_H
#define SBVM_BACKEND_PROCESS_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandboxvm/sandboxvm.h"

enum cgroup_mode {
    CGROUP_NONE,
    CGROUP_V1,
    CGROUP_V2,
};

enum cgroup_ctl {
    CG_MEMORY,
    CG_PIDS,
    CG_CPU, /* v1: cpuacct; v2: cpu (cpu.stat works without it enabled) */
    CG__COUNT,
};

struct cgroup_host {
    enum cgroup_mode mode;
    char *base[CG__COUNT]; /* where guests' groups are made; v2: all the same */
};

struct cgroup_guest {
    char *dir[CG__COUNT]; /* NULL when the controller is not available */
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

/* Makes the guest's groups and writes the memory and pids limits (0: none). */
int cgroup_create(const struct cgroup_host *h, struct cgroup_guest *g, unsigned index,
                  uint64_t memory, uint64_t pids, sbvm_error **err);
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
