/* SPDX-License-Identifier: MIT */
/*
 * strbuf.h: one growable byte buffer for the whole project.
 *
 * Invariants: `buf` is never NULL and always NUL-terminated after init, so it
 * is a valid C string even when empty (it may also hold embedded NULs). An
 * allocation failure does not abort: the buffer becomes "failed", keeps what it
 * had, ignores further appends, and strbuf_failed() reports it. Callers append
 * freely and check once at the end.
 */
#ifndef SBVM_UTIL_STRBUF_H
#define SBVM_UTIL_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *buf;
    size_t len;
    size_t alloc; /* 0 while buf points at the shared empty string */
    bool failed;
};

extern char strbuf_empty[];
#define STRBUF_INIT                                                                                \
    {                                                                                              \
        .buf = strbuf_empty, .len = 0, .alloc = 0, .failed = false                                 \
    }

void strbuf_init(struct strbuf *sb);
/* Frees the contents; the buffer is back to STRBUF_INIT. */
void strbuf_release(struct strbuf *sb);
/* Empties the buffer but keeps its allocation. */
void strbuf_reset(struct strbuf *sb);
/* Takes the contents as a malloc'd string (never NULL unless failed) and
 * leaves the buffer empty. Returns NULL when the buffer failed. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

/* Makes room for `extra` more bytes plus the terminator. Returns false when
 * the buffer is (or becomes) failed. */
bool strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void strbuf_truncate(struct strbuf *sb, size_t len);

static inline bool strbuf_failed(const struct strbuf *sb)
{
    return sb->failed;
}

#endif
