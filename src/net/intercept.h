/* SPDX-License-Identifier: MIT */
/*
 * intercept.h: a CONNECT the broker terminates (a host with a secret or a
 * path rule). The broker verifies the server, then answers the guest's
 * handshake with the sandbox CA's certificate for the host, and reads the
 * HTTP/1.1 requests in between, one at a time on a kept-alive connection:
 * each is checked (its Host must be the tunnel's host, its path under a
 * rule's prefix), given its secrets, and recorded; each response is
 * decoded and masked as on plain HTTP. A refusal is answered inside the
 * TLS connection, which then ends.
 *
 * Runs in the connection's own thread; a slow or hostile peer holds up
 * that connection only, and every wait is bounded.
 */
#ifndef SBVM_NET_INTERCEPT_H
#define SBVM_NET_INTERCEPT_H

#include <stddef.h>

#include "sandboxvm/sandboxvm.h"

struct broker;
struct net_policy;
struct net_tls;

struct net_icept {
    struct broker *b; /* NULL: the requests are not kept (tests) */
    const struct net_policy *pol;
    struct net_tls *tls;
    int guest, up, stop_fd;
    const char *host; /* normalised, as the CONNECT named it */
    int port;
    const char *address; /* connected to */
    const char *pre;     /* what the guest sent after its CONNECT head */
    size_t npre;
    uint64_t bytes_up, bytes_down; /* out: the requests' and responses' bytes */
    unsigned secrets;              /* out: placeholders replaced, all requests */
};

/* Serves the intercepted connection to its end: NULL, or why it ended
 * badly (in why); *status is 502 when the broker answered the CONNECT
 * itself (the server could not be verified). */
const char *net_intercept(struct net_icept *ic, char *why, size_t why_size, int *status);

#endif
