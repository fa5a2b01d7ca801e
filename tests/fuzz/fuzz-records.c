/* SPDX-License-Identifier: MIT */
/*
 * fuzz-records.c: what a sandbox sends its supervisor, end to end on the
 * host side: the status channel's records (read from a real SOCK_SEQPACKET
 * socket by proc_read_records), the outcome built from them, crash data
 * (registers, a stack snapshot and a memory map that came from guest
 * memory) analysed and, on some inputs, unwound and symbolised with libdwfl,
 * and the JSON, JUnit and text reports of the result.
 *
 * Input: one flags byte, then messages, each a 16-bit little-endian length
 * and that many bytes. Flags: bit 0 symbolise; bit 1 set limits (so that
 * limit records are taken); bit 2 the host signalled the guest.
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
#include "core/runner.h"
#include "policy/fsplan.h"
#include "backend/process/userns.h"

static struct proc_state st;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    userns_guest_ids(&st.ids);
    fsplan_init(&st.base);
    if (fsplan_build_base(&st.base, &st.ids, NULL) < 0)
        abort();
    st.init_fd = -1;
    return 0;
}

static struct proc_guest *fake_guest(int status_fd)
{
    struct proc_guest *pg = calloc(1, sizeof(*pg));

    if (!pg)
        abort();
    pg->st = &st;
    pg->pid = -1;
    pg->pidfd = pg->control_fd = pg->rootfd = pg->tmpfd = -1;
    pg->passed_fds[0] = pg->passed_fds[1] = -1;
    pg->status_fd = status_fd;
    fsplan_init(&pg->extra);
    return pg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *argv[] = { "/bin/true", NULL };
    sbvm_runner *rn;
    sbvm_config *cfg;
    struct guest *g;
    siginfo_t si;
    FILE *null;
    int sv[2];
    uint8_t flags;

    if (size < 1)
        return 0;
    flags = data[0];
    data++;
    size--;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);

    rn = sbvm_runner_new();
    cfg = sbvm_config_new();
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
    g = rn->guests[0];
    g->name = strdup("fuzz");
    g->result = result_new(g->name, &g->cfg->argv);
    g->host_signal = (flags & 4) ? SIGTERM : 0;
    g->bdata = fake_guest(sv[0]);
    g->ops = rn->backend; /* as start_guest sets it: a limit record stops the guest */

    /* The messages, as the sandbox would send them. */
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
    while (proc_read_records(g))
        ;

    memset(&si, 0, sizeof(si));
    si.si_code = CLD_EXITED;
    proc_fill_result(g, g->result, &si);
    g->state = GUEST_DONE;

    /* Every report of what came out. */
    null = fopen("/dev/null", "w");
    if (null) {
        sbvm_report_json(rn, null, NULL);
        sbvm_report_junit(rn, null, NULL);
        sbvm_report_summary(rn, null, NULL);
        fclose(null);
    }
    free(sbvm_result_details(g->result, "  "));

    process_backend.release(g);
    sbvm_runner_free(rn);
    return 0;
}
