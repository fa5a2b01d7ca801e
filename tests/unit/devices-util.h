/* SPDX-License-Identifier: MIT */
/*
 * devices-util.h: a test driver for the device models: guest memory (one
 * region), a device on a synthetic PCI bus with its image in a temporary
 * directory, register-level initialisation (legacy and modern), and
 * hand-built descriptor chains. Hostile tests write the rings directly.
 */
#ifndef SBVM_TESTS_DEVICES_UTIL_H
#define SBVM_TESTS_DEVICES_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/devices.h"
#include "devices/pci.h"
#include "devices/virtio-pci.h"

#define TD_BASE  UINT64_C(0x100000) /* the guest memory's first device address */
#define TD_MEM   (4u << 20)
#define TD_QSIZE 64u

struct td_queue {
    uint16_t num;
    uint64_t desc, avail, used; /* device addresses */
    uint16_t avail_idx;         /* the driver's copy */
    uint16_t used_seen;         /* used entries taken */
    uint16_t next_desc;         /* the next free descriptor (a bump allocator) */
};

struct tdrv {
    struct dma_map map;
    uint8_t *mem;
    uint64_t brk; /* next free device address */
    struct pci_bus bus;
    struct virtio_pci vp;
    struct vdev dev;
    char *dir;
    char img[512];
    unsigned intx_raised; /* times the INTx line went up */
    struct td_queue q[4];
    bool modern;
};

/* A piece of a chain: len bytes at a device address; write: device-writable. */
struct td_seg {
    uint64_t addr;
    uint32_t len;
    bool write;
};

/* Makes a device of type ("virtio-blk", "virtio-scsi") over a new image of
 * `size` bytes (read-only if ro), on transport tr. */
void td_setup(struct tdrv *t, const char *type, uint64_t size, bool ro, enum dev_transport tr);
void td_teardown(struct tdrv *t);

/* Guest memory: a device address of len fresh zeroed bytes, and the host
 * pointer of a device address. */
uint64_t td_alloc(struct tdrv *t, uint64_t len, uint64_t align);
void *td_ptr(struct tdrv *t, uint64_t addr);

/* Register accesses. */
uint64_t td_bar_read(struct tdrv *t, unsigned bar, uint64_t off, unsigned width);
void td_bar_write(struct tdrv *t, unsigned bar, uint64_t off, unsigned width, uint64_t val);
uint32_t td_cfg_read(struct tdrv *t, unsigned off, unsigned width);
void td_cfg_write(struct tdrv *t, unsigned off, unsigned width, uint32_t val);

/* Initialises the device the way a driver does: modern (features
 * `features`, every queue TD_QSIZE) or legacy (QUEUE_PFN, 256 entries). */
void td_init_modern(struct tdrv *t, uint64_t features);
void td_init_legacy(struct tdrv *t, uint32_t features);
/* The status register. */
uint8_t td_status(struct tdrv *t);

/* Writes a chain of n segments as descriptors (at queue q's next free
 * ones) and makes it available; the head. With indirect, the segments go
 * into an indirect table named by one descriptor. */
uint16_t td_submit(struct tdrv *t, unsigned q, const struct td_seg *segs, unsigned n,
                   bool indirect);
/* Notifies queue q through the transport in use. */
void td_kick(struct tdrv *t, unsigned q);
/* Takes the next used entry: 1 and its id and length, or 0. */
int td_used(struct tdrv *t, unsigned q, uint32_t *id, uint32_t *len);

/* One virtio-blk request (header, data, status) on queue 0, waited for:
 * the status, or -1 when no used entry came back. */
int td_blk(struct tdrv *t, uint32_t type, uint64_t sector, void *data, uint32_t len,
           bool dev_writes);

/* One SCSI command to target/lun on the request queue: the response code,
 * status, sense (18 bytes) and data in. */
struct td_scsi {
    uint8_t response, status;
    uint32_t sense_len, residual;
    uint8_t sense[96];
    uint32_t used;
};
int td_scsi_cmd(struct tdrv *t, unsigned target, unsigned lun, const uint8_t *cdb, unsigned cdblen,
                const void *dout, uint32_t doutlen, void *din, uint32_t dinlen,
                struct td_scsi *res);

#endif
