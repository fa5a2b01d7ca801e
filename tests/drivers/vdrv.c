/* SPDX-License-Identifier: MIT */
/* vdrv.c: virtio-pci (legacy and modern) and split virtqueues, for the drivers written here. */
#include "vdrv.h"

#include <errno.h>
#include <string.h>

/* PCI configuration space. */
#define PCI_COMMAND  0x04
#define PCI_STATUS   0x06
#define PCI_CAP_PTR  0x34
#define PCI_CMD_IO   0x1
#define PCI_CMD_MEM  0x2
#define PCI_CMD_MAST 0x4
#define PCI_CAP_LIST 0x10

/* Legacy registers (BAR 0). */
#define L_HOST_FEATURES  0x00
#define L_GUEST_FEATURES 0x04
#define L_QUEUE_PFN      0x08
#define L_QUEUE_NUM      0x0c
#define L_QUEUE_SEL      0x0e
#define L_QUEUE_NOTIFY   0x10
#define L_STATUS         0x12
#define L_ISR            0x13
#define L_CONFIG         0x14

/* Modern common configuration. */
#define C_DFSELECT 0x00
#define C_DF       0x04
#define C_GFSELECT 0x08
#define C_GF       0x0c
#define C_STATUS   0x14
#define C_QSELECT  0x16
#define C_QSIZE    0x18
#define C_QENABLE  0x1c
#define C_QNOFF    0x1e
#define C_QDESC    0x20
#define C_QDRIVER  0x28
#define C_QDEVICE  0x30

static uint64_t bar_rd(struct vdrv *v, unsigned bar, uint64_t off, unsigned w)
{
    uint64_t x = 0;

    v->I->bar_read(v->pci, bar, off, w, &x);
    return x;
}

static void bar_wr(struct vdrv *v, unsigned bar, uint64_t off, unsigned w, uint64_t x)
{
    v->I->bar_write(v->pci, bar, off, w, x);
}

static uint32_t cfg_rd(struct vdrv *v, unsigned off, unsigned w)
{
    uint32_t x = 0;

    v->I->cfg_read(v->pci, off, w, &x);
    return x;
}

static uint64_t common_rd(struct vdrv *v, unsigned off, unsigned w)
{
    return bar_rd(v, v->common_bar, v->common_off + off, w);
}

static void common_wr(struct vdrv *v, unsigned off, unsigned w, uint64_t x)
{
    bar_wr(v, v->common_bar, v->common_off + off, w, x);
}

uint8_t vdrv_status(struct vdrv *v)
{
    return v->modern ? (uint8_t)common_rd(v, C_STATUS, 1) : (uint8_t)bar_rd(v, 0, L_STATUS, 1);
}

static void set_status(struct vdrv *v, uint8_t s)
{
    if (v->modern)
        common_wr(v, C_STATUS, 1, s);
    else
        bar_wr(v, 0, L_STATUS, 1, s);
}

void vdrv_reset(struct vdrv *v)
{
    set_status(v, 0);
}

/* The modern capabilities: each virtio window's BAR and offset. */
static bool find_caps(struct vdrv *v)
{
    unsigned found = 0, off, guard = 0;

    if (!(cfg_rd(v, PCI_STATUS, 2) & PCI_CAP_LIST))
        return false;
    for (off = cfg_rd(v, PCI_CAP_PTR, 1) & ~3u; off && guard++ < 48;
         off = cfg_rd(v, off + 1, 1) & ~3u) {
        unsigned type, bar;
        uint32_t where;

        if (cfg_rd(v, off, 1) != 0x09) /* vendor-specific */
            continue;
        type = cfg_rd(v, off + 3, 1);
        bar = cfg_rd(v, off + 4, 1);
        where = cfg_rd(v, off + 8, 4);
        switch (type) {
        case 1:
            v->common_bar = bar;
            v->common_off = where;
            found |= 1;
            break;
        case 2:
            v->notify_bar = bar;
            v->notify_off = where;
            v->notify_mult = cfg_rd(v, off + 16, 4);
            found |= 2;
            break;
        case 3:
            v->isr_bar = bar;
            v->isr_off = where;
            found |= 4;
            break;
        case 4:
            v->device_bar = bar;
            v->device_off = where;
            found |= 8;
            break;
        }
    }
    return found == 15;
}

int vdrv_probe(struct vdrv *v, sbvm_driver *d, const struct sbvm_driver_if *I, sbvm_pci *p,
               bool force_legacy)
{
    v->I = I;
    v->d = d;
    v->pci = p;
    I->cfg_write(p, PCI_COMMAND, 2, PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MAST);
    v->modern = !force_legacy && find_caps(v);
    if (!v->modern && (cfg_rd(v, 0x10, 4) & 1) == 0)
        return -ENODEV; /* no legacy I/O BAR either */
    vdrv_reset(v);
    set_status(v, VDRV_S_ACK);
    set_status(v, VDRV_S_ACK | VDRV_S_DRIVER);
    return 0;
}

int vdrv_negotiate(struct vdrv *v, uint64_t wanted)
{
    uint64_t offered;

    if (!v->modern) {
        offered = (uint32_t)bar_rd(v, 0, L_HOST_FEATURES, 4);
        v->features = offered & wanted & 0xffffffffu;
        bar_wr(v, 0, L_GUEST_FEATURES, 4, v->features);
        return 0;
    }
    common_wr(v, C_DFSELECT, 4, 0);
    offered = common_rd(v, C_DF, 4);
    common_wr(v, C_DFSELECT, 4, 1);
    offered |= common_rd(v, C_DF, 4) << 32;
    if (!(offered & (1ull << VDRV_F_VERSION_1)))
        return -ENODEV;
    v->features = offered & (wanted | (1ull << VDRV_F_VERSION_1));
    common_wr(v, C_GFSELECT, 4, 0);
    common_wr(v, C_GF, 4, (uint32_t)v->features);
    common_wr(v, C_GFSELECT, 4, 1);
    common_wr(v, C_GF, 4, (uint32_t)(v->features >> 32));
    set_status(v, VDRV_S_ACK | VDRV_S_DRIVER | VDRV_S_FEAT_OK);
    if (!(vdrv_status(v) & VDRV_S_FEAT_OK))
        return -EIO;
    return 0;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) & ~(a - 1);
}

int vdrv_queue_init(struct vdrv *v, unsigned index, unsigned max, struct vdrv_queue *q)
{
    unsigned num;
    uint64_t used_at, total;

    memset(q, 0, sizeof(*q));
    q->index = (uint16_t)index;
    if (v->modern) {
        common_wr(v, C_QSELECT, 2, index);
        num = (unsigned)common_rd(v, C_QSIZE, 2);
    } else {
        bar_wr(v, 0, L_QUEUE_SEL, 2, index);
        num = (unsigned)bar_rd(v, 0, L_QUEUE_NUM, 2);
    }
    if (num == 0)
        return -ENOENT;
    /* Legacy drivers must take the device's size; modern ones may shrink it. */
    if (v->modern && num > max)
        num = max;
    if (num > VDRV_MAX_QUEUE || (num & (num - 1)))
        return -ENOTSUP;
    q->num = (uint16_t)num;
    /* The legacy layout (also fine for modern): descriptors, the available
     * ring, the used ring on the next 4096 boundary. */
    used_at = align_up(16ull * num + 6 + 2ull * num, 4096);
    total = used_at + 6 + 8ull * num;
    q->mem = v->I->dma_alloc(v->d, (size_t)total, 4096, &q->mem_dma);
    if (!q->mem)
        return -ENOMEM;
    q->desc = q->mem;
    q->avail = (uint8_t *)q->mem + 16u * num;
    q->used = (uint8_t *)q->mem + used_at;
    for (unsigned i = 0; i < num; i++) {
        uint16_t next = (uint16_t)(i + 1);
        memcpy(q->desc + 16u * i + 14, &next, 2);
    }
    q->free_head = 0;
    q->nfree = (uint16_t)num;
    if (v->modern) {
        common_wr(v, C_QSIZE, 2, num);
        common_wr(v, C_QDESC, 8, q->mem_dma);
        common_wr(v, C_QDRIVER, 8, q->mem_dma + 16ull * num);
        common_wr(v, C_QDEVICE, 8, q->mem_dma + used_at);
        q->notify = (uint16_t)common_rd(v, C_QNOFF, 2);
        common_wr(v, C_QENABLE, 2, 1);
        if (common_rd(v, C_QENABLE, 2) != 1)
            return -EIO;
    } else {
        bar_wr(v, 0, L_QUEUE_PFN, 4, q->mem_dma >> 12);
        if (bar_rd(v, 0, L_QUEUE_PFN, 4) != (q->mem_dma >> 12))
            return -EIO;
    }
    return 0;
}

void vdrv_queue_free(struct vdrv *v, struct vdrv_queue *q)
{
    if (q->mem)
        v->I->dma_free(v->d, q->mem);
    q->mem = NULL;
}

void vdrv_ready(struct vdrv *v)
{
    set_status(v, VDRV_S_ACK | VDRV_S_DRIVER | (v->modern ? VDRV_S_FEAT_OK : 0) | VDRV_S_DRIVER_OK);
}

uint64_t vdrv_cfg_read(struct vdrv *v, unsigned off, unsigned width)
{
    /* 64-bit fields as two 32-bit reads: the legacy configuration starts
     * at 0x14, where an 8-byte access would be misaligned. */
    if (width == 8)
        return vdrv_cfg_read(v, off, 4) | vdrv_cfg_read(v, off + 4, 4) << 32;
    if (v->modern)
        return bar_rd(v, v->device_bar, v->device_off + off, width);
    return bar_rd(v, 0, L_CONFIG + off, width);
}

void vdrv_cfg_write(struct vdrv *v, unsigned off, unsigned width, uint64_t val)
{
    if (v->modern)
        bar_wr(v, v->device_bar, v->device_off + off, width, val);
    else
        bar_wr(v, 0, L_CONFIG + off, width, val);
}

uint8_t vdrv_isr(struct vdrv *v)
{
    return v->modern ? (uint8_t)bar_rd(v, v->isr_bar, v->isr_off, 1)
                     : (uint8_t)bar_rd(v, 0, L_ISR, 1);
}

int vdrv_add(struct vdrv_queue *q, const struct vdrv_seg *segs, unsigned n, void *cookie)
{
    uint16_t head = q->free_head, idx = head, last = head;

    if (n == 0 || n > q->nfree)
        return -ENOSPC;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *dsc = q->desc + 16u * idx;
        uint16_t flags = (uint16_t)((segs[i].write ? 2u : 0u) | (i + 1 < n ? 1u : 0u)), next;
        memcpy(&next, dsc + 14, 2);
        memcpy(dsc, &segs[i].addr, 8);
        memcpy(dsc + 8, &segs[i].len, 4);
        memcpy(dsc + 12, &flags, 2);
        last = idx;
        idx = next;
    }
    (void)last;
    q->free_head = idx;
    q->nfree = (uint16_t)(q->nfree - n);
    q->cookie[head] = cookie;
    q->chain_len[head] = (uint16_t)n;
    memcpy(q->avail + 4 + 2u * (q->avail_idx % q->num), &head, 2);
    q->avail_idx++;
    /* The entry before the index that publishes it. */
    __atomic_store_n((uint16_t *)(void *)(q->avail + 2), q->avail_idx, __ATOMIC_RELEASE);
    return head;
}

void vdrv_kick(struct vdrv *v, struct vdrv_queue *q)
{
    /* The index published, then the device's flag: a device busy with the
     * queue (VIRTQ_USED_F_NO_NOTIFY) looks again before it rests. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n((uint16_t *)(void *)q->used, __ATOMIC_RELAXED) & 1u)
        return;
    if (v->modern)
        bar_wr(v, v->notify_bar, v->notify_off + (uint64_t)q->notify * v->notify_mult, 2, q->index);
    else
        bar_wr(v, 0, L_QUEUE_NOTIFY, 2, q->index);
}

void vdrv_quiet(struct vdrv_queue *q, bool on)
{
    uint16_t flags = on ? 1u : 0u; /* VIRTQ_AVAIL_F_NO_INTERRUPT */

    __atomic_store_n((uint16_t *)(void *)q->avail, flags, __ATOMIC_RELAXED);
    /* Off: the device's next look must see it before we look at the used
     * ring again (the caller does, for what came meanwhile). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int vdrv_get(struct vdrv_queue *q, void **cookie, uint32_t *len)
{
    uint16_t used_idx = __atomic_load_n((uint16_t *)(void *)(q->used + 2), __ATOMIC_ACQUIRE);
    uint32_t id, n;
    uint16_t idx;

    if (used_idx == q->last_used)
        return 0;
    memcpy(&id, q->used + 4 + 8u * (q->last_used % q->num), 4);
    memcpy(len, q->used + 8 + 8u * (q->last_used % q->num), 4);
    q->last_used++;
    if (id >= q->num)
        return -EIO; /* a device that lies */
    *cookie = q->cookie[id];
    /* Give the chain's descriptors back: walk it to its tail. */
    n = q->chain_len[id];
    idx = (uint16_t)id;
    for (uint32_t i = 1; i < n; i++)
        memcpy(&idx, q->desc + 16u * idx + 14, 2);
    memcpy(q->desc + 16u * idx + 14, &q->free_head, 2);
    q->free_head = (uint16_t)id;
    q->nfree = (uint16_t)(q->nfree + n);
    return 1;
}
