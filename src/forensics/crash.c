/* SPDX-License-Identifier: MIT */
/*
 * crash.c: a captured crash, reassembled from the init's records, analysed
 * and symbolised. Unwinding runs libdwfl over the stack snapshot the init
 * took, with the ELF files the guest had mapped opened from the host's side
 * of the view (only those the view shares with the host); the files, and
 * the names they give, come from the module cache (dw.h), which keeps what
 * it read for the next crash.
 */
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <signal.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/result.h"
#include "forensics/dw.h"
#include "forensics/forensics.h"
#include "policy/seccomp.h"
#include "policy/fsplan.h"
#include "util/range.h"
#include "util/strbuf.h"
#include "util/util.h"

#define MAPPINGS_MAX 4096

const char *const crash_register_names[PROC_NREGS] = {
    "r15",    "r14", "r13", "r12",     "rbp",     "rbx", "r11",      "r10", "r9",
    "r8",     "rax", "rcx", "rdx",     "rsi",     "rdi", "orig_rax", "rip", "cs",
    "eflags", "rsp", "ss",  "fs_base", "gs_base", "ds",  "es",       "fs",  "gs",
};

/* Control characters become '?': a name or path the guest chose (a thread
 * name, a symbol from a crafted binary) cannot put a line break or a
 * terminal escape into a message built from it. */
static void no_controls(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

struct sbvm_crash *crash_new(const struct proc_fault *f)
{
    struct sbvm_crash *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->raw = *f;
    memcpy(c->comm, f->comm, sizeof(f->comm));
    c->comm[16] = '\0';
    no_controls(c->comm);
    c->raw.code_len = f->code_len > sizeof(f->code_bytes) ? 0 : f->code_len;
    c->raw.stack_len = f->stack_len > PROC_STACK_MAX ? 0 : f->stack_len;
    c->raw.maps_len = f->maps_len > PROC_MAPS_MAX ? 0 : f->maps_len;
    if (c->raw.maps_len && !(c->maps = malloc(c->raw.maps_len)))
        c->raw.maps_len = 0;
    if (c->raw.stack_len && !(c->stack = malloc(c->raw.stack_len)))
        c->raw.stack_len = 0;
    return c;
}

void crash_free(struct sbvm_crash *c)
{
    if (!c)
        return;
    free(c->maps);
    free(c->stack);
    free(c->mappings);
    strv_release(&c->strings);
    free(c->summary);
    free(c->unwind_error);
    free(c);
}

bool crash_add_chunk(struct sbvm_crash *c, const struct proc_chunk *h, const void *data)
{
    unsigned char *dst;
    size_t *got, cap;

    if (h->which == CHUNK_MAPS) {
        dst = (unsigned char *)c->maps;
        got = &c->maps_got;
        cap = c->raw.maps_len;
    } else if (h->which == CHUNK_STACK) {
        dst = c->stack;
        got = &c->stack_got;
        cap = c->raw.stack_len;
    } else {
        return false;
    }
    /* Chunks arrive in order on one socket; anything else is malformed. */
    if (!dst || h->offset != *got || !range_ok(h->offset, h->len, cap))
        return false;
    memcpy(dst + h->offset, data, h->len);
    *got += h->len;
    return true;
}

/* ---- unwinding ---------------------------------------------------------- */

struct unwind {
    struct sbvm_crash *c;
    crash_open_fn open_module;
    void *actx;
    bool truncated; /* stopped at CRASH_FRAMES_MAX */
};

/* libdwfl's find_elf callback has no user pointer; the analysis of one
 * crash runs on one thread, so a thread-local carries its context. */
static __thread struct unwind *current;

static bool path_plausible(const char *path)
{
    return path && path[0] == '/' && !strstr(path, "/../") && !strstr(path, "/./") &&
           !strstr(path, " (deleted)");
}

/*
 * Opens a module's file for libdwfl, but only the file the guest's path
 * named in its own view, as the backend finds it (a mount's source, the
 * --rootfs tree, a system directory the view shares, a program file the
 * host vetted). Anything else (the guest's own /tmp, files it made up) is
 * never opened: the host's file of that name is another. The file then
 * goes through the module cache (dw.h), keyed by what the descriptor is,
 * never by its path.
 */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
    int fd;

    (void)mod;
    (void)base;
    (void)file_name;
    *elfp = NULL;
    if (!path_plausible(modname))
        return -1;
    if (current && current->open_module)
        fd = current->open_module(modname, current->actx);
    else if (fsplan_path_visible(modname))
        fd = open(modname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    else
        fd = -1;
    if (fd < 0)
        return -1;
    /* The module, and a reference to its ELF handle for this Dwfl. */
    *userdata = dw_cache_module(fd, modname, elfp);
    return -1;
}

/*
 * Unwinding reads .eh_frame, which every module has in its own file; the
 * debug files are read by the cache's own Dwfl of each module, once, not
 * by every crash's. (A pc that .eh_frame does not cover falls back to a
 * file's own .debug_frame, then to the frame pointer.)
 */
static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
                        const char *file_name, const char *debuglink, GElf_Word crc,
                        char **debuginfo_file_name)
{
    (void)mod;
    (void)userdata;
    (void)modname;
    (void)base;
    (void)file_name;
    (void)debuglink;
    (void)crc;
    (void)debuginfo_file_name;
    return -1;
}

static char *no_debuginfo_path;

/* The loaded library; set by unwind() before any callback can run. */
static const struct dw_api *dw;

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
    struct sbvm_crash *c = arg;

    (void)dwfl;
    if (*thread_argp)
        return 0;
    *thread_argp = c;
    return c->raw.tid > 0 ? c->raw.tid : 1;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
    struct sbvm_crash *c = arg;
    uint64_t off;

    (void)dwfl;
    if (addr < c->raw.stack_start)
        return false;
    off = addr - c->raw.stack_start;
    if (off > c->stack_got || c->stack_got - off < sizeof(*result))
        return false;
    memcpy(result, c->stack + off, sizeof(*result));
    return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
    struct sbvm_crash *c = arg;
    const uint64_t *r = c->raw.regs;
    /* DWARF numbering for x86_64: rax rdx rcx rbx rsi rdi rbp rsp r8-r15,
     * then the return address column, which holds the pc. */
    Dwarf_Word d[17] = { r[10], r[12], r[11], r[5], r[13], r[14], r[4], r[19], r[9],
                         r[8],  r[7],  r[6],  r[3], r[2],  r[1],  r[0], r[16] };

    return dw->dwfl_thread_state_registers(thread, 0, 17, d);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = next_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
};

/* Keeps a string from the guest's files (a symbol, a source file name),
 * without control characters. */
static const char *keep(struct sbvm_crash *c, const char *s)
{
    char *k;

    if (!s || strv_push(&c->strings, s) < 0)
        return NULL;
    k = c->strings.v[c->strings.n - 1];
    no_controls(k);
    return k;
}

/* The frame's module from the crash's Dwfl (this guest's addresses); its
 * names from the module's file in the cache, at the link-time address. */
static void describe_frame(Dwfl *dwfl, struct sbvm_crash *c, Dwarf_Addr pc)
{
    struct sbvm_frame *f = &c->frames[c->nframes++];
    Dwfl_Module *mod = dw->dwfl_addrmodule(dwfl, pc);
    Dwarf_Addr start = 0, bias = 0;
    struct dw_symbol sym;
    const char *mname;
    void **ud = NULL;

    memset(f, 0, sizeof(*f));
    f->pc = pc;
    if (!mod)
        return;
    mname = dw->dwfl_module_info(mod, &ud, &start, NULL, NULL, NULL, NULL, NULL);
    f->module = keep(c, mname);
    f->module_offset = pc - start;
    /* Opens the file (find_elf) if unwinding has not needed it yet. */
    /* The bias is modular: a module loaded below its link-time address
     * has one that wraps, and so does the subtraction. */
    if (!dw->dwfl_module_getelf(mod, &bias) || !ud || !*ud ||
        !dw_module_symbol(*ud, pc - bias, &sym))
        return;
    if (sym.function) {
        f->function = keep(c, sym.function);
        f->function_offset = sym.offset;
    }
    if (sym.file) {
        f->file = keep(c, sym.file);
        f->line = sym.line;
    }
}

static int frame_cb(Dwfl_Frame *state, void *arg)
{
    struct unwind *u = arg;
    Dwarf_Addr pc;
    bool activation;

    if (u->c->nframes >= CRASH_FRAMES_MAX) {
        u->truncated = true;
        return DWARF_CB_ABORT;
    }
    if (!dw->dwfl_frame_pc(state, &pc, &activation))
        return DWARF_CB_ABORT;
    /* A caller's pc is a return address: the call is the byte before. */
    describe_frame(dw->dwfl_thread_dwfl(dw->dwfl_frame_thread(state)), u->c,
                   activation ? pc : pc - 1);
    return DWARF_CB_OK;
}

static char *dw_message(const char *what)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb, "%s: %s", what, dw->dwfl_errmsg(-1));
    return strbuf_detach(&sb, NULL);
}

/* Under the cache's lock (dw.h): the crash's Dwfl shares the cache's ELF
 * handles, and the frames are named from the cache's modules. */
static void unwind_locked(struct sbvm_crash *c, struct unwind *u)
{
    Dwfl_Callbacks callbacks;
    pid_t tid = c->raw.tid > 0 ? c->raw.tid : 1;
    Dwfl *dwfl;
    FILE *maps;
    int r;

    memset(&callbacks, 0, sizeof(callbacks));
    callbacks.find_elf = find_elf;
    callbacks.find_debuginfo = no_debuginfo;
    callbacks.debuginfo_path = &no_debuginfo_path;
    dwfl = dw->dwfl_begin(&callbacks);
    if (!dwfl) {
        c->unwind_error = strdup(dw->dwfl_errmsg(-1));
        return;
    }
    maps = fmemopen(c->maps, c->maps_got, "r");
    dw->dwfl_report_begin(dwfl);
    r = maps ? dw->dwfl_linux_proc_maps_report(dwfl, maps) : -1;
    dw->dwfl_report_end(dwfl, NULL, NULL);
    if (maps)
        fclose(maps);
    if (r == 0 && dw->dwfl_attach_state(dwfl, NULL, tid, &thread_callbacks, c)) {
        r = dw->dwfl_getthread_frames(dwfl, tid, frame_cb, u);
        if (r != 0 && c->nframes <= 1)
            c->unwind_error = dw_message("unwinding stopped");
    } else {
        c->unwind_error = dw_message("cannot unwind");
    }
    if (u->truncated && !c->unwind_error) {
        struct strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb, "the backtrace is cut at %d frames", CRASH_FRAMES_MAX);
        c->unwind_error = strbuf_detach(&sb, NULL);
    }
    /* Whatever happened, frame 0 is the pc itself. */
    if (c->nframes == 0)
        describe_frame(dwfl, c, c->raw.regs[CRASH_REG_RIP]);
    dw->dwfl_end(dwfl);
}

static void unwind(struct sbvm_crash *c, crash_open_fn open_module, void *actx)
{
    struct unwind u = { c, open_module, actx, false };
    const struct dw_api *api;
    const char *why = NULL;
    bool changed;

    if (!c->maps_got) {
        c->unwind_error = strdup("no memory map was captured");
        return;
    }
    api = dw_analysis_begin(&why);
    if (!api) {
        c->unwind_error = strdup(why);
        return;
    }
    dw = api; /* under the lock, as everything that reads it */
    current = &u;
    unwind_locked(c, &u);
    current = NULL;
    changed = dw_analysis_end();
#ifdef __GLIBC__
    /* Reading a module's debug information (the C library's alone is tens
     * of MiB of DWARF) leaves the heap large and mostly free once what is
     * kept is kept: give it back, so that a supervisor of many guests does
     * not keep the peak of one crash. Nothing to give when the analysis
     * only used what the cache had. */
    if (changed)
        malloc_trim(0);
#else
    (void)changed;
#endif
}

static void make_summary(struct sbvm_crash *c)
{
    struct strbuf sb = STRBUF_INIT;
    int signo = c->raw.signo, code = c->raw.code;
    const struct sbvm_frame *f = c->nframes ? &c->frames[0] : NULL;

    strbuf_addf(&sb, "%s (%s: %s", signal_name(signo), siginfo_code_name(signo, code),
                siginfo_code_text(signo, code));
    if ((code == SI_USER || code == SI_TKILL || code == SI_QUEUE) && signo != SIGXFSZ &&
        signo != SIGXCPU)
        strbuf_addf(&sb, ", from pid %d", c->raw.sender_pid);
    strbuf_addch(&sb, ')');
    if (siginfo_has_address(signo, code))
        strbuf_addf(&sb, " at 0x%llx", (unsigned long long)c->raw.addr);
    strbuf_addf(&sb, ", pc 0x%llx", (unsigned long long)c->raw.regs[CRASH_REG_RIP]);
    if (f && f->function)
        strbuf_addf(&sb, " in %s+0x%llx", f->function, (unsigned long long)f->function_offset);
    if (f && f->file)
        strbuf_addf(&sb, " (%s:%d)", f->file, f->line);
    else if (c->pc_map && c->pc_map->path[0])
        strbuf_addf(&sb, " (%s+0x%llx)", c->pc_map->path,
                    (unsigned long long)(c->raw.regs[CRASH_REG_RIP] - c->pc_map->start +
                                         c->pc_map->offset));
    /* A kernel that refuses the i386 entry (IA-32 emulation off) answers
     * int 0x80 with a general protection fault at the instruction itself:
     * the call never ran, whatever the filter would have said. */
    if (signo == SIGSEGV && code == SI_KERNEL && c->raw.code_len >= 2 &&
        c->raw.code_bytes[0] == 0xcd && c->raw.code_bytes[1] == 0x80)
        strbuf_addstr(&sb, "; the instruction is int 0x80, a syscall through the i386 entry, "
                           "which this host's kernel refuses (IA-32 emulation is off)");
    /* SIGSYS of code SYS_SECCOMP reaches a crash report only from the
     * guest's own doing: the sandbox's filter kills are denials. */
    if (signo == SIGSYS && code == 1) {
        const char *name = c->raw.arch == AUDIT_ARCH_X86_64 && c->raw.syscall >= 0
                               ? seccomp_syscall_name(c->raw.syscall)
                               : NULL;
        if (name)
            strbuf_addf(&sb, "; killed by a seccomp filter of the guest's own at %s", name);
        else
            strbuf_addf(&sb, "; killed by a seccomp filter of the guest's own at syscall %d",
                        c->raw.syscall);
    }
    c->summary = strbuf_detach(&sb, NULL);
}

void crash_analyse(struct sbvm_crash *c, bool symbolize, crash_open_fn open_module, void *ctx)
{
    c->mappings = calloc(MAPPINGS_MAX, sizeof(*c->mappings));
    if (c->mappings && c->maps_got)
        c->nmappings = maps_parse(c->maps, c->maps_got, c->mappings, MAPPINGS_MAX, &c->strings);
    if (c->mappings && c->nmappings < MAPPINGS_MAX) {
        /* Keep what the map holds (a result lives as long as its caller
         * wants), not room for the most any map could hold. */
        struct sbvm_mapping *m =
            realloc(c->mappings, (c->nmappings ? c->nmappings : 1) * sizeof(*c->mappings));
        if (m)
            c->mappings = m;
    }
    c->pc_map = maps_find(c->mappings, c->nmappings, c->raw.regs[CRASH_REG_RIP]);
    if (siginfo_has_address(c->raw.signo, c->raw.code))
        c->addr_map = maps_find(c->mappings, c->nmappings, c->raw.addr);
    if (symbolize)
        unwind(c, open_module, ctx);
    make_summary(c);
    /* The raw map and stack have been read into what the result says. */
    free(c->maps);
    free(c->stack);
    c->maps = NULL;
    c->stack = NULL;
    c->maps_got = c->stack_got = 0;
}

/* ---- public accessors --------------------------------------------------- */

SBVM_API int sbvm_crash_pid(const sbvm_crash *c)
{
    return c->raw.pid;
}

SBVM_API int sbvm_crash_tid(const sbvm_crash *c)
{
    return c->raw.tid;
}

SBVM_API const char *sbvm_crash_thread_name(const sbvm_crash *c)
{
    return c->comm;
}

SBVM_API int sbvm_crash_is_guest(const sbvm_crash *c)
{
    return c->is_guest;
}

SBVM_API int sbvm_crash_signal(const sbvm_crash *c)
{
    return c->raw.signo;
}

SBVM_API int sbvm_crash_code(const sbvm_crash *c)
{
    return c->raw.code;
}

SBVM_API const char *sbvm_crash_code_name(const sbvm_crash *c)
{
    return siginfo_code_name(c->raw.signo, c->raw.code);
}

SBVM_API const char *sbvm_crash_code_text(const sbvm_crash *c)
{
    return siginfo_code_text(c->raw.signo, c->raw.code);
}

SBVM_API uint64_t sbvm_crash_address(const sbvm_crash *c, int *has)
{
    bool h = siginfo_has_address(c->raw.signo, c->raw.code);

    if (has)
        *has = h;
    return h ? c->raw.addr : 0;
}

SBVM_API uint64_t sbvm_crash_pc(const sbvm_crash *c)
{
    return c->raw.regs[CRASH_REG_RIP];
}

SBVM_API size_t sbvm_crash_registers(const sbvm_crash *c, const char *const **names,
                                     const uint64_t **values)
{
    if (names)
        *names = crash_register_names;
    if (values)
        *values = c->raw.regs;
    return PROC_NREGS;
}

SBVM_API size_t sbvm_crash_instruction(const sbvm_crash *c, const uint8_t **bytes)
{
    if (bytes)
        *bytes = c->raw.code_bytes;
    return c->raw.code_len;
}

SBVM_API const struct sbvm_mapping *sbvm_crash_pc_mapping(const sbvm_crash *c)
{
    return c->pc_map;
}

SBVM_API const struct sbvm_mapping *sbvm_crash_address_mapping(const sbvm_crash *c)
{
    return c->addr_map;
}

SBVM_API size_t sbvm_crash_frame_count(const sbvm_crash *c)
{
    return c->nframes;
}

SBVM_API const struct sbvm_frame *sbvm_crash_frame(const sbvm_crash *c, size_t i)
{
    return i < c->nframes ? &c->frames[i] : NULL;
}

SBVM_API const char *sbvm_crash_summary(const sbvm_crash *c)
{
    return c->summary ? c->summary : signal_name(c->raw.signo);
}

SBVM_API const char *sbvm_crash_unwind_error(const sbvm_crash *c)
{
    return c->unwind_error;
}
