/* SPDX-License-Identifier: MIT */
/*
 * proxyreq.h: the request line of a request made to the broker as a proxy
 * (CONNECT host:port, or a plain-HTTP request with an absolute http:// URL),
 * parsed strictly. Every byte is the guest's. Pure: no I/O, no policy; the
 * broker decides what to do with what it says (fuzz-broker reaches it).
 */
#ifndef SBVM_NET_PROXYREQ_H
#define SBVM_NET_PROXYREQ_H

#include <stdbool.h>
#include <stddef.h>

struct proxy_req {
    char method[17];
    char host[260]; /* normalised */
    char authority[300];
    int port;
    bool connect;
    const char *path; /* origin-form target (plain HTTP), into the head */
    size_t path_len;
    const char *headers; /* after the request line, into the head */
    bool http10;
};

/* Parses the request line of `head` (NUL-terminated, ends with CRLF CRLF)
 * into *rq: NULL, or why the request is refused (words for the guest). The
 * pointers of *rq point into `head`. */
const char *proxy_parse_request(const char *head, struct proxy_req *rq);

#endif
