/* SPDX-License-Identifier: MIT */
/*
 * policy.h: what a guest may reach through the broker (--net allow=...), and
 * which addresses it may never reach unless asked (--net-allow-private).
 *
 * A rule is HOST[:PORT]:
 *   example.com          that name exactly, on ports 80 and 443
 *   example.com:8080     that name, that port only
 *   *.example.com        any name under example.com (a.example.com,
 *                        a.b.example.com), not example.com itself
 *   *                    any name (addresses are still checked)
 *   192.0.2.7, [2001:db8::7]   an address literal: the only way to allow
 *                        one; no wildcard, "*" included, matches an address
 *   ...:*                any port
 *   https://HOST[:PORT]/PREFIX   that host (port 443 unless given), and only
 *                        requests whose path is under PREFIX: the broker
 *                        intercepts HTTPS to such a host to check each
 *                        request (http://: port 80, plain requests)
 * Names are compared case-insensitively, without a trailing dot.
 *
 * Whatever the rules, the broker resolves names itself and refuses
 * loopback, private, shared (CGNAT), link-local (cloud metadata among
 * them), multicast, broadcast, unspecified and reserved addresses, IPv4 or
 * IPv6 (IPv4-mapped forms included), unless private destinations are
 * allowed; then it connects to exactly the address it checked.
 */
#ifndef SBVM_NET_POLICY_H
#define SBVM_NET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sandboxvm/sandboxvm.h"

#define NET_PORT_DEFAULT 0 /* 80 and 443 */
#define NET_PORT_ANY     (-1)

struct net_rule {
    char *host;    /* lowercase name, "*.suffix", "*", or a canonical address */
    bool wildcard; /* "*.suffix" (host holds ".suffix") or "*" (host "") */
    int port;      /* 1-65535, NET_PORT_DEFAULT or NET_PORT_ANY */
    char *path;    /* a path prefix ("/repos/acme/"), or NULL: any path */
};

/* Parses one rule; on error says which and why ("--net allow": the
 * caller's prefix). */
int net_rule_parse(const char *text, struct net_rule *out, sbvm_error **err);
void net_rule_release(struct net_rule *r);
/* Whether host:port (host already normalised by net_host_normalise) is
 * matched by the rule. */
bool net_rule_match(const struct net_rule *r, const char *host, int port);

/* Lowercases a host name or canonicalises an address literal (brackets
 * removed) into out; false when it is neither a valid name nor an address. */
bool net_host_normalise(const char *in, size_t len, char *out, size_t size);
/* A DNS name alone (labels of [a-z0-9_-], 1-63 long, no '-' at either
 * end), lowercased into out; no addresses. */
bool net_name_valid(const char *in, size_t len, char *out, size_t size);
/* The longest DNS name (RFC 1035): what a host's text may hold. */
#define NET_HOST_MAX 253

/* Why an address may not be reached without --net-allow-private ("loopback",
 * "private", "link-local", ...), or NULL when it may. */
const char *net_addr_forbidden(const struct sockaddr *sa);

struct net_secret {
    char *name;        /* environment variable */
    char *value;       /* the real value: never in the guest */
    char *placeholder; /* what the guest sees instead */
    struct net_rule host;
};

/* Everything the broker of one guest goes by; owns its rules and secrets. */
struct net_ca;
struct net_policy {
    struct net_rule *rules;
    size_t nrules;
    bool allow_private;
    struct net_secret *secrets;
    size_t nsecrets;
    struct net_ca *ca; /* the sandbox's CA, when some host is intercepted */
    char *trust_pem;   /* --trust-ca certificates, for verifying servers */
};

/*
 * Whether the broker terminates TLS for a CONNECT to host:port: a secret is
 * for that host, or a rule that allows it names a path.
 */
bool net_policy_intercepts(const struct net_policy *p, const char *host, int port);

/*
 * Whether the rules let a request for `target` (origin form, as sent) to
 * host:port through: NULL, or why not (in why). Allowed when a rule for
 * host:port names no path, or when the path (the target up to '?') is safe
 * (no "." or ".." segment, literal or percent-encoded, no backslash, no
 * escape left after one decoding) and under a rule's prefix: it starts with
 * the prefix, and the prefix ends with '/' or the path goes on with '/' or
 * ends there.
 */
const char *net_policy_path(const struct net_policy *p, const char *host, int port,
                            const char *target, size_t len, char *why, size_t why_size);
/* Whether any rule names a path (then plain requests are checked too). */
bool net_policy_has_paths(const struct net_policy *p);

struct sbvm_config;
/* Parses the config's rules and secrets and gives each secret a fresh random
 * placeholder. */
int net_policy_build(struct net_policy *p, const struct sbvm_config *cfg, sbvm_error **err);
void net_policy_release(struct net_policy *p);
/* Refuses (-EINVAL, saying which) a secret for a host no allow rule lets
 * the guest reach: it could never be sent. */
int net_secrets_check(const struct sbvm_config *cfg, sbvm_error **err);

/* Parses NAME=VALUE@HOST (HOST as a rule without a port). The placeholder is
 * made by the caller. */
int net_secret_parse(const char *text, struct net_secret *out, sbvm_error **err);
void net_secret_release(struct net_secret *s);

#endif
