/* SPDX-License-Identifier: MIT */
/*
 * cmd_shell.c: `sandboxvm shell`: a program (a shell by default) on a
 * terminal of the sandbox's own, relayed to ours. Our terminal is put in raw
 * mode, so every key (^C, ^Z, ^D) goes to the guest's terminal, whose line
 * discipline decides what it means; our window size follows into the
 * sandbox; our terminal is restored however the shell ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandboxvm/sandboxvm.h"
#include "util/util.h"

static void write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            (void)poll(&pfd, 1, 1000);
            continue;
        }
        if (n <= 0)
            return; /* our reader is gone: the guest's output goes nowhere */
        p += n;
        len -= (size_t)n;
    }
}

static void on_output(void *ctx, sbvm_job *j, enum sbvm_stream s, const void *data, size_t len)
{
    (void)ctx;
    (void)j;
    (void)s;
    write_all(1, data, len);
}

static void window_size(unsigned short *rows, unsigned short *cols)
{
    struct winsize ws;

    if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}

/*
 * Relays until the job ends. Signals arrive as bytes on sig_r: a window
 * change is passed on; SIGINT and SIGQUIT reach us only when our terminal
 * is not raw (or from kill), and go to the job, as would the keys; SIGTERM
 * and SIGHUP mean we are asked to go, and end the job with them.
 */
static int relay(sbvm_loop *loop, sbvm_job *job, int sig_r)
{
    for (;;) {
        struct pollfd p[2] = {
            { .fd = sbvm_loop_fd(loop), .events = POLLIN },
            { .fd = sig_r, .events = POLLIN },
        };
        if (sbvm_job_result(job))
            return 0;
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return -errno;
        if (p[1].revents & POLLIN) {
            unsigned char b;
            while (read(sig_r, &b, 1) == 1) {
                if (b == SIGWINCH) {
                    unsigned short rows = 0, cols = 0;
                    window_size(&rows, &cols);
                    if (rows)
                        (void)sbvm_job_resize(job, rows, cols);
                } else {
                    (void)sbvm_job_signal(job, b);
                }
            }
        }
        if (sbvm_loop_run(loop, 0) < 0)
            return -EIO;
    }
}

/* The sandbox's own report when there is something to tell: what was left
 * running or in /tmp, a limit of the whole sandbox. */
static void report_sandbox(const sbvm_result *r, const char *title)
{
    char *d = r ? sbvm_result_details(r, "  ") : NULL;

    if (d && *d)
        cli_text(2, "%s:\n%s", title, d);
    free(d);
}

int cmd_shell(int argc, char **argv)
{
    static const char *const default_argv[] = { "/bin/sh", NULL };
    struct run_opts o;
    struct termios saved, raw;
    sbvm_config *cfg = NULL;
    sbvm_loop *loop = NULL;
    sbvm_sandbox *sb = NULL;
    sbvm_job *job = NULL;
    sbvm_result *final = NULL;
    sbvm_error *err = NULL;
    const char *const *prog = default_argv;
    bool tty = isatty(0), restored = true;
    int first, sig_r = -1, sig_w = -1, status = EXIT_USAGE, r;

    r = cli_parse_options(argc, argv, "shell", &o, &first);
    if (r != 0) {
        cli_free_opts(&o);
        return r > 0 ? 0 : EXIT_USAGE;
    }
    if (first < argc)
        prog = (const char *const *)argv + first;

    cfg = sbvm_config_new();
    loop = sbvm_loop_new();
    if (!cfg || !loop) {
        cli_error("out of memory");
        goto done;
    }
    if (cli_build_config(&o, cfg, &err) < 0)
        goto lib_error;
    if (cli_signal_pipe((const int[]){ SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT }, 5, &sig_r,
                        &sig_w) < 0) {
        cli_error("cannot set up signal handling: %s", strerror(errno));
        goto done;
    }
    if (sbvm_sandbox_create(loop, cfg, &sb, &err) < 0)
        goto lib_error;

    struct sbvm_job_events ev = { .on_output = on_output };
    struct sbvm_exec ex = {
        .size = sizeof(ex),
        .argv = prog,
        .cwd = o.cwd,
        .stdin_fd = 0,
        .terminal = 1,
        .rows = 24,
        .cols = 80,
        .events = &ev,
    };
    window_size(&ex.rows, &ex.cols);
    /* Raw before the shell draws its first prompt; restored below on every
     * path, including a failed start. */
    if (tty && tcgetattr(0, &saved) == 0) {
        raw = saved;
        cfmakeraw(&raw);
        if (tcsetattr(0, TCSAFLUSH, &raw) == 0)
            restored = false;
    }
    if (sbvm_sandbox_exec(sb, &ex, &job, &err) < 0)
        goto lib_error;
    if (relay(loop, job, sig_r) < 0) {
        cli_error("shell: the event loop failed");
        goto done;
    }
    if (!restored) {
        tcsetattr(0, TCSAFLUSH, &saved);
        restored = true;
    }
    {
        const sbvm_result *res = sbvm_job_result(job);
        char *d = sbvm_result_details(res, "  ");
        status = sbvm_result_exit_status(res);
        if (sbvm_result_outcome(res) != SBVM_OUTCOME_EXITED)
            cli_error("%s: %s", sbvm_result_name(res), sbvm_result_message(res));
        if (d && *d)
            cli_text(2, "%s:\n%s", sbvm_result_name(res), d);
        free(d);
    }
    sbvm_job_free(job);
    job = NULL;
    if (sbvm_sandbox_destroy(sb, &final, &err) < 0) {
        sb = NULL;
        goto lib_error;
    }
    sb = NULL;
    report_sandbox(final, "the sandbox, when it ended");
    goto done;

lib_error:
    if (!restored) {
        tcsetattr(0, TCSAFLUSH, &saved);
        restored = true;
    }
    if (err)
        cli_error("shell: %s", sbvm_error_message(err));
    sbvm_error_free(err);
    status = EXIT_USAGE;
done:
    if (!restored)
        tcsetattr(0, TCSAFLUSH, &saved);
    sbvm_job_free(job);
    if (sb)
        sbvm_sandbox_destroy(sb, NULL, NULL);
    sbvm_loop_free(loop);
    sbvm_result_free(final);
    sbvm_config_free(cfg);
    cli_free_opts(&o);
    if (sig_r >= 0) {
        close(sig_r);
        close(sig_w);
    }
    return status;
}
