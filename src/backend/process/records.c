/* SPDX-License-Identifier: MIT */
/*
 * records.c: reading what the sandbox reports on its status pipe.
 *
 * Records are reassembled from whatever read() returns, then each one is
 * checked completely (magic, kind, exact payload size, ranges) before any of
 * it is used. A malformed record marks the guest's report as bad and the
 * rest of the stream is ignored: everything after it would be suspect.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/process/process.h"
#include "util/util.h"

#define GUEST_PID 2

static bool setup_valid(const struct proc_guest *pg, uint16_t kind, const struct proc_setup *s)
{
    size_t nops = pg->st->base.nops + pg->extra.nops;

    if (s->stage >= STAGE__COUNT || s->err < 0 || s->err > 4095)
        return false;
    if (kind == REC_EXEC_FAILED)
        return s->stage >= STAGE_GUEST_SESSION && s->stage <= STAGE_EXEC;
    if (s->stage == STAGE_FSOP_REOPEN)
        return s->index >= 0 && (size_t)s->index < pg->prog.nbinds;
    if (s->stage == STAGE_FSOP)
        return s->index >= 0 && (size_t)s->index < nops;
    return true;
}

static bool exit_valid(const struct proc_exit *e)
{
    if (e->code == CLD_EXITED)
        return e->status >= 0 && e->status <= 255;
    return (e->code == CLD_KILLED || e->code == CLD_DUMPED) && e->status > 0 && e->status < 65;
}

static bool take_fault(struct guest *g, struct proc_guest *pg, const struct proc_fault *f)
{
    struct sbvm_crash *c;

    if (f->signo <= 0 || f->signo >= 65 || f->seq == 0 || f->pid <= 0 || f->tid <= 0)
        return false;
    /* A process of the guest is dying of an rlimit the sandbox set: that
     * limit is reached, and ends the whole guest. */
    if (f->signo == SIGXFSZ && g->cfg->limits[SBVM_LIMIT_DISK])
        proc_limit_reached(g, SBVM_LIMIT_DISK, g->cfg->limits[SBVM_LIMIT_DISK]);
    else if (f->signo == SIGXCPU && g->cfg->limits[SBVM_LIMIT_CPU])
        proc_limit_reached(g, SBVM_LIMIT_CPU, g->cfg->limits[SBVM_LIMIT_CPU]);
    if (pg->ncrashes == RESULT_CRASHES_MAX) {
        pg->crashes_dropped++;
        return true;
    }
    for (size_t i = 0; i < pg->ncrashes; i++)
        if (pg->crashes[i]->raw.seq == f->seq)
            return false;
    c = crash_new(f);
    if (!c)
        return true; /* out of memory: the crash goes unexplained */
    c->is_guest = f->pid == GUEST_PID;
    pg->crashes[pg->ncrashes++] = c;
    return true;
}

static bool take_chunk(struct proc_guest *pg, const unsigned char *p, size_t len)
{
    struct proc_chunk h;

    if (len < sizeof(h))
        return false;
    memcpy(&h, p, sizeof(h));
    if (h.len != len - sizeof(h))
        return false;
    for (size_t i = 0; i < pg->ncrashes; i++)
        if (pg->crashes[i]->raw.seq == h.seq)
            return crash_add_chunk(pg->crashes[i], &h, p + sizeof(h));
    return true; /* a crash we dropped for lack of room */
}

static bool take_syscalls(struct proc_guest *pg, const unsigned char *p, size_t len)
{
    uint32_t n;

    if (len < sizeof(n))
        return false;
    memcpy(&n, p, sizeof(n));
    if (n > (uint32_t)PROC_SYSCALLS_MAX || len != sizeof(n) + n * sizeof(struct proc_syscall_count))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        struct proc_syscall_count e;
        uint32_t slot;
        memcpy(&e, p + sizeof(n) + i * sizeof(e), sizeof(e));
        slot = e.nr < SYSCALLS_TRACKED ? e.nr : SYSCALLS_TRACKED;
        if (e.err <= 0 || e.err > 4095)
            return false;
        if (pg->syscall_count[slot] > UINT32_MAX - e.count)
            pg->syscall_count[slot] = UINT32_MAX;
        else
            pg->syscall_count[slot] += e.count;
        pg->syscall_err[slot] = e.err;
    }
    return true;
}

static bool dispatch(struct guest *g, uint16_t kind, const unsigned char *p, size_t len)
{
    struct proc_guest *pg = g->bdata;

    switch (kind) {
    case REC_SETUP_FAILED:
    case REC_EXEC_FAILED:
    case REC_TRACE_OFF: {
        struct proc_setup s;
        if (len != sizeof(s))
            return false;
        memcpy(&s, p, sizeof(s));
        if (kind == REC_TRACE_OFF) {
            pg->trace_off = s.err > 0 && s.err < 4096 ? s.err : EPERM;
            return true;
        }
        if (!setup_valid(pg, kind, &s))
            return false;
        if (kind == REC_SETUP_FAILED && !pg->have_setup) {
            pg->setup = s;
            pg->have_setup = true;
        } else if (kind == REC_EXEC_FAILED && !pg->have_exec) {
            pg->exec = s;
            pg->have_exec = true;
        }
        return true;
    }
    case REC_GUEST_EXIT:
        if (len != sizeof(pg->exit) || pg->have_exit)
            return false;
        memcpy(&pg->exit, p, sizeof(pg->exit));
        pg->have_exit = exit_valid(&pg->exit);
        return pg->have_exit;
    case REC_FAULT: {
        struct proc_fault f;
        if (len != sizeof(f))
            return false;
        memcpy(&f, p, sizeof(f));
        return take_fault(g, pg, &f);
    }
    case REC_FAULT_DATA:
        return take_chunk(pg, p, len);
    case REC_SYSCALLS:
        return take_syscalls(pg, p, len);
    case REC_DENIED:
        if (len != sizeof(pg->denied))
            return false;
        if (!pg->have_denied)
            memcpy(&pg->denied, p, sizeof(pg->denied));
        pg->have_denied = true;
        return true;
    case REC_HOLDING:
        if (len != sizeof(struct proc_holding) || pg->holding)
            return false;
        pg->holding = true;
        proc_take_ledger(g);
        return true;
    case REC_READY:
        if (len != sizeof(struct proc_setup))
            return false;
        proc_view_ready(g);
        return true;
    default:
        return false;
    }
}

bool proc_read_records(struct guest *g)
{
    struct proc_guest *pg = g->bdata;

    for (;;) {
        ssize_t n;
        size_t off = 0;

        if (pg->status_fd < 0)
            return false;
        n = read(pg->status_fd, pg->inbuf + pg->inlen, sizeof(pg->inbuf) - pg->inlen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN;
        }
        if (n == 0)
            return false;
        pg->inlen += (size_t)n;
        while (!pg->bad_record && pg->inlen - off >= sizeof(struct proc_rec_hdr)) {
            struct proc_rec_hdr h;
            memcpy(&h, pg->inbuf + off, sizeof(h));
            if (h.magic != PROC_REC_MAGIC || sizeof(h) + h.len > PROC_REC_MAX) {
                pg->bad_record = true;
                break;
            }
            if (pg->inlen - off < sizeof(h) + h.len)
                break;
            if (!dispatch(g, h.kind, pg->inbuf + off + sizeof(h), h.len))
                pg->bad_record = true;
            off += sizeof(h) + h.len;
        }
        if (pg->bad_record) {
            pg->inlen = 0; /* and ignore the rest */
            continue;
        }
        memmove(pg->inbuf, pg->inbuf + off, pg->inlen - off);
        pg->inlen -= off;
    }
}
