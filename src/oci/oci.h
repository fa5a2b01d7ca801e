/* SPDX-License-Identifier: MIT */
/*
 * oci.h: sandboxvm as an OCI runtime (docs/OCI.md): what the runtime's
 * pieces share. It is part of the command, not of the library: it forks,
 * prints, and exits.
 *
 * The shape. `create` checks the bundle, then forks a monitor: a sandboxvm
 * process that builds the container's live sandbox, starts the container's
 * process as a held job (set up, its program found, waiting before its
 * exec), and serves a control socket in the container's state directory.
 * `create` writes the monitor's pid to --pid-file and exits; the monitor is
 * reparented to the caller's subreaper (conmon, containerd's shim), which
 * waits for it: the monitor is the "container process" the engines see,
 * and it ends with the container's own wait status. `start`, `kill`,
 * `pause`, `resume`, `exec` and `delete --force` are clients of its control
 * socket; `state` and `delete` read the state directory.
 */
#ifndef SBVM_OCI_OCI_H
#define SBVM_OCI_OCI_H

#include <jansson.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oci/spec.h"
#include "sandboxvm/sandboxvm.h"

/* The runtime-spec version the state and features documents speak. */
#define OCI_SPEC_VERSION "1.2.0"
/* Where state lives by default, as root; otherwise under XDG_RUNTIME_DIR
 * (or /tmp/sandboxvm-oci-UID). */
#define OCI_DEFAULT_ROOT "/run/sandboxvm-oci"
#define OCI_ID_MAX       128

/* The global options of every command. */
struct oci_global {
    const char *root; /* NULL: the default */
    const char *log;  /* NULL: stderr only */
    bool log_json;
    bool debug;
};

/* ---- log.c ---- */
enum oci_level { OCI_ERROR, OCI_WARN, OCI_INFO, OCI_DEBUG };
/* Where messages go: the --log file (text or JSON lines, as containerd's
 * shim reads them), and errors also on stderr (conmon shows them). */
void oci_log_open(const char *path, bool json, bool debug);
void oci_log_close(void);
void oci_log(enum oci_level lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error on stderr and in the log, in one place; returns 1. */
int oci_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, from a library error (freed). */
int oci_fail_err(sbvm_error *e, const char *what);

/* ---- state.c ---- */
enum oci_status { OCI_CREATING, OCI_CREATED, OCI_RUNNING, OCI_PAUSED, OCI_STOPPED };
const char *oci_status_name(enum oci_status s);

struct oci_state {
    char *id;
    char *bundle;
    enum oci_status status;
    int pid;             /* the monitor's */
    uint64_t start_time; /* its /proc start time, against pid reuse */
    char *created;       /* RFC 3339 */
    json_t *annotations; /* object, or NULL */
    char *log;           /* the --log given to create, or NULL */
    bool log_json;
    /* Once stopped: how the container ended. */
    bool ended;
    int exit_status; /* 0..255 as a shell reports it */
    char *outcome;   /* one line */
};
void oci_state_release(struct oci_state *st);

/* Whether we are root of the host's user namespace (not of an engine's
 * rootless one): the default state directory is /run's only then. */
bool oci_host_root(void);
/* The state root's path (buf has PATH_MAX bytes). */
const char *oci_root_path(const struct oci_global *g, char *buf);
/* The state root (made 0700 when `create`), opened: an fd, or -errno. */
int oci_root_open(const struct oci_global *g, bool create, sbvm_error **err);
/* Container IDs: 1..128 characters from [A-Za-z0-9_.+-], not starting with
 * '.' or '-' (they name directories and appear in messages). */
int oci_id_check(const char *id, sbvm_error **err);
/* The container's directory under the root: an fd, or -ENOENT with a
 * message that says "does not exist" (engines look for those words). */
int oci_container_open(int rootfd, const char *id, sbvm_error **err);
int oci_state_read(int cdir, struct oci_state *st, sbvm_error **err);
/* Written whole into a new file, then renamed over the old one. */
int oci_state_write(int cdir, const struct oci_state *st, sbvm_error **err);
/* The status now: a recorded created/running/paused whose monitor is gone
 * (not the same process any more) is stopped. */
enum oci_status oci_state_live_status(const struct oci_state *st);
/* A process's start time (clock ticks since boot, /proc/PID/stat), or 0. */
uint64_t oci_proc_start_time(int pid);
/* The state document (runtime-spec "State") as JSON text (free it). */
char *oci_state_json(const struct oci_state *st, enum oci_status status);
/* Removes the container's directory and what sandboxvm put in it. */
int oci_container_remove(int rootfd, const char *id, sbvm_error **err);
/* A small file in the container's directory, written whole (0600). */
int oci_write_file(int cdir, const char *name, const char *text, size_t len);
/* Writes `pid` to path through a new file renamed into place. */
int oci_write_pid_file(const char *path, int pid, sbvm_error **err);

/* ---- control.c ---- */
#define OCI_CTL_SOCKET  "ctl.sock"
#define OCI_CTL_MSG_MAX (64 * 1024)
#define OCI_CTL_FDS_MAX 4
/* The monitor's listening socket in the container's directory. */
int oci_ctl_listen(int cdir, sbvm_error **err);
int oci_ctl_connect(int cdir, sbvm_error **err);
/* One message: a JSON object and up to OCI_CTL_FDS_MAX descriptors. */
int oci_ctl_send(int fd, json_t *msg, const int *fds, size_t nfds);
/* The next message, waiting at most timeout_ms (-1: no limit); fds
 * received are returned (close-on-exec) in fds/nfds. NULL on EOF, error or
 * a malformed message (*err says which; -ECONNRESET on EOF). */
json_t *oci_ctl_recv(int fd, int timeout_ms, int *fds, size_t *nfds, sbvm_error **err);
/* Sends a request and reads the reply; a reply {"error": "..."} becomes an
 * error. The reply (ok) in *out (json_decref it), or NULL. */
int oci_ctl_call(int cdir, json_t *req, const int *fds, size_t nfds, json_t **out, int *rfds,
                 size_t *nrfds, sbvm_error **err);

/* ---- seccomp.c ---- */
/* The container's profile as BPF (malloc'd, *len instructions). */
int oci_seccomp_compile(const struct oci_seccomp *sc, struct sock_filter **out, size_t *len,
                        sbvm_error **err);

/* ---- convert.c ---- */
/* Annotations for sandboxvm's network broker (docs/OCI.md): the rules of
 * `run --net allow=` without wildcards, comma-separated, and whether
 * allowed names may be loopback or private addresses ("true"/"false"). */
#define OCI_NET_ALLOW           "run.sandboxvm.net.allow"
#define OCI_NET_ALLOW_PRIVATE   "run.sandboxvm.net.allow-private"
#define OCI_NET_ALLOW_MAX_BYTES 4096u
#define OCI_NET_ALLOW_MAX_RULES 64u
/* What create prepares for the monitor from a checked spec. */
struct oci_plan {
    sbvm_config *cfg;                                /* the container's sandbox */
    char *netns;                                     /* a network namespace to join, or NULL */
    struct strv net_sysctl_paths, net_sysctl_values; /* written in a joined netns */
    bool rootless;     /* the runtime is not root in its user namespace */
    struct strv notes; /* what is not applied on this host, for the log */
};
int oci_plan_build(const struct oci_spec *s, const char *bundle, struct oci_plan *p,
                   sbvm_error **err);
void oci_plan_release(struct oci_plan *p);

/* ---- monitor.c ---- */
/* A terminal's master to an engine's console socket, as runc does: one
 * message naming the terminal, the descriptor with it. 0 or -errno. */
int oci_send_console(const char *path, int master, sbvm_error **err);
struct oci_monitor_args {
    const struct oci_global *g;
    const char *id;
    const char *bundle;
    int cdir;                   /* the container's directory */
    const char *state_dir;      /* its path, for messages */
    int ready_fd;               /* where to say "created" (or why not) */
    const char *console_socket; /* NULL without a terminal */
    const struct oci_spec *spec;
    struct oci_plan *plan;
    bool foreground; /* `run`: the caller waits for us itself */
};
/* The monitor's life: never returns. Exits (or dies) with the container's
 * wait status once the container's process ended and the sandbox is gone. */
_Noreturn void oci_monitor_main(const struct oci_monitor_args *a);
/* Ends this process the way a container's process ended (a signal, or an
 * exit code), so that whoever waits for it sees the same wait status. */
_Noreturn void oci_leave_like(int sig, int code);
/* Our stdin, stdout and stderr onto /dev/null. */
void oci_null_stdio(void);

/* ---- commands.c ---- */
struct oci_create_opts {
    const char *id;
    const char *bundle;
    const char *pid_file;
    const char *console_socket;
    unsigned preserve_fds;
    bool detach; /* run -d */
};
int oci_cmd_create(const struct oci_global *g, const struct oci_create_opts *o);
int oci_cmd_run(const struct oci_global *g, const struct oci_create_opts *o);
int oci_cmd_start(const struct oci_global *g, const char *id);
int oci_cmd_state(const struct oci_global *g, const char *id);
int oci_cmd_kill(const struct oci_global *g, const char *id, int sig, bool all);
int oci_cmd_delete(const struct oci_global *g, const char *id, bool force);
int oci_cmd_pause(const struct oci_global *g, const char *id, bool pause);
int oci_cmd_list(const struct oci_global *g, bool quiet, bool json);
struct oci_exec_opts {
    const char *id;
    const char *process; /* process.json, or NULL: argv */
    char **argv;
    size_t argc;
    const char *pid_file;
    const char *console_socket;
    const char *cwd;
    char **env;
    size_t nenv;
    bool tty;
    bool detach;
};
int oci_cmd_exec(const struct oci_global *g, const struct oci_exec_opts *o);
/* The container's directory and state for a command: 0, or the exit status
 * (the reason said). */
int oci_open_state(const struct oci_global *g, const char *id, int *rootfd, int *cdir,
                   struct oci_state *st);
int oci_cmd_features(void);
/* A signal by name ("TERM", "SIGKILL") or number: 1..64, or -EINVAL. */
int oci_parse_signal(const char *s);

#endif
