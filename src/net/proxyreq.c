/* SPDX-License-Identifier: MIT */
/* proxyreq.c: a proxy request's request line, parsed strictly (proxyreq.h). */
#include "net/proxyreq.h"

#include <string.h>
#include <strings.h>

#include "net/policy.h"
#include "util/util.h"

/* host[:port] or [v6][:port]; port required for CONNECT. */
static const char *parse_authority(const char *a, size_t len, bool need_port, struct proxy_req *rq)
{
    const char *colon = NULL, *hend;
    size_t hl;

    if (len == 0 || len >= sizeof(rq->authority))
        return "a bad host";
    if (memchr(a, '@', len))
        return "credentials in the URL are not accepted";
    memcpy(rq->authority, a, len);
    rq->authority[len] = '\0';
    if (a[0] == '[') {
        const char *close = memchr(a, ']', len);
        if (!close)
            return "a bad IPv6 address";
        hend = close + 1;
        if (hend < a + len) {
            if (*hend != ':')
                return "a bad host";
            colon = hend;
        }
    } else {
        colon = memchr(a, ':', len);
        hend = colon ? colon : a + len;
    }
    hl = (size_t)(hend - a);
    if (!net_host_normalise(a, hl, rq->host, sizeof(rq->host)))
        return "a bad host";
    if (colon) {
        long p = 0;
        const char *q = colon + 1;
        if (q >= a + len)
            return "a bad port";
        for (; q < a + len; q++) {
            if (*q < '0' || *q > '9' || p > 65535)
                return "a bad port";
            p = p * 10 + (*q - '0');
        }
        if (p < 1 || p > 65535)
            return "a bad port";
        rq->port = (int)p;
    } else if (need_port) {
        return "CONNECT needs host:port";
    } else {
        rq->port = 80;
    }
    return NULL;
}

const char *proxy_parse_request(const char *head, struct proxy_req *rq)
{
    const char *sp1, *sp2, *eol = strstr(head, "\r\n");
    size_t mlen;

    memset(rq, 0, sizeof(*rq));
    if (!eol)
        return "a malformed request";
    sp1 = memchr(head, ' ', (size_t)(eol - head));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || memchr(sp2 + 1, ' ', (size_t)(eol - sp2 - 1)))
        return "a malformed request line";
    mlen = (size_t)(sp1 - head);
    if (mlen == 0 || mlen >= sizeof(rq->method))
        return "a malformed method";
    for (size_t i = 0; i < mlen; i++)
        if (head[i] < 'A' || head[i] > 'Z')
            return "a malformed method";
    memcpy(rq->method, head, mlen);
    if ((size_t)(eol - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return "not HTTP/1.0 or HTTP/1.1";
    rq->http10 = sp2[8] == '0';
    rq->headers = eol + 2;
    if (streq(rq->method, "CONNECT")) {
        rq->connect = true;
        return parse_authority(sp1 + 1, (size_t)(sp2 - sp1 - 1), true, rq);
    }
    {
        const char *t = sp1 + 1, *auth, *slash;
        size_t tl = (size_t)(sp2 - t);
        if (tl >= 8 && !strncasecmp(t, "https://", 8))
            return "https:// through a plain proxy request: use CONNECT";
        if (tl < 7 || strncasecmp(t, "http://", 7))
            return "not a proxy request (the target must be an absolute http:// URL)";
        auth = t + 7;
        slash = memchr(auth, '/', (size_t)(sp2 - auth));
        if (!slash)
            slash = memchr(auth, '?', (size_t)(sp2 - auth));
        if (!slash)
            slash = sp2;
        rq->path = slash;
        rq->path_len = (size_t)(sp2 - slash);
        return parse_authority(auth, (size_t)(slash - auth), false, rq);
    }
}
