/* SPDX-License-Identifier: MIT */
/*
 * serve_exec.c: `sandboxvm serve` in the command every guest runs under is
 * an exec of sandboxvm-serve, the same command built with the session
 * server. The server's libraries (libmicrohttpd with GnuTLS and p11-kit,
 * libarchive with ICU and libxml2) cost every start of sandboxvm some 15 ms
 * of loading and constructors (docs/BENCHMARKS.md); only the server needs
 * them, so only the server loads them.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/strbuf.h"

#define SERVE_BINARY "sandboxvm-serve"

/* Runs sandboxvm-serve from the directory of this executable, with args
 * after its own name; returns only when it cannot. */
static int exec_server(int argc, char **argv, const char *extra)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    struct strbuf path = STRBUF_INIT;
    char **args;
    char *slash;
    int k = 0;

    if (n <= 0) {
        cli_error("serve: cannot find this program's directory: %s", strerror(errno));
        return EXIT_USAGE;
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    strbuf_add(&path, self, slash ? (size_t)(slash - self + 1) : 0);
    strbuf_addstr(&path, SERVE_BINARY);
    args = calloc((size_t)argc + 2, sizeof(*args));
    if (!args || strbuf_failed(&path)) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    args[k++] = (char *)SERVE_BINARY;
    for (int i = 1; i < argc; i++)
        args[k++] = argv[i];
    if (extra)
        args[k++] = (char *)extra;
    args[k] = NULL;
    execv(path.buf, args);
    cli_error("serve: %s: %s (it is built and installed beside sandboxvm)", path.buf,
              strerror(errno));
    free(args);
    strbuf_release(&path);
    return EXIT_USAGE;
}

int cmd_serve(int argc, char **argv)
{
    return exec_server(argc, argv, NULL);
}

void cmd_serve_help(void)
{
    char *argv[] = { (char *)"serve", NULL };

    exit(exec_server(1, argv, "--help"));
}
