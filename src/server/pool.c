/* SPDX-License-Identifier: MIT */
/*
 * pool.c: the warm pool (serve --warm N): sandboxes of the server's
 * default settings, made ahead, so that a create that asks for nothing of
 * its own is answered at once. A pooled sandbox belongs to the server's
 * uid and is nobody's until taken; it runs no job before. The pool is
 * refilled one sandbox at a time, only when no request is waiting
 * (server.c), and never beyond --max-sandboxes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv.h"
#include "util/array.h"
#include "util/util.h"

/* After a failed refill, the next try waits this long. */
#define RETRY_NS (5LL * 1000000000)

struct sbx *pool_take(struct server *s, uid_t owner)
{
    while (s->npool) {
        struct sbx *x = s->pool[--s->npool];
        /* One that ended while it waited (it should not) is not handed out. */
        if (!sbx_alive(x)) {
            sbx_end(s, x, "ended");
            continue;
        }
        x->pooled = false;
        x->owner = owner;
        x->created_real = now_real_ns();
        x->created_mono = x->active_mono = now_mono_ns();
        /* It was registered when made; callers register what they create,
         * so take it out of the list first. */
        for (size_t i = 0; i < s->nsbx; i++)
            if (s->sbx[i] == x) {
                memmove(&s->sbx[i], &s->sbx[i + 1], (s->nsbx - i - 1) * sizeof(s->sbx[0]));
                s->nsbx--;
                break;
            }
        return x;
    }
    return NULL;
}

bool pool_refill(struct server *s)
{
    struct sbx *x;
    sbvm_error *e = NULL;
    size_t live = 0;

    for (size_t i = 0; i < s->nsbx; i++)
        live += s->sbx[i]->state == SBX_READY;
    if (s->npool >= s->o.warm || live >= s->o.max_sandboxes)
        return false;
    if (ARRAY_GROW(s->pool, s->npool + 1, &s->pool_alloc) < 0)
        return false;
    x = sbx_new(s, s->uid);
    if (!x)
        return false;
    x->pooled = true;
    x->settings = json_incref(s->defaults);
    if (sbvm_sandbox_create(s->loop, s->defcfg, &x->sb, &e) < 0) {
        srv_log(s, "warm pool: %s (trying again in 5 s)", sbvm_error_message(e));
        sbvm_error_free(e);
        sbx_free(x);
        s->pool_retry_mono = now_mono_ns() + RETRY_NS;
        return false;
    }
    if (sbx_register(s, x) < 0) {
        sbx_end(s, x, "error");
        sbx_free(x);
        return false;
    }
    s->pool[s->npool++] = x;
    return true;
}

void pool_drain(struct server *s)
{
    while (s->npool) {
        struct sbx *x = s->pool[--s->npool];
        sbx_end(s, x, "pool_drained");
        /* Its record goes at the next tick (pooled records are not kept). */
    }
}
