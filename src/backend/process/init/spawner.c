/* SPDX-License-Identifier: MIT */
/*
 * spawner.c: a live sandbox's exec server, pid 2.
 *
 * A live sandbox outlives its jobs: the supervisor asks for each one on
 * this process's socket (proto.h: struct spawn_req), and it forks and execs
 * the program. It runs inside the sandbox like any guest - its uid, no
 * capabilities, the guest's filters, traced by the init from birth - so
 * every job it forks starts exactly as a guest would, and the init sees the
 * fork and knows the new process starts a job. Its children are the jobs'
 * first processes: it reaps them; the init reports how they ended.
 *
 * Like the init, it is freestanding (no libc) and built twice: as a small
 * static executable run from a sealed, execute-only memfd (non-dumpable
 * from its exec: a guest of the same uid cannot read or change it, only
 * signal it, which the supervisor notices), and into the library as
 * spawner_run(), for hosts that forbid executing memfds.
 *
 * What the supervisor sends is trusted, but checked for shape anyway: a
 * malformed request is answered with EINVAL and nothing runs.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef SBVM_SPAWNER_STANDALONE
#define SYS_DEFINE_MEM
#define SYS_DEFINE_RESTORER
#endif
#include "backend/process/init/init.h"
#include "backend/process/init/sys.h"
#include "backend/process/proto.h"

#define MSG_CMSG_CLOEXEC_        0x40000000
#define SCM_RIGHTS_              1
#define SOL_SOCKET_              1
#define MSG_NOSIGNAL_            0x4000
#define O_RDWR_                  2
#define O_NOCTTY_                0400
#define TIOCSPTLCK_              0x40045431
#define TIOCGPTN_                0x80045430
#define TIOCSWINSZ_              0x5414
#define TIOCSCTTY_               0x540E
#define SIG_DFL_                 0
#define NR_seccomp_              317
#define NR_faccessat_            269
#define X_OK_                    1
#define SECCOMP_SET_MODE_FILTER_ 1
#define AT_EMPTY_PATH_           0x1000
#define NR_execveat              322

struct iov_ {
    void *base;
    size_t len;
};

struct msghdr_ {
    void *name;
    uint32_t namelen;
    struct iov_ *iov;
    size_t iovlen;
    void *control;
    size_t controllen;
    int flags;
};

struct cmsghdr_ {
    size_t len;
    int level;
    int type;
};

struct pollfd_ {
    int fd;
    short events, revents;
};

struct rlimit_ {
    uint64_t cur, max;
};

struct winsize_ {
    uint16_t rows, cols, xpixel, ypixel;
};

#define CMSG_SPACE_FDS(n) (sizeof(struct cmsghdr_) + (n) * sizeof(int))

/* Aligned: a container's filter (8-byte instructions) follows the header. */
static unsigned char reqbuf[SPAWN_MSG_MAX] __attribute__((aligned(8)));
static char *args[SPAWN_ARGS_MAX + 1];
static char *envs[SPAWN_ARGS_MAX + 1];
static char pathbuf[4096];

static _Noreturn void leave(int code)
{
    for (;;)
        sys1(NR_exit_group, code);
}

static size_t slen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void on_sigchld(int sig, void *info, void *uc)
{
    (void)sig;
    (void)info;
    (void)uc;
}

/* Sends the answer to a request, with a terminal's master side when given. */
static void reply(uint32_t job, int pid, uint16_t stage, int err, int master)
{
    struct spawn_reply r;
    union {
        unsigned char b[CMSG_SPACE_FDS(1)];
        size_t align;
    } ctl;
    struct iov_ iov = { &r, sizeof(r) };
    struct msghdr_ m;
    struct cmsghdr_ *c = (struct cmsghdr_ *)ctl.b;

    zero(&r, sizeof(r));
    zero(&m, sizeof(m));
    zero(&ctl, sizeof(ctl));
    r.magic = SPAWN_MAGIC;
    r.job = job;
    r.pid = pid;
    r.stage = stage;
    r.err = err;
    m.iov = &iov;
    m.iovlen = 1;
    if (master >= 0) {
        c->len = sizeof(struct cmsghdr_) + sizeof(int);
        c->level = SOL_SOCKET_;
        c->type = SCM_RIGHTS_;
        copy(ctl.b + sizeof(struct cmsghdr_), &master, sizeof(int));
        m.control = ctl.b;
        m.controllen = sizeof(ctl.b);
    }
    while (sys3(NR_sendmsg, FD_SPAWN, (long)&m, MSG_NOSIGNAL_) == -E_INTR)
        ;
}

/* The failing step of a child, for its parent: stage and errno. */
static _Noreturn void child_fail(int fd, uint16_t stage, int err)
{
    int32_t msg[2] = { stage, err };
    sys3(NR_write, fd, (long)msg, sizeof(msg));
    leave(err == E_NOENT ? 127 : 126);
}

static void set_limit(int errfd, int resource, uint64_t v)
{
    struct rlimit_ rl = { v, v };
    long r;

    if (!v)
        return;
    r = sys4(NR_prlimit64, 0, resource, (long)&rl, 0);
    if (r < 0)
        child_fail(errfd, STAGE_GUEST_RLIMIT, (int)-r);
}

static char binsh[] = "/bin/sh";
static char *shargs[SPAWN_ARGS_MAX + 2];

/* execve, and, for a file the kernel does not take (ENOEXEC: a script
 * without #!), what execvp and a shell do: /bin/sh reads it. */
static long exec_file(const char *file, char **argv, char **envp)
{
    long r = sys3(NR_execve, (long)file, (long)argv, (long)envp);
    size_t n;

    if (r != -E_NOEXEC)
        return r;
    shargs[0] = binsh;
    shargs[1] = (char *)file;
    for (n = 1; argv[n] && n < SPAWN_ARGS_MAX; n++)
        shargs[n + 1] = argv[n];
    shargs[n + 1] = 0;
    return sys3(NR_execve, (long)binsh, (long)shargs, (long)envp);
}

/* A container's filter, stacked on the sandbox's: the kernel runs all of
 * them and the strictest answer wins, so it can only refuse more. */
static void install_filter(int errfd, const void *insns, uint32_t n)
{
    struct {
        uint16_t len;
        const void *filter;
    } prog = { (uint16_t)n, insns };
    long r;

    if (!n)
        return;
    r = sys3(NR_seccomp_, SECCOMP_SET_MODE_FILTER_, 0, (long)&prog);
    if (r < 0)
        child_fail(errfd, STAGE_SECCOMP, (int)-r);
}

/* Runs try_file on each PATH directory's argv[0] (built in pathbuf), as
 * execvp looks: the first result other than -ENOENT, -ENOTDIR and -EACCES
 * ends the walk and is returned (0: pathbuf names the file); else -EACCES
 * when one was seen, -ENOENT. */
static long walk_path(char **argv, char **envp, long (*try_file)(const char *, char **, char **))
{
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    int seen_eacces = 0;
    long r;

    for (char **e = envp; *e; e++)
        if ((*e)[0] == 'P' && (*e)[1] == 'A' && (*e)[2] == 'T' && (*e)[3] == 'H' && (*e)[4] == '=')
            path = *e + 5;
    for (const char *p = path;;) {
        const char *end = p;
        size_t dl, nl = slen(argv[0]);
        while (*end && *end != ':')
            end++;
        /* An empty element is the working directory, as execvp has it. */
        dl = end > p ? (size_t)(end - p) : 1;
        if (dl + 1 + nl + 1 <= sizeof(pathbuf)) {
            copy(pathbuf, end > p ? p : ".", dl);
            pathbuf[dl] = '/';
            copy(pathbuf + dl + 1, argv[0], nl + 1);
            r = try_file(pathbuf, argv, envp);
            if (r == -E_ACCES)
                seen_eacces = 1;
            else if (r != -E_NOENT && r != -E_NOTDIR)
                return r;
        }
        if (!*end)
            break;
        p = end + 1;
    }
    return seen_eacces ? -E_ACCES : -E_NOENT;
}

static long can_exec(const char *file, char **argv, char **envp)
{
    (void)argv;
    (void)envp;
    return sys4(NR_faccessat_, AT_FDCWD_, (long)file, X_OK_, 0);
}

static int has_slash(const char *s)
{
    for (; *s; s++)
        if (*s == '/')
            return 1;
    return 0;
}

/* For a held job: the file execvp would run, found now (into pathbuf), so
 * that a missing program fails before the job is reported ready. */
static const char *find_program(int errfd, const char *exec_path, char **argv, char **envp)
{
    long r;

    if (exec_path)
        return exec_path;
    if (has_slash(argv[0])) {
        r = can_exec(argv[0], argv, envp);
        if (r < 0)
            child_fail(errfd, STAGE_EXEC, (int)-r);
        return argv[0];
    }
    r = walk_path(argv, envp, can_exec);
    if (r < 0)
        child_fail(errfd, STAGE_EXEC, (int)-r);
    return pathbuf;
}

/* execvp: a name without '/' is looked up in the job's PATH; exec_fd or
 * exec_path, when given, is run as it is. */
static _Noreturn void run_program(int errfd, int exec_fd, const char *exec_path, char **argv,
                                  char **envp)
{
    long r;

    if (exec_fd >= 0)
        r = sys6(NR_execveat, exec_fd, (long)"", (long)argv, (long)envp, AT_EMPTY_PATH_, 0);
    else if (exec_path)
        r = exec_file(exec_path, argv, envp);
    else if (has_slash(argv[0]))
        r = exec_file(argv[0], argv, envp);
    else
        r = walk_path(argv, envp, exec_file);
    child_fail(errfd, STAGE_EXEC, (int)-r);
}

/* Closes every descriptor from `from` on but those of keep[] (n of them;
 * -1 and those below `from` are ignored). */
static void close_from_but(int from, const int *keep, int n)
{
    for (;;) {
        int next = -1;
        for (int i = 0; i < n; i++)
            if (keep[i] >= from && (next < 0 || keep[i] < next))
                next = keep[i];
        if (next < 0)
            break;
        if (next > from)
            sys3(NR_close_range, from, (long)next - 1, 0);
        from = next + 1;
    }
    sys3(NR_close_range, from, ~0L, 0);
}

/* Serves one request: fds[] are what came with it: stdin, stdout, stderr
 * (unless a terminal is made here), the file to run, what releases a held
 * job, the channel, in this order, each only when its flag says so. */
static void serve(long n, const int *fds, int nfds)
{
    struct spawn_req q;
    const char *s, *cwd, *exec_path = 0;
    const void *filter;
    uint32_t want, have = 0, lead;
    int io[3] = { -1, -1, -1 }, master = -1, slave = -1, errp[2], pid, hold = -1, nstdio;
    int32_t msg[2] = { 0, 0 };
    long r, filter_bytes;

    if (n < (long)sizeof(q)) {
        reply(0, 0, STAGE_FORK, E_INVAL, -1);
        return;
    }
    copy(&q, reqbuf, sizeof(q));
    /* Before the arguments: the working directory, and the file to run
     * when the supervisor names it (SPAWN_EXEC_PATH). */
    lead = (q.flags & SPAWN_EXEC_PATH) ? 2 : 1;
    want = q.argc + q.envc + lead;
    filter_bytes = (long)q.filter_len * 8;
    nstdio = (q.flags & SPAWN_PTY) ? 0 : 3;
    if (q.magic != SPAWN_MAGIC || q.argc == 0 || q.argc > SPAWN_ARGS_MAX ||
        q.envc > SPAWN_ARGS_MAX || q.filter_len > SPAWN_FILTER_MAX ||
        q.nrlimits > SPAWN_RLIMITS_MAX || q.strings_len == 0 ||
        (long)q.strings_len != n - (long)sizeof(q) - filter_bytes ||
        nfds != nstdio + ((q.flags & SPAWN_EXEC_FD) ? 1 : 0) + ((q.flags & SPAWN_HOLD) ? 1 : 0) +
                    ((q.flags & SPAWN_CHANNEL) ? 1 : 0)) {
        reply(q.job, 0, STAGE_FORK, E_INVAL, -1);
        return;
    }
    /* The extra descriptors after stdio: what releases a held job, then
     * the channel (last). */
    if (q.flags & SPAWN_HOLD)
        hold = fds[nfds - 1 - ((q.flags & SPAWN_CHANNEL) ? 1 : 0)];
    filter = reqbuf + sizeof(q);
    /* The strings: every one NUL-terminated, exactly as many as said. */
    s = (const char *)reqbuf + sizeof(q) + filter_bytes;
    cwd = s;
    for (uint32_t off = 0; off < q.strings_len; off++) {
        if (s[off] != '\0')
            continue;
        have++;
        if (have < want) {
            const char *next = s + off + 1;
            if (have < lead)
                exec_path = next;
            else if (have - lead < q.argc)
                args[have - lead] = (char *)next;
            else
                envs[have - lead - q.argc] = (char *)next;
        }
    }
    if (have != want || s[q.strings_len - 1] != '\0') {
        reply(q.job, 0, STAGE_FORK, E_INVAL, -1);
        return;
    }
    args[q.argc] = 0;
    envs[q.envc] = 0;

    if (q.flags & SPAWN_PTY) {
        /* A terminal from the sandbox's own devpts: the master goes to the
         * supervisor, which relays it; no host terminal reaches the job. */
        struct winsize_ ws = { q.rows, q.cols, 0, 0 };
        int unlock = 0;
        uint32_t ptn = 0;
        char name[32] = "/dev/pts/";
        size_t k = 9;
        char digits[12];
        int nd = 0;

        master =
            (int)sys4(NR_openat, AT_FDCWD_, (long)"/dev/ptmx", O_RDWR_ | O_NOCTTY_ | O_CLOEXEC_, 0);
        if (master < 0 || sys3(NR_ioctl, master, TIOCSPTLCK_, (long)&unlock) < 0 ||
            sys3(NR_ioctl, master, TIOCGPTN_, (long)&ptn) < 0) {
            reply(q.job, 0, STAGE_GUEST_STDIO, master < 0 ? -master : E_INVAL, -1);
            if (master >= 0)
                sys1(NR_close, master);
            return;
        }
        if (q.rows && q.cols)
            sys3(NR_ioctl, master, TIOCSWINSZ_, (long)&ws);
        do {
            digits[nd++] = (char)('0' + ptn % 10);
            ptn /= 10;
        } while (ptn && nd < 11);
        while (nd)
            name[k++] = digits[--nd];
        name[k] = '\0';
        slave = (int)sys4(NR_openat, AT_FDCWD_, (long)name, O_RDWR_ | O_NOCTTY_ | O_CLOEXEC_, 0);
        if (slave < 0) {
            reply(q.job, 0, STAGE_GUEST_STDIO, -slave, -1);
            sys1(NR_close, master);
            return;
        }
        io[0] = io[1] = io[2] = slave;
    } else {
        io[0] = fds[0];
        io[1] = fds[1];
        io[2] = fds[2];
    }
    r = sys2(NR_pipe2, (long)errp, O_CLOEXEC_);
    if (r < 0) {
        reply(q.job, 0, STAGE_FORK, (int)-r, -1);
        goto out;
    }
    pid = (int)sys6(NR_clone, SIGCHLD_, 0, 0, 0, 0, 0);
    if (pid == 0) {
        struct ksigaction dfl;
        uint64_t none = 0;
        int chan = (q.flags & SPAWN_CHANNEL) ? fds[nfds - 1] : -1, ef = errp[1], keep = 3;
        int xf = (q.flags & SPAWN_EXEC_FD) ? fds[nstdio] : -1;

        zero(&dfl, sizeof(dfl));
        dfl.handler = (void (*)(int, void *, void *))SIG_DFL_;
        sys4(NR_rt_sigaction, SIGCHLD_, (long)&dfl, 0, sizeof(uint64_t));
        if (sys1(NR_setsid, 0) < 0)
            child_fail(ef, STAGE_GUEST_SESSION, E_PERM);
        /* The file to run (close-on-exec) moves out of the way of stdio
         * and fd 3 first: to the lowest free fd above them, as the error
         * pipe below (a files limit may leave no fd as high as 64). */
        if (xf >= 0) {
            if ((r = sys3(NR_fcntl, xf, F_DUPFD_CLOEXEC_, 4)) < 0)
                child_fail(ef, STAGE_GUEST_STDIO, (int)-r);
            xf = (int)r;
        }
        for (int i = 0; i < 3; i++) {
            r = sys2(NR_dup2, io[i], i);
            if (r < 0)
                child_fail(ef, STAGE_GUEST_STDIO, (int)-r);
        }
        if ((q.flags & SPAWN_PTY) && (r = sys3(NR_ioctl, 0, TIOCSCTTY_, 0)) < 0)
            child_fail(ef, STAGE_GUEST_STDIO, (int)-r);
        if (chan >= 0) {
            /* The channel is the job's fd 3, inherited; the error pipe and
             * what releases a held job move out of its way first, to the
             * lowest free fds above it (a files limit may leave none as
             * high as 64). */
            if ((r = sys3(NR_fcntl, ef, F_DUPFD_CLOEXEC_, 4)) < 0)
                child_fail(ef, STAGE_GUEST_STDIO, (int)-r);
            ef = (int)r;
            if (hold >= 0) {
                if ((r = sys3(NR_fcntl, hold, F_DUPFD_CLOEXEC_, 4)) < 0)
                    child_fail(ef, STAGE_GUEST_STDIO, (int)-r);
                hold = (int)r;
            }
            if (chan == 3)
                r = sys3(NR_fcntl, 3, F_SETFD_, 0);
            else
                r = sys2(NR_dup2, chan, 3);
            if (r < 0)
                child_fail(ef, STAGE_GUEST_STDIO, (int)-r);
            keep = 4;
        }
        /* Nothing of ours but stdio, the channel, the error pipe, the file
         * to run and what releases a held job (all close on exec). */
        {
            int keep_fds[3] = { ef, xf, hold };
            close_from_but(keep, keep_fds, 3);
        }
        set_limit(ef, 7 /* RLIMIT_NOFILE */, q.rl_nofile);
        set_limit(ef, 0 /* RLIMIT_CPU */, q.rl_cpu);
        set_limit(ef, 9 /* RLIMIT_AS */, q.rl_as);
        set_limit(ef, 1 /* RLIMIT_FSIZE */, q.rl_fsize);
        for (uint32_t i = 0; i < q.nrlimits; i++) {
            struct rlimit_ rl = { q.rl[i].cur, q.rl[i].max };
            if (q.rl[i].resource >= 16 || rl.cur > rl.max)
                child_fail(ef, STAGE_GUEST_RLIMIT, E_INVAL);
            if ((r = sys4(NR_prlimit64, 0, q.rl[i].resource, (long)&rl, 0)) < 0)
                child_fail(ef, STAGE_GUEST_RLIMIT, (int)-r);
        }
        if ((r = sys1(NR_chdir, (long)cwd)) < 0)
            child_fail(ef, STAGE_GUEST_CWD, (int)-r);
        sys1(NR_umask, q.umask & 0777);
        if (hold >= 0) {
            /* Ready: say so, then wait to be released. The program is
             * found now, so that its absence is the creator's error. */
            const char *file = xf >= 0 ? 0 : find_program(ef, exec_path, args, envs);
            char go = 0;
            sys3(NR_write, ef, (long)msg, sizeof(msg));
            sys1(NR_close, ef);
            while ((r = sys3(NR_read, hold, (long)&go, 1)) == -E_INTR)
                ;
            if (r != 1)
                leave(0); /* never started */
            sys1(NR_close, hold);
            install_filter(-1, filter, q.filter_len);
            sys4(NR_rt_sigprocmask, SIG_SETMASK_, (long)&none, 0, sizeof(uint64_t));
            if (xf >= 0)
                r = sys6(NR_execveat, xf, (long)"", (long)args, (long)envs, AT_EMPTY_PATH_, 0);
            else
                r = exec_file(file, args, envs);
            leave(r == -E_NOENT ? 127 : 126);
        }
        install_filter(ef, filter, q.filter_len);
        sys4(NR_rt_sigprocmask, SIG_SETMASK_, (long)&none, 0, sizeof(uint64_t));
        run_program(ef, xf, exec_path, args, envs);
    }
    sys1(NR_close, errp[1]);
    if (pid < 0) {
        reply(q.job, 0, STAGE_FORK, -pid, -1);
        sys1(NR_close, errp[0]);
        goto out;
    }
    /* EOF: the program runs (the pipe closed at its exec). Else why not. */
    while ((r = sys3(NR_read, errp[0], (long)msg, sizeof(msg))) == -E_INTR)
        ;
    sys1(NR_close, errp[0]);
    /* A held job says {0, 0} once it waits: ready, like one that runs. */
    if (r == (long)sizeof(msg) && (msg[0] || msg[1]))
        reply(q.job, pid, (uint16_t)msg[0], msg[1], -1);
    else
        reply(q.job, pid, 0, 0, master);
out:
    if (master >= 0)
        sys1(NR_close, master);
    if (slave >= 0)
        sys1(NR_close, slave);
}

_Noreturn void spawner_run(void)
{
    struct ksigaction sa;
    uint64_t chld = 1ULL << (SIGCHLD_ - 1), none = 0;

    /* Jobs run as our uid: they may signal us (and can end the sandbox's
     * jobs that way), but not read our memory or environment. */
    sys2(NR_prctl, PR_SET_DUMPABLE_, 0);
    zero(&sa, sizeof(sa));
    sa.handler = on_sigchld;
    sa.flags = SA_RESTORER_ | SA_SIGINFO_;
    sa.restorer = sbvm_init_restorer;
    sys4(NR_rt_sigaction, SIGCHLD_, (long)&sa, 0, sizeof(uint64_t));
    sys4(NR_rt_sigprocmask, SIG_SETMASK_, (long)&chld, 0, sizeof(uint64_t));
    for (;;) {
        struct pollfd_ p = { FD_SPAWN, POLLIN_, 0 };
        int st;
        long r;

        /* The jobs' first processes are ours to reap (the init, their
         * tracer, has reported how they ended by then). */
        while (sys4(NR_wait4, -1, (long)&st, WALL_ | WNOHANG_, 0) > 0)
            ;
        r = sys6(NR_ppoll, (long)&p, 1, 0, (long)&none, sizeof(uint64_t), 0);
        if (r == 1 && (p.revents & POLLIN_)) {
            union {
                /* stdio, the file to run, what releases a held job, the channel */
                unsigned char b[CMSG_SPACE_FDS(6)];
                size_t align;
            } ctl;
            struct iov_ iov = { reqbuf, sizeof(reqbuf) };
            struct msghdr_ m;
            /* As many as the padded buffer could carry. */
            int fds[sizeof(ctl.b) / sizeof(int)], nfds = 0;
            long n;

            zero(&m, sizeof(m));
            m.iov = &iov;
            m.iovlen = 1;
            m.control = ctl.b;
            m.controllen = sizeof(ctl.b);
            n = sys3(NR_recvmsg, FD_SPAWN, (long)&m, MSG_CMSG_CLOEXEC_);
            if (n == -E_INTR)
                continue;
            if (n <= 0)
                leave(0); /* the supervisor is gone */
            if (m.controllen >= sizeof(struct cmsghdr_)) {
                struct cmsghdr_ c;
                copy(&c, ctl.b, sizeof(c));
                if (c.level == SOL_SOCKET_ && c.type == SCM_RIGHTS_ && c.len >= sizeof(c) &&
                    c.len <= sizeof(ctl.b)) {
                    nfds = (int)((c.len - sizeof(c)) / sizeof(int));
                    copy(fds, ctl.b + sizeof(c), (size_t)nfds * sizeof(int));
                }
            }
            if (m.flags & 0x20 /* MSG_TRUNC */)
                n = 0; /* refused below */
            serve(n, fds, nfds);
            for (int i = 0; i < nfds; i++)
                sys1(NR_close, fds[i]);
        } else if (r == 1) {
            leave(0);
        }
    }
}

#ifdef SBVM_SPAWNER_STANDALONE
__attribute__((used)) _Noreturn void spawner_start_c(long *sp)
{
    (void)sp;
    spawner_run();
}

SYS_ENTRY(spawner_start_c);
#endif
