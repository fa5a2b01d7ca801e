/* SPDX-License-Identifier: MIT */
/*
 * fuzz-bpf.c: the init's classic-BPF evaluator (policy/bpf_eval.h). Its
 * programs are the sandbox's own, but its data is a guest's registers, and
 * it must stay in bounds for any program too: the first 64 bytes are the
 * call (struct seccomp_data), the rest the program.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/bpf_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seccomp_data_ d;
    struct bpf_insn_ prog[256];
    const struct bpf_insn_ *progs[2];
    uint32_t lens[2], n;

    if (size < sizeof(d))
        return 0;
    memcpy(&d, data, sizeof(d));
    n = (uint32_t)((size - sizeof(d)) / sizeof(prog[0]));
    if (n > 256)
        n = 256;
    memcpy(prog, data + sizeof(d), n * sizeof(prog[0]));
    (void)bpf_eval(prog, n, &d);
    /* Stacked: the same program twice, split unevenly. */
    progs[0] = prog;
    lens[0] = n / 2;
    progs[1] = prog + n / 2;
    lens[1] = n - n / 2;
    (void)seccomp_eval(progs, lens, 2, &d);
    return 0;
}
