/* SPDX-License-Identifier: MIT */
/*
 * vdrv.h: the virtio-pci transport and split virtqueues, driver side, for
 * the drivers written here (virtio-blk.c, virtio-scsi.c). Written against
 * the sandboxvm driver interface only: configuration space and BARs through
 * it, rings and buffers in DMA memory from it. Both transports: legacy
 * (the I/O BAR's registers, QUEUE_PFN) and modern (the 1.x capabilities).
 *
 * Compiled into each driver (nothing of it is exported: only the resident
 * descriptor is).
 */
#ifndef SBVM_TESTS_DRIVERS_VDRV_H
#define SBVM_TESTS_DRIVERS_VDRV_H

#include <stdbool.h>
#include <stdint.h>

#include "sandboxvm/driver.h"

#define VDRV_MAX_QUEUE 256u

/* Device status bits. */
#define VDRV_S_ACK       1u
#define VDRV_S_DRIVER    2u
#define VDRV_S_DRIVER_OK 4u
#define VDRV_S_FEAT_OK   8u
#define VDRV_S_FAILED    128u

#define VDRV_F_VERSION_1 32

struct vdrv {
    const struct sbvm_driver_if *I;
    sbvm_driver *d;
    sbvm_pci *pci;
    struct sbvm_pci_info info;
    bool modern;
    /* Modern: where each window lies (BAR, offset), from the capabilities. */
    unsigned common_bar, notify_bar, isr_bar, device_bar;
    uint64_t common_off, notify_off, isr_off, device_off;
    uint32_t notify_mult;
    uint64_t features; /* accepted */
};

struct vdrv_seg {
    uint64_t addr; /* device address */
    uint32_t len;
    bool write; /* the device writes it */
};

struct vdrv_queue {
    uint16_t index, num;
    void *mem; /* the ring area, in DMA memory */
    uint64_t mem_dma;
    uint8_t *desc, *avail, *used;
    uint16_t avail_idx, last_used, free_head, nfree;
    uint16_t notify; /* modern: queue_notify_off */
    void *cookie[VDRV_MAX_QUEUE];
    uint16_t chain_len[VDRV_MAX_QUEUE];
};

/*
 * Takes the device: enables decoding and bus mastering, finds its transport
 * (modern capabilities, unless legacy is forced or there are none), resets
 * it and says ACKNOWLEDGE | DRIVER. 0 or -errno.
 */
int vdrv_probe(struct vdrv *v, sbvm_driver *d, const struct sbvm_driver_if *I, sbvm_pci *p,
               bool force_legacy);
/* Accepts the wanted features the device offers (modern: VERSION_1 is
 * required and FEATURES_OK must stick). 0 or -errno. */
int vdrv_negotiate(struct vdrv *v, uint64_t wanted);
/* Sets queue `index` up with at most `max` entries (the device's size for
 * legacy). 0 or -errno. */
int vdrv_queue_init(struct vdrv *v, unsigned index, unsigned max, struct vdrv_queue *q);
void vdrv_queue_free(struct vdrv *v, struct vdrv_queue *q);
/* DRIVER_OK. */
void vdrv_ready(struct vdrv *v);
/* Resets the device (status 0). */
void vdrv_reset(struct vdrv *v);
/* The device-specific configuration, little-endian, width 1, 2, 4 or 8. */
uint64_t vdrv_cfg_read(struct vdrv *v, unsigned off, unsigned width);
void vdrv_cfg_write(struct vdrv *v, unsigned off, unsigned width, uint64_t val);
/* Reads (and so clears) the interrupt status. */
uint8_t vdrv_isr(struct vdrv *v);
uint8_t vdrv_status(struct vdrv *v);

/* Adds a chain: its head, or -ENOSPC when the queue has too few free
 * descriptors. The caller holds its own lock. */
int vdrv_add(struct vdrv_queue *q, const struct vdrv_seg *segs, unsigned n, void *cookie);
/* Tells the device. */
void vdrv_kick(struct vdrv *v, struct vdrv_queue *q);
/* Asks the device not to interrupt (on), or to again (off): a driver that
 * polls the used ring after a kick needs no interrupt for what it finds. */
void vdrv_quiet(struct vdrv_queue *q, bool on);
/* The next used chain: 1 with its cookie and length, or 0. */
int vdrv_get(struct vdrv_queue *q, void **cookie, uint32_t *len);

#endif
