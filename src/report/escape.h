/* SPDX-License-Identifier: MIT */
/*
 * escape.h: turning hostile bytes (guest output, command lines) into text
 * that a given consumer accepts, without losing the fact that it was odd.
 *
 * Every mode decodes UTF-8 strictly (no overlongs, no surrogates, nothing
 * above U+10FFFF) and replaces each invalid byte with U+FFFD. Then:
 *  - ESC_JSON keeps every valid code point (the JSON writer escapes
 *    control characters itself);
 *  - ESC_XML also escapes & < > " ' and shows control characters, which XML
 *    1.0 cannot carry at all, as their Unicode control pictures (U+2400..);
 *    tab, newline and carriage return stay;
 *  - ESC_TERMINAL shows C0 and C1 control characters (ESC above all) as
 *    visible \xNN escapes, so guest output cannot move the cursor, retitle
 *    the window or talk to the terminal; tab and newline stay;
 *  - ESC_FIELD is ESC_TERMINAL for one field of a line (a command line, a
 *    path, a symbol): tab and newline become \t and \n too, so a field
 *    cannot break the layout or forge a line of its own.
 */
#ifndef SBVM_REPORT_ESCAPE_H
#define SBVM_REPORT_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

enum esc_mode {
    ESC_JSON,
    ESC_XML,
    ESC_TERMINAL,
    ESC_FIELD,
};

/* Appends the escaped form of in[0..len) to out. Returns true when some
 * input had to be replaced or shown differently (lossy or escaped). */
bool esc_append(struct strbuf *out, const char *in, size_t len, enum esc_mode mode);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid or cut
 * short by len; *cp receives the code point. */
size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp);

#endif
