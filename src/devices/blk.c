/* SPDX-License-Identifier: MIT */
/*
 * blk.c: virtio-blk (virtio 1.x "Block Device"): IN, OUT, FLUSH, GET_ID,
 * DISCARD and WRITE_ZEROES against a raw image; anything else is UNSUPP.
 *
 * A request is a 16-byte header the device reads, the data, and a status
 * byte the device writes last. The header, the data and the status may lie
 * in any descriptors (ANY_LAYOUT / VERSION_1 framing, which also covers the
 * legacy framing). A request with no room for its header or its status
 * cannot be answered at all: the device stops (NEEDS_RESET), as QEMU does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/devices.h"
#include "util/error.h"
#include "util/util.h"

#define BLK_T_IN           0u
#define BLK_T_OUT          1u
#define BLK_T_FLUSH        4u
#define BLK_T_GET_ID       8u
#define BLK_T_DISCARD      11u
#define BLK_T_WRITE_ZEROES 13u

#define BLK_S_OK     0u
#define BLK_S_IOERR  1u
#define BLK_S_UNSUPP 2u

#define BLK_F_SIZE_MAX     1
#define BLK_F_SEG_MAX      2
#define BLK_F_RO           5
#define BLK_F_BLK_SIZE     6
#define BLK_F_FLUSH        9
#define BLK_F_DISCARD      13
#define BLK_F_WRITE_ZEROES 14

#define BLK_ID_BYTES 20u
/* Segments of one request the driver may use (data only): fits a 256-entry
 * queue without indirect descriptors, with the header and the status. */
#define BLK_SEG_MAX 254u
/* Ranges in one DISCARD / WRITE_ZEROES request, and sectors in each. */
#define BLK_MAX_RANGES  16u
#define BLK_MAX_SECTORS (UINT32_C(1) << 22)

/* struct virtio_blk_config, up to write_zeroes_may_unmap (60 bytes). */
#define BLK_CFG_CAPACITY        0
#define BLK_CFG_SIZE_MAX        8
#define BLK_CFG_SEG_MAX         12
#define BLK_CFG_BLK_SIZE        20
#define BLK_CFG_WRITEBACK       32
#define BLK_CFG_NUM_QUEUES      34
#define BLK_CFG_MAX_DISCARD     36
#define BLK_CFG_MAX_DISCARD_SEG 40
#define BLK_CFG_DISCARD_ALIGN   44
#define BLK_CFG_MAX_WZ          48
#define BLK_CFG_MAX_WZ_SEG      52
#define BLK_CFG_WZ_MAY_UNMAP    56
#define BLK_CFG_SIZE            60

struct blk {
    struct disk disk;
    struct iovec iov[VQ_MAX_SEGS];
};

struct blk_range {
    uint64_t sector;
    uint32_t num;
    uint32_t flags; /* bit 0: unmap (WRITE_ZEROES only) */
};

static uint64_t blk_features(struct vdev *d)
{
    struct blk *b = d->priv;
    uint64_t f = BIT64(BLK_F_SEG_MAX) | BIT64(BLK_F_BLK_SIZE) | BIT64(BLK_F_FLUSH);

    if (b && b->disk.ro)
        f |= BIT64(BLK_F_RO);
    else
        f |= BIT64(BLK_F_DISCARD) | BIT64(BLK_F_WRITE_ZEROES);
    return f;
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void blk_config_read(struct vdev *d, uint8_t *cfg)
{
    struct blk *b = d->priv;

    put64(cfg + BLK_CFG_CAPACITY, disk_sectors(&b->disk));
    put32(cfg + BLK_CFG_SEG_MAX, BLK_SEG_MAX);
    put32(cfg + BLK_CFG_BLK_SIZE, DISK_SECTOR);
    cfg[BLK_CFG_WRITEBACK] = 1;
    put16(cfg + BLK_CFG_NUM_QUEUES, 1);
    put32(cfg + BLK_CFG_MAX_DISCARD, BLK_MAX_SECTORS);
    put32(cfg + BLK_CFG_MAX_DISCARD_SEG, BLK_MAX_RANGES);
    put32(cfg + BLK_CFG_DISCARD_ALIGN, 1);
    put32(cfg + BLK_CFG_MAX_WZ, BLK_MAX_SECTORS);
    put32(cfg + BLK_CFG_MAX_WZ_SEG, BLK_MAX_RANGES);
    cfg[BLK_CFG_WZ_MAY_UNMAP] = 1;
}

static const char *status_name(uint8_t s)
{
    return s == BLK_S_OK ? "OK" : s == BLK_S_IOERR ? "IOERR" : "UNSUPP";
}

/* Sector range [sector, sector + n) inside the disk? */
static bool in_disk(const struct blk *b, uint64_t sector, uint64_t n)
{
    uint64_t cap = disk_sectors(&b->disk);

    return sector <= cap && n <= cap - sector;
}

static uint8_t blk_rw(struct vdev *d, const struct vq_req *r, bool write, uint64_t sector,
                      uint64_t len, struct vdev_reqinfo *info)
{
    struct blk *b = d->priv;
    unsigned n;
    int rc;

    info->has_lba = true;
    info->lba = sector;
    info->blocks = len / DISK_SECTOR;
    info->wrote = write;
    if (len % DISK_SECTOR) {
        snprintf(info->detail, sizeof(info->detail), "%" PRIu64 " bytes: not whole sectors", len);
        return BLK_S_IOERR;
    }
    if (!in_disk(b, sector, len / DISK_SECTOR)) {
        snprintf(info->detail, sizeof(info->detail), "past the end (%" PRIu64 " sectors)",
                 disk_sectors(&b->disk));
        return BLK_S_IOERR;
    }
    if (write && b->disk.ro) {
        snprintf(info->detail, sizeof(info->detail), "the image is read-only");
        return BLK_S_IOERR;
    }
    if (len == 0)
        return BLK_S_OK;
    /* Readable data follows the 16-byte header; writable data precedes the
     * status byte. */
    n = vq_slice(r, !write, write ? 16 : 0, len, b->iov, VQ_MAX_SEGS);
    if (n == 0)
        return BLK_S_IOERR;
    rc = write ? disk_writev(&b->disk, sector * DISK_SECTOR, b->iov, n, len)
               : disk_readv(&b->disk, sector * DISK_SECTOR, b->iov, n, len);
    if (rc < 0) {
        snprintf(info->detail, sizeof(info->detail), "%s", errno_text(-rc));
        return BLK_S_IOERR;
    }
    info->bytes = len;
    return BLK_S_OK;
}

static uint8_t blk_ranges(struct vdev *d, const struct vq_req *r, bool zeroes, uint64_t len,
                          struct vdev_reqinfo *info)
{
    struct blk *b = d->priv;
    struct blk_range rg[BLK_MAX_RANGES];
    size_t count = len / sizeof(rg[0]);

    info->wrote = true;
    if (b->disk.ro) {
        snprintf(info->detail, sizeof(info->detail), "the image is read-only");
        return BLK_S_IOERR;
    }
    if (len % sizeof(rg[0]) || count == 0 || count > BLK_MAX_RANGES) {
        snprintf(info->detail, sizeof(info->detail), "%" PRIu64 " bytes of ranges", len);
        return BLK_S_UNSUPP;
    }
    vq_read(r, 16, rg, len);
    /* Check every range before touching any. */
    for (size_t i = 0; i < count; i++) {
        if (rg[i].num > BLK_MAX_SECTORS || !in_disk(b, rg[i].sector, rg[i].num)) {
            snprintf(info->detail, sizeof(info->detail),
                     "range %zu: sector %" PRIu64 " x%u outside the disk", i, rg[i].sector,
                     rg[i].num);
            return BLK_S_IOERR;
        }
        if (rg[i].flags & ~(zeroes ? 1u : 0u)) {
            snprintf(info->detail, sizeof(info->detail), "range %zu: flags 0x%x", i, rg[i].flags);
            return BLK_S_UNSUPP;
        }
    }
    info->has_lba = true;
    info->lba = rg[0].sector;
    for (size_t i = 0; i < count; i++) {
        uint64_t off = rg[i].sector * DISK_SECTOR, n = (uint64_t)rg[i].num * DISK_SECTOR;
        int rc = zeroes && !(rg[i].flags & 1) ? disk_write_zeroes(&b->disk, off, n)
                                              : disk_discard(&b->disk, off, n);
        if (rc < 0) {
            snprintf(info->detail, sizeof(info->detail), "%s", errno_text(-rc));
            return BLK_S_IOERR;
        }
        info->blocks += rg[i].num;
    }
    return BLK_S_OK;
}

static long blk_request(struct vdev *d, unsigned q, const struct vq_req *r,
                        struct vdev_reqinfo *info, char *why, size_t whylen)
{
    struct blk *b = d->priv;
    struct {
        uint32_t type;
        uint32_t ioprio;
        uint64_t sector;
    } hdr;
    uint64_t out, in;
    uint8_t st;
    long used = 1;

    (void)q;
    if (r->rlen < sizeof(hdr) || r->wlen < 1) {
        snprintf(why, whylen,
                 "no room for the header and the status (%" PRIu64 " readable, %" PRIu64
                 " writable bytes)",
                 r->rlen, r->wlen);
        return -EPROTO;
    }
    vq_read(r, 0, &hdr, sizeof(hdr));
    out = r->rlen - sizeof(hdr);
    in = r->wlen - 1;
    switch (hdr.type) {
    case BLK_T_IN:
        info->op = "IN";
        st = blk_rw(d, r, false, hdr.sector, in, info);
        if (st == BLK_S_OK)
            used += (long)in;
        break;
    case BLK_T_OUT:
        info->op = "OUT";
        st = blk_rw(d, r, true, hdr.sector, out, info);
        break;
    case BLK_T_FLUSH:
        info->op = "FLUSH";
        st = disk_flush(&b->disk) < 0 ? BLK_S_IOERR : BLK_S_OK;
        break;
    case BLK_T_GET_ID: {
        char id[BLK_ID_BYTES];
        uint64_t n = in < BLK_ID_BYTES ? in : BLK_ID_BYTES;

        info->op = "GET_ID";
        memset(id, 0, sizeof(id));
        memcpy(id, b->disk.serial, strnlen(b->disk.serial, sizeof(id)));
        vq_write(r, 0, id, n);
        used += (long)n;
        info->bytes = n;
        st = BLK_S_OK;
        break;
    }
    case BLK_T_DISCARD:
        info->op = "DISCARD";
        st = blk_ranges(d, r, false, out, info);
        break;
    case BLK_T_WRITE_ZEROES:
        info->op = "WRITE_ZEROES";
        st = blk_ranges(d, r, true, out, info);
        break;
    default:
        info->op = "?";
        snprintf(info->detail, sizeof(info->detail), "type %u", hdr.type);
        st = BLK_S_UNSUPP;
        break;
    }
    vq_write(r, in, &st, 1);
    info->status = status_name(st);
    info->failed = st != BLK_S_OK;
    return used;
}

static int blk_create(struct vdev *d, struct disk *disks, unsigned n, sbvm_error **err)
{
    struct blk *b;

    if (n != 1)
        return error_set(err, EINVAL, "virtio-blk takes exactly one disk image (given %u)", n);
    b = calloc(1, sizeof(*b));
    if (!b)
        return error_set(err, ENOMEM, "virtio-blk: out of memory");
    b->disk = disks[0];
    disks[0].fd = -1;
    disks[0].path = NULL;
    d->priv = b;
    return 0;
}

static void blk_destroy(struct vdev *d)
{
    struct blk *b = d->priv;

    if (b) {
        disk_close(&b->disk);
        free(b);
    }
    d->priv = NULL;
}

const struct vdev_ops virtio_blk_ops = {
    .name = "virtio-blk",
    .device_id = 2,
    .pci_class = 0x018000, /* mass storage, other */
    .nqueues = 1,
    .config_size = BLK_CFG_SIZE,
    .max_disks = 1,
    .create = blk_create,
    .features = blk_features,
    .config_read = blk_config_read,
    .request = blk_request,
    .destroy = blk_destroy,
};
