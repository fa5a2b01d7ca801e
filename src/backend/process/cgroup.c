/* SPDX-License-Identifier: MIT */
/* cgroup.c: per-guest control groups for limits and accounting. */
#include "backend/process/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

static const char *const v1_names[CG__COUNT] = { "memory", "pids", "cpuacct", "cpu", "cpuset" };

const char *cgroup_mode_name(enum cgroup_mode m)
{
    return m == CGROUP_V2 ? "cgroup v2" : m == CGROUP_V1 ? "cgroup v1" : "none";
}

static char *read_text(const char *dir, const char *file)
{
    char path[4096], *out = NULL;

    if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
        return NULL;
    if (read_file_at(AT_FDCWD, path, 64 * 1024, &out, NULL) < 0)
        return NULL;
    return out;
}

static int write_text(const char *dir, const char *file, const char *text)
{
    char path[4096];
    _cleanup_close_ int fd = -1;

    if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return write_full(fd, text, strlen(text));
}

/* Whether a space/comma separated list holds `word`. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, " ,\n");
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p += len;
        p += strspn(p, " ,\n");
    }
    return false;
}

/* "key value" lines (memory.events, pids.events, cpu.stat). */
/* The value of "key N" lines in a flat keyed file's text (cpu.stat). */
static bool find_key(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);

    for (const char *p = text; p && *p;) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
            *out = strtoull(p + klen + 1, NULL, 10);
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

static bool read_key(const char *dir, const char *file, const char *key, uint64_t *out)
{
    _cleanup_free_ char *text = read_text(dir, file);

    return find_key(text, key, out);
}

static uint64_t read_u64(const char *dir, const char *file)
{
    _cleanup_free_ char *text = read_text(dir, file);
    return text ? strtoull(text, NULL, 10) : 0;
}

/* Our own cgroup path in hierarchy `want` ("" for v2, a controller for v1). */
static char *own_path(const char *want)
{
    _cleanup_free_ char *text = NULL;

    if (read_file_at(AT_FDCWD, "/proc/self/cgroup", 64 * 1024, &text, NULL) < 0)
        return NULL;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (nl)
            *nl = '\0';
        if (c2) {
            *c2 = '\0';
            if (want[0] ? has_word(c1 + 1, want) : (c1[1] == '\0' && strncmp(line, "0", 1) == 0))
                return strdup(c2 + 1);
        }
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* The mount point of a cgroup hierarchy: v2 (controller NULL) or the v1
 * hierarchy holding `controller`. */
static char *mount_of(const char *controller)
{
    FILE *f = fopen("/proc/self/mounts", "re");
    char line[1024], dev[256], dir[512], type[64], opts[512];
    char *found = NULL;

    if (!f)
        return NULL;
    while (!found && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%255s %511s %63s %511s", dev, dir, type, opts) != 4)
            continue;
        if (!controller && streq(type, "cgroup2"))
            found = strdup(dir);
        else if (controller && streq(type, "cgroup") && has_word(opts, controller))
            found = strdup(dir);
    }
    fclose(f);
    return found;
}

static char *join(const char *a, const char *b)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addstr(&sb, a);
    if (b && !streq(b, "/"))
        strbuf_addstr(&sb, b);
    return strbuf_detach(&sb, NULL);
}

/* Removes "sandboxvm-<pid>-*" groups whose supervisor is gone. */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char path[4096];
        long pid;
        if (!str_has_prefix(e->d_name, "sandboxvm-"))
            continue;
        pid = strtol(e->d_name + 10, NULL, 10);
        if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", base, e->d_name) < (int)sizeof(path))
            rmdir(path);
    }
    closedir(d);
}

/*
 * A delegated cgroup v2 subtree whose controllers are not yet enabled for
 * children: v2 forbids enabling them while processes live in the group
 * itself, so the supervisor first moves into a leaf of its own
 * ("sandboxvm-<pid>-sup", removed as stale once it is gone), then enables
 * them. Anything refused leaves things as they were.
 */
static bool enable_delegated(const char *dir, bool cpu)
{
    char leaf[4096], pid[32];

    if (snprintf(leaf, sizeof(leaf), "%s/sandboxvm-%d-sup", dir, (int)getpid()) >=
        (int)sizeof(leaf))
        return false;
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
        return false;
    if (write_text(leaf, "cgroup.procs", pid) < 0) {
        rmdir(leaf);
        return false;
    }
    if (write_text(dir, "cgroup.subtree_control", cpu ? "+memory +pids +cpu" : "+memory +pids") ==
        0)
        return true;
    /* Other processes share the group (EBUSY): go back. */
    write_text(dir, "cgroup.procs", pid);
    rmdir(leaf);
    return false;
}

static bool detect_v2(struct cgroup_host *h)
{
    _cleanup_free_ char *mnt = mount_of(NULL), *path = NULL, *ctl = NULL, *avail = NULL;
    char *dir;

    if (!mnt || !(path = own_path("")))
        return false;
    dir = join(mnt, path);
    if (!dir)
        return false;
    /* Only a subtree delegated to us (writable, with the controllers made
     * available to it): we never change the host's cgroup configuration
     * above what was delegated. */
    avail = read_text(dir, "cgroup.controllers");
    if (!avail || !has_word(avail, "memory") || !has_word(avail, "pids") || access(dir, W_OK) < 0) {
        free(dir);
        return false;
    }
    ctl = read_text(dir, "cgroup.subtree_control");
    if ((!ctl || !has_word(ctl, "memory") || !has_word(ctl, "pids")) &&
        !enable_delegated(dir, has_word(avail, "cpu"))) {
        free(dir);
        return false;
    }
    free(ctl);
    ctl = read_text(dir, "cgroup.subtree_control");
    h->mode = CGROUP_V2;
    for (int c = 0; c < CG__COUNT; c++) {
        /* cpu.max and cpuset.* exist in our groups only where the
         * controller is enabled for our subtree (cpu.stat always). */
        if ((c == CG_CPUCTL && !has_word(ctl, "cpu")) ||
            (c == CG_CPUSET && !has_word(ctl, "cpuset")))
            continue;
        h->base[c] = c == 0 ? dir : strdup(dir);
    }
    for (int c = 0; c < CG__COUNT; c++)
        h->root[c] = strdup(mnt);
    return true;
}

static bool detect_v1(struct cgroup_host *h)
{
    bool any = false;

    if (geteuid() != 0)
        return false;
    for (int c = 0; c < CG__COUNT; c++) {
        _cleanup_free_ char *mnt = mount_of(v1_names[c]), *path = own_path(v1_names[c]);
        char *dir;
        if (!mnt || !path || !(dir = join(mnt, path)))
            continue;
        if (access(dir, W_OK) < 0) {
            free(dir);
            continue;
        }
        h->base[c] = dir;
        h->root[c] = steal_pointer(&mnt);
        any = true;
    }
    if (any)
        h->mode = CGROUP_V1;
    return any;
}

void cgroup_detect(struct cgroup_host *h)
{
    memset(h, 0, sizeof(*h));
    if (!detect_v2(h) && !detect_v1(h))
        h->mode = CGROUP_NONE;
    for (int c = 0; c < CG__COUNT; c++)
        if (h->base[c] && (c == 0 || h->mode == CGROUP_V1))
            remove_stale(h->base[c]);
}

struct janitor {
    int dirs[CG__COUNT];
    size_t ndirs;
    int pipe_r;
    char prefix[32]; /* "sandboxvm-<our pid>-" */
    size_t prefix_len;
    uint64_t area[4];
};

/* Removes our groups in each directory: how many are still busy. Only
 * system calls (we are a fork of a threaded process). */
static int janitor_sweep(const struct janitor *jn)
{
    char buf[4096];
    int busy = 0;

    for (size_t i = 0; i < jn->ndirs; i++) {
        long n;
        lseek(jn->dirs[i], 0, SEEK_SET);
        while ((n = syscall(SYS_getdents64, jn->dirs[i], buf, sizeof(buf))) > 0) {
            for (long off = 0; off + 19 < n;) {
                unsigned short reclen;
                const char *name = buf + off + 19; /* d_ino, d_off, d_reclen, d_type */
                memcpy(&reclen, buf + off + 16, sizeof(reclen));
                if (reclen == 0 || off + reclen > n)
                    break;
                /* (Not the v2 leaf the supervisor moved into: we are in
                 * it too. The next run removes it as stale.) */
                if (strncmp(name, jn->prefix, jn->prefix_len) == 0 &&
                    strcmp(name + jn->prefix_len, "sup") != 0 &&
                    unlinkat(jn->dirs[i], name, AT_REMOVEDIR) < 0 && errno == EBUSY)
                    busy++;
                off += reclen;
            }
        }
    }
    return busy;
}

/* Whether the line of `len` bytes at `p` (a "+PATH") is removed by a
 * later "-PATH" before `end`. */
static bool note_undone(const char *p, size_t len, const char *end)
{
    for (const char *q = p + len + 1; q < end;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl)
            break;
        if (q[0] == '-' && (size_t)(nl - q) == len && memcmp(q + 1, p + 1, len - 1) == 0)
            return true;
        q = nl + 1;
    }
    return false;
}

/* Removes the noted paths still made, the last made first (a group
 * before the parents made for it): how many are still busy. Only system
 * calls and string functions (we are a fork of a threaded process). */
static int janitor_sweep_notes(char *notes, size_t len)
{
    const char *end = notes + len;
    int busy = 0;

    while (len > 0) {
        char *line, *nl = NULL;
        /* The last complete line before `len`. */
        size_t i = len - 1;
        while (i > 0 && notes[i - 1] != '\n')
            i--;
        line = notes + i;
        nl = memchr(line, '\n', len - i);
        len = i;
        if (!nl || line[0] != '+' || line[1] != '/' || note_undone(line, (size_t)(nl - line), end))
            continue;
        *nl = '\0';
        if (rmdir(line + 1) < 0 && errno == EBUSY)
            busy++;
        *nl = '\n';
    }
    return busy;
}

static _Noreturn void janitor_main(const struct janitor *jn)
{
    int keep[CG__COUNT + 1], nkeep = 0, next = 0;
    static char notes[64 * 1024];
    size_t len = 0;
    char c;

    /* Nothing of the supervisor's: above all not its end of a sandbox's
     * control socket, whose EOF is what ends that sandbox's init. */
    keep[nkeep++] = jn->pipe_r;
    for (size_t i = 0; i < jn->ndirs; i++)
        keep[nkeep++] = jn->dirs[i];
    for (int i = 1; i < nkeep; i++)
        for (int k = i; k > 0 && keep[k] < keep[k - 1]; k--) {
            int t = keep[k];
            keep[k] = keep[k - 1];
            keep[k - 1] = t;
        }
    for (int i = 0; i < nkeep; i++) {
        if (keep[i] > next)
            syscall(SYS_close_range, next, keep[i] - 1, 0);
        next = keep[i] + 1;
    }
    syscall(SYS_close_range, next, ~0U, 0);
    /* Out of the terminal's process group: a Ctrl-C to the run is not
     * for us. Named for ps; our copy of the command line and environment
     * (any --secret value) wiped, which /proc/<pid>/cmdline then shows. */
    setsid();
    prctl(PR_SET_NAME, "sbvm-cgclean", 0, 0, 0);
    for (int i = 0; i < 4; i += 2)
        if (jn->area[i] && jn->area[i + 1] > jn->area[i] &&
            jn->area[i + 1] - jn->area[i] < (64u << 20))
            explicit_bzero((void *)(uintptr_t)jn->area[i], jn->area[i + 1] - jn->area[i]);
    /* Until EOF (the supervisor is gone): the groups of configs' paths
     * it made and removed ("+PATH\n", "-PATH\n"; cgroup_janitor_note),
     * kept in a bounded log; what does not fit is not ours to guess. */
    for (;;) {
        ssize_t n = len < sizeof(notes) ? read(jn->pipe_r, notes + len, sizeof(notes) - len)
                                        : read(jn->pipe_r, &c, 1);
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR)
            _exit(1);
        if (n > 0 && len < sizeof(notes))
            len += (size_t)n;
    }
    /* Its sandboxes end with it (their inits see EOF too): their groups
     * empty within moments. */
    for (int tries = 0; tries < 100; tries++) {
        int busy = janitor_sweep(jn) + janitor_sweep_notes(notes, len);
        if (busy == 0)
            break;
        nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
    }
    _exit(0);
}

static pthread_mutex_t janitor_lock = PTHREAD_MUTEX_INITIALIZER;
static int janitor_w = -1; /* ours, for the rest of our life */

/* Tells the janitor that we made (add) or removed a group at `path`
 * outside our base directories. One write, under PIPE_BUF, so that notes
 * of several threads do not interleave. */
static void cgroup_janitor_note(const char *path, bool add)
{
    char line[PIPE_BUF];
    int n = snprintf(line, sizeof(line), "%c%s\n", add ? '+' : '-', path);

    pthread_mutex_lock(&janitor_lock);
    if (janitor_w >= 0 && n > 0 && (size_t)n < sizeof(line))
        (void)write_full(janitor_w, line, (size_t)n);
    pthread_mutex_unlock(&janitor_lock);
}

void cgroup_janitor_start(const struct cgroup_host *h, const uint64_t area[4])
{
    static bool started;
    struct janitor jn = { .ndirs = 0, .pipe_r = -1 };
    int p[2];
    pid_t pid;

    pthread_mutex_lock(&janitor_lock);
    if (started || h->mode == CGROUP_NONE)
        goto out;
    started = true;
    for (int c = 0; c < CG__COUNT; c++) {
        bool dup = false;
        for (int k = 0; k < c; k++)
            dup |= h->base[k] && h->base[c] && streq(h->base[k], h->base[c]);
        if (!h->base[c] || dup)
            continue;
        jn.dirs[jn.ndirs] = open(h->base[c], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (jn.dirs[jn.ndirs] >= 0)
            jn.ndirs++;
    }
    jn.prefix_len = (size_t)snprintf(jn.prefix, sizeof(jn.prefix), "sandboxvm-%d-", (int)getpid());
    memcpy(jn.area, area, sizeof(jn.area));
    if (jn.ndirs == 0 || pipe2(p, O_CLOEXEC) < 0)
        goto close_dirs;
    jn.pipe_r = p[0];
    /* Twice forked: it is not our child (no zombie of ours, no SIGCHLD a
     * caller's program did not expect), and outlives us. */
    pid = fork();
    if (pid == 0) {
        close(p[1]);
        if (fork() == 0)
            janitor_main(&jn);
        _exit(0);
    }
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
    } else {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        janitor_w = p[1];
    }
close_dirs:
    for (size_t i = 0; i < jn.ndirs; i++)
        close(jn.dirs[i]);
out:
    pthread_mutex_unlock(&janitor_lock);
}

void cgroup_host_release(struct cgroup_host *h)
{
    for (int c = 0; c < CG__COUNT; c++) {
        free(h->base[c]);
        free(h->root[c]);
    }
    memset(h, 0, sizeof(*h));
}

uint64_t cgroup_shares_to_weight(uint64_t shares)
{
    /* As runc and crun have done since cgroup v2 came (crun's
     * convert_shares_to_weight): v1's range 2..262144 mapped linearly
     * onto v2's 1..10000, so that the same config gives the same ratios
     * between containers on either version. (v1's default 1024 becomes
     * 39, not v2's default 100: a linear map cannot keep both ends and the
     * default; crun has since moved to a curve that does.) */
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

/* Whether the guest's group needs a directory for controller c. */
static bool wanted(int c, const struct config_cgroup *cc)
{
    if (c == CG_CPUCTL)
        return cc && (cc->cpu_quota || cc->cpu_period || cc->cpu_shares);
    if (c == CG_CPUSET)
        return cc && (cc->cpus || cc->mems);
    return true;
}

/* cgroup v1 makes a cpuset group with no CPUs and no memory nodes, and
 * refuses to take a process into it: the new group starts with its
 * parent's. */
static int cpuset_inherit(const char *dir)
{
    static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
    _cleanup_free_ char *parent = strdup(dir);
    char *slash = parent ? strrchr(parent, '/') : NULL;

    if (!slash)
        return -ENOMEM;
    *slash = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *v = read_text(parent, files[i]);
        int r;
        if (!v)
            return errno ? -errno : -EIO;
        r = write_text(dir, files[i], v[0] && v[0] != '\n' ? v : "\n");
        if (r < 0)
            return r;
    }
    return 0;
}

/* In a v2 group we made on a config's path, the controllers its children
 * need (the group above it must offer them). */
static void enable_v2(const char *dir, const struct config_cgroup *cc)
{
    char ctl[64];

    snprintf(ctl, sizeof(ctl), "+memory +pids%s%s", wanted(CG_CPUCTL, cc) ? " +cpu" : "",
             wanted(CG_CPUSET, cc) ? " +cpuset" : "");
    (void)write_text(dir, "cgroup.subtree_control", ctl);
}

/* Whether a group has processes in it. */
static bool populated(const char *dir)
{
    _cleanup_free_ char *procs = read_text(dir, "cgroup.procs");
    return !procs || procs[strspn(procs, " \n")] != '\0';
}

/*
 * The guest's directory for controller c at the config's `path` (checked:
 * no ".", ".." or empty parts; absolute from the hierarchy's root, else
 * from our own group): the parents missing are made (and noted, to be
 * removed after the group), the group itself made or, if it exists, taken
 * when empty.
 */
static int make_path(const struct cgroup_host *h, struct cgroup_guest *g, int c,
                     const struct config_cgroup *cc, sbvm_error **err)
{
    const char *path = cc->path, *from = path[0] == '/' ? h->root[c] : h->base[c];
    struct strbuf sb = STRBUF_INIT;
    int r = 0;

    if (!from)
        return error_set(err, ENOTSUP, "the cgroup path %s: no %s hierarchy", path, v1_names[c]);
    strbuf_addstr(&sb, from);
    for (const char *p = path; *p;) {
        size_t n;
        bool last;
        p += strspn(p, "/");
        n = strcspn(p, "/");
        if (!n)
            break;
        /* Checked by whoever set it; checked again: a ".." here would
         * leave the hierarchy's subtree, a newline forge a janitor's note. */
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
            strcspn(p, "\n") < n) {
            r = error_set(err, EINVAL, "the cgroup path %s: a '.', '..' or newline part", path);
            break;
        }
        strbuf_addch(&sb, '/');
        strbuf_add(&sb, p, n);
        p += n;
        last = p[strspn(p, "/")] == '\0';
        if (strbuf_failed(&sb)) {
            r = error_set(err, ENOMEM, "out of memory");
            break;
        }
        if (mkdir(sb.buf, 0755) == 0) {
            cgroup_janitor_note(sb.buf, true);
            if (h->mode == CGROUP_V1 && c == CG_CPUSET && (r = cpuset_inherit(sb.buf)) < 0) {
                r = error_sys(err, -r, "the cgroup %s: its CPUs and memory nodes", sb.buf);
                rmdir(sb.buf);
                cgroup_janitor_note(sb.buf, false);
                break;
            }
            if (last) {
                g->made[c] = true;
                break;
            }
            if (h->mode == CGROUP_V2)
                enable_v2(sb.buf, cc);
            if (strv_push(&g->parents, sb.buf) < 0) {
                rmdir(sb.buf);
                cgroup_janitor_note(sb.buf, false);
                r = error_set(err, ENOMEM, "out of memory");
                break;
            }
            continue;
        }
        if (errno != EEXIST) {
            r = error_sys(err, errno, "making the cgroup %s", sb.buf);
            break;
        }
        /* (cgroupfs has no symbolic links; a file of the parent's, such as
         * "memory.max", is not a group.) */
        {
            struct stat st;
            if (stat(sb.buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
                r = error_set(err, EINVAL, "the cgroup path %s: %s is not a cgroup", path, sb.buf);
                break;
            }
        }
        if (last && populated(sb.buf)) {
            r = error_set(err, EBUSY, "the cgroup %s exists and has processes in it", sb.buf);
            break;
        }
    }
    if (r == 0 && !strbuf_failed(&sb))
        g->dir[c] = strbuf_detach(&sb, NULL);
    strbuf_release(&sb);
    return r;
}

static int write_setting(const char *dir, const char *file, const char *value, const char *what,
                         sbvm_error **err)
{
    int r = write_text(dir, file, value);

    if (r < 0)
        return error_sys(err, -r, "%s: writing %s to %s/%s", what, value, dir, file);
    return 0;
}

static int apply_cpu(const struct cgroup_host *h, const struct cgroup_guest *g,
                     const struct config_cgroup *cc, sbvm_error **err)
{
    const char *dir = g->dir[CG_CPUCTL], *set = g->dir[CG_CPUSET];
    char num[64];
    int r = 0;

    if (dir && h->mode == CGROUP_V2) {
        if (cc->cpu_quota || cc->cpu_period) {
            if (cc->cpu_quota > 0)
                snprintf(num, sizeof(num), "%lld", (long long)cc->cpu_quota);
            else
                snprintf(num, sizeof(num), "max");
            if (cc->cpu_period)
                snprintf(num + strlen(num), sizeof(num) - strlen(num), " %llu",
                         (unsigned long long)cc->cpu_period);
            r = write_setting(dir, "cpu.max", num, "the CPU quota and period", err);
        }
        if (r == 0 && cc->cpu_shares) {
            snprintf(num, sizeof(num), "%llu",
                     (unsigned long long)cgroup_shares_to_weight(cc->cpu_shares));
            r = write_setting(dir, "cpu.weight", num, "the CPU shares (as a weight)", err);
        }
    } else if (dir) {
        /* The period before the quota: the kernel checks the quota
         * against the period in place. */
        if (cc->cpu_period) {
            snprintf(num, sizeof(num), "%llu", (unsigned long long)cc->cpu_period);
            r = write_setting(dir, "cpu.cfs_period_us", num, "the CPU period", err);
        }
        if (r == 0 && cc->cpu_quota) {
            snprintf(num, sizeof(num), "%lld", (long long)(cc->cpu_quota > 0 ? cc->cpu_quota : -1));
            r = write_setting(dir, "cpu.cfs_quota_us", num, "the CPU quota", err);
        }
        if (r == 0 && cc->cpu_shares) {
            snprintf(num, sizeof(num), "%llu", (unsigned long long)cc->cpu_shares);
            r = write_setting(dir, "cpu.shares", num, "the CPU shares", err);
        }
    }
    if (r == 0 && set && cc->cpus)
        r = write_setting(set, "cpuset.cpus", cc->cpus, "the CPU set", err);
    if (r == 0 && set && cc->mems)
        r = write_setting(set, "cpuset.mems", cc->mems, "the memory-node set", err);
    return r;
}

int cgroup_create(const struct cgroup_host *h, struct cgroup_guest *g, unsigned index,
                  uint64_t memory, uint64_t pids, const struct config_cgroup *cc, sbvm_error **err)
{
    char name[64], num[32];
    int r;

    memset(g, 0, sizeof(*g));
    g->parents = (struct strv)STRV_INIT;
    if (cc && !config_cgroup_set(cc))
        cc = NULL;
    if (h->mode == CGROUP_NONE) {
        if (cc)
            return error_set(err, ENOTSUP,
                             "cgroup settings (CPU, CPU sets, a cgroup path) need a cgroup "
                             "hierarchy we may write: root's (cgroup v1 or v2) or a delegated "
                             "cgroup v2 subtree, and this host offers neither");
        return 0;
    }
    /* Never claimed without being applied: a setting whose controller is
     * not ours here fails the start, naming it. */
    for (int c = CG_CPUCTL; cc && c <= CG_CPUSET; c++)
        if (wanted(c, cc) && !h->base[c])
            return error_set(err, ENOTSUP,
                             "%s need the %s cgroup controller, which this host does not offer "
                             "us (%s%s)",
                             c == CG_CPUCTL ? "CPU quota, period and shares"
                                            : "CPU and memory-node sets",
                             v1_names[c], cgroup_mode_name(h->mode),
                             h->mode == CGROUP_V2 ? ": not enabled in our group's "
                                                    "cgroup.subtree_control"
                                                  : ": not mounted");
    snprintf(name, sizeof(name), "sandboxvm-%d-%u", (int)getpid(), index);
    for (int c = 0; c < CG__COUNT; c++) {
        struct strbuf sb = STRBUF_INIT;
        if (!h->base[c] || !wanted(c, cc))
            continue;
        if (h->mode == CGROUP_V2 && c > 0) {
            g->dir[c] = g->dir[0] ? strdup(g->dir[0]) : NULL;
            continue;
        }
        if (cc && cc->path) {
            g->on_path = true;
            r = make_path(h, g, c, cc, err);
            if (r < 0) {
                cgroup_destroy(g);
                return r;
            }
            continue;
        }
        strbuf_addf(&sb, "%s/%s", h->base[c], name);
        g->dir[c] = strbuf_detach(&sb, NULL);
        if (!g->dir[c] || (mkdir(g->dir[c], 0755) < 0 && errno != EEXIST)) {
            r = -errno;
            free(g->dir[c]);
            g->dir[c] = NULL;
            cgroup_destroy(g);
            return error_sys(err, -r, "creating the guest's %s cgroup", v1_names[c]);
        }
        g->made[c] = true;
        if (h->mode == CGROUP_V1 && c == CG_CPUSET && (r = cpuset_inherit(g->dir[c])) < 0) {
            cgroup_destroy(g);
            return error_sys(err, -r, "the guest's cpuset cgroup: its CPUs and memory nodes");
        }
    }
    if (memory && g->dir[CG_MEMORY]) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)memory);
        if (h->mode == CGROUP_V2) {
            r = write_text(g->dir[CG_MEMORY], "memory.max", num);
            /* No swapping around the limit (where swap accounting is on). */
            (void)write_text(g->dir[CG_MEMORY], "memory.swap.max", "0");
        } else {
            r = write_text(g->dir[CG_MEMORY], "memory.limit_in_bytes", num);
            (void)write_text(g->dir[CG_MEMORY], "memory.memsw.limit_in_bytes", num);
        }
        if (r < 0) {
            cgroup_destroy(g);
            return error_sys(err, -r, "setting the memory limit in the guest's cgroup");
        }
    }
    if (pids && g->dir[CG_PIDS]) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)pids);
        r = write_text(g->dir[CG_PIDS], "pids.max", num);
        if (r < 0) {
            cgroup_destroy(g);
            return error_sys(err, -r, "setting the pids limit in the guest's cgroup");
        }
    }
    if (cc && (r = apply_cpu(h, g, cc, err)) < 0) {
        cgroup_destroy(g);
        return r;
    }
    return 0;
}

int cgroup_attach(const struct cgroup_guest *g, pid_t pid, sbvm_error **err)
{
    char num[32];

    snprintf(num, sizeof(num), "%d\n", (int)pid);
    for (int c = 0; c < CG__COUNT; c++) {
        bool done = false;
        int r;
        if (!g->dir[c])
            continue;
        /* (v2: one group for all; v1: controllers mounted together.) */
        for (int k = 0; k < c; k++)
            done |= g->dir[k] && streq(g->dir[k], g->dir[c]);
        if (done)
            continue;
        r = write_text(g->dir[c], "cgroup.procs", num);
        if (r < 0)
            return error_sys(err, -r, "moving the sandbox into its %s cgroup", v1_names[c]);
    }
    return 0;
}

void cgroup_destroy(struct cgroup_guest *g)
{
    for (int c = CG__COUNT - 1; c >= 0; c--) {
        bool again = false;
        if (!g->dir[c])
            continue;
        for (int k = 0; k < c; k++)
            again |= g->dir[k] && streq(g->dir[k], g->dir[c]);
        /* The last processes of a sandbox may still be leaving it. */
        for (int tries = 0; g->made[c] && !again && tries < 200; tries++) {
            if (rmdir(g->dir[c]) == 0 || errno == ENOENT) {
                if (g->on_path)
                    cgroup_janitor_note(g->dir[c], false);
                break;
            }
            if (errno != EBUSY)
                break;
            nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
        }
        free(g->dir[c]);
        g->dir[c] = NULL;
        g->made[c] = false;
    }
    /* The parents made for a config's path, the deepest first; one that
     * another group came to use meanwhile stays (EBUSY). */
    for (size_t i = g->parents.n; i-- > 0;)
        if (rmdir(g->parents.v[i]) == 0 || errno == ENOENT)
            cgroup_janitor_note(g->parents.v[i], false);
    strv_release(&g->parents);
    g->on_path = false;
}

uint64_t cgroup_memory_peak(const struct cgroup_host *h, const struct cgroup_guest *g)
{
    if (!g->dir[CG_MEMORY])
        return 0;
    return read_u64(g->dir[CG_MEMORY],
                    h->mode == CGROUP_V2 ? "memory.peak" : "memory.max_usage_in_bytes");
}

uint64_t cgroup_oom_kills(const struct cgroup_host *h, const struct cgroup_guest *g)
{
    uint64_t n = 0;

    if (!g->dir[CG_MEMORY])
        return 0;
    read_key(g->dir[CG_MEMORY], h->mode == CGROUP_V2 ? "memory.events" : "memory.oom_control",
             "oom_kill", &n);
    return n;
}

uint64_t cgroup_pids_current(const struct cgroup_guest *g)
{
    return g->dir[CG_PIDS] ? read_u64(g->dir[CG_PIDS], "pids.current") : 0;
}

uint64_t cgroup_pids_refused(const struct cgroup_guest *g)
{
    uint64_t n = 0;

    if (g->dir[CG_PIDS])
        read_key(g->dir[CG_PIDS], "pids.events", "max", &n);
    return n;
}

bool cgroup_cpu_usage(const struct cgroup_host *h, const struct cgroup_guest *g, uint64_t *user_us,
                      uint64_t *system_us)
{
    const char *dir = g->dir[CG_CPU];

    if (!dir)
        return false;
    if (h->mode == CGROUP_V2) {
        _cleanup_free_ char *text = read_text(dir, "cpu.stat");
        return find_key(text, "user_usec", user_us) && find_key(text, "system_usec", system_us);
    }
    /* v1: nanoseconds where the kernel offers the split, else ticks. */
    {
        _cleanup_free_ char *u = read_text(dir, "cpuacct.usage_user");
        _cleanup_free_ char *s = read_text(dir, "cpuacct.usage_sys");
        if (u && s) {
            *user_us = strtoull(u, NULL, 10) / 1000;
            *system_us = strtoull(s, NULL, 10) / 1000;
            return true;
        }
    }
    {
        _cleanup_free_ char *text = read_text(dir, "cpuacct.stat");
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t ut = 0, st = 0;
        if (hz <= 0 || !find_key(text, "user", &ut) || !find_key(text, "system", &st))
            return false;
        *user_us = ut * 1000000 / (uint64_t)hz;
        *system_us = st * 1000000 / (uint64_t)hz;
        return true;
    }
}
