/* SPDX-License-Identifier: MIT */
/*
 * tls.h: the two TLS ends of an intercepted connection (OpenSSL).
 *
 * Towards the server the broker is a client that verifies as strictly as a
 * browser: the host's trust store plus the sandbox's --trust-ca
 * certificates, the name (or address) it connected for, TLS 1.2 at the
 * least, no renegotiation; anything less is refused, never downgraded.
 * Towards the guest it is a server with a certificate for that same name
 * from the sandbox's CA, which refuses a handshake whose server name (SNI)
 * is another. Both sides are offered ALPN http/1.1 only.
 *
 * Sockets are non-blocking; every wait is bounded and ends early when the
 * broker stops. One end is used by one thread at a time.
 */
#ifndef SBVM_NET_TLS_H
#define SBVM_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/types.h>

#include "sandboxvm/sandboxvm.h"

struct net_policy;
struct net_ca;

/* The contexts of one broker: shared by its connection threads. */
struct net_tls;

int net_tls_new(const struct net_policy *pol, struct net_tls **out, sbvm_error **err);
void net_tls_free(struct net_tls *t);

struct net_tls_end {
    SSL *ssl;
    int fd;     /* not owned */
    short want; /* what the last operation waits for: POLLIN or POLLOUT */
};

/*
 * The broker's handshake with the server on fd, for host (a normalised name
 * or an address literal): 0, or -1 with why (the certificate's fault in
 * the verifier's words, or the handshake's) in why, e freed.
 */
int net_tls_connect(struct net_tls *t, struct net_tls_end *e, int fd, const char *host, int stop_fd,
                    int ms, char *why, size_t why_size);
/*
 * The guest's handshake on fd, the guest having sent pre already (bytes
 * read with its CONNECT), answered with the CA's certificate for host. A
 * server name other than host, or none for a name, is refused: -1 and why,
 * e freed.
 */
int net_tls_accept(struct net_tls *t, struct net_ca *ca, struct net_tls_end *e, int fd,
                   const char *pre, size_t npre, const char *host, int stop_fd, int ms, char *why,
                   size_t why_size);

/* What arrived: > 0 bytes; 0 the peer closed cleanly (close_notify);
 * -EAGAIN nothing yet (e->want says what to wait for); -EPIPE the
 * connection failed or ended without close_notify. */
ssize_t net_tls_read(struct net_tls_end *e, void *buf, size_t n);
/* Writes all of it, waiting at most ms for each step: false on failure. */
bool net_tls_write(struct net_tls_end *e, const void *p, size_t n, int stop_fd, int ms);
/* Waits until e can make progress (e->want), or ms: 1, 0 timeout, -1 stop. */
int net_tls_wait(struct net_tls_end *e, int stop_fd, int ms);
/* Ends the TLS session (with close_notify when notify) and frees it; the
 * socket stays open. */
void net_tls_close(struct net_tls_end *e, bool notify);

#endif
