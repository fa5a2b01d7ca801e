/* SPDX-License-Identifier: MIT */
/* devices.c: the list of device models, device descriptions, making a device. */
#include "devices/devices.h"

#include <errno.h>
#include <stdlib.h>

#include "util/error.h"
#include "util/util.h"

/* Every model there is: one explicit list, no constructor tricks. */
static const struct vdev_ops *const models[] = {
    &virtio_blk_ops,
    &virtio_scsi_ops,
};

const struct vdev_ops *dev_lookup(const char *type)
{
    for (size_t i = 0; i < ARRAY_SIZE(models); i++)
        if (streq(models[i]->name, type))
            return models[i];
    return NULL;
}

const char *dev_names(void)
{
    return "virtio-blk, virtio-scsi";
}

void devspec_release(struct devspec *s)
{
    for (unsigned i = 0; i < s->ndisks; i++)
        free(s->disks[i].path);
    memset(s, 0, sizeof(*s));
}

int devspec_parse(const char *spec, struct devspec *out, sbvm_error **err)
{
    char *copy = strdup(spec), *save = NULL, *tok;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!copy)
        return error_set(err, ENOMEM, "out of memory");
    tok = strtok_r(copy, ",", &save);
    if (!tok || !(out->ops = dev_lookup(tok))) {
        rc = error_set(err, EINVAL, "device '%s': the type must come first, one of: %s", spec,
                       dev_names());
        goto out;
    }
    while ((tok = strtok_r(NULL, ",", &save))) {
        struct diskspec *last = out->ndisks ? &out->disks[out->ndisks - 1] : NULL;

        if (str_has_prefix(tok, "disk=")) {
            if (!tok[5]) {
                rc = error_set(err, EINVAL, "device '%s': disk= needs a path", spec);
                goto out;
            }
            if (out->ndisks >= out->ops->max_disks) {
                rc = error_set(err, EINVAL, "device '%s': %s takes at most %u disk%s", spec,
                               out->ops->name, out->ops->max_disks,
                               out->ops->max_disks == 1 ? "" : "s");
                goto out;
            }
            out->disks[out->ndisks].path = strdup(tok + 5);
            if (!out->disks[out->ndisks].path) {
                rc = error_set(err, ENOMEM, "out of memory");
                goto out;
            }
            out->ndisks++;
        } else if (streq(tok, "ro") || str_has_prefix(tok, "size=")) {
            if (!last) {
                rc = error_set(err, EINVAL, "device '%s': '%s' must follow a disk=", spec, tok);
                goto out;
            }
            if (streq(tok, "ro")) {
                last->ro = true;
            } else if (parse_size(tok + 5, &last->size) < 0 || last->size % DISK_SECTOR) {
                rc = error_set(err, EINVAL,
                               "device '%s': size '%s' is not a size in whole 512-byte sectors "
                               "(e.g. 64M)",
                               spec, tok + 5);
                goto out;
            }
        } else if (str_has_prefix(tok, "transport=")) {
            const char *t = tok + 10;
            if (streq(t, "transitional"))
                out->transport = DEV_TRANSITIONAL;
            else if (streq(t, "legacy"))
                out->transport = DEV_LEGACY;
            else if (streq(t, "modern"))
                out->transport = DEV_MODERN;
            else {
                rc = error_set(err, EINVAL,
                               "device '%s': transport '%s' (transitional, legacy or modern)", spec,
                               t);
                goto out;
            }
        } else {
            rc = error_set(err, EINVAL,
                           "device '%s': unknown option '%s' (disk=PATH, ro, size=N, transport=)",
                           spec, tok);
            goto out;
        }
    }
    if (out->ndisks == 0)
        rc = error_set(err, EINVAL, "device '%s': needs a disk=PATH", spec);
out:
    free(copy);
    if (rc < 0)
        devspec_release(out);
    return rc;
}

int dev_create_disks(const struct vdev_ops *ops, struct disk *disks, unsigned n, const char *name,
                     struct vdev *d, sbvm_error **err)
{
    int rc = vdev_init(d, ops, NULL, name);

    if (rc == 0)
        rc = ops->create(d, disks, n, err);
    else
        error_set(err, -rc, "%s: out of memory", ops->name);
    for (unsigned i = 0; i < n; i++)
        disk_close(&disks[i]);
    if (rc < 0) {
        vdev_release(d);
        return rc;
    }
    /* Features may depend on the disks (read-only). */
    d->host_features = vdev_features(d);
    return 0;
}

int dev_create(const struct devspec *s, const char *name, struct vdev *d, sbvm_error **err)
{
    struct disk disks[DEV_MAX_DISKS];
    int rc = 0;
    unsigned n;

    for (n = 0; n < s->ndisks; n++) {
        rc = disk_open(&disks[n], s->disks[n].path, s->disks[n].ro, s->disks[n].size, err);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        for (unsigned i = 0; i < n; i++)
            disk_close(&disks[i]);
        return rc;
    }
    return dev_create_disks(s->ops, disks, n, name, d, err);
}
