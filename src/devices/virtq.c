/* SPDX-License-Identifier: MIT */
/* virtq.c: the split virtqueue, device side: the bounded descriptor walker. */
#include "devices/virtq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "util/util.h"

void vq_reset(struct vq *q)
{
    q->started = false;
    q->desc = q->avail = q->used = NULL;
    q->last_avail = q->used_idx = q->signalled = 0;
    q->signalled_valid = false;
    q->broken = false;
    q->why[0] = '\0';
}

static int fault(struct vq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fault(struct vq *q, const char *fmt, ...)
{
    va_list ap;

    if (!q->broken) {
        va_start(ap, fmt);
        vsnprintf(q->why, sizeof(q->why), fmt, ap);
        va_end(ap);
    }
    q->broken = true;
    return -EPROTO;
}

static void *resolve(struct vq *q, const struct dma_map *m, const char *part, uint64_t addr,
                     uint64_t len, uint64_t align)
{
    void *p;

    if (addr % align) {
        fault(q, "the %s ring at 0x%" PRIx64 " is not aligned to %" PRIu64 " bytes", part, addr,
              align);
        return NULL;
    }
    p = dma_ptr(m, addr, len);
    if (!p)
        fault(q,
              "the %s ring at 0x%" PRIx64 " (%" PRIu64 " bytes) is not inside the driver's memory",
              part, addr, len);
    return p;
}

int vq_start(struct vq *q, const struct dma_map *m)
{
    q->broken = false;
    q->why[0] = '\0';
    q->started = false;
    if (q->num == 0 || q->num > VQ_MAX_SIZE || (q->num & (q->num - 1)))
        return fault(q, "queue size %u is not a power of two from 1 to %u", q->num, VQ_MAX_SIZE),
               -EINVAL;
    q->desc = resolve(q, m, "descriptor", q->desc_addr, vq_desc_bytes(q->num), 16);
    if (q->desc)
        q->avail = resolve(q, m, "available", q->avail_addr, vq_avail_bytes(q->num), 2);
    if (q->avail)
        q->used = resolve(q, m, "used", q->used_addr, vq_used_bytes(q->num), 4);
    if (!q->used)
        return -EINVAL;
    q->map_gen = m->generation;
    q->started = true;
    return 0;
}

static inline uint16_t ld16(const uint8_t *p, int mo)
{
    return __atomic_load_n((const uint16_t *)(const void *)p, mo);
}

static inline void st16(uint8_t *p, uint16_t v, int mo)
{
    __atomic_store_n((uint16_t *)(void *)p, v, mo);
}

/* Adds [addr, addr + len) to the request, split at region edges. */
static int add_buffer(struct vq *q, const struct dma_map *m, struct vq_req *r, uint64_t addr,
                      uint32_t len, bool write)
{
    uint64_t *total = write ? &r->wlen : &r->rlen;
    uint64_t left = len;

    if (!write && r->nw)
        return fault(q, "descriptor chain %u: a device-readable buffer after a writable one",
                     r->head);
    if (*total + len > VQ_MAX_BYTES)
        return fault(q, "descriptor chain %u: more than %" PRIu64 " bytes", r->head,
                     (uint64_t)VQ_MAX_BYTES);
    *total += len;
    while (left) {
        uint64_t avail, chunk;
        uint8_t *p = dma_span(m, addr, &avail);

        if (!p)
            return fault(q,
                         "descriptor chain %u: the buffer at 0x%" PRIx64 " (%u bytes) is not "
                         "inside the driver's memory",
                         r->head, addr, len);
        if ((unsigned)r->nr + r->nw >= VQ_MAX_SEGS)
            return fault(q, "descriptor chain %u: more than %u segments", r->head, VQ_MAX_SEGS);
        chunk = left < avail ? left : avail;
        r->iov[r->nr + r->nw] = (struct iovec){ p, (size_t)chunk };
        if (write)
            r->nw++;
        else
            r->nr++;
        addr += chunk;
        left -= chunk;
    }
    return 0;
}

/* Walks the chain starting at head through the table (and at most one
 * indirect table), bounding every step. */
static int walk(struct vq *q, const struct dma_map *m, struct vq_req *r, uint16_t head)
{
    const uint8_t *table = q->desc;
    uint32_t tsize = q->num, idx = head, visited = 0;
    bool in_indirect = false;

    r->head = head;
    r->nr = r->nw = 0;
    r->rlen = r->wlen = 0;
    r->ndesc = 0;
    r->indirect = false;
    for (;;) {
        struct vring_desc_le d;
        int rc;

        if (visited++ >= tsize)
            return fault(q, "descriptor chain %u: longer than its table of %u (a loop)", head,
                         tsize);
        dma_copy_in(&d, table + 16u * idx, sizeof(d));
        r->ndesc++;
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (!q->indirect_ok)
                return fault(q, "descriptor chain %u: an indirect table, not negotiated", head);
            if (in_indirect)
                return fault(q, "descriptor chain %u: an indirect table inside an indirect table",
                             head);
            if (d.flags & VRING_DESC_F_NEXT)
                return fault(q, "descriptor chain %u: an indirect descriptor with NEXT set", head);
            if (d.len == 0 || d.len % 16 || d.len / 16 > VQ_MAX_INDIRECT)
                return fault(q,
                             "descriptor chain %u: an indirect table of %u bytes (a multiple of "
                             "16, at most %u descriptors)",
                             head, d.len, VQ_MAX_INDIRECT);
            table = dma_ptr(m, d.addr, d.len);
            if (!table)
                return fault(q,
                             "descriptor chain %u: the indirect table at 0x%" PRIx64
                             " (%u bytes) is not inside the driver's memory",
                             head, d.addr, d.len);
            tsize = d.len / 16;
            idx = 0;
            visited = 0;
            in_indirect = true;
            r->indirect = true;
            continue;
        }
        if (d.len) {
            rc = add_buffer(q, m, r, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
            if (rc < 0)
                return rc;
        }
        if (!(d.flags & VRING_DESC_F_NEXT))
            return 0;
        if (d.next >= tsize)
            return fault(q, "descriptor chain %u: next index %u is past its table of %u", head,
                         d.next, tsize);
        idx = d.next;
    }
}

int vq_pop(struct vq *q, const struct dma_map *m, struct vq_req *r)
{
    uint16_t avail_idx, pending, head;

    if (q->broken)
        return -EPROTO;
    if (!q->started)
        return 0;
    if (q->map_gen != m->generation)
        return fault(q, "the driver's memory map changed under a running queue");
    avail_idx = ld16(q->avail + 2, __ATOMIC_ACQUIRE);
    pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending == 0)
        return 0;
    if (pending > q->num)
        return fault(q, "the available index moved by %u entries, more than the queue's %u",
                     pending, q->num);
    head = ld16(q->avail + 4 + 2u * (q->last_avail % q->num), __ATOMIC_RELAXED);
    if (head >= q->num)
        return fault(q, "available entry %u names descriptor %u, past the table of %u",
                     q->last_avail, head, q->num);
    if (walk(q, m, r, head) < 0)
        return -EPROTO;
    q->last_avail++;
    q->requests++;
    return 1;
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
    struct vring_used_elem_le e = { head, len };
    uint8_t *slot = q->used + 4 + 8u * (q->used_idx % q->num);

    if (!q->started)
        return;
    memcpy(slot, &e, sizeof(e));
    q->used_idx++;
    st16(q->used + 2, q->used_idx, __ATOMIC_RELEASE);
}

void vq_busy(struct vq *q, bool busy)
{
    if (!q->started || q->broken || q->event_idx)
        return;
    st16(q->used, busy ? VRING_USED_F_NO_NOTIFY : 0, __ATOMIC_RELAXED);
}

bool vq_more(struct vq *q)
{
    if (!q->started || q->broken)
        return false;
    if (!q->event_idx)
        __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the flag's clearing, before the look */
    if (q->event_idx) {
        /* avail_event: notify me once you pass this entry. */
        st16(q->used + 4 + 8u * q->num, q->last_avail, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    return ld16(q->avail + 2, __ATOMIC_ACQUIRE) != q->last_avail;
}

bool vq_should_interrupt(struct vq *q)
{
    uint16_t now = q->used_idx, old = q->signalled, ev;
    bool valid = q->signalled_valid;

    if (!q->started)
        return false;
    /* The used index is published; only now look at what the driver asked. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    q->signalled = now;
    q->signalled_valid = true;
    if (valid && now == old)
        return false;
    if (!q->event_idx)
        return !(ld16(q->avail, __ATOMIC_RELAXED) & VRING_AVAIL_F_NO_INTERRUPT);
    ev = ld16(q->avail + 4 + 2u * q->num, __ATOMIC_RELAXED);
    /* Whether used_event lies in (old, now]: the driver's vring_need_event. */
    return !valid || (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
}

/* Walks the segments of one part, calling fn on each piece in [off, off+len). */
static uint64_t each_piece(const struct vq_req *r, bool write, uint64_t off, uint64_t len,
                           void (*fn)(void *seg, size_t n, void *ctx, uint64_t done), void *ctx)
{
    unsigned first = write ? r->nr : 0, count = write ? r->nw : r->nr;
    uint64_t done = 0;

    for (unsigned i = first; i < first + count && done < len; i++) {
        size_t seglen = r->iov[i].iov_len;
        if (off >= seglen) {
            off -= seglen;
            continue;
        }
        size_t n = seglen - off;
        if (n > len - done)
            n = (size_t)(len - done);
        fn((uint8_t *)r->iov[i].iov_base + off, n, ctx, done);
        done += n;
        off = 0;
    }
    return done;
}

static void piece_in(void *seg, size_t n, void *ctx, uint64_t done)
{
    dma_copy_in((uint8_t *)ctx + done, seg, n);
}

static void piece_out(void *seg, size_t n, void *ctx, uint64_t done)
{
    memcpy(seg, (const uint8_t *)ctx + done, n);
}

uint64_t vq_read(const struct vq_req *r, uint64_t off, void *buf, uint64_t len)
{
    return each_piece(r, false, off, len, piece_in, buf);
}

uint64_t vq_write(const struct vq_req *r, uint64_t off, const void *buf, uint64_t len)
{
    return each_piece(r, true, off, len, piece_out, (void *)buf);
}

unsigned vq_slice(const struct vq_req *r, bool write, uint64_t off, uint64_t len, struct iovec *out,
                  unsigned cap)
{
    unsigned first = write ? r->nr : 0, count = write ? r->nw : r->nr, n = 0;
    uint64_t done = 0;

    for (unsigned i = first; i < first + count && done < len; i++) {
        size_t seglen = r->iov[i].iov_len;
        if (off >= seglen) {
            off -= seglen;
            continue;
        }
        if (n == cap)
            return 0;
        size_t take = seglen - off;
        if (take > len - done)
            take = (size_t)(len - done);
        out[n++] = (struct iovec){ (uint8_t *)r->iov[i].iov_base + off, take };
        done += take;
        off = 0;
    }
    return done == len ? n : 0;
}
