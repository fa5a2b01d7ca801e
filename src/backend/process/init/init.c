/* SPDX-License-Identifier: MIT */
/*
 * init.c: pid 1 of every sandbox, and the tracer of every process in it.
 *
 * Built twice: as a freestanding static executable (no libc, a few
 * kilobytes) that the sandbox execs from a sealed memfd, so that /proc/1/exe
 * inside the sandbox leads to this small program and never to the host's
 * binary; and into the library as init_run(), the fallback for hosts that
 * forbid executing memfds (vm.memfd_noexec=2).
 *
 * Its jobs:
 *  - reap every process that gets reparented to it;
 *  - trace every guest process (attached to pid 2 before its exec, and to
 *    everything it forks, automatically), and know which job each belongs
 *    to: a sandbox runs one job as pid 2 (inline), or, live, many, each
 *    started by a fork of pid 2, the exec server (proto.h);
 *  - when a process is about to die of a fault signal, capture what the
 *    supervisor needs to explain the crash (signal details, registers, the
 *    instruction bytes, a stack snapshot and the memory map) before letting
 *    the signal kill it;
 *  - stop at syscalls the filter refuses (SECCOMP_RET_TRACE): count them per
 *    job and make them fail with the policy's errno. What a stop means is
 *    decided by running the sandbox's own filters on the call
 *    (policy/bpf_eval.h), never by the stop's data, which a filter the
 *    guest stacked on ours may have chosen;
 *  - when a process is killed by the filter (a denied call, a foreign ABI),
 *    name the call from the dying thread's registers; inline, stop the
 *    guest; live, end that job;
 *  - report each job's first process's end; inline, then (if asked) freeze
 *    whatever is left and wait until the supervisor has taken inventory;
 *  - act on the supervisor's commands (proto.h: signal or kill a job, hold,
 *    release), and on signals only when they come from outside the sandbox:
 *    the guest may send pid 1 the signals it handles, and must not forge a
 *    freeze or a forwarded signal.
 *
 * Everything a guest process controls (its memory, its registers, its /proc
 * files) is only copied, never interpreted here beyond bounds: the
 * supervisor parses it. init uses raw system calls only, so the same code
 * is safe in a process cloned from a multithreaded host, and a tight
 * seccomp filter of its own confines it.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef SBVM_INIT_STANDALONE
#define SYS_DEFINE_MEM
#endif
#define SYS_DEFINE_RESTORER
#include "backend/process/init/init.h"
#include "backend/process/init/sys.h"
#include "backend/process/proto.h"
#include "policy/bpf_eval.h"

#define RED_ZONE     128
#define MAX_CAPTURES 8
#define NSYSCALLS    1024
/* Processes and threads whose job is known at once (a live sandbox): more
 * than the default pids limit; past it, a process's job is unknown (0). */
#define JOBMAP_SIZE 16384
/* Refused-syscall counters, one per (job, syscall). */
#define COUNTS_MAX 1024

struct krusage {
    long utime_sec, utime_usec, stime_sec, stime_usec;
    long maxrss;
    long rest[11];
};

struct pollfd_ {
    int fd;
    short events, revents;
};

/* State. Written by the main loop; the handlers only read guest_pid and
 * live, and set freeze_requested. */
static volatile int guest_pid; /* pid 2: the inline job, or the exec server */
static volatile int live;
static volatile int freeze_requested;
static int status_fd = FD_STATUS;
static int hold_flag;
static int hold_always;
static int denied;
static int limit_sent;
/* --deny execve: the processes that may still exec their program (a job's
 * first process until its exec succeeds: proto.h, INIT_TRACE_DENY_EXEC),
 * and the thread whose exec is under way. */
#define PREEXEC_MAX 64
static int32_t preexec[PREEXEC_MAX];
static int exec_pending;
static uint32_t captures;
/* Live: full captures the supervisor has not given credit back for. A live
 * sandbox's jobs are many and come and go (a library's workers), so its cap
 * is on the captures in flight, not on all of its life. */
static uint32_t outstanding;

/* pid -> job, for a live sandbox (inline: every process is job guest_pid).
 * Open addressing on the pid; 0 is free, -1 a deleted slot. */
static struct {
    int32_t pid, job;
} jobmap[JOBMAP_SIZE];

/* Refused syscalls, per job. */
static struct {
    int32_t job;
    uint32_t nr; /* NSYSCALLS: out of range */
    uint32_t count;
    uint16_t err;
} counts[COUNTS_MAX];
static uint32_t ncounts;

/* The sandbox's own filters (FD_POLICY), oldest first. */
static struct bpf_insn_ policy_insns[PROC_POLICY_PROGS_MAX * PROC_POLICY_INSNS_MAX];
static const struct bpf_insn_ *policy_progs[PROC_POLICY_PROGS_MAX];
static uint32_t policy_lens[PROC_POLICY_PROGS_MAX];
static uint32_t policy_n;

static unsigned char recbuf[PROC_REC_MAX];
static unsigned char stackbuf[PROC_STACK_MAX];
static char mapsbuf[PROC_MAPS_MAX];
static char textbuf[4096];

static _Noreturn void die(int code)
{
    for (;;)
        sys1(NR_exit_group, code);
}

static void emit(uint16_t kind, const void *a, size_t alen, const void *b, size_t blen)
{
    struct proc_rec_hdr h;

    if (sizeof(h) + alen + blen > PROC_REC_MAX)
        return;
    h.magic = PROC_REC_MAGIC;
    h.kind = kind;
    h.len = (uint16_t)(alen + blen);
    copy(recbuf, &h, sizeof(h));
    copy(recbuf + sizeof(h), a, alen);
    if (blen)
        copy(recbuf + sizeof(h) + alen, b, blen);
    /* One write, one message (a SOCK_SEQPACKET socket): one record. */
    for (;;) {
        long r = sys3(NR_write, status_fd, (long)recbuf, (long)(sizeof(h) + alen + blen));
        if (r != -E_INTR)
            break;
    }
}

/* ---- which job a process belongs to ------------------------------------- */

static uint32_t slot_of(int32_t pid)
{
    return ((uint32_t)pid * 2654435761u) % JOBMAP_SIZE;
}

static int32_t job_lookup(int32_t pid)
{
    if (!live)
        return guest_pid;
    for (uint32_t i = 0, s = slot_of(pid); i < JOBMAP_SIZE; i++, s = (s + 1) % JOBMAP_SIZE) {
        if (jobmap[s].pid == pid)
            return jobmap[s].job;
        if (jobmap[s].pid == 0)
            break;
    }
    return 0;
}

static void job_set(int32_t pid, int32_t job)
{
    uint32_t s = slot_of(pid), tomb = JOBMAP_SIZE;

    if (!live || pid <= 0)
        return;
    for (uint32_t i = 0; i < JOBMAP_SIZE; i++, s = (s + 1) % JOBMAP_SIZE) {
        if (jobmap[s].pid == pid) {
            jobmap[s].job = job;
            return;
        }
        if (jobmap[s].pid == -1 && tomb == JOBMAP_SIZE)
            tomb = s;
        if (jobmap[s].pid == 0)
            break;
    }
    if (tomb == JOBMAP_SIZE && jobmap[s].pid == 0)
        tomb = s;
    if (tomb < JOBMAP_SIZE) {
        jobmap[tomb].pid = pid;
        jobmap[tomb].job = job;
    }
}

static void job_forget(int32_t pid)
{
    if (!live)
        return;
    for (uint32_t i = 0, s = slot_of(pid); i < JOBMAP_SIZE; i++, s = (s + 1) % JOBMAP_SIZE) {
        if (jobmap[s].pid == pid) {
            jobmap[s].pid = -1;
            return;
        }
        if (jobmap[s].pid == 0)
            return;
    }
}

/* SIGKILL to every process of a job (live). */
static void kill_job(int32_t job)
{
    if (job <= 0 || job == guest_pid)
        return;
    for (uint32_t s = 0; s < JOBMAP_SIZE; s++)
        if (jobmap[s].pid > 0 && jobmap[s].job == job)
            sys2(NR_kill, jobmap[s].pid, SIGKILL_);
}

static void preexec_add(int32_t pid)
{
    for (uint32_t i = 0; i < PREEXEC_MAX; i++)
        if (preexec[i] == 0) {
            preexec[i] = pid;
            return;
        }
    /* Full (64 jobs starting at once): this one's exec is denied. */
}

/* Forgets pid (it exec'd, or is gone: its number may come back). */
static int preexec_take(int32_t pid)
{
    for (uint32_t i = 0; i < PREEXEC_MAX; i++)
        if (preexec[i] == pid) {
            preexec[i] = 0;
            return 1;
        }
    return 0;
}

static int preexec_has(int32_t pid)
{
    for (uint32_t i = 0; i < PREEXEC_MAX; i++)
        if (preexec[i] == pid)
            return 1;
    return 0;
}

/* ---- reading /proc and guest memory --------------------------------------- */

/* "/proc/<n>/<what>" into buf. */
static void proc_path(char *buf, int n, const char *what)
{
    char digits[12];
    int k = 0, i = 0;

    copy(buf, "/proc/", 6);
    i = 6;
    do {
        digits[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n && k < 11);
    while (k)
        buf[i++] = digits[--k];
    buf[i++] = '/';
    while (*what)
        buf[i++] = *what++;
    buf[i] = '\0';
}

/* Reads a /proc file of process n into buf (NUL-terminated); bytes read. */
static long read_proc(int n, const char *what, char *buf, long size)
{
    char path[64];
    long fd, got = 0;

    proc_path(path, n, what);
    fd = sys4(NR_openat, AT_FDCWD_, (long)path, O_RDONLY_ | O_CLOEXEC_, 0);
    if (fd < 0)
        return 0;
    while (got < size - 1) {
        long r = sys3(NR_read, fd, (long)(buf + got), size - 1 - got);
        if (r == -E_INTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    sys1(NR_close, fd);
    buf[got] = '\0';
    return got;
}

/* The value after "key:" in a /proc status text, parsed in `base`. */
static uint64_t status_field(const char *text, const char *key, int base)
{
    size_t klen = 0;

    while (key[klen])
        klen++;
    for (const char *p = text; *p;) {
        size_t i = 0;
        while (i < klen && p[i] == key[i])
            i++;
        if (i == klen) {
            uint64_t v = 0;
            p += klen;
            while (*p == ' ' || *p == '\t')
                p++;
            for (;; p++) {
                int d;
                if (*p >= '0' && *p <= '9')
                    d = *p - '0';
                else if (base == 16 && *p >= 'a' && *p <= 'f')
                    d = *p - 'a' + 10;
                else
                    break;
                v = v * (uint64_t)base + (uint64_t)d;
            }
            return v;
        }
        while (*p && *p != '\n')
            p++;
        if (*p)
            p++;
    }
    return 0;
}

/*
 * The job of a process (or thread) of a live sandbox. Known from the fork
 * event of its parent, normally; but a new child's own stops may be waited
 * for before its parent's fork event (wait4 gives no order between them),
 * and its first refused call would then be nobody's. So an unknown pid is
 * placed through the kernel's word for its lineage: a thread is of its
 * process's job, a child of the exec server is a job of its own, any other
 * process is of its parent's job. The guest chooses neither (a process
 * whose parent died is the init's child: nobody's job, as before).
 */
static int32_t job_of_depth(int32_t pid, int depth)
{
    static char st[1024];
    int32_t job = job_lookup(pid), tgid, ppid;

    if (job || !live || depth > 2 || pid <= 1 || pid == guest_pid ||
        read_proc(pid, "status", st, sizeof(st)) <= 0)
        return job;
    tgid = (int32_t)status_field(st, "Tgid:", 10);
    ppid = (int32_t)status_field(st, "PPid:", 10);
    if (tgid > 0 && tgid != pid)
        job = job_of_depth(tgid, depth + 1);
    else if (ppid == guest_pid)
        job = pid;
    else if (ppid > 1)
        job = job_of_depth(ppid, depth + 1);
    if (job)
        job_set(pid, job);
    return job;
}

static int32_t job_of(int32_t pid)
{
    return job_of_depth(pid, 0);
}

static long read_remote(int pid, void *dst, uint64_t addr, size_t len)
{
    struct iovec_ local = { dst, len }, remote = { (void *)(uintptr_t)addr, len };
    return sys6(NR_process_vm_readv, pid, (long)&local, 1, (long)&remote, 1, 0);
}

static void send_chunks(uint32_t seq, uint32_t which, const void *data, uint32_t len)
{
    struct proc_chunk c;

    for (uint32_t off = 0; off < len;) {
        uint32_t n = len - off;
        if (n > PROC_CHUNK_DATA_MAX)
            n = PROC_CHUNK_DATA_MAX;
        c.seq = seq;
        c.which = which;
        c.offset = off;
        c.len = n;
        emit(REC_FAULT_DATA, &c, sizeof(c), (const char *)data + off, n);
        off += n;
    }
}

/* Signals whose default action dumps core: the ones that mean a crash. */
static int is_crash_signal(int sig)
{
    return sig == 3 || sig == 4 || sig == 5 || sig == 6 || sig == 7 || sig == 8 || sig == 11 ||
           sig == 24 || sig == 25 || sig == 31;
}

/* The thread group of tracee `tid` (textbuf holds its status afterwards). */
static int32_t tgid_of(int tid)
{
    if (read_proc(tid, "status", textbuf, sizeof(textbuf)) <= 0)
        return 0;
    return (int32_t)status_field(textbuf, "Tgid:", 10);
}

/* Past the cap, a crash is counted but not explained: a bare record. */
static int capture_capped(int tid, int32_t pid, int sig)
{
    struct proc_fault f;

    if (live ? outstanding < MAX_CAPTURES : captures < MAX_CAPTURES)
        return 0;
    zero(&f, sizeof(f));
    f.seq = ++captures;
    f.tid = tid;
    f.pid = pid;
    f.job = job_of(tid);
    f.signo = sig;
    emit(REC_FAULT, &f, sizeof(f), 0, 0);
    return 1;
}

/* The rest of a capture, from the registers on: the instruction bytes, the
 * thread's name, a stack snapshot and the memory map, then the records. */
static void capture_rest(int tid, struct proc_fault *f, const uint64_t *regs)
{
    uint64_t sp;
    long n;

    f->seq = ++captures;
    if (live)
        outstanding++;
    f->tid = tid;
    f->job = job_of(tid);
    copy(f->regs, regs, sizeof(f->regs));
    n = read_remote(tid, f->code_bytes, regs[R_RIP], sizeof(f->code_bytes));
    if (n < 0) {
        /* The page may end before 16 bytes do. */
        for (n = 0; n < (long)sizeof(f->code_bytes); n++)
            if (read_remote(tid, f->code_bytes + n, regs[R_RIP] + (uint64_t)n, 1) != 1)
                break;
    }
    f->code_len = (uint32_t)(n > 0 ? n : 0);
    read_proc(tid, "comm", f->comm, sizeof(f->comm));
    for (int i = 0; i < 16; i++)
        if (f->comm[i] == '\n')
            f->comm[i] = '\0';
    sp = regs[R_RSP] - RED_ZONE;
    n = read_remote(tid, stackbuf, sp, PROC_STACK_MAX);
    if (n < 0) {
        /* A stack overflow leaves the pointer in the guard page: try the
         * part above it, page by page. */
        uint64_t page = (sp + 4096) & ~4095ULL;
        for (int i = 0; i < 4 && n < 0; i++, page += 4096) {
            n = read_remote(tid, stackbuf, page, PROC_STACK_MAX);
            sp = page;
        }
    }
    f->stack_start = sp;
    f->stack_len = (uint32_t)(n > 0 ? n : 0);
    f->maps_len = (uint32_t)read_proc(tid, "maps", mapsbuf, PROC_MAPS_MAX);
    emit(REC_FAULT, f, sizeof(*f), 0, 0);
    send_chunks(f->seq, CHUNK_MAPS, mapsbuf, f->maps_len);
    send_chunks(f->seq, CHUNK_STACK, stackbuf, f->stack_len);
}

/*
 * Tracee `tid` is about to receive crash signal `sig`. If it has no handler
 * for it, the signal will kill it: capture what explains the crash first.
 */
static void capture(int tid, int sig)
{
    struct proc_fault f;
    unsigned char si[128];
    uint64_t regs[PROC_NREGS];
    uint64_t caught;
    int32_t pid = tgid_of(tid);

    if (!pid)
        return;
    caught = status_field(textbuf, "SigCgt:", 16);
    if (caught & (1ULL << (sig - 1)))
        return; /* the guest handles it (a runtime's null check, a cleanup) */
    if (capture_capped(tid, pid, sig))
        return;
    zero(&f, sizeof(f));
    zero(si, sizeof(si));
    if (sys4(NR_ptrace, PTRACE_GETSIGINFO_, tid, 0, (long)si) < 0 ||
        sys4(NR_ptrace, PTRACE_GETREGS_, tid, 0, (long)regs) < 0)
        return;
    f.pid = pid;
    copy(&f.signo, si, 4);
    copy(&f.code, si + 8, 4);
    copy(&f.addr, si + 16, 8); /* si_addr (faults) or si_pid+si_uid (kill) */
    copy(&f.sender_pid, si + 16, 4);
    copy(&f.sender_uid, si + 20, 4);
    copy(&f.syscall, si + 24, 4);
    copy(&f.arch, si + 28, 4);
    capture_rest(tid, &f, regs);
}

/* A filter of the guest's own killed tracee `tid` at a call (no signal was
 * delivered to look at): what a SIGSYS of code SYS_SECCOMP would have said. */
static void capture_seccomp_kill(int tid, const uint64_t *regs, uint32_t arch)
{
    struct proc_fault f;
    int32_t pid = tgid_of(tid);

    if (!pid || capture_capped(tid, pid, 31))
        return;
    zero(&f, sizeof(f));
    f.pid = pid;
    f.signo = 31; /* SIGSYS */
    f.code = 1;   /* SYS_SECCOMP */
    f.addr = regs[R_RIP];
    f.syscall = (int32_t)regs[R_ORIG_RAX];
    f.arch = arch;
    capture_rest(tid, &f, regs);
}

/* Reads the sandbox's filters from FD_POLICY; 0, or -1 when it is not a
 * well-formed policy (then the init cannot judge a stop, and ends). */
static int load_policy(void)
{
    struct proc_policy h;
    uint64_t off = sizeof(h), total = 0;

    if (sys4(NR_pread64, FD_POLICY, (long)&h, sizeof(h), 0) != (long)sizeof(h) ||
        h.magic != PROC_POLICY_MAGIC || h.nprogs == 0 || h.nprogs > PROC_POLICY_PROGS_MAX)
        return -1;
    for (uint32_t i = 0; i < h.nprogs; i++) {
        uint64_t bytes = (uint64_t)h.len[i] * sizeof(struct bpf_insn_);
        if (h.len[i] == 0 || h.len[i] > PROC_POLICY_INSNS_MAX)
            return -1;
        if (sys4(NR_pread64, FD_POLICY, (long)(policy_insns + total), (long)bytes, (long)off) !=
            (long)bytes)
            return -1;
        policy_progs[i] = policy_insns + total;
        policy_lens[i] = h.len[i];
        total += h.len[i];
        off += bytes;
    }
    policy_n = h.nprogs;
    sys1(NR_close, FD_POLICY);
    return 0;
}

/* What the sandbox's own filters answer for a call. */
static uint32_t our_answer(uint32_t arch, uint64_t nr, uint64_t ip, const uint64_t *args)
{
    struct seccomp_data_ d;

    d.nr = (int32_t)nr;
    d.arch = arch;
    d.ip = ip;
    copy(d.args, args, sizeof(d.args));
    return seccomp_eval(policy_progs, policy_lens, policy_n, &d);
}

static void count_refusal(int32_t job, uint64_t nr, int err)
{
    uint32_t n = nr < NSYSCALLS ? (uint32_t)nr : NSYSCALLS;

    for (uint32_t i = ncounts; i > 0; i--)
        if (counts[i - 1].job == job && counts[i - 1].nr == n) {
            counts[i - 1].count++;
            counts[i - 1].err = (uint16_t)err;
            return;
        }
    if (ncounts == COUNTS_MAX)
        return; /* full: the report keeps what fitted */
    counts[ncounts].job = job;
    counts[ncounts].nr = n;
    counts[ncounts].count = 1;
    counts[ncounts].err = (uint16_t)err;
    ncounts++;
}

/* Sends (and forgets) the refusal counts of one job, or of all (-1), one
 * job per record. */
static void send_counts(int32_t job)
{
    static unsigned char buf[PROC_PAYLOAD_MAX];
    struct proc_syscalls *s = (struct proc_syscalls *)buf;
    uint32_t keep = 0;

    for (uint32_t i = 0; i < ncounts; i++) {
        int32_t j = counts[i].job;
        if ((job >= 0 && j != job) || counts[i].count == 0)
            continue;
        s->n = 0;
        s->job = j;
        for (uint32_t k = i; k < ncounts; k++) {
            if (counts[k].job != j || counts[k].count == 0)
                continue;
            s->e[s->n].nr = counts[k].nr == NSYSCALLS ? 0xffffffffU : counts[k].nr;
            s->e[s->n].count = counts[k].count;
            s->e[s->n].err = counts[k].err;
            counts[k].count = 0;
            if (++s->n == (uint32_t)PROC_SYSCALLS_MAX) {
                emit(REC_SYSCALLS, buf, 2 * sizeof(uint32_t) + s->n * sizeof(s->e[0]), 0, 0);
                s->n = 0;
            }
        }
        if (s->n)
            emit(REC_SYSCALLS, buf, 2 * sizeof(uint32_t) + s->n * sizeof(s->e[0]), 0, 0);
    }
    /* Keep what was not sent. */
    for (uint32_t i = 0; i < ncounts; i++)
        if (counts[i].count)
            counts[keep++] = counts[i];
    ncounts = keep;
}

/*
 * A denied exec (--deny execve): a job's first process still starting its
 * program may (until one exec succeeds: on_syscall_exit), any other call
 * is the denial, reported as a killed call would be. The caller stays in
 * this stop, the call not made: inline, the sandbox is frozen around it;
 * live, its job is killed.
 */
static void deny_exec(int tid, const struct syscall_info *info)
{
    struct proc_denied d;

    if (preexec_has(tgid_of(tid))) {
        exec_pending = tid;
        sys4(NR_ptrace, PTRACE_SYSCALL_, tid, 0, 0);
        return;
    }
    zero(&d, sizeof(d));
    d.pid = tgid_of(tid);
    d.job = job_of(tid);
    d.arch = info->arch;
    d.nr = info->nr;
    copy(d.args, info->args, sizeof(d.args));
    d.ip = info->ip;
    if (live) {
        emit(REC_DENIED, &d, sizeof(d), 0, 0);
        kill_job(d.job);
        return;
    }
    if (!denied)
        emit(REC_DENIED, &d, sizeof(d), 0, 0);
    denied = 1;
    freeze_requested = 1;
}

/*
 * A seccomp stop of tracee `tid`. Only our own filters' answer counts: when
 * a filter of the guest's also returns TRACE, the kernel hands us the
 * newest filter's data - the guest's. So the stop's data is ignored: a
 * call our filters allow runs (the guest's own filter asked for a tracer),
 * one they refuse fails with their errno, one they watch is watched.
 */
static void on_seccomp(int tid)
{
    struct syscall_info info;
    uint64_t regs[PROC_NREGS];
    uint32_t ours;
    int err;

    zero(&info, sizeof(info));
    if (sys4(NR_ptrace, PTRACE_GET_SYSCALL_INFO_, tid, sizeof(info), (long)&info) <= 0 ||
        info.op != SYSCALL_INFO_SECCOMP) {
        sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
        return;
    }
    ours = our_answer(info.arch, info.nr, info.ip, info.args);
    if ((ours & BPF_EVAL_ACTION_FULL) == BPF_EVAL_RET_ALLOW ||
        (ours & BPF_EVAL_ACTION_FULL) == BPF_EVAL_RET_LOG) {
        sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
        return;
    }
    if ((ours & BPF_EVAL_ACTION_FULL) == BPF_EVAL_RET_TRACE && (ours & INIT_TRACE_WATCH)) {
        /* Let it run, and stop again when it returns (on_syscall_exit). */
        sys4(NR_ptrace, PTRACE_SYSCALL_, tid, 0, 0);
        return;
    }
    if ((ours & BPF_EVAL_ACTION_FULL) == BPF_EVAL_RET_TRACE && (ours & INIT_TRACE_DENY_EXEC)) {
        deny_exec(tid, &info);
        return;
    }
    /* Refused. Anything but our TRACE cannot stop here (it outranks
     * TRACE); should it, the call fails all the same. */
    err = (ours & BPF_EVAL_ACTION_FULL) == BPF_EVAL_RET_TRACE ? (int)(ours & INIT_TRACE_ERRNO_MASK)
                                                              : 0;
    if (!err)
        err = 38; /* ENOSYS */
    count_refusal(job_of(tid), info.nr, err);
    /* Skip the call (number -1) and make it return -errno. */
    if (sys4(NR_ptrace, PTRACE_GETREGS_, tid, 0, (long)regs) == 0) {
        regs[R_ORIG_RAX] = (uint64_t)-1;
        regs[R_RAX] = (uint64_t)(long)-err;
        sys4(NR_ptrace, PTRACE_SETREGS_, tid, 0, (long)regs);
    }
    sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
}

/*
 * Thread `tid` is about to exit (PTRACE_EVENT_EXIT). A process the filter
 * kills (SECCOMP_RET_KILL_PROCESS: a denied call, or a foreign ABI) gets no
 * signal-delivery stop; its thread that made the call exits with its
 * registers rolled back to the call (rax equal to orig_rax). If our own
 * filters kill that call, it is the sandbox's denial: name it, and stop the
 * guest (inline) or its job (live). If they do not, a filter of the
 * guest's killed it: a crash of its own making, reported as such.
 */
static void on_exit_stop(int tid)
{
    uint64_t regs[PROC_NREGS], args[6], status = 0;
    unsigned char insn[2] = { 0, 0 };
    uint32_t arch = BPF_EVAL_AUDIT_ARCH_X86_64, ours;
    int i386;

    if (sys4(NR_ptrace, PTRACE_GETEVENTMSG_, tid, 0, (long)&status) < 0 ||
        (status & 0x7f) != 31 /* SIGSYS */ ||
        sys4(NR_ptrace, PTRACE_GETREGS_, tid, 0, (long)regs) < 0 ||
        regs[R_RAX] != regs[R_ORIG_RAX]) {
        sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
        return;
    }
    /* The i386 entry: int 0x80 (cd 80), or any syscall from a 32-bit code
     * segment (0x23). x32 calls carry their bit in the number. */
    read_remote(tid, insn, regs[R_RIP] - 2, 2);
    i386 = regs[R_CS] == 0x23 || (insn[0] == 0xcd && insn[1] == 0x80);
    if (i386) {
        arch = BPF_EVAL_AUDIT_ARCH_I386;
        args[0] = regs[R_RBX] & 0xffffffffu;
        args[1] = regs[R_RCX] & 0xffffffffu;
        args[2] = regs[R_RDX] & 0xffffffffu;
        args[3] = regs[R_RSI] & 0xffffffffu;
        args[4] = regs[R_RDI] & 0xffffffffu;
        args[5] = regs[R_RBP] & 0xffffffffu;
    } else {
        args[0] = regs[R_RDI];
        args[1] = regs[R_RSI];
        args[2] = regs[R_RDX];
        args[3] = regs[R_R10];
        args[4] = regs[R_R8];
        args[5] = regs[R_R9];
    }
    ours = our_answer(arch, regs[R_ORIG_RAX], regs[R_RIP], args);
    if ((ours & BPF_EVAL_ACTION_FULL) == BPF_EVAL_RET_KILL_PROCESS ||
        (ours & BPF_EVAL_ACTION_FULL) == BPF_EVAL_RET_KILL_THREAD) {
        struct proc_denied d;
        zero(&d, sizeof(d));
        d.pid = tgid_of(tid);
        d.job = job_of(tid);
        d.arch = arch;
        d.nr = regs[R_ORIG_RAX];
        copy(d.args, args, sizeof(d.args));
        d.ip = regs[R_RIP];
        if (live) {
            /* That job is over; the sandbox and its other jobs go on. */
            emit(REC_DENIED, &d, sizeof(d), 0, 0);
            kill_job(d.job);
            sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
            return;
        }
        if (!denied)
            emit(REC_DENIED, &d, sizeof(d), 0, 0);
        denied = 1;
        /* The guest is over: freeze what is left for the inventory. The
         * caller stays in this stop, its memory and command line still
         * there to be seen. */
        freeze_requested = 1;
        return;
    }
    capture_seccomp_kill(tid, regs, arch);
    sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
}

/* Calls fn for each entry of directory `path` but "." and ".."; the count
 * of entries, or -1 when it cannot be read. */
static long each_entry(const char *path, void (*fn)(const char *name, void *ctx), void *ctx)
{
    unsigned char dents[2048];
    long fd, count = 0;

    fd = sys4(NR_openat, AT_FDCWD_, (long)path, O_RDONLY_ | O_DIRECTORY_ | O_CLOEXEC_, 0);
    if (fd < 0)
        return -1;
    for (;;) {
        long got = sys3(NR_getdents64, fd, (long)dents, sizeof(dents));
        if (got == -E_INTR)
            continue;
        if (got <= 0)
            break;
        /* struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name. */
        for (long off = 0; off + 19 < got;) {
            uint16_t reclen;
            const char *name = (const char *)dents + off + 19;
            copy(&reclen, dents + off + 16, 2);
            if (reclen == 0 || off + reclen > got)
                break;
            off += reclen;
            if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
                continue;
            count++;
            if (fn)
                fn(name, ctx);
        }
    }
    sys1(NR_close, fd);
    return count;
}

/* Adds the threads of /proc entry `name`, when it is a process (this init
 * included: an rlimit and a pids cgroup count it too). */
static void add_tasks(const char *name, void *ctx)
{
    uint64_t *total = ctx;
    char path[64];
    int pid = 0;
    long t;

    for (; *name >= '0' && *name <= '9' && pid < 10000000; name++)
        pid = pid * 10 + (*name - '0');
    if (pid < 1 || *name)
        return;
    proc_path(path, pid, "task");
    t = each_entry(path, NULL, NULL);
    *total += t > 0 ? (uint64_t)t : 0;
}

/*
 * A watched call of tracee `tid` returns. If an rlimit the caller asked for
 * refused it, that limit is reached: say which, with what was observed.
 * Inline, the guest is over: freeze the sandbox (the caller stays stopped
 * here). Live, the supervisor decides (the job's limit, or the sandbox's).
 */
static void on_syscall_exit(int tid)
{
    uint64_t regs[PROC_NREGS];
    struct proc_limit l;
    uint64_t nr;
    long ret;

    if (sys4(NR_ptrace, PTRACE_GETREGS_, tid, 0, (long)regs) < 0) {
        sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
        return;
    }
    nr = regs[R_ORIG_RAX];
    ret = (long)regs[R_RAX];
    if (tid == exec_pending) {
        /* A starting job's exec returned: when it worked, the program now
         * runs, and its own execs are denied. */
        exec_pending = 0;
        if (ret == 0)
            preexec_take(tgid_of(tid));
        sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
        return;
    }
    zero(&l, sizeof(l));
    if (ret == -E_MFILE) {
        l.which = PROC_LIMIT_FILES;
    } else if (ret == -E_AGAIN &&
               (nr == NR_clone || nr == NR_fork || nr == NR_vfork || nr == NR_clone3)) {
        l.which = PROC_LIMIT_PIDS;
    } else if ((ret == -E_NOMEM && (nr == NR_mmap || nr == NR_mremap)) ||
               (nr == NR_brk && regs[R_RDI] != 0 && (uint64_t)ret < regs[R_RDI])) {
        l.which = PROC_LIMIT_MEMORY;
    }
    if (!l.which || (!live && (limit_sent || denied))) {
        sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
        return;
    }
    l.nr = (uint32_t)nr;
    l.err = ret < 0 && ret > -4096 ? (int32_t)-ret : 0;
    l.pid = tgid_of(tid);
    l.job = job_of(tid);
    if (l.which == PROC_LIMIT_FILES) {
        char path[64];
        long n;
        proc_path(path, tid, "fd");
        n = each_entry(path, NULL, NULL);
        l.observed = n > 0 ? (uint64_t)n : 0;
    } else if (l.which == PROC_LIMIT_PIDS) {
        each_entry("/proc", add_tasks, &l.observed);
    } else {
        /* What it had mapped, plus what it asked for. */
        uint64_t asked = nr == NR_mmap     ? regs[R_RSI]
                         : nr == NR_mremap ? regs[R_RDX]
                                           : regs[R_RDI] - (uint64_t)ret;
        l.observed = status_field(textbuf, "VmSize:", 10) * 1024 + asked;
    }
    emit(REC_LIMIT, &l, sizeof(l), 0, 0);
    if (live) {
        sys4(NR_ptrace, PTRACE_CONT_, tid, 0, 0);
        return;
    }
    limit_sent = 1;
    freeze_requested = 1;
}

static void usage_of(const struct krusage *ru, struct proc_usage *u)
{
    u->utime_us = (uint64_t)ru->utime_sec * 1000000 + (uint64_t)ru->utime_usec;
    u->stime_us = (uint64_t)ru->stime_sec * 1000000 + (uint64_t)ru->stime_usec;
    u->maxrss_kb = (uint64_t)ru->maxrss;
}

static void report_exit(int kind, int pid, int32_t job, int wstatus, const struct krusage *ru)
{
    struct proc_exit e;
    int sig = wstatus & 0x7f;

    zero(&e, sizeof(e));
    if (sig == 0) {
        e.code = CLD_EXITED_;
        e.status = (wstatus >> 8) & 0xff;
    } else {
        e.code = (wstatus & 0x80) ? CLD_DUMPED_ : CLD_KILLED_;
        e.status = sig;
    }
    e.pid = pid;
    e.job = job;
    usage_of(ru, &e.guest);
    emit((uint16_t)kind, &e, sizeof(e), 0, 0);
}

/* Waits for the supervisor's next command on the control socket; 0 at
 * EOF (the supervisor is done, or gone). */
static long read_cmd(struct proc_cmd *c)
{
    long n;

    zero(c, sizeof(*c));
    while ((n = sys3(NR_read, FD_CONTROL, (long)c, sizeof(*c))) == -E_INTR)
        ;
    return n;
}

/*
 * Freezes every process left in the sandbox (they stay traced and stopped),
 * says so, and waits for the supervisor to finish its inventory: a command
 * or EOF on the control socket. Then exits, which ends them all.
 */
static _Noreturn void hold_and_exit(void)
{
    struct proc_holding h = { 0 };
    struct proc_cmd c;

    sys2(NR_kill, -1, SIGSTOP_);
    send_counts(-1);
    emit(REC_HOLDING, &h, sizeof(h), 0, 0);
    read_cmd(&c);
    die(0);
}

static void on_stop(int pid, int st);

/* Whether any process besides us is left in the sandbox: every one is our
 * child or our tracee, so wait4 knows. Pending stops are served on the way. */
static int others_remain(void)
{
    int st;

    for (int i = 0; i < 256; i++) {
        long r = sys4(NR_wait4, -1, (long)&st, WALL_ | WNOHANG_, 0);
        if (r == -E_CHILD)
            return 0;
        if (r <= 0)
            return 1; /* some remain, none with news (0), or a hiccup */
        if ((st & 0xff) == 0x7f)
            on_stop((int)r, st);
    }
    return 1;
}

/*
 * Whether a signal came from outside the sandbox: sent with kill(2) or a
 * pidfd (SI_USER) by a process this pid namespace cannot see (si_pid 0).
 * The guest can send pid 1 every signal it has a handler for; those carry
 * its pid, or a code below zero when it forges the rest of the siginfo
 * (rt_sigqueueinfo), and are ignored: the guest must not bounce signals off
 * pid 1.
 */
static int from_host(const void *info)
{
    int32_t code, pid;

    copy(&code, (const char *)info + 8, 4);
    copy(&pid, (const char *)info + 16, 4);
    return code == SI_USER_ && pid == 0;
}

/* Like a terminal's Ctrl-C, a forwarded signal goes to the guest's whole
 * process group (the guest leads one: it called setsid), so that a shell
 * waiting for a foreground child does not wait it out. A live sandbox's
 * jobs are signalled by command instead (CMD_SIGNAL). */
static void forward(int sig, void *info, void *uc)
{
    (void)uc;
    if (!from_host(info) || live)
        return;
    if (guest_pid > 0 && sys2(NR_kill, -guest_pid, sig) < 0)
        sys2(NR_kill, guest_pid, sig);
}

static void on_sigchld(int sig, void *info, void *uc)
{
    (void)sig;
    (void)info;
    (void)uc;
}

static void on_stop(int pid, int st)
{
    int sig = (st >> 8) & 0xff;
    int event = (st >> 16) & 0xff;

    if (event == PTRACE_EVENT_SECCOMP_) {
        on_seccomp(pid);
    } else if (event == PTRACE_EVENT_EXIT_) {
        on_exit_stop(pid);
    } else if (event == PTRACE_EVENT_STOP_) {
        /* SIGTRAP: a new child's first stop, or an interrupt; a stop
         * signal: job control, which the tracee must keep until SIGCONT. */
        if (sig == SIGSTOP_ || sig == SIGTSTP_ || sig == SIGTTIN_ || sig == SIGTTOU_)
            sys4(NR_ptrace, PTRACE_LISTEN_, pid, 0, 0);
        else
            sys4(NR_ptrace, PTRACE_CONT_, pid, 0, 0);
    } else if (event) {
        /* fork, vfork, clone: the new process is traced already. A live
         * sandbox's exec server forking starts a job; any other process's
         * child (or thread) is of its parent's job. */
        uint64_t child = 0;
        if (live && sys4(NR_ptrace, PTRACE_GETEVENTMSG_, pid, 0, (long)&child) == 0 && child > 0 &&
            child < 0x7fffffff) {
            job_set((int32_t)child, pid == guest_pid ? (int32_t)child : job_of(pid));
            if (pid == guest_pid)
                preexec_add((int32_t)child); /* a job, about to exec */
        }
        sys4(NR_ptrace, PTRACE_CONT_, pid, 0, 0);
    } else if (sig == (SIGTRAP_ | 0x80)) {
        /* The return of a watched call (PTRACE_O_TRACESYSGOOD). */
        on_syscall_exit(pid);
    } else {
        /* A signal on its way to the tracee: look, then let it through. */
        if (is_crash_signal(sig))
            capture(pid, sig);
        sys4(NR_ptrace, PTRACE_CONT_, pid, 0, sig);
    }
}

/* A process ended. Inline, the end of pid 2 is the guest's. Live, the end
 * of a job's first process is that job's, and pid 2's that the sandbox can
 * start no more jobs. */
static void on_end(int pid, int wstatus, const struct krusage *ru)
{
    /* Only what is known: pid is reaped, so /proc/<pid> may already be
     * another process's (a reused pid), whose lineage must not name the
     * job this one ended. */
    int32_t job = job_lookup(pid);

    preexec_take(pid);
    if (!live) {
        if (pid != guest_pid)
            return; /* an orphan reaped, or a traced child its parent reaps */
        report_exit(REC_JOB_EXIT, pid, pid, wstatus, ru);
        /* Something to inventory only when other processes remain; the
         * scratch files the supervisor reads without our help. */
        if (hold_flag && (hold_always || others_remain()))
            hold_and_exit();
        send_counts(-1);
        die(0);
    }
    job_forget(pid);
    if (pid == guest_pid) {
        report_exit(REC_SPAWNER_GONE, pid, 0, wstatus, ru);
    } else if (job == pid) {
        send_counts(job);
        report_exit(REC_JOB_EXIT, pid, job, wstatus, ru);
    }
}

/* Serves every child event there is; -1 when no child is left at all. */
static int serve_children(void)
{
    for (;;) {
        struct krusage ru;
        int wstatus;
        long r;

        zero(&ru, sizeof(ru));
        r = sys4(NR_wait4, -1, (long)&wstatus, WALL_ | WNOHANG_, (long)&ru);
        if (r == 0 || r == -E_INTR)
            return 0;
        if (r == -E_CHILD)
            return -1;
        if (r < 0)
            die(2);
        if ((wstatus & 0xff) == 0x7f)
            on_stop((int)r, wstatus);
        else
            on_end((int)r, wstatus, &ru);
        if (freeze_requested)
            return 0;
    }
}

static void on_command(const struct proc_cmd *c)
{
    if (c->magic != PROC_CMD_MAGIC)
        return;
    switch (c->kind) {
    case CMD_SIGNAL:
        if (c->sig <= 0 || c->sig >= 65)
            break;
        if (c->job > 0 && sys2(NR_kill, -c->job, c->sig) < 0)
            sys2(NR_kill, c->job, c->sig);
        if (c->job == 0 && guest_pid > 0 && !live && sys2(NR_kill, -guest_pid, c->sig) < 0)
            sys2(NR_kill, guest_pid, c->sig);
        break;
    case CMD_KILL_JOB:
        if (c->job > 0) {
            kill_job(c->job);
            sys2(NR_kill, -c->job, SIGKILL_);
        }
        break;
    case CMD_HOLD:
        freeze_requested = 1;
        break;
    case CMD_PAUSE:
        /* Every process stops where it is; stopped tracees stay stopped
         * (on_stop listens) until SIGCONT. A fork racing this is restarted
         * by the kernel, so none escapes. */
        sys2(NR_kill, -1, SIGSTOP_);
        break;
    case CMD_RESUME:
        sys2(NR_kill, -1, SIGCONT_);
        break;
    case CMD_CAPTURE_CREDIT:
        if (c->sig > 0)
            outstanding -= (uint32_t)c->sig < outstanding ? (uint32_t)c->sig : outstanding;
        break;
    default:
        break; /* CMD_RELEASE outside a hold: nothing to release */
    }
}

_Noreturn void init_run(int fd, int pid, int flags)
{
    /* Signals the supervisor may forward. SIGKILL and SIGSTOP cannot be
     * caught; the supervisor sends SIGKILL to this process to end the whole
     * sandbox at once. */
    static const int forwarded[] = { 1, 2, 3, 10, 12, 13, 14, 15, 18, 20, 21, 22, 23, 28 };
    struct ksigaction sa;
    uint64_t chld = 1ULL << (SIGCHLD_ - 1), none = 0;
    int gone = 0;

    /* Not dumpable: the guest, which shares our uid, cannot open our /proc
     * entries (exe, mem, fd) or attach to us. */
    sys2(NR_prctl, PR_SET_DUMPABLE_, 0);
    status_fd = fd;
    guest_pid = pid;
    live = (flags & INIT_FLAG_LIVE) != 0;
    hold_flag = flags & INIT_FLAG_HOLD;
    hold_always = flags & INIT_FLAG_HOLD_ALWAYS;
    /* Without the sandbox's filters the init cannot tell what a seccomp
     * stop means: fail closed, which ends the sandbox. */
    if (load_policy() < 0)
        die(4);
    job_set(pid, 0);  /* the exec server belongs to no job */
    preexec_add(pid); /* pid 2's exec of the guest, or of the exec server */

    zero(&sa, sizeof(sa));
    sa.handler = forward;
    sa.flags = SA_RESTART_ | SA_RESTORER_ | SA_SIGINFO_;
    sa.restorer = sbvm_init_restorer;
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
        sys4(NR_rt_sigaction, forwarded[i], (long)&sa, 0, sizeof(uint64_t));
    /* SIGCHLD only interrupts the wait for commands (ppoll), which
     * unblocks it: between two waits it stays pending. */
    sa.handler = on_sigchld;
    sa.flags = SA_RESTORER_ | SA_SIGINFO_;
    sys4(NR_rt_sigaction, SIGCHLD_, (long)&sa, 0, sizeof(uint64_t));
    sys4(NR_rt_sigprocmask, SIG_SETMASK_, (long)&chld, 0, sizeof(uint64_t));

    for (;;) {
        struct pollfd_ p = { FD_CONTROL, POLLIN_, 0 };
        long r;

        if (!gone && serve_children() < 0) {
            /* Inline, the guest was never ours: nothing to report. Live,
             * an empty sandbox waits for its supervisor. */
            if (!live)
                die(1);
            gone = 1;
        }
        if (freeze_requested)
            hold_and_exit();
        r = sys6(NR_ppoll, (long)&p, 1, 0, (long)&none, sizeof(uint64_t), 0);
        if (r == 1 && (p.revents & POLLIN_)) {
            struct proc_cmd c;
            long n = read_cmd(&c);
            if (n == 0)
                die(0); /* the supervisor is done: everything ends with us */
            if (n == (long)sizeof(c))
                on_command(&c);
        } else if (r == 1) {
            die(0); /* hung up */
        }
    }
}

#ifdef SBVM_INIT_STANDALONE
static int parse_int(const char *s)
{
    int v = 0;

    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* Entered from _start with the initial stack pointer. argv: "sbvm-init",
 * the guest's pid, flags. */
__attribute__((used)) _Noreturn void init_start_c(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    int pid = argc >= 2 ? parse_int(argv[1]) : -1;
    int flags = argc >= 3 ? parse_int(argv[2]) : 0;

    if (pid <= 0 || flags < 0)
        die(3);
    init_run(FD_STATUS, pid, flags);
}

SYS_ENTRY(init_start_c);
#endif
