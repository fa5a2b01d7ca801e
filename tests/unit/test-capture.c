/* SPDX-License-Identifier: MIT */
/* test-capture.c: the bounded output record kept for reports. */
#include <stdlib.h>
#include <string.h>

#include "core/capture.h"
#include "unit.h"

START_TEST(small_output_is_kept_whole)
{
    struct capture c;
    char *out;
    size_t len, head;
    uint64_t omitted;

    capture_init(&c, 64);
    capture_add(&c, "hello ", 6);
    capture_add(&c, "world", 5);
    ck_assert_int_eq(capture_finish(&c, &out, &len, &head, &omitted), 0);
    ck_assert_uint_eq(len, 11);
    ck_assert_mem_eq(out, "hello world", 11);
    ck_assert_uint_eq(omitted, 0);
    free(out);
    capture_release(&c);
}
END_TEST

START_TEST(zero_limit_only_counts)
{
    struct capture c;
    char *out;
    size_t len, head;
    uint64_t omitted;

    capture_init(&c, 0);
    capture_add(&c, "abc", 3);
    ck_assert_int_eq(capture_finish(&c, &out, &len, &head, &omitted), 0);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(omitted, 3);
    ck_assert_uint_eq(c.total, 3);
    capture_release(&c);
}
END_TEST

/* Feeds random chunks and compares with the head and tail of the whole. */
START_TEST(head_and_tail_match_a_reference)
{
    enum { TOTAL = 200000, LIMIT = 1000 };
    char *all = malloc(TOTAL);
    struct capture c;
    size_t fed = 0, len, head;
    uint64_t omitted;
    char *out;

    srand(12345 + (unsigned)_i);
    for (size_t i = 0; i < TOTAL; i++)
        all[i] = (char)('a' + rand() % 26);
    capture_init(&c, LIMIT);
    while (fed < TOTAL) {
        size_t n = (size_t)(rand() % (_i == 0 ? 7 : 3000)) + 1;
        if (n > TOTAL - fed)
            n = TOTAL - fed;
        capture_add(&c, all + fed, n);
        fed += n;
    }
    ck_assert_int_eq(capture_finish(&c, &out, &len, &head, &omitted), 0);
    ck_assert_uint_eq(len, LIMIT);
    ck_assert_uint_eq(head, LIMIT / 4);
    ck_assert_uint_eq(omitted, TOTAL - LIMIT);
    ck_assert_mem_eq(out, all, head);
    ck_assert_mem_eq(out + head, all + TOTAL - (LIMIT - head), LIMIT - head);
    free(out);
    free(all);
    capture_release(&c);
}
END_TEST

Suite *suite_capture(void)
{
    Suite *s = suite_create("capture");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, small_output_is_kept_whole);
    tcase_add_test(tc, zero_limit_only_counts);
    tcase_add_loop_test(tc, head_and_tail_match_a_reference, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
