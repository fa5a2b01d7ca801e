/* SPDX-License-Identifier: MIT */
/*
 * test-calls-threads.c: one library called from several threads at once:
 * each call takes a worker of the pool (or waits for the one its handles
 * belong to), crashes in some threads leave the others' calls alone, and
 * memory of two workers never meets in one call.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandboxvm/calls.h"
#include "test-calls.h"
#include "unit.h"

#define THREADS 4
#define CALLS   150

struct worker_arg {
    sbvm_lib *lib;
    int id;
    int crashes, wrong, lost;
    uint64_t workers_seen[THREADS * 4];
};

static void *hammer(void *p)
{
    struct worker_arg *a = p;
    sbvm_fn *add = calls_sym(a->lib, "buggy_add"), *null = calls_sym(a->lib, "buggy_null");
    sbvm_fn *upper = calls_sym(a->lib, "buggy_upper");

    for (int i = 0; i < CALLS; i++) {
        struct sbvm_call_info info = { .size = sizeof(info) };
        struct sbvm_arg args[3] = { SBVM_INT(a->id * 1000), SBVM_INT(i) };
        union sbvm_value v;
        char in[32], out[32];
        int r;

        if (a->id == 0 && i % 30 == 29) {
            /* This thread crashes a worker now and then. */
            r = sbvm_lib_call(a->lib, null, SBVM_INT, NULL, 0, &v, &info, NULL);
            a->crashes += r == -EFAULT && info.outcome == SBVM_CALL_CRASHED;
            sbvm_result_free(info.result);
            continue;
        }
        if (i % 2) {
            r = sbvm_lib_call(a->lib, add, SBVM_INT, args, 2, &v, &info, NULL);
            a->wrong += r != 0 || v.i != a->id * 1000 + i;
        } else {
            snprintf(in, sizeof(in), "t%d-%d", a->id, i);
            args[0] = SBVM_STR(in);
            args[1] = SBVM_OUT(out, sizeof(out));
            args[2] = SBVM_INT(sizeof(out));
            r = sbvm_lib_call(a->lib, upper, SBVM_LONG, args, 3, &v, &info, NULL);
            a->wrong += r != 0 || v.i != (int64_t)strlen(in) || out[0] != 'T';
        }
        a->lost += r == -EPIPE;
        sbvm_result_free(info.result);
    }
    return NULL;
}

START_TEST(calls_from_several_threads_each_take_a_worker_of_the_pool)
{
    struct sbvm_lib_options o = { .size = sizeof(o), .workers = THREADS, .spares = 1 };
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), &o);
    struct worker_arg a[THREADS];
    pthread_t t[THREADS];
    struct sbvm_lib_stats st;

    for (int i = 0; i < THREADS; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].lib = lib;
        a[i].id = i;
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, &a[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_msg(a[i].wrong == 0, "thread %d: %d wrong answers", i, a[i].wrong);
        ck_assert_msg(a[i].lost == 0, "thread %d: %d calls lost", i, a[i].lost);
    }
    ck_assert_int_eq(a[0].crashes, CALLS / 30);
    sbvm_lib_stats(lib, &st);
    ck_assert_uint_eq(st.losses, CALLS / 30);
    ck_assert_uint_le(st.live, THREADS + 1);
    ck_assert_uint_ge(st.calls, THREADS * CALLS);
    sbvm_lib_close(lib);
}
END_TEST

struct sleeper {
    sbvm_lib *lib;
    int ms;
    sbvm_handle on; /* the worker to keep busy: this handle's */
};

static void *sleep_call(void *p)
{
    struct sleeper *s = p;
    /* The handle, which the function ignores, says which worker sleeps. */
    struct sbvm_arg args[2] = { SBVM_INT(s->ms), SBVM_HANDLE(s->on) };

    ck_assert_int_eq(sbvm_lib_call(s->lib, calls_sym(s->lib, "buggy_sleep_ms"), SBVM_VOID, args, 2,
                                   NULL, NULL, NULL),
                     0);
    return NULL;
}

START_TEST(handles_of_two_workers_never_meet_in_one_call)
{
    struct sbvm_lib_options o = { .size = sizeof(o), .workers = 2 };
    sbvm_lib *lib = calls_open(calls_fixture("libbuggy.so"), &o);
    struct sleeper s = { lib, 1000, 0 };
    struct sbvm_call_info info = { .size = sizeof(info) };
    union sbvm_value v;
    sbvm_handle a, b;
    char msg[512];
    pthread_t t;
    int r;

    /* One worker busy sleeping; the other makes b. */
    ck_assert_int_eq(
        calls_call(lib, "buggy_new", SBVM_PTR, ARGS(SBVM_INT(1)), &v, &info, msg, sizeof(msg)), 0);
    a = s.on = v.h;
    calls_sym(lib, "buggy_sleep_ms");
    ck_assert_int_eq(pthread_create(&t, NULL, sleep_call, &s), 0);
    /* Once the sleeper holds a's worker, b comes from another. */
    for (;;) {
        struct sbvm_lib_stats st;
        sbvm_lib_stats(lib, &st);
        if (st.busy == 1)
            break;
        usleep(1000);
    }
    r = calls_call(lib, "buggy_new", SBVM_PTR, ARGS(SBVM_INT(2)), &v, &info, msg, sizeof(msg));
    ck_assert_int_eq(r, 0);
    b = v.h;
    ck_assert_msg((b >> 32) != (a >> 32), "every new thing came from one worker");
    ck_assert_int_eq(calls_call(lib, "buggy_value", SBVM_INT, ARGS(SBVM_HANDLE(a), SBVM_HANDLE(b)),
                                &v, NULL, msg, sizeof(msg)),
                     -EXDEV);
    ck_assert_int_eq(sbvm_lib_poke(lib, a, 0, b, 0, NULL), -EXDEV);
    /* Each alone goes to its own worker, which waits its turn. */
    ck_assert_int_eq(calls_int(lib, "buggy_value", ARGS(SBVM_HANDLE(a))), 1);
    ck_assert_int_eq(calls_int(lib, "buggy_value", ARGS(SBVM_HANDLE(b))), 2);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    sbvm_lib_close(lib);
}
END_TEST

Suite *suite_calls_threads(void)
{
    Suite *s = suite_create("calls_threads");
    TCase *tc = tcase_create("calls_threads");

    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, calls_from_several_threads_each_take_a_worker_of_the_pool);
    tcase_add_test(tc, handles_of_two_workers_never_meet_in_one_call);
    suite_add_tcase(s, tc);
    return s;
}
