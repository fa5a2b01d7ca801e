/* SPDX-License-Identifier: MIT */
/*
 * trace.h: the device trace (--trace-devices): every configuration-space and
 * register access, every request with its status, every reset and fault, as
 * lines of text or of JSON (one object per line), with the time since the
 * trace began. Every function does nothing when the trace is NULL.
 */
#ifndef SBVM_DEVICES_TRACE_H
#define SBVM_DEVICES_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sandboxvm/sandboxvm.h"

struct vdev_reqinfo;

struct devtrace {
    FILE *f;
    bool json;
    bool own; /* close f at the end */
    int64_t t0;
    uint64_t lines;
};

/* Opens path for writing (a new file, or truncated); json: JSON lines. */
int trace_open(struct devtrace **out, const char *path, bool json, sbvm_error **err);
/* The same on an open stream the caller keeps. */
int trace_attach(struct devtrace **out, FILE *f, bool json);
void trace_close(struct devtrace *t);

/* An access to a configuration space or register window ("cfg", "bar0", ...). */
void trace_access(struct devtrace *t, const char *dev, const char *space, bool write, uint64_t off,
                  unsigned width, uint64_t val);
void trace_request(struct devtrace *t, const char *dev, const struct vdev_reqinfo *i);
void trace_event(struct devtrace *t, const char *dev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
