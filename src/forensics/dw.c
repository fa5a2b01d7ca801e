/* SPDX-License-Identifier: MIT */
/* dw.c: loading libdw on first use. */
#include "forensics/dw.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

static struct dw_api api;
static const char *load_error;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);

    if (!h) {
        load_error = "libdw.so.1 (elfutils) is not installed: backtraces have no symbols";
        return;
    }
#define DW_LOAD(f)                                                                                 \
    if (!(api.f = (__typeof__(f) *)dlsym(h, #f))) {                                                \
        load_error = "libdw.so.1 lacks " #f ": backtraces have no symbols";                        \
        return;                                                                                    \
    }
    DW_FUNCS(DW_LOAD)
#undef DW_LOAD
}

const struct dw_api *dw_load(const char **why)
{
    pthread_once(&once, load);
    if (load_error) {
        if (why)
            *why = load_error;
        return NULL;
    }
    return &api;
}
