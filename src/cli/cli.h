/* SPDX-License-Identifier: MIT */
/* cli.h: what the sandboxvm command's pieces share. */
#ifndef SBVM_CLI_CLI_H
#define SBVM_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/sandboxvm.h"

/* Exit status when sandboxvm itself cannot do what was asked: bad usage,
 * unwritable reports, a runner failure. Same as a guest's setup failure. */
#define EXIT_USAGE 125

int cmd_run(int argc, char **argv);
int cmd_shell(int argc, char **argv);
int cmd_serve(int argc, char **argv);
void cmd_serve_help(void);
int cmd_device(int argc, char **argv);
void cmd_device_help(void);
/* The OCI runtime (cmd_oci.c, src/oci): argv[0] is "oci" or the program. */
int cmd_oci(int argc, char **argv);
int cmd_call(int argc, char **argv);
void cmd_call_help(void);

/* What "sandboxvm run" was asked to do, parsed and checked. */
struct run_opts {
    char **names;
    size_t nnames;
    char **deny, **allow;
    size_t ndeny, nallow;
    uint64_t limits[SBVM_LIMIT__COUNT];
    unsigned limits_set;
    const char *keep;
    bool no_symbolize;
    int net;          /* enum sbvm_net; -1: not given */
    char **net_rules; /* allow rules, split on commas (owned) */
    size_t nnet_rules;
    bool net_allow_private;
    char **secrets;
    size_t nsecrets;
    char **trust_ca; /* --trust-ca FILE */
    size_t ntrust_ca;
    struct cli_mount {
        int kind; /* enum sbvm_mount_kind, or 100 + 0 copy-in, 100 + 1 copy-out */
        const char *arg;
    } * mounts;
    size_t nmounts;
    const char *rootfs;
    const char *profile; /* as given */
    char *profile_path;  /* found */
    char **envs;
    size_t nenvs;
    bool keep_env;
    const char *cwd;
    unsigned jobs;
    const char *output_dir;
    uint64_t output_dir_limit; /* bytes per file; 0: the default */
    const char *json;
    const char *junit;
    bool no_tag;
    bool no_stdin;
    bool quiet;
    bool summary;
    bool one_sandbox; /* every guest a job of one live sandbox */
    /* Devices and drivers: --device, -r, --trace-devices. */
    char **devices, **drivers;
    size_t ndevices, ndrivers;
    const char *trace_devices;
    bool trace_json;
    bool channel;           /* every guest gets a host channel */
    uint64_t kill_after_ms; /* after the first host signal, then SIGKILL */
    bool raw;               /* guests' bytes as they are, even to a terminal */
};

/* How long guests get to end after a Ctrl-C or SIGTERM before they are
 * killed (--kill-after): a CI system's cancellation waits about as long
 * before its own SIGKILL, and a guest must not outlive it. */
#define KILL_AFTER_DEFAULT_MS 10000

/* options.c: the options run and shell share. */
int cli_parse_options(int argc, char **argv, const char *cmd, struct run_opts *o, int *first);
int cli_build_config(const struct run_opts *o, sbvm_config *cfg, sbvm_error **err);
void cli_free_opts(struct run_opts *o);

/* The first half of cmd_run, without side effects on the host: options
 * parsed and checked, one config per guest added to a runner, nothing run.
 * 0 when p is ready to run; otherwise the exit status, after the error was
 * printed (or help, with p->help set and 0). The fuzzer drives this. */
struct run_prepared {
    struct run_opts o;
    sbvm_runner *rn;
    sbvm_config *tmpl;         /* the options as one config (--one-sandbox builds from it) */
    sbvm_channel_config *chan; /* --channel: the guests' channels' settings */
    size_t nguests;
    bool help;
};
int cli_run_prepare(int argc, char **argv, struct run_prepared *p);
void cli_run_prepared_free(struct run_prepared *p);
void cmd_run_help(void);
void cmd_shell_help(void);

/* signals.c: each of sigs[0..n) writes its number as a byte to a pipe
 * (read end *rfd, write end *wfd, both the caller's to keep); they are
 * unblocked, and SIGPIPE ignored. 0 or -errno. */
int cli_signal_pipe(const int *sigs, size_t n, int *rfd, int *wfd);

/* "sandboxvm: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, for what went wrong without failing the run. */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Text to fd, its control characters defused when fd is a terminal. */
void cli_text(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether colour may be used on fd (a TTY, and NO_COLOR unset). */
bool cli_color(int fd);

#endif
