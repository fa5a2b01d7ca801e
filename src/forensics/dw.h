/* SPDX-License-Identifier: MIT */
/*
 * dw.h: elfutils' libdwfl, loaded on first use.
 *
 * Symbolising a backtrace needs libdw, a large library; linking it makes
 * every sandboxvm process start slower (about 0.1 ms, 2% of a sandbox's
 * start), to serve only the runs that crash. So it is opened with dlopen()
 * the first time a crash is analysed. When it is missing, crashes are still
 * reported with registers, instruction bytes and mappings, without names.
 */
#ifndef SBVM_FORENSICS_DW_H
#define SBVM_FORENSICS_DW_H

#include <elfutils/libdwfl.h>

#define DW_FUNCS(X)                                                                                \
    X(dwfl_begin)                                                                                  \
    X(dwfl_end)                                                                                    \
    X(dwfl_errmsg)                                                                                 \
    X(dwfl_report_begin)                                                                           \
    X(dwfl_report_end)                                                                             \
    X(dwfl_linux_proc_maps_report)                                                                 \
    X(dwfl_attach_state)                                                                           \
    X(dwfl_getthread_frames)                                                                       \
    X(dwfl_frame_pc)                                                                               \
    X(dwfl_frame_thread)                                                                           \
    X(dwfl_thread_dwfl)                                                                            \
    X(dwfl_thread_state_registers)                                                                 \
    X(dwfl_addrmodule)                                                                             \
    X(dwfl_module_info)                                                                            \
    X(dwfl_module_addrinfo)                                                                        \
    X(dwfl_module_getsrc)                                                                          \
    X(dwfl_lineinfo)                                                                               \
    X(dwfl_standard_find_debuginfo)

struct dw_api {
#define DW_FIELD(f) __typeof__(f) *f;
    DW_FUNCS(DW_FIELD)
#undef DW_FIELD
};

/* The loaded library, or NULL with *why saying what failed (static). */
const struct dw_api *dw_load(const char **why);

#endif
