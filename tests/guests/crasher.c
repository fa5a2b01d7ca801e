/* SPDX-License-Identifier: MIT */
/*
 * crasher.c: a guest that dies in one named way, for the forensics tests.
 * Usage: crasher MODE. Each mode prints "crasher: MODE" first, so a test can
 * tell the guest ran, then faults. Built with -O0 and debug info so that the
 * backtrace has the function of each mode and its file:line.
 */

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

/* Volatile so that the compiler keeps every access it is told to make. */
static volatile int *volatile null_ptr;
static volatile int divisor;

__attribute__((noinline)) static int null_read(void)
{
    return *null_ptr;
}

__attribute__((noinline)) static int null_write(void)
{
    *null_ptr = 1;
    return 0;
}

/* An address in the upper part of the user half that holds nothing: a
 * page is mapped there and unmapped again, so it cannot be in use. */
__attribute__((noinline)) static int wild_store(void)
{
    void *hint = (void *)(uintptr_t)0x7e0000000000ULL;
    volatile int *p = mmap(hint, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return 2;
    munmap((void *)p, 4096);
    printf("address %p\n", (void *)p);
    fflush(stdout);
    *p = 0x5a;
    return 0;
}

__attribute__((noinline)) static int text_store(void)
{
    volatile unsigned char *code = (volatile unsigned char *)(uintptr_t)&text_store;

    printf("address %p\n", (void *)code);
    fflush(stdout);
    *code = 0xcc;
    return 0;
}

__attribute__((noinline)) static int nx_jump(void)
{
    unsigned char *page =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int (*fn)(void);

    if (page == MAP_FAILED)
        return 2;
    page[0] = 0xc3; /* ret: harmless if it ever ran */
    printf("address %p\n", (void *)page);
    fflush(stdout);
    memcpy(&fn, &page, sizeof(fn));
    return fn();
}

__attribute__((noinline)) static int ud2(void)
{
    __asm__ volatile("ud2");
    return 0;
}

__attribute__((noinline)) static int hlt(void)
{
    __asm__ volatile("hlt");
    return 0;
}

__attribute__((noinline)) static int recurse(int depth)
{
    volatile char pad[512];

    pad[0] = (char)depth;
    return recurse(depth + 1) + pad[0];
}

__attribute__((noinline)) static int stack_overflow(void)
{
    return recurse(0);
}

__attribute__((noinline)) static int do_abort(void)
{
    abort();
}

__attribute__((noinline)) static int div_zero(void)
{
    return 100 / divisor;
}

/* A file of one page mapped as two: the second page lies beyond the end of
 * the file. */
__attribute__((noinline)) static int sigbus(void)
{
    char path[] = "/tmp/crasher-XXXXXX";
    int fd = mkstemp(path);
    volatile char *p;
    long page = sysconf(_SC_PAGESIZE);

    if (fd < 0 || ftruncate(fd, page) < 0)
        return 2;
    p = mmap(NULL, (size_t)page * 2, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return 2;
    unlink(path);
    printf("address %p\n", (void *)(p + page));
    fflush(stdout);
    return p[page];
}

static void *thread_main(void *arg)
{
    (void)arg;
    null_write();
    return NULL;
}

__attribute__((noinline)) static int second_thread(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, thread_main, NULL))
        return 2;
    pthread_join(t, NULL);
    return 0;
}

/* The child dies; the parent sees it and finishes normally with 0. */
__attribute__((noinline)) static int forked_child(void)
{
    int st;
    pid_t pid = fork();

    if (pid < 0)
        return 2;
    if (pid == 0) {
        null_write();
        _exit(0);
    }
    if (waitpid(pid, &st, 0) != pid)
        return 2;
    printf("parent goes on: child died of signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return 0;
}

__attribute__((noinline)) static int double_free(void)
{
    char *volatile p = malloc(32);

    free(p);
    free(p);
    return 0;
}

/* For the benchmarks: the monotonic time (shared with the host: no time
 * namespace), then the fault; the host measures fault-to-report from it. */
__attribute__((noinline)) static int stamp(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("stamp %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    fflush(stdout);
    return null_write();
}

static const struct {
    const char *name;
    int (*fn)(void);
} modes[] = {
    { "null-read", null_read },
    { "null-write", null_write },
    { "wild-store", wild_store },
    { "text-store", text_store },
    { "nx-jump", nx_jump },
    { "ud2", ud2 },
    { "hlt", hlt },
    { "stack-overflow", stack_overflow },
    { "abort", do_abort },
    { "div-zero", div_zero },
    { "sigbus", sigbus },
    { "thread", second_thread },
    { "fork-child", forked_child },
    { "double-free", double_free },
    { "stamp", stamp },
};

int main(int argc, char **argv)
{
    if (argc == 2)
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
            if (!strcmp(argv[1], modes[i].name)) {
                printf("crasher: %s\n", argv[1]);
                fflush(stdout);
                return modes[i].fn();
            }
    fprintf(stderr, "usage: crasher MODE, one of:");
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        fprintf(stderr, " %s", modes[i].name);
    fputc('\n', stderr);
    return 2;
}
