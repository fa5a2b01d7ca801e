/* SPDX-License-Identifier: MIT */
/*
 * spec.c: config.json and process.json, parsed: every value's shape and
 * range (spec.h). What sandboxvm then refuses by policy is check.c.
 */
#include "oci/spec.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/config.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* Longest single string kept (an argument, an environment entry, a path). */
#define STR_MAX (128u * 1024)

struct ctx {
    sbvm_error **err;
    const char *file;
};

/* A field's path for messages: "process.rlimits[2].type". */
struct where {
    char s[192];
};

static const char *at(struct where *w, const char *parent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *at(struct where *w, const char *parent, const char *fmt, ...)
{
    char tail[96];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tail, sizeof(tail), fmt, ap);
    va_end(ap);
    snprintf(w->s, sizeof(w->s), "%s%s%s", parent, *parent && tail[0] != '[' ? "." : "", tail);
    return w->s;
}

__attribute__((format(printf, 4, 5))) static int bad(struct ctx *c, int e, const char *field,
                                                     const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = error_vfield(c->err, e, "", c->file, field, fmt, ap);
    va_end(ap);
    return r;
}

static int oom(struct ctx *c)
{
    return error_set(c->err, ENOMEM, "%s: out of memory", c->file);
}

/* A string value: no NUL inside, at most max bytes; copied into *out. */
static int get_str(struct ctx *c, const char *field, json_t *v, size_t max, char **out)
{
    const char *s;

    if (!json_is_string(v))
        return bad(c, EINVAL, field, "expected a string");
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return bad(c, EINVAL, field, "a NUL byte inside the string");
    if (json_string_length(v) > max)
        return bad(c, EINVAL, field, "longer than %zu bytes", max);
    free(*out);
    *out = strdup(s);
    return *out ? 0 : oom(c);
}

static int get_bool(struct ctx *c, const char *field, json_t *v, bool *out)
{
    if (!json_is_boolean(v))
        return bad(c, EINVAL, field, "expected true or false");
    *out = json_is_true(v);
    return 0;
}

/* An integer within [lo, hi]. */
static int get_int(struct ctx *c, const char *field, json_t *v, long long lo, long long hi,
                   long long *out)
{
    long long n = 0;

    *out = 0;
    if (!json_is_integer(v))
        return bad(c, EINVAL, field, "expected an integer");
    n = json_integer_value(v);
    if (n < lo || n > hi)
        return bad(c, ERANGE, field, "%lld is out of range (%lld to %lld)", n, lo, hi);
    *out = n;
    return 0;
}

static int get_u32(struct ctx *c, const char *field, json_t *v, uint32_t *out)
{
    long long n = 0;
    int r = get_int(c, field, v, 0, UINT32_MAX, &n);

    if (r == 0)
        *out = (uint32_t)n;
    return r;
}

/* Absolute, without "." or ".." parts, at most PATH_MAX - 1 bytes. Repeated
 * or trailing slashes are tolerated (and kept); they do not change the
 * path's meaning. */
static bool path_clean(const char *p)
{
    if (p[0] != '/' || strlen(p) >= PATH_MAX)
        return false;
    for (const char *s = p; *s;) {
        size_t n;
        while (*s == '/')
            s++;
        n = strcspn(s, "/");
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
    }
    return true;
}

static int get_path(struct ctx *c, const char *field, json_t *v, char **out)
{
    int r = get_str(c, field, v, PATH_MAX - 1, out);

    if (r == 0 && !path_clean(*out))
        return bad(c, EINVAL, field,
                   "'%s' is not a clean absolute path (no '.' or '..' parts allowed)", *out);
    return r;
}

static int get_object(struct ctx *c, const char *field, json_t *v)
{
    return json_is_object(v) ? 0 : bad(c, EINVAL, field, "expected an object");
}

static int get_array(struct ctx *c, const char *field, json_t *v, size_t max)
{
    if (!json_is_array(v))
        return bad(c, EINVAL, field, "expected an array");
    if (json_array_size(v) > max)
        return bad(c, E2BIG, field, "more than %zu entries", max);
    return 0;
}

/* A list of strings, each at most `each` bytes. */
static int get_strv(struct ctx *c, const char *field, json_t *v, size_t max, size_t each,
                    struct strv *out)
{
    struct where w;
    size_t i;
    json_t *e;
    int r = get_array(c, field, v, max);

    if (r < 0)
        return r;
    json_array_foreach(v, i, e)
    {
        char *s = NULL;
        r = get_str(c, at(&w, field, "[%zu]", i), e, each, &s);
        if (r < 0)
            return r;
        if (strv_push_owned(out, s) < 0)
            return oom(c);
    }
    return 0;
}

static int note(struct ctx *c, struct oci_spec *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int note(struct ctx *c, struct oci_spec *s, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;

    if (s->notes.n >= 64)
        return 0;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    if (strbuf_failed(&sb)) {
        strbuf_release(&sb);
        return oom(c);
    }
    return strv_push_owned(&s->notes, strbuf_detach(&sb, NULL)) < 0 ? oom(c) : 0;
}

/* ---- names ---------------------------------------------------------------- */

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

/* What docker, podman and containerd ask for by default: accepted in a
 * config, and granted no more than any other (sandboxvm's processes have
 * no capabilities at all). */
static const unsigned default_caps[] = {
    0 /* CHOWN */,        1 /* DAC_OVERRIDE */, 3 /* FOWNER */,
    4 /* FSETID */,       5 /* KILL */,         6 /* SETGID */,
    7 /* SETUID */,       8 /* SETPCAP */,      10 /* NET_BIND_SERVICE */,
    13 /* NET_RAW */,     18 /* SYS_CHROOT */,  27 /* MKNOD */,
    29 /* AUDIT_WRITE */, 31 /* SETFCAP */,
};

const char *oci_cap_name(unsigned cap)
{
    return cap < ARRAY_SIZE(cap_names) ? cap_names[cap] : NULL;
}

bool oci_cap_acceptable(unsigned cap)
{
    for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
        if (default_caps[i] == cap)
            return true;
    return false;
}

static const char *const ns_names[OCI_NS__COUNT] = {
    [OCI_NS_PID] = "pid",       [OCI_NS_NETWORK] = "network", [OCI_NS_MOUNT] = "mount",
    [OCI_NS_IPC] = "ipc",       [OCI_NS_UTS] = "uts",         [OCI_NS_USER] = "user",
    [OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time",
};

const char *oci_ns_name(enum oci_ns ns)
{
    return (unsigned)ns < OCI_NS__COUNT ? ns_names[ns] : NULL;
}

static const char *const rlimit_names[] = {
    [RLIMIT_CPU] = "RLIMIT_CPU",           [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
    [RLIMIT_DATA] = "RLIMIT_DATA",         [RLIMIT_STACK] = "RLIMIT_STACK",
    [RLIMIT_CORE] = "RLIMIT_CORE",         [RLIMIT_RSS] = "RLIMIT_RSS",
    [RLIMIT_NPROC] = "RLIMIT_NPROC",       [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
    [RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK",   [RLIMIT_AS] = "RLIMIT_AS",
    [RLIMIT_LOCKS] = "RLIMIT_LOCKS",       [RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
    [RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE", [RLIMIT_NICE] = "RLIMIT_NICE",
    [RLIMIT_RTPRIO] = "RLIMIT_RTPRIO",     [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
};

static const struct {
    const char *name;
    enum oci_seccomp_action action;
} scmp_actions[] = {
    { "SCMP_ACT_KILL", OCI_SCMP_KILL },
    { "SCMP_ACT_KILL_THREAD", OCI_SCMP_KILL },
    { "SCMP_ACT_KILL_PROCESS", OCI_SCMP_KILL_PROCESS },
    { "SCMP_ACT_TRAP", OCI_SCMP_TRAP },
    { "SCMP_ACT_ERRNO", OCI_SCMP_ERRNO },
    { "SCMP_ACT_TRACE", OCI_SCMP_TRACE },
    { "SCMP_ACT_ALLOW", OCI_SCMP_ALLOW },
    { "SCMP_ACT_LOG", OCI_SCMP_LOG },
    { "SCMP_ACT_NOTIFY", OCI_SCMP_NOTIFY },
};

static const char *const scmp_ops[] = {
    [OCI_CMP_NE] = "SCMP_CMP_NE",
    [OCI_CMP_LT] = "SCMP_CMP_LT",
    [OCI_CMP_LE] = "SCMP_CMP_LE",
    [OCI_CMP_EQ] = "SCMP_CMP_EQ",
    [OCI_CMP_GE] = "SCMP_CMP_GE",
    [OCI_CMP_GT] = "SCMP_CMP_GT",
    [OCI_CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

/* ---- process -------------------------------------------------------------- */

static int parse_user(struct ctx *c, const char *field, json_t *v, struct oci_process *p)
{
    struct where w;
    const char *key;
    json_t *e;
    int r = get_object(c, field, v);

    json_object_foreach(v, key, e)
    {
        if (r < 0)
            break;
        if (streq(key, "uid")) {
            r = get_u32(c, at(&w, field, "uid"), e, &p->uid);
        } else if (streq(key, "gid")) {
            r = get_u32(c, at(&w, field, "gid"), e, &p->gid);
        } else if (streq(key, "umask")) {
            r = get_u32(c, at(&w, field, "umask"), e, &p->umask);
            if (r == 0 && p->umask > 0777)
                r = bad(c, ERANGE, w.s, "%u is not a file mode mask (0 to 0777)", p->umask);
            p->has_umask = r == 0;
        } else if (streq(key, "additionalGids")) {
            size_t i;
            json_t *g;
            r = get_array(c, at(&w, field, "additionalGids"), e, OCI_GROUPS_MAX);
            json_array_foreach(e, i, g)
            {
                struct where w2;
                if (r < 0)
                    break;
                r = get_u32(c, at(&w2, w.s, "[%zu]", i), g, &p->groups[i]);
                p->ngroups = i + 1;
            }
        }
        /* username: Windows only. */
    }
    return r;
}

static int parse_caps(struct ctx *c, const char *field, json_t *v, struct oci_process *p)
{
    static const char *const sets[OCI_CAP__COUNT] = { "bounding", "effective", "inheritable",
                                                      "permitted", "ambient" };
    int r = get_object(c, field, v);

    for (int s = 0; r == 0 && s < OCI_CAP__COUNT; s++) {
        struct where w;
        json_t *list = json_object_get(v, sets[s]), *e;
        size_t i;

        if (!list)
            continue;
        r = get_array(c, at(&w, field, "%s", sets[s]), list, 128);
        json_array_foreach(list, i, e)
        {
            struct where w2;
            char *name = NULL;
            size_t k;
            if (r < 0)
                break;
            r = get_str(c, at(&w2, w.s, "[%zu]", i), e, 64, &name);
            if (r < 0)
                break;
            for (k = 0; k < ARRAY_SIZE(cap_names); k++)
                if (streq(name, cap_names[k]))
                    break;
            if (k < ARRAY_SIZE(cap_names)) {
                p->caps[s] |= 1ULL << k;
                free(name);
            } else if (!p->unknown_cap) {
                p->unknown_cap = name;
                p->unknown_cap_set = s;
            } else {
                free(name);
            }
        }
    }
    return r;
}

static int parse_rlimits(struct ctx *c, const char *field, json_t *v, struct oci_process *p)
{
    size_t i;
    json_t *e;
    int r = get_array(c, field, v, OCI_RLIMITS_MAX);

    json_array_foreach(v, i, e)
    {
        struct where w;
        struct oci_rlimit *rl = &p->rlimits[i];
        char *type = NULL;
        long long n = 0;
        size_t k;

        if (r < 0)
            break;
        r = get_object(c, at(&w, field, "[%zu]", i), e);
        if (r == 0)
            r = get_str(c, at(&w, field, "[%zu].type", i), json_object_get(e, "type"), 32, &type);
        if (r < 0) {
            free(type);
            break;
        }
        for (k = 0; k < ARRAY_SIZE(rlimit_names); k++)
            if (rlimit_names[k] && streq(type, rlimit_names[k]))
                break;
        if (k == ARRAY_SIZE(rlimit_names))
            r = bad(c, EINVAL, w.s, "unknown resource '%s'", type);
        free(type);
        if (r < 0)
            break;
        for (size_t j = 0; j < i; j++)
            if (p->rlimits[j].resource == (int)k)
                return bad(c, EINVAL, w.s, "%s given twice", rlimit_names[k]);
        rl->resource = (int)k;
        /* Limits are uint64 in the specification; jansson reads integers as
         * signed 64-bit, which covers every limit but "unlimited" written as
         * 2^64-1; -1 is taken to mean unlimited too. */
        r = get_int(c, at(&w, field, "[%zu].soft", i), json_object_get(e, "soft"), -1, LLONG_MAX,
                    &n);
        rl->soft = n < 0 ? RLIM_INFINITY : (uint64_t)n;
        if (r == 0)
            r = get_int(c, at(&w, field, "[%zu].hard", i), json_object_get(e, "hard"), -1,
                        LLONG_MAX, &n);
        rl->hard = n < 0 ? RLIM_INFINITY : (uint64_t)n;
        if (r == 0 && rl->soft > rl->hard)
            r = bad(c, EINVAL, at(&w, field, "[%zu]", i), "soft limit above the hard limit");
        p->nrlimits = i + 1;
    }
    return r;
}

static int parse_env(struct ctx *c, const char *field, json_t *v, struct strv *env)
{
    int r = get_strv(c, field, v, OCI_ARGS_MAX, STR_MAX, env);

    for (size_t i = 0; r == 0 && i < env->n; i++) {
        const char *eq = strchr(env->v[i], '=');
        struct where w;
        if (!eq || eq == env->v[i] || (size_t)(eq - env->v[i]) > SBVM_ENV_KEY_MAX)
            r = bad(c, EINVAL, at(&w, field, "[%zu]", i), "not KEY=VALUE");
    }
    return r;
}

static int parse_process_obj(struct ctx *c, json_t *v, struct oci_process *p)
{
    const char *field = "process";
    const char *key;
    json_t *e;
    int r = get_object(c, field, v);

    json_object_foreach(v, key, e)
    {
        struct where w;
        if (r < 0)
            break;
        if (streq(key, "terminal")) {
            r = get_bool(c, "process.terminal", e, &p->terminal);
        } else if (streq(key, "consoleSize")) {
            uint32_t h = 0, wd = 0;
            r = get_object(c, "process.consoleSize", e);
            if (r == 0)
                r = get_u32(c, "process.consoleSize.height", json_object_get(e, "height"), &h);
            if (r == 0)
                r = get_u32(c, "process.consoleSize.width", json_object_get(e, "width"), &wd);
            if (r == 0 && (h > UINT16_MAX || wd > UINT16_MAX))
                r = bad(c, ERANGE, "process.consoleSize", "larger than a terminal can be");
            p->rows = (uint16_t)h;
            p->cols = (uint16_t)wd;
        } else if (streq(key, "user")) {
            r = parse_user(c, "process.user", e, p);
        } else if (streq(key, "args")) {
            r = get_strv(c, "process.args", e, OCI_ARGS_MAX, STR_MAX, &p->args);
        } else if (streq(key, "env")) {
            r = parse_env(c, "process.env", e, &p->env);
        } else if (streq(key, "cwd")) {
            r = get_path(c, "process.cwd", e, &p->cwd);
        } else if (streq(key, "capabilities")) {
            r = parse_caps(c, "process.capabilities", e, p);
        } else if (streq(key, "rlimits")) {
            r = parse_rlimits(c, "process.rlimits", e, p);
        } else if (streq(key, "noNewPrivileges")) {
            r = get_bool(c, "process.noNewPrivileges", e, &p->no_new_privileges);
        } else if (streq(key, "oomScoreAdj")) {
            long long n = 0;
            r = get_int(c, "process.oomScoreAdj", e, -1000, 1000, &n);
            p->oom_score_adj = (int)n;
            p->has_oom_score_adj = r == 0;
        } else if (streq(key, "apparmorProfile")) {
            r = get_str(c, "process.apparmorProfile", e, 4096, &p->apparmor_profile);
        } else if (streq(key, "selinuxLabel")) {
            r = get_str(c, "process.selinuxLabel", e, 4096, &p->selinux_label);
        } else if (streq(key, "ioPriority")) {
            p->has_io_priority = true;
        } else if (streq(key, "scheduler")) {
            p->has_scheduler = true;
        } else if (streq(key, "execCPUAffinity")) {
            p->has_exec_cpu_affinity = true;
        } else if (streq(key, "commandLine")) {
            r = bad(c, EINVAL, at(&w, field, "%s", key), "Windows only");
        }
    }
    if (r == 0 && !p->cwd)
        r = bad(c, EINVAL, "process.cwd", "missing (the specification requires it)");
    return r;
}

void oci_process_release(struct oci_process *p)
{
    strv_release(&p->args);
    strv_release(&p->env);
    free(p->cwd);
    free(p->unknown_cap);
    free(p->apparmor_profile);
    free(p->selinux_label);
    memset(p, 0, sizeof(*p));
}

/* ---- mounts, linux -------------------------------------------------------- */

static int parse_mounts(struct ctx *c, json_t *v, struct oci_spec *s)
{
    size_t i;
    json_t *e;
    int r = get_array(c, "mounts", v, OCI_MOUNTS_MAX);

    if (r < 0)
        return r;
    s->mounts = calloc(json_array_size(v) ? json_array_size(v) : 1, sizeof(*s->mounts));
    if (!s->mounts)
        return oom(c);
    json_array_foreach(v, i, e)
    {
        struct oci_mount *m = &s->mounts[i];
        struct where w;
        json_t *o;

        s->nmounts = i + 1;
        r = get_object(c, at(&w, "mounts", "[%zu]", i), e);
        if (r == 0)
            r = get_path(c, at(&w, "mounts", "[%zu].destination", i),
                         json_object_get(e, "destination"), &m->destination);
        if (r == 0 && (o = json_object_get(e, "type")))
            r = get_str(c, at(&w, "mounts", "[%zu].type", i), o, 64, &m->type);
        if (r == 0 && (o = json_object_get(e, "source")))
            r = get_str(c, at(&w, "mounts", "[%zu].source", i), o, PATH_MAX - 1, &m->source);
        if (r == 0 && (o = json_object_get(e, "options")))
            r = get_strv(c, at(&w, "mounts", "[%zu].options", i), o, 64, 1024, &m->options);
        if (r == 0 && !m->type && !(m->type = strdup("")))
            r = oom(c);
        if (r == 0 && !m->source && !(m->source = strdup("")))
            r = oom(c);
        if (r < 0)
            return r;
    }
    return 0;
}

static int parse_idmaps(struct ctx *c, const char *field, json_t *v, struct oci_idmap *maps,
                        size_t *n)
{
    size_t i;
    json_t *e;
    int r = get_array(c, field, v, OCI_IDMAPS_MAX);

    json_array_foreach(v, i, e)
    {
        struct where w;
        if (r < 0)
            break;
        r = get_object(c, at(&w, field, "[%zu]", i), e);
        if (r == 0)
            r = get_u32(c, at(&w, field, "[%zu].containerID", i), json_object_get(e, "containerID"),
                        &maps[i].container_id);
        if (r == 0)
            r = get_u32(c, at(&w, field, "[%zu].hostID", i), json_object_get(e, "hostID"),
                        &maps[i].host_id);
        if (r == 0)
            r = get_u32(c, at(&w, field, "[%zu].size", i), json_object_get(e, "size"),
                        &maps[i].size);
        if (r == 0 && (maps[i].size == 0 || maps[i].container_id > UINT32_MAX - maps[i].size ||
                       maps[i].host_id > UINT32_MAX - maps[i].size))
            r = bad(c, ERANGE, at(&w, field, "[%zu]", i), "an empty or overflowing range");
        *n = i + 1;
    }
    return r;
}

static int parse_namespaces(struct ctx *c, json_t *v, struct oci_spec *s)
{
    size_t i;
    json_t *e;
    int r = get_array(c, "linux.namespaces", v, 16);

    json_array_foreach(v, i, e)
    {
        struct where w;
        char *type = NULL;
        int k;

        if (r < 0)
            break;
        r = get_object(c, at(&w, "linux.namespaces", "[%zu]", i), e);
        if (r == 0)
            r = get_str(c, at(&w, "linux.namespaces", "[%zu].type", i), json_object_get(e, "type"),
                        32, &type);
        if (r < 0) {
            free(type);
            break;
        }
        for (k = 0; k < OCI_NS__COUNT; k++)
            if (streq(type, ns_names[k]))
                break;
        if (k == OCI_NS__COUNT)
            r = bad(c, EINVAL, w.s, "unknown namespace type '%s'", type);
        else if (s->ns[k])
            r = bad(c, EINVAL, w.s, "namespace '%s' listed twice", type);
        free(type);
        if (r < 0)
            break;
        s->ns[k] = true;
        if (json_object_get(e, "path"))
            r = get_path(c, at(&w, "linux.namespaces", "[%zu].path", i), json_object_get(e, "path"),
                         &s->ns_path[k]);
    }
    return r;
}

/* A CPU or memory-node list as the kernel's cpuset files take it: N or N-M
 * (N <= M), separated by commas, numbers below OCI_CPUSET_MAX; nothing
 * else (no spaces, signs, empty parts). "" is "not set". */
static int check_cpuset(struct ctx *c, const char *field, const char *list)
{
    const char *p = list;

    if (strlen(list) > OCI_CPUSET_BYTES)
        return bad(c, EINVAL, field, "longer than %u bytes", OCI_CPUSET_BYTES);
    while (*p) {
        unsigned long lo = 0, hi;
        size_t n = 0;
        for (; p[n] >= '0' && p[n] <= '9' && n < 5; n++)
            lo = lo * 10 + (unsigned long)(p[n] - '0');
        if (!n || lo >= OCI_CPUSET_MAX)
            return bad(c, EINVAL, field, "at byte %zu: expected a list of N or N-M below %u",
                       (size_t)(p - list), OCI_CPUSET_MAX);
        p += n;
        hi = lo;
        if (*p == '-') {
            p++;
            hi = 0;
            for (n = 0; p[n] >= '0' && p[n] <= '9' && n < 5; n++)
                hi = hi * 10 + (unsigned long)(p[n] - '0');
            if (!n || hi >= OCI_CPUSET_MAX || hi < lo)
                return bad(c, EINVAL, field,
                           "at byte %zu: a range must be N-M with N <= M below %u",
                           (size_t)(p - list), OCI_CPUSET_MAX);
            p += n;
        }
        if (*p == ',' && p[1])
            p++;
        else if (*p)
            return bad(c, EINVAL, field, "at byte %zu: expected a list of N or N-M below %u",
                       (size_t)(p - list), OCI_CPUSET_MAX);
    }
    return 0;
}

static int parse_cpu(struct ctx *c, json_t *o, struct oci_spec *s)
{
    json_t *x;
    long long n = 0;
    int r = get_object(c, "linux.resources.cpu", o);

    /* 0 is "not set" where engines write it so (Docker's shares 0, a
     * period 0 beside no quota). */
    if (r == 0 && (x = json_object_get(o, "quota"))) {
        r = get_int(c, "linux.resources.cpu.quota", x, -1, OCI_CPU_QUOTA_MAX, &n);
        if (r == 0 && n > 0 && n < OCI_CPU_QUOTA_MIN)
            r = bad(c, ERANGE, "linux.resources.cpu.quota",
                    "%lld us is below the kernel's least, %lld us (-1: unlimited)", n,
                    OCI_CPU_QUOTA_MIN);
        s->cpu_quota = n;
    }
    if (r == 0 && (x = json_object_get(o, "period"))) {
        r = get_int(c, "linux.resources.cpu.period", x, 0, LLONG_MAX, &n);
        if (r == 0 && n && (n < OCI_CPU_PERIOD_MIN || n > OCI_CPU_PERIOD_MAX))
            r = bad(c, ERANGE, "linux.resources.cpu.period", "%lld us is out of range (%d to %d)",
                    n, OCI_CPU_PERIOD_MIN, OCI_CPU_PERIOD_MAX);
        s->cpu_period = (uint64_t)n;
    }
    if (r == 0 && (x = json_object_get(o, "shares"))) {
        r = get_int(c, "linux.resources.cpu.shares", x, 0, LLONG_MAX, &n);
        if (r == 0 && n && (n < OCI_CPU_SHARES_MIN || n > OCI_CPU_SHARES_MAX))
            r = bad(c, ERANGE, "linux.resources.cpu.shares", "%lld is out of range (%d to %d)", n,
                    OCI_CPU_SHARES_MIN, OCI_CPU_SHARES_MAX);
        s->cpu_shares = (uint64_t)n;
    }
    if (r == 0 && (x = json_object_get(o, "cpus")))
        r = get_str(c, "linux.resources.cpu.cpus", x, OCI_CPUSET_BYTES, &s->cpu_cpus);
    if (r == 0 && s->cpu_cpus)
        r = check_cpuset(c, "linux.resources.cpu.cpus", s->cpu_cpus);
    if (r == 0 && (x = json_object_get(o, "mems")))
        r = get_str(c, "linux.resources.cpu.mems", x, OCI_CPUSET_BYTES, &s->cpu_mems);
    if (r == 0 && s->cpu_mems)
        r = check_cpuset(c, "linux.resources.cpu.mems", s->cpu_mems);
    if (r == 0 && s->cpu_cpus && !*s->cpu_cpus)
        s->cpu_cpus = (free(s->cpu_cpus), NULL);
    if (r == 0 && s->cpu_mems && !*s->cpu_mems)
        s->cpu_mems = (free(s->cpu_mems), NULL);
    if (r == 0 && (json_object_get(o, "realtimeRuntime") || json_object_get(o, "realtimePeriod") ||
                   json_object_get(o, "idle") || json_object_get(o, "burst")))
        r = note(c, s,
                 "linux.resources.cpu: realtimeRuntime, realtimePeriod, idle and burst are "
                 "not applied");
    return r;
}

/* A cgroups path part: not empty, ".", "..", nor a control character
 * (the janitor's notes are lines). */
static bool cgroup_part_ok(const char *p, size_t n)
{
    if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return false;
    return true;
}

/*
 * linux.cgroupsPath: a path (absolute: from the hierarchy's root; relative:
 * beside the runtime's own cgroup) whose parts are checked, or the systemd
 * form "SLICE:PREFIX:NAME" that engines write with a systemd cgroup manager.
 * sandboxvm talks to no systemd: the form is mapped to the path systemd
 * would give the unit (runc's systemd driver does the same expansion):
 * "a-b.slice" is /a.slice/a-b.slice, the unit PREFIX-NAME.scope, so that
 * the container's group is where the engine looks for it.
 */
static int check_cgroups_path(struct ctx *c, struct oci_spec *s)
{
    static const char field[] = "linux.cgroupsPath";
    const char *p = s->cgroups_path, *colon = strchr(p, ':');
    struct strbuf sb = STRBUF_INIT;
    size_t depth = 0;

    if (!*p) {
        s->cgroups_path = (free(s->cgroups_path), NULL);
        return 0;
    }
    if (strlen(p) > OCI_CGROUPS_PATH_MAX)
        return bad(c, EINVAL, field, "longer than %u bytes", OCI_CGROUPS_PATH_MAX);
    if (colon) {
        const char *slice = p, *prefix = colon + 1, *name = strchr(prefix, ':');
        size_t sn = (size_t)(colon - p), pn = name ? (size_t)(name - prefix) : 0;
        if (!name || strchr(name + 1, ':') || strchr(p, '/'))
            return bad(c, EINVAL, field,
                       "expected a path, or SLICE:PREFIX:NAME (the systemd form)");
        name++;
        if (sn < 7 || strncmp(slice + sn - 6, ".slice", 6) != 0 || !*name ||
            !cgroup_part_ok(slice, sn) || (pn && !cgroup_part_ok(prefix, pn)) ||
            !cgroup_part_ok(name, strlen(name)))
            return bad(c, EINVAL, field,
                       "in the systemd form SLICE:PREFIX:NAME, SLICE ends in .slice");
        /* The slice's ancestors: each '-' a level ("-.slice" is the root). */
        if (!(sn == 7 && slice[0] == '-')) {
            if (slice[0] == '-' || memmem(slice, sn, "--", 2) || slice[sn - 7] == '-')
                return bad(c, EINVAL, field, "not a slice name");
            for (size_t i = 0; i < sn - 6; i++)
                if (slice[i] == '-') {
                    strbuf_addch(&sb, '/');
                    strbuf_add(&sb, slice, i);
                    strbuf_addstr(&sb, ".slice");
                    depth++;
                }
            strbuf_addch(&sb, '/');
            strbuf_add(&sb, slice, sn);
            depth++;
        }
        strbuf_addch(&sb, '/');
        if (pn) {
            strbuf_add(&sb, prefix, pn);
            strbuf_addch(&sb, '-');
        }
        strbuf_addstr(&sb, name);
        strbuf_addstr(&sb, ".scope");
        if (strbuf_failed(&sb))
            return oom(c);
        if (++depth > OCI_CGROUPS_DEPTH_MAX || sb.len > OCI_CGROUPS_PATH_MAX) {
            strbuf_release(&sb);
            return bad(c, EINVAL, field, "deeper or longer than a cgroup path may be");
        }
        free(s->cgroups_path);
        s->cgroups_path = strbuf_detach(&sb, NULL);
        s->cgroups_path_systemd = true;
        return 0;
    }
    for (const char *q = p[0] == '/' ? p + 1 : p; *q;) {
        size_t n = strcspn(q, "/");
        if (!cgroup_part_ok(q, n))
            return bad(c, EINVAL, field, "a part is empty, '.', '..' or holds a control character");
        if (++depth > OCI_CGROUPS_DEPTH_MAX)
            return bad(c, EINVAL, field, "more than %u parts", OCI_CGROUPS_DEPTH_MAX);
        q += n;
        if (*q == '/' && !q[1])
            return bad(c, EINVAL, field, "a part is empty (a trailing '/')");
        q += *q == '/';
    }
    if (!depth)
        return bad(c, EINVAL, field, "the hierarchy's root is not a container's group");
    return 0;
}

static int parse_resources(struct ctx *c, json_t *v, struct oci_spec *s)
{
    json_t *o, *x;
    long long n = 0;
    int r = get_object(c, "linux.resources", v);

    if (r == 0 && (o = json_object_get(v, "memory"))) {
        r = get_object(c, "linux.resources.memory", o);
        if (r == 0 && (x = json_object_get(o, "limit"))) {
            r = get_int(c, "linux.resources.memory.limit", x, -1, LLONG_MAX, &n);
            s->has_memory_limit = r == 0 && n > 0;
            s->memory_limit = n;
        }
        if (r == 0 && (json_object_get(o, "reservation") || json_object_get(o, "swap") ||
                       json_object_get(o, "swappiness") || json_object_get(o, "kernel")))
            r = note(c, s, "linux.resources.memory: only the limit is applied");
    }
    if (r == 0 && (o = json_object_get(v, "pids"))) {
        r = get_object(c, "linux.resources.pids", o);
        if (r == 0 && (x = json_object_get(o, "limit"))) {
            r = get_int(c, "linux.resources.pids.limit", x, -1, LLONG_MAX, &n);
            s->has_pids_limit = r == 0 && n > 0;
            s->pids_limit = n;
        }
    }
    if (r == 0 && (o = json_object_get(v, "cpu")))
        r = parse_cpu(c, o, s);
    if (r == 0 && (json_object_get(v, "blockIO") || json_object_get(v, "hugepageLimits") ||
                   json_object_get(v, "network") || json_object_get(v, "rdma") ||
                   json_object_get(v, "unified")))
        r = note(c, s,
                 "linux.resources: block I/O, huge pages, network classes, RDMA and unified "
                 "cgroup settings are not applied");
    /* linux.resources.devices: device cgroup rules. No device but the
     * sandbox's own few nodes is ever visible: there is nothing to allow. */
    return r;
}

/* An object of strings (linux.sysctl, annotations): at most max entries,
 * keys of key_max bytes, values of val_max; kept in order in keys/values. */
static int parse_str_map(struct ctx *c, const char *field, json_t *v, size_t max, size_t key_max,
                         size_t val_max, struct strv *keys, struct strv *values)
{
    const char *key;
    json_t *e;
    int r = get_object(c, field, v);

    if (r == 0 && json_object_size(v) > max)
        return bad(c, E2BIG, field, "more than %zu entries", max);
    json_object_foreach(v, key, e)
    {
        struct where w;
        char *val = NULL;
        if (r < 0)
            break;
        if (strlen(key) > key_max)
            return bad(c, EINVAL, field, "a key longer than %zu bytes", key_max);
        r = get_str(c, at(&w, field, "%s", key), e, val_max, &val);
        if (r == 0 && (strv_push(keys, key) < 0 || strv_push_owned(values, val) < 0))
            return oom(c);
        if (r < 0)
            free(val);
    }
    return r;
}

static int parse_sysctl(struct ctx *c, json_t *v, struct oci_spec *s)
{
    return parse_str_map(c, "linux.sysctl", v, OCI_SYSCTL_MAX, 128, 1024, &s->sysctl_keys,
                         &s->sysctl_values);
}

static int parse_action(struct ctx *c, const char *field, json_t *v, enum oci_seccomp_action *out)
{
    char *name = NULL;
    int r = get_str(c, field, v, 64, &name);

    if (r < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(scmp_actions); i++)
        if (streq(name, scmp_actions[i].name)) {
            *out = scmp_actions[i].action;
            free(name);
            return 0;
        }
    r = bad(c, EINVAL, field, "unknown action '%s'", name);
    free(name);
    return r;
}

static bool syscall_name_ok(const char *n)
{
    size_t len = strlen(n);

    if (len == 0 || len > 64)
        return false;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '_'))
            return false;
    return true;
}

static int parse_seccomp_rule(struct ctx *c, const char *field, json_t *v,
                              struct oci_seccomp_rule *rule)
{
    struct where w;
    json_t *o;
    size_t i;
    int r = get_object(c, field, v);

    if (r == 0 && (o = json_object_get(v, "names")))
        r = get_strv(c, at(&w, field, "names"), o, 1024, 64, &rule->names);
    else if (r == 0 && (o = json_object_get(v, "name"))) {
        char *n = NULL;
        r = get_str(c, at(&w, field, "name"), o, 64, &n);
        if (r == 0 && strv_push_owned(&rule->names, n) < 0)
            r = oom(c);
    }
    for (i = 0; r == 0 && i < rule->names.n; i++)
        if (!syscall_name_ok(rule->names.v[i]))
            r = bad(c, EINVAL, at(&w, field, "names[%zu]", i), "not a system call name");
    if (r == 0)
        r = parse_action(c, at(&w, field, "action"), json_object_get(v, "action"), &rule->action);
    if (r == 0 && (o = json_object_get(v, "errnoRet"))) {
        r = get_u32(c, at(&w, field, "errnoRet"), o, &rule->errno_ret);
        if (r == 0 && rule->errno_ret > 4095)
            r = bad(c, ERANGE, w.s, "%u is not an errno", rule->errno_ret);
        rule->has_errno = r == 0;
    }
    if (r == 0 && (o = json_object_get(v, "args"))) {
        json_t *a;
        r = get_array(c, at(&w, field, "args"), o, 6);
        json_array_foreach(o, i, a)
        {
            struct oci_seccomp_arg *arg = &rule->args[i];
            struct where w2;
            char *op = NULL;
            long long n = 0;
            size_t k;
            if (r < 0)
                break;
            r = get_object(c, at(&w2, w.s, "[%zu]", i), a);
            if (r == 0)
                r = get_int(c, at(&w2, w.s, "[%zu].index", i), json_object_get(a, "index"), 0, 5,
                            &n);
            arg->index = (unsigned)n;
            if (r == 0)
                r = get_int(c, at(&w2, w.s, "[%zu].value", i), json_object_get(a, "value"), 0,
                            LLONG_MAX, &n);
            arg->value = (uint64_t)n;
            if (r == 0 && json_object_get(a, "valueTwo"))
                r = get_int(c, at(&w2, w.s, "[%zu].valueTwo", i), json_object_get(a, "valueTwo"), 0,
                            LLONG_MAX, &n);
            arg->value_two = json_object_get(a, "valueTwo") ? (uint64_t)n : 0;
            if (r == 0)
                r = get_str(c, at(&w2, w.s, "[%zu].op", i), json_object_get(a, "op"), 32, &op);
            if (r == 0) {
                for (k = 0; k < ARRAY_SIZE(scmp_ops); k++)
                    if (streq(op, scmp_ops[k]))
                        break;
                if (k == ARRAY_SIZE(scmp_ops))
                    r = bad(c, EINVAL, w2.s, "unknown comparison '%s'", op);
                arg->op = (enum oci_seccomp_op)k;
            }
            free(op);
            rule->nargs = i + 1;
        }
    }
    return r;
}

static int parse_seccomp(struct ctx *c, json_t *v, struct oci_spec *s)
{
    struct oci_seccomp *sc;
    json_t *o, *e;
    size_t i;
    int r = get_object(c, "linux.seccomp", v);

    if (r < 0)
        return r;
    sc = s->seccomp = calloc(1, sizeof(*sc));
    if (!sc)
        return oom(c);
    r = parse_action(c, "linux.seccomp.defaultAction", json_object_get(v, "defaultAction"),
                     &sc->default_action);
    if (r == 0 && (o = json_object_get(v, "defaultErrnoRet"))) {
        r = get_u32(c, "linux.seccomp.defaultErrnoRet", o, &sc->default_errno);
        if (r == 0 && sc->default_errno > 4095)
            r = bad(c, ERANGE, "linux.seccomp.defaultErrnoRet", "%u is not an errno",
                    sc->default_errno);
        sc->has_default_errno = r == 0;
    }
    if (r == 0 && (o = json_object_get(v, "architectures"))) {
        r = get_array(c, "linux.seccomp.architectures", o, 32);
        json_array_foreach(o, i, e)
        {
            struct where w;
            char *a = NULL;
            if (r < 0)
                break;
            r = get_str(c, at(&w, "linux.seccomp.architectures", "[%zu]", i), e, 64, &a);
            if (r == 0)
                sc->archs |= streq(a, "SCMP_ARCH_X86_64") ? OCI_ARCH_X86_64
                             : streq(a, "SCMP_ARCH_X86")  ? OCI_ARCH_X86
                             : streq(a, "SCMP_ARCH_X32")  ? OCI_ARCH_X32
                                                          : OCI_ARCH_OTHER;
            free(a);
        }
    }
    if (r == 0 && (o = json_object_get(v, "flags")))
        r = get_strv(c, "linux.seccomp.flags", o, 16, 64, &sc->flags);
    if (r == 0 && json_object_get(v, "listenerPath"))
        sc->has_listener = true;
    if (r == 0 && (o = json_object_get(v, "syscalls"))) {
        r = get_array(c, "linux.seccomp.syscalls", o, OCI_SECCOMP_RULES_MAX);
        if (r == 0) {
            sc->rules = calloc(json_array_size(o) ? json_array_size(o) : 1, sizeof(*sc->rules));
            if (!sc->rules)
                return oom(c);
        }
        json_array_foreach(o, i, e)
        {
            struct where w;
            if (r < 0)
                break;
            sc->nrules = i + 1;
            r = parse_seccomp_rule(c, at(&w, "linux.seccomp.syscalls", "[%zu]", i), e,
                                   &sc->rules[i]);
        }
    }
    return r;
}

static int parse_paths(struct ctx *c, const char *field, json_t *v, struct strv *out)
{
    int r = get_strv(c, field, v, OCI_PATHS_MAX, PATH_MAX - 1, out);

    for (size_t i = 0; r == 0 && i < out->n; i++)
        if (!path_clean(out->v[i])) {
            struct where w;
            r = bad(c, EINVAL, at(&w, field, "[%zu]", i), "'%s' is not a clean absolute path",
                    out->v[i]);
        }
    return r;
}

static int parse_linux(struct ctx *c, json_t *v, struct oci_spec *s)
{
    const char *key;
    json_t *e;
    int r = get_object(c, "linux", v);

    json_object_foreach(v, key, e)
    {
        if (r < 0)
            break;
        if (streq(key, "namespaces"))
            r = parse_namespaces(c, e, s);
        else if (streq(key, "uidMappings"))
            r = parse_idmaps(c, "linux.uidMappings", e, s->uid_maps, &s->nuid_maps);
        else if (streq(key, "gidMappings"))
            r = parse_idmaps(c, "linux.gidMappings", e, s->gid_maps, &s->ngid_maps);
        else if (streq(key, "cgroupsPath")) {
            r = get_str(c, "linux.cgroupsPath", e, OCI_CGROUPS_PATH_MAX, &s->cgroups_path);
            if (r == 0)
                r = check_cgroups_path(c, s);
        } else if (streq(key, "resources"))
            r = parse_resources(c, e, s);
        else if (streq(key, "sysctl"))
            r = parse_sysctl(c, e, s);
        else if (streq(key, "seccomp"))
            r = parse_seccomp(c, e, s);
        else if (streq(key, "maskedPaths"))
            r = parse_paths(c, "linux.maskedPaths", e, &s->masked_paths);
        else if (streq(key, "readonlyPaths"))
            r = parse_paths(c, "linux.readonlyPaths", e, &s->readonly_paths);
        else if (streq(key, "devices")) {
            r = get_array(c, "linux.devices", e, 1024);
            s->ndevices = r == 0 ? json_array_size(e) : 0;
        } else if (streq(key, "rootfsPropagation"))
            r = get_str(c, "linux.rootfsPropagation", e, 32, &s->rootfs_propagation);
        else if (streq(key, "personality")) {
            json_t *d = json_object_get(e, "domain");
            s->has_personality_other = !json_is_string(d) || !streq(json_string_value(d), "LINUX");
        } else if (streq(key, "intelRdt"))
            s->has_intel_rdt = true;
        else if (streq(key, "timeOffsets"))
            s->has_time_offsets = json_is_object(e) && json_object_size(e) > 0;
        /* mountLabel: SELinux, not used here; netDevices, memoryPolicy and
         * anything newer: refused by oci_spec_check when it matters. */
        else if (streq(key, "netDevices") && json_is_object(e) && json_object_size(e))
            r = bad(c, EINVAL, "linux.netDevices",
                    "moving network devices into a container is not supported");
    }
    return r;
}

static int parse_annotations(struct ctx *c, json_t *v, struct oci_spec *s)
{
    return parse_str_map(c, "annotations", v, OCI_ANNOTATIONS_MAX, 1024, 64 * 1024,
                         &s->annotation_keys, &s->annotation_values);
}

static int parse_hooks(struct ctx *c, json_t *v, struct oci_spec *s)
{
    const char *key;
    json_t *e;
    int r = get_object(c, "hooks", v);

    json_object_foreach(v, key, e)
    {
        if (json_is_array(e) && json_array_size(e))
            s->has_hooks = true;
    }
    return r;
}

void oci_spec_init(struct oci_spec *s)
{
    memset(s, 0, sizeof(*s));
}

void oci_spec_release(struct oci_spec *s)
{
    free(s->oci_version);
    free(s->root_path);
    oci_process_release(&s->process);
    free(s->hostname);
    free(s->domainname);
    for (size_t i = 0; i < s->nmounts; i++) {
        free(s->mounts[i].destination);
        free(s->mounts[i].type);
        free(s->mounts[i].source);
        strv_release(&s->mounts[i].options);
    }
    free(s->mounts);
    for (int i = 0; i < OCI_NS__COUNT; i++)
        free(s->ns_path[i]);
    free(s->cgroups_path);
    free(s->cpu_cpus);
    free(s->cpu_mems);
    strv_release(&s->sysctl_keys);
    strv_release(&s->sysctl_values);
    if (s->seccomp) {
        for (size_t i = 0; i < s->seccomp->nrules; i++)
            strv_release(&s->seccomp->rules[i].names);
        free(s->seccomp->rules);
        strv_release(&s->seccomp->flags);
        free(s->seccomp);
    }
    strv_release(&s->masked_paths);
    strv_release(&s->readonly_paths);
    strv_release(&s->annotation_keys);
    strv_release(&s->annotation_values);
    free(s->rootfs_propagation);
    strv_release(&s->notes);
    memset(s, 0, sizeof(*s));
}

static json_t *load(struct ctx *c, const char *json, size_t len)
{
    json_error_t je;
    json_t *root;

    if (len > OCI_SPEC_MAX_BYTES) {
        error_set(c->err, EFBIG, "%s: larger than %u bytes", c->file, OCI_SPEC_MAX_BYTES);
        return NULL;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        error_set(c->err, EINVAL, "%s: line %d, column %d: %s", c->file, je.line, je.column,
                  je.text);
    else if (!json_is_object(root)) {
        error_set(c->err, EINVAL, "%s: expected a JSON object", c->file);
        json_decref(root);
        root = NULL;
    }
    return root;
}

/* What is read and knowingly not applied, for the log: none of it makes
 * the container less contained than the spec asks. */
static int add_notes(struct ctx *c, struct oci_spec *s)
{
    const struct oci_process *p = &s->process;
    int r = 0;

    if (p->apparmor_profile || p->selinux_label)
        r = note(c, s,
                 "process.apparmorProfile, selinuxLabel: no LSM profile is applied "
                 "(sandboxvm's own filter and namespaces contain the container)");
    if (r == 0 && p->has_oom_score_adj)
        r = note(c, s, "process.oomScoreAdj: containers always have 1000 (killed first)");
    if (r == 0 && (p->has_io_priority || p->has_scheduler || p->has_exec_cpu_affinity))
        r = note(c, s, "process.ioPriority, scheduler, execCPUAffinity: not applied");
    if (r == 0 && s->has_intel_rdt)
        r = note(c, s, "linux.intelRdt: not applied");
    if (r == 0 && s->domainname)
        r = note(c, s, "domainname: not applied");
    if (r == 0 && s->ns[OCI_NS_TIME])
        r = note(c, s, "linux.namespaces: time: not created (the host's clocks)");
    for (int k = OCI_NS_PID; r == 0 && k <= OCI_NS_UTS; k++)
        if (k != OCI_NS_NETWORK && !s->ns[k])
            r = note(c, s, "linux.namespaces: %s: the container gets its own anyway",
                     oci_ns_name(k));
    return r;
}

int oci_spec_parse(const char *json, size_t len, struct oci_spec *s, sbvm_error **err)
{
    struct ctx c = { err, "config.json" };
    json_t *root, *v;
    int r = 0;

    oci_spec_init(s);
    root = load(&c, json, len);
    if (!root)
        return -EINVAL;
    if (!(v = json_object_get(root, "ociVersion")))
        r = bad(&c, EINVAL, "ociVersion", "missing");
    else
        r = get_str(&c, "ociVersion", v, 64, &s->oci_version);
    if (r == 0 && !(v = json_object_get(root, "root")))
        r = bad(&c, EINVAL, "root", "missing: a container needs a root filesystem");
    if (r == 0)
        r = get_object(&c, "root", v);
    if (r == 0)
        r = get_str(&c, "root.path", json_object_get(v, "path"), PATH_MAX - 1, &s->root_path);
    if (r == 0 && !*s->root_path)
        r = bad(&c, EINVAL, "root.path", "empty");
    if (r == 0 && json_object_get(v, "readonly"))
        r = get_bool(&c, "root.readonly", json_object_get(v, "readonly"), &s->root_readonly);
    if (r == 0 && (v = json_object_get(root, "process"))) {
        s->has_process = true;
        r = parse_process_obj(&c, v, &s->process);
    }
    if (r == 0 && (v = json_object_get(root, "hostname"))) {
        r = get_str(&c, "hostname", v, 64, &s->hostname);
        for (const char *p = s->hostname; r == 0 && p && *p; p++)
            if (*p == '/' || (unsigned char)*p < 0x20)
                r = bad(&c, EINVAL, "hostname", "not a host name");
    }
    if (r == 0 && (v = json_object_get(root, "domainname")))
        r = get_str(&c, "domainname", v, 64, &s->domainname);
    if (r == 0 && (v = json_object_get(root, "mounts")))
        r = parse_mounts(&c, v, s);
    if (r == 0 && (v = json_object_get(root, "hooks")))
        r = parse_hooks(&c, v, s);
    if (r == 0 && (v = json_object_get(root, "linux")))
        r = parse_linux(&c, v, s);
    if (r == 0 && (v = json_object_get(root, "annotations")))
        r = parse_annotations(&c, v, s);
    if (r == 0 && (json_object_get(root, "windows") || json_object_get(root, "solaris") ||
                   json_object_get(root, "vm") || json_object_get(root, "zos")))
        r = bad(&c, EINVAL, "windows/solaris/vm/zos", "another platform's container");
    if (r == 0)
        r = add_notes(&c, s);
    json_decref(root);
    if (r < 0)
        oci_spec_release(s);
    return r;
}

int oci_process_parse(const char *json, size_t len, struct oci_process *p, sbvm_error **err)
{
    struct ctx c = { err, "process.json" };
    json_t *root = load(&c, json, len);
    int r;

    memset(p, 0, sizeof(*p));
    if (!root)
        return -EINVAL;
    r = parse_process_obj(&c, root, p);
    json_decref(root);
    if (r < 0)
        oci_process_release(p);
    return r;
}

const char *oci_spec_annotation(const struct oci_spec *s, const char *key)
{
    long i = strv_find(&s->annotation_keys, key);
    return i < 0 ? NULL : s->annotation_values.v[i];
}
