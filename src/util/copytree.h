/* SPDX-License-Identifier: MIT */
/*
 * copytree.h: copying files and trees between two directory fds, where one
 * side belongs to a guest. Nothing is ever followed: a symlink is copied as
 * a symlink (its text), a directory is entered only as itself, devices,
 * FIFOs and sockets are skipped, and what is created is created exclusively
 * (O_EXCL), so neither side can redirect the copy. Bounded in bytes and
 * depth; a sparse file's holes stay holes (only its data is written and
 * counted), and no set-uid or set-gid bit is copied.
 */
#ifndef SBVM_UTIL_COPYTREE_H
#define SBVM_UTIL_COPYTREE_H

#include <stdint.h>
#include <sys/types.h>

#define COPYTREE_DEPTH_MAX 64

struct copy_limits {
    uint64_t budget; /* bytes of file content left to copy */
    uint64_t total;  /* the budget at the start: no single file may be larger */
    uid_t uid;       /* owner for what is created, or (uid_t)-1 to leave it */
    gid_t gid;
};

/* Copies the entry `name` of directory sdir (a file, a symlink or a
 * directory tree) to `dname` in directory ddir, which must not exist.
 * 0, or a negative errno (-EFBIG when the budget ran out, -ELOOP when too
 * deep, -EINVAL for an entry that is neither). */
int copy_entry_at(int sdir, const char *name, int ddir, const char *dname, struct copy_limits *l);

/* Copies the contents of directory sdir into the existing directory ddir. */
int copy_contents_at(int sdir, int ddir, struct copy_limits *l);

#endif
