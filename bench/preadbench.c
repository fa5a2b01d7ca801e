/* SPDX-License-Identifier: MIT */
/*
 * preadbench.c: the baseline of bench/drivers.sh: pread(2) on an image from
 * one process, `qd` threads each with one read in flight, random blocks or
 * sequential stripes, for a number of seconds. Prints the line drvtest
 * bench prints, so that the two compare side by side.
 *
 *   preadbench FILE rand|seq BS QD SECONDS
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fd;
static uint64_t blocks, bs, end_ns;
static unsigned qd;
static int random_;
static _Atomic uint64_t total, lat_total, next_seq;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *worker(void *arg)
{
    uint64_t rnd = 88172645463325252ull ^ (uintptr_t)arg, n = 0, lat = 0;
    char *buf = aligned_alloc(4096, bs);

    if (!buf)
        return NULL;
    while (now_ns() < end_ns) {
        uint64_t off, t0;
        if (random_) {
            rnd ^= rnd << 13;
            rnd ^= rnd >> 7;
            rnd ^= rnd << 17;
            off = (rnd % blocks) * bs;
        } else {
            off = (atomic_fetch_add(&next_seq, 1) % blocks) * bs;
        }
        t0 = now_ns();
        if (pread(fd, buf, bs, (off_t)off) != (ssize_t)bs) {
            perror("pread");
            exit(1);
        }
        lat += now_ns() - t0;
        n++;
    }
    atomic_fetch_add(&total, n);
    atomic_fetch_add(&lat_total, lat);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t th[256];
    double secs;
    uint64_t t0;
    off_t size;

    if (argc != 6) {
        fprintf(stderr, "usage: preadbench FILE rand|seq BS QD SECONDS\n");
        return 2;
    }
    fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    random_ = strcmp(argv[2], "rand") == 0;
    bs = strtoull(argv[3], NULL, 10);
    qd = (unsigned)atoi(argv[4]);
    if (!bs || !qd || qd > 256)
        return 2;
    size = lseek(fd, 0, SEEK_END);
    blocks = (uint64_t)size / bs;
    t0 = now_ns();
    end_ns = t0 + (uint64_t)(atof(argv[5]) * 1e9);
    for (unsigned i = 0; i < qd; i++)
        pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    for (unsigned i = 0; i < qd; i++)
        pthread_join(th[i], NULL);
    secs = (double)(now_ns() - t0) / 1e9;
    printf("bench pread %s bs=%llu qd=%u: %llu requests in %.2f s: %.0f IOPS, %.1f MB/s, mean "
           "latency %.1f us\n",
           argv[2], (unsigned long long)bs, qd, (unsigned long long)total, secs,
           (double)total / secs, (double)total * (double)bs / secs / 1e6,
           total ? (double)lat_total / (double)total / 1e3 : 0.0);
    return 0;
}
