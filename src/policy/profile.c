/* SPDX-License-Identifier: MIT */
/*
 * profile.c: a profile file (JSON, docs/PROFILES.md) applied to a config.
 * Everything in it is checked: an unknown field, a value of the wrong type
 * or out of range is refused with the field's path and the reason, and the
 * config is left as it was (the profile is applied to a copy first).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/util.h"

#define PROFILE_MAX_BYTES (256 * 1024)

struct ctx {
    const char *file;
    sbvm_error **err;
};

__attribute__((format(printf, 3, 4))) static int bad(struct ctx *c, const char *field,
                                                     const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = error_vfield(c->err, EINVAL, "profile ", c->file, field, fmt, ap);
    va_end(ap);
    return r;
}

/* A library error about a value, with the field it came from in front. */
static int wrap(struct ctx *c, const char *field, sbvm_error *e, int r)
{
    r = error_set(c->err, sbvm_error_code(e) ? sbvm_error_code(e) : EINVAL, "profile %s: %s: %s",
                  c->file, field, sbvm_error_message(e));
    sbvm_error_free(e);
    return r;
}

/* Refuses any key of obj not in `known` (NULL-terminated). */
static int only_known(struct ctx *c, const char *where, json_t *obj, const char *const *known)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        (void)v;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = streq(key, known[i]);
        if (!ok) {
            struct strbuf f = STRBUF_INIT;
            int r;
            strbuf_addf(&f, "%s%s%s", where, *where ? "." : "", key);
            r = bad(c, strbuf_failed(&f) ? key : f.buf, "unknown field");
            strbuf_release(&f);
            return r;
        }
    }
    return 0;
}

static int want_string(struct ctx *c, const char *field, json_t *v, const char **out)
{
    if (!json_is_string(v))
        return bad(c, field, "expected a string");
    *out = json_string_value(v);
    if (strlen(*out) != json_string_length(v))
        return bad(c, field, "a string with a NUL byte");
    return 0;
}

/* A size: a number of bytes, or a string like "512M". */
static int want_size(struct ctx *c, const char *field, json_t *v, uint64_t *out)
{
    const char *s;

    if (json_is_integer(v)) {
        if (json_integer_value(v) <= 0)
            return bad(c, field, "must be positive");
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return bad(c, field, "expected a size like \"512M\" or a number of bytes");
    s = json_string_value(v);
    if (parse_size(s, out) < 0)
        return bad(c, field, "expected a size like \"512M\", not \"%s\"", s);
    return 0;
}

/* Seconds: a number (fractions allowed) -> ms (seconds_to_ms). */
static int want_seconds(struct ctx *c, const char *field, json_t *v, uint64_t *ms)
{
    if (!json_is_number(v) || seconds_to_ms(json_number_value(v), ms) < 0)
        return bad(c, field, "expected a positive number of seconds, at most 10000000");
    return 0;
}

static int want_count(struct ctx *c, const char *field, json_t *v, uint64_t max, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 1 || (uint64_t)json_integer_value(v) > max)
        return bad(c, field, "expected a whole number from 1 to %llu", (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int apply_limits(struct ctx *c, sbvm_config *cfg, json_t *o)
{
    const char *known[SBVM_LIMIT__COUNT + 1];
    int r;

    if (!json_is_object(o))
        return bad(c, "limits", "expected an object");
    for (int l = 0; l < SBVM_LIMIT__COUNT; l++)
        known[l] = sbvm_limit_name((enum sbvm_limit)l);
    known[SBVM_LIMIT__COUNT] = NULL;
    if ((r = only_known(c, "limits", o, known)) < 0)
        return r;
    for (int l = 0; l < SBVM_LIMIT__COUNT; l++) {
        json_t *v = json_object_get(o, known[l]);
        char field[32];
        uint64_t val;
        sbvm_error *e = NULL;
        if (!v)
            continue;
        snprintf(field, sizeof(field), "limits.%s", known[l]);
        if (l == SBVM_LIMIT_TIME || l == SBVM_LIMIT_CPU)
            r = want_seconds(c, field, v, &val);
        else if (l == SBVM_LIMIT_PIDS || l == SBVM_LIMIT_FILES)
            r = want_count(c, field, v, 1u << 22, &val);
        else
            r = want_size(c, field, v, &val);
        if (r < 0)
            return r;
        if (sbvm_config_set_limit(cfg, (enum sbvm_limit)l, val, &e) < 0)
            return wrap(c, field, e, -EINVAL);
    }
    return 0;
}

static int apply_env(struct ctx *c, sbvm_config *cfg, json_t *o)
{
    const char *key;
    json_t *v;

    if (!json_is_object(o))
        return bad(c, "env", "expected an object of NAME: value");
    json_object_foreach(o, key, v)
    {
        const char *val;
        sbvm_error *e = NULL;
        char field[300];
        int r;
        snprintf(field, sizeof(field), "env.%.280s", key);
        if ((r = want_string(c, field, v, &val)) < 0)
            return r;
        if (sbvm_config_setenv(cfg, key, val, &e) < 0)
            return wrap(c, field, e, -EINVAL);
    }
    return 0;
}

static int apply_mounts(struct ctx *c, sbvm_config *cfg, json_t *a)
{
    static const char *const known[] = { "ro", "rw", "tmpfs", "hide", "at", "size", NULL };
    size_t i;
    json_t *m;

    if (!json_is_array(a))
        return bad(c, "mounts", "expected an array");
    json_array_foreach(a, i, m)
    {
        char field[48];
        const char *src = NULL, *at = NULL;
        enum sbvm_mount_kind kind;
        json_t *v;
        uint64_t size = 0;
        sbvm_error *e = NULL;
        int r, kinds = 0;

        snprintf(field, sizeof(field), "mounts[%zu]", i);
        if (!json_is_object(m))
            return bad(c, field, "expected an object like {\"ro\": \"/src\", \"at\": \"/dst\"}");
        if ((r = only_known(c, field, m, known)) < 0)
            return r;
        kinds = !!json_object_get(m, "ro") + !!json_object_get(m, "rw") +
                !!json_object_get(m, "tmpfs") + !!json_object_get(m, "hide");
        if (kinds != 1)
            return bad(c, field, "give exactly one of ro, rw, tmpfs, hide");
        kind = json_object_get(m, "ro")      ? SBVM_MOUNT_RO
               : json_object_get(m, "rw")    ? SBVM_MOUNT_RW
               : json_object_get(m, "tmpfs") ? SBVM_MOUNT_TMPFS
                                             : SBVM_MOUNT_HIDE;
        v = json_object_get(m, kind == SBVM_MOUNT_RO      ? "ro"
                               : kind == SBVM_MOUNT_RW    ? "rw"
                               : kind == SBVM_MOUNT_TMPFS ? "tmpfs"
                                                          : "hide");
        if ((r = want_string(c, field, v, &src)) < 0)
            return r;
        if ((v = json_object_get(m, "at"))) {
            if (kind == SBVM_MOUNT_TMPFS || kind == SBVM_MOUNT_HIDE)
                return bad(c, field, "\"at\" is for ro and rw mounts");
            if ((r = want_string(c, field, v, &at)) < 0)
                return r;
        }
        if ((v = json_object_get(m, "size"))) {
            if (kind != SBVM_MOUNT_TMPFS)
                return bad(c, field, "\"size\" is for tmpfs mounts");
            if ((r = want_size(c, field, v, &size)) < 0)
                return r;
        }
        if (kind == SBVM_MOUNT_TMPFS || kind == SBVM_MOUNT_HIDE)
            r = sbvm_config_add_mount(cfg, kind, NULL, src, size, &e);
        else
            r = sbvm_config_add_mount(cfg, kind, src, at, 0, &e);
        if (r < 0)
            return wrap(c, field, e, r);
    }
    return 0;
}

static int apply_copies(struct ctx *c, sbvm_config *cfg, json_t *a, bool out)
{
    static const char *const known[] = { "from", "to", NULL };
    const char *name = out ? "copy_out" : "copy_in";
    size_t i;
    json_t *m;

    if (!json_is_array(a))
        return bad(c, name, "expected an array");
    json_array_foreach(a, i, m)
    {
        char field[48];
        const char *from, *to;
        sbvm_error *e = NULL;
        int r;

        snprintf(field, sizeof(field), "%s[%zu]", name, i);
        if (!json_is_object(m))
            return bad(c, field, "expected {\"from\": ..., \"to\": ...}");
        if ((r = only_known(c, field, m, known)) < 0 ||
            (r = want_string(c, field, json_object_get(m, "from"), &from)) < 0 ||
            (r = want_string(c, field, json_object_get(m, "to"), &to)) < 0)
            return r;
        r = out ? sbvm_config_add_copy_out(cfg, from, to, &e)
                : sbvm_config_add_copy_in(cfg, from, to, &e);
        if (r < 0)
            return wrap(c, field, e, r);
    }
    return 0;
}

static int apply_network(struct ctx *c, sbvm_config *cfg, json_t *o)
{
    static const char *const known[] = { "mode", "allow", "allow_private", "secrets", NULL };
    const char *mode;
    json_t *v;
    size_t i;
    int r;

    if (!json_is_object(o))
        return bad(c, "network", "expected an object");
    if ((r = only_known(c, "network", o, known)) < 0)
        return r;
    if ((r = want_string(c, "network.mode", json_object_get(o, "mode"), &mode)) < 0)
        return r;
    if (streq(mode, "none"))
        sbvm_config_set_net(cfg, SBVM_NET_NONE);
    else if (streq(mode, "host"))
        sbvm_config_set_net(cfg, SBVM_NET_HOST);
    else if (streq(mode, "allow"))
        sbvm_config_set_net(cfg, SBVM_NET_ALLOW);
    else
        return bad(c, "network.mode", "expected \"none\", \"host\" or \"allow\", not \"%s\"", mode);
    if ((v = json_object_get(o, "allow"))) {
        if (!streq(mode, "allow"))
            return bad(c, "network.allow", "rules need \"mode\": \"allow\"");
        if (!json_is_array(v))
            return bad(c, "network.allow", "expected an array of rules");
        for (i = 0; i < json_array_size(v); i++) {
            char field[40];
            const char *rule;
            sbvm_error *e = NULL;
            snprintf(field, sizeof(field), "network.allow[%zu]", i);
            if ((r = want_string(c, field, json_array_get(v, i), &rule)) < 0)
                return r;
            if (sbvm_config_net_allow(cfg, rule, &e) < 0)
                return wrap(c, field, e, -EINVAL);
        }
    }
    if ((v = json_object_get(o, "allow_private"))) {
        if (!json_is_boolean(v))
            return bad(c, "network.allow_private", "expected true or false");
        sbvm_config_set_net_allow_private(cfg, json_is_true(v));
    }
    if ((v = json_object_get(o, "secrets"))) {
        static const char *const sknown[] = { "name", "value_from_env", "host", NULL };
        if (!json_is_array(v))
            return bad(c, "network.secrets", "expected an array");
        for (i = 0; i < json_array_size(v); i++) {
            json_t *s = json_array_get(v, i);
            char field[40];
            const char *name, *envname, *host, *val;
            struct strbuf spec = STRBUF_INIT;
            sbvm_error *e = NULL;
            snprintf(field, sizeof(field), "network.secrets[%zu]", i);
            /* A profile never holds a secret's value: it names the caller's
             * environment variable that does. */
            if (!json_is_object(s))
                return bad(c, field, "expected {\"name\", \"value_from_env\", \"host\"}");
            if ((r = only_known(c, field, s, sknown)) < 0 ||
                (r = want_string(c, field, json_object_get(s, "name"), &name)) < 0 ||
                (r = want_string(c, field, json_object_get(s, "value_from_env"), &envname)) < 0 ||
                (r = want_string(c, field, json_object_get(s, "host"), &host)) < 0)
                return r;
            val = getenv(envname);
            if (!val || !*val)
                return bad(c, field, "the environment variable %s is not set", envname);
            strbuf_addf(&spec, "%s=%s@%s", name, val, host);
            r = strbuf_failed(&spec) ? -ENOMEM : sbvm_config_add_secret(cfg, spec.buf, &e);
            if (spec.buf)
                explicit_bzero(spec.buf, spec.len);
            strbuf_release(&spec);
            if (r < 0)
                return e ? wrap(c, field, e, r) : bad(c, field, "out of memory");
        }
    }
    return 0;
}

static int apply_syscalls(struct ctx *c, sbvm_config *cfg, json_t *o)
{
    static const char *const known[] = { "deny", "allow", NULL };
    int r;

    if (!json_is_object(o))
        return bad(c, "syscalls", "expected an object");
    if ((r = only_known(c, "syscalls", o, known)) < 0)
        return r;
    for (int which = 0; which < 2; which++) {
        json_t *a = json_object_get(o, known[which]);
        if (!a)
            continue;
        if (!json_is_array(a))
            return bad(c, known[which], "expected an array of syscall names");
        for (size_t i = 0; i < json_array_size(a); i++) {
            char field[40];
            const char *name;
            sbvm_error *e = NULL;
            snprintf(field, sizeof(field), "syscalls.%s[%zu]", known[which], i);
            if ((r = want_string(c, field, json_array_get(a, i), &name)) < 0)
                return r;
            r = which == 0 ? sbvm_config_deny_syscall(cfg, name, &e)
                           : sbvm_config_allow_syscall(cfg, name, &e);
            if (r < 0)
                return wrap(c, field, e, r);
        }
    }
    return 0;
}

static int apply(struct ctx *c, sbvm_config *cfg, json_t *root)
{
    static const char *const known[] = { "schema",   "schema_version", "description",
                                         "env",      "keep_env",       "cwd",
                                         "limits",   "mounts",         "copy_in",
                                         "copy_out", "rootfs",         "network",
                                         "syscalls", "symbolize",      NULL };
    json_t *v;
    const char *s;
    sbvm_error *e = NULL;
    int r;

    if (!json_is_object(root))
        return bad(c, "(top)", "expected a JSON object");
    if ((r = only_known(c, "", root, known)) < 0)
        return r;
    v = json_object_get(root, "schema");
    if (!json_is_string(v) || !streq(json_string_value(v), "sandboxvm-profile"))
        return bad(c, "schema", "expected \"sandboxvm-profile\"");
    v = json_object_get(root, "schema_version");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return bad(c, "schema_version", "this sandboxvm reads version 1");
    if ((v = json_object_get(root, "description")) && !json_is_string(v))
        return bad(c, "description", "expected a string");
    if ((v = json_object_get(root, "keep_env"))) {
        if (!json_is_boolean(v))
            return bad(c, "keep_env", "expected true or false");
        sbvm_config_set_keep_env(cfg, json_is_true(v));
    }
    if ((v = json_object_get(root, "env")) && (r = apply_env(c, cfg, v)) < 0)
        return r;
    if ((v = json_object_get(root, "cwd"))) {
        if ((r = want_string(c, "cwd", v, &s)) < 0)
            return r;
        if (sbvm_config_set_cwd(cfg, s, &e) < 0)
            return wrap(c, "cwd", e, -EINVAL);
    }
    if ((v = json_object_get(root, "limits")) && (r = apply_limits(c, cfg, v)) < 0)
        return r;
    if ((v = json_object_get(root, "rootfs"))) {
        if ((r = want_string(c, "rootfs", v, &s)) < 0)
            return r;
        if (sbvm_config_set_rootfs(cfg, s, &e) < 0)
            return wrap(c, "rootfs", e, -EINVAL);
    }
    if ((v = json_object_get(root, "mounts")) && (r = apply_mounts(c, cfg, v)) < 0)
        return r;
    if ((v = json_object_get(root, "copy_in")) && (r = apply_copies(c, cfg, v, false)) < 0)
        return r;
    if ((v = json_object_get(root, "copy_out")) && (r = apply_copies(c, cfg, v, true)) < 0)
        return r;
    if ((v = json_object_get(root, "network")) && (r = apply_network(c, cfg, v)) < 0)
        return r;
    if ((v = json_object_get(root, "syscalls")) && (r = apply_syscalls(c, cfg, v)) < 0)
        return r;
    if ((v = json_object_get(root, "symbolize"))) {
        if (!json_is_boolean(v))
            return bad(c, "symbolize", "expected true or false");
        sbvm_config_set_symbolize(cfg, json_is_true(v));
    }
    return 0;
}

SBVM_API int sbvm_config_load_profile(sbvm_config *cfg, const char *path, sbvm_error **err)
{
    struct ctx c = { path, err };
    char *text = NULL;
    size_t len = 0;
    json_error_t je;
    json_t *root;
    sbvm_config *tmp;
    int r;

    r = read_file_at(AT_FDCWD, path, PROFILE_MAX_BYTES, &text, &len);
    if (r == -EFBIG)
        return error_set(err, EFBIG, "profile %s: larger than %d KiB", path,
                         PROFILE_MAX_BYTES / 1024);
    if (r < 0)
        return error_sys(err, -r, "profile %s", path);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!root)
        return error_set(err, EINVAL, "profile %s: line %d, column %d: %s", path, je.line,
                         je.column, je.text);
    /* All or nothing: applied to a copy, which replaces cfg on success. */
    tmp = sbvm_config_dup(cfg);
    if (!tmp) {
        json_decref(root);
        return error_set(err, ENOMEM, "out of memory");
    }
    r = apply(&c, tmp, root);
    json_decref(root);
    if (r < 0) {
        sbvm_config_free(tmp);
        return r;
    }
    config_swap(cfg, tmp);
    sbvm_config_free(tmp);
    return 0;
}
