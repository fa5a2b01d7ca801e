/* SPDX-License-Identifier: MIT */
/*
 * sysloop.c: a syscall-bound loop for the benchmarks. Makes N getppid()
 * calls (through syscall(), so no libc caching) and prints the mean cost
 * of one call in nanoseconds, measured around the loop only: the cost of
 * starting the sandbox does not enter the figure.
 *
 *   sysloop [N]     (default 2,000,000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    struct timespec a, b;

    if (n <= 0)
        return 2;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.2f\n",
           ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n);
    return 0;
}
