/* SPDX-License-Identifier: MIT */
/* records.c: see records.h. */
#include "backend/process/records.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>

static bool setup_ok(uint16_t kind, const struct proc_setup *s)
{
    if (s->stage >= STAGE__COUNT || s->err < 0 || s->err > 4095)
        return false;
    if (kind == REC_EXEC_FAILED)
        return s->stage >= STAGE_GUEST_SESSION && s->stage <= STAGE_EXEC;
    if (s->stage == STAGE_FSOP_REOPEN || s->stage == STAGE_FSOP)
        return s->index >= 0;
    return true;
}

static bool exit_ok(const struct proc_exit *e)
{
    if (e->pid < 0 || e->job < 0)
        return false;
    if (e->code == CLD_EXITED)
        return e->status >= 0 && e->status <= 255;
    return (e->code == CLD_KILLED || e->code == CLD_DUMPED) && records_signal_ok(e->status);
}

static bool fault_ok(const struct proc_fault *f)
{
    return records_signal_ok(f->signo) && f->seq != 0 && f->pid > 0 && f->tid > 0 && f->job >= 0 &&
           f->code_len <= sizeof(f->code_bytes) && f->stack_len <= PROC_STACK_MAX &&
           f->maps_len <= PROC_MAPS_MAX;
}

static bool limit_ok(const struct proc_limit *l)
{
    return l->which >= PROC_LIMIT_FILES && l->which <= PROC_LIMIT_MEMORY && l->pid >= 0 &&
           l->job >= 0 && l->err >= 0 && l->err <= 4095 && l->nr < 4096;
}

/* The fixed-size payload of `kind`, copied into dst when the size is
 * exactly right. */
static bool take(void *dst, size_t size, const unsigned char *p, size_t len)
{
    if (len != size)
        return false;
    memcpy(dst, p, size);
    return true;
}

int records_decode(const unsigned char *msg, size_t len, bool truncated, struct prec *out)
{
    struct proc_rec_hdr h;
    const unsigned char *p;
    size_t plen;
    bool ok;

    memset(out, 0, sizeof(*out));
    if (truncated || len < sizeof(h))
        return -EINVAL;
    memcpy(&h, msg, sizeof(h));
    if (h.magic != PROC_REC_MAGIC || len != sizeof(h) + h.len)
        return -EINVAL;
    p = msg + sizeof(h);
    plen = h.len;
    out->kind = h.kind;
    switch (h.kind) {
    case REC_SETUP_FAILED:
    case REC_EXEC_FAILED:
        ok = take(&out->u.setup, sizeof(out->u.setup), p, plen) && setup_ok(h.kind, &out->u.setup);
        break;
    case REC_TRACE_OFF:
    case REC_READY:
    case REC_NET_LISTENER:
        ok = take(&out->u.setup, sizeof(out->u.setup), p, plen);
        break;
    case REC_JOB_EXIT:
    case REC_SPAWNER_GONE:
        ok = take(&out->u.exit, sizeof(out->u.exit), p, plen) && exit_ok(&out->u.exit);
        break;
    case REC_FAULT:
        ok = take(&out->u.fault, sizeof(out->u.fault), p, plen) && fault_ok(&out->u.fault);
        break;
    case REC_FAULT_DATA:
        ok = plen >= sizeof(out->u.chunk.h);
        if (ok) {
            memcpy(&out->u.chunk.h, p, sizeof(out->u.chunk.h));
            ok = out->u.chunk.h.len == plen - sizeof(out->u.chunk.h) &&
                 (out->u.chunk.h.which == CHUNK_MAPS || out->u.chunk.h.which == CHUNK_STACK);
            out->u.chunk.data = p + sizeof(out->u.chunk.h);
        }
        break;
    case REC_SYSCALLS: {
        uint32_t n;
        ok = plen >= 2 * sizeof(uint32_t);
        if (!ok)
            break;
        memcpy(&n, p, sizeof(n));
        memcpy(&out->u.syscalls.job, p + sizeof(n), sizeof(int32_t));
        ok = n <= (uint32_t)PROC_SYSCALLS_MAX && out->u.syscalls.job >= 0 &&
             plen == 2 * sizeof(uint32_t) + n * sizeof(struct proc_syscall_count);
        if (!ok)
            break;
        out->u.syscalls.n = n;
        memcpy(out->u.syscalls.e, p + 2 * sizeof(uint32_t), n * sizeof(struct proc_syscall_count));
        for (uint32_t i = 0; ok && i < n; i++)
            ok = out->u.syscalls.e[i].err > 0 && out->u.syscalls.e[i].err <= 4095;
        break;
    }
    case REC_DENIED:
        ok = take(&out->u.denied, sizeof(out->u.denied), p, plen) && out->u.denied.pid >= 0 &&
             out->u.denied.job >= 0;
        break;
    case REC_HOLDING:
        ok = plen == sizeof(struct proc_holding);
        break;
    case REC_LIMIT:
        ok = take(&out->u.limit, sizeof(out->u.limit), p, plen) && limit_ok(&out->u.limit);
        break;
    default:
        ok = false;
        break;
    }
    return ok ? 0 : -EINVAL;
}
