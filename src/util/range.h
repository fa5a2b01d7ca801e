/* SPDX-License-Identifier: MIT */
/*
 * range.h: one check for an offset and a length that come from the less
 * trusted side (a guest's window, a record, a device's descriptor), before
 * either is used: both ends must lie inside an area of `size` bytes, with
 * no overflow on the way (Solo5's HVT_CHECKED_GPA_P is the model).
 */
#ifndef SBVM_UTIL_RANGE_H
#define SBVM_UTIL_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether [off, off + len) lies within [0, size). A zero length at
 * off == size is inside. */
static inline bool range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* A pointer to [off, off + len) of base (size bytes), or NULL when that
 * range is not entirely inside. */
static inline void *range_ptr(void *base, uint64_t size, uint64_t off, uint64_t len)
{
    return range_ok(off, len, size) ? (char *)base + off : NULL;
}

#endif
