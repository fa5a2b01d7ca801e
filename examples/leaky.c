/* SPDX-License-Identifier: MIT */
/*
 * leaky.c: a guest that leaves things behind: a child process that would
 * sleep for an hour and a file it keeps open. The sandbox must reap both
 * the moment the guest ends.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    int fd = open("/tmp/leaky.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t child = fork();

    if (child == 0) {
        /* Detached from the parent's fate; holds the file open. */
        setsid();
        sleep(3600);
        return 0;
    }
    if (fd >= 0)
        dprintf(fd, "still open\n");
    printf("left behind: child pid %d sleeping for an hour, /tmp/leaky.log open as fd %d\n",
           (int)child, fd);
    return 0;
}
