/* SPDX-License-Identifier: MIT */
/*
 * control.c: the monitor's control socket. One JSON object per message on a
 * SOCK_SEQPACKET unix socket in the container's directory (0700, ours), with
 * descriptors alongside (SCM_RIGHTS) for exec's streams. Requests come from
 * the runtime's own commands; the monitor still checks each one's shape,
 * and who sent it (SO_PEERCRED).
 *
 * The socket is reached through the directory's descriptor
 * (/proc/self/fd/N/ctl.sock), so that a long --root never overflows a
 * socket address and a renamed path never redirects us.
 */
#include "oci/oci.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

static void sock_addr(int cdir, struct sockaddr_un *a)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s", cdir, OCI_CTL_SOCKET);
}

int oci_ctl_listen(int cdir, sbvm_error **err)
{
    struct sockaddr_un a;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return error_sys(err, errno, "the control socket");
    sock_addr(cdir, &a);
    unlinkat(cdir, OCI_CTL_SOCKET, 0);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        return error_sys(err, e, "the control socket");
    }
    return fd;
}

int oci_ctl_connect(int cdir, sbvm_error **err)
{
    struct sockaddr_un a;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return error_sys(err, errno, "the container's control socket");
    sock_addr(cdir, &a);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return error_set(err, ESRCH, "the container is not running (its monitor is gone)");
        return error_sys(err, e, "the container's control socket");
    }
    return fd;
}

int oci_ctl_send(int fd, json_t *msg, const int *fds, size_t nfds)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    struct iovec iov;
    long n;

    if (!text)
        return -ENOMEM;
    if (strlen(text) > OCI_CTL_MSG_MAX || nfds > OCI_CTL_FDS_MAX) {
        free(text);
        return -E2BIG;
    }
    iov.iov_base = text;
    iov.iov_len = strlen(text);
    n = send_with_fds(fd, &iov, 1, fds, nfds, 0);
    free(text);
    return n < 0 ? (int)n : 0;
}

json_t *oci_ctl_recv(int fd, int timeout_ms, int *fds, size_t *nfds, sbvm_error **err)
{
    union {
        char buf[CMSG_SPACE(OCI_CTL_FDS_MAX * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    _cleanup_free_ char *buf = malloc(OCI_CTL_MSG_MAX + 1);
    struct pollfd p = { fd, POLLIN, 0 };
    struct iovec iov;
    struct msghdr m;
    json_error_t je;
    json_t *o;
    size_t got = 0;
    ssize_t n;

    if (nfds)
        *nfds = 0;
    if (!buf) {
        error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    if (timeout_ms >= 0) {
        int r;
        do
            r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r == 0) {
            error_set(err, ETIMEDOUT, "the container's monitor did not answer in %d ms",
                      timeout_ms);
            return NULL;
        }
    }
    iov.iov_base = buf;
    iov.iov_len = OCI_CTL_MSG_MAX;
    memset(&m, 0, sizeof(m));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof(ctl.buf);
    do
        n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); n >= 0 && c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int x;
            memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fds && got < OCI_CTL_FDS_MAX)
                fds[got++] = x;
            else
                close(x);
        }
    }
    if (n <= 0 || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        for (size_t i = 0; i < got; i++)
            close(fds[i]);
        if (n == 0)
            error_set(err, ECONNRESET, "the container's monitor hung up");
        else if (n < 0)
            error_sys(err, errno, "reading from the container's monitor");
        else
            error_set(err, EMSGSIZE, "a control message too large");
        return NULL;
    }
    buf[n] = '\0';
    o = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        for (size_t i = 0; i < got; i++)
            close(fds[i]);
        error_set(err, EPROTO, "a malformed control message");
        return NULL;
    }
    if (nfds)
        *nfds = got;
    return o;
}

int oci_ctl_call(int cdir, json_t *req, const int *fds, size_t nfds, json_t **out, int *rfds,
                 size_t *nrfds, sbvm_error **err)
{
    _cleanup_close_ int fd = oci_ctl_connect(cdir, err);
    json_t *rep;
    const char *msg;
    int r;

    *out = NULL;
    if (fd < 0)
        return fd;
    r = oci_ctl_send(fd, req, fds, nfds);
    if (r < 0)
        return error_sys(err, -r, "asking the container's monitor");
    rep = oci_ctl_recv(fd, 30000, rfds, nrfds, err);
    if (!rep)
        return -EIO;
    msg = json_string_value(json_object_get(rep, "error"));
    if (msg) {
        json_t *code = json_object_get(rep, "errno");
        r = error_set(err, json_is_integer(code) ? (int)json_integer_value(code) : EINVAL, "%s",
                      msg);
        json_decref(rep);
        if (rfds && nrfds)
            for (size_t i = 0; i < *nrfds; i++)
                close(rfds[i]);
        return r;
    }
    *out = rep;
    return 0;
}
