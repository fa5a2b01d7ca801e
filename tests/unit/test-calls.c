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

#include "sandboxvm/calls.h"
#include "test-calls.h"
#include "unit.h"

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

sbvm_lib *calls_open(const char *path, const struct sbvm_lib_options *o)
{
    sbvm_lib *lib = NULL;
    sbvm_error *err = NULL;

    ck_assert_msg(sbvm_lib_open(path, NULL, o, &lib, &err) == 0, "open %s: %s", path,
                  err ? sbvm_error_message(err) : "?");
    return lib;
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
    int r = calls_call(lib, name, SBVM_LONG, args, nargs, &v, NULL, msg, sizeof(msg));

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

Suite *suite_calls(void)
{
    Suite *s = suite_create("calls");
    TCase *tc = tcase_create("calls");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_library_is_called_with_every_kind_of_argument);
    tcase_add_test(tc, a_crash_comes_back_as_an_error_with_its_report_and_the_next_call_is_clean);
    suite_add_tcase(s, tc);
    return s;
}
