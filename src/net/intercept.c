/* SPDX-License-Identifier: MIT */
/* intercept.c: an intercepted CONNECT, request by request (intercept.h). */
#include "net/intercept.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "net/broker.h"
#include "net/policy.h"
#include "net/request.h"
#include "net/response.h"
#include "net/tls.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/util.h"

#define HEAD_MAX        (16 * 1024)
#define HEAD_TIMEOUT_MS 30000
#define HANDSHAKE_MS    30000
#define IDLE_MS         (10 * 60 * 1000)
/* One TLS record's plaintext at the most. */
#define IO_BUF (16 * 1024)
/* What of a request's path is recorded. */
#define PATH_RECORD_MAX 1024

enum {
    ST_HEAD, /* reading a request head */
    ST_BODY, /* passing its body on */
    ST_WAIT, /* the request is sent; its response is on its way */
    ST_RAW,  /* switched protocols (101): bytes both ways, masked back */
    ST_END,
};

struct sess {
    struct net_icept *ic;
    struct net_tls_end g, u; /* the guest's end, the server's */
    char *gbuf;              /* the guest's bytes not yet handled */
    size_t glen;
    char *ubuf;
    int st;
    bool chunked; /* the request body's framing */
    uint64_t left;
    struct net_chunks ck;
    bool close_after; /* the request asked for the end of the connection */
    int64_t head_t0;  /* when the first byte of a head came, or 0 */
    bool resp_active;
    struct net_resp resp;
    struct strv masks; /* what resp masks (it borrows them) */
    bool cur_open;     /* a request under way, recorded when it ends */
    struct sbvm_net_attempt cur;
    int64_t cur_t0;
    struct strbuf out;
    bool guest_clean, server_clean; /* who closed with close_notify */
    char *why;
    size_t why_size;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void set_why(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_why(struct sess *s, const char *fmt, ...)
{
    va_list ap;

    if (s->why[0])
        return;
    va_start(ap, fmt);
    vsnprintf(s->why, s->why_size, fmt, ap);
    va_end(ap);
}

/* The broker's own answer to a request, inside the TLS connection; the
 * connection ends after it. reason: the broker's words and normalised
 * names only (it goes into a header). */
static void answer(struct sess *s, int status, const char *text, const char *reason)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb,
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                "X-Sandboxvm-Refused: %s\r\nContent-Length: %zu\r\n\r\nsandboxvm: %s\n",
                status, text, reason, strlen(reason) + 12, reason);
    if (!strbuf_failed(&sb))
        (void)net_tls_write(&s->g, sb.buf, sb.len, s->ic->stop_fd, IDLE_MS);
    strbuf_release(&sb);
}

/* The request under way is over: recorded, with why it failed (or NULL). */
static void cur_finish(struct sess *s, const char *reason)
{
    if (!s->cur_open)
        return;
    s->cur.duration_ns = mono_ns() - s->cur_t0;
    if (reason && !s->cur.reason)
        s->cur.reason = strdup(reason);
    s->ic->bytes_up += s->cur.bytes_up;
    s->ic->bytes_down += s->cur.bytes_down;
    s->ic->secrets += s->cur.secrets;
    broker_record(s->ic->b, &s->cur);
    memset(&s->cur, 0, sizeof(s->cur));
    s->cur_open = false;
}

static void resp_end(struct sess *s)
{
    if (s->resp_active)
        net_resp_release(&s->resp);
    s->resp_active = false;
    for (size_t i = 0; i < s->masks.n; i++)
        explicit_bzero(s->masks.v[i], strlen(s->masks.v[i]));
    strv_release(&s->masks);
}

/* The Host header as host and port (443 when it names none). */
static bool host_header(const char *v, size_t len, char *host, size_t size, int *port)
{
    const char *colon = NULL, *hend = v + len;

    if (len && v[0] == '[') {
        const char *close = memchr(v, ']', len);
        if (!close)
            return false;
        hend = close + 1;
        if (hend < v + len && *hend != ':')
            return false;
        colon = hend < v + len ? hend : NULL;
    } else if ((colon = memchr(v, ':', len))) {
        hend = colon;
    }
    *port = 443;
    if (colon) {
        long p = 0;
        if (colon + 1 >= v + len)
            return false;
        for (const char *q = colon + 1; q < v + len; q++) {
            if (*q < '0' || *q > '9' || p > 65535)
                return false;
            p = p * 10 + (*q - '0');
        }
        if (p < 1 || p > 65535)
            return false;
        *port = (int)p;
    }
    return net_host_normalise(v, (size_t)(hend - v), host, size);
}

/* The head as it goes to the server: the guest's, less proxy headers and,
 * when the sandbox has secrets, with identity asked for in place of its
 * Accept-Encoding and TE (masking cannot see through compression). */
static char *rewrite(const char *head, size_t len, bool identity, size_t *out_len)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p = head, *end = head + len - 2, *eol = memmem(head, len, "\r\n", 2);

    strbuf_add(&sb, p, (size_t)(eol + 2 - p));
    if (identity)
        strbuf_addstr(&sb, "Accept-Encoding: identity\r\n");
    for (p = eol + 2; p < end; p = eol + 2) {
        eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        if (!strncasecmp(p, "proxy-connection:", 17) ||
            !strncasecmp(p, "proxy-authorization:", 20) ||
            (identity && (!strncasecmp(p, "accept-encoding:", 16) || !strncasecmp(p, "te:", 3))))
            continue;
        strbuf_add(&sb, p, (size_t)(eol + 2 - p));
    }
    strbuf_add(&sb, "\r\n", 2);
    if (strbuf_failed(&sb)) {
        strbuf_release(&sb);
        return NULL;
    }
    *out_len = sb.len;
    return strbuf_detach(&sb, NULL);
}

static void consume(struct sess *s, size_t n)
{
    memmove(s->gbuf, s->gbuf + n, s->glen - n);
    s->glen -= n;
    explicit_bzero(s->gbuf + s->glen, n);
}

/* One request head (head_len bytes at gbuf): checked, then refused (-1)
 * or sent on with its secrets (0). */
static int handle_request(struct sess *s, size_t head_len)
{
    const struct net_icept *ic = s->ic;
    const struct net_policy *pol = ic->pol;
    struct sbvm_net_attempt *c = &s->cur;
    char reason[320], hn[260];
    struct net_req rq;
    const char *why;
    char *out = NULL;
    size_t out_len = 0;
    int status = 0, hp = 0;
    bool masking = pol->nsecrets > 0;

    memset(c, 0, sizeof(*c));
    c->intercepted = 1;
    c->host = strdup(ic->host);
    c->port = ic->port;
    c->address = strdup(ic->address);
    s->cur_open = true;
    s->cur_t0 = mono_ns();
    why = net_req_parse(s->gbuf, head_len, &rq);
    c->method = strdup(!why ? rq.method : "?");
    if (why) {
        status = 400;
    } else {
        const char *q = memchr(rq.target, '?', rq.target_len);
        size_t pl = q ? (size_t)(q - rq.target) : rq.target_len;
        c->path = strndup(rq.target, pl < PATH_RECORD_MAX ? pl : PATH_RECORD_MAX);
        if (rq.target[0] != '/') {
            why = "not a path (origin form) inside the tunnel";
            status = 400;
        } else if (!rq.host) {
            why = "no Host header";
            status = 400;
        } else if (!host_header(rq.host, rq.host_len, hn, sizeof(hn), &hp)) {
            why = "a malformed Host header";
            status = 400;
        } else if (!streq(hn, ic->host) || hp != ic->port) {
            /* A secret goes only where the tunnel, its TLS name and the
             * request agree on the host. */
            snprintf(reason, sizeof(reason), "the Host header names %s:%d, the tunnel is for %s:%d",
                     hn, hp, ic->host, ic->port);
            why = reason;
            status = 421;
        } else if ((why = net_policy_path(pol, ic->host, ic->port, rq.target, rq.target_len, reason,
                                          sizeof(reason)))) {
            status = 403;
        }
    }
    if (why) {
        c->status = status;
        answer(s, status,
               status == 403   ? "Forbidden"
               : status == 421 ? "Misdirected Request"
                               : "Bad Request",
               why);
        cur_finish(s, why);
        s->st = ST_END;
        return -1;
    }
    out = rewrite(s->gbuf, head_len, masking, &out_len);
    if (!out) {
        cur_finish(s, "out of memory");
        return -1;
    }
    c->secrets = net_inject_secrets(pol, ic->host, &out, &out_len, &s->masks);
    if (masking && broker_mask_values(ic->b, pol, &s->masks) < 0) {
        explicit_bzero(out, out_len);
        free(out);
        cur_finish(s, "out of memory");
        return -1;
    }
    if (net_resp_init(&s->resp, (const char *const *)s->masks.v, s->masks.n,
                      streq(rq.method, "HEAD")) < 0) {
        net_resp_release(&s->resp);
        explicit_bzero(out, out_len);
        free(out);
        cur_finish(s, "out of memory");
        return -1;
    }
    s->resp_active = true;
    c->allowed = 1;
    if (!net_tls_write(&s->u, out, out_len, ic->stop_fd, IDLE_MS)) {
        explicit_bzero(out, out_len);
        free(out);
        set_why(s, "the server closed the connection");
        cur_finish(s, s->why);
        return -1;
    }
    c->bytes_up += out_len;
    explicit_bzero(out, out_len);
    free(out);
    consume(s, head_len);
    s->head_t0 = 0;
    s->close_after = rq.close;
    s->chunked = rq.chunked;
    if (rq.chunked)
        net_chunks_init(&s->ck);
    s->left = rq.have_length ? rq.length : 0;
    s->st = rq.chunked || s->left ? ST_BODY : ST_WAIT;
    return 0;
}

/* The guest's side: what it sent is handled, and more read when the state
 * wants it. 1 progress, 0 nothing to do until it sends more, -1 the end. */
static int pump_guest(struct sess *s)
{
    int progress = 0;
    ssize_t r;

    for (;;) {
        if (s->st == ST_HEAD) {
            const char *e = memmem(s->gbuf, s->glen, "\r\n\r\n", 4);
            if (e) {
                if (handle_request(s, (size_t)(e - s->gbuf) + 4) < 0)
                    return -1;
                progress = 1;
                continue;
            }
            if (s->glen >= HEAD_MAX) {
                s->cur_open = true;
                s->cur_t0 = mono_ns();
                s->cur.intercepted = 1;
                s->cur.method = strdup("?");
                s->cur.host = strdup(s->ic->host);
                s->cur.port = s->ic->port;
                s->cur.status = 431;
                answer(s, 431, "Request Header Fields Too Large",
                       "the request head is larger than 16 KiB");
                cur_finish(s, "the request head is larger than 16 KiB");
                return -1;
            }
        } else if ((s->st == ST_BODY || s->st == ST_RAW) && s->glen) {
            size_t n = s->glen;
            bool done = false;
            if (s->st == ST_BODY && s->chunked) {
                int c = net_chunks_scan(&s->ck, s->gbuf, s->glen, &n);
                if (c < 0) {
                    set_why(s, "a malformed chunked request body");
                    cur_finish(s, s->why);
                    return -1;
                }
                done = c == 1;
            } else if (s->st == ST_BODY) {
                if (n > s->left)
                    n = (size_t)s->left;
                s->left -= n;
                done = s->left == 0;
            }
            if (n && !net_tls_write(&s->u, s->gbuf, n, s->ic->stop_fd, IDLE_MS)) {
                set_why(s, "the server closed the connection");
                cur_finish(s, s->why);
                return -1;
            }
            if (s->cur_open)
                s->cur.bytes_up += n;
            consume(s, n);
            if (done)
                s->st = ST_WAIT;
            progress = 1;
            continue;
        }
        break;
    }
    if ((s->st != ST_HEAD && s->st != ST_BODY && s->st != ST_RAW) || s->glen >= HEAD_MAX)
        return progress;
    r = net_tls_read(&s->g, s->gbuf + s->glen, HEAD_MAX - s->glen);
    if (r > 0) {
        if (s->st == ST_HEAD && s->glen == 0)
            s->head_t0 = mono_ns();
        s->glen += (size_t)r;
        return 1;
    }
    if (r == -EAGAIN)
        return progress;
    s->guest_clean = r == 0;
    if (s->st == ST_HEAD && s->glen == 0)
        return -1; /* between requests: the usual end */
    if (s->st != ST_RAW) {
        set_why(s, "the guest closed the connection in the middle of a request");
        cur_finish(s, s->why);
    }
    return -1;
}

/* The server's side: what it sent, decoded, masked and on to the guest. */
static int pump_server(struct sess *s)
{
    enum net_resp_result res;
    size_t used = 0;
    ssize_t r = net_tls_read(&s->u, s->ubuf, IO_BUF);

    if (r == -EAGAIN)
        return 0;
    if (r > 0) {
        if (!s->resp_active) {
            set_why(s, "the server sent bytes no request asked for");
            return -1;
        }
        s->cur.bytes_down += (uint64_t)r;
        res = net_resp_feed_some(&s->resp, s->ubuf, (size_t)r, &s->out, &used);
        explicit_bzero(s->ubuf, (size_t)r);
        if (s->out.len && !net_tls_write(&s->g, s->out.buf, s->out.len, s->ic->stop_fd, IDLE_MS)) {
            set_why(s, "the guest closed the connection");
            cur_finish(s, s->why);
            return -1;
        }
        strbuf_reset(&s->out);
        if (res == NET_RESP_FAILED) {
            if (!s->resp.emitted) {
                answer(s, 502, "Bad Gateway", s->resp.why);
                s->cur.status = 502;
            }
            set_why(s, "%s", s->resp.why);
            cur_finish(s, s->why);
            return -1;
        }
        if (res == NET_RESP_MORE && s->resp.status == 101 && s->st != ST_RAW) {
            /* Switched protocols (a WebSocket): the rest is a stream. */
            s->st = ST_RAW;
            return 1;
        }
        if (res == NET_RESP_DONE) {
            cur_finish(s, NULL);
            resp_end(s);
            if (used < (size_t)r) {
                set_why(s, "the server sent more than its response");
                return -1;
            }
            /* A response before the request's body ended leaves the rest
             * of that body unread: the connection cannot go on. */
            s->st = s->st == ST_WAIT && !s->close_after ? ST_HEAD : ST_END;
            return s->st == ST_END ? -1 : 1;
        }
        return 1;
    }
    /* The server closed: what the response still owes, and the end. */
    res = NET_RESP_DONE;
    if (s->resp_active) {
        res = net_resp_end(&s->resp, &s->out);
        if (s->out.len)
            (void)net_tls_write(&s->g, s->out.buf, s->out.len, s->ic->stop_fd, IDLE_MS);
        strbuf_reset(&s->out);
        if (res == NET_RESP_DONE) {
            cur_finish(s, NULL);
        } else {
            if (!s->resp.emitted) {
                answer(s, 502, "Bad Gateway", s->resp.why);
                s->cur.status = 502;
            }
            set_why(s, "%s", s->resp.why);
            cur_finish(s, s->why);
        }
        resp_end(s);
    }
    s->server_clean = r == 0 && res == NET_RESP_DONE;
    return -1;
}

static void loop(struct sess *s)
{
    int stop_fd = s->ic->stop_fd;

    while (s->st != ST_END) {
        bool want_g = s->st == ST_HEAD || s->st == ST_BODY || s->st == ST_RAW;
        bool want_u = s->resp_active;
        struct pollfd p[3];
        int pg = 0, pu = 0, n = 0, ms = IDLE_MS, r;

        if (want_g && (pg = pump_guest(s)) < 0)
            break;
        if (s->st == ST_END)
            break;
        want_g = (s->st == ST_HEAD || s->st == ST_BODY || s->st == ST_RAW) && s->glen < HEAD_MAX;
        want_u = s->resp_active;
        if (want_u && (pu = pump_server(s)) < 0)
            break;
        if (pg || pu)
            continue;
        want_u = s->resp_active;
        if (want_g)
            p[n++] = (struct pollfd){ s->g.fd, s->g.want ? s->g.want : POLLIN, 0 };
        if (want_u)
            p[n++] = (struct pollfd){ s->u.fd, s->u.want ? s->u.want : POLLIN, 0 };
        if (stop_fd >= 0)
            p[n++] = (struct pollfd){ stop_fd, POLLIN, 0 };
        if (n == 0)
            break; /* nothing left to wait for */
        if (s->st == ST_HEAD && s->head_t0) {
            int64_t left = HEAD_TIMEOUT_MS - (mono_ns() - s->head_t0) / 1000000;
            if (left <= 0) {
                set_why(s, "no complete request in time");
                break;
            }
            ms = (int)left;
        }
        do
            r = poll(p, (nfds_t)n, ms);
        while (r < 0 && errno == EINTR);
        if (r < 0 || (stop_fd >= 0 && (p[n - 1].revents & POLLIN)))
            break;
        if (r == 0 && !(s->st == ST_HEAD && s->head_t0)) {
            set_why(s, "the connection was idle too long");
            break;
        }
    }
}

/* A plain answer to the CONNECT itself, before any TLS. */
static void refuse_connect(int fd, const char *reason)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb,
                "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                "X-Sandboxvm-Refused: %s\r\nContent-Length: %zu\r\n\r\nsandboxvm: %s\n",
                reason, strlen(reason) + 12, reason);
    if (!strbuf_failed(&sb))
        (void)!send(fd, sb.buf, sb.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    strbuf_release(&sb);
}

const char *net_intercept(struct net_icept *ic, char *why, size_t why_size, int *status)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    struct sess s;

    memset(&s, 0, sizeof(s));
    s.ic = ic;
    s.why = why;
    s.why_size = why_size;
    why[0] = '\0';
    strbuf_init(&s.out);
    /* The server first: a server that cannot be verified is refused before
     * the guest is told the tunnel is there. */
    if (net_tls_connect(ic->tls, &s.u, ic->up, ic->host, ic->stop_fd, HANDSHAKE_MS, why, why_size) <
        0) {
        refuse_connect(ic->guest, why);
        *status = 502;
        return why;
    }
    if (send(ic->guest, ok, sizeof(ok) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) !=
        (ssize_t)sizeof(ok) - 1) {
        set_why(&s, "the guest closed the connection");
        net_tls_close(&s.u, true);
        return why;
    }
    if (net_tls_accept(ic->tls, ic->pol->ca, &s.g, ic->guest, ic->pre, ic->npre, ic->host,
                       ic->stop_fd, HANDSHAKE_MS, why, why_size) < 0) {
        net_tls_close(&s.u, true);
        return why;
    }
    s.gbuf = malloc(HEAD_MAX + 1);
    s.ubuf = malloc(IO_BUF);
    if (s.gbuf && s.ubuf)
        loop(&s);
    else
        set_why(&s, "out of memory");
    cur_finish(&s, why[0] ? why : "the connection ended before the response");
    resp_end(&s);
    /* A clean end on one side is passed on as one; an abrupt one is not
     * dressed up as clean (a truncated body must look truncated). */
    net_tls_close(&s.g, s.server_clean || (!why[0] && !s.resp_active));
    net_tls_close(&s.u, s.guest_clean || !why[0]);
    if (s.gbuf)
        explicit_bzero(s.gbuf, HEAD_MAX + 1);
    free(s.gbuf);
    if (s.ubuf)
        explicit_bzero(s.ubuf, IO_BUF);
    free(s.ubuf);
    if (s.out.alloc)
        explicit_bzero(s.out.buf, s.out.len);
    strbuf_release(&s.out);
    return why[0] ? why : NULL;
}
