/* SPDX-License-Identifier: MIT */
/* userns.c: uid/gid maps for the sandbox and diagnosis of restricted hosts. */
#include "backend/process/userns.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/util.h"

#define NOBODY 65534

void userns_guest_ids(struct guest_ids *ids)
{
    uid_t euid = geteuid();

    if (euid == 0) {
        /* Root's guests never run as root: a guest that got out of its
         * namespaces would hold no more than "nobody" does. */
        ids->uid = NOBODY;
        ids->gid = NOBODY;
        ids->host_root = true;
    } else {
        ids->uid = euid;
        ids->gid = getegid();
        ids->host_root = false;
    }
}

static int write_at(int dirfd, const char *name, const char *text)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    return write_full(fd, text, strlen(text));
}

int userns_write_maps(pid_t pid, int pidfd, const struct guest_ids *ids, const char **what)
{
    char umap[96], gmap[96];

    if (ids->host_root) {
        /* Host root maps itself (it builds the sandbox as root-inside) and
         * the guest's unprivileged ids. Only a privileged writer may map
         * more than its own ids. */
        snprintf(umap, sizeof(umap), "0 0 1\n%u %u 1\n", (unsigned)ids->uid, (unsigned)ids->uid);
        snprintf(gmap, sizeof(gmap), "0 0 1\n%u %u 1\n", (unsigned)ids->gid, (unsigned)ids->gid);
    } else {
        /* An unprivileged writer may map exactly its own ids. */
        snprintf(umap, sizeof(umap), "%u %u 1\n", (unsigned)ids->uid, (unsigned)ids->uid);
        snprintf(gmap, sizeof(gmap), "%u %u 1\n", (unsigned)ids->gid, (unsigned)ids->gid);
    }
    return userns_write_given_maps(pid, pidfd, umap, gmap, ids->host_root, what);
}

int userns_write_given_maps(pid_t pid, int pidfd, const char *uid_map, const char *gid_map,
                            bool privileged, const char **what)
{
    _cleanup_close_ int dirfd = -1;
    char path[64];
    int r;

    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *what = "/proc/<child>";
    if (dirfd < 0)
        return -errno;
    /* The directory could belong to a recycled pid if the child had died;
     * the pidfd says whether our child is still the one behind it. */
    if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
        return -errno;
    if (!privileged) {
        /* An unprivileged writer must give up setgroups before it may
         * write a gid map (CVE-2014-8989). */
        *what = "setgroups";
        r = write_at(dirfd, "setgroups", "deny");
        if (r < 0 && r != -ENOENT)
            return r;
    }
    *what = "uid_map";
    r = write_at(dirfd, "uid_map", uid_map);
    if (r < 0)
        return r;
    *what = "gid_map";
    return write_at(dirfd, "gid_map", gid_map);
}

static long read_sysctl(const char *path)
{
    char buf[32];
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    long n;

    if (fd < 0)
        return -1;
    n = read_full(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

const char *userns_restriction_hint(void)
{
    if (read_sysctl("/proc/sys/user/max_user_namespaces") == 0)
        return "user namespaces are disabled on this host (user.max_user_namespaces = 0); "
               "allow them with: sudo sysctl -w user.max_user_namespaces=15000";
    if (geteuid() == 0)
        return NULL;
    if (read_sysctl("/proc/sys/kernel/unprivileged_userns_clone") == 0)
        return "unprivileged user namespaces are disabled "
               "(kernel.unprivileged_userns_clone = 0); allow them with: "
               "sudo sysctl -w kernel.unprivileged_userns_clone=1, or run sandboxvm as root";
    if (read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1)
        return "AppArmor restricts unprivileged user namespaces "
               "(kernel.apparmor_restrict_unprivileged_userns = 1, the Ubuntu default); "
               "allow them with: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, "
               "or give sandboxvm an AppArmor profile with the 'userns' permission "
               "(see docs/INSTALL.md), or run it as root";
    return NULL;
}
