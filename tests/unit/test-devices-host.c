/* SPDX-License-Identifier: MIT */
/*
 * test-devices-host.c: the driver host's host calls as a hostile runtime in
 * the sandbox could make them: accesses to absent devices, odd widths and
 * offsets, unknown operations, short arguments, a ledger of hostile text and
 * of too many lines. Each is answered with an error; nothing else changes.
 */
#include <stdlib.h>
#include <string.h>

#include "drivers/host.h"
#include "drivers/proto.h"
#include "sandboxvm/channel.h"
#include "unit.h"

struct dh {
    char *dir;
    struct drvhost *h;
};

static void dh_setup(struct dh *t)
{
    struct strv specs = STRV_INIT;
    char spec[600];
    sbvm_error *err = NULL;

    t->dir = unit_tmpdir();
    snprintf(spec, sizeof(spec), "virtio-blk,disk=%s/a.img,size=1M", t->dir);
    ck_assert_int_eq(strv_push(&specs, spec), 0);
    snprintf(spec, sizeof(spec), "virtio-scsi,disk=%s/b.img,size=1M,transport=legacy", t->dir);
    ck_assert_int_eq(strv_push(&specs, spec), 0);
    ck_assert_msg(drvhost_new(&specs, NULL, false, &t->h, &err) == 0, "%s",
                  err ? sbvm_error_message(err) : "?");
    strv_release(&specs);
}

static void dh_teardown(struct dh *t)
{
    drvhost_free(t->h);
    unit_rmtree(t->dir);
    free(t->dir);
}

static int32_t pci(struct dh *t, uint32_t op, uint32_t slot, uint32_t bar, uint32_t width,
                   uint64_t off, uint64_t val, uint64_t *out)
{
    struct drv_pci_in in = { op, slot, bar, width, off, val };
    uint64_t v = 0;
    size_t n = 0;
    int32_t r = drvhost_call(t->h, DRV_CALL_PCI, &in, sizeof(in), &v, sizeof(v), &n);

    ck_assert_uint_eq(n, sizeof(v));
    if (out)
        *out = v;
    return r;
}

START_TEST(hello_and_the_bus_as_the_runtime_sees_them)
{
    struct dh t;
    struct drv_hello_out h;
    struct drv_pci_ent e[32];
    size_t n;

    dh_setup(&t);
    ck_assert_int_eq(drvhost_call(t.h, DRV_CALL_HELLO, NULL, 0, &h, sizeof(h), &n), 0);
    ck_assert_uint_eq(n, sizeof(h));
    ck_assert_uint_eq(h.version, DRV_PROTO_VERSION);
    ck_assert_uint_eq(h.ndevs, 2);
    ck_assert_uint_eq(h.dma_base, DRV_DMA_BASE);
    ck_assert_int_eq(drvhost_call(t.h, DRV_CALL_ENUM, NULL, 0, e, sizeof(e), &n), 2);
    ck_assert_uint_eq(n, 2 * sizeof(e[0]));
    ck_assert_uint_eq(e[0].device, 0x1001);
    ck_assert_uint_eq(e[1].device, 0x1004);
    ck_assert_uint_eq(e[1].subsys_id, 8);
    /* An answer buffer for one entry gets one. */
    ck_assert_int_eq(drvhost_call(t.h, DRV_CALL_ENUM, NULL, 0, e, sizeof(e[0]) + 3, &n), 1);
    /* A buffer too small for hello. */
    ck_assert_int_eq(drvhost_call(t.h, DRV_CALL_HELLO, NULL, 0, &h, 4, &n), -EMSGSIZE);
    ck_assert_int_eq(drvhost_call(t.h, 0x5099, NULL, 0, &h, sizeof(h), &n), -ENOSYS);
    dh_teardown(&t);
}
END_TEST

START_TEST(pci_accesses_that_lie_are_refused)
{
    struct dh t;
    uint64_t v;
    struct drv_pci_in in = { DRV_CFG_READ, 0, 0, 4, 0, 0 };
    size_t n;

    dh_setup(&t);
    ck_assert_int_eq(pci(&t, DRV_CFG_READ, 0, 0, 2, 0, 0, &v), 0);
    ck_assert_uint_eq(v, 0x1af4);
    ck_assert_int_eq(pci(&t, DRV_CFG_READ, 31, 0, 4, 0, 0, &v), 0); /* absent: all ones */
    ck_assert_uint_eq(v, 0xffffffff);
    ck_assert_int_eq(pci(&t, DRV_CFG_READ, UINT32_MAX, 0, 4, 0, 0, &v), 0);
    ck_assert_uint_eq(v, 0xffffffff);
    ck_assert_int_eq(pci(&t, DRV_CFG_READ, 0, 0, 3, 0, 0, &v), -EINVAL);
    ck_assert_int_eq(pci(&t, DRV_CFG_READ, 0, 0, 8, 0, 0, &v), -EINVAL);
    ck_assert_int_eq(pci(&t, DRV_CFG_READ, 0, 0, 4, 256, 0, &v), -EINVAL);
    ck_assert_int_eq(pci(&t, DRV_CFG_READ, 0, 0, 4, (1ull << 32) + 4, 0, &v), -EINVAL);
    ck_assert_int_eq(pci(&t, DRV_CFG_WRITE, 0, 0, 4, UINT64_MAX, 0, &v), -EINVAL);
    ck_assert_int_eq(pci(&t, DRV_BAR_READ, 0, 9, 4, 0, 0, &v), -EINVAL);
    ck_assert_int_eq(pci(&t, DRV_BAR_READ, 0, 4, 4, UINT64_MAX - 1, 0, &v), -EINVAL);
    ck_assert_int_eq(pci(&t, DRV_BAR_WRITE, 1, 4, 4, 0, 0, &v), -EINVAL); /* legacy: no BAR 4 */
    ck_assert_int_eq(pci(&t, 77, 0, 0, 4, 0, 0, &v), -EINVAL);
    ck_assert_int_eq(drvhost_call(t.h, DRV_CALL_PCI, &in, sizeof(in) - 1, &v, sizeof(v), &n),
                     -EINVAL);
    ck_assert_int_eq(drvhost_call(t.h, DRV_CALL_PCI, &in, sizeof(in), &v, 4, &n), -EINVAL);
    dh_teardown(&t);
}
END_TEST

START_TEST(the_ledger_keeps_hostile_text_printable_and_bounded)
{
    struct dh t;
    struct strv devs = STRV_INIT, ledger = STRV_INIT;
    char text[700];
    size_t n;

    dh_setup(&t);
    memset(text, 'a', sizeof(text));
    text[3] = '\033';
    text[4] = '\n';
    text[5] = 0;
    ck_assert_int_eq(drvhost_call(t.h, DRV_CALL_LEDGER, text, sizeof(text), NULL, 0, &n), 0);
    for (int i = 1; i < 256; i++)
        ck_assert_int_eq(drvhost_call(t.h, DRV_CALL_LEDGER, "x", 1, NULL, 0, &n), 0);
    ck_assert_int_eq(drvhost_call(t.h, DRV_CALL_LEDGER, "x", 1, NULL, 0, &n), -ENOSPC);
    ck_assert_int_eq(drvhost_report(t.h, &devs, &ledger), 0);
    ck_assert_uint_eq(devs.n, 2);
    ck_assert_ptr_nonnull(strstr(devs.v[0], "virtio-blk0 (virtio-blk, slot 0): 0 requests"));
    ck_assert_ptr_nonnull(strstr(devs.v[1], "virtio-scsi1 (virtio-scsi, slot 1)"));
    ck_assert_uint_eq(ledger.n, 256);
    ck_assert_uint_eq(strlen(ledger.v[0]), 511);
    ck_assert_int_eq(memcmp(ledger.v[0], "aaa???aa", 8), 0);
    strv_release(&devs);
    strv_release(&ledger);
    dh_teardown(&t);
}
END_TEST

START_TEST(a_device_description_that_fails_fails_the_host)
{
    struct strv specs = STRV_INIT;
    struct drvhost *h = NULL;
    sbvm_error *err = NULL;

    ck_assert_int_eq(strv_push(&specs, "virtio-blk,disk=/nonexistent/dir/x.img"), 0);
    ck_assert_int_lt(drvhost_new(&specs, NULL, false, &h, &err), 0);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "/nonexistent/dir/x.img"));
    ck_assert_ptr_null(h);
    sbvm_error_free(err);
    strv_release(&specs);
}
END_TEST

/* The devices use the guest's one host channel (fd 3): a configuration
 * that asks for another channel as well is refused at set-up, saying why,
 * and the guest never runs. */
START_TEST(devices_and_another_channel_are_refused)
{
    char *dir = unit_tmpdir();
    sbvm_config *cfg = sbvm_config_new();
    sbvm_channel_config *cc = sbvm_channel_config_new();
    const char *argv[] = { "/bin/true", NULL };
    sbvm_result *r = NULL;
    sbvm_error *err = NULL;
    char spec[600];

    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_nonnull(cc);
    snprintf(spec, sizeof(spec), "virtio-blk,disk=%s/c.img,size=1M", dir);
    ck_assert_int_eq(sbvm_config_set_argv(cfg, 1, argv, NULL), 0);
    ck_assert_int_eq(sbvm_config_add_device(cfg, spec, NULL), 0);
    sbvm_config_set_channel(cfg, cc);
    ck_assert_msg(sbvm_run(cfg, &r, &err) == 0, "sbvm_run: %s", sbvm_error_message(err));
    ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_SETUP_FAILED);
    ck_assert_msg(strstr(sbvm_result_message(r), "cannot have another channel"), "%s",
                  sbvm_result_message(r));
    sbvm_result_free(r);
    sbvm_config_free(cfg);
    sbvm_channel_config_free(cc);
    unit_rmtree(dir);
    free(dir);
}
END_TEST

Suite *suite_devices_host(void)
{
    Suite *s = suite_create("devices_host");
    TCase *tc = tcase_create("devices_host");

    tcase_add_test(tc, hello_and_the_bus_as_the_runtime_sees_them);
    tcase_add_test(tc, pci_accesses_that_lie_are_refused);
    tcase_add_test(tc, the_ledger_keeps_hostile_text_printable_and_bounded);
    tcase_add_test(tc, a_device_description_that_fails_fails_the_host);
    tcase_add_test(tc, devices_and_another_channel_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
