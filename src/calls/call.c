/* SPDX-License-Identifier: MIT */
/*
 * call.c: a call, and the other requests to a worker: symbols, worker
 * memory behind handles (alloc, free, read, write, poke).
 *
 * Each request is a round trip on the worker's channel by the thread that
 * holds the worker (lib.h): buffers are copied into the worker's arena,
 * the request goes into its ring, the reply is awaited within the call's
 * budgets, and OUT buffers are copied back. Everything the worker writes
 * is hostile: a reply is copied out of the ring and checked (size, op,
 * sequence number) before any field is used, and buffers are copied with
 * the channel's bounds-checked copies, never through a pointer of its.
 * A worker that breaks the protocol is ended like one that crashed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/process/procscan.h"
#include "calls/lib.h"
#include "calls/proto.h"
#include "core/result.h"
#include "forensics/forensics.h"
#include "policy/seccomp.h"
#include "util/array.h"
#include "util/error.h"
#include "util/range.h"
#include "util/util.h"

#define ARENA_MIN   (UINT64_C(64) << 10)
#define ARENA_ALIGN 64
/* How often a call with a CPU budget looks at the worker's CPU time. */
#define CPU_POLL_NS (10LL * 1000000)
/* How long a killed worker may take to hang up. */
#define DEATH_NS    (10LL * 1000000000)
#define HANDLES_MAX (1u << 16)

/* One request's context: the worker held, its budgets, what became of it. */
struct rt {
    struct sbvm_lib *lib;
    struct worker *w;
    int64_t deadline;   /* CLOCK_MONOTONIC ns, or INT64_MAX */
    uint64_t cpu_ns;    /* budget, 0: none */
    uint64_t cpu_start; /* the worker's CPU time (ns) when it began */
    uint64_t timeout_ms, cpu_ms;
    enum worker_kill killed;
    bool lost; /* the worker is gone or no longer trusted */
    char why[160];
};

/* ---- budgets -------------------------------------------------------------------- */

/* The worker's CPU time so far in ns, or 0 when it cannot be read. */
static uint64_t worker_cpu_ns(struct worker *w)
{
    char buf[1024];
    uint64_t v[2];
    static long hz;

    if (w->procfd < 0 || read_small_at(w->procfd, "stat", buf, sizeof(buf)) <= 0 ||
        !procscan_stat_fields(buf, 14, 15, v))
        return 0;
    if (!hz)
        hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
    return (v[0] + v[1]) * (1000000000 / (uint64_t)hz);
}

static void rt_init(struct rt *c, struct sbvm_lib *lib, struct worker *w,
                    const struct sbvm_call_info *info)
{
    memset(c, 0, sizeof(*c));
    c->lib = lib;
    c->w = w;
    c->timeout_ms = info && info->timeout_ms ? info->timeout_ms : lib->timeout_ms;
    c->cpu_ms = info && info->cpu_ms ? info->cpu_ms : lib->cpu_ms;
    c->deadline = c->timeout_ms && c->timeout_ms < INT64_MAX / 2000000
                      ? now_mono_ns() + (int64_t)c->timeout_ms * 1000000
                      : INT64_MAX;
    if (c->cpu_ms) {
        c->cpu_ns = c->cpu_ms < UINT64_MAX / 2000000 ? c->cpu_ms * 1000000 : UINT64_MAX / 2;
        c->cpu_start = worker_cpu_ns(w);
    }
}

/* The worker is to be ended: a budget spent, or it broke the protocol. */
static void rt_kill(struct rt *c, enum worker_kill why)
{
    if (!c->killed)
        c->killed = why;
    c->lost = true;
    c->deadline = now_mono_ns() + DEATH_NS;
    c->cpu_ns = 0;
    lib_kill(c->w, why);
}

/* ---- one round trip -------------------------------------------------------------- */

static int rt_send(struct rt *c, const void *msg, size_t len)
{
    int r;

    if (c->lost)
        return -EPIPE;
    r = sbvm_channel_ring_write(c->w->ch, CALLS_RING_REQ, msg, len, 0, NULL);
    if (r == -EAGAIN) {
        /* Requests are answered one by one: a full ring is a worker that
         * stopped reading. */
        snprintf(c->why, sizeof(c->why), "the worker stopped taking requests");
        rt_kill(c, KILL_CLOSE);
        return -EPROTO;
    }
    if (r < 0)
        c->lost = true;
    return r;
}

/*
 * The reply to request (op, seq): 0 and *rep (and its text, made printable,
 * when text is given), or -errno: -EPIPE when the worker is gone (killed
 * for a budget, or died), -EPROTO when it broke the protocol (then it is
 * being ended).
 */
static int rt_recv(struct rt *c, uint32_t op, uint32_t seq, struct calls_rep *rep, char *text,
                   size_t textcap)
{
    unsigned char buf[sizeof(struct calls_rep) + CALLS_TEXT_MAX];

    for (;;) {
        long n = sbvm_channel_ring_read(c->w->ch, CALLS_RING_REP, buf, sizeof(buf), NULL, NULL);
        int64_t now, slice;
        int r;

        if (n >= 0) {
            if (c->lost)
                continue; /* a late word from a worker being ended */
            if ((size_t)n < sizeof(*rep))
                goto bad;
            memcpy(rep, buf, sizeof(*rep));
            if (rep->op != op || rep->seq != seq || rep->len != (size_t)n - sizeof(*rep))
                goto bad;
            if (text && textcap) {
                size_t k = rep->len < textcap - 1 ? rep->len : textcap - 1;
                for (size_t i = 0; i < k; i++) {
                    unsigned char ch = buf[sizeof(*rep) + i];
                    text[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
                }
                text[k] = '\0';
            }
            return 0;
        }
        if (n != -EAGAIN) {
            c->lost = true;
            return n == -EPROTO ? -EPROTO : -EPIPE;
        }
        now = now_mono_ns();
        if (now >= c->deadline) {
            if (c->killed) {
                /* Killed, and still no hang-up: its end says the rest. */
                return -EPIPE;
            }
            rt_kill(c, KILL_TIMEOUT);
            continue;
        }
        slice = c->deadline == INT64_MAX ? -1 : c->deadline - now;
        if (c->cpu_ns && (slice < 0 || slice > CPU_POLL_NS))
            slice = CPU_POLL_NS;
        r = sbvm_channel_wait(c->w->ch, slice, NULL);
        if (r < 0) {
            c->lost = true;
            return r == -EPROTO ? -EPROTO : -EPIPE;
        }
        if (r == 0 && c->cpu_ns && worker_cpu_ns(c->w) - c->cpu_start > c->cpu_ns)
            rt_kill(c, KILL_CPU);
    }
bad:
    snprintf(c->why, sizeof(c->why), "the worker sent a malformed reply");
    rt_kill(c, KILL_CLOSE);
    return -EPROTO;
}

/* A whole round trip of a plain request. */
static int rt_req(struct rt *c, uint32_t op, uint64_t a, uint64_t b, uint64_t cc,
                  struct calls_rep *rep)
{
    struct calls_req q = { .op = op, .seq = ++c->w->seq, .a = a, .b = b, .c = cc };
    int r = rt_send(c, &q, sizeof(q));

    return r < 0 ? r : rt_recv(c, op, q.seq, rep, NULL, 0);
}

/* The worker's arena holds at least `need` bytes. */
static int rt_arena(struct rt *c, uint64_t need)
{
    struct worker *w = c->w;
    struct calls_rep rep;
    uint64_t size;
    int r;

    if (need <= w->arena_size)
        return 0;
    size = w->arena_size * 2 > need ? w->arena_size * 2 : need;
    if (size < ARENA_MIN)
        size = ARENA_MIN;
    if (size > c->lib->buffer_bytes)
        size = need;
    r = rt_req(c, OP_ARENA, size, 0, 0, &rep);
    if (r < 0)
        return r;
    if (rep.status < 0)
        return rep.status == -ENOSPC ? -ENOSPC : -ENOMEM;
    if (rep.b != size) {
        snprintf(c->why, sizeof(c->why), "the worker sent a malformed reply");
        rt_kill(c, KILL_CLOSE);
        return -EPROTO;
    }
    /* Its offset is checked by every copy (it must lie in a region the
     * channel handed out); a lie only breaks this worker's own calls. */
    w->arena_off = rep.a;
    w->arena_size = size;
    return 0;
}

/* ---- how a worker ended, in words ------------------------------------------------ */

static const struct sbvm_crash *worker_crash(const sbvm_result *r, int pid)
{
    size_t n = sbvm_result_crash_count(r);

    for (size_t i = 0; i < n; i++)
        if (sbvm_crash_pid(sbvm_result_crash(r, i)) == pid)
            return sbvm_result_crash(r, i);
    return n ? sbvm_result_crash(r, 0) : NULL;
}

/* Whether a module is the C library's, the loader's or the worker's own
 * (a crash there is usually the library's doing further up). */
static bool system_module(const char *m)
{
    const char *base = m ? strrchr(m, '/') : NULL;

    base = base ? base + 1 : m;
    return !base || str_has_prefix(base, "libc.so") || str_has_prefix(base, "ld-linux") ||
           str_has_prefix(base, "libpthread") || str_has_prefix(base, "memfd:");
}

/* "; called from f (file:line)": the innermost frame in the library when
 * the crash itself is in the C library (abort, a failed check); "" when
 * the crash is in the library already, or no frame is. */
static const char *library_frame(const sbvm_crash *cr)
{
    static __thread char buf[256];
    size_t n = sbvm_crash_frame_count(cr);

    if (n == 0 || !system_module(sbvm_crash_frame(cr, 0)->module))
        return "";
    for (size_t i = 1; i < n; i++) {
        const struct sbvm_frame *f = sbvm_crash_frame(cr, i);
        if (system_module(f->module) || !f->function)
            continue;
        if (f->file && f->line)
            snprintf(buf, sizeof(buf), "; called from %s (%s:%d)", f->function, f->file, f->line);
        else
            snprintf(buf, sizeof(buf), "; called from %s", f->function);
        return buf;
    }
    return "";
}

/*
 * The worker is gone (or being ended) during a request: waits for its end,
 * and says what happened as this request's outcome. The worker's result
 * goes to *result when given.
 */
static int rt_lost(struct rt *c, enum sbvm_call_outcome *outcome, sbvm_result **result,
                   sbvm_error **err)
{
    struct sbvm_lib *lib = c->lib;
    struct worker *w = c->w;
    const struct sbvm_crash *cr;
    sbvm_result *r;
    const char *tail = "; the worker and its state are lost, the next call gets a fresh one";
    int e;

    lib_wait_end(lib, w);
    pthread_mutex_lock(&lib->mu);
    r = w->result;
    w->result = NULL;
    if (!c->killed && w->kill)
        c->killed = w->kill;
    pthread_mutex_unlock(&lib->mu);
    *outcome = SBVM_CALL_LOST;
    e = -EPIPE;
    switch (c->killed) {
    case KILL_TIMEOUT:
        *outcome = SBVM_CALL_TIMEOUT;
        e = error_set(err, ETIMEDOUT, "over its time budget (%llu ms): the worker was ended%s",
                      (unsigned long long)c->timeout_ms, tail);
        goto out;
    case KILL_CPU:
        *outcome = SBVM_CALL_CPU;
        e = error_set(err, ETIMEDOUT, "over its CPU budget (%llu ms): the worker was ended%s",
                      (unsigned long long)c->cpu_ms, tail);
        goto out;
    case KILL_RESET:
        e = error_set(err, EPIPE, "the library was reset during the call%s", tail);
        goto out;
    case KILL_CLOSE:
        if (c->why[0]) {
            e = error_set(err, EPROTO, "%s: it was ended%s", c->why, tail);
            goto out;
        }
        if (lib->state == LIB_CLOSING) {
            e = error_set(err, ESHUTDOWN, "the library was closed during the call");
            goto out;
        }
        break;
    case KILL_NONE:
        break;
    }
    if (!r) {
        pthread_mutex_lock(&lib->mu);
        e = error_set(err, EPIPE, "the worker is gone: %s%s",
                      w->fail_text ? w->fail_text : "its end was not reported", tail);
        pthread_mutex_unlock(&lib->mu);
        goto out;
    }
    switch (sbvm_result_outcome(r)) {
    case SBVM_OUTCOME_CRASHED:
        cr = worker_crash(r, w->pid);
        if (cr && sbvm_crash_signal(cr) == SIGSYS && sbvm_crash_code(cr) == 1 /* SYS_SECCOMP */) {
            /* Its own filter killed it: a call a library has no business
             * making. */
            const char *name = seccomp_syscall_name(cr->raw.syscall);
            *outcome = SBVM_CALL_DENIED;
            e = error_set(err, EPERM,
                          "denied: the library called %s (syscall %d), which a worker "
                          "may not%s",
                          name ? name : "an unknown syscall", cr->raw.syscall, tail);
            goto out;
        }
        *outcome = SBVM_CALL_CRASHED;
        e = error_set(err, EFAULT, "crashed: %s%s%s",
                      cr ? sbvm_crash_summary(cr) : sbvm_result_message(r),
                      cr ? library_frame(cr) : "", tail);
        goto out;
    case SBVM_OUTCOME_DENIED:
        *outcome = SBVM_CALL_DENIED;
        e = error_set(err, EPERM, "%s%s", sbvm_result_message(r), tail);
        goto out;
    case SBVM_OUTCOME_EXITED:
        e = error_set(err, EPIPE,
                      "the worker exited with code %d during the call (the library "
                      "called exit()?)%s",
                      sbvm_result_exit_code(r), tail);
        goto out;
    default:
        e = error_set(err, EPIPE, "the worker is gone: %s%s", sbvm_result_message(r), tail);
        goto out;
    }
out:
    if (result)
        *result = r;
    else
        sbvm_result_free(r);
    return e;
}

/* ---- handles -------------------------------------------------------------------- */

/* A live handle of the held worker w: its slot, or -EBADF. */
static int handle_get(struct worker *w, sbvm_handle h, struct handle **out, sbvm_error **err)
{
    uint64_t id;
    size_t slot;
    uint32_t gen;

    if (lib_handle_split(w->lib, h, &id, &slot, &gen) < 0 || id != (w->id & 0xffffff) ||
        slot >= w->nhandles || !w->handles[slot].live || w->handles[slot].gen != gen)
        return error_set(err, EBADF,
                         "handle 0x%llx is not a live handle of this library (freed, or never "
                         "made)",
                         (unsigned long long)h);
    *out = &w->handles[slot];
    return 0;
}

static int handle_new(struct worker *w, uint64_t ptr, uint64_t size, bool alloc, sbvm_handle *out,
                      sbvm_error **err)
{
    size_t slot = w->nhandles;

    for (size_t i = 0; i < w->nhandles; i++) {
        size_t k = (w->free_slot_hint + i) % w->nhandles;
        if (!w->handles[k].live) {
            slot = k;
            break;
        }
    }
    if (slot == w->nhandles) {
        if (w->nhandles >= HANDLES_MAX)
            return error_set(err, EMFILE, "a worker holds at most %u handles", HANDLES_MAX);
        if (ARRAY_GROW(w->handles, w->nhandles + 1, &w->handles_alloc) < 0)
            return error_set(err, ENOMEM, "out of memory");
        w->handles[w->nhandles++] = (struct handle){ 0 };
    }
    w->handles[slot].ptr = ptr;
    w->handles[slot].size = size;
    w->handles[slot].alloc = alloc;
    w->handles[slot].live = true;
    w->free_slot_hint = slot + 1;
    *out = lib_handle(w, slot);
    return 0;
}

static void handle_drop(struct handle *h)
{
    h->live = false;
    h->gen++;
    h->ptr = 0;
}

/* The worker a handle names: its id, or -EBADF. */
static int handle_worker(struct sbvm_lib *lib, sbvm_handle h, uint64_t *id, sbvm_error **err)
{
    size_t slot;
    uint32_t gen;

    if (lib_handle_split(lib, h, id, &slot, &gen) < 0)
        return error_set(err, EBADF, "0x%llx is not a handle of this library",
                         (unsigned long long)h);
    return 0;
}

/* ---- symbols -------------------------------------------------------------------- */

static struct sbvm_fn *fn_find(struct sbvm_lib *lib, const char *name)
{
    for (size_t i = 0; i < lib->nfns; i++)
        if (streq(lib->fns[i]->name, name))
            return lib->fns[i];
    return NULL;
}

/* Looks symbol `fn` up in the held worker, unless it did already; the
 * request is sent, and *pending says a reply is to be read for it. */
static int sym_send(struct rt *c, const struct sbvm_fn *fn, uint32_t *seq, bool *pending)
{
    unsigned char msg[sizeof(struct calls_req) + CALLS_SYM_NAME_MAX];
    struct calls_req q = { .op = OP_SYM, .a = fn->id };
    size_t len = strlen(fn->name);

    *pending = false;
    if (c->w->known[fn->id / 8] & (1u << (fn->id % 8)))
        return 0;
    q.seq = *seq = ++c->w->seq;
    q.b = len;
    memcpy(msg, &q, sizeof(q));
    memcpy(msg + sizeof(q), fn->name, len);
    *pending = true;
    return rt_send(c, msg, sizeof(q) + len);
}

static int sym_recv(struct rt *c, const struct sbvm_fn *fn, uint32_t seq, sbvm_error **err)
{
    char text[CALLS_TEXT_MAX];
    struct calls_rep rep;
    int r = rt_recv(c, OP_SYM, seq, &rep, text, sizeof(text));

    if (r < 0)
        return r;
    if (rep.status < 0)
        return error_set(err, ENOENT, "%s: no symbol %s in %s", text[0] ? text : "not found",
                         fn->name, c->lib->shown);
    c->w->known[fn->id / 8] |= (uint8_t)(1u << (fn->id % 8));
    return 0;
}

SBVM_API const char *sbvm_fn_name(const sbvm_fn *fn)
{
    return fn->name;
}

SBVM_API int sbvm_lib_sym(sbvm_lib *lib, const char *name, sbvm_fn **out, sbvm_error **err)
{
    enum sbvm_call_outcome oc;
    struct sbvm_fn *fn;
    struct worker *w;
    struct rt c;
    uint32_t seq;
    bool pending;
    int r = 0;

    *out = NULL;
    if (!name || !*name || strlen(name) > CALLS_SYM_NAME_MAX)
        return error_set(err, EINVAL, "a symbol name is 1 to %d bytes", CALLS_SYM_NAME_MAX);
    /* Each name gets a number of its own once, whether or not it exists,
     * so that a number means one name in every worker. */
    pthread_mutex_lock(&lib->mu);
    fn = fn_find(lib, name);
    if (!fn) {
        if (lib->nfns >= CALLS_SYMS_MAX)
            r = error_set(err, EMFILE, "at most %d symbols per library", CALLS_SYMS_MAX);
        else if (ARRAY_GROW(lib->fns, lib->nfns + 1, &lib->fns_alloc) < 0 ||
                 !(fn = calloc(1, sizeof(*fn))) || !(fn->name = strdup(name)))
            r = error_set(err, ENOMEM, "out of memory");
        if (r == 0) {
            fn->lib = lib;
            fn->id = (uint32_t)lib->nfns;
            lib->fns[lib->nfns++] = fn;
        } else if (fn) {
            free(fn);
            fn = NULL;
        }
    }
    if (fn && fn->found) {
        *out = fn;
        pthread_mutex_unlock(&lib->mu);
        return 0;
    }
    pthread_mutex_unlock(&lib->mu);
    if (r < 0)
        return r;
    /* A worker looks it up: its loader's word on whether it exists. */
    r = lib_acquire(lib, 0, &w, err);
    if (r < 0)
        return r;
    rt_init(&c, lib, w, NULL);
    r = sym_send(&c, fn, &seq, &pending);
    if (r == 0 && pending)
        r = sym_recv(&c, fn, seq, err);
    if (r < 0 && r != -ENOENT)
        r = rt_lost(&c, &oc, NULL, err);
    lib_release(lib, w);
    if (r < 0)
        return r;
    pthread_mutex_lock(&lib->mu);
    fn->found = true;
    pthread_mutex_unlock(&lib->mu);
    *out = fn;
    return 0;
}

/* ---- calls ---------------------------------------------------------------------- */

struct placed {
    uint64_t off; /* in the arena */
};

static bool is_buffer(enum sbvm_arg_kind k)
{
    return k == SBVM_ARG_IN || k == SBVM_ARG_OUT || k == SBVM_ARG_INOUT;
}

static bool is_handle(enum sbvm_arg_kind k)
{
    return k == SBVM_ARG_HANDLE || k == SBVM_ARG_FREES;
}

/* Checks what can be checked without a worker: kinds, counts, buffer
 * sizes (their layout in the arena, into off[] and *total), and which
 * worker the handles name (*wid, 0: none). */
static int check_args(struct sbvm_lib *lib, const struct sbvm_arg *args, size_t nargs,
                      uint64_t *off, uint64_t *total, uint64_t *wid, sbvm_error **err)
{
    unsigned ni = 0, nd = 0, ns = 0;
    uint64_t t = 0;

    *wid = 0;
    if (nargs > CALLS_ARGS_MAX || (nargs && !args))
        return error_set(err, EINVAL, "at most %d arguments", CALLS_ARGS_MAX);
    for (size_t i = 0; i < nargs; i++) {
        const struct sbvm_arg *a = &args[i];
        uint64_t id;

        switch (a->kind) {
        case SBVM_ARG_DOUBLE:
        case SBVM_ARG_FLOAT:
            if (nd < CALLS_FP_ARGS)
                nd++;
            else
                ns++;
            continue;
        case SBVM_ARG_INT:
        case SBVM_ARG_NULL:
            break;
        case SBVM_ARG_IN:
        case SBVM_ARG_OUT:
        case SBVM_ARG_INOUT:
            if (!a->buf && a->len)
                return error_set(err, EINVAL, "argument %zu: a NULL buffer of %zu bytes", i,
                                 a->len);
            t = (t + ARENA_ALIGN - 1) & ~(uint64_t)(ARENA_ALIGN - 1);
            off[i] = t;
            if (a->len > lib->buffer_bytes || t + a->len > lib->buffer_bytes)
                return error_set(err, E2BIG,
                                 "argument %zu: the call's buffers exceed the library's limit "
                                 "(%llu bytes)",
                                 i, (unsigned long long)lib->buffer_bytes);
            t += a->len;
            break;
        case SBVM_ARG_HANDLE:
        case SBVM_ARG_FREES: {
            int r = handle_worker(lib, a->h, &id, err);
            if (r < 0)
                return r;
            if (*wid && id != *wid)
                return error_set(err, EXDEV,
                                 "argument %zu: a handle of worker %llu, others of worker %llu: "
                                 "worker memory cannot cross workers",
                                 i, (unsigned long long)id, (unsigned long long)*wid);
            *wid = id;
            break;
        }
        default:
            return error_set(err, EINVAL, "argument %zu: unknown kind %d", i, (int)a->kind);
        }
        if (ni < CALLS_INT_ARGS)
            ni++;
        else
            ns++;
    }
    if (ns > CALLS_STACK_ARGS)
        return error_set(err, EINVAL,
                         "%zu arguments: at most %d integer-class and %d floating-point ones in "
                         "registers, and %d more on the stack",
                         nargs, CALLS_INT_ARGS, CALLS_FP_ARGS, CALLS_STACK_ARGS);
    *total = t;
    return 0;
}

static uint64_t fp_bits(const struct sbvm_arg *a)
{
    uint64_t u = 0;

    if (a->kind == SBVM_ARG_FLOAT) {
        float f = (float)a->d;
        uint32_t b;
        memcpy(&b, &f, sizeof(b));
        u = b;
    } else {
        memcpy(&u, &a->d, sizeof(u));
    }
    return u;
}

static void set_value(enum sbvm_type ret, const struct calls_rep *rep, union sbvm_value *v)
{
    uint32_t lo = (uint32_t)rep->a;

    memset(v, 0, sizeof(*v));
    switch (ret) {
    case SBVM_INT:
        v->i = (int32_t)lo;
        break;
    case SBVM_UINT:
        v->u = lo;
        break;
    case SBVM_LONG:
    case SBVM_ULONG:
        v->u = rep->a;
        break;
    case SBVM_DOUBLE:
        memcpy(&v->d, &rep->b, sizeof(v->d));
        break;
    case SBVM_FLOAT: {
        uint32_t b = (uint32_t)rep->b;
        memcpy(&v->f, &b, sizeof(v->f));
        break;
    }
    case SBVM_VOID:
    case SBVM_PTR:
        break;
    }
}

/* The call itself, on the held worker. */
static int do_call(struct rt *c, const struct sbvm_fn *fn, enum sbvm_type ret,
                   const struct sbvm_arg *args, size_t nargs, const uint64_t *off, uint64_t total,
                   union sbvm_value *value, sbvm_error **err)
{
    struct worker *w = c->w;
    struct calls_call m;
    struct calls_rep rep;
    char text[CALLS_TEXT_MAX];
    uint32_t sym_seq = 0;
    bool sym_pending;
    size_t len;
    int r;

    /* Handles first: a stale one refuses the call before anything runs. */
    memset(&m, 0, sizeof(m));
    for (size_t i = 0; i < nargs; i++) {
        struct handle *h;
        if (!is_handle(args[i].kind))
            continue;
        if ((r = handle_get(w, args[i].h, &h, err)) < 0)
            return r;
        if (h->alloc && args[i].offset > h->size)
            return error_set(err, ERANGE, "argument %zu: offset %llu is past its %llu bytes", i,
                             (unsigned long long)args[i].offset, (unsigned long long)h->size);
        m.args[i].kind = ARG_PTR;
        m.args[i].a = h->ptr + args[i].offset;
    }
    if ((r = rt_arena(c, total)) < 0) {
        if (c->lost)
            goto fail;
        return error_set(err, -r, "the worker's window cannot hold the call's %llu bytes",
                         (unsigned long long)total);
    }
    for (size_t i = 0; i < nargs; i++) {
        const struct sbvm_arg *a = &args[i];
        if (is_buffer(a->kind)) {
            m.args[i].kind = a->kind == SBVM_ARG_OUT ? ARG_BUF_OUT : ARG_BUF;
            m.args[i].a = off[i];
            m.args[i].b = a->len;
            if (a->kind != SBVM_ARG_OUT && a->len &&
                (r = sbvm_channel_copy_to(w->ch, w->arena_off + off[i], a->buf, a->len, NULL)) <
                    0) {
                snprintf(c->why, sizeof(c->why), "its arena is not where it said");
                rt_kill(c, KILL_CLOSE);
                goto fail;
            }
        } else if (a->kind == SBVM_ARG_INT) {
            m.args[i].kind = ARG_INT;
            m.args[i].a = (uint64_t)a->i;
        } else if (a->kind == SBVM_ARG_DOUBLE || a->kind == SBVM_ARG_FLOAT) {
            m.args[i].kind = ARG_FP;
            m.args[i].a = fp_bits(a);
        } else if (a->kind == SBVM_ARG_NULL) {
            m.args[i].kind = ARG_INT;
            m.args[i].a = 0;
        }
    }
    m.op = OP_CALL;
    m.sym = fn->id;
    m.nargs = (uint16_t)nargs;
    m.ret = ret == SBVM_DOUBLE || ret == SBVM_FLOAT ? RET_XMM0 : RET_RAX;
    /* The symbol's lookup, if this worker has not made it yet, goes in the
     * same batch: one round trip. */
    if ((r = sym_send(c, fn, &sym_seq, &sym_pending)) < 0)
        goto fail;
    m.seq = ++w->seq;
    len = offsetof(struct calls_call, args) + nargs * sizeof(struct calls_arg);
    if ((r = rt_send(c, &m, len)) < 0)
        goto fail;
    if (sym_pending && (r = sym_recv(c, fn, sym_seq, err)) < 0) {
        if (r != -ENOENT)
            goto fail;
        /* The call that follows fails for want of it: read its reply. */
        if (rt_recv(c, OP_CALL, m.seq, &rep, NULL, 0) < 0)
            goto fail;
        return r;
    }
    if ((r = rt_recv(c, OP_CALL, m.seq, &rep, text, sizeof(text))) < 0)
        goto fail;
    if (rep.status < 0) {
        /* Nothing our own worker says for a well-formed call. */
        snprintf(c->why, sizeof(c->why), "the worker refused a well-formed call (%.60s)", text);
        rt_kill(c, KILL_CLOSE);
        r = -EPROTO;
        goto fail;
    }
    w->calls++;
    for (size_t i = 0; i < nargs; i++) {
        const struct sbvm_arg *a = &args[i];
        if ((a->kind == SBVM_ARG_OUT || a->kind == SBVM_ARG_INOUT) && a->len &&
            (r = sbvm_channel_copy_from(w->ch, w->arena_off + off[i], a->buf, a->len, NULL)) < 0) {
            snprintf(c->why, sizeof(c->why), "its arena is not where it said");
            rt_kill(c, KILL_CLOSE);
            goto fail;
        }
    }
    if (value)
        set_value(ret, &rep, value);
    if (ret == SBVM_PTR && rep.a) {
        sbvm_handle h = 0;
        if ((r = handle_new(w, rep.a, 0, false, &h, err)) < 0)
            return r;
        if (value)
            value->h = h;
    }
    return 0;
fail:
    return r < 0 ? r : -EPROTO;
}

static void info_set(struct sbvm_call_info *info, struct sbvm_lib *lib, struct worker *w,
                     uint64_t calls_before, enum sbvm_call_outcome o)
{
    if (!info)
        return;
    info->outcome = o;
    info->worker = w ? w->id : 0;
    info->worker_calls = calls_before;
    pthread_mutex_lock(&lib->mu);
    info->losses = lib->losses;
    pthread_mutex_unlock(&lib->mu);
}

SBVM_API int sbvm_lib_call(sbvm_lib *lib, const sbvm_fn *fn, enum sbvm_type ret,
                           const struct sbvm_arg *args, size_t nargs, union sbvm_value *value,
                           struct sbvm_call_info *info, sbvm_error **err)
{
    uint64_t off[CALLS_ARGS_MAX] = { 0 }, total = 0, wid = 0, before;
    enum sbvm_call_outcome oc = SBVM_CALL_REFUSED;
    struct worker *w = NULL;
    struct rt c;
    int r;

    if (info) {
        if (info->size < offsetof(struct sbvm_call_info, result) + sizeof(info->result))
            return error_set(err, EINVAL,
                             "struct sbvm_call_info: set its size (sizeof(struct "
                             "sbvm_call_info))");
        info->result = NULL;
        info_set(info, lib, NULL, 0, SBVM_CALL_REFUSED);
    }
    if (value)
        memset(value, 0, sizeof(*value));
    if (!fn || fn->lib != lib)
        return error_set(err, EINVAL, "the function is not one of this library's");
    if ((unsigned)ret > SBVM_PTR)
        return error_set(err, EINVAL, "unknown return type %d", (int)ret);
    r = check_args(lib, args, nargs, off, &total, &wid, err);
    if (r < 0)
        return r;
    r = lib_acquire(lib, wid, &w, err);
    if (r < 0)
        return r;
    before = w->calls;
    rt_init(&c, lib, w, info);
    r = do_call(&c, fn, ret, args, nargs, off, total, value, err);
    if (r == 0) {
        oc = SBVM_CALL_RETURNED;
    } else if (c.lost || c.killed) {
        r = rt_lost(&c, &oc, info ? &info->result : NULL, err);
        if (value)
            memset(value, 0, sizeof(*value));
    }
    /* A handle the function frees is forgotten however the call ended,
     * unless it was refused before it ran. */
    if (oc != SBVM_CALL_REFUSED || r == 0)
        for (size_t i = 0; i < nargs; i++) {
            struct handle *h;
            if (args[i].kind == SBVM_ARG_FREES && handle_get(w, args[i].h, &h, NULL) == 0)
                handle_drop(h);
        }
    __atomic_fetch_add(&lib->calls, 1, __ATOMIC_RELAXED);
    info_set(info, lib, w, before, oc);
    lib_release(lib, w);
    return r;
}

/* ---- worker memory -------------------------------------------------------------- */

/* A plain request whose worker may be lost on the way: its reply, or the
 * loss in words. */
static int mem_req(struct rt *c, uint32_t op, uint64_t a, uint64_t b, uint64_t cc,
                   struct calls_rep *rep, sbvm_error **err)
{
    enum sbvm_call_outcome oc;
    int r = rt_req(c, op, a, b, cc, rep);

    if (r < 0)
        return rt_lost(c, &oc, NULL, err);
    if (rep->status < 0 && op != OP_ALLOC) {
        snprintf(c->why, sizeof(c->why), "the worker refused a well-formed request");
        rt_kill(c, KILL_CLOSE);
        return rt_lost(c, &oc, NULL, err);
    }
    return 0;
}

SBVM_API int sbvm_lib_alloc(sbvm_lib *lib, size_t size, sbvm_handle near, sbvm_handle *out,
                            sbvm_error **err)
{
    struct calls_rep rep;
    struct worker *w;
    uint64_t wid = 0;
    struct rt c;
    int r;

    *out = 0;
    if (size == 0 || size > lib->buffer_bytes)
        return error_set(err, size ? E2BIG : EINVAL, "allocating %zu bytes: 1 to %llu", size,
                         (unsigned long long)lib->buffer_bytes);
    if (near && (r = handle_worker(lib, near, &wid, err)) < 0)
        return r;
    if ((r = lib_acquire(lib, wid, &w, err)) < 0)
        return r;
    rt_init(&c, lib, w, NULL);
    r = mem_req(&c, OP_ALLOC, size, 0, 0, &rep, err);
    if (r == 0 && (rep.status < 0 || rep.a == 0))
        r = error_set(err, ENOMEM, "allocating %zu bytes in worker %llu: out of memory", size,
                      (unsigned long long)w->id);
    else if (r == 0)
        r = handle_new(w, rep.a, size, true, out, err);
    lib_release(lib, w);
    return r;
}

/* Takes the worker of h and h's slot; the caller releases the worker. */
static int take_handle(struct sbvm_lib *lib, sbvm_handle h, struct worker **w, struct handle **hd,
                       sbvm_error **err)
{
    uint64_t wid;
    int r;

    if ((r = handle_worker(lib, h, &wid, err)) < 0 || (r = lib_acquire(lib, wid, w, err)) < 0)
        return r;
    if ((r = handle_get(*w, h, hd, err)) < 0) {
        lib_release(lib, *w);
        *w = NULL;
    }
    return r;
}

SBVM_API int sbvm_lib_free(sbvm_lib *lib, sbvm_handle h, sbvm_error **err)
{
    struct calls_rep rep;
    struct handle *hd;
    struct worker *w;
    struct rt c;
    int r;

    if ((r = take_handle(lib, h, &w, &hd, err)) < 0)
        return r;
    if (!hd->alloc) {
        lib_release(lib, w);
        return error_set(err, EINVAL,
                         "handle 0x%llx was not made by sbvm_lib_alloc(): free it with the "
                         "library's own function (SBVM_FREES)",
                         (unsigned long long)h);
    }
    rt_init(&c, lib, w, NULL);
    r = mem_req(&c, OP_FREE, hd->ptr, 0, 0, &rep, err);
    if (r == 0)
        handle_drop(hd);
    lib_release(lib, w);
    return r;
}

SBVM_API int sbvm_lib_forget(sbvm_lib *lib, sbvm_handle h, sbvm_error **err)
{
    struct handle *hd;
    struct worker *w;
    int r;

    if ((r = take_handle(lib, h, &w, &hd, err)) < 0)
        return r;
    handle_drop(hd);
    lib_release(lib, w);
    return 0;
}

/* Read (out) or write (!out) len bytes at offset of h. */
static int mem_copy(struct sbvm_lib *lib, sbvm_handle h, uint64_t offset, void *buf, size_t len,
                    bool out, sbvm_error **err)
{
    struct calls_rep rep;
    struct handle *hd;
    struct worker *w;
    struct rt c;
    int r;

    if (len && !buf)
        return error_set(err, EINVAL, "a NULL buffer of %zu bytes", len);
    if (len > lib->buffer_bytes)
        return error_set(err, E2BIG, "%zu bytes: more than the library's limit (%llu)", len,
                         (unsigned long long)lib->buffer_bytes);
    if ((r = take_handle(lib, h, &w, &hd, err)) < 0)
        return r;
    if (hd->alloc && !range_ok(offset, len, hd->size)) {
        lib_release(lib, w);
        return error_set(err, ERANGE, "bytes %llu..%llu of a %llu-byte allocation",
                         (unsigned long long)offset, (unsigned long long)(offset + len),
                         (unsigned long long)hd->size);
    }
    if (!len) {
        lib_release(lib, w);
        return 0;
    }
    rt_init(&c, lib, w, NULL);
    if ((r = rt_arena(&c, len)) < 0) {
        enum sbvm_call_outcome oc;
        if (c.lost || c.killed)
            r = rt_lost(&c, &oc, NULL, err);
        else
            r = error_set(err, -r, "the worker's window cannot hold %zu bytes", len);
        lib_release(lib, w);
        return r;
    }
    if (!out && (r = sbvm_channel_copy_to(w->ch, w->arena_off, buf, len, err)) < 0) {
        lib_release(lib, w);
        return r;
    }
    r = mem_req(&c, out ? OP_READ : OP_WRITE, hd->ptr + offset, len, 0, &rep, err);
    if (r == 0 && out)
        r = sbvm_channel_copy_from(w->ch, w->arena_off, buf, len, err);
    lib_release(lib, w);
    return r;
}

SBVM_API int sbvm_lib_read(sbvm_lib *lib, sbvm_handle h, uint64_t offset, void *dst, size_t len,
                           sbvm_error **err)
{
    return mem_copy(lib, h, offset, dst, len, true, err);
}

SBVM_API int sbvm_lib_write(sbvm_lib *lib, sbvm_handle h, uint64_t offset, const void *src,
                            size_t len, sbvm_error **err)
{
    return mem_copy(lib, h, offset, (void *)(uintptr_t)src, len, false, err);
}

SBVM_API int sbvm_lib_poke(sbvm_lib *lib, sbvm_handle h, uint64_t offset, sbvm_handle target,
                           uint64_t target_offset, sbvm_error **err)
{
    struct handle *hd, *td;
    struct calls_rep rep;
    struct worker *w;
    uint64_t value = 0;
    struct rt c;
    int r;

    if ((r = take_handle(lib, h, &w, &hd, err)) < 0)
        return r;
    if (hd->alloc && !range_ok(offset, sizeof(uint64_t), hd->size)) {
        lib_release(lib, w);
        return error_set(err, ERANGE, "a pointer at %llu of a %llu-byte allocation",
                         (unsigned long long)offset, (unsigned long long)hd->size);
    }
    if (target) {
        uint64_t tid;
        if ((r = handle_worker(lib, target, &tid, err)) < 0 ||
            (tid != (w->id & 0xffffff) &&
             (r = error_set(err, EXDEV,
                            "the target is another worker's: worker memory cannot "
                            "point across workers")) < 0) ||
            (r = handle_get(w, target, &td, err)) < 0) {
            lib_release(lib, w);
            return r;
        }
        if (td->alloc && target_offset > td->size) {
            lib_release(lib, w);
            return error_set(err, ERANGE, "target offset %llu is past its %llu bytes",
                             (unsigned long long)target_offset, (unsigned long long)td->size);
        }
        value = td->ptr + target_offset;
    }
    rt_init(&c, lib, w, NULL);
    r = mem_req(&c, OP_POKE, hd->ptr + offset, value, 0, &rep, err);
    lib_release(lib, w);
    return r;
}
