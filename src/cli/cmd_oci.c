/* SPDX-License-Identifier: MIT */
/*
 * cmd_oci.c: `sandboxvm oci ...`, or the same command named sandboxvm-oci:
 * runc's command line, which podman (conmon), containerd's shim and CRI
 * runtimes call. Options parsed and checked here; the runtime itself is
 * src/oci (docs/OCI.md). Options engines pass that sandboxvm has no use
 * for are accepted; those it cannot honour are refused with a reason.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "oci/oci.h"
#include "util/util.h"

static void oci_usage(FILE *f)
{
    fputs("Usage: sandboxvm oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID ...\n"
          "       sandboxvm-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID ...\n"
          "\n"
          "An OCI runtime: podman, containerd and CRI runtimes run containers in sandboxvm\n"
          "with it (docs/OCI.md). Every container gets its own sandbox; a crash is reported\n"
          "in full, refused system calls are counted, and what it left is written down.\n"
          "\n"
          "Commands:\n"
          "  create --bundle DIR [--pid-file F] [--console-socket S] ID\n"
          "  start ID                 run the created container's process\n"
          "  run [-d] [--bundle DIR] [--pid-file F] ID   create, start (and wait)\n"
          "  state ID                 the OCI state (JSON)\n"
          "  kill [--all] ID [SIGNAL] a signal to the container (default TERM)\n"
          "  delete [--force] ID      remove a stopped container (--force: end it first)\n"
          "  exec [--process F | -- ARGS] [--detach] [--pid-file F] [--tty] ID\n"
          "  pause ID | resume ID     freeze and thaw every process of the container\n"
          "  list [-q] [--format json]\n"
          "  features                 what this runtime supports (JSON)\n"
          "  --version\n"
          "\n"
          "Global options:\n"
          "  --root DIR           state directory (root: /run/sandboxvm-oci)\n"
          "  --log FILE           the log (errors also go to stderr)\n"
          "  --log-format text|json\n"
          "  --debug              debug messages in the log\n"
          "  --systemd-cgroup, --rootless VALUE, --criu PATH: accepted, unused\n",
          f);
}

/* "--opt value" or "--opt=value": the value, or NULL. *i moves past it. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", name);
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

/* A boolean flag runc spells --flag or --flag=true|false. */
static bool bool_flag(const char *a, const char *name, bool *val)
{
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return false;
    if (a[n] == '\0') {
        *val = true;
        return true;
    }
    if (a[n] == '=' && (streq(a + n + 1, "true") || streq(a + n + 1, "false"))) {
        *val = streq(a + n + 1, "true");
        return true;
    }
    return false;
}

static int need_id(int argc, char **argv, int i, const char *cmd, const char **id)
{
    if (i >= argc) {
        cli_error("%s: name the container (sandboxvm oci %s ID)", cmd, cmd);
        return EXIT_USAGE;
    }
    *id = argv[i];
    return 0;
}

static int unknown(const char *cmd, const char *a)
{
    cli_error("%s: unknown option '%s' (sandboxvm oci --help)", cmd, a);
    return EXIT_USAGE;
}

static int do_create(const struct oci_global *g, int argc, char **argv, bool run)
{
    struct oci_create_opts o = { 0 };
    const char *cmd = run ? "run" : "create";
    int i;

    for (i = 0; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v;
        bool bad = false, b;
        if ((v = opt_value(argc, argv, &i, "--bundle", &bad)) ||
            (v = opt_value(argc, argv, &i, "-b", &bad)))
            o.bundle = v;
        else if ((v = opt_value(argc, argv, &i, "--pid-file", &bad)))
            o.pid_file = v;
        else if ((v = opt_value(argc, argv, &i, "--console-socket", &bad)))
            o.console_socket = v;
        else if ((v = opt_value(argc, argv, &i, "--preserve-fds", &bad))) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*end || n > 1024) {
                cli_error("--preserve-fds %s: not a number of descriptors", v);
                return EXIT_USAGE;
            }
            o.preserve_fds = (unsigned)n;
        } else if (bool_flag(a, "--no-pivot", &b) || bool_flag(a, "--no-new-keyring", &b) ||
                   bool_flag(a, "--no-subreaper", &b) || bool_flag(a, "--keep", &b))
            ; /* sandboxvm always pivots, has no keyring of the host's, and
               * its monitor is the subreaper's child either way */
        else if (run && (bool_flag(a, "--detach", &b) || bool_flag(a, "-d", &b)))
            o.detach = b;
        else if (bad)
            return EXIT_USAGE;
        else
            return unknown(cmd, a);
        if (bad)
            return EXIT_USAGE;
    }
    if (need_id(argc, argv, i, cmd, &o.id))
        return EXIT_USAGE;
    if (i + 1 < argc) {
        cli_error("%s: unexpected '%s' after the container ID", cmd, argv[i + 1]);
        return EXIT_USAGE;
    }
    return run ? oci_cmd_run(g, &o) : oci_cmd_create(g, &o);
}

static int do_exec(const struct oci_global *g, int argc, char **argv)
{
    struct oci_exec_opts o = { 0 };
    char *envs[64];
    int i;

    o.env = envs;
    for (i = 0; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v;
        bool bad = false, b;
        if (streq(a, "--"))
            break;
        if ((v = opt_value(argc, argv, &i, "--process", &bad)) ||
            (v = opt_value(argc, argv, &i, "-p", &bad)))
            o.process = v;
        else if ((v = opt_value(argc, argv, &i, "--pid-file", &bad)))
            o.pid_file = v;
        else if ((v = opt_value(argc, argv, &i, "--console-socket", &bad)))
            o.console_socket = v;
        else if ((v = opt_value(argc, argv, &i, "--cwd", &bad)))
            o.cwd = v;
        else if ((v = opt_value(argc, argv, &i, "--env", &bad)) ||
                 (v = opt_value(argc, argv, &i, "-e", &bad))) {
            if (o.nenv >= ARRAY_SIZE(envs)) {
                cli_error("exec: at most %zu --env", ARRAY_SIZE(envs));
                return EXIT_USAGE;
            }
            o.env[o.nenv++] = (char *)v;
        } else if ((v = opt_value(argc, argv, &i, "--user", &bad)) ||
                   (v = opt_value(argc, argv, &i, "-u", &bad)) ||
                   (v = opt_value(argc, argv, &i, "--cap", &bad)) ||
                   (v = opt_value(argc, argv, &i, "--apparmor", &bad)) ||
                   (v = opt_value(argc, argv, &i, "--process-label", &bad))) {
            cli_error("exec: %s: an exec runs as the container's user, without capabilities "
                      "or another label",
                      a);
            return EXIT_USAGE;
        } else if ((v = opt_value(argc, argv, &i, "--preserve-fds", &bad))) {
            if (!streq(v, "0")) {
                cli_error("exec: --preserve-fds %s: a container holds no host descriptor", v);
                return EXIT_USAGE;
            }
        } else if (bool_flag(a, "--detach", &b) || bool_flag(a, "-d", &b))
            o.detach = b;
        else if (bool_flag(a, "--tty", &b) || bool_flag(a, "-t", &b))
            o.tty = b;
        else if (bool_flag(a, "--no-new-privs", &b))
            ; /* always on */
        else if (bad)
            return EXIT_USAGE;
        else
            return unknown("exec", a);
        if (bad)
            return EXIT_USAGE;
    }
    if (i < argc && streq(argv[i], "--"))
        i++;
    if (need_id(argc, argv, i, "exec", &o.id))
        return EXIT_USAGE;
    o.argv = argv + i + 1;
    o.argc = (size_t)(argc - i - 1);
    if (!o.process && !o.argc) {
        cli_error("exec: give --process FILE or the command after the container ID");
        return EXIT_USAGE;
    }
    return oci_cmd_exec(g, &o);
}

int cmd_oci(int argc, char **argv)
{
    struct oci_global g = { 0 };
    const char *cmd, *id;
    int i, r;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v;
        bool bad = false, b;
        if (streq(a, "-h") || streq(a, "--help")) {
            oci_usage(stdout);
            return 0;
        }
        if (streq(a, "-v") || streq(a, "--version")) {
            printf("sandboxvm-oci version %s\nspec: %s\n", sbvm_version(), OCI_SPEC_VERSION);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "--root", &bad)))
            g.root = v;
        else if ((v = opt_value(argc, argv, &i, "--log", &bad)))
            g.log = v;
        else if ((v = opt_value(argc, argv, &i, "--log-format", &bad))) {
            if (!streq(v, "json") && !streq(v, "text")) {
                cli_error("--log-format %s: text or json", v);
                return EXIT_USAGE;
            }
            g.log_json = streq(v, "json");
        } else if ((v = opt_value(argc, argv, &i, "--rootless", &bad)) ||
                   (v = opt_value(argc, argv, &i, "--criu", &bad)))
            ; /* sandboxvm decides by its uid; it has no checkpoints */
        else if (bool_flag(a, "--debug", &b))
            g.debug = b;
        else if (bool_flag(a, "--systemd-cgroup", &b))
            ; /* cgroups are sandboxvm's own (docs/OCI.md) */
        else if (bad)
            return EXIT_USAGE;
        else {
            cli_error("oci: unknown option '%s' (sandboxvm oci --help)", a);
            return EXIT_USAGE;
        }
        if (bad)
            return EXIT_USAGE;
    }
    if (i >= argc) {
        oci_usage(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[i++];
    oci_log_open(g.log, g.log_json, g.debug);
    argc -= i;
    argv += i;
    if (streq(cmd, "create") || streq(cmd, "run")) {
        r = do_create(&g, argc, argv, streq(cmd, "run"));
    } else if (streq(cmd, "start") || streq(cmd, "state") || streq(cmd, "pause") ||
               streq(cmd, "resume")) {
        if (argc > 0 && argv[0][0] == '-')
            return unknown(cmd, argv[0]);
        if (need_id(argc, argv, 0, cmd, &id))
            return EXIT_USAGE;
        r = streq(cmd, "start")   ? oci_cmd_start(&g, id)
            : streq(cmd, "state") ? oci_cmd_state(&g, id)
                                  : oci_cmd_pause(&g, id, streq(cmd, "pause"));
    } else if (streq(cmd, "kill")) {
        bool all = false, b;
        int k = 0, sig = SIGTERM;
        for (; k < argc && argv[k][0] == '-'; k++) {
            if (bool_flag(argv[k], "--all", &b) || bool_flag(argv[k], "-a", &b))
                all = b;
            else
                return unknown(cmd, argv[k]);
        }
        if (need_id(argc, argv, k, cmd, &id))
            return EXIT_USAGE;
        if (k + 1 < argc && (sig = oci_parse_signal(argv[k + 1])) < 0) {
            cli_error("kill: '%s' is not a signal", argv[k + 1]);
            return EXIT_USAGE;
        }
        r = oci_cmd_kill(&g, id, sig, all);
    } else if (streq(cmd, "delete")) {
        bool force = false, b;
        int k = 0;
        for (; k < argc && argv[k][0] == '-'; k++) {
            if (bool_flag(argv[k], "--force", &b) || bool_flag(argv[k], "-f", &b))
                force = b;
            else
                return unknown(cmd, argv[k]);
        }
        if (need_id(argc, argv, k, cmd, &id))
            return EXIT_USAGE;
        r = oci_cmd_delete(&g, id, force);
    } else if (streq(cmd, "exec")) {
        r = do_exec(&g, argc, argv);
    } else if (streq(cmd, "list") || streq(cmd, "ps")) {
        bool quiet = false, json = false;
        if (streq(cmd, "ps")) {
            cli_error("ps: not supported (the container's processes are in its ledger)");
            return EXIT_USAGE;
        }
        for (int k = 0; k < argc; k++) {
            const char *v;
            bool bad = false;
            if (streq(argv[k], "-q") || streq(argv[k], "--quiet"))
                quiet = true;
            else if ((v = opt_value(argc, argv, &k, "--format", &bad)) ||
                     (v = opt_value(argc, argv, &k, "-f", &bad)))
                json = streq(v, "json");
            else
                return bad ? EXIT_USAGE : unknown(cmd, argv[k]);
        }
        r = oci_cmd_list(&g, quiet, json);
    } else if (streq(cmd, "features")) {
        r = oci_cmd_features();
    } else if (streq(cmd, "help")) {
        oci_usage(stdout);
        r = 0;
    } else if (streq(cmd, "checkpoint") || streq(cmd, "restore") || streq(cmd, "update") ||
               streq(cmd, "events")) {
        r = oci_fail("%s: not supported by sandboxvm (docs/OCI.md)", cmd);
    } else {
        cli_error("oci: unknown command '%s' (sandboxvm oci --help)", cmd);
        r = EXIT_USAGE;
    }
    oci_log_close();
    return r;
}
