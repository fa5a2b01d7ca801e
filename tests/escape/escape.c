/* SPDX-License-Identifier: MIT */
/*
 * escape.c: the escape battery. Each probe is one attempt to get out of the
 * sandbox, or to reach something of the host's, written as an attacker who
 * has read sandboxvm's source would. Run inside sandboxvm with the default
 * policy, every probe must fail; the line it prints says how.
 *
 *   escape list              the probes, one per line: NAME  what it tries
 *   escape NAME [ARG]        one probe; exit 0 when refused, 1 when it got
 *                            through, 2 when it could not run
 *   escape all [ARG...]      every probe, each in a child process; prints
 *                            "refused N/M" and exits 0 only if all were
 *
 * Output lines: "NAME: refused: HOW" or "NAME: ESCAPED: WHAT". Some probes
 * take an argument from the test that runs them (a host pid, the name of a
 * host abstract socket); without it they say so and count as not run.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/bpf.h>
#include <linux/mount.h>
#include <linux/reboot.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "escape.h"

#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

/* ---- terminals ---------------------------------------------------------- */

static int p_tiocsti(const char *arg)
{
    char c = '#';
    int bad = 0;
    (void)arg;
    /* On stdin (a pipe: the guest never holds a host terminal), and on
     * /dev/tty (there is none: the guest leads its own session). The
     * filter refuses TIOCSTI before the kernel even looks at the fd. */
    bad |= FAIL("tiocsti", "ioctl(0, TIOCSTI)", ioctl(0, TIOCSTI, &c));
    bad |= FAIL("tiocsti", "open(/dev/tty)", open("/dev/tty", O_RDWR));
    return bad;
}

static int p_tiocsti_high(const char *arg)
{
    char c = '#';
    (void)arg;
    /* CVE-2019-10063: the kernel uses only the low 32 bits of the request. */
    return FAIL("tiocsti-high-bits", "ioctl(0, 0xffffffff00000000|TIOCSTI)",
                syscall(SYS_ioctl, 0, 0xffffffff00000000UL | TIOCSTI, &c));
}

static int p_tioclinux(const char *arg)
{
    char sel[8] = { 2 };
    int bad = 0;
    (void)arg;
    bad |= FAIL("tioclinux", "ioctl(1, TIOCLINUX)", ioctl(1, TIOCLINUX, sel));
    bad |= FAIL("tioclinux", "ioctl(1, 0x1_0000_0000|TIOCLINUX)",
                syscall(SYS_ioctl, 1, 0x100000000UL | TIOCLINUX, sel));
    return bad;
}

/* ---- kernel attack surface ---------------------------------------------- */

static int p_io_uring(const char *arg)
{
    unsigned char params[120] = { 0 };
    (void)arg;
    return FAIL("io_uring", "io_uring_setup", syscall(SYS_io_uring_setup, 8, params));
}

static int p_userfaultfd(const char *arg)
{
    (void)arg;
    return FAIL("userfaultfd", "userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
}

static int p_perf(const char *arg)
{
    struct perf_event_attr a;
    (void)arg;
    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_CPU_CLOCK;
    return FAIL("perf_event_open", "perf_event_open",
                syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
}

static int p_bpf(const char *arg)
{
    union bpf_attr a;
    (void)arg;
    memset(&a, 0, sizeof(a));
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    return FAIL("bpf", "bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
}

static int p_keyctl(const char *arg)
{
    char buf[256];
    int bad = 0;
    (void)arg;
    /* The session keyring is shared with the host's login session unless
     * something makes a new one: reading it would leak its keys. */
    bad |= FAIL("keyctl", "keyctl(GET_KEYRING_ID, session)",
                syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    bad |= FAIL("keyctl", "keyctl(READ, session keyring)",
                syscall(SYS_keyctl, KEYCTL_READ, KEY_SPEC_SESSION_KEYRING, buf, sizeof(buf)));
    bad |= FAIL("keyctl", "add_key(user)",
                syscall(SYS_add_key, "user", "sbvm", "x", 1, KEY_SPEC_SESSION_KEYRING));
    bad |= FAIL("keyctl", "request_key(user)",
                syscall(SYS_request_key, "user", "sbvm", NULL, KEY_SPEC_SESSION_KEYRING));
    return bad;
}

static int p_modules(const char *arg)
{
    int bad = 0;
    (void)arg;
    bad |= FAIL("modules", "init_module", syscall(SYS_init_module, "", 0, ""));
    bad |= FAIL("modules", "finit_module", syscall(SYS_finit_module, 0, "", 0));
    bad |= FAIL("modules", "delete_module", syscall(SYS_delete_module, "loop", O_NONBLOCK));
    return bad;
}

static int p_kexec(const char *arg)
{
    int bad = 0;
    (void)arg;
    bad |= FAIL("kexec", "kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
    bad |= FAIL("kexec", "kexec_file_load", syscall(SYS_kexec_file_load, 0, 0, 0, "", 0));
    return bad;
}

static int p_reboot(const char *arg)
{
    (void)arg;
    /* CAD_OFF is harmless even if it got through. */
    return FAIL("reboot", "reboot(CAD_OFF)",
                syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                        LINUX_REBOOT_CMD_CAD_OFF, NULL));
}

static int p_admin(const char *arg)
{
    struct timespec ts;
    int bad = 0;
    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    bad |= FAIL("admin", "sethostname", sethostname("escaped", 7));
    bad |= FAIL("admin", "setdomainname", setdomainname("escaped", 7));
    bad |= FAIL("admin", "clock_settime", clock_settime(CLOCK_REALTIME, &ts));
    bad |= FAIL("admin", "settimeofday",
                syscall(SYS_settimeofday, &(struct timeval){ ts.tv_sec, 0 }, NULL));
    bad |= FAIL("admin", "swapon", swapon("/tmp/swap", 0));
    bad |= FAIL("admin", "acct", acct("/tmp/acct"));
    bad |= FAIL("admin", "quotactl", syscall(SYS_quotactl, 0, "/", 0, NULL));
    bad |= FAIL("admin", "syslog(READ_ALL)", syscall(SYS_syslog, 3, NULL, 0));
    return bad;
}

static int p_personality(const char *arg)
{
    long before = personality(0xffffffff), r;
    (void)arg;
    /* READ_IMPLIES_EXEC would make every readable mapping executable. */
    r = personality(READ_IMPLIES_EXEC);
    if (r != -1 && (personality(0xffffffff) & READ_IMPLIES_EXEC)) {
        printf("personality: ESCAPED: READ_IMPLIES_EXEC is set\n");
        return 1;
    }
    printf("personality: refused: personality(READ_IMPLIES_EXEC): %s (still 0x%lx)\n",
           r == -1 ? ename(errno) : "no effect", before);
    return 0;
}

static int p_modify_ldt(const char *arg)
{
    unsigned char desc[16] = { 0 };
    (void)arg;
    return FAIL("modify_ldt", "modify_ldt(write)", syscall(SYS_modify_ldt, 1, desc, sizeof(desc)));
}

/* ---- process and namespace boundaries ------------------------------------ */

static int p_ptrace_init(const char *arg)
{
    int bad = 0;
    (void)arg;
    bad |= FAIL("ptrace", "ptrace(ATTACH, 1)", ptrace(PTRACE_ATTACH, 1, 0, 0));
    bad |= FAIL("ptrace", "ptrace(SEIZE, 1)", ptrace(PTRACE_SEIZE, 1, 0, 0));
    bad |= FAIL("ptrace", "process_vm_readv(1)",
                syscall(SYS_process_vm_readv, 1, &(struct iovec){ &bad, 1 }, 1,
                        &(struct iovec){ (void *)0x400000, 1 }, 1, 0));
    bad |= FAIL("ptrace", "open(/proc/1/mem)", open("/proc/1/mem", O_RDONLY));
    return bad;
}

/* Another guest, or any host process, is not even visible: the sandbox's
 * /proc holds its init, the guest, and what the guest started. */
static int p_peers(const char *arg)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0, bad = 0;
    (void)arg;
    if (!d)
        return 2;
    while ((e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        n++;
        if (pid != 1 && pid != getpid() && pid != getppid() && pid > 16) {
            printf("peers: ESCAPED: a process %d is visible\n", pid);
            bad = 1;
        }
    }
    closedir(d);
    if (!bad)
        printf("peers: refused: /proc shows %d processes, all of this sandbox\n", n);
    bad |= FAIL("peers", "ptrace(ATTACH, 4242)", ptrace(PTRACE_ATTACH, 4242, 0, 0));
    return bad;
}

static int p_signal_host(const char *arg)
{
    long pid = arg ? atol(arg) : 0;
    if (pid <= 0) {
        printf("signal-host: not run: give the pid of a host process\n");
        return 2;
    }
    /* That number is a host pid; here it names nothing (or one of ours). */
    return FAIL("signal-host", "kill(host pid, SIGTERM)", kill((pid_t)pid, SIGTERM));
}

static int p_unshare(const char *arg)
{
    static const struct {
        int flag;
        const char *name;
    } ns[] = { { CLONE_NEWUSER, "user" },     { CLONE_NEWNS, "mount" },
               { CLONE_NEWNET, "net" },       { CLONE_NEWPID, "pid" },
               { CLONE_NEWUTS, "uts" },       { CLONE_NEWIPC, "ipc" },
               { CLONE_NEWCGROUP, "cgroup" }, { 0x00000080 /* CLONE_NEWTIME */, "time" } };
    int bad = 0;
    (void)arg;
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "unshare(%s)", ns[i].name);
        bad |= FAIL("unshare", what, unshare(ns[i].flag));
    }
    return bad;
}

static int p_clone_ns(const char *arg)
{
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } ca = { CLONE_NEWUSER, 0, 0, 0, SIGCHLD, 0, 0, 0 };
    long r;
    int bad = 0;
    (void)arg;
    r = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    if (r == 0)
        _exit(0);
    bad |= must_fail("clone-ns", "clone(CLONE_NEWUSER|CLONE_NEWNS)", r, errno);
    r = syscall(SYS_clone3, &ca, sizeof(ca));
    if (r == 0)
        _exit(0);
    bad |= must_fail("clone-ns", "clone3(CLONE_NEWUSER)", r, errno);
    return bad;
}

static int p_setns(const char *arg)
{
    int bad = 0, fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    (void)arg;
    bad |= FAIL("setns", "setns(own mount ns)", setns(fd, 0));
    bad |= FAIL("setns", "open(/proc/1/ns/net)", open("/proc/1/ns/net", O_RDONLY));
    if (fd >= 0)
        close(fd);
    return bad;
}

static int p_mount(const char *arg)
{
    int bad = 0;
    (void)arg;
    bad |= FAIL("mount", "mount(tmpfs on /tmp)", mount("none", "/tmp", "tmpfs", 0, NULL));
    bad |= FAIL("mount", "mount(remount / rw)", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
    bad |= FAIL("mount", "umount2(/proc)", umount2("/proc", MNT_DETACH));
    bad |= FAIL("mount", "pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
    bad |= FAIL("mount", "open_tree(/usr, CLONE)",
                syscall(SYS_open_tree, AT_FDCWD, "/usr", OPEN_TREE_CLONE));
    bad |=
        FAIL("mount", "move_mount", syscall(SYS_move_mount, AT_FDCWD, "/usr", AT_FDCWD, "/tmp", 0));
    bad |= FAIL("mount", "fsopen(tmpfs)", syscall(SYS_fsopen, "tmpfs", 0));
    bad |= FAIL("mount", "fspick(/)", syscall(SYS_fspick, AT_FDCWD, "/", 0));
    bad |= FAIL("mount", "mount_setattr(/usr, rw)",
                syscall(SYS_mount_setattr, AT_FDCWD, "/usr", 0,
                        &(struct mount_attr){ .attr_clr = MOUNT_ATTR_RDONLY },
                        sizeof(struct mount_attr)));
    return bad;
}

/* ---- foreign entry points ------------------------------------------------- */

/* A kernel without IA-32 emulation answers int 0x80 with a general
 * protection fault at the instruction (SIGSEGV, SI_KERNEL): refused before
 * any filter sees the call. Everywhere else the filter kills (SIGSYS). */
static void int80_refused_by_kernel(int sig, siginfo_t *si, void *uc)
{
    const unsigned char *pc = (const unsigned char *)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
    (void)sig;
    if (si->si_code == SI_KERNEL && pc[0] == 0xcd && pc[1] == 0x80) {
        static const char msg[] = "int80: refused: this kernel refuses the i386 entry itself "
                                  "(general protection fault at int 0x80)\n";
        (void)!write(1, msg, sizeof(msg) - 1);
        _exit(0);
    }
    _exit(3);
}

static int p_int80(const char *arg)
{
    struct sigaction sa = { .sa_sigaction = int80_refused_by_kernel, .sa_flags = SA_SIGINFO };
    long ret;
    (void)arg;
    sigaction(SIGSEGV, &sa, NULL);
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    printf("int80: ESCAPED: the i386 entry point answered (getpid = %ld)\n", ret);
    return 1;
}

static int p_x32(const char *arg)
{
    (void)arg;
    return FAIL("x32", "getpid through the x32 bit", syscall(0x40000000L | SYS_getpid));
}

/* ---- privileges ------------------------------------------------------------ */

static int p_privs(const char *arg)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    int bad = 0;
    (void)arg;
    if (!f)
        return 2;
    while (fgets(line, sizeof(line), f)) {
        if ((!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapPrm:", 7) ||
             !strncmp(line, "CapBnd:", 7) || !strncmp(line, "CapAmb:", 7)) &&
            strtoull(line + 7, NULL, 16) != 0) {
            printf("privs: ESCAPED: %s", line);
            bad = 1;
        }
        if (!strncmp(line, "NoNewPrivs:", 11) && atoi(line + 11) != 1) {
            printf("privs: ESCAPED: no_new_privs is off\n");
            bad = 1;
        }
    }
    fclose(f);
    if (geteuid() == 0) {
        printf("privs: ESCAPED: running as uid 0\n");
        bad = 1;
    }
    /* Lowering it (to be spared by the OOM killer) needs a privilege. */
    f = fopen("/proc/self/oom_score_adj", "r+");
    if (f) {
        int adj = 0;
        if (fscanf(f, "%d", &adj) == 1)
            printf("privs: oom_score_adj %d\n", adj);
        rewind(f);
        if (fprintf(f, "-1000\n") > 0 && fflush(f) == 0) {
            printf("privs: ESCAPED: lowered oom_score_adj to -1000\n");
            bad = 1;
        } else {
            printf("privs: refused: lowering oom_score_adj: %s\n", ename(errno));
        }
        fclose(f);
    }
    bad |= FAIL("privs", "setuid(0)", setuid(0) == 0 && geteuid() == 0 ? 0 : -1);
    if (!bad)
        printf("privs: refused: no capabilities, no_new_privs set, uid %d\n", (int)geteuid());
    return bad;
}

/* Run as a setuid-root file (the test makes one): it must not be root. */
static int p_setuid(const char *arg)
{
    struct stat st;
    (void)arg;
    if (stat("/proc/self/exe", &st) == 0 && (st.st_mode & S_ISUID) && st.st_uid == 0) {
        if (geteuid() == 0) {
            printf("setuid: ESCAPED: a setuid-root binary runs as root\n");
            return 1;
        }
        printf("setuid: refused: setuid-root file ran as uid %d (no_new_privs, nosuid)\n",
               (int)geteuid());
        return 0;
    }
    printf("setuid: refused: euid %d (this copy is not setuid root)\n", (int)geteuid());
    return 0;
}

/* ---- files ----------------------------------------------------------------- */

static int p_fds(const char *arg)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int bad = 0;
    (void)arg;
    if (!d)
        return 2;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        char path[64], target[256];
        ssize_t n;
        if (e->d_name[0] == '.' || fd == dirfd(d) || fd <= 2)
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        printf("fds: ESCAPED: inherited fd %d -> %s\n", fd, target);
        bad = 1;
    }
    closedir(d);
    if (!bad)
        printf("fds: refused: only stdin, stdout and stderr were inherited\n");
    return bad;
}

static int p_exe(const char *arg)
{
    char target[512];
    ssize_t n;
    int bad = 0;
    (void)arg;
    bad |= FAIL("exe", "open(/proc/1/exe)", open("/proc/1/exe", O_RDONLY));
    n = readlink("/proc/self/exe", target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';
    /* The host's binary is named sandboxvm; a checkout's directory may be
     * too (/root/sandboxvm/build/...), which says nothing. */
    if (!strcmp(strrchr(target, '/') ? strrchr(target, '/') + 1 : target, "sandboxvm")) {
        printf("exe: ESCAPED: /proc/self/exe is %s\n", target);
        bad = 1;
    } else {
        printf("exe: refused: /proc/self/exe is this program (%s)\n", target);
    }
    return bad;
}

/* A directory the sandbox made only to reach this program: one entry, the
 * next name of `rest` (this program's path below the directory). */
static int only_the_way(const char *dir, const char *rest)
{
    const char *slash = strchr(rest, '/');
    size_t want = slash ? (size_t)(slash - rest) : strlen(rest);
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0, other = 0;

    if (!d) {
        printf("host-files: refused: %s is not there\n", dir);
        return 0;
    }
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        if (strlen(e->d_name) != want || strncmp(e->d_name, rest, want))
            other = 1;
    }
    closedir(d);
    if (n != 1 || other) {
        printf("host-files: ESCAPED: %s holds %d entries, not only the way to this program\n", dir,
               n);
        return 1;
    }
    printf("host-files: refused: %s holds only the way to this program\n", dir);
    return 0;
}

static int p_host_files(const char *arg)
{
    static const char *const paths[] = { "/etc/shadow", "/root",       "/home", "/etc/ssh",
                                         "/var/log",    "/sys/kernel", "/boot", "/run" };
    char cmd[64] = "";
    int bad = 0;
    FILE *f;
    char self[512];
    ssize_t sn = readlink("/proc/self/exe", self, sizeof(self) - 1);

    self[sn > 0 ? sn : 0] = '\0';
    (void)arg;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        size_t len = strlen(paths[i]);
        char what[64];
        snprintf(what, sizeof(what), "open(%s)", paths[i]);
        if (!strncmp(self, paths[i], len) && self[len] == '/') {
            /* The way to this program itself (the sandbox makes a program
             * outside the system directories visible at its own path):
             * the directory must hold that one entry and nothing else. */
            bad |= only_the_way(paths[i], self + len + 1);
            continue;
        }
        bad |= FAIL("host-files", what, open(paths[i], O_RDONLY));
    }
    /* /proc is the sandbox's own: pid 1 is its init, not the host's. */
    f = fopen("/proc/1/cmdline", "r");
    if (f) {
        size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
        cmd[n] = '\0';
        fclose(f);
    }
    if (strcmp(cmd, "sbvm-init") != 0 && cmd[0]) {
        printf("host-files: ESCAPED: /proc/1 is %s, not the sandbox's init\n", cmd);
        bad = 1;
    } else {
        printf("host-files: refused: /proc/1 is the sandbox's init\n");
    }
    return bad;
}

static int p_readonly(const char *arg)
{
    int bad = 0;
    (void)arg;
    bad |= FAIL("readonly", "create in /usr/bin",
                open("/usr/bin/sbvm-escaped", O_WRONLY | O_CREAT, 0755));
    bad |= FAIL("readonly", "write /etc/passwd", open("/etc/passwd", O_WRONLY | O_APPEND));
    bad |= FAIL("readonly", "mkdir /escaped", mkdir("/escaped", 0755));
    bad |= FAIL("readonly", "write /proc/sys/kernel/hostname",
                open("/proc/sys/kernel/hostname", O_WRONLY));
    bad |= FAIL("readonly", "write /proc/sysrq-trigger", open("/proc/sysrq-trigger", O_WRONLY));
    bad |= FAIL("readonly", "mknod /tmp/sda", mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0)));
    return bad;
}

/* ---- network ---------------------------------------------------------------- */

static int p_net(const char *arg)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
    int bad = 0, s;
    (void)arg;
    a.sin_addr.s_addr = htonl(0x01010101); /* 1.1.1.1 */
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bad |= FAIL("net", "connect(tcp 1.1.1.1:80)", connect(s, (struct sockaddr *)&a, sizeof(a)));
    close(s);
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    a.sin_port = htons(53);
    bad |= FAIL("net", "sendto(udp 1.1.1.1:53)",
                sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)));
    close(s);
    bad |= FAIL("net", "socket(AF_INET, SOCK_RAW)", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    bad |= FAIL("net", "socket(AF_PACKET)", socket(17 /* AF_PACKET */, SOCK_RAW, 0));
    bad |= FAIL("net", "socket(AF_VSOCK)", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
    return bad;
}

static int p_abstract(const char *arg)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    size_t len;
    int s, bad;
    if (!arg) {
        printf("abstract-unix: not run: give the name of a host abstract socket\n");
        return 2;
    }
    len = strlen(arg) < sizeof(a.sun_path) - 1 ? strlen(arg) : sizeof(a.sun_path) - 1;
    memcpy(a.sun_path + 1, arg, len);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Abstract sockets belong to a network namespace: the host's are not here. */
    bad = FAIL("abstract-unix", "connect(host abstract socket)",
               connect(s, (struct sockaddr *)&a,
                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)));
    close(s);
    return bad;
}

/* ---- resources -------------------------------------------------------------- */

static void *spin(void *arg)
{
    volatile unsigned long *n = arg;
    for (;;)
        (*n)++;
    return NULL;
}

/* Busy on every CPU until killed: the test checks the host stays usable. */
static int p_cpu_hog(const char *arg)
{
    static unsigned long counters[64];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t t;
    (void)arg;
    if (ncpu < 1 || ncpu > 32)
        ncpu = 4;
    for (long i = 1; i < ncpu * 2; i++)
        pthread_create(&t, NULL, spin, &counters[i]);
    printf("cpu-hog: spinning on %ld threads\n", ncpu * 2);
    fflush(stdout);
    spin(&counters[0]);
    return 0;
}

/* Allocates and touches memory without end: the test gives a limit. */
static int p_memory_hog(const char *arg)
{
    size_t total = 0;
    (void)arg;
    for (;;) {
        char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("memory-hog: refused: mmap failed after %zu MiB: %s\n", total >> 20,
                   ename(errno));
            return 0;
        }
        memset(p, 1, 16 << 20);
        total += 16 << 20;
    }
}

static const struct probe probes[] = {
    { "tiocsti", "inject input into a terminal (TIOCSTI)", p_tiocsti, false, true },
    { "tiocsti-high-bits", "TIOCSTI with the upper 32 bits set (CVE-2019-10063)", p_tiocsti_high,
      false, true },
    { "tioclinux", "TIOCLINUX (console selection paste)", p_tioclinux, false, true },
    { "io_uring", "io_uring_setup", p_io_uring, false, true },
    { "userfaultfd", "userfaultfd", p_userfaultfd, false, true },
    { "perf_event_open", "perf_event_open", p_perf, false, true },
    { "bpf", "bpf map creation", p_bpf, false, true },
    { "keyctl", "keyrings: read the host's session keyring, add and request keys", p_keyctl, false,
      true },
    { "ptrace", "ptrace, process_vm_readv and /proc/1/mem on pid 1", p_ptrace_init, false, true },
    { "peers", "see or trace another guest or a host process", p_peers, false, true },
    { "signal-host", "signal a host process by its pid", p_signal_host, false, false },
    { "unshare", "unshare every kind of namespace", p_unshare, false, true },
    { "clone-ns", "clone and clone3 with namespace flags", p_clone_ns, false, true },
    { "setns", "setns into a namespace", p_setns, false, true },
    { "mount", "mount, umount, pivot_root, open_tree, move_mount, fsopen, fspick, mount_setattr",
      p_mount, false, true },
    { "kexec", "kexec_load, kexec_file_load", p_kexec, false, true },
    { "modules", "init_module, finit_module, delete_module", p_modules, false, true },
    { "reboot", "reboot", p_reboot, false, true },
    { "admin",
      "sethostname, setdomainname, clock_settime, settimeofday, swapon, acct, quotactl, syslog",
      p_admin, false, true },
    { "personality", "personality(READ_IMPLIES_EXEC)", p_personality, false, true },
    { "modify_ldt", "modify_ldt", p_modify_ldt, false, true },
    /* Not in "all": a call the sandbox's filter kills ends the whole
     * guest, the battery included (as a denial: tested one by one). */
    { "int80", "a syscall through int 0x80 (i386 ABI)", p_int80, true, false },
    { "x32", "a syscall through the x32 bit", p_x32, true, false },
    { "privs", "capabilities, uid 0, no_new_privs off", p_privs, false, true },
    { "setuid", "a setuid-root binary gaining root", p_setuid, false, true },
    { "fds", "a host fd inherited across the spawn", p_fds, false, true },
    { "exe", "/proc/1/exe and /proc/self/exe leading to the host's binary", p_exe, false, true },
    { "host-files", "host files outside the view: /etc/shadow, /root, /home, the host's /proc",
      p_host_files, false, true },
    { "readonly", "writing through read-only binds, /proc/sys, device nodes", p_readonly, false,
      true },
    { "net", "egress over TCP, UDP, raw, packet and vsock sockets", p_net, false, true },
    { "abstract-unix", "connect to a host abstract unix socket", p_abstract, false, false },
    { "cpu-hog", "spin on every CPU (the test checks the host)", p_cpu_hog, false, false },
    { "memory-hog", "allocate without end (the test sets a limit)", p_memory_hog, false, false },
};

#define NPROBES (sizeof(probes) / sizeof(probes[0]))

/* The i-th probe of both tables: these, then those of escape-self.c. */
static const struct probe *nth(size_t i)
{
    if (i < NPROBES)
        return &probes[i];
    i -= NPROBES;
    return i < self_probe_count ? &self_probes[i] : NULL;
}

static const struct probe *find(const char *name)
{
    const struct probe *p;
    for (size_t i = 0; (p = nth(i)); i++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

/* One probe in a child: a probe that is killed by the filter (SIGSYS) was
 * refused if that is how it should be refused. */
static int run_child(const struct probe *p, const char *arg)
{
    pid_t pid;
    int st;

    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 2;
    if (pid == 0)
        _exit(p->fn(arg));
    if (waitpid(pid, &st, 0) != pid)
        return 2;
    if (WIFSIGNALED(st)) {
        if (p->killed && WTERMSIG(st) == SIGSYS) {
            printf("%s: refused: killed by the syscall filter (SIGSYS)\n", p->name);
            return 0;
        }
        printf("%s: could not run: died of signal %d\n", p->name, WTERMSIG(st));
        return 2;
    }
    return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
    const struct probe *p;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "list")) {
        for (size_t i = 0; (p = nth(i)); i++)
            printf("%-18s %s\n", p->name, p->what);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "all")) {
        int refused = 0, total = 0;
        for (size_t i = 0; (p = nth(i)); i++) {
            if (!p->in_all)
                continue;
            total++;
            refused += run_child(p, NULL) == 0;
        }
        printf("refused %d/%d\n", refused, total);
        return refused == total ? 0 : 1;
    }
    if (argc < 2 || !(p = find(argv[1]))) {
        fprintf(stderr, "usage: escape list | all | NAME [ARG]\n");
        return 2;
    }
    return p->fn(argc > 2 ? argv[2] : NULL);
}
