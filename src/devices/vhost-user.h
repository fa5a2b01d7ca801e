/* SPDX-License-Identifier: MIT */
/*
 * vhost-user.h: a device model served over the vhost-user protocol (QEMU's
 * docs/interop/vhost-user.rst), the back-end side: feature and protocol
 * feature negotiation, the memory table (the client's fds, mapped with
 * bounds), vring setup, kick and call file descriptors, the device's
 * configuration. One connection, one device, one thread.
 *
 * Everything the client sends is hostile: message sizes, counts, indices,
 * addresses, the fds themselves (a file smaller than the region it claims,
 * a pipe where an eventfd belongs). Each message is checked whole before it
 * changes anything; a message that cannot be valid ends the connection with
 * the reason (vu_why()), never the process. What the client's *driver*
 * puts in the rings is the device model's to judge; when the device stops
 * trusting it (NEEDS_RESET), the connection ends too, since vhost-user has
 * no other way to say so.
 */
#ifndef SBVM_DEVICES_VHOST_USER_H
#define SBVM_DEVICES_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/dma.h"
#include "devices/virtio.h"

#define VU_MAX_REGIONS  8u    /* VHOST_MEMORY_BASELINE_NREGIONS */
#define VU_MAX_FDS      8u    /* fds one message may carry */
#define VU_MAX_PAYLOAD  4096u /* the largest payload accepted */
#define VU_HDR_SIZE     12u
#define VU_VERSION      1u
#define VU_FLAG_REPLY   4u
#define VU_FLAG_NEED    8u
#define VU_F_PROTOCOL   30 /* VHOST_USER_F_PROTOCOL_FEATURES */
#define VU_PF_MQ        0
#define VU_PF_REPLY_ACK 3
#define VU_PF_SLAVE_REQ 5
#define VU_PF_CONFIG    9
/*
 * The protocol features offered. SLAVE_REQ although the device never sends
 * a request: Linux 6.1's virtio_uml allocates its interrupt only when the
 * back-end offers it, and fails to probe otherwise ("Flags mismatch irq 0").
 */
#define VU_PROTOCOL_OFFERED                                                                        \
    (BIT64(VU_PF_MQ) | BIT64(VU_PF_REPLY_ACK) | BIT64(VU_PF_SLAVE_REQ) | BIT64(VU_PF_CONFIG))
#define VU_VRING_NOFD    0x100u
#define VU_VRING_IDXMASK 0xffu

enum vu_request {
    VU_GET_FEATURES = 1,
    VU_SET_FEATURES = 2,
    VU_SET_OWNER = 3,
    VU_RESET_OWNER = 4,
    VU_SET_MEM_TABLE = 5,
    VU_SET_LOG_BASE = 6,
    VU_SET_LOG_FD = 7,
    VU_SET_VRING_NUM = 8,
    VU_SET_VRING_ADDR = 9,
    VU_SET_VRING_BASE = 10,
    VU_GET_VRING_BASE = 11,
    VU_SET_VRING_KICK = 12,
    VU_SET_VRING_CALL = 13,
    VU_SET_VRING_ERR = 14,
    VU_GET_PROTOCOL_FEATURES = 15,
    VU_SET_PROTOCOL_FEATURES = 16,
    VU_GET_QUEUE_NUM = 17,
    VU_SET_VRING_ENABLE = 18,
    VU_SET_SLAVE_REQ_FD = 21,
    VU_GET_CONFIG = 24,
    VU_SET_CONFIG = 25,
};

/* A message as it came off the socket: header, payload, fds. */
struct vu_msg {
    uint32_t request, flags, size;
    uint8_t payload[VU_MAX_PAYLOAD];
    int fds[VU_MAX_FDS];
    unsigned nfds;
};

struct vu_region {
    void *map; /* the whole mapping (from the page-aligned start of the file range) */
    size_t map_len;
};

struct vu_ring {
    uint64_t desc_ua, avail_ua, used_ua; /* the client's user addresses */
    bool addr_set;
    bool enabled;
    int kick, call; /* -1 when none */
};

struct vu_conn {
    struct vdev *dev;
    struct dma_map map;
    struct vu_region regions[VU_MAX_REGIONS];
    unsigned nregions;
    struct vu_ring ring[VDEV_MAX_QUEUES];
    uint64_t protocol; /* negotiated protocol features */
    int slave_fd;      /* the back-end's request channel (kept, unused), or -1 */
    bool features_set;
    bool proto_negotiated; /* the client accepted VHOST_USER_F_PROTOCOL_FEATURES */
    bool closed;
    char why[256]; /* why the connection must end */
    uint64_t messages;
    /* The reply to send, if any. */
    bool has_reply;
    struct vu_msg reply;
    /* The event loop's epoll fd (-1: none): kick fds are registered in it
     * with their queue index as data.u32, and removed before they close. */
    int epfd;
};

/* Binds a connection to a device (which it does not own). */
void vu_init(struct vu_conn *c, struct vdev *d);
/* Unmaps, closes every fd it holds, resets the device. */
void vu_release(struct vu_conn *c);

/*
 * Handles one message (its fds are the connection's afterwards, closed if
 * unused). 0, with c->has_reply when a reply must be sent; -EPROTO when the
 * connection must end (c->why says why).
 */
int vu_handle(struct vu_conn *c, struct vu_msg *m);

/* The kick fd of queue q fired (its count already read): serve the queue.
 * -EPROTO when the device stopped trusting the driver (c->why). */
int vu_kick(struct vu_conn *c, unsigned q);

/* The kick fd of queue q is not an eventfd after all (EOF, an error): it
 * is dropped. */
void vu_kick_fd_broken(struct vu_conn *c, unsigned q);

/* Reads one message from a stream socket (blocking): 1, 0 at a clean end of
 * the stream, -errno (-EPROTO for a malformed header; c->why). */
int vu_recv(struct vu_conn *c, int sock, struct vu_msg *m);
/* Sends c->reply. */
int vu_send_reply(struct vu_conn *c, int sock);

#endif
