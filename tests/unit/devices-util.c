/* SPDX-License-Identifier: MIT */
/* devices-util.c: the test driver of the device model suites. */
#include "devices-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "unit.h"

static void on_intx(struct pci_dev *p, int level, void *ctx)
{
    struct tdrv *t = ctx;

    (void)p;
    if (level)
        t->intx_raised++;
}

void td_setup(struct tdrv *t, const char *type, uint64_t size, bool ro, enum dev_transport tr)
{
    struct devspec spec;
    sbvm_error *err = NULL;
    char desc[700];
    int rc;

    memset(t, 0, sizeof(*t));
    t->dir = unit_tmpdir();
    snprintf(t->img, sizeof(t->img), "%s/disk.img", t->dir);
    /* Create it writable, then open as asked. */
    snprintf(desc, sizeof(desc), "%s,disk=%s,size=%llu", type, t->img, (unsigned long long)size);
    rc = devspec_parse(desc, &spec, &err);
    ck_assert_msg(rc == 0, "%s", err ? sbvm_error_message(err) : "?");
    spec.disks[0].ro = ro;
    spec.transport = tr;
    rc = dev_create(&spec, NULL, &t->dev, &err);
    ck_assert_msg(rc == 0, "%s", err ? sbvm_error_message(err) : "?");
    devspec_release(&spec);

    t->mem = mmap(NULL, TD_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(t->mem, MAP_FAILED);
    dma_map_init(&t->map);
    ck_assert_int_eq(dma_map_add(&t->map, TD_BASE, TD_MEM, t->mem, 0), 0);
    t->brk = TD_BASE;
    vdev_set_memory(&t->dev, &t->map);

    pci_bus_init(&t->bus);
    virtio_pci_init(&t->vp, &t->dev, tr);
    t->vp.pci.intx_fn = on_intx;
    t->vp.pci.intx_ctx = t;
    ck_assert_int_eq(pci_bus_plug(&t->bus, &t->vp.pci), 0);
    /* Decode both kinds of BAR, as firmware would. */
    td_cfg_write(t, PCI_COMMAND, 2, PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER);
}

void td_teardown(struct tdrv *t)
{
    vdev_release(&t->dev);
    dma_map_release(&t->map);
    munmap(t->mem, TD_MEM);
    unit_rmtree(t->dir);
    free(t->dir);
}

uint64_t td_alloc(struct tdrv *t, uint64_t len, uint64_t align)
{
    uint64_t a = (t->brk + align - 1) & ~(align - 1);

    ck_assert_msg(a + len <= TD_BASE + TD_MEM, "test memory exhausted");
    t->brk = a + len;
    memset(td_ptr(t, a), 0, len);
    return a;
}

void *td_ptr(struct tdrv *t, uint64_t addr)
{
    return t->mem + (addr - TD_BASE);
}

uint64_t td_bar_read(struct tdrv *t, unsigned bar, uint64_t off, unsigned width)
{
    uint64_t v;

    ck_assert_int_eq(pci_bar_read(&t->bus, 0, bar, off, width, &v), 0);
    return v;
}

void td_bar_write(struct tdrv *t, unsigned bar, uint64_t off, unsigned width, uint64_t val)
{
    ck_assert_int_eq(pci_bar_write(&t->bus, 0, bar, off, width, val), 0);
}

uint32_t td_cfg_read(struct tdrv *t, unsigned off, unsigned width)
{
    uint32_t v;

    ck_assert_int_eq(pci_cfg_read(&t->bus, 0, off, width, &v), 0);
    return v;
}

void td_cfg_write(struct tdrv *t, unsigned off, unsigned width, uint32_t val)
{
    ck_assert_int_eq(pci_cfg_write(&t->bus, 0, off, width, val), 0);
}

uint8_t td_status(struct tdrv *t)
{
    return t->modern ? (uint8_t)td_bar_read(t, 4, VPCI_C_STATUS, 1)
                     : (uint8_t)td_bar_read(t, 0, VPCI_L_STATUS, 1);
}

void td_init_modern(struct tdrv *t, uint64_t features)
{
    unsigned nq = t->dev.ops->nqueues;

    t->modern = true;
    td_bar_write(t, 4, VPCI_C_STATUS, 1, 0);
    td_bar_write(t, 4, VPCI_C_STATUS, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
    td_bar_write(t, 4, VPCI_C_GFSELECT, 4, 0);
    td_bar_write(t, 4, VPCI_C_GF, 4, (uint32_t)features);
    td_bar_write(t, 4, VPCI_C_GFSELECT, 4, 1);
    td_bar_write(t, 4, VPCI_C_GF, 4, (uint32_t)(features >> 32));
    td_bar_write(t, 4, VPCI_C_STATUS, 1,
                 VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    ck_assert_uint_ne(td_bar_read(t, 4, VPCI_C_STATUS, 1) & VIRTIO_S_FEATURES_OK, 0);
    for (unsigned q = 0; q < nq; q++) {
        struct td_queue *tq = &t->q[q];
        memset(tq, 0, sizeof(*tq));
        tq->num = TD_QSIZE;
        tq->desc = td_alloc(t, vq_desc_bytes(TD_QSIZE), 16);
        tq->avail = td_alloc(t, vq_avail_bytes(TD_QSIZE), 2);
        tq->used = td_alloc(t, vq_used_bytes(TD_QSIZE), 4);
        td_bar_write(t, 4, VPCI_C_Q_SELECT, 2, q);
        td_bar_write(t, 4, VPCI_C_Q_SIZE, 2, TD_QSIZE);
        td_bar_write(t, 4, VPCI_C_Q_DESC, 4, (uint32_t)tq->desc);
        td_bar_write(t, 4, VPCI_C_Q_DESC + 4, 4, (uint32_t)(tq->desc >> 32));
        td_bar_write(t, 4, VPCI_C_Q_DRIVER, 8, tq->avail);
        td_bar_write(t, 4, VPCI_C_Q_DEVICE, 8, tq->used);
        td_bar_write(t, 4, VPCI_C_Q_ENABLE, 2, 1);
        ck_assert_uint_eq(td_bar_read(t, 4, VPCI_C_Q_ENABLE, 2), 1);
    }
    td_bar_write(t, 4, VPCI_C_STATUS, 1,
                 VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
                     VIRTIO_S_DRIVER_OK);
}

void td_init_legacy(struct tdrv *t, uint32_t features)
{
    unsigned nq = t->dev.ops->nqueues;

    t->modern = false;
    td_bar_write(t, 0, VPCI_L_STATUS, 1, 0);
    td_bar_write(t, 0, VPCI_L_STATUS, 1, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
    td_bar_write(t, 0, VPCI_L_GUEST_FEATURES, 4, features);
    for (unsigned q = 0; q < nq; q++) {
        struct td_queue *tq = &t->q[q];
        uint16_t num;
        uint64_t area;

        td_bar_write(t, 0, VPCI_L_QUEUE_SEL, 2, q);
        num = (uint16_t)td_bar_read(t, 0, VPCI_L_QUEUE_NUM, 2);
        ck_assert_uint_eq(num, VDEV_QUEUE_SIZE);
        memset(tq, 0, sizeof(*tq));
        tq->num = num;
        area = td_alloc(t, 3 * 4096 + vq_desc_bytes(num) + vq_used_bytes(num), 4096);
        tq->desc = area;
        tq->avail = area + vq_desc_bytes(num);
        tq->used = (tq->avail + vq_avail_bytes(num) + 4095) & ~UINT64_C(4095);
        td_bar_write(t, 0, VPCI_L_QUEUE_PFN, 4, (uint32_t)(area >> 12));
    }
    td_bar_write(t, 0, VPCI_L_STATUS, 1,
                 VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_DRIVER_OK);
}

static void put_desc(uint8_t *table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    struct vring_desc_le d = { addr, len, flags, next };

    memcpy(table + 16u * i, &d, sizeof(d));
}

uint16_t td_submit(struct tdrv *t, unsigned q, const struct td_seg *segs, unsigned n, bool indirect)
{
    struct td_queue *tq = &t->q[q];
    uint8_t *table = td_ptr(t, tq->desc);
    uint16_t head = tq->next_desc % tq->num, idx;

    if (indirect) {
        uint64_t it = td_alloc(t, 16ull * n, 16);
        for (unsigned i = 0; i < n; i++)
            put_desc(td_ptr(t, it), i, segs[i].addr, segs[i].len,
                     (uint16_t)((segs[i].write ? VRING_DESC_F_WRITE : 0) |
                                (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
                     (uint16_t)(i + 1));
        put_desc(table, head, it, 16u * n, VRING_DESC_F_INDIRECT, 0);
        tq->next_desc++;
    } else {
        for (unsigned i = 0; i < n; i++) {
            idx = (uint16_t)((tq->next_desc + i) % tq->num);
            put_desc(table, idx, segs[i].addr, segs[i].len,
                     (uint16_t)((segs[i].write ? VRING_DESC_F_WRITE : 0) |
                                (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
                     (uint16_t)((idx + 1) % tq->num));
        }
        tq->next_desc = (uint16_t)(tq->next_desc + n);
    }
    {
        uint8_t *avail = td_ptr(t, tq->avail);
        memcpy(avail + 4 + 2u * (tq->avail_idx % tq->num), &head, 2);
        tq->avail_idx++;
        __atomic_store_n((uint16_t *)(void *)(avail + 2), tq->avail_idx, __ATOMIC_RELEASE);
    }
    return head;
}

void td_kick(struct tdrv *t, unsigned q)
{
    if (t->modern)
        td_bar_write(t, 4, VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT * q, 2, q);
    else
        td_bar_write(t, 0, VPCI_L_QUEUE_NOTIFY, 2, q);
}

int td_used(struct tdrv *t, unsigned q, uint32_t *id, uint32_t *len)
{
    struct td_queue *tq = &t->q[q];
    uint8_t *used = td_ptr(t, tq->used);
    uint16_t idx = __atomic_load_n((uint16_t *)(void *)(used + 2), __ATOMIC_ACQUIRE);
    struct vring_used_elem_le e;

    if (idx == tq->used_seen)
        return 0;
    memcpy(&e, used + 4 + 8u * (tq->used_seen % tq->num), sizeof(e));
    tq->used_seen++;
    *id = e.id;
    *len = e.len;
    return 1;
}

int td_blk(struct tdrv *t, uint32_t type, uint64_t sector, void *data, uint32_t len,
           bool dev_writes)
{
    uint64_t hdr = td_alloc(t, 16, 8), buf = len ? td_alloc(t, len, 8) : 0, st = td_alloc(t, 1, 1);
    struct td_seg segs[3];
    unsigned n = 0;
    uint32_t id, used;
    uint16_t head;

    memcpy(td_ptr(t, hdr), &type, 4);
    memcpy((uint8_t *)td_ptr(t, hdr) + 8, &sector, 8);
    *(uint8_t *)td_ptr(t, st) = 0xee;
    segs[n++] = (struct td_seg){ hdr, 16, false };
    if (len) {
        if (!dev_writes)
            memcpy(td_ptr(t, buf), data, len);
        segs[n++] = (struct td_seg){ buf, len, dev_writes };
    }
    segs[n++] = (struct td_seg){ st, 1, true };
    head = td_submit(t, 0, segs, n, false);
    td_kick(t, 0);
    if (!td_used(t, 0, &id, &used))
        return -1;
    ck_assert_uint_eq(id, head);
    if (len && dev_writes)
        memcpy(data, td_ptr(t, buf), len);
    return *(uint8_t *)td_ptr(t, st);
}

int td_scsi_cmd(struct tdrv *t, unsigned target, unsigned lun, const uint8_t *cdb, unsigned cdblen,
                const void *dout, uint32_t doutlen, void *din, uint32_t dinlen, struct td_scsi *res)
{
    uint64_t req = td_alloc(t, 19 + 32, 8), resp = td_alloc(t, 12 + 96, 8);
    uint64_t o = doutlen ? td_alloc(t, doutlen, 8) : 0, i = dinlen ? td_alloc(t, dinlen, 8) : 0;
    uint8_t *r = td_ptr(t, req), *p;
    struct td_seg segs[4];
    unsigned n = 0;
    uint32_t id;
    uint16_t head;

    r[0] = 1;
    r[1] = (uint8_t)target;
    r[2] = (uint8_t)(0x40 | (lun >> 8));
    r[3] = (uint8_t)lun;
    memcpy(r + 19, cdb, cdblen);
    segs[n++] = (struct td_seg){ req, 19 + 32, false };
    if (doutlen) {
        memcpy(td_ptr(t, o), dout, doutlen);
        segs[n++] = (struct td_seg){ o, doutlen, false };
    }
    segs[n++] = (struct td_seg){ resp, 12 + 96, true };
    if (dinlen)
        segs[n++] = (struct td_seg){ i, dinlen, true };
    memset(td_ptr(t, resp), 0xee, 12 + 96);
    head = td_submit(t, 2, segs, n, false);
    td_kick(t, 2);
    if (!td_used(t, 2, &id, &res->used))
        return -1;
    ck_assert_uint_eq(id, head);
    p = td_ptr(t, resp);
    memcpy(&res->sense_len, p, 4);
    memcpy(&res->residual, p + 4, 4);
    res->status = p[10];
    res->response = p[11];
    memcpy(res->sense, p + 12, 96);
    if (dinlen)
        memcpy(din, td_ptr(t, i), dinlen);
    return 0;
}
