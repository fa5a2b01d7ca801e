/* SPDX-License-Identifier: MIT */
/*
 * child.c: the in-sandbox setup sequence, from clone3() to execve().
 *
 * Only system calls from here on (see child.h). Every failure is reported to
 * the supervisor as a {stage, errno, index} record and ends the child.
 */
#include "backend/process/child.h"

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
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/process/init/init.h"
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

static int status_fd = -1;

/*
 * One record on the status socket: a proc_setup payload and, when nfds, the
 * descriptors (SCM_RIGHTS). 0, or -1 and errno.
 */
static int send_record(uint16_t kind, uint16_t stage, int err, int index, const int *fds,
                       size_t nfds)
{
    struct {
        struct proc_rec_hdr h;
        struct proc_setup s;
    } rec;
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { &rec, sizeof(rec) };
    struct msghdr msg = { 0 };

    memset(&rec, 0, sizeof(rec));
    memset(&ctl, 0, sizeof(ctl));
    rec.h.magic = PROC_REC_MAGIC;
    rec.h.kind = kind;
    rec.h.len = sizeof(rec.s);
    rec.s.stage = stage;
    rec.s.err = err;
    rec.s.index = index;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0 && nfds <= 2) {
        struct cmsghdr *c;
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    while (sendmsg(status_fd, &msg, MSG_NOSIGNAL) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

static void report(uint16_t kind, uint16_t stage, int err, int index)
{
    (void)send_record(kind, stage, err, index, NULL, 0);
}

/*
 * REC_READY, with the sandbox's root and its /tmp as O_PATH descriptors.
 * The supervisor cannot reliably open /proc/PID/root itself: as an ordinary
 * user it may not, once this process is no longer dumpable and before it
 * execs the init.
 */
static void report_ready(void)
{
    int fds[2];

    fds[0] = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    fds[1] = open("/tmp", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    (void)send_record(REC_READY, 0, 0, 0, fds, fds[0] >= 0 && fds[1] >= 0 ? 2 : 0);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
}

static _Noreturn void fail(uint16_t stage, int err, int index);

/* --net allow: the proxy's address inside the sandbox, 127.0.0.1:3128, is
 * a listening socket made here, in the guest's network namespace, and
 * handed to the supervisor, whose broker accepts on it. The guest keeps no
 * copy: it can neither accept on it nor bind that port itself. */
static void send_proxy_listener(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(3128) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
        send_record(REC_NET_LISTENER, STAGE_NETNS, 0, 0, &fd, 1) < 0)
        fail(STAGE_NETNS, errno, -1);
    close(fd);
}

static _Noreturn void fail(uint16_t stage, int err, int index)
{
    report(REC_SETUP_FAILED, stage, err, index);
    _exit(125);
}

/* Async-signal-safe decimal formatting into buf (at least 12 bytes). */
static void fmt_int(char *buf, int v)
{
    char tmp[12];
    int n = 0, i = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && n < 11);
    if (v < 0)
        buf[i++] = '-';
    while (n)
        buf[i++] = tmp[--n];
    buf[i] = '\0';
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
    int fd;

    if (dir)
        return (mkdir(dst, 0755) == 0 || errno == EEXIST) ? 0 : -1;
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
        return mask_proc(op->dst);
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

static void arrange_fds(const struct child_args *a)
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
    for (size_t i = 0; i < nbinds; i++)
        src[FD_BIND_BASE + i] = a->bind_fds[i];

    /* Two passes through a high range, so that no target clobbers a source
     * that has not moved yet. */
    for (size_t i = 0; i < n; i++) {
        tmp[i] = -1;
        if (src[i] >= 0 && (tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 512)) < 0)
            fail(STAGE_FDS, errno, (int)i);
    }
    for (size_t i = 0; i < n; i++) {
        if (tmp[i] >= 0 && dup3(tmp[i], (int)i, O_CLOEXEC) < 0)
            fail(STAGE_FDS, errno, (int)i);
        if (i == FD_STATUS && tmp[i] >= 0)
            status_fd = FD_STATUS;
    }
    /* Everything else the supervisor had open, including the host's stdio
     * and other guests' pipes, is gone from here on. */
    if (syscall(SYS_close_range, (unsigned)n, ~0U, 0) < 0)
        fail(STAGE_FDS, errno, -1);
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
            fail(STAGE_FSOP_REOPEN, errno, (int)i);
        if (fstat(slot, &want) < 0 || fstat(fd, &got) < 0)
            fail(STAGE_FSOP_REOPEN, errno, (int)i);
        if (want.st_dev != got.st_dev || want.st_ino != got.st_ino)
            fail(STAGE_FSOP_REOPEN, ESTALE, (int)i);
        if (dup3(fd, slot, O_CLOEXEC) < 0)
            fail(STAGE_FSOP_REOPEN, errno, (int)i);
        close(fd);
    }
}

static void loopback_up(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (s < 0)
        fail(STAGE_LOOPBACK, errno, -1);
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        fail(STAGE_LOOPBACK, errno, -1);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        fail(STAGE_LOOPBACK, errno, -1);
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
        fail(STAGE_OVERLAY, errno, -1);
    mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (mnt < 0 ||
        syscall(SYS_move_mount, mnt, "", AT_FDCWD, STAGING_DIR, MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
        chdir(STAGING_DIR) < 0)
        fail(STAGE_OVERLAY, errno, -1);
    close(mnt);
    close(fs);
}

static void enter_new_root(bool root_is_tmpfs)
{
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        /* The old root is now stacked on the new one at "."; detach it. */
        if (umount2(".", MNT_DETACH) < 0)
            fail(STAGE_PIVOT, errno, -1);
    } else if (errno == EINVAL) {
        /* The host runs from an initramfs (rootfs), which cannot be pivoted
         * away from; move the new root over it instead, as switch_root does.
         * Without CAP_SYS_CHROOT the guest cannot climb out of the chroot. */
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
            fail(STAGE_PIVOT, errno, -1);
    } else {
        fail(STAGE_PIVOT, errno, -1);
    }
    if (chdir("/") < 0)
        fail(STAGE_PIVOT, errno, -1);
    /* Our tmpfs root, now complete, becomes read-only; a --rootfs tree was
     * bound read-only from the start. */
    if (root_is_tmpfs &&
        mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        fail(STAGE_ROOT_RDONLY, errno, -1);
}

/* Writes a decimal value to a sysctl of the sandbox's own namespaces. */
static int write_sysctl(const char *path, uint64_t v)
{
    char buf[24];
    size_t n = 0;
    int fd, r;

    do {
        buf[sizeof(buf) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < sizeof(buf));
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
        fail(STAGE_IPC, errno, -1);
}

static void drop_privileges(const struct child_args *a)
{
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];

    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break; /* past the last capability this kernel knows */
            fail(STAGE_CAPS, errno, cap);
        }
    if (prctl(PR_SET_SECUREBITS, SECBITS_LOCKED_DOWN, 0, 0, 0) < 0)
        fail(STAGE_CAPS, errno, -1);
    if (a->host_root) {
        /* Started as (mapped) root: become the guest. The uid change also
         * clears every capability, since KEEP_CAPS is locked off. */
        if (setgroups(0, NULL) < 0 || syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0)
            fail(STAGE_IDS, errno, -1);
        if (syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0)
            fail(STAGE_IDS, errno, -1);
    }
    memset(&hdr, 0, sizeof(hdr));
    memset(data, 0, sizeof(data));
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    if (syscall(SYS_capset, &hdr, data) < 0)
        fail(STAGE_CAPS, errno, -1);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        fail(STAGE_CAPS, errno, -1);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(STAGE_NNP, errno, -1);
}

static void install_filters(const struct child_args *a)
{
    for (size_t i = 0; i < a->seccomp->count; i++)
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &a->seccomp->progs[i]) < 0)
            fail(STAGE_SECCOMP, errno, (int)i);
}

static void install_init_filter(const struct child_args *a)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &a->seccomp->init) < 0)
        fail(STAGE_SECCOMP, errno, 9);
}

static _Noreturn void exec_fail(uint16_t stage, int err)
{
    report(REC_EXEC_FAILED, stage, err, -1);
    _exit(err == ENOENT ? 127 : 126);
}

static void set_limit(int resource, uint64_t soft, uint64_t hard)
{
    struct rlimit rl;

    if (!soft)
        return;
    rl.rlim_cur = soft;
    rl.rlim_max = hard ? hard : soft;
    if (setrlimit(resource, &rl) < 0)
        exec_fail(STAGE_GUEST_RLIMIT, errno);
}

/* The guest process (pid 2): its own session, clean stdio, then exec. */
static _Noreturn void guest_main(const struct child_args *a)
{
    struct rlimit nocore = { 0, 0 };
    sigset_t none;
    int fd;

    if (setsid() < 0)
        exec_fail(STAGE_GUEST_SESSION, errno);
    /* No core files: they would land in the guest's scratch or, through a
     * core_pattern pipe, in a host-side handler. */
    if (setrlimit(RLIMIT_CORE, &nocore) < 0)
        exec_fail(STAGE_GUEST_RLIMIT, errno);
    set_limit(RLIMIT_NOFILE, a->rl_nofile, 0);
    set_limit(RLIMIT_NPROC, a->rl_nproc, 0);
    set_limit(RLIMIT_AS, a->rl_as, 0);
    set_limit(RLIMIT_FSIZE, a->rl_fsize, 0);
    /* SIGXCPU at the limit, SIGKILL a second later if it is ignored. */
    set_limit(RLIMIT_CPU, a->rl_cpu, a->rl_cpu ? a->rl_cpu + 1 : 0);

    if (a->fd_in < 0) {
        fd = open("/dev/null", O_RDONLY | O_NOCTTY);
        if (fd < 0 || (fd != 0 && dup2(fd, 0) < 0))
            exec_fail(STAGE_GUEST_STDIO, errno);
        if (fd != 0)
            close(fd);
    } else if (dup2(FD_GUEST_IN, 0) < 0) {
        exec_fail(STAGE_GUEST_STDIO, errno);
    }
    if (dup2(FD_GUEST_OUT, 1) < 0 || dup2(FD_GUEST_ERR, 2) < 0)
        exec_fail(STAGE_GUEST_STDIO, errno);
    /* Keep only stdio and the status fd, which closes itself on exec. */
    if (syscall(SYS_close_range, FD_STATUS + 1, ~0U, 0) < 0)
        exec_fail(STAGE_GUEST_STDIO, errno);

    if (chdir(a->cwd) < 0)
        exec_fail(STAGE_GUEST_CWD, errno);
    umask(022);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(a->exec_path, a->argv, a->envp);
    exec_fail(STAGE_EXEC, errno);
}

/* A live sandbox's pid 2: its exec server (spawner.c), with nothing of
 * ours but its socket. Its stdio is /dev/null; the jobs get their own. */
static _Noreturn void spawner_main(const struct child_args *a)
{
    static char name[] = "sbvm-exec";
    char *argv[] = { name, NULL };
    char *envp[] = { NULL };
    struct rlimit nocore = { 0, 0 };
    sigset_t none;
    int fd;

    if (setsid() < 0)
        exec_fail(STAGE_GUEST_SESSION, errno);
    if (setrlimit(RLIMIT_CORE, &nocore) < 0)
        exec_fail(STAGE_GUEST_RLIMIT, errno);
    set_limit(RLIMIT_NOFILE, a->rl_nofile, 0);
    set_limit(RLIMIT_NPROC, a->rl_nproc, 0);
    set_limit(RLIMIT_AS, a->rl_as, 0);
    set_limit(RLIMIT_FSIZE, a->rl_fsize, 0);
    set_limit(RLIMIT_CPU, a->rl_cpu, a->rl_cpu ? a->rl_cpu + 1 : 0);
    fd = open("/dev/null", O_RDWR | O_NOCTTY);
    if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        exec_fail(STAGE_GUEST_STDIO, errno);
    if (fd > 2)
        close(fd);
    if (fcntl(FD_SPAWN, F_SETFD, 0) < 0)
        exec_fail(STAGE_GUEST_STDIO, errno);
    syscall(SYS_close_range, 3, FD_SPAWNER - 1, 0);
    syscall(SYS_close_range, FD_SPAWN + 1, ~0U, 0);
    if (chdir("/") < 0)
        exec_fail(STAGE_GUEST_CWD, errno);
    umask(022);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    syscall(SYS_execveat, FD_SPAWNER, "", argv, envp, AT_EMPTY_PATH);
    /* The host forbids executing memfds: serve in place. This process
     * shares pid 1's copy of the supervisor's memory, which pid 1 has
     * scrubbed of its command line; it is not dumpable. */
    close(FD_SPAWNER);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    spawner_run();
}

/* One byte over a pipe between the two sandbox processes. */
static void signal_peer(int fd, char c, uint16_t stage)
{
    while (write(fd, &c, 1) < 0) {
        /* The peer is gone: it failed and reported why, or the supervisor
         * called the spawn off (a failed --copy-in). Ours would be a
         * consequence, not a cause: leave quietly. */
        if (errno == EPIPE)
            _exit(125);
        if (errno != EINTR)
            fail(stage, errno, -1);
    }
}

/* Waits for the peer's byte; EOF means it failed (and reported why). */
static void wait_peer(int fd)
{
    char c;
    ssize_t n;

    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        _exit(125);
}

/* Waits for the peer to close its end (at its exec, or its exit). */
static void wait_eof(int fd)
{
    char c;
    ssize_t n;

    while ((n = read(fd, &c, 1)) != 0)
        if (n < 0 && errno != EINTR)
            _exit(125);
}

/* Zeroes [start, end) of our memory, where mapped. */
static void scrub(uint64_t start, uint64_t end)
{
    if (start && end > start && end - start < (64u << 20))
        explicit_bzero((void *)(uintptr_t)start, (size_t)(end - start));
}

static int high_fd(int fd)
{
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 64);
    close(fd);
    return h;
}

/* When the host runs out of memory, the kernel's OOM killer takes a guest
 * process first, never a host process for a guest's sake. Raising the score
 * needs no privilege, but /proc/self must still be ours to write: before
 * pid 1 makes the memory we share non-dumpable, and before the uid change. */
static void oom_first(void)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

    if (fd >= 0) {
        (void)!write(fd, "1000", 4);
        close(fd);
    }
}

/*
 * The guest process (pid 2), from its fork to its exec. It builds the
 * sandbox's network namespace (the costliest namespace: ~0.7 ms here) while
 * pid 1 builds the filesystem view, then waits for the view and locks
 * itself down.
 */
struct early_args {
    const struct child_args *a;
    int net_w, view_r;
    int net_r, view_w; /* pid 1's ends, which our copy of its fds holds too */
    /* Written by pid 1 after the clone, read after its 'V': whether
     * start_apart moved us, and the CPUs we were given. */
    bool apart;
    cpu_set_t cpus;
};

static _Noreturn void guest_early(const struct early_args *e)
{
    const struct child_args *a = e->a;
    int net_w = e->net_w, view_r = e->view_r;

    if (a->net_mode != SBVM_NET_HOST) {
        if (unshare(CLONE_NEWNET) < 0)
            fail(STAGE_NETNS, errno, -1);
        loopback_up();
        if (a->net_mode == SBVM_NET_ALLOW)
            send_proxy_listener();
    }
    /* Before 'N': pid 1 then soon makes our shared memory non-dumpable,
     * and our /proc files root's. */
    oom_first();
    signal_peer(net_w, 'N', STAGE_NETNS);
    wait_peer(view_r);
    /* pid 1 placed us away from its CPU before its 'V': the guest gets
     * back every CPU it was given. */
    if (e->apart && sched_setaffinity(0, sizeof(e->cpus), &e->cpus) < 0)
        fail(STAGE_FORK, errno, -1);
    drop_privileges(a);
    /* Started as root, we were until now more privileged than the init
     * will be, which could not have forwarded a signal to us. */
    if (a->host_root)
        signal_peer(net_w, 'D', STAGE_CAPS);
    close(net_w);
    install_filters(a);
    /* Until pid 1 has become the init, it is a copy of the supervisor, whose
     * command line (secrets included) anyone may read in /proc/1/cmdline:
     * no guest code runs before that. Its exec closes the pipe. */
    wait_eof(view_r);
    close(view_r);
    if (a->live)
        spawner_main(a);
    guest_main(a);
}

/* A byte from the supervisor on the control pipe: SYNC_GO once it wrote
 * our uid/gid maps (and moved us into cgroups), SYNC_COPIED after
 * --copy-in. Anything else, or EOF (it died, or it refused): leave quietly
 * (a guest process dies with us, the pid namespace's init). */
static void wait_control(char want)
{
    char c = 0;

    while (read(FD_CONTROL, &c, 1) < 0 && errno == EINTR)
        ;
    if (c != want)
        _exit(125);
}

static int guest_early_fn(void *arg)
{
    const struct early_args *e = arg;

    close(e->net_r);
    close(e->view_w);
    guest_early(e);
}

/*
 * The guest process builds the network namespace while pid 1 builds the
 * view: in parallel only if they run on different CPUs. A new process
 * starts on its parent's CPU unless the scheduler moves it, and some hosts'
 * schedulers pack tasks onto few CPUs (a cloud VM's 'sched_vcpu_pack'): on
 * such a host the guest process waited, up to 0.6 ms, for pid 1 to block.
 * So it may run on every CPU it was given but pid 1's current one until
 * pid 1's 'V', and then takes them all back (guest_early). Only when the
 * sandbox is the run's only one alive: with -j 2 the other CPU is usually
 * busy with the other sandbox, and the pinning cost throughput there.
 * Best effort: with one CPU, or if a call fails, the scheduler decides.
 */
static bool start_apart(pid_t pid, cpu_set_t *given)
{
    cpu_set_t other;
    unsigned cpu;

    if (sched_getaffinity(0, sizeof(*given), given) < 0 ||
        syscall(SYS_getcpu, &cpu, NULL, NULL) < 0 || cpu >= CPU_SETSIZE)
        return false;
    other = *given;
    CPU_CLR(cpu, &other);
    return CPU_COUNT(&other) > 0 && sched_setaffinity(pid, sizeof(other), &other) == 0;
}

/* The guest process's own stack: it shares pid 1's memory until its exec. */
#define GUEST_EARLY_STACK (256 * 1024)

_Noreturn void child_main(const struct child_args *a)
{
    struct early_args early;
    char *stack;
    static char pid_arg[16], flags_arg[16];
    char *init_argv[] = { (char *)"sbvm-init", pid_arg, flags_arg, NULL };
    char *init_envp[] = { NULL };
    int net[2], view[2], netfd;
    char netns[64] = "/proc/";
    size_t idx = 0;
    sigset_t all;
    long pid;

    status_fd = a->fd_status;
    /* Hold every signal until the init has its handlers. An init with the
     * default action ignores what an ancestor namespace sends it, so a
     * host signal forwarded now would be lost; blocked, it stays pending
     * and the init forwards it as soon as it runs. The guest process
     * unblocks all of them just before its exec. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* If the supervisor's thread dies, so does the sandbox. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        fail(STAGE_FDS, errno, -1);
    arrange_fds(a);
    umask(0);
    /* Leave the host's session and process group: a Ctrl-C on the host's
     * terminal goes to the supervisor, which decides what to forward. */
    if (setsid() < 0)
        fail(STAGE_FDS, errno, -1);
    /* Handlers were reset by CLONE_CLEAR_SIGHAND; ignored signals were not,
     * and an ignored SIGPIPE would survive into the guest's exec. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);

    /* The guest process starts now and makes the network namespace (the
     * costliest namespace) in parallel with the supervisor writing our
     * uid/gid maps and with the view below: it needs neither. Unless the
     * supervisor is yet to move us into cgroups. */
    if (a->wait_go_before_fork)
        wait_control(SYNC_GO);
    if (pipe2(net, O_CLOEXEC) < 0 || pipe2(view, O_CLOEXEC) < 0)
        fail(STAGE_FORK, errno, -1);
    net[0] = high_fd(net[0]);
    net[1] = high_fd(net[1]);
    view[0] = high_fd(view[0]);
    view[1] = high_fd(view[1]);
    if (net[0] < 0 || net[1] < 0 || view[0] < 0 || view[1] < 0)
        fail(STAGE_FORK, EMFILE, -1);
    /*
     * It shares pid 1's memory (CLONE_VM, like posix_spawn's child) on a
     * stack of its own: copying the address space - a copy of the
     * supervisor's - was a tenth of a sandbox's start. Both run only system
     * calls and never write shared state; pid 1 leaves the shared memory
     * when it execs the init, the guest process when it execs the guest.
     * Its file descriptors are its own (no CLONE_FILES).
     */
    stack = mmap(NULL, GUEST_EARLY_STACK, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        fail(STAGE_FORK, errno, -1);
    early.a = a;
    early.net_w = net[1];
    early.view_r = view[0];
    early.net_r = net[0];
    early.view_w = view[1];
    pid = clone(guest_early_fn, stack + GUEST_EARLY_STACK, CLONE_VM | SIGCHLD, &early);
    if (pid < 0)
        fail(STAGE_FORK, errno, -1);
    early.apart = a->start_apart && start_apart((pid_t)pid, &early.cpus);
    close(net[1]);
    close(view[0]);
    /* Trace the guest process from now on, and everything it will fork:
     * faults are captured before they kill, refused syscalls counted. If
     * the host forbids it (Yama ptrace_scope=3), the guest still runs; the
     * report says that crash details are unavailable. */
    if (ptrace(PTRACE_SEIZE, (pid_t)pid, 0,
               PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                   PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXIT |
                   PTRACE_O_EXITKILL) < 0)
        report(REC_TRACE_OFF, STAGE_TRACE, errno, -1);

    if (!a->wait_go_before_fork)
        wait_control(SYNC_GO);

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        fail(STAGE_MOUNT_PRIVATE, errno, -1);
    reopen_binds(a);
    if (a->rootfs_slot >= 0 && a->overlay_upper) {
        mount_overlay_root(a);
    } else if (a->rootfs_slot >= 0) {
        /* --rootfs: the tree itself, read-only, nosuid, nodev, as the root. */
        int tree = (int)syscall(SYS_open_tree, FD_BIND_BASE + a->rootfs_slot, "",
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (tree < 0 ||
            set_attr(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) < 0 ||
            syscall(SYS_move_mount, tree, "", AT_FDCWD, STAGING_DIR, MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
            chdir(STAGING_DIR) < 0)
            fail(STAGE_ROOT_TMPFS, errno, -1);
        close(tree);
    } else if (mount("tmpfs", STAGING_DIR, "tmpfs", MS_NOSUID | MS_NODEV, ROOT_TMPFS_OPTS) < 0 ||
               chdir(STAGING_DIR) < 0) {
        fail(STAGE_ROOT_TMPFS, errno, -1);
    }
    for (size_t i = 0; i < a->nbase; i++, idx++)
        if (run_op(&a->base_ops[i]) < 0)
            fail(STAGE_FSOP, errno, (int)idx);
    for (size_t i = 0; i < a->nextra; i++, idx++)
        if (run_op(&a->extra_ops[i]) < 0)
            fail(STAGE_FSOP, errno, (int)idx);
    if (sethostname("sandbox", 7) < 0)
        fail(STAGE_HOSTNAME, errno, -1);
    enter_new_root(a->rootfs_slot < 0);
    bound_ipc(a->ipc_bytes);
    /* The supervisor may now open our root (for its inventory and limits):
     * it is the sandbox's, not the host's. */
    report_ready();
    /* --copy-in: the supervisor writes into the view now; the guest waits. */
    if (a->wait_copy_in)
        wait_control(SYNC_COPIED);

    /* pid 1 joins the guest's network namespace too: nothing of the
     * sandbox stays in the host's. */
    wait_peer(net[0]);
    if (a->net_mode != SBVM_NET_HOST) {
        fmt_int(netns + 6, (int)pid);
        memcpy(netns + strlen(netns), "/ns/net", 8);
        netfd = open(netns, O_RDONLY | O_CLOEXEC);
        if (netfd < 0 || setns(netfd, CLONE_NEWNET) < 0)
            fail(STAGE_NETNS, errno, -1);
        close(netfd);
    }

    /* Until it execs the init, this process is a copy of the supervisor:
     * not dumpable, so the guest (same uid, and soon the same empty
     * capability set) can never read its memory or its /proc entries.
     * Set again after the uid change, which resets it. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        fail(STAGE_CAPS, errno, -1);
    drop_privileges(a);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        fail(STAGE_CAPS, errno, -1);
    /* The view is complete and pid 1 is locked down: the guest may get
     * ready; it runs nothing of its own before our exec closes view[1]. */
    signal_peer(view[1], 'V', STAGE_FORK);
    install_init_filter(a);
    /* The init forwards the host's signals with kill(2), which needs the
     * guest process to have our uid: as root, wait for its uid change (or
     * for its failure, which it reports). A signal sent meanwhile waits,
     * blocked, for the init's handlers. */
    if (a->host_root)
        wait_peer(net[0]);
    close(net[0]);

    /* pid 1: hold nothing but the status and control sockets and the
     * policy, then become the init. */
    syscall(SYS_close_range, FD_SPAWNER, (unsigned)view[1] - 1, 0);
    syscall(SYS_close_range, (unsigned)view[1] + 1, ~0U, 0);
    fmt_int(pid_arg, (int)pid);
    fmt_int(flags_arg, a->init_flags);
    if (a->fd_init >= 0 && fcntl(FD_STATUS, F_SETFD, 0) == 0 &&
        fcntl(FD_CONTROL, F_SETFD, 0) == 0 && fcntl(FD_POLICY, F_SETFD, 0) == 0)
        syscall(SYS_execveat, FD_INIT, "", init_argv, init_envp, AT_EMPTY_PATH);
    /* The host forbids executing memfds: run the same loop in place. This
     * process is still a copy of the supervisor, whose command line (with
     * any --secret value) the guest could read in /proc/1/cmdline: clear it
     * before the guest may run (closing view[1] releases it). Its other
     * memory is out of reach: pid 1 is not dumpable. */
    scrub(a->args_start, a->args_end);
    scrub(a->env_start, a->env_end);
    prctl(PR_SET_NAME, "sbvm-init", 0, 0, 0);
    close(view[1]);
    init_run(FD_STATUS, (int)pid, a->init_flags);
}
