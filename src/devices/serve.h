/* SPDX-License-Identifier: MIT */
/* serve.h: serving a device model over vhost-user (sbvm_device_serve). */
#ifndef SBVM_DEVICES_SERVE_H
#define SBVM_DEVICES_SERVE_H

#include <stddef.h>

#include "devices/virtio.h"

/*
 * Serves one vhost-user client on a connected socket until it hangs up
 * (0) or breaks the protocol, or its driver the device's rules (-EPROTO,
 * with why saying which). The device is reset before and after.
 */
int vu_serve_conn(struct vdev *d, int sock, char *why, size_t whylen);

#endif
