/* SPDX-License-Identifier: MIT */
/*
 * test-calls-libs.c: real Debian libraries, unmodified, called in a
 * sandbox: zlib (one-shot and streaming, with the z_stream kept in the
 * worker), libbz2 (buffer to buffer) and libxml2 (a parser whose document
 * is a handle queried later). Each gives the same bytes and return codes as
 * the same call made directly in this process, on good input and on
 * hostile input made here: truncated, bit-flipped, and decompression bombs
 * under an out-buffer limit.
 */
#include <bzlib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sandboxvm/calls.h"
#include "test-calls.h"
#include "unit.h"

#define DATA_LEN (256 * 1024)

/* Bytes that compress somewhat: words, numbers and a little noise. */
static uint8_t *make_data(size_t len, unsigned seed)
{
    static const char *const words[] = { "sandbox ", "worker ", "crash ",  "report ",
                                         "zlib ",    "window ", "handle ", "call " };
    uint8_t *d = malloc(len);

    ck_assert_ptr_nonnull(d);
    srand(seed);
    for (size_t i = 0; i < len;) {
        const char *w = words[rand() % 8];
        size_t n = strlen(w);
        if (rand() % 16 == 0) {
            d[i++] = (uint8_t)rand();
            continue;
        }
        for (size_t k = 0; k < n && i < len; k++)
            d[i++] = (uint8_t)w[k];
    }
    return d;
}

/* ---- zlib ---------------------------------------------------------------------- */

/* uncompress() in the sandbox: its return code, *out_len and out. */
static int sb_uncompress(sbvm_lib *lib, uint8_t *out, uint64_t *out_len, const uint8_t *in,
                         size_t in_len)
{
    return (int)calls_int(lib, "uncompress",
                          ARGS(SBVM_OUT(out, *out_len), SBVM_INOUT(out_len, sizeof(*out_len)),
                               SBVM_IN(in, in_len), SBVM_INT(in_len)));
}

START_TEST(zlib_gives_the_same_bytes_as_a_direct_call)
{
    sbvm_lib *lib = calls_open("libz.so.1", NULL);
    uint8_t *data = make_data(DATA_LEN, 1), *comp, *dcomp, *out;
    uint64_t clen = compressBound(DATA_LEN), olen = DATA_LEN;
    uLongf dlen = compressBound(DATA_LEN);
    union sbvm_value v;
    char msg[512];

    comp = calloc(1, clen);
    dcomp = calloc(1, clen);
    out = calloc(1, DATA_LEN);
    /* crc32 */
    ck_assert_int_eq(calls_call(lib, "crc32", SBVM_ULONG,
                                ARGS(SBVM_INT(0), SBVM_IN(data, DATA_LEN), SBVM_INT(DATA_LEN)), &v,
                                NULL, msg, sizeof(msg)),
                     0);
    ck_assert_uint_eq(v.u, crc32(0, data, DATA_LEN));
    /* compress2: the same bytes */
    ck_assert_int_eq(calls_int(lib, "compress2",
                               ARGS(SBVM_OUT(comp, clen), SBVM_INOUT(&clen, sizeof(clen)),
                                    SBVM_IN(data, DATA_LEN), SBVM_INT(DATA_LEN), SBVM_INT(6))),
                     Z_OK);
    ck_assert_int_eq(compress2(dcomp, &dlen, data, DATA_LEN, 6), Z_OK);
    ck_assert_uint_eq(clen, dlen);
    ck_assert_int_eq(memcmp(comp, dcomp, clen), 0);
    /* uncompress: back to the data */
    ck_assert_int_eq(sb_uncompress(lib, out, &olen, comp, clen), Z_OK);
    ck_assert_uint_eq(olen, DATA_LEN);
    ck_assert_int_eq(memcmp(out, data, DATA_LEN), 0);
    free(data);
    free(comp);
    free(dcomp);
    free(out);
    sbvm_lib_close(lib);
}
END_TEST

/* The sandboxed and the direct uncompress of `in` agree on everything. */
static void uncompress_agrees(sbvm_lib *lib, const uint8_t *in, size_t in_len, size_t cap,
                              const char *what)
{
    uint8_t *a = calloc(1, cap), *b = calloc(1, cap);
    uint64_t alen = cap;
    uLongf blen = cap;
    int ra, rb;

    ra = sb_uncompress(lib, a, &alen, in, in_len);
    rb = uncompress(b, &blen, in, in_len);
    ck_assert_msg(ra == rb, "%s: %d in the sandbox, %d directly", what, ra, rb);
    ck_assert_msg(alen == blen, "%s: %llu bytes in the sandbox, %lu directly", what,
                  (unsigned long long)alen, (unsigned long)blen);
    ck_assert_msg(memcmp(a, b, cap) == 0, "%s: different bytes", what);
    free(a);
    free(b);
}

START_TEST(zlib_on_hostile_input_fails_as_it_would_directly)
{
    sbvm_lib *lib = calls_open("libz.so.1", NULL);
    uint8_t *data = make_data(DATA_LEN, 2), *comp, *bad, *zeros;
    uLongf clen = compressBound(DATA_LEN), zlen;
    size_t bomb = 64u << 20;
    char what[64];

    comp = malloc(clen);
    ck_assert_int_eq(compress2(comp, &clen, data, DATA_LEN, 9), Z_OK);
    bad = malloc(clen);
    /* Truncated anywhere. */
    for (size_t cut = 0; cut < clen; cut += clen / 7 + 1) {
        snprintf(what, sizeof(what), "truncated to %zu", cut);
        uncompress_agrees(lib, comp, cut, DATA_LEN, what);
    }
    /* Bits flipped. */
    srand(7);
    for (int i = 0; i < 40; i++) {
        size_t at = (size_t)rand() % clen;
        memcpy(bad, comp, clen);
        bad[at] ^= (uint8_t)(1u << (rand() % 8));
        snprintf(what, sizeof(what), "bit flipped at %zu", at);
        uncompress_agrees(lib, bad, clen, DATA_LEN, what);
    }
    /* A bomb: 64 MiB of zeros in a few KiB, into a 4 MiB buffer. */
    zeros = calloc(1, bomb);
    zlen = compressBound(bomb);
    free(bad);
    bad = malloc(zlen);
    ck_assert_int_eq(compress2(bad, &zlen, zeros, bomb, 9), Z_OK);
    ck_assert_uint_lt(zlen, 128 * 1024);
    uncompress_agrees(lib, bad, zlen, 4u << 20, "a bomb");
    free(zeros);
    free(bad);
    free(comp);
    free(data);
    sbvm_lib_close(lib);
}
END_TEST

/* Streaming inflate with the z_stream and its buffers in the worker: the
 * host only ever names them by handle. */
static int sb_inflate_stream(sbvm_lib *lib, const uint8_t *in, size_t in_len, uint8_t *out,
                             size_t cap, size_t *out_len, size_t in_chunk, size_t out_chunk)
{
    sbvm_handle zs, ib, ob;
    size_t pos = 0, got = 0;
    uint32_t n, avail;
    int r = Z_OK;

    ck_assert_int_eq(sbvm_lib_alloc(lib, sizeof(z_stream), 0, &zs, NULL), 0);
    ck_assert_int_eq(sbvm_lib_alloc(lib, in_chunk, zs, &ib, NULL), 0);
    ck_assert_int_eq(sbvm_lib_alloc(lib, out_chunk, zs, &ob, NULL), 0);
    ck_assert_int_eq(
        calls_int(lib, "inflateInit_",
                  ARGS(SBVM_HANDLE(zs), SBVM_STR(ZLIB_VERSION), SBVM_INT(sizeof(z_stream)))),
        Z_OK);
    do {
        n = (uint32_t)(in_len - pos < in_chunk ? in_len - pos : in_chunk);
        if (n == 0)
            break;
        ck_assert_int_eq(sbvm_lib_write(lib, ib, 0, in + pos, n, NULL), 0);
        pos += n;
        ck_assert_int_eq(sbvm_lib_poke(lib, zs, offsetof(z_stream, next_in), ib, 0, NULL), 0);
        ck_assert_int_eq(sbvm_lib_write(lib, zs, offsetof(z_stream, avail_in), &n, 4, NULL), 0);
        do {
            uint32_t oc = (uint32_t)out_chunk;
            ck_assert_int_eq(sbvm_lib_poke(lib, zs, offsetof(z_stream, next_out), ob, 0, NULL), 0);
            ck_assert_int_eq(sbvm_lib_write(lib, zs, offsetof(z_stream, avail_out), &oc, 4, NULL),
                             0);
            r = (int)calls_int(lib, "inflate", ARGS(SBVM_HANDLE(zs), SBVM_INT(Z_NO_FLUSH)));
            ck_assert_int_eq(sbvm_lib_read(lib, zs, offsetof(z_stream, avail_out), &avail, 4, NULL),
                             0);
            ck_assert_uint_le(avail, out_chunk);
            ck_assert_uint_le(got + out_chunk - avail, cap);
            ck_assert_int_eq(sbvm_lib_read(lib, ob, 0, out + got, out_chunk - avail, NULL), 0);
            got += out_chunk - avail;
        } while (avail == 0 && r == Z_OK);
    } while (r == Z_OK || r == Z_BUF_ERROR);
    calls_int(lib, "inflateEnd", ARGS(SBVM_HANDLE(zs)));
    ck_assert_int_eq(sbvm_lib_free(lib, ob, NULL), 0);
    ck_assert_int_eq(sbvm_lib_free(lib, ib, NULL), 0);
    ck_assert_int_eq(sbvm_lib_free(lib, zs, NULL), 0);
    *out_len = got;
    return r;
}

/* The same loop, directly. */
static int direct_inflate_stream(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                                 size_t *out_len, size_t in_chunk, size_t out_chunk)
{
    z_stream zs;
    size_t pos = 0, got = 0;
    uint32_t n;
    int r = Z_OK;

    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(inflateInit(&zs), Z_OK);
    do {
        n = (uint32_t)(in_len - pos < in_chunk ? in_len - pos : in_chunk);
        if (n == 0)
            break;
        zs.next_in = (Bytef *)(uintptr_t)(in + pos);
        zs.avail_in = n;
        pos += n;
        do {
            zs.next_out = out + got;
            zs.avail_out = (uInt)out_chunk;
            ck_assert_uint_le(got + out_chunk, cap);
            r = inflate(&zs, Z_NO_FLUSH);
            got += out_chunk - zs.avail_out;
        } while (zs.avail_out == 0 && r == Z_OK);
    } while (r == Z_OK || r == Z_BUF_ERROR);
    inflateEnd(&zs);
    *out_len = got;
    return r;
}

START_TEST(zlib_streams_with_its_z_stream_kept_in_the_worker)
{
    sbvm_lib *lib = calls_open("libz.so.1", NULL);
    uint8_t *data = make_data(DATA_LEN, 3), *comp, *a, *b;
    uLongf clen = compressBound(DATA_LEN);
    size_t alen, blen, cap = DATA_LEN + 64 * 1024;
    int ra, rb;

    comp = malloc(clen);
    a = calloc(1, cap);
    b = calloc(1, cap);
    ck_assert_int_eq(compress2(comp, &clen, data, DATA_LEN, 6), Z_OK);
    ra = sb_inflate_stream(lib, comp, clen, a, cap, &alen, 4096, 16384);
    ck_assert_int_eq(ra, Z_STREAM_END);
    ck_assert_uint_eq(alen, DATA_LEN);
    ck_assert_int_eq(memcmp(a, data, DATA_LEN), 0);
    /* A corrupt stream stops where it would directly. */
    comp[clen / 2] ^= 0x20;
    memset(a, 0, cap);
    ra = sb_inflate_stream(lib, comp, clen, a, cap, &alen, 4096, 16384);
    rb = direct_inflate_stream(comp, clen, b, cap, &blen, 4096, 16384);
    ck_assert_int_eq(ra, rb);
    ck_assert_uint_eq(alen, blen);
    ck_assert_int_eq(memcmp(a, b, alen), 0);
    free(a);
    free(b);
    free(comp);
    free(data);
    sbvm_lib_close(lib);
}
END_TEST

/* ---- libbz2 ------------------------------------------------------------------ */

static void bunzip_agrees(sbvm_lib *lib, const uint8_t *in, size_t in_len, size_t cap,
                          const char *what)
{
    uint8_t *a = calloc(1, cap), *b = calloc(1, cap);
    uint32_t alen = (uint32_t)cap;
    unsigned int blen = (unsigned int)cap;
    int ra, rb;

    ra = (int)calls_int(lib, "BZ2_bzBuffToBuffDecompress",
                        ARGS(SBVM_OUT(a, cap), SBVM_INOUT(&alen, sizeof(alen)), SBVM_IN(in, in_len),
                             SBVM_INT(in_len), SBVM_INT(0), SBVM_INT(0)));
    rb =
        BZ2_bzBuffToBuffDecompress((char *)b, &blen, (char *)(uintptr_t)in, (unsigned)in_len, 0, 0);
    ck_assert_msg(ra == rb, "%s: %d in the sandbox, %d directly", what, ra, rb);
    if (ra == BZ_OK) {
        ck_assert_uint_eq(alen, blen);
        ck_assert_int_eq(memcmp(a, b, alen), 0);
    }
    free(a);
    free(b);
}

START_TEST(libbz2_gives_the_same_bytes_and_errors_as_a_direct_call)
{
    sbvm_lib *lib = calls_open("libbz2.so.1.0", NULL);
    uint8_t *data = make_data(DATA_LEN, 4), *comp, *dcomp, *bad, *zeros;
    uint32_t clen = DATA_LEN + DATA_LEN / 100 + 600;
    unsigned int dlen = clen, zlen;
    size_t bomb = 32u << 20;
    char what[64];

    comp = calloc(1, clen);
    dcomp = calloc(1, clen);
    /* Seven arguments: the last on the stack. */
    ck_assert_int_eq(calls_int(lib, "BZ2_bzBuffToBuffCompress",
                               ARGS(SBVM_OUT(comp, clen), SBVM_INOUT(&clen, sizeof(clen)),
                                    SBVM_IN(data, DATA_LEN), SBVM_INT(DATA_LEN), SBVM_INT(9),
                                    SBVM_INT(0), SBVM_INT(30))),
                     BZ_OK);
    ck_assert_int_eq(
        BZ2_bzBuffToBuffCompress((char *)dcomp, &dlen, (char *)data, DATA_LEN, 9, 0, 30), BZ_OK);
    ck_assert_uint_eq(clen, dlen);
    ck_assert_int_eq(memcmp(comp, dcomp, clen), 0);
    bunzip_agrees(lib, comp, clen, DATA_LEN, "whole");
    for (size_t cut = 0; cut < clen; cut += clen / 5 + 1) {
        snprintf(what, sizeof(what), "truncated to %zu", cut);
        bunzip_agrees(lib, comp, cut, DATA_LEN, what);
    }
    bad = malloc(clen);
    srand(11);
    for (int i = 0; i < 20; i++) {
        size_t at = (size_t)rand() % clen;
        memcpy(bad, comp, clen);
        bad[at] ^= (uint8_t)(1u << (rand() % 8));
        snprintf(what, sizeof(what), "bit flipped at %zu", at);
        bunzip_agrees(lib, bad, clen, DATA_LEN, what);
    }
    free(bad);
    /* A bomb into 1 MiB: BZ_OUTBUFF_FULL, as directly. */
    zeros = calloc(1, bomb);
    zlen = (unsigned)(bomb / 100 + 600);
    bad = malloc(zlen);
    ck_assert_int_eq(
        BZ2_bzBuffToBuffCompress((char *)bad, &zlen, (char *)zeros, (unsigned)bomb, 9, 0, 30),
        BZ_OK);
    bunzip_agrees(lib, bad, zlen, 1u << 20, "a bomb");
    free(bad);
    free(zeros);
    free(comp);
    free(dcomp);
    free(data);
    sbvm_lib_close(lib);
}
END_TEST

/* ---- libxml2 ------------------------------------------------------------------ */

#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* What the tests ask of a document: NULL or not, the root's child
 * elements, and the first child's attribute x. */
struct xml_facts {
    int parsed;
    unsigned long children;
    char x[64];
};

static void xml_direct(const char *xml, size_t len, struct xml_facts *f)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_OPTS);
    xmlNodePtr root, first;

    memset(f, 0, sizeof(*f));
    if (!doc)
        return;
    f->parsed = 1;
    root = xmlDocGetRootElement(doc);
    f->children = root ? xmlChildElementCount(root) : 0;
    first = root ? xmlFirstElementChild(root) : NULL;
    if (first) {
        xmlChar *x = xmlGetProp(first, (const xmlChar *)"x");
        if (x)
            snprintf(f->x, sizeof(f->x), "%s", (const char *)x);
        xmlFree(x);
    }
    xmlFreeDoc(doc);
}

static void xml_sandboxed(sbvm_lib *lib, const char *xml, size_t len, struct xml_facts *f)
{
    union sbvm_value v;
    sbvm_handle doc, root, first, x;
    char msg[512];

    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(
        calls_call(lib, "xmlReadMemory", SBVM_PTR,
                   ARGS(SBVM_IN(xml, len), SBVM_INT(len), SBVM_NULL, SBVM_NULL, SBVM_INT(XML_OPTS)),
                   &v, NULL, msg, sizeof(msg)),
        0);
    if (!(doc = v.h))
        return;
    f->parsed = 1;
    ck_assert_int_eq(calls_call(lib, "xmlDocGetRootElement", SBVM_PTR, ARGS(SBVM_HANDLE(doc)), &v,
                                NULL, msg, sizeof(msg)),
                     0);
    root = v.h;
    if (root) {
        ck_assert_int_eq(calls_call(lib, "xmlChildElementCount", SBVM_ULONG,
                                    ARGS(SBVM_HANDLE(root)), &v, NULL, msg, sizeof(msg)),
                         0);
        f->children = v.u;
        ck_assert_int_eq(calls_call(lib, "xmlFirstElementChild", SBVM_PTR, ARGS(SBVM_HANDLE(root)),
                                    &v, NULL, msg, sizeof(msg)),
                         0);
        first = v.h;
        if (first) {
            ck_assert_int_eq(calls_call(lib, "xmlGetProp", SBVM_PTR,
                                        ARGS(SBVM_HANDLE(first), SBVM_STR("x")), &v, NULL, msg,
                                        sizeof(msg)),
                             0);
            x = v.h;
            if (x) {
                int n = (int)calls_int(lib, "xmlStrlen", ARGS(SBVM_HANDLE(x)));
                ck_assert_int_ge(n, 0);
                if (n > (int)sizeof(f->x) - 1)
                    n = sizeof(f->x) - 1;
                ck_assert_int_eq(sbvm_lib_read(lib, x, 0, f->x, (size_t)n, NULL), 0);
                /* xmlFree is a variable in libxml2; what it points at is free(). */
                ck_assert_int_eq(calls_call(lib, "free", SBVM_VOID, ARGS(SBVM_FREES(x)), NULL, NULL,
                                            msg, sizeof(msg)),
                                 0);
            }
            ck_assert_int_eq(sbvm_lib_forget(lib, first, NULL), 0);
        }
        ck_assert_int_eq(sbvm_lib_forget(lib, root, NULL), 0);
    }
    ck_assert_int_eq(calls_call(lib, "xmlFreeDoc", SBVM_VOID, ARGS(SBVM_FREES(doc)), NULL, NULL,
                                msg, sizeof(msg)),
                     0);
}

static void xml_agrees(sbvm_lib *lib, const char *xml, size_t len, const char *what)
{
    struct xml_facts a, b;

    xml_sandboxed(lib, xml, len, &a);
    xml_direct(xml, len, &b);
    ck_assert_msg(a.parsed == b.parsed, "%s: parsed %d in the sandbox, %d directly", what, a.parsed,
                  b.parsed);
    ck_assert_msg(a.children == b.children, "%s: %lu children in the sandbox, %lu directly", what,
                  a.children, b.children);
    ck_assert_msg(!strcmp(a.x, b.x), "%s: x=[%s] in the sandbox, [%s] directly", what, a.x, b.x);
}

START_TEST(libxml2_documents_are_handles_queried_later)
{
    sbvm_lib *lib = calls_open("libxml2.so.2", NULL);
    static const char doc[] = "<?xml version='1.0'?><root><item x='first'>one</item><item x='2'/>"
                              "<item/><!-- c --><other a='b'>text</other></root>";
    struct xml_facts f;
    char *bad, what[64], *deep;
    size_t len = sizeof(doc) - 1;

    xml_sandboxed(lib, doc, len, &f);
    ck_assert_int_eq(f.parsed, 1);
    ck_assert_uint_eq(f.children, 4);
    ck_assert_str_eq(f.x, "first");
    xml_agrees(lib, doc, len, "whole");
    for (size_t cut = 0; cut < len; cut += 9) {
        snprintf(what, sizeof(what), "truncated to %zu", cut);
        xml_agrees(lib, doc, cut, what);
    }
    bad = malloc(len);
    srand(5);
    for (int i = 0; i < 30; i++) {
        size_t at = (size_t)rand() % len;
        memcpy(bad, doc, len);
        bad[at] ^= (char)(1u << (rand() % 8));
        snprintf(what, sizeof(what), "bit flipped at %zu", at);
        xml_agrees(lib, bad, len, what);
    }
    free(bad);
    /* Nested far deeper than the parser allows. */
    deep = malloc(20000 * 7 + 1);
    for (int i = 0; i < 20000; i++)
        memcpy(deep + 3 * i, "<a>", 3);
    for (int i = 0; i < 20000; i++)
        memcpy(deep + 60000 + 4 * i, "</a>", 4);
    xml_agrees(lib, deep, 140000, "20,000 levels deep");
    free(deep);
    sbvm_lib_close(lib);
}
END_TEST

Suite *suite_calls_libs(void)
{
    Suite *s = suite_create("calls_libs");
    TCase *tc = tcase_create("calls_libs");

    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, zlib_gives_the_same_bytes_as_a_direct_call);
    tcase_add_test(tc, zlib_on_hostile_input_fails_as_it_would_directly);
    tcase_add_test(tc, zlib_streams_with_its_z_stream_kept_in_the_worker);
    tcase_add_test(tc, libbz2_gives_the_same_bytes_and_errors_as_a_direct_call);
    tcase_add_test(tc, libxml2_documents_are_handles_queried_later);
    suite_add_tcase(s, tc);
    return s;
}
