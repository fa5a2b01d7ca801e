/* SPDX-License-Identifier: MIT */
/* disk.c: raw disk images: open or create, bounded reads and writes. */
#include "devices/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/range.h"
#include "util/util.h"

/* A serial number from the file's identity: stable while the file lives. */
static void make_serial(struct disk *dk, const struct stat *st)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over device and inode */
    uint64_t parts[2] = { (uint64_t)st->st_dev, (uint64_t)st->st_ino };
    const uint8_t *b = (const uint8_t *)parts;

    for (size_t i = 0; i < sizeof(parts); i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    snprintf(dk->serial, sizeof(dk->serial), "SBVM%016llX", (unsigned long long)h);
}

static int disk_setup(struct disk *dk, int fd, const char *name, bool ro, sbvm_error **err)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return error_sys(err, errno, "disk image %s", name);
    if (!S_ISREG(st.st_mode))
        return error_set(err, EINVAL, "disk image %s: not a regular file", name);
    if (st.st_size < (off_t)DISK_SECTOR)
        return error_set(err, EINVAL, "disk image %s: smaller than one sector (512 bytes)", name);
    dk->fd = fd;
    dk->size = (uint64_t)st.st_size / DISK_SECTOR * DISK_SECTOR;
    dk->ro = ro;
    dk->path = strdup(name);
    if (!dk->path)
        return error_set(err, ENOMEM, "disk image %s: out of memory", name);
    make_serial(dk, &st);
    return 0;
}

int disk_open(struct disk *dk, const char *path, bool ro, uint64_t create_size, sbvm_error **err)
{
    int fd, rc;

    memset(dk, 0, sizeof(*dk));
    dk->fd = -1;
    fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT && create_size > 0) {
        if (create_size % DISK_SECTOR)
            return error_set(err, EINVAL, "disk image %s: size %llu is not a multiple of 512", path,
                             (unsigned long long)create_size);
        if (create_size > (uint64_t)INT64_MAX)
            return error_set(err, EINVAL, "disk image %s: size too large", path);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);
        if (fd >= 0 && ftruncate(fd, (off_t)create_size) < 0) {
            rc = errno;
            close(fd);
            unlink(path);
            return error_sys(err, rc, "creating disk image %s", path);
        }
    }
    if (fd < 0)
        return error_sys(err, errno, "opening disk image %s", path);
    rc = disk_setup(dk, fd, path, ro, err);
    if (rc < 0) {
        close(fd);
        dk->fd = -1;
    }
    return rc;
}

int disk_from_fd(struct disk *dk, int fd, const char *name, bool ro, sbvm_error **err)
{
    memset(dk, 0, sizeof(*dk));
    dk->fd = -1;
    return disk_setup(dk, fd, name, ro, err);
}

void disk_close(struct disk *dk)
{
    if (dk->fd >= 0)
        close(dk->fd);
    dk->fd = -1;
    free(dk->path);
    dk->path = NULL;
}

/* preadv/pwritev accept at most IOV_MAX segments and move at most about
 * 2 GiB per call: go in steps, and treat a short transfer (end of file:
 * the file shrank under us) as an I/O error. */
static int transfer(struct disk *dk, uint64_t off, const struct iovec *iov, unsigned n,
                    uint64_t len, bool write)
{
    struct iovec local[64];
    unsigned i = 0;
    size_t skip = 0;

    if (!range_ok(off, len, dk->size))
        return -EINVAL;
    if (write && dk->ro)
        return -EROFS;
    while (len > 0 && i < n) {
        unsigned k = 0;
        uint64_t batch = 0;
        ssize_t got;

        /* Never more than len: the segments may describe more room. */
        while (i + k < n && k < ARRAY_SIZE(local) && batch < (1u << 30) && batch < len) {
            local[k] = iov[i + k];
            if (k == 0) {
                local[0].iov_base = (uint8_t *)local[0].iov_base + skip;
                local[0].iov_len -= skip;
            }
            if (local[k].iov_len > len - batch)
                local[k].iov_len = (size_t)(len - batch);
            batch += local[k].iov_len;
            k++;
        }
        got = write ? pwritev(dk->fd, local, (int)k, (off_t)off)
                    : preadv(dk->fd, local, (int)k, (off_t)off);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            return -EIO;
        off += (uint64_t)got;
        len -= (uint64_t)got > len ? len : (uint64_t)got;
        /* Advance through the segments by what moved. */
        size_t moved = (size_t)got;
        while (moved > 0 && i < n) {
            size_t left = iov[i].iov_len - skip;
            if (moved < left) {
                skip += moved;
                moved = 0;
            } else {
                moved -= left;
                skip = 0;
                i++;
            }
        }
    }
    return len == 0 ? 0 : -EIO;
}

int disk_readv(struct disk *dk, uint64_t off, const struct iovec *iov, unsigned n, uint64_t len)
{
    return transfer(dk, off, iov, n, len, false);
}

int disk_writev(struct disk *dk, uint64_t off, const struct iovec *iov, unsigned n, uint64_t len)
{
    return transfer(dk, off, iov, n, len, true);
}

int disk_flush(struct disk *dk)
{
    if (dk->ro)
        return 0;
    return fdatasync(dk->fd) < 0 ? -errno : 0;
}

static int zero_by_writing(struct disk *dk, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[65536];

    while (len > 0) {
        size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
        ssize_t w = pwrite(dk->fd, zeros, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        off += (uint64_t)w;
        len -= (uint64_t)w;
    }
    return 0;
}

int disk_discard(struct disk *dk, uint64_t off, uint64_t len)
{
    if (!range_ok(off, len, dk->size))
        return -EINVAL;
    if (dk->ro)
        return -EROFS;
    if (len == 0)
        return 0;
    if (fallocate(dk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    /* A file system without holes: the data must still read as zeros. */
    return zero_by_writing(dk, off, len);
}

int disk_write_zeroes(struct disk *dk, uint64_t off, uint64_t len)
{
    if (!range_ok(off, len, dk->size))
        return -EINVAL;
    if (dk->ro)
        return -EROFS;
    if (len == 0)
        return 0;
    if (fallocate(dk->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    return zero_by_writing(dk, off, len);
}
