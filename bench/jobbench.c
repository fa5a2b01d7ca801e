/* SPDX-License-Identifier: MIT */
/*
 * jobbench.c: what a job in a live sandbox costs, side by side in one
 * process, rounds alternating:
 *
 *   exec     a job of PROGRAM in a sandbox made once (sbvm_sandbox_exec +
 *            sbvm_job_wait + sbvm_job_free), against bare fork + execve +
 *            waitpid of the same program from this process;
 *   create   an idle live sandbox made and destroyed (sbvm_sandbox_create +
 *            sbvm_sandbox_destroy), against sbvm_run() of PROGRAM: what
 *            every program paid before live sandboxes.
 *
 *   jobbench [-r ROUNDS] [-n PER_ROUND] [-p PROGRAM]
 *
 * Prints per-operation medians over rounds (each round's figure is its mean
 * over PER_ROUND operations), min and max, and the median of the pairwise
 * ratios. Never part of the test suite.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandboxvm/sandboxvm.h"

static const char *program = "/bin/true";

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, sbvm_error *err)
{
    fprintf(stderr, "jobbench: %s: %s\n", what, err ? sbvm_error_message(err) : strerror(errno));
    exit(1);
}

/* Mean microseconds of n bare fork + execve + waitpid. */
static double bare_round(int n)
{
    char *const argv[] = { (char *)program, NULL };
    int64_t t0 = now_ns();

    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        int st;
        if (pid == 0) {
            execv(program, argv);
            _exit(127);
        }
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
            die("fork/exec", NULL);
    }
    return (double)(now_ns() - t0) / 1000.0 / n;
}

/* Mean microseconds of n jobs in sb. */
static double exec_round(sbvm_sandbox *sb, int n)
{
    const char *argv[] = { program, NULL };
    struct sbvm_exec ex = { .size = sizeof(ex), .argv = argv, .stdin_fd = -1 };
    int64_t t0 = now_ns();

    for (int i = 0; i < n; i++) {
        sbvm_job *j = NULL;
        sbvm_error *err = NULL;
        if (sbvm_sandbox_exec(sb, &ex, &j, &err) < 0 || sbvm_job_wait(j, 10000, &err) < 0)
            die("job", err);
        if (sbvm_result_exit_status(sbvm_job_result(j)) != 0)
            die(sbvm_result_message(sbvm_job_result(j)), NULL);
        sbvm_job_free(j);
    }
    return (double)(now_ns() - t0) / 1000.0 / n;
}

/* Mean microseconds of n idle sandboxes made and destroyed. */
static double create_round(const sbvm_config *cfg, int n)
{
    int64_t t0 = now_ns();

    for (int i = 0; i < n; i++) {
        sbvm_sandbox *sb = NULL;
        sbvm_error *err = NULL;
        if (sbvm_sandbox_create(NULL, cfg, &sb, &err) < 0)
            die("create", err);
        if (sbvm_sandbox_destroy(sb, NULL, &err) < 0)
            die("destroy", err);
    }
    return (double)(now_ns() - t0) / 1000.0 / n;
}

/* Mean microseconds of n sbvm_run() of the program. */
static double run_round(const sbvm_config *cfg, int n)
{
    int64_t t0 = now_ns();

    for (int i = 0; i < n; i++) {
        sbvm_result *r = NULL;
        sbvm_error *err = NULL;
        if (sbvm_run(cfg, &r, &err) < 0)
            die("run", err);
        if (sbvm_result_exit_status(r) != 0)
            die(sbvm_result_message(r), NULL);
        sbvm_result_free(r);
    }
    return (double)(now_ns() - t0) / 1000.0 / n;
}

static void report(const char *name, const char *base, double *a, double *b, int rounds)
{
    double ratio[1024], ma, mb, amin = a[0], amax = a[0], bmin = b[0], bmax = b[0];

    for (int i = 0; i < rounds; i++) {
        ratio[i] = a[i] / b[i];
        amin = a[i] < amin ? a[i] : amin;
        amax = a[i] > amax ? a[i] : amax;
        bmin = b[i] < bmin ? b[i] : bmin;
        bmax = b[i] > bmax ? b[i] : bmax;
    }
    ma = median(a, rounds);
    mb = median(b, rounds);
    printf("| %s | %.1f | %.1f-%.1f | %s | %.1f | %.1f-%.1f | %.2fx |\n", name, ma, amin, amax,
           base, mb, bmin, bmax, median(ratio, rounds));
}

int main(int argc, char **argv)
{
    int rounds = 11, per = 100, c;
    double a[1024], b[1024];
    sbvm_config *cfg = sbvm_config_new();
    sbvm_sandbox *sb = NULL;
    sbvm_error *err = NULL;

    while ((c = getopt(argc, argv, "r:n:p:")) != -1) {
        if (c == 'r')
            rounds = atoi(optarg);
        else if (c == 'n')
            per = atoi(optarg);
        else if (c == 'p')
            program = optarg;
        else
            return 2;
    }
    if (rounds < 1 || rounds > 1024 || per < 1 || !cfg)
        return 2;
    if (sbvm_config_set_argv(cfg, 1, (const char *[]){ program }, &err) < 0 ||
        sbvm_sandbox_create(NULL, cfg, &sb, &err) < 0)
        die("set-up", err);
    /* Warm both paths once: the first of each pays for page cache and the
     * backend's plans. */
    exec_round(sb, 5);
    bare_round(5);
    for (int i = 0; i < rounds; i++) {
        if (i % 2) {
            b[i] = bare_round(per);
            a[i] = exec_round(sb, per);
        } else {
            a[i] = exec_round(sb, per);
            b[i] = bare_round(per);
        }
    }
    printf("| operation (us, mean per round) | median | range | against | median | range | "
           "ratio (median of pairs) |\n|---|---:|---:|---|---:|---:|---:|\n");
    report("job of the program in a live sandbox", "bare fork+exec", a, b, rounds);
    if (sbvm_sandbox_destroy(sb, NULL, &err) < 0)
        die("destroy", err);
    create_round(cfg, 2);
    run_round(cfg, 2);
    for (int i = 0; i < rounds; i++) {
        int n = per / 10 ? per / 10 : 1;
        if (i % 2) {
            b[i] = run_round(cfg, n);
            a[i] = create_round(cfg, n);
        } else {
            a[i] = create_round(cfg, n);
            b[i] = run_round(cfg, n);
        }
    }
    report("create + destroy an idle sandbox", "sbvm_run of the program", a, b, rounds);
    sbvm_config_free(cfg);
    return 0;
}
