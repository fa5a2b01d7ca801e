/* SPDX-License-Identifier: MIT */
/*
 * error.h: building sbvm_error values inside the library.
 *
 * Each helper returns the negative errno so a failure site reads
 * `return error_sys(err, errno, "opening %s", path);`. A NULL `err` is fine.
 */
#ifndef SBVM_UTIL_ERROR_H
#define SBVM_UTIL_ERROR_H

#include <stdarg.h>

#include "sandboxvm/sandboxvm.h"

struct sbvm_error {
    int code;
    char *msg;
};

/* The message is exactly the formatted text. */
int error_set(sbvm_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The formatted text followed by ": <strerror(errnum)>". */
int error_sys(sbvm_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing error with "<text>: "; returns -code. When no error is
 * set yet, sets one from `fallback` (a negative errno). */
int error_wrap(sbvm_error **err, int fallback, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A refused field of a file the caller parses: "<lead><where>: <field>:
 * <formatted text>" (lead may be ""), for the parsers' own variadic
 * helpers. */
int error_vfield(sbvm_error **err, int errnum, const char *lead, const char *where,
                 const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

/* A thread-safe, never-NULL description of an errno value. */
const char *errno_text(int errnum);
/* The symbolic name ("ENOENT"), or "E?" when unknown. */
const char *errno_name(int errnum);

#endif
