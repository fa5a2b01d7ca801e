/* SPDX-License-Identifier: MIT */
/*
 * cmd_serve.c: `sandboxvm serve`: the session server (src/server) on a
 * unix socket, its options parsed and checked here, its log on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/request.h"
#include "server/server.h"
#include "util/strbuf.h"
#include "util/util.h"

void cmd_serve_help(void)
{
    fputs("Usage: sandboxvm serve [OPTIONS]\n"
          "\n"
          "Keep sandboxes alive and drive them over HTTP/1.1 + JSON on a unix socket:\n"
          "create, exec (output streamed as NDJSON events), files in and out (tar),\n"
          "snapshots of their files, destroy. The API is docs/API.md; the model and\n"
          "examples with curl, Python and TypeScript are docs/SESSIONS.md.\n"
          "\n"
          "The socket is made owner-only (0600); every connection's peer credentials are\n"
          "checked, and a client sees only its own uid's sandboxes. SIGTERM, SIGINT or\n"
          "SIGHUP end every sandbox and the server; if the server is killed, its\n"
          "sandboxes die with it.\n"
          "\n"
          "Examples:\n"
          "  sandboxvm serve --socket /tmp/sbvm.sock --warm 4\n"
          "  curl --unix-socket /tmp/sbvm.sock -X POST http://sbvm/v1/sandboxes\n"
          "\n"
          "Options:\n"
          "  -s, --socket PATH        the unix socket (default: $XDG_RUNTIME_DIR/sandboxvm.sock,\n"
          "                           else STATE/serve.sock)\n"
          "      --state DIR          layers, snapshots, uploads in passing (default:\n"
          "                           $XDG_STATE_HOME/sandboxvm, else ~/.local/state/sandboxvm);\n"
          "                           made 0700, and must stay so\n"
          "      --settings FILE      defaults for every sandbox: a JSON object of a\n"
          "                           profile's fields (docs/API.md); a client's settings\n"
          "                           apply over them\n"
          "      --warm N             keep N sandboxes of the defaults ready (default 0)\n"
          "      --max-sandboxes N    alive at once, the pool's included (default 64)\n"
          "      --max-jobs N         running at once in one sandbox (default 16)\n"
          "      --idle-timeout S     a sandbox with no job and no request for S seconds\n"
          "                           ends (default 600; 0: never); a client may ask\n"
          "      --max-lifetime S     a sandbox ends S seconds after its creation (default\n"
          "                           86400; 0: never); a client may ask\n"
          "      --idle-timeout-cap S, --max-lifetime-cap S\n"
          "                           the most a client may ask for (default: no cap)\n"
          "      --max-upload SIZE    one file upload (default 1G)\n"
          "      --rootfs NAME=DIR    offer a tree as a sandbox's root by name (repeat)\n"
          "      --allow-uid UID      also serve this uid (repeat); the socket is then made\n"
          "                           0666, and peer credentials decide\n"
          "      --tcp ADDR:PORT      also listen on TCP (IPv4), for clients that send\n"
          "                           Authorization: Bearer TOKEN; they act as the\n"
          "                           server's uid\n"
          "      --token-file FILE    the token (16 bytes or more; the file must be 0600)\n"
          "      --ready-fd FD        write \"ready\\n\" to FD once the socket accepts\n"
          "  -v, --verbose            log every job, and libmicrohttpd's messages\n"
          "  -q, --quiet              log nothing but errors\n"
          "  -h, --help               this help\n",
          stdout);
}

enum {
    OPT_STATE = 1000,
    OPT_SETTINGS,
    OPT_WARM,
    OPT_MAX_SANDBOXES,
    OPT_MAX_JOBS,
    OPT_IDLE,
    OPT_LIFETIME,
    OPT_IDLE_CAP,
    OPT_LIFETIME_CAP,
    OPT_MAX_UPLOAD,
    OPT_ROOTFS,
    OPT_ALLOW_UID,
    OPT_TCP,
    OPT_TOKEN_FILE,
    OPT_READY_FD,
};

static const struct option longopts[] = {
    { "socket", required_argument, NULL, 's' },
    { "state", required_argument, NULL, OPT_STATE },
    { "settings", required_argument, NULL, OPT_SETTINGS },
    { "warm", required_argument, NULL, OPT_WARM },
    { "max-sandboxes", required_argument, NULL, OPT_MAX_SANDBOXES },
    { "max-jobs", required_argument, NULL, OPT_MAX_JOBS },
    { "idle-timeout", required_argument, NULL, OPT_IDLE },
    { "max-lifetime", required_argument, NULL, OPT_LIFETIME },
    { "idle-timeout-cap", required_argument, NULL, OPT_IDLE_CAP },
    { "max-lifetime-cap", required_argument, NULL, OPT_LIFETIME_CAP },
    { "max-upload", required_argument, NULL, OPT_MAX_UPLOAD },
    { "rootfs", required_argument, NULL, OPT_ROOTFS },
    { "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
    { "tcp", required_argument, NULL, OPT_TCP },
    { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
    { "ready-fd", required_argument, NULL, OPT_READY_FD },
    { "verbose", no_argument, NULL, 'v' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* Seconds, 0 allowed (none). */
static bool parse_secs(const char *s, uint64_t *ms)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(s, &end);
    if (errno || *end || end == s || !(d >= 0 && d <= 1e7))
        return false;
    if (d == 0) {
        *ms = 0;
        return true;
    }
    return seconds_to_ms(d, ms) == 0;
}

static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    cli_text(STDERR_FILENO, "sandboxvm serve: %s\n", line);
}

static char *default_path(const char *env, const char *fallback_home, const char *name)
{
    const char *base = getenv(env);
    struct strbuf sb = STRBUF_INIT;

    if (base && *base == '/')
        strbuf_addf(&sb, "%s/%s", base, name);
    else if (fallback_home) {
        const char *home = getenv("HOME");
        if (!home || *home != '/')
            return NULL;
        strbuf_addf(&sb, "%s/%s/%s", home, fallback_home, name);
    } else {
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

/* mkdir -p for the state directory's parents (the directory itself is the
 * server's to make, 0700). */
static void make_parents(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);

    if (n >= sizeof(buf))
        return;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        (void)mkdir(buf, 0700);
        *p = '/';
    }
}

int cmd_serve(int argc, char **argv)
{
    struct serve_options o;
    char *state = NULL, *sock = NULL;
    bool quiet = false;
    sbvm_error *err = NULL;
    unsigned long v;
    int c, r;

    serve_options_init(&o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "+s:vqh", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o.socket_path = optarg;
            break;
        case OPT_STATE:
            o.state_dir = optarg;
            break;
        case OPT_SETTINGS:
            o.settings = optarg;
            break;
        case OPT_WARM:
            if (!parse_uint(optarg, 256, &v))
                goto bad;
            o.warm = (unsigned)v;
            break;
        case OPT_MAX_SANDBOXES:
            if (!parse_uint(optarg, 100000, &v) || v == 0)
                goto bad;
            o.max_sandboxes = (unsigned)v;
            break;
        case OPT_MAX_JOBS:
            if (!parse_uint(optarg, 100000, &v) || v == 0)
                goto bad;
            o.max_jobs = (unsigned)v;
            break;
        case OPT_IDLE:
            if (!parse_secs(optarg, &o.idle_ms))
                goto bad;
            break;
        case OPT_LIFETIME:
            if (!parse_secs(optarg, &o.lifetime_ms))
                goto bad;
            break;
        case OPT_IDLE_CAP:
            if (!parse_secs(optarg, &o.max_idle_ms))
                goto bad;
            break;
        case OPT_LIFETIME_CAP:
            if (!parse_secs(optarg, &o.max_lifetime_ms))
                goto bad;
            break;
        case OPT_MAX_UPLOAD:
            if (parse_size(optarg, &o.max_upload) < 0)
                goto bad;
            break;
        case OPT_ROOTFS: {
            const char *eq = strchr(optarg, '=');
            char *name;
            if (!eq || eq == optarg || eq[1] != '/' || o.nrootfs == SERVE_ROOTFS_MAX)
                goto bad;
            name = strndup(optarg, (size_t)(eq - optarg));
            if (!name || !name_ok(name)) {
                free(name);
                goto bad;
            }
            o.rootfs[o.nrootfs].name = name;
            o.rootfs[o.nrootfs++].path = eq + 1;
            break;
        }
        case OPT_ALLOW_UID:
            if (!parse_uint(optarg, UINT32_MAX - 1, &v) || o.nallow_uids == SERVE_ALLOW_UIDS_MAX)
                goto bad;
            o.allow_uids[o.nallow_uids++] = (uid_t)v;
            break;
        case OPT_TCP:
            o.tcp = optarg;
            break;
        case OPT_TOKEN_FILE:
            o.token_file = optarg;
            break;
        case OPT_READY_FD:
            if (!parse_uint(optarg, INT_MAX, &v))
                goto bad;
            o.ready_fd = (int)v;
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            cmd_serve_help();
            return 0;
        default:
            cli_error("see 'sandboxvm serve --help'");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("serve takes no arguments ('%s'): see 'sandboxvm serve --help'", argv[optind]);
        return EXIT_USAGE;
    }
    if (!o.state_dir) {
        state = default_path("XDG_STATE_HOME", ".local/state", "sandboxvm");
        if (!state) {
            cli_error("no --state given, and neither XDG_STATE_HOME nor HOME is set");
            return EXIT_USAGE;
        }
        make_parents(state);
        o.state_dir = state;
    }
    if (!o.socket_path) {
        sock = default_path("XDG_RUNTIME_DIR", NULL, "sandboxvm.sock");
        if (!sock) {
            struct strbuf sb = STRBUF_INIT;
            strbuf_addf(&sb, "%s/serve.sock", o.state_dir);
            sock = strbuf_detach(&sb, NULL);
        }
        o.socket_path = sock;
    }
    o.log = quiet ? NULL : on_log;
    r = serve_run(&o, &err);
    if (r < 0) {
        cli_error("%s", err ? sbvm_error_message(err) : "the server failed");
        sbvm_error_free(err);
    }
    for (size_t i = 0; i < o.nrootfs; i++)
        free((char *)o.rootfs[i].name);
    free(state);
    free(sock);
    return r < 0 ? EXIT_USAGE : 0;
bad:
    cli_error("serve: invalid value for --%s: '%s' (see 'sandboxvm serve --help')",
              c == 's' ? "socket" : longopts[c - OPT_STATE + 1].name, optarg);
    for (size_t i = 0; i < o.nrootfs; i++)
        free((char *)o.rootfs[i].name);
    return EXIT_USAGE;
}
