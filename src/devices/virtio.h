/* SPDX-License-Identifier: MIT */
/*
 * virtio.h: a virtio device, whatever carries it. A device model (one per
 * file: blk.c, scsi.c) is an ops table; this core keeps what every virtio
 * device has - features, status, queues, the interrupt status, its counters
 * and its trace - and a transport (virtio-pci.c for the synthetic PCI bus,
 * vhost-user.c for a vhost-user connection) maps its registers or messages
 * onto these functions.
 *
 * Threads: a device is used by one thread at a time.
 */
#ifndef SBVM_DEVICES_VIRTIO_H
#define SBVM_DEVICES_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/disk.h"
#include "devices/dma.h"
#include "devices/virtq.h"
#include "sandboxvm/sandboxvm.h"

/* Device status bits (virtio 1.x, "Device Status Field"). */
#define VIRTIO_S_ACKNOWLEDGE 1u
#define VIRTIO_S_DRIVER      2u
#define VIRTIO_S_DRIVER_OK   4u
#define VIRTIO_S_FEATURES_OK 8u
#define VIRTIO_S_NEEDS_RESET 64u
#define VIRTIO_S_FAILED      128u

/* Feature bits every device here may offer. */
#define VIRTIO_FB_NOTIFY_ON_EMPTY 24
#define VIRTIO_FB_ANY_LAYOUT      27
#define VIRTIO_FB_INDIRECT_DESC   28
#define VIRTIO_FB_EVENT_IDX       29
#define VIRTIO_FB_VERSION_1       32
#define BIT64(n)                  (UINT64_C(1) << (n))

#define VDEV_MAX_QUEUES 16u
/* The largest queue the devices offer (legacy drivers must take it). */
#define VDEV_QUEUE_SIZE 256u

/* Interrupt sources a transport delivers. */
#define VDEV_IRQ_CONFIG 0xffffu /* the configuration changed (or NEEDS_RESET) */

struct vdev;
struct devtrace;

struct vdev_stats {
    uint64_t requests;      /* requests completed */
    uint64_t errors;        /* of which failed (any status but success) */
    uint64_t bytes_read;    /* from the medium to the driver */
    uint64_t bytes_written; /* from the driver to the medium */
    uint64_t faults;        /* times the driver broke the rules (NEEDS_RESET) */
    uint64_t notifies;      /* notifications received */
    uint64_t interrupts;    /* interrupts raised */
};

/* What one request was, for the trace and the counters. */
struct vdev_reqinfo {
    unsigned queue;
    uint16_t head;
    const char *op;  /* "IN", "READ(10)", ... */
    uint64_t lba;    /* first sector or block, when it has one */
    uint64_t blocks; /* sectors or blocks */
    uint64_t bytes;  /* bytes moved */
    bool has_lba;
    bool failed;        /* status is not success */
    bool wrote;         /* bytes went to the medium */
    const char *status; /* "OK", "IOERR", "CHECK CONDITION", ... */
    char detail[96];    /* sense, target, reason ... */
};

/*
 * A device model. Designated initialisers, one const table per file,
 * listed in devices.c.
 */
struct vdev_ops {
    const char *name;     /* "virtio-blk" */
    uint16_t device_id;   /* virtio device id: 2 block, 8 SCSI */
    uint32_t pci_class;   /* PCI class code (base << 16 | sub << 8 | prog-if) */
    uint16_t nqueues;     /* virtqueues */
    uint32_t config_size; /* bytes of the device-specific configuration */
    unsigned max_disks;   /* disk images it takes (at least one) */
    /* Makes the model's state (d->priv) over the disks, which it takes over. */
    int (*create)(struct vdev *d, struct disk *disks, unsigned n, sbvm_error **err);
    /* Device-specific feature bits offered (the core adds the common ones). */
    uint64_t (*features)(struct vdev *d);
    /* The whole configuration as it is now (config_size bytes, little-endian). */
    void (*config_read)(struct vdev *d, uint8_t *cfg);
    /* A driver's write of [off, off + len), already inside config_size. */
    void (*config_write)(struct vdev *d, uint32_t off, const uint8_t *data, uint32_t len);
    /*
     * Serves one request of queue q: returns the bytes written to the
     * request's writable part (the used length), or -EPROTO when it is so
     * malformed that no status can be written (the device then stops as for
     * a broken chain, with *why set). Fills *info for the trace.
     */
    long (*request)(struct vdev *d, unsigned q, const struct vq_req *r, struct vdev_reqinfo *info,
                    char *why, size_t whylen);
    /* Queues that carry no requests the device completes on its own (the
     * SCSI event queue): not served on notification. */
    bool (*queue_passive)(struct vdev *d, unsigned q);
    /* Back to the state after creation (the driver reset the device). */
    void (*reset)(struct vdev *d);
    void (*destroy)(struct vdev *d);
};

/* The transport's side: raise an interrupt for queue q (or VDEV_IRQ_CONFIG). */
typedef void (*vdev_irq_fn)(struct vdev *d, unsigned source, void *ctx);

struct vdev {
    const struct vdev_ops *ops;
    void *priv; /* the model's state */
    char name[32];
    /* Negotiation and state. */
    uint64_t host_features, guest_features;
    uint8_t status;
    uint8_t isr; /* bit 0: a queue interrupt, bit 1: configuration change */
    uint8_t config_gen;
    bool legacy; /* the driver uses the legacy interface */
    struct vq vq[VDEV_MAX_QUEUES];
    const struct dma_map *mem;
    vdev_irq_fn irq;
    void *irq_ctx;
    /* Why the device stopped (NEEDS_RESET), for the trace and tests. */
    bool broken;
    char why[200];
    struct vdev_stats st;
    struct devtrace *trace;
    struct vq_req *req; /* the request being served (one: the device is synchronous) */
    unsigned budget;    /* requests one notification may serve before yielding */
};

/* Initialises d for a model (priv already created by the model); -ENOMEM. */
int vdev_init(struct vdev *d, const struct vdev_ops *ops, void *priv, const char *name);
/* Destroys the model and frees what the core holds. */
void vdev_release(struct vdev *d);

void vdev_set_irq(struct vdev *d, vdev_irq_fn fn, void *ctx);
void vdev_set_memory(struct vdev *d, const struct dma_map *m);

/* Features the device offers (device-specific + common). */
uint64_t vdev_features(const struct vdev *d);
/* The driver's accepted features; bits the device did not offer are dropped
 * and reported as -EINVAL (the driver may not accept what was not offered). */
int vdev_set_features(struct vdev *d, uint64_t features);

/* Status register. Writing 0 resets the device. */
void vdev_set_status(struct vdev *d, uint8_t status);
void vdev_reset(struct vdev *d);

/* Device configuration: bytes [off, off + len) (len <= 8 for registers,
 * any for vhost-user); out-of-range bytes read as 0 and writes to them are
 * ignored. */
void vdev_config_read(struct vdev *d, uint32_t off, void *buf, uint32_t len);
void vdev_config_write(struct vdev *d, uint32_t off, const void *buf, uint32_t len);

/* The driver notified queue q: serve what is available. Returns true when
 * requests remain that the budget left for later (call again). */
bool vdev_notify(struct vdev *d, unsigned q);

/*
 * The device has stopped trusting the driver: NEEDS_RESET is set, the
 * configuration interrupt raised, no queue is served until a reset. The
 * first reason is kept.
 */
void vdev_fail(struct vdev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether the negotiated features include bit n. */
static inline bool vdev_has(const struct vdev *d, unsigned n)
{
    return (d->guest_features >> n) & 1u;
}

#endif
