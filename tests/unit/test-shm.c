/* SPDX-License-Identifier: MIT */
/*
 * test-shm.c: the host channel between two processes: configuration, the
 * guest SDK without and with a channel, host calls (registered, deferred,
 * failing), logs, rings both ways, growth, regions, many channels in one
 * event loop, and the end of a channel seen from either side.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm-util.h"
#include "unit.h"

#define SEC (1000ll * 1000 * 1000)

enum { FN_ADD = 300, FN_ECHO, FN_BIG, FN_DEFER, FN_SUM_REGION, FN_CHECK };

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

static int32_t fn_echo(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                       size_t out_cap, size_t *out_len, void *ud)
{
    (void)ch, (void)id, (void)ud;
    if (in_len > out_cap)
        in_len = out_cap;
    memcpy(out, in, in_len);
    *out_len = in_len;
    return (int32_t)in_len;
}

/* Claims more than it may write: the guest must get -EMSGSIZE. */
static int32_t fn_big(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                      size_t out_cap, size_t *out_len, void *ud)
{
    (void)ch, (void)id, (void)in, (void)in_len, (void)out, (void)ud;
    *out_len = out_cap + 1;
    return 0;
}

static sbvm_channel_config *std_config(void)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();

    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, FN_ADD, fn_add, NULL, NULL), 0);
    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, FN_ECHO, fn_echo, NULL, NULL), 0);
    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, FN_BIG, fn_big, NULL, NULL), 0);
    return cfg;
}

START_TEST(config_refuses_bad_limits_with_a_reason)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    sbvm_error *err = NULL;

    ck_assert_int_eq(sbvm_channel_config_set_window(cfg, 2 << 20, 1 << 20, &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "exceeds the limit"));
    sbvm_error_free(err);
    err = NULL;
    ck_assert_int_eq(sbvm_channel_config_set_window(cfg, 1 << 20, (2ull << 40), NULL), -EINVAL);
    ck_assert_int_eq(sbvm_channel_config_set_slots(cfg, 0, 4096, NULL), -EINVAL);
    ck_assert_int_eq(sbvm_channel_config_set_slots(cfg, 65, 4096, NULL), -EINVAL);
    ck_assert_int_eq(sbvm_channel_config_set_slots(cfg, 4, 32, NULL), -EINVAL);
    ck_assert_int_eq(sbvm_channel_config_set_slots(cfg, 4, (32u << 20), NULL), -EINVAL);
    ck_assert_int_eq(sbvm_channel_config_set_rings(cfg, 63, 4096, NULL), -EINVAL);
    ck_assert_int_eq(sbvm_channel_config_set_rings(cfg, 4, 16, NULL), -EINVAL);
    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, 255, fn_add, NULL, &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "reserved"));
    sbvm_error_free(err);
    ck_assert_int_eq(sbvm_channel_config_set_slots(cfg, 64, 100, NULL), 0);
    ck_assert_int_eq(sbvm_channel_config_set_rings(cfg, 62, 1 << 30, NULL), 0);
    sbvm_channel_config_free(cfg);
}
END_TEST

START_TEST(a_new_channel_has_its_fds_close_on_exec_and_a_sealed_window)
{
    sbvm_channel *ch = shm_new(NULL);
    int fd = sbvm_channel_fd(ch), gfd = sbvm_channel_guest_fd(ch);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(gfd, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_ne(fcntl(gfd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_uint_ge(sbvm_channel_window_size(ch), 1 << 20);
    ck_assert_ptr_null(sbvm_channel_error(ch));
    ck_assert_int_eq(sbvm_channel_service(ch, NULL), 0);
    sbvm_channel_close_guest_fd(ch);
    ck_assert_int_eq(sbvm_channel_guest_fd(ch), -1);
    sbvm_channel_free(ch);
    sbvm_channel_free(NULL);
}
END_TEST

START_TEST(without_a_channel_every_sdk_call_says_so)
{
    char buf[8];
    int sv[2], fd;

    unsetenv(SBVM_CHANNEL_ENV);
    ck_assert_int_eq(sbvm_hello(SBVM_ABI_VERSION), -ENOTCONN);
    ck_assert_ptr_nonnull(strstr(sbvm_strerror(-ENOTCONN), "SBVM_CHANNEL"));
    ck_assert_int_eq(sbvm_connected(), 0);
    ck_assert_int_eq(sbvm_hostcall(FN_ADD, "a", 1, buf, sizeof(buf), NULL, NULL), -ENOTCONN);
    ck_assert_int_eq(sbvm_log(SBVM_LOG_INFO, "x"), -ENOTCONN);
    ck_assert_int_eq(sbvm_logf(SBVM_LOG_INFO, "%d", 1), -ENOTCONN);
    ck_assert_int_eq(sbvm_ring_negotiate(SBVM_RING_TO_HOST, 4096, 0), -ENOTCONN);
    ck_assert_int_eq(sbvm_ring_push(0, "a", 1, 0, 0), -ENOTCONN);
    ck_assert_int_eq(sbvm_ring_pop(0, buf, sizeof(buf), NULL, 0), -ENOTCONN);
    ck_assert_int_eq(sbvm_doorbell(), -ENOTCONN);
    ck_assert_int_eq(sbvm_wait(0), -ENOTCONN);
    ck_assert_int_eq(sbvm_grow(1 << 30, NULL), -ENOTCONN);
    ck_assert_int_eq(sbvm_window_info(NULL, NULL, NULL, NULL), -ENOTCONN);
    errno = 0;
    ck_assert_ptr_null(sbvm_region_alloc(4096, NULL));
    ck_assert_int_eq(errno, ENOTCONN);
    sbvm_goodbye(); /* harmless */

    /* A variable that does not name a socket, or a socket with no host. */
    setenv(SBVM_CHANNEL_ENV, "3x", 1);
    ck_assert_int_eq(sbvm_hello(SBVM_ABI_VERSION), -EBADF);
    fd = open("/dev/null", O_RDONLY);
    snprintf(buf, sizeof(buf), "%d", fd);
    setenv(SBVM_CHANNEL_ENV, buf, 1);
    ck_assert_int_eq(sbvm_hello(SBVM_ABI_VERSION), -EBADF);
    close(fd);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    snprintf(buf, sizeof(buf), "%d", sv[0]);
    setenv(SBVM_CHANNEL_ENV, buf, 1);
    ck_assert_int_eq(sbvm_hello(SBVM_ABI_VERSION), -EPROTO);
    ck_assert_int_eq(sbvm_connected(), 0);
    /* And a guest built for another major version is refused before anything. */
    ck_assert_int_eq(sbvm_hello_fd(sv[0], (SBVM_ABI_MAJOR + 1) << 16), -EPROTONOSUPPORT);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

static int guest_calls(void *arg)
{
    uint32_t v[2] = { 40, 2 }, nslots, slot_size;
    char out[64], big[70000];
    size_t out_len = 99;
    int32_t res = 0;

    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    GX(getenv(SBVM_CHANNEL_ENV) == NULL);
    GX(fcntl(3, F_GETFD) & FD_CLOEXEC);
    GXR(sbvm_hello(SBVM_ABI_VERSION), -EALREADY);
    GXR(sbvm_window_info(NULL, NULL, &nslots, &slot_size), 0);
    GX(nslots == 4 && slot_size == 65536);
    GXR(sbvm_hostcall(FN_ADD, v, sizeof(v), NULL, 0, &out_len, &res), 0);
    GX(res == 42 && out_len == 0);
    GXR(sbvm_hostcall(FN_ECHO, "hello", 5, out, sizeof(out), &out_len, &res), 0);
    GX(res == 5 && out_len == 5 && memcmp(out, "hello", 5) == 0);
    /* The answer is cut to what the guest takes. */
    GXR(sbvm_hostcall(FN_ECHO, "hello", 5, out, 3, &out_len, &res), 0);
    GX(out_len == 3 && memcmp(out, "hel", 3) == 0);
    /* Errors of the channel, each as documented. */
    GXR(sbvm_hostcall(999, "x", 1, out, sizeof(out), NULL, &res), -ENOSYS);
    GXR(sbvm_hostcall(SBVM_CALL_LOG, "x", 1, NULL, 0, NULL, &res), -EINVAL);
    memset(big, 'b', sizeof(big));
    GXR(sbvm_hostcall(FN_ECHO, big, sizeof(big), out, sizeof(out), NULL, &res), -E2BIG);
    GXR(sbvm_hostcall(FN_BIG, "x", 1, out, sizeof(out), NULL, &res), -EMSGSIZE);
    /* The channel still works after every error. */
    GXR(sbvm_hostcall(FN_ADD, v, sizeof(v), NULL, 0, NULL, &res), 0);
    GX(res == 42);
    sbvm_goodbye();
    GX(sbvm_connected() == 0);
    return 0;
}

START_TEST(a_guest_process_calls_host_functions_and_gets_exact_errors)
{
    sbvm_channel_config *cfg = std_config();
    sbvm_channel *ch = shm_new(cfg);
    struct sbvm_channel_stats st;
    pid_t pid = shm_spawn(ch, guest_calls, NULL);

    ck_assert_int_eq(shm_serve(ch, pid, 20 * SEC, NULL), 0);
    ck_assert_uint_eq(sbvm_channel_guest_abi(ch), SBVM_ABI_VERSION);
    sbvm_channel_stats(ch, &st);
    /* hello + 6 calls; the SDK refused -E2BIG and the reserved id itself. */
    ck_assert_uint_eq(st.calls, 7);
    ck_assert_uint_eq(st.call_errors, 2);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
}
END_TEST

struct logbook {
    unsigned n, level;
    size_t len;
    char first[64];
};

static void log_fn(sbvm_channel *ch, unsigned level, const char *text, size_t len, void *ud)
{
    struct logbook *lb = ud;

    (void)ch;
    if (lb->n++ == 0) {
        lb->level = level;
        memcpy(lb->first, text, len < sizeof(lb->first) - 1 ? len : sizeof(lb->first) - 1);
    }
    lb->len = len;
}

static int guest_logs(void *arg)
{
    static char huge[200000];

    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    GXR(sbvm_logf(SBVM_LOG_WARN, "disk %d%% full", 93), 0);
    memset(huge, 'x', sizeof(huge) - 1);
    GXR(sbvm_log(SBVM_LOG_INFO, huge), 0);
    return 0;
}

START_TEST(guest_log_lines_reach_the_host_cut_to_the_slot)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    struct logbook lb = { 0 };
    sbvm_channel *ch;
    pid_t pid;

    sbvm_channel_config_set_log(cfg, log_fn, &lb);
    ch = shm_new(cfg);
    pid = shm_spawn(ch, guest_logs, NULL);
    ck_assert_int_eq(shm_serve(ch, pid, 20 * SEC, NULL), 0);
    ck_assert_uint_eq(lb.n, 2);
    ck_assert_uint_eq(lb.level, SBVM_LOG_WARN);
    ck_assert_str_eq(lb.first, "disk 93% full");
    ck_assert_uint_eq(lb.len, 65536 - sizeof(struct sbvm_log_in));
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
}
END_TEST

static int guest_deferred(void *arg)
{
    char out[16];
    size_t n = 0;
    int32_t res = 0;

    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    GXR(sbvm_hostcall(FN_DEFER, "ping", 4, out, sizeof(out), &n, &res), 0);
    GX(res == 7 && n == 4 && memcmp(out, "pong", 4) == 0);
    return 0;
}

START_TEST(a_deferred_call_is_a_hostcall_exit_of_wait)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    struct sbvm_channel_call call;
    sbvm_error *err = NULL;
    sbvm_channel *ch;
    int ev = 0, seen = 0;
    pid_t pid;

    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, FN_DEFER, NULL, NULL, NULL), 0);
    ch = shm_new(cfg);
    pid = shm_spawn(ch, guest_deferred, NULL);
    ck_assert_int_eq(sbvm_channel_call_next(ch, &call), 0);
    while (!(ev & SBVM_CHANNEL_EV_CALL)) {
        ev = sbvm_channel_wait(ch, 10 * SEC, NULL);
        ck_assert_int_gt(ev, 0);
        seen |= ev;
    }
    ck_assert_int_ne(seen & SBVM_CHANNEL_EV_HELLO, 0);
    ck_assert_int_eq(sbvm_channel_call_next(ch, &call), 1);
    ck_assert_int_eq(sbvm_channel_call_next(ch, &call), 0); /* taken once */
    ck_assert_uint_eq(call.id, FN_DEFER);
    ck_assert_uint_eq(call.in_len, 4);
    ck_assert_mem_eq(call.in, "ping", 4);
    ck_assert_uint_eq(call.out_cap, 16);
    /* Too long an answer is refused and leaves the call waiting. */
    ck_assert_int_eq(sbvm_channel_call_answer(ch, &call, 0, "0123456789abcdefX", 17, &err),
                     -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "exceed"));
    sbvm_error_free(err);
    ck_assert_int_eq(sbvm_channel_call_answer(ch, &call, 7, "pong", 4, NULL), 0);
    ck_assert_int_eq(sbvm_channel_call_answer(ch, &call, 7, "pong", 4, NULL), -EINVAL);
    ck_assert_int_eq(shm_serve(ch, pid, 10 * SEC, NULL), 0);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
}
END_TEST

/* A stream with messages of every size up to 300 bytes through a 4 KiB
 * ring, so that messages wrap at every offset. */
#define STREAM_N 20000
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131 + i * 7);
}

static int guest_streams(void *arg)
{
    uint8_t msg[300];
    unsigned dir;
    size_t cap, max;
    int ring;

    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    ring = sbvm_ring_negotiate(SBVM_RING_TO_HOST, 4000, 300);
    GX(ring >= 0);
    GXR(sbvm_ring_info(ring, &dir, &cap, &max), 0);
    GX(dir == SBVM_RING_TO_HOST && cap == 4096 && max == 300);
    GXR(sbvm_ring_push(ring, msg, 301, 0, 0), -EMSGSIZE);
    GXR(sbvm_ring_pop(ring, msg, sizeof(msg), NULL, 0), -ENOENT); /* wrong direction */
    for (uint32_t i = 0; i < STREAM_N; i++) {
        size_t len = i % 301;
        fill(msg, len, i);
        GXR(sbvm_ring_push(ring, msg, len, i, 0), 0);
    }
    return 0;
}

START_TEST(a_ring_carries_a_stream_from_guest_to_host_in_order)
{
    sbvm_channel *ch = shm_new(NULL);
    uint8_t buf[300], want[300];
    uint32_t next = 0, tag;
    pid_t pid = shm_spawn(ch, guest_streams, NULL);
    int64_t end = shm_now() + 30 * SEC;
    int ring = -1, st;

    while (next < STREAM_N && shm_now() < end) {
        int ev = sbvm_channel_wait(ch, SEC, NULL);
        ck_assert_int_ge(ev, 0);
        if (ev & SBVM_CHANNEL_EV_RINGS) {
            ck_assert_int_eq(sbvm_channel_ring_count(ch), 1);
            ring = 0;
        }
        if (ring < 0)
            continue;
        for (;;) {
            long n = sbvm_channel_ring_read(ch, ring, buf, sizeof(buf), &tag, NULL);
            if (n == -EAGAIN)
                break;
            ck_assert_int_ge(n, 0);
            ck_assert_uint_eq(tag, next);
            ck_assert_int_eq(n, next % 301);
            fill(want, (size_t)n, next);
            ck_assert_mem_eq(buf, want, (size_t)n);
            next++;
        }
    }
    ck_assert_uint_eq(next, STREAM_N);
    st = shm_reap(pid, 10 * SEC);
    ck_assert_int_eq(st, 0);
    sbvm_channel_free(ch);
}
END_TEST

static int guest_consumes(void *arg)
{
    uint8_t msg[300], want[300];
    uint64_t sum = 0;
    uint32_t tag;
    int32_t res;
    int ring;

    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    ring = sbvm_ring_negotiate(SBVM_RING_TO_GUEST, 4096, 0);
    GX(ring >= 0);
    /* Let the host fill the ring first: it must not block meanwhile. */
    GXR(sbvm_hostcall(FN_CHECK, NULL, 0, NULL, 0, NULL, &res), 0);
    for (uint32_t i = 0; i < STREAM_N; i++) {
        long n = sbvm_ring_pop(ring, msg, sizeof(msg), &tag, 0);
        GX(n == (long)(i % 301) && tag == i);
        fill(want, (size_t)n, i);
        GX(memcmp(msg, want, (size_t)n) == 0);
        sum += (uint64_t)n;
    }
    GXR(sbvm_ring_pop(ring, msg, sizeof(msg), &tag, SBVM_NONBLOCK), -EAGAIN);
    return sum > 0 ? 0 : 1;
}

START_TEST(a_ring_to_the_guest_never_blocks_the_host_and_reports_room)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    uint8_t msg[300];
    uint32_t next = 0;
    sbvm_channel *ch;
    int64_t end = shm_now() + 30 * SEC;
    int ring = -1, full = 0, room = 0, answered = 0;
    pid_t pid;

    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, FN_CHECK, NULL, NULL, NULL), 0);
    ch = shm_new(cfg);
    pid = shm_spawn(ch, guest_consumes, NULL);
    while (next < STREAM_N && shm_now() < end) {
        struct sbvm_channel_call call;
        int ev = sbvm_channel_wait(ch, SEC, NULL);
        ck_assert_int_ge(ev, 0);
        if (ev & SBVM_CHANNEL_EV_RINGS)
            ring = 0;
        if (ev & SBVM_CHANNEL_EV_WRITE)
            room++;
        if (ring < 0)
            continue;
        for (;;) {
            size_t len = next % 301;
            int r;
            fill(msg, len, next);
            r = sbvm_channel_ring_write(ch, ring, msg, len, next, NULL);
            if (r == -EAGAIN) {
                full++;
                break;
            }
            ck_assert_int_eq(r, 0);
            if (++next == STREAM_N)
                break;
        }
        /* Only once the ring is full does the guest start to consume. */
        if (full && !answered && sbvm_channel_call_next(ch, &call) == 1) {
            ck_assert_int_eq(sbvm_channel_call_answer(ch, &call, 0, NULL, 0, NULL), 0);
            answered = 1;
        }
    }
    ck_assert_uint_eq(next, STREAM_N);
    ck_assert_int_gt(full, 1);
    ck_assert_int_gt(room, 0);
    ck_assert_int_eq(shm_serve(ch, pid, 20 * SEC, NULL), 0);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
}
END_TEST

static int guest_grows(void *arg)
{
    uint64_t size = 0, max = 0, now = 0;
    int32_t res;
    uint32_t v[2] = { 1, 2 };
    uint8_t *p;

    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    GXR(sbvm_window_info(&size, &max, NULL, NULL), 0);
    GX(size == (1u << 20) && max == (4u << 20));
    GXR(sbvm_grow(3u << 20, &now), 0);
    GX(now == (3u << 20));
    /* The new part is mapped and shared: use it through a region. */
    p = sbvm_region_alloc(512 << 10, NULL);
    GX(p != NULL);
    memset(p, 0xab, 512 << 10);
    /* Past the limit: refused, and nothing else changes. */
    GXR(sbvm_grow((4u << 20) + 1, &now), -ENOSPC);
    GX(now == (3u << 20));
    GXR(sbvm_grow(UINT64_MAX, NULL), -ENOSPC);
    errno = 0;
    GX(sbvm_region_alloc(8u << 20, NULL) == NULL && errno == ENOSPC);
    GXR(sbvm_hostcall(FN_ADD, v, sizeof(v), NULL, 0, NULL, &res), 0);
    GX(res == 3);
    /* Rings grow it too, up to the limit. */
    GX(sbvm_ring_negotiate(SBVM_RING_TO_HOST, 512 << 10, 0) >= 0);
    GXR(sbvm_ring_negotiate(SBVM_RING_TO_HOST, 4 << 20, 0), -ENOSPC);
    GXR(sbvm_window_info(&size, NULL, NULL, NULL), 0);
    GX(size <= (4u << 20));
    return 0;
}

START_TEST(the_window_grows_while_in_use_within_the_hosts_limit)
{
    sbvm_channel_config *cfg = std_config();
    struct sbvm_channel_stats st;
    sbvm_channel *ch;
    pid_t pid;

    ck_assert_int_eq(sbvm_channel_config_set_window(cfg, 1 << 20, 4 << 20, NULL), 0);
    ch = shm_new(cfg);
    pid = shm_spawn(ch, guest_grows, NULL);
    ck_assert_int_eq(shm_serve(ch, pid, 20 * SEC, NULL), 0);
    ck_assert_uint_ge(sbvm_channel_window_size(ch), 3u << 20);
    ck_assert_uint_le(sbvm_channel_window_size(ch), 4u << 20);
    sbvm_channel_stats(ch, &st);
    ck_assert_uint_ge(st.grows, 1);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
}
END_TEST

static int32_t fn_sum_region(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len,
                             void *out, size_t out_cap, size_t *out_len, void *ud)
{
    uint64_t a[2];
    uint8_t buf[10000];
    int32_t sum = 0;

    (void)id, (void)out, (void)out_cap, (void)ud;
    *out_len = 0;
    if (in_len != sizeof(a))
        return -1;
    memcpy(a, in, sizeof(a));
    if (a[1] > sizeof(buf) || sbvm_channel_copy_from(ch, a[0], buf, a[1], NULL) < 0)
        return -2;
    for (size_t i = 0; i < a[1]; i++)
        sum += buf[i];
    return sum;
}

static int guest_regions(void *arg)
{
    uint64_t off = 0, a[2];
    int32_t res = 0;
    uint8_t *p;

    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    p = sbvm_region_alloc(10000, &off);
    GX(p != NULL && off > 0);
    memset(p, 2, 10000);
    a[0] = off;
    a[1] = 10000;
    GXR(sbvm_hostcall(FN_SUM_REGION, a, sizeof(a), NULL, 0, NULL, &res), 0);
    GX(res == 20000);
    /* Offsets outside any region: the header, the slots, past the end. */
    a[0] = 0;
    a[1] = 16;
    GXR(sbvm_hostcall(FN_SUM_REGION, a, sizeof(a), NULL, 0, NULL, &res), 0);
    GX(res == -2);
    a[0] = off + 8192;
    a[1] = 8192;
    GXR(sbvm_hostcall(FN_SUM_REGION, a, sizeof(a), NULL, 0, NULL, &res), 0);
    GX(res == -2);
    a[0] = UINT64_MAX - 4;
    a[1] = 8;
    GXR(sbvm_hostcall(FN_SUM_REGION, a, sizeof(a), NULL, 0, NULL, &res), 0);
    GX(res == -2);
    return 0;
}

START_TEST(a_guest_region_is_read_by_offset_and_bounds_checked)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    sbvm_channel *ch;
    pid_t pid;

    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, FN_SUM_REGION, fn_sum_region, NULL, NULL),
                     0);
    ch = shm_new(cfg);
    pid = shm_spawn(ch, guest_regions, NULL);
    ck_assert_int_eq(shm_serve(ch, pid, 20 * SEC, NULL), 0);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
}
END_TEST

static int guest_many_calls(void *arg)
{
    int n = *(int *)arg;
    uint32_t v[2];
    int32_t res;

    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    for (int i = 0; i < n; i++) {
        v[0] = (uint32_t)i;
        v[1] = 1;
        GXR(sbvm_hostcall(FN_ADD, v, sizeof(v), NULL, 0, NULL, &res), 0);
        GX(res == i + 1);
    }
    return 0;
}

START_TEST(one_event_loop_serves_many_channels)
{
    enum { N = 3 };
    sbvm_channel_config *cfg = std_config();
    sbvm_channel *ch[N];
    pid_t pid[N];
    int ep = epoll_create1(EPOLL_CLOEXEC), calls = 500, live = N;
    int64_t end = shm_now() + 30 * SEC;

    for (int i = 0; i < N; i++) {
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        ch[i] = shm_new(cfg);
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, sbvm_channel_fd(ch[i]), &e), 0);
        pid[i] = shm_spawn(ch[i], guest_many_calls, &calls);
    }
    while (live > 0 && shm_now() < end) {
        struct epoll_event evs[N];
        int n = epoll_wait(ep, evs, N, 1000);
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32;
            int r = sbvm_channel_service(ch[i], NULL);
            if (r == -EPIPE) {
                ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, sbvm_channel_fd(ch[i]), NULL), 0);
                live--;
            } else {
                ck_assert_int_ge(r, 0);
            }
        }
    }
    ck_assert_int_eq(live, 0);
    for (int i = 0; i < N; i++) {
        struct sbvm_channel_stats st;
        ck_assert_int_eq(shm_reap(pid[i], 5 * SEC), 0);
        sbvm_channel_stats(ch[i], &st);
        ck_assert_uint_eq(st.calls, (uint64_t)calls + 1);
        ck_assert_ptr_nonnull(strstr(sbvm_channel_error(ch[i]), "guest"));
        sbvm_channel_free(ch[i]);
    }
    close(ep);
    sbvm_channel_config_free(cfg);
}
END_TEST

static int guest_waits_forever(void *arg)
{
    int32_t res;
    int r;

    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    r = sbvm_hostcall(FN_DEFER, NULL, 0, NULL, 0, NULL, &res);
    GXR(r, -ECONNRESET);
    GXR(sbvm_hostcall(FN_DEFER, NULL, 0, NULL, 0, NULL, &res), -ECONNRESET);
    return 0;
}

START_TEST(a_call_after_the_host_closed_the_channel_fails_with_econnreset)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    sbvm_channel *ch;
    int ev = 0;
    pid_t pid;

    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, FN_DEFER, NULL, NULL, NULL), 0);
    ch = shm_new(cfg);
    pid = shm_spawn(ch, guest_waits_forever, NULL);
    while (!(ev & SBVM_CHANNEL_EV_CALL))
        ck_assert_int_gt(ev = sbvm_channel_wait(ch, 10 * SEC, NULL), 0);
    sbvm_channel_free(ch);
    ck_assert_int_eq(shm_reap(pid, 10 * SEC), 0);
    sbvm_channel_config_free(cfg);
}
END_TEST

/* The host is a child process that dies while the guest (its child) waits
 * for an answer; the guest reports what its call returned on a pipe. */
static int report_fd = -1;

static int guest_reports_host_death(void *arg)
{
    int32_t res;
    int r;

    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    sbvm_set_spin(0, 0);
    r = sbvm_hostcall(FN_DEFER, NULL, 0, NULL, 0, NULL, &res);
    if (write(report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        return 2;
    return 0;
}

static int host_that_dies(void *arg)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    sbvm_channel *ch;
    int ev = 0, gfd;
    pid_t pid;

    (void)arg;
    sbvm_channel_config_add_call(cfg, FN_DEFER, NULL, NULL, NULL);
    if (sbvm_channel_new(cfg, &ch, NULL) < 0)
        return 3;
    gfd = sbvm_channel_guest_fd(ch);
    pid = fork();
    if (pid == 0) {
        /* fd 3: the channel; the report pipe moves to 4; the rest (the
         * host's end among them) closed, as after an exec. */
        int g = fcntl(gfd, F_DUPFD, 100), rp = fcntl(report_fd, F_DUPFD, 100);
        dup2(g, 3);
        dup2(rp, 4);
        report_fd = 4;
        syscall(SYS_close_range, 5, ~0u, 0);
        setenv(SBVM_CHANNEL_ENV, "3", 1);
        _exit(guest_reports_host_death(NULL));
    }
    sbvm_channel_close_guest_fd(ch);
    while (!(ev & SBVM_CHANNEL_EV_CALL))
        if ((ev = sbvm_channel_wait(ch, 10 * SEC, NULL)) <= 0)
            return 4;
    _exit(0); /* dies without closing: the kernel closes its fds */
}

START_TEST(a_call_whose_host_died_fails_with_epipe)
{
    int p[2], r = 0;
    pid_t host;

    ck_assert_int_eq(pipe(p), 0);
    report_fd = p[1];
    host = shm_fork(host_that_dies, NULL);
    close(p[1]);
    ck_assert_int_eq(shm_reap(host, 10 * SEC), 0);
    ck_assert_int_eq(read(p[0], &r, sizeof(r)), sizeof(r));
    ck_assert_int_eq(r, -EPIPE);
    close(p[0]);
}
END_TEST

static int guest_hello_then_exit(void *arg)
{
    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    return 0;
}

START_TEST(a_dead_guest_ends_the_channel_with_epipe)
{
    sbvm_channel *ch = shm_new(NULL);
    sbvm_error *err = NULL;
    pid_t pid = shm_spawn(ch, guest_hello_then_exit, NULL);
    int64_t t0;
    int r = 0;

    while (!(r & SBVM_CHANNEL_EV_HELLO))
        ck_assert_int_gt(r = sbvm_channel_wait(ch, 10 * SEC, NULL), 0);
    ck_assert_int_eq(shm_reap(pid, 10 * SEC), 0);
    /* A blocking wait learns of it by itself, well before its timeout. */
    t0 = shm_now();
    r = sbvm_channel_wait(ch, 10 * SEC, &err);
    ck_assert_int_eq(r, -EPIPE);
    ck_assert_int_lt(shm_now() - t0, 2 * SEC);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "guest"));
    sbvm_error_free(err);
    err = NULL;
    ck_assert_int_eq(sbvm_channel_service(ch, &err), -EPIPE);
    sbvm_error_free(err);
    ck_assert_int_eq(sbvm_channel_ring_write(ch, 0, "x", 1, 0, NULL), -EPIPE);
    sbvm_channel_free(ch);
}
END_TEST

static int guest_hello_then_sleep(void *arg)
{
    (void)arg;
    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    for (;;)
        pause();
    return 0;
}

struct kick_wait {
    sbvm_channel *ch;
    int r;
    int64_t took;
};

static void *kick_waiter(void *arg)
{
    struct kick_wait *k = arg;
    int64_t t0 = shm_now();

    k->r = sbvm_channel_wait(k->ch, 60 * SEC, NULL);
    k->took = shm_now() - t0;
    return NULL;
}

START_TEST(a_kick_returns_a_waiter_at_once_and_shows_a_dead_guest)
{
    sbvm_channel *ch = shm_new(NULL);
    pid_t pid = shm_spawn(ch, guest_hello_then_sleep, NULL);
    struct kick_wait k = { .ch = ch, .r = -1 };
    pthread_t t;
    int r = 0;

    while (!(r & SBVM_CHANNEL_EV_HELLO))
        ck_assert_int_gt(r = sbvm_channel_wait(ch, 10 * SEC, NULL), 0);
    /* A live guest: the waiter comes back with nothing, long before its
     * minute is up (a kick before it sleeps counts too). */
    ck_assert_int_eq(pthread_create(&t, NULL, kick_waiter, &k), 0);
    sbvm_channel_kick(ch);
    pthread_join(t, NULL);
    ck_assert_int_eq(k.r, 0);
    ck_assert_int_lt(k.took, 30 * SEC);
    /* A dead guest, and a kick: the waiter sees it gone. */
    kill(pid, SIGKILL);
    ck_assert_int_eq(shm_reap(pid, 10 * SEC), 128 + SIGKILL);
    k.r = 1;
    ck_assert_int_eq(pthread_create(&t, NULL, kick_waiter, &k), 0);
    sbvm_channel_kick(ch);
    pthread_join(t, NULL);
    ck_assert_int_eq(k.r, -EPIPE);
    sbvm_channel_kick(NULL); /* does nothing */
    sbvm_channel_free(ch);
}
END_TEST

Suite *suite_shm(void)
{
    Suite *s = suite_create("shm");
    TCase *tc = tcase_create("channel");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, config_refuses_bad_limits_with_a_reason);
    tcase_add_test(tc, a_new_channel_has_its_fds_close_on_exec_and_a_sealed_window);
    tcase_add_test(tc, without_a_channel_every_sdk_call_says_so);
    tcase_add_test(tc, a_guest_process_calls_host_functions_and_gets_exact_errors);
    tcase_add_test(tc, guest_log_lines_reach_the_host_cut_to_the_slot);
    tcase_add_test(tc, a_deferred_call_is_a_hostcall_exit_of_wait);
    tcase_add_test(tc, a_ring_carries_a_stream_from_guest_to_host_in_order);
    tcase_add_test(tc, a_ring_to_the_guest_never_blocks_the_host_and_reports_room);
    tcase_add_test(tc, the_window_grows_while_in_use_within_the_hosts_limit);
    tcase_add_test(tc, a_guest_region_is_read_by_offset_and_bounds_checked);
    tcase_add_test(tc, one_event_loop_serves_many_channels);
    tcase_add_test(tc, a_call_after_the_host_closed_the_channel_fails_with_econnreset);
    tcase_add_test(tc, a_call_whose_host_died_fails_with_epipe);
    tcase_add_test(tc, a_dead_guest_ends_the_channel_with_epipe);
    tcase_add_test(tc, a_kick_returns_a_waiter_at_once_and_shows_a_dead_guest);
    suite_add_tcase(s, tc);
    return s;
}
