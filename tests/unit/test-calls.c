/* SPDX-License-Identifier: MIT */
/*
 * test-calls.c: library calls through the public API, against the buggy
 * fixture library (tests/calls/buggy.c): every kind of argument and return
 * value, every way a call can end (returned, crashed, denied, over its
 * budgets, lost), that the next call after each is clean, and that the
 * caller is never harmed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <time.h>

#include "sandboxvm/calls.h"
#include "test-calls.h"
#include "unit.h"

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *calls_fixture(const char *name)
{
    static char path[4096];
    const char *d = getenv("SBVM_CALLS");

    if (d && *d)
        snprintf(path, sizeof(path), "%s/%s", d, name);
    else
        snprintf(path, sizeof(path), "%s/../calls/%s", unit_guest_dir(), name);
    return path;
}

/* Workers exec'd afresh (the "exec" cases) or forked from a zygote. */
bool calls_no_zygote;

static void __attribute__((unused)) use_exec(void)
{
    calls_no_zygote = true;
}

static void use_zygote(void)
{
    calls_no_zygote = false;
}

sbvm_lib *calls_open_cfg(const char *path, const sbvm_config *cfg, const struct sbvm_lib_options *o)
{
    struct sbvm_lib_options opts = { .size = sizeof(opts) };
    struct sbvm_lib_stats st;
    sbvm_lib *lib = NULL;
    sbvm_error *err = NULL;

    if (o)
        opts = *o;
    opts.no_zygote = calls_no_zygote;
    ck_assert_msg(sbvm_lib_open(path, cfg, &opts, &lib, &err) == 0, "open %s: %s", path,
                  err ? sbvm_error_message(err) : "?");
    sbvm_lib_stats(lib, &st);
    ck_assert_int_eq(st.zygote, !calls_no_zygote && !cfg);
    return lib;
}

sbvm_lib *calls_open(const char *path, const struct sbvm_lib_options *o)
{
    return calls_open_cfg(path, NULL, o);
}

sbvm_fn *calls_sym(sbvm_lib *lib, const char *name)
{
    sbvm_fn *fn = NULL;
    sbvm_error *err = NULL;

    ck_assert_msg(sbvm_lib_sym(lib, name, &fn, &err) == 0, "sym %s: %s", name,
                  err ? sbvm_error_message(err) : "?");
    return fn;
}

int calls_call(sbvm_lib *lib, const char *name, enum sbvm_type ret, const struct sbvm_arg *args,
               size_t nargs, union sbvm_value *v, struct sbvm_call_info *info, char *msg,
               size_t msgsize)
{
    sbvm_error *err = NULL;
    int r = sbvm_lib_call(lib, calls_sym(lib, name), ret, args, nargs, v, info, &err);

    if (msg && msgsize)
        snprintf(msg, msgsize, "%s", err ? sbvm_error_message(err) : "");
    sbvm_error_free(err);
    return r;
}

int64_t calls_int(sbvm_lib *lib, const char *name, const struct sbvm_arg *args, size_t nargs)
{
    union sbvm_value v;
    char msg[512];
    int r = calls_call(lib, name, SBVM_INT, args, nargs, &v, NULL, msg, sizeof(msg));

    ck_assert_msg(r == 0, "%s: %s", name, msg);
    return v.i;
}

START_TEST(a_library_is_called_with_every_kind_of_argument)
{
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), NULL);
    union sbvm_value v;
    uint8_t buf[1000], out[64];
    char msg[512];

    ck_assert_int_eq(calls_int(lib, "buggy_add", ARGS(SBVM_INT(40), SBVM_INT(2))), 42);
    /* Through its dependency, bound beside it from the build tree. */
    ck_assert_int_eq(calls_int(lib, "buggy_twice", ARGS(SBVM_INT(21))), 42);
    ck_assert_int_eq(
        calls_call(lib, "buggy_mix", SBVM_DOUBLE,
                   ARGS(SBVM_INT(1), SBVM_INT(2), SBVM_INT(3), SBVM_INT(4), SBVM_INT(5),
                        SBVM_INT(6), SBVM_DOUBLE(1), SBVM_DOUBLE(1), SBVM_DOUBLE(1), SBVM_DOUBLE(1),
                        SBVM_DOUBLE(1), SBVM_DOUBLE(1), SBVM_DOUBLE(1), SBVM_DOUBLE(0.5)),
                   &v, NULL, msg, sizeof(msg)),
        0);
    ck_assert(v.d == 21 + 1 + 2 + 3 + 4 + 5 + 6 + 7 + 4);
    ck_assert_int_eq(
        calls_call(lib, "buggy_many", SBVM_DOUBLE,
                   ARGS(SBVM_INT(1), SBVM_DOUBLE(1), SBVM_INT(1), SBVM_DOUBLE(1), SBVM_INT(1),
                        SBVM_DOUBLE(1), SBVM_INT(1), SBVM_DOUBLE(1), SBVM_INT(1), SBVM_DOUBLE(1),
                        SBVM_INT(1), SBVM_DOUBLE(1), SBVM_INT(1), SBVM_DOUBLE(1), SBVM_INT(100),
                        SBVM_DOUBLE(1), SBVM_DOUBLE(1), SBVM_DOUBLE(1000)),
                   &v, NULL, msg, sizeof(msg)),
        -EINVAL); /* 18 arguments: more than 16 */
    ck_assert_int_eq(calls_call(lib, "buggy_many", SBVM_DOUBLE,
                                ARGS(SBVM_INT(1), SBVM_DOUBLE(1), SBVM_INT(1), SBVM_DOUBLE(1),
                                     SBVM_INT(1), SBVM_DOUBLE(1), SBVM_INT(1), SBVM_DOUBLE(1),
                                     SBVM_INT(1), SBVM_DOUBLE(1), SBVM_INT(1), SBVM_DOUBLE(1),
                                     SBVM_INT(1), SBVM_DOUBLE(1), SBVM_INT(100), SBVM_DOUBLE(2)),
                                &v, NULL, msg, sizeof(msg)),
                     0);
    /* o = 100 is the 8th integer (the second on the stack), p = 2 the 8th
     * double (xmm7); q and r read the stack slots after, which are 0. */
    ck_assert_msg(v.d == (1 + 2 + 3 + 4 + 5 + 6 + 7 + 800) + (1 + 2 + 3 + 4 + 5 + 6 + 7 + 16), "%f",
                  v.d);
    ck_assert_int_eq(calls_call(lib, "buggy_fmul", SBVM_FLOAT,
                                ARGS(SBVM_FLOAT(1.5), SBVM_FLOAT(-4)), &v, NULL, msg, sizeof(msg)),
                     0);
    ck_assert(v.f == -6.0f);
    ck_assert_int_eq(calls_call(lib, "buggy_neg", SBVM_INT, NULL, 0, &v, NULL, msg, sizeof(msg)),
                     0);
    ck_assert_int_eq(v.i, -7);
    ck_assert_int_eq(calls_call(lib, "buggy_neg_u", SBVM_UINT, NULL, 0, &v, NULL, msg, sizeof(msg)),
                     0);
    ck_assert_uint_eq(v.u, 0xfffffffeu);
    {
        uint64_t want = 0;
        for (size_t i = 0; i < sizeof(buf); i++) {
            buf[i] = (uint8_t)i;
            want += buf[i];
        }
        ck_assert_int_eq(
            calls_int(lib, "buggy_sum", ARGS(SBVM_IN(buf, sizeof(buf)), SBVM_INT(sizeof(buf)))),
            (int64_t)want);
    }
    memset(out, 0x55, sizeof(out));
    ck_assert_int_eq(
        calls_int(lib, "buggy_upper",
                  ARGS(SBVM_STR("hello"), SBVM_OUT(out, sizeof(out)), SBVM_INT(sizeof(out)))),
        5);
    ck_assert_str_eq((char *)out, "HELLO");
    sbvm_lib_close(lib);
}
END_TEST

/* Runs `name` expecting it to end the worker: the outcome, the errno, and
 * the worker's result (free it). */
static sbvm_result *call_ends(sbvm_lib *lib, const char *name, const struct sbvm_arg *args,
                              size_t nargs, int want_r, enum sbvm_call_outcome want_o, char *msg,
                              size_t msgsize)
{
    struct sbvm_call_info info = { .size = sizeof(info) };
    union sbvm_value v;
    int r = calls_call(lib, name, SBVM_LONG, args, nargs, &v, &info, msg, msgsize);

    ck_assert_msg(r == want_r, "%s: %d (%s), wanted %d", name, r, msg, want_r);
    ck_assert_msg(info.outcome == want_o, "%s: %s (%s)", name, sbvm_call_outcome_name(info.outcome),
                  msg);
    ck_assert_ptr_nonnull(strstr(msg, "the next call gets a fresh one"));
    return info.result;
}

START_TEST(a_crash_comes_back_as_an_error_with_its_report_and_the_next_call_is_clean)
{
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), NULL);
    struct sbvm_call_info info = { .size = sizeof(info) };
    const sbvm_crash *c;
    sbvm_result *res;
    union sbvm_value v;
    char msg[1024];
    bool named = false;
    uint64_t crashed_worker;

    ck_assert_int_eq(calls_int(lib, "buggy_count", NULL, 0), 1);
    ck_assert_int_eq(calls_int(lib, "buggy_count", NULL, 0), 2);
    ck_assert_int_eq(calls_call(lib, "buggy_count", SBVM_INT, NULL, 0, &v, &info, msg, sizeof(msg)),
                     0);
    crashed_worker = info.worker;
    res = call_ends(lib, "buggy_null", NULL, 0, -EFAULT, SBVM_CALL_CRASHED, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "SIGSEGV") && strstr(msg, "buggy_null"), "%s", msg);
    /* The whole report of today's forensics: signal, address, registers,
     * a backtrace symbolised in the library. */
    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(sbvm_result_outcome(res), SBVM_OUTCOME_CRASHED);
    ck_assert_uint_ge(sbvm_result_crash_count(res), 1);
    c = sbvm_result_crash(res, 0);
    ck_assert_int_eq(sbvm_crash_signal(c), SIGSEGV);
    {
        int has = 0;
        ck_assert_uint_eq(sbvm_crash_address(c, &has), 0);
        ck_assert(has);
    }
    for (size_t i = 0; i < sbvm_crash_frame_count(c); i++) {
        const struct sbvm_frame *f = sbvm_crash_frame(c, i);
        if (f->function && !strcmp(f->function, "buggy_null") && f->module &&
            strstr(f->module, "libbuggy.so") && f->file && strstr(f->file, "buggy.c"))
            named = true;
    }
    ck_assert_msg(named, "no frame names buggy_null in libbuggy.so: %s", sbvm_crash_summary(c));
    sbvm_result_free(res);
    /* The crashed call came back once its replacement was ready: nothing
     * is still starting to compete with the next call. */
    {
        struct sbvm_lib_stats st;
        sbvm_lib_stats(lib, &st);
        ck_assert_uint_eq(st.busy, 0);
        ck_assert_uint_eq(st.idle, st.live);
        ck_assert_uint_ge(st.idle, 2);
    }
    /* The next call runs on a fresh worker: its state starts again. */
    memset(&info, 0, sizeof(info));
    info.size = sizeof(info);
    ck_assert_int_eq(calls_call(lib, "buggy_count", SBVM_INT, NULL, 0, &v, &info, msg, sizeof(msg)),
                     0);
    ck_assert_int_eq(v.i, 1);
    ck_assert_uint_ne(info.worker, crashed_worker);
    ck_assert_uint_eq(info.worker_calls, 0);
    ck_assert_uint_eq(info.losses, 1);
    sbvm_lib_close(lib);
}
END_TEST

/* The library answers after whatever happened before. */
static void still_serves(sbvm_lib *lib)
{
    ck_assert_int_eq(calls_int(lib, "buggy_add", ARGS(SBVM_INT(2), SBVM_INT(3))), 5);
}

START_TEST(every_way_of_dying_is_a_crash_with_its_report)
{
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), NULL);
    char msg[1024];
    sbvm_result *res;
    const sbvm_crash *c;
    int has = 0;

    /* A wild write: the address it wrote to. */
    res = call_ends(lib, "buggy_wild_write", ARGS(SBVM_INT(0xdead0000)), -EFAULT, SBVM_CALL_CRASHED,
                    msg, sizeof(msg));
    c = sbvm_result_crash(res, 0);
    ck_assert_int_eq(sbvm_crash_signal(c), SIGSEGV);
    ck_assert_uint_eq(sbvm_crash_address(c, &has), 0xdead0000);
    ck_assert_msg(strstr(msg, "0xdead0000") && strstr(msg, "buggy_wild_write"), "%s", msg);
    sbvm_result_free(res);
    still_serves(lib);
    /* A stack buffer overrun: the stack protector's abort. */
    res = call_ends(lib, "buggy_overflow", ARGS(SBVM_STR("far more than eight bytes, and more")),
                    -EFAULT, SBVM_CALL_CRASHED, msg, sizeof(msg));
    ck_assert_int_eq(sbvm_crash_signal(sbvm_result_crash(res, 0)), SIGABRT);
    sbvm_result_free(res);
    still_serves(lib);
    /* The stack exhausted. */
    res = call_ends(lib, "buggy_recurse", NULL, 0, -EFAULT, SBVM_CALL_CRASHED, msg, sizeof(msg));
    ck_assert_int_eq(sbvm_crash_signal(sbvm_result_crash(res, 0)), SIGSEGV);
    sbvm_result_free(res);
    still_serves(lib);
    res = call_ends(lib, "buggy_abort", NULL, 0, -EFAULT, SBVM_CALL_CRASHED, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "SIGABRT") && strstr(msg, "buggy_abort"), "%s", msg);
    sbvm_result_free(res);
    still_serves(lib);
    sbvm_lib_close(lib);
}
END_TEST

/* What a library has no business doing ends its worker, and the call says
 * which call it was. */
START_TEST(calls_a_worker_may_not_make_are_denied_by_name)
{
    static const struct {
        const char *fn, *syscall;
    } cases[] = {
        { "buggy_exec", "execve" }, { "buggy_socket", "socket" },     { "buggy_fork", "clone" },
        { "buggy_kill", "kill" },   { "buggy_write_file", "openat" },
    };
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), NULL);
    char msg[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sbvm_arg a = SBVM_INT(1);
        sbvm_result *res;
        if (!strcmp(cases[i].fn, "buggy_write_file"))
            a = SBVM_STR("/tmp/evil");
        res = call_ends(lib, cases[i].fn, &a, 1, -EPERM, SBVM_CALL_DENIED, msg, sizeof(msg));
        ck_assert_msg(strstr(msg, cases[i].syscall) != NULL, "%s: %s", cases[i].fn, msg);
        ck_assert_ptr_nonnull(res);
        sbvm_result_free(res);
        still_serves(lib);
    }
    sbvm_lib_close(lib);
}
END_TEST

START_TEST(a_call_over_its_budgets_is_ended)
{
    struct sbvm_lib_options o = { .size = sizeof(o), .timeout_ms = 300 };
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), &o);
    struct sbvm_call_info info = { .size = sizeof(info), .cpu_ms = 200, .timeout_ms = 5000 };
    char msg[1024];
    int64_t t0;

    /* Wall-clock: the library's budget. */
    t0 = now_ns();
    sbvm_result_free(
        call_ends(lib, "buggy_spin", NULL, 0, -ETIMEDOUT, SBVM_CALL_TIMEOUT, msg, sizeof(msg)));
    ck_assert_msg(strstr(msg, "time budget (300 ms)"), "%s", msg);
    ck_assert_int_lt(now_ns() - t0, 5000000000LL);
    still_serves(lib);
    /* CPU: a call's own budget; sleeping spends none of it. */
    ck_assert_int_eq(calls_call(lib, "buggy_sleep_ms", SBVM_VOID, ARGS(SBVM_INT(400)), NULL, &info,
                                msg, sizeof(msg)),
                     0);
    ck_assert_int_eq(
        calls_call(lib, "buggy_spin", SBVM_VOID, NULL, 0, NULL, &info, msg, sizeof(msg)),
        -ETIMEDOUT);
    ck_assert_int_eq(info.outcome, SBVM_CALL_CPU);
    ck_assert_msg(strstr(msg, "CPU budget (200 ms)"), "%s", msg);
    sbvm_result_free(info.result);
    still_serves(lib);
    sbvm_lib_close(lib);
}
END_TEST

START_TEST(a_worker_that_exits_or_reaches_a_limit_is_lost)
{
    sbvm_config *cfg = sbvm_config_new();
    sbvm_lib *lib = NULL;
    char msg[1024];
    sbvm_result *res;

    ck_assert_int_eq(sbvm_config_set_limit(cfg, SBVM_LIMIT_FILES, 64, NULL), 0);
    /* (The sandbox ends a job at its files limit: each worker is one.) */
    lib = calls_open_cfg(calls_fixture("libbuggy.so"), cfg, NULL);
    sbvm_config_free(cfg);
    res = call_ends(lib, "buggy_exit", ARGS(SBVM_INT(3)), -EPIPE, SBVM_CALL_LOST, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "exited with code 3"), "%s", msg);
    sbvm_result_free(res);
    still_serves(lib);
    /* Leaked descriptors: the worker reaches the sandbox's limit. */
    res = call_ends(lib, "buggy_leak_fds", ARGS(SBVM_INT(1000)), -EPIPE, SBVM_CALL_LOST, msg,
                    sizeof(msg));
    ck_assert_msg(strstr(msg, "files"), "%s", msg);
    ck_assert_int_eq(sbvm_result_outcome(res), SBVM_OUTCOME_LIMIT);
    sbvm_result_free(res);
    /* The fresh worker has only what it started with. */
    ck_assert_int_lt(calls_int(lib, "buggy_open_fds", NULL, 0), 16);
    still_serves(lib);
    sbvm_lib_close(lib);
}
END_TEST

START_TEST(buffers_copy_exactly_what_is_declared)
{
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), NULL);
    uint8_t out[64], rev[5] = { 1, 2, 3, 4, 5 };

    /* An OUT buffer arrives zeroed: nothing of an earlier call (maybe
     * another caller's) shows through. */
    ck_assert_int_eq(
        calls_int(lib, "buggy_fill", ARGS(SBVM_OUT(out, 64), SBVM_INT(64), SBVM_INT('A'))), 0);
    ck_assert_int_eq(out[0], 'A');
    ck_assert_int_eq(out[63], 'A');
    ck_assert_int_eq(
        calls_int(lib, "buggy_fill", ARGS(SBVM_OUT(out, 64), SBVM_INT(64), SBVM_INT('B'))), 0);
    /* A write past the declared length stays in the worker. */
    memset(out, 'z', sizeof(out));
    calls_int(lib, "buggy_write_past", ARGS(SBVM_OUT(out, 16), SBVM_INT(16), SBVM_INT(40)));
    for (size_t i = 0; i < sizeof(out); i++)
        ck_assert_int_eq(out[i], i < 16 ? 'x' : 'z');
    /* INOUT goes both ways. */
    calls_int(lib, "buggy_reverse", ARGS(SBVM_INOUT(rev, 5), SBVM_INT(5)));
    ck_assert_int_eq(rev[0], 5);
    ck_assert_int_eq(rev[4], 1);
    /* An IN buffer the function writes to comes back unchanged. */
    memcpy(rev, "abcde", 5);
    calls_int(lib, "buggy_reverse", ARGS(SBVM_IN(rev, 5), SBVM_INT(5)));
    ck_assert_int_eq(memcmp(rev, "abcde", 5), 0);
    /* Zero-length buffers and NULL. */
    ck_assert_int_eq(calls_int(lib, "buggy_sum", ARGS(SBVM_IN(NULL, 0), SBVM_INT(0))), 0);
    ck_assert_int_eq(calls_int(lib, "buggy_value", ARGS(SBVM_NULL)), -1);
    sbvm_lib_close(lib);
}
END_TEST

START_TEST(arguments_the_call_cannot_express_are_refused_before_anything_runs)
{
    struct sbvm_lib_options o = { .size = sizeof(o), .buffer_bytes = 1 << 20 };
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), &o);
    struct sbvm_call_info info = { .size = sizeof(info) };
    static uint8_t big[(1 << 20) + 1];
    sbvm_fn *fn = NULL;
    sbvm_error *err = NULL;
    char msg[512];

    ck_assert_int_eq(
        calls_call(lib, "buggy_add", SBVM_INT,
                   ARGS(SBVM_INT(1), SBVM_INT(2), SBVM_INT(3), SBVM_INT(4), SBVM_INT(5),
                        SBVM_INT(6), SBVM_INT(7), SBVM_INT(8), SBVM_INT(9), SBVM_INT(10),
                        SBVM_INT(11), SBVM_INT(12), SBVM_INT(13), SBVM_INT(14), SBVM_INT(15)),
                   NULL, &info, msg, sizeof(msg)),
        -EINVAL);
    ck_assert_msg(strstr(msg, "8 more on the stack"), "%s", msg);
    ck_assert_int_eq(info.outcome, SBVM_CALL_REFUSED);
    ck_assert_int_eq(calls_call(lib, "buggy_sum", SBVM_LONG,
                                ARGS(SBVM_IN(big, sizeof(big)), SBVM_INT(sizeof(big))), NULL, NULL,
                                msg, sizeof(msg)),
                     -E2BIG);
    /* The same size in two buffers too. */
    ck_assert_int_eq(calls_call(lib, "buggy_sum", SBVM_LONG,
                                ARGS(SBVM_IN(big, 1 << 19), SBVM_OUT(big, (1 << 19) + 64)), NULL,
                                NULL, msg, sizeof(msg)),
                     -E2BIG);
    ck_assert_int_eq(calls_call(lib, "buggy_sum", SBVM_LONG, ARGS(SBVM_IN(NULL, 10), SBVM_INT(10)),
                                NULL, NULL, msg, sizeof(msg)),
                     -EINVAL);
    ck_assert_int_eq(sbvm_lib_sym(lib, "no_such_function", &fn, &err), -ENOENT);
    ck_assert_msg(strstr(sbvm_error_message(err), "no_such_function"), "%s",
                  sbvm_error_message(err));
    sbvm_error_free(err);
    err = NULL;
    ck_assert_int_eq(sbvm_lib_sym(lib, "", &fn, &err), -EINVAL);
    sbvm_error_free(err);
    /* Nothing was lost. */
    ck_assert_int_eq(calls_int(lib, "buggy_count", NULL, 0), 1);
    ck_assert_int_eq(calls_int(lib, "buggy_sum", ARGS(SBVM_IN(big, 1 << 20), SBVM_INT(1 << 20))),
                     0);
    ck_assert_int_eq(calls_int(lib, "buggy_count", NULL, 0), 2);
    sbvm_lib_close(lib);
}
END_TEST

START_TEST(handles_name_worker_pointers_and_refuse_what_is_not_theirs)
{
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), NULL);
    sbvm_lib *other = calls_open(calls_fixture("libbuggy.so"), NULL);
    union sbvm_value v;
    sbvm_handle t, t2, foreign;
    char msg[512], name[8];
    int value = 0;

    ck_assert_int_eq(
        calls_call(lib, "buggy_new", SBVM_PTR, ARGS(SBVM_INT(17)), &v, NULL, msg, sizeof(msg)), 0);
    t = v.h;
    ck_assert_uint_ne(t, 0);
    ck_assert_int_eq(calls_int(lib, "buggy_value", ARGS(SBVM_HANDLE(t))), 17);
    /* What it points at, read through the worker. */
    ck_assert_int_eq(sbvm_lib_read(lib, t, 0, &value, sizeof(value), NULL), 0);
    ck_assert_int_eq(value, 17);
    ck_assert_int_eq(sbvm_lib_read(lib, t, 4, name, 6, NULL), 0);
    ck_assert_str_eq(name, "thing");
    /* NULL is no handle. */
    ck_assert_int_eq(
        calls_call(lib, "buggy_null_ptr", SBVM_PTR, NULL, 0, &v, NULL, msg, sizeof(msg)), 0);
    ck_assert_uint_eq(v.h, 0);
    /* Made up, or another library's: refused, and nothing runs. */
    ck_assert_int_eq(calls_call(lib, "buggy_value", SBVM_INT, ARGS(SBVM_HANDLE(t ^ 0x10000)), &v,
                                NULL, msg, sizeof(msg)),
                     -EBADF);
    ck_assert_int_eq(calls_call(lib, "buggy_value", SBVM_INT, ARGS(SBVM_HANDLE(0x1234)), &v, NULL,
                                msg, sizeof(msg)),
                     -EBADF);
    ck_assert_int_eq(
        calls_call(other, "buggy_new", SBVM_PTR, ARGS(SBVM_INT(1)), &v, NULL, msg, sizeof(msg)), 0);
    foreign = v.h;
    /* Every open library tags its handles differently (never by chance). */
    ck_assert_uint_ne(foreign >> 56, t >> 56);
    ck_assert_int_eq(calls_call(lib, "buggy_value", SBVM_INT, ARGS(SBVM_HANDLE(foreign)), &v, NULL,
                                msg, sizeof(msg)),
                     -EBADF);
    /* Freed by the library: forgotten with the call; a second free is
     * refused before it reaches the worker (no double free). */
    ck_assert_int_eq(
        calls_call(lib, "buggy_free", SBVM_VOID, ARGS(SBVM_FREES(t)), NULL, NULL, msg, sizeof(msg)),
        0);
    ck_assert_int_eq(
        calls_call(lib, "buggy_free", SBVM_VOID, ARGS(SBVM_FREES(t)), NULL, NULL, msg, sizeof(msg)),
        -EBADF);
    ck_assert_msg(strstr(msg, "not a live handle"), "%s", msg);
    ck_assert_int_eq(sbvm_lib_read(lib, t, 0, &value, sizeof(value), NULL), -EBADF);
    /* A slot used again is another handle. */
    ck_assert_int_eq(
        calls_call(lib, "buggy_new", SBVM_PTR, ARGS(SBVM_INT(18)), &v, NULL, msg, sizeof(msg)), 0);
    t2 = v.h;
    ck_assert_uint_ne(t2, t);
    ck_assert_int_eq(
        calls_call(lib, "buggy_value", SBVM_INT, ARGS(SBVM_HANDLE(t)), &v, NULL, msg, sizeof(msg)),
        -EBADF);
    ck_assert_int_eq(calls_int(lib, "buggy_value", ARGS(SBVM_HANDLE(t2))), 18);
    /* The worker that held it is lost: stale, and the error says so. */
    sbvm_result_free(
        call_ends(lib, "buggy_null", NULL, 0, -EFAULT, SBVM_CALL_CRASHED, msg, sizeof(msg)));
    ck_assert_int_eq(
        calls_call(lib, "buggy_value", SBVM_INT, ARGS(SBVM_HANDLE(t2)), &v, NULL, msg, sizeof(msg)),
        -ESTALE);
    ck_assert_msg(strstr(msg, "lost"), "%s", msg);
    sbvm_lib_close(other);
    sbvm_lib_close(lib);
}
END_TEST

START_TEST(worker_memory_is_allocated_written_read_and_freed_once)
{
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), NULL);
    sbvm_handle m, p;
    uint8_t in[32], back[32];
    uint64_t ptr = 0;
    sbvm_error *err = NULL;

    ck_assert_int_eq(sbvm_lib_alloc(lib, 32, 0, &m, NULL), 0);
    ck_assert_int_eq(sbvm_lib_read(lib, m, 0, back, 32, NULL), 0);
    for (size_t i = 0; i < 32; i++) {
        ck_assert_int_eq(back[i], 0); /* zeroed */
        in[i] = (uint8_t)(i * 7);
    }
    ck_assert_int_eq(sbvm_lib_write(lib, m, 0, in, 32, NULL), 0);
    ck_assert_int_eq(calls_int(lib, "buggy_sum", ARGS(SBVM_HANDLE(m), SBVM_INT(32))),
                     7 * 31 * 32 / 2);
    ck_assert_int_eq(calls_int(lib, "buggy_sum", ARGS(SBVM_HANDLE_AT(m, 16), SBVM_INT(16))),
                     7 * (16 + 31) * 16 / 2);
    ck_assert_int_eq(sbvm_lib_read(lib, m, 8, back, 8, NULL), 0);
    ck_assert_int_eq(memcmp(back, in + 8, 8), 0);
    /* Outside its bytes: refused. */
    ck_assert_int_eq(sbvm_lib_read(lib, m, 30, back, 8, &err), -ERANGE);
    sbvm_error_free(err);
    ck_assert_int_eq(sbvm_lib_write(lib, m, UINT64_MAX - 2, in, 8, NULL), -ERANGE);
    ck_assert_int_eq(calls_call(lib, "buggy_sum", SBVM_LONG,
                                ARGS(SBVM_HANDLE_AT(m, 33), SBVM_INT(1)), NULL, NULL, NULL, 0),
                     -ERANGE);
    /* A pointer to other worker memory, stored in it. */
    ck_assert_int_eq(sbvm_lib_alloc(lib, 8, m, &p, NULL), 0);
    ck_assert_int_eq(sbvm_lib_poke(lib, m, 0, p, 4, NULL), 0);
    ck_assert_int_eq(sbvm_lib_read(lib, m, 0, &ptr, 8, NULL), 0);
    ck_assert_uint_ne(ptr, 0);
    ck_assert_int_eq(sbvm_lib_poke(lib, m, 0, 0, 0, NULL), 0);
    ck_assert_int_eq(sbvm_lib_read(lib, m, 0, &ptr, 8, NULL), 0);
    ck_assert_uint_eq(ptr, 0);
    ck_assert_int_eq(sbvm_lib_poke(lib, m, 28, p, 0, NULL), -ERANGE);
    /* Freed once. */
    ck_assert_int_eq(sbvm_lib_free(lib, m, NULL), 0);
    ck_assert_int_eq(sbvm_lib_free(lib, m, NULL), -EBADF);
    ck_assert_int_eq(sbvm_lib_write(lib, m, 0, in, 1, NULL), -EBADF);
    ck_assert_int_eq(sbvm_lib_forget(lib, p, NULL), 0);
    ck_assert_int_eq(sbvm_lib_forget(lib, p, NULL), -EBADF);
    ck_assert_int_eq(sbvm_lib_alloc(lib, 0, 0, &m, NULL), -EINVAL);
    sbvm_lib_close(lib);
}
END_TEST

START_TEST(reset_gives_a_fresh_worker_on_request)
{
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), NULL);
    sbvm_handle m;
    char msg[256];

    ck_assert_int_eq(calls_int(lib, "buggy_count", NULL, 0), 1);
    ck_assert_int_eq(calls_int(lib, "buggy_count", NULL, 0), 2);
    ck_assert_int_eq(sbvm_lib_alloc(lib, 8, 0, &m, NULL), 0);
    ck_assert_int_eq(sbvm_lib_reset(lib, NULL), 0);
    ck_assert_int_eq(calls_int(lib, "buggy_count", NULL, 0), 1);
    ck_assert_int_eq(calls_call(lib, "buggy_sum", SBVM_LONG, ARGS(SBVM_HANDLE(m), SBVM_INT(8)),
                                NULL, NULL, msg, sizeof(msg)),
                     -ESTALE);
    sbvm_lib_close(lib);
}
END_TEST

START_TEST(a_library_that_cannot_be_loaded_fails_to_open_with_the_loaders_words)
{
    char *dir = unit_tmpdir(), path[4096], cmd[8192];
    sbvm_lib *lib = NULL;
    sbvm_error *err = NULL;

    ck_assert_int_eq(sbvm_lib_open("/sbvm/no/such/lib.so", NULL, NULL, &lib, &err), -ENOENT);
    ck_assert_ptr_null(lib);
    sbvm_error_free(err);
    err = NULL;
    snprintf(path, sizeof(path), "%s/notelf.so", dir);
    unit_write_file(path, "hello", 5, 0644);
    ck_assert_int_eq(sbvm_lib_open(path, NULL, NULL, &lib, &err), -ENOEXEC);
    ck_assert_msg(strstr(sbvm_error_message(err), "not an ELF file"), "%s",
                  sbvm_error_message(err));
    sbvm_error_free(err);
    err = NULL;
    /* Its dependency is not beside it: the sandbox's loader says so. */
    snprintf(path, sizeof(path), "%s/libbuggy.so", dir);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", calls_fixture("libbuggy.so"), path);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_lt(sbvm_lib_open(path, NULL, NULL, &lib, &err), 0);
    ck_assert_msg(strstr(sbvm_error_message(err), "libcallsdep.so"), "%s", sbvm_error_message(err));
    sbvm_error_free(err);
    err = NULL;
    /* A bare name the sandbox's loader does not know. */
    ck_assert_int_lt(sbvm_lib_open("libsbvm-no-such-library.so.9", NULL, NULL, &lib, &err), 0);
    ck_assert_msg(strstr(sbvm_error_message(err), "libsbvm-no-such-library.so.9"), "%s",
                  sbvm_error_message(err));
    sbvm_error_free(err);
    unit_rmtree(dir);
    free(dir);
}
END_TEST

/* The sandbox's init keeps at most eight crash captures in flight, not
 * eight in its life: a library's twentieth crash is reported in full. */
START_TEST(crash_after_crash_each_comes_with_its_full_report)
{
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), NULL);
    char msg[1024];

    for (int i = 0; i < 20; i++) {
        sbvm_result *res =
            call_ends(lib, i % 2 ? "buggy_null" : "buggy_exec", NULL, 0, i % 2 ? -EFAULT : -EPERM,
                      i % 2 ? SBVM_CALL_CRASHED : SBVM_CALL_DENIED, msg, sizeof(msg));
        const sbvm_crash *c = sbvm_result_crash(res, 0);
        ck_assert_ptr_nonnull(c);
        ck_assert_msg(sbvm_crash_frame_count(c) > 0, "crash %d: no backtrace (%s)", i, msg);
        ck_assert_msg(strstr(msg, i % 2 ? "buggy_null" : "execve"), "crash %d: %s", i, msg);
        sbvm_result_free(res);
    }
    still_serves(lib);
    sbvm_lib_close(lib);
}
END_TEST

static void add_tests(TCase *tc)
{
    tcase_add_test(tc, a_library_is_called_with_every_kind_of_argument);
    tcase_add_test(tc, a_crash_comes_back_as_an_error_with_its_report_and_the_next_call_is_clean);
    tcase_add_test(tc, every_way_of_dying_is_a_crash_with_its_report);
    tcase_add_test(tc, crash_after_crash_each_comes_with_its_full_report);
    tcase_add_test(tc, calls_a_worker_may_not_make_are_denied_by_name);
    tcase_add_test(tc, a_call_over_its_budgets_is_ended);
    tcase_add_test(tc, a_worker_that_exits_or_reaches_a_limit_is_lost);
    tcase_add_test(tc, buffers_copy_exactly_what_is_declared);
    tcase_add_test(tc, arguments_the_call_cannot_express_are_refused_before_anything_runs);
    tcase_add_test(tc, handles_name_worker_pointers_and_refuse_what_is_not_theirs);
    tcase_add_test(tc, worker_memory_is_allocated_written_read_and_freed_once);
    tcase_add_test(tc, reset_gives_a_fresh_worker_on_request);
    tcase_add_test(tc, a_library_that_cannot_be_loaded_fails_to_open_with_the_loaders_words);
}

Suite *suite_calls(void)
{
    Suite *s = suite_create("calls");
    TCase *zyg = tcase_create("zygote");

    /* Every case twice: workers forked from a zygote (the default), and
     * exec'd each afresh. Under ASan, the zygote's only: the host side is
     * the same code either way (the exec'd path still runs there, in the
     * files-limit case), and the second round doubled the ASan pass's time
     * (CI's budget). */
    tcase_add_checked_fixture(zyg, use_zygote, NULL);
    tcase_set_timeout(zyg, 120);
    add_tests(zyg);
    suite_add_tcase(s, zyg);
#ifndef __SANITIZE_ADDRESS__
    TCase *exec = tcase_create("exec");
    tcase_add_checked_fixture(exec, use_exec, NULL);
    tcase_set_timeout(exec, 120);
    add_tests(exec);
    suite_add_tcase(s, exec);
#endif
    return s;
}
