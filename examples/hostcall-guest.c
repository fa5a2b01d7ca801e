/* SPDX-License-Identifier: MIT */
/*
 * hostcall-guest.c: a guest that uses the host channel: it greets the host,
 * logs a line, and calls host functions. Run it under a host that offers a
 * channel (examples/channel-host); run alone, it says that there is none.
 */
#include <stdio.h>
#include <string.h>

#include "channel-demo.h"
#include "sandboxvm/guest.h"

int main(void)
{
    uint32_t nums[10];
    char out[64];
    size_t n = 0;
    int32_t res = 0;
    int r;

    r = sbvm_hello(SBVM_ABI_VERSION);
    if (r < 0) {
        printf("hostcall-guest: %s\n", sbvm_strerror(r));
        return 1;
    }
    sbvm_log(SBVM_LOG_INFO, "hello from the guest");
    for (uint32_t i = 0; i < 10; i++)
        nums[i] = i + 1;
    r = sbvm_hostcall(DEMO_SUM, nums, sizeof(nums), NULL, 0, NULL, &res);
    printf("sum(1..10) on the host: %s%d\n", r < 0 ? sbvm_strerror(r) : "", r < 0 ? 0 : res);
    r = sbvm_hostcall(DEMO_UPPER, "hello, host", 11, out, sizeof(out) - 1, &n, &res);
    if (r == 0) {
        out[n] = '\0';
        printf("upper(\"hello, host\") on the host: \"%s\"\n", out);
    }
    r = sbvm_hostcall(999, NULL, 0, NULL, 0, NULL, &res);
    printf("a function the host does not have: %s\n", sbvm_strerror(r));
    sbvm_logf(SBVM_LOG_INFO, "done: %d calls", 3);
    return 0;
}
