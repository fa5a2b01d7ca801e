/* SPDX-License-Identifier: MIT */
/* test-config.c: guest configuration and its validation. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "unit.h"

START_TEST(names_are_validated)
{
    ck_assert(config_name_valid("hello"));
    ck_assert(config_name_valid("a.b_c-9"));
    ck_assert(!config_name_valid(""));
    ck_assert(!config_name_valid(".hidden"));
    ck_assert(!config_name_valid("-opt"));
    ck_assert(!config_name_valid("a/b"));
    ck_assert(!config_name_valid("../x"));
    ck_assert(!config_name_valid("a b"));
    ck_assert(!config_name_valid("tab\there"));
    ck_assert(!config_name_valid("\x1b[31m"));
    ck_assert(
        config_name_valid("0123456789012345678901234567890123456789012345678901234567890123"));
    ck_assert(
        !config_name_valid("01234567890123456789012345678901234567890123456789012345678901234"));
}
END_TEST

START_TEST(names_derive_from_programs)
{
    char *n;

    n = config_name_from_program("/usr/bin/python3");
    ck_assert_str_eq(n, "python3");
    free(n);
    n = config_name_from_program("./my prog!");
    ck_assert_str_eq(n, "my_prog_");
    free(n);
    n = config_name_from_program(".hidden");
    ck_assert_str_eq(n, "hidden");
    free(n);
    n = config_name_from_program("/x/");
    ck_assert_str_eq(n, "guest");
    free(n);
    n = config_name_from_program("/x/\x1b]0;title\x07");
    ck_assert(config_name_valid(n));
    free(n);
}
END_TEST

START_TEST(config_setters_refuse_bad_input)
{
    sbvm_config *cfg = sbvm_config_new();
    sbvm_error *err = NULL;
    const char *argv[] = { "echo", "hi" };

    ck_assert_int_eq(sbvm_config_set_argv(cfg, 0, argv, &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "empty command"));
    sbvm_error_free(err);
    err = NULL;
    ck_assert_int_eq(sbvm_config_set_argv(cfg, 2, argv, &err), 0);
    ck_assert_int_eq(sbvm_config_set_name(cfg, "bad/name", &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "bad/name"));
    sbvm_error_free(err);
    err = NULL;
    ck_assert_int_eq(sbvm_config_set_cwd(cfg, "relative", &err), -EINVAL);
    sbvm_error_free(err);
    err = NULL;
    ck_assert_int_eq(sbvm_config_setenv(cfg, "A=B", "x", &err), -EINVAL);
    sbvm_error_free(err);
    err = NULL;
    ck_assert_int_eq(sbvm_config_setenv(cfg, "", "x", &err), -EINVAL);
    sbvm_error_free(err);
    err = NULL;
    ck_assert_int_eq(sbvm_config_setenv(cfg, "GOOD", "x=y", &err), 0);
    sbvm_config_free(cfg);
}
END_TEST

START_TEST(config_dup_is_deep)
{
    sbvm_config *cfg = sbvm_config_new(), *copy;
    const char *argv[] = { "true" };

    ck_assert_int_eq(sbvm_config_set_argv(cfg, 1, argv, NULL), 0);
    ck_assert_int_eq(sbvm_config_set_name(cfg, "n1", NULL), 0);
    ck_assert_int_eq(sbvm_config_setenv(cfg, "K", "V", NULL), 0);
    ck_assert_int_eq(sbvm_config_set_cwd(cfg, "/tmp", NULL), 0);
    copy = sbvm_config_dup(cfg);
    sbvm_config_free(cfg);
    ck_assert_str_eq(copy->argv.v[0], "true");
    ck_assert_str_eq(copy->name, "n1");
    ck_assert_str_eq(copy->env_set.v[0], "K=V");
    ck_assert_str_eq(copy->cwd, "/tmp");
    sbvm_config_free(copy);
}
END_TEST

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, names_are_validated);
    tcase_add_test(tc, names_derive_from_programs);
    tcase_add_test(tc, config_setters_refuse_bad_input);
    tcase_add_test(tc, config_dup_is_deep);
    suite_add_tcase(s, tc);
    return s;
}
