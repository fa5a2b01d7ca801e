/* SPDX-License-Identifier: MIT */
/* elfdyn.c: a program's DT_NEEDED and DT_RUNPATH / DT_RPATH, read with care. */
#include "policy/elfdyn.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/range.h"

void elfdyn_release(struct elf_dyn *d)
{
    free(d->runpath);
    d->runpath = NULL;
    strv_release(&d->needed);
}

static bool read_exact(elfdyn_read_fn rd, void *ctx, uint64_t size, void *buf, size_t len,
                       uint64_t off)
{
    return range_ok(off, len, size) && rd(ctx, buf, len, off) == (ssize_t)len;
}

/* The file offset of virtual address v, through the PT_LOAD segments. */
static bool vaddr_to_off(const Elf64_Phdr *ph, size_t n, uint64_t v, uint64_t *off)
{
    for (size_t i = 0; i < n; i++) {
        if (ph[i].p_type != PT_LOAD || v < ph[i].p_vaddr || v - ph[i].p_vaddr >= ph[i].p_filesz)
            continue;
        if (ph[i].p_offset > UINT64_MAX - (v - ph[i].p_vaddr))
            return false;
        *off = ph[i].p_offset + (v - ph[i].p_vaddr);
        return true;
    }
    return false;
}

/* The NUL-terminated string at off of the string table, or NULL. */
static const char *str_at(const char *tab, size_t len, uint64_t off)
{
    if (off >= len || !memchr(tab + off, '\0', len - off))
        return NULL;
    return tab + off;
}

int elfdyn_read(elfdyn_read_fn rd, void *ctx, uint64_t size, struct elf_dyn *out)
{
    Elf64_Ehdr eh;
    _cleanup_free_ Elf64_Phdr *ph = NULL;
    _cleanup_free_ Elf64_Dyn *dyn = NULL;
    _cleanup_free_ char *tab = NULL;
    uint64_t strtab = 0, strsz = 0, tab_off, runpath = UINT64_MAX, rpath = UINT64_MAX;
    uint64_t needed[ELFDYN_NEEDED_MAX];
    size_t nneeded = 0, ndyn = 0;
    bool have_strtab = false, have_dynamic = false;
    const char *s;

    memset(out, 0, sizeof(*out));
    if (!read_exact(rd, ctx, size, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return -ENOEXEC;
    if (eh.e_phnum == 0)
        return 0;
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > ELFDYN_PHDRS_MAX)
        return -ENOEXEC;
    ph = calloc(eh.e_phnum, sizeof(*ph));
    if (!ph)
        return -ENOMEM;
    if (!read_exact(rd, ctx, size, ph, eh.e_phnum * sizeof(*ph), eh.e_phoff))
        return -ENOEXEC;
    for (size_t i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type != PT_DYNAMIC)
            continue;
        if (have_dynamic || ph[i].p_filesz > ELFDYN_DYNAMIC_MAX ||
            ph[i].p_filesz % sizeof(Elf64_Dyn))
            return -ENOEXEC;
        have_dynamic = true;
        ndyn = ph[i].p_filesz / sizeof(Elf64_Dyn);
        dyn = calloc(ndyn ? ndyn : 1, sizeof(*dyn));
        if (!dyn)
            return -ENOMEM;
        if (!read_exact(rd, ctx, size, dyn, ndyn * sizeof(*dyn), ph[i].p_offset))
            return -ENOEXEC;
    }
    if (!have_dynamic)
        return 0; /* static */
    for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
        switch (dyn[i].d_tag) {
        case DT_STRTAB:
            strtab = dyn[i].d_un.d_ptr;
            have_strtab = true;
            break;
        case DT_STRSZ:
            strsz = dyn[i].d_un.d_val;
            break;
        case DT_RUNPATH:
            runpath = dyn[i].d_un.d_val;
            break;
        case DT_RPATH:
            rpath = dyn[i].d_un.d_val;
            break;
        case DT_NEEDED:
            if (nneeded == ELFDYN_NEEDED_MAX)
                return -ENOEXEC;
            needed[nneeded++] = dyn[i].d_un.d_val;
            break;
        default:
            break;
        }
    }
    if (!nneeded && runpath == UINT64_MAX && rpath == UINT64_MAX)
        return 0;
    if (!have_strtab || strsz == 0 || strsz > ELFDYN_STRTAB_MAX ||
        !vaddr_to_off(ph, eh.e_phnum, strtab, &tab_off))
        return -ENOEXEC;
    tab = malloc(strsz);
    if (!tab)
        return -ENOMEM;
    if (!read_exact(rd, ctx, size, tab, strsz, tab_off))
        return -ENOEXEC;
    /* The loader ignores DT_RPATH when DT_RUNPATH is there. */
    if (runpath != UINT64_MAX || rpath != UINT64_MAX) {
        s = str_at(tab, strsz, runpath != UINT64_MAX ? runpath : rpath);
        if (!s)
            return -ENOEXEC;
        out->is_rpath = runpath == UINT64_MAX;
        out->runpath = strdup(s);
        if (!out->runpath)
            return -ENOMEM;
    }
    for (size_t i = 0; i < nneeded; i++) {
        s = str_at(tab, strsz, needed[i]);
        if (!s) {
            elfdyn_release(out);
            return -ENOEXEC;
        }
        if (strv_push(&out->needed, s) < 0) {
            elfdyn_release(out);
            return -ENOMEM;
        }
    }
    return 0;
}
