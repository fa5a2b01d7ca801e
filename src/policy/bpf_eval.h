/* SPDX-License-Identifier: MIT */
/*
 * bpf_eval.h: classic BPF, as seccomp runs it, evaluated in user space.
 *
 * The sandbox's init decides what a seccomp stop means by running the
 * sandbox's own filters again on the stopped call, never by trusting the
 * stop's data: a guest may stack filters of its own, and when two filters
 * return SECCOMP_RET_TRACE the kernel reports the newest one's data, which
 * the guest chooses (docs/SECURITY.md). The same code runs on the host in
 * the unit tests, which check it against the compiled policy.
 *
 * Header-only and freestanding (the init has no libc): fixed-width types,
 * no calls. The programs are the supervisor's own (trusted); the data is a
 * guest's registers (anything). Every instruction index is bounded, every
 * load is checked, and jumps only go forward, so evaluation always ends.
 */
#ifndef SBVM_POLICY_BPF_EVAL_H
#define SBVM_POLICY_BPF_EVAL_H

#include <stdint.h>

/* The layouts of struct sock_filter and struct seccomp_data. */
struct bpf_insn_ {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};

struct seccomp_data_ {
    int32_t nr;
    uint32_t arch;
    uint64_t ip;
    uint64_t args[6];
};

#define BPF_EVAL_RET_KILL_PROCESS 0x80000000U
#define BPF_EVAL_RET_KILL_THREAD  0x00000000U
#define BPF_EVAL_RET_TRAP         0x00030000U
#define BPF_EVAL_RET_ERRNO        0x00050000U
#define BPF_EVAL_RET_USER_NOTIF   0x7fc00000U
#define BPF_EVAL_RET_TRACE        0x7ff00000U
#define BPF_EVAL_RET_LOG          0x7ffc0000U
#define BPF_EVAL_RET_ALLOW        0x7fff0000U
#define BPF_EVAL_ACTION_FULL      0xffff0000U
#define BPF_EVAL_DATA             0x0000ffffU

#define BPF_EVAL_AUDIT_ARCH_X86_64 0xc000003eU
#define BPF_EVAL_AUDIT_ARCH_I386   0x40000003U

/* Instruction classes and fields (linux/bpf_common.h). */
#define BE_CLASS(c)  ((c)&0x07)
#define BE_SIZE(c)   ((c)&0x18)
#define BE_MODE(c)   ((c)&0xe0)
#define BE_OP(c)     ((c)&0xf0)
#define BE_SRC(c)    ((c)&0x08)
#define BE_RVAL(c)   ((c)&0x18)
#define BE_MISCOP(c) ((c)&0xf8)

/*
 * One program on one call. Anything the kernel would have refused to load
 * (an unknown opcode, an out-of-range load, falling off the end) answers
 * KILL_PROCESS: for the init's purpose, "not a decision of ours to act on".
 */
static inline uint32_t bpf_eval(const struct bpf_insn_ *prog, uint32_t len,
                                const struct seccomp_data_ *d)
{
    uint32_t A = 0, X = 0, M[16] = { 0 };
    const unsigned char *data = (const unsigned char *)d;

    for (uint32_t pc = 0; pc < len; pc++) {
        const struct bpf_insn_ *in = &prog[pc];
        uint16_t c = in->code;
        uint32_t k = in->k, src;

        switch (BE_CLASS(c)) {
        case 0x00: /* BPF_LD */
        case 0x01: /* BPF_LDX */
            if (BE_MODE(c) == 0x20 && BE_CLASS(c) == 0x00 && BE_SIZE(c) == 0x00) {
                /* LD W ABS: a word of seccomp_data, aligned. */
                uint32_t w = 0;
                if (k > sizeof(*d) - 4 || (k & 3))
                    return BPF_EVAL_RET_KILL_PROCESS;
                for (int i = 3; i >= 0; i--)
                    w = (w << 8) | data[k + (uint32_t)i];
                A = w;
            } else if (BE_MODE(c) == 0x00) { /* IMM */
                if (BE_CLASS(c) == 0x00)
                    A = k;
                else
                    X = k;
            } else if (BE_MODE(c) == 0x60) { /* MEM */
                if (k >= 16)
                    return BPF_EVAL_RET_KILL_PROCESS;
                if (BE_CLASS(c) == 0x00)
                    A = M[k];
                else
                    X = M[k];
            } else if (BE_MODE(c) == 0x80) { /* LEN */
                if (BE_CLASS(c) == 0x00)
                    A = (uint32_t)sizeof(*d);
                else
                    X = (uint32_t)sizeof(*d);
            } else {
                return BPF_EVAL_RET_KILL_PROCESS;
            }
            break;
        case 0x02: /* BPF_ST */
        case 0x03: /* BPF_STX */
            if (k >= 16)
                return BPF_EVAL_RET_KILL_PROCESS;
            M[k] = BE_CLASS(c) == 0x02 ? A : X;
            break;
        case 0x04: /* BPF_ALU */
            src = BE_SRC(c) ? X : k;
            switch (BE_OP(c)) {
            case 0x00:
                A += src;
                break;
            case 0x10:
                A -= src;
                break;
            case 0x20:
                A *= src;
                break;
            case 0x30:
                if (!src)
                    return 0; /* classic BPF: division by zero returns 0 */
                A /= src;
                break;
            case 0x40:
                A |= src;
                break;
            case 0x50:
                A &= src;
                break;
            case 0x60:
                A = src < 32 ? A << src : 0;
                break;
            case 0x70:
                A = src < 32 ? A >> src : 0;
                break;
            case 0x80:
                A = 0U - A;
                break;
            case 0x90:
                if (!src)
                    return 0;
                A %= src;
                break;
            case 0xa0:
                A ^= src;
                break;
            default:
                return BPF_EVAL_RET_KILL_PROCESS;
            }
            break;
        case 0x05: { /* BPF_JMP */
            uint32_t target;
            int taken;
            src = BE_SRC(c) ? X : k;
            if (BE_OP(c) == 0x00) { /* JA */
                if (k >= len - pc)
                    return BPF_EVAL_RET_KILL_PROCESS;
                pc += k;
                break;
            }
            switch (BE_OP(c)) {
            case 0x10:
                taken = A == src;
                break;
            case 0x20:
                taken = A > src;
                break;
            case 0x30:
                taken = A >= src;
                break;
            case 0x40:
                taken = (A & src) != 0;
                break;
            default:
                return BPF_EVAL_RET_KILL_PROCESS;
            }
            target = taken ? in->jt : in->jf;
            if (target >= len - pc)
                return BPF_EVAL_RET_KILL_PROCESS;
            pc += target;
            break;
        }
        case 0x06: /* BPF_RET */
            if (BE_RVAL(c) == 0x00)
                return k;
            if (BE_RVAL(c) == 0x10)
                return A;
            return BPF_EVAL_RET_KILL_PROCESS;
        case 0x07: /* BPF_MISC */
            if (BE_MISCOP(c) == 0x00)
                X = A; /* TAX */
            else if (BE_MISCOP(c) == 0x80)
                A = X; /* TXA */
            else
                return BPF_EVAL_RET_KILL_PROCESS;
            break;
        default:
            return BPF_EVAL_RET_KILL_PROCESS;
        }
    }
    return BPF_EVAL_RET_KILL_PROCESS;
}

/*
 * Stacked filters as the kernel combines them (seccomp_run_filters): run
 * from the newest to the oldest, and keep the first answer whose action is
 * strictly more restrictive (smaller as a signed 32-bit value) than what
 * was kept so far. progs[0] is the oldest (installed first).
 */
static inline uint32_t seccomp_eval(const struct bpf_insn_ *const *progs, const uint32_t *lens,
                                    uint32_t n, const struct seccomp_data_ *d)
{
    uint32_t ret = BPF_EVAL_RET_ALLOW;

    for (uint32_t i = n; i > 0; i--) {
        uint32_t r = bpf_eval(progs[i - 1], lens[i - 1], d);
        if ((int32_t)(r & BPF_EVAL_ACTION_FULL) < (int32_t)(ret & BPF_EVAL_ACTION_FULL))
            ret = r;
    }
    return ret;
}

#endif
