/* SPDX-License-Identifier: MIT */
/*
 * program.h: deciding, on the host and before anything is cloned, what a
 * guest's command line will execute.
 *
 * The resolver finds the program (a path, or a bare name searched in the
 * guest's PATH among the directories the guest can see), refuses what the
 * guest could not run (directories, files that are neither a native ELF nor
 * a #! script, ELF files for another machine, unreadable files) with a
 * one-line reason, and lists every file the sandbox view must expose for the
 * exec to work: the program itself and its interpreter chain (script
 * interpreters and ELF PT_INTERP loaders), when they live outside the system
 * directories. Each such file is held open (O_PATH) so the view binds exactly
 * the file that was checked, not whatever the path names later.
 */
#ifndef SBVM_POLICY_PROGRAM_H
#define SBVM_POLICY_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "sandboxvm/sandboxvm.h"

#define PROGRAM_MAX_BINDS 8

struct program_bind {
    char *path; /* absolute path inside the sandbox */
    char *src;  /* canonical host path of the file */
    int fd;     /* O_PATH|O_CLOEXEC fd of the checked file */
    bool dir;   /* a directory the program needs (a venv), shown read-only */
};

struct program {
    char *exec_path; /* canonical absolute path to execve() inside the guest */
    /* What the guest's argv[0] becomes, or NULL: as given. A relative path
     * ("./tool") would name nothing from the guest's working directory, so
     * it becomes absolute (its directory resolved, its name kept), and a
     * program that runs itself again by argv[0] finds itself. */
    char *argv0;
    /* A text file without #!: it runs as a shell or execvp would run it,
     * /bin/sh reading it (exec /bin/sh with argv "/bin/sh", the script's
     * path, its arguments). */
    bool sh_script;
    struct program_bind binds[PROGRAM_MAX_BINDS];
    size_t nbinds;
};

/*
 * Failure details when resolution refuses the program: the outcome it maps to
 * (NOT_FOUND or NOT_EXECUTABLE, or SETUP_FAILED for our own errors), the errno
 * that best describes it, and a message naming the program and the reason.
 */
struct program_failure {
    enum sbvm_outcome outcome;
    int err;
    char *message;
};

/*
 * What a program needs to be itself is checked too: the libraries its
 * RUNPATH (or RPATH) finds next to it must be visible, or the loader would
 * silently take another copy (the run is refused, naming the --ro that
 * shows them: which directories a binary names is its author's choice, and
 * it is not ours to show the host's); a Python virtual environment's
 * interpreter gets its environment's directory, read-only (refused when
 * that would be the home directory or above it), and its base interpreter
 * must be visible.
 *
 * Resolves argv0 against `path_env` (the guest's PATH; may be NULL) and the
 * caller's working directory. Returns 0 and fills `prog`, or a negative errno
 * and fills `fail` (which the caller releases).
 */
int program_resolve(const char *argv0, const char *path_env, struct program *prog,
                    struct program_failure *fail);

/* A mount of the guest's view: a host file or directory (src, canonical;
 * fd, its O_PATH descriptor, or -1 to open src) at dst, or nothing (src
 * NULL: a fresh tmpfs, a hidden path). */
struct program_mount {
    const char *dst;
    const char *src;
    int fd;
};

/* What the guest will see, for looking its program up the way it will:
 * its mounts in the order given (a later one covers an earlier one), over
 * either a --rootfs tree (rootfd, an O_PATH fd of its top) or, with rootfd
 * -1, the default view (the host's system directories, and binds made for
 * the program's own files). */
struct program_view {
    const struct program_mount *mounts;
    size_t nmounts;
    int rootfd;
};

/* program_resolve in a view. A file in a mount or the rootfs is looked up
 * with openat2 the way the guest's kernel will (symlinks within the mount,
 * or within the tree), needs no bind, and is executed by the path given. */
int program_resolve_view(const struct program_view *view, const char *argv0, const char *path_env,
                         struct program *prog, struct program_failure *fail);
/* Opens `path` (absolute in the guest) as the view shows it, with openat2
 * `flags`, when it lies in a mount or the rootfs: an fd or a negative errno.
 * -EREMOTE: it is in the default view, a host path the caller judges. */
int program_view_open(const struct program_view *view, const char *path, int flags);
void program_release(struct program *prog);
void program_failure_release(struct program_failure *fail);

/* The host's ELF machine (EM_X86_64 here) and its name. */
int program_host_machine(void);
const char *program_machine_name(int machine);

#endif
