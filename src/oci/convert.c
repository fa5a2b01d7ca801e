/* SPDX-License-Identifier: MIT */
/*
 * convert.c: a checked config.json turned into the container's sandbox: an
 * sbvm_config (its rootfs, mounts, limits, network) and the container part
 * of it (config.h: struct config_container) that only OCI containers have.
 * What sandboxvm provides itself (/proc, /dev, /dev/pts, /dev/shm) replaces
 * the config's mounts of the same; /sys is an empty read-only directory.
 */
#include "oci/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* A path in the bundle (relative) or absolute, made canonical. */
static char *bundle_path(const char *bundle, const char *p, sbvm_error **err, const char *field)
{
    char joined[PATH_MAX], real[PATH_MAX];

    if (p[0] == '/')
        snprintf(joined, sizeof(joined), "%s", p);
    else if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", bundle, p) >= sizeof(joined)) {
        error_set(err, ENAMETOOLONG, "config.json: %s: path too long", field);
        return NULL;
    }
    if (!realpath(joined, real)) {
        error_sys(err, errno, "config.json: %s: %s", field, joined);
        return NULL;
    }
    return strdup(real);
}

/* The id maps for the container's user namespace, as "inside outside
 * count" lines. */
static int add_map_line(struct strbuf *sb, uint32_t in, uint32_t out, uint32_t n)
{
    strbuf_addf(sb, "%u %u %u\n", in, out, n);
    return strbuf_failed(sb) ? -ENOMEM : 0;
}

/* As root of its user namespace, the runtime maps every id it has itself
 * to the same id inside (a container without a user namespace of its own
 * sees the ids the runtime sees, as with other runtimes); only the ids
 * its own map holds can be mapped. */
static char *identity_map(const char *file)
{
    struct strbuf sb = STRBUF_INIT;
    char line[128];
    FILE *f = fopen(file, "re");
    unsigned n = 0;

    if (!f)
        return NULL;
    while (fgets(line, sizeof(line), f) && n < 340) {
        unsigned long in, out, cnt;
        if (sscanf(line, "%lu %lu %lu", &in, &out, &cnt) == 3 && cnt > 0 && in <= UINT32_MAX &&
            cnt <= UINT32_MAX)
            add_map_line(&sb, (uint32_t)in, (uint32_t)in, (uint32_t)cnt), n++;
    }
    fclose(f);
    if (strbuf_failed(&sb) || !n) {
        strbuf_release(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

static int plan_ids(const struct oci_spec *s, struct config_container *ct, bool root,
                    sbvm_error **err)
{
    const struct oci_process *p = &s->process;
    struct strbuf u = STRBUF_INIT, g = STRBUF_INIT;

    ct->uid = p->uid;
    ct->gid = p->gid;
    ct->ngroups = p->ngroups < CONFIG_GROUPS_MAX ? p->ngroups : CONFIG_GROUPS_MAX;
    memcpy(ct->groups, p->groups, ct->ngroups * sizeof(ct->groups[0]));
    if (s->ns[OCI_NS_USER]) {
        for (size_t i = 0; i < s->nuid_maps; i++)
            add_map_line(&u, s->uid_maps[i].container_id,
                         root ? s->uid_maps[i].host_id : (uint32_t)geteuid(), s->uid_maps[i].size);
        for (size_t i = 0; i < s->ngid_maps; i++)
            add_map_line(&g, s->gid_maps[i].container_id,
                         root ? s->gid_maps[i].host_id : (uint32_t)getegid(), s->gid_maps[i].size);
        if (!root && (s->uid_maps[0].host_id != geteuid() || s->gid_maps[0].host_id != getegid())) {
            strbuf_release(&u);
            strbuf_release(&g);
            return error_set(err, EPERM,
                             "config.json: linux.uidMappings: without root, the one id mapped "
                             "must be the caller's own (uid %u, gid %u)",
                             (unsigned)geteuid(), (unsigned)getegid());
        }
        /* Checked: container uid 0 is mapped. Unprivileged, the one id
         * mapped is the creator's, whatever its number inside. */
        ct->from_root = root;
        ct->uid_map = strbuf_detach(&u, NULL);
        ct->gid_map = strbuf_detach(&g, NULL);
    } else if (root) {
        _cleanup_free_ char *sg = NULL;
        ct->uid_map = identity_map("/proc/self/uid_map");
        ct->gid_map = identity_map("/proc/self/gid_map");
        ct->from_root = true;
        /* Root of a rootless engine's namespace, where setgroups is denied:
         * the groups cannot change (and hold nothing the user lacks). */
        if (read_file_at(AT_FDCWD, "/proc/self/setgroups", 64, &sg, NULL) == 0 &&
            str_has_prefix(sg, "deny")) {
            if (p->ngroups)
                return error_set(err, EPERM,
                                 "config.json: process.user.additionalGids: this user namespace "
                                 "forbids setting groups (setgroups is denied)");
            ct->keep_groups = true;
        }
    } else {
        /* The caller's own ids, and nothing else, are the container's. */
        add_map_line(&u, p->uid, (uint32_t)geteuid(), 1);
        add_map_line(&g, p->gid, (uint32_t)getegid(), 1);
        ct->uid_map = strbuf_detach(&u, NULL);
        ct->gid_map = strbuf_detach(&g, NULL);
        ct->from_root = false;
    }
    if (!ct->uid_map || !ct->gid_map)
        return error_set(err, ENOMEM, "the container's id maps: out of memory");
    return 0;
}

static bool has_opt(const struct oci_mount *m, const char *opt)
{
    return strv_find(&m->options, opt) >= 0;
}

/* "size=64m" and friends, as tmpfs reads them. */
static uint64_t tmpfs_size(const struct oci_mount *m)
{
    for (size_t i = 0; i < m->options.n; i++) {
        uint64_t b;
        if (str_has_prefix(m->options.v[i], "size=") && parse_size(m->options.v[i] + 5, &b) == 0)
            return b;
    }
    return 0;
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int plan_mounts(const struct oci_spec *s, const char *bundle, sbvm_config *cfg,
                       struct config_container *ct, sbvm_error **err)
{
    for (size_t i = 0; i < s->nmounts; i++) {
        const struct oci_mount *m = &s->mounts[i];
        const char *d = m->destination;
        bool bind = streq(m->type, "bind") || streq(m->type, "rbind") || has_opt(m, "bind") ||
                    has_opt(m, "rbind");
        char field[48];
        int r;

        snprintf(field, sizeof(field), "mounts[%zu]", i);
        /* What every sandbox has already: its own /proc (masked), /dev
         * (null, zero, full, random, urandom, ptys), and /dev/shm (in its
         * scratch). */
        if ((streq(m->type, "proc") && streq(d, "/proc")) ||
            (streq(d, "/dev") && streq(m->type, "tmpfs")) ||
            (streq(d, "/dev/pts") && streq(m->type, "devpts")) || streq(d, "/dev/shm"))
            continue;
        if (streq(m->type, "mqueue")) {
            if (strv_push(&ct->mqueue, d) < 0)
                return error_set(err, ENOMEM, "out of memory");
            continue;
        }
        /* sysfs shows the host's devices and kernel; a container gets an
         * empty read-only /sys, and no cgroup tree inside it. */
        if (streq(m->type, "sysfs") || streq(m->type, "cgroup") || streq(m->type, "cgroup2")) {
            if (!under(d, "/sys"))
                return error_set(err, EINVAL, "config.json: %s: %s at %s: only under /sys", field,
                                 m->type, d);
            ct->empty_sys = true;
            continue;
        }
        if (under(d, "/proc") || under(d, "/dev") || under(d, "/sys"))
            return error_set(err, EINVAL,
                             "config.json: %s: %s: sandboxvm provides /proc, /dev and /sys itself",
                             field, d);
        if (bind) {
            char *src = bundle_path(bundle, m->source, err, field);
            if (!src)
                return -ENOENT;
            r = sbvm_config_add_mount(cfg, has_opt(m, "ro") ? SBVM_MOUNT_RO : SBVM_MOUNT_RW, src, d,
                                      0, err);
            free(src);
        } else if (streq(m->type, "tmpfs")) {
            r = sbvm_config_add_mount(cfg, SBVM_MOUNT_TMPFS, NULL, d, tmpfs_size(m), err);
        } else {
            return error_set(err, EINVAL, "config.json: %s: type '%s' at %s is not supported",
                             field, m->type, d);
        }
        if (r < 0)
            return error_wrap(err, r, "config.json: %s", field);
    }
    return 0;
}

static int plan_sysctls(const struct oci_spec *s, struct oci_plan *p, struct config_container *ct)
{
    for (size_t i = 0; i < s->sysctl_keys.n; i++) {
        const char *k = s->sysctl_keys.v[i];
        struct strbuf path = STRBUF_INIT;
        bool net = str_has_prefix(k, "net.");
        int r;

        strbuf_addstr(&path, "/proc/sys/");
        for (const char *c = k; *c; c++)
            strbuf_addch(&path, *c == '.' ? '/' : *c);
        if (strbuf_failed(&path))
            return -ENOMEM;
        /* In a network namespace the container joins, the monitor writes
         * them (as root there) before the sandbox exists; otherwise the
         * sandbox's pid 1 writes them in its own namespaces. */
        if (net && s->ns_path[OCI_NS_NETWORK])
            r = strv_push(&p->net_sysctl_paths, path.buf) < 0 ||
                        strv_push(&p->net_sysctl_values, s->sysctl_values.v[i]) < 0
                    ? -ENOMEM
                    : 0;
        else
            r = strv_push(&ct->sysctl_paths, path.buf) < 0 ||
                        strv_push(&ct->sysctl_values, s->sysctl_values.v[i]) < 0
                    ? -ENOMEM
                    : 0;
        strbuf_release(&path);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The directories the sandbox mounts over must exist; a writable tree
 * gets them (other runtimes make mount points in the rootfs too). */
static int rootfs_dirs(const char *rootfs, bool writable, sbvm_error **err)
{
    static const char *const need[] = { "proc", "dev", "tmp" };
    _cleanup_close_ int fd = open(rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return error_sys(err, errno, "root.path %s", rootfs);
    for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
        struct stat st;
        if (fstatat(fd, need[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            continue;
        if (!writable || mkdirat(fd, need[i], streq(need[i], "tmp") ? 01777 : 0755) < 0)
            return error_set(err, ENOENT,
                             "root.path %s: it has no /%s directory (the sandbox mounts its "
                             "own /proc, /dev and /tmp)",
                             rootfs, need[i]);
    }
    return 0;
}

/* "true" or "false", as engines write booleans in annotations. */
static int annotation_bool(const struct oci_spec *s, const char *key, bool *out, sbvm_error **err)
{
    const char *v = oci_spec_annotation(s, key);

    *out = false;
    if (!v || streq(v, "false"))
        return 0;
    if (streq(v, "true")) {
        *out = true;
        return 0;
    }
    return error_set(err, EINVAL, "config.json: annotations.%s: must be true or false", key);
}

/* The annotations OCI_NET_ALLOW and OCI_NET_ALLOW_PRIVATE: sandboxvm's
 * broker (a proxy inside, the rules outside) for a container whose network
 * namespace is new and empty (podman --network none). They are the config
 * writer's to set - under Kubernetes, a pod's author - so they get less
 * than the command line: no wildcard (one "*" makes the broker a proxy to
 * anywhere), a bounded list, and no effect on a container that has a
 * network (then they are refused, not ignored: a rule nobody applies would
 * read as a limit that is not there). */
static int plan_broker(const struct oci_spec *s, sbvm_config *cfg, sbvm_error **err)
{
    static const char field[] = "config.json: annotations." OCI_NET_ALLOW;
    const char *allow = oci_spec_annotation(s, OCI_NET_ALLOW);
    _cleanup_free_ char *list = NULL;
    char *save = NULL;
    size_t n = 0;
    bool private;
    int r;

    r = annotation_bool(s, OCI_NET_ALLOW_PRIVATE, &private, err);
    if (r < 0)
        return r;
    if (!allow) {
        if (private)
            return error_set(err, EINVAL, "config.json: annotations.%s: it needs %s",
                             OCI_NET_ALLOW_PRIVATE, OCI_NET_ALLOW);
        return 0;
    }
    if (s->ns_path[OCI_NS_NETWORK] || !s->ns[OCI_NS_NETWORK])
        return error_set(err, EINVAL,
                         "%s: the broker is for a container with a network namespace of its "
                         "own and nothing in it, and this one %s (podman: --network none)",
                         field,
                         s->ns_path[OCI_NS_NETWORK] ? "joins another" : "has the host's network");
    if (strlen(allow) > OCI_NET_ALLOW_MAX_BYTES)
        return error_set(err, E2BIG, "%s: longer than %u bytes", field, OCI_NET_ALLOW_MAX_BYTES);
    for (const char *c = allow; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return error_set(err, EINVAL, "%s: a control character", field);
    if (strchr(allow, '*'))
        return error_set(err, EINVAL,
                         "%s: a wildcard ('*') is refused in an annotation: name each host "
                         "and port",
                         field);
    if (!(list = strdup(allow)))
        return error_set(err, ENOMEM, "out of memory");
    sbvm_config_set_net(cfg, SBVM_NET_ALLOW);
    for (char *rule = strtok_r(list, ", ", &save); rule; rule = strtok_r(NULL, ", ", &save)) {
        if (++n > OCI_NET_ALLOW_MAX_RULES)
            return error_set(err, E2BIG, "%s: more than %u rules", field, OCI_NET_ALLOW_MAX_RULES);
        if ((r = sbvm_config_net_allow(cfg, rule, err)) < 0)
            return error_wrap(err, r, "%s", field);
    }
    if (!n)
        return error_set(err, EINVAL, "%s: no rule (write HOST[:PORT][,...])", field);
    sbvm_config_set_net_allow_private(cfg, private);
    return 0;
}

/*
 * linux.resources.cpu and linux.cgroupsPath, as root: the sandbox's cgroup
 * settings, which the library applies or fails the start naming (never
 * dropped where the host lacks a controller). Without root, as with the
 * pids limit and as rootless runc does where no cgroup is delegated to it,
 * they are not applied, and the log says so.
 */
static int plan_cgroup(const struct oci_spec *s, sbvm_config *cfg, struct oci_plan *p, bool root)
{
    struct config_cgroup *cg = &cfg->cgroup;
    bool cpu = s->cpu_quota || s->cpu_period || s->cpu_shares || s->cpu_cpus || s->cpu_mems;

    if (!root) {
        if (s->has_pids_limit && strv_push(&p->notes, "linux.resources.pids.limit: not applied "
                                                      "without root (no cgroup of ours)") < 0)
            return -ENOMEM;
        if (cpu && strv_push(&p->notes, "linux.resources.cpu: not applied without root (no "
                                        "cgroup of ours)") < 0)
            return -ENOMEM;
        if (s->cgroups_path && strv_push(&p->notes, "linux.cgroupsPath: not applied without "
                                                    "root (no cgroup of ours)") < 0)
            return -ENOMEM;
        return 0;
    }
    cg->cpu_quota = s->cpu_quota;
    cg->cpu_period = s->cpu_period;
    cg->cpu_shares = s->cpu_shares;
    if ((s->cpu_cpus && !(cg->cpus = strdup(s->cpu_cpus))) ||
        (s->cpu_mems && !(cg->mems = strdup(s->cpu_mems))) ||
        (s->cgroups_path && !(cg->path = strdup(s->cgroups_path))))
        return -ENOMEM;
    return 0;
}

int oci_plan_build(const struct oci_spec *s, const char *bundle, struct oci_plan *p,
                   sbvm_error **err)
{
    struct config_container *ct;
    sbvm_config *cfg;
    char *rootfs = NULL;
    bool root = geteuid() == 0;
    int r;

    memset(p, 0, sizeof(*p));
    p->rootless = !root;
    cfg = p->cfg = sbvm_config_new();
    ct = calloc(1, sizeof(*ct));
    if (!cfg || !ct) {
        free(ct);
        return error_set(err, ENOMEM, "out of memory");
    }
    cfg->container = ct;
    rootfs = bundle_path(bundle, s->root_path, err, "root.path");
    if (!rootfs)
        return -ENOENT;
    r = rootfs_dirs(rootfs, !s->root_readonly, err);
    if (r == 0)
        r = sbvm_config_set_rootfs(cfg, rootfs, err);
    free(rootfs);
    if (r < 0)
        return r;
    ct->rootfs_rw = !s->root_readonly;
    if (s->hostname && *s->hostname && !(ct->hostname = strdup(s->hostname)))
        return error_set(err, ENOMEM, "out of memory");
    ct->umask = s->process.has_umask ? s->process.umask : 022;
    for (size_t i = 0; i < s->process.nrlimits && i < CONFIG_RLIMITS_MAX; i++) {
        ct->rlimits[i].resource = s->process.rlimits[i].resource;
        ct->rlimits[i].cur = s->process.rlimits[i].soft;
        ct->rlimits[i].max = s->process.rlimits[i].hard;
        ct->nrlimits = i + 1;
    }
    r = plan_ids(s, ct, root, err);
    if (r < 0)
        return r;
    /* A container's environment is its config's, nothing of the runtime's
     * (the monitor starts from an empty one: keep_env then adds nothing). */
    sbvm_config_set_keep_env(cfg, 1);
    /* Its limits are what the config says: none of sandboxvm's defaults
     * (files, processes, file size), which a container's rlimits replace. */
    cfg->limits[SBVM_LIMIT_FILES] = 0;
    cfg->limits[SBVM_LIMIT_PIDS] = 0;
    cfg->limits[SBVM_LIMIT_DISK] = 0;
    if (s->has_memory_limit &&
        (r = sbvm_config_set_limit(cfg, SBVM_LIMIT_MEMORY, (uint64_t)s->memory_limit, err)) < 0)
        return error_wrap(err, r, "config.json: linux.resources.memory.limit");
    /* Without root there is no cgroup to count processes in, and an
     * rlimit would fight the config's own RLIMIT_NPROC. */
    if (s->has_pids_limit && root &&
        (r = sbvm_config_set_limit(cfg, SBVM_LIMIT_PIDS, (uint64_t)s->pids_limit, err)) < 0)
        return error_wrap(err, r, "config.json: linux.resources.pids.limit");
    r = plan_cgroup(s, cfg, p, root);
    if (r < 0)
        return error_set(err, -r, "out of memory");
    if (s->ns_path[OCI_NS_NETWORK]) {
        /* The monitor joins it before it builds the sandbox, which then
         * shares it. */
        if (!(p->netns = strdup(s->ns_path[OCI_NS_NETWORK])))
            return error_set(err, ENOMEM, "out of memory");
        sbvm_config_set_net(cfg, SBVM_NET_HOST);
    } else if (s->ns[OCI_NS_NETWORK]) {
        sbvm_config_set_net(cfg, SBVM_NET_NONE);
    } else {
        sbvm_config_set_net(cfg, SBVM_NET_HOST);
    }
    r = plan_broker(s, cfg, err);
    if (r < 0)
        return r;
    r = plan_mounts(s, bundle, cfg, ct, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < s->masked_paths.n; i++)
        if (strv_push(&ct->masked, s->masked_paths.v[i]) < 0)
            return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < s->readonly_paths.n; i++)
        if (strv_push(&ct->readonly, s->readonly_paths.v[i]) < 0)
            return error_set(err, ENOMEM, "out of memory");
    if (plan_sysctls(s, p, ct) < 0)
        return error_set(err, ENOMEM, "out of memory");
    if (s->seccomp) {
        struct sock_filter *f;
        size_t n;
        r = oci_seccomp_compile(s->seccomp, &f, &n, err);
        if (r < 0)
            return r;
        ct->filter = f;
        ct->filter_len = n;
    }
    return 0;
}

void oci_plan_release(struct oci_plan *p)
{
    sbvm_config_free(p->cfg);
    free(p->netns);
    strv_release(&p->net_sysctl_paths);
    strv_release(&p->net_sysctl_values);
    strv_release(&p->notes);
    memset(p, 0, sizeof(*p));
}
