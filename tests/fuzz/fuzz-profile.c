/* SPDX-License-Identifier: MIT */
/*
 * fuzz-profile.c: profile files (JSON) applied to a config: every field's
 * checks, the all-or-nothing application, and the config's copy and free.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sandboxvm/sandboxvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    sbvm_config *cfg;
    sbvm_error *err = NULL;
    int fd = memfd_create("fuzz-profile", MFD_CLOEXEC);

    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    cfg = sbvm_config_new();
    if (sbvm_config_load_profile(cfg, path, &err) < 0)
        sbvm_error_free(err);
    sbvm_config_free(sbvm_config_dup(cfg));
    sbvm_config_free(cfg);
    close(fd);
    return 0;
}
