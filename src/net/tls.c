/* SPDX-License-Identifier: MIT */
/* tls.c: the TLS ends of an intercepted connection (tls.h). */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net/ca.h"
#include "net/policy.h"
#include "util/error.h"
#include "util/util.h"

static const unsigned char alpn_http11[] = "\x08http/1.1";

struct net_tls {
    SSL_CTX *server; /* towards the guest */
    SSL_CTX *client; /* towards servers */
};

/* ---- a socket BIO that first returns bytes already read --------------------- */

/*
 * The guest may send its ClientHello right behind its CONNECT, and the
 * broker may have read some of it with the request head. OpenSSL's socket
 * BIO cannot be given those bytes back, so this one returns them first,
 * then reads the socket. Writes never raise SIGPIPE (MSG_NOSIGNAL).
 */
struct pfx {
    int fd;
    char *pre;
    size_t npre, pos;
};

static BIO_METHOD *pfx_method;
static pthread_once_t pfx_once = PTHREAD_ONCE_INIT;

static int pfx_read(BIO *b, char *out, int n)
{
    struct pfx *x = BIO_get_data(b);
    ssize_t r;

    BIO_clear_retry_flags(b);
    if (n <= 0)
        return 0;
    if (x->pos < x->npre) {
        size_t take = x->npre - x->pos < (size_t)n ? x->npre - x->pos : (size_t)n;
        memcpy(out, x->pre + x->pos, take);
        x->pos += take;
        return (int)take;
    }
    r = recv(x->fd, out, (size_t)n, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_read(b);
        return -1;
    }
    return (int)r;
}

static int pfx_write(BIO *b, const char *in, int n)
{
    struct pfx *x = BIO_get_data(b);
    ssize_t r;

    BIO_clear_retry_flags(b);
    r = send(x->fd, in, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_write(b);
        return -1;
    }
    return (int)r;
}

static long pfx_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int pfx_destroy(BIO *b)
{
    struct pfx *x = BIO_get_data(b);

    if (x) {
        if (x->pre)
            explicit_bzero(x->pre, x->npre);
        free(x->pre);
        free(x);
    }
    BIO_set_data(b, NULL);
    return 1;
}

static void pfx_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sbvm-socket");

    if (m && BIO_meth_set_read(m, pfx_read) && BIO_meth_set_write(m, pfx_write) &&
        BIO_meth_set_ctrl(m, pfx_ctrl) && BIO_meth_set_destroy(m, pfx_destroy))
        pfx_method = m;
    else
        BIO_meth_free(m);
}

static BIO *pfx_bio(int fd, const char *pre, size_t npre)
{
    struct pfx *x;
    BIO *b;

    pthread_once(&pfx_once, pfx_init);
    if (!pfx_method || !(x = calloc(1, sizeof(*x))))
        return NULL;
    x->fd = fd;
    if (npre && !(x->pre = malloc(npre))) {
        free(x);
        return NULL;
    }
    if (npre)
        memcpy(x->pre, pre, npre);
    x->npre = npre;
    b = BIO_new(pfx_method);
    if (!b) {
        free(x->pre);
        free(x);
        return NULL;
    }
    BIO_set_data(b, x);
    BIO_set_init(b, 1);
    return b;
}

/* ---- contexts ---------------------------------------------------------------- */

/* The guest's handshake: what it must name, and why it was refused. */
struct accept_state {
    const char *host;
    bool literal;
    char why[640];
};

static int app_index = -1;
static pthread_once_t app_once = PTHREAD_ONCE_INIT;

static void app_init(void)
{
    app_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The server name the guest asks for must be the CONNECT's host: a
 * certificate is made for that name only, and a secret goes where the
 * names agree. Clients send no name for an address, by the RFC. */
static int servername_cb(SSL *ssl, int *alert, void *arg)
{
    struct accept_state *a = SSL_get_ex_data(ssl, app_index);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    char norm[260];

    (void)arg;
    if (!a)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    if (!sni) {
        if (a->literal)
            return SSL_TLSEXT_ERR_NOACK;
        snprintf(a->why, sizeof(a->why),
                 "the guest's TLS handshake names no server (SNI); the tunnel is for %s", a->host);
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (!net_host_normalise(sni, strlen(sni), norm, sizeof(norm)) || !streq(norm, a->host)) {
        if (net_host_normalise(sni, strlen(sni), norm, sizeof(norm)))
            snprintf(a->why, sizeof(a->why),
                     "the guest's TLS handshake names %s (SNI), the tunnel is for %s", norm,
                     a->host);
        else
            snprintf(
                a->why, sizeof(a->why),
                "the guest's TLS handshake names a malformed server (SNI); the tunnel is for %s",
                a->host);
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    /* http/1.1 if offered; otherwise no ALPN at all, and the client's
     * HTTP/1.1 default (a client that insists on h2 gives up). */
    for (unsigned i = 0; i < inlen;) {
        unsigned l = in[i];
        if (i + 1 + l > inlen)
            break;
        if (l == 8 && !memcmp(in + i + 1, "http/1.1", 8)) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

int net_tls_new(const struct net_policy *pol, struct net_tls **out, sbvm_error **err)
{
    struct net_tls *t = calloc(1, sizeof(*t));
    static const unsigned char sid[] = "sandboxvm";
    bool ok;

    *out = NULL;
    if (!t)
        return error_set(err, ENOMEM, "out of memory");
    pthread_once(&app_once, app_init);
    t->server = SSL_CTX_new(TLS_server_method());
    t->client = SSL_CTX_new(TLS_client_method());
    ok = app_index >= 0 && t->server && t->client &&
         SSL_CTX_set_min_proto_version(t->server, TLS1_2_VERSION) &&
         SSL_CTX_set_min_proto_version(t->client, TLS1_2_VERSION) &&
         SSL_CTX_set_session_id_context(t->server, sid, sizeof(sid) - 1) &&
         SSL_CTX_set_default_verify_paths(t->client) &&
         SSL_CTX_set_alpn_protos(t->client, alpn_http11, sizeof(alpn_http11) - 1) == 0;
    if (ok) {
        long opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
        long mode = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
        SSL_CTX_set_options(t->server, opts | SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_options(t->client, opts);
        SSL_CTX_set_mode(t->server, mode);
        SSL_CTX_set_mode(t->client, mode);
        /* Several records in one read, not a header and then a body:
         * fewer system calls on a download. */
        SSL_CTX_set_read_ahead(t->server, 1);
        SSL_CTX_set_read_ahead(t->client, 1);
        SSL_CTX_set_default_read_buffer_len(t->server, 64 * 1024);
        SSL_CTX_set_default_read_buffer_len(t->client, 64 * 1024);
        /* AES-128-GCM first: as strong as needed, and the cheapest with
         * AES instructions; the broker encrypts and decrypts every byte. */
        ok = SSL_CTX_set_ciphersuites(t->server, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                                 "TLS_CHACHA20_POLY1305_SHA256") == 1 &&
             SSL_CTX_set_ciphersuites(t->client, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                                 "TLS_CHACHA20_POLY1305_SHA256") == 1;
        SSL_CTX_set_tlsext_servername_callback(t->server, servername_cb);
        SSL_CTX_set_alpn_select_cb(t->server, alpn_cb, NULL);
        SSL_CTX_set_verify(t->client, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_session_cache_mode(t->client, SSL_SESS_CACHE_OFF);
    }
    if (ok && pol->trust_pem) {
        /* --trust-ca: servers with a private CA (the tests' own among them). */
        STACK_OF(X509) *sk = net_certs_stack(pol->trust_pem, strlen(pol->trust_pem));
        X509_STORE *store = SSL_CTX_get_cert_store(t->client);
        ok = sk != NULL;
        for (int i = 0; ok && i < sk_X509_num(sk); i++)
            ok = X509_STORE_add_cert(store, sk_X509_value(sk, i)) == 1;
        sk_X509_pop_free(sk, X509_free);
    }
    ERR_clear_error();
    if (!ok) {
        net_tls_free(t);
        return error_set(err, ENOMEM, "setting up TLS for the network broker failed");
    }
    *out = t;
    return 0;
}

void net_tls_free(struct net_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->server);
    SSL_CTX_free(t->client);
    free(t);
}

/* ---- I/O ------------------------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int net_tls_wait(struct net_tls_end *e, int stop_fd, int ms)
{
    struct pollfd p[2] = { { e->fd, e->want ? e->want : POLLIN, 0 }, { stop_fd, POLLIN, 0 } };
    int n;

    do
        n = poll(p, stop_fd >= 0 ? 2 : 1, ms);
    while (n < 0 && errno == EINTR);
    if (n < 0 || (stop_fd >= 0 && (p[1].revents & POLLIN)))
        return -1;
    return n > 0;
}

/* After a failed call: whether it only has to wait (e->want set). */
static bool must_wait(struct net_tls_end *e, int r)
{
    switch (SSL_get_error(e->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        e->want = POLLIN;
        return true;
    case SSL_ERROR_WANT_WRITE:
        e->want = POLLOUT;
        return true;
    default:
        return false;
    }
}

/* The first error OpenSSL queued, in its words. */
static void ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, size, "%s", r ? r : "the connection failed");
}

static int handshake(struct net_tls_end *e, bool server, int stop_fd, int ms)
{
    int64_t deadline = mono_ms() + ms;

    for (;;) {
        int r, left;

        ERR_clear_error();
        r = server ? SSL_accept(e->ssl) : SSL_connect(e->ssl);
        if (r == 1)
            return 0;
        if (!must_wait(e, r))
            return -1;
        left = (int)(deadline - mono_ms());
        if (left <= 0 || net_tls_wait(e, stop_fd, left) <= 0) {
            errno = ETIMEDOUT;
            return -2;
        }
    }
}

static bool host_literal(const char *host)
{
    unsigned char a[16];

    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

int net_tls_connect(struct net_tls *t, struct net_tls_end *e, int fd, const char *host, int stop_fd,
                    int ms, char *why, size_t why_size)
{
    BIO *bio = pfx_bio(fd, NULL, 0);
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    X509_VERIFY_PARAM *vp;
    bool literal = host_literal(host);
    int r;

    memset(e, 0, sizeof(*e));
    e->fd = fd;
    e->ssl = bio ? SSL_new(t->client) : NULL;
    if (!e->ssl) {
        BIO_free(bio);
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    SSL_set_bio(e->ssl, bio, bio);
    vp = SSL_get0_param(e->ssl);
    /* The name (or address) connected for is the one the certificate
     * must carry: a partial wildcard ("w*.example.com") is not accepted. */
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (literal
            ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1
            : (SSL_set_tlsext_host_name(e->ssl, host) != 1 || SSL_set1_host(e->ssl, host) != 1)) {
        snprintf(why, why_size, "out of memory");
        net_tls_close(e, false);
        return -1;
    }
    r = handshake(e, false, stop_fd, ms);
    if (r == -2) {
        snprintf(why, why_size, "the TLS handshake with %s took too long", host);
        net_tls_close(e, false);
        return -1;
    }
    if (r < 0) {
        long v = SSL_get_verify_result(e->ssl);
        if (v != X509_V_OK)
            snprintf(why, why_size, "the server's certificate for %s is refused: %s", host,
                     X509_verify_cert_error_string(v));
        else {
            char reason[128];
            ssl_reason(reason, sizeof(reason));
            snprintf(why, why_size, "the TLS handshake with %s failed: %s", host, reason);
        }
        net_tls_close(e, false);
        return -1;
    }
    SSL_get0_alpn_selected(e->ssl, &alpn, &alpn_len);
    if (alpn_len && (alpn_len != 8 || memcmp(alpn, "http/1.1", 8))) {
        snprintf(why, why_size, "the server %s chose a protocol other than http/1.1", host);
        net_tls_close(e, false);
        return -1;
    }
    return 0;
}

int net_tls_accept(struct net_tls *t, struct net_ca *ca, struct net_tls_end *e, int fd,
                   const char *pre, size_t npre, const char *host, int stop_fd, int ms, char *why,
                   size_t why_size)
{
    BIO *bio = pfx_bio(fd, pre, npre);
    struct accept_state a = { .host = host, .literal = host_literal(host) };
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int r;

    memset(e, 0, sizeof(*e));
    e->fd = fd;
    e->ssl = bio ? SSL_new(t->server) : NULL;
    if (!e->ssl) {
        BIO_free(bio);
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    SSL_set_bio(e->ssl, bio, bio);
    if (net_ca_leaf(ca, host, &cert, &key) < 0 || SSL_use_certificate(e->ssl, cert) != 1 ||
        SSL_use_PrivateKey(e->ssl, key) != 1 || SSL_set_ex_data(e->ssl, app_index, &a) != 1) {
        X509_free(cert);
        EVP_PKEY_free(key);
        snprintf(why, why_size, "making a certificate for %s failed", host);
        net_tls_close(e, false);
        return -1;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    r = handshake(e, true, stop_fd, ms);
    SSL_set_ex_data(e->ssl, app_index, NULL);
    if (r == 0)
        return 0;
    if (a.why[0])
        snprintf(why, why_size, "%s", a.why);
    else if (r == -2)
        snprintf(why, why_size, "the guest's TLS handshake took too long");
    else {
        char reason[128];
        ssl_reason(reason, sizeof(reason));
        snprintf(why, why_size, "the guest's TLS handshake failed: %s", reason);
    }
    net_tls_close(e, false);
    return -1;
}

ssize_t net_tls_read(struct net_tls_end *e, void *buf, size_t n)
{
    int r;

    ERR_clear_error();
    r = SSL_read(e->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    if (must_wait(e, r))
        return -EAGAIN;
    return SSL_get_error(e->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -EPIPE;
}

bool net_tls_write(struct net_tls_end *e, const void *p, size_t n, int stop_fd, int ms)
{
    const char *c = p;

    while (n > 0) {
        int r;
        ERR_clear_error();
        r = SSL_write(e->ssl, c, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r > 0) {
            c += r;
            n -= (size_t)r;
            continue;
        }
        if (!must_wait(e, r) || net_tls_wait(e, stop_fd, ms) <= 0)
            return false;
    }
    return true;
}

void net_tls_close(struct net_tls_end *e, bool notify)
{
    if (!e->ssl)
        return;
    /* One attempt, not waited on: the socket is closed next anyway. */
    if (notify)
        (void)SSL_shutdown(e->ssl);
    SSL_free(e->ssl);
    ERR_clear_error();
    e->ssl = NULL;
}
