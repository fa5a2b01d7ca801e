/* SPDX-License-Identifier: MIT */
/* policy.c: allow rules, host names and forbidden addresses (policy.h). */
#include "net/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "net/ca.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

static bool is_literal(const char *host)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* ":PORT" at the end of text (after a bracketed address or a name):
 * the port, and the length of the host part. */
static int split_port(const char *text, size_t *host_len, int *port, sbvm_error **err,
                      const char *what)
{
    const char *colon = NULL;
    size_t len = strlen(text);

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return error_set(err, EINVAL, "%s %s: an IPv6 address needs its closing ']'", what,
                             text);
        if (close[1] == ':')
            colon = close + 1;
        else if (close[1] != '\0')
            return error_set(err, EINVAL, "%s %s: unexpected text after ']'", what, text);
    } else {
        colon = strchr(text, ':');
        if (colon && strchr(colon + 1, ':'))
            return error_set(err, EINVAL,
                             "%s %s: write an IPv6 address in brackets: [2001:db8::1]:443", what,
                             text);
    }
    if (!colon) {
        *host_len = len;
        *port = NET_PORT_DEFAULT;
        return 0;
    }
    *host_len = (size_t)(colon - text);
    if (streq(colon + 1, "*")) {
        *port = NET_PORT_ANY;
        return 0;
    }
    {
        char *end;
        long p;
        errno = 0;
        p = strtol(colon + 1, &end, 10);
        if (colon[1] < '0' || colon[1] > '9' || *end || errno || p < 1 || p > 65535)
            return error_set(err, EINVAL, "%s %s: the port must be 1-65535 or *", what, text);
        *port = (int)p;
    }
    return 0;
}

/* A path for a rule's prefix or a request: why it is refused, or NULL.
 * decoded (size len + 1) receives it percent-decoded once. */
static const char *path_unsafe(const char *p, size_t len, char *decoded)
{
    size_t n = 0, seg = 0;

    if (len == 0 || p[0] != '/')
        return "a path must start with '/'";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#')
            return "a path with a space, a control character, a backslash or a '#'";
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return "a malformed percent-escape";
            hi = hexval(p[i + 1]);
            lo = hexval(p[i + 2]);
            if (hi < 0 || lo < 0)
                return "a malformed percent-escape";
            c = (unsigned char)(hi * 16 + lo);
            if (c == 0 || c == '\\')
                return "an encoded NUL or backslash in the path";
            i += 2;
        }
        decoded[n++] = (char)c;
    }
    decoded[n] = '\0';
    /* Segments of the decoded path ("%2f" splits one too): no "." or ".."
     * (nor "..;x", which some servers read as ".."), and no escape left
     * that a server decoding twice would turn into one. */
    for (size_t i = 0; i <= n; i++) {
        if (i < n && decoded[i] == '%' && i + 2 < n && hexval(decoded[i + 1]) >= 0 &&
            hexval(decoded[i + 2]) >= 0)
            return "a percent-escape in the path that is still one once decoded";
        if (i == n || decoded[i] == '/') {
            size_t sl = i - seg, dl = strcspn(decoded + seg, ";/");
            if (dl > sl)
                dl = sl;
            if ((dl == 1 && decoded[seg] == '.') ||
                (dl == 2 && decoded[seg] == '.' && decoded[seg + 1] == '.'))
                return "a '.' or '..' segment in the path";
            seg = i + 1;
        }
    }
    return NULL;
}

/* https://HOST[:PORT][/PREFIX] or http://...: a host rule with a port
 * from the scheme and a path. */
static int url_rule_parse(const char *text, size_t scheme_len, int scheme_port,
                          struct net_rule *out, sbvm_error **err)
{
    const char *auth = text + scheme_len, *slash = strchr(auth, '/'), *why;
    size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
    char authority[NET_HOST_MAX + 16];
    int r;

    if (alen == 0 || alen >= sizeof(authority))
        return error_set(err, EINVAL, "--net allow: %s: no host, or a host too long", text);
    if (memchr(auth, '@', alen) || strpbrk(text, "?#"))
        return error_set(err, EINVAL,
                         "--net allow: %s: a rule names a host and a path prefix only (no user, "
                         "query or fragment)",
                         text);
    memcpy(authority, auth, alen);
    authority[alen] = '\0';
    r = net_rule_parse(authority, out, err);
    if (r < 0)
        return r;
    if (out->port == NET_PORT_DEFAULT)
        out->port = scheme_port;
    if (slash && !streq(slash, "/")) {
        size_t plen = strlen(slash);
        char *decoded = malloc(plen + 1);
        why = decoded ? path_unsafe(slash, plen, decoded) : NULL;
        free(decoded);
        if (!decoded || why) {
            net_rule_release(out);
            return decoded ? error_set(err, EINVAL, "--net allow: %s: %s", text, why)
                           : error_set(err, ENOMEM, "out of memory");
        }
        if (!(out->path = strdup(slash))) {
            net_rule_release(out);
            return error_set(err, ENOMEM, "out of memory");
        }
    }
    return 0;
}

int net_rule_parse(const char *text, struct net_rule *out, sbvm_error **err)
{
    static const char what[] = "--net allow:";
    char host[NET_HOST_MAX + 3];
    size_t hlen = 0;
    int r;

    memset(out, 0, sizeof(*out));
    if (text && !strncasecmp(text, "https://", 8))
        return url_rule_parse(text, 8, 443, out, err);
    if (text && !strncasecmp(text, "http://", 7))
        return url_rule_parse(text, 7, 80, out, err);
    if (!text || !*text)
        return error_set(err, EINVAL, "%s an empty rule (write HOST[:PORT], e.g. example.com:443)",
                         what);
    if (strstr(text, "://")) {
        /* Another scheme's URL: say what the rule for it is, not that its
         * port is bad. */
        const char *h = strstr(text, "://") + 3;
        int n = (int)strcspn(h, "/?#"), name = (int)strcspn(h, ":/?#");
        return error_set(
            err, EINVAL,
            "%s %s: a rule is HOST[:PORT], or an http:// or https:// URL: write %.*s%s", what, text,
            n, h, n == name ? " (ports 80 and 443)" : "");
    }
    r = split_port(text, &hlen, &out->port, err, what);
    if (r < 0)
        return r;
    if (hlen == 1 && text[0] == '*') {
        out->wildcard = true;
        out->host = strdup("");
    } else if (hlen > 2 && text[0] == '*' && text[1] == '.') {
        if (!net_name_valid(text + 2, hlen - 2, host, sizeof(host)))
            return error_set(err, EINVAL, "%s %s: '%.*s' is not a host name", what, text,
                             (int)(hlen - 2), text + 2);
        out->wildcard = true;
        out->host = malloc(strlen(host) + 2);
        if (out->host) {
            out->host[0] = '.';
            memcpy(out->host + 1, host, strlen(host) + 1);
        }
    } else if (memchr(text, '*', hlen)) {
        return error_set(err, EINVAL,
                         "%s %s: a wildcard may only be a whole first label (*.example.com) or "
                         "the whole host (*)",
                         what, text);
    } else {
        if (!net_host_normalise(text, hlen, host, sizeof(host)))
            return error_set(err, EINVAL, "%s %s: '%.*s' is neither a host name nor an address",
                             what, text, (int)hlen, text);
        out->host = strdup(host);
    }
    if (!out->host)
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

void net_rule_release(struct net_rule *r)
{
    free(r->host);
    free(r->path);
    memset(r, 0, sizeof(*r));
}

bool net_rule_match(const struct net_rule *r, const char *host, int port)
{
    size_t hl, sl;

    if (r->port == NET_PORT_DEFAULT ? (port != 80 && port != 443)
                                    : (r->port != NET_PORT_ANY && r->port != port))
        return false;
    if (!r->wildcard)
        return streq(r->host, host);
    /* No wildcard, "*" included, ever stands for an address literal: a
     * rule names an address only by writing it. */
    if (is_literal(host))
        return false;
    if (!r->host[0])
        return true; /* "*" */
    /* "*.suffix": a name ending in ".suffix", longer than it. */
    hl = strlen(host);
    sl = strlen(r->host);
    return hl > sl && streq(host + hl - sl, r->host);
}

bool net_policy_intercepts(const struct net_policy *p, const char *host, int port)
{
    bool allowed = false, paths = false;

    for (size_t i = 0; i < p->nrules; i++) {
        if (!net_rule_match(&p->rules[i], host, port))
            continue;
        allowed = true;
        paths |= p->rules[i].path != NULL;
    }
    if (!allowed)
        return false;
    for (size_t i = 0; i < p->nsecrets && !paths; i++)
        paths = net_rule_match(&p->secrets[i].host, host, port);
    return paths;
}

bool net_policy_has_paths(const struct net_policy *p)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].path)
            return true;
    return false;
}

const char *net_policy_path(const struct net_policy *p, const char *host, int port,
                            const char *target, size_t len, char *why, size_t why_size)
{
    const char *q = memchr(target, '?', len), *bad = NULL;
    size_t plen = q ? (size_t)(q - target) : len;
    char *decoded;
    bool any = false;

    for (size_t i = 0; i < p->nrules; i++)
        if (net_rule_match(&p->rules[i], host, port)) {
            if (!p->rules[i].path)
                return NULL; /* a rule for the whole host */
            any = true;
        }
    if (!any) {
        snprintf(why, why_size, "not in the allowlist");
        return why;
    }
    decoded = malloc(plen + 1);
    if (!decoded) {
        snprintf(why, why_size, "out of memory");
        return why;
    }
    bad = path_unsafe(target, plen, decoded);
    free(decoded);
    if (bad) {
        snprintf(why, why_size, "%s (the rules for %s allow some paths only)", bad, host);
        return why;
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const struct net_rule *r = &p->rules[i];
        size_t rl;
        if (!r->path || !net_rule_match(r, host, port))
            continue;
        rl = strlen(r->path);
        if (plen >= rl && !memcmp(target, r->path, rl) &&
            (r->path[rl - 1] == '/' || plen == rl || target[rl] == '/'))
            return NULL;
    }
    snprintf(why, why_size, "the path is not under a prefix the rules allow for %s", host);
    return why;
}

static bool v4_in(uint32_t a, uint32_t net, int bits)
{
    uint32_t mask = bits ? 0xffffffffu << (32 - bits) : 0;
    return (a & mask) == (net & mask);
}

static const char *v4_forbidden(uint32_t a)
{
    if (v4_in(a, 0x7f000000, 8))
        return "loopback";
    if (v4_in(a, 0x0a000000, 8) || v4_in(a, 0xac100000, 12) || v4_in(a, 0xc0a80000, 16))
        return "private";
    if (v4_in(a, 0xa9fea9fe, 32))
        return "cloud metadata";
    if (v4_in(a, 0xa9fe0000, 16))
        return "link-local";
    if (v4_in(a, 0x64400000, 10))
        return "shared (carrier-grade NAT)";
    if (v4_in(a, 0x00000000, 8))
        return "unspecified";
    if (a == 0xffffffffu)
        return "broadcast";
    if (v4_in(a, 0xe0000000, 4))
        return "multicast";
    if (v4_in(a, 0xf0000000, 4) || v4_in(a, 0xc0000000, 24) || v4_in(a, 0xc0000200, 24) ||
        v4_in(a, 0xc6120000, 15) || v4_in(a, 0xc6336400, 24) || v4_in(a, 0xcb007100, 24))
        return "reserved";
    return NULL;
}

const char *net_addr_forbidden(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return v4_forbidden(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        const uint8_t *b = in6->sin6_addr.s6_addr;
        static const uint8_t zero[16];
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        static const uint8_t ec2[16] = { 0xfd, 0, 0x0e, 0xc2, 0, 0, 0,    0,
                                         0,    0, 0,    0,    0, 0, 0x02, 0x54 };

        if (!memcmp(b, mapped, 12) ||
            (!memcmp(b, zero, 12) && memcmp(b, zero, 16) && (b[12] | b[13] | b[14]) != 0)) {
            /* ::ffff:a.b.c.d and the old ::a.b.c.d: the IPv4 rules. */
            uint32_t a =
                (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
            return v4_forbidden(a);
        }
        if (!memcmp(b, zero, 15) && b[15] == 1)
            return "loopback";
        if (!memcmp(b, zero, 16))
            return "unspecified";
        if (!memcmp(b, ec2, 16))
            return "cloud metadata";
        if ((b[0] & 0xfe) == 0xfc)
            return "private";
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
            return "link-local";
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
            return "private"; /* deprecated site-local */
        if (b[0] == 0xff)
            return "multicast";
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
            return "reserved";
        if (b[0] == 0x20 && b[1] == 0x02)
            /* 6to4: the IPv4 address it embeds. */
            return v4_forbidden((uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 |
                                b[5]);
        if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
            /* NAT64 well-known prefix: the IPv4 address in its last bits. */
            return v4_forbidden((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                                (uint32_t)b[14] << 8 | b[15]);
        return NULL;
    }
    return "not an internet address";
}

/* A shell-usable variable name: [A-Za-z_][A-Za-z0-9_]*, at most 128. */
static bool secret_name_valid(const char *n)
{
    size_t len = strlen(n);

    if (len == 0 || len > 128 || (n[0] >= '0' && n[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= 'a' && n[i] <= 'z') ||
              (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
            return false;
    return true;
}

int net_secret_parse(const char *text, struct net_secret *out, sbvm_error **err)
{
    const char *eq, *at;
    struct net_rule rule;
    sbvm_error *e = NULL;
    int r;

    memset(out, 0, sizeof(*out));
    eq = text ? strchr(text, '=') : NULL;
    at = text ? strrchr(text, '@') : NULL;
    if (!eq || !at || at < eq)
        return error_set(err, EINVAL, "--secret: write NAME=VALUE@HOST, not '%s'",
                         text ? "(the value is not shown)" : "");
    out->name = strndup(text, (size_t)(eq - text));
    if (!out->name)
        return error_set(err, ENOMEM, "out of memory");
    if (!secret_name_valid(out->name)) {
        r = error_set(err, EINVAL, "--secret %s: not a valid environment variable name", out->name);
        net_secret_release(out);
        return r;
    }
    if (at == eq + 1) {
        r = error_set(err, EINVAL, "--secret %s: the value is empty", out->name);
        net_secret_release(out);
        return r;
    }
    r = net_rule_parse(at + 1, &rule, &e);
    if (r == 0 && rule.port != NET_PORT_DEFAULT) {
        net_rule_release(&rule);
        r = error_set(err, EINVAL, "--secret %s: give the host without a port (%s)", out->name,
                      at + 1);
        net_secret_release(out);
        return r;
    }
    if (r < 0) {
        r = error_set(err, EINVAL, "--secret %s: %s", out->name, sbvm_error_message(e));
        sbvm_error_free(e);
        net_secret_release(out);
        return r;
    }
    rule.port = NET_PORT_ANY;
    out->host = rule;
    out->value = strndup(eq + 1, (size_t)(at - eq - 1));
    if (!out->value) {
        net_secret_release(out);
        return error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

/* Whether some rule lets the guest reach the secret's host (any port:
 * secrets go into plain HTTP to that host at whatever port). */
static bool secret_reachable(const struct net_rule *rules, size_t n, const struct net_rule *h)
{
    for (size_t i = 0; i < n; i++) {
        const struct net_rule *r = &rules[i];
        int port = r->port > 0 ? r->port : 80;
        if (!h->wildcard) {
            if (net_rule_match(r, h->host, port))
                return true;
            continue;
        }
        /* "*.suffix" or "*": reachable through a wildcard that covers a
         * name under it, or a name under it a rule names exactly. */
        {
            char probe[NET_HOST_MAX + 16];
            size_t rl = strlen(r->host), hl = strlen(h->host);
            snprintf(probe, sizeof(probe), "sbvm-probe%s", h->host[0] ? h->host : ".example");
            if (net_rule_match(r, probe, port) ||
                (!r->wildcard && (hl == 0 || (rl > hl && streq(r->host + rl - hl, h->host)))))
                return true;
        }
    }
    return false;
}

int net_secrets_check(const struct sbvm_config *cfg, sbvm_error **err)
{
    struct net_policy p;
    int r = 0;

    if (!cfg->secrets.n || cfg->net != SBVM_NET_ALLOW)
        return 0;
    if (net_policy_build(&p, cfg, err) < 0)
        return -EINVAL;
    for (size_t i = 0; i < p.nsecrets && r == 0; i++)
        if (!secret_reachable(p.rules, p.nrules, &p.secrets[i].host))
            r = error_set(err, EINVAL,
                          "--secret %s: no --net allow rule lets the guest reach %s%s, so it "
                          "would never be sent: add --net allow=%s%s",
                          p.secrets[i].name, p.secrets[i].host.wildcard ? "*" : "",
                          p.secrets[i].host.host, p.secrets[i].host.wildcard ? "*" : "",
                          p.secrets[i].host.host);
    net_policy_release(&p);
    return r;
}

void net_secret_release(struct net_secret *s)
{
    if (s->value)
        explicit_bzero(s->value, strlen(s->value));
    free(s->name);
    free(s->value);
    free(s->placeholder);
    net_rule_release(&s->host);
    memset(s, 0, sizeof(*s));
}

/* The certificates a sandbox's broker verifies servers with besides the
 * system's, and its CA when some host is intercepted: constrained to the
 * hosts of secrets and of rules with paths. */
static int policy_tls(struct net_policy *p, const struct sbvm_config *cfg, sbvm_error **err)
{
    const char **hosts = calloc(p->nrules + p->nsecrets + 1, sizeof(*hosts));
    struct strbuf pem = STRBUF_INIT;
    size_t n = 0;
    int r = 0;

    if (!hosts)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].path)
            hosts[n++] = p->rules[i].host;
    for (size_t i = 0; i < p->nsecrets; i++)
        hosts[n++] = p->secrets[i].host.host;
    if (n)
        r = net_ca_new(hosts, n, &p->ca, err);
    free(hosts);
    for (size_t i = 0; r == 0 && i < cfg->trust_ca.n; i++)
        strbuf_addstr(&pem, cfg->trust_ca.v[i]);
    if (r == 0 && pem.len && !(p->trust_pem = strbuf_detach(&pem, NULL)))
        r = error_set(err, ENOMEM, "out of memory");
    strbuf_release(&pem);
    return r;
}

int net_policy_build(struct net_policy *p, const struct sbvm_config *cfg, sbvm_error **err)
{
    int r = 0;

    memset(p, 0, sizeof(*p));
    p->allow_private = cfg->net_allow_private;
    p->rules = calloc(cfg->net_rules.n ? cfg->net_rules.n : 1, sizeof(*p->rules));
    p->secrets = calloc(cfg->secrets.n ? cfg->secrets.n : 1, sizeof(*p->secrets));
    if (!p->rules || !p->secrets) {
        net_policy_release(p);
        return error_set(err, ENOMEM, "out of memory");
    }
    for (size_t i = 0; r == 0 && i < cfg->net_rules.n; i++)
        if ((r = net_rule_parse(cfg->net_rules.v[i], &p->rules[i], err)) == 0)
            p->nrules++;
    for (size_t i = 0; r == 0 && i < cfg->secrets.n; i++) {
        struct net_secret *s = &p->secrets[i];
        unsigned char rnd[16];
        char hex[33];
        if ((r = net_secret_parse(cfg->secrets.v[i], s, err)) < 0)
            break;
        p->nsecrets++;
        /* Unguessable, and nothing a real credential would contain. */
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            r = error_sys(err, errno, "making a placeholder for secret %s", s->name);
            break;
        }
        for (size_t k = 0; k < sizeof(rnd); k++)
            snprintf(hex + 2 * k, 3, "%02x", rnd[k]);
        s->placeholder = malloc(strlen("sbvm-secret-") + 32 + 1);
        if (!s->placeholder) {
            r = error_set(err, ENOMEM, "out of memory");
            break;
        }
        snprintf(s->placeholder, strlen("sbvm-secret-") + 33, "sbvm-secret-%s", hex);
    }
    if (r == 0)
        r = policy_tls(p, cfg, err);
    if (r < 0)
        net_policy_release(p);
    return r;
}

void net_policy_release(struct net_policy *p)
{
    for (size_t i = 0; i < p->nrules; i++)
        net_rule_release(&p->rules[i]);
    for (size_t i = 0; i < p->nsecrets; i++)
        net_secret_release(&p->secrets[i]);
    free(p->rules);
    free(p->secrets);
    net_ca_free(p->ca);
    free(p->trust_pem);
    memset(p, 0, sizeof(*p));
}
