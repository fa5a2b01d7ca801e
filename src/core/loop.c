/* SPDX-License-Identifier: MIT */
/* loop.c: see loop.h. epoll for fds, a binary heap of deadlines for timers. */
#include "core/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/array.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

#define EVENTS_MAX 64

struct loop {
    int epfd;
    int wakefd;
    size_t nfds;
    struct loop_timer **heap; /* earliest first */
    size_t nheap, heap_alloc;
    /* The events of the round being dispatched: a source removed by one
     * callback has its pending events struck out here, since its memory
     * may be gone before they would run. */
    struct epoll_event batch[EVENTS_MAX];
    int nbatch, next;
};

/* Marks the round's events of a source as gone (data.ptr = the loop). */
static void strike(struct loop *l, const struct loop_fd *s)
{
    for (int k = l->next; k < l->nbatch; k++)
        if (l->batch[k].data.ptr == s)
            l->batch[k].data.ptr = l;
}

int loop_new(struct loop **out, sbvm_error **err)
{
    struct loop *l = calloc(1, sizeof(*l));
    struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };

    *out = NULL;
    if (!l)
        return error_set(err, ENOMEM, "out of memory");
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->epfd < 0 || l->wakefd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &e) < 0) {
        int r = error_sys(err, errno, "creating the event loop");
        loop_free(l);
        return r;
    }
    *out = l;
    return 0;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nheap; i++)
        l->heap[i]->loop = NULL;
    free(l->heap);
    close_fd(&l->wakefd);
    close_fd(&l->epfd);
    free(l);
}

int loop_fd_add(struct loop *l, struct loop_fd *s, int fd, uint32_t events, loop_fd_fn fn,
                void *ctx)
{
    struct epoll_event e = { .events = events, .data.ptr = s };

    if (s->loop)
        return -EBUSY;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
        return -errno;
    s->loop = l;
    s->fd = fd;
    s->events = events;
    s->fn = fn;
    s->ctx = ctx;
    l->nfds++;
    return 0;
}

int loop_fd_mod(struct loop_fd *s, uint32_t events)
{
    struct epoll_event e = { .events = events, .data.ptr = s };

    if (!s->loop)
        return -ENOENT;
    if (s->events == events)
        return 0;
    if (epoll_ctl(s->loop->epfd, EPOLL_CTL_MOD, s->fd, &e) < 0)
        return -errno;
    s->events = events;
    return 0;
}

void loop_fd_del(struct loop_fd *s)
{
    if (!s->loop)
        return;
    /* The fd may be closed already (EBADF) or be another file now: either
     * way epoll forgot it or forgets it here. */
    (void)epoll_ctl(s->loop->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->loop->nfds--;
    strike(s->loop, s);
    s->loop = NULL;
}

/* ---- timers: a binary min-heap on when_ns -------------------------------- */

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
    l->heap[i] = t;
    t->slot = i;
}

static void heap_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->when_ns <= t->when_ns)
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && l->heap[c + 1]->when_ns < l->heap[c]->when_ns)
            c++;
        if (t->when_ns <= l->heap[c]->when_ns)
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

static void heap_remove(struct loop *l, size_t i)
{
    struct loop_timer *last = l->heap[--l->nheap];

    if (i == l->nheap)
        return;
    heap_set(l, i, last);
    heap_down(l, i);
    heap_up(l, last->slot);
}

int loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t delay_ns, loop_timer_fn fn,
                   void *ctx)
{
    if (t->loop && t->loop != l)
        return -EBUSY;
    if (delay_ns < 0)
        delay_ns = 0;
    t->fn = fn;
    t->ctx = ctx;
    t->when_ns = now_mono_ns() + delay_ns;
    if (t->loop) {
        heap_down(l, t->slot);
        heap_up(l, t->slot);
        return 0;
    }
    if (ARRAY_GROW(l->heap, l->nheap + 1, &l->heap_alloc) < 0)
        return -ENOMEM;
    t->loop = l;
    l->heap[l->nheap] = t;
    t->slot = l->nheap++;
    heap_up(l, t->slot);
    return 0;
}

void loop_timer_cancel(struct loop_timer *t)
{
    if (!t->loop)
        return;
    heap_remove(t->loop, t->slot);
    t->loop = NULL;
}

/* Runs the timers that are due; how many. */
static int run_timers(struct loop *l)
{
    int64_t now = now_mono_ns();
    int n = 0;

    while (l->nheap > 0 && l->heap[0]->when_ns <= now) {
        struct loop_timer *t = l->heap[0];
        heap_remove(l, 0);
        t->loop = NULL;
        t->fn(t, t->ctx);
        n++;
    }
    return n;
}

int loop_run(struct loop *l, int timeout_ms)
{
    int n, ran;

    if (l->nbatch)
        return -EBUSY; /* called from one of its own callbacks */
    if (l->nheap > 0) {
        int64_t left = l->heap[0]->when_ns - now_mono_ns();
        int ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
        if (timeout_ms < 0 || ms < timeout_ms)
            timeout_ms = ms;
    }
    n = epoll_wait(l->epfd, l->batch, EVENTS_MAX, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    ran = run_timers(l);
    l->nbatch = n;
    for (l->next = 0; l->next < l->nbatch;) {
        struct epoll_event *e = &l->batch[l->next++];
        struct loop_fd *s = e->data.ptr;

        if ((void *)s == (void *)l)
            continue; /* removed during this round */
        if (!s) {
            uint64_t v;
            (void)!read(l->wakefd, &v, sizeof(v));
            continue;
        }
        s->fn(s, e->events, s->ctx);
        ran++;
    }
    l->nbatch = l->next = 0;
    return ran;
}

void loop_wake(struct loop *l)
{
    uint64_t one = 1;
    (void)!write(l->wakefd, &one, sizeof(one));
}

int loop_timeout_ms(const struct loop *l)
{
    int64_t left;

    if (l->nheap == 0)
        return -1;
    left = l->heap[0]->when_ns - now_mono_ns();
    if (left <= 0)
        return 0;
    /* Rounded up: woken a little late, never early (an early wake-up
     * finds nothing due and sleeps again for a few µs). */
    left = (left + 999999) / 1000000;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

int loop_fd(const struct loop *l)
{
    return l->epfd;
}

size_t loop_count(const struct loop *l)
{
    return l->nfds + l->nheap;
}
