/* SPDX-License-Identifier: MIT */
/*
 * sync.h: the memory-ordering and sleeping primitives both ends of the host
 * channel use on the shared window: C11 atomics on the ABI's plain integer
 * fields, a copy that the compiler cannot turn into a second read, futexes
 * that work across processes, and the spin-then-sleep policy.
 *
 * Header-only (static inline) because the guest SDK, a static library linked
 * into programs we do not control, must not export helper symbols.
 */
#ifndef SBVM_SHM_SYNC_H
#define SBVM_SHM_SYNC_H

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

/*
 * The ABI structures use plain uint32_t / uint64_t so that guest.h stays
 * usable from C++ and older compilers; these casts give them C11 atomic
 * semantics. GCC and clang lay out _Atomic integers exactly like the plain
 * ones on the targets we build for, which the assertions pin down.
 */
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "atomic u32 layout");
_Static_assert(_Alignof(_Atomic uint32_t) == _Alignof(uint32_t), "atomic u32 alignment");
_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t), "atomic u64 layout");
_Static_assert(_Alignof(_Atomic uint64_t) == _Alignof(uint64_t), "atomic u64 alignment");

#define SHM_A32(p) ((_Atomic uint32_t *)(void *)(p))
#define SHM_A64(p) ((_Atomic uint64_t *)(void *)(p))

static inline uint32_t shm_load32(const uint32_t *p, memory_order mo)
{
    return atomic_load_explicit(SHM_A32((uint32_t *)p), mo);
}

static inline uint64_t shm_load64(const uint64_t *p, memory_order mo)
{
    return atomic_load_explicit(SHM_A64((uint64_t *)p), mo);
}

static inline void shm_store32(uint32_t *p, uint32_t v, memory_order mo)
{
    atomic_store_explicit(SHM_A32(p), v, mo);
}

static inline void shm_store64(uint64_t *p, uint64_t v, memory_order mo)
{
    atomic_store_explicit(SHM_A64(p), v, mo);
}

/* The full barrier of the "publish, then look whether the peer sleeps" /
 * "announce sleep, then look for work" pairs (Dekker): without it each side
 * could read the other's flag before its own store is visible, and both
 * would miss each other. */
static inline void shm_fence(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}

/*
 * Copies bytes out of the window into private memory. The barrier stops the
 * compiler from dropping the private copy and reading the shared bytes again
 * where the copy is used (a double fetch a hostile peer could race): after
 * it, the window's bytes may have changed, so the copy must be kept.
 */
static inline void shm_copy_in(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
    __asm__ __volatile__("" ::: "memory");
}

static inline void shm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline int64_t shm_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Sleeps while *word == expect, at most timeout_ns (< 0: no limit). Shared
 * (not FUTEX_PRIVATE) because the word is in memory mapped by two processes.
 * 0 when woken, -EAGAIN when the word had already changed, -ETIMEDOUT,
 * -EINTR.
 */
static inline int shm_futex_wait(uint32_t *word, uint32_t expect, int64_t timeout_ns)
{
    struct timespec ts, *tsp = NULL;

    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    if (syscall(SYS_futex, word, FUTEX_WAIT, expect, tsp, NULL, 0) == 0)
        return 0;
    return -errno;
}

static inline void shm_futex_wake(uint32_t *word, int n)
{
    syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* How a waiter spends its time before it sleeps. */
struct shm_spin {
    uint64_t spin_ns; /* busy polling with pause */
    unsigned yields;  /* then this many sched_yield() calls */
};

/*
 * Publishes the CPU this waiter runs on (*mine) and says whether the peer
 * last ran on the same one (*theirs). Busy polling there is worse than
 * useless: the peer cannot run until the poller gives up the CPU, so each
 * hand-off would cost the whole budget. The peer's value is only a hint
 * (a hostile one changes nothing but whether we poll).
 */
static inline int shm_same_cpu(uint32_t *mine, const uint32_t *theirs)
{
    int cpu = sched_getcpu();

    if (cpu < 0)
        return 0;
    shm_store32(mine, (uint32_t)cpu + 1, memory_order_relaxed);
    return shm_load32(theirs, memory_order_relaxed) == (uint32_t)cpu + 1;
}

/*
 * Polls ready(arg) under the spin policy, without sleeping: 1 as soon as it
 * is true, 0 when the budget is spent. The clock is read every 32 polls: a
 * vDSO clock read costs about as much as a few pauses. no_poll skips the
 * busy polling (see shm_same_cpu), not the yields.
 */
static inline int shm_spin_until(const struct shm_spin *sp, int no_poll, int (*ready)(void *),
                                 void *arg)
{
    if (ready(arg))
        return 1;
    if (sp->spin_ns > 0 && !no_poll) {
        int64_t end = shm_now_ns() + (int64_t)sp->spin_ns;
        for (unsigned i = 1;; i++) {
            shm_cpu_relax();
            if (ready(arg))
                return 1;
            if ((i & 31) == 0 && shm_now_ns() >= end)
                break;
        }
    }
    for (unsigned i = 0; i < sp->yields; i++) {
        sched_yield();
        if (ready(arg))
            return 1;
    }
    return 0;
}

#endif
