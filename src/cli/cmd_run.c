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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "sandboxvm/sandboxvm.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#define GUEST_SEPARATOR ":::"

void cmd_run_help(void)
{
    fputs("Usage: sandboxvm run [OPTIONS] [--] PROGRAM [ARGS...] [::: PROGRAM [ARGS...]]...\n"
          "\n"
          "Run each PROGRAM in a sandbox of its own and report how it ended.\n"
          "\n"
          "Every guest gets fresh user, pid, mount, network, ipc, uts and cgroup namespaces;\n"
          "a read-only view of /usr and the system directories, a minimal /etc and /dev, its\n"
          "own /proc and an empty writable /tmp (its working directory and HOME); no network\n"
          "but loopback; a clean environment; no capabilities; a syscall filter. Nothing of\n"
          "your home directory or your /tmp is visible, except the program file itself when\n"
          "it lives there. Whatever the guest leaves running is killed when it ends.\n"
          "\n"
          "Examples:\n"
          "  sandboxvm run -- python3 -c 'print(6 * 7)'\n"
          "      Run one program; its output is shown as '[python3] 42'.\n"
          "  sandboxvm run ./a.out arg1 arg2\n"
          "      A program outside the system directories is made visible on its own.\n"
          "  sandboxvm run --env LANG=de_DE.UTF-8 --env TERM -- sh -c 'echo $TERM'\n"
          "      Set a variable, or copy one (TERM) from your environment.\n"
          "  sandboxvm run -j 2 -- make test ::: ./fuzz-parser ::: ./fuzz-decoder\n"
          "      Three guests, two at a time; a summary table at the end.\n"
          "  sandboxvm run --name unit --name lint --json out.json --junit junit.xml \\\n"
          "      -- ./unit-tests ::: ./lint.sh\n"
          "      Name the guests and write reports for a CI system.\n"
          "  echo data | sandboxvm run --no-tag -- wc -c\n"
          "      A single guest reads your standard input; --no-tag gives raw output.\n"
          "\n"
          "Options:\n"
          "  -n, --name NAME        name a guest; repeat to name the guests in order\n"
          "                         (default: the program's basename, plus -N if several\n"
          "                         guests share it). 1-64 of A-Z a-z 0-9 . _ -\n"
          "  -e, --env KEY=VALUE    set a variable in every guest's environment;\n"
          "      --env KEY          copy KEY from your environment\n"
          "      --keep-env         start from your whole environment instead of the clean\n"
          "                         default (PATH HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8 USER\n"
          "                         LOGNAME SHELL)\n"
          "  -C, --cwd DIR          working directory inside the sandbox (default /tmp)\n"
          "  -j, --jobs N           run at most N guests at once (default 1: in order)\n"
          "  -o, --output-dir DIR   also save each guest's raw output in DIR/NAME.stdout\n"
          "                         and DIR/NAME.stderr (DIR is created if missing); each\n"
          "                         file keeps at most --output-dir-limit bytes\n"
          "      --output-dir-limit SIZE  what a guest may write to the host's disk that\n"
          "                         way, per file (default 1G; the rest is counted, not\n"
          "                         saved, and reported); --output-limit bounds it too\n"
          "      --json FILE        write a JSON report (docs/REPORT-JSON.md); - = stdout\n"
          "      --junit FILE       write a JUnit XML report, one testcase per guest\n"
          "      --no-tag           print output without the [NAME] prefix\n"
          "      --no-stdin         do not forward standard input (a single guest reads\n"
          "                         it by default; with several, none does)\n"
          "\n"
          "Limits (each ends the guest with the outcome 'limit', naming it):\n"
          "      --timeout SECONDS  wall-clock time (exit status 124)\n"
          "      --cpu SECONDS      CPU time of all its processes (exit status 124)\n"
          "      --memory SIZE      memory, e.g. 256M; an OOM kill is reported as such\n"
          "      --pids N           processes and threads at once (default 4096)\n"
          "      --files N          open files per process (default 1024)\n"
          "      --output-limit SIZE  bytes on stdout and stderr together\n"
          "      --disk SIZE        size of its writable /tmp (default 512M)\n"
          "  SIZE is bytes, or a number with K, M, G or T (powers of 1024). Where the host\n"
          "  offers cgroups (v2 delegated, or v1 as root) memory, pids and CPU use them;\n"
          "  otherwise rlimits. The report says which enforced each limit.\n"
          "\n"
          "Files (the view: /usr and the system directories read-only, a small /etc,\n"
          "/dev and /proc, an empty /tmp):\n"
          "      --ro SRC[:DST]     show a host file or directory read-only at DST\n"
          "      --rw SRC[:DST]     ... writable (the guest writes as its own uid)\n"
          "      --tmpfs DST[:SIZE] a fresh tmpfs at DST (default 64M)\n"
          "      --hide PATH        make a file or directory of the view empty\n"
          "      --copy-in HOST:GUEST   copy into the view before the guest starts\n"
          "      --copy-out GUEST:HOST  copy out when it ends, however it ended (HOST must\n"
          "                         not exist; with several guests, HOST.NAME)\n"
          "      --rootfs DIR       a whole tree as the root (read-only) instead of the\n"
          "                         host's system directories; needs /proc /dev /tmp dirs\n"
          "  Host paths are resolved when given and bound as the file then found; no\n"
          "  symlink inside the sandbox is followed to reach DST or a copy's GUEST path.\n"
          "  PROGRAM is looked up as the guest sees it: --ro ./tools:/tools -- /tools/x\n"
          "  runs the mounted x, and PATH searches go through the mounts.\n"
          "      --profile NAME|FILE  start from a profile (docs/PROFILES.md): minimal,\n"
          "                         build, agent, or a JSON file; options given override it\n"
          "\n"
          "Network (default: none, loopback only):\n"
          "      --net none         loopback only: nothing beyond the sandbox is reachable\n"
          "      --net host         share the host's network (no isolation of it at all)\n"
          "      --net allow=HOST[:PORT][,...]\n"
          "                         only these destinations, through a proxy the guest\n"
          "                         finds in HTTP_PROXY, HTTPS_PROXY and ALL_PROXY; a\n"
          "                         program that ignores it finds no network. HOST is a\n"
          "                         name, *.domain (any name under it), * (any), or an\n"
          "                         address ([v6] in brackets); PORT defaults to 80 and\n"
          "                         443, * allows any. Repeatable.\n"
          "      --net-allow-private  let allowed names resolve to loopback, private and\n"
          "                         link-local addresses (refused otherwise)\n"
          "      --secret NAME=VALUE@HOST\n"
          "                         the guest's $NAME holds a placeholder; the proxy puts\n"
          "                         VALUE in its place in the headers of plain HTTP\n"
          "                         requests to HOST only. VALUE never enters the sandbox.\n"
          "  Every attempt, allowed or refused, is in the report. See docs/NETWORK.md.\n"
          "\n"
          "Syscalls and forensics:\n"
          "      --deny NAME        make a syscall fatal: the guest is stopped, the outcome\n"
          "                         is 'denied' and names the call and its arguments\n"
          "      --allow NAME       lift a default refusal (not for calls that would let a\n"
          "                         guest out of its sandbox: mount, unshare, ptrace, ...)\n"
          "      --no-symbolize     crash reports without names (faster)\n"
          "      --keep DIR         copy each guest's /tmp to DIR/NAME when it ends\n"
          "  A crash is reported with its signal, fault address, registers, the faulting\n"
          "  instruction, the mappings involved and a symbolised backtrace; what a guest\n"
          "  left behind (processes, open files, listening sockets, files in /tmp) is\n"
          "  listed, then removed.\n"
          "\n"
          "Output:\n"
          "  -q, --quiet            no summary table, outcome line or details\n"
          "      --summary          show the summary table even for a single guest\n"
          "  -h, --help             show this help\n"
          "\n"
          "Everything after the first PROGRAM belongs to the guests; '" GUEST_SEPARATOR
          "' starts the\n"
          "next guest. Use -- before PROGRAM when it begins with '-'.\n"
          "\n"
          "Exit status:\n"
          "  one guest     its own status: the exit code it exited with; 128+N when it\n"
          "                died of signal N (crashed, or killed by you); 159 when the\n"
          "                syscall filter stopped it; 125 when its sandbox could not be\n"
          "                set up; 126 when the program cannot be executed (a directory,\n"
          "                not ELF or #!, another architecture, unreadable); 127 when it\n"
          "                does not exist\n"
          "  several       0 when every guest exited with 0, else the status of the\n"
          "                first guest (in command-line order) that did not\n"
          "  125           also: bad usage, or a report could not be written\n"
          "\n"
          "Ctrl-C forwards SIGINT to the guests and starts no new ones; a second Ctrl-C\n"
          "kills them. See docs/OUTCOMES.md for every outcome and its details.\n",
          stdout);
}

static int pipe_w = -1;

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;

    if (pipe_w >= 0)
        (void)!write(pipe_w, &b, 1);
    errno = saved;
}

static int install_signals(int *rfd)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    struct sigaction sa;
    int p[2];

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    pipe_w = p[1];
    *rfd = p[0];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
        sigaction(sigs[i], &sa, NULL);
    /* Write errors on a closed stdout come back as EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int parse_uint(const char *opt, const char *s, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v < 1 || v > max || s[0] == '-') {
        cli_error("%s expects a whole number from 1 to %u, not '%s'", opt, max, s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* "1.5" seconds into milliseconds (seconds_to_ms). */
static int parse_seconds(const char *opt, const char *s, uint64_t *ms)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (!*s || *end || errno || seconds_to_ms(v, ms) < 0) {
        cli_error("%s expects a positive number of seconds (like 10 or 0.5), not '%s'", opt, s);
        return -1;
    }
    return 0;
}

static int parse_size_opt(const char *opt, const char *s, uint64_t *bytes)
{
    if (parse_size(s, bytes) == 0)
        return 0;
    cli_error("%s expects a size like 64K, 256M or 2G, not '%s'", opt, s);
    return -1;
}

static int push(char ***v, size_t *n, char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv)
        return -1;
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

static const char *net_name(int mode)
{
    return mode == SBVM_NET_HOST ? "host" : mode == SBVM_NET_ALLOW ? "allow=..." : "none";
}

/* --net none | host | allow=RULE[,RULE...] (repeatable for allow). */
static int parse_net(struct run_opts *o, const char *arg)
{
    int mode;

    if (streq(arg, "none"))
        mode = SBVM_NET_NONE;
    else if (streq(arg, "host"))
        mode = SBVM_NET_HOST;
    else if (str_has_prefix(arg, "allow="))
        mode = SBVM_NET_ALLOW;
    else {
        cli_error("--net %s: expected none, host or allow=HOST[:PORT][,...] (see --help)", arg);
        return -1;
    }
    if (o->net >= 0 && o->net != mode) {
        cli_error("--net %s and --net %s contradict each other: choose one", net_name(o->net),
                  net_name(mode));
        return -1;
    }
    o->net = mode;
    if (mode != SBVM_NET_ALLOW)
        return 0;
    arg += strlen("allow=");
    if (!*arg) {
        cli_error("--net allow=: no rule given (e.g. --net allow=example.com,*.pypi.org:443)");
        return -1;
    }
    for (;;) {
        size_t len = strcspn(arg, ",");
        char *rule = strndup(arg, len);
        if (!rule || push(&o->net_rules, &o->nnet_rules, rule) < 0) {
            free(rule);
            cli_error("out of memory");
            return -1;
        }
        if (!arg[len])
            break;
        arg += len + 1;
    }
    return 0;
}

static void free_opts(struct run_opts *o)
{
    free(o->names);
    free(o->envs);
    free(o->deny);
    free(o->allow);
    for (size_t i = 0; i < o->nnet_rules; i++)
        free(o->net_rules[i]);
    free(o->net_rules);
    free(o->secrets);
    free(o->mounts);
    free(o->profile_path);
}

/* --profile NAME or FILE: a path (it has a '/' or ends in .json), or a
 * name looked up in $SBVM_PROFILE_PATH, then next to this program
 * (../share/sandboxvm/profiles, and ../profiles in a build tree), then the
 * system's share directories. */
static char *find_profile(const char *arg)
{
    static const char *const rel[] = { "/../share/sandboxvm/profiles", "/../profiles" };
    static const char *const sys[] = { "/usr/local/share/sandboxvm/profiles",
                                       "/usr/share/sandboxvm/profiles" };
    struct strbuf dirs = STRBUF_INIT, cand = STRBUF_INIT;
    char exe[PATH_MAX], *slash, *found = NULL;
    const char *env = getenv("SBVM_PROFILE_PATH");
    ssize_t n;
    size_t len = strlen(arg);

    if (strchr(arg, '/') || (len > 5 && streq(arg + len - 5, ".json"))) {
        if (access(arg, R_OK) == 0)
            return strdup(arg);
        cli_error("--profile %s: %s", arg, strerror(errno));
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        if (!((arg[i] >= 'a' && arg[i] <= 'z') || (arg[i] >= '0' && arg[i] <= '9') ||
              arg[i] == '-' || arg[i] == '_')) {
            cli_error("--profile %s: a profile name is [a-z0-9_-]; give a file as a path", arg);
            return NULL;
        }
    if (env && *env)
        strbuf_addf(&dirs, "%s:", env);
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')))
            *slash = '\0';
        for (size_t i = 0; i < ARRAY_SIZE(rel); i++)
            strbuf_addf(&dirs, "%s%s:", exe, rel[i]);
    }
    for (size_t i = 0; i < ARRAY_SIZE(sys); i++)
        strbuf_addf(&dirs, "%s:", sys[i]);
    for (const char *d = dirs.buf; d && *d && !found;) {
        size_t dl = strcspn(d, ":");
        strbuf_reset(&cand);
        strbuf_add(&cand, d, dl);
        strbuf_addf(&cand, "/%s.json", arg);
        if (dl && !strbuf_failed(&cand) && access(cand.buf, R_OK) == 0)
            found = strbuf_detach(&cand, NULL);
        d += dl;
        if (*d == ':')
            d++;
    }
    if (!found) {
        if (dirs.len && dirs.buf[dirs.len - 1] == ':')
            strbuf_truncate(&dirs, dirs.len - 1);
        cli_error("--profile %s: no such profile (looked in %s); the shipped ones are minimal, "
                  "build and agent",
                  arg, dirs.buf ? dirs.buf : "");
    }
    strbuf_release(&dirs);
    strbuf_release(&cand);
    return found;
}

/* "A:B" at the last ':' that leaves two non-empty sides, or no B. */
static void split_pair(const char *arg, char **a, char **b)
{
    const char *colon = strrchr(arg, ':');

    if (colon && colon != arg && colon[1]) {
        *a = strndup(arg, (size_t)(colon - arg));
        *b = strdup(colon + 1);
    } else {
        *a = strdup(arg);
        *b = NULL;
    }
}

/* One filesystem option into the config; errors name the option. */
static int add_mount_opt(sbvm_config *cfg, const struct cli_mount *m, sbvm_error **err)
{
    char *a = NULL, *b = NULL;
    uint64_t size = 0;
    int r;

    split_pair(m->arg, &a, &b);
    if (!a) {
        free(b);
        return error_set(err, ENOMEM, "out of memory");
    }
    switch (m->kind) {
    case SBVM_MOUNT_RO:
    case SBVM_MOUNT_RW:
        r = sbvm_config_add_mount(cfg, (enum sbvm_mount_kind)m->kind, a, b, 0, err);
        break;
    case SBVM_MOUNT_TMPFS:
        if (b && parse_size(b, &size) < 0) {
            /* Not a size: the whole argument is the path (it holds ':'). */
            free(a);
            a = strdup(m->arg);
            free(b);
            b = NULL;
        }
        r = a ? sbvm_config_add_mount(cfg, SBVM_MOUNT_TMPFS, NULL, a, size, err)
              : error_set(err, ENOMEM, "out of memory");
        break;
    case SBVM_MOUNT_HIDE:
        r = sbvm_config_add_mount(cfg, SBVM_MOUNT_HIDE, NULL, m->arg, 0, err);
        break;
    case 100:
        r = b ? sbvm_config_add_copy_in(cfg, a, b, err)
              : error_set(err, EINVAL, "--copy-in %s: write HOST:GUEST", m->arg);
        break;
    default:
        r = b ? sbvm_config_add_copy_out(cfg, a, b, err)
              : error_set(err, EINVAL, "--copy-out %s: write GUEST:HOST", m->arg);
        break;
    }
    free(a);
    free(b);
    return r;
}

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

static int build_config(const struct run_opts *o, sbvm_config *cfg, sbvm_error **err)
{
    int r;

    /* The profile first; every option given then adds to it or replaces
     * what it says. */
    if (o->profile_path && (r = sbvm_config_load_profile(cfg, o->profile_path, err)) < 0)
        return r;
    if (o->keep_env)
        sbvm_config_set_keep_env(cfg, 1);
    if (o->no_symbolize)
        sbvm_config_set_symbolize(cfg, 0);
    for (int l = 0; l < SBVM_LIMIT__COUNT; l++)
        if ((o->limits_set & (1u << l)) &&
            (r = sbvm_config_set_limit(cfg, (enum sbvm_limit)l, o->limits[l], err)) < 0)
            return r;
    for (size_t i = 0; i < o->ndeny; i++)
        if ((r = sbvm_config_deny_syscall(cfg, o->deny[i], err)) < 0)
            return r;
    for (size_t i = 0; i < o->nallow; i++)
        if ((r = sbvm_config_allow_syscall(cfg, o->allow[i], err)) < 0)
            return r;
    if (o->keep && (r = sbvm_config_set_keep_dir(cfg, o->keep, err)) < 0)
        return r;
    for (size_t i = 0; i < o->nmounts; i++)
        if ((r = add_mount_opt(cfg, &o->mounts[i], err)) < 0)
            return r;
    if (o->rootfs && (r = sbvm_config_set_rootfs(cfg, o->rootfs, err)) < 0)
        return r;
    if (o->net >= 0)
        sbvm_config_set_net(cfg, (enum sbvm_net)o->net);
    if (o->net_allow_private)
        sbvm_config_set_net_allow_private(cfg, 1);
    for (size_t i = 0; i < o->nnet_rules; i++)
        if ((r = sbvm_config_net_allow(cfg, o->net_rules[i], err)) < 0)
            return r;
    for (size_t i = 0; i < o->nsecrets; i++)
        if ((r = sbvm_config_add_secret(cfg, o->secrets[i], err)) < 0)
            return r;
    if (o->cwd && (r = sbvm_config_set_cwd(cfg, o->cwd, err)) < 0)
        return r;
    for (size_t i = 0; i < o->nenvs; i++) {
        const char *kv = o->envs[i];
        const char *eq = strchr(kv, '=');
        if (eq) {
            _cleanup_free_ char *key = strndup(kv, (size_t)(eq - kv));
            if (!key)
                return -ENOMEM;
            r = sbvm_config_setenv(cfg, key, eq + 1, err);
        } else {
            const char *v = getenv(kv);
            if (!v) {
                cli_error("--env %s: %s is not set in your environment (use --env %s=VALUE)", kv,
                          kv, kv);
                return -EINVAL;
            }
            r = sbvm_config_setenv(cfg, kv, v, err);
        }
        if (r < 0)
            return r;
    }
    return 0;
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
    enum {
        OPT_KEEP_ENV = 256,
        OPT_JSON,
        OPT_JUNIT,
        OPT_NO_TAG,
        OPT_NO_STDIN,
        OPT_SUMMARY,
        OPT_TIMEOUT,
        OPT_CPU,
        OPT_MEMORY,
        OPT_PIDS,
        OPT_FILES,
        OPT_OUTPUT_LIMIT,
        OPT_OUTPUT_DIR_LIMIT,
        OPT_DISK,
        OPT_DENY,
        OPT_ALLOW,
        OPT_KEEP,
        OPT_NO_SYMBOLIZE,
        OPT_NET,
        OPT_RO,
        OPT_RW,
        OPT_TMPFS,
        OPT_HIDE,
        OPT_COPY_IN,
        OPT_COPY_OUT,
        OPT_ROOTFS,
        OPT_PROFILE,
        OPT_NET_ALLOW_PRIVATE,
        OPT_SECRET,
    };
    static const struct option longopts[] = {
        { "name", required_argument, NULL, 'n' },
        { "env", required_argument, NULL, 'e' },
        { "keep-env", no_argument, NULL, OPT_KEEP_ENV },
        { "cwd", required_argument, NULL, 'C' },
        { "jobs", required_argument, NULL, 'j' },
        { "output-dir", required_argument, NULL, 'o' },
        { "json", required_argument, NULL, OPT_JSON },
        { "junit", required_argument, NULL, OPT_JUNIT },
        { "no-tag", no_argument, NULL, OPT_NO_TAG },
        { "no-stdin", no_argument, NULL, OPT_NO_STDIN },
        { "quiet", no_argument, NULL, 'q' },
        { "summary", no_argument, NULL, OPT_SUMMARY },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "cpu", required_argument, NULL, OPT_CPU },
        { "memory", required_argument, NULL, OPT_MEMORY },
        { "pids", required_argument, NULL, OPT_PIDS },
        { "files", required_argument, NULL, OPT_FILES },
        { "output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT },
        { "output-dir-limit", required_argument, NULL, OPT_OUTPUT_DIR_LIMIT },
        { "disk", required_argument, NULL, OPT_DISK },
        { "deny", required_argument, NULL, OPT_DENY },
        { "allow", required_argument, NULL, OPT_ALLOW },
        { "keep", required_argument, NULL, OPT_KEEP },
        { "no-symbolize", no_argument, NULL, OPT_NO_SYMBOLIZE },
        { "net", required_argument, NULL, OPT_NET },
        { "ro", required_argument, NULL, OPT_RO },
        { "rw", required_argument, NULL, OPT_RW },
        { "tmpfs", required_argument, NULL, OPT_TMPFS },
        { "hide", required_argument, NULL, OPT_HIDE },
        { "copy-in", required_argument, NULL, OPT_COPY_IN },
        { "copy-out", required_argument, NULL, OPT_COPY_OUT },
        { "rootfs", required_argument, NULL, OPT_ROOTFS },
        { "profile", required_argument, NULL, OPT_PROFILE },
        { "net-allow-private", no_argument, NULL, OPT_NET_ALLOW_PRIVATE },
        { "secret", required_argument, NULL, OPT_SECRET },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct run_opts o = { .jobs = 1, .net = -1 };
    size_t *starts = NULL, *lens = NULL, nguests = 0;
    sbvm_runner *rn = NULL;
    sbvm_config *tmpl = NULL;
    sbvm_error *err = NULL;
    int status = EXIT_USAGE, c;

    memset(p, 0, sizeof(*p));

    opterr = 0;
    /* 0, not 1: glibc then also forgets where it was inside a cluster of
     * short options ("-qe"), which would otherwise point into the argv of an
     * earlier parse (found by fuzz-cli). */
    optind = 0;
    /* '+': the first non-option is the program; its options are its own. */
    while ((c = getopt_long(argc, argv, "+:n:e:C:j:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (push(&o.names, &o.nnames, optarg) < 0)
                goto oom;
            break;
        case 'e':
            if (push(&o.envs, &o.nenvs, optarg) < 0)
                goto oom;
            break;
        case OPT_KEEP_ENV:
            o.keep_env = true;
            break;
        case 'C':
            o.cwd = optarg;
            break;
        case 'j':
            if (parse_uint("--jobs", optarg, 1024, &o.jobs) < 0)
                goto done;
            break;
        case 'o':
            o.output_dir = optarg;
            break;
        case OPT_JSON:
            o.json = optarg;
            break;
        case OPT_JUNIT:
            o.junit = optarg;
            break;
        case OPT_NO_TAG:
            o.no_tag = true;
            break;
        case OPT_NO_STDIN:
            o.no_stdin = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case OPT_SUMMARY:
            o.summary = true;
            break;
        case OPT_TIMEOUT:
        case OPT_CPU: {
            enum sbvm_limit l = c == OPT_TIMEOUT ? SBVM_LIMIT_TIME : SBVM_LIMIT_CPU;
            if (parse_seconds(c == OPT_TIMEOUT ? "--timeout" : "--cpu", optarg, &o.limits[l]) < 0)
                goto done;
            o.limits_set |= 1u << l;
            break;
        }
        case OPT_OUTPUT_DIR_LIMIT:
            if (parse_size_opt("--output-dir-limit", optarg, &o.output_dir_limit) < 0)
                goto done;
            if (o.output_dir_limit == 0) {
                cli_error("--output-dir-limit: must be more than 0 (leave out --output-dir "
                          "to save nothing)");
                goto done;
            }
            break;
        case OPT_MEMORY:
        case OPT_OUTPUT_LIMIT:
        case OPT_DISK: {
            enum sbvm_limit l = c == OPT_MEMORY ? SBVM_LIMIT_MEMORY
                                : c == OPT_DISK ? SBVM_LIMIT_DISK
                                                : SBVM_LIMIT_OUTPUT;
            if (parse_size_opt(c == OPT_MEMORY ? "--memory"
                               : c == OPT_DISK ? "--disk"
                                               : "--output-limit",
                               optarg, &o.limits[l]) < 0)
                goto done;
            o.limits_set |= 1u << l;
            break;
        }
        case OPT_PIDS:
        case OPT_FILES: {
            enum sbvm_limit l = c == OPT_PIDS ? SBVM_LIMIT_PIDS : SBVM_LIMIT_FILES;
            unsigned v;
            if (parse_uint(c == OPT_PIDS ? "--pids" : "--files", optarg, 1u << 22, &v) < 0)
                goto done;
            o.limits[l] = v;
            o.limits_set |= 1u << l;
            break;
        }
        case OPT_DENY:
            if (push(&o.deny, &o.ndeny, optarg) < 0)
                goto oom;
            break;
        case OPT_ALLOW:
            if (push(&o.allow, &o.nallow, optarg) < 0)
                goto oom;
            break;
        case OPT_KEEP:
            o.keep = optarg;
            break;
        case OPT_NET:
            if (parse_net(&o, optarg) < 0)
                goto done;
            break;
        case OPT_RO:
        case OPT_RW:
        case OPT_TMPFS:
        case OPT_HIDE:
        case OPT_COPY_IN:
        case OPT_COPY_OUT: {
            struct cli_mount *nm = realloc(o.mounts, (o.nmounts + 1) * sizeof(*nm));
            if (!nm)
                goto oom;
            o.mounts = nm;
            nm[o.nmounts].kind = c == OPT_RO        ? SBVM_MOUNT_RO
                                 : c == OPT_RW      ? SBVM_MOUNT_RW
                                 : c == OPT_TMPFS   ? SBVM_MOUNT_TMPFS
                                 : c == OPT_HIDE    ? SBVM_MOUNT_HIDE
                                 : c == OPT_COPY_IN ? 100
                                                    : 101;
            nm[o.nmounts++].arg = optarg;
            break;
        }
        case OPT_ROOTFS:
            o.rootfs = optarg;
            break;
        case OPT_PROFILE:
            if (o.profile) {
                cli_error("--profile given twice (%s, %s): one profile per run", o.profile, optarg);
                goto done;
            }
            o.profile = optarg;
            if (!(o.profile_path = find_profile(optarg)))
                goto done;
            break;
        case OPT_NET_ALLOW_PRIVATE:
            o.net_allow_private = true;
            break;
        case OPT_SECRET:
            if (push(&o.secrets, &o.nsecrets, optarg) < 0)
                goto oom;
            break;
        case OPT_NO_SYMBOLIZE:
            o.no_symbolize = true;
            break;
        case 'h':
            cmd_run_help();
            status = 0;
            p->help = true;
            goto done;
        case ':':
            cli_error("option '%s' needs a value (see sandboxvm run --help)", argv[optind - 1]);
            goto done;
        default:
            if (optopt)
                cli_error("unknown option '-%c' (see sandboxvm run --help)", optopt);
            else
                cli_error("unknown option '%s' (see sandboxvm run --help)", argv[optind - 1]);
            goto done;
        }
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
    if (build_config(&o, tmpl, &err) < 0) {
        if (!err)
            goto done; /* already explained */
        goto lib_error;
    }
    for (size_t i = 0; i < nguests; i++) {
        sbvm_config *cfg = sbvm_config_dup(tmpl);
        int r;
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

    sbvm_config_free(tmpl);
    p->o = o;
    p->rn = rn;
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
    free_opts(&o);
    free(starts);
    free(lens);
    return status;
}

void cli_run_prepared_free(struct run_prepared *p)
{
    sbvm_runner_free(p->rn);
    free_opts(&p->o);
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
    int dir_fd = -1, sig_r = -1, status;

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
    if (install_signals(&sig_r) < 0) {
        cli_error("cannot set up signal handling: %s", strerror(errno));
        goto done;
    }
    output_set_signal_fd(out, pipe_w);
    sbvm_runner_set_signal_fd(rn, sig_r);
    sbvm_runner_set_events(rn, &(struct sbvm_events){
                                   .ctx = out,
                                   .on_start = output_on_start,
                                   .on_output = output_on_data,
                                   .on_end = output_on_end,
                               });
    if (sbvm_runner_run(rn, &err) < 0) {
        cli_error("%s", sbvm_error_message(err));
        sbvm_error_free(err);
        err = NULL;
        /* Whatever finished is still reported. */
    }
    status = sbvm_runner_exit_status(rn);
    output_report_cuts(out, o.output_dir);
    if (output_file_error(out)) {
        /* The guests ran, but what they wrote was not all saved. */
        cli_error("--output-dir: %s", output_file_error(out));
        if (status == 0)
            status = EXIT_USAGE;
    }
    if (finish_reports(&o, rn, json, junit, nguests, output_stdout_closed(out)) != 0 && status == 0)
        status = EXIT_USAGE;
    goto done;

oom:
    cli_error("out of memory");
    status = EXIT_USAGE;
done:
    if (json && json != stdout)
        fclose(json);
    if (junit && junit != stdout)
        fclose(junit);
    if (dir_fd >= 0)
        close(dir_fd);
    output_free(out);
    cli_run_prepared_free(&p);
    return status;
}
