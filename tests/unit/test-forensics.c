/* SPDX-License-Identifier: MIT */
/*
 * test-forensics.c: one guest per way of dying (tests/guests/crasher.c), each
 * checked for the right outcome and crash details; then a soak of crashing
 * guests that must leave the host process as it was.
 */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandboxvm/sandboxvm.h"
#include "unit.h"

static const char *crasher(void)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/crasher", unit_guest_dir());
    return path;
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
    tc = tcase_create("soak");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, soak_of_crashes_leaves_the_host_as_it_was);
    suite_add_tcase(s, tc);
    return s;
}
