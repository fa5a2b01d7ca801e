/* SPDX-License-Identifier: MIT */
/*
 * facts.h: what the outcome model is built from.
 *
 * A backend reports what it sees as typed events (backend.h); core keeps
 * their facts here, per job and per sandbox, and builds each sbvm_result
 * from them with one pure function (outcome.h). Nothing here is a public
 * result yet, and no backend writes a result itself.
 */
#ifndef SBVM_CORE_FACTS_H
#define SBVM_CORE_FACTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/result.h"
#include "util/strv.h"
#include "sandboxvm/sandboxvm.h"

#define FACTS_SYSCALLS 1024 /* refusals counted by number below this */

/* A sandbox or a job that could not start: the outcome (SETUP_FAILED,
 * NOT_FOUND, NOT_EXECUTABLE), the stage by name, its errno and the whole
 * message ("mounting /usr read-only: Operation not permitted"). */
struct setup_fact {
    enum sbvm_outcome outcome;
    const char *stage; /* static string */
    int err;
    char *message; /* owned */
};

/* How a job's first process ended (wait status, rusage). */
struct exit_fact {
    bool signaled;
    bool core;  /* dumped */
    int status; /* exit code, or the signal */
    uint64_t utime_us, stime_us, maxrss_kb;
};

/* A call the sandbox's filter killed. */
struct denial_fact {
    uint32_t arch;
    uint64_t nr;
    int pid;
    uint64_t args[6];
    uint64_t ip;
};

/* A limit reached, with what was observed and how ("openat in pid 3
 * failed with EMFILE"). */
struct limit_fact {
    enum sbvm_limit which;
    uint64_t observed;
    char note[128];
};

/* Refused syscalls of one job. */
struct refusal_counts {
    uint32_t count[FACTS_SYSCALLS + 1]; /* last: out of range */
    int32_t err[FACTS_SYSCALLS + 1];
};

/* Everything one job's result is built from. */
struct job_facts {
    bool have_setup;
    struct setup_fact setup;
    bool have_exit;
    struct exit_fact exit;
    struct sbvm_crash *crashes[RESULT_CRASHES_MAX];
    size_t ncrashes;
    uint32_t crashes_dropped;
    bool have_denial;
    struct denial_fact denial;
    int limit; /* enum sbvm_limit, or -1 */
    uint64_t limit_observed;
    char limit_note[128];
    struct refusal_counts *refusals; /* NULL until one is counted */
    int host_signal;                 /* the last signal the host sent on request */
    bool sandbox_ended;              /* the sandbox ended under the job */
    char *channel_error;             /* its host channel ended on a broken protocol */
};

/* What only the end of a whole sandbox tells: how its init ended, its
 * usage, its ledger, copies, network record and kept scratch. */
struct sandbox_report {
    bool init_killed;        /* its init died of SIGKILL that we did not send */
    int init_code;           /* CLD_EXITED / CLD_KILLED ... of its init */
    int init_status;         /* and the code or signal */
    bool bad_record;         /* it sent a malformed report */
    uint64_t oom_kills;      /* by its memory cgroup */
    bool host_oom;           /* the kernel's OOM killer killed something meanwhile */
    int trace_off;           /* errno when the host refused tracing, else 0 */
    uint64_t peak_memory;    /* bytes; with its source, NULL: unknown here */
    const char *peak_source; /* (then the job's own rusage tells) */
    uint64_t cpu_user_us, cpu_system_us;
    bool cpu_known;
    struct ledger *ledger; /* owned */
    const char *mechanisms[SBVM_LIMIT__COUNT];
    struct sbvm_copy *copies;
    size_t ncopies;
    enum sbvm_net net_mode;
    struct sbvm_net_attempt *net_attempts;
    size_t nnet_attempts;
    uint64_t net_attempts_dropped;
    char *kept, *keep_error;
    /* Devices (src/drivers): a line per device, the drivers' ledgers. */
    struct strv devices, driver_ledger;
};

void setup_fact_release(struct setup_fact *s);
/* Sets a setup fact; the message is formatted (never NULL after, even
 * without memory). */
void setup_fact_set(struct setup_fact *s, enum sbvm_outcome o, const char *stage, int err,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void job_facts_init(struct job_facts *f);
void job_facts_release(struct job_facts *f);
/* Adds a crash (taking it); past the cap, counts it. */
void job_facts_add_crash(struct job_facts *f, struct sbvm_crash *c);
/* Adds refusal counts for syscall nr (nr >= FACTS_SYSCALLS: "unknown"). */
int job_facts_add_refusals(struct job_facts *f, uint32_t nr, uint32_t count, int err);
void sandbox_report_release(struct sandbox_report *r);

#endif
