/* SPDX-License-Identifier: MIT */
/*
 * chanprobe.c: a guest built with the guest SDK, for the tests of the host
 * channel inside sandboxes. "hello" greets, logs and calls host function
 * SBVM_CALL_USER with "ping" (registered or not); "scribble" greets, then overwrites the window's
 * header (as a hostile guest would: it finds the mapping in its own maps) and logs again; "fd"
 * tells whether fd 3 and SBVM_CHANNEL are there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandboxvm/guest.h"

static int scribble(void)
{
    char line[512];
    FILE *f = fopen("/proc/self/maps", "r");
    int done = 0;

    while (f && fgets(line, sizeof(line), f))
        if (strstr(line, "sbvm-channel") && strstr(line, "rw")) {
            unsigned long start = strtoul(line, NULL, 16);
            memset((void *)start, 0x5a, 64);
            done = 1;
            break;
        }
    if (f)
        fclose(f);
    return done;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "hello";
    int32_t res = 0;
    int r;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(cmd, "fd")) {
        struct stat st;
        const char *v = getenv("SBVM_CHANNEL");
        printf("fd3: %s, SBVM_CHANNEL: %s\n", fstat(3, &st) == 0 ? "open" : "closed",
               v ? v : "unset");
        return 0;
    }
    r = sbvm_hello(SBVM_ABI_VERSION);
    if (r < 0) {
        printf("hello: %s\n", sbvm_strerror(r));
        return 3;
    }
    printf("hello: ok\n");
    sbvm_log(SBVM_LOG_INFO, "a line from the guest");
    if (!strcmp(cmd, "scribble")) {
        printf("scribbled: %s\n", scribble() ? "yes" : "no window found");
        r = sbvm_log(SBVM_LOG_INFO, "after the scribble");
        /* The host ends the channel; the guest goes on without it. */
        r = sbvm_hostcall(SBVM_CALL_USER, NULL, 0, NULL, 0, NULL, &res);
        printf("after: %s\n", r < 0 ? sbvm_strerror(r) : "answered");
        return 0;
    }
    r = sbvm_hostcall(SBVM_CALL_USER, "ping", 4, NULL, 0, NULL, &res);
    if (r < 0)
        printf("call: %s\n", sbvm_strerror(r));
    else
        printf("call: answered %d\n", (int)res);
    return 0;
}
