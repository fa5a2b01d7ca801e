/* SPDX-License-Identifier: MIT */
/*
 * nsfloor: the least any sandbox can do for the isolation bench/run.sh gives
 * every sandbox, as a reference for start-up figures, never a sandbox to use.
 *
 *   nsfloor [--share-net] CMD [ARG...]
 *
 * One process: clone with the user, pid, mount, network, ipc, uts and cgroup
 * namespaces; the child maps its own uid and gid (as root and as an ordinary
 * user alike), brings loopback up, builds a tmpfs root with /usr read-only,
 * the merged-usr symlinks, its own /proc and a /dev of six bound device
 * nodes, pivots into it, detaches the old root, starts a new session and
 * execs CMD as the namespace's pid 1 (which dies with nsfloor). No filter,
 * no init, no tracing, no capability drop, no report: whatever a real
 * sandbox adds costs more. With --share-net the network namespace (and
 * loopback) is the host's: what a network namespace costs, and how it
 * serialises concurrent sandboxes. Exits with CMD's status (125 when
 * setting up fails).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROOT "/tmp"

static uid_t uid;
static gid_t gid;
static bool own_net = true;

static _Noreturn void die(const char *what)
{
    fprintf(stderr, "nsfloor: %s: %s\n", what, strerror(errno));
    _exit(125);
}

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        die(path);
    close(fd);
}

static void bind_ro(const char *src, const char *dst, unsigned long extra)
{
    if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0 ||
        mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | extra, NULL) < 0)
        die(dst);
}

static int child(void *arg)
{
    char **argv = arg;
    char map[64];
    static const char *const devs[] = { "null", "zero", "full", "random", "urandom", "tty" };
    struct ifreq ifr = { .ifr_name = "lo" };
    int s;

    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        die("prctl");
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
    put("/proc/self/uid_map", map);
    put("/proc/self/setgroups", "deny");
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
    put("/proc/self/gid_map", map);

    if (own_net) {
        s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
            die("loopback");
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
            die("loopback");
        close(s);
    }

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 || chdir(ROOT) < 0)
        die("root tmpfs");
    if (mkdir("usr", 0755) < 0 || mkdir("proc", 0755) < 0 || mkdir("dev", 0755) < 0 ||
        mkdir("old", 0755) < 0 || symlink("usr/bin", "bin") < 0 || symlink("usr/lib", "lib") < 0 ||
        symlink("usr/lib64", "lib64") < 0)
        die("root tree");
    bind_ro("/usr", "usr", MS_RDONLY | MS_NODEV);
    if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        die("proc");
    if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
        die("dev");
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        char src[32], dst[32];
        int fd;

        snprintf(src, sizeof(src), "/dev/%s", devs[i]);
        snprintf(dst, sizeof(dst), "dev/%s", devs[i]);
        fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0)
            die(dst);
        close(fd);
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
            die(dst);
    }
    if (syscall(SYS_pivot_root, ".", "old") < 0 || chdir("/") < 0 ||
        umount2("/old", MNT_DETACH) < 0 || rmdir("/old") < 0)
        die("pivot_root");
    if (setsid() < 0)
        die("setsid");
    execvp(argv[0], argv);
    die(argv[0]);
}

int main(int argc, char **argv)
{
    /* The child borrows our memory until its exec (CLONE_VM | CLONE_VFORK,
     * as posix_spawn does): no copy of the address space to make. */
    static char stack[64 * 1024] __attribute__((aligned(16)));
    int status, flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                        CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t pid;

    if (argc > 1 && strcmp(argv[1], "--share-net") == 0) {
        own_net = false;
        flags &= ~CLONE_NEWNET;
        argv++;
        argc--;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: nsfloor [--share-net] CMD [ARG...]\n");
        return 125;
    }
    uid = geteuid();
    gid = getegid();
    pid = clone(child, stack + sizeof(stack), flags, argv + 1);
    if (pid < 0)
        die("clone");
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
