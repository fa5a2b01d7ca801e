/* SPDX-License-Identifier: MIT */
/* program.c: resolving and vetting the program a guest will execute. */
#include "policy/program.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/elfdyn.h"
#include "policy/fsplan.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* The kernel follows at most this many nested #! interpreters (BINPRM). */
#define MAX_INTERP_DEPTH 4
/* The kernel reads this much of a file to find the #! line (BINPRM_BUF_SIZE). */
#define SHEBANG_MAX 256
/* We refuse program header tables larger than this: no real binary has one. */
#define PHDR_TABLE_MAX (64 * 1024)

int program_host_machine(void)
{
#if defined(__x86_64__)
    return EM_X86_64;
#elif defined(__aarch64__)
    return EM_AARCH64;
#else
#error "sandboxvm supports x86_64 and aarch64 hosts"
#endif
}

const char *program_machine_name(int machine)
{
    switch (machine) {
    case EM_386:
        return "i386";
    case EM_X86_64:
        return "x86_64";
    case EM_ARM:
        return "32-bit ARM";
    case EM_AARCH64:
        return "aarch64";
    case EM_RISCV:
        return "RISC-V";
    case EM_PPC:
        return "PowerPC";
    case EM_PPC64:
        return "PowerPC64";
    case EM_S390:
        return "s390";
    case EM_MIPS:
        return "MIPS";
    case EM_SPARCV9:
        return "SPARC v9";
    default:
        return NULL;
    }
}

static int fail_with(struct program_failure *fail, enum sbvm_outcome outcome, int err,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_with(struct program_failure *fail, enum sbvm_outcome outcome, int err,
                     const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    free(fail->message);
    fail->outcome = outcome;
    fail->err = err;
    fail->message = strbuf_detach(&sb, NULL);
    return -err;
}

void program_failure_release(struct program_failure *fail)
{
    free(fail->message);
    fail->message = NULL;
}

void program_release(struct program *prog)
{
    free(prog->exec_path);
    prog->exec_path = NULL;
    free(prog->argv0);
    prog->argv0 = NULL;
    for (size_t i = 0; i < prog->nbinds; i++) {
        free(prog->binds[i].path);
        free(prog->binds[i].src);
        close_fd(&prog->binds[i].fd);
    }
    prog->nbinds = 0;
}

static int add_bind_as(struct program *prog, const char *path, const char *src, int fd, bool dir,
                       struct program_failure *fail)
{
    struct program_bind *b;
    int dupfd;

    for (size_t i = 0; i < prog->nbinds; i++)
        if (streq(prog->binds[i].path, path))
            return 0;
    if (prog->nbinds == PROGRAM_MAX_BINDS)
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ELOOP,
                         "%s: too many interpreter files outside the system directories", path);
    dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dupfd < 0)
        return fail_with(fail, SBVM_OUTCOME_SETUP_FAILED, errno, "%s: duplicating fd: %s", path,
                         errno_text(errno));
    b = &prog->binds[prog->nbinds];
    b->path = strdup(path);
    b->src = strdup(src);
    if (!b->path || !b->src) {
        free(b->path);
        free(b->src);
        close(dupfd);
        return fail_with(fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
    }
    b->fd = dupfd;
    b->dir = dir;
    prog->nbinds++;
    return 0;
}

static int add_bind(struct program *prog, const char *path, const char *src, int fd,
                    struct program_failure *fail)
{
    return add_bind_as(prog, path, src, fd, false, fail);
}

/* The outcome for an errno met while looking at the program file itself. */
static enum sbvm_outcome outcome_for(int e)
{
    return (e == ENOENT || e == ENOTDIR) ? SBVM_OUTCOME_NOT_FOUND : SBVM_OUTCOME_NOT_EXECUTABLE;
}

/*
 * Checks an ELF image: native class, byte order and machine, an executable
 * type, and returns its PT_INTERP path (malloc'd) in *interp when it has one.
 */
static int check_elf(int fd, const char *shown, const unsigned char *head, size_t headlen,
                     char **interp, struct program_failure *fail)
{
    Elf64_Ehdr eh;
    _cleanup_free_ Elf64_Phdr *ph = NULL;
    size_t tabsz;
    ssize_t n;

    *interp = NULL;
    if (headlen < EI_NIDENT + 2 || head[EI_CLASS] != ELFCLASS64) {
        if (headlen > EI_CLASS && head[EI_CLASS] == ELFCLASS32) {
            uint16_t m = headlen >= 20 ? (uint16_t)(head[18] | (head[19] << 8)) : 0;
            const char *mn = program_machine_name(m);
            return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                             "%s: a 32-bit ELF program (%s); this sandbox runs %s programs", shown,
                             mn ? mn : "unknown machine",
                             program_machine_name(program_host_machine()));
        }
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: a malformed ELF file (bad class)", shown);
    }
    if (headlen < sizeof(eh))
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: a truncated ELF file (%zu bytes)", shown, headlen);
    memcpy(&eh, head, sizeof(eh));
    if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: a big-endian ELF program; this host is little-endian", shown);
    if (eh.e_machine != program_host_machine()) {
        const char *mn = program_machine_name(eh.e_machine);
        if (mn)
            return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                             "%s: an ELF program for %s; this host runs %s programs", shown, mn,
                             program_machine_name(program_host_machine()));
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: an ELF program for machine type %u; this host runs %s programs",
                         shown, eh.e_machine, program_machine_name(program_host_machine()));
    }
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: an ELF file that is not a program (type %u: object file or core)",
                         shown, eh.e_type);
    if (eh.e_phnum == 0)
        return 0;
    if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
        ckd_mul(&tabsz, (size_t)eh.e_phnum, sizeof(Elf64_Phdr)) || tabsz > PHDR_TABLE_MAX)
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: a malformed ELF file (program header table)", shown);
    ph = malloc(tabsz);
    if (!ph)
        return fail_with(fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
    n = pread(fd, ph, tabsz, (off_t)eh.e_phoff);
    if (n < 0 || (size_t)n != tabsz || eh.e_phoff > (Elf64_Off)INT64_MAX)
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: a truncated ELF file (program headers)", shown);
    for (size_t i = 0; i < eh.e_phnum; i++) {
        char *p;
        if (ph[i].p_type != PT_INTERP)
            continue;
        if (ph[i].p_filesz < 2 || ph[i].p_filesz > PATH_MAX || ph[i].p_offset > INT64_MAX)
            return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                             "%s: a malformed ELF file (interpreter path)", shown);
        p = calloc(1, ph[i].p_filesz + 1);
        if (!p)
            return fail_with(fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
        n = pread(fd, p, ph[i].p_filesz, (off_t)ph[i].p_offset);
        if (n < 0 || (size_t)n != ph[i].p_filesz || p[ph[i].p_filesz - 1] != '\0' ||
            strlen(p) != ph[i].p_filesz - 1 || p[0] != '/') {
            free(p);
            return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                             "%s: a malformed ELF file (interpreter path)", shown);
        }
        *interp = p;
        return 0;
    }
    return 0;
}

/*
 * Parses a "#!" line the way the kernel does: the interpreter is the first
 * word after "#!", an optional argument follows. Returns the interpreter path.
 */
static int parse_shebang(const char *shown, const unsigned char *head, size_t headlen,
                         char **interp, struct program_failure *fail)
{
    size_t i = 2, start, end;
    const unsigned char *nl = memchr(head, '\n', headlen);
    size_t lim = nl ? (size_t)(nl - head) : headlen;

    while (i < lim && (head[i] == ' ' || head[i] == '\t'))
        i++;
    start = i;
    while (i < lim && head[i] != ' ' && head[i] != '\t' && head[i] != '\0')
        i++;
    end = i;
    if (start == end)
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: a script whose #! line names no interpreter", shown);
    if (!nl && end == headlen)
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: a script whose #! line is longer than the kernel reads (%d bytes)",
                         shown, SHEBANG_MAX);
    if (head[start] != '/')
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                         "%s: its #! interpreter '%.*s' is not an absolute path", shown,
                         (int)(end - start), (const char *)head + start);
    *interp = strndup((const char *)head + start, end - start);
    if (!*interp)
        return fail_with(fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
    return 0;
}

struct vet_ctx {
    const struct program_view *view; /* NULL: the default view */
    struct program *prog;
    struct program_failure *fail;
    /* The program itself (depth 0): its loader's needs when it is a
     * dynamic ELF, and where it is (a canonical host path, or the guest's
     * path for one in a mount or the rootfs). */
    struct elf_dyn dyn;
    bool have_dyn;
    char *where0;
    bool placed0;
};

static int vet_any(struct vet_ctx *c, const char *path, const char *shown, int depth);

/* ---- the guest's view: mounts and --rootfs ------------------------------ */

/* Copies `path` with repeated slashes and "." components dropped (never "..":
 * that would need the symlinks resolved first). */
static char *tidy_path(const char *path)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p = path;

    while (*p) {
        size_t len;
        while (*p == '/')
            p++;
        len = strcspn(p, "/");
        if (len == 0)
            break;
        if (!(len == 1 && p[0] == '.')) {
            strbuf_addch(&sb, '/');
            strbuf_add(&sb, p, len);
        }
        p += len;
    }
    if (sb.len == 0)
        strbuf_addch(&sb, '/');
    return strbuf_detach(&sb, NULL);
}

/* The mount that shows the (tidy, absolute) `path` in the guest's view: of
 * those whose destination is path or one of its parents, the last given,
 * since a later mount covers an earlier one. *rest: the part below it. */
static const struct program_mount *mount_for(const struct program_view *v, const char *path,
                                             const char **rest)
{
    if (!v || path[0] != '/')
        return NULL;
    /* Destinations are plain absolute paths, never "/" (config's check_dst). */
    for (size_t i = v->nmounts; i-- > 0;) {
        const char *d = v->mounts[i].dst;
        size_t dl = strlen(d);

        if (strncmp(path, d, dl) == 0 && (path[dl] == '\0' || path[dl] == '/')) {
            *rest = path[dl] ? path + dl + 1 : path + dl;
            return &v->mounts[i];
        }
    }
    return NULL;
}

/* Where a file lives in the view, as a base fd and a path below it that
 * openat2 resolves the way the guest's kernel will (within a mount, or
 * within the --rootfs tree), and the words that say where, for messages. */
struct place {
    int base;
    const char *rel;
    uint64_t resolve;
    char where[64];
    char *name;    /* owned: a file mount's base name */
    bool borrowed; /* base is the mount's own descriptor: not ours to close */
};

static void place_release(struct place *pl)
{
    if (pl->borrowed)
        pl->base = -1;
    close_fd(&pl->base);
    free(pl->name);
    pl->name = NULL;
}

/* 1: path is in a mount or the rootfs and *pl says where; 0: it is a host
 * path of the default view; <0: a failure, in c->fail. */
static int place_of(struct vet_ctx *c, const char *path, const char *shown, int depth,
                    struct place *pl)
{
    const struct program_mount *m;
    const char *rest = NULL;

    /* At depth 0 the program: named once when the user named it so. */
    const char *obj = depth || !streq(shown, path) ? path : "it";

    memset(pl, 0, sizeof(*pl));
    pl->base = -1;
    m = mount_for(c->view, path, &rest);
    if (m) {
        struct stat st;
        snprintf(pl->where, sizeof(pl->where), " in the mount at %.40s", m->dst);
        if (!m->src)
            return fail_with(c->fail, depth ? SBVM_OUTCOME_NOT_EXECUTABLE : SBVM_OUTCOME_NOT_FOUND,
                             ENOENT,
                             "%s: %s is under %.40s, which starts empty (--tmpfs or --hide)", shown,
                             obj, m->dst);
        /* The very source the mount will bind, when the caller holds it. */
        pl->borrowed = m->fd >= 0;
        pl->base = m->fd >= 0 ? m->fd : open(m->src, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (pl->base < 0 || fstat(pl->base, &st) < 0) {
            int e = errno;
            return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, e, "%s: the source of %s: %s",
                             shown, m->dst, errno_text(e));
        }
        pl->resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        if (S_ISDIR(st.st_mode)) {
            pl->rel = *rest ? rest : ".";
            return 1;
        }
        if (*rest)
            return fail_with(c->fail, depth ? SBVM_OUTCOME_NOT_EXECUTABLE : SBVM_OUTCOME_NOT_FOUND,
                             ENOTDIR, "%s: %s is below %s, a file mount", shown, obj, m->dst);
        /* A file mount: the file itself, from its directory. */
        if (pl->borrowed)
            pl->base = -1;
        pl->borrowed = false;
        close_fd(&pl->base);
        {
            const char *slash = strrchr(m->src, '/');
            _cleanup_free_ char *dir =
                strndup(m->src, slash && slash != m->src ? (size_t)(slash - m->src) : 1);
            pl->name = strdup(slash ? slash + 1 : m->src);
            if (!dir || !pl->name)
                return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
            pl->base = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (pl->base < 0) {
                int e = errno;
                return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, e, "%s: the source of %s: %s",
                                 shown, m->dst, errno_text(e));
            }
            pl->rel = pl->name;
        }
        return 1;
    }
    if (c->view && c->view->rootfd >= 0) {
        pl->base = fcntl(c->view->rootfd, F_DUPFD_CLOEXEC, 3);
        if (pl->base < 0)
            return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, errno, "%s: %s", shown,
                             errno_text(errno));
        pl->rel = path;
        pl->resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        snprintf(pl->where, sizeof(pl->where), " in the rootfs");
        return 1;
    }
    return 0;
}

static ssize_t read_at(void *ctx, void *buf, size_t len, uint64_t off)
{
    return off > INT64_MAX ? -1 : pread(*(int *)ctx, buf, len, (off_t)off);
}

/*
 * Checks one file of the exec chain where pl says it is: a regular file with
 * an execute bit, still the same file when opened for reading, and reads
 * what the kernel reads of it. *pfd gets its O_PATH fd, *interp its
 * interpreter (NULL for a static ELF). 1: a symlink or ".." leads out of the
 * place, and only the guest's own view can say where (its exec will tell).
 */
static int inspect(struct vet_ctx *c, const struct place *pl, const char *path, const char *shown,
                   int depth, int *pfd, char **interp)
{
    struct program_failure *fail = c->fail;
    _cleanup_close_ int rfd = -1;
    unsigned char head[SHEBANG_MAX];
    char what[PATH_MAX + 32];
    struct stat st, st2;
    ssize_t n;

    *interp = NULL;
    snprintf(what, sizeof(what), depth ? "its interpreter %s" : "it", path);
    *pfd = openat2_at(pl->base, pl->rel, O_PATH, pl->resolve);
    if (*pfd < 0 || fstat(*pfd, &st) < 0) {
        int e = errno;
        if (e == EXDEV)
            return 1;
        if (depth == 0)
            return fail_with(fail, outcome_for(e), e, "%s: %s%s", shown, errno_text(e), pl->where);
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, e, "%s: %s: %s%s", shown, what,
                         errno_text(e), pl->where);
    }
    if (S_ISDIR(st.st_mode))
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, EISDIR, "%s: %s%sis a directory%s",
                         shown, depth ? what : "", depth ? " " : "", pl->where);
    if (!S_ISREG(st.st_mode))
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, EACCES,
                         "%s: %s is not a regular file%s", shown, what, pl->where);
    if (!(st.st_mode & 0111))
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, EACCES,
                         "%s: %s has no execute permission (mode %04o)%s", shown, what,
                         (unsigned)(st.st_mode & 07777), pl->where);
    /* Only now that it is known to be a regular file is it opened for
     * reading (opening a device or FIFO can have effects). The identity check
     * makes sure it is still the file that was vetted. */
    rfd = openat2_at(pl->base, pl->rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, pl->resolve);
    if (rfd < 0) {
        int e = errno;
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, e, "%s: cannot read %s: %s", shown,
                         what, errno_text(e));
    }
    if (fstat(rfd, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)
        return fail_with(fail, SBVM_OUTCOME_SETUP_FAILED, EAGAIN,
                         "%s: the file changed while it was being checked", shown);
    n = pread(rfd, head, sizeof(head), 0);
    if (n < 0) {
        int e = errno;
        return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, e, "%s: cannot read %s: %s", shown,
                         what, errno_text(e));
    }
    if (n >= 4 && memcmp(head, ELFMAG, SELFMAG) == 0) {
        int r = check_elf(rfd, shown, head, (size_t)n, interp, fail);
        if (r == 0 && depth == 0) {
            /* What its loader will look for; a dynamic section we cannot
             * read is the loader's to refuse, not ours. */
            int fd = rfd;
            c->have_dyn = elfdyn_read(read_at, &fd, (uint64_t)st2.st_size, &c->dyn) == 0;
        }
        return r;
    }
    if (n >= 2 && head[0] == '#' && head[1] == '!') {
        if (depth >= MAX_INTERP_DEPTH)
            return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ELOOP,
                             "%s: more than %d nested #! interpreters", shown, MAX_INTERP_DEPTH);
        return parse_shebang(shown, head, (size_t)n, interp, fail);
    }
    if (depth == 0 && n > 0 && !memchr(head, '\0', (size_t)n)) {
        /* Text without #!: the kernel refuses it (ENOEXEC), a shell or
         * execvp runs it with /bin/sh, and so do we (program.h). */
        c->prog->sh_script = true;
        *interp = strdup("/bin/sh");
        return *interp ? 0 : fail_with(fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
    }
    return fail_with(fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOEXEC,
                     "%s: %s%sneither an ELF program nor a #! script%s", shown, depth ? what : "",
                     depth ? " is " : "", pl->where);
}

/* The rest of the chain, from the interpreter of the file at `depth`. */
static int vet_interp(struct vet_ctx *c, const char *interp, const char *shown, int depth)
{
    if (!interp)
        return 0;
    /* The ELF loader case counts as one level too; the kernel does not
     * recurse into it, but a loader that needs a loader is nonsense. */
    if (depth >= MAX_INTERP_DEPTH)
        return fail_with(c->fail, SBVM_OUTCOME_NOT_EXECUTABLE, ELOOP,
                         "%s: interpreter chain too deep", shown);
    return vet_any(c, interp, shown, depth + 1);
}

/*
 * A file of the default view, named by a host path (absolute, or relative to
 * our cwd): the exec uses its canonical path, and when that is outside the
 * system directories the view shows, the file is bound there.
 */
static int vet_file(struct vet_ctx *c, const char *path, const char *shown, int depth)
{
    _cleanup_free_ char *canon = realpath(path, NULL);
    _cleanup_free_ char *interp = NULL;
    _cleanup_close_ int pfd = -1;
    struct place pl = { .base = AT_FDCWD, .resolve = 0 };
    int r;

    if (!canon) {
        int e = errno;
        if (depth == 0)
            return fail_with(c->fail, outcome_for(e), e, "%s: %s", shown, errno_text(e));
        return fail_with(c->fail, SBVM_OUTCOME_NOT_EXECUTABLE, e, "%s: its interpreter %s: %s",
                         shown, path, errno_text(e));
    }
    pl.rel = canon;
    r = inspect(c, &pl, path, shown, depth, &pfd, &interp);
    if (r < 0)
        return r;
    if (depth == 0 && (!(c->prog->exec_path = strdup(canon)) || !(c->where0 = strdup(canon))))
        return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
    if (!fsplan_path_visible(canon) && (r = add_bind(c->prog, canon, canon, pfd, c->fail)) < 0)
        return r;
    /* An interpreter named through symlinks outside the view must also be
     * reachable under the name the exec chain uses. */
    if (depth > 0 && !streq(canon, path) && !fsplan_path_visible(path) &&
        (r = add_bind(c->prog, path, canon, pfd, c->fail)) < 0)
        return r;
    return vet_interp(c, interp, shown, depth);
}

/* A file in a mount or the --rootfs tree: it needs no bind, and the guest's
 * exec names it by `path`. */
static int vet_placed(struct vet_ctx *c, const struct place *pl, const char *path,
                      const char *shown, int depth)
{
    _cleanup_free_ char *interp = NULL;
    _cleanup_close_ int pfd = -1;
    int r = inspect(c, pl, path, shown, depth, &pfd, &interp);

    if (r < 0)
        return r;
    if (depth == 0 && (!(c->prog->exec_path = strdup(path)) || !(c->where0 = strdup(path))))
        return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
    c->placed0 |= depth == 0;
    return r == 1 ? 0 : vet_interp(c, interp, shown, depth);
}

/* Vets `path` wherever the guest will find it: in one of its mounts, in the
 * --rootfs tree, or among the host's files the default view shows or binds. */
static int vet_any(struct vet_ctx *c, const char *path, const char *shown, int depth)
{
    _cleanup_free_ char *tidy = NULL;
    struct place pl;
    int r;

    if (path[0] != '/')
        return vet_file(c, path, shown, depth); /* a host path, relative to our cwd */
    tidy = tidy_path(path);
    if (!tidy)
        return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
    r = place_of(c, tidy, shown, depth, &pl);
    if (r > 0)
        r = vet_placed(c, &pl, tidy, shown, depth);
    else if (r == 0)
        r = vet_file(c, path, shown, depth);
    place_release(&pl);
    return r;
}

/* Whether the guest will find an executable regular file at `cand`. */
static bool executable_at(struct vet_ctx *c, const char *cand, bool *exists)
{
    struct program_failure quiet = { 0 };
    struct vet_ctx qc = { .view = c->view, .prog = c->prog, .fail = &quiet };
    _cleanup_free_ char *tidy = tidy_path(cand);
    struct place pl;
    struct stat st;
    bool ok = false;
    int r;

    *exists = false;
    if (!tidy)
        return false;
    r = place_of(&qc, tidy, cand, 0, &pl);
    if (r > 0) {
        int fd = openat2_at(pl.base, pl.rel, O_PATH, pl.resolve);
        if (fd >= 0 && fstat(fd, &st) == 0) {
            *exists = true;
            ok = S_ISREG(st.st_mode) && (st.st_mode & 0111);
        }
        if (fd >= 0)
            close(fd);
    } else if (r == 0 && fsplan_path_visible(cand) && stat(cand, &st) == 0) {
        *exists = true;
        ok = S_ISREG(st.st_mode) && (st.st_mode & 0111);
    }
    place_release(&pl);
    program_failure_release(&quiet);
    return ok;
}

int program_view_open(const struct program_view *view, const char *path, int flags)
{
    struct program prog = { 0 };
    struct program_failure quiet = { 0 };
    struct vet_ctx c = { .view = view, .prog = &prog, .fail = &quiet };
    _cleanup_free_ char *tidy = NULL;
    struct place pl;
    int r;

    if (!path || path[0] != '/')
        return -EINVAL;
    tidy = tidy_path(path);
    if (!tidy)
        return -ENOMEM;
    r = place_of(&c, tidy, tidy, 0, &pl);
    if (r > 0) {
        r = openat2_at(pl.base, pl.rel, flags, pl.resolve);
        if (r < 0)
            r = -errno;
    } else if (r == 0) {
        r = -EREMOTE;
    }
    place_release(&pl);
    program_failure_release(&quiet);
    return r;
}

/* Looks `name` up in the PATH entries the guest can see, execvp-style. */
static int search_path(struct vet_ctx *c, const char *name, const char *path_env, char **found)
{
    const char *p = path_env ? path_env : "";
    bool saw_eacces = false;
    struct strbuf cand = STRBUF_INIT;
    const char *what = c->view && c->view->rootfd >= 0 ? "the rootfs's PATH" : "the guest's PATH";

    while (*p) {
        size_t len = strcspn(p, ":");
        bool exists;

        /* Empty and relative entries would mean the host's working
         * directory, which the guest does not see. */
        if (len > 0 && p[0] == '/') {
            strbuf_reset(&cand);
            strbuf_add(&cand, p, len);
            strbuf_addch(&cand, '/');
            strbuf_addstr(&cand, name);
            if (strbuf_failed(&cand)) {
                strbuf_release(&cand);
                return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
            }
            if (executable_at(c, cand.buf, &exists)) {
                *found = strbuf_detach(&cand, NULL);
                return *found
                           ? 0
                           : fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
            }
            saw_eacces |= exists;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    strbuf_release(&cand);
    if (saw_eacces)
        return fail_with(c->fail, SBVM_OUTCOME_NOT_EXECUTABLE, EACCES,
                         "%s: found in %s but not executable", name, what);
    return fail_with(c->fail, SBVM_OUTCOME_NOT_FOUND, ENOENT, "%s: not found in %s (%s)", name,
                     what, path_env && *path_env ? path_env : "empty");
}

/* ---- what the program needs to be itself ------------------------------ */

/* Whether the guest will see the host directory or file at absolute
 * `path`: through a mount of its own, in the rootfs, or among the system
 * directories of the default view. (A path that does not exist on the host
 * is shown as not existing either way.) */
static bool view_shows(const struct vet_ctx *c, const char *path)
{
    _cleanup_free_ char *tidy = tidy_path(path), *canon = NULL;
    const struct program_mount *m;
    const char *rest;

    if (!tidy)
        return false;
    if (c->view && c->view->rootfd >= 0)
        return true;
    /* ("..", symlinks: the host's names for it, which the view keeps.) */
    canon = realpath(tidy, NULL);
    m = mount_for(c->view, canon ? canon : tidy, &rest);
    if (!m && canon)
        m = mount_for(c->view, tidy, &rest);
    if (m)
        return m->src != NULL;
    return canon ? fsplan_path_visible(canon) : true;
}

/* dirname(p) resolved, plus its last component as given: the absolute
 * name of p that keeps the name it was called by (a multi-call program
 * reads it). NULL when its directory does not resolve. */
static char *absolute_keep_name(const char *p)
{
    const char *slash = strrchr(p, '/');
    _cleanup_free_ char *dir = NULL, *rdir = NULL;
    struct strbuf sb = STRBUF_INIT;

    if (!slash)
        return NULL;
    dir = slash == p ? strdup("/") : strndup(p, (size_t)(slash - p));
    if (!dir || !(rdir = realpath(dir, NULL)))
        return NULL;
    strbuf_addstr(&sb, rdir);
    if (!streq(rdir, "/"))
        strbuf_addch(&sb, '/');
    strbuf_addstr(&sb, slash + 1);
    return strbuf_detach(&sb, NULL);
}

/* A relative program path becomes absolute for the guest's argv[0], and
 * is made to exist in the view under that name. */
static int fix_argv0(struct vet_ctx *c, const char *argv0)
{
    _cleanup_free_ char *abs = NULL;
    _cleanup_close_ int fd = -1;

    if (!strchr(argv0, '/') || argv0[0] == '/' || c->placed0 || !c->where0)
        return 0;
    abs = absolute_keep_name(argv0);
    if (!abs)
        return 0; /* as given: the exec by its canonical path still works */
    if (!streq(abs, c->where0) && !view_shows(c, abs)) {
        int r;
        fd = open(c->where0, O_PATH | O_CLOEXEC);
        if (fd < 0)
            return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, errno, "%s: %s", argv0,
                             errno_text(errno));
        r = add_bind(c->prog, abs, c->where0, fd, c->fail);
        if (r < 0)
            return r;
    }
    c->prog->argv0 = steal_pointer(&abs);
    return 0;
}

/* Whether dir is the home directory or one of its parents. */
static bool covers_home(const char *dir)
{
    const char *home = getenv("HOME");
    _cleanup_free_ char *rhome = home && *home ? realpath(home, NULL) : NULL;
    size_t n = strlen(dir);

    if (streq(dir, "/"))
        return true;
    return rhome && strncmp(rhome, dir, n) == 0 && (rhome[n] == '\0' || rhome[n] == '/');
}

/* The value of `key = value` in a pyvenv.cfg text (malloc'd), or NULL. */
static char *cfg_value(const char *text, const char *key)
{
    size_t klen = strlen(key);

    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *q = p;
        while (q < p + len && (*q == ' ' || *q == '\t'))
            q++;
        if ((size_t)(p + len - q) > klen && strncmp(q, key, klen) == 0) {
            const char *v = q + klen;
            while (v < p + len && (*v == ' ' || *v == '\t'))
                v++;
            if (v < p + len && *v == '=') {
                const char *e = p + len;
                v++;
                while (v < e && (*v == ' ' || *v == '\t'))
                    v++;
                while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                    e--;
                return strndup(v, (size_t)(e - v));
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/*
 * A Python interpreter run by a virtual environment's name (venv/bin/python,
 * a symlink to the base interpreter) is that environment only when it sees
 * its pyvenv.cfg, next to it or one level up, and its site-packages: the
 * environment's directory is shown read-only, at its path.
 */
static int give_venv(struct vet_ctx *c, const char *given, const char *shown)
{
    _cleanup_free_ char *abs = NULL, *text = NULL, *home = NULL, *rhome = NULL;
    char root[PATH_MAX], cfgp[PATH_MAX + 16];
    const char *base;
    _cleanup_close_ int fd = -1;
    int r;

    if (c->placed0 || !c->where0 || (c->view && c->view->rootfd >= 0))
        return 0;
    base = strrchr(c->where0, '/');
    if (!base || strncmp(base + 1, "python", 6) != 0)
        return 0;
    abs = given[0] == '/' ? tidy_path(given) : absolute_keep_name(given);
    if (!abs)
        return 0;
    /* Where CPython looks: the executable's directory, then its parent. */
    snprintf(root, sizeof(root), "%s", abs);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(root, '/');
        if (!slash)
            return 0;
        *slash = '\0';
        if (!root[0])
            return 0;
        snprintf(cfgp, sizeof(cfgp), "%s/pyvenv.cfg", root);
        if (read_file_at(AT_FDCWD, cfgp, 64 * 1024, &text, NULL) == 0)
            break;
        if (up == 1)
            return 0;
    }
    {
        _cleanup_free_ char *rroot = realpath(root, NULL);
        if (!rroot)
            return 0;
        snprintf(root, sizeof(root), "%s", rroot);
    }
    /* Its base interpreter, and the prefix around it, must be the guest's
     * too, or Python runs without its standard library. */
    home = cfg_value(text, "home");
    if (home && home[0] == '/' && (rhome = realpath(home, NULL)) && !view_shows(c, rhome)) {
        char *slash = strrchr(rhome, '/');
        if (slash && slash != rhome)
            *slash = '\0'; /* the prefix: home is its bin/ */
        return fail_with(c->fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOENT,
                         "%s: a Python virtual environment (%s) whose base interpreter is in %s, "
                         "which the sandbox does not show: add --ro %s",
                         shown, root, home, rhome);
    }
    if (view_shows(c, root)) {
        free(c->prog->argv0);
        c->prog->argv0 = steal_pointer(&abs);
        return 0;
    }
    if (covers_home(root))
        return fail_with(c->fail, SBVM_OUTCOME_NOT_EXECUTABLE, EACCES,
                         "%s: a Python virtual environment whose directory, %s, is your home "
                         "directory or holds it: it is not shown on its own; show what it needs "
                         "with --ro",
                         shown, root);
    fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, errno, "%s: %s: %s", shown, root,
                         errno_text(errno));
    r = add_bind_as(c->prog, root, root, fd, true, c->fail);
    if (r < 0)
        return r;
    /* Python finds its environment from argv[0]: the venv's name. */
    free(c->prog->argv0);
    c->prog->argv0 = steal_pointer(&abs);
    return 0;
}

/*
 * A dynamic program whose RUNPATH (or RPATH) finds its libraries in a
 * directory the guest does not see would load another copy from the
 * system's directories, or none: refused, naming the --ro that shows it.
 */
static int check_runpath(struct vet_ctx *c, const char *shown)
{
    _cleanup_free_ char *origin = NULL;
    const char *rp, *slash;
    struct strbuf dir = STRBUF_INIT, lib = STRBUF_INIT;
    int r = 0;

    if (!c->have_dyn || !c->dyn.runpath || !c->dyn.needed.n || !c->where0 ||
        (c->view && c->view->rootfd >= 0))
        return 0;
    slash = strrchr(c->where0, '/');
    origin = slash == c->where0 ? strdup("/") : strndup(c->where0, (size_t)(slash - c->where0));
    if (!origin)
        return fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
    for (rp = c->dyn.runpath; *rp && r == 0;) {
        size_t len = strcspn(rp, ":");
        const char *e = rp, *end = rp + len;

        strbuf_reset(&dir);
        /* $ORIGIN and ${ORIGIN}: the program's directory. Other tokens
         * ($LIB, $PLATFORM) are the loader's; such entries are skipped. */
        while (e < end) {
            if (end - e >= 7 && strncmp(e, "$ORIGIN", 7) == 0) {
                strbuf_addstr(&dir, origin);
                e += 7;
            } else if (end - e >= 9 && strncmp(e, "${ORIGIN}", 9) == 0) {
                strbuf_addstr(&dir, origin);
                e += 9;
            } else {
                strbuf_addch(&dir, *e++);
            }
        }
        rp = *end ? end + 1 : end;
        if (strbuf_failed(&dir)) {
            r = fail_with(c->fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
            break;
        }
        if (!dir.len || dir.buf[0] != '/' || strchr(dir.buf, '$') || view_shows(c, dir.buf))
            continue;
        for (size_t i = 0; i < c->dyn.needed.n && r == 0; i++) {
            const char *need = c->dyn.needed.v[i];
            if (strchr(need, '/'))
                continue;
            strbuf_reset(&lib);
            strbuf_addf(&lib, "%s/%s", dir.buf, need);
            if (!strbuf_failed(&lib) && access(lib.buf, F_OK) == 0) {
                _cleanup_free_ char *canon = realpath(dir.buf, NULL);
                r = fail_with(c->fail, SBVM_OUTCOME_NOT_EXECUTABLE, ENOENT,
                              "%s: its library %s is in %s (its %s), which the sandbox does not "
                              "show: it would run with another copy or none. Add --ro %s",
                              shown, need, canon ? canon : dir.buf,
                              c->dyn.is_rpath ? "RPATH" : "RUNPATH", canon ? canon : dir.buf);
            }
        }
    }
    strbuf_release(&dir);
    strbuf_release(&lib);
    return r;
}

int program_resolve_view(const struct program_view *view, const char *argv0, const char *path_env,
                         struct program *prog, struct program_failure *fail)
{
    struct vet_ctx c = { .view = view, .prog = prog, .fail = fail };
    _cleanup_free_ char *path = NULL;
    int r;

    memset(prog, 0, sizeof(*prog));
    memset(fail, 0, sizeof(*fail));
    if (!argv0 || !*argv0)
        return fail_with(fail, SBVM_OUTCOME_NOT_FOUND, ENOENT, "empty program name");
    if (strlen(argv0) >= PATH_MAX)
        return fail_with(fail, SBVM_OUTCOME_NOT_FOUND, ENAMETOOLONG, "program name too long");

    if (strchr(argv0, '/')) {
        if (argv0[0] != '/' && view && view->rootfd >= 0)
            return fail_with(
                fail, SBVM_OUTCOME_NOT_FOUND, EINVAL,
                "%s: with --rootfs, give an absolute path or a name to look up in PATH", argv0);
        path = strdup(argv0);
        if (!path)
            return fail_with(fail, SBVM_OUTCOME_SETUP_FAILED, ENOMEM, "out of memory");
    } else {
        r = search_path(&c, argv0, path_env, &path);
        if (r < 0)
            return r;
    }
    r = vet_any(&c, path, argv0, 0);
    if (r == 0)
        r = check_runpath(&c, argv0);
    if (r == 0)
        r = fix_argv0(&c, argv0);
    if (r == 0)
        r = give_venv(&c, path, argv0);
    if (r < 0)
        program_release(prog);
    elfdyn_release(&c.dyn);
    free(c.where0);
    return r;
}

int program_resolve(const char *argv0, const char *path_env, struct program *prog,
                    struct program_failure *fail)
{
    return program_resolve_view(NULL, argv0, path_env, prog, fail);
}
