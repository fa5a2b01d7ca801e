/* SPDX-License-Identifier: MIT */
/* init.h: the sandbox's pid 1 and a live sandbox's exec server (pid 2),
 * callable in-process as fallbacks. */
#ifndef SBVM_BACKEND_PROCESS_INIT_H
#define SBVM_BACKEND_PROCESS_INIT_H

/* Runs pid 1's loop for guest `pid`, reporting on `status_fd`; `flags` are
 * INIT_FLAG_* (proto.h). Never returns. Raw system calls only. */
_Noreturn void init_run(int status_fd, int pid, int flags);

/* Runs the exec server's loop on FD_SPAWN (spawner.c). Never returns. */
_Noreturn void spawner_run(void);

#endif
