/* SPDX-License-Identifier: MIT */
/*
 * server.c: the session server's life: its state directory, its sockets
 * (unix, owner-only; TCP only when asked, with a token), the outer epoll
 * that drives both the library's loop and libmicrohttpd from one thread,
 * the deadlines, the warm pool's refills between requests, and the end
 * (SIGTERM, SIGINT, SIGHUP): every sandbox destroyed, every client told.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/srv.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

/* After SIGTERM: how long clients get to read the end of their streams. */
#define DRAIN_MS 1000

void serve_options_init(struct serve_options *o)
{
    memset(o, 0, sizeof(*o));
    o->max_sandboxes = 64;
    o->max_jobs = 16;
    o->idle_ms = 10 * 60 * 1000;
    o->lifetime_ms = 24 * 3600 * 1000;
    o->max_upload = 1ULL << 30;
    o->ready_fd = -1;
}

void srv_log(struct server *s, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;

    if (!s->o.log)
        return;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    if (!strbuf_failed(&sb))
        s->o.log(s->o.log_ctx, sb.buf);
    strbuf_release(&sb);
}

void srv_queue_resume(struct server *s, struct stream *st)
{
    if (st->resume_queued || !st->suspended)
        return;
    if (ARRAY_GROW(s->resume, s->nresume + 1, &s->resume_alloc) < 0)
        return; /* it is resumed at its next event, or by its hang-up */
    s->resume[s->nresume++] = st;
    st->resume_queued = true;
}

void srv_forget_resume(struct server *s, struct stream *st)
{
    size_t keep = 0;

    for (size_t i = 0; i < s->nresume; i++)
        if (s->resume[i] != st)
            s->resume[keep++] = s->resume[i];
    s->nresume = keep;
    st->resume_queued = false;
}

static void hup_disarm(struct server *s, struct stream *st)
{
    if (st->hup_armed)
        (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, st->fd, NULL);
    st->hup_armed = false;
}

/* Resumes, at the top (never inside MHD's or the library's callbacks),
 * the connections whose streams have something new: whether it did. The
 * caller runs MHD next: a resume does not make MHD's epoll fd readable in
 * this mode, so nothing else would wake us for it. */
static bool flush_resumes(struct server *s)
{
    bool any = s->nresume > 0;

    while (s->nresume) {
        struct stream *st = s->resume[--s->nresume];
        st->resume_queued = false;
        if (!st->suspended)
            continue;
        hup_disarm(s, st);
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
    return any;
}

void stream_hangup(struct server *s, struct stream *st)
{
    st->hup = true;
    srv_queue_resume(s, st);
}

/* A suspended connection is not watched by MHD: we watch it for the
 * client's hang-up, so that a job whose client left ends now, not when it
 * next writes. */
void stream_suspended(struct server *s, struct stream *st)
{
    struct epoll_event e = { .events = EPOLLRDHUP, .data.ptr = &st->hupw };

    st->hupw.kind = W_HUP;
    st->hupw.ptr = st;
    if (!st->hup_armed && st->fd >= 0 && epoll_ctl(s->epfd, EPOLL_CTL_ADD, st->fd, &e) == 0)
        st->hup_armed = true;
}

void stream_hup_disarm(struct server *s, struct stream *st)
{
    hup_disarm(s, st);
}

int srv_watch(struct server *s, int fd, struct watch *w, uint32_t events)
{
    struct epoll_event e = { .events = events, .data.ptr = w };
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

void srv_unwatch(struct server *s, int fd)
{
    (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- the state directory ------------------------------------------------- */

static int mkdir_private(const char *path, sbvm_error **err)
{
    struct stat st;

    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return error_sys(err, errno, "making %s", path);
    if (lstat(path, &st) < 0)
        return error_sys(err, errno, "%s", path);
    /* What we keep there (layers, snapshots, uploads) is ours alone. */
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077))
        return error_set(err, EPERM,
                         "%s: must be a directory of uid %u that nobody else may read or write "
                         "(mode 0700)",
                         path, (unsigned)geteuid());
    return 0;
}

static int state_setup(struct server *s, sbvm_error **err)
{
    char path[PATH_MAX];
    const char *subs[] = { "tmp", "layers", "snapshots" };
    int r;

    if ((r = mkdir_private(s->o.state_dir, err)) < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->o.state_dir, subs[i]) >= sizeof(path))
            return error_set(err, ENAMETOOLONG, "%s: too long", s->o.state_dir);
        if ((r = mkdir_private(path, err)) < 0)
            return r;
    }
    snprintf(path, sizeof(path), "%s/tmp", s->o.state_dir);
    /* What a killed server was staging is nobody's now. */
    rm_tree(path);
    if ((r = mkdir_private(path, err)) < 0)
        return r;
    s->tmp_dir = strdup(path);
    if (!s->tmp_dir)
        return error_set(err, ENOMEM, "out of memory");
    snapshot_sweep_layers(s);
    return 0;
}

/* ---- sockets --------------------------------------------------------------- */

static int unix_socket(struct server *s, sbvm_error **err)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    const char *path = s->o.socket_path;
    struct stat st;
    mode_t old;
    int fd, r;

    if (strlen(path) >= sizeof(a.sun_path))
        return error_set(err, ENAMETOOLONG, "socket %s: longer than %zu bytes", path,
                         sizeof(a.sun_path) - 1);
    memcpy(a.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return error_sys(err, errno, "socket");
    if (lstat(path, &st) == 0) {
        /* A socket nobody answers on is a killed server's; anything else
         * is not ours to remove. */
        int probe;
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            return error_set(err, EEXIST, "%s exists and is not a socket", path);
        }
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        r = probe >= 0 ? connect(probe, (struct sockaddr *)&a, sizeof(a)) : -1;
        if (probe >= 0)
            close(probe);
        if (r == 0) {
            close(fd);
            return error_set(err, EADDRINUSE, "another server is listening on %s", path);
        }
        unlink(path);
    }
    /* Owner-only from the first instant: bind() creates the file with
     * the umask's mode, before any chmod could narrow it. */
    old = umask(0177);
    r = bind(fd, (struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (r < 0) {
        r = error_sys(err, errno, "binding %s", path);
        close(fd);
        return r;
    }
    /* Other uids (--allow-uid) need write permission to connect; the peer
     * credentials are checked on every connection either way. */
    if (s->o.nallow_uids && chmod(path, 0666) < 0) {
        r = error_sys(err, errno, "chmod %s", path);
        close(fd);
        return r;
    }
    if (listen(fd, 128) < 0) {
        r = error_sys(err, errno, "listening on %s", path);
        close(fd);
        return r;
    }
    s->listen_fd = fd;
    return 0;
}

static int tcp_socket(struct server *s, sbvm_error **err)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    char host[64];
    const char *colon = strrchr(s->o.tcp, ':');
    char *end;
    unsigned long port;
    int fd, one = 1, r;

    if (!colon || (size_t)(colon - s->o.tcp) >= sizeof(host))
        return error_set(err, EINVAL, "--tcp %s: expected ADDRESS:PORT", s->o.tcp);
    memcpy(host, s->o.tcp, (size_t)(colon - s->o.tcp));
    host[colon - s->o.tcp] = '\0';
    port = strtoul(colon + 1, &end, 10);
    if (*end || !colon[1] || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return error_set(err, EINVAL, "--tcp %s: expected an IPv4 address and a port", s->o.tcp);
    a.sin_port = htons((uint16_t)port);
    if (!s->token)
        return error_set(err, EINVAL, "--tcp needs --token-file: TCP has no peer credentials");
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return error_sys(err, errno, "socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
        r = error_sys(err, errno, "listening on %s", s->o.tcp);
        close(fd);
        return r;
    }
    s->tcp_fd = fd;
    return 0;
}

static int read_token(struct server *s, sbvm_error **err)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    int fd, r;

    fd = open(s->o.token_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return error_sys(err, errno, "--token-file %s", s->o.token_file);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0077)) {
        close(fd);
        return error_set(err, EPERM, "--token-file %s: a regular file only its owner may read",
                         s->o.token_file);
    }
    r = read_file_at(fd, "", 4096, &text, &len);
    if (r < 0)
        r = read_file_at(AT_FDCWD, s->o.token_file, 4096, &text, &len);
    close(fd);
    if (r < 0)
        return error_sys(err, -r, "--token-file %s", s->o.token_file);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        text[--len] = '\0';
    if (len < 16 || strlen(text) != len) {
        free(text);
        return error_set(err, EINVAL, "--token-file %s: the token must be 16 bytes or more",
                         s->o.token_file);
    }
    s->token = text;
    s->token_len = len;
    return 0;
}

static void accept_all(struct server *s, int lfd)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                srv_log(s, "accept: %s", errno_text(errno));
            return;
        }
        /* MHD closes it, also when it refuses it (too many connections). */
        if (MHD_add_connection(s->mhd, fd, (struct sockaddr *)&ss, sl) != MHD_YES)
            srv_log(s, "a connection was refused: %s", errno_text(errno));
    }
}

static int watch_add(struct server *s, int fd, struct watch *w, enum watch_kind kind)
{
    struct epoll_event e = { .events = EPOLLIN, .data.ptr = w };

    w->kind = kind;
    w->ptr = s;
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static int mhd_timeout(struct server *s)
{
    MHD_UNSIGNED_LONG_LONG t;

    if (MHD_get_timeout(s->mhd, &t) != MHD_YES)
        return -1;
    return t > INT32_MAX ? INT32_MAX : (int)t;
}

/* One round: wait for anything, run what is ready. Whether anything was. */
static bool round_once(struct server *s, int timeout)
{
    struct epoll_event ev[32];
    int n;

    /* What was queued outside a round (an ended sandbox's last events,
     * the answer to a create or a destroy) goes out before we sleep. */
    if (flush_resumes(s) || s->kick) {
        s->kick = false;
        MHD_run(s->mhd);
        timeout = 0;
    }
    timeout = min_timeout(timeout, sbvm_loop_timeout(s->loop));
    timeout = min_timeout(timeout, mhd_timeout(s));
    n = epoll_wait(s->epfd, ev, (int)ARRAY_SIZE(ev), timeout);
    if (n < 0 && errno != EINTR)
        srv_log(s, "epoll_wait: %s", errno_text(errno));
    for (int i = 0; i < n; i++) {
        struct watch *w = ev[i].data.ptr;
        switch (w->kind) {
        case W_LISTEN:
            accept_all(s, s->listen_fd);
            break;
        case W_TCP:
            accept_all(s, s->tcp_fd);
            break;
        case W_SIGNAL: {
            struct signalfd_siginfo si;
            while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (!s->stopping)
                    srv_log(s, "signal %u: ending every sandbox", si.ssi_signo);
                s->stopping = true;
            }
            break;
        }
        case W_HUP:
            stream_hangup(s, w->ptr);
            break;
        case W_STDIN:
            sjob_stdin_pump(w->ptr);
            break;
        case W_LOOP:
        case W_MHD:
            break; /* both run below, every round */
        }
    }
    /* The library's loop: fds and timers (the latter make no fd ready). */
    sbvm_loop_run(s->loop, 0);
    flush_resumes(s);
    MHD_run(s->mhd);
    return n > 0;
}

/* Clients get what their streams still hold, for a moment. */
static void drain(struct server *s)
{
    int64_t end = now_mono_ns() + (int64_t)DRAIN_MS * 1000000;

    while (now_mono_ns() < end) {
        bool busy = false;
        for (size_t i = 0; i < s->nsbx; i++)
            for (size_t k = 0; k < s->sbx[i]->njobs; k++)
                busy |= s->sbx[i]->jobs[k]->stream != NULL;
        if (!busy)
            break;
        round_once(s, 50);
    }
}

static void shutdown_all(struct server *s)
{
    int64_t end = now_mono_ns() + 35LL * 1000000000;
    bool busy = true;

    pool_drain(s);
    for (size_t i = 0; i < s->nsbx; i++)
        sbx_stop(s, s->sbx[i], "server_shutdown");
    /* They end side by side; the library kills what does not answer. */
    while (busy && now_mono_ns() < end) {
        busy = false;
        sbx_tick(s);
        for (size_t i = 0; i < s->nsbx; i++)
            busy |= s->sbx[i]->state != SBX_ENDED;
        if (busy)
            round_once(s, 50);
    }
    for (size_t i = 0; i < s->nsbx; i++)
        sbx_end(s, s->sbx[i], "server_shutdown");
    drain(s);
    /* What still streams is cut: MHD_stop_daemon wants nothing suspended. */
    for (size_t i = 0; i < s->nsbx; i++)
        for (size_t k = 0; k < s->sbx[i]->njobs; k++)
            if (s->sbx[i]->jobs[k]->stream)
                stream_hangup(s, s->sbx[i]->jobs[k]->stream);
    flush_resumes(s);
    MHD_run(s->mhd);
}

static void server_free(struct server *s)
{
    http_stop(s);
    for (size_t i = 0; i < s->nsbx; i++)
        sbx_free(s->sbx[i]);
    free(s->sbx);
    free(s->pool);
    free(s->resume);
    if (s->loop)
        sbvm_loop_free(s->loop);
    close_fd(&s->listen_fd);
    close_fd(&s->tcp_fd);
    close_fd(&s->sig_fd);
    close_fd(&s->epfd);
    close_fd(&s->state_fd);
    if (s->tmp_dir) {
        rm_tree(s->tmp_dir);
        free(s->tmp_dir);
    }
    if (s->token) {
        explicit_bzero(s->token, s->token_len);
        free(s->token);
    }
    json_decref(s->defaults);
    sbvm_config_free(s->defcfg);
}

static int defaults_load(struct server *s, sbvm_error **err)
{
    struct strbuf why = STRBUF_INIT;
    json_error_t je;
    json_t *doc;
    int r;

    if (s->o.settings) {
        doc = json_load_file(s->o.settings, JSON_REJECT_DUPLICATES, &je);
        if (!doc)
            return error_set(err, EINVAL, "--settings %s: line %d: %s", s->o.settings, je.line,
                             je.text);
        if (!json_is_object(doc)) {
            json_decref(doc);
            return error_set(err, EINVAL, "--settings %s: expected an object", s->o.settings);
        }
    } else {
        doc = json_object();
    }
    s->defcfg = sbvm_config_new();
    if (!doc || !s->defcfg) {
        json_decref(doc);
        return error_set(err, ENOMEM, "out of memory");
    }
    r = settings_apply(s, s->defcfg, doc, s->uid, &s->defaults, &why);
    json_decref(doc);
    if (r) {
        r = error_set(err, EINVAL, "--settings %s: %s", s->o.settings ? s->o.settings : "",
                      why.buf);
        strbuf_release(&why);
        return r;
    }
    strbuf_release(&why);
    return 0;
}

int serve_run(const struct serve_options *o, sbvm_error **err)
{
    struct server srv = { .o = *o,
                          .epfd = -1,
                          .listen_fd = -1,
                          .tcp_fd = -1,
                          .sig_fd = -1,
                          .state_fd = -1,
                          .mhd_fd = -1 };
    struct server *s = &srv;
    sigset_t mask, old;
    int r;

    s->uid = geteuid();
    s->test_hold = getenv("SBVM_SERVE_TEST_HOLD");
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, &old);
    /* A client gone mid-write must not kill the server; the library's own
     * writes never raise it (write_nosigpipe), MHD sends with MSG_NOSIGNAL,
     * and the guests' dispositions are reset before they exec. */
    signal(SIGPIPE, SIG_IGN);

    if ((r = state_setup(s, err)) < 0 || (r = defaults_load(s, err)) < 0)
        goto out;
    if (o->token_file && (r = read_token(s, err)) < 0)
        goto out;
    s->loop = sbvm_loop_new();
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (!s->loop || s->epfd < 0 || s->sig_fd < 0) {
        r = error_sys(err, errno ? errno : ENOMEM, "setting up the event loop");
        goto out;
    }
    if ((r = http_start(s, err)) < 0 || (r = unix_socket(s, err)) < 0)
        goto out;
    if (o->tcp && (r = tcp_socket(s, err)) < 0)
        goto out;
    if ((r = watch_add(s, sbvm_loop_fd(s->loop), &s->w_loop, W_LOOP)) < 0 ||
        (r = watch_add(s, s->mhd_fd, &s->w_mhd, W_MHD)) < 0 ||
        (r = watch_add(s, s->listen_fd, &s->w_listen, W_LISTEN)) < 0 ||
        (r = watch_add(s, s->sig_fd, &s->w_signal, W_SIGNAL)) < 0 ||
        (s->tcp_fd >= 0 && (r = watch_add(s, s->tcp_fd, &s->w_tcp, W_TCP)) < 0)) {
        r = error_sys(err, -r, "epoll");
        goto out;
    }
    srv_log(s, "listening on %s (uid %u%s%s), state in %s", o->socket_path, (unsigned)s->uid,
            o->tcp ? ", and TCP " : "", o->tcp ? o->tcp : "", o->state_dir);
    if (o->ready_fd >= 0) {
        (void)write_full(o->ready_fd, "ready\n", 6);
        close(o->ready_fd);
    }

    while (!s->stopping) {
        int t = sbx_tick(s);
        int pool = pool_wait_ms(s);
        bool busy = round_once(s, pool == 0 ? 0 : min_timeout(t, pool));
        /* A refill starts only when nothing else is waiting (pool.c says
         * when); the rest of its building happens in its own processes. */
        if (!busy && pool == 0 && !s->stopping)
            pool_refill(s);
    }
    shutdown_all(s);
    r = 0;
out:
    if (s->listen_fd >= 0)
        unlink(o->socket_path);
    server_free(s);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return r;
}
