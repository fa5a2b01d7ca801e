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

static const char *const v1_names[CG__COUNT] = { "memory", "pids", "cpuacct" };

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
    h->mode = CGROUP_V2;
    for (int c = 0; c < CG__COUNT; c++)
        h->base[c] = c == 0 ? dir : strdup(dir);
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

static _Noreturn void janitor_main(const struct janitor *jn)
{
    int keep[CG__COUNT + 1], nkeep = 0, next = 0;
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
    /* EOF: the supervisor is gone. (Nothing else is ever read.) */
    for (;;) {
        ssize_t n = read(jn->pipe_r, &c, 1);
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR)
            _exit(1);
    }
    /* Its sandboxes end with it (their inits see EOF too): their groups
     * empty within moments. */
    for (int tries = 0; tries < 100 && janitor_sweep(jn) > 0; tries++)
        nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
    _exit(0);
}

void cgroup_janitor_start(const struct cgroup_host *h, const uint64_t area[4])
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static bool started;
    static int pipe_w = -1; /* ours, for the rest of our life */
    struct janitor jn = { .ndirs = 0, .pipe_r = -1 };
    int p[2];
    pid_t pid;

    pthread_mutex_lock(&lock);
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
        pipe_w = p[1];
    }
close_dirs:
    for (size_t i = 0; i < jn.ndirs; i++)
        close(jn.dirs[i]);
out:
    pthread_mutex_unlock(&lock);
    (void)pipe_w;
}

void cgroup_host_release(struct cgroup_host *h)
{
    for (int c = 0; c < CG__COUNT; c++)
        free(h->base[c]);
    memset(h, 0, sizeof(*h));
}

int cgroup_create(const struct cgroup_host *h, struct cgroup_guest *g, unsigned index,
                  uint64_t memory, uint64_t pids, sbvm_error **err)
{
    char name[64], num[32];
    int r;

    memset(g, 0, sizeof(*g));
    if (h->mode == CGROUP_NONE)
        return 0;
    snprintf(name, sizeof(name), "sandboxvm-%d-%u", (int)getpid(), index);
    for (int c = 0; c < CG__COUNT; c++) {
        struct strbuf sb = STRBUF_INIT;
        if (!h->base[c])
            continue;
        if (h->mode == CGROUP_V2 && c > 0) {
            g->dir[c] = g->dir[0] ? strdup(g->dir[0]) : NULL;
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
    return 0;
}

int cgroup_attach(const struct cgroup_guest *g, pid_t pid, sbvm_error **err)
{
    char num[32];

    snprintf(num, sizeof(num), "%d\n", (int)pid);
    for (int c = 0; c < CG__COUNT; c++) {
        int r;
        if (!g->dir[c] || (c > 0 && g->dir[0] && streq(g->dir[c], g->dir[0])))
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
        if (!g->dir[c])
            continue;
        /* The last processes of a sandbox may still be leaving it. */
        for (int tries = 0; tries < 200; tries++) {
            if (rmdir(g->dir[c]) == 0 || errno == ENOENT)
                break;
            if (errno != EBUSY)
                break;
            nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
        }
        for (int k = 0; k < c; k++)
            if (g->dir[k] && streq(g->dir[k], g->dir[c]))
                g->dir[k] = (free(g->dir[k]), NULL);
        free(g->dir[c]);
        g->dir[c] = NULL;
    }
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
