/* SPDX-License-Identifier: MIT */
/* report.h: helpers shared by the report writers. */
#ifndef SBVM_REPORT_REPORT_H
#define SBVM_REPORT_REPORT_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-22T10:00:00.123Z" for a CLOCK_REALTIME value in ns. */
void report_format_time(int64_t ns, char *buf, size_t size);

#endif
