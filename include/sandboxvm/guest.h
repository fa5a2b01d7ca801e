/* SPDX-License-Identifier: MIT */
/*
 * guest.h: the sandboxvm guest SDK and the ABI of the host channel.
 *
 * Self-contained: a guest program includes this header alone and links the
 * static library libsbvm-guest.a (C11, Linux, libc only). It never needs
 * sandboxvm.h.
 *
 * The host channel is a shared window (a memfd mapped by host and guest)
 * holding host-call slots, single-producer single-consumer rings and
 * doorbells. A guest finds it on its own: the host passes a unix socket as
 * an inherited fd and names it in the environment (SBVM_CHANNEL=<fd>);
 * sbvm_hello() reads the window and the doorbell fds from that socket, maps
 * the window and greets the host. A program run without a channel still
 * runs; every function below then returns -ENOTCONN, and
 * sbvm_strerror(-ENOTCONN) says why in words.
 *
 * Conventions:
 *  - Every function returns 0 (or a non-negative count) on success and a
 *    negative errno on failure; sbvm_strerror() describes the channel's own
 *    errors better than strerror() can.
 *  - Host calls may be made from any number of threads at once (each takes
 *    its own slot). A ring has one producer and one consumer: at most one
 *    guest thread pushes to (or pops from) a given ring at a time.
 *  - After sbvm_hello() the SDK keeps the channel for the whole process; it
 *    does not survive exec (its fds are close-on-exec) and a forked child
 *    must not use it.
 *
 * The rest of this header is the window's layout, shared with the host
 * (docs/CHANNEL.md explains the protocol, its memory ordering and the ABI
 * rules). Every position in the window is an offset from its start, never a
 * pointer: the two sides map it at different addresses.
 */
#ifndef SANDBOXVM_GUEST_H
#define SANDBOXVM_GUEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SBVM_GUEST_API __attribute__((visibility("default")))
#else
#define SBVM_GUEST_API
#endif

/* ------------------------------------------------------------------------ */
/* ABI version                                                              */

/*
 * The major version changes when an existing structure or meaning changes;
 * host and guest must agree on it exactly. The minor version grows when
 * something is appended (a field taken from a reserved one, a new built-in
 * call); the side with the lower minor simply does not use what it does not
 * know, so any minor of the same major works together.
 */
#define SBVM_ABI_MAJOR   1
#define SBVM_ABI_MINOR   0
#define SBVM_ABI_VERSION ((uint32_t)SBVM_ABI_MAJOR << 16 | (uint32_t)SBVM_ABI_MINOR)

/*
 * How a waiter spends its time before it sleeps, unless told otherwise:
 * busy polling for SBVM_DEFAULT_SPIN_NS (skipped when the peer last ran on
 * the waiter's own CPU: polling there only keeps the peer from running),
 * then SBVM_DEFAULT_YIELDS sched_yield() calls, then the futex
 * (docs/CHANNEL.md: how they were measured).
 */
#define SBVM_DEFAULT_SPIN_NS 50000u
#define SBVM_DEFAULT_YIELDS  8u

/* The environment variable naming the inherited channel socket. */
#define SBVM_CHANNEL_ENV "SBVM_CHANNEL"

/* ------------------------------------------------------------------------ */
/* The window's layout                                                      */

/* "SBVMWIN1" read as a little-endian 64-bit number. */
#define SBVM_WINDOW_MAGIC UINT64_C(0x314e49574d564253)

/*
 * Offset 0: the header, then the ring table, in the window's first page.
 * Only the host writes here; the host keeps its own copy, never reads this
 * one back, and ends the channel if the guest changes a byte of it.
 */
struct sbvm_window_header {
    uint64_t magic;         /* SBVM_WINDOW_MAGIC */
    uint16_t abi_major;     /* the host's SBVM_ABI_MAJOR */
    uint16_t abi_minor;     /* the host's SBVM_ABI_MINOR */
    uint32_t header_size;   /* sizeof(struct sbvm_window_header) */
    uint64_t size;          /* bytes of the window, now; grows, never shrinks */
    uint64_t max_size;      /* the most it may grow to (the host's limit) */
    uint32_t page_size;     /* every region below is aligned to it */
    uint32_t flags;         /* none defined yet: 0 */
    uint64_t ctl_off;       /* struct sbvm_window_ctl */
    uint64_t slots_off;     /* nslots x struct sbvm_slot */
    uint64_t slot_data_off; /* nslots x slot_size bytes: each slot's bounce buffer */
    uint32_t nslots;        /* host-call slots */
    uint32_t slot_size;     /* bytes of one slot's bounce buffer */
    uint64_t rings_off;     /* max_rings x struct sbvm_ring_desc */
    uint32_t max_rings;     /* descriptors in the ring table */
    uint32_t nrings;        /* of which in use (ids 0 .. nrings-1) */
    uint64_t heap_off;      /* rings and regions the host hands out start here */
    uint64_t heap_end;      /* ... and end here (the next allocation's offset) */
    uint64_t reserved[3];   /* 0 */
};

/* Doorbells and the host's state, in three cache lines. */
struct sbvm_window_ctl {
    /* Guest to host. The guest adds 1 to host_bell and wakes the host when
     * host_wait is set (bit 0: the host sleeps on host_bell, a futex;
     * bit 1: the host's event loop wants the eventfd written). */
    uint32_t host_bell;
    uint32_t host_wait;
    uint32_t guest_cpu; /* guest: the CPU its last waiter ran on (a hint) */
    uint8_t pad0[52];
    /* Host to guest. guest_wait counts guest threads asleep on guest_bell;
     * when it is non-zero the host adds 1 to guest_bell and wakes them. */
    uint32_t guest_bell;
    uint32_t guest_wait;
    uint8_t pad1[56];
    /* SBVM_HOST_OPEN, or why the host stopped answering. */
    uint32_t host_state;
    uint32_t host_cpu; /* host: the CPU its last wait ran on (a hint) */
    uint8_t pad3[56];
};

#define SBVM_HOST_WAIT_FUTEX 1u /* host_wait: asleep on host_bell */
#define SBVM_HOST_WAIT_LOOP  2u /* host_wait: write the eventfd */

#define SBVM_HOST_OPEN   0u /* serving */
#define SBVM_HOST_CLOSED 1u /* the host closed the channel */
#define SBVM_HOST_BROKEN 2u /* the host ended it: the guest broke the protocol */

/*
 * A host-call slot. The guest claims a FREE slot (FREE -> CLAIMED with a
 * compare-and-swap), writes id, lengths, seq and its argument bytes into the
 * slot's bounce buffer, and stores REQUEST (release). The host copies the
 * request out, runs the function, writes the answer bytes into the same
 * bounce buffer, then status, result, out_len, ans_seq, and stores ANSWER
 * (release); the guest reads it and stores FREE. The state word is the
 * futex the guest sleeps on (after setting guest_wait).
 */
struct sbvm_slot {
    uint32_t state;      /* SBVM_SLOT_* */
    uint32_t guest_wait; /* guest: non-zero while asleep on state */
    uint32_t id;         /* guest: the function */
    uint32_t in_len;     /* guest: argument bytes in the bounce buffer */
    uint32_t out_cap;    /* guest: the most answer bytes it takes */
    int32_t status;      /* host: 0, or a negative errno from the channel */
    int32_t result;      /* host: the function's own result (when status is 0) */
    uint32_t out_len;    /* host: answer bytes in the bounce buffer */
    uint64_t seq;        /* guest: the call's number */
    uint64_t ans_seq;    /* host: the seq this answer is for */
    uint8_t pad[16];
};

#define SBVM_SLOT_FREE    0u
#define SBVM_SLOT_CLAIMED 1u
#define SBVM_SLOT_REQUEST 2u
#define SBVM_SLOT_ANSWER  3u

/* Ring directions. */
#define SBVM_RING_TO_HOST  1u /* the guest produces, the host consumes */
#define SBVM_RING_TO_GUEST 2u /* the host produces, the guest consumes */

/* An entry of the ring table (host-written, like the header). */
struct sbvm_ring_desc {
    uint32_t id;       /* its index in the table */
    uint32_t dir;      /* SBVM_RING_TO_HOST or SBVM_RING_TO_GUEST */
    uint64_t ctl_off;  /* struct sbvm_ring_ctl */
    uint64_t data_off; /* capacity bytes */
    uint64_t capacity; /* a power of two, at least 64 */
    uint32_t max_msg;  /* the largest message, bytes */
    uint32_t flags;    /* 0 */
    uint64_t reserved[3];
};

/*
 * A ring's indices: free-running byte counts that only grow. The producer
 * owns head, the consumer owns tail; each side reads the other's index once
 * per operation into a local and checks it: tail <= head <= tail + capacity,
 * both multiples of 8, neither moving backwards.
 */
struct sbvm_ring_ctl {
    uint64_t head;      /* bytes ever published by the producer */
    uint32_t prod_wait; /* producer: it found the ring full and waits for room;
                           the consumer clears it and rings after taking a message */
    uint8_t pad0[52];
    uint64_t tail; /* bytes ever consumed by the consumer */
    uint8_t pad1[56];
};

/*
 * A message in a ring's data: this header, then len bytes, then padding to
 * a multiple of 8. A message may wrap around the end of the data area.
 */
struct sbvm_ring_rec {
    uint32_t len; /* payload bytes, at most max_msg */
    uint32_t tag; /* the producer's own, passed through */
};

#define SBVM_RING_ALIGN   8u
#define SBVM_RING_MIN_CAP 64u

/* Built-in host calls; ids below SBVM_CALL_USER are reserved. */
#define SBVM_CALL_HELLO  1u /* in: struct sbvm_hello_in; out: struct sbvm_hello_out */
#define SBVM_CALL_LOG    2u /* in: struct sbvm_log_in, then the text */
#define SBVM_CALL_RING   3u /* in: struct sbvm_ring_in; out: struct sbvm_ring_out */
#define SBVM_CALL_GROW   4u /* in: struct sbvm_grow_in; out: struct sbvm_grow_out */
#define SBVM_CALL_REGION 5u /* in: struct sbvm_region_in; out: struct sbvm_region_out */
#define SBVM_CALL_USER   256u

struct sbvm_hello_in {
    uint32_t abi;   /* the guest's SBVM_ABI_VERSION */
    uint32_t flags; /* 0 */
};
struct sbvm_hello_out {
    uint32_t abi;   /* what the host speaks: its major, min(minors) */
    uint32_t flags; /* 0 */
};

struct sbvm_log_in {
    uint32_t level; /* SBVM_LOG_* */
    uint32_t len;   /* text bytes that follow (no NUL needed) */
};
#define SBVM_LOG_ERROR 3u
#define SBVM_LOG_WARN  4u
#define SBVM_LOG_INFO  6u
#define SBVM_LOG_DEBUG 7u

struct sbvm_ring_in {
    uint32_t dir;      /* SBVM_RING_* */
    uint32_t max_msg;  /* wanted: the largest message (0: the host picks) */
    uint64_t capacity; /* wanted: bytes of data (rounded up to a power of two) */
};
struct sbvm_ring_out {
    uint32_t id; /* its entry in the ring table */
    uint32_t pad;
};

struct sbvm_grow_in {
    uint64_t size; /* wanted size of the whole window */
};
struct sbvm_grow_out {
    uint64_t size; /* its size now */
};

struct sbvm_region_in {
    uint64_t size; /* bytes wanted (rounded up to pages) */
};
struct sbvm_region_out {
    uint64_t offset; /* where it starts in the window */
    uint64_t size;   /* its size */
};

/* The message the host sends on the channel socket at once, with the window
 * memfd and the doorbell eventfd attached (SCM_RIGHTS, in that order). */
struct sbvm_boot {
    uint64_t magic; /* SBVM_WINDOW_MAGIC */
    uint32_t abi;   /* the host's SBVM_ABI_VERSION */
    uint32_t pad;
    uint64_t size;     /* the window's size when it was sent */
    uint64_t max_size; /* its limit */
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__cplusplus)
_Static_assert(sizeof(struct sbvm_window_header) == 128, "ABI: window header");
_Static_assert(sizeof(struct sbvm_window_ctl) == 192, "ABI: window ctl");
_Static_assert(sizeof(struct sbvm_slot) == 64, "ABI: slot");
_Static_assert(sizeof(struct sbvm_ring_desc) == 64, "ABI: ring descriptor");
_Static_assert(sizeof(struct sbvm_ring_ctl) == 128, "ABI: ring indices");
_Static_assert(sizeof(struct sbvm_ring_rec) == 8, "ABI: ring record");
_Static_assert(sizeof(struct sbvm_boot) == 32, "ABI: boot message");
#endif

/* ------------------------------------------------------------------------ */
/* The SDK                                                                  */

/*
 * Finds the channel (SBVM_CHANNEL), maps the window and greets the host with
 * the guest's ABI version (pass SBVM_ABI_VERSION). Consumes SBVM_CHANNEL from
 * the environment. Errors: -ENOTCONN (no channel offered), -EBADF (the
 * variable does not name an open socket), -EPROTO (not a sandboxvm channel,
 * or one already used), -EPROTONOSUPPORT (the host speaks another major
 * version), -EALREADY (already greeted).
 */
SBVM_GUEST_API int sbvm_hello(uint32_t abi);
/* The same, with the socket's fd given instead of found in the environment. */
SBVM_GUEST_API int sbvm_hello_fd(int fd, uint32_t abi);
/* 1 when the channel is up, else 0. */
SBVM_GUEST_API int sbvm_connected(void);
/* The window's size and limit, and the host's slot count and slot size. */
SBVM_GUEST_API int sbvm_window_info(uint64_t *size, uint64_t *max_size, uint32_t *nslots,
                                    uint32_t *slot_size);
/* Unmaps the window and closes the channel's fds. Safe when not connected;
 * no other thread may be using the channel meanwhile. */
SBVM_GUEST_API void sbvm_goodbye(void);

/*
 * Calls host function `id` (SBVM_CALL_USER or above, as registered by the
 * host) with in_len argument bytes, and waits for the answer. On 0 the host
 * answered: *result is the function's own result and *out_len (when not
 * NULL) the answer bytes copied to out (at most out_cap). On a negative
 * errno the call itself failed: -ENOSYS (no such function), -E2BIG (the
 * argument exceeds the slot size), -EMSGSIZE (the answer did not fit
 * out_cap), -ETIMEDOUT (see sbvm_set_timeout; the slot stays taken until the
 * late answer arrives), -ECONNRESET (the host closed the channel), -EPIPE
 * (the host died), -EPROTO (the host broke the protocol or ended it).
 */
SBVM_GUEST_API int sbvm_hostcall(uint32_t id, const void *in, size_t in_len, void *out,
                                 size_t out_cap, size_t *out_len, int32_t *result);

/* A line for the host's log (level SBVM_LOG_*); longer text is cut. */
SBVM_GUEST_API int sbvm_log(unsigned level, const char *msg);
SBVM_GUEST_API int sbvm_logf(unsigned level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Asks the host for a ring: dir is SBVM_RING_TO_HOST or SBVM_RING_TO_GUEST,
 * capacity the bytes of data wanted (a power of two is used, at least 64),
 * max_msg the largest message (0: capacity / 2). Returns the ring's id
 * (>= 0). The host may refuse (-ENOSPC: no room under its limits, -EINVAL).
 */
SBVM_GUEST_API int sbvm_ring_negotiate(unsigned dir, size_t capacity, size_t max_msg);
/* Attaches to a ring the host added itself (sbvm_channel_ring_add()). */
SBVM_GUEST_API int sbvm_ring_open(int ring);
/* The id's direction, capacity and largest message. */
SBVM_GUEST_API int sbvm_ring_info(int ring, unsigned *dir, size_t *capacity, size_t *max_msg);

#define SBVM_NONBLOCK 1u /* return -EAGAIN instead of waiting */

/*
 * Pushes one message (to a TO_HOST ring) and rings the host's doorbell when
 * it waits. Waits for room unless SBVM_NONBLOCK. -EMSGSIZE when len exceeds
 * the ring's max_msg.
 */
SBVM_GUEST_API int sbvm_ring_push(int ring, const void *msg, size_t len, uint32_t tag,
                                  unsigned flags);
/*
 * Pops one message (from a TO_GUEST ring) into buf and returns its length.
 * Waits for one unless SBVM_NONBLOCK. -EMSGSIZE when it does not fit cap
 * (the message stays; *tag is unchanged).
 */
SBVM_GUEST_API long sbvm_ring_pop(int ring, void *buf, size_t cap, uint32_t *tag, unsigned flags);

/* Rings the host's doorbell (the push and call functions do it themselves). */
SBVM_GUEST_API int sbvm_doorbell(void);
/*
 * Sleeps until the host rings the guest's doorbell or timeout_ns passes
 * (< 0: no limit). 0 when rung, -ETIMEDOUT, or the channel's end.
 */
SBVM_GUEST_API int sbvm_wait(int64_t timeout_ns);

/*
 * Asks the host to grow the window to at least `size` bytes; *new_size (when
 * not NULL) gets the size it has now. -ENOSPC beyond the host's limit (the
 * window stays as it was and keeps working).
 */
SBVM_GUEST_API int sbvm_grow(uint64_t size, uint64_t *new_size);

/*
 * Asks the host for a region of the window of at least `size` bytes, for the
 * guest's own use (bounce buffers, DMA memory): the guest names bytes in it
 * to the host by window offset (*offset) and the host copies them with
 * sbvm_channel_copy_from(). Returns its address in this process, or NULL
 * with errno set (ENOSPC beyond the host's limit, ENOTCONN).
 */
SBVM_GUEST_API void *sbvm_region_alloc(size_t size, uint64_t *offset);

/*
 * How a wait spins before it sleeps: spin_ns of busy polling, then `yields`
 * sched_yield() calls, then a futex. 0 and 0 sleep at once. The default
 * comes from SBVM_SPIN_NS / SBVM_YIELDS in the environment when set, else
 * docs/CHANNEL.md's measured defaults.
 */
SBVM_GUEST_API void sbvm_set_spin(uint64_t spin_ns, unsigned yields);
/* A limit for each host call's wait (< 0: none, the default). */
SBVM_GUEST_API void sbvm_set_timeout(int64_t timeout_ns);

/* Words for an SDK error (a negative errno); never NULL. */
SBVM_GUEST_API const char *sbvm_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
