/* SPDX-License-Identifier: MIT */
/* escape.h: what the escape battery's probes share (escape.c, escape-self.c). */
#ifndef SBVM_TESTS_ESCAPE_H
#define SBVM_TESTS_ESCAPE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static inline const char *ename(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "?";
}

/* A call that must fail: r < 0 with errno e. */
static inline int must_fail(const char *name, const char *what, long r, int e)
{
    if (r < 0) {
        printf("%s: refused: %s: %s\n", name, what, ename(e));
        return 0;
    }
    printf("%s: ESCAPED: %s succeeded (returned %ld)\n", name, what, r);
    return 1;
}

#define FAIL(name, what, call)                                                                     \
    ({                                                                                             \
        errno = 0;                                                                                 \
        long r_ = (long)(call);                                                                    \
        must_fail(name, what, r_, errno);                                                          \
    })

struct probe {
    const char *name;
    const char *what;
    int (*fn)(const char *arg);
    bool killed; /* refused by killing the process (SIGSYS) */
    bool in_all; /* part of "all" */
};

/* The probes of escape-self.c: attacks on the sandbox's own machinery. */
extern const struct probe self_probes[];
extern const size_t self_probe_count;

#endif
