/* SPDX-License-Identifier: MIT */
/*
 * check.c: a parsed config.json or process.json (spec.c) against
 * sandboxvm's policy: what it refuses by design, each refusal naming the
 * field (spec.h, oci_spec_check and oci_process_check).
 */
#include "oci/spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

static int refuse(sbvm_error **err, int e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(sbvm_error **err, int e, const char *field, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = error_vfield(err, e, "", "config.json", field, fmt, ap);
    va_end(ap);
    return r;
}

int oci_process_check(const struct oci_process *p, const struct oci_spec *container,
                      sbvm_error **err)
{
    static const char *const sets[OCI_CAP__COUNT] = { "bounding", "effective", "inheritable",
                                                      "permitted", "ambient" };

    if (!p->args.n)
        return refuse(err, EINVAL, "process.args", "empty: name a program to run");
    if (p->unknown_cap)
        return refuse(err, EPERM, "process.capabilities",
                      "%s: %s is not a capability sandboxvm knows", sets[p->unknown_cap_set],
                      p->unknown_cap);
    for (int s = 0; s < OCI_CAP__COUNT; s++)
        for (unsigned cap = 0; cap < 64; cap++)
            if ((p->caps[s] >> cap & 1) && !oci_cap_acceptable(cap))
                return refuse(err, EPERM, "process.capabilities",
                              "%s: %s: sandboxvm runs containers without capabilities and "
                              "refuses one that asks for more than the engines' default set "
                              "(privileged containers and added capabilities are refused by "
                              "design)",
                              sets[s], oci_cap_name(cap));
    for (size_t i = 0; i < p->nrlimits; i++)
        if (p->rlimits[i].resource == RLIMIT_CORE && p->rlimits[i].hard > 0)
            return refuse(err, EPERM, "process.rlimits",
                          "RLIMIT_CORE above 0: sandboxvm keeps core dumps off (a dump could "
                          "reach the host's core handler); its crash reports say more");
    if (container) {
        if (p->uid != container->process.uid || p->gid != container->process.gid)
            return refuse(err, EPERM, "process.user",
                          "uid %u gid %u: every process of a container runs as its uid and gid "
                          "(%u, %u): its processes hold no capability to change them",
                          p->uid, p->gid, container->process.uid, container->process.gid);
        if (p->ngroups != container->process.ngroups ||
            memcmp(p->groups, container->process.groups, p->ngroups * sizeof(p->groups[0])))
            return refuse(err, EPERM, "process.user.additionalGids",
                          "every process of a container has its groups");
    }
    return 0;
}

/* Namespaced sysctls only: those that change the container's own network,
 * IPC or message queue namespace, never the host's. */
static bool sysctl_namespaced(const char *k, bool own_net)
{
    static const char *const ipc[] = { "kernel.shmmax",          "kernel.shmall", "kernel.shmmni",
                                       "kernel.shm_rmid_forced", "kernel.msgmax", "kernel.msgmni",
                                       "kernel.msgmnb",          "kernel.sem" };

    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    if (strstr(k, "..") || k[0] == '.' || !*k || k[strlen(k) - 1] == '.')
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(ipc); i++)
        if (streq(k, ipc[i]))
            return true;
    if (str_has_prefix(k, "fs.mqueue."))
        return true;
    return own_net && str_has_prefix(k, "net.");
}

static bool mount_known(const struct oci_mount *m)
{
    static const char *const types[] = { "bind",   "rbind",  "tmpfs",   "proc", "sysfs", "devpts",
                                         "mqueue", "cgroup", "cgroup2", "none", "" };
    for (size_t i = 0; i < ARRAY_SIZE(types); i++)
        if (streq(m->type, types[i]))
            return true;
    return false;
}

int oci_spec_check(const struct oci_spec *s, bool as_root, sbvm_error **err)
{
    const char *priv = oci_spec_annotation(s, "io.podman.annotations.privileged");
    int r;

    if (!str_has_prefix(s->oci_version, "1."))
        return refuse(err, EINVAL, "ociVersion", "'%s': sandboxvm reads runtime-spec 1.x",
                      s->oci_version);
    if (!s->has_process)
        return refuse(err, EINVAL, "process", "missing: a container needs a process to run");
    r = oci_process_check(&s->process, NULL, err);
    if (r < 0)
        return r;
    if (priv && (streq(priv, "TRUE") || streq(priv, "true")))
        return refuse(err, EPERM, "annotations.io.podman.annotations.privileged",
                      "privileged containers are refused by design");
    if (s->has_hooks)
        return refuse(err, EPERM, "hooks",
                      "hooks run host programs with the runtime's privileges; sandboxvm runs "
                      "none");
    if (s->ndevices)
        return refuse(err, EPERM, "linux.devices",
                      "a container sees no device of the host's: only the sandbox's null, zero, "
                      "full, random, urandom and its own terminals");
    if (s->has_personality_other)
        return refuse(err, EINVAL, "linux.personality", "only the LINUX domain is supported");
    if (s->has_time_offsets)
        return refuse(err, EINVAL, "linux.timeOffsets", "time namespaces are not supported");
    for (int k = 0; k < OCI_NS__COUNT; k++) {
        if (!s->ns_path[k] || k == OCI_NS_NETWORK)
            continue;
        return refuse(err, EINVAL, "linux.namespaces",
                      "%s: joining an existing %s namespace is not supported (a container gets "
                      "its own; only a network namespace can be joined)",
                      oci_ns_name(k), oci_ns_name(k));
    }
    if (s->ns[OCI_NS_USER] && (!s->nuid_maps || !s->ngid_maps))
        return refuse(err, EINVAL, "linux.uidMappings",
                      "a user namespace needs uid and gid mappings");
    if (!s->ns[OCI_NS_USER] && (s->nuid_maps || s->ngid_maps))
        return refuse(err, EINVAL, "linux.uidMappings",
                      "mappings given without a user namespace in linux.namespaces");
    if (s->ns[OCI_NS_USER]) {
        bool have0 = false;
        for (size_t i = 0; i < s->nuid_maps; i++)
            have0 |= s->uid_maps[i].container_id == 0;
        if (!have0)
            return refuse(err, EINVAL, "linux.uidMappings",
                          "container uid 0 must be mapped (sandboxvm builds the container's view "
                          "as its root)");
        if (!as_root && (s->nuid_maps != 1 || s->ngid_maps != 1 || s->uid_maps[0].size != 1 ||
                         s->gid_maps[0].size != 1))
            return refuse(err, EPERM, "linux.uidMappings",
                          "without root, only one id can be mapped (the caller's own)");
    } else if (!as_root && (s->process.ngroups > 1 ||
                            (s->process.ngroups == 1 && s->process.groups[0] != s->process.gid))) {
        return refuse(err, EPERM, "process.user.additionalGids",
                      "without root, a container has no group but its own gid");
    }
    for (size_t i = 0; i < s->nmounts; i++) {
        const struct oci_mount *m = &s->mounts[i];
        char field[48];
        snprintf(field, sizeof(field), "mounts[%zu].type", i);
        if (!mount_known(m))
            return refuse(err, EINVAL, field, "'%s' is not a mount type sandboxvm provides",
                          m->type);
        if (streq(m->destination, "/"))
            return refuse(err, EINVAL, field, "a mount over the root");
    }
    if (s->seccomp) {
        const struct oci_seccomp *sc = s->seccomp;
        if (sc->has_listener || sc->default_action == OCI_SCMP_NOTIFY)
            return refuse(err, EINVAL, "linux.seccomp.listenerPath",
                          "seccomp notification agents are not supported");
        if (sc->default_action == OCI_SCMP_TRACE)
            return refuse(err, EINVAL, "linux.seccomp.defaultAction",
                          "SCMP_ACT_TRACE: the container's tracer is sandboxvm's init");
        for (size_t i = 0; i < sc->nrules; i++) {
            char field[64];
            snprintf(field, sizeof(field), "linux.seccomp.syscalls[%zu].action", i);
            if (sc->rules[i].action == OCI_SCMP_NOTIFY)
                return refuse(err, EINVAL, field, "seccomp notification agents are not supported");
            if (sc->rules[i].action == OCI_SCMP_TRACE)
                return refuse(err, EINVAL, field,
                              "SCMP_ACT_TRACE: the container's tracer is sandboxvm's init");
        }
        for (size_t i = 0; i < sc->flags.n; i++)
            if (streq(sc->flags.v[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
                return refuse(err, EPERM, "linux.seccomp.flags",
                              "SECCOMP_FILTER_FLAG_SPEC_ALLOW would turn off a speculation "
                              "mitigation");
    }
    for (size_t i = 0; i < s->sysctl_keys.n; i++)
        if (!sysctl_namespaced(s->sysctl_keys.v[i],
                               s->ns[OCI_NS_NETWORK] || s->ns_path[OCI_NS_NETWORK])) {
            char field[192];
            snprintf(field, sizeof(field), "linux.sysctl.%s", s->sysctl_keys.v[i]);
            return refuse(err, EPERM, field,
                          "not a sysctl of the container's own namespaces (network, IPC, message "
                          "queues)");
        }
    if (s->rootfs_propagation && !streq(s->rootfs_propagation, "private") &&
        !streq(s->rootfs_propagation, "rprivate") && !streq(s->rootfs_propagation, ""))
        return refuse(err, EINVAL, "linux.rootfsPropagation",
                      "'%s': a container's mounts are always private", s->rootfs_propagation);
    return 0;
}
