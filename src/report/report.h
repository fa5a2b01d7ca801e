/* SPDX-License-Identifier: MIT */
/* report.h: helpers shared by the report writers. */
#ifndef SBVM_REPORT_REPORT_H
#define SBVM_REPORT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "sandboxvm/sandboxvm.h"
#include "util/strbuf.h"

/* "2026-11-22T10:00:00.123Z" for a CLOCK_REALTIME value in ns. */
void report_format_time(int64_t ns, char *buf, size_t size);

/*
 * The details of one guest's end for people, as plain text (the caller
 * escapes for its medium): for each crash its summary and backtrace, the
 * denied call, the refused syscalls, the limit, and what it left behind.
 * Lines start with `indent`. Appends nothing when there is nothing to add.
 */
void report_details_text(struct strbuf *sb, const sbvm_result *r, const char *indent);

/* One guest of the JSON report (docs/REPORT-JSON.md, "A guest"): the
 * session server sends the same object as a job's result. */
struct json_t;
struct json_t *report_guest_json(size_t index, const sbvm_result *r);

#endif
