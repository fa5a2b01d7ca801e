/* SPDX-License-Identifier: MIT */
/*
 * tlsmod.c: the table libsandboxvm-tls.so exports (tlsmod.h): the only
 * symbol the module shows; everything else in it is hidden and bound
 * inside it.
 */
#include "net/tlsmod.h"

__attribute__((visibility("default"))) const struct net_tls_ops sbvm_tls_ops = {
    .abi = NET_TLS_ABI,
    .size = sizeof(struct net_tls_ops),
    .version = SBVM_VERSION,
    .policy_size = sizeof(struct net_policy),
    .certs_parse = net_certs_parse,
    .certs_load = net_certs_load,
    .ca_new = net_ca_new,
    .ca_free = net_ca_free,
    .ca_pem = net_ca_pem,
    .ca_cert = net_ca_cert,
    .ca_leaf = net_ca_leaf,
    .tls_new = net_tls_new,
    .tls_free = net_tls_free,
    .tls_connect = net_tls_connect,
    .tls_accept = net_tls_accept,
    .tls_read = net_tls_read,
    .tls_write = net_tls_write,
    .tls_wait = net_tls_wait,
    .tls_close = net_tls_close,
};
