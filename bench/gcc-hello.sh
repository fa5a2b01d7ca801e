#!/bin/sh
# SPDX-License-Identifier: MIT
# gcc-hello.sh: real work for the benchmarks: write a small C program into
# /tmp, compile it with -O2 and run it. Needs only /usr and a writable /tmp.
set -e
cat >/tmp/bench-hello.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "hello from %s", "gcc");
    return strlen(buf) == 14 ? 0 : 1;
}
C
gcc -O2 -o /tmp/bench-hello /tmp/bench-hello.c
/tmp/bench-hello
