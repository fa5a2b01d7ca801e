/* SPDX-License-Identifier: MIT */
/*
 * options.c: the policy options `sandboxvm run` and `sandboxvm shell` share,
 * parsed and checked (every value is hostile until it passed), and turned
 * into an sbvm_config. The logic of each command is in its own file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandboxvm/sandboxvm.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

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
    size_t alloc = *n; /* grown one by one: option counts are small */

    if (ARRAY_GROW(*v, *n + 1, &alloc) < 0)
        return -1;
    (*v)[(*n)++] = s;
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
        cli_error("--net allow=: no rule given (e.g. --net allow=example.com,*.example.org:443)");
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

void cli_free_opts(struct run_opts *o)
{
    free(o->names);
    free(o->envs);
    free(o->deny);
    free(o->allow);
    for (size_t i = 0; i < o->nnet_rules; i++)
        free(o->net_rules[i]);
    free(o->net_rules);
    free(o->secrets);
    free(o->trust_ca);
    free(o->mounts);
    free(o->profile_path);
    free(o->devices);
    free(o->drivers);
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

int cli_build_config(const struct run_opts *o, sbvm_config *cfg, sbvm_error **err)
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
    for (size_t i = 0; i < o->ndevices; i++)
        if ((r = sbvm_config_add_device(cfg, o->devices[i], err)) < 0)
            return r;
    for (size_t i = 0; i < o->ndrivers; i++)
        if ((r = sbvm_config_add_driver(cfg, o->drivers[i], err)) < 0)
            return r;
    if (o->trace_devices &&
        (r = sbvm_config_set_device_trace(cfg, o->trace_devices, o->trace_json, err)) < 0)
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
    for (size_t i = 0; i < o->ntrust_ca; i++)
        if ((r = sbvm_config_trust_ca(cfg, o->trust_ca[i], err)) < 0)
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

enum cli_opt {
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
    OPT_TRUST_CA,
    OPT_ONE_SANDBOX,
    OPT_CHANNEL,
    OPT_DEVICE,
    OPT_TRACE_DEVICES,
    OPT_TRACE_JSON,
};

/* What only `run` takes: several guests, their names and reports. */
static bool run_only(int c)
{
    return c == 'n' || c == 'j' || c == 'o' || c == 'q' || c == OPT_JSON || c == OPT_JUNIT ||
           c == OPT_NO_TAG || c == OPT_NO_STDIN || c == OPT_SUMMARY || c == OPT_OUTPUT_DIR_LIMIT ||
           c == OPT_ONE_SANDBOX || c == OPT_CHANNEL || c == OPT_DEVICE || c == 'r' || c == 't' ||
           c == OPT_TRACE_DEVICES || c == OPT_TRACE_JSON;
}

/*
 * Parses the options of `cmd` ("run" or "shell") into o, up to the first
 * non-option (the program, for run). 0 and *first; 1 when help was shown;
 * -1 after an error was printed.
 */
int cli_parse_options(int argc, char **argv, const char *cmd, struct run_opts *o, int *first)
{
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
        { "trust-ca", required_argument, NULL, OPT_TRUST_CA },
        { "one-sandbox", no_argument, NULL, OPT_ONE_SANDBOX },
        { "channel", no_argument, NULL, OPT_CHANNEL },
        { "device", required_argument, NULL, OPT_DEVICE },
        { "driver", required_argument, NULL, 'r' },
        { "trace-devices", required_argument, NULL, OPT_TRACE_DEVICES },
        { "trace-json", no_argument, NULL, OPT_TRACE_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool shell = streq(cmd, "shell");
    int c, li;

    memset(o, 0, sizeof(*o));
    o->jobs = 1;
    o->net = -1;

    opterr = 0;
    /* 0, not 1: glibc then also forgets where it was inside a cluster of
     * short options ("-qe"), which would otherwise point into the argv of an
     * earlier parse (found by fuzz-cli). */
    optind = 0;
    /* '+': the first non-option is the program; its options are its own. */
    while ((c = getopt_long(argc, argv, "+:n:e:C:j:o:qhr:t", longopts, &li)) != -1) {
        if (shell && run_only(c)) {
            const char *name = "?";
            for (size_t i = 0; longopts[i].name; i++)
                if (longopts[i].val == c)
                    name = longopts[i].name;
            cli_error("--%s: an option of sandboxvm run, not of shell (see sandboxvm shell --help)",
                      name);
            return -1;
        }
        switch (c) {
        case 'n':
            if (push(&o->names, &o->nnames, optarg) < 0)
                goto oom;
            break;
        case 'e':
            if (push(&o->envs, &o->nenvs, optarg) < 0)
                goto oom;
            break;
        case OPT_KEEP_ENV:
            o->keep_env = true;
            break;
        case 'C':
            o->cwd = optarg;
            break;
        case 'j':
            if (parse_uint("--jobs", optarg, 1024, &o->jobs) < 0)
                goto done;
            break;
        case 'o':
            o->output_dir = optarg;
            break;
        case OPT_JSON:
            o->json = optarg;
            break;
        case OPT_JUNIT:
            o->junit = optarg;
            break;
        case OPT_NO_TAG:
            o->no_tag = true;
            break;
        case OPT_NO_STDIN:
            o->no_stdin = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case OPT_SUMMARY:
            o->summary = true;
            break;
        case OPT_TIMEOUT:
        case OPT_CPU: {
            enum sbvm_limit l = c == OPT_TIMEOUT ? SBVM_LIMIT_TIME : SBVM_LIMIT_CPU;
            if (parse_seconds(c == OPT_TIMEOUT ? "--timeout" : "--cpu", optarg, &o->limits[l]) < 0)
                goto done;
            o->limits_set |= 1u << l;
            break;
        }
        case OPT_OUTPUT_DIR_LIMIT:
            if (parse_size_opt("--output-dir-limit", optarg, &o->output_dir_limit) < 0)
                goto done;
            if (o->output_dir_limit == 0) {
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
                               optarg, &o->limits[l]) < 0)
                goto done;
            o->limits_set |= 1u << l;
            break;
        }
        case OPT_PIDS:
        case OPT_FILES: {
            enum sbvm_limit l = c == OPT_PIDS ? SBVM_LIMIT_PIDS : SBVM_LIMIT_FILES;
            unsigned v;
            if (parse_uint(c == OPT_PIDS ? "--pids" : "--files", optarg, 1u << 22, &v) < 0)
                goto done;
            o->limits[l] = v;
            o->limits_set |= 1u << l;
            break;
        }
        case OPT_DENY:
            if (push(&o->deny, &o->ndeny, optarg) < 0)
                goto oom;
            break;
        case OPT_ALLOW:
            if (push(&o->allow, &o->nallow, optarg) < 0)
                goto oom;
            break;
        case OPT_KEEP:
            o->keep = optarg;
            break;
        case OPT_NET:
            if (parse_net(o, optarg) < 0)
                goto done;
            break;
        case OPT_RO:
        case OPT_RW:
        case OPT_TMPFS:
        case OPT_HIDE:
        case OPT_COPY_IN:
        case OPT_COPY_OUT: {
            size_t alloc = o->nmounts;
            struct cli_mount *nm;
            if (ARRAY_GROW(o->mounts, o->nmounts + 1, &alloc) < 0)
                goto oom;
            nm = o->mounts;
            nm[o->nmounts].kind = c == OPT_RO        ? SBVM_MOUNT_RO
                                  : c == OPT_RW      ? SBVM_MOUNT_RW
                                  : c == OPT_TMPFS   ? SBVM_MOUNT_TMPFS
                                  : c == OPT_HIDE    ? SBVM_MOUNT_HIDE
                                  : c == OPT_COPY_IN ? 100
                                                     : 101;
            nm[o->nmounts++].arg = optarg;
            break;
        }
        case OPT_ROOTFS:
            o->rootfs = optarg;
            break;
        case OPT_PROFILE:
            if (o->profile) {
                cli_error("--profile given twice (%s, %s): one profile per run", o->profile,
                          optarg);
                goto done;
            }
            o->profile = optarg;
            if (!(o->profile_path = find_profile(optarg)))
                goto done;
            break;
        case OPT_NET_ALLOW_PRIVATE:
            o->net_allow_private = true;
            break;
        case OPT_SECRET:
            if (push(&o->secrets, &o->nsecrets, optarg) < 0)
                goto oom;
            break;
        case OPT_TRUST_CA:
            if (push(&o->trust_ca, &o->ntrust_ca, optarg) < 0)
                goto oom;
            break;
        case OPT_NO_SYMBOLIZE:
            o->no_symbolize = true;
            break;
        case OPT_ONE_SANDBOX:
            o->one_sandbox = true;
            break;
        case OPT_CHANNEL:
            o->channel = true;
            break;
        case OPT_DEVICE:
            if (push(&o->devices, &o->ndevices, optarg) < 0)
                goto oom;
            break;
        case 'r':
            if (push(&o->drivers, &o->ndrivers, optarg) < 0)
                goto oom;
            break;
        case 't':
            /* The test program and its arguments follow, whatever they look like. */
            *first = optind;
            return 0;
        case OPT_TRACE_DEVICES:
            o->trace_devices = optarg;
            break;
        case OPT_TRACE_JSON:
            o->trace_json = true;
            break;
        case 'h':
            if (shell)
                cmd_shell_help();
            else
                cmd_run_help();
            return 1;
        case ':':
            cli_error("option '%s' needs a value (see sandboxvm %s --help)", argv[optind - 1], cmd);
            goto done;
        default:
            if (optopt)
                cli_error("unknown option '-%c' (see sandboxvm %s --help)", optopt, cmd);
            else
                cli_error("unknown option '%s' (see sandboxvm %s --help)", argv[optind - 1], cmd);
            goto done;
        }
    }
    *first = optind;
    return 0;
oom:
    cli_error("out of memory");
    return -1;
done:
    return -1;
}
