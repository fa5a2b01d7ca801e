/* SPDX-License-Identifier: MIT */
/*
 * test-net.c: the network policy (rules, forbidden addresses, secrets) and
 * the broker's handling of one connection, over a socketpair: request
 * parsing, refusals and their answers, secret injection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/broker.h"
#include "net/policy.h"
#include "unit.h"

static bool rule_matches(const char *rule, const char *host, int port)
{
    struct net_rule r;
    char h[300];
    bool m;

    ck_assert_msg(net_rule_parse(rule, &r, NULL) == 0, "rule %s refused", rule);
    ck_assert(net_host_normalise(host, strlen(host), h, sizeof(h)));
    m = net_rule_match(&r, h, port);
    net_rule_release(&r);
    return m;
}

START_TEST(rules_match_as_documented)
{
    ck_assert(rule_matches("example.com", "example.com", 443));
    ck_assert(rule_matches("example.com", "EXAMPLE.com.", 80));
    ck_assert(!rule_matches("example.com", "example.com", 8080));
    ck_assert(!rule_matches("example.com", "www.example.com", 443));
    ck_assert(rule_matches("example.com:8080", "example.com", 8080));
    ck_assert(!rule_matches("example.com:8080", "example.com", 443));
    ck_assert(rule_matches("*.example.com", "a.example.com", 443));
    ck_assert(rule_matches("*.example.com", "a.b.example.com", 80));
    ck_assert(!rule_matches("*.example.com", "example.com", 443));
    ck_assert(!rule_matches("*.example.com", "badexample.com", 443));
    ck_assert(rule_matches("*", "anything.org", 443));
    ck_assert(!rule_matches("*", "anything.org", 22));
    ck_assert(rule_matches("*:*", "anything.org", 22));
    ck_assert(rule_matches("192.0.2.7:*", "192.0.2.7", 9));
    ck_assert(rule_matches("[2001:DB8::7]:443", "[2001:db8:0::7]", 443));
    /* A wildcard never stands for an address. */
    ck_assert(!rule_matches("*.0.2.7", "192.0.2.7", 443));
}
END_TEST

/* Issue 12 (C): "*" matched address literals although the documentation
 * says no wildcard does: a guest allowed "*" could name any address. */
START_TEST(wildcards_never_match_address_literals)
{
    static const char *const literals[] = { "192.0.2.7", "93.184.216.34", "[2001:db8::7]",
                                            "[::ffff:192.0.2.7]", "8.8.8.8." };
    for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++) {
        ck_assert_msg(!rule_matches("*", literals[i], 443), "* matched %s", literals[i]);
        ck_assert_msg(!rule_matches("*:*", literals[i], 8080), "*:* matched %s", literals[i]);
        ck_assert_msg(!rule_matches("*.example.com", literals[i], 443), "*.example.com matched %s",
                      literals[i]);
    }
    /* The other way: names still match "*", and an address is reached by
     * a rule that names it. */
    ck_assert(rule_matches("*", "example.com", 443));
    ck_assert(rule_matches("*:*", "a.b.example.org", 8080));
    ck_assert(rule_matches("*", "1.example", 80));
    ck_assert(rule_matches("192.0.2.7", "192.0.2.7", 443));
    ck_assert(rule_matches("[2001:db8::7]:*", "[2001:db8::7]", 8080));
}
END_TEST

START_TEST(bad_rules_are_refused_with_a_reason)
{
    static const char *const bad[] = {
        "",
        "exa mple.com",
        "*example.com",
        "a.*.com",
        "example.com:0",
        "example.com:65536",
        "example.com:http",
        "2001:db8::1",
        "[2001:db8::1",
        "-bad.com",
        "bad-.com",
        "a..b",
        "example.com:443:1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct net_rule r;
        sbvm_error *e = NULL;
        ck_assert_msg(net_rule_parse(bad[i], &r, &e) < 0, "rule '%s' was accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(sbvm_error_message(e), "--net allow"));
        sbvm_error_free(e);
    }
}
END_TEST

static const char *forbidden(const char *addr)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, addr, &in->sin_addr), 1);
    }
    return net_addr_forbidden((struct sockaddr *)&ss);
}

START_TEST(private_and_special_addresses_are_refused)
{
    static const struct {
        const char *addr, *why;
    } cases[] = {
        { "127.0.0.1", "loopback" },
        { "127.5.6.7", "loopback" },
        { "10.1.2.3", "private" },
        { "172.16.0.1", "private" },
        { "172.31.255.255", "private" },
        { "192.168.1.1", "private" },
        { "169.254.169.254", "cloud metadata" },
        { "169.254.1.1", "link-local" },
        { "100.64.0.1", "shared (carrier-grade NAT)" },
        { "0.0.0.0", "unspecified" },
        { "255.255.255.255", "broadcast" },
        { "224.0.0.1", "multicast" },
        { "::1", "loopback" },
        { "::", "unspecified" },
        { "fd00::1", "private" },
        { "fe80::1", "link-local" },
        { "ff02::1", "multicast" },
        { "::ffff:127.0.0.1", "loopback" },
        { "::ffff:10.0.0.1", "private" },
        { "fd00:ec2::254", "cloud metadata" },
        { "2002:7f00:1::", "loopback" },
        { "64:ff9b::a9fe:a9fe", "cloud metadata" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *f = forbidden(cases[i].addr);
        ck_assert_msg(f && !strcmp(f, cases[i].why), "%s: %s, expected %s", cases[i].addr,
                      f ? f : "allowed", cases[i].why);
    }
    ck_assert_ptr_null(forbidden("93.184.216.34"));
    ck_assert_ptr_null(forbidden("172.32.0.1"));
    ck_assert_ptr_null(forbidden("2606:2800:220:1:248:1893:25c8:1946"));
}
END_TEST

START_TEST(secrets_parse_and_never_echo_their_value)
{
    struct net_secret s;
    sbvm_error *e = NULL;

    ck_assert_int_eq(net_secret_parse("TOKEN=abc=def@api.example.com", &s, NULL), 0);
    ck_assert_str_eq(s.name, "TOKEN");
    ck_assert_str_eq(s.value, "abc=def");
    ck_assert_str_eq(s.host.host, "api.example.com");
    net_secret_release(&s);
    /* The value may hold '@': the last one separates the host. */
    ck_assert_int_eq(net_secret_parse("T=me@mail@*.example.com", &s, NULL), 0);
    ck_assert_str_eq(s.value, "me@mail");
    net_secret_release(&s);
    ck_assert_int_lt(net_secret_parse("TOKEN=hunter2", &s, &e), 0);
    ck_assert_ptr_null(strstr(sbvm_error_message(e), "hunter2"));
    sbvm_error_free(e);
    e = NULL;
    ck_assert_int_lt(net_secret_parse("TOKEN=hunter2@example.com:443", &s, &e), 0);
    ck_assert_ptr_null(strstr(sbvm_error_message(e), "hunter2"));
    sbvm_error_free(e);
    ck_assert_int_lt(net_secret_parse("A B=x@example.com", &s, NULL), 0);
    ck_assert_int_lt(net_secret_parse("T=@example.com", &s, NULL), 0);
}
END_TEST

/* A policy with one rule and one secret bound for example.com. */
static void policy_of(struct net_policy *p, const char *rule, bool private_ok)
{
    memset(p, 0, sizeof(*p));
    p->rules = calloc(1, sizeof(*p->rules));
    p->secrets = calloc(1, sizeof(*p->secrets));
    ck_assert_int_eq(net_rule_parse(rule, &p->rules[0], NULL), 0);
    p->nrules = 1;
    ck_assert_int_eq(net_secret_parse("TOKEN=real-value@example.com", &p->secrets[0], NULL), 0);
    p->secrets[0].placeholder = strdup("sbvm-secret-0123");
    p->nsecrets = 1;
    p->allow_private = private_ok;
}

START_TEST(secrets_are_injected_in_headers_for_their_host_only)
{
    struct net_policy p;
    struct strv masks = STRV_INIT;
    char *head = strdup("GET /sbvm-secret-0123 HTTP/1.1\r\nAuthorization: Bearer sbvm-secret-0123"
                        "\r\nX-Other: a sbvm-secret-0123 b\r\n\r\n");
    size_t len = strlen(head);

    policy_of(&p, "example.com", false);
    ck_assert_uint_eq(net_inject_secrets(&p, "example.com", &head, &len, &masks), 2);
    /* Headers only: the request line keeps its placeholder. */
    ck_assert_ptr_nonnull(strstr(head, "GET /sbvm-secret-0123 HTTP/1.1"));
    ck_assert_ptr_nonnull(strstr(head, "Authorization: Bearer real-value\r\n"));
    ck_assert_ptr_nonnull(strstr(head, "X-Other: a real-value b\r\n"));
    ck_assert_uint_eq(masks.n, 1);
    ck_assert_str_eq(masks.v[0], "real-value");
    strv_release(&masks);
    free(head);
    /* Another host: nothing replaced. */
    head = strdup("GET / HTTP/1.1\r\nAuthorization: Bearer sbvm-secret-0123\r\n\r\n");
    len = strlen(head);
    ck_assert_uint_eq(net_inject_secrets(&p, "evil.example.org", &head, &len, NULL), 0);
    ck_assert_ptr_null(strstr(head, "real-value"));
    free(head);
    /* Basic credentials: decoded, replaced, encoded again.
     * "user:sbvm-secret-0123" -> "user:real-value" */
    head = strdup("GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpzYnZtLXNlY3JldC0wMTIz\r\n\r\n");
    len = strlen(head);
    ck_assert_uint_eq(net_inject_secrets(&p, "example.com", &head, &len, NULL), 1);
    ck_assert_ptr_nonnull(strstr(head, "Authorization: Basic dXNlcjpyZWFsLXZhbHVl\r\n"));
    free(head);
    net_policy_release(&p);
}
END_TEST

/* Sends a request through a socketpair to broker_serve_one; returns what
 * the broker answered. */
struct served {
    struct net_policy *p;
    int fd;
    struct sbvm_net_attempt rec;
};

static void *serve_thread(void *arg)
{
    struct served *s = arg;
    broker_serve_one(s->p, s->fd, &s->rec);
    close(s->fd);
    return NULL;
}

static char *ask(struct net_policy *p, const char *request, struct sbvm_net_attempt *rec)
{
    static char answer[4096];
    struct served s = { p, -1, { 0 } };
    pthread_t t;
    ssize_t n, got = 0;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s.fd = sv[1];
    ck_assert_int_eq(pthread_create(&t, NULL, serve_thread, &s), 0);
    ck_assert_int_eq(write(sv[0], request, strlen(request)), (ssize_t)strlen(request));
    shutdown(sv[0], SHUT_WR);
    while ((n = read(sv[0], answer + got, sizeof(answer) - 1 - (size_t)got)) > 0)
        got += n;
    answer[got] = '\0';
    pthread_join(t, NULL);
    close(sv[0]);
    *rec = s.rec;
    return answer;
}

START_TEST(the_broker_refuses_with_a_reason_and_records_it)
{
    static const struct {
        const char *req, *status, *reason;
    } cases[] = {
        { "GET http://evil.example.org/ HTTP/1.1\r\nHost: x\r\n\r\n", "403",
          "not in the allowlist" },
        { "CONNECT evil.example.org:443 HTTP/1.1\r\n\r\n", "403", "not in the allowlist" },
        { "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "400", "absolute http:// URL" },
        { "GET https://example.com/ HTTP/1.1\r\n\r\n", "400", "use CONNECT" },
        { "GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n", "400", "credentials" },
        { "CONNECT example.com HTTP/1.1\r\n\r\n", "400", "host:port" },
        { "get http://example.com/ HTTP/1.1\r\n\r\n", "400", "method" },
        { "GET http://example.com/ HTTP/2\r\n\r\n", "400", "HTTP/1" },
        /* Allowed by the rule "*:*", but the name resolves to loopback. */
        { "GET http://localhost:8080/ HTTP/1.1\r\n\r\n", "403", "loopback address" },
        /* "*:*" matches no address literal. */
        { "GET http://127.0.0.1:8080/ HTTP/1.1\r\n\r\n", "403", "not in the allowlist" },
    };
    struct net_policy p, any;

    policy_of(&p, "example.com:*", false);
    policy_of(&any, "*:*", false);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sbvm_net_attempt rec;
        char *a = ask(strstr(cases[i].req, "example") ? &p : &any, cases[i].req, &rec);
        ck_assert_msg(!strncmp(a, "HTTP/1.1 ", 9) && !strncmp(a + 9, cases[i].status, 3),
                      "%s -> %.40s", cases[i].req, a);
        ck_assert_msg(strstr(a, cases[i].reason), "%s -> %s", cases[i].req, a);
        ck_assert_int_eq(rec.allowed, 0);
        ck_assert_ptr_nonnull(rec.reason);
        ck_assert_int_eq(rec.status, atoi(cases[i].status));
        net_attempt_release(&rec);
    }
    net_policy_release(&p);
    net_policy_release(&any);
}
END_TEST

START_TEST(an_oversized_request_head_is_refused)
{
    struct net_policy p;
    struct sbvm_net_attempt rec;
    char *big = malloc(20000);

    memset(big, 'a', 19999);
    big[19999] = '\0';
    memcpy(big, "GET http://example.com/ HTTP/1.1\r\nX: ", 37);
    policy_of(&p, "example.com", false);
    ck_assert_ptr_nonnull(strstr(ask(&p, big, &rec), "431"));
    net_attempt_release(&rec);
    free(big);
    net_policy_release(&p);
}
END_TEST

Suite *suite_net(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("policy");

    tcase_add_test(tc, rules_match_as_documented);
    tcase_add_test(tc, wildcards_never_match_address_literals);
    tcase_add_test(tc, bad_rules_are_refused_with_a_reason);
    tcase_add_test(tc, private_and_special_addresses_are_refused);
    tcase_add_test(tc, secrets_parse_and_never_echo_their_value);
    tcase_add_test(tc, secrets_are_injected_in_headers_for_their_host_only);
    suite_add_tcase(s, tc);
    tc = tcase_create("broker");
    tcase_add_test(tc, the_broker_refuses_with_a_reason_and_records_it);
    tcase_add_test(tc, an_oversized_request_head_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
