/* SPDX-License-Identifier: MIT */
/*
 * tlsmod.h: the broker's TLS code (tls.c, ca.c) and OpenSSL live in a
 * module of their own, libsandboxvm-tls.so, opened the first time a policy
 * needs them (an intercepted host, a CA file, a trust store to check).
 *
 * Loading libssl and libcrypto costs a process ~3 ms and their
 * constructors run whether TLS is used or not; most runs never intercept.
 * The module is looked for beside the file that holds this code (the
 * build tree: the command and libsandboxvm.so are beside it), then in the
 * module directory the build was configured for (SBVM_TLS_MODDIR); never
 * at a path a guest, a profile or the environment names.
 *
 * The main code calls the names of tls.h and ca.h as before: tlsload.c
 * defines them and forwards through the table below, which the module
 * exports as its one symbol. A table of another shape or another version
 * of sandboxvm is refused.
 */
#ifndef SBVM_NET_TLSMOD_H
#define SBVM_NET_TLSMOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/ca.h"
#include "net/policy.h"
#include "net/tls.h"

#define NET_TLS_MODULE     "libsandboxvm-tls.so"
#define NET_TLS_OPS_SYMBOL "sbvm_tls_ops"
#define NET_TLS_ABI        1u

struct net_tls_ops {
    uint32_t abi;         /* NET_TLS_ABI */
    uint32_t size;        /* sizeof(struct net_tls_ops) */
    const char *version;  /* the project's version: both sides' must match */
    uint32_t policy_size; /* sizeof(struct net_policy), which the module reads */
    int (*certs_parse)(const char *data, size_t len, const char *what, struct strbuf *pem,
                       sbvm_error **err);
    int (*certs_load)(const char *path, struct strbuf *pem, sbvm_error **err);
    int (*ca_new)(const char *const *hosts, size_t nhosts, struct net_ca **out, sbvm_error **err);
    void (*ca_free)(struct net_ca *ca);
    const char *(*ca_pem)(const struct net_ca *ca);
    X509 *(*ca_cert)(const struct net_ca *ca);
    int (*ca_leaf)(struct net_ca *ca, const char *host, X509 **cert, EVP_PKEY **key);
    int (*tls_new)(const struct net_policy *pol, struct net_tls **out, sbvm_error **err);
    void (*tls_free)(struct net_tls *t);
    int (*tls_connect)(struct net_tls *t, struct net_tls_end *e, int fd, const char *host,
                       int stop_fd, int ms, char *why, size_t why_size);
    int (*tls_accept)(struct net_tls *t, struct net_ca *ca, struct net_tls_end *e, int fd,
                      const char *pre, size_t npre, const char *host, int stop_fd, int ms,
                      char *why, size_t why_size);
    ssize_t (*tls_read)(struct net_tls_end *e, void *buf, size_t n);
    bool (*tls_write)(struct net_tls_end *e, const void *p, size_t n, int stop_fd, int ms);
    int (*tls_wait)(struct net_tls_end *e, int stop_fd, int ms);
    void (*tls_close)(struct net_tls_end *e, bool notify);
};

/* Main side: opens the module once per process; 0, or -errno with *err
 * saying what is missing and how to get it. */
int net_tls_module(sbvm_error **err);
/* Tests: a directory to look in before the configured one (before the
 * first use; the string is kept). */
void net_tls_module_hint(const char *dir);

#endif
