/* SPDX-License-Identifier: MIT */
/*
 * test-sandbox.c: live sandboxes through the public API: many jobs in one
 * sandbox, each ending alone, files put and got at any time, the live
 * inventory, terminals, and an end that leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandboxvm/channel.h"
#include "sandboxvm/sandboxvm.h"
#include "unit.h"

static sbvm_sandbox *make(sbvm_config *cfg)
{
    sbvm_sandbox *sb = NULL;
    sbvm_error *err = NULL;
    int own = !cfg;

    if (own)
        cfg = sbvm_config_new();
    ck_assert_msg(sbvm_sandbox_create(NULL, cfg, &sb, &err) == 0, "create: %s",
                  err ? sbvm_error_message(err) : "?");
    if (own)
        sbvm_config_free(cfg);
    return sb;
}

struct out {
    char buf[4096];
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

/* Runs argv in sb to its end; the job (free it). */
static sbvm_job *run_in(sbvm_sandbox *sb, const char *const *argv, struct out *o,
                        uint64_t timeout_ms)
{
    struct sbvm_job_events ev = { .ctx = o, .on_output = collect };
    struct sbvm_exec ex = { .size = sizeof(ex), .argv = argv, .stdin_fd = -1 };
    sbvm_job *j = NULL;
    sbvm_error *err = NULL;

    ex.events = o ? &ev : NULL;
    ex.timeout_ms = timeout_ms;
    ck_assert_msg(sbvm_sandbox_exec(sb, &ex, &j, &err) == 0, "exec: %s",
                  err ? sbvm_error_message(err) : "?");
    ck_assert_msg(sbvm_job_wait(j, 30000, &err) == 0, "wait: %s",
                  err ? sbvm_error_message(err) : "?");
    ck_assert_ptr_nonnull(sbvm_job_result(j));
    return j;
}

static void destroy(sbvm_sandbox *sb)
{
    sbvm_error *err = NULL;
    ck_assert_msg(sbvm_sandbox_destroy(sb, NULL, &err) == 0, "destroy: %s",
                  err ? sbvm_error_message(err) : "?");
}

START_TEST(jobs_share_files_and_end_alone)
{
    sbvm_sandbox *sb = make(NULL);
    struct out o = { 0 };
    sbvm_job *j;
    const sbvm_result *r;

    j = run_in(sb, (const char *[]){ "sh", "-c", "echo kept >/tmp/note", NULL }, NULL, 0);
    ck_assert_int_eq(sbvm_result_outcome(sbvm_job_result(j)), SBVM_OUTCOME_EXITED);
    sbvm_job_free(j);
    /* A crash ends its job, not the sandbox. */
    j = run_in(sb, (const char *[]){ "sh", "-c", "kill -SEGV $$", NULL }, NULL, 0);
    r = sbvm_job_result(j);
    ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_CRASHED);
    ck_assert_int_eq(sbvm_result_signal(r), SIGSEGV);
    sbvm_job_free(j);
    /* So does running out of time. */
    j = run_in(sb, (const char *[]){ "sleep", "30", NULL }, NULL, 300);
    r = sbvm_job_result(j);
    ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_LIMIT);
    ck_assert_int_eq(sbvm_result_exit_status(r), 124);
    sbvm_job_free(j);
    /* A missing program is its job's outcome. */
    j = run_in(sb, (const char *[]){ "sbvm-no-such-program", NULL }, NULL, 0);
    ck_assert_int_eq(sbvm_result_outcome(sbvm_job_result(j)), SBVM_OUTCOME_NOT_FOUND);
    sbvm_job_free(j);
    /* And the first job's file is still there for the next. */
    j = run_in(sb, (const char *[]){ "cat", "/tmp/note", NULL }, &o, 0);
    ck_assert_msg(sbvm_result_exit_status(sbvm_job_result(j)) == 0, "%s",
                  sbvm_result_message(sbvm_job_result(j)));
    ck_assert_str_eq(o.buf, "kept\n");
    sbvm_job_free(j);
    destroy(sb);
}
END_TEST

START_TEST(a_denied_job_ends_alone)
{
    sbvm_config *cfg = sbvm_config_new();
    sbvm_sandbox *sb;
    sbvm_job *j;
    const sbvm_result *r;
    struct out o = { 0 };

    ck_assert_int_eq(sbvm_config_deny_syscall(cfg, "mkdir", NULL), 0);
    sb = make(cfg);
    sbvm_config_free(cfg);
    j = run_in(sb, (const char *[]){ "sh", "-c", "mkdir /tmp/d; echo survived", NULL }, &o, 0);
    r = sbvm_job_result(j);
    ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_DENIED);
    ck_assert_str_eq(sbvm_result_denial(r)->name, "mkdir");
    ck_assert_ptr_null(strstr(o.buf, "survived"));
    sbvm_job_free(j);
    j = run_in(sb, (const char *[]){ "true", NULL }, NULL, 0);
    ck_assert_int_eq(sbvm_result_exit_status(sbvm_job_result(j)), 0);
    sbvm_job_free(j);
    destroy(sb);
}
END_TEST

static long rss_kb(void)
{
    char line[256];
    long v = 0;
    FILE *f = fopen("/proc/self/status", "r");

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

START_TEST(a_thousand_jobs_leave_the_host_flat)
{
    sbvm_sandbox *sb = make(NULL);
    int fds, mounts;
    long rss;

    for (int i = 0; i < 20; i++)
        sbvm_job_free(run_in(sb, (const char *[]){ "true", NULL }, NULL, 0));
    fds = unit_count_fds();
    mounts = unit_count_mounts();
    rss = rss_kb();
    for (int i = 0; i < 1000; i++) {
        sbvm_job *j = run_in(sb, (const char *[]){ "true", NULL }, NULL, 0);
        ck_assert_int_eq(sbvm_result_exit_status(sbvm_job_result(j)), 0);
        sbvm_job_free(j);
    }
    ck_assert_int_eq(unit_count_fds(), fds);
    ck_assert_int_eq(unit_count_mounts(), mounts);
#ifndef __SANITIZE_ADDRESS__
    /* A leak of 1 KiB a job would be 1 MiB. */
    ck_assert_msg(rss_kb() - rss < 1024, "RSS grew from %ld to %ld KiB", rss, rss_kb());
#else
    (void)rss; /* ASan's quarantine holds freed memory: RSS says nothing */
#endif
    destroy(sb);
}
END_TEST

START_TEST(files_go_in_and_out_without_following_the_guests_symlinks)
{
    sbvm_sandbox *sb = make(NULL);
    char *dir = unit_tmpdir(), src[512], dst[512], got[64] = { 0 };
    sbvm_error *err = NULL;
    struct stat st;
    sbvm_job *j;
    int fd;

    snprintf(src, sizeof(src), "%s/in", dir);
    unit_write_file(src, "from the host\n", 14, 0644);
    ck_assert_int_eq(sbvm_sandbox_put(sb, src, "/tmp/in", 0, &err), 0);
    j = run_in(sb,
               (const char *[]){ "sh", "-c",
                                 "cat /tmp/in >/tmp/out; ln -s /etc/passwd /tmp/link; "
                                 "mkdir /tmp/d; ln -s / /tmp/d/up",
                                 NULL },
               NULL, 0);
    sbvm_job_free(j);
    snprintf(dst, sizeof(dst), "%s/out", dir);
    ck_assert_int_eq(sbvm_sandbox_get(sb, "/tmp/out", dst, 0, &err), 0);
    fd = open(dst, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, got, sizeof(got)), 14);
    close(fd);
    ck_assert_str_eq(got, "from the host\n");
    /* Not over what exists, unless asked; a directory never. */
    ck_assert_int_lt(sbvm_sandbox_get(sb, "/tmp/out", dst, 0, NULL), 0);
    ck_assert_int_eq(sbvm_sandbox_get(sb, "/tmp/in", dst, SBVM_COPY_REPLACE, NULL), 0);
    ck_assert_int_lt(sbvm_sandbox_get(sb, "/tmp/out", dir, SBVM_COPY_REPLACE, NULL), 0);
    /* The guest's symlink comes out as a symlink, never its target. */
    snprintf(dst, sizeof(dst), "%s/link", dir);
    ck_assert_int_eq(sbvm_sandbox_get(sb, "/tmp/link", dst, 0, NULL), 0);
    ck_assert_int_eq(lstat(dst, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    /* A path through a guest's symlink is refused, either way. */
    ck_assert_int_lt(sbvm_sandbox_put(sb, src, "/tmp/d/up/etc/evil", 0, NULL), 0);
    snprintf(dst, sizeof(dst), "%s/passwd", dir);
    ck_assert_int_lt(sbvm_sandbox_get(sb, "/tmp/d/up/etc/passwd", dst, 0, NULL), 0);
    ck_assert_int_lt(sbvm_sandbox_get(sb, "/tmp/../etc/passwd", dst, 0, NULL), 0);
    ck_assert_int_lt(sbvm_sandbox_put(sb, src, "relative", 0, NULL), 0);
    ck_assert_int_ne(access(dst, F_OK), 0);
    destroy(sb);
    unit_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(the_live_inventory_sees_a_background_process)
{
    sbvm_sandbox *sb = make(NULL);
    const struct sbvm_left_process *p;
    sbvm_result *inv = NULL;
    sbvm_job *j;
    bool found = false;
    size_t n;

    j = run_in(sb,
               (const char *[]){ "sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo >/tmp/mark", NULL },
               NULL, 0);
    sbvm_job_free(j);
    ck_assert_int_eq(sbvm_sandbox_inventory(sb, &inv, NULL), 0);
    n = sbvm_result_left_processes(inv, &p);
    for (size_t i = 0; i < n; i++)
        found |= strstr(p[i].argv, "sleep 1000") != NULL;
    ck_assert_msg(found, "the background sleep is not in the inventory");
    sbvm_result_free(inv);
    /* The sandbox goes on: nothing was stopped. */
    j = run_in(sb, (const char *[]){ "cat", "/tmp/mark", NULL }, NULL, 0);
    ck_assert_int_eq(sbvm_result_exit_status(sbvm_job_result(j)), 0);
    sbvm_job_free(j);
    destroy(sb);
}
END_TEST

START_TEST(destroy_ends_running_jobs)
{
    sbvm_sandbox *sb = make(NULL);
    struct sbvm_exec ex = { .size = sizeof(ex),
                            .argv = (const char *[]){ "sleep", "1000", NULL },
                            .stdin_fd = -1 };
    sbvm_result *final = NULL;
    sbvm_job *j = NULL;
    const struct sbvm_left_process *p;

    ck_assert_int_eq(sbvm_sandbox_exec(sb, &ex, &j, NULL), 0);
    ck_assert_int_eq(sbvm_job_wait(j, 300, NULL), -ETIMEDOUT);
    ck_assert_int_eq(sbvm_sandbox_destroy(sb, &final, NULL), 0);
    ck_assert_ptr_nonnull(sbvm_job_result(j));
    ck_assert_int_eq(sbvm_result_outcome(sbvm_job_result(j)), SBVM_OUTCOME_KILLED);
    /* The sandbox's own result holds its ledger: the sleep it ended. */
    ck_assert_ptr_nonnull(final);
    ck_assert_uint_ge(sbvm_result_left_processes(final, &p), 1);
    sbvm_result_free(final);
    sbvm_job_free(j);
}
END_TEST

START_TEST(a_job_gets_a_terminal_of_the_sandboxs_own)
{
    sbvm_sandbox *sb = make(NULL);
    struct out o = { 0 };
    struct sbvm_job_events ev = { .ctx = &o, .on_output = collect };
    struct sbvm_exec ex = {
        .size = sizeof(ex), .stdin_fd = -1, .terminal = 1, .rows = 30, .cols = 100, .events = &ev
    };
    sbvm_job *j = NULL;

    ex.argv = (const char *[]){ "sh", "-c", "tty; stty size; test -t 0 && echo interactive", NULL };
    ck_assert_int_eq(sbvm_sandbox_exec(sb, &ex, &j, NULL), 0);
    ck_assert_int_eq(sbvm_job_wait(j, 30000, NULL), 0);
    ck_assert_int_eq(sbvm_result_exit_status(sbvm_job_result(j)), 0);
    ck_assert_msg(strstr(o.buf, "/dev/pts/0") && strstr(o.buf, "30 100") &&
                      strstr(o.buf, "interactive"),
                  "terminal output: [%s]", o.buf);
    sbvm_job_free(j);
    destroy(sb);
}
END_TEST

START_TEST(stdin_reaches_a_job)
{
    sbvm_sandbox *sb = make(NULL);
    struct out o = { 0 };
    struct sbvm_job_events ev = { .ctx = &o, .on_output = collect };
    struct sbvm_exec ex = { .size = sizeof(ex),
                            .argv = (const char *[]){ "cat", NULL },
                            .events = &ev };
    int p[2];
    sbvm_job *j = NULL;

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "typed\n", 6), 6);
    close(p[1]);
    ex.stdin_fd = p[0];
    ck_assert_int_eq(sbvm_sandbox_exec(sb, &ex, &j, NULL), 0);
    ck_assert_int_eq(sbvm_job_wait(j, 30000, NULL), 0);
    close(p[0]);
    ck_assert_str_eq(o.buf, "typed\n");
    sbvm_job_free(j);
    destroy(sb);
}
END_TEST

/* A job freed after its exec failed is forgotten by everyone: the exit of
 * its process, reported later, never lands on the next job (which may
 * well get the freed job's address). */
START_TEST(a_freed_jobs_late_exit_is_nobodys)
{
    sbvm_sandbox *sb = make(NULL);

    for (int i = 0; i < 20; i++) {
        sbvm_job *j = run_in(sb, (const char *[]){ "sbvm-no-such-program", NULL }, NULL, 0);
        const sbvm_result *r;
        ck_assert_int_eq(sbvm_result_outcome(sbvm_job_result(j)), SBVM_OUTCOME_NOT_FOUND);
        sbvm_job_free(j);
        j = run_in(sb, (const char *[]){ "sh", "-c", "sleep 0.01", NULL }, NULL, 0);
        r = sbvm_job_result(j);
        ck_assert_msg(sbvm_result_exit_status(r) == 0, "round %d: %s", i, sbvm_result_message(r));
        sbvm_job_free(j);
    }
    destroy(sb);
}
END_TEST

static int32_t count_bytes(sbvm_channel *ch, uint32_t id, const void *in, size_t in_len, void *out,
                           size_t out_cap, size_t *out_len, void *userdata)
{
    (void)ch;
    (void)id;
    (void)in;
    (void)out;
    (void)out_cap;
    (void)userdata;
    *out_len = 0;
    return (int32_t)in_len * 10 + 2;
}

struct chan_out {
    struct out o; /* first: collect() takes the same ctx */
    int seen;
};

static void channel_events(void *ctx, sbvm_job *j, int events)
{
    (void)j;
    ((struct chan_out *)ctx)->seen |= events;
}

/* A job with a host channel: fd 3 and SBVM_CHANNEL, served in the loop
 * while sbvm_job_wait() runs; a job without one has neither. */
START_TEST(a_job_gets_its_host_channel)
{
    sbvm_sandbox *sb = make(NULL);
    sbvm_channel_config *cc = sbvm_channel_config_new();
    sbvm_channel *ch = NULL;
    struct out o = { 0 };
    struct chan_out co = { 0 };
    struct sbvm_job_events ev = { .ctx = &co, .on_output = collect, .on_channel = channel_events };
    char probe[4096];
    const char *argv[] = { probe, "hello", NULL };
    struct sbvm_exec ex = { .size = sizeof(ex), .argv = argv, .stdin_fd = -1 };
    sbvm_job *j = NULL;
    sbvm_error *err = NULL;

    snprintf(probe, sizeof(probe), "%s/chanprobe", unit_guest_dir());
    ck_assert_ptr_nonnull(cc);
    ck_assert_int_eq(
        sbvm_channel_config_add_call(cc, SBVM_CHANNEL_CALL_USER, count_bytes, NULL, NULL), 0);
    ck_assert_int_eq(sbvm_channel_new(cc, &ch, NULL), 0);
    sbvm_sandbox_put(sb, probe, "/tmp/chanprobe", 0, NULL);
    argv[0] = "/tmp/chanprobe";
    ex.channel = ch;
    ex.events = &ev;
    ck_assert_msg(sbvm_sandbox_exec(sb, &ex, &j, &err) == 0, "exec: %s",
                  err ? sbvm_error_message(err) : "?");
    ck_assert_int_eq(sbvm_job_wait(j, 30000, NULL), 0);
    ck_assert_int_eq(sbvm_result_exit_status(sbvm_job_result(j)), 0);
    ck_assert(co.seen & SBVM_CHANNEL_EV_HELLO);
    /* "ping" is 4 bytes: the host function answered 4 * 10 + 2. */
    ck_assert_msg(strstr(co.o.buf, "call: answered 42\n"), "%s", co.o.buf);
    ck_assert_ptr_null(sbvm_result_channel_error(sbvm_job_result(j)));
    sbvm_job_free(j);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cc);
    /* Without one: no fd 3, no variable. */
    j = run_in(sb, (const char *[]){ "/tmp/chanprobe", "fd", NULL }, &o, 0);
    ck_assert_str_eq(o.buf, "fd3: closed, SBVM_CHANNEL: unset\n");
    sbvm_job_free(j);
    destroy(sb);
}
END_TEST

/* A held job (an OCI container's process) with a host channel: both come
 * with the exec server's request; it waits before its exec until released,
 * then finds its channel at fd 3. */
START_TEST(a_held_job_gets_its_host_channel_once_released)
{
    sbvm_sandbox *sb = make(NULL);
    sbvm_channel_config *cc = sbvm_channel_config_new();
    sbvm_channel *ch = NULL;
    struct chan_out co = { 0 };
    struct sbvm_job_events ev = { .ctx = &co, .on_output = collect, .on_channel = channel_events };
    char probe[4096];
    const char *argv[] = { "/tmp/chanprobe", "hello", NULL };
    struct sbvm_exec ex = { .size = sizeof(ex), .argv = argv, .stdin_fd = -1 };
    sbvm_job *j = NULL;
    sbvm_error *err = NULL;

    snprintf(probe, sizeof(probe), "%s/chanprobe", unit_guest_dir());
    ck_assert_ptr_nonnull(cc);
    ck_assert_int_eq(
        sbvm_channel_config_add_call(cc, SBVM_CHANNEL_CALL_USER, count_bytes, NULL, NULL), 0);
    ck_assert_int_eq(sbvm_channel_new(cc, &ch, NULL), 0);
    sbvm_sandbox_put(sb, probe, "/tmp/chanprobe", 0, NULL);
    ex.channel = ch;
    ex.events = &ev;
    ex.hold = 1;
    ck_assert_msg(sbvm_sandbox_exec(sb, &ex, &j, &err) == 0, "exec: %s",
                  err ? sbvm_error_message(err) : "?");
    /* Held: its process exists, its program has not run. */
    ck_assert_int_eq(sbvm_job_wait_started(j, 30000, NULL), 0);
    ck_assert_int_gt(sbvm_job_pid(j), 0);
    ck_assert_int_eq(co.seen, 0);
    ck_assert_int_eq(sbvm_job_release(j), 0);
    ck_assert_int_eq(sbvm_job_wait(j, 30000, NULL), 0);
    ck_assert_int_eq(sbvm_result_exit_status(sbvm_job_result(j)), 0);
    ck_assert(co.seen & SBVM_CHANNEL_EV_HELLO);
    ck_assert_msg(strstr(co.o.buf, "call: answered 42\n"), "%s", co.o.buf);
    sbvm_job_free(j);
    sbvm_channel_free(ch);
    sbvm_channel_config_free(cc);
    destroy(sb);
}
END_TEST

/* A runner on a live sandbox: its guests are jobs there; the sandbox may
 * be destroyed once the run is over, before the runner is freed (the
 * runner left its signal watch in the sandbox's loop: ASan saw the use
 * after free). */
START_TEST(a_runner_runs_its_guests_in_a_live_sandbox)
{
    sbvm_sandbox *sb = make(NULL);
    sbvm_runner *rn = sbvm_runner_new();
    sbvm_config *cfg = sbvm_config_new();
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    sbvm_runner_set_signal_fd(rn, p[0]);
    ck_assert_int_eq(sbvm_runner_use_sandbox(rn, sb, NULL), 0);
    ck_assert_int_eq(
        sbvm_config_set_argv(cfg, 3, (const char *[]){ "sh", "-c", "echo x >/tmp/r" }, NULL), 0);
    ck_assert_int_eq(sbvm_runner_add(rn, cfg, NULL), 0);
    ck_assert_int_eq(sbvm_config_set_argv(cfg, 2, (const char *[]){ "cat", "/tmp/r" }, NULL), 0);
    ck_assert_int_eq(sbvm_runner_add(rn, cfg, NULL), 0);
    ck_assert_int_eq(sbvm_runner_run(rn, NULL), 0);
    ck_assert_int_eq(sbvm_runner_exit_status(rn), 0);
    ck_assert_int_eq(
        sbvm_result_output(sbvm_runner_result(rn, 1), SBVM_STDOUT, NULL, NULL, NULL, NULL), 2);
    destroy(sb);
    sbvm_runner_free(rn);
    sbvm_config_free(cfg);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* A program outside the view, named when the sandbox is made, runs by
 * that name; one that did not resolve fails with the reason of then. */
START_TEST(programs_named_at_creation_run_by_their_name)
{
    sbvm_config *cfg = sbvm_config_new();
    char probe[4096];
    sbvm_sandbox *sb;
    sbvm_job *j;
    const sbvm_result *r;
    struct out o = { 0 };

    snprintf(probe, sizeof(probe), "%s/probe", unit_guest_dir());
    ck_assert_int_eq(sbvm_config_add_program(cfg, probe, NULL), 0);
    ck_assert_int_eq(sbvm_config_add_program(cfg, probe, NULL), 0); /* once */
    ck_assert_int_eq(sbvm_config_add_program(cfg, "/sbvm/no/such/tool", NULL), 0);
    ck_assert_int_eq(sbvm_config_add_program(cfg, "", NULL), -EINVAL);
    sb = make(cfg);
    sbvm_config_free(cfg);
    j = run_in(sb, (const char *[]){ probe, "args", "hello", NULL }, &o, 0);
    r = sbvm_job_result(j);
    ck_assert_msg(sbvm_result_outcome(r) == SBVM_OUTCOME_EXITED, "%s", sbvm_result_message(r));
    ck_assert_int_eq(sbvm_result_exit_status(r), 0);
    ck_assert_str_eq(o.buf, "arg 0: [hello]\n");
    sbvm_job_free(j);
    j = run_in(sb, (const char *[]){ "/sbvm/no/such/tool", NULL }, NULL, 0);
    r = sbvm_job_result(j);
    ck_assert_int_eq(sbvm_result_outcome(r), SBVM_OUTCOME_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sbvm_result_message(r), "/sbvm/no/such/tool"));
    sbvm_job_free(j);
    destroy(sb);
}
END_TEST

START_TEST(a_sandbox_wide_limit_ends_the_sandbox)
{
    sbvm_config *cfg = sbvm_config_new();
    sbvm_sandbox *sb;
    sbvm_job *j;
    sbvm_result *final = NULL;
    uint64_t value, observed;

    ck_assert_int_eq(sbvm_config_set_limit(cfg, SBVM_LIMIT_DISK, 1 << 20, NULL), 0);
    sb = make(cfg);
    sbvm_config_free(cfg);
    j = run_in(sb,
               (const char *[]){ "sh", "-c", "head -c 4000000 /dev/zero >/tmp/big; sleep 5", NULL },
               NULL, 0);
    ck_assert_int_eq(sbvm_result_outcome(sbvm_job_result(j)), SBVM_OUTCOME_LIMIT);
    ck_assert_int_eq(sbvm_result_limit(sbvm_job_result(j), &value, &observed), SBVM_LIMIT_DISK);
    /* The sandbox ended with it, and says so. */
    ck_assert_int_eq(sbvm_sandbox_destroy(sb, &final, NULL), 0);
    ck_assert_int_eq(sbvm_result_outcome(final), SBVM_OUTCOME_LIMIT);
    sbvm_result_free(final);
    sbvm_job_free(j);
}
END_TEST

Suite *suite_sandbox(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("live");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, jobs_share_files_and_end_alone);
    tcase_add_test(tc, a_denied_job_ends_alone);
    tcase_add_test(tc, a_thousand_jobs_leave_the_host_flat);
    tcase_add_test(tc, files_go_in_and_out_without_following_the_guests_symlinks);
    tcase_add_test(tc, the_live_inventory_sees_a_background_process);
    tcase_add_test(tc, destroy_ends_running_jobs);
    tcase_add_test(tc, a_job_gets_a_terminal_of_the_sandboxs_own);
    tcase_add_test(tc, stdin_reaches_a_job);
    tcase_add_test(tc, a_sandbox_wide_limit_ends_the_sandbox);
    tcase_add_test(tc, programs_named_at_creation_run_by_their_name);
    tcase_add_test(tc, a_freed_jobs_late_exit_is_nobodys);
    tcase_add_test(tc, a_job_gets_its_host_channel);
    tcase_add_test(tc, a_held_job_gets_its_host_channel_once_released);
    tcase_add_test(tc, a_runner_runs_its_guests_in_a_live_sandbox);
    suite_add_tcase(s, tc);
    return s;
}
