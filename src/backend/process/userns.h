/* SPDX-License-Identifier: MIT */
/*
 * userns.h: user namespace plumbing on the supervisor's side: the guest's
 * identity, writing a child's uid/gid maps, and explaining hosts that forbid
 * unprivileged user namespaces.
 */
#ifndef SBVM_BACKEND_PROCESS_USERNS_H
#define SBVM_BACKEND_PROCESS_USERNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "policy/fsplan.h"

/* The guest's identity for this host: the caller's own uid/gid, or, when
 * the caller is root, the unprivileged 65534 (nobody/nogroup). */
void userns_guest_ids(struct guest_ids *ids);

/* Writes setgroups, uid_map and gid_map of the child `pid` (held by
 * `pidfd`). Returns 0 or -errno; *what names the file that failed. */
int userns_write_maps(pid_t pid, int pidfd, const struct guest_ids *ids, const char **what);
/* The same with the maps given ("inside outside count" lines, an OCI
 * container's); `privileged`: the writer is root of its namespace, else
 * setgroups is denied first. */
int userns_write_given_maps(pid_t pid, int pidfd, const char *uid_map, const char *gid_map,
                            bool privileged, const char **what);

/* When the host restricts user namespaces, a sentence saying how and how to
 * allow them (static storage); NULL when nothing looks restricted. */
const char *userns_restriction_hint(void);

#endif
