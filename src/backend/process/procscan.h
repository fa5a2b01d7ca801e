/* SPDX-License-Identifier: MIT */
/*
 * procscan.h: counting what a running sandbox holds, through its own /proc
 * (reached from the sandbox's root, never the host's), for the limits that
 * rlimits enforce but do not count: processes, open files, CPU time.
 *
 * Everything read is written by the guest's processes or about them, so it
 * is parsed defensively: a process may vanish at any moment, and a command
 * name may contain spaces and parentheses.
 */
#ifndef SBVM_BACKEND_PROCESS_PROCSCAN_H
#define SBVM_BACKEND_PROCESS_PROCSCAN_H

#include <stdbool.h>
#include <stdint.h>

/* Processes in the sandbox, its init included; 0 when unknown. */
uint64_t procscan_count(int rootfd);
/* The most open fds any one process of the sandbox holds. */
uint64_t procscan_max_fds(int rootfd);
/* CPU time in ms of the processes alive now plus every process they (and
 * the init) have waited for: the whole sandbox's CPU so far. */
uint64_t procscan_cpu_ms(int rootfd);
/* The same, and, when peak_bytes is given, the largest peak resident size
 * (VmHWM) of the processes alive now but the init, in one walk of /proc. */
void procscan_usage(int rootfd, uint64_t *cpu_ms, uint64_t *peak_bytes);
/* The same, user and system time apart. */
void procscan_usage_split(int rootfd, uint64_t *user_ms, uint64_t *sys_ms, uint64_t *peak_bytes);
/* CPU time in clock ticks from the text of a /proc/PID/stat: user and
 * system, its own plus its waited-for children's; false when it does not
 * parse. */
bool procscan_parse_stat(const char *text, uint64_t *ticks);
/* Fields first..last (1-based, as proc(5) numbers them, first >= 3) of the
 * text of a /proc/PID/stat, into out; false when it does not parse. */
bool procscan_stat_fields(const char *text, int first, int last, uint64_t *out);

#endif
