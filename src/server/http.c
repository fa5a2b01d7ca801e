/* SPDX-License-Identifier: MIT */
/*
 * http.c: libmicrohttpd in its external-epoll mode, without a listening
 * socket of its own (server.c accepts and hands connections over): who the
 * client is, the request's body (bounded JSON, or a file upload streamed
 * to the staging directory), and dispatch to the handlers. Every refusal
 * is a 4xx with {"error": {"status", "message"}}.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/srv.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

/* A connection waiting for its request head, or idle between requests (a
 * suspended one, streaming a job's events, never times out). */
#define CONN_TIMEOUT_S 30
#define CONN_MAX       512
/* The head of one request, and MHD's working buffer for it. */
#define CONN_MEMORY (64 * 1024)

struct req {
    struct MHD_Connection *conn;
    bool deferred;    /* its answer comes later (http_defer) */
    unsigned dstatus; /* ... and here it is */
    json_t *dbody;
    struct route rt;
    bool routed;
    unsigned status; /* a refusal decided before the body ended */
    struct strbuf why;
    struct strbuf body; /* a JSON body */
    int up_fd;          /* a file upload, in the staging directory */
    char *up_dir;
    uint64_t up_len;
};

static void req_free(struct req *q)
{
    if (!q)
        return;
    strbuf_release(&q->why);
    strbuf_release(&q->body);
    json_decref(q->dbody);
    close_fd(&q->up_fd);
    if (q->up_dir) {
        rm_tree(q->up_dir);
        free(q->up_dir);
    }
    free(q);
}

enum MHD_Result http_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    struct MHD_Response *r;
    enum MHD_Result ok;
    size_t len;

    json_decref(body);
    if (!text)
        return MHD_NO; /* out of memory: MHD closes the connection */
    len = strlen(text);
    text[len] = '\0';
    {
        char *t = realloc(text, len + 2);
        if (!t) {
            free(text);
            return MHD_NO;
        }
        text = t;
        text[len++] = '\n';
        text[len] = '\0';
    }
    r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static json_t *error_doc(unsigned status, const char *fmt, va_list ap)
{
    struct strbuf sb = STRBUF_INIT;
    json_t *e;

    strbuf_vaddf(&sb, fmt, ap);
    e = json_pack("{s:i, s:s}", "status", (int)status, "message",
                  strbuf_failed(&sb) ? "out of memory" : sb.buf);
    strbuf_release(&sb);
    if (!e) {
        /* The message was not UTF-8 (it quotes a client's bytes): say less. */
        e = json_pack("{s:i, s:s}", "status", (int)status, "message", "refused");
    }
    return json_pack("{s:o}", "error", e);
}

json_t *http_error_doc(unsigned status, const char *fmt, ...)
{
    json_t *doc;
    va_list ap;

    va_start(ap, fmt);
    doc = error_doc(status, fmt, ap);
    va_end(ap);
    return doc;
}

enum MHD_Result http_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    json_t *doc;
    va_list ap;

    va_start(ap, fmt);
    doc = error_doc(status, fmt, ap);
    va_end(ap);
    return http_json(c, status, doc);
}

struct req *http_defer(struct server *s, struct MHD_Connection *c)
{
    struct req *q = s->current;

    if (!q || q->conn != c)
        return NULL;
    q->deferred = true;
    MHD_suspend_connection(c);
    return q;
}

void http_complete(struct server *s, struct req *q, unsigned status, json_t *body)
{
    if (!q || !q->deferred || q->dstatus) {
        json_decref(body);
        return;
    }
    q->dstatus = status;
    q->dbody = body;
    s->active_mono = now_mono_ns(); /* its client's next request is near */
    /* MHD calls on_request again, which answers. */
    MHD_resume_connection(q->conn);
    s->kick = true;
}

enum MHD_Result http_sbvm_error(struct MHD_Connection *c, int rc, sbvm_error *e, const char *what)
{
    int code = e && sbvm_error_code(e) ? sbvm_error_code(e) : -rc;
    enum MHD_Result ok;

    ok = http_error(c, http_status_of(code), "%s: %s", what,
                    e ? sbvm_error_message(e) : errno_text(code));
    sbvm_error_free(e);
    return ok;
}

unsigned http_status_of(int code)
{
    unsigned status;

    switch (code) {
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
    case ENOTDIR:
    case EISDIR:
        status = 400;
        break;
    case EACCES:
    case EPERM:
        status = 403;
        break;
    case ENOENT:
        status = 404;
        break;
    case EEXIST:
    case ESRCH:
    case EBUSY:
        status = 409;
        break;
    case EFBIG:
    case E2BIG:
        status = 413;
        break;
    case EOPNOTSUPP:
        status = 501;
        break;
    case ENOSPC:
        status = 507;
        break;
    case ETIMEDOUT:
        status = 504;
        break;
    default:
        status = 500;
    }
    return status;
}

/* ---- who is asking ------------------------------------------------------- */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct server *s = cls;
    const union MHD_ConnectionInfo *ci;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct peer *p;

    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        free(*socket_context);
        *socket_context = NULL;
        return;
    }
    p = calloc(1, sizeof(*p));
    *socket_context = p;
    if (!p)
        return;
    p->uid = (uid_t)-1;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_UNIX) {
        struct ucred cr;
        socklen_t cl = sizeof(cr);
        /* The kernel's word on who connected (at connect time): the only
         * identity a unix socket client has. */
        if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0)
            return;
        p->uid = cr.uid;
        p->pid = cr.pid;
        p->allowed = cr.uid == s->uid;
        for (size_t i = 0; i < s->o.nallow_uids; i++)
            p->allowed |= cr.uid == s->o.allow_uids[i];
    } else {
        /* TCP: the server's own uid, once the request shows the token. */
        p->tcp = true;
        p->uid = s->uid;
    }
}

/* Constant time in the token's length: a mismatch says nothing of where. */
static bool token_ok(struct server *s, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    unsigned char diff = 0;
    size_t n;

    if (!s->token || !h || !str_has_prefix(h, "Bearer "))
        return false;
    h += 7;
    n = strlen(h);
    for (size_t i = 0; i < s->token_len; i++)
        diff |= (unsigned char)(s->token[i] ^ (i < n ? h[i] : 0));
    return diff == 0 && n == s->token_len;
}

static uint64_t content_length(struct MHD_Connection *c, bool *given)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    char *end;
    unsigned long long n;

    *given = v != NULL;
    if (!v)
        return 0;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || *end || end == v)
        return UINT64_MAX;
    return n;
}

/* Opens the upload's staging file. 0 or an HTTP status. */
static unsigned upload_open(struct server *s, struct req *q)
{
    char path[PATH_MAX];
    sbvm_error *e = NULL;

    q->up_dir = stage_dir(s, &e);
    if (!q->up_dir) {
        strbuf_addf(&q->why, "staging the upload: %s", e ? sbvm_error_message(e) : "failed");
        sbvm_error_free(e);
        return 500;
    }
    snprintf(path, sizeof(path), "%s/upload", q->up_dir);
    q->up_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (q->up_fd < 0) {
        strbuf_addf(&q->why, "staging the upload: %s", errno_text(errno));
        return 500;
    }
    return 0;
}

/* The first call for a request: who, where, and whether the body may come. */
static unsigned req_begin(struct server *s, struct MHD_Connection *c, struct req *q,
                          const char *url, const char *method)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const struct peer *p = ci ? ci->socket_context : NULL;
    bool given;
    uint64_t len = content_length(c, &given);
    int r;

    if (!p || (!p->tcp && p->uid == (uid_t)-1)) {
        strbuf_addstr(&q->why, "the client's credentials could not be read");
        return 403;
    }
    if (p->tcp ? !token_ok(s, c) : !p->allowed) {
        if (p->tcp) {
            strbuf_addstr(&q->why, "a TCP client must send Authorization: Bearer TOKEN");
            return 401;
        }
        strbuf_addf(&q->why, "uid %u may not use this server (it serves uid %u%s)",
                    (unsigned)p->uid, (unsigned)s->uid,
                    s->o.nallow_uids ? " and those given with --allow-uid" : "");
        return 403;
    }
    if (s->stopping) {
        strbuf_addstr(&q->why, "the server is shutting down");
        return 503;
    }
    r = route_parse(method, url, &q->rt, &q->why);
    if (r)
        return (unsigned)r;
    q->routed = true;
    if (!route_has_body(&q->rt))
        return 0;
    if (len == UINT64_MAX) {
        strbuf_addstr(&q->why, "Content-Length: not a number");
        return 400;
    }
    if (route_body_is_json(&q->rt)) {
        if (len > BODY_MAX) {
            strbuf_addf(&q->why, "a request body is at most %u bytes", BODY_MAX);
            return 413;
        }
        return 0;
    }
    if (q->rt.kind == R_FILES) {
        if (len > s->o.max_upload) {
            strbuf_addf(&q->why, "an upload is at most %llu bytes (the server's --max-upload)",
                        (unsigned long long)s->o.max_upload);
            return 413;
        }
        return upload_open(s, q);
    }
    /* stdin: bounded like a JSON body */
    if (len > BODY_MAX) {
        strbuf_addf(&q->why, "stdin is sent in pieces of at most %u bytes", BODY_MAX);
        return 413;
    }
    return 0;
}

static void req_body(struct server *s, struct req *q, const char *data, size_t len)
{
    if (q->status)
        return; /* read and dropped: the refusal is answered at the end */
    if (q->up_fd >= 0) {
        if (q->up_len + len > s->o.max_upload) {
            q->status = 413;
            strbuf_addf(&q->why, "an upload is at most %llu bytes (the server's --max-upload)",
                        (unsigned long long)s->o.max_upload);
            return;
        }
        if (write_full(q->up_fd, data, len) < 0) {
            q->status = 507;
            strbuf_addf(&q->why, "staging the upload: %s", errno_text(errno));
            return;
        }
        q->up_len += len;
        return;
    }
    if (q->body.len + len > BODY_MAX) {
        q->status = 413;
        strbuf_addf(&q->why, "a request body is at most %u bytes", BODY_MAX);
        return;
    }
    strbuf_add(&q->body, data, len);
    if (strbuf_failed(&q->body)) {
        q->status = 500;
        strbuf_addstr(&q->why, "out of memory");
    }
}

static const char *query(struct MHD_Connection *c, const char *key)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static bool query_true(struct MHD_Connection *c, const char *key)
{
    const char *v = query(c, key);
    return v && (streq(v, "1") || streq(v, "true") || streq(v, "yes"));
}

static enum MHD_Result dispatch(struct server *s, struct MHD_Connection *c, struct req *q)
{
    const struct peer *p =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT)->socket_context;
    const struct route *rt = &q->rt;
    struct sbx *x = NULL;

    switch (rt->kind) {
    case R_INFO:
        return api_info(s, c, p);
    case R_SANDBOXES:
        if (rt->method == M_POST)
            return api_create(s, c, p, q->body.buf, q->body.len);
        return api_list(s, c, p);
    case R_SNAPSHOTS:
    case R_SNAPSHOT:
        return api_snapshots(s, c, p, rt);
    default:
        break;
    }
    /* Another uid's sandbox does not exist, as far as this client knows. */
    x = sbx_find(s, rt->sandbox, p->uid);
    if (!x)
        return http_error(c, 404, "no sandbox %s", rt->sandbox);
    sbx_touch(x);
    switch (rt->kind) {
    case R_SANDBOX:
        return rt->method == M_DELETE ? api_destroy(s, c, x) : api_inspect(s, c, x);
    case R_EXEC:
        return api_exec(s, c, x, q->body.buf, q->body.len);
    case R_JOBS:
        return api_jobs(s, c, x);
    case R_FILES: {
        const char *path = query(c, "path");
        if (!path)
            return http_error(c, 400, "files: give ?path=/absolute/path/in/the/sandbox");
        if (rt->method == M_PUT) {
            const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
            lseek(q->up_fd, 0, SEEK_SET);
            return api_put(s, c, x, path, q->up_fd, q->up_len, type ? type : "",
                           query_true(c, "replace"));
        }
        {
            const char *fmt = query(c, "format");
            if (fmt && !streq(fmt, "tar") && !streq(fmt, "raw"))
                return http_error(c, 400, "format: \"tar\" (the default) or \"raw\"");
            return api_get(s, c, x, path, fmt && streq(fmt, "raw"));
        }
    }
    case R_SNAPSHOT_OF:
        return api_snapshot_take(s, c, x, q->body.buf, q->body.len);
    default:
        return api_job(s, c, x, rt, q->body.buf, q->body.len);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct server *s = cls;
    struct req *q = *con_cls;

    (void)version;
    s->active_mono = now_mono_ns();
    if (!q) {
        q = calloc(1, sizeof(*q));
        if (!q)
            return MHD_NO;
        strbuf_init(&q->why);
        strbuf_init(&q->body);
        q->up_fd = -1;
        q->conn = c;
        *con_cls = q;
        q->status = req_begin(s, c, q, url, method);
        /* Refused at once, without reading a body: who is not allowed, and
         * what is too large to read at all. Other refusals wait for the
         * body, so that a client that sends it first sees the answer. */
        if (q->status == 401 || q->status == 403 || q->status == 413 || q->status == 503)
            return http_error(c, q->status, "%s", q->why.buf);
        return MHD_YES;
    }
    if (*upload_data_size) {
        req_body(s, q, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (q->deferred) {
        json_t *body = q->dbody;
        q->dbody = NULL;
        return q->dstatus ? http_json(c, q->dstatus, body) : MHD_YES;
    }
    if (q->status)
        return http_error(c, q->status, "%s", q->why.buf);
    {
        enum MHD_Result ok;
        s->current = q;
        ok = dispatch(s, c, q);
        s->current = NULL;
        return ok;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    req_free(*con_cls);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct server *s = cls;
    struct strbuf sb = STRBUF_INIT;

    if (!s->o.verbose)
        return;
    /* On a unix socket MHD's TCP options fail, and it says so for every
     * response; there is no Nagle delay to warn about. */
    strbuf_vaddf(&sb, fmt, ap);
    if (strstr(sb.buf, "TCP_NODELAY") || strstr(sb.buf, "TCP_CORK") ||
        strstr(sb.buf, "push the data from buffers")) {
        strbuf_release(&sb);
        return;
    }
    while (sb.len && sb.buf[sb.len - 1] == '\n')
        strbuf_truncate(&sb, sb.len - 1);
    srv_log(s, "http: %s", sb.buf);
    strbuf_release(&sb);
}

int http_start(struct server *s, sbvm_error **err)
{
    const union MHD_DaemonInfo *di;

    s->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_END);
    if (!s->mhd)
        return error_set(err, EIO, "starting the HTTP server (libmicrohttpd) failed");
    di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di)
        return error_set(err, EIO, "libmicrohttpd has no epoll fd");
    s->mhd_fd = di->epoll_fd;
    return 0;
}

void http_stop(struct server *s)
{
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
