/* SPDX-License-Identifier: MIT */
/* test-util.c: strbuf, strv, errors, checked arithmetic, file reading. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/util.h"

START_TEST(strbuf_starts_empty_and_terminated)
{
    struct strbuf sb = STRBUF_INIT;

    ck_assert_ptr_nonnull(sb.buf);
    ck_assert_str_eq(sb.buf, "");
    ck_assert_uint_eq(sb.len, 0);
    strbuf_release(&sb);
    ck_assert_str_eq(sb.buf, "");
}
END_TEST

START_TEST(strbuf_appends_and_formats)
{
    struct strbuf sb = STRBUF_INIT;
    char *s;
    size_t len;

    strbuf_addstr(&sb, "abc");
    strbuf_addch(&sb, '-');
    strbuf_addf(&sb, "%d/%s", 42, "x");
    strbuf_add(&sb, "\0z", 2);
    ck_assert_uint_eq(sb.len, 10);
    ck_assert_mem_eq(sb.buf, "abc-42/x\0z", 10);
    ck_assert_int_eq(sb.buf[sb.len], '\0');
    strbuf_truncate(&sb, 3);
    ck_assert_str_eq(sb.buf, "abc");
    s = strbuf_detach(&sb, &len);
    ck_assert_str_eq(s, "abc");
    ck_assert_uint_eq(len, 3);
    ck_assert_str_eq(sb.buf, "");
    free(s);
}
END_TEST

START_TEST(strbuf_grows_past_many_doublings)
{
    struct strbuf sb = STRBUF_INIT;

    for (int i = 0; i < 100000; i++)
        strbuf_addch(&sb, (char)('a' + i % 26));
    ck_assert(!strbuf_failed(&sb));
    ck_assert_uint_eq(sb.len, 100000);
    ck_assert_int_eq(sb.buf[99999], 'a' + 99999 % 26);
    strbuf_release(&sb);
}
END_TEST

START_TEST(strbuf_failure_is_sticky)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addstr(&sb, "keep");
    /* A size that cannot be allocated marks the buffer failed... */
    ck_assert(!strbuf_grow(&sb, SIZE_MAX - 2));
    ck_assert(strbuf_failed(&sb));
    /* ...keeps what it had, and ignores later appends. */
    strbuf_addstr(&sb, "more");
    ck_assert_str_eq(sb.buf, "keep");
    ck_assert_ptr_null(strbuf_detach(&sb, NULL));
}
END_TEST

START_TEST(strv_pushes_copies_and_finds)
{
    struct strv a = STRV_INIT, b = STRV_INIT;
    char buf[8] = "one";

    ck_assert_int_eq(strv_push(&a, buf), 0);
    buf[0] = 'X';
    ck_assert_int_eq(strv_push(&a, "two"), 0);
    ck_assert_str_eq(a.v[0], "one");
    ck_assert_ptr_null(a.v[2]);
    ck_assert_int_eq(strv_copy(&b, &a), 0);
    ck_assert_int_eq(strv_find(&b, "two"), 1);
    ck_assert_int_eq(strv_find(&b, "three"), -1);
    strv_release(&a);
    strv_release(&b);
    ck_assert_uint_eq(a.n, 0);
}
END_TEST

START_TEST(error_set_wrap_and_sys)
{
    sbvm_error *e = NULL;

    ck_assert_int_eq(error_set(&e, ENOENT, "no %s", "thing"), -ENOENT);
    ck_assert_int_eq(sbvm_error_code(e), ENOENT);
    ck_assert_str_eq(sbvm_error_message(e), "no thing");
    ck_assert_int_eq(error_wrap(&e, -EIO, "loading %s", "x"), -ENOENT);
    ck_assert_str_eq(sbvm_error_message(e), "loading x: no thing");
    sbvm_error_free(e);
    e = NULL;
    ck_assert_int_eq(error_sys(&e, EACCES, "opening %s", "/y"), -EACCES);
    ck_assert_str_eq(sbvm_error_message(e), "opening /y: Permission denied");
    sbvm_error_free(e);
    /* A NULL error pointer still yields the code. */
    ck_assert_int_eq(error_set(NULL, EPERM, "x"), -EPERM);
    ck_assert_str_eq(errno_name(ENOENT), "ENOENT");
}
END_TEST

START_TEST(checked_arithmetic_catches_overflow)
{
    size_t r;

    ck_assert(!ckd_add(&r, (size_t)1, (size_t)2));
    ck_assert_uint_eq(r, 3);
    ck_assert(ckd_add(&r, SIZE_MAX, (size_t)1));
    ck_assert(ckd_mul(&r, SIZE_MAX / 2, (size_t)3));
}
END_TEST

START_TEST(sizes_parse_the_way_the_options_document)
{
    static const struct {
        const char *s;
        uint64_t v;
    } good[] = { { "1", 1 },
                 { "4096", 4096 },
                 { "64k", 64ULL << 10 },
                 { "512M", 512ULL << 20 },
                 { "1G", 1ULL << 30 },
                 { "2GiB", 2ULL << 30 },
                 { "3mb", 3ULL << 20 },
                 { "1T", 1ULL << 40 },
                 { "100B", 100 } };
    static const char *const bad[] = { "",    "0",   "-1",  "+5", " 5M", "5X",
                                       "5 M", "5MM", "5iB", "M",  "1e3" };
    /* Well formed, but past 2^64 - 1 bytes: said as too large. */
    static const char *const huge[] = { "16777216T", "99999999999999999999",
                                        "99999999999999999999X" };
    uint64_t v;

    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        ck_assert_msg(parse_size(good[i].s, &v) == 0, "%s refused", good[i].s);
        ck_assert_uint_eq(v, good[i].v);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        ck_assert_msg(parse_size(bad[i], &v) == -EINVAL, "'%s' accepted", bad[i]);
    ck_assert_int_eq(parse_size(huge[0], &v), -ERANGE);
    ck_assert_int_eq(parse_size(huge[1], &v), -ERANGE);
    ck_assert_int_eq(parse_size(huge[2], &v), -EINVAL);
}
END_TEST

START_TEST(seconds_round_up_to_whole_milliseconds)
{
    uint64_t ms;

    ck_assert_int_eq(seconds_to_ms(1.5, &ms), 0);
    ck_assert_uint_eq(ms, 1500);
    ck_assert_int_eq(seconds_to_ms(0.0001, &ms), 0);
    ck_assert_uint_eq(ms, 1);
    ck_assert_int_eq(seconds_to_ms(0.0014, &ms), 0);
    ck_assert_uint_eq(ms, 2);
    ck_assert_int_eq(seconds_to_ms(1e7, &ms), 0);
    ck_assert_int_eq(seconds_to_ms(0, &ms), -EINVAL);
    ck_assert_int_eq(seconds_to_ms(-1, &ms), -EINVAL);
    ck_assert_int_eq(seconds_to_ms(1e7 + 1, &ms), -EINVAL);
    ck_assert_int_eq(seconds_to_ms(0.0 / 0.0, &ms), -EINVAL);
}
END_TEST

START_TEST(read_file_at_bounds_the_size)
{
    char *dir = unit_tmpdir(), path[256], *out = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/f", dir);
    unit_write_file(path, "hello", 5, 0644);
    ck_assert_int_eq(read_file_at(AT_FDCWD, path, 5, &out, &len), 0);
    ck_assert_str_eq(out, "hello");
    ck_assert_uint_eq(len, 5);
    free(out);
    ck_assert_int_eq(read_file_at(AT_FDCWD, path, 4, &out, &len), -EFBIG);
    ck_assert_int_eq(read_file_at(AT_FDCWD, "/nonexistent/x", 4, &out, &len), -ENOENT);
    unit_rmtree(dir);
    free(dir);
}
END_TEST

Suite *suite_util(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, strbuf_starts_empty_and_terminated);
    tcase_add_test(tc, strbuf_appends_and_formats);
    tcase_add_test(tc, strbuf_grows_past_many_doublings);
    tcase_add_test(tc, strbuf_failure_is_sticky);
    tcase_add_test(tc, strv_pushes_copies_and_finds);
    tcase_add_test(tc, error_set_wrap_and_sys);
    tcase_add_test(tc, checked_arithmetic_catches_overflow);
    tcase_add_test(tc, read_file_at_bounds_the_size);
    tcase_add_test(tc, sizes_parse_the_way_the_options_document);
    tcase_add_test(tc, seconds_round_up_to_whole_milliseconds);
    suite_add_tcase(s, tc);
    return s;
}
