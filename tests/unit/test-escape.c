/* SPDX-License-Identifier: MIT */
/* test-escape.c: strict UTF-8 and per-consumer escaping of hostile bytes. */
#include <string.h>

#include "report/escape.h"
#include "unit.h"

static char *esc(const char *in, size_t len, enum esc_mode m, bool *changed)
{
    static struct strbuf sb = STRBUF_INIT;

    strbuf_reset(&sb);
    *changed = esc_append(&sb, in, len, m);
    return sb.buf;
}

START_TEST(utf8_decoder_is_strict)
{
    unsigned cp;

    ck_assert_uint_eq(utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
    ck_assert_uint_eq(cp, 0xe9);
    ck_assert_uint_eq(utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
    ck_assert_uint_eq(cp, 0x1f600);
    /* Overlong, surrogate, beyond U+10FFFF, truncated, stray continuation. */
    ck_assert_uint_eq(utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp), 0);
    ck_assert_uint_eq(utf8_decode((const unsigned char *)"\xe0\x80\xaf", 3, &cp), 0);
    ck_assert_uint_eq(utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
    ck_assert_uint_eq(utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
    ck_assert_uint_eq(utf8_decode((const unsigned char *)"\xe2\x82", 2, &cp), 0);
    ck_assert_uint_eq(utf8_decode((const unsigned char *)"\x80", 1, &cp), 0);
}
END_TEST

START_TEST(json_mode_replaces_invalid_bytes_only)
{
    bool ch;

    ck_assert_str_eq(esc("caf\xc3\xa9", 5, ESC_JSON, &ch), "caf\xc3\xa9");
    ck_assert(!ch);
    ck_assert_str_eq(esc("a\xff"
                         "b",
                         3, ESC_JSON, &ch),
                     "a\xef\xbf\xbd"
                     "b");
    ck_assert(ch);
}
END_TEST

START_TEST(xml_mode_escapes_markup_and_controls)
{
    bool ch;

    ck_assert_str_eq(esc("<a href=\"x\">&'", 14, ESC_XML, &ch),
                     "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
    /* NUL, ESC and BEL cannot appear in XML 1.0: shown as control pictures. */
    ck_assert_str_eq(esc("a\0b\x1b\x07", 5, ESC_XML, &ch), "a\xe2\x90\x80"
                                                           "b\xe2\x90\x9b\xe2\x90\x87");
    ck_assert(ch);
    ck_assert_str_eq(esc("t\tn\nr\r", 6, ESC_XML, &ch), "t\tn\nr\r");
}
END_TEST

START_TEST(terminal_mode_defuses_escape_sequences)
{
    bool ch;

    /* A title change and a cursor movement become visible text. */
    ck_assert_str_eq(esc("\x1b]0;pwned\x07", 10, ESC_TERMINAL, &ch), "\\x1b]0;pwned\\x07");
    ck_assert(ch);
    ck_assert_str_eq(esc("\x1b[2J", 4, ESC_TERMINAL, &ch), "\\x1b[2J");
    /* C1 controls (U+009B is a one-character CSI) too. */
    ck_assert_str_eq(esc("\xc2\x9b"
                         "2J",
                         4, ESC_TERMINAL, &ch),
                     "\\x9b2J");
    ck_assert_str_eq(esc("ok\ttab\n", 7, ESC_TERMINAL, &ch), "ok\ttab\n");
    ck_assert(!ch);
    ck_assert_str_eq(esc("\xff", 1, ESC_TERMINAL, &ch), "\\xff");
}
END_TEST

Suite *suite_escape(void)
{
    Suite *s = suite_create("escape");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, utf8_decoder_is_strict);
    tcase_add_test(tc, json_mode_replaces_invalid_bytes_only);
    tcase_add_test(tc, xml_mode_escapes_markup_and_controls);
    tcase_add_test(tc, terminal_mode_defuses_escape_sequences);
    suite_add_tcase(s, tc);
    return s;
}
