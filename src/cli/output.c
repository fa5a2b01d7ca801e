/* SPDX-License-Identifier: MIT */
/* output.c: tagged, line-split, terminal-safe live output of guests. */
#include "cli/output.h"

#include <fcntl.h>
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

struct stream_state {
    char *line;
    size_t len;
    int file_fd;    /* --output-dir file, or -1 */
    uint64_t saved; /* bytes written to it */
    uint64_t cut;   /* bytes not written past its cap */
};

struct guest_out {
    char *name;
    struct stream_state s[2]; /* stdout, stderr */
};

struct output {
    struct output_opts o;
    struct guest_out *g;
    size_t n;
    int fd[2]; /* where each stream goes */
    bool tty[2];
    bool color[2];
    bool stdout_closed;
    int signal_fd;
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
    out->signal_fd = -1;
    out->g = calloc(nguests ? nguests : 1, sizeof(*out->g));
    if (!out->g) {
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < nguests; i++)
        for (int k = 0; k < 2; k++)
            out->g[i].s[k].file_fd = -1;
    out->fd[0] = o->stdout_fd == 2 ? 2 : 1;
    out->fd[1] = 2;
    for (int k = 0; k < 2; k++) {
        out->tty[k] = isatty(out->fd[k]) == 1;
        out->color[k] = cli_color(out->fd[k]);
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

void output_set_signal_fd(struct output *out, int fd)
{
    out->signal_fd = fd;
}

bool output_stdout_closed(const struct output *out)
{
    return out->stdout_closed;
}

const char *output_file_error(const struct output *out)
{
    return out->file_error[0] ? out->file_error : NULL;
}

static void emit(struct output *out, int k, const char *data, size_t len)
{
    int fd = out->fd[k];
    int r;

    if (fd == 1 && out->stdout_closed)
        return;
    r = write_full(fd, data, len);
    if (r == -EPIPE && fd == 1) {
        /* Whoever read our output is gone (`| head`): stop the guests as a
         * pipeline would, through the runner's signal path. */
        unsigned char sig = SIGPIPE;
        out->stdout_closed = true;
        if (out->signal_fd >= 0)
            (void)!write(out->signal_fd, &sig, 1);
    }
}

/* Writes one line (or piece) with its tag; `nl` adds the newline. */
static void write_line(struct output *out, size_t i, int k, const char *data, size_t len, bool nl)
{
    struct strbuf *b = &out->buf;

    strbuf_reset(b);
    if (out->o.tag) {
        if (out->color[k])
            strbuf_addf(b, "\033[%sm[%s]\033[0m ", k == 0 ? "36" : "33", out->g[i].name);
        else
            strbuf_addf(b, "[%s] ", out->g[i].name);
    }
    if (out->tty[k])
        esc_append(b, data, len, ESC_TERMINAL);
    else
        strbuf_add(b, data, len);
    if (nl)
        strbuf_addch(b, '\n');
    if (!strbuf_failed(b))
        emit(out, k, b->buf, b->len);
}

static void flush_partial(struct output *out, size_t i, int k)
{
    struct stream_state *st = &out->g[i].s[k];

    if (st->len) {
        write_line(out, i, k, st->line, st->len, true);
        st->len = 0;
    }
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
    if (!out->o.tag && !out->tty[k]) {
        /* Untagged to a pipe or file: the bytes exactly as produced. */
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
            flush_partial(out, index, k);
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
        flush_partial(out, index, k);
        close_fd(&out->g[index].s[k].file_fd);
    }
}
