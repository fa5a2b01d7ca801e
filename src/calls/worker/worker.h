/* SPDX-License-Identifier: MIT */
/* worker.h: the library worker's parts (worker.c serves, filter.c confines). */
#ifndef SBVM_CALLS_WORKER_WORKER_H
#define SBVM_CALLS_WORKER_WORKER_H

#include <stdbool.h>

/*
 * Installs the worker's own filter on top of the sandbox's: no exec, no
 * new sockets, no file opened for writing or changed, no other process
 * signalled or forked (the zygote keeps fork and its signals; each worker
 * it forks adds the rest). 0 or -errno.
 */
int worker_filter(bool zygote);

#endif
