/* SPDX-License-Identifier: MIT */
/* test-fsplan.c: the filesystem view plan. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

START_TEST(the_trust_store_is_in_the_base_view_and_its_keys_are_not)
{
    struct guest_ids ids = { .uid = 4242, .gid = 4343, .host_root = false };
    struct fsplan p;
    const struct fsop *op;

    fsplan_init(&p);
    ck_assert_int_eq(fsplan_build_base(&p, &ids, NULL), 0);
    if (access("/etc/ssl/certs", F_OK) == 0) {
        op = find(&p, "etc/ssl/certs");
        ck_assert_ptr_nonnull(op);
        ck_assert_int_eq(op->kind, FSOP_BIND);
        ck_assert(op->flags & FSOP_RDONLY);
        /* Its parent is made once, before it. */
        ck_assert_ptr_nonnull(find(&p, "etc/ssl"));
        ck_assert(find(&p, "etc/ssl") < op);
    }
    for (size_t i = 0; i < p.nops; i++)
        ck_assert_msg(!strstr(p.ops[i].dst, "private"), "%s", p.ops[i].dst);
    fsplan_release(&p);
}
END_TEST

START_TEST(added_certificates_extend_the_system_bundle)
{
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    struct fsplan p;
    const struct fsop *added, *bundle;

    fsplan_init(&p);
    ck_assert_int_eq(fsplan_add_trust(&p, pem, sizeof(pem) - 1, NULL), 0);
    added = find(&p, FSPLAN_TRUST_ADDED + 1);
    bundle = find(&p, FSPLAN_TRUST_BUNDLE + 1);
    ck_assert_ptr_nonnull(added);
    ck_assert_ptr_nonnull(bundle);
    ck_assert_int_eq(added->kind, FSOP_FILE);
    ck_assert_uint_eq(added->len, sizeof(pem) - 1);
    /* The system's first, the added ones at the end. */
    ck_assert_uint_ge(bundle->len, sizeof(pem) - 1);
    ck_assert(!memcmp(bundle->data + bundle->len - (sizeof(pem) - 1), pem, sizeof(pem) - 1));
    if (access("/etc/ssl/certs/ca-certificates.crt", F_OK) == 0) {
        const struct fsop *over = find(&p, "etc/ssl/certs/ca-certificates.crt");
        ck_assert_ptr_nonnull(over);
        ck_assert_int_eq(over->kind, FSOP_BIND);
        ck_assert_str_eq(over->src, FSPLAN_TRUST_BUNDLE + 1);
        ck_assert(over->flags & FSOP_RDONLY);
        ck_assert_uint_gt(bundle->len, 10000);
    }
    fsplan_release(&p);
}
END_TEST

START_TEST(host_networking_brings_the_hosts_resolver)
{
    struct fsplan p;
    const struct fsop *op;

    fsplan_init(&p);
    ck_assert_int_eq(fsplan_add_host_net(&p, NULL), 0);
    op = find(&p, "etc/hosts");
    ck_assert_ptr_nonnull(op);
    ck_assert_int_eq(op->kind, FSOP_FILE);
    ck_assert_ptr_nonnull(strstr(op->data, "\tsandbox\n"));
    if (access("/etc/resolv.conf", R_OK) == 0) {
        op = find(&p, "etc/resolv.conf");
        ck_assert_ptr_nonnull(op);
        ck_assert_int_eq(op->kind, FSOP_FILE);
    }
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
    tcase_add_test(tc, the_trust_store_is_in_the_base_view_and_its_keys_are_not);
    tcase_add_test(tc, added_certificates_extend_the_system_bundle);
    tcase_add_test(tc, host_networking_brings_the_hosts_resolver);
    tcase_add_test(tc, file_binds_create_their_parents);
    tcase_add_test(tc, visibility_follows_the_view);
    tcase_add_test(tc, ops_describe_themselves);
    suite_add_tcase(s, tc);
    return s;
}
