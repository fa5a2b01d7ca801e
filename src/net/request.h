/* SPDX-License-Identifier: MIT */
/*
 * request.h: the guest's requests inside an intercepted TLS connection,
 * parsed strictly, and the framing of their bodies.
 *
 * Every byte is the guest's: the head is refused at the first thing that
 * two HTTP implementations could read differently (the usual ways to
 * smuggle a second request into the first): a header name with a space
 * before its colon, a folded line, a control character, more than one Host,
 * Content-Length and Transfer-Encoding together, two different lengths, a
 * transfer coding other than chunked. The body is framed by Content-Length
 * or by chunks, which are checked as they pass (bounded lines and sizes).
 *
 * Pure: bytes in, decisions out; fuzzed alone (fuzz-broker).
 */
#ifndef SBVM_NET_REQUEST_H
#define SBVM_NET_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_req {
    char method[17];
    const char *target; /* into the head */
    size_t target_len;
    bool http10;
    const char *host; /* the Host header's value, trimmed, into the head; NULL: none */
    size_t host_len;
    bool chunked;     /* Transfer-Encoding: chunked */
    bool have_length; /* Content-Length */
    uint64_t length;
    bool close;   /* the connection ends after this exchange */
    bool upgrade; /* asks to switch protocols (Connection: upgrade) */
};

/* Parses a request head (len bytes, ending with its empty line): NULL, or
 * why it is refused (a fixed text). */
const char *net_req_parse(const char *head, size_t len, struct net_req *rq);

/* A chunked body as it passes: what belongs to it, and where it ends. */
struct net_chunks {
    int state;
    uint64_t left; /* of the current chunk's data */
    unsigned line; /* bytes of the current size or trailer line */
    unsigned trailers;
    bool digits;
};

void net_chunks_init(struct net_chunks *c);
/* Scans n bytes of the body: *used of them belong to it; 1 when the body
 * ended with them, 0 when more is to come, -1 when it is malformed. */
int net_chunks_scan(struct net_chunks *c, const char *p, size_t n, size_t *used);

#endif
