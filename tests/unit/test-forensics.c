/* SPDX-License-Identifier: MIT */
/*
 * test-forensics.c: one guest per way of dying (tests/guests/crasher.c), each
 * checked for the right outcome and crash details; the module cache that
 * keeps what symbolisation read (forensics/dw.h): the same names again,
 * files told apart by what they are, not where; its caps; then a soak of
 * crashing guests that must leave the host process as it was.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "forensics/dw.h"
#include "forensics/forensics.h"
#include "sandboxvm/sandboxvm.h"
#include "unit.h"

static char crasher_path[512];

static void crasher_init(void)
{
    snprintf(crasher_path, sizeof(crasher_path), "%s/crasher", unit_guest_dir());
}

static const char *crasher(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, crasher_init);
    return crasher_path;
}

enum addr_check {
    ADDR_NONE,    /* no fault address (or one that means nothing) */
    ADDR_ZERO,    /* 0 */
    ADDR_PRINTED, /* the guest printed it as "address 0x..." */
    ADDR_PC,      /* the pc itself */
    ADDR_ANY,     /* some address */
};

struct crash_case {
    const char *mode;
    int signal;
    const char *code; /* si_code name */
    enum addr_check addr;
    const char *function; /* a frame of the backtrace */
    const char *insn;     /* first bytes of the faulting instruction, or NULL */
    bool child;           /* the crash is in a child; the guest exits 0 */
    bool thread;          /* the crash is in a second thread */
    const char *message;  /* in the result message, or NULL */
};

static const struct crash_case cases[] = {
    { "null-read", SIGSEGV, "SEGV_MAPERR", ADDR_ZERO, "null_read", NULL, false, false, NULL },
    { "null-write", SIGSEGV, "SEGV_MAPERR", ADDR_ZERO, "null_write", NULL, false, false, NULL },
    { "wild-store", SIGSEGV, "SEGV_MAPERR", ADDR_PRINTED, "wild_store", NULL, false, false, NULL },
    { "text-store", SIGSEGV, "SEGV_ACCERR", ADDR_PRINTED, "text_store", NULL, false, false, NULL },
    { "nx-jump", SIGSEGV, "SEGV_ACCERR", ADDR_PC, "main", NULL, false, false, NULL },
    { "ud2", SIGILL, "ILL_ILLOPN", ADDR_PC, "ud2", "\x0f\x0b", false, false, NULL },
    { "hlt", SIGSEGV, "SI_KERNEL", ADDR_NONE, "hlt", "\xf4", false, false, NULL },
    { "stack-overflow", SIGSEGV, NULL, ADDR_ANY, "recurse", NULL, false, false, NULL },
    { "abort", SIGABRT, "SI_TKILL", ADDR_NONE, "do_abort", NULL, false, false, NULL },
    { "div-zero", SIGFPE, "FPE_INTDIV", ADDR_PC, "div_zero", "\xf7", false, false, NULL },
    { "sigbus", SIGBUS, "BUS_ADRERR", ADDR_PRINTED, "sigbus", NULL, false, false, NULL },
    { "thread", SIGSEGV, "SEGV_MAPERR", ADDR_ZERO, "thread_main", NULL, false, true, NULL },
    { "fork-child", SIGSEGV, "SEGV_MAPERR", ADDR_ZERO, "forked_child", NULL, true, false, NULL },
    { "double-free", SIGABRT, "SI_TKILL", ADDR_NONE, "double_free", NULL, false, false,
      "double free detected" },
};

static sbvm_result *run_mode(const char *mode, int symbolize)
{
    sbvm_config *cfg = sbvm_config_new();
    const char *argv[] = { crasher(), mode, NULL };
    sbvm_result *r = NULL;
    sbvm_error *err = NULL;

    ck_assert_int_eq(sbvm_config_set_argv(cfg, 2, argv, NULL), 0);
    sbvm_config_set_symbolize(cfg, symbolize);
    ck_assert_msg(sbvm_run(cfg, &r, &err) == 0, "sbvm_run: %s", sbvm_error_message(err));
    sbvm_config_free(cfg);
    return r;
}

/* The address the guest printed ("address 0x..."), from its stdout. */
static uint64_t printed_address(const sbvm_result *r)
{
    const char *out, *p;
    size_t len;

    sbvm_result_output(r, SBVM_STDOUT, &out, &len, NULL, NULL);
    p = out ? strstr(out, "address 0x") : NULL;
    ck_assert_msg(p != NULL, "the guest printed no address: %.*s", (int)len, out ? out : "");
    return strtoull(p + 8, NULL, 16);
}

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGILL:
        return "SIGILL";
    case SIGABRT:
        return "SIGABRT";
    case SIGFPE:
        return "SIGFPE";
    case SIGBUS:
        return "SIGBUS";
    default:
        return "?";
    }
}

static bool backtrace_has(const sbvm_crash *c, const char *fn)
{
    for (size_t i = 0; i < sbvm_crash_frame_count(c); i++) {
        const struct sbvm_frame *f = sbvm_crash_frame(c, i);
        if (f->function && !strcmp(f->function, fn))
            return true;
    }
    return false;
}

START_TEST(each_way_of_crashing_is_explained)
{
    const struct crash_case *k = &cases[_i];
    sbvm_result *r = run_mode(k->mode, 1);
    const sbvm_crash *c;
    const struct sbvm_frame *f0;
    const uint8_t *insn;
    const char *const *names;
    const uint64_t *regs;
    size_t nregs;
    uint64_t addr;
    int has;

    if (k->child) {
        /* The parent noticed and went on: the guest's own outcome is a
         * clean exit, and the child's crash is still on record. */
        ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_EXITED);
        ck_assert_int_eq(sbvm_result_exit_code(r), 0);
    } else {
        ck_assert_msg(sbvm_result_outcome(r) == SBVM_OUTCOME_CRASHED, "%s: outcome %s (%s)",
                      k->mode, sbvm_outcome_name(sbvm_result_outcome(r)), sbvm_result_message(r));
        ck_assert_int_eq(sbvm_result_signal(r), k->signal);
        ck_assert_int_eq(sbvm_result_exit_status(r), 128 + k->signal);
    }
    ck_assert_msg(sbvm_result_crash_count(r) == 1, "%s: %zu crashes recorded (%s)", k->mode,
                  sbvm_result_crash_count(r), sbvm_result_forensics_note(r));
    c = sbvm_result_crash(r, 0);
    ck_assert_int_eq(sbvm_crash_signal(c), k->signal);
    if (k->code)
        ck_assert_str_eq(sbvm_crash_code_name(c), k->code);
    ck_assert_ptr_nonnull(sbvm_crash_code_text(c));
    ck_assert_int_eq(sbvm_crash_is_guest(c), !k->child);
    if (k->thread)
        ck_assert_int_ne(sbvm_crash_tid(c), sbvm_crash_pid(c));
    else
        ck_assert_int_eq(sbvm_crash_tid(c), sbvm_crash_pid(c));

    addr = sbvm_crash_address(c, &has);
    switch (k->addr) {
    case ADDR_NONE:
        break;
    case ADDR_ZERO:
        ck_assert(has);
        ck_assert_uint_eq(addr, 0);
        ck_assert_ptr_null(sbvm_crash_address_mapping(c));
        break;
    case ADDR_PRINTED:
        ck_assert(has);
        ck_assert_uint_eq(addr, printed_address(r));
        break;
    case ADDR_PC:
        ck_assert(has);
        ck_assert_uint_eq(addr, sbvm_crash_pc(c));
        break;
    case ADDR_ANY:
        ck_assert(has);
        break;
    }
    if (!strcmp(k->mode, "wild-store"))
        ck_assert_ptr_null(sbvm_crash_address_mapping(c));
    if (!strcmp(k->mode, "text-store")) {
        /* The store hit the program's own code: an executable mapping. */
        ck_assert_ptr_nonnull(sbvm_crash_address_mapping(c));
        ck_assert_int_eq(sbvm_crash_address_mapping(c)->perms[2], 'x');
        ck_assert_ptr_nonnull(strstr(sbvm_crash_address_mapping(c)->path, "crasher"));
    }
    if (!strcmp(k->mode, "nx-jump")) {
        /* The pc is in writable, non-executable anonymous memory. */
        ck_assert_ptr_nonnull(sbvm_crash_pc_mapping(c));
        ck_assert_int_eq(sbvm_crash_pc_mapping(c)->perms[2], '-');
    } else {
        ck_assert_ptr_nonnull(sbvm_crash_pc_mapping(c));
        ck_assert_int_eq(sbvm_crash_pc_mapping(c)->perms[2], 'x');
    }
    if (!strcmp(k->mode, "sigbus")) {
        ck_assert_ptr_nonnull(sbvm_crash_address_mapping(c));
        ck_assert_ptr_nonnull(strstr(sbvm_crash_address_mapping(c)->path, "/tmp/crasher-"));
    }

    /* Registers: the pc among them, and the instruction at the pc. */
    nregs = sbvm_crash_registers(c, &names, &regs);
    ck_assert_uint_ge(nregs, 17);
    for (size_t i = 0; i < nregs; i++)
        if (!strcmp(names[i], "rip"))
            ck_assert_uint_eq(regs[i], sbvm_crash_pc(c));
    if (k->insn) {
        ck_assert_uint_ge(sbvm_crash_instruction(c, &insn), strlen(k->insn));
        ck_assert_mem_eq(insn, k->insn, strlen(k->insn));
    }

    /* A symbolised backtrace, with file:line from the fixture's debug info. */
    ck_assert_uint_ge(sbvm_crash_frame_count(c), 2);
    f0 = sbvm_crash_frame(c, 0);
    ck_assert_uint_eq(f0->pc, sbvm_crash_pc(c));
    ck_assert_msg(backtrace_has(c, k->function), "%s: no frame in %s (%s)", k->mode, k->function,
                  sbvm_crash_summary(c));
    for (size_t i = 0; i < sbvm_crash_frame_count(c); i++) {
        const struct sbvm_frame *f = sbvm_crash_frame(c, i);
        if (f->function && !strcmp(f->function, k->function)) {
            ck_assert_ptr_nonnull(f->file);
            ck_assert_ptr_nonnull(strstr(f->file, "crasher.c"));
            ck_assert_int_gt(f->line, 0);
        }
    }
    if (k->message)
        ck_assert_msg(strstr(sbvm_result_message(r), k->message), "%s: message '%s'", k->mode,
                      sbvm_result_message(r));
    /* The details for people name the signal and the function. */
    {
        char *d = sbvm_result_details(r, "");
        ck_assert_ptr_nonnull(strstr(d, sig_name(k->signal)));
        ck_assert_ptr_nonnull(strstr(d, k->function));
        free(d);
    }
    sbvm_result_free(r);

    /* The host is fine and the next guest runs clean. */
    {
        sbvm_config *cfg = sbvm_config_new();
        const char *argv[] = { "/bin/true", NULL };
        ck_assert_int_eq(sbvm_config_set_argv(cfg, 1, argv, NULL), 0);
        ck_assert_int_eq(sbvm_run(cfg, &r, NULL), 0);
        ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_EXITED);
        ck_assert_int_eq(sbvm_result_exit_code(r), 0);
        ck_assert_uint_eq(sbvm_result_crash_count(r), 0);
        sbvm_result_free(r);
        sbvm_config_free(cfg);
    }
}
END_TEST

START_TEST(without_symbols_the_raw_facts_remain)
{
    sbvm_result *r = run_mode("null-write", 0);
    const sbvm_crash *c;

    ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_CRASHED);
    ck_assert_uint_eq(sbvm_result_crash_count(r), 1);
    c = sbvm_result_crash(r, 0);
    ck_assert_str_eq(sbvm_crash_code_name(c), "SEGV_MAPERR");
    ck_assert_ptr_nonnull(sbvm_crash_pc_mapping(c));
    ck_assert_uint_gt(sbvm_crash_instruction(c, NULL), 0);
    /* No names: the frames hold addresses only. */
    for (size_t i = 0; i < sbvm_crash_frame_count(c); i++)
        ck_assert_ptr_null(sbvm_crash_frame(c, i)->function);
    sbvm_result_free(r);
}
END_TEST

/* ---- the module cache ------------------------------------------------------ */

static bool str_same(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static const sbvm_crash *only_crash(const sbvm_result *r)
{
    ck_assert_msg(sbvm_result_outcome(r) == SBVM_OUTCOME_CRASHED, "outcome %s (%s)",
                  sbvm_outcome_name(sbvm_result_outcome(r)), sbvm_result_message(r));
    ck_assert_uint_eq(sbvm_result_crash_count(r), 1);
    return sbvm_result_crash(r, 0);
}

START_TEST(the_second_crash_is_named_as_the_first)
{
    struct dw_cache_stats s0, s1, s2, s3;
    sbvm_result *r1, *r2;
    const sbvm_crash *a, *b;

    dw_cache_clear();
    dw_cache_stats(&s0);
    r1 = run_mode("abort", 1);
    dw_cache_stats(&s1);
    r2 = run_mode("abort", 1);
    dw_cache_stats(&s2);
    a = only_crash(r1);
    b = only_crash(r2);
    /* The first read the program and the C library; the second read
     * nothing and found both. */
    ck_assert_uint_ge(s1.misses - s0.misses, 2);
    ck_assert_uint_ge(s1.modules, 2);
    ck_assert_uint_eq(s2.misses, s1.misses);
    ck_assert_uint_ge(s2.hits - s1.hits, 2);
    ck_assert_uint_eq(s2.modules, s1.modules);
    /* At other addresses (ASLR), the same names, offsets and lines. */
    ck_assert_msg(backtrace_has(b, "do_abort") && backtrace_has(b, "abort"), "%s",
                  sbvm_crash_summary(b));
    ck_assert_uint_eq(sbvm_crash_frame_count(a), sbvm_crash_frame_count(b));
    for (size_t i = 0; i < sbvm_crash_frame_count(a); i++) {
        const struct sbvm_frame *x = sbvm_crash_frame(a, i), *y = sbvm_crash_frame(b, i);
        ck_assert_msg(str_same(x->function, y->function), "frame %zu: %s, then %s", i,
                      x->function ? x->function : "-", y->function ? y->function : "-");
        ck_assert_uint_eq(x->function_offset, y->function_offset);
        ck_assert(str_same(x->file, y->file));
        ck_assert_int_eq(x->line, y->line);
        ck_assert(str_same(x->module, y->module));
        ck_assert_uint_eq(x->module_offset, y->module_offset);
    }
    /* Without symbols, the cache is not even looked at. */
    sbvm_result_free(run_mode("abort", 0));
    dw_cache_stats(&s3);
    ck_assert_uint_eq(s3.hits, s2.hits);
    ck_assert_uint_eq(s3.misses, s2.misses);
    sbvm_result_free(r1);
    sbvm_result_free(r2);
}
END_TEST

/* A copy of the crasher at `path`; renamed, every "null_write" in it (the
 * symbol and the debug information's name) becomes "nulL_write": the same
 * size, the same build-id, other names. */
static void copy_crasher(const char *path, bool renamed)
{
    FILE *f = fopen(crasher(), "r");
    unsigned char *data;
    long len;

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    ck_assert_int_gt(len, 0);
    rewind(f);
    data = malloc((size_t)len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(fread(data, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    if (renamed) {
        int n = 0;
        for (long i = 0; i + 10 <= len; i++)
            if (!memcmp(data + i, "null_write", 10)) {
                data[i + 3] = 'L';
                n++;
            }
        ck_assert_int_gt(n, 0);
    }
    unit_write_file(path, data, (size_t)len, 0755);
    free(data);
}

/*
 * A directory for programs run from their host path (bound there in the
 * default view), readable by the guest. Not under /tmp: there the guest's
 * own scratch is, and a crash's module under /tmp is looked for in it
 * (backend/process/process.c), not in the program's bind.
 */
static char *program_dir(void)
{
    char tmpl[] = "/var/tmp/sbvm-forensics-XXXXXX";
    char *d = mkdtemp(tmpl);

    ck_assert_msg(d != NULL, "mkdtemp: %s", strerror(errno));
    ck_assert_int_eq(chmod(d, 0755), 0);
    return strdup(d);
}

/* A crash of `mode` of the program at `argv0`, with `src` bound read-only
 * at `dst` when given. */
static sbvm_result *run_program(const char *argv0, const char *mode, const char *src,
                                const char *dst)
{
    sbvm_config *cfg = sbvm_config_new();
    const char *argv[] = { argv0, mode, NULL };
    sbvm_result *r = NULL;
    sbvm_error *err = NULL;

    ck_assert_int_eq(sbvm_config_set_argv(cfg, 2, argv, NULL), 0);
    if (src)
        ck_assert_msg(sbvm_config_add_mount(cfg, SBVM_MOUNT_RO, src, dst, 0, &err) == 0, "%s",
                      sbvm_error_message(err));
    ck_assert_msg(sbvm_run(cfg, &r, &err) == 0, "sbvm_run: %s", sbvm_error_message(err));
    sbvm_config_free(cfg);
    return r;
}

/* Which of the two names the backtrace has: 1 the real one, 2 the renamed
 * one; both or neither fail. */
static int named(const sbvm_result *r)
{
    const sbvm_crash *c = only_crash(r);
    bool real = backtrace_has(c, "null_write"), renamed = backtrace_has(c, "nulL_write");

    ck_assert_msg(real != renamed, "null_write %d, nulL_write %d: %s", real, renamed,
                  sbvm_crash_summary(c));
    return real ? 1 : 2;
}

START_TEST(another_file_at_the_same_path_has_its_own_names)
{
    char *a = unit_tmpdir(), *b = unit_tmpdir(), pa[512], pb[512];
    const char *dst = "/opt/sbvm-forensics", *prog = "/opt/sbvm-forensics/crasher";
    struct dw_cache_stats s0, s1;
    struct stat sa, sb;
    sbvm_result *r;

    /* Two guests see two files at one path: the same size, the same
     * mtime, the same build-id; only the inode tells them apart. */
    /* The guest goes through the bound directories. */
    ck_assert_int_eq(chmod(a, 0755), 0);
    ck_assert_int_eq(chmod(b, 0755), 0);
    snprintf(pa, sizeof(pa), "%s/crasher", a);
    snprintf(pb, sizeof(pb), "%s/crasher", b);
    copy_crasher(pa, false);
    copy_crasher(pb, true);
    ck_assert_int_eq(stat(pa, &sa), 0);
    ck_assert_int_eq(utimensat(AT_FDCWD, pb, (struct timespec[]){ sa.st_atim, sa.st_mtim }, 0), 0);
    ck_assert_int_eq(stat(pb, &sb), 0);
    ck_assert_int_eq(sa.st_size, sb.st_size);
    ck_assert_int_eq(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
    ck_assert_int_eq(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
    ck_assert_uint_ne(sa.st_ino, sb.st_ino);

    dw_cache_clear();
    r = run_program(prog, "null-write", a, dst);
    ck_assert_int_eq(named(r), 1);
    sbvm_result_free(r);
    dw_cache_stats(&s0);
    r = run_program(prog, "null-write", b, dst);
    ck_assert_int_eq(named(r), 2);
    sbvm_result_free(r);
    dw_cache_stats(&s1);
    ck_assert_uint_eq(s1.misses - s0.misses, 1); /* its own module */
    /* And each keeps its own. */
    r = run_program(prog, "null-write", a, dst);
    ck_assert_int_eq(named(r), 1);
    sbvm_result_free(r);
    r = run_program(prog, "null-write", b, dst);
    ck_assert_int_eq(named(r), 2);
    sbvm_result_free(r);
    unit_rmtree(a);
    unit_rmtree(b);
    free(a);
    free(b);
}
END_TEST

START_TEST(a_file_rewritten_in_place_is_read_again)
{
    char *dir = program_dir(), path[512], renamed[512];
    struct dw_cache_stats s0, s1;
    struct stat st0, st1;
    unsigned char *data;
    sbvm_result *r;
    size_t len;
    FILE *f;
    int fd;

    /* A program file the guest could write (a --rw directory, its rootfs):
     * between two crashes it is rewritten in place, the same inode and
     * size, its mtime set back, its build-id kept. Only the ctime, which
     * no unprivileged process can set, says it changed. */
    snprintf(path, sizeof(path), "%s/crasher", dir);
    snprintf(renamed, sizeof(renamed), "%s/renamed", dir);
    copy_crasher(path, false);
    copy_crasher(renamed, true);
    dw_cache_clear();
    r = run_program(path, "null-write", NULL, NULL);
    ck_assert_int_eq(named(r), 1);
    sbvm_result_free(r);
    ck_assert_int_eq(stat(path, &st0), 0);

    f = fopen(renamed, "r");
    ck_assert_ptr_nonnull(f);
    len = (size_t)st0.st_size;
    data = malloc(len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(fread(data, 1, len, f), len);
    fclose(f);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, data, len, 0), (ssize_t)len);
    ck_assert_int_eq(futimens(fd, (struct timespec[]){ st0.st_atim, st0.st_mtim }), 0);
    close(fd);
    free(data);
    ck_assert_int_eq(stat(path, &st1), 0);
    ck_assert_uint_eq(st1.st_ino, st0.st_ino);
    ck_assert_int_eq(st1.st_size, st0.st_size);
    ck_assert_int_eq(st1.st_mtim.tv_nsec, st0.st_mtim.tv_nsec);
    ck_assert(st1.st_ctim.tv_sec != st0.st_ctim.tv_sec ||
              st1.st_ctim.tv_nsec != st0.st_ctim.tv_nsec);

    dw_cache_stats(&s0);
    r = run_program(path, "null-write", NULL, NULL);
    ck_assert_int_eq(named(r), 2);
    sbvm_result_free(r);
    dw_cache_stats(&s1);
    /* Read again; the old version, which cannot come back, dropped. */
    ck_assert_uint_eq(s1.misses - s0.misses, 1);
    ck_assert_uint_ge(s1.evictions - s0.evictions, 1);
    ck_assert_uint_eq(s1.modules, s0.modules);
    unit_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(the_cache_keeps_to_its_caps)
{
    char *dir = program_dir(), path[4][512];
    struct dw_cache_stats s, s0;
    sbvm_result *r;

    /* Four programs (four files), two modules kept: the least recently
     * used go, and come back read anew. */
    dw_cache_clear();
    dw_cache_set_limits(2, 0);
    for (int i = 0; i < 4; i++) {
        snprintf(path[i], sizeof(path[i]), "%s/crasher%d", dir, i);
        copy_crasher(path[i], false);
        r = run_program(path[i], "null-write", NULL, NULL);
        ck_assert_int_eq(named(r), 1);
        sbvm_result_free(r);
        dw_cache_stats(&s);
        ck_assert_uint_le(s.modules, 2);
        ck_assert_uint_le(s.bytes, s.max_bytes);
    }
    ck_assert_uint_ge(s.evictions, 3);
    s0 = s;
    r = run_program(path[0], "null-write", NULL, NULL);
    ck_assert_int_eq(named(r), 1);
    sbvm_result_free(r);
    dw_cache_stats(&s);
    ck_assert_uint_ge(s.misses - s0.misses, 1);
    ck_assert_uint_le(s.modules, 2);

    /* A byte cap smaller than any module: each serves its crash (the
     * names are all there) and is dropped when the analysis ends. */
    dw_cache_set_limits(0, 1);
    dw_cache_stats(&s);
    ck_assert_uint_eq(s.modules, 0);
    ck_assert_uint_eq(s.bytes, 0);
    r = run_program(path[1], "null-write", NULL, NULL);
    ck_assert_int_eq(named(r), 1);
    sbvm_result_free(r);
    dw_cache_stats(&s);
    ck_assert_uint_eq(s.modules, 0);
    ck_assert_uint_eq(s.bytes, 0);

    dw_cache_set_limits(0, 0);
    dw_cache_stats(&s);
    ck_assert_uint_eq(s.max_modules, DW_CACHE_MODULES);
    ck_assert_uint_eq(s.max_bytes, DW_CACHE_BYTES);
    unit_rmtree(dir);
    free(dir);
}
END_TEST

/* The section header of `name` in a 64-bit ELF image. */
static Elf64_Shdr *section(unsigned char *img, size_t len, const char *name)
{
    Elf64_Ehdr *eh = (Elf64_Ehdr *)(void *)img; /* malloc'd: aligned */
    Elf64_Shdr *sh, *strs;

    ck_assert_uint_ge(len, sizeof(*eh));
    ck_assert_uint_le(eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(*sh), len);
    ck_assert_uint_eq(eh->e_shoff % 8, 0);
    sh = (Elf64_Shdr *)(void *)(img + eh->e_shoff);
    strs = &sh[eh->e_shstrndx];
    for (int i = 0; i < eh->e_shnum; i++)
        if (!strcmp((char *)img + strs->sh_offset + sh[i].sh_name, name))
            return &sh[i];
    return NULL;
}

START_TEST(a_file_that_announces_huge_debug_information_is_not_kept)
{
    char *dir = program_dir(), path[512];
    struct dw_cache_stats s0, s1;
    unsigned char *img;
    Elf64_Chdr ch = { .ch_type = ELFCOMPRESS_ZLIB,
                      .ch_size = (uint64_t)1 << 40,
                      .ch_addralign = 1 };
    Elf64_Shdr *info;
    sbvm_result *r;
    struct stat st;
    FILE *f;

    /* The guest brings its own binary: its .debug_info says it inflates
     * to 1 TiB (it holds nothing of the sort). The crash is still named
     * from the symbol table; what the file announces is not kept. */
    snprintf(path, sizeof(path), "%s/crasher", dir);
    copy_crasher(path, false);
    ck_assert_int_eq(stat(path, &st), 0);
    img = malloc((size_t)st.st_size);
    f = fopen(path, "r+");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(img, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    info = section(img, (size_t)st.st_size, ".debug_info");
    ck_assert_ptr_nonnull(info);
    ck_assert_uint_ge(info->sh_size, sizeof(ch));
    info->sh_flags |= SHF_COMPRESSED;
    memcpy(img + info->sh_offset, &ch, sizeof(ch));
    rewind(f);
    ck_assert_uint_eq(fwrite(img, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    ck_assert_int_eq(fclose(f), 0);
    free(img);

    dw_cache_clear();
    r = run_program("/bin/true", "x", NULL, NULL); /* nothing cached from that */
    sbvm_result_free(r);
    r = run_mode("null-write", 1); /* the real crasher and the C library */
    sbvm_result_free(r);
    dw_cache_stats(&s0);
    r = run_program(path, "null-write", NULL, NULL);
    ck_assert_int_eq(named(r), 1);
    sbvm_result_free(r);
    dw_cache_stats(&s1);
    ck_assert_uint_eq(s1.misses - s0.misses, 1);
    ck_assert_uint_ge(s1.evictions - s0.evictions, 1);
    ck_assert_uint_eq(s1.modules, s0.modules);
    ck_assert_uint_le(s1.bytes, s1.max_bytes);
    unit_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(a_module_file_in_memory_counts_its_filesystem)
{
    char dir[] = "/dev/shm/sbvm-forensics-XXXXXX", path[512];
    const struct dw_api *api;
    struct dw_cache_stats s;
    struct statfs sfs;
    uint64_t held;
    Elf *elf = NULL;
    int fd;

    /* A guest's scratch /tmp is a tmpfs: a module the cache holds open
     * there keeps that whole filesystem in memory after the sandbox is
     * gone. Here a program on /dev/shm, another tmpfs. */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/crasher", dir);
    copy_crasher(path, false);
    ck_assert_int_eq(statfs(dir, &sfs), 0);
    held = (uint64_t)sfs.f_blocks * (uint64_t)sfs.f_bsize;
    ck_assert_uint_gt(held, 0);

    dw_cache_clear();
    dw_cache_set_limits(0, (size_t)held + (256u << 20));
    api = dw_analysis_begin(NULL);
    ck_assert_ptr_nonnull(api);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(dw_cache_module(fd, path, &elf));
    ck_assert_ptr_nonnull(elf);
    api->elf_end(elf);
    dw_analysis_end();
    dw_cache_stats(&s);
    ck_assert_uint_eq(s.modules, 1);
    ck_assert_uint_ge(s.bytes, held);
    /* Under the default cap (smaller than this machine's /dev/shm, or than
     * the 1 MiB here): not kept, the filesystem let go. */
    dw_cache_set_limits(0, 1u << 20);
    dw_cache_stats(&s);
    ck_assert_uint_eq(s.modules, 0);
    dw_cache_set_limits(0, 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Symbolised crashes of guests run on two threads at once: the cache is
 * shared, the names are each crash's own. */
static void *crash_thread(void *arg)
{
    const char *mode = arg;

    for (int i = 0; i < 5; i++) {
        sbvm_result *r = run_mode(mode, 1);
        const sbvm_crash *c = only_crash(r);
        ck_assert_msg(backtrace_has(c, !strcmp(mode, "abort") ? "do_abort" : "null_write"),
                      "%s: %s", mode, sbvm_crash_summary(c));
        sbvm_result_free(r);
    }
    return NULL;
}

START_TEST(guests_crashing_on_two_threads_share_the_cache)
{
    const char *modes[2] = { "abort", "null-write" };
    pthread_t t[2];

    dw_cache_clear();
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, crash_thread, (void *)modes[i]), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
}
END_TEST

/*
 * Symbolised analyses on four threads at once share the cache, and each
 * gets its own names. The crashes are made up in this process (the pc in
 * the C library, the maps our own), not run in sandboxes, so that TSan
 * can run this (sandboxes do not run under it).
 */
static unsigned char fake_stack[4096];

static char *self_maps(size_t *len)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char *buf = malloc(256 * 1024);

    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(buf);
    *len = fread(buf, 1, 256 * 1024, f);
    ck_assert_uint_gt(*len, 0);
    fclose(f);
    return buf;
}

static struct sbvm_crash *made_up_crash(uint64_t pc)
{
    struct proc_fault fault = { .seq = 1, .pid = 2, .tid = 2, .signo = SIGSEGV, .code = 1 };
    struct proc_chunk h = { .seq = 1 };
    struct sbvm_crash *c;
    size_t len;
    char *maps = self_maps(&len);

    fault.regs[CRASH_REG_RIP] = pc;
    fault.regs[19] = (uint64_t)(uintptr_t)fake_stack; /* rsp */
    fault.stack_start = (uint64_t)(uintptr_t)fake_stack;
    fault.stack_len = sizeof(fake_stack);
    fault.maps_len = (uint32_t)len;
    c = crash_new(&fault);
    ck_assert_ptr_nonnull(c);
    h.which = CHUNK_MAPS;
    h.len = (uint32_t)len;
    ck_assert(crash_add_chunk(c, &h, maps));
    h.which = CHUNK_STACK;
    h.len = sizeof(fake_stack);
    ck_assert(crash_add_chunk(c, &h, fake_stack));
    free(maps);
    return c;
}

struct analysis_job {
    uint64_t pc;
    const char *expect;
};

static void *analyse_thread(void *arg)
{
    const struct analysis_job *job = arg;

    for (int i = 0; i < 20; i++) {
        struct sbvm_crash *c = made_up_crash(job->pc);
        crash_analyse(c, true, NULL, NULL);
        ck_assert_uint_ge(sbvm_crash_frame_count(c), 1);
        ck_assert_ptr_nonnull(sbvm_crash_frame(c, 0)->function);
        ck_assert_str_eq(sbvm_crash_frame(c, 0)->function, job->expect);
        crash_free(c);
    }
    return NULL;
}

START_TEST(analyses_on_threads_share_the_cache)
{
    const char *fns[2] = { "getppid", "clock_gettime" };
    struct analysis_job jobs[4];
    /* The C library's own functions, not a sanitizer's interceptors. */
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    char *names[2];
    pthread_t t[4];

    ck_assert_ptr_nonnull(libc);
    dw_cache_clear();
    /* What one analysis alone says, first. */
    for (int k = 0; k < 2; k++) {
        void *fn = dlsym(libc, fns[k]);
        struct sbvm_crash *c;

        ck_assert_ptr_nonnull(fn);
        c = made_up_crash((uint64_t)(uintptr_t)fn);
        crash_analyse(c, true, NULL, NULL);
        ck_assert_ptr_nonnull(sbvm_crash_frame(c, 0)->function);
        names[k] = strdup(sbvm_crash_frame(c, 0)->function);
        crash_free(c);
    }
    for (int i = 0; i < 4; i++) {
        jobs[i].pc = (uint64_t)(uintptr_t)dlsym(libc, fns[i % 2]);
        jobs[i].expect = names[i % 2];
        ck_assert_int_eq(pthread_create(&t[i], NULL, analyse_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    free(names[0]);
    free(names[1]);
    dlclose(libc);
}
END_TEST

/* A line count of a /proc/self file, or a "Key:  N kB" value of status. */
static long proc_value(const char *file, const char *key)
{
    char path[64], line[512];
    long n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/%s", file);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f)) {
        if (!key)
            n++;
        else if (!strncmp(line, key, strlen(key)))
            n = strtol(line + strlen(key), NULL, 10);
    }
    fclose(f);
    return n;
}

/* Runs `n` crashing guests, two at a time, through one runner. */
static void crash_batch(size_t n)
{
    static const char *const modes[] = { "null-write", "abort", "thread", "sigbus" };
    sbvm_runner *rn = sbvm_runner_new();

    ck_assert_int_eq(sbvm_runner_set_parallel(rn, 2, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        sbvm_config *cfg = sbvm_config_new();
        const char *argv[] = { crasher(), modes[i % 4], NULL };
        ck_assert_int_eq(sbvm_config_set_argv(cfg, 2, argv, NULL), 0);
        ck_assert_int_eq(sbvm_runner_add(rn, cfg, NULL), 0);
        sbvm_config_free(cfg);
    }
    ck_assert_int_eq(sbvm_runner_run(rn, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        const sbvm_result *r = sbvm_runner_result(rn, i);
        ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_CRASHED);
        ck_assert_uint_eq(sbvm_result_crash_count(r), 1);
    }
    sbvm_runner_free(rn);
}

START_TEST(soak_of_crashes_leaves_the_host_as_it_was)
{
    long mounts, rss, rss_after, fds;

    /* The first batches load what stays loaded (libdw, the C library's
     * caches) and let the heap settle; the state after them is the
     * baseline. */
    crash_batch(20);
    crash_batch(20);
    fds = unit_count_fds();
    mounts = unit_count_mounts();
    rss = proc_value("status", "VmRSS:");
    for (int round = 0; round < 10; round++)
        crash_batch(20);
    rss_after = proc_value("status", "VmRSS:");
    ck_assert_int_eq(unit_count_fds(), fds);
    ck_assert_int_eq(unit_count_mounts(), mounts);
#ifdef __SANITIZE_ADDRESS__
    /* ASan keeps freed memory in quarantine: RSS means nothing here, and
     * LeakSanitizer checks for leaks at exit instead. */
    (void)rss;
    (void)rss_after;
#else
    /* 200 crashes, each with a symbolised backtrace: a leak of even 4 KiB
     * per crash would be 800 KiB. */
    ck_assert_msg(rss_after - rss < 512, "RSS grew from %ld to %ld kB over 200 crashes", rss,
                  rss_after);
#endif
}
END_TEST

Suite *suite_forensics(void)
{
    Suite *s = suite_create("forensics");
    TCase *tc = tcase_create("crashes");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, each_way_of_crashing_is_explained, 0,
                        (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, without_symbols_the_raw_facts_remain);
    suite_add_tcase(s, tc);
    tc = tcase_create("cache");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, the_second_crash_is_named_as_the_first);
    tcase_add_test(tc, another_file_at_the_same_path_has_its_own_names);
    tcase_add_test(tc, a_file_rewritten_in_place_is_read_again);
    tcase_add_test(tc, the_cache_keeps_to_its_caps);
    tcase_add_test(tc, a_file_that_announces_huge_debug_information_is_not_kept);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, a_module_file_in_memory_counts_its_filesystem);
    tcase_add_test(tc, guests_crashing_on_two_threads_share_the_cache);
    suite_add_tcase(s, tc);
    tc = tcase_create("cache-threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, analyses_on_threads_share_the_cache);
    suite_add_tcase(s, tc);
    tc = tcase_create("soak");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, soak_of_crashes_leaves_the_host_as_it_was);
    suite_add_tcase(s, tc);
    return s;
}
