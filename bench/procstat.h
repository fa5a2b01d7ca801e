/* SPDX-License-Identifier: MIT */
/*
 * procstat.h: what the benchmarks read of a process from /proc: a "Key:"
 * line's number (KiB) of a status or smaps_rollup file, and this process's
 * open descriptors.
 */
#ifndef SBVM_BENCH_PROCSTAT_H
#define SBVM_BENCH_PROCSTAT_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number after `key` (e.g. "VmRSS:") in the file at path, or -1. */
static inline long status_kb(const char *path, const char *key)
{
    char line[256];
    long v = -1;
    FILE *f = fopen(path, "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, strlen(key)))
            v = strtol(line + strlen(key), NULL, 10);
    fclose(f);
    return v;
}

/* This process's open descriptors (not counting the one that lists them). */
static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

#endif
