/* SPDX-License-Identifier: MIT */
/*
 * drvtest.c: the test program of `sandboxvm run --device ... -r DRIVER.so
 * -t drvtest MODE ...`: it loads the drivers (sbvm_drivers_load), opens
 * their units by name and drives them, printing one line per fact for the
 * CLI tests to check.
 *
 *   drvtest info NAME [UNIT]          the unit's size and model
 *   drvtest rw NAME [UNIT]            patterns written and read back, sync and
 *                                     async, a flush, an abort
 *   drvtest scsi                      the 64-target INQUIRY scan, capacity,
 *                                     patterns and sense through pass-through
 *   drvtest parts                     the partition units and their contents
 *   drvtest bench NAME UNIT rand|seq BS QD SECONDS [dma]
 *   drvtest write1 NAME               one block written: ok, or the error
 *   drvtest misuse                    a double close, a close of a unit never
 *                                     opened, and things left open
 *   drvtest load                      load the drivers, unload them, and say
 *                                     what they left behind
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandboxvm/driver.h"
#include "sandboxvm/guest.h"

static int fail(const char *what, int rc)
{
    printf("FAIL %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
    return 1;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
}

static int io(sbvm_unit *u, uint16_t cmd, uint64_t off, void *buf, uint64_t len)
{
    struct sbvm_io r;

    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.command = cmd;
    r.offset = off;
    r.length = len;
    r.data = buf;
    return sbvm_unit_io(u, &r);
}

static int do_info(const char *name, unsigned unit)
{
    struct sbvm_unit_info info;
    sbvm_unit *u;
    int rc = sbvm_unit_open(name, unit, &u);

    if (rc < 0)
        return fail("open", rc);
    rc = io(u, SBVM_IO_INFO, 0, &info, sizeof(info));
    if (rc < 0)
        return fail("info", rc);
    printf("unit %s %u: %llu blocks of %u bytes, %s%s\n", name, unit,
           (unsigned long long)info.blocks, info.block_size, info.model,
           info.flags & SBVM_UNIT_READONLY ? ", read-only" : "");
    sbvm_unit_close(u);
    return 0;
}

static int do_rw(const char *name, unsigned unit)
{
    enum { N = 16, BS = 8192 };
    static struct sbvm_io reqs[N];
    struct sbvm_unit_info info;
    uint8_t *w = malloc(N * BS), *r = malloc(N * BS);
    sbvm_unit *u;
    int rc;

    if (!w || !r)
        return fail("memory", ENOMEM);
    if ((rc = sbvm_unit_open(name, unit, &u)) < 0)
        return fail("open", rc);
    if ((rc = io(u, SBVM_IO_INFO, 0, &info, sizeof(info))) < 0)
        return fail("info", rc);
    /* Synchronous: a pattern at the start, the middle and the last blocks. */
    uint64_t offs[3] = { 0, info.blocks / 2 * 512, (info.blocks - BS / 512) * 512 };
    for (int i = 0; i < 3; i++) {
        fill(w, BS, (uint64_t)i + 1);
        if ((rc = io(u, SBVM_IO_WRITE, offs[i], w, BS)) < 0)
            return fail("write", rc);
        memset(r, 0, BS);
        if ((rc = io(u, SBVM_IO_READ, offs[i], r, BS)) < 0)
            return fail("read", rc);
        if (memcmp(r, w, BS) != 0) {
            printf("FAIL pattern %d differs\n", i);
            return 1;
        }
    }
    printf("sync patterns ok\n");
    /* Asynchronous: N writes in flight, then N reads in flight. */
    fill(w, (size_t)N * BS, 99);
    for (int i = 0; i < N; i++) {
        memset(&reqs[i], 0, sizeof(reqs[i]));
        reqs[i].size = sizeof(reqs[i]);
        reqs[i].command = SBVM_IO_WRITE;
        reqs[i].offset = (uint64_t)i * BS + 65536;
        reqs[i].length = BS;
        reqs[i].data = w + (size_t)i * BS;
        if ((rc = sbvm_unit_send(u, &reqs[i])) < 0)
            return fail("send", rc);
    }
    for (int i = 0; i < N; i++)
        if ((rc = sbvm_unit_wait(&reqs[i], 5000000000ll)) < 0 || reqs[i].error)
            return fail("async write", rc < 0 ? rc : reqs[i].error);
    memset(r, 0, (size_t)N * BS);
    for (int i = 0; i < N; i++) {
        reqs[i].command = SBVM_IO_READ;
        reqs[i].data = r + (size_t)i * BS;
        if ((rc = sbvm_unit_send(u, &reqs[i])) < 0)
            return fail("send", rc);
    }
    for (int i = 0; i < N; i++)
        if ((rc = sbvm_unit_wait(&reqs[i], 5000000000ll)) < 0 || reqs[i].error)
            return fail("async read", rc < 0 ? rc : reqs[i].error);
    if (memcmp(r, w, (size_t)N * BS) != 0) {
        printf("FAIL async patterns differ\n");
        return 1;
    }
    printf("async patterns ok (%d requests in flight)\n", N);
    if ((rc = io(u, SBVM_IO_FLUSH, 0, NULL, 0)) < 0)
        return fail("flush", rc);
    printf("flush ok\n");
    /* Refusals: an offset past the end, a length that is not whole blocks. */
    rc = io(u, SBVM_IO_READ, info.blocks * 512, r, 512);
    printf("read past the end: %s\n", strerror(-rc));
    rc = io(u, SBVM_IO_READ, 0, r, 100);
    printf("read of 100 bytes: %s\n", strerror(-rc));
    /* An abort of a request that already completed. */
    rc = sbvm_unit_abort(&reqs[0]);
    printf("abort after completion: %s\n", strerror(-rc));
    sbvm_unit_close(u);
    free(w);
    free(r);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* SCSI through pass-through                                                */

static int scsi(sbvm_unit *u, unsigned target, const uint8_t *cdb, unsigned cdblen, int dir,
                void *buf, uint32_t len, struct sbvm_scsi *s)
{
    struct sbvm_io r;

    memset(s, 0, sizeof(*s));
    memcpy(s->cdb, cdb, cdblen);
    s->cdb_len = (uint8_t)cdblen;
    s->dir = (uint8_t)dir;
    s->target = (uint8_t)target;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.command = SBVM_IO_SCSI;
    r.data = buf;
    r.length = len;
    r.scsi = s;
    return sbvm_unit_io(u, &r);
}

static int do_scsi(void)
{
    static const uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
    uint8_t buf[4096], pat[4096];
    struct sbvm_scsi s;
    sbvm_unit *u;
    unsigned found = 0, absent = 0, disk = 64;
    int rc;

    if ((rc = sbvm_unit_open("virtio-scsi", 0, &u)) < 0)
        return fail("open", rc);
    for (unsigned t = 0; t < 64; t++) {
        memset(buf, 0, sizeof(buf));
        rc = scsi(u, t, inq, 6, SBVM_SCSI_IN, buf, 96, &s);
        if (rc < 0)
            return fail("inquiry", rc);
        if (s.response == 3) {
            absent++;
            continue;
        }
        if (s.response == 0 && s.status == 0 && (buf[0] & 0x1f) == 0) {
            printf("target %u: %.8s %.16s %.4s\n", t, buf + 8, buf + 16, buf + 32);
            if (disk == 64)
                disk = t;
            found++;
        }
    }
    printf("scan: %u inquiries, %u disk%s found, %u targets absent\n", 64u, found,
           found == 1 ? "" : "s", absent);
    if (disk == 64)
        return fail("no disk", ENODEV);
    {
        static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
        uint64_t last = 0;
        rc = scsi(u, disk, rc16, 16, SBVM_SCSI_IN, buf, 32, &s);
        for (int i = 0; i < 8; i++)
            last = last << 8 | buf[i];
        printf("capacity: %llu blocks of %u bytes (status %u)\n", (unsigned long long)last + 1,
               (unsigned)buf[8] << 24 | buf[9] << 16 | buf[10] << 8 | buf[11], s.status);
        /* WRITE(10) then READ(10) of 8 blocks at LBA 16. */
        uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 16, 0, 0, 8, 0 },
                r10[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 8, 0 };
        fill(pat, sizeof(pat), 5);
        rc = scsi(u, disk, w10, 10, SBVM_SCSI_OUT, pat, 4096, &s);
        if (rc < 0 || s.status)
            return fail("write(10)", rc < 0 ? rc : EIO);
        memset(buf, 0, sizeof(buf));
        rc = scsi(u, disk, r10, 10, SBVM_SCSI_IN, buf, 4096, &s);
        if (rc < 0 || s.status || memcmp(buf, pat, 4096))
            return fail("read(10)", rc < 0 ? rc : EIO);
        printf("pass-through patterns ok\n");
        /* A bad LBA: CHECK CONDITION, ILLEGAL REQUEST, LBA out of range. */
        uint8_t bad[16] = { 0x88, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1 };
        rc = scsi(u, disk, bad, 16, SBVM_SCSI_IN, buf, 512, &s);
        printf("bad LBA: status %u, sense key %u, asc 0x%02x ascq 0x%02x, %u sense bytes\n",
               s.status, s.sense[2] & 0xf, s.sense[12], s.sense[13], s.sense_len);
        /* Arbitrary CDBs: TEST UNIT READY, REPORT LUNS, an unknown opcode. */
        uint8_t tur[6] = { 0 }, rl[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16 }, junk[6] = { 0xd9 };
        rc = scsi(u, disk, tur, 6, SBVM_SCSI_NONE, NULL, 0, &s);
        printf("TEST UNIT READY: status %u\n", s.status);
        rc = scsi(u, disk, rl, 12, SBVM_SCSI_IN, buf, 16, &s);
        printf("REPORT LUNS: status %u, %u LUN%s\n", s.status, buf[3] / 8, buf[3] == 8 ? "" : "s");
        rc = scsi(u, disk, junk, 6, SBVM_SCSI_NONE, NULL, 0, &s);
        printf("opcode 0xd9: status %u, sense key %u, asc 0x%02x\n", s.status, s.sense[2] & 0xf,
               s.sense[12]);
    }
    sbvm_unit_close(u);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Partitions, misuse, benchmarks                                           */

static int do_parts(void)
{
    char buf[512];

    for (unsigned i = 0; i < 16; i++) {
        struct sbvm_unit_info info;
        sbvm_unit *u;
        if (sbvm_unit_open("part", i, &u) < 0)
            break;
        if (io(u, SBVM_IO_INFO, 0, &info, sizeof(info)) < 0)
            return fail("info", EIO);
        memset(buf, 0, sizeof(buf));
        if (io(u, SBVM_IO_READ, 0, buf, 512) < 0)
            return fail("read", EIO);
        buf[63] = '\0';
        printf("part %u: %llu blocks (%s): \"%s\"\n", i, (unsigned long long)info.blocks,
               info.model, buf);
        /* Writing past a partition's end is refused by the partition driver. */
        if (io(u, SBVM_IO_WRITE, info.blocks * 512, buf, 512) != -EINVAL)
            return fail("write past the partition", EIO);
        sbvm_unit_close(u);
    }
    return 0;
}

static int do_misuse(const char *name)
{
    sbvm_unit *u, *v;
    int rc;

    if ((rc = sbvm_unit_open(name, 0, &u)) < 0)
        return fail("open", rc);
    printf("close: %d\n", sbvm_unit_close(u));
    printf("close again: %s\n", strerror(-sbvm_unit_close(u)));
    printf("close of a handle never opened: %s\n", strerror(-sbvm_unit_close((sbvm_unit *)&rc)));
    /* Left open, with a DMA buffer, for the ledger. */
    if ((rc = sbvm_unit_open(name, 0, &v)) < 0)
        return fail("open", rc);
    if (!sbvm_dma_alloc(4096))
        return fail("dma", ENOMEM);
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int do_bench(const char *name, unsigned unit, const char *mode, unsigned bs, unsigned qd,
                    double seconds, bool dma, bool batch)
{
    struct sbvm_io *reqs = calloc(qd, sizeof(*reqs));
    struct sbvm_unit_info info;
    uint8_t **bufs = calloc(qd, sizeof(*bufs));
    /* When each request was sent, or 0: the client's own record (a request's
     * driver_ctx is its driver's while it holds it). */
    uint64_t *sent = calloc(qd, sizeof(*sent));
    uint64_t blocks, done = 0, t0, end, lat_sum = 0, seq = 0, rnd = 88172645463325252ull;
    bool random = strcmp(mode, "rand") == 0;
    sbvm_unit *u;
    int rc;

    if (qd == 0 || qd > 256)
        return fail("queue depth (1 to 256)", EINVAL);
    if (!reqs || !bufs || !sent || (rc = sbvm_unit_open(name, unit, &u)) < 0)
        return fail("open", ENODEV);
    if ((rc = io(u, SBVM_IO_INFO, 0, &info, sizeof(info))) < 0)
        return fail("info", rc);
    blocks = info.blocks * 512 / bs;
    for (unsigned i = 0; i < qd; i++) {
        bufs[i] = dma ? sbvm_dma_alloc(bs) : aligned_alloc(4096, bs);
        if (!bufs[i])
            return fail("buffers", ENOMEM);
    }
    t0 = now_ns();
    end = t0 + (uint64_t)(seconds * 1e9);
    /* Keep qd requests in flight; re-send each as it completes. */
    for (unsigned i = 0; i < qd; i++) {
        memset(&reqs[i], 0, sizeof(reqs[i]));
        reqs[i].size = sizeof(reqs[i]);
        reqs[i].command = SBVM_IO_READ;
        reqs[i].length = bs;
        reqs[i].data = bufs[i];
    }
    /* Every pass resubmits what completed, as one batch (SBVM_IO_F_MORE on
     * all but its last); when nothing has, it waits for the oldest. */
    for (;;) {
        bool stop = now_ns() >= end;
        unsigned ready[256], n = 0, oldest = 0;
        for (unsigned i = 0; i < qd; i++) {
            struct sbvm_io *r = &reqs[i];
            if (!sent[i] || sbvm_unit_done(r))
                ready[n++] = i;
            else if (!sent[oldest] || sent[i] < sent[oldest])
                oldest = i;
        }
        if (n == 0) {
            if (sbvm_unit_wait(&reqs[oldest], -1) < 0)
                return fail("wait", EIO);
            continue;
        }
        for (unsigned k = 0; k < n; k++) {
            unsigned i = ready[k];
            struct sbvm_io *r = &reqs[i];
            if (sent[i]) { /* sent, and done */
                if (r->error)
                    return fail("read", r->error);
                done++;
                lat_sum += now_ns() - sent[i];
                sent[i] = 0;
            }
            if (stop)
                continue;
            if (random) {
                rnd ^= rnd << 13;
                rnd ^= rnd >> 7;
                rnd ^= rnd << 17;
                r->offset = (rnd % blocks) * bs;
            } else {
                r->offset = (seq++ % blocks) * bs;
            }
            sent[i] = now_ns();
            r->flags = batch && k + 1 < n ? SBVM_IO_F_MORE : 0;
            if ((rc = sbvm_unit_send(u, r)) < 0)
                return fail("send", rc);
        }
        if (stop) {
            bool any = false;
            for (unsigned i = 0; i < qd; i++)
                any |= sent[i] != 0;
            if (!any)
                break;
        }
    }
    {
        double secs = (double)(now_ns() - t0) / 1e9;
        printf("bench %s %s bs=%u qd=%u%s%s: %llu requests in %.2f s: %.0f IOPS, %.1f MB/s, "
               "mean latency %.1f us\n",
               name, mode, bs, qd, dma ? " dma" : "", batch ? " batch" : "",
               (unsigned long long)done, secs, (double)done / secs, (double)done * bs / secs / 1e6,
               done ? (double)lat_sum / (double)done / 1e3 : 0.0);
    }
    for (unsigned i = 0; i < qd; i++) {
        if (dma)
            sbvm_dma_free(bufs[i]);
        else
            free(bufs[i]);
    }
    free(bufs);
    free(sent);
    free(reqs);
    return sbvm_unit_close(u) < 0 ? fail("close", EIO) : 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "info";
    int n = sbvm_drivers_load(), rc = 0, left;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (n < 0)
        return fail("loading the drivers", n);
    printf("drivers loaded: %d\n", n);
    if (strcmp(mode, "info") == 0)
        rc = do_info(argc > 2 ? argv[2] : "virtio-blk", argc > 3 ? (unsigned)atoi(argv[3]) : 0);
    else if (strcmp(mode, "rw") == 0)
        rc = do_rw(argc > 2 ? argv[2] : "virtio-blk", argc > 3 ? (unsigned)atoi(argv[3]) : 0);
    else if (strcmp(mode, "scsi") == 0)
        rc = do_scsi();
    else if (strcmp(mode, "parts") == 0)
        rc = do_parts();
    else if (strcmp(mode, "write1") == 0) {
        /* One block written to unit 0 of NAME: the error, in words. */
        char block[512];
        sbvm_unit *u;
        memset(block, 0x5a, sizeof(block));
        rc = sbvm_unit_open(argc > 2 ? argv[2] : "virtio-blk", 0, &u);
        if (rc == 0) {
            rc = io(u, SBVM_IO_WRITE, 0, block, sizeof(block));
            printf("write: %s\n", rc ? strerror(-rc) : "ok");
            sbvm_unit_close(u);
            rc = 0;
        }
    } else if (strcmp(mode, "misuse") == 0)
        rc = do_misuse(argc > 2 ? argv[2] : "virtio-blk");
    else if (strcmp(mode, "bench") == 0 && argc >= 8)
        rc = do_bench(argv[2], (unsigned)atoi(argv[3]), argv[4], (unsigned)atoi(argv[5]),
                      (unsigned)atoi(argv[6]), atof(argv[7]),
                      strstr(argc > 8 ? argv[8] : "", "dma") != NULL,
                      strstr(argc > 8 ? argv[8] : "", "batch") != NULL);
    else if (strcmp(mode, "load") != 0)
        rc = fail("usage", EINVAL);
    left = sbvm_drivers_unload();
    printf("unloaded: %d resource%s left behind\n", left, left == 1 ? "" : "s");
    return rc;
}
