/* SPDX-License-Identifier: MIT */
/*
 * pci.h: a synthetic PCI bus. Each device has a 256-byte configuration space
 * whose writable bits are declared (everything else reads back as the device
 * set it), base address registers that size and move as real ones do
 * (write all ones, read back the size mask), a capability list, and an INTx
 * line. BAR accesses are addressed by (device, BAR, offset, width) - the
 * driver interface has no address space of its own - and reach the device's
 * ops only while the command register decodes that kind of BAR.
 *
 * Every access is bounded here: an offset or width that does not fit, or a
 * misaligned access, reads as all ones and writes nothing.
 */
#ifndef SBVM_DEVICES_PCI_H
#define SBVM_DEVICES_PCI_H

#include <stdbool.h>
#include <stdint.h>

struct devtrace;

#define PCI_MAX_SLOTS 32u
#define PCI_NBARS     6u

/* Configuration space offsets. */
#define PCI_VENDOR_ID     0x00
#define PCI_DEVICE_ID     0x02
#define PCI_COMMAND       0x04
#define PCI_STATUS        0x06
#define PCI_REVISION      0x08
#define PCI_CLASS_PROG    0x09
#define PCI_HEADER_TYPE   0x0e
#define PCI_BAR0          0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID     0x2e
#define PCI_CAP_PTR       0x34
#define PCI_INT_LINE      0x3c
#define PCI_INT_PIN       0x3d

#define PCI_CMD_IO       0x0001
#define PCI_CMD_MEMORY   0x0002
#define PCI_CMD_MASTER   0x0004
#define PCI_CMD_INTX_OFF 0x0400
#define PCI_STATUS_INTX  0x0008
#define PCI_STATUS_CAPS  0x0010

struct pci_dev;

struct pci_dev_ops {
    /* An access inside BAR `bar` (offset and width already checked against
     * its size). */
    uint64_t (*bar_read)(struct pci_dev *p, unsigned bar, uint64_t off, unsigned width);
    void (*bar_write)(struct pci_dev *p, unsigned bar, uint64_t off, unsigned width, uint64_t val);
    /* After the bus has applied a configuration write (capability windows). */
    void (*cfg_written)(struct pci_dev *p, unsigned off, unsigned width, uint32_t val);
    /* Before a configuration read is answered: may refresh cfg bytes. */
    void (*cfg_reading)(struct pci_dev *p, unsigned off, unsigned width);
};

struct pci_bar {
    uint64_t size; /* a power of two, 0: no BAR */
    bool io;       /* an I/O BAR; else memory */
    bool mem64;    /* a 64-bit memory BAR (takes the next BAR register too) */
};

/* Raises (level 1) or lowers the device's INTx line. */
typedef void (*pci_intx_fn)(struct pci_dev *p, int level, void *ctx);

struct pci_dev {
    uint8_t cfg[256];
    uint8_t wmask[256]; /* bits the driver may change */
    struct pci_bar bar[PCI_NBARS];
    const struct pci_dev_ops *ops;
    void *ctx;
    const char *name; /* for the trace */
    unsigned slot;
    uint8_t cap_last, cap_next; /* building the capability list */
    bool intx;                  /* the line's level */
    bool intx_out;              /* what was last delivered (INTx disable applied) */
    pci_intx_fn intx_fn;
    void *intx_ctx;
    struct devtrace *trace;
};

struct pci_bus {
    struct pci_dev *dev[PCI_MAX_SLOTS];
    unsigned n;
    uint64_t next_io, next_mem; /* where the "firmware" puts the next BAR */
};

void pci_dev_init(struct pci_dev *p, uint16_t vendor, uint16_t device, uint32_t class_code,
                  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id);
/* Declares a BAR (size a power of two, at least 16 for memory, 4 for I/O). */
void pci_dev_bar(struct pci_dev *p, unsigned bar, uint64_t size, bool io, bool mem64);
/* Appends a capability of len bytes (id at +0, next at +1): its offset, or 0
 * when the space is full. Bytes from +2 are the caller's. */
uint8_t pci_dev_cap(struct pci_dev *p, uint8_t id, uint8_t len);

void pci_bus_init(struct pci_bus *b);
/* Plugs a device into the next slot and gives its BARs addresses: the slot,
 * or -ENOSPC. */
int pci_bus_plug(struct pci_bus *b, struct pci_dev *p);

/* Configuration and BAR accesses (width 1, 2, 4; 8 for BARs too). An absent
 * slot reads all ones. Return 0, or -EINVAL for an access out of bounds
 * (the read value is then all ones). */
int pci_cfg_read(struct pci_bus *b, unsigned slot, unsigned off, unsigned width, uint32_t *val);
int pci_cfg_write(struct pci_bus *b, unsigned slot, unsigned off, unsigned width, uint32_t val);
int pci_bar_read(struct pci_bus *b, unsigned slot, unsigned bar, uint64_t off, unsigned width,
                 uint64_t *val);
int pci_bar_write(struct pci_bus *b, unsigned slot, unsigned bar, uint64_t off, unsigned width,
                  uint64_t val);

/* The device drives its INTx line (shown in the status register). */
void pci_set_intx(struct pci_dev *p, int level);

/* Raw little-endian helpers on a device's configuration bytes. */
static inline void pci_put16(struct pci_dev *p, unsigned off, uint16_t v)
{
    p->cfg[off] = (uint8_t)v;
    p->cfg[off + 1] = (uint8_t)(v >> 8);
}
static inline void pci_put32(struct pci_dev *p, unsigned off, uint32_t v)
{
    pci_put16(p, off, (uint16_t)v);
    pci_put16(p, off + 2, (uint16_t)(v >> 16));
}
static inline uint32_t pci_get32(const struct pci_dev *p, unsigned off)
{
    return (uint32_t)p->cfg[off] | (uint32_t)p->cfg[off + 1] << 8 |
           (uint32_t)p->cfg[off + 2] << 16 | (uint32_t)p->cfg[off + 3] << 24;
}

#endif
