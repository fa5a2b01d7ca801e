/* SPDX-License-Identifier: MIT */
/*
 * calls.h: library calls. Call a function of an untrusted shared library
 * in a sandbox, and get a crash back as an error.
 *
 * sbvm_lib_open() makes a live sandbox for the library (the rest of the
 * policy from a config) and starts *workers* in it: small processes that
 * load the library, lock themselves down further (no exec, no new sockets,
 * no file opened for writing, no other process signalled) and serve calls
 * over a shared-memory channel. A call names a function and passes
 * integers, floating-point numbers and buffers, each buffer declared as
 * read by the function (IN), written by it (OUT) or both (INOUT) with its
 * length: IN bytes are copied into the worker's window before the call,
 * OUT bytes back after it (exactly the declared length; OUT starts zeroed),
 * and nothing else of the caller's memory is reachable. Pointers the
 * library returns, or memory allocated in a worker, come back as opaque
 * handles valid only with the worker that made them.
 *
 * A call ends one way:
 *   returned   0, and the function's return value
 *   crashed    -EFAULT, with the worker's crash report (signal, address,
 *              registers, symbolised backtrace in the library)
 *   denied     -EPERM: the worker made a call its filter forbids, named
 *   time, cpu  -ETIMEDOUT: over the call's wall-clock or CPU budget
 *   lost       -EPIPE: the worker ended otherwise (the library called
 *              exit(), a limit of the sandbox, killed from outside)
 * and, refused before anything ran (nothing was lost): -EBADF (a handle
 * that is not one of this library's live ones), -ESTALE (a handle of a
 * worker that is gone), -EXDEV (handles of two workers in one call),
 * -E2BIG (buffers above the library's limit), -EINVAL (arguments the
 * calling convention cannot express).
 * After a crash, denial, timeout or loss, that worker and everything in it
 * (its handles, the library's state) are gone; the next call runs on a
 * fresh worker. The caller's process is never harmed.
 *
 * Conventions are sandboxvm.h's (0 or -errno, *err, opaque objects).
 * Thread safety: an sbvm_lib may be used from any number of threads at
 * once; each call takes a worker of its own (the pool grows to
 * `workers`), or, when it passes handles, waits for the worker they
 * belong to. docs/CALLS.md explains the model and its limits.
 */
#ifndef SANDBOXVM_CALLS_H
#define SANDBOXVM_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/sandboxvm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sbvm_lib sbvm_lib;
/* A function of a library, looked up by name; owned by its library. */
typedef struct sbvm_fn sbvm_fn;
/* A pointer of a worker's, opaque to the caller; 0 is never a handle. */
typedef uint64_t sbvm_handle;

/* ------------------------------------------------------------------------ */
/* Opening a library                                                        */

/* How workers wait for calls, and the host for their answers. */
enum sbvm_lib_wait {
    SBVM_LIB_WAIT_DEFAULT = 0, /* both poll briefly, then sleep (the channel's default) */
    SBVM_LIB_WAIT_SLEEP,       /* idle workers sleep at once (no CPU burnt between calls);
                                  the caller polls for its answer briefly, as by default */
    SBVM_LIB_WAIT_CUSTOM,      /* both: spin_ns of polling, then `yields`, then sleep */
};

/* Zero it, set `size` to sizeof(struct sbvm_lib_options) and what you
 * need: zero is the default everywhere. */
#define SBVM_LIB_NO_SPARES 0xffffffffu
struct sbvm_lib_options {
    size_t size;
    unsigned workers;      /* calls at once, at most (1..64; default 4) */
    unsigned spares;       /* idle workers kept ready for the next call and
                              after a loss (1..8; default 1; SBVM_LIB_NO_SPARES:
                              none, for a one-off call) */
    int no_zygote;         /* 1: exec each worker afresh instead of forking it
                              from a zygote that loaded the library once */
    uint64_t timeout_ms;   /* each call's wall-clock budget (0: none) */
    uint64_t cpu_ms;       /* each call's CPU budget (0: none) */
    uint64_t buffer_bytes; /* the most one call's buffers (and one read or
                              write) may hold together (default 64 MiB,
                              at most 1 GiB) */
    enum sbvm_lib_wait wait;
    uint64_t spin_ns; /* SBVM_LIB_WAIT_CUSTOM */
    unsigned yields;  /* SBVM_LIB_WAIT_CUSTOM */
};

/*
 * Opens `path` in a new sandbox built from cfg (NULL: the defaults) and
 * returns once a worker has loaded it, so that a library that cannot be
 * loaded fails here with the loader's words. `path` is a host path (the
 * file, and those of its dependencies that lie outside the sandbox's
 * system directories, are made visible read-only at their host paths) or
 * a bare name ("libz.so.1") that the sandbox's own loader looks up. opts
 * may be NULL.
 */
SBVM_API int sbvm_lib_open(const char *path, const sbvm_config *cfg,
                           const struct sbvm_lib_options *opts, sbvm_lib **out, sbvm_error **err);
/* Ends every worker and the sandbox; waits for calls in progress to end
 * first. NULL is fine. */
SBVM_API void sbvm_lib_close(sbvm_lib *lib);

/*
 * Looks a function (any symbol) up by name: 0 and *out (the same object
 * for the same name), or -ENOENT with the loader's words.
 */
SBVM_API int sbvm_lib_sym(sbvm_lib *lib, const char *name, sbvm_fn **out, sbvm_error **err);
SBVM_API const char *sbvm_fn_name(const sbvm_fn *fn);

/*
 * Ends every worker now (calls in progress end as lost) and starts fresh
 * ones: a clean library state on request. Every handle becomes stale.
 */
SBVM_API int sbvm_lib_reset(sbvm_lib *lib, sbvm_error **err);

/* ------------------------------------------------------------------------ */
/* Calls                                                                    */

/* What a function returns. */
enum sbvm_type {
    SBVM_VOID = 0,
    SBVM_INT,    /* int, 32 bits, sign-extended into .i */
    SBVM_UINT,   /* unsigned int, 32 bits, into .u */
    SBVM_LONG,   /* long, ssize_t, int64_t into .i */
    SBVM_ULONG,  /* unsigned long, size_t, uint64_t into .u */
    SBVM_DOUBLE, /* into .d */
    SBVM_FLOAT,  /* into .f */
    SBVM_PTR,    /* a pointer, into .h as a handle (NULL: 0) */
};

enum sbvm_arg_kind {
    SBVM_ARG_INT = 1, /* .i, any integer type (pass chars and shorts extended) */
    SBVM_ARG_DOUBLE,  /* .d */
    SBVM_ARG_FLOAT,   /* .d, passed as a float */
    SBVM_ARG_IN,      /* .buf, .len: copied in; the function may only read it */
    SBVM_ARG_OUT,     /* .buf, .len: zeroed in the worker, copied back after */
    SBVM_ARG_INOUT,   /* .buf, .len: copied in, and back after */
    SBVM_ARG_HANDLE,  /* .h (+ .offset): the worker's pointer */
    SBVM_ARG_FREES,   /* .h: as HANDLE, and the function frees it: the handle
                         is forgotten when the call ends, however it ends */
    SBVM_ARG_NULL,    /* a NULL pointer */
};

/* One argument; the macros below fill one. */
struct sbvm_arg {
    enum sbvm_arg_kind kind;
    int64_t i;
    double d;
    void *buf;
    size_t len;
    sbvm_handle h;
    uint64_t offset;
};

#define SBVM_INT(v)    ((struct sbvm_arg){ .kind = SBVM_ARG_INT, .i = (int64_t)(v) })
#define SBVM_DOUBLE(v) ((struct sbvm_arg){ .kind = SBVM_ARG_DOUBLE, .d = (double)(v) })
#define SBVM_FLOAT(v)  ((struct sbvm_arg){ .kind = SBVM_ARG_FLOAT, .d = (double)(v) })
#define SBVM_IN(p, n)                                                                              \
    ((struct sbvm_arg){                                                                            \
        .kind = SBVM_ARG_IN, .buf = (void *)(uintptr_t)(const void *)(p), .len = (n) })
#define SBVM_OUT(p, n)   ((struct sbvm_arg){ .kind = SBVM_ARG_OUT, .buf = (p), .len = (n) })
#define SBVM_INOUT(p, n) ((struct sbvm_arg){ .kind = SBVM_ARG_INOUT, .buf = (p), .len = (n) })
/* A NUL-terminated string, read by the function. */
#define SBVM_STR(s)     SBVM_IN((s), strlen(s) + 1)
#define SBVM_HANDLE(hd) ((struct sbvm_arg){ .kind = SBVM_ARG_HANDLE, .h = (hd) })
#define SBVM_HANDLE_AT(hd, o)                                                                      \
    ((struct sbvm_arg){ .kind = SBVM_ARG_HANDLE, .h = (hd), .offset = (o) })
#define SBVM_FREES(hd) ((struct sbvm_arg){ .kind = SBVM_ARG_FREES, .h = (hd) })
#define SBVM_NULL      ((struct sbvm_arg){ .kind = SBVM_ARG_NULL })

/* What a function returned (by the enum sbvm_type asked for). */
union sbvm_value {
    int64_t i;
    uint64_t u;
    double d;
    float f;
    sbvm_handle h;
};

enum sbvm_call_outcome {
    SBVM_CALL_RETURNED = 0,
    SBVM_CALL_CRASHED, /* -EFAULT */
    SBVM_CALL_DENIED,  /* -EPERM */
    SBVM_CALL_TIMEOUT, /* -ETIMEDOUT: wall-clock budget */
    SBVM_CALL_CPU,     /* -ETIMEDOUT: CPU budget */
    SBVM_CALL_LOST,    /* -EPIPE */
    SBVM_CALL_REFUSED, /* refused before it ran; the worker lives on */
};

/* "returned", "crashed", "denied", "timeout", "cpu", "lost", "refused". */
SBVM_API const char *sbvm_call_outcome_name(enum sbvm_call_outcome o);

/* What a call tells besides its value. Zero it and set `size`; pass NULL
 * when none of it is wanted. */
struct sbvm_call_info {
    size_t size;
    uint64_t timeout_ms; /* in: this call's budgets (0: the library's) */
    uint64_t cpu_ms;
    enum sbvm_call_outcome outcome; /* out */
    uint64_t worker;                /* out: the number of the worker that ran it */
    uint64_t worker_calls;          /* out: calls that worker served before (0: fresh) */
    uint64_t losses;                /* out: workers the library has lost so far */
    /* out: when the worker ended during the call, its result: the crash
     * with its report (sbvm_result_crash()), the denied call, the limit;
     * the caller frees it. NULL otherwise. */
    sbvm_result *result;
};

/*
 * Calls fn with nargs arguments and puts its return value, as `ret` says,
 * in *value (may be NULL). Arguments are passed as x86_64 passes them: 6 of
 * integer class (integers, buffers, handles, NULL) and 8 floating-point
 * ones in registers, and up to 8 more on the stack (16 in all); no
 * structures by value, no variadic floating-point beyond those. 0 when it
 * returned; see the top of this header for the rest. *err says what
 * happened in words.
 */
SBVM_API int sbvm_lib_call(sbvm_lib *lib, const sbvm_fn *fn, enum sbvm_type ret,
                           const struct sbvm_arg *args, size_t nargs, union sbvm_value *value,
                           struct sbvm_call_info *info, sbvm_error **err);

/* ------------------------------------------------------------------------ */
/* Memory in a worker, for APIs with state (a z_stream, a parser)          */

/*
 * Allocates `size` zeroed bytes in a worker - the one `near` belongs to,
 * or (near 0) any - that stay there between calls until freed or the
 * worker is lost: 0 and *out.
 */
SBVM_API int sbvm_lib_alloc(sbvm_lib *lib, size_t size, sbvm_handle near, sbvm_handle *out,
                            sbvm_error **err);
/* Frees what sbvm_lib_alloc() made; a second free is refused (-EBADF). */
SBVM_API int sbvm_lib_free(sbvm_lib *lib, sbvm_handle h, sbvm_error **err);
/* Forgets a handle whose memory the library freed (or that is no longer
 * wanted) without touching the worker. */
SBVM_API int sbvm_lib_forget(sbvm_lib *lib, sbvm_handle h, sbvm_error **err);
/*
 * Copies len bytes at offset of h's memory out (read) or in (write). For
 * sbvm_lib_alloc() memory the range must lie inside it (-ERANGE); for a
 * pointer a function returned the worker copies what is there (a bad one
 * crashes the worker: -EFAULT, as for a call).
 */
SBVM_API int sbvm_lib_read(sbvm_lib *lib, sbvm_handle h, uint64_t offset, void *dst, size_t len,
                           sbvm_error **err);
SBVM_API int sbvm_lib_write(sbvm_lib *lib, sbvm_handle h, uint64_t offset, const void *src,
                            size_t len, sbvm_error **err);
/*
 * Stores the worker's address of `target` (+ target_offset; target 0: NULL)
 * as a pointer at `offset` of h's memory: for structures that point into
 * other worker memory (a z_stream's next_in and next_out).
 */
SBVM_API int sbvm_lib_poke(sbvm_lib *lib, sbvm_handle h, uint64_t offset, sbvm_handle target,
                           uint64_t target_offset, sbvm_error **err);

/* ------------------------------------------------------------------------ */
/* State                                                                    */

struct sbvm_lib_stats {
    uint64_t calls;   /* calls that reached a worker */
    uint64_t losses;  /* workers lost (crashed, denied, timed out, ...) */
    uint64_t started; /* workers started */
    unsigned live;    /* workers alive now (idle, busy or starting) */
    unsigned idle;    /* of which idle */
    unsigned busy;    /* of which serving a call */
    int zygote;       /* 1 when workers are forked from a zygote */
};
SBVM_API void sbvm_lib_stats(sbvm_lib *lib, struct sbvm_lib_stats *st);

#ifdef __cplusplus
}
#endif

#endif
