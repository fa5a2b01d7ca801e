/* SPDX-License-Identifier: MIT */
/*
 * fuzz-calls-elf.c: the ELF reader that finds what a library needs before
 * its sandbox is made (src/calls/deps.c): any file a caller names.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "calls/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct elf_deps d = { STRV_INIT, STRV_INIT };
    sbvm_error *err = NULL;
    int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);

    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size)
        (void)elf_read_deps(fd, "fuzz", &d, &err);
    for (size_t i = 0; i < d.needed.n; i++)
        (void)strlen(d.needed.v[i]);
    elf_deps_release(&d);
    sbvm_error_free(err);
    close(fd);
    return 0;
}
