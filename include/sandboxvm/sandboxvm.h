/* SPDX-License-Identifier: MIT */
/*
 * sandboxvm.h: the host library. Run untrusted programs in isolated sandboxes
 * and learn exactly how each one ended.
 *
 * Conventions (every function in this header follows them):
 *
 *  - Functions that can fail return 0 (or a non-negative value) on success and
 *    a negative errno on failure. When they take a `sbvm_error **err` and fail,
 *    `*err` is set to a newly allocated error that names the thing and the
 *    stage ("guest 'hello': mounting /usr read-only: Operation not permitted").
 *    The caller owns it and releases it with sbvm_error_free(). `err` may be
 *    NULL when the caller only wants the return value. On success `*err` is
 *    left untouched.
 *  - The library never prints, never exits and never installs signal
 *    handlers. Everything it learns is returned in an sbvm_result. Once it
 *    has built a sandbox it keeps a few descriptors open for the next one
 *    (its sealed executables and compiled syscall policy).
 *  - Objects are opaque. `_new` allocates, `_free` releases (NULL is fine).
 *  - Nothing here is thread-safe on the same object; distinct objects may be
 *    used from distinct threads. A runner must be driven by a single thread,
 *    and that thread must outlive the run: guests are bound to it and die with
 *    it (PR_SET_PDEATHSIG).
 *
 * A guest's life: an sbvm_config describes it; sbvm_runner_add() queues it;
 * sbvm_runner_run() starts queued guests (at most `parallel` at once), streams
 * their output through the event callbacks, and leaves one sbvm_result per
 * guest. sbvm_run() does all of that for a single guest.
 */
#ifndef SANDBOXVM_SANDBOXVM_H
#define SANDBOXVM_SANDBOXVM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SBVM_API __attribute__((visibility("default")))
#else
#define SBVM_API
#endif

#define SBVM_VERSION_MAJOR 0
#define SBVM_VERSION_MINOR 1
#define SBVM_VERSION_PATCH 0
#define SBVM_VERSION       "0.1.0"

/* The version of the library actually linked. */
SBVM_API const char *sbvm_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

typedef struct sbvm_error sbvm_error;

/* The errno value behind the error (positive), e.g. ENOENT. */
SBVM_API int sbvm_error_code(const sbvm_error *e);
/* One line, no trailing newline, naming the thing and the reason. */
SBVM_API const char *sbvm_error_message(const sbvm_error *e);
SBVM_API void sbvm_error_free(sbvm_error *e);

/* ------------------------------------------------------------------------ */
/* Guest configuration                                                      */

typedef struct sbvm_config sbvm_config;
/* The host channel (sandboxvm/channel.h), for guests that ask for one. */
typedef struct sbvm_channel sbvm_channel;
typedef struct sbvm_channel_config sbvm_channel_config;

/* Returns NULL only when out of memory. */
SBVM_API sbvm_config *sbvm_config_new(void);
SBVM_API void sbvm_config_free(sbvm_config *cfg);
/* Deep copy; NULL when out of memory. */
SBVM_API sbvm_config *sbvm_config_dup(const sbvm_config *cfg);

/*
 * The program and its arguments. argv[0] names the program: a path (absolute
 * or relative to the caller's working directory), or a bare name looked up in
 * the guest's PATH. argv must hold argc strings; argc must be at least 1.
 */
SBVM_API int sbvm_config_set_argv(sbvm_config *cfg, size_t argc, const char *const *argv,
                                  sbvm_error **err);

/*
 * The guest's name, used in tagged output, file names and reports: 1 to 64
 * characters from [A-Za-z0-9._-], not starting with '.' or '-'. When unset the
 * runner derives one from the program's basename.
 */
SBVM_API int sbvm_config_set_name(sbvm_config *cfg, const char *name, sbvm_error **err);

/*
 * Environment. The guest starts from a clean environment (PATH, HOME, TMPDIR,
 * LANG, USER, LOGNAME, SHELL) unless keep_env is set, in which case it starts
 * from the caller's. sbvm_config_setenv() then adds or replaces one variable.
 * Keys are 1..255 bytes, without '=' or NUL.
 */
SBVM_API int sbvm_config_setenv(sbvm_config *cfg, const char *key, const char *value,
                                sbvm_error **err);
SBVM_API void sbvm_config_set_keep_env(sbvm_config *cfg, int keep);

/* Working directory inside the sandbox; absolute. Default "/tmp". */
SBVM_API int sbvm_config_set_cwd(sbvm_config *cfg, const char *path, sbvm_error **err);

/*
 * Standard input. By default the guest reads an empty stream (/dev/null).
 * With a host fd, the runner forwards what it reads from that fd to the
 * guest through a pipe; the guest never receives the host fd itself. The fd
 * stays owned by the caller.
 */
SBVM_API void sbvm_config_set_stdin_fd(sbvm_config *cfg, int fd);

/*
 * How much of each output stream the result keeps for reports (JSON, JUnit):
 * the first quarter and the last three quarters of this many bytes, with the
 * middle counted but dropped. Streaming through the callbacks is not limited.
 * Default 65536; 0 keeps nothing.
 */
SBVM_API void sbvm_config_set_capture_limit(sbvm_config *cfg, size_t bytes);

/* ------------------------------------------------------------------------ */
/* Results and outcomes                                                     */

/*
 * How a guest ended: exactly one of these. The CLI exit status for each is
 * given by sbvm_result_exit_status() and documented in docs/OUTCOMES.md.
 */
enum sbvm_outcome {
    SBVM_OUTCOME_EXITED = 0,     /* exited by itself: exit code               */
    SBVM_OUTCOME_CRASHED,        /* died by a signal the host did not send    */
    SBVM_OUTCOME_DENIED,         /* stopped by the syscall filter             */
    SBVM_OUTCOME_LIMIT,          /* stopped because a limit was reached       */
    SBVM_OUTCOME_SETUP_FAILED,   /* the sandbox could not be set up           */
    SBVM_OUTCOME_NOT_EXECUTABLE, /* the program exists but cannot be executed */
    SBVM_OUTCOME_NOT_FOUND,      /* the program does not exist                */
    SBVM_OUTCOME_KILLED,         /* killed by the host on request             */
};

/* "exited", "crashed", "denied", "limit", "setup_failed", "not_executable",
 * "not_found", "killed"; "unknown" for an out-of-range value. */
SBVM_API const char *sbvm_outcome_name(enum sbvm_outcome o);

enum sbvm_stream {
    SBVM_STDOUT = 1,
    SBVM_STDERR = 2,
};

typedef struct sbvm_result sbvm_result;

SBVM_API void sbvm_result_free(sbvm_result *r);
SBVM_API const char *sbvm_result_name(const sbvm_result *r);
SBVM_API size_t sbvm_result_argc(const sbvm_result *r);
SBVM_API const char *sbvm_result_argv(const sbvm_result *r, size_t i);
SBVM_API enum sbvm_outcome sbvm_result_outcome(const sbvm_result *r);
/* Exit code for SBVM_OUTCOME_EXITED, else -1. */
SBVM_API int sbvm_result_exit_code(const sbvm_result *r);
/* The signal for CRASHED and KILLED (and DENIED: SIGSYS), else 0. */
SBVM_API int sbvm_result_signal(const sbvm_result *r);
/* The status the CLI exits with for this guest alone (0..255). */
SBVM_API int sbvm_result_exit_status(const sbvm_result *r);
/* One line in words: "exited with code 3", "crashed: SIGSEGV (Segmentation
 * fault)", "not found: frob is not in the guest's PATH (...)". */
SBVM_API const char *sbvm_result_message(const sbvm_result *r);
/* How the guest's host channel ended when the guest broke its protocol
 * ("the guest changed the window's header: ring_table"), else NULL. The
 * channel ends; the guest runs on without it. */
SBVM_API const char *sbvm_result_channel_error(const sbvm_result *r);
/* For SETUP_FAILED, NOT_EXECUTABLE, NOT_FOUND: the stage that failed
 * ("resolve", "mount", "exec", ...) and its errno; NULL / 0 otherwise. */
SBVM_API const char *sbvm_result_setup_stage(const sbvm_result *r);
SBVM_API int sbvm_result_setup_errno(const sbvm_result *r);
/* Wall-clock start (CLOCK_REALTIME, ns since the epoch) and duration (ns). */
SBVM_API int64_t sbvm_result_start_ns(const sbvm_result *r);
SBVM_API int64_t sbvm_result_duration_ns(const sbvm_result *r);
/*
 * The captured output of one stream (see sbvm_config_set_capture_limit()).
 * *data is not NUL-terminated and may hold any bytes. Returns the total
 * number of bytes the guest wrote to the stream; *omitted says how many of
 * them are not in the capture (0 when it holds everything). When bytes were
 * omitted, they lie between the first *head_len bytes of *data and the rest.
 */
SBVM_API uint64_t sbvm_result_output(const sbvm_result *r, enum sbvm_stream s, const char **data,
                                     size_t *len, size_t *head_len, uint64_t *omitted);

/* ------------------------------------------------------------------------ */
/* Crash forensics                                                          */

/*
 * When a process of the guest (the guest itself, any of its threads, or any
 * process it forked) is about to die of a crash signal it does not handle,
 * the sandbox captures it before the signal is delivered. Up to 8 crashes
 * per guest are kept, in the order they happened.
 */
typedef struct sbvm_crash sbvm_crash;

/* A memory mapping of the crashed process, from its /proc/PID/maps. */
struct sbvm_mapping {
    uint64_t start, end; /* [start, end) */
    uint64_t offset;     /* file offset of start */
    char perms[5];       /* "r-xp" */
    const char *path;    /* file, "[stack]", "[heap]", or "" when anonymous */
};

/* One frame of a backtrace, innermost first. Strings may be NULL. */
struct sbvm_frame {
    uint64_t pc;              /* instruction address (for callers: return address - 1) */
    const char *function;     /* symbol name */
    uint64_t function_offset; /* pc - symbol address */
    const char *module;       /* the ELF file holding pc */
    uint64_t module_offset;   /* pc - module load address */
    const char *file;         /* source file, with debug information */
    int line;                 /* source line, 0 without debug information */
};

SBVM_API size_t sbvm_result_crash_count(const sbvm_result *r);
SBVM_API const sbvm_crash *sbvm_result_crash(const sbvm_result *r, size_t i);
/* At most 8 crashes are explained; how many more there were. */
SBVM_API unsigned sbvm_result_crashes_not_recorded(const sbvm_result *r);
/* Why crash details may be missing (e.g. ptrace refused by the host); NULL
 * when capture was in place. */
SBVM_API const char *sbvm_result_forensics_note(const sbvm_result *r);

/* Process and thread ids in the sandbox's pid namespace (the guest is 2). */
SBVM_API int sbvm_crash_pid(const sbvm_crash *c);
SBVM_API int sbvm_crash_tid(const sbvm_crash *c);
SBVM_API const char *sbvm_crash_thread_name(const sbvm_crash *c);
/* Whether the crashed process is the guest itself (not a child of it). */
SBVM_API int sbvm_crash_is_guest(const sbvm_crash *c);
SBVM_API int sbvm_crash_signal(const sbvm_crash *c);
/* si_code, by name ("SEGV_MAPERR", "SI_TKILL") and in words. */
SBVM_API int sbvm_crash_code(const sbvm_crash *c);
SBVM_API const char *sbvm_crash_code_name(const sbvm_crash *c);
SBVM_API const char *sbvm_crash_code_text(const sbvm_crash *c);
/* The faulting address, when the signal has one (*has == 0 otherwise). */
SBVM_API uint64_t sbvm_crash_address(const sbvm_crash *c, int *has);
SBVM_API uint64_t sbvm_crash_pc(const sbvm_crash *c);
/* The general registers, names and values, in the kernel's order. */
SBVM_API size_t sbvm_crash_registers(const sbvm_crash *c, const char *const **names,
                                     const uint64_t **values);
/* Up to 16 bytes at the pc (fewer when the page ends or is unreadable). */
SBVM_API size_t sbvm_crash_instruction(const sbvm_crash *c, const uint8_t **bytes);
/* The mappings holding the pc and the fault address; NULL when unmapped. */
SBVM_API const struct sbvm_mapping *sbvm_crash_pc_mapping(const sbvm_crash *c);
SBVM_API const struct sbvm_mapping *sbvm_crash_address_mapping(const sbvm_crash *c);
SBVM_API size_t sbvm_crash_frame_count(const sbvm_crash *c);
SBVM_API const struct sbvm_frame *sbvm_crash_frame(const sbvm_crash *c, size_t i);
/* One line: "SIGSEGV (SEGV_MAPERR: address not mapped to object) at 0x0,
 * pc 0x401136 in main (crash.c:11)". */
SBVM_API const char *sbvm_crash_summary(const sbvm_crash *c);
/* Whether the backtrace was symbolised; when it could not be unwound, why. */
SBVM_API const char *sbvm_crash_unwind_error(const sbvm_crash *c);

/* Symbolise backtraces with elfutils (default on). Off, crashes still carry
 * registers, instruction bytes and mappings, and the report comes sooner. */
SBVM_API void sbvm_config_set_symbolize(sbvm_config *cfg, int on);

/* ------------------------------------------------------------------------ */
/* Syscall policy                                                           */

/*
 * By default a syscall outside the allowlist fails: with EPERM for
 * privileged operations, ENOSYS for the rest, and the guest goes on. Each
 * refused attempt is counted by name. sbvm_config_deny_syscall() makes a
 * syscall fatal instead: the guest is stopped and the outcome is DENIED,
 * naming the call. sbvm_config_allow_syscall() lifts a default refusal
 * (never the argument guards, the namespace or foreign-ABI rules). Names
 * are checked: unknown names are an error.
 */
SBVM_API int sbvm_config_deny_syscall(sbvm_config *cfg, const char *name, sbvm_error **err);
SBVM_API int sbvm_config_allow_syscall(sbvm_config *cfg, const char *name, sbvm_error **err);

struct sbvm_refusal {
    const char *name; /* "io_uring_setup", or "unknown" */
    int nr;           /* x86_64 syscall number, -1 when out of range */
    uint32_t count;
    int err; /* the errno the calls failed with */
};

SBVM_API size_t sbvm_result_refusal_count(const sbvm_result *r);
SBVM_API const struct sbvm_refusal *sbvm_result_refusal(const sbvm_result *r, size_t i);

/* For SBVM_OUTCOME_DENIED: the call that was denied (by --deny, or through a
 * foreign ABI: int 0x80, x32), or NULL when it is unknown (the host refused
 * tracing). */
struct sbvm_denial {
    const char *name; /* in its ABI; "unknown" when that ABI has no such call */
    int nr;           /* within its ABI, -1 when out of range */
    int pid;          /* in the sandbox */
    uint64_t args[6];
    uint64_t pc;
    const char *abi; /* "x86_64", "x32" or "i386" */
};

SBVM_API const struct sbvm_denial *sbvm_result_denial(const sbvm_result *r);

/* ------------------------------------------------------------------------ */
/* Limits                                                                   */

enum sbvm_limit {
    SBVM_LIMIT_TIME = 0, /* wall-clock seconds (value in ms)              */
    SBVM_LIMIT_CPU,      /* CPU time of all its processes (value in ms)  */
    SBVM_LIMIT_MEMORY,   /* bytes of memory                              */
    SBVM_LIMIT_PIDS,     /* processes and threads at once                */
    SBVM_LIMIT_FILES,    /* open files per process                       */
    SBVM_LIMIT_OUTPUT,   /* bytes written to stdout and stderr together  */
    SBVM_LIMIT_DISK,     /* bytes in the writable scratch (/tmp)         */
    SBVM_LIMIT__COUNT,
};

/* "time", "cpu", "memory", "pids", "files", "output", "disk". */
SBVM_API const char *sbvm_limit_name(enum sbvm_limit l);
/* 0 removes the limit. Defaults: pids 4096, files 1024, disk 512 MiB; the
 * others unlimited. */
SBVM_API int sbvm_config_set_limit(sbvm_config *cfg, enum sbvm_limit l, uint64_t value,
                                   sbvm_error **err);

/* For SBVM_OUTCOME_LIMIT: which limit, its value and what was observed
 * (same units). Returns -1 for other outcomes. */
SBVM_API int sbvm_result_limit(const sbvm_result *r, uint64_t *value, uint64_t *observed);
/* How this host enforced a limit for this guest: "cgroup v2", "cgroup v1",
 * "rlimit", "supervisor", "tmpfs", or NULL when the limit was not set. */
SBVM_API const char *sbvm_result_limit_mechanism(const sbvm_result *r, enum sbvm_limit l);

/* ------------------------------------------------------------------------ */
/* The ledger: what a guest still held when it ended                        */

/*
 * When the guest (pid 2) ends, before anything is reaped, the sandbox is
 * frozen and inventoried; then everything in it is killed and removed.
 */
struct sbvm_left_process {
    int pid;          /* in the sandbox */
    const char *argv; /* command line, arguments separated by spaces */
    char state;       /* from /proc: R, S, D, T, Z ... */
};

struct sbvm_left_fd {
    int pid;
    int fd;
    const char *kind;   /* "file", "dir", "pipe", "socket", "tty", "anon", ... */
    const char *target; /* what the fd points at */
};

struct sbvm_left_listener {
    int pid;           /* -1 when the owner was not found */
    const char *proto; /* "tcp", "tcp6", "udp", "udp6", "unix" */
    const char *local; /* "127.0.0.1:8080", "/tmp/sock", "@abstract" */
};

struct sbvm_left_file {
    const char *path; /* inside the sandbox */
    const char *kind; /* "file", "symlink", "fifo", "socket", "device", or
                         "directory": one it left empty */
    uint64_t size;    /* bytes, for a regular file; else 0 */
};

SBVM_API size_t sbvm_result_left_processes(const sbvm_result *r,
                                           const struct sbvm_left_process **v);
SBVM_API size_t sbvm_result_left_fds(const sbvm_result *r, const struct sbvm_left_fd **v);
SBVM_API size_t sbvm_result_left_listeners(const sbvm_result *r,
                                           const struct sbvm_left_listener **v);
SBVM_API size_t sbvm_result_left_files(const sbvm_result *r, const struct sbvm_left_file **v);
/* Whether one of those lists hit its cap (1024 processes, 4096 fds, 10,000
 * files, 32 directory levels) and holds only part of what was left. */
SBVM_API int sbvm_result_left_truncated(const sbvm_result *r);
/* Peak memory (bytes) and CPU time (µs) of the guest's processes; 0 when
 * unknown. *source says how they were measured ("cgroup v1", "rusage"). */
SBVM_API uint64_t sbvm_result_peak_memory(const sbvm_result *r, const char **source);
SBVM_API uint64_t sbvm_result_cpu_time_us(const sbvm_result *r, uint64_t *user_us,
                                          uint64_t *system_us);

/* Keep the guest's writable scratch (/tmp) instead of only removing it: it
 * is copied to dir/NAME when the guest ends (dir is made if missing, mode
 * 0700; dir/NAME must not exist). Symlinks are copied as symlinks, never
 * followed; devices, FIFOs and sockets are skipped. */
SBVM_API int sbvm_config_set_keep_dir(sbvm_config *cfg, const char *dir, sbvm_error **err);
/* ------------------------------------------------------------------------ */
/* Filesystem                                                               */

/*
 * The guest's view is /usr and the system directories read-only, a minimal
 * /etc, /dev and /proc, and a tmpfs /tmp. These add to it, in order (a later
 * mount may cover an earlier one):
 *   SBVM_MOUNT_RO     host path src at dst (default: the same path), read-only
 *   SBVM_MOUNT_RW     host path src at dst, writable (as the guest's uid)
 *   SBVM_MOUNT_TMPFS  a fresh tmpfs at dst of `size` bytes (0: 64 MiB)
 *   SBVM_MOUNT_HIDE   dst made empty and read-only (a file, or a directory)
 * src is resolved on the host now (symlinks followed to its real path, which
 * must exist); the sandbox binds exactly that file or directory, opened then,
 * never whatever the path names later. dst must be absolute and plain (no
 * "." or ".." parts), not "/" and not under /proc or /dev; inside the view
 * no symlink is followed to reach it.
 */
enum sbvm_mount_kind {
    SBVM_MOUNT_RO,
    SBVM_MOUNT_RW,
    SBVM_MOUNT_TMPFS,
    SBVM_MOUNT_HIDE,
};
SBVM_API int sbvm_config_add_mount(sbvm_config *cfg, enum sbvm_mount_kind kind, const char *src,
                                   const char *dst, uint64_t size, sbvm_error **err);

/*
 * Files into and out of the sandbox. copy-in: host file or directory into a
 * writable place of the view (/tmp, a tmpfs, an rw mount) before the guest
 * starts. copy-out: from the sandbox to the host when the guest ends, however
 * it ended (crashed, killed, at a limit); host must not exist yet (with
 * several guests, host.NAME). Symlinks are copied as symlinks and never
 * followed, on either side; the path inside the sandbox may not pass through
 * one.
 */
SBVM_API int sbvm_config_add_copy_in(sbvm_config *cfg, const char *host, const char *guest,
                                     sbvm_error **err);
SBVM_API int sbvm_config_add_copy_out(sbvm_config *cfg, const char *guest, const char *host,
                                      sbvm_error **err);

/* What became of each copy, in order. */
struct sbvm_copy {
    int out;           /* 1: copy-out; 0: copy-in */
    const char *guest; /* the path in the sandbox */
    const char *host;  /* the host path (for copy-out, where it was written) */
    const char *error; /* why it failed, or NULL */
};
SBVM_API size_t sbvm_result_copies(const sbvm_result *r, const struct sbvm_copy **v);

/*
 * A whole directory tree as the guest's root, read-only, instead of the
 * host's system directories: it must hold the program and what it needs,
 * and /proc, /dev and /tmp directories (mounted over). The program is
 * looked up inside it.
 */
SBVM_API int sbvm_config_set_rootfs(sbvm_config *cfg, const char *dir, sbvm_error **err);

/*
 * A writable layer over the rootfs tree: the root becomes an overlayfs of
 * the tree (read-only, below) and dir/upper (made if missing, with
 * dir/work), so that what the guest writes outside its /tmp - where its
 * permissions in the tree allow - lands in dir/upper and outlives the
 * sandbox. Needs sbvm_config_set_rootfs(), and a kernel that mounts
 * overlayfs in a user namespace (5.11); a sandbox that cannot have it is
 * refused at its start, never silently made without. dir belongs to the
 * caller, who removes it. NULL: no layer.
 */
SBVM_API int sbvm_config_set_layer(sbvm_config *cfg, const char *dir, sbvm_error **err);

/*
 * For a live sandbox (sbvm_sandbox_create): a program its jobs may run by
 * this same argv[0] although the view lacks it (./tool, build/test-x), made
 * visible when the sandbox is created as sbvm_run makes its program
 * visible: resolved on the host from the caller's directory, the file and
 * its interpreters bound read-only at their host paths. A job whose argv[0]
 * is exactly one of these runs that file, whatever its directory inside.
 * A name that does not resolve is not an error here: the job that names it
 * fails as not found. At most 64.
 */
SBVM_API int sbvm_config_add_program(sbvm_config *cfg, const char *argv0, sbvm_error **err);

/*
 * A host channel for each guest of sbvm_run() and the runner
 * (sandboxvm/channel.h, docs/CHANNEL.md): a shared window with rings and
 * host calls, made from cc, served in the runner's loop, and handed to the
 * guest as an inherited fd named in its environment (SBVM_CHANNEL=3), so
 * that a program built with the guest SDK finds it. Guests of a config
 * without one get no fd, no variable and no new surface. cc is not copied:
 * it must outlive every run of cfg (and of its copies). NULL removes it.
 */
SBVM_API void sbvm_config_set_channel(sbvm_config *cfg, const sbvm_channel_config *cc);

/*
 * A profile file (JSON, docs/PROFILES.md) that says what the options say,
 * applied to cfg: scalars replace what cfg has, lists add to it. All or
 * nothing: a bad profile is refused with the field and the reason, and cfg
 * is left as it was.
 */
SBVM_API int sbvm_config_load_profile(sbvm_config *cfg, const char *path, sbvm_error **err);

/* ------------------------------------------------------------------------ */
/* Network                                                                  */

/*
 * SBVM_NET_NONE (default): the guest has its own network namespace with
 * loopback only. SBVM_NET_HOST: the guest shares the host's network.
 * SBVM_NET_ALLOW: loopback only, plus an HTTP proxy on 127.0.0.1:3128 inside
 * the sandbox (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY point at it) served by a
 * broker in the host that lets through, by CONNECT or plain HTTP, only the
 * destinations the rules allow (docs/NETWORK.md); a program that ignores the
 * proxy finds the network unreachable.
 */
enum sbvm_net {
    SBVM_NET_NONE = 0,
    SBVM_NET_HOST,
    SBVM_NET_ALLOW,
};
/* Sets the mode; the allow rules given so far are dropped. */
SBVM_API void sbvm_config_set_net(sbvm_config *cfg, enum sbvm_net mode);
/* One allow rule, HOST[:PORT] or https://HOST[:PORT]/PREFIX (only requests
 * under PREFIX; the broker intercepts HTTPS to HOST to check them), see
 * docs/NETWORK.md; checked. */
SBVM_API int sbvm_config_net_allow(sbvm_config *cfg, const char *rule, sbvm_error **err);
/* Let the broker reach loopback, private and link-local addresses. */
SBVM_API void sbvm_config_set_net_allow_private(sbvm_config *cfg, int allow);
/*
 * NAME=VALUE@HOST: the guest's NAME holds a placeholder; the broker puts
 * VALUE in its place in the headers of requests bound for HOST (and only
 * there; HTTPS to HOST is intercepted with a CA of the sandbox's that the
 * guest trusts), and masks VALUE in what comes back. VALUE never enters the
 * sandbox.
 */
SBVM_API int sbvm_config_add_secret(sbvm_config *cfg, const char *spec, sbvm_error **err);
/*
 * A PEM file of CA certificates to trust besides the system's, read and
 * checked now (certificates only: a file holding anything else, a private
 * key above all, is refused): the guest trusts them (the system bundle in
 * its view is extended, and SSL_CERT_FILE, REQUESTS_CA_BUNDLE and
 * NODE_EXTRA_CA_CERTS point at them), and so does the broker when it
 * intercepts a connection (docs/NETWORK.md).
 */
SBVM_API int sbvm_config_trust_ca(sbvm_config *cfg, const char *path, sbvm_error **err);

/* One connection the guest made through the broker. */
struct sbvm_net_attempt {
    const char *method; /* "CONNECT", "GET", ...; or "?" when unparsable */
    const char *host;   /* as asked for */
    int port;
    int allowed;         /* 1: connected; 0: refused */
    const char *reason;  /* why it was refused or failed; NULL when it went well */
    const char *address; /* the address connected to, or NULL */
    int status;          /* HTTP status the broker answered with itself, or 0 */
    uint64_t bytes_up, bytes_down;
    int64_t duration_ns;
    unsigned secrets; /* placeholders replaced in this request */
    /* A request the broker read: its path (origin form, up to '?'), or
     * NULL (a CONNECT, a refusal before the request was read). */
    const char *path;
    /* 1: the broker terminated TLS for it (a CONNECT it intercepted, or a
     * request inside such a connection). */
    int intercepted;
};
SBVM_API enum sbvm_net sbvm_result_net_mode(const sbvm_result *r);
SBVM_API size_t sbvm_result_net_attempts(const sbvm_result *r, const struct sbvm_net_attempt **v);
/* The broker records the first 4096 attempts in full: how many came after
 * (counted, not kept, so that a guest cannot grow the host's memory). */
SBVM_API uint64_t sbvm_result_net_attempts_dropped(const sbvm_result *r);

/* Where the scratch was kept (dir/NAME), or NULL; when keeping it failed,
 * *error (if given) says why. */
SBVM_API const char *sbvm_result_kept(const sbvm_result *r, const char **error);

/* ------------------------------------------------------------------------ */
/* Running guests                                                           */

typedef struct sbvm_runner sbvm_runner;

/*
 * Event callbacks. All are optional and run on the thread inside
 * sbvm_runner_run(). `index` is the guest's position in the order of
 * sbvm_runner_add() calls. on_output receives bytes as the guest produces
 * them (not split into lines); `data` is only valid during the call.
 */
struct sbvm_events {
    void *ctx;
    void (*on_start)(void *ctx, size_t index, const char *name);
    void (*on_output)(void *ctx, size_t index, enum sbvm_stream s, const void *data, size_t len);
    void (*on_end)(void *ctx, size_t index, const sbvm_result *r);
    /* Guests with a host channel (sbvm_config_set_channel): once with
     * events 0 when the guest's channel is made (set its userdata here),
     * then with the SBVM_CHANNEL_EV_* bits the runner's service of it
     * reports. Host calls and logs go to the channel config's callbacks. */
    void (*on_channel)(void *ctx, size_t index, sbvm_channel *ch, int events);
};

SBVM_API sbvm_runner *sbvm_runner_new(void);
SBVM_API void sbvm_runner_free(sbvm_runner *rn);

/* At most `n` guests run at once (1..1024). Default 1: one after another. */
SBVM_API int sbvm_runner_set_parallel(sbvm_runner *rn, unsigned n, sbvm_error **err);
SBVM_API void sbvm_runner_set_events(sbvm_runner *rn, const struct sbvm_events *ev);

/*
 * A file descriptor (typically a pipe's read end written by the caller's
 * signal handler) from which the runner reads signal numbers, one byte each.
 * The first signal is forwarded to every running guest and no further
 * guest starts; the guests that then die of it are KILLED. A second signal,
 * of any kind, kills every guest with SIGKILL, and so does the end of the
 * grace period (sbvm_runner_set_kill_after) after the first.
 */
SBVM_API void sbvm_runner_set_signal_fd(sbvm_runner *rn, int fd);
/* How long guests may take to end after the first signal (ms) before they
 * are killed with SIGKILL; 0 (the default): as long as they like. */
SBVM_API void sbvm_runner_set_kill_after(sbvm_runner *rn, uint64_t ms);

/*
 * The reader of a guest's stream is gone (a pipe whose reader left, a full
 * disk): the runner stops reading that stream, so that the guest's own
 * next write to it fails with EPIPE (SIGPIPE by default), as it would in
 * a pipeline. `index` is the guest's, or SBVM_ALL_GUESTS: every guest, and
 * those that start later. Safe inside on_output. 0, or -EINVAL.
 */
#define SBVM_ALL_GUESTS ((size_t)-1)
SBVM_API int sbvm_runner_close_stream(sbvm_runner *rn, size_t index, enum sbvm_stream s);

/*
 * Calls fn(ctx) once, delay_ms from now, on the thread inside
 * sbvm_runner_run() (for work of the caller's own between events: showing
 * a partial line after a quiet moment). One timer per runner: a second call
 * replaces the first; fn NULL cancels it. Only while the runner runs (from
 * its callbacks): -EINVAL otherwise. It never fires after the run.
 */
SBVM_API int sbvm_runner_set_timer(sbvm_runner *rn, int delay_ms, void (*fn)(void *ctx), void *ctx);

/*
 * Runs every guest as a job of the live sandbox sb (sbvm_sandbox_create)
 * instead of each in a sandbox of its own: each keeps its program, name,
 * working directory and stdin; everything else is the sandbox's, and what
 * one guest leaves there the next one finds. The sandbox must outlive the
 * runner's run (sbvm_runner_run); the runner uses its loop until then, and
 * the sandbox may be destroyed before the runner is freed.
 */
typedef struct sbvm_sandbox sbvm_sandbox; /* see "Live sandboxes and jobs" */
SBVM_API int sbvm_runner_use_sandbox(sbvm_runner *rn, sbvm_sandbox *sb, sbvm_error **err);

/* Queue a guest. The config is copied; the caller keeps its own. */
SBVM_API int sbvm_runner_add(sbvm_runner *rn, const sbvm_config *cfg, sbvm_error **err);

/*
 * Run every queued guest to its end. Returns 0 when every guest got a result
 * (whatever its outcome), or a negative errno when the runner itself failed
 * (out of memory, epoll failure); guests it could not run then carry
 * SETUP_FAILED results. May be called once per runner.
 */
SBVM_API int sbvm_runner_run(sbvm_runner *rn, sbvm_error **err);

SBVM_API size_t sbvm_runner_count(const sbvm_runner *rn);
/* Owned by the runner; valid until sbvm_runner_free(). NULL before the end. */
SBVM_API const sbvm_result *sbvm_runner_result(const sbvm_runner *rn, size_t i);
/* 0 when every guest exited with code 0, else the first failing guest's exit
 * status in queue order. */
SBVM_API int sbvm_runner_exit_status(const sbvm_runner *rn);
SBVM_API int64_t sbvm_runner_start_ns(const sbvm_runner *rn);
SBVM_API int64_t sbvm_runner_duration_ns(const sbvm_runner *rn);

/* Run a single guest; on success *out holds its result (free it). */
SBVM_API int sbvm_run(const sbvm_config *cfg, sbvm_result **out, sbvm_error **err);

/* ------------------------------------------------------------------------ */
/* Live sandboxes and jobs                                                  */

/*
 * A live sandbox outlives the programs it runs: create it once from a
 * config (everything but the program: view, policy, network, secrets,
 * limits), then start jobs in it - each one program with its own standard
 * streams or terminal, deadline and result - put files in and get them out
 * at any time, look at what runs in it, and destroy it. Files a job writes
 * stay for the next one. A job that crashes, is denied or reaches its own
 * limit (time, output, open files) ends alone; a limit of the whole
 * sandbox (memory, processes, its /tmp) ends the sandbox and every job in
 * it, and each says so.
 *
 * Everything happens on an event loop: jobs stream their output through
 * callbacks, which run inside sbvm_loop_run() and sbvm_job_wait(). Several
 * sandboxes may share one loop (one thread serves them all); a sandbox
 * created without one gets its own. A loop and its sandboxes and jobs must
 * be used from one thread at a time.
 */
typedef struct sbvm_loop sbvm_loop;
typedef struct sbvm_job sbvm_job;

SBVM_API sbvm_loop *sbvm_loop_new(void);
/* Every sandbox on it must be destroyed first. */
SBVM_API void sbvm_loop_free(sbvm_loop *l);
/* Waits up to timeout_ms (-1: no limit) for what the loop's sandboxes and
 * jobs report, and runs their callbacks: how many, or a negative errno. */
SBVM_API int sbvm_loop_run(sbvm_loop *l, int timeout_ms);
/* An fd that is readable when sbvm_loop_run() has work: to embed the loop
 * in another one. */
SBVM_API int sbvm_loop_fd(const sbvm_loop *l);
/* Timers make no fd readable: an embedding loop waits on sbvm_loop_fd() at
 * most this many ms (0: a timer is due now; -1: none is armed). */
SBVM_API int sbvm_loop_timeout(const sbvm_loop *l);

/*
 * Builds a sandbox and returns once it is ready for jobs (a few ms). The
 * config's argv, name, stdin and capture settings are not used; its limits
 * of time and output become each job's defaults. loop may be NULL.
 */
SBVM_API int sbvm_sandbox_create(sbvm_loop *loop, const sbvm_config *cfg, sbvm_sandbox **out,
                                 sbvm_error **err);
/*
 * The same without waiting, for callers that serve others meanwhile (a
 * server): returns once the sandbox is asked for, STARTING; it becomes
 * READY, or ENDED when it could not be built (sbvm_sandbox_destroy() then
 * frees it and its result says why), as the loop runs.
 */
SBVM_API int sbvm_sandbox_start(sbvm_loop *loop, const sbvm_config *cfg, sbvm_sandbox **out,
                                sbvm_error **err);
enum sbvm_sandbox_state {
    SBVM_SANDBOX_STARTING,
    SBVM_SANDBOX_READY,  /* jobs may start */
    SBVM_SANDBOX_ENDING, /* stopped, or ended by a sandbox-wide limit: going */
    SBVM_SANDBOX_ENDED,  /* gone, every job's result final: destroy frees it at once */
};
SBVM_API enum sbvm_sandbox_state sbvm_sandbox_state(const sbvm_sandbox *sb);
/* Starts ending it (as destroy does) and returns at once; it becomes
 * ENDED as the loop runs, and sbvm_sandbox_destroy() then does not wait. */
SBVM_API void sbvm_sandbox_stop(sbvm_sandbox *sb);

/*
 * Ends everything in the sandbox (running jobs end KILLED), takes its
 * inventory and frees it. When `out` is given, it receives the sandbox's
 * own result: its ledger, its network record, a sandbox-wide limit that
 * ended it (free it). Jobs stay readable until sbvm_job_free().
 */
SBVM_API int sbvm_sandbox_destroy(sbvm_sandbox *sb, sbvm_result **out, sbvm_error **err);

struct sbvm_job_events {
    void *ctx;
    /* Output as it is produced (a terminal's comes as SBVM_STDOUT). */
    void (*on_output)(void *ctx, sbvm_job *j, enum sbvm_stream s, const void *data, size_t len);
    /* The job's result is final (sbvm_job_result()). */
    void (*on_end)(void *ctx, sbvm_job *j);
    /* Its channel reported SBVM_CHANNEL_EV_* bits (sbvm_exec.channel). */
    void (*on_channel)(void *ctx, sbvm_job *j, int events);
};

/* One job. Zero it, set `size` to sizeof(struct sbvm_exec) and what you
 * need: fields added later keep their zero meaning. */
struct sbvm_exec {
    size_t size;
    const char *const *argv; /* NULL-terminated; argv[0] is looked up in the
                                job's PATH inside the sandbox */
    const char *const *env;  /* NULL: the sandbox's; else "KEY=VALUE" entries
                                added to (or replacing in) it */
    const char *cwd;         /* NULL: the config's (default /tmp) */
    const char *name;        /* for its result; NULL: argv[0]'s basename */
    int stdin_fd;            /* forwarded from this fd (the caller keeps it);
                                -1: an empty stdin. NB: 0 means fd 0 */
    int terminal;            /* 1: a terminal from the sandbox's own devpts
                                (stdin_fd's bytes typed into it) */
    unsigned short rows, cols;
    uint64_t timeout_ms;   /* 0: the config's time limit */
    uint64_t output_bytes; /* 0: the config's output limit */
    const struct sbvm_job_events *events;
    /* A host channel (sbvm_channel_new) for this job: its guest end is the
     * job's fd 3 (SBVM_CHANNEL=3 in its environment) and the library
     * serves it in the loop while the job runs. The caller keeps it and
     * frees it after the job. NULL: none. */
    sbvm_channel *channel;
    /* 1: the job is made ready - its process exists, its streams and
     * terminal are in place and its program is found - but waits before
     * its exec until sbvm_job_release() (an OCI container's create). */
    int hold;
    /* 1, with terminal: the terminal's master side is the caller's
     * (sbvm_job_take_terminal()); nothing of it is relayed or captured. */
    int give_terminal;
};

/* Starts a job; 0 and *out (free it with sbvm_job_free()). Its outcome,
 * good or bad (not found, crashed ...), is in its result. */
SBVM_API int sbvm_sandbox_exec(sbvm_sandbox *sb, const struct sbvm_exec *ex, sbvm_job **out,
                               sbvm_error **err);
/* Runs the loop until the job has ended: 0; -ETIMEDOUT after timeout_ms
 * (-1: no limit). */
SBVM_API int sbvm_job_wait(sbvm_job *j, int timeout_ms, sbvm_error **err);
/* The job's result once it ended, else NULL; owned by the job. */
SBVM_API const sbvm_result *sbvm_job_result(const sbvm_job *j);
/* A signal to the job's processes (its process group). */
SBVM_API int sbvm_job_signal(sbvm_job *j, int sig);
/* The reader of the job's stream is gone: as sbvm_runner_close_stream().
 * For a terminal job, SBVM_STDOUT hangs its terminal up. */
SBVM_API int sbvm_job_close_stream(sbvm_job *j, enum sbvm_stream s);
/* A terminal job's window size. */
SBVM_API int sbvm_job_resize(sbvm_job *j, unsigned short rows, unsigned short cols);
/* Frees a job; one still running is killed first. */
SBVM_API void sbvm_job_free(sbvm_job *j);
/* Runs the loop until the job's process exists (running, or held) or the
 * job has ended: 0; -ETIMEDOUT after timeout_ms (-1: no limit). */
SBVM_API int sbvm_job_wait_started(sbvm_job *j, int timeout_ms, sbvm_error **err);
/* A held job execs its program: 0, or -errno (-EALREADY once released). */
SBVM_API int sbvm_job_release(sbvm_job *j);
/* The pid of the job's first process in the sandbox; 0 before it exists. */
SBVM_API int sbvm_job_pid(const sbvm_job *j);
/* give_terminal: the terminal's master side, once (the caller closes it);
 * -EAGAIN before the job started, -ENOTTY when there is none. */
SBVM_API int sbvm_job_take_terminal(sbvm_job *j);

/*
 * Files: a host file or tree into the sandbox (put), or out of it (get), at
 * any time, by the rules of --copy-in and --copy-out: no symlink followed
 * on either side, nothing created that exists already - unless, for get,
 * SBVM_COPY_REPLACE says a host file (never a directory) may be replaced.
 * Host paths are absolute or relative to the caller's directory.
 */
#define SBVM_COPY_REPLACE 1u
SBVM_API int sbvm_sandbox_put(sbvm_sandbox *sb, const char *host, const char *guest, unsigned flags,
                              sbvm_error **err);
SBVM_API int sbvm_sandbox_get(sbvm_sandbox *sb, const char *guest, const char *host, unsigned flags,
                              sbvm_error **err);
/* Stops (pause 1) or continues (0) every process in the sandbox, as job
 * control does (SIGSTOP, SIGCONT): a parent that waits with WUNTRACED
 * sees its children stop. SIGKILL still ends a paused process. */
SBVM_API int sbvm_sandbox_pause(sbvm_sandbox *sb, int pause, sbvm_error **err);
/* What runs in the sandbox and what is in its /tmp, now, without stopping
 * anything: a result whose ledger accessors tell (free it). */
SBVM_API int sbvm_sandbox_inventory(sbvm_sandbox *sb, sbvm_result **out, sbvm_error **err);

/* ------------------------------------------------------------------------ */
/* Reports                                                                  */

/*
 * Machine-readable reports of a finished run, written to `f`. The JSON schema
 * is docs/REPORT-JSON.md (version SBVM_REPORT_SCHEMA_VERSION); the JUnit XML
 * has one testcase per guest. Both carry the same facts as the text summary.
 */
#define SBVM_REPORT_SCHEMA_VERSION 1

SBVM_API int sbvm_report_json(const sbvm_runner *rn, FILE *f, sbvm_error **err);
SBVM_API int sbvm_report_junit(const sbvm_runner *rn, FILE *f, sbvm_error **err);
/* A plain-text table: one row per guest (name, outcome, status, time). */
SBVM_API int sbvm_report_summary(const sbvm_runner *rn, FILE *f, sbvm_error **err);
/* A guest's details for people: crashes with backtraces, the denied call,
 * refused syscalls, and what it left behind; "" when there is nothing to
 * add. Plain text that may quote guest-chosen bytes: escape it for the
 * medium. Free with free(); NULL when out of memory. */
SBVM_API char *sbvm_result_details(const sbvm_result *r, const char *indent);

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */

/*
 * A device model (virtio-blk, virtio-scsi) over disk images, served to any
 * vhost-user client (User-Mode Linux, QEMU) on a unix socket. The back-end
 * runs confined in a child process: its own namespaces, an empty read-only
 * root, only the socket, the images and its log as descriptors, and a
 * system-call allowlist (docs/DRIVERS.md). Zero it, set `size` to
 * sizeof(struct sbvm_device_serve) and what you need.
 */
struct sbvm_device_serve {
    size_t size;
    const char *type;         /* "virtio-blk" or "virtio-scsi" */
    const char *const *disks; /* "IMG[,ro][,size=N]" each, NULL-terminated;
                                 a missing IMG is created at size N */
    const char *socket;       /* where to listen; a stale socket is replaced */
    int once;                 /* end after the first client hangs up */
    const char *trace;        /* a device trace (--trace-devices), or NULL */
    int trace_json;           /* the trace as JSON lines */
    int log_fd;               /* where the back-end's messages go, or -1 */
    int stop_fd;              /* readable: stop serving (a signal pipe), or -1 */
};

/* Serves until the client hangs up (once), stop_fd is readable, or the
 * back-end fails: 0, or a negative errno with *err saying how it ended. */
SBVM_API int sbvm_device_serve(const struct sbvm_device_serve *opts, sbvm_error **err);

/*
 * Drivers in a sandbox (include/sandboxvm/driver.h, docs/DRIVERS.md): the
 * guest gets a synthetic PCI bus with these device models on it, reached
 * through the host channel (fd 3, SBVM_CHANNEL=3), and the driver files,
 * made visible read-only at their host paths and named in SBVM_DRIVERS for
 * the guest's sbvm_drivers_load(). For a sandbox made by sbvm_run or a
 * runner (not yet for a live sandbox's jobs).
 */
/* "virtio-blk,disk=IMG[,ro][,size=N][,transport=legacy|modern]", or
 * "virtio-scsi,disk=A[,ro],disk=B..." (checked; at most 8 devices). */
SBVM_API int sbvm_config_add_device(sbvm_config *cfg, const char *spec, sbvm_error **err);
/* A driver .so, loaded in the order given (at most 16). */
SBVM_API int sbvm_config_add_driver(sbvm_config *cfg, const char *path, sbvm_error **err);
/* Records every configuration and BAR access and every request with its
 * status in `path` (text, or JSON lines). */
SBVM_API int sbvm_config_set_device_trace(sbvm_config *cfg, const char *path, int json,
                                          sbvm_error **err);
/* After the run: one line per device (requests, failures, bytes, and why it
 * stopped trusting its driver, if it did), and what each driver left
 * behind or closed that was not its own. */
SBVM_API size_t sbvm_result_devices(const sbvm_result *r, const char *const **lines);
SBVM_API size_t sbvm_result_driver_ledger(const sbvm_result *r, const char *const **lines);

#ifdef __cplusplus
}
#endif

/* Library calls: a function of an untrusted .so in a sandbox. */
#include "sandboxvm/calls.h"

#endif /* SANDBOXVM_SANDBOXVM_H */
