/* SPDX-License-Identifier: MIT */
/* test-procscan.c: parsing /proc/PID/stat lines a guest can shape. */
#include <stdint.h>

#include "backend/process/procscan.h"
#include "unit.h"

START_TEST(stat_line_sums_own_and_children_cpu)
{
    uint64_t t = 0;
    const char *line = "42 (sh) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 20 10 20 0 1 0 5 1 1 0 0\n";

    ck_assert(procscan_parse_stat(line, &t));
    ck_assert_uint_eq(t, 7 + 3 + 20 + 10);
}
END_TEST

START_TEST(a_hostile_command_name_cannot_shift_the_fields)
{
    uint64_t t = 0;
    /* A process may name itself ") R 1 2 3 4 5 6 7 8 9 10 11 999999 ". */
    const char *line =
        "7 () R 1 2 3 4 5 6 7 8 9 10 11 999999 ) S 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0 1\n";

    ck_assert(procscan_parse_stat(line, &t));
    ck_assert_uint_eq(t, 1 + 2 + 3 + 4);
}
END_TEST

START_TEST(truncated_or_garbled_lines_are_refused)
{
    uint64_t t = 5;

    ck_assert(!procscan_parse_stat("", &t));
    ck_assert(!procscan_parse_stat("12 (x", &t));
    ck_assert(!procscan_parse_stat("12 (x) S 1 2 3", &t));
    ck_assert(!procscan_parse_stat("12 (x) S 1 2 3 4 5 6 7 8 9 10 x 2 3 4", &t));
    ck_assert(
        !procscan_parse_stat("12 (x) S 1 2 3 4 5 6 7 8 9 10 99999999999999999999999 2 3 4", &t));
    ck_assert_uint_eq(t, 5);
}
END_TEST

Suite *suite_procscan(void)
{
    Suite *s = suite_create("procscan");
    TCase *tc = tcase_create("stat");

    tcase_add_test(tc, stat_line_sums_own_and_children_cpu);
    tcase_add_test(tc, a_hostile_command_name_cannot_shift_the_fields);
    tcase_add_test(tc, truncated_or_garbled_lines_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
