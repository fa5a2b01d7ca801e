/* SPDX-License-Identifier: MIT */
/*
 * elfdyn.h: what a dynamic ELF program's loader will look for: its
 * libraries (DT_NEEDED) and where it looks first (DT_RUNPATH, or the older
 * DT_RPATH). The program file is hostile input: every offset and length in
 * it is checked against the file before use, and what is read is bounded.
 * Read through a callback, so that the parser is fuzzed over a buffer.
 */
#ifndef SBVM_POLICY_ELFDYN_H
#define SBVM_POLICY_ELFDYN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/strv.h"

/* Reads len bytes at off; the number read, or -1. */
typedef ssize_t (*elfdyn_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

struct elf_dyn {
    char *runpath; /* colon-separated, as written; NULL: none */
    bool is_rpath; /* it came from DT_RPATH (no DT_RUNPATH) */
    struct strv needed;
};

/* Caps: no real program comes near them. */
#define ELFDYN_PHDRS_MAX   256
#define ELFDYN_DYNAMIC_MAX (64 * 1024)
#define ELFDYN_STRTAB_MAX  (4 * 1024 * 1024)
#define ELFDYN_NEEDED_MAX  256

/*
 * Reads the dynamic section of the 64-bit little-endian ELF file of `size`
 * bytes. 0 (a static program has no runpath and no needed), -ENOEXEC when
 * the file is malformed, -ENOMEM.
 */
int elfdyn_read(elfdyn_read_fn rd, void *ctx, uint64_t size, struct elf_dyn *out);
void elfdyn_release(struct elf_dyn *d);

#endif
