/* SPDX-License-Identifier: MIT */
/*
 * monitor.c: one container's monitor (oci.h has the shape). Forked by
 * `create`, it owns the container's live sandbox for the container's whole
 * life: it builds it, starts the container's process as a held job, relays
 * that job's output to the streams `create` was given (conmon's pipes),
 * serves the control socket (start, kill, pause, resume, exec), and, when
 * the container's process has ended, writes what sandboxvm learned (a crash
 * report, the ledger) and ends with the container's own wait status: the
 * engines wait for this process as the container's.
 *
 * It ends the container when the process that waits for it (conmon, a shim,
 * `run`) dies: nobody would be left to collect its status.
 */
#include "oci/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#define START_TIMEOUT_MS 60000
#define MAX_EXECS        64

/* An exec'd process and the client (`exec`'s proxy) that waits for it. */
struct exec_client {
    int fd;       /* the client's connection; -1 once told */
    int out, err; /* where its output goes (the client's streams) */
    int in;       /* its stdin's source, or -1 */
    sbvm_job *job;
    struct sbvm_job_events ev;
    bool ended;
};

struct mon {
    const struct oci_monitor_args *a;
    sbvm_loop *loop;
    sbvm_sandbox *sb;
    sbvm_job *main;
    bool main_ended;
    bool out_dead, err_dead; /* our stdout/stderr reader is gone */
    struct oci_state st;
    int ep, lfd, sigfd, parent_fd;
    bool parent_is_creator; /* parent_fd watches `create`, not the waiter */
    struct exec_client *execs[MAX_EXECS];
    size_t nexecs;
    struct sbvm_job_events main_events;
};

/* ---- output ------------------------------------------------------------- */

static void relay(int fd, bool *dead, const void *data, size_t len)
{
    /* Blocking writes: a slow reader slows the container through its pipe,
     * as the CLI's own output does, instead of growing our memory. */
    if (*dead || fd < 0)
        return;
    if (write_full(fd, data, len) < 0)
        *dead = true;
}

static void main_output(void *ctx, sbvm_job *j, enum sbvm_stream s, const void *data, size_t len)
{
    struct mon *m = ctx;

    (void)j;
    if (s == SBVM_STDOUT)
        relay(STDOUT_FILENO, &m->out_dead, data, len);
    else
        relay(STDERR_FILENO, &m->err_dead, data, len);
}

static void main_end(void *ctx, sbvm_job *j)
{
    struct mon *m = ctx;

    (void)j;
    m->main_ended = true;
}

static void exec_output(void *ctx, sbvm_job *j, enum sbvm_stream s, const void *data, size_t len)
{
    struct exec_client *x = ctx;
    bool dead = false;

    (void)j;
    relay(s == SBVM_STDOUT ? x->out : x->err, &dead, data, len);
}

static void exec_end(void *ctx, sbvm_job *j)
{
    struct exec_client *x = ctx;

    (void)j;
    x->ended = true;
}

/* ---- state -------------------------------------------------------------- */

static void now_rfc3339(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

static void set_status(struct mon *m, enum oci_status s)
{
    sbvm_error *e = NULL;

    m->st.status = s;
    if (oci_state_write(m->a->cdir, &m->st, &e) < 0) {
        oci_log(OCI_WARN, "%s", sbvm_error_message(e));
        sbvm_error_free(e);
    }
}

/* ---- the end ------------------------------------------------------------- */

/* The container's process ended: what sandboxvm learned goes to the log, to
 * report.txt and, in one line, to the container's stderr (podman logs shows
 * it); the sandbox is destroyed and its ledger written. */
static void finish(struct mon *m, int *wait_sig, int *wait_code)
{
    const sbvm_result *r = sbvm_job_result(m->main);
    sbvm_result *sres = NULL;
    sbvm_error *e = NULL;
    enum sbvm_outcome o = r ? sbvm_result_outcome(r) : SBVM_OUTCOME_SETUP_FAILED;
    char *details = r ? sbvm_result_details(r, "  ") : NULL;
    struct strbuf sb = STRBUF_INIT;

    *wait_sig = 0;
    *wait_code = r ? sbvm_result_exit_status(r) : 125;
    if (o == SBVM_OUTCOME_CRASHED || o == SBVM_OUTCOME_KILLED || o == SBVM_OUTCOME_DENIED)
        *wait_sig = sbvm_result_signal(r);
    if (r && details && *details && o == SBVM_OUTCOME_EXITED) {
        /* Refused calls and such: the report, without alarm. */
        strbuf_addf(&sb, "container %s: %s\n%s", m->a->id, sbvm_result_message(r), details);
        if (!strbuf_failed(&sb))
            oci_write_file(m->a->cdir, "report.txt", sb.buf, sb.len);
        oci_log(OCI_INFO, "container %s: %s\n%s", m->a->id, sbvm_result_message(r), details);
    } else if (r &&
               (o == SBVM_OUTCOME_CRASHED || o == SBVM_OUTCOME_DENIED || o == SBVM_OUTCOME_LIMIT)) {
        const sbvm_crash *c = sbvm_result_crash_count(r) ? sbvm_result_crash(r, 0) : NULL;
        strbuf_addf(&sb, "container %s: %s\n", m->a->id, sbvm_result_message(r));
        if (details && *details)
            strbuf_addstr(&sb, details);
        if (!strbuf_failed(&sb))
            oci_write_file(m->a->cdir, "report.txt", sb.buf, sb.len);
        oci_log(OCI_WARN, "container %s: %s%s%s", m->a->id, sbvm_result_message(r),
                details && *details ? "\n" : "", details ? details : "");
        strbuf_reset(&sb);
        if (c)
            strbuf_addf(&sb, "sandboxvm: container %s crashed: %s; full report: %s/report.txt\n",
                        m->a->id, sbvm_crash_summary(c), m->a->state_dir);
        else
            strbuf_addf(&sb, "sandboxvm: container %s %s; full report: %s/report.txt\n", m->a->id,
                        sbvm_result_message(r), m->a->state_dir);
        if (!strbuf_failed(&sb))
            relay(STDERR_FILENO, &m->err_dead, sb.buf, sb.len);
    } else if (r && o != SBVM_OUTCOME_EXITED && o != SBVM_OUTCOME_KILLED) {
        oci_log(OCI_WARN, "container %s: %s", m->a->id, sbvm_result_message(r));
        strbuf_reset(&sb);
        strbuf_addf(&sb, "sandboxvm: %s\n", sbvm_result_message(r));
        if (!strbuf_failed(&sb))
            relay(STDERR_FILENO, &m->err_dead, sb.buf, sb.len);
    }
    strbuf_release(&sb);
    if (sbvm_sandbox_destroy(m->sb, &sres, &e) < 0) {
        oci_log(OCI_WARN, "container %s: %s", m->a->id, sbvm_error_message(e));
        sbvm_error_free(e);
    }
    m->sb = NULL;
    {
        /* The ledger: what the sandbox held when it ended (its processes,
         * files, listeners); the report has the process's own story. */
        char *ledger = sres ? sbvm_result_details(sres, "  ") : NULL;
        struct strbuf l = STRBUF_INIT;
        strbuf_addf(&l, "container %s: %s; the sandbox %s\n", m->a->id,
                    r ? sbvm_result_message(r) : "ended before it started",
                    ledger && *ledger ? "held:" : "held nothing more");
        if (ledger && *ledger)
            strbuf_addstr(&l, ledger);
        if (!strbuf_failed(&l))
            oci_write_file(m->a->cdir, "ledger.txt", l.buf, l.len);
        strbuf_release(&l);
        free(ledger);
    }
    sbvm_result_free(sres);
    free(details);
    m->st.ended = true;
    m->st.exit_status = *wait_code;
    free(m->st.outcome);
    m->st.outcome = r ? strdup(sbvm_result_message(r)) : NULL;
    set_status(m, OCI_STOPPED);
}

_Noreturn void oci_leave_like(int sig, int code)
{
    struct rlimit nocore = { 0, 0 };
    sigset_t set;

    if (sig > 0 && sig < NSIG && sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN &&
        sig != SIGTTOU) {
        /* No core file of ours: the dump would be the monitor's, not the
         * container's, and may reach the host's core handler. */
        setrlimit(RLIMIT_CORE, &nocore);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        signal(sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        kill(getpid(), sig);
        /* A signal whose default is to be ignored: say it as a shell would. */
    }
    _exit(code & 0xff);
}

/* ---- requests --------------------------------------------------------------- */

static void reply_error(int fd, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void reply_error(int fd, int e, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    json_t *o;

    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    o = json_pack("{s:s, s:i}", "error", strbuf_failed(&sb) ? "failed" : sb.buf, "errno", e);
    if (o)
        oci_ctl_send(fd, o, NULL, 0);
    json_decref(o);
    strbuf_release(&sb);
}

static void reply_ok(int fd, int pid, const int *fds, size_t nfds)
{
    json_t *o = json_pack("{s:b, s:i}", "ok", 1, "pid", pid);

    if (o)
        oci_ctl_send(fd, o, fds, nfds);
    json_decref(o);
}

static void ep_add(struct mon *m, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    epoll_ctl(m->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void ep_del(struct mon *m, int fd)
{
    epoll_ctl(m->ep, EPOLL_CTL_DEL, fd, NULL);
}

static void do_kill(struct mon *m, int fd, json_t *req)
{
    json_t *v = json_object_get(req, "signal");
    bool all = json_is_true(json_object_get(req, "all"));
    int sig = json_is_integer(v) ? (int)json_integer_value(v) : 0, r;

    if (sig <= 0 || sig >= NSIG) {
        reply_error(fd, EINVAL, "invalid signal");
        return;
    }
    if (m->main_ended || m->st.status == OCI_STOPPED) {
        reply_error(fd, ESRCH, "container not running");
        return;
    }
    r = sbvm_job_signal(m->main, sig);
    for (size_t i = 0; all && i < m->nexecs; i++)
        if (!m->execs[i]->ended)
            sbvm_job_signal(m->execs[i]->job, sig);
    if (r < 0 && r != -ESRCH) {
        reply_error(fd, -r, "signalling the container: %s", errno_text(-r));
        return;
    }
    oci_log(OCI_DEBUG, "container %s: signal %d", m->a->id, sig);
    reply_ok(fd, getpid(), NULL, 0);
}

static void do_pause(struct mon *m, int fd, bool pause)
{
    sbvm_error *e = NULL;
    enum oci_status want = pause ? OCI_RUNNING : OCI_PAUSED;

    if (m->main_ended || m->st.status != want) {
        reply_error(fd, EINVAL, "cannot %s a container that is %s", pause ? "pause" : "resume",
                    m->main_ended ? "stopped" : oci_status_name(m->st.status));
        return;
    }
    if (sbvm_sandbox_pause(m->sb, pause, &e) < 0) {
        reply_error(fd, sbvm_error_code(e), "%s", sbvm_error_message(e));
        sbvm_error_free(e);
        return;
    }
    set_status(m, pause ? OCI_PAUSED : OCI_RUNNING);
    reply_ok(fd, getpid(), NULL, 0);
}

static void do_start(struct mon *m, int fd)
{
    int r;

    if (m->st.status != OCI_CREATED || m->main_ended) {
        reply_error(fd, EINVAL, "cannot start a container that is %s",
                    m->main_ended ? "stopped" : oci_status_name(m->st.status));
        return;
    }
    r = sbvm_job_release(m->main);
    if (r < 0) {
        reply_error(fd, -r, "starting the container's process: %s", errno_text(-r));
        return;
    }
    set_status(m, OCI_RUNNING);
    reply_ok(fd, getpid(), NULL, 0);
}

/* How a finished job ended, as a wait status would say: a signal, or an
 * exit code. */
static void job_status(const sbvm_result *r, int *sig, int *code)
{
    enum sbvm_outcome o = r ? sbvm_result_outcome(r) : SBVM_OUTCOME_SETUP_FAILED;

    *sig = 0;
    *code = r ? sbvm_result_exit_status(r) : 125;
    if (o == SBVM_OUTCOME_CRASHED || o == SBVM_OUTCOME_KILLED || o == SBVM_OUTCOME_DENIED)
        *sig = sbvm_result_signal(r);
}

/* The words engines look for to tell "no such program" (127) and "not
 * executable" (126) from other failures. */
static void reply_exec_failed(int fd, const sbvm_result *r, const char *prog)
{
    enum sbvm_outcome o = sbvm_result_outcome(r);

    if (o == SBVM_OUTCOME_NOT_FOUND)
        reply_error(fd, ENOENT, "exec: \"%s\": executable file not found in $PATH (%s)", prog,
                    sbvm_result_message(r));
    else if (o == SBVM_OUTCOME_NOT_EXECUTABLE)
        reply_error(fd, EACCES, "exec: \"%s\": permission denied (%s)", prog,
                    sbvm_result_message(r));
    else
        reply_error(fd, EIO, "exec: %s", sbvm_result_message(r));
}

static void exec_finish(struct mon *m, struct exec_client *x)
{
    const sbvm_result *r = sbvm_job_result(x->job);
    int sig, code;

    job_status(r, &sig, &code);
    if (r && sbvm_result_outcome(r) == SBVM_OUTCOME_CRASHED) {
        char *d = sbvm_result_details(r, "  ");
        oci_log(OCI_WARN, "container %s: exec: %s%s%s", m->a->id, sbvm_result_message(r),
                d && *d ? "\n" : "", d ? d : "");
        free(d);
    }
    /* Its streams first: the caller drains them once it has ended. */
    close_fd(&x->out);
    close_fd(&x->err);
    close_fd(&x->in);
    if (x->fd >= 0) {
        json_t *o = json_pack("{s:i, s:i}", "exit", code, "signal", sig);
        if (o)
            oci_ctl_send(x->fd, o, NULL, 0);
        json_decref(o);
        ep_del(m, x->fd);
        close_fd(&x->fd);
    }
    sbvm_job_free(x->job);
    free(x);
}

/* Reaps the exec'd processes whose result is final. */
static void reap_execs(struct mon *m)
{
    size_t keep = 0;

    for (size_t i = 0; i < m->nexecs; i++) {
        if (m->execs[i]->ended)
            exec_finish(m, m->execs[i]);
        else
            m->execs[keep++] = m->execs[i];
    }
    m->nexecs = keep;
}

static struct exec_client *exec_by_fd(struct mon *m, int fd)
{
    for (size_t i = 0; i < m->nexecs; i++)
        if (m->execs[i]->fd == fd)
            return m->execs[i];
    return NULL;
}

/* The process of an exec: process.json's (its descriptor came with the
 * request), or the container's with other arguments (exec ID -- ARGS). */
static int exec_process(struct mon *m, json_t *req, const int *fds, size_t nfds,
                        struct oci_process *p, sbvm_error **err)
{
    json_t *args = json_object_get(req, "args");
    int r;

    memset(p, 0, sizeof(*p));
    if (json_is_true(json_object_get(req, "processFile"))) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (nfds < 1)
            return error_set(err, EINVAL, "exec: the process file did not come");
        /* Read from the descriptor itself (the caller opened it): no path
         * of the caller's is opened here. */
        long n;
        text = malloc(OCI_SPEC_MAX_BYTES + 1);
        if (!text)
            return error_set(err, ENOMEM, "out of memory");
        n = read_full(fds[0], text, OCI_SPEC_MAX_BYTES + 1);
        if (n < 0)
            return error_sys(err, (int)-n, "exec: reading process.json");
        if ((size_t)n > OCI_SPEC_MAX_BYTES)
            return error_set(err, EFBIG, "exec: process.json is larger than %u bytes",
                             OCI_SPEC_MAX_BYTES);
        len = (size_t)n;
        r = oci_process_parse(text, len, p, err);
        if (r < 0)
            return r;
    } else {
        const struct oci_process *c = &m->a->spec->process;
        json_t *env = json_object_get(req, "env"), *cwd = json_object_get(req, "cwd"), *v;
        size_t i;
        if (!json_is_array(args) || !json_array_size(args) || json_array_size(args) > OCI_ARGS_MAX)
            return error_set(err, EINVAL, "exec: no command");
        p->uid = c->uid;
        p->gid = c->gid;
        p->ngroups = c->ngroups;
        memcpy(p->groups, c->groups, sizeof(p->groups));
        p->terminal = json_is_true(json_object_get(req, "tty"));
        p->cwd = strdup(json_is_string(cwd) ? json_string_value(cwd) : c->cwd);
        if (!p->cwd || strv_copy(&p->env, &c->env) < 0)
            return error_set(err, ENOMEM, "out of memory");
        json_array_foreach(args, i, v)
        {
            if (!json_is_string(v) || strv_push(&p->args, json_string_value(v)) < 0)
                return error_set(err, EINVAL, "exec: an argument that is not a string");
        }
        json_array_foreach(env, i, v)
        {
            const char *kv = json_string_value(v);
            if (!kv || !strchr(kv, '=') || kv[0] == '=' || strv_push(&p->env, kv) < 0)
                return error_set(err, EINVAL, "exec: --env %s: not KEY=VALUE", kv ? kv : "?");
        }
    }
    return oci_process_check(p, m->a->spec, err);
}

static void do_exec(struct mon *m, int fd, json_t *req, int *fds, size_t nfds)
{
    bool from_file = json_is_true(json_object_get(req, "processFile"));
    size_t base = from_file ? 1 : 0;
    struct oci_process p;
    struct exec_client *x;
    struct sbvm_exec ex;
    sbvm_error *e = NULL;
    const sbvm_result *res;
    int master = -1, r;

    if (m->st.status != OCI_RUNNING || m->main_ended) {
        reply_error(fd, EINVAL, "cannot exec in a container that is %s",
                    m->main_ended ? "stopped" : oci_status_name(m->st.status));
        return;
    }
    if (m->nexecs >= MAX_EXECS) {
        reply_error(fd, EAGAIN, "at most %d processes exec'd at once", MAX_EXECS);
        return;
    }
    if (exec_process(m, req, fds, nfds, &p, &e) < 0) {
        reply_error(fd, sbvm_error_code(e), "%s", sbvm_error_message(e));
        sbvm_error_free(e);
        oci_process_release(&p);
        return;
    }
    if (!p.terminal && nfds != base + 3) {
        reply_error(fd, EINVAL, "exec: the process's standard streams did not come");
        oci_process_release(&p);
        return;
    }
    x = calloc(1, sizeof(*x));
    if (!x) {
        reply_error(fd, ENOMEM, "out of memory");
        oci_process_release(&p);
        return;
    }
    x->fd = x->out = x->err = x->in = -1;
    if (!p.terminal) {
        /* Ours now: the caller's streams, written as the container's
         * were, never handed to the process itself. */
        x->in = fds[base];
        x->out = fds[base + 1];
        x->err = fds[base + 2];
        fds[base] = fds[base + 1] = fds[base + 2] = -1;
    }
    memset(&ex, 0, sizeof(ex));
    x->ev.ctx = x;
    x->ev.on_output = exec_output;
    x->ev.on_end = exec_end;
    ex.size = sizeof(ex);
    ex.argv = (const char *const *)p.args.v;
    ex.env = (const char *const *)p.env.v;
    ex.cwd = p.cwd;
    ex.name = "exec";
    ex.stdin_fd = p.terminal ? -1 : x->in;
    ex.terminal = p.terminal;
    ex.give_terminal = p.terminal;
    ex.rows = p.rows;
    ex.cols = p.cols;
    ex.events = &x->ev;
    r = sbvm_sandbox_exec(m->sb, &ex, &x->job, &e);
    if (r == 0)
        r = sbvm_job_wait_started(x->job, START_TIMEOUT_MS, &e);
    res = r == 0 ? sbvm_job_result(x->job) : NULL;
    if (r < 0 || res) {
        if (res)
            reply_exec_failed(fd, res, p.args.v[0]);
        else
            reply_error(fd, sbvm_error_code(e), "exec: %s", sbvm_error_message(e));
        sbvm_error_free(e);
        sbvm_job_free(x->job);
        close_fd(&x->in);
        close_fd(&x->out);
        close_fd(&x->err);
        free(x);
        oci_process_release(&p);
        return;
    }
    if (p.terminal)
        master = sbvm_job_take_terminal(x->job);
    oci_process_release(&p);
    reply_ok(fd, sbvm_job_pid(x->job), master >= 0 ? &master : NULL, master >= 0 ? 1 : 0);
    if (master >= 0)
        close(master);
    /* The connection stays: its end is the caller's, and says when it
     * gave up (then the process is killed). */
    x->fd = fd;
    m->execs[m->nexecs++] = x;
    ep_add(m, fd);
}

static void serve(struct mon *m, int fd)
{
    sbvm_error *e = NULL;
    int fds[OCI_CTL_FDS_MAX];
    size_t nfds = 0;
    json_t *req = oci_ctl_recv(fd, 0, fds, &nfds, &e);
    const char *op;

    ep_del(m, fd);
    if (!req) {
        sbvm_error_free(e);
        close(fd);
        return;
    }
    op = json_string_value(json_object_get(req, "op"));
    if (!op)
        reply_error(fd, EINVAL, "a request without an operation");
    else if (streq(op, "start"))
        do_start(m, fd);
    else if (streq(op, "kill"))
        do_kill(m, fd, req);
    else if (streq(op, "pause") || streq(op, "resume"))
        do_pause(m, fd, streq(op, "pause"));
    else if (streq(op, "exec")) {
        do_exec(m, fd, req, fds, nfds);
        if (exec_by_fd(m, fd))
            fd = -1; /* kept */
    } else
        reply_error(fd, EOPNOTSUPP, "'%s' is not an operation this monitor knows", op);
    for (size_t i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    json_decref(req);
    if (fd >= 0)
        close(fd);
}

/* An exec's caller hung up (or wrote, which it never should): it will not
 * collect the process's status, so the process ends. */
static void exec_caller(struct mon *m, struct exec_client *x)
{
    ep_del(m, x->fd);
    close_fd(&x->fd);
    if (!x->ended)
        sbvm_job_signal(x->job, SIGKILL);
}

static void accept_clients(struct mon *m)
{
    for (;;) {
        struct ucred cr;
        socklen_t len = sizeof(cr);
        int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0)
            return;
        /* The directory is ours alone; the caller's uid is checked anyway. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
            (cr.uid != geteuid() && cr.uid != 0)) {
            close(fd);
            continue;
        }
        ep_add(m, fd);
    }
}

/* ---- the parent we die with ------------------------------------------------- */

/* `create` exited: we are now the child of whoever waits for the container
 * (a subreaper such as conmon or a shim), or of pid 1 when nobody does. We
 * watch the waiter: a container nobody can collect is ended. */
static void parent_gone(struct mon *m)
{
    pid_t pp;

    ep_del(m, m->parent_fd);
    close_fd(&m->parent_fd);
    if (!m->parent_is_creator) {
        oci_log(OCI_WARN, "container %s: the process waiting for it is gone: ending it", m->a->id);
        if (!m->main_ended)
            sbvm_job_signal(m->main, SIGKILL);
        return;
    }
    m->parent_is_creator = false;
    pp = getppid();
    if (pp <= 1)
        return;
    m->parent_fd = (int)syscall(SYS_pidfd_open, pp, 0);
    /* It may have gone in between: then getppid() says 1 now. */
    if (m->parent_fd >= 0 && getppid() != pp) {
        close_fd(&m->parent_fd);
        parent_gone(m);
        return;
    }
    if (m->parent_fd >= 0)
        ep_add(m, m->parent_fd);
}

/* ---- building -------------------------------------------------------------- */

static int join_netns(const struct oci_plan *p, sbvm_error **err)
{
    _cleanup_close_ int fd = -1;

    if (!p->netns)
        return 0;
    fd = open(p->netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_sys(err, errno, "linux.namespaces: network: %s", p->netns);
    if (setns(fd, CLONE_NEWNET) < 0)
        return error_sys(err, errno, "linux.namespaces: joining the network namespace %s",
                         p->netns);
    /* Its sysctls, written as its root (we are in it now: /proc/sys/net is
     * its). */
    for (size_t i = 0; i < p->net_sysctl_paths.n; i++) {
        _cleanup_close_ int s = open(p->net_sysctl_paths.v[i], O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0 ||
            write_full(s, p->net_sysctl_values.v[i], strlen(p->net_sysctl_values.v[i])) < 0)
            return error_sys(err, errno, "linux.sysctl: %s", p->net_sysctl_paths.v[i]);
    }
    return 0;
}

int oci_send_console(const char *path, int master, sbvm_error **err)
{
    _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    char name[] = "/dev/ptmx";
    struct iovec iov = { name, sizeof(name) };
    long n;

    if (strlen(path) >= sizeof(a.sun_path))
        return error_set(err, ENAMETOOLONG, "--console-socket %s: name too long", path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
        return error_sys(err, errno, "--console-socket %s", path);
    n = send_with_fds(s, &iov, 1, &master, 1, 0);
    if (n < 0)
        return error_sys(err, (int)-n, "--console-socket %s: sending the terminal", path);
    return 0;
}

static int start_main(struct mon *m, sbvm_error **err)
{
    const struct oci_process *p = &m->a->spec->process;
    struct sbvm_exec ex;
    const sbvm_result *res;
    int r;

    memset(&ex, 0, sizeof(ex));
    ex.size = sizeof(ex);
    ex.argv = (const char *const *)p->args.v;
    ex.env = (const char *const *)p->env.v;
    ex.cwd = p->cwd;
    ex.name = "container";
    ex.stdin_fd = p->terminal ? -1 : STDIN_FILENO;
    ex.terminal = p->terminal;
    ex.give_terminal = p->terminal;
    ex.rows = p->rows;
    ex.cols = p->cols;
    ex.hold = 1;
    m->main_events.ctx = m;
    m->main_events.on_output = main_output;
    m->main_events.on_end = main_end;
    ex.events = &m->main_events;
    r = sbvm_sandbox_exec(m->sb, &ex, &m->main, err);
    if (r < 0)
        return r;
    r = sbvm_job_wait_started(m->main, START_TIMEOUT_MS, err);
    if (r < 0)
        return r;
    res = sbvm_job_result(m->main);
    if (res)
        return error_set(err, sbvm_result_setup_errno(res) ? sbvm_result_setup_errno(res) : EINVAL,
                         "process.args: %s", sbvm_result_message(res));
    if (p->terminal) {
        int master = sbvm_job_take_terminal(m->main);
        if (master < 0)
            return error_sys(err, -master, "the container's terminal");
        r = oci_send_console(m->a->console_socket, master, err);
        close(master);
        if (r < 0)
            return r;
    }
    return 0;
}

void oci_null_stdio(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        dup2(fd, i);
    if (fd > 2)
        close(fd);
}

static void tell(int fd, const char *text)
{
    if (fd >= 0)
        (void)write_full(fd, text, strlen(text));
}

/* A process in the sandbox can lower its rlimits, never raise a hard one
 * (that needs CAP_SYS_RESOURCE in the host's user namespace, which nothing
 * in a sandbox has): the sandbox starts from ours, raised first where we
 * may. */
static int raise_rlimits(const struct oci_process *p, sbvm_error **err)
{
    static const char *const names[] = {
        "RLIMIT_CPU",      "RLIMIT_FSIZE", "RLIMIT_DATA",   "RLIMIT_STACK",
        "RLIMIT_CORE",     "RLIMIT_RSS",   "RLIMIT_NPROC",  "RLIMIT_NOFILE",
        "RLIMIT_MEMLOCK",  "RLIMIT_AS",    "RLIMIT_LOCKS",  "RLIMIT_SIGPENDING",
        "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    };

    for (size_t i = 0; i < p->nrlimits; i++) {
        const struct oci_rlimit *rl = &p->rlimits[i];
        struct rlimit cur;
        if (getrlimit(rl->resource, &cur) < 0 || rl->hard <= cur.rlim_max)
            continue;
        cur.rlim_max = rl->hard;
        if (cur.rlim_cur > cur.rlim_max)
            cur.rlim_cur = cur.rlim_max;
        if (setrlimit(rl->resource, &cur) < 0) {
            struct rlimit now;
            getrlimit(rl->resource, &now);
            return error_set(err, EPERM,
                             "process.rlimits: %s %llu is above the runtime's own hard limit "
                             "(%llu), and raising it needs CAP_SYS_RESOURCE, which the runtime "
                             "lacks here: ask for at most %llu (podman: --ulimit)",
                             rl->resource >= 0 && (size_t)rl->resource < ARRAY_SIZE(names)
                                 ? names[rl->resource]
                                 : "?",
                             (unsigned long long)rl->hard, (unsigned long long)now.rlim_max,
                             (unsigned long long)now.rlim_max);
        }
    }
    return 0;
}

static int setup(struct mon *m, sbvm_error **err)
{
    const struct oci_monitor_args *a = m->a;
    char created[48];
    sigset_t sigs;
    int r;

    r = raise_rlimits(&a->spec->process, err);
    if (r < 0)
        return r;
    r = join_netns(a->plan, err);
    if (r < 0)
        return r;
    m->loop = sbvm_loop_new();
    m->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!m->loop || m->ep < 0)
        return error_set(err, ENOMEM, "the monitor's event loop");
    r = sbvm_sandbox_create(m->loop, a->plan->cfg, &m->sb, err);
    if (r < 0)
        return r;
    m->lfd = oci_ctl_listen(a->cdir, err);
    if (m->lfd < 0)
        return m->lfd;
    r = start_main(m, err);
    if (r < 0)
        return r;
    /* Signals for the container, as its init would take them. */
    sigemptyset(&sigs);
    for (int s = 1; s < SIGRTMIN; s++)
        if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD && s != SIGSEGV && s != SIGBUS &&
            s != SIGFPE && s != SIGILL && s != SIGTRAP && s != SIGSYS && s != SIGPIPE &&
            s != SIGTSTP && s != SIGTTIN && s != SIGTTOU && s != SIGCONT)
            sigaddset(&sigs, s);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    m->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    ep_add(m, sbvm_loop_fd(m->loop));
    ep_add(m, m->lfd);
    if (m->sigfd >= 0)
        ep_add(m, m->sigfd);
    /* `create` exits once we say we are ready; `run` waits for us itself
     * and is the one we die with. */
    m->parent_fd = (int)syscall(SYS_pidfd_open, getppid(), 0);
    m->parent_is_creator = !a->foreground;
    if (m->parent_fd >= 0)
        ep_add(m, m->parent_fd);
    m->st.id = strdup(a->id);
    m->st.bundle = strdup(a->bundle);
    now_rfc3339(created, sizeof(created));
    m->st.created = strdup(created);
    m->st.pid = getpid();
    m->st.start_time = oci_proc_start_time(getpid());
    m->st.log = a->g->log ? strdup(a->g->log) : NULL;
    m->st.log_json = a->g->log_json;
    if (a->spec->annotation_keys.n) {
        m->st.annotations = json_object();
        for (size_t i = 0; m->st.annotations && i < a->spec->annotation_keys.n; i++)
            json_object_set_new(m->st.annotations, a->spec->annotation_keys.v[i],
                                json_string(a->spec->annotation_values.v[i]));
    }
    if (!m->st.id || !m->st.bundle || !m->st.created)
        return error_set(err, ENOMEM, "out of memory");
    m->st.status = OCI_CREATED;
    return oci_state_write(a->cdir, &m->st, err);
}

static void on_signal(struct mon *m)
{
    struct signalfd_siginfo si;

    while (read(m->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        if (!m->main_ended)
            sbvm_job_signal(m->main, (int)si.ssi_signo);
}

_Noreturn void oci_monitor_main(const struct oci_monitor_args *a)
{
    struct mon m = { .a = a, .ep = -1, .lfd = -1, .sigfd = -1, .parent_fd = -1 };
    sbvm_error *e = NULL;
    int sig, code, keep[2];
    struct strbuf msg = STRBUF_INIT;

    /* Our own session: a terminal's hang-up or a shell's job control
     * reaches the container through its engine, not through us. */
    setsid();
    prctl(PR_SET_NAME, "sbvm-oci-mon", 0, 0, 0);
    /* Nothing the caller left open but our streams, the directory and the
     * pipe to `create`. */
    keep[0] = a->cdir < a->ready_fd ? a->cdir : a->ready_fd;
    keep[1] = a->cdir < a->ready_fd ? a->ready_fd : a->cdir;
    if (keep[0] > 3)
        syscall(SYS_close_range, 3, keep[0] - 1, 0);
    if (keep[1] > keep[0] + 1)
        syscall(SYS_close_range, keep[0] + 1, keep[1] - 1, 0);
    syscall(SYS_close_range, keep[1] + 1, ~0U, 0);
    oci_log_open(a->g->log, a->g->log_json, a->g->debug);
    /* With a terminal the container's streams are the terminal's: ours
     * (the caller's pipes) must not stay open, or a caller that reads
     * `create`'s output to its end (containerd's shim) waits for ours. */
    if (a->spec->process.terminal)
        oci_null_stdio();
    signal(SIGPIPE, SIG_IGN);
    /* The container's environment is its config's alone. */
    clearenv();
    if (setup(&m, &e) < 0) {
        strbuf_addf(&msg, "ERR %s", sbvm_error_message(e));
        tell(a->ready_fd, strbuf_failed(&msg) ? "ERR out of memory" : msg.buf);
        sbvm_error_free(e);
        if (m.main)
            sbvm_job_free(m.main);
        if (m.sb)
            sbvm_sandbox_destroy(m.sb, NULL, NULL);
        unlinkat(a->cdir, OCI_CTL_SOCKET, 0);
        _exit(1);
    }
    tell(a->ready_fd, "OK");
    close(a->ready_fd);
    oci_log(OCI_INFO, "container %s: created (monitor %d)", a->id, (int)getpid());

    while (!m.main_ended) {
        struct epoll_event evs[16];
        int n = epoll_wait(m.ep, evs, 16, -1);

        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sbvm_loop_fd(m.loop))
                sbvm_loop_run(m.loop, 0);
            else if (fd == m.lfd)
                accept_clients(&m);
            else if (fd == m.sigfd)
                on_signal(&m);
            else if (fd == m.parent_fd)
                parent_gone(&m);
            else if (exec_by_fd(&m, fd))
                exec_caller(&m, exec_by_fd(&m, fd));
            else
                serve(&m, fd);
            reap_execs(&m);
            if (m.main_ended)
                break;
        }
    }
    close_fd(&m.lfd);
    unlinkat(a->cdir, OCI_CTL_SOCKET, 0);
    finish(&m, &sig, &code);
    /* Its exec'd processes ended with its sandbox. */
    for (size_t i = 0; i < m.nexecs; i++)
        exec_finish(&m, m.execs[i]);
    m.nexecs = 0;
    oci_log(OCI_INFO, "container %s: %s", a->id, m.st.outcome ? m.st.outcome : "ended");
    sbvm_job_free(m.main);
    sbvm_loop_free(m.loop);
    oci_leave_like(sig, code);
}
