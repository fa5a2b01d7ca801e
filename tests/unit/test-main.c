/* SPDX-License-Identifier: MIT */
/*
 * test-main.c: runs every unit suite in one Check runner, each test in its
 * own forked process, so tests may unshare, install filters or crash.
 * TAP output: CK_TAP_LOG_FILE_NAME=- CK_VERBOSITY=silent.
 */
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/tlsmod.h"
#include "unit.h"

const char *unit_guest_dir(void)
{
    const char *d = getenv("SBVM_GUESTS");
    return d && *d ? d : "build/tests/guests";
}

char *unit_tmpdir(void)
{
    char tmpl[] = "/tmp/sbvm-unit-XXXXXX";
    char *d = mkdtemp(tmpl);

    ck_assert_msg(d != NULL, "mkdtemp: %s", strerror(errno));
    return strdup(d);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int unit_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static int unreadable;

/* Directories a test (or the kernel: an overlay's work directory is mode 0)
 * left closed are opened up for their owner, so that they can be removed. */
static int open_up(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_DNR)
        unreadable = 1;
    if ((flag == FTW_D || flag == FTW_DNR) && (st->st_mode & 0700) != 0700)
        chmod(path, 0700);
    return 0;
}

void unit_rmtree(const char *dir)
{
    if (!dir)
        return;
    for (int i = 0; i < 16; i++) {
        unreadable = 0;
        nftw(dir, open_up, 16, FTW_PHYS);
        if (!unreadable)
            break;
    }
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void unit_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
    FILE *f = fopen(path, "w");

    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

int unit_count_mounts(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    int n = 0;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, "sbvm") || strstr(line, "sandboxvm");
    fclose(f);
    return n;
}

int unit_host_allows_int80(void)
{
#if defined(__x86_64__)
    pid_t pid = fork();
    int st;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        long ret;
        /* The kernel's own answer, not a sanitizer's handler (ASan turns
         * the SIGSEGV into an abort). */
        signal(SIGSEGV, SIG_DFL);
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
        _exit(ret > 0 ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)
        return 0;
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "int 0x80 probe: status 0x%x", st);
    return 1;
#else
    return 0;
#endif
}

void unit_skip(const char *test, const char *why)
{
    fprintf(stderr, "# SKIP %s: %s\n", test, why);
}

/* The TLS module (src/net/tlsmod.h) is at the build's root, two levels up. */
static void tls_module_hint(void)
{
    static char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 8);
    char *slash;

    if (n <= 0)
        return;
    dir[n] = '\0';
    if ((slash = strrchr(dir, '/'))) {
        strcpy(slash, "/../..");
        net_tls_module_hint(dir);
    }
}

int main(void)
{
    Suite *(*const suites[])(void) = {
        suite_util,          suite_config,       suite_env,           suite_program,
        suite_fsplan,        suite_seccomp,      suite_capture,       suite_escape,
        suite_result,        suite_runner,       suite_report,        suite_forensics,
        suite_procscan,      suite_net,          suite_sandbox,       suite_shm,
        suite_shm_hostile,   suite_shm_threads,  suite_devices,       suite_devices_hostile,
        suite_devices_vhost, suite_devices_host, suite_tls,           suite_oci,
        suite_calls,         suite_calls_libs,   suite_calls_threads, suite_server,
    };
    SRunner *sr;
    int failed;

    tls_module_hint();
    sr = srunner_create(NULL);

    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
