/* SPDX-License-Identifier: MIT */
/*
 * ledger.h: the inventory of what a guest still held when it ended.
 *
 * Taken from the host while the sandbox is frozen (its init stopped every
 * remaining process and waits), through the sandbox's own root and /proc:
 * processes still alive with their command lines, their open fds by kind and
 * target, listening sockets, and the files left in the writable scratch.
 * Everything read here was written by the guest: sizes and counts are capped,
 * strings are copied as bytes (the report writers escape them), and no
 * symlink the guest planted is ever followed (RESOLVE_IN_ROOT, O_NOFOLLOW).
 */
#ifndef SBVM_LEDGER_LEDGER_H
#define SBVM_LEDGER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/sandboxvm.h"
#include "util/strv.h"

#define LEDGER_PROCS_MAX 1024
#define LEDGER_FDS_MAX   4096
#define LEDGER_FILES_MAX 10000
#define LEDGER_DEPTH_MAX 32

struct ledger {
    struct sbvm_left_process *procs;
    size_t nprocs;
    struct sbvm_left_fd *fds;
    size_t nfds;
    struct sbvm_left_listener *listeners;
    size_t nlisteners;
    struct sbvm_left_file *files;
    size_t nfiles;
    bool truncated; /* some list hit its cap */
    struct strv strings;
    /* A live inventory's readings, besides what it holds: the sandbox's
     * CPU so far, its processes' largest peak RSS, and the connections
     * its network broker has seen so far (copies; freed with it). */
    bool live;
    uint64_t cpu_user_ms, cpu_system_ms, memory_bytes;
    struct sbvm_net_attempt *net;
    size_t nnet;
    uint64_t net_dropped;
};

/* A writable filesystem of the sandbox whose files are the guest's to
 * leave: its /tmp, a --tmpfs. fd: an O_PATH fd of its top (which keeps a
 * tmpfs alive after the sandbox is gone); path: where the guest sees it. */
struct ledger_scratch {
    int fd;
    const char *path;
};

/* An entry sandboxvm put in a scratch itself (a --copy-in), as it was when
 * the guest started: one the guest changed since (its change time moved)
 * is the guest's. */
struct ledger_mark {
    uint64_t dev, ino;
    int64_t ctime_sec, ctime_nsec;
};

/* What is sandboxvm's, not the guest's: the places it mounted something
 * over (the program's files, --ro and --rw sources, --tmpfs: absolute
 * paths in the sandbox), and the marks. Neither is listed nor kept; nor is
 * what lies beyond a mount of another filesystem; nor a directory that
 * holds only such things. */
struct ledger_skip {
    const char *const *mount_points;
    size_t nmount_points;
    const struct ledger_mark *marks;
    size_t nmarks;
};

/*
 * Inventories a sandbox: its processes, their fds and listening sockets
 * through `rootfd` (an O_PATH fd of /proc/<init>/root, -1 to skip them: no
 * process was left), and what the guest left in its scratches: files,
 * symlinks, and directories left empty. `skip` may be NULL. Returns 0 and a
 * ledger (free with ledger_free) or -ENOMEM.
 */
int ledger_take(int rootfd, const struct ledger_scratch *sc, size_t nsc,
                const struct ledger_skip *skip, int own_pids, struct ledger **out);
void ledger_free(struct ledger *l);

/* Marks everything in the scratches as sandboxvm's (ARRAY_GROW'n into *v);
 * 0 or -ENOMEM. */
int ledger_mark(const struct ledger_scratch *sc, size_t nsc, struct ledger_mark **v, size_t *n);

/*
 * Copies what the guest left in the sandbox's /tmp (tmpfd; by the rules of
 * `skip`, which may be NULL) into `dest` (which must not exist; it is made
 * with mode 0700), regular files and directories as they are, symlinks as
 * symlinks (never followed), other kinds skipped. At most `max_bytes`.
 */
int ledger_keep_scratch(int tmpfd, const char *dest, uint64_t max_bytes,
                        const struct ledger_skip *skip, sbvm_error **err);

#endif
