/* SPDX-License-Identifier: MIT */
/*
 * spec.h: an OCI bundle's config.json (runtime-spec 1.0 to 1.2) and an exec's
 * process.json, parsed and checked.
 *
 * Two steps, both pure (no file, no process): oci_spec_parse() checks the
 * document's shape - every value's type and range, every string's length
 * and bytes, every list's size - and keeps what sandboxvm acts on;
 * oci_spec_check() then applies sandboxvm's policy: what it refuses by
 * design (added capabilities, devices, hooks, joining a namespace it cannot
 * join ...) fails with a message naming the field. Unknown properties are
 * ignored, as the specification requires; known ones sandboxvm cannot honour
 * and that do not weaken anything are recorded in `notes` for the log.
 *
 * Everything here comes from the caller of the runtime and is treated as
 * hostile: the fuzz target (tests/fuzz/fuzz-oci.c) drives both steps.
 */
#ifndef SBVM_OCI_SPEC_H
#define SBVM_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/sandboxvm.h"
#include "util/strv.h"

/* The largest config.json / process.json read. */
#define OCI_SPEC_MAX_BYTES    (4u << 20)
#define OCI_MOUNTS_MAX        128
#define OCI_RLIMITS_MAX       16
#define OCI_IDMAPS_MAX        64
#define OCI_GROUPS_MAX        64
#define OCI_ARGS_MAX          4096
#define OCI_SYSCTL_MAX        64
#define OCI_PATHS_MAX         128 /* maskedPaths, readonlyPaths */
#define OCI_SECCOMP_RULES_MAX 1024
#define OCI_ANNOTATIONS_MAX   256
#define OCI_CPU_QUOTA_MIN     1000LL             /* us: the kernel's least */
#define OCI_CPU_QUOTA_MAX     (1000000LL * 4096) /* 4096 CPUs' worth of 1 s */
#define OCI_CPU_PERIOD_MIN    1000               /* us */
#define OCI_CPU_PERIOD_MAX    1000000            /* us */
#define OCI_CPU_SHARES_MIN    2
#define OCI_CPU_SHARES_MAX    262144
#define OCI_CPUSET_MAX        8192 /* CPU or node numbers are below */
#define OCI_CPUSET_BYTES      1024
#define OCI_CGROUPS_PATH_MAX  1024 /* bytes */
#define OCI_CGROUPS_DEPTH_MAX 16   /* parts */

enum oci_ns {
    OCI_NS_PID,
    OCI_NS_NETWORK,
    OCI_NS_MOUNT,
    OCI_NS_IPC,
    OCI_NS_UTS,
    OCI_NS_USER,
    OCI_NS_CGROUP,
    OCI_NS_TIME,
    OCI_NS__COUNT,
};

/* "pid", "network", ...; NULL when out of range. */
const char *oci_ns_name(enum oci_ns ns);

struct oci_idmap {
    uint32_t container_id, host_id, size;
};

struct oci_mount {
    char *destination; /* absolute */
    char *type;        /* "" when absent */
    char *source;      /* "" when absent */
    struct strv options;
};

struct oci_rlimit {
    int resource; /* RLIMIT_* */
    uint64_t soft, hard;
};

/* The capability sets, each a bitmask of capability numbers (0..63). */
enum oci_capset {
    OCI_CAP_BOUNDING,
    OCI_CAP_EFFECTIVE,
    OCI_CAP_INHERITABLE,
    OCI_CAP_PERMITTED,
    OCI_CAP_AMBIENT,
    OCI_CAP__COUNT,
};

struct oci_process {
    bool terminal;
    uint16_t rows, cols; /* consoleSize; 0 when absent */
    uint32_t uid, gid;
    bool has_umask;
    uint32_t umask;
    uint32_t groups[OCI_GROUPS_MAX]; /* additionalGids */
    size_t ngroups;
    struct strv args;
    struct strv env; /* "KEY=VALUE", checked */
    char *cwd;       /* absolute */
    uint64_t caps[OCI_CAP__COUNT];
    /* The first capability name of any set that is not one this kernel
     * knows (its set in unknown_cap_set), or NULL. */
    char *unknown_cap;
    int unknown_cap_set;
    struct oci_rlimit rlimits[OCI_RLIMITS_MAX];
    size_t nrlimits;
    bool no_new_privileges;
    bool has_oom_score_adj;
    int oom_score_adj;
    char *apparmor_profile; /* NULL when absent */
    char *selinux_label;
    bool has_io_priority, has_scheduler, has_exec_cpu_affinity;
};

enum oci_seccomp_action {
    OCI_SCMP_KILL, /* SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD */
    OCI_SCMP_KILL_PROCESS,
    OCI_SCMP_TRAP,
    OCI_SCMP_ERRNO,
    OCI_SCMP_TRACE,
    OCI_SCMP_ALLOW,
    OCI_SCMP_LOG,
    OCI_SCMP_NOTIFY,
};

enum oci_seccomp_op {
    OCI_CMP_NE,
    OCI_CMP_LT,
    OCI_CMP_LE,
    OCI_CMP_EQ,
    OCI_CMP_GE,
    OCI_CMP_GT,
    OCI_CMP_MASKED_EQ,
};

struct oci_seccomp_arg {
    unsigned index; /* 0..5 */
    uint64_t value, value_two;
    enum oci_seccomp_op op;
};

struct oci_seccomp_rule {
    struct strv names;
    enum oci_seccomp_action action;
    bool has_errno;
    uint32_t errno_ret;
    struct oci_seccomp_arg args[6];
    size_t nargs;
};

/* Architectures, as bits. */
#define OCI_ARCH_X86_64 (1u << 0)
#define OCI_ARCH_X86    (1u << 1)
#define OCI_ARCH_X32    (1u << 2)
#define OCI_ARCH_OTHER  (1u << 3) /* one this host cannot run: ignored */

struct oci_seccomp {
    enum oci_seccomp_action default_action;
    bool has_default_errno;
    uint32_t default_errno;
    unsigned archs;
    struct strv flags;
    bool has_listener; /* listenerPath set */
    struct oci_seccomp_rule *rules;
    size_t nrules;
};

struct oci_spec {
    char *oci_version;
    char *root_path; /* as written: relative to the bundle, or absolute */
    bool root_readonly;
    bool has_process;
    struct oci_process process;
    char *hostname; /* NULL when absent */
    char *domainname;
    struct oci_mount *mounts;
    size_t nmounts;
    bool has_hooks; /* a non-empty list of hooks */
    /* linux.namespaces: which were listed, and the path to join, if any. */
    bool ns[OCI_NS__COUNT];
    char *ns_path[OCI_NS__COUNT];
    struct oci_idmap uid_maps[OCI_IDMAPS_MAX], gid_maps[OCI_IDMAPS_MAX];
    size_t nuid_maps, ngid_maps;
    /* linux.cgroupsPath, checked: a path without "", "." or ".." parts
     * (absolute: from the hierarchy's root), the systemd form
     * "SLICE:PREFIX:NAME" mapped to the path systemd would give it
     * (/machine.slice/libpod-ID.scope); NULL when absent or empty. */
    char *cgroups_path;
    bool cgroups_path_systemd; /* it was given in the systemd form */
    bool has_memory_limit, has_pids_limit;
    int64_t memory_limit, pids_limit;
    /* linux.resources.cpu, checked; 0 / NULL: not set. quota: -1 is
     * unlimited, else OCI_CPU_QUOTA_MIN..OCI_CPU_QUOTA_MAX us; period
     * OCI_CPU_PERIOD_MIN..MAX us; shares 2..262144; cpus and mems lists
     * of N and N-M, ascending ranges, numbers below OCI_CPUSET_MAX. */
    int64_t cpu_quota;
    uint64_t cpu_period, cpu_shares;
    char *cpu_cpus, *cpu_mems;
    struct strv sysctl_keys, sysctl_values;
    struct oci_seccomp *seccomp; /* NULL when absent */
    struct strv masked_paths, readonly_paths;
    struct strv annotation_keys, annotation_values;
    size_t ndevices; /* linux.devices */
    bool has_personality_other, has_intel_rdt, has_time_offsets;
    char *rootfs_propagation;
    /* Known settings sandboxvm does not apply and that weaken nothing, in
     * words, for the log ("linux.resources.cpu.shares: not applied"). */
    struct strv notes;
};

void oci_spec_init(struct oci_spec *s);
void oci_spec_release(struct oci_spec *s);

/* Parses a config.json of `len` bytes (not NUL-terminated). 0, or -EINVAL
 * (-ENOMEM) with *err naming the field ("process.rlimits[1].type: ..."). */
int oci_spec_parse(const char *json, size_t len, struct oci_spec *out, sbvm_error **err);

/* The same for the process of an exec (runc exec --process FILE). */
int oci_process_parse(const char *json, size_t len, struct oci_process *out, sbvm_error **err);
void oci_process_release(struct oci_process *p);

/*
 * sandboxvm's policy on a parsed spec: 0, or -EINVAL / -EPERM with the field
 * and the reason. `as_root`: the runtime runs as root (uid 0 in its user
 * namespace), which decides which id mappings it can write.
 */
int oci_spec_check(const struct oci_spec *s, bool as_root, sbvm_error **err);
/* The same for an exec's process, against its container's spec. */
int oci_process_check(const struct oci_process *p, const struct oci_spec *container,
                      sbvm_error **err);

/* The capabilities sandboxvm accepts in a config (and grants none of: its
 * processes run without any): the default set the engines ask for. */
bool oci_cap_acceptable(unsigned cap);
/* "CAP_SYS_ADMIN" for 21, or NULL. */
const char *oci_cap_name(unsigned cap);

/* An annotation's value, or NULL. */
const char *oci_spec_annotation(const struct oci_spec *s, const char *key);

#endif
