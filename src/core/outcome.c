/* SPDX-License-Identifier: MIT */
/*
 * outcome.c: facts -> result (outcome.h), and the facts' own housekeeping.
 * The one place that decides which of several things that happened is how
 * a job ended, and says it in words.
 */
#include "core/outcome.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "forensics/forensics.h"
#include "ledger/ledger.h"
#include "net/broker.h"
#include "policy/seccomp.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* ---- the facts ------------------------------------------------------------ */

void setup_fact_release(struct setup_fact *s)
{
    free(s->message);
    memset(s, 0, sizeof(*s));
}

void setup_fact_set(struct setup_fact *s, enum sbvm_outcome o, const char *stage, int err,
                    const char *fmt, ...)
{
    va_list ap;
    struct strbuf sb = STRBUF_INIT;

    free(s->message);
    s->outcome = o;
    s->stage = stage;
    s->err = err;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    s->message = strbuf_detach(&sb, NULL);
    if (!s->message)
        s->message = strdup("out of memory");
}

void job_facts_init(struct job_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->limit = -1;
}

void job_facts_release(struct job_facts *f)
{
    setup_fact_release(&f->setup);
    for (size_t i = 0; i < f->ncrashes; i++)
        crash_free(f->crashes[i]);
    free(f->refusals);
    free(f->channel_error);
    job_facts_init(f);
}

void job_facts_add_crash(struct job_facts *f, struct sbvm_crash *c)
{
    if (f->ncrashes == RESULT_CRASHES_MAX) {
        f->crashes_dropped++;
        crash_free(c);
        return;
    }
    f->crashes[f->ncrashes++] = c;
}

int job_facts_add_refusals(struct job_facts *f, uint32_t nr, uint32_t count, int err)
{
    uint32_t slot = nr < FACTS_SYSCALLS ? nr : FACTS_SYSCALLS;

    if (!f->refusals && !(f->refusals = calloc(1, sizeof(*f->refusals))))
        return -1;
    f->refusals->count[slot] = f->refusals->count[slot] > UINT32_MAX - count
                                   ? UINT32_MAX
                                   : f->refusals->count[slot] + count;
    f->refusals->err[slot] = err;
    return 0;
}

void sandbox_report_release(struct sandbox_report *r)
{
    ledger_free(r->ledger);
    result_copies_free(r->copies, r->ncopies);
    net_attempts_free(r->net_attempts, r->nnet_attempts);
    free(r->kept);
    free(r->keep_error);
    strv_release(&r->devices);
    strv_release(&r->driver_ledger);
    memset(r, 0, sizeof(*r));
}

/* ---- the outcome ------------------------------------------------------------ */

static void fmt_limit(char *buf, size_t size, enum sbvm_limit l, uint64_t v)
{
    switch (l) {
    case SBVM_LIMIT_TIME:
    case SBVM_LIMIT_CPU:
        snprintf(buf, size, "%.3g s", (double)v / 1000);
        break;
    case SBVM_LIMIT_MEMORY:
    case SBVM_LIMIT_OUTPUT:
    case SBVM_LIMIT_DISK:
        if (v >= (1ULL << 20))
            snprintf(buf, size, "%.1f MiB", (double)v / (1 << 20));
        else
            snprintf(buf, size, "%llu bytes", (unsigned long long)v);
        break;
    default:
        snprintf(buf, size, "%llu", (unsigned long long)v);
        break;
    }
}

static void set_limit(const struct outcome_in *in, sbvm_result *r, enum sbvm_limit l,
                      uint64_t observed, int sig, const char *note)
{
    char val[48], obs[48];
    const char *what, *mech = r->mechanisms[l];
    bool rlimit = mech && streq(mech, "rlimit");

    r->outcome = SBVM_OUTCOME_LIMIT;
    r->limit = (int)l;
    r->limit_value = in->limits[l];
    r->limit_observed = observed;
    r->signal = sig ? sig : SIGKILL;
    fmt_limit(val, sizeof(val), l, r->limit_value);
    fmt_limit(obs, sizeof(obs), l, observed);
    switch (l) {
    case SBVM_LIMIT_TIME:
        what = "ran out of time";
        break;
    case SBVM_LIMIT_CPU:
        what = "used up its CPU time";
        break;
    case SBVM_LIMIT_MEMORY:
        what = rlimit ? "an allocation was refused (address space)"
                      : "was killed by the out-of-memory killer";
        break;
    case SBVM_LIMIT_PIDS:
        what = "reached its process limit (a fork was refused)";
        break;
    case SBVM_LIMIT_FILES:
        what = "reached its open-file limit (an open was refused)";
        break;
    case SBVM_LIMIT_OUTPUT:
        what = "wrote more output than allowed";
        break;
    case SBVM_LIMIT_DISK:
        what = "filled its scratch space";
        break;
    default:
        what = "reached a limit";
        break;
    }
    result_set_message(r, "limit %s: %s (limit %s, observed %s; enforced by %s)%s%s",
                       sbvm_limit_name(l), what, val, obs, mech ? mech : "the supervisor",
                       note && note[0] ? ": " : "", note ? note : "");
}

/* The crash that killed the job's first process itself, if one was
 * captured. */
static const struct sbvm_crash *own_crash(const sbvm_result *r, int sig)
{
    for (size_t i = r->ncrashes; i > 0; i--)
        if (r->crashes[i - 1]->is_guest && r->crashes[i - 1]->raw.signo == sig)
            return r->crashes[i - 1];
    return NULL;
}

static void from_exit(const struct outcome_in *in, sbvm_result *r)
{
    const struct exit_fact *e = &in->job->exit;
    const struct sandbox_report *sb = in->sandbox;
    int sig = e->status;
    const struct sbvm_crash *c;

    if (!e->signaled) {
        r->outcome = SBVM_OUTCOME_EXITED;
        r->exit_code = e->status;
        result_set_message(r, "exited with code %d", e->status);
        return;
    }
    r->signal = sig;
    if (sig == SIGKILL && sb && sb->oom_kills > 0 && in->limits[SBVM_LIMIT_MEMORY]) {
        set_limit(in, r, SBVM_LIMIT_MEMORY, r->peak_memory, sig, NULL);
    } else if (sig == SIGXCPU && in->limits[SBVM_LIMIT_CPU]) {
        set_limit(in, r, SBVM_LIMIT_CPU, (r->cpu_user_us + r->cpu_system_us) / 1000, sig, NULL);
    } else if (sig == SIGXFSZ && in->limits[SBVM_LIMIT_DISK]) {
        set_limit(in, r, SBVM_LIMIT_DISK, in->limits[SBVM_LIMIT_DISK], sig, NULL);
    } else if (in->job->host_signal && sig == in->job->host_signal) {
        r->outcome = SBVM_OUTCOME_KILLED;
        result_set_message(r, "killed by the host: %s (%s)", signal_name(sig), signal_text(sig));
    } else if (sig == SIGSYS && sb && sb->trace_off) {
        /* Untraced, a kill by our filter cannot be told from one by the
         * guest's own: say what can be said. */
        r->outcome = SBVM_OUTCOME_DENIED;
        result_set_message(r,
                           "denied: a seccomp filter killed it (%s); which call is unknown: the "
                           "host refused tracing",
                           signal_name(sig));
    } else if ((c = own_crash(r, sig))) {
        r->outcome = SBVM_OUTCOME_CRASHED;
        if (sig == SIGABRT && in->last_stderr_line && in->last_stderr_line[0])
            result_set_message(r, "crashed: %s; it said: %s", sbvm_crash_summary(c),
                               in->last_stderr_line);
        else
            result_set_message(r, "crashed: %s", sbvm_crash_summary(c));
    } else {
        r->outcome = SBVM_OUTCOME_CRASHED;
        result_set_message(r, "crashed: %s (%s)", signal_name(sig), signal_text(sig));
    }
}

static void from_denial(const struct denial_fact *d, sbvm_result *r)
{
    enum seccomp_abi abi = seccomp_abi_of(d->arch, d->nr);
    int nr = seccomp_abi_nr(abi, d->nr);
    const char *name = nr >= 0 ? seccomp_syscall_name_abi(abi, nr) : NULL;
    const char *how = abi == SECCOMP_ABI_I386  ? " through the i386 entry (int 0x80)"
                      : abi == SECCOMP_ABI_X32 ? " through the x32 ABI"
                                               : "";

    r->outcome = SBVM_OUTCOME_DENIED;
    r->signal = SIGSYS;
    r->has_denial = true;
    r->denial.name = strdup(name ? name : "unknown");
    r->denial.nr = nr;
    r->denial.abi = seccomp_abi_name(abi);
    r->denial.pid = d->pid;
    memcpy(r->denial.args, d->args, sizeof(r->denial.args));
    r->denial.pc = d->ip;
    result_set_message(r,
                       "denied: syscall %s (%d)%s with arguments 0x%llx, 0x%llx, 0x%llx, 0x%llx, "
                       "0x%llx, 0x%llx in pid %d",
                       r->denial.name ? r->denial.name : "unknown", r->denial.nr, how,
                       (unsigned long long)d->args[0], (unsigned long long)d->args[1],
                       (unsigned long long)d->args[2], (unsigned long long)d->args[3],
                       (unsigned long long)d->args[4], (unsigned long long)d->args[5], d->pid);
}

static void take_refusals(struct job_facts *f, sbvm_result *r)
{
    size_t n = 0;

    if (!f->refusals)
        return;
    for (size_t i = 0; i <= FACTS_SYSCALLS; i++)
        n += f->refusals->count[i] > 0;
    if (!n || !(r->refusals = calloc(n, sizeof(*r->refusals))))
        return;
    for (size_t i = 0; i <= FACTS_SYSCALLS; i++) {
        struct sbvm_refusal *e;
        const char *name;
        if (!f->refusals->count[i])
            continue;
        e = &r->refusals[r->nrefusals++];
        name = i < FACTS_SYSCALLS ? seccomp_syscall_name((int)i) : NULL;
        e->name = strdup(name ? name : "unknown");
        e->nr = i < FACTS_SYSCALLS ? (int)i : -1;
        e->count = f->refusals->count[i];
        e->err = f->refusals->err[i];
    }
}

/* What the sandbox's end tells the result, moved in. */
static void take_sandbox(struct sandbox_report *sb, const struct job_facts *f, sbvm_result *r)
{
    r->copies = sb->copies;
    r->ncopies = sb->ncopies;
    sb->copies = NULL;
    sb->ncopies = 0;
    r->net_mode = sb->net_mode;
    r->net_attempts = sb->net_attempts;
    r->nnet_attempts = sb->nnet_attempts;
    r->net_attempts_dropped = sb->net_attempts_dropped;
    sb->net_attempts = NULL;
    sb->nnet_attempts = 0;
    r->ledger = sb->ledger;
    sb->ledger = NULL;
    r->kept = sb->kept;
    r->keep_error = sb->keep_error;
    sb->kept = sb->keep_error = NULL;
    r->devices = sb->devices;
    r->driver_ledger = sb->driver_ledger;
    memset(&sb->devices, 0, sizeof(sb->devices));
    memset(&sb->driver_ledger, 0, sizeof(sb->driver_ledger));
    if (sb->trace_off) {
        struct strbuf m = STRBUF_INIT;
        strbuf_addf(&m,
                    "crash details and syscall accounting are unavailable: the host refused "
                    "ptrace to the sandbox's init (%s)",
                    errno_text(sb->trace_off));
        r->forensics_note = strbuf_detach(&m, NULL);
    }
    /* A group that counted the whole sandbox tells best; then the job's
     * first process's rusage; then what was read while it held. */
    if (sb->peak_source && strncmp(sb->peak_source, "cgroup", 6) == 0) {
        r->peak_memory = sb->peak_memory;
        r->peak_source = sb->peak_source;
    } else if (f->have_exit) {
        r->peak_memory = f->exit.maxrss_kb * 1024;
        r->peak_source = "rusage (largest process)";
    } else if (sb->peak_source) {
        r->peak_memory = sb->peak_memory;
        r->peak_source = sb->peak_source;
    }
    if (sb->cpu_known) {
        r->cpu_user_us = sb->cpu_user_us;
        r->cpu_system_us = sb->cpu_system_us;
    } else if (f->have_exit) {
        r->cpu_user_us = f->exit.utime_us;
        r->cpu_system_us = f->exit.stime_us;
    }
}

void outcome_build(const struct outcome_in *in, sbvm_result *r)
{
    struct job_facts *f = in->job;
    struct sandbox_report *sb = in->sandbox;

    if (in->mechanisms)
        memcpy(r->mechanisms, in->mechanisms, sizeof(r->mechanisms));
    if (sb)
        take_sandbox(sb, f, r);
    else if (f->have_exit) {
        r->peak_memory = f->exit.maxrss_kb * 1024;
        r->peak_source = "rusage (largest process)";
        r->cpu_user_us = f->exit.utime_us;
        r->cpu_system_us = f->exit.stime_us;
    }
    take_refusals(f, r);
    for (size_t i = 0; i < f->ncrashes; i++) {
        r->crashes[r->ncrashes++] = f->crashes[i];
        f->crashes[i] = NULL;
    }
    f->ncrashes = 0;
    r->crashes_dropped = f->crashes_dropped;
    r->channel_error = f->channel_error;
    f->channel_error = NULL;

    if (f->have_setup) {
        r->outcome = f->setup.outcome;
        r->stage = f->setup.stage;
        r->setup_errno = f->setup.err;
        result_set_message(r, "%s", f->setup.message ? f->setup.message : "set-up failed");
    } else if (f->limit >= 0) {
        set_limit(in, r, (enum sbvm_limit)f->limit, f->limit_observed,
                  f->have_exit && f->exit.signaled ? f->exit.status : 0, f->limit_note);
    } else if (f->have_denial) {
        from_denial(&f->denial, r);
    } else if (f->have_exit) {
        from_exit(in, r);
    } else if (f->host_signal) {
        r->outcome = SBVM_OUTCOME_KILLED;
        r->signal = f->host_signal;
        result_set_message(r, "killed by the host: %s (%s)", signal_name(r->signal),
                           signal_text(r->signal));
    } else if (sb && sb->init_killed && sb->oom_kills > 0 && in->limits[SBVM_LIMIT_MEMORY]) {
        /* The cgroup's OOM killer took the init itself (the guest's memory
         * may be in no process's RSS: memfds, shared memory). */
        set_limit(in, r, SBVM_LIMIT_MEMORY, r->peak_memory, SIGKILL, NULL);
    } else if (sb && sb->init_killed) {
        r->outcome = SBVM_OUTCOME_KILLED;
        r->signal = SIGKILL;
        result_set_message(r, "killed: the sandbox's init was killed (SIGKILL) from outside%s",
                           sb->host_oom ? ", most likely by the kernel's out-of-memory killer "
                                          "(the host ran out of memory while it ran)"
                                        : "");
    } else if (f->sandbox_ended) {
        r->outcome = SBVM_OUTCOME_KILLED;
        r->signal = SIGKILL;
        result_set_message(r, "killed: its sandbox ended while it ran");
    } else {
        r->outcome = SBVM_OUTCOME_SETUP_FAILED;
        r->stage = "init";
        if (sb)
            result_set_message(
                r, "the sandbox ended without reporting on its guest (init: %s %d)%s",
                sb->init_code == CLD_EXITED ? "exit code" : "signal", sb->init_status,
                sb->bad_record ? "; it sent a malformed report" : "");
        else
            result_set_message(r, "the job ended without a report");
    }
}
