/* SPDX-License-Identifier: MIT */
/*
 * deps.c: what a library's sandbox must show for the worker to load it.
 *
 * The sandbox's view holds the host's system directories read-only (and
 * the loader's cache), so a library there, and everything it needs from
 * there, loads as it would on the host. A library elsewhere (a build
 * directory, a plugin folder) is bound read-only at its own path, and so
 * is every dependency its RUNPATH (or RPATH) finds outside the system
 * directories, recursively, the way the loader will look for them.
 *
 * The ELF file is hostile input: every header, offset and string is read
 * with bounded preads and checked before use; a file that does not parse
 * is refused with the reason, and nothing of it reaches the worker.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calls/lib.h"
#include "core/config.h"
#include "policy/elfdyn.h"
#include "policy/fsplan.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/util.h"

#define DEPTH_MAX 8
#define BINDS_MAX 16

void elf_deps_release(struct elf_deps *d)
{
    strv_release(&d->needed);
    strv_release(&d->dirs);
}

static ssize_t pread_fd(void *ctx, void *buf, size_t len, uint64_t off)
{
    int fd = *(const int *)ctx;
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int split_dirs(struct strv *out, const char *list)
{
    const char *p = list;

    while (*p) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n) {
            char *d = strndup(p, n);
            int r = d ? strv_push(out, d) : -ENOMEM;
            free(d);
            if (r < 0)
                return r;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* The header is checked here (a shared object for this machine); the
 * dynamic section is read by policy/elfdyn.c, the reader run's program
 * checks share, with every offset bounded. */
int elf_read_deps(int fd, const char *shown, struct elf_deps *d, sbvm_error **err)
{
    struct elf_dyn dyn = { 0 };
    Elf64_Ehdr eh;
    struct stat st;
    int r;

    if (fstat(fd, &st) < 0)
        return error_sys(err, errno, "%s", shown);
    if (!S_ISREG(st.st_mode))
        return error_set(err, EINVAL, "%s: not a regular file", shown);
    if (pread_fd(&fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return error_set(err, ENOEXEC, "%s: not an ELF file", shown);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_machine != EM_X86_64)
        return error_set(err, ENOEXEC, "%s: not an x86_64 ELF file", shown);
    if (eh.e_type != ET_DYN)
        return error_set(err, ENOEXEC, "%s: not a shared object", shown);
    r = elfdyn_read(pread_fd, &fd, (uint64_t)st.st_size, &dyn);
    if (r == -ENOMEM)
        return error_set(err, ENOMEM, "out of memory");
    if (r < 0)
        return error_set(err, ENOEXEC, "%s: a malformed ELF file (its dynamic section)", shown);
    for (size_t i = 0; i < dyn.needed.n && r == 0; i++)
        r = strv_push(&d->needed, dyn.needed.v[i]);
    /* RUNPATH wins over RPATH, as in the loader (elfdyn keeps that one). */
    if (r == 0 && dyn.runpath)
        r = split_dirs(&d->dirs, dyn.runpath);
    elfdyn_release(&dyn);
    return r < 0 ? error_set(err, ENOMEM, "out of memory") : 0;
}

/* `path` made plain: "." and ".." parts and repeated slashes resolved as
 * names (no symlink is followed), NULL when it climbs above "/" or is not
 * absolute. */
static char *plain_path(const char *path)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p = path;

    if (path[0] != '/')
        return NULL;
    while (*p) {
        const char *end;
        size_t n;
        while (*p == '/')
            p++;
        end = strchr(p, '/');
        n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = sb.len ? strrchr(sb.buf, '/') : NULL;
            if (!slash) {
                strbuf_release(&sb);
                return NULL;
            }
            sb.len = (size_t)(slash - sb.buf);
            sb.buf[sb.len] = '\0';
        } else {
            strbuf_addch(&sb, '/');
            strbuf_add(&sb, p, n);
        }
        p += n;
    }
    if (!sb.len)
        strbuf_addch(&sb, '/');
    if (strbuf_failed(&sb)) {
        strbuf_release(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

/* A search-path entry with $ORIGIN expanded (the directory the object was
 * loaded from); NULL for one the loader would expand otherwise ($LIB,
 * $PLATFORM), which is left to the system directories. */
static char *expand_dir(const char *dir, const char *origin)
{
    struct strbuf sb = STRBUF_INIT;

    for (const char *p = dir; *p;) {
        if (str_has_prefix(p, "$ORIGIN") || str_has_prefix(p, "${ORIGIN}")) {
            strbuf_addstr(&sb, origin);
            p += p[1] == '{' ? 9 : 7;
        } else if (*p == '$') {
            strbuf_release(&sb);
            return NULL;
        } else {
            strbuf_addch(&sb, *p++);
        }
    }
    if (strbuf_failed(&sb)) {
        strbuf_release(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

struct walk {
    struct sbvm_config *cfg;
    struct strv seen; /* canonical host paths visited */
    size_t binds;
};

/* Makes host file `canon` visible at `dst` (a plain path) unless the view
 * shows it there already. */
static int bind_file(struct walk *wk, const char *canon, const char *dst, sbvm_error **err)
{
    if (fsplan_path_visible(dst) && streq(canon, dst))
        return 0;
    for (size_t i = 0; i < wk->cfg->nmounts; i++)
        if (wk->cfg->mounts[i].dst && streq(wk->cfg->mounts[i].dst, dst))
            return 0;
    if (++wk->binds > BINDS_MAX)
        return error_set(err, E2BIG,
                         "%s: more than %d libraries to bind outside the system "
                         "directories",
                         dst, BINDS_MAX);
    return sbvm_config_add_mount(wk->cfg, SBVM_MOUNT_RO, canon, dst, 0, err);
}

/* Visits the library loaded from `dst` (host file `canon`). */
static int visit(struct walk *wk, const char *canon, const char *dst, int depth, sbvm_error **err)
{
    struct elf_deps d = { STRV_INIT, STRV_INIT };
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *origin = NULL;
    int r;

    if (depth > DEPTH_MAX)
        return error_set(err, ELOOP, "%s: dependencies nested too deep", canon);
    if (strv_find(&wk->seen, canon) >= 0)
        return 0;
    if ((r = strv_push(&wk->seen, canon)) < 0)
        return error_set(err, ENOMEM, "out of memory");
    if ((r = bind_file(wk, canon, dst, err)) < 0)
        return r;
    fd = open(canon, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return error_sys(err, errno, "%s", canon);
    if ((r = elf_read_deps(fd, canon, &d, err)) < 0)
        goto out;
    origin = strdup(dst);
    if (!origin) {
        r = error_set(err, ENOMEM, "out of memory");
        goto out;
    }
    *strrchr(origin, '/') = '\0';
    for (size_t i = 0; i < d.needed.n && d.dirs.n; i++) {
        const char *name = d.needed.v[i];
        if (strchr(name, '/'))
            continue; /* a path: the loader opens it as it is */
        for (size_t k = 0; k < d.dirs.n; k++) {
            _cleanup_free_ char *dir = expand_dir(d.dirs.v[k], *origin ? origin : "/");
            _cleanup_free_ char *cand = NULL, *plain = NULL, *real = NULL;
            struct strbuf sb = STRBUF_INIT;
            struct stat st;

            if (!dir)
                continue;
            strbuf_addf(&sb, "%s/%s", dir, name);
            cand = strbuf_failed(&sb) ? NULL : strbuf_detach(&sb, NULL);
            strbuf_release(&sb);
            if (!cand || !(plain = plain_path(cand)))
                continue;
            if (stat(plain, &st) < 0 || !S_ISREG(st.st_mode) || !(real = realpath(plain, NULL)))
                continue;
            if ((r = visit(wk, real, plain, depth + 1, err)) < 0)
                goto out;
            break;
        }
    }
    r = 0;
out:
    elf_deps_release(&d);
    return r;
}

int calls_deps_bind(struct sbvm_config *cfg, const char *path, char **dlname, sbvm_error **err)
{
    struct walk wk = { .cfg = cfg, .seen = STRV_INIT };
    _cleanup_free_ char *canon = NULL;
    int r;

    *dlname = NULL;
    if (!strchr(path, '/')) {
        /* A name: the sandbox's loader looks it up, as dlopen would here. */
        *dlname = strdup(path);
        return *dlname ? 0 : error_set(err, ENOMEM, "out of memory");
    }
    canon = realpath(path, NULL);
    if (!canon)
        return error_sys(err, errno, "%s", path);
    r = visit(&wk, canon, canon, 0, err);
    strv_release(&wk.seen);
    if (r < 0)
        return r;
    *dlname = steal_pointer(&canon);
    return 0;
}
