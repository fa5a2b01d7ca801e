/* SPDX-License-Identifier: MIT */
/*
 * output.h: the CLI's view of guests' live output. Splits each stream into
 * lines, prefixes them with the guest's name, keeps stdout and stderr apart,
 * neutralises terminal control sequences when writing to a terminal, and
 * optionally tees each stream raw into DIR/NAME.stdout and DIR/NAME.stderr.
 * Memory per stream is bounded: a line longer than the buffer is written in
 * pieces.
 */
#ifndef SBVM_CLI_OUTPUT_H
#define SBVM_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "sandboxvm/sandboxvm.h"

struct output;

/* What --output-dir saves of one stream when not told otherwise: a guest
 * decides how much it writes, and the host's disk is not its to fill. */
#define OUTPUT_DIR_LIMIT_DEFAULT (1ULL << 30)

struct output_opts {
    bool tag;          /* prefix lines with [name] */
    int dir_fd;        /* --output-dir, or -1 */
    uint64_t file_cap; /* bytes saved per --output-dir file */
    int stdout_fd;     /* where guests' stdout goes: 1, or 2 when a report uses 1 */
    bool raw;          /* the bytes as they come, even on a terminal (--raw) */
};

struct output *output_new(size_t nguests, const struct output_opts *o);
void output_free(struct output *out);
/* Callbacks for sbvm_events (ctx = the struct output). */
void output_on_start(void *ctx, size_t index, const char *name);
void output_on_data(void *ctx, size_t index, enum sbvm_stream s, const void *data, size_t len);
void output_on_end(void *ctx, size_t index, const sbvm_result *r);
/* The first error writing the guests' output to our stdout or stderr
 * (a positive errno: EPIPE when the reader left), *which naming the fd;
 * 0 when everything was written. Since then their output there is lost,
 * and their own writes to that stream fail with EPIPE. */
int output_lost(const struct output *out, int *which);
/* An error that happened while writing the output files, or NULL. */
const char *output_file_error(const struct output *out);
/* Warns, on stderr, of every --output-dir file cut at its cap. */
void output_report_cuts(const struct output *out, const char *dir);
/* The runner whose guests' streams are closed when their reader is gone,
 * and whose timer shows partial lines after a quiet moment. */
void output_set_runner(struct output *out, sbvm_runner *rn);

#endif
