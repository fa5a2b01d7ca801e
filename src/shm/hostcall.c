/* SPDX-License-Identifier: MIT */
/*
 * hostcall.c: the host's side of the call slots: reading a request (each
 * guest-written field once, the argument copied to private memory before
 * anything looks at it), the built-in calls (hello, log, rings, growth,
 * regions), registered and deferred host functions, and the answer.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "shm/chan.h"
#include "util/error.h"
#include "util/util.h"

/* A request as read from a slot, once. */
struct hc_req {
    uint32_t id, in_len, out_cap;
    uint64_t seq;
};

static void read_req(const struct sbvm_slot *s, struct hc_req *r)
{
    r->id = shm_load32(&s->id, memory_order_relaxed);
    r->in_len = shm_load32(&s->in_len, memory_order_relaxed);
    r->out_cap = shm_load32(&s->out_cap, memory_order_relaxed);
    r->seq = shm_load64(&s->seq, memory_order_relaxed);
}

static uint8_t *slot_buf(const struct sbvm_channel *ch, uint32_t i)
{
    return ch->slot_data + (size_t)i * ch->cfg.slot_size;
}

/* Publishes an answer: bytes, then the fields, then the state (release), and
 * wakes the guest when it sleeps on the slot. */
static void answer(struct sbvm_channel *ch, uint32_t i, int32_t status, int32_t result,
                   const void *out, size_t out_len, uint64_t seq)
{
    struct sbvm_slot *s = &ch->slots[i];

    if (status != 0)
        out_len = 0;
    if (out_len)
        memcpy(slot_buf(ch, i), out, out_len);
    shm_store32((uint32_t *)&s->status, (uint32_t)status, memory_order_relaxed);
    shm_store32((uint32_t *)&s->result, (uint32_t)result, memory_order_relaxed);
    shm_store32(&s->out_len, (uint32_t)out_len, memory_order_relaxed);
    shm_store64(&s->ans_seq, seq, memory_order_relaxed);
    shm_store32(&s->state, SBVM_SLOT_ANSWER, memory_order_release);
    shm_fence();
    if (shm_load32(&s->guest_wait, memory_order_relaxed))
        shm_futex_wake(&s->state, INT_MAX);
    ch->st.calls++;
    if (status != 0)
        ch->st.call_errors++;
}

static const struct call_entry *find_call(const struct sbvm_channel *ch, uint32_t id)
{
    size_t lo = 0, hi = ch->cfg.ncalls;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ch->cfg.calls[mid].id == id)
            return &ch->cfg.calls[mid];
        if (ch->cfg.calls[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The built-in calls. Each returns the status (0 or -errno) and fills the
 * answer bytes; `in` is a private copy of in_len bytes. */
static int builtin(struct sbvm_channel *ch, uint32_t id, const uint8_t *in, size_t in_len,
                   uint8_t *out, size_t out_cap, size_t *out_len)
{
    switch (id) {
    case SBVM_CALL_HELLO: {
        struct sbvm_hello_in hi;
        struct sbvm_hello_out ho = { 0 };
        uint32_t minor;

        if (in_len < sizeof(hi))
            return -EINVAL;
        if (out_cap < sizeof(ho))
            return -EMSGSIZE;
        memcpy(&hi, in, sizeof(hi));
        if (ch->hello)
            return -EALREADY;
        if (hi.abi >> 16 != SBVM_ABI_MAJOR)
            return -EPROTONOSUPPORT;
        minor = hi.abi & 0xffff;
        if (minor > SBVM_ABI_MINOR)
            minor = SBVM_ABI_MINOR;
        ch->hello = true;
        ch->guest_abi = hi.abi;
        ho.abi = (uint32_t)SBVM_ABI_MAJOR << 16 | minor;
        memcpy(out, &ho, sizeof(ho));
        *out_len = sizeof(ho);
        return 0;
    }
    case SBVM_CALL_LOG: {
        struct sbvm_log_in li;

        if (in_len < sizeof(li))
            return -EINVAL;
        memcpy(&li, in, sizeof(li));
        if (li.len > in_len - sizeof(li))
            return -EINVAL;
        if (ch->cfg.log)
            ch->cfg.log(ch, li.level, (const char *)in + sizeof(li), li.len, ch->cfg.log_ud);
        else
            ch->st.logs_dropped++;
        return 0;
    }
    case SBVM_CALL_RING: {
        struct sbvm_ring_in ri;
        struct sbvm_ring_out ro = { 0 };
        char why[128];
        int r;

        if (in_len < sizeof(ri))
            return -EINVAL;
        if (out_cap < sizeof(ro))
            return -EMSGSIZE;
        memcpy(&ri, in, sizeof(ri));
        r = chan_ring_create(ch, ri.dir, ri.capacity, ri.max_msg, why, sizeof(why));
        if (r < 0)
            return r;
        ro.id = (uint32_t)r;
        memcpy(out, &ro, sizeof(ro));
        *out_len = sizeof(ro);
        return 0;
    }
    case SBVM_CALL_GROW: {
        struct sbvm_grow_in gi;
        struct sbvm_grow_out go;
        int r;

        if (in_len < sizeof(gi))
            return -EINVAL;
        if (out_cap < sizeof(go))
            return -EMSGSIZE;
        memcpy(&gi, in, sizeof(gi));
        if ((r = chan_grow(ch, gi.size)) < 0)
            return r;
        go.size = ch->win.size;
        memcpy(out, &go, sizeof(go));
        *out_len = sizeof(go);
        return 0;
    }
    case SBVM_CALL_REGION: {
        struct sbvm_region_in ri;
        struct sbvm_region_out ro;
        int64_t off;

        if (in_len < sizeof(ri))
            return -EINVAL;
        if (out_cap < sizeof(ro))
            return -EMSGSIZE;
        memcpy(&ri, in, sizeof(ri));
        off = chan_region_create(ch, ri.size);
        if (off < 0)
            return (int)off;
        ro.offset = (uint64_t)off;
        ro.size = ch->regions[ch->nregions - 1].len;
        memcpy(out, &ro, sizeof(ro));
        *out_len = sizeof(ro);
        return 0;
    }
    }
    return -ENOSYS;
}

/* Serves slot i if it holds a new request. Returns events, or -errno when the
 * channel ended meanwhile. */
static int serve_slot(struct sbvm_channel *ch, uint32_t i)
{
    struct hslot *hs = &ch->hs[i];
    const struct call_entry *ce;
    struct hc_req rq;
    size_t out_cap, out_len = 0;
    int32_t result = 0;
    int status, ev = 0;

    if (hs->busy || shm_load32(&ch->slots[i].state, memory_order_acquire) != SBVM_SLOT_REQUEST)
        return 0;
    read_req(&ch->slots[i], &rq);
    out_cap = rq.out_cap < ch->cfg.slot_size ? rq.out_cap : ch->cfg.slot_size;
    if (rq.in_len > ch->cfg.slot_size) {
        answer(ch, i, -E2BIG, 0, NULL, 0, rq.seq);
        return 0;
    }
    if (!ch->hello && rq.id != SBVM_CALL_HELLO) {
        answer(ch, i, -ENOTCONN, 0, NULL, 0, rq.seq);
        return 0;
    }
    shm_copy_in(ch->scratch_in, slot_buf(ch, i), rq.in_len);
    if (rq.id < SBVM_CHANNEL_CALL_USER) {
        bool had_hello = ch->hello;
        unsigned had_rings = ch->nrings;
        status = builtin(ch, rq.id, ch->scratch_in, rq.in_len, ch->scratch_out, out_cap, &out_len);
        if (!had_hello && ch->hello)
            ev |= SBVM_CHANNEL_EV_HELLO;
        if (ch->nrings != had_rings)
            ev |= SBVM_CHANNEL_EV_RINGS;
    } else if (!(ce = find_call(ch, rq.id))) {
        status = -ENOSYS;
    } else if (!ce->fn) {
        /* Deferred: keep a private copy until the caller answers. */
        hs->in = malloc(rq.in_len ? rq.in_len : 1);
        if (!hs->in) {
            answer(ch, i, -ENOMEM, 0, NULL, 0, rq.seq);
            return ev;
        }
        memcpy(hs->in, ch->scratch_in, rq.in_len);
        hs->in_len = rq.in_len;
        hs->id = rq.id;
        hs->out_cap = (uint32_t)out_cap;
        hs->seq = rq.seq;
        hs->order = ++ch->order;
        hs->busy = true;
        hs->taken = false;
        return ev | SBVM_CHANNEL_EV_CALL;
    } else {
        result = ce->fn(ch, rq.id, ch->scratch_in, rq.in_len, ch->scratch_out, out_cap, &out_len,
                        ce->userdata);
        status = out_len > out_cap ? -EMSGSIZE : 0;
    }
    if (ch->state != CHAN_OPEN)
        return -ch->end_code;
    answer(ch, i, status, result, ch->scratch_out, out_len, rq.seq);
    return ev;
}

int chan_serve_slots(struct sbvm_channel *ch)
{
    int ev = 0, r;

    for (uint32_t i = 0; i < ch->cfg.nslots; i++) {
        if ((r = serve_slot(ch, i)) < 0)
            return r;
        ev |= r;
        if (ch->hs[i].busy && !ch->hs[i].taken)
            ev |= SBVM_CHANNEL_EV_CALL;
    }
    return ev;
}

bool chan_slots_pending(const struct sbvm_channel *ch)
{
    for (uint32_t i = 0; i < ch->cfg.nslots; i++) {
        if (ch->hs[i].busy)
            continue;
        if (shm_load32(&ch->slots[i].state, memory_order_relaxed) == SBVM_SLOT_REQUEST)
            return true;
    }
    return false;
}

void chan_slots_release(struct sbvm_channel *ch)
{
    if (!ch->hs)
        return;
    for (uint32_t i = 0; i < ch->cfg.nslots; i++) {
        free(ch->hs[i].in);
        ch->hs[i].in = NULL;
        ch->hs[i].busy = false;
    }
}

SBVM_API int sbvm_channel_call_next(sbvm_channel *ch, struct sbvm_channel_call *call)
{
    struct hslot *best = NULL;
    uint32_t bi = 0;

    if (!ch || !call || ch->state != CHAN_OPEN)
        return 0;
    for (uint32_t i = 0; i < ch->cfg.nslots; i++) {
        struct hslot *hs = &ch->hs[i];
        if (hs->busy && !hs->taken && (!best || hs->order < best->order)) {
            best = hs;
            bi = i;
        }
    }
    if (!best)
        return 0;
    best->taken = true;
    call->id = best->id;
    call->slot = bi;
    call->in = best->in;
    call->in_len = best->in_len;
    call->out_cap = best->out_cap;
    call->seq = best->seq;
    return 1;
}

SBVM_API int sbvm_channel_call_answer(sbvm_channel *ch, const struct sbvm_channel_call *call,
                                      int32_t result, const void *out, size_t out_len,
                                      sbvm_error **err)
{
    struct hslot *hs;

    if (!ch || !call || call->slot >= ch->cfg.nslots)
        return error_set(err, EINVAL, "answering a host call: no such call");
    hs = &ch->hs[call->slot];
    if (!hs->busy || !hs->taken || hs->seq != call->seq)
        return error_set(err, EINVAL, "answering a host call: slot %u holds no taken call",
                         call->slot);
    if (out_len > hs->out_cap)
        return error_set(err, EMSGSIZE, "answering host call %u: %zu bytes exceed the guest's %u",
                         hs->id, out_len, hs->out_cap);
    free(hs->in);
    hs->in = NULL;
    hs->busy = false;
    hs->taken = false;
    if (ch->state != CHAN_OPEN)
        return chan_ended(ch, err);
    answer(ch, call->slot, 0, result, out, out_len, hs->seq);
    return 0;
}
