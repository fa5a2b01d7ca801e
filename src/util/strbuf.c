/* SPDX-License-Identifier: MIT */
/* strbuf.c: growable byte buffer with sticky allocation failure. */
#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

char strbuf_empty[1];

void strbuf_init(struct strbuf *sb)
{
    sb->buf = strbuf_empty;
    sb->len = 0;
    sb->alloc = 0;
    sb->failed = false;
}

void strbuf_release(struct strbuf *sb)
{
    if (sb->alloc)
        free(sb->buf);
    strbuf_init(sb);
}

void strbuf_reset(struct strbuf *sb)
{
    strbuf_truncate(sb, 0);
    sb->failed = false;
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
    char *r;

    if (sb->failed) {
        strbuf_release(sb);
        return NULL;
    }
    if (!sb->alloc) {
        r = calloc(1, 1);
    } else {
        r = sb->buf;
    }
    if (len)
        *len = r ? sb->len : 0;
    strbuf_init(sb);
    return r;
}

bool strbuf_grow(struct strbuf *sb, size_t extra)
{
    size_t need, nalloc;
    char *nb;

    if (sb->failed)
        return false;
    if (ckd_add(&need, sb->len, extra) || ckd_add(&need, need, 1))
        goto fail;
    if (need <= sb->alloc)
        return true;
    nalloc = sb->alloc ? sb->alloc : 64;
    while (nalloc < need) {
        if (ckd_mul(&nalloc, nalloc, 2))
            goto fail;
    }
    nb = realloc(sb->alloc ? sb->buf : NULL, nalloc);
    if (!nb)
        goto fail;
    if (!sb->alloc)
        nb[0] = '\0';
    sb->buf = nb;
    sb->alloc = nalloc;
    return true;
fail:
    sb->failed = true;
    return false;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
    if (!strbuf_grow(sb, len))
        return;
    if (len)
        memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, char c)
{
    strbuf_add(sb, &c, 1);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    if (sb->failed)
        return;
    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0 || !strbuf_grow(sb, (size_t)n)) {
        sb->failed = true;
        return;
    }
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

void strbuf_truncate(struct strbuf *sb, size_t len)
{
    if (len >= sb->len)
        return;
    sb->len = len;
    if (sb->alloc)
        sb->buf[len] = '\0';
}
