/* SPDX-License-Identifier: MIT */
/* fuzz-procscan.c: /proc/PID/stat lines, whose command name a guest picks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/process/procscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    uint64_t ticks = 0;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    (void)procscan_parse_stat(text, &ticks);
    free(text);
    return 0;
}
