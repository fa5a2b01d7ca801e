/* SPDX-License-Identifier: MIT */
/*
 * fuzz-devices.c: a hostile driver's memory against one device model
 * (FUZZ_DEVICE: virtio-blk or virtio-scsi, one target each). The input
 * chooses the negotiated features, each queue's size and where its rings
 * lie, then fills the driver's memory - descriptors, rings, request
 * headers, CDBs - and the device is notified a few times between changes.
 * The memory is a heap buffer of exactly its size, so ASan catches any
 * access outside it; the device must never crash or hang, whatever the
 * bytes: every request ends with a status or the device with NEEDS_RESET.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/devices.h"

#ifndef FUZZ_DEVICE
#define FUZZ_DEVICE "virtio-blk"
#endif

#define MEM  (64u << 10)
#define BASE UINT64_C(0x10000)

static struct vdev dev;
static struct dma_map map;
static uint8_t *mem;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct disk disks[2];
    const struct vdev_ops *ops = dev_lookup(FUZZ_DEVICE);
    unsigned n = 0;

    (void)argc;
    (void)argv;
    if (!ops)
        abort();
    /* Two small images in memory (SCSI takes both; blk one). */
    for (unsigned i = 0; i < (ops->max_disks > 1 ? 2u : 1u); i++) {
        int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, 1 << 20) < 0 ||
            disk_from_fd(&disks[n], fd, "fuzz", i == 1, NULL) < 0)
            abort();
        n++;
    }
    if (dev_create_disks(ops, disks, n, NULL, &dev, NULL) < 0)
        abort();
    mem = malloc(MEM);
    if (!mem)
        abort();
    dma_map_init(&map);
    if (dma_map_add(&map, BASE, MEM, mem, 0) < 0)
        abort();
    vdev_set_memory(&dev, &map);
    return 0;
}

static uint16_t take16(const uint8_t **p, size_t *n)
{
    uint16_t v = 0;

    if (*n >= 2) {
        memcpy(&v, *p, 2);
        *p += 2;
        *n -= 2;
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t feat = 0;

    if (size < 1)
        return 0;
    vdev_reset(&dev);
    feat = *data++;
    size--;
    vdev_set_features(&dev, (feat & 1 ? BIT64(VIRTIO_FB_EVENT_IDX) : 0) |
                                (feat & 2 ? BIT64(VIRTIO_FB_INDIRECT_DESC) : 0) |
                                BIT64(VIRTIO_FB_VERSION_1));
    /* Each queue: a size (1 << k, sometimes not a power of two) and the
     * offsets of its three parts. */
    for (unsigned q = 0; q < dev.ops->nqueues; q++) {
        struct vq *vq = &dev.vq[q];
        uint16_t s = take16(&data, &size);
        vq->num = (s & 0x8000) ? (s & 0x7fff) : 1u << (s % 9);
        vq->desc_addr = BASE + take16(&data, &size);
        vq->avail_addr = BASE + take16(&data, &size);
        vq->used_addr = BASE + take16(&data, &size);
        vq_start(vq, &map);
    }
    /* The rest is the driver's memory, written in slices between
     * notifications of each queue. */
    memset(mem, 0, MEM);
    for (int round = 0; round < 3 && size > 0; round++) {
        uint16_t off = take16(&data, &size);
        size_t n = size < MEM - off % MEM ? size : MEM - off % MEM;

        if (n > 4096 && round < 2)
            n = 4096;
        memcpy(mem + off % MEM, data, n);
        data += n;
        size -= n;
        for (unsigned q = 0; q < dev.ops->nqueues; q++)
            vdev_notify(&dev, q);
    }
    return 0;
}
