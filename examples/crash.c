/* SPDX-License-Identifier: MIT */
/* crash.c: a guest that dereferences NULL, as buggy parsers do. */
#include <stdio.h>

int main(void)
{
    volatile int *p = NULL;

    printf("about to write through a NULL pointer\n");
    fflush(stdout);
    *p = 42;
    return 0;
}
