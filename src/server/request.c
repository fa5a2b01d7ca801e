/* SPDX-License-Identifier: MIT */
/*
 * request.c: routes and request bodies of the session API, decoded and
 * checked (request.h). Nothing here trusts its input: paths are split by
 * hand with bounded parts, JSON is parsed by jansson with duplicate keys
 * refused, and every field is checked for its type and range.
 */
#include "server/request.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "util/util.h"

enum http_method method_of(const char *m)
{
    if (streq(m, "GET") || streq(m, "HEAD"))
        return M_GET;
    if (streq(m, "POST"))
        return M_POST;
    if (streq(m, "PUT"))
        return M_PUT;
    if (streq(m, "DELETE"))
        return M_DELETE;
    return M_OTHER;
}

bool name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > SNAP_NAME_MAX || s[0] == '.' || s[0] == '-')
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Ids the server hands out: "sb-" and hex for sandboxes, "j" and digits
 * for jobs; anything else names nothing. */
static bool id_ok(const char *s, size_t n)
{
    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

/* The next path segment of *p (after one '/'): its start and length. */
static bool segment(const char **p, const char **seg, size_t *len)
{
    if (**p != '/')
        return false;
    (*p)++;
    *seg = *p;
    *len = strcspn(*p, "/");
    *p += *len;
    return *len > 0;
}

static bool seg_is(const char *seg, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(seg, word, len) == 0;
}

static int allow(struct route *r, struct strbuf *why, unsigned methods)
{
    static const char *const names[] = { "GET", "POST", "PUT", "DELETE" };
    if (r->method != M_OTHER && (methods & (1u << r->method)))
        return 0;
    strbuf_addstr(why, "this path takes");
    for (unsigned m = 0; m < 4; m++)
        if (methods & (1u << m))
            strbuf_addf(why, " %s", names[m]);
    return 405;
}

#define G (1u << M_GET)
#define P (1u << M_POST)
#define U (1u << M_PUT)
#define D (1u << M_DELETE)

int route_parse(const char *method, const char *path, struct route *r, struct strbuf *why)
{
    const char *p = path, *seg;
    size_t len;

    memset(r, 0, sizeof(*r));
    r->method = method_of(method);
    if (!segment(&p, &seg, &len) || !seg_is(seg, len, "v1")) {
        strbuf_addstr(why, "no such path: the API's paths start with /v1/ (docs/API.md)");
        return 404;
    }
    if (!segment(&p, &seg, &len))
        goto nopath;
    if (seg_is(seg, len, "info") && !*p) {
        r->kind = R_INFO;
        return allow(r, why, G);
    }
    if (seg_is(seg, len, "snapshots")) {
        if (!*p) {
            r->kind = R_SNAPSHOTS;
            return allow(r, why, G);
        }
        if (!segment(&p, &seg, &len) || *p || len > SNAP_NAME_MAX)
            goto nopath;
        memcpy(r->snapshot, seg, len);
        r->snapshot[len] = '\0';
        if (!name_ok(r->snapshot))
            goto nopath;
        r->kind = R_SNAPSHOT;
        return allow(r, why, G | D);
    }
    if (!seg_is(seg, len, "sandboxes"))
        goto nopath;
    if (!*p) {
        r->kind = R_SANDBOXES;
        return allow(r, why, G | P);
    }
    if (!segment(&p, &seg, &len) || !id_ok(seg, len))
        goto nopath;
    memcpy(r->sandbox, seg, len);
    r->sandbox[len] = '\0';
    if (!*p) {
        r->kind = R_SANDBOX;
        return allow(r, why, G | D);
    }
    if (!segment(&p, &seg, &len))
        goto nopath;
    if (seg_is(seg, len, "exec") && !*p) {
        r->kind = R_EXEC;
        return allow(r, why, P);
    }
    if (seg_is(seg, len, "files") && !*p) {
        r->kind = R_FILES;
        return allow(r, why, G | U);
    }
    if (seg_is(seg, len, "snapshot") && !*p) {
        r->kind = R_SNAPSHOT_OF;
        return allow(r, why, P);
    }
    if (!seg_is(seg, len, "jobs"))
        goto nopath;
    if (!*p) {
        r->kind = R_JOBS;
        return allow(r, why, G);
    }
    if (!segment(&p, &seg, &len) || !id_ok(seg, len))
        goto nopath;
    memcpy(r->job, seg, len);
    r->job[len] = '\0';
    if (!*p) {
        r->kind = R_JOB;
        return allow(r, why, G | D);
    }
    if (!segment(&p, &seg, &len) || *p)
        goto nopath;
    if (seg_is(seg, len, "signal"))
        r->kind = R_JOB_SIGNAL;
    else if (seg_is(seg, len, "stdin"))
        r->kind = R_JOB_STDIN;
    else if (seg_is(seg, len, "resize"))
        r->kind = R_JOB_RESIZE;
    else if (seg_is(seg, len, "events"))
        return r->kind = R_JOB_EVENTS, allow(r, why, G);
    else
        goto nopath;
    return allow(r, why, P);
nopath:
    strbuf_addstr(why, "no such path (docs/API.md lists them)");
    return 404;
}

bool route_has_body(const struct route *r)
{
    return r->method == M_POST || r->method == M_PUT;
}

bool route_body_is_json(const struct route *r)
{
    return !(r->kind == R_FILES || r->kind == R_JOB_STDIN);
}

/* ---- JSON bodies ------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static int bad(struct strbuf *why, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(why, fmt, ap);
    va_end(ap);
    return 400;
}

/* The body as a JSON object (an empty body is {}). */
static int load_object(const char *body, size_t len, json_t **out, struct strbuf *why)
{
    json_error_t je;
    json_t *doc;

    *out = NULL;
    if (len == 0) {
        *out = json_object();
        return *out ? 0 : bad(why, "out of memory");
    }
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return bad(why, "the body is not JSON: line %d, column %d: %s", je.line, je.column,
                   je.text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return bad(why, "the body must be a JSON object");
    }
    *out = doc;
    return 0;
}

static int only_known(json_t *obj, const char *const *known, struct strbuf *why)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        (void)v;
        for (size_t i = 0; known[i]; i++)
            ok |= streq(key, known[i]);
        if (!ok) {
            strbuf_addstr(why, "unknown field \"");
            /* The key is the client's: printable ASCII only in our message. */
            for (const char *k = key; *k && k - key < 64; k++)
                strbuf_addch(why, *k >= 0x20 && *k < 0x7f && *k != '"' ? *k : '?');
            strbuf_addstr(why, "\" (docs/API.md lists the fields)");
            return 400;
        }
    }
    return 0;
}

bool json_seconds(json_t *v, uint64_t *ms)
{
    double d;

    if (!json_is_number(v))
        return false;
    d = json_number_value(v);
    /* 10 years is more than any lifetime: a bound, not a policy. */
    if (!(d >= 0 && d <= 10.0 * 365 * 24 * 3600))
        return false;
    *ms = (uint64_t)(d * 1000.0 + 0.5);
    return true;
}

static int want_bool(json_t *o, const char *key, bool *out, struct strbuf *why)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return bad(why, "%s: expected true or false", key);
    *out = json_is_true(v);
    return 0;
}

/* A string without NUL bytes (jansson allows them inside strings). */
static int want_str(json_t *o, const char *key, const char **out, size_t max, struct strbuf *why)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return 0;
    if (!json_is_string(v))
        return bad(why, "%s: expected a string", key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return bad(why, "%s: a NUL byte in the string", key);
    if (json_string_length(v) > max)
        return bad(why, "%s: longer than %zu bytes", key, max);
    *out = json_string_value(v);
    return 0;
}

int create_req_parse(const char *body, size_t len, json_t **doc, struct create_req *out,
                     struct strbuf *why)
{
    static const char *const known[] = { "name",         "settings",     "snapshot",   "secrets",
                                         "idle_timeout", "max_lifetime", "persistent", NULL };
    json_t *v;
    int r;

    memset(out, 0, sizeof(*out));
    if ((r = load_object(body, len, doc, why)) != 0)
        return r;
    if ((r = only_known(*doc, known, why)) != 0 ||
        (r = want_str(*doc, "name", &out->label, SNAP_NAME_MAX, why)) != 0 ||
        (r = want_str(*doc, "snapshot", &out->snapshot, SNAP_NAME_MAX, why)) != 0 ||
        (r = want_bool(*doc, "persistent", &out->persistent, why)) != 0)
        goto fail;
    if (out->label && !name_ok(out->label)) {
        r = bad(why, "name: 1 to 64 characters from [A-Za-z0-9._-], not starting with '.' or '-'");
        goto fail;
    }
    if (out->snapshot && !name_ok(out->snapshot)) {
        r = bad(why, "snapshot: not a snapshot name");
        goto fail;
    }
    if ((v = json_object_get(*doc, "settings"))) {
        if (!json_is_object(v)) {
            r = bad(why, "settings: expected an object (the fields of a profile)");
            goto fail;
        }
        if (out->snapshot) {
            r = bad(why, "settings: a restored sandbox has its snapshot's settings");
            goto fail;
        }
        out->settings = v;
    }
    if ((v = json_object_get(*doc, "secrets"))) {
        if (!json_is_array(v)) {
            r = bad(why, "secrets: expected an array of {\"name\", \"value\", \"host\"}");
            goto fail;
        }
        if (!out->snapshot) {
            r = bad(why, "secrets: only with \"snapshot\" (else in settings.network.secrets)");
            goto fail;
        }
        out->secrets = v;
    }
    if ((v = json_object_get(*doc, "idle_timeout"))) {
        if (!json_seconds(v, &out->idle_ms)) {
            r = bad(why, "idle_timeout: expected seconds (0: none)");
            goto fail;
        }
        out->has_idle = true;
    }
    if ((v = json_object_get(*doc, "max_lifetime"))) {
        if (!json_seconds(v, &out->lifetime_ms)) {
            r = bad(why, "max_lifetime: expected seconds (0: none)");
            goto fail;
        }
        out->has_lifetime = true;
    }
    return 0;
fail:
    json_decref(*doc);
    *doc = NULL;
    return r;
}

void exec_req_release(struct exec_req *r)
{
    strv_release(&r->argv);
    strv_release(&r->env);
    free(r->cwd);
    free(r->name);
    free(r->stdin_data);
    memset(r, 0, sizeof(*r));
}

static int exec_argv(json_t *doc, struct exec_req *out, struct strbuf *why)
{
    json_t *argv = json_object_get(doc, "argv"), *shell = json_object_get(doc, "shell");
    size_t total = 0;

    if (!!argv == !!shell)
        return bad(why, "give either \"argv\" (an array of strings) or \"shell\" (a string)");
    if (shell) {
        const char *s = NULL;
        int r = want_str(doc, "shell", &s, 1u << 20, why);
        if (r)
            return r;
        if (strv_push(&out->argv, "/bin/sh") < 0 || strv_push(&out->argv, "-c") < 0 ||
            strv_push(&out->argv, s) < 0)
            return bad(why, "out of memory");
        return 0;
    }
    if (!json_is_array(argv) || json_array_size(argv) == 0)
        return bad(why, "argv: expected a non-empty array of strings");
    if (json_array_size(argv) > EXEC_ARGS_MAX)
        return bad(why, "argv: more than %d arguments", EXEC_ARGS_MAX);
    for (size_t i = 0; i < json_array_size(argv); i++) {
        json_t *a = json_array_get(argv, i);
        if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a))
            return bad(why, "argv[%zu]: expected a string without NUL bytes", i);
        total += json_string_length(a) + 1;
        /* The kernel's own bound on argv + envp. */
        if (total > (2u << 20))
            return bad(why, "argv: more than 2 MiB in all");
        if (strv_push(&out->argv, json_string_value(a)) < 0)
            return bad(why, "out of memory");
    }
    if (!*out->argv.v[0])
        return bad(why, "argv[0]: empty");
    return 0;
}

static int exec_env(json_t *doc, struct exec_req *out, struct strbuf *why)
{
    json_t *env = json_object_get(doc, "env"), *v;
    const char *key;

    if (!env)
        return 0;
    if (!json_is_object(env))
        return bad(why, "env: expected an object NAME -> string");
    if (json_object_size(env) > EXEC_ENV_MAX)
        return bad(why, "env: more than %d variables", EXEC_ENV_MAX);
    json_object_foreach(env, key, v)
    {
        struct strbuf kv = STRBUF_INIT;
        size_t kl = strlen(key);
        if (kl == 0 || kl > 255 || strchr(key, '='))
            return bad(why, "env: a name is 1 to 255 bytes without '='");
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            return bad(why, "env: values are strings without NUL bytes");
        strbuf_addf(&kv, "%s=%s", key, json_string_value(v));
        if (strbuf_failed(&kv) || strv_push_owned(&out->env, strbuf_detach(&kv, NULL)) < 0) {
            strbuf_release(&kv);
            return bad(why, "out of memory");
        }
    }
    return 0;
}

static int exec_stdin(json_t *doc, struct exec_req *out, struct strbuf *why)
{
    json_t *s = json_object_get(doc, "stdin"), *b = json_object_get(doc, "stdin_b64");

    if (s && b)
        return bad(why, "give \"stdin\" or \"stdin_b64\", not both");
    if (s) {
        if (!json_is_string(s))
            return bad(why, "stdin: expected a string (or stdin_b64 for bytes)");
        if (json_string_length(s) > EXEC_STDIN_MAX)
            return bad(why, "stdin: more than 1 MiB (put a file, or use an open stdin)");
        out->stdin_len = json_string_length(s);
        out->stdin_data = malloc(out->stdin_len + 1);
        if (!out->stdin_data)
            return bad(why, "out of memory");
        memcpy(out->stdin_data, json_string_value(s), out->stdin_len + 1);
    } else if (b) {
        if (!json_is_string(b) || json_string_length(b) > EXEC_STDIN_MAX / 3 * 4 + 4)
            return bad(why, "stdin_b64: expected base64 of at most 1 MiB");
        if (b64_decode(json_string_value(b), json_string_length(b), &out->stdin_data,
                       &out->stdin_len) < 0)
            return bad(why, "stdin_b64: not base64");
    }
    return want_bool(doc, "stdin_open", &out->stdin_open, why);
}

static int exec_terminal(json_t *doc, struct exec_req *out, struct strbuf *why)
{
    json_t *t = json_object_get(doc, "terminal");

    out->rows = 24;
    out->cols = 80;
    if (!t || json_is_false(t))
        return 0;
    out->terminal = true;
    if (json_is_true(t))
        return 0;
    if (!json_is_object(t))
        return bad(why, "terminal: expected true, false or {\"rows\", \"cols\"}");
    {
        static const char *const known[] = { "rows", "cols", NULL };
        int r = only_known(t, known, why);
        if (r)
            return r;
    }
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(t, i ? "cols" : "rows");
        if (!v)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 4096)
            return bad(why, "terminal.%s: expected 1 to 4096", i ? "cols" : "rows");
        *(i ? &out->cols : &out->rows) = (unsigned short)json_integer_value(v);
    }
    return 0;
}

int exec_req_parse(const char *body, size_t len, struct exec_req *out, struct strbuf *why)
{
    static const char *const known[] = { "argv",          "shell",        "env",
                                         "cwd",           "name",         "stdin",
                                         "stdin_b64",     "stdin_open",   "terminal",
                                         "timeout",       "output_limit", "stream",
                                         "on_disconnect", "detach",       NULL };
    json_t *doc = NULL, *v;
    const char *s = NULL;
    int r;

    memset(out, 0, sizeof(*out));
    out->stream = true;
    if ((r = load_object(body, len, &doc, why)) != 0)
        return r;
    if ((r = only_known(doc, known, why)) != 0 || (r = exec_argv(doc, out, why)) != 0 ||
        (r = exec_env(doc, out, why)) != 0 || (r = exec_stdin(doc, out, why)) != 0 ||
        (r = exec_terminal(doc, out, why)) != 0 ||
        (r = want_bool(doc, "stream", &out->stream, why)) != 0 ||
        (r = want_bool(doc, "detach", &out->detach, why)) != 0)
        goto fail;
    s = NULL;
    if ((r = want_str(doc, "cwd", &s, 4096, why)) != 0)
        goto fail;
    if (s) {
        if (!config_path_plain(s)) {
            r = bad(why, "cwd: expected a plain absolute path");
            goto fail;
        }
        if (!(out->cwd = strdup(s))) {
            r = bad(why, "out of memory");
            goto fail;
        }
    }
    s = NULL;
    if ((r = want_str(doc, "name", &s, SNAP_NAME_MAX, why)) != 0)
        goto fail;
    if (s) {
        if (!name_ok(s)) {
            r = bad(why, "name: 1 to 64 characters from [A-Za-z0-9._-]");
            goto fail;
        }
        if (!(out->name = strdup(s))) {
            r = bad(why, "out of memory");
            goto fail;
        }
    }
    if ((v = json_object_get(doc, "timeout")) && !json_seconds(v, &out->timeout_ms)) {
        r = bad(why, "timeout: expected seconds (0: the sandbox's default)");
        goto fail;
    }
    if ((v = json_object_get(doc, "output_limit"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            r = bad(why, "output_limit: expected bytes (an integer; 0: the default)");
            goto fail;
        }
        out->output_bytes = (uint64_t)json_integer_value(v);
    }
    s = NULL;
    if ((r = want_str(doc, "on_disconnect", &s, 16, why)) != 0)
        goto fail;
    if (s) {
        if (streq(s, "keep"))
            out->keep = true;
        else if (!streq(s, "kill")) {
            r = bad(why, "on_disconnect: expected \"kill\" or \"keep\"");
            goto fail;
        }
    }
    if (out->detach)
        out->keep = true;
    if (out->stdin_open && out->terminal) {
        /* A terminal's input is its master: one path in, the stdin route. */
    }
    json_decref(doc);
    return 0;
fail:
    json_decref(doc);
    exec_req_release(out);
    return r;
}

static const struct {
    const char *name;
    int sig;
} signals[] = {
    { "HUP", SIGHUP },     { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
    { "USR1", SIGUSR1 },   { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "CONT", SIGCONT },
    { "STOP", SIGSTOP },   { "TSTP", SIGTSTP }, { "ALRM", SIGALRM }, { "PIPE", SIGPIPE },
    { "WINCH", SIGWINCH }, { "ABRT", SIGABRT },
};

int signal_req_parse(const char *body, size_t len, struct strbuf *why)
{
    static const char *const known[] = { "signal", NULL };
    json_t *doc = NULL, *v;
    int sig = 0;

    if (load_object(body, len, &doc, why) != 0)
        return 0;
    if (only_known(doc, known, why) != 0)
        goto out;
    v = json_object_get(doc, "signal");
    if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < NSIG) {
        sig = (int)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *n = json_string_value(v);
        if (str_has_prefix(n, "SIG"))
            n += 3;
        for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
            if (streq(n, signals[i].name))
                sig = signals[i].sig;
    }
    if (!sig)
        bad(why, "signal: expected a name (\"TERM\", \"SIGINT\", ...) or a number 1-%d", NSIG - 1);
out:
    json_decref(doc);
    return sig;
}

int resize_req_parse(const char *body, size_t len, unsigned short *rows, unsigned short *cols,
                     struct strbuf *why)
{
    static const char *const known[] = { "rows", "cols", NULL };
    json_t *doc = NULL;
    int r;

    if ((r = load_object(body, len, &doc, why)) != 0)
        return r;
    if ((r = only_known(doc, known, why)) != 0)
        goto out;
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(doc, i ? "cols" : "rows");
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 4096) {
            r = bad(why, "%s: expected 1 to 4096", i ? "cols" : "rows");
            goto out;
        }
        *(i ? cols : rows) = (unsigned short)json_integer_value(v);
    }
out:
    json_decref(doc);
    return r;
}

int snapshot_req_parse(const char *body, size_t len, char name[SNAP_NAME_MAX + 1],
                       struct strbuf *why)
{
    static const char *const known[] = { "name", NULL };
    json_t *doc = NULL;
    const char *s = NULL;
    int r;

    if ((r = load_object(body, len, &doc, why)) != 0)
        return r;
    if ((r = only_known(doc, known, why)) != 0 ||
        (r = want_str(doc, "name", &s, SNAP_NAME_MAX, why)) != 0)
        goto out;
    if (!s || !name_ok(s)) {
        r = bad(why, "name: 1 to 64 characters from [A-Za-z0-9._-], not starting with '.' or '-'");
        goto out;
    }
    memcpy(name, s, strlen(s) + 1);
out:
    json_decref(doc);
    return r;
}

/* ---- base64 ------------------------------------------------------------ */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int b64_decode(const char *in, size_t len, char **out, size_t *outlen)
{
    size_t o = 0;
    char *buf;

    *out = NULL;
    *outlen = 0;
    if (len % 4)
        return -EINVAL;
    buf = malloc(len / 4 * 3 + 1);
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            /* Padding only in the last group's last two places. */
            if (c == '=' && i + 4 == len && k >= 2 && (k == 3 || in[i + 3] == '=')) {
                v[k] = 0;
                pad++;
                continue;
            }
            v[k] = pad ? -1 : b64_value(c);
            if (v[k] < 0) {
                free(buf);
                return -EINVAL;
            }
        }
        buf[o++] = (char)(v[0] << 2 | v[1] >> 4);
        if (pad < 2)
            buf[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        if (pad < 1)
            buf[o++] = (char)((v[2] & 3) << 6 | v[3]);
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}
