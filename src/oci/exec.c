/* SPDX-License-Identifier: MIT */
/*
 * exec.c: a process run in a running container (runc exec). The container's
 * monitor starts it as a job of the container's sandbox; this side is its
 * stand-in on the host, the process the caller waits for: it hands the
 * monitor its standard streams (or passes the terminal's master on to
 * --console-socket), writes --pid-file, and ends with the exec'd process's
 * own wait status. With --detach it does so in a child left to the caller's
 * subreaper (conmon). If it dies first, the monitor kills the process.
 */
#include "oci/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* Whether process.json asks for a terminal (the monitor checks the rest). */
static int wants_terminal(const char *path, bool *tty, sbvm_error **err)
{
    _cleanup_free_ char *text = NULL;
    struct oci_process p;
    size_t len;
    int r = read_file_at(AT_FDCWD, path, OCI_SPEC_MAX_BYTES, &text, &len);

    if (r < 0)
        return error_sys(err, -r, "--process %s", path);
    r = oci_process_parse(text, len, &p, err);
    if (r < 0)
        return r;
    *tty = p.terminal;
    oci_process_release(&p);
    return 0;
}

/* Asks the monitor to start the process: the connection that will carry
 * its end, or -errno. */
static int request(int cdir, const struct oci_exec_opts *o, bool tty, sbvm_error **err)
{
    _cleanup_close_ int pfd = -1;
    int fds[OCI_CTL_FDS_MAX], rfds[OCI_CTL_FDS_MAX];
    size_t nfds = 0, nrfds = 0;
    json_t *req, *rep, *v;
    const char *msg;
    int fd, r;

    if (o->process) {
        pfd = open(o->process, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (pfd < 0)
            return error_sys(err, errno, "--process %s", o->process);
        fds[nfds++] = pfd;
        req = json_pack("{s:s, s:b}", "op", "exec", "processFile", 1);
    } else {
        json_t *args = json_array(), *env = json_array();
        for (size_t i = 0; args && i < o->argc; i++)
            json_array_append_new(args, json_string(o->argv[i]));
        for (size_t i = 0; env && i < o->nenv; i++)
            json_array_append_new(env, json_string(o->env[i]));
        req = json_pack("{s:s, s:o, s:o, s:b}", "op", "exec", "args", args, "env", env, "tty", tty);
        if (req && o->cwd)
            json_object_set_new(req, "cwd", json_string(o->cwd));
    }
    if (!req)
        return error_set(err, ENOMEM, "out of memory");
    if (!tty) {
        fds[nfds++] = STDIN_FILENO;
        fds[nfds++] = STDOUT_FILENO;
        fds[nfds++] = STDERR_FILENO;
    }
    fd = oci_ctl_connect(cdir, err);
    if (fd < 0) {
        json_decref(req);
        return fd;
    }
    r = oci_ctl_send(fd, req, fds, nfds);
    json_decref(req);
    if (r < 0) {
        close(fd);
        return error_sys(err, -r, "asking the container's monitor");
    }
    rep = oci_ctl_recv(fd, 60000, rfds, &nrfds, err);
    if (!rep) {
        close(fd);
        return -EIO;
    }
    msg = json_string_value(json_object_get(rep, "error"));
    if (msg) {
        v = json_object_get(rep, "errno");
        r = error_set(err, json_is_integer(v) ? (int)json_integer_value(v) : EIO, "%s", msg);
    } else if (tty && nrfds != 1) {
        r = error_set(err, EIO, "the container's monitor sent no terminal");
    } else if (tty) {
        r = oci_send_console(o->console_socket, rfds[0], err);
    }
    for (size_t i = 0; i < nrfds; i++)
        close(rfds[i]);
    json_decref(rep);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

/* Waits for the process's end and ends the same way. */
static _Noreturn void wait_end(int fd)
{
    sbvm_error *e = NULL;
    json_t *o = oci_ctl_recv(fd, -1, NULL, NULL, &e);
    int sig = 0, code = 137;

    if (o) {
        json_t *x = json_object_get(o, "exit"), *s = json_object_get(o, "signal");
        code = json_is_integer(x) ? (int)json_integer_value(x) : 255;
        sig = json_is_integer(s) ? (int)json_integer_value(s) : 0;
        json_decref(o);
    } else {
        /* The monitor went away: the container, and the process, died. */
        sbvm_error_free(e);
        sig = SIGKILL;
    }
    oci_leave_like(sig, code);
}

int oci_cmd_exec(const struct oci_global *g, const struct oci_exec_opts *o)
{
    _cleanup_close_ int rootfd = -1, cdir = -1;
    struct oci_state st;
    sbvm_error *e = NULL;
    bool tty = o->tty;
    int ready[2], fd, r;
    char buf[4096];
    long n;
    pid_t pid;

    r = oci_open_state(g, o->id, &rootfd, &cdir, &st);
    if (r)
        return r;
    r = oci_state_live_status(&st) != OCI_RUNNING;
    if (r)
        oci_fail("cannot exec in container %s: it is %s", o->id,
                 oci_status_name(oci_state_live_status(&st)));
    oci_state_release(&st);
    if (r)
        return 1;
    if (o->process && wants_terminal(o->process, &tty, &e) < 0)
        return oci_fail_err(e, NULL);
    if (tty && !o->console_socket)
        return oci_fail("exec with a terminal: give --console-socket");
    if (!o->detach) {
        fd = request(cdir, o, tty, &e);
        if (fd < 0)
            return oci_fail_err(e, NULL);
        if (o->pid_file && oci_write_pid_file(o->pid_file, getpid(), &e) < 0) {
            close(fd);
            return oci_fail_err(e, NULL);
        }
        wait_end(fd);
    }
    if (pipe2(ready, O_CLOEXEC) < 0)
        return oci_fail("exec: a pipe: %s", errno_text(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return oci_fail("exec: fork: %s", errno_text(errno));
    if (pid == 0) {
        struct strbuf m = STRBUF_INIT;
        close(ready[0]);
        fd = request(cdir, o, tty, &e);
        if (fd < 0) {
            strbuf_addf(&m, "ERR %s", sbvm_error_message(e));
            (void)write_full(ready[1], m.buf ? m.buf : "ERR", m.buf ? m.len : 3);
            _exit(1);
        }
        (void)write_full(ready[1], "OK", 2);
        close(ready[1]);
        /* With a terminal, the caller's streams are not the process's:
         * let go of them (a caller may read them to their end). */
        if (tty)
            oci_null_stdio();
        close_fd(&cdir);
        close_fd(&rootfd);
        wait_end(fd);
    }
    close(ready[1]);
    n = read_full(ready[0], buf, sizeof(buf) - 1);
    close(ready[0]);
    buf[n > 0 ? n : 0] = '\0';
    if (!str_has_prefix(buf, "OK")) {
        waitpid(pid, NULL, 0);
        return oci_fail("exec in container %s: %s", o->id,
                        str_has_prefix(buf, "ERR ") ? buf + 4 : "failed");
    }
    if (o->pid_file && oci_write_pid_file(o->pid_file, pid, &e) < 0) {
        kill(pid, SIGKILL);
        return oci_fail_err(e, NULL);
    }
    return 0;
}
