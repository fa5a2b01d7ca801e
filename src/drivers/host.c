/* SPDX-License-Identifier: MIT */
/* host.c: the driver host: device models on a synthetic bus, behind the host channel. */
#include "drivers/host.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "devices/pci.h"
#include "devices/trace.h"
#include "devices/virtio-pci.h"
#include "drivers/proto.h"
#include "shm/chan.h"
#include "util/error.h"
#include "util/util.h"

#define DRVHOST_MAX_DEVICES 8
/* The window: room for rings, DMA buffers of a deep queue, and growth. */
#define WINDOW_INITIAL (4ull << 20)
#define WINDOW_MAX     (1ull << 30)
#define LEDGER_MAX     256

struct hdev {
    struct vdev dev;
    struct virtio_pci vp;
};

struct drvhost {
    sbvm_channel_config *ccfg;
    sbvm_channel *ch;
    struct pci_bus bus;
    struct hdev *devs;
    unsigned ndevs;
    struct dma_map map;
    size_t synced; /* the channel regions already in the map */
    int irq_ring;
    /* Interrupt messages that found the ring full: sent when it has room. */
    uint32_t pending_irq;
    struct devtrace *trace;
    struct strv ledger;
    bool ended;
};

/* The guest's DMA regions (the channel's, handed out in window order) into
 * the map the device models read: each at DRV_DMA_BASE + its offset. */
static void sync_map(struct drvhost *h)
{
    struct sbvm_channel *ch = h->ch;

    while (h->synced < ch->nregions) {
        const struct region *g = &ch->regions[h->synced];
        if (window_has(&ch->win, g->off, g->len))
            dma_map_add(&h->map, DRV_DMA_BASE + g->off, g->len, ch->win.base + g->off, 0);
        h->synced++;
    }
}

static void send_irqs(struct drvhost *h)
{
    for (unsigned s = 0; s < 32 && h->pending_irq; s++) {
        struct drv_irq_msg m = { s, 1 };
        if (!(h->pending_irq & (1u << s)))
            continue;
        if (sbvm_channel_ring_write(h->ch, h->irq_ring, &m, sizeof(m), 0, NULL) == -EAGAIN)
            return; /* still full: sent when it has room (EV_WRITE) */
        h->pending_irq &= ~(1u << s);
    }
}

static void on_intx(struct pci_dev *p, int level, void *ctx)
{
    struct drvhost *h = ctx;

    if (!level || p->slot >= 32)
        return;
    h->pending_irq |= 1u << p->slot;
    send_irqs(h);
}

static int32_t call_hello(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                          size_t out_cap, size_t *out_len, void *ud)
{
    struct drvhost *h = ud;
    struct drv_hello_out o = { DRV_PROTO_VERSION, (uint32_t)h->irq_ring, h->ndevs, 0,
                               DRV_DMA_BASE };

    (void)ch, (void)id, (void)in, (void)in_len;
    if (out_cap < sizeof(o))
        return -EMSGSIZE;
    memcpy(out, &o, sizeof(o));
    *out_len = sizeof(o);
    return 0;
}

static int32_t call_enum(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                         size_t out_cap, size_t *out_len, void *ud)
{
    struct drvhost *h = ud;
    size_t n = 0;

    (void)ch, (void)id, (void)in, (void)in_len;
    for (unsigned i = 0; i < h->bus.n && (n + 1) * sizeof(struct drv_pci_ent) <= out_cap; i++) {
        const struct pci_dev *p = h->bus.dev[i];
        struct drv_pci_ent e = {
            .slot = (uint8_t)p->slot,
            .revision = p->cfg[PCI_REVISION],
            .vendor = (uint16_t)(p->cfg[0] | p->cfg[1] << 8),
            .device = (uint16_t)(p->cfg[2] | p->cfg[3] << 8),
            .subsys_vendor = (uint16_t)(p->cfg[0x2c] | p->cfg[0x2d] << 8),
            .subsys_id = (uint16_t)(p->cfg[0x2e] | p->cfg[0x2f] << 8),
            .class_code = (uint32_t)(p->cfg[9] | p->cfg[10] << 8 | p->cfg[11] << 16),
        };
        memcpy((uint8_t *)out + n * sizeof(e), &e, sizeof(e));
        n++;
    }
    *out_len = n * sizeof(struct drv_pci_ent);
    return (int32_t)n;
}

static int32_t call_pci(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                        size_t out_cap, size_t *out_len, void *ud)
{
    struct drvhost *h = ud;
    struct drv_pci_in a;
    uint64_t v = UINT64_MAX;
    uint32_t v32;
    int rc;

    (void)ch, (void)id;
    if (in_len != sizeof(a) || out_cap < sizeof(v))
        return -EINVAL;
    memcpy(&a, in, sizeof(a));
    /* The guest may have new DMA regions since the last access. */
    sync_map(h);
    if (a.op <= DRV_CFG_WRITE && (a.off >= 256 || a.width > 4))
        a.op = UINT32_MAX; /* refused below */
    switch (a.op) {
    case DRV_CFG_READ:
        rc = pci_cfg_read(&h->bus, a.slot, (unsigned)a.off, a.width, &v32);
        v = rc == 0 ? v32 : UINT64_MAX;
        break;
    case DRV_CFG_WRITE:
        rc = pci_cfg_write(&h->bus, a.slot, (unsigned)a.off, a.width, (uint32_t)a.val);
        break;
    case DRV_BAR_READ:
        rc = pci_bar_read(&h->bus, a.slot, a.bar, a.off, a.width, &v);
        break;
    case DRV_BAR_WRITE:
        rc = pci_bar_write(&h->bus, a.slot, a.bar, a.off, a.width, a.val);
        break;
    default:
        rc = -EINVAL;
        break;
    }
    memcpy(out, &v, sizeof(v));
    *out_len = sizeof(v);
    return rc;
}

static int32_t call_ledger(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                           size_t out_cap, size_t *out_len, void *ud)
{
    struct drvhost *h = ud;
    char line[512];
    size_t n = in_len < sizeof(line) - 1 ? in_len : sizeof(line) - 1;

    (void)ch, (void)id, (void)out, (void)out_cap, (void)out_len;
    if (h->ledger.n >= LEDGER_MAX)
        return -ENOSPC;
    /* Hostile text: kept printable, bounded. */
    for (size_t i = 0; i < n; i++) {
        char c = ((const char *)in)[i];
        line[i] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    line[n] = '\0';
    return strv_push(&h->ledger, line) < 0 ? -ENOMEM : 0;
}

int drvhost_new(const struct strv *specs, const char *trace, bool json, struct drvhost **out,
                sbvm_error **err)
{
    struct drvhost *h = calloc(1, sizeof(*h));
    int rc;

    if (!h)
        return error_set(err, ENOMEM, "out of memory");
    dma_map_init(&h->map);
    pci_bus_init(&h->bus);
    h->irq_ring = -1;
    if (specs->n > DRVHOST_MAX_DEVICES) {
        rc = error_set(err, E2BIG, "at most %d devices", DRVHOST_MAX_DEVICES);
        goto fail;
    }
    if (trace && (rc = trace_open(&h->trace, trace, json, err)) < 0)
        goto fail;
    h->devs = calloc(specs->n ? specs->n : 1, sizeof(*h->devs));
    if (!h->devs) {
        rc = error_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < specs->n; i++) {
        struct devspec s;
        struct hdev *d = &h->devs[i];
        char name[32];

        if ((rc = devspec_parse(specs->v[i], &s, err)) < 0)
            goto fail;
        snprintf(name, sizeof(name), "%s%zu", s.ops->name, i);
        rc = dev_create(&s, name, &d->dev, err);
        if (rc < 0) {
            devspec_release(&s);
            goto fail;
        }
        h->ndevs++;
        d->dev.trace = h->trace;
        vdev_set_memory(&d->dev, &h->map);
        virtio_pci_init(&d->vp, &d->dev, s.transport);
        devspec_release(&s);
        d->vp.defer = true;
        d->vp.pci.intx_fn = on_intx;
        d->vp.pci.intx_ctx = h;
        if (pci_bus_plug(&h->bus, &d->vp.pci) < 0) {
            rc = error_set(err, ENOSPC, "the bus is full");
            goto fail;
        }
    }
    h->ccfg = sbvm_channel_config_new();
    if (!h->ccfg) {
        rc = error_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = sbvm_channel_config_set_window(h->ccfg, WINDOW_INITIAL, WINDOW_MAX, err)) < 0 ||
        (rc = sbvm_channel_config_set_slots(h->ccfg, 16, 4096, err)) < 0 ||
        (rc = sbvm_channel_config_add_call(h->ccfg, DRV_CALL_HELLO, call_hello, h, err)) < 0 ||
        (rc = sbvm_channel_config_add_call(h->ccfg, DRV_CALL_ENUM, call_enum, h, err)) < 0 ||
        (rc = sbvm_channel_config_add_call(h->ccfg, DRV_CALL_PCI, call_pci, h, err)) < 0 ||
        (rc = sbvm_channel_config_add_call(h->ccfg, DRV_CALL_LEDGER, call_ledger, h, err)) < 0)
        goto fail;
    /* The host waits in an event loop: no spinning. */
    sbvm_channel_config_set_spin(h->ccfg, 0, 0);
    if ((rc = sbvm_channel_new(h->ccfg, &h->ch, err)) < 0)
        goto fail;
    rc = sbvm_channel_ring_add(h->ch, SBVM_RING_TO_GUEST, 4096, sizeof(struct drv_irq_msg), err);
    if (rc < 0)
        goto fail;
    h->irq_ring = rc;
    *out = h;
    return 0;
fail:
    drvhost_free(h);
    return rc < 0 ? rc : -EINVAL;
}

void drvhost_free(struct drvhost *h)
{
    if (!h)
        return;
    sbvm_channel_free(h->ch);
    sbvm_channel_config_free(h->ccfg);
    for (unsigned i = 0; i < h->ndevs; i++)
        vdev_release(&h->devs[i].dev);
    free(h->devs);
    dma_map_release(&h->map);
    trace_close(h->trace);
    strv_release(&h->ledger);
    free(h);
}

sbvm_channel *drvhost_channel(const struct drvhost *h)
{
    return h->ch;
}

void drvhost_served(struct drvhost *h, int events)
{
    /* The calls are answered: now the devices work on what they were told. */
    for (unsigned i = 0; i < h->ndevs; i++)
        while (virtio_pci_run(&h->devs[i].vp))
            ;
    if ((events & SBVM_CHANNEL_EV_WRITE) && h->pending_irq)
        send_irqs(h);
}

int drvhost_service(struct drvhost *h)
{
    int ev;

    if (h->ended)
        return -EPIPE;
    ev = sbvm_channel_service(h->ch, NULL);
    if (ev < 0) {
        h->ended = true;
        return ev;
    }
    drvhost_served(h, ev);
    return 0;
}

int32_t drvhost_call(struct drvhost *h, uint32_t id, const void *in, size_t in_len, void *out,
                     size_t out_cap, size_t *out_len)
{
    *out_len = 0;
    switch (id) {
    case DRV_CALL_HELLO:
        return call_hello(h->ch, id, in, in_len, out, out_cap, out_len, h);
    case DRV_CALL_ENUM:
        return call_enum(h->ch, id, in, in_len, out, out_cap, out_len, h);
    case DRV_CALL_PCI:
        return call_pci(h->ch, id, in, in_len, out, out_cap, out_len, h);
    case DRV_CALL_LEDGER:
        return call_ledger(h->ch, id, in, in_len, out, out_cap, out_len, h);
    default:
        return -ENOSYS;
    }
}

int drvhost_report(const struct drvhost *h, struct strv *devices, struct strv *ledger)
{
    for (unsigned i = 0; i < h->ndevs; i++) {
        const struct vdev *d = &h->devs[i].dev;
        char line[512];

        snprintf(line, sizeof(line),
                 "%s (%s, slot %u): %" PRIu64 " requests, %" PRIu64 " failed, %" PRIu64
                 " bytes read, %" PRIu64 " written%s%s",
                 d->name, d->ops->name, h->devs[i].vp.pci.slot, d->st.requests, d->st.errors,
                 d->st.bytes_read, d->st.bytes_written, d->broken ? "; stopped: " : "",
                 d->broken ? d->why : "");
        if (strv_push(devices, line) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < h->ledger.n; i++)
        if (strv_push(ledger, h->ledger.v[i]) < 0)
            return -ENOMEM;
    return 0;
}
