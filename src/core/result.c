/* SPDX-License-Identifier: MIT */
/* result.c: guest results and the outcome model. */
#include "core/result.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forensics/forensics.h"
#include "ledger/ledger.h"
#include "util/strbuf.h"
#include "util/util.h"

static const char *const outcome_names[] = {
    [SBVM_OUTCOME_EXITED] = "exited",
    [SBVM_OUTCOME_CRASHED] = "crashed",
    [SBVM_OUTCOME_DENIED] = "denied",
    [SBVM_OUTCOME_LIMIT] = "limit",
    [SBVM_OUTCOME_SETUP_FAILED] = "setup_failed",
    [SBVM_OUTCOME_NOT_EXECUTABLE] = "not_executable",
    [SBVM_OUTCOME_NOT_FOUND] = "not_found",
    [SBVM_OUTCOME_KILLED] = "killed",
};

SBVM_API const char *sbvm_outcome_name(enum sbvm_outcome o)
{
    if ((unsigned)o >= ARRAY_SIZE(outcome_names) || !outcome_names[o])
        return "unknown";
    return outcome_names[o];
}

int outcome_exit_status(enum sbvm_outcome o, int exit_code, int sig, int limit)
{
    switch (o) {
    case SBVM_OUTCOME_EXITED:
        return exit_code & 0xff;
    case SBVM_OUTCOME_LIMIT:
        /* Time limits, wall or CPU, exit like timeout(1); the others like a
         * process the kernel killed for its resources (128 + SIGKILL),
         * whatever signal actually ended it (SIGXFSZ at the disk limit). */
        return limit == SBVM_LIMIT_TIME || limit == SBVM_LIMIT_CPU ? 124 : 128 + SIGKILL;
    case SBVM_OUTCOME_CRASHED:
    case SBVM_OUTCOME_KILLED:
        return 128 + (sig > 0 && sig < 128 ? sig : SIGKILL);
    case SBVM_OUTCOME_DENIED:
        return 128 + SIGSYS;
    case SBVM_OUTCOME_NOT_EXECUTABLE:
        return 126;
    case SBVM_OUTCOME_NOT_FOUND:
        return 127;
    case SBVM_OUTCOME_SETUP_FAILED:
    default:
        return 125;
    }
}

const char *signal_name(int sig)
{
    const char *s = sigabbrev_np(sig);
    static const char *const rt = "SIGRT";

    if (s) {
        /* sigabbrev_np gives "SEGV"; keep a static "SIG"-prefixed table
         * for the common ones and fall back to the bare abbreviation. */
        static const struct {
            int sig;
            const char *name;
        } names[] = {
            { SIGHUP, "SIGHUP" },       { SIGINT, "SIGINT" },       { SIGQUIT, "SIGQUIT" },
            { SIGILL, "SIGILL" },       { SIGTRAP, "SIGTRAP" },     { SIGABRT, "SIGABRT" },
            { SIGBUS, "SIGBUS" },       { SIGFPE, "SIGFPE" },       { SIGKILL, "SIGKILL" },
            { SIGUSR1, "SIGUSR1" },     { SIGSEGV, "SIGSEGV" },     { SIGUSR2, "SIGUSR2" },
            { SIGPIPE, "SIGPIPE" },     { SIGALRM, "SIGALRM" },     { SIGTERM, "SIGTERM" },
            { SIGSTKFLT, "SIGSTKFLT" }, { SIGCHLD, "SIGCHLD" },     { SIGCONT, "SIGCONT" },
            { SIGSTOP, "SIGSTOP" },     { SIGTSTP, "SIGTSTP" },     { SIGTTIN, "SIGTTIN" },
            { SIGTTOU, "SIGTTOU" },     { SIGURG, "SIGURG" },       { SIGXCPU, "SIGXCPU" },
            { SIGXFSZ, "SIGXFSZ" },     { SIGVTALRM, "SIGVTALRM" }, { SIGPROF, "SIGPROF" },
            { SIGWINCH, "SIGWINCH" },   { SIGIO, "SIGIO" },         { SIGPWR, "SIGPWR" },
            { SIGSYS, "SIGSYS" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
            if (names[i].sig == sig)
                return names[i].name;
        return s;
    }
    return (sig >= SIGRTMIN && sig <= SIGRTMAX) ? rt : "SIG?";
}

const char *signal_text(int sig)
{
    const char *s = sigdescr_np(sig);
    return s ? s : "unknown signal";
}

sbvm_result *result_new(const char *name, const struct strv *argv)
{
    sbvm_result *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->exit_code = -1;
    r->limit = -1;
    r->name = strdup(name ? name : "guest");
    if (!r->name || (argv && strv_copy(&r->argv, argv) < 0)) {
        sbvm_result_free(r);
        return NULL;
    }
    return r;
}

void result_set_message(sbvm_result *r, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    free(r->message);
    r->message = strbuf_detach(&sb, NULL);
}

SBVM_API void sbvm_result_free(sbvm_result *r)
{
    if (!r)
        return;
    free(r->name);
    strv_release(&r->argv);
    free(r->message);
    free(r->out.data);
    free(r->err.data);
    for (size_t i = 0; i < r->ncrashes; i++)
        crash_free(r->crashes[i]);
    free(r->forensics_note);
    free(r->channel_error);
    for (size_t i = 0; i < r->nrefusals; i++)
        free((char *)r->refusals[i].name);
    free(r->refusals);
    free((char *)r->denial.name);
    ledger_free(r->ledger);
    free(r->kept);
    free(r->keep_error);
    for (size_t i = 0; i < r->nnet_attempts; i++) {
        free((char *)r->net_attempts[i].method);
        free((char *)r->net_attempts[i].host);
        free((char *)r->net_attempts[i].reason);
        free((char *)r->net_attempts[i].address);
        free((char *)r->net_attempts[i].path);
    }
    free(r->net_attempts);
    result_copies_free(r->copies, r->ncopies);
    strv_release(&r->devices);
    strv_release(&r->driver_ledger);
    free(r);
}

void result_copies_free(struct sbvm_copy *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)v[i].guest);
        free((char *)v[i].host);
        free((char *)v[i].error);
    }
    free(v);
}

SBVM_API size_t sbvm_result_copies(const sbvm_result *r, const struct sbvm_copy **v)
{
    if (v)
        *v = r->copies;
    return r->ncopies;
}

SBVM_API enum sbvm_net sbvm_result_net_mode(const sbvm_result *r)
{
    return r->net_mode;
}

SBVM_API size_t sbvm_result_net_attempts(const sbvm_result *r, const struct sbvm_net_attempt **v)
{
    if (v)
        *v = r->net_attempts;
    return r->nnet_attempts;
}

SBVM_API uint64_t sbvm_result_net_attempts_dropped(const sbvm_result *r)
{
    return r->net_attempts_dropped;
}

SBVM_API const char *sbvm_result_kept(const sbvm_result *r, const char **error)
{
    if (error)
        *error = r->keep_error;
    return r->kept;
}

SBVM_API size_t sbvm_result_crash_count(const sbvm_result *r)
{
    return r->ncrashes;
}

SBVM_API unsigned sbvm_result_crashes_not_recorded(const sbvm_result *r)
{
    return r->crashes_dropped;
}

SBVM_API const sbvm_crash *sbvm_result_crash(const sbvm_result *r, size_t i)
{
    return i < r->ncrashes ? r->crashes[i] : NULL;
}

SBVM_API const char *sbvm_result_channel_error(const sbvm_result *r)
{
    return r->channel_error;
}

SBVM_API const char *sbvm_result_forensics_note(const sbvm_result *r)
{
    return r->forensics_note;
}

SBVM_API size_t sbvm_result_refusal_count(const sbvm_result *r)
{
    return r->nrefusals;
}

SBVM_API const struct sbvm_refusal *sbvm_result_refusal(const sbvm_result *r, size_t i)
{
    return i < r->nrefusals ? &r->refusals[i] : NULL;
}

SBVM_API const struct sbvm_denial *sbvm_result_denial(const sbvm_result *r)
{
    return r->has_denial ? &r->denial : NULL;
}

SBVM_API int sbvm_result_limit(const sbvm_result *r, uint64_t *value, uint64_t *observed)
{
    if (r->outcome != SBVM_OUTCOME_LIMIT || r->limit < 0)
        return -1;
    if (value)
        *value = r->limit_value;
    if (observed)
        *observed = r->limit_observed;
    return r->limit;
}

SBVM_API const char *sbvm_result_limit_mechanism(const sbvm_result *r, enum sbvm_limit l)
{
    return (unsigned)l < SBVM_LIMIT__COUNT ? r->mechanisms[l] : NULL;
}

SBVM_API uint64_t sbvm_result_peak_memory(const sbvm_result *r, const char **source)
{
    if (source)
        *source = r->peak_source;
    return r->peak_memory;
}

SBVM_API uint64_t sbvm_result_cpu_time_us(const sbvm_result *r, uint64_t *user_us,
                                          uint64_t *system_us)
{
    if (user_us)
        *user_us = r->cpu_user_us;
    if (system_us)
        *system_us = r->cpu_system_us;
    return r->cpu_user_us + r->cpu_system_us;
}

SBVM_API const char *sbvm_result_name(const sbvm_result *r)
{
    return r->name;
}

SBVM_API size_t sbvm_result_argc(const sbvm_result *r)
{
    return r->argv.n;
}

SBVM_API const char *sbvm_result_argv(const sbvm_result *r, size_t i)
{
    return i < r->argv.n ? r->argv.v[i] : NULL;
}

SBVM_API enum sbvm_outcome sbvm_result_outcome(const sbvm_result *r)
{
    return r->outcome;
}

SBVM_API int sbvm_result_exit_code(const sbvm_result *r)
{
    return r->outcome == SBVM_OUTCOME_EXITED ? r->exit_code : -1;
}

SBVM_API int sbvm_result_signal(const sbvm_result *r)
{
    return r->signal;
}

SBVM_API int sbvm_result_exit_status(const sbvm_result *r)
{
    return outcome_exit_status(r->outcome, r->exit_code, r->signal, r->limit);
}

SBVM_API const char *sbvm_result_message(const sbvm_result *r)
{
    return r->message ? r->message : sbvm_outcome_name(r->outcome);
}

SBVM_API const char *sbvm_result_setup_stage(const sbvm_result *r)
{
    return r->stage;
}

SBVM_API int sbvm_result_setup_errno(const sbvm_result *r)
{
    return r->setup_errno;
}

SBVM_API int64_t sbvm_result_start_ns(const sbvm_result *r)
{
    return r->start_ns;
}

SBVM_API int64_t sbvm_result_duration_ns(const sbvm_result *r)
{
    return r->duration_ns;
}

SBVM_API uint64_t sbvm_result_output(const sbvm_result *r, enum sbvm_stream s, const char **data,
                                     size_t *len, size_t *head_len, uint64_t *omitted)
{
    const struct result_stream *st = s == SBVM_STDERR ? &r->err : &r->out;

    if (data)
        *data = st->data ? st->data : "";
    if (len)
        *len = st->len;
    if (head_len)
        *head_len = st->head_len;
    if (omitted)
        *omitted = st->omitted;
    return st->total;
}
