/* SPDX-License-Identifier: MIT */
/*
 * test-shm-main.c: the host-channel suites alone, in a binary small enough
 * to build with ThreadSanitizer in CI (scripts/test.sh, build-tsan/): it
 * links the channel's sources, not the whole library. The same suites also
 * run in sbvm-unit with everything else.
 */
#include <stdlib.h>

#include "unit.h"

int main(void)
{
    Suite *(*const suites[])(void) = { suite_shm, suite_shm_hostile, suite_shm_threads };
    SRunner *sr = srunner_create(NULL);
    int failed;

    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
