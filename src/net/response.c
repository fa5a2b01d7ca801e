/* SPDX-License-Identifier: MIT */
/* response.c: a response decoded, masked and framed again for the guest (response.h). */
#include "net/response.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

/* ---- the masker ----------------------------------------------------------- */

/*
 * What to hold back is the longest tail of what came that is a proper
 * prefix of some value. Each value's prefix function (KMP: pi[i] is the
 * length of the longest proper prefix of value[0..i] that is also its
 * suffix) finds it in one pass over the last (length - 1) bytes: a server
 * made to echo "aaaa..." against a value of a's costs linear time.
 */
int net_masker_init(struct net_masker *m, const char *const *values, size_t n)
{
    size_t longest = 0, total = 0, off = 0;

    memset(m, 0, sizeof(*m));
    m->values = values;
    m->nvalues = n;
    for (size_t i = 0; i < n; i++) {
        size_t vl = strlen(values[i]);
        if (vl > UINT32_MAX || ckd_add(&total, total, vl))
            return -EOVERFLOW;
        if (vl > longest)
            longest = vl;
    }
    m->keep = longest ? longest - 1 : 0;
    m->pend = malloc(m->keep + 1);
    m->pi = calloc(total ? total : 1, sizeof(*m->pi));
    if (!m->pend || !m->pi) {
        net_masker_release(m);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i];
        size_t vl = strlen(v);
        uint32_t *pi = m->pi + off, k = 0;

        for (size_t q = 1; q < vl; q++) {
            while (k > 0 && v[k] != v[q])
                k = pi[k - 1];
            if (v[k] == v[q])
                k++;
            pi[q] = k;
        }
        off += vl;
    }
    return 0;
}

void net_mask_all(const char *const *values, size_t n, char *buf, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        size_t vl = strlen(values[i]);
        char *p = buf, *hit;

        if (!vl)
            continue;
        while ((size_t)(p - buf) < len &&
               (hit = memmem(p, len - (size_t)(p - buf), values[i], vl))) {
            memset(hit, '*', vl);
            p = hit + vl;
        }
    }
}

/* The longest tail of buf[0..len) that is a proper prefix of v. */
static size_t open_prefix(const char *v, size_t vl, const uint32_t *pi, const char *buf, size_t len)
{
    size_t q = 0;

    for (size_t i = len > vl - 1 ? len - (vl - 1) : 0; i < len; i++) {
        while (q > 0 && v[q] != buf[i])
            q = pi[q - 1];
        if (v[q] == buf[i])
            q++;
        if (q == vl) /* whole (a value that masks to itself, all '*') */
            q = pi[q - 1];
    }
    return q;
}

void net_masker_push(struct net_masker *m, const char *p, size_t n, struct strbuf *out)
{
    size_t at = out->len, len, hold = 0, off = 0;
    char *buf;

    strbuf_add(out, m->pend, m->npend);
    strbuf_add(out, p, n);
    if (strbuf_failed(out))
        return;
    buf = out->buf + at;
    len = out->len - at;
    net_mask_all(m->values, m->nvalues, buf, len);
    for (size_t i = 0; i < m->nvalues; i++) {
        size_t vl = strlen(m->values[i]), h;
        if (vl >= 2 && (h = open_prefix(m->values[i], vl, m->pi + off, buf, len)) > hold)
            hold = h;
        off += vl;
    }
    memcpy(m->pend, buf + len - hold, hold);
    m->npend = hold;
    explicit_bzero(buf + len - hold, hold);
    strbuf_truncate(out, out->len - hold);
}

void net_masker_flush(struct net_masker *m, struct strbuf *out)
{
    /* Shorter than any value: nothing in it to mask. */
    strbuf_add(out, m->pend, m->npend);
    if (m->pend)
        explicit_bzero(m->pend, m->npend);
    m->npend = 0;
}

void net_masker_release(struct net_masker *m)
{
    if (m->pend)
        explicit_bzero(m->pend, m->keep + 1);
    free(m->pend);
    free(m->pi);
    memset(m, 0, sizeof(*m));
}

/* ---- the response ----------------------------------------------------------- */

enum {
    RS_HEAD,       /* a response head is being read */
    RS_BODY,       /* `left` bytes of a Content-Length body to come */
    RS_EOF,        /* the body runs to the end of the connection */
    RS_CHUNK_SIZE, /* a chunk-size line */
    RS_CHUNK_DATA, /* `left` bytes of a chunk */
    RS_CHUNK_END,  /* the CRLF after a chunk's data */
    RS_TRAILERS,   /* the trailer section, up to its empty line */
    RS_DONE,
    RS_FAILED,
};

int net_resp_init(struct net_resp *r, const char *const *values, size_t n, bool head_request)
{
    int e;

    memset(r, 0, sizeof(*r));
    strbuf_init(&r->line);
    strbuf_init(&r->tmp);
    r->head_request = head_request;
    r->state = RS_HEAD;
    e = net_masker_init(&r->m, values, n);
    return e;
}

static void wipe(struct strbuf *sb)
{
    if (sb->alloc)
        explicit_bzero(sb->buf, sb->len);
    strbuf_reset(sb);
}

void net_resp_release(struct net_resp *r)
{
    wipe(&r->line);
    strbuf_release(&r->line);
    strbuf_release(&r->tmp);
    net_masker_release(&r->m);
}

static enum net_resp_result fail(struct net_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum net_resp_result fail(struct net_resp *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    r->state = RS_FAILED;
    return NET_RESP_FAILED;
}

/* A header value as it may be quoted in a reason (which goes into a
 * header of the guest's answer and into the report): a short token. */
static const char *quote(const char *v, size_t len, char *out, size_t size)
{
    size_t i;

    for (i = 0; i < len && i + 1 < size && i < 32; i++)
        out[i] = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
                         (v[i] >= '0' && v[i] <= '9') || strchr(",.-_ ", v[i])
                     ? v[i]
                     : '?';
    out[i] = '\0';
    return out;
}

bool net_http_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool net_http_field_ok(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return false;
    return true;
}

static bool iequal(const char *p, size_t len, const char *s)
{
    return len == strlen(s) && !strncasecmp(p, s, len);
}

struct framing {
    bool chunked, have_length, encoded;
    uint64_t length;
    char coding[40];
};

/* One "name: value" line of a head or of trailers; framing (may be NULL)
 * collects what frames the body. NULL or why it is refused. */
static const char *field_line(struct net_resp *r, const char *p, size_t ll, struct framing *f)
{
    const char *colon = memchr(p, ':', ll), *v, *ve;

    if (p[0] == ' ' || p[0] == '\t')
        return "a folded header line";
    if (!colon || colon == p)
        return "a malformed header line";
    for (const char *q = p; q < colon; q++)
        if (!net_http_tchar(*q))
            return "a malformed header name";
    v = colon + 1;
    ve = p + ll;
    if (!net_http_field_ok(v, (size_t)(ve - v)))
        return "a control character in a header";
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    if (!f)
        return NULL;
    if (iequal(p, (size_t)(colon - p), "content-length")) {
        uint64_t n = 0;
        if (v == ve)
            return "a malformed Content-Length";
        for (const char *q = v; q < ve; q++)
            if (*q < '0' || *q > '9' || ckd_mul(&n, n, 10) || ckd_add(&n, n, (uint64_t)(*q - '0')))
                return "a malformed Content-Length";
        if (f->have_length && f->length != n)
            return "conflicting Content-Length headers";
        f->have_length = true;
        f->length = n;
    } else if (iequal(p, (size_t)(colon - p), "transfer-encoding")) {
        if (f->chunked || !iequal(v, (size_t)(ve - v), "chunked")) {
            snprintf(r->why, sizeof(r->why),
                     "the response's transfer coding (Transfer-Encoding: %s) is one secret "
                     "masking cannot see through",
                     quote(v, (size_t)(ve - v), f->coding, sizeof(f->coding)));
            return r->why;
        }
        f->chunked = true;
    } else if (iequal(p, (size_t)(colon - p), "content-encoding")) {
        if (v != ve && !iequal(v, (size_t)(ve - v), "identity") && !f->encoded) {
            f->encoded = true;
            quote(v, (size_t)(ve - v), f->coding, sizeof(f->coding));
        }
    }
    return NULL;
}

/* The head in r->line (ending with its empty line): checked, its framing
 * read, masked and appended to out; the next state. */
static enum net_resp_result take_head(struct net_resp *r, struct strbuf *out)
{
    const char *h = r->line.buf, *end = h + r->line.len - 2, *p, *eol, *why;
    struct framing f = { 0 };
    size_t sl;

    eol = memmem(h, r->line.len, "\r\n", 2);
    sl = (size_t)(eol - h);
    if (sl < 12 || memcmp(h, "HTTP/1.", 7) || (h[7] != '0' && h[7] != '1') || h[8] != ' ' ||
        h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9' ||
        (sl > 12 && h[12] != ' ') || !net_http_field_ok(h, sl))
        return fail(r, "the server's answer is not an HTTP/1 response");
    r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    for (p = eol + 2; p < end; p = eol + 2) {
        eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        if ((why = field_line(r, p, (size_t)(eol - p), &f)))
            return fail(r, "the server's response: %s", why);
    }
    if (r->status >= 200 && r->status != 204 && r->status != 304 && !r->head_request) {
        /* Nothing to mask (an intercepted host in a sandbox without
         * secrets): a compressed body goes through as it is. */
        if (f.encoded && r->m.nvalues > 0)
            return fail(r,
                        "the response is encoded (Content-Encoding: %s), which secret masking "
                        "cannot see through",
                        f.coding);
        if (f.chunked && f.have_length)
            return fail(r, "the server's response: both Content-Length and Transfer-Encoding");
    }
    net_mask_all(r->m.values, r->m.nvalues, r->line.buf, r->line.len);
    strbuf_add(out, r->line.buf, r->line.len);
    wipe(&r->line);
    if (r->status < 200 && r->status != 101) {
        r->state = RS_HEAD; /* an interim response: the real one follows */
    } else if (r->status == 101) {
        r->state = RS_EOF; /* switched protocols: a stream to the end */
    } else if (r->head_request || r->status == 204 || r->status == 304) {
        r->state = RS_DONE;
        return NET_RESP_DONE;
    } else if (f.chunked) {
        r->state = RS_CHUNK_SIZE;
    } else if (f.have_length) {
        r->left = f.length;
        r->state = f.length ? RS_BODY : RS_DONE;
        if (!f.length)
            return NET_RESP_DONE;
    } else {
        r->state = RS_EOF;
    }
    return NET_RESP_MORE;
}

/* Reads into r->line up to and including `term`, at most max bytes: the
 * bytes of p used (all of them while the terminator has not come), and
 * whether it came. */
static size_t collect(struct net_resp *r, const char *p, size_t n, const char *term, size_t max,
                      bool *complete)
{
    size_t old = r->line.len, tl = strlen(term), take = n, start;
    const char *e;

    *complete = false;
    if (take > max - old)
        take = max - old;
    strbuf_add(&r->line, p, take);
    if (strbuf_failed(&r->line))
        return take;
    start = old >= tl - 1 ? old - (tl - 1) : 0;
    e = memmem(r->line.buf + start, r->line.len - start, term, tl);
    if (!e)
        return take;
    *complete = true;
    take = (size_t)(e - r->line.buf) + tl - old;
    strbuf_truncate(&r->line, old + take);
    return take;
}

/* What the masker let out of a chunk's bytes (in r->tmp), as a chunk. */
static void emit_chunk(struct net_resp *r, struct strbuf *out)
{
    if (!r->tmp.len)
        return;
    strbuf_addf(out, "%zx\r\n", r->tmp.len);
    strbuf_add(out, r->tmp.buf, r->tmp.len);
    strbuf_add(out, "\r\n", 2);
    strbuf_reset(&r->tmp);
}

static enum net_resp_result take_chunk_size(struct net_resp *r)
{
    const char *q = r->line.buf, *end = r->line.buf + r->line.len - 2;
    uint64_t size = 0;
    int digits = 0;

    for (; q < end; q++, digits++) {
        int d = *q >= '0' && *q <= '9'   ? *q - '0'
                : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
                : *q >= 'A' && *q <= 'F' ? *q - 'A' + 10
                                         : -1;
        if (d < 0)
            break;
        /* size <= NET_CHUNK_MAX before the shift: no overflow. */
        size = size * 16 + (uint64_t)d;
        if (size > NET_CHUNK_MAX)
            return fail(r, "the server's response: a chunk over %llu bytes",
                        (unsigned long long)NET_CHUNK_MAX);
    }
    if (!digits)
        return fail(r, "the server's response: a malformed chunk size");
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    if (q < end && (*q != ';' || !net_http_field_ok(q, (size_t)(end - q))))
        return fail(r, "the server's response: a malformed chunk size");
    wipe(&r->line);
    r->left = size;
    r->state = size ? RS_CHUNK_DATA : RS_TRAILERS;
    return NET_RESP_MORE;
}

static enum net_resp_result take_trailers(struct net_resp *r, struct strbuf *out)
{
    const char *p = r->line.buf, *end = r->line.buf + r->line.len - 2, *eol, *why;

    for (; p < end; p = eol + 2) {
        eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        if ((why = field_line(r, p, (size_t)(eol - p), NULL)))
            return fail(r, "the server's response: %s in the trailers", why);
    }
    net_masker_flush(&r->m, &r->tmp);
    emit_chunk(r, out);
    strbuf_add(out, "0\r\n", 3);
    net_mask_all(r->m.values, r->m.nvalues, r->line.buf, r->line.len);
    strbuf_add(out, r->line.buf, r->line.len);
    wipe(&r->line);
    r->state = RS_DONE;
    return NET_RESP_DONE;
}

enum net_resp_result net_resp_feed(struct net_resp *r, const char *p, size_t n, struct strbuf *out)
{
    size_t used;

    return net_resp_feed_some(r, p, n, out, &used);
}

enum net_resp_result net_resp_feed_some(struct net_resp *r, const char *p, size_t n,
                                        struct strbuf *out, size_t *consumed)
{
    size_t total = n;

    enum net_resp_result res = r->state == RS_DONE     ? NET_RESP_DONE
                               : r->state == RS_FAILED ? NET_RESP_FAILED
                                                       : NET_RESP_MORE;
    size_t before = out->len;

    while (n > 0 && res == NET_RESP_MORE) {
        size_t used = n;
        bool complete;

        switch (r->state) {
        case RS_HEAD:
            used = collect(r, p, n, "\r\n\r\n", NET_RESP_HEAD_MAX, &complete);
            if (complete)
                res = take_head(r, out);
            else if (r->line.len >= NET_RESP_HEAD_MAX)
                res = fail(r, "the server's response head is larger than %d KiB",
                           NET_RESP_HEAD_MAX / 1024);
            break;
        case RS_BODY:
            if (used > r->left)
                used = (size_t)r->left;
            net_masker_push(&r->m, p, used, out);
            if ((r->left -= used) == 0) {
                net_masker_flush(&r->m, out);
                r->state = RS_DONE;
                res = NET_RESP_DONE;
            }
            break;
        case RS_EOF:
            net_masker_push(&r->m, p, used, out);
            break;
        case RS_CHUNK_SIZE:
            used = collect(r, p, n, "\r\n", NET_CHUNK_LINE, &complete);
            if (complete)
                res = take_chunk_size(r);
            else if (r->line.len >= NET_CHUNK_LINE)
                res = fail(r, "the server's response: a chunk-size line over %d bytes",
                           NET_CHUNK_LINE);
            break;
        case RS_CHUNK_DATA:
            if (used > r->left)
                used = (size_t)r->left;
            net_masker_push(&r->m, p, used, &r->tmp);
            emit_chunk(r, out);
            if ((r->left -= used) == 0) {
                r->crlf = 0;
                r->state = RS_CHUNK_END;
            }
            break;
        case RS_CHUNK_END:
            used = 1;
            if (p[0] != "\r\n"[r->crlf])
                res = fail(r, "the server's response: a chunk's data is not followed by CRLF");
            else if (++r->crlf == 2)
                r->state = RS_CHUNK_SIZE;
            break;
        case RS_TRAILERS: {
            /* The empty line at once (no trailers), or fields up to it. */
            bool none = (r->line.len ? r->line.buf[0] : p[0]) == '\r';
            used = collect(r, p, n, none ? "\r\n" : "\r\n\r\n", NET_RESP_HEAD_MAX, &complete);
            if (complete && none && r->line.len != 2)
                res = fail(r, "the server's response: malformed trailers");
            else if (complete)
                res = take_trailers(r, out);
            else if (r->line.len >= NET_RESP_HEAD_MAX)
                res = fail(r, "the server's response: trailers over %d KiB",
                           NET_RESP_HEAD_MAX / 1024);
            break;
        }
        default:
            res = r->state == RS_DONE ? NET_RESP_DONE : NET_RESP_FAILED;
            used = n;
            break;
        }
        p += used;
        n -= used;
    }
    if (res != NET_RESP_FAILED &&
        (strbuf_failed(out) || strbuf_failed(&r->line) || strbuf_failed(&r->tmp)))
        res = fail(r, "out of memory");
    if (out->len > before)
        r->emitted = true;
    *consumed = total - n;
    return res;
}

enum net_resp_result net_resp_end(struct net_resp *r, struct strbuf *out)
{
    enum net_resp_result res;
    size_t before = out->len;

    switch (r->state) {
    case RS_DONE:
        return NET_RESP_DONE;
    case RS_FAILED:
        return NET_RESP_FAILED;
    case RS_EOF:
        net_masker_flush(&r->m, out);
        r->state = RS_DONE;
        res = NET_RESP_DONE;
        break;
    case RS_HEAD:
        res = fail(r, r->line.len ? "the server closed the connection in the middle of its "
                                    "response head"
                                  : "the server closed the connection without a response");
        break;
    case RS_BODY:
        net_masker_flush(&r->m, out);
        res = fail(r, "the server closed the connection %llu bytes before the end of the body",
                   (unsigned long long)r->left);
        break;
    default:
        /* Whatever the guest was owed, without the last chunk: its client
         * sees a chunked body cut short. */
        net_masker_flush(&r->m, &r->tmp);
        emit_chunk(r, out);
        res = fail(r, "the server closed the connection in the middle of its chunked body");
        break;
    }
    if (out->len > before)
        r->emitted = true;
    return res;
}
