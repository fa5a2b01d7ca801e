/* SPDX-License-Identifier: MIT */
/*
 * settings.c: a client's settings for a sandbox: the fields of a profile
 * (docs/PROFILES.md), read by the profile reader itself so that the two
 * never disagree, after the server has taken out what is not a client's to
 * ask for. The server acts with its own rights, so:
 *  - host paths (mounts of host directories, copies, a rootfs given by
 *    path, syscalls allowed beyond the defaults) only for clients of the
 *    server's own uid, who could run sandboxvm themselves; other clients
 *    name a rootfs the server offers (--rootfs NAME=DIR);
 *  - the server's environment never: no keep_env, and a secret's value
 *    comes in the request ({"name", "value", "host"}), never from a
 *    variable of the server (value_from_env would hand the server's
 *    secrets to any client, bound for any host the client names).
 * What the server keeps and shows (inspect, snapshots) has no secret value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/config.h"
#include "server/srv.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/util.h"

static const char *const known[] = { "description", "env",      "cwd",       "limits",
                                     "mounts",      "copy_in",  "copy_out",  "rootfs",
                                     "network",     "syscalls", "symbolize", NULL };

__attribute__((format(printf, 3, 4))) static int refuse(struct strbuf *why, int status,
                                                        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(why, fmt, ap);
    va_end(ap);
    return status;
}

/* Host paths in mounts and copies: the server's own uid only, and absolute. */
static int check_host_paths(json_t *st, bool own, struct strbuf *why)
{
    static const char *const lists[] = { "mounts", "copy_in", "copy_out" };

    for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
        json_t *a = json_object_get(st, lists[l]), *m;
        size_t i;
        if (!a)
            continue;
        if (!json_is_array(a))
            return refuse(why, 400, "settings: %s: expected an array", lists[l]);
        json_array_foreach(a, i, m)
        {
            const char *host = NULL;
            if (!json_is_object(m))
                continue; /* the profile reader says what is wrong */
            if (l == 0) {
                json_t *v = json_object_get(m, "ro");
                if (!v)
                    v = json_object_get(m, "rw");
                host = json_string_value(v);
                if (!v)
                    continue; /* tmpfs, hide: nothing of the host's */
            } else {
                host = json_string_value(json_object_get(m, l == 1 ? "from" : "to"));
            }
            if (!own)
                return refuse(why, 403,
                              "settings: %s[%zu]: host paths are for clients of the server's own "
                              "uid",
                              lists[l], i);
            if (host && host[0] != '/')
                return refuse(why, 400,
                              "settings: %s[%zu]: a host path must be absolute (the server's "
                              "directory is not the client's)",
                              lists[l], i);
        }
    }
    return 0;
}

static int check_rootfs(struct server *s, json_t *st, bool own, struct strbuf *why)
{
    json_t *v = json_object_get(st, "rootfs");
    const char *name;

    if (!v)
        return 0;
    if (!json_is_string(v))
        return refuse(why, 400,
                      "settings: rootfs: expected a name (or, for the server's uid, "
                      "an absolute path)");
    name = json_string_value(v);
    for (size_t i = 0; i < s->o.nrootfs; i++)
        if (streq(name, s->o.rootfs[i].name)) {
            json_object_set_new(st, "rootfs", json_string(s->o.rootfs[i].path));
            return 0;
        }
    if (name[0] == '/' && own)
        return 0;
    return refuse(why, name[0] == '/' ? 403 : 400,
                  "settings: rootfs: %s is not a tree this server offers (GET /v1/info lists "
                  "them)%s",
                  name[0] == '/' ? "that path" : "that name",
                  name[0] == '/' ? "; paths are for clients of the server's own uid" : "");
}

/* Takes the secrets out of st (into *specs, "NAME=VALUE@HOST"), and out of
 * safe their values. */
static int take_secrets(json_t *st, json_t *safe, struct strv *specs, struct strbuf *why)
{
    json_t *net = json_object_get(st, "network"), *list, *m;
    size_t i;

    if (!json_is_object(net) || !(list = json_object_get(net, "secrets")))
        return 0;
    if (!json_is_array(list))
        return refuse(why, 400, "settings: network.secrets: expected an array");
    json_array_foreach(list, i, m)
    {
        static const char *const sk[] = { "name", "value", "host", NULL };
        const char *key, *name, *value, *host;
        json_t *v;
        struct strbuf spec = STRBUF_INIT;
        if (!json_is_object(m))
            return refuse(why, 400,
                          "settings: network.secrets[%zu]: expected {\"name\", \"value\", "
                          "\"host\"}",
                          i);
        json_object_foreach(m, key, v)
        {
            bool ok = false;
            for (size_t k = 0; sk[k]; k++)
                ok |= streq(key, sk[k]);
            if (streq(key, "value_from_env"))
                return refuse(why, 403,
                              "settings: network.secrets[%zu]: value_from_env would read the "
                              "server's environment; send the value itself",
                              i);
            if (!ok)
                return refuse(why, 400,
                              "settings: network.secrets[%zu]: unknown field (name, value, host)",
                              i);
        }
        name = json_string_value(json_object_get(m, "name"));
        value = json_string_value(json_object_get(m, "value"));
        host = json_string_value(json_object_get(m, "host"));
        if (!name || !value || !host ||
            strlen(value) != json_string_length(json_object_get(m, "value")))
            return refuse(why, 400,
                          "settings: network.secrets[%zu]: name, value and host are strings", i);
        strbuf_addf(&spec, "%s=%s@%s", name, value, host);
        if (strbuf_failed(&spec) || strv_push_owned(specs, strbuf_detach(&spec, NULL)) < 0) {
            strbuf_release(&spec);
            return refuse(why, 500, "out of memory");
        }
    }
    json_object_del(net, "secrets");
    /* What is kept and shown: names and hosts. */
    list = json_object_get(json_object_get(safe, "network"), "secrets");
    json_array_foreach(list, i, m) json_object_del(m, "value");
    return 0;
}

/* Runs the profile reader on st: 0, or 400 with its message. */
static int load_as_profile(sbvm_config *cfg, json_t *st, struct strbuf *why)
{
    char path[64], *text;
    _cleanup_close_ int fd = -1;
    sbvm_error *e = NULL;
    int r;

    json_object_set_new(st, "schema", json_string("sandboxvm-profile"));
    json_object_set_new(st, "schema_version", json_integer(1));
    text = json_dumps(st, JSON_COMPACT);
    if (!text)
        return refuse(why, 500, "out of memory");
    fd = memfd_create("sbvm-settings", MFD_CLOEXEC);
    if (fd < 0 || write_full(fd, text, strlen(text)) < 0) {
        free(text);
        return refuse(why, 500, "staging the settings: %s", errno_text(errno));
    }
    free(text);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    r = sbvm_config_load_profile(cfg, path, &e);
    if (r < 0) {
        /* "profile /proc/self/fd/N: field: reason" -> "settings: field: reason" */
        const char *m = sbvm_error_message(e), *p = strstr(m, path);
        int code = sbvm_error_code(e);
        strbuf_addstr(why, "settings");
        strbuf_addstr(why, p ? p + strlen(path) : m);
        sbvm_error_free(e);
        return code == EACCES || code == EPERM ? 403 : 400;
    }
    return 0;
}

int settings_apply(struct server *s, sbvm_config *cfg, json_t *settings, uid_t uid, json_t **safe,
                   struct strbuf *why)
{
    bool own = uid == s->uid;
    struct strv secrets = STRV_INIT;
    json_t *st = NULL, *v;
    const char *key;
    int r;

    *safe = NULL;
    json_object_foreach(settings, key, v)
    {
        bool ok = false;
        (void)v;
        for (size_t i = 0; known[i]; i++)
            ok |= streq(key, known[i]);
        if (streq(key, "keep_env"))
            return refuse(why, 403,
                          "settings: keep_env would hand the server's environment to "
                          "the sandbox; set env instead");
        if (!ok)
            return refuse(why, 400,
                          "settings: unknown field (the fields of a profile but keep_env: "
                          "docs/API.md)");
    }
    if ((r = check_host_paths(settings, own, why)) != 0)
        return r;
    if (!own && json_object_get(settings, "syscalls") &&
        json_object_get(json_object_get(settings, "syscalls"), "allow"))
        return refuse(why, 403,
                      "settings: syscalls.allow weakens the filter: only for clients of the "
                      "server's own uid");
    st = json_deep_copy(settings);
    *safe = json_deep_copy(settings);
    if (!st || !*safe) {
        r = refuse(why, 500, "out of memory");
        goto out;
    }
    if ((r = check_rootfs(s, st, own, why)) != 0 || (r = take_secrets(st, *safe, &secrets, why)))
        goto out;
    if ((r = load_as_profile(cfg, st, why)) != 0)
        goto out;
    for (size_t i = 0; i < secrets.n; i++) {
        sbvm_error *e = NULL;
        if (sbvm_config_add_secret(cfg, secrets.v[i], &e) < 0) {
            r = refuse(why, 400, "settings: network.secrets[%zu]: %s", i, sbvm_error_message(e));
            sbvm_error_free(e);
            goto out;
        }
    }
    /* Output waits in the server for a slow client: always bounded. */
    if (!cfg->limits[SBVM_LIMIT_OUTPUT])
        cfg->limits[SBVM_LIMIT_OUTPUT] = OUTPUT_DEFAULT;
    if (cfg->limits[SBVM_LIMIT_OUTPUT] > OUTPUT_MAX) {
        r = refuse(why, 400, "settings: limits.output: at most %llu bytes on this server",
                   (unsigned long long)OUTPUT_MAX);
        goto out;
    }
    r = 0;
out:
    for (size_t i = 0; i < secrets.n; i++)
        explicit_bzero(secrets.v[i], strlen(secrets.v[i]));
    strv_release(&secrets);
    json_decref(st);
    if (r) {
        json_decref(*safe);
        *safe = NULL;
    }
    return r;
}
