/* SPDX-License-Identifier: MIT */
/*
 * dw.h: elfutils' libdwfl, loaded on first use, and the module files it has
 * read, kept across crashes.
 *
 * Symbolising a backtrace needs libdw, a large library; linking it makes
 * every sandboxvm process start slower (about 0.1 ms, 2% of a sandbox's
 * start), to serve only the runs that crash. So it is opened with dlopen()
 * the first time a crash is analysed. When it is missing, crashes are still
 * reported with registers, instruction bytes and mappings, without names.
 *
 * Reading a module's debug information is what a symbolised backtrace
 * costs (the C library's is compressed DWARF, inflated in full when libdw
 * opens it). A process that outlives one guest (a runner of many guests, a
 * live sandbox) sees the same files crash again, at other addresses (ASLR),
 * so what was read is kept per FILE, in a process-wide cache of modules:
 *
 *  - The key is the file itself, never its path: device, inode, size,
 *    mtime and ctime of the descriptor opened through the guest's view,
 *    and its GNU build-id when it has one (read again from the new
 *    descriptor at the note's offset on every hit). Two guests can show
 *    different files at one path (--rootfs trees, --ro mounts), and a guest
 *    can rewrite a file it may write between two crashes: a rewrite changes
 *    the ctime, which no unprivileged process can set back.
 *  - Each module keeps its ELF handle (read with pread, never mapped: a
 *    guest could truncate a file it may write under a mapping, and the
 *    host would take the SIGBUS) and, once asked for names, a Dwfl of its
 *    own in which the file is reported at its link-time addresses, with
 *    its debug information loaded once. A crash's own Dwfl (the crash's
 *    addresses, for unwinding) is given new references to the same ELF
 *    handles, so the headers and .eh_frame of a file are read once too.
 *  - Separate debug files are found by build-id under /usr/lib/debug only
 *    (the host's system directory, content-addressed and checked against
 *    the build-id), never by a path the guest named, and never through
 *    debuginfod: a guest chooses the build-ids it carries.
 *  - Bounded: at most DW_CACHE_MODULES modules and, roughly, DW_CACHE_BYTES
 *    of what they hold (the decompressed debug sections, symbol and string
 *    tables, .eh_frame, as their headers announce them; a file in memory,
 *    such as one in a guest's scratch /tmp, as the size of its whole
 *    filesystem, which holding it open keeps), least recently used evicted
 *    first. The modules of
 *    the crash being analysed are kept until its analysis ends, over the
 *    caps if they must be; a module that alone exceeds the byte cap serves
 *    its crash and is dropped. Each module holds its file open (and libdw
 *    its debug file): an unmount of a filesystem holding one is refused
 *    (EBUSY) until it is evicted.
 *
 * Threads: libdw's objects are not safe to share between threads, and the
 * cache shares them between crashes, so a whole symbolised analysis runs
 * under one process-wide lock (dw_analysis_begin .. dw_analysis_end);
 * analyses without symbols never take it.
 */
#ifndef SBVM_FORENSICS_DW_H
#define SBVM_FORENSICS_DW_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_FUNCS(X)                                                                                \
    X(dwfl_begin)                                                                                  \
    X(dwfl_end)                                                                                    \
    X(dwfl_errmsg)                                                                                 \
    X(dwfl_report_begin)                                                                           \
    X(dwfl_report_end)                                                                             \
    X(dwfl_report_module)                                                                          \
    X(dwfl_linux_proc_maps_report)                                                                 \
    X(dwfl_attach_state)                                                                           \
    X(dwfl_getthread_frames)                                                                       \
    X(dwfl_frame_pc)                                                                               \
    X(dwfl_frame_thread)                                                                           \
    X(dwfl_thread_dwfl)                                                                            \
    X(dwfl_thread_state_registers)                                                                 \
    X(dwfl_addrmodule)                                                                             \
    X(dwfl_module_info)                                                                            \
    X(dwfl_module_getelf)                                                                          \
    X(dwfl_module_addrinfo)                                                                        \
    X(dwfl_module_getsrc)                                                                          \
    X(dwfl_lineinfo)                                                                               \
    X(elf_version)                                                                                 \
    X(elf_begin)                                                                                   \
    X(elf_end)                                                                                     \
    X(elf_kind)                                                                                    \
    X(elf_getphdrnum)                                                                              \
    X(elf_getshdrstrndx)                                                                           \
    X(elf_nextscn)                                                                                 \
    X(elf_strptr)                                                                                  \
    X(gelf_getclass)                                                                               \
    X(gelf_getehdr)                                                                                \
    X(gelf_getphdr)                                                                                \
    X(gelf_getshdr)

struct dw_api {
#define DW_FIELD(f) __typeof__(f) *f;
    DW_FUNCS(DW_FIELD)
#undef DW_FIELD
};

/* The loaded library, or NULL with *why saying what failed (static). */
const struct dw_api *dw_load(const char **why);

/* ---- the module cache --------------------------------------------------- */

#define DW_CACHE_MODULES 32
#define DW_CACHE_BYTES   (128u << 20)

struct dw_module;

/*
 * Starts a symbolised analysis: loads libdw (NULL, with *why, when it
 * cannot be had) and takes the cache's lock, which everything below needs
 * until dw_analysis_end(). The modules handed out during the analysis stay
 * in the cache until its end.
 */
const struct dw_api *dw_analysis_begin(const char **why);
/* Ends it: checks that the files used are unchanged (a module whose file
 * changed during the analysis is dropped), trims the cache to its caps and
 * drops the lock. True when modules were read or dropped (memory worth
 * giving back to the system). */
bool dw_analysis_end(void);

/*
 * The module of the regular file open at `fd` (taken, whatever happens),
 * found in the cache or read now; `name` is the path the guest knew it by.
 * On success *elf is a new reference to its ELF handle, for the caller's
 * Dwfl (which releases it with elf_end). NULL when the file is not an ELF
 * executable or shared object.
 */
struct dw_module *dw_cache_module(int fd, const char *name, Elf **elf);

/* What the module's symbols and debug information say about an address
 * in the file's own (link-time) terms. The strings belong to the cache:
 * copy them before dw_analysis_end(). */
struct dw_symbol {
    const char *function; /* NULL when no symbol covers it */
    uint64_t offset;      /* from the function's start */
    const char *file;     /* NULL without line information */
    int line;
};
bool dw_module_symbol(struct dw_module *m, uint64_t vaddr, struct dw_symbol *out);

/* What the cache holds and has done, for tests and benchmarks. */
struct dw_cache_stats {
    size_t modules, bytes;            /* now */
    size_t max_modules, max_bytes;    /* the caps */
    uint64_t hits, misses, evictions; /* since the process started */
};
void dw_cache_stats(struct dw_cache_stats *st);
/* Other caps (0: the default); trims at once. For tests. */
void dw_cache_set_limits(size_t modules, size_t bytes);
/* Drops every module (the counters stay). */
void dw_cache_clear(void);

#endif
