/* SPDX-License-Identifier: MIT */
/* procscan.c: see procscan.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/process/procscan.h"
#include "util/util.h"

/* The sandbox's /proc, resolved inside its root. */
static DIR *open_proc(int rootfd)
{
    int fd =
        openat2_at(rootfd, "proc", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    DIR *d;

    if (fd < 0)
        return NULL;
    d = fdopendir(fd);
    if (!d)
        close(fd);
    return d;
}

/* The pid an entry of /proc names, or 0. */
static long entry_pid(const struct dirent *e)
{
    char *end;
    long pid;

    if (e->d_name[0] < '1' || e->d_name[0] > '9')
        return 0;
    pid = strtol(e->d_name, &end, 10);
    return *end ? 0 : pid;
}

uint64_t procscan_count(int rootfd)
{
    DIR *d = open_proc(rootfd);
    struct dirent *e;
    uint64_t n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        n += entry_pid(e) > 0;
    closedir(d);
    return n;
}

uint64_t procscan_max_fds(int rootfd)
{
    DIR *d = open_proc(rootfd);
    struct dirent *e;
    uint64_t best = 0;

    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char path[32];
        long pid = entry_pid(e);
        uint64_t n = 0;
        int fdir;
        DIR *fd;

        if (pid <= 1)
            continue;
        snprintf(path, sizeof(path), "%ld/fd", pid);
        fdir = openat(dirfd(d), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fdir < 0 || !(fd = fdopendir(fdir))) {
            if (fdir >= 0)
                close(fdir);
            continue;
        }
        while (readdir(fd))
            n++;
        closedir(fd);
        n = n >= 2 ? n - 2 : 0; /* . and .. */
        if (n > best)
            best = n;
    }
    closedir(d);
    return best;
}

bool procscan_stat_fields(const char *text, int first, int last, uint64_t *out)
{
    /* "pid (comm) state ppid ...": the name may hold anything, so start
     * after its last ')'; the state is field 3. */
    const char *p = strrchr(text, ')');

    if (!p || first < 3 || last < first)
        return false;
    p++;
    for (int field = 3; field <= last; field++) {
        char *end;
        unsigned long long v;

        while (*p == ' ')
            p++;
        if (!*p)
            return false;
        if (field >= first) {
            errno = 0;
            v = strtoull(p, &end, 10);
            if (end == p || errno || (*end != ' ' && *end != '\0' && *end != '\n'))
                return false;
            out[field - first] = v;
            p = end;
        } else {
            while (*p && *p != ' ')
                p++;
        }
    }
    return true;
}

bool procscan_parse_stat(const char *text, uint64_t *ticks)
{
    /* utime, stime, cutime, cstime are fields 14-17. */
    uint64_t v[4];

    if (!procscan_stat_fields(text, 14, 17, v))
        return false;
    *ticks = v[0] + v[1] + v[2] + v[3];
    return true;
}

void procscan_usage(int rootfd, uint64_t *cpu_ms, uint64_t *peak_bytes)
{
    uint64_t user, sys;

    procscan_usage_split(rootfd, &user, &sys, peak_bytes);
    *cpu_ms = user + sys;
}

void procscan_usage_split(int rootfd, uint64_t *user_ms, uint64_t *sys_ms, uint64_t *peak_bytes)
{
    DIR *d = open_proc(rootfd);
    struct dirent *e;
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t uticks = 0, sticks = 0, best = 0;

    *user_ms = *sys_ms = 0;
    if (peak_bytes)
        *peak_bytes = 0;
    if (!d)
        return;
    if (hz <= 0)
        hz = 100;
    while ((e = readdir(d))) {
        char path[32], buf[2048], *p;
        long pid = entry_pid(e);
        uint64_t v[4];

        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), "%ld/stat", pid);
        /* utime, stime, cutime, cstime: fields 14-17. */
        if (read_small_at(dirfd(d), path, buf, sizeof(buf)) > 0 &&
            procscan_stat_fields(buf, 14, 17, v)) {
            uticks += v[0] + v[2];
            sticks += v[1] + v[3];
        }
        if (!peak_bytes || pid == 1)
            continue;
        snprintf(path, sizeof(path), "%ld/status", pid);
        if (read_small_at(dirfd(d), path, buf, sizeof(buf)) <= 0)
            continue;
        /* "VmHWM:\t  1234 kB" */
        p = strstr(buf, "\nVmHWM:");
        if (p) {
            unsigned long long kb = strtoull(p + 7, NULL, 10);
            if (kb < (1ULL << 40) && kb * 1024 > best)
                best = kb * 1024;
        }
    }
    closedir(d);
    *user_ms = uticks * 1000 / (uint64_t)hz;
    *sys_ms = sticks * 1000 / (uint64_t)hz;
    if (peak_bytes)
        *peak_bytes = best;
}

uint64_t procscan_cpu_ms(int rootfd)
{
    uint64_t ms;

    procscan_usage(rootfd, &ms, NULL);
    return ms;
}
