/* SPDX-License-Identifier: MIT */
/*
 * test-devices.c: the device models driven by a well-behaved driver at the
 * register level: the synthetic PCI bus (identity, BAR sizing, capability
 * list, decoding), virtio-pci (legacy and modern), virtio-blk and
 * virtio-scsi commands and what they leave in the image.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices-util.h"
#include "devices/scsi.h"
#include "unit.h"

#define MiB (1024u * 1024u)

static uint64_t blk_features(void)
{
    return BIT64(VIRTIO_FB_VERSION_1) | BIT64(VIRTIO_FB_INDIRECT_DESC) | BIT64(VIRTIO_FB_EVENT_IDX);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed);
}

/* ------------------------------------------------------------------------ */
/* PCI                                                                      */

START_TEST(pci_identity_and_bar_sizing)
{
    struct tdrv t;
    uint32_t v;

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_VENDOR_ID, 2), 0x1af4);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_DEVICE_ID, 2), 0x1001);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_REVISION, 1), 0);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_SUBSYS_ID, 2), 2);
    /* BAR 0 is I/O: all ones written reads back the size mask and bit 0. */
    td_cfg_write(&t, PCI_BAR0, 4, 0xffffffff);
    v = td_cfg_read(&t, PCI_BAR0, 4);
    ck_assert_uint_eq(v & 1, 1);
    ck_assert_uint_eq(~(v & ~3u) + 1, 128); /* 0x14 + 60 bytes, rounded up */
    /* BAR 4 is 64-bit memory of 16 KiB. */
    td_cfg_write(&t, PCI_BAR0 + 16, 4, 0xffffffff);
    td_cfg_write(&t, PCI_BAR0 + 20, 4, 0xffffffff);
    v = td_cfg_read(&t, PCI_BAR0 + 16, 4);
    ck_assert_uint_eq(v & 0xf, 4);
    ck_assert_uint_eq(~(v & ~15u) + 1, VPCI_MODERN_SIZE);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_BAR0 + 20, 4), 0xffffffff);
    /* Read-only fields stay. */
    td_cfg_write(&t, PCI_VENDOR_ID, 4, 0);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_VENDOR_ID, 2), 0x1af4);
    td_teardown(&t);
}
END_TEST

START_TEST(pci_capability_list_names_every_virtio_window)
{
    struct tdrv t;
    unsigned seen = 0, off, n = 0;

    td_setup(&t, "virtio-scsi", MiB, false, DEV_TRANSITIONAL);
    ck_assert_uint_ne(td_cfg_read(&t, PCI_STATUS, 2) & PCI_STATUS_CAPS, 0);
    off = td_cfg_read(&t, PCI_CAP_PTR, 1);
    while (off && n++ < 16) {
        ck_assert_uint_eq(td_cfg_read(&t, off, 1), 0x09);
        unsigned type = td_cfg_read(&t, off + 3, 1);
        seen |= 1u << type;
        if (type != 5)
            ck_assert_uint_eq(td_cfg_read(&t, off + 4, 1), 4);
        if (type == 2)
            ck_assert_uint_eq(td_cfg_read(&t, off + 16, 4), VPCI_NOTIFY_MULT);
        off = td_cfg_read(&t, off + 1, 1);
    }
    ck_assert_uint_eq(seen, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5));
    td_teardown(&t);
}
END_TEST

START_TEST(pci_bars_answer_only_while_decoded)
{
    struct tdrv t;
    uint64_t v;

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_cfg_write(&t, PCI_COMMAND, 2, 0);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_NUMQ, 2), 0xffff);
    ck_assert_uint_eq(td_bar_read(&t, 0, VPCI_L_QUEUE_NUM, 2), 0xffff);
    td_cfg_write(&t, PCI_COMMAND, 2, PCI_CMD_MEMORY);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_NUMQ, 2), 1);
    ck_assert_uint_eq(td_bar_read(&t, 0, VPCI_L_QUEUE_NUM, 2), 0xffff);
    /* An absent slot reads all ones; accesses out of bounds fail. */
    uint32_t c;
    ck_assert_int_eq(pci_cfg_read(&t.bus, 5, 0, 4, &c), 0);
    ck_assert_uint_eq(c, 0xffffffff);
    ck_assert_int_eq(pci_cfg_read(&t.bus, 0, 255, 2, &c), -EINVAL);
    ck_assert_int_eq(pci_cfg_read(&t.bus, 0, 2, 4, &c), -EINVAL);
    ck_assert_int_eq(pci_bar_read(&t.bus, 0, 4, VPCI_MODERN_SIZE - 2, 4, &v), -EINVAL);
    ck_assert_int_eq(pci_bar_read(&t.bus, 0, 3, 0, 4, &v), -EINVAL);
    ck_assert_int_eq(pci_bar_write(&t.bus, 0, 4, UINT64_MAX - 1, 2, 0), -EINVAL);
    td_teardown(&t);
}
END_TEST

START_TEST(pci_config_access_capability_reaches_the_bars)
{
    struct tdrv t;
    unsigned off = 0x40, c = 0;

    td_setup(&t, "virtio-blk", MiB, false, DEV_MODERN);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_DEVICE_ID, 2), 0x1042);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_REVISION, 1), 1);
    for (off = td_cfg_read(&t, PCI_CAP_PTR, 1); off; off = td_cfg_read(&t, off + 1, 1))
        if (td_cfg_read(&t, off + 3, 1) == 5)
            c = off;
    ck_assert_uint_ne(c, 0);
    td_cfg_write(&t, c + 4, 1, 4);
    td_cfg_write(&t, c + 8, 4, VPCI_C_NUMQ);
    td_cfg_write(&t, c + 12, 4, 2);
    ck_assert_uint_eq(td_cfg_read(&t, c + 16, 4) & 0xffff, 1);
    /* Write the status through it. */
    td_cfg_write(&t, c + 8, 4, VPCI_C_STATUS);
    td_cfg_write(&t, c + 12, 4, 1);
    td_cfg_write(&t, c + 16, 4, VIRTIO_S_ACKNOWLEDGE);
    ck_assert_uint_eq(t.dev.status, VIRTIO_S_ACKNOWLEDGE);
    /* A bad window (length 3) reads zero and writes nothing. */
    td_cfg_write(&t, c + 12, 4, 3);
    ck_assert_uint_eq(td_cfg_read(&t, c + 16, 4), 0);
    td_teardown(&t);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* virtio-blk                                                               */

START_TEST(blk_modern_offers_and_negotiates)
{
    struct tdrv t;
    uint64_t cap;

    td_setup(&t, "virtio-blk", 8 * MiB, false, DEV_TRANSITIONAL);
    td_bar_write(&t, 4, VPCI_C_DFSELECT, 4, 1);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_DF, 4) & 1, 1); /* VERSION_1 */
    td_bar_write(&t, 4, VPCI_C_DFSELECT, 4, 0);
    ck_assert_uint_ne(td_bar_read(&t, 4, VPCI_C_DF, 4) & (1u << 9), 0); /* FLUSH */
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_DF, 4) & (1u << 5), 0); /* not RO */
    cap = td_bar_read(&t, 4, VPCI_DEVICE_OFF, 8);
    ck_assert_uint_eq(cap, 8 * MiB / 512);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_DEVICE_OFF + 20, 4), 512);
    /* Without VERSION_1 a modern driver is refused FEATURES_OK. */
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 3);
    td_bar_write(&t, 4, VPCI_C_GFSELECT, 4, 0);
    td_bar_write(&t, 4, VPCI_C_GF, 4, 1u << 9);
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 3 | VIRTIO_S_FEATURES_OK);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_STATUS, 1) & VIRTIO_S_FEATURES_OK, 0);
    /* Nor is one that accepts a feature it was not offered (bit 12: MQ). */
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 0);
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 3);
    td_bar_write(&t, 4, VPCI_C_GF, 4, 1u << 12);
    td_bar_write(&t, 4, VPCI_C_GFSELECT, 4, 1);
    td_bar_write(&t, 4, VPCI_C_GF, 4, 1);
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 3 | VIRTIO_S_FEATURES_OK);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_STATUS, 1) & VIRTIO_S_FEATURES_OK, 0);
    td_init_modern(&t, blk_features());
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_C_STATUS, 1), 0xf);
    td_teardown(&t);
}
END_TEST

static void blk_roundtrip(struct tdrv *t)
{
    uint8_t out[8192], in[8192];
    int fd;

    fill(out, sizeof(out), 7);
    ck_assert_int_eq(td_blk(t, 1, 10, out, sizeof(out), false), 0);
    memset(in, 0, sizeof(in));
    ck_assert_int_eq(td_blk(t, 0, 10, in, sizeof(in), true), 0);
    ck_assert_mem_eq(in, out, sizeof(out));
    /* And it is in the image, where the sector says. */
    fd = open(t->img, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, in, sizeof(in), 10 * 512), (ssize_t)sizeof(in));
    close(fd);
    ck_assert_mem_eq(in, out, sizeof(out));
}

START_TEST(blk_modern_write_then_read_back)
{
    struct tdrv t;

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_init_modern(&t, blk_features());
    blk_roundtrip(&t);
    ck_assert_uint_eq(t.dev.st.requests, 2);
    ck_assert_uint_eq(t.dev.st.bytes_written, 8192);
    ck_assert_uint_eq(t.dev.st.bytes_read, 8192);
    ck_assert_uint_ge(t.intx_raised, 1);
    td_teardown(&t);
}
END_TEST

START_TEST(blk_legacy_write_then_read_back)
{
    struct tdrv t;

    td_setup(&t, "virtio-blk", MiB, false, DEV_LEGACY);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_DEVICE_ID, 2), 0x1001);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_CAP_PTR, 1), 0); /* no modern capabilities */
    /* Legacy: the configuration follows the registers at 0x14. */
    ck_assert_uint_eq(td_bar_read(&t, 0, VPCI_L_CONFIG, 4), MiB / 512);
    td_init_legacy(&t, 1u << VIRTIO_FB_INDIRECT_DESC);
    blk_roundtrip(&t);
    /* The ISR says a queue interrupt, and reading it clears it. */
    ck_assert_uint_eq(td_bar_read(&t, 0, VPCI_L_ISR, 1), 1);
    ck_assert_uint_eq(td_bar_read(&t, 0, VPCI_L_ISR, 1), 0);
    ck_assert_uint_eq(td_cfg_read(&t, PCI_STATUS, 2) & PCI_STATUS_INTX, 0);
    td_teardown(&t);
}
END_TEST

START_TEST(blk_indirect_descriptors_and_split_buffers)
{
    struct tdrv t;
    uint64_t hdr, a, b, st;
    uint8_t out[1024], *pa, *pb;
    uint32_t id, len, type = 0;
    uint64_t sector = 2;

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_init_modern(&t, blk_features());
    fill(out, sizeof(out), 3);
    ck_assert_int_eq(td_blk(&t, 1, 2, out, sizeof(out), false), 0);
    /* Read it back into two buffers of 100 and 924 bytes, through an
     * indirect table, the header split over two descriptors too. */
    hdr = td_alloc(&t, 16, 8);
    memcpy(td_ptr(&t, hdr), &type, 4);
    memcpy((uint8_t *)td_ptr(&t, hdr) + 8, &sector, 8);
    a = td_alloc(&t, 100, 1);
    b = td_alloc(&t, 924, 1);
    st = td_alloc(&t, 1, 1);
    struct td_seg segs[] = { { hdr, 5, false },
                             { hdr + 5, 11, false },
                             { a, 100, true },
                             { b, 924, true },
                             { st, 1, true } };
    uint16_t head = td_submit(&t, 0, segs, 5, true);
    td_kick(&t, 0);
    ck_assert_int_eq(td_used(&t, 0, &id, &len), 1);
    ck_assert_uint_eq(id, head);
    ck_assert_uint_eq(len, 1025);
    ck_assert_uint_eq(*(uint8_t *)td_ptr(&t, st), 0);
    pa = td_ptr(&t, a);
    pb = td_ptr(&t, b);
    ck_assert_mem_eq(pa, out, 100);
    ck_assert_mem_eq(pb, out + 100, 924);
    td_teardown(&t);
}
END_TEST

START_TEST(blk_flush_get_id_discard_write_zeroes)
{
    struct tdrv t;
    uint8_t buf[4096], zero[4096] = { 0 }, id[20];
    struct {
        uint64_t sector;
        uint32_t num, flags;
    } range = { 1, 4, 0 };

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_init_modern(&t, blk_features() | BIT64(13) | BIT64(14));
    ck_assert_int_eq(td_blk(&t, 4, 0, NULL, 0, false), 0); /* FLUSH */
    memset(id, 0xff, sizeof(id));
    ck_assert_int_eq(td_blk(&t, 8, 0, id, sizeof(id), true), 0);
    ck_assert_int_eq(memcmp(id, "SBVM", 4), 0);
    ck_assert_uint_eq(strnlen((char *)id, 20), 20);
    fill(buf, sizeof(buf), 9);
    ck_assert_int_eq(td_blk(&t, 1, 0, buf, sizeof(buf), false), 0);
    ck_assert_int_eq(td_blk(&t, 11, 0, &range, sizeof(range), false), 0); /* DISCARD 1..4 */
    ck_assert_int_eq(td_blk(&t, 0, 0, buf, sizeof(buf), true), 0);
    ck_assert_mem_eq(buf + 512, zero, 4 * 512);
    ck_assert_uint_eq(buf[0], (uint8_t)9);
    fill(buf, sizeof(buf), 9);
    ck_assert_int_eq(td_blk(&t, 1, 0, buf, sizeof(buf), false), 0);
    range.sector = 6;
    range.num = 2;
    ck_assert_int_eq(td_blk(&t, 13, 0, &range, sizeof(range), false), 0); /* WRITE_ZEROES */
    ck_assert_int_eq(td_blk(&t, 0, 0, buf, sizeof(buf), true), 0);
    ck_assert_mem_eq(buf + 6 * 512, zero, 2 * 512);
    ck_assert_uint_ne(buf[5 * 512 + 1], 0);
    td_teardown(&t);
}
END_TEST

START_TEST(blk_refusals_have_the_right_status)
{
    struct tdrv t;
    uint8_t buf[1024] = { 0 };
    struct {
        uint64_t sector;
        uint32_t num, flags;
    } range = { 2040, 16, 0 };

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_init_modern(&t, blk_features());
    ck_assert_int_eq(td_blk(&t, 0, 2047, buf, 1024, true), 1);            /* past the end */
    ck_assert_int_eq(td_blk(&t, 0, UINT64_MAX / 512, buf, 512, true), 1); /* overflow */
    ck_assert_int_eq(td_blk(&t, 0, 0, buf, 100, true), 1);                /* not sectors */
    ck_assert_int_eq(td_blk(&t, 10, 0, buf, 512, true), 2);               /* GET_LIFETIME */
    ck_assert_int_eq(td_blk(&t, 0x7fffffff, 0, buf, 512, true), 2);       /* nonsense */
    ck_assert_int_eq(td_blk(&t, 11, 0, &range, sizeof(range), false), 1); /* range past end */
    range.sector = 0;
    range.flags = 1;
    ck_assert_int_eq(td_blk(&t, 11, 0, &range, sizeof(range), false), 2); /* unmap: zeroes only */
    ck_assert_int_eq(td_blk(&t, 11, 0, buf, 17 * 16, false), 2);          /* 17 ranges */
    ck_assert_uint_eq(t.dev.st.errors, 8);
    ck_assert(!t.dev.broken);
    td_teardown(&t);
}
END_TEST

START_TEST(blk_read_only_image_refuses_writes)
{
    struct tdrv t;
    uint8_t buf[512];

    td_setup(&t, "virtio-blk", MiB, true, DEV_TRANSITIONAL);
    td_bar_write(&t, 4, VPCI_C_DFSELECT, 4, 0);
    ck_assert_uint_ne(td_bar_read(&t, 4, VPCI_C_DF, 4) & (1u << 5), 0); /* RO */
    td_init_modern(&t, blk_features() | BIT64(5));
    memset(buf, 0x5a, sizeof(buf));
    ck_assert_int_eq(td_blk(&t, 1, 0, buf, sizeof(buf), false), 1);
    ck_assert_int_eq(td_blk(&t, 0, 0, buf, sizeof(buf), true), 0);
    ck_assert_uint_eq(buf[0], 0);
    td_teardown(&t);
}
END_TEST

START_TEST(blk_event_index_suppresses_interrupts)
{
    struct tdrv t;
    uint8_t buf[512];
    uint16_t used_event;
    unsigned before;

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_init_modern(&t, blk_features());
    /* used_event = 5: no interrupt for the first requests... */
    used_event = 5;
    memcpy((uint8_t *)td_ptr(&t, t.q[0].avail) + 4 + 2 * TD_QSIZE, &used_event, 2);
    before = t.intx_raised;
    ck_assert_int_eq(td_blk(&t, 0, 0, buf, sizeof(buf), true), 0);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_ISR_OFF, 1), 1); /* first one: always */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(td_blk(&t, 0, 0, buf, sizeof(buf), true), 0);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_ISR_OFF, 1), 0);
    ck_assert_uint_eq(t.intx_raised, before + 1);
    /* ... the 6th used entry (index 5) passes it. */
    ck_assert_int_eq(td_blk(&t, 0, 0, buf, sizeof(buf), true), 0);
    ck_assert_uint_eq(t.intx_raised, before + 2);
    /* And the device told the driver where to notify next (avail_event). */
    uint16_t avail_event;
    memcpy(&avail_event, (uint8_t *)td_ptr(&t, t.q[0].used) + 4 + 8 * TD_QSIZE, 2);
    ck_assert_uint_eq(avail_event, 6);
    td_teardown(&t);
}
END_TEST

START_TEST(blk_no_interrupt_flag_is_honoured)
{
    struct tdrv t;
    uint8_t buf[512];
    uint16_t flags = VRING_AVAIL_F_NO_INTERRUPT;

    td_setup(&t, "virtio-blk", MiB, false, DEV_TRANSITIONAL);
    td_init_modern(&t, BIT64(VIRTIO_FB_VERSION_1));
    memcpy(td_ptr(&t, t.q[0].avail), &flags, 2);
    ck_assert_int_eq(td_blk(&t, 0, 0, buf, sizeof(buf), true), 0);
    ck_assert_uint_eq(t.intx_raised, 0);
    td_teardown(&t);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* virtio-scsi                                                              */

static void scsi_init(struct tdrv *t, bool ro)
{
    td_setup(t, "virtio-scsi", 4 * MiB, ro, DEV_TRANSITIONAL);
    td_init_modern(t, blk_features());
}

static void expect_sense(const struct td_scsi *r, uint8_t key, uint8_t asc)
{
    ck_assert_uint_eq(r->response, 0);
    ck_assert_uint_eq(r->status, SCSI_CHECK_CONDITION);
    ck_assert_uint_eq(r->sense_len, 18);
    ck_assert_uint_eq(r->sense[0], 0x70);
    ck_assert_uint_eq(r->sense[2], key);
    ck_assert_uint_eq(r->sense[12], asc);
}

START_TEST(scsi_config_and_64_target_scan)
{
    struct tdrv t;
    uint8_t cdb[6] = { 0x12, 0, 0, 0, 36, 0 }, inq[36];
    struct td_scsi r;
    unsigned found = 0, bad = 0;

    scsi_init(&t, false);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_DEVICE_OFF + 20, 4), 96); /* sense_size */
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_DEVICE_OFF + 24, 4), 32); /* cdb_size */
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_DEVICE_OFF + 30, 2), 63); /* max_target */
    for (unsigned target = 0; target < 64; target++) {
        memset(inq, 0, sizeof(inq));
        ck_assert_int_eq(td_scsi_cmd(&t, target, 0, cdb, 6, NULL, 0, inq, 36, &r), 0);
        if (r.response == 3) {
            bad++;
            continue;
        }
        ck_assert_uint_eq(r.response, 0);
        ck_assert_uint_eq(r.status, 0);
        ck_assert_uint_eq(inq[0], 0); /* direct access */
        ck_assert_int_eq(memcmp(inq + 8, "SBVM    Virtual Disk    0001", 28), 0);
        ck_assert_uint_eq(r.residual, 0);
        found++;
    }
    ck_assert_uint_eq(found, 1);
    ck_assert_uint_eq(bad, 63);
    td_teardown(&t);
}
END_TEST

START_TEST(scsi_vpd_pages)
{
    struct tdrv t;
    uint8_t cdb[6] = { 0x12, 1, 0x00, 0, 255, 0 }, d[255];
    struct td_scsi r;

    scsi_init(&t, false);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, cdb, 6, NULL, 0, d, sizeof(d), &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq(d[1], 0x00);
    ck_assert_uint_eq(d[3], 3);
    ck_assert_uint_eq(d[4], 0x00);
    ck_assert_uint_eq(d[5], 0x80);
    ck_assert_uint_eq(d[6], 0x83);
    ck_assert_uint_eq(r.residual, sizeof(d) - 7);
    cdb[2] = 0x80;
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, cdb, 6, NULL, 0, d, sizeof(d), &r), 0);
    ck_assert_uint_eq(d[1], 0x80);
    ck_assert_uint_eq(d[3], 20);
    ck_assert_int_eq(memcmp(d + 4, "SBVM", 4), 0);
    cdb[2] = 0x83;
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, cdb, 6, NULL, 0, d, sizeof(d), &r), 0);
    ck_assert_uint_eq(d[1], 0x83);
    ck_assert_uint_eq(d[4], 0x02); /* ASCII */
    ck_assert_uint_eq(d[5], 0x01); /* T10 vendor id */
    ck_assert_int_eq(memcmp(d + 8, "SBVM    SBVM", 12), 0);
    cdb[2] = 0xb0; /* not offered */
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, cdb, 6, NULL, 0, d, sizeof(d), &r), 0);
    expect_sense(&r, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD);
    cdb[1] = 0; /* a page without EVPD */
    cdb[2] = 0x80;
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, cdb, 6, NULL, 0, d, sizeof(d), &r), 0);
    expect_sense(&r, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD);
    td_teardown(&t);
}
END_TEST

START_TEST(scsi_capacity_10_and_16)
{
    struct tdrv t;
    uint8_t rc10[10] = { 0x25 }, rc16[16] = { 0x9e, 0x10 }, d[32];
    struct td_scsi r;

    scsi_init(&t, false);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, rc10, 10, NULL, 0, d, 8, &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq((unsigned)(d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3]), 4 * MiB / 512 - 1);
    ck_assert_uint_eq((unsigned)(d[4] << 24 | d[5] << 16 | d[6] << 8 | d[7]), 512);
    rc16[13] = 32;
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, rc16, 16, NULL, 0, d, 32, &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq(d[6] << 8 | d[7], 4 * MiB / 512 - 1);
    ck_assert_uint_eq(d[10] << 8 | d[11], 512);
    rc16[1] = 0x11; /* another service action */
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, rc16, 16, NULL, 0, d, 32, &r), 0);
    expect_sense(&r, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD);
    td_teardown(&t);
}
END_TEST

START_TEST(scsi_read_write_10_and_16)
{
    struct tdrv t;
    uint8_t out[4096], in[4096];
    uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 8, 0, 0, 8, 0 };
    uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0 };
    uint8_t w16[16] = { 0x8a }, r16[16] = { 0x88 };
    struct td_scsi r;

    scsi_init(&t, false);
    fill(out, sizeof(out), 1);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, w10, 10, out, sizeof(out), NULL, 0, &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, r10, 10, NULL, 0, in, sizeof(in), &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq(r.residual, 0);
    ck_assert_mem_eq(in, out, sizeof(out));
    /* (16), at LBA 100, two blocks, read into a larger buffer: residual. */
    w16[9] = 100;
    w16[13] = 2;
    r16[9] = 100;
    r16[13] = 2;
    fill(out, 1024, 2);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, w16, 16, out, 1024, NULL, 0, &r), 0);
    ck_assert_uint_eq(r.status, 0);
    memset(in, 0, sizeof(in));
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, r16, 16, NULL, 0, in, 2048, &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq(r.residual, 1024);
    ck_assert_mem_eq(in, out, 1024);
    /* A buffer too small for the transfer: OVERRUN, nothing read. */
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, r16, 16, NULL, 0, in, 1000, &r), 0);
    ck_assert_uint_eq(r.response, 1);
    td_teardown(&t);
}
END_TEST

START_TEST(scsi_bad_lba_and_opcode_give_sense)
{
    struct tdrv t;
    uint8_t in[512];
    uint8_t r10[10] = { 0x28, 0, 0, 0, 0x20, 0, 0, 0, 1, 0 }; /* LBA 8192: the end */
    uint8_t r16[16] = { 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1 };
    uint8_t bad[6] = { 0xc7 };
    struct td_scsi r;

    scsi_init(&t, false);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, r10, 10, NULL, 0, in, 512, &r), 0);
    expect_sense(&r, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
    ck_assert_uint_eq(r.residual, 512);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, r16, 16, NULL, 0, in, 512, &r), 0);
    expect_sense(&r, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, bad, 6, NULL, 0, in, 512, &r), 0);
    expect_sense(&r, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
    td_teardown(&t);
}
END_TEST

START_TEST(scsi_report_luns_request_sense_tur_sync)
{
    struct tdrv t;
    uint8_t rl[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64 }, d[64];
    uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 }, tur[6] = { 0 }, sync[10] = { 0x35 };
    struct td_scsi r;

    scsi_init(&t, false);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, rl, 12, NULL, 0, d, sizeof(d), &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq(d[3], 8); /* one LUN */
    ck_assert_uint_eq(d[8] | d[9], 0);
    rl[9] = 8; /* allocation length below 16 */
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, rl, 12, NULL, 0, d, sizeof(d), &r), 0);
    expect_sense(&r, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, rs, 6, NULL, 0, d, 18, &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq(d[0], 0x70);
    ck_assert_uint_eq(d[2], SCSI_KEY_NO_SENSE);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, tur, 6, NULL, 0, NULL, 0, &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, sync, 10, NULL, 0, NULL, 0, &r), 0);
    ck_assert_uint_eq(r.status, 0);
    td_teardown(&t);
}
END_TEST

START_TEST(scsi_mode_sense_and_write_protect)
{
    struct tdrv t;
    uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 255, 0 }, ms10[10] = { 0x5a, 0, 0x08, 0, 0, 0, 0, 0, 255 };
    uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, d[255], out[512] = { 1 };
    struct td_scsi r;

    scsi_init(&t, true);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, ms6, 6, NULL, 0, d, sizeof(d), &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq(d[0], 4 + 8 + 20 + 12 - 1);
    ck_assert_uint_eq(d[2], 0x80); /* WP */
    ck_assert_uint_eq(d[3], 8);
    ck_assert_uint_eq(d[12], 0x08); /* caching page */
    ck_assert_uint_eq(d[14] & 0x04, 0x04);
    ck_assert_uint_eq(d[32], 0x0a); /* control page */
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, ms10, 10, NULL, 0, d, sizeof(d), &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq(d[1], 8 + 8 + 20 - 2);
    ck_assert_uint_eq(d[3], 0x80);
    ms6[2] = 0x19; /* a page it does not have */
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, ms6, 6, NULL, 0, d, sizeof(d), &r), 0);
    expect_sense(&r, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 0, w10, 10, out, sizeof(out), NULL, 0, &r), 0);
    expect_sense(&r, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
    td_teardown(&t);
}
END_TEST

START_TEST(scsi_other_luns_and_the_control_queue)
{
    struct tdrv t;
    uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 }, tur[6] = { 0 }, d[36];
    struct td_scsi r;
    uint64_t req, resp;
    uint32_t id, len, type = 0, subtype = 0;
    uint8_t *p;

    scsi_init(&t, false);
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 3, inq, 6, NULL, 0, d, sizeof(d), &r), 0);
    ck_assert_uint_eq(r.status, 0);
    ck_assert_uint_eq(d[0], 0x7f); /* no device at this LUN */
    ck_assert_int_eq(td_scsi_cmd(&t, 0, 3, tur, 6, NULL, 0, NULL, 0, &r), 0);
    expect_sense(&r, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
    /* A task management function on the control queue. */
    req = td_alloc(&t, 24, 8);
    resp = td_alloc(&t, 1, 1);
    p = td_ptr(&t, req);
    memcpy(p, &type, 4);
    memcpy(p + 4, &subtype, 4);
    p[8] = 1;
    *(uint8_t *)td_ptr(&t, resp) = 0xee;
    struct td_seg segs[] = { { req, 24, false }, { resp, 1, true } };
    td_submit(&t, 0, segs, 2, false);
    td_kick(&t, 0);
    ck_assert_int_eq(td_used(&t, 0, &id, &len), 1);
    ck_assert_uint_eq(len, 1);
    ck_assert_uint_eq(*(uint8_t *)td_ptr(&t, resp), 0);
    td_teardown(&t);
}
END_TEST

START_TEST(scsi_driver_sizes_of_sense_and_cdb)
{
    struct tdrv t;

    scsi_init(&t, false);
    td_bar_write(&t, 4, VPCI_DEVICE_OFF + 20, 4, 32);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_DEVICE_OFF + 20, 4), 32);
    td_bar_write(&t, 4, VPCI_DEVICE_OFF + 20, 4, 100000); /* absurd: ignored */
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_DEVICE_OFF + 20, 4), 32);
    td_bar_write(&t, 4, VPCI_DEVICE_OFF + 24, 4, 2); /* too small for any CDB */
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_DEVICE_OFF + 24, 4), 32);
    td_bar_write(&t, 4, VPCI_DEVICE_OFF + 0, 4, 7); /* read-only field */
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_DEVICE_OFF + 0, 4), 1);
    /* A reset restores the defaults. */
    td_bar_write(&t, 4, VPCI_C_STATUS, 1, 0);
    ck_assert_uint_eq(td_bar_read(&t, 4, VPCI_DEVICE_OFF + 20, 4), 96);
    td_teardown(&t);
}
END_TEST

START_TEST(device_specs_parse_and_refuse)
{
    struct devspec s;
    sbvm_error *err = NULL;

    ck_assert_int_eq(devspec_parse("virtio-scsi,disk=a.img,ro,disk=b.img,size=1M", &s, &err), 0);
    ck_assert_ptr_eq(s.ops, &virtio_scsi_ops);
    ck_assert_uint_eq(s.ndisks, 2);
    ck_assert(s.disks[0].ro);
    ck_assert(!s.disks[1].ro);
    ck_assert_uint_eq(s.disks[1].size, 1u << 20);
    devspec_release(&s);
    static const char *const bad[] = {
        "virtio-net,disk=a",
        "virtio-blk",
        "virtio-blk,ro,disk=a",
        "virtio-blk,disk=",
        "virtio-blk,disk=a,size=100",
        "virtio-blk,disk=a,disk=b",
        "virtio-blk,disk=a,bogus",
        "virtio-blk,disk=a,transport=pci",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(devspec_parse(bad[i], &s, &err) == -EINVAL, "'%s' accepted", bad[i]);
        ck_assert_ptr_nonnull(err);
        sbvm_error_free(err);
        err = NULL;
    }
}
END_TEST

Suite *suite_devices(void)
{
    Suite *s = suite_create("devices");
    TCase *tc = tcase_create("devices");

    tcase_add_test(tc, pci_identity_and_bar_sizing);
    tcase_add_test(tc, pci_capability_list_names_every_virtio_window);
    tcase_add_test(tc, pci_bars_answer_only_while_decoded);
    tcase_add_test(tc, pci_config_access_capability_reaches_the_bars);
    tcase_add_test(tc, blk_modern_offers_and_negotiates);
    tcase_add_test(tc, blk_modern_write_then_read_back);
    tcase_add_test(tc, blk_legacy_write_then_read_back);
    tcase_add_test(tc, blk_indirect_descriptors_and_split_buffers);
    tcase_add_test(tc, blk_flush_get_id_discard_write_zeroes);
    tcase_add_test(tc, blk_refusals_have_the_right_status);
    tcase_add_test(tc, blk_read_only_image_refuses_writes);
    tcase_add_test(tc, blk_event_index_suppresses_interrupts);
    tcase_add_test(tc, blk_no_interrupt_flag_is_honoured);
    tcase_add_test(tc, scsi_config_and_64_target_scan);
    tcase_add_test(tc, scsi_vpd_pages);
    tcase_add_test(tc, scsi_capacity_10_and_16);
    tcase_add_test(tc, scsi_read_write_10_and_16);
    tcase_add_test(tc, scsi_bad_lba_and_opcode_give_sense);
    tcase_add_test(tc, scsi_report_luns_request_sense_tur_sync);
    tcase_add_test(tc, scsi_mode_sense_and_write_protect);
    tcase_add_test(tc, scsi_other_luns_and_the_control_queue);
    tcase_add_test(tc, scsi_driver_sizes_of_sense_and_cdb);
    tcase_add_test(tc, device_specs_parse_and_refuse);
    suite_add_tcase(s, tc);
    return s;
}
