/* SPDX-License-Identifier: MIT */
/* config.c: building and validating guest configurations. */
#include "core/config.h"
#include "net/ca.h"
#include "net/policy.h"

#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "policy/seccomp.h"
#include "util/array.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* The longest single argument or variable the kernel accepts (MAX_ARG_STRLEN). */
#define ARG_STRLEN_MAX (32 * 4096)

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool config_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > SBVM_NAME_MAX || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char_ok(name[i]))
            return false;
    return true;
}

char *config_name_from_program(const char *prog)
{
    const char *base = strrchr(prog, '/');
    char out[SBVM_NAME_MAX + 1];
    size_t n = 0;

    base = base ? base + 1 : prog;
    for (; *base && n < SBVM_NAME_MAX; base++) {
        char c = *base;
        if (n == 0 && (c == '.' || c == '-'))
            continue;
        out[n++] = name_char_ok(c) ? c : '_';
    }
    out[n] = '\0';
    return strdup(n ? out : "guest");
}

bool config_env_key_valid(const char *key)
{
    size_t n = strlen(key);
    return n > 0 && n <= SBVM_ENV_KEY_MAX && !strchr(key, '=');
}

SBVM_API sbvm_config *sbvm_config_new(void)
{
    sbvm_config *cfg = calloc(1, sizeof(*cfg));

    if (!cfg)
        return NULL;
    cfg->stdin_fd = -1;
    cfg->capture_limit = SBVM_DEFAULT_CAPTURE;
    cfg->symbolize = true;
    cfg->limits[SBVM_LIMIT_PIDS] = SBVM_DEFAULT_PIDS;
    cfg->limits[SBVM_LIMIT_FILES] = SBVM_DEFAULT_FILES;
    cfg->limits[SBVM_LIMIT_DISK] = SBVM_DEFAULT_DISK;
    return cfg;
}

SBVM_API void sbvm_config_free(sbvm_config *cfg)
{
    if (!cfg)
        return;
    strv_release(&cfg->argv);
    strv_release(&cfg->env_set);
    strv_release(&cfg->deny);
    strv_release(&cfg->allow);
    strv_release(&cfg->net_rules);
    for (size_t i = 0; i < cfg->secrets.n; i++)
        explicit_bzero(cfg->secrets.v[i], strlen(cfg->secrets.v[i]));
    strv_release(&cfg->secrets);
    strv_release(&cfg->trust_ca);
    strv_release(&cfg->devices);
    strv_release(&cfg->drivers);
    free(cfg->device_trace);
    strv_release(&cfg->programs);
    for (size_t i = 0; i < cfg->nmounts; i++) {
        free(cfg->mounts[i].src);
        free(cfg->mounts[i].dst);
    }
    free(cfg->mounts);
    for (size_t i = 0; i < cfg->ncopies; i++) {
        free(cfg->copies[i].host);
        free(cfg->copies[i].guest);
    }
    free(cfg->copies);
    free(cfg->rootfs);
    free(cfg->layer);
    free(cfg->name);
    free(cfg->cwd);
    config_container_free(cfg->container);
    config_cgroup_release(&cfg->cgroup);
    free(cfg->keep_dir);
    free(cfg);
}

SBVM_API sbvm_config *sbvm_config_dup(const sbvm_config *src)
{
    sbvm_config *cfg = sbvm_config_new();

    if (!cfg)
        return NULL;
    cfg->keep_env = src->keep_env;
    cfg->stdin_fd = src->stdin_fd;
    cfg->capture_limit = src->capture_limit;
    cfg->symbolize = src->symbolize;
    memcpy(cfg->limits, src->limits, sizeof(cfg->limits));
    cfg->limits_set = src->limits_set;
    cfg->net = src->net;
    cfg->net_allow_private = src->net_allow_private;
    cfg->device_trace_json = src->device_trace_json;
    cfg->channel = src->channel;
    if (strv_copy(&cfg->argv, &src->argv) < 0 || strv_copy(&cfg->env_set, &src->env_set) < 0 ||
        strv_copy(&cfg->deny, &src->deny) < 0 || strv_copy(&cfg->allow, &src->allow) < 0 ||
        strv_copy(&cfg->net_rules, &src->net_rules) < 0 ||
        strv_copy(&cfg->secrets, &src->secrets) < 0 ||
        strv_copy(&cfg->trust_ca, &src->trust_ca) < 0 ||
        strv_copy(&cfg->programs, &src->programs) < 0 ||
        strv_copy(&cfg->devices, &src->devices) < 0 ||
        strv_copy(&cfg->drivers, &src->drivers) < 0 ||
        (src->device_trace && !(cfg->device_trace = strdup(src->device_trace))))
        goto fail;
    if (src->keep_dir && !(cfg->keep_dir = strdup(src->keep_dir)))
        goto fail;
    if (src->rootfs && !(cfg->rootfs = strdup(src->rootfs)))
        goto fail;
    if (src->layer && !(cfg->layer = strdup(src->layer)))
        goto fail;
    if (src->nmounts) {
        cfg->mounts = calloc(src->nmounts, sizeof(*cfg->mounts));
        if (!cfg->mounts)
            goto fail;
        for (size_t i = 0; i < src->nmounts; i++) {
            cfg->mounts[i] = src->mounts[i];
            cfg->mounts[i].src = src->mounts[i].src ? strdup(src->mounts[i].src) : NULL;
            cfg->mounts[i].dst = strdup(src->mounts[i].dst);
            cfg->nmounts++;
            if ((src->mounts[i].src && !cfg->mounts[i].src) || !cfg->mounts[i].dst)
                goto fail;
        }
    }
    if (src->ncopies) {
        cfg->copies = calloc(src->ncopies, sizeof(*cfg->copies));
        if (!cfg->copies)
            goto fail;
        for (size_t i = 0; i < src->ncopies; i++) {
            cfg->copies[i].out = src->copies[i].out;
            cfg->copies[i].host = strdup(src->copies[i].host);
            cfg->copies[i].guest = strdup(src->copies[i].guest);
            cfg->ncopies++;
            if (!cfg->copies[i].host || !cfg->copies[i].guest)
                goto fail;
        }
    }
    if (src->name && !(cfg->name = strdup(src->name)))
        goto fail;
    if (src->cwd && !(cfg->cwd = strdup(src->cwd)))
        goto fail;
    if (src->container && !(cfg->container = config_container_dup(src->container)))
        goto fail;
    cfg->cgroup = src->cgroup;
    cfg->cgroup.cpus = cfg->cgroup.mems = cfg->cgroup.path = NULL;
    if ((src->cgroup.cpus && !(cfg->cgroup.cpus = strdup(src->cgroup.cpus))) ||
        (src->cgroup.mems && !(cfg->cgroup.mems = strdup(src->cgroup.mems))) ||
        (src->cgroup.path && !(cfg->cgroup.path = strdup(src->cgroup.path))))
        goto fail;
    return cfg;
fail:
    sbvm_config_free(cfg);
    return NULL;
}

bool config_path_plain(const char *p)
{
    if (!p || p[0] != '/')
        return false;
    if (p[1] == '\0')
        return true;
    for (const char *c = p + 1;;) {
        size_t len = strcspn(c, "/");
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        if (!c[len])
            return true;
        c += len + 1;
    }
}

/* A destination in the view: plain, not "/", not in /proc or /dev. */
static int check_dst(const char *opt, const char *dst, sbvm_error **err)
{
    if (!dst || !*dst)
        return error_set(err, EINVAL, "%s: no destination path", opt);
    if (strlen(dst) >= PATH_MAX)
        return error_set(err, ENAMETOOLONG, "%s %s: the path is too long", opt, dst);
    if (dst[0] != '/')
        return error_set(err, EINVAL, "%s %s: the path inside the sandbox must be absolute", opt,
                         dst);
    if (!config_path_plain(dst))
        return error_set(err, EINVAL,
                         "%s %s: write the path plainly (no '.', '..', '//' or trailing '/')", opt,
                         dst);
    if (streq(dst, "/"))
        return error_set(err, EINVAL, "%s /: the root itself cannot be replaced (see --rootfs)",
                         opt);
    if (streq(dst, "/proc") || str_has_prefix(dst, "/proc/") || streq(dst, "/dev") ||
        str_has_prefix(dst, "/dev/"))
        return error_set(err, EINVAL, "%s %s: /proc and /dev are the sandbox's own", opt, dst);
    return 0;
}

/* The real path of an existing host file; errors name opt and path. */
static int canonical(const char *opt, const char *path, char **out, sbvm_error **err)
{
    if (!path || !*path)
        return error_set(err, EINVAL, "%s: no host path", opt);
    *out = realpath(path, NULL);
    if (!*out)
        return error_sys(err, errno, "%s %s", opt, path);
    return 0;
}

static const char *mount_opt(enum sbvm_mount_kind k)
{
    switch (k) {
    case SBVM_MOUNT_RO:
        return "--ro";
    case SBVM_MOUNT_RW:
        return "--rw";
    case SBVM_MOUNT_TMPFS:
        return "--tmpfs";
    default:
        return "--hide";
    }
}

SBVM_API int sbvm_config_add_mount(sbvm_config *cfg, enum sbvm_mount_kind kind, const char *src,
                                   const char *dst, uint64_t size, sbvm_error **err)
{
    const char *opt = mount_opt(kind);
    struct config_mount m = { kind, NULL, NULL, size };
    size_t alloc;
    int r;

    if (kind > SBVM_MOUNT_HIDE)
        return error_set(err, EINVAL, "unknown mount kind %d", (int)kind);
    if (cfg->nmounts >= CONFIG_MOUNTS_MAX)
        return error_set(err, E2BIG, "%s: at most %d mounts", opt, CONFIG_MOUNTS_MAX);
    if (kind == SBVM_MOUNT_RO || kind == SBVM_MOUNT_RW) {
        if ((r = canonical(opt, src, &m.src, err)) < 0)
            return r;
        if (access(m.src, R_OK) < 0) {
            r = error_sys(err, errno, "%s %s", opt, m.src);
            free(m.src);
            return r;
        }
        if (!dst)
            dst = m.src;
    }
    if ((r = check_dst(opt, dst, err)) < 0) {
        free(m.src);
        return r;
    }
    if (kind == SBVM_MOUNT_TMPFS && size && size < 4096) {
        free(m.src);
        return error_set(err, EINVAL, "--tmpfs %s: a size under 4 KiB holds nothing", dst);
    }
    m.dst = strdup(dst);
    alloc = cfg->nmounts; /* bounded by CONFIG_MOUNTS_MAX: no spare kept */
    if (!m.dst || ARRAY_GROW(cfg->mounts, cfg->nmounts + 1, &alloc) < 0) {
        free(m.src);
        free(m.dst);
        return error_set(err, ENOMEM, "out of memory");
    }
    cfg->mounts[cfg->nmounts++] = m;
    return 0;
}

static int add_copy(sbvm_config *cfg, bool out, const char *host, const char *guest,
                    sbvm_error **err)
{
    const char *opt = out ? "--copy-out" : "--copy-in";
    struct config_copy c = { out, NULL, NULL };
    size_t alloc;
    int r;

    if (cfg->ncopies >= CONFIG_COPIES_MAX)
        return error_set(err, E2BIG, "%s: at most %d copies", opt, CONFIG_COPIES_MAX);
    if ((r = check_dst(opt, guest, err)) < 0)
        return r;
    if (!out) {
        if ((r = canonical(opt, host, &c.host, err)) < 0)
            return r;
    } else {
        /* The destination's directory must exist; the name must not. */
        const char *slash, *name;
        char *dir, *real;
        struct strbuf sb = STRBUF_INIT;
        if (!host || !*host)
            return error_set(err, EINVAL, "--copy-out: no host path");
        slash = strrchr(host, '/');
        name = slash ? slash + 1 : host;
        if (!*name || streq(name, ".") || streq(name, ".."))
            return error_set(err, EINVAL, "--copy-out %s: name the file to create", host);
        dir = slash ? (slash == host ? strdup("/") : strndup(host, (size_t)(slash - host)))
                    : strdup(".");
        if (!dir)
            return error_set(err, ENOMEM, "out of memory");
        real = realpath(dir, NULL);
        if (!real) {
            r = error_sys(err, errno, "--copy-out %s: its directory %s", host, dir);
            free(dir);
            return r;
        }
        free(dir);
        strbuf_addf(&sb, "%s/%s", streq(real, "/") ? "" : real, name);
        free(real);
        if (strbuf_failed(&sb))
            return error_set(err, ENOMEM, "out of memory");
        c.host = strbuf_detach(&sb, NULL);
    }
    c.guest = strdup(guest);
    alloc = cfg->ncopies; /* bounded by CONFIG_COPIES_MAX: no spare kept */
    if (!c.guest || ARRAY_GROW(cfg->copies, cfg->ncopies + 1, &alloc) < 0) {
        free(c.host);
        free(c.guest);
        return error_set(err, ENOMEM, "out of memory");
    }
    cfg->copies[cfg->ncopies++] = c;
    return 0;
}

SBVM_API int sbvm_config_add_copy_in(sbvm_config *cfg, const char *host, const char *guest,
                                     sbvm_error **err)
{
    return add_copy(cfg, false, host, guest, err);
}

SBVM_API int sbvm_config_add_copy_out(sbvm_config *cfg, const char *guest, const char *host,
                                      sbvm_error **err)
{
    return add_copy(cfg, true, host, guest, err);
}

SBVM_API int sbvm_config_set_rootfs(sbvm_config *cfg, const char *dir, sbvm_error **err)
{
    struct stat st;
    char *real;
    int r;

    if ((r = canonical("--rootfs", dir, &real, err)) < 0)
        return r;
    if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
        r = error_set(err, ENOTDIR, "--rootfs %s: not a directory", real);
        free(real);
        return r;
    }
    free(cfg->rootfs);
    cfg->rootfs = real;
    return 0;
}

SBVM_API int sbvm_config_set_layer(sbvm_config *cfg, const char *dir, sbvm_error **err)
{
    struct stat st;
    char *real;
    int r;

    if (!dir) {
        free(cfg->layer);
        cfg->layer = NULL;
        return 0;
    }
    if ((r = canonical("layer", dir, &real, err)) < 0)
        return r;
    if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
        r = error_set(err, ENOTDIR, "layer %s: not a directory", real);
        free(real);
        return r;
    }
    free(cfg->layer);
    cfg->layer = real;
    return 0;
}

SBVM_API void sbvm_config_set_net(sbvm_config *cfg, enum sbvm_net mode)
{
    /* A new mode starts its rules afresh (a command line's --net replaces
     * a profile's whole network setting). */
    cfg->net = mode;
    strv_release(&cfg->net_rules);
}

void config_swap(sbvm_config *a, sbvm_config *b)
{
    sbvm_config t = *a;
    *a = *b;
    *b = t;
}

SBVM_API int sbvm_config_net_allow(sbvm_config *cfg, const char *rule, sbvm_error **err)
{
    struct net_rule r;
    int rc = net_rule_parse(rule, &r, err);

    if (rc < 0)
        return rc;
    net_rule_release(&r);
    if (strv_push(&cfg->net_rules, rule) < 0)
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

SBVM_API void sbvm_config_set_net_allow_private(sbvm_config *cfg, int allow)
{
    cfg->net_allow_private = allow != 0;
}

SBVM_API int sbvm_config_add_secret(sbvm_config *cfg, const char *spec, sbvm_error **err)
{
    struct net_secret s;
    int rc = net_secret_parse(spec, &s, err);

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < cfg->secrets.n; i++) {
        const char *eq = strchr(cfg->secrets.v[i], '=');
        if (eq && (size_t)(eq - cfg->secrets.v[i]) == strlen(s.name) &&
            !strncmp(cfg->secrets.v[i], s.name, strlen(s.name))) {
            rc = error_set(err, EINVAL, "--secret %s: given twice", s.name);
            net_secret_release(&s);
            return rc;
        }
    }
    net_secret_release(&s);
    if (strv_push(&cfg->secrets, spec) < 0)
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

SBVM_API int sbvm_config_trust_ca(sbvm_config *cfg, const char *path, sbvm_error **err)
{
    struct strbuf pem = STRBUF_INIT;
    int r;

    if (!path || !*path)
        return error_set(err, EINVAL, "--trust-ca: give a PEM file");
    r = net_certs_load(path, &pem, err);
    if (r == 0 && strv_push(&cfg->trust_ca, pem.buf) < 0)
        r = error_set(err, ENOMEM, "out of memory");
    strbuf_release(&pem);
    return r;
}

SBVM_API void sbvm_config_set_channel(sbvm_config *cfg, const sbvm_channel_config *cc)
{
    cfg->channel = cc;
}

SBVM_API int sbvm_config_add_program(sbvm_config *cfg, const char *argv0, sbvm_error **err)
{
    if (!argv0 || !*argv0 || strlen(argv0) >= PATH_MAX)
        return error_set(err, EINVAL, "a program to make visible needs a name or path");
    for (size_t i = 0; i < cfg->programs.n; i++)
        if (streq(cfg->programs.v[i], argv0))
            return 0;
    if (cfg->programs.n >= CONFIG_PROGRAMS_MAX)
        return error_set(err, E2BIG, "%s: at most %d programs can be made visible in a sandbox",
                         argv0, CONFIG_PROGRAMS_MAX);
    if (strv_push(&cfg->programs, argv0) < 0)
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

SBVM_API int sbvm_config_set_argv(sbvm_config *cfg, size_t argc, const char *const *argv,
                                  sbvm_error **err)
{
    struct strv nv = STRV_INIT;

    if (argc == 0 || !argv || !argv[0] || !argv[0][0])
        return error_set(err, EINVAL, "empty command: name a program to run");
    for (size_t i = 0; i < argc; i++) {
        if (!argv[i]) {
            strv_release(&nv);
            return error_set(err, EINVAL, "argument %zu is NULL", i);
        }
        if (strlen(argv[i]) >= ARG_STRLEN_MAX) {
            strv_release(&nv);
            return error_set(err, E2BIG,
                             "argument %zu is longer than the kernel accepts (%d bytes)", i,
                             ARG_STRLEN_MAX - 1);
        }
        if (strv_push(&nv, argv[i]) < 0) {
            strv_release(&nv);
            return error_set(err, ENOMEM, "copying arguments: out of memory");
        }
    }
    strv_release(&cfg->argv);
    cfg->argv = nv;
    return 0;
}

SBVM_API int sbvm_config_set_name(sbvm_config *cfg, const char *name, sbvm_error **err)
{
    char *copy;

    if (!name || !config_name_valid(name))
        return error_set(err, EINVAL,
                         "invalid guest name '%s': use 1 to %d characters from A-Z a-z 0-9 . _ - "
                         "not starting with '.' or '-'",
                         name ? name : "(null)", SBVM_NAME_MAX);
    copy = strdup(name);
    if (!copy)
        return error_set(err, ENOMEM, "out of memory");
    free(cfg->name);
    cfg->name = copy;
    return 0;
}

SBVM_API int sbvm_config_setenv(sbvm_config *cfg, const char *key, const char *value,
                                sbvm_error **err)
{
    struct strbuf sb = STRBUF_INIT;

    if (!key || !config_env_key_valid(key))
        return error_set(err, EINVAL,
                         "invalid environment variable name '%s': it must be 1 to %d bytes "
                         "without '='",
                         key ? key : "(null)", SBVM_ENV_KEY_MAX);
    if (!value)
        return error_set(err, EINVAL, "environment variable %s has no value", key);
    if (strlen(key) + strlen(value) + 1 >= ARG_STRLEN_MAX)
        return error_set(err, E2BIG, "environment variable %s is longer than the kernel accepts",
                         key);
    strbuf_addf(&sb, "%s=%s", key, value);
    if (strv_push_owned(&cfg->env_set, strbuf_detach(&sb, NULL)) < 0)
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

SBVM_API void sbvm_config_set_keep_env(sbvm_config *cfg, int keep)
{
    cfg->keep_env = keep != 0;
}

SBVM_API int sbvm_config_set_cwd(sbvm_config *cfg, const char *path, sbvm_error **err)
{
    char *copy;

    if (!path || path[0] != '/')
        return error_set(err, EINVAL,
                         "working directory '%s' must be an absolute path inside the sandbox",
                         path ? path : "(null)");
    if (strlen(path) >= 4096)
        return error_set(err, ENAMETOOLONG, "working directory path is too long");
    copy = strdup(path);
    if (!copy)
        return error_set(err, ENOMEM, "out of memory");
    free(cfg->cwd);
    cfg->cwd = copy;
    return 0;
}

SBVM_API void sbvm_config_set_stdin_fd(sbvm_config *cfg, int fd)
{
    cfg->stdin_fd = fd < 0 ? -1 : fd;
}

SBVM_API void sbvm_config_set_capture_limit(sbvm_config *cfg, size_t bytes)
{
    cfg->capture_limit = bytes;
}

SBVM_API void sbvm_config_set_symbolize(sbvm_config *cfg, int on)
{
    cfg->symbolize = on != 0;
}

static const char *const limit_names[SBVM_LIMIT__COUNT] = {
    [SBVM_LIMIT_TIME] = "time", [SBVM_LIMIT_CPU] = "cpu",     [SBVM_LIMIT_MEMORY] = "memory",
    [SBVM_LIMIT_PIDS] = "pids", [SBVM_LIMIT_FILES] = "files", [SBVM_LIMIT_OUTPUT] = "output",
    [SBVM_LIMIT_DISK] = "disk",
};

SBVM_API const char *sbvm_limit_name(enum sbvm_limit l)
{
    return (unsigned)l < SBVM_LIMIT__COUNT ? limit_names[l] : "unknown";
}

SBVM_API int sbvm_config_set_limit(sbvm_config *cfg, enum sbvm_limit l, uint64_t value,
                                   sbvm_error **err)
{
    if ((unsigned)l >= SBVM_LIMIT__COUNT)
        return error_set(err, EINVAL, "unknown limit %d", (int)l);
    if (l == SBVM_LIMIT_PIDS && value != 0 && value < 2)
        return error_set(err, EINVAL,
                         "a pids limit must allow at least 2 (the init and the "
                         "guest)");
    if (l == SBVM_LIMIT_FILES && value != 0 && value < 4)
        return error_set(err, EINVAL,
                         "a files limit must allow at least 4 (stdio and one "
                         "more)");
    if (l == SBVM_LIMIT_MEMORY && value != 0 && value < (1 << 20))
        return error_set(err, EINVAL, "a memory limit below 1 MiB cannot run a program");
    if (l == SBVM_LIMIT_DISK && value != 0 && value < 4096)
        return error_set(err, EINVAL, "a disk limit must be at least 4 KiB");
    cfg->limits[l] = value;
    cfg->limits_set |= 1u << l;
    return 0;
}

SBVM_API int sbvm_config_set_keep_dir(sbvm_config *cfg, const char *dir, sbvm_error **err)
{
    char *copy;

    if (!dir || !*dir)
        return error_set(err, EINVAL, "the directory to keep the scratch in is empty");
    copy = strdup(dir);
    if (!copy)
        return error_set(err, ENOMEM, "out of memory");
    free(cfg->keep_dir);
    cfg->keep_dir = copy;
    return 0;
}

static int add_syscall(struct strv *list, const char *name, bool allow, sbvm_error **err)
{
    int r = seccomp_name_check(name, allow, err);

    if (r < 0)
        return r;
    if (strv_find(list, name) >= 0)
        return 0;
    if (strv_push(list, name) < 0)
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

SBVM_API int sbvm_config_deny_syscall(sbvm_config *cfg, const char *name, sbvm_error **err)
{
    return add_syscall(&cfg->deny, name, false, err);
}

SBVM_API int sbvm_config_allow_syscall(sbvm_config *cfg, const char *name, sbvm_error **err)
{
    return add_syscall(&cfg->allow, name, true, err);
}

bool config_cgroup_set(const struct config_cgroup *c)
{
    return c->cpu_quota || c->cpu_period || c->cpu_shares || c->cpus || c->mems || c->path;
}

void config_cgroup_release(struct config_cgroup *c)
{
    free(c->cpus);
    free(c->mems);
    free(c->path);
    memset(c, 0, sizeof(*c));
}

void config_container_free(struct config_container *c)
{
    if (!c)
        return;
    free(c->hostname);
    free(c->uid_map);
    free(c->gid_map);
    free(c->filter);
    strv_release(&c->sysctl_paths);
    strv_release(&c->sysctl_values);
    strv_release(&c->masked);
    strv_release(&c->readonly);
    strv_release(&c->mqueue);
    free(c);
}

struct config_container *config_container_dup(const struct config_container *src)
{
    struct config_container *c = malloc(sizeof(*c));

    if (!c)
        return NULL;
    *c = *src;
    c->hostname = c->uid_map = c->gid_map = NULL;
    c->filter = NULL;
    c->sysctl_paths = c->sysctl_values = c->masked = c->readonly = c->mqueue =
        (struct strv)STRV_INIT;
    if ((src->hostname && !(c->hostname = strdup(src->hostname))) ||
        (src->uid_map && !(c->uid_map = strdup(src->uid_map))) ||
        (src->gid_map && !(c->gid_map = strdup(src->gid_map))) ||
        strv_copy(&c->sysctl_paths, &src->sysctl_paths) < 0 ||
        strv_copy(&c->sysctl_values, &src->sysctl_values) < 0 ||
        strv_copy(&c->masked, &src->masked) < 0 || strv_copy(&c->readonly, &src->readonly) < 0 ||
        strv_copy(&c->mqueue, &src->mqueue) < 0)
        goto fail;
    if (src->filter_len) {
        if (src->filter_len > BPF_MAXINSNS ||
            !(c->filter = malloc(src->filter_len * sizeof(struct sock_filter))))
            goto fail;
        memcpy(c->filter, src->filter, src->filter_len * sizeof(struct sock_filter));
    }
    return c;
fail:
    config_container_free(c);
    return NULL;
}
