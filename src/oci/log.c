/* SPDX-License-Identifier: MIT */
/*
 * log.c: the runtime's log (--log, --log-format). Engines read it: containerd's
 * shim takes the last "error" line of a JSON log as the reason a command
 * failed; conmon shows what a failed `create` wrote on stderr. So errors go
 * to both; warnings, notes and crash reports only to the log.
 */
#include "oci/oci.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/util.h"

static int log_fd = -1;
static bool log_json, log_debug;

void oci_log_open(const char *path, bool json, bool debug)
{
    oci_log_close();
    log_json = json;
    log_debug = debug;
    if (path && *path)
        log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
}

void oci_log_close(void)
{
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
}

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static void stamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

static void vlog(enum oci_level lv, const char *fmt, va_list ap)
{
    struct strbuf msg = STRBUF_INIT, line = STRBUF_INIT;
    char ts[48];

    if (lv == OCI_DEBUG && !log_debug)
        return;
    strbuf_vaddf(&msg, fmt, ap);
    if (strbuf_failed(&msg))
        return;
    if (lv == OCI_ERROR) {
        strbuf_addf(&line, "sandboxvm: %s\n", msg.buf);
        if (!strbuf_failed(&line))
            (void)write_full(STDERR_FILENO, line.buf, line.len);
        strbuf_reset(&line);
    }
    if (log_fd >= 0) {
        stamp(ts, sizeof(ts));
        if (log_json) {
            json_t *o =
                json_pack("{s:s, s:s, s:s}", "level", level_names[lv], "msg", msg.buf, "time", ts);
            char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
            if (text) {
                strbuf_addf(&line, "%s\n", text);
                free(text);
            }
            json_decref(o);
        } else {
            strbuf_addf(&line, "%s %s: %s\n", ts, level_names[lv], msg.buf);
        }
        /* One write per line: several processes append to the same log. */
        if (!strbuf_failed(&line) && line.len)
            (void)write_full(log_fd, line.buf, line.len);
    }
    strbuf_release(&msg);
    strbuf_release(&line);
}

void oci_log(enum oci_level lv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(lv, fmt, ap);
    va_end(ap);
}

int oci_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(OCI_ERROR, fmt, ap);
    va_end(ap);
    return 1;
}

int oci_fail_err(sbvm_error *e, const char *what)
{
    if (what)
        oci_log(OCI_ERROR, "%s: %s", what, e ? sbvm_error_message(e) : "failed");
    else
        oci_log(OCI_ERROR, "%s", e ? sbvm_error_message(e) : "failed");
    sbvm_error_free(e);
    return 1;
}
