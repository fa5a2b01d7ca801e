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
 *    handlers. Everything it learns is returned in an sbvm_result.
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
};

SBVM_API sbvm_runner *sbvm_runner_new(void);
SBVM_API void sbvm_runner_free(sbvm_runner *rn);

/* At most `n` guests run at once (1..1024). Default 1: one after another. */
SBVM_API int sbvm_runner_set_parallel(sbvm_runner *rn, unsigned n, sbvm_error **err);
SBVM_API void sbvm_runner_set_events(sbvm_runner *rn, const struct sbvm_events *ev);

/*
 * A file descriptor (typically a pipe's read end written by the caller's
 * signal handler) from which the runner reads signal numbers, one byte each.
 * For the first of a given signal it forwards that signal to every running
 * guest and starts no further ones; the guests that then die of it are
 * KILLED. A second identical signal kills every guest with SIGKILL.
 */
SBVM_API void sbvm_runner_set_signal_fd(sbvm_runner *rn, int fd);

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

#ifdef __cplusplus
}
#endif

#endif /* SANDBOXVM_SANDBOXVM_H */
