/* SPDX-License-Identifier: MIT */
/*
 * request.h: what a client asked, decoded and checked before anything is
 * done: the route (method and path) and the JSON bodies of create, exec,
 * signal, resize and snapshot. Pure (no sandbox, no socket, no file), so a
 * fuzzer drives it alone (tests/fuzz/fuzz-serve.c). Every field is checked
 * for its type and range; an unknown field is an error, as in a profile.
 */
#ifndef SBVM_SERVER_REQUEST_H
#define SBVM_SERVER_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"
#include "util/strv.h"

#define API_VERSION    1
#define ID_MAX         24
#define SNAP_NAME_MAX  64
#define EXEC_ARGS_MAX  4096
#define EXEC_ENV_MAX   1024
#define EXEC_STDIN_MAX (1u << 20)

enum route_kind {
    R_INFO,        /* GET  /v1/info */
    R_SANDBOXES,   /* GET, POST /v1/sandboxes */
    R_SANDBOX,     /* GET, DELETE /v1/sandboxes/ID */
    R_EXEC,        /* POST /v1/sandboxes/ID/exec */
    R_JOBS,        /* GET  /v1/sandboxes/ID/jobs */
    R_JOB,         /* GET, DELETE /v1/sandboxes/ID/jobs/JOB */
    R_JOB_SIGNAL,  /* POST .../jobs/JOB/signal */
    R_JOB_STDIN,   /* POST .../jobs/JOB/stdin */
    R_JOB_RESIZE,  /* POST .../jobs/JOB/resize */
    R_JOB_EVENTS,  /* GET  .../jobs/JOB/events */
    R_FILES,       /* GET, PUT /v1/sandboxes/ID/files?path=P */
    R_SNAPSHOT_OF, /* POST /v1/sandboxes/ID/snapshot */
    R_SNAPSHOTS,   /* GET  /v1/snapshots */
    R_SNAPSHOT,    /* GET, DELETE /v1/snapshots/NAME */
};

enum http_method { M_GET, M_POST, M_PUT, M_DELETE, M_OTHER };

struct route {
    enum route_kind kind;
    enum http_method method;
    char sandbox[ID_MAX + 1];
    char job[ID_MAX + 1];
    char snapshot[SNAP_NAME_MAX + 1];
};

/* 0, or an HTTP status (404: no such path, 405: not that method there)
 * with *why. */
int route_parse(const char *method, const char *path, struct route *r, struct strbuf *why);
enum http_method method_of(const char *method);
/* Whether the route takes a body, and whether it is JSON (else bytes). */
bool route_has_body(const struct route *r);
bool route_body_is_json(const struct route *r);

/* A snapshot's name (and a sandbox's label): [A-Za-z0-9._-]{1,64}, not
 * starting with '.' or '-'. */
bool name_ok(const char *s);

struct create_req {
    const char *label;    /* into the JSON document, valid while it lives */
    json_t *settings;     /* borrowed; NULL: the defaults */
    const char *snapshot; /* restore from */
    json_t *secrets;      /* borrowed: for a restore (a snapshot keeps none) */
    bool persistent;
    bool has_idle, has_lifetime;
    uint64_t idle_ms, lifetime_ms; /* 0: none */
};

struct exec_req {
    struct strv argv;
    struct strv env; /* KEY=VALUE */
    char *cwd, *name;
    char *stdin_data;
    size_t stdin_len;
    bool stdin_open; /* more comes through .../stdin */
    bool terminal;
    unsigned short rows, cols;
    uint64_t timeout_ms, output_bytes;
    bool stream;
    bool keep;   /* on a disconnect: runs on */
    bool detach; /* answer at once with the job; events later */
};

/* Parses a JSON body: 0, or 400 (or 413) with *why. On success the
 * caller owns *doc (create_req's pointers point into it). */
int create_req_parse(const char *body, size_t len, json_t **doc, struct create_req *out,
                     struct strbuf *why);
int exec_req_parse(const char *body, size_t len, struct exec_req *out, struct strbuf *why);
void exec_req_release(struct exec_req *r);
/* {"signal": "TERM" | "SIGTERM" | 15}: the number, or 0 with *why. */
int signal_req_parse(const char *body, size_t len, struct strbuf *why);
int resize_req_parse(const char *body, size_t len, unsigned short *rows, unsigned short *cols,
                     struct strbuf *why);
/* {"name": NAME}: 0 with name copied, or 400 with *why. */
int snapshot_req_parse(const char *body, size_t len, char name[SNAP_NAME_MAX + 1],
                       struct strbuf *why);

/* Seconds (a JSON number >= 0) as ms; false when out of range. */
bool json_seconds(json_t *v, uint64_t *ms);
/* Standard base64 (RFC 4648, padding required): 0, or -EINVAL. *out is
 * malloc'd (NUL-terminated for convenience). */
int b64_decode(const char *in, size_t len, char **out, size_t *outlen);

#endif
