/* SPDX-License-Identifier: MIT */
/* vhost-user.c: the back-end side of the vhost-user protocol, over a device model. */
#include "devices/vhost-user.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/trace.h"
#include "util/util.h"

static int fail(struct vu_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct vu_conn *c, const char *fmt, ...)
{
    va_list ap;

    if (!c->closed) {
        va_start(ap, fmt);
        vsnprintf(c->why, sizeof(c->why), fmt, ap);
        va_end(ap);
    }
    c->closed = true;
    return -EPROTO;
}

static void close_fd_if(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* A kick fd leaves the epoll set before it is closed: the client holds the
 * same open file, so closing ours alone would leave it registered. */
static void kick_close(struct vu_conn *c, unsigned q)
{
    if (c->ring[q].kick < 0)
        return;
    if (c->epfd >= 0)
        epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->ring[q].kick, NULL);
    close_fd_if(&c->ring[q].kick);
}

static int kick_set(struct vu_conn *c, unsigned q, int fd)
{
    kick_close(c, q);
    c->ring[q].kick = fd;
    if (c->epfd >= 0) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = q };
        if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close_fd_if(&c->ring[q].kick);
            return fail(c, "vring %u: the kick fd cannot be watched: %s", q, strerror(errno));
        }
    }
    return 0;
}

void vu_kick_fd_broken(struct vu_conn *c, unsigned q)
{
    if (q < VDEV_MAX_QUEUES)
        kick_close(c, q);
}

static void vu_irq(struct vdev *d, unsigned source, void *ctx)
{
    struct vu_conn *c = ctx;
    uint64_t one = 1;

    (void)d;
    if (source >= VDEV_MAX_QUEUES || c->ring[source].call < 0)
        return;
    /* Non-blocking: a full pipe means an interrupt is already pending. */
    if (write(c->ring[source].call, &one, sizeof(one)) < 0 && errno != EAGAIN)
        close_fd_if(&c->ring[source].call);
}

void vu_init(struct vu_conn *c, struct vdev *d)
{
    memset(c, 0, sizeof(*c));
    c->dev = d;
    c->epfd = -1;
    c->slave_fd = -1;
    dma_map_init(&c->map);
    for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
        c->ring[i].kick = c->ring[i].call = -1;
    vdev_reset(d);
    vdev_set_memory(d, &c->map);
    vdev_set_irq(d, vu_irq, c);
}

static void unmap_regions(struct vu_region *r, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (r[i].map)
            munmap(r[i].map, r[i].map_len);
}

void vu_release(struct vu_conn *c)
{
    for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++) {
        kick_close(c, i);
        close_fd_if(&c->ring[i].call);
    }
    close_fd_if(&c->slave_fd);
    vdev_reset(c->dev);
    vdev_set_memory(c->dev, NULL);
    vdev_set_irq(c->dev, NULL, NULL);
    unmap_regions(c->regions, c->nregions);
    c->nregions = 0;
    dma_map_release(&c->map);
}

static void reply_u64(struct vu_conn *c, const struct vu_msg *m, uint64_t v)
{
    c->has_reply = true;
    c->reply.request = m->request;
    c->reply.flags = VU_VERSION | VU_FLAG_REPLY;
    c->reply.size = sizeof(v);
    c->reply.nfds = 0;
    memcpy(c->reply.payload, &v, sizeof(v));
}

static unsigned nqueues(const struct vu_conn *c)
{
    return c->dev->ops->nqueues;
}

/* Resolves a ring's addresses in the memory table and starts it. */
static int ring_start(struct vu_conn *c, unsigned q)
{
    struct vu_ring *r = &c->ring[q];
    struct vq *vq = &c->dev->vq[q];
    uint64_t n = vq->num;

    if (!r->addr_set || n == 0 || n > VQ_MAX_SIZE)
        return fail(c, "vring %u started before its size and addresses were set", q);
    if (dma_uaddr_to_addr(&c->map, r->desc_ua, vq_desc_bytes((uint32_t)n), &vq->desc_addr) < 0 ||
        dma_uaddr_to_addr(&c->map, r->avail_ua, vq_avail_bytes((uint32_t)n), &vq->avail_addr) < 0 ||
        dma_uaddr_to_addr(&c->map, r->used_ua, vq_used_bytes((uint32_t)n), &vq->used_addr) < 0)
        return fail(c, "vring %u: its addresses are not inside the memory table", q);
    if (vq_start(vq, &c->map) < 0)
        return fail(c, "vring %u: %s", q, vq->why);
    trace_event(c->dev->trace, c->dev->name, "vring %u started: %u entries, next %u", q, vq->num,
                vq->last_avail);
    return 0;
}

static int set_mem_table(struct vu_conn *c, struct vu_msg *m)
{
    struct vu_region fresh[VU_MAX_REGIONS];
    struct dma_map map;
    uint32_t n;
    long page = sysconf(_SC_PAGESIZE);
    int rc = 0;

    if (m->size < 8)
        return fail(c, "SET_MEM_TABLE: %u bytes", m->size);
    memcpy(&n, m->payload, 4);
    if (n == 0 || n > VU_MAX_REGIONS || m->size < 8 + 32 * n || m->nfds != n)
        return fail(c, "SET_MEM_TABLE: %u regions with %u fds in %u bytes", n, m->nfds, m->size);
    memset(fresh, 0, sizeof(fresh));
    dma_map_init(&map);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        uint64_t f[4], end, skip;
        struct stat st;

        memcpy(f, m->payload + 8 + 32 * i, sizeof(f));
        /* guest address, size, user address, offset into the fd */
        skip = f[3] % (uint64_t)page;
        if (f[1] == 0 || ckd_add(&end, f[3], f[1]) || f[1] > SIZE_MAX - skip) {
            rc = fail(c, "SET_MEM_TABLE: region %u: size %" PRIu64 " at offset %" PRIu64, i, f[1],
                      f[3]);
            break;
        }
        /* A file shorter than the region would fault (SIGBUS) on access. */
        if (syscall(SYS_fstat, m->fds[i], &st) < 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_size < end) {
            rc = fail(
                c, "SET_MEM_TABLE: region %u: the fd is not a file of at least %" PRIu64 " bytes",
                i, end);
            break;
        }
        fresh[i].map_len = (size_t)(f[1] + skip);
        fresh[i].map = mmap(NULL, fresh[i].map_len, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_NORESERVE, m->fds[i], (off_t)(f[3] - skip));
        if (fresh[i].map == MAP_FAILED) {
            fresh[i].map = NULL;
            rc = fail(c, "SET_MEM_TABLE: region %u: mapping %" PRIu64 " bytes: %s", i, f[1],
                      strerror(errno));
            break;
        }
        if (dma_map_add(&map, f[0], f[1], (uint8_t *)fresh[i].map + skip, f[2]) < 0) {
            rc = fail(c,
                      "SET_MEM_TABLE: region %u (guest 0x%" PRIx64 ", user 0x%" PRIx64 ", %" PRIu64
                      " bytes) is empty, wraps, or overlaps another",
                      i, f[0], f[2], f[1]);
            break;
        }
    }
    if (rc < 0) {
        unmap_regions(fresh, n);
        dma_map_release(&map);
        return rc;
    }
    /* Swap in the new table; running rings resolve again in it. */
    unmap_regions(c->regions, c->nregions);
    memcpy(c->regions, fresh, sizeof(fresh));
    c->nregions = n;
    map.generation = c->map.generation + 1;
    dma_map_release(&c->map);
    c->map = map;
    vdev_set_memory(c->dev, &c->map);
    for (unsigned q = 0; q < nqueues(c); q++)
        if (c->dev->vq[q].started && ring_start(c, q) < 0)
            return -EPROTO;
    trace_event(c->dev->trace, c->dev->name, "memory table: %u regions", n);
    return 0;
}

static int ring_index(struct vu_conn *c, const struct vu_msg *m, uint32_t idx)
{
    if (idx >= nqueues(c))
        return fail(c, "request %u for vring %u: the device has %u", m->request, idx, nqueues(c));
    return (int)idx;
}

/* SET_VRING_KICK / CALL / ERR: u64 index | NOFD, the fd in the message. */
static int set_vring_fd(struct vu_conn *c, struct vu_msg *m)
{
    uint64_t v;
    int q, fd = -1;

    if (m->size < 8)
        return fail(c, "request %u: %u bytes", m->request, m->size);
    memcpy(&v, m->payload, 8);
    q = ring_index(c, m, (uint32_t)(v & VU_VRING_IDXMASK));
    if (q < 0)
        return q;
    if (!(v & VU_VRING_NOFD)) {
        if (m->nfds != 1)
            return fail(c, "request %u: %u fds, expected 1", m->request, m->nfds);
        fd = m->fds[0];
        m->fds[0] = -1;
        /* The client keeps its end; blocking here would let it stall us. */
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
            close(fd);
            return fail(c, "request %u: the fd does not take O_NONBLOCK", m->request);
        }
    }
    if (m->request == VU_SET_VRING_KICK) {
        if (fd < 0)
            return fail(c, "vring %d: polling (no kick fd) is not supported", q);
        if (kick_set(c, (unsigned)q, fd) < 0)
            return -EPROTO;
        return ring_start(c, (unsigned)q);
    }
    if (m->request == VU_SET_VRING_CALL) {
        close_fd_if(&c->ring[q].call);
        c->ring[q].call = fd;
        return 0;
    }
    close_fd_if(&fd); /* VRING_ERR: there are no errors to report */
    return 0;
}

static int handle(struct vu_conn *c, struct vu_msg *m)
{
    struct vdev *d = c->dev;
    uint32_t st[2];
    uint64_t v;
    int q;

    switch (m->request) {
    case VU_GET_FEATURES:
        reply_u64(c, m, vdev_features(d) | BIT64(VU_F_PROTOCOL));
        return 0;
    case VU_SET_FEATURES:
        if (m->size < 8)
            return fail(c, "SET_FEATURES: %u bytes", m->size);
        memcpy(&v, m->payload, 8);
        /* With protocol features accepted, rings start disabled. */
        c->proto_negotiated = v & BIT64(VU_F_PROTOCOL);
        v &= ~BIT64(VU_F_PROTOCOL);
        if (vdev_set_features(d, v) < 0)
            return fail(c, "SET_FEATURES: 0x%" PRIx64 " includes features never offered", v);
        c->features_set = true;
        return 0;
    case VU_GET_PROTOCOL_FEATURES:
        reply_u64(c, m, VU_PROTOCOL_OFFERED);
        return 0;
    case VU_SET_PROTOCOL_FEATURES:
        if (m->size < 8)
            return fail(c, "SET_PROTOCOL_FEATURES: %u bytes", m->size);
        memcpy(&v, m->payload, 8);
        c->protocol = v & VU_PROTOCOL_OFFERED;
        return 0;
    case VU_GET_QUEUE_NUM:
        reply_u64(c, m, nqueues(c));
        return 0;
    case VU_SET_OWNER:
        return 0;
    case VU_RESET_OWNER:
        /* Deprecated; taken, as the specification suggests, to stop the rings. */
        for (unsigned i = 0; i < nqueues(c); i++)
            vq_reset(&d->vq[i]);
        return 0;
    case VU_SET_MEM_TABLE:
        return set_mem_table(c, m);
    case VU_SET_VRING_NUM:
    case VU_SET_VRING_BASE:
    case VU_GET_VRING_BASE:
    case VU_SET_VRING_ENABLE:
        if (m->size < 8)
            return fail(c, "request %u: %u bytes", m->request, m->size);
        memcpy(st, m->payload, 8);
        if ((q = ring_index(c, m, st[0])) < 0)
            return q;
        if (m->request == VU_SET_VRING_NUM) {
            if (d->vq[q].started)
                return fail(c, "SET_VRING_NUM for vring %d while it runs", q);
            if (st[1] == 0 || st[1] > VQ_MAX_SIZE || (st[1] & (st[1] - 1)))
                return fail(c, "SET_VRING_NUM: vring %d size %u is not a power of two up to %u", q,
                            st[1], VQ_MAX_SIZE);
            d->vq[q].num = st[1];
        } else if (m->request == VU_SET_VRING_BASE) {
            if (d->vq[q].started)
                return fail(c, "SET_VRING_BASE for vring %d while it runs", q);
            if (st[1] > 0xffff)
                return fail(c, "SET_VRING_BASE: %u", st[1]);
            d->vq[q].last_avail = d->vq[q].used_idx = (uint16_t)st[1];
            d->vq[q].signalled_valid = false;
        } else if (m->request == VU_SET_VRING_ENABLE) {
            c->ring[q].enabled = st[1] != 0;
            /* Kicks that came while it was disabled were read: serve now. */
            if (c->ring[q].enabled && d->vq[q].started)
                return vu_kick(c, (unsigned)q);
        } else {
            /* GET_VRING_BASE stops the ring and says where it stopped. */
            uint32_t out[2] = { (uint32_t)q, d->vq[q].last_avail };
            d->vq[q].started = false;
            kick_close(c, (unsigned)q);
            c->has_reply = true;
            c->reply.request = m->request;
            c->reply.flags = VU_VERSION | VU_FLAG_REPLY;
            c->reply.size = sizeof(out);
            c->reply.nfds = 0;
            memcpy(c->reply.payload, out, sizeof(out));
        }
        return 0;
    case VU_SET_VRING_ADDR: {
        uint32_t idx;
        uint64_t a[4]; /* desc, used, avail, log */
        if (m->size < 40)
            return fail(c, "SET_VRING_ADDR: %u bytes", m->size);
        memcpy(&idx, m->payload, 4);
        memcpy(a, m->payload + 8, sizeof(a));
        if ((q = ring_index(c, m, idx)) < 0)
            return q;
        if (d->vq[q].started)
            return fail(c, "SET_VRING_ADDR for vring %d while it runs", q);
        c->ring[q].desc_ua = a[0];
        c->ring[q].used_ua = a[1];
        c->ring[q].avail_ua = a[2];
        c->ring[q].addr_set = true;
        return 0;
    }
    case VU_SET_VRING_KICK:
    case VU_SET_VRING_CALL:
    case VU_SET_VRING_ERR:
        return set_vring_fd(c, m);
    case VU_GET_CONFIG:
    case VU_SET_CONFIG: {
        uint32_t hdr[3]; /* offset, size, flags */
        if (m->size < 12)
            return fail(c, "request %u: %u bytes", m->request, m->size);
        memcpy(hdr, m->payload, sizeof(hdr));
        if (hdr[1] > 256 || hdr[0] > 256 - hdr[1] || m->size != 12 + hdr[1])
            return fail(c, "request %u: config offset %u size %u in %u bytes", m->request, hdr[0],
                        hdr[1], m->size);
        if (m->request == VU_SET_CONFIG) {
            vdev_config_write(d, hdr[0], m->payload + 12, hdr[1]);
            return 0;
        }
        c->has_reply = true;
        c->reply.request = m->request;
        c->reply.flags = VU_VERSION | VU_FLAG_REPLY;
        c->reply.size = m->size;
        c->reply.nfds = 0;
        memcpy(c->reply.payload, hdr, sizeof(hdr));
        vdev_config_read(d, hdr[0], c->reply.payload + 12, hdr[1]);
        return 0;
    }
    case VU_SET_LOG_BASE:
    case VU_SET_LOG_FD:
        return fail(c, "request %u: dirty logging was never offered", m->request);
    case VU_SET_SLAVE_REQ_FD:
        /* Kept but unused: the device has nothing to ask its client. */
        if (m->nfds != 1)
            return fail(c, "SET_SLAVE_REQ_FD: %u fds, expected 1", m->nfds);
        close_fd_if(&c->slave_fd);
        c->slave_fd = m->fds[0];
        m->fds[0] = -1;
        return 0;
    default:
        return fail(c, "request %u is not one this back-end knows", m->request);
    }
}

int vu_handle(struct vu_conn *c, struct vu_msg *m)
{
    int rc;

    c->has_reply = false;
    c->messages++;
    if (c->closed)
        rc = -EPROTO;
    else
        rc = handle(c, m);
    for (unsigned i = 0; i < m->nfds; i++)
        close_fd_if(&m->fds[i]);
    m->nfds = 0;
    if (rc == 0 && !c->has_reply && (m->flags & VU_FLAG_NEED) &&
        (c->protocol & BIT64(VU_PF_REPLY_ACK)))
        reply_u64(c, m, 0);
    return rc;
}

int vu_kick(struct vu_conn *c, unsigned q)
{
    struct vdev *d = c->dev;

    if (q >= nqueues(c) || c->closed)
        return c->closed ? -EPROTO : 0;
    /* Without protocol features a ring starts enabled. */
    if (c->proto_negotiated && !c->ring[q].enabled)
        return 0;
    while (vdev_notify(d, q))
        ;
    if (d->broken)
        return fail(c, "the driver broke the device's rules: %s", d->why);
    return 0;
}

int vu_recv(struct vu_conn *c, int sock, struct vu_msg *m)
{
    union {
        char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    uint8_t hdr[VU_HDR_SIZE];
    size_t got = 0;

    m->nfds = 0;
    while (got < sizeof(hdr)) {
        struct iovec iov = { hdr + got, sizeof(hdr) - got };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (got == 0) {
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof(ctl.buf);
        }
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return got == 0 ? 0 : fail(c, "the client hung up inside a message header");
        for (struct cmsghdr *cm = got == 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm;
             cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                if (m->nfds < VU_MAX_FDS)
                    m->fds[m->nfds++] = fd;
                else
                    close(fd);
            }
        }
        if (got == 0 && (mh.msg_flags & MSG_CTRUNC)) {
            for (unsigned i = 0; i < m->nfds; i++)
                close(m->fds[i]);
            m->nfds = 0;
            return fail(c, "a message carried more than %u fds", VU_MAX_FDS);
        }
        got += (size_t)n;
    }
    memcpy(&m->request, hdr, 4);
    memcpy(&m->flags, hdr + 4, 4);
    memcpy(&m->size, hdr + 8, 4);
    if ((m->flags & 3) != VU_VERSION || m->size > VU_MAX_PAYLOAD) {
        for (unsigned i = 0; i < m->nfds; i++)
            close(m->fds[i]);
        m->nfds = 0;
        return fail(c, "a message with flags 0x%x and %u bytes of payload", m->flags, m->size);
    }
    if (m->size && read_full(sock, m->payload, m->size) != (long)m->size) {
        for (unsigned i = 0; i < m->nfds; i++)
            close(m->fds[i]);
        m->nfds = 0;
        return fail(c, "the client hung up inside a message");
    }
    return 1;
}

int vu_send_reply(struct vu_conn *c, int sock)
{
    uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
    size_t len = VU_HDR_SIZE + c->reply.size;
    ssize_t n;

    memcpy(buf, &c->reply.request, 4);
    memcpy(buf + 4, &c->reply.flags, 4);
    memcpy(buf + 8, &c->reply.size, 4);
    memcpy(buf + VU_HDR_SIZE, c->reply.payload, c->reply.size);
    c->has_reply = false;
    n = send(sock, buf, len, MSG_NOSIGNAL);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}
