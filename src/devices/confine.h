/* SPDX-License-Identifier: MIT */
/*
 * confine.h: the sandbox a device back-end serves from. A device model
 * parses memory a guest's driver controls and messages a client sends: if
 * either finds a bug in it, what it reaches is this, and no more:
 *
 *  - its own user, mount, network, IPC, UTS and cgroup namespaces; as root,
 *    the host's "nobody" (65534), as anyone else, themselves, with every
 *    capability dropped (bounding set too) and no_new_privs;
 *  - an empty, read-only root (a tmpfs it pivoted into): no path leads
 *    anywhere, no /proc, no /dev;
 *  - only the descriptors it was given (the socket, the images, the trace,
 *    its log), at most CONFINE_NOFILE of them;
 *  - a system-call allowlist of what serving needs (reads and writes,
 *    messages with descriptors, epoll, mapping without PROT_EXEC, sync and
 *    fallocate); opening a file fails with EACCES; anything else stops the
 *    process with SIGSYS after it names the call on its log.
 */
#ifndef SBVM_DEVICES_CONFINE_H
#define SBVM_DEVICES_CONFINE_H

#include <stddef.h>

#define CONFINE_NOFILE 128

/*
 * Confines the calling process (single-threaded, just forked) for good,
 * keeping the fds in keep[] open and closing every other one. log_fd (one
 * of keep, or -1) is where the refused-call handler writes. 0, or -errno
 * with `why` saying which step failed.
 */
int confine_enter(const int *keep, unsigned nkeep, int log_fd, char *why, size_t whylen);

#endif
