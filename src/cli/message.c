/* SPDX-License-Identifier: MIT */
/* message.c: how the sandboxvm command speaks: errors and text on a
 * terminal, with the control characters of guest-chosen strings defused. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "report/escape.h"
#include "util/strbuf.h"
#include "util/util.h"

static void vtext(int fd, const char *prefix, const char *fmt, va_list ap, bool newline)
{
    struct strbuf msg = STRBUF_INIT, out = STRBUF_INIT;

    strbuf_vaddf(&msg, fmt, ap);
    strbuf_addstr(&out, prefix);
    /* Messages quote command lines and guest-chosen names: on a terminal,
     * their control characters are shown, not obeyed. */
    if (isatty(fd) == 1)
        esc_append(&out, msg.buf, msg.len, ESC_TERMINAL);
    else
        strbuf_add(&out, msg.buf, msg.len);
    if (newline)
        strbuf_addch(&out, '\n');
    if (!strbuf_failed(&out))
        (void)write_full(fd, out.buf, out.len);
    strbuf_release(&msg);
    strbuf_release(&out);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    va_start(ap, fmt);
    vtext(2, "sandboxvm: ", fmt, ap, true);
    va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    va_start(ap, fmt);
    vtext(2, "sandboxvm: warning: ", fmt, ap, true);
    va_end(ap);
}

void cli_text(int fd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vtext(fd, "", fmt, ap, false);
    va_end(ap);
}

bool cli_color(int fd)
{
    const char *nc = getenv("NO_COLOR");
    const char *term = getenv("TERM");

    if (nc && *nc)
        return false;
    if (term && streq(term, "dumb"))
        return false;
    return isatty(fd) == 1;
}
