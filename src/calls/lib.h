/* SPDX-License-Identifier: MIT */
/*
 * lib.h: a library opened for calls (include/sandboxvm/calls.h), shared by
 * its files: lib.c (the sandbox, the manager thread, workers' lives, the
 * pool), call.c (calls, handles, worker memory), deps.c (what the sandbox
 * must show of the library and its dependencies).
 *
 * Threads. One *manager* thread per library owns the sandbox and its event
 * loop: it creates the sandbox (so that the sandbox lives as long as this
 * thread, which lives as long as the library), starts workers, serves
 * their channels until they are READY, learns how they end, and frees
 * them. Callers' threads take an idle worker (lib->mu), and while they
 * hold it they alone use its channel; they give it back the same way.
 * Everything under "lib->mu" below is read and written with it held.
 */
#ifndef SBVM_CALLS_LIB_H
#define SBVM_CALLS_LIB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "calls/proto.h"
#include "core/loop.h"
#include "sandboxvm/calls.h"
#include "sandboxvm/channel.h"
#include "util/strv.h"

struct job;
struct sandbox;

/* Symbols a fresh worker looks up before its first call, at most. */
#define CALLS_WARM_MAX 64

/* One pointer of a worker's behind a handle. */
struct handle {
    uint64_t ptr;  /* the worker's pointer value (never dereferenced here) */
    uint64_t size; /* sbvm_lib_alloc(): its size; else 0 (unknown) */
    uint32_t gen;  /* bumped when the slot is freed */
    bool live;
    bool alloc; /* made by sbvm_lib_alloc() (sbvm_lib_free() frees it) */
};

enum worker_state {
    W_STARTING, /* being started: its channel served by the manager */
    W_IDLE,     /* READY, waiting for a call */
    W_BUSY,     /* held by a caller's thread */
    W_DEAD,     /* ended, or being ended; never used again */
};

enum worker_kill {
    KILL_NONE = 0,
    KILL_TIMEOUT,
    KILL_CPU,
    KILL_RESET,
    KILL_CLOSE,
};

struct worker {
    struct sbvm_lib *lib;
    uint64_t id; /* from 1, never reused in its library */
    /* lib->mu */
    enum worker_state state;
    bool held;       /* a caller's thread uses it (W_BUSY, or dying in its hands) */
    unsigned wanted; /* callers waiting for this one (their handles are its) */
    bool ended;      /* its process is gone and *result says how */
    bool counted;    /* among the library's losses */
    enum worker_kill kill;
    sbvm_result *result; /* once ended: how (owned until a caller takes it) */
    char *fail_text;     /* it could not load the library: the loader's words */
    int fail_err;
    int64_t start_ns;
    /* The manager's */
    struct job *job;          /* an exec'd worker's job (freed once it ended) */
    bool forked;              /* forked by the zygote (no job of its own) */
    uint32_t zseq;            /* its ZOP_FORK's number */
    bool zexit;               /* the zygote reported its end: */
    bool finishing;           /* its result is being built */
    int zstatus;              /* its wait status */
    int64_t zexit_ns;         /* when */
    struct loop_fd chsrc;     /* its channel, while it starts */
    struct worker *next_gone; /* taken off the list, to be freed unlocked */
    /* Its holder's (or the manager's while it starts) */
    sbvm_channel *ch;
    int pid;    /* in the sandbox */
    int procfd; /* its /proc/PID directory in the sandbox: signals, CPU time */
    uint32_t seq;
    bool ready_seen;                   /* it said READY; now warming */
    uint32_t warm_first;               /* the first warming request's seq */
    unsigned warm_sent;                /* warming requests sent */
    unsigned warm_pending;             /* of which not answered yet */
    uint32_t warm_ids[CALLS_WARM_MAX]; /* their symbols, in order */
    uint64_t arena_off, arena_size;
    uint8_t known[CALLS_SYMS_MAX / 8]; /* symbols it has looked up */
    struct handle *handles;
    size_t nhandles, handles_alloc;
    size_t free_slot_hint;
    uint64_t calls;
};

struct sbvm_fn {
    struct sbvm_lib *lib;
    uint32_t id; /* its number in every worker */
    char *name;
    bool found; /* lib->mu: a worker's loader found it */
};

enum lib_state {
    LIB_OPENING,
    LIB_OPEN,
    LIB_BROKEN, /* its sandbox ended, or workers cannot start: every call fails */
    LIB_CLOSING,
};

struct sbvm_lib {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool thread_started;
    uint8_t tag; /* in every handle: another library's are refused */

    /* Set before the manager starts, then read-only. */
    struct sbvm_config *cfg;
    char *dlname; /* what the workers dlopen */
    char *shown;  /* the path as the caller gave it, for messages */
    unsigned max_workers, spares;
    bool zygote;
    uint64_t timeout_ms, cpu_ms, buffer_bytes;
    uint64_t spin_ns; /* the workers' wait for a call */
    unsigned yields;
    uint64_t host_spin_ns; /* a caller's wait for its answer */
    unsigned host_yields;
    int image_fd; /* the worker program, a sealed memfd */
    sbvm_channel_config *chcfg;

    /* lib->mu */
    enum lib_state state;
    /* The zygote, when workers are forked (lib->zygote). */
    enum { Z_NONE, Z_STARTING, Z_READY } zstate;
    struct job *zjob;
    int zfd; /* our end of its socket */
    struct loop_fd zsrc;
    uint32_t zseq;
    unsigned zfailures;           /* zygotes that ended, in a row */
    struct sbvm_crash **zcrashes; /* crashes of its forks, taken from its job */
    size_t nzcrashes, zcrashes_alloc;
    sbvm_error *broken; /* LIB_OPENING failed, or LIB_BROKEN: why */
    struct sandbox *sb;
    struct loop *loop;
    struct worker **workers;
    size_t nworkers, workers_alloc;
    uint64_t next_worker;
    unsigned waiters;        /* callers waiting for any idle worker */
    uint64_t passes;         /* manage() passes made (lib->mu) */
    unsigned start_failures; /* in a row */
    struct sbvm_fn **fns;
    size_t nfns, fns_alloc;
    uint64_t calls, losses, started;
};

/* lib.c */
/* Takes an idle worker for a call (id 0: any; else that one): 0 and *out,
 * held; or -errno with *err (-ESTALE: that worker is gone). */
int lib_acquire(struct sbvm_lib *lib, uint64_t id, struct worker **out, sbvm_error **err);
/* Gives a held worker back: idle again, or (dead) to the manager. */
void lib_release(struct sbvm_lib *lib, struct worker *w);
/* The worker died in its holder's hands: waits (bounded) until the
 * manager knows how it ended; its result is then w->result. */
void lib_wait_end(struct sbvm_lib *lib, struct worker *w);
/* Ends a held worker at once (a budget spent): SIGKILL. */
void lib_kill(struct worker *w, enum worker_kill why);
/* The handle of slot `slot` of worker w. */
sbvm_handle lib_handle(const struct worker *w, size_t slot);
/* Splits a handle: 0, or -EBADF when it is none of this library's. */
int lib_handle_split(const struct sbvm_lib *lib, sbvm_handle h, uint64_t *worker, size_t *slot,
                     uint32_t *gen);

/* deps.c */
/* What a shared object needs: its DT_NEEDED names, and its search path
 * (RUNPATH, else RPATH), ':'-split. */
struct elf_deps {
    struct strv needed;
    struct strv dirs;
};
/* Reads them from the ELF file open at fd (hostile: every offset, size
 * and string bounded; `shown` names it in messages). 0, or -errno with
 * *err. The fuzzer drives it (tests/fuzz/fuzz-calls-elf.c). */
int elf_read_deps(int fd, const char *shown, struct elf_deps *d, sbvm_error **err);
void elf_deps_release(struct elf_deps *d);
/*
 * What the workers load for `path` (*dlname), and the read-only binds the
 * sandbox needs for it: the library itself and its dependencies found
 * through its RUNPATH/RPATH, when they lie outside the view's system
 * directories (added to cfg). A bare name is the sandbox loader's to find.
 */
int calls_deps_bind(struct sbvm_config *cfg, const char *path, char **dlname, sbvm_error **err);

#endif
