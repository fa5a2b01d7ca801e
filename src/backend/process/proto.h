/* SPDX-License-Identifier: MIT */
/*
 * proto.h: what the sandbox's own processes tell the supervisor.
 *
 * The child that builds the sandbox, the guest process before its exec, and
 * the pid-1 init all report over one SOCK_SEQPACKET socket (the "status
 * socket"), one record per message: a header then `len` payload bytes, at
 * most PROC_REC_MAX in all, so records from different writers never
 * interleave and a message that is not exactly one record is malformed. The supervisor treats every
 * record as untrusted input: it checks the magic, the kind, the length, and every field's range
 * before using any of it. Crash data (memory maps, a stack snapshot) is sent as numbered chunks
 * that the supervisor reassembles.
 *
 * This header is shared with the freestanding init, so it uses nothing but
 * fixed-width integer types.
 */
#ifndef SBVM_BACKEND_PROCESS_PROTO_H
#define SBVM_BACKEND_PROCESS_PROTO_H

#include <stdint.h>

#define PROC_REC_MAGIC 0x5342564dU /* "SBVM" */
#define PROC_REC_MAX   4000        /* header + payload; PIPE_BUF is >= 4096 */

struct proc_rec_hdr {
    uint32_t magic;
    uint16_t kind;
    uint16_t len; /* payload bytes after the header */
};

#define PROC_PAYLOAD_MAX (PROC_REC_MAX - (int)sizeof(struct proc_rec_hdr))
/* What a fault record may announce: bytes of stack below the stack pointer,
 * and of the process's maps, that follow in chunks. The init captures at
 * most this; the supervisor accepts no more. */
#define PROC_STACK_MAX (64 * 1024)
#define PROC_MAPS_MAX  (256 * 1024)

enum proc_rec_kind {
    REC_SETUP_FAILED = 1,  /* struct proc_setup: building the sandbox failed     */
    REC_EXEC_FAILED = 2,   /* struct proc_setup: the guest's own set-up failed   */
    REC_JOB_EXIT = 3,      /* struct proc_exit: a job's first process ended      */
    REC_FAULT = 4,         /* struct proc_fault: a process is dying of a signal  */
    REC_FAULT_DATA = 5,    /* struct proc_chunk + bytes: maps or stack           */
    REC_SYSCALLS = 6,      /* struct proc_syscalls: refused syscall counts       */
    REC_DENIED = 7,        /* struct proc_denied: a syscall the policy forbids   */
    REC_HOLDING = 8,       /* struct proc_holding: leftovers frozen, waiting     */
    REC_TRACE_OFF = 9,     /* struct proc_setup: tracing unavailable (errno)     */
    REC_READY = 10,        /* struct proc_setup: the view is built (pivoted)     */
    REC_LIMIT = 11,        /* struct proc_limit: a watched call hit an rlimit    */
    REC_NET_LISTENER = 12, /* struct proc_setup + the proxy's listening socket  */
    REC_SPAWNER_GONE = 13, /* struct proc_exit: a live sandbox's exec server ended */
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
    STAGE_TRACE,         /* attaching the init to the guest (ptrace)       */
    STAGE_GUEST_SESSION, /* setsid in the guest                            */
    STAGE_GUEST_RLIMIT,
    STAGE_GUEST_STDIO,
    STAGE_GUEST_CWD,
    STAGE_EXEC,
    STAGE_IPC,     /* bounding the IPC namespace's shared memory            */
    STAGE_SYSCTL,  /* a container's sysctl (index: which)                  */
    STAGE_OVERLAY, /* the writable layer (overlayfs) over the rootfs         */
    STAGE__COUNT,
};

struct proc_setup {
    uint16_t stage;
    uint16_t pad;
    int32_t err;   /* errno, positive */
    int32_t index; /* STAGE_FSOP, STAGE_FSOP_REOPEN: which operation; else -1 */
};

/* Resource usage of a process and everything it waited for, in µs / KiB. */
struct proc_usage {
    uint64_t utime_us;
    uint64_t stime_us;
    uint64_t maxrss_kb;
};

/*
 * Jobs. A sandbox runs either one job, inline, as pid 2 (sandboxvm run), or
 * many (a live sandbox): then pid 2 is the exec server (spawner.c), and
 * each process it forks starts a job. Every record about a process says
 * which job it belongs to: the pid, in the sandbox's pid namespace, of the
 * job's first process (its "root"), which the init learns from the fork
 * events it traces, never from what a process says. 0: none known.
 */
struct proc_exit {
    int32_t code;            /* CLD_EXITED, CLD_KILLED, CLD_DUMPED */
    int32_t status;          /* exit code or signal number */
    int32_t pid;             /* the process that ended */
    int32_t job;             /* its job (for a job's root: its own pid) */
    struct proc_usage guest; /* the process and the children it reaped */
};

#define PROC_NREGS 27 /* x86_64 struct user_regs_struct */

struct proc_fault {
    uint32_t seq; /* crash number within this sandbox, from 1 */
    int32_t job;
    int32_t pid; /* process (thread group) in the sandbox's pid namespace */
    int32_t tid; /* the thread that got the signal */
    int32_t signo;
    int32_t code;       /* si_code */
    int32_t sender_pid; /* SI_USER / SI_TKILL / SI_QUEUE */
    int32_t sender_uid;
    int32_t syscall;   /* SIGSYS */
    uint32_t arch;     /* SIGSYS */
    uint32_t code_len; /* valid bytes in code[] */
    uint64_t addr;     /* si_addr */
    uint64_t regs[PROC_NREGS];
    uint8_t code_bytes[16]; /* at the instruction pointer */
    uint64_t stack_start;   /* where the stack snapshot begins */
    uint32_t stack_len;     /* bytes of stack that will follow in chunks */
    uint32_t maps_len;      /* bytes of /proc/<pid>/maps that will follow */
    char comm[16];          /* the thread's name */
};

enum proc_chunk_kind {
    CHUNK_MAPS = 1,
    CHUNK_STACK = 2,
};

struct proc_chunk {
    uint32_t seq;    /* the crash it belongs to */
    uint32_t which;  /* enum proc_chunk_kind */
    uint32_t offset; /* where these bytes go */
    uint32_t len;    /* bytes that follow */
};

#define PROC_CHUNK_DATA_MAX (PROC_PAYLOAD_MAX - (int)sizeof(struct proc_chunk))

struct proc_syscall_count {
    uint32_t nr;
    uint32_t count;
    int32_t err; /* the errno it was refused with */
};

#define PROC_SYSCALLS_MAX                                                                          \
    ((PROC_PAYLOAD_MAX - 2 * (int)sizeof(uint32_t)) / (int)sizeof(struct proc_syscall_count))

struct proc_syscalls {
    uint32_t n;
    int32_t job;
    struct proc_syscall_count e[];
};

struct proc_denied {
    int32_t pid;
    int32_t job;
    uint32_t arch;
    uint64_t nr;
    uint64_t args[6];
    uint64_t ip;
};

enum proc_limit_kind {
    PROC_LIMIT_FILES = 1,  /* EMFILE: RLIMIT_NOFILE */
    PROC_LIMIT_PIDS = 2,   /* EAGAIN from a fork: RLIMIT_NPROC */
    PROC_LIMIT_MEMORY = 3, /* ENOMEM from mmap/mremap, a refused brk: RLIMIT_AS */
};

struct proc_limit {
    uint32_t which; /* enum proc_limit_kind */
    int32_t pid;    /* the process whose call failed */
    int32_t job;
    uint32_t nr;       /* the syscall */
    int32_t err;       /* what it returned, as a positive errno (0 for brk) */
    uint64_t observed; /* open fds / tasks in the sandbox / bytes mapped + asked */
};

struct proc_holding {
    uint32_t reserved; /* the record is its kind; C wants a member */
};

/*
 * What the supervisor asks of a running init, on the control socket (a
 * SOCK_SEQPACKET socket, one command per message). Before the init runs,
 * the same socket carries single bytes to the sandbox's builder (SYNC_*).
 */
enum proc_cmd_kind {
    CMD_SIGNAL = 1,   /* sig to job's process group (job 0: every job's)      */
    CMD_KILL_JOB = 2, /* SIGKILL to every process of job                      */
    CMD_HOLD = 3,     /* freeze everything, send counts and REC_HOLDING, wait */
    CMD_RELEASE = 4,  /* (while holding) end: the init exits, ending them all */
    CMD_PAUSE = 5,    /* SIGSTOP to every process (an OCI container's pause)  */
    CMD_RESUME = 6,   /* SIGCONT to every process                            */
    /* live: `sig` crashes the supervisor has taken in full; the init may
     * capture as many more (at most 8 are in flight at once) */
    CMD_CAPTURE_CREDIT = 7,
};

#define PROC_CMD_MAGIC 0x53425643U /* "SBVC" */

struct proc_cmd {
    uint32_t magic;
    uint32_t kind;
    int32_t job;
    int32_t sig;
};

/*
 * The exec server of a live sandbox (pid 2) takes one request per message
 * on its socket: this header, then `strings_len` bytes: the working
 * directory, the file to run (SPAWN_EXEC_PATH only), argc arguments and
 * envc "KEY=VALUE" strings, each
 * NUL-terminated; with SCM_RIGHTS stdin, stdout and stderr (or nothing, for
 * a terminal: SPAWN_PTY), then the file to run (SPAWN_EXEC_FD), then the
 * job's fd 3 (SPAWN_CHANNEL). It answers with a struct spawn_reply (and, for a
 * terminal, its master side).
 */
#define SPAWN_MAGIC     0x53425358U /* "SBSX" */
#define SPAWN_MSG_MAX   (128 * 1024)
#define SPAWN_ARGS_MAX  4096
#define SPAWN_PTY       1U /* a terminal from the sandbox's own devpts */
#define SPAWN_EXEC_PATH 2U /* a string before argv: the file to run, not looked up */
#define SPAWN_CHANNEL   4U /* one more fd, last: the job's host channel, its fd 3 */
/* The job is set up and its program found, then it waits before its exec
 * until it reads a byte from one more descriptor that comes with the
 * request, before the channel's (EOF: it leaves instead). The reply comes
 * once it waits. */
#define SPAWN_HOLD        8U
#define SPAWN_RLIMITS_MAX 16
#define SPAWN_FILTER_MAX  4096 /* BPF_MAXINSNS */
/* After stdio, before what releases a held job and the channel: the file
 * to run (execveat), a sealed memfd (a library-call worker). */
#define SPAWN_EXEC_FD 16U

struct spawn_req {
    uint32_t magic;
    uint32_t job; /* the supervisor's number for it, echoed back */
    uint32_t flags;
    uint32_t argc, envc;
    uint32_t strings_len;
    uint16_t rows, cols; /* the terminal's size */
    uint32_t umask;
    /* Rlimits for the job's first process; 0 keeps the sandbox's. */
    uint64_t rl_nofile, rl_cpu, rl_as, rl_fsize;
    /* A container's (src/oci): a seccomp filter of filter_len instructions
     * (struct sock_filter, 8 bytes each) at the start of the strings' area,
     * which follows it, installed last before the exec on top of the
     * sandbox's; and rlimits set as given (cur, max). */
    uint32_t filter_len;
    uint32_t nrlimits;
    struct spawn_rlimit {
        uint32_t resource, pad;
        uint64_t cur, max;
    } rl[SPAWN_RLIMITS_MAX];
};

struct spawn_reply {
    uint32_t magic;
    uint32_t job;
    int32_t pid;    /* the job's first process, in the sandbox; 0 when none */
    uint16_t stage; /* STAGE_* of a failure before the program ran, or 0 */
    uint16_t pad;
    int32_t err;
};

/* File descriptor slots in the sandbox's processes. */
enum {
    FD_STATUS = 3,  /* status socket, write end; init keeps it at 3 */
    FD_CONTROL = 4, /* the supervisor's requests: "go" once the maps are written,
                       then, to the init, struct proc_cmd; EOF: end */
    FD_INIT = 5,    /* sealed memfd holding the init executable */
    FD_POLICY = 6,  /* sealed memfd holding the guest's filters (struct proc_policy) */
    FD_SPAWNER = 7, /* live: sealed memfd holding the exec server */
    FD_SPAWN = 8,   /* live: the exec server's socket to the supervisor */
    FD_GUEST_IN = 9,
    FD_GUEST_OUT = 10,
    FD_GUEST_ERR = 11,
    FD_GUEST_CHANNEL = 12, /* the guest's end of its host channel (its fd 3) */
    FD_BIND_BASE = 13,     /* vetted program files, one per bind */
};

/*
 * The guest's seccomp filters, as the init reads them from FD_POLICY: this
 * header, then each program's instructions (struct sock_filter), in the
 * order they are installed. The init never trusts the data of a seccomp
 * stop (a guest's own filter chooses it when both return TRACE): it runs
 * these programs on the stopped call and acts on their answer.
 */
#define PROC_POLICY_MAGIC     0x53425046U /* "SBPF" */
#define PROC_POLICY_PROGS_MAX 4
#define PROC_POLICY_INSNS_MAX 4096 /* BPF_MAXINSNS */

struct proc_policy {
    uint32_t magic;
    uint32_t nprogs;
    uint32_t len[PROC_POLICY_PROGS_MAX]; /* instructions in each program */
};

#define SYNC_GO     'G'
#define SYNC_ABORT  'X'
#define SYNC_COPIED 'C' /* --copy-in done: the guest may start */

/* init's flags (argv[2]): hold the sandbox after pid 2 ends until released. */
#define INIT_FLAG_HOLD 1
/* ... and hold even when nothing else is left (--copy-out reads the
 * sandbox's mounts, which live only as long as it does). */
#define INIT_FLAG_HOLD_ALWAYS 2
/* A live sandbox: pid 2 is the exec server, and the sandbox lives until
 * the supervisor ends it (CMD_HOLD, then CMD_RELEASE or EOF). */
#define INIT_FLAG_LIVE 4

/*
 * Seccomp "trace" data (SCMP_ACT_TRACE) in the sandbox's own filters:
 * refused syscalls stop in the init, which counts them and makes them fail
 * with the errno in the low 12 bits; one with INIT_TRACE_WATCH runs, and
 * init looks at its result for a limit. The init reads this data from its
 * own evaluation of the filters (struct proc_policy), never from the stop.
 * A syscall the run denies (--deny) is not traced: the filter kills the
 * process (SECCOMP_RET_KILL_PROCESS, which no filter of the guest's can
 * outrank), and the init names the call from the dying thread's registers.
 */
#define INIT_TRACE_ERRNO_MASK 0x0fff
#define INIT_TRACE_WATCH      0x4000
/* --deny execve / execveat: the guest's own exec of its program (and a
 * live sandbox's exec server's, and each job's) must pass, which no
 * filter can tell from the program's own execs. So these are traced: the
 * init lets a job's first process exec until one exec succeeds, and
 * treats any other as the denial (the process stays stopped in the call,
 * which never runs, until it is killed). */
#define INIT_TRACE_DENY_EXEC 0x2000

#endif
