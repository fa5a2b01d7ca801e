/* SPDX-License-Identifier: MIT */
/*
 * channel.c: the host channel object: configuration, creation (window,
 * eventfd, socket pair, boot message), the pollable fd, serving and waiting,
 * doorbell flood control, rings, regions and the end of a channel.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "shm/chan.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

/* Defaults; docs/CHANNEL.md gives the reasons and the measurements. */
#define DEF_WINDOW     (1ull << 20)
#define DEF_WINDOW_MAX (64ull << 20)
#define MAX_WINDOW     (1ull << 40)
#define DEF_SLOTS      4u
#define DEF_SLOT_SIZE  (64u << 10)
#define MAX_SLOT_SIZE  (16u << 20)
#define DEF_RINGS      16u
#define DEF_RING_CAP   (16ull << 20)
#define MAX_RING_CAP   (1ull << 30)
#define DEF_RING_WANT  (64ull << 10)
#define DEF_SPIN_NS    SBVM_DEFAULT_SPIN_NS
#define DEF_YIELDS     SBVM_DEFAULT_YIELDS
/* A blocking wait looks at the guest's pidfd and socket this often. */
#define LIVENESS_NS (20 * 1000 * 1000)
/* Doorbell flood control: this many wake-ups in a row that find nothing
 * mute the doorbell, first for MUTE_MIN_NS, doubling up to MUTE_MAX_NS. */
#define SPURIOUS_LIMIT 64u
#define MUTE_MIN_NS    (1 * 1000 * 1000)
#define MUTE_MAX_NS    (256 * 1000 * 1000)

enum { TAG_BELL = 1, TAG_SOCK, TAG_PID, TAG_TIMER };

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

SBVM_API sbvm_channel_config *sbvm_channel_config_new(void)
{
    sbvm_channel_config *cfg = calloc(1, sizeof(*cfg));

    if (!cfg)
        return NULL;
    cfg->initial = DEF_WINDOW;
    cfg->max = DEF_WINDOW_MAX;
    cfg->nslots = DEF_SLOTS;
    cfg->slot_size = DEF_SLOT_SIZE;
    cfg->max_rings = DEF_RINGS;
    cfg->max_ring_cap = DEF_RING_CAP;
    cfg->spin.spin_ns = DEF_SPIN_NS;
    cfg->spin.yields = DEF_YIELDS;
    return cfg;
}

SBVM_API void sbvm_channel_config_free(sbvm_channel_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->calls);
    free(cfg);
}

SBVM_API int sbvm_channel_config_set_window(sbvm_channel_config *cfg, uint64_t initial,
                                            uint64_t max, sbvm_error **err)
{
    if (!cfg)
        return error_set(err, EINVAL, "channel window: no config");
    if (max > MAX_WINDOW)
        return error_set(err, EINVAL, "channel window: a limit of %llu bytes exceeds 1 TiB",
                         (unsigned long long)max);
    if (initial > max)
        return error_set(err, EINVAL,
                         "channel window: the initial size (%llu) exceeds the limit (%llu)",
                         (unsigned long long)initial, (unsigned long long)max);
    cfg->initial = initial;
    cfg->max = max;
    return 0;
}

SBVM_API int sbvm_channel_config_set_slots(sbvm_channel_config *cfg, unsigned nslots,
                                           size_t slot_size, sbvm_error **err)
{
    if (!cfg)
        return error_set(err, EINVAL, "channel slots: no config");
    if (nslots < 1 || nslots > CHAN_MAX_SLOTS)
        return error_set(err, EINVAL, "channel slots: %u slots (1 to %u allowed)", nslots,
                         CHAN_MAX_SLOTS);
    if (slot_size < 64 || slot_size > MAX_SLOT_SIZE)
        return error_set(err, EINVAL, "channel slots: %zu bytes per slot (64 to %u allowed)",
                         slot_size, MAX_SLOT_SIZE);
    cfg->nslots = nslots;
    cfg->slot_size = (uint32_t)((slot_size + 63) & ~(size_t)63);
    return 0;
}

SBVM_API int sbvm_channel_config_set_rings(sbvm_channel_config *cfg, unsigned max_rings,
                                           uint64_t max_capacity, sbvm_error **err)
{
    if (!cfg)
        return error_set(err, EINVAL, "channel rings: no config");
    if (max_rings > CHAN_MAX_RINGS)
        return error_set(err, EINVAL, "channel rings: %u rings (at most %u)", max_rings,
                         CHAN_MAX_RINGS);
    if (max_capacity < SBVM_RING_MIN_CAP || max_capacity > MAX_RING_CAP)
        return error_set(err, EINVAL, "channel rings: %llu bytes per ring (64 B to 1 GiB allowed)",
                         (unsigned long long)max_capacity);
    cfg->max_rings = max_rings;
    cfg->max_ring_cap = max_capacity;
    return 0;
}

SBVM_API void sbvm_channel_config_set_spin(sbvm_channel_config *cfg, uint64_t spin_ns,
                                           unsigned yields)
{
    if (!cfg)
        return;
    cfg->spin.spin_ns = spin_ns;
    cfg->spin.yields = yields;
}

SBVM_API int sbvm_channel_config_add_call(sbvm_channel_config *cfg, uint32_t id,
                                          sbvm_hostcall_fn fn, void *userdata, sbvm_error **err)
{
    struct call_entry *v;
    size_t i;

    if (!cfg)
        return error_set(err, EINVAL, "registering host call %u: no config", id);
    if (id < SBVM_CHANNEL_CALL_USER)
        return error_set(err, EINVAL, "registering host call %u: ids below %u are reserved", id,
                         SBVM_CHANNEL_CALL_USER);
    for (i = 0; i < cfg->ncalls && cfg->calls[i].id < id; i++)
        ;
    if (i < cfg->ncalls && cfg->calls[i].id == id) {
        cfg->calls[i].fn = fn;
        cfg->calls[i].userdata = userdata;
        return 0;
    }
    v = realloc(cfg->calls, (cfg->ncalls + 1) * sizeof(*v));
    if (!v)
        return error_set(err, ENOMEM, "registering host call %u", id);
    memmove(v + i + 1, v + i, (cfg->ncalls - i) * sizeof(*v));
    v[i] = (struct call_entry){ .id = id, .fn = fn, .userdata = userdata };
    cfg->calls = v;
    cfg->ncalls++;
    return 0;
}

SBVM_API void sbvm_channel_config_set_log(sbvm_channel_config *cfg, sbvm_channel_log_fn fn,
                                          void *userdata)
{
    if (!cfg)
        return;
    cfg->log = fn;
    cfg->log_ud = userdata;
}

/* ------------------------------------------------------------------------ */
/* Creation and the end                                                     */

static int copy_config(struct sbvm_channel_config *dst, const sbvm_channel_config *src)
{
    *dst = *src;
    dst->calls = NULL;
    if (src->ncalls) {
        dst->calls = malloc(src->ncalls * sizeof(*dst->calls));
        if (!dst->calls)
            return -ENOMEM;
        memcpy(dst->calls, src->calls, src->ncalls * sizeof(*dst->calls));
    }
    return 0;
}

/* The parts of the window the host uses, from its own layout. */
static int attach_layout(struct sbvm_channel *ch)
{
    const struct sbvm_window_header *h = window_shadow(&ch->win);

    ch->ctl = (struct sbvm_window_ctl *)(void *)(ch->win.base + h->ctl_off);
    ch->slots = (struct sbvm_slot *)(void *)(ch->win.base + h->slots_off);
    ch->slot_data = ch->win.base + h->slot_data_off;
    ch->hs = calloc(ch->cfg.nslots, sizeof(*ch->hs));
    ch->scratch_in = malloc(ch->cfg.slot_size);
    ch->scratch_out = malloc(ch->cfg.slot_size);
    if (!ch->hs || !ch->scratch_in || !ch->scratch_out)
        return -ENOMEM;
    return 0;
}

static struct sbvm_channel *chan_alloc(void)
{
    struct sbvm_channel *ch = calloc(1, sizeof(*ch));

    if (!ch)
        return NULL;
    ch->efd = ch->sock = ch->guest_sock = ch->pidfd = ch->epfd = ch->timerfd = -1;
    ch->win.memfd = -1;
    ch->mute_ns = MUTE_MIN_NS;
    return ch;
}

static uint64_t page_up(uint64_t v, uint64_t page)
{
    return (v + page - 1) & ~(page - 1);
}

/* Sends the boot message with the memfd and the eventfd attached. */
static int send_boot(struct sbvm_channel *ch)
{
    struct sbvm_boot boot = {
        .magic = SBVM_WINDOW_MAGIC,
        .abi = SBVM_ABI_VERSION,
        .size = ch->win.size,
        .max_size = ch->win.max_size,
    };
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = { .iov_base = &boot, .iov_len = sizeof(boot) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *c;
    int fds[2] = { ch->win.memfd, ch->efd };

    memset(&u, 0, sizeof(u));
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof(u.buf);
    c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
    if (RETRY_EINTR(sendmsg(ch->sock, &mh, MSG_NOSIGNAL)) < 0)
        return -errno;
    return 0;
}

static int epoll_add(int epfd, int fd, uint32_t events, uint32_t tag)
{
    struct epoll_event e = { .events = events, .data.u32 = tag };

    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

SBVM_API int sbvm_channel_new(const sbvm_channel_config *cfg, sbvm_channel **out, sbvm_error **err)
{
    struct sbvm_channel *ch;
    struct window_layout lay;
    uint64_t initial, max, page;
    char why[160] = "";
    int sv[2], r;

    if (!cfg || !out)
        return error_set(err, EINVAL, "creating a channel: no config");
    *out = NULL;
    ch = chan_alloc();
    if (!ch || copy_config(&ch->cfg, cfg) < 0) {
        free(ch);
        return error_set(err, ENOMEM, "creating a channel");
    }
    lay = (struct window_layout){ cfg->nslots, cfg->slot_size, cfg->max_rings };
    page = (uint64_t)sysconf(_SC_PAGESIZE);
    initial = page_up(cfg->initial, page);
    if (initial < window_min_size(&lay, (uint32_t)page))
        initial = window_min_size(&lay, (uint32_t)page);
    max = page_up(cfg->max, page);
    if (max < initial)
        max = initial;
    if ((r = window_create(&ch->win, &lay, initial, max, why, sizeof(why))) < 0) {
        error_sys(err, -r, "creating a channel: %s", why);
        goto fail;
    }
    if ((r = attach_layout(ch)) < 0) {
        error_set(err, -r, "creating a channel: out of memory");
        goto fail;
    }
    /* Until the host first serves, the guest's first request must ring the
     * eventfd: an event loop knows of the channel only through it. */
    ch->ctl->host_wait = SBVM_HOST_WAIT_LOOP;
    ch->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ch->efd < 0) {
        r = error_sys(err, errno, "creating a channel: its doorbell (eventfd)");
        goto fail;
    }
    /* SEQPACKET keeps the boot message whole and hangs up like a stream. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r = error_sys(err, errno, "creating a channel: its socket pair");
        goto fail;
    }
    ch->sock = sv[0];
    ch->guest_sock = sv[1];
    if ((r = send_boot(ch)) < 0) {
        error_sys(err, -r, "creating a channel: queueing the window for the guest");
        goto fail;
    }
    ch->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ch->epfd < 0) {
        r = error_sys(err, errno, "creating a channel: its epoll fd");
        goto fail;
    }
    /* The socket with no events: epoll still reports its hang-up, and what
     * a guest might write to it is never read. */
    if ((r = epoll_add(ch->epfd, ch->efd, EPOLLIN, TAG_BELL)) < 0 ||
        (r = epoll_add(ch->epfd, ch->sock, 0, TAG_SOCK)) < 0) {
        error_sys(err, -r, "creating a channel: watching its fds");
        goto fail;
    }
    *out = ch;
    return 0;
fail:
    sbvm_channel_free(ch);
    return r;
}

int chan_new_private(const sbvm_channel_config *cfg, sbvm_channel **out, sbvm_error **err)
{
    struct sbvm_channel *ch;
    struct window_layout lay;
    uint64_t size;
    int r;

    *out = NULL;
    ch = chan_alloc();
    if (!ch || copy_config(&ch->cfg, cfg) < 0) {
        free(ch);
        return error_set(err, ENOMEM, "creating a channel");
    }
    lay = (struct window_layout){ cfg->nslots, cfg->slot_size, cfg->max_rings };
    size = page_up(cfg->initial, 4096);
    if (size < window_min_size(&lay, 4096))
        size = window_min_size(&lay, 4096);
    if ((r = window_create_private(&ch->win, &lay, size)) < 0 || (r = attach_layout(ch)) < 0) {
        sbvm_channel_free(ch);
        return error_set(err, -r, "creating a private channel");
    }
    *out = ch;
    return 0;
}

struct window *chan_window(sbvm_channel *ch)
{
    return &ch->win;
}

/* Wakes every guest waiter there can be: the ring doorbell and each slot. */
static void wake_all(struct sbvm_channel *ch)
{
    atomic_fetch_add_explicit(SHM_A32(&ch->ctl->guest_bell), 1, memory_order_release);
    shm_futex_wake(&ch->ctl->guest_bell, INT_MAX);
    for (uint32_t i = 0; i < ch->cfg.nslots; i++)
        shm_futex_wake(&ch->slots[i].state, INT_MAX);
}

int chan_end(struct sbvm_channel *ch, int code, const char *fmt, ...)
{
    va_list ap;

    if (ch->state != CHAN_OPEN)
        return -ch->end_code;
    ch->state = CHAN_ENDED;
    ch->end_code = code;
    va_start(ap, fmt);
    vsnprintf(ch->why, sizeof(ch->why), fmt, ap);
    va_end(ap);
    if (ch->ctl) {
        shm_store32(&ch->ctl->host_state, code == EPROTO ? SBVM_HOST_BROKEN : SBVM_HOST_CLOSED,
                    memory_order_release);
        shm_fence();
        wake_all(ch);
    }
    return -code;
}

int chan_ended(const struct sbvm_channel *ch, sbvm_error **err)
{
    return error_set(err, ch->end_code, "%s", ch->why);
}

SBVM_API void sbvm_channel_free(sbvm_channel *ch)
{
    if (!ch)
        return;
    if (ch->state == CHAN_OPEN && ch->ctl) {
        shm_store32(&ch->ctl->host_state, SBVM_HOST_CLOSED, memory_order_release);
        shm_fence();
        wake_all(ch);
    }
    chan_slots_release(ch);
    close_fd(&ch->epfd);
    close_fd(&ch->efd);
    close_fd(&ch->sock);
    close_fd(&ch->guest_sock);
    close_fd(&ch->pidfd);
    close_fd(&ch->timerfd);
    window_destroy(&ch->win);
    free(ch->hs);
    free(ch->scratch_in);
    free(ch->scratch_out);
    free(ch->regions);
    free(ch->cfg.calls);
    free(ch);
}

SBVM_API int sbvm_channel_guest_fd(const sbvm_channel *ch)
{
    return ch ? ch->guest_sock : -1;
}

SBVM_API void sbvm_channel_close_guest_fd(sbvm_channel *ch)
{
    if (ch)
        close_fd(&ch->guest_sock);
}

SBVM_API int sbvm_channel_set_peer_pidfd(sbvm_channel *ch, int pidfd, sbvm_error **err)
{
    int fd, r;

    if (!ch || pidfd < 0)
        return error_set(err, EINVAL, "watching the guest process: no pidfd");
    if (ch->epfd < 0)
        return error_set(err, EINVAL, "watching the guest process: channel has no event fd");
    fd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return error_sys(err, errno, "watching the guest process: duplicating its pidfd");
    if ((r = epoll_add(ch->epfd, fd, EPOLLIN, TAG_PID)) < 0) {
        close(fd);
        return error_sys(err, -r, "watching the guest process");
    }
    close_fd(&ch->pidfd);
    ch->pidfd = fd;
    return 0;
}

SBVM_API void sbvm_channel_kick(sbvm_channel *ch)
{
    if (!ch || !ch->ctl)
        return;
    __atomic_store_n(&ch->kicked, 1, __ATOMIC_RELEASE);
    /* A waiter about to sleep sees the bell move and does not. */
    atomic_fetch_add_explicit(SHM_A32(&ch->ctl->host_bell), 1, memory_order_release);
    shm_futex_wake(&ch->ctl->host_bell, INT32_MAX);
}

SBVM_API void sbvm_channel_set_spin(sbvm_channel *ch, uint64_t spin_ns, unsigned yields)
{
    if (!ch)
        return;
    ch->cfg.spin.spin_ns = spin_ns;
    ch->cfg.spin.yields = yields;
}

SBVM_API void sbvm_channel_set_userdata(sbvm_channel *ch, void *userdata)
{
    if (ch)
        ch->userdata = userdata;
}

SBVM_API void *sbvm_channel_userdata(const sbvm_channel *ch)
{
    return ch ? ch->userdata : NULL;
}

SBVM_API int sbvm_channel_fd(const sbvm_channel *ch)
{
    return ch ? ch->epfd : -1;
}

SBVM_API const char *sbvm_channel_error(const sbvm_channel *ch)
{
    return ch && ch->state != CHAN_OPEN ? ch->why : NULL;
}

SBVM_API uint32_t sbvm_channel_guest_abi(const sbvm_channel *ch)
{
    return ch && ch->hello ? ch->guest_abi : 0;
}

SBVM_API uint64_t sbvm_channel_window_size(const sbvm_channel *ch)
{
    return ch ? ch->win.size : 0;
}

SBVM_API uint64_t sbvm_channel_window_max(const sbvm_channel *ch)
{
    return ch ? ch->cfg.max : 0;
}

SBVM_API void sbvm_channel_stats(const sbvm_channel *ch, struct sbvm_channel_stats *st)
{
    if (!st)
        return;
    if (!ch) {
        memset(st, 0, sizeof(*st));
        return;
    }
    *st = ch->st;
}

/* ------------------------------------------------------------------------ */
/* Waking the guest                                                         */

void chan_wake_guest(struct sbvm_channel *ch)
{
    shm_fence();
    if (shm_load32(&ch->ctl->guest_wait, memory_order_relaxed)) {
        atomic_fetch_add_explicit(SHM_A32(&ch->ctl->guest_bell), 1, memory_order_release);
        shm_futex_wake(&ch->ctl->guest_bell, INT_MAX);
    }
}

/* ------------------------------------------------------------------------ */
/* Serving                                                                  */

/* The guest's index of a ring, as is (checked only when used). */
static uint64_t peer_index(const struct hring *hr)
{
    const struct sbvm_ring_ctl *c = hr->end.ctl;

    return shm_load64(hr->dir == SBVM_RING_TO_HOST ? &c->head : &c->tail, memory_order_relaxed);
}

/*
 * Whether the guest did anything since serving last looked (hints only;
 * serving checks): a new request, or a ring index that moved. Messages the
 * caller left unread do not count: reporting them again and again would let
 * a guest that fills a ring nobody reads keep its host busy.
 */
static bool work_pending(const struct sbvm_channel *ch)
{
    if (chan_slots_pending(ch))
        return true;
    for (unsigned i = 0; i < ch->nrings; i++)
        if (peer_index(&ch->rings[i]) != ch->rings[i].noted)
            return true;
    return false;
}

static int pending_cb(void *arg)
{
    struct sbvm_channel *ch = arg;

    return work_pending(ch) || __atomic_load_n(&ch->kicked, __ATOMIC_ACQUIRE);
}

/*
 * One pass over the window, no system calls of its own: checks the header,
 * answers the slots, looks at the rings. Events, or -errno when it ended.
 * *activity says whether the guest had done anything since the last pass.
 */
static int serve_window(struct sbvm_channel *ch, bool *activity)
{
    uint64_t calls = ch->st.calls;
    bool moved = false;
    int ev = 0, r;

    if ((r = window_check(&ch->win, ch->why, sizeof(ch->why))) < 0) {
        char why[sizeof(ch->why)];
        memcpy(why, ch->why, sizeof(why));
        return chan_end(ch, EPROTO, "%s", why);
    }
    if ((r = chan_serve_slots(ch)) < 0)
        return r;
    ev |= r;
    /* Rings: what moved since the last pass. */
    for (unsigned i = 0; i < ch->nrings; i++) {
        struct hring *hr = &ch->rings[i];
        uint64_t now = peer_index(hr);
        if (now == hr->noted)
            continue;
        hr->noted = now;
        moved = true;
        if (hr->dir == SBVM_RING_TO_HOST) {
            ev |= SBVM_CHANNEL_EV_READ;
        } else if (hr->blocked) {
            hr->blocked = false;
            ev |= SBVM_CHANNEL_EV_WRITE;
        }
    }
    /* One-shot events are reported from the pass that saw them only. */
    if (ch->hello && !ch->hello_reported) {
        ch->hello_reported = true;
        ev |= SBVM_CHANNEL_EV_HELLO;
    } else {
        ev &= ~SBVM_CHANNEL_EV_HELLO;
    }
    if (ch->new_rings) {
        ch->new_rings = false;
        ev |= SBVM_CHANNEL_EV_RINGS;
    }
    if (activity)
        *activity =
            ch->st.calls != calls || moved || (ev & (SBVM_CHANNEL_EV_CALL | SBVM_CHANNEL_EV_RINGS));
    return ev;
}

/* Counts a wake-up by the guest's doorbell; true when enough of them in a
 * row found nothing to do that the doorbell should be muted, so that a
 * guest that rings without end costs the host little. */
static bool count_wakeup(struct sbvm_channel *ch, bool activity)
{
    ch->st.wakeups++;
    if (activity) {
        ch->spurious_run = 0;
        ch->mute_ns = MUTE_MIN_NS;
        return false;
    }
    ch->st.spurious++;
    return ++ch->spurious_run >= SPURIOUS_LIMIT;
}

/* The next mute's length (doubling while the flood goes on). */
static int64_t next_mute(struct sbvm_channel *ch)
{
    int64_t ns = ch->mute_ns;

    ch->st.muted++;
    ch->spurious_run = 0;
    if (ch->mute_ns < MUTE_MAX_NS)
        ch->mute_ns *= 2;
    return ns;
}

/* Event loop: stop watching the eventfd until a timer fires. */
static int mute_bell(struct sbvm_channel *ch)
{
    struct itimerspec its = { 0 };
    int64_t ns;

    if (ch->timerfd < 0) {
        ch->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (ch->timerfd < 0)
            return -errno;
        if (epoll_add(ch->epfd, ch->timerfd, EPOLLIN, TAG_TIMER) < 0)
            return -errno;
    }
    if (epoll_ctl(ch->epfd, EPOLL_CTL_DEL, ch->efd, NULL) < 0)
        return -errno;
    ch->muted = true;
    ns = next_mute(ch);
    its.it_value.tv_sec = ns / 1000000000;
    its.it_value.tv_nsec = ns % 1000000000;
    if (timerfd_settime(ch->timerfd, 0, &its, NULL) < 0)
        return -errno;
    return 0;
}

static void unmute_bell(struct sbvm_channel *ch)
{
    uint64_t n;

    if (!ch->muted)
        return;
    if (ch->timerfd >= 0)
        (void)!read(ch->timerfd, &n, sizeof(n));
    if (ch->epfd >= 0)
        epoll_add(ch->epfd, ch->efd, EPOLLIN, TAG_BELL);
    ch->muted = false;
    ch->spurious_run = 0;
}

/*
 * Looks at the fds without blocking: a hang-up or the guest's exit ends the
 * channel; the doorbell's count is drained. *rung says whether it rang.
 */
static int check_fds(struct sbvm_channel *ch, bool *rung)
{
    struct epoll_event evs[4];
    uint64_t n;
    int k;

    *rung = false;
    if (ch->epfd < 0)
        return 0;
    k = epoll_wait(ch->epfd, evs, (int)ARRAY_SIZE(evs), 0);
    if (k < 0)
        return errno == EINTR ? 0
                              : chan_end(ch, errno, "waiting for the guest: %s", strerror(errno));
    for (int i = 0; i < k; i++) {
        switch (evs[i].data.u32) {
        case TAG_BELL:
            if (read(ch->efd, &n, sizeof(n)) == (ssize_t)sizeof(n))
                *rung = true;
            break;
        case TAG_SOCK:
            return chan_end(ch, EPIPE, "the guest hung up the channel");
        case TAG_PID:
            return chan_end(ch, EPIPE, "the guest process exited");
        case TAG_TIMER:
            unmute_bell(ch);
            break;
        }
    }
    return 0;
}

SBVM_API int sbvm_channel_service(sbvm_channel *ch, sbvm_error **err)
{
    bool rung, activity = false;
    int ev, r;

    if (!ch)
        return error_set(err, EINVAL, "serving a channel: no channel");
    if (ch->state != CHAN_OPEN)
        return chan_ended(ch, err);
    if ((r = check_fds(ch, &rung)) < 0)
        return chan_ended(ch, err);
    if ((ev = serve_window(ch, &activity)) < 0)
        return chan_ended(ch, err);
    if (rung && !ch->self_rung && count_wakeup(ch, activity || ev) && !ch->muted)
        (void)mute_bell(ch);
    ch->self_rung = false;
    /* Ask the guest to write the eventfd for what it does next, then look
     * again: what it did before it could see the request would otherwise
     * go unnoticed until it rang for something else. If something arrived
     * meanwhile, ring our own bell so that the fd is readable again. */
    atomic_fetch_or_explicit(SHM_A32(&ch->ctl->host_wait), SBVM_HOST_WAIT_LOOP,
                             memory_order_relaxed);
    shm_fence();
    if (!ch->muted && ch->efd >= 0 && work_pending(ch)) {
        uint64_t one = 1;
        if (write(ch->efd, &one, sizeof(one)) == (ssize_t)sizeof(one))
            ch->self_rung = true;
    }
    return ev;
}

SBVM_API int sbvm_channel_wait(sbvm_channel *ch, int64_t timeout_ns, sbvm_error **err)
{
    int64_t deadline = timeout_ns < 0 ? INT64_MAX : shm_now_ns() + timeout_ns;
    bool rung;
    int ev;

    if (!ch)
        return error_set(err, EINVAL, "waiting on a channel: no channel");
    for (;;) {
        struct shm_spin spin;
        int64_t now, slice;
        uint32_t bell;
        int r;

        if (ch->state != CHAN_OPEN)
            return chan_ended(ch, err);
        if ((ev = serve_window(ch, NULL)) != 0)
            return ev < 0 ? chan_ended(ch, err) : ev;
        /* Kicked: the fds say whether the guest is gone; either way the
         * waiter returns now, to look at what its owner told it. */
        if (__atomic_load_n(&ch->kicked, __ATOMIC_RELAXED) &&
            __atomic_exchange_n(&ch->kicked, 0, __ATOMIC_ACQ_REL))
            return check_fds(ch, &rung) < 0 ? chan_ended(ch, err) : 0;
        /* Never spin past the deadline (a wait of 0 only looks). */
        spin = ch->cfg.spin;
        if (deadline != INT64_MAX && (now = shm_now_ns()) + (int64_t)spin.spin_ns > deadline)
            spin.spin_ns = now < deadline ? (uint64_t)(deadline - now) : 0;
        if (shm_spin_until(&spin, shm_same_cpu(&ch->ctl->host_cpu, &ch->ctl->guest_cpu), pending_cb,
                           ch))
            continue;
        now = shm_now_ns();
        if (now >= deadline)
            return 0;
        slice = deadline - now < LIVENESS_NS ? deadline - now : LIVENESS_NS;
        if (now < ch->futex_muted_until) {
            /* The guest flooded the futex: poll at 1 ms for a while. */
            struct timespec ts = { 0, 1000 * 1000 };
            clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
            if (check_fds(ch, &rung) < 0)
                return chan_ended(ch, err);
            continue;
        }
        bell = shm_load32(&ch->ctl->host_bell, memory_order_acquire);
        atomic_fetch_or_explicit(SHM_A32(&ch->ctl->host_wait), SBVM_HOST_WAIT_FUTEX,
                                 memory_order_relaxed);
        shm_fence();
        if (work_pending(ch)) {
            atomic_fetch_and_explicit(SHM_A32(&ch->ctl->host_wait), ~SBVM_HOST_WAIT_FUTEX,
                                      memory_order_relaxed);
            continue;
        }
        r = shm_futex_wait(&ch->ctl->host_bell, bell, slice);
        atomic_fetch_and_explicit(SHM_A32(&ch->ctl->host_wait), ~SBVM_HOST_WAIT_FUTEX,
                                  memory_order_relaxed);
        if (r == 0 || r == -EAGAIN) {
            if (count_wakeup(ch, work_pending(ch)))
                ch->futex_muted_until = shm_now_ns() + next_mute(ch);
            continue;
        }
        /* Slept a whole slice (or a signal came): is the guest still there? */
        if (check_fds(ch, &rung) < 0)
            return chan_ended(ch, err);
    }
}

/* ------------------------------------------------------------------------ */
/* Rings, regions, growth                                                   */

static uint64_t pow2_up(uint64_t v)
{
    uint64_t p = SBVM_RING_MIN_CAP;

    while (p < v)
        p <<= 1;
    return p;
}

int chan_ring_create(struct sbvm_channel *ch, unsigned dir, uint64_t capacity, uint32_t max_msg,
                     char *why, size_t whylen)
{
    struct sbvm_ring_desc d;
    struct hring *hr;
    uint64_t cap;
    int64_t off;

    if (dir != SBVM_RING_TO_HOST && dir != SBVM_RING_TO_GUEST) {
        snprintf(why, whylen, "no such ring direction %u", dir);
        return -EINVAL;
    }
    if (ch->nrings >= ch->cfg.max_rings) {
        snprintf(why, whylen, "no more rings: the limit is %u", ch->cfg.max_rings);
        return -ENOSPC;
    }
    if (capacity == 0)
        capacity = DEF_RING_WANT < ch->cfg.max_ring_cap ? DEF_RING_WANT : ch->cfg.max_ring_cap;
    if (capacity > ch->cfg.max_ring_cap) {
        snprintf(why, whylen, "a ring of %llu bytes exceeds the limit of %llu",
                 (unsigned long long)capacity, (unsigned long long)ch->cfg.max_ring_cap);
        return -ENOSPC;
    }
    cap = pow2_up(capacity);
    if (max_msg == 0)
        max_msg = (uint32_t)(cap / 2 < UINT32_MAX ? cap / 2 : UINT32_MAX);
    if (max_msg > cap - sizeof(struct sbvm_ring_rec)) {
        snprintf(why, whylen, "a largest message of %u bytes does not fit a %llu-byte ring",
                 max_msg, (unsigned long long)cap);
        return -EINVAL;
    }
    off = window_alloc(&ch->win, sizeof(struct sbvm_ring_ctl) + cap, 64);
    if (off < 0) {
        snprintf(why, whylen, "no room for a %llu-byte ring in the window (limit %llu)",
                 (unsigned long long)cap, (unsigned long long)ch->win.max_size);
        return (int)off;
    }
    d = (struct sbvm_ring_desc){
        .id = ch->nrings,
        .dir = dir,
        .ctl_off = (uint64_t)off,
        .data_off = (uint64_t)off + sizeof(struct sbvm_ring_ctl),
        .capacity = cap,
        .max_msg = max_msg,
    };
    hr = &ch->rings[ch->nrings];
    memset(hr, 0, sizeof(*hr));
    hr->dir = dir;
    ring_end_init(&hr->end, ch->win.base + d.data_off,
                  (struct sbvm_ring_ctl *)(void *)(ch->win.base + d.ctl_off), cap, max_msg,
                  dir == SBVM_RING_TO_GUEST, 0);
    /* The guest could have written here before the host handed it out. */
    shm_store64(&hr->end.ctl->head, 0, memory_order_relaxed);
    shm_store64(&hr->end.ctl->tail, 0, memory_order_relaxed);
    window_set_ring(&ch->win, d.id, &d);
    ch->new_rings = true;
    return (int)ch->nrings++;
}

int64_t chan_region_create(struct sbvm_channel *ch, uint64_t len)
{
    struct region *v;
    uint64_t before = ch->win.size;
    int64_t off;

    if (len == 0 || len > ch->win.max_size)
        return len ? -ENOSPC : -EINVAL;
    len = page_up(len, ch->win.page);
    v = realloc(ch->regions, (ch->nregions + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    ch->regions = v;
    off = window_alloc(&ch->win, len, ch->win.page);
    if (off < 0)
        return off;
    if (ch->win.size != before)
        ch->st.grows++;
    ch->regions[ch->nregions++] = (struct region){ (uint64_t)off, len };
    return off;
}

int chan_grow(struct sbvm_channel *ch, uint64_t size)
{
    uint64_t before = ch->win.size;
    int r;

    if (size > ch->win.max_size)
        return -ENOSPC;
    size = page_up(size, ch->win.page);
    if ((r = window_grow(&ch->win, size)) < 0)
        return r;
    if (ch->win.size != before)
        ch->st.grows++;
    return 0;
}

SBVM_API int sbvm_channel_ring_count(const sbvm_channel *ch)
{
    return ch ? (int)ch->nrings : 0;
}

static struct hring *get_ring(const sbvm_channel *ch, int ring)
{
    if (!ch || ring < 0 || (unsigned)ring >= ch->nrings)
        return NULL;
    return (struct hring *)&ch->rings[ring];
}

SBVM_API int sbvm_channel_ring_info(const sbvm_channel *ch, int ring, unsigned *dir,
                                    uint64_t *capacity, uint32_t *max_msg)
{
    const struct hring *hr = get_ring(ch, ring);

    if (!hr)
        return -ENOENT;
    if (dir)
        *dir = hr->dir;
    if (capacity)
        *capacity = hr->end.cap;
    if (max_msg)
        *max_msg = hr->end.max_msg;
    return 0;
}

SBVM_API int sbvm_channel_ring_add(sbvm_channel *ch, unsigned dir, uint64_t capacity,
                                   uint32_t max_msg, sbvm_error **err)
{
    char why[160];
    uint64_t before;
    int r;

    if (!ch)
        return error_set(err, EINVAL, "adding a ring: no channel");
    if (ch->state != CHAN_OPEN)
        return chan_ended(ch, err);
    before = ch->win.size;
    r = chan_ring_create(ch, dir, capacity, max_msg, why, sizeof(why));
    if (r < 0)
        return error_set(err, -r, "adding a ring: %s", why);
    if (ch->win.size != before)
        ch->st.grows++;
    ch->new_rings = false; /* the host knows about its own ring */
    return r;
}

static int ring_fault_end(struct sbvm_channel *ch, int ring, sbvm_error **err)
{
    const struct ring_end *e = &ch->rings[ring].end;

    chan_end(ch, EPROTO, "ring %d: %s (%llu, then %llu)", ring, ring_fault_text(e->fault),
             (unsigned long long)e->fault_was, (unsigned long long)e->fault_now);
    return chan_ended(ch, err);
}

SBVM_API long sbvm_channel_ring_read(sbvm_channel *ch, int ring, void *buf, size_t cap,
                                     uint32_t *tag, sbvm_error **err)
{
    struct hring *hr = get_ring(ch, ring);
    size_t needed = 0;
    long n;

    if (ch && ch->state != CHAN_OPEN)
        return chan_ended(ch, err);
    if (!hr || hr->dir != SBVM_RING_TO_HOST)
        return error_set(err, ENOENT, "reading ring %d: no such ring to the host", ring);
    n = ring_pop(&hr->end, buf, cap, tag, &needed);
    if (n >= 0) {
        ch->st.msgs_read++;
        ch->st.bytes_read += (uint64_t)n;
        chan_wake_guest(ch);
        return n;
    }
    if (n == -EPROTO)
        return ring_fault_end(ch, ring, err);
    if (n == -EMSGSIZE)
        return error_set(err, EMSGSIZE, "reading ring %d: a %zu-byte message exceeds %zu bytes",
                         ring, needed, cap);
    return n; /* -EAGAIN: not an error worth words */
}

SBVM_API int sbvm_channel_ring_write(sbvm_channel *ch, int ring, const void *msg, size_t len,
                                     uint32_t tag, sbvm_error **err)
{
    struct hring *hr = get_ring(ch, ring);
    int r;

    if (ch && ch->state != CHAN_OPEN)
        return chan_ended(ch, err);
    if (!hr || hr->dir != SBVM_RING_TO_GUEST)
        return error_set(err, ENOENT, "writing ring %d: no such ring to the guest", ring);
    r = ring_push(&hr->end, msg, len, tag);
    if (r == -EAGAIN) {
        /* Ask the guest to ring when it takes a message, then try once
         * more: it may have taken one before it could see the request. */
        shm_store32(&hr->end.ctl->prod_wait, 1, memory_order_relaxed);
        shm_fence();
        if (ring_peer_moved(&hr->end))
            r = ring_push(&hr->end, msg, len, tag);
        if (r == -EAGAIN) {
            hr->blocked = true;
            return r;
        }
    }
    if (r == 0) {
        hr->blocked = false;
        ch->st.msgs_written++;
        ch->st.bytes_written += len;
        chan_wake_guest(ch);
        return 0;
    }
    if (r == -EPROTO)
        return ring_fault_end(ch, ring, err);
    return error_set(err, -r, "writing ring %d: a %zu-byte message exceeds its %u", ring, len,
                     hr->end.max_msg);
}

/* Whether [off, off+len) lies inside one region handed out. */
static bool in_region(const struct sbvm_channel *ch, uint64_t off, size_t len)
{
    for (size_t i = 0; i < ch->nregions; i++) {
        const struct region *g = &ch->regions[i];
        if (off >= g->off && off - g->off <= g->len && len <= g->len - (off - g->off))
            return true;
    }
    return false;
}

SBVM_API int sbvm_channel_copy_from(sbvm_channel *ch, uint64_t offset, void *dst, size_t len,
                                    sbvm_error **err)
{
    if (!ch)
        return error_set(err, EINVAL, "copying from the window: no channel");
    if (ch->state != CHAN_OPEN)
        return chan_ended(ch, err);
    if (!in_region(ch, offset, len))
        return error_set(err, EFAULT,
                         "copying %zu bytes at window offset %llu: not inside a guest region", len,
                         (unsigned long long)offset);
    shm_copy_in(dst, ch->win.base + offset, len);
    return 0;
}

SBVM_API int sbvm_channel_copy_to(sbvm_channel *ch, uint64_t offset, const void *src, size_t len,
                                  sbvm_error **err)
{
    if (!ch)
        return error_set(err, EINVAL, "copying to the window: no channel");
    if (ch->state != CHAN_OPEN)
        return chan_ended(ch, err);
    if (!in_region(ch, offset, len))
        return error_set(err, EFAULT,
                         "copying %zu bytes to window offset %llu: not inside a guest region", len,
                         (unsigned long long)offset);
    memcpy(ch->win.base + offset, src, len);
    return 0;
}
