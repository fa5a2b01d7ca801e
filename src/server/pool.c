/* SPDX-License-Identifier: MIT */
/*
 * pool.c: the warm pool (serve --warm N): sandboxes of the server's
 * default settings, made ahead, so that a create that asks for nothing of
 * its own is answered at once. A pooled sandbox belongs to the server's
 * uid and is nobody's until taken; it runs no job before. Refills are
 * started one at a time when no request is waiting (server.c) and built
 * in the background like any other sandbox (sbvm_sandbox_start), never
 * beyond --max-sandboxes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv.h"
#include "util/array.h"
#include "util/util.h"

/* After a failed refill, the next try waits this long. */
#define RETRY_NS (5LL * 1000000000)
/* A refill starts once no request has moved for QUIET_NS, or at the latest
 * BUSY_NS after the previous one: starting a sandbox still takes the
 * thread for a millisecond or two (the library prepares it and forks its
 * first process here), and its building takes the machine's CPUs for a
 * few more, which a client that has just taken a pooled sandbox and now
 * runs its first job would wait for. */
#define QUIET_NS (20LL * 1000000)
#define BUSY_NS  (100LL * 1000000)

size_t pool_ready(struct server *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->npool; i++)
        n += sbx_alive(s->pool[i]);
    return n;
}

void pool_forget(struct server *s, struct sbx *x)
{
    size_t keep = 0;

    for (size_t i = 0; i < s->npool; i++)
        if (s->pool[i] != x)
            s->pool[keep++] = s->pool[i];
    s->npool = keep;
}

struct sbx *pool_take(struct server *s, uid_t owner)
{
    for (size_t k = s->npool; k-- > 0;) {
        struct sbx *x = s->pool[k];
        if (!sbx_alive(x))
            continue; /* still being built, or ending */
        pool_forget(s, x);
        x->pooled = false;
        x->owner = owner;
        x->created_real = now_real_ns();
        x->created_mono = x->active_mono = now_mono_ns();
        /* The caller registers it as its own (created()). */
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

bool pool_wants(struct server *s)
{
    size_t live = 0;

    if (!s->o.warm || s->npool >= s->o.warm || now_mono_ns() < s->pool_retry_mono)
        return false;
    for (size_t i = 0; i < s->nsbx; i++)
        live += s->sbx[i]->state == SBX_READY || s->sbx[i]->state == SBX_STARTING;
    return live < s->o.max_sandboxes;
}

int pool_wait_ms(struct server *s)
{
    int64_t now = now_mono_ns(), at;

    if (!pool_wants(s))
        return -1;
    at = s->active_mono + QUIET_NS;
    if (s->pool_started_mono + BUSY_NS < at)
        at = s->pool_started_mono + BUSY_NS;
    return at <= now ? 0 : (int)((at - now + 999999) / 1000000);
}

bool pool_refill(struct server *s)
{
    struct sbx *x;
    sbvm_error *e = NULL;

    if (!pool_wants(s) || ARRAY_GROW(s->pool, s->npool + 1, &s->pool_alloc) < 0)
        return false;
    x = sbx_new(s, s->uid);
    if (!x)
        return false;
    s->pool_started_mono = now_mono_ns();
    x->pooled = true;
    x->settings = json_incref(s->defaults);
    x->idle_ms = s->o.idle_ms;
    x->lifetime_ms = s->o.lifetime_ms;
    if (sbvm_sandbox_start(s->loop, s->defcfg, &x->sb, &e) < 0) {
        srv_log(s, "warm pool: %s (trying again in 5 s)", sbvm_error_message(e));
        sbvm_error_free(e);
        sbx_free(x);
        s->pool_retry_mono = now_mono_ns() + RETRY_NS;
        return false;
    }
    x->state = SBX_STARTING;
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
        /* Its record goes once it has ended (pooled records are not kept). */
        sbx_stop(s, x, "pool_drained");
    }
}
