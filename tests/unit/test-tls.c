/* SPDX-License-Identifier: MIT */
/*
 * test-tls.c: HTTPS through the broker: trusted certificate files, the
 * per-sandbox CA (its certificates verify, its name constraints hold),
 * request heads and chunked bodies inside an intercepted connection, path
 * rules, and one intercepted connection end to end (broker_serve_one, a TLS
 * server thread on loopback, an OpenSSL client as the guest).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net/broker.h"
#include "net/ca.h"
#include "net/policy.h"
#include "net/request.h"
#include "util/strbuf.h"
#include "unit.h"

/* ---- certificates --------------------------------------------------------- */

START_TEST(trusted_files_hold_certificates_only)
{
    const char *hosts[] = { "localhost" };
    struct net_ca *ca;
    struct strbuf pem = STRBUF_INIT, in = STRBUF_INIT;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    BIO *kb = BIO_new(BIO_s_mem());
    char *kp;
    long kl;

    ck_assert_int_eq(net_ca_new(hosts, 1, &ca, NULL), 0);
    /* Text around the block is dropped; the certificate is kept. */
    strbuf_addf(&in, "a comment\n%sand after\n", net_ca_pem(ca));
    ck_assert_int_eq(net_certs_parse(in.buf, in.len, "x.pem", &pem, NULL), 0);
    ck_assert_str_eq(pem.buf, net_ca_pem(ca));
    /* A key in the same file: refused, and nothing appended. */
    ck_assert(PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL));
    kl = BIO_get_mem_data(kb, &kp);
    strbuf_add(&in, kp, (size_t)kl);
    ck_assert_int_eq(net_certs_parse(in.buf, in.len, "x.pem", &pem, NULL), -EINVAL);
    ck_assert_str_eq(pem.buf, net_ca_pem(ca));
    ck_assert_int_eq(net_certs_parse("nothing", 7, "y.pem", &pem, NULL), -EINVAL);
    ck_assert_int_eq(
        net_certs_parse("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 58,
                        "z.pem", &pem, NULL),
        -EINVAL);
    BIO_free(kb);
    EVP_PKEY_free(key);
    strbuf_release(&pem);
    strbuf_release(&in);
    net_ca_free(ca);
}
END_TEST

/* Verifies cert (for host) against the CA alone: the verifier's result. */
static int verify(struct net_ca *ca, X509 *cert, const char *host)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_VERIFY_PARAM *vp;
    unsigned char a[16];
    int r;

    X509_STORE_add_cert(store, net_ca_cert(ca));
    X509_STORE_CTX_init(ctx, store, cert, NULL);
    vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
    if (inet_pton(AF_INET, host, a) == 1)
        X509_VERIFY_PARAM_set1_ip_asc(vp, host);
    else
        X509_VERIFY_PARAM_set1_host(vp, host, 0);
    r = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return r;
}

START_TEST(the_ca_certifies_its_hosts_and_no_other)
{
    const char *hosts[] = { "api.example.com", ".example.org", "127.0.0.1" };
    struct net_ca *ca, *other;
    X509 *cert, *again;
    EVP_PKEY *key, *key2;

    ck_assert_int_eq(net_ca_new(hosts, 3, &ca, NULL), 0);
    ck_assert_int_eq(net_ca_new(hosts, 3, &other, NULL), 0);
    for (const char *const *h =
             (const char *const[]){ "api.example.com", "a.example.org", "127.0.0.1", NULL };
         *h; h++) {
        ck_assert_int_eq(net_ca_leaf(ca, *h, &cert, &key), 0);
        ck_assert_msg(verify(ca, cert, *h) == X509_V_OK, "%s", *h);
        /* Another sandbox's CA does not vouch for it. */
        ck_assert_int_ne(verify(other, cert, *h), X509_V_OK);
        ck_assert(X509_check_private_key(cert, key));
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    /* Made once per name. */
    ck_assert_int_eq(net_ca_leaf(ca, "api.example.com", &cert, &key), 0);
    ck_assert_int_eq(net_ca_leaf(ca, "api.example.com", &again, &key2), 0);
    ck_assert_ptr_eq(cert, again);
    X509_free(cert);
    X509_free(again);
    EVP_PKEY_free(key);
    EVP_PKEY_free(key2);
    /* Whatever it signed for a name outside its constraints is refused by
     * the verifier: the guest's trust in it covers those hosts only. */
    for (const char *const *h =
             (const char *const[]){ "www.example.net", "example.com", "127.0.0.2", NULL };
         *h; h++) {
        ck_assert_int_eq(net_ca_leaf(ca, *h, &cert, &key), 0);
        ck_assert_int_eq(verify(ca, cert, *h), X509_V_ERR_PERMITTED_VIOLATION);
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    net_ca_free(ca);
    net_ca_free(other);
}
END_TEST

/* ---- requests ------------------------------------------------------------- */

static const char *parse(const char *head, struct net_req *rq)
{
    return net_req_parse(head, strlen(head), rq);
}

START_TEST(request_heads_are_parsed_strictly)
{
    static const struct {
        const char *head, *why;
    } refused[] = {
        { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
          "both Content-Length and Transfer-Encoding" },
        { "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
          "a transfer coding other than chunked" },
        { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
          "conflicting Content-Length headers" },
        { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", "a malformed Content-Length" },
        { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
          "a malformed Content-Length" },
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host header" },
        { "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "a malformed header name" },
        { "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", "a folded header line" },
        { "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", "a control character in a header" },
        { "GET / HTTP/2.0\r\n\r\n", "not HTTP/1.0 or HTTP/1.1" },
        { "GET  / HTTP/1.1\r\n\r\n", "a malformed request line" },
        { "GET /\x7f HTTP/1.1\r\n\r\n", "a malformed request target" },
        { "G(T / HTTP/1.1\r\n\r\n", "a malformed method" },
        { "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
          "a chunked body in an HTTP/1.0 request" },
    };
    struct net_req rq;

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const char *why = parse(refused[i].head, &rq);
        ck_assert_msg(why && !strcmp(why, refused[i].why), "%zu: %s", i, why ? why : "(accepted)");
    }
    ck_assert_ptr_null(
        parse("POST /a?b HTTP/1.1\r\nhost:  example.com:8443 \r\ncontent-length: 12\r\n"
              "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
              &rq));
    ck_assert_str_eq(rq.method, "POST");
    ck_assert_uint_eq(rq.target_len, 4);
    ck_assert(!strncmp(rq.host, "example.com:8443", rq.host_len) && rq.host_len == 16);
    ck_assert(rq.have_length && rq.length == 12 && !rq.chunked && !rq.close && rq.upgrade);
    ck_assert_ptr_null(parse("GET / HTTP/1.0\r\n\r\n", &rq));
    ck_assert(rq.close && !rq.host);
    ck_assert_ptr_null(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &rq));
    ck_assert(rq.close);
}
END_TEST

/* Scans s whole and one byte at a time: both must agree. */
static int scan(const char *s, size_t *used)
{
    struct net_chunks a, b;
    size_t n = strlen(s), ua = 0, ub = 0, u;
    int ra, rb = 0;

    net_chunks_init(&a);
    net_chunks_init(&b);
    ra = net_chunks_scan(&a, s, n, &ua);
    for (size_t i = 0; i < n && rb == 0; i++) {
        rb = net_chunks_scan(&b, s + i, 1, &u);
        ub += u;
    }
    ck_assert_int_eq(ra, rb);
    if (ra == 1)
        ck_assert_uint_eq(ua, ub);
    *used = ua;
    return ra;
}

START_TEST(chunked_bodies_end_where_they_end)
{
    size_t used;

    ck_assert_int_eq(scan("5\r\nhello\r\n0\r\n\r\nGET /next", &used), 1);
    ck_assert_uint_eq(used, strlen("5\r\nhello\r\n0\r\n\r\n"));
    ck_assert_int_eq(scan("a;ext=1\r\n0123456789\r\n0\r\nX-T: y\r\n\r\n", &used), 1);
    ck_assert_int_eq(scan("5\r\nhel", &used), 0);
    ck_assert_int_eq(scan("5\r\nhelloXX", &used), -1);
    ck_assert_int_eq(scan("g\r\n", &used), -1);
    ck_assert_int_eq(scan("\r\n", &used), -1);
    ck_assert_int_eq(scan("fffffffffffffffff\r\n", &used), -1);
    ck_assert_int_eq(scan("0\r\nX: \x01\r\n\r\n", &used), -1);
    {
        /* A size line that never ends is bounded. */
        char *z = malloc(10000);
        memset(z, '0', 9999);
        z[9999] = '\0';
        ck_assert_int_eq(scan(z, &used), -1);
        free(z);
    }
}
END_TEST

/* ---- rules with paths ---------------------------------------------------- */

static const char *path_why(const struct net_policy *p, const char *target, char *why)
{
    return net_policy_path(p, "api.example.com", 443, target, strlen(target), why, 320);
}

START_TEST(path_rules_let_through_what_is_under_them)
{
    struct net_policy p;
    struct net_rule rules[3];
    char why[320];

    memset(&p, 0, sizeof(p));
    ck_assert_int_eq(net_rule_parse("https://api.example.com/repos/acme/", &rules[0], NULL), 0);
    ck_assert_int_eq(net_rule_parse("https://api.example.com/orgs/acme", &rules[1], NULL), 0);
    ck_assert_int_eq(net_rule_parse("http://plain.example.com/", &rules[2], NULL), 0);
    ck_assert_int_eq(rules[0].port, 443);
    ck_assert_str_eq(rules[0].path, "/repos/acme/");
    ck_assert_int_eq(rules[2].port, 80);
    ck_assert_ptr_null(rules[2].path); /* "/": the whole host */
    p.rules = rules;
    p.nrules = 3;
    ck_assert(net_policy_intercepts(&p, "api.example.com", 443));
    ck_assert(!net_policy_intercepts(&p, "api.example.com", 80));
    ck_assert(!net_policy_intercepts(&p, "plain.example.com", 80));
    for (const char *const *t =
             (const char *const[]){ "/repos/acme/x", "/repos/acme/", "/repos/acme/a%20b?x=../..",
                                    "/orgs/acme", "/orgs/acme/members", "/orgs/acme?q", NULL };
         *t; t++)
        ck_assert_msg(!path_why(&p, *t, why), "%s: %s", *t, why);
    for (const char *const *t =
             (const char *const[]){
                 "/repos/acme", "/repos/acmex/", "/orgs/acmex", "/repos/acme/../evil",
                 "/repos/acme/%2e%2E/evil", "/repos/acme/..%2fevil",
                 "/repos/acme/x%2f..%2f..%2fevil", "/repos/acme/..;/evil", "/repos/acme/.",
                 "/repos/acme/%252e%252e/evil", "/repos/acme/a\\b", "/repos/acme/%zz",
                 "/repos/acme/%00", "repos/acme/", "*", NULL };
         *t; t++)
        ck_assert_msg(path_why(&p, *t, why), "%s let through", *t);
    ck_assert_str_eq(path_why(&p, "/repos/other", why),
                     "the path is not under a prefix the rules allow for api.example.com");
    for (size_t i = 0; i < 3; i++)
        net_rule_release(&rules[i]);
    for (const char *const *bad =
             (const char *const[]){ "https://x.example/a/../b", "https://x.example/a?b",
                                    "https://u@x.example/", "https:///a", "https://x.example/a#b",
                                    "https://x.example/%zz", NULL };
         *bad; bad++) {
        struct net_rule r;
        ck_assert_msg(net_rule_parse(*bad, &r, NULL) == -EINVAL, "%s accepted", *bad);
    }
}
END_TEST

/* ---- one intercepted connection, end to end ------------------------------------ */

struct upstream {
    int listen_fd;
    SSL_CTX *ctx;
    struct strbuf got; /* every request head it received */
};

/* Answers each request on one kept-alive connection with its own head as
 * the body, until the client closes. */
static void *upstream_main(void *arg)
{
    struct upstream *u = arg;
    int fd = accept(u->listen_fd, NULL, NULL);
    SSL *ssl = SSL_new(u->ctx);
    char buf[8192];
    size_t len = 0;

    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        for (;;) {
            int n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - len - 1));
            char *end, reply[9000];
            if (n <= 0)
                break;
            len += (size_t)n;
            buf[len] = '\0';
            while ((end = strstr(buf, "\r\n\r\n"))) {
                size_t hl = (size_t)(end - buf) + 4;
                int rl = snprintf(reply, sizeof(reply),
                                  "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%.*s", hl, (int)hl,
                                  buf);
                strbuf_add(&u->got, buf, hl);
                SSL_write(ssl, reply, rl);
                memmove(buf, buf + hl, len - hl + 1);
                len -= hl;
            }
        }
    }
    SSL_free(ssl);
    close(fd);
    return NULL;
}

struct served {
    const struct net_policy *pol;
    int fd;
    struct sbvm_net_attempt rec;
};

static void *serve_main(void *arg)
{
    struct served *s = arg;
    broker_serve_one(s->pol, s->fd, &s->rec);
    close(s->fd);
    return NULL;
}

/* Reads one response (head and Content-Length body) from ssl into out. */
static void read_response(SSL *ssl, struct strbuf *out)
{
    char buf[4096];
    size_t want = 0;

    for (;;) {
        char *e = strstr(out->buf, "\r\n\r\n"), *cl;
        if (e && !want) {
            cl = strcasestr(out->buf, "content-length: ");
            ck_assert_ptr_nonnull(cl);
            want = (size_t)(e - out->buf) + 4 + strtoul(cl + 16, NULL, 10);
        }
        if (want && out->len >= want)
            return;
        int n = SSL_read(ssl, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        strbuf_add(out, buf, (size_t)n);
    }
}

START_TEST(an_intercepted_connection_end_to_end)
{
    const char *up_hosts[] = { "127.0.0.1" };
    struct net_ca *up_ca;
    struct upstream u = { .got = STRBUF_INIT };
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof(sa);
    struct net_policy pol;
    struct served sv;
    pthread_t ut, st;
    X509 *cert;
    EVP_PKEY *key;
    SSL_CTX *gctx;
    SSL *g;
    int sp[2];
    char req[512], buf[512];
    struct strbuf resp = STRBUF_INIT;

    /* The server: its own CA, which the broker is told to trust. */
    ck_assert_int_eq(net_ca_new(up_hosts, 1, &up_ca, NULL), 0);
    ck_assert_int_eq(net_ca_leaf(up_ca, "127.0.0.1", &cert, &key), 0);
    u.ctx = SSL_CTX_new(TLS_server_method());
    ck_assert(SSL_CTX_use_certificate(u.ctx, cert) == 1 && SSL_CTX_use_PrivateKey(u.ctx, key) == 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    u.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(bind(u.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
              listen(u.listen_fd, 4) == 0 &&
              getsockname(u.listen_fd, (struct sockaddr *)&sa, &sl) == 0);
    pthread_create(&ut, NULL, upstream_main, &u);

    /* The sandbox's policy: the server's address allowed, a secret for it. */
    memset(&pol, 0, sizeof(pol));
    pol.rules = calloc(1, sizeof(*pol.rules));
    pol.secrets = calloc(1, sizeof(*pol.secrets));
    ck_assert_int_eq(net_rule_parse("127.0.0.1:*", &pol.rules[0], NULL), 0);
    pol.nrules = 1;
    pol.allow_private = true;
    ck_assert_int_eq(net_secret_parse("TOKEN=the-real-value@127.0.0.1", &pol.secrets[0], NULL), 0);
    pol.secrets[0].placeholder = strdup("sbvm-secret-0123");
    pol.nsecrets = 1;
    pol.trust_pem = strdup(net_ca_pem(up_ca));
    ck_assert_int_eq(net_ca_new(up_hosts, 1, &pol.ca, NULL), 0);
    ck_assert(net_policy_intercepts(&pol, "127.0.0.1", ntohs(sa.sin_port)));

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    sv.pol = &pol;
    sv.fd = sp[1];
    pthread_create(&st, NULL, serve_main, &sv);

    /* The guest: CONNECT, then TLS trusting the sandbox's CA only. */
    snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", ntohs(sa.sin_port));
    ck_assert(write(sp[0], req, strlen(req)) == (ssize_t)strlen(req));
    ck_assert_int_gt(read(sp[0], buf, sizeof(buf) - 1), 0);
    ck_assert(!strncmp(buf, "HTTP/1.1 200 ", 13));
    gctx = SSL_CTX_new(TLS_client_method());
    X509_STORE_add_cert(SSL_CTX_get_cert_store(gctx), net_ca_cert(pol.ca));
    SSL_CTX_set_verify(gctx, SSL_VERIFY_PEER, NULL);
    g = SSL_new(gctx);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(g), "127.0.0.1");
    SSL_set_fd(g, sp[0]);
    ck_assert_int_eq(SSL_connect(g), 1);
    /* Two requests on the one connection, each with the placeholder. */
    for (int i = 0; i < 2; i++) {
        int n = snprintf(req, sizeof(req),
                         "GET /r%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Token: sbvm-secret-0123\r\n"
                         "Accept-Encoding: gzip\r\n\r\n",
                         i, ntohs(sa.sin_port));
        ck_assert_int_eq(SSL_write(g, req, n), n);
        strbuf_reset(&resp);
        read_response(g, &resp);
        /* The echo carries the value back: masked. */
        ck_assert_ptr_nonnull(strstr(resp.buf, "X-Token: **************"));
        ck_assert_ptr_null(strstr(resp.buf, "the-real-value"));
    }
    SSL_shutdown(g);
    SSL_free(g);
    close(sp[0]);
    pthread_join(st, NULL);
    pthread_join(ut, NULL);

    /* The server got the value twice, identity asked for, no gzip. */
    ck_assert_ptr_nonnull(strstr(u.got.buf, "GET /r0 HTTP/1.1\r\nAccept-Encoding: identity\r\n"));
    ck_assert_ptr_nonnull(strstr(strstr(u.got.buf, "GET /r1"), "X-Token: the-real-value\r\n"));
    ck_assert_ptr_null(strstr(u.got.buf, "gzip"));
    ck_assert_str_eq(sv.rec.method, "CONNECT");
    ck_assert(sv.rec.allowed && sv.rec.intercepted && !sv.rec.reason);
    ck_assert_uint_eq(sv.rec.secrets, 2);
    net_attempt_release(&sv.rec);
    SSL_CTX_free(gctx);
    SSL_CTX_free(u.ctx);
    close(u.listen_fd);
    strbuf_release(&u.got);
    strbuf_release(&resp);
    net_policy_release(&pol);
    net_ca_free(up_ca);
}
END_TEST

Suite *suite_tls(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("ca");

    tcase_add_test(tc, trusted_files_hold_certificates_only);
    tcase_add_test(tc, the_ca_certifies_its_hosts_and_no_other);
    suite_add_tcase(s, tc);
    tc = tcase_create("http");
    tcase_add_test(tc, request_heads_are_parsed_strictly);
    tcase_add_test(tc, chunked_bodies_end_where_they_end);
    tcase_add_test(tc, path_rules_let_through_what_is_under_them);
    suite_add_tcase(s, tc);
    tc = tcase_create("intercept");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, an_intercepted_connection_end_to_end);
    suite_add_tcase(s, tc);
    return s;
}
