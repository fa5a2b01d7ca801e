/* SPDX-License-Identifier: MIT */
/* util.c: clocks and full reads/writes. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/util.h"

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t now_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t now_real_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

long read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (long)got;
}

int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *buf = NULL;
    long n;

    fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    buf = malloc(max + 2);
    if (!buf)
        return -ENOMEM;
    n = read_full(fd, buf, max + 1);
    if (n < 0)
        return (int)n;
    if ((size_t)n > max)
        return -EFBIG;
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    *out = steal_pointer(&buf);
    return 0;
}

ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
    sigset_t pipe_set, old;
    ssize_t n;
    int e;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    n = write(fd, buf, len);
    e = errno;
    /* A SIGPIPE our write raised is pending on this thread: take it back,
     * unless one was already pending before (then it is not ours). */
    if (n < 0 && e == EPIPE && !sigismember(&old, SIGPIPE)) {
        sigset_t pending;
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
            sigtimedwait(&pipe_set, NULL, &(struct timespec){ 0, 0 });
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return n;
}

int parse_size(const char *s, uint64_t *bytes)
{
    char *end;
    unsigned long long v;
    uint64_t mult = 1;

    if (!s || !*s || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (end == s || (errno && errno != ERANGE))
        return -EINVAL;
    if (errno == ERANGE)
        v = ULLONG_MAX; /* too large: said as such below, if the rest is right */
    switch (*end) {
    case 'k':
    case 'K':
        mult = 1ULL << 10;
        break;
    case 'm':
    case 'M':
        mult = 1ULL << 20;
        break;
    case 'g':
    case 'G':
        mult = 1ULL << 30;
        break;
    case 't':
    case 'T':
        mult = 1ULL << 40;
        break;
    default:
        break;
    }
    if (mult > 1)
        end++;
    if (mult > 1 && *end == 'i')
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v == 0)
        return -EINVAL;
    if (v == ULLONG_MAX || ckd_mul(bytes, (uint64_t)v, mult))
        return -ERANGE;
    return 0;
}

int openat2_at(int dirfd, const char *path, int flags, uint64_t resolve)
{
    struct open_how how = { .flags = (uint64_t)flags | O_CLOEXEC, .resolve = resolve };

    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

long read_small_at(int dirfd, const char *name, char *buf, size_t size)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    long n;

    if (fd < 0 || size == 0)
        return -1;
    n = read_full(fd, buf, size - 1);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

int seconds_to_ms(double seconds, uint64_t *ms)
{
    if (!(seconds > 0) || seconds > 1e7)
        return -EINVAL;
    *ms = (uint64_t)(seconds * 1000 + 0.999);
    if (*ms == 0)
        *ms = 1;
    return 0;
}

long send_with_fds(int sock, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds,
                   int flags)
{
    union {
        char buf[CMSG_SPACE(SEND_FDS_MAX * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr m;
    ssize_t n;

    if (nfds > SEND_FDS_MAX)
        return -EINVAL;
    memset(&m, 0, sizeof(m));
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = (size_t)iovcnt;
    if (nfds) {
        struct cmsghdr *c;
        memset(&ctl, 0, sizeof(ctl));
        m.msg_control = ctl.buf;
        m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    do
        n = sendmsg(sock, &m, flags | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}
