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
 *    pieces: the result must be what masking it whole gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/broker.h"
#include "net/policy.h"
#include "net/response.h"
#include "util/strbuf.h"

static struct net_policy pol;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request(data, size);
    response(data, size);
    masker(data, size);
    return 0;
}
