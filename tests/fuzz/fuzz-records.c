/* SPDX-License-Identifier: MIT */
/*
 * fuzz-records.c: what a sandbox sends its supervisor, end to end on the
 * host side. A runner runs one guest through the real process backend,
 * except that its start hands the backend a socket this fuzzer wrote
 * instead of a sandbox: the records are read, decoded (records.c) and
 * applied (supervise.c) as events, the outcome built from them (core),
 * crash data (registers, a stack snapshot and a memory map that came from
 * guest memory) analysed and, on some inputs, unwound and symbolised with
 * libdwfl; then the JSON, JUnit and text reports of the result.
 *
 * Input: one flags byte, then messages, each a 16-bit little-endian length
 * and that many bytes. Flags: bit 0 symbolise; bit 1 set limits (so that
 * limit records are taken); bit 2 the host signals the guest (as Ctrl-C).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/process/process.h"
#include "core/sandbox.h"
#include "sandboxvm/sandboxvm.h"

static int next_status = -1; /* the socket the next sandbox reports on */
static struct backend_ops fuzz_ops;

/* Instead of building a sandbox: its init "has exited" (a pipe whose
 * writer is gone is readable at once, as its pidfd would be) and its
 * records are on the fuzzer's socket. */
static int fuzz_start(struct sandbox *sb, struct job *j, struct setup_fact *fail)
{
    struct proc_sandbox *ps = proc_of(sb);
    int p[2];

    (void)j;
    (void)fail;
    if (pipe2(p, O_CLOEXEC) < 0)
        abort();
    close(p[1]);
    ps->pidfd = p[0];
    ps->status_fd = next_status;
    next_status = -1;
    fcntl(ps->status_fd, F_SETFL, O_NONBLOCK);
    if (proc_watch(sb) < 0)
        abort();
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_ops = process_backend;
    fuzz_ops.start = fuzz_start;
    sandbox_backend_override = &fuzz_ops;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *argv[] = { "/bin/true", NULL };
    sbvm_runner *rn;
    sbvm_config *cfg;
    FILE *null;
    int sv[2], sig[2] = { -1, -1 };
    uint8_t flags;

    if (size < 1)
        return 0;
    flags = data[0];
    data++;
    size--;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    fcntl(sv[1], F_SETFL, O_NONBLOCK);

    /* The messages, as the sandbox would send them, then its end. */
    while (size >= 2) {
        size_t n = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        if (n > size)
            n = size;
        if (send(sv[1], data, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            break;
        data += n;
        size -= n;
    }
    close(sv[1]);
    next_status = sv[0];

    rn = sbvm_runner_new();
    cfg = sbvm_config_new();
    if (!rn || !cfg)
        abort();
    sbvm_config_set_argv(cfg, 1, argv, NULL);
    sbvm_config_set_symbolize(cfg, flags & 1);
    if (flags & 2) {
        sbvm_config_set_limit(cfg, SBVM_LIMIT_FILES, 64, NULL);
        sbvm_config_set_limit(cfg, SBVM_LIMIT_PIDS, 64, NULL);
        sbvm_config_set_limit(cfg, SBVM_LIMIT_MEMORY, 1 << 26, NULL);
        sbvm_config_set_limit(cfg, SBVM_LIMIT_CPU, 1000, NULL);
    }
    sbvm_runner_add(rn, cfg, NULL);
    sbvm_config_free(cfg);
    if ((flags & 4) && pipe2(sig, O_CLOEXEC | O_NONBLOCK) == 0) {
        unsigned char b = SIGTERM;
        (void)!write(sig[1], &b, 1);
        sbvm_runner_set_signal_fd(rn, sig[0]);
    }
    sbvm_runner_run(rn, NULL);
    if (next_status >= 0) {
        close(next_status); /* the guest never started */
        next_status = -1;
    }

    /* Every report of what came out. */
    null = fopen("/dev/null", "w");
    if (null) {
        sbvm_report_json(rn, null, NULL);
        sbvm_report_junit(rn, null, NULL);
        sbvm_report_summary(rn, null, NULL);
        fclose(null);
    }
    if (sbvm_runner_result(rn, 0)) {
        char *d = sbvm_result_details(sbvm_runner_result(rn, 0), "  ");
        /* FUZZ_RECORDS_SHOW=1: what an input came to, to check a seed. */
        if (getenv("FUZZ_RECORDS_SHOW")) {
            sbvm_report_summary(rn, stderr, NULL);
            fprintf(stderr, "%s", d ? d : "");
        }
        free(d);
    }
    sbvm_runner_free(rn);
    if (sig[0] >= 0) {
        close(sig[0]);
        close(sig[1]);
    }
    return 0;
}
