/* SPDX-License-Identifier: MIT */
/*
 * contain.h: the containment steps of the sandbox's first process
 * (contain.c), in the order child.c takes them, and the one way they report
 * a failure (child.c).
 */
#ifndef SBVM_BACKEND_PROCESS_CONTAIN_H
#define SBVM_BACKEND_PROCESS_CONTAIN_H

#include <stdint.h>

#include "backend/process/child.h"

/* Reports {stage, errno, index} to the supervisor and ends the process. */
_Noreturn void child_fail(uint16_t stage, int err, int index);
/* The status socket, where failures are reported, is now at fd. */
void child_status_at(int fd);

/* Its descriptors into the FD_* slots of proto.h; every other one closed. */
void contain_fds(const struct child_args *a);
/* The view (pid 1): mounts, the plan, the host name, pivot_root, IPC. */
void contain_view(const struct child_args *a);
/* A container's sysctls (pid 1, once in the container's network namespace). */
void contain_sysctls(const struct child_args *a);
/* Loopback up in a new network namespace (the guest process). */
void contain_loopback(void);
/* The guest's ids (as root), no capabilities, securebits locked. */
void contain_privileges(const struct child_args *a);
/* no_new_privs and the guest's filters; the init's own filter. */
void contain_filters(const struct child_args *a);
void contain_init_filter(const struct child_args *a);

#endif
