/* SPDX-License-Identifier: MIT */
/*
 * test-net.c: the network policy (rules, forbidden addresses, secrets) and
 * the broker's handling of one connection, over a socketpair: request
 * parsing, refusals and their answers, secret injection.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/broker.h"
#include "net/policy.h"
#include "net/response.h"
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

/* ---- what comes back to a sandbox with secrets (response.h) ------------- */

static const char *const secrets2[] = { "s3cr3t-value", "other-secret" };

/* Feeds resp to a fresh filter `step` bytes at a time, then the end of the
 * connection; the guest's bytes in out, the result returned. */
static enum net_resp_result filter(const char *resp, size_t len, size_t step, bool head,
                                   struct strbuf *out, char *why, size_t why_size)
{
    struct net_resp r;
    enum net_resp_result res = NET_RESP_MORE;

    ck_assert_int_eq(net_resp_init(&r, secrets2, 2, head), 0);
    for (size_t at = 0; at < len && res == NET_RESP_MORE; at += step)
        res = net_resp_feed(&r, resp + at, len - at < step ? len - at : step, out);
    if (res == NET_RESP_MORE)
        res = net_resp_end(&r, out);
    snprintf(why, why_size, "%s", r.why);
    net_resp_release(&r);
    return res;
}

/* The body of a chunked message (after its head), de-chunked, strictly. */
static bool dechunk(const char *p, struct strbuf *body)
{
    for (;;) {
        char *end;
        unsigned long n = strtoul(p, &end, 16);
        if (end == p || strncmp(end, "\r\n", 2))
            return false;
        p = end + 2;
        if (n == 0)
            return true;
        strbuf_add(body, p, n);
        p += n;
        if (strncmp(p, "\r\n", 2))
            return false;
        p += 2;
    }
}

START_TEST(responses_are_masked_across_any_split)
{
    static const char cl[] = "HTTP/1.1 200 OK\r\nX-Echo: s3cr3t-value\r\nContent-Length: 40\r\n\r\n"
                             "[s3cr3t-value] [other-secret] [s3cr3t-v]";
    static const char cl_out[] =
        "HTTP/1.1 200 OK\r\nX-Echo: ************\r\nContent-Length: 40\r\n\r\n"
        "[************] [************] [s3cr3t-v]";
    /* The value cut in every place by chunks of 1 to 3 bytes, with
     * extensions, and trailers that echo it too. */
    static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "2\r\n[s\r\n3;ext=1\r\n3cr\r\n1\r\n3\r\n3 \r\nt-v\r\n4\r\nalue\r\n"
                             "1\r\n]\r\n0\r\nX-Trailer: other-secret\r\n\r\n";
    char why[160];

    for (size_t step = 1; step <= sizeof(cl); step++) {
        struct strbuf out = STRBUF_INIT, body = STRBUF_INIT;
        ck_assert_int_eq(filter(cl, sizeof(cl) - 1, step, false, &out, why, sizeof(why)),
                         NET_RESP_DONE);
        ck_assert_str_eq(out.buf, cl_out);
        strbuf_reset(&out);
        ck_assert_int_eq(filter(ch, sizeof(ch) - 1, step, false, &out, why, sizeof(why)),
                         NET_RESP_DONE);
        ck_assert_msg(!strstr(out.buf, "s3cr3t") && !strstr(out.buf, "secret"), "%zu: %s", step,
                      out.buf);
        ck_assert(!strncmp(out.buf, ch, 47));
        ck_assert(dechunk(strstr(out.buf, "\r\n\r\n") + 4, &body));
        ck_assert_str_eq(body.buf, "[************]");
        ck_assert_ptr_nonnull(strstr(out.buf, "\r\n0\r\nX-Trailer: ************\r\n\r\n"));
        strbuf_release(&out);
        strbuf_release(&body);
    }
}
END_TEST

START_TEST(responses_without_a_body_and_interim_ones)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: "
                               "3\r\n\r\nabcTRAILING GARBAGE";
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
    static const char eof[] = "HTTP/1.0 200 OK\r\n\r\nuntil the end: s3cr3t-value";
    static const char none[] = "HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n";
    struct strbuf out = STRBUF_INIT;
    char why[160];

    ck_assert_int_eq(filter(cont, sizeof(cont) - 1, 5, false, &out, why, sizeof(why)),
                     NET_RESP_DONE);
    ck_assert_str_eq(out.buf, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: "
                              "3\r\n\r\nabc");
    strbuf_reset(&out);
    /* A HEAD's answer has no body, whatever its Content-Length says. */
    ck_assert_int_eq(filter(head, sizeof(head) - 1, 100, true, &out, why, sizeof(why)),
                     NET_RESP_DONE);
    ck_assert_str_eq(out.buf, head);
    strbuf_reset(&out);
    ck_assert_int_eq(filter(eof, sizeof(eof) - 1, 7, false, &out, why, sizeof(why)), NET_RESP_DONE);
    ck_assert_str_eq(out.buf, "HTTP/1.0 200 OK\r\n\r\nuntil the end: ************");
    strbuf_reset(&out);
    /* No body, so nothing to see through. */
    ck_assert_int_eq(filter(none, sizeof(none) - 1, 100, false, &out, why, sizeof(why)),
                     NET_RESP_DONE);
    strbuf_release(&out);
}
END_TEST

/* A partial match is held back, and nothing else: a response that pauses
 * after "...s3" waits for the next bytes; one that pauses elsewhere is
 * passed on whole. */
START_TEST(the_masker_holds_back_only_a_possible_start)
{
    struct net_masker m;
    struct strbuf out = STRBUF_INIT;
    static const char *const v[] = { "aab" };

    ck_assert_int_eq(net_masker_init(&m, secrets2, 2), 0);
    net_masker_push(&m, "hello s3", 8, &out);
    ck_assert_str_eq(out.buf, "hello ");
    net_masker_push(&m, "cr3t-value!", 11, &out);
    ck_assert_str_eq(out.buf, "hello ************!");
    net_masker_push(&m, " other", 6, &out);
    ck_assert_str_eq(out.buf, "hello ************! ");
    net_masker_push(&m, " done", 5, &out);
    ck_assert_str_eq(out.buf, "hello ************! other done");
    net_masker_release(&m);
    strbuf_reset(&out);
    /* Overlapping starts: "aaab" in pieces. */
    ck_assert_int_eq(net_masker_init(&m, v, 1), 0);
    net_masker_push(&m, "xaa", 3, &out);
    ck_assert_str_eq(out.buf, "x");
    net_masker_push(&m, "a", 1, &out);
    ck_assert_str_eq(out.buf, "xa");
    net_masker_push(&m, "b", 1, &out);
    ck_assert_str_eq(out.buf, "xa***");
    net_masker_push(&m, "a", 1, &out);
    net_masker_flush(&m, &out);
    ck_assert_str_eq(out.buf, "xa***a");
    net_masker_release(&m);
    strbuf_release(&out);
}
END_TEST

START_TEST(responses_the_masker_cannot_read_are_refused)
{
    static const struct {
        const char *resp, *why;
    } cases[] = {
        { "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
          "Content-Encoding: gzip), which secret masking cannot see through" },
        { "HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-encoding: br\r\n\r\nabc",
          "Content-Encoding: br)" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
          "(Transfer-Encoding: gzip, chunked) is one secret masking cannot see through" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
          "Transfer-Encoding: chunked)" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
          "both Content-Length and Transfer-Encoding" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
          "conflicting Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", "malformed Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
          "malformed Content-Length" },
        { "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", "folded header line" },
        { "HTTP/1.1 200 OK\r\nX a\r\n\r\n", "malformed header line" },
        { "HTTP/1.1 200 OK\r\nX y: a\r\n\r\n", "malformed header name" },
        { "HTTP/1.1 200 OK\r\nX: a\nContent-Length: 0\r\n\r\n", "control character" },
        { "HTTP/2 200\r\n\r\n", "not an HTTP/1 response" },
        { "HTTP/1.1 2000 OK\r\n\r\n", "not an HTTP/1 response" },
        { "SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1 response" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "malformed chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", "malformed chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000001\r\n",
          "a chunk over 1099511627776 bytes" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "fffffffffffffffffffffffffffffffff\r\n",
          "a chunk over" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
          "not followed by CRLF" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX\r\n\r\n",
          "malformed header line in the trailers" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rX\r\n",
          "malformed trailers" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "7 bytes before the end" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
          "in the middle of its chunked body" },
        { "HTTP/1.1 200 OK\r\nContent-", "in the middle of its response head" },
        { "", "without a response" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t step = 1; step <= 64; step *= 4) {
            struct strbuf out = STRBUF_INIT;
            char why[160];
            ck_assert_msg(filter(cases[i].resp, strlen(cases[i].resp), step, false, &out, why,
                                 sizeof(why)) == NET_RESP_FAILED,
                          "%zu accepted: %s", i, cases[i].resp);
            ck_assert_msg(strstr(why, cases[i].why), "%zu: '%s', expected '%s'", i, why,
                          cases[i].why);
            /* A reason goes into a header of the answer: one line. */
            ck_assert_ptr_null(strpbrk(why, "\r\n"));
            strbuf_release(&out);
        }
    }
}
END_TEST

/* A head, or trailers, without an end is refused at 64 KiB, a chunk-size
 * line at 4 KiB: the server cannot grow the broker's memory. */
START_TEST(response_parts_are_bounded)
{
    struct net_resp r;
    struct strbuf out = STRBUF_INIT;
    char *junk = malloc(70000);
    enum net_resp_result res = NET_RESP_MORE;
    size_t fed = 0;

    memset(junk, 'a', 70000);
    memcpy(junk, "HTTP/1.1 200 OK\r\nX: ", 20);
    ck_assert_int_eq(net_resp_init(&r, secrets2, 2, false), 0);
    while (res == NET_RESP_MORE && fed < 70000) {
        res = net_resp_feed(&r, junk + fed, 1000, &out);
        fed += 1000;
    }
    ck_assert_int_eq(res, NET_RESP_FAILED);
    ck_assert_ptr_nonnull(strstr(r.why, "larger than 64 KiB"));
    ck_assert_uint_le(r.line.len, NET_RESP_HEAD_MAX);
    ck_assert_uint_eq(out.len, 0);
    net_resp_release(&r);

    ck_assert_int_eq(net_resp_init(&r, secrets2, 2, false), 0);
    res = net_resp_feed(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1", 49, &out);
    ck_assert_int_eq(res, NET_RESP_MORE);
    memset(junk, '0', 70000);
    res = net_resp_feed(&r, junk, 5000, &out);
    ck_assert_int_eq(res, NET_RESP_FAILED);
    ck_assert_ptr_nonnull(strstr(r.why, "chunk-size line over 4096"));
    net_resp_release(&r);
    strbuf_release(&out);
    free(junk);
}
END_TEST

/* ---- the descriptor budget ------------------------------------------------ */

/* A TCP listener on 127.0.0.1 (its port in *port). */
static int tcp_listener(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 128), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Asks the broker on proxy_port for a tunnel to up_port; the answer's
 * status code (the connection is kept in *fd, or closed when refused). */
static int tunnel(int proxy_port, int up_port, int *fd, char *answer, size_t size)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)proxy_port) };
    char req[64];
    size_t got = 0;

    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(*fd, 0);
    ck_assert_int_eq(connect(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", up_port);
    ck_assert_int_eq(write(*fd, req, strlen(req)), (ssize_t)strlen(req));
    while (got < size - 1 && !memmem(answer, got, "\r\n\r\n", 4)) {
        struct pollfd p = { *fd, POLLIN, 0 };
        ssize_t n;
        ck_assert_msg(poll(&p, 1, 5000) == 1, "no answer from the broker");
        n = read(*fd, answer + got, size - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    answer[got] = '\0';
    if (strncmp(answer, "HTTP/1.1 200 ", 13)) {
        close(*fd);
        *fd = -1;
    }
    return got >= 12 ? atoi(answer + 9) : 0;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = -1; /* the directory's own */

    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n - 2; /* . and .. */
}

/* Waits (at most 3 s) until the process has `want` fds; the count then. */
static int await_fds(int want)
{
    int n = count_fds();

    for (int i = 0; i < 300 && n != want; i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        n = count_fds();
    }
    return n;
}

/* Whether the other end of fd closed (within 3 s). */
static bool closed_by_peer(int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };
    char c;

    return poll(&p, 1, 3000) == 1 && read(fd, &c, 1) == 0;
}

static struct broker *broker_on(struct net_policy *p, int *port)
{
    struct broker *b = NULL;

    ck_assert_int_eq(broker_start(p, tcp_listener(port), &b, NULL), 0);
    return b;
}

/* What broker.h says one connection costs is what it costs: a tunnel, the
 * heaviest kind, holds exactly NET_FDS_PER_CONN of the process's, and
 * gives them all back. */
START_TEST(a_tunnel_costs_exactly_the_fds_the_budget_counts)
{
    struct net_policy p;
    struct sbvm_net_attempt *v;
    size_t n;
    uint64_t dropped;
    char answer[512];
    int up_port, proxy_port, up = tcp_listener(&up_port), fd, srv, before;
    struct broker *b;

    policy_of(&p, "127.0.0.1:*", true);
    net_secret_release(&p.secrets[0]);
    p.nsecrets = 0;
    b = broker_on(&p, &proxy_port);
    before = count_fds();
    ck_assert_int_eq(tunnel(proxy_port, up_port, &fd, answer, sizeof(answer)), 200);
    srv = accept4(up, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_int_ge(srv, 0);
    /* Ours: the client's end and the server's. The broker's: the rest. */
    ck_assert_int_eq(await_fds(before + 2 + NET_FDS_PER_CONN), before + 2 + NET_FDS_PER_CONN);
    /* A tunnel ends when both sides have. */
    close(fd);
    close(srv);
    ck_assert_int_eq(await_fds(before), before);
    broker_stop(b, &v, &n, &dropped);
    ck_assert_uint_eq(n, 1);
    ck_assert(v[0].allowed && !strcmp(v[0].method, "CONNECT"));
    net_attempts_free(v, n);
    close(up);
    net_policy_release(&p);
}
END_TEST

/*
 * One broker alone takes the whole budget; a second one starts and asks
 * for connections within its share: it gets them, each by ending the
 * first one's newest, never by being refused; past its share it is
 * refused, and so is the first one past its own. (The soft fd limit of
 * this test process, 200: budget (200 - 128 reserved - 3 per broker) / 6.)
 */
START_TEST(a_newcomer_gets_its_share_from_a_broker_over_its_own)
{
    struct rlimit old, rl;
    struct net_policy p;
    struct sbvm_net_attempt *v;
    size_t n, ended = 0, refused = 0;
    uint64_t dropped;
    char answer[512];
    int up_port, pa, pb, up = tcp_listener(&up_port), a[16], bfd[8], fd;
    struct broker *ba, *bb;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    rl = old;
    rl.rlim_cur = 200;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    policy_of(&p, "127.0.0.1:*", true);
    net_secret_release(&p.secrets[0]);
    p.nsecrets = 0;

    ba = broker_on(&p, &pa);
    /* Alone: (200 - 128 - 3) / 6 = 11. */
    for (int i = 0; i < 11; i++)
        ck_assert_int_eq(tunnel(pa, up_port, &a[i], answer, sizeof(answer)), 200);
    ck_assert_int_eq(tunnel(pa, up_port, &fd, answer, sizeof(answer)), 503);
    ck_assert_ptr_nonnull(strstr(answer, "share of the broker's file descriptors is in use (11"));

    /* Two: (200 - 128 - 6) / 6 = 11 in all, 5 each. */
    bb = broker_on(&p, &pb);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(tunnel(pb, up_port, &bfd[i], answer, sizeof(answer)), 200);
        /* Room was made by ending the first broker's newest. */
        ck_assert_msg(closed_by_peer(a[10 - i]), "tunnel %d of the first broker still open",
                      10 - i);
    }
    ck_assert_int_eq(tunnel(pb, up_port, &fd, answer, sizeof(answer)), 503);
    ck_assert_ptr_nonnull(strstr(answer, "in use (5 connections at once, with 2 sandboxes"));
    /* The first holds 6, over its 5: refused, and nothing of the second's
     * is touched. */
    ck_assert_int_eq(tunnel(pa, up_port, &fd, answer, sizeof(answer)), 503);
    for (int i = 0; i < 5; i++) {
        struct pollfd pf = { bfd[i], POLLIN, 0 };
        ck_assert_int_eq(poll(&pf, 1, 0), 0);
    }

    broker_stop(bb, &v, &n, &dropped);
    ck_assert_uint_eq(n, 6);
    net_attempts_free(v, n);
    broker_stop(ba, &v, &n, &dropped);
    for (size_t i = 0; i < n; i++) {
        if (v[i].reason && strstr(v[i].reason, "ended to give another sandbox its share"))
            ended += v[i].allowed;
        if (!v[i].allowed && v[i].status == 503)
            refused++;
    }
    ck_assert_uint_eq(n, 13);
    ck_assert_uint_eq(ended, 5);
    ck_assert_uint_eq(refused, 2);
    net_attempts_free(v, n);
    for (int i = 0; i < 11; i++)
        close(a[i]);
    for (int i = 0; i < 5; i++)
        close(bfd[i]);
    close(up);
    net_policy_release(&p);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
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
    tc = tcase_create("response");
    tcase_add_test(tc, responses_are_masked_across_any_split);
    tcase_add_test(tc, responses_without_a_body_and_interim_ones);
    tcase_add_test(tc, the_masker_holds_back_only_a_possible_start);
    tcase_add_test(tc, responses_the_masker_cannot_read_are_refused);
    tcase_add_test(tc, response_parts_are_bounded);
    suite_add_tcase(s, tc);
    tc = tcase_create("budget");
    tcase_add_test(tc, a_tunnel_costs_exactly_the_fds_the_budget_counts);
    tcase_add_test(tc, a_newcomer_gets_its_share_from_a_broker_over_its_own);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
