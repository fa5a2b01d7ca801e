/* SPDX-License-Identifier: MIT */
/*
 * proto.h: the host calls between the driver runtime (in the sandbox, part
 * of libsbvm-guest.a: src/guest/drvhost.c) and the driver host (src/drivers:
 * the device models behind a synthetic PCI bus), over the host channel.
 * Every structure is read by the host as hostile bytes of exactly this
 * size; the layout is pinned by assertions.
 */
#ifndef SBVM_DRIVERS_PROTO_H
#define SBVM_DRIVERS_PROTO_H

#include <stdint.h>

/* Host call ids (the channel's user range). */
#define DRV_CALL_HELLO  0x5000u /* out: struct drv_hello_out */
#define DRV_CALL_ENUM   0x5001u /* out: up to 32 x struct drv_pci_ent */
#define DRV_CALL_PCI    0x5002u /* in: struct drv_pci_in; out: uint64_t value; result 0/-errno */
#define DRV_CALL_LEDGER 0x5003u /* in: one line of a driver's ledger (text) */

/*
 * Device addresses of DMA memory: the window offset plus this base, so that
 * an offset or a pointer given to a device where an address belongs is
 * refused rather than taken.
 */
#define DRV_DMA_BASE (UINT64_C(1) << 32)

struct drv_hello_out {
    uint32_t version;  /* DRV_PROTO_VERSION */
    uint32_t irq_ring; /* the ring (to the guest) carrying interrupt messages */
    uint32_t ndevs;
    uint32_t pad;
    uint64_t dma_base;
};
#define DRV_PROTO_VERSION 1u

struct drv_pci_ent {
    uint8_t slot, revision;
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys_id;
    uint16_t pad;
    uint32_t class_code;
};

enum drv_pci_op {
    DRV_CFG_READ = 0,
    DRV_CFG_WRITE = 1,
    DRV_BAR_READ = 2,
    DRV_BAR_WRITE = 3,
};

struct drv_pci_in {
    uint32_t op; /* enum drv_pci_op */
    uint32_t slot;
    uint32_t bar;
    uint32_t width;
    uint64_t off;
    uint64_t val;
};

/* An interrupt message: the device's line rose. */
struct drv_irq_msg {
    uint32_t slot;
    uint32_t level;
};

_Static_assert(sizeof(struct drv_hello_out) == 24, "proto: hello");
_Static_assert(sizeof(struct drv_pci_ent) == 16, "proto: pci entry");
_Static_assert(sizeof(struct drv_pci_in) == 32, "proto: pci access");
_Static_assert(sizeof(struct drv_irq_msg) == 8, "proto: irq message");

#endif
