/* SPDX-License-Identifier: MIT */
/*
 * fuzz-report.c: the report writers fed hostile strings: a guest's argv, its
 * output, its outcome message, in every outcome. The JSON must parse, the
 * XML must hold no character XML cannot carry and no raw markup from the
 * guest, and nothing may crash or leak.
 *
 * Input: an outcome byte, an exit/signal byte, then NUL-separated fields:
 * message, stdout, stderr, argv[0], argv[1], ...
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/result.h"
#include "core/runner.h"
#include "util/strv.h"

static char *next_field(const char **p, const char *end, size_t *len)
{
    const char *s = *p, *z = memchr(s, '\0', (size_t)(end - s));
    char *out;

    if (!z)
        z = end;
    *len = (size_t)(z - s);
    out = malloc(*len + 1);
    if (!out)
        abort();
    memcpy(out, s, *len);
    out[*len] = '\0';
    *p = z < end ? z + 1 : end;
    return out;
}

static void set_stream(struct result_stream *st, char *data, size_t len)
{
    st->data = data;
    st->len = len;
    st->head_len = len;
    st->total = len;
    st->omitted = 0;
}

static char *render(sbvm_runner *rn, int (*fn)(const sbvm_runner *, FILE *, sbvm_error **),
                    size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    if (!f)
        abort();
    fn(rn, f, NULL);
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p, *end;
    sbvm_runner *rn;
    sbvm_config *cfg;
    struct strv argv = STRV_INIT;
    struct runner_guest *g;
    char *msg, *out, *err, *text;
    size_t mlen, olen, elen, tlen;
    json_t *root;

    if (size < 2)
        return 0;
    p = (const char *)data + 2;
    end = (const char *)data + size;
    msg = next_field(&p, end, &mlen);
    out = next_field(&p, end, &olen);
    err = next_field(&p, end, &elen);
    while (p < end && argv.n < 16) {
        size_t alen;
        char *a = next_field(&p, end, &alen);
        strv_push(&argv, a);
        free(a);
    }
    if (argv.n == 0)
        strv_push(&argv, "guest");

    rn = sbvm_runner_new();
    cfg = sbvm_config_new();
    if (sbvm_config_set_argv(cfg, argv.n, (const char *const *)argv.v, NULL) < 0 ||
        sbvm_runner_add(rn, cfg, NULL) < 0) {
        sbvm_config_free(cfg);
        sbvm_runner_free(rn);
        strv_release(&argv);
        free(msg);
        free(out);
        free(err);
        return 0;
    }
    sbvm_config_free(cfg);
    g = rn->guests[0];
    free(g->name);
    g->name = strdup("fuzz");
    g->state = RG_DONE;
    g->result = result_new(g->name, &g->cfg->argv);
    g->result->outcome = (enum sbvm_outcome)(data[0] % 8);
    g->result->exit_code = data[1];
    g->result->signal = data[1] % 65;
    result_set_message(g->result, "%s", msg);
    set_stream(&g->result->out, out, olen);
    set_stream(&g->result->err, err, elen);

    text = render(rn, sbvm_report_json, &tlen);
    root = json_loadb(text, tlen, JSON_ALLOW_NUL, NULL);
    if (!root)
        abort(); /* the JSON report must always parse */
    json_decref(root);
    free(text);

    text = render(rn, sbvm_report_junit, &tlen);
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            abort(); /* XML 1.0 cannot carry it */
    }
    /* Markup only where the writer put it: a guest's "<" is escaped. */
    if (memmem(text, tlen, "<x>", 3) || memmem(text, tlen, "]]>", 3))
        abort();
    free(text);

    text = render(rn, sbvm_report_summary, &tlen);
    free(text);

    strv_release(&argv);
    free(msg);
    sbvm_runner_free(rn);
    return 0;
}
