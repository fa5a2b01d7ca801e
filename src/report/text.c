/* SPDX-License-Identifier: MIT */
/* text.c: the summary table for people, and shared time formatting. */
#include <stdio.h>
#include <time.h>

#include "core/result.h"
#include "report/escape.h"
#include "report/report.h"
#include "util/error.h"
#include "util/cleanup.h"
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

    for (size_t i = 0; i < sbvm_runner_count(rn); i++) {
        const sbvm_result *r = sbvm_runner_result(rn, i);
        if (r && strlen(r->name) > namew)
            namew = strlen(r->name);
    }
    strbuf_addf(&sb, "%-*s  %-14s  %6s  %9s  %s\n", (int)namew, "GUEST", "OUTCOME", "STATUS",
                "TIME", "DETAIL");
    for (size_t i = 0; i < sbvm_runner_count(rn); i++) {
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
    fmt_duration(sbvm_runner_duration_ns(rn), dur, sizeof(dur));
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

/* One field of a line from the guest (a command line, a path, a name),
 * escaped so that it stays on its line: a new string, never NULL. */
static char *fld(const char *s)
{
    struct strbuf sb = STRBUF_INIT;

    esc_append(&sb, s ? s : "?", s ? strlen(s) : 1, ESC_FIELD);
    return strbuf_failed(&sb) ? strdup("?") : strbuf_detach(&sb, NULL);
}

static void frame_text(struct strbuf *sb, const struct sbvm_frame *f, size_t i, const char *indent)
{
    const char *mod = f->module ? strrchr(f->module, '/') : NULL;

    strbuf_addf(sb, "%s    #%-2zu 0x%016llx ", indent, i, (unsigned long long)f->pc);
    if (f->function)
        strbuf_addf(sb, "%s+0x%llx", f->function, (unsigned long long)f->function_offset);
    else
        strbuf_addstr(sb, "??");
    if (f->file)
        strbuf_addf(sb, " (%s:%d)", f->file, f->line);
    if (f->module)
        strbuf_addf(sb, " [%s]", mod ? mod + 1 : f->module);
    strbuf_addch(sb, '\n');
}

/* The general registers, four to a line, in the order people read them;
 * the segment registers are left to the JSON report. */
static void registers_text(struct strbuf *sb, const sbvm_crash *c, const char *indent)
{
    static const char *const shown[] = { "rip", "rsp", "rbp", "eflags", "rax",    "rbx", "rcx",
                                         "rdx", "rsi", "rdi", "r8",     "r9",     "r10", "r11",
                                         "r12", "r13", "r14", "r15",    "fs_base" };
    const char *const *names;
    const uint64_t *values;
    size_t n = sbvm_crash_registers(c, &names, &values), col = 0;

    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        size_t k = 0;

        while (k < n && strcmp(names[k], shown[i]))
            k++;
        if (k == n)
            continue;
        if (col == 0)
            strbuf_addf(sb, "%s  %-10s", indent, i ? "" : "registers:");
        strbuf_addf(sb, " %7s %016llx", shown[i], (unsigned long long)values[k]);
        if (++col == 4) {
            strbuf_addch(sb, '\n');
            col = 0;
        }
    }
    if (col)
        strbuf_addch(sb, '\n');
}

static void crash_text(struct strbuf *sb, const sbvm_crash *c, const char *indent)
{
    const struct sbvm_mapping *m;
    const uint8_t *bytes;
    size_t n;

    _cleanup_free_ char *thread = fld(sbvm_crash_thread_name(c));

    strbuf_addf(sb, "%scrash in pid %d%s (thread %d \"%s\"): %s\n", indent, sbvm_crash_pid(c),
                sbvm_crash_is_guest(c) ? ", the guest" : ", a child of the guest",
                sbvm_crash_tid(c), thread, sbvm_crash_summary(c));
    n = sbvm_crash_instruction(c, &bytes);
    if (n) {
        strbuf_addf(sb, "%s  instruction:", indent);
        for (size_t i = 0; i < n; i++)
            strbuf_addf(sb, " %02x", bytes[i]);
        strbuf_addch(sb, '\n');
    }
    if ((m = sbvm_crash_pc_mapping(c))) {
        _cleanup_free_ char *path = fld(m->path[0] ? m->path : "anonymous memory");
        strbuf_addf(sb, "%s  pc in %s (%s, offset 0x%llx)\n", indent, path, m->perms,
                    (unsigned long long)(sbvm_crash_pc(c) - m->start + m->offset));
    } else
        strbuf_addf(sb, "%s  pc is not in any mapping\n", indent);
    {
        int has;
        uint64_t a = sbvm_crash_address(c, &has);
        if (has && (m = sbvm_crash_address_mapping(c))) {
            _cleanup_free_ char *path = fld(m->path[0] ? m->path : "anonymous memory");
            strbuf_addf(sb, "%s  address in %s (%s, offset 0x%llx)\n", indent, path, m->perms,
                        (unsigned long long)(a - m->start + m->offset));
        } else if (has)
            strbuf_addf(sb, "%s  address 0x%llx is not in any mapping\n", indent,
                        (unsigned long long)a);
    }
    registers_text(sb, c, indent);
    if (sbvm_crash_frame_count(c)) {
        size_t nf = sbvm_crash_frame_count(c);

        strbuf_addf(sb, "%s  backtrace:\n", indent);
        for (size_t i = 0; i < nf;) {
            size_t same = 1;

            frame_text(sb, sbvm_crash_frame(c, i), i, indent);
            /* Deep recursion: one line for a run of identical frames. */
            while (i + same < nf && sbvm_crash_frame(c, i + same)->pc == sbvm_crash_frame(c, i)->pc)
                same++;
            if (same > 2) {
                strbuf_addf(sb, "%s    ... the same frame %zu more times (#%zu-#%zu)\n", indent,
                            same - 1, i + 1, i + same - 1);
                i += same;
            } else {
                i++;
            }
        }
    }
    if (sbvm_crash_unwind_error(c))
        strbuf_addf(sb, "%s  (%s)\n", indent, sbvm_crash_unwind_error(c));
}

static void size_text(struct strbuf *sb, uint64_t n)
{
    if (n >= 10 * 1024 * 1024)
        strbuf_addf(sb, "%.1f MiB", (double)n / (1024 * 1024));
    else if (n >= 10 * 1024)
        strbuf_addf(sb, "%.1f KiB", (double)n / 1024);
    else
        strbuf_addf(sb, "%llu B", (unsigned long long)n);
}

/* What went through the broker: each attempt on a line, at most 20. */
static void network_text(struct strbuf *sb, const sbvm_result *r, const char *indent)
{
    const struct sbvm_net_attempt *v;
    size_t n = sbvm_result_net_attempts(r, &v);

    uint64_t dropped = sbvm_result_net_attempts_dropped(r);

    if (!n)
        return;
    strbuf_addf(sb, "%snetwork (through the proxy):\n", indent);
    for (size_t i = 0; i < n && i < 20; i++) {
        _cleanup_free_ char *host = fld(v[i].host), *why = fld(v[i].reason),
                            *path = v[i].path ? fld(v[i].path) : NULL;
        strbuf_addf(sb, "%s  %s %s %s:%d%s", indent, v[i].allowed ? "allowed" : "refused",
                    v[i].method ? v[i].method : "?", host, v[i].port, path ? path : "");
        if (v[i].allowed) {
            strbuf_addf(sb, " via %s (", v[i].address ? v[i].address : "?");
            size_text(sb, v[i].bytes_up);
            strbuf_addstr(sb, " up, ");
            size_text(sb, v[i].bytes_down);
            strbuf_addf(sb, " down, %.0f ms%s%s)", (double)v[i].duration_ns / 1e6,
                        v[i].secrets ? ", secret injected" : "",
                        v[i].intercepted && !v[i].path ? ", intercepted" : "");
            /* Connected, and still not as asked: the broker says why. */
            if (v[i].reason)
                strbuf_addf(sb, ": %s", why);
            strbuf_addch(sb, '\n');
        } else {
            strbuf_addf(sb, ": %s\n", why);
        }
    }
    if (n > 20 || dropped)
        strbuf_addf(sb, "%s  ... and %llu more\n", indent,
                    (unsigned long long)(n > 20 ? n - 20 : 0) + (unsigned long long)dropped);
}

void report_details_text(struct strbuf *sb, const sbvm_result *r, const char *indent)
{
    const struct sbvm_left_process *p;
    const struct sbvm_left_fd *f;
    const struct sbvm_left_listener *l;
    const struct sbvm_left_file *fi;
    const char *kept, *keep_error;
    size_t np, nf, nl, nfi;

    for (size_t i = 0; i < sbvm_result_crash_count(r); i++)
        crash_text(sb, sbvm_result_crash(r, i), indent);
    if (sbvm_result_crashes_not_recorded(r))
        strbuf_addf(sb, "%s... and %u more crashes, not explained\n", indent,
                    sbvm_result_crashes_not_recorded(r));
    if (sbvm_result_forensics_note(r))
        strbuf_addf(sb, "%snote: %s\n", indent, sbvm_result_forensics_note(r));
    if (sbvm_result_channel_error(r))
        strbuf_addf(sb, "%shost channel ended: %s\n", indent, sbvm_result_channel_error(r));
    if (sbvm_result_refusal_count(r)) {
        strbuf_addf(sb, "%srefused syscalls:", indent);
        for (size_t i = 0; i < sbvm_result_refusal_count(r); i++) {
            const struct sbvm_refusal *rf = sbvm_result_refusal(r, i);
            strbuf_addf(sb, "%s %s x%u (%s)", i ? "," : "", rf->name, rf->count,
                        errno_name(rf->err));
        }
        strbuf_addch(sb, '\n');
    }
    network_text(sb, r, indent);
    {
        const char *const *lines;
        size_t n = sbvm_result_devices(r, &lines);
        for (size_t i = 0; i < n; i++)
            strbuf_addf(sb, "%sdevice %s\n", indent, lines[i]);
        n = sbvm_result_driver_ledger(r, &lines);
        for (size_t i = 0; i < n; i++) {
            _cleanup_free_ char *line = fld(lines[i]);
            strbuf_addf(sb, "%sdriver %s\n", indent, line);
        }
    }
    {
        const struct sbvm_copy *cv;
        size_t nc = sbvm_result_copies(r, &cv);
        for (size_t i = 0; i < nc; i++) {
            _cleanup_free_ char *gp = fld(cv[i].guest), *hp = fld(cv[i].host);
            if (cv[i].error) {
                _cleanup_free_ char *why = fld(cv[i].error);
                strbuf_addf(sb, "%s--copy-%s %s: %s\n", indent, cv[i].out ? "out" : "in",
                            cv[i].out ? gp : hp, why);
            } else if (cv[i].out) {
                strbuf_addf(sb, "%scopied out %s to %s\n", indent, gp, hp);
            }
        }
    }
    kept = sbvm_result_kept(r, &keep_error);
    if (kept)
        strbuf_addf(sb, "%sits /tmp is kept in %s\n", indent, kept);
    else if (keep_error)
        strbuf_addf(sb, "%s--keep failed: %s\n", indent, keep_error);
    np = sbvm_result_left_processes(r, &p);
    nf = sbvm_result_left_fds(r, &f);
    nl = sbvm_result_left_listeners(r, &l);
    nfi = sbvm_result_left_files(r, &fi);
    if (np || nl || nfi) {
        bool guest_alive = false;
        for (size_t i = 0; i < np; i++)
            guest_alive |= p[i].pid == 2;
        /* The guest itself is among them when it was stopped (a limit, a
         * denied call, the host): then it is what it still held. */
        strbuf_addf(sb, "%s%s (%s):\n", indent,
                    guest_alive ? "still held when it was stopped" : "left behind",
                    kept ? "processes killed, /tmp kept" : "now removed");
        for (size_t i = 0; i < np && i < 10; i++) {
            _cleanup_free_ char *argv = fld(p[i].argv);
            size_t fds = 0;
            for (size_t k = 0; k < nf; k++)
                fds += f[k].pid == p[i].pid;
            strbuf_addf(sb, "%s  process %d%s: %s, %zu open fd%s\n", indent, p[i].pid,
                        p[i].pid == 2 ? " (the guest)" : "", argv, fds, fds == 1 ? "" : "s");
            /* What it held beyond its standard streams. */
            for (size_t k = 0, shown = 0; k < nf; k++) {
                if (f[k].pid != p[i].pid || f[k].fd <= 2)
                    continue;
                if (shown++ == 4) {
                    strbuf_addf(sb, "%s      ...\n", indent);
                    break;
                }
                {
                    _cleanup_free_ char *target = fld(f[k].target);
                    strbuf_addf(sb, "%s      fd %d: %s %s\n", indent, f[k].fd, f[k].kind, target);
                }
            }
        }
        if (np > 10)
            strbuf_addf(sb, "%s  ... and %zu more processes\n", indent, np - 10);
        for (size_t i = 0; i < nl && i < 10; i++)
            strbuf_addf(sb, "%s  listening %s %s (pid %d)\n", indent, l[i].proto, l[i].local,
                        l[i].pid);
        for (size_t i = 0; i < nfi && i < 10; i++) {
            _cleanup_free_ char *path = fld(fi[i].path);
            if (streq(fi[i].kind, "file"))
                strbuf_addf(sb, "%s  file %s (%llu bytes)\n", indent, path,
                            (unsigned long long)fi[i].size);
            else
                strbuf_addf(sb, "%s  %s %s\n", indent, fi[i].kind, path);
        }
        if (nfi > 10)
            strbuf_addf(sb, "%s  ... and %zu more files\n", indent, nfi - 10);
        if (sbvm_result_left_truncated(r))
            strbuf_addf(sb, "%s  (the inventory stopped at its limits: there was more)\n", indent);
    }
}

SBVM_API char *sbvm_result_details(const sbvm_result *r, const char *indent)
{
    struct strbuf sb = STRBUF_INIT;

    report_details_text(&sb, r, indent ? indent : "");
    return strbuf_detach(&sb, NULL);
}
