/* SPDX-License-Identifier: MIT */
/* error.c: the library's error objects. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/util.h"

/* Used when even the error message cannot be allocated. */
static const char oom_text[] = "out of memory while reporting an error";

const char *errno_text(int errnum)
{
    const char *s = strerrordesc_np(errnum);
    return s ? s : "Unknown error";
}

const char *errno_name(int errnum)
{
    const char *s = strerrorname_np(errnum);
    return s ? s : "E?";
}

static int error_vmake(sbvm_error **err, int errnum, bool with_errno, const char *fmt, va_list ap)
{
    struct strbuf sb = STRBUF_INIT;
    sbvm_error *e;

    if (errnum <= 0)
        errnum = EIO;
    if (!err)
        return -errnum;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -errnum;
    strbuf_vaddf(&sb, fmt, ap);
    if (with_errno)
        strbuf_addf(&sb, ": %s", errno_text(errnum));
    e->code = errnum;
    e->msg = strbuf_detach(&sb, NULL);
    if (*err)
        sbvm_error_free(*err);
    *err = e;
    return -errnum;
}

int error_set(sbvm_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = error_vmake(err, errnum, false, fmt, ap);
    va_end(ap);
    return r;
}

int error_sys(sbvm_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = error_vmake(err, errnum, true, fmt, ap);
    va_end(ap);
    return r;
}

int error_wrap(sbvm_error **err, int fallback, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    char *msg;

    if (!err)
        return fallback < 0 ? fallback : -EIO;
    if (!*err) {
        int code = fallback < 0 ? -fallback : EIO;
        va_start(ap, fmt);
        error_vmake(err, code, true, fmt, ap);
        va_end(ap);
        return -code;
    }
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    strbuf_addf(&sb, ": %s", sbvm_error_message(*err));
    msg = strbuf_detach(&sb, NULL);
    if (msg) {
        free((*err)->msg);
        (*err)->msg = msg;
    }
    return -(*err)->code;
}

int error_vfield(sbvm_error **err, int errnum, const char *lead, const char *where,
                 const char *field, const char *fmt, va_list ap)
{
    struct strbuf sb = STRBUF_INIT;
    int r;

    strbuf_vaddf(&sb, fmt, ap);
    r = error_set(err, errnum, "%s%s: %s: %s", lead, where, field,
                  strbuf_failed(&sb) ? "refused" : sb.buf);
    strbuf_release(&sb);
    return r;
}

SBVM_API int sbvm_error_code(const sbvm_error *e)
{
    return e ? e->code : 0;
}

SBVM_API const char *sbvm_error_message(const sbvm_error *e)
{
    if (!e)
        return "";
    return e->msg ? e->msg : oom_text;
}

SBVM_API void sbvm_error_free(sbvm_error *e)
{
    if (!e)
        return;
    free(e->msg);
    free(e);
}
