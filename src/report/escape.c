/* SPDX-License-Identifier: MIT */
/* escape.c: strict UTF-8 decoding and per-consumer escaping. */
#include "report/escape.h"

#include <stdio.h>

#include "util/util.h"

size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned c, min;
    size_t n;

    if (len == 0)
        return 0;
    c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        c &= 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        c &= 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

static void put_cp(struct strbuf *out, unsigned cp)
{
    char b[4];

    if (cp < 0x80) {
        strbuf_addch(out, (char)cp);
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        strbuf_add(out, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        strbuf_add(out, b, 3);
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        strbuf_add(out, b, 4);
    }
}

#define REPLACEMENT 0xfffd

static bool plain_xml_special(unsigned char c)
{
    return c == '&' || c == '<' || c == '>' || c == '"' || c == '\'';
}

bool esc_append(struct strbuf *out, const char *in, size_t len, enum esc_mode mode)
{
    const unsigned char *s = (const unsigned char *)in;
    bool changed = false;
    size_t i = 0;

    strbuf_grow(out, len);
    while (i < len) {
        unsigned cp;
        size_t n, run = i;

        /* Fast path: a run of printable ASCII that no mode changes. */
        while (run < len && s[run] >= 0x20 && s[run] < 0x7f &&
               (mode != ESC_XML || !plain_xml_special(s[run])))
            run++;
        if (run > i) {
            strbuf_add(out, in + i, run - i);
            i = run;
            continue;
        }
        n = utf8_decode(s + i, len - i, &cp);

        if (n == 0) {
            if (mode == ESC_TERMINAL || mode == ESC_FIELD)
                strbuf_addf(out, "\\x%02x", s[i]);
            else
                put_cp(out, REPLACEMENT);
            changed = true;
            i++;
            continue;
        }
        i += n;
        switch (mode) {
        case ESC_JSON:
            put_cp(out, cp);
            break;
        case ESC_XML:
            if (cp == '&')
                strbuf_addstr(out, "&amp;");
            else if (cp == '<')
                strbuf_addstr(out, "&lt;");
            else if (cp == '>')
                strbuf_addstr(out, "&gt;");
            else if (cp == '"')
                strbuf_addstr(out, "&quot;");
            else if (cp == '\'')
                strbuf_addstr(out, "&apos;");
            else if (cp == '\t' || cp == '\n' || cp == '\r')
                put_cp(out, cp);
            else if (cp < 0x20) {
                put_cp(out, 0x2400 + cp);
                changed = true;
            } else if (cp == 0x7f) {
                put_cp(out, 0x2421);
                changed = true;
            } else if (cp == 0xfffe || cp == 0xffff) {
                put_cp(out, REPLACEMENT);
                changed = true;
            } else
                put_cp(out, cp);
            break;
        case ESC_TERMINAL:
        case ESC_FIELD:
            if ((cp == '\t' || cp == '\n') && mode == ESC_TERMINAL)
                put_cp(out, cp);
            else if (cp == '\n') {
                strbuf_addstr(out, "\\n");
                changed = true;
            } else if (cp == '\t') {
                strbuf_addstr(out, "\\t");
                changed = true;
            } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
                strbuf_addf(out, "\\x%02x", cp);
                changed = true;
            } else
                put_cp(out, cp);
            break;
        }
    }
    return changed;
}
