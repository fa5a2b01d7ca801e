/* SPDX-License-Identifier: MIT */
/*
 * json.c: the JSON report (schema: docs/REPORT-JSON.md), written with
 * jansson. Strings that come from a guest or a command line are made valid
 * UTF-8 first; jansson escapes quotes and control characters.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/guest.h"
#include "core/runner.h"
#include "report/escape.h"
#include "report/report.h"
#include "util/error.h"
#include "util/util.h"

/* A JSON string from arbitrary bytes; *lossy is set when bytes were
 * replaced. Never NULL unless out of memory. */
static json_t *jstr(const char *s, size_t len, bool *lossy)
{
    struct strbuf sb = STRBUF_INIT;
    json_t *j;
    bool changed = esc_append(&sb, s, len, ESC_JSON);

    if (lossy && changed)
        *lossy = true;
    if (strbuf_failed(&sb)) {
        strbuf_release(&sb);
        return NULL;
    }
    j = json_stringn(sb.buf, sb.len);
    strbuf_release(&sb);
    return j;
}

static json_t *jcstr(const char *s)
{
    return s ? jstr(s, strlen(s), NULL) : json_null();
}

static json_t *jtime(int64_t ns)
{
    char buf[64];
    report_format_time(ns, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *jms(int64_t ns)
{
    /* Microsecond resolution; more would be noise. */
    return json_real((double)(ns / 1000) / 1e3);
}

static json_t *stream_json(const struct result_stream *s)
{
    json_t *o = json_object();
    bool lossy = false;
    size_t tail_off = s->omitted ? s->head_len : s->len;

    json_object_set_new(o, "bytes", json_integer((json_int_t)s->total));
    json_object_set_new(o, "omitted_bytes", json_integer((json_int_t)s->omitted));
    json_object_set_new(o, "head", jstr(s->data ? s->data : "", tail_off, &lossy));
    json_object_set_new(o, "tail",
                        jstr(s->data ? s->data + tail_off : "", s->len - tail_off, &lossy));
    json_object_set_new(o, "lossy_utf8", json_boolean(lossy));
    return o;
}

static json_t *guest_json(size_t index, const sbvm_result *r)
{
    json_t *o = json_object();
    json_t *argv = json_array();

    json_object_set_new(o, "index", json_integer((json_int_t)index));
    json_object_set_new(o, "name", jcstr(r->name));
    for (size_t i = 0; i < r->argv.n; i++)
        json_array_append_new(argv, jcstr(r->argv.v[i]));
    json_object_set_new(o, "argv", argv);
    json_object_set_new(o, "outcome", json_string(sbvm_outcome_name(r->outcome)));
    json_object_set_new(o, "exit_status", json_integer(sbvm_result_exit_status(r)));
    json_object_set_new(o, "exit_code",
                        r->outcome == SBVM_OUTCOME_EXITED ? json_integer(r->exit_code)
                                                          : json_null());
    if (r->signal > 0) {
        json_t *sig = json_object();
        json_object_set_new(sig, "number", json_integer(r->signal));
        json_object_set_new(sig, "name", json_string(signal_name(r->signal)));
        json_object_set_new(sig, "description", json_string(signal_text(r->signal)));
        json_object_set_new(o, "signal", sig);
    } else {
        json_object_set_new(o, "signal", json_null());
    }
    json_object_set_new(o, "message", jcstr(sbvm_result_message(r)));
    if (r->stage) {
        json_t *setup = json_object();
        json_object_set_new(setup, "stage", json_string(r->stage));
        json_object_set_new(setup, "errno", json_integer(r->setup_errno));
        json_object_set_new(setup, "errno_name",
                            r->setup_errno ? json_string(errno_name(r->setup_errno)) : json_null());
        json_object_set_new(o, "setup", setup);
    } else {
        json_object_set_new(o, "setup", json_null());
    }
    json_object_set_new(o, "started_at", jtime(r->start_ns));
    json_object_set_new(o, "duration_ms", jms(r->duration_ns));
    json_object_set_new(o, "stdout", stream_json(&r->out));
    json_object_set_new(o, "stderr", stream_json(&r->err));
    return o;
}

SBVM_API int sbvm_report_json(const sbvm_runner *rn, FILE *f, sbvm_error **err)
{
    json_t *root = json_object(), *guests = json_array(), *host = json_object();
    struct utsname u;
    int r;

    if (!root || !guests || !host) {
        json_decref(root);
        json_decref(guests);
        json_decref(host);
        return error_set(err, ENOMEM, "writing the JSON report: out of memory");
    }
    json_object_set_new(root, "schema", json_string("sandboxvm-report"));
    json_object_set_new(root, "schema_version", json_integer(SBVM_REPORT_SCHEMA_VERSION));
    json_object_set_new(root, "sandboxvm_version", json_string(SBVM_VERSION));
    json_object_set_new(root, "started_at", jtime(rn->start_real));
    json_object_set_new(root, "duration_ms", jms(rn->duration_ns));
    json_object_set_new(root, "exit_status", json_integer(sbvm_runner_exit_status(rn)));
    if (uname(&u) == 0) {
        json_object_set_new(host, "kernel", jcstr(u.release));
        json_object_set_new(host, "machine", jcstr(u.machine));
    }
    json_object_set_new(host, "backend", json_string("process"));
    json_object_set_new(host, "privileged", json_boolean(geteuid() == 0));
    json_object_set_new(root, "host", host);
    for (size_t i = 0; i < rn->nguests; i++) {
        const sbvm_result *res = sbvm_runner_result(rn, i);
        if (res)
            json_array_append_new(guests, guest_json(i, res));
    }
    json_object_set_new(root, "guests", guests);
    r = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(root);
    if (r < 0 || fputc('\n', f) == EOF || fflush(f) == EOF)
        return error_sys(err, errno ? errno : EIO, "writing the JSON report");
    return 0;
}
