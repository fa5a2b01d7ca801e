/* SPDX-License-Identifier: MIT */
/*
 * test-shm-hostile.c: a guest that attacks its host through the window.
 * Each test writes what a hostile guest could write (through the same
 * shared memory) and asserts exactly how the host answers: an error to
 * the guest, or the end of that guest's channel with a reason, never a
 * crash, a hang, or harm to another channel.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm-util.h"
#include "shm/chan.h"
#include "unit.h"
#include "util/util.h"

#define SEC (1000ll * 1000 * 1000)

/* The window as the guest sees it (the same memory the host maps). */
static uint8_t *win(sbvm_channel *ch)
{
    return chan_window(ch)->base;
}

static struct sbvm_window_header *hdr(sbvm_channel *ch)
{
    return (struct sbvm_window_header *)(void *)win(ch);
}

static struct sbvm_window_ctl *ctl(sbvm_channel *ch)
{
    return (struct sbvm_window_ctl *)(void *)(win(ch) + hdr(ch)->ctl_off);
}

static struct sbvm_slot *slot(sbvm_channel *ch, unsigned i)
{
    return (struct sbvm_slot *)(void *)(win(ch) + hdr(ch)->slots_off) + i;
}

static uint8_t *slot_data(sbvm_channel *ch, unsigned i)
{
    return win(ch) + hdr(ch)->slot_data_off + (size_t)i * hdr(ch)->slot_size;
}

static struct sbvm_ring_desc *rdesc(sbvm_channel *ch, int id)
{
    return (struct sbvm_ring_desc *)(void *)(win(ch) + hdr(ch)->rings_off) + id;
}

static struct sbvm_ring_ctl *rctl(sbvm_channel *ch, int id)
{
    return (struct sbvm_ring_ctl *)(void *)(win(ch) + rdesc(ch, id)->ctl_off);
}

static uint8_t *rdata(sbvm_channel *ch, int id)
{
    return win(ch) + rdesc(ch, id)->data_off;
}

/* Puts a request in slot i as a raw guest would, lets the host serve it,
 * and returns the status it answered. */
static int raw_call(sbvm_channel *ch, unsigned i, uint32_t id, const void *in, uint32_t in_len,
                    uint32_t out_cap)
{
    struct sbvm_slot *s = slot(ch, i);

    if (in && in_len)
        memcpy(slot_data(ch, i), in, in_len);
    s->id = id;
    s->in_len = in_len;
    s->out_cap = out_cap;
    s->seq = 1000 + id;
    __atomic_store_n(&s->state, SBVM_SLOT_REQUEST, __ATOMIC_RELEASE);
    ck_assert_int_ge(sbvm_channel_service(ch, NULL), 0);
    ck_assert_uint_eq(s->state, SBVM_SLOT_ANSWER);
    ck_assert_uint_eq(s->ans_seq, 1000 + id);
    s->state = SBVM_SLOT_FREE;
    return s->status;
}

static void raw_hello(sbvm_channel *ch)
{
    struct sbvm_hello_in hi = { .abi = SBVM_ABI_VERSION };

    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_HELLO, &hi, sizeof(hi), 64), 0);
}

static size_t last_out_cap;

static int32_t fn_cap(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                      size_t out_cap, size_t *out_len, void *ud)
{
    (void)ch, (void)id, (void)in, (void)in_len, (void)ud;
    last_out_cap = out_cap;
    memset(out, 'z', out_cap);
    *out_len = out_cap;
    return 0;
}

static const struct {
    const char *name;
    size_t off;
} fields[] = {
#define F(f)                                                                                       \
    {                                                                                              \
#f, offsetof(struct sbvm_window_header, f)                                                 \
    }
    F(magic),         F(abi_major), F(abi_minor), F(header_size), F(size),
    F(max_size),      F(page_size), F(flags),     F(ctl_off),     F(slots_off),
    F(slot_data_off), F(nslots),    F(slot_size), F(rings_off),   F(max_rings),
    F(nrings),        F(heap_off),  F(heap_end),  F(reserved),
#undef F
};

START_TEST(a_scribbled_header_field_ends_that_channel_and_names_the_field)
{
    sbvm_channel *bystander = shm_new(NULL);

    for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
        sbvm_channel *ch = shm_new(NULL);
        struct sbvm_window_ctl *c = ctl(ch); /* before ctl_off is scribbled on */
        sbvm_error *err = NULL;
        char want[64];

        ck_assert_int_eq(sbvm_channel_ring_add(ch, SBVM_RING_TO_HOST, 4096, 0, NULL), 0);
        ck_assert_int_eq(sbvm_channel_service(ch, NULL), 0);
        win(ch)[fields[i].off] ^= 0x5a;
        ck_assert_int_eq(sbvm_channel_service(ch, &err), -EPROTO);
        snprintf(want, sizeof(want), "field '%s' changed", fields[i].name);
        ck_assert_msg(strstr(sbvm_error_message(err), want), "%s: %s", fields[i].name,
                      sbvm_error_message(err));
        sbvm_error_free(err);
        /* The guest is told, every later call says the same, the rest works. */
        ck_assert_uint_eq(c->host_state, SBVM_HOST_BROKEN);
        ck_assert_int_eq(sbvm_channel_service(ch, NULL), -EPROTO);
        ck_assert_int_eq(sbvm_channel_wait(ch, 0, NULL), -EPROTO);
        ck_assert_int_eq(sbvm_channel_ring_read(ch, 0, want, sizeof(want), NULL, NULL), -EPROTO);
        ck_assert_ptr_nonnull(strstr(sbvm_channel_error(ch), fields[i].name));
        ck_assert_int_eq(sbvm_channel_service(bystander, NULL), 0);
        sbvm_channel_free(ch);
    }
    sbvm_channel_free(bystander);
}
END_TEST

START_TEST(a_scribbled_ring_table_ends_the_channel)
{
    const int entries[] = { 0, 1, 15 }; /* in use, unused, the last one */

    for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
        sbvm_channel *ch = shm_new(NULL);
        sbvm_error *err = NULL;

        ck_assert_int_eq(sbvm_channel_ring_add(ch, SBVM_RING_TO_GUEST, 4096, 0, NULL), 0);
        rdesc(ch, entries[i])->capacity += 4096;
        ck_assert_int_eq(sbvm_channel_service(ch, &err), -EPROTO);
        ck_assert_msg(strstr(sbvm_error_message(err), "ring table"), "%s", sbvm_error_message(err));
        sbvm_error_free(err);
        sbvm_channel_free(ch);
    }
}
END_TEST

/* One ring index scenario: what the guest writes, and the words expected. */
struct idx_case {
    const char *what;
    uint64_t head;     /* the producer index the guest publishes */
    uint32_t rec_len;  /* the record header it writes at 0 */
    const char *words; /* in the error */
};

START_TEST(a_to_host_ring_index_or_length_that_lies_ends_the_channel)
{
    static const struct idx_case cases[] = {
        { "past the end", 4096 + 8, 8, "moved past the end" },
        /* Modulo 2^64 a huge index is one that went backwards. */
        { "far past the end", UINT64_MAX - 7, 8, "moved backwards" },
        { "misaligned", 13, 5, "multiple of 8" },
        { "longer than max_msg", 4096, 3000, "largest message" },
        { "longer than published", 16, 100, "bytes published" },
        { "length near 2^32", 16, UINT32_MAX, "largest message" },
    };
    char buf[4096];

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        sbvm_channel *ch = shm_new(NULL);
        struct sbvm_ring_rec rec = { .len = cases[i].rec_len, .tag = 1 };
        sbvm_error *err = NULL;
        long n;

        ck_assert_int_eq(sbvm_channel_ring_add(ch, SBVM_RING_TO_HOST, 4096, 2048, NULL), 0);
        memcpy(rdata(ch, 0), &rec, sizeof(rec));
        rctl(ch, 0)->head = cases[i].head;
        n = sbvm_channel_ring_read(ch, 0, buf, sizeof(buf), NULL, &err);
        ck_assert_msg(n == -EPROTO, "%s: %ld", cases[i].what, n);
        ck_assert_msg(strstr(sbvm_error_message(err), cases[i].words), "%s: %s", cases[i].what,
                      sbvm_error_message(err));
        ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "ring 0"));
        sbvm_error_free(err);
        ck_assert_int_eq(sbvm_channel_service(ch, NULL), -EPROTO);
        sbvm_channel_free(ch);
    }
}
END_TEST

START_TEST(a_to_host_ring_index_moved_backwards_ends_the_channel)
{
    sbvm_channel *ch = shm_new(NULL);
    struct sbvm_ring_rec rec = { .len = 8, .tag = 7 };
    sbvm_error *err = NULL;
    uint32_t tag = 0;
    char buf[64];

    ck_assert_int_eq(sbvm_channel_ring_add(ch, SBVM_RING_TO_HOST, 4096, 0, NULL), 0);
    /* Two honest messages, of which the host reads one... */
    memcpy(rdata(ch, 0), &rec, sizeof(rec));
    memcpy(rdata(ch, 0) + 8, "12345678", 8);
    memcpy(rdata(ch, 0) + 16, &rec, sizeof(rec));
    memcpy(rdata(ch, 0) + 24, "abcdefgh", 8);
    rctl(ch, 0)->head = 32;
    ck_assert_int_eq(sbvm_channel_service(ch, NULL), SBVM_CHANNEL_EV_READ);
    ck_assert_int_eq(sbvm_channel_ring_read(ch, 0, buf, sizeof(buf), &tag, NULL), 8);
    ck_assert_uint_eq(tag, 7);
    ck_assert_mem_eq(buf, "12345678", 8);
    ck_assert_uint_eq(rctl(ch, 0)->tail, 16);
    /* ...and reads the second even though the guest moved its own copy of
     * the consumer index: the host's is private. */
    rctl(ch, 0)->tail = 0;
    ck_assert_int_eq(sbvm_channel_ring_read(ch, 0, buf, sizeof(buf), NULL, NULL), 8);
    ck_assert_mem_eq(buf, "abcdefgh", 8);
    ck_assert_int_eq(sbvm_channel_ring_read(ch, 0, buf, sizeof(buf), NULL, NULL), -EAGAIN);
    /* Now the head goes back. */
    rctl(ch, 0)->head = 16;
    ck_assert_int_eq(sbvm_channel_ring_read(ch, 0, buf, sizeof(buf), NULL, &err), -EPROTO);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "moved backwards"));
    sbvm_error_free(err);
    sbvm_channel_free(ch);
}
END_TEST

START_TEST(a_to_guest_ring_consumer_index_that_lies_ends_the_channel)
{
    static const struct {
        uint64_t tail;
        const char *words;
    } cases[] = {
        { 4016 + 8, "moved past the end" }, /* beyond the messages written */
        { 12, "multiple of 8" },
        { UINT64_MAX - 7, "moved backwards" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        sbvm_channel *ch = shm_new(NULL);
        sbvm_error *err = NULL;
        char msg[2000];
        int r;

        memset(msg, 'm', sizeof(msg));
        ck_assert_int_eq(sbvm_channel_ring_add(ch, SBVM_RING_TO_GUEST, 4096, 0, NULL), 0);
        /* Two messages fill it (4016 bytes); the third finds it full. */
        ck_assert_int_eq(sbvm_channel_ring_write(ch, 0, msg, sizeof(msg), 0, NULL), 0);
        ck_assert_int_eq(sbvm_channel_ring_write(ch, 0, msg, sizeof(msg), 0, NULL), 0);
        ck_assert_int_eq(sbvm_channel_ring_write(ch, 0, msg, sizeof(msg), 0, NULL), -EAGAIN);
        /* The host reads the consumer index again only when it needs room. */
        rctl(ch, 0)->tail = cases[i].tail;
        r = sbvm_channel_ring_write(ch, 0, msg, sizeof(msg), 0, &err);
        ck_assert_int_eq(r, -EPROTO);
        ck_assert_msg(strstr(sbvm_error_message(err), cases[i].words), "%s",
                      sbvm_error_message(err));
        sbvm_error_free(err);
        sbvm_channel_free(ch);
    }
}
END_TEST

START_TEST(slot_requests_that_lie_are_answered_with_errors)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    struct sbvm_hello_in hi = { .abi = SBVM_ABI_VERSION };
    struct sbvm_hello_in bad = { .abi = (SBVM_ABI_MAJOR + 1u) << 16 };
    struct sbvm_log_in li = { .level = 6, .len = 1000 };
    uint8_t lbuf[sizeof(li) + 10] = { 0 };
    struct sbvm_ring_in ri;
    struct sbvm_grow_in gi = { .size = UINT64_MAX };
    struct sbvm_region_in gr = { .size = 0 };
    sbvm_channel *ch;
    uint32_t slot_size;

    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, 300, fn_cap, NULL, NULL), 0);
    ck_assert_int_eq(sbvm_channel_config_set_rings(cfg, 2, 1 << 20, NULL), 0);
    ch = shm_new(cfg);
    slot_size = hdr(ch)->slot_size;
    /* Nothing but hello before hello. */
    ck_assert_int_eq(raw_call(ch, 1, 300, "x", 1, 8), -ENOTCONN);
    ck_assert_int_eq(raw_call(ch, 1, SBVM_CALL_HELLO, &bad, sizeof(bad), 64), -EPROTONOSUPPORT);
    ck_assert_int_eq(raw_call(ch, 1, SBVM_CALL_HELLO, &hi, 3, 64), -EINVAL);
    ck_assert_int_eq(raw_call(ch, 1, SBVM_CALL_HELLO, &hi, sizeof(hi), 2), -EMSGSIZE);
    raw_hello(ch);
    ck_assert_int_eq(sbvm_channel_service(ch, NULL), 0);
    ck_assert_int_eq(raw_call(ch, 1, SBVM_CALL_HELLO, &hi, sizeof(hi), 64), -EALREADY);
    /* Lengths. */
    ck_assert_int_eq(raw_call(ch, 2, 300, NULL, slot_size + 1, 8), -E2BIG);
    ck_assert_int_eq(raw_call(ch, 2, 300, NULL, UINT32_MAX, 8), -E2BIG);
    ck_assert_int_eq(raw_call(ch, 2, 300, NULL, 0, UINT32_MAX), 0);
    ck_assert_uint_eq(last_out_cap, slot_size);
    ck_assert_uint_eq(slot(ch, 2)->out_len, slot_size);
    /* Ids. */
    ck_assert_int_eq(raw_call(ch, 3, 999, NULL, 0, 0), -ENOSYS);
    ck_assert_int_eq(raw_call(ch, 3, 100, NULL, 0, 0), -ENOSYS);
    ck_assert_int_eq(raw_call(ch, 3, UINT32_MAX, NULL, 0, 0), -ENOSYS);
    /* Built-ins with lying arguments. */
    memcpy(lbuf, &li, sizeof(li));
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_LOG, lbuf, sizeof(li) + 10, 0), -EINVAL);
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_LOG, &li, 4, 0), -EINVAL);
    ri = (struct sbvm_ring_in){ .dir = 9, .capacity = 4096 };
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_RING, &ri, sizeof(ri), 8), -EINVAL);
    ri = (struct sbvm_ring_in){ .dir = SBVM_RING_TO_HOST, .capacity = 1ull << 40 };
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_RING, &ri, sizeof(ri), 8), -ENOSPC);
    ri = (struct sbvm_ring_in){ .dir = SBVM_RING_TO_HOST, .capacity = UINT64_MAX };
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_RING, &ri, sizeof(ri), 8), -ENOSPC);
    ri = (struct sbvm_ring_in){ .dir = SBVM_RING_TO_HOST, .capacity = 4096, .max_msg = 4090 };
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_RING, &ri, sizeof(ri), 8), -EINVAL);
    ri = (struct sbvm_ring_in){ .dir = SBVM_RING_TO_HOST, .capacity = 4096 };
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_RING, &ri, 8, 8), -EINVAL);
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_RING, &ri, sizeof(ri), 8), 0);
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_RING, &ri, sizeof(ri), 8), 0);
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_RING, &ri, sizeof(ri), 8), -ENOSPC);
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_GROW, &gi, sizeof(gi), 8), -ENOSPC);
    gi.size = hdr(ch)->max_size + 1;
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_GROW, &gi, sizeof(gi), 8), -ENOSPC);
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_REGION, &gr, sizeof(gr), 16), -EINVAL);
    gr.size = UINT64_MAX;
    ck_assert_int_eq(raw_call(ch, 0, SBVM_CALL_REGION, &gr, sizeof(gr), 16), -ENOSPC);
    /* The channel is still open and sound. */
    ck_assert_ptr_null(sbvm_channel_error(ch));
    ck_assert_int_ge(sbvm_channel_service(ch, NULL), 0);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
}
END_TEST

START_TEST(slot_states_other_than_request_are_left_alone)
{
    sbvm_channel *ch = shm_new(NULL);
    const uint32_t states[] = { SBVM_SLOT_FREE, SBVM_SLOT_CLAIMED, SBVM_SLOT_ANSWER, 4, 77,
                                UINT32_MAX };

    raw_hello(ch);
    for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
        slot(ch, 1)->state = states[i];
        slot(ch, 1)->id = SBVM_CALL_GROW;
        slot(ch, 1)->status = 12345;
        ck_assert_int_ge(sbvm_channel_service(ch, NULL), 0);
        ck_assert_uint_eq(slot(ch, 1)->state, states[i]);
        ck_assert_int_eq(slot(ch, 1)->status, 12345);
    }
    sbvm_channel_free(ch);
}
END_TEST

START_TEST(a_guest_stopped_mid_message_is_not_waited_for)
{
    sbvm_channel *ch = shm_new(NULL);
    struct sbvm_ring_rec rec = { .len = 100, .tag = 1 };
    char buf[200];
    int64_t t0;

    raw_hello(ch);
    ck_assert_int_eq(sbvm_channel_ring_add(ch, SBVM_RING_TO_HOST, 4096, 0, NULL), 0);
    /* A record header and half its bytes, never published. */
    memcpy(rdata(ch, 0), &rec, sizeof(rec));
    memset(rdata(ch, 0) + 8, 'h', 50);
    /* A call half written: claimed, arguments in, never requested. */
    slot(ch, 2)->state = SBVM_SLOT_CLAIMED;
    slot(ch, 2)->id = SBVM_CALL_GROW;
    slot(ch, 2)->in_len = 8;
    t0 = shm_now();
    ck_assert_int_eq(sbvm_channel_ring_read(ch, 0, buf, sizeof(buf), NULL, NULL), -EAGAIN);
    ck_assert_int_eq(sbvm_channel_service(ch, NULL), 0);
    ck_assert_int_eq(sbvm_channel_wait(ch, 50 * 1000 * 1000, NULL), 0);
    ck_assert_int_lt(shm_now() - t0, SEC);
    /* Another slot still gets its answer. */
    ck_assert_int_eq(raw_call(ch, 3, 999, NULL, 0, 0), -ENOSYS);
    ck_assert_uint_eq(slot(ch, 2)->state, SBVM_SLOT_CLAIMED);
    sbvm_channel_free(ch);
}
END_TEST

/* A guest that writes half a message (ring and call) through its mapping
 * and dies: the host must learn of it, not wait for the rest. */
static sbvm_channel *dying_ch;

static int guest_dies_mid_message(void *arg)
{
    struct sbvm_ring_rec rec = { .len = 1000, .tag = 1 };

    (void)arg;
    memcpy(rdata(dying_ch, 0), &rec, sizeof(rec));
    memset(rdata(dying_ch, 0) + 8, 'd', 300);
    slot(dying_ch, 0)->state = SBVM_SLOT_CLAIMED;
    memset(slot_data(dying_ch, 0), 'a', 100);
    _exit(0);
}

START_TEST(a_guest_that_dies_mid_message_ends_the_channel_at_once)
{
    sbvm_channel *ch = shm_new(NULL);
    sbvm_error *err = NULL;
    char buf[2000];
    int64_t t0;
    int last = 0;
    pid_t pid;

    ck_assert_int_eq(sbvm_channel_ring_add(ch, SBVM_RING_TO_HOST, 4096, 0, NULL), 0);
    dying_ch = ch;
    pid = shm_spawn(ch, guest_dies_mid_message, NULL);
    t0 = shm_now();
    ck_assert_int_eq(shm_serve(ch, pid, 10 * SEC, &last), 0);
    ck_assert_int_lt(shm_now() - t0, 2 * SEC);
    ck_assert_int_eq(last, -EPIPE);
    ck_assert_int_eq(sbvm_channel_ring_read(ch, 0, buf, sizeof(buf), NULL, &err), -EPIPE);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "guest"));
    sbvm_error_free(err);
    sbvm_channel_free(ch);
}
END_TEST

START_TEST(the_guest_cannot_shrink_or_seal_the_window)
{
    sbvm_channel *ch = shm_new(NULL);
    int memfd = -1, efd = -1;

    ck_assert_int_eq(shm_raw_boot(sbvm_channel_guest_fd(ch), &memfd, &efd), 0);
    ck_assert_int_eq(ftruncate(memfd, 4096), -1);
    ck_assert_int_eq(errno, EPERM);
    ck_assert_int_eq(fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE), -1);
    ck_assert_int_eq(errno, EPERM);
    /* Growing the file is allowed and changes nothing the host uses... */
    ck_assert_int_eq(ftruncate(memfd, 64 << 20), 0);
    ck_assert_int_eq(sbvm_channel_service(ch, NULL), 0);
    ck_assert_uint_eq(sbvm_channel_window_size(ch), 1 << 20);
    /* ...not even the host's own growth, which must not shrink it back. */
    ck_assert_int_eq(sbvm_channel_ring_add(ch, SBVM_RING_TO_HOST, 2 << 20, 0, NULL), 0);
    ck_assert_uint_gt(sbvm_channel_window_size(ch), 2 << 20);
    close(memfd);
    close(efd);
    sbvm_channel_free(ch);
}
END_TEST

START_TEST(messages_left_unread_do_not_keep_the_host_busy)
{
    sbvm_channel *ch = shm_new(NULL);
    struct sbvm_ring_rec rec = { .len = 8, .tag = 1 };
    struct epoll_event e = { .events = EPOLLIN };
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int64_t t0;

    ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, sbvm_channel_fd(ch), &e), 0);
    raw_hello(ch);
    /* A ring the host never reads, with a message in it. */
    ck_assert_int_eq(sbvm_channel_ring_add(ch, SBVM_RING_TO_HOST, 4096, 0, NULL), 0);
    memcpy(rdata(ch, 0), &rec, sizeof(rec));
    rctl(ch, 0)->head = 16;
    ck_assert_int_eq(sbvm_channel_service(ch, NULL), SBVM_CHANNEL_EV_READ);
    /* Reported once; then the fd goes quiet and a wait sleeps. */
    ck_assert_int_le(epoll_wait(ep, &e, 1, 0), 1);
    ck_assert_int_eq(sbvm_channel_service(ch, NULL), 0);
    ck_assert_int_eq(epoll_wait(ep, &e, 1, 0), 0);
    t0 = shm_now();
    ck_assert_int_eq(sbvm_channel_wait(ch, 100 * 1000 * 1000, NULL), 0);
    ck_assert_int_ge(shm_now() - t0, 100 * 1000 * 1000);
    /* More data is news again. */
    memcpy(rdata(ch, 0) + 16, &rec, sizeof(rec));
    rctl(ch, 0)->head = 32;
    ck_assert_int_eq(sbvm_channel_wait(ch, 0, NULL), SBVM_CHANNEL_EV_READ);
    close(ep);
    sbvm_channel_free(ch);
}
END_TEST

static int guest_rings_without_end(void *arg)
{
    int64_t until = shm_now() + *(int64_t *)arg;

    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    while (shm_now() < until)
        GXR(sbvm_doorbell(), 0);
    return 0;
}

static int guest_calls_n(void *arg)
{
    uint32_t n = *(uint32_t *)arg;
    char out[8];
    int32_t res;

    GXR(sbvm_hello(SBVM_ABI_VERSION), 0);
    for (uint32_t i = 0; i < n; i++)
        GXR(sbvm_hostcall(300, NULL, 0, out, sizeof(out), NULL, &res), 0);
    return 0;
}

static int muted_yet(sbvm_channel *ch)
{
    struct sbvm_channel_stats st;

    sbvm_channel_stats(ch, &st);
    return st.muted > 0;
}

START_TEST(a_doorbell_flood_is_muted_and_other_guests_are_still_served)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    int64_t flood = 3 * SEC, end;
    uint32_t calls = 3000;
    struct sbvm_channel_stats st;
    sbvm_channel *ch[2];
    pid_t pid[2];
    int ep = epoll_create1(EPOLL_CLOEXEC), done = 0;
    uint64_t services[2] = { 0, 0 };

    ck_assert_int_eq(sbvm_channel_config_add_call(cfg, 300, fn_cap, NULL, NULL), 0);
    for (int i = 0; i < 2; i++) {
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        ch[i] = shm_new(cfg);
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, sbvm_channel_fd(ch[i]), &e), 0);
    }
    pid[0] = shm_spawn(ch[0], guest_rings_without_end, &flood);
    pid[1] = shm_spawn(ch[1], guest_calls_n, &calls);
    end = shm_now() + 20 * SEC;
    /* Serve both from one loop until the well-behaved guest is done and
     * the flood has been muted (or has run its course). */
    while ((!done || !muted_yet(ch[0])) && shm_now() < end) {
        struct epoll_event evs[2];
        int n = epoll_wait(ep, evs, 2, 1000);
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32;
            int r = sbvm_channel_service(ch[i], NULL);
            services[i]++;
            if (i == 1 && r == -EPIPE) {
                done = 1;
                ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, sbvm_channel_fd(ch[1]), NULL), 0);
            } else if (r == -EPIPE)
                ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, sbvm_channel_fd(ch[i]), NULL), 0);
            else
                ck_assert_int_ge(r, 0);
        }
    }
    ck_assert_int_eq(done, 1);
    ck_assert_int_eq(shm_reap(pid[1], 5 * SEC), 0);
    sbvm_channel_stats(ch[1], &st);
    ck_assert_uint_eq(st.calls, calls + 1);
    sbvm_channel_stats(ch[0], &st);
    ck_assert_uint_ge(st.muted, 1);
    ck_assert_uint_ge(st.spurious, 64);
    kill(pid[0], SIGKILL);
    shm_reap(pid[0], 5 * SEC);
    for (int i = 0; i < 2; i++)
        sbvm_channel_free(ch[i]);
    close(ep);
    sbvm_channel_config_free(cfg);
}
END_TEST

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

START_TEST(a_futex_flood_does_not_keep_a_waiting_host_awake)
{
    sbvm_channel_config *cfg = sbvm_channel_config_new();
    int64_t flood = 3 * SEC, t0, c0, took, cpu;
    struct sbvm_channel_stats st;
    sbvm_channel *ch;
    pid_t pid;
    int ev = 1;

    /* No spinning: every ring of the flood would otherwise be a futex
     * round trip for the host, as fast as the guest can ring. */
    sbvm_channel_config_set_spin(cfg, 0, 0);
    ch = shm_new(cfg);
    pid = shm_spawn(ch, guest_rings_without_end, &flood);
    while (ev > 0) /* until the hello has been served */
        ev = sbvm_channel_wait(ch, 200 * 1000 * 1000, NULL);
    ck_assert_int_eq(ev, 0);
    t0 = shm_now();
    c0 = thread_cpu_ns();
    ck_assert_int_eq(sbvm_channel_wait(ch, 500 * 1000 * 1000, NULL), 0);
    took = shm_now() - t0;
    cpu = thread_cpu_ns() - c0;
    ck_assert_int_ge(took, 500 * 1000 * 1000);
    ck_assert_int_lt(took, 2 * SEC);
    ck_assert_msg(cpu < took / 4, "the host used %lld of %lld ns", (long long)cpu, (long long)took);
    sbvm_channel_stats(ch, &st);
    ck_assert_uint_ge(st.muted, 1);
    kill(pid, SIGKILL);
    shm_reap(pid, 5 * SEC);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
}
END_TEST

Suite *suite_shm_hostile(void)
{
    Suite *s = suite_create("shm-hostile");
    TCase *tc = tcase_create("window");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_scribbled_header_field_ends_that_channel_and_names_the_field);
    tcase_add_test(tc, a_scribbled_ring_table_ends_the_channel);
    tcase_add_test(tc, a_to_host_ring_index_or_length_that_lies_ends_the_channel);
    tcase_add_test(tc, a_to_host_ring_index_moved_backwards_ends_the_channel);
    tcase_add_test(tc, a_to_guest_ring_consumer_index_that_lies_ends_the_channel);
    tcase_add_test(tc, slot_requests_that_lie_are_answered_with_errors);
    tcase_add_test(tc, slot_states_other_than_request_are_left_alone);
    tcase_add_test(tc, a_guest_stopped_mid_message_is_not_waited_for);
    tcase_add_test(tc, a_guest_that_dies_mid_message_ends_the_channel_at_once);
    tcase_add_test(tc, the_guest_cannot_shrink_or_seal_the_window);
    tcase_add_test(tc, messages_left_unread_do_not_keep_the_host_busy);
    tcase_add_test(tc, a_doorbell_flood_is_muted_and_other_guests_are_still_served);
    tcase_add_test(tc, a_futex_flood_does_not_keep_a_waiting_host_awake);
    suite_add_tcase(s, tc);
    return s;
}
