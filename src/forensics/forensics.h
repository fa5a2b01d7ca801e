/* SPDX-License-Identifier: MIT */
/*
 * forensics.h: turning what a sandbox's init captured about a dying process
 * (signal details, registers, instruction bytes, a stack snapshot, the
 * memory map) into an explanation: the meaning of the si_code, the mappings
 * holding the pc and the fault address, and a symbolised backtrace
 * (elfutils libdwfl, unwinding over the snapshot).
 *
 * All input here was produced inside the sandbox from memory the guest
 * controls: every length, offset and string is checked, and only files the
 * view shares with the host (system directories, vetted program files) are
 * ever opened for symbols.
 */
#ifndef SBVM_FORENSICS_FORENSICS_H
#define SBVM_FORENSICS_FORENSICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/process/proto.h"
#include "sandboxvm/sandboxvm.h"
#include "util/strv.h"

#define CRASH_FRAMES_MAX 64

struct sbvm_crash {
    struct proc_fault raw;
    char comm[17];
    bool is_guest; /* its job's first process (inline: pid 2), not a child of it */
    /* Reassembly of the chunks that follow the fault record. */
    char *maps;
    size_t maps_got;
    unsigned char *stack;
    size_t stack_got;
    /* Results of analysis. */
    struct sbvm_mapping *mappings;
    size_t nmappings;
    const struct sbvm_mapping *pc_map, *addr_map;
    struct sbvm_frame frames[CRASH_FRAMES_MAX];
    size_t nframes;
    struct strv strings; /* owns every string the frames point at */
    char *summary;
    char *unwind_error;
};

/* Starts a crash from its fault record (already validated for size). */
struct sbvm_crash *crash_new(const struct proc_fault *f);
void crash_free(struct sbvm_crash *c);
/* Adds a chunk; false when it does not fit what the fault record announced. */
bool crash_add_chunk(struct sbvm_crash *c, const struct proc_chunk *h, const void *data);
/*
 * Parses the maps, finds the mappings of the pc and the address, and, when
 * `symbolize`, unwinds the stack. `open_module` opens a module's file as the
 * guest saw it, or returns -1 (it may be NULL: the system directories only).
 * Never fails as a whole: what cannot be worked out is left empty and
 * explained in unwind_error.
 */
typedef int (*crash_open_fn)(const char *path, void *ctx);
void crash_analyse(struct sbvm_crash *c, bool symbolize, crash_open_fn open_module, void *ctx);

/* si_code in words for a signal: "SEGV_MAPERR", "address not mapped to
 * object". Never NULL. */
const char *siginfo_code_name(int signo, int code);
const char *siginfo_code_text(int signo, int code);
/* Whether si_addr means a faulting address for this signal and code. */
bool siginfo_has_address(int signo, int code);

/* Register names in proc_fault.regs order (x86_64 user_regs_struct). */
extern const char *const crash_register_names[PROC_NREGS];
#define CRASH_REG_RIP 16

/* Parses /proc/<pid>/maps text into mappings; at most `max`. Lines that do
 * not parse are skipped. Strings point into a copy owned by `owner`. */
size_t maps_parse(const char *text, size_t len, struct sbvm_mapping *out, size_t max,
                  struct strv *owner);
const struct sbvm_mapping *maps_find(const struct sbvm_mapping *m, size_t n, uint64_t addr);

#endif
