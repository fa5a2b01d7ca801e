/* SPDX-License-Identifier: MIT */
/*
 * guest.c: the guest SDK (libsbvm-guest.a): finding the channel, mapping
 * the window, host calls through the slots, rings, doorbells and waiting.
 *
 * The guest trusts its host, but the SDK still bounds what it reads from
 * the window (offsets inside the mapping, lengths inside the buffers), so
 * that a broken host gives an error rather than a stray access. It only
 * depends on libc: it is linked into programs we do not control, so every
 * helper is static and only the sbvm_* functions of guest.h are exported.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandboxvm/guest.h"
#include "shm/ringcore.h"
#include "shm/sync.h"

#define MAX_RINGS    62u
#define MAX_SLOTS    64u
#define MAX_WINDOW   (UINT64_C(1) << 40)
#define LIVENESS_NS  (20 * 1000 * 1000)
#define DEF_SPIN_NS  SBVM_DEFAULT_SPIN_NS
#define DEF_YIELDS   SBVM_DEFAULT_YIELDS
#define LOG_LINE_MAX 1024

struct gring {
    bool open;
    unsigned dir;
    struct ring_end end;
};

static struct {
    _Atomic int up; /* the channel is usable */
    int sock, memfd, efd;
    uint8_t *base;
    uint64_t mapped, reserve;
    bool shared; /* tests: the host's own mapping, nothing to map or unmap */
    /* The layout, read once at hello and checked against the mapping. */
    uint32_t nslots, slot_size, max_rings;
    uint64_t rings_off;
    struct sbvm_window_ctl *ctl;
    struct sbvm_slot *slots;
    uint8_t *slot_data;
    pthread_mutex_t lock; /* mapping, ring table, hello and goodbye */
    struct gring rings[MAX_RINGS];
    _Atomic uint64_t abandoned; /* slots whose call timed out, by bit */
    _Atomic uint64_t seq;
    struct shm_spin spin;
    int64_t timeout_ns;
} G = {
    .sock = -1,
    .memfd = -1,
    .efd = -1,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .spin = { DEF_SPIN_NS, DEF_YIELDS },
    .timeout_ns = -1,
};

/* ------------------------------------------------------------------------ */
/* Host state and liveness                                                  */

static int host_state_error(void)
{
    switch (shm_load32(&G.ctl->host_state, memory_order_acquire)) {
    case SBVM_HOST_OPEN:
        return 0;
    case SBVM_HOST_CLOSED:
        return -ECONNRESET;
    default:
        return -EPROTO;
    }
}

/* The host's process is gone when its end of the socket hung up. */
static int host_alive(void)
{
    struct pollfd p = { .fd = G.sock, .events = 0 };

    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
        return -EPIPE;
    return host_state_error();
}

static int64_t deadline_after(int64_t timeout_ns)
{
    return timeout_ns < 0 ? INT64_MAX : shm_now_ns() + timeout_ns;
}

/* The next sleep: at most one liveness slice, at most until the deadline.
 * -ETIMEDOUT when the deadline passed. */
static int64_t next_slice(int64_t deadline)
{
    int64_t now = shm_now_ns();

    if (now >= deadline)
        return -ETIMEDOUT;
    return deadline - now < LIVENESS_NS ? deadline - now : LIVENESS_NS;
}

/* Rings the host's doorbell if it asked for it (host_wait), once per ask. */
static void kick_host(void)
{
    uint32_t w;

    shm_fence();
    if (!shm_load32(&G.ctl->host_wait, memory_order_relaxed))
        return;
    w = atomic_exchange_explicit(SHM_A32(&G.ctl->host_wait), 0, memory_order_relaxed);
    if (w & SBVM_HOST_WAIT_FUTEX) {
        atomic_fetch_add_explicit(SHM_A32(&G.ctl->host_bell), 1, memory_order_release);
        shm_futex_wake(&G.ctl->host_bell, 1);
    }
    if (w & SBVM_HOST_WAIT_LOOP) {
        uint64_t one = 1;
        (void)!write(G.efd, &one, sizeof(one));
    }
}

/* ------------------------------------------------------------------------ */
/* Host calls                                                               */

static int slot_answered(void *arg)
{
    return shm_load32(arg, memory_order_acquire) == SBVM_SLOT_ANSWER;
}

/* Takes a free slot (or one whose timed-out call has been answered since). */
static int claim_slot(int64_t deadline)
{
    for (;;) {
        uint64_t ab = atomic_load_explicit(&G.abandoned, memory_order_relaxed);
        int64_t slice;
        int e;

        for (uint32_t i = 0; i < G.nslots; i++) {
            uint32_t st = shm_load32(&G.slots[i].state, memory_order_relaxed);
            uint32_t want = SBVM_SLOT_FREE;
            if (st == SBVM_SLOT_ANSWER && (ab & (UINT64_C(1) << i)))
                want = SBVM_SLOT_ANSWER;
            else if (st != SBVM_SLOT_FREE)
                continue;
            if (atomic_compare_exchange_strong_explicit(SHM_A32(&G.slots[i].state), &want,
                                                        SBVM_SLOT_CLAIMED, memory_order_acquire,
                                                        memory_order_relaxed)) {
                if (want == SBVM_SLOT_ANSWER)
                    atomic_fetch_and(&G.abandoned, ~(UINT64_C(1) << i));
                return (int)i;
            }
        }
        /* Every slot is in use by other threads: rare, so a short sleep. */
        if ((e = host_alive()) < 0)
            return e;
        if ((slice = next_slice(deadline)) < 0)
            return (int)slice;
        struct timespec ts = { 0, 50 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static int wait_answer(struct sbvm_slot *s, int64_t deadline)
{
    if (shm_spin_until(&G.spin, shm_same_cpu(&G.ctl->guest_cpu, &G.ctl->host_cpu), slot_answered,
                       &s->state))
        return 0;
    for (;;) {
        int64_t slice;
        uint32_t st;
        int e, r;

        /* Announce the sleep, then look again (the host stores the state,
         * then looks at guest_wait: one of us sees the other). */
        shm_store32(&s->guest_wait, 1, memory_order_relaxed);
        shm_fence();
        st = shm_load32(&s->state, memory_order_acquire);
        if (st == SBVM_SLOT_ANSWER) {
            shm_store32(&s->guest_wait, 0, memory_order_relaxed);
            return 0;
        }
        if (st != SBVM_SLOT_REQUEST || (e = host_state_error()) < 0) {
            shm_store32(&s->guest_wait, 0, memory_order_relaxed);
            return st != SBVM_SLOT_REQUEST ? -EPROTO : e;
        }
        if ((slice = next_slice(deadline)) < 0) {
            shm_store32(&s->guest_wait, 0, memory_order_relaxed);
            return -ETIMEDOUT;
        }
        r = shm_futex_wait(&s->state, SBVM_SLOT_REQUEST, slice);
        shm_store32(&s->guest_wait, 0, memory_order_relaxed);
        if (slot_answered(&s->state))
            return 0;
        if (r == -ETIMEDOUT && (e = host_alive()) < 0)
            return e;
    }
}

/*
 * One host call whose argument is two parts (a header and data), so that
 * callers need no buffer of their own. The channel must be mapped.
 */
static int call2(uint32_t id, const void *a, size_t alen, const void *b, size_t blen, void *out,
                 size_t out_cap, size_t *out_len, int32_t *result)
{
    int64_t deadline = deadline_after(G.timeout_ns);
    struct sbvm_slot *s;
    uint8_t *buf;
    uint32_t cap, status, olen;
    uint64_t seq;
    int i, e;

    if (alen > G.slot_size || blen > G.slot_size - alen)
        return -E2BIG;
    if ((e = host_state_error()) < 0)
        return e;
    if ((i = claim_slot(deadline)) < 0)
        return i;
    s = &G.slots[i];
    buf = G.slot_data + (size_t)i * G.slot_size;
    if (alen)
        memcpy(buf, a, alen);
    if (blen)
        memcpy(buf + alen, b, blen);
    cap = out_cap < G.slot_size ? (uint32_t)out_cap : G.slot_size;
    seq = atomic_fetch_add(&G.seq, 1) + 1;
    shm_store32(&s->id, id, memory_order_relaxed);
    shm_store32(&s->in_len, (uint32_t)(alen + blen), memory_order_relaxed);
    shm_store32(&s->out_cap, cap, memory_order_relaxed);
    shm_store64(&s->seq, seq, memory_order_relaxed);
    shm_store32(&s->state, SBVM_SLOT_REQUEST, memory_order_release);
    kick_host();
    if ((e = wait_answer(s, deadline)) < 0) {
        if (e == -ETIMEDOUT)
            atomic_fetch_or(&G.abandoned, UINT64_C(1) << i);
        return e;
    }
    status = shm_load32((uint32_t *)&s->status, memory_order_relaxed);
    olen = shm_load32(&s->out_len, memory_order_relaxed);
    if (shm_load64(&s->ans_seq, memory_order_relaxed) != seq) {
        e = -EPROTO;
    } else if ((int32_t)status < 0) {
        e = (int32_t)status;
    } else if (status != 0 || olen > cap) {
        e = -EPROTO;
    } else {
        if (olen)
            memcpy(out, buf, olen);
        if (out_len)
            *out_len = olen;
        if (result)
            *result = (int32_t)shm_load32((uint32_t *)&s->result, memory_order_relaxed);
        e = 0;
    }
    shm_store32(&s->state, SBVM_SLOT_FREE, memory_order_release);
    return e;
}

SBVM_GUEST_API int sbvm_hostcall(uint32_t id, const void *in, size_t in_len, void *out,
                                 size_t out_cap, size_t *out_len, int32_t *result)
{
    if (!atomic_load(&G.up))
        return -ENOTCONN;
    if (id < SBVM_CALL_USER)
        return -EINVAL;
    if ((in_len && !in) || (out_cap && !out))
        return -EFAULT;
    return call2(id, in, in_len, NULL, 0, out, out_cap, out_len, result);
}

/* A built-in call with fixed-size argument and answer. */
static int call_fixed(uint32_t id, const void *in, size_t in_len, void *out, size_t out_len)
{
    size_t got = 0;
    int r = call2(id, in, in_len, NULL, 0, out, out_len, &got, NULL);

    if (r == 0 && got != out_len)
        return -EPROTO;
    return r;
}

SBVM_GUEST_API int sbvm_log(unsigned level, const char *msg)
{
    struct sbvm_log_in li;
    size_t len;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    if (!msg)
        return -EFAULT;
    len = strlen(msg);
    if (len > G.slot_size - sizeof(li))
        len = G.slot_size - sizeof(li);
    li.level = level;
    li.len = (uint32_t)len;
    return call2(SBVM_CALL_LOG, &li, sizeof(li), msg, len, NULL, 0, NULL, NULL);
}

SBVM_GUEST_API int sbvm_logf(unsigned level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    return sbvm_log(level, line);
}

/* ------------------------------------------------------------------------ */
/* The mapping                                                              */

/* Maps the window up to `size` (the host grew it). Under G.lock. */
static int map_upto(uint64_t size)
{
    struct stat st;

    if (size <= G.mapped)
        return 0;
    if (size > G.reserve)
        return -EPROTO;
    if (!G.shared) {
        if (fstat(G.memfd, &st) < 0 || (uint64_t)st.st_size < size)
            return -EPROTO;
        if (mmap(G.base + G.mapped, size - G.mapped, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                 G.memfd, (off_t)G.mapped) == MAP_FAILED)
            return -errno;
    }
    G.mapped = size;
    return 0;
}

/* Catches up with growth the host did on its own (for a ring or region). */
static int sync_size(void)
{
    const struct sbvm_window_header *h = (const void *)G.base;

    return map_upto(shm_load64(&h->size, memory_order_acquire));
}

static bool in_window(uint64_t off, uint64_t len)
{
    return off <= G.mapped && len <= G.mapped - off;
}

SBVM_GUEST_API int sbvm_grow(uint64_t size, uint64_t *new_size)
{
    struct sbvm_grow_in gi = { size };
    struct sbvm_grow_out go;
    int r;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    pthread_mutex_lock(&G.lock);
    r = call_fixed(SBVM_CALL_GROW, &gi, sizeof(gi), &go, sizeof(go));
    if (r == 0)
        r = map_upto(go.size);
    if (new_size)
        *new_size = G.mapped;
    pthread_mutex_unlock(&G.lock);
    return r;
}

SBVM_GUEST_API void *sbvm_region_alloc(size_t size, uint64_t *offset)
{
    struct sbvm_region_in ri = { size };
    struct sbvm_region_out ro;
    void *p = NULL;
    int r;

    if (!atomic_load(&G.up)) {
        errno = ENOTCONN;
        return NULL;
    }
    pthread_mutex_lock(&G.lock);
    r = call_fixed(SBVM_CALL_REGION, &ri, sizeof(ri), &ro, sizeof(ro));
    if (r == 0 && (r = sync_size()) == 0) {
        if (in_window(ro.offset, ro.size) && ro.size >= size) {
            p = G.base + ro.offset;
            if (offset)
                *offset = ro.offset;
        } else {
            r = -EPROTO;
        }
    }
    pthread_mutex_unlock(&G.lock);
    if (!p)
        errno = -r;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Rings                                                                    */

/* Attaches ring `id` from the table. Under G.lock. */
static int open_ring(uint32_t id, unsigned want_dir)
{
    const struct sbvm_window_header *h = (const void *)G.base;
    struct sbvm_ring_desc d;
    struct gring *gr;
    int r;

    if ((r = sync_size()) < 0)
        return r;
    if (id >= G.max_rings || id >= shm_load32(&h->nrings, memory_order_acquire))
        return -ENOENT;
    gr = &G.rings[id];
    if (gr->open)
        return want_dir ? -EPROTO : 0;
    shm_copy_in(&d, G.base + G.rings_off + (size_t)id * sizeof(d), sizeof(d));
    if (d.id != id || (d.dir != SBVM_RING_TO_HOST && d.dir != SBVM_RING_TO_GUEST) ||
        (want_dir && d.dir != want_dir))
        return -EPROTO;
    if (d.capacity < SBVM_RING_MIN_CAP || (d.capacity & (d.capacity - 1)) ||
        d.max_msg > d.capacity - sizeof(struct sbvm_ring_rec) || d.ctl_off % 64 ||
        !in_window(d.ctl_off, sizeof(struct sbvm_ring_ctl)) || !in_window(d.data_off, d.capacity))
        return -EPROTO;
    ring_end_init(&gr->end, G.base + d.data_off,
                  (struct sbvm_ring_ctl *)(void *)(G.base + d.ctl_off), d.capacity, d.max_msg,
                  d.dir == SBVM_RING_TO_HOST, 0);
    gr->dir = d.dir;
    gr->open = true;
    return 0;
}

SBVM_GUEST_API int sbvm_ring_negotiate(unsigned dir, size_t capacity, size_t max_msg)
{
    struct sbvm_ring_in ri = { .dir = dir, .capacity = capacity };
    struct sbvm_ring_out ro;
    int r;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    if ((dir != SBVM_RING_TO_HOST && dir != SBVM_RING_TO_GUEST) || max_msg > UINT32_MAX)
        return -EINVAL;
    ri.max_msg = (uint32_t)max_msg;
    pthread_mutex_lock(&G.lock);
    r = call_fixed(SBVM_CALL_RING, &ri, sizeof(ri), &ro, sizeof(ro));
    if (r == 0 && (r = open_ring(ro.id, dir)) == 0)
        r = (int)ro.id;
    pthread_mutex_unlock(&G.lock);
    return r;
}

SBVM_GUEST_API int sbvm_ring_open(int ring)
{
    int r;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    if (ring < 0)
        return -ENOENT;
    pthread_mutex_lock(&G.lock);
    r = open_ring((uint32_t)ring, 0);
    pthread_mutex_unlock(&G.lock);
    return r;
}

static struct gring *get_ring(int ring, unsigned dir)
{
    if (ring < 0 || (unsigned)ring >= MAX_RINGS || !G.rings[ring].open)
        return NULL;
    if (dir && G.rings[ring].dir != dir)
        return NULL;
    return &G.rings[ring];
}

SBVM_GUEST_API int sbvm_ring_info(int ring, unsigned *dir, size_t *capacity, size_t *max_msg)
{
    struct gring *gr;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    if (!(gr = get_ring(ring, 0)))
        return -ENOENT;
    if (dir)
        *dir = gr->dir;
    if (capacity)
        *capacity = gr->end.cap;
    if (max_msg)
        *max_msg = gr->end.max_msg;
    return 0;
}

static int ring_moved(void *arg)
{
    return ring_peer_moved(arg);
}

/* Waits until the host moved the ring's other index (data or room). */
static int wait_ring(struct gring *gr, int64_t deadline)
{
    if (shm_spin_until(&G.spin, shm_same_cpu(&G.ctl->guest_cpu, &G.ctl->host_cpu), ring_moved,
                       &gr->end))
        return 0;
    for (;;) {
        uint32_t bell = shm_load32(&G.ctl->guest_bell, memory_order_acquire);
        int64_t slice;
        int e, r;

        atomic_fetch_add_explicit(SHM_A32(&G.ctl->guest_wait), 1, memory_order_relaxed);
        shm_fence();
        if (ring_peer_moved(&gr->end) || (e = host_state_error()) < 0 ||
            (slice = next_slice(deadline)) < 0) {
            atomic_fetch_sub_explicit(SHM_A32(&G.ctl->guest_wait), 1, memory_order_relaxed);
            if (ring_peer_moved(&gr->end))
                return 0;
            return host_state_error() < 0 ? host_state_error() : -ETIMEDOUT;
        }
        r = shm_futex_wait(&G.ctl->guest_bell, bell, slice);
        atomic_fetch_sub_explicit(SHM_A32(&G.ctl->guest_wait), 1, memory_order_relaxed);
        if (ring_peer_moved(&gr->end))
            return 0;
        if (r == -ETIMEDOUT && (e = host_alive()) < 0)
            return e;
    }
}

SBVM_GUEST_API int sbvm_ring_push(int ring, const void *msg, size_t len, uint32_t tag,
                                  unsigned flags)
{
    struct gring *gr;
    int r;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    if (!(gr = get_ring(ring, SBVM_RING_TO_HOST)))
        return -ENOENT;
    if (len && !msg)
        return -EFAULT;
    for (;;) {
        r = ring_push(&gr->end, msg, len, tag);
        if (r == 0) {
            kick_host();
            return 0;
        }
        if (r != -EAGAIN || (flags & SBVM_NONBLOCK))
            return r;
        if ((r = host_state_error()) < 0 || (r = wait_ring(gr, INT64_MAX)) < 0)
            return r;
    }
}

SBVM_GUEST_API long sbvm_ring_pop(int ring, void *buf, size_t cap, uint32_t *tag, unsigned flags)
{
    struct gring *gr;
    long n;
    int r;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    if (!(gr = get_ring(ring, SBVM_RING_TO_GUEST)))
        return -ENOENT;
    if (cap && !buf)
        return -EFAULT;
    for (;;) {
        n = ring_pop(&gr->end, buf, cap, tag, NULL);
        if (n >= 0) {
            /* The host waits for room only when it said so. */
            shm_fence();
            if (shm_load32(&gr->end.ctl->prod_wait, memory_order_relaxed)) {
                shm_store32(&gr->end.ctl->prod_wait, 0, memory_order_relaxed);
                kick_host();
            }
            return n;
        }
        if (n != -EAGAIN || (flags & SBVM_NONBLOCK))
            return n;
        if ((r = host_state_error()) < 0 || (r = wait_ring(gr, INT64_MAX)) < 0)
            return r;
    }
}

/* ------------------------------------------------------------------------ */
/* Doorbells                                                                */

SBVM_GUEST_API int sbvm_doorbell(void)
{
    uint64_t one = 1;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    atomic_fetch_add_explicit(SHM_A32(&G.ctl->host_bell), 1, memory_order_release);
    shm_futex_wake(&G.ctl->host_bell, 1);
    if (write(G.efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

SBVM_GUEST_API int sbvm_wait(int64_t timeout_ns)
{
    int64_t deadline = deadline_after(timeout_ns);
    uint32_t bell;

    if (!atomic_load(&G.up))
        return -ENOTCONN;
    bell = shm_load32(&G.ctl->guest_bell, memory_order_acquire);
    for (;;) {
        int64_t slice;
        int e, r;

        if ((e = host_state_error()) < 0)
            return e;
        if ((slice = next_slice(deadline)) < 0)
            return -ETIMEDOUT;
        atomic_fetch_add_explicit(SHM_A32(&G.ctl->guest_wait), 1, memory_order_relaxed);
        shm_fence();
        r = shm_futex_wait(&G.ctl->guest_bell, bell, slice);
        atomic_fetch_sub_explicit(SHM_A32(&G.ctl->guest_wait), 1, memory_order_relaxed);
        if (r == -EAGAIN || shm_load32(&G.ctl->guest_bell, memory_order_acquire) != bell)
            return 0;
        if (r == -ETIMEDOUT && (e = host_alive()) < 0)
            return e;
    }
}

SBVM_GUEST_API void sbvm_set_spin(uint64_t spin_ns, unsigned yields)
{
    G.spin.spin_ns = spin_ns;
    G.spin.yields = yields;
}

SBVM_GUEST_API void sbvm_set_timeout(int64_t timeout_ns)
{
    G.timeout_ns = timeout_ns;
}

/* ------------------------------------------------------------------------ */
/* Hello and goodbye                                                        */

/* Reads the boot message and its two fds. */
static int recv_boot(int fd, struct sbvm_boot *boot, int *memfd, int *efd)
{
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = { .iov_base = boot, .iov_len = sizeof(*boot) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    int fds[4], nfds = 0;
    ssize_t n;

    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof(u.buf);
    do
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? -EPROTO : -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && nfds < 4; i++)
            memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    if (n != (ssize_t)sizeof(*boot) || nfds != 2 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
        boot->magic != SBVM_WINDOW_MAGIC) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return -EPROTO;
    }
    *memfd = fds[0];
    *efd = fds[1];
    return 0;
}

/* Reads the layout once and checks that it lies inside the mapping. */
static int read_layout(void)
{
    struct sbvm_window_header h;
    uint64_t slots_end, data_len;

    shm_copy_in(&h, G.base, sizeof(h));
    if (h.magic != SBVM_WINDOW_MAGIC || h.abi_major != SBVM_ABI_MAJOR || h.nslots == 0 ||
        h.nslots > MAX_SLOTS || h.slot_size == 0 || h.max_rings > MAX_RINGS)
        return -EPROTO;
    if (__builtin_mul_overflow((uint64_t)h.nslots, sizeof(struct sbvm_slot), &slots_end) ||
        __builtin_mul_overflow((uint64_t)h.nslots, (uint64_t)h.slot_size, &data_len))
        return -EPROTO;
    if (h.ctl_off % 64 || h.slots_off % 64 ||
        !in_window(h.ctl_off, sizeof(struct sbvm_window_ctl)) ||
        !in_window(h.slots_off, slots_end) || !in_window(h.slot_data_off, data_len) ||
        !in_window(h.rings_off, (uint64_t)h.max_rings * sizeof(struct sbvm_ring_desc)))
        return -EPROTO;
    G.nslots = h.nslots;
    G.slot_size = h.slot_size;
    G.max_rings = h.max_rings;
    G.rings_off = h.rings_off;
    G.ctl = (struct sbvm_window_ctl *)(void *)(G.base + h.ctl_off);
    G.slots = (struct sbvm_slot *)(void *)(G.base + h.slots_off);
    G.slot_data = G.base + h.slot_data_off;
    return 0;
}

static void detach(void)
{
    if (G.base && !G.shared)
        munmap(G.base, G.reserve);
    if (G.sock >= 0)
        close(G.sock);
    if (G.memfd >= 0)
        close(G.memfd);
    if (G.efd >= 0)
        close(G.efd);
    G.sock = G.memfd = G.efd = -1;
    G.base = NULL;
    G.mapped = G.reserve = 0;
    G.shared = false;
    G.ctl = NULL;
    G.slots = NULL;
    memset(G.rings, 0, sizeof(G.rings));
    atomic_store(&G.abandoned, 0);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *s = getenv(name);
    char *end;
    unsigned long long v;

    if (!s || !*s)
        return def;
    errno = 0;
    v = strtoull(s, &end, 10);
    return errno || *end ? def : v;
}

static int attach(int fd, uint32_t abi, void *shared_base)
{
    struct sbvm_hello_in hi = { .abi = abi };
    struct sbvm_hello_out ho;
    struct sbvm_boot boot;
    struct stat st;
    void *res;
    int r;

    if (atomic_load(&G.up))
        return -EALREADY;
    if (abi >> 16 != SBVM_ABI_MAJOR)
        return -EPROTONOSUPPORT;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return -EBADF;
    if ((r = recv_boot(fd, &boot, &G.memfd, &G.efd)) < 0)
        return r;
    G.sock = fd;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    r = -EPROTONOSUPPORT;
    if (boot.abi >> 16 != SBVM_ABI_MAJOR)
        goto fail;
    r = -EPROTO;
    if (boot.size < 8192 || boot.size > boot.max_size || boot.max_size > MAX_WINDOW ||
        fstat(G.memfd, &st) < 0 || (uint64_t)st.st_size < boot.size)
        goto fail;
    G.reserve = boot.max_size;
    if (shared_base) {
        G.shared = true;
        G.base = shared_base;
    } else {
        res = mmap(NULL, boot.max_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                   0);
        if (res == MAP_FAILED) {
            r = -errno;
            goto fail;
        }
        G.base = res;
        if (mmap(res, boot.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, G.memfd, 0) ==
            MAP_FAILED) {
            r = -errno;
            goto fail;
        }
    }
    G.mapped = boot.size;
    if ((r = read_layout()) < 0)
        goto fail;
    G.spin.spin_ns = env_u64("SBVM_SPIN_NS", G.spin.spin_ns);
    G.spin.yields = (unsigned)env_u64("SBVM_YIELDS", G.spin.yields);
    if ((r = call_fixed(SBVM_CALL_HELLO, &hi, sizeof(hi), &ho, sizeof(ho))) < 0)
        goto fail;
    if (ho.abi >> 16 != SBVM_ABI_MAJOR) {
        r = -EPROTONOSUPPORT;
        goto fail;
    }
    atomic_store(&G.up, 1);
    return 0;
fail:
    G.sock = -1; /* the caller's fd stays open on failure */
    detach();
    return r;
}

SBVM_GUEST_API int sbvm_hello_fd(int fd, uint32_t abi)
{
    int r;

    pthread_mutex_lock(&G.lock);
    r = attach(fd, abi, NULL);
    pthread_mutex_unlock(&G.lock);
    return r;
}

SBVM_GUEST_API int sbvm_hello(uint32_t abi)
{
    const char *s = getenv(SBVM_CHANNEL_ENV);
    long fd = 0;
    int r;

    if (!s || !*s)
        return atomic_load(&G.up) ? -EALREADY : -ENOTCONN;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || fd > (INT_MAX - 9) / 10)
            return -EBADF;
        fd = fd * 10 + (*p - '0');
    }
    r = sbvm_hello_fd((int)fd, abi);
    if (r == 0)
        unsetenv(SBVM_CHANNEL_ENV);
    return r;
}

#ifdef SBVM_GUEST_TESTING
/* Tests in one process: use the host's mapping, so that both sides' accesses
 * are to the same addresses (what ThreadSanitizer can follow). */
int sbvm__hello_shared(int fd, uint32_t abi, void *base);
int sbvm__hello_shared(int fd, uint32_t abi, void *base)
{
    int r;

    pthread_mutex_lock(&G.lock);
    r = attach(fd, abi, base);
    pthread_mutex_unlock(&G.lock);
    return r;
}
#endif

SBVM_GUEST_API int sbvm_connected(void)
{
    return atomic_load(&G.up) ? 1 : 0;
}

SBVM_GUEST_API int sbvm_window_info(uint64_t *size, uint64_t *max_size, uint32_t *nslots,
                                    uint32_t *slot_size)
{
    if (!atomic_load(&G.up))
        return -ENOTCONN;
    if (size)
        *size = G.mapped;
    if (max_size)
        *max_size = G.reserve;
    if (nslots)
        *nslots = G.nslots;
    if (slot_size)
        *slot_size = G.slot_size;
    return 0;
}

SBVM_GUEST_API void sbvm_goodbye(void)
{
    pthread_mutex_lock(&G.lock);
    atomic_store(&G.up, 0);
    detach();
    pthread_mutex_unlock(&G.lock);
}

SBVM_GUEST_API const char *sbvm_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case -ENOTCONN:
        return "no host channel: the program was not started with one (SBVM_CHANNEL is unset)";
    case -EBADF:
        return "SBVM_CHANNEL does not name an open socket";
    case -EPROTO:
        return "the host channel broke its protocol (or was already used)";
    case -EPROTONOSUPPORT:
        return "the host speaks another major version of the channel ABI";
    case -EALREADY:
        return "the channel is already up";
    case -ENOSYS:
        return "the host has no such function";
    case -E2BIG:
        return "the argument exceeds the host's slot size";
    case -EMSGSIZE:
        return "the message or answer does not fit";
    case -ETIMEDOUT:
        return "the host did not answer in time";
    case -ECONNRESET:
        return "the host closed the channel";
    case -EPIPE:
        return "the host is gone";
    case -ENOSPC:
        return "the host refused: that would exceed its limits";
    case -EAGAIN:
        return "not now: the ring is full or empty (SBVM_NONBLOCK)";
    case -ENOENT:
        return "no such ring";
    case -EINVAL:
        return "invalid argument";
    case -EFAULT:
        return "a NULL buffer";
    }
    return "unknown error";
}
