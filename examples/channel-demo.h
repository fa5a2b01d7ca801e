/* SPDX-License-Identifier: MIT */
/*
 * channel-demo.h: what the channel examples' host and guests agree on: the
 * ids of the host functions channel-host registers, and the stream
 * checksum both sides compute.
 */
#ifndef SBVM_EXAMPLES_CHANNEL_DEMO_H
#define SBVM_EXAMPLES_CHANNEL_DEMO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    DEMO_SUM = 256,        /* in: uint32_t[n]; result: their sum */
    DEMO_UPPER = 257,      /* in: text; out: the same in upper case */
    DEMO_STREAM_END = 258, /* in: struct demo_stream_end; result: 0 when it matches */
};

struct demo_stream_end {
    uint64_t bytes, checksum;
};

/* FNV-1a over 64-bit words: fast enough not to hide the channel's speed;
 * messages are multiples of 8 bytes. */
static inline uint64_t demo_checksum(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * UINT64_C(0x100000001b3);
    }
    return h;
}

#define DEMO_CHECKSUM_INIT UINT64_C(0xcbf29ce484222325)

#endif
