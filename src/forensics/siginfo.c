/* SPDX-License-Identifier: MIT */
/* siginfo.c: what a signal's si_code means (siginfo.h of the kernel ABI). */
#include <signal.h>

#include "forensics/forensics.h"
#include "util/util.h"

struct code_name {
    int code;
    const char *name;
    const char *text;
};

static const struct code_name segv_codes[] = {
    { 1, "SEGV_MAPERR", "address not mapped to object" },
    { 2, "SEGV_ACCERR", "invalid permissions for mapped object" },
    { 3, "SEGV_BNDERR", "failed address bound checks" },
    { 4, "SEGV_PKUERR", "failed protection key checks" },
    { 10, "SEGV_CPERR", "control protection fault (shadow stack)" },
};

static const struct code_name bus_codes[] = {
    { 1, "BUS_ADRALN", "invalid address alignment" },
    { 2, "BUS_ADRERR", "nonexistent physical address (e.g. beyond the end of a mapped file)" },
    { 3, "BUS_OBJERR", "object-specific hardware error" },
    { 4, "BUS_MCEERR_AR", "hardware memory error consumed" },
    { 5, "BUS_MCEERR_AO", "hardware memory error detected" },
};

static const struct code_name ill_codes[] = {
    { 1, "ILL_ILLOPC", "illegal opcode" },          { 2, "ILL_ILLOPN", "illegal operand" },
    { 3, "ILL_ILLADR", "illegal addressing mode" }, { 4, "ILL_ILLTRP", "illegal trap" },
    { 5, "ILL_PRVOPC", "privileged opcode" },       { 6, "ILL_PRVREG", "privileged register" },
    { 7, "ILL_COPROC", "coprocessor error" },       { 8, "ILL_BADSTK", "internal stack error" },
};

static const struct code_name fpe_codes[] = {
    { 1, "FPE_INTDIV", "integer divide by zero" },
    { 2, "FPE_INTOVF", "integer overflow" },
    { 3, "FPE_FLTDIV", "floating-point divide by zero" },
    { 4, "FPE_FLTOVF", "floating-point overflow" },
    { 5, "FPE_FLTUND", "floating-point underflow" },
    { 6, "FPE_FLTRES", "floating-point inexact result" },
    { 7, "FPE_FLTINV", "invalid floating-point operation" },
    { 8, "FPE_FLTSUB", "subscript out of range" },
    { 14, "FPE_FLTUNK", "undiagnosed floating-point exception" },
};

static const struct code_name trap_codes[] = {
    { 1, "TRAP_BRKPT", "process breakpoint" },
    { 2, "TRAP_TRACE", "process trace trap" },
    { 3, "TRAP_BRANCH", "process taken branch trap" },
    { 4, "TRAP_HWBKPT", "hardware breakpoint or watchpoint" },
    { 5, "TRAP_UNK", "undiagnosed trap" },
};

static const struct code_name sys_codes[] = {
    { 1, "SYS_SECCOMP", "seccomp filter triggered" },
};

/* Codes any signal may carry: how it was sent, not a fault. */
static const struct code_name generic_codes[] = {
    { SI_USER, "SI_USER", "sent by kill()" },
    { SI_KERNEL, "SI_KERNEL", "sent by the kernel (e.g. a general protection fault)" },
    { SI_QUEUE, "SI_QUEUE", "sent by sigqueue()" },
    { SI_TIMER, "SI_TIMER", "a POSIX timer expired" },
    { SI_MESGQ, "SI_MESGQ", "a message queue changed state" },
    { SI_ASYNCIO, "SI_ASYNCIO", "asynchronous I/O completed" },
    { SI_SIGIO, "SI_SIGIO", "queued SIGIO" },
    { SI_TKILL, "SI_TKILL", "sent by tkill()/tgkill() (raise, abort)" },
};

static const struct code_name *lookup(const struct code_name *t, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].code == code)
            return &t[i];
    return NULL;
}

/* The kernel sends these itself, as SI_USER, when an rlimit is exceeded. */
static const struct code_name rlimit_codes[] = {
    { SI_USER, "SI_USER", "RLIMIT_FSIZE exceeded: a file grew past the size limit" },
    { SI_USER, "SI_USER", "RLIMIT_CPU exceeded: the CPU time limit was reached" },
};

static const struct code_name *find(int signo, int code)
{
    const struct code_name *c = NULL;

    if (signo == SIGXFSZ && code == SI_USER)
        return &rlimit_codes[0];
    if (signo == SIGXCPU && code == SI_USER)
        return &rlimit_codes[1];

    /* Positive codes are signal-specific; the others are generic. */
    if (code > 0 && code != SI_KERNEL) {
        switch (signo) {
        case SIGSEGV:
            c = lookup(segv_codes, ARRAY_SIZE(segv_codes), code);
            break;
        case SIGBUS:
            c = lookup(bus_codes, ARRAY_SIZE(bus_codes), code);
            break;
        case SIGILL:
            c = lookup(ill_codes, ARRAY_SIZE(ill_codes), code);
            break;
        case SIGFPE:
            c = lookup(fpe_codes, ARRAY_SIZE(fpe_codes), code);
            break;
        case SIGTRAP:
            c = lookup(trap_codes, ARRAY_SIZE(trap_codes), code);
            break;
        case SIGSYS:
            c = lookup(sys_codes, ARRAY_SIZE(sys_codes), code);
            break;
        default:
            break;
        }
        return c;
    }
    return lookup(generic_codes, ARRAY_SIZE(generic_codes), code);
}

const char *siginfo_code_name(int signo, int code)
{
    const struct code_name *c = find(signo, code);
    return c ? c->name : "unknown";
}

const char *siginfo_code_text(int signo, int code)
{
    const struct code_name *c = find(signo, code);
    return c ? c->text : "unknown si_code";
}

bool siginfo_has_address(int signo, int code)
{
    switch (signo) {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
        /* Set by the kernel for faults (code > 0); a general protection
         * fault (SI_KERNEL) reports address 0, which means "unknown". */
        return code > 0 && code != SI_KERNEL;
    default:
        return false;
    }
}
