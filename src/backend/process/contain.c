/* SPDX-License-Identifier: MIT */
/*
 * contain.c: how a guest is contained, as the steps the sandbox's first
 * process takes between clone3() and the exec of what runs in it (child.c
 * orders them; a program, an exec server and later a worker run inside
 * the same containment): its descriptors (contain_fds), its view
 * (contain_view: mounts, /proc masked, pivot_root), its network
 * (contain_loopback), its privileges (contain_privileges: ids,
 * capabilities, securebits, IPC bounds) and its filters.
 *
 * Only system calls (see child.h). Every failure is reported to the
 * supervisor as a {stage, errno, index} record and ends the process.
 */
#include "backend/process/contain.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/process/proto.h"
#include "policy/program.h"
#include "util/util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* The new root: small, it only holds directories, mount points and /etc. */
#define ROOT_TMPFS_OPTS "mode=0755,size=16m,nr_inodes=8192"
/* Where the new root is staged before pivot_root; every Linux has it. */
#define STAGING_DIR "/tmp"

/* Root inside gains nothing by exec; uid changes always drop capabilities
 * (fix-up and keep-caps locked off); ambient capabilities cannot be raised. */
#define SECBITS_LOCKED_DOWN                                                                        \
    (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |                        \
     SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

/* A container's: /proc/sys of the sandbox's own procfs, held from its mount
 * (before anything covers it read-only) for the sysctls pid 1 writes once
 * it is in the container's network namespace. */
static int sysctl_dir = -1;
/* What contain_view builds the view for (run_op reads it). */
static const struct child_args *args;

/* fd moved out of the fixed slots' way (contain_fds' range). */
static int high_fd_keep(int fd)
{
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 256);
    close(fd);
    return h;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Creates a mount point: a directory, or an empty file for file binds. */
static int make_point(const char *dst, bool dir)
{
    struct stat st;
    int fd;

    if (dir)
        return (mkdir(dst, 0755) == 0 || errno == EEXIST) ? 0 : -1;
    /* A file that is there already (in a read-only bind, say) will do. */
    if (fstatat(AT_FDCWD, dst, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
        return 0;
    fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/*
 * Makes a bind mount read-only, nosuid and nodev, recursively. mount_setattr
 * (5.12) changes only the bits asked for; the older remount must repeat the
 * flags the kernel locked on mounts inherited from the host, or it fails.
 */
static int make_readonly(const char *dst)
{
    struct mount_attr attr;
    struct statvfs sfs;
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;

    memset(&attr, 0, sizeof(attr));
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (syscall(SYS_mount_setattr, AT_FDCWD, dst, AT_RECURSIVE, &attr, sizeof(attr)) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    /* statvfs() is a plain statfs system call plus flag translation. */
    if (statvfs(dst, &sfs) < 0)
        return -1;
    if (sfs.f_flag & ST_NOEXEC)
        flags |= MS_NOEXEC;
    if (sfs.f_flag & ST_NOATIME)
        flags |= MS_NOATIME;
    if (sfs.f_flag & ST_NODIRATIME)
        flags |= MS_NODIRATIME;
    if (sfs.f_flag & ST_RELATIME)
        flags |= MS_RELATIME;
    return mount("none", dst, NULL, flags, NULL);
}

/* Mount options "k=v,k=v" onto a filesystem context (fsopen), each as the
 * string mount(2) would have passed. */
static int fs_set_options(int fs, const char *opts)
{
    char buf[128], *save = NULL;

    if (strlen(opts) >= sizeof(buf)) {
        errno = E2BIG;
        return -1;
    }
    memcpy(buf, opts, strlen(opts) + 1);
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        if (syscall(SYS_fsconfig, fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, kv,
                    eq ? eq + 1 : NULL, 0) < 0)
            return -1;
    }
    return 0;
}

/* A host file into the view: copied by the kernel (sendfile), at most
 * op->len bytes. A source that cannot be opened is left out, as it would
 * be on the host for the same reason. */
static int copy_in(const struct fsop *op)
{
    int in = open(op->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    int out, e = 0;
    size_t done = 0;

    if (in < 0)
        return 0;
    out = open(op->dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, op->mode);
    if (out < 0) {
        e = errno;
        close(in);
        errno = e;
        return -1;
    }
    while (done < op->len) {
        ssize_t n = sendfile(out, in, NULL, op->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            e = errno;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(in);
    close(out);
    errno = e;
    return e ? -1 : 0;
}

/*
 * The mount point of a user mount (FSOP_MOUNT): dst (relative to the view's
 * root, our cwd) reached without following any symlink - a directory bound
 * from the host may hold symlinks a guest planted there in an earlier run -
 * with missing parents created unless `create` is false. An O_PATH fd, or
 * -1 with errno set (ELOOP: a symlink on the way).
 */
static int open_point(const char *dst, bool dir, bool create)
{
    const uint64_t how = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    char path[4096];
    size_t len = strlen(dst);
    int fd;

    if (len >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dst, len + 1);
    /* Parents first, each a directory reached without symlinks. */
    for (size_t i = 0; create && i < len; i++) {
        struct stat st;
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        fd = openat2_at(AT_FDCWD, path, O_PATH | O_NOFOLLOW, how);
        if (fd < 0 && errno == ENOENT) {
            if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return -1;
            fd = openat2_at(AT_FDCWD, path, O_PATH | O_NOFOLLOW, how);
        }
        if (fd < 0)
            return -1;
        if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
            close(fd);
            errno = ENOTDIR;
            return -1;
        }
        close(fd);
        path[i] = '/';
    }
    fd = openat2_at(AT_FDCWD, path, O_PATH | O_NOFOLLOW, how);
    if (fd < 0 && errno == ENOENT && create) {
        if (dir) {
            if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return -1;
        } else {
            int f =
                open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
            if (f < 0)
                return -1;
            close(f);
        }
        fd = openat2_at(AT_FDCWD, path, O_PATH | O_NOFOLLOW, how);
    }
    return fd;
}

/* Attributes on a detached mount tree, before it is put in place. */
static int set_attr(int tree, uint64_t set)
{
    struct mount_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.attr_set = set;
    return (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                        sizeof(attr));
}

/* --ro, --rw, --tmpfs, --hide: built detached with the new mount API, made
 * read-only (and always nosuid, nodev) before anything can see it, then
 * moved onto the mount point. */
static int run_mount(const struct fsop *op)
{
    bool dir = op->flags & FSOP_DIR;
    int point, tree = -1, e;
    struct stat st;

    point = open_point(op->dst, dir, !(op->flags & FSOP_M_HIDE));
    if (point < 0)
        return -1;
    if (fstat(point, &st) < 0)
        goto fail;
    if (S_ISLNK(st.st_mode)) {
        errno = ELOOP; /* a symlink where the mount point should be */
        goto fail;
    }
    if (op->flags & FSOP_M_HIDE)
        dir = S_ISDIR(st.st_mode);
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
        errno = dir ? ENOTDIR : EISDIR;
        goto fail;
    }
    if (op->flags & FSOP_M_BIND) {
        tree = (int)syscall(SYS_open_tree, AT_FDCWD, op->src,
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (tree < 0 || set_attr(tree, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                           ((op->flags & FSOP_RDONLY) ? MOUNT_ATTR_RDONLY : 0)) < 0)
            goto fail;
    } else if ((op->flags & FSOP_M_TMPFS) || dir) {
        /* A tmpfs: the one asked for, or an empty read-only one to hide a
         * directory. */
        int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0)
            goto fail;
        if (fs_set_options(fs, (op->flags & FSOP_M_TMPFS) ? op->data : "mode=0555") < 0 ||
            syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
            e = errno;
            close(fs);
            errno = e;
            goto fail;
        }
        tree = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                ((op->flags & FSOP_M_HIDE) ? MOUNT_ATTR_RDONLY : 0));
        e = errno;
        close(fs);
        errno = e;
        if (tree < 0)
            goto fail;
    } else {
        /* Hiding a file: /dev/null in its place, read-only. */
        tree =
            (int)syscall(SYS_open_tree, AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0 || set_attr(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID) < 0)
            goto fail;
    }
    if (syscall(SYS_move_mount, tree, "", point, "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        goto fail;
    close(tree);
    close(point);
    return 0;
fail:
    e = errno;
    if (tree >= 0)
        close(tree);
    close(point);
    errno = e;
    return -1;
}

/*
 * What the sandbox's /proc shows of the host that a guest has no use for:
 * the kernel's command line, every keyring the guest's uid can see, the
 * kernel's memory image and timer, scheduler and latency internals, ACPI,
 * sound and SCSI devices (runc masks the same list, for the same reasons).
 * Files are covered with /dev/null, directories with an empty read-only
 * tmpfs; what this kernel does not have is skipped.
 */
static int mask_proc(const char *procdir)
{
    static const char *const masked[] = {
        "cmdline",     "keys",          "key-users", "kcore",  "timer_list", "timer_stats",
        "sched_debug", "latency_stats", "acpi",      "asound", "scsi",
    };
    char path[256];

    for (size_t i = 0; i < ARRAY_SIZE(masked); i++) {
        struct stat st;
        int tree, point, fs, e;

        if (strlen(procdir) + strlen(masked[i]) + 2 > sizeof(path)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(path, procdir, strlen(procdir));
        path[strlen(procdir)] = '/';
        memcpy(path + strlen(procdir) + 1, masked[i], strlen(masked[i]) + 1);
        if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
            if (fs < 0)
                return -1;
            if (fs_set_options(fs, "mode=0555,size=4k,nr_inodes=1") < 0 ||
                syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                e = errno;
                close(fs);
                errno = e;
                return -1;
            }
            tree = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                    MOUNT_ATTR_NOEXEC);
            e = errno;
            close(fs);
            errno = e;
        } else {
            tree = (int)syscall(SYS_open_tree, AT_FDCWD, "/dev/null",
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
            if (tree >= 0 && set_attr(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID) < 0) {
                e = errno;
                close(tree);
                errno = e;
                return -1;
            }
        }
        if (tree < 0)
            return -1;
        point = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (point < 0 || syscall(SYS_move_mount, tree, "", point, "",
                                 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
            e = errno;
            close(tree);
            if (point >= 0)
                close(point);
            errno = e;
            return -1;
        }
        close(point);
        close(tree);
    }
    return 0;
}

/* An empty read-only tmpfs (mode 0555) as a detached tree. */
static int empty_tree(void)
{
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC), tree, e;

    if (fs < 0)
        return -1;
    if (fs_set_options(fs, "mode=0555,size=4k,nr_inodes=8") < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        e = errno;
        close(fs);
        errno = e;
        return -1;
    }
    tree =
        (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    e = errno;
    close(fs);
    errno = e;
    return tree;
}

/* Moves a detached tree onto an O_PATH point; closes both. */
static int put_tree(int tree, int point)
{
    int r = -1, e;

    if (tree >= 0 && point >= 0)
        r = (int)syscall(SYS_move_mount, tree, "", point, "",
                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    e = errno;
    if (tree >= 0)
        close(tree);
    if (point >= 0)
        close(point);
    errno = e;
    return r < 0 ? -1 : 0;
}

/* A container's maskedPaths and readonlyPaths entry: what does not exist
 * is skipped (the specification's lists name files some kernels lack). No
 * symlink is followed to reach it. */
static int container_path_op(const struct fsop *op)
{
    struct stat st;
    int point = openat2_at(AT_FDCWD, op->dst, O_PATH | O_NOFOLLOW,
                           RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
        tree;

    if (point < 0)
        return errno == ENOENT || errno == ELOOP ? 0 : -1;
    if (fstat(point, &st) < 0) {
        close(point);
        return -1;
    }
    if (op->kind == FSOP_RO_PATH) {
        tree = (int)syscall(SYS_open_tree, point, "",
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (tree >= 0 &&
            set_attr(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) < 0) {
            int e = errno;
            close(tree);
            errno = e;
            tree = -1;
        }
    } else if (S_ISDIR(st.st_mode)) {
        tree = empty_tree();
    } else {
        tree =
            (int)syscall(SYS_open_tree, AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree >= 0 && set_attr(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID) < 0) {
            int e = errno;
            close(tree);
            errno = e;
            tree = -1;
        }
    }
    if (tree < 0) {
        int e = errno;
        close(point);
        errno = e;
        return -1;
    }
    return put_tree(tree, point);
}

static int run_op(const struct fsop *op)
{
    int fd;

    switch (op->kind) {
    case FSOP_MKDIR:
        return (mkdir(op->dst, op->mode) == 0 || errno == EEXIST) ? 0 : -1;
    case FSOP_SYMLINK:
        return symlink(op->data, op->dst);
    case FSOP_FILE:
        fd = open(op->dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                  op->mode);
        if (fd < 0)
            return -1;
        if (write_all(fd, op->data, op->len) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        return close(fd);
    case FSOP_BIND:
        if (make_point(op->dst, op->flags & FSOP_DIR) < 0)
            return -1;
        if (mount(op->src, op->dst, NULL, MS_BIND | MS_REC, NULL) < 0)
            return -1;
        return (op->flags & FSOP_RDONLY) ? make_readonly(op->dst) : 0;
    case FSOP_TMPFS:
        if (make_point(op->dst, true) < 0)
            return -1;
        return mount("tmpfs", op->dst, "tmpfs", MS_NOSUID | MS_NODEV, op->data);
    case FSOP_PROC:
        if (make_point(op->dst, true) < 0)
            return -1;
        if (mount("proc", op->dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            return -1;
        if (args && args->container && sysctl_dir < 0) {
            char sys[64];
            if (strlen(op->dst) + 5 > sizeof(sys)) {
                errno = ENAMETOOLONG;
                return -1;
            }
            memcpy(sys, op->dst, strlen(op->dst));
            memcpy(sys + strlen(op->dst), "/sys", 5);
            sysctl_dir = open(sys, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sysctl_dir < 0)
                return -1;
            sysctl_dir = high_fd_keep(sysctl_dir);
        }
        return mask_proc(op->dst);
    case FSOP_MASK:
    case FSOP_RO_PATH:
        return container_path_op(op);
    case FSOP_MQUEUE:
        if ((fd = open_point(op->dst, true, true)) < 0)
            return -1;
        close(fd);
        return mount("mqueue", op->dst, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    case FSOP_EMPTY:
        if ((fd = open_point(op->dst, true, true)) < 0)
            return -1;
        return put_tree(empty_tree(), fd);
    case FSOP_DEVPTS:
        if (make_point(op->dst, true) < 0)
            return -1;
        return mount("devpts", op->dst, "devpts", MS_NOSUID | MS_NOEXEC,
                     "newinstance,ptmxmode=0666,mode=0620");
    case FSOP_COPY:
        return copy_in(op);
    case FSOP_MOUNT:
        return run_mount(op);
    default:
        errno = EINVAL;
        return -1;
    }
}

/* Closes every fd but the n in keep[] (-1: none); system calls only. */
static void close_all_but(const int *keep, size_t n)
{
    int sorted[FD_BIND_BASE + CHILD_SLOTS_MAX];
    size_t k = 0;
    unsigned next = 0;

    for (size_t i = 0; i < n; i++) {
        size_t j;
        if (keep[i] < 0)
            continue;
        for (j = k; j > 0 && sorted[j - 1] > keep[i]; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = keep[i];
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        if ((unsigned)sorted[i] > next)
            syscall(SYS_close_range, next, (unsigned)sorted[i] - 1, 0);
        next = (unsigned)sorted[i] + 1;
    }
    syscall(SYS_close_range, next, ~0U, 0);
}

void contain_fds(const struct child_args *a)
{
    int src[FD_BIND_BASE + CHILD_SLOTS_MAX], tmp[FD_BIND_BASE + CHILD_SLOTS_MAX];
    size_t nbinds = a->nbinds < CHILD_SLOTS_MAX ? a->nbinds : CHILD_SLOTS_MAX;
    size_t n = FD_BIND_BASE + nbinds;

    for (size_t i = 0; i < ARRAY_SIZE(src); i++)
        src[i] = -1;
    src[FD_STATUS] = a->fd_status;
    src[FD_CONTROL] = a->fd_control;
    src[FD_INIT] = a->fd_init;
    src[FD_POLICY] = a->fd_policy;
    if (a->live) {
        src[FD_SPAWNER] = a->fd_spawner;
        src[FD_SPAWN] = a->fd_spawn;
    }
    src[FD_GUEST_IN] = a->fd_in;
    src[FD_GUEST_OUT] = a->fd_out;
    src[FD_GUEST_ERR] = a->fd_err;
    src[FD_GUEST_CHANNEL] = a->fd_channel;
    for (size_t i = 0; i < nbinds; i++)
        src[FD_BIND_BASE + i] = a->bind_fds[i];

    /* Everything else the supervisor had open (the host's stdio, other
     * guests' pipes) goes first: with a low RLIMIT_NOFILE, or many guests
     * at once, the table may have no room left for the moves. */
    close_all_but(src, n);
    /* Two passes through the range above the slots, so that no target
     * clobbers a source that has not moved yet. */
    for (size_t i = 0; i < n; i++) {
        tmp[i] = -1;
        if (src[i] >= 0 && (tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, (int)n)) < 0)
            child_fail(STAGE_FDS, errno, (int)i);
    }
    for (size_t i = 0; i < n; i++) {
        if (tmp[i] >= 0 && dup3(tmp[i], (int)i, O_CLOEXEC) < 0)
            child_fail(STAGE_FDS, errno, (int)i);
        if (i == FD_STATUS && tmp[i] >= 0)
            child_status_at(FD_STATUS);
    }
    /* Everything else the supervisor had open, including the host's stdio
     * and other guests' pipes, is gone from here on. */
    if (syscall(SYS_close_range, (unsigned)n, ~0U, 0) < 0)
        child_fail(STAGE_FDS, errno, -1);
    for (int fd = 0; fd < 3; fd++)
        close(fd);
    for (size_t i = FD_GUEST_IN; i <= FD_GUEST_ERR; i++)
        if (src[i] < 0)
            close((int)i);
}

/*
 * The supervisor vetted each program file through an fd, but a bind mount's
 * source must live in the caller's own mount namespace, which the
 * supervisor's fds do not. Reopen each file by its canonical path in our
 * namespace (before anything is mounted over it) and keep it only if it is
 * the very inode that was vetted.
 */
static void reopen_binds(const struct child_args *a)
{
    for (size_t i = 0; i < a->nbinds && i < CHILD_SLOTS_MAX; i++) {
        int slot = FD_BIND_BASE + (int)i;
        struct stat want, got;
        int fd = open(a->bind_srcs[i], O_PATH | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0)
            child_fail(STAGE_FSOP_REOPEN, errno, (int)i);
        if (fstat(slot, &want) < 0 || fstat(fd, &got) < 0)
            child_fail(STAGE_FSOP_REOPEN, errno, (int)i);
        if (want.st_dev != got.st_dev || want.st_ino != got.st_ino)
            child_fail(STAGE_FSOP_REOPEN, ESTALE, (int)i);
        if (dup3(fd, slot, O_CLOEXEC) < 0)
            child_fail(STAGE_FSOP_REOPEN, errno, (int)i);
        close(fd);
    }
}

void contain_loopback(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (s < 0)
        child_fail(STAGE_LOOPBACK, errno, -1);
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        child_fail(STAGE_LOOPBACK, errno, -1);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        child_fail(STAGE_LOOPBACK, errno, -1);
    close(s);
}

/*
 * The root as an overlayfs: the rootfs tree below, read-only to the
 * overlay, and the caller's upper directory, where what the guest writes
 * goes. Mounted in the sandbox's user namespace (the kernel allows it
 * since 5.11), so it records its own metadata (whiteouts, opaque
 * directories) as user.overlay.* attributes ("userxattr"); nosuid and
 * nodev like every other mount of the view.
 */
static void mount_overlay_root(const struct child_args *a)
{
    int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC), mnt;

    if (fs < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir", a->overlay_lower, 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "upperdir", a->overlay_upper, 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "workdir", a->overlay_work, 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        child_fail(STAGE_OVERLAY, errno, -1);
    mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (mnt < 0 ||
        syscall(SYS_move_mount, mnt, "", AT_FDCWD, STAGING_DIR, MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
        chdir(STAGING_DIR) < 0)
        child_fail(STAGE_OVERLAY, errno, -1);
    close(mnt);
    close(fs);
}

static void enter_new_root(bool root_is_tmpfs, bool root_ro_now)
{
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        /* The old root is now stacked on the new one at "."; detach it. */
        if (umount2(".", MNT_DETACH) < 0)
            child_fail(STAGE_PIVOT, errno, -1);
    } else if (errno == EINVAL) {
        /* The host runs from an initramfs (rootfs), which cannot be pivoted
         * away from; move the new root over it instead, as switch_root does.
         * Without CAP_SYS_CHROOT the guest cannot climb out of the chroot. */
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
            child_fail(STAGE_PIVOT, errno, -1);
    } else {
        child_fail(STAGE_PIVOT, errno, -1);
    }
    if (chdir("/") < 0)
        child_fail(STAGE_PIVOT, errno, -1);
    /* Our tmpfs root, now complete, becomes read-only; a --rootfs tree was
     * bound read-only from the start. */
    if (root_is_tmpfs &&
        mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        child_fail(STAGE_ROOT_RDONLY, errno, -1);
    /* A container's read-only rootfs, bound writable while its mount
     * points were made: the root mount alone, not what is mounted on it. */
    if (root_ro_now) {
        struct mount_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.attr_set = MOUNT_ATTR_RDONLY;
        if (syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof(attr)) < 0)
            child_fail(STAGE_ROOT_RDONLY, errno, -1);
    }
}

/* Writes a decimal value to a sysctl of the sandbox's own namespaces
 * (path under /proc/sys/): through the held /proc/sys of a container, whose
 * readonlyPaths may cover the mounted one. */
static int write_sysctl(const char *path, uint64_t v)
{
    char buf[24];
    size_t n = 0;
    int fd, r;

    do {
        buf[sizeof(buf) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < sizeof(buf));
    if (sysctl_dir >= 0 && strncmp(path, "/proc/sys/", 10) == 0)
        fd = openat(sysctl_dir, path + 10, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    else
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    r = write_all(fd, buf + sizeof(buf) - n, n);
    close(fd);
    return r;
}

/*
 * SysV shared memory and message queues live in the sandbox's IPC
 * namespace, whose defaults are the host's: unlimited shared memory, 32000
 * message queues of 16 KiB. A segment nobody has mapped is in no process's
 * memory, so neither the OOM killer's ranking nor a per-process limit sees
 * it: bound them like the scratch (the namespace's root may, before the
 * capabilities go).
 */
static void bound_ipc(uint64_t bytes)
{
    if (!bytes)
        return;
    if (write_sysctl("/proc/sys/kernel/shmmax", bytes) < 0 ||
        write_sysctl("/proc/sys/kernel/shmall", (bytes + 4095) / 4096) < 0 ||
        write_sysctl("/proc/sys/kernel/shmmni", 64) < 0 ||
        write_sysctl("/proc/sys/kernel/msgmni", 64) < 0)
        child_fail(STAGE_IPC, errno, -1);
}

/* A container's sysctls, in pid 1's namespaces (it joined the container's
 * network namespace), through the procfs held since its mount: readonlyPaths
 * may have covered /proc/sys since. Paths were checked by src/oci (names of
 * the container's own namespaces, no ".."). */
void contain_sysctls(const struct child_args *a)
{
    for (size_t i = 0; i < a->nsysctl; i++) {
        const char *rel = a->sysctl_paths[i];
        int fd;

        if (strncmp(rel, "/proc/sys/", 10) != 0)
            child_fail(STAGE_SYSCTL, EINVAL, (int)i);
        rel += 10;
        fd = openat(sysctl_dir, rel, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || write_all(fd, a->sysctl_values[i], strlen(a->sysctl_values[i])) < 0)
            child_fail(STAGE_SYSCTL, errno, (int)i);
        close(fd);
    }
    if (sysctl_dir >= 0)
        close(sysctl_dir);
    sysctl_dir = -1;
}

void contain_privileges(const struct child_args *a)
{
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];

    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break; /* past the last capability this kernel knows */
            child_fail(STAGE_CAPS, errno, cap);
        }
    if (prctl(PR_SET_SECUREBITS, SECBITS_LOCKED_DOWN, 0, 0, 0) < 0)
        child_fail(STAGE_CAPS, errno, -1);
    if (a->host_root) {
        /* Started as (mapped) root: become the guest. The uid change also
         * clears every capability, since KEEP_CAPS is locked off. Raw
         * system calls: glibc's wrappers broadcast the change to every
         * thread the supervisor had when it cloned us, and wait for those
         * that were busy then, which in this copy never answer (found:
         * two threads running sandboxes hung now and then, as root). */
        if ((!a->keep_groups && syscall(SYS_setgroups, a->ngroups, a->groups) < 0) ||
            syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0)
            child_fail(STAGE_IDS, errno, -1);
        if (syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0)
            child_fail(STAGE_IDS, errno, -1);
    }
    memset(&hdr, 0, sizeof(hdr));
    memset(data, 0, sizeof(data));
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    if (syscall(SYS_capset, &hdr, data) < 0)
        child_fail(STAGE_CAPS, errno, -1);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        child_fail(STAGE_CAPS, errno, -1);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(STAGE_NNP, errno, -1);
}

void contain_filters(const struct child_args *a)
{
    for (size_t i = 0; i < a->seccomp->count; i++)
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &a->seccomp->progs[i]) < 0)
            child_fail(STAGE_SECCOMP, errno, (int)i);
}

void contain_init_filter(const struct child_args *a)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &a->seccomp->init) < 0)
        child_fail(STAGE_SECCOMP, errno, 9);
}

/*
 * The view, built by pid 1 in its own mount namespace: propagation to the
 * host cut, the vetted files reopened here, a new root (a tmpfs, or the
 * --rootfs tree), the plan's operations replayed, the host name, then
 * pivot_root into it, and the IPC namespace bounded.
 */
void contain_view(const struct child_args *a)
{
    size_t idx = 0;

    args = a;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        child_fail(STAGE_MOUNT_PRIVATE, errno, -1);
    reopen_binds(a);
    if (a->rootfs_slot >= 0 && a->overlay_upper) {
        mount_overlay_root(a);
    } else if (a->rootfs_slot >= 0) {
        /* --rootfs: the tree itself, read-only, nosuid, nodev, as the root. */
        int tree = (int)syscall(SYS_open_tree, FD_BIND_BASE + a->rootfs_slot, "",
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (tree < 0 ||
            set_attr(tree, (a->container ? 0 : MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID |
                               MOUNT_ATTR_NODEV) < 0 ||
            syscall(SYS_move_mount, tree, "", AT_FDCWD, STAGING_DIR, MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
            chdir(STAGING_DIR) < 0)
            child_fail(STAGE_ROOT_TMPFS, errno, -1);
        close(tree);
    } else if (mount("tmpfs", STAGING_DIR, "tmpfs", MS_NOSUID | MS_NODEV, ROOT_TMPFS_OPTS) < 0 ||
               chdir(STAGING_DIR) < 0) {
        child_fail(STAGE_ROOT_TMPFS, errno, -1);
    }
    for (size_t i = 0; i < a->nbase; i++, idx++)
        if (run_op(&a->base_ops[i]) < 0)
            child_fail(STAGE_FSOP, errno, (int)idx);
    for (size_t i = 0; i < a->nextra; i++, idx++)
        if (run_op(&a->extra_ops[i]) < 0)
            child_fail(STAGE_FSOP, errno, (int)idx);
    if (a->hostname ? sethostname(a->hostname, strlen(a->hostname)) < 0
                    : sethostname("sandbox", 7) < 0)
        child_fail(STAGE_HOSTNAME, errno, -1);
    enter_new_root(a->rootfs_slot < 0, a->container && a->rootfs_slot >= 0 && !a->rootfs_rw);
    bound_ipc(a->ipc_bytes);
}
