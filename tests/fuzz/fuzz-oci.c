/* SPDX-License-Identifier: MIT */
/*
 * fuzz-oci.c: an OCI bundle's config.json and an exec's process.json, as the
 * runtime reads them: the parser, the policy (as root and not), and the
 * container's seccomp profile compiled to BPF.
 */
#include <stdint.h>
#include <stdlib.h>

#include "oci/oci.h"
#include "oci/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oci_spec s;
    struct oci_process p;
    sbvm_error *e = NULL;

    if (oci_spec_parse((const char *)data, size, &s, &e) == 0) {
        if (oci_spec_check(&s, true, NULL) == 0 && s.seccomp && s.seccomp->nrules <= 64) {
            struct sock_filter *f = NULL;
            size_t n = 0;
            if (oci_seccomp_compile(s.seccomp, &f, &n, NULL) == 0)
                free(f);
        }
        oci_spec_check(&s, false, NULL);
        if (oci_process_parse((const char *)data, size, &p, NULL) == 0) {
            oci_process_check(&p, &s, NULL);
            oci_process_release(&p);
        }
        oci_spec_release(&s);
    } else {
        sbvm_error_free(e);
        if (oci_process_parse((const char *)data, size, &p, NULL) == 0)
            oci_process_release(&p);
    }
    return 0;
}
