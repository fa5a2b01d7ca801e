/* SPDX-License-Identifier: MIT */
/*
 * test-shm-threads.c: host and guest as two threads over one mapping of one
 * window, so that ThreadSanitizer (scripts/test.sh's build-tsan) sees every
 * access of both sides and the orderings between them: the bare ring, then
 * the SDK against the host library, served blocking and from an event loop.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "shm-util.h"
#include "shm/chan.h"
#include "shm/ringcore.h"
#include "unit.h"

#define SEC (1000ll * 1000 * 1000)

/* The SDK's test-only entry (compiled with SBVM_GUEST_TESTING). */
int sbvm__hello_shared(int fd, uint32_t abi, void *base);

static void pattern(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed ^ (i * 29));
}

/* ------------------------------------------------------------------------ */

#define RING_MSGS 200000u

struct bare {
    struct sbvm_ring_ctl ctl __attribute__((aligned(64)));
    uint8_t data[4096] __attribute__((aligned(64)));
};

static void *bare_producer(void *arg)
{
    struct bare *b = arg;
    struct ring_end p;
    uint8_t msg[64];

    ring_end_init(&p, b->data, &b->ctl, sizeof(b->data), 64, 1, 0);
    for (uint32_t i = 0; i < RING_MSGS; i++) {
        size_t len = i % 65;
        pattern(msg, len, i);
        while (ring_push(&p, msg, len, i) == -EAGAIN)
            sched_yield();
    }
    return NULL;
}

START_TEST(the_bare_ring_carries_messages_between_two_threads)
{
    struct bare *b = aligned_alloc(64, sizeof(*b));
    struct ring_end c;
    uint8_t msg[64], want[64];
    pthread_t t;
    uint32_t tag;

    memset(b, 0, sizeof(*b));
    ring_end_init(&c, b->data, &b->ctl, sizeof(b->data), 64, 0, 0);
    ck_assert_int_eq(pthread_create(&t, NULL, bare_producer, b), 0);
    for (uint32_t i = 0; i < RING_MSGS; i++) {
        long n;
        while ((n = ring_pop(&c, msg, sizeof(msg), &tag, NULL)) == -EAGAIN)
            sched_yield();
        ck_assert_int_eq(n, i % 65);
        ck_assert_uint_eq(tag, i);
        pattern(want, (size_t)n, i);
        ck_assert_mem_eq(msg, want, (size_t)n);
    }
    ck_assert_int_eq(ring_pop(&c, msg, sizeof(msg), &tag, NULL), -EAGAIN);
    pthread_join(t, NULL);
    ck_assert_int_eq(c.fault, RING_OK);
    free(b);
}
END_TEST

/* ------------------------------------------------------------------------ */

enum { FN_ADD = 300, FN_DONE };
#define STREAM_BYTES (4u << 20)
#define CHUNK        4096u

struct duo {
    sbvm_channel *ch;
    int gfd;
    int loop; /* the host serves from epoll + service(), else wait() */
    _Atomic int stop;
    /* Host side: what it read and the guest's claim about it. */
    uint64_t host_sum, host_bytes, guest_sum;
    int guest_rc;
    const char *guest_why;
};

static int32_t fn_add(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                      size_t out_cap, size_t *out_len, void *ud)
{
    uint32_t v[2];

    (void)ch, (void)id, (void)out, (void)out_cap, (void)ud;
    *out_len = 0;
    if (in_len != sizeof(v))
        return -1;
    memcpy(v, in, sizeof(v));
    return (int32_t)(v[0] + v[1]);
}

static int32_t fn_done(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                       size_t out_cap, size_t *out_len, void *ud)
{
    struct duo *d = sbvm_channel_userdata(ch);

    (void)id, (void)out, (void)out_cap, (void)ud;
    *out_len = 0;
    if (in_len != sizeof(d->guest_sum))
        return -1;
    memcpy(&d->guest_sum, in, sizeof(d->guest_sum));
    return 0;
}

static uint64_t sum_bytes(uint64_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s = s * 31 + p[i];
    return s;
}

#define GT(cond)                                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            d->guest_why = #cond;                                                                  \
            d->guest_rc = __LINE__;                                                                \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

static void *guest_thread(void *arg)
{
    struct duo *d = arg;
    static uint8_t chunk[CHUNK];
    uint64_t sum = 0;
    uint32_t v[2];
    int32_t res;
    int ring, back;

    GT(sbvm__hello_shared(d->gfd, SBVM_ABI_VERSION, chan_window(d->ch)->base) == 0);
    /* Calls, spinning and then sleeping. */
    for (uint32_t i = 0; i < 2000; i++) {
        if (i == 1000)
            sbvm_set_spin(0, 0);
        v[0] = i;
        v[1] = 7;
        GT(sbvm_hostcall(FN_ADD, v, sizeof(v), NULL, 0, NULL, &res) == 0);
        GT(res == (int32_t)i + 7);
    }
    sbvm_set_spin(20000, 0);
    /* A stream to the host... */
    ring = sbvm_ring_negotiate(SBVM_RING_TO_HOST, 64 << 10, CHUNK);
    GT(ring >= 0);
    back = sbvm_ring_negotiate(SBVM_RING_TO_GUEST, 128 << 10, 0);
    GT(back >= 0);
    for (uint32_t off = 0; off < STREAM_BYTES; off += CHUNK) {
        pattern(chunk, CHUNK, off);
        sum = sum_bytes(sum, chunk, CHUNK);
        GT(sbvm_ring_push(ring, chunk, CHUNK, off, 0) == 0);
    }
    /* ...and the host's echo of every 64th chunk back. */
    for (uint32_t i = 0; i < STREAM_BYTES / CHUNK / 64; i++) {
        uint32_t tag;
        long n = sbvm_ring_pop(back, chunk, sizeof(chunk), &tag, 0);
        uint8_t want[CHUNK];
        GT(n == CHUNK && tag == i * 64 * CHUNK);
        pattern(want, CHUNK, tag);
        GT(memcmp(chunk, want, CHUNK) == 0);
    }
    GT(sbvm_hostcall(FN_DONE, &sum, sizeof(sum), NULL, 0, NULL, &res) == 0 && res == 0);
    sbvm_goodbye();
    return NULL;
}

/* Drains the stream; echoes every 64th chunk back (keeping what did not fit). */
static void host_rings(struct duo *d, uint8_t *echo, int *echo_pending, uint32_t *echo_tag)
{
    static uint8_t buf[CHUNK];
    uint32_t tag;
    long n;

    if (sbvm_channel_ring_count(d->ch) < 2)
        return;
    for (;;) {
        if (*echo_pending) {
            int r = sbvm_channel_ring_write(d->ch, 1, echo, CHUNK, *echo_tag, NULL);
            if (r == -EAGAIN)
                return;
            ck_assert_int_eq(r, 0);
            *echo_pending = 0;
        }
        n = sbvm_channel_ring_read(d->ch, 0, buf, sizeof(buf), &tag, NULL);
        if (n == -EAGAIN)
            return;
        ck_assert_int_eq(n, CHUNK);
        d->host_sum = sum_bytes(d->host_sum, buf, (size_t)n);
        d->host_bytes += (uint64_t)n;
        if ((tag / CHUNK) % 64 == 0) {
            memcpy(echo, buf, CHUNK);
            *echo_tag = tag;
            *echo_pending = 1;
        }
    }
}

static void *host_thread(void *arg)
{
    struct duo *d = arg;
    static uint8_t echo[CHUNK];
    int echo_pending = 0, ep = -1;
    uint32_t echo_tag = 0;

    if (d->loop) {
        struct epoll_event e = { .events = EPOLLIN };
        ep = epoll_create1(EPOLL_CLOEXEC);
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, sbvm_channel_fd(d->ch), &e), 0);
    }
    while (!atomic_load(&d->stop)) {
        int r;
        if (d->loop) {
            struct epoll_event e;
            if (epoll_wait(ep, &e, 1, 10) <= 0)
                continue;
            r = sbvm_channel_service(d->ch, NULL);
        } else {
            r = sbvm_channel_wait(d->ch, 10 * 1000 * 1000, NULL);
        }
        if (r == -EPIPE)
            break; /* the guest said goodbye (its socket hung up) */
        ck_assert_int_ge(r, 0);
        host_rings(d, echo, &echo_pending, &echo_tag);
    }
    if (ep >= 0)
        close(ep);
    return NULL;
}

static void run_duo(int loop)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    struct duo d = { .loop = loop };
    pthread_t h, g;

    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, FN_ADD, fn_add, NULL, NULL), 0);
    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, FN_DONE, fn_done, NULL, NULL), 0);
    sbvm_channel_config_set_spin(cfg, 20000, 0);
    d.ch = shm_new(cfg);
    sbvm_channel_set_userdata(d.ch, &d);
    /* The SDK owns (and closes) the fd it is given. */
    d.gfd = dup(sbvm_channel_guest_fd(d.ch));
    sbvm_channel_close_guest_fd(d.ch);
    ck_assert_int_eq(pthread_create(&h, NULL, host_thread, &d), 0);
    ck_assert_int_eq(pthread_create(&g, NULL, guest_thread, &d), 0);
    pthread_join(g, NULL);
    atomic_store(&d.stop, 1);
    pthread_join(h, NULL);
    ck_assert_msg(d.guest_rc == 0, "guest line %d: %s", d.guest_rc, d.guest_why);
    ck_assert_uint_eq(d.host_bytes, STREAM_BYTES);
    ck_assert_uint_eq(d.host_sum, d.guest_sum);
    sbvm_channel_free(d.ch);
    sbvm_channel_config_free(cfg);
}

START_TEST(sdk_and_host_threads_share_one_window_host_waiting)
{
    run_duo(0);
}
END_TEST

START_TEST(sdk_and_host_threads_share_one_window_host_in_an_event_loop)
{
    run_duo(1);
}
END_TEST

Suite *suite_shm_threads(void)
{
    Suite *s = suite_create("shm-threads");
    TCase *tc = tcase_create("threads");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, the_bare_ring_carries_messages_between_two_threads);
    tcase_add_test(tc, sdk_and_host_threads_share_one_window_host_waiting);
    tcase_add_test(tc, sdk_and_host_threads_share_one_window_host_in_an_event_loop);
    suite_add_tcase(s, tc);
    return s;
}
