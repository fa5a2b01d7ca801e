/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk.c: a virtio-blk driver written against the sandboxvm driver
 * interface alone (docs/DRIVERS.md walks through it). It finds every
 * virtio-blk device on the bus, sets it up (modern transport, or legacy
 * when the device has only that or SBVM_VBLK_LEGACY is set), and registers
 * each as unit N of "virtio-blk": READ, WRITE, FLUSH and INFO requests,
 * completed from the interrupt handler. A request's data goes to the
 * device straight from the client's buffer when that is DMA memory
 * (sbvm_dma_alloc), else through a bounce buffer of the driver's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandboxvm/driver.h"
#include "vdrv.h"

#define VBLK_T_IN    0u
#define VBLK_T_OUT   1u
#define VBLK_T_FLUSH 4u
#define VBLK_F_RO    5
#define VBLK_F_FLUSH 9
#define VBLK_MAX_IO  (4u << 20) /* bytes in one request */
#define VBLK_DEVICES 4
#define VBLK_SLOTS   64 /* requests in flight per device (3 descriptors each) */

struct slot {
    struct sbvm_io *io; /* NULL when free */
    uint8_t *hdr;       /* DMA: the 16-byte header, then the status byte */
    uint64_t hdr_dma;
    uint8_t *bounce; /* DMA, grown as needed */
    uint64_t bounce_dma;
    size_t bounce_len;
    bool bounced; /* this request's data went through the bounce buffer */
};

struct vblk {
    struct vdrv v;
    struct vdrv_queue q;
    sbvm_lock *lock;
    sbvm_irq *irq;
    uint64_t sectors;
    bool ro;
    struct slot slots[VBLK_SLOTS];
    /* Requests waiting for a free slot, in order (linked by driver_ctx[0]). */
    struct sbvm_io *wait_head, *wait_tail;
    uint64_t completed;
    bool kick_owed; /* requests of a batch went in without a notification */
};

static const struct sbvm_driver_if *I;
static sbvm_driver *self;
static struct vblk *devs[VBLK_DEVICES];
static unsigned ndevs;

static int submit(struct vblk *b, struct sbvm_io *io);

/* The request's end: copy a read out of the bounce buffer, then tell. */
static void complete(struct vblk *b, struct slot *s, uint32_t used)
{
    struct sbvm_io *io = s->io;
    uint8_t status = s->hdr[16];
    int err = status == 0 ? 0 : status == 2 ? -ENOTSUP : -EIO;

    (void)used;
    if (err == 0 && io->command == SBVM_IO_READ && s->bounced)
        memcpy(io->data, s->bounce, io->length);
    io->actual = err == 0 && io->command != SBVM_IO_FLUSH ? io->length : 0;
    s->io = NULL;
    b->completed++;
    I->io_done(self, io, err);
}

/* Takes every finished request (lock held). */
static void harvest(struct vblk *b)
{
    void *cookie;
    uint32_t len;

    while (vdrv_get(&b->q, &cookie, &len) == 1) {
        complete(b, cookie, len);
        /* A slot is free: the oldest waiting request takes it. */
        if (b->wait_head) {
            struct sbvm_io *next = b->wait_head;
            b->wait_head = next->driver_ctx[0];
            if (!b->wait_head)
                b->wait_tail = NULL;
            if (submit(b, next) < 0)
                I->io_done(self, next, -EIO);
        }
    }
    /* A waiting request that was part of a batch went in without its
     * notification: the batch's end may have passed long ago. */
    if (b->kick_owed) {
        b->kick_owed = false;
        vdrv_kick(&b->v, &b->q);
    }
}

static void on_irq(void *ctx)
{
    struct vblk *b = ctx;

    /* Reading the ISR lowers the line; then take every finished request. */
    vdrv_isr(&b->v);
    I->lock(b->lock);
    harvest(b);
    I->unlock(b->lock);
}

/* Into a free slot and the queue (lock held): 0, -EAGAIN (no slot), or an
 * error for the request. */
static int submit(struct vblk *b, struct sbvm_io *io)
{
    struct slot *s = NULL;
    struct vdrv_seg seg[3];
    uint32_t type;
    uint64_t sector = io->offset / 512, data_dma = 0;
    unsigned n = 0;

    for (unsigned i = 0; i < VBLK_SLOTS && !s; i++)
        if (!b->slots[i].io)
            s = &b->slots[i];
    if (!s)
        return -EAGAIN;
    type = io->command == SBVM_IO_READ    ? VBLK_T_IN
           : io->command == SBVM_IO_WRITE ? VBLK_T_OUT
                                          : VBLK_T_FLUSH;
    memcpy(s->hdr, &type, 4);
    memset(s->hdr + 4, 0, 4);
    memcpy(s->hdr + 8, &sector, 8);
    s->hdr[16] = 0xff;
    s->bounced = false;
    seg[n++] = (struct vdrv_seg){ s->hdr_dma, 16, false };
    if (type != VBLK_T_FLUSH) {
        if (I->dma_addr(io->data, io->length, &data_dma) < 0) {
            /* Not device memory: through the bounce buffer. */
            if (s->bounce_len < io->length) {
                if (s->bounce)
                    I->dma_free(self, s->bounce);
                s->bounce = I->dma_alloc(self, io->length, 64, &s->bounce_dma);
                s->bounce_len = s->bounce ? io->length : 0;
                if (!s->bounce)
                    return -ENOMEM;
            }
            if (type == VBLK_T_OUT)
                memcpy(s->bounce, io->data, io->length);
            data_dma = s->bounce_dma;
            s->bounced = true;
        }
        seg[n++] = (struct vdrv_seg){ data_dma, (uint32_t)io->length, type == VBLK_T_IN };
    }
    seg[n++] = (struct vdrv_seg){ s->hdr_dma + 16, 1, true };
    if (vdrv_add(&b->q, seg, n, s) < 0)
        return -EAGAIN;
    s->io = io;
    /* A batch: one notification for all of it, at its last request. */
    if (io->flags & SBVM_IO_F_MORE)
        b->kick_owed = true;
    else {
        b->kick_owed = false;
        vdrv_kick(&b->v, &b->q);
    }
    return 0;
}

static int vblk_begin_io(sbvm_driver *d, void *unit_ctx, struct sbvm_io *io)
{
    struct vblk *b = unit_ctx;
    int rc;

    (void)d;
    switch (io->command) {
    case SBVM_IO_INFO: {
        struct sbvm_unit_info info;
        if (io->length < sizeof(info) || !io->data)
            return -EINVAL;
        memset(&info, 0, sizeof(info));
        info.blocks = b->sectors;
        info.block_size = 512;
        info.flags = b->ro ? SBVM_UNIT_READONLY : 0;
        snprintf(info.model, sizeof(info.model), "virtio-blk (%s)",
                 b->v.modern ? "modern" : "legacy");
        memcpy(io->data, &info, sizeof(info));
        io->actual = sizeof(info);
        io->error = 0;
        return 0;
    }
    case SBVM_IO_READ:
    case SBVM_IO_WRITE:
        if (io->offset % 512 || io->length % 512 || io->length == 0 || io->length > VBLK_MAX_IO ||
            !io->data)
            return -EINVAL;
        if (io->offset / 512 > b->sectors || io->length / 512 > b->sectors - io->offset / 512)
            return -EINVAL;
        if (io->command == SBVM_IO_WRITE && b->ro)
            return -EROFS;
        break;
    case SBVM_IO_FLUSH:
        break;
    default:
        return -ENOTSUP;
    }
    I->lock(b->lock);
    rc = submit(b, io);
    /* The batch's last request waits for a slot: tell the device of the
     * rest now. */
    if (rc == -EAGAIN && b->kick_owed && !(io->flags & SBVM_IO_F_MORE)) {
        b->kick_owed = false;
        vdrv_kick(&b->v, &b->q);
    }
    if (rc == -EAGAIN) {
        /* Every slot busy: it waits its turn. */
        io->driver_ctx[0] = NULL;
        if (b->wait_tail)
            b->wait_tail->driver_ctx[0] = io;
        else
            b->wait_head = io;
        b->wait_tail = io;
        rc = 0;
    }
    I->unlock(b->lock);
    return rc < 0 ? rc : SBVM_IO_PENDING;
}

static int vblk_abort_io(sbvm_driver *d, void *unit_ctx, struct sbvm_io *io)
{
    struct vblk *b = unit_ctx;
    int rc = -ENOENT;

    (void)d;
    /* Only a request still waiting for a slot can be taken back; one the
     * device holds completes as it will. */
    I->lock(b->lock);
    for (struct sbvm_io **pp = &b->wait_head; *pp; pp = (struct sbvm_io **)&(*pp)->driver_ctx[0]) {
        if (*pp != io)
            continue;
        *pp = io->driver_ctx[0];
        b->wait_tail = NULL;
        for (struct sbvm_io *w = b->wait_head; w; w = w->driver_ctx[0])
            b->wait_tail = w;
        I->io_done(self, io, -ECANCELED);
        rc = 0;
        break;
    }
    I->unlock(b->lock);
    return rc;
}

static int setup(sbvm_pci *p, const struct sbvm_pci_info *info)
{
    struct vblk *b = I->alloc(self, sizeof(*b));
    const char *force = getenv("SBVM_VBLK_LEGACY");
    int rc;

    if (!b)
        return -ENOMEM;
    b->v.info = *info;
    rc = vdrv_probe(&b->v, self, I, p, force && *force == '1');
    if (rc == 0)
        rc = vdrv_negotiate(&b->v, (1ull << VBLK_F_RO) | (1ull << VBLK_F_FLUSH));
    if (rc == 0)
        rc = vdrv_queue_init(&b->v, 0, 256, &b->q);
    if (rc == 0)
        rc = I->lock_new(self, &b->lock);
    for (unsigned i = 0; rc == 0 && i < VBLK_SLOTS; i++) {
        b->slots[i].hdr = I->dma_alloc(self, 32, 16, &b->slots[i].hdr_dma);
        if (!b->slots[i].hdr)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = I->irq_attach(self, p, on_irq, b, &b->irq);
    if (rc < 0) {
        I->log(self, SBVM_LOG_ERR, "slot %u: set-up failed: %d", info->slot, rc);
        vdrv_reset(&b->v);
        return rc;
    }
    b->sectors = vdrv_cfg_read(&b->v, 0, 8);
    b->ro = (b->v.features >> VBLK_F_RO) & 1;
    vdrv_ready(&b->v);
    rc = I->unit_add(self, "virtio-blk", ndevs, b);
    if (rc < 0)
        return rc;
    I->log(self, SBVM_LOG_INFO, "unit %u: slot %u, %s transport, %llu sectors%s", ndevs, info->slot,
           b->v.modern ? "modern" : "legacy", (unsigned long long)b->sectors,
           b->ro ? ", read-only" : "");
    devs[ndevs++] = b;
    return 0;
}

static int vblk_init(sbvm_driver *d, const struct sbvm_driver_if *ifc)
{
    int n = ifc->pci_count(d);

    I = ifc;
    self = d;
    for (int i = 0; i < n && ndevs < VBLK_DEVICES; i++) {
        struct sbvm_pci_info info;
        sbvm_pci *p;
        if (I->pci_get(d, (unsigned)i, &p, &info) < 0 || info.vendor != 0x1af4)
            continue;
        /* Transitional 0x1001 or modern 0x1042. */
        if (info.device != 0x1001 && info.device != 0x1042)
            continue;
        setup(p, &info);
    }
    return ndevs ? 0 : -ENODEV;
}

static void vblk_expunge(sbvm_driver *d)
{
    (void)d;
    for (unsigned i = 0; i < ndevs; i++) {
        struct vblk *b = devs[i];
        vdrv_reset(&b->v);
        I->irq_detach(self, b->irq);
        vdrv_queue_free(&b->v, &b->q);
        for (unsigned k = 0; k < VBLK_SLOTS; k++) {
            I->dma_free(self, b->slots[k].hdr);
            if (b->slots[k].bounce)
                I->dma_free(self, b->slots[k].bounce);
        }
        I->lock_free(self, b->lock);
        I->free(self, b);
    }
    ndevs = 0;
}

SBVM_DRIVER_API const struct sbvm_resident sbvm_resident = {
    .magic = SBVM_RESIDENT_MAGIC,
    .abi_major = SBVM_DRIVER_ABI_MAJOR,
    .abi_minor = SBVM_DRIVER_ABI_MINOR,
    .version = 1,
    .name = "virtio-blk",
    .id = "virtio-blk 1 (sandboxvm tests/drivers)",
    .init = vblk_init,
    .expunge = vblk_expunge,
    .begin_io = vblk_begin_io,
    .abort_io = vblk_abort_io,
};
