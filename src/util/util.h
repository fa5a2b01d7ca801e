/* SPDX-License-Identifier: MIT */
/*
 * util.h: small helpers every source file uses: checked arithmetic, string
 * predicates, retry-on-EINTR. Includes banned.h, so include it last.
 */
#ifndef SBVM_UTIL_UTIL_H
#define SBVM_UTIL_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* Overflow-checked arithmetic: true when the result did not fit. */
#define ckd_add(r, a, b) __builtin_add_overflow((a), (b), (r))
#define ckd_sub(r, a, b) __builtin_sub_overflow((a), (b), (r))
#define ckd_mul(r, a, b) __builtin_mul_overflow((a), (b), (r))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define UNUSED      __attribute__((unused))
#define NORETURN    __attribute__((noreturn))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define RETRY_EINTR(expr)                                                                          \
    ({                                                                                             \
        __typeof__(expr) r_;                                                                       \
        do {                                                                                       \
            r_ = (expr);                                                                           \
        } while (r_ == -1 && errno == EINTR);                                                      \
        r_;                                                                                        \
    })

static inline bool streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static inline bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Monotonic and wall clocks in nanoseconds. */
int64_t now_mono_ns(void);
int64_t now_real_ns(void);

/* Write/read all of a buffer, retrying short transfers and EINTR. Return 0 or
 * -errno; read_full returns the byte count (short only at EOF). */
int write_full(int fd, const void *buf, size_t len);
/* write() that never raises SIGPIPE in the caller's process, whatever its
 * disposition: a library must not kill its host because a guest closed a
 * pipe. Same return as write(2) (-1 and errno EPIPE for a closed reader). */
ssize_t write_nosigpipe(int fd, const void *buf, size_t len);
long read_full(int fd, void *buf, size_t len);

/* Reads a whole small file (at most `max` bytes) into a malloc'd, NUL-
 * terminated buffer. Returns 0 or -errno (-EFBIG when larger than max). */
int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len);

/* openat2(2), O_CLOEXEC added; `resolve` is RESOLVE_* flags. An fd, or -1
 * and errno. */
int openat2_at(int dirfd, const char *path, int flags, uint64_t resolve);

/* Reads a small file (a /proc entry) beneath dirfd into buf, at most size-1
 * bytes, NUL-terminated, a final symlink not followed: the length, or -1. */
long read_small_at(int dirfd, const char *name, char *buf, size_t size);

/* "512M", "1G", "64k", "1048576" into bytes: K, M, G, T are powers of 1024,
 * a trailing "B" or "iB" is accepted. 0, or -EINVAL for anything else
 * (zero, negative, overflowing, trailing text). Used by the command line
 * and by profiles, which must agree. */
int parse_size(const char *s, uint64_t *bytes);

/* Seconds (fractions allowed, more than 0, at most 10^7) into milliseconds,
 * rounded up so that no positive request becomes 0. 0, or -EINVAL. Shared
 * by the command line and profiles. */
int seconds_to_ms(double seconds, uint64_t *ms);

/* sendmsg of iov[0..iovcnt) with nfds (at most SEND_FDS_MAX) descriptors
 * passed along (SCM_RIGHTS), MSG_NOSIGNAL added to flags, again after
 * EINTR: the bytes sent, or -errno. */
#define SEND_FDS_MAX 8
struct iovec;
long send_with_fds(int sock, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds,
                   int flags);

#include "util/banned.h"

#endif
