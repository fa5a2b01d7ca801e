/* SPDX-License-Identifier: MIT */
/* pci.c: the synthetic PCI bus: configuration space, BARs, capabilities, INTx. */
#include "devices/pci.h"

#include <errno.h>
#include <string.h>

#include "devices/trace.h"
#include "util/util.h"

/* Where the bus places BARs: an I/O window and a memory window (numbers a
 * driver may print; nothing is mapped there). */
#define PCI_IO_BASE  0xc000u
#define PCI_MEM_BASE UINT64_C(0xfe000000)

void pci_dev_init(struct pci_dev *p, uint16_t vendor, uint16_t device, uint32_t class_code,
                  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id)
{
    memset(p, 0, sizeof(*p));
    pci_put16(p, PCI_VENDOR_ID, vendor);
    pci_put16(p, PCI_DEVICE_ID, device);
    p->cfg[PCI_REVISION] = revision;
    p->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
    p->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
    p->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
    p->cfg[PCI_HEADER_TYPE] = 0x00;
    pci_put16(p, PCI_SUBSYS_VENDOR, subsys_vendor);
    pci_put16(p, PCI_SUBSYS_ID, subsys_id);
    p->cfg[PCI_INT_PIN] = 1; /* INTA# */
    /* The driver may change: decoding, bus mastering, INTx disable; the
     * interrupt line register. */
    pci_put16(p, PCI_COMMAND, 0); /* decoding off until the driver enables it */
    p->wmask[PCI_COMMAND] = PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER;
    p->wmask[PCI_COMMAND + 1] = PCI_CMD_INTX_OFF >> 8;
    p->wmask[PCI_INT_LINE] = 0xff;
    p->cap_next = 0x40;
}

void pci_dev_bar(struct pci_dev *p, unsigned bar, uint64_t size, bool io, bool mem64)
{
    unsigned off = PCI_BAR0 + 4 * bar;
    uint64_t mask = ~(size - 1);

    if (bar >= PCI_NBARS || (mem64 && bar + 1 >= PCI_NBARS))
        return;
    p->bar[bar] = (struct pci_bar){ size, io, mem64 };
    pci_put32(p, off, io ? 1u : mem64 ? 4u : 0u);
    /* Writable: the address bits above the size; the low type bits never. */
    {
        uint32_t lo = (uint32_t)mask & (io ? ~3u : ~15u);
        for (unsigned i = 0; i < 4; i++)
            p->wmask[off + i] = (uint8_t)(lo >> (8 * i));
        if (mem64) {
            uint32_t hi = (uint32_t)(mask >> 32);
            for (unsigned i = 0; i < 4; i++)
                p->wmask[off + 4 + i] = (uint8_t)(hi >> (8 * i));
        }
    }
}

uint8_t pci_dev_cap(struct pci_dev *p, uint8_t id, uint8_t len)
{
    uint8_t off = p->cap_next;

    if (len < 2 || (unsigned)off + len > 256)
        return 0;
    p->cfg[off] = id;
    p->cfg[off + 1] = 0;
    if (p->cap_last)
        p->cfg[p->cap_last + 1] = off;
    else
        p->cfg[PCI_CAP_PTR] = off;
    p->cap_last = off;
    p->cap_next = (uint8_t)((off + len + 3) & ~3u);
    if (p->cap_next == 0) /* wrapped: full */
        p->cap_next = 0xff;
    p->cfg[PCI_STATUS] |= PCI_STATUS_CAPS;
    return off;
}

void pci_bus_init(struct pci_bus *b)
{
    memset(b, 0, sizeof(*b));
    b->next_io = PCI_IO_BASE;
    b->next_mem = PCI_MEM_BASE;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

int pci_bus_plug(struct pci_bus *b, struct pci_dev *p)
{
    if (b->n >= PCI_MAX_SLOTS)
        return -ENOSPC;
    p->slot = b->n;
    b->dev[b->n++] = p;
    for (unsigned i = 0; i < PCI_NBARS; i++) {
        struct pci_bar *bar = &p->bar[i];
        unsigned off = PCI_BAR0 + 4 * i;
        uint64_t addr;

        if (!bar->size)
            continue;
        if (bar->io) {
            addr = b->next_io = align_up(b->next_io, bar->size);
            b->next_io += bar->size;
        } else {
            addr = b->next_mem = align_up(b->next_mem, bar->size);
            b->next_mem += bar->size;
        }
        pci_put32(p, off, (uint32_t)addr | (pci_get32(p, off) & (bar->io ? 3u : 15u)));
        if (bar->mem64)
            pci_put32(p, off + 4, (uint32_t)(addr >> 32));
    }
    return (int)p->slot;
}

static bool access_ok(unsigned off, unsigned width, unsigned size)
{
    return (width == 1 || width == 2 || width == 4) && off % width == 0 && off + width <= size;
}

static struct pci_dev *slot_dev(struct pci_bus *b, unsigned slot)
{
    return slot < b->n ? b->dev[slot] : NULL;
}

int pci_cfg_read(struct pci_bus *b, unsigned slot, unsigned off, unsigned width, uint32_t *val)
{
    struct pci_dev *p = slot_dev(b, slot);
    uint32_t v = 0;

    *val = 0xffffffffu;
    if (!access_ok(off, width, 256))
        return -EINVAL;
    if (!p)
        return 0;
    if (p->ops && p->ops->cfg_reading)
        p->ops->cfg_reading(p, off, width);
    for (unsigned i = 0; i < width; i++)
        v |= (uint32_t)p->cfg[off + i] << (8 * i);
    *val = v;
    trace_access(p->trace, p->name, "cfg", false, off, width, v);
    return 0;
}

int pci_cfg_write(struct pci_bus *b, unsigned slot, unsigned off, unsigned width, uint32_t val)
{
    struct pci_dev *p = slot_dev(b, slot);

    if (!access_ok(off, width, 256))
        return -EINVAL;
    if (!p)
        return 0;
    trace_access(p->trace, p->name, "cfg", true, off, width, val);
    for (unsigned i = 0; i < width; i++) {
        uint8_t m = p->wmask[off + i], byte = (uint8_t)(val >> (8 * i));
        p->cfg[off + i] = (uint8_t)((p->cfg[off + i] & ~m) | (byte & m));
    }
    if (off <= PCI_COMMAND + 1 && off + width > PCI_COMMAND)
        pci_set_intx(p, p->intx); /* INTx disable may have changed */
    if (p->ops && p->ops->cfg_written)
        p->ops->cfg_written(p, off, width, val);
    return 0;
}

static bool bar_decoded(const struct pci_dev *p, unsigned bar)
{
    uint16_t cmd = (uint16_t)(p->cfg[PCI_COMMAND] | p->cfg[PCI_COMMAND + 1] << 8);

    return p->bar[bar].io ? (cmd & PCI_CMD_IO) : (cmd & PCI_CMD_MEMORY);
}

static int bar_check(struct pci_dev *p, unsigned bar, uint64_t off, unsigned width)
{
    if (bar >= PCI_NBARS || !p->bar[bar].size)
        return -EINVAL;
    if (!(width == 1 || width == 2 || width == 4 || width == 8) || off % width ||
        off >= p->bar[bar].size || width > p->bar[bar].size - off)
        return -EINVAL;
    return 0;
}

static const char *const bar_names[PCI_NBARS] = { "bar0", "bar1", "bar2", "bar3", "bar4", "bar5" };

int pci_bar_read(struct pci_bus *b, unsigned slot, unsigned bar, uint64_t off, unsigned width,
                 uint64_t *val)
{
    struct pci_dev *p = slot_dev(b, slot);

    *val = width >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * width)) - 1;
    if (!p || bar_check(p, bar, off, width) < 0)
        return -EINVAL;
    if (!bar_decoded(p, bar)) {
        trace_access(p->trace, p->name, bar_names[bar], false, off, width, *val);
        return 0; /* not decoded: nobody answers, the bus floats high */
    }
    *val = p->ops->bar_read(p, bar, off, width);
    trace_access(p->trace, p->name, bar_names[bar], false, off, width, *val);
    return 0;
}

int pci_bar_write(struct pci_bus *b, unsigned slot, unsigned bar, uint64_t off, unsigned width,
                  uint64_t val)
{
    struct pci_dev *p = slot_dev(b, slot);

    if (!p || bar_check(p, bar, off, width) < 0)
        return -EINVAL;
    trace_access(p->trace, p->name, bar_names[bar], true, off, width, val);
    if (!bar_decoded(p, bar))
        return 0;
    if (width < 8)
        val &= (UINT64_C(1) << (8 * width)) - 1;
    p->ops->bar_write(p, bar, off, width, val);
    return 0;
}

void pci_set_intx(struct pci_dev *p, int level)
{
    bool on;

    p->intx = level != 0;
    if (p->intx)
        p->cfg[PCI_STATUS] |= PCI_STATUS_INTX;
    else
        p->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTX;
    /* What the interrupt controller sees: the level, unless INTx is off. */
    on = p->intx && !(p->cfg[PCI_COMMAND + 1] & (PCI_CMD_INTX_OFF >> 8));
    if (on != p->intx_out) {
        p->intx_out = on;
        if (p->intx_fn)
            p->intx_fn(p, on, p->intx_ctx);
    }
}
