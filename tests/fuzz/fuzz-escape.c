/* SPDX-License-Identifier: MIT */
/*
 * fuzz-escape.c: the escaping of hostile bytes for JSON, XML, terminals and
 * single-line fields. Checks what each mode promises: valid UTF-8 out, and
 * none of the characters the mode must not let through.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/escape.h"
#include "util/strbuf.h"

static void check_utf8(const struct strbuf *sb)
{
    const unsigned char *s = (const unsigned char *)sb->buf;
    size_t i = 0;

    while (i < sb->len) {
        unsigned cp;
        size_t n = utf8_decode(s + i, sb->len - i, &cp);
        if (n == 0)
            abort(); /* the output must be valid UTF-8 */
        i += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int mode = ESC_JSON; mode <= ESC_FIELD; mode++) {
        struct strbuf sb = STRBUF_INIT;

        esc_append(&sb, (const char *)data, size, (enum esc_mode)mode);
        if (strbuf_failed(&sb))
            abort();
        check_utf8(&sb);
        for (size_t i = 0; i < sb.len; i++) {
            unsigned char c = (unsigned char)sb.buf[i];
            switch (mode) {
            case ESC_XML:
                /* No control character XML 1.0 cannot carry, no markup. */
                if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == '<' || c == '>' ||
                    c == '"' || c == '\'')
                    abort();
                break;
            case ESC_TERMINAL:
                if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                    abort();
                break;
            case ESC_FIELD:
                if (c < 0x20 || c == 0x7f)
                    abort();
                break;
            default:
                break;
            }
        }
        /* C1 controls (U+0080-U+009F) would be ESC to some terminals. */
        if (mode == ESC_TERMINAL || mode == ESC_FIELD)
            for (size_t i = 0; i + 1 < sb.len; i++)
                if ((unsigned char)sb.buf[i] == 0xc2 && (unsigned char)sb.buf[i + 1] >= 0x80 &&
                    (unsigned char)sb.buf[i + 1] < 0xa0)
                    abort();
        strbuf_release(&sb);
    }
    return 0;
}
