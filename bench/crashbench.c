/* SPDX-License-Identifier: MIT */
/*
 * crashbench.c: the crash-forensics figures of bench/run.sh, through the
 * library.
 *
 *   crashbench latency CRASHER N   fault-to-report time in N rounds, each in
 *                                  a process of its own: without symbols,
 *                                  the first symbolised crash (the module
 *                                  cache empty) and the same crash again
 *   crashbench soak CRASHER N      N crashing guests, two at a time, in
 *                                  batches of 100; the host process's RSS
 *                                  and fd count before and after
 *
 * CRASHER is tests/guests/crasher. "Fault to report" runs from the moment
 * the guest reads the monotonic clock just before its faulting store (it
 * prints the stamp) to the moment the runner hands over the finished
 * result (on_end): capture in the sandbox, transfer, unwinding and
 * symbolisation, outcome. The guest's clock is the host's (no time
 * namespace). Prints Markdown table rows.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"
#include "sandboxvm/sandboxvm.h"

struct timing {
    int64_t stamp, end;
    char line[64];
    size_t len;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_output(void *ctx, size_t i, enum sbvm_stream st, const void *data, size_t n)
{
    struct timing *t = ctx;
    const char *p;

    (void)i;
    if (st != SBVM_STDOUT)
        return;
    if (n > sizeof(t->line) - 1 - t->len)
        n = sizeof(t->line) - 1 - t->len;
    memcpy(t->line + t->len, data, n);
    t->len += n;
    t->line[t->len] = '\0';
    if ((p = strstr(t->line, "stamp ")))
        t->stamp = strtoll(p + 6, NULL, 10);
}

static void on_end(void *ctx, size_t i, const sbvm_result *r)
{
    struct timing *t = ctx;
    (void)i;
    (void)r;
    t->end = now_ns();
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* One guest; the fault-to-report time in ns, or -1. */
static int64_t one(const char *crasher, int symbolize)
{
    const char *argv[] = { crasher, "stamp", NULL };
    sbvm_runner *rn = sbvm_runner_new();
    sbvm_config *cfg = sbvm_config_new();
    struct timing t = { 0 };
    int64_t d = -1;

    sbvm_config_set_argv(cfg, 2, argv, NULL);
    sbvm_config_set_symbolize(cfg, symbolize);
    sbvm_runner_set_events(
        rn, &(struct sbvm_events){ .ctx = &t, .on_output = on_output, .on_end = on_end });
    if (sbvm_runner_add(rn, cfg, NULL) == 0 && sbvm_runner_run(rn, NULL) == 0 && t.stamp > 0 &&
        t.end > t.stamp && sbvm_result_outcome(sbvm_runner_result(rn, 0)) == SBVM_OUTCOME_CRASHED)
        d = t.end - t.stamp;
    sbvm_config_free(cfg);
    sbvm_runner_free(rn);
    return d;
}

static void row(const char *what, int64_t *v, const double *ratio, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    printf("| %s | %.2f | %.2f | %.2f |", what, (double)v[n / 2] / 1e6, (double)v[0] / 1e6,
           (double)v[n - 1] / 1e6);
    if (ratio)
        printf(" %.2f |", ratio[n / 2]);
    printf("\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * One round in a process of its own, so that the first crash finds the
 * module cache empty (the cache lives as long as the process): a warm-up
 * guest (discarded), the floor (no symbols), the first symbolised crash,
 * then the same crash again. The parent has libdw loaded (see latency),
 * as a process that has analysed a crash before has.
 */
enum { FLOOR, FIRST, SECOND, NTIMES };

static const char *const round_rows[NTIMES] = {
    [FLOOR] = "without symbolisation (`--no-symbolize`)",
    [FIRST] = "first crash in the process (nothing cached)",
    [SECOND] = "second crash in the process (same program)",
};

static int round_in_child(const char *crasher, int64_t t[NTIMES])
{
    int p[2];
    pid_t pid;
    int status;
    ssize_t n;

    if (pipe(p) < 0)
        return -1;
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int64_t v[NTIMES];
        close(p[0]);
        one(crasher, 0);
        v[FLOOR] = one(crasher, 0);
        v[FIRST] = one(crasher, 1);
        v[SECOND] = one(crasher, 1);
        _exit(write(p[1], v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : 1);
    }
    close(p[1]);
    n = read(p[0], t, sizeof(int64_t) * NTIMES);
    close(p[0]);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        n != (ssize_t)(sizeof(int64_t) * NTIMES))
        return -1;
    for (int k = 0; k < NTIMES; k++)
        if (t[k] < 0)
            return -1;
    return 0;
}

static int latency(const char *crasher, int n)
{
    int64_t *v[NTIMES];
    double *ratio[NTIMES];

    for (int k = 0; k < NTIMES; k++) {
        v[k] = calloc((size_t)n, sizeof(int64_t));
        ratio[k] = calloc((size_t)n, sizeof(double));
        if (!v[k] || !ratio[k])
            return 1;
    }
    /* libdw stays loaded in a process that has analysed a crash: the
     * rounds' processes inherit it, and time the analysis, not dlopen. */
    if (!dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL))
        fprintf(stderr, "crashbench: libdw.so.1 is not installed: no symbols\n");
    {
        int64_t warm[NTIMES];
        /* Warm-up: the page cache holds the files. */
        if (round_in_child(crasher, warm) < 0) {
            fprintf(stderr, "crashbench: a run did not crash as expected\n");
            return 1;
        }
    }
    for (int i = 0; i < n; i++) {
        int64_t t[NTIMES];
        if (round_in_child(crasher, t) < 0) {
            fprintf(stderr, "crashbench: a run did not crash as expected\n");
            return 1;
        }
        for (int k = 0; k < NTIMES; k++) {
            v[k][i] = t[k];
            ratio[k][i] = (double)t[k] / (double)t[FLOOR];
        }
    }
    printf("| fault to report | median ms | min ms | max ms | median ratio to no symbols |\n"
           "|---|---:|---:|---:|---:|\n");
    for (int k = FIRST; k < NTIMES; k++) {
        qsort(ratio[k], (size_t)n, sizeof(double), cmp_double);
        row(round_rows[k], v[k], ratio[k], n);
    }
    qsort(ratio[FLOOR], (size_t)n, sizeof(double), cmp_double);
    row(round_rows[FLOOR], v[FLOOR], ratio[FLOOR], n);
    for (int k = 0; k < NTIMES; k++) {
        free(v[k]);
        free(ratio[k]);
    }
    return 0;
}

static int batch(const char *crasher, int n)
{
    static const char *const modes[] = { "null-write", "abort", "thread", "sigbus", "div-zero" };
    sbvm_runner *rn = sbvm_runner_new();
    int crashed = 0;

    sbvm_runner_set_parallel(rn, 2, NULL);
    for (int i = 0; i < n; i++) {
        sbvm_config *cfg = sbvm_config_new();
        const char *argv[] = { crasher, modes[i % 5], NULL };
        sbvm_config_set_argv(cfg, 2, argv, NULL);
        sbvm_runner_add(rn, cfg, NULL);
        sbvm_config_free(cfg);
    }
    sbvm_runner_run(rn, NULL);
    for (int i = 0; i < n; i++) {
        const sbvm_result *r = sbvm_runner_result(rn, (size_t)i);
        crashed +=
            r && sbvm_result_outcome(r) == SBVM_OUTCOME_CRASHED && sbvm_result_crash_count(r) == 1;
    }
    sbvm_runner_free(rn);
    return crashed;
}

static int soak(const char *crasher, int n)
{
    long rss0, rss1, hwm;
    int fds0, fds1, crashed = 0;
    int64_t t0;

    /* A first batch loads libdw and settles the heap: the baseline. */
    batch(crasher, 100);
    rss0 = status_kb("/proc/self/status", "VmRSS:");
    fds0 = count_fds();
    t0 = now_ns();
    for (int done = 0; done < n; done += 100)
        crashed += batch(crasher, n - done < 100 ? n - done : 100);
    rss1 = status_kb("/proc/self/status", "VmRSS:");
    fds1 = count_fds();
    hwm = status_kb("/proc/self/status", "VmHWM:");
    printf("| crashing guests | explained | host RSS before | after | peak | fds before | after | "
           "guests/s |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    printf("| %d | %d | %ld KiB | %ld KiB | %ld KiB | %d | %d | %.1f |\n", n, crashed, rss0, rss1,
           hwm, fds0, fds1, n / ((double)(now_ns() - t0) / 1e9));
    return crashed == n && fds1 == fds0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int n = argc > 3 ? atoi(argv[3]) : 0;

    if (argc != 4 || n <= 0) {
        fprintf(stderr, "usage: crashbench latency|soak CRASHER N\n");
        return 2;
    }
    if (!strcmp(argv[1], "latency"))
        return latency(argv[2], n);
    if (!strcmp(argv[1], "soak"))
        return soak(argv[2], n);
    fprintf(stderr, "crashbench: unknown mode %s\n", argv[1]);
    return 2;
}
