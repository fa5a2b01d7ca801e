/* SPDX-License-Identifier: MIT */
/*
 * files.c: files between the host and a sandbox: --copy-in before the guest
 * runs, --copy-out however it ended, put and get into a live sandbox, the
 * ledger's inventory and --keep. Every path inside the sandbox is reached
 * from its root without following a symlink (copytree.h has the rest).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "backend/process/process.h"
#include "backend/process/procscan.h"
#include "util/array.h"
#include "util/copytree.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

uint64_t proc_scratch_size(const struct sbvm_config *cfg)
{
    return cfg->limits[SBVM_LIMIT_DISK] ? cfg->limits[SBVM_LIMIT_DISK] : SBVM_DEFAULT_DISK;
}

/* The scratch's tmpfs is one page larger than the limit (rounded up to
 * whole pages, which is what a tmpfs counts): a guest that writes exactly
 * what it was allowed fills its limit without being refused anything, and
 * only one that goes past it is stopped (proc_scratch_over). */
uint64_t proc_scratch_mount_size(const struct sbvm_config *cfg)
{
    uint64_t d = proc_scratch_size(cfg);

    if (d > UINT64_MAX - 2 * 4096)
        return d;
    return (d + 4095) / 4096 * 4096 + 4096;
}

bool proc_scratch_over(const struct sbvm_config *cfg, int tmpfd, uint64_t *used)
{
    struct statfs sfs;

    if (tmpfd < 0 || !cfg->limits[SBVM_LIMIT_DISK] || fstatfs(tmpfd, &sfs) < 0)
        return false;
    *used = (uint64_t)(sfs.f_blocks - sfs.f_bfree) * (uint64_t)sfs.f_bsize;
    return *used > cfg->limits[SBVM_LIMIT_DISK] || sfs.f_bavail == 0;
}

bool proc_has_copies(const struct sbvm_config *cfg, bool out)
{
    for (size_t i = 0; i < cfg->ncopies; i++)
        if (cfg->copies[i].out == out)
            return true;
    return false;
}

/* A directory of the sandbox, reached from its root without following any
 * symlink (and never out of it). */
static int open_in_sandbox(int rootfd, const char *dir)
{
    return openat2_at(rootfd, streq(dir, "") ? "." : dir, O_PATH | O_DIRECTORY,
                      RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

/* Splits an absolute path into its directory (without the leading '/') and
 * its last name. */
static bool split_path(const char *path, char *dir, size_t dsize, const char **name)
{
    const char *slash = strrchr(path, '/');
    size_t dl;

    if (!slash || !slash[1])
        return false;
    dl = (size_t)(slash - path);
    if (dl >= dsize)
        return false;
    if (dl == 0) {
        dir[0] = '\0';
    } else {
        memcpy(dir, path + 1, dl - 1);
        dir[dl - 1] = '\0';
    }
    *name = slash + 1;
    return true;
}

static void record_copy(struct proc_sandbox *ps, bool out, const char *guest, const char *host,
                        int err, const char *what)
{
    struct strbuf sb = STRBUF_INIT;
    struct sbvm_copy *v;

    if (ARRAY_GROW(ps->copies, ps->ncopies + 1, &ps->copies_alloc) < 0)
        return;
    v = ps->copies;
    v[ps->ncopies].out = out;
    v[ps->ncopies].guest = strdup(guest);
    v[ps->ncopies].host = strdup(host);
    if (err) {
        strbuf_addf(&sb, "%s: %s", what,
                    err == EFBIG ? "larger than the copy limit" : errno_text(err));
        v[ps->ncopies].error = strbuf_detach(&sb, NULL);
    } else {
        v[ps->ncopies].error = NULL;
    }
    ps->ncopies++;
}

/* --copy-in: the host's own files, into a sandbox whose writable places
 * are bounded anyway; 4 GiB, or the scratch when it is larger. */
static uint64_t copy_in_budget(const struct sbvm_config *cfg)
{
    uint64_t d = proc_scratch_size(cfg);
    return d > (4ULL << 30) ? d : 4ULL << 30;
}

/* --copy-out: what a guest makes goes to the host's disk, so at most what
 * its writable space can hold: the scratch, or its largest --tmpfs. (Holes
 * in sparse files are not written, and not counted: copytree.h.) */
static uint64_t copy_out_budget(const struct sbvm_config *cfg)
{
    uint64_t b = proc_scratch_size(cfg);

    for (size_t i = 0; i < cfg->nmounts; i++)
        if (cfg->mounts[i].kind == SBVM_MOUNT_TMPFS) {
            uint64_t t = cfg->mounts[i].size ? cfg->mounts[i].size : 64ULL << 20;
            b = t > b ? t : b;
        }
    return b;
}

/*
 * One copy between the sandbox's `guest` path and the host's `host` path, in
 * the direction `out` says, each side's directory opened without following
 * a symlink in the sandbox. `via_tmp`: the sandbox is gone and only its /tmp
 * (held open) can be read. Each copy has a budget of its own (`lim`, by
 * value). 0, or -errno with *what saying which step failed.
 */
static int copy_one(struct proc_sandbox *ps, bool out, const char *guest, const char *host,
                    bool via_tmp, struct copy_limits lim, const char **what)
{
    char gdir[PATH_MAX], hdir[PATH_MAX], abs[PATH_MAX + 1];
    const char *gname, *hname;
    int gfd = -1, hfd = -1, r = 0;

    *what = "";
    if (!split_path(guest, gdir, sizeof(gdir), &gname) ||
        !split_path(host, hdir, sizeof(hdir), &hname))
        return -EINVAL;
    if (via_tmp) {
        /* Only what was under /tmp survives the sandbox. */
        if (ps->tmpfd < 0 || (!streq(gdir, "tmp") && !str_has_prefix(gdir, "tmp/"))) {
            *what = "the sandbox ended before it could be copied";
            return -ESRCH;
        }
        gfd = open_in_sandbox(ps->tmpfd, streq(gdir, "tmp") ? "" : gdir + 4);
    } else if (ps->rootfd < 0) {
        *what = "the sandbox's root";
        return -ESRCH;
    } else {
        gfd = open_in_sandbox(ps->rootfd, gdir);
    }
    if (gfd < 0) {
        *what = "its directory in the sandbox";
        return -errno;
    }
    snprintf(abs, sizeof(abs), "/%s", hdir);
    hfd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (hfd < 0) {
        r = -errno;
        *what = "the host directory";
    } else {
        r = out ? copy_entry_at(gfd, gname, hfd, hname, &lim)
                : copy_entry_at(hfd, hname, gfd, gname, &lim);
        *what = r == -EEXIST && out   ? "the host path exists already (a copy never replaces it)"
                : r == -ENOENT && out ? "nothing there in the sandbox"
                                      : "copying";
        close(hfd);
    }
    close(gfd);
    return r;
}

/* Before the guest starts: host files into the view, owned by the guest.
 * 0, or -errno of the first failure (recorded, and described in `msg`). */
int proc_copy_in(struct sandbox *sb, char *msg, size_t msgsize)
{
    struct proc_sandbox *ps = proc_of(sb);
    const struct sbvm_config *cfg = sb->cfg;
    struct copy_limits lim = { copy_in_budget(cfg), copy_in_budget(cfg), (uid_t)-1, (gid_t)-1 };

    if (ps->st->ids.host_root) {
        lim.uid = ps->st->ids.uid;
        lim.gid = ps->st->ids.gid;
    }
    for (size_t i = 0; i < cfg->ncopies; i++) {
        const struct config_copy *c = &cfg->copies[i];
        const char *what;
        int r;

        if (c->out)
            continue;
        r = copy_one(ps, false, c->guest, c->host, false, lim, &what);
        record_copy(ps, false, c->guest, c->host, -r, what);
        if (r < 0) {
            snprintf(msg, msgsize, "--copy-in %s:%s: %s%s", c->host, c->guest, what,
                     r == -EFBIG ? " (larger than the copy limit)" : "");
            return r;
        }
    }
    return 0;
}

/* After the guest: files out of the sandbox, however it ended. `via_tmp`:
 * the sandbox is gone, only its /tmp (held open) can still be read. */
void proc_copy_out(struct sandbox *sb, bool via_tmp)
{
    struct proc_sandbox *ps = proc_of(sb);
    const struct sbvm_config *cfg = sb->cfg;
    const struct copy_limits lim = { copy_out_budget(cfg), copy_out_budget(cfg), (uid_t)-1,
                                     (gid_t)-1 };

    if (ps->copied_out)
        return;
    ps->copied_out = true;
    for (size_t i = 0; i < cfg->ncopies; i++) {
        const struct config_copy *c = &cfg->copies[i];
        struct strbuf host = STRBUF_INIT;
        const char *what = "";
        int r = -ENOMEM;

        if (!c->out)
            continue;
        /* Several guests: one copy each, host.NAME. */
        strbuf_addstr(&host, c->host);
        if (sb->copy_suffix)
            strbuf_addf(&host, ".%s", sb->name);
        if (!strbuf_failed(&host))
            r = copy_one(ps, true, c->guest, host.buf, via_tmp, lim, &what);
        record_copy(ps, true, c->guest, host.buf ? host.buf : c->host, -r, what);
        strbuf_release(&host);
    }
}

void proc_hold_scratches(struct proc_sandbox *ps)
{
    const struct sbvm_config *cfg = ps->sb->cfg;

    for (size_t i = 0; i < cfg->nmounts && ps->ntmpfs < CONFIG_MOUNTS_MAX; i++) {
        const struct config_mount *m = &cfg->mounts[i];
        int fd;
        if (m->kind != SBVM_MOUNT_TMPFS)
            continue;
        /* Reached as the guest would, before it runs: no symlink on the
         * way, inside the sandbox's root. */
        fd = openat2_at(ps->rootfd, m->dst + 1, O_PATH | O_DIRECTORY,
                        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (fd < 0)
            continue;
        ps->tmpfs_fds[ps->ntmpfs] = fd;
        ps->tmpfs_paths[ps->ntmpfs++] = m->dst;
    }
}

/* The sandbox's scratches: its /tmp, then its --tmpfs mounts. */
static size_t scratches(const struct proc_sandbox *ps, struct ledger_scratch *sc)
{
    size_t n = 0;

    if (ps->tmpfd >= 0)
        sc[n++] = (struct ledger_scratch){ ps->tmpfd, "/tmp" };
    for (size_t i = 0; i < ps->ntmpfs; i++)
        sc[n++] = (struct ledger_scratch){ ps->tmpfs_fds[i], ps->tmpfs_paths[i] };
    return n;
}

void proc_mark_scratches(struct proc_sandbox *ps)
{
    struct ledger_scratch sc[1 + CONFIG_MOUNTS_MAX];

    if (ledger_mark(sc, scratches(ps, sc), &ps->marks, &ps->nmarks) < 0) {
        /* Out of memory: the ledger may then list a --copy-in too. */
    }
}

/* Where sandboxvm mounted something in the view (the program's files, the
 * --ro, --rw, --tmpfs and --hide destinations): never the guest's. */
static int mount_points(const struct proc_sandbox *ps, struct strv *out)
{
    for (size_t i = 0; i < ps->extra.nops; i++) {
        const struct fsop *op = &ps->extra.ops[i];
        struct strbuf sb = STRBUF_INIT;
        if (op->kind != FSOP_BIND && op->kind != FSOP_MOUNT && op->kind != FSOP_TMPFS)
            continue;
        if (!op->dst)
            continue;
        strbuf_addf(&sb, "/%s", op->dst);
        if (strbuf_failed(&sb) || strv_push_owned(out, strbuf_detach(&sb, NULL)) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int take(struct proc_sandbox *ps, int rootfd, struct ledger **out)
{
    struct ledger_scratch sc[1 + CONFIG_MOUNTS_MAX];
    struct strv mp = STRV_INIT;
    struct ledger_skip skip;
    int r = mount_points(ps, &mp);

    skip = (struct ledger_skip){ (const char *const *)mp.v, mp.n, ps->marks, ps->nmarks };
    if (r == 0)
        r = ledger_take(rootfd, sc, scratches(ps, sc), &skip, proc_own_pids(ps), out);
    strv_release(&mp);
    return r;
}

static int keep(struct proc_sandbox *ps, const char *dest, sbvm_error **e)
{
    struct strv mp = STRV_INIT;
    struct ledger_skip skip;
    int r = mount_points(ps, &mp);

    skip = (struct ledger_skip){ (const char *const *)mp.v, mp.n, ps->marks, ps->nmarks };
    r = r < 0 ? error_set(e, ENOMEM, "out of memory")
              : ledger_keep_scratch(ps->tmpfd, dest, proc_scratch_size(ps->sb->cfg), &skip, e);
    strv_release(&mp);
    return r;
}

/* The ledger: processes and fds only while the sandbox holds (something was
 * left running), scratch files in any case, and the copy for --keep. */
void proc_take_ledger(struct sandbox *sb, bool processes)
{
    struct proc_sandbox *ps = proc_of(sb);
    sbvm_error *e = NULL;

    if (ps->ledger)
        return;
    if (take(ps, processes ? ps->rootfd : -1, &ps->ledger) < 0)
        ps->ledger = NULL;
    if (sb->cfg->keep_dir && ps->tmpfd >= 0) {
        struct strbuf dest = STRBUF_INIT;
        strbuf_addf(&dest, "%s/%s", sb->cfg->keep_dir, sb->name);
        if (mkdir(sb->cfg->keep_dir, 0700) < 0 && errno != EEXIST)
            error_sys(&e, errno, "creating %s", sb->cfg->keep_dir);
        else if (!strbuf_failed(&dest) && keep(ps, dest.buf, &e) == 0)
            ps->kept = strbuf_detach(&dest, NULL);
        strbuf_release(&dest);
        if (e) {
            ps->keep_error = strdup(sbvm_error_message(e));
            sbvm_error_free(e);
        }
    }
}

/* ---- a live sandbox's files ------------------------------------------------ */

/* put and get: the same copy as --copy-in and --copy-out, at any time. A
 * get never replaces what exists on the host, unless asked
 * (SBVM_COPY_REPLACE), and then only a regular file or symlink. */
int proc_put(struct sandbox *sb, const char *host, const char *guest, unsigned flags,
             sbvm_error **err)
{
    struct proc_sandbox *ps = proc_of(sb);
    struct copy_limits lim = { copy_in_budget(sb->cfg), copy_in_budget(sb->cfg), (uid_t)-1,
                               (gid_t)-1 };
    const char *what;
    int r;

    (void)flags;
    if (ps->rootfd < 0 || ps->stop_asked)
        return error_set(err, ESRCH, "put %s: the sandbox is not running", guest);
    if (ps->st->ids.host_root) {
        lim.uid = ps->st->ids.uid;
        lim.gid = ps->st->ids.gid;
    }
    r = copy_one(ps, false, guest, host, false, lim, &what);
    if (r < 0)
        return error_set(err, -r, "put %s into %s: %s: %s", host, guest, what,
                         r == -EFBIG ? "larger than the copy limit" : errno_text(-r));
    return 0;
}

int proc_get(struct sandbox *sb, const char *guest, const char *host, unsigned flags,
             sbvm_error **err)
{
    struct proc_sandbox *ps = proc_of(sb);
    const struct copy_limits lim = { copy_out_budget(sb->cfg), copy_out_budget(sb->cfg), (uid_t)-1,
                                     (gid_t)-1 };
    const char *what;
    struct stat st;
    int r;

    if (ps->rootfd < 0 || ps->stop_asked)
        return error_set(err, ESRCH, "get %s: the sandbox is not running", guest);
    if ((flags & SBVM_COPY_REPLACE) && lstat(host, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return error_set(err, EISDIR, "get %s to %s: a directory is never replaced", guest,
                             host);
        if (unlink(host) < 0)
            return error_sys(err, errno, "get %s: replacing %s", guest, host);
    }
    r = copy_one(ps, true, guest, host, false, lim, &what);
    if (r < 0)
        return error_set(err, -r, "get %s to %s: %s: %s", guest, host, what,
                         r == -EFBIG ? "larger than the copy limit" : errno_text(-r));
    return 0;
}

int proc_inventory(struct sandbox *sb, struct ledger **out, sbvm_error **err)
{
    struct proc_sandbox *ps = proc_of(sb);
    int r;

    *out = NULL;
    if (ps->rootfd < 0)
        return error_set(err, ESRCH, "the sandbox is not running");
    r = take(ps, ps->rootfd, out);
    if (r < 0)
        return error_sys(err, -r, "taking the sandbox's inventory");
    (*out)->live = true;
    procscan_usage_split(ps->rootfd, &(*out)->cpu_user_ms, &(*out)->cpu_system_ms,
                         &(*out)->memory_bytes);
    if (broker_peek(ps->broker, &(*out)->net, &(*out)->nnet, &(*out)->net_dropped) < 0) {
        ledger_free(*out);
        *out = NULL;
        return error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

int proc_open_proc(struct sandbox *sb, int pid)
{
    struct proc_sandbox *ps = proc_of(sb);
    char path[32];

    if (ps->rootfd < 0 || pid <= 0)
        return -ESRCH;
    snprintf(path, sizeof(path), "proc/%d", pid);
    return openat2_at(ps->rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                      RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}
