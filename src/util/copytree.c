/* SPDX-License-Identifier: MIT */
/* copytree.c: see copytree.h. */
#include "util/copytree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/util.h"

static void own(int dirfd, const char *name, const struct copy_limits *l)
{
    if (l->uid != (uid_t)-1)
        (void)!fchownat(dirfd, name, l->uid, l->gid, AT_SYMLINK_NOFOLLOW);
}

/* Copies [from, to) of in to the same offsets of out; the budget pays for
 * what is written. */
static int copy_range(int in, int out, off_t from, off_t to, struct copy_limits *l)
{
    char buf[65536];

    if (lseek(in, from, SEEK_SET) < 0 || lseek(out, from, SEEK_SET) < 0)
        return -errno;
    while (from < to) {
        size_t want = (uint64_t)(to - from) < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
        long n = read_full(in, buf, want);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0; /* shrank meanwhile */
        if ((uint64_t)n > l->budget)
            return -EFBIG;
        l->budget -= (uint64_t)n;
        if (write_full(out, buf, (size_t)n) < 0)
            return -errno;
        from += n;
    }
    return 0;
}

/*
 * A regular file, holes kept as holes: a guest can make a file of any
 * apparent size in a few bytes of its scratch, and copying it out must not
 * write that size to the host's disk. Only its data is written (and paid
 * for), and a file larger than the whole budget is refused outright.
 */
static int copy_file(int sdir, const char *name, int ddir, const char *dname, struct copy_limits *l)
{
    _cleanup_close_ int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    _cleanup_close_ int out = -1;
    struct stat st;
    off_t pos = 0;
    int r;

    if (in < 0)
        return -errno;
    if (fstat(in, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    if ((uint64_t)st.st_size > l->total)
        return -EFBIG;
    /* Never a set-uid or set-gid bit on what is made (0755 at most). */
    out = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 st.st_mode & 0755);
    if (out < 0)
        return -errno;
    own(ddir, dname, l);
    while (pos < st.st_size) {
        off_t data = lseek(in, pos, SEEK_DATA), hole;
        if (data < 0 && errno == ENXIO)
            break; /* only a hole is left */
        if (data < 0) {
            /* No SEEK_DATA here: everything is data. */
            data = pos;
            hole = st.st_size;
        } else {
            hole = lseek(in, data, SEEK_HOLE);
            if (hole < 0 || hole > st.st_size)
                hole = st.st_size;
        }
        r = copy_range(in, out, data, hole, l);
        if (r < 0)
            return r;
        pos = hole;
    }
    /* The holes at the end, and the size. */
    if (ftruncate(out, st.st_size) < 0)
        return -errno;
    return 0;
}

static int copy_tree(int sdir, int ddir, int depth, struct copy_limits *l);

static int copy_one(int sdir, const char *name, int ddir, const char *dname, int depth,
                    struct copy_limits *l)
{
    struct stat st;
    char target[4096];
    ssize_t n;

    if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode)) {
        int s2, d2, r;
        if (depth >= COPYTREE_DEPTH_MAX)
            return -ELOOP;
        s2 = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s2 < 0)
            return -errno;
        if (mkdirat(ddir, dname, 0755) < 0 ||
            (d2 = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
            r = -errno;
            close(s2);
            return r;
        }
        own(ddir, dname, l);
        r = copy_tree(s2, d2, depth + 1, l);
        close(d2);
        return r;
    }
    if (S_ISREG(st.st_mode))
        return copy_file(sdir, name, ddir, dname, l);
    if (S_ISLNK(st.st_mode)) {
        /* Recreated as text; never followed, here or later by us. */
        n = readlinkat(sdir, name, target, sizeof(target) - 1);
        if (n < 0)
            return -errno;
        target[n] = '\0';
        if (symlinkat(target, ddir, dname) < 0)
            return -errno;
        own(ddir, dname, l);
        return 0;
    }
    return -EINVAL; /* a device, FIFO or socket */
}

/* Takes sdir over. */
static int copy_tree(int sdir, int ddir, int depth, struct copy_limits *l)
{
    DIR *d = fdopendir(sdir);
    struct dirent *e;
    int r = 0;

    if (!d) {
        r = -errno;
        close(sdir);
        return r;
    }
    while (r >= 0 && (e = readdir(d))) {
        if (streq(e->d_name, ".") || streq(e->d_name, ".."))
            continue;
        r = copy_one(dirfd(d), e->d_name, ddir, e->d_name, depth, l);
        /* Entries that vanished meanwhile, or are not files: skipped. */
        if (r == -ENOENT || r == -EINVAL)
            r = 0;
    }
    closedir(d);
    return r < 0 ? r : 0;
}

int copy_entry_at(int sdir, const char *name, int ddir, const char *dname, struct copy_limits *l)
{
    return copy_one(sdir, name, ddir, dname, 0, l);
}

int copy_contents_at(int sdir, int ddir, struct copy_limits *l)
{
    int s = openat(sdir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (s < 0)
        return -errno;
    return copy_tree(s, ddir, 0, l);
}
