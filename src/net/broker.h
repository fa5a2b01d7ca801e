/* SPDX-License-Identifier: MIT */
/*
 * broker.h: the host side of --net allow. The sandbox's guest process makes
 * a listening socket on 127.0.0.1:3128 inside the sandbox's network namespace
 * and hands it to the supervisor; the broker accepts on it in a thread of
 * its own, and serves each connection in a thread: an HTTP CONNECT or a plain
 * HTTP request, checked against the rules, the name resolved here, the
 * address checked, and the connection made to exactly that address. Every
 * attempt is recorded.
 *
 * Nothing the guest sends is trusted: request heads are bounded (16 KiB),
 * parsed strictly, and every wait has a time limit.
 */
#ifndef SBVM_NET_BROKER_H
#define SBVM_NET_BROKER_H

#include <stddef.h>

#include "net/policy.h"
#include "util/strv.h"
#include "sandboxvm/sandboxvm.h"

#define NET_PROXY_PORT 3128
#define NET_PROXY_URL  "http://127.0.0.1:3128"
/* The supervisor's file descriptors one proxied connection holds at the
 * most: the guest's connection, the upstream one, two splice pipes (2 x 2).
 * Brokers share a budget of them (broker.c). */
#define NET_FDS_PER_CONN 6

struct broker;

/* Starts serving listen_fd (which it takes over) under pol (which must
 * outlive the broker). */
int broker_start(const struct net_policy *pol, int listen_fd, struct broker **out,
                 sbvm_error **err);
/* Stops accepting, ends the connections still open, waits for their
 * threads, and hands over the record (the caller frees it with
 * net_attempts_free): the first 4096 attempts, and how many more there were. */
void broker_stop(struct broker *b, struct sbvm_net_attempt **attempts, size_t *n,
                 uint64_t *dropped);
void net_attempts_free(struct sbvm_net_attempt *v, size_t n);
/* A copy of what a running broker has recorded so far (NULL: none). */
int broker_peek(struct broker *b, struct sbvm_net_attempt **out, size_t *n, uint64_t *dropped);
void net_attempt_release(struct sbvm_net_attempt *a);

/* For tests: serves one connection on fd (blocking) and records it. */
void broker_serve_one(const struct net_policy *pol, int fd, struct sbvm_net_attempt *rec);

/* Replaces placeholders of secrets bound for host in a request head
 * (header lines only, including inside Basic credentials); the number
 * replaced. head is NUL-terminated and reallocated. What now carries a
 * secret (its value, and each Basic credential made with one) is added to
 * masks, for the response to be masked with (may be NULL). */
unsigned net_inject_secrets(const struct net_policy *pol, const char *host, char **head,
                            size_t *len, struct strv *masks);

/* For interception (intercept.c): adds one attempt to the broker's record
 * (taking its strings; released when b is NULL), and collects the values
 * a response must be masked with (see mask_values in broker.c). */
void broker_record(struct broker *b, struct sbvm_net_attempt *rec);
int broker_mask_values(struct broker *b, const struct net_policy *pol, struct strv *masks);

#endif
