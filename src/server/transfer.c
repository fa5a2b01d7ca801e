/* SPDX-License-Identifier: MIT */
/*
 * transfer.c: files in and out of a sandbox over HTTP, as tar streams (or
 * one file's raw bytes). Both ways go through a private staging directory
 * of the server and the library's put and get, which copy by the rules of
 * --copy-in and --copy-out (no symlink followed, nothing replaced): the
 * checks live in one place. What the staging copies cost is not measured
 * yet (docs/SESSIONS.md, Figures).
 *
 * A tar from a client is hostile: libarchive only decodes it; the entries
 * are created here, every path component opened from the staging root
 * without following a symlink, every file created exclusively, only
 * regular files, directories and symlinks, bounded in count, depth and
 * bytes. A tar to a client is written from the staged copy, walked the
 * same way.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "server/srv.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

#define TAR_ENTRIES_MAX 100000
#define TAR_DEPTH_MAX   64
#define IO_CHUNK        (64 * 1024)
/* What a download hands MHD at a time. MHD's own fd responses read 4 KiB
 * at a time, and on a unix socket (no sendfile) each 4 KiB then cost the
 * server's loop a round: a 10 MB download took 2,560 rounds. */
#define SEND_BLOCK (256 * 1024)

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_D || flag == FTW_DNR)
        (void)chmod(path, (st->st_mode & 07777) | 0700);
    return 0;
}

int rm_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    /* What a guest made may be directories without write permission (or
     * the overlay's work directory, mode 0): its owner may open them up
     * first. Nothing is followed (FTW_PHYS). */
    if (S_ISDIR(st.st_mode))
        (void)nftw(path, open_up, 16, FTW_PHYS);
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

char *stage_dir(struct server *s, sbvm_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    char *d;

    strbuf_addf(&sb, "%s/stage-XXXXXX", s->tmp_dir);
    if (strbuf_failed(&sb)) {
        error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    d = strbuf_detach(&sb, NULL);
    if (!mkdtemp(d)) {
        error_sys(err, errno, "making a staging directory in %s", s->tmp_dir);
        free(d);
        return NULL;
    }
    return d;
}

int sbx_run_quiet(struct sbx *x, const char *const *argv, sbvm_error **err)
{
    struct sbvm_exec ex = { .size = sizeof(ex), .argv = argv, .stdin_fd = -1, .timeout_ms = 30000 };
    const sbvm_result *r;
    sbvm_job *j = NULL;
    int rc;

    rc = sbvm_sandbox_exec(x->sb, &ex, &j, err);
    if (rc < 0)
        return rc;
    rc = sbvm_job_wait(j, 60000, err);
    r = sbvm_job_result(j);
    if (rc == 0)
        rc = r ? sbvm_result_exit_status(r) : -EIO;
    if (rc > 0)
        error_set(err, EIO, "%s: %s", argv[0], r ? sbvm_result_message(r) : "failed");
    sbvm_job_free(j);
    return rc;
}

/* ---- tar in --------------------------------------------------------------- */

struct extract {
    int root; /* the staging root */
    uint64_t budget;
    unsigned entries;
    char why[256];
};

/* The directory that holds `path`'s last component, reached from the
 * root without following anything, its missing parents made. An fd, or
 * -errno; *base points at the last component. */
static int open_parent(struct extract *x, char *path, const char **base)
{
    int dir = dup(x->root), depth = 0;
    char *p = path, *slash;

    if (dir < 0)
        return -errno;
    while ((slash = strchr(p, '/'))) {
        int next;
        *slash = '\0';
        if (++depth > TAR_DEPTH_MAX) {
            close(dir);
            return -ELOOP;
        }
        if (mkdirat(dir, p, 0755) < 0 && errno != EEXIST) {
            int r = -errno;
            close(dir);
            return r;
        }
        next = openat(dir, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *slash = '/';
        close(dir);
        if (next < 0)
            return errno == ENOTDIR || errno == ELOOP ? -ENOTDIR : -errno;
        dir = next;
        p = slash + 1;
    }
    *base = p;
    return dir;
}

/* A client's path in a tar: relative, no "..", no empty or "." parts once
 * a trailing '/' and leading "./" are dropped. The normalised copy ("" for
 * the archive's own top, "." or "./"). */
static char *entry_path(const char *name)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p = name;

    if (streq(p, ".") || streq(p, "./"))
        return strdup("");
    while (str_has_prefix(p, "./"))
        p += 2;
    if (!*p || *p == '/')
        return NULL;
    while (*p) {
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            goto bad;
        if (n == 0) {
            p++;
            continue; /* "a//b" */
        }
        if (sb.len)
            strbuf_addch(&sb, '/');
        strbuf_add(&sb, p, n);
        p += n;
        if (*p == '/')
            p++;
    }
    if (!sb.len || strbuf_failed(&sb) || sb.len > PATH_MAX - 1)
        goto bad;
    return strbuf_detach(&sb, NULL);
bad:
    strbuf_release(&sb);
    return NULL;
}

static int extract_one(struct extract *x, struct archive *a, struct archive_entry *e)
{
    const char *name = archive_entry_pathname(e), *base = NULL;
    mode_t type = archive_entry_filetype(e);
    unsigned perm = (unsigned)archive_entry_perm(e) & 0777;
    _cleanup_free_ char *path = NULL;
    _cleanup_close_ int dir = -1, fd = -1;

    if (!name || !(path = entry_path(name))) {
        snprintf(x->why, sizeof(x->why), "an entry's path is absolute, empty or has '..'");
        return -EINVAL;
    }
    if (!*path && type == AE_IFDIR)
        return 0; /* the staging root itself */
    if (!*path) {
        snprintf(x->why, sizeof(x->why), "an entry's path is empty");
        return -EINVAL;
    }
    if (archive_entry_hardlink(e)) {
        snprintf(x->why, sizeof(x->why), "hard links are not accepted");
        return -EINVAL;
    }
    dir = open_parent(x, path, &base);
    if (dir < 0) {
        snprintf(x->why, sizeof(x->why), "%.200s: its directory: %s", path, errno_text(-dir));
        return dir;
    }
    switch (type) {
    case AE_IFDIR:
        if (mkdirat(dir, base, (perm | 0700) & 0755) < 0 && errno != EEXIST)
            goto sys;
        if (errno == EEXIST) {
            struct stat st;
            if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
                errno = EEXIST;
                goto sys;
            }
        }
        return 0;
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        /* Stored as text: nothing here or in the sandbox follows it. */
        if (!target || symlinkat(target, dir, base) < 0)
            goto sys;
        return 0;
    }
    case AE_IFREG:
        break;
    default:
        snprintf(x->why, sizeof(x->why),
                 "%.200s: only files, directories and symlinks are accepted", path);
        return -EINVAL;
    }
    fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                (perm | 0600) & 0755);
    if (fd < 0)
        goto sys;
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            snprintf(x->why, sizeof(x->why), "%.200s: %s", path, archive_error_string(a));
            return -EINVAL;
        }
        if (off < 0 || len > x->budget) {
            snprintf(x->why, sizeof(x->why), "more than the upload limit once unpacked");
            return -EFBIG;
        }
        x->budget -= len;
        if (pwrite(fd, buf, len, off) != (ssize_t)len)
            goto sys;
    }
    return 0;
sys:
    snprintf(x->why, sizeof(x->why), "%.200s: %s", path, errno_text(errno));
    return -errno;
}

/* Unpacks the tar in fd into the staging root. 0, or -errno with x->why. */
static int untar(int fd, struct extract *x)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    int r = 0;

    if (!a)
        return -ENOMEM;
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_none(a);
    if (archive_read_open_fd(a, fd, IO_CHUNK) != ARCHIVE_OK) {
        snprintf(x->why, sizeof(x->why), "not a tar: %s", archive_error_string(a));
        archive_read_free(a);
        return -EINVAL;
    }
    for (;;) {
        int h = archive_read_next_header(a, &e);
        if (h == ARCHIVE_EOF)
            break;
        if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
            snprintf(x->why, sizeof(x->why), "not a tar: %s", archive_error_string(a));
            r = -EINVAL;
            break;
        }
        if (++x->entries > TAR_ENTRIES_MAX) {
            snprintf(x->why, sizeof(x->why), "more than %d entries", TAR_ENTRIES_MAX);
            r = -E2BIG;
            break;
        }
        if ((r = extract_one(x, a, e)) < 0)
            break;
    }
    archive_read_free(a);
    return r;
}

/* ---- tar out -------------------------------------------------------------- */

static int tar_add(struct archive *a, int dir, const char *name, const char *path, int depth)
{
    struct archive_entry *e;
    struct stat st;
    int r = 0;

    if (depth > TAR_DEPTH_MAX)
        return -ELOOP;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
        return 0; /* the library's get copies nothing else either */
    e = archive_entry_new();
    if (!e)
        return -ENOMEM;
    archive_entry_set_pathname(e, path);
    archive_entry_set_mode(e, st.st_mode & (S_IFMT | 0777));
    archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    archive_entry_set_size(e, S_ISREG(st.st_mode) ? st.st_size : 0);
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(dir, name, target, sizeof(target) - 1);
        if (n < 0) {
            archive_entry_free(e);
            return -errno;
        }
        target[n] = '\0';
        archive_entry_set_symlink(e, target);
    }
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        archive_entry_free(e);
        return -EIO;
    }
    archive_entry_free(e);
    if (S_ISREG(st.st_mode)) {
        _cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[IO_CHUNK];
        ssize_t n;
        if (fd < 0)
            return -errno;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            if (archive_write_data(a, buf, (size_t)n) != n)
                return -EIO;
        return n < 0 ? -errno : 0;
    }
    if (S_ISDIR(st.st_mode)) {
        int dfd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        if (dfd < 0)
            return -errno;
        d = fdopendir(dfd);
        if (!d) {
            close(dfd);
            return -errno;
        }
        while (r == 0 && (de = readdir(d))) {
            struct strbuf sub = STRBUF_INIT;
            if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                continue;
            strbuf_addf(&sub, "%s/%s", path, de->d_name);
            r = strbuf_failed(&sub) ? -ENOMEM
                                    : tar_add(a, dirfd(d), de->d_name, sub.buf, depth + 1);
            strbuf_release(&sub);
        }
        closedir(d);
    }
    return r;
}

/* A tar of `name` in dir, into a new file; its fd (at offset 0) and size. */
static int tar_make(int dir, const char *name, const char *stage, int *out, uint64_t *size)
{
    struct archive *a = archive_write_new();
    struct strbuf path = STRBUF_INIT;
    int fd, r;
    struct stat st;

    *out = -1;
    if (!a)
        return -ENOMEM;
    strbuf_addf(&path, "%s/out.tar", stage);
    fd = strbuf_failed(&path)
             ? -1
             : open(path.buf, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    strbuf_release(&path);
    if (fd < 0) {
        archive_write_free(a);
        return -errno;
    }
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        archive_write_free(a);
        close(fd);
        return -EIO;
    }
    r = tar_add(a, dir, name, name, 0);
    if (archive_write_close(a) != ARCHIVE_OK && r == 0)
        r = -EIO;
    archive_write_free(a);
    if (r == 0 && (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0))
        r = -errno;
    if (r < 0) {
        close(fd);
        return r;
    }
    *out = fd;
    *size = (uint64_t)st.st_size;
    return 0;
}

/* ---- the handlers ------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* put of one staged entry to `dest`, first removing what is there when
 * asked (by the sandbox's own rm, with the guest's rights). */
static int put_entry(struct sbx *x, const char *host, const char *dest, bool replace,
                     sbvm_error **err)
{
    if (replace) {
        const char *argv[] = { "rm", "-rf", "--", dest, NULL };
        int r = sbx_run_quiet(x, argv, err);
        if (r != 0)
            return r < 0 ? r : -EIO;
    }
    return sbvm_sandbox_put(x->sb, host, dest, 0, err);
}

static bool path_ok(const char *p)
{
    return config_path_plain(p) && !streq(p, "/") && strlen(p) < PATH_MAX - 256;
}

enum MHD_Result api_put(struct server *s, struct MHD_Connection *c, struct sbx *x, const char *path,
                        int fd, uint64_t len, const char *type, bool replace)
{
    bool tar =
        str_has_prefix(type, "application/x-tar") || str_has_prefix(type, "application/tar") ||
        str_has_prefix(type, "application/gzip") || str_has_prefix(type, "application/x-gtar");
    _cleanup_free_ char *stage = NULL;
    struct strbuf root = STRBUF_INIT, host = STRBUF_INIT, dest = STRBUF_INIT;
    struct extract ex = { .root = -1 };
    sbvm_error *e = NULL;
    enum MHD_Result ok;
    int r;

    if (!tar && *type && !str_has_prefix(type, "application/octet-stream"))
        return http_error(c, 415,
                          "files: send application/x-tar (a tree) or application/octet-stream "
                          "(one file)");
    if (!path_ok(path))
        return http_error(c, 400, "files: path: a plain absolute path in the sandbox, not /");
    if (x->state != SBX_READY || !sbx_alive(x))
        return http_error(c, 409, "sandbox %s has ended", x->id);
    stage = stage_dir(s, &e);
    if (!stage)
        return http_sbvm_error(c, -EIO, e, "files");
    strbuf_addf(&root, "%s/root", stage);
    if (strbuf_failed(&root) || mkdir(root.buf, 0755) < 0 || chmod(root.buf, 0755) < 0) {
        ok = http_error(c, 500, "files: staging: %s", errno_text(errno));
        goto out;
    }
    if (!tar) {
        /* One file: the upload itself, linked into place (no copy). */
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        strbuf_addf(&host, "%s/%s", root.buf, base_name(path));
        if (fchmod(fd, 0644) < 0 ||
            linkat(AT_FDCWD, proc, AT_FDCWD, host.buf, AT_SYMLINK_FOLLOW) < 0) {
            ok = http_error(c, 500, "files: staging: %s", errno_text(errno));
            goto out;
        }
        r = put_entry(x, host.buf, path, replace, &e);
        if (r < 0) {
            ok = http_sbvm_error(c, r, e, "files");
            goto out;
        }
        ok = http_json(c, 200,
                       json_pack("{s:s, s:I, s:I}", "path", path, "files", (json_int_t)1, "bytes",
                                 (json_int_t)len));
        goto out;
    }
    ex.root = open(root.buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ex.budget = s->o.max_upload;
    if (ex.root < 0) {
        ok = http_error(c, 500, "files: staging: %s", errno_text(errno));
        goto out;
    }
    {
        mode_t old = umask(022);
        r = untar(fd, &ex);
        umask(old);
    }
    if (r < 0) {
        ok = http_error(c, r == -EFBIG || r == -E2BIG ? 413 : 400, "files: tar: %s", ex.why);
        goto out;
    }
    /* A new directory takes the whole tree; an existing one, each entry. */
    r = replace ? -EEXIST : sbvm_sandbox_put(x->sb, root.buf, path, 0, &e);
    if (r == -EEXIST) {
        DIR *d = opendir(root.buf);
        struct dirent *de;
        sbvm_error_free(e);
        e = NULL;
        r = d ? 0 : -errno;
        while (d && r == 0 && (de = readdir(d))) {
            if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                continue;
            strbuf_reset(&host);
            strbuf_reset(&dest);
            strbuf_addf(&host, "%s/%s", root.buf, de->d_name);
            strbuf_addf(&dest, "%s/%s", path, de->d_name);
            r = strbuf_failed(&host) || strbuf_failed(&dest)
                    ? -ENOMEM
                    : put_entry(x, host.buf, dest.buf, replace, &e);
        }
        if (d)
            closedir(d);
    }
    if (r < 0) {
        if (r == -EEXIST && !e)
            ok = http_error(c, 409, "files: %s exists (PUT with ?replace=1 to replace)", path);
        else
            ok = http_sbvm_error(c, r, e, "files");
        goto out;
    }
    ok = http_json(c, 200,
                   json_pack("{s:s, s:I, s:I}", "path", path, "files", (json_int_t)ex.entries,
                             "bytes", (json_int_t)len));
out:
    close_fd(&ex.root);
    strbuf_release(&root);
    strbuf_release(&host);
    strbuf_release(&dest);
    if (stage)
        rm_tree(stage);
    return ok;
}

/* MHD's content reader for a staged download: the file's bytes at pos. */
static ssize_t file_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    int fd = (int)(intptr_t)cls;
    ssize_t n;

    do
        n = pread(fd, buf, max, (off_t)pos);
    while (n < 0 && errno == EINTR);
    /* Shorter than it was when the answer's length was given: cut. */
    return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void file_release(void *cls)
{
    close((int)(intptr_t)cls);
}

enum MHD_Result api_get(struct server *s, struct MHD_Connection *c, struct sbx *x, const char *path,
                        bool raw)
{
    _cleanup_free_ char *stage = NULL;
    struct strbuf host = STRBUF_INIT;
    _cleanup_close_ int dir = -1;
    struct MHD_Response *resp;
    sbvm_error *e = NULL;
    const char *name = base_name(path);
    uint64_t size = 0;
    int fd = -1, r;
    enum MHD_Result ok;

    if (!path_ok(path))
        return http_error(c, 400, "files: path: a plain absolute path in the sandbox, not /");
    if (x->state != SBX_READY || !sbx_alive(x))
        return http_error(c, 409, "sandbox %s has ended", x->id);
    stage = stage_dir(s, &e);
    if (!stage)
        return http_sbvm_error(c, -EIO, e, "files");
    strbuf_addf(&host, "%s/%s", stage, name);
    r = strbuf_failed(&host) ? -ENOMEM : sbvm_sandbox_get(x->sb, path, host.buf, 0, &e);
    if (r < 0) {
        ok = http_sbvm_error(c, r, e, "files");
        goto out;
    }
    dir = open(stage, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        ok = http_error(c, 500, "files: %s", errno_text(errno));
        goto out;
    }
    if (raw) {
        struct stat st;
        fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            close_fd(&fd);
            ok = http_error(c, 400, "files: %s is not a regular file (ask for a tar)", path);
            goto out;
        }
        size = (uint64_t)st.st_size;
    } else if ((r = tar_make(dir, name, stage, &fd, &size)) < 0) {
        ok = http_error(c, 500, "files: writing the tar: %s", errno_text(-r));
        goto out;
    }
    /* MHD sends from the fd (and closes it); the staged files go now. */
    resp = MHD_create_response_from_callback(size, SEND_BLOCK, file_read, (void *)(intptr_t)fd,
                                             file_release);
    if (!resp) {
        close(fd);
        ok = MHD_NO;
        goto out;
    }
    MHD_add_response_header(resp, "Content-Type",
                            raw ? "application/octet-stream" : "application/x-tar");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    ok = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
out:
    strbuf_release(&host);
    if (stage)
        rm_tree(stage);
    return ok;
}
