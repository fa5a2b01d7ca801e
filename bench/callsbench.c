/* SPDX-License-Identifier: MIT */
/*
 * callsbench.c: library calls (sandboxvm/calls.h) against their baselines,
 * side by side in one run, methods alternating round by round:
 *
 *  null    a call with no arguments that returns an integer (zlib's
 *          zlibCompileFlags), warm: the worker spinning (the default wait),
 *          asleep (SBVM_LIB_WAIT_SLEEP: the caller still polls for its
 *          answer) and both asleep (no polling at all); the same function called
 *          directly, and over a socketpair RPC to a forked process (the
 *          transport of Sandboxed API)
 *  zlib    uncompress of a 1 MiB input into 4 MiB, sandboxed and direct:
 *          throughput and its ratio
 *  crash   a call that crashes (a bad pointer into crc32), then the next
 *          call, served by the spare worker: how much longer that next call
 *          takes than a warm one; and how long the crashing call took to
 *          come back with its report
 *  memory  host memory per idle worker (the host's RSS and fds as workers
 *          are added), and each worker process's own RSS and PSS
 *  soak    10,000 calls with a crash every 100: the host's fds, RSS and
 *          processes before and after
 *
 *   callsbench [-r ROUNDS] [-n SAMPLES] [-s SECTION,...] [-z 0|1]
 *
 * -z 0 execs every worker instead of forking it from the zygote. Prints
 * Markdown tables: medians, p10/p90/p99, the range of per-round medians,
 * and the median of per-round ratios to the baseline.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "procstat.h"
#include "sandboxvm/calls.h"

static int rounds = 5, samples = 2000, zygote = 1;

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double q)
{
    qsort(v, n, sizeof(*v), cmp_d);
    return v[(size_t)(q * (double)(n - 1))];
}

static void die(const char *what, sbvm_error *err)
{
    fprintf(stderr, "callsbench: %s: %s\n", what, err ? sbvm_error_message(err) : "failed");
    exit(1);
}

static sbvm_lib *open_lib(const char *path, enum sbvm_lib_wait wait, unsigned spares)
{
    struct sbvm_lib_options o = { .size = sizeof(o), .wait = wait, .spares = spares };
    sbvm_lib *lib;
    sbvm_error *err = NULL;

    o.no_zygote = !zygote;
    if (sbvm_lib_open(path, NULL, &o, &lib, &err) < 0)
        die(path, err);
    return lib;
}

static sbvm_fn *sym(sbvm_lib *lib, const char *name)
{
    sbvm_fn *fn;
    sbvm_error *err = NULL;

    if (sbvm_lib_sym(lib, name, &fn, &err) < 0)
        die(name, err);
    return fn;
}

/* A row of a table: all samples of all rounds, and per-round medians. */
struct row {
    const char *name;
    double *all;
    size_t n;
    double round_med[64];
    double ratio[64];
};

static void row_init(struct row *r, const char *name)
{
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->all = calloc((size_t)rounds * (size_t)samples + 1, sizeof(double));
}

static void row_round(struct row *r, int round, const double *v, size_t n)
{
    double *tmp = malloc(n * sizeof(double));

    memcpy(tmp, v, n * sizeof(double));
    memcpy(r->all + r->n, v, n * sizeof(double));
    r->n += n;
    r->round_med[round] = pct(tmp, n, 0.5);
    free(tmp);
}

static void row_print(struct row *r, const struct row *base, const char *unit, double scale)
{
    double lo = r->round_med[0], hi = r->round_med[0], ratios[64];

    for (int i = 1; i < rounds; i++) {
        lo = r->round_med[i] < lo ? r->round_med[i] : lo;
        hi = r->round_med[i] > hi ? r->round_med[i] : hi;
    }
    printf("| %s | %.2f %s | %.2f / %.2f / %.2f | %.2f .. %.2f |", r->name,
           pct(r->all, r->n, 0.5) / scale, unit, pct(r->all, r->n, 0.1) / scale,
           pct(r->all, r->n, 0.9) / scale, pct(r->all, r->n, 0.99) / scale, lo / scale, hi / scale);
    if (base) {
        for (int i = 0; i < rounds; i++)
            ratios[i] = r->round_med[i] / base->round_med[i];
        printf(" %.2f |\n", pct(ratios, (size_t)rounds, 0.5));
    } else {
        printf(" 1 |\n");
    }
}

/* ---- null ------------------------------------------------------------------------ */

/* A forked server that answers each 8-byte request with zlibCompileFlags(). */
static pid_t rpc_server(int *fd)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        uint64_t q;
        close(sv[0]);
        while (read(sv[1], &q, sizeof(q)) == (ssize_t)sizeof(q)) {
            q = zlibCompileFlags();
            if (write(sv[1], &q, sizeof(q)) != (ssize_t)sizeof(q))
                break;
        }
        _exit(0);
    }
    close(sv[1]);
    *fd = sv[0];
    return pid;
}

static void bench_null(void)
{
    sbvm_lib *spin = open_lib("libz.so.1", SBVM_LIB_WAIT_DEFAULT, 1);
    sbvm_lib *sleep_ = open_lib("libz.so.1", SBVM_LIB_WAIT_SLEEP, 1);
    sbvm_lib *both = open_lib("libz.so.1", SBVM_LIB_WAIT_CUSTOM, 1);
    sbvm_lib *libs[3] = { spin, sleep_, both };
    sbvm_fn *fns[3] = { sym(spin, "zlibCompileFlags"), sym(sleep_, "zlibCompileFlags"),
                        sym(both, "zlibCompileFlags") };
    struct row direct, rpc, rows[3];
    double *v = malloc((size_t)samples * sizeof(double));
    volatile uLong sink = 0;
    int fd;
    pid_t srv = rpc_server(&fd);

    row_init(&direct, "direct call (in process)");
    row_init(&rpc, "socketpair RPC to a forked process");
    row_init(&rows[0], "sandboxed, worker spinning (default)");
    row_init(&rows[1], "sandboxed, worker asleep (WAIT_SLEEP; the caller polls)");
    row_init(&rows[2], "sandboxed, worker and caller asleep (CUSTOM, no polling)");
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < samples; i++) {
            int64_t t0 = now_ns();
            sink += zlibCompileFlags();
            v[i] = (double)(now_ns() - t0);
        }
        row_round(&direct, r, v, (size_t)samples);
        for (int i = 0; i < samples; i++) {
            uint64_t q = 0;
            int64_t t0 = now_ns();
            if (write(fd, &q, sizeof(q)) != sizeof(q) || read(fd, &q, sizeof(q)) != sizeof(q))
                exit(1);
            v[i] = (double)(now_ns() - t0);
        }
        row_round(&rpc, r, v, (size_t)samples);
        for (int k = 0; k < 3; k++) {
            sbvm_lib *lib = libs[k];
            sbvm_fn *fn = fns[k];
            union sbvm_value val;
            for (int i = 0; i < 100; i++) /* warm */
                sbvm_lib_call(lib, fn, SBVM_ULONG, NULL, 0, &val, NULL, NULL);
            for (int i = 0; i < samples; i++) {
                int64_t t0 = now_ns();
                if (sbvm_lib_call(lib, fn, SBVM_ULONG, NULL, 0, &val, NULL, NULL) < 0)
                    exit(1);
                v[i] = (double)(now_ns() - t0);
                if (val.u != zlibCompileFlags())
                    exit(1);
            }
            row_round(&rows[k], r, v, (size_t)samples);
        }
    }
    printf("\n### A null call (zlibCompileFlags), warm (%d rounds x %d)\n\n", rounds, samples);
    printf("| method | median | p10 / p90 / p99 | round medians | x direct |\n");
    printf("|---|---|---|---|---|\n");
    row_print(&direct, NULL, "µs", 1000);
    for (int k = 0; k < 3; k++)
        row_print(&rows[k], &direct, "µs", 1000);
    row_print(&rpc, &direct, "µs", 1000);
    close(fd);
    waitpid(srv, NULL, 0);
    for (int k = 0; k < 3; k++)
        sbvm_lib_close(libs[k]);
    free(v);
    (void)sink;
}

/* ---- zlib ------------------------------------------------------------------------ */

/* 4 MiB that deflate to about 1 MiB: words, and a little noise. */
static uint8_t *zlib_input(size_t len)
{
    static const char *const words[] = { "sandbox ", "worker ", "crash ",   "report ",
                                         "zlib ",    "window ", "handle ",  "call ",
                                         "the ",     "of ",     "library ", "function " };
    uint8_t *d = malloc(len);
    uint32_t x = 12345;

    for (size_t i = 0; i < len;) {
        x = x * 1103515245 + 12345;
        if ((x >> 16) % 100 < 18) {
            for (int k = 0; k < 3 && i < len; k++) {
                x = x * 1103515245 + 12345;
                d[i++] = (uint8_t)(x >> 16);
            }
        } else {
            const char *w = words[(x >> 8) % 12];
            for (size_t k = 0; w[k] && i < len; k++)
                d[i++] = (uint8_t)w[k];
        }
    }
    return d;
}

static void bench_zlib(void)
{
    size_t len = 4u << 20;
    uint8_t *data = zlib_input(len), *comp, *out = malloc(len);
    uLongf clen = compressBound(len);
    sbvm_lib *lib = open_lib("libz.so.1", SBVM_LIB_WAIT_DEFAULT, 1);
    sbvm_fn *un = sym(lib, "uncompress");
    int n = samples / 50 > 10 ? samples / 50 : 10;
    double *v = malloc((size_t)n * sizeof(double));
    struct row direct, sb;

    comp = malloc(clen);
    if (compress2(comp, &clen, data, len, 6) != Z_OK)
        exit(1);
    row_init(&direct, "direct uncompress");
    row_init(&sb, "sandboxed uncompress (copies included)");
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < n; i++) {
                uint64_t olen = len;
                uLongf dlen = len;
                int64_t t0 = now_ns();
                if (k == 0) {
                    if (uncompress(out, &dlen, comp, clen) != Z_OK)
                        exit(1);
                } else {
                    struct sbvm_arg a[4] = { SBVM_OUT(out, len), SBVM_INOUT(&olen, 8),
                                             SBVM_IN(comp, clen), SBVM_INT(clen) };
                    union sbvm_value val;
                    if (sbvm_lib_call(lib, un, SBVM_INT, a, 4, &val, NULL, NULL) < 0 ||
                        val.i != Z_OK || olen != len)
                        exit(1);
                }
                /* MB/s of output. */
                v[i] = (double)len / ((double)(now_ns() - t0) / 1e9) / 1e6;
            }
            row_round(k ? &sb : &direct, r, v, (size_t)n);
        }
        if (memcmp(out, data, len) != 0)
            exit(1);
    }
    printf("\n### zlib uncompress, %.2f MiB in, 4 MiB out (%d rounds x %d)\n\n",
           (double)clen / (1 << 20), rounds, n);
    printf("| method | median | p10 / p90 / p99 | round medians | x direct |\n");
    printf("|---|---|---|---|---|\n");
    row_print(&direct, NULL, "MB/s", 1);
    row_print(&sb, &direct, "MB/s", 1);
    sbvm_lib_close(lib);
    free(v);
    free(data);
    free(comp);
    free(out);
}

/* ---- crash ----------------------------------------------------------------------- */

/* Until the library has `want` idle workers again (its spare replaced). */
static void wait_idle(sbvm_lib *lib, unsigned want)
{
    for (int i = 0; i < 5000; i++) {
        struct sbvm_lib_stats st;
        sbvm_lib_stats(lib, &st);
        if (st.idle >= want)
            return;
        usleep(1000);
    }
}

static void bench_crash(void)
{
    sbvm_lib *lib = open_lib("libz.so.1", SBVM_LIB_WAIT_DEFAULT, 1);
    sbvm_fn *crc = sym(lib, "crc32"), *flags = sym(lib, "zlibCompileFlags");
    int n = samples / 100 > 10 ? samples / 100 : 10;
    double *warm = malloc((size_t)n * sizeof(double)), *next = malloc((size_t)n * sizeof(double));
    double *crash = malloc((size_t)n * sizeof(double)), *added = malloc((size_t)n * sizeof(double));
    struct row rw, rn, rc, ra;
    union sbvm_value val;

    row_init(&rw, "a warm call (baseline)");
    row_init(&rn, "the next call after a crash (fresh worker)");
    row_init(&ra, "added to the next call (next - warm)");
    row_init(&rc, "the crashing call, with its report");
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) {
            /* crc32(0, (void *)16, 64): a read of page zero. */
            struct sbvm_arg bad[3] = { SBVM_INT(0), SBVM_INT(16), SBVM_INT(64) };
            struct sbvm_call_info info = { .size = sizeof(info) };
            int64_t t0;

            wait_idle(lib, 2);
            t0 = now_ns();
            sbvm_lib_call(lib, flags, SBVM_ULONG, NULL, 0, &val, NULL, NULL);
            warm[i] = (double)(now_ns() - t0);
            t0 = now_ns();
            if (sbvm_lib_call(lib, crc, SBVM_ULONG, bad, 3, &val, &info, NULL) != -EFAULT)
                exit(1);
            crash[i] = (double)(now_ns() - t0);
            sbvm_result_free(info.result);
            t0 = now_ns();
            if (sbvm_lib_call(lib, flags, SBVM_ULONG, NULL, 0, &val, NULL, NULL) < 0)
                exit(1);
            next[i] = (double)(now_ns() - t0);
            added[i] = next[i] - warm[i];
        }
        row_round(&rw, r, warm, (size_t)n);
        row_round(&rn, r, next, (size_t)n);
        row_round(&ra, r, added, (size_t)n);
        row_round(&rc, r, crash, (size_t)n);
    }
    printf("\n### A crash, then the next call (%d rounds x %d; a spare worker ready)\n\n", rounds,
           n);
    printf("| what | median | p10 / p90 / p99 | round medians | x warm |\n");
    printf("|---|---|---|---|---|\n");
    row_print(&rw, NULL, "µs", 1000);
    row_print(&rn, &rw, "µs", 1000);
    row_print(&ra, NULL, "µs", 1000);
    row_print(&rc, NULL, "ms", 1e6);
    sbvm_lib_close(lib);
}

/* ---- memory and soak ---------------------------------------------------------------- */

/* Processes whose executable is the worker's memfd: how many, and their
 * RSS and PSS summed (KiB). */
static int workers_mem(long *rss, long *pss)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    *rss = *pss = 0;
    while ((e = readdir(d))) {
        char path[300], exe[256];
        ssize_t k;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/exe", e->d_name);
        k = readlink(path, exe, sizeof(exe) - 1);
        if (k <= 0)
            continue;
        exe[k] = '\0';
        if (!strstr(exe, "sbvm-worker"))
            continue;
        n++;
        snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
        *rss += status_kb(path, "VmRSS:");
        snprintf(path, sizeof(path), "/proc/%s/smaps_rollup", e->d_name);
        *pss += status_kb(path, "Pss:");
    }
    closedir(d);
    return n;
}

static int count_children(void)
{
    /* Our descendants: every process whose ancestry reaches us. */
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0, me = getpid();

    while ((e = readdir(d))) {
        int pid = atoi(e->d_name), hops = 0;
        while (pid > 1 && hops++ < 64) {
            char path[64], buf[512], *p;
            FILE *f;
            snprintf(path, sizeof(path), "/proc/%d/stat", pid);
            if (!(f = fopen(path, "r")))
                break;
            p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
            fclose(f);
            if (!p)
                break;
            pid = atoi(p + 4); /* ") S PPID" */
            if (pid == me) {
                n++;
                break;
            }
        }
    }
    closedir(d);
    return n;
}

static void bench_memory(void)
{
    sbvm_lib *lib = open_lib("libz.so.1", SBVM_LIB_WAIT_DEFAULT, 1);
    long rss0, rss1, wrss, wpss;
    int fds0, fds1, nw;
    struct sbvm_lib_stats st;

    sbvm_lib_close(lib); /* the first library's one-time costs (libdw is not loaded) */
    rss0 = status_kb("/proc/self/status", "VmRSS:");
    fds0 = count_fds();
    lib = open_lib("libz.so.1", SBVM_LIB_WAIT_DEFAULT, 8);
    wait_idle(lib, 9);
    sbvm_lib_stats(lib, &st);
    rss1 = status_kb("/proc/self/status", "VmRSS:");
    fds1 = count_fds();
    nw = workers_mem(&wrss, &wpss);
    printf("\n### Memory of idle workers (zlib, %u workers%s)\n\n", st.idle,
           zygote ? " and their zygote" : "");
    printf("| what | per worker |\n|---|---|\n");
    printf("| host RSS (the library's whole host side / workers) | %.0f KiB |\n",
           (double)(rss1 - rss0) / st.idle);
    printf("| host fds | %.1f |\n", (double)(fds1 - fds0) / st.idle);
    printf("| worker process RSS, in its sandbox (%d processes) | %.0f KiB |\n", nw,
           (double)wrss / nw);
    printf("| worker process PSS (shared pages split) | %.0f KiB |\n", (double)wpss / nw);
    sbvm_lib_close(lib);
}

static void bench_soak(void)
{
    sbvm_lib *lib = open_lib("libz.so.1", SBVM_LIB_WAIT_DEFAULT, 1);
    sbvm_fn *crc = sym(lib, "crc32");
    long rss[2];
    int fds[2], procs[2], crashes = 0, ok = 0;
    uint8_t buf[256];
    int64_t t0;

    memset(buf, 7, sizeof(buf));
    for (int i = 0; i < 200; i++) { /* warm, and the first crash's one-time costs */
        struct sbvm_arg a[3] = { SBVM_INT(0), SBVM_IN(buf, sizeof(buf)), SBVM_INT(sizeof(buf)) };
        struct sbvm_arg bad[3] = { SBVM_INT(0), SBVM_INT(16), SBVM_INT(64) };
        struct sbvm_call_info info = { .size = sizeof(info) };
        sbvm_lib_call(lib, crc, SBVM_ULONG, i % 100 == 99 ? bad : a, 3, NULL, &info, NULL);
        sbvm_result_free(info.result);
    }
    wait_idle(lib, 2);
    rss[0] = status_kb("/proc/self/status", "VmRSS:");
    fds[0] = count_fds();
    procs[0] = count_children();
    t0 = now_ns();
    for (int i = 0; i < 10000; i++) {
        struct sbvm_arg a[3] = { SBVM_INT(0), SBVM_IN(buf, sizeof(buf)), SBVM_INT(sizeof(buf)) };
        struct sbvm_arg bad[3] = { SBVM_INT(0), SBVM_INT(16), SBVM_INT(64) };
        struct sbvm_call_info info = { .size = sizeof(info) };
        union sbvm_value v;
        int r = sbvm_lib_call(lib, crc, SBVM_ULONG, i % 100 == 99 ? bad : a, 3, &v, &info, NULL);
        crashes += r == -EFAULT;
        ok += r == 0 && v.u == crc32(0, buf, sizeof(buf));
        sbvm_result_free(info.result);
    }
    wait_idle(lib, 2);
    rss[1] = status_kb("/proc/self/status", "VmRSS:");
    fds[1] = count_fds();
    procs[1] = count_children();
    printf("\n### Soak: 10,000 calls, a crash every 100 (%.1f s)\n\n",
           (double)(now_ns() - t0) / 1e9);
    printf("| | before | after |\n|---|---|---|\n");
    printf("| calls returned right / crashed | | %d / %d |\n", ok, crashes);
    printf("| host fds | %d | %d |\n", fds[0], fds[1]);
    printf("| host RSS | %ld KiB | %ld KiB |\n", rss[0], rss[1]);
    printf("| processes under the host | %d | %d |\n", procs[0], procs[1]);
    sbvm_lib_close(lib);
}

int main(int argc, char **argv)
{
    const char *sections = "null,zlib,crash,memory,soak";
    int c;

    while ((c = getopt(argc, argv, "r:n:s:z:")) != -1) {
        switch (c) {
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'n':
            samples = atoi(optarg);
            break;
        case 's':
            sections = optarg;
            break;
        case 'z':
            zygote = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: callsbench [-r ROUNDS] [-n SAMPLES] [-s SECTIONS] [-z 0|1]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 64 || samples < 10) {
        fprintf(stderr, "callsbench: -r 1..64, -n 10 or more\n");
        return 2;
    }
    printf("Library calls: %s workers; %d rounds\n", zygote ? "zygote-forked" : "exec'd", rounds);
    if (strstr(sections, "null"))
        bench_null();
    if (strstr(sections, "zlib"))
        bench_zlib();
    if (strstr(sections, "crash"))
        bench_crash();
    if (strstr(sections, "memory"))
        bench_memory();
    if (strstr(sections, "soak"))
        bench_soak();
    return 0;
}
