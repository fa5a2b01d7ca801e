/* SPDX-License-Identifier: MIT */
/*
 * fuzz-cli.c: "sandboxvm run" option parsing and checking, up to the configs
 * and the runner, with nothing run. The input is the command line, its
 * arguments separated by NUL bytes. Run with -close_fd_mask=3: errors and help
 * are printed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), **argv;
    size_t ntok = 0, argc;
    struct run_prepared p;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (size)
        ntok = 1;
    for (size_t i = 0; i < size; i++)
        ntok += buf[i] == '\0';
    argc = ntok + 1;
    argv = calloc(argc + 1, sizeof(*argv));
    if (!argv) {
        free(buf);
        return 0;
    }
    argv[0] = (char *)"run";
    if (size) {
        size_t k = 1;
        argv[k++] = buf;
        for (size_t i = 0; i < size; i++)
            if (buf[i] == '\0')
                argv[k++] = buf + i + 1;
    }
    if (cli_run_prepare((int)argc, argv, &p) == 0 && !p.help)
        cli_run_prepared_free(&p);
    free(argv);
    free(buf);
    return 0;
}
