/* SPDX-License-Identifier: MIT */
/*
 * host.h: the driver host, host side: for one sandbox, the device models on
 * a synthetic PCI bus and the host channel its driver runtime reaches them
 * through (src/drivers/proto.h). The sandboxed runtime configures devices
 * with host calls (configuration space and BAR accesses), the models read
 * and write its DMA memory - regions of the channel's window, and nothing
 * else - and raise interrupts as messages on a ring to the guest.
 *
 * One thread (the sandbox's event loop) serves it; every host call is
 * bounded, and nothing the guest writes in the window is trusted.
 */
#ifndef SBVM_DRIVERS_HOST_H
#define SBVM_DRIVERS_HOST_H

#include <stdbool.h>

#include "sandboxvm/channel.h"
#include "sandboxvm/sandboxvm.h"
#include "util/strv.h"

struct drvhost;

/*
 * Makes the devices of `specs` ("virtio-blk,disk=IMG[,ro][,size=N]"...),
 * their bus and the channel; trace (may be NULL) is where the device trace
 * goes (JSON lines when json).
 */
int drvhost_new(const struct strv *specs, const char *trace, bool json, struct drvhost **out,
                sbvm_error **err);
void drvhost_free(struct drvhost *h);

/* Its channel, for the sandbox's job to carry (the guest's fd 3) and serve:
 * the driver host keeps it, and frees it in drvhost_free(). */
sbvm_channel *drvhost_channel(const struct drvhost *h);
/* After each service of the channel (events as sbvm_channel_service
 * answered): the device models do what the guest asked for. */
void drvhost_served(struct drvhost *h, int events);
/* Serves the channel once and runs the devices (what the guest left in it
 * when it ended): 0, or -EPIPE / -EPROTO once the channel has ended. */
int drvhost_service(struct drvhost *h);

/* A host call as the guest's runtime makes it (tests and fuzzing): the
 * result, out filled as the channel would answer. */
int32_t drvhost_call(struct drvhost *h, uint32_t id, const void *in, size_t in_len, void *out,
                     size_t out_cap, size_t *out_len);

/* One line per device ("virtio-blk0 (virtio-blk, slot 0): 120 requests, 0
 * failed, 61440 bytes read, 8192 written"), and what the drivers' ledgers
 * said, appended to the two lists. */
int drvhost_report(const struct drvhost *h, struct strv *devices, struct strv *ledger);

#endif
