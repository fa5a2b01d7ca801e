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

/* The channel's guest end, for the sandbox (see channel.h); close it in the
 * host once the sandbox has it. */
int drvhost_guest_fd(const struct drvhost *h);
void drvhost_close_guest_fd(struct drvhost *h);
/* The fd to watch for reading, and what to call when it is readable. 0,
 * or -EPIPE / -EPROTO when the channel ended (stop watching). */
int drvhost_fd(const struct drvhost *h);
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
