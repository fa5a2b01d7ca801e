/* SPDX-License-Identifier: MIT */
/*
 * fuzz-serve.c: what `sandboxvm serve` decodes from a client before it
 * does anything: the route of a request (method and path), the JSON
 * bodies of create, exec, signal, resize and snapshot, base64, and the
 * settings of a sandbox as the server gates and applies them (host paths,
 * secrets, the server's environment), for a client of the server's own
 * uid and for another. HTTP itself is libmicrohttpd's.
 *
 * Input: one selector byte, then the bytes of the part it names (for a
 * route: METHOD, a newline, the path).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/request.h"
#include "server/srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct strbuf why = STRBUF_INIT;
    const char *body;
    size_t len;

    if (size < 1)
        return 0;
    body = (const char *)data + 1;
    len = size - 1;
    switch (data[0] % 8) {
    case 0: {
        /* The path is a C string, as MHD hands it over. */
        char *text = strndup(body, len), *nl;
        struct route r;
        if (!text)
            return 0;
        nl = strchr(text, '\n');
        if (nl) {
            *nl = '\0';
            if (route_parse(text, nl + 1, &r, &why) == 0) {
                (void)route_has_body(&r);
                (void)route_body_is_json(&r);
            }
        }
        free(text);
        break;
    }
    case 1: {
        struct exec_req er;
        if (exec_req_parse(body, len, &er, &why) == 0)
            exec_req_release(&er);
        break;
    }
    case 2: {
        struct create_req cr;
        json_t *doc = NULL;
        if (create_req_parse(body, len, &doc, &cr, &why) == 0)
            json_decref(doc);
        break;
    }
    case 3:
        (void)signal_req_parse(body, len, &why);
        break;
    case 4: {
        unsigned short rows, cols;
        char name[SNAP_NAME_MAX + 1];
        (void)resize_req_parse(body, len, &rows, &cols, &why);
        strbuf_reset(&why);
        (void)snapshot_req_parse(body, len, name, &why);
        break;
    }
    case 5: {
        char *out = NULL;
        size_t n = 0;
        if (b64_decode(body, len, &out, &n) == 0)
            free(out);
        break;
    }
    default: {
        /* Settings, for the server's own uid (odd) or another's (even). */
        struct server s;
        json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL), *safe = NULL;
        sbvm_config *cfg;
        if (!json_is_object(doc)) {
            json_decref(doc);
            break;
        }
        memset(&s, 0, sizeof(s));
        s.uid = 1000;
        s.o.rootfs[0].name = "tree";
        s.o.rootfs[0].path = "/";
        s.o.nrootfs = 1;
        cfg = sbvm_config_new();
        if (cfg && settings_apply(&s, cfg, doc, data[0] & 1 ? 1000 : 1001, &safe, &why) == 0)
            json_decref(safe);
        sbvm_config_free(cfg);
        json_decref(doc);
        break;
    }
    }
    strbuf_release(&why);
    return 0;
}
