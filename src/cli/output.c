/* SPDX-License-Identifier: MIT */
/* output.c: tagged, line-split, terminal-safe live output of guests. */
#include "cli/output.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "report/escape.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* A line longer than this is written in pieces, each tagged. */
#define LINE_MAX_BYTES 8192
/* A partial line (a prompt, a progress report) is shown once its stream
 * has been quiet this long: long enough that a line written in two pieces
 * is rarely split, short enough that a prompt appears before the user
 * wonders where it is. */
#define PARTIAL_IDLE_MS 50

struct stream_state {
    char *line;
    size_t len;
    int64_t since;  /* when the partial line last grew (ms, monotonic) */
    int file_fd;    /* --output-dir file, or -1 */
    uint64_t saved; /* bytes written to it */
    uint64_t cut;   /* bytes not written past its cap */
};

/* One of our own fds the guests' streams go to: stdout and stderr, or
 * stderr alone when a report takes stdout. */
struct sink {
    int fd;
    bool tty, color;
    int err;       /* the first write error (positive errno), or 0 */
    uint64_t lost; /* bytes not written since */
    /* A partial line shown without its newline: whose it is, so that its
     * rest follows untagged and anyone else's line starts on a new one. */
    bool mid;
    size_t mid_guest;
    int mid_stream;
};

struct guest_out {
    char *name;
    struct stream_state s[2]; /* stdout, stderr */
};

struct output {
    struct output_opts o;
    struct guest_out *g;
    size_t n;
    struct sink sink[2]; /* [0] our stdout, [1] our stderr */
    int sink_of[2];      /* each guest stream's sink */
    sbvm_runner *rn;
    bool timer_armed;
    char file_error[256];
    struct strbuf buf; /* reused for each write */
};

struct output *output_new(size_t nguests, const struct output_opts *o)
{
    struct output *out = calloc(1, sizeof(*out));

    if (!out)
        return NULL;
    out->o = *o;
    out->n = nguests;
    out->g = calloc(nguests ? nguests : 1, sizeof(*out->g));
    if (!out->g) {
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < nguests; i++)
        for (int k = 0; k < 2; k++)
            out->g[i].s[k].file_fd = -1;
    out->sink_of[0] = o->stdout_fd == 2 ? 1 : 0;
    out->sink_of[1] = 1;
    for (int k = 0; k < 2; k++) {
        out->sink[k].fd = k + 1;
        out->sink[k].tty = isatty(k + 1) == 1;
        out->sink[k].color = cli_color(k + 1);
    }
    strbuf_init(&out->buf);
    return out;
}

void output_free(struct output *out)
{
    if (!out)
        return;
    for (size_t i = 0; i < out->n; i++) {
        free(out->g[i].name);
        for (int k = 0; k < 2; k++) {
            free(out->g[i].s[k].line);
            close_fd(&out->g[i].s[k].file_fd);
        }
    }
    free(out->g);
    strbuf_release(&out->buf);
    free(out);
}

void output_set_runner(struct output *out, sbvm_runner *rn)
{
    out->rn = rn;
}

int output_lost(const struct output *out, int *which)
{
    for (int k = 0; k < 2; k++)
        if (out->sink[k].err) {
            if (which)
                *which = k + 1;
            return out->sink[k].err;
        }
    return 0;
}

const char *output_file_error(const struct output *out)
{
    return out->file_error[0] ? out->file_error : NULL;
}

static int64_t now_ms(void)
{
    return now_mono_ns() / 1000000;
}

/* write() to a fd that may be non-blocking (a file description shared
 * with another program): our writes block, as the guests' would. */
static int write_blocking(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            (void)poll(&pfd, 1, -1);
            continue;
        }
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void emit(struct output *out, int k, const char *data, size_t len)
{
    struct sink *sk = &out->sink[out->sink_of[k]];
    int r;

    if (sk->err) {
        sk->lost += len;
        return;
    }
    r = write_blocking(sk->fd, data, len);
    if (r < 0) {
        /* Our reader is gone (`| head`) or the disk is full: what the
         * guests write there goes nowhere, so they are told as a pipeline
         * would tell them, on their own next write (EPIPE). */
        sk->err = -r;
        sk->lost += len;
        for (int s = 0; s < 2; s++)
            if (out->sink_of[s] == out->sink_of[k] && out->rn)
                sbvm_runner_close_stream(out->rn, SBVM_ALL_GUESTS, s ? SBVM_STDERR : SBVM_STDOUT);
    }
}

/* Length of data[0..len) without an incomplete UTF-8 sequence at its end
 * (which the rest of the line may complete). */
static size_t utf8_whole(const char *data, size_t len)
{
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned char c = (unsigned char)data[len - back];
        size_t need;
        if ((c & 0xc0) == 0x80)
            continue; /* a continuation byte: look further back */
        need = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
        return need > back ? len - back : len;
    }
    return len;
}

/* Writes one line (or piece) with its tag; `nl` ends it. A piece without
 * its newline leaves the sink mid-line, owned by this stream. */
static void write_line(struct output *out, size_t i, int k, const char *data, size_t len, bool nl)
{
    struct sink *sk = &out->sink[out->sink_of[k]];
    struct strbuf *b = &out->buf;
    bool cont = sk->mid && sk->mid_guest == i && sk->mid_stream == k;

    strbuf_reset(b);
    if (sk->mid && !cont)
        strbuf_addch(b, '\n'); /* someone else's line was left open */
    if (out->o.tag && !cont) {
        if (sk->color)
            strbuf_addf(b, "\033[%sm[%s]\033[0m ", k == 0 ? "36" : "33", out->g[i].name);
        else
            strbuf_addf(b, "[%s] ", out->g[i].name);
    }
    if (sk->tty && !out->o.raw)
        esc_append(b, data, len, ESC_TERMINAL);
    else
        strbuf_add(b, data, len);
    if (nl)
        strbuf_addch(b, '\n');
    sk->mid = !nl;
    sk->mid_guest = i;
    sk->mid_stream = k;
    if (!strbuf_failed(b))
        emit(out, k, b->buf, b->len);
}

/* Shows what is held of a line: all of it, ended, or (`nl` false) what
 * is whole of it, left open for its rest. */
static void flush_partial(struct output *out, size_t i, int k, bool nl)
{
    struct stream_state *st = &out->g[i].s[k];
    size_t take = nl ? st->len : utf8_whole(st->line, st->len);

    const struct sink *sk = &out->sink[out->sink_of[k]];

    /* (Ended with nothing held: only its own open line needs ending.) */
    if (take || (nl && sk->mid && sk->mid_guest == i && sk->mid_stream == k))
        write_line(out, i, k, st->line, take, nl);
    if (take) { /* (nothing held may mean no buffer yet) */
        memmove(st->line, st->line + take, st->len - take);
        st->len -= take;
    }
}

static void arm_idle(struct output *out, int64_t delay_ms);

static void on_idle(void *ctx)
{
    struct output *out = ctx;
    int64_t now = now_ms(), next = -1;

    out->timer_armed = false;
    for (size_t i = 0; i < out->n; i++)
        for (int k = 0; k < 2; k++) {
            struct stream_state *st = &out->g[i].s[k];
            int64_t left;
            if (!st->len)
                continue;
            left = st->since + PARTIAL_IDLE_MS - now;
            if (left <= 0)
                flush_partial(out, i, k, false);
            else if (next < 0 || left < next)
                next = left;
        }
    if (next >= 0)
        arm_idle(out, next);
}

static void arm_idle(struct output *out, int64_t delay_ms)
{
    if (out->timer_armed || !out->rn)
        return;
    out->timer_armed = sbvm_runner_set_timer(out->rn, (int)delay_ms, on_idle, out) == 0;
}

void output_on_start(void *ctx, size_t index, const char *name)
{
    struct output *out = ctx;
    static const char *const ext[2] = { "stdout", "stderr" };

    if (index >= out->n)
        return;
    free(out->g[index].name);
    out->g[index].name = strdup(name);
    if (out->o.dir_fd < 0)
        return;
    for (int k = 0; k < 2; k++) {
        char file[128];
        int fd;
        snprintf(file, sizeof(file), "%s.%s", name, ext[k]);
        /* Names are validated ([A-Za-z0-9._-], no leading dot), so this
         * stays inside the directory; O_NOFOLLOW refuses a planted link. */
        fd = openat(out->o.dir_fd, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0644);
        if (fd < 0 && !out->file_error[0])
            snprintf(out->file_error, sizeof(out->file_error), "writing %s: %s", file,
                     errno_text(errno));
        out->g[index].s[k].file_fd = fd;
    }
}

void output_on_data(void *ctx, size_t index, enum sbvm_stream s, const void *data, size_t len)
{
    struct output *out = ctx;
    int k = s == SBVM_STDERR ? 1 : 0;
    struct stream_state *st;
    const char *p = data;

    if (index >= out->n)
        return;
    st = &out->g[index].s[k];
    if (st->file_fd >= 0) {
        size_t keep = len;
        if (st->saved + keep > out->o.file_cap) {
            keep = st->saved < out->o.file_cap ? (size_t)(out->o.file_cap - st->saved) : 0;
            st->cut += len - keep;
        }
        if (keep && write_full(st->file_fd, data, keep) < 0) {
            if (!out->file_error[0])
                snprintf(out->file_error, sizeof(out->file_error), "writing the output of %s: %s",
                         out->g[index].name, errno_text(errno));
            close_fd(&st->file_fd);
        }
        st->saved += keep;
    }
    if (!out->o.tag && (!out->sink[out->sink_of[k]].tty || out->o.raw)) {
        /* Untagged to a pipe or file, or raw on request: the bytes
         * exactly as produced. */
        emit(out, k, data, len);
        return;
    }
    if (!st->line && !(st->line = malloc(LINE_MAX_BYTES)))
        return;
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t take = nl ? (size_t)(nl - p) : len;

        if (st->len + take >= LINE_MAX_BYTES) {
            size_t room = LINE_MAX_BYTES - st->len;
            memcpy(st->line + st->len, p, room);
            st->len += room;
            flush_partial(out, index, k, true);
            p += room;
            len -= room;
            continue;
        }
        memcpy(st->line + st->len, p, take);
        st->len += take;
        p += take;
        len -= take;
        if (nl) {
            write_line(out, index, k, st->line, st->len, true);
            st->len = 0;
            p++;
            len--;
        }
    }
    if (st->len && !out->o.tag) {
        /* Untagged on a terminal: nothing to keep a line together for. */
        flush_partial(out, index, k, false);
    } else if (st->len) {
        st->since = now_ms();
        arm_idle(out, PARTIAL_IDLE_MS);
    }
}

void output_report_cuts(const struct output *out, const char *dir)
{
    static const char *const ext[2] = { "stdout", "stderr" };

    for (size_t i = 0; i < out->n; i++)
        for (int k = 0; k < 2; k++)
            if (out->g[i].s[k].cut)
                cli_warning("--output-dir: %s/%s.%s holds the first %llu bytes; %llu more were "
                            "not saved (--output-dir-limit)",
                            dir, out->g[i].name ? out->g[i].name : "?", ext[k],
                            (unsigned long long)out->g[i].s[k].saved,
                            (unsigned long long)out->g[i].s[k].cut);
}

void output_on_end(void *ctx, size_t index, const sbvm_result *r)
{
    struct output *out = ctx;

    (void)r;
    if (index >= out->n)
        return;
    /* A last line without its newline still gets shown, and ended. */
    for (int k = 0; k < 2; k++) {
        flush_partial(out, index, k, true);
        close_fd(&out->g[index].s[k].file_fd);
    }
}
