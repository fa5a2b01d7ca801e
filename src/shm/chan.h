/* SPDX-License-Identifier: MIT */
/*
 * chan.h: the host channel's private state, shared by channel.c (the object,
 * its fds, serving and waiting, rings) and hostcall.c (slots, built-in and
 * registered host functions).
 */
#ifndef SBVM_SHM_CHAN_H
#define SBVM_SHM_CHAN_H

#include <stdbool.h>
#include <stdint.h>

#include "sandboxvm/channel.h"
#include "sandboxvm/guest.h"
#include "shm/ringcore.h"
#include "shm/sync.h"
#include "shm/window.h"

#define CHAN_MAX_RINGS 62u /* what fits the ring table in the first 4 KiB page */
#define CHAN_MAX_SLOTS 64u

struct call_entry {
    uint32_t id;
    sbvm_hostcall_fn fn; /* NULL: deferred */
    void *userdata;
};

struct sbvm_channel_config {
    uint64_t initial, max;
    uint32_t nslots, slot_size, max_rings;
    uint64_t max_ring_cap;
    struct shm_spin spin;
    struct call_entry *calls; /* sorted by id */
    size_t ncalls;
    sbvm_channel_log_fn log;
    void *log_ud;
};

/* The host's private view of one slot. */
struct hslot {
    bool busy;  /* a deferred call waits for its answer: do not look at the slot */
    bool taken; /* ... and the caller took it with call_next() */
    uint32_t id, out_cap;
    uint64_t seq, order;
    void *in; /* private copy of the argument */
    size_t in_len;
};

struct hring {
    struct ring_end end;
    unsigned dir;
    bool blocked;   /* a host write found it full */
    uint64_t noted; /* the guest's index when serving last looked (unchecked) */
};

struct region {
    uint64_t off, len;
};

enum { CHAN_OPEN = 0, CHAN_ENDED };

struct sbvm_channel {
    struct sbvm_channel_config cfg;
    struct window win;
    int efd, sock, guest_sock, pidfd, epfd, timerfd;
    /* The window's parts, at the offsets of the host's own layout. */
    struct sbvm_window_ctl *ctl;
    struct sbvm_slot *slots;
    uint8_t *slot_data;
    struct hslot *hs;
    struct hring rings[CHAN_MAX_RINGS];
    unsigned nrings;
    struct region *regions;
    size_t nregions;
    int state, end_code;
    char why[256];
    bool hello, hello_reported, new_rings;
    uint32_t guest_abi;
    uint64_t order;
    uint8_t *scratch_in, *scratch_out; /* slot_size each */
    /* Doorbell flood control. */
    uint32_t spurious_run;
    bool muted;     /* event loop: the eventfd is out of the epoll set */
    bool self_rung; /* the eventfd's count includes our own write */
    int64_t futex_muted_until, mute_ns;
    int kicked; /* __atomic: another host thread asks a waiter to look at the fds */
    struct sbvm_channel_stats st;
    void *userdata;
};

/* Ends the channel (first reason wins): the guest is told (host_state), woken,
 * and nothing in the window is read again. Returns -code. */
int chan_end(struct sbvm_channel *ch, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* -end_code with *err set to the reason, for every call after the end. */
int chan_ended(const struct sbvm_channel *ch, sbvm_error **err);

/* Wakes guest threads asleep on guest_bell, when there are any. */
void chan_wake_guest(struct sbvm_channel *ch);

/* hostcall.c: answers what waits in the slots (one pass); events or -errno. */
int chan_serve_slots(struct sbvm_channel *ch);
/* Whether a slot holds a request the host has not looked at (a hint). */
bool chan_slots_pending(const struct sbvm_channel *ch);
/* Frees deferred calls' copies. */
void chan_slots_release(struct sbvm_channel *ch);

/* channel.c: rings and regions, for the built-in calls. */
int chan_ring_create(struct sbvm_channel *ch, unsigned dir, uint64_t capacity, uint32_t max_msg,
                     char *why, size_t whylen);
int64_t chan_region_create(struct sbvm_channel *ch, uint64_t len);
int chan_grow(struct sbvm_channel *ch, uint64_t size);

/*
 * For the fuzzer: a channel over private memory, with no fds. The guest-
 * writable parts of its window are the fuzzer's to fill (chan_window()).
 */
int chan_new_private(const sbvm_channel_config *cfg, sbvm_channel **out, sbvm_error **err);
struct window *chan_window(sbvm_channel *ch);

#endif
