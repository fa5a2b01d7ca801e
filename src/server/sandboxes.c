/* SPDX-License-Identifier: MIT */
/*
 * sandboxes.c: the server's sandboxes: create (from the settings, a
 * snapshot or the warm pool), list, inspect, destroy; their idle timeout
 * and maximum lifetime; and the record an ended sandbox leaves for a while
 * (why it ended, its own result), so that no sandbox vanishes unexplained.
 * A client sees only its own uid's sandboxes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/sandbox.h"
#include "report/report.h"
#include "server/srv.h"
#include "util/array.h"
#include "util/error.h"
#include "util/util.h"

json_t *json_time(int64_t real_ns)
{
    char buf[40];

    if (!real_ns)
        return json_null();
    report_format_time(real_ns, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *json_ms_as_s(uint64_t ms)
{
    return ms ? json_real((double)ms / 1000.0) : json_null();
}

bool sbx_alive(const struct sbx *x)
{
    /* A sandbox-wide limit, or its exec server's end, ends a sandbox
     * without anyone asking. */
    return x->state == SBX_READY && x->sb && sbvm_sandbox_state(x->sb) == SBVM_SANDBOX_READY;
}

void sbx_touch(struct sbx *x)
{
    x->active_mono = now_mono_ns();
}

struct sbx *sbx_new(struct server *s, uid_t owner)
{
    struct sbx *x = calloc(1, sizeof(*x));
    unsigned char rnd[6];

    if (!x)
        return NULL;
    /* Unguessable, so that ids are no channel between clients either. */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        uint64_t v = (uint64_t)now_mono_ns() ^ ++s->seq;
        memcpy(rnd, &v, sizeof(rnd));
    }
    snprintf(x->id, sizeof(x->id), "sb-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    x->owner = owner;
    x->state = SBX_READY;
    x->created_real = now_real_ns();
    x->created_mono = x->active_mono = now_mono_ns();
    return x;
}

int sbx_register(struct server *s, struct sbx *x)
{
    if (ARRAY_GROW(s->sbx, s->nsbx + 1, &s->sbx_alloc) < 0)
        return -ENOMEM;
    s->sbx[s->nsbx++] = x;
    return 0;
}

void sbx_free(struct sbx *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->njobs; i++)
        sjob_free(x->jobs[i]);
    free(x->jobs);
    free(x->waiters);
    if (x->sb)
        sbvm_sandbox_destroy(x->sb, NULL, NULL);
    if (x->layer) {
        rm_tree(x->layer);
        free(x->layer);
    }
    json_decref(x->settings);
    json_decref(x->final);
    free(x->label);
    free(x->snapshot);
    free(x);
}

struct sbx *sbx_find(struct server *s, const char *id, uid_t owner)
{
    /* One being built is nobody's yet: its creator learns its id when it
     * is ready. */
    for (size_t i = 0; i < s->nsbx; i++)
        if (!s->sbx[i]->pooled && s->sbx[i]->state != SBX_STARTING && s->sbx[i]->owner == owner &&
            streq(s->sbx[i]->id, id))
            return s->sbx[i];
    return NULL;
}

static size_t live_count(struct server *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->nsbx; i++)
        n += s->sbx[i]->state == SBX_READY || s->sbx[i]->state == SBX_STARTING;
    return n;
}

char *sbx_layer_dir(struct server *s, const struct sbx *x)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb, "%s/layers/%s", s->o.state_dir, x->id);
    return strbuf_detach(&sb, NULL);
}

/* When it expires by itself, in ns (0: never). */
static int64_t sbx_expiry(const struct sbx *x)
{
    int64_t t = 0;

    if (x->lifetime_ms)
        t = x->created_mono + (int64_t)x->lifetime_ms * 1000000;
    if (x->idle_ms && x->running == 0) {
        int64_t i = x->active_mono + (int64_t)x->idle_ms * 1000000;
        t = t && t < i ? t : i;
    }
    return t;
}

json_t *sbx_json(struct server *s, struct sbx *x, bool full)
{
    json_t *o = json_object(), *jobs;
    int64_t exp = x->state == SBX_READY ? sbx_expiry(x) : 0;
    size_t done = 0;

    (void)s;
    json_object_set_new(o, "id", json_string(x->id));
    json_object_set_new(o, "name", x->label ? json_string(x->label) : json_null());
    json_object_set_new(o, "owner_uid", json_integer(x->owner));
    {
        static const char *const names[] = { "starting", "ready", "ending", "ended" };
        json_object_set_new(o, "state", json_string(names[x->state]));
    }
    json_object_set_new(o, "created_at", json_time(x->created_real));
    json_object_set_new(o, "persistent", json_boolean(x->persistent));
    json_object_set_new(o, "snapshot", x->snapshot ? json_string(x->snapshot) : json_null());
    json_object_set_new(o, "idle_timeout", json_ms_as_s(x->idle_ms));
    json_object_set_new(o, "max_lifetime", json_ms_as_s(x->lifetime_ms));
    json_object_set_new(o, "expires_at",
                        exp ? json_time(x->created_real + (exp - x->created_mono)) : json_null());
    json_object_set_new(o, "ended_at", json_time(x->ended_real));
    json_object_set_new(o, "end_reason", x->end_reason ? json_string(x->end_reason) : json_null());
    for (size_t i = 0; i < x->njobs; i++)
        done += x->jobs[i]->done;
    jobs = json_pack("{s:I, s:I, s:I}", "running", (json_int_t)x->running, "kept",
                     (json_int_t)x->njobs, "started", (json_int_t)x->next_job);
    json_object_set_new(o, "jobs", jobs);
    if (!full)
        return o;
    json_object_set(o, "settings", x->settings ? x->settings : json_null());
    if (x->state == SBX_READY && sbx_alive(x)) {
        sbvm_result *inv = NULL;
        sbvm_error *e = NULL;
        if (sbvm_sandbox_inventory(x->sb, &inv, &e) == 0) {
            json_t *g = report_guest_json(0, inv);
            json_object_set(o, "inventory", json_object_get(g, "ledger"));
            json_object_set(o, "network", json_object_get(g, "network"));
            json_decref(g);
            sbvm_result_free(inv);
        } else {
            json_object_set_new(o, "inventory", json_null());
            json_object_set_new(o, "inventory_error", json_string(sbvm_error_message(e)));
            sbvm_error_free(e);
        }
    }
    json_object_set(o, "result", x->final ? x->final : json_null());
    return o;
}

/* ---- the end of a sandbox ------------------------------------------------ */

/* How long a sandbox may take to be built before it is given up. */
#define START_TIMEOUT_NS (30LL * 1000000000)

void sbx_stop(struct server *s, struct sbx *x, const char *reason)
{
    (void)s;
    if (x->state != SBX_READY && x->state != SBX_STARTING)
        return;
    if (!x->end_reason)
        x->end_reason = reason;
    x->state = SBX_ENDING;
    if (x->sb)
        sbvm_sandbox_stop(x->sb);
}

/* Answers every request that waits for x (takes the reference). */
static void sbx_answer(struct server *s, struct sbx *x, unsigned status, json_t *body)
{
    for (size_t i = 0; i < x->nwaiters; i++)
        http_complete(s, x->waiters[i], status,
                      i + 1 < x->nwaiters ? json_deep_copy(body) : json_incref(body));
    json_decref(body);
    x->nwaiters = 0;
    x->creating = false;
}

/* The request being handled waits for x's building or end: whether it
 * does (if not, the caller answers now). */
static bool sbx_wait(struct server *s, struct sbx *x, struct MHD_Connection *c)
{
    struct req *q;

    if (ARRAY_GROW(x->waiters, x->nwaiters + 1, &x->waiters_alloc) < 0)
        return false;
    q = http_defer(s, c);
    if (!q)
        return false;
    x->waiters[x->nwaiters++] = q;
    return true;
}

/* Its end is complete (the library's state ENDED): take its result, tell
 * whoever waits. Frees nothing of the server's record. */
static void sbx_finish(struct server *s, struct sbx *x)
{
    sbvm_result *fin = NULL;
    sbvm_error *e = NULL;

    /* Ended already: this does not wait. */
    if (x->sb && sbvm_sandbox_destroy(x->sb, &fin, &e) < 0) {
        srv_log(s, "sandbox %s: %s", x->id, sbvm_error_message(e));
        sbvm_error_free(e);
    }
    x->sb = NULL;
    x->state = SBX_ENDED;
    x->running = 0;
    x->ended_mono = now_mono_ns();
    x->ended_real = now_real_ns();
    if (fin) {
        x->final = report_guest_json(0, fin);
        if (x->final)
            json_object_del(x->final, "index");
        sbvm_result_free(fin);
    }
    if (!x->end_reason) {
        /* Nobody asked: a sandbox-wide limit, or its own end. */
        const char *oc = json_string_value(json_object_get(x->final, "outcome"));
        x->end_reason = oc && streq(oc, "limit") ? "limit" : "ended";
    }
    for (size_t i = 0; i < x->njobs; i++)
        sjob_sandbox_ended(s, x->jobs[i]);
    if (x->layer) {
        rm_tree(x->layer);
        free(x->layer);
        x->layer = NULL;
    }
    if (x->pooled)
        pool_forget(s, x);
    else
        srv_log(s, "sandbox %s (uid %u) ended: %s", x->id, (unsigned)x->owner, x->end_reason);
    if (x->creating)
        sbx_answer(s, x, s->stopping ? 503 : 500,
                   http_error_doc(s->stopping ? 503 : 500,
                                  "the sandbox ended while it was being built (%s)",
                                  x->end_reason));
    else
        sbx_answer(s, x, 200, sbx_json(s, x, true));
}

void sbx_end(struct server *s, struct sbx *x, const char *reason)
{
    if (x->state == SBX_ENDED)
        return;
    sbx_stop(s, x, reason);
    /* Waits for it (at most the library's own bound). */
    if (x->sb)
        sbvm_sandbox_destroy(x->sb, NULL, NULL), x->sb = NULL;
    sbx_finish(s, x);
}

static void sbx_drop_ptr(struct server *s, struct sbx *x);

/* Built: it may be used, and the request that asked for it is answered. */
static void sbx_ready(struct server *s, struct sbx *x)
{
    struct strbuf why = STRBUF_INIT;

    x->state = SBX_READY;
    sbx_touch(x);
    if (x->snapshot && !x->filled) {
        x->filled = true;
        if (snapshot_fill(s, x, x->owner, x->snapshot, &why) != 0) {
            sbx_answer(s, x, 500, http_error_doc(500, "%s", why.buf));
            strbuf_release(&why);
            sbx_stop(s, x, "error");
            return;
        }
    }
    strbuf_release(&why);
    if (x->pooled)
        return;
    srv_log(s, "sandbox %s created for uid %u%s%s", x->id, (unsigned)x->owner,
            x->snapshot ? " from snapshot " : "", x->snapshot ? x->snapshot : "");
    sbx_answer(s, x, 201, sbx_json(s, x, false));
}

/* It could not be built: the request that asked hears why; no record is
 * kept (it never had an id anyone saw). */
static void sbx_failed(struct server *s, struct sbx *x)
{
    sbvm_result *res = NULL;
    const char *msg;
    unsigned st;

    sbvm_sandbox_destroy(x->sb, &res, NULL);
    x->sb = NULL;
    msg = res && sbvm_result_message(res) ? sbvm_result_message(res) : "it ended while built";
    /* The status a synchronous create gave: from the set-up's errno. */
    st = http_status_of(res && sbvm_result_setup_errno(res) ? sbvm_result_setup_errno(res) : EIO);
    if (x->pooled)
        srv_log(s, "warm pool: a sandbox could not be built: %s", msg);
    sbx_answer(s, x, st, http_error_doc(st, "creating the sandbox: %s", msg));
    sbvm_result_free(res);
    if (x->pooled) {
        pool_forget(s, x);
        s->pool_retry_mono = now_mono_ns() + 5LL * 1000000000;
    }
    sbx_drop_ptr(s, x);
}

static void sbx_drop(struct server *s, size_t i)
{
    sbx_free(s->sbx[i]);
    memmove(&s->sbx[i], &s->sbx[i + 1], (s->nsbx - i - 1) * sizeof(s->sbx[0]));
    s->nsbx--;
}

static void sbx_drop_ptr(struct server *s, struct sbx *x)
{
    for (size_t i = 0; i < s->nsbx; i++)
        if (s->sbx[i] == x) {
            sbx_drop(s, i);
            return;
        }
    sbx_free(x);
}

static bool streaming(const struct sbx *x)
{
    for (size_t i = 0; i < x->njobs; i++)
        if (x->jobs[i]->stream)
            return true;
    return false;
}

/* Finished jobs beyond the ones kept, oldest first (never from a callback:
 * freeing a job inside the library's dispatch of its own end is not
 * allowed). */
static void trim_jobs(struct sbx *x)
{
    size_t done = 0, keep = 0;

    for (size_t i = 0; i < x->njobs; i++)
        done += x->jobs[i]->done && !x->jobs[i]->stream;
    for (size_t i = 0; i < x->njobs; i++) {
        struct sjob *j = x->jobs[i];
        if (done > SBX_DONE_JOBS_KEPT && j->done && !j->stream) {
            sjob_free(j);
            done--;
            continue;
        }
        x->jobs[keep++] = j;
    }
    x->njobs = keep;
}

int sbx_tick(struct server *s)
{
    int64_t now = now_mono_ns(), next = 0;
    size_t ended = 0;

    for (size_t i = 0; i < s->nsbx; i++) {
        struct sbx *x = s->sbx[i];
        enum sbvm_sandbox_state lib = x->sb ? sbvm_sandbox_state(x->sb) : SBVM_SANDBOX_ENDED;
        int64_t exp;

        switch (x->state) {
        case SBX_STARTING:
            if (lib == SBVM_SANDBOX_READY && s->test_hold && access(s->test_hold, F_OK) == 0) {
                /* Held (tests): looked at again soon. */
                if (!next || now + 10000000 < next)
                    next = now + 10000000;
            } else if (lib == SBVM_SANDBOX_READY) {
                sbx_ready(s, x);
            } else if (lib == SBVM_SANDBOX_ENDED) {
                sbx_failed(s, x);
                i--; /* its record is gone */
            } else if (now - x->created_mono > START_TIMEOUT_NS) {
                sbx_answer(s, x, 504, http_error_doc(504, "the sandbox was not built in 30 s"));
                sbx_stop(s, x, "error");
            } else if (!next || x->created_mono + START_TIMEOUT_NS < next) {
                next = x->created_mono + START_TIMEOUT_NS;
            }
            continue;
        case SBX_ENDING:
            if (lib == SBVM_SANDBOX_ENDED)
                sbx_finish(s, x);
            continue;
        case SBX_ENDED:
            continue;
        case SBX_READY:
            break;
        }
        trim_jobs(x);
        if (lib != SBVM_SANDBOX_READY) {
            /* Ended by itself: finished once the library is done. */
            x->state = SBX_ENDING;
            if (lib == SBVM_SANDBOX_ENDED)
                sbx_finish(s, x);
            continue;
        }
        if (x->pooled)
            continue;
        if (x->lifetime_ms && now >= x->created_mono + (int64_t)x->lifetime_ms * 1000000) {
            sbx_stop(s, x, "max_lifetime");
            continue;
        }
        exp = sbx_expiry(x);
        if (exp && now >= exp) {
            sbx_stop(s, x, "idle_timeout");
            continue;
        }
        if (exp && (!next || exp < next))
            next = exp;
    }
    /* Ended sandboxes are remembered for a while, the newest kept. */
    for (size_t i = s->nsbx; i-- > 0;) {
        struct sbx *x = s->sbx[i];
        if (x->state != SBX_ENDED)
            continue;
        ended++;
        if (streaming(x))
            continue;
        if (x->pooled || now - x->ended_mono > TOMBSTONE_NS || ended > TOMBSTONES_MAX)
            sbx_drop(s, i);
        else if (!next || x->ended_mono + TOMBSTONE_NS < next)
            next = x->ended_mono + TOMBSTONE_NS;
    }
    if (!next)
        return -1;
    next -= now;
    if (next <= 0)
        return 0;
    next = (next + 999999) / 1000000;
    return next > INT32_MAX ? INT32_MAX : (int)next;
}

/* ---- the handlers ------------------------------------------------------- */

enum MHD_Result api_info(struct server *s, struct MHD_Connection *c, const struct peer *p)
{
    json_t *o = json_object(), *lim = json_object();

    json_object_set_new(o, "api_version", json_integer(API_VERSION));
    json_object_set_new(o, "sandboxvm_version", json_string(sbvm_version()));
    json_object_set_new(o, "uid", json_integer(p->uid));
    json_object_set_new(o, "server_uid", json_integer(s->uid));
    json_object_set_new(lim, "max_sandboxes", json_integer(s->o.max_sandboxes));
    json_object_set_new(lim, "max_jobs", json_integer(s->o.max_jobs));
    json_object_set_new(lim, "idle_timeout", json_ms_as_s(s->o.idle_ms));
    json_object_set_new(lim, "max_lifetime", json_ms_as_s(s->o.lifetime_ms));
    json_object_set_new(lim, "idle_timeout_cap", json_ms_as_s(s->o.max_idle_ms));
    json_object_set_new(lim, "max_lifetime_cap", json_ms_as_s(s->o.max_lifetime_ms));
    json_object_set_new(lim, "max_upload", json_integer((json_int_t)s->o.max_upload));
    json_object_set_new(lim, "max_body", json_integer(BODY_MAX));
    json_object_set_new(lim, "max_output", json_integer((json_int_t)OUTPUT_MAX));
    json_object_set_new(o, "limits", lim);
    json_object_set_new(o, "warm",
                        json_pack("{s:I, s:I}", "target", (json_int_t)s->o.warm, "ready",
                                  (json_int_t)pool_ready(s)));
    json_object_set_new(o, "sandboxes", json_integer((json_int_t)live_count(s)));
    {
        json_t *names = json_array();
        for (size_t i = 0; i < s->o.nrootfs; i++)
            json_array_append_new(names, json_string(s->o.rootfs[i].name));
        json_object_set_new(o, "rootfs", names);
    }
    json_object_set(o, "defaults", s->defaults);
    return http_json(c, 200, o);
}

enum MHD_Result api_list(struct server *s, struct MHD_Connection *c, const struct peer *p)
{
    json_t *a = json_array();

    for (size_t i = 0; i < s->nsbx; i++)
        if (!s->sbx[i]->pooled && s->sbx[i]->state != SBX_STARTING && s->sbx[i]->owner == p->uid)
            json_array_append_new(a, sbx_json(s, s->sbx[i], false));
    return http_json(c, 200, json_pack("{s:o}", "sandboxes", a));
}

enum MHD_Result api_inspect(struct server *s, struct MHD_Connection *c, struct sbx *x)
{
    return http_json(c, 200, sbx_json(s, x, true));
}

enum MHD_Result api_destroy(struct server *s, struct MHD_Connection *c, struct sbx *x)
{
    sbx_stop(s, x, "destroyed");
    if (x->state == SBX_ENDED)
        return http_json(c, 200, sbx_json(s, x, true));
    /* Ending: the answer comes with its result (sbx_tick), and the server
     * serves others meanwhile. */
    if (sbx_wait(s, x, c))
        return MHD_YES;
    return http_error(c, 500, "out of memory");
}

/* The timeouts a client asked for, within the server's caps. */
static int timeouts(struct server *s, const struct create_req *cr, struct sbx *x,
                    struct strbuf *why)
{
    x->idle_ms = cr->has_idle ? cr->idle_ms : s->o.idle_ms;
    x->lifetime_ms = cr->has_lifetime ? cr->lifetime_ms : s->o.lifetime_ms;
    if (s->o.max_idle_ms && (!x->idle_ms || x->idle_ms > s->o.max_idle_ms)) {
        strbuf_addf(why, "idle_timeout: at most %.3f s on this server (--idle-timeout-cap)",
                    (double)s->o.max_idle_ms / 1000.0);
        return 400;
    }
    if (s->o.max_lifetime_ms && (!x->lifetime_ms || x->lifetime_ms > s->o.max_lifetime_ms)) {
        strbuf_addf(why, "max_lifetime: at most %.3f s on this server (--max-lifetime-cap)",
                    (double)s->o.max_lifetime_ms / 1000.0);
        return 400;
    }
    return 0;
}

static enum MHD_Result created(struct server *s, struct MHD_Connection *c, struct sbx *x,
                               const struct create_req *cr)
{
    if (cr->label && !(x->label = strdup(cr->label))) {
        sbx_end(s, x, "error");
        sbx_free(x);
        return http_error(c, 500, "out of memory");
    }
    if (sbx_register(s, x) < 0) {
        sbx_end(s, x, "error");
        sbx_free(x);
        return http_error(c, 500, "out of memory");
    }
    if (x->state == SBX_READY) {
        srv_log(s, "sandbox %s created for uid %u (warm pool)", x->id, (unsigned)x->owner);
        return http_json(c, 201, sbx_json(s, x, false));
    }
    /* Being built: the answer comes when it is ready (sbx_tick), and the
     * server serves others meanwhile. */
    if (!sbx_wait(s, x, c)) {
        sbx_end(s, x, "error");
        return http_error(c, 500, "out of memory");
    }
    x->creating = true;
    return MHD_YES;
}

/* The secrets given with a restore, into the settings' network. */
static int merge_secrets(json_t *settings, json_t *secrets, struct strbuf *why)
{
    json_t *net, *list;

    if (!secrets || !json_array_size(secrets))
        return 0;
    net = json_object_get(settings, "network");
    if (!net) {
        strbuf_addstr(why, "secrets: the snapshot's sandbox had no network to inject them on");
        return 400;
    }
    list = json_object_get(net, "secrets");
    if (!list) {
        list = json_array();
        json_object_set_new(net, "secrets", list);
    }
    json_array_extend(list, secrets);
    return 0;
}

enum MHD_Result api_create(struct server *s, struct MHD_Connection *c, const struct peer *p,
                           const char *body, size_t len)
{
    struct strbuf why = STRBUF_INIT;
    struct create_req cr;
    json_t *doc = NULL, *settings = NULL, *safe = NULL;
    sbvm_config *cfg = NULL;
    sbvm_error *e = NULL;
    struct sbx *x = NULL;
    unsigned st;
    int r;
    enum MHD_Result ok;

    st = (unsigned)create_req_parse(body, len, &doc, &cr, &why);
    if (st)
        goto refuse;
    /* The warm pool serves what asks for nothing of its own. */
    if (!cr.settings && !cr.snapshot && !cr.persistent) {
        x = pool_take(s, p->uid);
        if (x) {
            if ((st = (unsigned)timeouts(s, &cr, x, &why)) != 0) {
                sbx_end(s, x, "error");
                sbx_free(x);
                goto refuse;
            }
            ok = created(s, c, x, &cr);
            json_decref(doc);
            return ok;
        }
    }
    if (live_count(s) >= s->o.max_sandboxes) {
        /* A pooled sandbox gives its place to one that was asked for. */
        if (s->npool)
            pool_drain(s);
        if (live_count(s) >= s->o.max_sandboxes) {
            strbuf_addf(&why, "this server runs %u sandboxes, its most (--max-sandboxes)",
                        s->o.max_sandboxes);
            st = 429;
            goto refuse;
        }
    }
    x = sbx_new(s, p->uid);
    cfg = sbvm_config_dup(s->defcfg);
    if (!x || !cfg) {
        strbuf_addstr(&why, "out of memory");
        st = 500;
        goto refuse;
    }
    if ((st = (unsigned)timeouts(s, &cr, x, &why)) != 0)
        goto refuse;
    if (cr.snapshot) {
        bool persistent = false;
        if ((st = (unsigned)snapshot_open(s, p->uid, cr.snapshot, &settings, &persistent, &why)))
            goto refuse;
        if ((st = (unsigned)merge_secrets(settings, cr.secrets, &why)))
            goto refuse;
        x->persistent = persistent || cr.persistent;
        x->snapshot = strdup(cr.snapshot);
    } else {
        settings = cr.settings ? json_incref(cr.settings) : json_object();
        x->persistent = cr.persistent;
    }
    if ((st = (unsigned)settings_apply(s, cfg, settings, p->uid, &safe, &why)) != 0)
        goto refuse;
    x->settings = safe;
    safe = NULL;
    if (x->persistent) {
        x->layer = sbx_layer_dir(s, x);
        if (!x->layer || mkdir(x->layer, 0700) < 0) {
            strbuf_addf(&why, "making the sandbox's layer: %s", errno_text(errno));
            st = 500;
            goto refuse;
        }
        if (cr.snapshot &&
            (st = (unsigned)snapshot_copy_layer(s, p->uid, cr.snapshot, x->layer, &why)) != 0)
            goto refuse;
        r = sbvm_config_set_layer(cfg, x->layer, &e);
        if (r < 0) {
            ok = http_sbvm_error(c, r, e, "persistent");
            goto done;
        }
    }
    r = sbvm_sandbox_start(s->loop, cfg, &x->sb, &e);
    if (r < 0) {
        ok = http_sbvm_error(c, r, e, "creating the sandbox");
        goto done;
    }
    x->state = SBX_STARTING;
    ok = created(s, c, x, &cr);
    x = NULL;
    goto done;
refuse:
    ok = http_error(c, st, "%s", why.buf);
done:
    if (x)
        sbx_free(x);
    strbuf_release(&why);
    sbvm_config_free(cfg);
    json_decref(settings);
    json_decref(safe);
    json_decref(doc);
    return ok;
}
