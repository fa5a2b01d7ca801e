/* SPDX-License-Identifier: MIT */
/*
 * disk.h: a disk image behind a device model: a raw file, created at a given
 * size when it does not exist, read-only on request. Every access is bounded
 * by the image's size in whole 512-byte sectors; the device models check
 * their requests against it before they get here, and this checks again.
 */
#ifndef SBVM_DEVICES_DISK_H
#define SBVM_DEVICES_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sandboxvm/sandboxvm.h"

#define DISK_SECTOR 512u

struct disk {
    int fd;
    uint64_t size; /* bytes visible: the file's size rounded down to sectors */
    bool ro;
    char *path;
    char serial[21]; /* a stable identity: VPD page 0x80, GET_ID */
};

/*
 * Opens (or, with create_size > 0 and no such file, creates at that size,
 * a multiple of 512) the image at path. An existing file's size wins over
 * create_size. A directory, a device that is not a regular file, or an
 * empty image is refused.
 */
int disk_open(struct disk *dk, const char *path, bool ro, uint64_t create_size, sbvm_error **err);
/* The same from an fd the caller opened (taken over), for a confined server. */
int disk_from_fd(struct disk *dk, int fd, const char *name, bool ro, sbvm_error **err);
void disk_close(struct disk *dk);

/* [off, off + len) in bytes; 0 or -errno: -EINVAL out of range, -EROFS,
 * -EIO for a short transfer (the file shrank under us). */
int disk_readv(struct disk *dk, uint64_t off, const struct iovec *iov, unsigned n, uint64_t len);
int disk_writev(struct disk *dk, uint64_t off, const struct iovec *iov, unsigned n, uint64_t len);
int disk_flush(struct disk *dk);
/* Deallocates (discard) or zeroes [off, off + len): reads return zeros after. */
int disk_discard(struct disk *dk, uint64_t off, uint64_t len);
int disk_write_zeroes(struct disk *dk, uint64_t off, uint64_t len);

static inline uint64_t disk_sectors(const struct disk *dk)
{
    return dk->size / DISK_SECTOR;
}

#endif
