/* SPDX-License-Identifier: MIT */
/*
 * seed-records.c: writes seed inputs for fuzz-records into a directory: the
 * record sequences a real sandbox sends (a clean exit; a crash with its
 * memory map and stack; a denied call; a limit; refused-syscall counts), in
 * fuzz-records' input format, built from proto.h so that they stay valid
 * when the protocol changes.
 *
 *   seed-records DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "backend/process/proto.h"

struct seed {
    unsigned char buf[65536];
    size_t len;
};

static void put(struct seed *s, const void *p, size_t n)
{
    if (s->len + n > sizeof(s->buf))
        exit(1);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

/* One message: length prefix, header, payload. */
static void rec(struct seed *s, uint16_t kind, const void *payload, size_t n)
{
    struct proc_rec_hdr h = { PROC_REC_MAGIC, kind, (uint16_t)n };
    uint16_t len = (uint16_t)(sizeof(h) + n);

    put(s, &len, 2);
    put(s, &h, sizeof(h));
    put(s, payload, n);
}

static void chunk(struct seed *s, uint32_t seq, uint32_t which, const void *data, size_t n)
{
    unsigned char msg[PROC_PAYLOAD_MAX];
    struct proc_chunk c = { seq, which, 0, (uint32_t)n };

    memcpy(msg, &c, sizeof(c));
    memcpy(msg + sizeof(c), data, n);
    rec(s, REC_FAULT_DATA, msg, sizeof(c) + n);
}

static void save(const char *dir, const char *name, const struct seed *s)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void exit_rec(struct seed *s, int32_t code, int32_t status)
{
    struct proc_exit e;

    memset(&e, 0, sizeof(e));
    e.code = code;
    e.status = status;
    e.pid = 2; /* the guest, its own job's root */
    e.job = 2;
    e.guest.maxrss_kb = 1024;
    e.guest.utime_us = 1000;
    rec(s, REC_JOB_EXIT, &e, sizeof(e));
}

int main(int argc, char **argv)
{
    static const char maps[] =
        "555555554000-555555556000 r--p 00000000 08:01 1234 /usr/bin/true\n"
        "555555556000-55555555a000 r-xp 00002000 08:01 1234 /usr/bin/true\n"
        "7ffff7dc0000-7ffff7de6000 r--p 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7ffff7de6000-7ffff7f3b000 r-xp 00026000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]\n";
    struct proc_setup ready = { STAGE_NONE, 0, 0, 0 };
    struct proc_fault f;
    struct proc_denied d;
    struct proc_limit l;
    struct proc_holding h = { 0 };
    unsigned char stack[512];
    struct {
        uint32_t n;
        int32_t job;
        struct proc_syscall_count e[2];
    } sc = { 2, 2, { { 425, 3, 38 }, { 272, 1, 1 } } };
    struct seed s;
    unsigned char flags;

    if (argc != 2) {
        fprintf(stderr, "usage: seed-records DIR\n");
        return 2;
    }

    /* A clean exit. */
    memset(&s, 0, sizeof(s));
    flags = 0;
    put(&s, &flags, 1);
    rec(&s, REC_READY, &ready, sizeof(ready));
    exit_rec(&s, CLD_EXITED, 0);
    save(argv[1], "exit", &s);

    /* A crash, with its map and stack, symbolised. */
    memset(&s, 0, sizeof(s));
    flags = 1;
    put(&s, &flags, 1);
    rec(&s, REC_READY, &ready, sizeof(ready));
    memset(&f, 0, sizeof(f));
    f.seq = 1;
    f.job = 2;
    f.pid = 2;
    f.tid = 2;
    f.signo = 11;
    f.code = 1;
    f.addr = 0;
    f.regs[16] = 0x555555557123; /* rip */
    f.regs[19] = 0x7fffffffe000; /* rsp */
    f.regs[4] = 0x7fffffffe100;  /* rbp */
    f.code_len = 4;
    memcpy(f.code_bytes, "\xc7\x00\x01\x00", 4);
    f.stack_start = 0x7fffffffe000;
    f.stack_len = sizeof(stack);
    f.maps_len = sizeof(maps) - 1;
    memcpy(f.comm, "true", 5);
    rec(&s, REC_FAULT, &f, sizeof(f));
    chunk(&s, 1, CHUNK_MAPS, maps, sizeof(maps) - 1);
    for (size_t i = 0; i < sizeof(stack); i++)
        stack[i] = (unsigned char)(i * 7);
    chunk(&s, 1, CHUNK_STACK, stack, sizeof(stack));
    exit_rec(&s, CLD_KILLED, 11);
    save(argv[1], "crash", &s);

    /* A denied call, the sandbox held for its inventory. */
    memset(&s, 0, sizeof(s));
    flags = 0;
    put(&s, &flags, 1);
    rec(&s, REC_READY, &ready, sizeof(ready));
    memset(&d, 0, sizeof(d));
    d.pid = 3;
    d.job = 2;
    d.arch = 0xc000003e;
    d.nr = 83;
    d.args[0] = 0x7ffd0000;
    d.ip = 0x7ffff7e00000;
    rec(&s, REC_DENIED, &d, sizeof(d));
    rec(&s, REC_HOLDING, &h, sizeof(h));
    save(argv[1], "denied", &s);

    /* A limit hit by a watched call, with limits set (flag 2). */
    memset(&s, 0, sizeof(s));
    flags = 2;
    put(&s, &flags, 1);
    rec(&s, REC_READY, &ready, sizeof(ready));
    memset(&l, 0, sizeof(l));
    l.which = PROC_LIMIT_FILES;
    l.pid = 2;
    l.job = 2;
    l.nr = 257;
    l.err = 24;
    l.observed = 64;
    rec(&s, REC_LIMIT, &l, sizeof(l));
    rec(&s, REC_HOLDING, &h, sizeof(h));
    save(argv[1], "limit", &s);

    /* Refused syscalls counted, then an exit; and a setup failure. */
    memset(&s, 0, sizeof(s));
    flags = 4;
    put(&s, &flags, 1);
    rec(&s, REC_SYSCALLS, &sc, sizeof(sc));
    exit_rec(&s, CLD_EXITED, 3);
    {
        struct proc_setup fail = { STAGE_EXEC, 0, 2, -1 };
        rec(&s, REC_EXEC_FAILED, &fail, sizeof(fail));
    }
    save(argv[1], "syscalls", &s);
    return 0;
}
