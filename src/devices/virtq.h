/* SPDX-License-Identifier: MIT */
/*
 * virtq.h: the device's side of a split virtqueue (virtio 1.x, "Split
 * Virtqueues"), and the one descriptor walker every device model uses.
 *
 * The driver owns the descriptor table and the available ring, and can
 * write them (and the used ring) at any moment. So the walker:
 *  - keeps its own indices (last_avail, used_idx) and never reads them back;
 *  - reads the driver's available index once per look, and refuses one that
 *    moved by more than the queue's size;
 *  - copies each descriptor out before looking at it;
 *  - bounds everything: a head or next index past the table, a chain longer
 *    than the table (a loop), an indirect table inside an indirect table,
 *    one whose length is not a whole number of descriptors (or is absurd),
 *    an address range not inside one region of the memory map, a readable
 *    descriptor after a writable one, more segments or bytes than a request
 *    may hold: each is a *fault*, named in words, and the device stops
 *    using the queue (the spec's DEVICE_NEEDS_RESET) instead of guessing.
 *
 * Used entries are written with the index published last (release), and the
 * interrupt decision honours VIRTIO_F_EVENT_IDX and VIRTQ_AVAIL_F_NO_INTERRUPT.
 */
#ifndef SBVM_DEVICES_VIRTQ_H
#define SBVM_DEVICES_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/dma.h"

/* The layout (little-endian: the only byte order this host has). */
struct vring_desc_le {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
#define VRING_DESC_F_NEXT     1u
#define VRING_DESC_F_WRITE    2u
#define VRING_DESC_F_INDIRECT 4u

#define VRING_AVAIL_F_NO_INTERRUPT 1u
#define VRING_USED_F_NO_NOTIFY     1u

struct vring_used_elem_le {
    uint32_t id;
    uint32_t len;
};

/* The largest queue a split ring can have, and the largest we offer. */
#define VQ_MAX_SIZE 32768u
/* Segments one request may be made of (after splitting at region edges):
 * the devices advertise seg_max well below it. */
#define VQ_MAX_SEGS 1024u
/* Descriptors in one indirect table. */
#define VQ_MAX_INDIRECT 1024u
/* Bytes one request may move, each way. */
#define VQ_MAX_BYTES (UINT64_C(1) << 32)

/* Bytes of each part of a ring of `num` entries. */
static inline uint64_t vq_desc_bytes(uint32_t num)
{
    return 16ull * num;
}
static inline uint64_t vq_avail_bytes(uint32_t num)
{
    return 6ull + 2ull * num; /* flags, idx, ring[num], used_event */
}
static inline uint64_t vq_used_bytes(uint32_t num)
{
    return 6ull + 8ull * num; /* flags, idx, ring[num], avail_event */
}

/* One request: a descriptor chain, as host memory segments, the readable
 * ones (driver to device) first. */
struct vq_req {
    uint16_t head;
    uint16_t nr, nw;     /* readable: iov[0 .. nr), writable: iov[nr .. nr+nw) */
    uint64_t rlen, wlen; /* their byte counts */
    unsigned ndesc;      /* descriptors walked (indirect ones included) */
    bool indirect;       /* it used an indirect table */
    struct iovec iov[VQ_MAX_SEGS];
};

struct vq {
    /* Set by the transport. */
    uint32_t num; /* entries (a power of two); 0: not set up */
    uint64_t desc_addr, avail_addr, used_addr;
    bool event_idx, indirect_ok; /* negotiated features */
    /* Resolved at start: host pointers to the three parts. */
    bool started;
    unsigned map_gen; /* the memory map's generation they were resolved in */
    uint8_t *desc, *avail, *used;
    /* The device's own state, never read back from shared memory. */
    uint16_t last_avail; /* the next available entry to take */
    uint16_t used_idx;   /* the next used entry to write */
    uint16_t signalled;  /* used_idx when the driver was last interrupted */
    bool signalled_valid;
    /* What went wrong, when the queue stopped. */
    bool broken;
    char why[160];
    uint64_t kicks, requests;
};

/* Back to the state before setup (the addresses and size are kept). */
void vq_reset(struct vq *q);

/*
 * Resolves the ring addresses in the map: 0, or -EINVAL (size not a power
 * of two, or above VQ_MAX_SIZE; a part misaligned or not inside one region)
 * with the reason in q->why.
 */
int vq_start(struct vq *q, const struct dma_map *m);

/*
 * Takes the next available request: 1 and *r filled; 0 when there is none;
 * -EPROTO when the driver broke the rules (q->broken and q->why set; the
 * queue gives nothing more until it is reset).
 */
int vq_pop(struct vq *q, const struct dma_map *m, struct vq_req *r);

/* Puts a request back in the used ring, `len` bytes written to it. */
void vq_push(struct vq *q, uint16_t head, uint32_t len);

/*
 * After a batch of pops: with EVENT_IDX, tells the driver (avail_event)
 * where to notify next, then looks again. True when more requests arrived
 * meanwhile (serve them before sleeping).
 */
bool vq_more(struct vq *q);

/* While the device works through the queue it tells the driver not to
 * notify (VIRTQ_USED_F_NO_NOTIFY; without EVENT_IDX, where avail_event does
 * it): vq_more() then looks again after clearing it, so no addition is lost. */
void vq_busy(struct vq *q, bool busy);

/* Whether the driver wants an interrupt for what was pushed since the last
 * time this said yes. */
bool vq_should_interrupt(struct vq *q);

/* The request's readable bytes [off, off + len) into buf (private memory):
 * the count copied, short only at the end of the readable part. */
uint64_t vq_read(const struct vq_req *r, uint64_t off, void *buf, uint64_t len);
/* buf into the request's writable bytes at off: the count copied. */
uint64_t vq_write(const struct vq_req *r, uint64_t off, const void *buf, uint64_t len);
/*
 * A slice of the readable (write == false) or writable part as segments, for
 * preadv/pwritev straight between a file and the driver's memory: the
 * segment count (at most cap), 0 when the range is empty or out of bounds.
 */
unsigned vq_slice(const struct vq_req *r, bool write, uint64_t off, uint64_t len, struct iovec *out,
                  unsigned cap);

#endif
