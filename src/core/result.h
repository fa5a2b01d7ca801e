/* SPDX-License-Identifier: MIT */
/* result.h: the public sbvm_result and the outcome model's rules. */
#ifndef SBVM_CORE_RESULT_H
#define SBVM_CORE_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include "sandboxvm/sandboxvm.h"
#include "util/strv.h"

struct result_stream {
    char *data; /* kept bytes; NULL when none */
    size_t len;
    size_t head_len;
    uint64_t total;
    uint64_t omitted;
};

#define RESULT_CRASHES_MAX 8

struct ledger;

struct sbvm_result {
    char *name;
    struct strv argv;
    enum sbvm_outcome outcome;
    int exit_code; /* EXITED */
    int signal;    /* CRASHED, KILLED, DENIED */
    char *message;
    const char *stage; /* static string, or NULL */
    int setup_errno;
    int64_t start_ns;
    int64_t duration_ns;
    struct result_stream out, err;

    /* Forensics. */
    struct sbvm_crash *crashes[RESULT_CRASHES_MAX];
    size_t ncrashes;
    uint32_t crashes_dropped; /* past RESULT_CRASHES_MAX: counted only */
    char *forensics_note;
    char *channel_error; /* the guest broke its channel's protocol: how */
    struct sbvm_refusal *refusals;
    size_t nrefusals;
    struct sbvm_denial denial;
    bool has_denial;

    /* Limits. */
    int limit; /* enum sbvm_limit, or -1 */
    uint64_t limit_value, limit_observed;
    const char *mechanisms[SBVM_LIMIT__COUNT];

    /* The ledger. */
    struct ledger *ledger;
    uint64_t peak_memory;
    const char *peak_source;
    uint64_t cpu_user_us, cpu_system_us;
    char *kept, *keep_error; /* --keep: where, or why not */

    /* --copy-in and --copy-out. */
    struct sbvm_copy *copies;
    size_t ncopies;

    /* Network. */
    enum sbvm_net net_mode;
    struct sbvm_net_attempt *net_attempts;
    size_t nnet_attempts;
    uint64_t net_attempts_dropped;

    /* Devices and drivers: a line per device, what drivers left behind. */
    struct strv devices, driver_ledger;
};

sbvm_result *result_new(const char *name, const struct strv *argv);
void result_copies_free(struct sbvm_copy *v, size_t n);
/* Sets the message from a format; on allocation failure keeps a fixed text. */
void result_set_message(sbvm_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The CLI exit status for an outcome (DESIGN §5). */
/* The documented exit status (docs/OUTCOMES.md); `limit` is the limit that
 * ended a SBVM_OUTCOME_LIMIT guest (enum sbvm_limit), else ignored. */
int outcome_exit_status(enum sbvm_outcome o, int exit_code, int signal, int limit);

/* "SIGSEGV" / "Segmentation fault" for a signal number; never NULL. */
const char *signal_name(int sig);
const char *signal_text(int sig);

#endif
