/* SPDX-License-Identifier: MIT */
/*
 * shmbench.c: the host channel's speed, between two processes (a host and
 * a forked guest using the SDK), each figure beside its baseline in the
 * same run, the methods alternating round by round:
 *
 *  - round trip guest -> host -> guest of one small message: a host call
 *    and a ring ping-pong, with both sides spinning, with both asleep on
 *    the futex (spin 0), and with the shipped defaults; against a
 *    socketpair request/answer between the same two processes;
 *  - bulk: bytes through a ring in 4 KiB and 64 KiB messages, against a
 *    pipe with the same writes and a plain memcpy of the same bytes into a
 *    ring-sized buffer in one process (the ceiling).
 *
 *   shmbench [-r ROUNDS] [-n SAMPLES] [-b MIB] [-p HOSTCPU,GUESTCPU] [-s SPIN_NS] [-S]
 *
 * -S adds a sweep of spin budgets against the guest's work between calls
 * (how the default budget was chosen). A bare futex ping-pong between the
 * same two processes shows the kernel's floor for the sleeping rows.
 *
 * Prints Markdown tables: medians of all samples, p10/p90/p99, the range of
 * the per-round medians, and the median of per-round ratios to the
 * baseline. -s sets the spin of the "spin" rows (default 10 ms: always
 * spinning); -p pins host and guest (e.g. 0,1 or 0,0).
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandboxvm/channel.h"
#include "sandboxvm/guest.h"

enum { FN_MODE = 300, FN_NOP, FN_SYNC };
enum { M_CALLS, M_RINGS, M_SOCKET, M_FUTEX, M_BULK, M_PIPE, M_QUIT };

struct mode_req {
    uint32_t mode;
    uint32_t yields;  /* host's yields for this part */
    uint64_t spin_ns; /* host's spin for this part */
    uint64_t count;   /* socket round trips / pipe bytes */
    uint64_t msg;     /* pipe message size */
};

#define PING      16
#define RING_BULK (1u << 20)

/* The bare futex ping-pong's two words (a shared page made before fork). */
struct bare {
    _Atomic uint32_t req __attribute__((aligned(64)));
    _Atomic uint32_t rsp __attribute__((aligned(64)));
};
static struct bare *bare;

static void fwait(_Atomic uint32_t *w, uint32_t v)
{
    syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void fwake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0) {
        perror("shmbench: sched_setaffinity");
        exit(2);
    }
}

static int die(const char *what, int r)
{
    fprintf(stderr, "shmbench: %s: %s\n", what, r < 0 ? strerror(-r) : "failed");
    exit(1);
}

static int read_full(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
    for (size_t put = 0; put < n;) {
        ssize_t r = write(fd, (const char *)buf + put, n - put);
        if (r <= 0)
            return -1;
        put += (size_t)r;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The host                                                                 */

static int32_t fn_nop(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                      size_t out_cap, size_t *out_len, void *ud)
{
    (void)ch, (void)id, (void)in, (void)in_len, (void)out, (void)out_cap, (void)ud;
    *out_len = 0;
    return 0;
}

static uint8_t *host_buf;

static void drain_bulk(sbvm_channel *ch)
{
    while (sbvm_channel_ring_read(ch, 2, host_buf, 64 << 10, NULL, NULL) >= 0)
        ;
}

static int32_t fn_sync(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                       size_t out_cap, size_t *out_len, void *ud)
{
    (void)id, (void)in, (void)in_len, (void)out, (void)out_cap, (void)ud;
    *out_len = 0;
    drain_bulk(ch);
    return 0;
}

static void host(sbvm_channel *ch, int sock, int pipe_rd)
{
    struct sbvm_channel_call call;
    uint32_t mode = M_CALLS;
    uint8_t ping[PING];
    sbvm_error *err = NULL;

    host_buf = malloc(64 << 10);
    for (;;) {
        int ev = sbvm_channel_wait(ch, -1, &err);
        if (ev < 0) {
            if (ev != -EPIPE)
                fprintf(stderr, "shmbench: host: %s\n", sbvm_error_message(err));
            return;
        }
        if ((ev & SBVM_CHANNEL_EV_READ) && mode == M_RINGS) {
            while (sbvm_channel_ring_read(ch, 0, ping, sizeof(ping), NULL, NULL) == PING)
                if (sbvm_channel_ring_write(ch, 1, ping, PING, 0, NULL) < 0)
                    die("host ring write", -EIO);
        }
        if ((ev & SBVM_CHANNEL_EV_READ) && mode == M_BULK)
            drain_bulk(ch);
        while (sbvm_channel_call_next(ch, &call) == 1) {
            struct mode_req m;
            memcpy(&m, call.in, sizeof(m));
            mode = m.mode;
            sbvm_channel_set_spin(ch, m.spin_ns, m.yields);
            sbvm_channel_call_answer(ch, &call, 0, NULL, 0, NULL);
            if (mode == M_QUIT)
                return;
            if (mode == M_SOCKET) {
                for (uint64_t i = 0; i < m.count; i++)
                    if (read_full(sock, ping, PING) < 0 || write_full(sock, ping, PING) < 0)
                        die("host socket", -EIO);
            } else if (mode == M_FUTEX) {
                /* The kernel's floor for two sleepers: wait, answer, wake. */
                for (uint32_t i = 1; i <= m.count; i++) {
                    while (atomic_load(&bare->req) != i)
                        fwait(&bare->req, i - 1);
                    atomic_store(&bare->rsp, i);
                    fwake(&bare->rsp);
                }
            } else if (mode == M_PIPE) {
                for (uint64_t got = 0; got < m.count; got += m.msg)
                    if (read_full(pipe_rd, host_buf, m.msg) < 0)
                        die("host pipe", -EIO);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The guest: drives everything and keeps the samples                       */

struct series {
    const char *name;
    double *all; /* ns per sample (latency) or GB/s per sample (bulk) */
    size_t n, cap;
    double *round_med;
    int rounds;
};

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

static void add_round(struct series *s, const double *v, size_t n, int maxr)
{
    double *tmp = malloc(n * sizeof(*tmp));

    if (!s->all) {
        s->cap = n * (size_t)maxr;
        s->all = malloc(s->cap * sizeof(double));
        s->round_med = malloc((size_t)maxr * sizeof(double));
    }
    memcpy(s->all + s->n, v, n * sizeof(*v));
    s->n += n;
    memcpy(tmp, v, n * sizeof(*v));
    s->round_med[s->rounds++] = pct(tmp, n, 0.5);
    free(tmp);
}

static unsigned def_yields;
static uint64_t def_spin;

static void mode(uint32_t m, uint64_t spin_ns, uint64_t count, uint64_t msg)
{
    struct mode_req req = { .mode = m, .spin_ns = spin_ns, .count = count, .msg = msg };

    /* The defaults' yields go with the defaults' spin only. */
    req.yields = spin_ns == def_spin ? def_yields : 0;
    int32_t res;
    int r = sbvm_hostcall(FN_MODE, &req, sizeof(req), NULL, 0, NULL, &res);

    if (r < 0)
        die("mode call", r);
}

static void lat_calls(double *t, size_t n)
{
    int32_t res;

    for (size_t i = 0; i < n + n / 10; i++) {
        int64_t t0 = now_ns();
        int r = sbvm_hostcall(FN_NOP, NULL, 0, NULL, 0, NULL, &res);
        if (r < 0)
            die("nop call", r);
        if (i >= n / 10)
            t[i - n / 10] = (double)(now_ns() - t0);
    }
}

static void lat_rings(double *t, size_t n)
{
    uint8_t ping[PING] = { 1 };

    for (size_t i = 0; i < n + n / 10; i++) {
        int64_t t0 = now_ns();
        int r = sbvm_ring_push(0, ping, PING, 0, 0);
        if (r < 0 || (r = (int)sbvm_ring_pop(1, ping, PING, NULL, 0)) != PING)
            die("ring ping", r);
        if (i >= n / 10)
            t[i - n / 10] = (double)(now_ns() - t0);
    }
}

static void lat_socket(int sock, double *t, size_t n)
{
    uint8_t ping[PING] = { 1 };

    for (size_t i = 0; i < n + n / 10; i++) {
        int64_t t0 = now_ns();
        if (write_full(sock, ping, PING) < 0 || read_full(sock, ping, PING) < 0)
            die("socket ping", -EIO);
        if (i >= n / 10)
            t[i - n / 10] = (double)(now_ns() - t0);
    }
}

static void lat_futex(double *t, size_t n)
{
    for (size_t i = 0; i < n + n / 10; i++) {
        uint32_t seq = (uint32_t)i + 1;
        int64_t t0 = now_ns();
        atomic_store(&bare->req, seq);
        fwake(&bare->req);
        while (atomic_load(&bare->rsp) != seq)
            fwait(&bare->rsp, seq - 1);
        if (i >= n / 10)
            t[i - n / 10] = (double)(now_ns() - t0);
    }
}

/* Host calls with `think` ns of guest work between them. */
static void lat_think(double *t, size_t n, int64_t think)
{
    int32_t res;

    for (size_t i = 0; i < n; i++) {
        int64_t t0 = now_ns(), t1;
        int r = sbvm_hostcall(FN_NOP, NULL, 0, NULL, 0, NULL, &res);
        t1 = now_ns();
        if (r < 0)
            die("nop call", r);
        t[i] = (double)(t1 - t0);
        while (now_ns() - t1 < think)
            ;
    }
}

/* GB/s of one bulk sample. */
static double bulk_ring(uint64_t bytes, size_t msg, uint8_t *src)
{
    int32_t res;
    int64_t t0 = now_ns();
    int r;

    for (uint64_t put = 0; put < bytes; put += msg)
        if ((r = sbvm_ring_push(2, src, msg, 0, 0)) < 0)
            die("bulk push", r);
    if ((r = sbvm_hostcall(FN_SYNC, NULL, 0, NULL, 0, NULL, &res)) < 0)
        die("sync", r);
    return (double)bytes / (double)(now_ns() - t0);
}

static double bulk_pipe(int fd, uint64_t bytes, size_t msg, uint8_t *src)
{
    int32_t res;
    int64_t t0 = now_ns();
    int r;

    for (uint64_t put = 0; put < bytes; put += msg)
        if (write_full(fd, src, msg) < 0)
            die("pipe write", -EIO);
    if ((r = sbvm_hostcall(FN_SYNC, NULL, 0, NULL, 0, NULL, &res)) < 0)
        die("sync", r);
    return (double)bytes / (double)(now_ns() - t0);
}

static double bulk_memcpy(uint64_t bytes, size_t msg, uint8_t *src, uint8_t *dst)
{
    int64_t t0 = now_ns();
    size_t off = 0;

    for (uint64_t put = 0; put < bytes; put += msg) {
        memcpy(dst + off, src, msg);
        off = (off + msg) % RING_BULK;
    }
    __asm__ __volatile__("" : : "r"(dst) : "memory");
    return (double)bytes / (double)(now_ns() - t0);
}

static void print_lat(struct series *s, struct series *base)
{
    double *rat = malloc((size_t)s->rounds * sizeof(double));
    double lo = s->round_med[0], hi = lo;

    for (int i = 0; i < s->rounds; i++) {
        rat[i] = s->round_med[i] / base->round_med[i];
        lo = s->round_med[i] < lo ? s->round_med[i] : lo;
        hi = s->round_med[i] > hi ? s->round_med[i] : hi;
    }
    printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f-%.2f | %.3f |\n", s->name,
           pct(s->all, s->n, 0.5) / 1000, pct(s->all, s->n, 0.1) / 1000,
           pct(s->all, s->n, 0.9) / 1000, pct(s->all, s->n, 0.99) / 1000, lo / 1000, hi / 1000,
           pct(rat, (size_t)s->rounds, 0.5));
    free(rat);
}

static void print_bulk(struct series *s, struct series *base)
{
    double *rat = malloc((size_t)s->rounds * sizeof(double));
    double lo = s->round_med[0], hi = lo;

    for (int i = 0; i < s->rounds; i++) {
        rat[i] = s->round_med[i] / base->round_med[i];
        lo = s->round_med[i] < lo ? s->round_med[i] : lo;
        hi = s->round_med[i] > hi ? s->round_med[i] : hi;
    }
    printf("| %s | %.2f | %.2f-%.2f | %.2f |\n", s->name, pct(s->all, s->n, 0.5), lo, hi,
           pct(rat, (size_t)s->rounds, 0.5));
    free(rat);
}

static void guest(int chan_fd, int sock, int pipe_wr, int rounds, size_t n, uint64_t bulk,
                  uint64_t spin_ns, int sweep)
{
    struct series lat[8] = {
        { "host call, both spinning" },
        { "host call, both asleep (spin 0)" },
        { "host call, defaults" },
        { "ring ping-pong, both spinning" },
        { "ring ping-pong, both asleep (spin 0)" },
        { "ring ping-pong, defaults" },
        { "socketpair request/answer" },
        { "bare futex ping-pong (no channel)" },
    };
    struct series bk[6] = {
        { "memcpy 4 KiB (one process)" },  { "ring 4 KiB messages" },  { "pipe 4 KiB writes" },
        { "memcpy 64 KiB (one process)" }, { "ring 64 KiB messages" }, { "pipe 64 KiB writes" },
    };
    double *t = malloc(n * sizeof(*t));
    uint8_t *src = malloc(64 << 10), *dst = malloc(RING_BULK);
    int r;

    if ((r = sbvm_hello_fd(chan_fd, SBVM_ABI_VERSION)) < 0)
        die("hello", r);
    if (sbvm_ring_negotiate(SBVM_RING_TO_HOST, 4096, PING) != 0 ||
        sbvm_ring_negotiate(SBVM_RING_TO_GUEST, 4096, PING) != 1 ||
        sbvm_ring_negotiate(SBVM_RING_TO_HOST, RING_BULK, 64 << 10) != 2)
        die("rings", -ENOSPC);
    memset(src, 0x5a, 64 << 10);
    memset(dst, 0, RING_BULK);
    {
        /* The defaults rows: what SBVM_SPIN_NS / SBVM_YIELDS say, else the
         * library's own defaults. */
        const char *e = getenv("SBVM_SPIN_NS"), *y = getenv("SBVM_YIELDS");
        def_spin = e ? strtoull(e, NULL, 10) : SBVM_DEFAULT_SPIN_NS;
        def_yields = y ? (unsigned)strtoul(y, NULL, 10) : SBVM_DEFAULT_YIELDS;
    }
    for (int round = 0; round < rounds; round++) {
        static const struct {
            int calls;
            uint64_t spin;
        } latm[] = { { 1, 1 }, { 1, 0 }, { 1, 2 }, { 0, 1 }, { 0, 0 }, { 0, 2 } };
        for (int k = 0; k < 6; k++) {
            uint64_t s = latm[k].spin == 1 ? spin_ns : latm[k].spin == 0 ? 0 : def_spin;
            sbvm_set_spin(s, latm[k].spin == 2 ? def_yields : 0);
            mode(latm[k].calls ? M_CALLS : M_RINGS, s, 0, 0);
            if (latm[k].calls)
                lat_calls(t, n);
            else
                lat_rings(t, n);
            add_round(&lat[k], t, n, rounds);
        }
        sbvm_set_spin(def_spin, def_yields);
        mode(M_SOCKET, def_spin, n + n / 10, 0);
        lat_socket(sock, t, n);
        add_round(&lat[6], t, n, rounds);
        atomic_store(&bare->req, 0);
        atomic_store(&bare->rsp, 0);
        mode(M_FUTEX, def_spin, n + n / 10, 0);
        lat_futex(t, n);
        add_round(&lat[7], t, n, rounds);
        /* Bulk: a few samples of each per round. */
        for (int sz = 0; sz < 2; sz++) {
            size_t msg = sz ? 64 << 10 : 4096;
            double g[3];
            for (int rep = 0; rep < 3; rep++) {
                g[0] = bulk_memcpy(bulk, msg, src, dst);
                add_round(&bk[sz * 3], &g[0], 1, rounds * 3);
                mode(M_BULK, def_spin, 0, 0);
                g[1] = bulk_ring(bulk, msg, src);
                add_round(&bk[sz * 3 + 1], &g[1], 1, rounds * 3);
                mode(M_PIPE, def_spin, bulk, msg);
                g[2] = bulk_pipe(pipe_wr, bulk, msg, src);
                add_round(&bk[sz * 3 + 2], &g[2], 1, rounds * 3);
            }
        }
    }
    if (sweep) {
        static const uint64_t budgets[] = { 0, 2000, 10000, 25000, 50000, 100000, 200000 };
        static const int64_t thinks[] = { 0, 20000, 60000 };
        printf("\nSpin budget (both sides), host calls with the guest working THINK us between "
               "them: median / p90 round trip in us, %zu calls each\n\n| budget us |",
               n / 4);
        for (size_t k = 0; k < sizeof(thinks) / sizeof(thinks[0]); k++)
            printf(" think %lld |", (long long)thinks[k] / 1000);
        printf("\n|---:|");
        for (size_t k = 0; k < sizeof(thinks) / sizeof(thinks[0]); k++)
            printf("---:|");
        printf("\n");
        for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
            printf("| %llu |", (unsigned long long)budgets[b] / 1000);
            for (size_t k = 0; k < sizeof(thinks) / sizeof(thinks[0]); k++) {
                sbvm_set_spin(budgets[b], 0);
                mode(M_CALLS, budgets[b], 0, 0);
                lat_think(t, n / 4, thinks[k]);
                printf(" %.2f / %.2f |", pct(t, n / 4, 0.5) / 1000, pct(t, n / 4, 0.9) / 1000);
                fflush(stdout);
            }
            printf("\n");
        }
    }
    mode(M_QUIT, 0, 0, 0);
    printf("\nRound trip guest -> host -> guest, one %d-byte message: %d rounds x %zu samples;"
           " spinning = %llu ns budget, defaults = %llu ns and %u yields\n\n",
           PING, rounds, n, (unsigned long long)spin_ns, (unsigned long long)def_spin, def_yields);
    printf("| method | median us | p10 us | p90 us | p99 us | round medians us | median ratio "
           "to socketpair |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < 8; k++)
        print_lat(&lat[k], &lat[6]);
    printf("\nBulk, %llu MiB per sample, %d rounds x 3 samples; GB/s (10^9 bytes/s)\n\n",
           (unsigned long long)(bulk >> 20), rounds);
    printf("| method | median GB/s | sample range | median ratio to memcpy |\n"
           "|---|---:|---:|---:|\n");
    for (int k = 0; k < 6; k++)
        print_bulk(&bk[k], &bk[k / 3 * 3]);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int rounds = 5, hcpu = -1, gcpu = -1, opt, sv[2], pp[2], st, sweep = 0;
    size_t n = 20000;
    uint64_t bulk = 256ull << 20, spin_ns = 10 * 1000 * 1000;
    sbvm_channel_config *cfg;
    sbvm_channel *ch;
    sbvm_error *err = NULL;
    pid_t pid;

    while ((opt = getopt(argc, argv, "r:n:b:p:s:S")) != -1) {
        switch (opt) {
        case 'S':
            sweep = 1;
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'n':
            n = strtoul(optarg, NULL, 10);
            break;
        case 'b':
            bulk = strtoull(optarg, NULL, 10) << 20;
            break;
        case 'p':
            if (sscanf(optarg, "%d,%d", &hcpu, &gcpu) != 2)
                return 2;
            break;
        case 's':
            spin_ns = strtoull(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr,
                    "usage: shmbench [-r ROUNDS] [-n SAMPLES] [-b MIB] [-p H,G] [-s NS] [-S]\n");
            return 2;
        }
    }
    if (rounds < 1 || n < 10 || bulk < (1 << 20))
        return 2;
    bare = mmap(NULL, sizeof(*bare), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (bare == MAP_FAILED)
        return 1;
    cfg = sbvm_channel_config_new();
    sbvm_channel_config_set_window(cfg, 4 << 20, 16 << 20, NULL);
    sbvm_channel_config_add_call(cfg, FN_MODE, NULL, NULL, NULL);
    sbvm_channel_config_add_call(cfg, FN_NOP, fn_nop, NULL, NULL);
    sbvm_channel_config_add_call(cfg, FN_SYNC, fn_sync, NULL, NULL);
    if (sbvm_channel_new(cfg, &ch, &err) < 0) {
        fprintf(stderr, "shmbench: %s\n", sbvm_error_message(err));
        return 1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(pp, O_CLOEXEC) < 0)
        return 1;
    /* A pipe as large as the ring, so that neither has the smaller buffer. */
    fcntl(pp[1], F_SETPIPE_SZ, RING_BULK);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        close(pp[0]);
        pin(gcpu);
        guest(sbvm_channel_guest_fd(ch), sv[1], pp[1], rounds, n, bulk, spin_ns, sweep);
        _exit(0);
    }
    close(sv[1]);
    close(pp[1]);
    sbvm_channel_close_guest_fd(ch);
    pin(hcpu);
    printf("shmbench: host cpu %d, guest cpu %d (-1: not pinned); %s\n", hcpu, gcpu,
           "host serves with sbvm_channel_wait()");
    fflush(stdout);
    host(ch, sv[0], pp[0]);
    waitpid(pid, &st, 0);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cfg);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
