/* SPDX-License-Identifier: MIT */
/* virtio-pci.c: the virtio PCI transport: legacy I/O BAR and modern capabilities. */
#include "devices/virtio-pci.h"

#include <inttypes.h>
#include <string.h>

#include "devices/trace.h"
#include "util/util.h"

#define PCI_CAP_VNDR 0x09u

static struct virtio_pci *vp_of(struct pci_dev *p)
{
    return p->ctx;
}

/* ------------------------------------------------------------------------ */
/* Shared by both faces                                                     */

static void vp_reset(struct virtio_pci *vp)
{
    vp->pending = 0;
    vdev_reset(vp->vdev);
    vp->qsel = 0;
    vp->dfselect = vp->gfselect = 0;
    vp->gf = 0;
    pci_set_intx(&vp->pci, 0);
}

static uint8_t isr_read_clear(struct virtio_pci *vp)
{
    uint8_t v = vp->vdev->isr;

    vp->vdev->isr = 0;
    pci_set_intx(&vp->pci, 0);
    return v;
}

static void vp_notify(struct virtio_pci *vp, unsigned q)
{
    struct vdev *d = vp->vdev;

    /* No buffer is consumed before DRIVER_OK (virtio 1.x, 2.1). */
    if (!(d->status & VIRTIO_S_DRIVER_OK)) {
        trace_event(d->trace, d->name, "notify for queue %u before DRIVER_OK: ignored", q);
        return;
    }
    if (vp->defer) {
        if (q < 32)
            vp->pending |= 1u << q;
        else
            vdev_notify(d, q); /* no such queue: counted and ignored there */
        return;
    }
    /* The budget yields only to let others run; nothing else is waiting on
     * this synchronous bus, so go on until the queue is empty. */
    while (vdev_notify(d, q))
        ;
}

bool virtio_pci_run(struct virtio_pci *vp)
{
    uint32_t p = vp->pending;

    vp->pending = 0;
    for (unsigned q = 0; p; q++, p >>= 1)
        if ((p & 1) && vdev_notify(vp->vdev, q))
            vp->pending |= 1u << q;
    return vp->pending != 0;
}

static void vp_irq(struct vdev *d, unsigned source, void *ctx)
{
    struct virtio_pci *vp = ctx;

    (void)d;
    (void)source;
    pci_set_intx(&vp->pci, 1);
}

/* Bytes [off, off + width) of a little-endian snapshot, as a value. */
static uint64_t slice(const uint8_t *snap, size_t size, uint64_t off, unsigned width)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < width; i++)
        if (off + i < size)
            v |= (uint64_t)snap[off + i] << (8 * i);
    return v;
}

static void start_queue(struct virtio_pci *vp, unsigned q)
{
    struct vdev *d = vp->vdev;
    struct vq *vq = &d->vq[q];

    if (!d->mem) {
        vdev_fail(d, "queue %u enabled, but the device has no memory to reach", q);
        return;
    }
    if (vq->num > VDEV_QUEUE_SIZE) {
        vdev_fail(d, "queue %u: size %u is larger than the device's %u", q, vq->num,
                  VDEV_QUEUE_SIZE);
        return;
    }
    if (vq_start(vq, d->mem) < 0) {
        vdev_fail(d, "queue %u: %s", q, vq->why);
        return;
    }
    trace_event(d->trace, d->name,
                "queue %u: %u entries, desc 0x%" PRIx64 " avail 0x%" PRIx64 " used 0x%" PRIx64, q,
                vq->num, vq->desc_addr, vq->avail_addr, vq->used_addr);
}

/* ------------------------------------------------------------------------ */
/* Legacy: the I/O BAR register state machine                               */

static uint64_t legacy_read(struct virtio_pci *vp, uint64_t off, unsigned width)
{
    struct vdev *d = vp->vdev;
    uint8_t snap[VPCI_L_CONFIG];
    uint32_t u32;
    uint16_t u16;
    uint64_t v;

    d->legacy = true;
    if (off >= VPCI_L_CONFIG) {
        uint8_t buf[8] = { 0 };
        vdev_config_read(d, (uint32_t)(off - VPCI_L_CONFIG), buf, width);
        return slice(buf, sizeof(buf), 0, width);
    }
    memset(snap, 0, sizeof(snap));
    u32 = (uint32_t)d->host_features;
    memcpy(snap + VPCI_L_HOST_FEATURES, &u32, 4);
    u32 = (uint32_t)d->guest_features;
    memcpy(snap + VPCI_L_GUEST_FEATURES, &u32, 4);
    if (vp->qsel < d->ops->nqueues) {
        const struct vq *q = &d->vq[vp->qsel];
        u32 = q->started ? (uint32_t)(q->desc_addr >> 12) : 0;
        memcpy(snap + VPCI_L_QUEUE_PFN, &u32, 4);
        u16 = VDEV_QUEUE_SIZE;
        memcpy(snap + VPCI_L_QUEUE_NUM, &u16, 2);
    }
    memcpy(snap + VPCI_L_QUEUE_SEL, &vp->qsel, 2);
    snap[VPCI_L_STATUS] = d->status;
    snap[VPCI_L_ISR] = d->isr;
    v = slice(snap, sizeof(snap), off, width);
    if (off <= VPCI_L_ISR && off + width > VPCI_L_ISR)
        isr_read_clear(vp);
    return v;
}

static void legacy_pfn(struct virtio_pci *vp, uint32_t pfn)
{
    struct vdev *d = vp->vdev;
    struct vq *q;

    if (vp->qsel >= d->ops->nqueues)
        return;
    q = &d->vq[vp->qsel];
    if (pfn == 0) {
        vq_reset(q);
        return;
    }
    /* The legacy layout: one area, the used ring on the next 4096 boundary. */
    q->num = VDEV_QUEUE_SIZE;
    q->desc_addr = (uint64_t)pfn << 12;
    q->avail_addr = q->desc_addr + vq_desc_bytes(q->num);
    q->used_addr = (q->avail_addr + vq_avail_bytes(q->num) + 4095) & ~UINT64_C(4095);
    start_queue(vp, vp->qsel);
}

static void legacy_write(struct virtio_pci *vp, uint64_t off, unsigned width, uint64_t val)
{
    struct vdev *d = vp->vdev;

    d->legacy = true;
    if (off >= VPCI_L_CONFIG) {
        uint8_t buf[8];
        memcpy(buf, &val, sizeof(buf));
        vdev_config_write(d, (uint32_t)(off - VPCI_L_CONFIG), buf, width);
        return;
    }
    if (off == VPCI_L_GUEST_FEATURES && width == 4) {
        if (vdev_set_features(d, (uint32_t)val) < 0)
            trace_event(d->trace, d->name, "the driver accepted features it was not offered");
    } else if (off == VPCI_L_QUEUE_PFN && width == 4) {
        legacy_pfn(vp, (uint32_t)val);
    } else if (off == VPCI_L_QUEUE_SEL && width == 2) {
        vp->qsel = (uint16_t)val;
    } else if (off == VPCI_L_QUEUE_NOTIFY && width == 2) {
        vp_notify(vp, (unsigned)val);
    } else if (off == VPCI_L_STATUS && width == 1) {
        if (val == 0)
            vp_reset(vp);
        else
            vdev_set_status(d, (uint8_t)val);
    } else {
        trace_event(d->trace, d->name, "legacy write of %u bytes at 0x%" PRIx64 ": ignored", width,
                    off);
    }
}

/* ------------------------------------------------------------------------ */
/* Modern: the common configuration and the other windows of BAR 4          */

static uint64_t common_read(struct virtio_pci *vp, uint64_t off, unsigned width)
{
    struct vdev *d = vp->vdev;
    uint8_t snap[VPCI_COMMON_LEN];
    uint32_t u32;
    uint16_t u16;

    memset(snap, 0, sizeof(snap));
    memcpy(snap + VPCI_C_DFSELECT, &vp->dfselect, 4);
    u32 = vp->dfselect < 2 ? (uint32_t)(d->host_features >> (32 * vp->dfselect)) : 0;
    memcpy(snap + VPCI_C_DF, &u32, 4);
    memcpy(snap + VPCI_C_GFSELECT, &vp->gfselect, 4);
    u32 = vp->gfselect < 2 ? (uint32_t)(vp->gf >> (32 * vp->gfselect)) : 0;
    memcpy(snap + VPCI_C_GF, &u32, 4);
    u16 = 0xffff; /* no MSI-X vectors */
    memcpy(snap + VPCI_C_MSIX, &u16, 2);
    memcpy(snap + VPCI_C_Q_MSIX, &u16, 2);
    u16 = d->ops->nqueues;
    memcpy(snap + VPCI_C_NUMQ, &u16, 2);
    snap[VPCI_C_STATUS] = d->status;
    snap[VPCI_C_CFGGEN] = d->config_gen;
    memcpy(snap + VPCI_C_Q_SELECT, &vp->qsel, 2);
    if (vp->qsel < d->ops->nqueues) {
        const struct vq *q = &d->vq[vp->qsel];
        u16 = (uint16_t)q->num;
        memcpy(snap + VPCI_C_Q_SIZE, &u16, 2);
        u16 = q->started;
        memcpy(snap + VPCI_C_Q_ENABLE, &u16, 2);
        u16 = vp->qsel;
        memcpy(snap + VPCI_C_Q_NOFF, &u16, 2);
        memcpy(snap + VPCI_C_Q_DESC, &q->desc_addr, 8);
        memcpy(snap + VPCI_C_Q_DRIVER, &q->avail_addr, 8);
        memcpy(snap + VPCI_C_Q_DEVICE, &q->used_addr, 8);
    }
    return slice(snap, sizeof(snap), off, width);
}

/* A write to one half (or all) of a 64-bit queue address. */
static void set_addr64(uint64_t *field, uint64_t rel, unsigned width, uint64_t val)
{
    if (width == 8 && rel == 0)
        *field = val;
    else if (width == 4 && rel == 0)
        *field = (*field & ~UINT64_C(0xffffffff)) | (uint32_t)val;
    else if (width == 4 && rel == 4)
        *field = (*field & UINT64_C(0xffffffff)) | (val << 32);
}

static void modern_status(struct virtio_pci *vp, uint8_t val)
{
    struct vdev *d = vp->vdev;

    if (val == 0) {
        vp_reset(vp);
        return;
    }
    if ((val & VIRTIO_S_FEATURES_OK) && !(d->status & VIRTIO_S_FEATURES_OK)) {
        /* The features are settled now: refuse what was not offered, and a
         * modern driver that does not speak VERSION_1. */
        if (vdev_set_features(d, vp->gf) < 0 || !vdev_has(d, VIRTIO_FB_VERSION_1)) {
            trace_event(d->trace, d->name, "FEATURES_OK refused for features 0x%" PRIx64, vp->gf);
            val &= (uint8_t)~VIRTIO_S_FEATURES_OK;
        }
    }
    vdev_set_status(d, val);
}

static void common_write(struct virtio_pci *vp, uint64_t off, unsigned width, uint64_t val)
{
    struct vdev *d = vp->vdev;
    struct vq *q = vp->qsel < d->ops->nqueues ? &d->vq[vp->qsel] : NULL;

    if (off == VPCI_C_DFSELECT && width == 4) {
        vp->dfselect = (uint32_t)val;
    } else if (off == VPCI_C_GFSELECT && width == 4) {
        vp->gfselect = (uint32_t)val;
    } else if (off == VPCI_C_GF && width == 4) {
        if (vp->gfselect < 2 && !(d->status & VIRTIO_S_FEATURES_OK)) {
            unsigned sh = 32 * vp->gfselect;
            vp->gf = (vp->gf & ~(UINT64_C(0xffffffff) << sh)) | ((uint64_t)(uint32_t)val << sh);
        }
    } else if (off == VPCI_C_STATUS && width == 1) {
        modern_status(vp, (uint8_t)val);
    } else if (off == VPCI_C_Q_SELECT && width == 2) {
        vp->qsel = (uint16_t)val;
    } else if (off == VPCI_C_Q_SIZE && width == 2) {
        if (q && !q->started)
            q->num = (uint16_t)val;
    } else if (off == VPCI_C_Q_ENABLE && width == 2) {
        if (q && val == 1 && !q->started)
            start_queue(vp, vp->qsel);
    } else if (off >= VPCI_C_Q_DESC && off < VPCI_C_Q_DEVICE + 8 && (width == 4 || width == 8)) {
        uint64_t *field;
        uint64_t base = off < VPCI_C_Q_DRIVER   ? VPCI_C_Q_DESC
                        : off < VPCI_C_Q_DEVICE ? VPCI_C_Q_DRIVER
                                                : VPCI_C_Q_DEVICE;
        if (!q || q->started)
            return;
        field = base == VPCI_C_Q_DESC     ? &q->desc_addr
                : base == VPCI_C_Q_DRIVER ? &q->avail_addr
                                          : &q->used_addr;
        set_addr64(field, off - base, width, val);
    } else if ((off == VPCI_C_MSIX || off == VPCI_C_Q_MSIX) && width == 2) {
        /* No MSI-X: the vector stays NO_VECTOR, which tells the driver. */
    } else {
        trace_event(d->trace, d->name,
                    "common configuration write of %u bytes at 0x%" PRIx64 ": ignored", width, off);
    }
}

static uint64_t modern_read(struct virtio_pci *vp, uint64_t off, unsigned width)
{
    struct vdev *d = vp->vdev;

    d->legacy = false;
    if (off < VPCI_COMMON_OFF + VPCI_COMMON_LEN)
        return common_read(vp, off - VPCI_COMMON_OFF, width);
    if (off == VPCI_ISR_OFF && width == 1)
        return isr_read_clear(vp);
    if (off >= VPCI_DEVICE_OFF && off < VPCI_DEVICE_OFF + d->ops->config_size) {
        uint8_t buf[8] = { 0 };
        vdev_config_read(d, (uint32_t)(off - VPCI_DEVICE_OFF), buf, width);
        return slice(buf, sizeof(buf), 0, width);
    }
    return 0;
}

static void modern_write(struct virtio_pci *vp, uint64_t off, unsigned width, uint64_t val)
{
    struct vdev *d = vp->vdev;

    d->legacy = false;
    if (off < VPCI_COMMON_OFF + VPCI_COMMON_LEN) {
        common_write(vp, off - VPCI_COMMON_OFF, width, val);
    } else if (off >= VPCI_DEVICE_OFF && off < VPCI_DEVICE_OFF + d->ops->config_size) {
        uint8_t buf[8];
        memcpy(buf, &val, sizeof(buf));
        vdev_config_write(d, (uint32_t)(off - VPCI_DEVICE_OFF), buf, width);
    } else if (off >= VPCI_NOTIFY_OFF && (off - VPCI_NOTIFY_OFF) % VPCI_NOTIFY_MULT == 0 &&
               width <= 4) {
        vp_notify(vp, (unsigned)((off - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULT));
    } else {
        trace_event(d->trace, d->name, "BAR 4 write of %u bytes at 0x%" PRIx64 ": ignored", width,
                    off);
    }
}

/* ------------------------------------------------------------------------ */
/* PCI ops                                                                  */

static uint64_t vp_bar_read(struct pci_dev *p, unsigned bar, uint64_t off, unsigned width)
{
    struct virtio_pci *vp = vp_of(p);

    if (bar == 0 && width <= 4)
        return legacy_read(vp, off, width);
    if (bar == VPCI_MODERN_BAR && width <= 8)
        return modern_read(vp, off, width);
    return 0;
}

static void vp_bar_write(struct pci_dev *p, unsigned bar, uint64_t off, unsigned width,
                         uint64_t val)
{
    struct virtio_pci *vp = vp_of(p);

    if (bar == 0 && width <= 4)
        legacy_write(vp, off, width, val);
    else if (bar == VPCI_MODERN_BAR)
        modern_write(vp, off, width, val);
}

/* The PCI configuration access capability: a window onto the BARs through
 * configuration space (bar, offset, length, then data). */
static bool pcicfg_target(struct virtio_pci *vp, unsigned *bar, uint32_t *off, uint32_t *len)
{
    const struct pci_dev *p = &vp->pci;
    uint8_t c = vp->pcicfg_cap;

    *bar = p->cfg[c + 4];
    *off = pci_get32(p, c + 8);
    *len = pci_get32(p, c + 12);
    return *bar < PCI_NBARS && p->bar[*bar].size && (*len == 1 || *len == 2 || *len == 4) &&
           *off % *len == 0 && *off < p->bar[*bar].size && *len <= p->bar[*bar].size - *off;
}

static void vp_cfg_reading(struct pci_dev *p, unsigned off, unsigned width)
{
    struct virtio_pci *vp = vp_of(p);
    unsigned bar, c = vp->pcicfg_cap;
    uint32_t o, len;

    if (!c || off + width <= c + 16 || off >= c + 20)
        return;
    memset(p->cfg + c + 16, 0, 4);
    if (pcicfg_target(vp, &bar, &o, &len)) {
        uint64_t v = p->ops->bar_read(p, bar, o, len);
        for (unsigned i = 0; i < len; i++)
            p->cfg[c + 16 + i] = (uint8_t)(v >> (8 * i));
    }
}

static void vp_cfg_written(struct pci_dev *p, unsigned off, unsigned width, uint32_t val)
{
    struct virtio_pci *vp = vp_of(p);
    unsigned bar, c = vp->pcicfg_cap;
    uint32_t o, len;

    (void)val;
    if (!c || off + width <= c + 16 || off >= c + 20)
        return;
    if (pcicfg_target(vp, &bar, &o, &len))
        p->ops->bar_write(p, bar, o, len,
                          pci_get32(p, c + 16) & (len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1));
}

static const struct pci_dev_ops virtio_pci_ops = {
    .bar_read = vp_bar_read,
    .bar_write = vp_bar_write,
    .cfg_written = vp_cfg_written,
    .cfg_reading = vp_cfg_reading,
};

/* A virtio capability: type, BAR, offset, length (+ extra bytes). */
static uint8_t add_vcap(struct pci_dev *p, uint8_t type, uint8_t len, uint8_t bar, uint32_t off,
                        uint32_t length)
{
    uint8_t c = pci_dev_cap(p, PCI_CAP_VNDR, len);

    if (!c)
        return 0;
    p->cfg[c + 2] = len;
    p->cfg[c + 3] = type;
    p->cfg[c + 4] = bar;
    pci_put32(p, c + 8, off);
    pci_put32(p, c + 12, length);
    return c;
}

static uint16_t transitional_id(uint16_t virtio_id)
{
    switch (virtio_id) {
    case 1:
        return 0x1000;
    case 2:
        return 0x1001;
    case 3:
        return 0x1003;
    case 4:
        return 0x1005;
    case 5:
        return 0x1002;
    case 8:
        return 0x1004;
    case 9:
        return 0x1009;
    default:
        return (uint16_t)(0x1040 + virtio_id);
    }
}

static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t n = 4;

    while (n < v)
        n <<= 1;
    return n;
}

void virtio_pci_init(struct virtio_pci *vp, struct vdev *d, enum dev_transport t)
{
    struct pci_dev *p = &vp->pci;
    bool legacy = t != DEV_MODERN, modern = t != DEV_LEGACY;

    memset(vp, 0, sizeof(*vp));
    vp->vdev = d;
    vp->transport = t;
    if (legacy)
        pci_dev_init(p, VPCI_VENDOR, transitional_id(d->ops->device_id), d->ops->pci_class, 0,
                     VPCI_VENDOR, d->ops->device_id);
    else
        pci_dev_init(p, VPCI_VENDOR, (uint16_t)(0x1040 + d->ops->device_id), d->ops->pci_class, 1,
                     VPCI_VENDOR, 0x1100);
    p->ops = &virtio_pci_ops;
    p->ctx = vp;
    p->name = d->name;
    p->trace = d->trace;
    if (legacy)
        pci_dev_bar(p, 0, pow2_at_least(VPCI_L_CONFIG + d->ops->config_size), true, false);
    if (modern) {
        uint8_t c;
        pci_dev_bar(p, VPCI_MODERN_BAR, VPCI_MODERN_SIZE, false, true);
        add_vcap(p, VPCI_CAP_COMMON, 16, VPCI_MODERN_BAR, VPCI_COMMON_OFF, VPCI_COMMON_LEN);
        c = add_vcap(p, VPCI_CAP_NOTIFY, 20, VPCI_MODERN_BAR, VPCI_NOTIFY_OFF,
                     VPCI_NOTIFY_MULT * d->ops->nqueues);
        if (c)
            pci_put32(p, c + 16, VPCI_NOTIFY_MULT);
        add_vcap(p, VPCI_CAP_ISR, 16, VPCI_MODERN_BAR, VPCI_ISR_OFF, 1);
        add_vcap(p, VPCI_CAP_DEVICE, 16, VPCI_MODERN_BAR, VPCI_DEVICE_OFF, d->ops->config_size);
        c = add_vcap(p, VPCI_CAP_PCI, 20, 0, 0, 0);
        if (c) {
            vp->pcicfg_cap = c;
            /* bar, offset, length and data are the driver's. */
            p->wmask[c + 4] = 0xff;
            memset(p->wmask + c + 8, 0xff, 12);
        }
    }
    vdev_set_irq(d, vp_irq, vp);
}
