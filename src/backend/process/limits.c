/* SPDX-License-Identifier: MIT */
/*
 * limits.c: how each limit is enforced on this host, which calls the init
 * watches for them, and the limits the supervisor watches by polling.
 */
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>

#include "backend/process/process.h"
#include "backend/process/procscan.h"
#include "util/util.h"

void proc_choose_mechanisms(struct proc_sandbox *ps, const struct sbvm_config *cfg)
{
    const unsigned cg_limits =
        (1u << SBVM_LIMIT_MEMORY) | (1u << SBVM_LIMIT_PIDS) | (1u << SBVM_LIMIT_CPU);
    struct proc_state *st = ps->st;
    const struct cgroup_host *h = &st->cgroups;
    const char **mech = ps->sb->mechanisms;
    const char *cg;

    for (int l = 0; l < SBVM_LIMIT__COUNT; l++)
        mech[l] = NULL;
    /* Finding the host's cgroups reads several /proc and /sys files: only
     * once, and only when a limit that needs them is asked for. */
    if ((cfg->limits_set & cg_limits) || config_cgroup_set(&cfg->cgroup)) {
        pthread_mutex_lock(&st->lock);
        if (!st->cgroups_detected) {
            const uint64_t area[4] = { st->args_start, st->args_end, st->env_start, st->env_end };
            cgroup_detect(&st->cgroups);
            st->cgroups_detected = true;
            /* Our groups are removed however we end. */
            cgroup_janitor_start(&st->cgroups, area);
        }
        pthread_mutex_unlock(&st->lock);
    }
    cg = cgroup_mode_name(h->mode);
    if (cfg->limits[SBVM_LIMIT_TIME])
        mech[SBVM_LIMIT_TIME] = "supervisor";
    if (cfg->limits[SBVM_LIMIT_OUTPUT])
        mech[SBVM_LIMIT_OUTPUT] = "supervisor";
    /* A cgroup only when a limit that needs one was asked for: moving a
     * process into a cgroup v1 costs several milliseconds (an RCU grace
     * period), more than all the rest of a sandbox's start. cgroup
     * settings always ask for one (and fail the start where there is none:
     * cgroup_create). */
    ps->use_cgroup = (h->mode != CGROUP_NONE && (cfg->limits_set & cg_limits)) ||
                     config_cgroup_set(&cfg->cgroup);
    if (cfg->limits[SBVM_LIMIT_MEMORY])
        mech[SBVM_LIMIT_MEMORY] = ps->use_cgroup && h->base[CG_MEMORY] ? cg : "rlimit";
    if (cfg->limits[SBVM_LIMIT_PIDS])
        mech[SBVM_LIMIT_PIDS] = ps->use_cgroup && h->base[CG_PIDS] ? cg : "rlimit";
    if (cfg->limits[SBVM_LIMIT_CPU])
        mech[SBVM_LIMIT_CPU] = ps->use_cgroup && h->base[CG_CPU] ? cg : "rlimit";
    if (cfg->limits[SBVM_LIMIT_FILES])
        mech[SBVM_LIMIT_FILES] = "rlimit";
    if (cfg->limits[SBVM_LIMIT_DISK])
        mech[SBVM_LIMIT_DISK] = "tmpfs";
}

static bool is_rlimit(const char *mech)
{
    return mech && streq(mech, "rlimit");
}

/*
 * An rlimit fails a call quietly (EMFILE, EAGAIN, ENOMEM); for a limit the
 * caller asked for, the init watches the calls that can hit it, so that
 * reaching it ends the guest with that limit as its outcome. Defaults are
 * not watched: they are a safety net, and watching costs two stops a call.
 */
unsigned proc_watch_mask(const struct proc_sandbox *ps, const struct sbvm_config *cfg)
{
    const char *const *mech = ps->sb->mechanisms;
    unsigned w = 0;

    if ((cfg->limits_set & (1u << SBVM_LIMIT_FILES)) && cfg->limits[SBVM_LIMIT_FILES])
        w |= SECCOMP_WATCH_FILES;
    if ((cfg->limits_set & (1u << SBVM_LIMIT_PIDS)) && is_rlimit(mech[SBVM_LIMIT_PIDS]))
        w |= SECCOMP_WATCH_PIDS;
    if ((cfg->limits_set & (1u << SBVM_LIMIT_MEMORY)) && is_rlimit(mech[SBVM_LIMIT_MEMORY]))
        w |= SECCOMP_WATCH_MEMORY;
    /* Per-process address space cannot count memfds or SysV shared memory. */
    if (cfg->limits[SBVM_LIMIT_MEMORY] && is_rlimit(mech[SBVM_LIMIT_MEMORY]))
        w |= SECCOMP_REFUSE_SHARED_MEMORY;
    return w;
}

/*
 * Whether this poll counts the sandbox's processes against an rlimit pids
 * limit (a listing of its /proc, most of what an idle sandbox costs its
 * supervisor). RLIMIT_NPROC itself refuses the fork past the limit; the
 * count is what ends the sandbox for it. A limit the caller asked for is
 * watched: the init reports the refused fork, so there is nothing to count
 * unless the init could not trace. A default one is a safety net the init
 * does not watch (proc_watch_mask): counted every tenth poll, half a second.
 */
static bool pids_scan_due(struct proc_sandbox *ps, const struct sbvm_config *cfg)
{
    if (ps->trace_off)
        return true;
    if (proc_watch_mask(ps, cfg) & SECCOMP_WATCH_PIDS)
        return false;
    return ps->polls % 10 == 0;
}

static void reached(struct sandbox *sb, enum sbvm_limit l, uint64_t observed, const char *note)
{
    struct bev ev = { .kind = BEV_LIMIT, .job = NULL };

    ev.u.limit.which = l;
    ev.u.limit.observed = observed;
    if (note)
        snprintf(ev.u.limit.note, sizeof(ev.u.limit.note), "%s", note);
    sandbox_event(sb, &ev);
}

void proc_poll_limits(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);
    const uint64_t *lim = sb->cfg->limits;
    struct proc_state *st = ps->st;
    uint64_t u, s;

    if (ps->holding || ps->stop_asked)
        return;
    ps->polls++;
    if (lim[SBVM_LIMIT_CPU] && ps->cg.dir[CG_CPU] &&
        cgroup_cpu_usage(&st->cgroups, &ps->cg, &u, &s) && (u + s) / 1000 >= lim[SBVM_LIMIT_CPU])
        reached(sb, SBVM_LIMIT_CPU, (u + s) / 1000, NULL);
    else if (lim[SBVM_LIMIT_CPU] && !ps->cg.dir[CG_CPU] && ps->rootfd >= 0) {
        /* RLIMIT_CPU counts each process alone; the sum is ours to watch. */
        uint64_t ms = procscan_cpu_ms(ps->rootfd);
        if (ms >= lim[SBVM_LIMIT_CPU])
            reached(sb, SBVM_LIMIT_CPU, ms, NULL);
    }
    if (ps->stop_asked)
        return;
    if (lim[SBVM_LIMIT_PIDS] && ps->cg.dir[CG_PIDS] && cgroup_pids_refused(&ps->cg) > 0)
        reached(sb, SBVM_LIMIT_PIDS, cgroup_pids_current(&ps->cg), NULL);
    else if (lim[SBVM_LIMIT_PIDS] && !ps->cg.dir[CG_PIDS] && ps->rootfd >= 0 &&
             pids_scan_due(ps, sb->cfg)) {
        uint64_t n = procscan_count(ps->rootfd);
        if (n >= lim[SBVM_LIMIT_PIDS])
            reached(sb, SBVM_LIMIT_PIDS, n, NULL);
    }
    if (ps->stop_asked)
        return;
    if (proc_scratch_over(sb->cfg, ps->tmpfd, &u))
        reached(sb, SBVM_LIMIT_DISK, u, NULL);
    if (ps->stop_asked)
        return;
    /* The init watches for EMFILE; without a tracer, count: that means
     * reading every process's fd directory, so only for a files limit the
     * caller asked for. */
    if (ps->trace_off && ps->rootfd >= 0 && lim[SBVM_LIMIT_FILES] &&
        (sb->cfg->limits_set & (1u << SBVM_LIMIT_FILES))) {
        uint64_t n = procscan_max_fds(ps->rootfd);
        if (n >= lim[SBVM_LIMIT_FILES])
            reached(sb, SBVM_LIMIT_FILES, n, NULL);
    }
}

void proc_final_limits(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);
    const uint64_t *lim = sb->cfg->limits;
    uint64_t used;

    /* A limit that refused the guest something during its life (a fork at
     * the pids limit, a write into a full scratch) is its outcome, even
     * when it then ended by itself: that refusal is why it ended. */
    if (lim[SBVM_LIMIT_PIDS] && ps->cg.dir[CG_PIDS] && cgroup_pids_refused(&ps->cg) > 0)
        reached(sb, SBVM_LIMIT_PIDS, lim[SBVM_LIMIT_PIDS], NULL);
    if (proc_scratch_over(sb->cfg, ps->tmpfd, &used))
        reached(sb, SBVM_LIMIT_DISK, used, NULL);
}
