/* SPDX-License-Identifier: MIT */
/*
 * response.h: what comes back to a sandbox that has secrets, on a plain
 * HTTP exchange through the broker. The server's response is decoded (its
 * head, then a body framed by Content-Length, by chunks, or by the end of
 * the connection), every secret value is masked with '*' in the head, the
 * body and the trailers, and the response is framed again for the guest:
 * a chunked body is de-chunked, masked as one stream (so that a value split
 * across chunks is still found) and chunked again.
 *
 * A response the masker cannot see through is refused: a Content-Encoding
 * other than identity (when there is something to mask), a
 * Transfer-Encoding other than chunked. Malformed
 * framing (a bad status line, header line, chunk size or chunk end; a head
 * over 64 KiB) fails the response. The server's bytes are hostile: every
 * size is bounded and overflow-checked.
 *
 * Pure: bytes in, bytes out, no I/O, no threads; fuzzed alone.
 */
#ifndef SBVM_NET_RESPONSE_H
#define SBVM_NET_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

#define NET_RESP_HEAD_MAX (64 * 1024)         /* a head, or the trailers */
#define NET_CHUNK_LINE    4096                /* a chunk-size line, extensions included */
#define NET_CHUNK_MAX     (UINT64_C(1) << 40) /* one chunk's size */

/*
 * Masks values in a stream that arrives in pieces. What could still be the
 * start of a value (the longest tail of what came that is a prefix of some
 * value) is held back until the next piece or the end, and nothing else:
 * a response that pauses is not delayed beyond a partial match.
 */
struct net_masker {
    const char *const *values; /* borrowed; empty strings are ignored */
    size_t nvalues;
    size_t keep; /* the longest value, less one: the most ever held back */
    char *pend;  /* held back (keep bytes of room) */
    size_t npend;
    uint32_t *pi; /* each value's prefix function, one after the other */
};

/* 0 or -ENOMEM. values must outlive the masker. */
int net_masker_init(struct net_masker *m, const char *const *values, size_t n);
/* Appends to out the masked bytes that may leave now. */
void net_masker_push(struct net_masker *m, const char *p, size_t n, struct strbuf *out);
/* Appends what is held back (masked: a value cannot end in it). */
void net_masker_flush(struct net_masker *m, struct strbuf *out);
void net_masker_release(struct net_masker *m);
/* Masks every whole value in buf, in place. */
void net_mask_all(const char *const *values, size_t n, char *buf, size_t len);

enum net_resp_result {
    NET_RESP_MORE,   /* feed more */
    NET_RESP_DONE,   /* the response is complete: what follows is not for the guest */
    NET_RESP_FAILED, /* refused or malformed: why says why */
};

struct net_resp {
    struct net_masker m;
    bool head_request; /* the request was HEAD: no body follows */
    int state;
    int status;         /* the last status code read */
    struct strbuf line; /* a head, a chunk-size line or trailers being read */
    struct strbuf tmp;  /* a chunk's masked bytes before they are framed */
    uint64_t left;      /* bytes of the body or chunk still to come */
    unsigned crlf;      /* bytes of a chunk's closing CRLF seen */
    bool emitted;       /* something went out for the guest already */
    char why[160];      /* why it failed, printable ASCII, no server bytes beyond a token */
};

/* A token character of RFC 9110 (header names, methods). */
bool net_http_tchar(char c);
/* Field content: no control character but HTAB (obs-text is allowed). */
bool net_http_field_ok(const char *p, size_t len);

/* 0 or -ENOMEM. values (the secrets to mask) must outlive r. */
int net_resp_init(struct net_resp *r, const char *const *values, size_t n, bool head_request);
/* n bytes from the server; what the guest may see is appended to out. */
enum net_resp_result net_resp_feed(struct net_resp *r, const char *p, size_t n, struct strbuf *out);
/* The same, and *consumed says how many of the n bytes belonged to this
 * response: on a kept-alive connection, what follows NET_RESP_DONE is the
 * start of the next one. */
enum net_resp_result net_resp_feed_some(struct net_resp *r, const char *p, size_t n,
                                        struct strbuf *out, size_t *consumed);
/* The server closed its side: flushes what is held back. NET_RESP_DONE when
 * the response was complete (or ran to the end of the connection). */
enum net_resp_result net_resp_end(struct net_resp *r, struct strbuf *out);
/* Wipes what it held of the server's bytes. */
void net_resp_release(struct net_resp *r);

#endif
