/* SPDX-License-Identifier: MIT */
/* test-calls.h: helpers the library-call suites share (test-calls*.c). */
#ifndef SBVM_TESTS_UNIT_TEST_CALLS_H
#define SBVM_TESTS_UNIT_TEST_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/calls.h"

/* The path of a fixture library (SBVM_CALLS, else beside the guests). */
const char *calls_fixture(const char *name);
/* Opens a library or fails the test, its workers forked from a zygote
 * unless calls_no_zygote (and the config does not rule it out). */
extern bool calls_no_zygote;
sbvm_lib *calls_open(const char *path, const struct sbvm_lib_options *o);
sbvm_lib *calls_open_cfg(const char *path, const sbvm_config *cfg,
                         const struct sbvm_lib_options *o);
/* Looks a symbol up or fails the test. */
sbvm_fn *calls_sym(sbvm_lib *lib, const char *name);
/* One call by name: its return; *msg gets the error's words ("" when none). */
int calls_call(sbvm_lib *lib, const char *name, enum sbvm_type ret, const struct sbvm_arg *args,
               size_t nargs, union sbvm_value *v, struct sbvm_call_info *info, char *msg,
               size_t msgsize);
/* A call that must return, its value as an int. */
int64_t calls_int(sbvm_lib *lib, const char *name, const struct sbvm_arg *args, size_t nargs);

/* An argument list and its length. */
#define ARGS(...)                                                                                  \
    ((const struct sbvm_arg[]){ __VA_ARGS__ }),                                                    \
        (sizeof((const struct sbvm_arg[]){ __VA_ARGS__ }) / sizeof(struct sbvm_arg))

#endif
