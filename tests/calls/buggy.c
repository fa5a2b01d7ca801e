/* SPDX-License-Identifier: MIT */
/*
 * buggy.c: a deliberately broken shared library for the library-call tests:
 * one function per way of going wrong (a NULL dereference, a wild write, a
 * stack overflow, abort, an endless loop, leaked descriptors, calls a worker
 * may not make, exit), and well-behaved ones that keep state, take every
 * kind of argument and return every kind of value. Built without
 * optimisation and with debug information so that crash reports name the
 * function and line.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define API __attribute__((visibility("default")))

int calls_dep_twice(int x);

/* ---- well-behaved --------------------------------------------------------- */

API int buggy_nop(void)
{
    return 0;
}

API int buggy_add(int a, int b)
{
    return a + b;
}

/* Six integers and eight doubles, all in registers. */
API double buggy_mix(long a, int b, long c, int d, long e, int f, double g, double h, double i,
                     double j, double k, double l, double m, double n)
{
    return (double)(a + b + c + d + e + f) + g + 2 * h + 3 * i + 4 * j + 5 * k + 6 * l + 7 * m +
           8 * n;
}

/* Eight integers and ten doubles: two of each on the stack, interleaved
 * in the order of the parameters. */
API double buggy_many(long a, double b, long c, double d, long e, double f, long g, double h,
                      long i, double j, long k, double l, long m, double n, long o, double p,
                      double q, double r)
{
    return (double)(a + 2 * c + 3 * e + 4 * g + 5 * i + 6 * k + 7 * m + 8 * o) + b + 2 * d + 3 * f +
           4 * h + 5 * j + 6 * l + 7 * n + 8 * p + 9 * q + 10 * r;
}

API float buggy_fmul(float a, float b)
{
    return a * b;
}

API unsigned buggy_neg_u(void)
{
    return 0xfffffffeu;
}

API int buggy_neg(void)
{
    return -7;
}

API int buggy_twice(int x)
{
    return calls_dep_twice(x);
}

/* State kept between calls, lost with the worker. */
static int counter;

API int buggy_count(void)
{
    return ++counter;
}

/* Sums a buffer. */
API uint64_t buggy_sum(const uint8_t *p, size_t n)
{
    uint64_t s = 0;

    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

/* Fills a buffer; returns how many bytes were non-zero before (an OUT
 * buffer must arrive zeroed: nothing of an earlier call shows through). */
API size_t buggy_fill(uint8_t *p, size_t n, int c)
{
    size_t dirty = 0;

    for (size_t i = 0; i < n; i++)
        dirty += p[i] != 0;
    memset(p, c, n);
    return dirty;
}

/* Reverses an in/out buffer in place. */
API void buggy_reverse(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

/* Writes past the end of its buffer by `over` bytes (within its arena):
 * only the declared length comes back. */
API void buggy_write_past(uint8_t *p, size_t n, size_t over)
{
    memset(p, 'x', n + over);
}

struct thing {
    int value;
    char name[12];
};

API struct thing *buggy_new(int value)
{
    struct thing *t = calloc(1, sizeof(*t));

    if (t) {
        t->value = value;
        memcpy(t->name, "thing", 6);
    }
    return t;
}

API int buggy_value(const struct thing *t)
{
    return t ? t->value : -1;
}

API void buggy_free(struct thing *t)
{
    free(t);
}

API const char *buggy_null_ptr(void)
{
    return NULL;
}

/* Copies a string into the caller's buffer. */
API size_t buggy_upper(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);

    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(in[i] >= 'a' && in[i] <= 'z' ? in[i] - 32 : in[i]);
    out[n] = '\0';
    return n;
}

API void buggy_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

API int buggy_open_fds(void)
{
    int n = 0;

    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

/* ---- broken ------------------------------------------------------------------ */

API int buggy_null(void)
{
    volatile int *p = NULL;

    return *p;
}

API void buggy_wild_write(uintptr_t addr)
{
    *(volatile int *)addr = 42;
}

/* A stack buffer overrun (the stack protector aborts). */
API int buggy_overflow(const char *s)
{
    char small[8];

    strcpy(small, s);
    return (int)strlen(small);
}

static int deep(int n)
{
    volatile char pad[256];

    pad[0] = (char)n;
    return deep(n + 1) + pad[0];
}

/* Unbounded recursion: the stack runs out. */
API int buggy_recurse(void)
{
    return deep(0);
}

API void buggy_abort(void)
{
    abort();
}

API void buggy_spin(void)
{
    for (volatile unsigned long i = 0;; i++)
        ;
}

/* Descriptors opened and never closed: the worker's limit is reached. */
API int buggy_leak_fds(int n)
{
    int got = 0;

    for (int i = 0; i < n; i++)
        got += open("/dev/null", O_RDONLY) >= 0;
    return got;
}

API int buggy_exec(void)
{
    static char sh[] = "sh", c[] = "-c", t[] = "true";
    char *argv[] = { sh, c, t, NULL };

    return execv("/bin/sh", argv);
}

API int buggy_socket(void)
{
    return socket(AF_INET, SOCK_STREAM, 0);
}

API int buggy_write_file(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

API int buggy_kill(int pid)
{
    return kill(pid, SIGKILL);
}

API int buggy_fork(void)
{
    return (int)fork();
}

API void buggy_exit(int code)
{
    exit(code);
}
