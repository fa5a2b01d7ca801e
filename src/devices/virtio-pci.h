/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci.h: the virtio PCI transport on the synthetic bus (virtio 1.x
 * "Virtio Over PCI Bus"): a transitional device offers the legacy I/O BAR
 * (BAR 0: the register state machine, QUEUE_PFN) and the modern capabilities
 * (common, notify, ISR, device and PCI configuration windows in BAR 4);
 * legacy-only and modern-only devices offer one of the two. Interrupts are
 * INTx (no MSI-X): the ISR register says why and reading it lowers the line.
 */
#ifndef SBVM_DEVICES_VIRTIO_PCI_H
#define SBVM_DEVICES_VIRTIO_PCI_H

#include "devices/devices.h"
#include "devices/pci.h"
#include "devices/virtio.h"

#define VPCI_VENDOR 0x1af4u

/* BAR 4's layout (modern). */
#define VPCI_MODERN_BAR  4u
#define VPCI_COMMON_OFF  0x0000u
#define VPCI_COMMON_LEN  0x0038u
#define VPCI_ISR_OFF     0x1000u
#define VPCI_DEVICE_OFF  0x2000u
#define VPCI_NOTIFY_OFF  0x3000u
#define VPCI_NOTIFY_MULT 4u
#define VPCI_MODERN_SIZE 0x4000u
/* Legacy BAR 0 registers. */
#define VPCI_L_HOST_FEATURES  0x00u
#define VPCI_L_GUEST_FEATURES 0x04u
#define VPCI_L_QUEUE_PFN      0x08u
#define VPCI_L_QUEUE_NUM      0x0cu
#define VPCI_L_QUEUE_SEL      0x0eu
#define VPCI_L_QUEUE_NOTIFY   0x10u
#define VPCI_L_STATUS         0x12u
#define VPCI_L_ISR            0x13u
#define VPCI_L_CONFIG         0x14u
/* Common configuration fields. */
#define VPCI_C_DFSELECT 0x00u
#define VPCI_C_DF       0x04u
#define VPCI_C_GFSELECT 0x08u
#define VPCI_C_GF       0x0cu
#define VPCI_C_MSIX     0x10u
#define VPCI_C_NUMQ     0x12u
#define VPCI_C_STATUS   0x14u
#define VPCI_C_CFGGEN   0x15u
#define VPCI_C_Q_SELECT 0x16u
#define VPCI_C_Q_SIZE   0x18u
#define VPCI_C_Q_MSIX   0x1au
#define VPCI_C_Q_ENABLE 0x1cu
#define VPCI_C_Q_NOFF   0x1eu
#define VPCI_C_Q_DESC   0x20u
#define VPCI_C_Q_DRIVER 0x28u
#define VPCI_C_Q_DEVICE 0x30u
/* Capability types. */
#define VPCI_CAP_COMMON 1u
#define VPCI_CAP_NOTIFY 2u
#define VPCI_CAP_ISR    3u
#define VPCI_CAP_DEVICE 4u
#define VPCI_CAP_PCI    5u

struct virtio_pci {
    struct pci_dev pci;
    struct vdev *vdev;
    enum dev_transport transport;
    uint32_t dfselect, gfselect;
    uint64_t gf; /* driver features being written (modern, two halves) */
    uint16_t qsel;
    uint8_t pcicfg_cap; /* offset of the PCI configuration access capability */
    /* Notifications served later (virtio_pci_run()) rather than inside the
     * register write: a driver's kick returns at once, as on hardware, and
     * the device works while the driver goes on. */
    bool defer;
    uint32_t pending; /* queues notified, by bit */
};

/* Builds the PCI face of d (which it does not own) for a transport. */
void virtio_pci_init(struct virtio_pci *vp, struct vdev *d, enum dev_transport t);
/* With defer set: serves the queues notified since the last call. True
 * when work remains (call again). */
bool virtio_pci_run(struct virtio_pci *vp);

#endif
