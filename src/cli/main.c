/* SPDX-License-Identifier: MIT */
/* main.c: the sandboxvm command: subcommand dispatch, help and version. */
#include <fcntl.h>
#include <seccomp.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "report/escape.h"
#include "util/strbuf.h"
#include "sandboxvm/sandboxvm.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fputs("Usage: sandboxvm [--help] [--version] COMMAND [ARGS...]\n"
          "\n"
          "Run untrusted or crash-prone programs in isolated sandboxes and learn exactly how\n"
          "each one ended: its exit code, the signal it died of, the limit it hit.\n"
          "\n"
          "Commands:\n"
          "  run       run one or more programs, each in a sandbox of its own\n"
          "  shell     an interactive shell (or any program) in a sandbox, on a terminal\n"
          "  serve     keep sandboxes alive for clients of an HTTP API on a unix socket\n"
          "  device    serve a device model to a vhost-user client (device serve --help)\n"
          "  call      call a function of a shared library in a sandbox\n"
          "  help      show help for a command (sandboxvm help run)\n"
          "  version   show the version and the libraries in use\n"
          "\n"
          "Examples:\n"
          "  sandboxvm run -- ./untrusted-tool --input data.bin\n"
          "  sandboxvm run --json report.json -- python3 script.py ::: perl -e 'print 1'\n"
          "  sandboxvm shell --rw .:/src -C /src\n"
          "\n"
          "'sandboxvm run --help' lists the options; 'sandboxvm shell --help' the shell's. "
          "Documentation: README.md and docs/.\n",
          f);
}

static void version(void)
{
    const struct scmp_version *sv = seccomp_version();

    printf("sandboxvm %s (libseccomp %u.%u.%u, jansson %s)\n", sbvm_version(), sv->major, sv->minor,
           sv->micro, jansson_version_str());
}

/* Guests and reports must not land on a closed stdio fd. */
static void ensure_stdio(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd >= 0 && nfd != fd) {
            dup2(nfd, fd);
            close(nfd);
        }
    }
}

/*
 * The supervisor holds descriptors for each guest it runs and for each
 * connection their network brokers serve; the brokers share what the soft
 * limit leaves (docs/NETWORK.md). The soft limit a shell hands down (often
 * 1024) is a default for select()-era programs, not a decision: take all
 * the hard limit allows. The library never changes it by itself; each
 * guest gets its own limit (--files) whatever this one is.
 */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static const char *program_name(const char *arg0)
{
    const char *slash = strrchr(arg0, '/');
    return slash ? slash + 1 : arg0;
}

int main(int argc, char **argv)
{
    const char *cmd;

    ensure_stdio();
    raise_fd_limit();
    /* Installed (or linked) as sandboxvm-oci: the OCI runtime, for engines
     * that take a runtime's path (docs/OCI.md). */
    if (argc > 0 && streq(program_name(argv[0]), "sandboxvm-oci"))
        return cmd_oci(argc, argv);
    /* sandboxvm-serve: what `sandboxvm serve` runs (serve_exec.c). */
    if (argc > 0 && streq(program_name(argv[0]), "sandboxvm-serve"))
        return cmd_serve(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[1];
    if (streq(cmd, "-h") || streq(cmd, "--help")) {
        usage(stdout);
        return 0;
    }
    if (streq(cmd, "-V") || streq(cmd, "--version") || streq(cmd, "version")) {
        version();
        return 0;
    }
    if (streq(cmd, "help")) {
        if (argc > 2 && streq(argv[2], "run")) {
            cmd_run_help();
            return 0;
        }
        if (argc > 2 && streq(argv[2], "shell")) {
            cmd_shell_help();
            return 0;
        }
        if (argc > 2 && streq(argv[2], "serve")) {
            cmd_serve_help();
            return 0;
        }
        if (argc > 2 && streq(argv[2], "device")) {
            cmd_device_help();
            return 0;
        }
        if (argc > 2 && streq(argv[2], "call")) {
            cmd_call_help();
            return 0;
        }
        if (argc > 2) {
            cli_error(
                "no help for '%s': the commands are run, shell, serve, device, help and version",
                argv[2]);
            return EXIT_USAGE;
        }
        usage(stdout);
        return 0;
    }
    if (streq(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (streq(cmd, "shell"))
        return cmd_shell(argc - 1, argv + 1);
    if (streq(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (streq(cmd, "device"))
        return cmd_device(argc - 1, argv + 1);
    if (streq(cmd, "oci"))
        return cmd_oci(argc - 1, argv + 1);
    if (streq(cmd, "call"))
        return cmd_call(argc - 1, argv + 1);
    if (cmd[0] == '-')
        cli_error("unknown option '%s' (see sandboxvm --help)", cmd);
    else
        cli_error(
            "unknown command '%s': the commands are run, shell, serve, device, help and version "
            "(did you mean 'sandboxvm run -- %s'?)",
            cmd, cmd);
    return EXIT_USAGE;
}
