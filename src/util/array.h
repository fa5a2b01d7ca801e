/* SPDX-License-Identifier: MIT */
/*
 * array.h: growing a malloc'd array, in one place. ARRAY_GROW(v, need,
 * &alloc) makes `v` (any T *) hold at least `need` elements, doubling its
 * capacity (at least 8), every size overflow-checked; 0, or -ENOMEM with `v`
 * and `alloc` untouched.
 */
#ifndef SBVM_UTIL_ARRAY_H
#define SBVM_UTIL_ARRAY_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The capacity to grow to from `alloc` for `need` elements of `elem`
 * bytes: `alloc` when it is enough, 0 when no capacity would fit. */
static inline size_t array_next_alloc(size_t elem, size_t need, size_t alloc)
{
    size_t n = alloc ? alloc : 8;

    if (need <= alloc)
        return alloc;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return 0;
        n *= 2;
    }
    return elem && n > SIZE_MAX / elem ? 0 : n;
}

#define ARRAY_GROW(v, need, allocp)                                                                \
    ({                                                                                             \
        size_t n_ = array_next_alloc(sizeof(*(v)), (need), *(allocp));                             \
        int r_ = 0;                                                                                \
        if (n_ == 0) {                                                                             \
            r_ = -ENOMEM;                                                                          \
        } else if (n_ != *(allocp)) {                                                              \
            void *p_ = realloc((v), n_ * sizeof(*(v)));                                            \
            if (p_) {                                                                              \
                (v) = p_;                                                                          \
                *(allocp) = n_;                                                                    \
            } else {                                                                               \
                r_ = -ENOMEM;                                                                      \
            }                                                                                      \
        }                                                                                          \
        r_;                                                                                        \
    })

#endif
