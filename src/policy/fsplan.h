/* SPDX-License-Identifier: MIT */
/*
 * fsplan.h: the guest's filesystem view as a list of simple operations.
 *
 * The plan is computed on the host, before any clone, with ordinary C (it may
 * allocate, read /etc, resolve paths). The process backend's child then
 * replays it with nothing but system calls: every string, every byte of file
 * content and every mount option is already in place. Destination paths are
 * relative to the new root (no leading '/'); sources of binds are absolute
 * host paths, or "/proc/self/fd/N" for a file the host vetted and holds open.
 *
 * The default view: /usr and the top-level system directories read-only, a
 * small /etc made of generated files (passwd, group, hosts, hostname,
 * nsswitch.conf) and copies of a few host files, a minimal /dev (null, zero,
 * full, random, urandom and the fd symlinks), a fresh /proc, and a fresh
 * writable tmpfs on /tmp. The root itself is a tmpfs made read-only at the
 * end. Nothing else of the host (home directories, the host's /tmp, /run,
 * /var, /srv, /mnt) is in it.
 */
#ifndef SBVM_POLICY_FSPLAN_H
#define SBVM_POLICY_FSPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandboxvm/sandboxvm.h"

enum fsop_kind {
    FSOP_MKDIR,   /* dst, mode; an existing directory is fine              */
    FSOP_SYMLINK, /* dst -> data                                            */
    FSOP_FILE,    /* dst created with mode and filled with data[0..len)     */
    FSOP_BIND,    /* src onto dst; creates the mount point (dir or file)    */
    FSOP_TMPFS,   /* fresh tmpfs on dst (created) with options in data      */
    FSOP_PROC,    /* fresh procfs on dst (created)                          */
    FSOP_COPY,    /* host file src copied to dst (mode), at most len bytes   */
    FSOP_MOUNT,   /* a --ro/--rw/--tmpfs/--hide mount at dst (see fsop.flags) */
    FSOP_DEVPTS,  /* a devpts instance of the sandbox's own on dst (created)  */
    /* An OCI container's (src/oci): */
    FSOP_MASK,    /* dst, if it exists, covered: an empty read-only dir or /dev/null */
    FSOP_RO_PATH, /* dst, if it exists, bound onto itself read-only             */
    FSOP_MQUEUE,  /* the IPC namespace's message queues on dst (created)      */
    FSOP_EMPTY,   /* an empty read-only tmpfs on dst (created)                */
};

enum fsop_flags {
    FSOP_RDONLY = 1 << 0, /* bind: read-only, nosuid, nodev (recursively)  */
    FSOP_DIR = 1 << 1,    /* bind: the source is a directory              */
    FSOP_DEVICE = 1 << 2, /* bind: a device node; keep it usable            */
    /* FSOP_MOUNT: what is mounted. The mount point is reached without
     * following any symlink, its missing parents created (not for HIDE). */
    FSOP_M_BIND = 1 << 3,  /* src ("/proc/self/fd/N") bound; RDONLY or not  */
    FSOP_M_TMPFS = 1 << 4, /* a tmpfs with options data                     */
    FSOP_M_HIDE = 1 << 5,  /* an existing dst emptied and made read-only    */
};

struct fsop {
    enum fsop_kind kind;
    unsigned flags;
    unsigned mode;
    const char *src;
    const char *dst;
    const char *data;
    size_t len;
};

struct fsplan {
    struct fsop *ops;
    size_t nops;
    size_t alloc;
    char **owned; /* every string the ops point at */
    size_t nowned;
    size_t owned_alloc;
};

/* The guest's identity inside the sandbox and the host ids behind it. */
struct guest_ids {
    uid_t uid; /* inside = outside for the guest */
    gid_t gid;
    bool host_root; /* the host side runs as root: host root is also mapped */
};

void fsplan_init(struct fsplan *p);
void fsplan_release(struct fsplan *p);

/* For a --rootfs guest, what goes over the tree (which must have /dev and
 * /proc directories): our /dev and the sandbox's /proc. */
int fsplan_build_rootfs(struct fsplan *p, sbvm_error **err);

/* The view every guest of a run shares (all but /tmp). */
int fsplan_build_base(struct fsplan *p, const struct guest_ids *ids, sbvm_error **err);
/* A fresh, writable tmpfs of `size` bytes on /tmp (the guest's scratch). */
int fsplan_add_tmp(struct fsplan *p, uint64_t size, sbvm_error **err);

/*
 * --net host: the host's resolver configuration (resolv.conf, host.conf,
 * gai.conf) and names (/etc/hosts, plus the sandbox's own host name), copied
 * over the base view's loopback-only ones.
 */
int fsplan_add_host_net(struct fsplan *p, sbvm_error **err);

/*
 * Certificates the guest trusts besides the system's (pem: validated PEM
 * certificates only): FSPLAN_TRUST_ADDED holds them alone (for clients that
 * add a file to their own store, e.g. NODE_EXTRA_CA_CERTS), and
 * FSPLAN_TRUST_BUNDLE the system's bundle followed by them, bound read-only
 * over every system bundle file the view shows, so that clients reading the
 * usual place (curl, wget, git, OpenSSL's default) trust them too.
 */
#define FSPLAN_TRUST_ADDED  "/etc/sandboxvm/added-ca.pem"
#define FSPLAN_TRUST_BUNDLE "/etc/sandboxvm/ca-bundle.crt"
int fsplan_add_trust(struct fsplan *p, const char *pem, size_t len, sbvm_error **err);

/* Adds a read-only bind of one host file (held as host fd `slot_fd` in the
 * child, i.e. "/proc/self/fd/<slot_fd>") at absolute guest path `path`,
 * creating the directories leading to it. */
int fsplan_add_file_bind(struct fsplan *p, const char *path, int slot_fd, sbvm_error **err);

/* A --ro/--rw (slot_fd: the source's fd in the child; is_dir: what it is),
 * --tmpfs (size in bytes) or --hide mount at plain absolute path dst. */
int fsplan_add_mount(struct fsplan *p, enum sbvm_mount_kind kind, const char *dst, int slot_fd,
                     const char *host_src, bool is_dir, uint64_t size, sbvm_error **err);

/* An OCI container's view (see the FSOP_ kinds): absolute plain dst. */
int fsplan_add_container_op(struct fsplan *p, enum fsop_kind kind, const char *dst,
                            sbvm_error **err);

/* Whether an absolute, canonical host path is inside the directories every
 * view exposes read-only (so a program there needs no bind of its own). */
bool fsplan_path_visible(const char *canonical);

/* Words for an op, for error messages: "mounting /usr read-only". */
void fsplan_describe(const struct fsop *op, char *buf, size_t size);

#endif
