/* SPDX-License-Identifier: MIT */
/*
 * proto.h: what the sandbox's own processes tell the supervisor.
 *
 * The child that builds the sandbox, the guest process before its exec, and
 * the pid-1 init all report over one pipe (the "status pipe") in fixed-size
 * records smaller than PIPE_BUF, so each write is atomic. The supervisor
 * still treats every record as untrusted input: it checks the magic, the
 * kind, the stage and the ranges before using any field.
 *
 * This header is shared with the freestanding init, so it uses nothing but
 * fixed-width integer types.
 */
#ifndef SBVM_BACKEND_PROCESS_PROTO_H
#define SBVM_BACKEND_PROCESS_PROTO_H

#include <stdint.h>

#define PROC_REC_MAGIC 0x5342564dU /* "SBVM" */

enum proc_rec_kind {
    REC_SETUP_FAILED = 1, /* stage, err, index (the fs op, for STAGE_FSOP)  */
    REC_EXEC_FAILED = 2,  /* stage (a GUEST_* stage or EXEC), err           */
    REC_GUEST_EXIT = 3,   /* code (CLD_EXITED/KILLED/DUMPED), status        */
};

enum proc_stage {
    STAGE_NONE = 0,
    STAGE_FDS,           /* arranging the child's file descriptors        */
    STAGE_SYNC,          /* waiting for the supervisor's uid/gid maps     */
    STAGE_MOUNT_PRIVATE, /* cutting mount propagation to the host          */
    STAGE_ROOT_TMPFS,    /* the new root                                   */
    STAGE_FSOP,          /* one operation of the filesystem plan           */
    STAGE_FSOP_REOPEN,   /* reopening a vetted program file (index: which) */
    STAGE_HOSTNAME,
    STAGE_NETNS, /* the guest's network namespace                  */
    STAGE_LOOPBACK,
    STAGE_PIVOT,
    STAGE_ROOT_RDONLY,
    STAGE_IDS,  /* switching to the guest's uid and gid           */
    STAGE_CAPS, /* dropping capabilities                          */
    STAGE_NNP,
    STAGE_SECCOMP,
    STAGE_FORK,          /* creating the guest process                     */
    STAGE_GUEST_SESSION, /* setsid in the guest                            */
    STAGE_GUEST_RLIMIT,
    STAGE_GUEST_STDIO,
    STAGE_GUEST_CWD,
    STAGE_EXEC,
    STAGE__COUNT,
};

struct proc_record {
    uint32_t magic;
    uint16_t kind;
    uint16_t stage;
    int32_t err;    /* errno, positive */
    int32_t index;  /* STAGE_FSOP: which operation */
    int32_t code;   /* REC_GUEST_EXIT: CLD_EXITED, CLD_KILLED, CLD_DUMPED */
    int32_t status; /* REC_GUEST_EXIT: exit code or signal number */
};

/* File descriptor slots in the sandbox's processes. */
enum {
    FD_STATUS = 3, /* status pipe, write end; init keeps it at 3 */
    FD_SYNC = 4,   /* read end: the supervisor writes one byte when ready */
    FD_INIT = 5,   /* sealed memfd holding the init executable */
    FD_GUEST_IN = 6,
    FD_GUEST_OUT = 7,
    FD_GUEST_ERR = 8,
    FD_BIND_BASE = 9, /* vetted program files, one per bind */
};

#define SYNC_GO    'G'
#define SYNC_ABORT 'X'

#endif
