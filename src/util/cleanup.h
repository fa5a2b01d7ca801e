/* SPDX-License-Identifier: MIT */
/*
 * cleanup.h: scope-bound release of memory and fds, and explicit ownership
 * transfer with steal_pointer() / steal_fd().
 */
#ifndef SBVM_UTIL_CLEANUP_H
#define SBVM_UTIL_CLEANUP_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
    free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

#define _cleanup_free_  __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_ __attribute__((cleanup(cleanup_closep)))

static inline void *steal_pointer_impl(void *pp)
{
    void **p = pp;
    void *v = *p;
    *p = NULL;
    return v;
}

/* The `0 ?` arm keeps the pointee type for the compiler's checks. */
#define steal_pointer(pp) (0 ? (*(pp)) : steal_pointer_impl(pp))

static inline int steal_fd(int *fd)
{
    int v = *fd;
    *fd = -1;
    return v;
}

/* Close an fd and mark it closed; safe on -1. */
static inline void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

#endif
