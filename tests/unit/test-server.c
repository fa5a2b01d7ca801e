/* SPDX-License-Identifier: MIT */
/*
 * test-server.c: the session server's request decoding (routes, the JSON
 * bodies of create, exec, signal, resize and snapshot, base64), and what
 * the library gained for it: a signal asked for before a job runs, the
 * loop's next timer for a loop that embeds it, and a writable layer over
 * a rootfs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandboxvm/sandboxvm.h"
#include "server/request.h"
#include "unit.h"

static int route(const char *m, const char *p, struct route *r)
{
    struct strbuf why = STRBUF_INIT;
    int st = route_parse(m, p, r, &why);
    ck_assert_msg(st == 0 || why.len > 0, "%s %s: refused without a reason", m, p);
    strbuf_release(&why);
    return st;
}

START_TEST(routes_name_what_they_should_and_nothing_else)
{
    struct route r;

    ck_assert_int_eq(route("GET", "/v1/info", &r), 0);
    ck_assert_int_eq(r.kind, R_INFO);
    ck_assert_int_eq(route("POST", "/v1/sandboxes", &r), 0);
    ck_assert_int_eq(r.kind, R_SANDBOXES);
    ck_assert_int_eq(route("DELETE", "/v1/sandboxes/sb-0123456789ab", &r), 0);
    ck_assert_int_eq(r.kind, R_SANDBOX);
    ck_assert_str_eq(r.sandbox, "sb-0123456789ab");
    ck_assert_int_eq(route("POST", "/v1/sandboxes/sb-1/jobs/j7/signal", &r), 0);
    ck_assert_int_eq(r.kind, R_JOB_SIGNAL);
    ck_assert_str_eq(r.job, "j7");
    ck_assert_int_eq(route("GET", "/v1/sandboxes/sb-1/jobs/j7/events", &r), 0);
    ck_assert_int_eq(r.kind, R_JOB_EVENTS);
    ck_assert_int_eq(route("PUT", "/v1/sandboxes/sb-1/files", &r), 0);
    ck_assert(route_has_body(&r) && !route_body_is_json(&r));
    ck_assert_int_eq(route("DELETE", "/v1/snapshots/py-deps.2", &r), 0);
    ck_assert_str_eq(r.snapshot, "py-deps.2");
    /* Wrong method: 405; anything else: 404. */
    ck_assert_int_eq(route("PUT", "/v1/sandboxes", &r), 405);
    ck_assert_int_eq(route("PATCH", "/v1/info", &r), 405);
    ck_assert_int_eq(route("GET", "/v1/sandboxes/sb-1/exec", &r), 405);
    static const char *const bad[] = {
        "",
        "/",
        "/v1",
        "/v1/",
        "/v2/info",
        "/v1/info/",
        "/v1//sandboxes",
        "/v1/sandboxes/",
        "/v1/sandboxes/SB-UPPER",
        "/v1/sandboxes/../info",
        "/v1/sandboxes/sb-1/jobs/j1/signal/x",
        "/v1/sandboxes/sb-1/nothing",
        "/v1/snapshots/.hidden",
        "/v1/snapshots/-dash",
        "/v1/snapshots/a/b",
        "/v1/sandboxes/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "v1/info",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(route("GET", bad[i], &r) == 404, "%s was not refused", bad[i]);
}
END_TEST

static int exec_parse(const char *body, struct exec_req *er)
{
    struct strbuf why = STRBUF_INIT;
    int st = exec_req_parse(body, strlen(body), er, &why);
    ck_assert_msg(st == 0 || why.len > 0, "%s: refused without a reason", body);
    strbuf_release(&why);
    return st;
}

START_TEST(exec_bodies_are_checked_field_by_field)
{
    struct exec_req er;

    ck_assert_int_eq(exec_parse("{\"argv\": [\"ls\", \"-l\"], \"env\": {\"A\": \"1\"}, \"cwd\": "
                                "\"/tmp/w\", \"timeout\": 1.5, \"stdin\": \"hi\"}",
                                &er),
                     0);
    ck_assert_uint_eq(er.argv.n, 2);
    ck_assert_str_eq(er.env.v[0], "A=1");
    ck_assert_str_eq(er.cwd, "/tmp/w");
    ck_assert_uint_eq(er.timeout_ms, 1500);
    ck_assert_uint_eq(er.stdin_len, 2);
    ck_assert(er.stream && !er.keep);
    exec_req_release(&er);
    ck_assert_int_eq(exec_parse("{\"shell\": \"echo $HOME\", \"stream\": false, \"on_disconnect\": "
                                "\"keep\", \"terminal\": {\"rows\": 30, \"cols\": 100}}",
                                &er),
                     0);
    ck_assert_str_eq(er.argv.v[0], "/bin/sh");
    ck_assert_str_eq(er.argv.v[2], "echo $HOME");
    ck_assert(!er.stream && er.keep && er.terminal && er.rows == 30 && er.cols == 100);
    exec_req_release(&er);
    ck_assert_int_eq(exec_parse("{\"argv\": [\"cat\"], \"stdin_b64\": \"AP8=\"}", &er), 0);
    ck_assert_uint_eq(er.stdin_len, 2);
    ck_assert(er.stdin_data[0] == 0 && (unsigned char)er.stdin_data[1] == 0xff);
    exec_req_release(&er);
    ck_assert_int_eq(exec_parse("{}", &er), 400);
    static const char *const bad[] = {
        "[]",
        "{\"argv\": []}",
        "{\"argv\": \"ls\"}",
        "{\"argv\": [1]}",
        "{\"argv\": [\"\"]}",
        "{\"argv\": [\"a\\u0000b\"]}",
        "{\"argv\": [\"ls\"], \"shell\": \"ls\"}",
        "{\"argv\": [\"ls\"], \"cwd\": \"relative\"}",
        "{\"argv\": [\"ls\"], \"cwd\": \"/a/../b\"}",
        "{\"argv\": [\"ls\"], \"env\": {\"A=B\": \"1\"}}",
        "{\"argv\": [\"ls\"], \"env\": {\"\": \"1\"}}",
        "{\"argv\": [\"ls\"], \"env\": {\"A\": 1}}",
        "{\"argv\": [\"ls\"], \"timeout\": -1}",
        "{\"argv\": [\"ls\"], \"timeout\": \"5\"}",
        "{\"argv\": [\"ls\"], \"timeout\": 1e300}",
        "{\"argv\": [\"ls\"], \"output_limit\": -5}",
        "{\"argv\": [\"ls\"], \"stdin_b64\": \"not base64\"}",
        "{\"argv\": [\"ls\"], \"stdin\": \"a\", \"stdin_b64\": \"YQ==\"}",
        "{\"argv\": [\"ls\"], \"terminal\": {\"rows\": 0}}",
        "{\"argv\": [\"ls\"], \"terminal\": {\"rows\": 24, \"depth\": 3}}",
        "{\"argv\": [\"ls\"], \"on_disconnect\": \"maybe\"}",
        "{\"argv\": [\"ls\"], \"name\": \"../x\"}",
        "{\"argv\": [\"ls\"], \"colour\": 1}",
        "{\"argv\": [\"ls\"], \"argv\": [\"rm\"]}",
        "{\"argv\": [\"ls\"]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(exec_parse(bad[i], &er) == 400, "%s was not refused", bad[i]);
        /* Refused bodies leave nothing to release. */
        ck_assert_ptr_null(er.argv.v);
        ck_assert_ptr_null(er.stdin_data);
    }
}
END_TEST

START_TEST(create_signal_resize_and_snapshot_bodies)
{
    struct strbuf why = STRBUF_INIT;
    struct create_req cr;
    json_t *doc = NULL;
    char name[SNAP_NAME_MAX + 1];
    unsigned short rows, cols;
    const char *ok = "{\"name\": \"agent-1\", \"settings\": {\"env\": {}}, \"idle_timeout\": 60, "
                     "\"max_lifetime\": 0, \"persistent\": true}";

    ck_assert_int_eq(create_req_parse(ok, strlen(ok), &doc, &cr, &why), 0);
    ck_assert_str_eq(cr.label, "agent-1");
    ck_assert(cr.has_idle && cr.idle_ms == 60000 && cr.has_lifetime && cr.lifetime_ms == 0);
    ck_assert(cr.persistent && cr.settings && !cr.snapshot);
    json_decref(doc);
    ck_assert_int_eq(create_req_parse("", 0, &doc, &cr, &why), 0);
    ck_assert_ptr_null(cr.settings);
    json_decref(doc);
    static const char *const bad[] = {
        "{\"settings\": []}",
        "{\"snapshot\": \"s\", \"settings\": {}}",
        "{\"secrets\": []}",
        "{\"snapshot\": \"../up\"}",
        "{\"name\": \"a b\"}",
        "{\"idle_timeout\": -1}",
        "{\"persistent\": 1}",
        "{\"extra\": 1}",
        "null",
        "{\"name\": \"a\", \"name\": \"b\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strbuf_reset(&why);
        ck_assert_msg(create_req_parse(bad[i], strlen(bad[i]), &doc, &cr, &why) == 400,
                      "%s was not refused", bad[i]);
        ck_assert_ptr_null(doc);
        ck_assert_uint_gt(why.len, 0);
    }
    ck_assert_int_eq(signal_req_parse("{\"signal\": \"TERM\"}", 18, &why), SIGTERM);
    ck_assert_int_eq(signal_req_parse("{\"signal\": \"SIGINT\"}", 20, &why), SIGINT);
    ck_assert_int_eq(signal_req_parse("{\"signal\": 9}", 13, &why), SIGKILL);
    ck_assert_int_eq(signal_req_parse("{\"signal\": 0}", 13, &why), 0);
    ck_assert_int_eq(signal_req_parse("{\"signal\": 65}", 14, &why), 0);
    ck_assert_int_eq(signal_req_parse("{\"signal\": \"SIGFOO\"}", 20, &why), 0);
    ck_assert_int_eq(resize_req_parse("{\"rows\": 50, \"cols\": 132}", 25, &rows, &cols, &why), 0);
    ck_assert(rows == 50 && cols == 132);
    ck_assert_int_eq(resize_req_parse("{\"rows\": 50}", 12, &rows, &cols, &why), 400);
    ck_assert_int_eq(snapshot_req_parse("{\"name\": \"deps\"}", 16, name, &why), 0);
    ck_assert_str_eq(name, "deps");
    ck_assert_int_eq(snapshot_req_parse("{\"name\": \"a/b\"}", 15, name, &why), 400);
    ck_assert_int_eq(snapshot_req_parse("{}", 2, name, &why), 400);
    strbuf_release(&why);
}
END_TEST

START_TEST(base64_decodes_only_what_is_base64)
{
    char *out = NULL;
    size_t n = 0;

    ck_assert_int_eq(b64_decode("aGVsbG8=", 8, &out, &n), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(out, "hello");
    free(out);
    ck_assert_int_eq(b64_decode("", 0, &out, &n), 0);
    ck_assert_uint_eq(n, 0);
    free(out);
    static const char *const bad[] = { "a",    "aGVsbG8", "aGV=bG8=", "====",
                                       "a===", "aG\nV=",  "aGVs*G8=" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(b64_decode(bad[i], strlen(bad[i]), &out, &n) == -EINVAL, "%s", bad[i]);
        ck_assert_ptr_null(out);
    }
}
END_TEST

/* ---- what the library gained ----------------------------------------- */

START_TEST(a_signal_before_a_job_runs_is_sent_when_it_runs)
{
    sbvm_sandbox *sb = NULL;
    sbvm_config *cfg = sbvm_config_new();
    struct sbvm_exec ex = { .size = sizeof(ex),
                            .argv = (const char *[]){ "sleep", "100", NULL },
                            .stdin_fd = -1 };
    const sbvm_result *r;
    sbvm_job *j = NULL;

    ck_assert_int_eq(sbvm_sandbox_create(NULL, cfg, &sb, NULL), 0);
    sbvm_config_free(cfg);
    for (int sig = SIGTERM; sig; sig = sig == SIGTERM ? SIGKILL : 0) {
        /* At once: the exec server has not started it yet. */
        ck_assert_int_eq(sbvm_sandbox_exec(sb, &ex, &j, NULL), 0);
        ck_assert_int_eq(sbvm_job_signal(j, sig), 0);
        ck_assert_int_eq(sbvm_job_wait(j, 20000, NULL), 0);
        r = sbvm_job_result(j);
        ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_KILLED);
        ck_assert_int_eq(sbvm_result_signal(r), sig);
        sbvm_job_free(j);
    }
    /* And a job freed before it ran is ended, not waited for. */
    ck_assert_int_eq(sbvm_sandbox_exec(sb, &ex, &j, NULL), 0);
    sbvm_job_free(j);
    ck_assert_int_eq(sbvm_sandbox_destroy(sb, NULL, NULL), 0);
}
END_TEST

START_TEST(the_loop_tells_an_embedder_its_next_timer)
{
    sbvm_loop *l = sbvm_loop_new();
    sbvm_sandbox *sb = NULL;
    sbvm_config *cfg = sbvm_config_new();
    struct sbvm_exec ex = { .size = sizeof(ex),
                            .argv = (const char *[]){ "sleep", "100", NULL },
                            .stdin_fd = -1,
                            .timeout_ms = 5000 };
    sbvm_job *j = NULL;
    int t;

    ck_assert_int_eq(sbvm_loop_timeout(l), -1);
    ck_assert_int_eq(sbvm_sandbox_create(l, cfg, &sb, NULL), 0);
    sbvm_config_free(cfg);
    ck_assert_int_eq(sbvm_sandbox_exec(sb, &ex, &j, NULL), 0);
    /* Once it runs, its deadline is a timer of the loop: no fd says so. */
    while (!(t = sbvm_loop_timeout(l)) || t < 0 || t > 5000)
        ck_assert_int_ge(sbvm_loop_run(l, 100), 0);
    ck_assert_int_gt(t, 0);
    ck_assert_int_le(t, 5000);
    sbvm_job_free(j);
    ck_assert_int_eq(sbvm_sandbox_destroy(sb, NULL, NULL), 0);
    sbvm_loop_free(l);
}
END_TEST

/* Runs l until sb reaches `want` (or 20 s pass). */
static void run_to(sbvm_loop *l, sbvm_sandbox *sb, enum sbvm_sandbox_state want)
{
    for (int i = 0; i < 2000 && sbvm_sandbox_state(sb) != want; i++)
        ck_assert_int_ge(sbvm_loop_run(l, 10), 0);
    ck_assert_int_eq(sbvm_sandbox_state(sb), want);
}

START_TEST(a_sandbox_started_and_stopped_without_waiting_is_built_and_ended_by_the_loop)
{
    sbvm_loop *l = sbvm_loop_new();
    sbvm_sandbox *sb = NULL;
    sbvm_config *cfg = sbvm_config_new();
    struct sbvm_exec ex = { .size = sizeof(ex),
                            .argv = (const char *[]){ "sleep", "100", NULL },
                            .stdin_fd = -1 };
    sbvm_result *fin = NULL;
    sbvm_job *j = NULL;

    ck_assert_int_eq(sbvm_sandbox_start(l, cfg, &sb, NULL), 0);
    sbvm_config_free(cfg);
    /* Returned before it was built: no job yet, and the loop builds it. */
    ck_assert_int_eq(sbvm_sandbox_state(sb), SBVM_SANDBOX_STARTING);
    ck_assert_int_lt(sbvm_sandbox_exec(sb, &ex, &j, NULL), 0);
    run_to(l, sb, SBVM_SANDBOX_READY);
    ck_assert_int_eq(sbvm_sandbox_exec(sb, &ex, &j, NULL), 0);
    /* A stop returns at once; the job ends KILLED as the loop runs. */
    sbvm_sandbox_stop(sb);
    ck_assert_int_eq(sbvm_sandbox_state(sb), SBVM_SANDBOX_ENDING);
    run_to(l, sb, SBVM_SANDBOX_ENDED);
    ck_assert_int_eq(sbvm_result_outcome(sbvm_job_result(j)), SBVM_OUTCOME_KILLED);
    ck_assert_int_eq(sbvm_sandbox_destroy(sb, &fin, NULL), 0);
    ck_assert_ptr_nonnull(fin);
    sbvm_result_free(fin);
    sbvm_job_free(j);
    sbvm_loop_free(l);
}
END_TEST

/* snprintf into an array, checked (and no truncation warning: it is). */
#define PATHF(buf, ...) ck_assert_int_lt(snprintf(buf, sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

static void write_at(const char *dir, const char *name, const char *text)
{
    char p[4096];
    PATHF(p, "%s/%s", dir, name);
    unit_write_file(p, text, strlen(text), 0644);
}

struct out {
    char buf[1024];
    size_t len;
};

static void collect(void *ctx, sbvm_job *j, enum sbvm_stream s, const void *data, size_t len)
{
    struct out *o = ctx;
    (void)j;
    (void)s;
    if (len > sizeof(o->buf) - 1 - o->len)
        len = sizeof(o->buf) - 1 - o->len;
    memcpy(o->buf + o->len, data, len);
    o->len += len;
    o->buf[o->len] = '\0';
}

START_TEST(a_layer_takes_the_writes_over_a_rootfs_and_outlives_the_sandbox)
{
    char *dir = unit_tmpdir(), tree[4096], layer[4096], p[4096];
    const char *busybox = "/bin/busybox";
    sbvm_config *cfg = sbvm_config_new();
    sbvm_sandbox *sb = NULL;
    sbvm_error *err = NULL;
    struct out o = { 0 };
    struct sbvm_job_events ev = { .ctx = &o, .on_output = collect };
    struct sbvm_exec ex = { .size = sizeof(ex), .stdin_fd = -1, .events = &ev };
    sbvm_job *j = NULL;
    struct stat st;

    if (access(busybox, X_OK) < 0) {
        unit_skip("a_layer_takes_the_writes", "no /bin/busybox (busybox-static)");
        unit_rmtree(dir);
        free(dir);
        sbvm_config_free(cfg);
        return;
    }
    PATHF(tree, "%s/tree", dir);
    PATHF(layer, "%s/layer", dir);
    ck_assert_int_eq(mkdir(tree, 0755), 0);
    ck_assert_int_eq(mkdir(layer, 0700), 0);
    static const char *const dirs[] = { "bin", "proc", "dev", "tmp", "data" };
    for (size_t i = 0; i < 5; i++) {
        PATHF(p, "%s/%s", tree, dirs[i]);
        ck_assert_int_eq(mkdir(p, 0777), 0);
        ck_assert_int_eq(chmod(p, 0777), 0);
    }
    {
        /* The tree's own copy of busybox: the guest sees only the tree. */
        char cmd[8192];
        PATHF(cmd, "cp %s %s/bin/busybox && ln -s busybox %s/bin/sh", busybox, tree, tree);
        ck_assert_int_eq(system(cmd), 0);
    }
    write_at(tree, "data/base", "base\n");
    /* Without a rootfs there is no layer, and that is said. */
    ck_assert_int_eq(sbvm_config_set_layer(cfg, layer, NULL), 0);
    ck_assert_int_eq(sbvm_sandbox_create(NULL, cfg, &sb, &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(err), "rootfs"));
    sbvm_error_free(err);
    ck_assert_int_eq(sbvm_config_set_rootfs(cfg, tree, NULL), 0);
    ck_assert_int_eq(sbvm_config_setenv(cfg, "PATH", "/bin", NULL), 0);
    ck_assert_msg(sbvm_sandbox_create(NULL, cfg, &sb, &err) == 0, "create: %s",
                  err ? sbvm_error_message(err) : "?");
    ex.argv =
        (const char *[]){ "sh", "-c", "echo new >/data/new && rm /data/base && echo done", NULL };
    ck_assert_int_eq(sbvm_sandbox_exec(sb, &ex, &j, NULL), 0);
    ck_assert_int_eq(sbvm_job_wait(j, 20000, NULL), 0);
    ck_assert_msg(sbvm_result_exit_status(sbvm_job_result(j)) == 0, "%s [%s]",
                  sbvm_result_message(sbvm_job_result(j)), o.buf);
    sbvm_job_free(j);
    ck_assert_int_eq(sbvm_sandbox_destroy(sb, NULL, NULL), 0);
    sbvm_config_free(cfg);
    /* The writes are the layer's; the tree is as it was. */
    PATHF(p, "%s/upper/data/new", layer);
    ck_assert_int_eq(stat(p, &st), 0);
    PATHF(p, "%s/upper/data/base", layer);
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISCHR(st.st_mode)); /* the whiteout of a deleted file */
    PATHF(p, "%s/data/base", tree);
    ck_assert_int_eq(stat(p, &st), 0);
    PATHF(p, "%s/data/new", tree);
    ck_assert_int_ne(stat(p, &st), 0);
    unit_rmtree(dir);
    free(dir);
}
END_TEST

Suite *suite_server(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("requests");

    tcase_add_test(tc, routes_name_what_they_should_and_nothing_else);
    tcase_add_test(tc, exec_bodies_are_checked_field_by_field);
    tcase_add_test(tc, create_signal_resize_and_snapshot_bodies);
    tcase_add_test(tc, base64_decodes_only_what_is_base64);
    suite_add_tcase(s, tc);
    tc = tcase_create("library");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_signal_before_a_job_runs_is_sent_when_it_runs);
    tcase_add_test(tc, the_loop_tells_an_embedder_its_next_timer);
    tcase_add_test(tc,
                   a_sandbox_started_and_stopped_without_waiting_is_built_and_ended_by_the_loop);
    tcase_add_test(tc, a_layer_takes_the_writes_over_a_rootfs_and_outlives_the_sandbox);
    suite_add_tcase(s, tc);
    return s;
}
