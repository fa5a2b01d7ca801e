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

#include "core/result.h"
#include "report/escape.h"
#include "util/strbuf.h"
#include "net/broker.h"
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

static json_t *jhex(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
    return json_string(buf);
}

static json_t *signal_json(int sig)
{
    json_t *o = json_object();
    json_object_set_new(o, "number", json_integer(sig));
    json_object_set_new(o, "name", json_string(signal_name(sig)));
    json_object_set_new(o, "description", json_string(signal_text(sig)));
    return o;
}

static json_t *mapping_json(const struct sbvm_mapping *m)
{
    json_t *o;

    if (!m)
        return json_null();
    o = json_object();
    json_object_set_new(o, "start", jhex(m->start));
    json_object_set_new(o, "end", jhex(m->end));
    json_object_set_new(o, "offset", jhex(m->offset));
    json_object_set_new(o, "perms", json_string(m->perms));
    json_object_set_new(o, "path", jcstr(m->path));
    return o;
}

static json_t *crash_json(const sbvm_crash *c)
{
    json_t *o = json_object(), *code = json_object(), *regs = json_object(), *bt = json_array();
    const char *const *names;
    const uint64_t *values;
    const uint8_t *bytes;
    size_t n;
    int has;
    uint64_t addr = sbvm_crash_address(c, &has);
    struct strbuf hex = STRBUF_INIT;

    json_object_set_new(o, "pid", json_integer(sbvm_crash_pid(c)));
    json_object_set_new(o, "tid", json_integer(sbvm_crash_tid(c)));
    json_object_set_new(o, "thread", jcstr(sbvm_crash_thread_name(c)));
    json_object_set_new(o, "guest", json_boolean(sbvm_crash_is_guest(c)));
    json_object_set_new(o, "signal", signal_json(sbvm_crash_signal(c)));
    json_object_set_new(code, "value", json_integer(sbvm_crash_code(c)));
    json_object_set_new(code, "name", json_string(sbvm_crash_code_name(c)));
    json_object_set_new(code, "description", json_string(sbvm_crash_code_text(c)));
    json_object_set_new(o, "code", code);
    json_object_set_new(o, "address", has ? jhex(addr) : json_null());
    json_object_set_new(o, "pc", jhex(sbvm_crash_pc(c)));
    json_object_set_new(o, "summary", jcstr(sbvm_crash_summary(c)));
    n = sbvm_crash_registers(c, &names, &values);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(regs, names[i], jhex(values[i]));
    json_object_set_new(o, "registers", regs);
    n = sbvm_crash_instruction(c, &bytes);
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&hex, i ? " %02x" : "%02x", bytes[i]);
    json_object_set_new(o, "instruction", json_string(hex.buf));
    strbuf_release(&hex);
    json_object_set_new(o, "pc_mapping", mapping_json(sbvm_crash_pc_mapping(c)));
    json_object_set_new(o, "address_mapping", mapping_json(sbvm_crash_address_mapping(c)));
    for (size_t i = 0; i < sbvm_crash_frame_count(c); i++) {
        const struct sbvm_frame *f = sbvm_crash_frame(c, i);
        json_t *fr = json_object();
        json_object_set_new(fr, "pc", jhex(f->pc));
        json_object_set_new(fr, "function", jcstr(f->function));
        json_object_set_new(fr, "function_offset",
                            f->function ? jhex(f->function_offset) : json_null());
        json_object_set_new(fr, "module", jcstr(f->module));
        json_object_set_new(fr, "module_offset", f->module ? jhex(f->module_offset) : json_null());
        json_object_set_new(fr, "file", jcstr(f->file));
        json_object_set_new(fr, "line", f->line ? json_integer(f->line) : json_null());
        json_array_append_new(bt, fr);
    }
    json_object_set_new(o, "backtrace", bt);
    json_object_set_new(o, "unwind_error", jcstr(sbvm_crash_unwind_error(c)));
    return o;
}

static json_t *limits_json(const sbvm_result *r)
{
    json_t *o = json_object();

    for (int l = 0; l < SBVM_LIMIT__COUNT; l++) {
        const char *m = sbvm_result_limit_mechanism(r, (enum sbvm_limit)l);
        if (m)
            json_object_set_new(o, sbvm_limit_name((enum sbvm_limit)l), json_string(m));
    }
    return o;
}

static json_t *ledger_json(const sbvm_result *r)
{
    json_t *o = json_object(), *a;
    const struct sbvm_left_process *p;
    const struct sbvm_left_fd *f;
    const struct sbvm_left_listener *l;
    const struct sbvm_left_file *fi;
    const char *src = NULL;
    uint64_t user, sys, peak = sbvm_result_peak_memory(r, &src);
    size_t n;

    a = json_array();
    n = sbvm_result_left_processes(r, &p);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        char st[2] = { p[i].state, 0 };
        json_object_set_new(e, "pid", json_integer(p[i].pid));
        json_object_set_new(e, "argv", jcstr(p[i].argv));
        json_object_set_new(e, "state", json_string(st));
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "processes", a);
    a = json_array();
    n = sbvm_result_left_fds(r, &f);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "pid", json_integer(f[i].pid));
        json_object_set_new(e, "fd", json_integer(f[i].fd));
        json_object_set_new(e, "kind", json_string(f[i].kind));
        json_object_set_new(e, "target", jcstr(f[i].target));
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "fds", a);
    a = json_array();
    n = sbvm_result_left_listeners(r, &l);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "pid", l[i].pid >= 0 ? json_integer(l[i].pid) : json_null());
        json_object_set_new(e, "proto", json_string(l[i].proto));
        json_object_set_new(e, "local", jcstr(l[i].local));
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "listeners", a);
    a = json_array();
    n = sbvm_result_left_files(r, &fi);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "path", jcstr(fi[i].path));
        json_object_set_new(e, "kind", json_string(fi[i].kind));
        json_object_set_new(e, "size", json_integer((json_int_t)fi[i].size));
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "files", a);
    json_object_set_new(o, "truncated", json_boolean(sbvm_result_left_truncated(r)));
    json_object_set_new(o, "peak_memory_bytes",
                        peak ? json_integer((json_int_t)peak) : json_null());
    json_object_set_new(o, "peak_memory_source", jcstr(src));
    sbvm_result_cpu_time_us(r, &user, &sys);
    json_object_set_new(o, "cpu_user_us", json_integer((json_int_t)user));
    json_object_set_new(o, "cpu_system_us", json_integer((json_int_t)sys));
    return o;
}

static json_t *network_json(const sbvm_result *r)
{
    static const char *const modes[] = { "none", "host", "allow" };
    const struct sbvm_net_attempt *v;
    size_t n = sbvm_result_net_attempts(r, &v);
    enum sbvm_net m = sbvm_result_net_mode(r);
    json_t *o = json_object(), *a = json_array();

    json_object_set_new(o, "mode", json_string(m <= SBVM_NET_ALLOW ? modes[m] : "none"));
    json_object_set_new(o, "proxy", m == SBVM_NET_ALLOW ? json_string(NET_PROXY_URL) : json_null());
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "method", jcstr(v[i].method));
        json_object_set_new(e, "host", jcstr(v[i].host));
        json_object_set_new(e, "port", json_integer(v[i].port));
        json_object_set_new(e, "allowed", json_boolean(v[i].allowed));
        json_object_set_new(e, "reason", jcstr(v[i].reason));
        json_object_set_new(e, "address", jcstr(v[i].address));
        json_object_set_new(e, "status", v[i].status ? json_integer(v[i].status) : json_null());
        json_object_set_new(e, "bytes_up", json_integer((json_int_t)v[i].bytes_up));
        json_object_set_new(e, "bytes_down", json_integer((json_int_t)v[i].bytes_down));
        json_object_set_new(e, "duration_ms", jms(v[i].duration_ns));
        json_object_set_new(e, "secrets_injected", json_integer(v[i].secrets));
        json_object_set_new(e, "path", jcstr(v[i].path));
        json_object_set_new(e, "intercepted", json_boolean(v[i].intercepted));
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "attempts", a);
    json_object_set_new(o, "attempts_not_recorded",
                        json_integer((json_int_t)sbvm_result_net_attempts_dropped(r)));
    return o;
}

json_t *report_guest_json(size_t index, const sbvm_result *r)
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
    json_object_set_new(o, "signal", r->signal > 0 ? signal_json(r->signal) : json_null());
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
    {
        json_t *crashes = json_array(), *ref = json_array(), *limit;
        const struct sbvm_denial *d = sbvm_result_denial(r);
        uint64_t value, observed;
        int l = sbvm_result_limit(r, &value, &observed);

        for (size_t i = 0; i < sbvm_result_crash_count(r); i++)
            json_array_append_new(crashes, crash_json(sbvm_result_crash(r, i)));
        json_object_set_new(o, "crashes", crashes);
        json_object_set_new(o, "crashes_not_recorded",
                            json_integer(sbvm_result_crashes_not_recorded(r)));
        json_object_set_new(o, "forensics_note", jcstr(sbvm_result_forensics_note(r)));
        json_object_set_new(o, "channel_error", jcstr(sbvm_result_channel_error(r)));
        for (size_t i = 0; i < sbvm_result_refusal_count(r); i++) {
            const struct sbvm_refusal *f = sbvm_result_refusal(r, i);
            json_t *e = json_object();
            json_object_set_new(e, "syscall", jcstr(f->name));
            json_object_set_new(e, "number", f->nr >= 0 ? json_integer(f->nr) : json_null());
            json_object_set_new(e, "count", json_integer(f->count));
            json_object_set_new(e, "errno", json_integer(f->err));
            json_object_set_new(e, "errno_name", json_string(errno_name(f->err)));
            json_array_append_new(ref, e);
        }
        json_object_set_new(o, "refused_syscalls", ref);
        if (d) {
            json_t *dj = json_object(), *args = json_array();
            json_object_set_new(dj, "syscall", jcstr(d->name));
            json_object_set_new(dj, "number", json_integer(d->nr));
            json_object_set_new(dj, "abi", jcstr(d->abi));
            json_object_set_new(dj, "pid", json_integer(d->pid));
            for (int i = 0; i < 6; i++)
                json_array_append_new(args, jhex(d->args[i]));
            json_object_set_new(dj, "args", args);
            json_object_set_new(dj, "pc", jhex(d->pc));
            json_object_set_new(o, "denied", dj);
        } else {
            json_object_set_new(o, "denied", json_null());
        }
        if (l >= 0) {
            limit = json_object();
            json_object_set_new(limit, "name", json_string(sbvm_limit_name((enum sbvm_limit)l)));
            json_object_set_new(limit, "value", json_integer((json_int_t)value));
            json_object_set_new(limit, "observed", json_integer((json_int_t)observed));
            json_object_set_new(limit, "unit",
                                json_string(l == SBVM_LIMIT_TIME || l == SBVM_LIMIT_CPU ? "ms"
                                            : l == SBVM_LIMIT_PIDS || l == SBVM_LIMIT_FILES
                                                ? "count"
                                                : "bytes"));
            json_object_set_new(limit, "mechanism",
                                jcstr(sbvm_result_limit_mechanism(r, (enum sbvm_limit)l)));
            json_object_set_new(o, "limit", limit);
        } else {
            json_object_set_new(o, "limit", json_null());
        }
        json_object_set_new(o, "limits", limits_json(r));
        json_object_set_new(o, "ledger", ledger_json(r));
        {
            const char *why, *kept = sbvm_result_kept(r, &why);
            json_t *k = json_null();
            if (kept || why) {
                k = json_object();
                json_object_set_new(k, "path", jcstr(kept));
                json_object_set_new(k, "error", jcstr(why));
            }
            json_object_set_new(o, "kept", k);
        }
        json_object_set_new(o, "network", network_json(r));
        {
            const struct sbvm_copy *cv;
            size_t nc = sbvm_result_copies(r, &cv);
            json_t *a = json_array();
            for (size_t i = 0; i < nc; i++) {
                json_t *e = json_object();
                json_object_set_new(e, "direction", json_string(cv[i].out ? "out" : "in"));
                json_object_set_new(e, "guest", jcstr(cv[i].guest));
                json_object_set_new(e, "host", jcstr(cv[i].host));
                json_object_set_new(e, "error", jcstr(cv[i].error));
                json_array_append_new(a, e);
            }
            json_object_set_new(o, "copies", a);
        }
    }
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
    json_object_set_new(root, "started_at", jtime(sbvm_runner_start_ns(rn)));
    json_object_set_new(root, "duration_ms", jms(sbvm_runner_duration_ns(rn)));
    json_object_set_new(root, "exit_status", json_integer(sbvm_runner_exit_status(rn)));
    if (uname(&u) == 0) {
        json_object_set_new(host, "kernel", jcstr(u.release));
        json_object_set_new(host, "machine", jcstr(u.machine));
    }
    json_object_set_new(host, "backend", json_string("process"));
    json_object_set_new(host, "privileged", json_boolean(geteuid() == 0));
    json_object_set_new(root, "host", host);
    for (size_t i = 0; i < sbvm_runner_count(rn); i++) {
        const sbvm_result *res = sbvm_runner_result(rn, i);
        if (res)
            json_array_append_new(guests, report_guest_json(i, res));
    }
    json_object_set_new(root, "guests", guests);
    r = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(root);
    if (r < 0 || fputc('\n', f) == EOF || fflush(f) == EOF)
        return error_sys(err, errno ? errno : EIO, "writing the JSON report");
    return 0;
}
