/* SPDX-License-Identifier: MIT */
/*
 * capture.h: a bounded record of one output stream for reports.
 *
 * Keeps the first quarter of the limit verbatim and the most recent three
 * quarters in a ring, counting everything in between. Memory never exceeds
 * the limit, whatever the guest writes.
 */
#ifndef SBVM_CORE_CAPTURE_H
#define SBVM_CORE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct capture {
    size_t limit;
    char *head;
    size_t head_cap, head_len;
    char *ring;
    size_t ring_cap, ring_start, ring_len;
    uint64_t total;
    int failed; /* allocation failed: only counting */
};

void capture_init(struct capture *c, size_t limit);
void capture_add(struct capture *c, const void *data, size_t len);
/* Produces the kept bytes in order (head, then the ring unrolled) as one
 * malloc'd buffer; *omitted is total minus what was kept. Returns 0 or
 * -ENOMEM. An empty capture yields *out = NULL, *len = 0. */
int capture_finish(struct capture *c, char **out, size_t *len, size_t *head_len, uint64_t *omitted);
void capture_release(struct capture *c);
/* The last non-empty line kept (without its newline), printable ASCII only
 * (other bytes become '?'); "" when none. */
void capture_last_line(const struct capture *c, char *buf, size_t size);

#endif
