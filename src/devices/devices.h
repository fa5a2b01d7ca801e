/* SPDX-License-Identifier: MIT */
/*
 * devices.h: the device models there are, and how one is described and made:
 * "virtio-blk,disk=IMG[,ro][,size=N]" or "virtio-scsi,disk=A[,ro],disk=B ..."
 * (each ro/size applies to the disk named before it).
 */
#ifndef SBVM_DEVICES_DEVICES_H
#define SBVM_DEVICES_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/disk.h"
#include "devices/virtio.h"

#define DEV_MAX_DISKS 16u

/* The models (one file each), listed in devices.c. */
extern const struct vdev_ops virtio_blk_ops;
extern const struct vdev_ops virtio_scsi_ops;

/* How a driver reaches a device on the synthetic PCI bus. */
enum dev_transport {
    DEV_TRANSITIONAL = 0, /* both: a legacy I/O BAR and the modern capabilities */
    DEV_LEGACY,           /* the legacy I/O BAR only (a transitional device id) */
    DEV_MODERN,           /* the 1.x capabilities only (a modern device id) */
};

struct diskspec {
    char *path;
    bool ro;
    uint64_t size; /* create at this size when absent; 0: must exist */
};

struct devspec {
    const struct vdev_ops *ops;
    enum dev_transport transport;
    struct diskspec disks[DEV_MAX_DISKS];
    unsigned ndisks;
};

/* The model named `type` ("virtio-blk"), or NULL. */
const struct vdev_ops *dev_lookup(const char *type);
/* Every model's name, comma-separated (for messages). */
const char *dev_names(void);

int devspec_parse(const char *s, struct devspec *out, sbvm_error **err);
void devspec_release(struct devspec *s);

/*
 * Makes the device: opens (or creates) its disks and initialises d with
 * the model. name (may be NULL) names it in traces and reports.
 */
int dev_create(const struct devspec *s, const char *name, struct vdev *d, sbvm_error **err);
/* The same over disks already opened (taken over, also on failure). */
int dev_create_disks(const struct vdev_ops *ops, struct disk *disks, unsigned n, const char *name,
                     struct vdev *d, sbvm_error **err);

#endif
