/* SPDX-License-Identifier: MIT */
/* hello.c: a well-behaved guest that shows what its sandbox looks like. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char host[64] = "?", cwd[256] = "?";

    gethostname(host, sizeof(host));
    if (!getcwd(cwd, sizeof(cwd)))
        snprintf(cwd, sizeof(cwd), "?");
    printf("hello from the sandbox: pid %d, uid %d, host '%s', cwd %s\n", (int)getpid(),
           (int)getuid(), host, cwd);
    printf("home directories visible: %s\n", access("/home", F_OK) == 0 ? "yes" : "no");
    return 0;
}
