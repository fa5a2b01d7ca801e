/* SPDX-License-Identifier: MIT */
/* request.c: requests inside an intercepted connection, parsed strictly (request.h). */
#include "net/request.h"

#include <string.h>
#include <strings.h>

#include "net/response.h"
#include "util/util.h"

/* A chunk-size or trailer line, and all trailers together, at the most. */
#define CHUNK_LINE_MAX 4096
#define TRAILERS_MAX   (64 * 1024)
#define CHUNK_SIZE_MAX (UINT64_C(1) << 40)

static bool iequal(const char *p, size_t len, const char *s)
{
    return len == strlen(s) && !strncasecmp(p, s, len);
}

/* Whether a comma-separated header value lists `token`. */
static bool lists(const char *v, size_t len, const char *token)
{
    size_t i = 0;

    while (i < len) {
        size_t s, e;
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < len && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && iequal(v + s, e - s, token))
            return true;
    }
    return false;
}

static const char *request_line(const char *h, size_t len, struct net_req *rq, const char **next)
{
    const char *eol = memmem(h, len, "\r\n", 2), *sp1, *sp2;
    size_t mlen;

    if (!eol)
        return "a malformed request";
    sp1 = memchr(h, ' ', (size_t)(eol - h));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || memchr(sp2 + 1, ' ', (size_t)(eol - sp2 - 1)))
        return "a malformed request line";
    mlen = (size_t)(sp1 - h);
    if (mlen == 0 || mlen >= sizeof(rq->method))
        return "a malformed method";
    for (size_t i = 0; i < mlen; i++)
        if (!net_http_tchar(h[i]))
            return "a malformed method";
    memcpy(rq->method, h, mlen);
    rq->method[mlen] = '\0';
    rq->target = sp1 + 1;
    rq->target_len = (size_t)(sp2 - sp1 - 1);
    if (rq->target_len == 0)
        return "a malformed request target";
    for (size_t i = 0; i < rq->target_len; i++)
        if ((unsigned char)rq->target[i] <= 0x20 || rq->target[i] == 0x7f)
            return "a malformed request target";
    if ((size_t)(eol - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return "not HTTP/1.0 or HTTP/1.1";
    rq->http10 = sp2[8] == '0';
    *next = eol + 2;
    return NULL;
}

const char *net_req_parse(const char *head, size_t len, struct net_req *rq)
{
    const char *p, *end = head + len, *why;
    bool keep_alive = false, conn_close = false, conn_upgrade = false, has_upgrade = false;

    memset(rq, 0, sizeof(*rq));
    if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4))
        return "a malformed request";
    if ((why = request_line(head, len, rq, &p)))
        return why;
    end -= 2; /* the empty line */
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        const char *colon, *v, *ve;
        size_t nl;

        if (!eol)
            return "a malformed header line";
        if (p[0] == ' ' || p[0] == '\t')
            return "a folded header line";
        colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p)
            return "a malformed header line";
        nl = (size_t)(colon - p);
        for (const char *q = p; q < colon; q++)
            if (!net_http_tchar(*q))
                return "a malformed header name";
        v = colon + 1;
        ve = eol;
        if (!net_http_field_ok(v, (size_t)(ve - v)))
            return "a control character in a header";
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (iequal(p, nl, "host")) {
            if (rq->host)
                return "more than one Host header";
            rq->host = v;
            rq->host_len = (size_t)(ve - v);
        } else if (iequal(p, nl, "content-length")) {
            uint64_t n = 0;
            if (v == ve)
                return "a malformed Content-Length";
            for (const char *q = v; q < ve; q++)
                if (*q < '0' || *q > '9' || ckd_mul(&n, n, 10) ||
                    ckd_add(&n, n, (uint64_t)(*q - '0')))
                    return "a malformed Content-Length";
            if (rq->have_length && rq->length != n)
                return "conflicting Content-Length headers";
            rq->have_length = true;
            rq->length = n;
        } else if (iequal(p, nl, "transfer-encoding")) {
            if (rq->chunked || !iequal(v, (size_t)(ve - v), "chunked"))
                return "a transfer coding other than chunked";
            rq->chunked = true;
        } else if (iequal(p, nl, "connection")) {
            conn_close |= lists(v, (size_t)(ve - v), "close");
            keep_alive |= lists(v, (size_t)(ve - v), "keep-alive");
            conn_upgrade |= lists(v, (size_t)(ve - v), "upgrade");
        } else if (iequal(p, nl, "upgrade")) {
            has_upgrade = true;
        }
        p = eol + 2;
    }
    if (rq->chunked && rq->have_length)
        return "both Content-Length and Transfer-Encoding";
    if (rq->chunked && rq->http10)
        return "a chunked body in an HTTP/1.0 request";
    rq->close = conn_close || (rq->http10 && !keep_alive);
    rq->upgrade = conn_upgrade && has_upgrade;
    return NULL;
}

/* ---- chunked bodies ---------------------------------------------------------- */

enum {
    CK_SIZE,     /* hex digits of a chunk size */
    CK_EXT,      /* an extension, up to the line's end */
    CK_SIZE_LF,  /* the LF of the size line */
    CK_DATA,     /* `left` bytes of data */
    CK_DATA_CR,  /* the CRLF after the data */
    CK_DATA_LF,  /* */
    CK_TRAILER,  /* a trailer line, or the empty line that ends the body */
    CK_TRAIL_LF, /* the LF of a trailer line (line: its length) */
    CK_DONE,
    CK_BAD,
};

void net_chunks_init(struct net_chunks *c)
{
    memset(c, 0, sizeof(*c));
    c->state = CK_SIZE;
}

int net_chunks_scan(struct net_chunks *c, const char *p, size_t n, size_t *used)
{
    size_t i = 0;

    while (i < n && c->state != CK_DONE && c->state != CK_BAD) {
        char ch = p[i];
        int d;

        switch (c->state) {
        case CK_SIZE:
            c->line++;
            d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
            if (d >= 0) {
                /* left <= CHUNK_SIZE_MAX before the shift: no overflow. */
                c->left = c->left * 16 + (uint64_t)d;
                c->digits = true;
                if (c->left > CHUNK_SIZE_MAX)
                    c->state = CK_BAD;
            } else if (!c->digits) {
                c->state = CK_BAD;
            } else if (ch == '\r') {
                c->state = CK_SIZE_LF;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->state = CK_EXT;
            } else {
                c->state = CK_BAD;
            }
            break;
        case CK_EXT:
            c->line++;
            if (ch == '\r')
                c->state = CK_SIZE_LF;
            else if (((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f)
                c->state = CK_BAD;
            break;
        case CK_SIZE_LF:
            c->digits = false;
            c->line = 0;
            c->state = ch != '\n' ? CK_BAD : c->left ? CK_DATA : CK_TRAILER;
            break;
        case CK_DATA: {
            size_t take = n - i;
            if (take > c->left)
                take = (size_t)c->left;
            c->left -= take;
            i += take;
            if (!c->left)
                c->state = CK_DATA_CR;
            continue;
        }
        case CK_DATA_CR:
            c->state = ch == '\r' ? CK_DATA_LF : CK_BAD;
            break;
        case CK_DATA_LF:
            c->state = ch == '\n' ? CK_SIZE : CK_BAD;
            break;
        case CK_TRAILER:
            if (ch == '\r')
                c->state = CK_TRAIL_LF;
            else if (((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f)
                c->state = CK_BAD;
            else
                c->line++;
            break;
        case CK_TRAIL_LF:
            if (ch != '\n')
                c->state = CK_BAD;
            else if (c->line == 0)
                c->state = CK_DONE;
            else
                c->state = CK_TRAILER;
            c->line = 0;
            break;
        default:
            break;
        }
        /* Lines are bounded: a guest cannot make the broker wait forever
         * on an endless size line or endless trailers. */
        if ((c->state == CK_EXT || c->state == CK_TRAILER) && ++c->trailers > TRAILERS_MAX)
            c->state = CK_BAD;
        if (c->line > CHUNK_LINE_MAX)
            c->state = CK_BAD;
        i++;
    }
    *used = i;
    if (c->state == CK_BAD) {
        *used = 0;
        return -1;
    }
    return c->state == CK_DONE;
}
