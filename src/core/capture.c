/* SPDX-License-Identifier: MIT */
/* capture.c: bounded head + tail record of an output stream. */
#include "core/capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void capture_init(struct capture *c, size_t limit)
{
    memset(c, 0, sizeof(*c));
    c->limit = limit;
    c->head_cap = limit / 4;
    c->ring_cap = limit - c->head_cap;
}

/* Buffers are allocated on first use so that silent guests cost nothing. */
static int ensure(char **buf, size_t cap)
{
    if (*buf || cap == 0)
        return 0;
    *buf = malloc(cap);
    return *buf ? 0 : -ENOMEM;
}

void capture_add(struct capture *c, const void *data, size_t len)
{
    const char *p = data;

    c->total += len;
    if (c->failed || c->limit == 0)
        return;
    if (c->head_len < c->head_cap) {
        size_t n = c->head_cap - c->head_len;
        if (n > len)
            n = len;
        if (ensure(&c->head, c->head_cap) < 0) {
            c->failed = 1;
            return;
        }
        memcpy(c->head + c->head_len, p, n);
        c->head_len += n;
        p += n;
        len -= n;
    }
    if (len == 0 || c->ring_cap == 0)
        return;
    if (ensure(&c->ring, c->ring_cap) < 0) {
        c->failed = 1;
        return;
    }
    if (len >= c->ring_cap) {
        /* Only the newest ring_cap bytes can survive. */
        memcpy(c->ring, p + len - c->ring_cap, c->ring_cap);
        c->ring_start = 0;
        c->ring_len = c->ring_cap;
        return;
    }
    while (len > 0) {
        size_t end = (c->ring_start + c->ring_len) % c->ring_cap;
        size_t room = c->ring_cap - end;
        size_t n = len < room ? len : room;

        memcpy(c->ring + end, p, n);
        p += n;
        len -= n;
        c->ring_len += n;
        if (c->ring_len > c->ring_cap) {
            c->ring_start = (c->ring_start + (c->ring_len - c->ring_cap)) % c->ring_cap;
            c->ring_len = c->ring_cap;
        }
    }
}

int capture_finish(struct capture *c, char **out, size_t *len, size_t *head_len, uint64_t *omitted)
{
    size_t n = c->head_len + c->ring_len;
    char *buf;

    *out = NULL;
    *len = 0;
    *head_len = c->head_len;
    *omitted = c->total - n;
    if (n == 0)
        return 0;
    buf = malloc(n);
    if (!buf)
        return -ENOMEM;
    if (c->head_len)
        memcpy(buf, c->head, c->head_len);
    if (c->ring_len) {
        size_t first = c->ring_cap - c->ring_start;
        if (first > c->ring_len)
            first = c->ring_len;
        memcpy(buf + c->head_len, c->ring + c->ring_start, first);
        memcpy(buf + c->head_len + first, c->ring, c->ring_len - first);
    }
    *out = buf;
    *len = n;
    return 0;
}

void capture_release(struct capture *c)
{
    free(c->head);
    free(c->ring);
    capture_init(c, c->limit);
}

/* The byte at logical position i of the kept bytes (head, then ring). */
static char kept_at(const struct capture *c, size_t i)
{
    if (i < c->head_len)
        return c->head[i];
    i -= c->head_len;
    return c->ring[(c->ring_start + i) % c->ring_cap];
}

void capture_last_line(const struct capture *c, char *buf, size_t size)
{
    size_t n = c->head_len + c->ring_len, end, start, k = 0;

    buf[0] = '\0';
    if (size == 0)
        return;
    end = n;
    while (end > 0 && (kept_at(c, end - 1) == '\n' || kept_at(c, end - 1) == '\r'))
        end--;
    start = end;
    while (start > 0 && kept_at(c, start - 1) != '\n')
        start--;
    if (end - start > size - 1)
        start = end - (size - 1);
    for (size_t i = start; i < end; i++) {
        char ch = kept_at(c, i);
        buf[k++] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
    }
    buf[k] = '\0';
}
