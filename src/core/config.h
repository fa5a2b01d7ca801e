/* SPDX-License-Identifier: MIT */
/* config.h: the guest description behind the public sbvm_config. */
#ifndef SBVM_CORE_CONFIG_H
#define SBVM_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "sandboxvm/sandboxvm.h"
#include "util/strv.h"

#define SBVM_NAME_MAX           64
#define SBVM_ENV_KEY_MAX        255
#define SBVM_DEFAULT_CWD        "/tmp"
#define SBVM_DEFAULT_CAPTURE    65536
#define SBVM_DEFAULT_PIDS       4096
#define SBVM_DEFAULT_FILES      1024
#define SBVM_DEFAULT_DISK       (512ULL << 20)
#define SBVM_DEFAULT_GUEST_PATH "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"

#define CONFIG_MOUNTS_MAX   32
#define CONFIG_COPIES_MAX   32
#define CONFIG_PROGRAMS_MAX 64

struct config_mount {
    enum sbvm_mount_kind kind;
    char *src; /* canonical host path (RO, RW) */
    char *dst; /* plain absolute path in the view */
    uint64_t size;
};

struct config_copy {
    bool out;
    char *host;  /* canonical (in: the source; out: the destination's parent + name) */
    char *guest; /* plain absolute path in the view */
};

/*
 * What an OCI container (src/oci) adds to a sandbox; NULL for every other
 * sandbox. The backend applies it: the identity of the container's
 * processes and its user namespace's maps, its host name, a writable
 * rootfs, rlimits and a umask for each job, a seccomp filter each job
 * stacks on sandboxvm's own (it can only refuse more), and what its view
 * has beyond sandboxvm's options: masked and read-only paths, message
 * queues, an empty /sys, namespaced sysctls.
 */
#define CONFIG_RLIMITS_MAX 16
#define CONFIG_GROUPS_MAX  64
struct config_container {
    char *hostname;      /* NULL: "sandbox" */
    bool rootfs_rw;      /* the rootfs tree bound writable */
    bool rootfs_ro_late; /* ... and made read-only once the view is built */
    /* Every process's ids inside; pid 1 builds the view as uid 0 inside
     * when `from_root` (the maps then hold 0), else as `uid` itself. */
    uint32_t uid, gid;
    uint32_t groups[CONFIG_GROUPS_MAX];
    size_t ngroups;
    bool from_root;
    bool keep_groups; /* setgroups is denied here (a rootless engine's
                       * namespace): the groups stay as inherited */
    /* Lines for uid_map and gid_map ("inside outside count\n"...). */
    char *uid_map, *gid_map;
    unsigned umask;
    struct config_rlimit {
        int resource;
        uint64_t cur, max;
    } rlimits[CONFIG_RLIMITS_MAX];
    size_t nrlimits;
    void *filter; /* struct sock_filter[filter_len], or NULL */
    size_t filter_len;
    struct strv sysctl_paths, sysctl_values; /* "/proc/sys/net/...", its value */
    struct strv masked, readonly;            /* absolute paths in the view */
    struct strv mqueue;                      /* where a message-queue fs goes */
    bool empty_sys;                          /* an empty read-only /sys */
};
struct config_container *config_container_dup(const struct config_container *c);

/*
 * cgroup settings beyond the limits (the OCI runtime's
 * linux.resources.cpu and linux.cgroupsPath; nothing else sets them yet):
 * CPU bandwidth and weight, CPU and memory-node sets, and where the guest's
 * group goes. Checked by whoever sets them (src/oci/spec.c); a setting the
 * host cannot apply fails the sandbox's start, naming it, never dropped.
 */
struct config_cgroup {
    int64_t cpu_quota;   /* microseconds a period; 0: not set, -1: unlimited */
    uint64_t cpu_period; /* microseconds, 1000..1000000; 0: not set */
    uint64_t cpu_shares; /* v1 shares 2..262144 (v2: as a weight); 0: not set */
    char *cpus, *mems;   /* checked lists ("0-3,5"); NULL: not set */
    /* Relative to the hierarchy's root (v1: each controller's), a plain
     * absolute path ("/a/b"); NULL: sandboxvm's own name beside its own
     * cgroup. */
    char *path;
};
/* Whether any setting is given (the guest then needs a cgroup). */
bool config_cgroup_set(const struct config_cgroup *c);
void config_cgroup_release(struct config_cgroup *c);
void config_container_free(struct config_container *c);

/* Whether p is an absolute path without "", "." or ".." parts, nor a
 * trailing "/"; "/" itself is plain. */
bool config_path_plain(const char *p);
/* Exchanges two configs' contents. */
void config_swap(struct sbvm_config *a, struct sbvm_config *b);

struct sbvm_config {
    struct strv argv;
    bool symbolize;
    struct strv deny, allow;            /* syscall names, checked */
    uint64_t limits[SBVM_LIMIT__COUNT]; /* 0: none */
    unsigned limits_set;                /* bit l: set explicitly, not a default */
    char *keep_dir;
    char *name;          /* NULL: derived by the runner */
    struct strv env_set; /* "KEY=VALUE" in the order given; later wins */
    bool keep_env;
    char *cwd;
    int stdin_fd; /* -1: /dev/null */
    size_t capture_limit;
    enum sbvm_net net;
    struct strv net_rules; /* allow rules, checked */
    bool net_allow_private;
    struct strv secrets;  /* NAME=VALUE@HOST, checked */
    struct strv trust_ca; /* --trust-ca: each file's certificates, validated and re-encoded */
    struct config_mount *mounts;
    size_t nmounts;
    struct config_copy *copies;
    size_t ncopies;
    char *rootfs; /* canonical */
    char *layer;  /* canonical: a writable overlay over the rootfs (upper/, work/) */
    /* A live sandbox: programs jobs may name that its view lacks, made
     * visible as run makes its program (argv[0] as given). */
    struct strv programs;
    /* Devices and drivers (src/drivers): device descriptions, driver .so
     * files (canonical paths), the device trace. */
    struct strv devices, drivers;
    char *device_trace;
    bool device_trace_json;
    const sbvm_channel_config *channel; /* not owned: the caller's */
    struct config_container *container; /* src/oci's, or NULL */
    struct config_cgroup cgroup;
};

/* Settings that only mean something together, however they were set
 * (flags, a profile, the library): 0, or -EINVAL with the reason. */
int config_check(const struct sbvm_config *cfg, sbvm_error **err);
/* Whether `name` is an acceptable guest name (see sbvm_config_set_name). */
bool config_name_valid(const char *name);
/* Derives a valid name from a program path: its basename with characters
 * outside the name alphabet replaced by '_', cut to fit. Never fails to
 * produce a name ("guest" for hopeless input); NULL only on ENOMEM. */
char *config_name_from_program(const char *prog);
/* Whether `key` is an acceptable environment variable name. */
bool config_env_key_valid(const char *key);

#endif
