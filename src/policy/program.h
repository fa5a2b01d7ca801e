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
};

struct program {
    char *exec_path; /* canonical absolute path to execve() inside the guest */
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
 * Resolves argv0 against `path_env` (the guest's PATH; may be NULL) and the
 * caller's working directory. Returns 0 and fills `prog`, or a negative errno
 * and fills `fail` (which the caller releases).
 */
int program_resolve(const char *argv0, const char *path_env, struct program *prog,
                    struct program_failure *fail);
/* The same inside a --rootfs tree opened as rootfd: the program and its
 * interpreters are looked up in it (symlinks resolved within it), and need
 * no binds. */
int program_resolve_in_root(int rootfd, const char *argv0, const char *path_env,
                            struct program *prog, struct program_failure *fail);
void program_release(struct program *prog);
void program_failure_release(struct program_failure *fail);

/* The host's ELF machine (EM_X86_64 here) and its name. */
int program_host_machine(void);
const char *program_machine_name(int machine);

#endif
