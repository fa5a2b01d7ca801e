/* SPDX-License-Identifier: MIT */
/*
 * worker.c: the library worker, a small program that runs in a sandbox,
 * loads one untrusted library and calls its functions for the host.
 *
 *   sbvm-worker serve LIBRARY     (fd 3: its host channel, SBVM_CHANNEL=3)
 *   sbvm-worker zygote LIBRARY    (fd 3: a socket on which the host sends
 *                                   a new worker's channel; it forks one)
 *
 * It is embedded in the host library and run from a sealed memfd, like the
 * sandbox's init. It loads the library (its constructors run here, never in
 * the host), installs a filter stricter than the sandbox's (filter.c), says
 * READY, then serves requests (proto.h) until its host goes away. It
 * trusts its host and nothing else; the host trusts nothing it says. A
 * crash here is the point: the sandbox's init captures it for the host.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calls/proto.h"
#include "calls/worker/worker.h"
#include "sandboxvm/guest.h"

/* Every function is called as if it took six integers, eight doubles and
 * eight more stack words, variadically: the registers and stack slots are
 * what a call with its real arguments uses whatever its prototype (the
 * host put each argument in its class's next place, in order), extra ones
 * are ignored, and %al (the vector register count a variadic callee reads)
 * is set. */
typedef uint64_t (*int_fn)(uint64_t, ...);
typedef double (*fp_fn)(uint64_t, ...);

static struct {
    void *lib;
    void *syms[CALLS_SYMS_MAX];
    uint8_t *arena;
    uint64_t arena_off, arena_size;
} W;

static union {
    struct calls_call call;
    struct calls_req req;
    unsigned char bytes[CALLS_MSG_MAX];
} in;

static int reply(uint32_t op, uint32_t seq, int32_t status, uint64_t a, uint64_t b,
                 const char *text)
{
    static unsigned char out[sizeof(struct calls_rep) + CALLS_TEXT_MAX];
    struct calls_rep r = { .op = op, .seq = seq, .status = status, .a = a, .b = b };
    size_t len = text ? strnlen(text, CALLS_TEXT_MAX) : 0;

    r.len = (uint32_t)len;
    memcpy(out, &r, sizeof(r));
    if (len)
        memcpy(out + sizeof(r), text, len);
    return sbvm_ring_push(CALLS_RING_REP, out, sizeof(r) + len, 0, 0);
}

/* The arena bytes [off, off + len), or NULL. */
static uint8_t *arena_at(uint64_t off, uint64_t len)
{
    if (!W.arena || off > W.arena_size || len > W.arena_size - off)
        return NULL;
    return W.arena + off;
}

static int do_call(long n)
{
    const struct calls_call *c = &in.call;
    uint64_t ia[CALLS_INT_ARGS] = { 0 }, st[CALLS_STACK_ARGS] = { 0 }, rax = 0, xmm = 0;
    double da[CALLS_FP_ARGS] = { 0 };
    unsigned ni = 0, nd = 0, ns = 0;
    void *fn;

    if (n < (long)offsetof(struct calls_call, args) || c->nargs > CALLS_ARGS_MAX ||
        (size_t)n != offsetof(struct calls_call, args) + c->nargs * sizeof(struct calls_arg))
        return reply(OP_CALL, c->seq, -EINVAL, 0, 0, "malformed call");
    if (c->sym >= CALLS_SYMS_MAX || !(fn = W.syms[c->sym]))
        return reply(OP_CALL, c->seq, -ENOENT, 0, 0, "no such symbol");
    for (unsigned i = 0; i < c->nargs; i++) {
        const struct calls_arg *a = &c->args[i];
        uint8_t *p;

        switch (a->kind) {
        case ARG_FP:
            if (nd < CALLS_FP_ARGS) {
                memcpy(&da[nd++], &a->a, sizeof(double));
                continue;
            }
            if (ns == CALLS_STACK_ARGS)
                return reply(OP_CALL, c->seq, -EINVAL, 0, 0, "too many arguments");
            st[ns++] = a->a;
            continue;
        case ARG_INT:
        case ARG_PTR:
            p = (uint8_t *)(uintptr_t)a->a;
            break;
        case ARG_BUF:
        case ARG_BUF_OUT:
            if (!(p = arena_at(a->a, a->b)))
                return reply(OP_CALL, c->seq, -EFAULT, 0, 0, "buffer outside the arena");
            if (a->kind == ARG_BUF_OUT)
                memset(p, 0, a->b);
            break;
        default:
            return reply(OP_CALL, c->seq, -EINVAL, 0, 0, "unknown argument kind");
        }
        if (ni < CALLS_INT_ARGS)
            ia[ni++] = (uint64_t)(uintptr_t)p;
        else if (ns < CALLS_STACK_ARGS)
            st[ns++] = (uint64_t)(uintptr_t)p;
        else
            return reply(OP_CALL, c->seq, -EINVAL, 0, 0, "too many arguments");
    }
    if (c->ret == RET_XMM0) {
        double d = ((fp_fn)fn)(ia[0], ia[1], ia[2], ia[3], ia[4], ia[5], da[0], da[1], da[2], da[3],
                               da[4], da[5], da[6], da[7], st[0], st[1], st[2], st[3], st[4], st[5],
                               st[6], st[7]);
        memcpy(&xmm, &d, sizeof(xmm));
    } else {
        rax = ((int_fn)fn)(ia[0], ia[1], ia[2], ia[3], ia[4], ia[5], da[0], da[1], da[2], da[3],
                           da[4], da[5], da[6], da[7], st[0], st[1], st[2], st[3], st[4], st[5],
                           st[6], st[7]);
    }
    return reply(OP_CALL, c->seq, 0, rax, xmm, NULL);
}

static int do_sym(long n)
{
    const struct calls_req *q = &in.req;
    char name[CALLS_SYM_NAME_MAX + 1];
    void *p;

    if (q->a >= CALLS_SYMS_MAX || q->b == 0 || q->b > CALLS_SYM_NAME_MAX ||
        (uint64_t)n != sizeof(*q) + q->b)
        return reply(OP_SYM, q->seq, -EINVAL, 0, 0, "malformed symbol request");
    memcpy(name, in.bytes + sizeof(*q), q->b);
    name[q->b] = '\0';
    dlerror();
    p = dlsym(W.lib, name);
    if (!p) {
        const char *e = dlerror();
        return reply(OP_SYM, q->seq, -ENOENT, 0, 0, e ? e : "no such symbol");
    }
    W.syms[q->a] = p;
    return reply(OP_SYM, q->seq, 0, 0, 0, NULL);
}

static int do_arena(const struct calls_req *q)
{
    uint64_t off = 0;
    uint8_t *p = sbvm_region_alloc(q->a, &off);

    if (!p)
        return reply(OP_ARENA, q->seq, -errno, 0, 0, NULL);
    /* The old arena's pages go back to the system; the window keeps its
     * place (regions are never reused). */
    if (W.arena)
        madvise(W.arena, W.arena_size, MADV_REMOVE);
    W.arena = p;
    W.arena_off = off;
    W.arena_size = q->a;
    return reply(OP_ARENA, q->seq, 0, off, q->a, NULL);
}

static int serve_one(long n)
{
    const struct calls_req *q = &in.req;
    uint8_t *p;
    void *m;

    if (n < (long)sizeof(uint32_t) * 2)
        return -EPROTO;
    if (q->op == OP_CALL)
        return do_call(n);
    if (q->op == OP_SYM)
        return do_sym(n);
    if (n != (long)sizeof(*q))
        return reply(q->op, q->seq, -EINVAL, 0, 0, "malformed request");
    switch (q->op) {
    case OP_ARENA:
        return do_arena(q);
    case OP_ALLOC:
        m = q->a ? calloc(1, q->a) : NULL;
        return reply(OP_ALLOC, q->seq, m ? 0 : -ENOMEM, (uint64_t)(uintptr_t)m, 0, NULL);
    case OP_FREE:
        free((void *)(uintptr_t)q->a);
        return reply(OP_FREE, q->seq, 0, 0, 0, NULL);
    case OP_READ:
        if (!(p = arena_at(q->c, q->b)))
            return reply(OP_READ, q->seq, -EFAULT, 0, 0, NULL);
        memcpy(p, (const void *)(uintptr_t)q->a, q->b);
        return reply(OP_READ, q->seq, 0, 0, 0, NULL);
    case OP_WRITE:
        if (!(p = arena_at(q->c, q->b)))
            return reply(OP_WRITE, q->seq, -EFAULT, 0, 0, NULL);
        memcpy((void *)(uintptr_t)q->a, p, q->b);
        return reply(OP_WRITE, q->seq, 0, 0, 0, NULL);
    case OP_POKE:
        memcpy((void *)(uintptr_t)q->a, &q->b, sizeof(q->b));
        return reply(OP_POKE, q->seq, 0, 0, 0, NULL);
    }
    return reply(q->op, q->seq, -ENOSYS, 0, 0, "unknown request");
}

/* Serves requests until the host goes away. */
static _Noreturn void serve(void)
{
    for (;;) {
        long n = sbvm_ring_pop(CALLS_RING_REQ, in.bytes, sizeof(in.bytes), NULL, 0);
        if (n < 0 || serve_one(n) < 0)
            _exit(0); /* the host closed the channel or is gone */
    }
}

/* Connects to the host channel at fd, opens the rings; 0 or -errno. */
static int attach(int fd)
{
    int r = fd >= 0 ? sbvm_hello_fd(fd, SBVM_ABI_VERSION) : sbvm_hello(SBVM_ABI_VERSION);

    if (r == 0 && (r = sbvm_ring_open(CALLS_RING_REQ)) >= 0)
        r = sbvm_ring_open(CALLS_RING_REP);
    return r < 0 ? r : 0;
}

/* A worker: filter, READY, serve. */
static _Noreturn void become_worker(void)
{
    int r = worker_filter(false);
    char text[64];

    if (r < 0) {
        snprintf(text, sizeof(text), "installing the worker's filter: %s", strerror(-r));
        reply(OP_READY, 0, r, (uint64_t)getpid(), 0, text);
        _exit(1);
    }
    reply(OP_READY, 0, 0, (uint64_t)getpid(), 0, NULL);
    serve();
}

/* Loads the library; on failure tells the host (when connected) why. */
static void load(const char *path, bool connected)
{
    const char *e;

    W.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (W.lib)
        return;
    e = dlerror();
    if (connected)
        reply(OP_READY, 0, -ENOENT, (uint64_t)getpid(), 0, e ? e : "dlopen failed");
    else
        fprintf(stderr, "sbvm-worker: %s\n", e ? e : "dlopen failed");
    _exit(1);
}

/* ---- the zygote ------------------------------------------------------------- */

#define ZFD 3

static volatile sig_atomic_t child_ended;

static void on_sigchld(int sig)
{
    (void)sig;
    child_ended = 1;
}

static void zsend(uint32_t op, uint32_t seq, int32_t a, int32_t b, const char *text)
{
    unsigned char buf[sizeof(struct calls_zmsg) + CALLS_TEXT_MAX];
    struct calls_zmsg m = { .op = op, .seq = seq, .a = a, .b = b };
    size_t len = text ? strnlen(text, CALLS_TEXT_MAX) : 0;

    memcpy(buf, &m, sizeof(m));
    if (len)
        memcpy(buf + sizeof(m), text, len);
    while (send(ZFD, buf, sizeof(m) + len, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

/* A new worker's channel, with its request; -1 when the host is gone. */
static int zrecv(struct calls_zmsg *m, int *fd)
{
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = { m, sizeof(*m) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n;

    *fd = -1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof(u.buf);
    n = recvmsg(ZFD, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && i < k;
             i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd < 0)
                *fd = f;
            else
                close(f);
        }
    }
    return n == (ssize_t)sizeof(*m) ? 1 : 0;
}

/* Forks a worker on the channel at fd: its pid, or -errno. */
static int zfork(int fd)
{
    sigset_t none;
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid > 0)
        return (int)pid;
    /* The worker: nothing of the zygote's but the library. */
    close(ZFD);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (attach(fd) < 0)
        _exit(1);
    become_worker();
}

/* Loads the library once, then forks a worker for each channel it is sent
 * and reports each one's end, until the host goes away. */
static _Noreturn void zygote(const char *path)
{
    struct sigaction sa = { .sa_handler = on_sigchld };
    sigset_t chld, none;
    const char *e;
    int r;

    W.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!W.lib) {
        e = dlerror();
        zsend(ZOP_READY, 0, -ENOENT, 0, e ? e : "dlopen failed");
        _exit(1);
    }
    if ((r = worker_filter(true)) < 0) {
        zsend(ZOP_READY, 0, r, 0, "installing the zygote's filter failed");
        _exit(1);
    }
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigemptyset(&none);
    sigaction(SIGCHLD, &sa, NULL);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    zsend(ZOP_READY, 0, 0, (int32_t)getpid(), NULL);
    for (;;) {
        struct pollfd p = { .fd = ZFD, .events = POLLIN };
        struct calls_zmsg m;
        int st, fd;
        pid_t pid;

        while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
            zsend(ZOP_EXIT, 0, (int32_t)pid, st, NULL);
        child_ended = 0;
        if (ppoll(&p, 1, NULL, &none) < 0 && errno != EINTR)
            _exit(1);
        if (p.revents & POLLIN) {
            r = zrecv(&m, &fd);
            if (r < 0)
                _exit(0); /* the host is gone */
            if (r == 0 || m.op != ZOP_FORK || fd < 0) {
                if (fd >= 0)
                    close(fd);
                continue;
            }
            r = zfork(fd);
            close(fd);
            zsend(ZOP_FORKED, m.seq, r, 0, NULL);
        } else if (p.revents & (POLLHUP | POLLERR)) {
            _exit(0);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sbvm-worker serve|zygote LIBRARY\n");
        return 2;
    }
    if (!strcmp(argv[1], "serve")) {
        int r = attach(-1);
        if (r < 0) {
            fprintf(stderr, "sbvm-worker: the host channel: %s\n", sbvm_strerror(r));
            return 1;
        }
        load(argv[2], true);
        become_worker();
    }
    if (!strcmp(argv[1], "zygote"))
        zygote(argv[2]);
    fprintf(stderr, "sbvm-worker: unknown mode '%s'\n", argv[1]);
    return 2;
}
