/* SPDX-License-Identifier: MIT */
/*
 * channel.h: the host channel, host side. A shared window (a sealed memfd)
 * with host-call slots, single-producer single-consumer message rings and
 * doorbells, offered to a guest that links the guest SDK
 * (sandboxvm/guest.h). docs/CHANNEL.md describes the window and protocol.
 *
 * Conventions are sandboxvm.h's: 0 (or a non-negative value) on success, a
 * negative errno on failure with *err filled when err is not NULL; opaque
 * objects, `_new` / `_free`; nothing prints, exits or installs handlers.
 *
 * Trust: every byte of the window is writable by the guest and treated as
 * hostile. The host keeps its own copy of everything it relies on (layout,
 * indices it owns, its half of each ring), reads each guest-written value
 * once, bounds it, and copies guest bytes into private memory before it
 * looks at them. A guest that breaks the protocol (scribbles on the header,
 * moves a ring index backwards or past the end, lies about a length) ends
 * its own channel: the next call here returns -EPROTO with the reason in
 * words, and nothing else is affected.
 *
 * Threads: a channel is used by one thread at a time; one thread may serve
 * any number of channels (each has its own pollable fd, and no call here
 * blocks unless it says so). Host functions run on that thread.
 *
 * Two ways to serve a channel:
 *  - An event loop: register sbvm_channel_fd() for reading (EPOLLIN) and
 *    call sbvm_channel_service() whenever it is readable, then act on what
 *    it reports.
 *  - Blocking, for a thread that waits on one guest (a library call's
 *    run loop): sbvm_channel_wait() spins, then sleeps on the window's futex,
 *    and returns as soon as there is something for the caller: a message, a
 *    deferred host call (SBVM_CHANNEL_EV_CALL, the "hostcall" exit of a run
 *    loop: take it with sbvm_channel_call_next(), answer it, wait again), or
 *    the end of the channel.
 */
#ifndef SANDBOXVM_CHANNEL_H
#define SANDBOXVM_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/sandboxvm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sbvm_channel sbvm_channel;
typedef struct sbvm_channel_config sbvm_channel_config;

/* ------------------------------------------------------------------------ */
/* Host functions                                                           */

/* Ids below this are the channel's own (hello, log, rings, growth). */
#define SBVM_CHANNEL_CALL_USER 256u

/*
 * A host function. `in` is a private copy of the guest's argument bytes
 * (in_len of them, at most the slot size): hostile content, but it cannot
 * change under the function. The function writes at most out_cap bytes to
 * `out` and their count to *out_len (0 when it writes none); a count above
 * out_cap answers the guest -EMSGSIZE instead. The return value reaches the
 * guest as the call's result, unchanged. A host function may read and write
 * its channel's rings, but must not call service(), wait() or free() on it.
 */
typedef int32_t (*sbvm_hostcall_fn)(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len,
                                    void *out, size_t out_cap, size_t *out_len, void *userdata);

/* A guest's sbvm_log() line: `len` bytes of hostile text, not terminated. */
typedef void (*sbvm_channel_log_fn)(sbvm_channel *ch, unsigned level, const char *text, size_t len,
                                    void *userdata);

/* ------------------------------------------------------------------------ */
/* Configuration: limits and host functions, shared by many channels        */

/* NULL only when out of memory. */
SBVM_API sbvm_channel_config *sbvm_channel_config_new(void);
SBVM_API void sbvm_channel_config_free(sbvm_channel_config *cfg);

/*
 * The window's initial size and the most a guest may grow it to (bytes,
 * rounded up to pages). initial is raised to the smallest size that holds
 * the slots; max must be at least initial and at most 1 TiB (it is reserved
 * as address space, not memory). Default 1 MiB and 64 MiB.
 */
SBVM_API int sbvm_channel_config_set_window(sbvm_channel_config *cfg, uint64_t initial,
                                            uint64_t max, sbvm_error **err);
/*
 * Host-call slots: how many calls a guest may have in flight (1..64) and
 * each slot's bounce buffer (64 B .. 16 MiB, rounded up to 64): the largest
 * argument and the largest answer. Default 4 and 64 KiB.
 */
SBVM_API int sbvm_channel_config_set_slots(sbvm_channel_config *cfg, unsigned nslots,
                                           size_t slot_size, sbvm_error **err);
/* Rings: at most max_rings (0..62) of at most max_capacity bytes of data
 * each (64 B .. 1 GiB). Default 16 and 16 MiB. */
SBVM_API int sbvm_channel_config_set_rings(sbvm_channel_config *cfg, unsigned max_rings,
                                           uint64_t max_capacity, sbvm_error **err);
/*
 * How sbvm_channel_wait() waits: spin_ns of busy polling, then `yields`
 * sched_yield() calls, then the futex. 0, 0 sleeps at once. The default and
 * the figures behind it are in docs/CHANNEL.md.
 */
SBVM_API void sbvm_channel_config_set_spin(sbvm_channel_config *cfg, uint64_t spin_ns,
                                           unsigned yields);
/*
 * Registers host function `id` (>= SBVM_CHANNEL_CALL_USER); registering an
 * id again replaces it. With fn NULL the call is deferred: service() and
 * wait() report SBVM_CHANNEL_EV_CALL and the caller takes it with
 * sbvm_channel_call_next(). A call to an id nobody registered answers the
 * guest -ENOSYS.
 */
SBVM_API int sbvm_channel_config_add_call(sbvm_channel_config *cfg, uint32_t id,
                                          sbvm_hostcall_fn fn, void *userdata, sbvm_error **err);
/* Where sbvm_log() lines go; without one they are counted and dropped. */
SBVM_API void sbvm_channel_config_set_log(sbvm_channel_config *cfg, sbvm_channel_log_fn fn,
                                          void *userdata);

/* ------------------------------------------------------------------------ */
/* A channel                                                                */

/*
 * Creates a channel from cfg (copied: later changes to cfg do not reach it):
 * the window, its doorbell eventfd, and the socket pair whose guest end is
 * handed to the guest. The window and eventfd are already queued on the
 * socket for the guest's sbvm_hello().
 */
SBVM_API int sbvm_channel_new(const sbvm_channel_config *cfg, sbvm_channel **out, sbvm_error **err);
/* Tells the guest the host closed the channel (its calls return
 * -ECONNRESET), then unmaps and closes everything. NULL is fine. */
SBVM_API void sbvm_channel_free(sbvm_channel *ch);

/*
 * The guest's end of the channel socket (close-on-exec, owned by the
 * channel). Give it to the guest as an inherited fd and name it in the
 * guest's environment as SBVM_CHANNEL=<fd number in the guest>; then call
 * sbvm_channel_close_guest_fd() so that the host holds no copy: only then
 * does the guest's death hang up the socket.
 */
SBVM_API int sbvm_channel_guest_fd(const sbvm_channel *ch);
SBVM_API void sbvm_channel_close_guest_fd(sbvm_channel *ch);
/* Watches a pidfd of the guest process too (dup'ed): its exit ends the
 * channel even when the socket lives on in another process. */
SBVM_API int sbvm_channel_set_peer_pidfd(sbvm_channel *ch, int pidfd, sbvm_error **err);

/* From another thread of the host: a thread in sbvm_channel_wait() on this
 * channel (or the next to call it) looks at the guest's socket and pidfd at
 * once, not at its next liveness check (tens of ms), and returns: -EPIPE
 * when the guest is gone, else 0 as if its time were up. For an owner that
 * learns of the guest's end another way (its parent reported it). */
SBVM_API void sbvm_channel_kick(sbvm_channel *ch);

/* Changes this channel's spin policy (as sbvm_channel_config_set_spin()). */
SBVM_API void sbvm_channel_set_spin(sbvm_channel *ch, uint64_t spin_ns, unsigned yields);

/* Arbitrary pointer for host functions and loops; not touched. */
SBVM_API void sbvm_channel_set_userdata(sbvm_channel *ch, void *userdata);
SBVM_API void *sbvm_channel_userdata(const sbvm_channel *ch);

/* ------------------------------------------------------------------------ */
/* Serving                                                                  */

/*
 * What service() and wait() report (a bit mask). EV_CALL is reported for as
 * long as a deferred call waits to be taken; the others once per change:
 * after EV_READ, read each TO_HOST ring until -EAGAIN, since messages left
 * unread are not reported again until the guest sends more (a guest must
 * not be able to keep its host busy with a ring the host does not read).
 */
#define SBVM_CHANNEL_EV_HELLO 0x01 /* the guest said hello */
#define SBVM_CHANNEL_EV_CALL  0x02 /* deferred host calls wait: sbvm_channel_call_next() */
#define SBVM_CHANNEL_EV_READ  0x04 /* a TO_HOST ring received messages */
#define SBVM_CHANNEL_EV_WRITE 0x08 /* a TO_GUEST ring that was full has room again */
#define SBVM_CHANNEL_EV_RINGS 0x10 /* the guest negotiated a new ring */

/* The fd to poll for reading (an epoll fd of the eventfd, socket, pidfd). */
SBVM_API int sbvm_channel_fd(const sbvm_channel *ch);

/*
 * Does what is pending without blocking: answers host calls (at most one per
 * slot per call, so one guest cannot monopolise the thread), notices hang-ups
 * and a guest that floods the doorbell (muted for a while), and returns what
 * the caller should look at (SBVM_CHANNEL_EV_*; 0 when nothing). When the
 * channel has ended: -EPIPE (the guest died or hung up), -EPROTO (the guest
 * broke the protocol; *err says how), every time it is called.
 */
SBVM_API int sbvm_channel_service(sbvm_channel *ch, sbvm_error **err);

/*
 * Like service(), but waits up to timeout_ns (< 0: no limit) for something
 * to report. 0 when the time ran out. Spins first (the config's spin), then
 * sleeps on the futex, waking at least every 20 ms to check that the guest
 * lives. For one thread waiting on one guest; an event loop uses service().
 */
SBVM_API int sbvm_channel_wait(sbvm_channel *ch, int64_t timeout_ns, sbvm_error **err);

/* A deferred host call, taken by sbvm_channel_call_next(). */
struct sbvm_channel_call {
    uint32_t id;    /* the function */
    uint32_t slot;  /* which slot: pass the struct back to call_answer() */
    const void *in; /* private copy of the argument; valid until answered */
    size_t in_len;
    size_t out_cap; /* the most answer bytes the guest takes */
    uint64_t seq;   /* the guest's call number (for logs) */
};

/* Takes the oldest deferred call not yet taken: 1 and *call filled, or 0. */
SBVM_API int sbvm_channel_call_next(sbvm_channel *ch, struct sbvm_channel_call *call);
/* Answers a taken call with `result` and out_len bytes (<= call->out_cap). */
SBVM_API int sbvm_channel_call_answer(sbvm_channel *ch, const struct sbvm_channel_call *call,
                                      int32_t result, const void *out, size_t out_len,
                                      sbvm_error **err);

/* ------------------------------------------------------------------------ */
/* Rings                                                                    */

/* How many rings exist (ids 0 .. count-1), negotiated or added. */
SBVM_API int sbvm_channel_ring_count(const sbvm_channel *ch);
/* A ring's direction (SBVM_RING_TO_HOST / _TO_GUEST from guest.h: 1 / 2),
 * capacity and largest message. -ENOENT for an unknown id. */
SBVM_API int sbvm_channel_ring_info(const sbvm_channel *ch, int ring, unsigned *dir,
                                    uint64_t *capacity, uint32_t *max_msg);
/*
 * Adds a ring from the host's side (the guest opens it by id with
 * sbvm_ring_open()). capacity and max_msg as for the guest's negotiation.
 * The ring's id, or -ENOSPC / -EINVAL.
 */
SBVM_API int sbvm_channel_ring_add(sbvm_channel *ch, unsigned dir, uint64_t capacity,
                                   uint32_t max_msg, sbvm_error **err);
/*
 * Takes one message from a TO_HOST ring into buf (a private copy) and
 * returns its length; *tag (when not NULL) gets the guest's tag. -EAGAIN
 * when the ring is empty; -EMSGSIZE when the message exceeds cap (it stays;
 * the ring's max_msg always fits); -EPROTO / -EPIPE when the channel ended.
 */
SBVM_API long sbvm_channel_ring_read(sbvm_channel *ch, int ring, void *buf, size_t cap,
                                     uint32_t *tag, sbvm_error **err);
/*
 * Puts one message into a TO_GUEST ring and wakes the guest if it sleeps.
 * -EAGAIN when it is full (never blocks: a guest that does not consume
 * cannot stall the host; service() reports SBVM_CHANNEL_EV_WRITE once room
 * appears), -EMSGSIZE above max_msg.
 */
SBVM_API int sbvm_channel_ring_write(sbvm_channel *ch, int ring, const void *msg, size_t len,
                                     uint32_t tag, sbvm_error **err);

/*
 * Copies bytes of a region the guest obtained with sbvm_region_alloc(),
 * named by its window offset, into private memory (or back). The range must
 * lie inside one region the host handed out; -EFAULT otherwise.
 */
SBVM_API int sbvm_channel_copy_from(sbvm_channel *ch, uint64_t offset, void *dst, size_t len,
                                    sbvm_error **err);
SBVM_API int sbvm_channel_copy_to(sbvm_channel *ch, uint64_t offset, const void *src, size_t len,
                                  sbvm_error **err);

/* ------------------------------------------------------------------------ */
/* State                                                                    */

/* Why the channel ended, in words; NULL while it is open. */
SBVM_API const char *sbvm_channel_error(const sbvm_channel *ch);
/* The ABI version the guest said hello with (0 before hello). */
SBVM_API uint32_t sbvm_channel_guest_abi(const sbvm_channel *ch);
/* The window's size now. */
SBVM_API uint64_t sbvm_channel_window_size(const sbvm_channel *ch);
/* The most the window may grow to: what the guest reserves as address
 * space at hello. */
SBVM_API uint64_t sbvm_channel_window_max(const sbvm_channel *ch);

struct sbvm_channel_stats {
    uint64_t calls;                       /* host calls answered (built-in ones included) */
    uint64_t call_errors;                 /* of which answered with an error of the channel's */
    uint64_t msgs_read, bytes_read;       /* from TO_HOST rings */
    uint64_t msgs_written, bytes_written; /* to TO_GUEST rings */
    uint64_t wakeups;                     /* times the guest's doorbell woke the host */
    uint64_t spurious;                    /* of which found nothing to do */
    uint64_t muted;                       /* times the doorbell was muted for flooding */
    uint64_t grows;                       /* times the window grew */
    uint64_t logs_dropped;
};
SBVM_API void sbvm_channel_stats(const sbvm_channel *ch, struct sbvm_channel_stats *st);

#ifdef __cplusplus
}
#endif

#endif
