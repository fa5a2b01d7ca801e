/* SPDX-License-Identifier: MIT */
/* trace.c: the device trace, as text or JSON lines. */
#include "devices/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "devices/virtio.h"
#include "util/error.h"
#include "util/util.h"

static int trace_new(struct devtrace **out, FILE *f, bool json, bool own)
{
    struct devtrace *t = calloc(1, sizeof(*t));

    if (!t)
        return -ENOMEM;
    t->f = f;
    t->json = json;
    t->own = own;
    t->t0 = now_mono_ns();
    *out = t;
    return 0;
}

int trace_open(struct devtrace **out, const char *path, bool json, sbvm_error **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    FILE *f;

    if (fd < 0)
        return error_sys(err, errno, "opening the device trace %s", path);
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return error_sys(err, errno, "opening the device trace %s", path);
    }
    if (trace_new(out, f, json, true) < 0) {
        fclose(f);
        return error_set(err, ENOMEM, "opening the device trace: out of memory");
    }
    return 0;
}

int trace_attach(struct devtrace **out, FILE *f, bool json)
{
    return trace_new(out, f, json, false);
}

void trace_close(struct devtrace *t)
{
    if (!t)
        return;
    if (t->own)
        fclose(t->f);
    else
        fflush(t->f);
    free(t);
}

static double elapsed(const struct devtrace *t)
{
    return (double)(now_mono_ns() - t->t0) / 1e9;
}

static void emit(struct devtrace *t, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);

    if (s) {
        fputs(s, t->f);
        fputc('\n', t->f);
        free(s);
    }
    json_decref(o);
    t->lines++;
}

void trace_access(struct devtrace *t, const char *dev, const char *space, bool write, uint64_t off,
                  unsigned width, uint64_t val)
{
    if (!t)
        return;
    if (t->json) {
        emit(t, json_pack("{s:f, s:s, s:s, s:s, s:s, s:I, s:i, s:I}", "t", elapsed(t), "dev", dev,
                          "kind", "access", "space", space, "op", write ? "write" : "read", "off",
                          (json_int_t)off, "width", (int)width, "value", (json_int_t)val));
        return;
    }
    fprintf(t->f, "%10.6f %s %s %s +0x%03" PRIx64 " /%u %s 0x%" PRIx64 "\n", elapsed(t), dev, space,
            write ? "write" : "read ", off, width, write ? "<-" : "->", val);
    t->lines++;
}

void trace_request(struct devtrace *t, const char *dev, const struct vdev_reqinfo *i)
{
    if (!t)
        return;
    if (t->json) {
        json_t *o =
            json_pack("{s:f, s:s, s:s, s:i, s:i, s:s, s:I, s:s, s:b}", "t", elapsed(t), "dev", dev,
                      "kind", "request", "queue", (int)i->queue, "head", (int)i->head, "op",
                      i->op ? i->op : "?", "bytes", (json_int_t)i->bytes, "status",
                      i->status ? i->status : "?", "failed", i->failed);
        if (o && i->has_lba) {
            json_object_set_new(o, "lba", json_integer((json_int_t)i->lba));
            json_object_set_new(o, "blocks", json_integer((json_int_t)i->blocks));
        }
        if (o && i->detail[0])
            json_object_set_new(o, "detail", json_string(i->detail));
        emit(t, o);
        return;
    }
    fprintf(t->f, "%10.6f %s q%u #%u %s", elapsed(t), dev, i->queue, i->head, i->op ? i->op : "?");
    if (i->has_lba)
        fprintf(t->f, " lba %" PRIu64 " x%" PRIu64, i->lba, i->blocks);
    fprintf(t->f, " %" PRIu64 " bytes -> %s%s%s\n", i->bytes, i->status ? i->status : "?",
            i->detail[0] ? ": " : "", i->detail);
    t->lines++;
}

void trace_event(struct devtrace *t, const char *dev, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (!t)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (t->json) {
        emit(t, json_pack("{s:f, s:s, s:s, s:s}", "t", elapsed(t), "dev", dev, "kind", "event",
                          "what", buf));
        return;
    }
    fprintf(t->f, "%10.6f %s %s\n", elapsed(t), dev, buf);
    t->lines++;
}
