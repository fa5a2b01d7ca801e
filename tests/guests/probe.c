/* SPDX-License-Identifier: MIT */
/*
 * probe.c: a guest the suite runs inside sandboxvm to look at its sandbox
 * from the inside. Each subcommand checks one thing and prints what it saw;
 * the exit status says whether the sandbox held (0) or not (1), unless the
 * subcommand says otherwise.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Prints the fds the process holds, one per line: "fd -> target". */
static int cmd_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int self;

    if (!d) {
        perror("opendir /proc/self/fd");
        return 2;
    }
    self = dirfd(d);
    while ((e = readdir(d))) {
        char path[64], target[256];
        ssize_t n;
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == self)
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        printf("%d -> %s\n", fd, target);
    }
    closedir(d);
    return 0;
}

/* Lines of /proc/self/status that describe privilege. */
static int cmd_status(void)
{
    static const char *const keys[] = {
        "Uid:",    "Gid:",    "CapInh:",     "CapPrm:",  "CapEff:",
        "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:", "Seccomp_filters:"
    };
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];

    if (!f)
        return 2;
    while (fgets(line, sizeof(line), f))
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (strncmp(line, keys[i], strlen(keys[i])) == 0)
                fputs(line, stdout);
    fclose(f);
    printf("pid: %d sid: %d pgid: %d\n", (int)getpid(), (int)getsid(0), (int)getpgid(0));
    return 0;
}

/* /proc/1/exe must not lead to the host's sandboxvm binary. */
static int cmd_exe(void)
{
    char target[512];
    ssize_t n = readlink("/proc/1/exe", target, sizeof(target) - 1);
    int fd;

    if (n >= 0) {
        target[n] = '\0';
        printf("readlink /proc/1/exe: %s\n", target);
    } else {
        printf("readlink /proc/1/exe: %s\n", strerror(errno));
    }
    fd = open("/proc/1/exe", O_RDONLY);
    printf("open /proc/1/exe: %s\n", fd >= 0 ? "opened" : strerror(errno));
    n = readlink("/proc/self/exe", target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';
    printf("readlink /proc/self/exe: %s\n", target);
    if (fd >= 0) {
        char buf[4096];
        ssize_t r = read(fd, buf, sizeof(buf));
        /* Reaching an ELF there is only acceptable if it is our small init. */
        printf("read /proc/1/exe: %zd bytes\n", r);
        return strstr(target, "sandboxvm") ? 1 : 0;
    }
    return 0;
}

/* A syscall through the i386 entry point (int 0x80): getpid is 20 there.
 * The filter must kill the process; surviving is a failure. */
static int cmd_int80(void)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    printf("int 0x80 getpid returned %ld: the i386 entry is open\n", ret);
    return 1;
#else
    return 0;
#endif
}

/* A syscall with the x32 bit set: must be refused (killed, or ENOSYS on
 * kernels built without x32). */
static int cmd_x32(void)
{
    long r = syscall(0x40000000L | SYS_getpid);
    printf("x32 getpid returned %ld (%s)\n", r, r < 0 ? strerror(errno) : "ok");
    return r >= 0;
}

/* TIOCSTI on stdin, plain and with the upper 32 bits set (CVE-2019-10063). */
static int cmd_tiocsti(void)
{
    char c = 'x';
    int r1 = ioctl(0, TIOCSTI, &c);
    int e1 = errno;
    int r2 = (int)syscall(SYS_ioctl, 0, 0xffffffff00000000UL | TIOCSTI, &c);
    int e2 = errno;
    printf("TIOCSTI: %s; with high bits: %s\n", r1 == 0 ? "allowed" : strerror(e1),
           r2 == 0 ? "allowed" : strerror(e2));
    return (r1 == 0 || r2 == 0 || e1 != EPERM || e2 != EPERM);
}

/* A refused syscall must fail with an error and let the program go on. */
static int cmd_refused(void)
{
    long r = syscall(SYS_io_uring_setup, 1, NULL);
    int e = errno;
    printf("io_uring_setup: %s\n", r < 0 ? strerror(e) : "allowed");
    r = syscall(SYS_unshare, 0x10000000);
    printf("unshare(CLONE_NEWUSER): %s\n", r < 0 ? strerror(errno) : "allowed");
    r = socket(AF_PACKET, SOCK_RAW, 0);
    printf("socket(AF_PACKET): %s\n", r < 0 ? strerror(errno) : "allowed");
    printf("still running\n");
    return 0;
}

/* Writes `n` bytes to stdout as fast as it can (flood test). */
static int cmd_flood(const char *arg)
{
    static char buf[65536];
    unsigned long long n = arg ? strtoull(arg, NULL, 10) : 0;

    memset(buf, 'y', sizeof(buf));
    for (size_t i = 63; i < sizeof(buf); i += 64)
        buf[i] = '\n';
    while (n > 0) {
        size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
        ssize_t w = write(1, buf, k);
        if (w <= 0)
            return 2;
        n -= (unsigned long long)w;
    }
    return 0;
}

/* Sends itself a signal: how the outcome model sees self-inflicted deaths. */
static int cmd_raise(const char *arg)
{
    int sig = arg ? atoi(arg) : 6;
    kill(getpid(), sig);
    return 3;
}

/* Prints every byte of its arguments' lengths and stdin: argument passing. */
static int cmd_args(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        printf("arg %d: [%s]\n", i, argv[i]);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(cmd, "fds"))
        return cmd_fds();
    if (!strcmp(cmd, "status"))
        return cmd_status();
    if (!strcmp(cmd, "exe"))
        return cmd_exe();
    if (!strcmp(cmd, "int80"))
        return cmd_int80();
    if (!strcmp(cmd, "x32"))
        return cmd_x32();
    if (!strcmp(cmd, "tiocsti"))
        return cmd_tiocsti();
    if (!strcmp(cmd, "refused"))
        return cmd_refused();
    if (!strcmp(cmd, "flood"))
        return cmd_flood(argc > 2 ? argv[2] : NULL);
    if (!strcmp(cmd, "raise"))
        return cmd_raise(argc > 2 ? argv[2] : NULL);
    if (!strcmp(cmd, "args"))
        return cmd_args(argc - 2, argv + 2);
    fprintf(stderr, "usage: probe fds|status|exe|int80|x32|tiocsti|refused|flood N|raise SIG|"
                    "args ...\n");
    return 2;
}
