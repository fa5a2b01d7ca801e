/* SPDX-License-Identifier: MIT */
/* unit.h: the unit suites, one per subsystem, collected by test-main.c. */
#ifndef SBVM_TESTS_UNIT_H
#define SBVM_TESTS_UNIT_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>

Suite *suite_util(void);
Suite *suite_config(void);
Suite *suite_env(void);
Suite *suite_program(void);
Suite *suite_fsplan(void);
Suite *suite_seccomp(void);
Suite *suite_capture(void);
Suite *suite_escape(void);
Suite *suite_result(void);
Suite *suite_runner(void);
Suite *suite_report(void);
Suite *suite_forensics(void);
Suite *suite_procscan(void);
Suite *suite_net(void);
Suite *suite_tls(void);
Suite *suite_sandbox(void);
Suite *suite_shm(void);
Suite *suite_shm_hostile(void);
Suite *suite_shm_threads(void);
Suite *suite_server(void);
Suite *suite_devices(void);
Suite *suite_devices_hostile(void);
Suite *suite_devices_vhost(void);
Suite *suite_devices_host(void);
Suite *suite_oci(void);
Suite *suite_calls(void);
Suite *suite_calls_libs(void);
Suite *suite_calls_threads(void);

/* Where the built guest fixtures are (SBVM_GUESTS, else build/tests/guests). */
const char *unit_guest_dir(void);
/* A fresh private temp directory for a test; removed by unit_rmtree. */
char *unit_tmpdir(void);
void unit_rmtree(const char *dir);
/* Writes a file with mode; aborts the test on failure. */
void unit_write_file(const char *path, const void *data, size_t len, unsigned mode);
/* How many fds this process holds. */
int unit_count_fds(void);
/* Mounts in our namespace that name a sandbox or a unit test's directory:
 * the library mounts nothing here, and other programs' mounts, made while
 * the test runs, must not count. */
int unit_count_mounts(void);
/* Whether this host's kernel runs syscalls through int 0x80 from 64-bit
 * code (IA-32 emulation on); 0 when it faults instead. */
int unit_host_allows_int80(void);
/* Prints a skip notice (Check has no skip API; the test then passes). */
void unit_skip(const char *test, const char *why);

#endif
