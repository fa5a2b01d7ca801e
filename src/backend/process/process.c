/* SPDX-License-Identifier: MIT */
/*
 * process.c: the process backend on the supervisor's side: prepares the
 * guest's view, filter and limits, clones the sandbox, writes its id maps,
 * puts it in its cgroups, watches its limits, takes its ledger when it ends.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/process/child.h"
#include "backend/process/process.h"
#include "backend/process/procscan.h"
#include "backend/process/userns.h"
#include "policy/env.h"
#include "util/cleanup.h"
#include "util/copytree.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* The size of the writable /tmp: the disk limit, never unlimited. */
static uint64_t scratch_size(const struct sbvm_config *cfg)
{
    return cfg->limits[SBVM_LIMIT_DISK] ? cfg->limits[SBVM_LIMIT_DISK] : SBVM_DEFAULT_DISK;
}

static bool has_copies(const struct sbvm_config *cfg, bool out)
{
    for (size_t i = 0; i < cfg->ncopies; i++)
        if (cfg->copies[i].out == out)
            return true;
    return false;
}

/* How long a frozen sandbox may take to say it holds before it is killed. */
#define FREEZE_GRACE_NS (2000LL * 1000000)

/* The init executable, embedded at build time (init_image.c). */
extern const unsigned char sbvm_init_image[];
extern const size_t sbvm_init_image_len;

static int make_init_memfd(void)
{
    int fd = memfd_create("sbvm-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

    if (fd < 0 && errno == EINVAL)
        fd = memfd_create("sbvm-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    /* Execute-only: an exec of a file its user may not read leaves the
     * process non-dumpable from the exec on, so there is no moment, before
     * the init's first prctl, in which a guest of the same uid could open
     * the init's /proc entries. Sealed: nothing, not even a process that
     * got hold of the fd, can change what every sandbox's pid 1 runs. */
    if (write_full(fd, sbvm_init_image, sbvm_init_image_len) < 0 || fchmod(fd, 0111) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void proc_run_release(void *state)
{
    struct proc_state *st = state;

    if (!st)
        return;
    fsplan_release(&st->base);
    seccomp_plan_release(&st->seccomp);
    close_fd(&st->seccomp_fd);
    if (st->has_custom)
        seccomp_plan_release(&st->custom);
    close_fd(&st->custom_fd);
    strv_release(&st->custom_deny);
    strv_release(&st->custom_allow);
    cgroup_host_release(&st->cgroups);
    close_fd(&st->init_fd);
    close_fd(&st->oom_fd);
    free(st);
}

/* Where the kernel keeps our command line and environment (proc(5):
 * arg_start, arg_end, env_start, env_end are fields 48-51 of stat). */
static void find_arg_area(struct proc_state *st)
{
    char buf[1024];
    uint64_t v[4];

    if (read_small_at(AT_FDCWD, "/proc/self/stat", buf, sizeof(buf)) > 0 &&
        procscan_stat_fields(buf, 48, 51, v)) {
        st->args_start = v[0];
        st->args_end = v[1];
        st->env_start = v[2];
        st->env_end = v[3];
    }
}

/*
 * Guests are the OOM killer's first choice (oom_score_adj 1000). A process
 * may lower its own score back to the floor below which only a holder of
 * CAP_SYS_RESOURCE may go, and that floor is only set by such a holder:
 * where we have the capability, we raise our own score to 1000 (which sets
 * the floor) just for the clone, so that the sandbox inherits both, and
 * then restore ours. Without it, the guest raises its own score (child.c)
 * and could lower it again (docs/SECURITY.md).
 */
static void oom_floor(struct proc_state *st, bool raise)
{
    if (st->oom_fd < 0)
        return;
    if (raise)
        (void)!pwrite(st->oom_fd, "1000", 4, 0);
    else
        (void)!pwrite(st->oom_fd, st->oom_own, strlen(st->oom_own), 0);
}

static void oom_floor_init(struct proc_state *st)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    ssize_t n;

    st->oom_fd = -1;
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) < 0 || !(d[0].effective & (1u << CAP_SYS_RESOURCE)))
        return;
    st->oom_fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    if (st->oom_fd < 0)
        return;
    n = pread(st->oom_fd, st->oom_own, sizeof(st->oom_own) - 1, 0);
    if (n <= 0) {
        close_fd(&st->oom_fd);
        return;
    }
    st->oom_own[n] = '\0';
}

/* How many processes the kernel's OOM killer has killed since boot
 * (/proc/vmstat), or 0 when unknown. */
uint64_t host_oom_kills(void)
{
    char buf[16384];
    const char *p;

    if (read_small_at(AT_FDCWD, "/proc/vmstat", buf, sizeof(buf)) <= 0)
        return 0;
    p = strstr(buf, "\noom_kill ");
    return p ? strtoull(p + 10, NULL, 10) : 0;
}

static int proc_run_init(void **state, sbvm_error **err)
{
    struct proc_state *st = calloc(1, sizeof(*st));
    int r;

    if (!st)
        return error_set(err, ENOMEM, "out of memory");
    st->init_fd = st->seccomp_fd = st->custom_fd = st->oom_fd = -1;
    fsplan_init(&st->base);
    userns_guest_ids(&st->ids);
    seccomp_plan_default(&st->seccomp);
    r = seccomp_plan_memfd(&st->seccomp, err);
    if (r < 0) {
        proc_run_release(st);
        return r;
    }
    st->seccomp_fd = r;
    /* SBVM_INIT_IN_PLACE=1 runs the init the way hosts that forbid
     * executing memfds (vm.memfd_noexec=2) do: for the tests of that path
     * as an ordinary user, who cannot set the sysctl. */
    if (!streq(getenv("SBVM_INIT_IN_PLACE") ? getenv("SBVM_INIT_IN_PLACE") : "", "1"))
        st->init_fd = make_init_memfd();
    find_arg_area(st);
    oom_floor_init(st);
    st->oom_kills_at_start = host_oom_kills();
    *state = st;
    return 0;
}

static void set_host_failure(struct proc_guest *pg, const char *stage, int e, const char *what)
{
    if (pg->host_stage)
        return;
    pg->host_stage = stage;
    pg->host_errno = e;
    snprintf(pg->host_what, sizeof(pg->host_what), "%s", what);
}

static void stop_broker(struct proc_guest *pg)
{
    struct sbvm_net_attempt *v;
    size_t n;
    uint64_t dropped;

    if (!pg->broker)
        return;
    broker_stop(pg->broker, &v, &n, &dropped);
    pg->broker = NULL;
    net_attempts_free(pg->attempts, pg->nattempts);
    pg->attempts = v;
    pg->nattempts = n;
    pg->attempts_dropped = dropped;
}

void proc_net_listener(struct guest *g, int fd)
{
    struct proc_guest *pg = g->bdata;
    sbvm_error *e = NULL;

    if (fd < 0)
        return;
    if (!pg->has_net || pg->broker) {
        close(fd); /* not asked for, or a second one */
        return;
    }
    if (broker_start(&pg->net, fd, &pg->broker, &e) < 0) {
        set_host_failure(pg, "broker", sbvm_error_code(e), sbvm_error_message(e));
        sbvm_error_free(e);
        proc_request_freeze(g);
    }
}

static void proc_release(struct guest *g)
{
    struct proc_guest *pg = g->bdata;

    if (!pg)
        return;
    strv_release(&pg->envp);
    program_release(&pg->prog);
    free(pg->view_mounts);
    for (size_t i = 0; i < pg->nmount_fds; i++)
        close(pg->mount_fds[i]);
    fsplan_release(&pg->extra);
    stop_broker(pg);
    net_attempts_free(pg->attempts, pg->nattempts);
    if (pg->has_net)
        net_policy_release(&pg->net);
    cgroup_destroy(&pg->cg);
    close_fd(&pg->pidfd);
    close_fd(&pg->status_fd);
    close_fd(&pg->control_fd);
    close_fd(&pg->rootfd);
    close_fd(&pg->tmpfd);
    for (size_t i = 0; i < pg->ncrashes; i++)
        crash_free(pg->crashes[i]);
    ledger_free(pg->ledger);
    free(pg->keep_error);
    free(pg->kept);
    result_copies_free(pg->copies, pg->ncopies);
    free(pg);
    g->bdata = NULL;
}

static int fail_result(struct guest *g, enum sbvm_outcome o, const char *stage, int e,
                       const char *msg)
{
    g->result->outcome = o;
    g->result->stage = stage;
    g->result->setup_errno = e;
    result_set_message(g->result, "%s", msg ? msg : "out of memory");
    return -(e ? e : EIO);
}

static void choose_mechanisms(struct proc_guest *pg, const struct sbvm_config *cfg)
{
    const unsigned cg_limits =
        (1u << SBVM_LIMIT_MEMORY) | (1u << SBVM_LIMIT_PIDS) | (1u << SBVM_LIMIT_CPU);
    const struct cgroup_host *h = &pg->st->cgroups;
    const char *cg;

    for (int l = 0; l < SBVM_LIMIT__COUNT; l++)
        pg->mech[l] = NULL;
    /* Finding the host's cgroups reads several /proc and /sys files: only
     * once, and only for a run that asks for a limit that needs them. */
    if ((cfg->limits_set & cg_limits) && !pg->st->cgroups_detected) {
        cgroup_detect(&pg->st->cgroups);
        pg->st->cgroups_detected = true;
    }
    cg = cgroup_mode_name(h->mode);
    if (cfg->limits[SBVM_LIMIT_TIME])
        pg->mech[SBVM_LIMIT_TIME] = "supervisor";
    if (cfg->limits[SBVM_LIMIT_OUTPUT])
        pg->mech[SBVM_LIMIT_OUTPUT] = "supervisor";
    /* A cgroup only when a limit that needs one was asked for: moving a
     * process into a cgroup v1 costs several milliseconds (an RCU grace
     * period), more than all the rest of a sandbox's start. */
    pg->use_cgroup = h->mode != CGROUP_NONE && (cfg->limits_set & cg_limits);
    if (cfg->limits[SBVM_LIMIT_MEMORY])
        pg->mech[SBVM_LIMIT_MEMORY] = pg->use_cgroup && h->base[CG_MEMORY] ? cg : "rlimit";
    if (cfg->limits[SBVM_LIMIT_PIDS])
        pg->mech[SBVM_LIMIT_PIDS] = pg->use_cgroup && h->base[CG_PIDS] ? cg : "rlimit";
    if (cfg->limits[SBVM_LIMIT_CPU])
        pg->mech[SBVM_LIMIT_CPU] = pg->use_cgroup && h->base[CG_CPU] ? cg : "rlimit";
    if (cfg->limits[SBVM_LIMIT_FILES])
        pg->mech[SBVM_LIMIT_FILES] = "rlimit";
    if (cfg->limits[SBVM_LIMIT_DISK])
        pg->mech[SBVM_LIMIT_DISK] = "tmpfs";
}

/*
 * An rlimit fails a call quietly (EMFILE, EAGAIN, ENOMEM); for a limit the
 * caller asked for, the init watches the calls that can hit it, so that
 * reaching it ends the guest with that limit as its outcome. Defaults are
 * not watched: they are a safety net, and watching costs two stops a call.
 */
static unsigned watch_mask(const struct proc_guest *pg, const struct sbvm_config *cfg)
{
    unsigned w = 0;

    if ((cfg->limits_set & (1u << SBVM_LIMIT_FILES)) && cfg->limits[SBVM_LIMIT_FILES])
        w |= SECCOMP_WATCH_FILES;
    if ((cfg->limits_set & (1u << SBVM_LIMIT_PIDS)) && pg->mech[SBVM_LIMIT_PIDS] &&
        streq(pg->mech[SBVM_LIMIT_PIDS], "rlimit"))
        w |= SECCOMP_WATCH_PIDS;
    if ((cfg->limits_set & (1u << SBVM_LIMIT_MEMORY)) && pg->mech[SBVM_LIMIT_MEMORY] &&
        streq(pg->mech[SBVM_LIMIT_MEMORY], "rlimit"))
        w |= SECCOMP_WATCH_MEMORY;
    /* Per-process address space cannot count memfds or SysV shared memory. */
    if (cfg->limits[SBVM_LIMIT_MEMORY] && pg->mech[SBVM_LIMIT_MEMORY] &&
        streq(pg->mech[SBVM_LIMIT_MEMORY], "rlimit"))
        w |= SECCOMP_REFUSE_SHARED_MEMORY;
    return w;
}

size_t proc_slot_count(const struct proc_guest *pg)
{
    return pg->prog.nbinds + pg->nmount_fds;
}

const char *proc_slot_src(const struct proc_guest *pg, size_t i)
{
    if (i < pg->prog.nbinds)
        return pg->prog.binds[i].src;
    i -= pg->prog.nbinds;
    return i < pg->nmount_fds ? pg->mount_srcs[i] : "a host file";
}

/* --rootfs: the tree, held open as the first mount slot; it must have the
 * directories the sandbox mounts over. */
static int open_rootfs(struct proc_guest *pg, const char *dir, sbvm_error **err)
{
    static const char *const need[] = { "proc", "dev", "tmp" };
    struct stat st;
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return error_sys(err, errno, "--rootfs %s", dir);
    for (size_t i = 0; i < ARRAY_SIZE(need); i++)
        if (fstatat(fd, need[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
            close(fd);
            return error_set(err, ENOENT,
                             "--rootfs %s: it has no /%s directory (the sandbox mounts its own "
                             "/proc, /dev and /tmp over them)",
                             dir, need[i]);
        }
    pg->mount_fds[0] = fd;
    pg->mount_srcs[0] = dir;
    pg->nmount_fds = 1;
    pg->rootfs = true;
    return 0;
}

/* The sources of --ro and --rw, opened now, once, after the rootfs's slot:
 * the program lookup reads through them and the child binds exactly them
 * (it checks that the same path there is still the same file). */
static int open_mounts(struct proc_guest *pg, const struct sbvm_config *cfg, sbvm_error **err)
{
    for (size_t i = 0; i < cfg->nmounts; i++) {
        const struct config_mount *m = &cfg->mounts[i];
        const char *opt = m->kind == SBVM_MOUNT_RO ? "--ro" : "--rw";
        struct stat st;
        int fd;

        if (m->kind != SBVM_MOUNT_RO && m->kind != SBVM_MOUNT_RW)
            continue;
        fd = open(m->src, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &st) < 0) {
            int r = error_sys(err, errno, "%s %s", opt, m->src);
            if (fd >= 0)
                close(fd);
            return r;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            close(fd);
            return error_set(err, EINVAL, "%s %s: only a directory or a regular file", opt, m->src);
        }
        pg->mount_fds[pg->nmount_fds] = fd;
        pg->mount_srcs[pg->nmount_fds] = m->src;
        pg->nmount_fds++;
    }
    return 0;
}

/* The program, looked up as the guest will see it: through its mounts,
 * over the --rootfs tree or the default view. The view stays for the crash
 * symboliser. */
static int resolve_program(struct proc_guest *pg, const struct sbvm_config *cfg,
                           struct program_failure *pf)
{
    size_t k = pg->rootfs ? 1 : 0; /* the first mount source's slot */

    pg->view.rootfd = pg->rootfs ? pg->mount_fds[0] : -1;
    if (cfg->nmounts) {
        pg->view_mounts = calloc(cfg->nmounts, sizeof(*pg->view_mounts));
        if (!pg->view_mounts) {
            memset(pf, 0, sizeof(*pf));
            pf->outcome = SBVM_OUTCOME_SETUP_FAILED;
            pf->err = ENOMEM;
            pf->message = strdup("out of memory");
            return -ENOMEM;
        }
        for (size_t i = 0; i < cfg->nmounts; i++) {
            const struct config_mount *m = &cfg->mounts[i];
            bool bind = m->kind == SBVM_MOUNT_RO || m->kind == SBVM_MOUNT_RW;
            pg->view_mounts[i].dst = m->dst;
            pg->view_mounts[i].src = bind ? m->src : NULL;
            pg->view_mounts[i].fd = bind ? pg->mount_fds[k++] : -1;
        }
        pg->view.mounts = pg->view_mounts;
        pg->view.nmounts = cfg->nmounts;
    }
    return program_resolve_view(&pg->view, cfg->argv.v[0], env_lookup(pg->envp.v, "PATH"),
                                &pg->prog, pf);
}

/* The run's custom syscall policy for this config: the cached one when it
 * was compiled for the same --deny, --allow and watched calls. */
static int custom_policy(struct proc_state *st, const struct sbvm_config *cfg, unsigned watch,
                         sbvm_error **err)
{
    struct seccomp_plan plan;
    int r;

    if (st->has_custom && st->custom_watch == watch && strv_equal(&st->custom_deny, &cfg->deny) &&
        strv_equal(&st->custom_allow, &cfg->allow))
        return 0;
    r = seccomp_plan_build_custom(&plan, &cfg->deny, &cfg->allow, watch, err);
    if (r < 0)
        return r;
    r = seccomp_plan_memfd(&plan, err);
    if (r < 0) {
        seccomp_plan_release(&plan);
        return r;
    }
    if (st->has_custom)
        seccomp_plan_release(&st->custom);
    close_fd(&st->custom_fd);
    st->custom_fd = r;
    strv_release(&st->custom_deny);
    strv_release(&st->custom_allow);
    st->custom = plan;
    st->has_custom = true;
    st->custom_watch = watch;
    if (strv_copy(&st->custom_deny, &cfg->deny) < 0 ||
        strv_copy(&st->custom_allow, &cfg->allow) < 0) {
        /* Without its key the plan cannot be reused: compile anew next time. */
        st->custom_watch = ~0u;
    }
    return 0;
}

/* --ro, --rw, --tmpfs, --hide, in order, after /tmp and the program's own
 * files, each bind from its source's slot (open_mounts). */
static int plan_mounts(struct proc_guest *pg, const struct sbvm_config *cfg, sbvm_error **err)
{
    size_t k = pg->rootfs ? 1 : 0;

    for (size_t i = 0; i < cfg->nmounts; i++) {
        const struct config_mount *m = &cfg->mounts[i];
        int slot = -1;
        bool dir = false;
        int r;

        if (m->kind == SBVM_MOUNT_RO || m->kind == SBVM_MOUNT_RW) {
            struct stat st;
            dir = fstat(pg->mount_fds[k], &st) == 0 && S_ISDIR(st.st_mode);
            slot = FD_BIND_BASE + (int)(pg->prog.nbinds + k);
            k++;
        }
        r = fsplan_add_mount(&pg->extra, m->kind, m->dst, slot, m->src, dir, m->size, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* --net allow: the policy, and the guest's environment pointed at the
 * proxy, with placeholders for secrets. */
static int plan_network(struct proc_guest *pg, const struct sbvm_config *cfg, sbvm_error **err)
{
    static const char *const proxy_vars[] = { "HTTP_PROXY",  "http_proxy", "HTTPS_PROXY",
                                              "https_proxy", "ALL_PROXY",  "all_proxy" };
    int r;

    if (cfg->net != SBVM_NET_ALLOW)
        return 0;
    r = net_policy_build(&pg->net, cfg, err);
    if (r < 0)
        return r;
    pg->has_net = true;
    for (size_t i = 0; i < ARRAY_SIZE(proxy_vars); i++) {
        struct strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb, "%s=%s", proxy_vars[i], NET_PROXY_URL);
        r = strbuf_failed(&sb) ? -ENOMEM : env_put(&pg->envp, sb.buf);
        strbuf_release(&sb);
        if (r < 0)
            return error_set(err, ENOMEM, "out of memory");
    }
    if (env_put(&pg->envp, "NO_PROXY=") < 0 || env_put(&pg->envp, "no_proxy=") < 0)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < pg->net.nsecrets; i++) {
        const struct net_secret *s = &pg->net.secrets[i];
        struct strbuf sb = STRBUF_INIT;
        /* The value must not reach the guest by another variable either
         * (--keep-env, --env): such a variable gets the placeholder too. */
        for (size_t k = 0; k < pg->envp.n; k++) {
            if (!strstr(pg->envp.v[k], s->value))
                continue;
            {
                const char *eq = strchr(pg->envp.v[k], '=');
                struct strbuf kv = STRBUF_INIT;
                strbuf_add(&kv, pg->envp.v[k], eq ? (size_t)(eq - pg->envp.v[k]) : 0);
                strbuf_addf(&kv, "=%s", s->placeholder);
                if (strbuf_failed(&kv)) {
                    strbuf_release(&kv);
                    return error_set(err, ENOMEM, "out of memory");
                }
                explicit_bzero(pg->envp.v[k], strlen(pg->envp.v[k]));
                free(pg->envp.v[k]);
                pg->envp.v[k] = strbuf_detach(&kv, NULL);
            }
        }
        strbuf_addf(&sb, "%s=%s", s->name, s->placeholder);
        r = strbuf_failed(&sb) ? -ENOMEM : env_put(&pg->envp, sb.buf);
        strbuf_release(&sb);
        if (r < 0)
            return error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

static int proc_prepare(void *state, struct guest *g)
{
    struct proc_guest *pg = calloc(1, sizeof(*pg));
    struct proc_state *st = state;
    struct program_failure pf;
    sbvm_error *e = NULL;
    uint64_t disk;
    unsigned watch;
    int r;

    if (!pg)
        return fail_result(g, SBVM_OUTCOME_SETUP_FAILED, "prepare", ENOMEM, NULL);
    g->bdata = pg;
    pg->st = st;
    pg->pid = -1;
    pg->pidfd = pg->status_fd = pg->control_fd = pg->rootfd = pg->tmpfd = -1;
    pg->passed_fds[0] = pg->passed_fds[1] = -1;
    fsplan_init(&pg->extra);
    choose_mechanisms(pg, g->cfg);

    /* The part of the view every guest of a run shares is built once. */
    if (st->base.nops == 0) {
        r = fsplan_build_base(&st->base, &st->ids, &e);
        if (r < 0)
            goto fail_err;
    }
    /* Its own writable /tmp, of its own size, before the program binds
     * (a program may live under /tmp). */
    disk = scratch_size(g->cfg);
    if (g->cfg->rootfs && (r = fsplan_build_rootfs(&pg->extra, &e)) < 0)
        goto fail_err;
    r = fsplan_add_tmp(&pg->extra, disk, &e);
    if (r < 0)
        goto fail_err;
    r = env_build(g->cfg, &pg->envp, &e);
    if (r < 0)
        goto fail_err;
    r = plan_network(pg, g->cfg, &e);
    if (r < 0)
        goto fail_err;
    if (g->cfg->rootfs && (r = open_rootfs(pg, g->cfg->rootfs, &e)) < 0)
        goto fail_err;
    if ((r = open_mounts(pg, g->cfg, &e)) < 0)
        goto fail_err;
    r = resolve_program(pg, g->cfg, &pf);
    if (r < 0) {
        fail_result(g, pf.outcome, "resolve", pf.err, pf.message);
        program_failure_release(&pf);
        return r;
    }
    for (size_t i = 0; i < pg->prog.nbinds; i++) {
        r = fsplan_add_file_bind(&pg->extra, pg->prog.binds[i].path, FD_BIND_BASE + (int)i, &e);
        if (r < 0)
            goto fail_err;
    }
    r = plan_mounts(pg, g->cfg, &e);
    if (r < 0)
        goto fail_err;
    watch = watch_mask(pg, g->cfg);
    pg->custom = g->cfg->deny.n || g->cfg->allow.n || watch;
    if (pg->custom && (r = custom_policy(pg->st, g->cfg, watch, &e)) < 0)
        goto fail_err;
    return 0;
fail_err:
    fail_result(g, SBVM_OUTCOME_SETUP_FAILED, "prepare", sbvm_error_code(e), sbvm_error_message(e));
    sbvm_error_free(e);
    return r;
}

static int spawn_fail(struct guest *g, const char *stage, int e, const char *what)
{
    const char *hint = userns_restriction_hint();

    g->result->outcome = SBVM_OUTCOME_SETUP_FAILED;
    g->result->stage = stage;
    g->result->setup_errno = e;
    result_set_message(g->result, "%s: %s%s%s", what, errno_text(e), hint ? "; " : "",
                       hint ? hint : "");
    return -e;
}

/* The rlimits the guest process sets before its exec. */
static void plan_rlimits(const struct proc_guest *pg, const struct sbvm_config *cfg,
                         struct child_args *a)
{
    const uint64_t *l = cfg->limits;

    a->rl_nofile = l[SBVM_LIMIT_FILES];
    a->rl_fsize = l[SBVM_LIMIT_DISK];
    if (l[SBVM_LIMIT_PIDS] && !pg->cg.dir[CG_PIDS])
        a->rl_nproc = l[SBVM_LIMIT_PIDS];
    if (l[SBVM_LIMIT_MEMORY] && !pg->cg.dir[CG_MEMORY])
        a->rl_as = l[SBVM_LIMIT_MEMORY];
    if (l[SBVM_LIMIT_CPU] && !pg->cg.dir[CG_CPU])
        a->rl_cpu = (l[SBVM_LIMIT_CPU] + 999) / 1000;
}

static int proc_spawn(void *state, struct guest *g)
{
    struct proc_state *st = state;
    struct proc_guest *pg = g->bdata;
    int status[2] = { -1, -1 }, control[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 },
        in[2] = { -1, -1 };
    int bind_fds[CHILD_SLOTS_MAX];
    const char *bind_srcs[CHILD_SLOTS_MAX];
    struct clone_args ca;
    struct child_args a;
    sbvm_error *e = NULL;
    sigset_t all, old;
    const char *what = NULL;
    char go;
    long pid;
    int pidfd = -1, r, err;

    r = pg->use_cgroup
            ? cgroup_create(&st->cgroups, &pg->cg, (unsigned)g->index,
                            g->cfg->limits[SBVM_LIMIT_MEMORY], g->cfg->limits[SBVM_LIMIT_PIDS], &e)
            : 0;
    if (r < 0) {
        r = spawn_fail(g, "cgroup", sbvm_error_code(e), sbvm_error_message(e));
        sbvm_error_free(e);
        return r;
    }
    /* The status channel is a packet socket: each record one message, and
     * REC_READY can carry the sandbox's root (see child.c). */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, status) < 0 ||
        pipe2(control, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
        (g->stdin_src >= 0 && pipe2(in, O_CLOEXEC) < 0)) {
        err = errno;
        r = spawn_fail(g, "pipes", err, "creating the sandbox's pipes");
        goto out_close;
    }
    for (size_t i = 0; i < pg->prog.nbinds; i++) {
        bind_fds[i] = pg->prog.binds[i].fd;
        bind_srcs[i] = pg->prog.binds[i].src;
    }
    for (size_t i = 0; i < pg->nmount_fds; i++) {
        bind_fds[pg->prog.nbinds + i] = pg->mount_fds[i];
        bind_srcs[pg->prog.nbinds + i] = pg->mount_srcs[i];
    }

    memset(&a, 0, sizeof(a));
    a.base_ops = st->base.ops;
    a.nbase = pg->rootfs ? 0 : st->base.nops;
    a.rootfs_slot = pg->rootfs ? (int)pg->prog.nbinds : -1;
    a.extra_ops = pg->extra.ops;
    a.nextra = pg->extra.nops;
    /* The child is a copy of our memory: a later guest's policy replacing
     * the cached one does not touch what it installs. */
    a.seccomp = pg->custom ? &st->custom : &st->seccomp;
    a.uid = st->ids.uid;
    a.gid = st->ids.gid;
    a.host_root = st->ids.host_root;
    a.exec_path = pg->prog.exec_path;
    a.argv = g->cfg->argv.v;
    a.envp = pg->envp.v;
    a.cwd = g->cfg->cwd ? g->cfg->cwd : SBVM_DEFAULT_CWD;
    a.init_flags = INIT_FLAG_HOLD | (has_copies(g->cfg, true) ? INIT_FLAG_HOLD_ALWAYS : 0);
    a.wait_copy_in = has_copies(g->cfg, false);
    a.wait_go_before_fork = pg->use_cgroup;
    a.net_mode = (int)g->cfg->net;
    a.fd_status = status[1];
    a.fd_control = control[0];
    a.fd_init = st->init_fd;
    a.fd_policy = pg->custom ? st->custom_fd : st->seccomp_fd;
    a.args_start = st->args_start;
    a.args_end = st->args_end;
    a.env_start = st->env_start;
    a.env_end = st->env_end;
    a.fd_in = in[0];
    a.fd_out = out[1];
    a.fd_err = errp[1];
    a.bind_fds = bind_fds;
    a.bind_srcs = bind_srcs;
    a.nbinds = proc_slot_count(pg);
    plan_rlimits(pg, g->cfg, &a);
    /* Only the namespace's root may: as an ordinary user, pid 1 keeps that
     * user's uid, not root's (docs/SECURITY.md). */
    a.ipc_bytes = st->ids.host_root ? scratch_size(g->cfg) : 0;
    a.start_apart = g->spawn_alone;

    memset(&ca, 0, sizeof(ca));
    /* The network namespace comes later, from the guest process itself, in
     * parallel with the view (child.c). */
    ca.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
               CLONE_NEWCGROUP | CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
    ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    ca.exit_signal = SIGCHLD;

    /* With every signal blocked, no handler of the host's can run in the
     * child before it resets them; the child unblocks in its own time. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    oom_floor(st, true);
    pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid == 0)
        child_main(&a);
    err = errno;
    oom_floor(st, false);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        r = spawn_fail(g, "clone", err, "creating the sandbox's namespaces (clone3)");
        goto out_close;
    }
    pg->pid = (pid_t)pid;
    pg->pidfd = pidfd;
    g->start_mono = now_mono_ns();

    close_fd(&status[1]);
    close_fd(&control[0]);
    close_fd(&out[1]);
    close_fd(&errp[1]);
    close_fd(&in[0]);

    /* Into its cgroups before it runs anything: everything it forks
     * follows. */
    if (cgroup_attach(&pg->cg, pg->pid, &e) < 0) {
        set_host_failure(pg, "cgroup", sbvm_error_code(e), sbvm_error_message(e));
        sbvm_error_free(e);
        go = SYNC_ABORT;
    } else if ((r = userns_write_maps(pg->pid, pg->pidfd, &st->ids, &what)) < 0) {
        char w[96];
        snprintf(w, sizeof(w), "writing the sandbox's %s", what);
        set_host_failure(pg, "idmap", -r, w);
        go = SYNC_ABORT;
    } else {
        go = SYNC_GO;
    }
    /* A failure to say go leaves the child at EOF, which also ends it. */
    if (write_nosigpipe(control[1], &go, 1) != 1 || go != SYNC_GO)
        close_fd(&control[1]);

    fcntl(status[0], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    if (in[1] >= 0)
        fcntl(in[1], F_SETFL, O_NONBLOCK);
    pg->status_fd = status[0];
    pg->control_fd = control[1];
    g->events_fd = status[0];
    g->exit_fd = pidfd;
    g->out_fd = out[0];
    g->err_fd = errp[0];
    g->in_fd = in[1];
    return 0;

out_close:
    close_fd(&status[0]);
    close_fd(&status[1]);
    close_fd(&control[0]);
    close_fd(&control[1]);
    close_fd(&out[0]);
    close_fd(&out[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    close_fd(&in[0]);
    close_fd(&in[1]);
    cgroup_destroy(&pg->cg);
    return r;
}

static bool proc_on_events(struct guest *g)
{
    return proc_read_records(g);
}

static int proc_signal(struct guest *g, int sig)
{
    struct proc_guest *pg = g->bdata;

    if (!pg || pg->pidfd < 0)
        return -ESRCH;
    if (pidfd_send_signal(pg->pidfd, sig, NULL, 0) < 0)
        return -errno;
    if (sig == SIGKILL)
        pg->sent_kill = true;
    return 0;
}

/* ---- --copy-in and --copy-out ------------------------------------------ */

/* A directory of the sandbox, reached from its root without following any
 * symlink (and never out of it). */
static int open_in_sandbox(int rootfd, const char *dir)
{
    return openat2_at(rootfd, streq(dir, "") ? "." : dir, O_PATH | O_DIRECTORY,
                      RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

/* Splits an absolute path into its directory (without the leading '/') and
 * its last name. */
static bool split_path(const char *path, char *dir, size_t dsize, const char **name)
{
    const char *slash = strrchr(path, '/');
    size_t dl;

    if (!slash || !slash[1])
        return false;
    dl = (size_t)(slash - path);
    if (dl >= dsize)
        return false;
    if (dl == 0) {
        dir[0] = '\0';
    } else {
        memcpy(dir, path + 1, dl - 1);
        dir[dl - 1] = '\0';
    }
    *name = slash + 1;
    return true;
}

static void record_copy(struct proc_guest *pg, bool out, const char *guest, const char *host,
                        int err, const char *what)
{
    struct sbvm_copy *v = realloc(pg->copies, (pg->ncopies + 1) * sizeof(*v));
    struct strbuf sb = STRBUF_INIT;

    if (!v)
        return;
    pg->copies = v;
    v[pg->ncopies].out = out;
    v[pg->ncopies].guest = strdup(guest);
    v[pg->ncopies].host = strdup(host);
    if (err) {
        strbuf_addf(&sb, "%s: %s", what,
                    err == EFBIG ? "larger than the copy limit" : errno_text(err));
        v[pg->ncopies].error = strbuf_detach(&sb, NULL);
    } else {
        v[pg->ncopies].error = NULL;
    }
    pg->ncopies++;
}

/* --copy-in: the host's own files, into a sandbox whose writable places
 * are bounded anyway; 4 GiB, or the scratch when it is larger. */
static uint64_t copy_in_budget(const struct sbvm_config *cfg)
{
    uint64_t d = scratch_size(cfg);
    return d > (4ULL << 30) ? d : 4ULL << 30;
}

/* --copy-out: what a guest makes goes to the host's disk, so at most what
 * its writable space can hold: the scratch, or its largest --tmpfs. (Holes
 * in sparse files are not written, and not counted: copytree.h.) */
static uint64_t copy_out_budget(const struct sbvm_config *cfg)
{
    uint64_t b = scratch_size(cfg);

    for (size_t i = 0; i < cfg->nmounts; i++)
        if (cfg->mounts[i].kind == SBVM_MOUNT_TMPFS) {
            uint64_t t = cfg->mounts[i].size ? cfg->mounts[i].size : 64ULL << 20;
            b = t > b ? t : b;
        }
    return b;
}

/*
 * One copy between the sandbox's `guest` path and the host's `host` path, in
 * the direction `out` says, each side's directory opened without following
 * a symlink in the sandbox. `via_tmp`: the sandbox is gone and only its /tmp
 * (held open) can be read. Each copy has a budget of its own (`lim`, by
 * value). 0, or -errno with *what saying which step failed.
 */
static int copy_one(struct proc_guest *pg, bool out, const char *guest, const char *host,
                    bool via_tmp, struct copy_limits lim, const char **what)
{
    char gdir[PATH_MAX], hdir[PATH_MAX], abs[PATH_MAX + 1];
    const char *gname, *hname;
    int gfd = -1, hfd = -1, r = 0;

    *what = "";
    if (!split_path(guest, gdir, sizeof(gdir), &gname) ||
        !split_path(host, hdir, sizeof(hdir), &hname))
        return -EINVAL;
    if (via_tmp) {
        /* Only what was under /tmp survives the sandbox. */
        if (pg->tmpfd < 0 || (!streq(gdir, "tmp") && !str_has_prefix(gdir, "tmp/"))) {
            *what = "the sandbox ended before it could be copied";
            return -ESRCH;
        }
        gfd = open_in_sandbox(pg->tmpfd, streq(gdir, "tmp") ? "" : gdir + 4);
    } else if (pg->rootfd < 0) {
        *what = "the sandbox's root";
        return -ESRCH;
    } else {
        gfd = open_in_sandbox(pg->rootfd, gdir);
    }
    if (gfd < 0) {
        *what = "its directory in the sandbox";
        return -errno;
    }
    snprintf(abs, sizeof(abs), "/%s", hdir);
    hfd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (hfd < 0) {
        r = -errno;
        *what = "the host directory";
    } else {
        r = out ? copy_entry_at(gfd, gname, hfd, hname, &lim)
                : copy_entry_at(hfd, hname, gfd, gname, &lim);
        *what = r == -EEXIST && out ? "the host path exists already" : "copying";
        close(hfd);
    }
    close(gfd);
    return r;
}

/* Before the guest starts: host files into the view, owned by the guest.
 * 0, or -errno of the first failure (recorded, and described in `msg`). */
static int copy_in(struct guest *g, char *msg, size_t msgsize)
{
    struct proc_guest *pg = g->bdata;
    const struct sbvm_config *cfg = g->cfg;
    struct copy_limits lim = { copy_in_budget(cfg), copy_in_budget(cfg), (uid_t)-1, (gid_t)-1 };

    if (pg->st->ids.host_root) {
        lim.uid = pg->st->ids.uid;
        lim.gid = pg->st->ids.gid;
    }
    for (size_t i = 0; i < cfg->ncopies; i++) {
        const struct config_copy *c = &cfg->copies[i];
        const char *what;
        int r;

        if (c->out)
            continue;
        r = copy_one(pg, false, c->guest, c->host, false, lim, &what);
        record_copy(pg, false, c->guest, c->host, -r, what);
        if (r < 0) {
            snprintf(msg, msgsize, "--copy-in %s:%s: %s%s", c->host, c->guest, what,
                     r == -EFBIG ? " (larger than the copy limit)" : "");
            return r;
        }
    }
    return 0;
}

/* After the guest: files out of the sandbox, however it ended. `via_tmp`:
 * the sandbox is gone, only its /tmp (held open) can still be read. */
static void copy_out(struct guest *g, bool via_tmp)
{
    struct proc_guest *pg = g->bdata;
    const struct sbvm_config *cfg = g->cfg;
    const struct copy_limits lim = { copy_out_budget(cfg), copy_out_budget(cfg), (uid_t)-1,
                                     (gid_t)-1 };

    if (pg->copied_out)
        return;
    pg->copied_out = true;
    for (size_t i = 0; i < cfg->ncopies; i++) {
        const struct config_copy *c = &cfg->copies[i];
        struct strbuf host = STRBUF_INIT;
        const char *what = "";
        int r = -ENOMEM;

        if (!c->out)
            continue;
        /* Several guests: one copy each, host.NAME. */
        strbuf_addstr(&host, c->host);
        if (g->run_guests > 1)
            strbuf_addf(&host, ".%s", g->name);
        if (!strbuf_failed(&host))
            r = copy_one(pg, true, c->guest, host.buf, via_tmp, lim, &what);
        record_copy(pg, true, c->guest, host.buf ? host.buf : c->host, -r, what);
        strbuf_release(&host);
    }
}

void proc_view_ready(struct guest *g, int rootfd, int tmpfd)
{
    struct proc_guest *pg = g->bdata;

    /* The sandbox's root and /tmp, opened by its pid 1 after pivot_root:
     * never the host's. Only the first pair is taken. */
    if (pg->rootfd >= 0 || rootfd < 0 || tmpfd < 0) {
        close_fd(&rootfd);
        close_fd(&tmpfd);
        return;
    }
    pg->rootfd = rootfd;
    pg->tmpfd = tmpfd;
    if (has_copies(g->cfg, false)) {
        char c = SYNC_COPIED, what[sizeof(pg->host_what)];
        int r = copy_in(g, what, sizeof(what));
        if (r < 0) {
            set_host_failure(pg, "copy-in", -r, what);
            close_fd(&pg->control_fd); /* the child reads EOF and gives up */
        } else if (write_nosigpipe(pg->control_fd, &c, 1) != 1) {
            close_fd(&pg->control_fd);
        }
    }
}

void proc_request_freeze(struct guest *g)
{
    struct proc_guest *pg = g->bdata;

    if (!pg || pg->freeze_sent || pg->holding)
        return;
    pg->freeze_sent = true;
    pg->freeze_at = now_mono_ns();
    if (proc_signal(g, SIG_FREEZE) < 0)
        proc_signal(g, SIGKILL);
}

static void release_init(struct proc_guest *pg)
{
    char c = 'R';

    if (pg->control_fd >= 0) {
        /* The init may be gone already (it ends by itself when nothing was
         * left to inventory): a closed pipe is fine, a SIGPIPE is not. */
        (void)write_nosigpipe(pg->control_fd, &c, 1);
        close_fd(&pg->control_fd);
    }
}

/* The ledger: processes and fds only while the sandbox holds (something was
 * left running), scratch files in any case, and the copy for --keep. */
static void take_ledger(struct guest *g, bool processes)
{
    struct proc_guest *pg = g->bdata;
    sbvm_error *e = NULL;

    if (pg->ledger)
        return;
    if (ledger_take(processes ? pg->rootfd : -1, pg->tmpfd, &pg->ledger) < 0)
        pg->ledger = NULL;
    if (g->cfg->keep_dir && pg->tmpfd >= 0) {
        struct strbuf dest = STRBUF_INIT;
        strbuf_addf(&dest, "%s/%s", g->cfg->keep_dir, g->name);
        if (mkdir(g->cfg->keep_dir, 0700) < 0 && errno != EEXIST)
            error_sys(&e, errno, "creating %s", g->cfg->keep_dir);
        else if (!strbuf_failed(&dest) &&
                 ledger_keep_scratch(pg->tmpfd, dest.buf, scratch_size(g->cfg), &e) == 0)
            pg->kept = strbuf_detach(&dest, NULL);
        strbuf_release(&dest);
        if (e) {
            pg->keep_error = strdup(sbvm_error_message(e));
            sbvm_error_free(e);
        }
    }
}

void proc_take_ledger(struct guest *g)
{
    struct proc_guest *pg = g->bdata;

    if (pg->rootfd >= 0) {
        procscan_usage(pg->rootfd, &pg->held_cpu_ms, &pg->held_peak);
    }
    take_ledger(g, true);
    /* Everything is stopped and every mount still there: copy out now. */
    if (has_copies(g->cfg, true))
        copy_out(g, false);
    /* Inventory done: the init may end, and everything with it. */
    release_init(g->bdata);
}

static void proc_poll(struct guest *g)
{
    struct proc_guest *pg = g->bdata;
    const uint64_t *lim = g->cfg->limits;
    struct proc_state *st;
    uint64_t u, s;

    if (!pg || pg->holding)
        return;
    st = pg->st;
    if (pg->freeze_sent) {
        /* A sandbox that does not freeze in time is ended outright. */
        if (now_mono_ns() - pg->freeze_at > FREEZE_GRACE_NS)
            proc_signal(g, SIGKILL);
        return;
    }
    if (lim[SBVM_LIMIT_CPU] && pg->cg.dir[CG_CPU] &&
        cgroup_cpu_usage(&st->cgroups, &pg->cg, &u, &s) && (u + s) / 1000 >= lim[SBVM_LIMIT_CPU])
        guest_limit_reached(g, SBVM_LIMIT_CPU, (u + s) / 1000);
    else if (lim[SBVM_LIMIT_CPU] && !pg->cg.dir[CG_CPU] && pg->rootfd >= 0) {
        /* RLIMIT_CPU counts each process alone; the sum is ours to watch. */
        uint64_t ms = procscan_cpu_ms(pg->rootfd);
        if (ms >= lim[SBVM_LIMIT_CPU])
            guest_limit_reached(g, SBVM_LIMIT_CPU, ms);
    }
    if (lim[SBVM_LIMIT_PIDS] && pg->cg.dir[CG_PIDS] && cgroup_pids_refused(&pg->cg) > 0)
        guest_limit_reached(g, SBVM_LIMIT_PIDS, cgroup_pids_current(&pg->cg));
    else if (lim[SBVM_LIMIT_PIDS] && !pg->cg.dir[CG_PIDS] && pg->rootfd >= 0) {
        uint64_t n = procscan_count(pg->rootfd);
        if (n >= lim[SBVM_LIMIT_PIDS])
            guest_limit_reached(g, SBVM_LIMIT_PIDS, n);
    }
    if (pg->tmpfd >= 0 && lim[SBVM_LIMIT_DISK]) {
        struct statfs sfs;
        if (fstatfs(pg->tmpfd, &sfs) == 0 && sfs.f_bavail == 0)
            guest_limit_reached(g, SBVM_LIMIT_DISK,
                                (uint64_t)(sfs.f_blocks - sfs.f_bfree) * (uint64_t)sfs.f_bsize);
    }
    /* The init watches for EMFILE; without a tracer, count: that means
     * reading every process's fd directory, so only for a files limit the
     * caller asked for. */
    if (pg->trace_off && pg->rootfd >= 0 && lim[SBVM_LIMIT_FILES] &&
        (g->cfg->limits_set & (1u << SBVM_LIMIT_FILES))) {
        uint64_t n = procscan_max_fds(pg->rootfd);
        if (n >= lim[SBVM_LIMIT_FILES])
            guest_limit_reached(g, SBVM_LIMIT_FILES, n);
    }
}

static void proc_finish(struct guest *g, sbvm_result *r)
{
    struct proc_guest *pg = g->bdata;
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    if (pg->pidfd >= 0) {
        /* The sandbox's init has exited; collect it. ECHILD when the host
         * application set SIGCHLD to SIG_IGN: the reports still hold. */
        while (waitid(P_PIDFD, (id_t)pg->pidfd, &si, WEXITED) < 0 && errno == EINTR)
            ;
    }
    /* Drain reports that arrived after the last event. */
    if (pg->status_fd >= 0)
        proc_read_records(g);
    release_init(pg);
    take_ledger(g, false);
    /* The sandbox ended without holding (its init died): what can still be
     * copied out is under /tmp. */
    if (has_copies(g->cfg, true))
        copy_out(g, true);
    /* The sandbox is gone, and the guest's ends of its connections with it:
     * the broker's threads finish, and hand over their record. */
    stop_broker(pg);
    /* A limit that refused the guest something during its life (a fork at
     * the pids limit, a write into a full scratch) is its outcome, even
     * when it then ended by itself: that refusal is why it ended. */
    if (g->limit_hit < 0 && g->cfg->limits[SBVM_LIMIT_PIDS] && pg->cg.dir[CG_PIDS] &&
        cgroup_pids_refused(&pg->cg) > 0) {
        g->limit_hit = SBVM_LIMIT_PIDS;
        g->limit_observed = g->cfg->limits[SBVM_LIMIT_PIDS];
    }
    if (g->limit_hit < 0 && pg->tmpfd >= 0 && g->cfg->limits[SBVM_LIMIT_DISK]) {
        struct statfs sfs;
        if (fstatfs(pg->tmpfd, &sfs) == 0 && sfs.f_bavail == 0) {
            g->limit_hit = SBVM_LIMIT_DISK;
            g->limit_observed = (uint64_t)(sfs.f_blocks - sfs.f_bfree) * (uint64_t)sfs.f_bsize;
        }
    }
    proc_fill_result(g, r, &si);
    cgroup_destroy(&pg->cg);
}

const struct backend_ops process_backend = {
    .name = "process",
    .run_init = proc_run_init,
    .run_release = proc_run_release,
    .prepare = proc_prepare,
    .spawn = proc_spawn,
    .on_events = proc_on_events,
    .signal = proc_signal,
    .stop = proc_request_freeze,
    .poll = proc_poll,
    .finish = proc_finish,
    .release = proc_release,
};
