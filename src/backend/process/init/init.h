/* SPDX-License-Identifier: MIT */
/* init.h: the sandbox's pid 1, callable in-process as a fallback. */
#ifndef SBVM_BACKEND_PROCESS_INIT_H
#define SBVM_BACKEND_PROCESS_INIT_H

/* Runs pid 1's loop for guest `pid`, reporting on `status_fd`; `flags` are
 * INIT_FLAG_* (proto.h). Never returns. Raw system calls only. */
_Noreturn void init_run(int status_fd, int pid, int flags);

#endif
