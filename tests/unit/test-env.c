/* SPDX-License-Identifier: MIT */
/* test-env.c: the guest's environment. */
#include <stdlib.h>
#include <string.h>

#include "policy/env.h"
#include "unit.h"

START_TEST(clean_environment_by_default)
{
    sbvm_config *cfg = sbvm_config_new();
    struct strv env = STRV_INIT;

    setenv("SBVM_UNIT_SECRET", "s3cret", 1);
    ck_assert_int_eq(env_build(cfg, &env, NULL), 0);
    ck_assert_ptr_null(env_lookup(env.v, "SBVM_UNIT_SECRET"));
    ck_assert_str_eq(env_lookup(env.v, "HOME"), "/tmp");
    ck_assert_ptr_nonnull(env_lookup(env.v, "PATH"));
    strv_release(&env);
    sbvm_config_free(cfg);
}
END_TEST

START_TEST(keep_env_and_overrides)
{
    sbvm_config *cfg = sbvm_config_new();
    struct strv env = STRV_INIT;

    setenv("SBVM_UNIT_KEPT", "yes", 1);
    sbvm_config_set_keep_env(cfg, 1);
    ck_assert_int_eq(sbvm_config_setenv(cfg, "SBVM_UNIT_KEPT", "overridden", NULL), 0);
    ck_assert_int_eq(sbvm_config_setenv(cfg, "NEW", "1", NULL), 0);
    ck_assert_int_eq(sbvm_config_setenv(cfg, "NEW", "2", NULL), 0);
    ck_assert_int_eq(env_build(cfg, &env, NULL), 0);
    ck_assert_str_eq(env_lookup(env.v, "SBVM_UNIT_KEPT"), "overridden");
    ck_assert_str_eq(env_lookup(env.v, "NEW"), "2");
    /* One entry per key. */
    {
        int seen = 0;
        for (size_t i = 0; i < env.n; i++)
            seen += strncmp(env.v[i], "NEW=", 4) == 0;
        ck_assert_int_eq(seen, 1);
    }
    strv_release(&env);
    sbvm_config_free(cfg);
}
END_TEST

START_TEST(lookup_needs_exact_key)
{
    char a[] = "PATHX=1", b[] = "PATH=/bin";
    char *envp[] = { a, b, NULL };

    ck_assert_str_eq(env_lookup(envp, "PATH"), "/bin");
    ck_assert_ptr_null(env_lookup(envp, "PAT"));
}
END_TEST

Suite *suite_env(void)
{
    Suite *s = suite_create("env");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, clean_environment_by_default);
    tcase_add_test(tc, keep_env_and_overrides);
    tcase_add_test(tc, lookup_needs_exact_key);
    suite_add_tcase(s, tc);
    return s;
}
