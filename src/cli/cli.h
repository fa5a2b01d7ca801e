/* SPDX-License-Identifier: MIT */
/* cli.h: what the sandboxvm command's pieces share. */
#ifndef SBVM_CLI_CLI_H
#define SBVM_CLI_CLI_H

#include <stdbool.h>

/* Exit status when sandboxvm itself cannot do what was asked: bad usage,
 * unwritable reports, a runner failure. Same as a guest's setup failure. */
#define EXIT_USAGE 125

int cmd_run(int argc, char **argv);
void cmd_run_help(void);

/* "sandboxvm: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Text to fd, its control characters defused when fd is a terminal. */
void cli_text(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether colour may be used on fd (a TTY, and NO_COLOR unset). */
bool cli_color(int fd);

#endif
