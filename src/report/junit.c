/* SPDX-License-Identifier: MIT */
/*
 * junit.c: JUnit XML, the format CI systems read: one testsuite for the run,
 * one testcase per guest. A guest that exited non-zero is a <failure>; one
 * that crashed, was denied, hit a limit, was killed or never started is an
 * <error>. Captured output goes to <system-out> and <system-err>. Everything
 * that came from a guest or a command line is escaped for XML 1.0, which
 * cannot carry most control characters at all (escape.h).
 */
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "core/result.h"
#include "report/escape.h"
#include "report/report.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

static void xml(struct strbuf *sb, const char *s, size_t len)
{
    esc_append(sb, s, len, ESC_XML);
}

static void xmlstr(struct strbuf *sb, const char *s)
{
    xml(sb, s, strlen(s));
}

static bool is_failure(const sbvm_result *r)
{
    return r->outcome == SBVM_OUTCOME_EXITED && r->exit_code != 0;
}

static bool is_error(const sbvm_result *r)
{
    return r->outcome != SBVM_OUTCOME_EXITED;
}

static void stream_xml(struct strbuf *sb, const char *tag, const struct result_stream *s)
{
    size_t tail_off = s->omitted ? s->head_len : s->len;

    if (s->total == 0)
        return;
    strbuf_addf(sb, "      <%s>", tag);
    xml(sb, s->data ? s->data : "", tail_off);
    if (s->omitted)
        strbuf_addf(sb, "\n[sandboxvm: %llu bytes omitted]\n", (unsigned long long)s->omitted);
    xml(sb, s->data ? s->data + tail_off : "", s->len - tail_off);
    strbuf_addf(sb, "</%s>\n", tag);
}

static void testcase(struct strbuf *sb, const sbvm_result *r)
{
    const char *msg = sbvm_result_message(r);

    strbuf_addstr(sb, "    <testcase name=\"");
    xmlstr(sb, r->name);
    strbuf_addf(sb, "\" classname=\"sandboxvm\" time=\"%.6f\">\n", (double)r->duration_ns / 1e9);
    if (is_failure(r) || is_error(r)) {
        const char *tag = is_failure(r) ? "failure" : "error";
        strbuf_addf(sb, "      <%s message=\"", tag);
        xmlstr(sb, msg);
        strbuf_addf(sb, "\" type=\"%s\">", sbvm_outcome_name(r->outcome));
        strbuf_addstr(sb, "command:");
        for (size_t i = 0; i < r->argv.n; i++) {
            strbuf_addch(sb, ' ');
            xmlstr(sb, r->argv.v[i]);
        }
        strbuf_addf(sb, "\noutcome: %s\nexit status: %d\n", sbvm_outcome_name(r->outcome),
                    sbvm_result_exit_status(r));
        xmlstr(sb, msg);
        {
            struct strbuf d = STRBUF_INIT;
            report_details_text(&d, r, "");
            if (d.len) {
                strbuf_addch(sb, '\n');
                xml(sb, d.buf, d.len);
            }
            strbuf_release(&d);
        }
        strbuf_addf(sb, "</%s>\n", tag);
    }
    stream_xml(sb, "system-out", &r->out);
    stream_xml(sb, "system-err", &r->err);
    strbuf_addstr(sb, "    </testcase>\n");
}

SBVM_API int sbvm_report_junit(const sbvm_runner *rn, FILE *f, sbvm_error **err)
{
    struct strbuf sb = STRBUF_INIT;
    size_t failures = 0, errors = 0, tests = 0;
    char ts[64], host[HOST_NAME_MAX + 1] = "localhost";
    double secs = (double)sbvm_runner_duration_ns(rn) / 1e9;

    for (size_t i = 0; i < sbvm_runner_count(rn); i++) {
        const sbvm_result *r = sbvm_runner_result(rn, i);
        if (!r)
            continue;
        tests++;
        failures += is_failure(r);
        errors += is_error(r);
    }
    report_format_time(sbvm_runner_start_ns(rn), ts, sizeof(ts));
    if (gethostname(host, sizeof(host)) < 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';

    strbuf_addstr(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    strbuf_addf(&sb,
                "<testsuites name=\"sandboxvm\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                "time=\"%.6f\">\n",
                tests, failures, errors, secs);
    strbuf_addf(&sb,
                "  <testsuite name=\"sandboxvm run\" tests=\"%zu\" failures=\"%zu\" "
                "errors=\"%zu\" skipped=\"0\" time=\"%.6f\" timestamp=\"%s\" hostname=\"",
                tests, failures, errors, secs, ts);
    xmlstr(&sb, host);
    strbuf_addstr(&sb, "\">\n");
    strbuf_addf(&sb,
                "    <properties>\n      <property name=\"sandboxvm.version\" "
                "value=\"%s\"/>\n    </properties>\n",
                SBVM_VERSION);
    for (size_t i = 0; i < sbvm_runner_count(rn); i++) {
        const sbvm_result *r = sbvm_runner_result(rn, i);
        if (r)
            testcase(&sb, r);
    }
    strbuf_addstr(&sb, "  </testsuite>\n</testsuites>\n");
    if (strbuf_failed(&sb)) {
        strbuf_release(&sb);
        return error_set(err, ENOMEM, "writing the JUnit report: out of memory");
    }
    if (fwrite(sb.buf, 1, sb.len, f) != sb.len || fflush(f) == EOF) {
        int e = errno ? errno : EIO;
        strbuf_release(&sb);
        return error_sys(err, e, "writing the JUnit report");
    }
    strbuf_release(&sb);
    return 0;
}
