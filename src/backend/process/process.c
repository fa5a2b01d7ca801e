/* SPDX-License-Identifier: MIT */
/*
 * process.c: the process backend (DESIGN §3): its ops table, what it keeps
 * for every sandbox of a process, and preparing one sandbox on the host:
 * the view, the program (inline), the filter, the limits' mechanisms.
 * Building it is launch.c's, supervising it supervise.c's.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/process/child.h"
#include "backend/process/process.h"
#include "backend/process/procscan.h"
#include "backend/process/userns.h"
#include "core/config.h"
#include "core/job.h"
#include "net/ca.h"
#include "policy/env.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* The init and the exec server, embedded at build time. */
extern const unsigned char sbvm_init_image[], sbvm_spawner_image[];
extern const size_t sbvm_init_image_len, sbvm_spawner_image_len;

static int make_exec_memfd(const char *name, const unsigned char *image, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

    if (fd < 0 && errno == EINVAL)
        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    /* Execute-only: an exec of a file its user may not read leaves the
     * process non-dumpable from the exec on, so there is no moment, before
     * the init's first prctl, in which a guest of the same uid could open
     * the init's /proc entries. Sealed: nothing, not even a process that
     * got hold of the fd, can change what every sandbox's pid 1 runs. */
    if (write_full(fd, image, len) < 0 || fchmod(fd, 0111) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        close(fd);
        return -1;
    }
    return fd;
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

static void plan_unref(struct proc_plan *p)
{
    if (!p || p->refs == 0 || --p->refs > 0)
        return;
    seccomp_plan_release(&p->plan);
    close_fd(&p->fd);
    strv_release(&p->deny);
    strv_release(&p->allow);
    free(p);
}

static void proc_state_free(void *state)
{
    struct proc_state *st = state;

    if (!st)
        return;
    fsplan_release(&st->base);
    seccomp_plan_release(&st->defaults.plan);
    close_fd(&st->defaults.fd);
    plan_unref(st->custom);
    cgroup_host_release(&st->cgroups);
    close_fd(&st->init_fd);
    close_fd(&st->spawner_fd);
    close_fd(&st->oom_fd);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static int proc_state_new(void **state, sbvm_error **err)
{
    struct proc_state *st = calloc(1, sizeof(*st));
    int r;

    if (!st)
        return error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&st->lock, NULL);
    st->init_fd = st->spawner_fd = st->defaults.fd = st->oom_fd = -1;
    fsplan_init(&st->base);
    userns_guest_ids(&st->ids);
    seccomp_plan_default(&st->defaults.plan);
    r = seccomp_plan_memfd(&st->defaults.plan, err);
    if (r < 0) {
        proc_state_free(st);
        return r;
    }
    st->defaults.fd = r;
    /* SBVM_INIT_IN_PLACE=1 runs the init the way hosts that forbid
     * executing memfds (vm.memfd_noexec=2) do: for the tests of that path
     * as an ordinary user, who cannot set the sysctl. */
    if (!streq(getenv("SBVM_INIT_IN_PLACE") ? getenv("SBVM_INIT_IN_PLACE") : "", "1")) {
        st->init_fd = make_exec_memfd("sbvm-init", sbvm_init_image, sbvm_init_image_len);
        st->spawner_fd = make_exec_memfd("sbvm-exec", sbvm_spawner_image, sbvm_spawner_image_len);
    }
    find_arg_area(st);
    proc_oom_floor_init(st);
    st->oom_kills_at_start = host_oom_kills();
    *state = st;
    return 0;
}

size_t proc_slot_count(const struct proc_sandbox *ps)
{
    return ps->nbinds + ps->nmount_fds;
}

const char *proc_slot_src(const struct proc_sandbox *ps, size_t i)
{
    if (i < ps->nbinds)
        return ps->binds[i].src;
    i -= ps->nbinds;
    return i < ps->nmount_fds ? ps->mount_srcs[i] : "a host file";
}

const struct proc_program *proc_program_for(const struct proc_sandbox *ps, const char *argv0)
{
    for (size_t i = 0; i < ps->nprogs; i++)
        if (streq(ps->progs[i].argv0, argv0))
            return &ps->progs[i];
    return NULL;
}

/* Takes a resolved program's files into the sandbox's binds, each path
 * once (programs share interpreters), and plans their mounts. */
static int take_binds(struct proc_sandbox *ps, struct program *prog, sbvm_error **err)
{
    /* Directories first (a venv), then files, each file once and not
     * again inside a directory already shown. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < prog->nbinds; i++) {
            struct program_bind *b = &prog->binds[i];
            bool dup = !b->path || b->dir != (pass == 0);
            int r;
            for (size_t k = 0; k < ps->nbinds && !dup; k++) {
                size_t n = strlen(ps->binds[k].path);
                dup = streq(ps->binds[k].path, b->path) ||
                      (ps->binds[k].dir && strncmp(ps->binds[k].path, b->path, n) == 0 &&
                       b->path[n] == '/');
            }
            if (dup)
                continue;
            if (ps->nbinds == CHILD_PROGRAM_BINDS_MAX)
                return error_set(err, E2BIG,
                                 "%s: too many program files to make visible in one sandbox (at "
                                 "most %d, interpreters included)",
                                 b->src, CHILD_PROGRAM_BINDS_MAX);
            r = b->dir ? fsplan_add_mount(&ps->extra, SBVM_MOUNT_RO, b->path,
                                          FD_BIND_BASE + (int)ps->nbinds, b->src, true, 0, err)
                       : fsplan_add_file_bind(&ps->extra, b->path, FD_BIND_BASE + (int)ps->nbinds,
                                              err);
            if (r < 0)
                return r;
            ps->binds[ps->nbinds++] = *b;
            b->path = b->src = NULL;
            b->fd = -1;
        }
    return 0;
}

static void drv_served(void *ctx, int events)
{
    drvhost_served(ctx, events);
}

/* Devices and drivers, first half: the driver host (device models and the
 * channel to them). Its channel becomes the job's, so the job carries it
 * as any host channel (the guest's fd 3, SBVM_CHANNEL=3) and serves it;
 * the devices run after each service. */
static int attach_drivers(struct proc_sandbox *ps, struct job *j, const struct sbvm_config *cfg,
                          sbvm_error **err)
{
    int r;

    if (!j || ps->sb->live)
        return error_set(err, ENOTSUP,
                         "devices and drivers are offered to a sandbox of one program, not yet "
                         "to a live sandbox's jobs");
    if (j->channel)
        return error_set(err, EINVAL,
                         "devices and drivers use the guest's host channel (fd 3): a sandbox "
                         "with devices cannot have another channel as well");
    r = drvhost_new(&cfg->devices, cfg->device_trace, cfg->device_trace_json, &ps->drv, err);
    if (r < 0)
        return r;
    /* Not the job's to free: the driver host's callbacks live with it. */
    j->channel = drvhost_channel(ps->drv);
    j->own_channel = false;
    j->chan_served = drv_served;
    j->chan_served_ctx = ps->drv;
    return 0;
}

/* Second half: the driver files bound read-only at their host paths, and
 * named in SBVM_DRIVERS for the guest's sbvm_drivers_load(). */
static int plan_drivers(struct proc_sandbox *ps, const struct sbvm_config *cfg, sbvm_error **err)
{
    struct strbuf list = STRBUF_INIT;
    int r;

    strbuf_addstr(&list, "SBVM_DRIVERS=");
    for (size_t i = 0; i < cfg->drivers.n; i++) {
        const char *path = cfg->drivers.v[i];
        struct program one = { 0 };

        strbuf_addf(&list, "%s%s", i ? ":" : "", path);
        if (fsplan_path_visible(path))
            continue;
        one.binds[0].path = strdup(path);
        one.binds[0].src = strdup(path);
        one.binds[0].fd = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        one.nbinds = 1;
        if (!one.binds[0].path || !one.binds[0].src || one.binds[0].fd < 0) {
            r = one.binds[0].fd < 0 ? error_sys(err, errno, "driver %s", path)
                                    : error_set(err, ENOMEM, "out of memory");
            program_release(&one);
            strbuf_release(&list);
            return r;
        }
        r = take_binds(ps, &one, err);
        program_release(&one);
        if (r < 0) {
            strbuf_release(&list);
            return r;
        }
    }
    r = strbuf_failed(&list) || env_put(&ps->envp, list.buf) < 0 ? -ENOMEM : 0;
    strbuf_release(&list);
    return r < 0 ? error_set(err, ENOMEM, "out of memory") : 0;
}

/* A live sandbox's programs (cfg->programs), resolved as an inline job's
 * would be; one that does not resolve keeps its reason for the job that
 * names it. */
static int resolve_programs(struct proc_sandbox *ps, const struct sbvm_config *cfg,
                            sbvm_error **err)
{
    if (!cfg->programs.n)
        return 0;
    ps->progs = calloc(cfg->programs.n, sizeof(*ps->progs));
    if (!ps->progs)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < cfg->programs.n; i++) {
        struct proc_program *pp = &ps->progs[ps->nprogs++];
        struct program prog = { 0 };
        int r;
        pp->argv0 = cfg->programs.v[i];
        if (program_resolve_view(&ps->view, pp->argv0, env_lookup(ps->envp.v, "PATH"), &prog,
                                 &pp->fail) < 0)
            continue;
        r = take_binds(ps, &prog, err);
        pp->exec_path = prog.exec_path;
        prog.exec_path = NULL;
        pp->exec_argv0 = prog.argv0;
        prog.argv0 = NULL;
        program_release(&prog);
        if (r < 0)
            return r;
    }
    return 0;
}

/* --rootfs: the tree, held open as the first mount slot; it must have the
 * directories the sandbox mounts over. */
static int open_rootfs(struct proc_sandbox *ps, const char *dir, sbvm_error **err)
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
    ps->mount_fds[0] = fd;
    ps->mount_srcs[0] = dir;
    ps->nmount_fds = 1;
    ps->rootfs = true;
    return 0;
}

/* A writable layer: its upper and work directories (made when missing),
 * which the child names to overlayfs. Both must be plain directories of
 * the layer, never symlinks: the kernel follows what it is given. */
static int open_layer(struct proc_sandbox *ps, const char *dir, sbvm_error **err)
{
    static const char *const subs[] = { "upper", "work" };
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    char *paths[2] = { NULL, NULL };

    if (fd < 0)
        return error_sys(err, errno, "layer %s", dir);
    for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
        struct stat st;
        struct strbuf sb = STRBUF_INIT;
        if (mkdirat(fd, subs[i], i ? 0700 : 0755) < 0 && errno != EEXIST) {
            int r = error_sys(err, errno, "layer %s: making %s", dir, subs[i]);
            close(fd);
            free(paths[0]);
            return r;
        }
        if (fstatat(fd, subs[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
            close(fd);
            free(paths[0]);
            return error_set(err, ENOTDIR, "layer %s: %s is not a directory", dir, subs[i]);
        }
        strbuf_addf(&sb, "%s/%s", dir, subs[i]);
        paths[i] = strbuf_detach(&sb, NULL);
        if (!paths[i]) {
            close(fd);
            free(paths[0]);
            return error_set(err, ENOMEM, "out of memory");
        }
    }
    close(fd);
    ps->layer_upper = paths[0];
    ps->layer_work = paths[1];
    return 0;
}

/* The sources of --ro and --rw, opened now, once, after the rootfs's slot:
 * the program lookup reads through them and the child binds exactly them
 * (it checks that the same path there is still the same file). */
static int open_mounts(struct proc_sandbox *ps, const struct sbvm_config *cfg, sbvm_error **err)
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
        ps->mount_fds[ps->nmount_fds] = fd;
        ps->mount_srcs[ps->nmount_fds] = m->src;
        ps->nmount_fds++;
    }
    return 0;
}

/* The view as the program lookup and the crash symboliser see it: the
 * mounts over the --rootfs tree or the default view. 0 or -ENOMEM. */
static int build_view(struct proc_sandbox *ps, const struct sbvm_config *cfg)
{
    size_t k = ps->rootfs ? 1 : 0; /* the first mount source's slot */

    ps->view.rootfd = ps->rootfs ? ps->mount_fds[0] : -1;
    if (!cfg->nmounts)
        return 0;
    ps->view_mounts = calloc(cfg->nmounts, sizeof(*ps->view_mounts));
    if (!ps->view_mounts)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->nmounts; i++) {
        const struct config_mount *m = &cfg->mounts[i];
        bool bind = m->kind == SBVM_MOUNT_RO || m->kind == SBVM_MOUNT_RW;
        ps->view_mounts[i].dst = m->dst;
        ps->view_mounts[i].src = bind ? m->src : NULL;
        ps->view_mounts[i].fd = bind ? ps->mount_fds[k++] : -1;
    }
    ps->view.mounts = ps->view_mounts;
    ps->view.nmounts = cfg->nmounts;
    return 0;
}

static int view_only(struct proc_sandbox *ps, const struct sbvm_config *cfg, sbvm_error **err)
{
    return build_view(ps, cfg) < 0 ? error_set(err, ENOMEM, "out of memory") : 0;
}

/* An inline job's program, looked up as the guest will see it: through its
 * mounts, over the --rootfs tree or the default view. */
static int resolve_program(struct proc_sandbox *ps, const struct job *j, struct program_failure *pf)
{
    if (build_view(ps, ps->sb->cfg) < 0) {
        memset(pf, 0, sizeof(*pf));
        pf->outcome = SBVM_OUTCOME_SETUP_FAILED;
        pf->err = ENOMEM;
        pf->message = strdup("out of memory");
        return -ENOMEM;
    }
    return program_resolve_view(&ps->view, j->argv.v[0], env_lookup(ps->envp.v, "PATH"), &ps->prog,
                                pf);
}

/* The policy for this config: the default, or a custom one (the cached one
 * when it was compiled for the same --deny, --allow and watched calls). */
static int choose_policy(struct proc_state *st, struct proc_sandbox *ps,
                         const struct sbvm_config *cfg, unsigned watch, sbvm_error **err)
{
    struct proc_plan *p;
    int r;

    if (!cfg->deny.n && !cfg->allow.n && !watch) {
        ps->plan = &st->defaults;
        return 0;
    }
    pthread_mutex_lock(&st->lock);
    p = st->custom;
    if (p && p->watch == watch && strv_equal(&p->deny, &cfg->deny) &&
        strv_equal(&p->allow, &cfg->allow)) {
        p->refs++;
        ps->plan = p;
        pthread_mutex_unlock(&st->lock);
        return 0;
    }
    pthread_mutex_unlock(&st->lock);
    p = calloc(1, sizeof(*p));
    if (!p)
        return error_set(err, ENOMEM, "out of memory");
    p->fd = -1;
    p->refs = 1;
    p->watch = watch;
    r = seccomp_plan_build_custom(&p->plan, &cfg->deny, &cfg->allow, watch, err);
    if (r == 0)
        r = p->fd = seccomp_plan_memfd(&p->plan, err);
    if (r >= 0 && (strv_copy(&p->deny, &cfg->deny) < 0 || strv_copy(&p->allow, &cfg->allow) < 0))
        r = error_set(err, ENOMEM, "out of memory");
    if (r < 0) {
        plan_unref(p);
        return r;
    }
    ps->plan = p;
    /* Cache it for the next sandbox of the same config. */
    pthread_mutex_lock(&st->lock);
    plan_unref(st->custom);
    st->custom = p;
    p->refs++;
    pthread_mutex_unlock(&st->lock);
    return 0;
}

/* --ro, --rw, --tmpfs, --hide, in order, after /tmp and the program's own
 * files, each bind from its source's slot (open_mounts). */
static int plan_mounts(struct proc_sandbox *ps, const struct sbvm_config *cfg, sbvm_error **err)
{
    size_t k = ps->rootfs ? 1 : 0;

    for (size_t i = 0; i < cfg->nmounts; i++) {
        const struct config_mount *m = &cfg->mounts[i];
        int slot = -1;
        bool dir = false;
        int r;

        if (m->kind == SBVM_MOUNT_RO || m->kind == SBVM_MOUNT_RW) {
            struct stat st;
            dir = fstat(ps->mount_fds[k], &st) == 0 && S_ISDIR(st.st_mode);
            slot = FD_BIND_BASE + (int)(ps->nbinds + k);
            k++;
        }
        r = fsplan_add_mount(&ps->extra, m->kind, m->dst, slot, m->src, dir, m->size, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* An OCI container's view beyond the options': an empty /sys, message
 * queues, then its masked and read-only paths (over /proc, so last). */
static int plan_container(struct proc_sandbox *ps, const struct config_container *ct,
                          sbvm_error **err)
{
    int r = ct->empty_sys ? fsplan_add_container_op(&ps->extra, FSOP_EMPTY, "/sys", err) : 0;

    for (size_t i = 0; r == 0 && i < ct->mqueue.n; i++)
        r = fsplan_add_container_op(&ps->extra, FSOP_MQUEUE, ct->mqueue.v[i], err);
    for (size_t i = 0; r == 0 && i < ct->masked.n; i++)
        r = fsplan_add_container_op(&ps->extra, FSOP_MASK, ct->masked.v[i], err);
    for (size_t i = 0; r == 0 && i < ct->readonly.n; i++)
        r = fsplan_add_container_op(&ps->extra, FSOP_RO_PATH, ct->readonly.v[i], err);
    return r;
}

/* --net allow: the policy, and the guest's environment pointed at the
 * proxy, with placeholders for secrets. */
static int plan_network(struct proc_sandbox *ps, const struct sbvm_config *cfg, sbvm_error **err)
{
    static const char *const proxy_vars[] = { "HTTP_PROXY",  "http_proxy", "HTTPS_PROXY",
                                              "https_proxy", "ALL_PROXY",  "all_proxy" };
    int r;

    if (cfg->net != SBVM_NET_ALLOW)
        return 0;
    r = net_policy_build(&ps->net, cfg, err);
    if (r < 0)
        return r;
    ps->has_net = true;
    for (size_t i = 0; i < ARRAY_SIZE(proxy_vars); i++) {
        struct strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb, "%s=%s", proxy_vars[i], NET_PROXY_URL);
        r = strbuf_failed(&sb) ? -ENOMEM : env_put(&ps->envp, sb.buf);
        strbuf_release(&sb);
        if (r < 0)
            return error_set(err, ENOMEM, "out of memory");
    }
    /* Node (22.21 and later) honours the variables above only when asked. */
    if (env_put(&ps->envp, "NO_PROXY=") < 0 || env_put(&ps->envp, "no_proxy=") < 0 ||
        env_put(&ps->envp, "NODE_USE_ENV_PROXY=1") < 0)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < ps->net.nsecrets; i++) {
        const struct net_secret *s = &ps->net.secrets[i];
        struct strbuf sb = STRBUF_INIT;
        /* The value must not reach the guest by another variable either
         * (--keep-env, --env): such a variable gets the placeholder too. */
        for (size_t k = 0; k < ps->envp.n; k++) {
            const char *val = strchr(ps->envp.v[k], '=');
            /* The value part only: a name is not the guest's to learn from. */
            if (!val || !strstr(val + 1, s->value))
                continue;
            {
                const char *eq = val;
                struct strbuf kv = STRBUF_INIT;
                strbuf_add(&kv, ps->envp.v[k], eq ? (size_t)(eq - ps->envp.v[k]) : 0);
                strbuf_addf(&kv, "=%s", s->placeholder);
                if (strbuf_failed(&kv)) {
                    strbuf_release(&kv);
                    return error_set(err, ENOMEM, "out of memory");
                }
                explicit_bzero(ps->envp.v[k], strlen(ps->envp.v[k]));
                free(ps->envp.v[k]);
                ps->envp.v[k] = strbuf_detach(&kv, NULL);
            }
        }
        strbuf_addf(&sb, "%s=%s", s->name, s->placeholder);
        r = strbuf_failed(&sb) ? -ENOMEM : env_put(&ps->envp, sb.buf);
        strbuf_release(&sb);
        if (r < 0)
            return error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

/*
 * What the guest trusts for HTTPS besides the system's store: the --trust-ca
 * certificates and, when the broker intercepts, the sandbox's own CA. They
 * extend the bundle in the view (curl, wget, git and OpenSSL read it), and
 * the variables of clients that read their own store point at them (unless
 * the caller set one with --env). A --rootfs tree keeps its own store.
 */
static int plan_trust(struct proc_sandbox *ps, const struct sbvm_config *cfg, sbvm_error **err)
{
    static const struct {
        const char *name, *path;
    } vars[] = {
        { "SSL_CERT_FILE", FSPLAN_TRUST_BUNDLE },      /* OpenSSL's, Go's, curl's override */
        { "REQUESTS_CA_BUNDLE", FSPLAN_TRUST_BUNDLE }, /* requests with pip's certifi */
        { "NODE_EXTRA_CA_CERTS", FSPLAN_TRUST_ADDED }, /* node: added to its own store */
    };
    struct strbuf pem = STRBUF_INIT;
    int r = 0;

    for (size_t i = 0; i < cfg->trust_ca.n; i++)
        strbuf_addstr(&pem, cfg->trust_ca.v[i]);
    if (ps->has_net && ps->net.ca)
        strbuf_addstr(&pem, net_ca_pem(ps->net.ca));
    if (strbuf_failed(&pem))
        r = error_set(err, ENOMEM, "out of memory");
    if (r < 0 || !pem.len || cfg->rootfs) {
        strbuf_release(&pem);
        return r;
    }
    r = fsplan_add_trust(&ps->extra, pem.buf, pem.len, err);
    strbuf_release(&pem);
    for (size_t i = 0; i < ARRAY_SIZE(vars) && r == 0; i++) {
        struct strbuf kv = STRBUF_INIT;
        if (env_lookup(cfg->env_set.v, vars[i].name))
            continue;
        strbuf_addf(&kv, "%s=%s", vars[i].name, vars[i].path);
        if (strbuf_failed(&kv) || env_put(&ps->envp, kv.buf) < 0)
            r = error_set(err, ENOMEM, "out of memory");
        strbuf_release(&kv);
    }
    return r;
}

static void proc_release(struct sandbox *sb)
{
    struct proc_sandbox *ps = proc_of(sb);

    if (!ps)
        return;
    loop_fd_del(&ps->status_src);
    loop_fd_del(&ps->exit_src);
    loop_fd_del(&ps->spawn_src);
    drvhost_free(ps->drv);
    loop_timer_cancel(&ps->poll);
    loop_timer_cancel(&ps->freeze_timer);
    if (ps->pidfd >= 0 && !ps->exited)
        proc_signal_init(ps, SIGKILL);
    strv_release(&ps->envp);
    strv_release(&ps->exec_argv);
    if (ps->have_prog)
        program_release(&ps->prog);
    for (size_t i = 0; i < ps->nbinds; i++) {
        free(ps->binds[i].path);
        free(ps->binds[i].src);
        close_fd(&ps->binds[i].fd);
    }
    for (size_t i = 0; i < ps->nprogs; i++) {
        free(ps->progs[i].exec_path);
        free(ps->progs[i].exec_argv0);
        program_failure_release(&ps->progs[i].fail);
    }
    free(ps->progs);
    free(ps->view_mounts);
    for (size_t i = 0; i < ps->nmount_fds; i++)
        close(ps->mount_fds[i]);
    fsplan_release(&ps->extra);
    free(ps->layer_upper);
    free(ps->layer_work);
    if (ps->broker) {
        struct sbvm_net_attempt *v;
        size_t n;
        uint64_t d;
        broker_stop(ps->broker, &v, &n, &d);
        net_attempts_free(v, n);
    }
    net_attempts_free(ps->attempts, ps->nattempts);
    if (ps->has_net)
        net_policy_release(&ps->net);
    cgroup_destroy(&ps->cg);
    if (ps->pidfd >= 0 && !ps->exited) {
        siginfo_t si;
        while (waitid(P_PIDFD, (id_t)ps->pidfd, &si, WEXITED) < 0 && errno == EINTR)
            ;
    }
    close_fd(&ps->pidfd);
    close_fd(&ps->status_fd);
    close_fd(&ps->control_fd);
    close_fd(&ps->spawn_fd);
    close_fd(&ps->rootfd);
    close_fd(&ps->tmpfd);
    for (size_t i = 0; i < ps->ntmpfs; i++)
        close_fd(&ps->tmpfs_fds[i]);
    free(ps->marks);
    for (size_t i = 0; i < ps->nbuilding; i++)
        crash_free(ps->building[i]);
    free(ps->pending);
    free(ps->jobs);
    ledger_free(ps->ledger);
    free(ps->keep_error);
    free(ps->kept);
    result_copies_free(ps->copies, ps->ncopies);
    if (ps->plan)
        plan_unref(ps->plan);
    free(ps);
    sb->bdata = NULL;
}

static int proc_prepare(void *state, struct sandbox *sb, struct job *j, struct setup_fact *fail)
{
    struct proc_sandbox *ps = calloc(1, sizeof(*ps));
    struct proc_state *st = state;
    const struct sbvm_config *cfg = sb->cfg;
    struct program_failure pf;
    sbvm_error *e = NULL;
    int r;

    if (!ps) {
        setup_fact_set(fail, SBVM_OUTCOME_SETUP_FAILED, "prepare", ENOMEM, "out of memory");
        return -ENOMEM;
    }
    sb->bdata = ps;
    ps->sb = sb;
    ps->st = st;
    ps->pid = -1;
    ps->pidfd = ps->status_fd = ps->control_fd = ps->spawn_fd = ps->rootfd = ps->tmpfd = -1;
    fsplan_init(&ps->extra);
    proc_choose_mechanisms(ps, cfg);

    /* The part of the view every sandbox shares is built once. */
    pthread_mutex_lock(&st->lock);
    r = st->base_built ? 0 : fsplan_build_base(&st->base, &st->ids, &e);
    st->base_built = r == 0;
    pthread_mutex_unlock(&st->lock);
    if (r < 0)
        goto fail_err;
    /* Its own writable /tmp, of its own size, before the program binds
     * (a program may live under /tmp). */
    if (cfg->rootfs && (r = fsplan_build_rootfs(&ps->extra, &e)) < 0)
        goto fail_err;
    r = fsplan_add_tmp(&ps->extra, proc_scratch_mount_size(cfg), &e);
    if (r < 0)
        goto fail_err;
    if ((cfg->devices.n || cfg->drivers.n) && (r = attach_drivers(ps, j, cfg, &e)) < 0)
        goto fail_err;
    r = env_build(cfg, &ps->envp, &e);
    if (r == 0 && j && j->channel && env_put(&ps->envp, "SBVM_CHANNEL=3") < 0)
        r = error_set(&e, ENOMEM, "out of memory");
    if (r < 0)
        goto fail_err;
    r = plan_network(ps, cfg, &e);
    if (r < 0)
        goto fail_err;
    /* --net host: the host's resolver and names, which mean something on
     * the host's network (the base view's are loopback-only). */
    if (cfg->net == SBVM_NET_HOST && !cfg->rootfs && (r = fsplan_add_host_net(&ps->extra, &e)) < 0)
        goto fail_err;
    if ((r = plan_trust(ps, cfg, &e)) < 0)
        goto fail_err;
    if (cfg->rootfs && (r = open_rootfs(ps, cfg->rootfs, &e)) < 0)
        goto fail_err;
    if (cfg->layer && (r = open_layer(ps, cfg->layer, &e)) < 0)
        goto fail_err;
    if ((r = open_mounts(ps, cfg, &e)) < 0)
        goto fail_err;
    if (j) {
        r = resolve_program(ps, j, &pf);
        if (r < 0) {
            setup_fact_set(fail, pf.outcome, "resolve", pf.err, "%s",
                           pf.message ? pf.message : "out of memory");
            program_failure_release(&pf);
            return r;
        }
        ps->have_prog = true;
        if ((r = take_binds(ps, &ps->prog, &e)) < 0)
            goto fail_err;
    } else if ((r = view_only(ps, cfg, &e)) < 0 || (r = resolve_programs(ps, cfg, &e)) < 0) {
        goto fail_err;
    }
    if ((cfg->devices.n || cfg->drivers.n) && (r = plan_drivers(ps, cfg, &e)) < 0)
        goto fail_err;
    r = plan_mounts(ps, cfg, &e);
    if (r < 0)
        goto fail_err;
    if (cfg->container && (r = plan_container(ps, cfg->container, &e)) < 0)
        goto fail_err;
    r = choose_policy(st, ps, cfg, proc_watch_mask(ps, cfg), &e);
    if (r < 0)
        goto fail_err;
    return 0;
fail_err:
    setup_fact_set(fail, SBVM_OUTCOME_SETUP_FAILED, "prepare", sbvm_error_code(e), "%s",
                   sbvm_error_message(e));
    sbvm_error_free(e);
    return r;
}

/* A module file of a crashed process, as the sandbox showed it: through its
 * mounts or in its rootfs; in the default view, a system directory's file
 * or a program file bound at its host path; or, in its scratch, what the
 * guest made there (while it is held open). */
static int proc_open_module(const char *path, void *ctx)
{
    const struct sandbox *sb = ctx;
    const struct proc_sandbox *ps = proc_of(sb);
    int fd = program_view_open(&ps->view, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);

    if (fd != -EREMOTE)
        return fd >= 0 ? fd : -1;
    /* A program file bound at its host path comes first: under /tmp it
     * covers the scratch at that path. */
    for (size_t i = 0; i < ps->nbinds; i++)
        if (streq(ps->binds[i].path, path))
            return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (str_has_prefix(path, "/tmp/") && ps->tmpfd >= 0)
        return openat2_at(ps->tmpfd, path + 5, O_RDONLY | O_NONBLOCK | O_NOCTTY,
                          RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (!fsplan_path_visible(path))
        return -1;
    return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
}

const struct backend_ops process_backend = {
    .name = "process",
    .state_new = proc_state_new,
    .state_free = proc_state_free,
    .prepare = proc_prepare,
    .start = proc_start,
    .exec = proc_exec,
    .signal = proc_signal,
    .pause = proc_pause,
    .kill_job = proc_kill_job,
    .forget_job = proc_forget_job,
    .stop = proc_stop,
    .finish = proc_finish,
    .put = proc_put,
    .get = proc_get,
    .inventory = proc_inventory,
    .open_module = proc_open_module,
    .open_proc = proc_open_proc,
    .release = proc_release,
};
