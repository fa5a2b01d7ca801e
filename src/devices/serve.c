/* SPDX-License-Identifier: MIT */
/*
 * serve.c: `sandboxvm device serve`: a device model behind a vhost-user
 * socket, served from a confined child process (confine.h). The parent
 * opens the images and the listening socket, hands exactly those to the
 * child, relays its log, stops it on request and reports how it ended; the
 * child parses everything the client and its driver send.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/confine.h"
#include "devices/devices.h"
#include "devices/trace.h"
#include "devices/vhost-user.h"
#include "devices/serve.h"
#include "sandboxvm/sandboxvm.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

#define SQ 0xffffu /* the epoll key of the socket; queues are 0..15 */

static void logf_fd(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_fd(int fd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    if (fd < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    buf[n++] = '\n';
    if (write(fd, buf, (size_t)n) < 0)
        return;
}

int vu_serve_conn(struct vdev *d, int sock, char *why, size_t whylen)
{
    struct vu_conn *c = malloc(sizeof(*c));
    struct vu_msg *m = malloc(sizeof(*m));
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = SQ }, evs[8];
    int ep = epoll_create1(EPOLL_CLOEXEC), rc = 0;
    bool done = false;

    why[0] = '\0';
    if (!c || !m || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev) < 0) {
        snprintf(why, whylen, "setting up the connection: %s", strerror(errno ? errno : ENOMEM));
        free(c);
        free(m);
        if (ep >= 0)
            close(ep);
        return -ENOMEM;
    }
    vu_init(c, d);
    c->epfd = ep;
    while (!done && rc == 0) {
        int n = epoll_wait(ep, evs, ARRAY_SIZE(evs), -1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            snprintf(why, whylen, "waiting: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n && !done && rc == 0; i++) {
            unsigned key = evs[i].data.u32;

            if (key == SQ) {
                int r = vu_recv(c, sock, m);
                if (r == 0) {
                    done = true;
                    break;
                }
                if (r < 0) {
                    rc = r;
                    break;
                }
                rc = vu_handle(c, m);
                if (rc == 0 && c->has_reply && vu_send_reply(c, sock) < 0)
                    done = true; /* the client went away mid-reply */
            } else if (key < VDEV_MAX_QUEUES && c->ring[key].kick >= 0) {
                uint64_t cnt;
                ssize_t r = read(c->ring[key].kick, &cnt, sizeof(cnt));
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                    /* Not an eventfd after all: stop watching it. */
                    vu_kick_fd_broken(c, key);
                    continue;
                }
                rc = vu_kick(c, key);
            }
        }
    }
    if (rc < 0 && !why[0])
        snprintf(why, whylen, "%s", c->why[0] ? c->why : strerror(-rc));
    vu_release(c);
    close(ep);
    free(c);
    free(m);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The confined child                                                       */

struct child_args {
    const struct vdev_ops *ops;
    struct disk disks[DEV_MAX_DISKS];
    unsigned ndisks;
    int listen_fd, log_fd, trace_fd;
    bool trace_json, once;
};

static NORETURN void child_main(struct child_args *a)
{
    int keep[DEV_MAX_DISKS + 3];
    unsigned nkeep = 0;
    struct devtrace *trace = NULL;
    struct vdev dev;
    sbvm_error *err = NULL;
    char why[256];
    unsigned clients = 0, nimages = a->ndisks;
    int status = 0;

    /* The parent's signal handlers write to a pipe the child does not
     * have: back to the defaults, so that SIGTERM ends it. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, sig == SIGPIPE ? SIG_IGN : SIG_DFL);
    keep[nkeep++] = a->listen_fd;
    keep[nkeep++] = a->log_fd;
    keep[nkeep++] = a->trace_fd;
    for (unsigned i = 0; i < a->ndisks; i++)
        keep[nkeep++] = a->disks[i].fd;
    if (dev_create_disks(a->ops, a->disks, a->ndisks, NULL, &dev, &err) < 0) {
        logf_fd(a->log_fd, "%s", sbvm_error_message(err));
        _exit(2);
    }
    if (a->trace_fd >= 0) {
        FILE *f = fdopen(a->trace_fd, "w");
        if (!f || trace_attach(&trace, f, a->trace_json) < 0) {
            logf_fd(a->log_fd, "opening the trace: %s", strerror(errno));
            _exit(2);
        }
        dev.trace = trace;
    }
    if (confine_enter(keep, nkeep, a->log_fd, why, sizeof(why)) < 0) {
        logf_fd(a->log_fd, "confining the device back-end: %s", why);
        _exit(2);
    }
    logf_fd(a->log_fd, "serving %s from %u image%s, confined", dev.name, nimages,
            nimages == 1 ? "" : "s");
    for (;;) {
        int sock = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        int rc;

        if (sock < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            logf_fd(a->log_fd, "accepting a client: %s", strerror(errno));
            status = 3;
            break;
        }
        clients++;
        logf_fd(a->log_fd, "client %u connected", clients);
        rc = vu_serve_conn(&dev, sock, why, sizeof(why));
        close(sock);
        if (rc < 0) {
            logf_fd(a->log_fd, "client %u: connection ended: %s", clients, why);
            status = 1;
        } else {
            logf_fd(a->log_fd, "client %u disconnected (%llu requests, %llu errors)", clients,
                    (unsigned long long)dev.st.requests, (unsigned long long)dev.st.errors);
        }
        if (trace)
            fflush(trace->f);
        if (a->once)
            break;
    }
    if (trace)
        fflush(trace->f);
    /* No exit handlers: the filter does not allow what some of them do. */
    _exit(status);
}

/* ------------------------------------------------------------------------ */
/* The parent                                                               */

/* "IMG[,ro][,size=N]" */
static int parse_disk(const char *spec, struct diskspec *out, sbvm_error **err)
{
    char *copy = strdup(spec), *save = NULL, *tok;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!copy)
        return error_set(err, ENOMEM, "out of memory");
    tok = strtok_r(copy, ",", &save);
    if (!tok || !*tok) {
        free(copy);
        return error_set(err, EINVAL, "--disk '%s': needs a path", spec);
    }
    out->path = strdup(tok);
    while (rc == 0 && (tok = strtok_r(NULL, ",", &save))) {
        if (streq(tok, "ro"))
            out->ro = true;
        else if (str_has_prefix(tok, "size=") && parse_size(tok + 5, &out->size) == 0 &&
                 out->size % DISK_SECTOR == 0)
            ;
        else
            rc = error_set(err, EINVAL, "--disk '%s': '%s' is not ro or size=N (whole sectors)",
                           spec, tok);
    }
    free(copy);
    if (rc == 0 && !out->path)
        rc = error_set(err, ENOMEM, "out of memory");
    if (rc < 0) {
        free(out->path);
        out->path = NULL;
    }
    return rc;
}

/* A listening socket at path; a stale socket there (nobody answers) is
 * replaced, anything else is refused. */
static int listen_at(const char *path, sbvm_error **err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return error_set(err, ENAMETOOLONG, "socket path %s: longer than %zu bytes", path,
                         sizeof(sa.sun_path) - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) == 0) {
        int probe;
        if (!S_ISSOCK(st.st_mode))
            return error_set(err, EEXIST, "socket path %s: exists and is not a socket", path);
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            return error_set(err, EADDRINUSE, "socket path %s: another server answers there", path);
        }
        if (probe >= 0)
            close(probe);
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return error_sys(err, errno, "creating the socket");
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        int e = errno;
        close(fd);
        return error_sys(err, e, "listening on %s", path);
    }
    return fd;
}

static void relay(int from, int to, const char *tag, char *pending, size_t *plen, size_t cap)
{
    char buf[4096];
    ssize_t n = read(from, buf, sizeof(buf));

    if (n <= 0)
        return;
    for (ssize_t i = 0; i < n; i++) {
        if (*plen < cap - 1 && buf[i] != '\n') {
            /* Only printable bytes reach a terminal. */
            pending[(*plen)++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
            continue;
        }
        if (to >= 0) {
            char line[4200];
            int k = snprintf(line, sizeof(line), "[%s] %.*s\n", tag, (int)*plen, pending);
            if (k > 0 && write(to, line, (size_t)k) < 0)
                to = -1;
        }
        *plen = 0;
    }
}

int sbvm_device_serve(const struct sbvm_device_serve *o, sbvm_error **err)
{
    struct child_args a;
    int logp[2] = { -1, -1 }, trace_fd = -1, listen_fd = -1, pidfd = -1, rc = 0, status;
    char pending[1024], tag[64];
    size_t plen = 0;
    pid_t pid;
    bool stopping = false;
    int64_t kill_at = 0;

    memset(&a, 0, sizeof(a));
    a.listen_fd = a.log_fd = a.trace_fd = -1;
    if (!o || o->size < sizeof(*o) || !o->type || !o->socket || !o->disks || !o->disks[0])
        return error_set(err, EINVAL, "device serve: a type, a disk and a socket are needed");
    a.ops = dev_lookup(o->type);
    if (!a.ops)
        return error_set(err, EINVAL, "device type '%s': the types are %s", o->type, dev_names());
    for (const char *const *s = o->disks; *s; s++) {
        struct diskspec ds;
        if (a.ndisks >= a.ops->max_disks) {
            rc = error_set(err, EINVAL, "%s takes at most %u disk%s", a.ops->name, a.ops->max_disks,
                           a.ops->max_disks == 1 ? "" : "s");
            goto out;
        }
        if ((rc = parse_disk(*s, &ds, err)) < 0)
            goto out;
        rc = disk_open(&a.disks[a.ndisks], ds.path, ds.ro, ds.size, err);
        free(ds.path);
        if (rc < 0)
            goto out;
        a.ndisks++;
    }
    if (o->trace) {
        trace_fd = open(o->trace, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (trace_fd < 0) {
            rc = error_sys(err, errno, "opening the device trace %s", o->trace);
            goto out;
        }
    }
    if (pipe2(logp, O_CLOEXEC) < 0) {
        rc = error_sys(err, errno, "creating the log pipe");
        goto out;
    }
    listen_fd = listen_at(o->socket, err);
    if (listen_fd < 0) {
        rc = listen_fd;
        goto out;
    }
    /* jansson seeds its hash on first use, from a random device: do it here. */
    json_object_seed(0);
    a.listen_fd = listen_fd;
    a.log_fd = logp[1];
    a.trace_fd = trace_fd;
    a.trace_json = o->trace_json;
    a.once = o->once;
    pid = fork();
    if (pid < 0) {
        rc = error_sys(err, errno, "starting the device back-end");
        goto out_sock;
    }
    if (pid == 0) {
        close(logp[0]);
        child_main(&a);
    }
    close_fd(&logp[1]);
    close_fd(&listen_fd);
    close_fd(&trace_fd);
    for (unsigned i = 0; i < a.ndisks; i++)
        disk_close(&a.disks[i]);
    a.ndisks = 0;
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    snprintf(tag, sizeof(tag), "%s", a.ops->name);
    for (;;) {
        struct pollfd p[3] = {
            { pidfd, POLLIN, 0 },
            { logp[0], POLLIN, 0 },
            { stopping ? -1 : o->stop_fd, POLLIN, 0 },
        };
        int n = poll(p, 3, stopping ? 100 : -1);

        if (n < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            relay(logp[0], o->log_fd, tag, pending, &plen, sizeof(pending));
        if ((p[1].revents & POLLHUP) && !(p[1].revents & POLLIN))
            close_fd(&logp[0]);
        if (p[2].revents) {
            char sig;
            if (read(o->stop_fd, &sig, 1) < 0)
                sig = 0;
            stopping = true;
            kill(pid, SIGTERM);
            kill_at = now_mono_ns() + 2000000000ll;
        }
        if (stopping && now_mono_ns() > kill_at)
            kill(pid, SIGKILL);
        if (pidfd < 0 || p[0].revents)
            break;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (logp[0] >= 0) {
        int fl = fcntl(logp[0], F_GETFL);
        fcntl(logp[0], F_SETFL, fl | O_NONBLOCK);
        relay(logp[0], o->log_fd, tag, pending, &plen, sizeof(pending));
    }
    if (stopping)
        rc = 0;
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        rc = 0;
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
        rc = error_set(err, EPERM, "the device back-end was stopped by its system-call filter");
    else if (WIFEXITED(status))
        rc =
            error_set(err, EPROTO, "the device back-end ended with status %d", WEXITSTATUS(status));
    else
        rc = error_set(err, EIO, "the device back-end died of signal %d (%s)", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
out_sock:
    unlink(o->socket);
out:
    if (pidfd >= 0)
        close(pidfd);
    close_fd(&logp[0]);
    close_fd(&logp[1]);
    close_fd(&listen_fd);
    close_fd(&trace_fd);
    for (unsigned i = 0; i < a.ndisks; i++)
        disk_close(&a.disks[i]);
    return rc;
}
