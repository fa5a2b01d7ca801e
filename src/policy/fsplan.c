/* SPDX-License-Identifier: MIT */
/* fsplan.c: building the guest's filesystem view as replayable operations. */
#include "policy/fsplan.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/array.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* Top-level system directories: bound read-only when they are directories,
 * re-created as the same symlink when the host has merged them into /usr. */
static const char *const system_dirs[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

/*
 * Host files from /etc a guest commonly needs. Regular files are copied into
 * the view (they are small; copying keeps the view free of host inodes),
 * symlinks re-created, directories bound read-only.
 */
static const struct etc_entry {
    const char *name;
    const char *why;
} etc_entries[] = {
    { "ld.so.cache", "dynamic loader's library index" },
    { "ld.so.conf", "library search configuration" },
    { "alternatives", "Debian's alternatives symlinks (cc, awk, which, ...)" },
    { "localtime", "the host's time zone" },
    { "timezone", "the host's time zone name" },
    { "services", "port names (getservbyname)" },
    { "protocols", "protocol names (getprotobyname)" },
    { "os-release", "distribution identification" },
    { "debian_version", "distribution identification" },
    { "mime.types", "MIME types for interpreters' standard libraries" },
    /* The system's trust store, for HTTPS (never /etc/ssl/private, nor
     * /etc/pki/tls/private). Debian and Ubuntu: the hashed directory and
     * ca-certificates.crt in /etc/ssl/certs (its links point into
     * /usr/share/ca-certificates, visible with /usr); Fedora and RHEL:
     * /etc/pki; Arch: /etc/ca-certificates/extracted; Alpine: cert.pem. */
    { "ssl/certs", "the system's trust store (curl, wget, git, Python, OpenSSL)" },
    { "ssl/cert.pem", "the system's trust store as one file" },
    { "ssl/openssl.cnf", "OpenSSL's configuration" },
    { "ca-certificates.conf", "which certificates the system trusts" },
    { "ca-certificates/extracted", "the system's trust store (Arch)" },
    { "pki/tls/certs", "the system's trust store (Fedora, RHEL)" },
    { "pki/tls/cert.pem", "the system's trust store as one file (Fedora, RHEL)" },
    { "pki/tls/openssl.cnf", "OpenSSL's configuration (Fedora, RHEL)" },
    { "pki/ca-trust/extracted", "the system's trust store (Fedora, RHEL)" },
};

/* Copied /etc files larger than this are bound instead of copied. */
#define ETC_COPY_MAX (512 * 1024)

void fsplan_init(struct fsplan *p)
{
    memset(p, 0, sizeof(*p));
}

void fsplan_release(struct fsplan *p)
{
    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    free(p->owned);
    free(p->ops);
    fsplan_init(p);
}

/* Takes ownership of s (malloc'd); returns it, or NULL after freeing it. */
static char *own(struct fsplan *p, char *s)
{
    if (!s)
        return NULL;
    if (ARRAY_GROW(p->owned, p->nowned + 1, &p->owned_alloc) < 0) {
        free(s);
        return NULL;
    }
    p->owned[p->nowned++] = s;
    return s;
}

static const char *own_str(struct fsplan *p, const char *s)
{
    return own(p, strdup(s));
}

static struct fsop *push(struct fsplan *p, enum fsop_kind kind, const char *dst)
{
    struct fsop *op;

    if (!dst)
        return NULL;
    if (ARRAY_GROW(p->ops, p->nops + 1, &p->alloc) < 0)
        return NULL;
    op = &p->ops[p->nops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->dst = dst;
    return op;
}

static bool add_mkdir(struct fsplan *p, const char *dst, unsigned mode)
{
    struct fsop *op = push(p, FSOP_MKDIR, own_str(p, dst));
    if (!op)
        return false;
    op->mode = mode;
    return true;
}

static bool add_symlink(struct fsplan *p, const char *dst, const char *target)
{
    const char *t = own_str(p, target);
    struct fsop *op = t ? push(p, FSOP_SYMLINK, own_str(p, dst)) : NULL;
    if (!op)
        return false;
    op->data = t;
    op->len = strlen(t);
    return true;
}

static bool add_file(struct fsplan *p, const char *dst, const char *data, size_t len, unsigned mode)
{
    char *copy = malloc(len + 1);
    struct fsop *op;

    if (!copy)
        return false;
    memcpy(copy, data, len);
    copy[len] = '\0';
    if (!own(p, copy))
        return false;
    op = push(p, FSOP_FILE, own_str(p, dst));
    if (!op)
        return false;
    op->data = copy;
    op->len = len;
    op->mode = mode;
    return true;
}

static bool add_bind(struct fsplan *p, const char *src, const char *dst, unsigned flags)
{
    const char *s = own_str(p, src);
    struct fsop *op = s ? push(p, FSOP_BIND, own_str(p, dst)) : NULL;
    if (!op)
        return false;
    op->src = s;
    op->flags = flags;
    return true;
}

/* A host file copied into the view by the child (sendfile, in the
 * kernel): no bytes pass through the supervisor. */
static bool add_copy(struct fsplan *p, const char *src, const char *dst, size_t max, unsigned mode)
{
    const char *s = own_str(p, src);
    struct fsop *op = s ? push(p, FSOP_COPY, own_str(p, dst)) : NULL;

    if (!op)
        return false;
    op->src = s;
    op->len = max;
    op->mode = mode;
    return true;
}

static bool add_tmpfs(struct fsplan *p, const char *dst, const char *opts)
{
    const char *o = own_str(p, opts);
    struct fsop *op = o ? push(p, FSOP_TMPFS, own_str(p, dst)) : NULL;
    if (!op)
        return false;
    op->data = o;
    op->len = strlen(o);
    return true;
}

bool fsplan_path_visible(const char *path)
{
    const char *rest;
    size_t len;
    char top[32];
    struct stat st;

    if (path[0] != '/')
        return false;
    rest = path + 1;
    len = strcspn(rest, "/");
    if (len == 0 || len >= sizeof(top))
        return false;
    memcpy(top, rest, len);
    top[len] = '\0';
    if (streq(top, "usr"))
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++) {
        char host[40];
        if (!streq(top, system_dirs[i]))
            continue;
        snprintf(host, sizeof(host), "/%s", top);
        /* A merged-usr symlink resolves into /usr, which is visible. */
        return lstat(host, &st) == 0 && (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode));
    }
    return false;
}

static bool add_system_dirs(struct fsplan *p)
{
    if (!add_bind(p, "/usr", "usr", FSOP_RDONLY | FSOP_DIR))
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++) {
        char host[40], target[PATH_MAX];
        struct stat st;
        ssize_t n;

        snprintf(host, sizeof(host), "/%s", system_dirs[i]);
        if (lstat(host, &st) < 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            n = readlink(host, target, sizeof(target) - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            if (!add_symlink(p, system_dirs[i], target))
                return false;
        } else if (S_ISDIR(st.st_mode)) {
            if (!add_bind(p, host, system_dirs[i], FSOP_RDONLY | FSOP_DIR))
                return false;
        }
    }
    return true;
}

static bool add_identity_files(struct fsplan *p, const struct guest_ids *ids)
{
    struct strbuf pw = STRBUF_INIT, gr = STRBUF_INIT;
    bool ok;

    strbuf_addstr(&pw, "root:x:0:0:root:/root:/usr/sbin/nologin\n");
    strbuf_addf(&pw, "sandbox:x:%u:%u:sandboxvm guest:/tmp:/bin/sh\n", (unsigned)ids->uid,
                (unsigned)ids->gid);
    if (ids->uid != 65534)
        strbuf_addstr(&pw, "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    strbuf_addstr(&gr, "root:x:0:\n");
    strbuf_addf(&gr, "sandbox:x:%u:\n", (unsigned)ids->gid);
    if (ids->gid != 65534)
        strbuf_addstr(&gr, "nogroup:x:65534:\n");
    ok = !strbuf_failed(&pw) && !strbuf_failed(&gr) &&
         add_file(p, "etc/passwd", pw.buf, pw.len, 0644) &&
         add_file(p, "etc/group", gr.buf, gr.len, 0644);
    strbuf_release(&pw);
    strbuf_release(&gr);
    return ok;
}

/* The directories leading to dst (relative), each made once. */
static bool add_parents(struct fsplan *p, const char *dst)
{
    char dir[PATH_MAX];
    size_t len = strlen(dst);

    if (len >= sizeof(dir))
        return false;
    memcpy(dir, dst, len + 1);
    for (char *slash = strchr(dir, '/'); slash; slash = strchr(slash + 1, '/')) {
        bool made = false;
        *slash = '\0';
        for (size_t i = 0; i < p->nops && !made; i++)
            made = p->ops[i].kind == FSOP_MKDIR && streq(p->ops[i].dst, dir);
        if (!made && !add_mkdir(p, dir, 0755))
            return false;
        *slash = '/';
    }
    return true;
}

static bool add_etc(struct fsplan *p, const struct guest_ids *ids)
{
    static const char hosts[] = "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost "
                                "ip6-loopback\n";
    static const char nss[] = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
                              "networks: files\nprotocols: files\nservices: files\n";
    static const char hostname[] = "sandbox\n";

    if (!add_mkdir(p, "etc", 0755) || !add_identity_files(p, ids) ||
        !add_file(p, "etc/hosts", hosts, sizeof(hosts) - 1, 0644) ||
        !add_file(p, "etc/hostname", hostname, sizeof(hostname) - 1, 0644) ||
        !add_file(p, "etc/nsswitch.conf", nss, sizeof(nss) - 1, 0644))
        return false;

    for (size_t i = 0; i < ARRAY_SIZE(etc_entries); i++) {
        char host[PATH_MAX], dst[PATH_MAX], target[PATH_MAX];
        struct stat st;
        ssize_t n;

        snprintf(host, sizeof(host), "/etc/%s", etc_entries[i].name);
        snprintf(dst, sizeof(dst), "etc/%s", etc_entries[i].name);
        if (lstat(host, &st) < 0)
            continue;
        if (!add_parents(p, dst))
            return false;
        if (S_ISLNK(st.st_mode)) {
            n = readlink(host, target, sizeof(target) - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            if (!add_symlink(p, dst, target))
                return false;
        } else if (S_ISDIR(st.st_mode)) {
            if (!add_bind(p, host, dst, FSOP_RDONLY | FSOP_DIR))
                return false;
        } else if (S_ISREG(st.st_mode)) {
            /* Large files are bound; unreadable ones are left out (the
             * copy skips what it cannot open). */
            if (st.st_size > ETC_COPY_MAX) {
                if (!add_bind(p, host, dst, FSOP_RDONLY))
                    return false;
            } else if (!add_copy(p, host, dst, ETC_COPY_MAX, 0644)) {
                return false;
            }
        }
    }
    return true;
}

static bool add_dev(struct fsplan *p)
{
    static const char *const nodes[] = { "null", "zero", "full", "random", "urandom" };
    static const struct {
        const char *name, *target;
    } links[] = {
        { "dev/fd", "/proc/self/fd" },
        { "dev/stdin", "/proc/self/fd/0" },
        { "dev/stdout", "/proc/self/fd/1" },
        { "dev/stderr", "/proc/self/fd/2" },
        /* POSIX shared memory and semaphores live in /dev/shm; the guest's
         * writable tmpfs serves them without another mount. */
        { "dev/shm", "/tmp" },
    };

    if (!add_mkdir(p, "dev", 0755))
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
        char src[32], dst[32];
        snprintf(src, sizeof(src), "/dev/%s", nodes[i]);
        snprintf(dst, sizeof(dst), "dev/%s", nodes[i]);
        if (!add_bind(p, src, dst, FSOP_DEVICE))
            return false;
    }
    for (size_t i = 0; i < ARRAY_SIZE(links); i++)
        if (!add_symlink(p, links[i].name, links[i].target))
            return false;
    /* Terminals of its own (a job's terminal, Python's pty.openpty): a
     * devpts instance of the sandbox's, never the host's ptys. */
    return push(p, FSOP_DEVPTS, own_str(p, "dev/pts")) && add_symlink(p, "dev/ptmx", "pts/ptmx");
}

int fsplan_build_base(struct fsplan *p, const struct guest_ids *ids, sbvm_error **err)
{
    if (!add_system_dirs(p) || !add_etc(p, ids) || !add_dev(p) ||
        !push(p, FSOP_PROC, own_str(p, "proc")))
        return error_set(err, ENOMEM, "building the filesystem view: out of memory");
    return 0;
}

int fsplan_build_rootfs(struct fsplan *p, sbvm_error **err)
{
    /* The tree's own /dev is covered by a small tmpfs holding ours. */
    if (!add_tmpfs(p, "dev", "mode=0755,size=64k,nr_inodes=64") || !add_dev(p) ||
        !push(p, FSOP_PROC, own_str(p, "proc")))
        return error_set(err, ENOMEM, "building the filesystem view: out of memory");
    return 0;
}

/* A writable tmpfs of `size` bytes, with an inode for every 4 KiB (at least
 * 1024), so that a guest cannot pin kernel memory with empty files. */
static void tmpfs_options(char *buf, size_t bufsize, uint64_t size)
{
    uint64_t inodes = size / 4096 < 1024 ? 1024 : size / 4096;

    snprintf(buf, bufsize, "mode=1777,size=%llu,nr_inodes=%llu", (unsigned long long)size,
             (unsigned long long)inodes);
}

int fsplan_add_tmp(struct fsplan *p, uint64_t size, sbvm_error **err)
{
    char opts[96];

    tmpfs_options(opts, sizeof(opts), size);
    if (!add_tmpfs(p, "tmp", opts))
        return error_set(err, ENOMEM, "building the filesystem view: out of memory");
    return 0;
}

/* A host file's content (symlinks followed: the host's own configuration),
 * into sb; false when it is missing, unreadable or larger than max. */
static bool read_host(const char *path, size_t max, struct strbuf *sb)
{
    char *data = NULL;
    size_t len = 0;

    if (read_file_at(AT_FDCWD, path, max, &data, &len) < 0)
        return false;
    strbuf_add(sb, data, len);
    free(data);
    return !strbuf_failed(sb);
}

int fsplan_add_host_net(struct fsplan *p, sbvm_error **err)
{
    static const char *const copied[] = { "resolv.conf", "host.conf", "gai.conf" };
    struct strbuf hosts = STRBUF_INIT;
    bool ok = true;

    /* Copies, not binds: resolv.conf is often a symlink into /run, which
     * the view does not have, and a copy pins no host inode. */
    for (size_t i = 0; i < ARRAY_SIZE(copied) && ok; i++) {
        struct strbuf sb = STRBUF_INIT;
        char host[64], dst[64];
        snprintf(host, sizeof(host), "/etc/%s", copied[i]);
        snprintf(dst, sizeof(dst), "etc/%s", copied[i]);
        if (read_host(host, ETC_COPY_MAX, &sb))
            ok = add_file(p, dst, sb.buf ? sb.buf : "", sb.len, 0644);
        strbuf_release(&sb);
    }
    /* The host's names, which mean something on the host's network, and
     * the sandbox's own host name. */
    if (ok && read_host("/etc/hosts", ETC_COPY_MAX, &hosts)) {
        if (hosts.len && hosts.buf[hosts.len - 1] != '\n')
            strbuf_addch(&hosts, '\n');
        strbuf_addstr(&hosts, "127.0.0.1\tsandbox\n");
        ok = !strbuf_failed(&hosts) && add_file(p, "etc/hosts", hosts.buf, hosts.len, 0644);
    }
    strbuf_release(&hosts);
    if (!ok)
        return error_set(err, ENOMEM, "building the filesystem view: out of memory");
    return 0;
}

/*
 * The files in which clients look for the system's trust store, by default
 * (Debian's curl, wget and git, OpenSSL's default file and with it Python's
 * ssl, Debian's certifi) on the distributions the base view knows.
 */
static const char *const bundle_paths[] = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
};

/* Whether a canonical host path is in the base view as it is on the host:
 * under /usr or under one of the /etc entries it shows. */
static bool etc_visible(const char *path)
{
    if (str_has_prefix(path, "/usr/"))
        return true;
    if (!str_has_prefix(path, "/etc/"))
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(etc_entries); i++) {
        size_t n = strlen(etc_entries[i].name);
        if (!strncmp(path + 5, etc_entries[i].name, n) &&
            (path[5 + n] == '\0' || path[5 + n] == '/'))
            return true;
    }
    return false;
}

int fsplan_add_trust(struct fsplan *p, const char *pem, size_t len, sbvm_error **err)
{
    struct strbuf bundle = STRBUF_INIT;
    char done[ARRAY_SIZE(bundle_paths)][PATH_MAX];
    size_t ndone = 0;
    bool ok = true, have_system = false;

    /* The system's certificates first, then the added ones: one file that
     * every client reading the usual place trusts. */
    for (size_t i = 0; i < ARRAY_SIZE(bundle_paths) && !have_system; i++)
        have_system = read_host(bundle_paths[i], 16u << 20, &bundle);
    if (bundle.len && bundle.buf[bundle.len - 1] != '\n')
        strbuf_addch(&bundle, '\n');
    strbuf_add(&bundle, pem, len);
    ok = !strbuf_failed(&bundle) && add_mkdir(p, "etc/sandboxvm", 0755) &&
         add_file(p, FSPLAN_TRUST_ADDED + 1, pem, len, 0644) &&
         add_file(p, FSPLAN_TRUST_BUNDLE + 1, bundle.buf, bundle.len, 0644);
    /* Bound over each system bundle the view shows, by its real path (no
     * symlink on the way: the bind is made before the root is entered). */
    for (size_t i = 0; i < ARRAY_SIZE(bundle_paths) && ok; i++) {
        char real[PATH_MAX];
        struct stat st;
        bool dup = false;
        if (!realpath(bundle_paths[i], real) || stat(real, &st) < 0 || !S_ISREG(st.st_mode) ||
            !etc_visible(real))
            continue;
        for (size_t k = 0; k < ndone && !dup; k++)
            dup = streq(done[k], real);
        if (dup)
            continue;
        memcpy(done[ndone++], real, strlen(real) + 1);
        ok = add_bind(p, FSPLAN_TRUST_BUNDLE + 1, real + 1, FSOP_RDONLY);
    }
    strbuf_release(&bundle);
    if (!ok)
        return error_set(err, ENOMEM, "building the filesystem view: out of memory");
    return 0;
}

int fsplan_add_file_bind(struct fsplan *p, const char *path, int slot_fd, sbvm_error **err)
{
    const char *rel;
    char *dir, *slash;
    char src[40];

    if (path[0] != '/' || strlen(path) >= PATH_MAX)
        return error_set(err, EINVAL, "cannot expose '%s' in the view: not an absolute path", path);
    rel = path + 1;
    dir = strdup(rel);
    if (!dir || !own(p, dir))
        return error_set(err, ENOMEM, "out of memory");
    /* Parents first; mkdir of an existing directory is not an error. */
    for (slash = strchr(dir, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (!add_mkdir(p, dir, 0755)) {
            *slash = '/';
            return error_set(err, ENOMEM, "out of memory");
        }
        *slash = '/';
    }
    snprintf(src, sizeof(src), "/proc/self/fd/%d", slot_fd);
    if (!add_bind(p, src, rel, FSOP_RDONLY))
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

int fsplan_add_mount(struct fsplan *p, enum sbvm_mount_kind kind, const char *dst, int slot_fd,
                     const char *host_src, bool is_dir, uint64_t size, sbvm_error **err)
{
    struct fsop *op = push(p, FSOP_MOUNT, own_str(p, dst + 1));
    char buf[96];

    if (!op)
        return error_set(err, ENOMEM, "out of memory");
    switch (kind) {
    case SBVM_MOUNT_RO:
    case SBVM_MOUNT_RW:
        snprintf(buf, sizeof(buf), "/proc/self/fd/%d", slot_fd);
        op->src = own_str(p, buf);
        op->flags =
            FSOP_M_BIND | (kind == SBVM_MOUNT_RO ? FSOP_RDONLY : 0) | (is_dir ? FSOP_DIR : 0);
        op->data = own_str(p, host_src ? host_src : "a host path"); /* for messages */
        break;
    case SBVM_MOUNT_TMPFS:
        tmpfs_options(buf, sizeof(buf), size ? size : 64ULL << 20);
        op->data = own_str(p, buf);
        op->flags = FSOP_M_TMPFS | FSOP_DIR;
        break;
    default:
        op->flags = FSOP_M_HIDE;
        break;
    }
    if (!op->dst || ((op->flags & FSOP_M_BIND) && (!op->src || !op->data)) ||
        ((op->flags & FSOP_M_TMPFS) && !op->data))
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

int fsplan_add_container_op(struct fsplan *p, enum fsop_kind kind, const char *dst,
                            sbvm_error **err)
{
    struct fsop *op;

    if (dst[0] != '/' || !dst[1] || strlen(dst) >= PATH_MAX)
        return error_set(err, EINVAL, "%s: not an absolute path below the root", dst);
    if (kind != FSOP_MASK && kind != FSOP_RO_PATH && kind != FSOP_MQUEUE && kind != FSOP_EMPTY)
        return error_set(err, EINVAL, "not a container's operation");
    op = push(p, kind, own_str(p, dst + 1));
    if (!op)
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

void fsplan_describe(const struct fsop *op, char *buf, size_t size)
{
    switch (op->kind) {
    case FSOP_MKDIR:
        snprintf(buf, size, "creating directory /%s", op->dst);
        break;
    case FSOP_SYMLINK:
        snprintf(buf, size, "creating symlink /%s -> %s", op->dst, op->data);
        break;
    case FSOP_FILE:
        snprintf(buf, size, "writing /%s", op->dst);
        break;
    case FSOP_BIND:
        if (str_has_prefix(op->src, "/proc/self/fd/"))
            snprintf(buf, size, "binding /%s read-only", op->dst);
        else
            snprintf(buf, size, "binding %s at /%s%s", op->src, op->dst,
                     (op->flags & FSOP_RDONLY) ? " read-only" : "");
        break;
    case FSOP_TMPFS:
        snprintf(buf, size, "mounting a tmpfs on /%s (%s)", op->dst, op->data);
        break;
    case FSOP_PROC:
        snprintf(buf, size, "mounting /proc for the guest's pid namespace");
        break;
    case FSOP_DEVPTS:
        snprintf(buf, size, "mounting the sandbox's own /dev/pts");
        break;
    case FSOP_COPY:
        snprintf(buf, size, "copying %s to /%s", op->src, op->dst);
        break;
    case FSOP_MOUNT:
        if (op->flags & FSOP_M_BIND)
            snprintf(buf, size, "mounting %s at /%s%s", op->data ? op->data : "a host path",
                     op->dst, (op->flags & FSOP_RDONLY) ? " read-only" : "");
        else if (op->flags & FSOP_M_TMPFS)
            snprintf(buf, size, "mounting a tmpfs at /%s", op->dst);
        else
            snprintf(buf, size, "hiding /%s", op->dst);
        break;
    case FSOP_MASK:
        snprintf(buf, size, "masking /%s", op->dst);
        break;
    case FSOP_RO_PATH:
        snprintf(buf, size, "making /%s read-only", op->dst);
        break;
    case FSOP_MQUEUE:
        snprintf(buf, size, "mounting message queues on /%s", op->dst);
        break;
    case FSOP_EMPTY:
        snprintf(buf, size, "mounting an empty read-only /%s", op->dst);
        break;
    default:
        snprintf(buf, size, "filesystem operation %d", (int)op->kind);
        break;
    }
}
