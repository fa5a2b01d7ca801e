/* SPDX-License-Identifier: MIT */
/* netprobe.c: a guest that tries to reach the network. It exits 0 when it
 * cannot (what a sandbox with --net none must give) and 1 when it can. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(80) };
    struct addrinfo *ai = NULL;
    int s, r, reached = 0;

    inet_pton(AF_INET, "1.1.1.1", &sa.sin_addr);
    s = socket(AF_INET, SOCK_STREAM, 0);
    r = s < 0 ? -1 : connect(s, (struct sockaddr *)&sa, sizeof(sa));
    printf("connect to 1.1.1.1:80: %s\n", r == 0 ? "connected" : strerror(errno));
    reached |= r == 0;
    if (s >= 0)
        close(s);
    r = getaddrinfo("example.com", "80", NULL, &ai);
    printf("resolve example.com: %s\n", r == 0 ? "resolved" : gai_strerror(r));
    reached |= r == 0;
    if (ai)
        freeaddrinfo(ai);
    return reached;
}
