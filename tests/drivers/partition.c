/* SPDX-License-Identifier: MIT */
/*
 * partition.c: a driver layered on others: it opens the disk units of the
 * drivers loaded before it ("virtio-blk" and "virtio-scsi", units 0..),
 * reads each one's partition table (MBR, or GPT behind a protective MBR),
 * and registers every partition as a unit of its own, "part" N, whose
 * requests it bounds to the partition and passes down to the disk's unit.
 *
 * The tables are the disk's contents: hostile. Every field is bounded
 * against the disk's size; a GPT header is used only when its signature,
 * size and CRC32 check out, and its entries' CRC32 too. Extended MBR
 * partitions are not followed. Requests complete before begin_io returns
 * (the disk's request is waited for).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sandboxvm/driver.h"

#define MAX_PARTS 16

struct part {
    sbvm_unit *disk;
    char disk_name[32];
    unsigned disk_unit;
    uint64_t first, count; /* in 512-byte blocks */
    char kind[16];
    bool ro;
};

static const struct sbvm_driver_if *I;
static sbvm_driver *self;
static struct part *parts[MAX_PARTS];
static unsigned nparts;
static sbvm_unit *opened[8];
static unsigned nopened;

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int disk_io(sbvm_unit *u, uint16_t cmd, uint64_t off, void *buf, uint64_t len)
{
    struct sbvm_io io;

    memset(&io, 0, sizeof(io));
    io.size = sizeof(io);
    io.command = cmd;
    io.offset = off;
    io.length = len;
    io.data = buf;
    return I->do_io(u, &io);
}

static void add(sbvm_unit *u, const char *name, unsigned unit, uint64_t first, uint64_t count,
                const char *kind, bool ro)
{
    struct part *p;

    if (nparts == MAX_PARTS || count == 0 || !(p = I->alloc(self, sizeof(*p))))
        return;
    p->disk = u;
    snprintf(p->disk_name, sizeof(p->disk_name), "%s", name);
    p->disk_unit = unit;
    p->first = first;
    p->count = count;
    snprintf(p->kind, sizeof(p->kind), "%s", kind);
    p->ro = ro;
    I->unit_add(self, "part", nparts, p);
    I->log(self, SBVM_LOG_INFO, "part %u: %s %u, %s, blocks %llu..%llu", nparts, name, unit, kind,
           (unsigned long long)first, (unsigned long long)(first + count - 1));
    parts[nparts++] = p;
}

/* A GPT: header at LBA 1, its entries where it says. */
static bool read_gpt(sbvm_unit *u, const char *name, unsigned unit, uint64_t blocks, bool ro)
{
    uint8_t hdr[512], *ents;
    uint32_t hsize, nents, esize, crc;
    uint64_t elba, bytes;
    bool ok = false;

    if (disk_io(u, SBVM_IO_READ, 512, hdr, 512) < 0 || memcmp(hdr, "EFI PART", 8) != 0)
        return false;
    hsize = le32(hdr + 12);
    if (hsize < 92 || hsize > 512)
        return false;
    crc = le32(hdr + 16);
    memset(hdr + 16, 0, 4);
    if (crc32(hdr, hsize) != crc)
        return false;
    elba = le64(hdr + 72);
    nents = le32(hdr + 80);
    esize = le32(hdr + 84);
    if (esize < 128 || esize > 4096 || esize % 8 || nents == 0 || nents > 1024)
        return false;
    bytes = (uint64_t)nents * esize;
    bytes = (bytes + 511) & ~511ull;
    if (elba >= blocks || bytes / 512 > blocks - elba)
        return false;
    ents = I->alloc(self, bytes);
    if (!ents)
        return false;
    if (disk_io(u, SBVM_IO_READ, elba * 512, ents, bytes) == 0 &&
        crc32(ents, (size_t)nents * esize) == le32(hdr + 88)) {
        ok = true;
        for (uint32_t i = 0; i < nents; i++) {
            const uint8_t *e = ents + (size_t)i * esize;
            uint64_t first = le64(e + 32), last = le64(e + 40);
            static const uint8_t zero[16];
            if (!memcmp(e, zero, 16))
                continue; /* unused */
            if (first > last || last >= blocks)
                continue; /* lies about where it is */
            add(u, name, unit, first, last - first + 1, "gpt", ro);
        }
    }
    I->free(self, ents);
    return ok;
}

static void read_table(sbvm_unit *u, const char *name, unsigned unit)
{
    struct sbvm_unit_info info;
    uint8_t mbr[512];

    if (disk_io(u, SBVM_IO_INFO, 0, &info, sizeof(info)) < 0 || info.block_size != 512 ||
        disk_io(u, SBVM_IO_READ, 0, mbr, 512) < 0)
        return;
    if (mbr[510] != 0x55 || mbr[511] != 0xaa) {
        I->log(self, SBVM_LOG_INFO, "%s %u: no partition table", name, unit);
        return;
    }
    if (mbr[0x1be + 4] == 0xee &&
        read_gpt(u, name, unit, info.blocks, info.flags & SBVM_UNIT_READONLY))
        return;
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = mbr + 0x1be + 16 * i;
        uint64_t first = le32(e + 8), count = le32(e + 12);
        if (e[4] == 0 || e[4] == 0xee || e[4] == 0x05 || e[4] == 0x0f || e[4] == 0x85)
            continue; /* empty, protective, extended (not followed) */
        if (first >= info.blocks || count > info.blocks - first)
            continue;
        add(u, name, unit, first, count, "mbr", info.flags & SBVM_UNIT_READONLY);
    }
}

static int part_init(sbvm_driver *d, const struct sbvm_driver_if *ifc)
{
    static const char *const below[] = { "virtio-blk", "virtio-scsi" };

    I = ifc;
    self = d;
    for (unsigned k = 0; k < 2; k++)
        for (unsigned unit = 0; unit < 8 && nopened < 8; unit++) {
            sbvm_unit *u;
            if (I->unit_open(d, below[k], unit, &u) < 0)
                break;
            opened[nopened++] = u;
            read_table(u, below[k], unit);
        }
    return nparts ? 0 : -ENODEV;
}

static int part_begin_io(sbvm_driver *d, void *unit_ctx, struct sbvm_io *io)
{
    struct part *p = unit_ctx;
    struct sbvm_io down;
    int rc;

    (void)d;
    switch (io->command) {
    case SBVM_IO_INFO: {
        struct sbvm_unit_info info;
        if (io->length < sizeof(info) || !io->data)
            return -EINVAL;
        memset(&info, 0, sizeof(info));
        info.blocks = p->count;
        info.block_size = 512;
        info.flags = p->ro ? SBVM_UNIT_READONLY : 0;
        snprintf(info.model, sizeof(info.model), "%.4s partition of %.16s %u", p->kind,
                 p->disk_name, p->disk_unit);
        memcpy(io->data, &info, sizeof(info));
        io->actual = sizeof(info);
        return 0;
    }
    case SBVM_IO_READ:
    case SBVM_IO_WRITE:
        /* Inside the partition, whatever the caller asked. */
        if (io->offset % 512 || io->length % 512 || io->offset / 512 > p->count ||
            io->length / 512 > p->count - io->offset / 512)
            return -EINVAL;
        break;
    case SBVM_IO_FLUSH:
        break;
    default:
        return -ENOTSUP;
    }
    down = *io;
    memset(down.runtime, 0, sizeof(down.runtime));
    memset(down.driver_ctx, 0, sizeof(down.driver_ctx));
    down.offset = io->offset + p->first * 512;
    rc = I->do_io(p->disk, &down);
    io->actual = down.actual;
    io->error = rc;
    return 0;
}

static void part_expunge(sbvm_driver *d)
{
    (void)d;
    for (unsigned i = 0; i < nparts; i++)
        I->free(self, parts[i]);
    for (unsigned i = 0; i < nopened; i++)
        I->unit_close(self, opened[i]);
    nparts = nopened = 0;
}

SBVM_DRIVER_API const struct sbvm_resident sbvm_resident = {
    .magic = SBVM_RESIDENT_MAGIC,
    .abi_major = SBVM_DRIVER_ABI_MAJOR,
    .abi_minor = SBVM_DRIVER_ABI_MINOR,
    .version = 1,
    .name = "part",
    .id = "MBR and GPT partitions (sandboxvm tests/drivers)",
    .init = part_init,
    .expunge = part_expunge,
    .begin_io = part_begin_io,
};
