/* SPDX-License-Identifier: MIT */
/*
 * cmd_run.c: `sandboxvm run`. Parses the command line into guest configs,
 * runs them through the library, shows their output live and writes the
 * requested reports. No sandboxing logic lives here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "sandboxvm/channel.h"
#include "sandboxvm/sandboxvm.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#define GUEST_SEPARATOR ":::"

/* Opens a report file before any guest runs, so a bad path costs nothing. */
static FILE *open_report(const char *opt, const char *path)
{
    FILE *f;
    int fd;

    if (streq(path, "-"))
        return stdout;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        cli_error("%s: cannot write %s: %s", opt, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    return f;
}

static int open_output_dir(const char *dir)
{
    int fd;

    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        cli_error("--output-dir: cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        cli_error("--output-dir: cannot open %s: %s", dir, strerror(errno));
    return fd;
}

/* Splits argv[first..argc) on ":::" into guests; each must name a program. */
static int split_guests(int argc, char **argv, int first, size_t *starts, size_t *lens,
                        size_t *nguests)
{
    size_t n = 0;
    int start = first;

    for (int i = first; i <= argc; i++) {
        if (i < argc && !streq(argv[i], GUEST_SEPARATOR))
            continue;
        if (i == start) {
            cli_error("an empty command %s: every '" GUEST_SEPARATOR
                      "' must be followed by a program",
                      n == 0 ? "before the first '" GUEST_SEPARATOR "'"
                             : "after a '" GUEST_SEPARATOR "'");
            return -1;
        }
        starts[n] = (size_t)start;
        lens[n] = (size_t)(i - start);
        n++;
        start = i + 1;
    }
    *nguests = n;
    return 0;
}

/* --channel: a guest's sbvm_log() lines, shown as its stderr is (tagged,
 * defused on a terminal), marked as logs. */
static void on_channel(void *ctx, size_t index, sbvm_channel *ch, int events)
{
    (void)ctx;
    if (events == 0)
        sbvm_channel_set_userdata(ch, (void *)(uintptr_t)index);
}

static void on_channel_log(sbvm_channel *ch, unsigned level, const char *text, size_t len,
                           void *ctx)
{
    size_t index = (size_t)(uintptr_t)sbvm_channel_userdata(ch);
    struct strbuf line = STRBUF_INIT;

    (void)level;
    strbuf_addf(&line, "log: %.*s\n", (int)(len > 4096 ? 4096 : len), text);
    if (!strbuf_failed(&line))
        output_on_data(ctx, index, SBVM_STDERR, line.buf, line.len);
    strbuf_release(&line);
}

/* Crashes, denials, refused calls and leftovers, after the run, on stderr. */
static void print_details(sbvm_runner *rn, size_t nguests)
{
    for (size_t i = 0; i < nguests; i++) {
        const sbvm_result *r = sbvm_runner_result(rn, i);
        char *d = r ? sbvm_result_details(r, "  ") : NULL;
        if (d && *d) {
            fflush(stdout);
            cli_text(2, "%s:\n%s", sbvm_result_name(r), d);
        }
        free(d);
    }
}

static int finish_reports(const struct run_opts *o, sbvm_runner *rn, FILE *json, FILE *junit,
                          size_t nguests, bool stdout_closed)
{
    sbvm_error *err = NULL;
    int status = 0;

    if (json && sbvm_report_json(rn, json, &err) < 0) {
        cli_error("--json: %s", sbvm_error_message(err));
        sbvm_error_free(err);
        err = NULL;
        status = EXIT_USAGE;
    }
    if (junit && sbvm_report_junit(rn, junit, &err) < 0) {
        cli_error("--junit: %s", sbvm_error_message(err));
        sbvm_error_free(err);
        err = NULL;
        status = EXIT_USAGE;
    }
    if (!sbvm_runner_result(rn, 0))
        return status; /* nothing ran: the error said why */
    if (!o->quiet && (nguests > 1 || o->summary)) {
        fflush(stdout);
        sbvm_report_summary(rn, stderr, NULL);
    } else if (!o->quiet && nguests == 1 && !stdout_closed) {
        /* (When our reader went away, the guest ending of SIGPIPE is what
         * was asked for, as in any pipeline: no message.) */
        const sbvm_result *r = sbvm_runner_result(rn, 0);
        if (r && sbvm_result_exit_status(r) != 0 &&
            !(sbvm_result_outcome(r) == SBVM_OUTCOME_EXITED)) {
            /* The outcome line: exits with a code speak for themselves. */
            fflush(stdout);
            cli_error("%s: %s", sbvm_result_name(r), sbvm_result_message(r));
        }
    }
    if (!o->quiet)
        print_details(rn, nguests);
    return status;
}

int cli_run_prepare(int argc, char **argv, struct run_prepared *p)
{
    struct run_opts o;
    size_t *starts = NULL, *lens = NULL, nguests = 0;
    sbvm_runner *rn = NULL;
    sbvm_config *tmpl = NULL;
    sbvm_error *err = NULL;
    int status = EXIT_USAGE, optind, r;

    memset(p, 0, sizeof(*p));
    r = cli_parse_options(argc, argv, "run", &o, &optind);
    if (r != 0) {
        cli_free_opts(&o);
        p->help = r > 0;
        return r > 0 ? 0 : EXIT_USAGE;
    }
    if (optind >= argc && o.ndrivers) {
        cli_error("run: -r needs a test program to load the drivers: -t PROGRAM [ARGS] (one "
                  "linked with libsbvm-guest that calls sbvm_drivers_load(); see "
                  "docs/DRIVERS.md)");
        goto done;
    }
    if (optind >= argc) {
        cli_error("run: no program given (usage: sandboxvm run [OPTIONS] [--] PROGRAM "
                  "[ARGS...]; see --help)");
        goto done;
    }
    if (o.quiet && o.summary) {
        cli_error("--quiet and --summary contradict each other: choose one");
        goto done;
    }
    if (o.json && o.junit && streq(o.json, "-") && streq(o.junit, "-")) {
        cli_error("--json - and --junit - would both write to standard output: send one to a "
                  "file");
        goto done;
    }
    starts = calloc((size_t)argc, sizeof(*starts));
    lens = calloc((size_t)argc, sizeof(*lens));
    if (!starts || !lens)
        goto oom;
    if (split_guests(argc, argv, optind, starts, lens, &nguests) < 0)
        goto done;
    if ((o.ndevices || o.ndrivers) && o.channel) {
        cli_error("--device and -r use the guest's host channel (fd 3): --channel cannot be "
                  "given with them");
        goto done;
    }
    if ((o.ndevices || o.ndrivers) && (nguests > 1 || o.one_sandbox)) {
        cli_error("--device and -r: one guest, in a sandbox of its own (its devices' images "
                  "are not shared)");
        goto done;
    }
    if (o.nnames > nguests) {
        cli_error("%zu names given for %zu guest%s: give at most one --name per guest", o.nnames,
                  nguests, nguests == 1 ? "" : "s");
        goto done;
    }
    for (size_t i = 0; i < o.nnames; i++)
        for (size_t k = i + 1; k < o.nnames; k++)
            if (streq(o.names[i], o.names[k])) {
                cli_error("two guests are both named '%s': names must be unique within a run",
                          o.names[i]);
                goto done;
            }

    rn = sbvm_runner_new();
    if (!rn)
        goto oom;
    if (sbvm_runner_set_parallel(rn, o.jobs, &err) < 0)
        goto lib_error;
    /* The options (and the profile) once, for every guest; each guest then
     * gets its own command and name. */
    tmpl = sbvm_config_new();
    if (!tmpl)
        goto oom;
    if (cli_build_config(&o, tmpl, &err) < 0) {
        if (!err)
            goto done; /* already explained */
        goto lib_error;
    }
    if (o.channel) {
        /* The channel's own calls only (hello, log, rings, growth): a
         * program built with the guest SDK finds it; its logs are shown. */
        if (!(p->chan = sbvm_channel_config_new()))
            goto oom;
        sbvm_config_set_channel(tmpl, p->chan);
    }
    for (size_t i = 0; i < nguests; i++) {
        sbvm_config *cfg = sbvm_config_dup(tmpl);
        if (!cfg)
            goto oom;
        r = sbvm_config_set_argv(cfg, lens[i], (const char *const *)argv + starts[i], &err);
        if (r == 0 && i < o.nnames)
            r = sbvm_config_set_name(cfg, o.names[i], &err);
        if (r == 0 && nguests == 1 && !o.no_stdin && fcntl(0, F_GETFD) >= 0)
            sbvm_config_set_stdin_fd(cfg, 0);
        if (r == 0)
            r = sbvm_runner_add(rn, cfg, &err);
        sbvm_config_free(cfg);
        if (r < 0) {
            if (!err)
                goto done; /* already explained */
            goto lib_error;
        }
    }

    /* One sandbox for all: it shows each guest's program as run would
     * show it in a sandbox of its own (./tool, build/test-x). */
    for (size_t i = 0; o.one_sandbox && i < nguests; i++)
        if (sbvm_config_add_program(tmpl, argv[starts[i]], &err) < 0)
            goto lib_error;

    p->o = o;
    p->rn = rn;
    p->tmpl = tmpl;
    p->nguests = nguests;
    free(starts);
    free(lens);
    return 0;

oom:
    cli_error("out of memory");
    status = EXIT_USAGE;
    goto done;
lib_error:
    cli_error("%s", sbvm_error_message(err));
    sbvm_error_free(err);
    status = EXIT_USAGE;
done:
    sbvm_config_free(tmpl);
    sbvm_runner_free(rn);
    sbvm_channel_config_free(p->chan);
    p->chan = NULL;
    cli_free_opts(&o);
    free(starts);
    free(lens);
    return status;
}

void cli_run_prepared_free(struct run_prepared *p)
{
    sbvm_runner_free(p->rn);
    sbvm_config_free(p->tmpl);
    sbvm_channel_config_free(p->chan);
    cli_free_opts(&p->o);
    memset(p, 0, sizeof(*p));
}

int cmd_run(int argc, char **argv)
{
    struct run_prepared p;
    struct run_opts o;
    size_t nguests;
    sbvm_runner *rn;
    sbvm_error *err = NULL;
    struct output *out = NULL;
    FILE *json = NULL, *junit = NULL;
    sbvm_sandbox *shared = NULL;
    sbvm_result *final = NULL;
    int dir_fd = -1, sig_r = -1, sig_w = -1, status;

    status = cli_run_prepare(argc, argv, &p);
    if (status != 0 || p.help)
        return status;
    o = p.o;
    rn = p.rn;
    nguests = p.nguests;
    status = EXIT_USAGE;

    if (o.json && !(json = open_report("--json", o.json)))
        goto done;
    if (o.junit && !(junit = open_report("--junit", o.junit)))
        goto done;
    if (o.output_dir && (dir_fd = open_output_dir(o.output_dir)) < 0)
        goto done;

    /* A report on standard output keeps it to itself: the guests' own
     * standard output then goes to standard error. */
    out = output_new(
        nguests,
        &(struct output_opts){
            .tag = !o.no_tag,
            .dir_fd = dir_fd,
            .file_cap = o.output_dir_limit ? o.output_dir_limit : OUTPUT_DIR_LIMIT_DEFAULT,
            .stdout_fd = (o.json && streq(o.json, "-")) || (o.junit && streq(o.junit, "-")) ? 2 : 1,
        });
    if (!out)
        goto oom;
    if (cli_signal_pipe((const int[]){ SIGINT, SIGTERM, SIGHUP, SIGQUIT }, 4, &sig_r, &sig_w) < 0) {
        cli_error("cannot set up signal handling: %s", strerror(errno));
        goto done;
    }
    output_set_signal_fd(out, sig_w);
    sbvm_runner_set_signal_fd(rn, sig_r);
    if (o.one_sandbox) {
        /* Every guest a job of one live sandbox, in the order given (with
         * -j, side by side): what one leaves in /tmp the next one finds. */
        if (sbvm_config_set_name(p.tmpl, "one-sandbox", &err) < 0 ||
            sbvm_sandbox_create(NULL, p.tmpl, &shared, &err) < 0 ||
            sbvm_runner_use_sandbox(rn, shared, &err) < 0) {
            cli_error("--one-sandbox: %s", sbvm_error_message(err));
            sbvm_error_free(err);
            err = NULL;
            goto done;
        }
    }
    if (p.chan)
        sbvm_channel_config_set_log(p.chan, on_channel_log, out);
    sbvm_runner_set_events(rn, &(struct sbvm_events){
                                   .ctx = out,
                                   .on_start = output_on_start,
                                   .on_output = output_on_data,
                                   .on_end = output_on_end,
                                   .on_channel = on_channel,
                               });
    if (sbvm_runner_run(rn, &err) < 0) {
        cli_error("%s", sbvm_error_message(err));
        sbvm_error_free(err);
        err = NULL;
        /* Whatever finished is still reported. */
    }
    status = sbvm_runner_exit_status(rn);
    if (shared) {
        /* What the jobs left running, and in the sandbox's /tmp: told
         * after the guests' own reports. */
        sbvm_sandbox_destroy(shared, &final, NULL);
        shared = NULL;
    }
    output_report_cuts(out, o.output_dir);
    if (output_file_error(out)) {
        /* The guests ran, but what they wrote was not all saved. */
        cli_error("--output-dir: %s", output_file_error(out));
        if (status == 0)
            status = EXIT_USAGE;
    }
    if (finish_reports(&o, rn, json, junit, nguests, output_stdout_closed(out)) != 0 && status == 0)
        status = EXIT_USAGE;
    if (final && !o.quiet) {
        char *d = sbvm_result_details(final, "  ");
        if (d && *d)
            cli_text(2, "the sandbox, when it ended:\n%s", d);
        free(d);
    }
    goto done;

oom:
    cli_error("out of memory");
    status = EXIT_USAGE;
done:
    /* The runner goes before the sandbox it used. */
    sbvm_runner_free(p.rn);
    p.rn = NULL;
    if (shared)
        sbvm_sandbox_destroy(shared, NULL, NULL);
    if (json && json != stdout)
        fclose(json);
    if (junit && junit != stdout)
        fclose(junit);
    if (dir_fd >= 0)
        close(dir_fd);
    output_free(out);
    sbvm_result_free(final);
    cli_run_prepared_free(&p);
    return status;
}
