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

static int copy_file(int sdir, const char *name, int ddir, const char *dname, struct copy_limits *l)
{
    _cleanup_close_ int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    _cleanup_close_ int out = -1;
    char buf[65536];
    struct stat st;

    if (in < 0)
        return -errno;
    if (fstat(in, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    out = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 st.st_mode & 0755);
    if (out < 0)
        return -errno;
    own(ddir, dname, l);
    for (;;) {
        long n = read_full(in, buf, sizeof(buf));
        if (n <= 0)
            return (int)n;
        if ((uint64_t)n > l->budget)
            return -EFBIG;
        l->budget -= (uint64_t)n;
        if (write_full(out, buf, (size_t)n) < 0)
            return -errno;
    }
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
