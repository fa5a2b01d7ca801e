/* SPDX-License-Identifier: MIT */
/* dw.c: loading libdw on first use, and the process-wide cache of the module
 * files it has read (the contract is in dw.h). */
#include "forensics/dw.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/strbuf.h"
#include "util/util.h"

static struct dw_api api;
static const char *load_error;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);

    if (!h) {
        load_error = "libdw.so.1 (elfutils) is not installed: backtraces have no symbols";
        return;
    }
    /* libelf's calls are found through libdw's handle: it depends on it. */
#define DW_LOAD(f)                                                                                 \
    if (!(api.f = (__typeof__(f) *)dlsym(h, #f))) {                                                \
        load_error = "libdw.so.1 lacks " #f ": backtraces have no symbols";                        \
        return;                                                                                    \
    }
    DW_FUNCS(DW_LOAD)
#undef DW_LOAD
    if (api.elf_version(EV_CURRENT) == EV_NONE)
        load_error = "libelf refuses this ELF version: backtraces have no symbols";
}

const struct dw_api *dw_load(const char **why)
{
    pthread_once(&once, load);
    if (load_error) {
        if (why)
            *why = load_error;
        return NULL;
    }
    return &api;
}

/* ---- the module cache --------------------------------------------------- */

#define BUILD_ID_MAX 64
#define NOTES_MAX    (64 * 1024) /* a note section or segment is read whole */
#define ALTLINK_MAX  4096        /* .gnu_debugaltlink: a path and a build-id */
#define SECTIONS_MAX 65536
#define PHDRS_MAX    65535
#define MEMO_BITS    6           /* 64 answers kept per module */
#define MODULE_BASE  (16 * 1024) /* libdwfl's own structures, the memo */
/* What one module is counted as at most, whatever its headers announce:
 * the cache's sum of a few hundred modules cannot overflow. */
#define MODULE_BYTES_MAX ((size_t)1 << 40)
#define DEBUG_ID_DIR     "/usr/lib/debug/.build-id/"

struct file_key {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

struct dw_module {
    struct dw_module *prev, *next; /* most recently used first */
    struct file_key key;
    unsigned char build_id[BUILD_ID_MAX];
    size_t build_id_len;
    off_t build_id_off; /* where its bytes are in the file */
    char *name;         /* the path it was first known by */
    int fd;             /* the file, read through `elf` with pread */
    Elf *elf;
    /* Symbolisation: a Dwfl of its own, made on first use, in which the
     * file sits at its link-time addresses (`bias` is 0 but for oddities). */
    Dwfl *dwfl;
    Dwfl_Module *mod;
    Dwarf_Addr bias, low, high;
    bool dwfl_failed;
    /* The last answers, by address: libdwfl finds a symbol by scanning
     * the whole table (the C library's has thousands), and a program that
     * crashes again mostly does so through the same frames. The strings
     * belong to the module's Dwfl, and live as long as it. */
    struct memo {
        uint64_t vaddr;
        bool valid;
        struct dw_symbol sym;
    } memo[1u << MEMO_BITS];
    bool has_dwarf;                     /* the file carries its own .debug_info */
    bool debug_given;                   /* a separate debug file was handed to libdwfl */
    unsigned char alt_id[BUILD_ID_MAX]; /* the build-id .gnu_debugaltlink names */
    size_t alt_id_len;
    size_t bytes;  /* what it holds, roughly (dw.h) */
    uint64_t used; /* the analysis that last used it */
};

static struct {
    pthread_mutex_t lock;
    struct dw_module *head, *tail;
    size_t n, bytes;
    size_t max_modules, max_bytes;
    uint64_t serial; /* the analysis under way, or the next one */
    uint64_t hits, misses, evictions;
    bool changed; /* modules read or dropped in this analysis */
} cache = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .max_modules = DW_CACHE_MODULES,
    .max_bytes = DW_CACHE_BYTES,
    .serial = 1,
};

/* a + b, at most MODULE_BYTES_MAX (a is at most that already). */
static size_t add_clamped(size_t a, uint64_t b)
{
    return b > MODULE_BYTES_MAX - a ? MODULE_BYTES_MAX : a + (size_t)b;
}

static void key_of(const struct stat *st, struct file_key *k)
{
    memset(k, 0, sizeof(*k));
    k->dev = st->st_dev;
    k->ino = st->st_ino;
    k->size = st->st_size;
    k->mtime = st->st_mtim;
    k->ctime = st->st_ctim;
}

static bool key_eq(const struct file_key *a, const struct file_key *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static bool pread_exact(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;

    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return false;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

/* ---- reading what a file says about itself (hostile input) -------------- */

static uint64_t align_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) & ~(align - 1);
}

/* The GNU build-id among the notes at [off, off + size) of the file, and
 * the offset of its bytes there. */
static bool notes_build_id(int fd, uint64_t off, uint64_t size, uint64_t align, unsigned char *id,
                           size_t *len, off_t *where)
{
    _cleanup_free_ unsigned char *buf = NULL;
    uint64_t pos = 0;

    if (size < 12 || size > NOTES_MAX || off > (uint64_t)INT64_MAX - size)
        return false;
    if (!(buf = malloc(size)) || !pread_exact(fd, buf, size, off))
        return false;
    align = align == 8 ? 8 : 4;
    while (size - pos >= 12) {
        uint32_t namesz, descsz, type;
        uint64_t desc, next;

        memcpy(&namesz, buf + pos, 4);
        memcpy(&descsz, buf + pos + 4, 4);
        memcpy(&type, buf + pos + 8, 4);
        desc = align_up(pos + 12 + namesz, align);
        if (desc > size || descsz > size - desc)
            return false;
        if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(buf + pos + 12, "GNU", 4) &&
            descsz >= 1 && descsz <= BUILD_ID_MAX) {
            memcpy(id, buf + desc, descsz);
            *len = descsz;
            *where = (off_t)(off + desc);
            return true;
        }
        next = align_up(desc + descsz, align);
        if (next <= pos || next > size)
            return false;
        pos = next;
    }
    return false;
}

/* The file's build-id: from its note sections, or without section headers
 * from its note segments. */
static bool find_build_id(Elf *elf, int fd, unsigned char *id, size_t *len, off_t *where)
{
    Elf_Scn *scn = NULL;
    size_t n = 0, phnum;

    while ((scn = api.elf_nextscn(elf, scn)) && n++ < SECTIONS_MAX) {
        GElf_Shdr mem, *sh = api.gelf_getshdr(scn, &mem);
        if (sh && sh->sh_type == SHT_NOTE &&
            notes_build_id(fd, sh->sh_offset, sh->sh_size, sh->sh_addralign, id, len, where))
            return true;
    }
    if (api.elf_getphdrnum(elf, &phnum) != 0)
        return false;
    for (size_t i = 0; i < phnum && i < PHDRS_MAX; i++) {
        GElf_Phdr mem, *ph = api.gelf_getphdr(elf, (int)i, &mem);
        if (ph && ph->p_type == PT_NOTE &&
            notes_build_id(fd, ph->p_offset, ph->p_filesz, ph->p_align, id, len, where))
            return true;
    }
    return false;
}

struct estimate {
    size_t bytes;
    bool has_dwarf;
    unsigned char alt_id[BUILD_ID_MAX];
    size_t alt_id_len;
};

/* The size a debug section will have once libdw has inflated it, as its
 * header announces it (an ELF compression header, or a GNU .zdebug one);
 * the section's own size when it is not compressed. */
static uint64_t inflated_size(int fd, const GElf_Shdr *sh, const char *name, int cls)
{
    if (sh->sh_flags & SHF_COMPRESSED) {
        if (cls == ELFCLASS64) {
            Elf64_Chdr ch;
            return pread_exact(fd, &ch, sizeof(ch), sh->sh_offset) ? ch.ch_size : sh->sh_size;
        }
        Elf32_Chdr ch;
        return pread_exact(fd, &ch, sizeof(ch), sh->sh_offset) ? ch.ch_size : sh->sh_size;
    }
    if (name[1] == 'z') {
        unsigned char h[12];
        uint64_t v = 0;
        if (!pread_exact(fd, h, sizeof(h), sh->sh_offset) || memcmp(h, "ZLIB", 4))
            return sh->sh_size;
        for (int i = 4; i < 12; i++)
            v = v << 8 | h[i];
        return v;
    }
    return sh->sh_size;
}

/* .gnu_debugaltlink: a file name, a NUL, the dwz file's build-id. */
static void read_altlink(int fd, const GElf_Shdr *sh, struct estimate *est)
{
    unsigned char buf[ALTLINK_MAX];
    const unsigned char *nul;
    size_t idlen;

    if (sh->sh_size < 2 || sh->sh_size > sizeof(buf) ||
        !pread_exact(fd, buf, sh->sh_size, sh->sh_offset))
        return;
    nul = memchr(buf, '\0', sh->sh_size);
    if (!nul)
        return;
    idlen = sh->sh_size - (size_t)(nul + 1 - buf);
    if (idlen < 1 || idlen > BUILD_ID_MAX)
        return;
    memcpy(est->alt_id, nul + 1, idlen);
    est->alt_id_len = idlen;
}

/*
 * What libdw will hold of this file once it has read it for unwinding and
 * names: the debug sections inflated, the symbol and string tables, the
 * unwind tables. From the section headers, before anything is read (a
 * guest's file can announce anything: the sum saturates).
 */
static void estimate(Elf *elf, int fd, struct estimate *est)
{
    int cls = api.gelf_getclass(elf);
    Elf_Scn *scn = NULL;
    size_t shstrndx, n = 0;

    memset(est, 0, sizeof(*est));
    est->bytes = MODULE_BASE;
    if (api.elf_getshdrstrndx(elf, &shstrndx) != 0)
        return;
    while ((scn = api.elf_nextscn(elf, scn)) && n++ < SECTIONS_MAX) {
        GElf_Shdr mem, *sh = api.gelf_getshdr(scn, &mem);
        const char *name;

        if (!sh || sh->sh_type == SHT_NOBITS ||
            !(name = api.elf_strptr(elf, shstrndx, sh->sh_name)))
            continue;
        if (str_has_prefix(name, ".debug_") || str_has_prefix(name, ".zdebug_")) {
            /* Inflated, and the compressed bytes too: read or mapped,
             * they stay. */
            uint64_t inflated = inflated_size(fd, sh, name, cls);
            est->bytes = add_clamped(est->bytes, inflated);
            if (inflated != sh->sh_size)
                est->bytes = add_clamped(est->bytes, sh->sh_size);
            if (streq(name, ".debug_info") || streq(name, ".zdebug_info"))
                est->has_dwarf = true;
        } else if (sh->sh_type == SHT_SYMTAB || sh->sh_type == SHT_DYNSYM ||
                   sh->sh_type == SHT_STRTAB || streq(name, ".eh_frame") ||
                   streq(name, ".eh_frame_hdr") || streq(name, ".gnu_debugdata")) {
            est->bytes = add_clamped(est->bytes, sh->sh_size);
        } else if (streq(name, ".gnu_debugaltlink")) {
            read_altlink(fd, sh, est);
        }
    }
}

/* ---- the list ----------------------------------------------------------- */

static void unlink_module(struct dw_module *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        cache.head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        cache.tail = m->prev;
    m->prev = m->next = NULL;
}

static void push_front(struct dw_module *m)
{
    m->prev = NULL;
    m->next = cache.head;
    if (cache.head)
        cache.head->prev = m;
    cache.head = m;
    if (!cache.tail)
        cache.tail = m;
}

static void module_free(struct dw_module *m)
{
    /* The module's Dwfl holds a reference to the ELF handle, and the
     * handle reads through the fd: in that order. */
    if (m->dwfl)
        api.dwfl_end(m->dwfl);
    if (m->elf)
        api.elf_end(m->elf);
    if (m->fd >= 0)
        close(m->fd);
    free(m->name);
    free(m);
}

static void drop(struct dw_module *m, bool evicted)
{
    unlink_module(m);
    cache.n--;
    cache.bytes -= m->bytes;
    cache.evictions += evicted;
    cache.changed = true;
    module_free(m);
}

static bool in_use(const struct dw_module *m)
{
    return m->used == cache.serial;
}

/*
 * Least recently used first, sparing the modules of the analysis under way:
 * a crash's Dwfl and the frames being named hold on to them. A module over
 * the byte cap on its own goes as soon as its analysis is over, and does
 * not push the others out meanwhile (what a guest's file announces could
 * otherwise empty the cache at every crash).
 */
static void trim(void)
{
    size_t over_n = 0, over_bytes = 0;
    struct dw_module *m, *prev;

    for (m = cache.tail; m; m = prev) {
        prev = m->prev;
        if (m->bytes <= cache.max_bytes)
            continue;
        if (!in_use(m)) {
            drop(m, true);
        } else {
            over_n++;
            over_bytes += m->bytes;
        }
    }
    for (m = cache.tail;
         m && (cache.n - over_n > cache.max_modules || cache.bytes - over_bytes > cache.max_bytes);
         m = prev) {
        prev = m->prev;
        if (!in_use(m))
            drop(m, true);
    }
}

static void grow(struct dw_module *m, size_t bytes)
{
    size_t before = m->bytes;

    m->bytes = add_clamped(m->bytes, bytes);
    cache.bytes += m->bytes - before;
}

/* Whether the file at `fd` still has the build-id the module was read
 * with, where it was. */
static bool same_build_id(const struct dw_module *m, int fd)
{
    unsigned char id[BUILD_ID_MAX];

    if (!m->build_id_len)
        return true;
    return pread_exact(fd, id, m->build_id_len, (uint64_t)m->build_id_off) &&
           !memcmp(id, m->build_id, m->build_id_len);
}

static struct dw_module *module_read(int fd, const struct file_key *key, const char *name)
{
    struct dw_module *m = NULL;
    struct estimate est;
    struct statfs sfs;
    struct stat st;
    GElf_Ehdr eh;
    Elf *elf;

    /* ELF_C_READ: pread what is asked for, never a mapping (dw.h). */
    elf = api.elf_begin(fd, ELF_C_READ, NULL);
    if (!elf || api.elf_kind(elf) != ELF_K_ELF || !api.gelf_getehdr(elf, &eh) ||
        (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || !(m = calloc(1, sizeof(*m))) ||
        !(m->name = strdup(name))) {
        free(m);
        if (elf)
            api.elf_end(elf);
        close(fd);
        return NULL;
    }
    m->fd = fd;
    m->elf = elf;
    m->key = *key;
    find_build_id(elf, fd, m->build_id, &m->build_id_len, &m->build_id_off);
    estimate(elf, fd, &est);
    m->bytes = est.bytes;
    /* A file in memory (a guest's scratch /tmp, /dev/shm) keeps its whole
     * filesystem alive as long as the module holds it open, even once its
     * sandbox is gone: counted as what that filesystem can hold (the file
     * itself where it reports no size). */
    if (fstatfs(fd, &sfs) == 0 && (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)) {
        uint64_t held = 0;
        if (sfs.f_bsize > 0 && (uint64_t)sfs.f_blocks <= UINT64_MAX / (uint64_t)sfs.f_bsize)
            held = (uint64_t)sfs.f_blocks * (uint64_t)sfs.f_bsize;
        if (!held && fstat(fd, &st) == 0 && st.st_blocks > 0)
            held = (uint64_t)st.st_blocks * 512;
        m->bytes = add_clamped(m->bytes, held ? held : MODULE_BYTES_MAX);
    }
    m->has_dwarf = est.has_dwarf;
    memcpy(m->alt_id, est.alt_id, est.alt_id_len);
    m->alt_id_len = est.alt_id_len;
    return m;
}

struct dw_module *dw_cache_module(int fd, const char *name, Elf **elf)
{
    _cleanup_close_ int cfd = fd;
    struct dw_module *m, *next;
    struct file_key key;
    struct stat st;

    *elf = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return NULL;
    key_of(&st, &key);
    for (m = cache.head; m; m = next) {
        next = m->next;
        if (m->key.dev != key.dev || m->key.ino != key.ino)
            continue;
        if (key_eq(&m->key, &key) && same_build_id(m, fd))
            break;
        /* The same inode, changed since it was read: that version of the
         * file is gone for good (its ctime cannot come back). */
        if (!in_use(m))
            drop(m, true);
    }
    if (m) {
        cache.hits++;
        unlink_module(m);
    } else {
        if (!(m = module_read(steal_fd(&cfd), &key, name)))
            return NULL;
        cache.misses++;
        cache.n++;
        cache.bytes += m->bytes;
        cache.changed = true;
    }
    push_front(m);
    m->used = cache.serial;
    trim();
    /* Another reference to the same handle (libelf counts them). */
    *elf = api.elf_begin(-1, ELF_C_READ, m->elf);
    return *elf ? m : NULL;
}

/* ---- names -------------------------------------------------------------- */

static char *no_debuginfo_path;

static int module_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                           char **file_name, Elf **elfp)
{
    struct dw_module *m = *userdata;

    (void)mod;
    (void)modname;
    (void)base;
    (void)file_name;
    *elfp = m ? api.elf_begin(-1, ELF_C_READ, m->elf) : NULL;
    return -1;
}

/*
 * A separate debug file (or a dwz file), by build-id, in the host's
 * /usr/lib/debug: checked to carry that build-id, and counted.
 */
static int open_debug(struct dw_module *m, const unsigned char *id, size_t len, bool alt,
                      char **path_out)
{
    struct strbuf path = STRBUF_INIT;
    _cleanup_close_ int fd = -1;
    unsigned char got[BUILD_ID_MAX];
    size_t got_len = 0;
    off_t where;
    struct estimate est;
    struct stat st;
    Elf *elf;
    bool ok;

    if (len < 2)
        return -1;
    strbuf_addf(&path, DEBUG_ID_DIR "%02x/", id[0]);
    for (size_t i = 1; i < len; i++)
        strbuf_addf(&path, "%02x", id[i]);
    strbuf_addstr(&path, ".debug");
    if (strbuf_failed(&path)) {
        strbuf_release(&path);
        return -1;
    }
    fd = open(path.buf, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        !(elf = api.elf_begin(fd, ELF_C_READ, NULL))) {
        strbuf_release(&path);
        return -1;
    }
    ok = api.elf_kind(elf) == ELF_K_ELF && find_build_id(elf, fd, got, &got_len, &where) &&
         got_len == len && !memcmp(got, id, len);
    if (ok) {
        estimate(elf, fd, &est);
        grow(m, est.bytes);
        if (!alt) {
            memcpy(m->alt_id, est.alt_id, est.alt_id_len);
            m->alt_id_len = est.alt_id_len;
        }
    }
    api.elf_end(elf);
    if (!ok) {
        strbuf_release(&path);
        return -1;
    }
    *path_out = strbuf_detach(&path, NULL);
    return steal_fd(&fd);
}

/* libdwfl asks for the module's debug file, and then, when its DWARF
 * refers to a dwz file, for that one (.gnu_debugaltlink). */
static int module_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                                 GElf_Addr base, const char *file_name, const char *debuglink,
                                 GElf_Word crc, char **debuginfo_file_name)
{
    struct dw_module *m = *userdata;
    int fd;

    (void)mod;
    (void)modname;
    (void)base;
    (void)file_name;
    (void)debuglink;
    (void)crc;
    if (!m)
        return -1;
    if (m->has_dwarf || m->debug_given)
        return m->alt_id_len ? open_debug(m, m->alt_id, m->alt_id_len, true, debuginfo_file_name)
                             : -1;
    if (!m->build_id_len)
        return -1;
    fd = open_debug(m, m->build_id, m->build_id_len, false, debuginfo_file_name);
    m->debug_given = fd >= 0;
    return fd;
}

static const Dwfl_Callbacks module_callbacks = {
    .find_elf = module_find_elf,
    .find_debuginfo = module_find_debuginfo,
    .debuginfo_path = &no_debuginfo_path,
};

/* The module's own Dwfl, the file reported at its link-time addresses:
 * from the first loadable segment's aligned start, as libdwfl computes a
 * module's bias, to the end of the last. */
static bool module_open_dwfl(struct dw_module *m)
{
    Dwarf_Addr low = 0, high = 0;
    bool found = false;
    size_t phnum;
    void **ud;

    if (m->dwfl_failed)
        return false;
    m->dwfl_failed = true;
    if (api.elf_getphdrnum(m->elf, &phnum) != 0)
        return false;
    for (size_t i = 0; i < phnum && i < PHDRS_MAX; i++) {
        GElf_Phdr mem, *ph = api.gelf_getphdr(m->elf, (int)i, &mem);
        if (!ph || ph->p_type != PT_LOAD)
            continue;
        if (ph->p_memsz > UINT64_MAX - ph->p_vaddr)
            return false;
        if (!found)
            low = ph->p_vaddr & -ph->p_align;
        found = true;
        if (ph->p_vaddr + ph->p_memsz > high)
            high = ph->p_vaddr + ph->p_memsz;
    }
    if (!found || high <= low || !(m->dwfl = api.dwfl_begin(&module_callbacks)))
        return false;
    api.dwfl_report_begin(m->dwfl);
    m->mod = api.dwfl_report_module(m->dwfl, m->name, low, high);
    if (m->mod) {
        api.dwfl_module_info(m->mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
        *ud = m;
    }
    api.dwfl_report_end(m->dwfl, NULL, NULL);
    if (!m->mod || !api.dwfl_module_getelf(m->mod, &m->bias)) {
        api.dwfl_end(m->dwfl);
        m->dwfl = NULL;
        m->mod = NULL;
        return false;
    }
    m->low = low;
    m->high = high;
    m->dwfl_failed = false;
    return true;
}

bool dw_module_symbol(struct dw_module *m, uint64_t vaddr, struct dw_symbol *out)
{
    struct memo *slot = &m->memo[(vaddr * 0x9e3779b97f4a7c15ULL) >> (64 - MEMO_BITS)];
    GElf_Off off = 0;
    GElf_Sym sym;
    Dwfl_Line *line;
    const char *src;
    Dwarf_Addr addr;
    int lineno = 0;

    memset(out, 0, sizeof(*out));
    if (slot->valid && slot->vaddr == vaddr) {
        *out = slot->sym;
        return true;
    }
    if (!m->dwfl && !module_open_dwfl(m))
        return false;
    addr = vaddr + m->bias; /* modular, as libdwfl's biases are */
    if (addr < m->low || addr >= m->high)
        return false;
    out->function = api.dwfl_module_addrinfo(m->mod, addr, &off, &sym, NULL, NULL, NULL);
    out->offset = off;
    line = api.dwfl_module_getsrc(m->mod, addr);
    if (line && (src = api.dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL))) {
        out->file = src;
        out->line = lineno;
    }
    slot->vaddr = vaddr;
    slot->sym = *out;
    slot->valid = true;
    /* Its debug information may just have been counted: others may have
     * to go. */
    trim();
    return true;
}

/* ---- analyses ----------------------------------------------------------- */

const struct dw_api *dw_analysis_begin(const char **why)
{
    const struct dw_api *dw = dw_load(why);

    if (dw) {
        pthread_mutex_lock(&cache.lock);
        cache.changed = false;
    }
    return dw;
}

bool dw_analysis_end(void)
{
    struct dw_module *m, *next;
    bool changed;

    /* A file rewritten while it was being read may have given a mix of
     * two versions: not kept. */
    for (m = cache.head; m; m = next) {
        struct file_key key;
        struct stat st;

        next = m->next;
        if (!in_use(m))
            continue;
        if (fstat(m->fd, &st) == 0)
            key_of(&st, &key);
        else
            memset(&key, 0, sizeof(key));
        if (!key_eq(&key, &m->key)) {
            m->used = 0;
            drop(m, true);
        }
    }
    cache.serial++;
    trim();
    changed = cache.changed;
    pthread_mutex_unlock(&cache.lock);
    return changed;
}

void dw_cache_stats(struct dw_cache_stats *st)
{
    pthread_mutex_lock(&cache.lock);
    st->modules = cache.n;
    st->bytes = cache.bytes;
    st->max_modules = cache.max_modules;
    st->max_bytes = cache.max_bytes;
    st->hits = cache.hits;
    st->misses = cache.misses;
    st->evictions = cache.evictions;
    pthread_mutex_unlock(&cache.lock);
}

void dw_cache_set_limits(size_t modules, size_t bytes)
{
    pthread_mutex_lock(&cache.lock);
    cache.max_modules = modules ? modules : DW_CACHE_MODULES;
    cache.max_bytes = bytes ? bytes : DW_CACHE_BYTES;
    trim();
    pthread_mutex_unlock(&cache.lock);
}

void dw_cache_clear(void)
{
    pthread_mutex_lock(&cache.lock);
    while (cache.head)
        drop(cache.head, false);
    pthread_mutex_unlock(&cache.lock);
}
