/* SPDX-License-Identifier: MIT */
/* text.c: the summary table for people, and shared time formatting. */
#include <stdio.h>
#include <time.h>

#include "core/guest.h"
#include "core/runner.h"
#include "report/escape.h"
#include "report/report.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

void report_format_time(int64_t ns, char *buf, size_t size)
{
    time_t secs = (time_t)(ns / 1000000000LL);
    struct tm tm;

    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, size, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((ns / 1000000LL) % 1000));
}

static void fmt_duration(int64_t ns, char *buf, size_t size)
{
    double ms = (double)ns / 1e6;

    if (ms < 1000)
        snprintf(buf, size, "%.1f ms", ms);
    else
        snprintf(buf, size, "%.2f s", ms / 1000);
}

SBVM_API int sbvm_report_summary(const sbvm_runner *rn, FILE *f, sbvm_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    size_t namew = 5, ok = 0, n = 0;
    char dur[32];

    for (size_t i = 0; i < rn->nguests; i++) {
        const sbvm_result *r = sbvm_runner_result(rn, i);
        if (r && strlen(r->name) > namew)
            namew = strlen(r->name);
    }
    strbuf_addf(&sb, "%-*s  %-14s  %6s  %9s  %s\n", (int)namew, "GUEST", "OUTCOME", "STATUS",
                "TIME", "DETAIL");
    for (size_t i = 0; i < rn->nguests; i++) {
        const sbvm_result *r = sbvm_runner_result(rn, i);
        const char *msg;
        if (!r)
            continue;
        n++;
        ok += sbvm_result_exit_status(r) == 0;
        msg = sbvm_result_message(r);
        fmt_duration(r->duration_ns, dur, sizeof(dur));
        strbuf_addf(&sb, "%-*s  %-14s  %6d  %9s  ", (int)namew, r->name,
                    sbvm_outcome_name(r->outcome), sbvm_result_exit_status(r), dur);
        /* Messages quote command lines, which are not ours to trust. */
        esc_append(&sb, msg, strlen(msg), ESC_TERMINAL);
        strbuf_addch(&sb, '\n');
    }
    fmt_duration(rn->duration_ns, dur, sizeof(dur));
    strbuf_addf(&sb, "%zu guest%s, %zu succeeded, %zu failed, %s in all; exit status %d\n", n,
                n == 1 ? "" : "s", ok, n - ok, dur, sbvm_runner_exit_status(rn));
    if (strbuf_failed(&sb)) {
        strbuf_release(&sb);
        return error_set(err, ENOMEM, "writing the summary: out of memory");
    }
    if (fwrite(sb.buf, 1, sb.len, f) != sb.len || fflush(f) == EOF) {
        int e = errno ? errno : EIO;
        strbuf_release(&sb);
        return error_sys(err, e, "writing the summary");
    }
    strbuf_release(&sb);
    return 0;
}
