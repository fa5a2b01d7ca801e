/* SPDX-License-Identifier: MIT */
/*
 * buggy.c: a driver with one bug at a time, for the tests of what a
 * sandboxed driver can and cannot do. SBVM_BUGGY (in the test program's
 * environment) picks the bug:
 *
 *   wild-store     a store to an unmapped address, in init
 *   irq-crash      a NULL dereference in its interrupt handler
 *   task-crash     a NULL dereference in a task it started
 *   loop           a descriptor chain that loops
 *   dma-outside    a buffer address outside its DMA memory
 *   absurd-length  a buffer of 4 GiB - 1 bytes
 *   leak           every kind of resource, left behind
 *   double-close   frees, detaches and stops everything twice
 *   foreign-close  frees and closes what is not its own
 *
 * It finds the first virtio-blk device and sets it up (vdrv.c) for the bugs
 * that need a device.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandboxvm/driver.h"
#include "vdrv.h"

static const struct sbvm_driver_if *I;
static sbvm_driver *self;
static struct vdrv v;
static struct vdrv_queue q;
static sbvm_event *irq_seen;

static void __attribute__((noinline)) wild_store(void)
{
    *(volatile int *)(uintptr_t)0x10 = 42;
}

static void __attribute__((noinline)) irq_handler_that_crashes(void *ctx)
{
    (void)ctx;
    vdrv_isr(&v);
    *(volatile int *)(uintptr_t)ctx = 1; /* ctx is NULL */
}

static void __attribute__((noinline)) task_that_crashes(void *arg)
{
    usleep(1000);
    *(volatile long *)arg = 7; /* arg is NULL */
}

static void on_irq(void *ctx)
{
    (void)ctx;
    vdrv_isr(&v);
    I->event_signal(irq_seen);
}

static void idle_task(void *arg)
{
    /* Waits for an event nobody signals: still running at the end. */
    I->event_wait(arg, -1);
}

static void tick(void *arg)
{
    (void)arg;
}

/* The first virtio-blk device, set up with one queue. */
static int device(sbvm_pci **out)
{
    int n = I->pci_count(self);

    for (int i = 0; i < n; i++) {
        struct sbvm_pci_info info;
        sbvm_pci *p;
        if (I->pci_get(self, (unsigned)i, &p, &info) < 0 || info.vendor != 0x1af4 ||
            (info.device != 0x1001 && info.device != 0x1042))
            continue;
        if (vdrv_probe(&v, self, I, p, false) < 0 || vdrv_negotiate(&v, 0) < 0 ||
            vdrv_queue_init(&v, 0, 64, &q) < 0)
            return -EIO;
        vdrv_ready(&v);
        *out = p;
        return 0;
    }
    return -ENODEV;
}

/* A FLUSH request through the queue, to make the device interrupt. */
static void flush(void)
{
    uint64_t dma;
    uint8_t *hdr = I->dma_alloc(self, 32, 16, &dma);
    struct vdrv_seg seg[2] = { { dma, 16, false }, { dma + 16, 1, true } };
    uint32_t type = 4;

    memcpy(hdr, &type, 4);
    vdrv_add(&q, seg, 2, hdr);
    vdrv_kick(&v, &q);
}

/* Descriptors written by hand: the bugs a driver can put in a ring. */
static void bad_chain(const char *bug)
{
    uint64_t dma;
    uint8_t *hdr = I->dma_alloc(self, 64, 16, &dma);
    struct vdrv_seg seg[3] = { { dma, 16, false }, { dma + 32, 512, true }, { dma + 16, 1, true } };
    int head;

    if (!strcmp(bug, "dma-outside"))
        seg[1].addr = 0xdead0000;
    else if (!strcmp(bug, "absurd-length"))
        seg[1].len = 0xffffffffu;
    head = vdrv_add(&q, seg, 3, hdr);
    if (!strcmp(bug, "loop") && head >= 0) {
        /* The last descriptor (the status) points back at the data one,
         * with NEXT set: data, status, data, status ... */
        uint16_t data, last, flags;
        memcpy(&data, q.desc + 16u * (uint16_t)head + 14, 2);
        memcpy(&last, q.desc + 16u * data + 14, 2);
        memcpy(&flags, q.desc + 16u * last + 12, 2);
        flags |= 1;
        memcpy(q.desc + 16u * last + 12, &flags, 2);
        memcpy(q.desc + 16u * last + 14, &data, 2);
    }
    vdrv_kick(&v, &q);
    usleep(200000);
    I->log(self, SBVM_LOG_WARN, "device status after the bad chain: 0x%02x%s", vdrv_status(&v),
           vdrv_status(&v) & 64 ? " (DEVICE_NEEDS_RESET)" : "");
}

static int buggy_init(sbvm_driver *d, const struct sbvm_driver_if *ifc)
{
    const char *bug = getenv("SBVM_BUGGY");
    sbvm_pci *p = NULL;
    sbvm_irq *irq;
    sbvm_task *t;

    I = ifc;
    self = d;
    if (!bug)
        return -EINVAL;
    I->log(d, SBVM_LOG_INFO, "bug: %s", bug);
    if (!strcmp(bug, "wild-store")) {
        wild_store();
        return 0;
    }
    if (!strcmp(bug, "task-crash")) {
        I->task_start(d, "buggy-task", task_that_crashes, NULL, &t);
        sleep(5);
        return 0;
    }
    if (device(&p) < 0)
        return -ENODEV;
    if (!strcmp(bug, "irq-crash")) {
        I->irq_attach(d, p, irq_handler_that_crashes, NULL, &irq);
        flush();
        sleep(5);
        return 0;
    }
    if (!strcmp(bug, "loop") || !strcmp(bug, "dma-outside") || !strcmp(bug, "absurd-length")) {
        bad_chain(bug);
        return 0;
    }
    I->event_new(d, &irq_seen);
    if (!strcmp(bug, "leak")) {
        sbvm_timer *tm;
        sbvm_lock *l;
        sbvm_unit *u;
        uint64_t dma;
        I->alloc(d, 100);
        I->alloc(d, 28);
        I->dma_alloc(d, 4096, 0, &dma);
        I->irq_attach(d, p, on_irq, NULL, &irq);
        I->timer_start(d, 1000000000, 1000000000, tick, NULL, &tm);
        I->task_start(d, "buggy-idle", idle_task, irq_seen, &t);
        I->lock_new(d, &l);
        I->unit_add(d, "buggy", 0, NULL);
        I->unit_open(d, "buggy", 0, &u);
        return 0;
    }
    if (!strcmp(bug, "double-close")) {
        uint64_t dma;
        void *m = I->alloc(d, 64), *b = I->dma_alloc(d, 64, 0, &dma);
        sbvm_timer *tm;
        I->irq_attach(d, p, on_irq, NULL, &irq);
        I->timer_start(d, 1000000000, 0, tick, NULL, &tm);
        I->free(d, m);
        I->free(d, m);
        I->dma_free(d, b);
        I->dma_free(d, b);
        I->irq_detach(d, irq);
        I->irq_detach(d, irq);
        I->timer_stop(d, tm);
        I->timer_stop(d, tm);
        I->event_free(d, irq_seen);
        return 0;
    }
    if (!strcmp(bug, "foreign-close")) {
        void *mine = malloc(32);
        I->free(d, mine); /* libc's, not the interface's */
        I->dma_free(d, (char *)mine + 8);
        I->irq_detach(d, (sbvm_irq *)mine);
        I->event_free(d, irq_seen);
        free(mine);
        return 0;
    }
    return -EINVAL;
}

static int buggy_begin_io(sbvm_driver *d, void *unit_ctx, struct sbvm_io *io)
{
    (void)d, (void)unit_ctx, (void)io;
    return -ENOTSUP;
}

SBVM_DRIVER_API const struct sbvm_resident sbvm_resident = {
    .magic = SBVM_RESIDENT_MAGIC,
    .abi_major = SBVM_DRIVER_ABI_MAJOR,
    .abi_minor = SBVM_DRIVER_ABI_MINOR,
    .version = 1,
    .name = "buggy",
    .init = buggy_init,
    .begin_io = buggy_begin_io,
};
