/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi.c: a virtio-scsi driver against the sandboxvm driver
 * interface. At init it scans every target of each adapter with INQUIRY
 * (64 on the models here), reads each disk's capacity, and registers unit N
 * of "virtio-scsi" for the N-th disk found (READ, WRITE, FLUSH, INFO and
 * SCSI pass-through to any target of its adapter) and unit K of
 * "virtio-scsi-host" for the K-th adapter (pass-through only: a client's
 * own scan). Requests complete from the interrupt handler.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandboxvm/driver.h"
#include "vdrv.h"

#define REQ_LEN   51  /* lun, id, task attribute, priority, crn, cdb[32] */
#define RESP_LEN  108 /* sense_len, residual, qualifier, status, response, sense[96] */
#define SLOTS     64
#define MAX_IO    (4u << 20)
#define MAX_HOSTS 2
#define MAX_DISKS 16

struct slot {
    struct sbvm_io *io; /* NULL when free */
    uint8_t *buf;       /* DMA: the request at 0, the response at 64 */
    uint64_t buf_dma;
    uint8_t *bounce;
    uint64_t bounce_dma;
    size_t bounce_len;
    bool bounced, data_in;
    struct sbvm_scsi *scsi; /* pass-through: where the answer goes; else the slot's own */
    struct sbvm_scsi own;
    uint64_t xfer; /* bytes the command moves */
};

/* Both kinds of unit context start with their kind. */
enum { KIND_HOST = 1, KIND_DISK = 2 };

struct host {
    unsigned kind;
    struct vdrv v;
    struct vdrv_queue ctrl, event, req;
    sbvm_lock *lock;
    sbvm_irq *irq;
    sbvm_event *sync; /* init's commands wait on it */
    uint8_t *events;  /* DMA: buffers left in the event queue */
    uint64_t events_dma;
    unsigned max_target;
    struct slot slots[SLOTS];
    unsigned index;
};

struct disk {
    unsigned kind;
    struct host *h;
    unsigned target;
    uint64_t blocks;
    uint32_t block_size;
    bool ro;
    char model[48];
};

static const struct sbvm_driver_if *I;
static sbvm_driver *self;
static struct host *hosts[MAX_HOSTS];
static unsigned nhosts;
static struct disk *disks[MAX_DISKS];
static unsigned ndisks;

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void be64(uint8_t *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p + 4, (uint32_t)v);
}

/* A SCSI outcome as an errno, for READ and WRITE. */
static int scsi_errno(const struct sbvm_scsi *s)
{
    if (s->response != 0)
        return -EIO;
    if (s->status == 0)
        return 0;
    if (s->status == 2 && s->sense_len >= 14) {
        unsigned key = s->sense[2] & 0xf, asc = s->sense[12];
        if (key == 5 && (asc == 0x21 || asc == 0x24))
            return -EINVAL;
        if (key == 7)
            return -EROFS;
    }
    return -EIO;
}

static void complete(struct host *h, struct slot *s)
{
    struct sbvm_io *io = s->io;
    const uint8_t *resp = s->buf + 64;
    struct sbvm_scsi *out = s->scsi;
    uint32_t sense_len, residual;
    int err;

    memcpy(&sense_len, resp, 4);
    memcpy(&residual, resp + 4, 4);
    out->status = resp[10];
    out->response = resp[11];
    out->sense_len = sense_len > sizeof(out->sense) ? (uint32_t)sizeof(out->sense) : sense_len;
    memcpy(out->sense, resp + 12, out->sense_len);
    out->residual = residual > s->xfer ? (uint32_t)s->xfer : residual;
    io->actual = s->xfer - out->residual;
    if (s->data_in && s->bounced && out->response == 0)
        memcpy(io->data, s->bounce, io->actual);
    /* Pass-through: the status and the transport's response (an absent
     * target: BAD_TARGET) are the caller's to judge. */
    err = io->command == SBVM_IO_SCSI ? 0 : scsi_errno(out);
    s->io = NULL;
    if (io->driver_ctx[1] == h) {
        /* One of init's own commands (never the runtime's): its waiter. */
        io->error = err;
        I->event_signal(h->sync);
        return;
    }
    I->io_done(self, io, err);
}

static void on_irq(void *ctx)
{
    struct host *h = ctx;
    void *cookie;
    uint32_t len;

    vdrv_isr(&h->v);
    I->lock(h->lock);
    while (vdrv_get(&h->req, &cookie, &len) == 1)
        complete(h, cookie);
    /* The control queue's answers are not waited for (there are none). */
    while (vdrv_get(&h->ctrl, &cookie, &len) == 1)
        ;
    I->unlock(h->lock);
}

/* Queues a command (lock held): 0, -EAGAIN when no slot or descriptors. */
static int submit(struct host *h, struct sbvm_io *io, unsigned target, unsigned lun,
                  const uint8_t *cdb, unsigned cdb_len, int dir, struct sbvm_scsi *answer)
{
    struct slot *s = NULL;
    struct vdrv_seg seg[4];
    uint64_t data_dma = 0;
    unsigned n = 0;

    for (unsigned i = 0; i < SLOTS && !s; i++)
        if (!h->slots[i].io)
            s = &h->slots[i];
    if (!s)
        return -EAGAIN;
    memset(s->buf, 0, 64 + RESP_LEN);
    s->buf[0] = 1;
    s->buf[1] = (uint8_t)target;
    s->buf[2] = (uint8_t)(0x40 | (lun >> 8));
    s->buf[3] = (uint8_t)lun;
    memcpy(s->buf + 8, &s, sizeof(s)); /* the tag: any unique value */
    memcpy(s->buf + 19, cdb, cdb_len);
    s->xfer = dir == SBVM_SCSI_NONE ? 0 : io->length;
    s->data_in = dir == SBVM_SCSI_IN;
    s->bounced = false;
    s->scsi = answer ? answer : &s->own;
    if (s->xfer) {
        if (I->dma_addr(io->data, s->xfer, &data_dma) < 0) {
            if (s->bounce_len < s->xfer) {
                if (s->bounce)
                    I->dma_free(self, s->bounce);
                s->bounce = I->dma_alloc(self, s->xfer, 64, &s->bounce_dma);
                s->bounce_len = s->bounce ? s->xfer : 0;
                if (!s->bounce)
                    return -ENOMEM;
            }
            if (!s->data_in)
                memcpy(s->bounce, io->data, s->xfer);
            data_dma = s->bounce_dma;
            s->bounced = true;
        }
    }
    seg[n++] = (struct vdrv_seg){ s->buf_dma, REQ_LEN, false };
    if (s->xfer && !s->data_in)
        seg[n++] = (struct vdrv_seg){ data_dma, (uint32_t)s->xfer, false };
    seg[n++] = (struct vdrv_seg){ s->buf_dma + 64, RESP_LEN, true };
    if (s->xfer && s->data_in)
        seg[n++] = (struct vdrv_seg){ data_dma, (uint32_t)s->xfer, true };
    if (vdrv_add(&h->req, seg, n, s) < 0)
        return -EAGAIN;
    s->io = io;
    vdrv_kick(&h->v, &h->req);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Commands at init, waited for                                             */

static int sync_cmd(struct host *h, unsigned target, const uint8_t *cdb, unsigned cdb_len,
                    void *buf, uint32_t len, struct sbvm_scsi *answer)
{
    struct sbvm_io io;
    int rc;

    memset(&io, 0, sizeof(io));
    io.size = sizeof(io);
    io.command = SBVM_IO_SCSI;
    io.data = buf;
    io.length = len;
    /* Straight to the queue, not through the runtime: complete() knows it
     * by this mark and wakes us instead of calling io_done. */
    io.driver_ctx[1] = h;
    I->lock(h->lock);
    rc = submit(h, &io, target, 0, cdb, cdb_len, len ? SBVM_SCSI_IN : SBVM_SCSI_NONE, answer);
    I->unlock(h->lock);
    if (rc < 0)
        return rc;
    return I->event_wait(h->sync, 5000000000ll);
}

/* ------------------------------------------------------------------------ */
/* Units                                                                    */

static int vscsi_begin_io(sbvm_driver *d, void *unit_ctx, struct sbvm_io *io)
{
    /* A disk's unit, or the adapter's own (pass-through only). */
    struct disk *k = *(unsigned *)unit_ctx == KIND_DISK ? unit_ctx : NULL;
    struct host *h = k ? k->h : unit_ctx;
    uint8_t cdb[16];
    int rc, dir;

    (void)d;
    switch (io->command) {
    case SBVM_IO_INFO: {
        struct sbvm_unit_info info;
        if (!k || io->length < sizeof(info) || !io->data)
            return -EINVAL;
        memset(&info, 0, sizeof(info));
        info.blocks = k->blocks;
        info.block_size = k->block_size;
        info.flags = k->ro ? SBVM_UNIT_READONLY : 0;
        memcpy(info.model, k->model, sizeof(info.model));
        memcpy(io->data, &info, sizeof(info));
        io->actual = sizeof(info);
        return 0;
    }
    case SBVM_IO_READ:
    case SBVM_IO_WRITE: {
        uint64_t lba;
        uint32_t count;
        if (!k || !io->data || io->length == 0 || io->length > MAX_IO ||
            io->offset % k->block_size || io->length % k->block_size)
            return -EINVAL;
        lba = io->offset / k->block_size;
        count = (uint32_t)(io->length / k->block_size);
        if (lba > k->blocks || count > k->blocks - lba)
            return -EINVAL;
        memset(cdb, 0, sizeof(cdb));
        cdb[0] = io->command == SBVM_IO_READ ? 0x88 : 0x8a; /* READ(16), WRITE(16) */
        be64(cdb + 2, lba);
        be32(cdb + 10, count);
        dir = io->command == SBVM_IO_READ ? SBVM_SCSI_IN : SBVM_SCSI_OUT;
        I->lock(h->lock);
        rc = submit(h, io, k->target, 0, cdb, 16, dir, NULL);
        I->unlock(h->lock);
        break;
    }
    case SBVM_IO_FLUSH:
        if (!k)
            return -EINVAL;
        memset(cdb, 0, sizeof(cdb));
        cdb[0] = 0x35; /* SYNCHRONIZE CACHE(10) */
        I->lock(h->lock);
        rc = submit(h, io, k->target, 0, cdb, 10, SBVM_SCSI_NONE, NULL);
        I->unlock(h->lock);
        break;
    case SBVM_IO_SCSI: {
        struct sbvm_scsi *s = io->scsi;
        if (!s || s->cdb_len == 0 || s->cdb_len > 32 || s->dir > SBVM_SCSI_OUT ||
            (s->dir != SBVM_SCSI_NONE && (!io->data || io->length == 0 || io->length > MAX_IO)))
            return -EINVAL;
        I->lock(h->lock);
        rc = submit(h, io, s->target, s->lun, s->cdb, s->cdb_len, s->dir, s);
        I->unlock(h->lock);
        break;
    }
    default:
        return -ENOTSUP;
    }
    /* Every slot taken: the client is over its queue depth (64). */
    if (rc == -EAGAIN)
        return -EBUSY;
    return rc < 0 ? rc : SBVM_IO_PENDING;
}

static int vscsi_abort_io(sbvm_driver *d, void *unit_ctx, struct sbvm_io *io)
{
    (void)d, (void)unit_ctx, (void)io;
    return -ENOENT; /* requests complete as the device says; none is taken back */
}

/* ------------------------------------------------------------------------ */
/* Set-up                                                                   */

static void scan(struct host *h)
{
    static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 96, 0 };
    static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
    uint8_t *buf;
    uint64_t buf_dma;
    unsigned found = 0;

    buf = I->dma_alloc(self, 512, 64, &buf_dma);
    if (!buf)
        return;
    for (unsigned t = 0; t <= h->max_target && t < 256; t++) {
        struct sbvm_scsi ans;
        struct disk *k;

        memset(buf, 0, 96);
        if (sync_cmd(h, t, inquiry, 6, buf, 96, &ans) < 0 || ans.response || ans.status ||
            (buf[0] & 0x1f) != 0 || (buf[0] >> 5) != 0)
            continue;
        found++;
        if (ndisks == MAX_DISKS || !(k = I->alloc(self, sizeof(*k))))
            continue;
        k->kind = KIND_DISK;
        k->h = h;
        k->target = t;
        snprintf(k->model, sizeof(k->model), "%.8s %.16s %.4s", buf + 8, buf + 16, buf + 32);
        memset(buf, 0, 32);
        if (sync_cmd(h, t, rc16, 16, buf, 32, &ans) == 0 && !ans.status) {
            uint64_t last = 0;
            for (int i = 0; i < 8; i++)
                last = last << 8 | buf[i];
            k->blocks = last + 1;
            k->block_size =
                (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
        }
        if (!k->block_size || k->block_size % 512) {
            I->free(self, k);
            continue;
        }
        {
            /* MODE SENSE(6): the write-protect bit. */
            static const uint8_t ms6[6] = { 0x1a, 0x08, 0x3f, 0, 64, 0 };
            if (sync_cmd(h, t, ms6, 6, buf, 64, &ans) == 0 && !ans.status)
                k->ro = buf[2] & 0x80;
        }
        I->unit_add(self, "virtio-scsi", ndisks, k);
        I->log(self, SBVM_LOG_INFO, "unit %u: target %u: %s, %llu blocks of %u bytes%s", ndisks, t,
               k->model, (unsigned long long)k->blocks, k->block_size, k->ro ? ", read-only" : "");
        disks[ndisks++] = k;
    }
    I->log(self, SBVM_LOG_INFO, "adapter %u: %u targets scanned, %u disk%s", h->index,
           h->max_target + 1, found, found == 1 ? "" : "s");
    I->dma_free(self, buf);
}

static int setup(sbvm_pci *p, const struct sbvm_pci_info *info)
{
    struct host *h = I->alloc(self, sizeof(*h));
    int rc;

    if (!h)
        return -ENOMEM;
    h->kind = KIND_HOST;
    h->v.info = *info;
    h->index = nhosts;
    rc = vdrv_probe(&h->v, self, I, p, false);
    if (rc == 0)
        rc = vdrv_negotiate(&h->v, 0);
    if (rc == 0)
        rc = vdrv_queue_init(&h->v, 0, 64, &h->ctrl);
    if (rc == 0)
        rc = vdrv_queue_init(&h->v, 1, 64, &h->event);
    if (rc == 0)
        rc = vdrv_queue_init(&h->v, 2, 256, &h->req);
    if (rc == 0)
        rc = I->lock_new(self, &h->lock);
    if (rc == 0)
        rc = I->event_new(self, &h->sync);
    for (unsigned i = 0; rc == 0 && i < SLOTS; i++) {
        h->slots[i].buf = I->dma_alloc(self, 64 + RESP_LEN, 64, &h->slots[i].buf_dma);
        if (!h->slots[i].buf)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = I->irq_attach(self, p, on_irq, h, &h->irq);
    if (rc < 0) {
        I->log(self, SBVM_LOG_ERR, "slot %u: set-up failed: %d", info->slot, rc);
        vdrv_reset(&h->v);
        return rc;
    }
    h->max_target = (unsigned)vdrv_cfg_read(&h->v, 30, 2);
    vdrv_ready(&h->v);
    /* Buffers for events (hot-plug): the device may use them; none come. */
    h->events = I->dma_alloc(self, 8 * 16, 64, &h->events_dma);
    for (unsigned i = 0; h->events && i < 8; i++) {
        struct vdrv_seg e = { h->events_dma + 16u * i, 16, true };
        vdrv_add(&h->event, &e, 1, NULL);
    }
    vdrv_kick(&h->v, &h->event);
    hosts[nhosts++] = h;
    I->unit_add(self, "virtio-scsi-host", h->index, h);
    scan(h);
    return 0;
}

static int vscsi_init(sbvm_driver *d, const struct sbvm_driver_if *ifc)
{
    int n = ifc->pci_count(d);

    I = ifc;
    self = d;
    for (int i = 0; i < n && nhosts < MAX_HOSTS; i++) {
        struct sbvm_pci_info info;
        sbvm_pci *p;
        if (I->pci_get(d, (unsigned)i, &p, &info) < 0 || info.vendor != 0x1af4 ||
            (info.device != 0x1004 && info.device != 0x1048))
            continue;
        setup(p, &info);
    }
    return nhosts ? 0 : -ENODEV;
}

static void vscsi_expunge(sbvm_driver *d)
{
    (void)d;
    for (unsigned i = 0; i < nhosts; i++) {
        struct host *h = hosts[i];
        vdrv_reset(&h->v);
        I->irq_detach(self, h->irq);
        vdrv_queue_free(&h->v, &h->ctrl);
        vdrv_queue_free(&h->v, &h->event);
        vdrv_queue_free(&h->v, &h->req);
        for (unsigned k = 0; k < SLOTS; k++) {
            I->dma_free(self, h->slots[k].buf);
            if (h->slots[k].bounce)
                I->dma_free(self, h->slots[k].bounce);
        }
        if (h->events)
            I->dma_free(self, h->events);
        I->event_free(self, h->sync);
        I->lock_free(self, h->lock);
        I->free(self, h);
    }
    for (unsigned i = 0; i < ndisks; i++)
        I->free(self, disks[i]);
    nhosts = ndisks = 0;
}

SBVM_DRIVER_API const struct sbvm_resident sbvm_resident = {
    .magic = SBVM_RESIDENT_MAGIC,
    .abi_major = SBVM_DRIVER_ABI_MAJOR,
    .abi_minor = SBVM_DRIVER_ABI_MINOR,
    .version = 1,
    .name = "virtio-scsi",
    .id = "virtio-scsi 1 (sandboxvm tests/drivers)",
    .init = vscsi_init,
    .expunge = vscsi_expunge,
    .begin_io = vscsi_begin_io,
    .abort_io = vscsi_abort_io,
};
