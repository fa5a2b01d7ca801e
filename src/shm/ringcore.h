/* SPDX-License-Identifier: MIT */
/*
 * ringcore.h: one end of a single-producer single-consumer message ring in
 * the shared window, as both the host and the guest SDK run it.
 *
 * The peer's index is hostile: it is read once per operation (and only when
 * the cached value is not enough), into a local, and checked before use:
 * a multiple of 8, never moving backwards, and never letting the published
 * bytes exceed the capacity. A message header is copied out before its
 * length is looked at; a length must fit both max_msg and the bytes
 * published. A violation returns -EPROTO and records what was wrong in
 * `fault`; the ring is then unusable (the caller ends the channel).
 *
 * Our own index lives in private memory (`mine`) and is only ever stored to
 * the window, never read back from it, so the peer cannot move it for us.
 *
 * Header-only for the same reason as sync.h.
 */
#ifndef SBVM_SHM_RINGCORE_H
#define SBVM_SHM_RINGCORE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sandboxvm/guest.h"
#include "shm/sync.h"

enum ring_fault {
    RING_OK = 0,
    RING_PEER_BACKWARDS,  /* the peer's index moved backwards */
    RING_PEER_PAST_END,   /* it claims more bytes than the ring holds or than were sent */
    RING_PEER_MISALIGNED, /* it is not a multiple of SBVM_RING_ALIGN */
    RING_LEN_TOO_BIG,     /* a message longer than max_msg */
    RING_LEN_PAST_HEAD,   /* a message longer than the bytes published */
};

struct ring_end {
    uint8_t *data;             /* the data area, in the window */
    struct sbvm_ring_ctl *ctl; /* the indices, in the window */
    uint64_t cap;              /* a power of two */
    uint32_t max_msg;
    int producer;  /* 1: we own head; 0: we own tail */
    uint64_t mine; /* our index (private; the window's copy is write-only to us) */
    uint64_t seen; /* the peer's index, last read and checked */
    enum ring_fault fault;
    uint64_t fault_was, fault_now; /* the values involved */
};

static inline uint64_t ring_rec_size(uint64_t len)
{
    return sizeof(struct sbvm_ring_rec) +
           ((len + SBVM_RING_ALIGN - 1) & ~(uint64_t)(SBVM_RING_ALIGN - 1));
}

/* Sets up one end over a ring whose indices both start at `start`. The
 * caller has checked that data .. data+cap lies in the window and that cap
 * is a power of two >= SBVM_RING_MIN_CAP with max_msg <= cap - 8. */
static inline void ring_end_init(struct ring_end *r, uint8_t *data, struct sbvm_ring_ctl *ctl,
                                 uint64_t cap, uint32_t max_msg, int producer, uint64_t start)
{
    memset(r, 0, sizeof(*r));
    r->data = data;
    r->ctl = ctl;
    r->cap = cap;
    r->max_msg = max_msg;
    r->producer = producer;
    r->mine = start;
    r->seen = start;
}

static inline int ring_fail(struct ring_end *r, enum ring_fault f, uint64_t was, uint64_t now)
{
    if (r->fault == RING_OK) {
        r->fault = f;
        r->fault_was = was;
        r->fault_now = now;
    }
    return -EPROTO;
}

/* Reads the peer's index once and checks it against what we know. */
static inline int ring_read_peer(struct ring_end *r)
{
    uint64_t v;

    if (r->fault != RING_OK)
        return -EPROTO;
    if (r->producer) {
        /* tail: seen <= tail <= mine */
        v = shm_load64(&r->ctl->tail, memory_order_acquire);
        if (v % SBVM_RING_ALIGN)
            return ring_fail(r, RING_PEER_MISALIGNED, r->seen, v);
        if ((int64_t)(v - r->seen) < 0)
            return ring_fail(r, RING_PEER_BACKWARDS, r->seen, v);
        if (v - r->seen > r->mine - r->seen)
            return ring_fail(r, RING_PEER_PAST_END, r->mine, v);
    } else {
        /* head: seen <= head <= mine + cap */
        v = shm_load64(&r->ctl->head, memory_order_acquire);
        if (v % SBVM_RING_ALIGN)
            return ring_fail(r, RING_PEER_MISALIGNED, r->seen, v);
        if ((int64_t)(v - r->seen) < 0)
            return ring_fail(r, RING_PEER_BACKWARDS, r->seen, v);
        if (v - r->mine > r->cap)
            return ring_fail(r, RING_PEER_PAST_END, r->mine, v);
    }
    r->seen = v;
    return 0;
}

/* Copies n bytes into the ring at byte position pos, wrapping at the end. */
static inline void ring_put(struct ring_end *r, uint64_t pos, const void *src, uint64_t n)
{
    uint64_t off = pos & (r->cap - 1), first = r->cap - off;

    if (n <= first) {
        memcpy(r->data + off, src, n);
    } else {
        memcpy(r->data + off, src, first);
        memcpy(r->data, (const uint8_t *)src + first, n - first);
    }
}

/* Copies n bytes out of the ring (into private memory) from position pos. */
static inline void ring_get(const struct ring_end *r, uint64_t pos, void *dst, uint64_t n)
{
    uint64_t off = pos & (r->cap - 1), first = r->cap - off;

    if (n <= first) {
        shm_copy_in(dst, r->data + off, n);
    } else {
        memcpy(dst, r->data + off, first);
        shm_copy_in((uint8_t *)dst + first, r->data, n - first);
    }
}

/*
 * Producer: appends one message. 0, -EAGAIN (no room now), -EMSGSIZE (len
 * exceeds max_msg), -EPROTO (the consumer's index is invalid).
 */
static inline int ring_push(struct ring_end *r, const void *msg, size_t len, uint32_t tag)
{
    struct sbvm_ring_rec rec;
    uint64_t need;
    int e;

    if (r->fault != RING_OK)
        return -EPROTO;
    if (len > r->max_msg)
        return -EMSGSIZE;
    need = ring_rec_size(len);
    if (need > r->cap - (r->mine - r->seen)) {
        if ((e = ring_read_peer(r)) < 0)
            return e;
        if (need > r->cap - (r->mine - r->seen))
            return -EAGAIN;
    }
    rec.len = (uint32_t)len;
    rec.tag = tag;
    ring_put(r, r->mine, &rec, sizeof(rec));
    if (len)
        ring_put(r, r->mine + sizeof(rec), msg, len);
    r->mine += need;
    shm_store64(&r->ctl->head, r->mine, memory_order_release);
    return 0;
}

/*
 * Consumer: takes one message into buf and returns its length. -EAGAIN (the
 * ring is empty), -EMSGSIZE (it does not fit cap: *needed gets its length and
 * it stays in the ring), -EPROTO (the producer's index or the message header
 * is invalid).
 */
static inline long ring_pop(struct ring_end *r, void *buf, size_t cap, uint32_t *tag,
                            size_t *needed)
{
    struct sbvm_ring_rec rec;
    uint64_t need, avail;
    int e;

    if (r->fault != RING_OK)
        return -EPROTO;
    if (r->seen == r->mine) {
        if ((e = ring_read_peer(r)) < 0)
            return e;
        if (r->seen == r->mine)
            return -EAGAIN;
    }
    avail = r->seen - r->mine;
    ring_get(r, r->mine, &rec, sizeof(rec));
    if (rec.len > r->max_msg)
        return ring_fail(r, RING_LEN_TOO_BIG, r->max_msg, rec.len);
    need = ring_rec_size(rec.len);
    if (need > avail)
        return ring_fail(r, RING_LEN_PAST_HEAD, avail, rec.len);
    if (rec.len > cap) {
        if (needed)
            *needed = rec.len;
        return -EMSGSIZE;
    }
    if (rec.len)
        ring_get(r, r->mine + sizeof(rec), buf, rec.len);
    if (tag)
        *tag = rec.tag;
    r->mine += need;
    shm_store64(&r->ctl->tail, r->mine, memory_order_release);
    return (long)rec.len;
}

/*
 * Whether the peer's index moved since we last looked (unchecked: only a
 * hint for wait loops; push and pop check it). Consumer: something to read;
 * producer: room may have appeared.
 */
static inline int ring_peer_moved(const struct ring_end *r)
{
    if (r->producer)
        return shm_load64(&r->ctl->tail, memory_order_relaxed) != r->seen;
    return r->seen != r->mine || shm_load64(&r->ctl->head, memory_order_relaxed) != r->seen;
}

static inline const char *ring_fault_text(enum ring_fault f)
{
    switch (f) {
    case RING_OK:
        return "no fault";
    case RING_PEER_BACKWARDS:
        return "the peer's index moved backwards";
    case RING_PEER_PAST_END:
        return "the peer's index moved past the end";
    case RING_PEER_MISALIGNED:
        return "the peer's index is not a multiple of 8";
    case RING_LEN_TOO_BIG:
        return "a message is longer than the ring's largest message";
    case RING_LEN_PAST_HEAD:
        return "a message is longer than the bytes published";
    }
    return "unknown fault";
}

#endif
