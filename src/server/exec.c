/* SPDX-License-Identifier: MIT */
/*
 * exec.c: jobs in a sandbox over HTTP: exec with its events streamed as
 * NDJSON (or collected into one document), a job's stdin kept open and fed
 * by later requests, signals, cancel, a terminal's size, and what happens
 * when the client goes away (the job ends, unless it asked to be kept).
 *
 * The library calls on_output and on_end from inside its loop: they only
 * append to the job's stream and ask for its connection to be resumed. The
 * stream's bytes leave through MHD's content reader, which suspends the
 * connection when it has nothing to send.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "report/report.h"
#include "server/srv.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

/* Bytes of an open stdin waiting for the job to read them. */
#define STDIN_PENDING_MAX (1u << 20)
/* MHD asks the content reader for at most this much at a time. */
#define STREAM_BLOCK (64 * 1024)

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *b64_encode(const void *data, size_t len)
{
    const unsigned char *p = data;
    char *out, *o;

    if (len > (SIZE_MAX - 4) / 4 * 3)
        return NULL;
    out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    o = out;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        *o++ = b64chars[v >> 18 & 63];
        *o++ = b64chars[v >> 12 & 63];
        *o++ = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? b64chars[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

void json_set_bytes(json_t *obj, const void *data, size_t len)
{
    /* jansson refuses bytes that are not UTF-8: those go as base64. A
     * character split across two chunks goes as base64 too; clients
     * decode either to bytes. */
    json_t *s = json_stringn(data, len);

    if (s) {
        json_object_set_new(obj, "data", s);
        return;
    }
    {
        char *b = b64_encode(data, len);
        json_object_set_new(obj, "data_b64", b ? json_string(b) : json_null());
        free(b);
    }
}

static void set_bytes_as(json_t *obj, const char *key, const struct strbuf *b)
{
    json_t *s = json_stringn(b->buf, b->len);
    char k[32];

    if (s) {
        json_object_set_new(obj, key, s);
        return;
    }
    snprintf(k, sizeof(k), "%s_b64", key);
    {
        char *e = b64_encode(b->buf, b->len);
        json_object_set_new(obj, k, e ? json_string(e) : json_null());
        free(e);
    }
}

/* ---- streams --------------------------------------------------------------- */

static void stream_wake(struct stream *st)
{
    if (st->suspended)
        srv_queue_resume(st->srv, st);
}

static void stream_event(struct stream *st, json_t *ev)
{
    char *text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);

    json_decref(ev);
    if (!text)
        return;
    strbuf_addstr(&st->buf, text);
    strbuf_addch(&st->buf, '\n');
    free(text);
    stream_wake(st);
}

static json_t *result_json(const sbvm_result *r)
{
    json_t *g;

    if (!r)
        return json_null();
    g = report_guest_json(0, r);
    if (!g)
        return json_null();
    json_object_del(g, "index");
    return g;
}

static char *job_id(const struct sjob *j, char buf[ID_MAX + 1])
{
    snprintf(buf, ID_MAX + 1, "j%u", j->id);
    return buf;
}

/* The last event: the job's result (or why there is none). */
static void stream_end(struct stream *st, struct sjob *j)
{
    const sbvm_result *r = j->job ? sbvm_job_result(j->job) : NULL;
    char id[ID_MAX + 1];
    json_t *doc;

    if (st->ended)
        return;
    if (st->collect) {
        doc = json_pack("{s:s, s:s}", "job", job_id(j, id), "sandbox", j->sbx->id);
        set_bytes_as(doc, "stdout", &st->out[0]);
        set_bytes_as(doc, "stderr", &st->out[1]);
    } else {
        doc = json_pack("{s:s, s:s}", "type", "end", "job", job_id(j, id));
    }
    json_object_set_new(doc, "result", result_json(r));
    if (j->sbx->state == SBX_ENDED || !sbx_alive(j->sbx))
        json_object_set_new(doc, "sandbox_ended",
                            json_string(j->sbx->end_reason ? j->sbx->end_reason : "ended"));
    stream_event(st, doc);
    st->ended = true;
}

ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    size_t avail = st->buf.len - st->off;

    (void)pos;
    if (st->hup)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, st->buf.buf + st->off, n);
        st->off += n;
        if (st->off == st->buf.len) {
            strbuf_reset(&st->buf);
            st->off = 0;
        }
        return (ssize_t)n;
    }
    if (st->ended)
        return MHD_CONTENT_READER_END_OF_STREAM;
    MHD_suspend_connection(st->conn);
    st->suspended = true;
    stream_suspended(st->srv, st);
    return 0;
}

void stream_release(void *cls)
{
    struct stream *st = cls;
    struct sjob *j = st->job;

    srv_forget_resume(st->srv, st);
    stream_hup_disarm(st->srv, st);
    if (j) {
        j->stream = NULL;
        if (!j->done && !j->keep && j->job) {
            char id[ID_MAX + 1];
            srv_log(st->srv, "sandbox %s: job %s: its client went away: ending it", j->sbx->id,
                    job_id(j, id));
            /* SIGKILL ends the job's whole process tree (the init knows
             * which processes are the job's). */
            sbvm_job_signal(j->job, SIGKILL);
        }
    }
    for (int i = 0; i < 2; i++)
        strbuf_release(&st->out[i]);
    strbuf_release(&st->buf);
    free(st);
}

static struct stream *stream_new(struct server *s, struct MHD_Connection *c, bool collect)
{
    struct stream *st = calloc(1, sizeof(*st));
    const union MHD_ConnectionInfo *ci;

    if (!st)
        return NULL;
    st->srv = s;
    st->conn = c;
    st->collect = collect;
    strbuf_init(&st->buf);
    strbuf_init(&st->out[0]);
    strbuf_init(&st->out[1]);
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    st->fd = ci ? ci->connect_fd : -1;
    return st;
}

/* Queues the stream as the response; from then on MHD owns it (released
 * by stream_release, also when queueing fails). */
static enum MHD_Result stream_respond(struct stream *st, struct sjob *j)
{
    struct MHD_Response *r;
    enum MHD_Result ok;
    char id[ID_MAX + 1];

    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st,
                                          stream_release);
    if (!r) {
        if (j)
            j->stream = NULL;
        stream_release(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type",
                            st->collect ? "application/json" : "application/x-ndjson");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (j)
        MHD_add_response_header(r, "X-Sandboxvm-Job", job_id(j, id));
    ok = MHD_queue_response(st->conn, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static void start_event(struct stream *st, struct sjob *j)
{
    char id[ID_MAX + 1];

    if (st->collect)
        return;
    stream_event(st, json_pack("{s:s, s:s, s:s, s:O}", "type", "start", "job", job_id(j, id),
                               "sandbox", j->sbx->id, "argv", j->argv));
}

/* ---- the library's callbacks (inside its loop: append and wake only) ---- */

static void on_output(void *ctx, sbvm_job *jj, enum sbvm_stream s, const void *data, size_t len)
{
    struct sjob *j = ctx;
    struct stream *st = j->stream;
    json_t *ev;

    (void)jj;
    if (!st || st->ended)
        return;
    if (st->collect) {
        strbuf_add(&st->out[s == SBVM_STDERR], data, len);
        return;
    }
    ev = json_pack("{s:s}", "type", s == SBVM_STDERR ? "stderr" : "stdout");
    if (!ev)
        return;
    json_set_bytes(ev, data, len);
    stream_event(st, ev);
}

static void stdin_close(struct sjob *j)
{
    if (j->stdin_armed)
        srv_unwatch(j->srv, j->stdin_w);
    j->stdin_armed = false;
    close_fd(&j->stdin_w);
    strbuf_release(&j->stdin_buf);
    j->stdin_off = 0;
}

static void on_end(void *ctx, sbvm_job *jj)
{
    struct sjob *j = ctx;

    (void)jj;
    if (j->done)
        return;
    j->done = true;
    j->end_mono = now_mono_ns();
    if (j->sbx->running)
        j->sbx->running--;
    sbx_touch(j->sbx);
    stdin_close(j);
    if (j->stream)
        stream_end(j->stream, j);
}

static const struct sbvm_job_events job_events = { .on_output = on_output, .on_end = on_end };

/* ---- jobs -------------------------------------------------------------------- */

void sjob_free(struct sjob *j)
{
    if (!j)
        return;
    if (j->stream) {
        j->stream->job = NULL;
        if (!j->stream->ended)
            stream_hangup(j->srv, j->stream);
    }
    stdin_close(j);
    /* Non-blocking for a job that is done; one still running is killed
     * and waited for (only at the server's end, from the top). */
    sbvm_job_free(j->job);
    json_decref(j->argv);
    free(j);
}

void sjob_sandbox_ended(struct server *s, struct sjob *j)
{
    (void)s;
    if (!j->done) {
        j->done = true;
        j->end_mono = now_mono_ns();
        stdin_close(j);
    }
    if (j->stream)
        stream_end(j->stream, j);
}

struct sjob *sjob_find(struct sbx *x, const char *id)
{
    char buf[ID_MAX + 1];

    for (size_t i = 0; i < x->njobs; i++)
        if (streq(job_id(x->jobs[i], buf), id))
            return x->jobs[i];
    return NULL;
}

json_t *sjob_json(struct sjob *j, bool full)
{
    char id[ID_MAX + 1];
    json_t *o = json_object();

    json_object_set_new(o, "id", json_string(job_id(j, id)));
    json_object_set_new(o, "sandbox", json_string(j->sbx->id));
    json_object_set(o, "argv", j->argv);
    json_object_set_new(o, "state", json_string(j->done ? "done" : "running"));
    json_object_set_new(o, "started_at", json_time(j->start_real));
    json_object_set_new(o, "terminal", json_boolean(j->terminal));
    json_object_set_new(o, "stdin_open", json_boolean(j->stdin_w >= 0));
    json_object_set_new(o, "streaming", json_boolean(j->stream != NULL));
    if (full || j->done) {
        const sbvm_result *r = j->done && j->job ? sbvm_job_result(j->job) : NULL;
        if (r) {
            json_object_set_new(o, "outcome",
                                json_string(sbvm_outcome_name(sbvm_result_outcome(r))));
            json_object_set_new(o, "exit_status", json_integer(sbvm_result_exit_status(r)));
        }
        if (full)
            json_object_set_new(o, "result", result_json(r));
    }
    return o;
}

/* The data of a closed stdin: a memfd the library reads (it reopens it;
 * ours is closed once the job started). */
static int stdin_memfd(const char *data, size_t len)
{
    int fd = memfd_create("sbvm-stdin", MFD_CLOEXEC);

    if (fd < 0)
        return -errno;
    if (write_full(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

void sjob_stdin_pump(struct sjob *j)
{
    while (j->stdin_w >= 0 && j->stdin_off < j->stdin_buf.len) {
        ssize_t n = write_nosigpipe(j->stdin_w, j->stdin_buf.buf + j->stdin_off,
                                    j->stdin_buf.len - j->stdin_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!j->stdin_armed) {
                j->stdin_watch.kind = W_STDIN;
                j->stdin_watch.ptr = j;
                j->stdin_armed = srv_watch(j->srv, j->stdin_w, &j->stdin_watch, EPOLLOUT) == 0;
            }
            return;
        }
        if (n <= 0) {
            /* The job no longer reads: what waits goes nowhere. */
            stdin_close(j);
            return;
        }
        j->stdin_off += (size_t)n;
    }
    if (j->stdin_armed) {
        srv_unwatch(j->srv, j->stdin_w);
        j->stdin_armed = false;
    }
    strbuf_reset(&j->stdin_buf);
    j->stdin_off = 0;
    if (j->stdin_eof)
        stdin_close(j);
}

enum MHD_Result api_exec(struct server *s, struct MHD_Connection *c, struct sbx *x,
                         const char *body, size_t len)
{
    struct strbuf why = STRBUF_INIT;
    struct exec_req er;
    struct sbvm_exec ex = { .size = sizeof(ex), .stdin_fd = -1 };
    struct sjob *j = NULL;
    struct stream *st = NULL;
    sbvm_error *e = NULL;
    int in_fd = -1, pipefd[2] = { -1, -1 }, r;
    unsigned status;
    enum MHD_Result ok;

    status = (unsigned)exec_req_parse(body, len, &er, &why);
    if (status) {
        ok = http_error(c, status, "exec: %s", why.buf);
        strbuf_release(&why);
        return ok;
    }
    strbuf_release(&why);
    if (x->state != SBX_READY || !sbx_alive(x)) {
        ok = http_error(c, 409, "sandbox %s has ended (%s)", x->id,
                        x->end_reason ? x->end_reason : "ended");
        goto out;
    }
    if (x->running >= s->o.max_jobs) {
        ok = http_error(c, 429, "sandbox %s runs %u jobs, the most this server allows (--max-jobs)",
                        x->id, x->running);
        goto out;
    }
    if (er.output_bytes > OUTPUT_MAX) {
        ok = http_error(c, 400, "exec: output_limit: at most %llu bytes on this server",
                        (unsigned long long)OUTPUT_MAX);
        goto out;
    }
    if (er.stdin_open) {
        if (er.stdin_len > 65536) {
            ok = http_error(c, 400,
                            "exec: with stdin_open, the first stdin is at most 64 KiB "
                            "(send more through .../stdin)");
            goto out;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0 || fcntl(pipefd[1], F_SETFL, O_NONBLOCK) < 0) {
            ok = http_error(c, 500, "exec: stdin: %s", errno_text(errno));
            goto out;
        }
        in_fd = pipefd[0];
    } else if (er.stdin_len) {
        in_fd = stdin_memfd(er.stdin_data, er.stdin_len);
        if (in_fd < 0) {
            ok = http_error(c, 500, "exec: stdin: %s", errno_text(-in_fd));
            goto out;
        }
    }
    j = calloc(1, sizeof(*j));
    if (!j || ARRAY_GROW(x->jobs, x->njobs + 1, &x->jobs_alloc) < 0) {
        free(j);
        j = NULL;
        ok = http_error(c, 500, "out of memory");
        goto out;
    }
    j->srv = s;
    j->sbx = x;
    j->id = x->next_job + 1;
    j->stdin_w = -1;
    j->keep = er.keep;
    j->detached = er.detach;
    j->terminal = er.terminal;
    j->start_real = now_real_ns();
    strbuf_init(&j->stdin_buf);
    j->argv = json_array();
    for (size_t i = 0; i < er.argv.n; i++)
        json_array_append_new(j->argv, json_string(er.argv.v[i]));
    if (!er.detach) {
        st = stream_new(s, c, !er.stream);
        if (!st) {
            sjob_free(j);
            j = NULL;
            ok = http_error(c, 500, "out of memory");
            goto out;
        }
        st->job = j;
        j->stream = st;
    }
    ex.argv = (const char *const *)er.argv.v;
    ex.env = er.env.n ? (const char *const *)er.env.v : NULL;
    ex.cwd = er.cwd;
    ex.name = er.name;
    ex.stdin_fd = in_fd;
    ex.terminal = er.terminal;
    ex.rows = er.rows;
    ex.cols = er.cols;
    ex.timeout_ms = er.timeout_ms;
    ex.output_bytes = er.output_bytes;
    ex.events = &j->events;
    j->events = job_events;
    j->events.ctx = j;
    /* Counted before: its end may be reported before exec returns. */
    x->running++;
    x->next_job++;
    x->jobs[x->njobs++] = j;
    r = sbvm_sandbox_exec(x->sb, &ex, &j->job, &e);
    if (r < 0) {
        x->running--;
        x->next_job--;
        x->njobs--;
        if (st) {
            j->stream = NULL;
            st->job = NULL;
            stream_release(st);
        }
        sjob_free(j);
        j = NULL;
        ok = http_sbvm_error(c, r, e, "exec");
        goto out;
    }
    if (er.stdin_open) {
        j->stdin_w = steal_fd(&pipefd[1]);
        if (er.stdin_len) {
            strbuf_add(&j->stdin_buf, er.stdin_data, er.stdin_len);
            sjob_stdin_pump(j);
        }
    }
    {
        char id[ID_MAX + 1];
        if (s->o.verbose)
            srv_log(s, "sandbox %s: job %s started", x->id, job_id(j, id));
    }
    if (er.detach) {
        ok = http_json(c, 202, sjob_json(j, false));
        goto out;
    }
    start_event(st, j);
    ok = stream_respond(st, j);
out:
    close_fd(&in_fd);
    close_fd(&pipefd[1]);
    exec_req_release(&er);
    return ok;
}

enum MHD_Result api_jobs(struct server *s, struct MHD_Connection *c, struct sbx *x)
{
    json_t *a = json_array();

    (void)s;
    for (size_t i = 0; i < x->njobs; i++)
        json_array_append_new(a, sjob_json(x->jobs[i], false));
    return http_json(c, 200, json_pack("{s:o}", "jobs", a));
}

static enum MHD_Result job_events_attach(struct server *s, struct MHD_Connection *c, struct sjob *j)
{
    struct stream *st;

    if (j->stream)
        return http_error(c, 409, "another client is reading this job's events");
    st = stream_new(s, c, false);
    if (!st)
        return http_error(c, 500, "out of memory");
    st->job = j;
    j->stream = st;
    start_event(st, j);
    if (j->done)
        stream_end(st, j);
    return stream_respond(st, j);
}

enum MHD_Result api_job(struct server *s, struct MHD_Connection *c, struct sbx *x,
                        const struct route *rt, const char *body, size_t len)
{
    struct strbuf why = STRBUF_INIT;
    struct sjob *j = sjob_find(x, rt->job);
    enum MHD_Result ok;

    if (!j)
        return http_error(c, 404, "no job %s in sandbox %s (finished jobs are kept: the last %d)",
                          rt->job, x->id, SBX_DONE_JOBS_KEPT);
    switch (rt->kind) {
    case R_JOB:
        if (rt->method == M_GET)
            return http_json(c, 200, sjob_json(j, true));
        /* DELETE: a running job is ended (its whole process tree); a
         * finished one is forgotten. */
        if (!j->done) {
            sbvm_job_signal(j->job, SIGKILL);
            return http_json(c, 202, sjob_json(j, false));
        }
        if (j->stream)
            return http_error(c, 409, "a client is still reading this job's events");
        {
            json_t *o = sjob_json(j, true);
            size_t keep = 0;
            for (size_t i = 0; i < x->njobs; i++)
                if (x->jobs[i] != j)
                    x->jobs[keep++] = x->jobs[i];
            x->njobs = keep;
            sjob_free(j);
            return http_json(c, 200, o);
        }
    case R_JOB_EVENTS:
        return job_events_attach(s, c, j);
    case R_JOB_SIGNAL: {
        int sig = signal_req_parse(body, len, &why);
        if (!sig) {
            ok = http_error(c, 400, "%s", why.buf);
            strbuf_release(&why);
            return ok;
        }
        if (j->done)
            return http_error(c, 409, "job %s has ended", rt->job);
        if (sbvm_job_signal(j->job, sig) < 0)
            return http_error(c, 409, "job %s: the signal could not be sent", rt->job);
        return http_json(c, 200, sjob_json(j, false));
    }
    case R_JOB_RESIZE: {
        unsigned short rows, cols;
        unsigned st = (unsigned)resize_req_parse(body, len, &rows, &cols, &why);
        if (st) {
            ok = http_error(c, st, "%s", why.buf);
            strbuf_release(&why);
            return ok;
        }
        if (!j->terminal)
            return http_error(c, 409, "job %s has no terminal", rt->job);
        if (j->done || sbvm_job_resize(j->job, rows, cols) < 0)
            return http_error(c, 409, "job %s: its terminal is gone", rt->job);
        return http_json(c, 200, sjob_json(j, false));
    }
    case R_JOB_STDIN: {
        const char *eof = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "eof");
        if (j->stdin_w < 0)
            return http_error(c, 409,
                              "job %s: its stdin is not open (exec with \"stdin_open\": true), "
                              "or was closed",
                              rt->job);
        if (j->stdin_buf.len - j->stdin_off + len > STDIN_PENDING_MAX)
            return http_error(c, 429, "job %s: %u bytes of stdin already wait for it to read",
                              rt->job, (unsigned)(j->stdin_buf.len - j->stdin_off));
        strbuf_add(&j->stdin_buf, body, len);
        if (eof && (streq(eof, "1") || streq(eof, "true")))
            j->stdin_eof = true;
        sjob_stdin_pump(j);
        return http_json(c, 200, sjob_json(j, false));
    }
    default:
        return http_error(c, 404, "no such path");
    }
}
