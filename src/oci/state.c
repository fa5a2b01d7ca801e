/* SPDX-License-Identifier: MIT */
/*
 * state.c: the runtime's state directory: ROOT/ID/ holds state.json (the
 * OCI state and how the container ended), ctl.sock (its monitor's control
 * socket while it runs), report.txt (a crash or denial, in full) and
 * ledger.txt (what the sandbox held when it ended). The directories are
 * 0700 and must be ours: anyone who could write them could speak to a
 * monitor or plant a state.
 */
#include "oci/oci.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#define STATE_FILE     "state.json"
#define STATE_MAX_SIZE (1u << 20)

static const char *const status_names[] = { "creating", "created", "running", "paused", "stopped" };

const char *oci_status_name(enum oci_status s)
{
    return (unsigned)s < ARRAY_SIZE(status_names) ? status_names[s] : "unknown";
}

void oci_state_release(struct oci_state *st)
{
    free(st->id);
    free(st->bundle);
    free(st->created);
    free(st->log);
    free(st->outcome);
    json_decref(st->annotations);
    memset(st, 0, sizeof(*st));
}

int oci_id_check(const char *id, sbvm_error **err)
{
    size_t n = strlen(id);

    if (n == 0 || n > OCI_ID_MAX || id[0] == '.' || id[0] == '-')
        return error_set(err, EINVAL,
                         "invalid container ID '%.*s': 1 to %d characters from [A-Za-z0-9_.+-], "
                         "not starting with '.' or '-'",
                         OCI_ID_MAX, id, OCI_ID_MAX);
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '+' || *p == '-'))
            return error_set(err, EINVAL,
                             "invalid container ID '%.*s': 1 to %d characters from "
                             "[A-Za-z0-9_.+-]",
                             OCI_ID_MAX, id, OCI_ID_MAX);
    return 0;
}

/* A directory that is ours and nobody else's: not a symlink, owned by us,
 * no group or other write permission. */
static int own_dir(int fd, const char *path, sbvm_error **err)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return error_sys(err, errno, "%s", path);
    if (!S_ISDIR(st.st_mode))
        return error_set(err, ENOTDIR, "%s: not a directory", path);
    if (st.st_uid != geteuid())
        return error_set(err, EPERM, "%s: owned by uid %u, not by us (uid %u)", path,
                         (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 022)
        return error_set(err, EPERM, "%s: writable by others (mode %04o)", path,
                         (unsigned)(st.st_mode & 07777));
    return 0;
}

bool oci_host_root(void)
{
    char buf[128];
    _cleanup_close_ int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
    long n = fd < 0 ? -1 : read_full(fd, buf, sizeof(buf) - 1);
    unsigned long a, b, c;

    if (geteuid() != 0 || n <= 0)
        return false;
    buf[n] = '\0';
    /* The host's user namespace maps every id to itself, in one line. */
    return sscanf(buf, " %lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL &&
           !strchr(strchr(buf, '\n') ? strchr(buf, '\n') + 1 : "", ' ');
}

const char *oci_root_path(const struct oci_global *g, char *buf)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");

    char cwd[PATH_MAX];

    if (g->root && g->root[0] != '/' && getcwd(cwd, sizeof(cwd)) &&
        strlen(cwd) + strlen(g->root) + 2 <= PATH_MAX) {
        /* Absolute, for messages that name the state directory. */
        size_t a = streq(cwd, "/") ? 0 : strlen(cwd);
        memcpy(buf, cwd, a);
        buf[a] = '/';
        memcpy(buf + a + 1, g->root, strlen(g->root) + 1);
    } else if (g->root)
        snprintf(buf, PATH_MAX, "%s", g->root);
    else if (geteuid() == 0 && oci_host_root())
        snprintf(buf, PATH_MAX, "%s", OCI_DEFAULT_ROOT);
    else if (xdg && xdg[0] == '/')
        snprintf(buf, PATH_MAX, "%s/sandboxvm-oci", xdg);
    else
        snprintf(buf, PATH_MAX, "/tmp/sandboxvm-oci-%u", (unsigned)geteuid());
    return buf;
}

int oci_root_open(const struct oci_global *g, bool create, sbvm_error **err)
{
    char buf[PATH_MAX];
    const char *root = oci_root_path(g, buf);
    int fd, r;

    if (create && mkdir(root, 0700) < 0 && errno != EEXIST) {
        /* Its parent may be missing too (a fresh /run/containerd/runc). */
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", root);
        if (errno != ENOENT || mkdir(dirname(parent), 0711) < 0 || mkdir(root, 0700) < 0)
            return error_sys(err, errno, "making the state directory %s", root);
    }
    fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return error_sys(err, errno, "the state directory %s", root);
    r = own_dir(fd, root, err);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int oci_container_open(int rootfd, const char *id, sbvm_error **err)
{
    int fd, r = oci_id_check(id, err);

    if (r < 0)
        return r;
    fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return error_set(err, ENOENT, "container \"%s\" does not exist", id);
    if (fd < 0)
        return error_sys(err, errno, "container \"%s\"", id);
    r = own_dir(fd, id, err);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int oci_write_file(int cdir, const char *name, const char *text, size_t len)
{
    char tmp[NAME_MAX];
    int fd, r;

    snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
    fd = openat(cdir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    r = write_full(fd, text, len);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && renameat(cdir, tmp, cdir, name) < 0)
        r = -errno;
    if (r < 0)
        unlinkat(cdir, tmp, 0);
    return r;
}

static json_t *state_object(const struct oci_state *st, enum oci_status status, bool internal)
{
    json_t *o = json_object();

    if (!o)
        return NULL;
    json_object_set_new(o, "ociVersion", json_string(OCI_SPEC_VERSION));
    json_object_set_new(o, "id", json_string(st->id));
    json_object_set_new(o, "status", json_string(oci_status_name(status)));
    /* The pid only while there is a process: the specification asks for it
     * when created or running. */
    json_object_set_new(o, "pid", json_integer(status == OCI_STOPPED ? 0 : st->pid));
    json_object_set_new(o, "bundle", json_string(st->bundle));
    if (st->created)
        json_object_set_new(o, "created", json_string(st->created));
    json_object_set_new(o, "annotations",
                        st->annotations ? json_incref(st->annotations) : json_object());
    if (internal || st->ended) {
        json_t *x = json_object();
        if (internal) {
            json_object_set_new(x, "monitorStartTime", json_integer((json_int_t)st->start_time));
            if (st->log)
                json_object_set_new(x, "log", json_string(st->log));
            json_object_set_new(x, "logFormat", json_string(st->log_json ? "json" : "text"));
        }
        if (st->ended) {
            json_object_set_new(x, "exitStatus", json_integer(st->exit_status));
            if (st->outcome)
                json_object_set_new(x, "outcome", json_string(st->outcome));
        }
        json_object_set_new(o, "sandboxvm", x);
    }
    return o;
}

char *oci_state_json(const struct oci_state *st, enum oci_status status)
{
    json_t *o = state_object(st, status, false);
    char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;

    json_decref(o);
    return s;
}

int oci_state_write(int cdir, const struct oci_state *st, sbvm_error **err)
{
    json_t *o = state_object(st, st->status, true);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int r;

    json_decref(o);
    if (!text)
        return error_set(err, ENOMEM, "state of %s: out of memory", st->id);
    r = oci_write_file(cdir, STATE_FILE, text, strlen(text));
    free(text);
    if (r < 0)
        return error_sys(err, -r, "writing the state of %s", st->id);
    return 0;
}

static char *dup_str(json_t *v)
{
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

int oci_state_read(int cdir, struct oci_state *st, sbvm_error **err)
{
    _cleanup_free_ char *text = NULL;
    json_t *o, *x, *v;
    json_error_t je;
    size_t len;
    const char *status;
    int r;

    memset(st, 0, sizeof(*st));
    r = read_file_at(cdir, STATE_FILE, STATE_MAX_SIZE, &text, &len);
    if (r == -ENOENT)
        return error_set(err, ENOENT,
                         "the container's state does not exist (it is still being "
                         "created, or its create failed)");
    if (r < 0)
        return error_sys(err, -r, "reading the container's state");
    o = json_loadb(text, len, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return error_set(err, EINVAL, "the container's state is damaged");
    }
    st->id = dup_str(json_object_get(o, "id"));
    st->bundle = dup_str(json_object_get(o, "bundle"));
    st->created = dup_str(json_object_get(o, "created"));
    status = json_string_value(json_object_get(o, "status"));
    st->status = OCI_STOPPED;
    for (size_t i = 0; status && i < ARRAY_SIZE(status_names); i++)
        if (streq(status, status_names[i]))
            st->status = (enum oci_status)i;
    v = json_object_get(o, "pid");
    st->pid = json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < INT32_MAX
                  ? (int)json_integer_value(v)
                  : 0;
    v = json_object_get(o, "annotations");
    if (json_is_object(v))
        st->annotations = json_incref(v);
    x = json_object_get(o, "sandboxvm");
    if (json_is_object(x)) {
        v = json_object_get(x, "monitorStartTime");
        st->start_time = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
        st->log = dup_str(json_object_get(x, "log"));
        v = json_object_get(x, "logFormat");
        st->log_json = json_is_string(v) && streq(json_string_value(v), "json");
        v = json_object_get(x, "exitStatus");
        if (json_is_integer(v)) {
            st->ended = true;
            st->exit_status = (int)(json_integer_value(v) & 0xff);
            st->outcome = dup_str(json_object_get(x, "outcome"));
        }
    }
    json_decref(o);
    if (!st->id || !st->bundle) {
        oci_state_release(st);
        return error_set(err, EINVAL, "the container's state is damaged");
    }
    return 0;
}

uint64_t oci_proc_start_time(int pid)
{
    char path[64], buf[1024], *p;
    _cleanup_close_ int fd = -1;
    unsigned long long t = 0;
    long n;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read_full(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* After the command's name, which may hold anything but ends at the
     * last ')': state is field 3, starttime field 22. */
    p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    /* A zombie has ended: it only waits for its parent to notice. */
    if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X'))
        return 0;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %llu", &t) != 1)
        return 0;
    return t;
}

enum oci_status oci_state_live_status(const struct oci_state *st)
{
    if (st->status == OCI_STOPPED || st->status == OCI_CREATING)
        return st->status;
    if (st->pid <= 0 || !st->start_time || oci_proc_start_time(st->pid) != st->start_time)
        return OCI_STOPPED;
    return st->status;
}

int oci_container_remove(int rootfd, const char *id, sbvm_error **err)
{
    int cdir, r = 0;
    DIR *d;
    struct dirent *e;

    cdir = oci_container_open(rootfd, id, err);
    if (cdir < 0)
        return cdir;
    d = fdopendir(cdir);
    if (!d) {
        close(cdir);
        return error_sys(err, errno, "removing container %s", id);
    }
    /* Only files of ours are in it: nothing to recurse into. */
    while ((e = readdir(d)))
        if (!streq(e->d_name, ".") && !streq(e->d_name, "..") &&
            unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT && r == 0)
            r = error_sys(err, errno, "removing %s/%s", id, e->d_name);
    closedir(d);
    if (r == 0 && unlinkat(rootfd, id, AT_REMOVEDIR) < 0 && errno != ENOENT)
        r = error_sys(err, errno, "removing container %s", id);
    return r;
}

int oci_write_pid_file(const char *path, int pid, sbvm_error **err)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 32], text[24];
    int fd, r;

    if (strlen(path) >= PATH_MAX)
        return error_set(err, ENAMETOOLONG, "--pid-file %s: name too long", path);
    snprintf(dir, sizeof(dir), "%s", path);
    snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", dirname(dir),
             strrchr(path, '/') ? strrchr(path, '/') + 1 : path, (int)getpid());
    snprintf(text, sizeof(text), "%d", pid);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return error_sys(err, errno, "--pid-file %s", path);
    r = write_full(fd, text, strlen(text));
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return error_sys(err, -r, "--pid-file %s", path);
    }
    return 0;
}
