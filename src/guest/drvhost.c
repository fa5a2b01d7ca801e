/* SPDX-License-Identifier: MIT */
/*
 * drvhost.c: the driver runtime, in the sandboxed test process (part of
 * libsbvm-guest.a): loads the drivers the host names, gives each the driver
 * interface (include/sandboxvm/driver.h), keeps its ledger, and serves the
 * test program's units.
 *
 * Everything a driver obtains is a tracked resource on its list; what it
 * frees, detaches, stops or closes must be on its list, or the call is
 * refused and counted. Devices are reached through host calls (PCI
 * configuration and BARs); their interrupts arrive as messages on a ring
 * the host added, read by the interrupt thread, which runs the handlers.
 * DMA memory is carved from regions of the host channel's window, whose
 * window offsets (plus DRV_DMA_BASE) are the devices' addresses.
 *
 * A driver shares this process with the runtime and the test: the ledger is
 * what the driver reports through the interface, not a memory boundary. The
 * boundary is the sandbox around the process and the host's device models,
 * which trust nothing in the window.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "drivers/proto.h"
#include "sandboxvm/driver.h"
#include "sandboxvm/guest.h"

#define MAX_DRIVERS 16
#define MAX_UNITS   64
#define MAX_PCI     32
#define NAME_MAX_   32
#define DMA_CHUNK   (1u << 20)
#define IO_MAGIC    UINT64_C(0x4f49564d4253) /* "SBVMIO" */

enum rkind { R_MEM, R_DMA, R_IRQ, R_TASK, R_TIMER, R_EVENT, R_LOCK, R_UNIT, R_IO, R__COUNT };

static const char *const kind_names[R__COUNT][2] = {
    [R_MEM] = { "allocation", "allocations" },
    [R_DMA] = { "DMA buffer", "DMA buffers" },
    [R_IRQ] = { "interrupt handler", "interrupt handlers" },
    [R_TASK] = { "task", "tasks" },
    [R_TIMER] = { "timer", "timers" },
    [R_EVENT] = { "event", "events" },
    [R_LOCK] = { "lock", "locks" },
    [R_UNIT] = { "open unit", "open units" },
    [R_IO] = { "request in flight", "requests in flight" },
};

/* One tracked resource of a driver. */
struct rsrc {
    struct rsrc *prev, *next;
    enum rkind kind;
    sbvm_driver *owner;
    void *obj;   /* what the driver holds */
    size_t size; /* bytes (memory, DMA) */
};

struct sbvm_driver {
    char name[NAME_MAX_];
    char path[256];
    void *dl;
    const struct sbvm_resident *res;
    struct rsrc list; /* sentinel */
    unsigned refused; /* frees and closes of what it does not own */
    bool live;
};

/* The test program's own opens are charged to this one. */
static sbvm_driver client = { .name = "test program" };

struct sbvm_pci {
    struct drv_pci_ent ent;
};

struct sbvm_irq {
    struct rsrc r;
    unsigned slot;
    sbvm_irq_fn fn;
    void *ctx;
    bool attached;
};

struct sbvm_task {
    struct rsrc r;
    pthread_t th;
    char name[16];
    sbvm_task_fn fn;
    void *arg;
    _Atomic int done;
};

struct sbvm_timer {
    struct rsrc r;
    uint64_t when, period;
    sbvm_timer_fn fn;
    void *arg;
    bool armed;
};

struct sbvm_event {
    struct rsrc r;
    pthread_mutex_t m;
    pthread_cond_t c;
    unsigned count;
};

struct sbvm_lock {
    struct rsrc r;
    pthread_mutex_t m;
};

struct unit_reg {
    char name[NAME_MAX_];
    unsigned unit;
    sbvm_driver *drv;
    void *ctx;
};

struct sbvm_unit {
    struct rsrc r;
    uint64_t magic;
    struct unit_reg *reg;
};

struct dma_free_blk {
    uint64_t off, len; /* window offset */
    struct dma_free_blk *next;
};

struct dma_chunk {
    uint8_t *base;
    uint64_t off, len;
};

static struct {
    pthread_mutex_t lock; /* every list and registry below */
    pthread_cond_t io_cond;
    bool loaded;
    sbvm_driver drv[MAX_DRIVERS];
    unsigned ndrv;
    struct unit_reg units[MAX_UNITS];
    unsigned nunits;
    struct sbvm_pci pci[MAX_PCI];
    unsigned npci;
    int irq_ring;
    uint64_t dma_base;
    pthread_t irq_thread;
    bool irq_started;
    /* Interrupt handlers attached, by slot (all drivers). */
    struct sbvm_irq *irqs[MAX_PCI][8];
    /* DMA memory: the chunks taken from the window, and what is free. */
    struct dma_chunk chunks[64];
    unsigned nchunks;
    struct dma_free_blk *free;
    /* Timers. */
    pthread_t timer_thread;
    bool timer_started;
    pthread_cond_t timer_cond;
    struct sbvm_timer *timers[256];
    unsigned ntimers;
} RT = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .io_cond = PTHREAD_COND_INITIALIZER,
    .timer_cond = PTHREAD_COND_INITIALIZER,
    .irq_ring = -1,
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static bool streq_(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void deadline(struct timespec *ts, int64_t timeout_ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ns / 1000000000;
    ts->tv_nsec += timeout_ns % 1000000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

static void vlog(const sbvm_driver *d, unsigned level, const char *fmt, va_list ap)
{
    char line[1024];
    int n;

    n = snprintf(line, sizeof(line), "[%s%s] ", d ? d->name : "drivers",
                 level <= SBVM_LOG_ERR    ? " error"
                 : level == SBVM_LOG_WARN ? " warning"
                                          : "");
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    n = (int)strlen(line);
    line[n++] = '\n';
    if (write(2, line, (size_t)n) < 0)
        return;
}

static void rlog(const sbvm_driver *d, unsigned level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rlog(const sbvm_driver *d, unsigned level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(d, level, fmt, ap);
    va_end(ap);
}

/* Something the driver gave back was not its own: refused and counted. */
static int refuse(sbvm_driver *d, const char *what, const void *p, const char *why)
{
    d->refused++;
    rlog(d, SBVM_LOG_ERR, "refused: %s %p: %s", what, p, why);
    return -EINVAL;
}

static void list_add(sbvm_driver *d, struct rsrc *r, enum rkind k, void *obj, size_t size)
{
    r->kind = k;
    r->owner = d;
    r->obj = obj;
    r->size = size;
    r->next = &d->list;
    r->prev = d->list.prev;
    d->list.prev->next = r;
    d->list.prev = r;
}

static void list_del(struct rsrc *r)
{
    r->prev->next = r->next;
    r->next->prev = r->prev;
    r->next = r->prev = r;
}

/* The resource of kind k whose object is obj, on d's list (lock held). */
static struct rsrc *find(sbvm_driver *d, enum rkind k, const void *obj)
{
    for (struct rsrc *r = d->list.next; r != &d->list; r = r->next)
        if (r->kind == k && r->obj == obj)
            return r;
    return NULL;
}

/* Which driver owns it, if any (lock held): for a clearer refusal. */
static sbvm_driver *owner_of(enum rkind k, const void *obj)
{
    for (unsigned i = 0; i < RT.ndrv; i++)
        if (find(&RT.drv[i], k, obj))
            return &RT.drv[i];
    return find(&client, k, obj) ? &client : NULL;
}

static int host_call(uint32_t id, const void *in, size_t in_len, void *out, size_t cap,
                     size_t *out_len, int32_t *res)
{
    int32_t r = 0;
    int rc = sbvm_hostcall(id, in, in_len, out, cap, out_len, &r);

    if (res)
        *res = r;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The interface: logging and memory                                        */

static void if_log(sbvm_driver *d, unsigned level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(d, level, fmt, ap);
    va_end(ap);
}

struct memblk {
    struct rsrc r;
    uint64_t pad; /* keeps the data 16-byte aligned */
};

static void *if_alloc(sbvm_driver *d, size_t size)
{
    struct memblk *b;

    if (size > (SIZE_MAX >> 1) - sizeof(*b))
        return NULL;
    b = calloc(1, sizeof(*b) + size);
    if (!b)
        return NULL;
    pthread_mutex_lock(&RT.lock);
    list_add(d, &b->r, R_MEM, b + 1, size);
    pthread_mutex_unlock(&RT.lock);
    return b + 1;
}

static int if_free(sbvm_driver *d, void *p)
{
    struct rsrc *r;
    sbvm_driver *o;

    if (!p)
        return 0;
    pthread_mutex_lock(&RT.lock);
    r = find(d, R_MEM, p);
    if (!r) {
        o = owner_of(R_MEM, p);
        pthread_mutex_unlock(&RT.lock);
        return refuse(d, "free of", p,
                      o ? (o == d ? "already freed" : "it belongs to another driver")
                        : "not an allocation of this driver (freed twice, or never allocated)");
    }
    list_del(r);
    pthread_mutex_unlock(&RT.lock);
    free(r);
    return 0;
}

/* DMA: first fit in the free list, aligned; new chunks from the window. */
static int dma_grow(uint64_t need)
{
    uint64_t off, len = need > DMA_CHUNK ? (need + 4095) & ~4095ull : DMA_CHUNK;
    struct dma_free_blk *b;
    void *p;

    if (RT.nchunks == sizeof(RT.chunks) / sizeof(RT.chunks[0]))
        return -ENOSPC;
    p = sbvm_region_alloc(len, &off);
    if (!p)
        return -errno;
    RT.chunks[RT.nchunks++] = (struct dma_chunk){ p, off, len };
    b = malloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    *b = (struct dma_free_blk){ off, len, RT.free };
    RT.free = b;
    return 0;
}

static uint8_t *dma_cpu(uint64_t off)
{
    for (unsigned i = 0; i < RT.nchunks; i++)
        if (off >= RT.chunks[i].off && off < RT.chunks[i].off + RT.chunks[i].len)
            return RT.chunks[i].base + (off - RT.chunks[i].off);
    return NULL;
}

static int dma_take(uint64_t size, uint64_t align, uint64_t *out)
{
    for (struct dma_free_blk **pp = &RT.free; *pp; pp = &(*pp)->next) {
        struct dma_free_blk *b = *pp;
        uint64_t start = (b->off + align - 1) & ~(align - 1), pre = start - b->off;
        if (start < b->off || b->len < pre || b->len - pre < size)
            continue;
        /* Leave the part before (if any) and after as free blocks. */
        uint64_t post_off = start + size, post_len = b->len - pre - size;
        if (pre) {
            b->len = pre;
            if (post_len) {
                struct dma_free_blk *n = malloc(sizeof(*n));
                if (!n)
                    return -ENOMEM;
                *n = (struct dma_free_blk){ post_off, post_len, b->next };
                b->next = n;
            }
        } else if (post_len) {
            b->off = post_off;
            b->len = post_len;
        } else {
            *pp = b->next;
            free(b);
        }
        *out = start;
        return 0;
    }
    return -ENOSPC;
}

static void dma_give_back(uint64_t off, uint64_t len)
{
    struct dma_free_blk *b = malloc(sizeof(*b));

    /* Merged with a neighbour when it touches one; else kept apart (the
     * list stays short: drivers allocate rings and buffers once). */
    for (struct dma_free_blk *f = RT.free; f; f = f->next) {
        if (f->off + f->len == off) {
            f->len += len;
            free(b);
            return;
        }
        if (off + len == f->off) {
            f->off = off;
            f->len += len;
            free(b);
            return;
        }
    }
    if (!b)
        return; /* lost to the pool; the window keeps it */
    *b = (struct dma_free_blk){ off, len, RT.free };
    RT.free = b;
}

struct dmablk {
    struct rsrc r;
    uint64_t off, len;
};

static void *if_dma_alloc(sbvm_driver *d, size_t size, size_t align, uint64_t *dev_addr)
{
    struct dmablk *b;
    uint64_t off, len = (size + 63) & ~63ull;
    void *p;

    if (!align)
        align = 64;
    if (size == 0 || size > (1ull << 30) || align > 4096 || (align & (align - 1)))
        return NULL;
    b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    pthread_mutex_lock(&RT.lock);
    if (dma_take(len, align, &off) < 0 &&
        (dma_grow(len + align) < 0 || dma_take(len, align, &off) < 0)) {
        pthread_mutex_unlock(&RT.lock);
        free(b);
        return NULL;
    }
    p = dma_cpu(off);
    b->off = off;
    b->len = len;
    list_add(d, &b->r, R_DMA, p, size);
    pthread_mutex_unlock(&RT.lock);
    memset(p, 0, len);
    *dev_addr = RT.dma_base + off;
    return p;
}

static void dma_release_locked(struct dmablk *b)
{
    list_del(&b->r);
    dma_give_back(b->off, b->len);
    free(b);
}

static int if_dma_free(sbvm_driver *d, void *p)
{
    struct rsrc *r;
    sbvm_driver *o;

    if (!p)
        return 0;
    pthread_mutex_lock(&RT.lock);
    r = find(d, R_DMA, p);
    if (!r) {
        o = owner_of(R_DMA, p);
        pthread_mutex_unlock(&RT.lock);
        return refuse(d, "DMA free of", p,
                      o ? "it belongs to another driver" : "not a DMA buffer of this driver");
    }
    dma_release_locked((struct dmablk *)r);
    pthread_mutex_unlock(&RT.lock);
    return 0;
}

static int if_dma_addr(const void *p, size_t len, uint64_t *dev_addr)
{
    const uint8_t *b = p;
    int rc = -EFAULT;

    pthread_mutex_lock(&RT.lock);
    for (unsigned i = 0; i < RT.nchunks; i++) {
        const struct dma_chunk *c = &RT.chunks[i];
        if (b >= c->base && len <= c->len && (size_t)(b - c->base) <= c->len - len) {
            *dev_addr = RT.dma_base + c->off + (uint64_t)(b - c->base);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&RT.lock);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* PCI                                                                      */

static int if_pci_count(sbvm_driver *d)
{
    (void)d;
    return (int)RT.npci;
}

static int if_pci_get(sbvm_driver *d, unsigned index, sbvm_pci **out, struct sbvm_pci_info *info)
{
    (void)d;
    if (index >= RT.npci)
        return -ENOENT;
    *out = &RT.pci[index];
    if (info) {
        const struct drv_pci_ent *e = &RT.pci[index].ent;
        *info = (struct sbvm_pci_info){ e->slot,          e->revision,  e->vendor,    e->device,
                                        e->subsys_vendor, e->subsys_id, e->class_code };
    }
    return 0;
}

static bool pci_ok(const sbvm_pci *p)
{
    return p >= RT.pci && p < RT.pci + RT.npci;
}

static int pci_access(const sbvm_pci *p, uint32_t op, unsigned bar, uint64_t off, unsigned width,
                      uint64_t val, uint64_t *out)
{
    struct drv_pci_in in = { op, pci_ok(p) ? p->ent.slot : 0xff, bar, width, off, val };
    uint64_t v = UINT64_MAX;
    size_t n = 0;
    int32_t res = 0;
    int rc;

    if (!pci_ok(p))
        return -EINVAL;
    rc = host_call(DRV_CALL_PCI, &in, sizeof(in), &v, sizeof(v), &n, &res);
    if (rc < 0)
        return rc;
    if (out)
        *out = n == sizeof(v) ? v : UINT64_MAX;
    return res;
}

static int if_cfg_read(sbvm_pci *p, unsigned off, unsigned width, uint32_t *val)
{
    uint64_t v = UINT64_MAX;
    int rc = pci_access(p, DRV_CFG_READ, 0, off, width, 0, &v);

    *val = (uint32_t)v;
    return rc;
}

static int if_cfg_write(sbvm_pci *p, unsigned off, unsigned width, uint32_t val)
{
    return pci_access(p, DRV_CFG_WRITE, 0, off, width, val, NULL);
}

static int if_bar_read(sbvm_pci *p, unsigned bar, uint64_t off, unsigned width, uint64_t *val)
{
    return pci_access(p, DRV_BAR_READ, bar, off, width, 0, val);
}

static int if_bar_write(sbvm_pci *p, unsigned bar, uint64_t off, unsigned width, uint64_t val)
{
    return pci_access(p, DRV_BAR_WRITE, bar, off, width, val, NULL);
}

/* ------------------------------------------------------------------------ */
/* Interrupts                                                               */

static void *irq_main(void *arg)
{
    struct drv_irq_msg m;
    uint32_t tag;

    (void)arg;
    prctl(PR_SET_NAME, "sbvm-irq", 0, 0, 0);
    for (;;) {
        struct sbvm_irq *run[8];
        unsigned n = 0;
        long got = sbvm_ring_pop(RT.irq_ring, &m, sizeof(m), &tag, 0);

        if (got < 0)
            return NULL; /* the channel ended */
        if (got != sizeof(m) || m.slot >= MAX_PCI || !m.level)
            continue;
        pthread_mutex_lock(&RT.lock);
        for (unsigned i = 0; i < 8; i++)
            if (RT.irqs[m.slot][i])
                run[n++] = RT.irqs[m.slot][i];
        pthread_mutex_unlock(&RT.lock);
        /* The handlers run here, on this thread, without the runtime's lock
         * (they call back into it). A detach while one runs waits for the
         * next message to take effect. */
        for (unsigned i = 0; i < n; i++)
            run[i]->fn(run[i]->ctx);
    }
}

static int if_irq_attach(sbvm_driver *d, sbvm_pci *p, sbvm_irq_fn fn, void *ctx, sbvm_irq **out)
{
    struct sbvm_irq *q;
    unsigned slot, i;

    if (!pci_ok(p) || !fn)
        return -EINVAL;
    if (RT.irq_ring < 0)
        return -ENOTSUP;
    slot = p->ent.slot;
    if (slot >= MAX_PCI)
        return -EINVAL;
    q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->slot = slot;
    q->fn = fn;
    q->ctx = ctx;
    pthread_mutex_lock(&RT.lock);
    for (i = 0; i < 8 && RT.irqs[slot][i]; i++)
        ;
    if (i == 8) {
        pthread_mutex_unlock(&RT.lock);
        free(q);
        return -EBUSY;
    }
    RT.irqs[slot][i] = q;
    q->attached = true;
    list_add(d, &q->r, R_IRQ, q, 0);
    if (!RT.irq_started && pthread_create(&RT.irq_thread, NULL, irq_main, NULL) == 0)
        RT.irq_started = true;
    pthread_mutex_unlock(&RT.lock);
    *out = q;
    return 0;
}

static void irq_detach_locked(struct sbvm_irq *q)
{
    for (unsigned i = 0; i < 8; i++)
        if (RT.irqs[q->slot][i] == q)
            RT.irqs[q->slot][i] = NULL;
    list_del(&q->r);
    /* Not freed: the interrupt thread may hold it for one more run. */
    q->attached = false;
}

static int if_irq_detach(sbvm_driver *d, sbvm_irq *q)
{
    sbvm_driver *o;

    pthread_mutex_lock(&RT.lock);
    if (!find(d, R_IRQ, q)) {
        o = owner_of(R_IRQ, q);
        pthread_mutex_unlock(&RT.lock);
        return refuse(d, "detach of", q,
                      o ? "another driver's interrupt handler" : "not an attached handler");
    }
    irq_detach_locked(q);
    pthread_mutex_unlock(&RT.lock);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tasks and timers                                                         */

static void *task_main(void *arg)
{
    sbvm_task *t = arg;

    prctl(PR_SET_NAME, t->name, 0, 0, 0);
    t->fn(t->arg);
    t->done = 1;
    return NULL;
}

static int if_task_start(sbvm_driver *d, const char *name, sbvm_task_fn fn, void *arg,
                         sbvm_task **out)
{
    sbvm_task *t = calloc(1, sizeof(*t));

    if (!t || !fn) {
        free(t);
        return t ? -EINVAL : -ENOMEM;
    }
    /* Thread names are at most 15 bytes. */
    snprintf(t->name, sizeof(t->name), "%.15s", name ? name : d->name);
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&RT.lock);
    list_add(d, &t->r, R_TASK, t, 0);
    if (pthread_create(&t->th, NULL, task_main, t) != 0) {
        list_del(&t->r);
        pthread_mutex_unlock(&RT.lock);
        free(t);
        return -EAGAIN;
    }
    pthread_mutex_unlock(&RT.lock);
    *out = t;
    return 0;
}

static int if_task_join(sbvm_driver *d, sbvm_task *t)
{
    pthread_mutex_lock(&RT.lock);
    if (!find(d, R_TASK, t)) {
        sbvm_driver *o = owner_of(R_TASK, t);
        pthread_mutex_unlock(&RT.lock);
        return refuse(d, "join of", t, o ? "another driver's task" : "not a running task");
    }
    list_del(&t->r);
    pthread_mutex_unlock(&RT.lock);
    pthread_join(t->th, NULL);
    free(t);
    return 0;
}

static void *timer_main(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "sbvm-timers", 0, 0, 0);
    pthread_mutex_lock(&RT.lock);
    for (;;) {
        uint64_t now = mono_ns(), next = UINT64_MAX;
        struct sbvm_timer *due = NULL;

        for (unsigned i = 0; i < RT.ntimers; i++) {
            struct sbvm_timer *t = RT.timers[i];
            if (t->armed && t->when <= now && !due)
                due = t;
            else if (t->armed && t->when < next)
                next = t->when;
        }
        if (due) {
            sbvm_timer_fn fn = due->fn;
            void *a = due->arg;
            if (due->period)
                due->when = now + due->period;
            else
                due->armed = false;
            pthread_mutex_unlock(&RT.lock);
            fn(a);
            pthread_mutex_lock(&RT.lock);
            continue;
        }
        if (next == UINT64_MAX) {
            pthread_cond_wait(&RT.timer_cond, &RT.lock);
        } else {
            struct timespec ts = { (time_t)(next / 1000000000ull), (long)(next % 1000000000ull) };
            pthread_cond_timedwait(&RT.timer_cond, &RT.lock, &ts);
        }
    }
    return NULL;
}

static int if_timer_start(sbvm_driver *d, uint64_t delay_ns, uint64_t period_ns, sbvm_timer_fn fn,
                          void *arg, sbvm_timer **out)
{
    sbvm_timer *t = calloc(1, sizeof(*t));

    if (!t || !fn) {
        free(t);
        return t ? -EINVAL : -ENOMEM;
    }
    t->when = mono_ns() + delay_ns;
    t->period = period_ns;
    t->fn = fn;
    t->arg = arg;
    t->armed = true;
    pthread_mutex_lock(&RT.lock);
    if (RT.ntimers == sizeof(RT.timers) / sizeof(RT.timers[0])) {
        pthread_mutex_unlock(&RT.lock);
        free(t);
        return -ENOSPC;
    }
    if (!RT.timer_started) {
        cond_init_mono(&RT.timer_cond);
        if (pthread_create(&RT.timer_thread, NULL, timer_main, NULL) != 0) {
            pthread_mutex_unlock(&RT.lock);
            free(t);
            return -EAGAIN;
        }
        RT.timer_started = true;
    }
    RT.timers[RT.ntimers++] = t;
    list_add(d, &t->r, R_TIMER, t, 0);
    pthread_cond_signal(&RT.timer_cond);
    pthread_mutex_unlock(&RT.lock);
    *out = t;
    return 0;
}

static void timer_stop_locked(sbvm_timer *t)
{
    for (unsigned i = 0; i < RT.ntimers; i++)
        if (RT.timers[i] == t) {
            RT.timers[i] = RT.timers[--RT.ntimers];
            break;
        }
    t->armed = false;
    list_del(&t->r);
}

static int if_timer_stop(sbvm_driver *d, sbvm_timer *t)
{
    pthread_mutex_lock(&RT.lock);
    if (!find(d, R_TIMER, t)) {
        sbvm_driver *o = owner_of(R_TIMER, t);
        pthread_mutex_unlock(&RT.lock);
        return refuse(d, "stop of", t, o ? "another driver's timer" : "not a running timer");
    }
    timer_stop_locked(t);
    pthread_mutex_unlock(&RT.lock);
    /* Freed late: the timer thread may be running it now (kept on the
     * ledger's side: a few bytes per stopped timer). */
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Events and locks                                                         */

static int if_event_new(sbvm_driver *d, sbvm_event **out)
{
    sbvm_event *e = calloc(1, sizeof(*e));

    if (!e)
        return -ENOMEM;
    pthread_mutex_init(&e->m, NULL);
    cond_init_mono(&e->c);
    pthread_mutex_lock(&RT.lock);
    list_add(d, &e->r, R_EVENT, e, 0);
    pthread_mutex_unlock(&RT.lock);
    *out = e;
    return 0;
}

static int if_event_free(sbvm_driver *d, sbvm_event *e)
{
    pthread_mutex_lock(&RT.lock);
    if (!find(d, R_EVENT, e)) {
        sbvm_driver *o = owner_of(R_EVENT, e);
        pthread_mutex_unlock(&RT.lock);
        return refuse(d, "free of event", e,
                      o ? "another driver's" : "not an event of this driver");
    }
    list_del(&e->r);
    pthread_mutex_unlock(&RT.lock);
    pthread_cond_destroy(&e->c);
    pthread_mutex_destroy(&e->m);
    free(e);
    return 0;
}

static void if_event_signal(sbvm_event *e)
{
    pthread_mutex_lock(&e->m);
    e->count++;
    pthread_cond_signal(&e->c);
    pthread_mutex_unlock(&e->m);
}

static int if_event_wait(sbvm_event *e, int64_t timeout_ns)
{
    struct timespec ts;
    int rc = 0;

    if (timeout_ns >= 0)
        deadline(&ts, timeout_ns);
    pthread_mutex_lock(&e->m);
    while (e->count == 0 && rc == 0)
        rc = timeout_ns < 0 ? pthread_cond_wait(&e->c, &e->m)
                            : pthread_cond_timedwait(&e->c, &e->m, &ts);
    if (e->count) {
        e->count--;
        rc = 0;
    }
    pthread_mutex_unlock(&e->m);
    return rc ? -ETIMEDOUT : 0;
}

static int if_lock_new(sbvm_driver *d, sbvm_lock **out)
{
    sbvm_lock *l = calloc(1, sizeof(*l));

    if (!l)
        return -ENOMEM;
    pthread_mutex_init(&l->m, NULL);
    pthread_mutex_lock(&RT.lock);
    list_add(d, &l->r, R_LOCK, l, 0);
    pthread_mutex_unlock(&RT.lock);
    *out = l;
    return 0;
}

static int if_lock_free(sbvm_driver *d, sbvm_lock *l)
{
    pthread_mutex_lock(&RT.lock);
    if (!find(d, R_LOCK, l)) {
        sbvm_driver *o = owner_of(R_LOCK, l);
        pthread_mutex_unlock(&RT.lock);
        return refuse(d, "free of lock", l, o ? "another driver's" : "not a lock of this driver");
    }
    list_del(&l->r);
    pthread_mutex_unlock(&RT.lock);
    pthread_mutex_destroy(&l->m);
    free(l);
    return 0;
}

static void if_lock(sbvm_lock *l)
{
    pthread_mutex_lock(&l->m);
}

static void if_unlock(sbvm_lock *l)
{
    pthread_mutex_unlock(&l->m);
}

/* ------------------------------------------------------------------------ */
/* Units and requests                                                       */

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n >= NAME_MAX_)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

static int if_unit_add(sbvm_driver *d, const char *name, unsigned unit, void *ctx)
{
    if (!name_ok(name))
        return -EINVAL;
    pthread_mutex_lock(&RT.lock);
    for (unsigned i = 0; i < RT.nunits; i++)
        if (RT.units[i].drv && streq_(RT.units[i].name, name) && RT.units[i].unit == unit) {
            pthread_mutex_unlock(&RT.lock);
            return -EEXIST;
        }
    if (RT.nunits == MAX_UNITS) {
        pthread_mutex_unlock(&RT.lock);
        return -ENOSPC;
    }
    snprintf(RT.units[RT.nunits].name, NAME_MAX_, "%s", name);
    RT.units[RT.nunits].unit = unit;
    RT.units[RT.nunits].drv = d;
    RT.units[RT.nunits].ctx = ctx;
    RT.nunits++;
    pthread_mutex_unlock(&RT.lock);
    return 0;
}

/* io->runtime[]: 0 state, 1 the unit, 2 a magic, 3 the resource record. */
enum { IO_IDLE = 0, IO_PENDING = 1, IO_DONE = 2 };

static void io_finish_locked(struct sbvm_io *io, int error)
{
    struct rsrc *r = (struct rsrc *)(uintptr_t)io->runtime[3];

    if (r) {
        list_del(r);
        free(r);
    }
    io->runtime[3] = 0;
    io->error = error;
    __atomic_store_n(&io->runtime[0], (uint64_t)IO_DONE, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&RT.io_cond);
}

static void if_io_done(sbvm_driver *d, struct sbvm_io *io, int error)
{
    struct rsrc *r;

    pthread_mutex_lock(&RT.lock);
    r = find(d, R_IO, io);
    if (!r) {
        pthread_mutex_unlock(&RT.lock);
        refuse(d, "completion of request", io,
               "not a request this driver holds (completed twice?)");
        return;
    }
    io_finish_locked(io, error);
    pthread_mutex_unlock(&RT.lock);
}

static int unit_open_as(sbvm_driver *who, const char *name, unsigned unit, sbvm_unit **out)
{
    struct unit_reg *reg = NULL;
    sbvm_unit *u;
    int rc = 0;

    pthread_mutex_lock(&RT.lock);
    for (unsigned i = 0; i < RT.nunits && !reg; i++)
        if (RT.units[i].drv && streq_(RT.units[i].name, name) && RT.units[i].unit == unit)
            reg = &RT.units[i];
    pthread_mutex_unlock(&RT.lock);
    if (!reg)
        return -ENOENT;
    if (reg->drv->res->open)
        rc = reg->drv->res->open(reg->drv, reg->ctx);
    if (rc < 0)
        return -EBUSY;
    u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->magic = IO_MAGIC;
    u->reg = reg;
    pthread_mutex_lock(&RT.lock);
    list_add(who, &u->r, R_UNIT, u, 0);
    pthread_mutex_unlock(&RT.lock);
    *out = u;
    return 0;
}

static int unit_close_as(sbvm_driver *who, sbvm_unit *u)
{
    struct unit_reg *reg;

    pthread_mutex_lock(&RT.lock);
    if (!find(who, R_UNIT, u)) {
        sbvm_driver *o = owner_of(R_UNIT, u);
        pthread_mutex_unlock(&RT.lock);
        refuse(who, "close of unit", u,
               o ? "opened by someone else" : "not open (closed twice, or never opened)");
        return -EBADF;
    }
    list_del(&u->r);
    reg = u->reg;
    pthread_mutex_unlock(&RT.lock);
    if (reg->drv && reg->drv->res->close)
        reg->drv->res->close(reg->drv, reg->ctx);
    u->magic = 0;
    free(u);
    return 0;
}

static int io_send(sbvm_unit *u, struct sbvm_io *io)
{
    struct unit_reg *reg;
    struct rsrc *r;
    int rc;

    if (!u || u->magic != IO_MAGIC || !io || io->size != sizeof(*io))
        return -EINVAL;
    if (__atomic_load_n(&io->runtime[0], __ATOMIC_ACQUIRE) == IO_PENDING)
        return -EBUSY;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    reg = u->reg;
    pthread_mutex_lock(&RT.lock);
    if (!reg->drv || !reg->drv->live) {
        pthread_mutex_unlock(&RT.lock);
        free(r);
        return -ENODEV;
    }
    io->error = 0;
    io->actual = 0;
    io->runtime[0] = IO_PENDING;
    io->runtime[1] = (uint64_t)(uintptr_t)u;
    io->runtime[2] = IO_MAGIC;
    io->runtime[3] = (uint64_t)(uintptr_t)r;
    list_add(reg->drv, r, R_IO, io, 0);
    pthread_mutex_unlock(&RT.lock);
    rc = reg->drv->res->begin_io(reg->drv, reg->ctx, io);
    if (rc == SBVM_IO_PENDING)
        return 0;
    pthread_mutex_lock(&RT.lock);
    /* Completed in place, or refused: unless io_done() already came. */
    if (io->runtime[3] && find(reg->drv, R_IO, io))
        io_finish_locked(io, rc < 0 ? rc : io->error);
    pthread_mutex_unlock(&RT.lock);
    return 0;
}

static int io_wait(struct sbvm_io *io, int64_t timeout_ns)
{
    struct timespec ts;
    int rc = 0;

    if (!io || io->runtime[2] != IO_MAGIC)
        return -EINVAL;
    if (timeout_ns >= 0)
        deadline(&ts, timeout_ns);
    pthread_mutex_lock(&RT.lock);
    while (__atomic_load_n(&io->runtime[0], __ATOMIC_ACQUIRE) == IO_PENDING && rc == 0)
        rc = timeout_ns < 0 ? pthread_cond_wait(&RT.io_cond, &RT.lock)
                            : pthread_cond_timedwait(&RT.io_cond, &RT.lock, &ts);
    pthread_mutex_unlock(&RT.lock);
    return __atomic_load_n(&io->runtime[0], __ATOMIC_ACQUIRE) == IO_DONE ? 0 : -ETIMEDOUT;
}

static int io_do(sbvm_unit *u, struct sbvm_io *io)
{
    int rc = io_send(u, io);

    if (rc == 0)
        rc = io_wait(io, -1);
    return rc < 0 ? rc : io->error;
}

static int io_abort(struct sbvm_io *io)
{
    sbvm_unit *u;
    struct unit_reg *reg;

    if (!io || io->runtime[2] != IO_MAGIC)
        return -EINVAL;
    if (__atomic_load_n(&io->runtime[0], __ATOMIC_ACQUIRE) != IO_PENDING)
        return -ENOENT;
    u = (sbvm_unit *)(uintptr_t)io->runtime[1];
    reg = u->reg;
    if (!reg->drv->res->abort_io)
        return -ENOTSUP;
    return reg->drv->res->abort_io(reg->drv, reg->ctx, io);
}

static int if_unit_open(sbvm_driver *d, const char *name, unsigned unit, sbvm_unit **out)
{
    return unit_open_as(d, name, unit, out);
}

static int if_unit_close(sbvm_driver *d, sbvm_unit *u)
{
    return unit_close_as(d, u);
}

static uint64_t if_now(void)
{
    return mono_ns();
}

static const struct sbvm_driver_if IFC = {
    .abi = (uint32_t)SBVM_DRIVER_ABI_MAJOR << 16 | SBVM_DRIVER_ABI_MINOR,
    .size = sizeof(struct sbvm_driver_if),
    .log = if_log,
    .alloc = if_alloc,
    .free = if_free,
    .dma_alloc = if_dma_alloc,
    .dma_free = if_dma_free,
    .dma_addr = if_dma_addr,
    .pci_count = if_pci_count,
    .pci_get = if_pci_get,
    .cfg_read = if_cfg_read,
    .cfg_write = if_cfg_write,
    .bar_read = if_bar_read,
    .bar_write = if_bar_write,
    .irq_attach = if_irq_attach,
    .irq_detach = if_irq_detach,
    .task_start = if_task_start,
    .task_join = if_task_join,
    .timer_start = if_timer_start,
    .timer_stop = if_timer_stop,
    .event_new = if_event_new,
    .event_free = if_event_free,
    .event_signal = if_event_signal,
    .event_wait = if_event_wait,
    .lock_new = if_lock_new,
    .lock_free = if_lock_free,
    .lock = if_lock,
    .unlock = if_unlock,
    .now_ns = if_now,
    .unit_add = if_unit_add,
    .io_done = if_io_done,
    .unit_open = if_unit_open,
    .unit_close = if_unit_close,
    .do_io = io_do,
    .send_io = io_send,
    .wait_io = io_wait,
    .abort_io = io_abort,
};

/* ------------------------------------------------------------------------ */
/* Loading, the ledger, unloading                                           */

/* Lists what d left behind (to the host and stderr), then reaps it. The
 * count of resources. */
static int reap(sbvm_driver *d)
{
    size_t count[R__COUNT] = { 0 }, bytes[R__COUNT] = { 0 };
    char line[512];
    size_t n = 0;
    int total = 0;

    pthread_mutex_lock(&RT.lock);
    while (d->list.next != &d->list) {
        struct rsrc *r = d->list.next;
        count[r->kind]++;
        bytes[r->kind] += r->size;
        total++;
        switch (r->kind) {
        case R_MEM:
            list_del(r);
            free(r);
            break;
        case R_DMA:
            dma_release_locked((struct dmablk *)r);
            break;
        case R_IRQ:
            irq_detach_locked((struct sbvm_irq *)r);
            break;
        case R_TIMER:
            timer_stop_locked((sbvm_timer *)r);
            break;
        case R_IO:
            /* A request the driver never completed: it ends now, for its
             * waiter, with an error. */
            io_finish_locked((struct sbvm_io *)r->obj, -ENODEV);
            break;
        case R_TASK: {
            sbvm_task *t = (sbvm_task *)r;
            list_del(r);
            if (t->done)
                pthread_join(t->th, NULL);
            else
                pthread_detach(t->th); /* cannot be stopped: it dies with the process */
            break;
        }
        default:
            list_del(r); /* events, locks, units: kept, small */
            break;
        }
    }
    pthread_cond_broadcast(&RT.io_cond);
    pthread_mutex_unlock(&RT.lock);
    if (total == 0 && d->refused == 0)
        return 0;
    n = (size_t)snprintf(line, sizeof(line), "%s:", d->name);
    if (total)
        n += (size_t)snprintf(line + n, sizeof(line) - n, " left behind");
    for (int k = 0; k < R__COUNT && n < sizeof(line); k++) {
        if (!count[k])
            continue;
        n += (size_t)snprintf(line + n, sizeof(line) - n, " %zu %s", count[k],
                              kind_names[k][count[k] != 1]);
        if (bytes[k] && (k == R_MEM || k == R_DMA) && n < sizeof(line))
            n += (size_t)snprintf(line + n, sizeof(line) - n, " (%zu bytes)", bytes[k]);
        if (n < sizeof(line))
            n += (size_t)snprintf(line + n, sizeof(line) - n, ",");
    }
    if (n < sizeof(line) && line[n - 1] == ',')
        line[--n] = '\0';
    if (d->refused && n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n,
                              "%s refused %u free%s or close%s of "
                              "what it did not own",
                              total ? ";" : "", d->refused, d->refused == 1 ? "" : "s",
                              d->refused == 1 ? "" : "s");
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    rlog(NULL, SBVM_LOG_WARN, "%s", line);
    host_call(DRV_CALL_LEDGER, line, n, NULL, 0, NULL, NULL);
    return total;
}

static int load_one(const char *path)
{
    sbvm_driver *d = &RT.drv[RT.ndrv];
    const struct sbvm_resident *res;
    void *dl;
    int rc;

    memset(d, 0, sizeof(*d));
    d->list.next = d->list.prev = &d->list;
    snprintf(d->path, sizeof(d->path), "%s", path);
    snprintf(d->name, sizeof(d->name), "%s", path);
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        rlog(NULL, SBVM_LOG_ERR, "loading %s: %s", path, dlerror());
        return -ENOEXEC;
    }
    res = dlsym(dl, SBVM_RESIDENT_SYMBOL);
    if (!res || res->magic != SBVM_RESIDENT_MAGIC) {
        rlog(NULL, SBVM_LOG_ERR, "%s: no resident descriptor (%s)", path, SBVM_RESIDENT_SYMBOL);
        dlclose(dl);
        return -ENOEXEC;
    }
    if (res->abi_major != SBVM_DRIVER_ABI_MAJOR || !name_ok(res->name) || !res->init ||
        !res->begin_io) {
        rlog(NULL, SBVM_LOG_ERR,
             "%s: a resident descriptor of ABI %u.%u (this is %u.%u), or "
             "without a valid name, init and begin_io",
             path, res->abi_major, res->abi_minor, SBVM_DRIVER_ABI_MAJOR, SBVM_DRIVER_ABI_MINOR);
        dlclose(dl);
        return -ENOEXEC;
    }
    snprintf(d->name, sizeof(d->name), "%s", res->name);
    d->dl = dl;
    d->res = res;
    d->live = true;
    RT.ndrv++;
    rc = res->init(d, &IFC);
    if (rc < 0) {
        rlog(d, SBVM_LOG_ERR, "init failed: %s", strerror(-rc));
        d->live = false;
        pthread_mutex_lock(&RT.lock);
        for (unsigned i = 0; i < RT.nunits; i++)
            if (RT.units[i].drv == d)
                RT.units[i].drv = NULL;
        pthread_mutex_unlock(&RT.lock);
        reap(d);
        return rc;
    }
    rlog(d, SBVM_LOG_INFO, "loaded (version %u)", res->version);
    return 0;
}

SBVM_GUEST_API int sbvm_drivers_load(void)
{
    struct drv_hello_out h;
    const char *list;
    char *copy, *save = NULL, *tok;
    size_t n = 0;
    int loaded = 0, first_err = 0, rc;

    if (RT.loaded)
        return -EALREADY;
    client.list.next = client.list.prev = &client.list;
    /* Waits have monotonic deadlines. */
    cond_init_mono(&RT.io_cond);
    rc = sbvm_hello(SBVM_ABI_VERSION);
    if (rc < 0 && rc != -EALREADY)
        return rc;
    memset(&h, 0, sizeof(h));
    rc = host_call(DRV_CALL_HELLO, NULL, 0, &h, sizeof(h), &n, NULL);
    if (rc < 0 || n != sizeof(h) || h.version != DRV_PROTO_VERSION)
        return rc < 0 ? rc : -EPROTO;
    RT.dma_base = h.dma_base;
    if (h.ndevs) {
        struct drv_pci_ent ents[MAX_PCI];
        rc = host_call(DRV_CALL_ENUM, NULL, 0, ents, sizeof(ents), &n, NULL);
        if (rc < 0)
            return rc;
        RT.npci = (unsigned)(n / sizeof(ents[0]));
        for (unsigned i = 0; i < RT.npci; i++)
            RT.pci[i].ent = ents[i];
        RT.irq_ring = sbvm_ring_open((int)h.irq_ring);
        if (RT.irq_ring < 0)
            return RT.irq_ring;
    }
    RT.loaded = true;
    list = getenv("SBVM_DRIVERS");
    if (!list || !*list)
        return 0;
    copy = strdup(list);
    if (!copy)
        return -ENOMEM;
    for (tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        if (RT.ndrv == MAX_DRIVERS) {
            rlog(NULL, SBVM_LOG_ERR, "at most %d drivers", MAX_DRIVERS);
            break;
        }
        rc = load_one(tok);
        if (rc == 0)
            loaded++;
        else if (!first_err)
            first_err = rc;
    }
    free(copy);
    return loaded ? loaded : first_err;
}

SBVM_GUEST_API int sbvm_drivers_unload(void)
{
    int total = 0;

    /* The test program's own opens first, then the drivers, last loaded
     * first (a layered driver goes before the one below it). */
    total += reap(&client);
    for (unsigned i = RT.ndrv; i-- > 0;) {
        sbvm_driver *d = &RT.drv[i];
        if (!d->live)
            continue;
        if (d->res->expunge)
            d->res->expunge(d);
        pthread_mutex_lock(&RT.lock);
        d->live = false;
        for (unsigned k = 0; k < RT.nunits; k++)
            if (RT.units[k].drv == d)
                RT.units[k].drv = NULL;
        pthread_mutex_unlock(&RT.lock);
        total += reap(d);
        /* Not dlclose()d: a task or handler of it may still run, and a
         * crash there must still find its code (and name it). */
    }
    RT.ndrv = 0;
    RT.nunits = 0;
    RT.loaded = false;
    return total;
}

SBVM_GUEST_API int sbvm_unit_open(const char *name, unsigned unit, sbvm_unit **out)
{
    if (!RT.loaded)
        return -ENOTCONN;
    return unit_open_as(&client, name, unit, out);
}

SBVM_GUEST_API int sbvm_unit_close(sbvm_unit *u)
{
    return unit_close_as(&client, u);
}

SBVM_GUEST_API int sbvm_unit_io(sbvm_unit *u, struct sbvm_io *io)
{
    return io_do(u, io);
}

SBVM_GUEST_API int sbvm_unit_send(sbvm_unit *u, struct sbvm_io *io)
{
    return io_send(u, io);
}

SBVM_GUEST_API int sbvm_unit_wait(struct sbvm_io *io, int64_t timeout_ns)
{
    return io_wait(io, timeout_ns);
}

SBVM_GUEST_API int sbvm_unit_done(const struct sbvm_io *io)
{
    return io && __atomic_load_n(&io->runtime[0], __ATOMIC_ACQUIRE) == IO_DONE;
}

SBVM_GUEST_API int sbvm_unit_abort(struct sbvm_io *io)
{
    return io_abort(io);
}

SBVM_GUEST_API void *sbvm_dma_alloc(size_t size)
{
    uint64_t addr;

    if (!RT.loaded)
        return NULL;
    return if_dma_alloc(&client, size, 64, &addr);
}

SBVM_GUEST_API int sbvm_dma_free(void *p)
{
    return if_dma_free(&client, p);
}
