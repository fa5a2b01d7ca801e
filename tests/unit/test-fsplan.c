/* SPDX-License-Identifier: MIT */
/* test-fsplan.c: the filesystem view plan. */
#include <stdlib.h>
#include <string.h>

#include "policy/fsplan.h"
#include "unit.h"

static const struct fsop *find(const struct fsplan *p, const char *dst)
{
    for (size_t i = 0; i < p->nops; i++)
        if (strcmp(p->ops[i].dst, dst) == 0)
            return &p->ops[i];
    return NULL;
}

START_TEST(base_view_has_the_promised_parts)
{
    struct guest_ids ids = { .uid = 4242, .gid = 4343, .host_root = false };
    struct fsplan p;
    const struct fsop *op;

    fsplan_init(&p);
    ck_assert_int_eq(fsplan_build_base(&p, &ids, NULL), 0);
    ck_assert_ptr_null(find(&p, "tmp"));
    ck_assert_int_eq(fsplan_add_tmp(&p, 1 << 20, NULL), 0);
    op = find(&p, "usr");
    ck_assert_ptr_nonnull(op);
    ck_assert_int_eq(op->kind, FSOP_BIND);
    ck_assert(op->flags & FSOP_RDONLY);
    ck_assert_ptr_nonnull(find(&p, "proc"));
    ck_assert_int_eq(find(&p, "proc")->kind, FSOP_PROC);
    op = find(&p, "tmp");
    ck_assert_ptr_nonnull(op);
    ck_assert_int_eq(op->kind, FSOP_TMPFS);
    ck_assert_ptr_nonnull(strstr(op->data, "size=1048576"));
    for (const char *const *d = (const char *const[]){ "dev/null", "dev/zero", "dev/full",
                                                       "dev/random", "dev/urandom", NULL };
         *d; d++) {
        op = find(&p, *d);
        ck_assert_msg(op && op->kind == FSOP_BIND && (op->flags & FSOP_DEVICE), "%s", *d);
    }
    op = find(&p, "etc/passwd");
    ck_assert_ptr_nonnull(op);
    ck_assert_ptr_nonnull(strstr(op->data, "sandbox:x:4242:4343:"));
    ck_assert_ptr_nonnull(find(&p, "etc/hosts"));
    /* Nothing of the host's private places. */
    ck_assert_ptr_null(find(&p, "home"));
    ck_assert_ptr_null(find(&p, "root"));
    ck_assert_ptr_null(find(&p, "etc/shadow"));
    for (size_t i = 0; i < p.nops; i++)
        ck_assert_msg(p.ops[i].dst[0] != '/', "op %zu dst %s is absolute", i, p.ops[i].dst);
    fsplan_release(&p);
}
END_TEST

START_TEST(file_binds_create_their_parents)
{
    struct fsplan p;

    fsplan_init(&p);
    ck_assert_int_eq(fsplan_add_file_bind(&p, "/work/x/prog", 9, NULL), 0);
    ck_assert_uint_eq(p.nops, 3);
    ck_assert_int_eq(p.ops[0].kind, FSOP_MKDIR);
    ck_assert_str_eq(p.ops[0].dst, "work");
    ck_assert_str_eq(p.ops[1].dst, "work/x");
    ck_assert_int_eq(p.ops[2].kind, FSOP_BIND);
    ck_assert_str_eq(p.ops[2].src, "/proc/self/fd/9");
    ck_assert_str_eq(p.ops[2].dst, "work/x/prog");
    ck_assert(p.ops[2].flags & FSOP_RDONLY);
    ck_assert_int_eq(fsplan_add_file_bind(&p, "relative", 9, NULL), -EINVAL);
    fsplan_release(&p);
}
END_TEST

START_TEST(visibility_follows_the_view)
{
    ck_assert(fsplan_path_visible("/usr/bin/python3"));
    ck_assert(fsplan_path_visible("/usr"));
    ck_assert(!fsplan_path_visible("/usrx/bin"));
    ck_assert(!fsplan_path_visible("/home/me/a.out"));
    ck_assert(!fsplan_path_visible("/tmp/x"));
    ck_assert(!fsplan_path_visible("/etc/passwd"));
    ck_assert(!fsplan_path_visible("relative"));
}
END_TEST

START_TEST(ops_describe_themselves)
{
    struct fsop op = { .kind = FSOP_BIND, .flags = FSOP_RDONLY, .src = "/usr", .dst = "usr" };
    char buf[128];

    fsplan_describe(&op, buf, sizeof(buf));
    ck_assert_str_eq(buf, "binding /usr at /usr read-only");
}
END_TEST

Suite *suite_fsplan(void)
{
    Suite *s = suite_create("fsplan");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, base_view_has_the_promised_parts);
    tcase_add_test(tc, file_binds_create_their_parents);
    tcase_add_test(tc, visibility_follows_the_view);
    tcase_add_test(tc, ops_describe_themselves);
    suite_add_tcase(s, tc);
    return s;
}
