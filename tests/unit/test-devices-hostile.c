/* SPDX-License-Identifier: MIT */
/*
 * test-devices-hostile.c: a hostile driver against the device models. Each
 * test writes what a buggy or malicious driver could write - into the rings,
 * the descriptors, the registers - and asserts exactly how the device
 * answers: the request fails with a status, or the device stops with
 * DEVICE_NEEDS_RESET and a reason in words; never a crash, never an access
 * outside the driver's memory (ASan), never a hang. A reset brings the
 * device back.
 */
#include <string.h>

#include "devices-util.h"
#include "unit.h"

#define MiB (1024u * 1024u)

static uint64_t feats(void)
{
    return BIT64(VIRTIO_FB_VERSION_1) | BIT64(VIRTIO_FB_INDIRECT_DESC) | BIT64(VIRTIO_FB_EVENT_IDX);
}

static void put_desc(struct tdrv *t, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    struct vring_desc_le d = { addr, len, flags, next };

    memcpy((uint8_t *)td_ptr(t, table) + 16u * i, &d, sizeof(d));
}

/* Makes descriptor `head` available on queue q (and no more). */
static void make_avail(struct tdrv *t, unsigned q, uint16_t head)
{
    struct td_queue *tq = &t->q[q];
    uint8_t *avail = td_ptr(t, tq->avail);

    memcpy(avail + 4 + 2u * (tq->avail_idx % tq->num), &head, 2);
    tq->avail_idx++;
    memcpy(avail + 2, &tq->avail_idx, 2);
}

static uint16_t used_idx(struct tdrv *t, unsigned q)
{
    uint16_t v;

    memcpy(&v, (uint8_t *)td_ptr(t, t->q[q].used) + 2, 2);
    return v;
}

/* The device stopped, for the reason expected, said so, and wrote nothing. */
static void expect_broken(struct tdrv *t, unsigned q, const char *reason)
{
    ck_assert_msg(t->dev.broken, "the device kept going");
    ck_assert_msg(strstr(t->dev.why, reason) != NULL, "reason '%s' lacks '%s'", t->dev.why, reason);
    ck_assert_uint_ne(td_status(t) & VIRTIO_S_NEEDS_RESET, 0);
    ck_assert_uint_eq(used_idx(t, q), 0);
    ck_assert_uint_eq(t->dev.st.faults, 1);
    /* The configuration interrupt said why (ISR bit 1). */
    ck_assert_uint_ne(t->dev.isr & 2, 0);
}

/* After a reset and a fresh initialisation, the device works again. */
static void expect_recovers(struct tdrv *t)
{
    uint8_t buf[512];

    td_init_modern(t, feats());
    ck_assert(!t->dev.broken);
    ck_assert_uint_eq(td_status(t) & VIRTIO_S_NEEDS_RESET, 0);
    ck_assert_int_eq(td_blk(t, 0, 0, buf, sizeof(buf), true), 0);
}

/* A blk read request whose data descriptor is built by the caller at
 * index 1 (the header at 0, status at 2 unless the caller overwrites). */
static void blk_setup(struct tdrv *t)
{
    td_setup(t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_init_modern(t, feats());
}

START_TEST(a_descriptor_loop_stops_the_device)
{
    struct tdrv t;
    uint64_t hdr, buf;

    blk_setup(&t);
    hdr = td_alloc(&t, 16, 8);
    buf = td_alloc(&t, 512, 8);
    put_desc(&t, t.q[0].desc, 0, hdr, 16, VRING_DESC_F_NEXT, 1);
    put_desc(&t, t.q[0].desc, 1, buf, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    make_avail(&t, 0, 0);
    td_kick(&t, 0);
    expect_broken(&t, 0, "(a loop)");
    /* More notifications are ignored; nothing is served. */
    td_kick(&t, 0);
    ck_assert_uint_eq(used_idx(&t, 0), 0);
    expect_recovers(&t);
    td_teardown(&t);
}
END_TEST

START_TEST(a_self_loop_in_an_indirect_table_stops_the_device)
{
    struct tdrv t;
    uint64_t it, hdr;

    blk_setup(&t);
    it = td_alloc(&t, 64, 16);
    hdr = td_alloc(&t, 16, 8);
    put_desc(&t, it, 0, hdr, 16, VRING_DESC_F_NEXT, 1);
    put_desc(&t, it, 1, hdr, 16, VRING_DESC_F_NEXT, 2);
    put_desc(&t, it, 2, hdr, 16, VRING_DESC_F_NEXT, 1);
    put_desc(&t, t.q[0].desc, 0, it, 64, VRING_DESC_F_INDIRECT, 0);
    make_avail(&t, 0, 0);
    td_kick(&t, 0);
    expect_broken(&t, 0, "(a loop)");
    expect_recovers(&t);
    td_teardown(&t);
}
END_TEST

START_TEST(a_head_or_next_past_the_table_stops_the_device)
{
    struct tdrv t;
    uint64_t hdr = 0;

    blk_setup(&t);
    make_avail(&t, 0, TD_QSIZE + 3);
    td_kick(&t, 0);
    expect_broken(&t, 0, "past the table");
    td_teardown(&t);

    blk_setup(&t);
    hdr = td_alloc(&t, 16, 8);
    put_desc(&t, t.q[0].desc, 0, hdr, 16, VRING_DESC_F_NEXT, 0xffff);
    make_avail(&t, 0, 0);
    td_kick(&t, 0);
    expect_broken(&t, 0, "next index 65535");
    td_teardown(&t);
}
END_TEST

START_TEST(addresses_outside_the_drivers_memory_stop_the_device)
{
    static const struct {
        uint64_t addr;
        uint32_t len;
    } bad[] = {
        { 0xdead0000, 16 },           /* nowhere */
        { 0, 16 },                    /* address 0 */
        { TD_BASE - 8, 16 },          /* starts before */
        { TD_BASE + TD_MEM - 8, 16 }, /* runs past the end */
        { TD_BASE, 0xffffffff },      /* absurd length */
        { UINT64_MAX - 7, 16 },       /* wraps around */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tdrv t;
        uint64_t st;

        blk_setup(&t);
        st = td_alloc(&t, 1, 1);
        put_desc(&t, t.q[0].desc, 0, bad[i].addr, bad[i].len, VRING_DESC_F_NEXT, 1);
        put_desc(&t, t.q[0].desc, 1, st, 1, VRING_DESC_F_WRITE, 0);
        make_avail(&t, 0, 0);
        td_kick(&t, 0);
        expect_broken(&t, 0, "is not inside the driver's memory");
        ck_assert_uint_eq(*(uint8_t *)td_ptr(&t, st), 0);
        td_teardown(&t);
    }
}
END_TEST

START_TEST(indirect_tables_that_lie_stop_the_device)
{
    static const char *const reasons[] = {
        "indirect table inside an indirect table",
        "an indirect table of 17 bytes",
        "an indirect table of 0 bytes",
        "an indirect table of 32768 bytes",
        "an indirect descriptor with NEXT set",
        "the indirect table at 0xdead0000",
    };

    for (unsigned i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        struct tdrv t;
        uint64_t it, inner;

        blk_setup(&t);
        it = td_alloc(&t, 64, 16);
        inner = td_alloc(&t, 64, 16);
        switch (i) {
        case 0:
            put_desc(&t, it, 0, inner, 64, VRING_DESC_F_INDIRECT, 0);
            put_desc(&t, t.q[0].desc, 0, it, 16, VRING_DESC_F_INDIRECT, 0);
            break;
        case 1:
            put_desc(&t, t.q[0].desc, 0, it, 17, VRING_DESC_F_INDIRECT, 0);
            break;
        case 2:
            put_desc(&t, t.q[0].desc, 0, it, 0, VRING_DESC_F_INDIRECT, 0);
            break;
        case 3:
            put_desc(&t, t.q[0].desc, 0, it, 32768, VRING_DESC_F_INDIRECT, 0);
            break;
        case 4:
            put_desc(&t, t.q[0].desc, 0, it, 64, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
            break;
        case 5:
            put_desc(&t, t.q[0].desc, 0, 0xdead0000, 64, VRING_DESC_F_INDIRECT, 0);
            break;
        }
        make_avail(&t, 0, 0);
        td_kick(&t, 0);
        expect_broken(&t, 0, reasons[i]);
        td_teardown(&t);
    }
}
END_TEST

START_TEST(indirect_without_the_feature_stops_the_device)
{
    struct tdrv t;
    uint64_t it;

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_init_modern(&t, BIT64(VIRTIO_FB_VERSION_1));
    it = td_alloc(&t, 64, 16);
    put_desc(&t, t.q[0].desc, 0, it, 64, VRING_DESC_F_INDIRECT, 0);
    make_avail(&t, 0, 0);
    td_kick(&t, 0);
    expect_broken(&t, 0, "not negotiated");
    td_teardown(&t);
}
END_TEST

START_TEST(an_available_index_that_jumps_stops_the_device)
{
    struct tdrv t;
    uint16_t idx = TD_QSIZE + 1;

    blk_setup(&t);
    memcpy((uint8_t *)td_ptr(&t, t.q[0].avail) + 2, &idx, 2);
    td_kick(&t, 0);
    expect_broken(&t, 0, "moved by 65 entries");
    td_teardown(&t);
}
END_TEST

START_TEST(readable_after_writable_and_too_many_segments_stop_the_device)
{
    struct tdrv t;
    uint64_t a, it;

    blk_setup(&t);
    a = td_alloc(&t, 64, 8);
    put_desc(&t, t.q[0].desc, 0, a, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    put_desc(&t, t.q[0].desc, 1, a + 8, 16, 0, 0);
    make_avail(&t, 0, 0);
    td_kick(&t, 0);
    expect_broken(&t, 0, "readable buffer after a writable one");
    td_teardown(&t);

    /* Two direct descriptors and a full indirect table: 1026 segments. */
    blk_setup(&t);
    a = td_alloc(&t, 64, 8);
    it = td_alloc(&t, 16 * VQ_MAX_INDIRECT, 16);
    for (unsigned i = 0; i < VQ_MAX_INDIRECT; i++)
        put_desc(&t, it, i, a + 32, 1,
                 (uint16_t)(VRING_DESC_F_WRITE | (i + 1 < VQ_MAX_INDIRECT ? VRING_DESC_F_NEXT : 0)),
                 (uint16_t)(i + 1));
    put_desc(&t, t.q[0].desc, 0, a, 8, VRING_DESC_F_NEXT, 1);
    put_desc(&t, t.q[0].desc, 1, a + 8, 8, VRING_DESC_F_NEXT, 2);
    put_desc(&t, t.q[0].desc, 2, it, 16 * VQ_MAX_INDIRECT, VRING_DESC_F_INDIRECT, 0);
    make_avail(&t, 0, 0);
    td_kick(&t, 0);
    expect_broken(&t, 0, "more than 1024 segments");
    td_teardown(&t);
}
END_TEST

START_TEST(requests_with_no_room_for_header_or_status_stop_the_device)
{
    struct tdrv t;
    uint64_t a;

    blk_setup(&t);
    a = td_alloc(&t, 64, 8);
    put_desc(&t, t.q[0].desc, 0, a, 16, 0, 0); /* a header, no status */
    make_avail(&t, 0, 0);
    td_kick(&t, 0);
    expect_broken(&t, 0, "no room for the header and the status");
    td_teardown(&t);

    td_setup(&t, "virtio-scsi", MiB, false, DEV_TRANSITIONAL);
    td_init_modern(&t, feats());
    a = td_alloc(&t, 256, 8);
    put_desc(&t, t.q[2].desc, 0, a, 19 + 31, VRING_DESC_F_NEXT, 1); /* one byte short */
    put_desc(&t, t.q[2].desc, 1, a + 128, 108, VRING_DESC_F_WRITE, 0);
    make_avail(&t, 2, 0);
    td_kick(&t, 2);
    expect_broken(&t, 2, "a command needs 51 readable");
    td_teardown(&t);
}
END_TEST

START_TEST(queue_sizes_that_are_not_powers_of_two_are_refused)
{
    static const uint16_t sizes[] = { 100, 0, 3, 512 };

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct tdrv t;
        uint64_t ring;

        td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
        t.modern = true;
        ring = td_alloc(&t, 65536, 4096);
        td_bar_write(&t, 4, VPCI_C_STATUS, 1, 3);
        td_bar_write(&t, 4, VPCI_C_Q_SELECT, 2, 0);
        td_bar_write(&t, 4, VPCI_C_Q_SIZE, 2, sizes[i]);
        td_bar_write(&t, 4, VPCI_C_Q_DESC, 8, ring);
        td_bar_write(&t, 4, VPCI_C_Q_DRIVER, 8, ring + 16384);
        td_bar_write(&t, 4, VPCI_C_Q_DEVICE, 8, ring + 32768);
        td_bar_write(&t, 4, VPCI_C_Q_ENABLE, 2, 1);
        ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_Q_ENABLE, 2), 0);
        ck_assert(t.dev.broken);
        ck_assert_msg(strstr(t.dev.why, sizes[i] == 512 ? "larger than" : "power of two"), "%s",
                      t.dev.why);
        ck_assert_uint_ne(td_status(&t) & VIRTIO_S_NEEDS_RESET, 0);
        td_teardown(&t);
    }
}
END_TEST

START_TEST(rings_misaligned_or_outside_memory_are_refused)
{
    struct tdrv t;
    uint64_t ring;

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    t.modern = true;
    ring = td_alloc(&t, 65536, 4096);
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 3);
    td_bar_write(&t, 4, VPCI_C_Q_SIZE, 2, 64);
    td_bar_write(&t, 4, VPCI_C_Q_DESC, 8, ring + 8);
    td_bar_write(&t, 4, VPCI_C_Q_DRIVER, 8, ring + 16384);
    td_bar_write(&t, 4, VPCI_C_Q_DEVICE, 8, ring + 32768);
    td_bar_write(&t, 4, VPCI_C_Q_ENABLE, 2, 1);
    ck_assert(strstr(t.dev.why, "not aligned to 16"));
    td_teardown(&t);

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    t.modern = true;
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 3);
    td_bar_write(&t, 4, VPCI_C_Q_SIZE, 2, 64);
    td_bar_write(&t, 4, VPCI_C_Q_DESC, 8, TD_BASE);
    td_bar_write(&t, 4, VPCI_C_Q_DRIVER, 8, TD_BASE + 4096);
    td_bar_write(&t, 4, VPCI_C_Q_DEVICE, 8, TD_BASE + TD_MEM - 64);
    td_bar_write(&t, 4, VPCI_C_Q_ENABLE, 2, 1);
    ck_assert(strstr(t.dev.why, "the used ring at"));
    td_teardown(&t);

    /* Legacy: a PFN far outside memory. */
    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_bar_write(&t, 0, VPCI_L_STATUS, 1, 3);
    td_bar_write(&t, 0, VPCI_L_QUEUE_PFN, 4, 0xfffff);
    ck_assert(strstr(t.dev.why, "is not inside the driver's memory"));
    ck_assert_uint_eq(td_bar_read(&t, 0, VPCI_L_QUEUE_PFN, 4), 0);
    td_teardown(&t);
}
END_TEST

START_TEST(notifications_for_absent_or_unset_queues_are_ignored)
{
    struct tdrv t;

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    t.modern = true;
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 0xf | VIRTIO_S_DRIVER_OK);
    td_kick(&t, 0); /* never set up */
    for (unsigned q = 1; q < 4096; q += 97)
        td_bar_write(&t, 4, VPCI_NOTIFY_OFF + 4 * (q % 0x400), 2, q);
    td_bar_write(&t, 0, VPCI_L_QUEUE_NOTIFY, 2, 0xffff);
    ck_assert(!t.dev.broken);
    ck_assert_uint_eq(t.dev.st.requests, 0);
    td_teardown(&t);
}
END_TEST

START_TEST(nothing_is_served_before_driver_ok)
{
    struct tdrv t;
    uint8_t buf[512];

    blk_setup(&t);
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 0xb); /* DRIVER_OK taken back: not allowed */
    ck_assert_uint_eq(t.dev.status & VIRTIO_S_DRIVER_OK, 0);
    ck_assert_int_eq(td_blk(&t, 0, 0, buf, sizeof(buf), true), -1);
    ck_assert_uint_eq(t.dev.st.requests, 0);
    td_teardown(&t);
}
END_TEST

START_TEST(a_reset_in_the_middle_of_io_drops_the_requests)
{
    struct tdrv t;
    uint64_t hdr, buf, st;
    uint16_t before;

    blk_setup(&t);
    hdr = td_alloc(&t, 16, 8);
    buf = td_alloc(&t, 512, 8);
    st = td_alloc(&t, 1, 1);
    *(uint8_t *)td_ptr(&t, st) = 0xee;
    for (int i = 0; i < 8; i++) {
        struct td_seg segs[] = { { hdr, 16, false }, { buf, 512, true }, { st, 1, true } };
        td_submit(&t, 0, segs, 3, false);
    }
    before = used_idx(&t, 0);
    /* The driver resets before (or instead of) notifying; then notifies. */
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 0);
    td_kick(&t, 0);
    ck_assert_uint_eq(used_idx(&t, 0), before);
    ck_assert_uint_eq(*(uint8_t *)td_ptr(&t, st), 0xee);
    ck_assert_uint_eq(t.dev.st.requests, 0);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_Q_ENABLE, 2), 0);
    expect_recovers(&t);
    td_teardown(&t);
}
END_TEST

START_TEST(the_driver_cannot_clear_needs_reset)
{
    struct tdrv t;

    blk_setup(&t);
    make_avail(&t, 0, 999);
    td_kick(&t, 0);
    ck_assert(t.dev.broken);
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 0xf);
    ck_assert_uint_ne(td_status(&t) & VIRTIO_S_NEEDS_RESET, 0);
    td_teardown(&t);
}
END_TEST

START_TEST(register_writes_of_odd_widths_are_ignored)
{
    struct tdrv t;

    blk_setup(&t);
    td_bar_write(&t, 4, VPCI_C_STATUS, 4, 0); /* a status write must be one byte */
    td_bar_write(&t, 4, VPCI_C_Q_SELECT, 1, 0);
    td_bar_write(&t, 0, VPCI_L_QUEUE_PFN, 2, 0);
    td_bar_write(&t, 4, VPCI_ISR_OFF + 8, 4, 0);
    ck_assert_uint_eq(td_status(&t), 0xf);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_Q_ENABLE, 2), 1);
    td_teardown(&t);
}
END_TEST

Suite *suite_devices_hostile(void)
{
    Suite *s = suite_create("devices_hostile");
    TCase *tc = tcase_create("devices_hostile");

    tcase_add_test(tc, a_descriptor_loop_stops_the_device);
    tcase_add_test(tc, a_self_loop_in_an_indirect_table_stops_the_device);
    tcase_add_test(tc, a_head_or_next_past_the_table_stops_the_device);
    tcase_add_test(tc, addresses_outside_the_drivers_memory_stop_the_device);
    tcase_add_test(tc, indirect_tables_that_lie_stop_the_device);
    tcase_add_test(tc, indirect_without_the_feature_stops_the_device);
    tcase_add_test(tc, an_available_index_that_jumps_stops_the_device);
    tcase_add_test(tc, readable_after_writable_and_too_many_segments_stop_the_device);
    tcase_add_test(tc, requests_with_no_room_for_header_or_status_stop_the_device);
    tcase_add_test(tc, queue_sizes_that_are_not_powers_of_two_are_refused);
    tcase_add_test(tc, rings_misaligned_or_outside_memory_are_refused);
    tcase_add_test(tc, notifications_for_absent_or_unset_queues_are_ignored);
    tcase_add_test(tc, nothing_is_served_before_driver_ok);
    tcase_add_test(tc, a_reset_in_the_middle_of_io_drops_the_requests);
    tcase_add_test(tc, the_driver_cannot_clear_needs_reset);
    tcase_add_test(tc, register_writes_of_odd_widths_are_ignored);
    suite_add_tcase(s, tc);
    return s;
}
