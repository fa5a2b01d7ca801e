/* SPDX-License-Identifier: MIT */
/* strv.c: owned string vectors. */
#include "util/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "util/util.h"

static int strv_reserve(struct strv *sv, size_t extra)
{
    size_t need;

    /* One more for the terminating NULL. */
    if (ckd_add(&need, sv->n, extra) || ckd_add(&need, need, 1))
        return -ENOMEM;
    return ARRAY_GROW(sv->v, need, &sv->alloc);
}

int strv_push_owned(struct strv *sv, char *s)
{
    if (!s || strv_reserve(sv, 1) < 0) {
        free(s);
        return -ENOMEM;
    }
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
    return 0;
}

int strv_push(struct strv *sv, const char *s)
{
    return strv_push_owned(sv, strdup(s));
}

int strv_copy(struct strv *dst, const struct strv *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (strv_push(dst, src->v[i]) < 0)
            return -ENOMEM;
    return 0;
}

long strv_find(const struct strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (streq(sv->v[i], s))
            return (long)i;
    return -1;
}

void strv_release(struct strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = sv->alloc = 0;
}

bool strv_equal(const struct strv *a, const struct strv *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}
