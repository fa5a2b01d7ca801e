/* SPDX-License-Identifier: MIT */
/* ca.c: trusted certificates and the per-sandbox CA of TLS interception (ca.h). */
#include "net/ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/error.h"
#include "util/util.h"

/* Certificates in one trusted file, at the most. */
#define CERTS_MAX 1000
/* Certificates minted and kept per CA; beyond, the oldest is made again
 * when it is next asked for. */
#define LEAF_CACHE 64
/* How long what the CA signs is valid: it dies with the sandbox anyway, and
 * a sandbox may live long. An hour before now allows for clocks apart. */
#define VALID_DAYS 397
#define SKEW_SECS  3600

/* A PEM block name as it may be quoted in a message: [A-Z0-9 ] only. */
static const char *pem_name(const char *n, char *out, size_t size)
{
    size_t i;

    for (i = 0; n[i] && i + 1 < size && i < 40; i++)
        out[i] = (n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') || n[i] == ' ' ? n[i]
                                                                                             : '?';
    out[i] = '\0';
    return out;
}

int net_certs_parse(const char *data, size_t len, const char *what, struct strbuf *pem,
                    sbvm_error **err)
{
    BIO *in, *out;
    size_t start = pem->len;
    unsigned n = 0;
    int r = 0;

    if (len > NET_CERTS_MAX)
        return error_set(err, EFBIG, "--trust-ca %s: larger than %u MiB", what,
                         NET_CERTS_MAX >> 20);
    in = BIO_new_mem_buf(data, (int)len);
    out = BIO_new(BIO_s_mem());
    if (!in || !out) {
        r = error_set(err, ENOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        char *name = NULL, *header = NULL, shown[48];
        unsigned char *der = NULL;
        const unsigned char *p;
        long dlen = 0;
        X509 *x;

        if (!PEM_read_bio(in, &name, &header, &der, &dlen)) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                break; /* the end: nothing more that looks like PEM */
            r = error_set(err, EINVAL, "--trust-ca %s: a malformed PEM block", what);
            break;
        }
        if (strcmp(name, "CERTIFICATE") != 0) {
            /* Whatever it is (a private key, say) must not reach the view. */
            r = error_set(err, EINVAL,
                          "--trust-ca %s: holds a %s: give a file of certificates only (it is "
                          "copied into the sandbox)",
                          what, pem_name(name, shown, sizeof(shown)));
        } else if (++n > CERTS_MAX) {
            r = error_set(err, E2BIG, "--trust-ca %s: more than %d certificates", what, CERTS_MAX);
        } else {
            p = der;
            x = d2i_X509(NULL, &p, dlen);
            if (!x || p != der + dlen)
                r = error_set(err, EINVAL, "--trust-ca %s: certificate %u does not parse", what, n);
            else if (!PEM_write_bio_X509(out, x))
                r = error_set(err, ENOMEM, "out of memory");
            X509_free(x);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(der, dlen > 0 ? (size_t)dlen : 0);
        if (r < 0)
            break;
    }
    if (r == 0 && n == 0)
        r = error_set(err, EINVAL, "--trust-ca %s: no PEM certificate in it", what);
    if (r == 0) {
        char *p;
        long l = BIO_get_mem_data(out, &p);
        strbuf_add(pem, p, (size_t)l);
        if (strbuf_failed(pem))
            r = error_set(err, ENOMEM, "out of memory");
    }
done:
    if (r < 0)
        strbuf_truncate(pem, start);
    BIO_free(in);
    BIO_free(out);
    ERR_clear_error();
    return r;
}

int net_certs_load(const char *path, struct strbuf *pem, sbvm_error **err)
{
    char *data = NULL;
    size_t len = 0;
    int r = read_file_at(AT_FDCWD, path, NET_CERTS_MAX, &data, &len);

    if (r == -EFBIG)
        return error_set(err, EFBIG, "--trust-ca %s: larger than %u MiB", path,
                         NET_CERTS_MAX >> 20);
    if (r < 0)
        return error_sys(err, -r, "--trust-ca %s", path);
    r = net_certs_parse(data, len, path, pem, err);
    explicit_bzero(data, len);
    free(data);
    return r;
}

STACK_OF(X509) * net_certs_stack(const char *pem, size_t len)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *in = BIO_new_mem_buf(pem, (int)len);
    X509 *x;

    if (!sk || !in) {
        sk_X509_free(sk);
        BIO_free(in);
        return NULL;
    }
    while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)))
        if (!sk_X509_push(sk, x))
            X509_free(x);
    BIO_free(in);
    ERR_clear_error();
    return sk;
}

/* ---- the CA ----------------------------------------------------------------- */

struct leaf {
    char *host;
    X509 *cert;
};

struct net_ca {
    EVP_PKEY *key;      /* the CA's: never leaves this process */
    EVP_PKEY *leaf_key; /* one for every certificate it mints */
    X509 *cert;
    char *pem;
    pthread_mutex_t lock; /* leaves, next */
    struct leaf leaves[LEAF_CACHE];
    unsigned next;
};

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

/* A random positive serial number of 127 bits. */
static bool set_serial(X509 *x)
{
    unsigned char rnd[16];
    BIGNUM *bn;
    bool ok;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return false;
    rnd[0] &= 0x7f;
    rnd[0] |= 0x40; /* no leading zero byte: a full 16-byte serial */
    bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return ok;
}

static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = e && X509_add_ext(x, e, -1);

    X509_EXTENSION_free(e);
    return ok;
}

/* The CA's name constraints: every name and address it may certify, and
 * for a type none of them is, one that nothing is (RFC 2606's "invalid",
 * 0.0.0.0/32), so that a type left out is not a type left open. */
static bool constraints(const char *const *hosts, size_t n, struct strbuf *sb)
{
    bool dns = false, ip = false;

    for (size_t i = 0; i < n; i++) {
        unsigned char a[16];
        const char *h = hosts[i];

        if (!*h)
            return false; /* "*": any name, no constraint */
        if (inet_pton(AF_INET, h, a) == 1) {
            strbuf_addf(sb, ",permitted;IP:%s/255.255.255.255", h);
            ip = true;
        } else if (inet_pton(AF_INET6, h, a) == 1) {
            strbuf_addf(sb, ",permitted;IP:%s/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", h);
            ip = true;
        } else {
            /* ".suffix" (a wildcard rule) as "suffix": the name and all
             * under it; the leaf for the name itself is never made. */
            strbuf_addf(sb, ",permitted;DNS:%s", h[0] == '.' ? h + 1 : h);
            dns = true;
        }
    }
    if (!dns)
        strbuf_addstr(sb, ",permitted;DNS:invalid");
    if (!ip)
        strbuf_addstr(sb, ",permitted;IP:0.0.0.0/255.255.255.255");
    return true;
}

int net_ca_new(const char *const *hosts, size_t nhosts, struct net_ca **out, sbvm_error **err)
{
    struct net_ca *ca = calloc(1, sizeof(*ca));
    struct strbuf nc = STRBUF_INIT;
    unsigned char tag[4];
    char cn[64];
    X509_NAME *name = NULL;
    X509V3_CTX ctx;
    BIO *bio = NULL;
    bool ok;

    *out = NULL;
    if (!ca)
        return error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&ca->lock, NULL);
    ca->key = new_key();
    ca->leaf_key = new_key();
    ca->cert = X509_new();
    name = X509_NAME_new();
    ok = ca->key && ca->leaf_key && ca->cert && name && RAND_bytes(tag, sizeof(tag)) == 1;
    if (ok) {
        snprintf(cn, sizeof(cn), "sandboxvm per-sandbox CA %02x%02x%02x%02x", tag[0], tag[1],
                 tag[2], tag[3]);
        ok = X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"sandboxvm",
                                        -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                        0) &&
             X509_set_version(ca->cert, 2) && set_serial(ca->cert) &&
             X509_gmtime_adj(X509_getm_notBefore(ca->cert), -SKEW_SECS) &&
             X509_gmtime_adj(X509_getm_notAfter(ca->cert), (long)VALID_DAYS * 86400) &&
             X509_set_subject_name(ca->cert, name) && X509_set_issuer_name(ca->cert, name) &&
             X509_set_pubkey(ca->cert, ca->key);
    }
    if (ok) {
        X509V3_set_ctx(&ctx, ca->cert, ca->cert, NULL, NULL, 0);
        ok = add_ext(ca->cert, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
             add_ext(ca->cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             add_ext(ca->cert, &ctx, NID_subject_key_identifier, "hash");
        strbuf_addstr(&nc, "critical");
        if (ok && constraints(hosts, nhosts, &nc))
            ok = !strbuf_failed(&nc) && add_ext(ca->cert, &ctx, NID_name_constraints, nc.buf);
        ok = ok && X509_sign(ca->cert, ca->key, EVP_sha256()) > 0;
    }
    if (ok && (bio = BIO_new(BIO_s_mem())) && PEM_write_bio_X509(bio, ca->cert)) {
        char *p;
        long l = BIO_get_mem_data(bio, &p);
        ca->pem = strndup(p, (size_t)l);
    }
    BIO_free(bio);
    X509_NAME_free(name);
    strbuf_release(&nc);
    ERR_clear_error();
    if (!ca->pem) {
        net_ca_free(ca);
        return error_set(err, ENOMEM, "making the sandbox's certificate authority failed");
    }
    *out = ca;
    return 0;
}

void net_ca_free(struct net_ca *ca)
{
    if (!ca)
        return;
    for (size_t i = 0; i < LEAF_CACHE; i++) {
        free(ca->leaves[i].host);
        X509_free(ca->leaves[i].cert);
    }
    /* OpenSSL wipes a key's secret parts when it frees it. */
    EVP_PKEY_free(ca->key);
    EVP_PKEY_free(ca->leaf_key);
    X509_free(ca->cert);
    free(ca->pem);
    pthread_mutex_destroy(&ca->lock);
    free(ca);
}

const char *net_ca_pem(const struct net_ca *ca)
{
    return ca->pem;
}

X509 *net_ca_cert(const struct net_ca *ca)
{
    return ca->cert;
}

static X509 *mint(struct net_ca *ca, const char *host)
{
    unsigned char a[16];
    bool literal = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
    struct strbuf san = STRBUF_INIT;
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX ctx;
    bool ok;

    /* An address goes in the subject alternative name only: a common name
     * that looks like a host name is checked against the CA's DNS
     * constraints by some verifiers. */
    strbuf_addf(&san, "%s:%s", literal ? "IP" : "DNS", host);
    ok = x && name && !strbuf_failed(&san) && strlen(host) < 64 &&
         X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"sandboxvm", -1,
                                    -1, 0) &&
         (literal || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)host, -1, -1, 0)) &&
         X509_set_version(x, 2) && set_serial(x) &&
         X509_gmtime_adj(X509_getm_notBefore(x), -SKEW_SECS) &&
         X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)) && X509_set_subject_name(x, name) &&
         X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) &&
         X509_set_pubkey(x, ca->leaf_key);
    if (ok) {
        X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
        ok = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") &&
             add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") &&
             add_ext(x, &ctx, NID_subject_alt_name, san.buf) &&
             add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
             add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") &&
             X509_sign(x, ca->key, EVP_sha256()) > 0;
    }
    strbuf_release(&san);
    X509_NAME_free(name);
    ERR_clear_error();
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int net_ca_leaf(struct net_ca *ca, const char *host, X509 **cert, EVP_PKEY **key)
{
    X509 *x = NULL;

    *cert = NULL;
    *key = NULL;
    pthread_mutex_lock(&ca->lock);
    for (size_t i = 0; i < LEAF_CACHE && !x; i++)
        if (ca->leaves[i].host && streq(ca->leaves[i].host, host))
            x = ca->leaves[i].cert;
    if (!x) {
        /* Signing takes a fraction of a millisecond: under the lock, so
         * that one name is minted once. */
        struct leaf *l = &ca->leaves[ca->next];
        char *h = strdup(host);
        X509 *made = h ? mint(ca, host) : NULL;
        if (!made) {
            free(h);
            pthread_mutex_unlock(&ca->lock);
            return -ENOMEM;
        }
        free(l->host);
        X509_free(l->cert);
        l->host = h;
        l->cert = x = made;
        ca->next = (ca->next + 1) % LEAF_CACHE;
    }
    X509_up_ref(x);
    EVP_PKEY_up_ref(ca->leaf_key);
    pthread_mutex_unlock(&ca->lock);
    *cert = x;
    *key = ca->leaf_key;
    return 0;
}
