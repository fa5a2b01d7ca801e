/* SPDX-License-Identifier: MIT */
/*
 * outcome.h: the outcome model (DESIGN §5): a job's facts, and its
 * sandbox's when the sandbox ended with it, become its one sbvm_result.
 *
 * Pure: no system call, no backend. What the facts own (crashes, the
 * ledger, copies, the network record) moves into the result; the facts are
 * left empty of it.
 */
#ifndef SBVM_CORE_OUTCOME_H
#define SBVM_CORE_OUTCOME_H

#include "core/facts.h"
#include "core/result.h"

struct outcome_in {
    struct job_facts *job;
    /* The sandbox's end, when it ended with this job (inline, or a live
     * sandbox's own result); NULL for a job of a sandbox that goes on. */
    struct sandbox_report *sandbox;
    const uint64_t *limits; /* the job's limit values (the config's) */
    /* How each limit was enforced ("cgroup v1", "rlimit", ...), or NULL. */
    const char *const *mechanisms;
    /* The last line of the job's stderr (libc's last words for an abort). */
    const char *last_stderr_line;
};

void outcome_build(const struct outcome_in *in, sbvm_result *r);

#endif
