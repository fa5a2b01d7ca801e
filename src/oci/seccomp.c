/* SPDX-License-Identifier: MIT */
/*
 * seccomp.c: a container's own seccomp profile (linux.seccomp) compiled to
 * BPF with libseccomp. It is installed in each of the container's processes
 * on top of sandboxvm's filters, never instead of them: the kernel runs
 * every filter and the most restrictive answer wins, so a profile can only
 * refuse more (docs/OCI.md).
 */
#include "oci/oci.h"

#include <errno.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

static uint32_t action_of(enum oci_seccomp_action a, bool has_errno, uint32_t e)
{
    switch (a) {
    case OCI_SCMP_KILL:
    case OCI_SCMP_KILL_PROCESS:
        /* The specification's KILL ends a thread; a process left without
         * one of its threads is a stranger state than a dead one, and the
         * stricter answer is always allowed here. */
        return SCMP_ACT_KILL_PROCESS;
    case OCI_SCMP_TRAP:
        return SCMP_ACT_TRAP;
    case OCI_SCMP_ERRNO:
        return SCMP_ACT_ERRNO(has_errno ? e : EPERM);
    case OCI_SCMP_LOG:
        return SCMP_ACT_LOG;
    case OCI_SCMP_ALLOW:
        return SCMP_ACT_ALLOW;
    case OCI_SCMP_TRACE:
    case OCI_SCMP_NOTIFY:
        break; /* refused by oci_spec_check */
    }
    return SCMP_ACT_KILL_PROCESS;
}

static enum scmp_compare op_of(enum oci_seccomp_op op)
{
    switch (op) {
    case OCI_CMP_NE:
        return SCMP_CMP_NE;
    case OCI_CMP_LT:
        return SCMP_CMP_LT;
    case OCI_CMP_LE:
        return SCMP_CMP_LE;
    case OCI_CMP_EQ:
        return SCMP_CMP_EQ;
    case OCI_CMP_GE:
        return SCMP_CMP_GE;
    case OCI_CMP_GT:
        return SCMP_CMP_GT;
    case OCI_CMP_MASKED_EQ:
        return SCMP_CMP_MASKED_EQ;
    }
    return SCMP_CMP_EQ;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t act, int nr, const struct oci_seccomp_rule *rule)
{
    struct scmp_arg_cmp cmp[6];
    bool same_index = false;
    int r;

    for (size_t i = 0; i < rule->nargs; i++) {
        cmp[i] = (struct scmp_arg_cmp){ rule->args[i].index, op_of(rule->args[i].op),
                                        rule->args[i].value, rule->args[i].value_two };
        for (size_t k = 0; k < i; k++)
            same_index |= rule->args[k].index == rule->args[i].index;
    }
    if (!same_index)
        return seccomp_rule_add_exact_array(ctx, act, nr, (unsigned)rule->nargs, cmp);
    /* libseccomp takes one comparison per argument in a rule: as other
     * runtimes do, one rule per comparison then. */
    for (size_t i = 0; i < rule->nargs; i++) {
        r = seccomp_rule_add_exact_array(ctx, act, nr, 1, &cmp[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

int oci_seccomp_compile(const struct oci_seccomp *sc, struct sock_filter **out, size_t *len,
                        sbvm_error **err)
{
    uint32_t def = action_of(sc->default_action, sc->has_default_errno, sc->default_errno);
    _cleanup_close_ int fd = -1;
    scmp_filter_ctx ctx;
    struct sock_filter *insns = NULL;
    struct stat st;
    int r;

    *out = NULL;
    *len = 0;
    ctx = seccomp_init(def);
    if (!ctx)
        return error_set(err, ENOMEM, "linux.seccomp: creating a filter failed");
    /* Another ABI's calls never get this far: sandboxvm's filter ends the
     * process first. The native ABI is all this filter needs to see. */
    r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (r == 0)
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (r < 0) {
        error_sys(err, -r, "linux.seccomp: setting filter attributes");
        goto out;
    }
    for (size_t i = 0; i < sc->nrules; i++) {
        const struct oci_seccomp_rule *rule = &sc->rules[i];
        uint32_t act = action_of(rule->action, rule->has_errno, rule->errno_ret);

        /* libseccomp refuses a rule that repeats the default. */
        if (act == def)
            continue;
        for (size_t k = 0; k < rule->names.n; k++) {
            int nr = seccomp_syscall_resolve_name(rule->names.v[k]);
            /* A call this architecture does not have cannot be made. */
            if (nr == __NR_SCMP_ERROR || nr < 0)
                continue;
            r = add_rule(ctx, act, nr, rule);
            if (r < 0) {
                error_sys(err, -r, "linux.seccomp.syscalls[%zu]: %s", i, rule->names.v[k]);
                goto out;
            }
        }
    }
    fd = memfd_create("sbvm-oci-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        r = error_sys(err, errno, "linux.seccomp: a buffer for the filter");
        goto out;
    }
    r = seccomp_export_bpf(ctx, fd);
    if (r < 0) {
        error_sys(err, -r, "linux.seccomp: exporting the filter");
        goto out;
    }
    if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
        st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
        st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
        r = error_set(err, E2BIG, "linux.seccomp: the filter is larger than the kernel takes");
        goto out;
    }
    insns = malloc((size_t)st.st_size);
    if (!insns) {
        r = error_set(err, ENOMEM, "linux.seccomp: out of memory");
        goto out;
    }
    if (lseek(fd, 0, SEEK_SET) < 0 || read_full(fd, insns, (size_t)st.st_size) != st.st_size) {
        free(insns);
        r = error_set(err, EIO, "linux.seccomp: reading the filter back");
        goto out;
    }
    *out = insns;
    *len = (size_t)st.st_size / sizeof(struct sock_filter);
    r = 0;
out:
    seccomp_release(ctx);
    return r;
}
