/* SPDX-License-Identifier: MIT */
/* virtio.c: the common core of a virtio device: negotiation, status, queues. */
#include "devices/virtio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "devices/trace.h"
#include "util/util.h"

/* Requests one notification serves before the device yields to others. */
#define VDEV_BUDGET 1024u

int vdev_init(struct vdev *d, const struct vdev_ops *ops, void *priv, const char *name)
{
    memset(d, 0, sizeof(*d));
    d->ops = ops;
    d->priv = priv;
    snprintf(d->name, sizeof(d->name), "%s", name ? name : ops->name);
    d->req = malloc(sizeof(*d->req));
    if (!d->req)
        return -ENOMEM;
    d->budget = VDEV_BUDGET;
    d->host_features = vdev_features(d);
    for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
        d->vq[i].num = VDEV_QUEUE_SIZE;
    return 0;
}

void vdev_release(struct vdev *d)
{
    if (!d->ops)
        return;
    if (d->ops->destroy)
        d->ops->destroy(d);
    free(d->req);
    d->req = NULL;
    d->ops = NULL;
}

void vdev_set_irq(struct vdev *d, vdev_irq_fn fn, void *ctx)
{
    d->irq = fn;
    d->irq_ctx = ctx;
}

void vdev_set_memory(struct vdev *d, const struct dma_map *m)
{
    d->mem = m;
}

uint64_t vdev_features(const struct vdev *d)
{
    uint64_t f = d->ops->features ? d->ops->features((struct vdev *)d) : 0;

    return f | BIT64(VIRTIO_FB_VERSION_1) | BIT64(VIRTIO_FB_INDIRECT_DESC) |
           BIT64(VIRTIO_FB_EVENT_IDX) | BIT64(VIRTIO_FB_ANY_LAYOUT);
}

int vdev_set_features(struct vdev *d, uint64_t features)
{
    uint64_t offered = vdev_features(d);
    int rc = (features & ~offered) ? -EINVAL : 0;

    d->guest_features = features & offered;
    for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++) {
        d->vq[i].event_idx = vdev_has(d, VIRTIO_FB_EVENT_IDX);
        d->vq[i].indirect_ok = vdev_has(d, VIRTIO_FB_INDIRECT_DESC);
    }
    trace_event(d->trace, d->name, "features 0x%llx accepted (offered 0x%llx)",
                (unsigned long long)d->guest_features, (unsigned long long)offered);
    return rc;
}

void vdev_reset(struct vdev *d)
{
    d->status = 0;
    d->isr = 0;
    d->guest_features = 0;
    d->broken = false;
    d->why[0] = '\0';
    d->legacy = false;
    for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++) {
        vq_reset(&d->vq[i]);
        d->vq[i].num = VDEV_QUEUE_SIZE;
        d->vq[i].desc_addr = d->vq[i].avail_addr = d->vq[i].used_addr = 0;
        d->vq[i].event_idx = d->vq[i].indirect_ok = false;
    }
    if (d->ops->reset)
        d->ops->reset(d);
    trace_event(d->trace, d->name, "reset");
}

void vdev_set_status(struct vdev *d, uint8_t status)
{
    if (status == 0) {
        vdev_reset(d);
        return;
    }
    /* NEEDS_RESET is the device's to set; the driver cannot clear it. */
    status &= (uint8_t)~VIRTIO_S_NEEDS_RESET;
    d->status = (uint8_t)(status | (d->status & VIRTIO_S_NEEDS_RESET));
    trace_event(d->trace, d->name, "status 0x%02x", d->status);
}

void vdev_config_read(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
    uint8_t cfg[256];
    uint32_t size = d->ops->config_size;

    memset(buf, 0, len);
    if (size > sizeof(cfg) || off >= size)
        return;
    memset(cfg, 0, sizeof(cfg));
    d->ops->config_read(d, cfg);
    memcpy(buf, cfg + off, len < size - off ? len : size - off);
}

void vdev_config_write(struct vdev *d, uint32_t off, const void *buf, uint32_t len)
{
    uint32_t size = d->ops->config_size;

    if (off >= size || !d->ops->config_write)
        return;
    if (len > size - off)
        len = size - off;
    d->ops->config_write(d, off, buf, len);
}

void vdev_fail(struct vdev *d, const char *fmt, ...)
{
    va_list ap;

    if (d->broken)
        return;
    d->broken = true;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    d->st.faults++;
    d->status |= VIRTIO_S_NEEDS_RESET;
    d->isr |= 2;
    d->config_gen++;
    trace_event(d->trace, d->name, "NEEDS_RESET: %s", d->why);
    if (d->irq) {
        d->st.interrupts++;
        d->irq(d, VDEV_IRQ_CONFIG, d->irq_ctx);
    }
}

static void account(struct vdev *d, struct vdev_reqinfo *info)
{
    d->st.requests++;
    if (info->failed)
        d->st.errors++;
    else if (info->wrote)
        d->st.bytes_written += info->bytes;
    else
        d->st.bytes_read += info->bytes;
    trace_request(d->trace, d->name, info);
}

bool vdev_notify(struct vdev *d, unsigned q)
{
    struct vq *vq;
    unsigned served = 0;
    bool pushed = false, more = false;
    int rc = 0;

    d->st.notifies++;
    if (q >= d->ops->nqueues) {
        trace_event(d->trace, d->name, "notify for queue %u, which does not exist: ignored", q);
        return false;
    }
    vq = &d->vq[q];
    vq->kicks++;
    if (d->broken || !vq->started || !d->mem ||
        (d->ops->queue_passive && d->ops->queue_passive(d, q))) {
        if (!vq->started)
            trace_event(d->trace, d->name, "notify for queue %u, not set up: ignored", q);
        return false;
    }
    for (;;) {
        /* Busy: the driver need not notify while the queue is being served. */
        vq_busy(vq, true);
        while ((rc = vq_pop(vq, d->mem, d->req)) > 0) {
            struct vdev_reqinfo info;
            char why[160] = "";
            long n;

            memset(&info, 0, sizeof(info));
            info.queue = q;
            info.head = d->req->head;
            n = d->ops->request(d, q, d->req, &info, why, sizeof(why));
            if (n < 0) {
                vdev_fail(d, "queue %u, request %u: %s", q, d->req->head, why);
                return false;
            }
            account(d, &info);
            vq_push(vq, d->req->head, (uint32_t)n);
            pushed = true;
            if (++served >= d->budget) {
                more = true;
                break;
            }
        }
        if (rc < 0) {
            vdev_fail(d, "queue %u: %s", q, vq->why);
            return false;
        }
        vq_busy(vq, false);
        /* Then one more look, for what the driver added without notifying. */
        if (more || !vq_more(vq))
            break;
    }
    if (pushed && vq_should_interrupt(vq)) {
        d->isr |= 1;
        d->st.interrupts++;
        if (d->irq)
            d->irq(d, q, d->irq_ctx);
    }
    return more;
}
