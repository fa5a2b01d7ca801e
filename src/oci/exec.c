/* SPDX-License-Identifier: MIT */
/* exec.c: a process run in a running container (runc exec). */
#include "oci/oci.h"

int oci_cmd_exec(const struct oci_global *g, const struct oci_exec_opts *o)
{
    (void)g;
    return oci_fail("exec %s: not implemented yet", o->id);
}
