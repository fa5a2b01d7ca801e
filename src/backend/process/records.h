/* SPDX-License-Identifier: MIT */
/*
 * records.h: decoding what a sandbox reports on its status socket
 * (proto.h), one message at a time. Pure: bytes in, a checked record out,
 * nothing acted on (supervise.c applies them), so that it can be fuzzed
 * alone.
 *
 * Every record is checked completely - magic, kind, exact size, and the
 * range of every field that has one - before any of it is used. A message
 * that is not exactly one valid record is malformed.
 */
#ifndef SBVM_BACKEND_PROCESS_RECORDS_H
#define SBVM_BACKEND_PROCESS_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/process/proto.h"

/* One decoded record. Chunk data points into the buffer decoded. */
struct prec {
    uint16_t kind; /* enum proc_rec_kind */
    union {
        struct proc_setup setup; /* SETUP_FAILED, EXEC_FAILED, TRACE_OFF, READY, NET_LISTENER */
        struct proc_exit exit;   /* JOB_EXIT, SPAWNER_GONE */
        struct proc_fault fault;
        struct {
            struct proc_chunk h;
            const unsigned char *data;
        } chunk;
        struct {
            int32_t job;
            uint32_t n;
            struct proc_syscall_count e[PROC_SYSCALLS_MAX];
        } syscalls;
        struct proc_denied denied;
        struct proc_limit limit;
    } u;
};

/*
 * Decodes one message of `len` bytes (`truncated`: the kernel cut it, or
 * its descriptors). 0 and *out, or -EINVAL for anything malformed.
 */
int records_decode(const unsigned char *msg, size_t len, bool truncated, struct prec *out);

/* Whether a signal number is one the kernel can deliver (1..64). */
static inline bool records_signal_ok(int32_t s)
{
    return s > 0 && s < 65;
}

#endif
