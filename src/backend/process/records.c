/* SPDX-License-Identifier: MIT */
/*
 * records.c: reading what the sandbox reports on its status socket.
 *
 * Each message is one record; it is checked completely (magic, kind, exact payload size, ranges)
 * before any of it is used. A malformed record marks the guest's report as bad and the rest of the
 * stream is ignored: everything after it would be suspect.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/process/process.h"
#include "util/error.h"
#include "util/util.h"

#define GUEST_PID 2

static bool setup_valid(const struct proc_guest *pg, uint16_t kind, const struct proc_setup *s)
{
    size_t nops = (pg->rootfs ? 0 : pg->st->base.nops) + pg->extra.nops;

    if (s->stage >= STAGE__COUNT || s->err < 0 || s->err > 4095)
        return false;
    if (kind == REC_EXEC_FAILED)
        return s->stage >= STAGE_GUEST_SESSION && s->stage <= STAGE_EXEC;
    if (s->stage == STAGE_FSOP_REOPEN)
        return s->index >= 0 && (size_t)s->index < proc_slot_count(pg);
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
     * limit is reached, and ends the whole guest. It is not a crash, and
     * its registers would only distract from the limit. */
    if (f->signo == SIGXFSZ && g->cfg->limits[SBVM_LIMIT_DISK]) {
        snprintf(g->limit_note, sizeof(g->limit_note),
                 "a file of pid %d grew past the size of the scratch (SIGXFSZ)", (int)f->pid);
        guest_limit_reached(g, SBVM_LIMIT_DISK, g->cfg->limits[SBVM_LIMIT_DISK]);
        return true;
    }
    if (f->signo == SIGXCPU && g->cfg->limits[SBVM_LIMIT_CPU]) {
        snprintf(g->limit_note, sizeof(g->limit_note), "pid %d used up its CPU time (SIGXCPU)",
                 (int)f->pid);
        guest_limit_reached(g, SBVM_LIMIT_CPU, g->cfg->limits[SBVM_LIMIT_CPU]);
        return true;
    }
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

/* A watched call failed at an rlimit the caller asked for. */
static bool take_limit(struct guest *g, const struct proc_limit *l)
{
    static const enum sbvm_limit which[] = {
        [PROC_LIMIT_FILES] = SBVM_LIMIT_FILES,
        [PROC_LIMIT_PIDS] = SBVM_LIMIT_PIDS,
        [PROC_LIMIT_MEMORY] = SBVM_LIMIT_MEMORY,
    };
    const char *name;
    enum sbvm_limit lim;

    if (l->which < PROC_LIMIT_FILES || l->which > PROC_LIMIT_MEMORY || l->pid < 0 || l->err < 0 ||
        l->err > 4095 || l->nr >= SYSCALLS_TRACKED)
        return false;
    lim = which[l->which];
    if (!g->cfg->limits[lim])
        return true; /* not ours to report: the guest's own business */
    name = seccomp_syscall_name((int)l->nr);
    if (l->err)
        snprintf(g->limit_note, sizeof(g->limit_note), "%s in pid %d failed with %s",
                 name ? name : "a syscall", (int)l->pid, errno_name(l->err));
    else
        snprintf(g->limit_note, sizeof(g->limit_note), "%s in pid %d was refused",
                 name ? name : "a syscall", (int)l->pid);
    guest_limit_reached(g, lim, l->observed);
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
    case REC_LIMIT: {
        struct proc_limit l;
        if (len != sizeof(l))
            return false;
        memcpy(&l, p, sizeof(l));
        return take_limit(g, &l);
    }
    case REC_NET_LISTENER:
        if (len != sizeof(struct proc_setup))
            return false;
        proc_net_listener(g, pg->passed_fds[0]);
        pg->passed_fds[0] = -1;
        return true;
    case REC_READY:
        if (len != sizeof(struct proc_setup))
            return false;
        proc_view_ready(g, pg->passed_fds[0], pg->passed_fds[1]);
        pg->passed_fds[0] = pg->passed_fds[1] = -1;
        return true;
    default:
        return false;
    }
}

/* Descriptors that came with a message: kept for REC_READY in
 * pg->passed_fds, anything else closed. */
static void take_passed_fds(struct proc_guest *pg, struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t n;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (i < 2 && pg->passed_fds[i] < 0)
                pg->passed_fds[i] = fd;
            else
                close(fd);
        }
    }
}

static void drop_passed_fds(struct proc_guest *pg)
{
    for (int i = 0; i < 2; i++)
        if (pg->passed_fds[i] >= 0) {
            close(pg->passed_fds[i]);
            pg->passed_fds[i] = -1;
        }
}

bool proc_read_records(struct guest *g)
{
    struct proc_guest *pg = g->bdata;

    for (;;) {
        union {
            char buf[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        unsigned char rec[PROC_REC_MAX];
        struct iovec iov = { rec, sizeof(rec) };
        struct proc_rec_hdr h;
        struct msghdr msg;
        ssize_t n;

        if (pg->status_fd < 0)
            return false;
        /* A SOCK_SEQPACKET socket: every message is exactly one record,
         * header and payload, as each sender writes it whole. */
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        n = recvmsg(pg->status_fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN;
        }
        take_passed_fds(pg, &msg);
        if (n == 0) {
            drop_passed_fds(pg);
            return false;
        }
        if (!pg->bad_record) {
            memcpy(&h, rec, (size_t)n < sizeof(h) ? (size_t)n : sizeof(h));
            /* The first bad record discards everything after it. */
            if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(h) ||
                h.magic != PROC_REC_MAGIC || (size_t)n != sizeof(h) + h.len ||
                !dispatch(g, h.kind, rec + sizeof(h), h.len))
                pg->bad_record = true;
        }
        /* Descriptors belong to the message they came with. */
        drop_passed_fds(pg);
    }
}
