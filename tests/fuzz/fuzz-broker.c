/* SPDX-License-Identifier: MIT */
/*
 * fuzz-broker.c: what a guest sends the network broker, and what a server
 * sends back. Each input is, in turn:
 *
 *  - a request head, through broker_serve_one on a socketpair, and the
 *    secret injection into request heads. The rules name only reserved
 *    address literals, so no input ever reaches the network (nor waits for
 *    DNS);
 *  - a server's response, through the decoder and masker of a sandbox that
 *    has secrets (response.h), fed whole and again in pieces: the outcome
 *    (complete, failed and why) must not depend on how the bytes were
 *    split, and no secret may appear in what the guest would get;
 *  - a stream masked against a value taken from its own first bytes, in
 *    pieces: the result must be what masking it whole gives;
 *  - intercepted traffic (request.h): a request head parsed strictly, its
 *    target checked against a path rule (what is allowed must be under the
 *    prefix, with no dot segment in any spelling), a chunked body scanned
 *    whole and in pieces (same end, same length), and responses on a
 *    kept-alive connection, where what belongs to the first response must
 *    not depend on how the bytes were split.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/broker.h"
#include "net/policy.h"
#include "net/request.h"
#include "net/response.h"
#include "util/strbuf.h"

static struct net_policy pol, paths;
/* Without '*' (what masking writes), CR or LF (what framing adds) and not
 * all hex digits (a chunk size the broker writes could spell one): a value
 * can then never be made up of masked or framing bytes, so its appearance
 * in the output is always a failure to mask. */
static const char *const secrets[] = { "s3cr3t-value", "sbvm", "xxy" };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    pol.rules = calloc(2, sizeof(*pol.rules));
    pol.secrets = calloc(1, sizeof(*pol.secrets));
    if (!pol.rules || !pol.secrets || net_rule_parse("192.0.2.1:*", &pol.rules[0], NULL) < 0 ||
        net_rule_parse("[2001:db8::1]:*", &pol.rules[1], NULL) < 0 ||
        net_secret_parse("TOKEN=real-value@*", &pol.secrets[0], NULL) < 0)
        abort();
    pol.nrules = 2;
    pol.secrets[0].placeholder = strdup("sbvm-secret-0123456789abcdef");
    pol.nsecrets = 1;
    paths.rules = calloc(1, sizeof(*paths.rules));
    if (!paths.rules || net_rule_parse("https://host.example/allowed/", &paths.rules[0], NULL) < 0)
        abort();
    paths.nrules = 1;
    return 0;
}

static void request(const uint8_t *data, size_t size)
{
    struct sbvm_net_attempt rec;
    char answer[4096], *head;
    size_t len;
    int sv[2];

    /* The injection on the input as a request head. */
    head = malloc(size + 1);
    if (!head)
        return;
    memcpy(head, data, size);
    head[size] = '\0';
    len = strlen(head);
    net_inject_secrets(&pol, "host.example", &head, &len, NULL);
    free(head);

    /* The whole exchange; names other than the address literal do not
     * match a rule, so nothing resolves. */
    if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    if (write(sv[0], data, size) != (ssize_t)size) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    shutdown(sv[0], SHUT_WR);
    broker_serve_one(&pol, sv[1], &rec);
    net_attempt_release(&rec);
    close(sv[1]);
    while (read(sv[0], answer, sizeof(answer)) > 0)
        ;
    close(sv[0]);
}

/* The response fed `step` bytes at a time (0: whole); its outcome. */
static enum net_resp_result filter(const uint8_t *data, size_t size, size_t step, bool head,
                                   struct strbuf *out, char *why, size_t why_size)
{
    struct net_resp r;
    enum net_resp_result res = NET_RESP_MORE;

    if (net_resp_init(&r, secrets, 3, head) < 0)
        abort();
    if (!step)
        step = size ? size : 1;
    for (size_t at = 0; at < size && res == NET_RESP_MORE; at += step)
        res = net_resp_feed(&r, (const char *)data + at, size - at < step ? size - at : step, out);
    if (res == NET_RESP_MORE)
        res = net_resp_end(&r, out);
    memcpy(why, r.why, why_size < sizeof(r.why) ? why_size : sizeof(r.why));
    why[why_size - 1] = '\0';
    net_resp_release(&r);
    return res;
}

static void response(const uint8_t *data, size_t size)
{
    struct strbuf whole = STRBUF_INIT, split = STRBUF_INIT;
    char why1[160], why2[160];
    bool head = size && (data[0] & 1);
    size_t step = size ? 1 + data[size - 1] % 13 : 1;
    enum net_resp_result r1 = filter(data, size, 0, head, &whole, why1, sizeof(why1));
    enum net_resp_result r2 = filter(data, size, step, head, &split, why2, sizeof(why2));

    if (r1 != r2 || strcmp(why1, why2))
        abort();
    for (size_t i = 0; i < 3; i++)
        if (memmem(whole.buf, whole.len, secrets[i], strlen(secrets[i])) ||
            memmem(split.buf, split.len, secrets[i], strlen(secrets[i])))
            abort();
    /* A reason goes into a header of the guest's answer. */
    if (strpbrk(why1, "\r\n"))
        abort();
    strbuf_release(&whole);
    strbuf_release(&split);
}

static void masker(const uint8_t *data, size_t size)
{
    char value[9];
    const char *const values[] = { value };
    size_t vl = size ? 1 + data[0] % 8 : 0, step;
    struct net_masker m;
    struct strbuf streamed = STRBUF_INIT;
    char *whole;

    if (size < 1 + vl)
        return;
    for (size_t i = 0; i < vl; i++)
        value[i] = data[1 + i] == '*' || !data[1 + i] ? 'a' : (char)data[1 + i];
    value[vl] = '\0';
    data += 1 + vl;
    size -= 1 + vl;
    step = size ? 1 + data[0] % 7 : 1;
    if (net_masker_init(&m, values, 1) < 0)
        abort();
    for (size_t at = 0; at < size; at += step)
        net_masker_push(&m, (const char *)data + at, size - at < step ? size - at : step,
                        &streamed);
    net_masker_flush(&m, &streamed);
    net_masker_release(&m);
    whole = malloc(size + 1);
    if (!whole)
        abort();
    memcpy(whole, data, size);
    net_mask_all(values, 1, whole, size);
    if (streamed.len != size || memcmp(streamed.buf, whole, size))
        abort();
    free(whole);
    strbuf_release(&streamed);
}

/* Whether a path the rules let through could name something outside the
 * prefix: once decoded, a "." or ".." segment. */
static bool escapes(const char *t, size_t len)
{
    const char *q = memchr(t, '?', len);
    size_t pl = q ? (size_t)(q - t) : len, n = 0;
    static const char *const bad[] = { "/../", "/./", "/..;", "/.;" };
    char d[20000];

    if (pl < 9 || memcmp(t, "/allowed/", 9) || pl >= sizeof(d) - 1)
        return true;
    for (size_t i = 0; i < pl; i++) {
        unsigned v;
        if (t[i] == '%' && i + 2 < pl && sscanf(t + i + 1, "%2x", &v) == 1) {
            d[n++] = (char)v;
            i += 2;
        } else {
            d[n++] = t[i];
        }
    }
    d[n++] = '/';
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        if (memmem(d, n, bad[k], strlen(bad[k])))
            return true;
    return false;
}

static void intercepted(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *e = memmem(p, size, "\r\n\r\n", 4);
    struct net_req rq;
    struct net_chunks whole, split;
    size_t head, used1 = 0, used2 = 0, step;
    int r1, r2 = 0;
    char why[320];

    if (!e)
        return;
    head = (size_t)(e - p) + 4;
    if (!net_req_parse(p, head, &rq)) {
        if (rq.target < p || rq.target + rq.target_len > p + head ||
            (rq.host && (rq.host < p || rq.host + rq.host_len > p + head)) ||
            (rq.chunked && rq.have_length))
            abort();
        if (!net_policy_path(&paths, "host.example", 443, rq.target, rq.target_len, why,
                             sizeof(why)) &&
            escapes(rq.target, rq.target_len))
            abort();
    }
    /* What follows the head, as a chunked body: the same end and length
     * whole and in pieces. */
    p += head;
    size -= head;
    step = size ? 1 + (unsigned char)p[0] % 11 : 1;
    net_chunks_init(&whole);
    net_chunks_init(&split);
    r1 = net_chunks_scan(&whole, p, size, &used1);
    for (size_t at = 0; at < size; at += step) {
        size_t n = size - at < step ? size - at : step, u = 0;
        r2 = net_chunks_scan(&split, p + at, n, &u);
        used2 += u;
        if (r2 != 0)
            break;
    }
    if (r1 != r2 || (r1 == 1 && used1 != used2))
        abort();
}

/* Two responses back to back on a kept-alive connection: how much of the
 * stream the first one takes does not depend on the pieces. */
static void kept_alive(const uint8_t *data, size_t size)
{
    size_t step = size ? 1 + data[0] % 9 : 1, whole_used = 0, split_used = 0;
    struct strbuf o1 = STRBUF_INIT, o2 = STRBUF_INIT;
    enum net_resp_result a, b = NET_RESP_MORE;
    struct net_resp r;

    if (net_resp_init(&r, secrets, 0, false) < 0)
        abort();
    a = net_resp_feed_some(&r, (const char *)data, size, &o1, &whole_used);
    net_resp_release(&r);
    if (whole_used > size)
        abort();
    if (net_resp_init(&r, secrets, 0, false) < 0)
        abort();
    for (size_t at = 0; at < size && b == NET_RESP_MORE; at += step) {
        size_t n = size - at < step ? size - at : step, u = 0;
        b = net_resp_feed_some(&r, (const char *)data + at, n, &o2, &u);
        if (u > n)
            abort();
        split_used += u;
    }
    net_resp_release(&r);
    if (a != b || (a == NET_RESP_DONE && whole_used != split_used))
        abort();
    strbuf_release(&o1);
    strbuf_release(&o2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request(data, size);
    response(data, size);
    masker(data, size);
    intercepted(data, size);
    kept_alive(data, size);
    return 0;
}
