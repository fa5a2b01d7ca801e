/* SPDX-License-Identifier: MIT */
/* ledger.c: inventory of a frozen sandbox, and keeping its scratch. */
#include "ledger/ledger.h"
#include "net/broker.h"
#include "util/copytree.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/result.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

static const char *keep(struct ledger *l, const char *s, size_t len)
{
    char *c = strndup(s, len);
    if (!c || strv_push_owned(&l->strings, c) < 0)
        return "";
    return l->strings.v[l->strings.n - 1];
}

static const char *fd_kind(const char *target)
{
    if (str_has_prefix(target, "pipe:"))
        return "pipe";
    if (str_has_prefix(target, "socket:"))
        return "socket";
    if (str_has_prefix(target, "anon_inode:"))
        return "anon";
    if (str_has_prefix(target, "/dev/pts/") || str_has_prefix(target, "/dev/tty"))
        return "tty";
    if (str_has_prefix(target, "/dev/"))
        return "device";
    if (str_has_prefix(target, "/memfd:"))
        return "memfd";
    if (target[0] == '/')
        return "file";
    return "other";
}

static void take_fds(struct ledger *l, int pdir, int pid, size_t *alloc)
{
    _cleanup_close_ int fdir = openat(pdir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *e;

    if (fdir < 0 || !(d = fdopendir(fdir)))
        return;
    fdir = -1;
    while ((e = readdir(d))) {
        char target[512];
        ssize_t n;
        struct sbvm_left_fd *f;

        if (e->d_name[0] == '.')
            continue;
        if (l->nfds >= LEDGER_FDS_MAX) {
            l->truncated = true;
            break;
        }
        n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        if (ARRAY_GROW(l->fds, l->nfds + 1, alloc) < 0)
            break;
        f = &l->fds[l->nfds++];
        f->pid = pid;
        f->fd = atoi(e->d_name);
        f->kind = fd_kind(target);
        f->target = keep(l, target, (size_t)n);
    }
    closedir(d);
}

/* Whether the process (pdir; its command line cmd[0..n)) is still the
 * copy of the supervisor that the sandbox's first process is until it
 * execs the guest's program: our executable (when we may look: a process
 * that is not dumpable hides it from an ordinary user), and our command
 * line, or none when pid 1 wiped the memory they share. */
static bool before_exec(int pdir, const char *cmd, long n)
{
    char own[4096];
    long own_n;
    struct stat st, self;
    bool same_exe, blank = true;

    if (fstatat(pdir, "exe", &st, 0) == 0)
        same_exe = stat("/proc/self/exe", &self) == 0 && st.st_dev == self.st_dev &&
                   st.st_ino == self.st_ino;
    else if (errno == EACCES || errno == EPERM)
        same_exe = false;
    else
        return false;
    for (long i = 0; i < n; i++)
        blank &= cmd[i] == '\0';
    if (blank)
        return same_exe;
    own_n = read_small_at(AT_FDCWD, "/proc/self/cmdline", own, sizeof(own));
    return n == own_n && memcmp(cmd, own, (size_t)n) == 0;
}

static void take_process(struct ledger *l, int procfd, int pid, int own_pids, size_t *palloc,
                         size_t *falloc)
{
    char name[16], buf[4096];
    _cleanup_close_ int pdir = -1;
    struct sbvm_left_process *p;
    long n;
    const char *paren = NULL;

    snprintf(name, sizeof(name), "%d", pid);
    pdir = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (pdir < 0)
        return;
    if (ARRAY_GROW(l->procs, l->nprocs + 1, palloc) < 0)
        return;
    p = &l->procs[l->nprocs++];
    p->pid = pid;
    p->state = '?';
    n = read_small_at(pdir, "stat", buf, sizeof(buf));
    /* "pid (comm) S ...": comm may hold any byte, ')' included. */
    if (n > 0 && (paren = strrchr(buf, ')')) && paren[1] == ' ' && paren[2])
        p->state = paren[2];
    /* A dead process its parent (ours: the init, the exec server) has not
     * reaped yet holds nothing and is about to go. */
    if (p->state == 'Z' && paren && paren[3] == ' ' && strtol(paren + 4, NULL, 10) <= own_pids) {
        l->nprocs--;
        return;
    }
    n = read_small_at(pdir, "cmdline", buf, sizeof(buf));
    if (before_exec(pdir, buf, n)) {
        /* Stopped before it ran the program: what it holds is ours (the
         * sandbox's sockets), and its command line would be the
         * supervisor's, --secret values and all. */
        p->argv = "(sandboxvm, before it ran the guest's program)";
        return;
    }
    if (n > 0) {
        while (n > 0 && buf[n - 1] == '\0')
            n--;
        for (long i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        p->argv = keep(l, buf, (size_t)n);
    } else {
        /* A kernel thread or a zombie: the name in brackets. */
        n = read_small_at(pdir, "comm", buf + 1, sizeof(buf) - 2);
        if (n > 0 && buf[n] == '\n')
            n--;
        buf[0] = '[';
        buf[n > 0 ? n + 1 : 1] = ']';
        p->argv = keep(l, buf, (size_t)(n > 0 ? n + 2 : 2));
    }
    take_fds(l, pdir, pid, falloc);
}

/* The owner of a socket inode, from the fds already listed. */
static int socket_owner(const struct ledger *l, unsigned long inode)
{
    char want[48];

    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    for (size_t i = 0; i < l->nfds; i++)
        if (streq(l->fds[i].target, want))
            return l->fds[i].pid;
    return -1;
}

static void add_listener(struct ledger *l, size_t *alloc, int pid, const char *proto,
                         const char *local)
{
    struct sbvm_left_listener *s;

    /* No process of the sandbox holds it: sandboxvm's own (the proxy
     * --net allow listens on, which the supervisor holds). */
    if (pid < 0)
        return;

    if (l->nlisteners >= 1024) {
        l->truncated = true;
        return;
    }
    if (ARRAY_GROW(l->listeners, l->nlisteners + 1, alloc) < 0)
        return;
    s = &l->listeners[l->nlisteners++];
    s->pid = pid;
    s->proto = proto;
    s->local = keep(l, local, strlen(local));
}

/* /proc/net/{tcp,udp}{,6}: "sl local rem st ... inode". */
static void take_inet(struct ledger *l, int netfd, const char *file, const char *proto, bool v6,
                      int want_state, size_t *alloc)
{
    _cleanup_close_ int fd = openat(netfd, file, O_RDONLY | O_CLOEXEC);
    FILE *f;
    char line[512];

    if (fd < 0 || !(f = fdopen(fd, "r")))
        return;
    fd = -1;
    if (!fgets(line, sizeof(line), f)) { /* header */
        fclose(f);
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        char local[80], addr[64];
        unsigned port, st;
        unsigned long inode;
        unsigned char b[16];

        if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", local, &port,
                   &st, &inode) != 4 ||
            (int)st != want_state)
            continue;
        if (!v6 && strlen(local) == 8) {
            unsigned v = (unsigned)strtoul(local, NULL, 16);
            snprintf(addr, sizeof(addr), "%u.%u.%u.%u:%u", v & 0xff, (v >> 8) & 0xff,
                     (v >> 16) & 0xff, v >> 24, port);
        } else if (v6 && strlen(local) == 32) {
            /* Four host-order 32-bit words. */
            for (int w = 0; w < 4; w++) {
                char word[9];
                unsigned v;
                memcpy(word, local + w * 8, 8);
                word[8] = '\0';
                v = (unsigned)strtoul(word, NULL, 16);
                for (int k = 0; k < 4; k++)
                    b[w * 4 + k] = (unsigned char)(v >> (8 * k));
            }
            /* The usual short form ([::1], [::ffff:127.0.0.1]). */
            char text[INET6_ADDRSTRLEN];
            if (!inet_ntop(AF_INET6, b, text, sizeof(text)))
                continue;
            snprintf(addr, sizeof(addr), "[%s]:%u", text, port);
        } else {
            continue;
        }
        add_listener(l, alloc, socket_owner(l, inode), proto, addr);
    }
    fclose(f);
}

/* /proc/net/unix: listening sockets have __SO_ACCEPTCON (0x10000). */
static void take_unix(struct ledger *l, int netfd, size_t *alloc)
{
    _cleanup_close_ int fd = openat(netfd, "unix", O_RDONLY | O_CLOEXEC);
    FILE *f;
    char line[512];

    if (fd < 0 || !(f = fdopen(fd, "r")))
        return;
    fd = -1;
    if (!fgets(line, sizeof(line), f)) {
        fclose(f);
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned long flags, inode;
        char path[256] = "";
        int n;

        n = sscanf(line, "%*s %*s %*s %lx %*s %*s %lu %255s", &flags, &inode, path);
        if (n < 2 || !(flags & 0x10000))
            continue;
        add_listener(l, alloc, socket_owner(l, inode), "unix", path[0] ? path : "(unnamed)");
    }
    fclose(f);
}

/* Walking a scratch: what is the guest's, and what is sandboxvm's. */
struct walk {
    struct ledger *l;
    const struct ledger_skip *skip;
    dev_t dev; /* the scratch's own filesystem */
    size_t *alloc;
};

static bool is_mount_point(const struct ledger_skip *s, const char *path)
{
    for (size_t i = 0; s && i < s->nmount_points; i++)
        if (streq(s->mount_points[i], path))
            return true;
    return false;
}

static bool is_marked(const struct ledger_skip *s, const struct stat *st)
{
    for (size_t i = 0; s && i < s->nmarks; i++) {
        const struct ledger_mark *m = &s->marks[i];
        if (m->ino == (uint64_t)st->st_ino && m->dev == (uint64_t)st->st_dev &&
            m->ctime_sec == (int64_t)st->st_ctim.tv_sec &&
            m->ctime_nsec == (int64_t)st->st_ctim.tv_nsec)
            return true;
    }
    return false;
}

/* Whether the entry at path is sandboxvm's and beyond the guest's: a mount
 * point, or what lies beyond one (another filesystem). */
static bool not_the_guests(const struct ledger_skip *s, dev_t dev, const char *path,
                           const struct stat *st)
{
    return st->st_dev != dev || is_mount_point(s, path);
}

static void add_file(struct walk *w, const char *path, size_t len, const char *kind, uint64_t size)
{
    struct ledger *l = w->l;

    if (l->nfiles >= LEDGER_FILES_MAX) {
        l->truncated = true;
        return;
    }
    if (ARRAY_GROW(l->files, l->nfiles + 1, w->alloc) < 0)
        return;
    l->files[l->nfiles].path = keep(l, path, len);
    l->files[l->nfiles].kind = kind;
    l->files[l->nfiles].size = size;
    l->nfiles++;
}

/* Lists what the guest left below dfd (taken over); the number of entries
 * the directory holds, whoever's they are. */
static size_t walk_files(struct walk *w, int dfd, struct strbuf *path, int depth)
{
    DIR *d;
    struct dirent *e;
    size_t base = path->len, entries = 0;

    if (depth > LEDGER_DEPTH_MAX || !(d = fdopendir(dfd))) {
        close(dfd);
        w->l->truncated |= depth > LEDGER_DEPTH_MAX;
        return 1; /* not known to be empty */
    }
    while ((e = readdir(d))) {
        struct stat st;

        if (streq(e->d_name, ".") || streq(e->d_name, ".."))
            continue;
        entries++;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        strbuf_truncate(path, base);
        strbuf_addch(path, '/');
        strbuf_addstr(path, e->d_name);
        if (not_the_guests(w->skip, w->dev, path->buf, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            size_t held = sub >= 0 ? walk_files(w, sub, path, depth + 1) : 1;
            /* An empty directory the guest left (a marked one is ours). */
            if (held == 0 && !is_marked(w->skip, &st))
                add_file(w, path->buf, path->len, "directory", 0);
            continue;
        }
        if (is_marked(w->skip, &st))
            continue;
        if (w->l->truncated && w->l->nfiles >= LEDGER_FILES_MAX)
            break;
        add_file(w, path->buf, path->len,
                 S_ISREG(st.st_mode)    ? "file"
                 : S_ISLNK(st.st_mode)  ? "symlink"
                 : S_ISFIFO(st.st_mode) ? "fifo"
                 : S_ISSOCK(st.st_mode) ? "socket"
                                        : "device",
                 S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
    }
    strbuf_truncate(path, base);
    closedir(d);
    return entries;
}

int ledger_take(int rootfd, const struct ledger_scratch *sc, size_t nsc,
                const struct ledger_skip *skip, int own_pids, struct ledger **out)
{
    struct ledger *l = calloc(1, sizeof(*l));
    size_t palloc = 0, falloc = 0, salloc = 0, filealloc = 0;
    _cleanup_close_ int procfd = -1;
    struct strbuf path = STRBUF_INIT;
    int netfd = -1, dfd;
    DIR *d;
    struct dirent *e;

    if (!l)
        return -ENOMEM;
    if (rootfd >= 0)
        procfd = openat2_at(rootfd, "proc", O_RDONLY | O_DIRECTORY,
                            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    d = procfd >= 0 ? fdopendir(dup(procfd)) : NULL;
    while (d && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        /* Everything but sandboxvm's own: the init, a live sandbox's exec
         * server. */
        if (*end || pid <= own_pids)
            continue;
        if (l->nprocs >= LEDGER_PROCS_MAX) {
            l->truncated = true;
            break;
        }
        take_process(l, procfd, (int)pid, own_pids, &palloc, &falloc);
    }
    if (d)
        closedir(d);
    /* The sandbox's network namespace, as its init sees it; only when a
     * process still holds a socket (reading the TCP tables walks the
     * kernel's whole connection hash, milliseconds on a big machine). */
    for (size_t i = 0; i < l->nfds && netfd == -1; i++)
        if (streq(l->fds[i].kind, "socket"))
            netfd = -2;
    if (netfd == -2)
        netfd = openat(procfd, "1/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (netfd >= 0) {
        take_inet(l, netfd, "tcp", "tcp", false, 0x0a, &salloc);
        take_inet(l, netfd, "tcp6", "tcp6", true, 0x0a, &salloc);
        take_inet(l, netfd, "udp", "udp", false, 0x07, &salloc);
        take_inet(l, netfd, "udp6", "udp6", true, 0x07, &salloc);
        take_unix(l, netfd, &salloc);
        close(netfd);
    }
    for (size_t i = 0; i < nsc; i++) {
        struct walk w = { l, skip, 0, &filealloc };
        struct stat st;
        if (sc[i].fd < 0 || fstat(sc[i].fd, &st) < 0 ||
            (dfd = openat(sc[i].fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            continue;
        w.dev = st.st_dev;
        strbuf_reset(&path);
        strbuf_addstr(&path, sc[i].path);
        walk_files(&w, dfd, &path, 0);
    }
    strbuf_release(&path);
    *out = l;
    return 0;
}

static int mark_dir(int dfd, dev_t dev, int depth, struct ledger_mark **v, size_t *n, size_t *alloc)
{
    DIR *d = fdopendir(dfd);
    struct dirent *e;
    int r = 0;

    if (!d) {
        close(dfd);
        return 0;
    }
    while (r == 0 && (e = readdir(d))) {
        struct stat st;
        if (streq(e->d_name, ".") || streq(e->d_name, "..") ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
            continue;
        if (*n >= LEDGER_FILES_MAX)
            break; /* beyond what the ledger would list anyway */
        if (ARRAY_GROW(*v, *n + 1, alloc) < 0) {
            r = -ENOMEM;
            break;
        }
        (*v)[(*n)++] =
            (struct ledger_mark){ (uint64_t)st.st_dev, (uint64_t)st.st_ino,
                                  (int64_t)st.st_ctim.tv_sec, (int64_t)st.st_ctim.tv_nsec };
        if (S_ISDIR(st.st_mode) && depth < LEDGER_DEPTH_MAX) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                r = mark_dir(sub, dev, depth + 1, v, n, alloc);
        }
    }
    closedir(d);
    return r;
}

int ledger_mark(const struct ledger_scratch *sc, size_t nsc, struct ledger_mark **v, size_t *n)
{
    size_t alloc = *n;

    for (size_t i = 0; i < nsc; i++) {
        struct stat st;
        int dfd, r;
        if (sc[i].fd < 0 || fstat(sc[i].fd, &st) < 0 ||
            (dfd = openat(sc[i].fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            continue;
        r = mark_dir(dfd, st.st_dev, 0, v, n, &alloc);
        if (r < 0)
            return r;
    }
    return 0;
}

void ledger_free(struct ledger *l)
{
    if (!l)
        return;
    free(l->procs);
    free(l->fds);
    free(l->listeners);
    free(l->files);
    strv_release(&l->strings);
    net_attempts_free(l->net, l->nnet);
    free(l);
}

SBVM_API size_t sbvm_result_left_processes(const sbvm_result *r, const struct sbvm_left_process **v)
{
    *v = r->ledger ? r->ledger->procs : NULL;
    return r->ledger ? r->ledger->nprocs : 0;
}

SBVM_API size_t sbvm_result_left_fds(const sbvm_result *r, const struct sbvm_left_fd **v)
{
    *v = r->ledger ? r->ledger->fds : NULL;
    return r->ledger ? r->ledger->nfds : 0;
}

SBVM_API size_t sbvm_result_left_listeners(const sbvm_result *r,
                                           const struct sbvm_left_listener **v)
{
    *v = r->ledger ? r->ledger->listeners : NULL;
    return r->ledger ? r->ledger->nlisteners : 0;
}

SBVM_API size_t sbvm_result_left_files(const sbvm_result *r, const struct sbvm_left_file **v)
{
    *v = r->ledger ? r->ledger->files : NULL;
    return r->ledger ? r->ledger->nfiles : 0;
}

SBVM_API int sbvm_result_left_truncated(const sbvm_result *r)
{
    return r->ledger && r->ledger->truncated;
}

/* ---- keeping the scratch ------------------------------------------------ */

struct keep_walk {
    const struct ledger_skip *skip;
    dev_t dev;
    struct copy_limits lim;
};

/* Copies what the guest left in sdir (taken over) into ddir: how many
 * entries were copied, or a negative errno; *seen: how many it holds. */
static long keep_dir(struct keep_walk *k, int sdir, int ddir, struct strbuf *path, int depth,
                     size_t *seen)
{
    DIR *d = fdopendir(sdir);
    struct dirent *e;
    size_t base = path->len;
    long copied = 0;

    *seen = 0;
    if (!d) {
        close(sdir);
        return -errno;
    }
    while ((e = readdir(d))) {
        struct stat st;
        long r;

        if (streq(e->d_name, ".") || streq(e->d_name, ".."))
            continue;
        (*seen)++;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        strbuf_truncate(path, base);
        strbuf_addch(path, '/');
        strbuf_addstr(path, e->d_name);
        if (not_the_guests(k->skip, k->dev, path->buf, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            size_t held = 0;
            int s2, d2;
            if (depth >= COPYTREE_DEPTH_MAX) {
                copied = -ELOOP;
                break;
            }
            s2 = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 < 0)
                continue;
            if (mkdirat(ddir, e->d_name, 0755) < 0 ||
                (d2 = openat(ddir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
                    0) {
                copied = -errno;
                close(s2);
                break;
            }
            r = keep_dir(k, s2, d2, path, depth + 1, &held);
            close(d2);
            if (r < 0) {
                copied = r;
                break;
            }
            /* Kept when something of the guest's is in it, or when the
             * guest left it empty; not when it held only sandboxvm's (the
             * directories leading to a mount point). */
            if (r == 0 && !(held == 0 && !is_marked(k->skip, &st))) {
                unlinkat(ddir, e->d_name, AT_REMOVEDIR);
                continue;
            }
            copied++;
            continue;
        }
        if (is_marked(k->skip, &st))
            continue;
        r = copy_entry_at(dirfd(d), e->d_name, ddir, e->d_name, &k->lim);
        if (r == -EINVAL || r == -ENOENT)
            continue; /* not a file, or gone meanwhile */
        if (r < 0) {
            copied = r;
            break;
        }
        copied++;
    }
    strbuf_truncate(path, base);
    closedir(d);
    return copied;
}

int ledger_keep_scratch(int tmpfd, const char *dest, uint64_t max_bytes,
                        const struct ledger_skip *skip, sbvm_error **err)
{
    struct keep_walk k = { skip, 0, { max_bytes, max_bytes, (uid_t)-1, (gid_t)-1 } };
    struct strbuf path = STRBUF_INIT;
    struct stat st;
    size_t held;
    int sdir, ddir;
    long r;

    if (mkdir(dest, 0700) < 0)
        return error_sys(err, errno, "keeping the scratch in %s", dest);
    ddir = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (ddir < 0)
        return error_sys(err, errno, "keeping the scratch in %s", dest);
    sdir = openat(tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sdir < 0 || fstat(sdir, &st) < 0) {
        r = -errno;
        if (sdir >= 0)
            close(sdir);
        close(ddir);
        return error_sys(err, (int)-r, "reading the guest's /tmp");
    }
    k.dev = st.st_dev;
    strbuf_addstr(&path, "/tmp");
    r = keep_dir(&k, sdir, ddir, &path, 0, &held);
    strbuf_release(&path);
    close(ddir);
    if (r < 0)
        return error_sys(err, (int)-r, "copying the guest's /tmp to %s", dest);
    return 0;
}
