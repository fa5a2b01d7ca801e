/* SPDX-License-Identifier: MIT */
/*
 * proto.h: what the host (src/calls) and a library worker
 * (src/calls/worker) say to each other over the worker's host channel.
 *
 * The host adds two rings before the worker starts: requests go to the
 * worker in ring CALLS_RING_REQ, one reply per request comes back in
 * CALLS_RING_REP, in order. Buffers never travel in messages: they sit in
 * the worker's *arena*, a region of the window the worker obtained
 * (OP_ARENA), named by offsets into it. Worker memory (what a function
 * returned, what OP_ALLOC made) travels as raw pointer values that the host
 * keeps behind opaque handles and never dereferences.
 *
 * The worker trusts the host (it is its own host channel); the host trusts
 * nothing the worker sends: every reply is copied out, its size, op and
 * sequence number checked, before any field is used.
 *
 * Shared with the worker, a separate program: fixed-width types only.
 */
#ifndef SBVM_CALLS_PROTO_H
#define SBVM_CALLS_PROTO_H

#include <stdint.h>

#define CALLS_RING_REQ   0
#define CALLS_RING_REP   1
#define CALLS_RING_BYTES (64 * 1024)
#define CALLS_MSG_MAX    (8 * 1024)

/* A function's arguments as the x86_64 SysV ABI passes them: six of the
 * integer class (integers, pointers, buffers, handles) and eight
 * floating-point ones in registers, and the rest, in order, in eight-byte
 * stack slots. */
#define CALLS_INT_ARGS   6
#define CALLS_FP_ARGS    8
#define CALLS_STACK_ARGS 8
#define CALLS_ARGS_MAX   16

#define CALLS_SYM_NAME_MAX 255
#define CALLS_SYMS_MAX     4096

/* The READY message's text (dlopen's error), at most. */
#define CALLS_TEXT_MAX 1024

enum calls_op {
    OP_READY = 1, /* worker -> host, unasked: loaded (status 0) or why not; a = its pid */
    OP_SYM,       /* a = symbol number, b = name length; the name follows */
    OP_CALL,      /* struct calls_call; reply a = rax, b = xmm0 */
    OP_ARENA,     /* a = bytes wanted; reply a = window offset, b = size */
    OP_ALLOC,     /* a = bytes; reply a = pointer (0: out of memory) */
    OP_FREE,      /* a = pointer (from OP_ALLOC) */
    OP_READ,      /* worker memory to arena: a = pointer, b = bytes, c = arena offset */
    OP_WRITE,     /* arena to worker memory: the same */
    OP_POKE,      /* stores pointer b at address a (8 bytes) */
};

struct calls_req {
    uint32_t op;
    uint32_t seq;
    uint64_t a, b, c;
};

enum calls_arg_kind {
    ARG_INT = 1, /* a: the value, extended to 64 bits by the host */
    ARG_FP,      /* a: the bits of a double (or a float's in the low 32) */
    ARG_BUF,     /* a: arena offset, b: bytes; passed as its address */
    ARG_BUF_OUT, /* the same, zeroed before the call */
    ARG_PTR,     /* a: a pointer value of the worker's */
};

struct calls_arg {
    uint32_t kind;
    uint32_t pad;
    uint64_t a, b;
};

enum calls_ret {
    RET_RAX = 0, /* an integer or a pointer (or nothing) */
    RET_XMM0,    /* a double or a float */
};

struct calls_call {
    uint32_t op; /* OP_CALL */
    uint32_t seq;
    uint32_t sym;
    uint16_t nargs;
    uint8_t ret; /* enum calls_ret */
    uint8_t pad;
    struct calls_arg args[CALLS_ARGS_MAX];
};

struct calls_rep {
    uint32_t op; /* the request's */
    uint32_t seq;
    int32_t status; /* 0, or -errno */
    uint32_t len;   /* text bytes that follow (OP_READY, a failed OP_SYM) */
    uint64_t a, b;
};

/*
 * A zygote (sbvm-worker zygote) loads the library once and forks workers.
 * It talks to the host over its own SOCK_SEQPACKET socket (fd 3), one
 * struct calls_zmsg per message: ZOP_FORK comes with the new worker's
 * channel (SCM_RIGHTS) and is answered by ZOP_FORKED; ZOP_READY (with the
 * loader's words on failure) and ZOP_EXIT come unasked.
 */
enum calls_zop {
    ZOP_READY = 1, /* zygote -> host: a = 0 or -errno, then text */
    ZOP_FORK,      /* host -> zygote: seq, with one fd */
    ZOP_FORKED,    /* zygote -> host: seq; a = the worker's pid, or -errno */
    ZOP_EXIT,      /* zygote -> host: a = a worker's pid, b = its wait status */
};

struct calls_zmsg {
    uint32_t op;
    uint32_t seq;
    int32_t a, b;
};

#endif
