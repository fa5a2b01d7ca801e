/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c: snapshots of a sandbox's files, and restores from them.
 *
 * A snapshot is a directory of the server's, state/snapshots/UID/NAME:
 *   meta.json  the sandbox's settings (secrets' names and hosts, never
 *              their values), whether it was persistent, when, from what;
 *   tmp/       a copy of the sandbox's /tmp (its scratch, its HOME and
 *              default working directory), by the library's get;
 *   layer/     for a persistent sandbox, a copy of its writable layer (the
 *              overlay's upper directory: what it changed outside /tmp),
 *              whiteouts and the overlay's own attributes included.
 * Running processes are not part of a snapshot: a restore starts a new
 * sandbox from the files (docs/SESSIONS.md says what a memory snapshot
 * would take). A restore may be made as many times as wanted; the
 * snapshot is never changed by one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "server/srv.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

#define LAYER_DEPTH_MAX 128
#define META_MAX        (1u << 20)

/* state/snapshots/UID[/NAME[/SUB]] */
static char *snap_path(struct server *s, uid_t uid, const char *name, const char *sub)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb, "%s/snapshots/%u", s->o.state_dir, (unsigned)uid);
    if (name)
        strbuf_addf(&sb, "/%s", name);
    if (sub)
        strbuf_addf(&sb, "/%s", sub);
    return strbuf_detach(&sb, NULL);
}

/* ---- copying a layer --------------------------------------------------- */

struct layer_copy {
    uint64_t bytes, files;
    char why[256];
};

/* The overlay's attributes of an upper entry (opaque directories, and
 * whatever else it marks), user.overlay.* as it writes them in a user
 * namespace. Other attributes are the guest's and are not kept. */
static void copy_xattrs(int sfd, int dfd)
{
    char names[4096], val[4096];
    ssize_t n = flistxattr(sfd, names, sizeof(names));

    for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
        const char *k = names + i;
        ssize_t v;
        if (!str_has_prefix(k, "user.overlay.") && !str_has_prefix(k, "trusted.overlay."))
            continue;
        v = fgetxattr(sfd, k, val, sizeof(val));
        if (v >= 0)
            (void)fsetxattr(dfd, k, val, (size_t)v, 0);
    }
}

static int copy_file(int sdir, const char *name, int ddir, const struct stat *st,
                     struct layer_copy *lc)
{
    _cleanup_close_ int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int out = -1;
    off_t left = st->st_size;

    if (in < 0)
        return -errno;
    out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return -errno;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* Another filesystem, or an old kernel: read and write. */
            char buf[65536];
            n = read(in, buf, sizeof(buf));
            if (n < 0)
                return -errno;
            if (n == 0)
                break;
            if (write_full(out, buf, (size_t)n) < 0)
                return -errno;
        }
        left -= n;
        lc->bytes += (uint64_t)n;
    }
    copy_xattrs(in, out);
    /* No set-uid or set-gid bit leaves a guest's layer. */
    (void)fchmod(out, st->st_mode & 0777);
    return 0;
}

/* The guest's files stay the guest's: a root server copies their owners
 * (an unprivileged one owns them all anyway, as its guests run as it). */
static void copy_owner(int ddir, const char *name, const struct stat *st)
{
    if (geteuid() == 0)
        (void)!fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
}

static int copy_tree(int sdir, int ddir, struct layer_copy *lc, int depth)
{
    int fd = openat(sdir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *de;
    int r = 0;

    if (depth > LAYER_DEPTH_MAX)
        return -ELOOP;
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    while (r == 0 && (de = readdir(d))) {
        struct stat st;
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
            continue;
        if (fstatat(sdir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            r = -errno;
            break;
        }
        lc->files++;
        if (S_ISREG(st.st_mode)) {
            r = copy_file(sdir, de->d_name, ddir, &st, lc);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(sdir, de->d_name, target, sizeof(target) - 1);
            if (n < 0 || (target[n] = '\0', symlinkat(target, ddir, de->d_name) < 0))
                r = -errno;
        } else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
            /* A whiteout: a file the sandbox deleted from its base. The
             * kernel lets anyone make one (5.8). */
            if (mknodat(ddir, de->d_name, S_IFCHR | 0, makedev(0, 0)) < 0)
                r = -errno;
        } else if (S_ISDIR(st.st_mode)) {
            _cleanup_close_ int s2 = -1, d2 = -1;
            if (mkdirat(ddir, de->d_name, 0700) < 0) {
                r = -errno;
                break;
            }
            s2 = openat(sdir, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            d2 = openat(ddir, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 < 0 || d2 < 0) {
                r = -errno;
                break;
            }
            r = copy_tree(s2, d2, lc, depth + 1);
            copy_xattrs(s2, d2);
            (void)fchmod(d2, st.st_mode & 0777);
        }
        /* FIFOs, sockets and devices are not kept. */
        if (r == 0)
            copy_owner(ddir, de->d_name, &st);
        if (r < 0)
            snprintf(lc->why, sizeof(lc->why), "%.200s: %s", de->d_name, errno_text(-r));
    }
    closedir(d);
    return r;
}

static int copy_dir(const char *src, const char *dst, struct layer_copy *lc)
{
    _cleanup_close_ int s = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int d = -1;
    struct stat st;
    int r;

    if (s < 0 || fstat(s, &st) < 0)
        return -errno;
    if (mkdir(dst, 0700) < 0)
        return -errno;
    d = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0)
        return -errno;
    r = copy_tree(s, d, lc, 0);
    copy_xattrs(s, d);
    (void)fchmod(d, st.st_mode & 0777);
    return r;
}

/* ---- taking one ------------------------------------------------------------ */

static int mkdir_owned(const char *path)
{
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

enum MHD_Result api_snapshot_take(struct server *s, struct MHD_Connection *c, struct sbx *x,
                                  const char *body, size_t len)
{
    char name[SNAP_NAME_MAX + 1];
    struct strbuf why = STRBUF_INIT, tmpl = STRBUF_INIT, sub = STRBUF_INIT;
    _cleanup_free_ char *dir = NULL, *final = NULL;
    char *work = NULL;
    struct layer_copy lc = { 0 };
    sbvm_error *e = NULL;
    json_t *meta = NULL;
    enum MHD_Result ok;
    unsigned st;
    int r;

    st = (unsigned)snapshot_req_parse(body, len, name, &why);
    if (st) {
        ok = http_error(c, st, "snapshot: %s", why.buf);
        strbuf_release(&why);
        return ok;
    }
    strbuf_release(&why);
    if (x->state != SBX_READY || !sbx_alive(x))
        return http_error(c, 409, "sandbox %s has ended", x->id);
    if (x->running)
        return http_error(c, 409,
                          "sandbox %s runs %u job(s): a snapshot is taken between jobs (files "
                          "being written would be caught half-way)",
                          x->id, x->running);
    dir = snap_path(s, x->owner, NULL, NULL);
    final = snap_path(s, x->owner, name, NULL);
    if (!dir || !final || mkdir_owned(dir) < 0)
        return http_error(c, 500, "snapshot: %s", errno_text(errno));
    if (access(final, F_OK) == 0)
        return http_error(c, 409, "a snapshot named %s exists (DELETE /v1/snapshots/%s first)",
                          name, name);
    strbuf_addf(&tmpl, "%s/.new-%s-XXXXXX", dir, name);
    work = strbuf_failed(&tmpl) ? NULL : mkdtemp(tmpl.buf);
    if (!work) {
        ok = http_error(c, 500, "snapshot: %s", errno_text(errno));
        goto out;
    }
    strbuf_addf(&sub, "%s/tmp", work);
    r = sbvm_sandbox_get(x->sb, "/tmp", sub.buf, 0, &e);
    if (r < 0) {
        ok = http_sbvm_error(c, r, e, "snapshot: its /tmp");
        goto out;
    }
    if (x->persistent && x->layer) {
        struct strbuf up = STRBUF_INIT;
        strbuf_reset(&sub);
        strbuf_addf(&sub, "%s/layer", work);
        strbuf_addf(&up, "%s/upper", x->layer);
        r = strbuf_failed(&sub) || strbuf_failed(&up) ? -ENOMEM : copy_dir(up.buf, sub.buf, &lc);
        strbuf_release(&up);
        if (r < 0) {
            ok = http_error(c, 500, "snapshot: its layer: %s", lc.why[0] ? lc.why : errno_text(-r));
            goto out;
        }
    }
    meta = json_pack("{s:s, s:s, s:O, s:b, s:o, s:I, s:I}", "name", name, "from_sandbox", x->id,
                     "settings", x->settings ? x->settings : json_null(), "persistent",
                     x->persistent, "created_at", json_time(now_real_ns()), "layer_bytes",
                     (json_int_t)lc.bytes, "layer_entries", (json_int_t)lc.files);
    strbuf_reset(&sub);
    strbuf_addf(&sub, "%s/meta.json", work);
    if (!meta || strbuf_failed(&sub) || json_dump_file(meta, sub.buf, JSON_INDENT(2)) < 0 ||
        chmod(sub.buf, 0600) < 0) {
        ok = http_error(c, 500, "snapshot: writing its description failed");
        goto out;
    }
    /* Whole or not at all: a snapshot appears only when complete. */
    if (rename(work, final) < 0) {
        ok = http_error(c, errno == ENOTEMPTY || errno == EEXIST ? 409 : 500, "snapshot: %s",
                        errno_text(errno));
        goto out;
    }
    work = NULL;
    srv_log(s, "sandbox %s: snapshot %s (uid %u)", x->id, name, (unsigned)x->owner);
    json_object_set_new(meta, "processes_saved", json_false());
    ok = http_json(c, 201, json_incref(meta));
out:
    if (work)
        rm_tree(work);
    json_decref(meta);
    strbuf_release(&tmpl);
    strbuf_release(&sub);
    return ok;
}

/* ---- listing, reading, deleting ----------------------------------------- */

static json_t *read_meta(struct server *s, uid_t uid, const char *name)
{
    _cleanup_free_ char *p = snap_path(s, uid, name, "meta.json");
    char *text = NULL;
    size_t len;
    json_t *m;

    if (!p || read_file_at(AT_FDCWD, p, META_MAX, &text, &len) < 0)
        return NULL;
    m = json_loadb(text, len, 0, NULL);
    free(text);
    if (m && !json_is_object(m)) {
        json_decref(m);
        m = NULL;
    }
    return m;
}

enum MHD_Result api_snapshots(struct server *s, struct MHD_Connection *c, const struct peer *p,
                              const struct route *rt)
{
    if (rt->kind == R_SNAPSHOTS) {
        _cleanup_free_ char *dir = snap_path(s, p->uid, NULL, NULL);
        json_t *a = json_array();
        DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d))) {
            json_t *m;
            if (!name_ok(de->d_name))
                continue; /* ".", "..", and ".new-" work in progress */
            m = read_meta(s, p->uid, de->d_name);
            if (m) {
                json_object_del(m, "settings");
                json_array_append_new(a, m);
            }
        }
        if (d)
            closedir(d);
        return http_json(c, 200, json_pack("{s:o}", "snapshots", a));
    }
    {
        json_t *m = read_meta(s, p->uid, rt->snapshot);
        _cleanup_free_ char *path = NULL;
        if (!m)
            return http_error(c, 404, "no snapshot %s", rt->snapshot);
        if (rt->method == M_GET)
            return http_json(c, 200, m);
        path = snap_path(s, p->uid, rt->snapshot, NULL);
        if (!path || rm_tree(path) < 0) {
            json_decref(m);
            return http_error(c, 500, "deleting snapshot %s: %s", rt->snapshot, errno_text(errno));
        }
        srv_log(s, "snapshot %s (uid %u) deleted", rt->snapshot, (unsigned)p->uid);
        return http_json(c, 200, m);
    }
}

/* ---- restoring -------------------------------------------------------------- */

int snapshot_open(struct server *s, uid_t owner, const char *name, json_t **settings,
                  bool *persistent, struct strbuf *why)
{
    json_t *m = read_meta(s, owner, name), *st;

    *settings = NULL;
    if (!m) {
        strbuf_addf(why, "no snapshot %s", name);
        return 404;
    }
    st = json_object_get(m, "settings");
    *persistent = json_is_true(json_object_get(m, "persistent"));
    *settings = json_is_object(st) ? json_deep_copy(st) : json_object();
    json_decref(m);
    if (!*settings) {
        strbuf_addstr(why, "out of memory");
        return 500;
    }
    /* Secrets come back only from the restoring request: the snapshot
     * kept their names, not their values. */
    {
        json_t *net = json_object_get(*settings, "network");
        json_t *list = json_object_get(net, "secrets");
        if (list && json_array_size(list))
            json_object_del(net, "secrets");
    }
    return 0;
}

int snapshot_copy_layer(struct server *s, uid_t owner, const char *name, const char *layer_dir,
                        struct strbuf *why)
{
    _cleanup_free_ char *src = snap_path(s, owner, name, "layer");
    struct strbuf dst = STRBUF_INIT;
    struct layer_copy lc = { 0 };
    int r;

    strbuf_addf(&dst, "%s/upper", layer_dir);
    if (!src || strbuf_failed(&dst)) {
        strbuf_release(&dst);
        strbuf_addstr(why, "out of memory");
        return 500;
    }
    if (access(src, F_OK) < 0) {
        /* A snapshot of a sandbox without a layer: an empty one. */
        r = mkdir(dst.buf, 0755) < 0 ? -errno : 0;
    } else {
        r = copy_dir(src, dst.buf, &lc);
    }
    strbuf_release(&dst);
    if (r < 0) {
        strbuf_addf(why, "restoring the layer of snapshot %s: %s", name,
                    lc.why[0] ? lc.why : errno_text(-r));
        return 500;
    }
    return 0;
}

int snapshot_fill(struct server *s, struct sbx *x, uid_t owner, const char *name,
                  struct strbuf *why)
{
    _cleanup_free_ char *tmp = snap_path(s, owner, name, "tmp");
    DIR *d = tmp ? opendir(tmp) : NULL;
    struct dirent *de;
    int r = 0;

    if (!d) {
        strbuf_addf(why, "snapshot %s: its /tmp: %s", name, errno_text(errno));
        return 500;
    }
    while (r == 0 && (de = readdir(d))) {
        struct strbuf host = STRBUF_INIT, guest = STRBUF_INIT;
        sbvm_error *e = NULL;
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
            continue;
        strbuf_addf(&host, "%s/%s", tmp, de->d_name);
        strbuf_addf(&guest, "/tmp/%s", de->d_name);
        r = strbuf_failed(&host) || strbuf_failed(&guest)
                ? -ENOMEM
                : sbvm_sandbox_put(x->sb, host.buf, guest.buf, 0, &e);
        if (r < 0)
            strbuf_addf(why, "restoring snapshot %s: %s", name,
                        e ? sbvm_error_message(e) : errno_text(-r));
        sbvm_error_free(e);
        strbuf_release(&host);
        strbuf_release(&guest);
    }
    closedir(d);
    return r < 0 ? 500 : 0;
}

void snapshot_sweep_layers(struct server *s)
{
    struct strbuf sb = STRBUF_INIT;
    DIR *d;
    struct dirent *de;

    strbuf_addf(&sb, "%s/layers", s->o.state_dir);
    d = strbuf_failed(&sb) ? NULL : opendir(sb.buf);
    while (d && (de = readdir(d))) {
        struct strbuf p = STRBUF_INIT;
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
            continue;
        /* No sandbox is alive yet: every layer here is a killed server's. */
        strbuf_addf(&p, "%s/%s", sb.buf, de->d_name);
        if (!strbuf_failed(&p)) {
            srv_log(s, "removing %s (left by a server that did not end cleanly)", p.buf);
            rm_tree(p.buf);
        }
        strbuf_release(&p);
    }
    if (d)
        closedir(d);
    strbuf_release(&sb);
}
