/* SPDX-License-Identifier: MIT */
/*
 * stream-guest.c: a guest that streams bytes through a ring to the host
 * (1 GiB in 64 KiB messages unless told otherwise), then tells the host
 * the checksum it computed so that the host can compare with its own.
 *
 *   stream-guest [BYTES [MESSAGE-BYTES]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel-demo.h"
#include "sandboxvm/guest.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 0) : (UINT64_C(1) << 30);
    size_t msg = argc > 2 ? strtoul(argv[2], NULL, 0) : 64 << 10;
    struct demo_stream_end end = { 0, DEMO_CHECKSUM_INIT };
    uint64_t x = 88172645463325252ull;
    uint8_t *buf;
    int32_t res = -1;
    double t0;
    int r, ring;

    if (msg < 8 || msg > (1 << 20) || msg % 8) {
        fprintf(stderr, "stream-guest: MESSAGE-BYTES must be a multiple of 8, 8..1048576\n");
        return 2;
    }
    r = sbvm_hello(SBVM_ABI_VERSION);
    if (r < 0) {
        fprintf(stderr, "stream-guest: %s\n", sbvm_strerror(r));
        return 1;
    }
    ring = sbvm_ring_negotiate(SBVM_RING_TO_HOST, msg * 16 < (1 << 20) ? 1 << 20 : msg * 16, msg);
    if (ring < 0) {
        fprintf(stderr, "stream-guest: no ring: %s\n", sbvm_strerror(ring));
        return 1;
    }
    buf = malloc(msg);
    if (!buf)
        return 1;
    for (size_t i = 0; i < msg; i += 8) { /* xorshift64 */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(buf + i, &x, 8);
    }
    t0 = now();
    for (uint64_t seq = 0; end.bytes < total; seq++) {
        size_t len = total - end.bytes < msg ? (size_t)(total - end.bytes) & ~(size_t)7 : msg;
        if (len == 0)
            break;
        memcpy(buf, &seq, sizeof(seq)); /* every message differs */
        end.checksum = demo_checksum(end.checksum, buf, len);
        if ((r = sbvm_ring_push(ring, buf, len, 0, 0)) < 0) {
            fprintf(stderr, "stream-guest: push: %s\n", sbvm_strerror(r));
            return 1;
        }
        end.bytes += len;
    }
    r = sbvm_hostcall(DEMO_STREAM_END, &end, sizeof(end), NULL, 0, NULL, &res);
    printf("stream-guest: sent %llu bytes in %zu-byte messages in %.3f s; host says %s\n",
           (unsigned long long)end.bytes, msg, now() - t0,
           r < 0      ? sbvm_strerror(r)
           : res == 0 ? "checksum matches"
                      : "checksum DIFFERS");
    free(buf);
    return r == 0 && res == 0 ? 0 : 1;
}
