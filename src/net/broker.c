/* SPDX-License-Identifier: MIT */
/* broker.c: the host-side HTTP proxy of --net allow (broker.h): connections,
 * their descriptor budget, the upstream side and the relay. The request line
 * is parsed in proxyreq.c, secrets are put in by secrets.c, responses masked
 * by response.c, intercepted TLS served by intercept.c. */
#include "net/broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/intercept.h"
#include "net/proxyreq.h"
#include "net/response.h"
#include "net/tls.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#define HEAD_MAX        (16 * 1024)
#define HEAD_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT 10000
#define IDLE_TIMEOUT_MS (10 * 60 * 1000)
#define CONN_MAX        64
/* Attempts kept in full; beyond this a guest that connects in a loop only
 * adds to a count, never to the host's memory. */
#define LOG_MAX   4096
#define RELAY_BUF 65536
/* Basic credentials made with a secret, remembered by a broker so that a
 * copy fetched on a later connection is masked too; more are masked only
 * on the connection that made them. */
#define CRED_MASKS_MAX 16

/*
 * File descriptors. A proxied connection holds, at the most, NET_FDS_PER_CONN
 * of the supervisor's (broker.h): the guest's connection, the upstream one,
 * and two pipes of two ends each for splice (guest to server, and server to
 * guest unless the response is masked). While the name is resolved it holds
 * only the guest's connection and, for a moment, the resolver's socket and
 * files; while addresses are tried, one socket at a time. Each broker also
 * holds its listening socket, its stop eventfd and, between accept() and
 * the decision to serve, the accepted connection: FDS_PER_BROKER.
 *
 * Every broker of the process draws from one budget: the soft
 * RLIMIT_NOFILE, less a reserve for the supervisor itself and the set-up of
 * sandboxes (a quarter of the limit, at least FD_RESERVE_MIN), less the
 * brokers' own. Each broker alive may hold an equal share of it (and never
 * more than CONN_MAX connections); a connection past its share is answered
 * 503 and recorded. A broker may hold more than its share only when shares
 * shrink because another broker started: when that other broker then asks
 * for a connection within its share and the budget is spent, the over-share
 * broker's newest connection is ended to make room. So a guest can use up
 * its own share, never another's.
 */
#define FDS_PER_BROKER 3
#define FD_RESERVE_MIN 128
#define BUDGET_WAIT_MS 2000

struct conn;

struct broker {
    const struct net_policy *pol;
    struct net_tls *tls; /* when some host is intercepted */
    int listen_fd;
    int stop_fd; /* eventfd: readable once stopping */
    pthread_t acceptor;
    bool acceptor_started;

    /* Under fdb.lock: the budget's view of this broker. */
    struct broker *next; /* the brokers alive */
    struct conn *conns;  /* its connections, newest first */
    unsigned nconns;     /* served now, each a thread */
    unsigned nrevoking;  /* of which ended to make room, not gone yet */
    bool stopping;

    pthread_mutex_t lock; /* the record, and cred_masks */
    struct sbvm_net_attempt *log;
    size_t nlog, alloc;
    uint64_t dropped;
    struct strv cred_masks; /* Basic credentials made here with a secret */
};

struct conn {
    struct broker *b;
    struct conn *prev, *next; /* b->conns (fdb.lock) */
    int fd;                   /* the guest's connection */
    int up;                   /* the upstream one once made, or -1 (fdb.lock) */
    bool revoked;             /* ended to give another broker its share (fdb.lock) */
};

/* The process-wide descriptor budget, shared by every broker alive. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t freed; /* a connection ended (CLOCK_MONOTONIC) */
    pthread_once_t once;
    struct broker *brokers;
    unsigned nbrokers;
    unsigned used;     /* connections of all brokers */
    unsigned revoking; /* of which ending to make room */
} fdb = { .lock = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT };

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- small I/O helpers --------------------------------------------------- */

/* Waits for fd to be ready (events), or stop_fd, at most ms: 1 ready, 0
 * timeout, -1 stop or error. */
static int wait_fd(int fd, short events, int stop_fd, int ms)
{
    struct pollfd p[2] = { { fd, events, 0 }, { stop_fd, POLLIN, 0 } };
    int n;

    do
        n = poll(p, stop_fd >= 0 ? 2 : 1, ms);
    while (n < 0 && errno == EINTR);
    if (n < 0 || (stop_fd >= 0 && (p[1].revents & POLLIN)))
        return -1;
    return n > 0;
}

static bool send_all(int fd, const char *p, size_t n, int stop_fd)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, stop_fd, IDLE_TIMEOUT_MS) <= 0)
                return false;
            continue;
        }
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void reply(int fd, int status, const char *text, const char *reason, int stop_fd)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb,
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                "X-Sandboxvm-Refused: %s\r\nContent-Length: %zu\r\n\r\nsandboxvm: %s\n",
                status, text, reason, strlen(reason) + 12, reason);
    if (!strbuf_failed(&sb))
        send_all(fd, sb.buf, sb.len, stop_fd);
    strbuf_release(&sb);
}

/* Reads until the end of the request head; the head (NUL-terminated) and
 * any bytes after it stay in buf. */
static int read_head(int fd, char *buf, size_t cap, size_t *len, size_t *head_len, int stop_fd)
{
    int64_t deadline = mono_ns() + (int64_t)HEAD_TIMEOUT_MS * 1000000;

    *len = 0;
    for (;;) {
        char *end;
        ssize_t n;
        int64_t left = (deadline - mono_ns()) / 1000000;

        if (left <= 0 || wait_fd(fd, POLLIN, stop_fd, (int)left) <= 0)
            return -ETIMEDOUT;
        n = recv(fd, buf + *len, cap - 1 - *len, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -ECONNRESET;
        *len += (size_t)n;
        buf[*len] = '\0';
        if ((end = memmem(buf, *len, "\r\n\r\n", 4))) {
            *head_len = (size_t)(end - buf) + 4;
            return 0;
        }
        if (*len >= cap - 1)
            return -E2BIG;
    }
}

/* ---- the upstream connection --------------------------------------------- */

static int connect_to(const struct sockaddr *sa, socklen_t salen, int stop_fd)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int e = 0, one = 1;
    socklen_t el = sizeof(e);

    if (fd < 0)
        return -errno;
    /* A relay passes on what it has at once: the ends made their own
     * choices about small writes, and Nagle here would hold a response's
     * body for the peer's delayed ACK of its head. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
        e = errno;
        close(fd);
        return -e;
    }
    if (wait_fd(fd, POLLOUT, stop_fd, CONNECT_TIMEOUT) <= 0) {
        close(fd);
        return -ETIMEDOUT;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e) {
        close(fd);
        return -(e ? e : EIO);
    }
    return fd;
}

/* Resolves and connects to the first address that may be reached. On
 * failure, *why says so and *status the HTTP answer. */
static int open_upstream(const struct net_policy *pol, const struct proxy_req *rq, int stop_fd,
                         char *addr_out, size_t addr_size, const char **why, int *status)
{
    struct addrinfo hints, *res = NULL;
    static __thread char reason[384];
    char port[8];
    const char *forbidden = NULL;
    int r, fd = -1, last = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", rq->port);
    r = getaddrinfo(rq->host, port, &hints, &res);
    if (r != 0) {
        snprintf(reason, sizeof(reason), "cannot resolve %s: %s", rq->host, gai_strerror(r));
        *why = reason;
        *status = 502;
        return -1;
    }
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        const char *f = pol->allow_private ? NULL : net_addr_forbidden(ai->ai_addr);
        char text[INET6_ADDRSTRLEN] = "?";
        if (ai->ai_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, text,
                      sizeof(text));
        else if (ai->ai_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, text,
                      sizeof(text));
        if (f) {
            forbidden = f;
            snprintf(reason, sizeof(reason), "%s is a %s address (--net-allow-private allows it)",
                     text, f);
            continue;
        }
        /* Exactly the address just checked: no second resolution. */
        fd = connect_to(ai->ai_addr, ai->ai_addrlen, stop_fd);
        if (fd < 0) {
            last = -fd;
            snprintf(reason, sizeof(reason), "connecting to %s port %d: %s", text, rq->port,
                     strerror(last));
        } else {
            snprintf(addr_out, addr_size, "%s", text);
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        *why = reason;
        *status = forbidden && !last ? 403 : last == ETIMEDOUT ? 504 : 502;
    }
    return fd;
}

/* ---- relaying ------------------------------------------------------------- */

/* Moves what is waiting on `from` to `to` through a pipe, in the kernel
 * (splice): the bytes moved, 0 at EOF, -1 on error, -2 when nothing was
 * waiting. */
static ssize_t splice_once(int from, int to, int pipefd[2], int stop_fd)
{
    ssize_t n = splice(from, NULL, pipefd[1], NULL, RELAY_BUF, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    ssize_t left;

    if (n <= 0)
        return n < 0 && (errno == EAGAIN || errno == EINTR) ? -2 : n;
    for (left = n; left > 0;) {
        ssize_t w =
            splice(pipefd[0], NULL, to, NULL, (size_t)left, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(to, POLLOUT, stop_fd, IDLE_TIMEOUT_MS) <= 0)
                return -1;
            continue;
        }
        if (w <= 0)
            return -1;
        left -= w;
    }
    return n;
}

/* One read from the server through the response filter (counted in
 * *bytes), and what it lets out sent on to the guest: > 0 for more to
 * come, 0 when the response is complete (or the server closed after a body
 * that runs to the end), -1 on an error towards the guest, -2 when nothing
 * was waiting, -3 when the response failed (resp->why). */
static ssize_t masked_once(int up, int client, struct net_resp *resp, char *buf, struct strbuf *out,
                           int stop_fd, uint64_t *bytes)
{
    ssize_t r = recv(up, buf, RELAY_BUF, MSG_DONTWAIT);
    enum net_resp_result res;

    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return -2;
    res = r > 0 ? net_resp_feed(resp, buf, (size_t)r, out) : net_resp_end(resp, out);
    if (r > 0) {
        *bytes += (uint64_t)r;
        explicit_bzero(buf, (size_t)r);
    }
    if (out->len && !send_all(client, out->buf, out->len, stop_fd))
        return -1;
    strbuf_reset(out);
    if (res == NET_RESP_FAILED)
        return -3;
    return res == NET_RESP_DONE ? 0 : r;
}

/*
 * Both directions until both ends are done. Guest to server always moves
 * in the kernel (splice through a pipe); server to guest too, unless `resp`
 * is given: then what comes back goes through it, to be masked. Returns
 * why the response was refused or cut short (*status: 502 when the guest
 * got the broker's answer instead of the server's), or NULL.
 */
static const char *relay(int client, int up, int stop_fd, struct net_resp *resp, uint64_t *bytes_up,
                         uint64_t *bytes_down, int *status)
{
    bool client_open = true, up_open = true;
    int p1[2] = { -1, -1 }, p2[2] = { -1, -1 };
    struct strbuf out = STRBUF_INIT;
    const char *why = NULL;
    char *buf = NULL;

    if (pipe2(p1, O_CLOEXEC) < 0)
        return "out of file descriptors for the relay";
    if (resp ? !(buf = malloc(RELAY_BUF)) : pipe2(p2, O_CLOEXEC) < 0) {
        why = "out of file descriptors for the relay";
        goto out;
    }
    while (client_open || up_open) {
        struct pollfd p[3] = { { client, client_open ? POLLIN : 0, 0 },
                               { up, up_open ? POLLIN : 0, 0 },
                               { stop_fd, POLLIN, 0 } };
        int n = poll(p, stop_fd >= 0 ? 3 : 2, IDLE_TIMEOUT_MS);
        ssize_t r;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (p[2].revents & POLLIN))
            break;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            r = splice_once(client, up, p1, stop_fd);
            if (r > 0) {
                *bytes_up += (uint64_t)r;
            } else if (r == 0 || r == -1) {
                client_open = false;
                shutdown(up, SHUT_WR);
            }
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            r = resp ? masked_once(up, client, resp, buf, &out, stop_fd, bytes_down)
                     : splice_once(up, client, p2, stop_fd);
            if (r > 0) {
                if (!resp)
                    *bytes_down += (uint64_t)r;
            } else if (r != -2) {
                if (r == -3) {
                    why = resp->why;
                    /* Refused before the guest saw anything: it gets the
                     * broker's answer, with the reason. */
                    if (!resp->emitted) {
                        reply(client, 502, "Bad Gateway", why, stop_fd);
                        *status = 502;
                    }
                }
                up_open = false;
                shutdown(client, SHUT_WR);
                /* The server is done: nothing more the guest sends matters
                 * (a plain request went with Connection: close). */
                if (!client_open)
                    break;
                client_open = false;
            }
        }
    }
out:
    if (buf)
        explicit_bzero(buf, RELAY_BUF);
    free(buf);
    strbuf_release(&out);
    for (int i = 0; i < 2; i++) {
        if (p1[i] >= 0)
            close(p1[i]);
        if (p2[i] >= 0)
            close(p2[i]);
    }
    return why;
}

/* Rebuilds a plain HTTP request for the origin: origin-form target, our own
 * Host and Connection, no proxy headers. With `identity`, the server is
 * asked for the body as it is (the masker cannot see through compression):
 * the guest's Accept-Encoding and TE make way for Accept-Encoding: identity. */
static char *origin_request(const struct proxy_req *rq, const char *head_end, bool identity,
                            size_t *len)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p = rq->headers;

    strbuf_addf(&sb, "%s ", rq->method);
    if (rq->path_len)
        strbuf_add(&sb, rq->path, rq->path_len);
    else
        strbuf_addch(&sb, '/');
    strbuf_addf(&sb, " HTTP/1.%d\r\nHost: %s\r\nConnection: close\r\n", rq->http10 ? 0 : 1,
                rq->authority);
    if (identity)
        strbuf_addstr(&sb, "Accept-Encoding: identity\r\n");
    while (p < head_end) {
        const char *eol = strstr(p, "\r\n");
        size_t ll;
        if (!eol || eol >= head_end)
            break;
        ll = (size_t)(eol - p);
        if (ll == 0)
            break;
        if (strncasecmp(p, "host:", 5) && strncasecmp(p, "connection:", 11) &&
            strncasecmp(p, "proxy-connection:", 17) && strncasecmp(p, "proxy-authorization:", 20) &&
            strncasecmp(p, "keep-alive:", 11) &&
            !(identity && (!strncasecmp(p, "accept-encoding:", 16) || !strncasecmp(p, "te:", 3)))) {
            strbuf_add(&sb, p, ll);
            strbuf_add(&sb, "\r\n", 2);
        }
        p = eol + 2;
    }
    strbuf_add(&sb, "\r\n", 2);
    if (strbuf_failed(&sb)) {
        strbuf_release(&sb);
        return NULL;
    }
    *len = sb.len;
    return strbuf_detach(&sb, NULL);
}

/* How much of a plain request's target is recorded: up to '?', 1 KiB. */
static size_t path_record_len(const struct proxy_req *rq)
{
    const char *q = memchr(rq->path, '?', rq->path_len);
    size_t n = q ? (size_t)(q - rq->path) : rq->path_len;

    return n < 1024 ? n : 1024;
}

static void record_set(struct sbvm_net_attempt *rec, const struct proxy_req *rq, const char *why)
{
    rec->method = strdup(rq->method[0] ? rq->method : "?");
    rec->host = strdup(rq->host[0] ? rq->host : "?");
    rec->port = rq->port;
    rec->reason = why ? strdup(why) : NULL;
}

/* ---- the descriptor budget (see FDS_PER_BROKER) ------------------------------ */

static void fdb_init(void)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&fdb.freed, &a);
    pthread_condattr_destroy(&a);
}

/* Connections the budget allows all brokers together, and each one's
 * share (fdb.lock held). */
static unsigned fdb_budget(unsigned *share)
{
    struct rlimit rl;
    uint64_t limit = 1024, reserve, fixed = (uint64_t)FDS_PER_BROKER * fdb.nbrokers, budget = 0;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 30) ? (1u << 30) : rl.rlim_cur;
    reserve = limit / 4 > FD_RESERVE_MIN ? limit / 4 : FD_RESERVE_MIN;
    if (limit > reserve + fixed)
        budget = (limit - reserve - fixed) / NET_FDS_PER_CONN;
    *share = fdb.nbrokers ? (unsigned)(budget / fdb.nbrokers) : 0;
    if (*share > CONN_MAX)
        *share = CONN_MAX;
    return (unsigned)budget;
}

/* Ends the newest connection of the broker furthest over its share, to
 * make room for one within its share: false when none is over. */
static bool fdb_revoke_one(unsigned share)
{
    struct broker *victim = NULL;
    unsigned most = 0;

    for (struct broker *v = fdb.brokers; v; v = v->next) {
        unsigned held = v->nconns - v->nrevoking;
        if (held > share && held - share > most) {
            most = held - share;
            victim = v;
        }
    }
    if (!victim)
        return false;
    for (struct conn *c = victim->conns; c; c = c->next) {
        if (c->revoked)
            continue;
        c->revoked = true;
        victim->nrevoking++;
        fdb.revoking++;
        /* Wakes its relay (or whatever it waits on): both ends read as
         * closed. Its fds stay counted until its thread has closed them. */
        shutdown(c->fd, SHUT_RDWR);
        if (c->up >= 0)
            shutdown(c->up, SHUT_RDWR);
        return true;
    }
    return false;
}

/* Admits c as a connection of its broker, or says why not (*why, a
 * refusal of this broker's own). */
static bool fdb_admit(struct conn *c, char *why, size_t why_size)
{
    struct broker *b = c->b;
    struct timespec deadline;
    bool ok = false;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += BUDGET_WAIT_MS / 1000;
    pthread_mutex_lock(&fdb.lock);
    for (;;) {
        unsigned share, budget = fdb_budget(&share);

        if (b->stopping) {
            snprintf(why, why_size, "the sandbox is ending");
            break;
        }
        if (b->nconns >= CONN_MAX) {
            snprintf(why, why_size, "too many connections at once (%d)", CONN_MAX);
            break;
        }
        if (b->nconns >= share) {
            snprintf(why, why_size,
                     "the sandbox's share of the broker's file descriptors is in use (%u "
                     "connections at once, with %u sandboxes sharing)",
                     share, fdb.nbrokers);
            break;
        }
        if (fdb.used < budget) {
            c->next = b->conns;
            if (b->conns)
                b->conns->prev = c;
            b->conns = c;
            b->nconns++;
            fdb.used++;
            ok = true;
            break;
        }
        /* Within its share, but the budget is spent: others hold more than
         * theirs since this broker started. Make room, then wait for it. */
        while (fdb.used - fdb.revoking >= budget && fdb_revoke_one(share))
            ;
        if (fdb.used - fdb.revoking >= budget ||
            pthread_cond_timedwait(&fdb.freed, &fdb.lock, &deadline) == ETIMEDOUT) {
            snprintf(why, why_size,
                     "the broker's file descriptors are in use (%u connections, all sandboxes)",
                     fdb.used);
            break;
        }
    }
    pthread_mutex_unlock(&fdb.lock);
    return ok;
}

/* Waits until the broker's connections are done (they were told to stop),
 * then leaves the budget: the others' shares grow. */
static void fdb_leave(struct broker *b)
{
    struct broker **pp;

    pthread_mutex_lock(&fdb.lock);
    while (b->nconns > 0)
        pthread_cond_wait(&fdb.freed, &fdb.lock);
    for (pp = &fdb.brokers; *pp && *pp != b; pp = &(*pp)->next)
        ;
    if (*pp) {
        *pp = b->next;
        fdb.nbrokers--;
    }
    pthread_cond_broadcast(&fdb.freed);
    pthread_mutex_unlock(&fdb.lock);
}

/* The upstream connection as it is made (fd) or closed (-1): false when
 * the connection was ended meanwhile to make room. */
static bool conn_set_up(struct conn *c, int fd)
{
    bool ok;

    if (!c)
        return true;
    pthread_mutex_lock(&fdb.lock);
    ok = !c->revoked;
    c->up = ok ? fd : -1;
    pthread_mutex_unlock(&fdb.lock);
    return ok;
}

static bool conn_revoked(struct conn *c)
{
    bool r;

    if (!c)
        return false;
    pthread_mutex_lock(&fdb.lock);
    r = c->revoked;
    pthread_mutex_unlock(&fdb.lock);
    return r;
}

/* Closes the guest's connection and gives its share back (its other fds
 * are closed already). */
static void conn_done(struct conn *c)
{
    struct broker *b = c->b;

    pthread_mutex_lock(&fdb.lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->revoked) {
        b->nrevoking--;
        fdb.revoking--;
    }
    b->nconns--;
    fdb.used--;
    close(c->fd);
    pthread_cond_broadcast(&fdb.freed);
    pthread_mutex_unlock(&fdb.lock);
}

/* ---- one connection ------------------------------------------------------------ */

/* The values to mask in what comes back: every secret of the sandbox,
 * whichever host it is for and whether or not this request carried it,
 * the credentials this request was given, and those earlier requests of
 * the sandbox were given. */
static int mask_values(struct broker *b, const struct net_policy *pol, struct strv *masks)
{
    size_t made = masks->n;
    int r = 0;

    if (b) {
        pthread_mutex_lock(&b->lock);
        for (size_t i = 0; i < made; i++) {
            bool known = strv_find(&b->cred_masks, masks->v[i]) >= 0;
            for (size_t k = 0; k < pol->nsecrets && !known; k++)
                known = streq(masks->v[i], pol->secrets[k].value);
            if (!known && b->cred_masks.n < CRED_MASKS_MAX)
                (void)strv_push(&b->cred_masks, masks->v[i]);
        }
        for (size_t i = 0; i < b->cred_masks.n && r == 0; i++)
            if (strv_find(masks, b->cred_masks.v[i]) < 0)
                r = strv_push(masks, b->cred_masks.v[i]);
        pthread_mutex_unlock(&b->lock);
    }
    for (size_t k = 0; k < pol->nsecrets && r == 0; k++)
        if (strv_find(masks, pol->secrets[k].value) < 0)
            r = strv_push(masks, pol->secrets[k].value);
    return r;
}

static void serve(struct broker *b, struct conn *c, const struct net_policy *pol, int fd,
                  int stop_fd, struct sbvm_net_attempt *rec)
{
    char *buf = malloc(HEAD_MAX + 1), *out = NULL, addr[INET6_ADDRSTRLEN] = "";
    char reason[256];
    size_t len = 0, head_len = 0, out_len = 0;
    struct proxy_req rq;
    struct strv masks = STRV_INIT;
    const char *why = NULL;
    int64_t t0 = mono_ns();
    int up = -1, status = 0, r;
    bool allowed = false, intercept = false, why_parse = false;
    struct net_tls *tls_own = NULL;

    memset(rec, 0, sizeof(*rec));
    memset(&rq, 0, sizeof(rq));
    if (!buf)
        goto done;
    r = read_head(fd, buf, HEAD_MAX + 1, &len, &head_len, stop_fd);
    if (r == -E2BIG) {
        why = "the request head is larger than 16 KiB";
        status = 431;
    } else if (r < 0) {
        why = r == -ETIMEDOUT ? "no complete request in time" : "the guest closed the connection";
    } else if ((why = proxy_parse_request(buf, &rq))) {
        status = 400;
        why_parse = true;
    } else {
        for (size_t i = 0; i < pol->nrules && !allowed; i++)
            allowed = net_rule_match(&pol->rules[i], rq.host, rq.port);
        if (!allowed) {
            why = "not in the allowlist";
            status = 403;
        }
    }
    /* A host with a secret or a path rule is never tunnelled blindly: its
     * TLS is terminated here (intercept.c). A plain request's path is
     * checked now. */
    intercept = allowed && rq.connect && net_policy_intercepts(pol, rq.host, rq.port);
    if (rq.method[0] && !rq.connect && !why_parse)
        rec->path = strndup(rq.path_len ? rq.path : "/", rq.path_len ? path_record_len(&rq) : 1);
    if (allowed && !rq.connect) {
        if ((why = net_policy_path(pol, rq.host, rq.port, rq.path_len ? rq.path : "/",
                                   rq.path_len ? rq.path_len : 1, reason, sizeof(reason)))) {
            status = 403;
            allowed = false;
        }
    }
    if (allowed) {
        up = open_upstream(pol, &rq, stop_fd, addr, sizeof(addr), &why, &status);
        allowed = up >= 0;
    }
    if (!allowed) {
        if (status)
            reply(fd, status,
                  status == 403   ? "Forbidden"
                  : status == 400 ? "Bad Request"
                  : status == 431 ? "Request Header Fields Too Large"
                  : status == 504 ? "Gateway Timeout"
                                  : "Bad Gateway",
                  why, stop_fd);
        goto done;
    }
    rec->address = strdup(addr);
    if (!conn_set_up(c, up))
        goto done;
    if (intercept) {
        struct net_icept ic = {
            .b = b,
            .pol = pol,
            .tls = b ? b->tls : NULL,
            .guest = fd,
            .up = up,
            .stop_fd = stop_fd,
            .host = rq.host,
            .port = rq.port,
            .address = addr,
            .pre = buf + head_len,
            .npre = len - head_len,
        };
        sbvm_error *e = NULL;
        rec->intercepted = 1;
        if (!ic.tls && net_tls_new(pol, &tls_own, &e) < 0) {
            snprintf(reason, sizeof(reason), "%s", sbvm_error_message(e));
            sbvm_error_free(e);
            why = reason;
            goto done;
        }
        if (!ic.tls)
            ic.tls = tls_own;
        why = net_intercept(&ic, reason, sizeof(reason), &status);
        rec->bytes_up = ic.bytes_up;
        rec->bytes_down = ic.bytes_down;
        rec->secrets = ic.secrets;
    } else if (rq.connect) {
        static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        if (!send_all(fd, ok, sizeof(ok) - 1, stop_fd))
            goto done;
        /* Bytes the client sent after the CONNECT head go straight on. */
        if (len > head_len && send_all(up, buf + head_len, len - head_len, stop_fd))
            rec->bytes_up += len - head_len;
        why = relay(fd, up, stop_fd, NULL, &rec->bytes_up, &rec->bytes_down, &status);
    } else {
        /* A sandbox that has secrets gets every response masked, whatever
         * its host: a value stored through one request may come back
         * through another. Others keep the zero-copy relay. */
        bool masking = pol->nsecrets > 0;
        struct net_resp resp;

        out = origin_request(&rq, buf + head_len, masking, &out_len);
        if (!out)
            goto done;
        rec->secrets = net_inject_secrets(pol, rq.host, &out, &out_len, &masks);
        if (masking && (mask_values(b, pol, &masks) < 0 ||
                        net_resp_init(&resp, (const char *const *)masks.v, masks.n,
                                      streq(rq.method, "HEAD")) < 0)) {
            why = "out of memory";
            goto done;
        }
        if (send_all(up, out, out_len, stop_fd) &&
            (len == head_len || send_all(up, buf + head_len, len - head_len, stop_fd))) {
            rec->bytes_up += out_len + (len - head_len);
            why = relay(fd, up, stop_fd, masking ? &resp : NULL, &rec->bytes_up, &rec->bytes_down,
                        &status);
            if (why) {
                snprintf(reason, sizeof(reason), "%s", why);
                why = reason;
            }
        }
        if (masking)
            net_resp_release(&resp);
    }
done:
    if (conn_revoked(c)) {
        why = "ended to give another sandbox its share of the broker's file descriptors";
        status = 0;
    }
    /* Connected, the broker may still have answered itself (502: a
     * response masking cannot read): status says so. */
    rec->allowed = allowed;
    rec->status = status;
    record_set(rec, &rq, why);
    rec->duration_ns = mono_ns() - t0;
    if (up >= 0) {
        (void)conn_set_up(c, -1);
        close(up);
    }
    net_tls_free(tls_own);
    for (size_t i = 0; i < masks.n; i++)
        explicit_bzero(masks.v[i], strlen(masks.v[i]));
    strv_release(&masks);
    if (out) {
        explicit_bzero(out, out_len);
        free(out);
    }
    if (buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
}

void broker_serve_one(const struct net_policy *pol, int fd, struct sbvm_net_attempt *rec)
{
    serve(NULL, NULL, pol, fd, -1, rec);
}

/* ---- threads -------------------------------------------------------------- */

static void record(struct broker *b, struct sbvm_net_attempt *rec)
{
    pthread_mutex_lock(&b->lock);
    if (b->nlog == b->alloc && b->alloc < LOG_MAX) {
        size_t n = b->alloc ? b->alloc * 2 : 16;
        struct sbvm_net_attempt *nl = realloc(b->log, n * sizeof(*nl));
        if (nl) {
            b->log = nl;
            b->alloc = n;
        }
    }
    if (b->nlog < b->alloc) {
        b->log[b->nlog++] = *rec;
    } else {
        net_attempt_release(rec);
        b->dropped++;
    }
    pthread_mutex_unlock(&b->lock);
}

void broker_record(struct broker *b, struct sbvm_net_attempt *rec)
{
    if (b)
        record(b, rec);
    else
        net_attempt_release(rec);
}

int broker_mask_values(struct broker *b, const struct net_policy *pol, struct strv *masks)
{
    return mask_values(b, pol, masks);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct sbvm_net_attempt rec;

    serve(c->b, c, c->b->pol, c->fd, c->b->stop_fd, &rec);
    record(c->b, &rec);
    /* Last: broker_stop() waits for every connection to be done. */
    conn_done(c);
    free(c);
    return NULL;
}

/* A connection answered at once, before its request is read: recorded
 * without a method or host. */
static void refuse(struct broker *b, int fd, int status, const char *why)
{
    struct sbvm_net_attempt rec;

    memset(&rec, 0, sizeof(rec));
    reply(fd, status, "Service Unavailable", why, b->stop_fd);
    close(fd);
    rec.method = strdup("?");
    rec.host = strdup("?");
    rec.reason = strdup(why);
    rec.status = status;
    record(b, &rec);
}

static void *acceptor_main(void *arg)
{
    struct broker *b = arg;

    for (;;) {
        pthread_attr_t attr;
        pthread_t t;
        struct conn *c;
        char why[256];
        int fd;

        if (wait_fd(b->listen_fd, POLLIN, b->stop_fd, -1) < 0)
            break;
        fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (fd < 0) {
            /* Out of descriptors (the budget keeps the brokers from it, but
             * not the rest of the process): the connection waits in the
             * backlog; do not spin on it. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                (void)wait_fd(b->stop_fd, POLLIN, -1, 50);
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->b = b;
        c->fd = fd;
        c->up = -1;
        if (!fdb_admit(c, why, sizeof(why))) {
            free(c);
            refuse(b, fd, 503, why);
            continue;
        }
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, conn_main, c) != 0) {
            conn_done(c);
            free(c);
        }
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

int broker_start(const struct net_policy *pol, int listen_fd, struct broker **out, sbvm_error **err)
{
    struct broker *b = calloc(1, sizeof(*b));
    sigset_t all, old;
    int r;

    if (!b) {
        close(listen_fd);
        return error_set(err, ENOMEM, "out of memory");
    }
    pthread_once(&fdb.once, fdb_init);
    b->pol = pol;
    b->listen_fd = listen_fd;
    b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&b->lock, NULL);
    if (b->stop_fd < 0) {
        r = error_sys(err, errno, "starting the network broker");
        goto fail;
    }
    /* The contexts once per sandbox: the server side's trust store is
     * read here, not on every connection. */
    if (pol->ca && (r = net_tls_new(pol, &b->tls, err)) < 0)
        goto fail;
    pthread_mutex_lock(&fdb.lock);
    b->next = fdb.brokers;
    fdb.brokers = b;
    fdb.nbrokers++;
    pthread_mutex_unlock(&fdb.lock);
    /* The broker's threads take no signals: the caller's thread handles
     * them, as it did before there were threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&b->acceptor, NULL, acceptor_main, b);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        r = error_sys(err, r, "starting the network broker's thread");
        goto fail;
    }
    b->acceptor_started = true;
    *out = b;
    return 0;
fail:
    close(listen_fd);
    net_tls_free(b->tls);
    if (b->stop_fd >= 0)
        close(b->stop_fd);
    fdb_leave(b);
    pthread_mutex_destroy(&b->lock);
    free(b);
    return r;
}

void broker_stop(struct broker *b, struct sbvm_net_attempt **attempts, size_t *n, uint64_t *dropped)
{
    uint64_t one = 1;

    *attempts = NULL;
    *n = 0;
    *dropped = 0;
    if (!b)
        return;
    (void)!write(b->stop_fd, &one, sizeof(one));
    /* An acceptor waiting for room in the budget gives up at once. */
    pthread_mutex_lock(&fdb.lock);
    b->stopping = true;
    pthread_cond_broadcast(&fdb.freed);
    pthread_mutex_unlock(&fdb.lock);
    if (b->acceptor_started)
        pthread_join(b->acceptor, NULL);
    fdb_leave(b);
    close(b->listen_fd);
    close(b->stop_fd);
    net_tls_free(b->tls);
    pthread_mutex_destroy(&b->lock);
    *attempts = b->log;
    *n = b->nlog;
    *dropped = b->dropped;
    for (size_t i = 0; i < b->cred_masks.n; i++)
        explicit_bzero(b->cred_masks.v[i], strlen(b->cred_masks.v[i]));
    strv_release(&b->cred_masks);
    free(b);
}

int broker_peek(struct broker *b, struct sbvm_net_attempt **out, size_t *n, uint64_t *dropped)
{
    struct sbvm_net_attempt *v;
    size_t i;

    *out = NULL;
    *n = 0;
    *dropped = 0;
    if (!b)
        return 0;
    pthread_mutex_lock(&b->lock);
    v = b->nlog ? calloc(b->nlog, sizeof(*v)) : NULL;
    if (b->nlog && !v) {
        pthread_mutex_unlock(&b->lock);
        return -ENOMEM;
    }
    for (i = 0; i < b->nlog; i++) {
        const struct sbvm_net_attempt *a = &b->log[i];
        v[i] = *a;
        v[i].method = a->method ? strdup(a->method) : NULL;
        v[i].host = a->host ? strdup(a->host) : NULL;
        v[i].reason = a->reason ? strdup(a->reason) : NULL;
        v[i].address = a->address ? strdup(a->address) : NULL;
        /* Every string field is the copy's own: the inventory frees them
         * (net_attempt_release) while the broker's log keeps its own. */
        v[i].path = a->path ? strdup(a->path) : NULL;
    }
    *dropped = b->dropped;
    pthread_mutex_unlock(&b->lock);
    *out = v;
    *n = i;
    return 0;
}

void net_attempt_release(struct sbvm_net_attempt *a)
{
    free((char *)a->method);
    free((char *)a->host);
    free((char *)a->reason);
    free((char *)a->address);
    free((char *)a->path);
    memset(a, 0, sizeof(*a));
}

void net_attempts_free(struct sbvm_net_attempt *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        net_attempt_release(&v[i]);
    free(v);
}
