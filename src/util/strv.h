/* SPDX-License-Identifier: MIT */
/*
 * strv.h: a NULL-terminated, growable vector of owned strings, shaped so that
 * `v` can be handed straight to execve().
 */
#ifndef SBVM_UTIL_STRV_H
#define SBVM_UTIL_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct strv {
    char **v; /* NULL-terminated once anything was pushed; NULL before */
    size_t n;
    size_t alloc;
};

#define STRV_INIT                                                                                  \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Copies `s`. Returns 0 or -ENOMEM. */
int strv_push(struct strv *sv, const char *s);
/* Takes ownership of `s` (which must be malloc'd); frees it on failure. */
int strv_push_owned(struct strv *sv, char *s);
int strv_copy(struct strv *dst, const struct strv *src);
/* Index of the first entry equal to s, or -1. */
long strv_find(const struct strv *sv, const char *s);
/* Same strings in the same order. */
bool strv_equal(const struct strv *a, const struct strv *b);
void strv_release(struct strv *sv);

#endif
