/* SPDX-License-Identifier: MIT */
/* fuzz-elfdyn.c: a program file's dynamic section, which its author picks. */
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "policy/elfdyn.h"

struct input {
    const uint8_t *data;
    size_t size;
};

static ssize_t input_read(void *ctx, void *buf, size_t len, uint64_t off)
{
    const struct input *in = ctx;

    if (off > in->size || len > in->size - off)
        return -1;
    memcpy(buf, in->data + off, len);
    return (ssize_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { data, size };
    struct elf_dyn d;

    /* The size the caller claims may exceed what can be read. */
    if (elfdyn_read(input_read, &in, size, &d) == 0)
        elfdyn_release(&d);
    if (elfdyn_read(input_read, &in, (uint64_t)size * 2 + 7, &d) == 0)
        elfdyn_release(&d);
    return 0;
}
