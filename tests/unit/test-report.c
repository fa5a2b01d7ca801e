/* SPDX-License-Identifier: MIT */
/* test-report.c: JSON, JUnit and summary reports of a real run. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandboxvm/sandboxvm.h"
#include "unit.h"

/* Output a test-hostile guest writes: markup, an escape sequence, an invalid
 * byte, a NUL, quotes. */
#define HOSTILE "printf '<b>&\"x\"</b>\\033[31m\\377\\000end\\n'"

static sbvm_runner *run_three(void)
{
    sbvm_runner *rn = sbvm_runner_new();
    const char *const *cmds[] = {
        (const char *[]){ "sh", "-c", HOSTILE, NULL },
        (const char *[]){ "sh", "-c", "echo oops >&2; exit 7", NULL },
        (const char *[]){ "sbvm-no-such-thing", NULL },
    };
    const char *names[] = { "hostile", "fails", "missing" };

    for (size_t i = 0; i < 3; i++) {
        sbvm_config *cfg = sbvm_config_new();
        size_t n = 0;
        while (cmds[i][n])
            n++;
        ck_assert_int_eq(sbvm_config_set_argv(cfg, n, cmds[i], NULL), 0);
        ck_assert_int_eq(sbvm_config_set_name(cfg, names[i], NULL), 0);
        ck_assert_int_eq(sbvm_runner_add(rn, cfg, NULL), 0);
        sbvm_config_free(cfg);
    }
    ck_assert_int_eq(sbvm_runner_run(rn, NULL), 0);
    return rn;
}

static char *render(sbvm_runner *rn, int (*fn)(const sbvm_runner *, FILE *, sbvm_error **))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    ck_assert_int_eq(fn(rn, f, NULL), 0);
    fclose(f);
    return buf;
}

START_TEST(json_report_parses_and_carries_the_facts)
{
    sbvm_runner *rn = run_three();
    char *text = render(rn, sbvm_report_json);
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_ALLOW_NUL, &jerr), *g;

    ck_assert_msg(root != NULL, "invalid JSON: %s", jerr.text);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "schema_version")),
                     SBVM_REPORT_SCHEMA_VERSION);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "exit_status")), 7);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "guests")), 3);
    g = json_array_get(json_object_get(root, "guests"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(g, "outcome")), "exited");
    ck_assert(json_is_true(json_object_get(json_object_get(g, "stdout"), "lossy_utf8")));
    /* The escape byte survives as data (JSON escapes it), the NUL too. */
    ck_assert_ptr_nonnull(strstr(
        json_string_value(json_object_get(json_object_get(g, "stdout"), "head")), "\x1b[31m"));
    g = json_array_get(json_object_get(root, "guests"), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(g, "exit_code")), 7);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(g, "stderr"), "head")),
                     "oops\n");
    g = json_array_get(json_object_get(root, "guests"), 2);
    ck_assert_str_eq(json_string_value(json_object_get(g, "outcome")), "not_found");
    ck_assert(json_is_null(json_object_get(g, "exit_code")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(g, "setup"), "errno_name")),
                     "ENOENT");
    json_decref(root);
    free(text);
    sbvm_runner_free(rn);
}
END_TEST

START_TEST(junit_report_marks_failures_and_escapes)
{
    sbvm_runner *rn = run_three();
    char *x = render(rn, sbvm_report_junit);

    ck_assert_ptr_nonnull(strstr(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    ck_assert_ptr_nonnull(strstr(x, "tests=\"3\" failures=\"1\" errors=\"1\""));
    ck_assert_ptr_nonnull(strstr(x, "<testcase name=\"fails\""));
    ck_assert_ptr_nonnull(strstr(x, "<failure message=\"exited with code 7\" type=\"exited\">"));
    ck_assert_ptr_nonnull(strstr(x, "<error message="));
    ck_assert_ptr_nonnull(strstr(x, "type=\"not_found\""));
    ck_assert_ptr_nonnull(strstr(x, "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"));
    /* Bytes XML cannot carry are not in the document. */
    ck_assert_ptr_null(strchr(x, '\x1b'));
    ck_assert_ptr_null(strstr(x, "\xff"));
    ck_assert_ptr_nonnull(strstr(x, "<system-err>oops\n</system-err>"));
    free(x);
    sbvm_runner_free(rn);
}
END_TEST

START_TEST(summary_lists_each_guest)
{
    sbvm_runner *rn = run_three();
    char *t = render(rn, sbvm_report_summary);

    ck_assert_ptr_nonnull(strstr(t, "GUEST"));
    ck_assert_ptr_nonnull(strstr(t, "hostile"));
    ck_assert_ptr_nonnull(strstr(t, "not_found"));
    ck_assert_ptr_nonnull(strstr(t, "3 guests, 1 succeeded, 2 failed"));
    ck_assert_ptr_nonnull(strstr(t, "exit status 7"));
    free(t);
    sbvm_runner_free(rn);
}
END_TEST

Suite *suite_report(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("writers");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, json_report_parses_and_carries_the_facts);
    tcase_add_test(tc, junit_report_marks_failures_and_escapes);
    tcase_add_test(tc, summary_lists_each_guest);
    suite_add_tcase(s, tc);
    return s;
}
