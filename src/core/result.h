/* SPDX-License-Identifier: MIT */
/* result.h: the public sbvm_result and the outcome model's rules. */
#ifndef SBVM_CORE_RESULT_H
#define SBVM_CORE_RESULT_H

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
};

sbvm_result *result_new(const char *name, const struct strv *argv);
/* Sets the message from a format; on allocation failure keeps a fixed text. */
void result_set_message(sbvm_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The CLI exit status for an outcome (DESIGN §5). */
int outcome_exit_status(enum sbvm_outcome o, int exit_code, int signal);

/* "SIGSEGV" / "Segmentation fault" for a signal number; never NULL. */
const char *signal_name(int sig);
const char *signal_text(int sig);

#endif
