/* SPDX-License-Identifier: MIT */
/*
 * ca.h: the certificates of HTTPS through the broker.
 *
 * Certificates a user adds to what is trusted (--trust-ca FILE): parsed and
 * written out again, certificate by certificate, so that nothing but
 * certificates (never a private key left in the same file) reaches the
 * guest's view.
 *
 * The per-sandbox certificate authority of TLS interception: an ECDSA P-256
 * key made when the sandbox is prepared, held in this process's memory only
 * and freed with the sandbox; its certificate is all the guest gets. It is
 * name-constrained to the hosts the broker intercepts, so that the guest's
 * trust in it covers those names and no other. It mints one certificate per
 * intercepted host (a name or an address), cached.
 *
 * Thread-safe: the broker's connection threads share one CA.
 */
#ifndef SBVM_NET_CA_H
#define SBVM_NET_CA_H

#include <stddef.h>

#include <openssl/types.h>

#include "sandboxvm/sandboxvm.h"
#include "util/strbuf.h"

/* A PEM file given to be trusted: at most this large. */
#define NET_CERTS_MAX (4u << 20)

/* Parses data (what: the file's name, for messages) as PEM certificates
 * and appends each, re-encoded, to pem. Refuses anything else in it (a
 * private key above all), and a file without a certificate. */
int net_certs_parse(const char *data, size_t len, const char *what, struct strbuf *pem,
                    sbvm_error **err);
/* The same for a file. */
int net_certs_load(const char *path, struct strbuf *pem, sbvm_error **err);
/* The certificates of a PEM text as a stack (for a verifying store), or NULL. */
STACK_OF(X509) * net_certs_stack(const char *pem, size_t len);

struct net_ca;

/*
 * A new CA that may certify only `hosts` (normalised names, ".suffix" for
 * every name under suffix, address literals; the empty string for any
 * name, which lifts the constraint).
 */
int net_ca_new(const char *const *hosts, size_t nhosts, struct net_ca **out, sbvm_error **err);
/* Frees the CA and its keys. */
void net_ca_free(struct net_ca *ca);
/* Its certificate, PEM (owned by the CA). */
const char *net_ca_pem(const struct net_ca *ca);
/* Its certificate (owned by the CA). */
X509 *net_ca_cert(const struct net_ca *ca);
/*
 * The certificate for host (a normalised name or an address literal) and
 * its key, each with a reference the caller drops (X509_free,
 * EVP_PKEY_free). 0 or -errno.
 */
int net_ca_leaf(struct net_ca *ca, const char *host, X509 **cert, EVP_PKEY **key);

#endif
