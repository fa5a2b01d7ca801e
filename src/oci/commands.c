/* SPDX-License-Identifier: MIT */
/*
 * commands.c: the runtime's commands (runc's command line): create and run
 * fork the container's monitor (monitor.c); start, kill, pause, resume and
 * delete --force ask it over its control socket; state and delete read the
 * state directory. Each returns the command's exit status, having said why
 * on stderr and in the log when it failed.
 */
#include "oci/oci.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

/* How long delete --force waits for a monitor to end the container. */
#define STOP_TIMEOUT_MS 10000

static const struct {
    const char *name;
    int sig;
} signals[] = {
    { "HUP", SIGHUP },       { "INT", SIGINT },   { "QUIT", SIGQUIT },     { "ILL", SIGILL },
    { "TRAP", SIGTRAP },     { "ABRT", SIGABRT }, { "IOT", SIGIOT },       { "BUS", SIGBUS },
    { "FPE", SIGFPE },       { "KILL", SIGKILL }, { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
    { "USR2", SIGUSR2 },     { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },     { "TERM", SIGTERM },
    { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP },
    { "TSTP", SIGTSTP },     { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },
    { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
    { "WINCH", SIGWINCH },   { "IO", SIGIO },     { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

int oci_parse_signal(const char *s)
{
    char *end;
    long n;

    if (!s || !*s)
        return -EINVAL;
    if (*s >= '0' && *s <= '9') {
        errno = 0;
        n = strtol(s, &end, 10);
        if (errno || *end || n <= 0 || n >= NSIG)
            return -EINVAL;
        return (int)n;
    }
    if (str_has_prefix(s, "SIG"))
        s += 3;
    for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
        if (streq(s, signals[i].name))
            return signals[i].sig;
    if (str_has_prefix(s, "RTMIN")) {
        n = s[5] == '+' ? strtol(s + 6, &end, 10) : 0;
        if ((s[5] == '\0' || (s[5] == '+' && !*end)) && SIGRTMIN + n <= SIGRTMAX)
            return SIGRTMIN + (int)n;
    }
    return -EINVAL;
}

/* ---- create and run ------------------------------------------------------- */

static int load_spec(const char *bundle, struct oci_spec *spec, sbvm_error **err)
{
    _cleanup_free_ char *text = NULL;
    _cleanup_close_ int dir = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    size_t len = 0;
    int r;

    if (dir < 0)
        return error_sys(err, errno, "--bundle %s", bundle);
    r = read_file_at(dir, "config.json", OCI_SPEC_MAX_BYTES, &text, &len);
    if (r == -EFBIG)
        return error_set(err, EFBIG, "%s/config.json: larger than %u bytes", bundle,
                         OCI_SPEC_MAX_BYTES);
    if (r < 0)
        return error_sys(err, -r, "%s/config.json", bundle);
    r = oci_spec_parse(text, len, spec, err);
    if (r < 0)
        return r;
    r = oci_spec_check(spec, geteuid() == 0, err);
    if (r < 0)
        oci_spec_release(spec);
    return r;
}

/* What create and run share: everything up to a monitor that says the
 * container is created. 0 with *mon set, or the exit status. */
static int create_container(const struct oci_global *g, const struct oci_create_opts *o,
                            bool foreground, pid_t *mon)
{
    char bundle[PATH_MAX], rootpath[PATH_MAX], state_dir[PATH_MAX + OCI_ID_MAX + 2];
    struct oci_spec spec;
    struct oci_plan plan;
    struct oci_monitor_args ma;
    sbvm_error *e = NULL;
    _cleanup_close_ int rootfd = -1, cdir = -1;
    int ready[2], r;
    char buf[4096];
    long n;
    pid_t pid;

    *mon = -1;
    if (oci_id_check(o->id, &e) < 0)
        return oci_fail_err(e, NULL);
    if (!realpath(o->bundle ? o->bundle : ".", bundle))
        return oci_fail("--bundle %s: %s", o->bundle ? o->bundle : ".", errno_text(errno));
    if (o->preserve_fds)
        return oci_fail("--preserve-fds %u: passing the runtime's descriptors to a container "
                        "is not supported (a container holds no host descriptor)",
                        o->preserve_fds);
    if (load_spec(bundle, &spec, &e) < 0)
        return oci_fail_err(e, NULL);
    for (size_t i = 0; i < spec.notes.n; i++)
        oci_log(OCI_WARN, "container %s: %s", o->id, spec.notes.v[i]);
    if (spec.process.terminal && !o->console_socket) {
        oci_spec_release(&spec);
        return oci_fail("process.terminal is true: give --console-socket (sandboxvm's own "
                        "terminal is 'sandboxvm shell')");
    }
    if (oci_plan_build(&spec, bundle, &plan, &e) < 0) {
        oci_plan_release(&plan);
        oci_spec_release(&spec);
        return oci_fail_err(e, NULL);
    }
    for (size_t i = 0; i < plan.notes.n; i++)
        oci_log(OCI_WARN, "container %s: %s", o->id, plan.notes.v[i]);
    rootfd = oci_root_open(g, true, &e);
    if (rootfd < 0)
        goto fail_err;
    if (mkdirat(rootfd, o->id, 0700) < 0) {
        r = errno;
        oci_plan_release(&plan);
        oci_spec_release(&spec);
        if (r == EEXIST)
            return oci_fail("container \"%s\" already exists", o->id);
        return oci_fail("making the state of %s: %s", o->id, errno_text(r));
    }
    cdir = oci_container_open(rootfd, o->id, &e);
    if (cdir < 0)
        goto fail_remove;
    snprintf(state_dir, sizeof(state_dir), "%s/%s", oci_root_path(g, rootpath), o->id);
    if (pipe2(ready, O_CLOEXEC) < 0) {
        e = NULL;
        error_sys(&e, errno, "a pipe to the monitor");
        goto fail_remove;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        error_sys(&e, errno, "forking the container's monitor");
        close(ready[0]);
        close(ready[1]);
        goto fail_remove;
    }
    if (pid == 0) {
        close(ready[0]);
        memset(&ma, 0, sizeof(ma));
        ma.g = g;
        ma.id = o->id;
        ma.bundle = bundle;
        ma.cdir = cdir;
        ma.state_dir = state_dir;
        ma.ready_fd = ready[1];
        ma.console_socket = o->console_socket;
        ma.spec = &spec;
        ma.plan = &plan;
        ma.foreground = foreground;
        oci_monitor_main(&ma);
    }
    close(ready[1]);
    n = read_full(ready[0], buf, sizeof(buf) - 1);
    close(ready[0]);
    buf[n > 0 ? n : 0] = '\0';
    oci_plan_release(&plan);
    oci_spec_release(&spec);
    if (n >= 2 && str_has_prefix(buf, "OK")) {
        *mon = pid;
        return 0;
    }
    /* It said why (or died): reap it, leave nothing. */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    oci_container_remove(rootfd, o->id, NULL);
    return oci_fail("creating container %s: %s", o->id,
                    str_has_prefix(buf, "ERR ") ? buf + 4 : "its monitor died");

fail_remove:
    unlinkat(rootfd, o->id, AT_REMOVEDIR);
fail_err:
    oci_plan_release(&plan);
    oci_spec_release(&spec);
    return oci_fail_err(e, NULL);
}

int oci_cmd_create(const struct oci_global *g, const struct oci_create_opts *o)
{
    sbvm_error *e = NULL;
    pid_t mon;
    int r = create_container(g, o, false, &mon);

    if (r)
        return r;
    if (o->pid_file && oci_write_pid_file(o->pid_file, mon, &e) < 0) {
        kill(mon, SIGKILL);
        waitpid(mon, NULL, 0);
        oci_cmd_delete(g, o->id, true);
        return oci_fail_err(e, NULL);
    }
    return 0;
}

/* Ends like the monitor ended (its status is the container's). */
static int mirror_status(int status)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        signal(sig, SIG_DFL);
        kill(getpid(), sig);
        return 128 + sig;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int oci_cmd_run(const struct oci_global *g, const struct oci_create_opts *o)
{
    sbvm_error *e = NULL;
    pid_t mon;
    int status = 0, r = create_container(g, o, !o->detach, &mon);

    if (r)
        return r;
    if (o->pid_file && oci_write_pid_file(o->pid_file, mon, &e) < 0) {
        kill(mon, SIGKILL);
        waitpid(mon, NULL, 0);
        oci_cmd_delete(g, o->id, true);
        return oci_fail_err(e, NULL);
    }
    r = oci_cmd_start(g, o->id);
    if (r) {
        oci_cmd_delete(g, o->id, true);
        if (!o->detach)
            waitpid(mon, NULL, 0);
        return r;
    }
    if (o->detach)
        return 0;
    while (waitpid(mon, &status, 0) < 0 && errno == EINTR)
        ;
    oci_cmd_delete(g, o->id, false);
    return mirror_status(status);
}

/* ---- the others ------------------------------------------------------------ */

/* The container's directory and its state, or the exit status. */
int oci_open_state(const struct oci_global *g, const char *id, int *rootfd, int *cdir,
                   struct oci_state *st)
{
    sbvm_error *e = NULL;

    *rootfd = *cdir = -1;
    *rootfd = oci_root_open(g, false, &e);
    if (*rootfd < 0 && sbvm_error_code(e) == ENOENT) {
        sbvm_error_free(e);
        return oci_fail("container \"%s\" does not exist", id);
    }
    if (*rootfd < 0)
        return oci_fail_err(e, NULL);
    *cdir = oci_container_open(*rootfd, id, &e);
    if (*cdir < 0) {
        close_fd(rootfd);
        return oci_fail_err(e, NULL);
    }
    if (oci_state_read(*cdir, st, &e) < 0) {
        close_fd(rootfd);
        close_fd(cdir);
        return oci_fail_err(e, id);
    }
    return 0;
}

static int simple_request(const struct oci_global *g, const char *id, json_t *req, const char *what)
{
    _cleanup_close_ int rootfd = -1, cdir = -1;
    struct oci_state st;
    sbvm_error *e = NULL;
    json_t *rep = NULL;
    int r = oci_open_state(g, id, &rootfd, &cdir, &st);

    if (r) {
        json_decref(req);
        return r;
    }
    if (oci_state_live_status(&st) == OCI_STOPPED) {
        oci_state_release(&st);
        json_decref(req);
        return oci_fail("cannot %s container %s: container not running (it is stopped)", what, id);
    }
    oci_state_release(&st);
    r = oci_ctl_call(cdir, req, NULL, 0, &rep, NULL, NULL, &e);
    json_decref(req);
    json_decref(rep);
    if (r < 0) {
        struct strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb, "cannot %s container %s", what, id);
        r = oci_fail_err(e, strbuf_failed(&sb) ? what : sb.buf);
        strbuf_release(&sb);
        return r;
    }
    return 0;
}

int oci_cmd_start(const struct oci_global *g, const char *id)
{
    return simple_request(g, id, json_pack("{s:s}", "op", "start"), "start");
}

int oci_cmd_kill(const struct oci_global *g, const char *id, int sig, bool all)
{
    return simple_request(
        g, id, json_pack("{s:s, s:i, s:b}", "op", "kill", "signal", sig, "all", all), "kill");
}

int oci_cmd_pause(const struct oci_global *g, const char *id, bool pause)
{
    return simple_request(g, id, json_pack("{s:s}", "op", pause ? "pause" : "resume"),
                          pause ? "pause" : "resume");
}

int oci_cmd_state(const struct oci_global *g, const char *id)
{
    _cleanup_close_ int rootfd = -1, cdir = -1;
    struct oci_state st;
    char *text;
    int r = oci_open_state(g, id, &rootfd, &cdir, &st);

    if (r)
        return r;
    text = oci_state_json(&st, oci_state_live_status(&st));
    oci_state_release(&st);
    if (!text)
        return oci_fail("out of memory");
    printf("%s\n", text);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Waits for a process we did not fork to end: 0, or -ETIMEDOUT. */
static int wait_gone(int pidfd, int timeout_ms)
{
    struct pollfd p = { pidfd, POLLIN, 0 };
    int r;

    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r == 1 ? 0 : -ETIMEDOUT;
}

/* Ends a live container: its monitor is asked to kill it, and is killed
 * itself when it does not end in time (the sandbox dies with it). */
static void stop_container(int cdir, const struct oci_state *st)
{
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
    json_t *req = json_pack("{s:s, s:i, s:b}", "op", "kill", "signal", SIGKILL, "all", 1);
    json_t *rep = NULL;

    /* Still the same process (pid not reused) now that we hold it. */
    if (pidfd < 0 || oci_proc_start_time(st->pid) != st->start_time) {
        json_decref(req);
        return;
    }
    oci_ctl_call(cdir, req, NULL, 0, &rep, NULL, NULL, NULL);
    json_decref(req);
    json_decref(rep);
    if (wait_gone(pidfd, STOP_TIMEOUT_MS) < 0) {
        oci_log(OCI_WARN, "container %s: its monitor did not end it in %d ms: killing it", st->id,
                STOP_TIMEOUT_MS);
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        wait_gone(pidfd, STOP_TIMEOUT_MS);
    }
}

/* The ledger and report of a container that is being deleted, to the log. */
static void log_ledger(int cdir, const char *id)
{
    _cleanup_free_ char *text = NULL;
    size_t len;

    if (read_file_at(cdir, "ledger.txt", 1u << 20, &text, &len) == 0 && len)
        oci_log(OCI_INFO, "deleting container %s: its ledger: %s", id, text);
}

int oci_cmd_delete(const struct oci_global *g, const char *id, bool force)
{
    _cleanup_close_ int rootfd = -1, cdir = -1;
    struct oci_state st;
    sbvm_error *e = NULL;
    enum oci_status s;
    int r;

    if (force) {
        /* Nothing to delete is not an error with --force, as with runc: an
         * engine cleans up after a create that failed. A directory
         * without a state is a create that died midway. */
        struct stat sb;
        rootfd = oci_root_open(g, false, NULL);
        if (rootfd < 0 || oci_id_check(id, NULL) < 0 ||
            fstatat(rootfd, id, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            return 0;
        cdir = oci_container_open(rootfd, id, NULL);
        if (cdir >= 0 && faccessat(cdir, "state.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
            oci_container_remove(rootfd, id, NULL);
            return 0;
        }
        close_fd(&cdir);
        close_fd(&rootfd);
    }
    r = oci_open_state(g, id, &rootfd, &cdir, &st);
    if (r)
        return r;
    s = oci_state_live_status(&st);
    if ((s == OCI_RUNNING || s == OCI_PAUSED) && !force) {
        oci_state_release(&st);
        return oci_fail("cannot delete container %s that is not stopped (it is %s); use --force",
                        id, oci_status_name(s));
    }
    if (s != OCI_STOPPED)
        stop_container(cdir, &st);
    log_ledger(cdir, id);
    oci_state_release(&st);
    if (oci_container_remove(rootfd, id, &e) < 0)
        return oci_fail_err(e, NULL);
    return 0;
}

int oci_cmd_list(const struct oci_global *g, bool quiet, bool json)
{
    sbvm_error *e = NULL;
    int rootfd = oci_root_open(g, false, &e);
    json_t *all = json_array();
    DIR *d;
    struct dirent *ent;

    if (rootfd < 0 && sbvm_error_code(e) == ENOENT) {
        sbvm_error_free(e);
        if (json)
            printf("[]\n");
        json_decref(all);
        return 0;
    }
    if (rootfd < 0) {
        json_decref(all);
        return oci_fail_err(e, NULL);
    }
    d = fdopendir(rootfd);
    if (!d) {
        close(rootfd);
        json_decref(all);
        return oci_fail("listing containers: %s", errno_text(errno));
    }
    if (!quiet && !json)
        printf("%-20s %-8s %-8s %s\n", "ID", "PID", "STATUS", "BUNDLE");
    while ((ent = readdir(d))) {
        struct oci_state st;
        int cdir;
        enum oci_status s;

        if (ent->d_name[0] == '.' || oci_id_check(ent->d_name, NULL) < 0)
            continue;
        cdir = oci_container_open(dirfd(d), ent->d_name, NULL);
        if (cdir < 0)
            continue;
        if (oci_state_read(cdir, &st, NULL) == 0) {
            s = oci_state_live_status(&st);
            if (quiet)
                printf("%s\n", st.id);
            else if (json) {
                char *t = oci_state_json(&st, s);
                json_t *o = t ? json_loads(t, 0, NULL) : NULL;
                if (o)
                    json_array_append_new(all, o);
                free(t);
            } else
                printf("%-20s %-8d %-8s %s\n", st.id, s == OCI_STOPPED ? 0 : st.pid,
                       oci_status_name(s), st.bundle);
            oci_state_release(&st);
        }
        close(cdir);
    }
    closedir(d);
    if (json) {
        char *t = json_dumps(all, JSON_COMPACT);
        printf("%s\n", t ? t : "[]");
        free(t);
    }
    json_decref(all);
    return 0;
}

int oci_cmd_features(void)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:[], s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s], s:{s:[s,s,s,s,s,s], s:[], "
        "s:{s:b, s:b}, s:{s:b, s:[s,s,s,s,s,s], s:[s,s,s,s,s,s,s], s:[s,s,s], s:[s,s], "
        "s:[s,s]}, s:{s:b}, s:{s:b}}, s:{s:s, s:s}}",
        "ociVersionMin", "1.0.0", "ociVersionMax", OCI_SPEC_VERSION, "hooks", "mountOptions", "ro",
        "rw", "bind", "rbind", "nosuid", "nodev", "noexec", "private", "rprivate", "size", "mode",
        "newinstance", "ptmxmode", "gid", "relatime", "linux", "namespaces", "pid", "network",
        "mount", "ipc", "uts", "user", "capabilities", "cgroup", "v1", 1, "v2", 1, "seccomp",
        "enabled", 1, "actions", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "operators", "SCMP_CMP_NE",
        "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ", "archs", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
        "knownFlags", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "supportedFlags",
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "apparmor", "enabled", 0, "selinux",
        "enabled", 0, "annotations", "run.sandboxvm.net.allow",
        "HOST[:PORT],...: sandboxvm's network broker for a container with its own network",
        "org.opencontainers.runtime-spec.features", "sandboxvm " SBVM_VERSION);
    char *t = o ? json_dumps(o, JSON_INDENT(2)) : NULL;

    json_decref(o);
    if (!t)
        return oci_fail("out of memory");
    printf("%s\n", t);
    free(t);
    return 0;
}
