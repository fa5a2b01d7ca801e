/* SPDX-License-Identifier: MIT */
/*
 * test-devices-vhost.c: the vhost-user back-end driven by a hand-written
 * client (messages straight into vu_handle(), and over a socket pair into
 * vu_recv()), a hostile client's messages, and the confinement the server
 * runs in.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/confine.h"
#include "devices/devices.h"
#include "devices/serve.h"
#include "devices/vhost-user.h"
#include "unit.h"
#include "util/util.h"

#define MEM      (1u << 20)
#define GPA      UINT64_C(0x40000000)
#define UADDR    UINT64_C(0x7f0000000000)
#define QSIZE    16u
#define DESC_OFF 0x1000u
#define AVL_OFF  0x2000u
#define USED_OFF 0x3000u

struct vh {
    char *dir;
    struct vdev dev;
    struct vu_conn c;
    int memfd;
    uint8_t *mem;
    int kick, call;
};

static void vh_setup(struct vh *v, const char *type)
{
    char spec[600];
    struct devspec s;
    sbvm_error *err = NULL;

    memset(v, 0, sizeof(*v));
    v->dir = unit_tmpdir();
    snprintf(spec, sizeof(spec), "%s,disk=%s/d.img,size=1M", type, v->dir);
    ck_assert_int_eq(devspec_parse(spec, &s, &err), 0);
    ck_assert_int_eq(dev_create(&s, NULL, &v->dev, &err), 0);
    devspec_release(&s);
    vu_init(&v->c, &v->dev);
    v->memfd = memfd_create("guest", MFD_CLOEXEC);
    ck_assert_int_ge(v->memfd, 0);
    ck_assert_int_eq(ftruncate(v->memfd, MEM), 0);
    v->mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED, v->memfd, 0);
    ck_assert_ptr_ne(v->mem, MAP_FAILED);
    v->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    v->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static void vh_teardown(struct vh *v)
{
    vu_release(&v->c);
    vdev_release(&v->dev);
    munmap(v->mem, MEM);
    close(v->memfd);
    close(v->kick);
    close(v->call);
    unit_rmtree(v->dir);
    free(v->dir);
}

/* One message into the back-end; fds are dup'ed (the back-end takes them). */
static int msg(struct vh *v, uint32_t req, const void *payload, uint32_t size, const int *fds,
               unsigned nfds)
{
    static struct vu_msg m;

    memset(&m, 0, sizeof(m));
    m.request = req;
    m.flags = VU_VERSION;
    m.size = size;
    if (size)
        memcpy(m.payload, payload, size);
    for (unsigned i = 0; i < nfds; i++)
        m.fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
    m.nfds = nfds;
    return vu_handle(&v->c, &m);
}

static uint64_t reply_u64(struct vh *v)
{
    uint64_t x;

    ck_assert(v->c.has_reply);
    ck_assert_uint_eq(v->c.reply.size, 8);
    memcpy(&x, v->c.reply.payload, 8);
    return x;
}

static int set_mem(struct vh *v, uint64_t gpa, uint64_t size, uint64_t ua, uint64_t off)
{
    uint8_t p[8 + 32] = { 0 };
    uint32_t n = 1;
    uint64_t r[4] = { gpa, size, ua, off };

    memcpy(p, &n, 4);
    memcpy(p + 8, r, sizeof(r));
    return msg(v, VU_SET_MEM_TABLE, p, sizeof(p), &v->memfd, 1);
}

static int vring_state(struct vh *v, uint32_t req, uint32_t idx, uint32_t num)
{
    uint32_t p[2] = { idx, num };

    return msg(v, req, p, sizeof(p), NULL, 0);
}

static int vring_addr(struct vh *v, uint32_t idx, uint64_t desc, uint64_t used, uint64_t avail)
{
    uint8_t p[40] = { 0 };
    uint64_t a[4] = { desc, used, avail, 0 };

    memcpy(p, &idx, 4);
    memcpy(p + 8, a, sizeof(a));
    return msg(v, VU_SET_VRING_ADDR, p, sizeof(p), NULL, 0);
}

static int vring_fd(struct vh *v, uint32_t req, uint64_t idx, int fd)
{
    return msg(v, req, &idx, 8, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
}

/* A client's set-up of queue 0, the way Linux's virtio_uml does it. */
static void vh_connect(struct vh *v)
{
    uint64_t f;

    ck_assert_int_eq(msg(v, VU_SET_OWNER, NULL, 0, NULL, 0), 0);
    ck_assert_int_eq(msg(v, VU_GET_FEATURES, NULL, 0, NULL, 0), 0);
    f = reply_u64(v);
    ck_assert_uint_ne(f & BIT64(VU_F_PROTOCOL), 0);
    ck_assert_uint_ne(f & BIT64(VIRTIO_FB_VERSION_1), 0);
    ck_assert_int_eq(msg(v, VU_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0), 0);
    ck_assert_uint_eq(reply_u64(v), VU_PROTOCOL_OFFERED);
    f = VU_PROTOCOL_OFFERED;
    ck_assert_int_eq(msg(v, VU_SET_PROTOCOL_FEATURES, &f, 8, NULL, 0), 0);
    f = BIT64(VU_F_PROTOCOL) | BIT64(VIRTIO_FB_VERSION_1) | BIT64(VIRTIO_FB_EVENT_IDX);
    ck_assert_int_eq(msg(v, VU_SET_FEATURES, &f, 8, NULL, 0), 0);
    ck_assert_int_eq(set_mem(v, GPA, MEM, UADDR, 0), 0);
    ck_assert_int_eq(vring_fd(v, VU_SET_VRING_CALL, 0, v->call), 0);
    ck_assert_int_eq(vring_state(v, VU_SET_VRING_NUM, 0, QSIZE), 0);
    ck_assert_int_eq(vring_state(v, VU_SET_VRING_BASE, 0, 0), 0);
    ck_assert_int_eq(vring_addr(v, 0, UADDR + DESC_OFF, UADDR + USED_OFF, UADDR + AVL_OFF), 0);
    ck_assert_int_eq(vring_fd(v, VU_SET_VRING_KICK, 0, v->kick), 0);
    ck_assert_int_eq(vring_state(v, VU_SET_VRING_ENABLE, 0, 1), 0);
    ck_assert_msg(!v->c.closed, "%s", v->c.why);
}

/* A virtio-blk read of sector 0 into guest memory at 0x8000: its head. */
static void blk_read_request(struct vh *v, uint16_t slot, uint16_t avail_idx)
{
    struct vring_desc_le d[3] = {
        { GPA + 0x5000, 16, VRING_DESC_F_NEXT, (uint16_t)(slot + 1) },
        { GPA + 0x8000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, (uint16_t)(slot + 2) },
        { GPA + 0x5010, 1, VRING_DESC_F_WRITE, 0 },
    };
    uint32_t type = 0;

    memset(v->mem + 0x5000, 0, 32);
    memcpy(v->mem + 0x5000, &type, 4);
    v->mem[0x5010] = 0xee;
    memcpy(v->mem + DESC_OFF + 16u * slot, d, sizeof(d));
    memcpy(v->mem + AVL_OFF + 4 + 2u * ((avail_idx - 1) % QSIZE), &slot, 2);
    memcpy(v->mem + AVL_OFF + 2, &avail_idx, 2);
}

START_TEST(a_client_sets_up_a_ring_and_a_request_completes)
{
    struct vh v;
    uint64_t cnt, cap;
    uint16_t used;
    uint8_t cfg[12 + 8] = { 0 };
    uint32_t hdr[3] = { 0, 8, 0 };

    vh_setup(&v, "virtio-blk");
    vh_connect(&v);
    blk_read_request(&v, 0, 1);
    ck_assert_int_eq(vu_kick(&v.c, 0), 0);
    memcpy(&used, v.mem + USED_OFF + 2, 2);
    ck_assert_uint_eq(used, 1);
    ck_assert_uint_eq(v.mem[0x5010], 0);
    ck_assert_int_eq(read(v.call, &cnt, 8), 8); /* the interrupt */
    /* GET_CONFIG: the capacity in sectors. */
    memcpy(cfg, hdr, sizeof(hdr));
    ck_assert_int_eq(msg(&v, VU_GET_CONFIG, cfg, sizeof(cfg), NULL, 0), 0);
    ck_assert(v.c.has_reply);
    ck_assert_uint_eq(v.c.reply.size, 20);
    memcpy(&cap, v.c.reply.payload + 12, 8);
    ck_assert_uint_eq(cap, 2048);
    /* GET_VRING_BASE stops the ring and says where. */
    ck_assert_int_eq(vring_state(&v, VU_GET_VRING_BASE, 0, 0), 0);
    ck_assert_uint_eq(v.c.reply.size, 8);
    ck_assert_uint_eq(v.c.reply.payload[4], 1);
    ck_assert(!v.dev.vq[0].started);
    /* REPLY_ACK: a message that asks gets a zero. */
    {
        struct vu_msg m;
        memset(&m, 0, sizeof(m));
        m.request = VU_SET_OWNER;
        m.flags = VU_VERSION | VU_FLAG_NEED;
        ck_assert_int_eq(vu_handle(&v.c, &m), 0);
        ck_assert_uint_eq(reply_u64(&v), 0);
    }
    vh_teardown(&v);
}
END_TEST

START_TEST(a_disabled_ring_waits_until_enabled)
{
    struct vh v;
    uint16_t used;

    vh_setup(&v, "virtio-blk");
    vh_connect(&v);
    ck_assert_int_eq(vring_state(&v, VU_SET_VRING_ENABLE, 0, 0), 0);
    blk_read_request(&v, 0, 1);
    ck_assert_int_eq(vu_kick(&v.c, 0), 0);
    memcpy(&used, v.mem + USED_OFF + 2, 2);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(vring_state(&v, VU_SET_VRING_ENABLE, 0, 1), 0);
    memcpy(&used, v.mem + USED_OFF + 2, 2);
    ck_assert_uint_eq(used, 1);
    vh_teardown(&v);
}
END_TEST

START_TEST(a_memory_table_that_lies_ends_the_connection)
{
    static const struct {
        uint64_t gpa, size, ua, off;
        const char *why;
    } bad[] = {
        { GPA, MEM * 2, UADDR, 0, "not a file of at least" },         /* past the file's end */
        { GPA, MEM, UADDR, 4096, "not a file of at least" },          /* offset pushes it past */
        { GPA, 0, UADDR, 0, "size 0" },                               /* empty */
        { GPA, 4096, UADDR, UINT64_MAX - 10, "size 4096 at offset" }, /* wraps */
        { UINT64_MAX - 100, 4096, UADDR, 0, "wraps, or overlaps" },   /* guest address wraps */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vh v;
        vh_setup(&v, "virtio-blk");
        ck_assert_int_eq(set_mem(&v, bad[i].gpa, bad[i].size, bad[i].ua, bad[i].off), -EPROTO);
        ck_assert_msg(strstr(v.c.why, bad[i].why), "case %zu: %s", i, v.c.why);
        ck_assert_uint_eq(v.c.nregions, 0);
        vh_teardown(&v);
    }
    {
        /* Counts that disagree, overlapping regions, a pipe for memory. */
        struct vh v;
        uint8_t p[8 + 64] = { 0 };
        uint32_t n = 2;
        uint64_t r[8] = { GPA, 4096, UADDR, 0, GPA + 2048, 4096, UADDR + 8192, 0 };
        int fds[2], pp[2];

        vh_setup(&v, "virtio-blk");
        memcpy(p, &n, 4);
        memcpy(p + 8, r, sizeof(r));
        ck_assert_int_eq(msg(&v, VU_SET_MEM_TABLE, p, sizeof(p), &v.memfd, 1), -EPROTO);
        ck_assert(strstr(v.c.why, "2 regions with 1 fds"));
        vh_teardown(&v);
        vh_setup(&v, "virtio-blk");
        fds[0] = fds[1] = v.memfd;
        ck_assert_int_eq(msg(&v, VU_SET_MEM_TABLE, p, sizeof(p), fds, 2), -EPROTO);
        ck_assert(strstr(v.c.why, "overlaps"));
        vh_teardown(&v);
        vh_setup(&v, "virtio-blk");
        ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
        n = 9;
        memcpy(p, &n, 4);
        ck_assert_int_eq(msg(&v, VU_SET_MEM_TABLE, p, sizeof(p), NULL, 0), -EPROTO);
        vh_teardown(&v);
        vh_setup(&v, "virtio-blk");
        n = 1;
        memcpy(p, &n, 4);
        ck_assert_int_eq(msg(&v, VU_SET_MEM_TABLE, p, 40, pp, 1), -EPROTO);
        ck_assert(strstr(v.c.why, "not a file"));
        close(pp[0]);
        close(pp[1]);
        vh_teardown(&v);
    }
}
END_TEST

START_TEST(vring_messages_that_lie_end_the_connection)
{
    static const uint32_t sizes[] = { 0, 3, 100, 65536 };
    struct vh v;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        vh_setup(&v, "virtio-blk");
        ck_assert_int_eq(vring_state(&v, VU_SET_VRING_NUM, 0, sizes[i]), -EPROTO);
        ck_assert(strstr(v.c.why, "is not a power of two"));
        vh_teardown(&v);
    }
    vh_setup(&v, "virtio-blk");
    ck_assert_int_eq(vring_state(&v, VU_SET_VRING_NUM, 200, 16), -EPROTO);
    ck_assert(strstr(v.c.why, "for vring 200: the device has 1"));
    vh_teardown(&v);
    /* Ring addresses outside the table: refused when the ring starts. */
    vh_setup(&v, "virtio-blk");
    ck_assert_int_eq(set_mem(&v, GPA, MEM, UADDR, 0), 0);
    ck_assert_int_eq(vring_state(&v, VU_SET_VRING_NUM, 0, QSIZE), 0);
    ck_assert_int_eq(vring_addr(&v, 0, UADDR + MEM - 8, UADDR + USED_OFF, UADDR + AVL_OFF), 0);
    ck_assert_int_eq(vring_fd(&v, VU_SET_VRING_KICK, 0, v.kick), -EPROTO);
    ck_assert(strstr(v.c.why, "not inside the memory table"));
    vh_teardown(&v);
    /* A kick without an fd (polling) is not supported; nor two fds. */
    vh_setup(&v, "virtio-blk");
    ck_assert_int_eq(vring_fd(&v, VU_SET_VRING_KICK, VU_VRING_NOFD, -1), -EPROTO);
    vh_teardown(&v);
    vh_setup(&v, "virtio-blk");
    {
        uint64_t idx = 0;
        int two[2] = { v.kick, v.call };
        ck_assert_int_eq(msg(&v, VU_SET_VRING_CALL, &idx, 8, two, 2), -EPROTO);
    }
    vh_teardown(&v);
    /* Changing a running ring. */
    vh_setup(&v, "virtio-blk");
    vh_connect(&v);
    ck_assert_int_eq(vring_state(&v, VU_SET_VRING_NUM, 0, 8), -EPROTO);
    ck_assert(strstr(v.c.why, "while it runs"));
    vh_teardown(&v);
}
END_TEST

START_TEST(other_hostile_messages_end_the_connection)
{
    struct vh v;
    uint32_t cfg[3] = { 200, 100, 0 };
    uint64_t f = BIT64(12);

    vh_setup(&v, "virtio-blk");
    ck_assert_int_eq(msg(&v, VU_GET_CONFIG, cfg, 12, NULL, 0), -EPROTO); /* size mismatch */
    vh_teardown(&v);
    vh_setup(&v, "virtio-blk");
    ck_assert_int_eq(msg(&v, VU_SET_FEATURES, &f, 8, NULL, 0), -EPROTO); /* not offered */
    ck_assert(strstr(v.c.why, "never offered"));
    vh_teardown(&v);
    vh_setup(&v, "virtio-blk");
    ck_assert_int_eq(msg(&v, 999, NULL, 0, NULL, 0), -EPROTO);
    ck_assert(strstr(v.c.why, "request 999"));
    vh_teardown(&v);
    vh_setup(&v, "virtio-blk");
    ck_assert_int_eq(msg(&v, VU_SET_LOG_BASE, &f, 8, NULL, 0), -EPROTO);
    vh_teardown(&v);
    vh_setup(&v, "virtio-blk");
    ck_assert_int_eq(msg(&v, VU_SET_FEATURES, &f, 4, NULL, 0), -EPROTO); /* short */
    /* Once ended, it stays ended. */
    ck_assert_int_eq(msg(&v, VU_GET_FEATURES, NULL, 0, NULL, 0), -EPROTO);
    vh_teardown(&v);
}
END_TEST

START_TEST(a_driver_that_breaks_the_rules_ends_the_connection)
{
    struct vh v;
    uint16_t head = 99, idx = 1;

    vh_setup(&v, "virtio-blk");
    vh_connect(&v);
    memcpy(v.mem + AVL_OFF + 4, &head, 2);
    memcpy(v.mem + AVL_OFF + 2, &idx, 2);
    ck_assert_int_eq(vu_kick(&v.c, 0), -EPROTO);
    ck_assert(strstr(v.c.why, "the driver broke the device's rules"));
    ck_assert(strstr(v.c.why, "past the table"));
    vh_teardown(&v);
}
END_TEST

/* Raw bytes over a socket pair into vu_recv(). */
static int recv_raw(struct vh *v, const void *bytes, size_t len, const int *fds, unsigned nfds,
                    struct vu_msg *m)
{
    int sp[2];
    union {
        char buf[CMSG_SPACE(16 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { (void *)bytes, len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    int rc;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    if (nfds) {
        struct cmsghdr *cm;
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
    }
    ck_assert_int_eq(sendmsg(sp[0], &mh, 0), (ssize_t)len);
    close(sp[0]);
    rc = vu_recv(&v->c, sp[1], m);
    close(sp[1]);
    return rc;
}

START_TEST(malformed_messages_on_the_socket_are_refused_without_leaking_fds)
{
    struct vh v;
    static struct vu_msg m;
    uint32_t hdr[3];
    int fds[16], before;

    vh_setup(&v, "virtio-blk");
    before = unit_count_fds();
    hdr[0] = VU_GET_FEATURES;
    hdr[1] = 2; /* version 2 */
    hdr[2] = 0;
    ck_assert_int_eq(recv_raw(&v, hdr, 12, NULL, 0, &m), -EPROTO);
    vh_teardown(&v);
    vh_setup(&v, "virtio-blk");
    hdr[1] = VU_VERSION;
    hdr[2] = VU_MAX_PAYLOAD + 1; /* too big */
    for (int i = 0; i < 3; i++)
        fds[i] = v.kick;
    ck_assert_int_eq(recv_raw(&v, hdr, 12, fds, 3, &m), -EPROTO);
    ck_assert(strstr(v.c.why, "bytes of payload"));
    ck_assert_int_eq(unit_count_fds(), before);
    vh_teardown(&v);
    vh_setup(&v, "virtio-blk");
    hdr[2] = 8; /* a payload that never comes */
    ck_assert_int_eq(recv_raw(&v, hdr, 12, NULL, 0, &m), -EPROTO);
    ck_assert(strstr(v.c.why, "hung up inside a message"));
    vh_teardown(&v);
    vh_setup(&v, "virtio-blk");
    for (int i = 0; i < 16; i++)
        fds[i] = v.kick;
    hdr[2] = 0;
    ck_assert_int_eq(recv_raw(&v, hdr, 12, fds, 16, &m), -EPROTO); /* too many fds */
    ck_assert(strstr(v.c.why, "more than 8 fds"));
    ck_assert_int_eq(unit_count_fds(), before);
    /* A clean end of the stream. */
    ck_assert_int_eq(recv_raw(&v, hdr, 0, NULL, 0, &m), 0);
    vh_teardown(&v);
}
END_TEST

START_TEST(the_confinement_leaves_nothing_but_the_given_fds_and_calls)
{
    int p[2], st;
    pid_t pid;
    char buf[512] = "";
    ssize_t n;

    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char why[256];
        int keep[] = { p[1] };
        char line[128];
        int fd;
        if (confine_enter(keep, 1, p[1], why, sizeof(why)) < 0) {
            dprintf(p[1], "confine failed: %s\n", why);
            _exit(2);
        }
        fd = open("/etc/passwd", O_RDONLY);
        snprintf(line, sizeof(line), "open: %d %d\n", fd, fd < 0 ? errno : 0);
        if (write(p[1], line, strlen(line)) < 0)
            _exit(3);
        snprintf(line, sizeof(line), "uid %d fd0 %d\n", (int)getuid(), fcntl(0, F_GETFD));
        if (write(p[1], line, strlen(line)) < 0)
            _exit(3);
        socket(AF_INET, SOCK_STREAM, 0); /* not on the list: the end */
        _exit(4);
    }
    close(p[1]);
    n = read_full(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(strstr(buf, "open: -1 13\n"), "%s", buf);            /* EACCES */
    ck_assert_msg(strstr(buf, "uid 0 fd0 -1\n"), "%s", buf);           /* ns root; stdin closed */
    ck_assert_msg(strstr(buf, "refused system call 41\n"), "%s", buf); /* socket */
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 126);
}
END_TEST

Suite *suite_devices_vhost(void)
{
    Suite *s = suite_create("devices_vhost");
    TCase *tc = tcase_create("devices_vhost");

    tcase_add_test(tc, a_client_sets_up_a_ring_and_a_request_completes);
    tcase_add_test(tc, a_disabled_ring_waits_until_enabled);
    tcase_add_test(tc, a_memory_table_that_lies_ends_the_connection);
    tcase_add_test(tc, vring_messages_that_lie_end_the_connection);
    tcase_add_test(tc, other_hostile_messages_end_the_connection);
    tcase_add_test(tc, a_driver_that_breaks_the_rules_ends_the_connection);
    tcase_add_test(tc, malformed_messages_on_the_socket_are_refused_without_leaking_fds);
    tcase_add_test(tc, the_confinement_leaves_nothing_but_the_given_fds_and_calls);
    suite_add_tcase(s, tc);
    return s;
}
