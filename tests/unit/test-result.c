/* SPDX-License-Identifier: MIT */
/* test-result.c: the outcome model's names and exit statuses (DESIGN §5). */
#include <signal.h>

#include "core/result.h"
#include "unit.h"

START_TEST(outcomes_have_stable_names)
{
    ck_assert_str_eq(sbvm_outcome_name(SBVM_OUTCOME_EXITED), "exited");
    ck_assert_str_eq(sbvm_outcome_name(SBVM_OUTCOME_CRASHED), "crashed");
    ck_assert_str_eq(sbvm_outcome_name(SBVM_OUTCOME_DENIED), "denied");
    ck_assert_str_eq(sbvm_outcome_name(SBVM_OUTCOME_LIMIT), "limit");
    ck_assert_str_eq(sbvm_outcome_name(SBVM_OUTCOME_SETUP_FAILED), "setup_failed");
    ck_assert_str_eq(sbvm_outcome_name(SBVM_OUTCOME_NOT_EXECUTABLE), "not_executable");
    ck_assert_str_eq(sbvm_outcome_name(SBVM_OUTCOME_NOT_FOUND), "not_found");
    ck_assert_str_eq(sbvm_outcome_name(SBVM_OUTCOME_KILLED), "killed");
    ck_assert_str_eq(sbvm_outcome_name((enum sbvm_outcome)99), "unknown");
}
END_TEST

START_TEST(exit_statuses_follow_the_model)
{
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_EXITED, 3, 0, -1), 3);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_EXITED, 256 + 7, 0, -1), 7);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_CRASHED, -1, SIGSEGV, -1), 139);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_KILLED, -1, SIGINT, -1), 130);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_DENIED, -1, SIGSYS, -1), 159);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_SETUP_FAILED, -1, 0, -1), 125);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_LIMIT, -1, SIGXCPU, SBVM_LIMIT_CPU), 124);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_LIMIT, -1, 0, SBVM_LIMIT_TIME), 124);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_LIMIT, -1, SIGXFSZ, SBVM_LIMIT_DISK), 137);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_NOT_EXECUTABLE, -1, 0, -1), 126);
    ck_assert_int_eq(outcome_exit_status(SBVM_OUTCOME_NOT_FOUND, -1, 0, -1), 127);
}
END_TEST

START_TEST(signals_have_names)
{
    ck_assert_str_eq(signal_name(SIGSEGV), "SIGSEGV");
    ck_assert_str_eq(signal_name(SIGSYS), "SIGSYS");
    ck_assert_str_eq(signal_text(SIGSEGV), "Segmentation fault");
    ck_assert_str_eq(signal_name(0), "SIG?");
}
END_TEST

Suite *suite_result(void)
{
    Suite *s = suite_create("result");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, outcomes_have_stable_names);
    tcase_add_test(tc, exit_statuses_follow_the_model);
    tcase_add_test(tc, signals_have_names);
    suite_add_tcase(s, tc);
    return s;
}
