/* SPDX-License-Identifier: MIT */
/*
 * scsi.c: virtio-scsi (virtio 1.x "SCSI Host Device"): one disk per target
 * (targets 0..n-1, LUN 0) behind a host adapter that answers a 64-target
 * scan, and a small SCSI block target (SPC/SBC) for each disk: INQUIRY
 * (standard, VPD 0x00, 0x80, 0x83), TEST UNIT READY, REQUEST SENSE, READ
 * CAPACITY(10/16), READ/WRITE(6/10/16), MODE SENSE(6/10), SYNCHRONIZE
 * CACHE(10/16), REPORT LUNS, START STOP UNIT, VERIFY. What it refuses it
 * refuses as a disk would: CHECK CONDITION with fixed-format sense data.
 *
 * Queues: 0 control (task management answers "complete": nothing is ever
 * outstanding, every command finishes before the notification returns),
 * 1 events (buffers are kept: there are no hot-plug events), 2 requests.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/devices.h"
#include "devices/scsi.h"
#include "util/error.h"
#include "util/util.h"

/* virtio-scsi response codes. */
#define VS_S_OK                0u
#define VS_S_OVERRUN           1u
#define VS_S_BAD_TARGET        3u
#define VS_S_FAILURE           9u
#define VS_S_FUNCTION_COMPLETE 0u

#define VS_T_TMF          0u
#define VS_T_AN_QUERY     1u
#define VS_T_AN_SUBSCRIBE 2u

/* The configuration (struct virtio_scsi_config, 36 bytes). */
#define CFG_NUM_QUEUES  0
#define CFG_SEG_MAX     4
#define CFG_MAX_SECTORS 8
#define CFG_CMD_PER_LUN 12
#define CFG_EVENT_INFO  16
#define CFG_SENSE_SIZE  20
#define CFG_CDB_SIZE    24
#define CFG_MAX_CHANNEL 28
#define CFG_MAX_TARGET  30
#define CFG_MAX_LUN     32
#define CFG_SIZE        36

#define SCSI_DEF_SENSE 96u
#define SCSI_DEF_CDB   32u
#define SCSI_MAX_FIELD 256u /* the most sense or CDB bytes a driver may ask for */

#define SCSI_VENDOR   "SBVM    "
#define SCSI_PRODUCT  "Virtual Disk    "
#define SCSI_REVISION "0001"

struct scsi {
    struct disk disks[DEV_MAX_DISKS];
    unsigned ndisks;
    uint32_t sense_size, cdb_size; /* the driver may change them */
    struct iovec iov[VQ_MAX_SEGS];
    uint8_t buf[4096]; /* a command's answer, before it is copied out */
};

/* What a command produced. */
struct sres {
    uint8_t status;
    uint8_t sense[SCSI_SENSE_LEN];
    bool has_sense;
    uint32_t data_len; /* bytes of buf to copy to data-in */
    uint64_t moved;    /* bytes moved by READ/WRITE straight to and from memory */
    bool overrun;      /* the buffers were too small */
};

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}
static void wbe16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wbe32(uint8_t *p, uint32_t v)
{
    wbe16(p, (uint16_t)(v >> 16));
    wbe16(p + 2, (uint16_t)v);
}
static void wbe64(uint8_t *p, uint64_t v)
{
    wbe32(p, (uint32_t)(v >> 32));
    wbe32(p + 4, (uint32_t)v);
}

void scsi_sense_fixed(uint8_t *s, uint8_t key, uint8_t asc, uint8_t ascq)
{
    memset(s, 0, SCSI_SENSE_LEN);
    s[0] = 0x70; /* current error, fixed format */
    s[2] = key;
    s[7] = SCSI_SENSE_LEN - 8;
    s[12] = asc;
    s[13] = ascq;
}

static void check(struct sres *o, uint8_t key, uint8_t asc, uint8_t ascq)
{
    o->status = SCSI_CHECK_CONDITION;
    o->has_sense = true;
    scsi_sense_fixed(o->sense, key, asc, ascq);
}

static void invalid_field(struct sres *o)
{
    check(o, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD, 0);
}

const char *scsi_op_name(uint8_t op)
{
    switch (op) {
    case 0x00:
        return "TEST UNIT READY";
    case 0x03:
        return "REQUEST SENSE";
    case 0x08:
        return "READ(6)";
    case 0x0a:
        return "WRITE(6)";
    case 0x12:
        return "INQUIRY";
    case 0x1a:
        return "MODE SENSE(6)";
    case 0x1b:
        return "START STOP UNIT";
    case 0x25:
        return "READ CAPACITY(10)";
    case 0x28:
        return "READ(10)";
    case 0x2a:
        return "WRITE(10)";
    case 0x2f:
        return "VERIFY(10)";
    case 0x35:
        return "SYNCHRONIZE CACHE(10)";
    case 0x5a:
        return "MODE SENSE(10)";
    case 0x88:
        return "READ(16)";
    case 0x8a:
        return "WRITE(16)";
    case 0x8f:
        return "VERIFY(16)";
    case 0x91:
        return "SYNCHRONIZE CACHE(16)";
    case 0x9e:
        return "SERVICE ACTION IN(16)";
    case 0xa0:
        return "REPORT LUNS";
    default:
        return "?";
    }
}

/* INQUIRY: the standard data or a VPD page. */
static void inquiry(struct scsi *s, const struct disk *dk, bool lun_ok, const uint8_t *cdb,
                    struct sres *o)
{
    uint8_t *b = s->buf;
    bool evpd = cdb[1] & 1;
    uint8_t page = cdb[2];
    uint8_t type = lun_ok ? 0x00 : 0x7f; /* a disk; or "no device at this LUN" */

    memset(b, 0, 256);
    if (!evpd) {
        if (page != 0) {
            invalid_field(o);
            return;
        }
        b[0] = type;
        b[2] = 0x06; /* SPC-4 */
        b[3] = 0x12; /* HiSup, response data format 2 */
        b[4] = 36 - 5;
        b[7] = 0x02; /* CmdQue */
        memcpy(b + 8, SCSI_VENDOR, 8);
        memcpy(b + 16, SCSI_PRODUCT, 16);
        memcpy(b + 32, SCSI_REVISION, 4);
        o->data_len = 36;
        return;
    }
    if (!lun_ok) {
        check(o, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED, 0);
        return;
    }
    b[0] = type;
    b[1] = page;
    switch (page) {
    case 0x00: /* supported pages */
        b[3] = 3;
        b[4] = 0x00;
        b[5] = 0x80;
        b[6] = 0x83;
        o->data_len = 7;
        break;
    case 0x80: { /* unit serial number */
        size_t n = strlen(dk->serial);
        b[3] = (uint8_t)n;
        memcpy(b + 4, dk->serial, n);
        o->data_len = 4 + (uint32_t)n;
        break;
    }
    case 0x83: { /* device identification: one T10 vendor id designator */
        size_t n = strlen(dk->serial);
        uint8_t *d = b + 4;
        d[0] = 0x02; /* code set: ASCII */
        d[1] = 0x01; /* associated with the logical unit; type: T10 vendor id */
        d[3] = (uint8_t)(8 + n);
        memcpy(d + 4, SCSI_VENDOR, 8);
        memcpy(d + 12, dk->serial, n);
        wbe16(b + 2, (uint16_t)(4 + 8 + n));
        o->data_len = 4 + 4 + 8 + (uint32_t)n;
        break;
    }
    default:
        invalid_field(o);
        return;
    }
}

/* MODE SENSE(6) and (10): the caching and control pages. */
static void mode_sense(struct scsi *s, const struct disk *dk, const uint8_t *cdb, bool ten,
                       struct sres *o)
{
    uint8_t *b = s->buf;
    bool dbd = cdb[1] & 0x08, llbaa = ten && (cdb[1] & 0x10);
    uint8_t pc = cdb[2] >> 6, page = cdb[2] & 0x3f, sub = cdb[3];
    uint32_t hdr = ten ? 8 : 4, n, bdl = dbd ? 0 : llbaa ? 16 : 8;
    uint64_t blocks = disk_sectors(dk);

    if (pc == 3) {
        check(o, SCSI_KEY_ILLEGAL_REQUEST, 0x39, 0); /* saving parameters not supported */
        return;
    }
    if ((page != 0x08 && page != 0x0a && page != 0x3f) ||
        (sub != 0 && !(page == 0x3f && sub == 0xff))) {
        invalid_field(o);
        return;
    }
    memset(b, 0, 512);
    n = hdr;
    if (bdl == 8) {
        /* Block descriptor: the number of blocks (3 bytes in MODE SENSE(6),
         * 4 in (10); all ones when it does not fit) and their size. */
        if (ten)
            wbe32(b + n, blocks > 0xffffffffu ? 0xffffffffu : (uint32_t)blocks);
        else
            wbe32(b + n, blocks > 0xffffffu ? 0xffffffu : (uint32_t)blocks);
        wbe32(b + n + 4, DISK_SECTOR);
        n += 8;
    } else if (bdl == 16) {
        wbe64(b + n, blocks);
        wbe32(b + n + 12, DISK_SECTOR);
        n += 16;
    }
    if (page == 0x08 || page == 0x3f) {
        b[n] = 0x08;
        b[n + 1] = 0x12;
        if (pc != 1) /* current and default: write cache on; nothing changeable */
            b[n + 2] = 0x04;
        n += 20;
    }
    if (page == 0x0a || page == 0x3f) {
        b[n] = 0x0a;
        b[n + 1] = 0x0a;
        n += 12;
    }
    if (ten) {
        wbe16(b, (uint16_t)(n - 2));
        b[3] = dk->ro ? 0x80 : 0x00; /* WP */
        b[4] = llbaa && bdl == 16 ? 1 : 0;
        wbe16(b + 6, (uint16_t)bdl);
    } else {
        b[0] = (uint8_t)(n - 1);
        b[2] = dk->ro ? 0x80 : 0x00;
        b[3] = (uint8_t)bdl;
    }
    o->data_len = n;
}

/* READ/WRITE(6/10/16) straight between the image and the driver's memory. */
static void rw(struct scsi *s, struct disk *dk, const struct vq_req *r, bool write, uint64_t lba,
               uint32_t count, uint64_t dout_off, uint64_t dout, uint64_t din_off, uint64_t din,
               struct sres *o, struct vdev_reqinfo *info)
{
    uint64_t len = (uint64_t)count * DISK_SECTOR;
    unsigned n;
    int rc;

    info->has_lba = true;
    info->lba = lba;
    info->blocks = count;
    info->wrote = write;
    if (lba > disk_sectors(dk) || count > disk_sectors(dk) - lba) {
        check(o, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0);
        return;
    }
    if (write && dk->ro) {
        check(o, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0);
        return;
    }
    if (len == 0)
        return;
    if ((write ? dout : din) < len) {
        o->overrun = true;
        return;
    }
    n = vq_slice(r, !write, write ? dout_off : din_off, len, s->iov, VQ_MAX_SEGS);
    if (n == 0) {
        check(o, SCSI_KEY_HARDWARE_ERROR, 0x44, 0); /* internal target failure */
        return;
    }
    rc = write ? disk_writev(dk, lba * DISK_SECTOR, s->iov, n, len)
               : disk_readv(dk, lba * DISK_SECTOR, s->iov, n, len);
    if (rc < 0) {
        check(o, SCSI_KEY_MEDIUM_ERROR, write ? 0x0c : 0x11,
              0); /* write / unrecovered read error */
        snprintf(info->detail, sizeof(info->detail), "%s", errno_text(-rc));
        return;
    }
    o->moved = len;
}

/* One command for target t (a disk), LUN lun. */
static void execute(struct scsi *s, unsigned t, unsigned lun, const uint8_t *cdb,
                    const struct vq_req *r, uint64_t dout_off, uint64_t dout, uint64_t din_off,
                    uint64_t din, struct sres *o, struct vdev_reqinfo *info)
{
    struct disk *dk = &s->disks[t];
    bool lun_ok = lun == 0;
    uint8_t op = cdb[0];
    uint8_t *b = s->buf;

    info->op = scsi_op_name(op);
    /* INQUIRY and REPORT LUNS answer for any LUN; the rest needs one. */
    if (!lun_ok && op != 0x12 && op != 0xa0 && op != 0x03) {
        check(o, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED, 0);
        return;
    }
    switch (op) {
    case 0x00: /* TEST UNIT READY */
    case 0x1b: /* START STOP UNIT */
    case 0x2f: /* VERIFY(10): BYTCHK 0 only */
    case 0x8f: /* VERIFY(16) */
        if ((op == 0x2f || op == 0x8f) && (cdb[1] & 0x06))
            invalid_field(o);
        return;
    case 0x03: /* REQUEST SENSE: sense is always returned with the command
                * (autosense), so there is nothing pending. */
        scsi_sense_fixed(b, lun_ok ? SCSI_KEY_NO_SENSE : SCSI_KEY_ILLEGAL_REQUEST,
                         lun_ok ? 0 : SCSI_ASC_LUN_NOT_SUPPORTED, 0);
        o->data_len = cdb[4] < SCSI_SENSE_LEN ? cdb[4] : SCSI_SENSE_LEN;
        return;
    case 0x12: /* INQUIRY */
        inquiry(s, dk, lun_ok, cdb, o);
        if (o->data_len > be16(cdb + 3))
            o->data_len = be16(cdb + 3);
        return;
    case 0x1a: /* MODE SENSE(6) */
        mode_sense(s, dk, cdb, false, o);
        if (o->data_len > cdb[4])
            o->data_len = cdb[4];
        return;
    case 0x5a: /* MODE SENSE(10) */
        mode_sense(s, dk, cdb, true, o);
        if (o->data_len > be16(cdb + 7))
            o->data_len = be16(cdb + 7);
        return;
    case 0x25: { /* READ CAPACITY(10) */
        uint64_t last = disk_sectors(dk) - 1;
        wbe32(b, last > 0xfffffffeu ? 0xffffffffu : (uint32_t)last);
        wbe32(b + 4, DISK_SECTOR);
        o->data_len = 8;
        return;
    }
    case 0x9e: /* SERVICE ACTION IN(16): READ CAPACITY(16) only */
        if ((cdb[1] & 0x1f) != 0x10) {
            info->op = "SERVICE ACTION IN(16)";
            invalid_field(o);
            return;
        }
        info->op = "READ CAPACITY(16)";
        memset(b, 0, 32);
        wbe64(b, disk_sectors(dk) - 1);
        wbe32(b + 8, DISK_SECTOR);
        o->data_len = be32(cdb + 10) < 32 ? be32(cdb + 10) : 32;
        return;
    case 0xa0: { /* REPORT LUNS: LUN 0 of this target */
        uint32_t alloc = be32(cdb + 6);
        if (alloc < 16 || cdb[2] > 2) {
            invalid_field(o);
            return;
        }
        memset(b, 0, 16);
        wbe32(b, 8);
        o->data_len = alloc < 16 ? alloc : 16;
        return;
    }
    case 0x35: /* SYNCHRONIZE CACHE(10) */
    case 0x91: /* SYNCHRONIZE CACHE(16) */
        if (disk_flush(dk) < 0)
            check(o, SCSI_KEY_MEDIUM_ERROR, 0x0c, 0);
        return;
    case 0x08: /* READ(6) */
    case 0x0a: /* WRITE(6) */
        rw(s, dk, r, op == 0x0a, (uint64_t)(cdb[1] & 0x1f) << 16 | be16(cdb + 2),
           cdb[4] ? cdb[4] : 256, dout_off, dout, din_off, din, o, info);
        return;
    case 0x28: /* READ(10) */
    case 0x2a: /* WRITE(10) */
        rw(s, dk, r, op == 0x2a, be32(cdb + 2), be16(cdb + 7), dout_off, dout, din_off, din, o,
           info);
        return;
    case 0x88: /* READ(16) */
    case 0x8a: /* WRITE(16) */
        rw(s, dk, r, op == 0x8a, be64(cdb + 2), be32(cdb + 10), dout_off, dout, din_off, din, o,
           info);
        return;
    default:
        snprintf(info->detail, sizeof(info->detail), "opcode 0x%02x", op);
        check(o, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE, 0);
        return;
    }
}

/* Which target and LUN an 8-byte virtio-scsi LUN names: 0, or -1 when it
 * is not a single-level LUN of bus 1. */
int scsi_parse_lun(const uint8_t lun[8], unsigned *target, unsigned *l)
{
    if (lun[0] != 1)
        return -1;
    *target = lun[1];
    if ((lun[2] >> 6) == 1) /* flat space addressing */
        *l = (unsigned)(lun[2] & 0x3f) << 8 | lun[3];
    else if (lun[2] == 0) /* peripheral device addressing, bus 0 */
        *l = lun[3];
    else
        return -1;
    return 0;
}

static long scsi_cmd(struct vdev *d, const struct vq_req *r, struct vdev_reqinfo *info, char *why,
                     size_t whylen)
{
    struct scsi *s = d->priv;
    uint8_t req[19 + SCSI_MAX_FIELD];
    uint8_t resp[12 + SCSI_MAX_FIELD];
    uint32_t reqlen = 19 + s->cdb_size, resplen = 12 + s->sense_size;
    struct sres o;
    unsigned t, lun;
    uint64_t dout, din;
    uint32_t residual = 0;
    long used;

    if (r->rlen < reqlen || r->wlen < resplen) {
        snprintf(why, whylen,
                 "a command needs %u readable and %u writable bytes, it has %" PRIu64
                 " and %" PRIu64,
                 reqlen, resplen, r->rlen, r->wlen);
        return -EPROTO;
    }
    vq_read(r, 0, req, reqlen);
    dout = r->rlen - reqlen;
    din = r->wlen - resplen;
    memset(&o, 0, sizeof(o));
    memset(resp, 0, resplen);
    info->op = scsi_op_name(req[19]);
    if (scsi_parse_lun(req, &t, &lun) < 0 || t >= s->ndisks) {
        resp[11] = VS_S_BAD_TARGET;
        info->status = "BAD_TARGET";
        info->failed = true;
        snprintf(info->detail, sizeof(info->detail), "target %u", req[1]);
        vq_write(r, 0, resp, resplen);
        return resplen;
    }
    execute(s, t, lun, req + 19, r, reqlen, dout, resplen, din, &o, info);
    used = resplen;
    if (o.overrun) {
        resp[11] = VS_S_OVERRUN;
        info->status = "OVERRUN";
        info->failed = true;
    } else {
        uint64_t data = o.moved;
        if (o.data_len) {
            data = o.data_len < din ? o.data_len : din;
            vq_write(r, resplen, s->buf, data);
        }
        if (!info->wrote) {
            residual = (uint32_t)(din - data);
            used += (long)data;
        } else {
            residual = (uint32_t)(dout - data);
        }
        info->bytes = data;
        resp[10] = o.status;
        if (o.has_sense) {
            uint32_t n = s->sense_size < SCSI_SENSE_LEN ? s->sense_size : SCSI_SENSE_LEN;
            memcpy(resp, &n, 4);
            memcpy(resp + 12, o.sense, n);
            snprintf(info->detail + strlen(info->detail),
                     sizeof(info->detail) - strlen(info->detail), "%ssense %x/%02x/%02x",
                     info->detail[0] ? ", " : "", o.sense[2], o.sense[12], o.sense[13]);
        }
        info->status = o.status == SCSI_GOOD ? "GOOD" : "CHECK CONDITION";
        info->failed = o.status != SCSI_GOOD;
    }
    memcpy(resp + 4, &residual, 4);
    vq_write(r, 0, resp, resplen);
    return used;
}

static long scsi_ctrl(struct vdev *d, const struct vq_req *r, struct vdev_reqinfo *info, char *why,
                      size_t whylen)
{
    struct scsi *s = d->priv;
    uint8_t req[24];
    uint32_t type;
    unsigned t, lun;

    if (r->rlen < 4 || r->wlen < 1) {
        snprintf(why, whylen, "a control request with no type or no response");
        return -EPROTO;
    }
    memset(req, 0, sizeof(req));
    vq_read(r, 0, req, r->rlen < sizeof(req) ? r->rlen : sizeof(req));
    memcpy(&type, req, 4);
    if (type == VS_T_TMF && r->rlen >= 24) {
        uint8_t resp = VS_S_FUNCTION_COMPLETE;
        info->op = "TMF";
        if (scsi_parse_lun(req + 8, &t, &lun) < 0 || t >= s->ndisks)
            resp = VS_S_BAD_TARGET;
        vq_write(r, 0, &resp, 1);
        info->status = resp == VS_S_BAD_TARGET ? "BAD_TARGET" : "FUNCTION_COMPLETE";
        info->failed = resp != VS_S_FUNCTION_COMPLETE;
        return 1;
    }
    if ((type == VS_T_AN_QUERY || type == VS_T_AN_SUBSCRIBE) && r->rlen >= 16 && r->wlen >= 5) {
        uint8_t resp[5] = { 0, 0, 0, 0, VS_S_OK }; /* no events supported */
        info->op = type == VS_T_AN_QUERY ? "AN_QUERY" : "AN_SUBSCRIBE";
        vq_write(r, 0, resp, sizeof(resp));
        info->status = "OK";
        return sizeof(resp);
    }
    {
        uint8_t resp = VS_S_FAILURE;
        info->op = "control?";
        snprintf(info->detail, sizeof(info->detail), "type %u", type);
        vq_write(r, 0, &resp, 1);
        info->status = "FAILURE";
        info->failed = true;
        return 1;
    }
}

static long scsi_request(struct vdev *d, unsigned q, const struct vq_req *r,
                         struct vdev_reqinfo *info, char *why, size_t whylen)
{
    return q == 0 ? scsi_ctrl(d, r, info, why, whylen) : scsi_cmd(d, r, info, why, whylen);
}

static bool scsi_passive(struct vdev *d, unsigned q)
{
    (void)d;
    return q == 1;
}

static uint64_t scsi_features(struct vdev *d)
{
    (void)d;
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void scsi_config_read(struct vdev *d, uint8_t *cfg)
{
    struct scsi *s = d->priv;
    uint16_t max_target = SCSI_MAX_TARGET;

    put32(cfg + CFG_NUM_QUEUES, 1);
    put32(cfg + CFG_SEG_MAX, 254);
    put32(cfg + CFG_MAX_SECTORS, 0xffff);
    put32(cfg + CFG_CMD_PER_LUN, 128);
    put32(cfg + CFG_EVENT_INFO, 16);
    put32(cfg + CFG_SENSE_SIZE, s->sense_size);
    put32(cfg + CFG_CDB_SIZE, s->cdb_size);
    memcpy(cfg + CFG_MAX_TARGET, &max_target, 2);
    put32(cfg + CFG_MAX_LUN, 255);
}

static void scsi_config_write(struct vdev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
    struct scsi *s = d->priv;
    uint8_t cfg[CFG_SIZE];
    uint32_t v;

    /* Only sense_size and cdb_size are the driver's to write. */
    scsi_config_read(d, cfg);
    memcpy(cfg + off, data, len);
    memcpy(&v, cfg + CFG_SENSE_SIZE, 4);
    if (v <= SCSI_MAX_FIELD)
        s->sense_size = v;
    memcpy(&v, cfg + CFG_CDB_SIZE, 4);
    if (v >= 6 && v <= SCSI_MAX_FIELD)
        s->cdb_size = v;
}

static void scsi_reset(struct vdev *d)
{
    struct scsi *s = d->priv;

    s->sense_size = SCSI_DEF_SENSE;
    s->cdb_size = SCSI_DEF_CDB;
}

static int scsi_create(struct vdev *d, struct disk *disks, unsigned n, sbvm_error **err)
{
    struct scsi *s;

    if (n < 1 || n > DEV_MAX_DISKS)
        return error_set(err, EINVAL, "virtio-scsi takes 1 to %u disk images (given %u)",
                         DEV_MAX_DISKS, n);
    s = calloc(1, sizeof(*s));
    if (!s)
        return error_set(err, ENOMEM, "virtio-scsi: out of memory");
    for (unsigned i = 0; i < n; i++) {
        s->disks[i] = disks[i];
        disks[i].fd = -1;
        disks[i].path = NULL;
    }
    s->ndisks = n;
    d->priv = s;
    scsi_reset(d);
    return 0;
}

static void scsi_destroy(struct vdev *d)
{
    struct scsi *s = d->priv;

    if (s) {
        for (unsigned i = 0; i < s->ndisks; i++)
            disk_close(&s->disks[i]);
        free(s);
    }
    d->priv = NULL;
}

const struct vdev_ops virtio_scsi_ops = {
    .name = "virtio-scsi",
    .device_id = 8,
    .pci_class = 0x010000, /* mass storage, SCSI */
    .nqueues = 3,
    .config_size = CFG_SIZE,
    .max_disks = DEV_MAX_DISKS,
    .create = scsi_create,
    .features = scsi_features,
    .config_read = scsi_config_read,
    .config_write = scsi_config_write,
    .request = scsi_request,
    .queue_passive = scsi_passive,
    .reset = scsi_reset,
    .destroy = scsi_destroy,
};
