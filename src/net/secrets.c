/* SPDX-License-Identifier: MIT */
/*
 * secrets.c: --secret values put into a request head in place of their
 * placeholders (broker.h, net_inject_secrets), also inside Basic
 * credentials. Pure: used by the plain proxy and the intercepted
 * connection alike, and fuzzed (fuzz-broker).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/broker.h"
#include "net/policy.h"
#include "util/strbuf.h"
#include "util/strv.h"

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(char c)
{
    const char *p = c ? strchr(b64chars, c) : NULL;
    return p ? (int)(p - b64chars) : -1;
}

static bool b64_decode(const char *in, size_t len, struct strbuf *out)
{
    unsigned acc = 0;
    int bits = 0;

    for (size_t i = 0; i < len; i++) {
        int v;
        if (in[i] == '=')
            break;
        if ((v = b64val(in[i])) < 0)
            return false;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            strbuf_addch(out, (char)((acc >> bits) & 0xff));
        }
    }
    return !strbuf_failed(out);
}

static void b64_encode(const char *in, size_t len, struct strbuf *out)
{
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)(unsigned char)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)(unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)in[i + 2];
        strbuf_addch(out, b64chars[(v >> 18) & 63]);
        strbuf_addch(out, b64chars[(v >> 12) & 63]);
        strbuf_addch(out, i + 1 < len ? b64chars[(v >> 6) & 63] : '=');
        strbuf_addch(out, i + 2 < len ? b64chars[v & 63] : '=');
    }
}

/* Replaces every `from` in [p, p+len) into out; the count. */
static unsigned replace_all(const char *p, size_t len, const char *from, const char *to,
                            struct strbuf *out)
{
    size_t fl = strlen(from);
    unsigned n = 0;
    const char *hit;

    while (fl && (hit = memmem(p, len, from, fl))) {
        strbuf_add(out, p, (size_t)(hit - p));
        strbuf_addstr(out, to);
        len -= (size_t)(hit - p) + fl;
        p = hit + fl;
        n++;
    }
    strbuf_add(out, p, len);
    return n;
}

unsigned net_inject_secrets(const struct net_policy *pol, const char *host, char **head,
                            size_t *len, struct strv *masks)
{
    unsigned total = 0;

    for (size_t i = 0; i < pol->nsecrets; i++) {
        const struct net_secret *s = &pol->secrets[i];
        struct strbuf out = STRBUF_INIT;
        const char *p = *head, *end = *head + *len;
        const char *first_eol = strstr(p, "\r\n");

        if (!net_rule_match(&s->host, host, 80) || !first_eol)
            continue;
        /* The request line is left alone: headers only. */
        strbuf_add(&out, p, (size_t)(first_eol + 2 - p));
        p = first_eol + 2;
        while (p < end) {
            const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
            size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
            static const char basic[] = "authorization: basic ";
            if (ll > sizeof(basic) - 1 && !strncasecmp(p, basic, sizeof(basic) - 1)) {
                /* user:password inside base64: decode, replace, encode. */
                struct strbuf plain = STRBUF_INIT, swapped = STRBUF_INIT;
                const char *b = p + sizeof(basic) - 1;
                unsigned n = 0;
                if (b64_decode(b, ll - (sizeof(basic) - 1), &plain))
                    n = replace_all(plain.buf ? plain.buf : "", plain.len, s->placeholder, s->value,
                                    &swapped);
                if (n) {
                    size_t at = out.len;
                    strbuf_add(&out, p, sizeof(basic) - 1);
                    b64_encode(swapped.buf, swapped.len, &out);
                    if (masks && !strbuf_failed(&out))
                        strv_push(masks, out.buf + at + sizeof(basic) - 1);
                    total += n;
                } else {
                    total += replace_all(p, ll, s->placeholder, s->value, &out);
                }
                if (plain.buf)
                    explicit_bzero(plain.buf, plain.len);
                if (swapped.buf)
                    explicit_bzero(swapped.buf, swapped.len);
                strbuf_release(&plain);
                strbuf_release(&swapped);
            } else {
                total += replace_all(p, ll, s->placeholder, s->value, &out);
            }
            if (!eol)
                break;
            strbuf_add(&out, "\r\n", 2);
            p = eol + 2;
        }
        if (masks && total)
            strv_push(masks, s->value);
        if (strbuf_failed(&out)) {
            strbuf_release(&out);
            continue;
        }
        explicit_bzero(*head, *len);
        free(*head);
        *len = out.len;
        *head = strbuf_detach(&out, NULL);
    }
    return total;
}
