/* SPDX-License-Identifier: MIT */
/*
 * loop.h: the one event loop every client of the library runs on: the batch
 * runner, live sandboxes and their jobs, and later the session server, the
 * host channel's doorbells and device queues.
 *
 * Sources are owned by whoever registers them (a struct embedded in their
 * object): an fd watched for epoll events, or a timer that fires once at a
 * monotonic deadline (re-arm it for periodic work). Callbacks run on the
 * thread inside loop_run(); they may add, change or remove any source,
 * themselves included. A source must be removed before its memory goes.
 *
 * Not thread-safe, except loop_wake(), which any thread may call to make the
 * running loop_run() return early.
 */
#ifndef SBVM_CORE_LOOP_H
#define SBVM_CORE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/sandboxvm.h"

struct loop;
struct loop_fd;
struct loop_timer;

typedef void (*loop_fd_fn)(struct loop_fd *src, uint32_t events, void *ctx);
typedef void (*loop_timer_fn)(struct loop_timer *t, void *ctx);

struct loop_fd {
    struct loop *loop; /* set while registered */
    int fd;
    uint32_t events;
    loop_fd_fn fn;
    void *ctx;
};

struct loop_timer {
    struct loop *loop; /* set while armed */
    int64_t when_ns;   /* CLOCK_MONOTONIC */
    size_t slot;       /* its place in the loop's heap */
    loop_timer_fn fn;
    void *ctx;
};

/* 0, or -errno (epoll or eventfd could not be made). */
int loop_new(struct loop **out, sbvm_error **err);
/* Sources still registered are forgotten, not called. */
void loop_free(struct loop *l);

/* Watches fd for `events` (EPOLLIN, EPOLLOUT ...); 0 or -errno. */
int loop_fd_add(struct loop *l, struct loop_fd *s, int fd, uint32_t events, loop_fd_fn fn,
                void *ctx);
/* New events for a registered source; 0 or -errno. */
int loop_fd_mod(struct loop_fd *s, uint32_t events);
/* Stops watching (a no-op for a source not registered). The fd is not closed. */
void loop_fd_del(struct loop_fd *s);
static inline bool loop_fd_armed(const struct loop_fd *s)
{
    return s->loop != NULL;
}

/* Fires once, `delay_ns` from now (re-arming moves it). 0 or -ENOMEM. */
int loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t delay_ns, loop_timer_fn fn,
                   void *ctx);
void loop_timer_cancel(struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t)
{
    return t->loop != NULL;
}

/*
 * Waits up to timeout_ms (-1: no limit; 0: just look) for fds and timers,
 * and runs the callbacks of what is ready. The number of callbacks run, or
 * -errno when epoll failed (EINTR is not a failure: 0).
 */
int loop_run(struct loop *l, int timeout_ms);
/* Makes a loop_run() in progress, or the next one, return at once. */
void loop_wake(struct loop *l);
/* The epoll fd: readable when something is ready, to embed the loop in
 * another one. */
int loop_fd(const struct loop *l);
/* Milliseconds until its next timer is due (0: now), or -1 when none is
 * armed: what an embedding loop waits at most, besides loop_fd(). */
int loop_timeout_ms(const struct loop *l);
/* How many fd sources and armed timers are registered. */
size_t loop_count(const struct loop *l);

#endif
